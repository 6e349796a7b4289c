/*
 * plugins/http/sess_upstream.c - the upstream side of an HTTP/1 session
 * (see session.c for the whole): the server leg and its SERVER chains,
 * choosing the upstream for an exchange (the idle pool, a new connection,
 * or a stream of the session's HTTP/2 bridge, h2up.c), writing the
 * request, the llhttp response parser and the response hooks, the
 * response handed back by the bridge as HTTP/1.1 bytes, and the bodies
 * that move from socket to socket in the kernel (splice).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "h1up.h"
#include "session.h"

static void resp_run(hp_sess *s, const uint8_t *p, size_t n);
static void up_failed(hp_sess *s, int err);
static void on_response_complete(hp_sess *s);
static void resp_eof(hp_sess *s);
static void resp_start_parser(hp_sess *s);

static hp_sess *upu_sess(hp_up_user *u)
{
    return (hp_sess *)((char *)u - offsetof(hp_sess, upu));
}

/* ---- the server leg: the session's side of its hp_h1up ---- */

static hp_sess *h1_sess(hp_h1up *u)
{
    return (hp_sess *)((char *)u - offsetof(hp_sess, ex.h1));
}

static void *h1_enter(hp_h1up *u)
{
    hp_sess *s = h1_sess(u);
    sess_ref(s);
    sess_cork_begin(s);
    return s;
}

static void h1_leave(void *ctx)
{
    hp_sess *s = ctx;
    sess_cork_end(s);
    sess_flow(s);
    sess_unref(s);
}

static void h1_resp_byte(hp_h1up *u)
{
    hp_sess *s = h1_sess(u);
    if (!s->ex.resp_byte) {
        s->ex.resp_byte = true;
        sess_timer_stop(s, T_RESPONSE);
    }
}

static void h1_response(hp_h1up *u, const uint8_t *p, size_t n)
{
    resp_run(h1_sess(u), p, n);
}

static void h1_response_eof(hp_h1up *u)
{
    resp_eof(h1_sess(u));
}

static void h1_fail(hp_h1up *u, int err)
{
    up_failed(h1_sess(u), err);
}

static void *h1_hold(hp_h1up *u)
{
    hp_sess *s = h1_sess(u);
    sess_ref(s);
    return s;
}

static void h1_unhold(void *ud)
{
    sess_unref(ud);
}

static void on_up_written(fault_conn *c, int status, void *ud)
{
    hp_sess *s = ud;
    if (!s->dead && s->ex.h1.up && s->ex.h1.up->c == c) {
        if (status < 0 && status != UV_ECANCELED)
            up_failed(s, status);
        else
            sess_flow(s);
    }
    sess_unref(s);
}

static const hp_h1up_ops sess_h1_ops = {.enter = h1_enter,
                                        .leave = h1_leave,
                                        .resp_byte = h1_resp_byte,
                                        .response = h1_response,
                                        .response_eof = h1_response_eof,
                                        .fail = h1_fail,
                                        .hold = h1_hold,
                                        .unhold = h1_unhold,
                                        .written = on_up_written};

void sess_maybe_arm_response_timer(hp_sess *s)
{
    hp_ex *ex = &s->ex;
    if (s->dead || !ex->active || (!ex->h1.up && !ex->h2) || !ex->req_done || ex->resp_byte ||
        ex->connect || s->timer_use != T_NONE || s->st->upstream_timeout_us == 0 ||
        sess_pend(ex->h1.se) != 0)
        return;
    sess_timer_start(s, T_RESPONSE, (s->st->upstream_timeout_us + 999) / 1000);
}

void sess_up_write_now(hp_sess *s, const uint8_t *p, size_t n)
{
    hp_h1up_write(&s->ex.h1, p, n);
}

static void up_write(hp_sess *s, const uint8_t *p, size_t n)
{
    hp_ex *ex = &s->ex;
    if (!ex->h1.up || !n)
        return;
    if (s->cork || s->flush.queued) {
        if (s->ucork.len && s->ucork_up != ex->h1.up)
            s->ucork.len = 0; /* for a connection since dropped */
        s->ucork_up = ex->h1.up;
        if (hp_buf_add(&s->ucork, p, n) < 0)
            sess_teardown(s, true, -ENOMEM);
        return;
    }
    sess_up_write_now(s, p, n);
}

static void se_output(void *ud, const uint8_t *data, size_t len)
{
    up_write(ud, data, len);
}

