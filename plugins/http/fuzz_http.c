/*
 * plugins/http/fuzz_http.c - libFuzzer target for the http plugin's
 * parser-facing glue (h1.c): whatever bytes a client or an upstream
 * sends, collecting heads from llhttp's span callbacks stays inside its
 * buffer and bound, request targets and --upstream patterns parse or fail
 * cleanly, and what parses is well formed.
 *
 * The input is fed to a request parser and to a response parser, split in
 * two at a position taken from its first byte (so names and values arrive
 * in pieces, as they do across socket reads); every head that completes
 * is checked: each header has a NUL-terminated name and value inside the
 * head's buffer, the hop-by-hop test and lookups run on all of them, and
 * the request target is parsed in its own form (authority form for
 * CONNECT). The same bytes also go through the pausable driver
 * (hp_drive_run), paused at every head and message end and held back at
 * some of them (as the input's bits say) while the rest arrives: it must
 * see the same body bytes and messages as the straight run. The input is
 * also tried as an --upstream pattern and as host:port.
 *
 * Build and run (not part of `make check`; needs clang), from the top of
 * the source tree, after configure:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined \
 *       -fno-sanitize-recover=undefined -I sdk -I /usr/share/include/llhttp \
 *       plugins/http/fuzz_http.c plugins/http/h1.c /usr/share/llhttp/api.c \
 *       /usr/share/llhttp/http.c /usr/share/llhttp/llhttp.c -o /tmp/fuzz_http
 *   /tmp/fuzz_http -max_total_time=60 -max_len=8192
 *
 * (with a system libllhttp: drop the llhttp .c files and add -lllhttp).
 * 60 s on a 2-core machine: about 2.6 million inputs, no finding.
 */
#include <stdlib.h>
#include <string.h>

#include "proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t heads;

static void check_head(llhttp_t *p)
{
    hp_parser *hp = (hp_parser *)p;
    hp_head *h = &hp->head;
    hp_head_done(h);
    if (h->b.len > HP_MAX_HEAD + 1)
        abort();
    for (size_t i = 0; i < h->n; i++) {
        const char *name = hp_head_name(h, i);
        const char *value = hp_head_value(h, i);
        /* Both strings end inside the buffer. */
        if (!memchr(name, '\0', h->b.len - (size_t)(name - (const char *)h->b.p)))
            abort();
        if (h->h[i].value != UINT32_MAX &&
            !memchr(value, '\0', h->b.len - (size_t)(value - (const char *)h->b.p)))
            abort();
        (void)hp_hop_by_hop(h, name);
        if (hp_head_get(h, name) == NULL)
            abort(); /* a header present is found */
    }
    heads++;
}

static int on_request_head(llhttp_t *p)
{
    check_head(p);
    hp_head *h = &((hp_parser *)p)->head;
    const char *url = hp_head_url(h);
    hp_target t;
    const char *why;
    if (hp_parse_target(url, strlen(url), p->method == HTTP_CONNECT, &t, &why) == 0) {
        if ((t.form == HP_ABSOLUTE || t.form == HP_AUTHORITY) && (!t.host[0] || t.port == 0))
            abort();
        if (!t.path || (t.pathlen && !memchr(t.path, t.path[t.pathlen - 1], t.pathlen)))
            abort();
        char auth[HP_MAX_HOST + 16];
        hp_authority(auth, sizeof auth, t.host, t.port, t.tls, true);
    } else if (!why || !*why) {
        abort();
    }
    return 0;
}

static int on_response_head(llhttp_t *p)
{
    check_head(p);
    (void)hp_reason(p->status_code);
    return 0;
}

/* What a parser saw, straight or through the driver. */
typedef struct seen {
    hp_drive d;
    bool pausing;          /* through the driver: pause at heads and ends */
    const uint8_t *bits;   /* which events hold the parser back */
    size_t nbits, event;   /* how many, and the next one */
    bool held, failed;     /* not runnable now; on_error came */
    size_t body, messages; /* body bytes and messages seen */
} seen;

static seen *seen_of(llhttp_t *p)
{
    return ((hp_parser *)p)->ud;
}

