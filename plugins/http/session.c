/*
 * plugins/http/session.c - one client connection of the HTTP proxy
 * (forward or reverse): parsing requests, one exchange at a time, and
 * moving the bytes of each through fault chains.
 *
 * Every leg is a wire, and every wire has its chain, so stream faults act
 * on the bytes they would see on a network:
 *
 *   client --raw--> [CLIENT/EGRESS] --> request parser --> rewritten
 *   request --> [SERVER/EGRESS] --> upstream --raw--> [SERVER/INGRESS] -->
 *   response parser --> re-framed response --> [CLIENT/INGRESS] --> client
 *
 * HTTP/2 upstreams: a new connection to an https:// upstream (a mapping,
 * --http-upstream-override, the inside of an intercepted tunnel, an
 * absolute https:// URL) offers ALPN "h2, http/1.1". When the upstream
 * picks h2, the connection goes to the session's HTTP/2 bridge (h2.c,
 * hp_h2b_*), which keeps it for the session's later exchanges with that
 * upstream; the exchange becomes one stream on it: HEADERS from the
 * exchange's request (hooks already run, Host as :authority, hop-by-hop
 * headers left out), DATA from the body as llhttp decodes it (chunked or
 * not), and the response handed back as HTTP/1.1 bytes (Content-Length or
 * chunked) to the response parser below, so response hooks, re-framing
 * and the client path are the same as for an HTTP/1.1 upstream. Stream
 * faults apply to that connection's bytes (the bridge's SERVER chains),
 * not to the translated ones; the splice path is not used there.
 *
 * Bodies stream: nothing waits for a whole message. Chunked bodies are
 * decoded by llhttp and re-framed here (one chunk per piece of body), so a
 * server-sent event reaches the client as soon as it passed the faults.
 *
 * Targeting (--upstream): a request for a host that is not targeted goes
 * through no stage and no HTTP hook. Its bytes still keep their place on
 * the connection: client bytes are labelled per request by a second, cheap
 * parser ahead of the CLIENT/EGRESS chain (only when --upstream selects
 * some hosts), and unlabelled bytes wait while labelled ones before them
 * are still inside a chain, so nothing is reordered.
 *
 * Exchanges: requests are handled in order, one at a time (a pipelined
 * request waits, parsed no further, until the previous response has been
 * handed to the client path). For a request of targeted traffic,
 * fault_http_run_request() runs once its head is known and before any
 * byte goes upstream; fault_http_run_response() once the upstream's status
 * and headers are known. Either may answer instead (RESPOND).
 *
 * Writes: what an event writes to either socket is gathered, and goes
 * out when the loop iteration's events have all run (a prepare handle,
 * before the loop polls again): the requests read from many clients in
 * one iteration reach the upstreams together, the responses the clients,
 * so the peers wake once for the lot rather than once per message, as
 * they would with a proxy that batches its sends.
 *
 * Flow control: the client is no longer read while more than HP_HIGH_WATER
 * bytes of it wait anywhere on the way up (our buffers, chains, the
 * upstream socket's queue), nor the upstream while its bytes wait on the
 * way down; both resume below HP_LOW_WATER.
 *
 * Bodies in the kernel: the rest of a response body of known length
 * (Content-Length, at least SPLICE_MIN bytes) that no fault stage would
 * see (no stage on the SERVER/INGRESS and CLIENT/INGRESS chains, or an
 * untargeted exchange) moves from the upstream socket to the client's with
 * fault_conn_splice(), never through user space, when both legs are plain
 * TCP and nothing of ours waits for the client. This is what keeps bulk
 * downloads near the speed of a direct connection.
 *
 * Failures: before a response head went to the client, the client gets a
 * short text answer: 502 (refused, reset, unresolvable, TLS failure, bad
 * response), 504 (--http-upstream-timeout: no response byte that long
 * after the whole request was written upstream; or the connect took that
 * long), 400 for a malformed request (then the connection closes). After
 * the head, the client connection is cut (reset if the upstream reset, else
 * closed without completing the framing), so the client sees an incomplete
 * transfer rather than a truncated success. A client that closes its side
 * before its answer came abandons the exchange (as nginx does by default):
 * a hook still PENDING hears on_end, the upstream connection is dropped.
 * A response that comes before the request body was read (an error, a
 * plugin's answer) lets the body be read and dropped, except when the
 * client waits for 100-continue: then the connection closes after the
 * answer, since that body may never come.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proxy.h"

/* How long a closed-for-writing client connection is still read (and the
 * bytes dropped) so that our last response is not destroyed by an RST
 * answering bytes nobody read. */
#define LINGER_MS 2000

/* EV_FULL: a body held for the hooks outgrew what they asked for. */
enum { EV_NONE = 0, EV_HEAD = 1, EV_DONE = 2, EV_FULL = 3 };
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
    struct hp_creq *creq;
    hp_up *up;
    struct h2_strm *h2; /* or a stream of the session's HTTP/2 bridge */
    bool reused;
    int retries;
    bool req_done;
    fault_chain *se, *si;
    bool up_paused, up_eof, up_reading;
    int rs;
    int status;
    bool interim, no_body, resp_cl, resp_chunked, up_keepalive;
    uint64_t resp_clen;
    bool resp_byte;   /* a byte came back from the upstream */
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
    hp_buf rinb;
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
    hp_buf unlabeled;
    bool eg_label;

    segq eq;
    fault_chain *ceg;
    bool in_epump, epump_again;

    hp_parser req;
    int req_ev;
    /* After a pause llhttp may have more to say without another byte
     * (the end of a bodiless message): it is run once more on nothing. */
    bool req_kick;
    hp_buf inb;
    int rq;
    bool req_started;
    uint64_t head_since; /* the request head's first byte, until complete */
    bool in_req_run, req_again;

    segq oq;
    fault_chain *cin;
    bool in_opump, opump_again, out_closed, out_eof_queued, out_label;
    hp_buf scratch;

    /* Writes are gathered and handed to each socket in one go at the end
     * of the loop iteration (a response head and the body that came in
     * the same read: one system call, not two). cork counts the events
     * in progress; flush_due: queued in st->h1_due for that (holds a
     * reference), and later writes are gathered too, to keep the order. */
    int cork;
    hp_buf ccork, ucork;
    hp_up *ucork_up;
    bool flush_due;
    struct hp_sess *flush_next;

    hp_parser resp;
    int resp_ev;
    bool resp_kick;
    bool in_resp_run, resp_again;

    hp_buf qhold, rhold; /* bodies being held for the hooks */
    bool next_exchange;  /* fault_stream_next_exchange() at the next head */
    struct hp_h2 *h2b;   /* HTTP/2 upstreams (h2.c), made on first use */

    hp_ex ex;
} hp_sess;

static llhttp_settings_t req_settings, resp_settings, front_settings;
static bool settings_ready;

static void sess_teardown(hp_sess *s, bool reset, int error);
static void req_run(hp_sess *s, const uint8_t *p, size_t n);
static void resp_run(hp_sess *s, const uint8_t *p, size_t n);
static void egress_pump(hp_sess *s);
static void out_pump(hp_sess *s);
static void out_eof(hp_sess *s);
static void flow(hp_sess *s);
static void ex_finish(hp_sess *s);
static void ex_dispatch(hp_sess *s);
static void up_failed(hp_sess *s, int err);
static void tunnel_try_switch(hp_sess *s);
static void linger_check(hp_sess *s);
static void respond(hp_sess *s, int status, const char *text, bool from_x, bool force_close);
static void out_write(hp_sess *s, bool targeted, const uint8_t *p, size_t n);
static void maybe_arm_response_timer(hp_sess *s);
static void up_drop(hp_sess *s, bool reset);
static void maybe_splice(hp_sess *s);
static void on_response_complete(hp_sess *s);

/* ---- references ---- */

static void on_timer_closed(uv_handle_t *h)
{
    hp_sess *s = h->data;
    hp_front_release(s->fr);
    hp_parser_free(&s->req);
    hp_parser_free(&s->resp);
    hp_parser_free(&s->front);
    hp_buf_free(&s->inb);
    hp_buf_free(&s->ex.rinb);
    hp_buf_free(&s->unlabeled);
    hp_buf_free(&s->scratch);
    hp_buf_free(&s->ccork);
    hp_buf_free(&s->ucork);
    hp_buf_free(&s->qhold);
    hp_buf_free(&s->rhold);
    free(s);
}

static void sess_ref(hp_sess *s) { s->refs++; }

static void sess_unref(hp_sess *s)
{
    if (--s->refs == 0)
        uv_close((uv_handle_t *)&s->timer, on_timer_closed);
}

/* ---- segment queues ---- */

static bool segq_push(segq *q, bool targeted, bool eof, const uint8_t *p, size_t n)
{
    seg *g = malloc(sizeof *g + n);
    if (!g)
        return false;
    g->next = NULL;
    g->targeted = targeted;
    g->eof = eof;
    g->len = n;
    if (n)
        memcpy(g->data, p, n);
    if (q->tail)
        q->tail->next = g;
    else
        q->head = g;
    q->tail = g;
    q->bytes += n;
    return true;
}

static seg *segq_pop(segq *q)
{
    seg *g = q->head;
    q->head = g->next;
    if (!q->head)
        q->tail = NULL;
    q->bytes -= g->len;
    return g;
}

static void segq_clear(segq *q)
{
    while (q->head)
        free(segq_pop(q));
}

static size_t pend(const fault_chain *c)
{
    return c ? fault_chain_pending(c) : 0;
}

/* Bytes into a chain. A chain without stages hands them to its output at
 * once anyway: calling the output directly saves the copy into a node and
 * its allocation, on every read of the hot path. */
static void cpush(fault_chain *c, const fault_chain_ops *ops, void *ud, const uint8_t *p,
                  size_t n)
{
    if (fault_chain_stages(c) == 0)
        ops->output(ud, p, n);
    else
        fault_chain_push(c, p, n);
}

/* ---- timers ---- */

static void on_timer(uv_timer_t *t);

static void timer_start(hp_sess *s, int use, uint64_t ms)
{
    s->timer_use = use;
    uv_timer_start(&s->timer, on_timer, ms, 0);
}

static void timer_stop(hp_sess *s, int use)
{
    if (s->timer_use == use) {
        uv_timer_stop(&s->timer);
        s->timer_use = T_NONE;
    }
}

/* ---- events ---- */

static void publish_request(hp_sess *s)
{
    if (!fault_event_wanted(FAULT_EV_HTTP_REQUEST))
        return;
    fault_event ev = {.type = FAULT_EV_HTTP_REQUEST, .size = sizeof ev};
    ev.conn_id = s->s ? fault_stream_id(s->s) : 0;
    ev.peer = s->peer;
    ev.target = s->ex.target;
    ev.method = fault_http_method(s->ex.x);
    ev.url = fault_http_url(s->ex.x);
    fault_event_publish(s->st->self, &ev);
}

