/*
 * errname.c - the ERROR_* name of a status, for messages.
 *
 * The values come from <npipe/windows.h> itself, so a table entry can never
 * disagree with the header; this file includes nothing else that the Win32
 * macros (TRUE, Sleep, CreateFile, ...) could collide with.
 */
#include <string.h>

#include <npipe/npipe.h>
#include <npipe/windows.h>

#include "cli.h"

/* one entry a line: clang-format would spread the macro over four */
/* clang-format off */
#define E(x) {(uint32_t)(x), #x}

static const struct {
        uint32_t code;
        const char *name;
} names[] = {
        E(ERROR_INVALID_FUNCTION),
        E(ERROR_FILE_NOT_FOUND),
        E(ERROR_PATH_NOT_FOUND),
        E(ERROR_ACCESS_DENIED),
        E(ERROR_INVALID_HANDLE),
        E(ERROR_NOT_ENOUGH_MEMORY),
        E(ERROR_NOT_READY),
        E(ERROR_GEN_FAILURE),
        E(ERROR_NOT_SUPPORTED),
        E(ERROR_BAD_NETPATH),
        E(ERROR_NETNAME_DELETED),
        E(ERROR_INVALID_PARAMETER),
        E(ERROR_BROKEN_PIPE),
        E(ERROR_SEM_TIMEOUT),
        E(ERROR_INSUFFICIENT_BUFFER),
        E(ERROR_INVALID_NAME),
        E(ERROR_BAD_PATHNAME),
        E(ERROR_FILENAME_EXCED_RANGE),
        E(ERROR_BAD_PIPE),
        E(ERROR_PIPE_BUSY),
        E(ERROR_NO_DATA),
        E(ERROR_PIPE_NOT_CONNECTED),
        E(ERROR_MORE_DATA),
        E(ERROR_PIPE_CONNECTED),
        E(ERROR_PIPE_LISTENING),
        E(ERROR_OPERATION_ABORTED),
        E(ERROR_NOT_FOUND),
        E(ERROR_LOGON_FAILURE),
        E(ERROR_NO_SYSTEM_RESOURCES),
        E(ERROR_TIMEOUT),
        /* 1359, which windows.h does not name: the EPROTO translation */
        {1359u, "ERROR_INTERNAL_ERROR"},
};
/* clang-format on */

const char *cli_win32_name(int status)
{
        uint32_t code;

        /* only our own statuses have a translation; anything else would
         * come out as ERROR_GEN_FAILURE and mislead */
        if (status == 0 || npipe_err_name(status) == NULL ||
            strcmp(npipe_err_name(status), "EUNKNOWN") == 0)
                return NULL;
        code = npipe_win32_error(status);
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (names[i].code == code)
                        return names[i].name;
        return NULL;
}
