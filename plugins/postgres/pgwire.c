/*
 * plugins/postgres/pgwire.c - the PostgreSQL wire format: the streaming
 * framer and the few bodies the plugin reads and writes (see pgwire.h).
 *
 * The framer never needs a whole message. It gathers the five header
 * bytes, asks the handler how much of the body it wants to see (nothing
 * for a DataRow, the whole statement for a Query, up to PG_MAX_INSPECT),
 * gathers that prefix, lets the handler decide, and then streams the rest
 * of the body through or drops it. Memory per direction is therefore the
 * header plus one bounded prefix, whatever the peer sends.
 */
#include <stdlib.h>
#include <string.h>

#include <fault/common.h>

#include "pgwire.h"

void pg_framer_init(pg_framer *f, const pg_framer_ops *ops, void *ud)
{
    memset(f, 0, sizeof *f);
    f->ops = ops;
    f->ud = ud;
}

void pg_framer_free(pg_framer *f)
{
    free(f->buf);
    f->buf = NULL;
    f->blen = f->bcap = 0;
}

bool pg_framer_idle(const pg_framer *f)
{
    return f->hlen == 0 && f->left == 0 && !f->deciding;
}

/* The prefix is complete (or is the whole body): ask, then emit what was
 * held back if the message goes on. */
static void decide(pg_framer *f)
{
    f->deciding = false;
    /* Never a NULL body, even before the first prefix was buffered. */
    static const uint8_t empty[1];
    pg_verdict v = f->ops->message(f->ud, f->hdr[0], f->len, f->buf ? f->buf : empty, f->blen);
    if (v == PG_FORWARD) {
        f->ops->emit(f->ud, f->hdr, 5);
        if (f->blen)
            f->ops->emit(f->ud, f->buf, f->blen);
        f->dropping = false;
    } else {
        f->dropping = true;
    }
    f->blen = 0;
    if (f->left == 0) {
        f->hlen = 0;
        f->messages++;
    }
}

int pg_framer_feed(pg_framer *f, const uint8_t *data, size_t len)
{
    while (len > 0) {
        if (f->hlen < 5) {
            size_t n = 5 - f->hlen;
            if (n > len)
                n = len;
            memcpy(f->hdr + f->hlen, data, n);
            f->hlen = (uint8_t)(f->hlen + n);
            data += n;
            len -= n;
            if (f->hlen < 5)
                return 0;
            f->len = pg_get32(f->hdr + 1);
            if (f->len < 4 || f->len > PG_MAX_MESSAGE)
                return FAULT_EPROTO;
            f->left = f->len - 4;
            size_t want = f->ops->head(f->ud, f->hdr[0], f->len);
            if (want > f->left)
                want = f->left;
            if (want > PG_MAX_INSPECT)
                want = PG_MAX_INSPECT;
            f->want = want;
            f->blen = 0;
            f->deciding = true;
            if (want == 0) {
                decide(f);
                continue;
            }
        }
        if (f->deciding) {
            size_t n = f->want - f->blen;
            if (n > len)
                n = len;
            if (n == 0) /* the header ended the bytes given */
                continue;
            /* The buffer grows with the bytes that came, not with what the
             * length word promises: a 5-byte header claiming a 1 GiB Query
             * costs nothing until the statement arrives. */
            if (f->blen + n > f->bcap) {
                size_t cap = f->bcap ? f->bcap : 256;
                while (cap < f->blen + n)
                    cap *= 2;
                if (cap > f->want)
                    cap = f->want;
                uint8_t *nb = realloc(f->buf, cap);
                if (!nb)
                    return FAULT_ENOMEM;
                f->buf = nb;
                f->bcap = cap;
            }
            memcpy(f->buf + f->blen, data, n);
            f->blen += n;
            f->left -= (uint32_t)n;
            data += n;
            len -= n;
            if (f->blen == f->want)
                decide(f);
            continue;
        }
        /* The rest of a decided message's body. */
        size_t n = f->left;
        if (n > len)
            n = len;
        if (!f->dropping)
            f->ops->emit(f->ud, data, n);
        f->left -= (uint32_t)n;
        data += n;
        len -= n;
        if (f->left == 0) {
            f->hlen = 0;
            f->messages++;
        }
    }
    return 0;
}

const char *pg_cstring(const uint8_t *body, size_t have, size_t *off)
{
    if (*off >= have)
        return NULL;
    const uint8_t *s = body + *off;
    const uint8_t *nul = memchr(s, '\0', have - *off);
    if (!nul)
        return NULL;
    *off = (size_t)(nul - body) + 1;
    return (const char *)s;
}

