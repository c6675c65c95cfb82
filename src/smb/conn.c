/*
 * conn.c - the connection cache (conn.h): one connection per (host, port,
 * user, domain, options) and process, shared by every handle that asks
 * for the same, reference counted, set up once and closed with its last
 * reference.
 *
 * Why separate: which connection a handle gets, and who waits for whom
 * while one is being set up, has nothing to do with how a connection
 * works; this file only calls downwards, into session.c (to establish and
 * end the session) and xport.c (to start and stop the transport).
 *
 * A forked child never touches its parent's connections: the pid is part
 * of the match, and a child forgets the table at fork, since the socket
 * and the message sequence are shared with the parent.
 *
 * np_conns_mu guards the table and the reference counts, and comes before
 * any c->mu (xport.h).
 */
#include "smb/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "smb/session.h"
#include "smb/xport.h"

static pthread_mutex_t np_conns_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t np_conns_cv; /* a connection finished its set-up */
static struct np_smb_conn *np_conns;
static pthread_once_t np_conns_once = PTHREAD_ONCE_INIT;

static void conns_child(void)
{
        /* The parent's connections are the parent's: forget them (the
         * memory stays; their sockets stay open for the parent). */
        pthread_mutex_init(&np_conns_mu, NULL);
        np_conns = NULL;
}

static void conns_prepare(void)
{
        pthread_mutex_lock(&np_conns_mu);
}

static void conns_parent(void)
{
        pthread_mutex_unlock(&np_conns_mu);
}

static void conns_init(void)
{
        np_smb_cond_init_mono(&np_conns_cv);
        pthread_atfork(conns_prepare, conns_parent, conns_child);
}

bool np_smb_conn_forked(const struct np_smb_conn *c)
{
        return c->pid != getpid();
}

const char *np_smb_conn_desc(const struct np_smb_conn *c)
{
        return c->desc;
}

void np_smb_resp_free(struct np_smb_resp *r)
{
        free(r->msg);
        r->msg = NULL;
        r->len = 0;
}

