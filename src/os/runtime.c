/*
 * runtime.c - where the broker socket lives (os.h: np_runtime_dir).
 *
 * The library and the broker must agree on one directory per user, and
 * neither may trust a directory someone else could have planted: the
 * socket in it is what decides which broker a process talks to.  So the
 * directory is made private (0700) when we create it, and an existing one
 * is accepted only if lstat() shows a real directory (never a symlink),
 * owned by our effective uid, with no group or other permission bits.
 */
#include "os/os.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "npipe/npipe.h"

/* mkdir(path, 0700); when we made it, force the mode (the umask may have
 * taken owner bits away). */
static int make_dir(const char *path)
{
        if (mkdir(path, 0700) == 0) {
                if (chmod(path, 0700) < 0)
                        return -errno;
                return 0;
        }
        return errno == EEXIST ? 0 : -errno;
}

/* mkdir -p, every created component 0700.  Only used for an explicit
 * NPIPE_RUNTIME_DIR: the default locations create their last component
 * only, inside a parent the system provides. */
static int make_parents(char *path)
{
        char *p;
        int r;

        for (p = path + 1; *p != '\0'; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                r = make_dir(path);
                *p = '/';
                if (r < 0)
                        return r;
        }
        return make_dir(path);
}

static int status_of(int err)
{
        switch (err) {
        case -ENAMETOOLONG:
                return NPIPE_ENAMETOOLONG;
        case -ENOENT:
        case -ENOTDIR:
                return NPIPE_ENOENT;
        case -ENOMEM:
                return NPIPE_ENOMEM;
        default:
                return NPIPE_EACCES;
        }
}

int np_runtime_dir(char *buf, size_t len, int create)
{
        const char *env = np_env("NPIPE_RUNTIME_DIR");
        int explicit_dir = env != NULL;
        struct stat st;
        int n, r;

        if (buf == NULL || len == 0)
                return NPIPE_EINVAL;
        if (explicit_dir) {
                n = snprintf(buf, len, "%s", env);
        } else {
                const char *xdg = np_env("XDG_RUNTIME_DIR");

                /* The XDG spec says to ignore a relative value. */
                if (xdg != NULL && xdg[0] == '/')
                        n = snprintf(buf, len, "%s/npipe", xdg);
                else
                        n = snprintf(buf, len, "/tmp/npipe-%lu", (unsigned long)geteuid());
        }
        if (n < 0 || (size_t)n >= len)
                return NPIPE_ENAMETOOLONG;
        /* A trailing slash would only make the socket path longer. */
        while (n > 1 && buf[n - 1] == '/')
                buf[--n] = '\0';

        if (create) {
                r = explicit_dir ? make_parents(buf) : make_dir(buf);
                if (r < 0)
                        return status_of(r);
        }
        if (lstat(buf, &st) < 0)
                return status_of(-errno);
        if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0)
                return NPIPE_EACCES;
        return 0;
}

int np_runtime_dir_client(char *buf, size_t len, int *shared)
{
        *shared = 0;
        int r = np_runtime_dir(buf, len, 1);
        if (r != NPIPE_EACCES || !np_env("NPIPE_RUNTIME_DIR"))
                return r;
        /* A shared broker's directory (npiped --shared): it is root's (or
         * ours) and nobody else can write it, so nobody can plant a socket
         * in it.  We may connect, but never start a broker there. */
        struct stat st;
        if (lstat(buf, &st) < 0)
                return status_of(-errno);
        if (S_ISDIR(st.st_mode) && (st.st_uid == 0 || st.st_uid == geteuid()) &&
            (st.st_mode & 022) == 0) {
                *shared = 1;
                return 0;
        }
        return NPIPE_EACCES;
}
