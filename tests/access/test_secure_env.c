/*
 * test_secure_env.c - the environment of a setuid program chooses nothing
 * (issue 12, defect 6).
 *
 * A setuid-root program linked with libnpipe, run by an unprivileged user
 * whose environment names a broker program (NPIPE_BROKER), a log file the
 * broker appends to (NPIPE_BROKER_LOG) and a runtime directory
 * (NPIPE_RUNTIME_DIR): the library reads none of them there
 * (secure_getenv), so the named program never runs as root and the file
 * is never made.  The same program without the setuid bit, run by root
 * with the same environment, does run the program: the test can see it.
 * Needs root and a file system that honours setuid (skipped otherwise).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "users.h"

static struct acc_user g_user;
static char g_dir[64];

static void copy_file(const char *from, const char *to, mode_t mode)
{
        int in = open(from, O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(in, 0);
        int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
        ck_assert_int_ge(out, 0);
        char buf[65536];
        ssize_t n;
        while ((n = read(in, buf, sizeof(buf))) > 0)
                ck_assert_int_eq(write(out, buf, (size_t)n), n);
        close(in);
        close(out);
        ck_assert_int_eq(chown(to, 0, 0), 0);
        ck_assert_int_eq(chmod(to, mode), 0);
}

static int exists(const char *dir, const char *name)
{
        char p[128];
        snprintf(p, sizeof(p), "%s/%s", dir, name);
        return access(p, F_OK) == 0;
}

/* Run dir/prog as uid (after dropping to it) with the hostile environment;
 * wait for it. */
static void run_as(const char *prog, uid_t uid, gid_t gid)
{
        char path[128], broker[128], logf[128], run[128];
        snprintf(path, sizeof(path), "%s/%s", g_dir, prog);
        snprintf(broker, sizeof(broker), "NPIPE_BROKER=%s/evil", g_dir);
        snprintf(logf, sizeof(logf), "NPIPE_BROKER_LOG=%s/log", g_dir);
        snprintf(run, sizeof(run), "NPIPE_RUNTIME_DIR=%s/run", g_dir);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY);
                dup2(null, 1);
                if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
                        _exit(120);
                char *env[] = {broker, logf, run, "NPIPE_BROKER_IDLE=1", NULL};
                char *argv[] = {path, NULL};
                execve(path, argv, env);
                _exit(121);
        }
        int st;
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: status %d", prog, st);
}

START_TEST(test_setuid_ignores_environment)
{
        const char *probe = getenv("NPIPE_SECURE_PROBE");
        ck_assert_ptr_nonnull(probe);
        strcpy(g_dir, "/tmp/npipe-secure-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(g_dir));
        ck_assert_int_eq(chmod(g_dir, 0755), 0);
        char p[128];
        /* the broker the environment names: it leaves a mark */
        snprintf(p, sizeof(p), "%s/evil", g_dir);
        FILE *f = fopen(p, "w");
        ck_assert_ptr_nonnull(f);
        /* (the shell drops a setuid caller's privileges: the mark goes
         * where anybody may write) */
        fprintf(f, "#!/bin/sh\ntouch '%s/mark/marker'\n", g_dir);
        fclose(f);
        ck_assert_int_eq(chmod(p, 0755), 0);
        snprintf(p, sizeof(p), "%s/mark", g_dir);
        ck_assert_int_eq(mkdir(p, 0777), 0);
        ck_assert_int_eq(chmod(p, 0777), 0);
        /* a runtime directory root could use (root's, 0700) */
        snprintf(p, sizeof(p), "%s/run", g_dir);
        ck_assert_int_eq(mkdir(p, 0700), 0);
        snprintf(p, sizeof(p), "%s/suid", g_dir);
        copy_file(probe, p, 04755);
        snprintf(p, sizeof(p), "%s/plain", g_dir);
        copy_file(probe, p, 0755);

        /* the control: no setuid, the environment is the program's own */
        run_as("plain", 0, 0);
        ck_assert_msg(exists(g_dir, "mark/marker"), "the control did not run NPIPE_BROKER");
        ck_assert_msg(exists(g_dir, "log"), "the control did not make NPIPE_BROKER_LOG");
        snprintf(p, sizeof(p), "%s/mark/marker", g_dir);
        unlink(p);
        snprintf(p, sizeof(p), "%s/log", g_dir);
        unlink(p);

        /* setuid root, run by the user: nothing of the environment is used */
        struct stat st;
        snprintf(p, sizeof(p), "%s/suid", g_dir);
        ck_assert_int_eq(stat(p, &st), 0);
        ck_assert(st.st_mode & S_ISUID);
        run_as("suid", g_user.uid, g_user.gid);
        ck_assert_msg(!exists(g_dir, "mark/marker"), "a setuid program ran NPIPE_BROKER as root");
        ck_assert_msg(!exists(g_dir, "log"), "a setuid program's broker opened NPIPE_BROKER_LOG");
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
        ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
        const char *why = acc_user_get("npipe-test", &g_user);
        if (why != NULL) {
                printf("SKIP: %s\n", why);
                return 77;
        }
        Suite *s = suite_create("secure-env");
        TCase *tc = tcase_create("env");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_setuid_ignores_environment);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
