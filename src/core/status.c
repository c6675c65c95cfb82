/*
 * status.c - the one table of npipe status codes: text, name, and their
 * Win32 and NTSTATUS translations (generated from NPIPE_STATUS_MAP).
 */
#include <npipe/npipe.h>

struct status_row {
        int code;
        uint32_t win32;
        uint32_t nt;
        const char *name;
        const char *msg;
};

static const struct status_row rows[] = {
#define XX(name, value, w32, nt, msg) {(value), (w32), (nt), #name, (msg)},
        NPIPE_STATUS_MAP(XX)
#undef XX
};

static const struct status_row *find(int status)
{
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
                if (rows[i].code == status)
                        return &rows[i];
        return NULL;
}

NPIPE_EXTERN const char *npipe_strerror(int status)
{
        const struct status_row *r = find(status);
        return r ? r->msg : "unknown error";
}

NPIPE_EXTERN const char *npipe_err_name(int status)
{
        const struct status_row *r = find(status);
        return r ? r->name : "EUNKNOWN";
}

NPIPE_EXTERN uint32_t npipe_win32_error(int status)
{
        const struct status_row *r = find(status);
        /* ERROR_GEN_FAILURE for anything we do not know: never 0. */
        return r ? r->win32 : 31u;
}

NPIPE_EXTERN uint32_t npipe_ntstatus(int status)
{
        const struct status_row *r = find(status);
        return r ? r->nt : 0xC0000001u; /* STATUS_UNSUCCESSFUL */
}
