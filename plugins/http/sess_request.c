/*
 * plugins/http/sess_request.c - the request side of an HTTP/1 session (see
 * session.c for the whole): the llhttp request parser, fed from the
 * CLIENT/EGRESS chain and paused at each head and end so that the request
 * hooks run between; its head becomes the exchange; and the bodies that
 * go through the on_body hooks of the plugins that watch them (both ways).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "session.h"

/* ---- the request parser ---- */

int sess_req_on_headers(llhttp_t *p)
{
    hp_sess *s = p->data;
    s->head_since = 0;
    s->reqd.ev = EV_HEAD;
    return HPE_PAUSED;
}

int sess_req_on_body(llhttp_t *p, const char *at, size_t n)
{
    hp_sess *s = p->data;
    hp_ex *ex = &s->ex;
    /* llhttp reports an open body span at every call, empty when the
     * driver runs it on nothing (after a pause): in chunked framing an
     * empty piece would be the last chunk, ending the body upstream. */
    if (n == 0 || ex->discard || !ex->active)
        return 0;
    if (ex->hold_req) {
        if (hp_buf_add(&s->qhold, at, n) < 0)
            return HPE_USER;
        if (s->qhold.len > ex->hold_max) {
            /* Too large to hold: the hooks run without it. */
            s->reqd.ev = EV_FULL;
            return HPE_PAUSED;
        }
        return 0;
    }
    if (ex->qbc) {
        fault_chain_push(ex->qbc, at, n);
        return 0;
    }
    if (ex->h2) {
        sess_req_body_out(s, (const uint8_t *)at, n, false);
        return 0;
    }
    if (ex->req_chunked) {
        /* One chunk per piece: boundaries need not match the client's. */
        s->scratch.len = 0;
        hp_buf_hex(&s->scratch, n);
        hp_buf_add(&s->scratch, "\r\n", 2);
        hp_buf_add(&s->scratch, at, n);
        hp_buf_add(&s->scratch, "\r\n", 2);
        sess_up_out(s, s->scratch.p, s->scratch.len);
    } else {
        sess_up_out(s, (const uint8_t *)at, n);
    }
    return 0;
}

int sess_req_on_complete(llhttp_t *p)
{
    hp_sess *s = p->data;
    hp_ex *ex = &s->ex;
    if (ex->active && !ex->discard && ex->qbc && !ex->hold_req)
        fault_chain_eof(ex->qbc);
    else if (ex->active && !ex->discard && ex->h2 && !ex->hold_req)
        hp_h2b_end(ex->h2);
    else if (ex->active && !ex->discard && ex->req_chunked && !ex->connect && !ex->hold_req)
        sess_up_out(s, (const uint8_t *)"0\r\n\r\n", 5);
    s->reqd.ev = EV_DONE;
    return HPE_PAUSED;
}

int sess_req_on_begin(llhttp_t *p)
{
    hp_sess *s = p->data;
    s->req_started = true;
    if (s->st->header_timeout_us) {
        s->head_since = fault_now_us();
        sess_head_sweep_arm(s->st);
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
    sess_cork_begin(s);
    if (result == FAULT_HTTP_RESPOND)
        sess_respond(s, fault_http_status(s->ex.x), NULL, true, false);
    else
        sess_ex_dispatch(s);
    sess_req_run(s, NULL, 0);
    sess_cork_end(s);
    sess_flow(s);
    sess_unref(s);
}

static void run_request_hooks(hp_sess *s)
{
    if (fault_http_run_request(s->ex.x, on_req_hooks, s) < 0)
        sess_ex_dispatch(s);
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
        sess_out_write(s, ex->targeted, (const uint8_t *)cont, sizeof cont - 1);
        fault_http_set_header(ex->x, FAULT_HTTP_REQUEST, "Expect", NULL);
        ex->expect = false;
    }
    s->rq = RQ_BODY;
    return true;
}

/* The request body grew past what the hooks asked for: stop reading,
 * run them without it; what was read goes upstream first (ex_bind). */
static hp_sess *reqd_sess(const hp_drive *d)
{
    return (hp_sess *)((char *)d - offsetof(hp_sess, reqd));
}

static void request_body_full(hp_drive *d)
{
    hp_sess *s = reqd_sess(d);
    hp_ex *ex = &s->ex;
    ex->hold_req = false;
    ex->spill_req = true;
    s->rq = RQ_DISPATCH;
    run_request_hooks(s);
}

/* The head of a request is complete: decide where it goes, build the
 * exchange, run the request hooks, then find an upstream. */
