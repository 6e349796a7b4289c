/*
 * plugins/demo/routes.c - the demo's endpoints.
 *
 *   GET  /             200 text/html "<h1>Hello, World!</h1>"
 *   GET  /ping         GET of the upstream URL; 200 with
 *                      {"url", "status", "duration_ms", "content_type", "body"}
 *                      whatever the upstream's status, 502 {"error", ...} when
 *                      no HTTP answer came (refused, timeout, bad proxy)
 *   GET  /ping/myself  GET of this server's own /; 200 with that body, 500
 *                      {"error"} unless it answered 200
 *   POST /uppercase    {"content": "text"} -> {"content": "TEXT"}; 400 when
 *                      the body is not JSON or has no string "content"
 *   GET  /multi        two GETs of the upstream at once; 200 with
 *                      {"url", "duration_ms", "calls": [{status, duration_ms}, x2]},
 *                      502 (with the calls and their errors) if either failed
 *
 * HEAD works wherever GET does; a known path with another method gets 405
 * and an Allow header, any other path 404. Errors are JSON {"error": "..."}.
 *
 * The upstream's body in /ping: when it says it is JSON (application/json
 * or any +json type) and parses, "body" is that JSON value, so a JSON API
 * reads naturally; otherwise it is a string (invalid UTF-8 replaced by
 * U+FFFD, so the answer is always valid JSON).
 *
 * Durations are milliseconds, rounded to 0.1, measured on the monotonic
 * clock from the request's last byte to the upstream's last byte.
 */
#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wctype.h>

#include <cJSON.h>
#include <llhttp.h>

#include "demo.h"

static double round_ms(double ms)
{
    return (double)(long long)(ms * 10.0 + 0.5) / 10.0;
}

/* ---- UTF-8 ---- */

/* Decodes one code point at s (n bytes available). Returns its length, or
 * 0 when the bytes are not well-formed UTF-8 (overlong forms, surrogates
 * and values above U+10FFFF included). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len;
    uint32_t c, min;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2, c = s[0] & 0x1f, min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3, c = s[0] & 0x0f, min = 0x800;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4, c = s[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

static size_t utf8_encode(uint32_t c, char *out)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xc0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xe0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        out[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
    out[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

/* The case tables of C.UTF-8, without touching the process locale (which
 * belongs to the host). When that locale is missing, only ASCII changes. */
static locale_t utf8_loc;
static bool utf8_tried;

static locale_t utf8_locale(void)
{
    if (!utf8_tried) {
        utf8_tried = true;
        utf8_loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    }
    return utf8_loc;
}

void demo_routes_cleanup(void)
{
    if (utf8_loc)
        freelocale(utf8_loc);
    utf8_loc = (locale_t)0;
    utf8_tried = false;
}

char *demo_uppercase(const char *s, size_t len)
{
    /* A code point never needs more than 4 bytes, whatever it was. */
    char *out = malloc(len * 4 + 1);
    if (!out)
        return NULL;
    locale_t loc = utf8_locale();
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        uint32_t c;
        size_t n = utf8_decode((const unsigned char *)s + i, len - i, &c);
        if (!n) {
            out[o++] = s[i++];
            continue;
        }
        if (loc)
            c = (uint32_t)towupper_l((wint_t)c, loc);
        else if (c >= 'a' && c <= 'z')
            c -= 'a' - 'A';
        o += utf8_encode(c, out + o);
        i += n;
    }
    out[o] = '\0';
    return out;
}

/* Valid UTF-8 without NUL bytes (cJSON strings end at the first NUL):
 * anything else becomes U+FFFD. */
static char *utf8_clean(const char *s, size_t len)
{
    char *out = malloc(len * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        uint32_t c;
        size_t n = utf8_decode((const unsigned char *)s + i, len - i, &c);
        if (!n || c == 0) {
            o += utf8_encode(0xfffd, out + o);
            i++;
            continue;
        }
        memcpy(out + o, s + i, n);
        o += n;
        i += n;
    }
    out[o] = '\0';
    return out;
}

/* ---- helpers ---- */

static void respond_json(demo_request *rq, int status, cJSON *json)
{
    char *text = json ? cJSON_PrintUnformatted(json) : NULL;
    cJSON_Delete(json);
    if (!text) {
        demo_respond_error(rq, 500, "out of memory");
        return;
    }
    demo_respond(rq, status, "application/json", text, strlen(text), NULL);
    cJSON_free(text);
}

static bool is_json_type(const char *ct)
{
    if (!ct)
        return false;
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
        return true;
    return n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0;
}

/* The upstream's body as a JSON value: parsed when it is JSON, else a
 * string. */
