/*
 * plugins/http/h2_exchange.c - one HTTP/2 client stream as an exchange
 * (see h2.c for the whole): the answers made here (errors, a plugin's
 * response), the bodies held or watched for the hooks (SDK 1.2), the
 * request head (target, exchange, request hooks) and the response head
 * and body from either kind of upstream (h2_h1up.c, h2up.c), with the
 * response hooks.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "h2int.h"

static void run_resp_hooks(h2_strm *q);

/* ---- header helpers ---- */

int h2_pairs_add(hp_buf *b, size_t *n, const char *name, size_t nl, const char *value, size_t vl)
{
    if (hp_buf_add(b, name, nl) < 0 || hp_buf_add(b, "", 1) < 0 || hp_buf_add(b, value, vl) < 0 ||
        hp_buf_add(b, "", 1) < 0)
        return -1;
    (*n)++;
    return 0;
}

/* Iterates name\0value\0 pairs: *off starts at 0. */
bool h2_pairs_next(const hp_buf *b, size_t *off, const char **name, const char **value)
{
    if (*off >= b->len)
        return false;
    *name = (const char *)b->p + *off;
    *off += strlen(*name) + 1;
    *value = (const char *)b->p + *off;
    *off += strlen(*value) + 1;
    return true;
}

/* Headers HTTP/2 forbids (RFC 9113 8.2.2), and Host (it is :authority).
 * Sorted out by length first: this runs for every header of every
 * message. */
bool h2_banned(const char *name)
{
    switch (strlen(name)) {
    case 4:
        return strcasecmp(name, "host") == 0;
    case 7:
        return strcasecmp(name, "upgrade") == 0;
    case 10:
        return strcasecmp(name, "connection") == 0 || strcasecmp(name, "keep-alive") == 0;
    case 16:
        return strcasecmp(name, "proxy-connection") == 0;
    case 17:
        return strcasecmp(name, "transfer-encoding") == 0;
    default:
        return false;
    }
}

int h2_nvb_add(nvb *b, const char *name, const char *value)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        nghttp2_nv *nv = realloc(b->nv, cap * sizeof *nv);
        if (!nv)
            return -1;
        b->nv = nv;
        size_t *o = realloc(b->offs, cap * 2 * sizeof *o);
        if (!o)
            return -1;
        b->offs = o;
        b->cap = cap;
    }
    size_t nl = strlen(name), vl = strlen(value);
    b->offs[2 * b->n] = b->text.len;
    if (hp_buf_add(&b->text, name, nl + 1) < 0)
        return -1;
    /* ASCII only, as header names are (no locale lookup per byte). */
    uint8_t *lc = b->text.p + b->offs[2 * b->n];
    for (size_t i = 0; i < nl; i++)
        if (lc[i] >= 'A' && lc[i] <= 'Z')
            lc[i] = (uint8_t)(lc[i] + ('a' - 'A'));
    b->offs[2 * b->n + 1] = b->text.len;
    if (hp_buf_add(&b->text, value, vl + 1) < 0)
        return -1;
    b->nv[b->n].namelen = nl;
    b->nv[b->n].valuelen = vl;
    b->nv[b->n].flags = NGHTTP2_NV_FLAG_NONE;
    b->n++;
    return 0;
}

nghttp2_nv *h2_nvb_done(nvb *b)
{
    for (size_t i = 0; i < b->n; i++) {
        b->nv[i].name = b->text.p + b->offs[2 * i];
        b->nv[i].value = b->text.p + b->offs[2 * i + 1];
    }
    return b->nv;
}

void h2_nvb_free(nvb *b)
{
    free(b->nv);
    free(b->offs);
    hp_buf_free(&b->text);
    memset(b, 0, sizeof *b);
}

/* The session's list, emptied: one allocation per connection, not one
 * per message. */
nvb *h2_nvb_get(hp_h2 *h)
{
    if (!h->nv) {
        h->nv = calloc(1, sizeof *h->nv);
        if (!h->nv)
            return NULL;
    }
    h->nv->n = 0;
    h->nv->text.len = 0;
    return h->nv;
}

