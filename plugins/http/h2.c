/*
 * plugins/http/h2.c - HTTP/2 toward clients (h2c with prior knowledge, or
 * h2 chosen by ALPN on a TLS listener or an intercepted tunnel), with
 * nghttp2's session API: bytes read from the client are fed to
 * nghttp2_session_mem_recv(), frames it wants to send come out of
 * nghttp2_session_mem_send(); nghttp2 never touches a socket.
 *
 * The HTTP/2 code is in four files that share h2int.h:
 *   h2.c           the client connection: references, the client leg and
 *                  its chains, the client session's nghttp2 callbacks, the
 *                  pumps, deadlines, start and teardown
 *   h2_exchange.c  one client stream's exchange: answers made here, bodies
 *                  for the hooks, the request head and its hooks, the
 *                  response head from either kind of upstream
 *   h2_h1up.c      the HTTP/1.1 upstream of a stream (CONNECT streams,
 *                  which use it without HTTP, are in tunnel.c)
 *   h2up.c         HTTP/2 upstream connections, the routes that tell which
 *                  protocol an https:// upstream speaks, and the bridges
 *                  that lend them to HTTP/1 sessions
 *
 * Each HTTP/2 stream is its own exchange: the request hooks run when its
 * HEADERS are complete, the response hooks when the upstream's head is
 * known, so HTTP-level faults apply per stream (one stream may get the
 * fault's answer while its neighbours reach the upstream).
 *
 * The upstream leg of a stream:
 *   - http:// upstreams: HTTP/1.1, one exchange per connection at a time,
 *     taken from and given back to the plugin's keep-alive pool (the same
 *     pool the HTTP/1 sessions use); the request is translated (Host from
 *     :authority, a body without content-length is sent chunked) and so is
 *     the response (hop-by-hop headers dropped, chunked decoded);
 *   - https:// upstreams: the first stream for a host connects offering
 *     ALPN "h2, http/1.1". If the upstream picks h2, that connection
 *     carries every stream of this client connection for that host,
 *     multiplexed, in HTTP/2 (trailers included, as gRPC needs); if it
 *     picks HTTP/1.1 (or nothing), streams use HTTP/1.1 as above. The
 *     answer is remembered for the life of the client connection.
 *   An upstream HTTP/2 connection belongs to one client connection, so its
 *   bytes are that connection's SERVER leg for stream faults.
 *   The same upstream code serves HTTP/1.1 clients too: an HTTP/1 session
 *   (session.c) whose https:// upstream picks h2 hands the connection to a
 *   bridge, an hp_h2 without a client session whose streams are the
 *   session's exchanges (see "bridges" in h2up.c).
 *
 * Flow control (backpressure end to end): nghttp2's automatic WINDOW_UPDATE
 * is off on both sides. A DATA byte from the client is "consumed" (its
 * window credit returned) only once it went on toward the upstream: handed
 * to an HTTP/1.1 upstream whose path is not congested, or taken by the
 * upstream HTTP/2 session for a DATA frame. A response byte from an
 * HTTP/2 upstream is consumed only once the client's session took it for
 * a DATA frame; an HTTP/1.1 upstream is no longer read while a stream's
 * response buffer holds more than HP_HIGH_WATER. Frames for the client
 * are produced only while the client socket's queue (and its CLIENT/
 * INGRESS chain) hold less than HP_HIGH_WATER, so a slow client fills the
 * stream buffers, which stop the upstreams.
 *
 * Stream faults: the client connection's bytes (frames, as on the wire)
 * go through its CLIENT chains when every request on the connection is
 * targeted (a reverse mapping, an intercepted tunnel, or no --upstream
 * selection); the bytes of each upstream connection of a targeted stream
 * go through SERVER chains. On a forward-proxy h2c connection with an
 * --upstream selection, the client leg is not faulted (its frames mix
 * targeted and untargeted streams), the upstream legs and hooks are.
 *
 * Failures: before a stream's response head went out, the client gets
 * 502/504 with a short text body (as on HTTP/1); after it, the stream is
 * reset (RST_STREAM INTERNAL_ERROR, or CANCEL when the upstream cancelled).
 * A stream the client resets is abandoned: its exchange ends (on_end),
 * its upstream HTTP/1.1 connection is closed, its upstream HTTP/2 stream
 * reset with CANCEL.
 *
 * Bodies for the hooks (SDK 1.2), per client stream, whatever the
 * upstream: when a plugin wants whole bodies (fault_http_want_body), a
 * request's DATA up to END_STREAM (a response's body up to its end) is
 * read before that message's hooks run, its window credit returned as it
 * comes (bounded by the limit, so a held body larger than the stream
 * window still comes in), and sent on as fault_http_body() with its own
 * content-length; a body past the limit is not held (the hooks run
 * without it, what was read goes first, the rest streams). Bodies watched
 * by on_body hooks (fault_http_watch_body) go through body chains and on
 * without a content-length (see "bodies for the hooks" in h2_exchange.c). Method and
 * path go upstream as the request hooks left them (fault_http_method/
 * _path) on both kinds of upstream.
 *
 * CONNECT (forward proxy only; answered 405 on mappings): the stream is a
 * TCP tunnel to its :authority, see "CONNECT" in tunnel.c.
 *
 * Lifetimes: everything runs on the loop; entry points (socket reads and
 * write completions, timers, hook completions, chains) bracket their work
 * with h2_enter()/h2_leave(). Streams closed during an event are freed, and
 * nghttp2 sessions deleted, only when the outermost h2_leave() runs, never
 * from inside an nghttp2 callback; h2_leave() also runs the pumps (request
 * bodies upstream, response bodies to the client, sending frames, read
 * pauses) so each event only needs to change state.
 *
 * The pumps run once per loop iteration, not after each event: the
 * outermost h2_leave() queues the connection (due.c), and a prepare handle (run
 * before the loop polls again) pumps every queued one. The responses of
 * all the streams whose upstreams answered in one iteration then leave in
 * one write to the client, as they would from a server that batches its
 * frames. Nothing waits: the loop never blocks while a connection is
 * queued.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "h2int.h"

static void arm_deadlines(hp_h2 *h);
static void strm_free(h2_strm *q);
static void h2_pump(hp_h2 *h);
static void client_out(hp_h2 *h, const uint8_t *p, size_t n);

/* ---- references and events ---- */

