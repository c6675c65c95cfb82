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

int np_proto_quiet_ok(uint16_t type)
{
        return type == NP_MSG_LISTEN || type == NP_MSG_DISCONNECT || type == NP_MSG_CLOSE_CLIENT;
}

/* Every body is a fixed struct; the pins below make a forgotten type a
 * compile-time surprise rather than a silent -1. */
int np_proto_body_size(uint16_t type)
{
        switch (type) {
        case NP_MSG_HELLO:
                return (int)sizeof(struct np_hello);
        case NP_MSG_CREATE:
                return (int)sizeof(struct np_create);
        case NP_MSG_LISTEN:
                return (int)sizeof(struct np_instance_req);
        case NP_MSG_DISCONNECT:
        case NP_MSG_CLOSE_SERVER:
        case NP_MSG_CLOSE_CLIENT:
                return (int)sizeof(struct np_end_req);
        case NP_MSG_OPEN:
                return (int)sizeof(struct np_open);
        case NP_MSG_WAIT:
                return (int)sizeof(struct np_wait);
        case NP_MSG_QUERY:
                /* an instance id or a conn id: both are one u64 */
                return (int)sizeof(struct np_instance_req);
        case NP_MSG_LIST:
                return 0;
        case NP_MSG_CANCEL:
                return (int)sizeof(struct np_cancel);
        case NP_MSG_ADOPT:
                return (int)sizeof(struct np_adopt);
        case NP_MSG_STATS:
                return (int)sizeof(struct np_stats_req);
        case NP_MSG_STATS_REPORT:
                /* the fixed part; its items follow (np_proto_check) */
                return (int)sizeof(struct np_stats_report);
        case NP_MSG_REPLY:
                return (int)sizeof(struct np_reply);
        case NP_MSG_HELLO_REPLY:
                return (int)sizeof(struct np_hello_reply);
        case NP_MSG_CREATE_REPLY:
                return (int)sizeof(struct np_create_reply);
        case NP_MSG_OPEN_REPLY:
                return (int)sizeof(struct np_open_reply);
        case NP_MSG_QUERY_REPLY:
                return (int)sizeof(struct np_query_reply);
        case NP_MSG_LIST_ITEM:
                return (int)sizeof(struct np_list_item);
        case NP_MSG_STATS_ITEM:
                return (int)sizeof(struct np_stats_item);
        case NP_MSG_EV_CONNECTED:
                return (int)sizeof(struct np_ev_connected);
        case NP_MSG_EV_PEER_GONE:
                return (int)sizeof(struct np_ev_peer_gone);
        case NP_MSG_OPEN_REMOTE:
                return (int)sizeof(struct np_open_remote);
        case NP_MSG_EV_CONNECTED_REMOTE:
                return (int)sizeof(struct np_ev_connected_remote);
        case NP_MSG_EV_STATS_QUERY:
                return (int)sizeof(struct np_ev_stats_query);
        default:
                return -1;
        }
}

/* Offset of the name_len field inside the body, or -1 for types without a
 * name.  The name itself always follows the fixed body. */
static int name_len_offset(uint16_t type)
{
        switch (type) {
        case NP_MSG_CREATE:
                return (int)offsetof(struct np_create, name_len);
        case NP_MSG_OPEN:
                return (int)offsetof(struct np_open, name_len);
        case NP_MSG_WAIT:
                return (int)offsetof(struct np_wait, name_len);
        case NP_MSG_LIST_ITEM:
                return (int)offsetof(struct np_list_item, name_len);
        case NP_MSG_STATS_ITEM:
                return (int)offsetof(struct np_stats_item, name_len);
        case NP_MSG_ADOPT:
                return (int)offsetof(struct np_adopt, name_len);
        case NP_MSG_OPEN_REMOTE:
                return (int)offsetof(struct np_open_remote, open.name_len);
        default:
                return -1;
        }
}

/* Offset of a struct np_remote_id inside the body, or -1. */
static int remote_id_offset(uint16_t type)
{
        switch (type) {
        case NP_MSG_OPEN_REMOTE:
                return (int)offsetof(struct np_open_remote, id);
        case NP_MSG_EV_CONNECTED_REMOTE:
                return (int)offsetof(struct np_ev_connected_remote, id);
        default:
                return -1;
        }
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
        int body, off;

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
        body = np_proto_body_size(h.type);
        if (body < 0)
                return NPIPE_EPROTO;
        fixed = sizeof h + (size_t)body;
        if (n < fixed)
                return NPIPE_EPROTO;
        off = remote_id_offset(h.type);
        if (off >= 0) {
                /* a copy: the packet may be unaligned */
                struct np_remote_id id;

                memcpy(&id, p + sizeof h + (size_t)off, sizeof id);
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
        off = name_len_offset(h.type);
        if (off < 0)
                return n == fixed ? 0 : NPIPE_EPROTO;

        /* The name must fill the rest of the packet exactly: a packet with
         * slack after the name is as malformed as one cut short. */
        nl = load32(p + sizeof h + (size_t)off);
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
