/*
 * plugins/http/session.h - what the files of the HTTP/1 session share
 * (session.c, sess_request.c, sess_upstream.c, and tunnel.c for
 * CONNECT): the session and exchange
 * types, and the functions one file calls in another. Not used outside
 * them; the rest of the plugin sees proxy.h.
 */
#ifndef FAULT_HTTP_SESSION_H
#define FAULT_HTTP_SESSION_H

#include "h1up.h"

/* How long a closed-for-writing client connection is still read (and the
 * bytes dropped) so that our last response is not destroyed by an RST
 * answering bytes nobody read. */
#define LINGER_MS 2000
/* Storage an emptied input queue keeps; more goes back to the allocator,
 * so a burst (a pipelined batch, a stalled upload) does not pin memory. */
#define SESS_FIFO_KEEP (64 * 1024)

/* The parsers' events (proxy.h): EV_FULL is a body held for the hooks
 * that outgrew what they asked for. */
enum { RQ_HEAD, RQ_DISPATCH, RQ_BODY, RQ_WAIT, RQ_TUNNEL, RQ_BROKEN };
enum { RS_HEAD, RS_HOOK, RS_BODY, RS_DONE };
enum { T_NONE, T_CONNECT, T_RESPONSE, T_LINGER, T_FINISH };

typedef struct seg {
    struct seg *next;
    bool targeted, eof;
    size_t len;
    uint8_t data[];
} seg;

typedef struct segq {
    seg *head, *tail;
    size_t bytes;
} segq;

typedef struct hp_ex {
    bool active;
    fault_http_exchange *x;
    bool targeted, connect, is_head, expect;
    bool req_chunked, req_cl, req_body;
    uint64_t req_clen;
    int major, minor;
    bool keepalive;   /* the client may send another request */
    bool close_after; /* close the client connection after this response */
    bool discard;     /* the rest of the request body is read and dropped */
    char host[HP_MAX_HOST];
    uint16_t port;
    bool tls;
    char target[HP_MAX_HOST + 8]; /* host:port, for events */
    hp_h1up h1;                   /* an HTTP/1.1 upstream connection (h1up.h) */
    struct h2_strm *h2;           /* or a stream of the session's HTTP/2 bridge */
    bool reused;
    int retries;
    bool req_done;
    int rs;
    int status;
    bool interim, no_body, resp_cl, resp_chunked, up_keepalive;
    uint64_t resp_clen;
    bool resp_byte; /* a byte came back from the upstream */
    bool out_chunked;
    bool head_sent;   /* a response head went to the client path */
    bool resp_done;   /* the whole response went to the client path */
    bool eof_pending; /* upstream EOF while the response hook ran */
    bool splicing;    /* the body goes upstream -> client in the kernel */
    /* Whole bodies for the hooks (fault_http_wanted_body): the body is
     * read into s->qhold / s->rhold before the hooks of its message run;
     * held_* once the exchange has it (it goes on with a Content-Length);
     * spill_* when it outgrew hold_max (what was read goes on first). */
    bool hold_req, held_req, spill_req;
    bool hold_resp, held_resp, spill_resp;
    size_t hold_max;
    /* Bodies through the on_body hooks of the plugins that watch them
     * (fault_http_body_chain_new), decoded; they go on chunked since a hook
     * may change their length. NULL when nobody watches. */
    fault_chain *qbc, *rbc;
    /* Kept across exchanges (everything above is reset per exchange). */
    hp_fifo rinb;
} hp_ex;

typedef struct hp_sess {
    hp_state *st;
    hp_front *fr;
    fault_conn *c;
    fault_stream *s;
    int refs;
    bool dead;
    int finish_error;
    bool finish_reset;
    struct hp_sess *prev, *next;
    uv_timer_t timer;
    int timer_use;
    char peer[64];

    bool c_paused, c_eof_read, c_eof, eof_handled, linger;
    uint64_t bytes_eg, bytes_in;

    /* labelling ahead of the CLIENT/EGRESS chain */
    bool front_on, front_done, front_known, front_label;
    int front_ev;
    hp_parser front;
    hp_fifo unlabeled;
    bool eg_label;

    segq eq;
    fault_chain *ceg;
    bool in_epump, epump_again;

    hp_parser req;
    hp_drive reqd; /* runs req on inb */
    hp_fifo inb;
    int rq;
    bool req_started;
    uint64_t head_since; /* the request head's first byte, until complete */

    segq oq;
    fault_chain *cin;
    bool in_opump, opump_again, out_closed, out_eof_queued, out_label;
    hp_buf scratch;

    /* Writes are gathered and handed to each socket in one go at the end
     * of the loop iteration (a response head and the body that came in
     * the same read: one system call, not two). cork counts the events
     * in progress; flush: queued in st->due for that (holds a
     * reference), and later writes are gathered too, to keep the order. */
    int cork;
    hp_buf ccork, ucork;
    hp_up *ucork_up;
    hp_due flush;

    hp_parser resp;
    hp_drive respd; /* runs resp on ex.rinb */

    hp_buf qhold, rhold; /* bodies being held for the hooks */
    bool next_exchange;  /* fault_stream_next_exchange() at the next head */
    struct hp_h2 *h2b;   /* HTTP/2 upstreams (h2.c), made on first use */
    hp_up_user upu;      /* the exchange's upstream connection (sess_up_user) */

    hp_ex ex;
} hp_sess;

