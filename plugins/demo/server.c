/*
 * plugins/demo/server.c - the demo's HTTP/1.1 server: client connections
 * over the SDK's fault_conn, requests parsed with llhttp, responses with a
 * Content-Length, keep-alive and pipelining.
 *
 * One request per connection is answered at a time, in order: when llhttp
 * completes a message the parser pauses, the rest of what was read waits
 * in conn->in, and parsing resumes once the response is queued. That keeps
 * pipelined responses in request order even when an endpoint answers later
 * (after an outbound call), and stops reading from a client that sends far
 * ahead of what it has been answered.
 *
 * A demo_conn outlives its fault_conn a little: after fault_conn_close()
 * libuv still calls back the writes it cancels, and the idle timer has its
 * own close callback, so the struct is freed once both are done (see
 * maybe_free()).
 *
 * Ends of a request other than its answer: a client that closes while its
 * request is being answered (a timeout, Ctrl-C) is logged with status 499,
 * as nginx does, and the outbound calls made for it are cancelled; when
 * the server stops, a request in flight is answered 503.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <llhttp.h>

#include "demo.h"

/* A keep-alive connection with nothing to answer is closed after this. */
#define IDLE_MS (60 * 1000)
/* After the last response of a connection, how long its unread input is
 * drained before closing (see start_linger()). */
#define LINGER_MS 2000
/* Input kept while a request is being answered before reads stop. */
#define IN_HIGH_WATER (64 * 1024)

struct demo_conn {
    demo_state *st;
    fault_conn *c;
    llhttp_t parser;

    /* The message being parsed. */
    char *url;
    size_t url_len;
    char *body;
    size_t body_len, body_cap;
    char hname[16];
    size_t hname_len;
    char hval[32];
    size_t hval_len;
    bool expect_continue;
    bool url_seen;       /* the method has been parsed */
    int reject;          /* 413 or 414: refuse instead of parsing on */
    bool msg_keep_alive; /* the parser's verdict, taken at headers end */
    bool msg_http10;
    demo_request *ready; /* complete, not yet dispatched */

    /* Read but not parsed yet. */
    char *in;
    size_t in_len, in_cap;

    demo_request *rq; /* being answered */
    bool keep_alive;  /* of rq */
    bool http10;      /* rq came as HTTP/1.0 */

    uv_timer_t timer; /* idle timeout, then linger timeout */
    bool timer_open;
    unsigned writes; /* fault_conn_write() calls not called back yet */
    bool in_drive;
    bool reading;
    bool peer_eof;
    bool closing; /* the last response is queued; close after it */
    bool lingering;
    bool dead; /* fault_conn closed; freed by maybe_free() */
    demo_conn *next, *prev;
};

static void drive(demo_conn *k);
static void on_read(fault_conn *c, long nread, const uint8_t *data, void *userdata);

/* ---- lifetime ---- */

/* One line per request, flushed at once so that a pipe or a file (tests,
 * `| grep`) sees it while the server runs. */
static void log_request(const demo_request *rq, int status)
{
    double ms = (double)(fault_now_us() - rq->start_us) / 1000.0;
    printf("%s %s %d %.1fms\n", rq->method_name, rq->target, status, ms);
    fflush(stdout);
}

static void request_free(demo_request *rq)
{
    if (!rq)
        return;
    free(rq->target);
    free(rq->path);
    free(rq->body);
    free(rq);
}

static void maybe_free(demo_conn *k)
{
    if (!k->dead || k->writes || k->timer_open || k->in_drive)
        return;
    request_free(k->ready);
    free(k->url);
    free(k->body);
    free(k->in);
    free(k);
}

static void timer_closed(uv_handle_t *h)
{
    demo_conn *k = h->data;
    k->timer_open = false;
    maybe_free(k);
}

/* Closes the connection now. Whatever its request was waiting for is
 * cancelled; pending writes are dropped. */
