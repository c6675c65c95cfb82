/*
 * file.c - HANDLEs over file descriptors: the standard handles, the files
 * CreateFile opens (any path that is not a pipe name), and the pipe ends a
 * child process inherits from its parent (which arrive as Linux pipes, see
 * spawn.c and process.c).
 *
 * ReadFile and WriteFile on them are the read and write system calls, with
 * the Windows results: the end of a pipe is ERROR_BROKEN_PIPE (a file's
 * end is a successful read of 0 bytes), writing to a pipe nobody reads is
 * ERROR_NO_DATA - not SIGPIPE.  An OVERLAPPED is accepted and completed
 * before the call returns (event, completion routine), as for a handle
 * opened without FILE_FLAG_OVERLAPPED.
 */
#include "win32/win32.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void file_destroy(struct w_obj *o)
{
        free(o);
}

static void file_close(struct w_obj *o)
{
        struct w_file *f = (struct w_file *)o;
        if (f->fd >= 0)
                close(f->fd);
        f->fd = -1;
}

struct w_obj *np_win_file_new(int fd, unsigned access)
{
        struct w_file *f = calloc(1, sizeof(*f));
        if (!f)
                return NULL;
        np_win_obj_init(&f->obj, W_FILE, file_destroy, file_close);
        np_win_waitable_init(&f->wt, 1, 1);
        f->fd = fd;
        f->access = access;
        struct stat st;
        f->type = FILE_TYPE_UNKNOWN;
        if (fstat(fd, &st) == 0) {
                if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))
                        f->type = FILE_TYPE_PIPE;
                else if (S_ISCHR(st.st_mode))
                        f->type = FILE_TYPE_CHAR;
                else if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
                        f->type = FILE_TYPE_DISK;
        }
        return &f->obj;
}

HANDLE np_win_file_handle(int fd, unsigned access)
{
        struct w_obj *o = np_win_file_new(fd, access);
        if (!o) {
                np_win_set_error(ERROR_NOT_ENOUGH_MEMORY);
                return NULL;
        }
        return np_win_handle_new(o);
}

struct w_file *np_win_file_get(HANDLE h)
{
        DWORD keep = npipe_win_GetLastError();
        struct w_obj *o = np_win_handle_get(h, W_FILE);
        /* only a question: the caller reports its own error */
        np_win_set_error(keep);
        return (struct w_file *)o;
}

static DWORD errno_error(int e)
{
        switch (e) {
        case ENOENT:
                return ERROR_FILE_NOT_FOUND;
        case ENOTDIR:
                return ERROR_PATH_NOT_FOUND;
        case EEXIST:
                return ERROR_FILE_EXISTS;
        case EACCES:
        case EPERM:
        case EISDIR:
        case EROFS:
                return ERROR_ACCESS_DENIED;
        case EBADF:
                return ERROR_INVALID_HANDLE;
        case EMFILE:
        case ENFILE:
                return ERROR_TOO_MANY_OPEN_FILES;
        case ENAMETOOLONG:
                return ERROR_FILENAME_EXCED_RANGE;
        case ENOSPC:
                return ERROR_DISK_FULL;
        case ENOMEM:
                return ERROR_NOT_ENOUGH_MEMORY;
        case EPIPE:
                return ERROR_NO_DATA;
        case EFAULT:
                return ERROR_NOACCESS;
        case EINVAL:
                return ERROR_INVALID_PARAMETER;
        default:
                return ERROR_GEN_FAILURE;
        }
}

/* write(2) without SIGPIPE: a process-directed default would end the
 * program where Windows fails the call.  The signal is blocked in this
 * thread for the call and a SIGPIPE it raised is taken back. */
