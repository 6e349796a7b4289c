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
 * between calls. libcurl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION,
 * one uv_poll_t each) and when to wake it up (CURLMOPT_TIMERFUNCTION, one
 * uv_timer_t); we hand readiness back with curl_multi_socket_action().
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

#include "demo.h"

struct demo_fetcher {
    demo_state *st;
    CURLM *multi;
    uv_timer_t timer;
    bool timer_open;
    struct demo_fetch *fetches; /* in flight */
    struct sock_watch *watches; /* sockets libcurl asked us to watch */
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

/* One socket libcurl wants watched. Kept on a list so that whatever
 * libcurl does not explicitly remove at cleanup is still closed. */
typedef struct sock_watch {
    uv_poll_t poll;
    curl_socket_t fd;
    demo_fetcher *fx;
    struct sock_watch *next, *prev;
} sock_watch;

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

/* ---- libcurl <-> libuv ---- */

static void check_done(demo_fetcher *fx);

static void watch_closed(uv_handle_t *h)
{
    free(h->data);
}

static void watch_close(sock_watch *w)
{
    demo_fetcher *fx = w->fx;
    if (w->prev)
        w->prev->next = w->next;
    else
        fx->watches = w->next;
    if (w->next)
        w->next->prev = w->prev;
    /* uv_close stops the poll and takes the descriptor out of epoll right
     * away, before libcurl closes it. */
    uv_close((uv_handle_t *)&w->poll, watch_closed);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    sock_watch *w = h->data;
    demo_fetcher *fx = w->fx;
    int flags = 0;
    int running;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    curl_multi_socket_action(fx->multi, w->fd, flags, &running);
    check_done(fx);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    demo_fetcher *fx = userp;
    sock_watch *w = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (w) {
            curl_multi_assign(fx->multi, fd, NULL);
            watch_close(w);
        }
        return 0;
    }
    if (!w) {
        w = calloc(1, sizeof *w);
        if (!w)
            return -1;
        if (uv_poll_init_socket(fx->st->loop, &w->poll, fd) != 0) {
            free(w);
            return -1;
        }
        w->fd = fd;
        w->fx = fx;
        w->poll.data = w;
        w->next = fx->watches;
        if (fx->watches)
            fx->watches->prev = w;
        fx->watches = w;
        curl_multi_assign(fx->multi, fd, w);
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    return uv_poll_start(&w->poll, events, on_poll) == 0 ? 0 : -1;
}

static void on_timeout(uv_timer_t *t)
{
    demo_fetcher *fx = t->data;
    int running;
    curl_multi_socket_action(fx->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(fx);
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    demo_fetcher *fx = userp;
    /* libcurl must not be re-entered from here; even a 0 ms timeout is
     * served from the loop, on its next turn. */
    if (timeout_ms < 0)
        uv_timer_stop(&fx->timer);
    else
        uv_timer_start(&fx->timer, on_timeout, (uint64_t)timeout_ms, 0);
    return 0;
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
        curl_multi_remove_handle(fx->multi, f->easy);
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

/* Delivers every finished call. A callback may start or cancel other
 * calls: both only touch the multi handle outside socket_action, and
 * removing a handle also drops its pending message. */
static void check_done(demo_fetcher *fx)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(fx->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        char *priv = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        demo_fetch *f = (demo_fetch *)priv;
        CURLcode code = msg->data.result;
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
    if (curl_multi_add_handle(fx->multi, e) != CURLM_OK) {
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
    fx->multi = curl_multi_init();
    if (!fx->multi) {
        free(fx);
        snprintf(err, errlen, "libcurl: cannot create a multi handle");
        return -1;
    }
    uv_timer_init(st->loop, &fx->timer);
    fx->timer.data = fx;
    fx->timer_open = true;
    curl_multi_setopt(fx->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(fx->multi, CURLMOPT_SOCKETDATA, fx);
    curl_multi_setopt(fx->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(fx->multi, CURLMOPT_TIMERDATA, fx);
    st->fetcher = fx;
    return 0;
}

static void fetcher_closed(uv_handle_t *h)
{
    free(h->data);
}

void demo_fetcher_close(demo_state *st)
{
    demo_fetcher *fx = st->fetcher;
    if (!fx)
        return;
    st->fetcher = NULL;
    while (fx->fetches)
        fetch_free(fx->fetches);
    /* Closes the connections libcurl kept alive; it tells on_socket to
     * stop watching those it was watching. */
    curl_multi_cleanup(fx->multi);
    fx->multi = NULL;
    while (fx->watches)
        watch_close(fx->watches);
    uv_close((uv_handle_t *)&fx->timer, fetcher_closed);
}
