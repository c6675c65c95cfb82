/*
 * test_seal.c - a peer can never write the pages it should only read
 * (issue 4, item 1; design.md, "A connection").
 *
 * The library closes its segment descriptors as soon as they are mapped,
 * so no process of the library ever holds a descriptor of a peer's
 * segment.  To attack one anyway the test speaks the broker protocol
 * itself and keeps the descriptor the broker hands over: as a raw client
 * of a library server (the server's segment arrives with OPEN_REPLY), and
 * as a raw server of a library client (the client's segment arrives with
 * EV_CONNECTED).  With the descriptor in hand it tries every way to get
 * write access: a shared writable mapping, write()/pwrite(), mprotect()
 * of a read-only mapping, a hole punch, resizing, removing the seals,
 * reopening it through /proc/self/fd/N read-write, and reopening the
 * owner's own writable mapping through /proc/PID/map_files (which root
 * may open).  Every one fails with EPERM or EACCES, because the owner
 * sealed the memfd with F_SEAL_FUTURE_WRITE before it was sent; only a
 * private copy-on-write mapping can be written, and the owner never sees
 * that.  It also checks that the owner keeps no descriptor of its segment
 * that /proc/PID/fd could reopen.
 *
 * covers: issue 4 item 1 (no writable mapping of the peer's pages, also
 * through /proc/self/fd or /proc/PID/fd)
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <npipe/npipe.h>

#include "core/ring_layout.h"
#include "rt.h"

static int denied(int r)
{
        return r < 0 && (errno == EPERM || errno == EACCES);
}

/* Find pid's writable shared mapping of its segment (its own). */
static int own_mapping(pid_t pid, unsigned long *lo, unsigned long *hi)
{
        char path[64], line[512];
        FILE *f;
        int found = 0;

        snprintf(path, sizeof path, "/proc/%ld/maps", (long)pid);
        f = fopen(path, "r");
        ck_assert_ptr_nonnull(f);
        while (!found && fgets(line, sizeof line, f) != NULL) {
                char perms[8];

                if (strstr(line, "memfd:npipe-seg") != NULL &&
                    sscanf(line, "%lx-%lx %7s", lo, hi, perms) == 3 && perms[1] == 'w' &&
                    perms[3] == 's')
                        found = 1;
        }
        fclose(f);
        return found;
}

/* No descriptor of pid is a segment (the library closes them after mmap). */
static void no_segment_fds(pid_t pid)
{
        char path[64], link[512], target[512];
        struct dirent *e;
        DIR *d;

        snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
        d = opendir(path);
        ck_assert_ptr_nonnull(d);
        while ((e = readdir(d)) != NULL) {
                ssize_t n;

                if (e->d_name[0] == '.')
                        continue;
                snprintf(link, sizeof link, "%s/%s", path, e->d_name);
                n = readlink(link, target, sizeof target - 1);
                if (n < 0)
                        continue;
                target[n] = '\0';
                ck_assert_msg(strstr(target, "npipe-seg") == NULL,
                              "process %ld keeps a segment descriptor: %s -> %s", (long)pid, link,
                              target);
        }
        closedir(d);
}

