/*
 * plugins/http/fuzz_h2.c - libFuzzer target for the http plugin's HTTP/2
 * server side (h2.c and the files that share h2int.h with it): whatever
 * bytes a client sends after the connection preface go through
 * hp_h2_start(), i.e. the server session the plugin
 * makes (its callbacks, options, SETTINGS and memory functions) and
 * nghttp2_session_mem_recv(): frames, HPACK, the header-list bound,
 * stream heads (strm_head()), answers, resets, flow control, teardown.
 *
 * The HTTP/2 files and h1.c are compiled as they are; what they call outside
 * (the core's SDK functions, upstream connections) is stood in for below,
 * as simply as the SDK's contracts allow: a connection records what is
 * written and completes writes on the next turn of the loop, chains have
 * no stages (bytes pass at once), an exchange keeps its headers and
 * answer, hooks continue at once, and every upstream refuses (hp_connect()
 * fails: the stream is answered 502). So an input reaches everything the
 * client side of h2.c does without a network.
 *
 * The first input byte picks the listener (bit 0: a reverse mapping, with
 * client chains; else the forward proxy; bit 1: --upstream selects no
 * request, so no hooks run) and how the rest is cut into reads (bits 2-7:
 * read size 1 + 64 * n bytes, but at least 1/256 of the input, so frames
 * arrive in pieces as they do from sockets); the rest follows the client
 * preface, which is sent first.
 *
 * Build and run (not part of `make check`; needs clang): tests/fuzz/run.sh
 * h2, or by hand from the top of the source tree after configure:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined \
 *       -fno-sanitize-recover=undefined -I . -I sdk -I /usr/share/include/llhttp \
 *       plugins/http/fuzz_h2.c plugins/http/h2.c plugins/http/h2_exchange.c \
 *       plugins/http/h2_h1up.c plugins/http/h1up.c plugins/http/h2up.c plugins/http/tunnel.c \
 *       plugins/http/due.c plugins/http/h1.c \
 *       /usr/share/llhttp/api.c /usr/share/llhttp/http.c /usr/share/llhttp/llhttp.c \
 *       -lnghttp2 -luv -o /tmp/fuzz_h2
 *   /tmp/fuzz_h2 -max_total_time=60 -max_len=65536 tests/fuzz/corpus/h2
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "proxy.h"
#include "session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- connections and streams ---- */

typedef struct pending_write {
    fault_write_cb cb;
    void *ud;
} pending_write;

struct fault_conn {
    fault_read_cb read_cb;
    void *read_ud;
    bool reading, closed;
    size_t written;
    pending_write w[64];
    size_t nw;
};

struct fault_stream {
    fault_stream_end_cb end_cb;
    void *end_ud;
    bool finished;
};

static fault_conn *the_conn;
static size_t exchanges; /* made for the current input */

int fault_conn_read_start(fault_conn *c, fault_read_cb cb, void *ud)
{
    c->read_cb = cb;
    c->read_ud = ud;
    c->reading = true;
    return 0;
}

int fault_conn_read_stop(fault_conn *c)
{
    c->reading = false;
    return 0;
}

static void trace_out(const uint8_t *p, size_t len)
{
    static FILE *f;
    if (!getenv("FUZZ_H2_OUT"))
        return;
    if (!f)
        f = fopen(getenv("FUZZ_H2_OUT"), "wb");
    if (f) {
        fwrite(p, 1, len, f);
        fflush(f);
    }
}

int fault_conn_write(fault_conn *c, const void *data, size_t len, fault_write_cb cb, void *ud)
{
    trace_out(data, len);
    if (c->closed)
        return -EPIPE;
    c->written += len;
    if (cb) {
        if (c->nw == sizeof c->w / sizeof c->w[0])
            abort(); /* h2.c keeps one write in flight */
        c->w[c->nw++] = (pending_write){cb, ud};
    }
    return 0;
}

long fault_conn_try_write(fault_conn *c, const void *data, size_t len)
{
    trace_out(data, len);
    if (c->closed)
        return -EPIPE;
    c->written += len;
    return (long)len;
}

