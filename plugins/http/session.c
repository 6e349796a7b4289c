/*
 * plugins/http/session.c - one client connection of the HTTP proxy
 * (forward or reverse): parsing requests, one exchange at a time, and
 * moving the bytes of each through fault chains.
 *
 * The HTTP/1 session is in three files that share session.h:
 *   session.c        the client connection: references, timers, events,
 *                    the client leg both ways (labelling, chains, gathered
 *                    writes), answers made here, exchanges, flow control,
 *                    start and teardown (the switch to a tunnel after a
 *                    CONNECT is in tunnel.c)
 *   sess_request.c   the request parser and its request hooks, and the
 *                    bodies that go through on_body hooks
 *   sess_upstream.c  the upstream side: the server leg and its chains,
 *                    choosing and binding an upstream connection (HTTP/1.1,
 *                    or a stream of the HTTP/2 bridge), the response parser
 *                    and its hooks, and bodies spliced in the kernel
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
 * out when the loop iteration's events have all run (due.c: a prepare handle,
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

#include "h1up.h"
#include "session.h"

static void egress_pump(hp_sess *s);
static void out_pump(hp_sess *s);
static void linger_check(hp_sess *s);
static void on_timer(uv_timer_t *t);
static void client_write(hp_sess *s, const uint8_t *p, size_t n);
static void client_shutdown(hp_sess *s);

/* ---- references ---- */

static void on_timer_closed(uv_handle_t *h)
{
    hp_sess *s = h->data;
    hp_front_release(s->fr);
    hp_parser_free(&s->req);
    hp_parser_free(&s->resp);
    hp_parser_free(&s->front);
    hp_fifo_free(&s->inb);
    hp_fifo_free(&s->ex.rinb);
    hp_fifo_free(&s->unlabeled);
    hp_buf_free(&s->scratch);
    hp_buf_free(&s->ccork);
    hp_buf_free(&s->ucork);
    hp_buf_free(&s->qhold);
    hp_buf_free(&s->rhold);
    free(s);
}

void sess_unref(hp_sess *s)
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

/* ---- timers ---- */

void sess_timer_start(hp_sess *s, int use, uint64_t ms)
{
    s->timer_use = use;
    uv_timer_start(&s->timer, on_timer, ms, 0);
}

/* ---- events ---- */

void sess_publish_request(hp_sess *s)
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

void sess_publish_response(hp_sess *s, int status)
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

static void ceg_output(void *ud, const uint8_t *data, size_t len)
{
    sess_deliver(ud, data, len);
}

static void ceg_eof(void *ud)
{
    sess_deliver_eof(ud);
}

static void ceg_progress(void *ud)
{
    hp_sess *s = ud;
    egress_pump(s);
    sess_flow(s);
}

static const fault_chain_ops ceg_ops = {
    .output = ceg_output, .eof = ceg_eof, .progress = ceg_progress};

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
    sess_flow(s);
    sess_tunnel_try_switch(s);
}

static const fault_chain_ops cin_ops = {
    .output = cin_output, .eof = cin_eof, .progress = cin_progress};

/* Client chains are made for the first targeted bytes, so a connection
 * that only carries untargeted traffic never attaches a fault. */
