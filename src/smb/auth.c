/*
 * auth.c - SESSION_SETUP's security blobs through GSSAPI (auth.h).
 *
 * SPNEGO (1.3.6.1.5.5.2) negotiates the mechanism, as every SMB server
 * expects.  With a user and password the credential is acquired with the
 * password and SPNEGO is told which mechanisms it may offer: NTLM (gss-
 * ntlmssp's 1.3.6.1.4.1.311.2.2.10, registered in /etc/gss/mech.d), and
 * Kerberos as well when the user names a realm (user@REALM), or Kerberos
 * only with NPIPE_AUTH_KERBEROS.  Without a user, GSSAPI's default
 * credential is used: the Kerberos ticket cache.  An anonymous (null)
 * session sends no token at all and relies on the server accepting it.
 *
 * The server's NEGOTIATE blob (its SPNEGO hints) is not fed to
 * gss_init_sec_context: MIT's SPNEGO takes no input token on the first
 * call, and the mechanism choice is ours anyway (gss_set_neg_mechs).
 *
 * The target is "cifs@HOST" as a host-based service name; the session key
 * for signing and encryption comes from GSS_C_INQ_SSPI_SESSION_KEY.
 */
#include "smb/auth.h"

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npipe/npipe.h"

static gss_OID_desc np_oid_spnego = {6, (void *)"\x2b\x06\x01\x05\x05\x02"};
static gss_OID_desc np_oid_ntlm = {10, (void *)"\x2b\x06\x01\x04\x01\x82\x37\x02\x02\x0a"};
static gss_OID_desc np_oid_krb5 = {9, (void *)"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02"};

struct np_smb_auth {
        gss_cred_id_t cred;
        gss_ctx_id_t ctx;
        gss_name_t target;
        bool anonymous;
        bool complete;
        char who[300];
        char host[256];
};

/* GSSAPI's words for (maj, min), appended to buf. */
static void gss_text(OM_uint32 maj, OM_uint32 min, gss_OID mech, char *buf, size_t cap)
{
        size_t n = strlen(buf);
        OM_uint32 m, ctx = 0;
        gss_buffer_desc s;
        int type = GSS_C_GSS_CODE;
        OM_uint32 code = maj;

        for (int pass = 0; pass < 2; pass++) {
                ctx = 0;
                do {
                        if (gss_display_status(&m, code, type, mech, &ctx, &s) != GSS_S_COMPLETE)
                                break;
                        if (n + 3 < cap && s.length > 0)
                                n += (size_t)snprintf(buf + n, cap - n, "%s%.*s", n ? ": " : "",
                                                      (int)s.length, (char *)s.value);
                        gss_release_buffer(&m, &s);
                } while (ctx != 0 && n + 3 < cap);
                if (min == 0)
                        break;
                type = GSS_C_MECH_CODE;
                code = min;
        }
}

/* An anonymous (null) session's credential: NTLM's anonymous
 * authentication, from GSS_C_NT_ANONYMOUS, inside SPNEGO. */
static int acquire_anonymous(struct np_smb_auth *a)
{
        OM_uint32 maj, min;
        gss_OID_set_desc spnego_set = {1, &np_oid_spnego};
        gss_buffer_desc nb = {0, (void *)""};
        gss_name_t anon = GSS_C_NO_NAME;
        char text[512] = "";

        a->anonymous = true;
        maj = gss_import_name(&min, &nb, GSS_C_NT_ANONYMOUS, &anon);
        if (!GSS_ERROR(maj))
                maj = gss_acquire_cred(&min, anon, GSS_C_INDEFINITE, &spnego_set, GSS_C_INITIATE,
                                       &a->cred, NULL, NULL);
        gss_release_name(&min, &anon);
        if (GSS_ERROR(maj)) {
                gss_text(maj, min, GSS_C_NO_OID, text, sizeof(text));
                np_smb_why("no anonymous NTLM credential (GSSAPI: %s)", text);
                return NPIPE_ELOGON;
        }
        return 0;
}

/* A credential from cfg's user and password ("DOMAIN\user" when the
 * domain is separate and the user names none). */
