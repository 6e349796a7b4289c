/*
 * core/http_exchange.c - the HTTP exchange object behind <fault/http.h>:
 * request line, headers of both messages, status, and a canned response a
 * fault plugin may set. HTTP protocol handlers create exchanges and run the
 * hooks; fault plugins only see the accessors.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <fault/http_handler.h>

#include "internal.h"

/*
 * Storage. Every string of an exchange (method, URL, host, path, header
 * names and values) is copied into an arena owned by the exchange: the
 * first block is part of the exchange's own allocation, so a typical
 * exchange costs one malloc and one free whatever its number of headers.
 * Blocks never move once allocated (a full block is followed by a new one),
 * so a pointer handed out by an accessor stays valid until the exchange is
 * freed; the API only promises that until the header it came from is
 * changed or removed (fault_http_header_set(), fault_http_respond()),
 * which leaves room for a different storage later. Space of removed
 * strings is not reused: it goes away with the exchange.
 *
 * The header tables hold pointers into the arena. They start inline (room
 * for HDRS_INLINE headers per message) and move to the arena, doubling,
 * when a message has more; the tables themselves are never exposed.
 */
#define HDRS_INLINE 16
/* Bytes of arena in the exchange's own allocation: enough for the request
 * line and the headers of both messages of most exchanges. */
#define ARENA_FIRST 2048
/* Smallest block added when the arena is full. */
#define ARENA_BLOCK 4096

typedef struct hdr {
    const char *name, *value;
} hdr;

typedef struct hdrs {
    hdr *v;
    size_t n, cap;
    hdr inl[HDRS_INLINE];
} hdrs;

typedef struct arena_blk {
    struct arena_blk *next;
    char data[];
} arena_blk;

struct fault_http_exchange {
    uint64_t id;
    fault_plugin *owner;
    fault_stream *stream;
    const char *method, *url, *host, *path;
    int status;
    hdrs h[2];
    /* A response a plugin chose to send instead of the upstream's: its
     * status and headers are the RESPONSE message above. */
    bool responded;
    uint8_t *resp_body;
    size_t resp_len;
    /* The hook run in progress. */
    bool running, response_phase;
    fault_plugin *next; /* next plugin whose hook runs */
    fault_http_done_cb done;
    void *done_ud;
    /* Plugins watching each body, by fault_direction (EGRESS: request,
     * INGRESS: response). */
    fault__pset watch[3];
    /* Whole bodies held for the hooks (fault_http_put_body), per message. */
    bool body_held[2];
    uint8_t *body[2];
    size_t body_len[2];
    /* Plugins whose hooks saw this exchange: they hear on_end when it is
     * freed. */
    fault__pset seen;
    /* The arena: free space [a_cur, a_end) of the current block; blocks
     * added after the first one, newest first, to be freed with it. */
    char *a_cur, *a_end;
    arena_blk *blocks;
    char first[ARENA_FIRST]; /* follows a pointer: aligned like one */
};

static uint64_t next_id = 1;

/* n bytes of the arena aligned for a header table (strings need no
 * alignment and take their bytes in arena_str()), or NULL. */
static void *arena_alloc(fault_http_exchange *x, size_t n)
{
    const size_t align = _Alignof(hdr);
    size_t pad = (align - (uintptr_t)x->a_cur % align) % align;
    if ((size_t)(x->a_end - x->a_cur) < pad || (size_t)(x->a_end - x->a_cur) - pad < n) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        arena_blk *b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->next = x->blocks;
        x->blocks = b;
        x->a_cur = b->data;
        x->a_end = b->data + cap;
        pad = 0; /* data follows a pointer in a malloc'd block */
    }
    void *p = x->a_cur + pad;
    x->a_cur += pad + n;
    return p;
}

/* A copy of s (NULL as "") in the arena, or NULL. */
static const char *arena_str(fault_http_exchange *x, const char *s)
{
    if (!s)
        s = "";
    size_t n = strlen(s) + 1;
    /* Strings need no alignment: take the bytes as they come. */
    if ((size_t)(x->a_end - x->a_cur) >= n) {
        char *p = x->a_cur;
        x->a_cur += n;
        return memcpy(p, s, n);
    }
    char *p = arena_alloc(x, n);
    return p ? memcpy(p, s, n) : NULL;
}