static void se_progress(void *ud)
{
    hp_sess *s = ud;
    sess_flow(s);
    sess_maybe_arm_response_timer(s);
}

static const fault_chain_ops se_ops = {.output = se_output, .progress = se_progress};

static void si_output(void *ud, const uint8_t *data, size_t len)
{
    resp_run(ud, data, len);
}

static void si_eof(void *ud)
{
    resp_eof(ud);
}

static void si_progress(void *ud)
{
    sess_flow(ud);
}

static const fault_chain_ops si_ops = {.output = si_output, .eof = si_eof, .progress = si_progress};

void sess_up_out(hp_sess *s, const uint8_t *p, size_t n)
{
    hp_ex *ex = &s->ex;
    if (!ex->h1.up || !n)
        return;
    if (ex->h1.se)
        sess_cpush(ex->h1.se, &se_ops, s, p, n);
    else
        up_write(s, p, n);
}

/* Drops the upstream connection of the exchange. */
void sess_up_drop(hp_sess *s, bool reset)
{
    hp_ex *ex = &s->ex;
    s->ucork.len = 0;
    hp_h1up_drop(&ex->h1, reset);
    if (ex->h2) {
        hp_h2b_release(ex->h2);
        ex->h2 = NULL;
    }
    sess_timer_stop(s, T_CONNECT);
    sess_timer_stop(s, T_RESPONSE);
}

/* After the request head went upstream: what of the body is already
 * here goes first (all of it when it was held for the hooks; what was read
 * while they decided when it was too large to hold), through the on_body
 * hooks when a plugin watches it. */
static void request_body_begin(hp_sess *s)
{
    hp_ex *ex = &s->ex;
    size_t held_len = 0;
    const uint8_t *held =
        ex->held_req ? fault_http_body(ex->x, FAULT_HTTP_REQUEST, &held_len) : NULL;
    if (held && ex->qbc) {
        /* Read whole before the hooks ran: its end is already known. */
        fault_chain_push(ex->qbc, held, held_len);
        fault_chain_eof(ex->qbc);
    } else if (held) {
        /* Sent with its Content-Length on HTTP/1.1. */
        if (held_len)
            sess_req_body_out(s, held, held_len, false);
        sess_req_body_end(s, false);
    }
    if (ex->spill_req && s->qhold.len) {
        ex->spill_req = false;
        if (ex->qbc)
            fault_chain_push(ex->qbc, s->qhold.p, s->qhold.len);
        else
            sess_req_body_out(s, s->qhold.p, s->qhold.len, ex->req_chunked);
    }
    s->qhold.len = 0;
}

static void write_request_head(hp_sess *s)
{
    hp_ex *ex = &s->ex;
    hp_buf *b = &s->scratch;
    hp_h1up_request_head(b, ex->x, false);
    size_t held_len = 0;
    const uint8_t *held =
        ex->held_req ? fault_http_body(ex->x, FAULT_HTTP_REQUEST, &held_len) : NULL;
    if (ex->req_body)
        ex->qbc = sess_body_chain(s, FAULT_DIR_EGRESS, &sess_qbc_ops);
    if (ex->qbc) {
        /* on_body hooks may change the length. */
        hp_buf_str(b, "Transfer-Encoding: chunked\r\n");
    } else if (held) {
        /* The body the hooks saw (and maybe changed) goes whole. */
        hp_buf_add(b, "Content-Length: ", 16);
        hp_buf_u64(b, held_len);
        hp_buf_add(b, "\r\n", 2);
    } else if (ex->req_chunked) {
        hp_buf_str(b, "Transfer-Encoding: chunked\r\n");
    } else if (ex->req_cl) {
        hp_buf_add(b, "Content-Length: ", 16);
        hp_buf_u64(b, ex->req_clen);
        hp_buf_add(b, "\r\n", 2);
    }
    hp_buf_str(b, "\r\n");
    sess_up_out(s, b->p, b->len);
    request_body_begin(s);
}

/* An upstream connection is ours: send the head; the body follows as the
 * request parser delivers it. */