static void h2_freed(uv_handle_t *t)
{
    hp_h2 *h = t->data;
    while (h->streams) {
        h2_strm *q = h->streams;
        h->streams = q->next;
        strm_free(q);
    }
    while (h->ups) {
        h2_up *u = h->ups;
        h->ups = u->next;
        nghttp2_session_del(u->ng);
        hp_buf_free(&u->out);
        free(u);
    }
    nghttp2_session_del(h->ng);
    hp_buf_free(&h->out);
    hp_buf_free(&h->scratch);
    if (h->nv) {
        h2_nvb_free(h->nv);
        free(h->nv);
    }
    hp_front_release(h->fr);
    free(h);
}

static void strm_free(h2_strm *q)
{
    free(q->method);
    free(q->scheme);
    free(q->authority);
    free(q->path);
    hp_buf_free(&q->hdrs);
    hp_buf_free(&q->rhdrs);
    hp_buf_free(&q->trailers);
    hp_buf_free(&q->b_head);
    hp_fifo_free(&q->reqbody);
    hp_fifo_free(&q->respbody);
    hp_fifo_free(&q->qin);
    hp_fifo_free(&q->rin);
    hp_fifo_free(&q->rpin);
    fault_chain_free(q->qbc);
    fault_chain_free(q->rbc);
    if (q->rp_init)
        hp_parser_free(&q->rp);
    free(q);
}

/* Frees what closed during the event (never inside nghttp2's callbacks:
 * only from the outermost h2_leave()). */
static void sweep(hp_h2 *h)
{
    for (h2_strm **pp = &h->streams; *pp;) {
        h2_strm *q = *pp;
        if (q->gone) {
            *pp = q->next;
            strm_free(q);
        } else {
            pp = &q->next;
        }
    }
    for (h2_up **pp = &h->ups; *pp;) {
        h2_up *u = *pp;
        if (u->dead) {
            *pp = u->next;
            nghttp2_session_del(u->ng);
            hp_buf_free(&u->out);
            free(u);
        } else {
            pp = &u->next;
        }
    }
}

/* The pumps, then what they may have left: closed streams, deadlines. */
static void pump_sweep(hp_h2 *h)
{
    /* Not from inside the pump (a bridge's session calls back from
     * there): the pump in progress sweeps when it is done. */
    if (h->in_pump)
        return;
    h2_pump(h);
    if (!h->dead) {
        sweep(h);
        arm_deadlines(h);
    }
}

static void unref(hp_h2 *h)
{
    if (--h->refs == 0)
        uv_close((uv_handle_t *)&h->timer, h2_freed);
}