size_t fault_conn_write_queued(const fault_conn *c)
{
    (void)c;
    return 0;
}

int fault_conn_shutdown(fault_conn *c)
{
    (void)c;
    return 0;
}

void fault_conn_close(fault_conn *c)
{
    c->closed = true;
}

void fault_conn_reset(fault_conn *c)
{
    c->closed = true;
}

const char *fault_conn_peer(const fault_conn *c)
{
    (void)c;
    return "127.0.0.1:50000";
}

const char *fault_conn_alpn(const fault_conn *c)
{
    (void)c;
    return NULL;
}

void fault_stream_set_end(fault_stream *s, fault_stream_end_cb cb, void *ud)
{
    s->end_cb = cb;
    s->end_ud = ud;
}

void fault_stream_finish(fault_stream *s, uint64_t eg, uint64_t in, int error)
{
    (void)eg;
    (void)in;
    (void)error;
    if (s->finished)
        abort(); /* once */
    s->finished = true;
}

uint64_t fault_stream_id(const fault_stream *s)
{
    (void)s;
    return 1;
}

const char *fault_stream_peer(const fault_stream *s)
{
    (void)s;
    return "127.0.0.1:50000";
}

void fault_stream_next_exchange(fault_stream *s)
{
    (void)s;
}

/* ---- chains without stages ---- */

struct fault_chain {
    fault_chain_ops ops;
    void *ud;
};

fault_chain *fault_chain_new(fault_stream *s, fault_direction dir, fault_side sides,
                             const fault_chain_ops *ops, void *ud)
{
    (void)s;
    (void)dir;
    (void)sides;
    fault_chain *c = calloc(1, sizeof *c);
    if (c) {
        c->ops = *ops;
        c->ud = ud;
    }
    return c;
}

int fault_chain_push(fault_chain *c, const void *data, size_t len)
{
    if (len)
        c->ops.output(c->ud, data, len);
    return 0;
}

int fault_chain_eof(fault_chain *c)
{
    if (c->ops.eof)
        c->ops.eof(c->ud);
    return 0;
}

size_t fault_chain_pending(const fault_chain *c)
{
    (void)c;
    return 0;
}

size_t fault_chain_stages(const fault_chain *c)
{
    (void)c;
    return 0;
}

void fault_chain_free(fault_chain *c)
{
    free(c);
}

/* ---- exchanges: headers, status, an answer; hooks continue ---- */

typedef struct hlist {
    char **name, **value;
    size_t n;
} hlist;

struct fault_http_exchange {
    char *method, *path;
    int status;
    hlist h[2];
    uint8_t *reply;
    size_t reply_len;
};

static char *dup_s(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int hl_add(hlist *l, const char *name, const char *value)
{
    char **n = realloc(l->name, (l->n + 1) * sizeof *n);
    if (!n)
        return -ENOMEM;
    l->name = n;
    char **v = realloc(l->value, (l->n + 1) * sizeof *v);
    if (!v)
        return -ENOMEM;
    l->value = v;
    l->name[l->n] = dup_s(name);
    l->value[l->n] = dup_s(value);
    l->n++;
    return 0;
}

static void hl_free(hlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->name[i]);
        free(l->value[i]);
    }
    free(l->name);
    free(l->value);
    memset(l, 0, sizeof *l);
}

fault_http_exchange *fault_http_exchange_new(fault_plugin *self, fault_stream *s,
                                             const char *method, const char *url, const char *host,
                                             const char *path)
{
    (void)self;
    (void)s;
    if (!method || !url || !host || !path)
        abort(); /* h2.c always has all four */
    fault_http_exchange *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    exchanges++;
    x->method = dup_s(method);
    x->path = dup_s(path);
    return x;
}

void fault_http_exchange_free(fault_http_exchange *x)
{
    if (!x)
        return;
    free(x->method);
    free(x->path);
    hl_free(&x->h[0]);
    hl_free(&x->h[1]);
    free(x->reply);
    free(x);
}