static cJSON *body_value(const demo_fetch_result *r)
{
    if (is_json_type(r->content_type)) {
        cJSON *v = cJSON_ParseWithLength(r->body, r->body_len);
        if (v)
            return v;
    }
    char *clean = utf8_clean(r->body, r->body_len);
    cJSON *v = clean ? cJSON_CreateString(clean) : NULL;
    free(clean);
    return v;
}

/* ---- GET / ---- */

static void hello(demo_request *rq)
{
    static const char body[] = "<h1>Hello, World!</h1>";
    demo_respond(rq, 200, "text/html; charset=utf-8", body, sizeof body - 1, NULL);
}

/* ---- GET /ping ---- */

/* /ping and /ping/myself wait on one call: rq->ctx is that call. */
static void cancel_one(demo_request *rq)
{
    demo_fetch_cancel(rq->ctx);
    rq->ctx = NULL;
}

static void ping_done(const demo_fetch_result *r, void *userdata)
{
    demo_request *rq = userdata;
    rq->ctx = NULL; /* the fetcher frees the call after this returns */
    rq->cancel = NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "url", r->url);
    if (!r->ok) {
        cJSON_AddStringToObject(o, "error", r->error);
        cJSON_AddNumberToObject(o, "duration_ms", round_ms(r->duration_ms));
        respond_json(rq, 502, o);
        return;
    }
    cJSON_AddNumberToObject(o, "status", (double)r->status);
    cJSON_AddNumberToObject(o, "duration_ms", round_ms(r->duration_ms));
    if (r->content_type)
        cJSON_AddStringToObject(o, "content_type", r->content_type);
    else
        cJSON_AddNullToObject(o, "content_type");
    cJSON *b = body_value(r);
    if (b)
        cJSON_AddItemToObject(o, "body", b);
    respond_json(rq, 200, o);
}

static void start_one(demo_request *rq, const char *url, demo_fetch_cb cb)
{
    demo_fetch *f = demo_fetch_start(rq->st, url, cb, rq);
    if (!f) {
        demo_respond_error(rq, rq->st->stopping ? 503 : 502, "cannot start the outbound call");
        return;
    }
    rq->ctx = f;
    rq->cancel = cancel_one;
}

static void ping(demo_request *rq)
{
    start_one(rq, rq->st->upstream, ping_done);
}

/* ---- GET /ping/myself ---- */

static void myself_done(const demo_fetch_result *r, void *userdata)
{
    demo_request *rq = userdata;
    rq->ctx = NULL;
    rq->cancel = NULL;
    char why[512];
    if (!r->ok) {
        snprintf(why, sizeof why, "GET %s failed: %s", r->url, r->error);
        demo_respond_error(rq, 500, why);
    } else if (r->status != 200) {
        snprintf(why, sizeof why, "GET %s answered %ld", r->url, r->status);
        demo_respond_error(rq, 500, why);
    } else {
        demo_respond(rq, 200, r->content_type ? r->content_type : "text/html; charset=utf-8",
                     r->body, r->body_len, NULL);
    }
}

static void ping_myself(demo_request *rq)
{
    start_one(rq, rq->st->self_url, myself_done);
}

/* ---- POST /uppercase ---- */

static void uppercase(demo_request *rq)
{
    cJSON *in = cJSON_ParseWithLength(rq->body ? rq->body : "", rq->body_len);
    if (!in) {
        demo_respond_error(rq, 400, "the body is not valid JSON");
        return;
    }
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(in, "content");
    if (!cJSON_IsObject(in) || !cJSON_IsString(content) || !content->valuestring) {
        cJSON_Delete(in);
        demo_respond_error(rq, 400, "expected a JSON object with a string \"content\"");
        return;
    }
    char *up = demo_uppercase(content->valuestring, strlen(content->valuestring));
    cJSON_Delete(in);
    if (!up) {
        demo_respond_error(rq, 500, "out of memory");
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "content", up);
    free(up);
    respond_json(rq, 200, o);
}

/* ---- GET /multi ---- */

#define MULTI_CALLS 2

typedef struct multi_call {
    struct multi_ctx *m;
    demo_fetch *f; /* in flight, else NULL */
    bool ok;
    long status;
    double ms;
    char error[256];
} multi_call;

typedef struct multi_ctx {
    demo_request *rq;
    multi_call calls[MULTI_CALLS];
    int pending;
} multi_ctx;

static void multi_cancel(demo_request *rq)
{
    multi_ctx *m = rq->ctx;
    for (int i = 0; i < MULTI_CALLS; i++)
        demo_fetch_cancel(m->calls[i].f);
    free(m);
    rq->ctx = NULL;
}

