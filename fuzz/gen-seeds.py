#!/usr/bin/env python3
"""Write the seed corpora of fuzz/corpus/ (run from anywhere; idempotent).

fuzz_proto: one well-formed packet of every type (with names where the type
carries one), plus the edge cases the decoder distinguishes.  fuzz_name:
pipe paths in every accepted form and the classic bad ones.  fuzz_ring:
operation scripts (see fuzz_ring.c) that write real messages, stream a
large one, read in both modes, peek, cancel, and scribble on the indices.
fuzz_npa: the named_pipe_auth requests of tests/data/npa/ (captured from
smbd, or made by its gen.py), copied as they are."""
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
VERSION = 2
BODY = {1: 16, 2: 40, 3: 8, 4: 8, 5: 8, 6: 48, 7: 48, 8: 48, 9: 8, 10: 0, 11: 8, 12: 72,
        13: 8, 14: 2216, 15: 16, 64: 8, 65: 16, 66: 48, 67: 64, 68: 48, 69: 64, 70: 200, 96: 32,
        97: 24, 98: 8, 99: 2240}
NAME_OFF = {2: 36, 4: 4, 5: 4, 12: 68, 14: 4, 69: 56, 70: 4}


def remote_id(strings=b"\0\0\0\0", nsids=0, uid=1001):
    """struct np_remote_id (proto.h): 2208 bytes."""
    head = struct.pack("<IIIHHIIII", 0, uid, uid, 4455, 445, 1, nsids, len(strings), 0)
    groups = struct.pack("<32I", uid, *([0] * 31))
    return head + groups + strings.ljust(2048, b"\0")


def packet(t, body=None, name=b"", req=1):
    body = bytearray(body if body is not None else bytes(BODY[t]))
    if t in NAME_OFF:
        struct.pack_into("<I", body, NAME_OFF[t], len(name))
    n = 16 + len(body) + len(name)
    return struct.pack("<HHIII", t, VERSION, n, req, 0) + bytes(body) + name


def write(d, name, data):
    os.makedirs(os.path.join(HERE, "corpus", d), exist_ok=True)
    with open(os.path.join(HERE, "corpus", d, name), "wb") as f:
        f.write(data)


def proto():
    for t in BODY:
        body = None
        if t == 14:
            body = bytes(8) + remote_id()
        elif t == 99:
            body = bytes(32) + remote_id()
        write("fuzz_proto", "type-%d" % t,
              packet(t, body, name=b"pipe\\name" if t in NAME_OFF else b""))
    ident = remote_id(b"nptest\0NPTESTSRV\0" b"127.0.0.1\0" b"127.0.0.1\0S-1-5-21-1-2-3-1000\0", 1)
    write("fuzz_proto", "open-remote", packet(14, bytes(8) + ident, b"echo"))
    write("fuzz_proto", "ev-connected-remote", packet(99, bytes(32) + ident))
    hello = struct.pack("<IIII", 0x5049504E, VERSION, 0, 1)
    write("fuzz_proto", "hello", packet(1, hello))
    params = struct.pack("<8I", 1, 3, 0, 4096, 4096, 0, 0, 0)
    write("fuzz_proto", "create", packet(2, params + bytes(8), b"svc"))
    adopt = params + struct.pack("<IIQQIIII", 1, 2, 1 << 60, 0, 0, 0, 0, 0)
    write("fuzz_proto", "adopt", packet(12, adopt, b"svc"))
    write("fuzz_proto", "name-max", packet(4, name=b"x" * 1024))
    write("fuzz_proto", "name-too-long", packet(4, name=b"x" * 1025))
    write("fuzz_proto", "name-nul", packet(4, name=b"a\0b"))
    write("fuzz_proto", "list-empty", packet(69, struct.pack("<I", 3) + bytes(60)))
    write("fuzz_proto", "short", b"\x01\x00\x01\x00")
    # a stats report with two connections, and the broker's (nameless) stats item
    live = struct.pack("<QQQQQQ", 1 << 60, (1 << 60) + 1, 100, 2, 50, 1)
    write("fuzz_proto", "stats-report",
          packet(15, struct.pack("<QII", 7, 1, 2) + live + live))
    write("fuzz_proto", "stats-broker", packet(70, struct.pack("<II", 3, 0) + bytes(192)))


def names():
    for i, s in enumerate([b"\\\\.\\pipe\\a", b"\\\\.\\PIPE\\Name With Spaces",
                           b"\\\\.\\pipe\\x\\y\\", b"//./pipe/slashed", b"bare",
                           b"\\\\.\\pipe\\", b"\\\\server\\pipe\\remote", b"\\\\.\\pipe\\\xc3\xa9t\xc3\xa9",
                           b"\\\\.\\pipe\\\xff\xfe", b"\\\\.\\pipe\\" + b"n" * 250,
                           b"\\\\.\\pipe\\" + b"n" * 251, b"\\\\.\\pipe\\" + "\u20ac".encode() * 250,
                           b"\\\\.\\pipe\\a\0b", b"\\\\.\\pip", b""]):
        write("fuzz_name", "name-%02d" % i, s)


def ring():
    # op codes: see fuzz_ring.c (op % 20)
    W, RD, RM, PK, AV, VW, UN, AB, OK = 0, 9, 10, 11, 12, 13, 14, 15, 16
    seeds = {
        "write-read": [0, 0, 0, 100, 0, 0, RD, 0, 1, PK, 0, 1, 1],
        "msg-mode": [0, 0, 0, 10, 0, W, 20, 0, RM, 5, 0, RM, 64, 0],
        "stream": [0, 0, 0, 0, 0x30, RM, 0, 0x10, W, 0, 0x30, RM, 0, 0x10, W, 0, 0x30],
        "victim": [0, 0, VW, 0, 0x20, OK, 0, 0, UN, VW, 0x40, 0, AB, 0, 0, 1, UN],
        "abort-stream": [0, 0, VW, 0, 0x30, AB, 0, 0, 1, VW, 0, 0x10, UN],
        "scribble": [0, 0, 0, 64, 0, 1, 3, 5, 0, 4, 0, 7, 0, 3, 0, 1, 0, RD, 0, 2],
        "rpos-odd": [0, 0, VW, 0, 4, 6, 1, 4, UN, AB, 0, 0, 0, UN],
    }
    for k, v in seeds.items():
        write("fuzz_ring", k, bytes(x & 0xFF for x in v))


def npa():
    src = os.path.join(HERE, "..", "tests", "data", "npa")
    os.makedirs(os.path.join(HERE, "corpus", "fuzz_npa"), exist_ok=True)
    for name in sorted(os.listdir(src)):
        if name.endswith(".bin"):
            shutil.copyfile(os.path.join(src, name),
                            os.path.join(HERE, "corpus", "fuzz_npa", name[:-4]))


proto()
names()
ring()
npa()
