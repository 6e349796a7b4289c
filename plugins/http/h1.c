/*
 * plugins/http/h1.c - HTTP/1 text handling for the proxy, kept apart from
 * sockets and the loop so that a fuzzer can drive it alone:
 *
 *  - heads collected from llhttp's span callbacks (which may deliver a
 *    name or value in several pieces when it spans reads) into one buffer
 *    of NUL-terminated strings, bounded by HP_MAX_HEAD;
 *  - request targets (origin, absolute, authority and asterisk forms) and
 *    host[:port] with bracketed IPv6;
 *  - hop-by-hop headers (RFC 9110 7.6.1);
 *  - the pausable llhttp driver every parser of the plugin runs in;
 *  - --upstream patterns.
 *
 * Only the C library, llhttp and the SDK headers are used, so that
 * fuzz_http.c can build this file on its own.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proxy.h"

/* ---- buffers ---- */

int hp_buf_reserve(hp_buf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

int hp_buf_str(hp_buf *b, const char *s)
{
    return hp_buf_add(b, s, strlen(s));
}

int hp_buf_header(hp_buf *b, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    if (hp_buf_reserve(b, nl + vl + 4) < 0)
        return -1;
    memcpy(b->p + b->len, name, nl);
    b->len += nl;
    memcpy(b->p + b->len, ": ", 2);
    b->len += 2;
    memcpy(b->p + b->len, value, vl);
    b->len += vl;
    memcpy(b->p + b->len, "\r\n", 2);
    b->len += 2;
    return 0;
}

int hp_buf_printf(hp_buf *b, const char *fmt, ...)
{
    /* Most lines fit in what is already there: format once. */
    if (hp_buf_reserve(b, 128) < 0)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf((char *)b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n >= b->cap - b->len) {
        if (hp_buf_reserve(b, (size_t)n + 1) < 0)
            return -1;
        va_start(ap, fmt);
        vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
    return 0;
}

/* The formatting below runs several times per request: plain copies, not
 * printf, which showed in profiles of the forward proxy. */

int hp_buf_u64(hp_buf *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return hp_buf_add(b, tmp + i, sizeof tmp - i);
}

int hp_buf_hex(hp_buf *b, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = digits[v & 15];
        v >>= 4;
    } while (v);
    return hp_buf_add(b, tmp + i, sizeof tmp - i);
}

size_t hp_copy(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    if (size == 0)
        return n;
    size_t k = n < size - 1 ? n : size - 1;
    memcpy(dst, src, k);
    dst[k] = '\0';
    return n;
}

int hp_fifo_add(hp_fifo *f, const void *data, size_t n)
{
    if (!n)
        return 0;
    if (f->off + f->len + n > f->cap) {
        if (f->off) {
            memmove(f->p, f->p + f->off, f->len);
            f->off = 0;
        }
        if (f->len + n > f->cap) {
            /* Small to start with (most bodies are), and served by the
             * allocator's per-thread cache at that size. */
            size_t cap = f->cap ? f->cap : 1024;
            while (cap < f->len + n)
                cap *= 2;
            uint8_t *np = realloc(f->p, cap);
            if (!np)
                return -1;
            f->p = np;
            f->cap = cap;
        }
    }
    memcpy(f->p + f->off + f->len, data, n);
    f->len += n;
    return 0;
}

void hp_fifo_take(hp_fifo *f, size_t n, size_t keep)
{
    f->off += n;
    f->len -= n;
    if (f->len == 0) {
        f->off = 0;
        if (f->cap > keep) {
            free(f->p);
            f->p = NULL;
            f->cap = 0;
        }
    }
}

int hp_fifo_move(hp_fifo *to, hp_fifo *from)
{
    if (from->len && hp_fifo_add(to, hp_fifo_data(from), from->len) < 0)
        return -1;
    hp_fifo_free(from);
    return 0;
}

void hp_fifo_free(hp_fifo *f)
{
    free(f->p);
    memset(f, 0, sizeof *f);
}

void hp_buf_free(hp_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---- heads ---- */

enum { SPAN_NONE = 0, SPAN_URL = 1, SPAN_FIELD = 2, SPAN_VALUE = 3 };

static hp_head *head_of(llhttp_t *p)
{
    return &((hp_parser *)p)->head;
}

static void head_reset(hp_head *h)
{
    h->b.len = 0;
    h->n = 0;
    h->has_url = false;
    h->url = 0;
    h->state = SPAN_NONE;
    h->too_big = false;
    h->conn = -1;
}

static int head_append(llhttp_t *p, hp_head *h, const char *at, size_t len)
{
    if (h->b.len + len + 1 > HP_MAX_HEAD) {
        h->too_big = true;
        llhttp_set_error_reason(p, "message head too large");
        return HPE_USER;
    }
    if (hp_buf_add(&h->b, at, len) < 0) {
        llhttp_set_error_reason(p, "out of memory");
        return HPE_USER;
    }
    return 0;
}

/* Ends the open span with its NUL. */
static int head_close(llhttp_t *p, hp_head *h)
{
    if (h->state == SPAN_NONE)
        return 0;
    if (h->state == SPAN_VALUE) {
        /* Trailing whitespace is not part of a field value. */
        uint32_t v = h->h[h->n - 1].value;
        while (h->b.len > v && (h->b.p[h->b.len - 1] == ' ' || h->b.p[h->b.len - 1] == '\t'))
            h->b.len--;
    }
    h->state = SPAN_NONE;
    return head_append(p, h, "", 1);
}

int hp_head_begin(llhttp_t *p)
{
    head_reset(head_of(p));
    return 0;
}

static int cb_url(llhttp_t *p, const char *at, size_t len)
{
    hp_head *h = head_of(p);
    if (h->state != SPAN_URL) {
        int rc = head_close(p, h);
        if (rc)
            return rc;
        h->url = (uint32_t)h->b.len;
        h->has_url = true;
        h->state = SPAN_URL;
    }
    return head_append(p, h, at, len);
}

static int cb_span_done(llhttp_t *p)
{
    return head_close(p, head_of(p));
}

static int cb_field(llhttp_t *p, const char *at, size_t len)
{
    hp_head *h = head_of(p);
    if (h->state != SPAN_FIELD) {
        int rc = head_close(p, h);
        if (rc)
            return rc;
        if (h->n == h->cap) {
            size_t cap = h->cap ? h->cap * 2 : 16;
            hp_hdr *nh = realloc(h->h, cap * sizeof *nh);
            if (!nh) {
                llhttp_set_error_reason(p, "out of memory");
                return HPE_USER;
            }
            h->h = nh;
            h->cap = cap;
        }
        h->h[h->n].name = (uint32_t)h->b.len;
        h->h[h->n].value = UINT32_MAX;
        h->n++;
        h->state = SPAN_FIELD;
    }
    return head_append(p, h, at, len);
}

static int cb_field_done(llhttp_t *p)
{
    hp_head *h = head_of(p);
    int rc = head_close(p, h);
    /* Until a value arrives, the value is the empty string that ends the
     * name (llhttp reports no span for an empty value). */
    if (rc == 0 && h->n)
        h->h[h->n - 1].value = (uint32_t)h->b.len - 1;
    return rc;
}

static int cb_value(llhttp_t *p, const char *at, size_t len)
{
    hp_head *h = head_of(p);
    if (h->n == 0)
        return 0;
    if (h->state != SPAN_VALUE) {
        int rc = head_close(p, h);
        if (rc)
            return rc;
        h->h[h->n - 1].value = (uint32_t)h->b.len;
        h->state = SPAN_VALUE;
    }
    return head_append(p, h, at, len);
}

void hp_settings_collect(llhttp_settings_t *s)
{
    s->on_message_begin = hp_head_begin;
    s->on_url = cb_url;
    s->on_status = cb_url;
    s->on_url_complete = cb_span_done;
    s->on_status_complete = cb_span_done;
    s->on_header_field = cb_field;
    s->on_header_field_complete = cb_field_done;
    s->on_header_value = cb_value;
    s->on_header_value_complete = cb_span_done;
}

void hp_parser_init(hp_parser *hp, llhttp_type_t type, const llhttp_settings_t *settings, void *ud)
{
    llhttp_init(&hp->p, type, settings);
    hp->p.data = ud;
    hp->ud = ud;
    head_reset(&hp->head);
}

const char *hp_parse_error(const hp_parser *hp, llhttp_errno_t e)
{
    if (hp->head.too_big)
        return hp->p.type == HTTP_RESPONSE ? "response head too large (over 64 KiB)"
                                           : "request head too large (over 64 KiB)";
    const char *r = llhttp_get_error_reason(&hp->p);
    if (!r || !*r)
        return "malformed message";
    if (e != HPE_USER && !strstr(r, "callback error"))
        return r;
    /* Our callbacks refuse a head too large (above), a 101 nobody asked
     * for, and what does not fit in memory. */
    if (hp->p.type == HTTP_RESPONSE && hp->p.status_code == 101)
        return "switched protocols (101) without being asked to";
    return "the proxy ran out of memory reading it";
}

void hp_parser_free(hp_parser *hp)
{
    hp_buf_free(&hp->head.b);
    free(hp->head.h);
    hp->head.h = NULL;
    hp->head.n = hp->head.cap = 0;
}

void hp_head_done(hp_head *h)
{
    if (h->state == SPAN_NONE)
        return;
    if (h->state == SPAN_VALUE) {
        uint32_t v = h->h[h->n - 1].value;
        while (h->b.len > v && (h->b.p[h->b.len - 1] == ' ' || h->b.p[h->b.len - 1] == '\t'))
            h->b.len--;
    }
    h->state = SPAN_NONE;
    hp_buf_add(&h->b, "", 1);
}

const char *hp_head_url(const hp_head *h)
{
    return h->has_url && h->b.p ? (const char *)h->b.p + h->url : "";
}

const char *hp_head_name(const hp_head *h, size_t i)
{
    return (const char *)h->b.p + h->h[i].name;
}

const char *hp_head_value(const hp_head *h, size_t i)
{
    if (h->h[i].value == UINT32_MAX)
        return "";
    return (const char *)h->b.p + h->h[i].value;
}

const char *hp_head_get(const hp_head *h, const char *name)
{
    for (size_t i = 0; i < h->n; i++)
        if (strcasecmp(hp_head_name(h, i), name) == 0)
            return hp_head_value(h, i);
    return NULL;
}

/* The first byte decides most comparisons, before any strlen(): bytes
 * that differ once bit 5 (ASCII case) is set differ in any case. Runs
 * several times per header of every message. */
static bool first_differs(const char *a, const char *b)
{
    return (a[0] | 0x20) != (b[0] | 0x20);
}

bool hp_token_in(const char *list, const char *token)
{
    size_t tl = strlen(token);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *s = p;
        while (*p && *p != ',')
            p++;
        const char *e = p;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - s) == tl && strncasecmp(s, token, tl) == 0)
            return true;
    }
    return false;
}

