/*
 * config.c - whose credentials and which options a connection to a host
 * uses (smb.h).
 *
 * The order, first that names credentials wins (npipe.h):
 *   1. configure(host, auth) for that host, then configure(NULL, auth);
 *   2. the environment: NPIPE_SMB_USER (with NPIPE_SMB_PASSWORD,
 *      NPIPE_SMB_DOMAIN) or NPIPE_SMB_ANONYMOUS=1;
 *   3. ~/.config/npipe/remote.conf: "key = value" lines, "#" comments, an
 *      optional [host] section per host overriding the lines before any
 *      section;
 *   4. nothing: the Kerberos ticket cache.
 * The options (port, encrypt, sign, max_dialect) come from configure()
 * when that supplied the credentials, else from the environment
 * (NPIPE_SMB_PORT, NPIPE_SMB_ENCRYPT=1, NPIPE_SMB_SIGN=1,
 * NPIPE_SMB_MAX_DIALECT) over the file.
 *
 * A remote.conf that holds a password must not be readable by group or
 * others: it is refused (NPIPE_EACCES), not silently used.
 *
 * Every variable is read with secure_getenv: in a setuid, setgid or
 * file-capability program the environment (and $HOME) is the caller's,
 * who must not choose whose credentials the program uses or read them
 * from a file the caller wrote.
 */
#include "smb/smb.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "smb/crypto.h"

void np_smb_cfg_who(const struct np_smb_cfg *cfg, char *buf, size_t cap)
{
        if (cfg->flags & NPIPE_AUTH_ANONYMOUS)
                snprintf(buf, cap, "(anonymous)");
        else if (!cfg->user)
                snprintf(buf, cap, "(Kerberos ticket cache)");
        else if (cfg->domain && *cfg->domain && !strchr(cfg->user, '\\'))
                snprintf(buf, cap, "%s\\%s", cfg->domain, cfg->user);
        else
                snprintf(buf, cap, "%s", cfg->user);
}

void np_smb_cfg_free(struct np_smb_cfg *cfg)
{
        free(cfg->host);
        free(cfg->user);
        free(cfg->domain);
        if (cfg->password) {
                explicit_bzero(cfg->password, strlen(cfg->password));
                free(cfg->password);
        }
        memset(cfg, 0, sizeof(*cfg));
}

/* ---- configure() ---------------------------------------------------- */

struct np_smb_setting {
        struct np_smb_setting *next;
        char *host; /* NULL: the default */
        char *user, *domain, *password;
        unsigned flags;
        uint16_t port, max_dialect;
};

static pthread_mutex_t np_settings_mu = PTHREAD_MUTEX_INITIALIZER;
static struct np_smb_setting *np_settings;

static int dup_into(char **dst, const char *src)
{
        *dst = NULL;
        if (!src)
                return 0;
        *dst = strdup(src);
        return *dst ? 0 : NPIPE_ENOMEM;
}

static void setting_free(struct np_smb_setting *s)
{
        free(s->host);
        free(s->user);
        free(s->domain);
        if (s->password) {
                explicit_bzero(s->password, strlen(s->password));
                free(s->password);
        }
        free(s);
}

int np_smb_configure(const char *host, const struct npipe_remote_auth *auth)
{
        struct np_smb_setting *s = calloc(1, sizeof(*s));

        if (!s)
                return NPIPE_ENOMEM;
        if (dup_into(&s->host, host) < 0 || dup_into(&s->user, auth ? auth->user : NULL) < 0 ||
            dup_into(&s->domain, auth ? auth->domain : NULL) < 0 ||
            dup_into(&s->password, auth ? auth->password : NULL) < 0) {
                setting_free(s);
                return NPIPE_ENOMEM;
        }
        if (auth) {
                s->flags = auth->flags;
                s->port = auth->port;
                s->max_dialect = auth->max_dialect;
        }
        pthread_mutex_lock(&np_settings_mu);
        /* replace an earlier one for the same host */
        for (struct np_smb_setting **pp = &np_settings; *pp; pp = &(*pp)->next) {
                struct np_smb_setting *o = *pp;
                if ((!o->host && !host) || (o->host && host && strcasecmp(o->host, host) == 0)) {
                        *pp = o->next;
                        setting_free(o);
                        break;
                }
        }
        if (auth) {
                s->next = np_settings;
                np_settings = s;
        } else {
                setting_free(s); /* configure(host, NULL) forgets */
        }
        pthread_mutex_unlock(&np_settings_mu);
        return 0;
}