static void conn_kill(demo_conn *k)
{
    if (k->dead)
        return;
    k->dead = true;
    if (k->prev)
        k->prev->next = k->next;
    else
        k->st->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    if (k->rq) {
        /* The client left before its answer: logged as 499, nginx's
         * "client closed request", so that every request has its line. */
        log_request(k->rq, 499);
        if (k->rq->cancel)
            k->rq->cancel(k->rq);
        request_free(k->rq);
        k->rq = NULL;
    }
    request_free(k->ready);
    k->ready = NULL;
    fault_conn_close(k->c);
    k->c = NULL;
    if (k->timer_open)
        uv_close((uv_handle_t *)&k->timer, timer_closed);
    maybe_free(k);
}

static void on_timer(uv_timer_t *t)
{
    conn_kill(t->data);
}

static void timer_arm(demo_conn *k, uint64_t ms)
{
    if (k->timer_open)
        uv_timer_start(&k->timer, on_timer, ms, 0);
}

/* The response that ends the connection has left: send FIN, then read and
 * drop what the client still sends until it closes too (or LINGER_MS).
 * Closing at once with unread input would make the kernel send a reset,
 * which can destroy the response before the client has read it. */
static void start_linger(demo_conn *k)
{
    if (k->st->stopping) {
        conn_kill(k);
        return;
    }
    k->lingering = true;
    fault_conn_shutdown(k->c);
    if (k->peer_eof) {
        conn_kill(k);
        return;
    }
    if (!k->reading)
        k->reading = fault_conn_read_start(k->c, on_read, k) == 0;
    timer_arm(k, LINGER_MS);
}

/* ---- writing ---- */

static void on_written(fault_conn *c, int status, void *userdata)
{
    (void)c;
    demo_conn *k = userdata;
    k->writes--;
    if (!k->dead) {
        if (status < 0)
            conn_kill(k);
        else if (k->closing && !k->writes && !k->lingering)
            start_linger(k);
    }
    maybe_free(k);
}

static void conn_write(demo_conn *k, const char *data, size_t len)
{
    if (k->dead)
        return;
    /* Counted before the call: on TLS the callback runs before it returns
     * (on plain TCP later); on an error return it never runs. */
    k->writes++;
    if (fault_conn_write(k->c, data, len, on_written, k) != 0) {
        k->writes--;
        conn_kill(k);
    }
}

/* ---- responses ---- */

static const char *reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    default:
        return "Unknown";
    }
}

void demo_respond(demo_request *rq, int status, const char *content_type, const char *body,
                  size_t len, const char *extra_headers)
{
    demo_conn *k = rq->conn;
    /* Detached first: a failing write kills the connection, which must
     * not free or cancel the request being answered here. */
    if (k->rq == rq)
        k->rq = NULL;
    log_request(rq, status);

    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);

    bool head = rq->method == HTTP_HEAD;
    const char *conn_hdr = !k->keep_alive ? "Connection: close\r\n"
                           : k->http10    ? "Connection: keep-alive\r\n"
                                          : "";
    char hdr[1024];
    int n = snprintf(hdr, sizeof hdr,
                     "HTTP/1.1 %d %s\r\nServer: fault-demo/%s\r\nDate: %s\r\n"
                     "Content-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n",
                     status, reason(status), PACKAGE_VERSION, date, content_type, len, conn_hdr,
                     extra_headers ? extra_headers : "");
    if (n < 0 || (size_t)n >= sizeof hdr) {
        request_free(rq);
        conn_kill(k);
        return;
    }
    /* Head and body in one write: one segment on the wire for small
     * answers, and no partial response if the connection dies between. */
    size_t total = (size_t)n + (head ? 0 : len);
    char *out = malloc(total);
    if (!out) {
        request_free(rq);
        conn_kill(k);
        return;
    }
    memcpy(out, hdr, (size_t)n);
    if (!head && len)
        memcpy(out + n, body, len);
    /* body may point into rq: free it only now. */
    request_free(rq);
    conn_write(k, out, total);
    free(out);
    if (k->dead)
        return;
    if (!k->keep_alive) {
        /* Nothing after this response will be answered. */
        k->closing = true;
        k->in_len = 0;
        if (!k->writes)
            start_linger(k);
        return;
    }
    timer_arm(k, IDLE_MS);
    drive(k);
}