bool hp_head_has_token(const hp_head *h, const char *name, const char *token)
{
    /* Lengths first: most names differ in length, and this runs for
     * several names on every message. */
    size_t nl = strlen(name);
    for (size_t i = 0; i < h->n; i++) {
        const char *hn = hp_head_name(h, i);
        if (hn[0] && !first_differs(hn, name) && strlen(hn) == nl && strcasecmp(hn, name) == 0 &&
            hp_token_in(hp_head_value(h, i), token))
            return true;
    }
    return false;
}

bool hp_name_is(const char *name, const char *lower, size_t len)
{
    if (len && first_differs(name, lower))
        return false;
    return strlen(name) == len && strncasecmp(name, lower, len) == 0;
}

/* The fixed hop-by-hop names, sorted out by length first: this runs for
 * every header of every message. */
static bool fixed_hop(const char *name)
{
    switch (strlen(name)) {
    case 2:
        return strcasecmp(name, "te") == 0;
    case 7:
        return strcasecmp(name, "trailer") == 0 || strcasecmp(name, "upgrade") == 0;
    case 10:
        return strcasecmp(name, "connection") == 0 || strcasecmp(name, "keep-alive") == 0;
    case 16:
        return strcasecmp(name, "proxy-connection") == 0;
    case 17:
        return strcasecmp(name, "transfer-encoding") == 0;
    case 18:
        return strcasecmp(name, "proxy-authenticate") == 0;
    case 19:
        return strcasecmp(name, "proxy-authorization") == 0;
    default:
        return false;
    }
}

