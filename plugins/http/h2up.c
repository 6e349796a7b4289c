/*
 * plugins/http/h2up.c - HTTP/2 upstream connections (see h2.c for the
 * whole). An https:// upstream is asked for "h2, http/1.1" by ALPN; the
 * routes remember its answer per client connection: with h2, one
 * connection carries every stream of that client connection for that
 * host, multiplexed (trailers included, as gRPC needs); otherwise the
 * streams go over HTTP/1.1 (h2_h1up.c). The same connections serve HTTP/1
 * sessions through bridges (the end of this file), whose streams are the
 * session's exchanges.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "h2int.h"

static void br_head(h2_strm *q);

/* ---- upstream over HTTP/2 ---- */

static h2_strm *ustrm_of(nghttp2_session *ng, int32_t id)
{
    return nghttp2_session_get_stream_user_data(ng, id);
}

static int u_begin_headers(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    (void)ud;
    h2_strm *q = ustrm_of(ng, f->hd.stream_id);
    if (q)
        q->up_hdr_bytes = 0; /* bounded per header block */
    if (q && !q->resp_head_known) {
        q->rhdrs.len = 0; /* a 1xx head before, if any, is forgotten */
        q->status = 0;
    }
    return 0;
}

static int u_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                    const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
    (void)flags;
    (void)ud;
    h2_strm *q = ustrm_of(ng, f->hd.stream_id);
    if (!q || f->hd.type != NGHTTP2_HEADERS)
        return 0;
    /* As on the client's side (cb_header()): past the bound, the
     * upstream's stream is reset, which fails this one (502, or a reset
     * once the head went to the client). */
    q->up_hdr_bytes += nl + vl + 32;
    if (q->up_hdr_bytes > H2_MAX_HEADER_LIST) {
        if (q->up_hdr_bytes - (nl + vl + 32) <= H2_MAX_HEADER_LIST)
            fault_log_warn(q->h->st->self, "%s: upstream %s:%u: response header list over %d bytes",
                           q->h->peer, q->host, (unsigned)q->port, H2_MAX_HEADER_LIST);
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    if (q->resp_head_known) {
        size_t dummy = 0;
        if (h2_pairs_add(&q->trailers, &dummy, (const char *)name, nl, (const char *)value, vl) < 0)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        q->ntrailers++;
        return 0;
    }
    if (nl == 7 && memcmp(name, ":status", 7) == 0) {
        q->status = atoi((const char *)value);
        return 0;
    }
    if (nl && name[0] == ':')
        return 0;
    size_t dummy = 0;
    if (h2_pairs_add(&q->rhdrs, &dummy, (const char *)name, nl, (const char *)value, vl) < 0)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    return 0;
}

static int u_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    h2_up *u = ud;
    if (f->hd.type == NGHTTP2_GOAWAY) {
        /* No new streams here; those past last_stream_id close by
         * themselves (REFUSED_STREAM). */
        u->goaway = true;
        if (u->route && u->route->u == u) {
            u->route->u = NULL;
            u->route->state = RT_NONE; /* the next stream connects again */
        }
        return 0;
    }
    h2_strm *q = ustrm_of(ng, f->hd.stream_id);
    if (!q || q->gone)
        return 0;
    if (f->hd.type == NGHTTP2_HEADERS && !q->resp_head_known) {
        if (q->status >= 200 && q->h->bridged) {
            br_head(q);
        } else if (q->status >= 200) {
            if (fault_http_set_status(q->x, q->status) < 0) {
                strm_fail(q, UV_EPROTO);
                return 0;
            }
            size_t off = 0;
            const char *name, *value;
            while (h2_pairs_next(&q->rhdrs, &off, &name, &value))
                fault_http_add_header(q->x, FAULT_HTTP_RESPONSE, name, value);
            hp_buf_free(&q->rhdrs);
            q->resp_byte = true;
            strm_resp_head(q);
        }
    }
    if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM) && q->resp_head_known)
        strm_resp_end(q);
    return 0;
}

static int u_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
                        size_t len, void *ud)
{
    (void)flags;
    (void)ud;
    h2_strm *q = ustrm_of(ng, id);
    if (!q || q->gone || q->discard) {
        nghttp2_session_consume(ng, id, len);
        return 0;
    }
    q->up_unconsumed += len;
    if (strm_resp_data(q, data, len))
        h2_resp_body_full(q);
    return 0;
}