static void ex_bind(hp_sess *s, hp_up *up)
{
    hp_ex *ex = &s->ex;
    ex->h1.ops = &sess_h1_ops;
    if (ex->connect) {
        ex->h1.up = up;
        hp_up_bind(up, &s->upu);
        /* The 200 goes out; the relay takes both sockets once it left. */
        static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
        ex->head_sent = true;
        sess_publish_response(s, 200);
        sess_out_write(s, ex->targeted, (const uint8_t *)ok, sizeof ok - 1);
        sess_tunnel_try_switch(s);
        return;
    }
    resp_start_parser(s);
    if (hp_h1up_bind(&ex->h1, up, &s->upu, ex->targeted ? s->s : NULL, &se_ops, &si_ops, s) < 0) {
        sess_teardown(s, true, -ECONNREFUSED);
        return;
    }
    write_request_head(s);
    if (s->dead)
        return;
    if (!ex->req_done && s->rq == RQ_DISPATCH)
        s->rq = RQ_BODY;
    sess_maybe_arm_response_timer(s);
}

/* The exchange as a stream of the session's HTTP/2 bridge (h2.c), whose
 * connection to the upstream is there: the request hooks ran, the head
 * goes as HEADERS, the body as the parser decodes it; the response comes
 * back as HTTP/1.1 bytes (hp_sess_h2_data) for the response parser. */
static void ex_h2_start(hp_sess *s)
{
    hp_ex *ex = &s->ex;
    char key[HP_MAX_HOST + 16];
    hp_up_key(key, sizeof key, ex->host, ex->port, ex->tls);
    ex->h2 = hp_h2b_submit(s->h2b, s, ex->x, key, ex->host, ex->port, ex->targeted, ex->req_body,
                           ex->is_head, ex->expect);
    if (!ex->h2) {
        up_failed(s, UV_EPROTO);
        return;
    }
    if (ex->req_body)
        ex->qbc = sess_body_chain(s, FAULT_DIR_EGRESS, &sess_qbc_ops);
    request_body_begin(s);
    if (s->dead)
        return;
    resp_start_parser(s);
    if (!ex->req_done && s->rq == RQ_DISPATCH)
        s->rq = RQ_BODY;
    sess_maybe_arm_response_timer(s);
}

/* A new https:// connection that chose h2 by ALPN goes to the bridge. */
static bool ex_h2_adopt(hp_sess *s, hp_up *up)
{
    hp_ex *ex = &s->ex;
    const char *alpn = fault_conn_alpn(up->c);
    if (ex->connect || !alpn || strcmp(alpn, "h2") != 0)
        return false;
    char key[HP_MAX_HOST + 16];
    hp_up_key(key, sizeof key, ex->host, ex->port, ex->tls);
    if (!s->h2b)
        s->h2b = hp_h2b_new(s->fr, s->s);
    if (!s->h2b) {
        hp_up_close(up, false);
        up_failed(s, -ENOMEM);
        return true;
    }
    int rc = hp_h2b_adopt(s->h2b, key, up, ex->targeted);
    if (rc < 0)
        up_failed(s, rc);
    else
        ex_h2_start(s);
    return true;
}

static void on_up_ready(hp_up_user *u, hp_up *up, int status)
{
    hp_sess *s = upu_sess(u);
    hp_ex *ex = &s->ex;
    ex->h1.creq = NULL;
    sess_timer_stop(s, T_CONNECT);
    sess_ref(s);
    sess_cork_begin(s);
    if (status < 0) {
        up_failed(s, status);
    } else if (ex_h2_adopt(s, up)) {
        sess_req_run(s, NULL, 0);
    } else {
        ex_bind(s, up);
        sess_req_run(s, NULL, 0);
    }
    sess_cork_end(s);
    sess_flow(s);
    sess_unref(s);
}

void sess_ex_connect(hp_sess *s)
{
    hp_ex *ex = &s->ex;
    int err = 0;
    ex->reused = false;
    /* https:// upstreams may choose HTTP/2 (ex_h2_adopt). */
    ex->h1.creq = hp_connect(s->st, &s->upu, ex->targeted ? s->s : NULL, ex->host, ex->port,
                             ex->tls, ex->tls && !ex->connect ? HP_ALPN_H2_H1 : NULL, &err);
    if (!ex->h1.creq) {
        up_failed(s, err);
        return;
    }
    if (s->st->upstream_timeout_us)
        sess_timer_start(s, T_CONNECT, (s->st->upstream_timeout_us + 999) / 1000);
}

void sess_ex_dispatch(hp_sess *s)
{
    hp_ex *ex = &s->ex;
    char key[HP_MAX_HOST + 16];
    hp_up_key(key, sizeof key, ex->host, ex->port, ex->tls);
    if (ex->tls && s->h2b && hp_h2b_ready(s->h2b, key)) {
        ex->reused = true; /* may have been closed just now: try_retry */
        ex_h2_start(s);
        return;
    }
    hp_up *up = hp_pool_take(s->st, key);
    if (up) {
        ex->reused = true;
        ex_bind(s, up);
        return;
    }
    sess_ex_connect(s);
}

