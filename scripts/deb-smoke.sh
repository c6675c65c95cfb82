#!/bin/sh
# deb-smoke.sh: npipe as the installed Debian packages give it (CI runs this
# after `apt-get install` of libnpipe0, libnpipe-dev, npipe and
# libnpipe-smb0).  Nothing
# from the work tree's builds is used: programs are built with
# `pkg-config --cflags --libs npipe` against /usr, and the broker must be
# /usr/bin/npiped, started by the library by itself.
#   - a small program, run with no environment variables at all (as root,
#     in a mount namespace of its own whose /tmp/npipe-0, root's default
#     runtime directory, is empty: no other broker may answer it)
#   - the examples (examples/*.c, examples/win32/*.c) and their run scripts
#   - npipe --help, --version, serve, wait, list, call, stat
# The last two use a private runtime directory (NPIPE_RUNTIME_DIR) and no
# other variable: the library still starts /usr/bin/npiped by itself.
set -eu
cd "$(dirname "$0")/.."
broker=/usr/bin/npiped
tmp=$(mktemp -d /tmp/npipe-deb-smoke.XXXXXX)
srv=""
cleanup() {
        [ -n "$srv" ] && kill "$srv" 2>/dev/null
        # the broker this run started (it would also leave by itself when idle)
        for p in $(cat "$tmp/brokers" 2>/dev/null); do
                [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$broker" ] && kill "$p" 2>/dev/null
        done
        rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
step() { printf '== %s\n' "$*"; }

step "pkg-config: npipe $(pkg-config --modversion npipe), $(pkg-config --cflags --libs npipe)"
[ "$(pkg-config --modversion npipe)" = "$(make -s --no-print-directory version)" ]
[ -x "$broker" ] && [ -x /usr/bin/npipe ]

cat >"$tmp/smoke.c" <<'EOF'
/* A message-mode echo server in a thread, CallNamedPipe from main, then
 * which broker served us.  argv[1]: the broker program it must be. */
#include <npipe/npipe.h>

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define NAME "\\\\.\\pipe\\npipe-deb-smoke"

static npipe_t *srv;

static void *serve(void *arg)
{
        char buf[256], out[300];
        size_t n = 0, w;
        int r = npipe_listen(srv, 10000);

        (void)arg;
        if (r == NPIPE_EISCONN) /* the client came first (ERROR_PIPE_CONNECTED) */
                r = 0;
        if (r == 0)
                r = npipe_read(srv, buf, sizeof buf, &n);
        if (r == 0) {
                int len = snprintf(out, sizeof out, "echo: %.*s", (int)n, buf);
                r = npipe_write(srv, out, (size_t)len, &w);
        }
        return (void *)(intptr_t)r;
}

int main(int argc, char **argv)
{
        struct npipe_server_opts o;
        struct npipe_broker_stats b;
        char reply[300], exe[PATH_MAX] = "", proc[64];
        size_t n = 0;
        pthread_t t;
        void *sr;
        ssize_t len;
        int r;

        alarm(60); /* never hang CI */
        npipe_server_opts_init(&o);
        o.flags = NPIPE_READMODE_MESSAGE;
        r = npipe_create(NAME, &o, &srv);
        if (r != 0) {
                fprintf(stderr, "npipe_create: %s\n", npipe_strerror(r));
                return 1;
        }
        pthread_create(&t, NULL, serve, NULL);
        r = npipe_call(NAME, "hello", 5, reply, sizeof reply - 1, &n, 5000);
        pthread_join(t, &sr);
        if (r != 0 || (intptr_t)sr != 0) {
                fprintf(stderr, "npipe_call: %s; server: %s\n", npipe_strerror(r),
                        npipe_strerror((int)(intptr_t)sr));
                return 1;
        }
        reply[n] = '\0';
        if (strcmp(reply, "echo: hello") != 0) {
                fprintf(stderr, "wrong reply '%s'\n", reply);
                return 1;
        }
        r = npipe_stats(&b, NULL, NULL);
        if (r != 0) {
                fprintf(stderr, "npipe_stats: %s\n", npipe_strerror(r));
                return 1;
        }
        snprintf(proc, sizeof proc, "/proc/%ld/exe", (long)b.broker_pid);
        len = readlink(proc, exe, sizeof exe - 1);
        exe[len > 0 ? len : 0] = '\0';
        printf("npipe %s: reply '%s'; runtime directory %s; broker %ld %s\n",
               NPIPE_VERSION_STRING, reply, npipe_runtime_dir(), (long)b.broker_pid, exe);
        fprintf(stderr, "%ld\n", (long)b.broker_pid);
        npipe_close(srv);
        if (argc > 1 && strcmp(exe, argv[1]) != 0) {
                fprintf(stderr, "the broker is %s, not %s\n", exe, argv[1]);
                return 1;
        }
        return 0;
}
EOF
step "a program built with pkg-config, run with no environment variables"
# shellcheck disable=SC2046
cc -Wall -Werror -o "$tmp/smoke" "$tmp/smoke.c" $(pkg-config --cflags --libs npipe) -pthread
ldd "$tmp/smoke" | grep -Eq "libnpipe.so.0 => (/usr)?/lib/" || { ldd "$tmp/smoke"; exit 1; }
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
        [ -d /tmp/npipe-0 ] || mkdir -m 0700 /tmp/npipe-0
        unshare -m sh -c 'mount -t tmpfs -o mode=0700 npipe-smoke /tmp/npipe-0 && exec env -i "$@"' \
                sh "$tmp/smoke" "$broker" 2>>"$tmp/brokers"
else
        env -i "$tmp/smoke" "$broker" 2>>"$tmp/brokers"
fi

NPIPE_RUNTIME_DIR=$tmp/run
export NPIPE_RUNTIME_DIR

step "the examples, built against the installed headers and library"
for f in examples/*.c examples/win32/*.c; do
        [ -f "$f" ] || continue
        exe=$tmp/$(basename "$f" .c)
        # Windows sources that include <windows.h> itself build with
        # npipe-windows (docs/win32.md), the rest with npipe
        pc=npipe
        if grep -q '^#include <windows.h>' "$f" && ! grep -q '<npipe/windows.h>' "$f"; then
                pc=npipe-windows
        fi
        # shellcheck disable=SC2046
        cc -o "$exe" "$f" $(pkg-config --cflags --libs $pc) -pthread
done
step "examples/echo-demo.c"
timeout 120 "$tmp/echo-demo"
# the servers examples/win32/meson.build runs with run.sh
for s in ovl_echo_server thread_server iocp_server; do
        [ -x "$tmp/$s" ] && [ -x "$tmp/transact_client" ] || continue
        step "examples/win32: $s with transact_client"
        timeout 120 examples/win32/run.sh "$tmp/$s" "$tmp/transact_client"
done
ms="ms_mt_server ms_ovl_server ms_cr_server ms_client ms_transact ms_call"
ms_ok=1
for m in $ms; do [ -x "$tmp/$m" ] || ms_ok=0; done
if [ -x examples/win32/ms_run.sh ] && [ "$ms_ok" = 1 ]; then
        step "examples/win32: the Windows documentation's samples (ms_run.sh)"
        # shellcheck disable=SC2046
        timeout 300 examples/win32/ms_run.sh native $(for m in $ms; do echo "$tmp/$m"; done)
fi
if [ -x examples/win32/anon_run.sh ] && [ -x "$tmp/anon_parent" ] && [ -x "$tmp/anon_child" ]; then
        step "examples/win32: anon_parent and anon_child"
        timeout 120 examples/win32/anon_run.sh "$tmp/anon_parent" "$tmp/anon_child"
fi

step "the npipe command"
npipe --help >"$tmp/help"
grep -q serve "$tmp/help"
npipe --version
npipe serve --count 1 deb-smoke-cli &
srv=$!
timeout 30 npipe wait --timeout 5000 deb-smoke-cli
timeout 30 npipe list
reply=$(timeout 30 npipe call deb-smoke-cli 'hello, pipe')
echo "npipe call deb-smoke-cli: $reply"
[ "$reply" = 'hello, pipe' ]
wait "$srv"
srv=""
timeout 30 npipe stat
# the broker of the private directory: ours to stop
for p in /proc/[0-9]*; do
        case "$(cat "$p/cmdline" 2>/dev/null | tr '\0' ' ')" in
        "$broker "*"--runtime-dir=$NPIPE_RUNTIME_DIR "*) echo "${p#/proc/}" >>"$tmp/brokers" ;;
        esac
done

# The user units, as systemd would run them for a user whose runtime
# directory (%t) is $tmp/xdg: systemd-socket-activate listens where
# npiped.socket says and starts what npiped.service says on the first
# connection, passing the socket (LISTEN_FDS).  Where systemd's tools are
# missing (a container without systemd), skipped.
units=/usr/lib/systemd/user
if command -v systemd-socket-activate >/dev/null && command -v systemd-analyze >/dev/null; then
        step "the systemd user units: npiped.socket starts npiped.service"
        mkdir -m 0700 "$tmp/xdg"
        XDG_RUNTIME_DIR=$tmp/xdg systemd-analyze --user verify "$units/npiped.socket" "$units/npiped.service"
        listen=$(sed -n 's/^ListenSequentialPacket=//p' "$units/npiped.socket" | sed "s|%t|$tmp/xdg|g")
        exec_start=$(sed -n 's/^ExecStart=//p' "$units/npiped.service" | sed "s|%t|$tmp/xdg|g")
        [ "$listen" = "$tmp/xdg/npipe/npiped.sock" ]
        mkdir -m 0700 "$tmp/xdg/npipe"
        # shellcheck disable=SC2086
        systemd-socket-activate --seqpacket -l "$listen" $exec_start >"$tmp/activate.log" 2>&1 &
        act=$!
        echo "$act" >>"$tmp/brokers"
        i=0
        while [ $i -lt 100 ] && [ ! -S "$listen" ]; do i=$((i + 1)); sleep 0.05; done
        env -i XDG_RUNTIME_DIR="$tmp/xdg" "$tmp/smoke" "$broker" 2>/dev/null
        grep -q "Execing $broker" "$tmp/activate.log" || { cat "$tmp/activate.log"; exit 1; }
        kill "$act" 2>/dev/null || true
fi
# libnpipe-smb0: a remote name loads the module from LIBDIR/npipe/ (no
# NPIPE_SMB_MODULE): against a port where nothing listens the answer is
# the module's "network path not found", not "remote pipes not available"
step "libnpipe-smb0: npipe call of a remote name finds the module"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
set +e
NPIPE_SMB_PORT=$port NPIPE_SMB_USER=nobody NPIPE_SMB_PASSWORD=x \
        /usr/bin/npipe call '\\127.0.0.1\pipe\npipe-deb-smoke' hi 2>"$tmp/remote.err"
rc=$?
set -e
grep -q ERROR_BAD_NETPATH "$tmp/remote.err" || { echo "exit $rc:"; cat "$tmp/remote.err"; exit 1; }
echo "deb-smoke: the installed packages work"