static int u_stream_close(nghttp2_session *ng, int32_t id, uint32_t error, void *ud)
{
    h2_up *u = ud;
    h2_strm *q = ustrm_of(ng, id);
    if (u->nstreams)
        u->nstreams--;
    if (!q)
        return 0;
    nghttp2_session_set_stream_user_data(ng, id, NULL);
    q->u = NULL;
    q->uid = 0;
    q->up_unconsumed = 0;
    if (q->gone)
        return 0;
    if (!q->resp_eof && !q->up_done)
        strm_fail(q, error == NGHTTP2_REFUSED_STREAM ? UV_ECONNREFUSED
                     : error == NGHTTP2_CANCEL       ? -ECANCELED
                                                     : UV_EPROTO);
    return 0;
}

/* The request body for the upstream session. */
static ssize_t req_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                        nghttp2_data_source *src, void *ud)
{
    (void)ng;
    (void)id;
    (void)ud;
    h2_strm *q = src->ptr;
    hp_h2 *h = q->h;
    size_t n = q->reqbody.len < len ? q->reqbody.len : len;
    if (n) {
        memcpy(buf, hp_fifo_data(&q->reqbody), n);
        hp_fifo_take(&q->reqbody, n, H2_FIFO_KEEP);
        size_t c = n < q->unconsumed ? n : q->unconsumed;
        if (c)
            nghttp2_session_consume(h->ng, q->id, c);
        q->unconsumed -= c;
        h->dirty = true;
    }
    if (q->reqbody.len == 0 && q->req_eof) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        q->req_end_sent = true;
        if (!q->resp_head_known && h->st->upstream_timeout_us) {
            q->deadline_kind = DL_RESPONSE;
            q->deadline_us = fault_now_us() + h->st->upstream_timeout_us;
        }
        return (ssize_t)n;
    }
    if (n == 0) {
        q->up_deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

static void u_write(h2_up *u, const uint8_t *data, size_t len)
{
    if (u->dead)
        return;
    hp_h2 *h = u->h;
    if (fault_conn_write_queued(u->c) == 0) {
        long w = fault_conn_try_write(u->c, data, len);
        if (w < 0) {
            h2_up_fail(u, (int)w);
            return;
        }
        data += w;
        len -= (size_t)w;
        if (!len)
            return;
    }
    h->refs++;
    if (fault_conn_write(u->c, data, len, h2_on_client_written, h) < 0) {
        h->refs--;
        h2_up_fail(u, -EIO);
    }
}

static void u_feed(h2_up *u, const uint8_t *p, size_t n)
{
    if (u->dead)
        return;
    ssize_t rv = nghttp2_session_mem_recv(u->ng, p, n);
    if (rv < 0) {
        fault_log_info(u->h->st->self, "HTTP/2 upstream %s: %s", u->route ? u->route->key : "?",
                       nghttp2_strerror((int)rv));
        h2_up_fail(u, UV_EPROTO);
    }
    u->h->dirty = true;
}

static void u_se_output(void *ud, const uint8_t *data, size_t len)
{
    h2_up *u = ud;
    h2_enter(u->h);
    u_write(u, data, len);
    h2_leave(u->h);
}

static void u_si_output(void *ud, const uint8_t *data, size_t len)
{
    h2_up *u = ud;
    h2_enter(u->h);
    u_feed(u, data, len);
    h2_leave(u->h);
}

static void u_si_eof(void *ud)
{
    h2_up *u = ud;
    h2_enter(u->h);
    h2_up_fail(u, UV_EOF);
    h2_leave(u->h);
}

static void u_progress(void *ud)
{
    h2_up *u = ud;
    h2_enter(u->h);
    h2_leave(u->h);
}

static const fault_chain_ops u_se_ops = {.output = u_se_output, .progress = u_progress};
static const fault_chain_ops u_si_ops = {
    .output = u_si_output, .eof = u_si_eof, .progress = u_progress};

void h2_u_out(h2_up *u, const uint8_t *p, size_t n)
{
    if (h2_staged(u->se))
        fault_chain_push(u->se, p, n);
    else
        u_write(u, p, n);
}

void h2_u_on_read(fault_conn *c, long nread, const uint8_t *data, void *ud)
{
    h2_up *u = ud;
    (void)c;
    if (u->dead)
        return;
    hp_h2 *h = u->h;
    h2_enter(h);
    if (nread > 0) {
        if (h2_staged(u->si))
            fault_chain_push(u->si, data, (size_t)nread);
        else
            u_feed(u, data, (size_t)nread);
    } else {
        u->eof = true;
        if (nread == UV_EOF && u->si) {
            fault_conn_read_stop(u->c);
            fault_chain_eof(u->si);
        } else {
            h2_up_fail(u, (int)nread);
        }
    }
    h2_leave(h);
}

/* The upstream HTTP/2 connection is gone: its streams fail. */
void h2_up_fail(h2_up *u, int err)
{
    if (u->dead)
        return;
    u->dead = true;
    hp_h2 *h = u->h;
    if (u->route && u->route->u == u) {
        u->route->u = NULL;
        u->route->state = RT_NONE;
    }
    fault_chain_free(u->se);
    fault_chain_free(u->si);
    u->se = u->si = NULL;
    if (u->c) {
        if (err == UV_EOF || err == 0)
            fault_conn_close(u->c);
        else
            fault_conn_reset(u->c);
        u->c = NULL;
    }
    for (h2_strm *q = h->streams; q; q = q->next) {
        if (q->u != u)
            continue;
        q->u = NULL;
        q->uid = 0;
        q->up_unconsumed = 0;
        if (!q->gone && !q->resp_eof && !q->up_done)
            strm_fail(q, err == UV_EOF ? (q->resp_head_known ? UV_EPROTO : UV_EOF) : err);
    }
    h->dirty = true;
}

static nghttp2_session_callbacks *up_callbacks(void)
{
    nghttp2_session_callbacks *cbs = h2_up_cbs;
    if (!cbs) {
        nghttp2_session_callbacks_new(&cbs);
        nghttp2_session_callbacks_set_send_callback(cbs, h2_no_send);
        nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, u_begin_headers);
        nghttp2_session_callbacks_set_on_header_callback(cbs, u_header);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, u_frame_recv);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, u_data_chunk);
        nghttp2_session_callbacks_set_on_stream_close_callback(cbs, u_stream_close);
        h2_up_cbs = cbs;
    }
    return cbs;
}

