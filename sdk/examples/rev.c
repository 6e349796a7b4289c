/*
 * rev.c - an example HTTP fault plugin for streamed bodies (plugin ABI
 * 1.3), built outside the fault tree.
 *
 * Every line of a response body reaches the client reversed, as rev(1)
 * would print it, while the body streams. A line is only known when its
 * newline comes, so the bytes of an unfinished line are kept between the
 * pieces of the body; a last line without a newline is kept until the body
 * ends, and on_body_end (ABI 1.3) sends it then. It shows the streaming
 * half of body access:
 *
 *   - asking to see a body: fault_http_watch_body() from on_response;
 *   - rewriting each piece in on_body with fault_chunk_replace() (the
 *     length changes, so the host sends the body on with chunked framing);
 *   - state per exchange, kept from the first piece until on_end;
 *   - the end of the body in on_body_end, with the last bytes to send.
 *
 * A line longer than --rev-max-line bytes is not kept whole: what was kept
 * goes out as it came, and so does the rest of that line. Build it with
 * only the installed SDK:
 *
 *     cc -shared -fPIC -o rev.so rev.c $(pkg-config --cflags --libs fault-plugin)
 *
 * and run `fault --plugin-dir DIR run --with-rev ...`: it acts on the HTTP
 * proxy's traffic (forward proxy, http:// mappings, HTTP/2).
 */
#include <stdlib.h>
#include <string.h>

#include <fault/plugin.h>

typedef struct rev_state {
    bool enabled;     /* --with-rev */
    int64_t max_line; /* --rev-max-line */
    struct rev_body *bodies;
} rev_state;

/* One per response body being reversed. */
typedef struct rev_body {
    struct rev_body *next;
    const fault_http_exchange *x;
    uint8_t *line; /* the unfinished line so far */
    size_t len, cap;
    bool too_long; /* the current line passes unchanged up to its newline */
} rev_body;

static const fault_option options[] = {{.name = "with-rev",
                                        .env = "FAULT_WITH_REV",
                                        .type = FAULT_OPT_BOOL,
                                        .help = "Reverse each line of response bodies",
                                        .offset = offsetof(rev_state, enabled),
                                        .flags = FAULT_OPTF_ENABLE},
                                       {.name = "rev-max-line",
                                        .env = "FAULT_REV_MAX_LINE",
                                        .type = FAULT_OPT_INT,
                                        .def = "65536",
                                        .metavar = "BYTES",
                                        .help = "Longest line kept to be reversed",
                                        .offset = offsetof(rev_state, max_line),
                                        .min = 1,
                                        .max = 16777216},
                                       FAULT_OPTION_END};

static rev_body **find(rev_state *st, const fault_http_exchange *x)
{
    rev_body **p = &st->bodies;
    while (*p && (*p)->x != x)
        p = &(*p)->next;
    return p;
}

/* Appends n bytes to a growing output buffer; false when out of memory. */
static bool put(uint8_t **buf, size_t *len, size_t *cap, const uint8_t *p, size_t n)
{
    if (*len + n > *cap) {
        size_t want = *cap ? *cap : 256;
        while (want < *len + n)
            want *= 2;
        uint8_t *b = realloc(*buf, want);
        if (!b)
            return false;
        *buf = b;
        *cap = want;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    return true;
}

/* Appends the kept line, reversed (or as it came when it was too long). */
static bool put_line(rev_body *b, uint8_t **out, size_t *len, size_t *cap)
{
    if (!b->too_long)
        for (size_t i = 0, j = b->len; i < j / 2; i++) {
            uint8_t t = b->line[i];
            b->line[i] = b->line[j - 1 - i];
            b->line[j - 1 - i] = t;
        }
    bool ok = put(out, len, cap, b->line, b->len);
    b->len = 0;
    return ok;
}

static fault_http_action on_response(void *state, fault_http_exchange *x)
{
    rev_state *st = state;
    fault_http_watch_body(fault_plugin_self(st), x, FAULT_DIR_INGRESS);
    return FAULT_HTTP_CONTINUE;
}

static fault_action on_body(void *state, fault_http_exchange *x, fault_direction dir,
                            fault_chunk *c, fault_verdict *v)
{
    (void)v;
    rev_state *st = state;
    if (dir != FAULT_DIR_INGRESS)
        return FAULT_PASS;
    rev_body **slot = find(st, x), *b = *slot;
    if (!b) {
        if (!(b = calloc(1, sizeof *b)))
            return FAULT_RESET;
        b->x = x;
        *slot = b;
    }
    uint8_t *out = NULL;
    size_t len = 0, cap = 0;
    bool ok = true;
    for (size_t i = 0; ok && i < c->len; i++) {
        uint8_t ch = c->data[i];
        if (ch == '\n') {
            ok = put_line(b, &out, &len, &cap) && put(&out, &len, &cap, &ch, 1);
            b->too_long = false;
        } else if (b->too_long) {
            ok = put(&out, &len, &cap, &ch, 1);
        } else if (b->len == (size_t)st->max_line) {
            b->too_long = true; /* give up on this line: what was kept goes out */
            ok = put_line(b, &out, &len, &cap) && put(&out, &len, &cap, &ch, 1);
        } else {
            ok = put(&b->line, &b->len, &b->cap, &ch, 1);
        }
    }
    /* What leaves now: every finished line; the unfinished one stays. */
    if (ok)
        ok = fault_chunk_replace(fault_http_stream(x), c, out, len) == 0;
    free(out);
    return ok ? FAULT_PASS : FAULT_RESET;
}

/* The body ended (ABI 1.3): a last line without a newline goes out now, as
 * the body's last bytes. */
static fault_action on_body_end(void *state, fault_http_exchange *x, fault_direction dir,
                                fault_chunk *c, fault_verdict *v)
{
    (void)v;
    rev_body *b = *find(state, x);
    if (dir != FAULT_DIR_INGRESS || !b || b->len == 0)
        return FAULT_PASS;
    uint8_t *out = NULL;
    size_t len = 0, cap = 0;
    bool ok = put_line(b, &out, &len, &cap) &&
              fault_chunk_replace(fault_http_stream(x), c, out, len) == 0;
    free(out);
    return ok ? FAULT_PASS : FAULT_RESET;
}

static void on_end(void *state, fault_http_exchange *x)
{
    rev_body **slot = find(state, x), *b = *slot;
    if (b) {
        *slot = b->next;
        free(b->line);
        free(b);
    }
}

static const fault_http_ops http_ops = {
    .on_response = on_response, .on_body = on_body, .on_body_end = on_body_end, .on_end = on_end};

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "rev", .version = "1.0.0",
                    .summary = "Reverses each line of streamed response bodies (SDK example)",
                    .license = "Apache-2.0", .options = options, .state_size = sizeof(rev_state),
                    .http = &http_ops);
