/*
 * plugins/postgres/pgwire.h - the PostgreSQL wire format (protocol 3.0 and
 * 3.2) as the postgres plugin needs it: a streaming framer that cuts one
 * direction's bytes into messages without ever holding more than a bounded
 * prefix of one, the startup packets, and the few message bodies the
 * plugin reads or writes. No I/O here: pgwire.c is also the fuzz target's
 * whole world (fuzz_pgwire.c).
 */
#ifndef FAULT_PG_WIRE_H
#define FAULT_PG_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest message length the framer accepts (the length word counts
 * itself). The server's own limit is 1 GiB for its large messages; a
 * length beyond that is a broken or hostile stream. */
#define PG_MAX_MESSAGE (1u << 30)
/* At most this much of one message body is buffered to look at it: a
 * statement longer than this is matched on its first PG_MAX_INSPECT
 * bytes, and everything past what a handler asked for streams through. */
#define PG_MAX_INSPECT (1u << 20)
/* Startup packets (the first message, without a type byte): the server
 * refuses larger ones. */
#define PG_MAX_STARTUP 10000u

/* Startup packet codes (the int32 after the length). */
#define PG_CODE_CANCEL       80877102u
#define PG_CODE_SSL          80877103u
#define PG_CODE_GSSENC       80877104u
#define PG_PROTO_MAJOR(code) ((code) >> 16)

/* What a handler decides for a message once it has seen its head and the
 * prefix it asked for. */
typedef enum pg_verdict {
    PG_FORWARD = 0, /* the message goes on, whole and unchanged */
    PG_DROP = 1     /* the message is swallowed (the handler may have
                     * emitted something in its place) */
} pg_verdict;

typedef struct pg_framer_ops {
    /* A message starts: type byte and length (counting the length word).
     * Returns how many body bytes to collect before deciding (clamped to
     * the body and to PG_MAX_INSPECT); 0 decides at once. */
    size_t (*head)(void *ud, uint8_t type, uint32_t len);
    /* The decision: body holds `have` bytes (all of it when have + 4 ==
     * len). */
    pg_verdict (*message)(void *ud, uint8_t type, uint32_t len, const uint8_t *body, size_t have);
    /* Bytes that go on, in order (headers, prefixes and the rest of
     * forwarded messages). */
    void (*emit)(void *ud, const uint8_t *data, size_t len);
} pg_framer_ops;

typedef struct pg_framer {
    const pg_framer_ops *ops;
    void *ud;
    uint8_t hdr[5];
    uint8_t hlen;  /* header bytes gathered */
    uint32_t len;  /* current message's length word */
    uint32_t left; /* body bytes not yet consumed */
    size_t want;   /* body bytes to gather before deciding */
    bool deciding; /* gathering the prefix */
    bool dropping; /* the rest of the current message is swallowed */
    uint8_t *buf;  /* prefix buffer */
    size_t blen, bcap;
    uint64_t messages; /* complete messages seen */
} pg_framer;

void pg_framer_init(pg_framer *f, const pg_framer_ops *ops, void *ud);
void pg_framer_free(pg_framer *f);
/* Feeds bytes; returns 0, or FAULT_EPROTO for a length word below 4 or
 * above PG_MAX_MESSAGE (the stream cannot be framed any more), or
 * FAULT_ENOMEM. Callbacks run from inside. */
int pg_framer_feed(pg_framer *f, const uint8_t *data, size_t len);
/* True between messages (nothing of a message is pending). */
bool pg_framer_idle(const pg_framer *f);

/* Big-endian helpers. */
static inline uint32_t pg_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void pg_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* The NUL-terminated string at body[*off] (off < have): returns it and
 * moves *off past its NUL, or NULL when no NUL comes before `have`. */
const char *pg_cstring(const uint8_t *body, size_t have, size_t *off);

/* The value of one field (e.g. 'C' for the SQLSTATE, 'M' for the message,
 * 'V' for the unlocalised severity) of an ErrorResponse or NoticeResponse
 * body, into out (NUL-terminated, truncated to outlen); false when absent
 * or the body is malformed. */
bool pg_error_field(const uint8_t *body, size_t have, char field, char *out, size_t outlen);

/* Writes an ErrorResponse (type 'E') with severity ("ERROR", "FATAL"),
 * SQLSTATE, message and optional detail into out; returns its length, or
 * 0 when it does not fit in outlen. */
size_t pg_build_error(uint8_t *out, size_t outlen, const char *severity, const char *sqlstate,
                      const char *message, const char *detail);

/* A five-character SQLSTATE: digits and upper-case letters. */
bool pg_sqlstate_valid(const char *s);

/* Whether a SQL text's first keyword (after blanks, comments and
 * parentheses) is `word` (case-insensitive, followed by a non-letter). */
bool pg_sql_starts_with(const char *sql, size_t len, const char *word);

/* Whether a statement writes, by its first keyword (INSERT, UPDATE,
 * DELETE, MERGE, DDL, GRANT/REVOKE, TRUNCATE, COPY ... FROM, ...): what a
 * standby refuses with 25006. A write hidden in a WITH or a function call
 * is not seen. */
bool pg_sql_is_write(const char *sql, size_t len);

#endif /* FAULT_PG_WIRE_H */
