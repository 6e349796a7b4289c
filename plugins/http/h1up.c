/*
 * plugins/http/h1up.c - the HTTP/1.1 upstream that the HTTP/1 session
 * (sess_upstream.c), the HTTP/2 streams (h2_h1up.c) and their CONNECT
 * tunnels (tunnel.c) share: the hp_h1up connection object and the
 * response-head helpers; see h1up.h.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "h1up.h"

int hp_h1up_on_headers(llhttp_t *p, bool is_head, bool *interim)
{
    int status = p->status_code;
    if (status == 101) {
        llhttp_set_error_reason(p, "upstream switched protocols unasked");
        return HPE_USER;
    }
    if (status >= 100 && status < 200) {
        *interim = true;
        return 0;
    }
    if (is_head || status == 204 || status == 304)
        p->flags |= F_SKIPBODY;
    return HPE_PAUSED;
}

int hp_h1up_on_complete(hp_drive *d, bool *interim)
{
    if (*interim) {
        *interim = false;
        return 0;
    }
    d->ev = EV_DONE;
    return HPE_PAUSED;
}

bool hp_h1up_keepalive(const llhttp_t *p, const hp_head *h)
{
    bool v11 = p->http_major > 1 || (p->http_major == 1 && p->http_minor >= 1);
    bool keep = v11 ? !hp_head_has_token(h, "connection", "close")
                    : hp_head_has_token(h, "connection", "keep-alive");
    if (!(p->flags & (F_SKIPBODY | F_CHUNKED | F_CONTENT_LENGTH)))
        keep = false; /* the body ends with the connection */
    return keep;
}

int hp_h1up_head_to_x(fault_http_exchange *x, const llhttp_t *p, hp_head *h)
{
    if (fault_http_set_status(x, p->status_code) < 0)
        return -1;
    for (size_t i = 0; i < h->n; i++) {
        const char *name = hp_head_name(h, i);
        if (!hp_hop_by_hop(h, name))
            fault_http_add_header(x, FAULT_HTTP_RESPONSE, name, hp_head_value(h, i));
    }
    return 0;
}

void hp_h1up_request_head(hp_buf *b, fault_http_exchange *x, bool drop_te)
{
    b->len = 0;
    hp_buf_str(b, fault_http_method(x));
    hp_buf_add(b, " ", 1);
    hp_buf_str(b, fault_http_path(x));
    hp_buf_add(b, " HTTP/1.1\r\n", 11);
    size_t n = fault_http_header_count(x, FAULT_HTTP_REQUEST);
    for (size_t i = 0; i < n; i++) {
        const char *name, *value;
        fault_http_header_at(x, FAULT_HTTP_REQUEST, i, &name, &value);
        if (hp_name_is(name, "content-length", 14) || hp_name_is(name, "transfer-encoding", 17) ||
            hp_name_is(name, "connection", 10) || (drop_te && hp_name_is(name, "te", 2)))
            continue;
        hp_buf_header(b, name, value);
    }
}

int hp_h1up_finish(hp_drive *d)
{
    llhttp_errno_t e = hp_drive_finish(d);
    if (e == HPE_PAUSED || d->ev == EV_DONE)
        return 1;
    return e == HPE_OK ? 0 : -(int)e;
}

bool hp_h1up_reusable(const hp_state *st, const hp_h1up *u, bool keepalive)
{
    return keepalive && !u->eof && u->reading && (!u->se || fault_chain_pending(u->se) == 0) &&
           (!u->si || fault_chain_pending(u->si) == 0) && !st->stopping;
}

int hp_h1up_bind(hp_h1up *u, hp_up *up, hp_up_user *user, fault_stream *s,
                 const fault_chain_ops *se_ops, const fault_chain_ops *si_ops, void *chain_ud)
{
    u->up = up;
    hp_up_bind(up, user);
    if (s) {
        u->se = fault_chain_new(s, FAULT_DIR_EGRESS, FAULT_SIDE_SERVER, se_ops, chain_ud);
        u->si = fault_chain_new(s, FAULT_DIR_INGRESS, FAULT_SIDE_SERVER, si_ops, chain_ud);
        if (!u->se || !u->si)
            return -ECONNREFUSED;
    }
    u->reading = true;
    fault_conn_read_start(up->c, hp_up_on_read, up);
    return 0;
}

void hp_h1up_read(hp_h1up *u, hp_up *up, long nread, const uint8_t *data)
{
    if (u->up != up)
        return;
    const hp_h1up_ops *ops = u->ops;
    void *ctx = ops->enter(u);
    if (nread > 0) {
        ops->resp_byte(u);
        /* A chain without stages hands bytes to its output at once anyway:
         * skip the copy into one of its nodes. */
        if (u->si && fault_chain_stages(u->si))
            fault_chain_push(u->si, data, (size_t)nread);
        else
            ops->response(u, data, (size_t)nread);
    } else if (nread == UV_EOF) {
        fault_conn_read_stop(up->c);
        u->reading = false;
        u->eof = true;
        if (u->si)
            fault_chain_eof(u->si);
        else
            ops->response_eof(u);
    } else {
        u->reading = false;
        ops->fail(u, (int)nread);
    }
    ops->leave(ctx);
}

void hp_h1up_write(hp_h1up *u, const uint8_t *p, size_t n)
{
    if (!u->up || !n)
        return;
    fault_conn *c = u->up->c;
    if (fault_conn_write_queued(c) == 0) {
        long w = fault_conn_try_write(c, p, n);
        if (w < 0) {
            u->ops->fail(u, (int)w);
            return;
        }
        p += w;
        n -= (size_t)w;
        if (!n)
            return;
    }
    /* The callback runs only when this returns 0 (sdk/fault/net.h). */
    void *ud = u->ops->hold(u);
    int rc = fault_conn_write(c, p, n, u->ops->written, ud);
    if (rc < 0) {
        u->ops->unhold(ud);
        u->ops->fail(u, rc);
    }
}

size_t hp_h1up_congestion(const hp_h1up *u)
{
    if (!u->up)
        return 0;
    return fault_conn_write_queued(u->up->c) + (u->se ? fault_chain_pending(u->se) : 0);
}

void hp_h1up_chains_free(hp_h1up *u)
{
    fault_chain_free(u->se);
    fault_chain_free(u->si);
    u->se = u->si = NULL;
}

void hp_h1up_drop(hp_h1up *u, bool reset)
{
    hp_connect_cancel(u->creq);
    u->creq = NULL;
    hp_h1up_chains_free(u);
    if (u->up) {
        hp_up *up = u->up;
        u->up = NULL;
        up->owner = NULL;
        hp_up_close(up, reset);
    }
}
