#!/usr/bin/python3
r"""remote_rtt.py - npipe's SMB client against python3-impacket's, same run.

Measures the round-trip time of small calls on a remote pipe
\\127.0.0.1\pipe\NAME: npipe's client (bench/remote_rtt, the public API
through the libnpipe-smb module) and impacket's (SMBConnection), against the
same echo server (tests/remote/remote_server, an npipe server that answers
"echo:" + the message) behind a private smbd and broker.  The set-up is
tests/remote/remote_test.py's, imported: a private smbd on 127.0.0.1 (a free
port), the test account nptest, a private `npiped --samba-np-dir`, all under
one temporary directory and all stopped by PID at the end.

Three kinds of call, each with the same message (--size, 64 bytes) and count:
  transact             TransactNamedPipe (SMB2 IOCTL FSCTL_PIPE_TRANSCEIVE):
                       npipe_transact / SMBConnection.transactNamedPipe
  write-read           SMB2 WRITE then SMB2 READ: npipe_write + npipe_read /
                       writeFile + readFile
  open-transact-close  a new handle per call on a shared connection: npipe_open
                       + npipe_transact + npipe_close / openFile +
                       transactNamedPipe + closeFile (one handle stays open
                       meanwhile in both, so the connection is kept)

Each client times every call (CLOCK_MONOTONIC in C, time.perf_counter_ns in
Python), after --warmup untimed calls, on a connection of its own made for
that run.  The runs are interleaved: --rounds rounds, every kind in each, the
two clients next to each other and in alternating order.  The table pools
every round's samples: median, p10, p90, mean in microseconds, the spread of
the per-round medians, and the ratio impacket / npipe of the medians.

Dialect: SMB 3.0 for both by default, not 3.1.1, because Debian's
python3-impacket (0.10.0) cannot use 3.1.1: its TREE_CONNECT is refused
with STATUS_ACCESS_DENIED (the 3.1.1 preauth hash is not set up at login,
fortra/impacket#1370, fixed after 0.10.0 by #1373).  A row "npipe 3.1.1"
(npipe's own default dialect) is added for reference; --dialect 3.1.1 asks
both for 3.1.1 (for a fixed impacket).  The first table is neither signed
nor encrypted: on 3.0 impacket signs only when the server requires it (this
smbd does not) and npipe likewise, but impacket encrypts whenever the server
can, so its encryption is switched off after the negotiation and before the
login for this table.  --encrypt adds a second table with both encrypting
(NPIPE_SMB_ENCRYPT=1; impacket's default): AES-128-CCM for both on 3.0,
AES-128-GCM (npipe's first choice) for the "npipe 3.1.1" row.  Before each
table, every row's client asks a second server (remote_server --mode whoami)
whether smbd saw its session encrypted, and the run stops if not as asked.

Exit 77 (skipped) when not root, without /usr/sbin/smbd or smbpasswd, or when
/usr/bin/python3 has no impacket; 1 when a run fails (a wrong reply, a client
error); 0 otherwise.  Synchronisation is an event with a deadline (the
readiness descriptors and port checks of remote_test.py, subprocess and
socket timeouts), never a sleep.

Usage (make bench-remote runs it on $(BUILD)):
  sudo /usr/bin/python3 bench/remote_rtt.py [--build DIR] [--encrypt]
       [--dialect 3.0|3.1.1] [--no-ref] [--rounds 5] [--count 800]
       [--oc-count 150] [--warmup 50] [--size 64]
       [--modes transact,write-read,open-transact-close] [--keep] [-v]
"""
import argparse
import atexit
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PIPE = 'npipe-rtt'
WHO = 'npipe-rtt-who'  # a whoami server: what smbd says of a session
MODES = ('transact', 'write-read', 'open-transact-close')
RUN_TIMEOUT = 60  # seconds for one client run


def skip(msg):
    print('SKIP: remote_rtt: ' + msg, file=sys.stderr)
    sys.exit(SKIP)


# the same conditions as remote_test.py, said here first in our own words
if os.geteuid() != 0:
    skip('needs root (smbd, useradd and the samba np directory need it)')