static void publish_response(hp_sess *s, int status)
{
    if (!fault_event_wanted(FAULT_EV_HTTP_RESPONSE))
        return;
    fault_event ev = {.type = FAULT_EV_HTTP_RESPONSE, .size = sizeof ev};
    ev.conn_id = s->s ? fault_stream_id(s->s) : 0;
    ev.peer = s->peer;
    ev.target = s->ex.target;
    ev.method = s->ex.x ? fault_http_method(s->ex.x) : NULL;
    ev.url = s->ex.x ? fault_http_url(s->ex.x) : NULL;
    ev.status = status;
    fault_event_publish(s->st->self, &ev);
}

/* ---- chains of the client leg ---- */

static void deliver(hp_sess *s, const uint8_t *p, size_t n);
static void deliver_eof(hp_sess *s);
static void client_write(hp_sess *s, const uint8_t *p, size_t n);
static void client_shutdown(hp_sess *s);
static void cork_begin(hp_sess *s);
static void cork_end(hp_sess *s);

static void ceg_output(void *ud, const uint8_t *data, size_t len)
{
    deliver(ud, data, len);
}

static void ceg_eof(void *ud)
{
    deliver_eof(ud);
}

static void ceg_progress(void *ud)
{
    hp_sess *s = ud;
    egress_pump(s);
    flow(s);
}

static const fault_chain_ops ceg_ops = {.output = ceg_output, .eof = ceg_eof,
                                        .progress = ceg_progress};

static void cin_output(void *ud, const uint8_t *data, size_t len)
{
    client_write(ud, data, len);
}

static void cin_eof(void *ud)
{
    client_shutdown(ud);
}

static void cin_progress(void *ud)
{
    hp_sess *s = ud;
    out_pump(s);
    flow(s);
    tunnel_try_switch(s);
}

static const fault_chain_ops cin_ops = {.output = cin_output, .eof = cin_eof,
                                        .progress = cin_progress};

/* Client chains are made for the first targeted bytes, so a connection
 * that only carries untargeted traffic never attaches a fault. */
static bool client_chains(hp_sess *s)
{
    if (s->ceg)
        return true;
    s->ceg = fault_chain_new(s->s, FAULT_DIR_EGRESS, FAULT_SIDE_CLIENT, &ceg_ops, s);
    s->cin = s->ceg ? fault_chain_new(s->s, FAULT_DIR_INGRESS, FAULT_SIDE_CLIENT, &cin_ops, s)
                    : NULL;
    if (!s->ceg || !s->cin) {
        fault_log_warn(s->st->self, "%s: a fault refused the connection", s->peer);
        sess_teardown(s, true, -ECONNREFUSED);
        return false;
    }
    return true;
}

/* ---- the client leg, inbound: raw bytes to the request parser ---- */

/* Whether faults apply to the request with this target. Shared by the
 * labelling parser and the real one, so both always agree. */
static bool label_of(hp_sess *s, bool connect, const char *url, size_t len)
{
    hp_state *st = s->st;
    if (s->fr->reverse || st->match_all)
        return true;
    hp_target t;
    const char *why;
    if (hp_parse_target(url, len, connect, &t, &why) < 0)
        return true; /* refused anyway */
    if (t.form == HP_AUTHORITY)
        return hp_targeted(st, t.host, t.port);
    bool ov = st->have_override && hp_targeted(st, st->ov_host, st->ov_port);
    if (t.form == HP_ABSOLUTE)
        return hp_targeted(st, t.host, t.port) || ov;
    return st->have_override ? ov : true;
}

/* Bytes of the client, in order, with their label: targeted bytes enter
 * the CLIENT/EGRESS chain, others go straight to the parser once nothing
 * before them is still in the chain. */
static void egress_in(hp_sess *s, bool targeted, bool eof, const uint8_t *p, size_t n)
{
    if (s->dead)
        return;
    s->eg_label = targeted;
    if (!s->eq.head) {
        if (targeted) {
            if (!client_chains(s))
                return;
            if (eof)
                fault_chain_eof(s->ceg);
            else
                cpush(s->ceg, &ceg_ops, s, p, n);
            return;
        }
        if (pend(s->ceg) == 0) {
            if (eof)
                deliver_eof(s);
            else
                deliver(s, p, n);
            return;
        }
    }
    if (!segq_push(&s->eq, targeted, eof, p, n))
        sess_teardown(s, true, -ENOMEM);
}

/* Moves queued segments on in order: labelled (targeted) ones into the
 * chain c, the others to plain()/plain_eof(); an unlabelled segment waits
 * while the chain still holds bytes, so nothing overtakes. busy/again make
 * it safe to call from inside itself. */
static void seg_pump(hp_sess *s, segq *q, fault_chain **c, const fault_chain_ops *ops, bool *busy,
                     bool *again, void (*plain)(hp_sess *, const uint8_t *, size_t),
                     void (*plain_eof)(hp_sess *))
{
    if (*busy) {
        *again = true;
        return;
    }
    *busy = true;
    sess_ref(s);
    do {
        *again = false;
        while (q->head && !s->dead) {
            seg *g = q->head;
            if (!g->targeted && pend(*c) != 0)
                break;
            g = segq_pop(q);
            if (g->targeted) {
                if (client_chains(s)) {
                    if (g->eof)
                        fault_chain_eof(*c);
                    else
                        cpush(*c, ops, s, g->data, g->len);
                }
            } else if (g->eof) {
                plain_eof(s);
            } else {
                plain(s, g->data, g->len);
            }
            free(g);
        }
    } while (*again && !s->dead);
    *busy = false;
    sess_unref(s);
}

static void egress_pump(hp_sess *s)
{
    seg_pump(s, &s->eq, &s->ceg, &ceg_ops, &s->in_epump, &s->epump_again, deliver, deliver_eof);
}

static int front_on_headers(llhttp_t *p)
{
    hp_sess *s = p->data;
    s->front_ev = EV_HEAD;
    return HPE_PAUSED;
}

static int front_on_complete(llhttp_t *p)
{
    hp_sess *s = p->data;
    s->front_ev = EV_DONE;
    return HPE_PAUSED;
}

static void front_flush(hp_sess *s, bool label)
{
    if (s->unlabeled.len) {
        egress_in(s, label, false, s->unlabeled.p, s->unlabeled.len);
        hp_buf_consume(&s->unlabeled, s->unlabeled.len);
    }
}

/* Labels raw client bytes per request. The head of a request is held
 * until it is complete (its target decides the label); the body and what
 * follows a CONNECT take the label of their request. */
static void front_feed(hp_sess *s, const uint8_t *p, size_t n)
{
    while (n && !s->dead) {
        if (s->front_done) {
            egress_in(s, s->front_label, false, p, n);
            return;
        }
        s->front_ev = EV_NONE;
        llhttp_errno_t e = llhttp_execute(&s->front.p, (const char *)p, n);
        size_t used = e == HPE_OK ? n
                                  : (size_t)(llhttp_get_error_pos(&s->front.p) - (const char *)p);
        if (e == HPE_OK) {
            if (s->front_known) {
                egress_in(s, s->front_label, false, p, n);
            } else if (hp_buf_add(&s->unlabeled, p, n) < 0 || s->unlabeled.len > HP_MAX_HEAD) {
                /* Too big to be a head: the request parser refuses it. */
                s->front_done = true;
                s->front_label = true;
                front_flush(s, true);
            }
            return;
        }
        if (e == HPE_PAUSED) {
            llhttp_resume(&s->front.p);
            if (s->front_ev == EV_HEAD) {
                hp_head *h = &s->front.head;
                hp_head_done(h);
                const char *url = hp_head_url(h);
                s->front_label = label_of(s, s->front.p.method == HTTP_CONNECT, url, strlen(url));
                s->front_known = true;
                front_flush(s, s->front_label);
            }
            egress_in(s, s->front_label, false, p, used);
            if (s->front_ev == EV_DONE)
                s->front_known = false;
        } else if (e == HPE_PAUSED_UPGRADE && s->front.p.method != HTTP_CONNECT) {
            /* Upgrade is not forwarded: the connection stays HTTP. */
            llhttp_resume_after_upgrade(&s->front.p);
            egress_in(s, s->front_label, false, p, used);
            s->front_known = false;
        } else {
            /* CONNECT: the rest is the tunnel's. Or an error, which the
             * request parser will answer. */
            if (e != HPE_PAUSED_UPGRADE)
                s->front_label = true;
            s->front_done = true;
            front_flush(s, s->front_label);
            egress_in(s, s->front_label, false, p, used);
        }
        p += used;
        n -= used;
    }
}

static void on_client_read(fault_conn *c, long nread, const uint8_t *data, void *ud)
{
    hp_sess *s = ud;
    (void)c;
    if (s->dead)
        return;
    sess_ref(s);
    cork_begin(s);
    if (nread < 0) {
        if (nread != UV_EOF) {
            sess_teardown(s, true, (int)nread);
        } else {
            s->c_eof_read = true;
            fault_conn_read_stop(s->c);
            if (s->linger) {
                linger_check(s);
            } else {
                if (s->front_on && !s->front_done)
                    front_flush(s, s->front_known ? s->front_label : true);
                egress_in(s, s->eg_label, true, NULL, 0);
            }
        }
    } else if (!s->linger) {
        s->bytes_eg += (uint64_t)nread;
        if (s->front_on)
            front_feed(s, data, (size_t)nread);
        else
            egress_in(s, s->front_label, false, data, (size_t)nread);
    }
    cork_end(s);
    flow(s);
    sess_unref(s);
}

/* ---- the request parser ---- */

static int req_on_headers(llhttp_t *p)
{
    hp_sess *s = p->data;
    s->head_since = 0;
    s->req_ev = EV_HEAD;
    return HPE_PAUSED;
}

static void up_out(hp_sess *s, const uint8_t *p, size_t n);
static void req_body_out(hp_sess *s, const uint8_t *p, size_t n, bool chunked);

static int req_on_body(llhttp_t *p, const char *at, size_t n)
{
    hp_sess *s = p->data;
    hp_ex *ex = &s->ex;
    if (ex->discard || !ex->active)
        return 0;
    if (ex->hold_req) {
        if (hp_buf_add(&s->qhold, at, n) < 0)
            return HPE_USER;
        if (s->qhold.len > ex->hold_max) {
            /* Too large to hold: the hooks run without it. */
            s->req_ev = EV_FULL;
            return HPE_PAUSED;
        }
        return 0;
    }
    if (ex->qbc) {
        fault_chain_push(ex->qbc, at, n);
        return 0;
    }
    if (ex->h2) {
        req_body_out(s, (const uint8_t *)at, n, false);
        return 0;
    }
    if (ex->req_chunked) {
        /* One chunk per piece: boundaries need not match the client's. */
        s->scratch.len = 0;
        hp_buf_hex(&s->scratch, n);
        hp_buf_add(&s->scratch, "\r\n", 2);
        hp_buf_add(&s->scratch, at, n);
        hp_buf_add(&s->scratch, "\r\n", 2);
        up_out(s, s->scratch.p, s->scratch.len);
    } else {
        up_out(s, (const uint8_t *)at, n);
    }
    return 0;
}