static h2_up *up_new(hp_h2 *h, h2_route *r, fault_conn *c, bool targeted)
{
    h2_up *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->h = h;
    u->route = r;
    u->c = c;
    if (nghttp2_session_client_new3(&u->ng, up_callbacks(), u, h2_session_options(),
                                    &h2_session_mem) != 0) {
        free(u);
        return NULL;
    }
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                   {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_STREAM_WINDOW},
                                   {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, H2_HPACK_TABLE},
                                   {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, H2_MAX_HEADER_LIST}};
    nghttp2_submit_settings(u->ng, NGHTTP2_FLAG_NONE, iv, 4);
    nghttp2_session_set_local_window_size(u->ng, NGHTTP2_FLAG_NONE, 0, H2_CONN_WINDOW);
    if (targeted) {
        u->se = fault_chain_new(h->s, FAULT_DIR_EGRESS, FAULT_SIDE_SERVER, &u_se_ops, u);
        u->si = fault_chain_new(h->s, FAULT_DIR_INGRESS, FAULT_SIDE_SERVER, &u_si_ops, u);
    }
    u->next = h->ups;
    h->ups = u;
    fault_conn_read_start(c, h2_u_on_read, u);
    return u;
}

static void h2up_submit(h2_strm *q, h2_up *u)
{
    hp_h2 *h = q->h;
    q->up_kind = UP_H2;
    q->deadline_kind = DL_NONE;
    q->deadline_us = 0;
    nvb *bp = h2_nvb_get(h);
    if (!bp) {
        strm_fail(q, -ENOMEM);
        return;
    }
    const char *host = fault_http_header(q->x, FAULT_HTTP_REQUEST, "host");
    h2_nvb_add(bp, ":method", fault_http_method(q->x));
    h2_nvb_add(bp, ":scheme", "https");
    h2_nvb_add(bp, ":authority", host ? host : q->target);
    h2_nvb_add(bp, ":path", fault_http_path(q->x));
    /* A body held for the hooks may have been replaced, one watched by
     * on_body hooks may change length: the client's length no longer
     * holds (a held body's own length is sent instead). */
    size_t held_len = 0;
    bool held = fault_http_body(q->x, FAULT_HTTP_REQUEST, &held_len) != NULL;
    bool drop_cl = held || fault_http_is_body_watched(q->x, FAULT_DIR_EGRESS);
    size_t n = fault_http_header_count(q->x, FAULT_HTTP_REQUEST);
    for (size_t i = 0; i < n; i++) {
        const char *name, *value;
        fault_http_header_at(q->x, FAULT_HTTP_REQUEST, i, &name, &value);
        if (h2_banned(name) || name[0] == ':' ||
            (strcasecmp(name, "te") == 0 && strcasecmp(value, "trailers") != 0) ||
            (drop_cl && strcasecmp(name, "content-length") == 0))
            continue;
        h2_nvb_add(bp, name, value);
    }
    char clen[24];
    if (held && !fault_http_is_body_watched(q->x, FAULT_DIR_EGRESS)) {
        snprintf(clen, sizeof clen, "%zu", held_len);
        h2_nvb_add(bp, "content-length", clen);
    }
    bool body = !(q->req_eof && q->reqbody.len == 0);
    nghttp2_data_provider prd = {.source.ptr = q, .read_callback = req_read};
    int32_t id = nghttp2_submit_request(u->ng, NULL, h2_nvb_done(bp), bp->n, body ? &prd : NULL, q);
    if (id < 0) {
        strm_fail(q, UV_EPROTO);
        return;
    }
    q->u = u;
    q->uid = id;
    u->nstreams++;
    if (!body) {
        q->req_end_sent = true;
        if (h->st->upstream_timeout_us) {
            q->deadline_kind = DL_RESPONSE;
            q->deadline_us = fault_now_us() + h->st->upstream_timeout_us;
        }
    }
    h->dirty = true;
}