/* "%d" without printf (runs per stream). */
static const char *h2_itoa3(char *buf, size_t len, uint64_t v)
{
    size_t i = len - 1;
    buf[i] = '\0';
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v && i);
    return buf + i;
}

/* ---- answers made here ---- */

void h2_send_head(h2_strm *q, bool body)
{
    hp_h2 *h = q->h;
    char stb[8];
    int status = fault_http_status(q->x);
    nvb *bp = h2_nvb_get(h);
    if (!bp) {
        h2_teardown(h, true, -ENOMEM);
        return;
    }
    h2_nvb_add(bp, ":status", h2_itoa3(stb, sizeof stb, (uint64_t)status));
    size_t n = fault_http_header_count(q->x, FAULT_HTTP_RESPONSE);
    bool via_done = false;
    for (size_t i = 0; i < n; i++) {
        const char *name, *value;
        fault_http_header_at(q->x, FAULT_HTTP_RESPONSE, i, &name, &value);
        if (h2_banned(name) || name[0] == ':')
            continue;
        if (h->st->via && !via_done && strcasecmp(name, "via") == 0) {
            char v[1024];
            snprintf(v, sizeof v, "%s, 2 fault", value);
            h2_nvb_add(bp, name, v);
            via_done = true;
            continue;
        }
        h2_nvb_add(bp, name, value);
    }
    if (h->st->via && !via_done)
        h2_nvb_add(bp, "via", "2 fault");
    nghttp2_data_provider prd = {.source.ptr = q, .read_callback = h2_resp_read};
    int rv = nghttp2_submit_response(h->ng, q->id, h2_nvb_done(bp), bp->n, body ? &prd : NULL);
    if (rv < 0) {
        nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, q->id, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    q->head_sent = true;
    h->dirty = true;
    h2_publish(q, FAULT_EV_HTTP_RESPONSE, status);
}

/* Answers the stream: a short text (errors), or (from_x) the status,
 * headers and body a plugin gave. The upstream part, if any, is dropped;
 * request DATA still coming is consumed and dropped. */
void strm_answer(h2_strm *q, int status, const char *text, bool from_x)
{
    hp_h2 *h = q->h;
    if (q->gone || q->head_sent || h->dead)
        return;
    strm_release_upstream(q, true);
    q->discard = true;
    if (q->unconsumed) {
        nghttp2_session_consume(h->ng, q->id, q->unconsumed);
        q->unconsumed = 0;
    }
    hp_fifo_free(&q->reqbody);
    hp_fifo_free(&q->respbody);
    strm_bodies_free(q);
    q->ntrailers = 0;
    const uint8_t *body = NULL;
    size_t len = 0;
    char tbuf[HP_MAX_HOST + 256];
    if (!q->x) {
        /* No exchange yet (a request refused before one was made). */
        char st[8];
        snprintf(st, sizeof st, "%d", status);
        snprintf(tbuf, sizeof tbuf, "%s\n", text ? text : "");
        char cl[24];
        snprintf(cl, sizeof cl, "%zu", strlen(tbuf));
        nghttp2_nv nv[] = {
            {(uint8_t *)":status", (uint8_t *)st, 7, strlen(st), NGHTTP2_NV_FLAG_NONE},
            {(uint8_t *)"content-type", (uint8_t *)"text/plain; charset=utf-8", 12, 25,
             NGHTTP2_NV_FLAG_NONE},
            {(uint8_t *)"content-length", (uint8_t *)cl, 14, strlen(cl), NGHTTP2_NV_FLAG_NONE}};
        hp_fifo_add(&q->respbody, tbuf, strlen(tbuf));
        q->resp_eof = true;
        nghttp2_data_provider prd = {.source.ptr = q, .read_callback = h2_resp_read};
        nghttp2_submit_response(h->ng, q->id, nv, 3, &prd);
        q->head_sent = true;
        h->dirty = true;
        h2_publish(q, FAULT_EV_HTTP_RESPONSE, status);
        return;
    }
    if (!from_x) {
        /* Our own answer replaces whatever response the exchange had, as
         * a plugin's does. */
        snprintf(tbuf, sizeof tbuf, "%s\n", text ? text : "");
        fault_http_respond(q->x, status, NULL, tbuf, text ? strlen(tbuf) : 0);
    }
    fault_http_reply_body(q->x, &body, &len);
    bool no_body = (status >= 100 && status < 200) || status == 204 || status == 304;
    if (no_body)
        len = 0;
    fault_http_set_status(q->x, status);
    if (len && !fault_http_header(q->x, FAULT_HTTP_RESPONSE, "content-type"))
        fault_http_set_header(q->x, FAULT_HTTP_RESPONSE, "content-type",
                              "text/plain; charset=utf-8");
    char cl[24];
    snprintf(cl, sizeof cl, "%zu", len);
    if (!no_body)
        fault_http_set_header(q->x, FAULT_HTTP_RESPONSE, "content-length", cl);
    if (len && !q->is_head)
        hp_fifo_add(&q->respbody, body, len);
    q->resp_eof = true;
    h2_send_head(q, !no_body && !q->is_head);
}

/* A failure reaching or hearing from the upstream. */
void strm_fail(h2_strm *q, int err)
{
    hp_h2 *h = q->h;
    if (q->gone || h->dead)
        return;
    if (h->bridged) {
        /* The session hears it from the next pump (never from inside
         * nghttp2 or its own call), and answers or cuts. */
        if (!q->b_err)
            q->b_err = err ? err : UV_EPROTO;
        h->dirty = true;
        return;
    }
    char msg[HP_MAX_HOST + 128];
    int status = 502;
    if (err == FAULT_ERESOLVE) {
        snprintf(msg, sizeof msg, "fault: could not resolve host %s", q->host);
    } else if (err == UV_ETIMEDOUT) {
        status = 504;
        snprintf(msg, sizeof msg, "fault: %s did not %s within %.3g s", q->target,
                 q->deadline_kind == DL_RESPONSE ? "answer" : "accept the connection",
                 (double)h->st->upstream_timeout_us / 1e6);
    } else if (err == UV_ECONNREFUSED) {
        snprintf(msg, sizeof msg, "fault: connection refused by %s", q->target);
    } else if (err == UV_ECONNRESET || err == UV_EPIPE) {
        snprintf(msg, sizeof msg, "fault: connection reset by %s", q->target);
    } else if (err == UV_EOF) {
        snprintf(msg, sizeof msg, "fault: %s closed the connection without a response", q->target);
    } else if (err == FAULT_ETLS) {
        snprintf(msg, sizeof msg, "fault: TLS handshake with %s failed", q->target);
    } else if (err == -ECANCELED) {
        snprintf(msg, sizeof msg, "fault: %s reset the stream", q->target);
    } else {
        snprintf(msg, sizeof msg, "fault: cannot reach %s: %s", q->target, fault_strerror(err));
    }
    if (q->x)
        fault_log_info(h->st->self, "%s %s: %s", fault_http_method(q->x), fault_http_url(q->x),
                       msg);
    if (!q->head_sent) {
        strm_answer(q, status, msg, false);
        return;
    }
    /* The client has the head: the stream must end visibly unfinished. */
    strm_release_upstream(q, true);
    if (!q->rst_sent) {
        q->rst_sent = true;
        nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, q->id,
                                  q->tunnel           ? NGHTTP2_CONNECT_ERROR
                                  : err == -ECANCELED ? NGHTTP2_CANCEL
                                                      : NGHTTP2_INTERNAL_ERROR);
        h->dirty = true;
    }
}