static bool client_chains(hp_sess *s)
{
    if (s->ceg)
        return true;
    s->ceg = fault_chain_new(s->s, FAULT_DIR_EGRESS, FAULT_SIDE_CLIENT, &ceg_ops, s);
    s->cin =
        s->ceg ? fault_chain_new(s->s, FAULT_DIR_INGRESS, FAULT_SIDE_CLIENT, &cin_ops, s) : NULL;
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
bool sess_label_of(hp_sess *s, bool connect, const char *url, size_t len)
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
                sess_cpush(s->ceg, &ceg_ops, s, p, n);
            return;
        }
        if (sess_pend(s->ceg) == 0) {
            if (eof)
                sess_deliver_eof(s);
            else
                sess_deliver(s, p, n);
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
            if (!g->targeted && sess_pend(*c) != 0)
                break;
            g = segq_pop(q);
            if (g->targeted) {
                if (client_chains(s)) {
                    if (g->eof)
                        fault_chain_eof(*c);
                    else
                        sess_cpush(*c, ops, s, g->data, g->len);
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
    seg_pump(s, &s->eq, &s->ceg, &ceg_ops, &s->in_epump, &s->epump_again, sess_deliver,
             sess_deliver_eof);
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
        egress_in(s, label, false, hp_fifo_data(&s->unlabeled), s->unlabeled.len);
        hp_fifo_take(&s->unlabeled, s->unlabeled.len, SESS_FIFO_KEEP);
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
        size_t used =
            e == HPE_OK ? n : (size_t)(llhttp_get_error_pos(&s->front.p) - (const char *)p);
        if (e == HPE_OK) {
            if (s->front_known) {
                egress_in(s, s->front_label, false, p, n);
            } else if (hp_fifo_add(&s->unlabeled, p, n) < 0 || s->unlabeled.len > HP_MAX_HEAD) {
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
                s->front_label =
                    sess_label_of(s, s->front.p.method == HTTP_CONNECT, url, strlen(url));
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
    sess_cork_begin(s);
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
    sess_cork_end(s);
    sess_flow(s);
    sess_unref(s);
}

/* ---- answers made here (errors, plugin responses) ---- */

/* Answers the current exchange with status: text/plain text, or (from_x)
 * the headers and body a plugin gave with fault_http_respond(). The
 * upstream, if any, is let go; a request body not yet read is read and
 * dropped, unless the client waits for 100-continue (then the connection
 * closes after the answer, since the client may never send that body). */
void sess_respond(hp_sess *s, int status, const char *text, bool from_x, bool force_close)
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
    if (ex->h1.up || ex->h1.creq || ex->h2)
        sess_up_drop(s, false);
    sess_body_chains_free(ex); /* this answer replaces both bodies */
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
                strcasecmp(name, "transfer-encoding") == 0 || strcasecmp(name, "connection") == 0)
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
    sess_publish_response(s, status);
    sess_out_write(s, ex->targeted, b->p, b->len);
    if (s->dead)
        return;
    if (ex->connect || s->rq == RQ_HEAD || s->rq == RQ_BROKEN || s->rq == RQ_TUNNEL) {
        /* Nothing more will be parsed on this connection. */
        s->rq = RQ_BROKEN;
        sess_ex_finish(s);
        return;
    }
    if (ex->req_done) {
        sess_ex_finish(s);
        return;
    }
    if (ex->close_after && ex->expect) {
        s->rq = RQ_BROKEN;
        sess_ex_finish(s);
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
            sess_flow(s);
            linger_check(s);
            sess_tunnel_try_switch(s);
        }
    }
    sess_unref(s);
}

/* Straight to the socket when it has room (no copy, no callback), the
 * rest queued with a completion callback that re-checks flow control. */
void sess_client_write_now(hp_sess *s, const uint8_t *p, size_t n)
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
    if (s->cork || s->flush.queued) {
        if (hp_buf_add(&s->ccork, p, n) < 0)
            sess_teardown(s, true, -ENOMEM);
        return;
    }
    sess_client_write_now(s, p, n);
}

static void cork_flush(hp_sess *s)
{
    if (s->ccork.len && !s->dead) {
        size_t n = s->ccork.len;
        s->ccork.len = 0;
        sess_client_write_now(s, s->ccork.p, n);
    }
    if (s->ucork.len && !s->dead) {
        size_t n = s->ucork.len;
        s->ucork.len = 0;
        if (s->ex.h1.up && s->ex.h1.up == s->ucork_up)
            sess_up_write_now(s, s->ucork.p, n);
    }
}

/* Hands what the session gathered to the sockets: the loop's events of
 * this iteration have all run (due.c). */