void demo_respond_error(demo_request *rq, int status, const char *message)
{
    char body[512];
    size_t o = 0;
    o += (size_t)snprintf(body, sizeof body, "{\"error\":\"");
    /* A minimal JSON string escape: messages come from us and libcurl. */
    for (const char *p = message; *p && o + 8 < sizeof body; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '"' || ch == '\\') {
            body[o++] = '\\';
            body[o++] = (char)ch;
        } else if (ch < 0x20) {
            o += (size_t)snprintf(body + o, sizeof body - o, "\\u%04x", ch);
        } else {
            body[o++] = (char)ch;
        }
    }
    o += (size_t)snprintf(body + o, sizeof body - o, "\"}");
    demo_respond(rq, status, "application/json", body, o, NULL);
}

/* ---- parsing ---- */

static int append(char **buf, size_t *len, size_t *cap, const char *at, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *len + n + 1)
            c *= 2;
        char *nb = realloc(*buf, c);
        if (!nb)
            return -1;
        *buf = nb;
        *cap = c;
    }
    memcpy(*buf + *len, at, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

static int on_message_begin(llhttp_t *p)
{
    demo_conn *k = p->data;
    k->url_len = 0;
    k->url_seen = false;
    k->body_len = 0;
    k->hname_len = k->hval_len = 0;
    k->expect_continue = false;
    k->reject = 0;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    demo_conn *k = p->data;
    k->url_seen = true;
    if (k->url_len + n > DEMO_MAX_URL) {
        k->reject = 414;
        llhttp_set_error_reason(p, "request target too long");
        return HPE_USER;
    }
    /* One buffer of the largest size accepted, kept for the connection. */
    if (!k->url && !(k->url = malloc(DEMO_MAX_URL + 1)))
        return HPE_USER;
    memcpy(k->url + k->url_len, at, n);
    k->url_len += n;
    k->url[k->url_len] = '\0';
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    demo_conn *k = p->data;
    /* Only Expect matters here; longer names are kept truncated, which
     * cannot make them equal to "expect". */
    for (size_t i = 0; i < n && k->hname_len < sizeof k->hname - 1; i++)
        k->hname[k->hname_len++] = (char)tolower((unsigned char)at[i]);
    k->hname[k->hname_len] = '\0';
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    demo_conn *k = p->data;
    for (size_t i = 0; i < n && k->hval_len < sizeof k->hval - 1; i++)
        k->hval[k->hval_len++] = (char)tolower((unsigned char)at[i]);
    k->hval[k->hval_len] = '\0';
    return 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    demo_conn *k = p->data;
    if (strcmp(k->hname, "expect") == 0 && strstr(k->hval, "100-continue"))
        k->expect_continue = true;
    k->hname_len = k->hval_len = 0;
    k->hname[0] = k->hval[0] = '\0';
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    demo_conn *k = p->data;
    /* Taken here: llhttp resets its flags once the message is complete. */
    k->msg_keep_alive = llhttp_should_keep_alive(p) && !llhttp_get_upgrade(p) &&
                        llhttp_get_method(p) != HTTP_CONNECT;
    k->msg_http10 = llhttp_get_http_major(p) == 1 && llhttp_get_http_minor(p) == 0;
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > DEMO_MAX_BODY) {
        k->reject = 413;
        llhttp_set_error_reason(p, "request body too large");
        return HPE_USER;
    }
    /* A client that waits for "100 Continue" (curl does for larger
     * bodies) would otherwise sit out its own timeout first. */
    if (k->expect_continue && (p->flags & (F_CONTENT_LENGTH | F_CHUNKED)) && !k->msg_http10) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        conn_write(k, cont, sizeof cont - 1);
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    demo_conn *k = p->data;
    if (k->body_len + n > DEMO_MAX_BODY) {
        /* Chunked bodies have no length up front. */
        k->reject = 413;
        llhttp_set_error_reason(p, "request body too large");
        return HPE_USER;
    }
    return append(&k->body, &k->body_len, &k->body_cap, at, n) == 0 ? 0 : HPE_USER;
}