bool hp_hop_by_hop(hp_head *h, const char *name)
{
    if (fixed_hop(name))
        return true;
    /* A header that Connection names is meant for this hop only; but a
     * client listing Content-Length or Host there must not make the
     * request lose its framing or its authority. The Connection headers
     * are found once per head (this runs for every header). */
    if (h->conn == -1) {
        h->conn = 0;
        for (size_t i = 0; i < h->n; i++) {
            const char *n = hp_head_name(h, i);
            if (hp_name_is(n, "connection", 10) || hp_name_is(n, "proxy-connection", 16)) {
                if (h->conn == HP_CONN_IDX) {
                    h->conn = -2; /* more than we index: look them all up */
                    break;
                }
                h->conn_idx[h->conn++] = (uint16_t)i;
            }
        }
    }
    if (!h->conn || hp_name_is(name, "content-length", 14) || hp_name_is(name, "host", 4))
        return false;
    if (h->conn == -2)
        return hp_head_has_token(h, "connection", name) ||
               hp_head_has_token(h, "proxy-connection", name);
    for (int8_t k = 0; k < h->conn; k++)
        if (hp_token_in(hp_head_value(h, h->conn_idx[k]), name))
            return true;
    return false;
}

/* ---- the pausable llhttp driver ---- */

void hp_drive_init(hp_drive *d, hp_parser *hp, hp_fifo *in, size_t keep, const hp_drive_ops *ops)
{
    *d = (hp_drive){.hp = hp, .in = in, .keep = keep, .ops = ops};
}

