#!/bin/bash
# send and cat keep message boundaries: send's arguments and stdin lines
# arrive as separate messages (empty ones too), cat prints each message
# with a separator or as a length-prefixed record, and --count stops it.
. "$(dirname "$0")/lib.sh"
start_broker

# a u32-le length-prefixed stream as "len:text" lines, for comparisons
records() {
        python3 -c '
import struct, sys
d = sys.stdin.buffer.read()
i = 0
while i < len(d):
    (n,) = struct.unpack_from("<I", d, i)
    i += 4
    print("%d:%s" % (n, d[i:i + n].decode()))
    i += n
'
}

# --- send: arguments -----------------------------------------------------------
bg serve sink --print --length-prefix --count 1 >"$T/sink1"
server=$!
serve_ready sink
run send sink "one" "" 'two "2" \2' "three four"
expect_rc 0 "send arguments"
wait_ok "$server" "the --print server"
expect_eq "$(records <"$T/sink1")" $'3:one\n0:\n10:two "2" \\2\n10:three four' \
        "each argument is one message"
ok "send MESSAGE... writes one message per argument"

# --- send: stdin lines -----------------------------------------------------------------
bg serve sink --print --length-prefix --count 1 >"$T/sink2"
server=$!
serve_ready sink
printf 'alpha\n\nbeta gamma\nlast without newline' | np send sink
wait_ok "$server" "the --print server"
expect_eq "$(records <"$T/sink2")" $'5:alpha\n0:\n10:beta gamma\n20:last without newline' \
        "each line of stdin is one message"
ok "send reads one message per line of stdin"

# --- send --raw: stdin as bytes ---------------------------------------------------------
bg serve sink --print --separator '' --count 1 >"$T/sink3"
server=$!
serve_ready sink
printf 'no\nlines\nhere' | np send sink --raw
wait_ok "$server" "the --print server"
expect_eq "$(cat "$T/sink3")" $'no\nlines\nhere' "--raw sends the bytes"
ok "send --raw"

# --- cat: separator, length prefix, count -----------------------------------------------
# one line of the child's output = one message (serve --exec --lines)
bg serve src --count 1 --exec 'printf "m1\nm2\n\nm4\n"'
server=$!
serve_ready src
run cat src --separator '|'
expect_rc 0 "cat"
expect_eq "$(cat "$T/out")" "m1|m2||m4|" "cat --separator"
wait_ok "$server" "the --exec server"

bg serve src --count 1 --exec 'printf "m1\nm2\n\nm4\n"'
server=$!
serve_ready src
np cat src --length-prefix >"$T/lp"
expect_eq "$(records <"$T/lp")" $'2:m1\n2:m2\n0:\n2:m4' "cat --length-prefix"
wait_ok "$server" "the --exec server"

bg serve src --count 1 --exec 'printf "a\nb\nc\n"; cat >/dev/null'
server=$!
serve_ready src
run cat src --count 2 --separator '\0'
expect_rc 0 "cat --count"
expect_eq "$(od -An -c "$T/out" | tr -s ' ' | sed 's/^ //;s/ $//')" 'a \0 b \0' \
        "cat --count 2 stops after two messages"
# cat closed: the child's stdin ends, it exits and the server with it
wait_ok "$server" "the --exec server after cat --count"
ok "cat --separator, --length-prefix, --count"

# --- a relay: a message in, the same message out, through a child ---------------------
# GNU cat writes what it reads at once, so plain pipes do; --lines makes each
# message a line of the child's stdin and each line of its stdout a message
bg serve relay --count 2 --exec 'cat'
server=$!
serve_ready relay
run call relay "through a child"
expect_rc 0 "call through --exec cat"
expect_eq "$(cat "$T/out")" "through a child" "a message through the child"
run call relay ""
expect_rc 0 "an empty call"
expect_eq "$(od -An -c "$T/out" | tr -d ' ')" '\n' "an empty message is an empty line"
wait_ok "$server" "the relay"
ok "--exec cat relays messages as lines"