static int acquire_password(struct np_smb_auth *a, const struct np_smb_cfg *cfg)
{
        OM_uint32 maj, min;
        gss_OID_set_desc spnego_set = {1, &np_oid_spnego};
        char text[512] = "";
        char name[600];

        if (cfg->domain && *cfg->domain && !strchr(cfg->user, '\\') && !strchr(cfg->user, '@'))
                snprintf(name, sizeof(name), "%s\\%s", cfg->domain, cfg->user);
        else
                snprintf(name, sizeof(name), "%s", cfg->user);
        gss_buffer_desc nb = {strlen(name), name};
        gss_name_t uname = GSS_C_NO_NAME;
        maj = gss_import_name(&min, &nb, GSS_C_NT_USER_NAME, &uname);
        if (GSS_ERROR(maj)) {
                gss_text(maj, min, GSS_C_NO_OID, text, sizeof(text));
                np_smb_why("bad user name %s: %s", name, text);
                return NPIPE_ELOGON;
        }
        gss_buffer_desc pw = {strlen(cfg->password), cfg->password};
        maj = gss_acquire_cred_with_password(&min, uname, &pw, GSS_C_INDEFINITE, &spnego_set,
                                             GSS_C_INITIATE, &a->cred, NULL, NULL);
        gss_release_name(&min, &uname);
        if (GSS_ERROR(maj)) {
                gss_text(maj, min, GSS_C_NO_OID, text, sizeof(text));
                np_smb_why("no credentials for %s (GSSAPI: %s)", a->who, text);
                return NPIPE_ELOGON;
        }
        return 0;
}

/* The default credential: the ticket cache (or gss-ntlmssp's own
 * NTLM_USER_FILE). */
static int acquire_default(struct np_smb_auth *a, const struct np_smb_cfg *cfg)
{
        OM_uint32 maj, min;
        gss_OID_set_desc spnego_set = {1, &np_oid_spnego};
        char text[512] = "";

        maj = gss_acquire_cred(&min, GSS_C_NO_NAME, GSS_C_INDEFINITE, &spnego_set, GSS_C_INITIATE,
                               &a->cred, NULL, NULL);
        if (GSS_ERROR(maj)) {
                gss_text(maj, min, GSS_C_NO_OID, text, sizeof(text));
                np_smb_why("no user given and no default credentials (Kerberos ticket "
                           "cache) for %s: %s",
                           cfg->host, text);
                return NPIPE_ELOGON;
        }
        return 0;
}

/* Acquire cfg's credential and tell SPNEGO which mechanisms it may
 * offer with it: NTLM only for a null session; else NTLM unless
 * Kerberos is demanded, and Kerberos when demanded, when the user names
 * a realm, or for the ticket cache. */
static int acquire(struct np_smb_auth *a, const struct np_smb_cfg *cfg)
{
        OM_uint32 maj, min;
        gss_OID_desc neg[2];
        gss_OID_set_desc negset = {0, neg};
        char text[512] = "";
        int st;

        if (cfg->flags & NPIPE_AUTH_ANONYMOUS) {
                neg[negset.count++] = np_oid_ntlm;
                st = acquire_anonymous(a);
        } else {
                bool realm = cfg->user && strchr(cfg->user, '@') && !strchr(cfg->user, '\\');
                if (!(cfg->flags & NPIPE_AUTH_KERBEROS))
                        neg[negset.count++] = np_oid_ntlm;
                if ((cfg->flags & NPIPE_AUTH_KERBEROS) || realm || !cfg->user)
                        neg[negset.count++] = np_oid_krb5;
                st = cfg->user && cfg->password ? acquire_password(a, cfg)
                                                : acquire_default(a, cfg);
        }
        if (st < 0)
                return st;
        maj = gss_set_neg_mechs(&min, a->cred, &negset);
        if (GSS_ERROR(maj)) {
                gss_text(maj, min, GSS_C_NO_OID, text, sizeof(text));
                np_smb_why("SPNEGO refused the mechanism list: %s", text);
                return NPIPE_ELOGON;
        }
        return 0;
}