/* ---- values -------------------------------------------------------- */

static bool truthy(const char *v)
{
        return v && (strcmp(v, "1") == 0 || strcasecmp(v, "yes") == 0 ||
                     strcasecmp(v, "true") == 0 || strcasecmp(v, "on") == 0);
}

/* "2.1", "3.1.1", "0x0311", "SMB3_11"... to the dialect number. */
static int parse_dialect(const char *v, uint16_t *d)
{
        static const struct {
                const char *name;
                uint16_t d;
        } names[] = {{"2.0.2", NP_SMB_2_0_2}, {"2.02", NP_SMB_2_0_2}, {"SMB2_02", NP_SMB_2_0_2},
                     {"2.1", NP_SMB_2_1},     {"2.10", NP_SMB_2_1},   {"SMB2_10", NP_SMB_2_1},
                     {"3.0", NP_SMB_3_0},     {"3", NP_SMB_3_0},      {"SMB3_00", NP_SMB_3_0},
                     {"3.0.2", NP_SMB_3_0_2}, {"3.02", NP_SMB_3_0_2}, {"SMB3_02", NP_SMB_3_0_2},
                     {"3.1.1", NP_SMB_3_1_1}, {"3.11", NP_SMB_3_1_1}, {"SMB3_11", NP_SMB_3_1_1},
                     {"0x0202", NP_SMB_2_0_2}, {"0x0210", NP_SMB_2_1}, {"0x0300", NP_SMB_3_0},
                     {"0x0302", NP_SMB_3_0_2}, {"0x0311", NP_SMB_3_1_1}};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                if (strcasecmp(v, names[i].name) == 0) {
                        *d = names[i].d;
                        return 0;
                }
        }
        return NPIPE_EINVAL;
}

static int parse_port(const char *v, uint16_t *port)
{
        char *end;
        errno = 0;
        unsigned long n = strtoul(v, &end, 10);
        if (errno || end == v || *end || n == 0 || n > 65535)
                return NPIPE_EINVAL;
        *port = (uint16_t)n;
        return 0;
}

/* ---- remote.conf --------------------------------------------------- */

struct np_file_vals {
        char *user, *domain, *password;
        int anonymous, encrypt, sign, kerberos; /* -1: not said */
        uint16_t port, max_dialect;
};

static void vals_free(struct np_file_vals *v)
{
        free(v->user);
        free(v->domain);
        if (v->password) {
                explicit_bzero(v->password, strlen(v->password));
                free(v->password);
        }
}

static char *trim(char *s)
{
        while (isspace((unsigned char)*s))
                s++;
        size_t n = strlen(s);
        while (n > 0 && isspace((unsigned char)s[n - 1]))
                s[--n] = 0;
        return s;
}

static int set_val(struct np_file_vals *v, const char *key, const char *val, const char *path,
                   int line)
{
        char **str = NULL;
        int *flag = NULL;

        if (strcasecmp(key, "user") == 0 || strcasecmp(key, "username") == 0)
                str = &v->user;
        else if (strcasecmp(key, "domain") == 0 || strcasecmp(key, "workgroup") == 0)
                str = &v->domain;
        else if (strcasecmp(key, "password") == 0)
                str = &v->password;
        else if (strcasecmp(key, "anonymous") == 0)
                flag = &v->anonymous;
        else if (strcasecmp(key, "encrypt") == 0)
                flag = &v->encrypt;
        else if (strcasecmp(key, "sign") == 0)
                flag = &v->sign;
        else if (strcasecmp(key, "kerberos") == 0)
                flag = &v->kerberos;
        if (str) {
                free(*str);
                *str = strdup(val);
                return *str ? 0 : NPIPE_ENOMEM;
        }
        if (flag) {
                *flag = truthy(val);
                return 0;
        }
        if (strcasecmp(key, "port") == 0 && parse_port(val, &v->port) == 0)
                return 0;
        if (strcasecmp(key, "max_dialect") == 0 && parse_dialect(val, &v->max_dialect) == 0)
                return 0;
        np_smb_why("%s:%d: unknown setting or bad value: %s = %s", path, line, key, val);
        return NPIPE_EINVAL;
}

