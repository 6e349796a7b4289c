/*
 * plugins/postgres/session.c - one client connection of a psql:// mapping.
 *
 * Startup: the client's first packets have no type byte. SSLRequest and
 * GSSENCRequest are answered 'N' (the client leg is plaintext); a
 * CancelRequest is forwarded to the server that gave its key (below); a
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

#include "pg.h"
#include "pgtls.h"

#define HIGH_WATER     (256 * 1024)
#define LOW_WATER      (64 * 1024)
#define TEXT_MAX       200       /* statement text kept for events */
#define MAX_NAMED      4096      /* prepared statements/portals tracked */
#define MAX_BATCHES    100000    /* batches in flight (pipelining depth) */
#define COMMIT_BUF_MAX (1 << 20) /* replies held back for a commit check */
#define MARKER         "fault-injected-error"

enum { P_STARTUP, P_CONNECTING, P_SSLNEG, P_TLSHS, P_RUN, P_CANCEL, P_DEAD };

typedef struct named {
    struct named *next;
    bool matched;
    char text[TEXT_MAX + 1];
    /* stale-reads: a statement's whole text; a portal's text and
     * parameters (what its result is kept under). NULL otherwise. */
    char *key;
    size_t keylen;
    char name[];
} named;

typedef struct batch {
    struct batch *next;
    bool closed;  /* its Query/Sync/FunctionCall was sent */
    char term;    /* 'Q', 'S', 'F', or 0 for the startup */
    bool has_cmd; /* holds a Query or Execute (may start a COPY) */
    bool started; /* the first reply arrived */
    bool delayed;
    uint64_t delay_us; /* UINT64_MAX: held until the client leaves */
    uint64_t release_us;
    bool inject, fatal;
    bool injected; /* the marker's error was replaced */
    char code[6];
    const char *kind;       /* the injected error's case, for events */
    const char *delay_kind; /* slow-query or timeout, for events */
    bool reset_result;
    bool commit_watch; /* reset if this batch commits */
    bool saw_error, saw_commit, saw_row;
    bool corrupt; /* data-corruption acts on its rows */
    bool record;  /* stale-reads: keep this result for next time */
    bool replay;  /* stale-reads: answer with `rec` instead */
    /* stale-reads on the extended protocol: which Execute of the batch
     * (1-based; 0: none) is recorded or replayed, and how many Executes
     * were sent and completed (CommandComplete, EmptyQueryResponse,
     * PortalSuspended or an error) so far. */
    unsigned stale_exec, execs_sent, execs_done;
    bool rec_complete; /* the recorded result ends with its completion */
    char *key;         /* stale-reads: the statement */
    size_t keylen;
    uint8_t *rec; /* the result recorded, or to replay */
    size_t rlen, rcap;
    uint64_t corrupted; /* rows altered */
    char txn_before;    /* transaction status when it started */
    double delay_ms;
    char text[TEXT_MAX + 1];
} batch;

typedef struct seg {
    struct seg *next;
    uint64_t release_us;
    size_t len, off;
    uint8_t data[];
} seg;

struct pg_session {
    pg_state *st;
    pg_mapping *mp;
    fault_plugin *self;
    fault_stream *s;
    fault_conn *client, *server;
    pg_session *prev, *next;
    int phase;
    int refs;
    bool dead;

    /* Startup packets. */
    uint8_t *sbuf;
    size_t slen, scap;
    size_t raw_eg; /* bytes out of the client chain not to frame (startup) */

    pg_framer fe, be;
    fault_chain *c_eg, *s_eg, *s_in, *c_in;

    /* Batches in flight, oldest first; `open` is the one being built. */
    batch *bq, *bq_tail, *open, *copy_batch;
    size_t nbatches;
    bool txn_watch; /* conn-reset commit: a matching statement ran in the
                     * transaction the client is in */

    named *stmts, *portals;
    size_t nnamed;

    /* Replies waiting for their release time, oldest first. */
    seg *hq, *hq_tail;
    size_t hq_bytes;
    fault_timer *timer;
    uint64_t in_release;
    batch *in_batch; /* batch of the message being emitted */
    uint8_t *cbuf;   /* replies held back for a commit check */
    size_t clen, ccap;
    char txn;         /* last ReadyForQuery status */
    uint8_t fmt[64];  /* last RowDescription: 1 for a binary column */
    uint8_t in_type;  /* type of the reply being emitted */
    unsigned in_exec; /* its Execute in the batch (1-based), for
                       * stale-reads on the extended protocol */
    uint16_t ncols;

    uint8_t key[260];
    size_t key_len;
    char server_addr[300];

    bool client_eof, server_eof, client_shut, server_shut;
    bool fatal_close; /* close once the client has its FATAL error */
    bool paused_client, paused_server;
    uint64_t bytes_eg, bytes_in;
    uint64_t wcb; /* write callbacks run so far */
    /* Output gathered while one input is processed, sent in one write:
     * a reply of four messages costs one send(), not one per piece. */
    uint8_t *eo, *io;
    size_t eo_len, eo_cap, io_len, io_cap;
    pg_tls *tls; /* psqls://: TLS to the server, after SSLRequest */
};

static void teardown(pg_session *ss, bool reset, int error);
static void flow(pg_session *ss);

/* ---- lifetime ---- */

static void ss_ref(pg_session *ss)
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

static void batch_free(batch *b)
{
    free(b->key);
    free(b->rec);
    free(b);
}

static void ss_unref(pg_session *ss)
{
    if (--ss->refs > 0)
        return;
    while (ss->bq) {
        batch *b = ss->bq;
        ss->bq = b->next;
        batch_free(b);
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
    ss->wcb++;
    if (!ss->dead && status < 0 && status != FAULT_ECANCELED)
        teardown(ss, true, status);
    else if (!ss->dead)
        flow(ss);
    ss_unref(ss);
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
            teardown(ss, true, (int)n);
            return;
        }
        data += n;
        len -= (size_t)n;
        if (len == 0)
            return;
    }
    ss_ref(ss); /* for the callback */
    ss_ref(ss); /* for this function */
    uint64_t seen = ss->wcb;
    int rc = fault_conn_write(c, data, len, on_written, ss);
    if (rc < 0 && ss->wcb == seen)
        ss_unref(ss); /* a plain connection does not call back on error */
    if (rc < 0 && !ss->dead)
        teardown(ss, true, rc);
    ss_unref(ss);
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

