/*
 * plugins/http/h2.c - HTTP/2 toward clients (h2c with prior knowledge, or
 * h2 chosen by ALPN on a TLS listener or an intercepted tunnel), with
 * nghttp2's session API: bytes read from the client are fed to
 * nghttp2_session_mem_recv(), frames it wants to send come out of
 * nghttp2_session_mem_send(); nghttp2 never touches a socket.
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
 *   session's exchanges (see "bridges" at the end of this file).
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
 * without a content-length (see "bodies for the hooks" below). Method and
 * path go upstream as the request hooks left them (fault_http_method/
 * _path) on both kinds of upstream.
 *
 * CONNECT (forward proxy only; answered 405 on mappings): the stream is a
 * TCP tunnel to its :authority, see "CONNECT" below.
 *
 * Lifetimes: everything runs on the loop; entry points (socket reads and
 * write completions, timers, hook completions, chains) bracket their work
 * with enter()/leave(). Streams closed during an event are freed, and
 * nghttp2 sessions deleted, only when the outermost leave() runs, never
 * from inside an nghttp2 callback; leave() also runs the pumps (request
 * bodies upstream, response bodies to the client, sending frames, read
 * pauses) so each event only needs to change state.
 *
 * The pumps run once per loop iteration, not after each event: the
 * outermost leave() queues the connection, and a prepare handle (run
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

#include <nghttp2/nghttp2.h>

#include "proxy.h"

#define H2_MAX_STREAMS 128
#define H2_STREAM_WINDOW HP_HIGH_WATER
#define H2_CONN_WINDOW (16 * 1024 * 1024)
/* Header lists, each way: at most this much decoded, counted as RFC 9113
 * 6.5.2 counts SETTINGS_MAX_HEADER_LIST_SIZE (name + value + 32 bytes per
 * field), the same bound as an HTTP/1 head; and an HPACK dynamic table of
 * the default 4 KiB each way. A header block refers to its table entries
 * as often as it likes (one byte each), so what a block decodes to is only
 * bounded by counting as it is decoded. */
#define H2_MAX_HEADER_LIST HP_MAX_HEAD
#define H2_HPACK_TABLE 4096
#define ALPN_H2_H1 "\x02h2\x08http/1.1"

/* ---- byte queues with a read offset (no memmove per frame) ---- */

typedef struct fifo {
    uint8_t *p;
    size_t off, len, cap;
} fifo;

static int fifo_add(fifo *f, const void *data, size_t n)
{
    if (!n)
        return 0;
    if (f->off + f->len + n > f->cap) {
        if (f->off) {
            memmove(f->p, f->p + f->off, f->len);
            f->off = 0;
        }
        if (f->len + n > f->cap) {
            /* Small to start with (most bodies are), and served by the
             * allocator's per-thread cache at that size. */
            size_t cap = f->cap ? f->cap : 1024;
            while (cap < f->len + n)
                cap *= 2;
            uint8_t *np = realloc(f->p, cap);
            if (!np)
                return -1;
            f->p = np;
            f->cap = cap;
        }
    }
    memcpy(f->p + f->off + f->len, data, n);
    f->len += n;
    return 0;
}

static void fifo_take(fifo *f, size_t n)
{
    f->off += n;
    f->len -= n;
    if (f->len == 0) {
        f->off = 0;
        if (f->cap > 256 * 1024) {
            free(f->p);
            f->p = NULL;
            f->cap = 0;
        }
    }
}

static void fifo_free(fifo *f)
{
    free(f->p);
    memset(f, 0, sizeof *f);
}

/* ---- types ---- */

typedef struct hp_h2 hp_h2;
typedef struct h2_strm h2_strm;
typedef struct h2_up h2_up;
typedef struct h2_route h2_route;

enum { UP_NONE, UP_WAIT, UP_H1, UP_H2 };
enum { RT_NONE, RT_CONNECTING, RT_H2, RT_H1 };
enum { DL_NONE, DL_CONNECT, DL_RESPONSE, DL_HEAD };

struct h2_strm {
    hp_h2 *h;
    int32_t id;
    bool gone;        /* the client's stream closed: freed at the next sweep */
    h2_strm *next;    /* in h->streams */
    h2_strm *wnext;   /* in a route's waiting list */

    /* the request as it came */
    char *method, *scheme, *authority, *path;
    hp_buf hdrs;      /* name\0value\0 pairs, lower-case names */
    size_t nhdrs;
    size_t hdr_bytes; /* of the request head and trailers, as decoded */
    size_t up_hdr_bytes; /* of the upstream's heads and trailers */
    bool head_done, req_eof, req_cl;
    bool cli_eof;     /* the client's END_STREAM (req_eof: the end of what
                         goes upstream, later when bodies are held/watched) */
    uint64_t req_clen;
    fifo reqbody;     /* DATA not yet sent upstream */
    size_t unconsumed; /* client DATA bytes not yet consumed */
    bool discard;     /* answered: request DATA is dropped */

    /* where it goes */
    fault_http_exchange *x;
    char host[HP_MAX_HOST];
    uint16_t port;
    bool tls, targeted, is_head;
    char target[HP_MAX_HOST + 8];
    char key[HP_MAX_HOST + 16];
    bool hook_running;

    /* the response */
    bool head_sent, resp_eof, resp_end_sent, deferred, rst_sent;
    int status;
    fifo respbody;
    hp_buf rhdrs;     /* upstream HTTP/2 response headers, pairs */
    hp_buf trailers;  /* upstream HTTP/2 trailers, pairs */
    size_t ntrailers;
    bool resp_head_known;
    bool no_body;
    bool up_done;     /* the upstream's response ended */

    /* Bodies for the hooks (SDK 1.2): held whole before a message's hooks
     * run (in reqbody/respbody, up to hold_*max bytes), or watched by
     * on_body hooks through a body chain (qbc/rbc, fed from qin/rin). */
    bool hold_req, held_req, hold_resp, held_resp;
    size_t hold_qmax, hold_rmax;
    fault_chain *qbc, *rbc;
    fifo qin, rin;    /* decoded body not yet pushed into qbc/rbc */
    bool qbc_eof, rin_eof, rbc_eof;

    /* upstream */
    int up_kind;
    uint64_t deadline_us;
    int deadline_kind;
    /* HTTP/1.1 */
    struct hp_creq *creq;
    hp_up *up;
    fault_chain *se, *si;
    hp_parser rp;
    bool rp_init, req_chunked, req_head_sent, req_end_sent, up_reading, up_paused;
    bool interim, up_keepalive, resp_byte, up_eof, resp_done_h1;
    bool tunnel; /* CONNECT: the HTTP/1.1 fields above carry raw bytes */
    int rp_ev;
    /* HTTP/2 */
    h2_up *u;
    int32_t uid;
    size_t up_unconsumed; /* upstream DATA bytes not yet consumed */
    bool up_deferred;

    /* An HTTP/1 session's exchange (a bridge stream, see hp_h2b_new()):
     * the response goes to the session as HTTP/1.1 bytes */
    void *sess;
    hp_buf b_head;    /* a head for the session, not yet handed over */
    bool b_chunked, b_cl;
    uint64_t b_clen, b_sent;
    int b_err;        /* a failure for the session, not yet told */
};

struct h2_up {
    hp_h2 *h;
    h2_route *route;
    fault_conn *c;
    nghttp2_session *ng;
    fault_chain *se, *si;
    bool dead, paused, goaway, eof;
    size_t nstreams;
    hp_buf out;
    h2_up *next;
};

