/*
 * plugins/http/tunnel.c - CONNECT, in one place:
 *   - an HTTP/1 session's CONNECT: once the 200 went out, the session
 *     hands its sockets on: for a targeted host, to the interception
 *     (--http-intercept) or else to the core's relay, where stream faults
 *     apply; for another host, to a plain tunnel;
 *   - plain tunnels to hosts that --upstream does not target: bytes go
 *     both ways untouched, with no fault stage at all;
 *   - an HTTP/2 CONNECT stream (RFC 9113 8.5): a TCP tunnel carried by the
 *     stream's DATA frames (see the end of this file).
 * (Interception itself, a TLS server inside the tunnel, is in accept.c.)
 *
 * Plain tunnels have the same flow control as the relay: a side is no longer read while more
 * than HP_HIGH_WATER bytes wait to be written to the other, and resumes
 * below HP_LOW_WATER. An EOF becomes a shutdown of the other side's write
 * half; the tunnel ends when both halves are done and drained, or at once
 * (with RST on both) when either side errors.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "h2int.h"
#include "proxy.h"
#include "session.h"

typedef struct tdir {
    struct hp_tun *t;
    fault_conn *src, *dst;
    bool eof, paused;
    uint64_t bytes;
} tdir;

typedef struct hp_tun {
    hp_state *st;
    fault_stream *s;
    tdir d[2]; /* 0: client to upstream, 1: upstream to client */
    int refs;
    bool dead;
    struct hp_tun *prev, *next;
} hp_tun;

static void tun_unref(hp_tun *t)
{
    if (--t->refs == 0 && t->dead)
        free(t);
}

static void tun_end(hp_tun *t, bool reset, int error)
{
    if (t->dead)
        return;
    t->dead = true;
    hp_state *st = t->st;
    if (t->prev)
        t->prev->next = t->next;
    else
        st->tunnels = t->next;
    if (t->next)
        t->next->prev = t->prev;
    for (int i = 0; i < 2; i++) {
        if (reset)
            fault_conn_reset(t->d[i].src);
        else
            fault_conn_close(t->d[i].src);
    }
    fault_stream_finish(t->s, t->d[0].bytes, t->d[1].bytes, error);
    t->refs++;
    tun_unref(t);
}

static void on_read(fault_conn *c, long nread, const uint8_t *data, void *ud);

static void check(hp_tun *t)
{
    if (t->dead)
        return;
    for (int i = 0; i < 2; i++) {
        tdir *d = &t->d[i];
        size_t q = fault_conn_write_queued(d->dst);
        if (!d->eof && !d->paused && q > HP_HIGH_WATER) {
            d->paused = true;
            fault_conn_read_stop(d->src);
        } else if (!d->eof && d->paused && q < HP_LOW_WATER) {
            d->paused = false;
            fault_conn_read_start(d->src, on_read, d);
        }
    }
    if (t->d[0].eof && t->d[1].eof && fault_conn_write_queued(t->d[0].dst) == 0 &&
        fault_conn_write_queued(t->d[1].dst) == 0)
        tun_end(t, false, 0);
}

static void on_written(fault_conn *c, int status, void *ud)
{
    hp_tun *t = ud;
    (void)c;
    if (!t->dead && status < 0 && status != UV_ECANCELED)
        tun_end(t, true, status);
    else
        check(t);
    tun_unref(t);
}

static int send_to(hp_tun *t, tdir *d, const uint8_t *data, size_t len)
{
    t->refs++;
    d->bytes += len;
    int rc = fault_conn_write(d->dst, data, len, on_written, t);
    if (rc < 0)
        tun_unref(t);
    return rc;
}

static void on_read(fault_conn *c, long nread, const uint8_t *data, void *ud)
{
    tdir *d = ud;
    hp_tun *t = d->t;
    (void)c;
    if (t->dead)
        return;
    t->refs++;
    if (nread < 0) {
        if (nread == UV_EOF) {
            d->eof = true;
            fault_conn_read_stop(d->src);
            fault_conn_shutdown(d->dst);
            check(t);
        } else {
            tun_end(t, true, (int)nread);
        }
    } else {
        int rc = send_to(t, d, data, (size_t)nread);
        if (rc < 0)
            tun_end(t, true, rc);
        else
            check(t);
    }
    tun_unref(t);
}