static ssize_t write_nosig(int fd, const void *buf, size_t len, DWORD type)
{
        if (type == FILE_TYPE_PIPE) {
                ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
                if (n >= 0 || errno != ENOTSOCK)
                        return n;
        }
        sigset_t pipe_set, old, pending;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
        sigpending(&pending);
        int was_pending = sigismember(&pending, SIGPIPE);
        ssize_t n = write(fd, buf, len);
        int e = errno;
        if (n < 0 && e == EPIPE && !was_pending) {
                struct timespec zero = {0, 0};
                sigtimedwait(&pipe_set, NULL, &zero);
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        errno = e;
        return n;
}

BOOL np_win_file_io(struct w_file *f, int write, void *buf, DWORD len, LPDWORD done,
                    OVERLAPPED *ov, LPOVERLAPPED_COMPLETION_ROUTINE routine)
{
        if (!(f->access & (write ? WACC_WRITE : WACC_READ)))
                return np_win_fail(ERROR_ACCESS_DENIED);
        if (!buf && len)
                return np_win_fail(ERROR_NOACCESS);
        ssize_t n;
        off_t at = -1;
        /* a disk file with an OVERLAPPED is read or written at its offset */
        if (ov && f->type == FILE_TYPE_DISK)
                at = (off_t)(((uint64_t)ov->OffsetHigh << 32) | ov->Offset);
        for (;;) {
                if (write)
                        n = at >= 0 ? pwrite(f->fd, buf, len, at)
                                    : write_nosig(f->fd, buf, len, f->type);
                else
                        n = at >= 0 ? pread(f->fd, buf, len, at) : read(f->fd, buf, len);
                if (n >= 0 || errno != EINTR)
                        break;
        }
        DWORD err = 0;
        if (n < 0)
                err = errno_error(errno);
        else if (!write && n == 0 && len && f->type == FILE_TYPE_PIPE)
                err = ERROR_BROKEN_PIPE; /* every writer has closed its end */
        DWORD count = n > 0 ? (DWORD)n : 0;
        if (done)
                *done = count;
        if (ov) {
                ov->InternalHigh = count;
                np_win_ov_set_status(ov, err == ERROR_BROKEN_PIPE ? 0xC000014Bu
                                         : err               ? 0xC0000001u
                                                             : W_STATUS_SUCCESS);
                HANDLE ev = np_win_ov_event(ov);
                if (ev)
                        npipe_win_SetEvent(ev);
                if (routine && !err) {
                        struct w_apc *apc = calloc(1, sizeof(*apc));
                        if (apc) {
                                apc->routine = routine;
                                apc->bytes = count;
                                apc->ov = ov;
                                np_win_queue_apc(np_win_self(), apc);
                        }
                }
        }
        if (err)
                return np_win_fail(err);
        np_win_set_error(ERROR_SUCCESS);
        return TRUE;
}

BOOL np_win_file_peek(struct w_file *f, void *buf, DWORD size, LPDWORD read_n, LPDWORD avail,
                      LPDWORD left)
{
        if (f->type != FILE_TYPE_PIPE)
                return np_win_fail(ERROR_INVALID_FUNCTION);
        int n = 0;
        if (ioctl(f->fd, FIONREAD, &n) < 0)
                return np_win_fail(errno_error(errno));
        DWORD copied = 0;
        /* the bytes themselves only from a socket (a Linux pipe cannot be peeked) */
        if (buf && size && n > 0) {
                ssize_t r = recv(f->fd, buf, size, MSG_PEEK | MSG_DONTWAIT);
                if (r > 0)
                        copied = (DWORD)r;
        }
        if (n == 0) {
                /* nothing buffered: is there still a writer? */
                char c;
                ssize_t r = recv(f->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
                if (r == 0)
                        return np_win_fail(ERROR_BROKEN_PIPE);
        }
        if (read_n)
                *read_n = copied;
        if (avail)
                *avail = (DWORD)n;
        if (left)
                *left = 0;
        return TRUE;
}

HANDLE np_win_file_open(const char *path, DWORD desired, DWORD disposition, DWORD flags)
{
        (void)flags;
        unsigned access = 0;
        if (desired & (GENERIC_ALL | MAXIMUM_ALLOWED))
                desired |= GENERIC_READ | GENERIC_WRITE;
        if (desired & (GENERIC_READ | FILE_READ_DATA))
                access |= WACC_READ;
        if (desired & (GENERIC_WRITE | FILE_WRITE_DATA | FILE_APPEND_DATA))
                access |= WACC_WRITE;
        int oflags = O_CLOEXEC | O_NOCTTY;
        oflags |= (access & WACC_WRITE) ? ((access & WACC_READ) ? O_RDWR : O_WRONLY) : O_RDONLY;
        switch (disposition) {
        case CREATE_NEW:
                oflags |= O_CREAT | O_EXCL;
                break;
        case CREATE_ALWAYS:
                oflags |= O_CREAT | O_TRUNC;
                break;
        case OPEN_EXISTING:
                break;
        case OPEN_ALWAYS:
                oflags |= O_CREAT;
                break;
        case TRUNCATE_EXISTING:
                if (!(access & WACC_WRITE)) {
                        np_win_set_error(ERROR_INVALID_PARAMETER);
                        return INVALID_HANDLE_VALUE;
                }
                oflags |= O_TRUNC;
                break;
        default:
                np_win_set_error(ERROR_INVALID_PARAMETER);
                return INVALID_HANDLE_VALUE;
        }
        /* did it exist already (ERROR_ALREADY_EXISTS for the *_ALWAYS forms) */
        struct stat pre;
        int existed = stat(path, &pre) == 0;
        int fd = open(path, oflags, 0666);
        if (fd < 0) {
                int e = errno;
                /* a missing directory on the way is "path not found" */
                if (e == ENOENT && strchr(path, '/')) {
                        char *dir = strdup(path);
                        if (dir) {
                                *strrchr(dir, '/') = 0;
                                struct stat st;
                                if (*dir && stat(dir, &st) != 0)
                                        e = ENOTDIR;
                                free(dir);
                        }
                }
                np_win_set_error(errno_error(e));
                return INVALID_HANDLE_VALUE;
        }
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
                close(fd);
                np_win_set_error(ERROR_ACCESS_DENIED);
                return INVALID_HANDLE_VALUE;
        }
        HANDLE h = np_win_file_handle(fd, access);
        if (!h) {
                close(fd);
                return INVALID_HANDLE_VALUE;
        }
        np_win_set_error((disposition == OPEN_ALWAYS || disposition == CREATE_ALWAYS) && existed
                             ? ERROR_ALREADY_EXISTS
                             : ERROR_SUCCESS);
        return h;
}