for tool, pkg in (('/usr/sbin/smbd', 'samba'), ('/usr/bin/smbpasswd', 'samba-common-bin')):
    if not os.access(tool, os.X_OK):
        skip('%s is missing (apt-get install %s)' % (tool, pkg))
try:
    from impacket import smb3structs as s3
    from impacket.smbconnection import SMBConnection
except ImportError as e:
    skip('impacket is not importable by %s (%s); apt-get install python3-impacket and run '
         'with /usr/bin/python3' % (sys.executable, e))

sys.path.insert(0, os.path.join(REPO, 'tests', 'remote'))
import remote_test as rt  # noqa: E402  (the smbd, broker and server set-up)


# ---- the two clients --------------------------------------------------------

DIALECTS = {'3.0': s3.SMB2_DIALECT_30, '3.1.1': s3.SMB2_DIALECT_311}


def npipe_env(env, args, encrypt, dialect):
    e = env.env()
    e.update({'NPIPE_SMB_USER': rt.USER, 'NPIPE_SMB_PASSWORD': rt.PASSWORD,
              'NPIPE_SMB_PORT': str(env.port), 'NPIPE_SMB_MODULE': args.smb_module,
              'NPIPE_SMB_MAX_DIALECT': dialect})
    e.pop('NPIPE_SMB_SIGN', None)
    e.pop('NPIPE_SMB_ENCRYPT', None)
    if encrypt:
        e['NPIPE_SMB_ENCRYPT'] = '1'
    return e