void hp_tunnel_plain(hp_state *st, fault_stream *s, fault_conn *a, fault_conn *b,
                     const uint8_t *to_server, size_t len)
{
    hp_tun *t = calloc(1, sizeof *t);
    if (!t) {
        fault_conn_reset(a);
        fault_conn_reset(b);
        fault_stream_finish(s, 0, 0, -ENOMEM);
        return;
    }
    t->st = st;
    t->s = s;
    t->d[0] = (tdir){.t = t, .src = a, .dst = b};
    t->d[1] = (tdir){.t = t, .src = b, .dst = a};
    t->next = st->tunnels;
    if (st->tunnels)
        st->tunnels->prev = t;
    st->tunnels = t;
    t->refs++;
    if (len && send_to(t, &t->d[0], to_server, len) < 0)
        tun_end(t, true, -EIO);
    if (!t->dead) {
        fault_conn_read_start(a, on_read, &t->d[0]);
        fault_conn_read_start(b, on_read, &t->d[1]);
        check(t);
    }
    tun_unref(t);
}

void hp_tunnels_close_all(hp_state *st)
{
    while (st->tunnels)
        tun_end(st->tunnels, false, 0);
}

/* ---- CONNECT on an HTTP/1 session: the switch to a tunnel ---- */

void sess_start_tunnel(hp_sess *s)
{
    if (s->fr->reverse) {
        sess_respond(s, 405, "CONNECT is for the forward proxy", false, true);
        return;
    }
    fault_stream_set_scheme(s->s, "connect");
    sess_ex_connect(s);
}

/* Hands the sockets over once every byte that was on its way is where it
 * belongs: client bytes that followed the CONNECT head out of the
 * CLIENT/EGRESS chain (they are in inb), and our 200 out of the
 * CLIENT/INGRESS chain. */
void sess_tunnel_try_switch(hp_sess *s)
{
    hp_ex *ex = &s->ex;
    if (s->dead || s->rq != RQ_TUNNEL || !ex->h1.up || !ex->head_sent || s->eq.head ||
        sess_pend(s->ceg) || s->oq.head || sess_pend(s->cin) || s->unlabeled.len)
        return;
    if (s->ccork.len) {
        size_t n = s->ccork.len;
        s->ccork.len = 0;
        sess_client_write_now(s, s->ccork.p, n);
        if (s->dead)
            return;
    }
    /* The relay may splice sockets: nothing of ours may still wait in the
     * client's write queue (on_client_written calls again). */
    if (fault_conn_write_queued(s->c) != 0)
        return;
    if (s->c_eof) {
        /* The client is done before the tunnel even started. */
        sess_teardown(s, false, 0);
        return;
    }
    hp_state *st = s->st;
    hp_up *up = ex->h1.up;
    fault_conn *c = s->c, *u = up->c;
    fault_stream *stream = s->s;
    bool targeted = ex->targeted;
    free(up);
    ex->h1.up = NULL;
    fault_chain_free(s->ceg);
    fault_chain_free(s->cin);
    s->ceg = s->cin = NULL;
    hp_h1up_chains_free(&ex->h1);
    fault_stream_set_end(stream, NULL, NULL);
    fault_conn_read_stop(c);
    /* The session lets go of both sockets and of the stream. */
    s->c = NULL;
    s->s = NULL;
    hp_fifo data = s->inb;
    s->inb = (hp_fifo){0};
    char host[HP_MAX_HOST];
    uint16_t port = ex->port;
    hp_copy(host, sizeof host, ex->host);
    sess_teardown(s, false, 0);
    if (targeted && st->pki)
        hp_intercept(st, stream, c, u, host, port, hp_fifo_data(&data), data.len);
    else if (targeted)
        fault_stream_relay_with(stream, u, hp_fifo_data(&data), data.len, NULL, 0);
    else
        hp_tunnel_plain(st, stream, c, u, hp_fifo_data(&data), data.len);
    hp_fifo_free(&data);
}

/* ---- CONNECT (RFC 9113 8.5): a stream that is a TCP tunnel ----
 *
 * A CONNECT stream on the forward proxy opens a TCP connection to its
 * :authority; its DATA goes there as it is, the upstream's bytes come back
 * as DATA, END_STREAM and FIN map to each other (half-closes), a reset on
 * either side resets the other (RST_STREAM CONNECT_ERROR toward the
 * client). The tunnel uses the HTTP/1.1 upstream machinery above without
 * HTTP (no request line, no parser): the same body pump, flow control and
 * SERVER chains, so stream faults apply to the tunnel's bytes when the
 * authority is targeted (--upstream), as in tunnel-less HTTP/1.1 CONNECT
 * relays. No HTTP hook runs: the tunnel's content is not HTTP to us. */

static h2_strm *upu_strm(hp_up_user *u)
{
    return (h2_strm *)((char *)u - offsetof(h2_strm, upu));
}