/* An upstream connection that sat in the pool may have been closed by
 * the upstream just as we reused it: a request without a body is sent
 * again, once, on a new connection. */
static bool try_retry(hp_sess *s)
{
    hp_ex *ex = &s->ex;
    if (!ex->reused || ex->resp_byte || ex->req_body || ex->retries > 0 || ex->head_sent ||
        s->st->stopping)
        return false;
    ex->retries++;
    sess_up_drop(s, false);
    ex->h1.eof = false;
    ex->h1.paused = false;
    hp_fifo_clear(&ex->rinb);
    sess_ex_connect(s);
    return true;
}

static void up_failed(hp_sess *s, int err)
{
    hp_ex *ex = &s->ex;
    if (s->dead || !ex->active)
        return;
    if (err == UV_ECANCELED || s->st->stopping) {
        sess_teardown(s, false, err);
        return;
    }
    if (try_retry(s))
        return;
    char msg[HP_MAX_HOST + 128];
    int status = 502;
    if (err == FAULT_ERESOLVE) {
        snprintf(msg, sizeof msg, "fault: could not resolve host %s", ex->host);
    } else if (err == UV_ETIMEDOUT) {
        status = 504;
        snprintf(msg, sizeof msg, "fault: timed out connecting to %s", ex->target);
    } else if (err == UV_ECONNREFUSED) {
        snprintf(msg, sizeof msg, "fault: connection refused by %s", ex->target);
    } else if (err == UV_ECONNRESET || err == UV_EPIPE) {
        snprintf(msg, sizeof msg, "fault: connection reset by %s", ex->target);
    } else if (err == UV_EOF) {
        snprintf(msg, sizeof msg, "fault: %s closed the connection without a response", ex->target);
    } else if (err == FAULT_ETLS) {
        snprintf(msg, sizeof msg, "fault: TLS handshake with %s failed", ex->target);
    } else {
        snprintf(msg, sizeof msg, "fault: cannot reach %s: %s", ex->target, fault_strerror(err));
    }
    fault_log_info(s->st->self, "%s %s: %s", fault_http_method(ex->x), fault_http_url(ex->x), msg);
    if (!ex->head_sent) {
        sess_respond(s, status, msg, false, ex->connect);
        return;
    }
    /* The client already has a head: it must see the message end early. */
    sess_up_drop(s, true);
    if (err == UV_ECONNRESET || err == UV_EPIPE)
        sess_teardown(s, true, err);
    else {
        s->rq = RQ_BROKEN;
        ex->resp_done = true;
        sess_out_eof(s);
    }
}

/* ---- the response parser ---- */

int sess_resp_on_headers(llhttp_t *p)
{
    hp_sess *s = p->data;
    hp_ex *ex = &s->ex;
    int status = p->status_code;
    hp_head *h = &s->resp.head;
    int rc = hp_h1up_on_headers(p, ex->is_head, &ex->interim);
    if (rc == 0) {
        /* Interim responses (100 Continue, 103) go on to HTTP/1.1
         * clients; llhttp then parses the final response. */
        if (ex->major == 1 && ex->minor >= 1) {
            hp_head_done(h);
            hp_buf *b = &s->scratch;
            b->len = 0;
            hp_buf_printf(b, "HTTP/1.1 %d %s\r\n", status, hp_head_url(h));
            for (size_t i = 0; i < h->n; i++)
                if (!hp_hop_by_hop(h, hp_head_name(h, i)))
                    hp_buf_header(b, hp_head_name(h, i), hp_head_value(h, i));
            hp_buf_str(b, "\r\n");
            sess_out_write(s, ex->targeted, b->p, b->len);
        }
        return 0;
    }
    if (rc == HPE_PAUSED)
        s->respd.ev = EV_HEAD;
    return rc;
}

