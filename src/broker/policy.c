/*
 * policy.c - who may do what with a pipe.
 *
 * One rule decides whether an identity may open a pipe or add an instance
 * to it (the pipe's access policy, INST-07 and SEC-04), whoever asks: a
 * local process by its SO_PEERCRED credentials, a remote (SMB) user by the
 * unix identity Samba mapped it to.  The exposure policy of remote.c asks
 * the same group question (np_client_in_group) of a pipe's creator.  The
 * NT rules on joining an existing name (np_join_check) apply to CREATE and
 * to a server instance re-registered after a broker restart alike; state.c
 * admits the instance (np_instance_admit) with the limits of limits.h.
 *
 * Only questions, answered from the pipe and the asker alone: this file
 * calls no other, so that every layer (remote.c below the namespace,
 * list.c and requests.c above it) may ask.
 */
#include "broker/broker.h"

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
int np_join_check(const struct np_pipe *p, const struct np_client *c,
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