struct h2_route {
    char key[HP_MAX_HOST + 16];
    int state;
    struct hp_creq *creq;
    h2_up *u;
    h2_strm *waiting;
    h2_route *next;
};

struct hp_h2 {
    hp_state *st;
    hp_front *fr;
    fault_conn *c;
    fault_stream *s;
    nghttp2_session *ng;
    fault_chain *ceg, *cin;
    bool chains;
    h2_strm *streams;
    h2_up *ups;
    h2_route *routes;
    int refs, depth;
    bool dead, c_paused, dirty, in_pump;
    uint64_t bytes_eg, bytes_in;
    int finish_error;
    uv_timer_t timer; /* stream deadlines; then the stream's finish */
    bool finishing;
    hp_buf out;
    hp_buf scratch; /* a request head for an HTTP/1.1 upstream */
    struct nvb *nv;  /* header lists for nghttp2, reused */
    /* A bridge: no client session; its streams are an HTTP/1 session's
     * exchanges (hp_h2b_new()). from_sess: an entry from that session,
     * which must not be called back from inside (kick: later, from the
     * timer). */
    bool bridged, kick;
    int from_sess;
    char peer[64];
    hp_h2 *prev, *next;
    bool due;          /* queued for the pumps (holds a reference) */
    hp_h2 *due_next;   /* in st->h2_due */
};

struct nvb;
static void nvb_free(struct nvb *b);
static void h2_teardown(hp_h2 *h, bool reset, int error);
static void strm_fail(h2_strm *q, int err);
static void strm_answer(h2_strm *q, int status, const char *text, bool from_x);
static void strm_release_upstream(h2_strm *q, bool reset);
static void strm_dispatch(h2_strm *q);
static void up_fail(h2_up *u, int err);
static void h1_bind(h2_strm *q, hp_up *up);
static void strm_connect(h2_strm *q);
static void arm_deadlines(hp_h2 *h);
static void br_head(h2_strm *q);
static void br_deliver(h2_strm *q);

/* ---- references and events ---- */

static void strm_free(h2_strm *q);

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
        nvb_free(h->nv);
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
    fifo_free(&q->reqbody);
    fifo_free(&q->respbody);
    fifo_free(&q->qin);
    fifo_free(&q->rin);
    fault_chain_free(q->qbc);
    fault_chain_free(q->rbc);
    if (q->rp_init)
        hp_parser_free(&q->rp);
    free(q);
}

/* Frees what closed during the event (never inside nghttp2's callbacks:
 * only from the outermost leave()). */
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

static void pump(hp_h2 *h);

static void enter(hp_h2 *h)
{
    h->refs++;
    h->depth++;
}

/* The pumps, then what they may have left: closed streams, deadlines. */
static void pump_sweep(hp_h2 *h)
{
    /* Not from inside the pump (a bridge's session calls back from
     * there): the pump in progress sweeps when it is done. */
    if (h->in_pump)
        return;
    pump(h);
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

/* Only there to be active: the loop does not block in its poll while an
 * idle handle is, so pumps carried over run at once. */
static void on_more(uv_idle_t *t)
{
    (void)t;
}

/* Runs the pumps of the connections queued during this loop iteration. */
static void on_flush(uv_prepare_t *t)
{
    hp_state *st = t->data;
    hp_h2 *again = NULL, *h;
    while ((h = st->h2_due) != NULL) {
        st->h2_due = h->due_next;
        h->due_next = NULL;
        if (!h->dead) {
            /* As inside an event: what the pumps cause queues nothing
             * (the pumps themselves go round while there is work). */
            h->depth++;
            pump_sweep(h);
            h->depth--;
        }
        if (!h->dead && h->dirty) {
            /* The pumps stopped after their last round with work left (a
             * client socket that takes all we give): they go on at the
             * next iteration, after the other connections had their turn.
             * The connection stays queued, with its reference. */
            h->due_next = again;
            again = h;
            continue;
        }
        h->due = false;
        unref(h); /* the queue's reference */
    }
    st->h2_due = again;
    if (again) {
        uv_idle_start(&st->h2_more, on_more);
    } else {
        uv_idle_stop(&st->h2_more);
        uv_prepare_stop(t);
    }
}

/* The pumps of h are due: at the end of this loop iteration, or now when
 * the plugin is stopping (the loop may not go round again). */
static void pump_soon(hp_h2 *h)
{
    hp_state *st = h->st;
    if (h->due)
        return;
    if (st->stopping) {
        pump_sweep(h);
        return;
    }
    if (!st->h2_flush_init) {
        uv_prepare_init(st->loop, &st->h2_flush);
        uv_idle_init(st->loop, &st->h2_more);
        st->h2_flush.data = st;
        st->h2_flush_init = true;
    }
    h->due = true;
    h->refs++;
    h->due_next = st->h2_due;
    st->h2_due = h;
    uv_prepare_start(&st->h2_flush, on_flush);
}

static void leave(hp_h2 *h)
{
    if (--h->depth == 0 && !h->dead)
        pump_soon(h);
    unref(h);
}

/* ---- events ---- */

static void publish(h2_strm *q, fault_event_type type, int status)
{
    if (!fault_event_wanted(type) || !q->x)
        return;
    fault_event ev = {.type = type, .size = sizeof ev};
    ev.conn_id = q->h->s ? fault_stream_id(q->h->s) : 0;
    ev.peer = q->h->peer;
    ev.target = q->target;
    ev.method = fault_http_method(q->x);
    ev.url = fault_http_url(q->x);
    ev.status = status;
    fault_event_publish(q->h->st->self, &ev);
}

/* ---- header helpers ---- */

static int pairs_add(hp_buf *b, size_t *n, const char *name, size_t nl, const char *value,
                     size_t vl)
{
    if (hp_buf_add(b, name, nl) < 0 || hp_buf_add(b, "", 1) < 0 || hp_buf_add(b, value, vl) < 0 ||
        hp_buf_add(b, "", 1) < 0)
        return -1;
    (*n)++;
    return 0;
}

/* Iterates name\0value\0 pairs: *off starts at 0. */
static bool pairs_next(const hp_buf *b, size_t *off, const char **name, const char **value)
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
static bool h2_banned(const char *name)
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

/* nghttp2 wants lower-case names: a plugin may have set any case. */
typedef struct nvb {
    nghttp2_nv *nv;
    size_t n, cap;
    hp_buf text;
    size_t *offs; /* name, value offsets per entry, fixed up at the end */
} nvb;

static int nvb_add(nvb *b, const char *name, const char *value)
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

static nghttp2_nv *nvb_done(nvb *b)
{
    for (size_t i = 0; i < b->n; i++) {
        b->nv[i].name = b->text.p + b->offs[2 * i];
        b->nv[i].value = b->text.p + b->offs[2 * i + 1];
    }
    return b->nv;
}

static void nvb_free(nvb *b)
{
    free(b->nv);
    free(b->offs);
    hp_buf_free(&b->text);
    memset(b, 0, sizeof *b);
}

/* The session's list, emptied: one allocation per connection, not one
 * per message. */
static nvb *nvb_get(hp_h2 *h)
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
static const char *itoa3(char *buf, size_t len, uint64_t v)
{
    size_t i = len - 1;
    buf[i] = '\0';
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v && i);
    return buf + i;
}

/* ---- the client leg ---- */

static void client_out(hp_h2 *h, const uint8_t *p, size_t n);

