/*
 * core/http_exchange.c - the HTTP exchange object behind <fault/http.h>:
 * request line, headers of both messages, status, and a canned response a
 * fault plugin may set. HTTP protocol handlers create exchanges and run the
 * hooks; fault plugins only see the accessors.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

typedef struct hdr {
    char *name, *value;
} hdr;

typedef struct hdrs {
    hdr *v;
    size_t n;
} hdrs;

struct fault_http_exchange {
    uint64_t id;
    fault_plugin *owner;
    fault_stream *stream;
    char *method, *url, *host, *path;
    int status;
    hdrs h[2];
    /* A response a plugin chose to send instead of the upstream's: its
     * status and headers are the RESPONSE message above. */
    bool responded;
    uint8_t *resp_body;
    size_t resp_len;
    /* The hook run in progress. */
    bool running, response_phase;
    fault_plugin *next;       /* next plugin whose hook runs */
    fault_http_done_cb done;
    void *done_ud;
    /* Plugins (bits as in seen) watching each body, by fault_direction
     * (EGRESS: request, INGRESS: response). */
    uint64_t watch[3];
    /* Whole bodies held for the hooks (fault_http_put_body), per message. */
    bool body_held[2];
    uint8_t *body[2];
    size_t body_len[2];
    /* Plugins (by load index) whose hooks saw this exchange: they hear
     * on_end when it is freed. Indexes past 63 share the last bit. */
    uint64_t seen;
};

static uint64_t next_id = 1;

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

fault_http_exchange *fault_http_exchange_new(fault_plugin *self, fault_stream *s,
                                             const char *method, const char *url, const char *host,
                                             const char *path)
{
    fault_http_exchange *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->id = next_id++;
    x->owner = self;
    x->stream = s;
    x->method = dup_or_empty(method);
    x->url = dup_or_empty(url);
    x->host = dup_or_empty(host);
    x->path = dup_or_empty(path);
    return x;
}

static void hdrs_free(hdrs *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free(h->v[i].name);
        free(h->v[i].value);
    }
    free(h->v);
    h->v = NULL;
    h->n = 0;
}

static int hdrs_add(hdrs *h, const char *name, const char *value)
{
    hdr *nv = realloc(h->v, (h->n + 1) * sizeof *nv);
    if (!nv)
        return -ENOMEM;
    h->v = nv;
    h->v[h->n].name = strdup(name);
    h->v[h->n].value = strdup(value);
    if (!h->v[h->n].name || !h->v[h->n].value) {
        free(h->v[h->n].name);
        free(h->v[h->n].value);
        return -ENOMEM;
    }
    h->n++;
    return 0;
}

int fault_http_header_add(fault_http_exchange *x, fault_http_msg m, const char *name,
                          const char *value)
{
    if (!name || !value)
        return -EINVAL;
    return hdrs_add(&x->h[m], name, value);
}

static uint64_t plugin_bit(const fault_plugin *p)
{
    return 1ull << (p->index < 63 ? p->index : 63);
}

void fault_http_exchange_free(fault_http_exchange *x)
{
    if (!x)
        return;
    /* The exchange is over, however it ended: a plugin that kept it (a
     * PENDING hook, per-exchange state) must forget it now. */
    for (fault_plugin *p = fault__plugins(); p && x->seen; p = p->next) {
        const fault_http_ops *ops = p->d->http;
        if (!ops || !ops->on_end || !(x->seen & plugin_bit(p)))
            continue;
        ops->on_end(p->state, x);
    }
    hdrs_free(&x->h[0]);
    hdrs_free(&x->h[1]);
    free(x->method);
    free(x->url);
    free(x->host);
    free(x->path);
    free(x->resp_body);
    free(x->body[0]);
    free(x->body[1]);
    free(x);
}

uint64_t fault_http_id(const fault_http_exchange *x) { return x->id; }
const char *fault_http_method(const fault_http_exchange *x) { return x->method; }
const char *fault_http_url(const fault_http_exchange *x) { return x->url; }
const char *fault_http_host(const fault_http_exchange *x) { return x->host; }
const char *fault_http_path(const fault_http_exchange *x) { return x->path; }
int fault_http_status(const fault_http_exchange *x) { return x->status; }
fault_stream *fault_http_stream(fault_http_exchange *x) { return x->stream; }

