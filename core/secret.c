/*
 * core/secret.c - <fault/secret.h>: which header and query parameter
 * names carry credentials, and URLs with their values masked.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *const secret_headers[] = {"authorization",
                                             "proxy-authorization",
                                             "cookie",
                                             "set-cookie",
                                             "x-api-key",
                                             "api-key",
                                             "apikey",
                                             "x-auth-token",
                                             "x-access-token",
                                             "x-csrf-token",
                                             "x-amz-security-token",
                                             "x-goog-api-key",
                                             NULL};
static const char *const secret_params[] = {"api-key",
                                            "apikey",
                                            "key",
                                            "token",
                                            "access-token",
                                            "refresh-token",
                                            "id-token",
                                            "auth",
                                            "password",
                                            "passwd",
                                            "secret",
                                            "client-secret",
                                            "signature",
                                            "sig",
                                            "x-amz-signature",
                                            "x-amz-security-token",
                                            "x-amz-credential",
                                            "x-goog-signature",
                                            NULL};
static const char *const secret_endings[] = {"-token", "-secret", "-password", "-api-key", NULL};

/* Folded: lower case, '_' as '-'. */
static char fold(char c)
{
    if (c >= 'A' && c <= 'Z')
        return (char)(c - 'A' + 'a');
    return c == '_' ? '-' : c;
}

/* name[0..n) against pattern p (folded compare, '*' any run). Names come
 * from traffic and may be long: one pass with a single backtrack point
 * (the last star), O(pattern * name) at worst, never exponential. */
static bool glob(const char *p, const char *name, size_t n)
{
    const char *star = NULL;
    size_t i = 0, resume = 0;
    while (i < n) {
        if (*p == '*') {
            star = ++p;
            resume = i;
        } else if (*p && fold(*p) == fold(name[i])) {
            p++;
            i++;
        } else if (star) {
            /* The last star takes one more character. */
            p = star;
            i = ++resume;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

static bool in_list(const char *const *list, const char *name, size_t n)
{
    for (size_t i = 0; list[i]; i++)
        if (strlen(list[i]) == n && glob(list[i], name, n))
            return true;
    return false;
}

static bool ends_secret(const char *name, size_t n)
{
    for (size_t i = 0; secret_endings[i]; i++) {
        size_t m = strlen(secret_endings[i]);
        if (n > m && glob(secret_endings[i], name + n - m, m))
            return true;
    }
    return false;
}

/* The user's patterns (--mask, FAULT_MASK), set by the command line. */
static const fault_strv *user_patterns;

void fault__secrets_set(const fault_strv *patterns)
{
    user_patterns = patterns;
}

static bool user_secret(const char *name, size_t n)
{
    for (size_t i = 0; user_patterns && i < user_patterns->n; i++)
        if (glob(user_patterns->v[i], name, n))
            return true;
    return false;
}

static bool secret_n(const char *name, size_t n, bool param)
{
    return in_list(param ? secret_params : secret_headers, name, n) || ends_secret(name, n) ||
           user_secret(name, n);
}

bool fault_secret_name(const char *name)
{
    if (!name)
        return false;
    size_t n = strlen(name);
    return secret_n(name, n, false) || secret_n(name, n, true);
}

bool fault__secret_param(const char *name)
{
    return name && secret_n(name, strlen(name), true);
}

const char *fault_secret_header(const char *name, const char *value)
{
    return name && secret_n(name, strlen(name), false) ? FAULT_SECRET_MASK : value;
}

/* Appends s[0..n) to buf at *at, keeping room for the NUL. */
static void put(char *buf, size_t len, size_t *at, const char *s, size_t n)
{
    if (*at + 1 >= len)
        return;
    size_t room = len - 1 - *at;
    if (n > room)
        n = room;
    memcpy(buf + *at, s, n);
    *at += n;
    buf[*at] = '\0';
}

const char *fault_secret_url(const char *url, char *buf, size_t len)
{
    if (!buf || len == 0)
        return "";
    buf[0] = '\0';
    if (!url)
        return buf;
    size_t at = 0;
    const char *p = url;
    /* user:password@ in the authority: only where the URL starts with a
     * scheme (a URL inside the query is the query's). */
    size_t sl = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
    const char *scheme = sl > 0 && strncmp(p + sl, "://", 3) == 0 ? p + sl : NULL;
    if (scheme) {
        const char *auth = scheme + 3;
        size_t alen = strcspn(auth, "/?#");
        const char *atsign = memchr(auth, '@', alen);
        if (atsign) {
            const char *colon = memchr(auth, ':', (size_t)(atsign - auth));
            put(buf, len, &at, p, (size_t)((colon ? colon + 1 : auth) - p));
            put(buf, len, &at, FAULT_SECRET_MASK, strlen(FAULT_SECRET_MASK));
            p = atsign;
        }
    }
    const char *q = strchr(p, '?');
    if (!q) {
        put(buf, len, &at, p, strlen(p));
        return buf;
    }
    put(buf, len, &at, p, (size_t)(q - p) + 1);
    p = q + 1;
    while (*p) {
        size_t plen = strcspn(p, "&#");
        const char *eq = memchr(p, '=', plen);
        if (eq && secret_n(p, (size_t)(eq - p), true)) {
            put(buf, len, &at, p, (size_t)(eq - p) + 1);
            put(buf, len, &at, FAULT_SECRET_MASK, strlen(FAULT_SECRET_MASK));
        } else {
            put(buf, len, &at, p, plen);
        }
        p += plen;
        if (*p == '#') {
            put(buf, len, &at, p, strlen(p));
            break;
        }
        if (*p == '&') {
            put(buf, len, &at, "&", 1);
            p++;
        }
    }
    return buf;
}

const char *fault__param_shown(const fault_param *p, char *buf, size_t len)
{
    if (!p->str)
        return "";
    if (p->key && secret_n(p->key, strlen(p->key), false))
        return FAULT_SECRET_MASK;
    if (strstr(p->str, "://") || p->str[0] == '/')
        return fault_secret_url(p->str, buf, len);
    return p->str;
}