static bool run_due(hp_due *d)
{
    hp_sess *s = (hp_sess *)(void *)((char *)d - offsetof(hp_sess, flush));
    d->queued = false; /* what the flush writes may gather again */
    if (!s->dead) {
        cork_flush(s);
        sess_flow(s); /* watermarks, and a splice may start now */
    }
    sess_unref(s); /* the queue's reference */
    return false;
}

/* The gathered writes go out at the end of this loop iteration (at once
 * when the plugin is stopping: the loop may not go round again). */
static void flush_soon(hp_sess *s)
{
    hp_state *st = s->st;
    if (s->flush.queued || (!s->ccork.len && !s->ucork.len))
        return;
    if (st->stopping) {
        cork_flush(s);
        return;
    }
    s->flush.run = run_due;
    sess_ref(s);
    hp_due_add(st, &s->flush);
}

void sess_cork_end(hp_sess *s)
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
        sess_client_write_now(s, s->ccork.p, n);
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
        sess_timer_start(s, T_LINGER, LINGER_MS);
}

void sess_out_write(hp_sess *s, bool targeted, const uint8_t *p, size_t n)
{
    if (s->dead || s->out_closed || s->out_eof_queued || !n)
        return;
    s->out_label = targeted;
    if (!s->oq.head) {
        if (targeted) {
            if (client_chains(s))
                sess_cpush(s->cin, &cin_ops, s, p, n);
            return;
        }
        if (sess_pend(s->cin) == 0) {
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
void sess_out_eof(hp_sess *s)
{
    if (s->dead || s->out_closed || s->out_eof_queued)
        return;
    s->out_eof_queued = true;
    if (!s->oq.head) {
        if (s->out_label && s->cin) {
            fault_chain_eof(s->cin);
            return;
        }
        if (sess_pend(s->cin) == 0) {
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
void sess_ex_finish(hp_sess *s)
{
    hp_ex *ex = &s->ex;
    if (!ex->active || s->dead)
        return;
    sess_timer_stop(s, T_CONNECT);
    sess_timer_stop(s, T_RESPONSE);
    hp_connect_cancel(ex->h1.creq);
    ex->h1.creq = NULL;
    if (ex->h1.up) {
        hp_up *up = ex->h1.up;
        bool reusable = hp_h1up_reusable(s->st, &ex->h1, ex->up_keepalive) && ex->rs == RS_DONE &&
                        ex->rinb.len == 0 && sess_pend(ex->qbc) == 0 && !ex->discard;
        ex->h1.up = NULL;
        hp_h1up_chains_free(&ex->h1);
        hp_up_release(up, reusable);
    }
    if (ex->h2) {
        hp_h2b_release(ex->h2);
        ex->h2 = NULL;
    }
    hp_h1up_chains_free(&ex->h1);
    sess_body_chains_free(ex);
    fault_http_exchange_free(ex->x);
    ex->x = NULL;
    bool close = ex->close_after || s->c_eof;
    s->qhold.len = s->rhold.len = 0;
    memset(ex, 0, offsetof(hp_ex, rinb));
    hp_fifo_clear(&ex->rinb);
    ex->rs = RS_HEAD;
    if (close || s->rq == RQ_BROKEN) {
        s->rq = RQ_BROKEN;
        sess_out_eof(s);
        return;
    }
    /* Faults acting once per connection act once per exchange: from now
     * on, unless the client path still holds some of this response (a
     * fault there would take its tail for the next exchange's start):
     * then from the next request's head. */
    if (sess_pend(s->cin) == 0 && !s->oq.head)
        fault_stream_next_exchange(s->s);
    else
        s->next_exchange = true;
    s->rq = RQ_HEAD;
    sess_req_run(s, NULL, 0);
}

/* ---- flow control ---- */

void sess_flow(hp_sess *s)
{
    if (s->dead || !s->c)
        return;
    hp_ex *ex = &s->ex;
    if (!s->c_eof_read) {
        size_t eg = s->eq.bytes + s->inb.len + s->unlabeled.len + sess_pend(s->ceg) +
                    sess_pend(ex->h1.se) + sess_pend(ex->qbc) + s->ucork.len;
        if (ex->h1.up && !ex->connect)
            eg += fault_conn_write_queued(ex->h1.up->c);
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
    if (ex->h1.up && !ex->connect && !ex->h1.eof && ex->h1.reading && !ex->splicing) {
        size_t in = s->oq.bytes + ex->rinb.len + sess_pend(s->cin) + sess_pend(ex->h1.si) +
                    sess_pend(ex->rbc) + s->ccork.len + fault_conn_write_queued(s->c);
        if (!ex->h1.paused && in > HP_HIGH_WATER) {
            ex->h1.paused = true;
            fault_conn_read_stop(ex->h1.up->c);
        } else if (ex->h1.paused && in < HP_LOW_WATER) {
            ex->h1.paused = false;
            fault_conn_read_start(ex->h1.up->c, hp_up_on_read, ex->h1.up);
        }
    }
    if (ex->h2)
        hp_h2b_kick(ex->h2);
    sess_maybe_splice(s);
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
        fault_log_info(s->st->self, "%s %s: %s", fault_http_method(ex->x), fault_http_url(ex->x),
                       msg);
        sess_up_drop(s, true);
        sess_respond(s, 504, msg, false, ex->connect);
    }
    sess_flow(s);
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
    sess_up_drop(s, false);
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
void sess_teardown(hp_sess *s, bool reset, int error)
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
    hp_h1up_drop(&ex->h1, reset);
    sess_body_chains_free(ex);
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
        sess_timer_start(s, T_FINISH, 0);
        return; /* on_timer drops the last reference */
    }
    sess_unref(s);
}

llhttp_settings_t sess_req_settings, sess_resp_settings, sess_front_settings;
static bool settings_ready;

static void settings_init(void)
{
    if (settings_ready)
        return;
    settings_ready = true;
    llhttp_settings_init(&sess_front_settings);
    hp_settings_collect(&sess_front_settings);
    sess_front_settings.on_headers_complete = front_on_headers;
    sess_front_settings.on_message_complete = front_on_complete;
    /* The labelling parser needs the target only. */
    sess_front_settings.on_header_field = NULL;
    sess_front_settings.on_header_value = NULL;
    sess_front_settings.on_header_field_complete = NULL;
    sess_front_settings.on_header_value_complete = NULL;

    llhttp_settings_init(&sess_req_settings);
    hp_settings_collect(&sess_req_settings);
    sess_req_settings.on_message_begin = sess_req_on_begin;
    sess_req_settings.on_headers_complete = sess_req_on_headers;
    sess_req_settings.on_body = sess_req_on_body;
    sess_req_settings.on_message_complete = sess_req_on_complete;

    llhttp_settings_init(&sess_resp_settings);
    hp_settings_collect(&sess_resp_settings);
    sess_resp_settings.on_headers_complete = sess_resp_on_headers;
    sess_resp_settings.on_body = sess_resp_on_body;
    sess_resp_settings.on_message_complete = sess_resp_on_complete;
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
    hp_parser_init(&s->req, HTTP_REQUEST, &sess_req_settings, s);
    hp_parser_init(&s->resp, HTTP_RESPONSE, &sess_resp_settings, s);
    hp_drive_init(&s->reqd, &s->req, &s->inb, SESS_FIFO_KEEP, &sess_req_drive);
    hp_drive_init(&s->respd, &s->resp, &s->ex.rinb, SESS_FIFO_KEEP, &sess_resp_drive);
    s->upu.ops = &sess_up_user;
    s->front_on = !fr->reverse && !st->match_all;
    s->front_label = true;
    s->eg_label = true;
    s->out_label = true;
    if (s->front_on)
        hp_parser_init(&s->front, HTTP_REQUEST, &sess_front_settings, s);
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
        sess_respond(s, 408, "request head not complete in time", false, true);
        sess_flow(s);
        sess_unref(s);
    }
}

void sess_head_sweep_arm(hp_state *st)
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
    hp_due_run(st);
    while (st->sessions)
        sess_teardown(st->sessions, false, 0);
}
