#!/usr/bin/python3
"""test_win32_remote.py - the Win32 layer's view of a remote (SMB) client.

Uses the environment of tests/remote/remote_test.py (a private smbd on
127.0.0.1, the test account nptest, a private broker with
--samba-np-dir; imported from there, so the set-up and its skips are the
same: exit 77 without root, smbd or impacket) and runs w32_remote_server,
a server written against <npipe/windows.h>.  One SMB client logs in as
nptest, opens the pipe, sends a message and checks the server's report:

  * GetNamedPipeClientComputerName gives the client's IP address (Samba
    passes no computer name), A and W, and ERROR_INSUFFICIENT_BUFFER for a
    buffer one byte short (INFO-13);
  * GetNamedPipeHandleState names the SMB account, A and W (MODE-09);
  * ImpersonateNamedPipeClient makes the impersonating thread - only it -
    the unix account Samba mapped nptest to, RevertToSelf makes it root
    again (SEC-07, SEC-13).

covers: INFO-13, MODE-09, SEC-07, SEC-13

Usage (meson passes these):
  /usr/bin/python3 test_win32_remote.py --remote-dir DIR --server PATH
                                        --npiped PATH --conf-in smb.conf.in
"""
import argparse
import atexit
import os
import signal
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--remote-dir', required=True, help='tests/remote (remote_test.py)')
    ap.add_argument('--server', required=True, help='the w32_remote_server binary')
    ap.add_argument('--npiped', required=True)
    ap.add_argument('--conf-in', required=True, help='tests/remote/smb.conf.in')
    ap.add_argument('--port', type=int, default=None)
    ap.add_argument('--keep', action='store_true', help='keep the temporary directory')
    args = ap.parse_args()
    sys.path.insert(0, args.remote_dir)
    sys.dont_write_bytecode = True  # no __pycache__ in the source tree
    import remote_test as rt  # skips (77) here when the environment cannot run it

    args.port_given = args.port is not None
    if args.port is None:
        args.port = rt.DEFAULT_PORT
    args.npipe_cli = '/bin/false'  # not used by these checks
    env = rt.Env(args)
    atexit.register(env.cleanup)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))

    failed = []

    def expect(name, cond, detail):
        if cond:
            print('ok - %s' % name)
        else:
            failed.append(name)
            print('not ok - %s: %s' % (name, detail))
        sys.stdout.flush()

    try:
        env.setup()
        if not env.broker_ok:
            print('not ok - broker: %s' % env.broker_detail)
            return 1
        env.server('w32who')
        c = env.client()
        try:
            fid = c.open('w32who')
            st, n = c.write(fid, b'who')
            expect('write', st == 0 and n == 3, 'write: %s %s' % (rt.stname(st), n))
            st, data = c.read(fid)
            expect('read', st == 0, 'read: %s' % rt.stname(st))
        finally:
            c.logoff()
        line = data.decode('utf-8', 'replace')
        print('# server: %s' % line)
        r = dict(kv.split('=', 1) for kv in line.split() if '=' in kv)
        expect('computer-name-is-the-address', r.get('addr') == rt.HOST,
               'GetNamedPipeClientComputerNameA: %r, want %r' % (r.get('addr'), rt.HOST))
        expect('computer-name-w', r.get('addrw') == rt.HOST,
               'GetNamedPipeClientComputerNameW: %r' % r.get('addrw'))
        expect('computer-name-short-buffer', r.get('short') == '122',
               'one byte short: %r, want ERROR_INSUFFICIENT_BUFFER (122)' % r.get('short'))
        expect('user-name-is-the-smb-account', r.get('user') == rt.USER,
               'GetNamedPipeHandleStateA: %r, want %r' % (r.get('user'), rt.USER))
        expect('user-name-w', r.get('userw') == rt.USER,
               'GetNamedPipeHandleStateW: %r' % r.get('userw'))
        expect('client-pid-zero', r.get('pid') == '0', 'remote client pid %r' % r.get('pid'))
        expect('impersonate', r.get('imp') == '1', 'ImpersonateNamedPipeClient: %r' % r.get('imp'))
        expect('impersonate-uid-gid',
               r.get('euid') == str(env.uid) and r.get('egid') == str(env.gid),
               'impersonating thread euid/egid %s/%s, want %d/%d (nptest)'
               % (r.get('euid'), r.get('egid'), env.uid, env.gid))
        expect('impersonate-this-thread-only', r.get('other') == '0',
               'the other thread\'s euid: %r' % r.get('other'))
        expect('revert', r.get('revert') == '1' and r.get('after') == '0',
               'RevertToSelf: %r, euid after %r' % (r.get('revert'), r.get('after')))
    except rt.Fail as e:
        failed.append('setup')
        print('not ok - setup: %s' % e)
    except rt.SessionError as e:
        failed.append('smb')
        print('not ok - smb: %s' % rt.stname(e.getErrorCode()))
    finally:
        if failed:
            for desc, log in env.procs.logs():
                print('# --- %s: %s' % (desc, log))
                for ln in rt.tail(log, 25):
                    print('#   ' + ln)
        env.cleanup(keep_logs=bool(failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