static int seen_head(llhttp_t *p)
{
    seen *w = seen_of(p);
    if (p->type == HTTP_REQUEST)
        on_request_head(p);
    else
        on_response_head(p);
    if (!w->pausing)
        return 0;
    w->d.ev = EV_HEAD;
    return HPE_PAUSED;
}

static int seen_body(llhttp_t *p, const char *at, size_t n)
{
    (void)at;
    seen_of(p)->body += n;
    return 0;
}

static int seen_done(llhttp_t *p)
{
    seen *w = seen_of(p);
    w->messages++;
    if (!w->pausing)
        return 0;
    w->d.ev = EV_DONE;
    return HPE_PAUSED;
}

static seen *seen_drive(const hp_drive *d)
{
    return (seen *)((char *)d - offsetof(seen, d));
}

static bool seen_gone(const hp_drive *d)
{
    (void)d;
    return false;
}

static bool seen_runnable(const hp_drive *d)
{
    return !seen_drive(d)->held && !seen_drive(d)->failed;
}

/* Each event may hold the parser back, as the input's bits say. */
static void seen_event(hp_drive *d)
{
    seen *w = seen_drive(d);
    if (d->ev != EV_HEAD && d->ev != EV_DONE)
        abort();
    size_t i = w->event++;
    if (w->nbits && (w->bits[(i / 8) % w->nbits] >> (i % 8)) & 1)
        w->held = true;
}

static bool seen_error(hp_drive *d, llhttp_errno_t e)
{
    (void)e;
    seen_drive(d)->failed = true;
    return false;
}

static void seen_nomem(hp_drive *d)
{
    seen_drive(d)->failed = true;
}

static const hp_drive_ops seen_ops = {.gone = seen_gone,
                                      .runnable = seen_runnable,
                                      .on_head = seen_event,
                                      .on_done = seen_event,
                                      .on_full = seen_event,
                                      .on_error = seen_error,
                                      .on_nomem = seen_nomem};

static void feed(llhttp_type_t type, const uint8_t *data, size_t size, size_t split)
{
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    hp_settings_collect(&s);
    s.on_headers_complete = seen_head;
    s.on_body = seen_body;
    s.on_message_complete = seen_done;
    if (split > size)
        split = size;

    seen straight;
    memset(&straight, 0, sizeof straight);
    hp_parser hp;
    memset(&hp, 0, sizeof hp);
    hp_parser_init(&hp, type, &s, &straight);
    llhttp_errno_t e = llhttp_execute(&hp.p, (const char *)data, split);
    if (e == HPE_OK && split < size)
        e = llhttp_execute(&hp.p, (const char *)data + split, size - split);
    if (hp.head.too_big && hp.head.b.len > HP_MAX_HEAD + 1)
        abort();
    hp_parser_free(&hp);

    seen driven;
    memset(&driven, 0, sizeof driven);
    driven.pausing = true;
    driven.bits = data;
    driven.nbits = size < 8 ? size : 8;
    hp_fifo in = {0};
    memset(&hp, 0, sizeof hp);
    hp_parser_init(&hp, type, &s, &driven);
    hp_drive_init(&driven.d, &hp, &in, 1024, &seen_ops);
    hp_drive_run(&driven.d, data, split);
    hp_drive_run(&driven.d, data + split, size - split);
    while (driven.held && !driven.failed) {
        driven.held = false;
        hp_drive_run(&driven.d, NULL, 0);
    }
    if (in.len > size)
        abort();
    /* Both read everything: they saw the same. */
    if (e == HPE_OK && !driven.failed &&
        (driven.body != straight.body || driven.messages != straight.messages || in.len))
        abort();
    hp_fifo_free(&in);
    hp_parser_free(&hp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t split = data[0] * size / 256;
    feed(HTTP_REQUEST, data + 1, size - 1, split);
    feed(HTTP_RESPONSE, data + 1, size - 1, split);

    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    hp_match m;
    const char *why;
    if (hp_parse_match(text, &m, &why) == 0) {
        if (!m.any && !m.host[0])
            abort();
        (void)hp_match_host(&m, "example.com", 80);
    }
    char host[HP_MAX_HOST];
    uint16_t port;
    if (hp_parse_hostport(text, strlen(text), host, sizeof host, &port, false) == 0 && !host[0])
        abort();
    (void)hp_token_in(text, "close");
    free(text);
    return 0;
}