/* ---- routes: which protocol an https:// upstream speaks ---- */

static h2_route *route_find(hp_h2 *h, const char *key)
{
    for (h2_route *r = h->routes; r; r = r->next)
        if (strcmp(r->key, key) == 0)
            return r;
    return NULL;
}

static void on_route_ready(hp_up_user *user, hp_up *up, int status)
{
    h2_route *r = (h2_route *)((char *)user - offsetof(h2_route, upu));
    hp_h2 *h = NULL;
    /* The route's waiting streams know the session. */
    h2_strm *w = r->waiting;
    r->creq = NULL;
    if (!w) {
        if (up)
            hp_up_close(up, false);
        r->state = RT_NONE;
        return;
    }
    h = w->h;
    h2_enter(h);
    r->waiting = NULL;
    if (status < 0) {
        r->state = RT_NONE;
        for (h2_strm *q = w, *nx; q; q = nx) {
            nx = q->wnext;
            q->wnext = NULL;
            q->up_kind = UP_NONE;
            strm_fail(q, status);
        }
        h2_leave(h);
        return;
    }
    const char *alpn = fault_conn_alpn(up->c);
    if (alpn && strcmp(alpn, "h2") == 0) {
        fault_conn *c = up->c;
        free(up);
        /* Any waiting stream's targeting applies: they share the key. */
        h2_up *u = up_new(h, r, c, w->targeted);
        if (!u) {
            fault_conn_close(c);
            r->state = RT_NONE;
            for (h2_strm *q = w, *nx; q; q = nx) {
                nx = q->wnext;
                q->wnext = NULL;
                strm_fail(q, -ENOMEM);
            }
            h2_leave(h);
            return;
        }
        r->state = RT_H2;
        r->u = u;
        fault_log_debug(h->st->self, "upstream %s speaks HTTP/2", r->key);
        for (h2_strm *q = w, *nx; q; q = nx) {
            nx = q->wnext;
            q->wnext = NULL;
            if (!q->gone)
                h2up_submit(q, u);
        }
    } else {
        r->state = RT_H1;
        /* The first stream takes this connection; the others the pool or
         * their own. */
        bool used = false;
        for (h2_strm *q = w, *nx; q; q = nx) {
            nx = q->wnext;
            q->wnext = NULL;
            if (q->gone)
                continue;
            if (!used) {
                used = true;
                h2_h1_bind(q, up);
            } else {
                h2_h1_start(q);
            }
        }
        if (!used)
            hp_up_release(up, true);
    }
    h2_leave(h);
}