def npipe_run(env, args, mode, count, encrypt, dialect, label):
    """One run of bench/remote_rtt: the samples in ns."""
    e = npipe_env(env, args, encrypt, dialect)
    with tempfile.NamedTemporaryFile(prefix='rtt-', suffix='.ns', dir=env.root) as f:
        cmd = [args.client, '--mode', mode, '--count', str(count), '--warmup', str(args.warmup),
               '--size', str(args.size), '--samples', f.name,
               '\\\\%s\\pipe\\%s' % (rt.HOST, PIPE)]
        try:
            p = subprocess.run(cmd, env=e, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise rt.Fail('remote_rtt --mode %s did not end within %d s' % (mode, RUN_TIMEOUT))
        out = p.stdout.decode('utf-8', 'replace').strip()
        if p.returncode != 0:
            raise rt.Fail('remote_rtt --mode %s: exit %d: %s' % (mode, p.returncode, out))
        if args.verbose:
            print('#   %s: %s' % (label, out))
        return [int(line) for line in f.read().split()]


class Impacket:
    """One SMBConnection with IPC$ and one open handle on the pipe."""

    def __init__(self, env, encrypt, dialect, pipe=PIPE):
        want = DIALECTS[dialect]
        self.conn = SMBConnection(rt.HOST, rt.HOST, sess_port=env.port, timeout=rt.SMB_TIMEOUT,
                                  preferredDialect=want)
        s = self.conn.getSMBServer()
        if not encrypt:
            # impacket encrypts whenever the server announces encryption
            s._Connection['SupportsEncryption'] = False
        self.conn.login(rt.USER, rt.PASSWORD)
        enc = bool(s._Session['SessionFlags'] & s3.SMB2_SESSION_FLAG_ENCRYPT_DATA)
        if enc != encrypt or s._Connection['Dialect'] != want:
            raise rt.Fail('impacket: dialect 0x%x, encrypting %s (wanted %s, %s)'
                          % (s._Connection['Dialect'], enc, dialect, encrypt))
        self.signing = s._Session['SigningActivated']
        try:
            self.tid = self.conn.connectTree('IPC$')
        except rt.SessionError as e:
            if dialect == '3.1.1' and e.getErrorCode() == rt.nt_errors.STATUS_ACCESS_DENIED:
                raise rt.Fail('impacket cannot use SMB 3.1.1 here: TREE_CONNECT is refused '
                              '(fortra/impacket#1370, fixed after 0.10.0); use --dialect 3.0')
            raise
        self.fid = self.conn.openFile(self.tid, '\\' + pipe)

    def close(self):
        for step in (lambda: self.conn.closeFile(self.tid, self.fid), self.conn.logoff,
                     self.conn.close):
            try:
                step()
            except Exception:
                pass


def impacket_run(env, args, mode, count, encrypt, dialect):
    """One run of impacket's client, as remote_rtt does it: the samples in ns."""
    c = Impacket(env, encrypt, dialect)
    try:
        conn, tid, fid = c.conn, c.tid, c.fid
        msg = bytes(ord('a') + i % 26 for i in range(args.size))
        want = b'echo:' + msg
        cap = args.size + 64
        name = '\\' + PIPE
        if mode == 'transact':
            def one():
                return conn.transactNamedPipe(tid, fid, msg)
        elif mode == 'write-read':
            def one():
                conn.writeFile(tid, fid, msg)
                return conn.readFile(tid, fid, 0, cap)
        else:
            def one():
                f = conn.openFile(tid, name)
                r = conn.transactNamedPipe(tid, f, msg)
                conn.closeFile(tid, f)
                return r
        for _ in range(args.warmup):
            if one() != want:
                raise rt.Fail('impacket %s: a wrong reply' % mode)
        t = [0] * count
        clock = time.perf_counter_ns
        start = clock()
        for i in range(count):
            t0 = clock()
            r = one()
            t[i] = clock() - t0
            if r != want:
                raise rt.Fail('impacket %s: a wrong reply (%d bytes)' % (mode, len(r)))
        wall = clock() - start
        if args.verbose:
            s = sorted(t)
            print('#   impacket: %s %d B x %d: median %.1f us, %.0f/s'
                  % (mode, args.size, count, s[count // 2] / 1e3, count * 1e9 / wall))
        return t
    finally:
        c.close()


# ---- statistics and the table ------------------------------------------------

def quantile(s, q):
    """The q-quantile of sorted s, interpolated (as remote_rtt.c does)."""
    pos = q * (len(s) - 1)
    i = int(pos)
    f = pos - i
    return s[i] * (1 - f) + s[i + 1] * f if i + 1 < len(s) else s[-1]


def summary(runs):
    """runs: one list of ns per round."""
    s = sorted(x for r in runs for x in r)
    meds = [statistics.median(r) for r in runs]
    return {'median': quantile(s, 0.5) / 1e3, 'p10': quantile(s, 0.1) / 1e3,
            'p90': quantile(s, 0.9) / 1e3, 'mean': sum(s) / len(s) / 1e3,
            'max': s[-1] / 1e3, 'rmin': min(meds) / 1e3, 'rmax': max(meds) / 1e3, 'n': len(s)}


def table(title, results, rows, modes):
    print()
    print(title)
    cols = '%-20s %-12s %8s %8s %8s %8s %8s %17s %9s'
    print(cols % ('call', 'client', 'median', 'p10', 'p90', 'mean', 'max', 'round medians',
                  'impacket/'))
    print(cols % ('', '', 'us', 'us', 'us', 'us', 'us', 'us', 'this'))
    print('-' * 100)
    for mode in modes:
        imp = summary(results[(mode, 'impacket')])
        for client in rows:
            s = summary(results[(mode, client)])
            ratio = '%.2f' % (imp['median'] / s['median']) if client != 'impacket' else ''
            print('%-20s %-12s %8.1f %8.1f %8.1f %8.1f %8.0f %8.1f..%-7.1f %9s' % (
                mode, client, s['median'], s['p10'], s['p90'], s['mean'], s['max'], s['rmin'],
                s['rmax'], ratio))
    print('(samples per row: %s; the ratio is of the medians)' % ', '.join(
        '%s %d' % (m, summary(results[(m, 'impacket')])['n']) for m in modes))


def whoami_fields(line):
    return dict(kv.split('=', 1) for kv in line.split() if '=' in kv)


def verify(env, args, encrypt, rows):
    """What smbd says of each row's session (remote_server --mode whoami
    reports NPIPE_REMOTE_ENCRYPTED): the encryption asked for, or Fail."""
    seen = []
    for client in rows:
        if client == 'impacket':
            c = Impacket(env, encrypt, args.dialect, WHO)
            try:
                line = c.conn.transactNamedPipe(c.tid, c.fid, b'who').decode(errors='replace')
            finally:
                c.close()
        else:
            dialect = '3.1.1' if client == 'npipe 3.1.1' else args.dialect
            p = subprocess.run([args.npipe_cli, 'call', '\\\\%s\\pipe\\%s' % (rt.HOST, WHO),
                                'who'], env=npipe_env(env, args, encrypt, dialect),
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=RUN_TIMEOUT)
            if p.returncode != 0:
                raise rt.Fail('npipe call %s: exit %d: %s' % (
                    WHO, p.returncode, p.stderr.decode(errors='replace').strip()))
            line = p.stdout.decode(errors='replace')
        f = whoami_fields(line)
        if f.get('encrypted') != ('1' if encrypt else '0') or f.get('user') != rt.USER:
            raise rt.Fail('%s: smbd says %s (wanted user=%s encrypted=%d)'
                          % (client, line.strip(), rt.USER, encrypt))
        seen.append('%s encrypted=%s' % (client, f['encrypted']))
    print('# smbd saw: ' + ', '.join(seen))


def measure(env, args, encrypt, modes):
    """Every round: every mode, the clients next to each other, alternating."""
    rows = ['npipe', 'impacket']
    if args.dialect != '3.1.1' and not args.no_ref:
        rows.append('npipe 3.1.1')
    verify(env, args, encrypt, rows)
    results = {(m, c): [] for m in modes for c in rows}
    for rnd in range(args.rounds):
        order = rows if rnd % 2 == 0 else list(reversed(rows))
        for mode in modes:
            count = args.oc_count if mode == 'open-transact-close' else args.count
            for client in order:
                if client == 'impacket':
                    t = impacket_run(env, args, mode, count, encrypt, args.dialect)
                else:
                    t = npipe_run(env, args, mode, count, encrypt,
                                  '3.1.1' if client == 'npipe 3.1.1' else args.dialect, client)
                results[(mode, client)].append(t)
        print('# round %d/%d done (%s)' % (rnd + 1, args.rounds,
                                           'encrypted' if encrypt else 'not encrypted'))
        sys.stdout.flush()
    return rows, results


# ---- main --------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default=os.path.join(REPO, 'build'),
                    help='the meson build directory (default: build)')
    ap.add_argument('--client', help='remote_rtt (default: BUILD/bench/remote_rtt)')
    ap.add_argument('--npiped', help='default: BUILD/src/broker/npiped')
    ap.add_argument('--server', help='remote_server (default: BUILD/tests/remote/remote_server)')
    ap.add_argument('--smb-module', help='default: BUILD/src/smb/libnpipe-smb.so.0')
    ap.add_argument('--npipe-cli', help='default: BUILD/src/cli/npipe')
    ap.add_argument('--encrypt', action='store_true',
                    help='a second table with both clients encrypting')
    ap.add_argument('--dialect', choices=sorted(DIALECTS), default='3.0',
                    help='for both clients (default 3.0: impacket 0.10 fails on 3.1.1)')
    ap.add_argument('--no-ref', action='store_true', help='no "npipe 3.1.1" row')
    ap.add_argument('--rounds', type=int, default=5)
    ap.add_argument('--count', type=int, default=800, help='timed calls per run')
    ap.add_argument('--oc-count', type=int, default=150,
                    help='timed calls per run of open-transact-close')
    ap.add_argument('--warmup', type=int, default=50, help='untimed calls first')
    ap.add_argument('--size', type=int, default=64, help='message bytes (1..1000)')
    ap.add_argument('--modes', default=','.join(MODES))
    ap.add_argument('--keep', action='store_true', help='keep the temporary directory')
    ap.add_argument('-v', '--verbose', action='store_true')
    args = ap.parse_args()
    b = os.path.abspath(args.build)
    args.client = args.client or os.path.join(b, 'bench', 'remote_rtt')
    args.npiped = args.npiped or os.path.join(b, 'src', 'broker', 'npiped')
    args.server = args.server or os.path.join(b, 'tests', 'remote', 'remote_server')
    args.smb_module = args.smb_module or os.path.join(b, 'src', 'smb', 'libnpipe-smb.so.0')
    args.npipe_cli = args.npipe_cli or os.path.join(b, 'src', 'cli', 'npipe')
    modes = [m for m in args.modes.split(',') if m]
    if any(m not in MODES for m in modes) or not modes:
        ap.error('--modes: a comma list of ' + ', '.join(MODES))
    if not 1 <= args.size <= 1000 or args.rounds < 1 or args.count < 1 or args.oc_count < 1:
        ap.error('--size 1..1000, --rounds, --count and --oc-count at least 1')
    for path in (args.client, args.npiped, args.server, args.npipe_cli):
        if not os.access(path, os.X_OK):
            print('remote_rtt: %s is not built (ninja -C %s)' % (path, b), file=sys.stderr)
            return 1
    if not os.path.exists(args.smb_module):
        print('remote_rtt: %s is not built (the SMB module needs GSSAPI and libcrypto)'
              % args.smb_module, file=sys.stderr)
        return 1
    args.smb_module = os.path.abspath(args.smb_module)

    # what remote_test.Env reads of its arguments; a free port, so that a
    # `remote` test running meanwhile keeps 4455
    env = rt.Env(argparse.Namespace(npiped=args.npiped, server=args.server,
                                    conf_in=os.path.join(REPO, 'tests', 'remote', 'smb.conf.in'),
                                    port=rt.free_port(), port_given=False, keep=args.keep))
    atexit.register(env.cleanup)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    ok = False
    t0 = time.monotonic()
    try:
        env.setup()
        if not env.broker_ok:
            raise rt.Fail(env.broker_detail)
        # instances to spare: a closed handle's instance listens again a
        # moment after the CLOSE answer
        env.server(PIPE, '--policy', 'everyone', '--instances', '4')
        env.server(WHO, '--policy', 'everyone', '--mode', 'whoami')
        probe = Impacket(env, False, args.dialect)
        signing = probe.signing
        probe.close()
        print('# smbd %s on %s:%d, echo server %s (4 instances), message %d B, %d round(s), '
              '%d calls per run (open-transact-close %d), %d warm-up; load %.2f %.2f %.2f'
              % (smbd_version(), rt.HOST, env.port, PIPE, args.size, args.rounds, args.count,
                 args.oc_count, args.warmup, *os.getloadavg()))
        print('# SMB %s for both (impacket signs: %s)' % (args.dialect, signing))
        tables = [(False, 'SMB %s, not encrypted: per call, in microseconds' % args.dialect)]
        if args.encrypt:
            tables.append((True, 'SMB %s, encrypted (AES-128-CCM on 3.0, AES-128-GCM on 3.1.1)'
                           % args.dialect))
        out = []
        for encrypt, title in tables:
            rows, results = measure(env, args, encrypt, modes)
            out.append((title, results, rows))
        for title, results, rows in out:
            table(title, results, rows, modes)
        print('# %.1f s in all' % (time.monotonic() - t0))
        ok = True
    except (rt.Fail, rt.SessionError, OSError) as e:
        print('remote_rtt: %s: %s' % (type(e).__name__, e), file=sys.stderr)
        for desc, log in env.procs.logs():
            print('# --- %s: %s' % (desc, log), file=sys.stderr)
            for line in rt.tail(log, 10):
                print('#   ' + line, file=sys.stderr)
    finally:
        env.cleanup(keep_logs=not ok)
    return 0 if ok else 1


def smbd_version():
    try:
        return subprocess.run(['/usr/sbin/smbd', '--version'], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, timeout=10
                              ).stdout.decode().strip().replace('Version ', '')
    except (OSError, subprocess.TimeoutExpired):
        return '?'


if __name__ == '__main__':
    sys.exit(main())
