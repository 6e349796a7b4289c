/*
 * plugins/postgres/session.c - one client connection of a psql:// mapping.
 *
 * Startup: the client's first packets have no type byte. SSLRequest and
 * GSSENCRequest are answered 'N' (the client leg is plaintext); a
 * CancelRequest is forwarded to the server that gave its key (cancel.c); a
 * StartupMessage opens the upstream connection and is passed on. From
 * then on both directions are typed messages, cut by a pg_framer each,
 * and authentication (trust, md5, SCRAM) is relayed untouched.
 *
 * Where the handler sits: bytes from the client pass the CLIENT/EGRESS
 * stages of the stream's faults, then the handler, then SERVER/EGRESS;
 * replies pass SERVER/INGRESS, the handler, CLIENT/INGRESS; so latency
 * and the other stream faults act on psql:// traffic as on any relay.
 * Chains without stages are skipped (bytes go straight to the socket).
 *
 * The client's messages are handled in egress.c, the server's in
 * ingress.c; this file holds the session's lifetime, its writes, its
 * input from each side, flow control, the end and the startup.
 *
 * Batches: every Query, Sync and FunctionCall is answered by exactly one
 * ReadyForQuery, so the client's messages are grouped into batches each
 * ended by one of those, and the server's replies belong to the oldest
 * batch without its ReadyForQuery yet. That is how replies are matched to
 * statements under pipelining, and what the cases act on: a batch's
 * replies may be held (slow-query, timeout), cut (conn-reset) or carry an
 * injected error. (One exception: a Sync the client sent while the server
 * was in COPY FROM STDIN is ignored by the server; when the client ends
 * the copy, such Syncs are folded back into the copy's batch.)
 *
 * Injected errors keep the session as the server would: the statement is
 * not sent; in its place goes a Describe of a prepared statement that
 * cannot exist ("fault-injected-error"), which the server fails with
 * 26000, aborting the transaction block if there is one and skipping
 * extended-protocol messages until Sync, exactly as a failing statement
 * would; its ErrorResponse is then replaced by the chosen SQLSTATE, and
 * the server's own ReadyForQuery carries the right transaction status.
 * FATAL codes answer with a FATAL ErrorResponse and close the connection.
 *
 * Cancel keys: each session keeps the BackendKeyData its server sent and
 * the address (ip:port) it actually reached; a CancelRequest on a new
 * connection is matched against every live session's key and sent, on a
 * new upstream connection, to that session's server.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

/* ---- lifetime ---- */

void pg_ss_ref(pg_session *ss)
{
    ss->refs++;
}

static void named_free_all(named **list)
{
    while (*list) {
        named *n = *list;
        *list = n->next;
        free(n->key);
        free(n);
    }
}

void pg_batch_free(batch *b)
{
    free(b->key);
    free(b->rec);
    free(b);
}

void pg_ss_unref(pg_session *ss)
{
    if (--ss->refs > 0)
        return;
    while (ss->bq) {
        batch *b = ss->bq;
        ss->bq = b->next;
        pg_batch_free(b);
    }
    while (ss->hq) {
        seg *g = ss->hq;
        ss->hq = g->next;
        free(g);
    }
    named_free_all(&ss->stmts);
    named_free_all(&ss->portals);
    pg_framer_free(&ss->fe);
    pg_framer_free(&ss->be);
    free(ss->sbuf);
    free(ss->cbuf);
    free(ss->eo);
    free(ss->io);
    pg_tls_free(ss->tls);
    free(ss);
}

/* ---- writing ---- */

static void on_written(fault_conn *c, int status, void *ud)
{
    (void)c;
    pg_session *ss = ud;
    if (!ss->dead && status < 0 && status != FAULT_ECANCELED)
        pg_teardown(ss, true, status);
    else if (!ss->dead)
        pg_flow(ss);
    pg_ss_unref(ss);
}

/* Writes what the socket takes now, queues the rest. The queued write
 * holds a reference until its callback, which runs even when the
 * connection closes first (FAULT_ECANCELED). */
