#!/usr/bin/python3
"""Write the synthetic named_pipe_auth requests of tests/data/npa/.

The level7-*.bin files are real: captured from smbd 4.17.12 (Debian 12) on
a private loopback smbd (see tests/data/npa/README).  Levels 5 and 8 cannot
be captured from that smbd, so this script builds them.

How: python3-samba (4.17, run with /usr/bin/python3) decodes the
auth_session_info_transport of a captured level-7 request with Samba's own
NDR code; a small NDR32 encoder of ours, written from the IDL
(named_pipe_auth.idl, auth.idl, security.idl), encodes the request again.
Before anything is written, the encoder must reproduce every captured
level-7 request byte for byte, referent ids included; then the same
values are encoded as level 5 (4.16-4.17.8: one more u8, need_idle_server)
and level 8 (4.20+: auth_user_info.user_flags u32 instead of the u8
"authenticated", and security_token grows claim counts and arrays, device
SIDs and a u16 claims-evaluation enum).

Outputs (all synthetic):
  level5-user.bin          level7-user.bin as level 5, need_idle_server = 1
  level8-user.bin          level7-user.bin as level 8, no claims
  level8-anon.bin          level7-anon.bin as level 8 (user_flags = GUEST)
  level8-device-sids.bin   level8-user.bin plus two device SIDs,
                           evaluate_claims = 2
  level8-claims.bin        a level-8 token announcing one local claim: the
                           counts only (the decoder refuses claims before it
                           would read one; the rest of the blob is not a
                           valid claim encoding)
"""
import os
import struct
import sys

from samba.dcerpc import auth
from samba.ndr import ndr_pack, ndr_unpack

HERE = os.path.dirname(os.path.abspath(__file__))


class W:
    """NDR32 writer; alignment counts from the first byte (the length word)."""

    def __init__(self):
        self.b = bytearray()
        self.next_ref = 0x20000

    def align(self, n):
        while len(self.b) % n:
            self.b.append(0)

    def u8(self, v):
        self.b.append(v & 0xFF)

    def u16(self, v):
        self.align(2)
        self.b += struct.pack("<H", v)

    def u32(self, v):
        self.align(4)
        self.b += struct.pack("<I", v)

    def u64(self, v):
        self.align(8)
        self.b += struct.pack("<Q", v)

    def ptr(self, present):
        # smbd numbers the non-NULL unique pointers 0x20000, 0x20004, ...
        if present:
            self.u32(self.next_ref)
            self.next_ref += 4
        else:
            self.u32(0)

    def string(self, s):
        data = s.encode("utf-8") + b"\0"
        self.u32(len(data))
        self.u32(0)
        self.u32(len(data))
        self.b += data

    def blob(self, data):
        self.u32(len(data))
        self.b += bytes(data)

    def sid(self, text):
        parts = text.split("-")
        assert parts[0] == "S"
        rev, ia, subs = int(parts[1]), int(parts[2], 0), [int(x) for x in parts[3:]]
        self.align(4)
        self.u8(rev)
        self.u8(len(subs))
        self.b += ia.to_bytes(6, "big")
        for x in subs:
            self.u32(x)


def read_header(blob):
    """The info7 scalars and strings of a captured request."""
    level, disc = struct.unpack_from("<II", blob, 8)
    assert blob[4:8] == b"NPAM" and level == disc == 7
    h = {"transport": blob[16]}
    ptrs = [struct.unpack_from("<I", blob, o)[0] for o in (20, 24, 32, 36, 44)]
    h["rport"] = struct.unpack_from("<H", blob, 28)[0]
    h["lport"] = struct.unpack_from("<H", blob, 40)[0]
    off = 48
    names = []
    for p in ptrs[:4]:
        if not p:
            names.append(None)
            continue
        off = (off + 3) & ~3
        mx, ofs, act = struct.unpack_from("<III", blob, off)
        off += 12
        names.append(blob[off:off + act - 1].decode())
        off += act
    h["names"] = names
    assert ptrs[4]
    off = (off + 3) & ~3
    # the embedded struct starts 8-aligned, so a standalone unpack sees the
    # same padding
    assert off % 8 == 0
    h["transport_info"] = ndr_unpack(auth.session_info_transport, bytes(blob[off:]))
    return h