int sess_resp_on_body(llhttp_t *p, const char *at, size_t n)
{
    hp_sess *s = p->data;
    hp_ex *ex = &s->ex;
    /* Empty spans (the parser run on nothing after a pause) carry nothing,
     * and in chunked framing would end the body: see sess_req_on_body. */
    if (n == 0)
        return 0;
    if (ex->hold_resp) {
        if (hp_buf_add(&s->rhold, at, n) < 0)
            return HPE_USER;
        if (s->rhold.len > ex->hold_max) {
            s->respd.ev = EV_FULL;
            return HPE_PAUSED;
        }
        return 0;
    }
    if (ex->rbc) {
        fault_chain_push(ex->rbc, at, n);
        return 0;
    }
    if (ex->out_chunked) {
        hp_buf *b = &s->scratch;
        b->len = 0;
        hp_buf_hex(b, n);
        hp_buf_add(b, "\r\n", 2);
        hp_buf_add(b, at, n);
        hp_buf_add(b, "\r\n", 2);
        sess_out_write(s, ex->targeted, b->p, b->len);
    } else {
        sess_out_write(s, ex->targeted, (const uint8_t *)at, n);
    }
    return 0;
}

int sess_resp_on_complete(llhttp_t *p)
{
    hp_sess *s = p->data;
    return hp_h1up_on_complete(&s->respd, &s->ex.interim);
}

static void resp_start_parser(hp_sess *s)
{
    llhttp_init(&s->resp.p, HTTP_RESPONSE, &sess_resp_settings);
    s->resp.p.data = s;
    s->respd.kick = false;
    s->ex.rs = RS_HEAD;
    hp_fifo_clear(&s->ex.rinb);
}

static void send_response_head(hp_sess *s)
{
    hp_ex *ex = &s->ex;
    hp_state *st = s->st;
    int status = fault_http_status(ex->x);
    const char *reason = status == ex->status ? hp_head_url(&s->resp.head) : "";
    if (!reason[0])
        reason = hp_reason(status);
    bool v11 = ex->major == 1 && ex->minor >= 1;
    bool no_body = ex->no_body || (status >= 100 && status < 200) || status == 204 || status == 304;
    bool close_delim = false;
    size_t held_len = 0;
    const uint8_t *held =
        ex->held_resp ? fault_http_body(ex->x, FAULT_HTTP_RESPONSE, &held_len) : NULL;
    if (!no_body && !ex->is_head &&
        (ex->rbc = sess_body_chain(s, FAULT_DIR_INGRESS, &sess_rbc_ops))) {
        /* on_body hooks may change the length: chunked (or to the end). */
        ex->resp_cl = false;
    } else if (held) {
        /* The body the hooks saw (and maybe changed) goes whole. */
        ex->resp_cl = true;
        ex->resp_clen = held_len;
    }
    if (!no_body && !ex->resp_cl) {
        if (v11)
            ex->out_chunked = true;
        else
            close_delim = true;
    }
    if (close_delim || !ex->keepalive || s->c_eof || st->stopping)
        ex->close_after = true;
    hp_buf *b = &s->scratch;
    b->len = 0;
    hp_buf_add(b, "HTTP/1.1 ", 9);
    hp_buf_u64(b, (uint64_t)status);
    hp_buf_add(b, " ", 1);
    hp_buf_str(b, reason);
    hp_buf_add(b, "\r\n", 2);
    size_t n = fault_http_header_count(ex->x, FAULT_HTTP_RESPONSE);
    bool via_done = false;
    for (size_t i = 0; i < n; i++) {
        const char *name, *value;
        fault_http_header_at(ex->x, FAULT_HTTP_RESPONSE, i, &name, &value);
        if (hp_name_is(name, "transfer-encoding", 17) || hp_name_is(name, "connection", 10))
            continue;
        /* A bodiless response keeps the length it declares (HEAD). */
        if (!no_body && hp_name_is(name, "content-length", 14))
            continue;
        if (st->via && !via_done && hp_name_is(name, "via", 3)) {
            hp_buf_printf(b, "%s: %s, 1.1 fault\r\n", name, value);
            via_done = true;
            continue;
        }
        hp_buf_header(b, name, value);
    }
    if (st->via && !via_done)
        hp_buf_str(b, "Via: 1.1 fault\r\n");
    if (!no_body) {
        if (ex->resp_cl) {
            hp_buf_add(b, "Content-Length: ", 16);
            hp_buf_u64(b, ex->resp_clen);
            hp_buf_add(b, "\r\n", 2);
        } else if (ex->out_chunked) {
            hp_buf_str(b, "Transfer-Encoding: chunked\r\n");
        }
    }
    if (ex->close_after)
        hp_buf_str(b, "Connection: close\r\n");
    else if (!v11)
        hp_buf_str(b, "Connection: keep-alive\r\n");
    hp_buf_str(b, "\r\n");
    ex->head_sent = true;
    sess_publish_response(s, status);
    sess_out_write(s, ex->targeted, b->p, b->len);
    if (held && held_len && ex->rbc)
        fault_chain_push(ex->rbc, held, held_len); /* its end follows */
    else if (held && held_len && !no_body)
        sess_out_write(s, ex->targeted, held, held_len);
}