static void conn_send(pg_session *ss, fault_conn *c, const uint8_t *data, size_t len)
{
    if (c && c == ss->server && ss->tls && !ss->dead && len) {
        if (pg_tls_write(ss->tls, data, len) < 0) {
            teardown(ss, true, FAULT_ETLS);
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
            teardown(ss, true, FAULT_ENOMEM);
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
static void to_server(pg_session *ss, const uint8_t *data, size_t len)
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
        conn_send(ss, ss->server, ss->eo, n);
}

/* Bytes for the client, sent by flush_client(). */
static void to_client(pg_session *ss, const uint8_t *data, size_t len)
{
    if (ss->dead || len == 0)
        return;
    ss->bytes_in += len;
    append(ss, &ss->io, &ss->io_len, &ss->io_cap, data, len);
}

static void flush_client(pg_session *ss)
{
    if (ss->dead || ss->io_len == 0)
        return;
    size_t n = ss->io_len;
    ss->io_len = 0;
    if (ss->c_in)
        fault_chain_push(ss->c_in, ss->io, n);
    else
        conn_send(ss, ss->client, ss->io, n);
}

static void s_eg_output_do(void *ud, const uint8_t *data, size_t len)
{
    pg_session *ss = ud;
    conn_send(ss, ss->server, data, len);
}

/* Chains call back from their own timers too: hold the session. */
static void s_eg_output(void *ud, const uint8_t *data, size_t len)
{
    pg_session *ss = ud;
    ss_ref(ss);
    s_eg_output_do(ss, data, len);
    ss_unref(ss);
}

static void s_eg_eof_do(void *ud)
{
    pg_session *ss = ud;
    if (ss->server)
        fault_conn_shutdown(ss->server);
    ss->server_shut = true;
    flow(ss);
}

static void s_eg_eof(void *ud)
{
    pg_session *ss = ud;
    ss_ref(ss);
    s_eg_eof_do(ss);
    ss_unref(ss);
}

static void c_in_output_do(void *ud, const uint8_t *data, size_t len)
{
    pg_session *ss = ud;
    conn_send(ss, ss->client, data, len);
}

static void c_in_output(void *ud, const uint8_t *data, size_t len)
{
    pg_session *ss = ud;
    ss_ref(ss);
    c_in_output_do(ss, data, len);
    ss_unref(ss);
}

static void c_in_eof_do(void *ud)
{
    pg_session *ss = ud;
    fault_conn_shutdown(ss->client);
    ss->client_shut = true;
    flow(ss);
}

static void c_in_eof(void *ud)
{
    pg_session *ss = ud;
    ss_ref(ss);
    c_in_eof_do(ss);
    ss_unref(ss);
}

static void chain_progress(void *ud)
{
    pg_session *ss = ud;
    ss_ref(ss);
    flow(ss);
    ss_unref(ss);
}

/* ---- events ---- */

static void applied(pg_session *ss, const char *kind, fault_direction dir, const char *text,
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

/* ---- ingress: holding replies ---- */

static void hq_flush(pg_session *ss)
{
    uint64_t now = fault_now_us();
    while (ss->hq && !ss->dead) {
        seg *g = ss->hq;
        if (g->release_us > now) {
            if (g->release_us != UINT64_MAX)
                fault_timer_start_at(ss->timer, g->release_us);
            break;
        }
        ss->hq = g->next;
        if (!ss->hq)
            ss->hq_tail = NULL;
        ss->hq_bytes -= g->len;
        to_client(ss, g->data, g->len);
        free(g);
    }
    flush_client(ss);
    if (!ss->dead && ss->hq && ss->hq->release_us == UINT64_MAX && ss->client_eof) {
        /* Held until the client gives up, and it has: nothing will ever
         * be sent to it again. */
        teardown(ss, false, 0);
        return;
    }
    if (!ss->dead && !ss->hq && ss->server_eof && !ss->client_shut) {
        if (ss->c_in)
            fault_chain_eof(ss->c_in);
        else
            c_in_eof(ss);
    }
}

static void on_timer(fault_timer *t, void *ud)
{
    (void)t;
    pg_session *ss = ud;
    ss_ref(ss);
    hq_flush(ss);
    if (!ss->dead)
        flow(ss);
    ss_unref(ss);
}

static void hq_push(pg_session *ss, const uint8_t *data, size_t len, uint64_t release)
{
    if (!ss->hq && release <= fault_now_us()) {
        to_client(ss, data, len);
        return;
    }
    if (ss->hq_tail && ss->hq_tail->release_us == release && ss->hq_tail->len + len <= 16384 &&
        ss->hq_tail->off >= ss->hq_tail->len + len) {
        memcpy(ss->hq_tail->data + ss->hq_tail->len, data, len);
        ss->hq_tail->len += len;
        ss->hq_bytes += len;
        return;
    }
    size_t cap = len < 16384 ? 16384 : len;
    seg *g = malloc(sizeof *g + cap);
    if (!g) {
        teardown(ss, true, FAULT_ENOMEM);
        return;
    }
    g->next = NULL;
    g->release_us = release;
    g->len = len;
    g->off = cap; /* capacity */
    memcpy(g->data, data, len);
    if (ss->hq_tail)
        ss->hq_tail->next = g;
    else
        ss->hq = g;
    ss->hq_tail = g;
    ss->hq_bytes += len;
    if (g == ss->hq && release != UINT64_MAX)
        fault_timer_start_at(ss->timer, release);
}

/* Framer output for the ingress direction: the current message's bytes. */
static void be_emit(void *ud, const uint8_t *data, size_t len)
{
    pg_session *ss = ud;
    batch *b = ss->in_batch;
    if (ss->fatal_close)
        return; /* nothing after a FATAL error, as from a server */
    if (b && b->record) {
        /* One plain result (description, rows, completion) is kept;
         * anything else (an error, a COPY, several results) is not. On
         * the extended protocol, the rows and completion of one Execute. */
        uint8_t t = ss->in_type;
        bool async = t == 'S' || t == 'N' || t == 'A';
        bool mine = !b->stale_exec ? t == 'T' || t == 'D' || t == 'C'
                                   : ss->in_exec == b->stale_exec && (t == 'D' || t == 'C');
        if (b->stale_exec && !mine && t != 'E' && t != 's' && t != 'I' && t != 'G' && t != 'H' &&
            t != 'W') {
            /* the batch's other replies (ParseComplete, the description,
             * other statements' results): not part of this result */
        } else if (mine) {
            if (b->rlen + len > PG_STALE_MAX) {
                b->record = false;
            } else {
                if (b->rlen + len > b->rcap) {
                    size_t cap = b->rcap ? b->rcap : 1024;
                    while (cap < b->rlen + len)
                        cap *= 2;
                    uint8_t *nb = realloc(b->rec, cap);
                    if (!nb)
                        b->record = false;
                    else {
                        b->rec = nb;
                        b->rcap = cap;
                    }
                }
                if (b->record) {
                    memcpy(b->rec + b->rlen, data, len);
                    b->rlen += len;
                }
            }
        } else if (t != 'Z' && !async) {
            b->record = false;
        }
    }
    if (b && b->commit_watch) {
        /* Held back until its ReadyForQuery says whether it committed. */
        if (ss->clen + len > COMMIT_BUF_MAX) {
            b->commit_watch = false; /* too much to hold: let it go */
            hq_push(ss, ss->cbuf, ss->clen, ss->in_release);
            ss->clen = 0;
        } else {
            if (ss->clen + len > ss->ccap) {
                size_t cap = ss->ccap ? ss->ccap : 4096;
                while (cap < ss->clen + len)
                    cap *= 2;
                uint8_t *nb = realloc(ss->cbuf, cap);
                if (!nb) {
                    teardown(ss, true, FAULT_ENOMEM);
                    return;
                }
                ss->cbuf = nb;
                ss->ccap = cap;
            }
            memcpy(ss->cbuf + ss->clen, data, len);
            ss->clen += len;
            return;
        }
    }
    hq_push(ss, data, len, ss->in_release);
}

/* ---- batches ---- */

static batch *batch_new(pg_session *ss)
{
    if (ss->nbatches >= MAX_BATCHES)
        return NULL;
    batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    if (ss->bq_tail)
        ss->bq_tail->next = b;
    else
        ss->bq = b;
    ss->bq_tail = b;
    ss->nbatches++;
    return b;
}

/* The batch the client's current message belongs to. */
static batch *open_batch(pg_session *ss)
{
    if (!ss->open) {
        ss->open = batch_new(ss);
        if (!ss->open)
            teardown(ss, true, ss->nbatches >= MAX_BATCHES ? FAULT_EMSGSIZE : FAULT_ENOMEM);
    }
    return ss->open;
}

static void close_batch(pg_session *ss, char term)
{
    if (ss->open) {
        ss->open->closed = true;
        ss->open->term = term;
        ss->open = NULL;
    }
}

/* ---- the cases: deciding for one statement ---- */

static void set_text(batch *b, const char *sql, size_t len)
{
    if (b->text[0])
        return;
    if (len > TEXT_MAX)
        len = TEXT_MAX;
    memcpy(b->text, sql, len);
    b->text[len] = '\0';
    for (size_t i = 0; i < len; i++)
        if (b->text[i] == '\n' || b->text[i] == '\r' || b->text[i] == '\t')
            b->text[i] = ' ';
}

/* A statement is about to be sent in batch b. Returns true when it must
 * be replaced by the error marker. */
static bool decide(pg_session *ss, batch *b, const char *sql, size_t len, bool matched)
{
    pg_state *st = ss->st;
    bool rollback =
        pg_sql_starts_with(sql, len, "rollback") || pg_sql_starts_with(sql, len, "abort");
    bool commit = pg_sql_starts_with(sql, len, "commit") || pg_sql_starts_with(sql, len, "end");
    if ((st->cases & PG_CASE_RESET) && st->reset_at == PG_RESET_COMMIT) {
        if (commit && ss->txn_watch) {
            b->commit_watch = true;
            set_text(b, sql, len);
        }
        if (commit || rollback)
            ss->txn_watch = false;
    }
    if ((st->cases & PG_CASE_FAILOVER) && matched && !b->inject &&
        pg_failover_phase(st) == PG_FO_READ_ONLY && pg_sql_is_write(sql, len)) {
        /* The new primary is not writable yet: still a standby. */
        b->inject = true;
        b->fatal = false;
        memcpy(b->code, "25006", 6);
        b->kind = "failover";
        set_text(b, sql, len);
        return true;
    }
    if (!st->cases || !matched || !fault_plugin_active(st->self))
        return false;
    /* A server never fails ROLLBACK: clients rely on it to recover. */
    if (rollback)
        return false;
    fault_rng *rng = fault_plugin_rng(st->self);
    if (!b->inject && (st->cases & PG_CASE_DEADLOCK) &&
        fault_rng_bernoulli(rng, st->deadlock_rate)) {
        b->inject = true;
        b->fatal = false;
        memcpy(b->code, "40P01", 6);
        b->kind = "deadlock";
        set_text(b, sql, len);
        return true;
    }
    if (!b->inject && (st->cases & PG_CASE_ERROR) && fault_rng_bernoulli(rng, st->probability)) {
        b->inject = true;
        b->fatal = st->error_fatal;
        snprintf(b->code, sizeof b->code, "%s", st->error_code);
        b->kind = "error-injection";
        set_text(b, sql, len);
        return true;
    }
    if ((st->cases & PG_CASE_RESET) && fault_rng_bernoulli(rng, st->probability)) {
        if (st->reset_at == PG_RESET_RESULT) {
            b->reset_result = true;
        } else {
            b->commit_watch = true;
            ss->txn_watch = !commit;
        }
        set_text(b, sql, len);
    }
    if ((st->cases & PG_CASE_CORRUPT) && fault_rng_bernoulli(rng, st->probability)) {
        b->corrupt = true;
        set_text(b, sql, len);
    }
    if ((st->cases & PG_CASE_TIMEOUT) && fault_rng_bernoulli(rng, st->probability)) {
        uint64_t d = st->timeout_hold_us ? st->timeout_hold_us : UINT64_MAX;
        if (!b->delayed || d > b->delay_us) {
            b->delayed = true;
            b->delay_us = d;
            b->delay_ms = d == UINT64_MAX ? 0 : (double)d / 1000.0;
            b->delay_kind = "timeout";
        }
        set_text(b, sql, len);
    } else if ((st->cases & PG_CASE_SLOW) && fault_rng_bernoulli(rng, st->probability)) {
        double ms = fault_distribution_sample(&st->dist, rng);
        uint64_t d = (uint64_t)(ms * 1000.0);
        if (!b->delayed || d > b->delay_us) {
            b->delayed = true;
            b->delay_us = d;
            b->delay_ms = ms;
            b->delay_kind = "slow-query";
        }
        set_text(b, sql, len);
    }
    return false;
}

/* Describe of a statement that cannot exist, then (for a simple Query,
 * which the server answers with its own ReadyForQuery) a Sync. */
static void send_marker(pg_session *ss, bool sync)
{
    uint8_t m[64];
    size_t n = 0;
    size_t nl = sizeof MARKER; /* with its NUL */
    m[n++] = 'D';
    pg_put32(m + n, (uint32_t)(4 + 1 + nl));
    n += 4;
    m[n++] = 'S';
    memcpy(m + n, MARKER, nl);
    n += nl;
    if (sync) {
        m[n++] = 'S';
        pg_put32(m + n, 4);
        n += 4;
    }
    to_server(ss, m, n);
}

/* ---- prepared statements and portals ---- */

static named **named_find(named **list, const char *name)
{
    for (named **pp = list; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->name, name) == 0)
            return pp;
    return NULL;
}

static void named_drop(pg_session *ss, named **list, const char *name)
{
    named **pp = named_find(list, name);
    if (pp) {
        named *n = *pp;
        *pp = n->next;
        free(n->key);
        free(n);
        ss->nnamed--;
    }
}

/* key (keylen bytes, may be NULL) is copied. */
static void named_put(pg_session *ss, named **list, const char *name, bool matched,
                      const char *text, size_t tlen, const char *key, size_t keylen)
{
    named_drop(ss, list, name);
    if (ss->nnamed >= MAX_NAMED)
        return; /* not tracked: its executions match nothing */
    size_t nl = strlen(name);
    named *n = malloc(sizeof *n + nl + 1);
    if (!n)
        return;
    memcpy(n->name, name, nl + 1);
    n->matched = matched;
    n->key = NULL;
    n->keylen = 0;
    if (key && (n->key = malloc(keylen ? keylen : 1))) {
        memcpy(n->key, key, keylen);
        n->keylen = keylen;
    }
    if (tlen > TEXT_MAX)
        tlen = TEXT_MAX;
    memcpy(n->text, text, tlen);
    n->text[tlen] = '\0';
    /* The unnamed statement and portal are the busiest: keep them first. */
    n->next = *list;
    *list = n;
    ss->nnamed++;
}

/* ---- egress: the client's messages ---- */

/* stale-reads for a SELECT sent as a simple Query: answered from the
 * last result (the server gets an empty query, which keeps the session's
 * state as it was and answers with one ReadyForQuery), or recorded for
 * next time. Returns true when the query was replaced. */
static bool stale(pg_session *ss, batch *b, const char *sql, size_t n)
{
    pg_state *st = ss->st;
    const pg_stale *e = pg_stale_get(st, sql, n);
    if (e && fault_rng_bernoulli(fault_plugin_rng(st->self), st->probability)) {
        b->rec = malloc(e->len ? e->len : 1);
        if (!b->rec)
            return false;
        memcpy(b->rec, e->bytes, e->len);
        b->rlen = b->rcap = e->len;
        b->replay = true;
        set_text(b, sql, n);
        static const uint8_t empty[6] = {'Q', 0, 0, 0, 5, 0};
        to_server(ss, empty, sizeof empty);
        return true;
    }
    b->key = malloc(n ? n : 1);
    if (b->key) {
        memcpy(b->key, sql, n);
        b->keylen = n;
        b->record = true;
    }
    return false;
}

/* stale-reads for an Execute (extended protocol): the server runs it, and
 * its rows and completion are either recorded, or swallowed and replaced
 * by those it gave last time with the same parameters (be_message()). The
 * description came from the client's Describe and is the same. */
static void stale_ext(pg_session *ss, batch *b, const named *portal, unsigned exec)
{
    pg_state *st = ss->st;
    const pg_stale *e = pg_stale_get(st, portal->key, portal->keylen);
    b->stale_exec = exec;
    if (e && fault_rng_bernoulli(fault_plugin_rng(st->self), st->probability)) {
        b->rec = malloc(e->len ? e->len : 1);
        if (!b->rec) {
            b->stale_exec = 0;
            return;
        }
        memcpy(b->rec, e->bytes, e->len);
        b->rlen = b->rcap = e->len;
        b->replay = true;
        set_text(b, portal->text, strlen(portal->text));
        return;
    }
    b->key = malloc(portal->keylen ? portal->keylen : 1);
    if (!b->key) {
        b->stale_exec = 0;
        return;
    }
    memcpy(b->key, portal->key, portal->keylen);
    b->keylen = portal->keylen;
    b->record = true;
}

static size_t fe_head(void *ud, uint8_t type, uint32_t len)
{
    pg_session *ss = ud;
    switch (type) {
    case 'Q': /* Query: the statement */
    case 'P': /* Parse: name, statement */
        return len - 4;
    case 'B': /* Bind: names, then the parameters (stale-reads keys on them) */
        return (ss->st->cases & PG_CASE_STALE) || len - 4 < 1024 ? len - 4 : 1024;
    case 'E': /* Execute: portal name, row limit */
    case 'C': /* Close */
        return len - 4 < 1024 ? len - 4 : 1024;
    default:
        return 0;
    }
}

static pg_verdict fe_message(void *ud, uint8_t type, uint32_t len, const uint8_t *body, size_t have)
{
    pg_session *ss = ud;
    pg_state *st = ss->st;
    (void)len;
    if (ss->dead)
        return PG_DROP;
    batch *b;
    size_t off = 0;
    switch (type) {
    case 'Q': {
        if (!(b = open_batch(ss)))
            return PG_DROP;
        b->has_cmd = true;
        ss->copy_batch = b;
        const char *sql = (const char *)body;
        size_t n = strnlen(sql, have);
        bool inject = false, matched = false;
        if (st->cases) {
            matched = pg_statement_matches(st, sql, n);
            inject = decide(ss, b, sql, n, matched);
        }
        close_batch(ss, 'Q');
        if (inject) {
            send_marker(ss, true);
            return PG_DROP;
        }
        if ((st->cases & PG_CASE_STALE) && matched && !b->stale_exec &&
            fault_plugin_active(st->self) && have + 4 == len &&
            pg_sql_starts_with(sql, n, "select") && stale(ss, b, sql, n))
            return PG_DROP;
        return PG_FORWARD;
    }
    case 'P': {
        if (!(b = open_batch(ss)))
            return PG_DROP;
        const char *name = pg_cstring(body, have, &off);
        if (!name)
            return PG_FORWARD;
        const char *sql = (const char *)body + off;
        size_t n = strnlen(sql, have - off);
        bool matched = st->cases ? pg_statement_matches(st, sql, n) : false;
        /* stale-reads keeps results under the whole text (a matching
         * SELECT parsed whole). */
        bool keep = (st->cases & PG_CASE_STALE) && matched && off + n < have &&
                    pg_sql_starts_with(sql, n, "select");
        named_put(ss, &ss->stmts, name, matched, sql, n, keep ? sql : NULL, n);
        return PG_FORWARD;
    }
    case 'B': {
        if (!(b = open_batch(ss)))
            return PG_DROP;
        const char *portal = pg_cstring(body, have, &off);
        const char *stmt = portal ? pg_cstring(body, have, &off) : NULL;
        if (!stmt)
            return PG_FORWARD;
        named **sp = named_find(&ss->stmts, stmt);
        if (!sp) {
            named_drop(ss, &ss->portals, portal);
            return PG_FORWARD;
        }
        /* stale-reads: the portal's result is the statement's with these
         * parameters (and formats): both make the key, marked apart from
         * the simple protocol's (whose results carry their description). */
        char *key = NULL;
        size_t keylen = 0;
        if ((*sp)->key && have + 4 == len && (key = malloc(2 + (*sp)->keylen + have - off))) {
            key[0] = '\x01';
            memcpy(key + 1, (*sp)->key, (*sp)->keylen);
            key[1 + (*sp)->keylen] = '\0';
            memcpy(key + 2 + (*sp)->keylen, body + off, have - off);
            keylen = 2 + (*sp)->keylen + have - off;
        }
        named_put(ss, &ss->portals, portal, (*sp)->matched, (*sp)->text, strlen((*sp)->text), key,
                  keylen);
        free(key);
        return PG_FORWARD;
    }
    case 'E': {
        if (!(b = open_batch(ss)))
            return PG_DROP;
        b->has_cmd = true;
        ss->copy_batch = b;
        unsigned exec = ++b->execs_sent;
        const char *portal = pg_cstring(body, have, &off);
        if (!portal || !st->cases)
            return PG_FORWARD;
        named **pp = named_find(&ss->portals, portal);
        if (!pp)
            return PG_FORWARD;
        const char *text = (*pp)->text;
        if (decide(ss, b, text, strlen(text), (*pp)->matched)) {
            send_marker(ss, false);
            return PG_DROP;
        }
        /* stale-reads: one Execute per batch, fetching all rows. */
        if ((*pp)->key && !b->stale_exec && off + 4 == have && pg_get32(body + off) == 0 &&
            fault_plugin_active(st->self))
            stale_ext(ss, b, *pp, exec);
        return PG_FORWARD;
    }
    case 'C': {
        if (!(b = open_batch(ss)))
            return PG_DROP;
        if (have < 1)
            return PG_FORWARD;
        off = 1;
        const char *name = pg_cstring(body, have, &off);
        if (name)
            named_drop(ss, body[0] == 'S' ? &ss->stmts : &ss->portals, name);
        return PG_FORWARD;
    }
    case 'S': /* Sync */
    case 'F': /* FunctionCall */
        if (!(b = open_batch(ss)))
            return PG_DROP;
        close_batch(ss, (char)type);
        return PG_FORWARD;
    case 'c': /* CopyDone */
    case 'f': /* CopyFail */
        /* Syncs sent after the command that started this copy reached the
         * server during the copy, which ignores them: their batches are
         * one with the copy's. */
        if (ss->copy_batch && ss->copy_batch->term == 'S') {
            batch *cb = ss->copy_batch;
            bool found = false;
            for (batch *x = ss->bq; x; x = x->next)
                found |= x == cb;
            if (found) {
                while (cb->next && !cb->next->has_cmd) {
                    batch *x = cb->next;
                    cb->next = x->next;
                    if (ss->bq_tail == x)
                        ss->bq_tail = cb;
                    if (ss->open == x)
                        ss->open = cb;
                    ss->nbatches--;
                    batch_free(x);
                }
                cb->closed = false;
                cb->term = 0;
                if (!ss->open && ss->bq_tail == cb)
                    ss->open = cb;
            }
            ss->copy_batch = NULL;
        }
        if (!open_batch(ss))
            return PG_DROP;
        return PG_FORWARD;
    default:
        if (!open_batch(ss))
            return PG_DROP;
        return PG_FORWARD;
    }
}

static void fe_emit(void *ud, const uint8_t *data, size_t len)
{
    to_server(ud, data, len);
}

static const pg_framer_ops fe_ops = {.head = fe_head, .message = fe_message, .emit = fe_emit};

/* ---- ingress: the server's messages ---- */

static void reset_now(pg_session *ss, batch *b, const char *why)
{
    applied(ss, "conn-reset", FAULT_DIR_INGRESS, b->text, NULL, -1);
    fault_log_info(ss->self, "%s: connection reset %s", fault_stream_peer(ss->s), why);
    teardown(ss, true, 0);
}

static size_t be_head(void *ud, uint8_t type, uint32_t len)
{
    pg_session *ss = ud;
    batch *b = ss->bq;
    ss->in_type = type;
    /* Notices, notifications and parameter changes may come at any time:
     * inside a batch's replies they go with them (held or not alike),
     * between batches they start none. */
    bool async = type == 'A' || type == 'N' || type == 'S';
    ss->in_batch = async && !(b && b->started) ? NULL : b;
    ss->in_exec = 0;
    if (ss->in_batch) {
        ss->in_exec = b->execs_done + 1;
        if (type == 'C' || type == 'I' || type == 's' || type == 'E')
            b->execs_done++; /* the next reply is the next Execute's */
    }
    if (b && !async && !b->started) {
        b->started = true;
        b->txn_before = ss->txn;
        if (b->delayed) {
            b->release_us = b->delay_us == UINT64_MAX ? UINT64_MAX : fault_now_us() + b->delay_us;
            applied(ss, b->delay_kind, FAULT_DIR_INGRESS, b->text, NULL,
                    b->delay_us == UINT64_MAX ? 0 : b->delay_ms);
        }
    }
    /* Replies keep their order: nothing leaves before what is held. */
    uint64_t rel = (b && b->delayed && b->started) ? b->release_us : 0;
    if (ss->hq_tail && ss->hq_tail->release_us > rel)
        rel = ss->hq_tail->release_us;
    ss->in_release = rel;
    switch (type) {
    case 'E': /* ErrorResponse */
    case 'C': /* CommandComplete */
    case 'K': /* BackendKeyData */
    case 'Z': /* ReadyForQuery */
    case 'R': /* Authentication */
    case 'T': /* RowDescription: the columns' formats */
        return len - 4 < 4096 ? len - 4 : 4096;
    case 'D': /* DataRow: whole, when its values may be altered */
        return b && b->corrupt ? len - 4 : 0;
    default:
        return 0;
    }
}

static void end_batch(pg_session *ss, batch *b, char status)
{
    if (ss->bq == b) {
        ss->bq = b->next;
        if (!ss->bq)
            ss->bq_tail = NULL;
        if (ss->open == b)
            ss->open = NULL;
        if (ss->copy_batch == b)
            ss->copy_batch = NULL;
        ss->nbatches--;
    }
    if (b->commit_watch) {
        /* Committed: the work is durable and the client never hears. */
        bool committed = !b->saw_error && status == 'I' && (b->saw_commit || b->txn_before == 'I');
        if (committed) {
            ss->clen = 0;
            ss->in_batch = NULL;
            reset_now(ss, b, "right after a commit");
            batch_free(b);
            return;
        }
        uint8_t *held = ss->cbuf;
        size_t n = ss->clen;
        ss->clen = 0;
        b->commit_watch = false;
        hq_push(ss, held, n, ss->in_release);
    }
    if (b->record && !b->saw_error && b->rlen && (!b->stale_exec || b->rec_complete))
        pg_stale_put(ss->st, b->key, b->keylen, b->rec, b->rlen);
    ss->in_batch = NULL;
    batch_free(b);
}

/* RowDescription: which columns come in binary (those are never
 * altered: their bytes have a layout the client decodes). */
static void read_formats(pg_session *ss, const uint8_t *body, size_t have)
{
    ss->ncols = 0;
    if (have < 2)
        return;
    uint16_t n = (uint16_t)(body[0] << 8 | body[1]);
    size_t off = 2;
    for (uint16_t i = 0; i < n; i++) {
        if (!pg_cstring(body, have, &off) || off + 18 > have)
            return;
        uint16_t format = (uint16_t)(body[off + 16] << 8 | body[off + 17]);
        off += 18;
        if (i < sizeof ss->fmt)
            ss->fmt[i] = format != 0;
    }
    ss->ncols = n;
}

/* Alters one text value of a DataRow so that it keeps its length and
 * stays valid for a number or a word: a digit becomes another digit
 * (never the first, so no sign or leading digit changes), a letter
 * another letter of the same case. Values of other shapes (dates, JSON,
 * binary) are left alone, as is a row with none that qualifies. */
static bool alter_value(uint8_t *v, int32_t n, fault_rng *rng)
{
    bool digits = n > 1, letters = n > 0;
    for (int32_t i = 0; i < n; i++) {
        uint8_t c = v[i];
        bool d = (c >= '0' && c <= '9') || (i == 0 && c == '-') || c == '.';
        bool l = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == ' ';
        digits &= d;
        letters &= l;
    }
    if (!digits && !letters)
        return false;
    for (int tries = 0; tries < 8; tries++) {
        int32_t i = (int32_t)(fault_rng_u64(rng) % (uint64_t)n);
        uint8_t c = v[i];
        if (digits && c >= '0' && c <= '9' && i > 0 && v[i - 1] != '-') {
            v[i] = (uint8_t)('0' + (c - '0' + 1 + fault_rng_u64(rng) % 9) % 10);
            return true;
        }
        if (letters && c >= 'a' && c <= 'z') {
            v[i] = (uint8_t)('a' + (c - 'a' + 1 + fault_rng_u64(rng) % 25) % 26);
            return true;
        }
        if (letters && c >= 'A' && c <= 'Z') {
            v[i] = (uint8_t)('A' + (c - 'A' + 1 + fault_rng_u64(rng) % 25) % 26);
            return true;
        }
    }
    return false;
}

static pg_verdict corrupt_row(pg_session *ss, batch *b, const uint8_t *body, size_t have)
{
    if (have < 2)
        return PG_FORWARD;
    uint8_t *row = malloc(5 + have);
    if (!row)
        return PG_FORWARD;
    row[0] = 'D';
    pg_put32(row + 1, (uint32_t)(have + 4));
    memcpy(row + 5, body, have);
    uint8_t *p = row + 5;
    uint16_t n = (uint16_t)(p[0] << 8 | p[1]);
    /* Where each text value is; then one of them, at random, is altered. */
    size_t pos[64];
    int32_t lens[64];
    size_t k = 0, off = 2;
    for (uint16_t i = 0; i < n && off + 4 <= have; i++) {
        int32_t vl = (int32_t)pg_get32(p + off);
        off += 4;
        if (vl < 0)
            continue; /* NULL */
        if ((size_t)vl > have - off)
            break;
        bool binary = i < ss->ncols && i < sizeof ss->fmt && ss->fmt[i];
        if (!binary && k < 64) {
            pos[k] = off;
            lens[k] = vl;
            k++;
        }
        off += (size_t)vl;
    }
    fault_rng *rng = fault_plugin_rng(ss->self);
    bool done = false;
    for (size_t tries = 0; k && tries < k && !done; tries++) {
        size_t j = (size_t)(fault_rng_u64(rng) % k);
        done = alter_value(p + pos[j], lens[j], rng);
    }
    be_emit(ss, row, 5 + have);
    free(row);
    if (done && b->corrupted++ == 0)
        applied(ss, "data-corruption", FAULT_DIR_INGRESS, b->text, NULL, -1);
    return PG_DROP;
}

static pg_verdict be_message(void *ud, uint8_t type, uint32_t len, const uint8_t *body, size_t have)
{
    pg_session *ss = ud;
    batch *b = ss->in_batch;
    (void)len;
    if (ss->dead)
        return PG_DROP;
    switch (type) {
    case 'R':
        /* AuthenticationSASL over a TLS server leg offers channel binding
         * (SCRAM-SHA-256-PLUS) bound to our TLS session, which the client
         * cannot share and which libpq refuses to see offered on its
         * plaintext leg: the mechanism goes from the list, the rest of
         * authentication passes untouched. */
        if (ss->tls && have + 4 == len && have >= 4 && pg_get32(body) == 10) {
            uint8_t out[4200];
            size_t n = 9, off = 4;
            const char *mech;
            out[0] = 'R';
            pg_put32(out + 5, 10);
            while ((mech = pg_cstring(body, have, &off)) && *mech) {
                size_t ml = strlen(mech) + 1;
                if (strcmp(mech, "SCRAM-SHA-256-PLUS") == 0 || n + ml + 1 > sizeof out)
                    continue;
                memcpy(out + n, mech, ml);
                n += ml;
            }
            out[n++] = 0;
            pg_put32(out + 1, (uint32_t)(n - 1));
            be_emit(ss, out, n);
            return PG_DROP;
        }
        return PG_FORWARD;
    case 'K':
        if (have >= 8 && have <= sizeof ss->key) {
            memcpy(ss->key, body, have);
            ss->key_len = have;
        }
        return PG_FORWARD;
    case 'E': {
        char code[8], msg[256];
        if (b && b->inject && !b->injected && pg_error_field(body, have, 'C', code, sizeof code) &&
            strcmp(code, "26000") == 0 && pg_error_field(body, have, 'M', msg, sizeof msg) &&
            strstr(msg, MARKER)) {
            b->injected = true;
            const char *m = ss->st->error_message && strcmp(b->kind, "error-injection") == 0
                                ? ss->st->error_message
                                : pg_default_message(b->code);
            uint8_t out[1400];
            size_t n = pg_build_error(out, sizeof out, b->fatal ? "FATAL" : "ERROR", b->code, m,
                                      "injected by fault (postgres plugin)");
            applied(ss, b->kind, FAULT_DIR_INGRESS, b->text, b->code, -1);
            if (n)
                be_emit(ss, out, n);
            if (b->fatal) {
                /* As a server does: the FATAL error, then the end. */
                ss->fatal_close = true;
                if (ss->server) {
                    static const uint8_t terminate[5] = {'X', 0, 0, 0, 4};
                    conn_send(ss, ss->server, terminate, sizeof terminate);
                }
                flow(ss);
            }
            return PG_DROP;
        }
        if (b)
            b->saw_error = true;
        return PG_FORWARD;
    }
    case 'C':
        if (b && b->stale_exec == ss->in_exec && b->stale_exec) {
            if (b->replay) {
                /* The rows were swallowed: last time's, and its count. */
                b->replay = false;
                applied(ss, "stale-reads", FAULT_DIR_INGRESS, b->text, NULL, -1);
                be_emit(ss, b->rec, b->rlen);
                return PG_DROP;
            }
            if (b->record && have + 4 == len)
                b->rec_complete = true;
        }
        if (b) {
            if (have >= 6 && memcmp(body, "COMMIT", 6) == 0)
                b->saw_commit = true;
            if (b->reset_result && !b->saw_row) {
                reset_now(ss, b, "before a result");
                return PG_DROP;
            }
        }
        return PG_FORWARD;
    case 'T':
        read_formats(ss, body, have);
        return PG_FORWARD;
    case 'I': /* EmptyQueryResponse: the stand-in for a replayed SELECT */
        if (b && b->replay && !b->stale_exec) {
            b->replay = false;
            applied(ss, "stale-reads", FAULT_DIR_INGRESS, b->text, NULL, -1);
            be_emit(ss, b->rec, b->rlen);
            return PG_DROP;
        }
        return PG_FORWARD;
    case 'D':
        if (b && b->replay && b->stale_exec && b->stale_exec == ss->in_exec)
            return PG_DROP; /* stale-reads: replaced at CommandComplete */
        /* The row goes out first, then the reset (be_feed): a partial
         * result. */
        if (b && b->reset_result)
            b->saw_row = true;
        if (b && b->corrupt && have + 4 == len &&
            fault_rng_bernoulli(fault_plugin_rng(ss->self), ss->st->corruption_rate))
            return corrupt_row(ss, b, body, have);
        return PG_FORWARD;
    case 'Z':
        if (have >= 1)
            ss->txn = (char)body[0];
        return PG_FORWARD;
    default:
        return PG_FORWARD;
    }
}

static void be_emit_cb(void *ud, const uint8_t *data, size_t len)
{
    be_emit(ud, data, len);
}

static const pg_framer_ops be_ops = {.head = be_head, .message = be_message, .emit = be_emit_cb};

static int be_feed(pg_session *ss, const uint8_t *data, size_t len)
{
    /* Feed one message at a time, so that what happens at a message's end
     * (a batch ends, a reset after a row) follows its last byte out. */
    while (len > 0 && !ss->dead) {
        uint64_t before = ss->be.messages;
        size_t step = len;
        if (ss->be.hlen == 5 && !ss->be.deciding && ss->be.left < step)
            step = ss->be.left;
        else if (ss->be.hlen < 5 && 5u - ss->be.hlen < step)
            step = 5u - ss->be.hlen; /* the header first: then we know */
        else if (ss->be.deciding && ss->be.want - ss->be.blen < step)
            step = ss->be.want - ss->be.blen;
        int rc = pg_framer_feed(&ss->be, data, step);
        if (rc < 0)
            return rc;
        data += step;
        len -= step;
        /* A step never crosses a message's end: hdr[0] is the type of the
         * message it finished. */
        if (ss->be.messages != before && !ss->dead) {
            uint8_t type = ss->be.hdr[0];
            batch *b = ss->in_batch;
            if (type == 'Z' && ss->bq) {
                b = ss->bq;
                end_batch(ss, b, ss->txn);
            } else if (type == 'D' && b && b->reset_result && b->saw_row) {
                hq_flush(ss); /* the row reaches the client first */
                reset_now(ss, b, "mid-result");
            }
        }
    }
    return 0;
}

/* ---- input from each side ---- */

static int fe_feed(pg_session *ss, const uint8_t *data, size_t len)
{
    if (ss->raw_eg) {
        size_t n = len < ss->raw_eg ? len : ss->raw_eg;
        to_server(ss, data, n);
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
        teardown(ss, true, rc);
    }
}

static void c_eg_output(void *ud, const uint8_t *data, size_t len)
{
    pg_session *ss = ud;
    ss_ref(ss);
    c_eg_output_do(ss, data, len);
    ss_unref(ss);
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
    ss_ref(ss);
    c_eg_eof_do(ss);
    ss_unref(ss);
}

static void s_in_output_do(void *ud, const uint8_t *data, size_t len)
{
    pg_session *ss = ud;
    int rc = be_feed(ss, data, len);
    if (rc < 0 && !ss->dead) {
        fault_log_warn(ss->self, "%s: server: %s", fault_stream_peer(ss->s), fault_strerror(rc));
        teardown(ss, true, rc);
    } else if (!ss->dead) {
        hq_flush(ss);
    }
}

static void s_in_output(void *ud, const uint8_t *data, size_t len)
{
    pg_session *ss = ud;
    ss_ref(ss);
    s_in_output_do(ss, data, len);
    ss_unref(ss);
}

static void s_in_eof_do(void *ud)
{
    pg_session *ss = ud;
    ss->server_eof = true;
    /* Replies held for a commit check go out as they are. */
    if (ss->clen) {
        size_t n = ss->clen;
        ss->clen = 0;
        hq_push(ss, ss->cbuf, n, ss->in_release);
    }
    hq_flush(ss);
}

static void s_in_eof(void *ud)
{
    pg_session *ss = ud;
    ss_ref(ss);
    s_in_eof_do(ss);
    ss_unref(ss);
}

static const fault_chain_ops c_eg_ops = {
    .output = c_eg_output, .eof = c_eg_eof, .progress = chain_progress};
static const fault_chain_ops s_eg_ops = {
    .output = s_eg_output, .eof = s_eg_eof, .progress = chain_progress};
static const fault_chain_ops s_in_ops = {
    .output = s_in_output, .eof = s_in_eof, .progress = chain_progress};
static const fault_chain_ops c_in_ops = {
    .output = c_in_output, .eof = c_in_eof, .progress = chain_progress};

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
    ss_ref(ss);
    if (nread == FAULT_EOF && ss->phase != P_RUN) {
        tls_refused(ss, "the server closed the connection during TLS negotiation");
    } else if (nread == FAULT_EOF) {
        fault_conn_read_stop(ss->server);
        if (ss->s_in)
            fault_chain_eof(ss->s_in);
        else
            s_in_eof(ss);
    } else if (nread < 0) {
        teardown(ss, true, (int)nread);
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
            teardown(ss, true, rc);
        }
    } else {
        server_plain(ss, data, (size_t)nread);
    }
    if (!ss->dead)
        flow(ss);
    ss_unref(ss);
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

static void flow(pg_session *ss)
{
    if (ss->dead || ss->phase != P_RUN)
        return;
    size_t eg = eg_pending(ss), in = in_pending(ss);
    if (ss->fatal_close && in == 0) {
        teardown(ss, false, 0);
        return;
    }
    if (ss->client_shut && ss->server_shut && eg == 0 && in == 0) {
        teardown(ss, false, 0);
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

static void teardown(pg_session *ss, bool reset, int error)
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
    ss_unref(ss);
}

static void on_stream_end(fault_stream *s, bool reset, void *ud)
{
    (void)s;
    teardown(ud, reset, 0);
}

void pg_session_stop_all(pg_state *st)
{
    while (st->live)
        teardown(st->live, false, FAULT_ECANCELED);
}

/* failover: this session's server goes away. Between two messages of the
 * server, the client gets FATAL 57P01 after what was already sent (held
 * replies are lost with the server), then the close; in the middle of
 * one, the connection is reset. */
static void failover_one(pg_session *ss)
{
    if (ss->phase == P_CANCEL)
        return;
    applied(ss, "failover", FAULT_DIR_INGRESS, "", "57P01", -1);
    if (ss->phase != P_RUN || ss->fatal_close || !pg_framer_idle(&ss->be)) {
        teardown(ss, ss->phase == P_RUN, 0);
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
    to_client(ss, out, n);
    flush_client(ss);
    if (ss->dead)
        return;
    ss->fatal_close = true;
    if (ss->server) {
        static const uint8_t terminate[5] = {'X', 0, 0, 0, 4};
        conn_send(ss, ss->server, terminate, sizeof terminate);
    }
    if (!ss->dead)
        flow(ss);
}

void pg_session_failover_all(pg_state *st)
{
    /* Each session may end (and unlink itself) as it is handled. */
    pg_session *x = st->live;
    while (x) {
        pg_session *next = x->next;
        ss_ref(x);
        failover_one(x);
        next = x->dead ? next : x->next;
        ss_unref(x);
        x = next;
    }
}

/* ---- cancel ---- */

typedef struct cancel_req {
    pg_session *ss;
    uint8_t pkt[272];
    size_t len;
} cancel_req;

static void cancel_written(fault_conn *c, int status, void *ud)
{
    (void)status;
    (void)ud;
    fault_conn_close(c);
}

static void on_cancel_upstream(fault_conn *c, int status, void *ud)
{
    cancel_req *cr = ud;
    pg_session *ss = cr->ss;
    if (status < 0) {
        fault_log_warn(ss->self, "%s: cancel: cannot reach %s: %s", fault_stream_peer(ss->s),
                       ss->server_addr, fault_strerror(status));
    } else if (fault_conn_write(c, cr->pkt, cr->len, cancel_written, NULL) < 0) {
        fault_conn_close(c);
    }
    free(cr);
    if (!ss->dead)
        teardown(ss, false, status < 0 ? status : 0);
    ss_unref(ss);
}

/* Splits "ip:port" or "[ip]:port". */
static bool split_addr(const char *addr, char *host, size_t hostlen, uint16_t *port)
{
    const char *colon;
    const char *h = addr;
    size_t hl;
    if (*addr == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':')
            return false;
        h = addr + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon)
            return false;
        hl = (size_t)(colon - addr);
    }
    if (hl == 0 || hl >= hostlen)
        return false;
    memcpy(host, h, hl);
    host[hl] = '\0';
    long p = strtol(colon + 1, NULL, 10);
    if (p <= 0 || p > 65535)
        return false;
    *port = (uint16_t)p;
    return true;
}

static void handle_cancel(pg_session *ss, const uint8_t *pkt, size_t len)
{
    pg_state *st = ss->st;
    const uint8_t *key = pkt + 8;
    size_t klen = len - 8;
    pg_session *owner = NULL;
    for (pg_session *x = st->live; x; x = x->next)
        if (x != ss && x->key_len == klen && memcmp(x->key, key, klen) == 0)
            owner = x;
    char host[64];
    uint16_t port = ss->mp->port;
    const char *where = ss->mp->host;
    if (owner && split_addr(owner->server_addr, host, sizeof host, &port)) {
        where = host;
        snprintf(ss->server_addr, sizeof ss->server_addr, "%s", owner->server_addr);
    } else {
        /* Not a key of ours (the session is gone, or went through another
         * proxy): the mapping's server ignores it as it would anyway. */
        port = ss->mp->port;
        snprintf(ss->server_addr, sizeof ss->server_addr, "%s", ss->mp->target);
        fault_log_debug(ss->self, "%s: cancel with an unknown key: sent to %s",
                        fault_stream_peer(ss->s), ss->mp->target);
    }
    cancel_req *cr = malloc(sizeof *cr);
    if (!cr || len > sizeof cr->pkt) {
        free(cr);
        teardown(ss, true, FAULT_ENOMEM);
        return;
    }
    cr->ss = ss;
    memcpy(cr->pkt, pkt, len);
    cr->len = len;
    ss->phase = P_CANCEL;
    fault_conn_read_stop(ss->client);
    fault_log_info(ss->self, "%s: cancel request forwarded to %s%s", fault_stream_peer(ss->s),
                   ss->server_addr, owner ? "" : " (unknown key)");
    /* A cancel goes in plaintext, as libpq sends it, psqls:// or not: the
     * server reads it before any TLS. */
    ss_ref(ss);
    int rc = fault_connect(ss->self, ss->s, where, port, NULL, on_cancel_upstream, cr);
    if (rc < 0) {
        free(cr);
        ss_unref(ss);
        teardown(ss, true, rc);
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
        teardown(ss, true, rc);
        return;
    }
    ss->c_eg = chain(ss, FAULT_DIR_EGRESS, FAULT_SIDE_CLIENT, &c_eg_ops);
    ss->s_eg = chain(ss, FAULT_DIR_EGRESS, FAULT_SIDE_SERVER, &s_eg_ops);
    ss->s_in = chain(ss, FAULT_DIR_INGRESS, FAULT_SIDE_SERVER, &s_in_ops);
    ss->c_in = chain(ss, FAULT_DIR_INGRESS, FAULT_SIDE_CLIENT, &c_in_ops);
    if (fault_timer_new(ss->self, on_timer, ss, &ss->timer) < 0) {
        teardown(ss, true, FAULT_ENOMEM);
        return;
    }
    ss->phase = P_RUN;
    /* The startup batch: replies until the first ReadyForQuery. */
    batch *b = batch_new(ss);
    if (!b) {
        teardown(ss, true, FAULT_ENOMEM);
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
        flow(ss);
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
    teardown(ss, false, FAULT_ETLS);
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
            teardown(ss, true, FAULT_ENOMEM);
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
        ss_unref(ss);
        return;
    }
    if (status < 0) {
        fault_log_warn(ss->self, "%s -> %s: %s", fault_stream_peer(ss->s), ss->mp->target,
                       fault_strerror(status));
        teardown(ss, true, status);
        ss_unref(ss);
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
    ss_unref(ss);
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
    applied(ss, "failover", FAULT_DIR_INGRESS, "", code, -1);
    raw_send(ss, ss->client, out, n);
    teardown(ss, false, 0);
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
            teardown(ss, true, FAULT_EMSGSIZE);
            return;
        }
        uint8_t *nb = realloc(ss->sbuf, cap);
        if (!nb) {
            teardown(ss, true, FAULT_ENOMEM);
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
            teardown(ss, true, FAULT_EPROTO);
            return;
        }
        if (ss->slen < plen)
            return;
        if ((code == PG_CODE_SSL || code == PG_CODE_GSSENC) && plen == 8) {
            /* The client leg stays plaintext: 'N', and the client goes on
             * (or tries SSL after GSS). */
            static const uint8_t no = 'N';
            conn_send(ss, ss->client, &no, 1);
            if (ss->dead)
                return;
            ss->slen -= 8;
            memmove(ss->sbuf, ss->sbuf + 8, ss->slen);
            continue;
        }
        if (code == PG_CODE_CANCEL) {
            if (plen < 16 || plen > 12 + 256) {
                teardown(ss, true, FAULT_EPROTO);
                return;
            }
            handle_cancel(ss, ss->sbuf, plen);
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
        ss_ref(ss);
        int rc = fault_connect(ss->self, ss->s, ss->mp->host, ss->mp->port, NULL, on_upstream, ss);
        if (rc < 0) {
            ss_unref(ss);
            teardown(ss, true, rc);
        }
        return;
    }
}

static void on_client_read(fault_conn *c, long nread, const uint8_t *data, void *ud)
{
    (void)c;
    pg_session *ss = ud;
    ss_ref(ss);
    if (nread == FAULT_EOF) {
        ss->client_eof = true;
        fault_conn_read_stop(ss->client);
        if (ss->phase != P_RUN)
            teardown(ss, false, 0);
        else if (ss->c_eg)
            fault_chain_eof(ss->c_eg);
        else
            c_eg_eof(ss);
        if (!ss->dead && ss->phase == P_RUN)
            hq_flush(ss);
    } else if (nread < 0) {
        teardown(ss, true, (int)nread);
    } else if (ss->phase == P_STARTUP) {
        startup_input(ss, data, (size_t)nread);
    } else if (ss->phase == P_RUN) {
        if (ss->c_eg)
            fault_chain_push(ss->c_eg, data, (size_t)nread);
        else
            c_eg_output(ss, data, (size_t)nread);
    }
    if (!ss->dead)
        flow(ss);
    ss_unref(ss);
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
    pg_framer_init(&ss->fe, &fe_ops, ss);
    pg_framer_init(&ss->be, &be_ops, ss);
    ss->next = st->live;
    if (st->live)
        st->live->prev = ss;
    st->live = ss;
    fault_stream_set_end(s, on_stream_end, ss);
    fault_conn_read_start(c, on_client_read, ss);
}
