/*
 * plugins/demo/fetch.c - outbound HTTP calls for /ping, /ping/myself and
 * /multi: libcurl's multi interface driven by the libuv loop.
 *
 * Why multi + uv_poll rather than easy calls in uv_queue_work threads: the
 * demo's point is to show latency, and /multi must show two calls
 * overlapping. With the multi interface every call is just sockets on the
 * same loop as the server, so any number of calls overlap without a thread
 * pool (libuv's default pool has 4 threads, which would serialise the fifth
 * concurrent call), a call can be cancelled at any moment when its client
 * goes away, and connections to the upstream are kept alive and reused
 * between calls. plugins/lib/curluv.c runs the multi handle on the loop.
 *
 * Proxies. libcurl reads http_proxy, https_proxy, all_proxy and no_proxy
 * by itself, but deliberately not HTTP_PROXY in upper case (a CGI program
 * receives the request header "Proxy:" as HTTP_PROXY). The demo is no CGI
 * program and users of fault are told to `export HTTP_PROXY=...`, so the
 * proxy is chosen here: for http:// URLs http_proxy then HTTP_PROXY, for
 * https:// URLs https_proxy then HTTPS_PROXY, then all_proxy / ALL_PROXY;
 * no_proxy (then NO_PROXY) is handed to libcurl, which applies it with its
 * usual rules (host suffixes, IP addresses, CIDR, "*").
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "curluv.h"
#include "demo.h"

struct demo_fetcher {
    demo_state *st;
    curluv *cu;
    struct demo_fetch *fetches; /* in flight */
};

struct demo_fetch {
    demo_fetcher *fx;
    CURL *easy;
    char *url;
    demo_fetch_cb cb;
    void *ud;
    char *body;
    size_t len, cap;
    bool too_large;
    uint64_t start_us;
    char errbuf[CURL_ERROR_SIZE];
    struct demo_fetch *next, *prev;
};

const char *demo_proxy_for(const char *url)
{
    static const char *const http_vars[] = {"http_proxy", "HTTP_PROXY", NULL};
    static const char *const https_vars[] = {"https_proxy", "HTTPS_PROXY", NULL};
    static const char *const all_vars[] = {"all_proxy", "ALL_PROXY", NULL};
    const char *const *vars = strncmp(url, "https:", 6) == 0 ? https_vars : http_vars;
    for (int pass = 0; pass < 2; pass++, vars = all_vars) {
        for (size_t i = 0; vars[i]; i++) {
            const char *v = getenv(vars[i]);
            if (v && *v)
                return v;
        }
    }
    return NULL;
}

const char *demo_no_proxy(void)
{
    const char *v = getenv("no_proxy");
    if (!v || !*v)
        v = getenv("NO_PROXY");
    return v && *v ? v : NULL;
}

int demo_url_check(const char *url, char *err, size_t errlen)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    int rc = -1;
    if (!u) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
        snprintf(err, errlen, "'%s' is not a URL", url);
    else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
             (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
        snprintf(err, errlen, "'%s': only http:// and https:// URLs can be called", url);
    else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host)
        snprintf(err, errlen, "'%s' has no host", url);
    else
        rc = 0;
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}

/* ---- one call ---- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    demo_fetch *f = userdata;
    size_t n = size * nmemb;
    if (f->len + n > DEMO_MAX_UPSTREAM_BODY) {
        /* Returning less than n makes libcurl fail the call. */
        f->too_large = true;
        return 0;
    }
    if (f->len + n + 1 > f->cap) {
        size_t cap = f->cap ? f->cap : 4096;
        while (cap < f->len + n + 1)
            cap *= 2;
        char *nb = realloc(f->body, cap);
        if (!nb)
            return 0;
        f->body = nb;
        f->cap = cap;
    }
    memcpy(f->body + f->len, data, n);
    f->len += n;
    f->body[f->len] = '\0';
    return n;
}