bool pg_error_field(const uint8_t *body, size_t have, char field, char *out, size_t outlen)
{
    size_t off = 0;
    while (off < have && body[off] != 0) {
        char code = (char)body[off++];
        const char *v = pg_cstring(body, have, &off);
        if (!v)
            return false;
        if (code == field) {
            if (outlen) {
                size_t n = strlen(v);
                if (n >= outlen)
                    n = outlen - 1;
                memcpy(out, v, n);
                out[n] = '\0';
            }
            return true;
        }
    }
    return false;
}

/* Appends one field (code byte and NUL-terminated value). */
static bool put_field(uint8_t *out, size_t outlen, size_t *off, char code, const char *v)
{
    size_t n = strlen(v);
    if (*off + 2 + n > outlen)
        return false;
    out[(*off)++] = (uint8_t)code;
    memcpy(out + *off, v, n + 1);
    *off += n + 1;
    return true;
}

size_t pg_build_error(uint8_t *out, size_t outlen, const char *severity, const char *sqlstate,
                      const char *message, const char *detail)
{
    size_t off = 5;
    if (outlen < 6)
        return 0;
    if (!put_field(out, outlen, &off, 'S', severity) ||
        !put_field(out, outlen, &off, 'V', severity) ||
        !put_field(out, outlen, &off, 'C', sqlstate) ||
        !put_field(out, outlen, &off, 'M', message) ||
        (detail && !put_field(out, outlen, &off, 'D', detail)))
        return 0;
    if (off + 1 > outlen)
        return 0;
    out[off++] = 0;
    out[0] = 'E';
    pg_put32(out + 1, (uint32_t)(off - 1));
    return off;
}

bool pg_sqlstate_valid(const char *s)
{
    if (!s || strlen(s) != 5)
        return false;
    for (int i = 0; i < 5; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')))
            return false;
    }
    return true;
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

bool pg_sql_starts_with(const char *sql, size_t len, const char *word)
{
    size_t i = 0;
    for (;;) {
        while (i < len && (sql[i] == ' ' || sql[i] == '\t' || sql[i] == '\n' || sql[i] == '\r' ||
                           sql[i] == '(' || sql[i] == ';'))
            i++;
        if (i + 1 < len && sql[i] == '-' && sql[i + 1] == '-') {
            while (i < len && sql[i] != '\n')
                i++;
            continue;
        }
        if (i + 1 < len && sql[i] == '/' && sql[i + 1] == '*') {
            /* Block comments nest in PostgreSQL. */
            int depth = 0;
            while (i + 1 < len) {
                if (sql[i] == '/' && sql[i + 1] == '*') {
                    depth++;
                    i += 2;
                } else if (sql[i] == '*' && sql[i + 1] == '/') {
                    depth--;
                    i += 2;
                    if (depth == 0)
                        break;
                } else {
                    i++;
                }
            }
            if (depth != 0)
                return false;
            continue;
        }
        break;
    }
    size_t n = strlen(word);
    if (len - i < n)
        return false;
    for (size_t k = 0; k < n; k++)
        if (lower(sql[i + k]) != lower(word[k]))
            return false;
    if (i + n < len) {
        char c = lower(sql[i + n]);
        if ((c >= 'a' && c <= 'z') || c == '_' || (c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

bool pg_sql_is_write(const char *sql, size_t len)
{
    static const char *const words[] = {"insert",   "update",  "delete",   "merge",  "create",
                                        "drop",     "alter",   "truncate", "grant",  "revoke",
                                        "comment",  "reindex", "cluster",  "vacuum", "refresh",
                                        "security", "import",  NULL};
    for (size_t i = 0; words[i]; i++)
        if (pg_sql_starts_with(sql, len, words[i]))
            return true;
    if (!pg_sql_starts_with(sql, len, "copy"))
        return false;
    /* COPY ... FROM writes; COPY ... TO reads. */
    for (size_t i = 0; i + 6 <= len; i++) {
        if ((sql[i] == ' ' || sql[i] == '\n' || sql[i] == '\t' || sql[i] == ')') &&
            lower(sql[i + 1]) == 'f' && lower(sql[i + 2]) == 'r' && lower(sql[i + 3]) == 'o' &&
            lower(sql[i + 4]) == 'm' &&
            (sql[i + 5] == ' ' || sql[i + 5] == '\n' || sql[i + 5] == '\t'))
            return true;
    }
    return false;
}