static void on_request_head(hp_drive *d)
{
    hp_sess *s = reqd_sess(d);
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
        sess_respond(s, 400, why, false, true);
        return;
    }
    if (fr->reverse) {
        if (ex->connect) {
            sess_respond(s, 405, "CONNECT is for the forward proxy, not a mapping", false, true);
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
        sess_respond(
            s, 400, "this is a forward proxy: send requests in absolute form (curl -x, HTTP_PROXY)",
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
    ex->targeted = sess_label_of(s, ex->connect, url, strlen(url));
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
    sess_publish_request(s);
    if (ex->connect) {
        s->rq = RQ_TUNNEL;
        sess_start_tunnel(s);
        return;
    }
    if (!ex->targeted) {
        sess_ex_dispatch(s);
        return;
    }
    if (hold_request_body(s))
        return;
    run_request_hooks(s);
}

static void on_request_complete(hp_drive *d)
{
    hp_sess *s = reqd_sess(d);
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
        sess_ex_finish(s);
    } else {
        sess_maybe_arm_response_timer(s);
        sess_flow(s);
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
        sess_up_drop(s, true);
        sess_out_eof(s);
        return;
    }
    if (!ex->active) {
        memset(ex, 0, offsetof(hp_ex, rinb));
        ex->active = true;
        ex->targeted = s->eg_label;
    }
    sess_respond(s, big ? 431 : 400, reason, false, true);
}

static bool req_gone(const hp_drive *d)
{
    return reqd_sess(d)->dead;
}

static bool req_runnable(const hp_drive *d)
{
    const hp_sess *s = reqd_sess(d);
    return s->rq == RQ_HEAD || s->rq == RQ_BODY;
}

static bool req_error(hp_drive *d, llhttp_errno_t e)
{
    hp_sess *s = reqd_sess(d);
    if (e == HPE_PAUSED_UPGRADE && s->req.p.method != HTTP_CONNECT) {
        /* Upgrade headers were not forwarded: still HTTP. */
        llhttp_resume_after_upgrade(&s->req.p);
        return true;
    }
    if (e == HPE_PAUSED_UPGRADE)
        return true; /* CONNECT: on_request_head took over */
    bad_request(s, e);
    return false;
}

static void req_nomem(hp_drive *d)
{
    sess_teardown(reqd_sess(d), true, -ENOMEM);
}

const hp_drive_ops sess_req_drive = {.gone = req_gone,
                                     .runnable = req_runnable,
                                     .on_head = on_request_head,
                                     .on_done = on_request_complete,
                                     .on_full = request_body_full,
                                     .on_error = req_error,
                                     .on_nomem = req_nomem};

/* Feeds the request parser from inb (and p, handed in without a copy when
 * nothing waits before it), one event at a time. */
void sess_req_run(hp_sess *s, const uint8_t *p, size_t n)
{
    sess_ref(s);
    if (!hp_drive_run(&s->reqd, p, n)) {
        sess_unref(s);
        return;
    }
    /* The client finished sending: what that means depends on where the
     * current request is. */
    if (!s->dead && s->c_eof && !s->eof_handled) {
        if (s->rq == RQ_HEAD && s->inb.len == 0) {
            s->eof_handled = true;
            s->rq = RQ_BROKEN;
            sess_out_eof(s);
        } else if (s->rq == RQ_BODY && s->inb.len == 0) {
            s->eof_handled = true;
            if (s->ex.resp_done) {
                s->rq = RQ_BROKEN;
                sess_out_eof(s);
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
            sess_tunnel_try_switch(s);
        }
    }
    sess_unref(s);
}

void sess_deliver(hp_sess *s, const uint8_t *p, size_t n)
{
    if (s->dead)
        return;
    if (s->rq == RQ_TUNNEL || s->rq == RQ_BROKEN) {
        if (s->rq == RQ_TUNNEL && hp_fifo_add(&s->inb, p, n) < 0)
            sess_teardown(s, true, -ENOMEM);
        sess_tunnel_try_switch(s);
        return;
    }
    sess_req_run(s, p, n);
}

void sess_deliver_eof(hp_sess *s)
{
    if (s->dead)
        return;
    s->c_eof = true;
    sess_req_run(s, NULL, 0);
}

/* ---- bodies through on_body hooks ---- */

void sess_body_chains_free(hp_ex *ex)
{
    fault_chain_free(ex->qbc);
    fault_chain_free(ex->rbc);
    ex->qbc = ex->rbc = NULL;
}

/* A body chain for the exchange, or NULL when no plugin watches that body
 * (then it keeps its framing and zero-copy paths). */
fault_chain *sess_body_chain(hp_sess *s, fault_direction dir, const fault_chain_ops *ops)
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
void sess_req_body_out(hp_sess *s, const uint8_t *p, size_t n, bool chunked)
{
    hp_ex *ex = &s->ex;
    if (ex->h2) {
        hp_h2b_body(ex->h2, p, n);
    } else if (chunked) {
        chunk_frame(&s->scratch, p, n);
        sess_up_out(s, s->scratch.p, s->scratch.len);
    } else {
        sess_up_out(s, p, n);
    }
}

/* The end of a request body that needs marking (chunked, HTTP/2). */
void sess_req_body_end(hp_sess *s, bool chunked)
{
    hp_ex *ex = &s->ex;
    if (ex->h2)
        hp_h2b_end(ex->h2);
    else if (chunked)
        sess_up_out(s, (const uint8_t *)"0\r\n\r\n", 5);
}

static void qbc_output(void *ud, const uint8_t *data, size_t len)
{
    sess_req_body_out(ud, data, len, true);
}

static void qbc_eof(void *ud)
{
    sess_req_body_end(ud, true);
}

static void qbc_progress(void *ud)
{
    sess_flow(ud);
}

const fault_chain_ops sess_qbc_ops = {
    .output = qbc_output, .eof = qbc_eof, .progress = qbc_progress};

static void rbc_output(void *ud, const uint8_t *data, size_t len)
{
    hp_sess *s = ud;
    hp_ex *ex = &s->ex;
    if (ex->out_chunked) {
        chunk_frame(&s->scratch, data, len);
        sess_out_write(s, ex->targeted, s->scratch.p, s->scratch.len);
    } else {
        sess_out_write(s, ex->targeted, data, len);
    }
}

static void rbc_eof(void *ud)
{
    hp_sess *s = ud;
    sess_ref(s);
    sess_cork_begin(s);
    sess_finish_response(s);
    sess_cork_end(s);
    sess_flow(s);
    sess_unref(s);
}

static void rbc_progress(void *ud)
{
    sess_flow(ud);
}

const fault_chain_ops sess_rbc_ops = {
    .output = rbc_output, .eof = rbc_eof, .progress = rbc_progress};