int fault_http_add_header(fault_http_exchange *x, fault_http_msg m, const char *name,
                          const char *value)
{
    return hl_add(&x->h[m], name, value);
}

int fault_http_set_header(fault_http_exchange *x, fault_http_msg m, const char *name,
                          const char *value)
{
    hlist *l = &x->h[m];
    size_t k = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (strcasecmp(l->name[i], name) == 0) {
            free(l->name[i]);
            free(l->value[i]);
        } else {
            l->name[k] = l->name[i];
            l->value[k++] = l->value[i];
        }
    }
    l->n = k;
    return value ? hl_add(l, name, value) : 0;
}

size_t fault_http_header_count(const fault_http_exchange *x, fault_http_msg m)
{
    return x->h[m].n;
}

int fault_http_header_at(const fault_http_exchange *x, fault_http_msg m, size_t i,
                         const char **name, const char **value)
{
    if (i >= x->h[m].n)
        return -ERANGE;
    *name = x->h[m].name[i];
    *value = x->h[m].value[i];
    return 0;
}

const char *fault_http_header(const fault_http_exchange *x, fault_http_msg m, const char *name)
{
    for (size_t i = 0; i < x->h[m].n; i++)
        if (strcasecmp(x->h[m].name[i], name) == 0)
            return x->h[m].value[i];
    return NULL;
}

int fault_http_status(const fault_http_exchange *x)
{
    return x->status;
}

int fault_http_set_status(fault_http_exchange *x, int status)
{
    x->status = status;
    return 0;
}

const char *fault_http_method(const fault_http_exchange *x)
{
    return x->method;
}

const char *fault_http_path(const fault_http_exchange *x)
{
    return x->path;
}

const char *fault_http_url(const fault_http_exchange *x)
{
    return x->path;
}

int fault_http_respond(fault_http_exchange *x, int status, const char *const *headers,
                       const void *body, size_t len)
{
    x->status = status;
    hl_free(&x->h[FAULT_HTTP_RESPONSE]);
    for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2)
        hl_add(&x->h[FAULT_HTTP_RESPONSE], headers[i], headers[i + 1]);
    free(x->reply);
    x->reply = NULL;
    x->reply_len = 0;
    if (len) {
        x->reply = malloc(len);
        if (!x->reply)
            return -ENOMEM;
        memcpy(x->reply, body, len);
        x->reply_len = len;
    }
    return 0;
}

void fault_http_reply_body(const fault_http_exchange *x, const uint8_t **body, size_t *len)
{
    *body = x->reply;
    *len = x->reply_len;
}

int fault_http_run_request(fault_http_exchange *x, fault_http_done_cb cb, void *ud)
{
    cb(x, FAULT_HTTP_CONTINUE, ud);
    return 0;
}

int fault_http_run_response(fault_http_exchange *x, fault_http_done_cb cb, void *ud)
{
    cb(x, FAULT_HTTP_CONTINUE, ud);
    return 0;
}

size_t fault_http_wanted_body(const fault_http_exchange *x, fault_http_msg m)
{
    (void)x;
    (void)m;
    return 0;
}

bool fault_http_is_body_watched(const fault_http_exchange *x, fault_direction dir)
{
    (void)x;
    (void)dir;
    return false;
}

const uint8_t *fault_http_body(const fault_http_exchange *x, fault_http_msg m, size_t *len)
{
    (void)x;
    (void)m;
    *len = 0;
    return NULL;
}

int fault_http_load_body(fault_http_exchange *x, fault_http_msg m, const void *data, size_t len)
{
    (void)x;
    (void)m;
    (void)data;
    (void)len;
    return 0;
}

fault_chain *fault_http_body_chain_new(fault_http_exchange *x, fault_direction dir,
                                       const fault_chain_ops *ops, void *ud)
{
    (void)x;
    return fault_chain_new(NULL, dir, FAULT_SIDE_ANY, ops, ud);
}

/* ---- the rest of the core ---- */

