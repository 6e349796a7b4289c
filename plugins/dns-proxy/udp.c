/*
 * plugins/dns-proxy/udp.c - DNS over UDP: one socket toward clients, one
 * connected socket toward the resolver, on the host's libuv loop (the SDK
 * has no datagrams). A forwarded query keeps the client's bytes except
 * its 16-bit ID, which becomes a free proxy-side ID drawn at random (a
 * generator of our own, so that the fault decisions of a seeded run do not
 * depend on traffic timing); the answer gets the client's ID back and is
 * otherwise relayed as the resolver wrote it. Queries the resolver never
 * answers are forgotten after DP_UPSTREAM_TIMEOUT_US.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "dnsproxy.h"

typedef struct uq { /* a query forwarded to the resolver */
    uint64_t qid, deadline_us;
    struct sockaddr_storage peer;
    uint16_t client_id, proxy_id;
    bool hold, ttl, checked; /* checked: the answer's question must match */
    uint64_t question;
    size_t qlen;
    struct uq *prev, *next; /* in deadline order */
} uq;

typedef struct held { /* an answer waiting for --delay */
    dp_udp *u;
    fault_timer *timer;
    struct sockaddr_storage peer;
    uint64_t qid;
    size_t qlen, len;
    struct held *prev, *next;
    uint8_t data[];
} held;

struct dp_udp {
    dp_state *st;
    uv_udp_t front, up;
    uv_timer_t sweep;
    int handles; /* open libuv handles: freed when the last one closed */
    uq **slots;  /* 65536, by proxy-side ID */
    uq *head, *tail;
    held *held;
    fault_rng ids;
};

/* One datagram at a time: libuv calls the receive callback right after
 * the allocation, on the loop thread. */
static uint8_t rbuf[65536];

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    buf->base = (char *)rbuf;
    buf->len = sizeof rbuf;
}

static void on_sent(uv_udp_send_t *req, int status)
{
    (void)status;
    free(req);
}

/* Sends without queueing when the socket has room (the usual case);
 * otherwise queues a copy. */
static void send_dgram(uv_udp_t *h, const struct sockaddr *to, const uint8_t *data, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int rc = uv_udp_try_send(h, &b, 1, to);
    if (rc >= 0 || (rc != UV_EAGAIN && rc != UV_ENOSYS))
        return;
    uv_udp_send_t *req = malloc(sizeof *req + len);
    if (!req)
        return;
    memcpy(req + 1, data, len);
    b = uv_buf_init((char *)(req + 1), (unsigned)len);
    if (uv_udp_send(req, h, &b, 1, to, on_sent) != 0)
        free(req);
}

static void unlink_uq(dp_udp *u, uq *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        u->head = x->next;
    if (x->next)
        x->next->prev = x->prev;
    else
        u->tail = x->prev;
    u->slots[x->proxy_id] = NULL;
}