/* The pumps of a connection queued during this loop iteration (due.c). */
static bool run_due(hp_due *d)
{
    hp_h2 *h = (hp_h2 *)(void *)((char *)d - offsetof(hp_h2, due));
    if (!h->dead) {
        /* As inside an event: what the pumps cause queues nothing (the
         * pumps themselves go round while there is work). */
        h->depth++;
        pump_sweep(h);
        h->depth--;
    }
    /* The pumps stopped after their last round with work left (a client
     * socket that takes all we give): they go on at the next iteration,
     * after the other connections had their turn. The connection stays
     * queued, with its reference. */
    if (!h->dead && h->dirty)
        return true;
    h->due.queued = false;
    unref(h); /* the queue's reference */
    return false;
}

/* The pumps of h are due: at the end of this loop iteration, or now when
 * the plugin is stopping (the loop may not go round again). */
static void pump_soon(hp_h2 *h)
{
    hp_state *st = h->st;
    if (h->due.queued)
        return;
    if (st->stopping) {
        pump_sweep(h);
        return;
    }
    h->due.run = run_due;
    h->refs++;
    hp_due_add(st, &h->due);
}

void h2_leave(hp_h2 *h)
{
    if (--h->depth == 0 && !h->dead)
        pump_soon(h);
    unref(h);
}

/* ---- events ---- */

void h2_publish(h2_strm *q, fault_event_type type, int status)
{
    /* A response to a request refused before it had an exchange (431 on
     * an oversized header list, 400) is published too, without method and
     * URL, as the HTTP/1 side does. */
    if (!fault_event_wanted(type) || (!q->x && type != FAULT_EV_HTTP_RESPONSE))
        return;
    fault_event ev = {.type = type, .size = sizeof ev};
    ev.conn_id = q->h->s ? fault_stream_id(q->h->s) : 0;
    ev.peer = q->h->peer;
    ev.target = q->target;
    ev.method = q->x ? fault_http_method(q->x) : NULL;
    ev.url = q->x ? fault_http_url(q->x) : NULL;
    ev.status = status;
    fault_event_publish(q->h->st->self, &ev);
}

/* ---- the client leg ---- */

void h2_on_client_written(fault_conn *c, int status, void *ud)
{
    hp_h2 *h = ud;
    (void)c;
    h2_enter(h);
    if (!h->dead && status < 0 && status != UV_ECANCELED) {
        if (h->bridged) {
            /* Some upstream connection failed: the ones that did fail
             * their streams; the bridge itself is its session's. */
            for (h2_up *u = h->ups; u; u = u->next)
                if (!u->dead && u->c == c)
                    h2_up_fail(u, status);
        } else {
            h2_teardown(h, true, status);
        }
    }
    h2_leave(h);
    h->refs--; /* the write's own reference (see client_write) */
    if (h->refs == 0)
        uv_close((uv_handle_t *)&h->timer, h2_freed);
}

static void client_write(hp_h2 *h, const uint8_t *p, size_t n)
{
    if (h->dead || !h->c || !n)
        return;
    h->bytes_in += n;
    if (fault_conn_write_queued(h->c) == 0) {
        long w = fault_conn_try_write(h->c, p, n);
        if (w < 0) {
            h2_teardown(h, true, (int)w);
            return;
        }
        p += w;
        n -= (size_t)w;
        if (!n)
            return;
    }
    h->refs++;
    if (fault_conn_write(h->c, p, n, h2_on_client_written, h) < 0) {
        h->refs--;
        h2_teardown(h, true, -EIO);
    }
}

static void client_out(hp_h2 *h, const uint8_t *p, size_t n)
{
    if (h2_staged(h->cin))
        fault_chain_push(h->cin, p, n);
    else
        client_write(h, p, n);
}

static void feed(hp_h2 *h, const uint8_t *p, size_t n)
{
    if (h->dead)
        return;
    ssize_t rv = nghttp2_session_mem_recv(h->ng, p, n);
    if (rv < 0) {
        fault_log_debug(h->st->self, "%s: HTTP/2: %s", h->peer, nghttp2_strerror((int)rv));
        /* nghttp2 queued a GOAWAY when it could: send it, then close. */
        h->dirty = true;
        nghttp2_session_terminate_session(h->ng, NGHTTP2_PROTOCOL_ERROR);
    }
}

static void ceg_output(void *ud, const uint8_t *data, size_t len)
{
    hp_h2 *h = ud;
    h2_enter(h);
    feed(h, data, len);
    h2_leave(h);
}

static void ceg_eof(void *ud)
{
    hp_h2 *h = ud;
    h2_enter(h);
    h2_teardown(h, false, 0);
    h2_leave(h);
}

static void chain_progress(void *ud)
{
    hp_h2 *h = ud;
    h2_enter(h);
    h2_leave(h);
}

static void cin_output(void *ud, const uint8_t *data, size_t len)
{
    hp_h2 *h = ud;
    h2_enter(h);
    client_write(h, data, len);
    h2_leave(h);
}