static int req_on_complete(llhttp_t *p)
{
    hp_sess *s = p->data;
    hp_ex *ex = &s->ex;
    if (ex->active && !ex->discard && ex->qbc && !ex->hold_req)
        fault_chain_eof(ex->qbc);
    else if (ex->active && !ex->discard && ex->h2 && !ex->hold_req)
        hp_h2b_end(ex->h2);
    else if (ex->active && !ex->discard && ex->req_chunked && !ex->connect && !ex->hold_req)
        up_out(s, (const uint8_t *)"0\r\n\r\n", 5);
    s->req_ev = EV_DONE;
    return HPE_PAUSED;
}

static void head_sweep_arm(hp_state *st);

static int req_on_begin(llhttp_t *p)
{
    hp_sess *s = p->data;
    s->req_started = true;
    if (s->st->header_timeout_us) {
        s->head_since = fault_now_us();
        head_sweep_arm(s->st);
    }
    return hp_head_begin(p);
}

static bool client_keepalive(const llhttp_t *p, const hp_head *h)
{
    bool v11 = p->http_major > 1 || (p->http_major == 1 && p->http_minor >= 1);
    if (v11)
        return !hp_head_has_token(h, "connection", "close") &&
               !hp_head_has_token(h, "proxy-connection", "close");
    return hp_head_has_token(h, "connection", "keep-alive") ||
           hp_head_has_token(h, "proxy-connection", "keep-alive");
}

static void on_req_hooks(fault_http_exchange *x, fault_http_action result, void *ud)
{
    hp_sess *s = ud;
    (void)x;
    if (s->dead)
        return;
    sess_ref(s);
    cork_begin(s);
    if (result == FAULT_HTTP_RESPOND)
        respond(s, fault_http_status(s->ex.x), NULL, true, false);
    else
        ex_dispatch(s);
    req_run(s, NULL, 0);
    cork_end(s);
    flow(s);
    sess_unref(s);
}

static void start_tunnel(hp_sess *s);

static void run_request_hooks(hp_sess *s)
{
    if (fault_http_run_request(s->ex.x, on_req_hooks, s) < 0)
        ex_dispatch(s);
}

/* Whether to read the request body whole before the hooks run: a plugin
 * asked for bodies this large (fault_http_want_body). A client waiting
 * for 100-continue gets it from us, since we are the one reading. */
static bool hold_request_body(hp_sess *s)
{
    hp_ex *ex = &s->ex;
    size_t want = ex->req_body ? fault_http_wanted_body(ex->x, FAULT_HTTP_REQUEST) : 0;
    if (!want || (ex->req_cl && ex->req_clen > want))
        return false;
    ex->hold_req = true;
    ex->hold_max = want;
    s->qhold.len = 0;
    if (ex->expect) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        out_write(s, ex->targeted, (const uint8_t *)cont, sizeof cont - 1);
        fault_http_set_header(ex->x, FAULT_HTTP_REQUEST, "Expect", NULL);
        ex->expect = false;
    }
    s->rq = RQ_BODY;
    return true;
}

/* The request body grew past what the hooks asked for: stop reading,
 * run them without it; what was read goes upstream first (ex_bind). */
static void request_body_full(hp_sess *s)
{
    hp_ex *ex = &s->ex;
    ex->hold_req = false;
    ex->spill_req = true;
    s->rq = RQ_DISPATCH;
    run_request_hooks(s);
}

/* The head of a request is complete: decide where it goes, build the
 * exchange, run the request hooks, then find an upstream. */
static void on_request_head(hp_sess *s)
{
    hp_state *st = s->st;
    hp_front *fr = s->fr;
    hp_head *h = &s->req.head;
    hp_ex *ex = &s->ex;
    llhttp_t *p = &s->req.p;
    hp_head_done(h);
    if (s->next_exchange) {
        s->next_exchange = false;
        fault_stream_next_exchange(s->s);
    }
    memset(ex, 0, offsetof(hp_ex, rinb));
    ex->active = true;
    ex->rs = RS_HEAD;
    uint8_t m = llhttp_get_method(p);
    const char *method = llhttp_method_name((llhttp_method_t)m);
    ex->major = p->http_major;
    ex->minor = p->http_minor;
    ex->is_head = m == HTTP_HEAD;
    ex->connect = m == HTTP_CONNECT;
    ex->keepalive = client_keepalive(p, h);
    ex->req_chunked = (p->flags & F_CHUNKED) != 0;
    ex->req_cl = (p->flags & F_CONTENT_LENGTH) != 0;
    ex->req_clen = p->content_length;
    ex->req_body = ex->req_chunked || (ex->req_cl && ex->req_clen > 0);
    ex->expect = hp_head_has_token(h, "expect", "100-continue");
    s->rq = RQ_DISPATCH;

    const char *url = hp_head_url(h);
    hp_target t;
    const char *why;
    bool ok = hp_parse_target(url, strlen(url), ex->connect, &t, &why) == 0;
    char addressed[HP_MAX_HOST + 8] = "";
    char fullurl[HP_MAX_HOST * 2 + 64];
    const char *host_hdr = hp_head_get(h, "host");
    const char *path = t.path;
    size_t pathlen = t.pathlen;
    bool slash = false;
    if (!ok) {
        respond(s, 400, why, false, true);
        return;
    }
    if (fr->reverse) {
        if (ex->connect) {
            respond(s, 405, "CONNECT is for the forward proxy, not a mapping", false, true);
            return;
        }
        hp_copy(ex->host, sizeof ex->host, fr->host);
        ex->port = fr->port;
        ex->tls = fr->tls;
        hp_copy(addressed, sizeof addressed, host_hdr ? host_hdr : fr->authority);
    } else if (ex->connect) {
        hp_copy(ex->host, sizeof ex->host, t.host);
        ex->port = t.port;
        hp_authority(addressed, sizeof addressed, t.host, t.port, false, false);
    } else if (t.form == HP_ABSOLUTE) {
        hp_copy(ex->host, sizeof ex->host, t.host);
        ex->port = t.port;
        ex->tls = t.tls;
        hp_authority(addressed, sizeof addressed, t.host, t.port, t.tls, true);
    } else if (st->have_override) {
        hp_copy(addressed, sizeof addressed, host_hdr ? host_hdr : "");
    } else {
        respond(s, 400,
                "this is a forward proxy: send requests in absolute form (curl -x, HTTP_PROXY)",
                false, true);
        return;
    }
    if (st->have_override && !fr->reverse && !ex->connect) {
        hp_copy(ex->host, sizeof ex->host, st->ov_host);
        ex->port = st->ov_port;
        ex->tls = st->ov_tls;
        if (!addressed[0])
            hp_authority(addressed, sizeof addressed, st->ov_host, st->ov_port, st->ov_tls, true);
    }
    ex->targeted = label_of(s, ex->connect, url, strlen(url));
    hp_authority(ex->target, sizeof ex->target, ex->host, ex->port, ex->tls, false);
    if (pathlen == 0 || (path[0] != '/' && path[0] != '*'))
        slash = true;
    /* The path as it goes upstream, built in scratch: the exchange keeps
     * its own copy (fault_http_path()), which write_request_head() sends. */
    hp_buf *pb = &s->scratch;
    pb->len = 0;
    if ((slash && hp_buf_add(pb, "/", 1) < 0) || hp_buf_add(pb, path, pathlen) < 0 ||
        hp_buf_add(pb, "", 1) < 0) {
        sess_teardown(s, true, -ENOMEM);
        return;
    }
    const char *xpath = (const char *)pb->p;
    /* Built without printf: this runs for every request. On the stack
     * unless the path is long (the exchange keeps its own copy). */
    char *urlp = fullurl;
    if (ex->connect) {
        hp_copy(fullurl, sizeof fullurl, addressed);
    } else {
        bool tls = t.tls;
        const char *auth_p = addressed;
        char auth[HP_MAX_HOST + 8];
        if (fr->reverse || (st->have_override && t.form != HP_ABSOLUTE)) {
            hp_authority(auth, sizeof auth, ex->host, ex->port, ex->tls, true);
            auth_p = auth;
            tls = ex->tls;
        }
        const char *scheme = tls ? "https://" : "http://";
        size_t sl = strlen(scheme), al = strlen(auth_p), pl = strlen(xpath);
        if (sl + al + pl + 1 > sizeof fullurl && !(urlp = malloc(sl + al + pl + 1))) {
            sess_teardown(s, true, -ENOMEM);
            return;
        }
        memcpy(urlp, scheme, sl);
        memcpy(urlp + sl, auth_p, al);
        memcpy(urlp + sl + al, xpath, pl + 1);
    }
    ex->x = fault_http_exchange_new(st->self, s->s, method, urlp, addressed, xpath);
    if (urlp != fullurl)
        free(urlp);
    if (!ex->x) {
        sess_teardown(s, true, -ENOMEM);
        return;
    }
    /* Host first: the target's authority for absolute-form requests (RFC
     * 9112 3.2.2), the upstream's for mappings, the client's otherwise. */
    const char *host_out = fr->reverse && !fr->keep_host ? fr->authority : addressed;
    if (!ex->connect && host_out[0])
        fault_http_add_header(ex->x, FAULT_HTTP_REQUEST, "Host", host_out);
    bool via_done = false;
    for (size_t i = 0; i < h->n; i++) {
        const char *name = hp_head_name(h, i);
        if (hp_name_is(name, "host", 4) || hp_hop_by_hop(h, name))
            continue;
        const char *value = hp_head_value(h, i);
        if (st->via && !via_done && hp_name_is(name, "via", 3)) {
            char v[1024];
            snprintf(v, sizeof v, "%s, %d.%d fault", value, ex->major, ex->minor);
            fault_http_add_header(ex->x, FAULT_HTTP_REQUEST, name, v);
            via_done = true;
            continue;
        }
        fault_http_add_header(ex->x, FAULT_HTTP_REQUEST, name, value);
    }
    if (st->via && !via_done) {
        char v[32];
        snprintf(v, sizeof v, "%d.%d fault", ex->major, ex->minor);
        fault_http_add_header(ex->x, FAULT_HTTP_REQUEST, "Via", v);
    }
    publish_request(s);
    if (ex->connect) {
        s->rq = RQ_TUNNEL;
        start_tunnel(s);
        return;
    }
    if (!ex->targeted) {
        ex_dispatch(s);
        return;
    }
    if (hold_request_body(s))
        return;
    run_request_hooks(s);
}

static void on_request_complete(hp_sess *s)
{
    hp_ex *ex = &s->ex;
    s->req_started = false;
    ex->req_done = true;
    s->rq = RQ_WAIT;
    if (ex->hold_req) {
        /* The whole body is in: now the hooks. */
        ex->hold_req = false;
        ex->held_req = true;
        int rc = fault_http_load_body(ex->x, FAULT_HTTP_REQUEST, s->qhold.p, s->qhold.len);
        s->qhold.len = 0;
        if (rc < 0) {
            sess_teardown(s, true, rc);
            return;
        }
        run_request_hooks(s);
        return;
    }
    if (ex->resp_done) {
        ex_finish(s);
    } else {
        maybe_arm_response_timer(s);
        flow(s);
    }
}