static void on_client_written(fault_conn *c, int status, void *ud)
{
    hp_h2 *h = ud;
    (void)c;
    enter(h);
    if (!h->dead && status < 0 && status != UV_ECANCELED) {
        if (h->bridged) {
            /* Some upstream connection failed: the ones that did fail
             * their streams; the bridge itself is its session's. */
            for (h2_up *u = h->ups; u; u = u->next)
                if (!u->dead && u->c == c)
                    up_fail(u, status);
        } else {
            h2_teardown(h, true, status);
        }
    }
    leave(h);
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
    if (fault_conn_write(h->c, p, n, on_client_written, h) < 0) {
        h->refs--;
        h2_teardown(h, true, -EIO);
    }
}

/* A chain without stages hands bytes straight to its output: skipping it
 * saves a copy and an allocation per write on the hot path. */
static bool staged(const fault_chain *c)
{
    return c && fault_chain_stages(c) > 0;
}

static void client_out(hp_h2 *h, const uint8_t *p, size_t n)
{
    if (staged(h->cin))
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
    enter(h);
    feed(h, data, len);
    leave(h);
}

static void ceg_eof(void *ud)
{
    hp_h2 *h = ud;
    enter(h);
    h2_teardown(h, false, 0);
    leave(h);
}

static void chain_progress(void *ud)
{
    hp_h2 *h = ud;
    enter(h);
    leave(h);
}

static void cin_output(void *ud, const uint8_t *data, size_t len)
{
    hp_h2 *h = ud;
    enter(h);
    client_write(h, data, len);
    leave(h);
}

static void cin_eof(void *ud)
{
    hp_h2 *h = ud;
    enter(h);
    if (!h->dead)
        fault_conn_shutdown(h->c);
    leave(h);
}

static const fault_chain_ops ceg_ops = {.output = ceg_output, .eof = ceg_eof,
                                        .progress = chain_progress};
static const fault_chain_ops cin_ops = {.output = cin_output, .eof = cin_eof,
                                        .progress = chain_progress};

static void on_client_read(fault_conn *c, long nread, const uint8_t *data, void *ud)
{
    hp_h2 *h = ud;
    (void)c;
    if (h->dead)
        return;
    enter(h);
    if (nread < 0) {
        if (nread == UV_EOF && h->ceg) {
            fault_conn_read_stop(h->c);
            fault_chain_eof(h->ceg);
        } else {
            h2_teardown(h, nread != UV_EOF, nread == UV_EOF ? 0 : (int)nread);
        }
    } else {
        h->bytes_eg += (uint64_t)nread;
        if (staged(h->ceg))
            fault_chain_push(h->ceg, data, (size_t)nread);
        else
            feed(h, data, (size_t)nread);
    }
    leave(h);
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

static int cb_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name,
                     size_t nl, const uint8_t *value, size_t vl, uint8_t flags, void *ud)
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
    if (pairs_add(&q->hdrs, &q->nhdrs, (const char *)name, nl, (const char *)value, vl) < 0)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    return 0;
}

static void strm_head(h2_strm *q);
static void strm_req_eof(h2_strm *q);
static void req_body_full(h2_strm *q);
static void body_held(h2_strm *q, fault_http_msg m);
static void strm_bodies_free(h2_strm *q);

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
        if (fifo_add(&q->reqbody, data, len) < 0)
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        size_t over = q->reqbody.len > q->hold_qmax ? q->reqbody.len - q->hold_qmax : 0;
        if (over > len)
            over = len;
        if (len > over)
            nghttp2_session_consume(ng, id, len - over);
        q->unconsumed += over;
        h->dirty = true;
        if (over)
            req_body_full(q);
        return 0;
    }
    /* Watched by on_body hooks: into their chain (from the pump). */
    if (fifo_add(q->qbc ? &q->qin : &q->reqbody, data, len) < 0)
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
static ssize_t resp_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len,
                         uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    (void)ng;
    (void)id;
    hp_h2 *h = ud;
    h2_strm *q = src->ptr;
    size_t n = q->respbody.len < len ? q->respbody.len : len;
    if (n) {
        memcpy(buf, q->respbody.p + q->respbody.off, n);
        fifo_take(&q->respbody, n);
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
            nvb *b = nvb_get(h);
            size_t off = 0;
            const char *name, *value;
            while (b && pairs_next(&q->trailers, &off, &name, &value))
                nvb_add(b, name, value);
            if (b)
                nghttp2_submit_trailer(ng, q->id, nvb_done(b), b->n);
        }
        return (ssize_t)n;
    }
    if (n == 0) {
        q->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

/* ---- answers made here ---- */

static void send_head(h2_strm *q, bool body)
{
    hp_h2 *h = q->h;
    char stb[8];
    int status = fault_http_status(q->x);
    nvb *bp = nvb_get(h);
    if (!bp) {
        h2_teardown(h, true, -ENOMEM);
        return;
    }
    nvb_add(bp, ":status", itoa3(stb, sizeof stb, (uint64_t)status));
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
            nvb_add(bp, name, v);
            via_done = true;
            continue;
        }
        nvb_add(bp, name, value);
    }
    if (h->st->via && !via_done)
        nvb_add(bp, "via", "2 fault");
    nghttp2_data_provider prd = {.source.ptr = q, .read_callback = resp_read};
    int rv = nghttp2_submit_response(h->ng, q->id, nvb_done(bp), bp->n, body ? &prd : NULL);
    if (rv < 0) {
        nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, q->id, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    q->head_sent = true;
    h->dirty = true;
    publish(q, FAULT_EV_HTTP_RESPONSE, status);
}

/* Answers the stream: a short text (errors), or (from_x) the status,
 * headers and body a plugin gave. The upstream part, if any, is dropped;
 * request DATA still coming is consumed and dropped. */
static void strm_answer(h2_strm *q, int status, const char *text, bool from_x)
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
    fifo_free(&q->reqbody);
    fifo_free(&q->respbody);
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
        fifo_add(&q->respbody, tbuf, strlen(tbuf));
        q->resp_eof = true;
        nghttp2_data_provider prd = {.source.ptr = q, .read_callback = resp_read};
        nghttp2_submit_response(h->ng, q->id, nv, 3, &prd);
        q->head_sent = true;
        h->dirty = true;
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
        fifo_add(&q->respbody, body, len);
    q->resp_eof = true;
    send_head(q, !no_body && !q->is_head);
}

/* A failure reaching or hearing from the upstream. */
static void strm_fail(h2_strm *q, int err)
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
        snprintf(msg, sizeof msg, "fault: %s closed the connection without a response",
                 q->target);
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
                                  q->tunnel            ? NGHTTP2_CONNECT_ERROR
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
 * (respbody), so the upstream legs and resp_read() see only the result;
 * its length may differ, so no content-length goes with it. The window
 * credit of the bytes in a chain is returned while the chain and what it
 * put out stay under HP_HIGH_WATER. */

static void strm_bodies_free(h2_strm *q)
{
    fault_chain_free(q->qbc);
    fault_chain_free(q->rbc);
    q->qbc = q->rbc = NULL;
    fifo_free(&q->qin);
    fifo_free(&q->rin);
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
    enter(q->h);
    if (!q->gone && !q->discard && fifo_add(&q->reqbody, data, len) < 0)
        strm_fail(q, -ENOMEM);
    q->h->dirty = true;
    leave(q->h);
}

static void qbc_eof(void *ud)
{
    h2_strm *q = ud;
    enter(q->h);
    q->req_eof = true;
    q->h->dirty = true;
    leave(q->h);
}

static void rbc_output(void *ud, const uint8_t *data, size_t len)
{
    h2_strm *q = ud;
    enter(q->h);
    if (!q->gone && !q->discard && fifo_add(&q->respbody, data, len) < 0)
        h2_teardown(q->h, true, -ENOMEM);
    q->h->dirty = true;
    leave(q->h);
}