static void tun_up_read(hp_up_user *u, hp_up *up, long nread, const uint8_t *data)
{
    hp_h1up_read(&upu_strm(u)->h1, up, nread, data);
}

static void tun_se_eof(void *ud)
{
    h2_strm *q = ud;
    h2_enter(q->h);
    if (q->h1.up)
        fault_conn_shutdown(q->h1.up->c);
    h2_leave(q->h);
}

static void tun_si_output(void *ud, const uint8_t *data, size_t len)
{
    h2_strm *q = ud;
    h2_enter(q->h);
    strm_resp_data(q, data, len);
    h2_leave(q->h);
}

static void tun_si_eof(void *ud)
{
    h2_strm *q = ud;
    h2_enter(q->h);
    strm_resp_end(q);
    h2_leave(q->h);
}

static const fault_chain_ops tun_se_ops = {
    .output = h1_se_output, .eof = tun_se_eof, .progress = h1_chain_progress};
static const fault_chain_ops tun_si_ops = {
    .output = tun_si_output, .eof = tun_si_eof, .progress = h1_chain_progress};

/* The tunnel's side of the stream's hp_h1up: raw bytes both ways. */
static h2_strm *tun_strm(hp_h1up *u)
{
    return (h2_strm *)((char *)u - offsetof(h2_strm, h1));
}

static void tun_resp_byte(hp_h1up *u)
{
    (void)u;
}

static void tun_response(hp_h1up *u, const uint8_t *p, size_t n)
{
    strm_resp_data(tun_strm(u), p, n);
}

static void tun_response_eof(hp_h1up *u)
{
    strm_resp_end(tun_strm(u));
}

static const hp_h1up_ops tun_h1up_ops = {.enter = h2_h1up_enter,
                                         .leave = h2_h1up_leave,
                                         .resp_byte = tun_resp_byte,
                                         .response = tun_response,
                                         .response_eof = tun_response_eof,
                                         .fail = h2_h1up_fail,
                                         .hold = h2_h1up_hold,
                                         .unhold = h2_h1up_unhold,
                                         .written = h2_on_client_written};

static void on_tun_ready(hp_up_user *u, hp_up *up, int status)
{
    h2_strm *q = upu_strm(u);
    hp_h2 *h = q->h;
    h2_enter(h);
    q->h1.creq = NULL;
    if (status < 0) {
        strm_fail(q, status);
        h2_leave(h);
        return;
    }
    q->h1.ops = &tun_h1up_ops;
    q->deadline_kind = DL_NONE;
    q->deadline_us = 0;
    if (hp_h1up_bind(&q->h1, up, &q->upu, q->targeted ? h->s : NULL, &tun_se_ops, &tun_si_ops, q) <
        0) {
        strm_fail(q, -ECONNREFUSED);
        h2_leave(h);
        return;
    }
    q->req_head_sent = true; /* nothing to say first: bytes go as they come */
    fault_http_set_status(q->x, 200);
    h2_send_head(q, true);
    h2_leave(h);
}

void strm_connect(h2_strm *q)
{
    hp_h2 *h = q->h;
    hp_state *st = h->st;
    if (h->fr->reverse) {
        strm_answer(q, 405, "CONNECT is for the forward proxy, not a mapping", false);
        return;
    }
    if (!q->authority || hp_parse_hostport(q->authority, strlen(q->authority), q->host,
                                           sizeof q->host, &q->port, true) < 0) {
        strm_answer(q, 400, "CONNECT needs an :authority host:port", false);
        return;
    }
    q->tunnel = true;
    q->targeted = st->match_all || hp_targeted(st, q->host, q->port);
    hp_authority(q->target, sizeof q->target, q->host, q->port, false, false);
    q->x = fault_http_exchange_new(st->self, h->s, "CONNECT", q->target, q->target, q->target);
    if (!q->x) {
        h2_teardown(h, true, -ENOMEM);
        return;
    }
    h2_publish(q, FAULT_EV_HTTP_REQUEST, 0);
    q->up_kind = UP_H1;
    int err = 0;
    static const hp_up_user_ops tun_user = {.on_ready = on_tun_ready, .on_read = tun_up_read};
    q->upu.ops = &tun_user;
    q->h1.creq =
        hp_connect(st, &q->upu, q->targeted ? h->s : NULL, q->host, q->port, false, NULL, &err);
    if (!q->h1.creq) {
        strm_fail(q, err);
        return;
    }
    if (st->upstream_timeout_us) {
        q->deadline_kind = DL_CONNECT;
        q->deadline_us = fault_now_us() + st->upstream_timeout_us;
    }
}