static void bad_request(hp_sess *s, llhttp_errno_t e)
{
    hp_ex *ex = &s->ex;
    const char *reason = hp_parse_error(&s->req, e);
    bool big = s->req.head.too_big;
    int prev = s->rq;
    /* llhttp keeps failing once it failed: nothing more is parsed. */
    s->rq = RQ_BROKEN;
    fault_log_debug(s->st->self, "%s: bad request (%s): %s", s->peer, llhttp_errno_name(e),
                    reason ? reason : "");
    if (prev == RQ_BODY && ex->active && ex->head_sent) {
        /* The body of a request already answered broke: cut. */
        up_drop(s, true);
        out_eof(s);
        return;
    }
    if (!ex->active) {
        memset(ex, 0, offsetof(hp_ex, rinb));
        ex->active = true;
        ex->targeted = s->eg_label;
    }
    respond(s, big ? 431 : 400, reason, false, true);
}

static bool req_runnable(const hp_sess *s)
{
    return s->rq == RQ_HEAD || s->rq == RQ_BODY;
}

/* Feeds the request parser from inb (and p, handed in without a copy when
 * nothing waits before it), one event at a time. */
static void req_run(hp_sess *s, const uint8_t *p, size_t n)
{
    if (n && (s->in_req_run || s->inb.len || !req_runnable(s))) {
        if (hp_buf_add(&s->inb, p, n) < 0) {
            sess_teardown(s, true, -ENOMEM);
            return;
        }
        n = 0;
    }
    if (s->in_req_run) {
        s->req_again = true;
        return;
    }
    s->in_req_run = true;
    sess_ref(s);
    for (;;) {
        s->req_again = false;
        while (!s->dead && req_runnable(s) && (n || s->inb.len || s->req_kick)) {
            const uint8_t *d = n ? p : s->inb.len ? s->inb.p : (const uint8_t *)"";
            size_t len = n ? n : s->inb.len;
            bool direct = n != 0;
            n = 0;
            s->req_kick = false;
            s->req_ev = EV_NONE;
            llhttp_errno_t e = llhttp_execute(&s->req.p, (const char *)d, len);
            size_t used = e == HPE_OK
                              ? len
                              : (size_t)(llhttp_get_error_pos(&s->req.p) - (const char *)d);
            if (s->dead)
                break;
            if (direct) {
                if (used < len && hp_buf_add(&s->inb, d + used, len - used) < 0) {
                    sess_teardown(s, true, -ENOMEM);
                    break;
                }
            } else {
                hp_buf_consume(&s->inb, used);
            }
            if (e == HPE_OK)
                continue;
            if (e == HPE_PAUSED) {
                llhttp_resume(&s->req.p);
                s->req_kick = true;
                if (s->req_ev == EV_HEAD)
                    on_request_head(s);
                else if (s->req_ev == EV_DONE)
                    on_request_complete(s);
                else if (s->req_ev == EV_FULL)
                    request_body_full(s);
                continue;
            }
            if (e == HPE_PAUSED_UPGRADE && s->req.p.method != HTTP_CONNECT) {
                /* Upgrade headers were not forwarded: still HTTP. */
                llhttp_resume_after_upgrade(&s->req.p);
                continue;
            }
            if (e == HPE_PAUSED_UPGRADE)
                continue; /* CONNECT: on_request_head took over */
            bad_request(s, e);
            break;
        }
        if (s->dead || (!s->req_again && !(s->req_kick && req_runnable(s))))
            break;
    }
    /* The client finished sending: what that means depends on where the
     * current request is. */
    if (!s->dead && s->c_eof && !s->eof_handled) {
        if (s->rq == RQ_HEAD && s->inb.len == 0) {
            s->eof_handled = true;
            s->rq = RQ_BROKEN;
            out_eof(s);
        } else if (s->rq == RQ_BODY && s->inb.len == 0) {
            s->eof_handled = true;
            if (s->ex.resp_done) {
                s->rq = RQ_BROKEN;
                out_eof(s);
            } else {
                fault_log_debug(s->st->self, "%s: client closed in the middle of a request body",
                                s->peer);
                sess_teardown(s, false, 0);
            }
        } else if (s->rq == RQ_DISPATCH || s->rq == RQ_WAIT) {
            /* Like nginx, an EOF before the answer is a client that gave
             * up: the exchange is abandoned (a hook still pending hears
             * on_end, the upstream connection is dropped). */
            s->eof_handled = true;
            fault_log_debug(s->st->self, "%s: client closed before the response", s->peer);
            sess_teardown(s, false, 0);
        } else if (s->rq == RQ_TUNNEL) {
            tunnel_try_switch(s);
        }
    }
    s->in_req_run = false;
    sess_unref(s);
}

static void deliver(hp_sess *s, const uint8_t *p, size_t n)
{
    if (s->dead)
        return;
    if (s->rq == RQ_TUNNEL || s->rq == RQ_BROKEN) {
        if (s->rq == RQ_TUNNEL && hp_buf_add(&s->inb, p, n) < 0)
            sess_teardown(s, true, -ENOMEM);
        tunnel_try_switch(s);
        return;
    }
    req_run(s, p, n);
}

static void deliver_eof(hp_sess *s)
{
    if (s->dead)
        return;
    s->c_eof = true;
    req_run(s, NULL, 0);
}

/* ---- the server leg ---- */

static void on_up_written(fault_conn *c, int status, void *ud)
{
    hp_sess *s = ud;
    if (!s->dead && s->ex.up && s->ex.up->c == c) {
        if (status < 0 && status != UV_ECANCELED)
            up_failed(s, status);
        else
            flow(s);
    }
    sess_unref(s);
}

static void maybe_arm_response_timer(hp_sess *s)
{
    hp_ex *ex = &s->ex;
    if (s->dead || !ex->active || (!ex->up && !ex->h2) || !ex->req_done || ex->resp_byte ||
        ex->connect || s->timer_use != T_NONE || s->st->upstream_timeout_us == 0 ||
        pend(ex->se) != 0)
        return;
    timer_start(s, T_RESPONSE, (s->st->upstream_timeout_us + 999) / 1000);
}

static void up_write_now(hp_sess *s, const uint8_t *p, size_t n)
{
    hp_ex *ex = &s->ex;
    if (!ex->up || !n)
        return;
    fault_conn *c = ex->up->c;
    if (fault_conn_write_queued(c) == 0) {
        long w = fault_conn_try_write(c, p, n);
        if (w < 0) {
            up_failed(s, (int)w);
            return;
        }
        p += w;
        n -= (size_t)w;
        if (!n)
            return;
    }
    sess_ref(s);
    int rc = fault_conn_write(c, p, n, on_up_written, s);
    if (rc < 0) {
        sess_unref(s);
        up_failed(s, rc);
    }
}

static void up_write(hp_sess *s, const uint8_t *p, size_t n)
{
    hp_ex *ex = &s->ex;
    if (!ex->up || !n)
        return;
    if (s->cork || s->flush_due) {
        if (s->ucork.len && s->ucork_up != ex->up)
            s->ucork.len = 0; /* for a connection since dropped */
        s->ucork_up = ex->up;
        if (hp_buf_add(&s->ucork, p, n) < 0)
            sess_teardown(s, true, -ENOMEM);
        return;
    }
    up_write_now(s, p, n);
}

static void se_output(void *ud, const uint8_t *data, size_t len)
{
    up_write(ud, data, len);
}

static void se_progress(void *ud)
{
    hp_sess *s = ud;
    flow(s);
    maybe_arm_response_timer(s);
}

static const fault_chain_ops se_ops = {.output = se_output, .progress = se_progress};

static void resp_eof(hp_sess *s);

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
    flow(ud);
}

static const fault_chain_ops si_ops = {.output = si_output, .eof = si_eof,
                                       .progress = si_progress};

static void up_out(hp_sess *s, const uint8_t *p, size_t n)
{
    hp_ex *ex = &s->ex;
    if (!ex->up || !n)
        return;
    if (ex->se)
        cpush(ex->se, &se_ops, s, p, n);
    else
        up_write(s, p, n);
}

/* ---- bodies through on_body hooks ---- */

static void body_chains_free(hp_ex *ex)
{
    fault_chain_free(ex->qbc);
    fault_chain_free(ex->rbc);
    ex->qbc = ex->rbc = NULL;
}

/* A body chain for the exchange, or NULL when no plugin watches that body
 * (then it keeps its framing and zero-copy paths). */
static fault_chain *body_chain(hp_sess *s, fault_direction dir, const fault_chain_ops *ops)
{
    hp_ex *ex = &s->ex;
    if (!ex->targeted || !ex->x || !fault_http_is_body_watched(ex->x, dir))
        return NULL;
    fault_chain *c = fault_http_body_chain_new(ex->x, dir, ops, s);
    if (c && fault_chain_stages(c) == 0) {
        fault_chain_free(c);
        c = NULL;
    }
    return c;
}

/* A piece of body as one chunk of chunked framing. */
static void chunk_frame(hp_buf *b, const uint8_t *p, size_t n)
{
    b->len = 0;
    hp_buf_hex(b, n);
    hp_buf_add(b, "\r\n", 2);
    hp_buf_add(b, p, n);
    hp_buf_add(b, "\r\n", 2);
}

/* Decoded request body toward the upstream: DATA on an HTTP/2 upstream,
 * else as it is or in chunked framing. */
static void req_body_out(hp_sess *s, const uint8_t *p, size_t n, bool chunked)
{
    hp_ex *ex = &s->ex;
    if (ex->h2) {
        hp_h2b_body(ex->h2, p, n);
    } else if (chunked) {
        chunk_frame(&s->scratch, p, n);
        up_out(s, s->scratch.p, s->scratch.len);
    } else {
        up_out(s, p, n);
    }
}

/* The end of a request body that needs marking (chunked, HTTP/2). */
static void req_body_end(hp_sess *s, bool chunked)
{
    hp_ex *ex = &s->ex;
    if (ex->h2)
        hp_h2b_end(ex->h2);
    else if (chunked)
        up_out(s, (const uint8_t *)"0\r\n\r\n", 5);
}

static void qbc_output(void *ud, const uint8_t *data, size_t len)
{
    req_body_out(ud, data, len, true);
}

static void qbc_eof(void *ud)
{
    req_body_end(ud, true);
}

static void qbc_progress(void *ud)
{
    flow(ud);
}

static const fault_chain_ops qbc_ops = {.output = qbc_output, .eof = qbc_eof,
                                        .progress = qbc_progress};

static void finish_response(hp_sess *s);

static void rbc_output(void *ud, const uint8_t *data, size_t len)
{
    hp_sess *s = ud;
    hp_ex *ex = &s->ex;
    if (ex->out_chunked) {
        chunk_frame(&s->scratch, data, len);
        out_write(s, ex->targeted, s->scratch.p, s->scratch.len);
    } else {
        out_write(s, ex->targeted, data, len);
    }
}

static void rbc_eof(void *ud)
{
    hp_sess *s = ud;
    sess_ref(s);
    cork_begin(s);
    finish_response(s);
    cork_end(s);
    flow(s);
    sess_unref(s);
}

static void rbc_progress(void *ud)
{
    flow(ud);
}

static const fault_chain_ops rbc_ops = {.output = rbc_output, .eof = rbc_eof,
                                        .progress = rbc_progress};

