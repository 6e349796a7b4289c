/*
 * plugins/http/h2int.h - what the files of the HTTP/2 code share (h2.c,
 * h2_exchange.c, h2_h1up.c, h2up.c, and tunnel.c for CONNECT streams):
 * the connection, stream, upstream and route types, and the functions one
 * file calls in another. Not used outside them; the rest of the plugin
 * sees proxy.h.
 */
#ifndef FAULT_HTTP_H2INT_H
#define FAULT_HTTP_H2INT_H

#include <nghttp2/nghttp2.h>

#include "h1up.h"

#define H2_MAX_STREAMS   128
#define H2_STREAM_WINDOW HP_HIGH_WATER
#define H2_CONN_WINDOW   (16 * 1024 * 1024)
/* Header lists, each way: at most this much decoded, counted as RFC 9113
 * 6.5.2 counts SETTINGS_MAX_HEADER_LIST_SIZE (name + value + 32 bytes per
 * field), the same bound as an HTTP/1 head; and an HPACK dynamic table of
 * the default 4 KiB each way. A header block refers to its table entries
 * as often as it likes (one byte each), so what a block decodes to is only
 * bounded by counting as it is decoded. */
#define H2_MAX_HEADER_LIST HP_MAX_HEAD
#define H2_HPACK_TABLE     4096
#define ALPN_H2_H1         "\x02h2\x08http/1.1"
/* Storage a stream's emptied body queue keeps (a bulk body refills it). */
#define H2_FIFO_KEEP (256 * 1024)

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
    bool gone;      /* the client's stream closed: freed at the next sweep */
    h2_strm *next;  /* in h->streams */
    h2_strm *wnext; /* in a route's waiting list */

    /* the request as it came */
    char *method, *scheme, *authority, *path;
    hp_buf hdrs; /* name\0value\0 pairs, lower-case names */
    size_t nhdrs;
    size_t hdr_bytes;    /* of the request head and trailers, as decoded */
    size_t up_hdr_bytes; /* of the upstream's heads and trailers */
    bool head_done, req_eof, req_cl;
    bool cli_eof; /* the client's END_STREAM (req_eof: the end of what
                     goes upstream, later when bodies are held/watched) */
    uint64_t req_clen;
    hp_fifo reqbody;   /* DATA not yet sent upstream */
    size_t unconsumed; /* client DATA bytes not yet consumed */
    bool discard;      /* answered: request DATA is dropped */

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
    hp_fifo respbody;
    hp_buf rhdrs;    /* upstream HTTP/2 response headers, pairs */
    hp_buf trailers; /* upstream HTTP/2 trailers, pairs */
    size_t ntrailers;
    bool resp_head_known;
    bool no_body;
    bool up_done; /* the upstream's response ended */

    /* Bodies for the hooks (SDK 1.2): held whole before a message's hooks
     * run (in reqbody/respbody, up to hold_*max bytes), or watched by
     * on_body hooks through a body chain (qbc/rbc, fed from qin/rin). */
    bool hold_req, held_req, hold_resp, held_resp;
    size_t hold_qmax, hold_rmax;
    fault_chain *qbc, *rbc;
    hp_fifo qin, rin; /* decoded body not yet pushed into qbc/rbc */
    bool qbc_eof, rin_eof, rbc_eof;

    /* upstream */
    int up_kind;
    uint64_t deadline_us;
    int deadline_kind;
    /* HTTP/1.1 */
    hp_h1up h1;     /* the connection (h1up.h) */
    hp_up_user upu; /* h2_h1_user, or tunnel.c's for CONNECT */
    hp_parser rp;
    bool rp_init, req_chunked, req_head_sent, req_end_sent;
    bool interim, up_keepalive, resp_byte, resp_done_h1;
    bool tunnel;  /* CONNECT: the HTTP/1.1 fields above carry raw bytes */
    hp_drive rpd; /* runs rp on rpin */
    hp_fifo rpin;
    /* HTTP/2 */
    h2_up *u;
    int32_t uid;
    size_t up_unconsumed; /* upstream DATA bytes not yet consumed */
    bool up_deferred;

    /* An HTTP/1 session's exchange (a bridge stream, see hp_h2b_new()):
     * the response goes to the session as HTTP/1.1 bytes */
    struct hp_sess *sess;
    hp_buf b_head; /* a head for the session, not yet handed over */
    bool b_chunked, b_cl;
    uint64_t b_clen, b_sent;
    int b_err; /* a failure for the session, not yet told */
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
    hp_up_user upu;
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
    struct nvb *nv; /* header lists for nghttp2, reused */
    /* A bridge: no client session; its streams are an HTTP/1 session's
     * exchanges (hp_h2b_new()). from_sess: an entry from that session,
     * which must not be called back from inside (kick: later, from the
     * timer). */
    bool bridged, kick;
    int from_sess;
    char peer[64];
    hp_h2 *prev, *next;
    hp_due due; /* queued for the pumps (holds a reference) */
};