/* The part of a response body read while the hooks decided, sent once
 * the head went out, framed as the rest will be. */
static void response_spill(hp_sess *s)
{
    hp_ex *ex = &s->ex;
    if (!ex->spill_resp)
        return;
    ex->spill_resp = false;
    if (s->rhold.len) {
        if (ex->out_chunked) {
            hp_buf *b = &s->scratch;
            b->len = 0;
            hp_buf_hex(b, s->rhold.len);
            hp_buf_add(b, "\r\n", 2);
            sess_out_write(s, ex->targeted, b->p, b->len);
            sess_out_write(s, ex->targeted, s->rhold.p, s->rhold.len);
            sess_out_write(s, ex->targeted, (const uint8_t *)"\r\n", 2);
        } else {
            sess_out_write(s, ex->targeted, s->rhold.p, s->rhold.len);
        }
    }
    s->rhold.len = 0;
}

static void on_resp_hooks(fault_http_exchange *x, fault_http_action result, void *ud)
{
    hp_sess *s = ud;
    (void)x;
    if (s->dead)
        return;
    hp_ex *ex = &s->ex;
    sess_ref(s);
    sess_cork_begin(s);
    if (result == FAULT_HTTP_RESPOND) {
        /* The plugin's answer replaces the upstream's response, whose
         * rest is not wanted: that connection cannot be reused. */
        sess_up_drop(s, false);
        ex->rs = RS_DONE;
        sess_respond(s, fault_http_status(ex->x), NULL, true, false);
    } else if (ex->held_resp) {
        /* The whole response is here: head and body go, and it is done. */
        send_response_head(s);
        ex->held_resp = false;
        on_response_complete(s);
    } else {
        send_response_head(s);
        response_spill(s);
        ex->rs = RS_BODY;
        resp_run(s, NULL, 0);
        if (!s->dead && ex->eof_pending && ex->rs == RS_BODY && ex->rinb.len == 0) {
            ex->eof_pending = false;
            resp_eof(s);
        }
    }
    sess_cork_end(s);
    sess_flow(s);
    sess_unref(s);
}

static void run_response_hooks(hp_sess *s)
{
    hp_ex *ex = &s->ex;
    ex->rs = RS_HOOK;
    if (fault_http_run_response(ex->x, on_resp_hooks, s) < 0) {
        send_response_head(s);
        response_spill(s);
        ex->rs = RS_BODY;
    }
}

static hp_sess *respd_sess(const hp_drive *d)
{
    return (hp_sess *)((char *)d - offsetof(hp_sess, respd));
}

static void on_response_head(hp_drive *d)
{
    hp_sess *s = respd_sess(d);
    hp_ex *ex = &s->ex;
    llhttp_t *p = &s->resp.p;
    hp_head *h = &s->resp.head;
    hp_head_done(h);
    ex->status = p->status_code;
    ex->no_body = (p->flags & F_SKIPBODY) != 0;
    ex->resp_chunked = (p->flags & F_CHUNKED) != 0;
    ex->resp_cl = !ex->resp_chunked && (p->flags & F_CONTENT_LENGTH) != 0;
    ex->resp_clen = p->content_length;
    ex->up_keepalive = hp_h1up_keepalive(p, h);
    if (hp_h1up_head_to_x(ex->x, p, h) < 0) {
        sess_respond(s, 502, "fault: invalid status from the upstream", false, false);
        sess_up_drop(s, true);
        return;
    }
    if (!ex->targeted) {
        send_response_head(s);
        ex->rs = RS_BODY;
        return;
    }
    size_t want = ex->no_body ? 0 : fault_http_wanted_body(ex->x, FAULT_HTTP_RESPONSE);
    if (want && (!ex->resp_cl || ex->resp_clen <= want)) {
        /* Read the body whole first: the hooks asked for it. */
        ex->hold_resp = true;
        ex->hold_max = want;
        s->rhold.len = 0;
        ex->rs = RS_BODY;
        return;
    }
    run_response_hooks(s);
}

/* The response body outgrew what the hooks asked for: stop reading it and
 * run them without it. */