static void server_chains_free(hp_ex *ex)
{
    fault_chain_free(ex->se);
    fault_chain_free(ex->si);
    ex->se = ex->si = NULL;
}

/* Drops the upstream connection of the exchange. */
static void up_drop(hp_sess *s, bool reset)
{
    hp_ex *ex = &s->ex;
    s->ucork.len = 0;
    hp_connect_cancel(ex->creq);
    ex->creq = NULL;
    server_chains_free(ex);
    if (ex->up) {
        hp_up *up = ex->up;
        ex->up = NULL;
        up->owner = NULL;
        hp_up_close(up, reset);
    }
    if (ex->h2) {
        hp_h2b_release(ex->h2);
        ex->h2 = NULL;
    }
    timer_stop(s, T_CONNECT);
    timer_stop(s, T_RESPONSE);
}

/* After the request head went upstream: what of the body is already
 * here goes first (all of it when it was held for the hooks; what was read
 * while they decided when it was too large to hold), through the on_body
 * hooks when a plugin watches it. */
static void request_body_begin(hp_sess *s)
{
    hp_ex *ex = &s->ex;
    size_t held_len = 0;
    const uint8_t *held = ex->held_req ? fault_http_body(ex->x, FAULT_HTTP_REQUEST, &held_len)
                                       : NULL;
    if (held && ex->qbc) {
        /* Read whole before the hooks ran: its end is already known. */
        fault_chain_push(ex->qbc, held, held_len);
        fault_chain_eof(ex->qbc);
    } else if (held) {
        /* Sent with its Content-Length on HTTP/1.1. */
        if (held_len)
            req_body_out(s, held, held_len, false);
        req_body_end(s, false);
    }
    if (ex->spill_req && s->qhold.len) {
        ex->spill_req = false;
        if (ex->qbc)
            fault_chain_push(ex->qbc, s->qhold.p, s->qhold.len);
        else
            req_body_out(s, s->qhold.p, s->qhold.len, ex->req_chunked);
    }
    s->qhold.len = 0;
}

static void write_request_head(hp_sess *s)
{
    hp_ex *ex = &s->ex;
    hp_buf *b = &s->scratch;
    b->len = 0;
    hp_buf_str(b, fault_http_method(ex->x));
    hp_buf_add(b, " ", 1);
    hp_buf_str(b, fault_http_path(ex->x));
    hp_buf_add(b, " HTTP/1.1\r\n", 11);
    size_t n = fault_http_header_count(ex->x, FAULT_HTTP_REQUEST);
    for (size_t i = 0; i < n; i++) {
        const char *name, *value;
        fault_http_header_at(ex->x, FAULT_HTTP_REQUEST, i, &name, &value);
        if (hp_name_is(name, "content-length", 14) || hp_name_is(name, "transfer-encoding", 17) ||
            hp_name_is(name, "connection", 10))
            continue;
        hp_buf_header(b, name, value);
    }
    size_t held_len = 0;
    const uint8_t *held = ex->held_req ? fault_http_body(ex->x, FAULT_HTTP_REQUEST, &held_len)
                                       : NULL;
    if (ex->req_body)
        ex->qbc = body_chain(s, FAULT_DIR_EGRESS, &qbc_ops);
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
    up_out(s, b->p, b->len);
    request_body_begin(s);
}

static void resp_start_parser(hp_sess *s);

/* An upstream connection is ours: send the head; the body follows as the
 * request parser delivers it. */
static void ex_bind(hp_sess *s, hp_up *up)
{
    hp_ex *ex = &s->ex;
    ex->up = up;
    up->owner = s;
    up->on_read = hp_sess_up_read;
    if (ex->connect) {
        /* The 200 goes out; the relay takes both sockets once it left. */
        static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
        ex->head_sent = true;
        publish_response(s, 200);
        out_write(s, ex->targeted, (const uint8_t *)ok, sizeof ok - 1);
        tunnel_try_switch(s);
        return;
    }
    if (ex->targeted) {
        ex->se = fault_chain_new(s->s, FAULT_DIR_EGRESS, FAULT_SIDE_SERVER, &se_ops, s);
        ex->si = fault_chain_new(s->s, FAULT_DIR_INGRESS, FAULT_SIDE_SERVER, &si_ops, s);
        if (!ex->se || !ex->si) {
            sess_teardown(s, true, -ECONNREFUSED);
            return;
        }
    }
    resp_start_parser(s);
    ex->up_reading = true;
    fault_conn_read_start(up->c, hp_up_on_read, up);
    write_request_head(s);
    if (s->dead)
        return;
    if (!ex->req_done && s->rq == RQ_DISPATCH)
        s->rq = RQ_BODY;
    maybe_arm_response_timer(s);
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
        ex->qbc = body_chain(s, FAULT_DIR_EGRESS, &qbc_ops);
    request_body_begin(s);
    if (s->dead)
        return;
    resp_start_parser(s);
    if (!ex->req_done && s->rq == RQ_DISPATCH)
        s->rq = RQ_BODY;
    maybe_arm_response_timer(s);
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

static void on_up_ready(void *owner, hp_up *up, int status)
{
    hp_sess *s = owner;
    hp_ex *ex = &s->ex;
    ex->creq = NULL;
    timer_stop(s, T_CONNECT);
    sess_ref(s);
    cork_begin(s);
    if (status < 0) {
        up_failed(s, status);
    } else if (ex_h2_adopt(s, up)) {
        req_run(s, NULL, 0);
    } else {
        ex_bind(s, up);
        req_run(s, NULL, 0);
    }
    cork_end(s);
    flow(s);
    sess_unref(s);
}

static void ex_connect(hp_sess *s)
{
    hp_ex *ex = &s->ex;
    int err = 0;
    ex->reused = false;
    /* https:// upstreams may choose HTTP/2 (ex_h2_adopt). */
    ex->creq = hp_connect(s->st, s, ex->targeted ? s->s : NULL, ex->host, ex->port, ex->tls,
                          ex->tls && !ex->connect ? HP_ALPN_H2_H1 : NULL, on_up_ready, &err);
    if (!ex->creq) {
        up_failed(s, err);
        return;
    }
    if (s->st->upstream_timeout_us)
        timer_start(s, T_CONNECT, (s->st->upstream_timeout_us + 999) / 1000);
}

static void ex_dispatch(hp_sess *s)
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
    ex_connect(s);
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
    up_drop(s, false);
    ex->up_eof = false;
    ex->up_paused = false;
    ex->rinb.len = 0;
    ex_connect(s);
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
        snprintf(msg, sizeof msg, "fault: %s closed the connection without a response",
                 ex->target);
    } else if (err == FAULT_ETLS) {
        snprintf(msg, sizeof msg, "fault: TLS handshake with %s failed", ex->target);
    } else {
        snprintf(msg, sizeof msg, "fault: cannot reach %s: %s", ex->target, fault_strerror(err));
    }
    fault_log_info(s->st->self, "%s %s: %s", fault_http_method(ex->x), fault_http_url(ex->x),
                   msg);
    if (!ex->head_sent) {
        respond(s, status, msg, false, ex->connect);
        return;
    }
    /* The client already has a head: it must see the message end early. */
    up_drop(s, true);
    if (err == UV_ECONNRESET || err == UV_EPIPE)
        sess_teardown(s, true, err);
    else {
        s->rq = RQ_BROKEN;
        ex->resp_done = true;
        out_eof(s);
    }
}

/* ---- the response parser ---- */

static int resp_on_headers(llhttp_t *p)
{
    hp_sess *s = p->data;
    hp_ex *ex = &s->ex;
    int status = p->status_code;
    hp_head *h = &s->resp.head;
    if (status == 101) {
        llhttp_set_error_reason(p, "upstream switched protocols unasked");
        return HPE_USER;
    }
    if (status >= 100 && status < 200) {
        /* Interim responses (100 Continue, 103) go on to HTTP/1.1
         * clients; llhttp then parses the final response. */
        ex->interim = true;
        if (ex->major == 1 && ex->minor >= 1) {
            hp_head_done(h);
            hp_buf *b = &s->scratch;
            b->len = 0;
            hp_buf_printf(b, "HTTP/1.1 %d %s\r\n", status, hp_head_url(h));
            for (size_t i = 0; i < h->n; i++)
                if (!hp_hop_by_hop(h, hp_head_name(h, i)))
                    hp_buf_header(b, hp_head_name(h, i), hp_head_value(h, i));
            hp_buf_str(b, "\r\n");
            out_write(s, ex->targeted, b->p, b->len);
        }
        return 0;
    }
    if (ex->is_head || status == 204 || status == 304)
        p->flags |= F_SKIPBODY;
    s->resp_ev = EV_HEAD;
    return HPE_PAUSED;
}

static int resp_on_body(llhttp_t *p, const char *at, size_t n)
{
    hp_sess *s = p->data;
    hp_ex *ex = &s->ex;
    if (ex->hold_resp) {
        if (hp_buf_add(&s->rhold, at, n) < 0)
            return HPE_USER;
        if (s->rhold.len > ex->hold_max) {
            s->resp_ev = EV_FULL;
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
        out_write(s, ex->targeted, b->p, b->len);
    } else {
        out_write(s, ex->targeted, (const uint8_t *)at, n);
    }
    return 0;
}

static int resp_on_complete(llhttp_t *p)
{
    hp_sess *s = p->data;
    if (s->ex.interim) {
        s->ex.interim = false;
        return 0;
    }
    s->resp_ev = EV_DONE;
    return HPE_PAUSED;
}

static void resp_start_parser(hp_sess *s)
{
    llhttp_init(&s->resp.p, HTTP_RESPONSE, &resp_settings);
    s->resp.p.data = s;
    s->resp_kick = false;
    s->ex.rs = RS_HEAD;
    s->ex.rinb.len = 0;
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
    bool no_body = ex->no_body || (status >= 100 && status < 200) || status == 204 ||
                   status == 304;
    bool close_delim = false;
    size_t held_len = 0;
    const uint8_t *held = ex->held_resp ? fault_http_body(ex->x, FAULT_HTTP_RESPONSE, &held_len)
                                        : NULL;
    if (!no_body && !ex->is_head && (ex->rbc = body_chain(s, FAULT_DIR_INGRESS, &rbc_ops))) {
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
    publish_response(s, status);
    out_write(s, ex->targeted, b->p, b->len);
    if (held && held_len && ex->rbc)
        fault_chain_push(ex->rbc, held, held_len); /* its end follows */
    else if (held && held_len && !no_body)
        out_write(s, ex->targeted, held, held_len);
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
            out_write(s, ex->targeted, b->p, b->len);
            out_write(s, ex->targeted, s->rhold.p, s->rhold.len);
            out_write(s, ex->targeted, (const uint8_t *)"\r\n", 2);
        } else {
            out_write(s, ex->targeted, s->rhold.p, s->rhold.len);
        }
    }
    s->rhold.len = 0;
}

static void on_response_complete(hp_sess *s);

