/*
 * core/conn.c - TCP listeners and connections over libuv, IPv4 and IPv6,
 * with asynchronous name resolution for upstreams. TLS sits underneath a
 * fault_conn (tls.c) so handlers and the relay see plaintext either way:
 * toward upstreams (fault_connect() with TLS options) and, since ABI 1.1,
 * toward clients (fault_conn_start_tls_server() on an accepted one).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

/* One read buffer for the whole loop: libuv asks for a buffer right before
 * each read and hands it back in the read callback, so a single buffer is
 * enough on one thread, and idle connections hold no read memory at all.
 * How much one read may take is the connection's read_max (the relay sizes
 * it to its buffer budget); large reads mean few system calls in bulk, so
 * the default is 256 KiB (the HTTP plugin's high-water mark): a body moves
 * in a quarter of the reads it took at 64 KiB, about 10% more throughput. */
#define READ_BUF_SIZE (1024 * 1024)
#define READ_DEFAULT (256 * 1024)
static char read_buf[READ_BUF_SIZE];

struct fault_listener {
    uv_tcp_t tcp;
    fault_plugin *owner;
    fault_accept_cb cb;
    void *ud;
    char addr[80];
    uint16_t port;
    struct fault_listener *next;
};

static fault_listener *listeners;
/* Listeners that could not be opened, each already reported by its plugin:
 * a run that ends up with no listener at all fails for that reason. */
static size_t listen_failures;

static void format_addr(const struct sockaddr *sa, char *buf, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
        snprintf(buf, len, "[%s]:%u", ip, ntohs(s6->sin6_port));
    } else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
        snprintf(buf, len, "%s:%u", ip, ntohs(s4->sin_port));
    } else {
        snprintf(buf, len, "?");
    }
}

fault_conn *fault__conn_new(fault_plugin *owner, uv_loop_t *loop)
{
    fault_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->owner = owner;
    if (uv_tcp_init(loop, &c->tcp) != 0) {
        free(c);
        return NULL;
    }
    c->tcp.data = c;
    return c;
}

void fault__conn_set_peer(fault_conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
        format_addr((struct sockaddr *)&ss, c->peer, sizeof c->peer);
}

const char *fault_conn_peer(const fault_conn *c) { return c->peer; }

/* ---- listeners ---- */

static void on_connection(uv_stream_t *server, int status)
{
    fault_listener *l = server->data;
    if (status < 0) {
        fault_log_warn(l->owner, "accept on %s: %s", l->addr, uv_strerror(status));
        return;
    }
    fault_conn *c = fault__conn_new(l->owner, server->loop);
    if (!c)
        return;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        fault_conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    fault__conn_set_peer(c);
    l->cb(l, c, l->ud);
}

static int resolve_listen(uv_loop_t *loop, const char *host, uint16_t port,
                          struct sockaddr_storage *ss)
{
    if (strchr(host, ':')) {
        if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0)
            return 0;
        return UV_EINVAL;
    }
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0)
        return 0;
    /* A host name ("localhost"): resolve once, synchronously, at startup. */
    uv_getaddrinfo_t req;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int rc = uv_getaddrinfo(loop, &req, NULL, host, NULL, &hints);
    if (rc != 0)
        return FAULT_ERESOLVE;
    memcpy(ss, req.addrinfo->ai_addr, req.addrinfo->ai_addrlen);
    if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
    else
        ((struct sockaddr_in *)ss)->sin_port = htons(port);
    uv_freeaddrinfo(req.addrinfo);
    return 0;
}

int fault_listen(fault_plugin *self, const char *host, uint16_t port, fault_accept_cb cb,
                 void *userdata, fault_listener **out)
{
    uv_loop_t *loop = fault__g.loop;
    if (!loop || !cb)
        return FAULT_EINVAL;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    int rc = resolve_listen(loop, host ? host : "0.0.0.0", port, &ss);
    if (rc != 0)
        return fault__err(rc);
    fault_listener *l = calloc(1, sizeof *l);
    if (!l)
        return FAULT_ENOMEM;
    l->owner = self;
    l->cb = cb;
    l->ud = userdata;
    uv_tcp_init(loop, &l->tcp);
    l->tcp.data = l;
    rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&l->tcp, 1024, on_connection);
    if (rc != 0) {
        l->tcp.data = NULL;
        uv_close((uv_handle_t *)&l->tcp, (uv_close_cb)free);
        listen_failures++;
        return fault__err(rc);
    }
    int len = sizeof ss;
    uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &len);
    format_addr((struct sockaddr *)&ss, l->addr, sizeof l->addr);
    l->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                       : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    l->next = listeners;
    listeners = l;
    if (out)
        *out = l;
    return 0;
}