static void multi_done(const demo_fetch_result *r, void *userdata)
{
    multi_call *call = userdata;
    multi_ctx *m = call->m;
    call->f = NULL;
    call->ok = r->ok;
    call->status = r->status;
    call->ms = r->duration_ms;
    if (!r->ok)
        snprintf(call->error, sizeof call->error, "%s", r->error);
    if (--m->pending > 0)
        return;

    demo_request *rq = m->rq;
    bool all_ok = true;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "url", rq->st->upstream);
    /* From the request to the last answer: about the slower call when
     * the two overlap, their sum if they did not. */
    double total = (double)(fault_now_us() - rq->start_us) / 1000.0;
    cJSON_AddNumberToObject(o, "duration_ms", round_ms(total));
    cJSON *arr = cJSON_AddArrayToObject(o, "calls");
    for (int i = 0; i < MULTI_CALLS; i++) {
        multi_call *c = &m->calls[i];
        cJSON *e = cJSON_CreateObject();
        if (c->ok) {
            cJSON_AddNumberToObject(e, "status", (double)c->status);
        } else {
            cJSON_AddStringToObject(e, "error", c->error);
            all_ok = false;
        }
        cJSON_AddNumberToObject(e, "duration_ms", round_ms(c->ms));
        cJSON_AddItemToArray(arr, e);
    }
    if (!all_ok)
        cJSON_AddStringToObject(o, "error", "an upstream call failed");
    free(m);
    rq->ctx = NULL;
    rq->cancel = NULL;
    respond_json(rq, all_ok ? 200 : 502, o);
}

static void multi(demo_request *rq)
{
    multi_ctx *m = calloc(1, sizeof *m);
    if (!m) {
        demo_respond_error(rq, 500, "out of memory");
        return;
    }
    m->rq = rq;
    rq->ctx = m;
    rq->cancel = multi_cancel;
    /* Both calls are started before either can finish (completions are
     * delivered from the loop, never from demo_fetch_start). */
    for (int i = 0; i < MULTI_CALLS; i++) {
        m->calls[i].m = m;
        m->calls[i].f = demo_fetch_start(rq->st, rq->st->upstream, multi_done, &m->calls[i]);
        if (!m->calls[i].f) {
            multi_cancel(rq);
            rq->cancel = NULL;
            demo_respond_error(rq, rq->st->stopping ? 503 : 502, "cannot start the outbound calls");
            return;
        }
        m->pending++;
    }
}

/* ---- routing ---- */

typedef struct route {
    const char *path;
    int method; /* HEAD is accepted wherever GET is */
    void (*fn)(demo_request *rq);
    const char *allow;
    const char *describe;
} route;

static const route routes[] = {
    {"/", HTTP_GET, hello, "GET, HEAD", "Hello, World! (text/html)"},
    {"/ping", HTTP_GET, ping, "GET, HEAD", "calls the upstream; its status, body and duration"},
    {"/ping/myself", HTTP_GET, ping_myself, "GET, HEAD", "calls this server's /"},
    {"/uppercase", HTTP_POST, uppercase, "POST",
     "{\"content\": \"text\"} -> {\"content\": \"TEXT\"}"},
    {"/multi", HTTP_GET, multi, "GET, HEAD", "calls the upstream twice at once; total duration"},
};

void demo_route(demo_request *rq)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const route *r = &routes[i];
        if (strcmp(rq->path, r->path) != 0)
            continue;
        if (rq->method == r->method || (r->method == HTTP_GET && rq->method == HTTP_HEAD)) {
            r->fn(rq);
            return;
        }
        char allow[64];
        snprintf(allow, sizeof allow, "Allow: %s\r\n", r->allow);
        static const char body[] = "{\"error\":\"method not allowed\"}";
        demo_respond(rq, 405, "application/json", body, sizeof body - 1, allow);
        return;
    }
    static const char body[] = "{\"error\":\"not found\"}";
    demo_respond(rq, 404, "application/json", body, sizeof body - 1, NULL);
}

void demo_routes_describe(const demo_state *st)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        printf("  %-4s %-13s %s\n", routes[i].method == HTTP_POST ? "POST" : "GET", routes[i].path,
               routes[i].describe);
    /* Say which proxy the environment names, since that is easy to get
     * wrong; whether NO_PROXY exempts the upstream is libcurl's call. */
    const char *proxy = demo_proxy_for(st->upstream);
    const char *np = demo_no_proxy();
    if (proxy && np)
        printf("  upstream: %s (proxy %s, except NO_PROXY=%s)\n", st->upstream, proxy, np);
    else if (proxy)
        printf("  upstream: %s (proxy %s)\n", st->upstream, proxy);
    else
        printf("  upstream: %s\n", st->upstream);
}