bool hp_drive_run(hp_drive *d, const uint8_t *p, size_t n)
{
    const hp_drive_ops *o = d->ops;
    hp_fifo *in = d->in;
    if (n && (d->running || in->len || !o->runnable(d))) {
        if (hp_fifo_add(in, p, n) < 0) {
            o->on_nomem(d);
            return false;
        }
        n = 0;
    }
    if (d->running) {
        d->again = true;
        return false;
    }
    d->running = true;
    llhttp_t *lp = &d->hp->p;
    for (;;) {
        d->again = false;
        while (!o->gone(d) && o->runnable(d) && (n || in->len || d->kick)) {
            const uint8_t *at = n ? p : in->len ? hp_fifo_data(in) : (const uint8_t *)"";
            size_t len = n ? n : in->len;
            bool direct = n != 0;
            n = 0;
            d->kick = false;
            d->ev = EV_NONE;
            llhttp_errno_t e = llhttp_execute(lp, (const char *)at, len);
            size_t used = e == HPE_OK ? len : (size_t)(llhttp_get_error_pos(lp) - (const char *)at);
            if (o->gone(d))
                break;
            if (direct) {
                /* What the parser did not take waits, ahead of anything
                 * fed while the event runs. */
                if (used < len && hp_fifo_add(in, at + used, len - used) < 0) {
                    o->on_nomem(d);
                    break;
                }
            } else {
                hp_fifo_take(in, used, d->keep);
            }
            if (e == HPE_OK)
                continue;
            if (e == HPE_PAUSED) {
                llhttp_resume(lp);
                d->kick = true;
                if (d->ev == EV_HEAD)
                    o->on_head(d);
                else if (d->ev == EV_DONE)
                    o->on_done(d);
                else if (d->ev == EV_FULL)
                    o->on_full(d);
                continue;
            }
            if (!o->on_error(d, e))
                break;
        }
        if (o->gone(d) || (!d->again && !(d->kick && o->runnable(d))))
            break;
    }
    d->running = false;
    return true;
}