/* Read the file's values for host: 0 (also when there is no file). */
static int read_file(const char *host, struct np_file_vals *v)
{
        char path[4096];
        const char *xdg = secure_getenv("XDG_CONFIG_HOME");
        const char *home = secure_getenv("HOME");

        if (xdg && *xdg)
                snprintf(path, sizeof(path), "%s/npipe/remote.conf", xdg);
        else if (home && *home)
                snprintf(path, sizeof(path), "%s/.config/npipe/remote.conf", home);
        else
                return 0;
        FILE *f = fopen(path, "re");
        if (!f)
                return 0;
        struct stat st;
        if (fstat(fileno(f), &st) < 0) {
                fclose(f);
                return 0;
        }
        char line[1024];
        int n = 0, rc = 0;
        bool in_host = true; /* before any section: applies to every host */
        bool has_password = false;
        while (fgets(line, sizeof(line), f)) {
                n++;
                char *s = trim(line);
                if (*s == 0 || *s == '#' || *s == ';')
                        continue;
                if (*s == '[') {
                        char *e = strchr(s, ']');
                        if (!e) {
                                np_smb_why("%s:%d: a section without ]", path, n);
                                rc = NPIPE_EINVAL;
                                break;
                        }
                        *e = 0;
                        in_host = strcasecmp(trim(s + 1), host) == 0;
                        continue;
                }
                char *eq = strchr(s, '=');
                if (!eq) {
                        np_smb_why("%s:%d: not key = value", path, n);
                        rc = NPIPE_EINVAL;
                        break;
                }
                *eq = 0;
                char *key = trim(s), *val = trim(eq + 1);
                if (strcasecmp(key, "password") == 0)
                        has_password = true;
                if (!in_host)
                        continue;
                rc = set_val(v, key, val, path, n);
                if (rc < 0)
                        break;
        }
        explicit_bzero(line, sizeof(line));
        fclose(f);
        if (rc == 0 && has_password && (st.st_mode & 077)) {
                np_smb_why("%s holds a password and is readable by others (mode %03o): "
                           "refused; chmod 600 it",
                           path, (unsigned)(st.st_mode & 0777));
                rc = NPIPE_EACCES;
        }
        return rc;
}

/* "DOMAIN\user": split into domain and user (the user keeps the rest). */
static int split_user(struct np_smb_cfg *cfg)
{
        char *bs = cfg->user ? strchr(cfg->user, '\\') : NULL;

        if (!bs)
                return 0;
        *bs = 0;
        char *dom = strdup(cfg->user);
        char *user = strdup(bs + 1);
        if (!dom || !user) {
                free(dom);
                free(user);
                *bs = '\\';
                return NPIPE_ENOMEM;
        }
        free(cfg->user);
        free(cfg->domain);
        cfg->user = user;
        cfg->domain = dom;
        return 0;
}

/* 1. configure(): the setting for host, else the default one, into cfg
 * (credentials and options both).  *have: there was one. */
static int from_configure(const char *host, struct np_smb_cfg *cfg, bool *have)
{
        int st = 0;

        pthread_mutex_lock(&np_settings_mu);
        struct np_smb_setting *hit = NULL;
        for (struct np_smb_setting *s = np_settings; s; s = s->next)
                if (s->host && strcasecmp(s->host, host) == 0)
                        hit = s;
        if (!hit)
                for (struct np_smb_setting *s = np_settings; s; s = s->next)
                        if (!s->host)
                                hit = s;
        *have = hit != NULL;
        if (hit) {
                cfg->source = hit->host ? "npipe_remote_credentials(host)"
                                        : "npipe_remote_credentials(NULL)";
                if (dup_into(&cfg->user, hit->user) < 0 ||
                    dup_into(&cfg->domain, hit->domain) < 0 ||
                    dup_into(&cfg->password, hit->password) < 0)
                        st = NPIPE_ENOMEM;
                cfg->flags = hit->flags;
                if (hit->port)
                        cfg->port = hit->port;
                cfg->max_dialect = hit->max_dialect;
        }
        pthread_mutex_unlock(&np_settings_mu);
        return st;
}