/* Every way to write through fd fails; reading works. */
static void attack(int fd, const char *how)
{
        struct stat st;
        size_t sz;
        unsigned char *ro, *cow, before[64];
        char proc[64];
        int fd2;

        ck_assert_int_eq(fstat(fd, &st), 0);
        sz = (size_t)st.st_size;
        ck_assert_uint_ge(sz, NP_SEG_HDR_SIZE + NP_RING_MIN);
        ck_assert_int_eq(fcntl(fd, F_GET_SEALS) & F_SEAL_FUTURE_WRITE, F_SEAL_FUTURE_WRITE);

        /* readable: it is the real segment */
        ro = mmap(NULL, sz, PROT_READ, MAP_SHARED, fd, 0);
        ck_assert_ptr_ne(ro, MAP_FAILED);
        ck_assert_uint_eq(((const struct np_seg_hdr *)ro)->magic, NP_SEG_MAGIC);
        memcpy(before, ro, sizeof before);

        errno = 0;
        ck_assert_msg(mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED &&
                          (errno == EPERM || errno == EACCES),
                      "%s: writable shared mapping (errno %d)", how, errno);
        ck_assert_msg(denied(mprotect(ro, sz, PROT_READ | PROT_WRITE)), "%s: mprotect", how);
        ck_assert_msg(denied((int)write(fd, "x", 1)), "%s: write", how);
        ck_assert_msg(denied((int)pwrite(fd, "x", 1, 128)), "%s: pwrite", how);
        ck_assert_msg(denied(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096)),
                      "%s: hole punch", how);
        ck_assert_msg(denied(ftruncate(fd, (off_t)sz / 2)), "%s: shrink", how);
        ck_assert_msg(denied(ftruncate(fd, (off_t)sz * 2)), "%s: grow", how);
        ck_assert_msg(denied(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE)), "%s: new seals", how);

        /* Reopened through /proc/self/fd: a new open file, same seals. */
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        fd2 = open(proc, O_RDWR | O_CLOEXEC);
        if (fd2 >= 0) {
                errno = 0;
                ck_assert_msg(mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0) ==
                                      MAP_FAILED &&
                                  (errno == EPERM || errno == EACCES),
                              "%s: writable mapping through /proc/self/fd", how);
                ck_assert_msg(denied((int)write(fd2, "x", 1)), "%s: write through /proc", how);
                close(fd2);
        } else {
                ck_assert_msg(errno == EPERM || errno == EACCES, "%s: reopen: errno %d", how,
                              errno);
        }

        /* A private mapping is writable, but it is our copy: the owner's
         * pages (seen through a fresh shared mapping) do not change. */
        cow = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        ck_assert_ptr_ne(cow, MAP_FAILED);
        memset(cow, 0xee, 64);
        ck_assert_int_eq(memcmp(ro, before, sizeof before), 0);
        munmap(cow, sz);
        munmap(ro, sz);
}

/* Reopen the owner's own writable mapping through /proc/PID/map_files
 * (root only): even that descriptor cannot make a writable mapping. */
static void attack_map_files(pid_t owner)
{
        unsigned long lo, hi;
        char path[128];
        int fd;

        ck_assert_msg(own_mapping(owner, &lo, &hi), "no segment mapping in process %ld",
                      (long)owner);
        snprintf(path, sizeof path, "/proc/%ld/map_files/%lx-%lx", (long)owner, lo, hi);
        fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0) {
                /* not root (CAP_SYS_ADMIN): no way in at all */
                ck_assert_msg(errno == EPERM || errno == EACCES, "%s: errno %d", path, errno);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return;
        }
        attack(fd, "map_files");
        close(fd);
}

/* covers: issue 4 item 1 (the client cannot write the server's pages) */
START_TEST(test_seal_server_segment)
{
        const char *dir = rt_private_runtime();
        struct np_open_reply rep;
        struct np_open o = {.access = NP_ACCESS_READ | NP_ACCESS_WRITE};
        struct rt_pkt p;
        char name[256], ch;
        int sync[2], hold[2], s, seg, st;
        uint32_t req;
        pid_t server;

        rt_name(name, sizeof name, "seal");
        ck_assert_int_eq(pipe(sync), 0);
        ck_assert_int_eq(pipe(hold), 0);
        server = fork();
        ck_assert_int_ge(server, 0);
        if (server == 0) {
                npipe_t *h;

                close(sync[0]);
                close(hold[1]);
                if (npipe_create(name, NULL, &h) != 0 || write(sync[1], "1", 1) != 1)
                        _exit(1);
                /* a client that came first: CONNECT-02 */
                int lr = npipe_listen(h, 10000);
                if (lr != 0 && lr != NPIPE_EISCONN)
                        _exit(2);
                /* connected: the client's descriptor has been mapped and
                 * closed (the listen returns only after that), so the fd
                 * check below sees what the library keeps, not a packet
                 * its event thread has not handled yet */
                if (write(sync[1], "2", 1) != 1)
                        _exit(3);
                /* stay connected until the test is done */
                if (read(hold[0], &ch, 1) < 0) {
                }
                _exit(0);
        }
        ck_assert_int_eq(rt_read_byte(sync[0], 10000), '1');
        s = rt_raw_connect(dir);
        ck_assert_int_ge(s, 0);
        o.name_len = (uint32_t)strlen(name) - 9; /* without \\.\pipe\ */
        seg = rt_segment(NP_RING_MIN * 32, NP_ROLE_CLIENT);
        req = rt_raw_send(s, NP_MSG_OPEN, &o, sizeof o, name + 9, o.name_len, seg);
        close(seg);
        ck_assert_int_eq(rt_raw_reply(s, req, &p, NULL, 10000), 1);
        ck_assert_uint_eq(p.h.type, NP_MSG_OPEN_REPLY);
        memcpy(&rep, p.body, sizeof rep);
        ck_assert_uint_eq(rep.server_pid, (uint32_t)server);
        ck_assert_int_ge(p.fd, 0);

        attack(p.fd, "server segment");
        attack_map_files(server);
        ck_assert_int_eq(rt_read_byte(sync[0], 10000), '2');
        no_segment_fds(server);
        close(p.fd);
        close(s);
        close(sync[0]);
        close(hold[1]);
        st = rt_wait_exit(server, 10000);
        ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "server: %#x", st);
}
END_TEST