static void on_resp_hooks(fault_http_exchange *x, fault_http_action result, void *ud)
{
    hp_sess *s = ud;
    (void)x;
    if (s->dead)
        return;
    hp_ex *ex = &s->ex;
    sess_ref(s);
    cork_begin(s);
    if (result == FAULT_HTTP_RESPOND) {
        /* The plugin's answer replaces the upstream's response, whose
         * rest is not wanted: that connection cannot be reused. */
        up_drop(s, false);
        ex->rs = RS_DONE;
        respond(s, fault_http_status(ex->x), NULL, true, false);
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
    cork_end(s);
    flow(s);
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

static void on_response_head(hp_sess *s)
{
    hp_ex *ex = &s->ex;
    llhttp_t *p = &s->resp.p;
    hp_head *h = &s->resp.head;
    hp_head_done(h);
    ex->status = p->status_code;
    ex->no_body = (p->flags & F_SKIPBODY) != 0;
    ex->resp_chunked = (p->flags & F_CHUNKED) != 0;
    ex->resp_cl = !ex->resp_chunked && (p->flags & F_CONTENT_LENGTH) != 0;
    ex->resp_clen = p->content_length;
    bool v11 = p->http_major > 1 || (p->http_major == 1 && p->http_minor >= 1);
    ex->up_keepalive = v11 ? !hp_head_has_token(h, "connection", "close")
                           : hp_head_has_token(h, "connection", "keep-alive");
    if (!ex->no_body && !ex->resp_chunked && !ex->resp_cl)
        ex->up_keepalive = false; /* the body ends with the connection */
    if (fault_http_set_status(ex->x, ex->status) < 0) {
        respond(s, 502, "fault: invalid status from the upstream", false, false);
        up_drop(s, true);
        return;
    }
    for (size_t i = 0; i < h->n; i++) {
        const char *name = hp_head_name(h, i);
        if (!hp_hop_by_hop(h, name))
            fault_http_add_header(ex->x, FAULT_HTTP_RESPONSE, name, hp_head_value(h, i));
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
static void response_body_full(hp_sess *s)
{
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
        timer_stop(s, T_RESPONSE);
        run_response_hooks(s);
        return;
    }
    ex->rs = RS_DONE;
    timer_stop(s, T_RESPONSE);
    if (ex->rbc) {
        /* The rest follows once the body left the on_body hooks. */
        fault_chain_eof(ex->rbc);
        return;
    }
    finish_response(s);
}

/* The whole response went to the client path. */
static void finish_response(hp_sess *s)
{
    hp_ex *ex = &s->ex;
    if (ex->out_chunked)
        out_write(s, ex->targeted, (const uint8_t *)"0\r\n\r\n", 5);
    ex->resp_done = true;
    if (ex->req_done)
        ex_finish(s);
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
        up_drop(s, true);
        respond(s, 502, msg, false, false);
        return;
    }
    up_drop(s, true);
    s->rq = RQ_BROKEN;
    ex->resp_done = true;
    out_eof(s);
}

static bool resp_runnable(const hp_sess *s)
{
    return s->ex.rs == RS_HEAD || s->ex.rs == RS_BODY;
}

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
    if (n && (s->in_resp_run || ex->rinb.len || !resp_runnable(s))) {
        if (hp_buf_add(&ex->rinb, p, n) < 0) {
            sess_teardown(s, true, -ENOMEM);
            return;
        }
        n = 0;
    }
    if (s->in_resp_run) {
        s->resp_again = true;
        return;
    }
    s->in_resp_run = true;
    sess_ref(s);
    for (;;) {
        s->resp_again = false;
        while (!s->dead && ex->active && resp_runnable(s) && (n || ex->rinb.len || s->resp_kick)) {
            const uint8_t *d = n ? p : ex->rinb.len ? ex->rinb.p : (const uint8_t *)"";
            size_t len = n ? n : ex->rinb.len;
            bool direct = n != 0;
            n = 0;
            s->resp_kick = false;
            s->resp_ev = EV_NONE;
            llhttp_errno_t e = llhttp_execute(&s->resp.p, (const char *)d, len);
            size_t used = e == HPE_OK
                              ? len
                              : (size_t)(llhttp_get_error_pos(&s->resp.p) - (const char *)d);
            if (s->dead)
                break;
            if (direct) {
                if (used < len && hp_buf_add(&ex->rinb, d + used, len - used) < 0) {
                    sess_teardown(s, true, -ENOMEM);
                    break;
                }
            } else {
                hp_buf_consume(&ex->rinb, used);
            }
            if (e == HPE_OK)
                continue;
            if (e == HPE_PAUSED) {
                llhttp_resume(&s->resp.p);
                s->resp_kick = true;
                if (s->resp_ev == EV_HEAD)
                    on_response_head(s);
                else if (s->resp_ev == EV_DONE)
                    on_response_complete(s);
                else if (s->resp_ev == EV_FULL)
                    response_body_full(s);
                continue;
            }
            bad_response(s, e);
            break;
        }
        if (s->dead || (!s->resp_again && !(s->resp_kick && ex->active && resp_runnable(s))))
            break;
    }
    if (!s->dead && ex->active && ex->rs == RS_DONE && ex->rinb.len) {
        ex->up_keepalive = false;
        ex->rinb.len = 0;
    }
    s->in_resp_run = false;
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
        s->resp_ev = EV_NONE;
        llhttp_errno_t e = llhttp_finish(&s->resp.p);
        if (e == HPE_PAUSED || s->resp_ev == EV_DONE) {
            llhttp_resume(&s->resp.p);
            on_response_complete(s);
        } else if (e != HPE_OK) {
            bad_response(s, e);
        }
        return;
    }
    if (ex->rs == RS_DONE)
        return;
    up_failed(s, ex->resp_byte ? UV_EPROTO : UV_EOF);
}

void hp_sess_up_read(void *sess, hp_up *up, long nread, const uint8_t *data)
{
    hp_sess *s = sess;
    hp_ex *ex = &s->ex;
    if (s->dead || ex->up != up)
        return;
    sess_ref(s);
    cork_begin(s);
    if (nread > 0) {
        if (!ex->resp_byte) {
            ex->resp_byte = true;
            timer_stop(s, T_RESPONSE);
        }
        if (ex->si)
            cpush(ex->si, &si_ops, s, data, (size_t)nread);
        else
            resp_run(s, data, (size_t)nread);
    } else if (nread == UV_EOF) {
        fault_conn_read_stop(up->c);
        ex->up_reading = false;
        ex->up_eof = true;
        if (ex->si)
            fault_chain_eof(ex->si);
        else
            resp_eof(s);
    } else {
        ex->up_reading = false;
        up_failed(s, (int)nread);
    }
    cork_end(s);
    flow(s);
    sess_unref(s);
}

/* ---- the response from an HTTP/2 upstream (h2.c's bridge) ---- */

size_t hp_sess_h2_room(void *sess)
{
    hp_sess *s = sess;
    hp_ex *ex = &s->ex;
    if (s->dead || !s->c || !ex->active || !ex->h2)
        return 0;
    size_t in = s->oq.bytes + ex->rinb.len + pend(s->cin) + s->ccork.len +
                fault_conn_write_queued(s->c);
    return in < HP_HIGH_WATER ? HP_HIGH_WATER - in : 0;
}

void hp_sess_h2_data(void *sess, const uint8_t *p, size_t n)
{
    hp_sess *s = sess;
    hp_ex *ex = &s->ex;
    if (s->dead || !ex->h2)
        return;
    sess_ref(s);
    cork_begin(s);
    if (!ex->resp_byte) {
        ex->resp_byte = true;
        timer_stop(s, T_RESPONSE);
    }
    resp_run(s, p, n);
    cork_end(s);
    flow(s);
    sess_unref(s);
}

void hp_sess_h2_fail(void *sess, int err)
{
    hp_sess *s = sess;
    if (s->dead || !s->ex.h2)
        return;
    sess_ref(s);
    cork_begin(s);
    up_failed(s, err);
    cork_end(s);
    flow(s);
    sess_unref(s);
}

void hp_sess_h2_flow(void *sess)
{
    hp_sess *s = sess;
    if (!s->dead)
        flow(s);
}

/* ---- answers made here (errors, plugin responses) ---- */

/* Answers the current exchange with status: text/plain text, or (from_x)
 * the headers and body a plugin gave with fault_http_respond(). The
 * upstream, if any, is let go; a request body not yet read is read and
 * dropped, unless the client waits for 100-continue (then the connection
 * closes after the answer, since the client may never send that body). */
static void respond(hp_sess *s, int status, const char *text, bool from_x, bool force_close)
{
    hp_ex *ex = &s->ex;
    hp_state *st = s->st;
    if (s->dead)
        return;
    if (!ex->active) {
        memset(ex, 0, offsetof(hp_ex, rinb));
        ex->active = true;
        ex->targeted = s->eg_label;
    }
    if (ex->up || ex->creq || ex->h2)
        up_drop(s, false);
    body_chains_free(ex); /* this answer replaces both bodies */
    const uint8_t *body = NULL;
    size_t len = 0;
    char tbuf[HP_MAX_HOST + 256];
    if (from_x) {
        fault_http_reply_body(ex->x, &body, &len);
    } else if (text) {
        snprintf(tbuf, sizeof tbuf, "%s\n", text);
        body = (const uint8_t *)tbuf;
        len = strlen(tbuf);
    }
    bool no_body = (status >= 100 && status < 200) || status == 204 || status == 304;
    if (no_body)
        len = 0;
    bool close = force_close || !ex->keepalive || s->c_eof || st->stopping || ex->connect ||
                 (!ex->req_done && ex->req_body && ex->expect) || s->rq == RQ_HEAD ||
                 s->rq == RQ_BROKEN;
    if (close)
        ex->close_after = true;
    hp_buf *b = &s->scratch;
    b->len = 0;
    const char *reason = hp_reason(status);
    hp_buf_printf(b, "HTTP/1.1 %d %s\r\n", status, reason);
    bool have_type = false;
    if (from_x && ex->x) {
        size_t n = fault_http_header_count(ex->x, FAULT_HTTP_RESPONSE);
        for (size_t i = 0; i < n; i++) {
            const char *name, *value;
            fault_http_header_at(ex->x, FAULT_HTTP_RESPONSE, i, &name, &value);
            if (strcasecmp(name, "content-length") == 0 ||
                strcasecmp(name, "transfer-encoding") == 0 ||
                strcasecmp(name, "connection") == 0)
                continue;
            if (strcasecmp(name, "content-type") == 0)
                have_type = true;
            hp_buf_header(b, name, value);
        }
    }
    if (len && !have_type)
        hp_buf_str(b, "Content-Type: text/plain; charset=utf-8\r\n");
    if (!no_body)
        hp_buf_printf(b, "Content-Length: %zu\r\n", len);
    if (ex->close_after)
        hp_buf_str(b, "Connection: close\r\n");
    else if (!(ex->major == 1 && ex->minor >= 1))
        hp_buf_str(b, "Connection: keep-alive\r\n");
    hp_buf_str(b, "\r\n");
    if (len && !ex->is_head)
        hp_buf_add(b, body, len);
    ex->head_sent = true;
    ex->resp_done = true;
    ex->rs = RS_DONE;
    if (ex->x)
        fault_http_set_status(ex->x, status);
    publish_response(s, status);
    out_write(s, ex->targeted, b->p, b->len);
    if (s->dead)
        return;
    if (ex->connect || s->rq == RQ_HEAD || s->rq == RQ_BROKEN || s->rq == RQ_TUNNEL) {
        /* Nothing more will be parsed on this connection. */
        s->rq = RQ_BROKEN;
        ex_finish(s);
        return;
    }
    if (ex->req_done) {
        ex_finish(s);
        return;
    }
    if (ex->close_after && ex->expect) {
        s->rq = RQ_BROKEN;
        ex_finish(s);
        return;
    }
    ex->discard = true;
    if (s->rq == RQ_DISPATCH)
        s->rq = RQ_BODY;
}