static void raw_send(pg_session *ss, fault_conn *c, const uint8_t *data, size_t len)
{
    if (!c || ss->dead || len == 0)
        return;
    if (fault_conn_write_queued(c) == 0) {
        long n = fault_conn_try_write(c, data, len);
        if (n < 0) {
            pg_teardown(ss, true, (int)n);
            return;
        }
        data += n;
        len -= (size_t)n;
        if (len == 0)
            return;
    }
    pg_ss_ref(ss); /* for the callback */
    pg_ss_ref(ss); /* for this function */
    int rc = fault_conn_write(c, data, len, on_written, ss);
    if (rc < 0)
        pg_ss_unref(ss); /* no callback on an error (sdk/fault/net.h) */
    if (rc < 0 && !ss->dead)
        pg_teardown(ss, true, rc);
    pg_ss_unref(ss);
}

/* Sends the ciphertext TLS has ready for the server. */
static void tls_drain(pg_session *ss)
{
    const uint8_t *p;
    size_t n;
    while (!ss->dead && ss->tls && (n = pg_tls_pending_out(ss->tls, &p)) > 0) {
        raw_send(ss, ss->server, p, n);
        if (ss->tls)
            pg_tls_consume_out(ss->tls, n);
    }
}

void pg_conn_send(pg_session *ss, fault_conn *c, const uint8_t *data, size_t len)
{
    if (c && c == ss->server && ss->tls && !ss->dead && len) {
        if (pg_tls_write(ss->tls, data, len) < 0) {
            pg_teardown(ss, true, FAULT_ETLS);
            return;
        }
        tls_drain(ss);
        return;
    }
    raw_send(ss, c, data, len);
}