def encode(h, level, need_idle=0, device_sids=(), eval_claims=0, n_local_claims=0,
           user_flags=None, names=None, sids=None, account=None, session=True, info=True):
    """The request of header h at a level; the other arguments change one
    thing each, for the edge-case blobs."""
    w = W()
    w.b += bytes(4)  # the big-endian length, filled in at the end
    w.b += b"NPAM"
    w.u32(level)
    w.u32(level)
    w.u8(h["transport"])
    rcn, rca, lsn, lsa = names if names is not None else h["names"]
    w.ptr(rcn is not None)
    w.ptr(rca is not None)
    w.u16(h["rport"])
    w.ptr(lsn is not None)
    w.ptr(lsa is not None)
    w.u16(h["lport"])
    t = h["transport_info"]
    w.ptr(session)
    if level == 5:
        w.u8(need_idle)
    for s in (rcn, rca, lsn, lsa):
        if s is not None:
            w.string(s)
    if not session:
        out = bytes(w.b)
        return struct.pack(">I", len(out) - 4) + out[4:]
    # auth_session_info_transport
    si = t.session_info
    w.ptr(si is not None)
    w.blob(bytes(t.exported_gssapi_credentials))
    # auth_session_info
    w.ptr(si.security_token is not None)
    w.ptr(si.unix_token is not None)
    w.ptr(info and si.info is not None)
    w.ptr(info and si.unix_info is not None)
    w.ptr(False)  # torture
    w.blob(bytes(si.session_key))
    w.ptr(False)  # credentials
    w.align(4)
    w.b += ndr_pack(si.unique_session_token)
    w.u16(si.ticket_type)
    tok = si.security_token
    if tok is not None:
        w.align(8)
        token_sids = sids if sids is not None else [str(x) for x in tok.sids]
        w.u32(len(token_sids))
        w.u32(len(token_sids))
        for s in token_sids:
            w.sid(s)
        w.u64(tok.privilege_mask)
        w.u32(tok.rights_mask)
        if level >= 8:
            w.u32(n_local_claims)
            w.u32(0)
            w.u32(0)
            w.u32(len(device_sids))
            w.u32(n_local_claims)
            if n_local_claims:
                # counts only: see the module docstring
                w.b += bytes(16 * n_local_claims)
            w.u32(0)
            w.u32(0)
            w.u32(len(device_sids))
            for s in device_sids:
                w.sid(s)
            w.u16(eval_claims)
    ut = si.unix_token
    if ut is not None:
        groups = list(ut.groups)
        w.u32(len(groups))
        w.u64(ut.uid)
        w.u64(ut.gid)
        w.u32(len(groups))
        for g in groups:
            w.u64(g)
    info = si.info if info else None
    if info is not None:
        strs = [info.account_name if account is None else account, info.user_principal_name, info.domain_name,
                info.dns_domain_name, info.full_name, info.logon_script, info.profile_path,
                info.home_directory, info.home_drive, info.logon_server]
        for i, s in enumerate(strs):
            w.ptr(s is not None)
            if i == 1:
                w.u8(info.user_principal_constructed)
        for tm in (info.last_logon, info.last_logoff, info.acct_expiry,
                   info.last_password_change, info.allow_password_change,
                   info.force_password_change):
            w.u32(tm & 0xFFFFFFFF)
            w.u32(tm >> 32)
        w.u16(info.logon_count)
        w.u16(info.bad_password_count)
        w.u32(info.acct_flags)
        if level >= 8:
            # NETLOGON_GUEST (1) marks an unauthenticated user
            w.u32(user_flags if user_flags is not None else (0 if info.authenticated else 1))
        else:
            w.u8(info.authenticated)
        for s in strs:
            if s is not None:
                w.string(s)
    ui = si.unix_info if info else None
    if ui is not None:
        w.ptr(ui.unix_name is not None)
        w.ptr(ui.sanitized_username is not None)
        for s in (ui.unix_name, ui.sanitized_username):
            if s is not None:
                w.string(s)
    out = bytes(w.b)
    return struct.pack(">I", len(out) - 4) + out[4:]


def main():
    captured = {}
    for name in sorted(os.listdir(HERE)):
        if name.startswith("level7-") and name.endswith(".bin"):
            with open(os.path.join(HERE, name), "rb") as f:
                captured[name] = f.read()
    if "level7-user.bin" not in captured or "level7-anon.bin" not in captured:
        sys.exit("gen.py: the captured level7-user.bin and level7-anon.bin are missing")
    headers = {}
    for name, blob in captured.items():
        h = read_header(blob)
        again = encode(h, 7)
        if again != blob:
            n = next(i for i in range(min(len(again), len(blob))) if again[i] != blob[i])
            sys.exit("gen.py: the encoder does not reproduce %s (first difference at %d)"
                     % (name, n))
        headers[name] = h
    user, anon = headers["level7-user.bin"], headers["level7-anon.bin"]
    outputs = {
        "level5-user.bin": encode(user, 5, need_idle=1),
        "level8-user.bin": encode(user, 8),
        "level8-anon.bin": encode(anon, 8),
        "level8-device-sids.bin": encode(user, 8, eval_claims=2,
                                         device_sids=("S-1-5-21-1-2-3-1104", "S-1-5-32-545")),
        "level8-claims.bin": encode(user, 8, n_local_claims=1),
    }
    # level-7 edge cases, named synth7-* (level7-* are the captures)
    names = user["names"]
    user_sids = [str(x) for x in user["transport_info"].session_info.security_token.sids]
    smb3 = [x for x in user_sids if x.startswith("S-1-22-1397571891-")]
    assert len(smb3) == 1
    plain = [x for x in user_sids if x not in smb3]
    outputs.update({
        "synth7-addr63.bin": encode(user, 7, names=(names[0], "a" * 63, names[2], names[3])),
        "synth7-addr64.bin": encode(user, 7, names=(names[0], "a" * 64, names[2], names[3])),
        "synth7-account255.bin": encode(user, 7, account="u" * 255),
        "synth7-account256.bin": encode(user, 7, account="u" * 256),
        "synth7-no-names.bin": encode(user, 7, names=(None, None, None, None)),
        "synth7-no-session.bin": encode(user, 7, session=False),
        "synth7-no-info.bin": encode(user, 7, info=False),
        "synth7-two-smb3.bin": encode(user, 7, sids=user_sids + smb3),
        "synth7-smb3-unencrypted.bin": encode(user, 7,
                                              sids=plain + ["S-1-22-1397571891-768-0-1"]),
        "synth7-big-authority.bin": encode(user, 7, sids=user_sids + [
            "S-255-0xFFFFFFFFFFFF-" + "-".join(["4294967295"] * 15)]),
    })
    for name, data in outputs.items():
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
        print("gen.py: wrote %s (%d bytes)" % (name, len(data)))
    print("gen.py: the encoder reproduced %d captured level-7 requests exactly" % len(captured))


if __name__ == "__main__":
    main()
