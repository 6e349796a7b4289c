/*
 * fault/secret.h - keeping credentials out of what fault writes (ABI 1.3).
 *
 * Reports, results, --events and --tail are shared and archived (CI keeps
 * them); requests carry credentials in headers and in query strings. What
 * fault writes shows the values of secret-bearing names as "xxxxxx". A
 * name is secret when it is in the default set below or matches one of
 * the user's patterns: `--mask NAME` (a global option, repeatable) or
 * FAULT_MASK (comma-separated), where `*` matches any run of characters.
 * Names compare case-insensitively, and '-' and '_' are the same there.
 *
 * Default headers: authorization, proxy-authorization, cookie, set-cookie,
 * x-api-key, api-key, apikey, x-auth-token, x-access-token, x-csrf-token,
 * x-amz-security-token, x-goog-api-key, and any name ending in "-token",
 * "-secret", "-password" or "-api-key".
 * Default query parameters: api_key, apikey, key, token, access_token,
 * refresh_token, id_token, auth, password, passwd, secret, client_secret,
 * signature, sig, x-amz-signature, x-amz-security-token, x-amz-credential,
 * x-goog-signature, and the same endings as headers.
 */
#ifndef FAULT_SECRET_H
#define FAULT_SECRET_H

#include <fault/common.h>

FAULT_BEGIN_DECLS

/* The text that replaces a secret value. */
#define FAULT_SECRET_MASK "xxxxxx"

/* Whether the values of a header or query parameter called name are
 * secret. NULL is not. */
FAULT_API bool fault_secret_name(const char *name);
/* The value to show for a header: FAULT_SECRET_MASK when name is secret,
 * else value itself. */
FAULT_API const char *fault_secret_header(const char *name, const char *value);
/* url with the value of every secret query parameter replaced by
 * FAULT_SECRET_MASK (and any user:password@ part of the authority),
 * written to buf (NUL-terminated, cut to len). Returns buf; NULL url
 * gives "". */
FAULT_API const char *fault_secret_url(const char *url, char *buf, size_t len);

FAULT_END_DECLS

#endif /* FAULT_SECRET_H */
