#!/usr/bin/python3
"""remote_test.py - the broker's remote endpoint, seen from an SMB client.

Sets up, all under one temporary directory and all stopped by PID at the end:
  * a private smbd on 127.0.0.1:4455 (smb.conf.in, with @ROOT@ rendered and
    @ONDEMAND@ = no; another free port when 4455 is taken) and the test
    account nptest (created with useradd when missing; its Samba password
    lives in the private passdb only);
  * a private broker: npiped --foreground --samba-np-dir=<ROOT>/ncalrpc/np;
  * one remote_server process per scenario (NPIPE_RUNTIME_DIR points at the
    private broker);
then talks to the pipes as \\\\127.0.0.1\\pipe\\NAME with python3-impacket
(SMB 3 with encryption unless a check asks for another dialect).

Every check prints "ok - NAME" or "not ok - NAME: detail"; the exit status is
1 when one failed, 77 (skipped) when the environment cannot run the test (not
root, no /usr/sbin/smbd, no impacket on this Python, smbd does not start).

Synchronisation is always an event with a deadline: a readiness descriptor,
a port that accepts, a socket file that appears or goes, an SMB reply.

Usage (meson passes all of these, see meson.build):
  /usr/bin/python3 remote_test.py --npiped PATH --server PATH --npipe-cli PATH
                                  --conf-in smb.conf.in [--keep] [-v]
                                  [--only NAME,...] [--port N]
"""
import argparse
import atexit
import json
import os
import pwd
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import traceback

SKIP = 77
USER = 'nptest'
PASSWORD = 'NpTest-123'
HOST = '127.0.0.1'
DEFAULT_PORT = 4455
START_TIMEOUT = 30.0      # smbd, the broker, a server: seconds to become ready
SMB_TIMEOUT = 10          # one SMB request/reply (impacket's socket timeout)
BUDGET = 260.0            # seconds for all checks (meson's timeout is 300)
SMB_MAX_MSG = 65535


def skip(msg):
    print('SKIP: remote_test: ' + msg, file=sys.stderr)
    sys.stderr.flush()
    sys.exit(SKIP)


# ---- environment checks that skip -----------------------------------------

if os.geteuid() != 0:
    skip('needs root (smbd, useradd and the samba np directory need it)')
if not os.access('/usr/sbin/smbd', os.X_OK):
    skip('/usr/sbin/smbd is missing (apt-get install samba)')
if not os.access('/usr/bin/smbpasswd', os.X_OK):
    skip('/usr/bin/smbpasswd is missing (apt-get install samba-common-bin)')
try:
    from impacket import nt_errors
    from impacket import smb3structs as s3
    from impacket.smbconnection import SMBConnection, SessionError
except ImportError as e:  # pragma: no cover - depends on the host
    skip('impacket is not importable by %s (%s); apt-get install python3-impacket '
         'and run with /usr/bin/python3' % (sys.executable, e))


def stname(code):
    """NTSTATUS name, e.g. STATUS_PIPE_DISCONNECTED (0xc00000b0)."""
    if code is None:
        return 'no status'
    name = nt_errors.ERROR_MESSAGES.get(code, ('STATUS_0x%08x' % code,))[0]
    return '%s (0x%08x)' % (name, code)


class Fail(Exception):
    """A check's assertion failed; the text is the detail."""


def expect(cond, detail):
    if not cond:
        raise Fail(detail)


def show(b, limit=60):
    r = repr(bytes(b[:limit]))
    return r + ('... (%d bytes)' % len(b) if len(b) > limit else '')


def fnv1a(b):
    h = 2166136261
    for c in b:
        h ^= c
        h = (h * 16777619) & 0xffffffff
    return h


def pattern(n):
    return bytes(i % 251 for i in range(n))


# ---- processes ------------------------------------------------------------

class Procs:
    """Every process this test starts, stopped by PID (never by name)."""

    def __init__(self):
        self.procs = []   # (description, Popen, logfile path)
        self.lock = threading.Lock()

    def add(self, desc, p, log):
        with self.lock:
            self.procs.append((desc, p, log))

    def stop(self, p, timeout=10.0):
        if p.poll() is not None:
            return
        try:
            p.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            p.wait(timeout)
            return
        except subprocess.TimeoutExpired:
            pass
        try:
            p.kill()
        except ProcessLookupError:
            pass
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            print('remote_test: pid %d did not exit after SIGKILL' % p.pid, file=sys.stderr)

    def stop_all(self):
        with self.lock:
            procs = list(reversed(self.procs))
            self.procs = []
        for desc, p, _ in procs:
            self.stop(p)
            if desc == 'smbd':
                # smbd ran in a session (and process group) of its own, led by
                # the PID we started: its children belong to that group.  The
                # parent ends them itself on SIGTERM; if it had to be killed,
                # end what is left of *its* group (verified to be its own).
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass

    def logs(self):
        with self.lock:
            return [(d, l) for d, _, l in self.procs if l]


def tail(path, n=40):
    try:
        with open(path, 'rb') as f:
            lines = f.read().decode('utf-8', 'replace').splitlines()
    except OSError as e:
        return ['(cannot read %s: %s)' % (path, e)]
    return lines[-n:]


def wait_ready_fd(rfd, proc, timeout):
    """Read the readiness descriptor: True once "1" arrived.  False on EOF,
    process exit or deadline."""
    deadline = time.monotonic() + timeout
    got = b''
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([rfd], [], [], min(left, 0.5))
            if r:
                chunk = os.read(rfd, 16)
                if not chunk:
                    return got.startswith(b'1')
                got += chunk
                if got.startswith(b'1'):
                    return True
            elif proc.poll() is not None:
                return False
    finally:
        os.close(rfd)


def port_accepts(port):
    try:
        with socket.create_connection((HOST, port), timeout=1.0):
            return True
    except OSError:
        return False


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_until(pred, timeout, step=0.05):
    """Poll pred() until true or the deadline (for file and port state only)."""
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)


# ---- the SMB client -------------------------------------------------------

class Client:
    """One SMB connection with an IPC$ tree, plus raw READ/WRITE/IOCTL that
    return the NTSTATUS instead of raising (impacket raises on anything but
    success, and BUFFER_OVERFLOW carries data)."""

    def __init__(self, env, user=USER, password=PASSWORD, anonymous=False, dialect=None):
        self.conn = SMBConnection(HOST, HOST, sess_port=env.port, timeout=SMB_TIMEOUT,
                                  preferredDialect=dialect)
        if anonymous:
            self.conn.login('', '')
        else:
            self.conn.login(user, password)
        self.tid = self.conn.connectTree('IPC$')
        self.s = self.conn.getSMBServer()
        self.fids = []

    def open(self, name):
        """Open \\pipe\\NAME; raises SessionError (getErrorCode()) when refused."""
        fid = self.conn.openFile(self.tid, '\\' + name)
        self.fids.append(fid)
        return fid

    def try_open(self, name):
        """(fid, None) or (None, NTSTATUS)."""
        try:
            return self.open(name), None
        except SessionError as e:
            return None, e.getErrorCode()

    def _send(self, command, body, credit_len=0):
        p = self.s.SMB_PACKET()
        p['Command'] = command
        p['TreeID'] = self.tid
        if credit_len > 65536 and self.s._Connection['Dialect'] != s3.SMB2_DIALECT_002:
            p['CreditCharge'] = 1 + (credit_len - 1) // 65536
        p['Data'] = body
        mid = self.s.sendSMB(p)
        return self.s.recvSMB(mid)

    def write(self, fid, data):
        """One SMB2 WRITE (one message on a message pipe): (status, count)."""
        w = s3.SMB2Write()
        w['FileID'] = fid
        w['Length'] = len(data)
        w['Offset'] = 0
        w['WriteChannelInfoOffset'] = 0
        w['Buffer'] = data
        ans = self._send(s3.SMB2_WRITE, w, len(data))
        st = ans['Status']
        if st == nt_errors.STATUS_SUCCESS:
            return st, s3.SMB2Write_Response(ans['Data'])['Count']
        return st, 0

    def read(self, fid, n=SMB_MAX_MSG + 1):
        """One SMB2 READ of up to n bytes: (status, data)."""
        r = s3.SMB2Read()
        r['Padding'] = 0x50
        r['FileID'] = fid
        r['Length'] = n
        r['Offset'] = 0
        ans = self._send(s3.SMB2_READ, r, n)
        st = ans['Status']
        if st in (nt_errors.STATUS_SUCCESS, nt_errors.STATUS_BUFFER_OVERFLOW):
            return st, s3.SMB2Read_Response(ans['Data'])['Buffer']
        return st, b''

    def transceive(self, fid, data, maxout, ctl=None):
        """SMB2 IOCTL FSCTL_PIPE_TRANSCEIVE (TransactNamedPipe), or another
        FSCTL: (status, data)."""
        io = s3.SMB2Ioctl()
        io['FileID'] = fid
        io['CtlCode'] = s3.FSCTL_PIPE_TRANSCEIVE if ctl is None else ctl
        io['MaxInputResponse'] = 0
        io['MaxOutputResponse'] = maxout
        io['InputCount'] = len(data)
        io['Buffer'] = data
        io['OutputOffset'] = 0
        io['Flags'] = s3.SMB2_0_IOCTL_IS_FSCTL
        ans = self._send(s3.SMB2_IOCTL, io, max(len(data), maxout))
        st = ans['Status']
        if st in (nt_errors.STATUS_SUCCESS, nt_errors.STATUS_BUFFER_OVERFLOW):
            return st, s3.SMB2Ioctl_Response(ans['Data'])['Buffer']
        return st, b''

    def close(self, fid):
        try:
            self.s.close(self.tid, fid)
        except Exception:  # impacket's bookkeeping (KeyError) or a dead pipe
            pass
        if fid in self.fids:
            self.fids.remove(fid)

    def logoff(self):
        for fid in list(self.fids):
            self.close(fid)
        try:
            self.conn.logoff()
        except Exception:
            pass
        try:
            self.conn.close()
        except Exception:
            pass


# ---- the environment ------------------------------------------------------

