/*
 * plugins/postgres/egress.c - the client's messages of a psql:// session
 * (session.c holds the whole; session.h its state): grouping them into
 * batches (each ended by the Query, Sync or FunctionCall that one
 * ReadyForQuery answers), deciding which cases act on each statement,
 * sending the marker that makes the server fail an injected statement as
 * it would fail a real one, tracking prepared statements and portals, and
 * stale-reads' choice of what to record or replay.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

/* ---- batches ---- */

batch *pg_batch_new(pg_session *ss)
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
        ss->open = pg_batch_new(ss);
        if (!ss->open)
            pg_teardown(ss, true, ss->nbatches >= MAX_BATCHES ? FAULT_EMSGSIZE : FAULT_ENOMEM);
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
    pg_to_server(ss, m, n);
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
        pg_to_server(ss, empty, sizeof empty);
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
                    pg_batch_free(x);
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
    pg_to_server(ud, data, len);
}

const pg_framer_ops pg_fe_ops = {.head = fe_head, .message = fe_message, .emit = fe_emit};
