/*
 * policy.c - who may do what with a pipe.
 *
 * One rule decides whether an identity may open a pipe or add an instance
 * to it (the pipe's access policy, INST-07 and SEC-04), whoever asks: a
 * local process by its SO_PEERCRED credentials, a remote (SMB) user by the
 * unix identity Samba mapped it to.  The exposure policy of remote.c asks
 * the same group question (np_client_in_group) of a pipe's creator.  Admission of
 * a new instance (np_instance_admit) adds the NT rules on joining an
 * existing name and the limits of limits.h, for CREATE and for a server
 * instance re-registered after a broker restart alike.
 */
#include "broker/broker.h"

#include "broker/limits.h"
#include "npipe/npipe.h"

/* Is `want` the primary group or one of the supplementary groups? */
static bool in_group(gid_t gid, const gid_t *groups, size_t ngroups, gid_t want)
{
        if (gid == want)
                return true;
        for (size_t i = 0; i < ngroups; i++)
                if (groups[i] == want)
                        return true;
        return false;
}

bool np_client_in_group(const struct np_client *c, gid_t want)
{
        return in_group(c->gid, c->groups, c->ngroups > 0 ? (size_t)c->ngroups : 0, want);
}

/* The pipe's policy for one identity (INST-07, SEC-04); root may always. */
static bool policy_allows(const struct np_pipe *p, uid_t uid, gid_t gid, const gid_t *groups,
                          size_t ngroups)
{
        if (uid == 0 || uid == p->owner_uid)
                return true;
        switch (p->params.policy) {
        case NPIPE_ACCESS_EVERYONE:
                return true;
        case NPIPE_ACCESS_GROUP:
                return in_group(gid, groups, ngroups, (gid_t)p->params.gid);
        default:
                return false;
        }
}

/* May c open the pipe or create another instance of it?  The policy is
 * the first instance's, by the process's own credentials. */
bool np_allowed(const struct np_pipe *p, const struct np_client *c)
{
        return policy_allows(p, c->uid, c->gid, c->groups, c->ngroups > 0 ? (size_t)c->ngroups : 0);
}

_Static_assert(sizeof(gid_t) == sizeof(uint32_t), "np_remote_id groups are gid_t");

/* The same rule for a remote (SMB) user, by the unix identity Samba mapped
 * it to; a null session is "everyone" at most, and only where the pipe's
 * first instance allowed it (NPIPE_ALLOW_ANONYMOUS). */
bool np_allowed_remote(const struct np_pipe *p, const struct np_remote_id *id)
{
        if (id->flags & NPIPE_REMOTE_ANONYMOUS)
                return p->allow_anon && p->params.policy == NPIPE_ACCESS_EVERYONE;
        return policy_allows(p, id->uid, id->gid, (const gid_t *)id->groups, id->ngroups);
}

/* May c add an instance to the existing pipe p?  INST-06 (FIRST_INSTANCE)
 * does not apply to an adopted instance: it existed before the restart. */
static int join_check(const struct np_pipe *p, const struct np_client *c,
                      const struct np_pipe_params *params, uint32_t flags, bool adopted)
{
        if (!np_allowed(p, c)) /* INST-07 */
                return NPIPE_EACCES;
        if (!adopted && (flags & NP_CREATE_FIRST_INSTANCE)) /* INST-06 */
                return NPIPE_EACCES;
        if (params->dir != p->params.dir) /* INST-03 */
                return NPIPE_EACCES;
        /* INST-02, INST-05 */
        if (p->params.max_instances != 0 && p->n_instances >= p->params.max_instances)
                return NPIPE_EBUSY;
        return 0;
}

/*
 * A new DISCONNECTED instance of `name` for c (CREATE, or ADOPT of a
 * server instance: adopt_id is then the id it had, else 0 for a fresh
 * one), joining the pipe of that name or creating it.  with_fd: it will
 * hold a segment (a LISTENING instance).  Returns 0 with *out set, or the
 * status to answer; the caller sets the state and the creation flags.
 */
int np_instance_admit(struct np_broker *b, struct np_client *c, const char *name, uint32_t len,
                      const struct np_pipe_params *params, uint32_t flags, uint64_t adopt_id,
                      bool with_fd, struct np_instance **out)
{
        struct np_instance *i;
        struct np_pipe *p;
        int status;

        if (c->n_instances >= NP_LIM_INSTANCES_PER_CLIENT ||
            np_pool_full(c, b->n_instances, c->acct->instances, NP_LIM_INSTANCES) ||
            (with_fd && np_fd_share_full(b, c->acct, 1)))
                return NPIPE_ELIMIT;
        p = np_pipe_find(b, name, len);
        if (p != NULL) {
                status = join_check(p, c, params, flags, adopt_id != 0);
                if (status < 0)
                        return status;
        } else {
                if (np_pool_full(c, b->n_pipes, c->acct->pipes, NP_LIM_PIPES))
                        return NPIPE_ELIMIT;
                p = np_pipe_new(b, name, len, params, c, flags);
                if (p == NULL)
                        return NPIPE_ENOMEM;
        }
        i = np_instance_new(b, c, p, params, adopt_id != 0 ? adopt_id : ++b->next_id);
        if (i == NULL) {
                np_pipe_maybe_remove(b, p);
                return NPIPE_ENOMEM;
        }
        *out = i;
        return 0;
}