/* ---- shared between the files ---- */

/* Small helpers of the hot path, inline in every file of the session. */

static inline void sess_ref(hp_sess *s)
{
    s->refs++;
}

static inline size_t sess_pend(const fault_chain *c)
{
    return c ? fault_chain_pending(c) : 0;
}

/* Bytes into a chain. A chain without stages hands them to its output at
 * once anyway: calling the output directly saves the copy into a node and
 * its allocation, on every read of the hot path. */
static inline void sess_cpush(fault_chain *c, const fault_chain_ops *ops, void *ud,
                              const uint8_t *p, size_t n)
{
    if (fault_chain_stages(c) == 0)
        ops->output(ud, p, n);
    else
        fault_chain_push(c, p, n);
}

static inline void sess_timer_stop(hp_sess *s, int use)
{
    if (s->timer_use == use) {
        uv_timer_stop(&s->timer);
        s->timer_use = T_NONE;
    }
}

static inline void sess_cork_begin(hp_sess *s)
{
    s->cork++;
}

extern const fault_chain_ops sess_qbc_ops;
extern const fault_chain_ops sess_rbc_ops;
extern llhttp_settings_t sess_req_settings, sess_resp_settings, sess_front_settings;

/* session.c: the client connection */
void sess_unref(hp_sess *s);
void sess_timer_start(hp_sess *s, int use, uint64_t ms);
void sess_publish_request(hp_sess *s);
void sess_publish_response(hp_sess *s, int status);
bool sess_label_of(hp_sess *s, bool connect, const char *url, size_t len);
void sess_respond(hp_sess *s, int status, const char *text, bool from_x, bool force_close);
void sess_client_write_now(hp_sess *s, const uint8_t *p, size_t n);
void sess_cork_end(hp_sess *s);
void sess_out_write(hp_sess *s, bool targeted, const uint8_t *p, size_t n);
void sess_out_eof(hp_sess *s);
void sess_ex_finish(hp_sess *s);
void sess_flow(hp_sess *s);
void sess_teardown(hp_sess *s, bool reset, int error);
void sess_head_sweep_arm(hp_state *st);

/* sess_request.c: the request side; bodies through on_body hooks */
int sess_req_on_headers(llhttp_t *p);
int sess_req_on_body(llhttp_t *p, const char *at, size_t n);
int sess_req_on_complete(llhttp_t *p);
int sess_req_on_begin(llhttp_t *p);
extern const hp_drive_ops sess_req_drive;
void sess_req_run(hp_sess *s, const uint8_t *p, size_t n);
void sess_deliver(hp_sess *s, const uint8_t *p, size_t n);
void sess_deliver_eof(hp_sess *s);
void sess_body_chains_free(hp_ex *ex);
fault_chain *sess_body_chain(hp_sess *s, fault_direction dir, const fault_chain_ops *ops);
void sess_req_body_out(hp_sess *s, const uint8_t *p, size_t n, bool chunked);
void sess_req_body_end(hp_sess *s, bool chunked);

/* sess_upstream.c: the upstream side */
void sess_maybe_arm_response_timer(hp_sess *s);
void sess_up_write_now(hp_sess *s, const uint8_t *p, size_t n);
void sess_up_out(hp_sess *s, const uint8_t *p, size_t n);
void sess_up_drop(hp_sess *s, bool reset);
void sess_ex_connect(hp_sess *s);
void sess_ex_dispatch(hp_sess *s);
int sess_resp_on_headers(llhttp_t *p);
int sess_resp_on_body(llhttp_t *p, const char *at, size_t n);
int sess_resp_on_complete(llhttp_t *p);
extern const hp_drive_ops sess_resp_drive;
extern const hp_up_user_ops sess_up_user;
void sess_finish_response(hp_sess *s);
void sess_maybe_splice(hp_sess *s);

/* tunnel.c: CONNECT */
void sess_start_tunnel(hp_sess *s);
void sess_tunnel_try_switch(hp_sess *s);

#endif /* FAULT_HTTP_SESSION_H */