static void fetch_free(demo_fetch *f)
{
    demo_fetcher *fx = f->fx;
    if (f->prev)
        f->prev->next = f->next;
    else
        fx->fetches = f->next;
    if (f->next)
        f->next->prev = f->prev;
    if (f->easy) {
        curluv_remove(fx->cu, f->easy);
        curl_easy_cleanup(f->easy);
    }
    free(f->body);
    free(f->url);
    free(f);
}

void demo_fetch_cancel(demo_fetch *f)
{
    if (f)
        fetch_free(f);
}

/* A call finished: its callback may start or cancel other calls. */
static void on_done(CURL *easy, CURLcode code, void *userdata)
{
    (void)userdata;
    char *priv = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
    demo_fetch *f = (demo_fetch *)priv;
    demo_fetch_result r = {.url = f->url};
    r.duration_ms = (double)(fault_now_us() - f->start_us) / 1000.0;
    char why[CURL_ERROR_SIZE + 64];
    if (code == CURLE_OK) {
        r.ok = true;
        curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &r.status);
        char *ct = NULL;
        curl_easy_getinfo(f->easy, CURLINFO_CONTENT_TYPE, &ct);
        r.content_type = ct;
    } else if (f->too_large) {
        snprintf(why, sizeof why, "the answer is larger than %d bytes", DEMO_MAX_UPSTREAM_BODY);
        r.error = why;
    } else {
        snprintf(why, sizeof why, "%s", f->errbuf[0] ? f->errbuf : curl_easy_strerror(code));
        r.error = why;
    }
    r.body = f->body ? f->body : "";
    r.body_len = f->len;
    /* The callback may free what the call belongs to, so detach first. */
    demo_fetch_cb cb = f->cb;
    void *ud = f->ud;
    f->cb = NULL;
    cb(&r, ud);
    fetch_free(f);
}

demo_fetch *demo_fetch_start(demo_state *st, const char *url, demo_fetch_cb cb, void *userdata)
{
    demo_fetcher *fx = st->fetcher;
    if (!fx || st->stopping)
        return NULL;
    demo_fetch *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->fx = fx;
    f->cb = cb;
    f->ud = userdata;
    f->url = strdup(url);
    f->easy = curl_easy_init();
    f->next = fx->fetches;
    if (fx->fetches)
        fx->fetches->prev = f;
    fx->fetches = f;
    if (!f->url || !f->easy) {
        fetch_free(f);
        return NULL;
    }
    CURL *e = f->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, f);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->errbuf);
    /* libcurl's own timeouts use signals unless told not to; the loop
     * (and the threaded resolver) must not see SIGALRM. */
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    uint64_t ms = (st->upstream_timeout_us + 999) / 1000;
    if (ms)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)ms);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "fault-demo/" PACKAGE_VERSION);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
    /* The URL comes from a flag or the environment; whatever it says, the
     * demo only speaks HTTP (no file://, no gopher://, also on redirects). */
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    const char *proxy = demo_proxy_for(url);
    if (proxy)
        curl_easy_setopt(e, CURLOPT_PROXY, proxy);
    const char *np = demo_no_proxy();
    if (np)
        curl_easy_setopt(e, CURLOPT_NOPROXY, np);
    f->start_us = fault_now_us();
    if (curluv_add(fx->cu, e) < 0) {
        fetch_free(f);
        return NULL;
    }
    return f;
}

/* ---- setup and teardown ---- */

int demo_fetcher_init(demo_state *st, char *err, size_t errlen)
{
    demo_fetcher *fx = calloc(1, sizeof *fx);
    if (!fx) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    fx->st = st;
    fx->cu = curluv_new(st->loop, on_done, fx);
    if (!fx->cu) {
        free(fx);
        snprintf(err, errlen, "libcurl: cannot create a multi handle");
        return -1;
    }
    st->fetcher = fx;
    return 0;
}

void demo_fetcher_close(demo_state *st)
{
    demo_fetcher *fx = st->fetcher;
    if (!fx)
        return;
    st->fetcher = NULL;
    while (fx->fetches)
        fetch_free(fx->fetches);
    curluv_free(fx->cu);
    free(fx);
}