/* ---- bodies for the hooks (SDK 1.2) ----
 *
 * Whole bodies: when an active plugin asked for them
 * (fault_http_wanted_body()), a request's DATA (a response's body) is read
 * into reqbody (respbody) before that message's hooks run, its window
 * credit returned as it comes (the body is bounded by the limit), and
 * handed to the exchange at END_STREAM (the response's end); the body sent
 * on is then fault_http_body(), with its own content-length. A body that
 * outgrows the limit stops being held: the hooks run without it, what was
 * read goes first, the rest follows as usual.
 *
 * Watched bodies: a plugin that called fault_http_watch_body() gets a body
 * chain of on_body hooks for that body, created once that message's hooks
 * ran. Decoded bytes wait in qin (rin) and are pushed by the pump (never
 * from inside nghttp2 or llhttp); what comes out goes to reqbody
 * (respbody), so the upstream legs and h2_resp_read() see only the result;
 * its length may differ, so no content-length goes with it. The window
 * credit of the bytes in a chain is returned while the chain and what it
 * put out stay under HP_HIGH_WATER. */

void strm_bodies_free(h2_strm *q)
{
    fault_chain_free(q->qbc);
    fault_chain_free(q->rbc);
    q->qbc = q->rbc = NULL;
    hp_fifo_free(&q->qin);
    hp_fifo_free(&q->rin);
    q->hold_req = q->hold_resp = false;
}