void fault_event_publish(fault_plugin *self, fault_event *ev)
{
    (void)self;
    (void)ev;
}

bool fault_event_wanted(fault_event_type type)
{
    (void)type;
    return true;
}

void fault_log(fault_plugin *self, fault_log_level level, const char *fmt, ...)
{
    (void)self;
    (void)level;
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
}

bool fault_log_enabled(fault_plugin *self, fault_log_level level)
{
    (void)self;
    (void)level;
    return true;
}

uint64_t fault_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

const char *fault_strerror(int err)
{
    return err ? "error" : "ok";
}

/* ---- the rest of the plugin: every upstream refuses ---- */

static bool targeted;

bool hp_targeted(const hp_state *st, const char *host, uint16_t port)
{
    (void)st;
    (void)host;
    (void)port;
    return targeted;
}

void hp_front_release(hp_front *fr)
{
    fr->refs--;
}

struct hp_creq *hp_connect(hp_state *st, hp_up_user *owner, fault_stream *s, const char *host,
                           uint16_t port, bool tls, const char *alpn, int *err)
{
    (void)st;
    (void)owner;
    (void)s;
    (void)host;
    (void)port;
    (void)tls;
    (void)alpn;
    *err = -ECONNREFUSED;
    return NULL;
}

void hp_connect_cancel(struct hp_creq *r)
{
    if (r)
        abort(); /* never made */
}

hp_up *hp_pool_take(hp_state *st, const char *key)
{
    (void)st;
    (void)key;
    return NULL;
}

void hp_up_release(hp_up *up, bool reusable)
{
    (void)up;
    (void)reusable;
    abort();
}

void hp_up_close(hp_up *up, bool reset)
{
    (void)up;
    (void)reset;
    abort();
}

void hp_up_key(char *out, size_t len, const char *host, uint16_t port, bool tls)
{
    snprintf(out, len, "%s|%s|%u", tls ? "https" : "http", host, (unsigned)port);
}

void hp_up_on_read(fault_conn *c, long nread, const uint8_t *data, void *ud)
{
    (void)c;
    (void)nread;
    (void)data;
    (void)ud;
    abort();
}

size_t hp_sess_h2_room(struct hp_sess *sess)
{
    (void)sess;
    abort();
}

void hp_sess_h2_data(struct hp_sess *sess, const uint8_t *p, size_t n)
{
    (void)sess;
    (void)p;
    (void)n;
    abort();
}

void hp_sess_h2_fail(struct hp_sess *sess, int err)
{
    (void)sess;
    (void)err;
    abort();
}

void hp_sess_h2_flow(struct hp_sess *sess)
{
    (void)sess;
    abort();
}

/* tunnel.c holds every CONNECT, the HTTP/1 session's too: what that part
 * calls is never reached here (there is no HTTP/1 session). */
int fault_stream_relay_with(fault_stream *s, fault_conn *server, const void *to_server,
                            size_t to_server_len, const void *to_client, size_t to_client_len)
{
    (void)s;
    (void)server;
    (void)to_server;
    (void)to_server_len;
    (void)to_client;
    (void)to_client_len;
    abort();
}

void fault_stream_set_scheme(fault_stream *s, const char *scheme)
{
    (void)s;
    (void)scheme;
    abort();
}

void hp_intercept(hp_state *st, fault_stream *s, fault_conn *c, fault_conn *u, const char *host,
                  uint16_t port, const uint8_t *early, size_t len)
{
    (void)st;
    (void)s;
    (void)c;
    (void)u;
    (void)host;
    (void)port;
    (void)early;
    (void)len;
    abort();
}

void sess_respond(hp_sess *s, int status, const char *text, bool from_x, bool force_close)
{
    (void)s;
    (void)status;
    (void)text;
    (void)from_x;
    (void)force_close;
    abort();
}

void sess_client_write_now(hp_sess *s, const uint8_t *p, size_t n)
{
    (void)s;
    (void)p;
    (void)n;
    abort();
}