int fault_http_set_status(fault_http_exchange *x, int status)
{
    if (status < 100 || status > 999)
        return -EINVAL;
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
        return -ERANGE;
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

int fault_http_header_set(fault_http_exchange *x, fault_http_msg m, const char *name,
                          const char *value)
{
    hdrs *h = &x->h[m];
    size_t j = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (strcasecmp(h->v[i].name, name) == 0) {
            free(h->v[i].name);
            free(h->v[i].value);
        } else {
            h->v[j++] = h->v[i];
        }
    }
    h->n = j;
    return value ? hdrs_add(h, name, value) : 0;
}

int fault_http_respond(fault_http_exchange *x, int status, const char *const *headers,
                       const void *body, size_t len)
{
    if (status < 100 || status > 999)
        return -EINVAL;
    /* The answer replaces whatever response the exchange had. */
    hdrs_free(&x->h[FAULT_HTTP_RESPONSE]);
    for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2)
        if (hdrs_add(&x->h[FAULT_HTTP_RESPONSE], headers[i], headers[i + 1]) != 0)
            return -ENOMEM;
    free(x->resp_body);
    x->resp_body = NULL;
    if (len) {
        x->resp_body = malloc(len);
        if (!x->resp_body)
            return -ENOMEM;
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
        return -EINVAL;
    char *m = strdup(method);
    if (!m)
        return -ENOMEM;
    free(x->method);
    x->method = m;
    return 0;
}

int fault_http_set_path(fault_http_exchange *x, const char *path)
{
    if (!path || path[0] != '/')
        return -EINVAL;
    for (const char *c = path; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return -EINVAL; /* would break the request line */
    /* The URL is "scheme://authority" followed by the old path. */
    const char *sep = strstr(x->url, "://");
    const char *old = sep ? strchr(sep + 3, '/') : NULL;
    size_t keep = old ? (size_t)(old - x->url) : strlen(x->url);
    size_t plen = strlen(path);
    char *url = malloc(keep + plen + 1);
    char *p = strdup(path);
    if (!url || !p) {
        free(url);
        free(p);
        return -ENOMEM;
    }
    memcpy(url, x->url, keep);
    memcpy(url + keep, path, plen + 1);
    free(x->url);
    x->url = url;
    free(x->path);
    x->path = p;
    return 0;
}

int fault_http_want_body(fault_plugin *self, fault_http_msg m, size_t max)
{
    if (!self || (m != FAULT_HTTP_REQUEST && m != FAULT_HTTP_RESPONSE))
        return -EINVAL;
    self->want_body[m] = max;
    return 0;
}

size_t fault_http_body_wanted(const fault_http_exchange *x, fault_http_msg m)
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
        return -ENOMEM;
    if (len)
        memcpy(copy, data, len);
    free(x->body[m]);
    x->body[m] = copy;
    x->body_len[m] = len;
    x->body_held[m] = true;
    return 0;
}

int fault_http_put_body(fault_http_exchange *x, fault_http_msg m, const void *data, size_t len)
{
    if (m != FAULT_HTTP_REQUEST && m != FAULT_HTTP_RESPONSE)
        return -EINVAL;
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
        return -EINVAL;
    if (!x->body_held[m])
        return -EPERM;
    if (len && !data)
        return -EINVAL;
    return body_store(x, m, data, len);
}

int fault_http_watch_body(fault_plugin *self, fault_http_exchange *x, fault_direction dir)
{
    if (!self || !x || (dir != FAULT_DIR_EGRESS && dir != FAULT_DIR_INGRESS))
        return -EINVAL;
    x->watch[dir] |= plugin_bit(self);
    x->seen |= plugin_bit(self); /* it hears on_end */
    return 0;
}

bool fault_http_body_watched(const fault_http_exchange *x, fault_direction dir)
{
    return x && (dir == FAULT_DIR_EGRESS || dir == FAULT_DIR_INGRESS) && x->watch[dir] != 0;
}

fault_chain *fault_http_body_chain_new(fault_http_exchange *x, fault_direction dir,
                                       const fault_chain_ops *ops, void *userdata)
{
    if (!x || !x->stream || !ops || (dir != FAULT_DIR_EGRESS && dir != FAULT_DIR_INGRESS))
        return NULL;
    return fault__body_chain_new(x->stream, dir, x, x->watch[dir], ops, userdata);
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
        x->seen |= plugin_bit(p);
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
        return -EINVAL;
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
