/*
 * plugins/dns-proxy/tcp.c - DNS over TCP (RFC 7766): messages framed by a
 * two-byte length. Each client connection gets its own connection to the
 * resolver, opened at its first forwarded query, which carries the
 * client's frames unchanged; answers are matched to waiting queries by
 * message ID (the first waiting query with that ID) and relayed
 * unchanged, in the order the resolver sends them. A dropped query
 * (case timeout) is never answered while the connection lives; a failing
 * TCP fallback (truncated-tcp-fail) resets the client's connection.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "dnsproxy.h"

typedef struct tconn tconn;

typedef struct tq { /* a query of a connection, until answered */
    tconn *tc;
    uint64_t qid;
    uint16_t id;
    bool hold, ttl, dropped;
    size_t qlen;
    fault_timer *timer; /* delay: the answer waits here */
    uint8_t *answer;    /* framed */
    size_t answer_len;
    struct tq *next;
} tq;

struct tconn {
    dp_tcp *t;
    fault_conn *c, *up;
    bool connecting, closing, client_eof;
    int refs; /* a connect in flight keeps the struct */
    uint8_t *in, *upin, *outq;
    size_t inlen, incap, upinlen, upincap, outqlen, outqcap;
    tq *queries;
    char peer[64];
    tconn *prev, *next;
};

struct dp_tcp {
    dp_state *st;
    fault_listener *l;
    tconn *conns;
};