void sess_ex_connect(hp_sess *s)
{
    (void)s;
    abort();
}

void sess_teardown(hp_sess *s, bool reset, int error)
{
    (void)s;
    (void)reset;
    (void)error;
    abort();
}

/* ---- the loop's poll ----
 *
 * Every turn of the loop (two or more per read) ends in epoll_wait() with
 * a zero timeout, for the one descriptor libuv always watches (its
 * thread pool's wakeup). Here nothing can be ready: the connections are
 * the stand-ins above, nothing runs on the thread pool and no handle
 * watches a descriptor. The system call was a third of the time of an
 * input, so a poll that may not wait answers "nothing ready" at once;
 * one that may wait (never with UV_RUN_NOWAIT) goes to the kernel. */
int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout)
{
    if (timeout == 0)
        return 0;
    return (int)syscall(SYS_epoll_wait, epfd, events, maxevents, timeout);
}

/* ---- the target ---- */

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static void turn(uv_loop_t *loop, fault_conn *c)
{
    uv_run(loop, UV_RUN_NOWAIT);
    /* Writes complete on the next turn, as socket writes would. */
    while (c->nw) {
        pending_write w = c->w[0];
        memmove(c->w, c->w + 1, --c->nw * sizeof c->w[0]);
        w.cb(c, c->closed ? -ECANCELED : 0, w.ud);
    }
    uv_run(loop, UV_RUN_NOWAIT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uv_loop_t loop;
    static bool loop_init;
    if (!loop_init) {
        uv_loop_init(&loop);
        loop_init = true;
    }
    if (size == 0)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    size_t chunk = 1 + 64 * (size_t)(mode >> 2);
    /* At most about 256 reads per input: each one turns the loop (a
     * system call or two), and a 64 KiB input read byte by byte ran at
     * 65 inputs a second. */
    if (chunk < size / 256)
        chunk = size / 256;

    hp_state st;
    memset(&st, 0, sizeof st);
    st.loop = &loop;
    st.upstream_timeout_us = 30000000;
    st.header_timeout_us = 30000000;
    st.via = true;
    hp_front fr;
    memset(&fr, 0, sizeof fr);
    fr.st = &st;
    fr.reverse = mode & 1;
    fr.refs = 1;
    snprintf(fr.host, sizeof fr.host, "127.0.0.1");
    fr.port = 9;
    snprintf(fr.authority, sizeof fr.authority, "127.0.0.1:9");
    targeted = !(mode & 2);
    st.match_all = targeted;

    fault_conn *c = calloc(1, sizeof *c);
    fault_stream s;
    memset(&s, 0, sizeof s);
    the_conn = c;
    hp_h2_start(&fr, c, &s, (const uint8_t *)preface, sizeof preface - 1);
    size_t off = 0;
    for (; off < size && !c->closed && !s.finished; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        if (!c->reading)
            turn(&loop, c); /* paused: the pumps may resume it */
        if (!c->reading || !c->read_cb)
            break;
        c->read_cb(c, (long)n, data + off, c->read_ud);
        turn(&loop, c);
    }
    if (!c->closed && !s.finished && c->read_cb)
        c->read_cb(c, UV_EOF, NULL, c->read_ud);
    turn(&loop, c);
    hp_h2_close_all(&st);
    turn(&loop, c);
    /* Everything of the connection is closed: its timer's close callback
     * frees what is left. */
    while (uv_run(&loop, UV_RUN_NOWAIT))
        turn(&loop, c);
    if (!s.finished)
        abort(); /* the stream always ends */
    /* FUZZ_H2_VERBOSE=1: what each input made (to check seeds reach in). */
    if (getenv("FUZZ_H2_VERBOSE"))
        fprintf(stderr, "fuzz_h2: %zu bytes in, %zu read, %zu out, %zu exchanges\n", size, off,
                c->written, exchanges);
    exchanges = 0;
    if (fr.refs != 1)
        abort(); /* the connection let go of its listener */
    free(c);
    the_conn = NULL;
    return 0;
}