static void forward(dp_udp *u, uint8_t *m, size_t len, const dnsmsg *q, const struct sockaddr *peer,
                    const dp_decision *d)
{
    uint16_t id = (uint16_t)fault_rng_u64(&u->ids);
    for (unsigned i = 0; i < 65536 && u->slots[id]; i++)
        id++;
    uq *x = u->slots[id] ? NULL : malloc(sizeof *x);
    if (!x) {
        fault_log_warn(u->st->self, "too many queries in flight: one dropped");
        dp_done(u->st, d->qid, len, 0, FAULT_ENOMEM, "too many queries in flight");
        return;
    }
    x->qid = d->qid;
    x->deadline_us = fault_now_us() + DP_UPSTREAM_TIMEOUT_US;
    memcpy(&x->peer, peer,
           peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
    x->client_id = (uint16_t)(m[0] << 8 | m[1]);
    x->proxy_id = id;
    x->hold = d->action == DP_HOLD;
    x->ttl = d->ttl;
    x->checked = q != NULL;
    x->question = q ? dnsmsg_question_digest(q) : 0;
    x->qlen = len;
    x->next = NULL;
    x->prev = u->tail;
    if (u->tail)
        u->tail->next = x;
    else
        u->head = x;
    u->tail = x;
    u->slots[id] = x;
    m[0] = (uint8_t)(id >> 8);
    m[1] = (uint8_t)id;
    send_dgram(&u->up, NULL, m, len);
}

static void on_front(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *addr,
                     unsigned flags)
{
    dp_udp *u = h->data;
    /* Nothing to answer to: no sender, an error, a datagram cut short, or
     * not even a DNS header. */
    if (n < DNSMSG_HEADER || !addr || (flags & UV_UDP_PARTIAL))
        return;
    uint8_t *m = (uint8_t *)buf->base;
    size_t len = (size_t)n;
    dnsmsg q;
    bool ok = dnsmsg_parse(m, len, &q) == 0;
    char peer[64] = "";
    if (fault_event_wanted(FAULT_EV_CONN_OPEN))
        dp_format_addr(addr, peer, sizeof peer);
    dp_decision d;
    dp_decide(u->st, ok ? &q : NULL, false, peer, &d);
    switch (d.action) {
    case DP_REPLY:
        if (d.reply_len > 0)
            send_dgram(&u->front, addr, d.reply, (size_t)d.reply_len);
        dp_done(u->st, d.qid, len, d.reply_len > 0 ? (size_t)d.reply_len : 0, 0, NULL);
        break;
    case DP_DROP:
    case DP_FAIL:
        dp_done(u->st, d.qid, len, 0, 0, NULL);
        break;
    default:
        forward(u, m, len, ok ? &q : NULL, addr, &d);
        break;
    }
}

static void on_held(fault_timer *t, void *ud)
{
    held *hd = ud;
    dp_udp *u = hd->u;
    send_dgram(&u->front, (struct sockaddr *)&hd->peer, hd->data, hd->len);
    dp_done(u->st, hd->qid, hd->qlen, hd->len, 0, NULL);
    if (hd->prev)
        hd->prev->next = hd->next;
    else
        u->held = hd->next;
    if (hd->next)
        hd->next->prev = hd->prev;
    fault_timer_free(t);
    free(hd);
}

static void hold(dp_udp *u, uq *x, const uint8_t *m, size_t len)
{
    held *hd = malloc(sizeof *hd + len);
    if (!hd || fault_timer_new(u->st->self, on_held, hd, &hd->timer) < 0) {
        free(hd);
        dp_done(u->st, x->qid, x->qlen, 0, FAULT_ENOMEM, NULL);
        return;
    }
    hd->u = u;
    hd->peer = x->peer;
    hd->qid = x->qid;
    hd->qlen = x->qlen;
    hd->len = len;
    memcpy(hd->data, m, len);
    hd->prev = NULL;
    hd->next = u->held;
    if (u->held)
        u->held->prev = hd;
    u->held = hd;
    fault_timer_start(hd->timer, u->st->delay_us);
}

static void on_up(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *addr,
                  unsigned flags)
{
    dp_udp *u = h->data;
    (void)addr;
    if (n < DNSMSG_HEADER || (flags & UV_UDP_PARTIAL))
        return;
    uint8_t *m = (uint8_t *)buf->base;
    size_t len = (size_t)n;
    uq *x = u->slots[m[0] << 8 | m[1]];
    if (!x) /* late (forgotten) or not ours */
        return;
    /* A late answer to a forgotten query whose ID was drawn again: not
     * this query's (answers without a question are taken as they are). */
    uint64_t question;
    if (x->checked && dnsmsg_question_digest_of(m, len, &question) == 0 && question != x->question)
        return;
    unlink_uq(u, x);
    m[0] = (uint8_t)(x->client_id >> 8);
    m[1] = (uint8_t)x->client_id;
    if (x->ttl)
        dnsmsg_set_ttls(m, len, (uint32_t)u->st->ttl);
    if (x->hold) {
        hold(u, x, m, len);
    } else {
        send_dgram(&u->front, (struct sockaddr *)&x->peer, m, len);
        dp_done(u->st, x->qid, x->qlen, len, 0, NULL);
    }
    free(x);
}

static void on_sweep(uv_timer_t *t)
{
    dp_udp *u = t->data;
    uint64_t now = fault_now_us();
    while (u->head && u->head->deadline_us <= now) {
        uq *x = u->head;
        unlink_uq(u, x);
        dp_done(u->st, x->qid, x->qlen, 0, FAULT_ETIMEDOUT, "the resolver did not answer");
        free(x);
    }
}

static void on_closed(uv_handle_t *h)
{
    dp_udp *u = h->data;
    if (--u->handles == 0) {
        free(u->slots);
        free(u);
    }
}

int dp_udp_start(dp_state *st, uv_loop_t *loop, char *err, size_t errlen)
{
    dp_udp *u = calloc(1, sizeof *u);
    if (!u || !(u->slots = calloc(65536, sizeof *u->slots))) {
        free(u);
        snprintf(err, errlen, "out of memory");
        return FAULT_ENOMEM;
    }
    u->st = st;
    fault_rng_seed(&u->ids, fault_now_us() ^ (uint64_t)(uintptr_t)u);
    uv_udp_init(loop, &u->front);
    uv_udp_init(loop, &u->up);
    uv_timer_init(loop, &u->sweep);
    u->front.data = u->up.data = u->sweep.data = u;
    u->handles = 3;
    st->udp = u;
    const char *what = "udp bind";
    int rc = uv_udp_bind(&u->front, (const struct sockaddr *)&st->listen_ss, 0);
    if (rc == 0) {
        what = "connecting to --resolver";
        rc = uv_udp_connect(&u->up, (const struct sockaddr *)&st->resolver_ss);
    }
    if (rc == 0) {
        what = "udp receive";
        rc = uv_udp_recv_start(&u->front, on_alloc, on_front);
    }
    if (rc == 0)
        rc = uv_udp_recv_start(&u->up, on_alloc, on_up);
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", what, uv_strerror(rc));
        dp_udp_stop(st);
        return FAULT_EIO;
    }
    /* Larger socket buffers ride out bursts (best effort). */
    int size = 1 << 21;
    uv_recv_buffer_size((uv_handle_t *)&u->front, &size);
    size = 1 << 21;
    uv_recv_buffer_size((uv_handle_t *)&u->up, &size);
    uv_timer_start(&u->sweep, on_sweep, 250, 250);
    uv_unref((uv_handle_t *)&u->sweep);
    return 0;
}

void dp_udp_stop(dp_state *st)
{
    dp_udp *u = st->udp;
    if (!u)
        return;
    st->udp = NULL;
    while (u->head) {
        uq *x = u->head;
        unlink_uq(u, x);
        dp_done(st, x->qid, x->qlen, 0, FAULT_ECANCELED, NULL);
        free(x);
    }
    while (u->held) {
        held *hd = u->held;
        u->held = hd->next;
        dp_done(st, hd->qid, hd->qlen, 0, FAULT_ECANCELED, NULL);
        fault_timer_free(hd->timer);
        free(hd);
    }
    uv_close((uv_handle_t *)&u->front, on_closed);
    uv_close((uv_handle_t *)&u->up, on_closed);
    uv_close((uv_handle_t *)&u->sweep, on_closed);
}