int np_smb_auth_start(const struct np_smb_cfg *cfg, struct np_smb_auth **ret)
{
        OM_uint32 maj, min;
        struct np_smb_auth *a = calloc(1, sizeof(*a));
        char target[300];
        char text[512] = "";

        if (!a)
                return NPIPE_ENOMEM;
        a->cred = GSS_C_NO_CREDENTIAL;
        a->ctx = GSS_C_NO_CONTEXT;
        a->target = GSS_C_NO_NAME;
        np_smb_cfg_who(cfg, a->who, sizeof(a->who));
        snprintf(a->host, sizeof(a->host), "%s", cfg->host);
        snprintf(target, sizeof(target), "cifs@%s", cfg->host);
        gss_buffer_desc tb = {strlen(target), target};
        maj = gss_import_name(&min, &tb, GSS_C_NT_HOSTBASED_SERVICE, &a->target);
        if (GSS_ERROR(maj)) {
                gss_text(maj, min, GSS_C_NO_OID, text, sizeof(text));
                np_smb_why("bad target name %s: %s", target, text);
                np_smb_auth_free(a);
                return NPIPE_EINVAL;
        }
        int st = acquire(a, cfg);
        if (st < 0) {
                np_smb_auth_free(a);
                return st;
        }
        *ret = a;
        return 0;
}

int np_smb_auth_step(struct np_smb_auth *a, const uint8_t *in, size_t in_len, uint8_t **out,
                     size_t *out_len, bool *done)
{
        OM_uint32 maj, min, ret_flags = 0;
        gss_buffer_desc ib = {in_len, (void *)in};
        gss_buffer_desc ob = GSS_C_EMPTY_BUFFER;
        char text[512] = "";

        *out = NULL;
        *out_len = 0;
        if (a->complete) {
                *done = true;
                return 0;
        }
        maj = gss_init_sec_context(&min, a->cred, &a->ctx, a->target,
                                   &np_oid_spnego,
                                   a->anonymous ? GSS_C_ANON_FLAG
                                                : GSS_C_MUTUAL_FLAG | GSS_C_INTEG_FLAG,
                                   GSS_C_INDEFINITE,
                                   GSS_C_NO_CHANNEL_BINDINGS, in ? &ib : GSS_C_NO_BUFFER, NULL,
                                   &ob, &ret_flags, NULL);
        if (GSS_ERROR(maj)) {
                gss_release_buffer(&min, &ob);
                gss_text(maj, min, GSS_C_NO_OID, text, sizeof(text));
                np_smb_why("logon failure for %s at %s (GSSAPI: %s)", a->who, a->host, text);
                return NPIPE_ELOGON;
        }
        *out = malloc(ob.length ? ob.length : 1);
        if (!*out) {
                gss_release_buffer(&min, &ob);
                return NPIPE_ENOMEM;
        }
        if (ob.length)
                memcpy(*out, ob.value, ob.length);
        *out_len = ob.length;
        gss_release_buffer(&min, &ob);
        a->complete = !(maj & GSS_S_CONTINUE_NEEDED);
        *done = a->complete;
        return 0;
}

int np_smb_auth_session_key(struct np_smb_auth *a, uint8_t *key, size_t cap, size_t *len)
{
        OM_uint32 maj, min;
        gss_buffer_set_t set = GSS_C_NO_BUFFER_SET;
        char text[512] = "";

        if (a->anonymous || a->ctx == GSS_C_NO_CONTEXT) {
                np_smb_why("no session key: anonymous session");
                return NPIPE_EACCES;
        }
        maj = gss_inquire_sec_context_by_oid(&min, a->ctx, GSS_C_INQ_SSPI_SESSION_KEY, &set);
        if (GSS_ERROR(maj) || !set || set->count < 1 || set->elements[0].length == 0) {
                if (GSS_ERROR(maj))
                        gss_text(maj, min, GSS_C_NO_OID, text, sizeof(text));
                gss_release_buffer_set(&min, &set);
                np_smb_why("GSSAPI gave no session key%s%s", *text ? ": " : "", text);
                return NPIPE_EPROTO;
        }
        size_t n = set->elements[0].length;
        if (n > cap)
                n = cap;
        memcpy(key, set->elements[0].value, n);
        *len = n;
        gss_release_buffer_set(&min, &set);
        return 0;
}

void np_smb_auth_free(struct np_smb_auth *a)
{
        OM_uint32 min;

        if (!a)
                return;
        if (a->ctx != GSS_C_NO_CONTEXT)
                gss_delete_sec_context(&min, &a->ctx, GSS_C_NO_BUFFER);
        if (a->cred != GSS_C_NO_CREDENTIAL)
                gss_release_cred(&min, &a->cred);
        if (a->target != GSS_C_NO_NAME)
                gss_release_name(&min, &a->target);
        free(a);
}