static void cin_eof(void *ud)
{
    hp_h2 *h = ud;
    h2_enter(h);
    if (!h->dead)
        fault_conn_shutdown(h->c);
    h2_leave(h);
}

static const fault_chain_ops ceg_ops = {
    .output = ceg_output, .eof = ceg_eof, .progress = chain_progress};
static const fault_chain_ops cin_ops = {
    .output = cin_output, .eof = cin_eof, .progress = chain_progress};

static void on_client_read(fault_conn *c, long nread, const uint8_t *data, void *ud)
{
    hp_h2 *h = ud;
    (void)c;
    if (h->dead)
        return;
    h2_enter(h);
    if (nread < 0) {
        if (nread == UV_EOF && h->ceg) {
            fault_conn_read_stop(h->c);
            fault_chain_eof(h->ceg);
        } else {
            h2_teardown(h, nread != UV_EOF, nread == UV_EOF ? 0 : (int)nread);
        }
    } else {
        h->bytes_eg += (uint64_t)nread;
        if (h2_staged(h->ceg))
            fault_chain_push(h->ceg, data, (size_t)nread);
        else
            feed(h, data, (size_t)nread);
    }
    h2_leave(h);
}

/* ---- the client session: nghttp2 callbacks ---- */

static h2_strm *strm_of(nghttp2_session *ng, int32_t id)
{
    return nghttp2_session_get_stream_user_data(ng, id);
}

static int cb_begin_headers(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    hp_h2 *h = ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    h2_strm *q = calloc(1, sizeof *q);
    if (!q)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    q->h = h;
    q->id = f->hd.stream_id;
    q->next = h->streams;
    h->streams = q;
    nghttp2_session_set_stream_user_data(ng, q->id, q);
    /* --http-header-timeout: the request's header block must be complete
     * in time (a block trickled in stalls the whole connection: nothing
     * else may come between its frames). */
    if (h->st->header_timeout_us) {
        q->deadline_kind = DL_HEAD;
        q->deadline_us = fault_now_us() + h->st->header_timeout_us;
    }
    return 0;
}

static char *dup_n(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

/* A request header list over H2_MAX_HEADER_LIST: the stream is answered
 * 431 (as an HTTP/1 head too large is) and the rest of its fields are
 * ignored; past four times the bound (a block that refers to its HPACK
 * table over and over, not a large cookie), the stream is reset instead,
 * and nghttp2 decodes the rest of the block (its HPACK state needs it)
 * without calling back: the work stops there. */
static int strm_too_big(h2_strm *q)
{
    if (!q->head_done && !q->head_sent) {
        fault_log_warn(q->h->st->self, "%s: stream %d: request header list over %d bytes: 431",
                       q->h->peer, q->id, H2_MAX_HEADER_LIST);
        q->head_done = true;
        strm_answer(q, 431, "request header fields too large", false);
    }
    if (q->hdr_bytes > 4 * (size_t)H2_MAX_HEADER_LIST)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    return 0;
}

static int cb_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                     const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
    (void)flags;
    (void)ud;
    h2_strm *q = strm_of(ng, f->hd.stream_id);
    if (!q || q->gone)
        return 0;
    q->hdr_bytes += nl + vl + 32;
    if (q->hdr_bytes > H2_MAX_HEADER_LIST)
        return strm_too_big(q);
    if (q->head_done || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0; /* request trailers: not forwarded */
    char **slot = NULL;
    if (nl && name[0] == ':') {
        if (nl == 7 && memcmp(name, ":method", 7) == 0)
            slot = &q->method;
        else if (nl == 7 && memcmp(name, ":scheme", 7) == 0)
            slot = &q->scheme;
        else if (nl == 10 && memcmp(name, ":authority", 10) == 0)
            slot = &q->authority;
        else if (nl == 5 && memcmp(name, ":path", 5) == 0)
            slot = &q->path;
        if (slot) {
            free(*slot);
            *slot = dup_n(value, vl);
        }
        return 0;
    }
    if (h2_pairs_add(&q->hdrs, &q->nhdrs, (const char *)name, nl, (const char *)value, vl) < 0)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    return 0;
}

static int cb_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    (void)ud;
    h2_strm *q = strm_of(ng, f->hd.stream_id);
    if (!q || q->gone)
        return 0;
    if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST && !q->head_done) {
        q->head_done = true;
        if (q->deadline_kind == DL_HEAD) {
            q->deadline_kind = DL_NONE;
            q->deadline_us = 0;
        }
        if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
            q->req_eof = q->cli_eof = true;
        strm_head(q);
        return 0;
    }
    if ((f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS) &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        strm_req_eof(q);
    return 0;
}

