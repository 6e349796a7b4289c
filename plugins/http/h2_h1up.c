/*
 * plugins/http/h2_h1up.c - the HTTP/1.1 upstream of an HTTP/2 client
 * stream (see h2.c for the whole): one exchange per connection at a time,
 * taken from and given back to the plugin's keep-alive pool (upstream.c);
 * the request is translated (Host from :authority, a body without
 * content-length is sent chunked), and so is the response (hop-by-hop
 * headers dropped, chunked decoded by llhttp). CONNECT streams use the
 * same machinery without HTTP (tunnel.c).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "h1up.h"
#include "h2int.h"

static const hp_up_user_ops h2_h1_user;

static h2_strm *upu_strm(hp_up_user *u)
{
    return (h2_strm *)((char *)u - offsetof(h2_strm, upu));
}

/* ---- upstream over HTTP/1.1 ---- */

static llhttp_settings_t rp_settings;
static bool rp_ready;

static int rp_on_headers(llhttp_t *p)
{
    h2_strm *q = p->data;
    /* Interim responses are not forwarded; the final response follows. */
    int rc = hp_h1up_on_headers(p, q->is_head, &q->interim);
    if (rc == HPE_PAUSED)
        q->rpd.ev = EV_HEAD;
    return rc;
}

static int rp_on_body(llhttp_t *p, const char *at, size_t n)
{
    h2_strm *q = p->data;
    if (n == 0) /* an empty span: the parser run on nothing after a pause */
        return 0;
    if (strm_resp_data(q, (const uint8_t *)at, n)) {
        q->rpd.ev = EV_FULL;
        return HPE_PAUSED;
    }
    return 0;
}

static int rp_on_complete(llhttp_t *p)
{
    h2_strm *q = p->data;
    return hp_h1up_on_complete(&q->rpd, &q->interim);
}

static h2_strm *rpd_strm(const hp_drive *d)
{
    return (h2_strm *)((char *)d - offsetof(h2_strm, rpd));
}

static void h1_head(hp_drive *d)
{
    h2_strm *q = rpd_strm(d);
    llhttp_t *p = &q->rp.p;
    hp_head *hd = &q->rp.head;
    hp_head_done(hd);
    q->status = p->status_code;
    q->up_keepalive = hp_h1up_keepalive(p, hd);
    if (hp_h1up_head_to_x(q->x, p, hd) < 0) {
        strm_fail(q, UV_EPROTO);
        return;
    }
    strm_resp_head(q);
}

/* The response ended: the connection goes back to the pool when it
 * carried exactly this exchange. Bytes the upstream sent after the
 * response in the same read already wait in rpin (the driver keeps what
 * the parser did not take before it reports the end): such an upstream is
 * not to be trusted with another request, so its connection is closed. */
static void h1_done(h2_strm *q)
{
    q->resp_done_h1 = true;
    if (q->rpin.len)
        q->up_keepalive = false;
    strm_resp_end(q);
    if (q->h1.up && q->req_end_sent) {
        hp_up *up = q->h1.up;
        bool reusable = hp_h1up_reusable(q->h->st, &q->h1, q->up_keepalive);
        q->h1.up = NULL;
        hp_h1up_chains_free(&q->h1);
        hp_up_release(up, reusable);
    }
}

static bool rp_gone(const hp_drive *d)
{
    const h2_strm *q = rpd_strm(d);
    return q->gone || q->h->dead || !q->h1.up;
}

static bool rp_runnable(const hp_drive *d)
{
    return !rpd_strm(d)->resp_done_h1;
}

static void rp_done(hp_drive *d)
{
    h1_done(rpd_strm(d));
}

static void rp_full(hp_drive *d)
{
    h2_resp_body_full(rpd_strm(d));
}

static bool rp_error(hp_drive *d, llhttp_errno_t e)
{
    h2_strm *q = rpd_strm(d);
    const char *why = hp_parse_error(&q->rp, e);
    fault_log_info(q->h->st->self, "%s: bad response from %s: %s", q->h->peer, q->target,
                   why ? why : llhttp_errno_name(e));
    strm_fail(q, UV_EPROTO);
    return false;
}

static void rp_nomem(hp_drive *d)
{
    strm_fail(rpd_strm(d), -ENOMEM);
}

static const hp_drive_ops rp_drive = {.gone = rp_gone,
                                      .runnable = rp_runnable,
                                      .on_head = h1_head,
                                      .on_done = rp_done,
                                      .on_full = rp_full,
                                      .on_error = rp_error,
                                      .on_nomem = rp_nomem};

static void h1_parse(h2_strm *q, const uint8_t *d, size_t len)
{
    if (!hp_drive_run(&q->rpd, d, len) || !q->rpin.len)
        return;
    /* Bytes after the response: the upstream is not to be trusted with
     * another request on this connection. Or for a stream gone. */
    if (q->resp_done_h1 && !rp_gone(&q->rpd))
        q->up_keepalive = false;
    hp_fifo_clear(&q->rpin);
}