const char *fault_listener_address(const fault_listener *l) { return l->addr; }
uint16_t fault_listener_port(const fault_listener *l) { return l->port; }

static void listener_closed(uv_handle_t *h)
{
    free(fault__container_of(h, fault_listener, tcp));
}

void fault_listener_close(fault_listener *l)
{
    if (!l)
        return;
    for (fault_listener **pp = &listeners; *pp; pp = &(*pp)->next) {
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    }
    uv_close((uv_handle_t *)&l->tcp, listener_closed);
}

size_t fault__listeners_count(void)
{
    size_t n = 0;
    for (fault_listener *l = listeners; l; l = l->next)
        n++;
    return n;
}

size_t fault__listen_failures(void) { return listen_failures; }

void fault__listeners_close_all(void)
{
    while (listeners)
        fault_listener_close(listeners);
}

/* ---- reading ---- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    const fault_conn *c = h->data;
    (void)suggested;
    size_t n = c->read_max ? c->read_max : READ_DEFAULT;
    buf->base = read_buf;
    buf->len = n < sizeof read_buf ? n : sizeof read_buf;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    fault_conn *c = s->data;
    if (nread == 0)
        return;
    if (c->tls) {
        if (nread > 0)
            fault__tls_on_ciphertext(c, (const uint8_t *)buf->base, (size_t)nread);
        else if (fault__tls_handshaking(c))
            fault__tls_on_read_error(c, (int)nread); /* nobody reads yet: fail the handshake */
        else if (c->read_cb)
            c->read_cb(c, (long)fault__err((int)nread), NULL, c->read_ud);
        return;
    }
    if (c->read_cb)
        c->read_cb(c, nread > 0 ? (long)nread : (long)fault__err((int)nread),
                   nread > 0 ? (const uint8_t *)buf->base : NULL, c->read_ud);
}

/* Starts socket reads without a consumer: used by TLS handshakes. */
int fault__conn_sock_read(fault_conn *c, bool on)
{
    if (c->closing)
        return 0;
    if (on)
        return uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
    return uv_read_stop((uv_stream_t *)&c->tcp);
}

int fault_conn_read_start(fault_conn *c, fault_read_cb cb, void *userdata)
{
    c->read_cb = cb;
    c->read_ud = userdata;
    c->reading = true;
    if (c->closing)
        return 0;
    int rc = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
    if (rc == UV_EALREADY)
        rc = 0;
    if (c->tls)
        fault__tls_resume(c);
    return fault__err(rc);
}

int fault_conn_read_stop(fault_conn *c)
{
    c->reading = false;
    if (c->closing)
        return 0;
    return fault__err(uv_read_stop((uv_stream_t *)&c->tcp));
}

/* ---- writing ---- */

typedef struct wreq {
    uv_write_t req;
    fault_conn *c;
    void (*done)(void *ud, int status);
    void *ud;
    fault_write_cb ucb;
    void *uud;
    uint8_t data[];
} wreq;

static void on_written(uv_write_t *req, int status)
{
    wreq *w = fault__container_of(req, wreq, req);
    fault_conn *c = w->c;
    if (w->done)
        w->done(w->ud, status);
    if (w->ucb)
        w->ucb(c, fault__err(status), w->uud);
    free(w);
    if (c->drain_cb && !c->closing)
        c->drain_cb(c, c->drain_ud);
}

int fault__conn_write_ref(fault_conn *c, const uint8_t *data, size_t len,
                          void (*done)(void *ud, int status), void *ud)
{
    if (c->closing)
        return UV_ECANCELED;
    if (c->tls) {
        int rc = fault__tls_write(c, data, len);
        if (done)
            done(ud, rc);
        return rc;
    }
    wreq *w = malloc(sizeof *w);
    if (!w)
        return FAULT_ENOMEM;
    w->c = c;
    w->done = done;
    w->ud = ud;
    w->ucb = NULL;
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (rc != 0)
        free(w);
    return rc;
}