/* A body chain when a plugin watches that body, else NULL. */
static fault_chain *body_chain(h2_strm *q, fault_direction dir, const fault_chain_ops *ops)
{
    if (!q->targeted || !q->x || !fault_http_is_body_watched(q->x, dir))
        return NULL;
    fault_chain *c = fault_http_body_chain_new(q->x, dir, ops, q);
    if (c && fault_chain_stages(c) == 0) {
        fault_chain_free(c);
        c = NULL;
    }
    return c;
}

static void qbc_output(void *ud, const uint8_t *data, size_t len)
{
    h2_strm *q = ud;
    h2_enter(q->h);
    if (!q->gone && !q->discard && hp_fifo_add(&q->reqbody, data, len) < 0)
        strm_fail(q, -ENOMEM);
    q->h->dirty = true;
    h2_leave(q->h);
}

static void qbc_eof(void *ud)
{
    h2_strm *q = ud;
    h2_enter(q->h);
    q->req_eof = true;
    q->h->dirty = true;
    h2_leave(q->h);
}

static void rbc_output(void *ud, const uint8_t *data, size_t len)
{
    h2_strm *q = ud;
    h2_enter(q->h);
    if (!q->gone && !q->discard && hp_fifo_add(&q->respbody, data, len) < 0)
        h2_teardown(q->h, true, -ENOMEM);
    q->h->dirty = true;
    h2_leave(q->h);
}

static void rbc_eof(void *ud)
{
    h2_strm *q = ud;
    h2_enter(q->h);
    q->resp_eof = true;
    q->h->dirty = true;
    h2_leave(q->h);
}

static void body_progress(void *ud)
{
    h2_strm *q = ud;
    h2_enter(q->h);
    q->h->dirty = true;
    h2_leave(q->h);
}

/* An on_body hook reset (or closed) this body: the stream alone ends,
 * visibly unfinished; its neighbours on the connection go on. */
static void body_end(void *ud, bool reset)
{
    h2_strm *q = ud;
    hp_h2 *h = q->h;
    h2_enter(h);
    if (!q->gone && !h->dead) {
        strm_release_upstream(q, true);
        strm_bodies_free(q);
        q->discard = true;
        if (!q->rst_sent) {
            q->rst_sent = true;
            nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, q->id,
                                      reset ? NGHTTP2_INTERNAL_ERROR : NGHTTP2_CANCEL);
        }
        h->dirty = true;
    }
    h2_leave(h);
}

static const fault_chain_ops qbc_ops = {
    .output = qbc_output, .eof = qbc_eof, .progress = body_progress, .end = body_end};
static const fault_chain_ops rbc_ops = {
    .output = rbc_output, .eof = rbc_eof, .progress = body_progress, .end = body_end};

/* The request hooks ran (CONTINUE): the body that goes upstream is the
 * held one (maybe replaced), or the client's DATA, through the on_body
 * hooks when a plugin watches it; what was read meanwhile goes first. */
