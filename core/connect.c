/*
 * core/connect.c - reaching upstreams (fault_connect()): asynchronous name
 * resolution, each address tried in turn, the TLS handshake, and the
 * --connect-timeout deadline.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"

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