int fault__conn_raw_write(fault_conn *c, const uint8_t *data, size_t len)
{
    if (c->closing)
        return UV_ECANCELED;
    wreq *w = malloc(sizeof *w + len);
    if (!w)
        return FAULT_ENOMEM;
    memcpy(w->data, data, len);
    w->c = c;
    w->done = NULL;
    w->ucb = NULL;
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (rc != 0)
        free(w);
    return rc;
}

int fault_conn_write(fault_conn *c, const void *data, size_t len, fault_write_cb cb,
                     void *userdata)
{
    if (c->closing)
        return FAULT_ECANCELED;
    if (c->tls) {
        int rc = fault__err(fault__tls_write(c, data, len));
        if (cb)
            cb(c, rc, userdata);
        return rc;
    }
    wreq *w = malloc(sizeof *w + len);
    if (!w)
        return FAULT_ENOMEM;
    memcpy(w->data, data, len);
    w->c = c;
    w->done = NULL;
    w->ucb = cb;
    w->uud = userdata;
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (rc != 0)
        free(w);
    return fault__err(rc);
}

long fault__conn_try_write(fault_conn *c, const uint8_t *data, size_t len)
{
    if (c->closing)
        return UV_ECANCELED;
    if (c->tls) {
        int rc = fault__tls_write(c, data, len);
        return rc < 0 ? rc : (long)len;
    }
    /* What uv_try_write() does, with send() instead of write(): on a
     * socket both do the same, but write() first goes through the file
     * layer (position lock, permission hooks), which shows in the cost of
     * every small exchange a proxy relays. Bytes libuv still queues go
     * first, as with uv_try_write(). */
    uv_os_fd_t fd;
    if (uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp) != 0)
        return 0;
    if (uv_fileno((const uv_handle_t *)&c->tcp, &fd) != 0)
        return UV_EBADF;
    ssize_t n;
    do
        n = send(fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n >= 0)
        return (long)n;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 0;
    return uv_translate_sys_error(errno);
}

size_t fault__conn_queued(const fault_conn *c)
{
    return uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp);
}

size_t fault_conn_write_queued(const fault_conn *c) { return fault__conn_queued(c); }

long fault_conn_try_write(fault_conn *c, const void *data, size_t len)
{
    if (!c || (len && !data))
        return FAULT_EINVAL;
    if (len == 0)
        return 0;
    long n = fault__conn_try_write(c, data, len);
    return n < 0 ? (long)fault__err((int)n) : n;
}

/* ---- TLS toward clients (ABI 1.1) ---- */

int fault_conn_start_tls_server(fault_conn *c, fault_tls_server *t, fault_tls_sni_cb sni,
                                void *sni_ud, const void *initial, size_t len,
                                fault_tls_done_cb done, void *userdata)
{
    if (!c || !t || !done || (len && !initial))
        return FAULT_EINVAL;
    if (c->tls || c->closing)
        return FAULT_EBUSY;
    /* The handshake owns the socket's reads until done runs. */
    c->reading = false;
    c->read_cb = NULL;
    return fault__err(fault__tls_server_start(c, t, sni, sni_ud, initial, len, done, userdata));
}

/* Closing either side cancels a transfer: done will not run. */
static void xfer_cancel(fault_conn *c)
{
    if (c->xfer)
        fault__xfer_cancel(c->xfer);
}

/* ---- ending ---- */

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    free(req);
}

int fault_conn_shutdown(fault_conn *c)
{
    if (c->closing || c->shut)
        return 0;
    c->shut = true;
    if (c->tls)
        fault__tls_shutdown_write(c);
    uv_shutdown_t *req = malloc(sizeof *req);
    if (!req)
        return FAULT_ENOMEM;
    int rc = uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown);
    if (rc != 0)
        free(req);
    return fault__err(rc);
}

static void on_closed(uv_handle_t *h)
{
    fault_conn *c = h->data;
    fault__tls_free(c);
    free(c);
}

