/*
 * plugins/postgres/ingress.c - the server's messages of a psql:// session
 * (session.c holds the whole; session.h its state): matching replies to
 * the oldest open batch, acting on them (an injected error replaces the
 * marker's, rows corrupted, results recorded or replayed, a connection
 * reset at a commit), and the replies held back until their release time
 * (slow-query, timeout) on one timer per session.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

/* ---- holding replies ---- */

void pg_hq_flush(pg_session *ss)
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
        pg_to_client(ss, g->data, g->len);
        free(g);
    }
    pg_flush_client(ss);
    if (!ss->dead && ss->hq && ss->hq->release_us == UINT64_MAX && ss->client_eof) {
        /* Held until the client gives up, and it has: nothing will ever
         * be sent to it again. */
        pg_teardown(ss, false, 0);
        return;
    }
    if (!ss->dead && !ss->hq && ss->server_eof && !ss->client_shut) {
        if (ss->c_in)
            fault_chain_eof(ss->c_in);
        else
            pg_c_in_eof(ss);
    }
}

void pg_on_timer(fault_timer *t, void *ud)
{
    (void)t;
    pg_session *ss = ud;
    pg_ss_ref(ss);
    pg_hq_flush(ss);
    if (!ss->dead)
        pg_flow(ss);
    pg_ss_unref(ss);
}

void pg_hq_push(pg_session *ss, const uint8_t *data, size_t len, uint64_t release)
{
    if (!ss->hq && release <= fault_now_us()) {
        pg_to_client(ss, data, len);
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
        pg_teardown(ss, true, FAULT_ENOMEM);
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
            pg_hq_push(ss, ss->cbuf, ss->clen, ss->in_release);
            ss->clen = 0;
        } else {
            if (ss->clen + len > ss->ccap) {
                size_t cap = ss->ccap ? ss->ccap : 4096;
                while (cap < ss->clen + len)
                    cap *= 2;
                uint8_t *nb = realloc(ss->cbuf, cap);
                if (!nb) {
                    pg_teardown(ss, true, FAULT_ENOMEM);
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
    pg_hq_push(ss, data, len, ss->in_release);
}

/* ---- ingress: the server's messages ---- */

static void reset_now(pg_session *ss, batch *b, const char *why)
{
    pg_ss_applied(ss, "conn-reset", FAULT_DIR_INGRESS, b->text, NULL, -1);
    fault_log_info(ss->self, "%s: connection reset %s", fault_stream_peer(ss->s), why);
    pg_teardown(ss, true, 0);
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
            pg_ss_applied(ss, b->delay_kind, FAULT_DIR_INGRESS, b->text, NULL,
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
            pg_batch_free(b);
            return;
        }
        uint8_t *held = ss->cbuf;
        size_t n = ss->clen;
        ss->clen = 0;
        b->commit_watch = false;
        pg_hq_push(ss, held, n, ss->in_release);
    }
    if (b->record && !b->saw_error && b->rlen && (!b->stale_exec || b->rec_complete))
        pg_stale_put(ss->st, b->key, b->keylen, b->rec, b->rlen);
    ss->in_batch = NULL;
    pg_batch_free(b);
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
        pg_ss_applied(ss, "data-corruption", FAULT_DIR_INGRESS, b->text, NULL, -1);
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
            pg_ss_applied(ss, b->kind, FAULT_DIR_INGRESS, b->text, b->code, -1);
            if (n)
                be_emit(ss, out, n);
            if (b->fatal) {
                /* As a server does: the FATAL error, then the end. */
                ss->fatal_close = true;
                if (ss->server) {
                    static const uint8_t terminate[5] = {'X', 0, 0, 0, 4};
                    pg_conn_send(ss, ss->server, terminate, sizeof terminate);
                }
                pg_flow(ss);
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
                pg_ss_applied(ss, "stale-reads", FAULT_DIR_INGRESS, b->text, NULL, -1);
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
            pg_ss_applied(ss, "stale-reads", FAULT_DIR_INGRESS, b->text, NULL, -1);
            be_emit(ss, b->rec, b->rlen);
            return PG_DROP;
        }
        return PG_FORWARD;
    case 'D':
        if (b && b->replay && b->stale_exec && b->stale_exec == ss->in_exec)
            return PG_DROP; /* stale-reads: replaced at CommandComplete */
        /* The row goes out first, then the reset (pg_be_feed): a partial
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

const pg_framer_ops pg_be_ops = {.head = be_head, .message = be_message, .emit = be_emit_cb};

int pg_be_feed(pg_session *ss, const uint8_t *data, size_t len)
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
                pg_hq_flush(ss); /* the row reaches the client first */
                reset_now(ss, b, "mid-result");
            }
        }
    }
    return 0;
}