fault_http_exchange *fault_http_exchange_new(fault_plugin *self, fault_stream *s,
                                             const char *method, const char *url, const char *host,
                                             const char *path)
{
    fault_http_exchange *x = malloc(sizeof *x);
    if (!x)
        return NULL;
    /* Everything but the arena's bytes starts zeroed. */
    memset(x, 0, offsetof(fault_http_exchange, first));
    x->id = next_id++;
    x->owner = self;
    x->stream = s;
    for (int m = 0; m < 2; m++) {
        x->h[m].v = x->h[m].inl;
        x->h[m].cap = HDRS_INLINE;
    }
    x->a_cur = x->first;
    x->a_end = x->first + sizeof x->first;
    x->method = arena_str(x, method);
    x->url = arena_str(x, url);
    x->host = arena_str(x, host);
    x->path = arena_str(x, path);
    if (!x->method || !x->url || !x->host || !x->path) {
        fault_http_exchange_free(x);
        return NULL;
    }
    return x;
}

static int hdrs_add(fault_http_exchange *x, hdrs *h, const char *name, const char *value)
{
    if (h->n == h->cap) {
        /* The old table is left in the arena: doubling keeps that waste
         * below the size of the final table. */
        hdr *nv = arena_alloc(x, 2 * h->cap * sizeof *nv);
        if (!nv)
            return FAULT_ENOMEM;
        memcpy(nv, h->v, h->n * sizeof *nv);
        h->v = nv;
        h->cap *= 2;
    }
    const char *n = arena_str(x, name), *v = arena_str(x, value);
    if (!n || !v)
        return FAULT_ENOMEM;
    h->v[h->n].name = n;
    h->v[h->n].value = v;
    h->n++;
    return 0;
}

int fault_http_add_header(fault_http_exchange *x, fault_http_msg m, const char *name,
                          const char *value)
{
    if (!name || !value)
        return FAULT_EINVAL;
    return hdrs_add(x, &x->h[m], name, value);
}

void fault_http_exchange_free(fault_http_exchange *x)
{
    if (!x)
        return;
    /* The exchange is over, however it ended: a plugin that kept it (a
     * PENDING hook, per-exchange state) must forget it now. */
    bool any = !fault__pset_empty(&x->seen);
    for (fault_plugin *p = fault__plugins(); p && any; p = p->next) {
        const fault_http_ops *ops = p->d->http;
        if (!ops || !ops->on_end || !fault__pset_has(&x->seen, p))
            continue;
        ops->on_end(p->state, x);
    }
    while (x->blocks) {
        arena_blk *b = x->blocks;
        x->blocks = b->next;
        free(b);
    }
    free(x->resp_body);
    free(x->body[0]);
    free(x->body[1]);
    free(x);
}

uint64_t fault_http_id(const fault_http_exchange *x)
{
    return x->id;
}
const char *fault_http_method(const fault_http_exchange *x)
{
    return x->method;
}
const char *fault_http_url(const fault_http_exchange *x)
{
    return x->url;
}
const char *fault_http_host(const fault_http_exchange *x)
{
    return x->host;
}
const char *fault_http_path(const fault_http_exchange *x)
{
    return x->path;
}
int fault_http_status(const fault_http_exchange *x)
{
    return x->status;
}
fault_stream *fault_http_stream(fault_http_exchange *x)
{
    return x->stream;
}

int fault_http_set_status(fault_http_exchange *x, int status)
{
    if (status < 100 || status > 999)
        return FAULT_EINVAL;
    x->status = status;
    return 0;
}

size_t fault_http_header_count(const fault_http_exchange *x, fault_http_msg m)
{
    return x->h[m].n;
}

int fault_http_header_at(const fault_http_exchange *x, fault_http_msg m, size_t i,
                         const char **name, const char **value)
{
    if (i >= x->h[m].n)
        return FAULT_ERANGE;
    *name = x->h[m].v[i].name;
    *value = x->h[m].v[i].value;
    return 0;
}

const char *fault_http_header(const fault_http_exchange *x, fault_http_msg m, const char *name)
{
    for (size_t i = 0; i < x->h[m].n; i++)
        if (strcasecmp(x->h[m].v[i].name, name) == 0)
            return x->h[m].v[i].value;
    return NULL;
}

int fault_http_set_header(fault_http_exchange *x, fault_http_msg m, const char *name,
                          const char *value)
{
    if (!x || !name || (m != FAULT_HTTP_REQUEST && m != FAULT_HTTP_RESPONSE))
        return FAULT_EINVAL;
    hdrs *h = &x->h[m];
    size_t j = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (strcasecmp(h->v[i].name, name) != 0)
            h->v[j++] = h->v[i];
    }
    h->n = j;
    return value ? hdrs_add(x, h, name, value) : 0;
}