static void h1_eof(h2_strm *q)
{
    q->h1.eof = true;
    q->up_keepalive = false;
    if (q->resp_done_h1)
        return;
    if (q->resp_head_known && llhttp_message_needs_eof(&q->rp.p) && hp_h1up_finish(&q->rpd) >= 0) {
        h1_done(q);
        return;
    }
    strm_fail(q, q->resp_byte ? UV_EPROTO : UV_EOF);
}

void h1_se_output(void *ud, const uint8_t *data, size_t len)
{
    h2_strm *q = ud;
    h2_enter(q->h);
    hp_h1up_write(&q->h1, data, len);
    h2_leave(q->h);
}

static void h1_si_output(void *ud, const uint8_t *data, size_t len)
{
    h2_strm *q = ud;
    h2_enter(q->h);
    h1_parse(q, data, len);
    h2_leave(q->h);
}

static void h1_si_eof(void *ud)
{
    h2_strm *q = ud;
    h2_enter(q->h);
    h1_eof(q);
    h2_leave(q->h);
}

void h1_chain_progress(void *ud)
{
    h2_strm *q = ud;
    h2_enter(q->h);
    h2_leave(q->h);
}

/* ---- the stream's side of its hp_h1up ---- */

static h2_strm *h1_strm(hp_h1up *u)
{
    return (h2_strm *)((char *)u - offsetof(h2_strm, h1));
}

void *h2_h1up_enter(hp_h1up *u)
{
    hp_h2 *h = h1_strm(u)->h;
    h2_enter(h);
    return h;
}

void h2_h1up_leave(void *ctx)
{
    h2_leave(ctx);
}

static void h1_resp_byte(hp_h1up *u)
{
    h2_strm *q = h1_strm(u);
    q->resp_byte = true;
    if (q->deadline_kind == DL_RESPONSE) {
        q->deadline_kind = DL_NONE;
        q->deadline_us = 0;
    }
}

static void h1_response(hp_h1up *u, const uint8_t *p, size_t n)
{
    h1_parse(h1_strm(u), p, n);
}

static void h1_response_eof(hp_h1up *u)
{
    h1_eof(h1_strm(u));
}

void h2_h1up_fail(hp_h1up *u, int err)
{
    strm_fail(h1_strm(u), err);
}

void *h2_h1up_hold(hp_h1up *u)
{
    hp_h2 *h = h1_strm(u)->h;
    h->refs++;
    return h;
}

void h2_h1up_unhold(void *ud)
{
    ((hp_h2 *)ud)->refs--;
}

static const hp_h1up_ops h2_h1up_ops = {.enter = h2_h1up_enter,
                                        .leave = h2_h1up_leave,
                                        .resp_byte = h1_resp_byte,
                                        .response = h1_response,
                                        .response_eof = h1_response_eof,
                                        .fail = h2_h1up_fail,
                                        .hold = h2_h1up_hold,
                                        .unhold = h2_h1up_unhold,
                                        .written = h2_on_client_written};

static const fault_chain_ops h1_se_ops = {.output = h1_se_output, .progress = h1_chain_progress};
static const fault_chain_ops h1_si_ops = {
    .output = h1_si_output, .eof = h1_si_eof, .progress = h1_chain_progress};

/* Bytes toward the upstream (through SERVER/EGRESS when targeted). */
static void h1_out(h2_strm *q, const uint8_t *p, size_t n)
{
    if (h2_staged(q->h1.se)) {
        fault_chain_push(q->h1.se, p, n);
        return;
    }
    hp_h1up_write(&q->h1, p, n);
}

static void h1_up_read(hp_up_user *u, hp_up *up, long nread, const uint8_t *data)
{
    hp_h1up_read(&upu_strm(u)->h1, up, nread, data);
}

static void h1_write_head(h2_strm *q)
{
    hp_buf *bp = &q->h->scratch;
    hp_h1up_request_head(bp, q->x, true);
    if (q->req_cl) {
        hp_buf_add(bp, "Content-Length: ", 16);
        hp_buf_u64(bp, q->req_clen);
        hp_buf_add(bp, "\r\n", 2);
    } else if (q->req_eof && q->reqbody.len == 0) {
        /* No body: say so for the methods that usually carry one. */
        const char *m = fault_http_method(q->x);
        if (strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0)
            hp_buf_str(bp, "Content-Length: 0\r\n");
    } else {
        q->req_chunked = true;
        hp_buf_str(bp, "Transfer-Encoding: chunked\r\n");
    }
    hp_buf_str(bp, "\r\n");
    q->req_head_sent = true;
    h1_out(q, bp->p, bp->len);
}