static void req_body_begin(h2_strm *q)
{
    size_t hl = 0;
    const uint8_t *held = q->held_req ? fault_http_body(q->x, FAULT_HTTP_REQUEST, &hl) : NULL;
    bool body = held || !(q->req_eof && q->reqbody.len == 0);
    if (body)
        q->qbc = body_chain(q, FAULT_DIR_EGRESS, &qbc_ops);
    if (held) {
        /* Read whole: its end is known. */
        hp_fifo_clear(&q->reqbody);
        if (q->qbc) {
            q->req_cl = false;
            q->qbc_eof = true;
            fault_chain *c = q->qbc;
            if (hl)
                fault_chain_push(c, held, hl);
            if (q->qbc == c)
                fault_chain_eof(c);
        } else {
            q->req_cl = true;
            q->req_clen = hl;
            if (hp_fifo_add(&q->reqbody, held, hl) < 0)
                strm_fail(q, -ENOMEM);
            q->req_eof = true;
        }
    } else if (q->qbc) {
        /* Its length may change: no content-length; the end comes out of
         * the chain. */
        q->req_cl = false;
        q->req_eof = false;
        if (hp_fifo_move(&q->qin, &q->reqbody) < 0)
            strm_fail(q, -ENOMEM);
    }
    q->h->dirty = true;
}

/* Request DATA toward the on_body hooks, and its window credit. */
void h2_qbc_pump(h2_strm *q)
{
    hp_h2 *h = q->h;
    if (q->qin.len) {
        hp_fifo in = q->qin;
        memset(&q->qin, 0, sizeof q->qin);
        fault_chain_push(q->qbc, hp_fifo_data(&in), in.len);
        hp_fifo_free(&in);
        h->dirty = true;
    }
    if (q->qbc && q->cli_eof && !q->qin.len && !q->qbc_eof) {
        q->qbc_eof = true;
        fault_chain_eof(q->qbc);
    }
    if (q->qbc && q->unconsumed && !h->dead &&
        fault_chain_pending(q->qbc) + q->reqbody.len < HP_HIGH_WATER) {
        nghttp2_session_consume(h->ng, q->id, q->unconsumed);
        q->unconsumed = 0;
        h->dirty = true;
    }
}

/* Response body toward the on_body hooks, and (HTTP/2 upstream) the
 * window credit of what the chain took. */
void h2_rbc_pump(h2_strm *q)
{
    hp_h2 *h = q->h;
    if (q->rin.len) {
        hp_fifo in = q->rin;
        memset(&q->rin, 0, sizeof q->rin);
        fault_chain_push(q->rbc, hp_fifo_data(&in), in.len);
        hp_fifo_free(&in);
        h->dirty = true;
    }
    if (q->rbc && q->rin_eof && !q->rin.len && !q->rbc_eof) {
        q->rbc_eof = true;
        fault_chain_eof(q->rbc);
    }
    if (q->rbc && q->u && !q->u->dead && q->uid > 0 && q->up_unconsumed &&
        fault_chain_pending(q->rbc) + q->respbody.len < HP_HIGH_WATER) {
        nghttp2_session_consume(q->u->ng, q->uid, q->up_unconsumed);
        q->up_unconsumed = 0;
        h->dirty = true;
    }
}

/* ---- request head: target, exchange, hooks ---- */

static void on_req_hooks(fault_http_exchange *x, fault_http_action result, void *ud)
{
    h2_strm *q = ud;
    hp_h2 *h = q->h;
    (void)x;
    h2_enter(h);
    q->hook_running = false;
    if (!q->gone && !h->dead) {
        if (result == FAULT_HTTP_RESPOND) {
            strm_answer(q, fault_http_status(q->x), NULL, true);
        } else {
            req_body_begin(q);
            strm_dispatch(q);
        }
    }
    h2_leave(h);
}

static void run_req_hooks(h2_strm *q)
{
    q->hook_running = true;
    if (fault_http_run_request(q->x, on_req_hooks, q) < 0) {
        q->hook_running = false;
        req_body_begin(q);
        strm_dispatch(q);
    }
}

/* The request body outgrew the limit: the hooks run without it; what was
 * read goes upstream first. */
void h2_req_body_full(h2_strm *q)
{
    q->hold_req = false;
    run_req_hooks(q);
}

/* The whole body of message m is in: the exchange gets it, then that
 * message's hooks run. */
void h2_body_held(h2_strm *q, fault_http_msg m)
{
    bool req = m == FAULT_HTTP_REQUEST;
    hp_fifo *f = req ? &q->reqbody : &q->respbody;
    if (req) {
        q->hold_req = false;
        q->held_req = true;
    } else {
        q->hold_resp = false;
        q->held_resp = true;
    }
    int rc = fault_http_load_body(q->x, m, hp_fifo_data(f), f->len);
    hp_fifo_free(f);
    if (rc < 0) {
        h2_teardown(q->h, true, rc);
        return;
    }
    if (req)
        run_req_hooks(q);
    else
        run_resp_hooks(q);
}

