#!/usr/bin/python3
"""smb_test.py - libnpipe-smb (the SMB2/3 client of src/smb) against smbd.

Starts private smbd instances on 127.0.0.1 (smb.conf.in, each under its own
temporary directory, on a free port, in its own process group, all stopped
by PID at the end), with the test account nptest / NpTest-123 (created with
useradd when missing; its Samba password lives in the private passdb only),
and runs smb_probe - which dlopen()s the module and drives its table - for
each check:

  default server       srvsvc DCE/RPC bind by transact and by write+read on
                       SMB 3.1.1, 3.0, 2.1 and 2.0.2; wrong password
                       (ELOGON), unknown pipe (ENOENT), no such host and a
                       closed port (ENETPATH, in bounded time), a read that
                       times out (ETIMEDOUT), a blocked read that does not
                       hold up another handle and ends with cancel
                       (ECANCELED), client-side signing and encryption,
                       encryption refused on SMB 2.1 (EACCES), the handle
                       operations smbd refuses (ENOTSUP), and a server that
                       stops answering (SIGSTOP: ETIMEDOUT or ENETLOST
                       within the timeout)
  server signing = mandatory           3.1.1, 3.0, 2.1
  smb encrypt = required               3.1.1, 3.0; 2.1 refused
  server max protocol = SMB2_10        the client settles on 2.1

Every check prints "ok - NAME" or "not ok - NAME: detail"; the exit status
is 1 when one failed, 77 (skipped) when the environment cannot run the test
(not root, no smbd; or no impacket, which this test does not use, but
tests/remote/remote_test.py, whose helpers it imports, needs).
Synchronisation is always an event with a deadline: a port that accepts, a
line from the probe, the probe's exit.

Usage (meson passes these):
  /usr/bin/python3 smb_test.py --probe PATH --module PATH --conf-in smb.conf.in
                               [--keep] [--only NAME,...] [-v]
"""
import argparse
import os
import pwd
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77
START_TIMEOUT = 30.0
PROBE_TIMEOUT = 60.0
BUDGET = 270.0


def skip(msg):
    print('SKIP: smb_test: ' + msg, file=sys.stderr)
    sys.exit(SKIP)


# Importing remote_test.py (below) skips when it cannot run: its conditions,
# said here first in our own words.  impacket is one of them although this
# test does not use it.
if os.geteuid() != 0:
    skip('needs root (smbd and useradd)')
for _path in ('/usr/sbin/smbd', '/usr/bin/smbpasswd'):
    if not os.access(_path, os.X_OK):
        skip('%s is missing (apt-get install samba samba-common-bin)' % _path)
try:
    import impacket  # noqa: F401  (remote_test.py's client; not used here)
except ImportError as _e:
    skip('impacket is not importable by %s (%s), which tests/remote/remote_test.py, whose '
         'helpers this test shares, needs; apt-get install python3-impacket and run with '
         '/usr/bin/python3' % (sys.executable, _e))

# The helpers and the test account are tests/remote/remote_test.py's (the
# same account nptest, whose Samba password lives in each private passdb).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'remote'))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from remote_test import (HOST, PASSWORD, USER, Fail, expect, free_port,  # noqa: E402
                         port_accepts, tail, wait_until)


