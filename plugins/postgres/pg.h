/*
 * plugins/postgres/pg.h - what the postgres plugin's files share: the
 * plugin state (options and derived settings), mappings, and the session
 * entry points.
 *
 *   postgres.c  the plugin: options, cases, mappings, listeners, cancels
 *   session.c   one client connection: startup, both directions' messages,
 *               the cases acting on them
 *   pgwire.c    the wire format (framer, bodies), no I/O
 *   pgtls.c     TLS to the server after SSLRequest (psqls://), in memory
 */
#ifndef FAULT_PG_H
#define FAULT_PG_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <fault/plugin.h>

#include "pgwire.h"

/* The cases, as bits of pg_state.cases. */
#define PG_CASE_SLOW     (1u << 0)
#define PG_CASE_ERROR    (1u << 1)
#define PG_CASE_RESET    (1u << 2)
#define PG_CASE_TIMEOUT  (1u << 3)
#define PG_CASE_DEADLOCK (1u << 4)
#define PG_CASE_CORRUPT  (1u << 5)
#define PG_CASE_STALE    (1u << 6)
#define PG_CASE_FAILOVER (1u << 7)

/* failover: where the run is after the last promotion. */
typedef enum pg_fo_phase {
    PG_FO_NONE,     /* no failover, or its effects are over */
    PG_FO_REFUSING, /* new connections refused (57P03) */
    PG_FO_READ_ONLY /* writes fail with 25006 */
} pg_fo_phase;

/* stale-reads: the last result of each matching SELECT, by its text. */
#define PG_STALE_ENTRIES 64
#define PG_STALE_MAX     (256 * 1024)
typedef struct pg_stale {
    char *sql;
    size_t sqllen;
    uint8_t *bytes; /* RowDescription, DataRows, CommandComplete */
    size_t len;
    uint64_t stamp; /* last stored, for replacing the oldest */
} pg_stale;

/* conn-reset: where the connection is reset. */
#define PG_RESET_RESULT 0 /* after the first row of a matching result */
#define PG_RESET_COMMIT                                                                            \
    1 /* right after a transaction that ran a matching                                             \
       * statement committed, before the client hears */

typedef struct pg_mapping {
    char *text, *listen_host, *host;
    uint16_t listen_port, port;
    bool tls;
    char target[300];
    fault_listener *listener;
    struct pg_state *st;
} pg_mapping;

typedef struct pg_session pg_session;

typedef struct pg_state {
    /* Options. */
    fault_strv case_names;
    const char *pattern;
    double probability;
    double deadlock_rate;
    double corruption_rate;
    const char *error_code;
    const char *error_message;
    int reset_at;
    uint64_t timeout_hold_us;
    int distribution;
    double mean, stddev, shape, scale, min, max;
    fault_schedule *sched;
    const char *tls_sni;
    const char *tls_ca;
    bool tls_insecure;
    uint64_t fo_refuse_us;
    uint64_t fo_read_only_us;

    /* Derived. */
    fault_plugin *self;
    uint32_t cases;
    fault_distribution dist;
    pcre2_code *re;
    pcre2_match_data *md;
    bool error_fatal;
    struct pg_tls_ctx *tls;
    pg_mapping *maps;
    size_t nmaps;
    pg_session *live; /* every session, for stop() and cancel keys */
    pg_stale stale[PG_STALE_ENTRIES];
    uint64_t stale_clock;
    bool stopping;
    /* failover: polled schedule state and the last promotion's time. */
    fault_timer *fo_timer;
    bool fo_was_active;
    uint64_t fo_at; /* fault_now_us() of the last failover, 0: none */
} pg_state;

/* session.c */
void pg_session_accept(pg_mapping *mp, fault_conn *c);
void pg_session_stop_all(pg_state *st);
/* failover: every session ends with FATAL 57P01 (a reset when a reply is
 * half sent), as when the primary goes away. */
void pg_session_failover_all(pg_state *st);

/* postgres.c: whether a statement matches --pg-statement. */
bool pg_statement_matches(pg_state *st, const char *sql, size_t len);
/* stale-reads: the stored result of a statement (NULL when none), and
 * storing one (copied; replaces the oldest when full). */
const pg_stale *pg_stale_get(pg_state *st, const char *sql, size_t len);
void pg_stale_put(pg_state *st, const char *sql, size_t len, const uint8_t *bytes, size_t n);
/* failover: the phase the run is in now. */
pg_fo_phase pg_failover_phase(const pg_state *st);
/* The message a server gives for some SQLSTATEs, else a generic one. */
const char *pg_default_message(const char *sqlstate);

#endif /* FAULT_PG_H */