static const char *find_hdr(h2_strm *q, const char *want)
{
    size_t off = 0;
    const char *name, *value;
    while (h2_pairs_next(&q->hdrs, &off, &name, &value))
        if (strcasecmp(name, want) == 0)
            return value;
    return NULL;
}

void strm_head(h2_strm *q)
{
    hp_h2 *h = q->h;
    hp_state *st = h->st;
    hp_front *fr = h->fr;
    if (q->method && strcmp(q->method, "CONNECT") == 0) {
        strm_connect(q);
        return;
    }
    if (!q->method || !q->path || !q->path[0]) {
        strm_answer(q, 400, "bad request: :method and :path are required", false);
        return;
    }
    const char *authority = q->authority ? q->authority : find_hdr(q, "host");
    char addressed[HP_MAX_HOST + 8] = "";
    bool fwd_tls = q->scheme && strcasecmp(q->scheme, "https") == 0;
    char ahost[HP_MAX_HOST] = "";
    uint16_t aport = 0;
    if (authority &&
        hp_parse_hostport(authority, strlen(authority), ahost, sizeof ahost, &aport, false) < 0)
        authority = NULL;
    if (fr->reverse) {
        hp_copy(q->host, sizeof q->host, fr->host);
        q->port = fr->port;
        q->tls = fr->tls;
        hp_copy(addressed, sizeof addressed, authority ? authority : fr->authority);
    } else if (st->have_override) {
        hp_copy(q->host, sizeof q->host, st->ov_host);
        q->port = st->ov_port;
        q->tls = st->ov_tls;
        if (authority)
            hp_copy(addressed, sizeof addressed, authority);
        else
            hp_authority(addressed, sizeof addressed, st->ov_host, st->ov_port, st->ov_tls, true);
    } else {
        if (!authority) {
            strm_answer(q, 400, "this is a forward proxy: the request needs an :authority", false);
            return;
        }
        hp_copy(q->host, sizeof q->host, ahost);
        q->port = aport ? aport : fwd_tls ? 443 : 80;
        q->tls = fwd_tls;
        hp_authority(addressed, sizeof addressed, ahost, q->port, fwd_tls, true);
    }
    if (fr->reverse || st->match_all)
        q->targeted = true;
    else if (st->have_override)
        q->targeted =
            hp_targeted(st, st->ov_host, st->ov_port) || (authority && hp_targeted(st, ahost,
                                                                                   aport     ? aport
                                                                                   : fwd_tls ? 443
                                                                                             : 80));
    else
        q->targeted = hp_targeted(st, q->host, q->port);
    hp_authority(q->target, sizeof q->target, q->host, q->port, q->tls, false);
    hp_up_key(q->key, sizeof q->key, q->host, q->port, q->tls);
    q->is_head = strcmp(q->method, "HEAD") == 0;
    char url[HP_MAX_HOST * 2 + 64];
    const char *path = q->path;
    if (fr->reverse || st->have_override) {
        char auth[HP_MAX_HOST + 8];
        hp_authority(auth, sizeof auth, q->host, q->port, q->tls, true);
        size_t k = hp_copy(url, sizeof url, q->tls ? "https://" : "http://");
        hp_copy(url + k, sizeof url - k, fr->reverse && !fr->keep_host ? auth : addressed);
    } else {
        size_t k = hp_copy(url, sizeof url, fwd_tls ? "https://" : "http://");
        hp_copy(url + k, sizeof url - k, addressed);
    }
    size_t ul = strlen(url);
    char *full = malloc(ul + strlen(path) + 1);
    if (!full) {
        h2_teardown(h, true, -ENOMEM);
        return;
    }
    memcpy(full, url, ul);
    strcpy(full + ul, path);
    /* A new exchange: faults acting once per connection act again (for
     * HTTP/2 the connection's fault state is shared by its streams, so
     * this is per stream only roughly: concurrent streams share it). */
    if (h->s)
        fault_stream_next_exchange(h->s);
    q->x = fault_http_exchange_new(st->self, h->s, q->method, full, addressed, path);
    free(full);
    if (!q->x) {
        h2_teardown(h, true, -ENOMEM);
        return;
    }
    const char *host_out = fr->reverse && !fr->keep_host ? fr->authority : addressed;
    fault_http_add_header(q->x, FAULT_HTTP_REQUEST, "Host", host_out);
    /* Cookies may come split (RFC 9113 8.2.3): one header for HTTP/1. */
    hp_buf cookie = {0};
    size_t off = 0;
    const char *name, *value;
    bool via_done = false;
    while (h2_pairs_next(&q->hdrs, &off, &name, &value)) {
        if (h2_banned(name) || strcmp(name, "te") == 0 || strcmp(name, "expect") == 0)
            continue;
        if (strcmp(name, "cookie") == 0) {
            if (cookie.len)
                hp_buf_add(&cookie, "; ", 2);
            hp_buf_str(&cookie, value);
            continue;
        }
        if (strcmp(name, "content-length") == 0) {
            char *end;
            unsigned long long v = strtoull(value, &end, 10);
            if (*value && !*end) {
                q->req_cl = true;
                q->req_clen = v;
            }
        }
        if (st->via && !via_done && strcmp(name, "via") == 0) {
            char v[1024];
            snprintf(v, sizeof v, "%s, 2 fault", value);
            fault_http_add_header(q->x, FAULT_HTTP_REQUEST, name, v);
            via_done = true;
            continue;
        }
        fault_http_add_header(q->x, FAULT_HTTP_REQUEST, name, value);
    }
    if (cookie.len) {
        hp_buf_add(&cookie, "", 1);
        fault_http_add_header(q->x, FAULT_HTTP_REQUEST, "cookie", (const char *)cookie.p);
    }
    hp_buf_free(&cookie);
    if (find_hdr(q, "te") && hp_token_in(find_hdr(q, "te"), "trailers"))
        fault_http_add_header(q->x, FAULT_HTTP_REQUEST, "te", "trailers");
    if (st->via && !via_done)
        fault_http_add_header(q->x, FAULT_HTTP_REQUEST, "Via", "2 fault");
    h2_publish(q, FAULT_EV_HTTP_REQUEST, 0);
    if (!q->targeted) {
        strm_dispatch(q);
        return;
    }
    /* A plugin wants request bodies whole: read it first (unless its
     * content-length says it is too large). */
    size_t want = q->req_eof ? 0 : fault_http_wanted_body(q->x, FAULT_HTTP_REQUEST);
    if (want && !(q->req_cl && q->req_clen > want)) {
        q->hold_req = true;
        q->hold_qmax = want;
        return;
    }
    run_req_hooks(q);
}