static void response_body_full(hp_drive *d)
{
    hp_sess *s = respd_sess(d);
    hp_ex *ex = &s->ex;
    ex->hold_resp = false;
    ex->spill_resp = true;
    run_response_hooks(s);
}

static void on_response_complete(hp_sess *s)
{
    hp_ex *ex = &s->ex;
    if (ex->hold_resp) {
        /* The whole body is in: now the hooks. */
        ex->hold_resp = false;
        ex->held_resp = true;
        int rc = fault_http_load_body(ex->x, FAULT_HTTP_RESPONSE, s->rhold.p, s->rhold.len);
        s->rhold.len = 0;
        if (rc < 0) {
            sess_teardown(s, true, rc);
            return;
        }
        sess_timer_stop(s, T_RESPONSE);
        run_response_hooks(s);
        return;
    }
    ex->rs = RS_DONE;
    sess_timer_stop(s, T_RESPONSE);
    if (ex->rbc) {
        /* The rest follows once the body left the on_body hooks. */
        fault_chain_eof(ex->rbc);
        return;
    }
    sess_finish_response(s);
}

/* The whole response went to the client path. */
void sess_finish_response(hp_sess *s)
{
    hp_ex *ex = &s->ex;
    if (ex->out_chunked)
        sess_out_write(s, ex->targeted, (const uint8_t *)"0\r\n\r\n", 5);
    ex->resp_done = true;
    if (ex->req_done)
        sess_ex_finish(s);
}

static void bad_response(hp_sess *s, llhttp_errno_t e)
{
    hp_ex *ex = &s->ex;
    const char *reason = hp_parse_error(&s->resp, e);
    fault_log_info(s->st->self, "%s: bad response from %s (%s): %s", s->peer, ex->target,
                   llhttp_errno_name(e), reason ? reason : "");
    if (!ex->head_sent) {
        char msg[HP_MAX_HOST + 160];
        snprintf(msg, sizeof msg, "fault: invalid response from %s: %s", ex->target,
                 reason ? reason : llhttp_errno_name(e));
        sess_up_drop(s, true);
        sess_respond(s, 502, msg, false, false);
        return;
    }
    sess_up_drop(s, true);
    s->rq = RQ_BROKEN;
    ex->resp_done = true;
    sess_out_eof(s);
}

static bool resp_gone(const hp_drive *d)
{
    return respd_sess(d)->dead;
}

static bool resp_runnable(const hp_drive *d)
{
    const hp_sess *s = respd_sess(d);
    return s->ex.active && (s->ex.rs == RS_HEAD || s->ex.rs == RS_BODY);
}

static void resp_done(hp_drive *d)
{
    on_response_complete(respd_sess(d));
}

static bool resp_error(hp_drive *d, llhttp_errno_t e)
{
    bad_response(respd_sess(d), e);
    return false;
}

static void resp_nomem(hp_drive *d)
{
    sess_teardown(respd_sess(d), true, -ENOMEM);
}

const hp_drive_ops sess_resp_drive = {.gone = resp_gone,
                                      .runnable = resp_runnable,
                                      .on_head = on_response_head,
                                      .on_done = resp_done,
                                      .on_full = response_body_full,
                                      .on_error = resp_error,
                                      .on_nomem = resp_nomem};

static void resp_run(hp_sess *s, const uint8_t *p, size_t n)
{
    hp_ex *ex = &s->ex;
    if (s->dead || !ex->active)
        return;
    if (ex->rs == RS_DONE) {
        /* Bytes after the response: the upstream is not to be trusted
         * with another request on this connection. */
        if (n)
            ex->up_keepalive = false;
        return;
    }
    sess_ref(s);
    if (hp_drive_run(&s->respd, p, n) && !s->dead && ex->active && ex->rs == RS_DONE &&
        ex->rinb.len) {
        ex->up_keepalive = false;
        hp_fifo_clear(&ex->rinb);
    }
    sess_unref(s);
}

/* The upstream closed its side (after SERVER/INGRESS). */
static void resp_eof(hp_sess *s)
{
    hp_ex *ex = &s->ex;
    if (s->dead || !ex->active)
        return;
    ex->up_keepalive = false;
    if (ex->rs == RS_HOOK || ex->rinb.len) {
        ex->eof_pending = true;
        return;
    }
    if (ex->rs == RS_BODY && llhttp_message_needs_eof(&s->resp.p)) {
        int r = hp_h1up_finish(&s->respd);
        if (r > 0)
            on_response_complete(s);
        else if (r < 0)
            bad_response(s, (llhttp_errno_t)-r);
        return;
    }
    if (ex->rs == RS_DONE)
        return;
    up_failed(s, ex->resp_byte ? UV_EPROTO : UV_EOF);
}