int fault_http_respond(fault_http_exchange *x, int status, const char *const *headers,
                       const void *body, size_t len)
{
    if (status < 100 || status > 999)
        return FAULT_EINVAL;
    /* The answer replaces whatever response the exchange had. */
    x->h[FAULT_HTTP_RESPONSE].n = 0;
    for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2)
        if (hdrs_add(x, &x->h[FAULT_HTTP_RESPONSE], headers[i], headers[i + 1]) != 0)
            return FAULT_ENOMEM;
    free(x->resp_body);
    x->resp_body = NULL;
    if (len) {
        x->resp_body = malloc(len);
        if (!x->resp_body)
            return FAULT_ENOMEM;
        memcpy(x->resp_body, body, len);
    }
    x->resp_len = len;
    x->status = status;
    x->responded = true;
    return 0;
}

void fault_http_reply_body(const fault_http_exchange *x, const uint8_t **body, size_t *len)
{
    *body = x->responded ? x->resp_body : NULL;
    *len = x->responded ? x->resp_len : 0;
}

/* ---- request changes and bodies (ABI 1.2) ---- */

/* A method is an HTTP token (RFC 9110 5.6.2). */
static bool is_token(const char *t)
{
    if (!t || !*t)
        return false;
    for (; *t; t++)
        if (!strchr("!#$%&'*+-.^_`|~", *t) && !(*t >= '0' && *t <= '9') &&
            !(*t >= 'a' && *t <= 'z') && !(*t >= 'A' && *t <= 'Z'))
            return false;
    return true;
}

int fault_http_set_method(fault_http_exchange *x, const char *method)
{
    if (!is_token(method))
        return FAULT_EINVAL;
    const char *m = arena_str(x, method);
    if (!m)
        return FAULT_ENOMEM;
    x->method = m;
    return 0;
}