void strm_dispatch(h2_strm *q)
{
    hp_h2 *h = q->h;
    if (q->gone || h->dead)
        return;
    if (!q->tls) {
        h2_h1_start(q);
        return;
    }
    h2_route *r = route_find(h, q->key);
    if (r && r->state == RT_H2 && r->u && !r->u->dead && !r->u->goaway) {
        h2up_submit(q, r->u);
        return;
    }
    if (r && r->state == RT_H1) {
        h2_h1_start(q);
        return;
    }
    if (r && r->state == RT_CONNECTING) {
        q->up_kind = UP_WAIT;
        q->wnext = r->waiting;
        r->waiting = q;
        if (h->st->upstream_timeout_us) {
            q->deadline_kind = DL_CONNECT;
            q->deadline_us = fault_now_us() + h->st->upstream_timeout_us;
        }
        return;
    }
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r) {
            strm_fail(q, -ENOMEM);
            return;
        }
        snprintf(r->key, sizeof r->key, "%s", q->key);
        r->next = h->routes;
        h->routes = r;
    }
    int err = 0;
    r->state = RT_CONNECTING;
    r->u = NULL;
    q->up_kind = UP_WAIT;
    q->wnext = NULL;
    r->waiting = q;
    static const hp_up_user_ops route_user = {.on_ready = on_route_ready};
    r->upu.ops = &route_user;
    r->creq = hp_connect(h->st, &r->upu, q->targeted ? h->s : NULL, q->host, q->port, true,
                         ALPN_H2_H1, &err);
    if (!r->creq) {
        r->waiting = NULL;
        r->state = RT_NONE;
        strm_fail(q, err);
        return;
    }
    if (h->st->upstream_timeout_us) {
        q->deadline_kind = DL_CONNECT;
        q->deadline_us = fault_now_us() + h->st->upstream_timeout_us;
    }
}

/* Lets go of whatever the stream holds upstream. */
void strm_release_upstream(h2_strm *q, bool reset)
{
    hp_h2 *h = q->h;
    hp_h1up_drop(&q->h1, reset);
    if (q->u && q->uid > 0) {
        h2_up *u = q->u;
        if (!u->dead) {
            nghttp2_session_set_stream_user_data(u->ng, q->uid, NULL);
            if (q->up_unconsumed)
                nghttp2_session_consume_connection(u->ng, q->up_unconsumed);
            if (reset)
                nghttp2_submit_rst_stream(u->ng, NGHTTP2_FLAG_NONE, q->uid, NGHTTP2_CANCEL);
        }
        q->u = NULL;
        q->uid = 0;
        q->up_unconsumed = 0;
    }
    if (q->up_kind == UP_WAIT) {
        /* Out of its route's waiting list. */
        for (h2_route *r = h->routes; r; r = r->next) {
            for (h2_strm **pp = &r->waiting; *pp; pp = &(*pp)->wnext) {
                if (*pp == q) {
                    *pp = q->wnext;
                    break;
                }
            }
        }
        q->wnext = NULL;
    }
    if (q->unconsumed && !h->dead) {
        nghttp2_session_consume_connection(h->ng, q->unconsumed);
        q->unconsumed = 0;
    }
    q->deadline_kind = DL_NONE;
    q->deadline_us = 0;
    q->up_kind = UP_NONE;
}

/* ---- bridges: HTTP/2 upstreams for HTTP/1 sessions ----
 *
 * An HTTP/1 session whose https:// upstream chose h2 by ALPN keeps one
 * bridge: an hp_h2 without a client session, whose routes and upstream
 * connections are the ones above, and whose streams are the session's
 * exchanges, one at a time. The session already ran the request hooks and
 * will run the response hooks: a stream is submitted from the exchange's
 * request (Host becomes :authority, hop-by-hop headers stay out), takes
 * the request body as the session's parser decodes it, and hands the
 * response back as HTTP/1.1 bytes (a head, then the body with a
 * Content-Length or chunked) for the session's response parser, no faster
 * than the session passes them on to its client (hp_sess_h2_room()):
 * response DATA is consumed, and the upstream's window opened, only then.
 * Stream faults apply to the upstream connection's bytes (SERVER chains
 * of the session's stream), as for HTTP/2 clients. The session is never
 * called from inside its own calls here: what it must hear waits for the
 * next event, or for a zero timer (kick). */

static void br_enter(hp_h2 *h)
{
    h->from_sess++;
    h2_enter(h);
}

static void br_leave(hp_h2 *h)
{
    h2_leave(h);
    h->from_sess--;
}