void strm_req_eof(h2_strm *q)
{
    q->cli_eof = true;
    q->h->dirty = true;
    if (q->hold_req) {
        h2_body_held(q, FAULT_HTTP_REQUEST);
        return;
    }
    /* Watched: the end goes through the chain first. */
    if (!q->qbc)
        q->req_eof = true;
}

/* ---- the response head, from either kind of upstream ---- */

/* The response hooks ran (CONTINUE): the head goes out, with the held
 * body (maybe replaced) and its length, or with the upstream's body,
 * through the on_body hooks when a plugin watches it. */
static void resp_go(h2_strm *q)
{
    size_t hl = 0;
    const uint8_t *held = q->held_resp ? fault_http_body(q->x, FAULT_HTTP_RESPONSE, &hl) : NULL;
    if (!q->no_body)
        q->rbc = body_chain(q, FAULT_DIR_INGRESS, &rbc_ops);
    if (q->rbc) {
        /* Its length may change: DATA until END_STREAM, no length. */
        fault_http_set_header(q->x, FAULT_HTTP_RESPONSE, "content-length", NULL);
        if (held) {
            q->rin_eof = q->rbc_eof = true;
            fault_chain *c = q->rbc;
            if (hl)
                fault_chain_push(c, held, hl);
            if (q->rbc == c)
                fault_chain_eof(c);
        } else {
            if (hp_fifo_move(&q->rin, &q->respbody) < 0) {
                h2_teardown(q->h, true, -ENOMEM);
                return;
            }
            if (q->resp_eof) {
                q->resp_eof = false;
                q->rin_eof = true;
            }
        }
    } else if (held && !q->no_body) {
        char cl[24];
        fault_http_set_header(q->x, FAULT_HTTP_RESPONSE, "content-length",
                              h2_itoa3(cl, sizeof cl, hl));
        hp_fifo_clear(&q->respbody);
        if (hp_fifo_add(&q->respbody, held, hl) < 0) {
            h2_teardown(q->h, true, -ENOMEM);
            return;
        }
        q->resp_eof = true;
    }
    if (q->gone || q->h->dead)
        return;
    h2_send_head(q, !q->no_body);
}