int fault_http_set_path(fault_http_exchange *x, const char *path)
{
    if (!path || path[0] != '/')
        return FAULT_EINVAL;
    for (const char *c = path; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return FAULT_EINVAL; /* would break the request line */
    /* The URL is "scheme://authority" followed by the old path. */
    const char *sep = strstr(x->url, "://");
    const char *old = sep ? strchr(sep + 3, '/') : NULL;
    size_t keep = old ? (size_t)(old - x->url) : strlen(x->url);
    size_t plen = strlen(path);
    char *url = arena_alloc(x, keep + plen + 1);
    const char *p = arena_str(x, path);
    if (!url || !p)
        return FAULT_ENOMEM;
    memcpy(url, x->url, keep);
    memcpy(url + keep, path, plen + 1);
    x->url = url;
    x->path = p;
    return 0;
}

int fault_http_want_body(fault_plugin *self, fault_http_msg m, size_t max)
{
    if (!self || (m != FAULT_HTTP_REQUEST && m != FAULT_HTTP_RESPONSE))
        return FAULT_EINVAL;
    self->want_body[m] = max;
    return 0;
}

size_t fault_http_wanted_body(const fault_http_exchange *x, fault_http_msg m)
{
    (void)x;
    size_t max = 0;
    if (m != FAULT_HTTP_REQUEST && m != FAULT_HTTP_RESPONSE)
        return 0;
    for (fault_plugin *p = fault__plugins(); p; p = p->next)
        if (p->active && p->d->http && p->want_body[m] > max)
            max = p->want_body[m];
    return max;
}

static int body_store(fault_http_exchange *x, fault_http_msg m, const void *data, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return FAULT_ENOMEM;
    if (len)
        memcpy(copy, data, len);
    free(x->body[m]);
    x->body[m] = copy;
    x->body_len[m] = len;
    x->body_held[m] = true;
    return 0;
}

int fault_http_load_body(fault_http_exchange *x, fault_http_msg m, const void *data, size_t len)
{
    if (!x || (len && !data) || (m != FAULT_HTTP_REQUEST && m != FAULT_HTTP_RESPONSE))
        return FAULT_EINVAL;
    return body_store(x, m, data, len);
}

const uint8_t *fault_http_body(const fault_http_exchange *x, fault_http_msg m, size_t *len)
{
    if ((m != FAULT_HTTP_REQUEST && m != FAULT_HTTP_RESPONSE) || !x->body_held[m]) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = x->body_len[m];
    return x->body[m];
}

int fault_http_set_body(fault_http_exchange *x, fault_http_msg m, const void *data, size_t len)
{
    if (m != FAULT_HTTP_REQUEST && m != FAULT_HTTP_RESPONSE)
        return FAULT_EINVAL;
    if (!x->body_held[m])
        return FAULT_EPERM;
    if (len && !data)
        return FAULT_EINVAL;
    return body_store(x, m, data, len);
}

int fault_http_watch_body(fault_plugin *self, fault_http_exchange *x, fault_direction dir)
{
    if (!self || !x || (dir != FAULT_DIR_EGRESS && dir != FAULT_DIR_INGRESS))
        return FAULT_EINVAL;
    fault__pset_add(&x->watch[dir], self);
    fault__pset_add(&x->seen, self); /* it hears on_end */
    return 0;
}

bool fault_http_is_body_watched(const fault_http_exchange *x, fault_direction dir)
{
    return x && (dir == FAULT_DIR_EGRESS || dir == FAULT_DIR_INGRESS) &&
           !fault__pset_empty(&x->watch[dir]);
}

fault_chain *fault_http_body_chain_new(fault_http_exchange *x, fault_direction dir,
                                       const fault_chain_ops *ops, void *userdata)
{
    if (!x || !x->stream || !ops || (dir != FAULT_DIR_EGRESS && dir != FAULT_DIR_INGRESS))
        return NULL;
    return fault__body_chain_new(x->stream, dir, x, &x->watch[dir], ops, userdata);
}

/* Calls the hooks from x->next on, until one answers, one goes pending, or
 * every plugin has had its say. */
static void run_hooks(fault_http_exchange *x)
{
    while (x->next) {
        fault_plugin *p = x->next;
        x->next = p->next;
        const fault_http_ops *ops = p->d->http;
        if (!ops || !p->active)
            continue;
        fault_http_action (*hook)(void *, fault_http_exchange *) =
            x->response_phase ? ops->on_response : ops->on_request;
        if (!hook)
            continue;
        fault__pset_add(&x->seen, p);
        fault_http_action a = hook(p->state, x);
        if (a == FAULT_HTTP_PENDING)
            return; /* fault_http_resume() continues */
        if (a == FAULT_HTTP_RESPOND && x->responded) {
            x->running = false;
            x->done(x, FAULT_HTTP_RESPOND, x->done_ud);
            return;
        }
    }
    x->running = false;
    x->done(x, FAULT_HTTP_CONTINUE, x->done_ud);
}

static int start_hooks(fault_http_exchange *x, bool response, fault_http_done_cb cb, void *ud)
{
    if (!x || !cb || x->running)
        return FAULT_EINVAL;
    x->running = true;
    x->response_phase = response;
    x->next = fault__plugins();
    x->done = cb;
    x->done_ud = ud;
    run_hooks(x);
    return 0;
}

int fault_http_run_request(fault_http_exchange *x, fault_http_done_cb cb, void *userdata)
{
    return start_hooks(x, false, cb, userdata);
}

int fault_http_run_response(fault_http_exchange *x, fault_http_done_cb cb, void *userdata)
{
    return start_hooks(x, true, cb, userdata);
}

void fault_http_resume(fault_http_exchange *x, fault_http_action action)
{
    if (!x->running)
        return;
    if (action == FAULT_HTTP_RESPOND && x->responded) {
        x->running = false;
        x->done(x, FAULT_HTTP_RESPOND, x->done_ud);
        return;
    }
    run_hooks(x);
}

/* ---- ABI 1.1-1.2 names (<fault/http.h>, <fault/http_handler.h>) ---- */

int fault_http_header_set(fault_http_exchange *x, fault_http_msg m, const char *name,
                          const char *value)
{
    return fault_http_set_header(x, m, name, value);
}

int fault_http_header_add(fault_http_exchange *x, fault_http_msg m, const char *name,
                          const char *value)
{
    return fault_http_add_header(x, m, name, value);
}

size_t fault_http_body_wanted(const fault_http_exchange *x, fault_http_msg m)
{
    return fault_http_wanted_body(x, m);
}

int fault_http_put_body(fault_http_exchange *x, fault_http_msg m, const void *data, size_t len)
{
    return fault_http_load_body(x, m, data, len);
}

bool fault_http_body_watched(const fault_http_exchange *x, fault_direction dir)
{
    return fault_http_is_body_watched(x, dir);
}