static int cb_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *ud)
{
    hp_h2 *h = ud;
    (void)flags;
    h2_strm *q = strm_of(ng, id);
    if (!q || q->gone || q->discard) {
        nghttp2_session_consume(ng, id, len);
        return 0;
    }
    if (q->hold_req) {
        /* Held for the hooks: the window opens as it comes, up to the
         * limit, so that a body that large can come in at all. */
        if (hp_fifo_add(&q->reqbody, data, len) < 0)
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        size_t over = q->reqbody.len > q->hold_qmax ? q->reqbody.len - q->hold_qmax : 0;
        if (over > len)
            over = len;
        if (len > over)
            nghttp2_session_consume(ng, id, len - over);
        q->unconsumed += over;
        h->dirty = true;
        if (over)
            h2_req_body_full(q);
        return 0;
    }
    /* Watched by on_body hooks: into their chain (from the pump). */
    if (hp_fifo_add(q->qbc ? &q->qin : &q->reqbody, data, len) < 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    q->unconsumed += len;
    h->dirty = true;
    return 0;
}

static int cb_stream_close(nghttp2_session *ng, int32_t id, uint32_t error, void *ud)
{
    (void)ud;
    h2_strm *q = strm_of(ng, id);
    if (!q || q->gone)
        return 0;
    if (error != NGHTTP2_NO_ERROR || !q->resp_end_sent)
        fault_log_debug(q->h->st->self, "%s: stream %d closed early (%s)", q->h->peer, id,
                        nghttp2_http2_strerror(error));
    nghttp2_session_set_stream_user_data(ng, id, NULL);
    /* A reset before the response ended: the upstream part is dropped. */
    strm_release_upstream(q, !(q->resp_end_sent && q->req_end_sent));
    strm_bodies_free(q);
    if (q->x) {
        fault_http_exchange_free(q->x);
        q->x = NULL;
    }
    q->gone = true;
    return 0;
}

static int cb_frame_send(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    (void)ud;
    h2_strm *q = strm_of(ng, f->hd.stream_id);
    if (!q || q->gone)
        return 0;
    if ((f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS) &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        q->resp_end_sent = true;
        /* Answered before the request ended: the rest of it is not
         * wanted (RFC 9113 8.1: RST_STREAM NO_ERROR). */
        if (!q->cli_eof && !q->rst_sent && !q->tunnel) {
            q->rst_sent = true;
            nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, q->id, NGHTTP2_NO_ERROR);
        }
    }
    return 0;
}