static bool append(pg_session *ss, uint8_t **buf, size_t *len, size_t *cap, const uint8_t *data,
                   size_t n)
{
    if (*len + n > *cap) {
        size_t c = *cap ? *cap : 8192;
        while (c < *len + n)
            c *= 2;
        uint8_t *nb = realloc(*buf, c);
        if (!nb) {
            pg_teardown(ss, true, FAULT_ENOMEM);
            return false;
        }
        *buf = nb;
        *cap = c;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    return true;
}

/* Bytes for the server, sent by flush_server(). */
void pg_to_server(pg_session *ss, const uint8_t *data, size_t len)
{
    if (ss->dead || len == 0)
        return;
    ss->bytes_eg += len;
    append(ss, &ss->eo, &ss->eo_len, &ss->eo_cap, data, len);
}

static void flush_server(pg_session *ss)
{
    if (ss->dead || ss->eo_len == 0)
        return;
    size_t n = ss->eo_len;
    ss->eo_len = 0;
    if (ss->s_eg)
        fault_chain_push(ss->s_eg, ss->eo, n);
    else
        pg_conn_send(ss, ss->server, ss->eo, n);
}

/* Bytes for the client, sent by pg_flush_client(). */
void pg_to_client(pg_session *ss, const uint8_t *data, size_t len)
{
    if (ss->dead || len == 0)
        return;
    ss->bytes_in += len;
    append(ss, &ss->io, &ss->io_len, &ss->io_cap, data, len);
}

void pg_flush_client(pg_session *ss)
{
    if (ss->dead || ss->io_len == 0)
        return;
    size_t n = ss->io_len;
    ss->io_len = 0;
    if (ss->c_in)
        fault_chain_push(ss->c_in, ss->io, n);
    else
        pg_conn_send(ss, ss->client, ss->io, n);
}

static void s_eg_output_do(void *ud, const uint8_t *data, size_t len)
{
    pg_session *ss = ud;
    pg_conn_send(ss, ss->server, data, len);
}

/* Chains call back from their own timers too: hold the session. */
static void s_eg_output(void *ud, const uint8_t *data, size_t len)
{
    pg_session *ss = ud;
    pg_ss_ref(ss);
    s_eg_output_do(ss, data, len);
    pg_ss_unref(ss);
}

static void s_eg_eof_do(void *ud)
{
    pg_session *ss = ud;
    if (ss->server)
        fault_conn_shutdown(ss->server);
    ss->server_shut = true;
    pg_flow(ss);
}

static void s_eg_eof(void *ud)
{
    pg_session *ss = ud;
    pg_ss_ref(ss);
    s_eg_eof_do(ss);
    pg_ss_unref(ss);
}

static void c_in_output_do(void *ud, const uint8_t *data, size_t len)
{
    pg_session *ss = ud;
    pg_conn_send(ss, ss->client, data, len);
}

static void c_in_output(void *ud, const uint8_t *data, size_t len)
{
    pg_session *ss = ud;
    pg_ss_ref(ss);
    c_in_output_do(ss, data, len);
    pg_ss_unref(ss);
}

static void c_in_eof_do(void *ud)
{
    pg_session *ss = ud;
    fault_conn_shutdown(ss->client);
    ss->client_shut = true;
    pg_flow(ss);
}

void pg_c_in_eof(void *ud)
{
    pg_session *ss = ud;
    pg_ss_ref(ss);
    c_in_eof_do(ss);
    pg_ss_unref(ss);
}

static void chain_progress(void *ud)
{
    pg_session *ss = ud;
    pg_ss_ref(ss);
    pg_flow(ss);
    pg_ss_unref(ss);
}

/* ---- events ---- */

void pg_ss_applied(pg_session *ss, const char *kind, fault_direction dir, const char *text,
                   const char *code, double delay_ms)
{
    fault_param p[4];
    size_t n = 0;
    p[n++] = (fault_param){.key = "case", .str = kind};
    p[n++] = (fault_param){.key = "statement", .str = text};
    if (code)
        p[n++] = (fault_param){.key = "sqlstate", .str = code};
    if (delay_ms >= 0)
        p[n++] = (fault_param){.key = "delay_ms", .num = delay_ms};
    fault_event_fault_applied(ss->self, fault_stream_id(ss->s), FAULT_SIDE_SERVER, dir, p, n);
    fault_log_debug(ss->self, "%s: %s on \"%s\"", fault_stream_peer(ss->s), kind, text);
}

/* ---- input from each side ---- */

static int fe_feed(pg_session *ss, const uint8_t *data, size_t len)
{
    if (ss->raw_eg) {
        size_t n = len < ss->raw_eg ? len : ss->raw_eg;
        pg_to_server(ss, data, n);
        ss->raw_eg -= n;
        data += n;
        len -= n;
    }
    int rc = 0;
    if (len > 0 && !ss->dead)
        rc = pg_framer_feed(&ss->fe, data, len);
    flush_server(ss);
    return rc;
}

static void c_eg_output_do(void *ud, const uint8_t *data, size_t len)
{
    pg_session *ss = ud;
    int rc = fe_feed(ss, data, len);
    if (rc < 0 && !ss->dead) {
        fault_log_warn(ss->self, "%s: client: %s", fault_stream_peer(ss->s), fault_strerror(rc));
        pg_teardown(ss, true, rc);
    }
}

static void c_eg_output(void *ud, const uint8_t *data, size_t len)
{
    pg_session *ss = ud;
    pg_ss_ref(ss);
    c_eg_output_do(ss, data, len);
    pg_ss_unref(ss);
}

static void c_eg_eof_do(void *ud)
{
    pg_session *ss = ud;
    if (ss->s_eg)
        fault_chain_eof(ss->s_eg);
    else
        s_eg_eof(ss);
}

static void c_eg_eof(void *ud)
{
    pg_session *ss = ud;
    pg_ss_ref(ss);
    c_eg_eof_do(ss);
    pg_ss_unref(ss);
}

static void s_in_output_do(void *ud, const uint8_t *data, size_t len)
{
    pg_session *ss = ud;
    int rc = pg_be_feed(ss, data, len);
    if (rc < 0 && !ss->dead) {
        fault_log_warn(ss->self, "%s: server: %s", fault_stream_peer(ss->s), fault_strerror(rc));
        pg_teardown(ss, true, rc);
    } else if (!ss->dead) {
        pg_hq_flush(ss);
    }
}

static void s_in_output(void *ud, const uint8_t *data, size_t len)
{
    pg_session *ss = ud;
    pg_ss_ref(ss);
    s_in_output_do(ss, data, len);
    pg_ss_unref(ss);
}

static void s_in_eof_do(void *ud)
{
    pg_session *ss = ud;
    ss->server_eof = true;
    /* Replies held for a commit check go out as they are. */
    if (ss->clen) {
        size_t n = ss->clen;
        ss->clen = 0;
        pg_hq_push(ss, ss->cbuf, n, ss->in_release);
    }
    pg_hq_flush(ss);
}

static void s_in_eof(void *ud)
{
    pg_session *ss = ud;
    pg_ss_ref(ss);
    s_in_eof_do(ss);
    pg_ss_unref(ss);
}

static const fault_chain_ops c_eg_ops = {
    .output = c_eg_output, .eof = c_eg_eof, .progress = chain_progress};
static const fault_chain_ops s_eg_ops = {
    .output = s_eg_output, .eof = s_eg_eof, .progress = chain_progress};
static const fault_chain_ops s_in_ops = {
    .output = s_in_output, .eof = s_in_eof, .progress = chain_progress};
static const fault_chain_ops c_in_ops = {
    .output = c_in_output, .eof = pg_c_in_eof, .progress = chain_progress};

static void on_client_read(fault_conn *c, long nread, const uint8_t *data, void *ud);

/* Plaintext from the server, into the ingress path. */
static void server_plain(void *ud, const uint8_t *data, size_t len)
{
    pg_session *ss = ud;
    if (ss->dead)
        return;
    if (ss->s_in)
        fault_chain_push(ss->s_in, data, len);
    else
        s_in_output(ss, data, len);
}

static void tls_negotiate(pg_session *ss, const uint8_t *data, size_t len);
static void tls_refused(pg_session *ss, const char *why);

static void on_server_read(fault_conn *c, long nread, const uint8_t *data, void *ud)
{
    (void)c;
    pg_session *ss = ud;
    pg_ss_ref(ss);
    if (nread == FAULT_EOF && ss->phase != P_RUN) {
        tls_refused(ss, "the server closed the connection during TLS negotiation");
    } else if (nread == FAULT_EOF) {
        fault_conn_read_stop(ss->server);
        if (ss->s_in)
            fault_chain_eof(ss->s_in);
        else
            s_in_eof(ss);
    } else if (nread < 0) {
        pg_teardown(ss, true, (int)nread);
    } else if (ss->phase == P_SSLNEG || ss->phase == P_TLSHS) {
        tls_negotiate(ss, data, (size_t)nread);
    } else if (ss->tls) {
        char err[256] = "";
        int rc = pg_tls_feed(ss->tls, data, (size_t)nread, server_plain, ss, err, sizeof err);
        tls_drain(ss);
        if (rc == FAULT_EOF && !ss->dead) {
            on_server_read(c, FAULT_EOF, NULL, ss);
        } else if (rc < 0 && !ss->dead) {
            fault_log_warn(ss->self, "%s -> %s: TLS: %s", fault_stream_peer(ss->s), ss->server_addr,
                           err);
            pg_teardown(ss, true, rc);
        }
    } else {
        server_plain(ss, data, (size_t)nread);
    }
    if (!ss->dead)
        pg_flow(ss);
    pg_ss_unref(ss);
}

/* ---- flow control and the end ---- */

static size_t eg_pending(pg_session *ss)
{
    size_t n = ss->eo_len + (ss->server ? fault_conn_write_queued(ss->server) : 0);
    if (ss->c_eg)
        n += fault_chain_pending(ss->c_eg);
    if (ss->s_eg)
        n += fault_chain_pending(ss->s_eg);
    return n;
}

static size_t in_pending(pg_session *ss)
{
    size_t n = fault_conn_write_queued(ss->client) + ss->hq_bytes + ss->clen + ss->io_len;
    if (ss->s_in)
        n += fault_chain_pending(ss->s_in);
    if (ss->c_in)
        n += fault_chain_pending(ss->c_in);
    return n;
}

void pg_flow(pg_session *ss)
{
    if (ss->dead || ss->phase != P_RUN)
        return;
    size_t eg = eg_pending(ss), in = in_pending(ss);
    if (ss->fatal_close && in == 0) {
        pg_teardown(ss, false, 0);
        return;
    }
    if (ss->client_shut && ss->server_shut && eg == 0 && in == 0) {
        pg_teardown(ss, false, 0);
        return;
    }
    if (!ss->client_eof) {
        if (!ss->paused_client && eg > HIGH_WATER) {
            ss->paused_client = true;
            fault_conn_read_stop(ss->client);
        } else if (ss->paused_client && eg < LOW_WATER) {
            ss->paused_client = false;
            fault_conn_read_start(ss->client, on_client_read, ss);
        }
    }
    if (!ss->server_eof && !ss->fatal_close) {
        if (!ss->paused_server && in > HIGH_WATER) {
            ss->paused_server = true;
            fault_conn_read_stop(ss->server);
        } else if (ss->paused_server && in < LOW_WATER) {
            ss->paused_server = false;
            fault_conn_read_start(ss->server, on_server_read, ss);
        }
    }
}

static void unlink_session(pg_session *ss)
{
    pg_state *st = ss->st;
    if (ss->prev)
        ss->prev->next = ss->next;
    else if (st->live == ss)
        st->live = ss->next;
    if (ss->next)
        ss->next->prev = ss->prev;
    ss->prev = ss->next = NULL;
}

void pg_teardown(pg_session *ss, bool reset, int error)
{
    if (ss->dead)
        return;
    ss->dead = true;
    ss->phase = P_DEAD;
    unlink_session(ss);
    fault_timer_free(ss->timer);
    ss->timer = NULL;
    fault_chain_free(ss->c_eg);
    fault_chain_free(ss->s_eg);
    fault_chain_free(ss->s_in);
    fault_chain_free(ss->c_in);
    ss->c_eg = ss->s_eg = ss->s_in = ss->c_in = NULL;
    if (ss->server) {
        if (reset)
            fault_conn_reset(ss->server);
        else
            fault_conn_close(ss->server);
    }
    if (reset)
        fault_conn_reset(ss->client);
    else
        fault_conn_close(ss->client);
    fault_stream_set_end(ss->s, NULL, NULL);
    fault_stream_finish(ss->s, ss->bytes_eg, ss->bytes_in, error);
    pg_ss_unref(ss);
}

static void on_stream_end(fault_stream *s, bool reset, void *ud)
{
    (void)s;
    pg_teardown(ud, reset, 0);
}

void pg_session_stop_all(pg_state *st)
{
    while (st->live)
        pg_teardown(st->live, false, FAULT_ECANCELED);
}

/* failover: this session's server goes away. Between two messages of the
 * server, the client gets FATAL 57P01 after what was already sent (held
 * replies are lost with the server), then the close; in the middle of
 * one, the connection is reset. */
static void failover_one(pg_session *ss)
{
    if (ss->phase == P_CANCEL)
        return;
    pg_ss_applied(ss, "failover", FAULT_DIR_INGRESS, "", "57P01", -1);
    if (ss->phase != P_RUN || ss->fatal_close || !pg_framer_idle(&ss->be)) {
        pg_teardown(ss, ss->phase == P_RUN, 0);
        return;
    }
    while (ss->hq) {
        seg *g = ss->hq;
        ss->hq = g->next;
        free(g);
    }
    ss->hq_tail = NULL;
    ss->hq_bytes = 0;
    ss->clen = 0;
    uint8_t out[300];
    size_t n = pg_build_error(out, sizeof out, "FATAL", "57P01", pg_default_message("57P01"),
                              "injected by fault (postgres plugin, failover)");
    pg_to_client(ss, out, n);
    pg_flush_client(ss);
    if (ss->dead)
        return;
    ss->fatal_close = true;
    if (ss->server) {
        static const uint8_t terminate[5] = {'X', 0, 0, 0, 4};
        pg_conn_send(ss, ss->server, terminate, sizeof terminate);
    }
    if (!ss->dead)
        pg_flow(ss);
}

void pg_session_failover_all(pg_state *st)
{
    /* Each session may end (and unlink itself) as it is handled. */
    pg_session *x = st->live;
    while (x) {
        pg_session *next = x->next;
        pg_ss_ref(x);
        failover_one(x);
        next = x->dead ? next : x->next;
        pg_ss_unref(x);
        x = next;
    }
}

/* ---- startup ---- */

static fault_chain *chain(pg_session *ss, fault_direction dir, fault_side side,
                          const fault_chain_ops *ops)
{
    fault_chain *c = fault_chain_new(ss->s, dir, side, ops, ss);
    if (c && fault_chain_stages(c) == 0) {
        fault_chain_free(c);
        return NULL;
    }
    return c;
}

/* The upstream is ready (plaintext, or TLS established): the session
 * runs, starting with the client's startup packet. */
static void run_session(pg_session *ss)
{
    int rc = fault_stream_attach(ss->s);
    if (rc < 0) {
        pg_teardown(ss, true, rc);
        return;
    }
    ss->c_eg = chain(ss, FAULT_DIR_EGRESS, FAULT_SIDE_CLIENT, &c_eg_ops);
    ss->s_eg = chain(ss, FAULT_DIR_EGRESS, FAULT_SIDE_SERVER, &s_eg_ops);
    ss->s_in = chain(ss, FAULT_DIR_INGRESS, FAULT_SIDE_SERVER, &s_in_ops);
    ss->c_in = chain(ss, FAULT_DIR_INGRESS, FAULT_SIDE_CLIENT, &c_in_ops);
    if (fault_timer_new(ss->self, pg_on_timer, ss, &ss->timer) < 0) {
        pg_teardown(ss, true, FAULT_ENOMEM);
        return;
    }
    ss->phase = P_RUN;
    /* The startup batch: replies until the first ReadyForQuery. */
    batch *b = pg_batch_new(ss);
    if (!b) {
        pg_teardown(ss, true, FAULT_ENOMEM);
        return;
    }
    b->closed = true;
    fault_conn_read_start(ss->server, on_server_read, ss);
    fault_conn_read_start(ss->client, on_client_read, ss);
    /* The startup packet, and anything the client sent after it. */
    uint32_t plen = pg_get32(ss->sbuf);
    ss->raw_eg = plen;
    size_t n = ss->slen;
    ss->slen = 0;
    if (ss->c_eg)
        fault_chain_push(ss->c_eg, ss->sbuf, n);
    else
        c_eg_output(ss, ss->sbuf, n);
    if (!ss->dead)
        pg_flow(ss);
}

/* The server refused TLS, or it failed: the client hears why, in the
 * form it would from a server at startup. */
static void tls_refused(pg_session *ss, const char *why)
{
    fault_log_warn(ss->self, "%s -> %s: %s", fault_stream_peer(ss->s), ss->server_addr, why);
    char msg[400];
    snprintf(msg, sizeof msg, "psqls:// upstream %s: %s", ss->server_addr, why);
    uint8_t out[600];
    size_t n = pg_build_error(out, sizeof out, "FATAL", "08006", msg, NULL);
    raw_send(ss, ss->client, out, n);
    pg_teardown(ss, false, FAULT_ETLS);
}

/* psqls://: the answer to our SSLRequest, then the handshake. */
static void tls_negotiate(pg_session *ss, const uint8_t *data, size_t len)
{
    if (ss->phase == P_SSLNEG) {
        if (data[0] != 'S') {
            tls_refused(ss, "the server does not accept TLS (it answered the SSLRequest "
                            "with no)");
            return;
        }
        if (len > 1) {
            /* Nothing may follow 'S' before the handshake (CVE-2021-23222). */
            tls_refused(ss, "bytes after the server's SSL answer");
            return;
        }
        ss->tls = pg_tls_new(ss->st->tls, ss->mp->host, ss->st->tls_sni);
        if (!ss->tls) {
            pg_teardown(ss, true, FAULT_ENOMEM);
            return;
        }
        ss->phase = P_TLSHS;
        data = NULL;
        len = 0;
    }
    char err[256] = "";
    int rc = pg_tls_feed(ss->tls, data, len, server_plain, ss, err, sizeof err);
    tls_drain(ss);
    if (ss->dead)
        return;
    if (rc < 0) {
        tls_refused(ss, err[0] ? err : "TLS handshake failed");
        return;
    }
    if (pg_tls_ready(ss->tls))
        run_session(ss);
}

static void on_upstream(fault_conn *c, int status, void *ud)
{
    pg_session *ss = ud;
    if (ss->dead) {
        if (c)
            fault_conn_close(c);
        pg_ss_unref(ss);
        return;
    }
    if (status < 0) {
        fault_log_warn(ss->self, "%s -> %s: %s", fault_stream_peer(ss->s), ss->mp->target,
                       fault_strerror(status));
        pg_teardown(ss, true, status);
        pg_ss_unref(ss);
        return;
    }
    ss->server = c;
    snprintf(ss->server_addr, sizeof ss->server_addr, "%s", fault_conn_peer(c));
    if (ss->mp->tls) {
        /* SSLRequest first; the answer comes to on_server_read(). */
        static const uint8_t sslreq[8] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
        ss->phase = P_SSLNEG;
        raw_send(ss, ss->server, sslreq, sizeof sslreq);
        if (!ss->dead)
            fault_conn_read_start(ss->server, on_server_read, ss);
    } else {
        run_session(ss);
    }
    pg_ss_unref(ss);
}

/* failover: while the new primary is not up, a connection gets what a
 * server that is starting gives, and is closed. */
static void refuse_startup(pg_session *ss)
{
    static const char code[] = "57P03";
    static const char msg[] = "the database system is starting up";
    uint8_t out[300];
    size_t n = pg_build_error(out, sizeof out, "FATAL", code, msg,
                              "injected by fault (postgres plugin, failover)");
    snprintf(ss->server_addr, sizeof ss->server_addr, "%s", ss->mp->target);
    pg_ss_applied(ss, "failover", FAULT_DIR_INGRESS, "", code, -1);
    raw_send(ss, ss->client, out, n);
    pg_teardown(ss, false, 0);
}

/* The client's first packets: at most PG_MAX_STARTUP bytes each. */
#define STARTUP_BUF_MAX (PG_MAX_STARTUP + 65536)
static void startup_input(pg_session *ss, const uint8_t *data, size_t len)
{
    if (ss->slen + len > ss->scap) {
        size_t cap = ss->scap ? ss->scap : 512;
        while (cap < ss->slen + len)
            cap *= 2;
        if (ss->slen + len > STARTUP_BUF_MAX) {
            pg_teardown(ss, true, FAULT_EMSGSIZE);
            return;
        }
        uint8_t *nb = realloc(ss->sbuf, cap);
        if (!nb) {
            pg_teardown(ss, true, FAULT_ENOMEM);
            return;
        }
        ss->sbuf = nb;
        ss->scap = cap;
    }
    memcpy(ss->sbuf + ss->slen, data, len);
    ss->slen += len;
    for (;;) {
        if (ss->slen < 8)
            return;
        uint32_t plen = pg_get32(ss->sbuf);
        uint32_t code = pg_get32(ss->sbuf + 4);
        if (plen < 8 || plen > PG_MAX_STARTUP) {
            fault_log_warn(ss->self, "%s: not a PostgreSQL startup packet (length %u)",
                           fault_stream_peer(ss->s), plen);
            pg_teardown(ss, true, FAULT_EPROTO);
            return;
        }
        if (ss->slen < plen)
            return;
        if ((code == PG_CODE_SSL || code == PG_CODE_GSSENC) && plen == 8) {
            /* The client leg stays plaintext: 'N', and the client goes on
             * (or tries SSL after GSS). */
            static const uint8_t no = 'N';
            pg_conn_send(ss, ss->client, &no, 1);
            if (ss->dead)
                return;
            ss->slen -= 8;
            memmove(ss->sbuf, ss->sbuf + 8, ss->slen);
            continue;
        }
        if (code == PG_CODE_CANCEL) {
            if (plen < 16 || plen > 12 + 256) {
                pg_teardown(ss, true, FAULT_EPROTO);
                return;
            }
            pg_handle_cancel(ss, ss->sbuf, plen);
            return;
        }
        if (pg_failover_phase(ss->st) == PG_FO_REFUSING) {
            refuse_startup(ss);
            return;
        }
        /* A StartupMessage (3.x; others reach the server, which refuses
         * them): now the upstream. */
        ss->phase = P_CONNECTING;
        fault_conn_read_stop(ss->client);
        /* psqls:// too: TLS starts after SSLRequest, on this connection. */
        pg_ss_ref(ss);
        int rc = fault_connect(ss->self, ss->s, ss->mp->host, ss->mp->port, NULL, on_upstream, ss);
        if (rc < 0) {
            pg_ss_unref(ss);
            pg_teardown(ss, true, rc);
        }
        return;
    }
}

static void on_client_read(fault_conn *c, long nread, const uint8_t *data, void *ud)
{
    (void)c;
    pg_session *ss = ud;
    pg_ss_ref(ss);
    if (nread == FAULT_EOF) {
        ss->client_eof = true;
        fault_conn_read_stop(ss->client);
        if (ss->phase != P_RUN)
            pg_teardown(ss, false, 0);
        else if (ss->c_eg)
            fault_chain_eof(ss->c_eg);
        else
            c_eg_eof(ss);
        if (!ss->dead && ss->phase == P_RUN)
            pg_hq_flush(ss);
    } else if (nread < 0) {
        pg_teardown(ss, true, (int)nread);
    } else if (ss->phase == P_STARTUP) {
        startup_input(ss, data, (size_t)nread);
    } else if (ss->phase == P_RUN) {
        if (ss->c_eg)
            fault_chain_push(ss->c_eg, data, (size_t)nread);
        else
            c_eg_output(ss, data, (size_t)nread);
    }
    if (!ss->dead)
        pg_flow(ss);
    pg_ss_unref(ss);
}

void pg_session_accept(pg_mapping *mp, fault_conn *c)
{
    pg_state *st = mp->st;
    if (st->stopping) {
        fault_conn_close(c);
        return;
    }
    fault_stream *s = fault_stream_new(st->self, c, mp->target);
    if (!s) {
        fault_conn_reset(c);
        return;
    }
    fault_stream_set_scheme(s, mp->tls ? "psqls" : "psql");
    pg_session *ss = calloc(1, sizeof *ss);
    if (!ss) {
        fault_stream_abort(s, FAULT_ENOMEM);
        return;
    }
    ss->st = st;
    ss->mp = mp;
    ss->self = st->self;
    ss->s = s;
    ss->client = c;
    ss->refs = 1;
    ss->txn = 'I';
    ss->phase = P_STARTUP;
    pg_framer_init(&ss->fe, &pg_fe_ops, ss);
    pg_framer_init(&ss->be, &pg_be_ops, ss);
    ss->next = st->live;
    if (st->live)
        st->live->prev = ss;
    st->live = ss;
    fault_stream_set_end(s, on_stream_end, ss);
    fault_conn_read_start(c, on_client_read, ss);
}