class Server:
    """One private smbd with its own directory, port and configuration."""

    def __init__(self, args, tag, extra=''):
        self.args = args
        self.tag = tag
        self.root = tempfile.mkdtemp(prefix='nps-%s-' % tag)
        for d in ('lock', 'state', 'cache', 'private', 'pid', 'bind-dns', 'log', 'ncalrpc'):
            os.mkdir(os.path.join(self.root, d), 0o700 if d == 'private' else 0o755)
        self.port = free_port()
        with open(args.conf_in) as f:
            conf = f.read()
        conf = (conf.replace('@ROOT@', self.root).replace('@PORT@', str(self.port))
                .replace('@EXTRA@', extra))
        self.conf = os.path.join(self.root, 'smb.conf')
        with open(self.conf, 'w') as f:
            f.write(conf)
        r = subprocess.run(['/usr/bin/smbpasswd', '-c', self.conf, '-s', '-a', USER],
                           input=('%s\n%s\n' % (PASSWORD, PASSWORD)).encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        if r.returncode != 0:
            raise Fail('smbpasswd -a failed: %s' % r.stdout.decode(errors='replace'))
        self.log = os.path.join(self.root, 'log', 'smbd.out')
        with open(self.log, 'wb') as out:
            # smbd makes its own session and process group (led by this PID)
            self.proc = subprocess.Popen(['/usr/sbin/smbd', '--foreground',
                                          '--configfile=' + self.conf],
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                         cwd=self.root)
        ok = wait_until(lambda: self.proc.poll() is not None or port_accepts(self.port),
                        START_TIMEOUT, 0.1)
        if self.proc.poll() is not None or not ok:
            raise Fail('smbd (%s) did not start: %s' % (tag, ' | '.join(tail(self.log, 5))))

    def stop(self):
        p = self.proc
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGCONT)
            except (ProcessLookupError, PermissionError):
                pass
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        try:
            os.killpg(p.pid, signal.SIGKILL)   # what is left of its own group
        except (ProcessLookupError, PermissionError):
            pass
        if self.args.keep or self.args.failed:
            print('# %s kept in %s' % (self.tag, self.root))
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    def probe_args(self, *opts, user=USER, password=PASSWORD):
        a = [self.args.probe, '--module', self.args.module, '--host', HOST,
             '--port', str(self.port)]
        if user is not None:
            a += ['--user', user, '--password', password]
        return a + list(opts)

    def probe(self, *opts, user=USER, password=PASSWORD, timeout=PROBE_TIMEOUT):
        """Run smb_probe OPTS: {step: (status, ms, detail)}, its output."""
        t0 = time.monotonic()
        r = subprocess.run(self.probe_args(*opts, user=user, password=password),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
        out = r.stdout.decode(errors='replace')
        if self.args.verbose:
            print('# probe %s (%.1f s):\n#   %s' % (' '.join(opts), time.monotonic() - t0,
                                                   out.strip().replace('\n', '\n#   ')))
        return parse(out), out


def parse(out):
    steps = {}
    for line in out.splitlines():
        parts = line.split(' ', 3)
        if len(parts) >= 3 and parts[2].isdigit():
            steps.setdefault(parts[0], (parts[1], int(parts[2]),
                                        parts[3] if len(parts) > 3 else ''))
    return steps


def want(steps, out, step, status):
    got = steps.get(step)
    expect(got is not None, 'no %s step in the probe output: %s' % (step, out.strip()))
    ok = got[0] in status if isinstance(status, (tuple, list)) else got[0] == status
    expect(ok, '%s: %s, expected %s (%s)' % (step, got[0], status, out.strip()))
    return got


CHECKS = []


def check(server, name):
    def deco(fn):
        CHECKS.append((server, name, fn))
        return fn
    return deco


# ---- the default server ---------------------------------------------------

def bind_check(srv, *opts):
    s, out = srv.probe(*opts, 'srvsvc', 'bind')
    want(s, out, 'open', 'OK')
    want(s, out, 'bind', 'OK')
    s, out = srv.probe(*opts, 'srvsvc', 'bind-rw', 'close')
    want(s, out, 'bind-rw', 'OK')
    want(s, out, 'close', 'OK')


for dialect, tag in (('0x0311', '3.1.1'), ('0x0300', '3.0'), ('0x0302', '3.0.2'),
                     ('0x0210', '2.1'), ('0x0202', '2.0.2')):
    check('default', 'srvsvc-bind-smb-' + tag)(
        lambda srv, d=dialect: bind_check(srv, '--max-dialect', d))


@check('default', 'srvsvc-bind-ordinary-api')
def _(srv):
    # A Linux program with the ordinary calls (tests/remote/remote_client:
    # npipe_open of \\127.0.0.1\pipe\srvsvc, npipe_transact, npipe_write and
    # npipe_read), not the module's table: Samba's own RPC server answers a
    # bind with a bind_ack that accepts NDR.
    if not srv.args.client:
        return
    e = dict(os.environ)
    e.update({'NPIPE_SMB_USER': USER, 'NPIPE_SMB_PASSWORD': PASSWORD,
              'NPIPE_SMB_PORT': str(srv.port), 'NPIPE_SMB_MODULE': srv.args.module})
    if e.get('ASAN_OPTIONS'):
        e['ASAN_OPTIONS'] += ':fast_unwind_on_malloc=0'  # see tests/lsan.supp
    r = subprocess.run([srv.args.client, 'rpc-bind', '\\\\%s\\pipe\\srvsvc' % HOST], env=e,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=PROBE_TIMEOUT)
    out = r.stdout.decode(errors='replace')
    expect(r.returncode == 0 and 'PASS' in out, 'remote_client rpc-bind: exit %d: %s'
           % (r.returncode, ' | '.join(out.splitlines()[-6:])))


@check('default', 'wrong-password-elogon')
def _(srv):
    s, out = srv.probe('srvsvc', 'bind', password='wrong-password')
    got = want(s, out, 'open', 'ELOGON')
    expect(USER in got[2], 'why() does not name the user: %s' % got[2])


@check('default', 'unknown-user-elogon')
def _(srv):
    s, out = srv.probe('srvsvc', user='nosuchuser')
    want(s, out, 'open', 'ELOGON')


@check('default', 'unknown-pipe-enoent')
def _(srv):
    s, out = srv.probe('no-such-pipe-here')
    want(s, out, 'open', 'ENOENT')


@check('default', 'no-such-host-enetpath')
def _(srv):
    r = subprocess.run([srv.args.probe, '--module', srv.args.module, '--host',
                        'no-such-host.invalid', '--user', USER, '--password', PASSWORD,
                        '--timeout', '5000', 'srvsvc'],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    out = r.stdout.decode(errors='replace')
    got = want(parse(out), out, 'open', 'ENETPATH')
    expect(got[1] < 10000, 'took %d ms' % got[1])


@check('default', 'closed-port-enetpath')
def _(srv):
    port = free_port()
    r = subprocess.run([srv.args.probe, '--module', srv.args.module, '--host', HOST,
                        '--port', str(port), '--user', USER, '--password', PASSWORD,
                        '--timeout', '5000', 'srvsvc'],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    out = r.stdout.decode(errors='replace')
    got = want(parse(out), out, 'open', 'ENETPATH')
    expect(got[1] < 6000, 'took %d ms' % got[1])


@check('default', 'read-timeout-etimedout')
def _(srv):
    # smbd cannot cancel a pipe READ: it stays pending there, a transact
    # meanwhile is EBUSY (as on NT), and the next read gets what it brings
    s, out = srv.probe('--timeout', '1500', 'srvsvc', 'read', 'bind', 'bind-rw')
    got = want(s, out, 'read', 'ETIMEDOUT')
    expect(1400 <= got[1] < 1500 + 1000, 'the read timed out after %d ms' % got[1])
    want(s, out, 'bind', 'EBUSY')
    want(s, out, 'bind-rw', 'OK')   # the handle is still usable, nothing lost


@check('default', 'multiplexed-read-and-cancel')
def _(srv):
    s, out = srv.probe('srvsvc', 'concurrent')
    want(s, out, 'concurrent', 'OK')


@check('default', 'client-signing')
def _(srv):
    bind_check(srv, '--sign')
    bind_check(srv, '--sign', '--max-dialect', '0x0210')
    bind_check(srv, '--sign', '--max-dialect', '0x0300')


@check('default', 'client-encryption')
def _(srv):
    bind_check(srv, '--encrypt')
    bind_check(srv, '--encrypt', '--max-dialect', '0x0300')


@check('default', 'encryption-needs-smb3')
def _(srv):
    s, out = srv.probe('--encrypt', '--max-dialect', '0x0210', 'srvsvc')
    got = want(s, out, 'open', 'EACCES')
    expect('SMB 3' in got[2], 'why() does not say why: %s' % got[2])


@check('default', 'handle-operations')
def _(srv):
    # smbd 4.17 refuses peek, wait and SET_INFO FilePipeInformation
    # (docs/remote.md): they must come back as a clean status, and the
    # handle stays usable
    s, out = srv.probe('srvsvc', 'peek', 'info', 'mode:message', 'flush', 'bind')
    for step in ('peek', 'info', 'mode', 'flush'):
        want(s, out, step, ('OK', 'ENOTSUP', 'EACCES', 'EINVAL'))
    want(s, out, 'bind', 'OK')
    s, out = srv.probe('srvsvc', 'wait:1000')
    want(s, out, 'wait', ('OK', 'ENOTSUP'))


@check('default', 'environment-credentials')
def _(srv):
    # no configure(): NPIPE_SMB_USER, NPIPE_SMB_PASSWORD, NPIPE_SMB_PORT
    env = dict(os.environ, NPIPE_SMB_USER=USER, NPIPE_SMB_PASSWORD=PASSWORD,
               NPIPE_SMB_PORT=str(srv.port), NPIPE_SMB_MAX_DIALECT='2.1',
               HOME=srv.root)
    r = subprocess.run([srv.args.probe, '--module', srv.args.module, '--host', HOST,
                        'srvsvc', 'bind'], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=PROBE_TIMEOUT)
    out = r.stdout.decode(errors='replace')
    want(parse(out), out, 'bind', 'OK')
    env['NPIPE_SMB_PASSWORD'] = 'wrong'
    r = subprocess.run([srv.args.probe, '--module', srv.args.module, '--host', HOST,
                        'srvsvc'], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=PROBE_TIMEOUT)
    out = r.stdout.decode(errors='replace')
    want(parse(out), out, 'open', 'ELOGON')


@check('default', 'remote-conf-file')
def _(srv):
    # ~/.config/npipe/remote.conf with a [host] section; refused while it
    # is readable by others, as it holds a password
    home = os.path.join(srv.root, 'home')
    os.makedirs(os.path.join(home, '.config', 'npipe'), exist_ok=True)
    conf = os.path.join(home, '.config', 'npipe', 'remote.conf')
    with open(conf, 'w') as f:
        f.write('# test\nuser = nobody-here\n[%s]\nuser = %s\npassword = %s\nport = %d\n'
                % (HOST, USER, PASSWORD, srv.port))
    env = {k: v for k, v in os.environ.items() if not k.startswith('NPIPE_SMB_')}
    env['HOME'] = home
    env.pop('XDG_CONFIG_HOME', None)
    args = [srv.args.probe, '--module', srv.args.module, '--host', HOST, 'srvsvc', 'bind']
    os.chmod(conf, 0o644)
    r = subprocess.run(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=PROBE_TIMEOUT)
    out = r.stdout.decode(errors='replace')
    got = want(parse(out), out, 'open', 'EACCES')
    expect('readable' in got[2], 'why() does not say why: %s' % got[2])
    os.chmod(conf, 0o600)
    r = subprocess.run(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=PROBE_TIMEOUT)
    out = r.stdout.decode(errors='replace')
    want(parse(out), out, 'bind', 'OK')


@check('default', 'write-too-long-emsgsize')
def _(srv):
    s, out = srv.probe('srvsvc', 'writelen:65536', 'bind')
    want(s, out, 'writelen', 'EMSGSIZE')
    want(s, out, 'bind', 'OK')


@check('default', 'server-stops-answering')
def _(srv):
    # last on this server: it is stopped (SIGSTOP) under an open handle
    p = subprocess.Popen(srv.probe_args('--timeout', '2000', 'srvsvc', 'bind', 'pause', 'read'),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    try:
        line = read_line(p, 30.0)
        expect(line == 'paused' or line.startswith('open OK'), 'probe: %r' % line)
        while line != 'paused':
            line = read_line(p, 30.0)
            expect(line, 'the probe did not pause')
        os.killpg(srv.proc.pid, signal.SIGSTOP)
        t0 = time.monotonic()
        p.stdin.write(b'go\n')
        p.stdin.flush()
        out, _ = p.communicate(timeout=60)
        took = time.monotonic() - t0
        out = out.decode(errors='replace')
        got = want(parse(out), out, 'read', ('ETIMEDOUT', 'ENETLOST'))
        expect(got[1] < 2000 + 1000, 'the read ended after %d ms' % got[1])
        print('# server-stops-answering: read %s after %d ms, the probe exited after %.1f s'
              % (got[0], got[1], took))
    finally:
        try:
            os.killpg(srv.proc.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
        if p.poll() is None:
            p.kill()
            p.wait()


def read_line(p, timeout):
    deadline = time.monotonic() + timeout
    buf = b''
    fd = p.stdout.fileno()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return ''
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            return ''
        c = os.read(fd, 1)
        if not c or c == b'\n':
            return buf.decode(errors='replace')
        buf += c


# ---- servers with other settings ------------------------------------------

for d, tag in (('0x0311', '3.1.1'), ('0x0300', '3.0'), ('0x0210', '2.1')):
    check('signing', 'signing-mandatory-smb-' + tag)(
        lambda srv, d=d: bind_check(srv, '--max-dialect', d))

for d, tag in (('0x0311', '3.1.1'), ('0x0300', '3.0')):
    check('encrypt', 'encrypt-required-smb-' + tag)(
        lambda srv, d=d: bind_check(srv, '--max-dialect', d))


@check('encrypt', 'encrypt-required-smb-2.1-refused')
def _(srv):
    s, out = srv.probe('--max-dialect', '0x0210', 'srvsvc')
    want(s, out, 'open', ('EACCES', 'ELOGON'))


@check('smb2_10', 'server-max-smb2_10')
def _(srv):
    bind_check(srv)


SERVERS = {
    'default': '',
    'signing': '    server signing = mandatory\n',
    'encrypt': '    smb encrypt = required\n',
    'smb2_10': '    server max protocol = SMB2_10\n',
}


def ensure_user():
    try:
        pwd.getpwnam(USER)
    except KeyError:
        useradd = shutil.which('useradd') or '/usr/sbin/useradd'
        r = subprocess.run([useradd, '-M', '-s', '/usr/sbin/nologin', USER],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        if r.returncode != 0:
            skip('useradd %s failed: %s' % (USER, r.stdout.decode(errors='replace')))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--probe', required=True)
    ap.add_argument('--module', required=True)
    ap.add_argument('--client', default='', help='tests/remote/remote_client (ordinary API)')
    ap.add_argument('--conf-in', required=True)
    ap.add_argument('--keep', action='store_true')
    ap.add_argument('--only', default='')
    ap.add_argument('-v', '--verbose', action='store_true')
    args = ap.parse_args()
    args.failed = False
    for path in (args.probe, args.module):
        if not os.path.exists(path):
            print('smb_test: %s is missing' % path, file=sys.stderr)
            return 1
    ensure_user()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))

    only = set(filter(None, args.only.split(',')))
    failed = []
    t0 = time.monotonic()
    for tag, extra in SERVERS.items():
        checks = [(n, f) for s, n, f in CHECKS if s == tag and (not only or n in only)]
        if not checks:
            continue
        try:
            srv = Server(args, tag, extra)
        except Fail as e:
            for n, _ in checks:
                failed.append(n)
                print('not ok - %s: %s' % (n, e))
            continue
        print('# smbd (%s) on %s:%d' % (tag, HOST, srv.port))
        try:
            for name, fn in checks:
                if time.monotonic() - t0 > BUDGET:
                    failed.append(name)
                    print('not ok - %s: not run, the time budget is used up' % name)
                    continue
                try:
                    fn(srv)
                    print('ok - %s' % name)
                except Fail as e:
                    failed.append(name)
                    print('not ok - %s: %s' % (name, e))
                except subprocess.TimeoutExpired as e:
                    failed.append(name)
                    print('not ok - %s: the probe hung (%s)' % (name, e))
                sys.stdout.flush()
        finally:
            if failed:
                args.failed = True
                for line in tail(os.path.join(srv.root, 'log', 'log.smbd'), 15):
                    print('#   ' + line)
            srv.stop()
    total = len([n for _, n, _ in CHECKS if not only or n in only])
    print('# %d check(s), %d failed%s' % (total, len(failed),
                                          (': ' + ', '.join(failed)) if failed else ''))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
