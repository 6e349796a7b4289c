/*
 * plugins/scenario/http.c - the scenario's HTTP calls: libcurl's multi
 * interface driven by the host's libuv loop.
 *
 * Why multi on the loop: the load strategy is open-loop, so a slow target
 * must not lower the offered rate; every request is sent at its scheduled
 * time however many are still waiting for an answer. With the multi
 * interface any number of calls are sockets on the one loop (no thread
 * pool to saturate), timers and the child proxy's pipes share that loop,
 * and a call can be dropped at any moment (Ctrl-C); plugins/lib/curluv.c
 * runs the multi handle on the loop.
 *
 * Every call opens its own connection (see sc_http_start()).
 *
 * Proxies come from the scenario only: a call goes through the item's
 * proxy when it has one, and never through one from the environment
 * (http_proxy, no_proxy), which would silently change what is measured.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "curluv.h"
#include "runner.h"

typedef struct req {
    sc_http *h;
    CURL *easy;
    struct curl_slist *headers;
    sc_req_cb cb;
    void *ud;
    uintptr_t tag;
    uint64_t start_hr; /* uv_hrtime() when added */
    uint64_t start_wall;
    int64_t bytes;
    char *lookup; /* the name libcurl resolves: the proxy's or the URL's */
    char errbuf[CURL_ERROR_SIZE];
    struct req *next, *prev;
} req;

struct sc_http {
    curluv *cu;
    req *reqs;
    size_t inflight;
};

/* ---- one call ---- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    (void)data;
    req *r = ud;
    r->bytes += (int64_t)(size * nmemb);
    return size * nmemb;
}

static void req_free(req *r)
{
    sc_http *h = r->h;
    if (r->prev)
        r->prev->next = r->next;
    else
        h->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    h->inflight--;
    curluv_remove(h->cu, r->easy);
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    free(r->lookup);
    free(r);
}

static char *host_of(const char *url)
{
    CURLU *u = curl_url();
    char *host = NULL, *out = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
        out = strdup(host);
    curl_free(host);
    curl_url_cleanup(u);
    return out;
}

static void finish(req *r, CURLcode code)
{
    sc_call c;
    memset(&c, 0, sizeof c);
    CURL *e = r->easy;
    c.start_wall_us = r->start_wall;
    c.response_ms = (double)(uv_hrtime() - r->start_hr) / 1e6;
    c.end_wall_us = r->start_wall + (uint64_t)(c.response_ms * 1000.0);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    c.status = code == CURLE_OK ? (int)status : 0;
    c.body_len = r->bytes;
    curl_off_t t = 0;
    if (curl_easy_getinfo(e, CURLINFO_STARTTRANSFER_TIME_T, &t) == CURLE_OK)
        c.ttfb_ms = (double)t / 1000.0;
    t = 0;
    if (curl_easy_getinfo(e, CURLINFO_NAMELOOKUP_TIME_T, &t) == CURLE_OK)
        c.dns_ms = (double)t / 1000.0;
    c.dns_resolved = code != CURLE_COULDNT_RESOLVE_HOST && code != CURLE_COULDNT_RESOLVE_PROXY;
    c.dns_host = r->lookup;
    r->lookup = NULL;
    char *ip = NULL;
    long port = 0;
    if (curl_easy_getinfo(e, CURLINFO_LOCAL_IP, &ip) == CURLE_OK && ip && *ip &&
        curl_easy_getinfo(e, CURLINFO_LOCAL_PORT, &port) == CURLE_OK && port > 0)
        snprintf(c.local, sizeof c.local, strchr(ip, ':') ? "[%s]:%ld" : "%s:%ld", ip, port);
    if (code != CURLE_OK) {
        c.errored = true;
        c.timed_out = code == CURLE_OPERATION_TIMEDOUT;
        c.error = strdup(r->errbuf[0] ? r->errbuf : curl_easy_strerror(code));
    }
    sc_req_cb cb = r->cb;
    void *ud = r->ud;
    uintptr_t tag = r->tag;
    req_free(r);
    cb(&c, ud, tag);
}

static void on_done(CURL *easy, CURLcode code, void *userdata)
{
    sc_http *h = userdata;
    for (req *q = h->reqs; q; q = q->next) {
        if (q->easy == easy) {
            finish(q, code);
            return;
        }
    }
}

int sc_http_start(sc_http *h, const sc_req_spec *s, sc_req_cb cb, void *ud, uintptr_t tag)
{
    req *r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    r->h = h;
    r->cb = cb;
    r->ud = ud;
    r->tag = tag;
    r->easy = curl_easy_init();
    if (!r->easy) {
        free(r);
        return -1;
    }
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_URL, s->url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "fault-scenario/" PACKAGE_VERSION);
    if (s->timeout_ms)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    /* Each call is a new client with its own connection: faults that act
     * once per connection (latency without per-read-write, reset, ...)
     * then apply to every call, not only to the first on a kept-alive
     * connection. */
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    /* The empty string turns off the environment's proxy and no_proxy. */
    curl_easy_setopt(e, CURLOPT_PROXY, s->proxy ? s->proxy : "");
    curl_easy_setopt(e, CURLOPT_NOPROXY, "");
    /* The name looked up is the proxy's when the call goes through it. */
    r->lookup = host_of(s->proxy ? s->proxy : s->url);

    bool has_ct = false;
    for (size_t i = 0; i < s->nheaders; i++) {
        char line[8192];
        if (!*s->headers[i].value)
            snprintf(line, sizeof line, "%s;", s->headers[i].name);
        else
            snprintf(line, sizeof line, "%s: %s", s->headers[i].name, s->headers[i].value);
        if (strcasecmp(s->headers[i].name, "content-type") == 0)
            has_ct = true;
        struct curl_slist *nl = curl_slist_append(r->headers, line);
        if (nl)
            r->headers = nl;
    }
    /* libcurl would wait for a 100 Continue on large bodies: a proxy or
     * server that never sends one would add a second to every call. */
    struct curl_slist *nl = curl_slist_append(r->headers, "Expect:");
    if (nl)
        r->headers = nl;
    if (s->body && !has_ct) {
        /* libcurl would otherwise say form-urlencoded. */
        nl = curl_slist_append(r->headers, "Content-Type:");
        if (nl)
            r->headers = nl;
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);

    if (strcmp(s->method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (s->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(s->body));
        curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, s->body);
        if (strcmp(s->method, "POST") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, s->method);
    } else if (strcmp(s->method, "GET") != 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, s->method);
    }

    r->next = h->reqs;
    if (h->reqs)
        h->reqs->prev = r;
    h->reqs = r;
    h->inflight++;
    r->start_hr = uv_hrtime();
    r->start_wall = sc_wall_us();
    if (curluv_add(h->cu, e) < 0) {
        req_free(r);
        return -1;
    }
    return 0;
}

size_t sc_http_inflight(const sc_http *h)
{
    return h->inflight;
}

void sc_http_cancel_all(sc_http *h)
{
    while (h->reqs)
        req_free(h->reqs);
}

sc_http *sc_http_new(uv_loop_t *loop, char *err, size_t errlen)
{
    sc_http *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->cu = curluv_new(loop, on_done, h);
    if (!h->cu) {
        free(h);
        snprintf(err, errlen, "libcurl: cannot create a multi handle");
        return NULL;
    }
    return h;
}

void sc_http_free(sc_http *h)
{
    if (!h)
        return;
    sc_http_cancel_all(h);
    curluv_free(h->cu);
    free(h);
}
