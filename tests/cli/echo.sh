#!/bin/bash
# serve (echo) + wait + call: the three forms of a name, replies echoed
# unchanged, a reply larger than any first guess of its size, and
# --count ending the server once it served its clients.
. "$(dirname "$0")/lib.sh"
start_broker

bg serve echo1 --count 4
server=$!
serve_ready echo1

run call echo1 hello
expect_rc 0 "call"
expect_eq "$(cat "$T/out")" "hello" "the echo server echoes unchanged"

run call '\\.\pipe\echo1' 'with "quotes" and \backslashes\'
expect_rc 0 "call with the \\\\.\\pipe\\ form"
expect_eq "$(cat "$T/out")" 'with "quotes" and \backslashes\' "call \\\\.\\pipe\\NAME"

run call //./pipe/ECHO1 --no-newline slash
expect_rc 0 "call with the //./pipe/ form, another case"
expect_eq "$(od -An -c "$T/out" | tr -d ' \n')" "slash" "call -n prints no newline"
ok "names as NAME, \\\\.\\pipe\\NAME and //./pipe/NAME (case-insensitive)"

# 100000 bytes (under the 128 KiB limit of one argument): far past the first
# read buffer, so the reply arrives in pieces (ERROR_MORE_DATA) and must come
# out whole
big=$(head -c 80000 /dev/zero | tr '\0' 'x')
big="${big}$(head -c 20000 /dev/zero | tr '\0' 'y')"
run call echo1 "$big"
expect_rc 0 "call with a large message"
expect_eq "$(wc -c <"$T/out")" 100001 "large reply length (with its newline)"
expect_eq "$(tr -d '\n' <"$T/out")" "$big" "large reply content"
ok "a 100000-byte reply comes out whole"

wait_ok "$server" "serve --count 4 exits 0 after 4 clients"
ok "serve --count exits after its clients"

run call echo1 again
expect_rc 1 "call after the server exited"
expect_grep 'npipe: open \\.\pipe\echo1: no such pipe (ERROR_FILE_NOT_FOUND)' "$T/err" \
        "the message of a missing pipe"
ok "the name is gone with its server"