static demo_request *request_new(demo_conn *k, int method)
{
    demo_request *rq = calloc(1, sizeof *rq);
    if (!rq)
        return NULL;
    rq->conn = k;
    rq->st = k->st;
    rq->method = method;
    rq->method_name = method >= 0 ? llhttp_method_name((llhttp_method_t)method) : "-";
    rq->start_us = fault_now_us();
    const char *t = k->url && k->url_len ? k->url : "-";
    /* The path to route on: an absolute-form target (as sent to a proxy)
     * loses its scheme and authority, and the query is not part of it. */
    const char *path = t;
    const char *sep = strstr(t, "://");
    if (t[0] != '/' && sep) {
        path = strchr(sep + 3, '/');
        if (!path)
            path = "/";
    }
    rq->target = strdup(t);
    rq->path = strndup(path, strcspn(path, "?#"));
    if (!rq->target || !rq->path) {
        request_free(rq);
        return NULL;
    }
    return rq;
}

static int on_message_complete(llhttp_t *p)
{
    demo_conn *k = p->data;
    demo_request *rq = request_new(k, llhttp_get_method(p));
    if (!rq)
        return HPE_USER;
    rq->body = k->body;
    rq->body_len = k->body_len;
    k->body = NULL;
    k->body_len = k->body_cap = 0;
    k->ready = rq;
    k->keep_alive = k->msg_keep_alive;
    k->http10 = k->msg_http10;
    /* Stop here: the next pipelined request waits for this answer. */
    return HPE_PAUSED;
}

static const llhttp_settings_t *settings(void)
{
    static llhttp_settings_t s;
    static bool done;
    if (!done) {
        llhttp_settings_init(&s);
        s.on_message_begin = on_message_begin;
        s.on_url = on_url;
        s.on_header_field = on_header_field;
        s.on_header_value = on_header_value;
        s.on_header_value_complete = on_header_value_complete;
        s.on_headers_complete = on_headers_complete;
        s.on_body = on_body;
        s.on_message_complete = on_message_complete;
        done = true;
    }
    return &s;
}

/* Answers a request llhttp could not parse, then closes. */
static void reject(demo_conn *k, llhttp_errno_t err)
{
    int status = k->reject ? k->reject : 400;
    int method = k->url_seen ? (int)llhttp_get_method(&k->parser) : -1;
    demo_request *rq = request_new(k, method);
    if (!rq) {
        conn_kill(k);
        return;
    }
    k->rq = rq;
    k->keep_alive = false;
    k->http10 = false;
    /* llhttp reports a failing headers callback as "User callback error":
     * say what was refused instead. */
    const char *why = status == 413   ? "request body too large (at most 1 MiB)"
                      : status == 414 ? "request target too long"
                                      : llhttp_get_error_reason(&k->parser);
    char msg[256];
    snprintf(msg, sizeof msg, "%s%s", status == 400 ? "malformed request: " : "",
             why && *why ? why : llhttp_errno_name(err));
    demo_respond_error(rq, status, msg);
}

/* Parses what was read, one request at a time, while nothing is being
 * answered. Re-entered from demo_respond() when an endpoint answers at
 * once: the in_drive guard turns that recursion into this loop. */
