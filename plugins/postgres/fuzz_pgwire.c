/*
 * plugins/postgres/fuzz_pgwire.c - libFuzzer target for the postgres
 * plugin's wire format (pgwire.c): whatever bytes a client or a server
 * sends, the framer stays inside its bounds, cuts the same messages
 * however the bytes are split across reads, forwards exactly the bytes of
 * the messages it was told to forward, and the body helpers (strings,
 * error fields, statement keywords) never read past what they were given.
 *
 * The first input byte picks where the rest is split in two (as across
 * two socket reads) and a third cut; the bytes are fed once whole and
 * once in three pieces, with a verdict that depends only on the message
 * (its type and length), and both outputs must equal the output of a
 * plain reference walk over the messages. Every prefix handed to the
 * verdict also goes through pg_cstring(), pg_error_field(),
 * pg_sql_starts_with() and pg_sql_is_write(), and an ErrorResponse is
 * built from it.
 *
 * Build and run (not part of `make check`; needs clang), from the top of
 * the source tree:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined \
 *       -fno-sanitize-recover=undefined -I sdk \
 *       plugins/postgres/fuzz_pgwire.c plugins/postgres/pgwire.c -o /tmp/fuzz_pgwire
 *   /tmp/fuzz_pgwire -max_total_time=60 tests/fuzz/corpus/pgwire
 *
 * or tests/fuzz/run.sh pgwire.
 */
#include <stdlib.h>
#include <string.h>

#include <fault/common.h>

#include "pgwire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct sink {
    uint8_t *out;
    size_t len, cap;
    size_t messages;
} sink;

static void put(sink *k, const uint8_t *d, size_t n)
{
    if (k->len + n > k->cap) {
        size_t cap = k->cap ? k->cap : 1024;
        while (cap < k->len + n)
            cap *= 2;
        k->out = realloc(k->out, cap);
        if (!k->out)
            abort();
        k->cap = cap;
    }
    memcpy(k->out + k->len, d, n);
    k->len += n;
}

static bool keep(uint8_t type, uint32_t len)
{
    return ((type ^ len) & 3) != 0;
}

static size_t want_for(uint8_t type, uint32_t len)
{
    switch (type) {
    case 'Q':
    case 'P':
        return len - 4;
    case 'E':
    case 'C':
    case 'B':
        return 64;
    default:
        return 0;
    }
}

static size_t f_head(void *ud, uint8_t type, uint32_t len)
{
    (void)ud;
    if (len < 4)
        abort(); /* the framer must have refused it */
    return want_for(type, len);
}

static pg_verdict f_message(void *ud, uint8_t type, uint32_t len, const uint8_t *body, size_t have)
{
    sink *k = ud;
    size_t want = want_for(type, len);
    if (want > len - 4)
        want = len - 4;
    if (have != want) /* exactly the prefix asked for, clamped */
        abort();
    size_t off = 0;
    while (pg_cstring(body, have, &off))
        if (off > have)
            abort();
    char field[32];
    if (pg_error_field(body, have, 'C', field, sizeof field) && strlen(field) >= sizeof field)
        abort();
    (void)pg_sql_starts_with((const char *)body, have, "commit");
    (void)pg_sql_is_write((const char *)body, have);
    uint8_t err[600];
    char msg[128];
    size_t n = have < sizeof msg - 1 ? have : sizeof msg - 1;
    memcpy(msg, body, n);
    msg[n] = '\0';
    size_t e = pg_build_error(err, sizeof err, "ERROR", "40001", msg, NULL);
    if (e && (err[0] != 'E' || pg_get32(err + 1) != e - 1))
        abort();
    k->messages++;
    return keep(type, len) ? PG_FORWARD : PG_DROP;
}

static void f_emit(void *ud, const uint8_t *d, size_t n)
{
    put(ud, d, n);
}

static const pg_framer_ops ops = {.head = f_head, .message = f_message, .emit = f_emit};

/* The reference: whole messages, one after the other. Returns the bytes
 * of complete forwarded messages (and of the forwarded head of an
 * incomplete last one, as the framer emits a decided message's bytes as
 * they come), or -1 when the stream breaks. */
static int reference(const uint8_t *d, size_t n, sink *k)
{
    size_t i = 0;
    while (i < n) {
        if (n - i < 5)
            return 0;
        uint32_t len = pg_get32(d + i + 1);
        if (len < 4 || len > PG_MAX_MESSAGE)
            return -1;
        size_t want = want_for(d[i], len);
        if (want > len - 4)
            want = len - 4;
        size_t avail = n - i - 5;
        if (avail < want)
            return 0; /* undecided */
        size_t body = len - 4 < avail ? len - 4 : avail;
        if (keep(d[i], len))
            put(k, d + i, 5 + body);
        i += 5 + body;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t cut1 = data[0] % size, cut2 = cut1 + (size - cut1) / 2;
    data++;
    size--;
    if (cut1 > size)
        cut1 = size;
    if (cut2 > size)
        cut2 = size;

    sink whole = {0}, split = {0}, ref = {0};
    pg_framer a, b;
    pg_framer_init(&a, &ops, &whole);
    pg_framer_init(&b, &ops, &split);
    int ra = pg_framer_feed(&a, data, size);
    int rb = pg_framer_feed(&b, data, cut1);
    if (rb == 0)
        rb = pg_framer_feed(&b, data + cut1, cut2 - cut1);
    if (rb == 0)
        rb = pg_framer_feed(&b, data + cut2, size - cut2);
    int rr = reference(data, size, &ref);
    if ((ra < 0) != (rb < 0) || (ra < 0) != (rr < 0))
        abort();
    if (ra == 0) {
        if (whole.len != ref.len || (ref.len && memcmp(whole.out, ref.out, ref.len) != 0))
            abort();
        if (split.len != ref.len || (ref.len && memcmp(split.out, ref.out, ref.len) != 0))
            abort();
        if (a.messages != b.messages)
            abort();
    }
    /* The prefix buffer follows the bytes that came (it at most doubles
     * past them), never the length a header claims. */
    if (a.bcap > PG_MAX_INSPECT || b.bcap > PG_MAX_INSPECT || a.bcap > 2 * size + 256 ||
        b.bcap > 2 * size + 256)
        abort();
    pg_framer_free(&a);
    pg_framer_free(&b);
    free(whole.out);
    free(split.out);
    free(ref.out);
    return 0;
}