static bool same(const char *a, const char *b)
{
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

static bool key_match(const struct np_smb_conn *c, const struct np_smb_cfg *cfg)
{
        return strcasecmp(c->host, cfg->host) == 0 && c->port == cfg->port &&
               same(c->user, cfg->user) && same(c->domain, cfg->domain) && c->flags == cfg->flags &&
               c->max_dialect == cfg->max_dialect;
}

static void conn_free(struct np_smb_conn *c)
{
        np_smb_xport_destroy(c);
        free(c->host);
        free(c->user);
        free(c->domain);
        free(c);
}

/* A live connection for cfg from the table, a new reference (np_conns_mu
 * held, and kept; one being set up by another thread is waited for until
 * deadline).  1 when there is none, 0 with *ret, or NPIPE_ETIMEDOUT. */
static int find_conn(const struct np_smb_cfg *cfg, int64_t deadline, struct np_smb_conn **ret)
{
again:
        for (struct np_smb_conn *c = np_conns; c; c = c->next) {
                if (c->pid != getpid() || !key_match(c, cfg))
                        continue;
                pthread_mutex_lock(&c->mu);
                enum np_conn_state s = c->state;
                pthread_mutex_unlock(&c->mu);
                if (s == NP_CONN_DEAD)
                        continue;
                if (s == NP_CONN_SETUP) {
                        /* another thread is setting it up: wait for it */
                        if (!np_smb_cv_wait(&np_conns_cv, &np_conns_mu, deadline)) {
                                np_smb_why("connecting to %s:%u timed out", cfg->host, cfg->port);
                                return NPIPE_ETIMEDOUT;
                        }
                        goto again;
                }
                c->refs++;
                *ret = c;
                return 0;
        }
        return 1;
}

/* A new connection for cfg, not yet set up (NP_CONN_SETUP), or NULL. */
static struct np_smb_conn *conn_new(const struct np_smb_cfg *cfg)
{
        struct np_smb_conn *c = calloc(1, sizeof(*c));

        if (!c || !(c->host = strdup(cfg->host)) || (cfg->user && !(c->user = strdup(cfg->user))) ||
            (cfg->domain && !(c->domain = strdup(cfg->domain)))) {
                if (c) {
                        free(c->host);
                        free(c->user);
                        free(c);
                }
                return NULL;
        }
        c->refs = 1;
        c->pid = getpid();
        c->port = cfg->port;
        c->flags = cfg->flags;
        c->max_dialect = cfg->max_dialect;
        snprintf(c->desc, sizeof(c->desc), strchr(cfg->host, ':') ? "[%s]:%u" : "%s:%u", cfg->host,
                 cfg->port);
        np_smb_xport_init(c);
        return c;
}

/* The set-up ended with st: c is READY, or dead (then also st < 0, with
 * why() set, even when the connection died under a set-up that thought it
 * had succeeded).  Wakes whoever waits for it in find_conn. */
static int setup_done(struct np_smb_conn *c, int st)
{
        pthread_mutex_lock(&np_conns_mu);
        pthread_mutex_lock(&c->mu);
        if (st == 0 && c->state == NP_CONN_SETUP) {
                c->state = NP_CONN_READY;
        } else {
                if (st == 0) {
                        st = c->dead_st;
                        np_smb_why("%s", c->dead_why);
                }
                np_smb_fail_locked(c, st, "set-up failed");
        }
        pthread_mutex_unlock(&c->mu);
        pthread_cond_broadcast(&np_conns_cv);
        pthread_mutex_unlock(&np_conns_mu);
        return st;
}

int np_smb_conn_get(const struct np_smb_cfg *cfg, int timeout_ms, struct np_smb_conn **ret)
{
        int64_t deadline = np_smb_deadline(timeout_ms);

        pthread_once(&np_conns_once, conns_init);
        pthread_mutex_lock(&np_conns_mu);
        int st = find_conn(cfg, deadline, ret);
        if (st <= 0) {
                pthread_mutex_unlock(&np_conns_mu);
                return st;
        }
        struct np_smb_conn *c = conn_new(cfg);
        if (!c) {
                pthread_mutex_unlock(&np_conns_mu);
                np_smb_why("out of memory");
                return NPIPE_ENOMEM;
        }
        /* listed while set up, so that others wait for it rather than
         * make their own */
        c->next = np_conns;
        np_conns = c;
        pthread_mutex_unlock(&np_conns_mu);

        st = np_smb_xport_start(c, deadline);
        if (st == 0)
                st = np_smb_session_establish(c, cfg, deadline);
        st = setup_done(c, st);
        if (st < 0) {
                np_smb_conn_put(c);
                return st;
        }
        *ret = c;
        return 0;
}

void np_smb_conn_put(struct np_smb_conn *c)
{
        if (!c)
                return;
        if (np_smb_conn_forked(c))
                return; /* the parent's: never touched */
        pthread_mutex_lock(&np_conns_mu);
        if (--c->refs > 0) {
                pthread_mutex_unlock(&np_conns_mu);
                return;
        }
        for (struct np_smb_conn **pp = &np_conns; *pp; pp = &(*pp)->next) {
                if (*pp == c) {
                        *pp = c->next;
                        break;
                }
        }
        pthread_mutex_unlock(&np_conns_mu);

        pthread_mutex_lock(&c->mu);
        bool ready = c->state == NP_CONN_READY;
        pthread_mutex_unlock(&c->mu);
        if (ready) /* polite, and quick: LOGOFF ends the tree and the session */
                np_smb_session_logoff(c);
        pthread_mutex_lock(&c->mu);
        np_smb_fail_locked(c, NPIPE_ENETLOST, "the connection to %s was closed", c->desc);
        pthread_mutex_unlock(&c->mu);
        conn_free(c);
}