static void on_resp_hooks(fault_http_exchange *x, fault_http_action result, void *ud)
{
    h2_strm *q = ud;
    hp_h2 *h = q->h;
    (void)x;
    h2_enter(h);
    q->hook_running = false;
    if (!q->gone && !h->dead) {
        if (result == FAULT_HTTP_RESPOND)
            strm_answer(q, fault_http_status(q->x), NULL, true);
        else
            resp_go(q);
    }
    h2_leave(h);
}

static void run_resp_hooks(h2_strm *q)
{
    q->hook_running = true;
    if (fault_http_run_response(q->x, on_resp_hooks, q) < 0) {
        q->hook_running = false;
        resp_go(q);
    }
}

/* Status and headers are in the exchange. */
void strm_resp_head(h2_strm *q)
{
    q->resp_head_known = true;
    q->deadline_us = 0;
    q->deadline_kind = DL_NONE;
    int status = fault_http_status(q->x);
    q->no_body = q->is_head || status == 204 || status == 304;
    if (!q->targeted) {
        h2_send_head(q, !q->no_body);
        return;
    }
    /* A plugin wants response bodies whole: read it first (unless its
     * content-length says it is too large). */
    size_t want = q->no_body ? 0 : fault_http_wanted_body(q->x, FAULT_HTTP_RESPONSE);
    if (want) {
        const char *v = fault_http_header(q->x, FAULT_HTTP_RESPONSE, "content-length");
        char *end = NULL;
        unsigned long long cl = v ? strtoull(v, &end, 10) : 0;
        if (!v || !*v || *end || cl <= want) {
            q->hold_resp = true;
            q->hold_rmax = want;
            if (q->up_done) /* it ended with the head */
                h2_body_held(q, FAULT_HTTP_RESPONSE);
            return;
        }
    }
    run_resp_hooks(q);
}

/* The response body outgrew the limit: the hooks run without it; what
 * was read goes first. */
void h2_resp_body_full(h2_strm *q)
{
    q->hold_resp = false;
    run_resp_hooks(q);
}

/* A piece of response body. Returns true when it made a body held for
 * the hooks outgrow the limit: the caller calls h2_resp_body_full() (from
 * outside its parser). */
bool strm_resp_data(h2_strm *q, const uint8_t *p, size_t n)
{
    if (q->discard || q->gone)
        return false;
    if (hp_fifo_add(q->rbc ? &q->rin : &q->respbody, p, n) < 0) {
        h2_teardown(q->h, true, -ENOMEM);
        return false;
    }
    q->h->dirty = true;
    if (q->hold_resp) {
        if (q->respbody.len > q->hold_rmax) {
            return true;
        } else if (q->u && !q->u->dead && q->uid > 0) {
            /* Held, bounded by the limit: the upstream may send on. */
            size_t c = n < q->up_unconsumed ? n : q->up_unconsumed;
            nghttp2_session_consume(q->u->ng, q->uid, c);
            q->up_unconsumed -= c;
        }
    }
    return false;
}

void strm_resp_end(h2_strm *q)
{
    q->up_done = true;
    q->h->dirty = true;
    if (q->hold_resp) {
        h2_body_held(q, FAULT_HTTP_RESPONSE);
        return;
    }
    if (q->rbc)
        q->rin_eof = true; /* through the chain first */
    else
        q->resp_eof = true;
}
