/*
 * proto.c - the one decoder of the control protocol (proto.h).
 *
 * Both sides run every received packet through np_proto_check() before
 * looking at any field: it pins the header, the body size of the type and,
 * for the types that carry one, the name (length against the packet, no NUL
 * byte).  It reads the packet only through memcpy at offsets it has already
 * proved to be inside the buffer, so it is safe on any byte string of any
 * length and alignment; it is the entry point the fuzzer drives.
 *
 * What the check does not know is who may send what: the broker rejects
 * reply and event types from clients, and the semantic range of each field
 * (pipe type, direction, ...) is the receiver's business.
 */
#include "proto/proto.h"

#include <string.h>

#include "npipe/npipe.h"

/*
 * The one table of message types: for each, what np_proto_check needs to
 * know of its packets.  Indexed by type; a type without a row is unknown.
 * The broker adds, for the request types, what only it needs (handler,
 * descriptor rule: src/broker/requests.c) and checks at start that both
 * tables name the same requests.
 */
struct msg_row {
        uint8_t known;
        uint8_t quiet;    /* may carry NP_HDR_NO_REPLY (only a status answers it) */
        uint16_t body;    /* the fixed body's size; variable data follows it */
        int16_t name_off; /* offset of the name_len field in the body, -1: no name */
        int16_t rid_off;  /* offset of a struct np_remote_id in the body, -1: none */
};

#define ROW(body_t) {1, 0, sizeof(body_t), -1, -1}
#define ROW_QUIET(body_t) {1, 1, sizeof(body_t), -1, -1}
#define ROW_NAMED(body_t, name_field) {1, 0, sizeof(body_t), offsetof(body_t, name_field), -1}

static const struct msg_row msgs[] = {
    [NP_MSG_HELLO] = ROW(struct np_hello),
    [NP_MSG_CREATE] = ROW_NAMED(struct np_create, name_len),
    [NP_MSG_LISTEN] = ROW_QUIET(struct np_instance_req),
    [NP_MSG_OPEN] = ROW_NAMED(struct np_open, name_len),
    [NP_MSG_WAIT] = ROW_NAMED(struct np_wait, name_len),
    [NP_MSG_DISCONNECT] = ROW_QUIET(struct np_end_req),
    [NP_MSG_CLOSE_SERVER] = ROW(struct np_end_req),
    [NP_MSG_CLOSE_CLIENT] = ROW_QUIET(struct np_end_req),
    /* an instance id or a conn id: both are one u64 */
    [NP_MSG_QUERY] = ROW(struct np_instance_req),
    [NP_MSG_LIST] = {1, 0, 0, -1, -1}, /* no body */
    [NP_MSG_CANCEL] = ROW(struct np_cancel),
    [NP_MSG_ADOPT] = ROW_NAMED(struct np_adopt, name_len),
    [NP_MSG_STATS] = ROW(struct np_stats_req),
    [NP_MSG_OPEN_REMOTE] = {1, 0, sizeof(struct np_open_remote),
                            offsetof(struct np_open_remote, open.name_len),
                            offsetof(struct np_open_remote, id)},
    /* the fixed part; its items follow (np_proto_check) */
    [NP_MSG_STATS_REPORT] = ROW(struct np_stats_report),

    [NP_MSG_REPLY] = ROW(struct np_reply),
    [NP_MSG_HELLO_REPLY] = ROW(struct np_hello_reply),
    [NP_MSG_CREATE_REPLY] = ROW(struct np_create_reply),
    [NP_MSG_OPEN_REPLY] = ROW(struct np_open_reply),
    [NP_MSG_QUERY_REPLY] = ROW(struct np_query_reply),
    [NP_MSG_LIST_ITEM] = ROW_NAMED(struct np_list_item, name_len),
    [NP_MSG_STATS_ITEM] = ROW_NAMED(struct np_stats_item, name_len),

    [NP_MSG_EV_CONNECTED] = ROW(struct np_ev_connected),
    [NP_MSG_EV_PEER_GONE] = ROW(struct np_ev_peer_gone),
    [NP_MSG_EV_STATS_QUERY] = ROW(struct np_ev_stats_query),
    [NP_MSG_EV_CONNECTED_REMOTE] = {1, 0, sizeof(struct np_ev_connected_remote), -1,
                                    offsetof(struct np_ev_connected_remote, id)},
};
/* Every body fits the packet, so uint16_t and int16_t hold sizes and
 * offsets. */
_Static_assert(NP_PROTO_MAX_PACKET <= INT16_MAX, "msg_row offsets are int16_t");

static const struct msg_row *msg_row(uint16_t type)
{
        if (type >= sizeof msgs / sizeof msgs[0] || !msgs[type].known)
                return NULL;
        return &msgs[type];
}

int np_proto_quiet_ok(uint16_t type)
{
        const struct msg_row *m = msg_row(type);

        return m != NULL && m->quiet;
}