llhttp_errno_t hp_drive_finish(hp_drive *d)
{
    d->ev = EV_NONE;
    llhttp_errno_t e = llhttp_finish(&d->hp->p);
    if (e == HPE_PAUSED)
        llhttp_resume(&d->hp->p);
    return e;
}

/* ---- targets and hosts ---- */

static bool host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

int hp_parse_hostport(const char *t, size_t len, char *host, size_t hostlen, uint16_t *port,
                      bool port_required)
{
    size_t i, hb, he;
    if (len == 0)
        return -1;
    if (t[0] == '[') {
        const char *close = memchr(t, ']', len);
        if (!close)
            return -1;
        hb = 1;
        he = (size_t)(close - t);
        char v6[INET6_ADDRSTRLEN + 1];
        unsigned char addr[16];
        if (he - hb == 0 || he - hb >= sizeof v6)
            return -1;
        memcpy(v6, t + hb, he - hb);
        v6[he - hb] = '\0';
        if (inet_pton(AF_INET6, v6, addr) != 1)
            return -1;
        i = he + 1;
        if (i < len && t[i] != ':')
            return -1;
    } else {
        hb = 0;
        for (i = 0; i < len && t[i] != ':'; i++)
            if (!host_char(t[i]))
                return -1;
        he = i;
        if (he == 0 || he > 253)
            return -1;
    }
    if (he - hb + 1 > hostlen)
        return -1;
    memcpy(host, t + hb, he - hb);
    host[he - hb] = '\0';
    *port = 0;
    if (i < len) {
        /* ":" then 1 to 5 digits, 1..65535. */
        i++;
        if (i == len || len - i > 5)
            return -1;
        unsigned v = 0;
        for (; i < len; i++) {
            if (t[i] < '0' || t[i] > '9')
                return -1;
            v = v * 10 + (unsigned)(t[i] - '0');
        }
        if (v == 0 || v > 65535)
            return -1;
        *port = (uint16_t)v;
    } else if (port_required) {
        return -1;
    }
    return 0;
}