static void drive(demo_conn *k)
{
    if (k->in_drive || k->dead)
        return;
    k->in_drive = true;
    while (!k->dead && !k->rq && !k->closing && k->in_len > 0) {
        llhttp_errno_t err = llhttp_execute(&k->parser, k->in, k->in_len);
        size_t used = k->in_len;
        if (err == HPE_PAUSED) {
            used = (size_t)(llhttp_get_error_pos(&k->parser) - k->in);
            llhttp_resume(&k->parser);
        }
        memmove(k->in, k->in + used, k->in_len - used);
        k->in_len -= used;
        if (err != HPE_OK && err != HPE_PAUSED) {
            reject(k, err);
            break;
        }
        if (k->ready) {
            demo_request *rq = k->ready;
            k->ready = NULL;
            k->rq = rq;
            /* The endpoint has its own time limits (the upstream timeout). */
            if (k->timer_open)
                uv_timer_stop(&k->timer);
            demo_route(rq);
        }
    }
    if (!k->dead && !k->rq && !k->closing && !k->reading)
        k->reading = fault_conn_read_start(k->c, on_read, k) == 0;
    k->in_drive = false;
    maybe_free(k);
}

static void on_read(fault_conn *c, long nread, const uint8_t *data, void *userdata)
{
    (void)c;
    demo_conn *k = userdata;
    if (k->dead)
        return;
    if (nread < 0) {
        if (nread != UV_EOF || k->lingering) {
            conn_kill(k);
            return;
        }
        k->peer_eof = true;
        k->reading = false;
        /* An EOF while a request is being answered is taken, as nginx
         * does, for a client that gave up (a timeout, Ctrl-C): its calls
         * are cancelled and it is logged as 499. HTTP clients that
         * half-close and still wait for the answer are rare. A partial
         * request will never complete either. */
        if (!k->closing)
            conn_kill(k);
        return;
    }
    if (k->lingering || k->closing)
        return; /* drained and dropped */
    if (append(&k->in, &k->in_len, &k->in_cap, (const char *)data, (size_t)nread) != 0) {
        conn_kill(k);
        return;
    }
    if (k->rq) {
        if (k->in_len > IN_HIGH_WATER) {
            fault_conn_read_stop(k->c);
            k->reading = false;
        }
        return;
    }
    timer_arm(k, IDLE_MS);
    drive(k);
}

void demo_server_accept(fault_listener *l, fault_conn *c, void *userdata)
{
    (void)l;
    demo_state *st = userdata;
    if (st->stopping) {
        fault_conn_close(c);
        return;
    }
    demo_conn *k = calloc(1, sizeof *k);
    if (!k) {
        fault_conn_reset(c);
        return;
    }
    k->st = st;
    k->c = c;
    llhttp_init(&k->parser, HTTP_REQUEST, settings());
    k->parser.data = k;
    uv_timer_init(st->loop, &k->timer);
    k->timer.data = k;
    k->timer_open = true;
    k->next = st->conns;
    if (st->conns)
        st->conns->prev = k;
    st->conns = k;
    if (fault_conn_read_start(c, on_read, k) != 0) {
        conn_kill(k);
        return;
    }
    k->reading = true;
    timer_arm(k, IDLE_MS);
}

void demo_server_close_all(demo_state *st)
{
    for (demo_conn *k = st->conns, *next; k; k = next) {
        next = k->next;
        if (k->rq) {
            /* A request in flight gets an answer rather than a bare close;
             * the connection closes once it is written. */
            demo_request *rq = k->rq;
            if (rq->cancel)
                rq->cancel(rq);
            rq->cancel = NULL;
            k->keep_alive = false;
            demo_respond_error(rq, 503, "the demo server is stopping");
        } else if (!k->writes) {
            conn_kill(k);
            continue;
        } else {
            k->closing = true; /* killed once its writes are done */
        }
        /* A client that never reads must not hold the exit up. */
        if (!k->dead)
            timer_arm(k, LINGER_MS);
    }
}