/* ---- the client leg, outbound ---- */

static void on_client_written(fault_conn *c, int status, void *ud)
{
    hp_sess *s = ud;
    (void)c;
    if (!s->dead) {
        if (status < 0 && status != UV_ECANCELED) {
            sess_teardown(s, true, status);
        } else {
            flow(s);
            linger_check(s);
            tunnel_try_switch(s);
        }
    }
    sess_unref(s);
}

/* Straight to the socket when it has room (no copy, no callback), the
 * rest queued with a completion callback that re-checks flow control. */
static void client_write_now(hp_sess *s, const uint8_t *p, size_t n)
{
    if (s->dead || !s->c || !n)
        return;
    if (fault_conn_write_queued(s->c) == 0) {
        long w = fault_conn_try_write(s->c, p, n);
        if (w < 0) {
            sess_teardown(s, true, (int)w);
            return;
        }
        p += w;
        n -= (size_t)w;
        if (!n)
            return;
    }
    sess_ref(s);
    int rc = fault_conn_write(s->c, p, n, on_client_written, s);
    if (rc < 0) {
        sess_unref(s);
        sess_teardown(s, true, rc);
    }
}

static void client_write(hp_sess *s, const uint8_t *p, size_t n)
{
    if (s->dead || !s->c || s->out_closed || !n)
        return;
    s->bytes_in += n;
    if (s->cork || s->flush_due) {
        if (hp_buf_add(&s->ccork, p, n) < 0)
            sess_teardown(s, true, -ENOMEM);
        return;
    }
    client_write_now(s, p, n);
}

static void up_write_now(hp_sess *s, const uint8_t *p, size_t n);

static void cork_flush(hp_sess *s)
{
    if (s->ccork.len && !s->dead) {
        size_t n = s->ccork.len;
        s->ccork.len = 0;
        client_write_now(s, s->ccork.p, n);
    }
    if (s->ucork.len && !s->dead) {
        size_t n = s->ucork.len;
        s->ucork.len = 0;
        if (s->ex.up && s->ex.up == s->ucork_up)
            up_write_now(s, s->ucork.p, n);
    }
}

/* Hands what the sessions gathered to the sockets: the loop's events of
 * this iteration have all run. */
static void on_flush(uv_prepare_t *t)
{
    hp_state *st = t->data;
    hp_sess *s;
    while ((s = st->h1_due) != NULL) {
        st->h1_due = s->flush_next;
        s->flush_next = NULL;
        s->flush_due = false;
        if (!s->dead) {
            cork_flush(s);
            flow(s); /* watermarks, and a splice may start now */
        }
        sess_unref(s); /* the queue's reference */
    }
    uv_prepare_stop(t);
}

/* The gathered writes go out at the end of this loop iteration (at once
 * when the plugin is stopping: the loop may not go round again). */
static void flush_soon(hp_sess *s)
{
    hp_state *st = s->st;
    if (s->flush_due || (!s->ccork.len && !s->ucork.len))
        return;
    if (st->stopping) {
        cork_flush(s);
        return;
    }
    if (!st->h1_flush_init) {
        uv_prepare_init(st->loop, &st->h1_flush);
        st->h1_flush.data = st;
        st->h1_flush_init = true;
    }
    s->flush_due = true;
    sess_ref(s);
    s->flush_next = st->h1_due;
    st->h1_due = s;
    uv_prepare_start(&st->h1_flush, on_flush);
}

static void cork_begin(hp_sess *s)
{
    s->cork++;
}

static void cork_end(hp_sess *s)
{
    if (--s->cork == 0)
        flush_soon(s);
}

/* Everything for the client was written (or queued): FIN, then read and
 * drop until the client closes too, or LINGER_MS after our last byte. */
static void client_shutdown(hp_sess *s)
{
    if (s->dead || s->out_closed)
        return;
    if (s->ccork.len) {
        size_t n = s->ccork.len;
        s->ccork.len = 0;
        client_write_now(s, s->ccork.p, n);
        if (s->dead)
            return;
    }
    s->out_closed = true;
    s->linger = true;
    fault_conn_shutdown(s->c);
    if (!s->c_eof_read && s->c_paused) {
        s->c_paused = false;
        fault_conn_read_start(s->c, on_client_read, s);
    }
    linger_check(s);
}

static void linger_check(hp_sess *s)
{
    if (s->dead || !s->linger || fault_conn_write_queued(s->c) != 0)
        return;
    if (s->c_eof_read) {
        sess_teardown(s, false, 0);
        return;
    }
    if (s->timer_use != T_LINGER)
        timer_start(s, T_LINGER, LINGER_MS);
}

static void out_write(hp_sess *s, bool targeted, const uint8_t *p, size_t n)
{
    if (s->dead || s->out_closed || s->out_eof_queued || !n)
        return;
    s->out_label = targeted;
    if (!s->oq.head) {
        if (targeted) {
            if (client_chains(s))
                cpush(s->cin, &cin_ops, s, p, n);
            return;
        }
        if (pend(s->cin) == 0) {
            client_write(s, p, n);
            return;
        }
    }
    if (!segq_push(&s->oq, targeted, false, p, n))
        sess_teardown(s, true, -ENOMEM);
}

/* Closes the client connection once every byte before this point left
 * (through CLIENT/INGRESS when the last answer was targeted, so a fault
 * may delay the FIN). */
static void out_eof(hp_sess *s)
{
    if (s->dead || s->out_closed || s->out_eof_queued)
        return;
    s->out_eof_queued = true;
    if (!s->oq.head) {
        if (s->out_label && s->cin) {
            fault_chain_eof(s->cin);
            return;
        }
        if (pend(s->cin) == 0) {
            client_shutdown(s);
            return;
        }
    }
    if (!segq_push(&s->oq, s->out_label, true, NULL, 0))
        sess_teardown(s, true, -ENOMEM);
}

static void out_pump(hp_sess *s)
{
    seg_pump(s, &s->oq, &s->cin, &cin_ops, &s->in_opump, &s->opump_again, client_write,
             client_shutdown);
}

/* ---- exchanges ---- */

/* The exchange is over on our side: the request was read, the response
 * handed to the client path. The upstream connection goes back to the
 * pool when both ends agreed to keep it and it carried exactly one
 * complete exchange. */
static void ex_finish(hp_sess *s)
{
    hp_ex *ex = &s->ex;
    if (!ex->active || s->dead)
        return;
    timer_stop(s, T_CONNECT);
    timer_stop(s, T_RESPONSE);
    hp_connect_cancel(ex->creq);
    ex->creq = NULL;
    if (ex->up) {
        hp_up *up = ex->up;
        bool reusable = ex->up_keepalive && ex->rs == RS_DONE && !ex->up_eof &&
                        ex->rinb.len == 0 && pend(ex->se) == 0 && pend(ex->si) == 0 &&
                        pend(ex->qbc) == 0 &&
                        !ex->discard && !s->st->stopping;
        ex->up = NULL;
        server_chains_free(ex);
        if (!ex->up_reading)
            reusable = false;
        hp_up_release(up, reusable);
    }
    if (ex->h2) {
        hp_h2b_release(ex->h2);
        ex->h2 = NULL;
    }
    server_chains_free(ex);
    body_chains_free(ex);
    fault_http_exchange_free(ex->x);
    ex->x = NULL;
    bool close = ex->close_after || s->c_eof;
    s->qhold.len = s->rhold.len = 0;
    memset(ex, 0, offsetof(hp_ex, rinb));
    ex->rinb.len = 0;
    ex->rs = RS_HEAD;
    if (close || s->rq == RQ_BROKEN) {
        s->rq = RQ_BROKEN;
        out_eof(s);
        return;
    }
    /* Faults acting once per connection act once per exchange: from now
     * on, unless the client path still holds some of this response (a
     * fault there would take its tail for the next exchange's start):
     * then from the next request's head. */
    if (pend(s->cin) == 0 && !s->oq.head)
        fault_stream_next_exchange(s->s);
    else
        s->next_exchange = true;
    s->rq = RQ_HEAD;
    req_run(s, NULL, 0);
}

/* ---- CONNECT ---- */

static void start_tunnel(hp_sess *s)
{
    if (s->fr->reverse) {
        respond(s, 405, "CONNECT is for the forward proxy", false, true);
        return;
    }
    fault_stream_set_scheme(s->s, "connect");
    ex_connect(s);
}

/* Hands the sockets over once every byte that was on its way is where it
 * belongs: client bytes that followed the CONNECT head out of the
 * CLIENT/EGRESS chain (they are in inb), and our 200 out of the
 * CLIENT/INGRESS chain. */