void fault_conn_close(fault_conn *c)
{
    if (!c || c->closing)
        return;
    xfer_cancel(c);
    c->closing = true;
    c->read_cb = NULL;
    c->drain_cb = NULL;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

void fault_conn_reset(fault_conn *c)
{
    if (!c || c->closing)
        return;
    xfer_cancel(c);
    c->closing = true;
    c->read_cb = NULL;
    c->drain_cb = NULL;
    /* libuv refuses an RST after a shutdown was requested; close then. */
    if (c->shut || uv_tcp_close_reset(&c->tcp, on_closed) != 0)
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* ---- connecting ---- */

/*
 * One attempt to reach an upstream: resolve, try each address, then the
 * TLS handshake. A single timer serves as the attempt's deadline
 * (--connect-timeout) and to report early failures from a later loop
 * iteration, so callers never see their callback run inside
 * fault_connect(). Attempts still pending when the run stops are
 * cancelled, so the loop can drain.
 */
typedef enum { PH_RESOLVE, PH_CONNECT, PH_TLS, PH_DONE } phase;

typedef struct connreq {
    fault_plugin *owner;
    char *host;
    uint16_t port;
    bool use_tls;
    fault_tls_client_opts tls;
    char *sni, *ca_file, *alpn;
    fault_connect_cb cb;
    void *ud;
    uv_getaddrinfo_t gai;
    struct addrinfo *res, *cur;
    struct sockaddr_storage literal;
    fault_conn *c;
    uv_connect_t creq;
    uv_timer_t timer;
    phase ph;
    int error;
    /* The timer, a pending resolution and a pending connect each hold the
     * request: their callbacks may come after it was abandoned. */
    int refs;
    struct connreq *prev, *next;
} connreq;

static connreq *pending_connects;

static void connreq_unref(connreq *r)
{
    if (--r->refs > 0)
        return;
    if (r->res)
        uv_freeaddrinfo(r->res);
    free(r->host);
    free(r->sni);
    free(r->ca_file);
    free(r->alpn);
    free(r);
}

static void connreq_closed(uv_handle_t *h)
{
    connreq_unref(h->data);
}

static void finish(connreq *r, fault_conn *c, int status)
{
    if (r->ph == PH_DONE)
        return;
    r->ph = PH_DONE;
    if (r->prev)
        r->prev->next = r->next;
    else
        pending_connects = r->next;
    if (r->next)
        r->next->prev = r->prev;
    uv_timer_stop(&r->timer);
    r->cb(c, fault__err(status), r->ud);
    uv_close((uv_handle_t *)&r->timer, connreq_closed);
}

static void on_deferred(uv_timer_t *t)
{
    connreq *r = t->data;
    finish(r, NULL, r->error);
}

static void fail_later(connreq *r, int error)
{
    r->error = error;
    uv_timer_start(&r->timer, on_deferred, 0, 0);
}

/* Gives up on the attempt, whatever it is doing, with status. */
static void abandon(connreq *r, int status)
{
    switch (r->ph) {
    case PH_RESOLVE:
        /* The resolver callback reports UV_EAI_CANCELED; finish now. */
        uv_cancel((uv_req_t *)&r->gai);
        break;
    case PH_CONNECT:
    case PH_TLS:
        if (r->c) {
            fault_conn *c = r->c;
            r->c = NULL;
            fault_conn_close(c);
        }
        break;
    case PH_DONE:
        return;
    }
    finish(r, NULL, status);
}

static void on_deadline(uv_timer_t *t)
{
    connreq *r = t->data;
    fault_log_debug(r->owner, "connect to %s port %u timed out", r->host, r->port);
    abandon(r, UV_ETIMEDOUT);
}

void fault__connects_cancel_all(void)
{
    while (pending_connects)
        abandon(pending_connects, UV_ECANCELED);
}

static void try_next(connreq *r);

static void on_tls_done(fault_conn *c, int status, void *ud)
{
    connreq *r = ud;
    if (r->ph != PH_TLS)
        return;
    r->c = NULL;
    if (status != 0) {
        fault_conn_close(c);
        finish(r, NULL, status);
        return;
    }
    finish(r, c, 0);
}

static void on_connected(uv_connect_t *req, int status)
{
    connreq *r = req->data;
    fault_conn *c = r->c;
    if (r->ph != PH_CONNECT) {
        connreq_unref(r); /* abandoned: the connection was closed for us */
        return;
    }
    connreq_unref(r); /* still held by its timer */
    if (status != 0) {
        r->error = status;
        r->c = NULL;
        fault_conn_close(c);
        try_next(r);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    fault__conn_set_peer(c);
    if (r->use_tls) {
        r->ph = PH_TLS;
        int rc = fault__tls_client_start(c, r->host, &r->tls, on_tls_done, r);
        if (rc != 0) {
            r->c = NULL;
            fault_conn_close(c);
            finish(r, NULL, rc);
        }
        return;
    }
    r->c = NULL;
    finish(r, c, 0);
}

static void connect_to(connreq *r, const struct sockaddr *sa)
{
    r->ph = PH_CONNECT;
    r->c = fault__conn_new(r->owner, fault__g.loop);
    if (!r->c) {
        fail_later(r, -ENOMEM);
        return;
    }
    r->creq.data = r;
    r->refs++;
    int rc = uv_tcp_connect(&r->creq, &r->c->tcp, sa, on_connected);
    if (rc != 0) {
        r->refs--;
        r->error = rc;
        fault_conn_close(r->c);
        r->c = NULL;
        try_next(r);
    }
}

static void try_next(connreq *r)
{
    if (!r->cur) {
        fail_later(r, r->error ? r->error : UV_ECONNREFUSED);
        return;
    }
    struct addrinfo *ai = r->cur;
    r->cur = ai->ai_next;
    connect_to(r, ai->ai_addr);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    connreq *r = req->data;
    if (r->ph != PH_RESOLVE) {
        if (res)
            uv_freeaddrinfo(res);
        connreq_unref(r);
        return;
    }
    connreq_unref(r); /* still held by its timer */
    if (status != 0) {
        fault_log_debug(r->owner, "resolve %s: %s", r->host, uv_strerror(status));
        finish(r, NULL, FAULT_ERESOLVE);
        return;
    }
    r->res = res;
    r->cur = res;
    try_next(r);
}

int fault_connect(fault_plugin *self, fault_stream *s, const char *host, uint16_t port,
                  const fault_tls_client_opts *tls, fault_connect_cb cb, void *userdata)
{
    if (!host || !cb || !fault__g.loop)
        return FAULT_EINVAL;
    connreq *r = calloc(1, sizeof *r);
    if (!r)
        return FAULT_ENOMEM;
    r->owner = self;
    r->host = strdup(host);
    r->port = port;
    r->cb = cb;
    r->ud = userdata;
    r->ph = PH_RESOLVE;
    r->refs = 1; /* the timer */
    if (tls) {
        r->use_tls = true;
        r->tls = *tls;
        r->sni = tls->sni ? strdup(tls->sni) : NULL;
        r->ca_file = tls->ca_file ? strdup(tls->ca_file) : NULL;
        r->alpn = tls->alpn ? strdup(tls->alpn) : NULL;
        r->tls.sni = r->sni;
        r->tls.ca_file = r->ca_file;
        r->tls.alpn = r->alpn;
    }
    uv_timer_init(fault__g.loop, &r->timer);
    r->timer.data = r;
    r->next = pending_connects;
    if (pending_connects)
        pending_connects->prev = r;
    pending_connects = r;

    int rc = s ? fault__stream_check_connect(s, host, port) : 0;
    if (rc != 0) {
        fail_later(r, rc);
        return 0;
    }
    if (fault__ro.connect_timeout_us)
        uv_timer_start(&r->timer, on_deadline, (fault__ro.connect_timeout_us + 999) / 1000, 0);
    /* Literal addresses need no resolver round trip. */
    memset(&r->literal, 0, sizeof r->literal);
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&r->literal) == 0 ||
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&r->literal) == 0) {
        connect_to(r, (struct sockaddr *)&r->literal);
        return 0;
    }
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%u", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    r->gai.data = r;
    r->refs++;
    rc = uv_getaddrinfo(fault__g.loop, &r->gai, on_resolved, host, portstr, &hints);
    if (rc != 0) {
        r->refs--;
        fail_later(r, rc);
    }
    return 0;
}
