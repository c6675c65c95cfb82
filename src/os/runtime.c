/*
 * runtime.c - where the broker socket lives (os.h: np_runtime_dir).
 *
 * The library and the broker must agree on one directory per user, and
 * neither may trust a directory someone else could have planted: the
 * socket in it is what decides which broker a process talks to.  So the
 * directory is made private (0700) when we create it, and an existing one
 * is accepted only if lstat() shows a real directory (never a symlink),
 * owned by our effective uid, with no group or other permission bits.
 * Every refusal is noted in words (np_broker_note: which directory, where
 * its path came from, what is wrong), so that a user is told more than
 * "not reachable".
 */
#include "os/os.h"
#include "client/client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "npipe/npipe.h"

/* The reason of the failure in progress, for this thread (client.h). */
static _Thread_local char note[NP_BROKER_NOTE_MAX];

void np_broker_note(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(note, sizeof(note), fmt, ap);
        va_end(ap);
}

void np_broker_note_clear(void)
{
        note[0] = '\0';
}

const char *np_broker_noted(void)
{
        return note;
}

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
 * only, inside a parent the system provides.  A failure is noted with the
 * component that could not be made. */
static int make_parents(char *path, const char *origin)
{
        char *p;
        int r;

        for (p = path + 1; *p != '\0'; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                r = make_dir(path);
                if (r < 0)
                        np_broker_note("cannot create %s, a parent of the runtime directory "
                                       "(%s): %s",
                                       path, origin, strerror(-r));
                *p = '/';
                if (r < 0)
                        return r;
        }
        r = make_dir(path);
        if (r < 0)
                np_broker_note("cannot create the runtime directory %s (%s): %s", path, origin,
                               strerror(-r));
        return r;
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

/* What is wrong with an existing runtime directory: 0 when it is one we
 * trust, else noted and NPIPE_EACCES. */
static int check_dir(const char *dir, const struct stat *st, const char *origin)
{
        if (S_ISLNK(st->st_mode)) {
                np_broker_note("the runtime directory %s (%s) is a symbolic link; it must be a "
                               "real directory",
                               dir, origin);
                return NPIPE_EACCES;
        }
        if (!S_ISDIR(st->st_mode)) {
                np_broker_note("the runtime directory %s (%s) is not a directory", dir, origin);
                return NPIPE_EACCES;
        }
        if (st->st_uid != geteuid()) {
                np_broker_note("the runtime directory %s (%s) is owned by uid %lu, not by you "
                               "(uid %lu)",
                               dir, origin, (unsigned long)st->st_uid, (unsigned long)geteuid());
                return NPIPE_EACCES;
        }
        if ((st->st_mode & 077) != 0) {
                np_broker_note("the runtime directory %s (%s) has mode %04o; it must give group "
                               "and others no access (chmod 700 %s)",
                               dir, origin, (unsigned)(st->st_mode & 07777), dir);
                return NPIPE_EACCES;
        }
        return 0;
}

/* Where the directory's path came from, for the notes. */
static const char *origin_of(int explicit_dir, int xdg)
{
        if (explicit_dir)
                return "from NPIPE_RUNTIME_DIR";
        return xdg ? "$XDG_RUNTIME_DIR/npipe" : "the default, /tmp/npipe-UID";
}

int np_runtime_dir(char *buf, size_t len, int create)
{
        const char *env = np_env("NPIPE_RUNTIME_DIR");
        int explicit_dir = env != NULL, xdg_dir = 0;
        struct stat st;
        int n, r;

        if (buf == NULL || len == 0)
                return NPIPE_EINVAL;
        if (explicit_dir) {
                n = snprintf(buf, len, "%s", env);
        } else {
                const char *xdg = np_env("XDG_RUNTIME_DIR");

                /* The XDG spec says to ignore a relative value. */
                xdg_dir = xdg != NULL && xdg[0] == '/';
                if (xdg_dir)
                        n = snprintf(buf, len, "%s/npipe", xdg);
                else
                        n = snprintf(buf, len, "/tmp/npipe-%lu", (unsigned long)geteuid());
        }
        const char *origin = origin_of(explicit_dir, xdg_dir);
        if (n < 0 || (size_t)n >= len) {
                np_broker_note("the runtime directory's path (%s) is longer than %zu bytes", origin,
                               len - 1);
                return NPIPE_ENAMETOOLONG;
        }
        /* A trailing slash would only make the socket path longer. */
        while (n > 1 && buf[n - 1] == '/')
                buf[--n] = '\0';

        if (create) {
                r = explicit_dir ? make_parents(buf, origin) : make_dir(buf);
                if (r < 0) {
                        if (!explicit_dir)
                                np_broker_note("cannot create the runtime directory %s (%s): %s",
                                               buf, origin, strerror(-r));
                        return status_of(r);
                }
        }
        if (lstat(buf, &st) < 0) {
                r = -errno;
                np_broker_note("the runtime directory %s (%s): %s", buf, origin,
                               r == -ENOENT ? "does not exist" : strerror(-r));
                return status_of(r);
        }
        return check_dir(buf, &st, origin);
}

int np_runtime_dir_client(char *buf, size_t len, int *shared)
{
        *shared = 0;
        int r = np_runtime_dir(buf, len, 1);
        if (r != NPIPE_EACCES || !np_env("NPIPE_RUNTIME_DIR"))
                return r;
        /* A shared broker's directory (npiped --shared): it is root's (or
         * ours) and nobody else can write it, so nobody can plant a socket
         * in it.  We may connect, but never start a broker there.  (What
         * np_runtime_dir noted stays the reason when it is not one.) */
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