/* The response body for the client, as nghttp2 asks for it. */
ssize_t h2_resp_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                     nghttp2_data_source *src, void *ud)
{
    (void)ng;
    (void)id;
    hp_h2 *h = ud;
    h2_strm *q = src->ptr;
    size_t n = q->respbody.len < len ? q->respbody.len : len;
    if (n) {
        memcpy(buf, hp_fifo_data(&q->respbody), n);
        hp_fifo_take(&q->respbody, n, H2_FIFO_KEEP);
        /* Forwarded: an HTTP/2 upstream may send that much more. */
        if (q->u && !q->u->dead && q->uid > 0) {
            size_t c = n < q->up_unconsumed ? n : q->up_unconsumed;
            nghttp2_session_consume(q->u->ng, q->uid, c);
            q->up_unconsumed -= c;
        }
        h->dirty = true;
    }
    if (q->respbody.len == 0 && q->resp_eof) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (q->ntrailers) {
            *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
            nvb *b = h2_nvb_get(h);
            size_t off = 0;
            const char *name, *value;
            while (b && h2_pairs_next(&q->trailers, &off, &name, &value))
                h2_nvb_add(b, name, value);
            if (b)
                nghttp2_submit_trailer(ng, q->id, h2_nvb_done(b), b->n);
        }
        return (ssize_t)n;
    }
    if (n == 0) {
        q->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

ssize_t h2_no_send(nghttp2_session *ng, const uint8_t *data, size_t length, int flags, void *ud)
{
    (void)ng;
    (void)data;
    (void)length;
    (void)flags;
    (void)ud;
    return NGHTTP2_ERR_WOULDBLOCK; /* mem_send only */
}

/* Callback tables and options, made once; freed by hp_h2_shutdown() when
 * the plugin goes (libnghttp2 may be unloaded with it). */
nghttp2_session_callbacks *h2_up_cbs, *h2_client_cbs;
static nghttp2_option *h2_options;

/* nghttp2 allocates through these: calloc() as malloc() and memset(),
 * since glibc's calloc() skips the per-thread cache that serves malloc()
 * for small blocks, and nghttp2 callocs a dozen small objects per
 * stream. */
static void *mem_malloc(size_t size, void *ud)
{
    (void)ud;
    return malloc(size);
}

static void mem_free(void *ptr, void *ud)
{
    (void)ud;
    free(ptr);
}

static void *mem_calloc(size_t n, size_t size, void *ud)
{
    (void)ud;
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = malloc(n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

static void *mem_realloc(void *ptr, size_t size, void *ud)
{
    (void)ud;
    return realloc(ptr, size);
}

nghttp2_mem h2_session_mem = {
    .malloc = mem_malloc, .free = mem_free, .calloc = mem_calloc, .realloc = mem_realloc};

nghttp2_option *h2_session_options(void)
{
    if (!h2_options) {
        nghttp2_option_new(&h2_options);
        nghttp2_option_set_no_auto_window_update(h2_options, 1);
        /* Our HPACK encoders keep at most this much, whatever table size
         * a peer allows. */
        nghttp2_option_set_max_deflate_dynamic_table_size(h2_options, H2_HPACK_TABLE);
    }
    return h2_options;
}

/* ---- the pumps, run once per loop iteration ---- */

static void up_flush(h2_up *u)
{
    if (u->dead)
        return;
    u->out.len = 0;
    while (!u->dead) {
        size_t cong =
            fault_conn_write_queued(u->c) + (u->se ? fault_chain_pending(u->se) : 0) + u->out.len;
        if (cong >= HP_HIGH_WATER)
            break;
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(u->ng, &data);
        if (n < 0) {
            h2_up_fail(u, UV_EPROTO);
            return;
        }
        if (n == 0)
            break;
        hp_buf_add(&u->out, data, (size_t)n);
    }
    if (u->out.len && !u->dead)
        h2_u_out(u, u->out.p, u->out.len);
    u->out.len = 0;
    if (u->dead)
        return;
    size_t in = u->si ? fault_chain_pending(u->si) : 0;
    if (!u->eof) {
        if (!u->paused && in > HP_HIGH_WATER) {
            u->paused = true;
            fault_conn_read_stop(u->c);
        } else if (u->paused && in < HP_LOW_WATER) {
            u->paused = false;
            fault_conn_read_start(u->c, h2_u_on_read, u);
        }
    }
    /* Idle after a GOAWAY: nothing more will come. */
    if (u->goaway && u->nstreams == 0 && !nghttp2_session_want_write(u->ng))
        h2_up_fail(u, 0);
}

static void client_flush(hp_h2 *h)
{
    h->out.len = 0;
    while (!h->dead) {
        size_t cong =
            fault_conn_write_queued(h->c) + (h->cin ? fault_chain_pending(h->cin) : 0) + h->out.len;
        if (cong >= HP_HIGH_WATER)
            break;
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(h->ng, &data);
        if (n < 0) {
            h2_teardown(h, true, UV_EPROTO);
            return;
        }
        if (n == 0)
            break;
        hp_buf_add(&h->out, data, (size_t)n);
    }
    if (h->out.len && !h->dead)
        client_out(h, h->out.p, h->out.len);
    h->out.len = 0;
}

static void h2_pump(hp_h2 *h)
{
    if (h->in_pump)
        return;
    h->in_pump = true;
    for (int round = 0; round < 8 && !h->dead; round++) {
        h->dirty = false;
        for (h2_strm *q = h->streams; q && !h->dead; q = q->next) {
            if (q->gone)
                continue;
            if (q->qbc)
                h2_qbc_pump(q);
            if (q->rbc && !q->gone)
                h2_rbc_pump(q);
            if (q->gone)
                continue;
            if (q->up_kind == UP_H1)
                h2_h1_pump(q);
            if (q->u && q->up_deferred && (q->reqbody.len || q->req_eof)) {
                q->up_deferred = false;
                nghttp2_session_resume_data(q->u->ng, q->uid);
            }
            if (q->head_sent && q->deferred && (q->respbody.len || q->resp_eof)) {
                q->deferred = false;
                nghttp2_session_resume_data(h->ng, q->id);
            }
            if (h->bridged)
                h2_br_deliver(q);
        }
        for (h2_up *u = h->ups; u && !h->dead; u = u->next)
            up_flush(u);
        if (h->dead)
            break;
        if (!h->bridged)
            client_flush(h);
        if (!h->dirty)
            break;
    }
    h->in_pump = false;
    if (h->dead || h->bridged)
        return;
    /* The client's bytes wait in our chain: stop reading it meanwhile. */
    size_t eg = h->ceg ? fault_chain_pending(h->ceg) : 0;
    if (!h->c_paused && eg > HP_HIGH_WATER) {
        h->c_paused = true;
        fault_conn_read_stop(h->c);
    } else if (h->c_paused && eg < HP_LOW_WATER) {
        h->c_paused = false;
        fault_conn_read_start(h->c, on_client_read, h);
    }
    if (!nghttp2_session_want_read(h->ng) && !nghttp2_session_want_write(h->ng) &&
        fault_conn_write_queued(h->c) == 0 && (!h->cin || fault_chain_pending(h->cin) == 0)) {
        fault_log_debug(h->st->self, "%s: HTTP/2 session over", h->peer);
        h2_teardown(h, false, 0); /* GOAWAY exchanged and sent */
    }
}

/* ---- deadlines ---- */

void h2_on_timer(uv_timer_t *t)
{
    hp_h2 *h = t->data;
    if (h->finishing) {
        h->finishing = false;
        if (h->s) {
            fault_stream_finish(h->s, h->bytes_eg, h->bytes_in, h->finish_error);
            h->s = NULL;
        }
        /* The session's own reference, which teardown left to us. */
        if (--h->refs == 0)
            uv_close((uv_handle_t *)&h->timer, h2_freed);
        return;
    }
    if (h->dead)
        return;
    h2_enter(h);
    h->kick = false;
    uint64_t now = fault_now_us();
    for (h2_strm *q = h->streams; q && !h->dead; q = q->next) {
        /* A bridge's session keeps its own deadlines. */
        if (q->gone || !q->deadline_us || q->deadline_us > now || h->bridged)
            continue;
        q->deadline_us = 0;
        if (q->deadline_kind == DL_HEAD) {
            q->deadline_kind = DL_NONE;
            if (q->head_done)
                continue;
            fault_log_info(h->st->self,
                           "%s: stream %d: request head not complete after %.3g s: closed", h->peer,
                           q->id, (double)h->st->header_timeout_us / 1e6);
            nghttp2_session_terminate_session(h->ng, NGHTTP2_PROTOCOL_ERROR);
            h->dirty = true;
            break;
        }
        if (!q->head_sent)
            strm_fail(q, UV_ETIMEDOUT);
        q->deadline_kind = DL_NONE;
    }
    h2_leave(h);
}

static void arm_deadlines(hp_h2 *h)
{
    if (h->finishing)
        return;
    if (h->bridged) {
        if (h->kick)
            uv_timer_start(&h->timer, h2_on_timer, 0, 0);
        else
            uv_timer_stop(&h->timer);
        return;
    }
    uint64_t first = 0;
    for (h2_strm *q = h->streams; q; q = q->next)
        if (!q->gone && q->deadline_us && (!first || q->deadline_us < first))
            first = q->deadline_us;
    if (!first) {
        uv_timer_stop(&h->timer);
        return;
    }
    uint64_t now = fault_now_us();
    uint64_t ms = first > now ? (first - now + 999) / 1000 : 0;
    uv_timer_start(&h->timer, h2_on_timer, ms, 0);
}

/* ---- lifecycle ---- */

static void on_stream_end(fault_stream *s, bool reset, void *ud)
{
    hp_h2 *h = ud;
    (void)s;
    h2_enter(h);
    h2_teardown(h, reset, 0);
    h2_leave(h);
}

void h2_teardown(hp_h2 *h, bool reset, int error)
{
    if (h->dead)
        return;
    h->dead = true;
    fault_log_debug(h->st->self, "%s: HTTP/2 connection ends (%s%s%s)", h->peer,
                    reset ? "reset" : "closed", error ? ": " : "",
                    error ? fault_strerror(error) : "");
    hp_state *st = h->st;
    if (h->bridged) {
        /* Not on st->h2s: its session owns it. */
    } else if (h->prev) {
        h->prev->next = h->next;
    } else {
        st->h2s = h->next;
    }
    if (h->next)
        h->next->prev = h->prev;
    h->prev = h->next = NULL;
    for (h2_strm *q = h->streams; q; q = q->next) {
        if (q->gone)
            continue;
        strm_release_upstream(q, true);
        strm_bodies_free(q);
        if (q->x && !h->bridged) {
            fault_http_exchange_free(q->x);
            q->x = NULL;
        }
        q->gone = true;
    }
    for (h2_up *u = h->ups; u; u = u->next)
        h2_up_fail(u, 0);
    while (h->routes) {
        h2_route *r = h->routes;
        h->routes = r->next;
        hp_connect_cancel(r->creq);
        free(r);
    }
    fault_chain_free(h->ceg);
    fault_chain_free(h->cin);
    h->ceg = h->cin = NULL;
    if (h->c) {
        if (reset)
            fault_conn_reset(h->c);
        else
            fault_conn_close(h->c);
        h->c = NULL;
    }
    /* Streams are freed with the session (nghttp2 may still name them). */
    uv_timer_stop(&h->timer);
    if (h->bridged)
        h->s = NULL; /* the HTTP/1 session's */
    if (h->s) {
        /* Finished from the loop, so that a fault ending the stream from
         * inside its own hook never sees it freed; the timer then drops
         * the session's own reference. */
        fault_stream_set_end(h->s, NULL, NULL);
        h->finish_error = error;
        h->finishing = true;
        uv_timer_start(&h->timer, h2_on_timer, 0, 0);
        return;
    }
    h->refs--; /* the session's own reference (callers hold another) */
}

static nghttp2_session_callbacks *client_callbacks(void)
{
    nghttp2_session_callbacks *cbs = h2_client_cbs;
    if (!cbs) {
        nghttp2_session_callbacks_new(&cbs);
        nghttp2_session_callbacks_set_send_callback(cbs, h2_no_send);
        nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, cb_begin_headers);
        nghttp2_session_callbacks_set_on_header_callback(cbs, cb_header);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, cb_frame_recv);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, cb_data_chunk);
        nghttp2_session_callbacks_set_on_stream_close_callback(cbs, cb_stream_close);
        nghttp2_session_callbacks_set_on_frame_send_callback(cbs, cb_frame_send);
        h2_client_cbs = cbs;
    }
    return cbs;
}