class Env:
    def __init__(self, args):
        self.args = args
        self.procs = Procs()
        self.root = None
        self.port = args.port
        self.late_sockets = []   # servers whose socket was missing at ready time
        self.sockets_checked = 0
        # None: not known yet; set by the 'echo' / 'anonymous-allowed' checks
        self.remote_open_works = None
        self.anon_open_works = None
        self.control_detail = {}
        self.n_servers = 0

    # -- set-up --
    def setup(self):
        # short: <root>/ncalrpc/np/<name> must fit in sun_path (108 bytes)
        self.root = tempfile.mkdtemp(prefix='npr-',
                                     dir='/tmp' if os.access('/tmp', os.W_OK) else None)
        self.np_dir = os.path.join(self.root, 'ncalrpc', 'np')
        self.run_dir = os.path.join(self.root, 'run')
        for d in ('lock', 'state', 'cache', 'private', 'pid', 'bind-dns', 'log'):
            os.mkdir(os.path.join(self.root, d), 0o700 if d == 'private' else 0o755)
        os.chmod(os.path.join(self.root, 'private'), 0o700)

        if port_accepts(self.port):
            if self.args.port_given:
                skip('port %d is already taken' % self.port)
            busy = self.port
            self.port = free_port()
            print('# port %d is taken (another smbd?): using %d' % (busy, self.port))
        with open(self.args.conf_in) as f:
            conf = f.read()
        conf = conf.replace('@ROOT@', self.root).replace('@ONDEMAND@', 'no')
        conf = conf.replace('smb ports = 4455', 'smb ports = %d' % self.port)
        self.conf = os.path.join(self.root, 'smb.conf')
        with open(self.conf, 'w') as f:
            f.write(conf)

        self.ensure_user()
        r = subprocess.run(['/usr/bin/smbpasswd', '-c', self.conf, '-s', '-a', USER],
                           input=('%s\n%s\n' % (PASSWORD, PASSWORD)).encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        if r.returncode != 0:
            skip('smbpasswd -a %s failed: %s' % (USER, r.stdout.decode(errors='replace')))

        self.start_smbd()
        self.start_broker()

    def ensure_user(self):
        try:
            pw = pwd.getpwnam(USER)
        except KeyError:
            useradd = shutil.which('useradd') or '/usr/sbin/useradd'
            if not os.access(useradd, os.X_OK):
                skip('no useradd to create the test account %s' % USER)
            r = subprocess.run([useradd, '-M', '-s', '/usr/sbin/nologin', USER],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
            if r.returncode != 0:
                skip('useradd %s failed: %s' % (USER, r.stdout.decode(errors='replace')))
            pw = pwd.getpwnam(USER)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid

    def start_smbd(self):
        log = os.path.join(self.root, 'log', 'smbd.out')
        with open(log, 'wb') as out:
            # Not --no-process-group and not under setsid: smbd makes its own
            # session and on shutdown signals only that group.
            p = subprocess.Popen(['/usr/sbin/smbd', '--foreground', '--configfile=' + self.conf],
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                 cwd=self.root)
        self.procs.add('smbd', p, log)
        ok = wait_until(lambda: p.poll() is not None or port_accepts(self.port),
                        START_TIMEOUT, 0.1)
        if p.poll() is not None or not ok:
            msg = '\n'.join(tail(log, 20) + tail(os.path.join(self.root, 'log', 'log.smbd'), 20))
            skip('smbd did not start (exit %s) on port %d:\n%s' % (p.poll(), self.port, msg))
        # smbd makes <ncalrpc>/np (root 0700) as it starts
        if not wait_until(lambda: os.path.isdir(self.np_dir), START_TIMEOUT):
            skip('smbd did not create %s' % self.np_dir)
        st = os.stat(self.np_dir)
        self.np_dir_mode = (stat.S_IMODE(st.st_mode), st.st_uid)

    def spawn_broker(self, run_dir, tag):
        """npiped --samba-np-dir on run_dir: (Popen, ready, log)."""
        log = os.path.join(self.root, 'log', tag + '.log')
        rfd, wfd = os.pipe()
        with open(log, 'wb') as out:
            p = subprocess.Popen([self.args.npiped, '--foreground', '--runtime-dir=' + run_dir,
                                  '--ready-fd=%d' % wfd, '--samba-np-dir=' + self.np_dir,
                                  '--log-level=debug'],
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                 pass_fds=(wfd,), env=self.env(run_dir))
        os.close(wfd)
        self.procs.add(tag, p, log)
        return p, wait_ready_fd(rfd, p, START_TIMEOUT), log

    def start_broker(self):
        p, self.broker_ok, log = self.spawn_broker(self.run_dir, 'npiped')
        self.broker = p
        self.broker_detail = ''
        if not self.broker_ok:
            try:
                p.wait(1)
            except subprocess.TimeoutExpired:
                pass
            self.broker_detail = ('npiped --samba-np-dir did not become ready (exit %s): %s'
                                  % (p.poll(), ' | '.join(tail(log, 3))))

    def env(self, run_dir=None):
        e = dict(os.environ)
        e['NPIPE_RUNTIME_DIR'] = run_dir or self.run_dir
        # Never let the library start a broker of its own (it would have no
        # --samba-np-dir, and it daemonizes, out of reach of our cleanup):
        # the brokers are ours, and a server that loses its broker fails.
        e['NPIPE_BROKER'] = '/bin/false'
        return e

    # -- servers --
    def server(self, name, *opts, wait_socket=True, run_dir=None):
        """Start remote_server --name NAME OPTS...; returns its Popen once all
        its instances exist.  Raises Fail when it does not get ready.
        run_dir: another broker's runtime directory."""
        if not self.broker_ok:
            raise Fail('no broker (see broker-starts-with-samba-np-dir)')
        self.n_servers += 1
        log = os.path.join(self.root, 'log', 'server-%02d-%s.log' % (self.n_servers, name))
        rfd, wfd = os.pipe()
        with open(log, 'wb') as out:
            p = subprocess.Popen([self.args.server, '--name', name, '--ready-fd=%d' % wfd]
                                 + list(opts),
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                 pass_fds=(wfd,), env=self.env(run_dir))
        os.close(wfd)
        self.procs.add('server ' + name, p, log)
        if not wait_ready_fd(rfd, p, START_TIMEOUT):
            raise Fail('remote_server %s %s did not get ready (exit %s): %s'
                       % (name, ' '.join(opts), p.poll(), ' | '.join(tail(log, 5))))
        if wait_socket and '--reject-remote' not in opts:
            path = self.socket_path(name)
            self.sockets_checked += 1
            if not is_socket(path):
                # npipe_create returned: the socket should be there already
                self.late_sockets.append(name)
                if not wait_until(lambda: is_socket(path), 5.0):
                    raise Fail('no socket %s after npipe_create of %s returned' % (path, name))
        return p

    def server_log(self, p):
        for _, q, log in self.procs.procs:
            if q is p:
                return log
        raise Fail('no log for pid %d' % p.pid)

    def socket_path(self, name):
        return os.path.join(self.np_dir, name.lower())

    def stop(self, p):
        self.procs.stop(p)

    def cli(self, *args, timeout=20):
        return subprocess.run([self.args.npipe_cli] + list(args), env=self.env(),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout)

    def client(self, **kw):
        return Client(self, **kw)

    def cleanup(self, keep_logs=False):
        self.procs.stop_all()
        if self.root and self.args.keep:
            print('# kept %s' % self.root)
        elif self.root:
            if keep_logs:
                # the logs of a failed run outlive it (the rest holds smbd's
                # state and sockets, and goes)
                logs = tempfile.mkdtemp(prefix='npipe-remote-logs-')
                shutil.move(os.path.join(self.root, 'log'), logs)
                print('# logs kept in %s/log' % logs)
            shutil.rmtree(self.root, ignore_errors=True)
        self.root = None


def is_socket(path):
    try:
        return stat.S_ISSOCK(os.lstat(path).st_mode)
    except OSError:
        return False


# ---- the checks -----------------------------------------------------------

CHECKS = []


def check(name):
    def reg(fn):
        CHECKS.append((name, fn))
        return fn
    return reg


def echo_round(c, fid, msg, what='echo'):
    st, n = c.write(fid, msg)
    expect(st == 0 and n == len(msg), '%s: write of %d bytes: %s, count %d'
           % (what, len(msg), stname(st), n))
    st, data = c.read(fid)
    expect(st == 0, '%s: read: %s' % (what, stname(st)))
    expect(data == b'echo:' + msg, '%s: read %s, expected %s' % (what, show(data),
                                                                 show(b'echo:' + msg)))


def control_open(env, anonymous):
    """Open a pipe that admits this kind of client and echo once."""
    name = 'r-control-anon' if anonymous else 'r-control'
    opts = ['--policy', 'everyone'] + (['--allow-anonymous'] if anonymous else [])
    env.server(name, *opts)
    c = env.client(anonymous=anonymous)
    try:
        echo_round(c, c.open(name), b'control')
    finally:
        c.logoff()


def require_control(env, anonymous=False):
    """A refusal only means something when a permitted open of the same kind
    works (else every refusal check would pass against a broker that refuses
    everyone).  Uses the result of 'echo' / 'anonymous-allowed', or makes its
    own control open once when those did not run (--only)."""
    attr = 'anon_open_works' if anonymous else 'remote_open_works'
    if getattr(env, attr) is None:
        try:
            control_open(env, anonymous)
            setattr(env, attr, True)
        except (Fail, SessionError) as e:
            setattr(env, attr, False)
            env.control_detail[anonymous] = (stname(e.getErrorCode())
                                             if isinstance(e, SessionError) else str(e))
    expect(getattr(env, attr), 'precondition: a permitted %s open fails too (%s), so this '
           'refusal proves nothing' % ('anonymous' if anonymous else 'remote',
                                       env.control_detail.get(anonymous, 'see %s' % (
                                           'anonymous-allowed' if anonymous else 'echo'))))


def expect_open_fails(env, name, **kw):
    require_control(env, kw.get('anonymous', False))
    c = env.client(**kw)
    try:
        fid, st = c.try_open(name)
        if fid is not None:
            # opened: see whether anything answers, for the detail
            wst, _ = c.write(fid, b'should-not-arrive')
            raise Fail('the open of %s succeeded (then write: %s)' % (name, stname(wst)))
        return st
    finally:
        c.logoff()


@check('unknown-pipe-not-found')
def _(env):
    c = env.client()
    try:
        fid, st = c.try_open('npipe-no-such-pipe')
        expect(fid is None, 'an open of a pipe nobody created succeeded')
        expect(st == nt_errors.STATUS_OBJECT_NAME_NOT_FOUND,
               'status %s, expected STATUS_OBJECT_NAME_NOT_FOUND' % stname(st))
    finally:
        c.logoff()


@check('broker-starts-with-samba-np-dir')
def _(env):
    expect(env.broker_ok, env.broker_detail)
    expect(env.broker.poll() is None, 'npiped exited: %s' % env.broker.poll())
    mode, uid = env.np_dir_mode
    st = os.stat(env.np_dir)
    expect((stat.S_IMODE(st.st_mode), st.st_uid) == (mode, uid),
           'the broker changed %s from %o/%d to %o/%d (smbd refuses to start then)'
           % (env.np_dir, mode, uid, stat.S_IMODE(st.st_mode), st.st_uid))


@check('socket-exists-for-pipe')
def _(env):
    env.server('r-echo', '--policy', 'everyone')
    expect(is_socket(env.socket_path('r-echo')), 'no socket %s' % env.socket_path('r-echo'))


@check('echo')
def _(env):
    env.server('r-echo1', '--policy', 'everyone')
    c = env.client()
    try:
        env.remote_open_works = False
        fid = c.open('r-echo1')
        echo_round(c, fid, b'hello')
        echo_round(c, fid, b'again')
        env.remote_open_works = True
    finally:
        c.logoff()


@check('message-boundaries')
def _(env):
    env.server('r-bound', '--policy', 'everyone')
    c = env.client()
    try:
        fid = c.open('r-bound')
        for m in (b'one', b'two'):
            st, n = c.write(fid, m)
            expect(st == 0 and n == len(m), 'write %r: %s' % (m, stname(st)))
        for m in (b'one', b'two'):
            st, data = c.read(fid, 4096)
            expect(st == 0 and data == b'echo:' + m,
                   'read: %s %s, expected %s (one message per read, in both directions)'
                   % (stname(st), show(data), show(b'echo:' + m)))
    finally:
        c.logoff()


@check('partial-read-success')
def _(env):
    # Samba deviation (samba.md section 4.1): a READ smaller than the message
    # gives STATUS_SUCCESS with the first bytes (Windows: BUFFER_OVERFLOW);
    # the next READ gives the rest, and only the rest.
    env.server('r-part', '--policy', 'everyone')
    c = env.client()
    try:
        fid = c.open('r-part')
        msg = b'x' * 95
        st, _ = c.write(fid, msg)
        expect(st == 0, 'write: %s' % stname(st))
        st, a = c.read(fid, 10)
        expect(st == 0, 'READ(10) of a 100-byte message: %s, expected STATUS_SUCCESS '
               '(Samba deviation)' % stname(st))
        expect(a == b'echo:xxxxx', 'READ(10) gave %s' % show(a))
        st, b = c.read(fid, 4096)
        expect(st == 0 and b == b'x' * 90, 'the next READ: %s %s, expected the 90 left'
               % (stname(st), show(b)))
        echo_round(c, fid, b'next', 'the message after')
    finally:
        c.logoff()


@check('transact')
def _(env):
    env.server('r-trans', '--policy', 'everyone')
    c = env.client()
    try:
        fid = c.open('r-trans')
        try:
            out = c.conn.transactNamedPipe(c.tid, fid, b'ping')
        except SessionError as e:
            raise Fail('transactNamedPipe: %s' % stname(e.getErrorCode()))
        expect(out == b'echo:ping', 'transact reply %s' % show(out))
    finally:
        c.logoff()


@check('transact-overflow')
def _(env):
    env.server('r-trover', '--policy', 'everyone')
    c = env.client()
    try:
        fid = c.open('r-trover')
        msg = b'y' * 95
        st, a = c.transceive(fid, msg, 16)
        expect(st == nt_errors.STATUS_BUFFER_OVERFLOW,
               'TRANSCEIVE(maxout 16) of a 100-byte reply: %s, expected STATUS_BUFFER_OVERFLOW'
               % stname(st))
        expect(a == (b'echo:' + msg)[:16], 'the first part: %s' % show(a))
        st, b = c.read(fid, 4096)
        expect(st == 0 and b == msg[11:], 'the rest by READ: %s %s, expected %d bytes'
               % (stname(st), show(b), len(msg) - 11))
        st, d = c.transceive(fid, b'fits', 4096)
        expect(st == 0 and d == b'echo:fits', 'the next transceive: %s %s' % (stname(st), show(d)))
    finally:
        c.logoff()


@check('instances-at-once')
def _(env):
    env.server('r-multi', '--policy', 'everyone', '--instances', '3')
    clients = []
    try:
        for i in range(3):
            c = env.client()
            clients.append(c)
            c.fid = c.open('r-multi')
        for i, c in enumerate(clients):
            st, _ = c.write(c.fid, b'client-%d' % i)
            expect(st == 0, 'client %d write: %s' % (i, stname(st)))
        for i, c in enumerate(clients):
            st, data = c.read(c.fid)
            expect(st == 0 and data == b'echo:client-%d' % i,
                   'client %d read: %s %s' % (i, stname(st), show(data)))
    finally:
        for c in clients:
            c.logoff()


def read_in_thread(c, fid):
    res = {}

    def run():
        try:
            res['r'] = c.read(fid)
        except Exception as e:
            res['e'] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, res


@check('open-waits-for-free-instance')
def _(env):
    # One instance: a second client is accepted at once and its message waits
    # until the first client goes.
    env.server('r-queue', '--policy', 'everyone', '--instances', '1')
    a = env.client()
    b = env.client()
    try:
        fa = a.open('r-queue')
        echo_round(a, fa, b'first', 'client A')
        fb, st = b.try_open('r-queue')
        expect(fb is not None, 'the second open failed: %s (expected: accepted, waiting)'
               % stname(st))
        st, _ = b.write(fb, b'second')
        expect(st == 0, 'client B write: %s' % stname(st))
        t, res = read_in_thread(b, fb)
        echo_round(a, fa, b'still-mine', 'client A while B waits')
        a.close(fa)
        t.join(SMB_TIMEOUT + 5)
        expect(not t.is_alive(), 'client B got no reply after A closed')
        expect('e' not in res, 'client B read: %r' % res.get('e'))
        st, data = res['r']
        expect(st == 0 and data == b'echo:second', 'client B read: %s %s'
               % (stname(st), show(data)))
    finally:
        a.logoff()
        b.logoff()


def after_server_end(c, fid, what):
    st, data = c.read(fid)
    expect(st != 0, 'read after the server %s: %s %s, expected an error'
           % (what, stname(st), show(data)))
    wst, _ = c.write(fid, b'late')
    expect(wst != 0, 'write after the server %s succeeded' % what)
    return 'read %s, write %s' % (stname(st), stname(wst))


@check('server-close')
def _(env):
    env.server('r-close', '--policy', 'everyone', '--mode', 'close-after-one')
    c = env.client()
    try:
        fid = c.open('r-close')
        echo_round(c, fid, b'bye')
        info = after_server_end(c, fid, 'closed')
        print('# server-close: %s' % info)
    finally:
        c.logoff()


@check('server-disconnect')
def _(env):
    env.server('r-disc', '--policy', 'everyone', '--mode', 'disconnect-after-one')
    c = env.client()
    try:
        fid = c.open('r-disc')
        echo_round(c, fid, b'bye')
        info = after_server_end(c, fid, 'disconnected')
        print('# server-disconnect: %s' % info)
        c.close(fid)
        fid = c.open('r-disc')
        echo_round(c, fid, b'back', 'a new client after the disconnect')
    finally:
        c.logoff()


def whoami(env, name, **kw):
    c = env.client(**kw)
    try:
        fid = c.open(name)
        st, _ = c.write(fid, b'who')
        expect(st == 0, 'write: %s' % stname(st))
        st, data = c.read(fid)
        expect(st == 0, 'read: %s' % stname(st))
    finally:
        c.logoff()
    return parse_whoami(data)


def parse_whoami(data):
    line = data.decode('utf-8', 'replace').strip()
    fields = {}
    for part in line.split(' '):
        k, _, v = part.partition('=')
        fields[k] = v
    expect('error' not in fields, 'npipe_remote_client failed: %s' % line)
    expect('local' in fields, 'not a whoami line: %r' % line)
    fields['_line'] = line
    return fields


@check('flush-disconnect-delivers-x20')
def _(env):
    # disconnect-after-one flushes before it disconnects (DISC-01): the reply
    # must reach the client every time, also when the relay holds it
    env.server('r-disc20', '--policy', 'everyone', '--mode', 'disconnect-after-one')
    lost = []
    for i in range(20):
        c = env.client()
        try:
            fid = c.open('r-disc20')
            st, _ = c.write(fid, b'round-%d' % i)
            expect(st == 0, 'round %d: write: %s' % (i, stname(st)))
            st, data = c.read(fid)
            if st != 0 or data != b'echo:round-%d' % i:
                lost.append('%d: %s %s' % (i, stname(st), show(data, 20)))
        finally:
            c.logoff()
    expect(not lost, 'the flushed reply was lost in %d of 20 rounds (%s)'
           % (len(lost), '; '.join(lost[:3])))


@check('flush-disconnect-local-x20')
def _(env):
    # the same with a local client (npipe call), for comparison
    env.server('r-disc20l', '--policy', 'everyone', '--mode', 'disconnect-after-one')
    bad = []
    for i in range(20):
        r = env.cli('call', 'r-disc20l', 'round-%d' % i)
        if r.returncode != 0 or r.stdout.strip() != b'echo:round-%d' % i:
            bad.append('%d: exit %d %r' % (i, r.returncode, (r.stdout + r.stderr)[:60]))
    expect(not bad, 'lost in %d of 20 rounds (%s)' % (len(bad), '; '.join(bad[:3])))



@check('identity')
def _(env):
    p = env.server('r-who', '--policy', 'everyone', '--mode', 'whoami')
    f = whoami(env, 'r-who')
    want = {'user': USER, 'uid': str(env.uid), 'gid': str(env.gid), 'addr': HOST,
            'local': '0', 'anonymous': '0', 'encrypted': '1'}
    bad = ['%s=%s (expected %s)' % (k, f.get(k), v) for k, v in want.items() if f.get(k) != v]
    if f.get('domain', '').upper() != 'NPTESTSRV':
        bad.append('domain=%s (expected NPTESTSRV, the netbios name)' % f.get('domain'))
    if not f.get('nsids', '0').isdigit() or int(f['nsids']) < 1:
        bad.append('nsids=%s (expected at least the user SID)' % f.get('nsids'))
    # the SIDs, as the server logged them: the user's own first, the unix
    # user SID among them, Samba's pseudo-SIDs (NPA flags, SMB3 transport)
    # left out
    sids = []
    with open(env.server_log(p)) as logf:
        for ln in logf:
            if ': sid[' in ln:
                sids.append(ln.rsplit(' ', 1)[1].strip())
    if not sids or not sids[0].startswith('S-1-5-21-'):
        bad.append('sids[0]=%s (expected the user\'s S-1-5-21-... SID)'
                   % (sids[0] if sids else None))
    if 'S-1-22-1-%d' % env.uid not in sids:
        bad.append('no unix user SID S-1-22-1-%d among %s' % (env.uid, sids))
    pseudo = [x for x in sids if x.startswith(('S-1-22-2041152804-', 'S-1-22-1397571891-'))]
    if pseudo:
        bad.append('Samba pseudo-SIDs passed on: %s' % pseudo)
    expect(not bad, '; '.join(bad) + ' in: ' + f['_line'])


@check('identity-unencrypted-smb2.1')
def _(env):
    env.server('r-who21', '--policy', 'everyone', '--mode', 'whoami')
    f = whoami(env, 'r-who21', dialect=s3.SMB2_DIALECT_21)
    expect(f.get('encrypted') == '0' and f.get('user') == USER and f.get('local') == '0',
           'expected user=%s encrypted=0 local=0: %s' % (USER, f['_line']))


@check('local-client-is-local')
def _(env):
    env.server('r-wholocal', '--policy', 'everyone', '--mode', 'whoami')
    r = env.cli('call', 'r-wholocal', 'who')
    expect(r.returncode == 0, 'npipe call: exit %d: %s' % (r.returncode,
                                                           r.stderr.decode(errors='replace')))
    f = parse_whoami(r.stdout)
    expect(f.get('local') == '1' and f.get('uid') == '0',
           'expected local=1 uid=0: %s' % f['_line'])


@check('access-owner-denied')
def _(env):
    # the server runs as root: nptest is not the owner
    env.server('r-owner', '--policy', 'owner')
    st = expect_open_fails(env, 'r-owner')
    print('# access-owner-denied: the open failed with %s' % stname(st))
    r = env.cli('call', 'r-owner', 'local-root')
    expect(r.returncode == 0 and r.stdout.strip() == b'echo:local-root',
           'the owner (root, locally) cannot use the pipe: exit %d %r'
           % (r.returncode, r.stdout + r.stderr))


@check('access-group-allowed')
def _(env):
    env.server('r-group', '--policy', 'group', '--gid', str(env.gid))
    c = env.client()
    try:
        fid, st = c.try_open('r-group')
        expect(fid is not None, 'open with policy group gid=%d (nptest\'s group): %s'
               % (env.gid, stname(st)))
        echo_round(c, fid, b'member')
    finally:
        c.logoff()


@check('access-other-group-denied')
def _(env):
    # gid 0: nptest is not a member
    env.server('r-group0', '--policy', 'group', '--gid', '0')
    st = expect_open_fails(env, 'r-group0')
    print('# access-other-group-denied: the open failed with %s' % stname(st))


@check('anonymous-allowed')
def _(env):
    env.server('r-anon-yes', '--policy', 'everyone', '--allow-anonymous', '--mode', 'whoami')
    env.anon_open_works = False
    try:
        f = whoami(env, 'r-anon-yes', anonymous=True)
    except SessionError as e:
        raise Fail('anonymous open with --allow-anonymous --policy everyone: %s'
                   % stname(e.getErrorCode()))
    env.anon_open_works = True
    print('# anonymous-allowed: %s' % f['_line'])
    expect(f.get('anonymous') == '1' and f.get('local') == '0',
           'expected anonymous=1 local=0: %s' % f['_line'])


def nobody_gid():
    try:
        return pwd.getpwnam('nobody').pw_gid
    except KeyError:
        return 65534


@check('anonymous-refused-by-default')
def _(env):
    env.server('r-anon-no', '--policy', 'everyone')
    st = expect_open_fails(env, 'r-anon-no', anonymous=True)
    print('# anonymous-refused-by-default: the open failed with %s' % stname(st))


@check('anonymous-refused-nogroup-policy')
def _(env):
    # the null session maps to Samba's guest account, nobody (gid 65534 on
    # Debian: nogroup); without
    # NPIPE_ALLOW_ANONYMOUS a group policy on nogroup must not let it in
    env.server('r-anon-grp', '--policy', 'group', '--gid', str(nobody_gid()))
    st = expect_open_fails(env, 'r-anon-grp', anonymous=True)
    print('# anonymous-refused-nogroup-policy: the open failed with %s' % stname(st))


@check('anonymous-allowed-needs-everyone')
def _(env):
    # NPIPE_ALLOW_ANONYMOUS: anonymous users count as everyone, so a group
    # policy still refuses them
    env.server('r-anon-grp2', '--policy', 'group', '--gid', str(nobody_gid()),
               '--allow-anonymous')
    st = expect_open_fails(env, 'r-anon-grp2', anonymous=True)
    print('# anonymous-allowed-needs-everyone: the open failed with %s' % stname(st))


@check('reject-remote-not-found')
def _(env):
    env.server('r-local-only', '--policy', 'everyone', '--reject-remote')
    expect(not os.path.lexists(env.socket_path('r-local-only')),
           'a socket exists for a pipe created with NPIPE_REJECT_REMOTE')
    c = env.client()
    try:
        fid, st = c.try_open('r-local-only')
        expect(fid is None, 'the remote open of a REJECT_REMOTE pipe succeeded')
        expect(st == nt_errors.STATUS_OBJECT_NAME_NOT_FOUND,
               'status %s, expected STATUS_OBJECT_NAME_NOT_FOUND' % stname(st))
    finally:
        c.logoff()
    r = env.cli('call', 'r-local-only', 'local')
    expect(r.returncode == 0 and r.stdout.strip() == b'echo:local',
           'a local client cannot use the pipe: exit %d %r' % (r.returncode, r.stdout + r.stderr))


@check('message-65535-client-to-server')
def _(env):
    env.server('r-max-in', '--policy', 'everyone')
    c = env.client()
    try:
        fid = c.open('r-max-in')
        msg = pattern(SMB_MAX_MSG)
        st, n = c.write(fid, msg)
        expect(st == 0 and n == len(msg), 'write of 65535 bytes: %s count %d' % (stname(st), n))
        st, data = c.read(fid)
        want = b'echo:len=65535,fnv=%08x' % fnv1a(msg)
        expect(st == 0 and data == want, 'the server got %s, expected %s'
               % (show(data), show(want)))
    finally:
        c.logoff()


@check('message-65536-client-refused')
def _(env):
    # smbd refuses it (STATUS_PORT_MESSAGE_TOO_LONG); the pipe stays usable
    env.server('r-too-big', '--policy', 'everyone')
    c = env.client()
    try:
        fid = c.open('r-too-big')
        st, _ = c.write(fid, pattern(SMB_MAX_MSG + 1))
        expect(st != 0, 'a 65536-byte message was accepted')
        print('# message-65536-client-refused: %s' % stname(st))
        echo_round(c, fid, b'after', 'the pipe after the refused write')
    finally:
        c.logoff()


@check('message-65535-server-to-client-and-emsgsize')
def _(env):
    env.server('r-big', '--policy', 'everyone', '--mode', 'big')
    c = env.client()
    try:
        fid = c.open('r-big')
        for rnd in (1, 2):   # twice: the connection stays usable
            st, _ = c.write(fid, b'go')
            expect(st == 0, 'round %d: write: %s' % (rnd, stname(st)))
            st, line = c.read(fid)
            expect(st == 0 and line == b'65536=EMSGSIZE 0=EMSGSIZE',
                   'round %d: the server\'s 65536- and 0-byte writes: %s %s '
                   '(expected 65536=EMSGSIZE 0=EMSGSIZE)' % (rnd, stname(st), show(line)))
            st, data = c.read(fid)
            expect(st == 0 and len(data) == SMB_MAX_MSG and data == pattern(SMB_MAX_MSG),
                   'round %d: the 65535-byte message: %s, %d bytes%s'
                   % (rnd, stname(st), len(data),
                      '' if len(data) != SMB_MAX_MSG else ' (content differs)'))
    finally:
        c.logoff()


@check('byte-mode-stream')
def _(env):
    env.server('r-byte', '--policy', 'everyone', '--byte')
    c = env.client()
    try:
        fid = c.open('r-byte')
        for m in (b'hello ', b'world'):
            st, _ = c.write(fid, m)
            expect(st == 0, 'write %r: %s' % (m, stname(st)))
        got, reads = b'', 0
        while len(got) < 11 and reads < 11:
            st, data = c.read(fid, 4096)
            expect(st == 0 and data, 'read %d: %s %s' % (reads + 1, stname(st), show(data)))
            got += data
            reads += 1
        expect(got == b'hello world', 'the stream came back as %s' % show(got))
        print('# byte-mode-stream: "hello world" in %d read(s)' % reads)
    finally:
        c.logoff()


@check('name-case-insensitive')
def _(env):
    env.server('R-MixedCase', '--policy', 'everyone')
    expect(is_socket(env.socket_path('R-MixedCase')), 'no socket %s'
           % env.socket_path('R-MixedCase'))
    expect(not os.path.lexists(os.path.join(env.np_dir, 'R-MixedCase')),
           'the socket name is not lower case')
    c = env.client()
    try:
        for name in ('R-MIXEDCASE', 'r-mixedcase', 'R-MixedCase'):
            fid, st = c.try_open(name)
            expect(fid is not None, 'open %s: %s' % (name, stname(st)))
            echo_round(c, fid, name.encode(), 'open as ' + name)
            c.close(fid)
    finally:
        c.logoff()


@check('queued-client-that-left')
def _(env):
    # One instance: B is accepted while A holds it, writes, and closes
    # before the instance frees up.  The instance must then go to C, not to
    # the client that left.
    env.server('r-left', '--policy', 'everyone', '--instances', '1')
    a, b, c = env.client(), env.client(), env.client()
    try:
        fa = a.open('r-left')
        echo_round(a, fa, b'holder', 'client A')
        fb, st = b.try_open('r-left')
        expect(fb is not None, 'the waiting open failed: %s' % stname(st))
        st, _ = b.write(fb, b'never-answered')
        expect(st == 0, 'client B write: %s' % stname(st))
        b.close(fb)
        a.close(fa)
        fc = c.open('r-left')
        st, _ = c.write(fc, b'third')
        expect(st == 0, 'client C write: %s' % stname(st))
        st, data = c.read(fc)
        expect(st == 0 and data == b'echo:third',
               'client C read: %s %s (B\'s data or nothing: the instance went to B?)'
               % (stname(st), show(data)))
    finally:
        for x in (a, b, c):
            x.logoff()


def raw_connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(SMB_TIMEOUT)
    s.connect(path)
    return s


def wait_eof(s):
    """True when the peer closes the socket (within the socket's timeout)."""
    try:
        while True:
            d = s.recv(4096)
            if not d:
                return True
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


@check('hostile-handshakes')
def _(env):
    # What only smbd (root) can send, sent badly: the broker must close such
    # connections, not block other clients meanwhile, and keep serving.
    env.server('r-hostile', '--policy', 'everyone')
    path = env.socket_path('r-hostile')
    # a half handshake held open while a real client comes in
    half = raw_connect(path)
    half.sendall(b'\x00\x00')
    c = env.client()
    try:
        fid = c.open('r-hostile')
        echo_round(c, fid, b'past-a-half-handshake')
        c.close(fid)
    finally:
        c.logoff()
    half.close()
    # connect and close at once (what a WaitNamedPipe probe of a later smbd does)
    raw_connect(path).close()
    # garbage: a length, then no NPAM blob
    g = raw_connect(path)
    g.sendall(b'\x00\x00\x00\x10' + b'not a handshake!')
    expect(wait_eof(g), 'the broker did not close a connection that sent garbage')
    g.close()
    # an absurd length
    g = raw_connect(path)
    g.sendall(b'\x7f\xff\xff\xff' + b'NPAM')
    expect(wait_eof(g), 'the broker did not close a connection with a 2 GiB length')
    g.close()
    expect(env.broker.poll() is None, 'npiped exited: %s' % env.broker.poll())
    c = env.client()
    try:
        echo_round(c, c.open('r-hostile'), b'still-serving')
    finally:
        c.logoff()



def burst_msg(k, size):
    return bytes([(k >> 24) & 255, (k >> 16) & 255, (k >> 8) & 255, k & 255]) + \
        bytes((k + i) % 251 for i in range(4, size))


def read_burst(c, fid, n, size, what):
    for k in range(n):
        st, data = c.read(fid)
        expect(st == 0, '%s: message %d of %d: %s' % (what, k, n, stname(st)))
        if data != burst_msg(k, size):
            got = int.from_bytes(data[:4], 'big') if len(data) >= 4 else None
            raise Fail('%s: message %d of %d is wrong: %d bytes, index %s'
                       % (what, k, n, len(data), got))


@check('pipelined-messages')
def _(env):
    # 50 messages written before the first read: all arrive, in order, one
    # per read, in both directions
    env.server('r-pipeline', '--policy', 'everyone')
    c = env.client()
    try:
        fid = c.open('r-pipeline')
        msgs = [b'%04d:' % i + bytes([65 + i % 26]) * 995 for i in range(50)]
        for m in msgs:
            st, _ = c.write(fid, m)
            expect(st == 0, 'write: %s' % stname(st))
        for i, m in enumerate(msgs):
            st, data = c.read(fid)
            expect(st == 0 and data == b'echo:' + m, 'reply %d: %s %s'
                   % (i, stname(st), show(data)))
    finally:
        c.logoff()


@check('server-burst-4MiB')
def _(env):
    # the server writes 64 messages of 65535 bytes at once: the relay must
    # hold them back while smbd does not read, and lose none
    env.server('r-burst', '--policy', 'everyone', '--mode', 'burst')
    c = env.client()
    try:
        fid = c.open('r-burst')
        for rnd in (1, 2):
            st, _ = c.write(fid, b'64 65535')
            expect(st == 0, 'write: %s' % stname(st))
            read_burst(c, fid, 64, SMB_MAX_MSG, 'round %d' % rnd)
    finally:
        c.logoff()


@check('client-leaves-mid-burst')
def _(env):
    # The client reads one message of a 4 MiB burst and closes while the
    # server is blocked writing: the server must hear that its client left
    # (its write fails), listen again and serve the next client.
    p = env.server('r-burst1', '--policy', 'everyone', '--mode', 'burst', '--instances', '1')
    a = env.client()
    try:
        fa = a.open('r-burst1')
        st, _ = a.write(fa, b'64 65535')
        expect(st == 0, 'client A write: %s' % stname(st))
        read_burst(a, fa, 1, SMB_MAX_MSG, 'client A')
        a.close(fa)
    finally:
        a.logoff()
    b = env.client()
    try:
        fb = b.open('r-burst1')
        st, _ = b.write(fb, b'3 100')
        expect(st == 0, 'client B write: %s' % stname(st))
        read_burst(b, fb, 3, 100, 'client B (after A left mid-burst)')
    finally:
        b.logoff()
    expect(p.poll() is None, 'the server exited: %s' % p.poll())


@check('byte-mode-bulk')
def _(env):
    env.server('r-bytebulk', '--policy', 'everyone', '--byte')
    c = env.client()
    try:
        fid = c.open('r-bytebulk')
        data = pattern(100000)
        for off in range(0, len(data), 10000):
            st, _ = c.write(fid, data[off:off + 10000])
            expect(st == 0, 'write at %d: %s' % (off, stname(st)))
        got = b''
        while len(got) < len(data):
            st, chunk = c.read(fid, 65536)
            expect(st == 0 and chunk, 'read at %d: %s' % (len(got), stname(st)))
            got += chunk
        expect(got == data, 'the 100000 bytes came back different (%d bytes, first '
               'difference at %d)' % (len(got), next((i for i in range(min(len(got), len(data)))
                                                      if got[i] != data[i]), -1)))
    finally:
        c.logoff()


@check('many-clients')
def _(env):
    n = 16
    env.server('r-many', '--policy', 'everyone', '--instances', str(n))
    clients = []
    try:
        for i in range(n):
            c = env.client()
            clients.append(c)
            c.fid = c.open('r-many')
        for rnd in range(2):
            for i, c in enumerate(clients):
                st, _ = c.write(c.fid, b'c%d-r%d' % (i, rnd))
                expect(st == 0, 'client %d write: %s' % (i, stname(st)))
            for i, c in enumerate(clients):
                st, data = c.read(c.fid)
                expect(st == 0 and data == b'echo:c%d-r%d' % (i, rnd),
                       'client %d read: %s %s' % (i, stname(st), show(data)))
    finally:
        for c in clients:
            c.logoff()


@check('two-pipes-one-session')
def _(env):
    env.server('r-two-a', '--policy', 'everyone')
    env.server('r-two-b', '--policy', 'everyone', '--mode', 'whoami')
    c = env.client()
    try:
        fa = c.open('r-two-a')
        fb = c.open('r-two-b')
        st, _ = c.write(fa, b'to-a')
        st2, _ = c.write(fb, b'to-b')
        expect(st == 0 and st2 == 0, 'writes: %s, %s' % (stname(st), stname(st2)))
        st, db = c.read(fb)
        expect(st == 0 and db.startswith(b'user=' + USER.encode()), 'pipe b: %s %s'
               % (stname(st), show(db)))
        st, da = c.read(fa)
        expect(st == 0 and da == b'echo:to-a', 'pipe a: %s %s' % (stname(st), show(da)))
    finally:
        c.logoff()


def wait_log(path, text, timeout=10.0):
    def seen():
        try:
            with open(path, 'rb') as f:
                return text.encode() in f.read()
        except OSError:
            return False
    return wait_until(seen, timeout)


@check('inbound-pipe')
def _(env):
    # client to server only: a remote client opens it and its messages arrive
    p = env.server('r-inbound', '--policy', 'everyone', '--dir', 'inbound')
    log = env.server_log(p)
    c = env.client()
    try:
        fid, st = c.try_open('r-inbound')
        expect(fid is not None, 'open of an inbound pipe: %s' % stname(st))
        for m in ('to-server-1', 'to-server-2'):
            st, _ = c.write(fid, m.encode())
            expect(st == 0, 'write %s: %s' % (m, stname(st)))
        for m in ('to-server-1', 'to-server-2'):
            expect(wait_log(log, 'message: %s\n' % m), 'the server did not get %r' % m)
    finally:
        c.logoff()


@check('outbound-pipe')
def _(env):
    # server to client only: a remote client opens it and reads
    greet_check(env, 'r-outbound', 'outbound')


def greet_check(env, name, direction):
    # 22 messages written back to back: each must come as one read
    env.server(name, '--policy', 'everyone', '--dir', direction, '--mode', 'greet')
    c = env.client()
    try:
        fid, st = c.try_open(name)
        expect(fid is not None, 'open of an %s pipe: %s' % (direction, stname(st)))
        want = [b'greeting'] + [b'm%02d' % k for k in range(20)] + [b'bye']
        for m in want:
            st, data = c.read(fid)
            expect(st == 0 and data == m, 'read: %s %s, expected %r (message boundaries '
                   'of the %s pipe)' % (stname(st), show(data), m, direction))
    finally:
        c.logoff()


@check('duplex-greet-boundaries')
def _(env):
    # the same burst of small messages on a duplex pipe (the control for
    # outbound-pipe)
    greet_check(env, 'r-greet-duplex', 'duplex')



@check('unicode-name')
def _(env):
    # A Windows user types the name as the server spelled it; smbd folds it
    # with its Unicode tables (strlower_talloc) before it looks for the
    # socket, so the broker must name the socket the same way.
    name = 'r-Ünïcode-Ωmega'
    env.server(name, '--policy', 'everyone', wait_socket=False)
    listing = sorted(n for n in os.listdir(env.np_dir) if n.startswith('r-') and 'code' in n)
    c = env.client()
    try:
        for spelling in (name, name.upper(), name.lower()):
            fid, st = c.try_open(spelling)
            expect(fid is not None, 'open %r: %s (smbd looks for %r; np dir has %r)'
                   % (spelling, stname(st), spelling.lower(), listing))
            echo_round(c, fid, spelling.encode(), 'open as %r' % spelling)
            c.close(fid)
    finally:
        c.logoff()


@check('name-too-long-for-a-socket')
def _(env):
    # <np dir>/<name> does not fit in sun_path (108 bytes): the pipe still
    # works locally, the broker lives on, and a remote open fails cleanly
    name = 'r-long-' + 'x' * 110
    env.server(name, '--policy', 'everyone', wait_socket=False)
    r = env.cli('call', name, 'local')
    expect(r.returncode == 0 and r.stdout.strip() == b'echo:local',
           'local call: exit %d %r' % (r.returncode, (r.stdout + r.stderr)[:200]))
    c = env.client()
    try:
        fid, st = c.try_open(name)
        expect(fid is None, 'a remote open of a pipe with no possible socket succeeded')
        print('# name-too-long-for-a-socket: remote open: %s' % stname(st))
    finally:
        c.logoff()
    expect(env.broker.poll() is None, 'npiped exited: %s' % env.broker.poll())


@check('server-killed-client-sees-error')
def _(env):
    p = env.server('r-killed', '--policy', 'everyone')
    c = env.client()
    try:
        fid = c.open('r-killed')
        echo_round(c, fid, b'before')
        p.kill()
        p.wait(10)
        t0 = time.monotonic()
        st, data = c.read(fid)
        expect(st != 0, 'read after the server was killed: %s %s' % (stname(st), show(data)))
        print('# server-killed-client-sees-error: %s after %.1f s'
              % (stname(st), time.monotonic() - t0))
    finally:
        c.logoff()


@check('queued-client-when-server-exits')
def _(env):
    # B waits for the only instance; the server exits: B must hear at once
    # (well before the broker's wait for a free instance would run out)
    p = env.server('r-qexit', '--policy', 'everyone', '--instances', '1')
    a, b = env.client(), env.client()
    try:
        fa = a.open('r-qexit')
        echo_round(a, fa, b'holder', 'client A')
        fb, st = b.try_open('r-qexit')
        expect(fb is not None, 'the waiting open failed: %s' % stname(st))
        st, _ = b.write(fb, b'waiting')
        expect(st == 0, 'client B write: %s' % stname(st))
        t, res = read_in_thread(b, fb)
        t0 = time.monotonic()
        p.kill()
        p.wait(10)
        t.join(SMB_TIMEOUT + 5)
        took = time.monotonic() - t0
        expect(not t.is_alive(), 'client B still waits %.0f s after the server exited' % took)
        expect('e' not in res, 'client B read: %r (after %.1f s)' % (res.get('e'), took))
        st, data = res['r']
        expect(st != 0, 'client B read succeeded after the server exited: %s' % show(data))
        print('# queued-client-when-server-exits: %s after %.1f s' % (stname(st), took))
    finally:
        a.logoff()
        b.logoff()


def fd_count(pid):
    try:
        return len(os.listdir('/proc/%d/fd' % pid))
    except OSError:
        return -1


def fd_links(pid):
    d = {}
    for f in os.listdir('/proc/%d/fd' % pid):
        try:
            d[f] = os.readlink('/proc/%d/fd/%s' % (pid, f))
        except OSError:
            pass
    return d


def pipe_instances(env, name):
    """(listening, connected) instances of NAME in `npipe list`, or None."""
    try:
        for e in json.loads(env.cli('list', '--json').stdout.decode()):
            if e.get('name') == name:
                return e['instances']['listening'], e['instances']['connected']
    except ValueError:
        pass
    return None


@check('no-descriptor-leak')
def _(env):
    # 60 accepted opens, 20 refused ones and 20 bad handshakes: the broker's
    # descriptor count comes back to where it was
    env.server('r-leak', '--policy', 'everyone', '--instances', '4')
    env.server('r-leak-no', '--policy', 'owner')
    c = env.client()
    try:
        echo_round(c, c.open('r-leak'), b'warm-up')
    finally:
        c.logoff()
    pid = env.broker.pid
    # The warm-up's instance listens again, and the broker holds its segment
    # (a memfd) again, only once its server heard of the close, after logoff
    # returned: counted before that, the segment looks like a leak.
    seen = {}

    def settled():
        seen['fds'] = fd_links(pid)
        return pipe_instances(env, 'r-leak') == (4, 0)
    expect(wait_until(settled, 10.0), 'r-leak has (listening, connected) instances %s '
           'after the warm-up, not (4, 0)' % (pipe_instances(env, 'r-leak'),))
    # nor is the broker's end of that `npipe list` connection counted
    wait_until(lambda: not any(v.startswith('socket:') and seen['fds'].get(k) != v
                               for k, v in fd_links(pid).items()), 5.0)
    base = fd_count(pid)
    expect(base > 0, 'cannot count the descriptors of npiped (pid %d)' % pid)
    c = env.client()
    try:
        for i in range(60):
            fid = c.open('r-leak')
            echo_round(c, fid, b'n%d' % i)
            c.close(fid)
        for i in range(20):
            fid, st = c.try_open('r-leak-no')
            expect(fid is None, 'an open of the owner-only pipe succeeded')
    finally:
        c.logoff()
    for i in range(20):
        g = raw_connect(env.socket_path('r-leak'))
        g.sendall(b'\x00\x00\x00\x08garbage!')
        wait_eof(g)
        g.close()
    # with every instance listening again, so that a count that dips while
    # one re-listens cannot hide a leak
    ok = wait_until(lambda: pipe_instances(env, 'r-leak') == (4, 0) and fd_count(pid) <= base,
                    10.0)
    expect(ok, 'npiped has %d descriptors, %d before the 100 connections'
           % (fd_count(pid), base))



@check('small-quota-large-messages')
def _(env):
    # 1 KiB quotas: 65535-byte messages both ways still go through whole
    # (writes larger than the quota wait for the reader)
    env.server('r-smallq', '--policy', 'everyone', '--quota', '1024', '--mode', 'burst')
    c = env.client()
    try:
        fid = c.open('r-smallq')
        st, _ = c.write(fid, b'8 65535')
        expect(st == 0, 'write: %s' % stname(st))
        read_burst(c, fid, 8, SMB_MAX_MSG, 'server to client')
    finally:
        c.logoff()
    env.server('r-smallq2', '--policy', 'everyone', '--quota', '1024')
    c = env.client()
    try:
        fid = c.open('r-smallq2')
        for k in range(3):
            msg = burst_msg(k, SMB_MAX_MSG)
            st, n = c.write(fid, msg)
            expect(st == 0 and n == len(msg), 'client to server %d: %s' % (k, stname(st)))
            st, data = c.read(fid)
            want = b'echo:len=65535,fnv=%08x' % fnv1a(msg)
            expect(st == 0 and data == want, 'the server got %s, expected %s'
                   % (show(data), show(want)))
    finally:
        c.logoff()


@check('byte-mode-big-writes')
def _(env):
    # no message limit on a byte pipe: the server's 65536-byte write works
    # (no EMSGSIZE), a 0-byte one is nothing, and the bytes arrive in order
    env.server('r-bytebig', '--policy', 'everyone', '--byte', '--mode', 'big')
    c = env.client()
    try:
        fid = c.open('r-bytebig')
        st, _ = c.write(fid, b'go')
        expect(st == 0, 'write: %s' % stname(st))
        line = b'65536=OK 0=OK'
        want = pattern(SMB_MAX_MSG + 1) + line + pattern(SMB_MAX_MSG)
        got = b''
        while len(got) < len(want):
            st, chunk = c.read(fid, 65536)
            expect(st == 0 and chunk, 'read at %d of %d: %s' % (len(got), len(want), stname(st)))
            got += chunk
            if not want.startswith(got):
                i = next(i for i in range(len(got)) if got[i] != want[i])
                raise Fail('the stream differs at byte %d: got %s' % (i, show(got[i:i + 20])))
    finally:
        c.logoff()


@check('local-and-remote-together')
def _(env):
    env.server('r-mixed', '--policy', 'everyone', '--instances', '2', '--mode', 'whoami')
    c = env.client()
    try:
        fid = c.open('r-mixed')
        st, _ = c.write(fid, b'who')
        expect(st == 0, 'remote write: %s' % stname(st))
        # the local client runs while the remote one holds the other instance
        r = env.cli('call', 'r-mixed', 'who')
        expect(r.returncode == 0, 'local call: exit %d %r' % (r.returncode, r.stderr))
        fl = parse_whoami(r.stdout)
        st, data = c.read(fid)
        expect(st == 0, 'remote read: %s' % stname(st))
        fr = parse_whoami(data)
        expect(fl.get('local') == '1' and fr.get('local') == '0' and fr.get('user') == USER,
               'local: %s; remote: %s' % (fl['_line'], fr['_line']))
    finally:
        c.logoff()


@check('smb-connection-dropped')
def _(env):
    # The SMB client vanishes (TCP closed, no SMB CLOSE): smbd closes the
    # pipe socket, the server hears its client left, and the only instance
    # serves the next client.
    env.server('r-dropped', '--policy', 'everyone', '--instances', '1')
    a = env.client()
    fa = a.open('r-dropped')
    echo_round(a, fa, b'about-to-vanish', 'client A')
    sock = a.s._NetBIOSSession.get_socket()
    sock.shutdown(socket.SHUT_RDWR)
    sock.close()
    b = env.client()
    try:
        fb = b.open('r-dropped')
        st, _ = b.write(fb, b'next')
        expect(st == 0, 'client B write: %s' % stname(st))
        st, data = b.read(fb)
        expect(st == 0 and data == b'echo:next', 'client B read: %s %s (the instance still '
               'belongs to the vanished client?)' % (stname(st), show(data)))
    finally:
        b.logoff()



@check('client-writes-then-closes')
def _(env):
    # What the client wrote before it closed still reaches the server
    # (CLOSE-01), also a 65535-byte message that waits for a 1 KiB quota.
    p = env.server('r-lastwords', '--policy', 'everyone', '--quota', '1024')
    log = env.server_log(p)
    c = env.client()
    try:
        fid = c.open('r-lastwords')
        st, _ = c.write(fid, b'last words')
        expect(st == 0, 'write: %s' % stname(st))
        c.close(fid)
        expect(wait_log(log, 'message: last words\n'), 'the server never got the message '
               'written just before the close')
        # the next open should find the instance listening again, not wait
        # for it (that case is queued-client-writes-then-closes)
        expect(wait_log(log, 'disconnected: OK\n'), 'the server did not listen again')
        fid = c.open('r-lastwords')
        st, _ = c.write(fid, burst_msg(7, SMB_MAX_MSG))
        expect(st == 0, 'write of 65535 bytes: %s' % stname(st))
        c.close(fid)
        expect(wait_log(log, 'read 65535 bytes\n'), 'the server never got the whole 65535-byte '
               'message written (into a 1 KiB quota) just before the close')
    finally:
        c.logoff()
    c = env.client()
    try:
        echo_round(c, c.open('r-lastwords'), b'after', 'the next client')
    finally:
        c.logoff()



@check('silent-peer-closed')
def _(env):
    # a peer that connects and sends nothing is closed after the handshake
    # time limit (NP_REMOTE_HANDSHAKE_MS, 5 s), not kept for ever
    env.server('r-silent', '--policy', 'everyone')
    s = raw_connect(env.socket_path('r-silent'))
    s.settimeout(15)
    t0 = time.monotonic()
    closed = wait_eof(s)
    s.close()
    expect(closed, 'a silent peer was still connected after 15 s')
    print('# silent-peer-closed: closed after %.1f s' % (time.monotonic() - t0))


@check('many-opens-one-session')
def _(env):
    # 600 handles on one SMB session to a 1-instance pipe: one connected,
    # the rest waiting (more than the relay's 512 connections).  The broker
    # refuses what it cannot carry, lives on, and serves again afterwards.
    env.server('r-flood', '--policy', 'everyone', '--instances', '1')
    c = env.client()
    fids, failures = [], {}
    try:
        for i in range(600):
            fid, st = c.try_open('r-flood')
            if fid is None:
                failures[stname(st)] = failures.get(stname(st), 0) + 1
            else:
                fids.append(fid)
        print('# many-opens-one-session: %d opened, refused: %s' % (len(fids), failures or 'none'))
        expect(env.broker.poll() is None, 'npiped exited: %s' % env.broker.poll())
        for fid in fids:
            c.close(fid)
    finally:
        c.logoff()
    c = env.client()
    try:
        echo_round(c, c.open('r-flood'), b'after-the-flood')
    finally:
        c.logoff()


@check('broker-restart-stale-sockets')
def _(env):
    # A second broker on the same np directory is killed (SIGKILL: its
    # sockets stay).  The next broker of its runtime directory finds them in
    # that directory's registry and removes them as it starts (nobody
    # accepts on them), so a pipe created again is reachable and one nobody
    # re-creates is simply missing; it leaves the live socket of another
    # broker (another runtime directory) alone.
    rd2 = os.path.join(env.root, 'run2')
    b2, ok, log2 = env.spawn_broker(rd2, 'npiped-2')
    expect(ok, 'a second broker did not start: %s' % ' | '.join(tail(log2, 3)))
    s1 = env.server('r-crash', '--policy', 'everyone', run_dir=rd2)
    s2 = env.server('r-crash-gone', '--policy', 'everyone', run_dir=rd2)
    # the broker dies with its pipes in place (their sockets stay); its
    # servers cannot start another one (NPIPE_BROKER=/bin/false in env())
    b2.kill()
    b2.wait(10)
    env.stop(s1)
    env.stop(s2)
    expect(is_socket(env.socket_path('r-crash')), 'no stale socket after SIGKILL (test premise)')
    rd3 = rd2  # a restart: the same runtime directory, its registry
    b3, ok, log3 = env.spawn_broker(rd3, 'npiped-3')
    expect(not is_socket(env.socket_path('r-crash-gone')),
           'the killed broker\'s socket is still there after a broker of its runtime '
           'directory started')
    expect(ok, 'a third broker did not start: %s' % ' | '.join(tail(log3, 3)))
    s3_servers = [env.server('r-crash', '--policy', 'everyone', run_dir=rd3)]
    c = env.client()
    try:
        fid, st = c.try_open('r-crash')
        expect(fid is not None, 'open of the re-created pipe: %s (stale socket not replaced?)'
               % stname(st))
        echo_round(c, fid, b'new-broker')
        fid, st = c.try_open('r-crash-gone')
        print('# broker-restart-stale-sockets: the stale socket of a pipe nobody re-created: '
              '%s' % ('opened!' if fid else stname(st)))
        expect(fid is None and st == nt_errors.STATUS_OBJECT_NAME_NOT_FOUND,
               'a pipe of the killed broker: %s' % ('opened' if fid else stname(st)))
    finally:
        c.logoff()
    # the live socket of the main broker's pipe is left alone by broker 3
    env.server('r-crash-live', '--policy', 'everyone')
    try:
        # whoami: its replies are told apart from the first broker's echo
        s3_servers.append(env.server('r-crash-live', '--policy', 'everyone', '--mode', 'whoami',
                                     run_dir=rd3, wait_socket=False))
    except Fail:
        pass
    c = env.client()
    try:
        fid = c.open('r-crash-live')
        st, _ = c.write(fid, b'who-owns')
        st, data = c.read(fid)
        expect(st == 0 and data == b'echo:who-owns', 'the pipe of the first broker: %s %s '
               '(a whoami line: the third broker took over a live socket)'
               % (stname(st), show(data)))
    finally:
        c.logoff()
    for p3 in s3_servers:
        env.stop(p3)
    env.stop(b3)



@check('queued-client-writes-then-closes')
def _(env):
    # B's open is accepted while A holds the only instance (Samba cannot say
    # busy); B writes and closes before the instance frees up.  B's WRITE
    # succeeded, so like any data written before a close (CLOSE-01) it must
    # reach the server once the instance is free.
    p = env.server('r-qlast', '--policy', 'everyone', '--instances', '1')
    log = env.server_log(p)
    a, b = env.client(), env.client()
    try:
        fa = a.open('r-qlast')
        echo_round(a, fa, b'holder', 'client A')
        fb, st = b.try_open('r-qlast')
        expect(fb is not None, 'the waiting open failed: %s' % stname(st))
        st, _ = b.write(fb, b'queued words')
        expect(st == 0, 'client B write: %s' % stname(st))
        b.close(fb)
        a.close(fa)
        expect(wait_log(log, 'message: queued words\n'), 'the server never got what the '
               'waiting client wrote before it closed (its WRITE had succeeded)')
    finally:
        a.logoff()
        b.logoff()



class SkipCheck(Exception):
    """This check cannot run here (printed as "ok - NAME # SKIP reason")."""


def capture_handshake(env, name):
    """The named_pipe_auth request smbd sends for nptest: listen on
    <np dir>/name ourselves and open it through SMB."""
    path = os.path.join(env.np_dir, name)
    lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lst.bind(path)
    lst.listen(1)
    lst.settimeout(SMB_TIMEOUT)
    res = {}

    def opener():
        try:
            c = env.client()
            try:
                res['open'] = c.try_open(name)
            finally:
                c.logoff()
        except Exception as e:
            res['e'] = e
    t = threading.Thread(target=opener, daemon=True)
    t.start()
    try:
        conn, _ = lst.accept()
        conn.settimeout(SMB_TIMEOUT)
        blob = b''
        while len(blob) < 4 or len(blob) < 4 + int.from_bytes(blob[:4], 'big'):
            d = conn.recv(65536)
            if not d:
                break
            blob += d
        conn.close()   # the capture's own open fails: that is fine
    finally:
        lst.close()
        os.unlink(path)
        t.join(SMB_TIMEOUT + 5)
    expect(len(blob) > 8 and blob[4:8] == b'NPAM', 'no handshake captured: %s' % show(blob))
    return blob


PEER_SCRIPT = r"""
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print('uid=%d connect-failed %s' % (os.getuid(), e)); sys.exit(0)
got = b''
try:
    s.sendall(open(sys.argv[2], 'rb').read())
except (BrokenPipeError, ConnectionResetError):
    # closed at once, before the blob was all sent: refused too
    print('uid=%d eof got=' % os.getuid()); sys.exit(0)
try:
    while True:
        d = s.recv(4096)
        if not d:
            break
        got += d
except socket.timeout:
    print('uid=%d timeout got=%s' % (os.getuid(), got.hex())); sys.exit(0)
except ConnectionResetError:
    pass
print('uid=%d eof got=%s' % (os.getuid(), got.hex()))
"""


@check('only-root-peers')
def _(env):
    # The handshake carries the user's identity (and session key), so only
    # smbd (root) may connect.  A replayed handshake from root is answered
    # (the control); the same bytes from uid nptest - which can reach the
    # socket only with CAP_DAC_OVERRIDE - must get no answer.
    setpriv = shutil.which('setpriv')
    if not setpriv:
        raise SkipCheck('no setpriv (util-linux)')
    blob = capture_handshake(env, 'r-capture')
    env.server('r-peer', '--policy', 'everyone', '--mode', 'whoami')
    path = env.socket_path('r-peer')
    s = raw_connect(path)
    try:
        s.sendall(blob)
        rep = b''
        while len(rep) < 36:
            d = s.recv(36 - len(rep))
            expect(d, 'root replay: the broker closed after %s' % show(rep))
            rep += d
        expect(rep[:8] == b'\x00\x00\x00\x20NPAM', 'root replay: reply %s' % show(rep))
        s.sendall(len(b'who').to_bytes(2, 'little') + b'who')
        hdr = s.recv(2)
        n = int.from_bytes(hdr, 'little')
        line = b''
        while len(line) < n:
            d = s.recv(n - len(line))
            expect(d, 'root replay: no whoami reply')
            line += d
        expect(parse_whoami(line).get('user') == USER, 'root replay: %s' % show(line))
    finally:
        s.close()
    bfile = os.path.join(env.root, 'handshake.bin')
    with open(bfile, 'wb') as f:
        f.write(blob)
    os.chmod(env.root, 0o755)   # the unprivileged peer reads the blob and runs python
    os.chmod(bfile, 0o644)
    r = subprocess.run([setpriv, '--reuid=%d' % env.uid, '--regid=%d' % env.gid,
                        '--clear-groups', '--inh-caps=+dac_override',
                        '--ambient-caps=+dac_override', sys.executable, '-c', PEER_SCRIPT,
                        path, bfile],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    os.chmod(env.root, 0o700)
    out = r.stdout.decode(errors='replace').strip()
    if 'connect-failed' in out or not out.startswith('uid=%d ' % env.uid):
        raise SkipCheck('cannot connect as uid %d with CAP_DAC_OVERRIDE: %s'
                        % (env.uid, out.splitlines()[-1] if out else 'no output'))
    print('# only-root-peers: the replay as uid %d: %s' % (env.uid, out))
    expect(out == 'uid=%d eof got=' % env.uid,
           'a non-root peer was answered or kept: %s' % out)



@check('slow-reader-does-not-stall-others')
def _(env):
    # A asks for 4 MiB and reads none of it for now: the relay must hold
    # back A's connection only (relay.c: "a peer that stops reading holds
    # back its own connection and nothing else"); B is served meanwhile,
    # and A then gets all of it
    env.server('r-slow', '--policy', 'everyone', '--mode', 'burst')
    env.server('r-fast', '--policy', 'everyone')
    a, b = env.client(), env.client()
    try:
        fa = a.open('r-slow')
        st, _ = a.write(fa, b'64 65535')
        expect(st == 0, 'client A write: %s' % stname(st))
        fb = b.open('r-fast')
        for i in range(20):
            echo_round(b, fb, b'fast-%d' % i, 'client B while A does not read')
        read_burst(a, fa, 64, SMB_MAX_MSG, 'client A, late')
    finally:
        a.logoff()
        b.logoff()


@check('stress-8-clients-x100')
def _(env):
    n, rounds = 8, 100
    env.server('r-stress', '--policy', 'everyone', '--instances', str(n))
    errors = []

    def worker(i):
        try:
            c = env.client()
            try:
                fid = c.open('r-stress')
                for k in range(rounds):
                    msg = b'w%d-%d-' % (i, k) + bytes([97 + (i + k) % 26]) * (k * 37 % 3000)
                    st, _ = c.write(fid, msg)
                    if st != 0:
                        raise Fail('worker %d round %d write: %s' % (i, k, stname(st)))
                    st, data = c.read(fid)
                    if st != 0 or data != b'echo:' + msg:
                        raise Fail('worker %d round %d: %s %s' % (i, k, stname(st), show(data)))
            finally:
                c.logoff()
        except Exception as e:
            errors.append(str(e) or type(e).__name__)
    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    expect(not any(t.is_alive() for t in threads), 'a worker still runs after 120 s')
    expect(not errors, '%d worker(s) failed: %s' % (len(errors), '; '.join(errors[:3])))



def err_code(e):
    """The NTSTATUS of an impacket exception (either class), else its text."""
    for m in ('getErrorCode', 'get_error_code'):
        if hasattr(e, m):
            return getattr(e, m)()
    return '%s: %s' % (type(e).__name__, e)


@check('zero-length-client-write-dropped')
def _(env):
    # smbd drops an empty WRITE (samba.md 1.3): the server never sees an
    # empty message, and the next message is the next thing it reads
    p = env.server('r-zero', '--policy', 'everyone')
    c = env.client()
    try:
        fid = c.open('r-zero')
        st, n = c.write(fid, b'')
        print('# zero-length-client-write-dropped: empty WRITE: %s, count %d' % (stname(st), n))
        echo_round(c, fid, b'after-empty', 'the message after the empty write')
    finally:
        c.logoff()
    with open(env.server_log(p)) as f:
        text = f.read()
    expect('read 0 bytes' not in text, 'the server read an empty message')


@check('handle-operations-smbd-refuses')
def _(env):
    # SetNamedPipeHandleState, PeekNamedPipe and WaitNamedPipe do not reach
    # the broker: smbd 4.17 refuses them (docs/remote.md), and the pipe
    # stays usable afterwards
    env.server('r-handleops', '--policy', 'everyone')
    c = env.client()
    try:
        fid = c.open('r-handleops')
        got = {}
        try:
            # FilePipeInformation (23): ReadMode message, CompletionMode queue
            c.s.setInfo(c.tid, fid, inputBlob=(1).to_bytes(4, 'little') + bytes(4),
                        infoType=s3.SMB2_0_INFO_FILE, fileInfoClass=23)
            got['set-info'] = 0
        except Exception as e:
            got['set-info'] = err_code(e)
        got['peek'], _ = c.transceive(fid, b'', 1024, ctl=s3.FSCTL_PIPE_PEEK)
        try:
            c.s.waitNamedPipe(c.tid, 'r-handleops', timeout=1)
            got['wait'] = 0
        except Exception as e:
            got['wait'] = err_code(e)
        print('# handle-operations-smbd-refuses: %s' % ', '.join(
            '%s %s' % (k, stname(v) if isinstance(v, int) else v) for k, v in got.items()))
        expect(got['set-info'] == nt_errors.STATUS_NOT_SUPPORTED,
               'SET_INFO FilePipeInformation: %s, expected STATUS_NOT_SUPPORTED'
               % got['set-info'])
        expect(got['peek'] == nt_errors.STATUS_FS_DRIVER_REQUIRED,
               'FSCTL_PIPE_PEEK: %s, expected STATUS_FS_DRIVER_REQUIRED' % stname(got['peek']))
        expect(got['wait'] == nt_errors.STATUS_FS_DRIVER_REQUIRED,
               'FSCTL_PIPE_WAIT: %s, expected STATUS_FS_DRIVER_REQUIRED'
               % (stname(got['wait']) if isinstance(got['wait'], int) else got['wait']))
        echo_round(c, fid, b'still-usable', 'the pipe after the refused operations')
    finally:
        c.logoff()



@check('socket-removed-with-last-instance')
def _(env):
    p = env.server('r-gone', '--policy', 'everyone', '--instances', '2')
    path = env.socket_path('r-gone')
    c = env.client()
    try:
        fid = c.open('r-gone')
        echo_round(c, fid, b'alive')
        c.close(fid)
    finally:
        c.logoff()
    env.stop(p)
    expect(wait_until(lambda: not os.path.lexists(path), 10.0),
           'the socket %s is still there 10 s after its server exited' % path)
    c = env.client()
    try:
        fid, st = c.try_open('r-gone')
        expect(fid is None and st == nt_errors.STATUS_OBJECT_NAME_NOT_FOUND,
               'open after the server exited: %s' % ('succeeded' if fid else stname(st)))
    finally:
        c.logoff()


@check('socket-present-when-create-returns')
def _(env):
    # every server above was checked right after its npipe_create returned
    expect(env.sockets_checked > 0, 'no server got far enough to be checked')
    expect(not env.late_sockets, 'the socket appeared only after npipe_create returned for: '
           + ', '.join(env.late_sockets))


@check('queued-open-waits-past-30s')
def _(env):
    # The interface: "if no instance is free, the broker still accepts and
    # the client's data waits until an instance frees up".  The relay gives
    # up after NP_REMOTE_BUSY_WAIT_MS (30 s, src/broker/limits.h); this holds
    # the only instance for 35 s.  Last, as it takes that long.
    env.server('r-q35', '--policy', 'everyone', '--instances', '1')
    a, b = env.client(), env.client()
    try:
        fa = a.open('r-q35')
        echo_round(a, fa, b'holder', 'client A')
        fb, st = b.try_open('r-q35')
        expect(fb is not None, 'the waiting open failed: %s' % stname(st))
        st, _ = b.write(fb, b'patient')
        expect(st == 0, 'client B write: %s' % stname(st))
        # A holds the instance for 35 s.  The sleep is the point of the check
        # (a duration), not a synchronisation: nothing is waited for.  A
        # talks once a second meanwhile to show it still has the instance;
        # B's READ goes out only afterwards, so impacket's timeout stays short.
        deadline = time.monotonic() + 35.0
        while time.monotonic() < deadline:
            echo_round(a, fa, b'still-mine', 'client A while B waits')
            time.sleep(1.0)
        a.close(fa)
        st, data = b.read(fb)
        expect(st == 0 and data == b'echo:patient',
               'client B after a 35 s wait: %s %s' % (stname(st), show(data)))
    finally:
        a.logoff()
        b.logoff()


# ---- the client side: npipe programs opening \\HOST\pipe\NAME (issue 14) ----

def smb_client_env(env):
    """The environment of a program that opens remote pipes: the test
    account's credentials, smbd's port, the module.  Under ASan, full stack
    unwinding on malloc, so that tests/lsan.supp can name the third-party
    library whose allocations leak (gss-ntlmssp's, deep below ours)."""
    e = env.env()
    e.update({'NPIPE_SMB_USER': USER, 'NPIPE_SMB_PASSWORD': PASSWORD,
              'NPIPE_SMB_PORT': str(env.port), 'NPIPE_SMB_MODULE': env.args.smb_module})
    if e.get('ASAN_OPTIONS'):
        e['ASAN_OPTIONS'] += ':fast_unwind_on_malloc=0'
    return e


def run_client(env, scenario, name, extra=None, timeout=90):
    r"""remote_client SCENARIO \\127.0.0.1\pipe\NAME with the test account's
    credentials in the environment; Fail with its failed steps."""
    if not env.args.client or not env.args.smb_module:
        raise SkipCheck('the libnpipe-smb module was not built')
    e = smb_client_env(env)
    e.update(extra or {})
    path = '\\\\%s\\pipe\\%s' % (HOST, name)
    try:
        p = subprocess.run([env.args.client, scenario, path], env=e, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Fail('remote_client %s did not end within %d s' % (scenario, timeout))
    out = p.stdout.decode('utf-8', 'replace')
    bad = [l for l in out.splitlines() if l.startswith('not ok')]
    expect(p.returncode == 0 and 'PASS' in out,
           'remote_client %s: exit %d: %s' % (scenario, p.returncode,
                                             ' | '.join(bad or out.splitlines()[-5:])))
    return out


@check('client-echo')
def _(env):
    env.server('c-echo', '--policy', 'everyone')
    run_client(env, 'echo', 'c-echo')


@check('client-transact-overflow')
def _(env):
    env.server('c-trover', '--policy', 'everyone')
    run_client(env, 'overflow', 'c-trover')


@check('client-several-handles')
def _(env):
    env.server('c-multi', '--policy', 'everyone', '--instances', '3')
    run_client(env, 'handles', 'c-multi')


@check('client-server-close')
def _(env):
    env.server('c-close', '--policy', 'everyone', '--mode', 'close-after-one')
    run_client(env, 'server-close', 'c-close')


@check('client-win32')
def _(env):
    env.server('c-w32', '--policy', 'everyone')
    run_client(env, 'win32', 'c-w32')


@check('client-unknown-pipe')
def _(env):
    run_client(env, 'expect-ENOENT', 'npipe-no-such-pipe')


@check('client-wrong-password')
def _(env):
    env.server('c-pw', '--policy', 'everyone')
    run_client(env, 'expect-ELOGON', 'c-pw', {'NPIPE_SMB_PASSWORD': 'not-the-password'})


@check('client-no-server')
def _(env):
    # a port where nothing listens: refused at once
    run_client(env, 'expect-ENETPATH', 'c-none', {'NPIPE_SMB_PORT': str(free_port())})


@check('client-no-leak')
def _(env):
    env.server('c-leak', '--policy', 'everyone')
    run_client(env, 'no-leak', 'c-leak')


def smbd_serving(port, client_pid):
    """The smbd process at the other end of client_pid's connection to
    port (from ss: the client's local port, then the server socket with
    that peer), or None."""
    out = subprocess.run(['ss', '-tnpH', 'state', 'established'], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, timeout=10).stdout.decode()
    mine = None
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 4 and f[3].endswith(':%d' % port) and 'pid=%d,' % client_pid in line:
            mine = f[2].rsplit(':', 1)[1]
    for line in out.splitlines():
        f = line.split()
        if (mine and len(f) >= 5 and f[2].endswith(':%d' % port)
                and f[3].endswith(':' + mine) and 'pid=' in line):
            return int(line.split('pid=')[1].split(',')[0])
    return None


@check('client-connection-drop')
def _(env):
    # The smbd serving the client is killed while the client waits in a
    # read: the read ends with NPIPE_ENETLOST (no hang), and a new open
    # makes a new connection.
    if not env.args.client or not env.args.smb_module:
        raise SkipCheck('the libnpipe-smb module was not built')
    env.server('c-drop', '--policy', 'everyone')
    p = subprocess.Popen([env.args.client, 'drop', '\\\\%s\\pipe\\c-drop' % HOST],
                         env=smb_client_env(env), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines = []
    try:
        for raw in p.stdout:
            line = raw.decode(errors='replace').rstrip('\n')
            lines.append(line)
            if line.startswith('READY '):
                break
        expect(lines and lines[-1].startswith('READY '),
               'remote_client drop never got ready: %s' % ' | '.join(lines[-5:]))
        victim = smbd_serving(env.port, p.pid)
        expect(victim is not None, 'no smbd process found for the client (ss -tnp)')
        os.kill(victim, signal.SIGKILL)
        rest, _ = p.communicate(timeout=60)
        lines += rest.decode(errors='replace').splitlines()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    bad = [l for l in lines if l.startswith('not ok')]
    expect(p.returncode == 0 and 'PASS' in lines,
           'remote_client drop: exit %s: %s' % (p.returncode, ' | '.join(bad or lines[-5:])))


@check('client-cli-send-cat')
def _(env):
    # npipe cat of a server that greets (22 messages, then stays): each
    # message on a line of its own; npipe send of two messages to an echo
    # server, which logs each as one message
    if not env.args.smb_module:
        raise SkipCheck('the libnpipe-smb module was not built')
    env.server('c-greet', '--policy', 'everyone', '--dir', 'outbound', '--mode', 'greet')
    e = smb_client_env(env)
    p = subprocess.run([env.args.npipe_cli, 'cat', '--count', '22',
                        '\\\\%s\\pipe\\c-greet' % HOST], env=e, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    want = [b'greeting'] + [b'm%02d' % k for k in range(20)] + [b'bye']
    expect(p.returncode == 0 and p.stdout.split(b'\n')[:-1] == want,
           'npipe cat: exit %d, out %r, err %r' % (p.returncode, p.stdout[:200], p.stderr[-300:]))
    srv = env.server('c-send', '--policy', 'everyone')
    p = subprocess.run([env.args.npipe_cli, 'send', '\\\\%s\\pipe\\c-send' % HOST, 'first',
                        'second'], env=e, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    expect(p.returncode == 0, 'npipe send: exit %d, err %r' % (p.returncode, p.stderr[-300:]))
    log = env.server_log(srv)
    expect(wait_until(lambda: 'message: second' in open(log).read(), 10.0)
           and 'message: first' in open(log).read(),
           'the server did not log both messages: %s' % ' | '.join(tail(log, 5)))


@check('client-loopback-is-remote')
def _(env):
    # covers: NAME-14 (\\127.0.0.1\pipe\x goes through SMB and counts as
    # a remote client: a pipe that rejects remote clients is not there for
    # it, while the local name reaches it)
    env.server('c-local-only', '--policy', 'everyone', '--reject-remote')
    run_client(env, 'expect-ENOENT', 'c-local-only')
    r = env.cli('call', 'c-local-only', 'local')
    expect(r.returncode == 0 and r.stdout.strip() == b'echo:local',
           'the local call: exit %d, %r' % (r.returncode, r.stdout))


@check('client-cli-call')
def _(env):
    if not env.args.smb_module:
        raise SkipCheck('the libnpipe-smb module was not built')
    env.server('c-cli', '--policy', 'everyone')
    e = smb_client_env(env)
    p = subprocess.run([env.args.npipe_cli, 'call', '\\\\%s\\pipe\\c-cli' % HOST, 'hi'], env=e,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    expect(p.returncode == 0 and p.stdout.strip() == b'echo:hi',
           'npipe call: exit %d, out %r, err %r' % (p.returncode, p.stdout, p.stderr[-300:]))


# ---- main -----------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--npiped', required=True)
    ap.add_argument('--server', required=True, help='the remote_server binary')
    ap.add_argument('--npipe-cli', required=True, help='the npipe command (src/cli)')
    ap.add_argument('--conf-in', required=True, help='smb.conf.in')
    ap.add_argument('--client', default='', help='the remote_client binary (client checks)')
    ap.add_argument('--smb-module', default='', help='libnpipe-smb.so.0 (client checks)')
    ap.add_argument('--port', type=int, default=None)
    ap.add_argument('--keep', action='store_true', help='keep the temporary directory')
    ap.add_argument('--only', default='', help='comma-separated check names')
    ap.add_argument('-v', '--verbose', action='store_true', help='print log tails always')
    args = ap.parse_args()
    args.port_given = args.port is not None
    if args.port is None:
        args.port = DEFAULT_PORT
    for path in (args.npiped, args.server, args.npipe_cli):
        if not os.access(path, os.X_OK):
            print('remote_test: %s is not executable' % path, file=sys.stderr)
            return 1

    env = Env(args)
    atexit.register(env.cleanup)
    # meson's timeout sends SIGTERM: end through the finally below
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))

    only = set(filter(None, args.only.split(',')))
    failed = []
    try:
        env.setup()
        print('# smbd on %s:%d, np dir %s, broker %s' % (HOST, env.port, env.np_dir,
                                                        'ready' if env.broker_ok else 'NOT ready'))
        t0 = time.monotonic()
        for name, fn in CHECKS:
            if only and name not in only:
                continue
            if time.monotonic() - t0 > BUDGET:
                failed.append(name)
                print('not ok - %s: not run, the time budget (%d s) is used up' % (name, BUDGET))
                continue
            try:
                fn(env)
                print('ok - %s' % name)
            except SkipCheck as e:
                print('ok - %s # SKIP %s' % (name, e))
            except Fail as e:
                failed.append(name)
                print('not ok - %s: %s' % (name, e))
            except SessionError as e:
                failed.append(name)
                print('not ok - %s: SMB error %s' % (name, stname(e.getErrorCode())))
            except Exception as e:
                failed.append(name)
                tb = traceback.extract_tb(e.__traceback__)[-1]
                print('not ok - %s: %s: %s (at line %d)' % (name, type(e).__name__, e, tb.lineno))
            sys.stdout.flush()
        if env.broker_ok and env.broker.poll() is not None:
            failed.append('broker-alive')
            print('not ok - broker-alive: npiped exited with %s during the checks'
                  % env.broker.poll())
        if failed or args.verbose:
            for desc, log in env.procs.logs():
                print('# --- %s: %s' % (desc, log))
                for line in tail(log, 25):
                    print('#   ' + line)
    finally:
        env.cleanup(keep_logs=bool(failed))
    total = len([n for n, _ in CHECKS if not only or n in only])
    print('# %d check(s), %d failed%s' % (total, len(failed),
                                          (': ' + ', '.join(failed)) if failed else ''))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
