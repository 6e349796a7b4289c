/*
 * plugins/postgres/session.h - the inside of one client connection of a
 * psql:// mapping, shared by the files that handle it: session.c (its
 * lifetime, writing, input, flow control, startup), egress.c (the
 * client's messages: batches, the cases, prepared statements), ingress.c
 * (the server's messages and the replies held back) and cancel.c
 * (CancelRequest). Not part of the SDK.
 */
#ifndef FAULT_PG_SESSION_H
#define FAULT_PG_SESSION_H

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
    /* Output gathered while one input is processed, sent in one write:
     * a reply of four messages costs one send(), not one per piece. */
    uint8_t *eo, *io;
    size_t eo_len, eo_cap, io_len, io_cap;
    pg_tls *tls; /* psqls://: TLS to the server, after SSLRequest */
};

/* session.c: lifetime, writing, flow control, the end */
void pg_ss_ref(pg_session *ss);
void pg_ss_unref(pg_session *ss);
void pg_batch_free(batch *b);
/* Sends on c now (TLS-wrapped toward a psqls:// server). */
void pg_conn_send(pg_session *ss, fault_conn *c, const uint8_t *data, size_t len);
/* Gathers output for one write at the end of the current input. */
void pg_to_server(pg_session *ss, const uint8_t *data, size_t len);
void pg_to_client(pg_session *ss, const uint8_t *data, size_t len);
void pg_flush_client(pg_session *ss);
/* The replies' end reached the client side (after CLIENT/INGRESS). */
void pg_c_in_eof(void *ud);
/* A fault_applied event (and a debug line) for a case acting on text. */
void pg_ss_applied(pg_session *ss, const char *kind, fault_direction dir, const char *text,
                   const char *code, double delay_ms);
/* Reads or stops reading each side by what waits to be written. */
void pg_flow(pg_session *ss);
void pg_teardown(pg_session *ss, bool reset, int error);

/* egress.c: the client's messages */
extern const pg_framer_ops pg_fe_ops;
batch *pg_batch_new(pg_session *ss);

/* ingress.c: the server's messages, replies held until their time */
extern const pg_framer_ops pg_be_ops;
int pg_be_feed(pg_session *ss, const uint8_t *data, size_t len);
void pg_hq_push(pg_session *ss, const uint8_t *data, size_t len, uint64_t release);
void pg_hq_flush(pg_session *ss);
void pg_on_timer(fault_timer *t, void *ud);

/* cancel.c: a CancelRequest on a new connection */
void pg_handle_cancel(pg_session *ss, const uint8_t *pkt, size_t len);

#endif /* FAULT_PG_SESSION_H */
