/*
 * tests/unit/test_pgwire.c - the postgres plugin's streaming framer
 * (plugins/postgres/pgwire.c): the prefix buffer grows with the bytes
 * that came, not with the length a message header claims, and a message
 * fed one byte at a time is decided on its whole prefix and forwarded
 * unchanged.
 */
#include <stdlib.h>
#include <string.h>

#include "pgwire.h"

#include "check.h"

typedef struct seen {
    uint8_t out[256];
    size_t out_len;
    size_t decided; /* messages decided */
    size_t have;    /* prefix bytes at the last decision */
    char body[64];  /* the last prefix, as text */
} seen;

static size_t on_head(void *ud, uint8_t type, uint32_t len)
{
    (void)ud;
    return type == 'Q' ? len - 4 : 0; /* a Query: all of the statement */
}

static pg_verdict on_message(void *ud, uint8_t type, uint32_t len, const uint8_t *body, size_t have)
{
    seen *s = ud;
    (void)type;
    (void)len;
    s->decided++;
    s->have = have;
    size_t n = have < sizeof s->body - 1 ? have : sizeof s->body - 1;
    memcpy(s->body, body, n);
    s->body[n] = '\0';
    return PG_FORWARD;
}

static void on_emit(void *ud, const uint8_t *d, size_t n)
{
    seen *s = ud;
    if (s->out_len + n <= sizeof s->out) {
        memcpy(s->out + s->out_len, d, n);
        s->out_len += n;
    }
}

static const pg_framer_ops ops = {.head = on_head, .message = on_message, .emit = on_emit};

int main(void)
{
    /* A Query header that claims 1 GiB: nothing is held for it yet. */
    seen s = {0};
    pg_framer f;
    pg_framer_init(&f, &ops, &s);
    uint8_t big[5] = {'Q'};
    pg_put32(big + 1, PG_MAX_MESSAGE);
    CHECK_EQ_INT(pg_framer_feed(&f, big, sizeof big), 0);
    CHECK_EQ_U64(f.bcap, 0);
    CHECK(!pg_framer_idle(&f));
    /* 100 bytes of its statement: the buffer holds them, not 1 MiB. */
    uint8_t part[100];
    memset(part, 'x', sizeof part);
    CHECK_EQ_INT(pg_framer_feed(&f, part, sizeof part), 0);
    CHECK(f.bcap >= sizeof part && f.bcap <= 256);
    CHECK_EQ_U64(s.decided, 0);
    pg_framer_free(&f);

    /* A whole Query fed one byte at a time: decided once, on the whole
     * statement, and forwarded byte for byte. */
    static const char sql[] = "select 1;";
    uint8_t msg[5 + sizeof sql];
    msg[0] = 'Q';
    pg_put32(msg + 1, (uint32_t)(4 + sizeof sql));
    memcpy(msg + 5, sql, sizeof sql);
    seen t = {0};
    pg_framer_init(&f, &ops, &t);
    for (size_t i = 0; i < sizeof msg; i++)
        CHECK_EQ_INT(pg_framer_feed(&f, msg + i, 1), 0);
    CHECK_EQ_U64(t.decided, 1);
    CHECK_EQ_U64(t.have, sizeof sql);
    CHECK_STR(t.body, sql);
    CHECK_EQ_U64(t.out_len, sizeof msg);
    CHECK(t.out_len == sizeof msg && memcmp(t.out, msg, sizeof msg) == 0);
    CHECK(pg_framer_idle(&f));
    CHECK(f.bcap <= 256);
    pg_framer_free(&f);
    return check_done();
}