static void rbc_eof(void *ud)
{
    h2_strm *q = ud;
    enter(q->h);
    q->resp_eof = true;
    q->h->dirty = true;
    leave(q->h);
}

static void body_progress(void *ud)
{
    h2_strm *q = ud;
    enter(q->h);
    q->h->dirty = true;
    leave(q->h);
}

/* An on_body hook reset (or closed) this body: the stream alone ends,
 * visibly unfinished; its neighbours on the connection go on. */
static void body_end(void *ud, bool reset)
{
    h2_strm *q = ud;
    hp_h2 *h = q->h;
    enter(h);
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
    leave(h);
}

static const fault_chain_ops qbc_ops = {.output = qbc_output, .eof = qbc_eof,
                                        .progress = body_progress, .end = body_end};
static const fault_chain_ops rbc_ops = {.output = rbc_output, .eof = rbc_eof,
                                        .progress = body_progress, .end = body_end};

/* Moves what a fifo holds to the end of another. */
static int fifo_move(fifo *to, fifo *from)
{
    if (from->len && fifo_add(to, from->p + from->off, from->len) < 0)
        return -1;
    fifo_free(from);
    return 0;
}

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
        q->reqbody.len = q->reqbody.off = 0;
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
            if (fifo_add(&q->reqbody, held, hl) < 0)
                strm_fail(q, -ENOMEM);
            q->req_eof = true;
        }
    } else if (q->qbc) {
        /* Its length may change: no content-length; the end comes out of
         * the chain. */
        q->req_cl = false;
        q->req_eof = false;
        if (fifo_move(&q->qin, &q->reqbody) < 0)
            strm_fail(q, -ENOMEM);
    }
    q->h->dirty = true;
}