/* 2. the environment, else 3. the file's values fv (taken), else 4. the
 * ticket cache: the credentials. */
static int credentials_from_env_or_file(struct np_smb_cfg *cfg, struct np_file_vals *fv)
{
        const char *eu = secure_getenv("NPIPE_SMB_USER");

        if ((eu && *eu) || truthy(secure_getenv("NPIPE_SMB_ANONYMOUS"))) {
                cfg->source = "the environment";
                if (dup_into(&cfg->user, eu && *eu ? eu : NULL) < 0 ||
                    dup_into(&cfg->domain, secure_getenv("NPIPE_SMB_DOMAIN")) < 0 ||
                    dup_into(&cfg->password, secure_getenv("NPIPE_SMB_PASSWORD")) < 0)
                        return NPIPE_ENOMEM;
                if (truthy(secure_getenv("NPIPE_SMB_ANONYMOUS")))
                        cfg->flags |= NPIPE_AUTH_ANONYMOUS;
        } else if (fv->user || fv->anonymous == 1) {
                cfg->source = "remote.conf";
                cfg->user = fv->user;
                cfg->domain = fv->domain;
                cfg->password = fv->password;
                fv->user = fv->domain = fv->password = NULL;
                if (fv->anonymous == 1)
                        cfg->flags |= NPIPE_AUTH_ANONYMOUS;
        } else {
                cfg->source = "the Kerberos ticket cache";
        }
        return 0;
}

/* The options when configure() gave none: the environment over the
 * file's values fv. */
static int options_from_env_or_file(struct np_smb_cfg *cfg, const struct np_file_vals *fv)
{
        const char *v;

        if (fv->port)
                cfg->port = fv->port;
        if (fv->max_dialect)
                cfg->max_dialect = fv->max_dialect;
        if (fv->encrypt == 1)
                cfg->flags |= NPIPE_AUTH_ENCRYPT;
        if (fv->sign == 1)
                cfg->flags |= NPIPE_AUTH_SIGN;
        if (fv->kerberos == 1)
                cfg->flags |= NPIPE_AUTH_KERBEROS;
        if ((v = secure_getenv("NPIPE_SMB_PORT")) && *v && parse_port(v, &cfg->port) < 0) {
                np_smb_why("NPIPE_SMB_PORT=%s is not a port", v);
                return NPIPE_EINVAL;
        }
        if ((v = secure_getenv("NPIPE_SMB_MAX_DIALECT")) && *v && parse_dialect(v, &cfg->max_dialect) < 0) {
                np_smb_why("NPIPE_SMB_MAX_DIALECT=%s is not a dialect (2.0.2, 2.1, 3.0, "
                           "3.0.2, 3.1.1)",
                           v);
                return NPIPE_EINVAL;
        }
        if (truthy(secure_getenv("NPIPE_SMB_ENCRYPT")))
                cfg->flags |= NPIPE_AUTH_ENCRYPT;
        if (truthy(secure_getenv("NPIPE_SMB_SIGN")))
                cfg->flags |= NPIPE_AUTH_SIGN;
        return 0;
}

int np_smb_config_resolve(const char *host, struct np_smb_cfg *cfg)
{
        struct np_file_vals fv = {.anonymous = -1, .encrypt = -1, .sign = -1, .kerberos = -1};
        bool have = false;

        memset(cfg, 0, sizeof(*cfg));
        cfg->host = strdup(host);
        if (!cfg->host)
                return NPIPE_ENOMEM;
        cfg->port = 445;
        int st = from_configure(host, cfg, &have);
        /* the file is read (and an unsafe one refused) even when
         * configure() spoke */
        if (st == 0)
                st = read_file(host, &fv);
        if (st == 0 && !have)
                st = credentials_from_env_or_file(cfg, &fv);
        if (st == 0 && !have)
                st = options_from_env_or_file(cfg, &fv);
        if (st == 0) {
                /* an anonymous session, or an empty user, names nobody */
                if ((cfg->flags & NPIPE_AUTH_ANONYMOUS) || (cfg->user && !*cfg->user)) {
                        free(cfg->user);
                        cfg->user = NULL;
                }
                st = split_user(cfg);
        }
        vals_free(&fv);
        if (st < 0)
                np_smb_cfg_free(cfg);
        return st;
}