void h2_h1_bind(h2_strm *q, hp_up *up)
{
    hp_h2 *h = q->h;
    q->up_kind = UP_H1;
    q->upu.ops = &h2_h1_user;
    q->h1.ops = &h2_h1up_ops;
    q->deadline_kind = DL_NONE;
    q->deadline_us = 0;
    if (!rp_ready) {
        rp_ready = true;
        llhttp_settings_init(&rp_settings);
        hp_settings_collect(&rp_settings);
        rp_settings.on_headers_complete = rp_on_headers;
        rp_settings.on_body = rp_on_body;
        rp_settings.on_message_complete = rp_on_complete;
    }
    if (q->rp_init)
        hp_parser_free(&q->rp);
    hp_parser_init(&q->rp, HTTP_RESPONSE, &rp_settings, q);
    q->rp_init = true;
    hp_fifo_clear(&q->rpin);
    hp_drive_init(&q->rpd, &q->rp, &q->rpin, H2_FIFO_KEEP, &rp_drive);
    if (hp_h1up_bind(&q->h1, up, &q->upu, q->targeted ? h->s : NULL, &h1_se_ops, &h1_si_ops, q) <
        0) {
        strm_fail(q, -ECONNREFUSED);
        return;
    }
    h1_write_head(q);
    h->dirty = true;
}

static void on_h1_ready(hp_up_user *u, hp_up *up, int status)
{
    h2_strm *q = upu_strm(u);
    hp_h2 *h = q->h;
    h2_enter(h);
    q->h1.creq = NULL;
    if (status < 0)
        strm_fail(q, status);
    else
        h2_h1_bind(q, up);
    h2_leave(h);
}

static const hp_up_user_ops h2_h1_user = {.on_ready = on_h1_ready, .on_read = h1_up_read};

void h2_h1_start(h2_strm *q)
{
    hp_h2 *h = q->h;
    q->up_kind = UP_H1;
    hp_up *up = hp_pool_take(h->st, q->key);
    if (up) {
        h2_h1_bind(q, up);
        return;
    }
    int err = 0;
    q->upu.ops = &h2_h1_user;
    q->h1.creq =
        hp_connect(h->st, &q->upu, q->targeted ? h->s : NULL, q->host, q->port, q->tls, NULL, &err);
    if (!q->h1.creq) {
        strm_fail(q, err);
        return;
    }
    if (h->st->upstream_timeout_us) {
        q->deadline_kind = DL_CONNECT;
        q->deadline_us = fault_now_us() + h->st->upstream_timeout_us;
    }
}

/* Request body toward an HTTP/1.1 upstream, consumed as it goes on. */
void h2_h1_pump(h2_strm *q)
{
    hp_h2 *h = q->h;
    if (!q->h1.up || !q->req_head_sent || q->req_end_sent)
        goto reads;
    while (q->reqbody.len && hp_h1up_congestion(&q->h1) < HP_HIGH_WATER && q->h1.up && !q->gone) {
        size_t n = q->reqbody.len;
        const uint8_t *p = hp_fifo_data(&q->reqbody);
        if (q->req_chunked) {
            hp_buf *sz = &h->scratch;
            sz->len = 0;
            hp_buf_hex(sz, n);
            hp_buf_add(sz, "\r\n", 2);
            h1_out(q, sz->p, sz->len);
            h1_out(q, p, n);
            h1_out(q, (const uint8_t *)"\r\n", 2);
        } else {
            h1_out(q, p, n);
        }
        hp_fifo_take(&q->reqbody, n, H2_FIFO_KEEP);
        size_t c = n < q->unconsumed ? n : q->unconsumed;
        nghttp2_session_consume(h->ng, q->id, c);
        q->unconsumed -= c;
        h->dirty = true;
    }
    if (q->h1.up && q->req_eof && q->reqbody.len == 0 && !q->req_end_sent) {
        if (q->req_chunked)
            h1_out(q, (const uint8_t *)"0\r\n\r\n", 5);
        q->req_end_sent = true;
        if (q->tunnel) {
            /* END_STREAM: the tunnel's FIN toward the upstream. */
            if (q->h1.se)
                fault_chain_eof(q->h1.se);
            else
                fault_conn_shutdown(q->h1.up->c);
            goto reads;
        }
        if (!q->resp_byte && h->st->upstream_timeout_us) {
            q->deadline_kind = DL_RESPONSE;
            q->deadline_us = fault_now_us() + h->st->upstream_timeout_us;
        }
        if (q->resp_done_h1)
            h1_done(q);
    }
reads:
    /* Stop reading the upstream while this stream's response waits (not
     * while it is held for the hooks: that ends at its limit). */
    if (q->h1.up && q->h1.reading) {
        size_t in = q->respbody.len + q->rin.len + (q->h1.si ? fault_chain_pending(q->h1.si) : 0) +
                    (q->rbc ? fault_chain_pending(q->rbc) : 0);
        if (!q->h1.paused && in > HP_HIGH_WATER && !q->hold_resp) {
            q->h1.paused = true;
            fault_conn_read_stop(q->h1.up->c);
        } else if (q->h1.paused && in < HP_LOW_WATER) {
            q->h1.paused = false;
            fault_conn_read_start(q->h1.up->c, hp_up_on_read, q->h1.up);
        }
    }
}