/* Request DATA toward the on_body hooks, and its window credit. */
static void qbc_pump(h2_strm *q)
{
    hp_h2 *h = q->h;
    if (q->qin.len) {
        fifo in = q->qin;
        memset(&q->qin, 0, sizeof q->qin);
        fault_chain_push(q->qbc, in.p + in.off, in.len);
        fifo_free(&in);
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
static void rbc_pump(h2_strm *q)
{
    hp_h2 *h = q->h;
    if (q->rin.len) {
        fifo in = q->rin;
        memset(&q->rin, 0, sizeof q->rin);
        fault_chain_push(q->rbc, in.p + in.off, in.len);
        fifo_free(&in);
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
    enter(h);
    q->hook_running = false;
    if (!q->gone && !h->dead) {
        if (result == FAULT_HTTP_RESPOND) {
            strm_answer(q, fault_http_status(q->x), NULL, true);
        } else {
            req_body_begin(q);
            strm_dispatch(q);
        }
    }
    leave(h);
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
static void req_body_full(h2_strm *q)
{
    q->hold_req = false;
    run_req_hooks(q);
}

static void run_resp_hooks(h2_strm *q);

/* The whole body of message m is in: the exchange gets it, then that
 * message's hooks run. */
static void body_held(h2_strm *q, fault_http_msg m)
{
    bool req = m == FAULT_HTTP_REQUEST;
    fifo *f = req ? &q->reqbody : &q->respbody;
    if (req) {
        q->hold_req = false;
        q->held_req = true;
    } else {
        q->hold_resp = false;
        q->held_resp = true;
    }
    int rc = fault_http_load_body(q->x, m, f->p + f->off, f->len);
    fifo_free(f);
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
    while (pairs_next(&q->hdrs, &off, &name, &value))
        if (strcasecmp(name, want) == 0)
            return value;
    return NULL;
}

static void strm_head(h2_strm *q)
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
    if (authority && hp_parse_hostport(authority, strlen(authority), ahost, sizeof ahost, &aport,
                                       false) < 0)
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
            strm_answer(q, 400, "this is a forward proxy: the request needs an :authority",
                        false);
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
        q->targeted = hp_targeted(st, st->ov_host, st->ov_port) ||
                      (authority && hp_targeted(st, ahost, aport ? aport : fwd_tls ? 443 : 80));
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
    while (pairs_next(&q->hdrs, &off, &name, &value)) {
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
    publish(q, FAULT_EV_HTTP_REQUEST, 0);
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

static void strm_req_eof(h2_strm *q)
{
    q->cli_eof = true;
    q->h->dirty = true;
    if (q->hold_req) {
        body_held(q, FAULT_HTTP_REQUEST);
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
            if (fifo_move(&q->rin, &q->respbody) < 0) {
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
                              itoa3(cl, sizeof cl, hl));
        q->respbody.len = q->respbody.off = 0;
        if (fifo_add(&q->respbody, held, hl) < 0) {
            h2_teardown(q->h, true, -ENOMEM);
            return;
        }
        q->resp_eof = true;
    }
    if (q->gone || q->h->dead)
        return;
    send_head(q, !q->no_body);
}

static void on_resp_hooks(fault_http_exchange *x, fault_http_action result, void *ud)
{
    h2_strm *q = ud;
    hp_h2 *h = q->h;
    (void)x;
    enter(h);
    q->hook_running = false;
    if (!q->gone && !h->dead) {
        if (result == FAULT_HTTP_RESPOND)
            strm_answer(q, fault_http_status(q->x), NULL, true);
        else
            resp_go(q);
    }
    leave(h);
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
static void strm_resp_head(h2_strm *q)
{
    q->resp_head_known = true;
    q->deadline_us = 0;
    q->deadline_kind = DL_NONE;
    int status = fault_http_status(q->x);
    q->no_body = q->is_head || status == 204 || status == 304;
    if (!q->targeted) {
        send_head(q, !q->no_body);
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
                body_held(q, FAULT_HTTP_RESPONSE);
            return;
        }
    }
    run_resp_hooks(q);
}

/* The response body outgrew the limit: the hooks run without it; what
 * was read goes first. */
static void resp_body_full(h2_strm *q)
{
    q->hold_resp = false;
    run_resp_hooks(q);
}


/* A piece of response body. Returns true when it made a body held for
 * the hooks outgrow the limit: the caller calls resp_body_full() (from
 * outside its parser). */
static bool strm_resp_data(h2_strm *q, const uint8_t *p, size_t n)
{
    if (q->discard || q->gone)
        return false;
    if (fifo_add(q->rbc ? &q->rin : &q->respbody, p, n) < 0) {
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

static void strm_resp_end(h2_strm *q)
{
    q->up_done = true;
    q->h->dirty = true;
    if (q->hold_resp) {
        body_held(q, FAULT_HTTP_RESPONSE);
        return;
    }
    if (q->rbc)
        q->rin_eof = true; /* through the chain first */
    else
        q->resp_eof = true;
}

/* ---- upstream over HTTP/1.1 ---- */

static llhttp_settings_t rp_settings;
static bool rp_ready;

enum { EV_NONE, EV_HEAD, EV_DONE, EV_FULL };

static int rp_on_headers(llhttp_t *p)
{
    h2_strm *q = p->data;
    int status = p->status_code;
    if (status == 101) {
        llhttp_set_error_reason(p, "upstream switched protocols unasked");
        return HPE_USER;
    }
    if (status >= 100 && status < 200) {
        q->interim = true; /* not forwarded; the final response follows */
        return 0;
    }
    if (q->is_head || status == 204 || status == 304)
        p->flags |= F_SKIPBODY;
    q->rp_ev = EV_HEAD;
    return HPE_PAUSED;
}

static int rp_on_body(llhttp_t *p, const char *at, size_t n)
{
    h2_strm *q = p->data;
    if (strm_resp_data(q, (const uint8_t *)at, n)) {
        q->rp_ev = EV_FULL;
        return HPE_PAUSED;
    }
    return 0;
}

static int rp_on_complete(llhttp_t *p)
{
    h2_strm *q = p->data;
    if (q->interim) {
        q->interim = false;
        return 0;
    }
    q->rp_ev = EV_DONE;
    return HPE_PAUSED;
}

static void h1_head(h2_strm *q)
{
    llhttp_t *p = &q->rp.p;
    hp_head *hd = &q->rp.head;
    hp_head_done(hd);
    q->status = p->status_code;
    bool v11 = p->http_major > 1 || (p->http_major == 1 && p->http_minor >= 1);
    q->up_keepalive = v11 ? !hp_head_has_token(hd, "connection", "close")
                          : hp_head_has_token(hd, "connection", "keep-alive");
    bool chunked = (p->flags & F_CHUNKED) != 0, cl = (p->flags & F_CONTENT_LENGTH) != 0;
    if (!(p->flags & F_SKIPBODY) && !chunked && !cl)
        q->up_keepalive = false;
    if (fault_http_set_status(q->x, q->status) < 0) {
        strm_fail(q, UV_EPROTO);
        return;
    }
    for (size_t i = 0; i < hd->n; i++) {
        const char *name = hp_head_name(hd, i);
        if (!hp_hop_by_hop(hd, name))
            fault_http_add_header(q->x, FAULT_HTTP_RESPONSE, name, hp_head_value(hd, i));
    }
    strm_resp_head(q);
}

/* The response ended: the connection goes back to the pool when it
 * carried exactly this exchange. */
static void h1_done(h2_strm *q)
{
    q->resp_done_h1 = true;
    strm_resp_end(q);
    if (q->up && q->req_end_sent) {
        hp_up *up = q->up;
        bool reusable = q->up_keepalive && !q->up_eof && q->up_reading &&
                        (!q->se || fault_chain_pending(q->se) == 0) &&
                        (!q->si || fault_chain_pending(q->si) == 0) && !q->h->st->stopping;
        q->up = NULL;
        fault_chain_free(q->se);
        fault_chain_free(q->si);
        q->se = q->si = NULL;
        hp_up_release(up, reusable);
    }
}

static void h1_parse(h2_strm *q, const uint8_t *d, size_t len)
{
    /* After a pause llhttp may have more to say without another byte (the
     * end of a bodiless response): it is run once more on nothing. */
    bool kick = false;
    while ((len || kick) && !q->gone && !q->h->dead && q->up) {
        if (q->resp_done_h1) {
            if (len)
                q->up_keepalive = false; /* bytes after the response */
            return;
        }
        kick = false;
        q->rp_ev = EV_NONE;
        const char *at = len ? (const char *)d : "";
        llhttp_errno_t e = llhttp_execute(&q->rp.p, at, len);
        size_t used = e == HPE_OK ? len : (size_t)(llhttp_get_error_pos(&q->rp.p) - at);
        d += used;
        len -= used;
        if (e == HPE_OK)
            return;
        if (e == HPE_PAUSED) {
            llhttp_resume(&q->rp.p);
            kick = true;
            if (q->rp_ev == EV_HEAD)
                h1_head(q);
            else if (q->rp_ev == EV_DONE)
                h1_done(q);
            else if (q->rp_ev == EV_FULL)
                resp_body_full(q);
            continue;
        }
        const char *why = hp_parse_error(&q->rp, e);
        fault_log_info(q->h->st->self, "%s: bad response from %s: %s", q->h->peer, q->target,
                       why ? why : llhttp_errno_name(e));
        strm_fail(q, UV_EPROTO);
        return;
    }
}

static void h1_eof(h2_strm *q)
{
    q->up_eof = true;
    q->up_keepalive = false;
    if (q->resp_done_h1)
        return;
    if (q->resp_head_known && llhttp_message_needs_eof(&q->rp.p)) {
        q->rp_ev = EV_NONE;
        llhttp_errno_t e = llhttp_finish(&q->rp.p);
        if (e == HPE_PAUSED || q->rp_ev == EV_DONE || e == HPE_OK) {
            h1_done(q);
            return;
        }
    }
    strm_fail(q, q->resp_byte ? UV_EPROTO : UV_EOF);
}

static void h1_up_read(void *owner, hp_up *up, long nread, const uint8_t *data);

static void h1_write(h2_strm *q, const uint8_t *data, size_t len)
{
    if (!q->up)
        return;
    fault_conn *c = q->up->c;
    if (fault_conn_write_queued(c) == 0) {
        long w = fault_conn_try_write(c, data, len);
        if (w < 0) {
            strm_fail(q, (int)w);
            return;
        }
        data += w;
        len -= (size_t)w;
        if (!len)
            return;
    }
    hp_h2 *h = q->h;
    h->refs++;
    if (fault_conn_write(c, data, len, on_client_written, h) < 0) {
        h->refs--;
        strm_fail(q, -EIO);
    }
}

static void h1_se_output(void *ud, const uint8_t *data, size_t len)
{
    h2_strm *q = ud;
    enter(q->h);
    h1_write(q, data, len);
    leave(q->h);
}

static void h1_si_output(void *ud, const uint8_t *data, size_t len)
{
    h2_strm *q = ud;
    enter(q->h);
    h1_parse(q, data, len);
    leave(q->h);
}

static void h1_si_eof(void *ud)
{
    h2_strm *q = ud;
    enter(q->h);
    h1_eof(q);
    leave(q->h);
}

static void h1_chain_progress(void *ud)
{
    h2_strm *q = ud;
    enter(q->h);
    leave(q->h);
}

static const fault_chain_ops h1_se_ops = {.output = h1_se_output, .progress = h1_chain_progress};
static const fault_chain_ops h1_si_ops = {.output = h1_si_output, .eof = h1_si_eof,
                                          .progress = h1_chain_progress};

/* Bytes toward the upstream (through SERVER/EGRESS when targeted). */
static void h1_out(h2_strm *q, const uint8_t *p, size_t n)
{
    if (staged(q->se)) {
        fault_chain_push(q->se, p, n);
        return;
    }
    h1_write(q, p, n);
}

static size_t h1_congestion(const h2_strm *q)
{
    if (!q->up)
        return 0;
    return fault_conn_write_queued(q->up->c) + (q->se ? fault_chain_pending(q->se) : 0);
}

static void h1_up_read(void *owner, hp_up *up, long nread, const uint8_t *data)
{
    h2_strm *q = owner;
    hp_h2 *h = q->h;
    if (q->up != up)
        return;
    enter(h);
    if (nread > 0) {
        q->resp_byte = true;
        if (q->deadline_kind == DL_RESPONSE) {
            q->deadline_kind = DL_NONE;
            q->deadline_us = 0;
        }
        if (staged(q->si))
            fault_chain_push(q->si, data, (size_t)nread);
        else
            h1_parse(q, data, (size_t)nread);
    } else if (nread == UV_EOF) {
        fault_conn_read_stop(up->c);
        q->up_reading = false;
        if (q->si)
            fault_chain_eof(q->si);
        else
            h1_eof(q);
    } else {
        q->up_reading = false;
        strm_fail(q, (int)nread);
    }
    leave(h);
}

static void h1_write_head(h2_strm *q)
{
    hp_buf *bp = &q->h->scratch;
    bp->len = 0;
    hp_buf_str(bp, fault_http_method(q->x));
    hp_buf_add(bp, " ", 1);
    hp_buf_str(bp, fault_http_path(q->x));
    hp_buf_add(bp, " HTTP/1.1\r\n", 11);
    size_t n = fault_http_header_count(q->x, FAULT_HTTP_REQUEST);
    for (size_t i = 0; i < n; i++) {
        const char *name, *value;
        fault_http_header_at(q->x, FAULT_HTTP_REQUEST, i, &name, &value);
        if (hp_name_is(name, "content-length", 14) || hp_name_is(name, "transfer-encoding", 17) ||
            hp_name_is(name, "connection", 10) || hp_name_is(name, "te", 2))
            continue;
        hp_buf_header(bp, name, value);
    }
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

static void h1_bind(h2_strm *q, hp_up *up)
{
    hp_h2 *h = q->h;
    q->up_kind = UP_H1;
    q->up = up;
    up->owner = q;
    up->on_read = h1_up_read;
    q->deadline_kind = DL_NONE;
    q->deadline_us = 0;
    if (q->targeted) {
        q->se = fault_chain_new(h->s, FAULT_DIR_EGRESS, FAULT_SIDE_SERVER, &h1_se_ops, q);
        q->si = fault_chain_new(h->s, FAULT_DIR_INGRESS, FAULT_SIDE_SERVER, &h1_si_ops, q);
        if (!q->se || !q->si) {
            strm_fail(q, -ECONNREFUSED);
            return;
        }
    }
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
    q->up_reading = true;
    fault_conn_read_start(up->c, hp_up_on_read, up);
    h1_write_head(q);
    h->dirty = true;
}

static void on_h1_ready(void *owner, hp_up *up, int status)
{
    h2_strm *q = owner;
    hp_h2 *h = q->h;
    enter(h);
    q->creq = NULL;
    if (status < 0)
        strm_fail(q, status);
    else
        h1_bind(q, up);
    leave(h);
}

static void h1_start(h2_strm *q)
{
    hp_h2 *h = q->h;
    q->up_kind = UP_H1;
    hp_up *up = hp_pool_take(h->st, q->key);
    if (up) {
        h1_bind(q, up);
        return;
    }
    int err = 0;
    q->creq = hp_connect(h->st, q, q->targeted ? h->s : NULL, q->host, q->port, q->tls, NULL,
                         on_h1_ready, &err);
    if (!q->creq) {
        strm_fail(q, err);
        return;
    }
    if (h->st->upstream_timeout_us) {
        q->deadline_kind = DL_CONNECT;
        q->deadline_us = fault_now_us() + h->st->upstream_timeout_us;
    }
}

/* Request body toward an HTTP/1.1 upstream, consumed as it goes on. */
static void h1_pump(h2_strm *q)
{
    hp_h2 *h = q->h;
    if (!q->up || !q->req_head_sent || q->req_end_sent)
        goto reads;
    while (q->reqbody.len && h1_congestion(q) < HP_HIGH_WATER && q->up && !q->gone) {
        size_t n = q->reqbody.len;
        const uint8_t *p = q->reqbody.p + q->reqbody.off;
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
        fifo_take(&q->reqbody, n);
        size_t c = n < q->unconsumed ? n : q->unconsumed;
        nghttp2_session_consume(h->ng, q->id, c);
        q->unconsumed -= c;
        h->dirty = true;
    }
    if (q->up && q->req_eof && q->reqbody.len == 0 && !q->req_end_sent) {
        if (q->req_chunked)
            h1_out(q, (const uint8_t *)"0\r\n\r\n", 5);
        q->req_end_sent = true;
        if (q->tunnel) {
            /* END_STREAM: the tunnel's FIN toward the upstream. */
            if (q->se)
                fault_chain_eof(q->se);
            else
                fault_conn_shutdown(q->up->c);
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
    if (q->up && q->up_reading) {
        size_t in = q->respbody.len + q->rin.len + (q->si ? fault_chain_pending(q->si) : 0) +
                    (q->rbc ? fault_chain_pending(q->rbc) : 0);
        if (!q->up_paused && in > HP_HIGH_WATER && !q->hold_resp) {
            q->up_paused = true;
            fault_conn_read_stop(q->up->c);
        } else if (q->up_paused && in < HP_LOW_WATER) {
            q->up_paused = false;
            fault_conn_read_start(q->up->c, hp_up_on_read, q->up);
        }
    }
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

static void tun_up_read(void *owner, hp_up *up, long nread, const uint8_t *data)
{
    h2_strm *q = owner;
    hp_h2 *h = q->h;
    if (q->up != up)
        return;
    enter(h);
    if (nread > 0) {
        if (staged(q->si))
            fault_chain_push(q->si, data, (size_t)nread);
        else
            strm_resp_data(q, data, (size_t)nread);
    } else if (nread == UV_EOF) {
        fault_conn_read_stop(up->c);
        q->up_reading = false;
        q->up_eof = true;
        if (q->si)
            fault_chain_eof(q->si);
        else
            strm_resp_end(q);
    } else {
        q->up_reading = false;
        strm_fail(q, (int)nread);
    }
    leave(h);
}

static void tun_se_eof(void *ud)
{
    h2_strm *q = ud;
    enter(q->h);
    if (q->up)
        fault_conn_shutdown(q->up->c);
    leave(q->h);
}

static void tun_si_output(void *ud, const uint8_t *data, size_t len)
{
    h2_strm *q = ud;
    enter(q->h);
    strm_resp_data(q, data, len);
    leave(q->h);
}

static void tun_si_eof(void *ud)
{
    h2_strm *q = ud;
    enter(q->h);
    strm_resp_end(q);
    leave(q->h);
}

static const fault_chain_ops tun_se_ops = {.output = h1_se_output, .eof = tun_se_eof,
                                           .progress = h1_chain_progress};
static const fault_chain_ops tun_si_ops = {.output = tun_si_output, .eof = tun_si_eof,
                                           .progress = h1_chain_progress};

static void on_tun_ready(void *owner, hp_up *up, int status)
{
    h2_strm *q = owner;
    hp_h2 *h = q->h;
    enter(h);
    q->creq = NULL;
    if (status < 0) {
        strm_fail(q, status);
        leave(h);
        return;
    }
    q->up = up;
    up->owner = q;
    up->on_read = tun_up_read;
    q->deadline_kind = DL_NONE;
    q->deadline_us = 0;
    if (q->targeted) {
        q->se = fault_chain_new(h->s, FAULT_DIR_EGRESS, FAULT_SIDE_SERVER, &tun_se_ops, q);
        q->si = fault_chain_new(h->s, FAULT_DIR_INGRESS, FAULT_SIDE_SERVER, &tun_si_ops, q);
        if (!q->se || !q->si) {
            strm_fail(q, -ECONNREFUSED);
            leave(h);
            return;
        }
    }
    q->req_head_sent = true; /* nothing to say first: bytes go as they come */
    q->up_reading = true;
    fault_conn_read_start(up->c, hp_up_on_read, up);
    fault_http_set_status(q->x, 200);
    send_head(q, true);
    leave(h);
}

static void strm_connect(h2_strm *q)
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
    publish(q, FAULT_EV_HTTP_REQUEST, 0);
    q->up_kind = UP_H1;
    int err = 0;
    q->creq = hp_connect(st, q, q->targeted ? h->s : NULL, q->host, q->port, false, NULL,
                         on_tun_ready, &err);
    if (!q->creq) {
        strm_fail(q, err);
        return;
    }
    if (st->upstream_timeout_us) {
        q->deadline_kind = DL_CONNECT;
        q->deadline_us = fault_now_us() + st->upstream_timeout_us;
    }
}

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
        if (pairs_add(&q->trailers, &dummy, (const char *)name, nl, (const char *)value, vl) < 0)
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
    if (pairs_add(&q->rhdrs, &dummy, (const char *)name, nl, (const char *)value, vl) < 0)
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
            while (pairs_next(&q->rhdrs, &off, &name, &value))
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
        resp_body_full(q);
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
static ssize_t req_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len,
                        uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    (void)ng;
    (void)id;
    (void)ud;
    h2_strm *q = src->ptr;
    hp_h2 *h = q->h;
    size_t n = q->reqbody.len < len ? q->reqbody.len : len;
    if (n) {
        memcpy(buf, q->reqbody.p + q->reqbody.off, n);
        fifo_take(&q->reqbody, n);
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

static void u_out(h2_up *u, const uint8_t *p, size_t n);

static void u_write(h2_up *u, const uint8_t *data, size_t len)
{
    if (u->dead)
        return;
    hp_h2 *h = u->h;
    if (fault_conn_write_queued(u->c) == 0) {
        long w = fault_conn_try_write(u->c, data, len);
        if (w < 0) {
            up_fail(u, (int)w);
            return;
        }
        data += w;
        len -= (size_t)w;
        if (!len)
            return;
    }
    h->refs++;
    if (fault_conn_write(u->c, data, len, on_client_written, h) < 0) {
        h->refs--;
        up_fail(u, -EIO);
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
        up_fail(u, UV_EPROTO);
    }
    u->h->dirty = true;
}

static void u_se_output(void *ud, const uint8_t *data, size_t len)
{
    h2_up *u = ud;
    enter(u->h);
    u_write(u, data, len);
    leave(u->h);
}

static void u_si_output(void *ud, const uint8_t *data, size_t len)
{
    h2_up *u = ud;
    enter(u->h);
    u_feed(u, data, len);
    leave(u->h);
}

static void u_si_eof(void *ud)
{
    h2_up *u = ud;
    enter(u->h);
    up_fail(u, UV_EOF);
    leave(u->h);
}

static void u_progress(void *ud)
{
    h2_up *u = ud;
    enter(u->h);
    leave(u->h);
}

static const fault_chain_ops u_se_ops = {.output = u_se_output, .progress = u_progress};
static const fault_chain_ops u_si_ops = {.output = u_si_output, .eof = u_si_eof,
                                         .progress = u_progress};

static void u_out(h2_up *u, const uint8_t *p, size_t n)
{
    if (staged(u->se))
        fault_chain_push(u->se, p, n);
    else
        u_write(u, p, n);
}

static void u_on_read(fault_conn *c, long nread, const uint8_t *data, void *ud)
{
    h2_up *u = ud;
    (void)c;
    if (u->dead)
        return;
    hp_h2 *h = u->h;
    enter(h);
    if (nread > 0) {
        if (staged(u->si))
            fault_chain_push(u->si, data, (size_t)nread);
        else
            u_feed(u, data, (size_t)nread);
    } else {
        u->eof = true;
        if (nread == UV_EOF && u->si) {
            fault_conn_read_stop(u->c);
            fault_chain_eof(u->si);
        } else {
            up_fail(u, (int)nread);
        }
    }
    leave(h);
}

/* The upstream HTTP/2 connection is gone: its streams fail. */
static void up_fail(h2_up *u, int err)
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

static ssize_t no_send(nghttp2_session *ng, const uint8_t *data, size_t length, int flags,
                       void *ud)
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
static nghttp2_session_callbacks *up_cbs, *client_cbs;
static nghttp2_option *options_;

static nghttp2_session_callbacks *up_callbacks(void)
{
    nghttp2_session_callbacks *cbs = up_cbs;
    if (!cbs) {
        nghttp2_session_callbacks_new(&cbs);
        nghttp2_session_callbacks_set_send_callback(cbs, no_send);
        nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, u_begin_headers);
        nghttp2_session_callbacks_set_on_header_callback(cbs, u_header);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, u_frame_recv);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, u_data_chunk);
        nghttp2_session_callbacks_set_on_stream_close_callback(cbs, u_stream_close);
        up_cbs = cbs;
    }
    return cbs;
}

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

static nghttp2_mem session_mem = {.malloc = mem_malloc, .free = mem_free, .calloc = mem_calloc,
                                  .realloc = mem_realloc};

static nghttp2_option *session_options(void)
{
    if (!options_) {
        nghttp2_option_new(&options_);
        nghttp2_option_set_no_auto_window_update(options_, 1);
        /* Our HPACK encoders keep at most this much, whatever table size
         * a peer allows. */
        nghttp2_option_set_max_deflate_dynamic_table_size(options_, H2_HPACK_TABLE);
    }
    return options_;
}

static h2_up *up_new(hp_h2 *h, h2_route *r, fault_conn *c, bool targeted)
{
    h2_up *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->h = h;
    u->route = r;
    u->c = c;
    if (nghttp2_session_client_new3(&u->ng, up_callbacks(), u, session_options(),
                                    &session_mem) != 0) {
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
    fault_conn_read_start(c, u_on_read, u);
    return u;
}

static void h2up_submit(h2_strm *q, h2_up *u)
{
    hp_h2 *h = q->h;
    q->up_kind = UP_H2;
    q->deadline_kind = DL_NONE;
    q->deadline_us = 0;
    nvb *bp = nvb_get(h);
    if (!bp) {
        strm_fail(q, -ENOMEM);
        return;
    }
    const char *host = fault_http_header(q->x, FAULT_HTTP_REQUEST, "host");
    nvb_add(bp, ":method", fault_http_method(q->x));
    nvb_add(bp, ":scheme", "https");
    nvb_add(bp, ":authority", host ? host : q->target);
    nvb_add(bp, ":path", fault_http_path(q->x));
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
        nvb_add(bp, name, value);
    }
    char clen[24];
    if (held && !fault_http_is_body_watched(q->x, FAULT_DIR_EGRESS)) {
        snprintf(clen, sizeof clen, "%zu", held_len);
        nvb_add(bp, "content-length", clen);
    }
    bool body = !(q->req_eof && q->reqbody.len == 0);
    nghttp2_data_provider prd = {.source.ptr = q, .read_callback = req_read};
    int32_t id = nghttp2_submit_request(u->ng, NULL, nvb_done(bp), bp->n, body ? &prd : NULL, q);
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

static void on_route_ready(void *owner, hp_up *up, int status)
{
    h2_route *r = owner;
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
    enter(h);
    r->waiting = NULL;
    if (status < 0) {
        r->state = RT_NONE;
        for (h2_strm *q = w, *nx; q; q = nx) {
            nx = q->wnext;
            q->wnext = NULL;
            q->up_kind = UP_NONE;
            strm_fail(q, status);
        }
        leave(h);
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
            leave(h);
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
                h1_bind(q, up);
            } else {
                h1_start(q);
            }
        }
        if (!used)
            hp_up_release(up, true);
    }
    leave(h);
}

static void strm_dispatch(h2_strm *q)
{
    hp_h2 *h = q->h;
    if (q->gone || h->dead)
        return;
    if (!q->tls) {
        h1_start(q);
        return;
    }
    h2_route *r = route_find(h, q->key);
    if (r && r->state == RT_H2 && r->u && !r->u->dead && !r->u->goaway) {
        h2up_submit(q, r->u);
        return;
    }
    if (r && r->state == RT_H1) {
        h1_start(q);
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
    r->creq = hp_connect(h->st, r, q->targeted ? h->s : NULL, q->host, q->port, true, ALPN_H2_H1,
                         on_route_ready, &err);
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
static void strm_release_upstream(h2_strm *q, bool reset)
{
    hp_h2 *h = q->h;
    hp_connect_cancel(q->creq);
    q->creq = NULL;
    fault_chain_free(q->se);
    fault_chain_free(q->si);
    q->se = q->si = NULL;
    if (q->up) {
        hp_up *up = q->up;
        q->up = NULL;
        up->owner = NULL;
        hp_up_close(up, reset);
    }
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

/* ---- the pumps, run once per loop iteration ---- */

static void up_flush(h2_up *u)
{
    if (u->dead)
        return;
    u->out.len = 0;
    while (!u->dead) {
        size_t cong = fault_conn_write_queued(u->c) + (u->se ? fault_chain_pending(u->se) : 0) +
                      u->out.len;
        if (cong >= HP_HIGH_WATER)
            break;
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(u->ng, &data);
        if (n < 0) {
            up_fail(u, UV_EPROTO);
            return;
        }
        if (n == 0)
            break;
        hp_buf_add(&u->out, data, (size_t)n);
    }
    if (u->out.len && !u->dead)
        u_out(u, u->out.p, u->out.len);
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
            fault_conn_read_start(u->c, u_on_read, u);
        }
    }
    /* Idle after a GOAWAY: nothing more will come. */
    if (u->goaway && u->nstreams == 0 && !nghttp2_session_want_write(u->ng))
        up_fail(u, 0);
}

static void client_flush(hp_h2 *h)
{
    h->out.len = 0;
    while (!h->dead) {
        size_t cong = fault_conn_write_queued(h->c) + (h->cin ? fault_chain_pending(h->cin) : 0) +
                      h->out.len;
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

static void pump(hp_h2 *h)
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
                qbc_pump(q);
            if (q->rbc && !q->gone)
                rbc_pump(q);
            if (q->gone)
                continue;
            if (q->up_kind == UP_H1)
                h1_pump(q);
            if (q->u && q->up_deferred && (q->reqbody.len || q->req_eof)) {
                q->up_deferred = false;
                nghttp2_session_resume_data(q->u->ng, q->uid);
            }
            if (q->head_sent && q->deferred && (q->respbody.len || q->resp_eof)) {
                q->deferred = false;
                nghttp2_session_resume_data(h->ng, q->id);
            }
            if (h->bridged)
                br_deliver(q);
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

static void on_timer(uv_timer_t *t)
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
    enter(h);
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
                           "%s: stream %d: request head not complete after %.3g s: closed",
                           h->peer, q->id, (double)h->st->header_timeout_us / 1e6);
            nghttp2_session_terminate_session(h->ng, NGHTTP2_PROTOCOL_ERROR);
            h->dirty = true;
            break;
        }
        if (!q->head_sent)
            strm_fail(q, UV_ETIMEDOUT);
        q->deadline_kind = DL_NONE;
    }
    leave(h);
}

static void arm_deadlines(hp_h2 *h)
{
    if (h->finishing)
        return;
    if (h->bridged) {
        if (h->kick)
            uv_timer_start(&h->timer, on_timer, 0, 0);
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
    uv_timer_start(&h->timer, on_timer, ms, 0);
}

/* ---- lifecycle ---- */

static void on_stream_end(fault_stream *s, bool reset, void *ud)
{
    hp_h2 *h = ud;
    (void)s;
    enter(h);
    h2_teardown(h, reset, 0);
    leave(h);
}

static void h2_teardown(hp_h2 *h, bool reset, int error)
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
        up_fail(u, 0);
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
        uv_timer_start(&h->timer, on_timer, 0, 0);
        return;
    }
    h->refs--; /* the session's own reference (callers hold another) */
}

static nghttp2_session_callbacks *client_callbacks(void)
{
    nghttp2_session_callbacks *cbs = client_cbs;
    if (!cbs) {
        nghttp2_session_callbacks_new(&cbs);
        nghttp2_session_callbacks_set_send_callback(cbs, no_send);
        nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, cb_begin_headers);
        nghttp2_session_callbacks_set_on_header_callback(cbs, cb_header);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, cb_frame_recv);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, cb_data_chunk);
        nghttp2_session_callbacks_set_on_stream_close_callback(cbs, cb_stream_close);
        nghttp2_session_callbacks_set_on_frame_send_callback(cbs, cb_frame_send);
        client_cbs = cbs;
    }
    return cbs;
}

void hp_h2_shutdown(void)
{
    nghttp2_session_callbacks_del(up_cbs);
    nghttp2_session_callbacks_del(client_cbs);
    nghttp2_option_del(options_);
    up_cbs = client_cbs = NULL;
    options_ = NULL;
}

void hp_h2_start(hp_front *fr, fault_conn *c, fault_stream *s, const uint8_t *initial, size_t len)
{
    hp_state *st = fr->st;
    hp_h2 *h = calloc(1, sizeof *h);
    if (!h || nghttp2_session_server_new3(&h->ng, client_callbacks(), h, session_options(),
                                          &session_mem) != 0) {
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
    enter(h);
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, H2_MAX_STREAMS},
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
        h->cin = h->ceg ? fault_chain_new(s, FAULT_DIR_INGRESS, FAULT_SIDE_CLIENT, &cin_ops, h)
                        : NULL;
        if (!h->ceg || !h->cin) {
            fault_log_warn(st->self, "%s: a fault refused the connection", h->peer);
            h2_teardown(h, true, -ECONNREFUSED);
            leave(h);
            return;
        }
    }
    if (fault_conn_read_start(c, on_client_read, h) < 0) {
        h2_teardown(h, true, -EIO);
        leave(h);
        return;
    }
    if (len)
        on_client_read(c, (long)len, initial, h);
    leave(h);
}

void hp_h2_close_all(hp_state *st)
{
    /* Pumps still due run first, as they would have before the loop
     * polled again (nothing more is queued once stopping). */
    if (st->h2_flush_init)
        on_flush(&st->h2_flush);
    while (st->h2s) {
        hp_h2 *h = st->h2s;
        enter(h);
        h2_teardown(h, false, 0);
        leave(h);
    }
    /* Every connection is torn down: those the pumps left queued (with
     * work left) only have their references to drop. */
    if (st->h2_flush_init) {
        on_flush(&st->h2_flush);
        uv_close((uv_handle_t *)&st->h2_flush, NULL);
        uv_close((uv_handle_t *)&st->h2_more, NULL);
        st->h2_flush_init = false;
    }
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
    enter(h);
}

static void br_leave(hp_h2 *h)
{
    leave(h);
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
    while (pairs_next(&q->rhdrs, &off, &name, &value)) {
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
static void br_deliver(h2_strm *q)
{
    hp_h2 *h = q->h;
    if (q->gone || !q->sess)
        return;
    if (h->from_sess) {
        h->kick = true;
        return;
    }
    void *sess = q->sess;
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
            const uint8_t *p = q->respbody.p + q->respbody.off;
            if (q->b_chunked) {
                hp_buf_hex(b, n);
                hp_buf_add(b, "\r\n", 2);
            }
            hp_buf_add(b, p, n);
            if (q->b_chunked)
                hp_buf_add(b, "\r\n", 2);
            fifo_take(&q->respbody, n);
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

h2_strm *hp_h2b_submit(hp_h2 *h, void *sess, fault_http_exchange *x, const char *key,
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
    if (fifo_add(&q->reqbody, p, n) < 0)
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
    uv_timer_start(&h->timer, on_timer, 0, 0);
}
