/*
 * plugins/demo/demo.h - what the files of the demo plugin share.
 *
 * The demo is split by concern: demo.c is the plugin (options, `fault demo
 * run`, signals), server.c speaks HTTP/1.1 to clients, routes.c answers the
 * endpoints and fetch.c makes the outbound calls with libcurl. Everything
 * runs on the host's libuv loop, on one thread; nothing here is exported
 * (the plugin exports only its descriptor).
 */
#ifndef FAULT_DEMO_H
#define FAULT_DEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include <fault/plugin.h>

/* Bounds on what one request may carry: the demo answers small JSON and
 * HTML, so anything bigger is a client error rather than work to do. */
#define DEMO_MAX_URL  8192
#define DEMO_MAX_BODY (1024 * 1024)
/* The most an upstream answer may weigh before the call counts as failed. */
#define DEMO_MAX_UPSTREAM_BODY (1024 * 1024)

typedef struct demo_conn demo_conn;
typedef struct demo_fetch demo_fetch;
typedef struct demo_fetcher demo_fetcher;

typedef struct demo_state {
    /* Options (written by the host; see the table in demo.c). */
    const char *address;
    int64_t port;
    const char *upstream_url;
    uint64_t upstream_timeout_us;

    /* Run time. */
    uv_loop_t *loop;
    fault_listener *listener;
    char self_url[128];   /* "http://127.0.0.1:7070/": what /ping/myself calls */
    const char *upstream; /* what /ping and /multi call: the option or self_url */
    demo_conn *conns;     /* live client connections, for shutdown */
    demo_fetcher *fetcher;
    uv_signal_t sigint, sigterm;
    bool signals_open;
    bool stopping;
} demo_state;

/* One parsed request, from its last byte read to its response queued. */
typedef struct demo_request {
    demo_conn *conn;
    demo_state *st;
    int method; /* llhttp_method_t */
    const char *method_name;
    char *target; /* the request target as sent */
    char *path;   /* target without scheme://authority and query */
    char *body;   /* NUL terminated (the NUL is not counted) */
    size_t body_len;
    uint64_t start_us; /* fault_now_us() when the request was complete */
    /* An endpoint that answers later (after an outbound call) leaves its
     * context here; cancel() runs if the connection goes away first, and
     * must free ctx and stop every call still in flight. */
    void *ctx;
    void (*cancel)(struct demo_request *rq);
} demo_request;

/* ---- server.c ---- */

/* Starts serving st->listener's connections. */
void demo_server_accept(fault_listener *l, fault_conn *c, void *userdata);
/* Queues the response to rq and frees rq (and only rq: an async endpoint
 * frees its ctx first and clears rq->cancel). extra_headers is either NULL
 * or complete "Name: value\r\n" lines. */
void demo_respond(demo_request *rq, int status, const char *content_type, const char *body,
                  size_t len, const char *extra_headers);
/* Convenience: a JSON body {"error": message} (message is escaped). */
void demo_respond_error(demo_request *rq, int status, const char *message);
/* Closes every client connection now, cancelling the calls they wait on. */
void demo_server_close_all(demo_state *st);

/* ---- routes.c ---- */

/* Answers rq, now or later (through demo_respond either way). */
void demo_route(demo_request *rq);
/* The lines printed under the listening line, describing the endpoints. */
void demo_routes_describe(const demo_state *st);
/* Frees what the endpoints keep between requests (the case tables). */
void demo_routes_cleanup(void);
/* Upper-cases UTF-8 text (invalid bytes are copied unchanged). Returns a
 * malloc'd NUL-terminated string, or NULL when out of memory. */
char *demo_uppercase(const char *s, size_t len);

/* ---- fetch.c ---- */

typedef struct demo_fetch_result {
    const char *url;
    bool ok;                  /* an HTTP answer arrived (any status) */
    const char *error;        /* why not, when !ok */
    long status;              /* HTTP status, 0 when !ok */
    const char *content_type; /* may be NULL */
    const char *body;         /* NUL terminated */
    size_t body_len;
    double duration_ms;
} demo_fetch_result;

/* The result and everything it points to are valid during the call only;
 * the fetch is freed after it returns. */
typedef void (*demo_fetch_cb)(const demo_fetch_result *r, void *userdata);

int demo_fetcher_init(demo_state *st, char *err, size_t errlen);
/* Cancels every call in flight (their callbacks never run) and closes the
 * handles, so the loop can drain. */
void demo_fetcher_close(demo_state *st);
/* Starts a GET of url; NULL when it could not even start. */
demo_fetch *demo_fetch_start(demo_state *st, const char *url, demo_fetch_cb cb, void *userdata);
/* Stops a call in flight; its callback never runs. */
void demo_fetch_cancel(demo_fetch *f);
/* The proxy an outbound call to url would use, from the environment (see
 * fetch.c for the rules), or NULL. */
const char *demo_proxy_for(const char *url);
/* no_proxy, else NO_PROXY, else NULL. */
const char *demo_no_proxy(void);
/* A URL the demo can call: http:// or https://. Returns 0 or writes why
 * not into err. */
int demo_url_check(const char *url, char *err, size_t errlen);

#endif /* FAULT_DEMO_H */