/* nghttp2 wants lower-case names: a plugin may have set any case. */
typedef struct nvb {
    nghttp2_nv *nv;
    size_t n, cap;
    hp_buf text;
    size_t *offs; /* name, value offsets per entry, fixed up at the end */
} nvb;

/* ---- shared between the files ---- */

/* Small helpers of the hot path, inline in every file. */

static inline void h2_enter(hp_h2 *h)
{
    h->refs++;
    h->depth++;
}

/* A chain without stages hands bytes straight to its output: skipping it
 * saves a copy and an allocation per write on the hot path. */
static inline bool h2_staged(const fault_chain *c)
{
    return c && fault_chain_stages(c) > 0;
}

extern nghttp2_session_callbacks *h2_up_cbs, *h2_client_cbs;
extern nghttp2_mem h2_session_mem;

/* h2.c: the client connection */
void h2_leave(hp_h2 *h);
void h2_publish(h2_strm *q, fault_event_type type, int status);
void h2_on_client_written(fault_conn *c, int status, void *ud);
ssize_t h2_resp_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                     nghttp2_data_source *src, void *ud);
ssize_t h2_no_send(nghttp2_session *ng, const uint8_t *data, size_t length, int flags, void *ud);
nghttp2_option *h2_session_options(void);
void h2_on_timer(uv_timer_t *t);
void h2_teardown(hp_h2 *h, bool reset, int error);

/* h2_exchange.c: header helpers; a client stream as an exchange */
int h2_pairs_add(hp_buf *b, size_t *n, const char *name, size_t nl, const char *value, size_t vl);
bool h2_pairs_next(const hp_buf *b, size_t *off, const char **name, const char **value);
bool h2_banned(const char *name);
int h2_nvb_add(nvb *b, const char *name, const char *value);
nghttp2_nv *h2_nvb_done(nvb *b);
void h2_nvb_free(nvb *b);
nvb *h2_nvb_get(hp_h2 *h);
void h2_send_head(h2_strm *q, bool body);
void strm_answer(h2_strm *q, int status, const char *text, bool from_x);
void strm_fail(h2_strm *q, int err);
void strm_bodies_free(h2_strm *q);
void h2_qbc_pump(h2_strm *q);
void h2_rbc_pump(h2_strm *q);
void h2_req_body_full(h2_strm *q);
void h2_body_held(h2_strm *q, fault_http_msg m);
void strm_head(h2_strm *q);
void strm_req_eof(h2_strm *q);
void strm_resp_head(h2_strm *q);
void h2_resp_body_full(h2_strm *q);
bool strm_resp_data(h2_strm *q, const uint8_t *p, size_t n);
void strm_resp_end(h2_strm *q);

/* h2_h1up.c: the HTTP/1.1 upstream of a stream */
void h1_se_output(void *ud, const uint8_t *data, size_t len);
/* h2_h1up.c: the hp_h1up ops a stream's HTTP/1.1 upstream and its CONNECT
 * tunnel (tunnel.c) share. */
void *h2_h1up_enter(hp_h1up *u);
void h2_h1up_leave(void *ctx);
void h2_h1up_fail(hp_h1up *u, int err);
void *h2_h1up_hold(hp_h1up *u);
void h2_h1up_unhold(void *ud);
void h1_chain_progress(void *ud);
void h2_h1_bind(h2_strm *q, hp_up *up);
void h2_h1_start(h2_strm *q);
void h2_h1_pump(h2_strm *q);

/* tunnel.c: CONNECT streams */
void strm_connect(h2_strm *q);

/* h2up.c: HTTP/2 upstreams, routes, bridges */
void h2_u_out(h2_up *u, const uint8_t *p, size_t n);
void h2_u_on_read(fault_conn *c, long nread, const uint8_t *data, void *ud);
void h2_up_fail(h2_up *u, int err);
void strm_dispatch(h2_strm *q);
void strm_release_upstream(h2_strm *q, bool reset);
void h2_br_deliver(h2_strm *q);

#endif /* FAULT_HTTP_H2INT_H */