/* The upstream's final head, as HTTP/1.1 for the session's parser. */
static void br_head(h2_strm *q)
{
    hp_buf *b = &q->b_head;
    q->resp_head_known = true;
    q->resp_byte = true;
    q->head_sent = true;
    q->no_body = q->is_head || q->status == 204 || q->status == 304;
    hp_buf_add(b, "HTTP/1.1 ", 9);
    hp_buf_u64(b, (uint64_t)q->status);
    hp_buf_add(b, " ", 1);
    hp_buf_str(b, hp_reason(q->status));
    hp_buf_add(b, "\r\n", 2);
    size_t off = 0;
    const char *name, *value;
    while (h2_pairs_next(&q->rhdrs, &off, &name, &value)) {
        if (h2_banned(name))
            continue;
        if (strcmp(name, "content-length") == 0) {
            char *end;
            unsigned long long v = strtoull(value, &end, 10);
            if (!*value || *end)
                continue;
            q->b_cl = true;
            q->b_clen = v;
        }
        hp_buf_header(b, name, value);
    }
    if (!q->b_cl && !q->no_body) {
        q->b_chunked = true;
        hp_buf_str(b, "Transfer-Encoding: chunked\r\n");
    }
    hp_buf_str(b, "\r\n");
    hp_buf_free(&q->rhdrs);
    q->h->dirty = true;
}

/* Hands the session what it can take of the response, or the failure. */
void h2_br_deliver(h2_strm *q)
{
    hp_h2 *h = q->h;
    if (q->gone || !q->sess)
        return;
    if (h->from_sess) {
        h->kick = true;
        return;
    }
    struct hp_sess *sess = q->sess;
    hp_buf *b = &h->scratch;
    while (!q->gone && !h->dead) {
        if (q->b_err) {
            int err = q->b_err;
            q->b_err = 0;
            hp_sess_h2_fail(sess, err); /* the session lets the stream go */
            return;
        }
        size_t room = hp_sess_h2_room(sess);
        if (!room)
            break;
        b->len = 0;
        if (q->b_head.len) {
            hp_buf_add(b, q->b_head.p, q->b_head.len);
            hp_buf_free(&q->b_head);
        } else if (q->head_sent && q->respbody.len && !q->no_body) {
            size_t n = q->respbody.len < room ? q->respbody.len : room;
            const uint8_t *p = hp_fifo_data(&q->respbody);
            if (q->b_chunked) {
                hp_buf_hex(b, n);
                hp_buf_add(b, "\r\n", 2);
            }
            hp_buf_add(b, p, n);
            if (q->b_chunked)
                hp_buf_add(b, "\r\n", 2);
            hp_fifo_take(&q->respbody, n, H2_FIFO_KEEP);
            q->b_sent += n;
            if (q->u && !q->u->dead && q->uid > 0) {
                size_t c = n < q->up_unconsumed ? n : q->up_unconsumed;
                nghttp2_session_consume(q->u->ng, q->uid, c);
                q->up_unconsumed -= c;
            }
            h->dirty = true;
        } else if (q->head_sent && q->resp_eof && !q->resp_end_sent &&
                   (q->respbody.len == 0 || q->no_body)) {
            q->resp_end_sent = true;
            if (q->b_cl && !q->no_body && q->b_sent != q->b_clen) {
                fault_log_info(h->st->self, "%s: %s sent %" PRIu64 " body bytes of %" PRIu64,
                               h->peer, q->target, q->b_sent, q->b_clen);
                q->b_err = UV_EPROTO;
                continue;
            }
            if (q->b_chunked)
                hp_buf_add(b, "0\r\n\r\n", 5);
            else
                continue; /* the parser saw the end already */
        } else {
            break;
        }
        if (b->len)
            hp_sess_h2_data(sess, b->p, b->len);
    }
    if (!q->gone && !h->dead && !q->req_end_sent)
        hp_sess_h2_flow(sess); /* request bytes moved on */
}

hp_h2 *hp_h2b_new(hp_front *fr, fault_stream *s)
{
    hp_h2 *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->st = fr->st;
    h->fr = fr;
    fr->refs++;
    h->s = s;
    h->refs = 1;
    h->bridged = true;
    snprintf(h->peer, sizeof h->peer, "%s", fault_stream_peer(s));
    uv_timer_init(h->st->loop, &h->timer);
    h->timer.data = h;
    return h;
}

void hp_h2b_free(hp_h2 *h)
{
    if (!h)
        return;
    br_enter(h);
    h2_teardown(h, false, 0);
    br_leave(h);
}