static void tunnel_try_switch(hp_sess *s)
{
    hp_ex *ex = &s->ex;
    if (s->dead || s->rq != RQ_TUNNEL || !ex->up || !ex->head_sent || s->eq.head ||
        pend(s->ceg) || s->oq.head || pend(s->cin) || s->unlabeled.len)
        return;
    if (s->ccork.len) {
        size_t n = s->ccork.len;
        s->ccork.len = 0;
        client_write_now(s, s->ccork.p, n);
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
    hp_up *up = ex->up;
    fault_conn *c = s->c, *u = up->c;
    fault_stream *stream = s->s;
    bool targeted = ex->targeted;
    free(up);
    ex->up = NULL;
    fault_chain_free(s->ceg);
    fault_chain_free(s->cin);
    s->ceg = s->cin = NULL;
    server_chains_free(ex);
    fault_stream_set_end(stream, NULL, NULL);
    fault_conn_read_stop(c);
    /* The session lets go of both sockets and of the stream. */
    s->c = NULL;
    s->s = NULL;
    hp_buf data = s->inb;
    s->inb = (hp_buf){0};
    char host[HP_MAX_HOST];
    uint16_t port = ex->port;
    hp_copy(host, sizeof host, ex->host);
    sess_teardown(s, false, 0);
    if (targeted && st->pki)
        hp_intercept(st, stream, c, u, host, port, data.p, data.len);
    else if (targeted)
        fault_stream_relay_with(stream, u, data.p, data.len, NULL, 0);
    else
        hp_tunnel_plain(st, stream, c, u, data.p, data.len);
    hp_buf_free(&data);
}

/* ---- flow control ---- */

static void flow(hp_sess *s)
{
    if (s->dead || !s->c)
        return;
    hp_ex *ex = &s->ex;
    if (!s->c_eof_read) {
        size_t eg = s->eq.bytes + s->inb.len + s->unlabeled.len + pend(s->ceg) + pend(ex->se) +
                    pend(ex->qbc) + s->ucork.len;
        if (ex->up && !ex->connect)
            eg += fault_conn_write_queued(ex->up->c);
        if (ex->h2)
            eg += hp_h2b_pending(ex->h2);
        if (s->linger)
            eg = 0;
        if (!s->c_paused && eg > HP_HIGH_WATER) {
            s->c_paused = true;
            fault_conn_read_stop(s->c);
        } else if (s->c_paused && eg < HP_LOW_WATER) {
            s->c_paused = false;
            fault_conn_read_start(s->c, on_client_read, s);
        }
    }
    if (ex->up && !ex->connect && !ex->up_eof && ex->up_reading && !ex->splicing) {
        size_t in = s->oq.bytes + ex->rinb.len + pend(s->cin) + pend(ex->si) + pend(ex->rbc) +
                    s->ccork.len + fault_conn_write_queued(s->c);
        if (!ex->up_paused && in > HP_HIGH_WATER) {
            ex->up_paused = true;
            fault_conn_read_stop(ex->up->c);
        } else if (ex->up_paused && in < HP_LOW_WATER) {
            ex->up_paused = false;
            fault_conn_read_start(ex->up->c, hp_up_on_read, ex->up);
        }
    }
    if (ex->h2)
        hp_h2b_kick(ex->h2);
    maybe_splice(s);
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
    cork_begin(s);
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
    cork_end(s);
    flow(s);
    sess_unref(s);
}

static void maybe_splice(hp_sess *s)
{
    hp_ex *ex = &s->ex;
    if (ex->splicing || !ex->active || ex->rs != RS_BODY || !ex->resp_cl || ex->out_chunked ||
        ex->hold_resp ||
        !ex->up || !ex->up_reading || ex->up_eof || ex->eof_pending || ex->rinb.len ||
        s->in_resp_run || s->out_closed || s->out_eof_queued || s->oq.head || s->ccork.len)
        return;
    uint64_t left = s->resp.p.content_length;
    if (left < SPLICE_MIN)
        return;
    /* No fault may miss these bytes. */
    if ((ex->si && (fault_chain_stages(ex->si) || pend(ex->si))) ||
        (s->cin && (fault_chain_stages(s->cin) || pend(s->cin))) ||
        fault_conn_write_queued(s->c) != 0)
        return;
    fault_conn *u = ex->up->c;
    if (!ex->up_paused)
        fault_conn_read_stop(u);
    int rc = fault_conn_splice(u, s->c, left, on_spliced, s);
    if (rc < 0) {
        if (!ex->up_paused)
            fault_conn_read_start(u, hp_up_on_read, ex->up);
        return;
    }
    ex->splicing = true;
}

/* ---- timers ---- */

static void on_timer(uv_timer_t *t)
{
    hp_sess *s = t->data;
    int use = s->timer_use;
    s->timer_use = T_NONE;
    if (use == T_FINISH) {
        if (s->s) {
            fault_stream_finish(s->s, s->bytes_eg, s->bytes_in, s->finish_error);
            s->s = NULL;
        }
        sess_unref(s);
        return;
    }
    if (s->dead)
        return;
    hp_ex *ex = &s->ex;
    sess_ref(s);
    if (use == T_LINGER) {
        sess_teardown(s, false, 0);
    } else if ((use == T_CONNECT || use == T_RESPONSE) && ex->active && !ex->head_sent) {
        char msg[HP_MAX_HOST + 128];
        snprintf(msg, sizeof msg, "fault: %s did not %s within %.3g s", ex->target,
                 use == T_CONNECT ? "accept the connection" : "answer",
                 (double)s->st->upstream_timeout_us / 1e6);
        fault_log_info(s->st->self, "%s %s: %s", fault_http_method(ex->x),
                       fault_http_url(ex->x), msg);
        up_drop(s, true);
        respond(s, 504, msg, false, ex->connect);
    }
    flow(s);
    sess_unref(s);
}

/* ---- lifecycle ---- */

static void on_stream_end(fault_stream *stream, bool reset, void *ud)
{
    hp_sess *s = ud;
    (void)stream;
    if (s->dead)
        return;
    if (reset) {
        sess_teardown(s, true, 0);
        return;
    }
    /* A graceful close asked by a fault: what was passed is flushed,
     * what faults still hold is dropped, then FIN. */
    up_drop(s, false);
    segq_clear(&s->eq);
    segq_clear(&s->oq);
    s->rq = RQ_BROKEN;
    fault_chain_free(s->ceg);
    fault_chain_free(s->cin);
    s->ceg = s->cin = NULL;
    client_shutdown(s);
}

/* Ends the session: sockets closed (reset or not), chains and exchange
 * freed. The stream is finished from the next loop iteration, so that a
 * fault that ended it from inside its own hook never sees it freed under
 * its feet. */
static void sess_teardown(hp_sess *s, bool reset, int error)
{
    if (s->dead)
        return;
    s->dead = true;
    hp_state *st = s->st;
    if (s->prev)
        s->prev->next = s->next;
    else
        st->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
    hp_ex *ex = &s->ex;
    hp_connect_cancel(ex->creq);
    ex->creq = NULL;
    server_chains_free(ex);
    if (ex->up) {
        hp_up *up = ex->up;
        ex->up = NULL;
        up->owner = NULL;
        hp_up_close(up, reset);
    }
    body_chains_free(ex);
    if (ex->h2) {
        hp_h2b_release(ex->h2);
        ex->h2 = NULL;
    }
    hp_h2b_free(s->h2b);
    s->h2b = NULL;
    if (ex->x) {
        fault_http_exchange_free(ex->x);
        ex->x = NULL;
    }
    fault_chain_free(s->ceg);
    fault_chain_free(s->cin);
    s->ceg = s->cin = NULL;
    segq_clear(&s->eq);
    segq_clear(&s->oq);
    if (s->c) {
        if (reset)
            fault_conn_reset(s->c);
        else
            fault_conn_close(s->c);
        s->c = NULL;
    }
    uv_timer_stop(&s->timer);
    if (s->s) {
        fault_stream_set_end(s->s, NULL, NULL);
        s->finish_error = error;
        timer_start(s, T_FINISH, 0);
        return; /* on_timer drops the last reference */
    }
    sess_unref(s);
}

static void settings_init(void)
{
    if (settings_ready)
        return;
    settings_ready = true;
    llhttp_settings_init(&front_settings);
    hp_settings_collect(&front_settings);
    front_settings.on_headers_complete = front_on_headers;
    front_settings.on_message_complete = front_on_complete;
    /* The labelling parser needs the target only. */
    front_settings.on_header_field = NULL;
    front_settings.on_header_value = NULL;
    front_settings.on_header_field_complete = NULL;
    front_settings.on_header_value_complete = NULL;

    llhttp_settings_init(&req_settings);
    hp_settings_collect(&req_settings);
    req_settings.on_message_begin = req_on_begin;
    req_settings.on_headers_complete = req_on_headers;
    req_settings.on_body = req_on_body;
    req_settings.on_message_complete = req_on_complete;

    llhttp_settings_init(&resp_settings);
    hp_settings_collect(&resp_settings);
    resp_settings.on_headers_complete = resp_on_headers;
    resp_settings.on_body = resp_on_body;
    resp_settings.on_message_complete = resp_on_complete;
}

void hp_sess_start(hp_front *fr, fault_conn *c, fault_stream *stream, const uint8_t *initial,
                   size_t len)
{
    hp_state *st = fr->st;
    settings_init();
    hp_sess *s = calloc(1, sizeof *s);
    if (!s) {
        fault_conn_reset(c);
        fault_stream_finish(stream, 0, 0, -ENOMEM);
        return;
    }
    s->st = st;
    s->fr = fr;
    fr->refs++;
    s->c = c;
    s->refs = 1;
    snprintf(s->peer, sizeof s->peer, "%s", fault_conn_peer(c));
    uv_timer_init(st->loop, &s->timer);
    s->timer.data = s;
    s->s = stream;
    fault_stream_set_end(s->s, on_stream_end, s);
    hp_parser_init(&s->req, HTTP_REQUEST, &req_settings, s);
    hp_parser_init(&s->resp, HTTP_RESPONSE, &resp_settings, s);
    s->front_on = !fr->reverse && !st->match_all;
    s->front_label = true;
    s->eg_label = true;
    s->out_label = true;
    if (s->front_on)
        hp_parser_init(&s->front, HTTP_REQUEST, &front_settings, s);
    s->rq = RQ_HEAD;
    s->next = st->sessions;
    if (st->sessions)
        st->sessions->prev = s;
    st->sessions = s;
    if (fault_conn_read_start(c, on_client_read, s) < 0) {
        sess_teardown(s, true, -EIO);
        return;
    }
    /* What the acceptor read to tell HTTP/1 from the rest. */
    if (len)
        on_client_read(c, (long)len, initial, s);
}

/* --http-header-timeout: a request head must be complete that long after
 * its first byte, or the connection is answered 408 and closed (clients
 * that trickle a head byte by byte would otherwise hold a connection and
 * its descriptors for ever). One timer for all sessions, ticking at an
 * eighth of the deadline (10 ms to 1 s): a late head is closed within
 * that much past its deadline. */
static void on_head_sweep(uv_timer_t *t)
{
    hp_state *st = t->data;
    uint64_t now = fault_now_us();
    hp_sess *next;
    for (hp_sess *s = st->sessions; s; s = next) {
        next = s->next;
        if (s->dead || !s->head_since || now - s->head_since < st->header_timeout_us ||
            s->rq != RQ_HEAD)
            continue;
        s->head_since = 0;
        fault_log_info(st->self, "%s: request head not complete after %.3g s: closed", s->peer,
                       (double)st->header_timeout_us / 1e6);
        sess_ref(s);
        hp_ex *ex = &s->ex;
        s->rq = RQ_BROKEN;
        if (!ex->active) {
            memset(ex, 0, offsetof(hp_ex, rinb));
            ex->active = true;
            ex->targeted = s->eg_label;
        }
        respond(s, 408, "request head not complete in time", false, true);
        flow(s);
        sess_unref(s);
    }
}

static void head_sweep_arm(hp_state *st)
{
    if (st->head_sweep_init || st->stopping)
        return;
    uint64_t ms = st->header_timeout_us / 1000 / 8;
    ms = ms < 10 ? 10 : ms > 1000 ? 1000 : ms;
    uv_timer_init(st->loop, &st->head_sweep);
    st->head_sweep.data = st;
    uv_timer_start(&st->head_sweep, on_head_sweep, ms, ms);
    uv_unref((uv_handle_t *)&st->head_sweep);
    st->head_sweep_init = true;
}

void hp_sess_close_all(hp_state *st)
{
    if (st->head_sweep_init) {
        uv_close((uv_handle_t *)&st->head_sweep, NULL);
        st->head_sweep_init = false;
    }
    /* What was gathered for the sockets goes out first, as it would have
     * before the loop polled again (nothing is queued once stopping). */
    if (st->h1_flush_init) {
        on_flush(&st->h1_flush);
        uv_close((uv_handle_t *)&st->h1_flush, NULL);
        st->h1_flush_init = false;
    }
    while (st->sessions)
        sess_teardown(st->sessions, false, 0);
}