/* covers: issue 4 item 1 (the server cannot write the client's pages) */
START_TEST(test_seal_client_segment)
{
        const char *dir = rt_private_runtime();
        struct np_create c;
        struct rt_pkt p, ev;
        char name[256], ch;
        int sync[2], hold[2], s, seg, st, fd = -1;
        uint32_t req;
        pid_t client;

        rt_name(name, sizeof name, "seal");
        /* start the broker through the library, then speak to it raw */
        ck_assert_int_eq(npipe_wait("\\\\.\\pipe\\none", 0), NPIPE_ENOENT);
        s = rt_raw_connect(dir);
        ck_assert_int_ge(s, 0);
        memset(&c, 0, sizeof c);
        c.params.type = NPIPE_TYPE_MESSAGE;
        c.params.dir = NPIPE_DUPLEX;
        c.params.in_quota = c.params.out_quota = 4096;
        c.name_len = (uint32_t)strlen(name) - 9;
        seg = rt_segment(65536, NP_ROLE_SERVER);
        req = rt_raw_send(s, NP_MSG_CREATE, &c, sizeof c, name + 9, c.name_len, seg);
        close(seg);
        ck_assert_int_eq(rt_raw_reply(s, req, &p, NULL, 10000), 1);
        ck_assert_uint_eq(p.h.type, NP_MSG_CREATE_REPLY);

        ck_assert_int_eq(pipe(sync), 0);
        ck_assert_int_eq(pipe(hold), 0);
        client = fork();
        ck_assert_int_ge(client, 0);
        if (client == 0) {
                npipe_t *h;

                close(sync[0]);
                close(hold[1]);
                if (npipe_open(name, NPIPE_READ | NPIPE_WRITE, 10000, &h) != 0 ||
                    write(sync[1], "1", 1) != 1)
                        _exit(1);
                if (read(hold[0], &ch, 1) < 0) {
                }
                _exit(0);
        }
        ck_assert_int_eq(rt_read_byte(sync[0], 10000), '1');
        for (int i = 0; i < 4 && fd < 0; i++) {
                ck_assert_int_eq(rt_raw_recv(s, &ev, 10000), 1);
                if (ev.h.type == NP_MSG_EV_CONNECTED)
                        fd = ev.fd;
                else if (ev.fd >= 0)
                        close(ev.fd);
        }
        ck_assert_int_ge(fd, 0);
        attack(fd, "client segment");
        attack_map_files(client);
        no_segment_fds(client);
        close(fd);
        close(s);
        close(sync[0]);
        close(hold[1]);
        st = rt_wait_exit(client, 10000);
        ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "client: %#x", st);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("seal");
        TCase *tc = tcase_create("segments");
        SRunner *sr;
        int failed;

        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_seal_server_segment);
        tcase_add_test(tc, test_seal_client_segment);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_set_fork_status(sr, CK_FORK);
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? 0 : 1;
}