bool hp_h2b_ready(hp_h2 *h, const char *key)
{
    h2_route *r = h->dead ? NULL : route_find(h, key);
    return r && r->state == RT_H2 && r->u && !r->u->dead && !r->u->goaway;
}

int hp_h2b_adopt(hp_h2 *h, const char *key, hp_up *up, bool targeted)
{
    fault_conn *c = up->c;
    free(up);
    if (h->dead) {
        fault_conn_close(c);
        return FAULT_ECANCELED;
    }
    br_enter(h);
    int rc = 0;
    h2_route *r = route_find(h, key);
    if (!r) {
        r = calloc(1, sizeof *r);
        if (r) {
            snprintf(r->key, sizeof r->key, "%s", key);
            r->next = h->routes;
            h->routes = r;
        }
    }
    h2_up *u = r ? up_new(h, r, c, targeted) : NULL;
    if (!u) {
        fault_conn_close(c);
        rc = -ENOMEM;
    } else {
        r->state = RT_H2;
        r->u = u;
        fault_log_debug(h->st->self, "%s: upstream %s speaks HTTP/2", h->peer, key);
    }
    br_leave(h);
    return rc;
}

h2_strm *hp_h2b_submit(hp_h2 *h, struct hp_sess *sess, fault_http_exchange *x, const char *key,
                       const char *host, uint16_t port, bool targeted, bool body, bool is_head,
                       bool expect)
{
    h2_route *r = h->dead ? NULL : route_find(h, key);
    if (!r || r->state != RT_H2 || !r->u || r->u->dead || r->u->goaway)
        return NULL;
    h2_strm *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->h = h;
    q->sess = sess;
    q->x = x;
    hp_copy(q->host, sizeof q->host, host);
    q->port = port;
    q->tls = true;
    q->targeted = targeted;
    q->is_head = is_head;
    q->head_done = true;
    q->req_eof = !body;
    hp_authority(q->target, sizeof q->target, host, port, true, false);
    hp_copy(q->key, sizeof q->key, key);
    /* The client waits for a go-ahead: the upstream's own 100 stays on
     * the HTTP/2 leg, ours goes first. */
    if (expect && body)
        hp_buf_str(&q->b_head, "HTTP/1.1 100 Continue\r\n\r\n");
    q->next = h->streams;
    h->streams = q;
    br_enter(h);
    h2up_submit(q, r->u);
    q->x = NULL; /* the session's: not used past the head */
    if (!q->u) {
        q->gone = true;
        q->sess = NULL;
        q = NULL;
    }
    br_leave(h);
    return q;
}

void hp_h2b_body(h2_strm *q, const uint8_t *p, size_t n)
{
    hp_h2 *h = q->h;
    /* Once the upstream's stream is over, the rest is dropped. */
    if (q->gone || h->dead || q->req_eof || !q->u || !n)
        return;
    br_enter(h);
    if (hp_fifo_add(&q->reqbody, p, n) < 0)
        strm_fail(q, -ENOMEM);
    h->dirty = true;
    br_leave(h);
}

void hp_h2b_end(h2_strm *q)
{
    hp_h2 *h = q->h;
    if (q->gone || h->dead || q->req_eof)
        return;
    br_enter(h);
    q->req_eof = true;
    h->dirty = true;
    br_leave(h);
}

size_t hp_h2b_pending(const h2_strm *q)
{
    size_t n = q->reqbody.len;
    if (q->u && !q->u->dead && q->u->c)
        n += fault_conn_write_queued(q->u->c) + (q->u->se ? fault_chain_pending(q->u->se) : 0);
    return n;
}

void hp_h2b_release(h2_strm *q)
{
    hp_h2 *h = q->h;
    br_enter(h);
    if (!q->gone) {
        /* Both ways complete: nothing to cancel. */
        if (!h->dead)
            strm_release_upstream(q, !(q->resp_eof && q->req_end_sent));
        q->sess = NULL;
        q->x = NULL;
        q->gone = true;
    }
    br_leave(h);
}

void hp_h2b_kick(h2_strm *q)
{
    hp_h2 *h = q->h;
    if (q->gone || h->dead || h->kick)
        return;
    if (!q->b_head.len && !q->respbody.len && !q->b_err && !(q->resp_eof && !q->resp_end_sent))
        return;
    h->kick = true;
    uv_timer_start(&h->timer, h2_on_timer, 0, 0);
}