int hp_parse_target(const char *t, size_t len, bool connect, hp_target *out, const char **why)
{
    memset(out, 0, sizeof *out);
    out->path = "/";
    out->pathlen = 1;
    *why = "bad request target";
    if (connect) {
        out->form = HP_AUTHORITY;
        if (hp_parse_hostport(t, len, out->host, sizeof out->host, &out->port, true) < 0) {
            *why = "CONNECT needs host:port";
            return -1;
        }
        out->port_given = true;
        return 0;
    }
    if (len == 0)
        return -1;
    if (len == 1 && t[0] == '*') {
        out->form = HP_ASTERISK;
        out->path = "*";
        return 0;
    }
    if (t[0] == '/') {
        out->form = HP_ORIGIN;
        out->path = t;
        out->pathlen = len;
        return 0;
    }
    size_t sl;
    if (len > 7 && strncasecmp(t, "http://", 7) == 0) {
        sl = 7;
    } else if (len > 8 && strncasecmp(t, "https://", 8) == 0) {
        sl = 8;
        out->tls = true;
    } else {
        *why = "unsupported request target (only http:// and https:// URLs)";
        return -1;
    }
    out->form = HP_ABSOLUTE;
    size_t ae = sl;
    while (ae < len && t[ae] != '/' && t[ae] != '?' && t[ae] != '#')
        ae++;
    /* Credentials in the URL are not for the origin's Host: skip them. */
    size_t ab = sl;
    for (size_t k = sl; k < ae; k++)
        if (t[k] == '@')
            ab = k + 1;
    if (hp_parse_hostport(t + ab, ae - ab, out->host, sizeof out->host, &out->port, false) < 0) {
        *why = "bad host in the request URL";
        return -1;
    }
    out->port_given = out->port != 0;
    if (!out->port)
        out->port = out->tls ? 443 : 80;
    size_t pe = ae;
    while (pe < len && t[pe] != '#')
        pe++;
    if (pe > ae && t[ae] == '/') {
        out->path = t + ae;
        out->pathlen = pe - ae;
    } else if (pe > ae) {
        /* "http://h?q": the path is empty, the query is kept; the caller
         * writes the leading slash. */
        out->path = t + ae;
        out->pathlen = pe - ae;
    }
    return 0;
}

void hp_authority(char *out, size_t outlen, const char *host, uint16_t port, bool tls,
                  bool omit_default)
{
    char tmp[HP_MAX_HOST + 16];
    size_t hl = strlen(host), i = 0;
    bool v6 = memchr(host, ':', hl) != NULL;
    if (hl > HP_MAX_HOST)
        hl = HP_MAX_HOST;
    if (v6)
        tmp[i++] = '[';
    memcpy(tmp + i, host, hl);
    i += hl;
    if (v6)
        tmp[i++] = ']';
    if (!(omit_default && port == (tls ? 443 : 80))) {
        char d[8];
        size_t k = sizeof d;
        unsigned v = port;
        do {
            d[--k] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        tmp[i++] = ':';
        memcpy(tmp + i, d + k, sizeof d - k);
        i += sizeof d - k;
    }
    tmp[i] = '\0';
    hp_copy(out, outlen, tmp);
}

int hp_parse_match(const char *text, hp_match *out, const char **why)
{
    memset(out, 0, sizeof *out);
    *why = "expected *, HOST, HOST:PORT or a URL such as http://HOST:PORT";
    size_t len = strlen(text);
    while (len && (text[len - 1] == ' ' || text[len - 1] == '\t'))
        len--;
    while (len && (*text == ' ' || *text == '\t')) {
        text++;
        len--;
    }
    if (len == 1 && text[0] == '*') {
        out->any = true;
        return 0;
    }
    const char *sep = NULL;
    for (size_t i = 0; i + 2 < len; i++) {
        if (text[i] == ':' && text[i + 1] == '/' && text[i + 2] == '/') {
            sep = text + i;
            break;
        }
        if (text[i] == '/' || text[i] == '[')
            break;
    }
    if (sep) {
        len -= (size_t)(sep + 3 - text);
        text = sep + 3;
    }
    size_t end = 0;
    while (end < len && text[end] != '/' && text[end] != '?' && text[end] != '#')
        end++;
    if (hp_parse_hostport(text, end, out->host, sizeof out->host, &out->port, false) < 0)
        return -1;
    size_t hl = strlen(out->host);
    if (hl > 1 && out->host[hl - 1] == '.')
        out->host[hl - 1] = '\0';
    return 0;
}

bool hp_match_host(const hp_match *m, const char *host, uint16_t port)
{
    if (m->any)
        return true;
    if (m->port && m->port != port)
        return false;
    size_t a = strlen(m->host), b = strlen(host);
    if (b > 1 && host[b - 1] == '.')
        b--;
    return a == b && strncasecmp(m->host, host, a) == 0;
}

const char *hp_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 103:
        return "Early Hints";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 418:
        return "I'm a teapot";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "";
    }
}