int np_proto_body_size(uint16_t type)
{
        const struct msg_row *m = msg_row(type);

        return m != NULL ? (int)m->body : -1;
}

/* Longest string (NUL included) allowed at position k of strings[]. */
static size_t remote_string_max(unsigned k)
{
        if (k < 2)
                return NP_REMOTE_NAME_MAX;
        if (k < 4)
                return NP_REMOTE_ADDR_MAX;
        return NP_REMOTE_SID_MAX;
}

int np_remote_id_check(const struct np_remote_id *id)
{
        size_t off = 0;

        if (id->ngroups > NP_REMOTE_MAX_GROUPS || id->nsids > NP_REMOTE_MAX_SIDS ||
            id->strings_len > NP_REMOTE_STRINGS || id->reserved != 0)
                return NPIPE_EPROTO;
        /* exactly 4 + nsids strings, each NUL-terminated within its limit,
         * filling strings_len to the byte */
        for (unsigned k = 0; k < 4 + id->nsids; k++) {
                const char *s = id->strings + off;
                size_t room = id->strings_len - off;
                size_t max = remote_string_max(k);
                const char *nul = memchr(s, 0, room < max ? room : max);

                if (nul == NULL)
                        return NPIPE_EPROTO;
                off += (size_t)(nul - s) + 1;
        }
        return off == id->strings_len ? 0 : NPIPE_EPROTO;
}

const char *np_remote_id_string(const struct np_remote_id *id, unsigned k)
{
        const char *s = id->strings;

        while (k-- > 0)
                s += strlen(s) + 1;
        return s;
}

static uint32_t load32(const unsigned char *p)
{
        uint32_t v;

        memcpy(&v, p, sizeof v);
        return v;
}

int np_proto_check(const void *pkt, size_t n, const char **name, uint32_t *name_len)
{
        const unsigned char *p = pkt;
        struct np_hdr h;
        size_t fixed;
        uint32_t nl;
        const struct msg_row *m;

        if (name != NULL)
                *name = NULL;
        if (name_len != NULL)
                *name_len = 0;
        if (p == NULL || n < sizeof h || n > NP_PROTO_MAX_PACKET)
                return NPIPE_EPROTO;
        memcpy(&h, p, sizeof h);
        if ((size_t)h.len != n || h.version != NP_PROTO_VERSION || (h.flags & ~NP_HDR_FLAGS) ||
            ((h.flags & NP_HDR_NO_REPLY) && (h.req_id == 0 || !np_proto_quiet_ok(h.type))))
                return NPIPE_EPROTO;
        m = msg_row(h.type);
        if (m == NULL)
                return NPIPE_EPROTO;
        fixed = sizeof h + m->body;
        if (n < fixed)
                return NPIPE_EPROTO;
        if (m->rid_off >= 0) {
                /* a copy: the packet may be unaligned */
                struct np_remote_id id;

                memcpy(&id, p + sizeof h + (size_t)m->rid_off, sizeof id);
                if (np_remote_id_check(&id) < 0)
                        return NPIPE_EPROTO;
        }
        if (h.type == NP_MSG_STATS_REPORT) {
                /* Its items fill the rest exactly (count * 48 cannot
                 * overflow: count is bounded first). */
                uint32_t count = load32(p + sizeof h + offsetof(struct np_stats_report, count));

                if (count > NP_STATS_REPORT_MAX ||
                    n - fixed != (size_t)count * sizeof(struct np_stats_live))
                        return NPIPE_EPROTO;
                return 0;
        }
        if (m->name_off < 0)
                return n == fixed ? 0 : NPIPE_EPROTO;

        /* The name must fill the rest of the packet exactly: a packet with
         * slack after the name is as malformed as one cut short. */
        nl = load32(p + sizeof h + (size_t)m->name_off);
        if ((size_t)nl != n - fixed)
                return NPIPE_EPROTO;
        if (h.type == NP_MSG_LIST_ITEM &&
            (load32(p + sizeof h + offsetof(struct np_list_item, flags)) & NP_LIST_EMPTY))
                return nl == 0 ? 0 : NPIPE_EPROTO;
        /* the broker's own item has no name, every pipe's has one */
        if (h.type == NP_MSG_STATS_ITEM &&
            (load32(p + sizeof h + offsetof(struct np_stats_item, flags)) & NP_STATS_BROKER))
                return nl == 0 ? 0 : NPIPE_EPROTO;
        if (nl == 0)
                return NPIPE_EBADNAME;
        if (nl > NP_NAME_MAX)
                return NPIPE_ENAMETOOLONG;
        if (memchr(p + fixed, 0, nl) != NULL)
                return NPIPE_EBADNAME;
        if (name != NULL)
                *name = (const char *)(p + fixed);
        if (name_len != NULL)
                *name_len = nl;
        return 0;
}
