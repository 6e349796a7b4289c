/*
 * plugins/otel/otelcfg.c - parsers for the OpenTelemetry variables the otel
 * plugin reads (see otelcfg.h). No allocation survives an error.
 */
#include "otelcfg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* The text [b, e) without surrounding whitespace, percent-decoded into a
 * new string. NULL on a bad escape, a decoded NUL, or no memory (*bad
 * says which). */
static char *decode(const char *b, const char *e, bool *bad)
{
    while (b < e && is_ows(*b))
        b++;
    while (e > b && is_ows(e[-1]))
        e--;
    char *out = malloc((size_t)(e - b) + 1), *o = out;
    *bad = false;
    if (!out)
        return NULL;
    for (const char *p = b; p < e; p++) {
        if (*p != '%') {
            *o++ = *p;
            continue;
        }
        int hi = p + 2 < e ? hexval(p[1]) : -1, lo = p + 2 < e ? hexval(p[2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(out);
            *bad = true;
            return NULL;
        }
        *o++ = (char)(hi * 16 + lo);
        p += 2;
    }
    *o = '\0';
    return out;
}

static bool is_token(const char *s)
{
    static const char seps[] = "()<>@,;:\\\"/[]?={} \t";
    if (!*s)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= 32 || (unsigned char)*s >= 127 || strchr(seps, *s))
            return false;
    return true;
}

/* Control characters; a tab is let be in values (not in keys). */
static bool has_ctl(const char *s, bool tab_ok)
{
    for (; *s; s++)
        if (((unsigned char)*s < 32 && !(tab_ok && *s == '\t')) || *s == 127)
            return true;
    return false;
}

void otel_kv_free(otel_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

int otel_kv_parse(const char *text, bool headers, otel_kv **kv, size_t *n, char *err, size_t errlen)
{
    size_t n0 = *n, entry = 0;
    const char *p = text ? text : "";
    /* Nothing but whitespace is an empty list. */
    const char *q = p;
    while (is_ows(*q))
        q++;
    if (!*q)
        return 0;
    for (;;) {
        entry++;
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (!eq) {
            snprintf(err, errlen, "entry %zu: no '=' (want key=value,...)", entry);
            goto fail;
        }
        bool bad = false;
        char *k = decode(p, eq, &bad), *v = k ? decode(eq + 1, end, &bad) : NULL;
        const char *why = bad ? "a bad percent escape (want %XX, not %00)" : "out of memory";
        if (k && v && !*k)
            why = "an empty key";
        else if (k && v && headers && !is_token(k))
            why = "a header name that is not an HTTP token";
        else if (k && v && (has_ctl(k, false) || has_ctl(v, true)))
            why = "a control character";
        else if (k && v)
            why = NULL;
        if (why) {
            free(k);
            free(v);
            snprintf(err, errlen, "entry %zu: %s", entry, why);
            goto fail;
        }
        otel_kv *nkv = realloc(*kv, (*n + 1) * sizeof **kv);
        if (!nkv) {
            free(k);
            free(v);
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        *kv = nkv;
        nkv[*n].key = k;
        nkv[*n].value = v;
        (*n)++;
        if (!*end)
            return 0;
        p = end + 1;
    }
fail:
    for (size_t i = n0; i < *n; i++) {
        free((*kv)[i].key);
        free((*kv)[i].value);
    }
    *n = n0;
    return -1;
}

int otel_parse_ms(const char *text, long *ms)
{
    long v = 0;
    if (!text || !*text)
        return -1;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
        if (v > 3600000)
            return -1;
    }
    *ms = v;
    return 0;
}

int otel_check_url(const char *url, char *err, size_t errlen)
{
    const char *h;
    if (strncmp(url, "http://", 7) == 0)
        h = url + 7;
    else if (strncmp(url, "https://", 8) == 0)
        h = url + 8;
    else {
        snprintf(err, errlen, "'%s' is not an http:// or https:// URL", url);
        return -1;
    }
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= 32 || *p == 127) {
            snprintf(err, errlen, "'%s' holds a space or a control character", url);
            return -1;
        }
    size_t hl = strcspn(h, "/?#");
    const char *port = NULL;
    if (memchr(h, '@', hl)) {
        snprintf(err, errlen, "'%s': credentials in the URL are not supported", url);
        return -1;
    }
    if (hl && h[0] == '[') {
        const char *close = memchr(h, ']', hl);
        if (!close || close == h + 1) {
            snprintf(err, errlen, "'%s': bad IPv6 address", url);
            return -1;
        }
        if (close + 1 < h + hl) {
            if (close[1] != ':') {
                snprintf(err, errlen, "'%s': bad host", url);
                return -1;
            }
            port = close + 2;
        }
    } else {
        const char *c = memchr(h, ':', hl);
        if (c == h || hl == 0) {
            snprintf(err, errlen, "'%s' has no host", url);
            return -1;
        }
        if (c)
            port = c + 1;
    }
    if (port) {
        long v = 0;
        const char *p = port;
        for (; p < h + hl; p++) {
            if (*p < '0' || *p > '9' || v > 65535) {
                v = -1;
                break;
            }
            v = v * 10 + (*p - '0');
        }
        if (p == port || v < 1 || v > 65535) {
            snprintf(err, errlen, "'%s': bad port", url);
            return -1;
        }
    }
    return 0;
}