static int append(uint8_t **buf, size_t *len, size_t *cap, const uint8_t *data, size_t n)
{
    if (*len + n > *cap) {
        size_t nc = *cap ? *cap : 1024;
        while (nc < *len + n)
            nc *= 2;
        uint8_t *nb = realloc(*buf, nc);
        if (!nb)
            return FAULT_ENOMEM;
        *buf = nb;
        *cap = nc;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    return 0;
}

static void tconn_free(tconn *tc)
{
    free(tc->in);
    free(tc->upin);
    free(tc->outq);
    free(tc);
}

/* Drops a reference taken around a loop; true when the connection was
 * closed meanwhile (and is freed now if nothing else holds it). */
static bool release(tconn *tc)
{
    tc->refs--;
    if (!tc->closing)
        return false;
    if (tc->refs == 0)
        tconn_free(tc);
    return true;
}

/* Ends a client connection (reset: with RST) and everything it waits for. */
static void tconn_close(tconn *tc, bool reset)
{
    if (tc->closing)
        return;
    tc->closing = true;
    dp_state *st = tc->t->st;
    while (tc->queries) {
        tq *q = tc->queries;
        tc->queries = q->next;
        dp_done(st, q->qid, q->qlen, 0, q->dropped ? 0 : FAULT_ECANCELED,
                q->dropped ? NULL : "the connection ended first");
        fault_timer_free(q->timer);
        free(q->answer);
        free(q);
    }
    if (reset)
        fault_conn_reset(tc->c);
    else
        fault_conn_close(tc->c);
    if (tc->up)
        fault_conn_close(tc->up);
    tc->c = tc->up = NULL;
    if (tc->prev)
        tc->prev->next = tc->next;
    else
        tc->t->conns = tc->next;
    if (tc->next)
        tc->next->prev = tc->prev;
    if (tc->refs == 0)
        tconn_free(tc);
}

static bool waiting(const tconn *tc)
{
    for (const tq *q = tc->queries; q; q = q->next)
        if (!q->dropped)
            return true;
    return false;
}

static void write_framed(fault_conn *c, const uint8_t *m, size_t len)
{
    uint8_t hdr[2] = {(uint8_t)(len >> 8), (uint8_t)len};
    uint8_t small[2 + DNSMSG_REPLY_MAX];
    if (len <= DNSMSG_REPLY_MAX) {
        memcpy(small, hdr, 2);
        memcpy(small + 2, m, len);
        fault_conn_write(c, small, len + 2, NULL, NULL);
    } else {
        fault_conn_write(c, hdr, 2, NULL, NULL);
        fault_conn_write(c, m, len, NULL, NULL);
    }
}

static void remove_query(tconn *tc, tq *q)
{
    for (tq **pp = &tc->queries; *pp; pp = &(*pp)->next) {
        if (*pp == q) {
            *pp = q->next;
            break;
        }
    }
}

/* A query answered: the connection ends when the client has closed its
 * side and nothing else is awaited. */
static void answered(tconn *tc)
{
    if (tc->client_eof && !waiting(tc))
        tconn_close(tc, false);
}

static void on_held(fault_timer *t, void *ud)
{
    tq *q = ud;
    tconn *tc = q->tc;
    (void)t;
    fault_conn_write(tc->c, q->answer, q->answer_len, NULL, NULL);
    dp_done(tc->t->st, q->qid, q->qlen, q->answer_len - 2, 0, NULL);
    remove_query(tc, q);
    fault_timer_free(q->timer);
    free(q->answer);
    free(q);
    answered(tc);
}

/* One framed answer from the resolver (frame[0..1] is its length). */
static void on_answer(tconn *tc, uint8_t *frame, size_t len)
{
    dp_state *st = tc->t->st;
    if (len < 2 + DNSMSG_HEADER)
        return;
    uint16_t id = (uint16_t)(frame[2] << 8 | frame[3]);
    tq *q = tc->queries;
    while (q && (q->dropped || q->timer || q->id != id))
        q = q->next;
    if (!q)
        return;
    if (q->ttl)
        dnsmsg_set_ttls(frame + 2, len - 2, (uint32_t)st->ttl);
    if (q->hold) {
        q->answer = malloc(len);
        if (q->answer && fault_timer_new(st->self, on_held, q, &q->timer) == 0) {
            memcpy(q->answer, frame, len);
            q->answer_len = len;
            fault_timer_start(q->timer, st->delay_us);
            return;
        }
        free(q->answer);
        q->answer = NULL;
    }
    fault_conn_write(tc->c, frame, len, NULL, NULL);
    dp_done(st, q->qid, q->qlen, len - 2, 0, NULL);
    remove_query(tc, q);
    free(q);
    answered(tc);
}

static void on_up_read(fault_conn *c, long n, const uint8_t *data, void *ud)
{
    tconn *tc = ud;
    if (n < 0) {
        /* The resolver closed: what it still owed will not come. */
        fault_conn_close(c);
        tc->up = NULL;
        tc->upinlen = 0;
        if (waiting(tc))
            tconn_close(tc, false);
        return;
    }
    if (append(&tc->upin, &tc->upinlen, &tc->upincap, data, (size_t)n) < 0) {
        tconn_close(tc, false);
        return;
    }
    size_t off = 0;
    tc->refs++; /* on_answer() may close the connection */
    while (tc->upinlen - off >= 2) {
        size_t mlen = (size_t)(tc->upin[off] << 8 | tc->upin[off + 1]);
        if (tc->upinlen - off < 2 + mlen)
            break;
        on_answer(tc, tc->upin + off, 2 + mlen);
        if (tc->closing)
            break;
        off += 2 + mlen;
    }
    if (release(tc))
        return;
    memmove(tc->upin, tc->upin + off, tc->upinlen - off);
    tc->upinlen -= off;
}

static void on_up_connect(fault_conn *c, int status, void *ud)
{
    tconn *tc = ud;
    tc->refs--;
    tc->connecting = false;
    if (tc->closing) {
        if (c)
            fault_conn_close(c);
        if (tc->refs == 0)
            tconn_free(tc);
        return;
    }
    if (status < 0) {
        fault_log_warn(tc->t->st->self, "%s: resolver %s over TCP: %s", tc->peer,
                       tc->t->st->resolver_text, fault_strerror(status));
        tconn_close(tc, false);
        return;
    }
    tc->up = c;
    if (tc->outqlen)
        fault_conn_write(c, tc->outq, tc->outqlen, NULL, NULL);
    tc->outqlen = 0;
    fault_conn_read_start(c, on_up_read, tc);
}

static void forward(tconn *tc, const uint8_t *frame, size_t len)
{
    dp_state *st = tc->t->st;
    if (tc->up) {
        fault_conn_write(tc->up, frame, len, NULL, NULL);
        return;
    }
    if (append(&tc->outq, &tc->outqlen, &tc->outqcap, frame, len) < 0)
        return;
    if (tc->connecting)
        return;
    tc->connecting = true;
    tc->refs++;
    if (fault_connect(st->self, NULL, st->resolver_host, st->resolver_port, NULL, on_up_connect,
                      tc) < 0) {
        tc->refs--;
        tc->connecting = false;
        tconn_close(tc, false);
    }
}

/* One framed query from the client. */
static void on_query(tconn *tc, const uint8_t *frame, size_t len)
{
    dp_state *st = tc->t->st;
    const uint8_t *m = frame + 2;
    size_t mlen = len - 2;
    if (mlen < DNSMSG_HEADER) {
        tconn_close(tc, false); /* not DNS */
        return;
    }
    dnsmsg q;
    bool ok = dnsmsg_parse(m, mlen, &q) == 0;
    dp_decision d;
    dp_decide(st, ok ? &q : NULL, true, tc->peer, &d);
    if (d.action == DP_REPLY) {
        if (d.reply_len > 0)
            write_framed(tc->c, d.reply, (size_t)d.reply_len);
        dp_done(st, d.qid, mlen, d.reply_len > 0 ? (size_t)d.reply_len : 0, 0, NULL);
        return;
    }
    if (d.action == DP_FAIL) {
        dp_done(st, d.qid, mlen, 0, FAULT_ECONNRESET, "TCP fallback reset");
        tconn_close(tc, true);
        return;
    }
    tq *x = calloc(1, sizeof *x);
    if (!x) {
        tconn_close(tc, false);
        return;
    }
    x->tc = tc;
    x->qid = d.qid;
    x->id = (uint16_t)(m[0] << 8 | m[1]);
    x->hold = d.action == DP_HOLD;
    x->ttl = d.ttl;
    x->dropped = d.action == DP_DROP;
    x->qlen = mlen;
    tq **pp = &tc->queries; /* keep arrival order */
    while (*pp)
        pp = &(*pp)->next;
    *pp = x;
    if (!x->dropped)
        forward(tc, frame, len);
}

static void on_client_read(fault_conn *c, long n, const uint8_t *data, void *ud)
{
    tconn *tc = ud;
    if (n < 0) {
        tc->client_eof = true;
        fault_conn_read_stop(c);
        if (n != FAULT_EOF || !waiting(tc))
            tconn_close(tc, false);
        return;
    }
    if (append(&tc->in, &tc->inlen, &tc->incap, data, (size_t)n) < 0) {
        tconn_close(tc, false);
        return;
    }
    size_t off = 0;
    tc->refs++; /* on_query() may close the connection */
    while (tc->inlen - off >= 2) {
        size_t mlen = (size_t)(tc->in[off] << 8 | tc->in[off + 1]);
        if (tc->inlen - off < 2 + mlen)
            break;
        on_query(tc, tc->in + off, 2 + mlen);
        if (tc->closing)
            break;
        off += 2 + mlen;
    }
    if (release(tc))
        return;
    memmove(tc->in, tc->in + off, tc->inlen - off);
    tc->inlen -= off;
}

static void on_accept(fault_listener *l, fault_conn *c, void *ud)
{
    dp_tcp *t = ud;
    (void)l;
    tconn *tc = calloc(1, sizeof *tc);
    if (!tc) {
        fault_conn_close(c);
        return;
    }
    tc->t = t;
    tc->c = c;
    snprintf(tc->peer, sizeof tc->peer, "%s", fault_conn_peer(c));
    tc->next = t->conns;
    if (t->conns)
        t->conns->prev = tc;
    t->conns = tc;
    fault_conn_read_start(c, on_client_read, tc);
}

int dp_tcp_start(dp_state *st, char *err, size_t errlen)
{
    dp_tcp *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return FAULT_ENOMEM;
    }
    t->st = st;
    int rc = fault_listen(st->self, st->listen_host, st->listen_port, on_accept, t, &t->l);
    if (rc < 0) {
        snprintf(err, errlen, "tcp listen: %s", fault_strerror(rc));
        free(t);
        return rc;
    }
    st->tcp = t;
    return 0;
}

void dp_tcp_stop(dp_state *st)
{
    dp_tcp *t = st->tcp;
    if (!t)
        return;
    st->tcp = NULL;
    /* The core closes every listener before stop(): forget ours. */
    t->l = NULL;
    while (t->conns)
        tconn_close(t->conns, false);
    free(t);
}