static void up_read(hp_up_user *u, hp_up *up, long nread, const uint8_t *data)
{
    hp_sess *s = upu_sess(u);
    if (!s->dead)
        hp_h1up_read(&s->ex.h1, up, nread, data);
}

const hp_up_user_ops sess_up_user = {.on_ready = on_up_ready, .on_read = up_read};

/* ---- the response from an HTTP/2 upstream (h2.c's bridge) ---- */

size_t hp_sess_h2_room(hp_sess *s)
{
    hp_ex *ex = &s->ex;
    if (s->dead || !s->c || !ex->active || !ex->h2)
        return 0;
    size_t in = s->oq.bytes + ex->rinb.len + sess_pend(s->cin) + s->ccork.len +
                fault_conn_write_queued(s->c);
    return in < HP_HIGH_WATER ? HP_HIGH_WATER - in : 0;
}

void hp_sess_h2_data(hp_sess *s, const uint8_t *p, size_t n)
{
    hp_ex *ex = &s->ex;
    if (s->dead || !ex->h2)
        return;
    sess_ref(s);
    sess_cork_begin(s);
    if (!ex->resp_byte) {
        ex->resp_byte = true;
        sess_timer_stop(s, T_RESPONSE);
    }
    resp_run(s, p, n);
    sess_cork_end(s);
    sess_flow(s);
    sess_unref(s);
}

void hp_sess_h2_fail(hp_sess *s, int err)
{
    if (s->dead || !s->ex.h2)
        return;
    sess_ref(s);
    sess_cork_begin(s);
    up_failed(s, err);
    sess_cork_end(s);
    sess_flow(s);
    sess_unref(s);
}

void hp_sess_h2_flow(hp_sess *s)
{
    if (!s->dead)
        sess_flow(s);
}

/* ---- bodies in the kernel ---- */

#define SPLICE_MIN (256 * 1024)

static void on_spliced(fault_conn *from, fault_conn *to, int status, uint64_t moved, void *ud)
{
    hp_sess *s = ud;
    hp_ex *ex = &s->ex;
    (void)from;
    (void)to;
    ex->splicing = false;
    if (s->dead)
        return;
    sess_ref(s);
    sess_cork_begin(s);
    s->bytes_in += moved;
    fault_log_debug(s->st->self, "%s: %" PRIu64 " body bytes from %s spliced (%s)", s->peer, moved,
                    ex->target, status ? fault_strerror(status) : "complete");
    if (status == 0) {
        /* The whole body went: the response is complete (the parser,
         * which did not see it, starts afresh with the next exchange). */
        on_response_complete(s);
    } else if (status == UV_EOF) {
        fault_log_info(s->st->self, "%s: %s closed in the middle of a response body", s->peer,
                       ex->target);
        up_failed(s, UV_EPROTO);
    } else {
        sess_teardown(s, true, status);
    }
    sess_cork_end(s);
    sess_flow(s);
    sess_unref(s);
}

void sess_maybe_splice(hp_sess *s)
{
    hp_ex *ex = &s->ex;
    if (ex->splicing || !ex->active || ex->rs != RS_BODY || !ex->resp_cl || ex->out_chunked ||
        ex->hold_resp || !ex->h1.up || !ex->h1.reading || ex->h1.eof || ex->eof_pending ||
        ex->rinb.len || s->respd.running || s->out_closed || s->out_eof_queued || s->oq.head ||
        s->ccork.len)
        return;
    uint64_t left = s->resp.p.content_length;
    if (left < SPLICE_MIN)
        return;
    /* No fault may miss these bytes. */
    if ((ex->h1.si && (fault_chain_stages(ex->h1.si) || sess_pend(ex->h1.si))) ||
        (s->cin && (fault_chain_stages(s->cin) || sess_pend(s->cin))) ||
        fault_conn_write_queued(s->c) != 0)
        return;
    fault_conn *u = ex->h1.up->c;
    if (!ex->h1.paused)
        fault_conn_read_stop(u);
    int rc = fault_conn_splice(u, s->c, left, on_spliced, s);
    if (rc < 0) {
        if (!ex->h1.paused)
            fault_conn_read_start(u, hp_up_on_read, ex->h1.up);
        return;
    }
    ex->splicing = true;
}