void hp_h2_shutdown(void)
{
    nghttp2_session_callbacks_del(h2_up_cbs);
    nghttp2_session_callbacks_del(h2_client_cbs);
    nghttp2_option_del(h2_options);
    h2_up_cbs = h2_client_cbs = NULL;
    h2_options = NULL;
}

void hp_h2_start(hp_front *fr, fault_conn *c, fault_stream *s, const uint8_t *initial, size_t len)
{
    hp_state *st = fr->st;
    hp_h2 *h = calloc(1, sizeof *h);
    if (!h || nghttp2_session_server_new3(&h->ng, client_callbacks(), h, h2_session_options(),
                                          &h2_session_mem) != 0) {
        free(h);
        fault_conn_reset(c);
        fault_stream_finish(s, 0, 0, -ENOMEM);
        return;
    }
    h->st = st;
    h->fr = fr;
    fr->refs++;
    h->c = c;
    h->s = s;
    h->refs = 1;
    snprintf(h->peer, sizeof h->peer, "%s", fault_conn_peer(c));
    uv_timer_init(st->loop, &h->timer);
    h->timer.data = h;
    h->next = st->h2s;
    if (st->h2s)
        st->h2s->prev = h;
    st->h2s = h;
    fault_stream_set_end(s, on_stream_end, h);
    h2_enter(h);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, H2_MAX_STREAMS},
                                   {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_STREAM_WINDOW},
                                   {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, H2_HPACK_TABLE},
                                   {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, H2_MAX_HEADER_LIST}};
    nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, iv, 4);
    nghttp2_session_set_local_window_size(h->ng, NGHTTP2_FLAG_NONE, 0, H2_CONN_WINDOW);
    /* Client chains only when every request here is targeted: frames of
     * untargeted streams must not meet a fault. */
    h->chains = fr->reverse || st->match_all;
    if (h->chains) {
        h->ceg = fault_chain_new(s, FAULT_DIR_EGRESS, FAULT_SIDE_CLIENT, &ceg_ops, h);
        h->cin =
            h->ceg ? fault_chain_new(s, FAULT_DIR_INGRESS, FAULT_SIDE_CLIENT, &cin_ops, h) : NULL;
        if (!h->ceg || !h->cin) {
            fault_log_warn(st->self, "%s: a fault refused the connection", h->peer);
            h2_teardown(h, true, -ECONNREFUSED);
            h2_leave(h);
            return;
        }
    }
    if (fault_conn_read_start(c, on_client_read, h) < 0) {
        h2_teardown(h, true, -EIO);
        h2_leave(h);
        return;
    }
    if (len)
        on_client_read(c, (long)len, initial, h);
    h2_leave(h);
}

void hp_h2_close_all(hp_state *st)
{
    /* Pumps still due run first, as they would have before the loop
     * polled again (nothing more is queued once stopping). */
    hp_due_run(st);
    while (st->h2s) {
        hp_h2 *h = st->h2s;
        h2_enter(h);
        h2_teardown(h, false, 0);
        h2_leave(h);
    }
    /* Every connection is torn down: those the pumps left queued (with
     * work left) only have their references to drop. */
    hp_due_run(st);
}
