/*
 * plugins/scenario/proxy.c - the proxy of a scenario item, run as a child
 * `fault run` process of this very executable.
 *
 * Why a child process rather than the proxy in this process: each item
 * (and each repeat iteration with a new latency) needs its own fault
 * configuration, and `fault run` already validates, starts and stops a
 * configured proxy with every plugin; a fresh process per configuration
 * gets exactly that, with nothing left over from the previous item.
 *
 * The child writes every event as a JSON line on its standard output
 * (`--events -`), read here through a pipe: "listening" events say when
 * it is ready (one per listener), and the rest are kept for correlation
 * with our calls once the child has stopped. Its standard error is kept
 * to explain a failed start.
 *
 * The child gets our environment minus the FAULT_* variables that would
 * configure faults behind the scenario's back; the plugin path variables
 * pass through, so it loads the same plugins we did, and so does
 * FAULT_WITH_OTEL (set by `fault --with-otel scenario run`), so that its
 * traffic is exported like any run's, and FAULT_MASK (the user's --mask
 * names), so that what it writes or exports masks the same secrets. It runs in its own
 * session, so that only we decide when it stops; should we die without
 * stopping it, the --duration the runner gives it ends it.
 */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"

#define START_TIMEOUT_MS 15000
#define KILL_AFTER_MS    5000
#define MAX_STDERR       16384
#define MAX_LINE         (1024 * 1024)

struct sc_proxy {
    uv_loop_t *loop;
    uv_process_t proc;
    uv_pipe_t out, err;
    uv_timer_t timer;
    int open_handles;
    bool exited, out_eof, err_eof, ready, failed, stopping, freed_pending;
    bool died; /* exited by itself after it was ready */
    int64_t exit_status;
    int term_signal;
    int want, got;
    sc_buf line, errtext;
    sc_event *events;
    size_t nevents, cevents;
    sc_argv args;
    uint64_t ready_wall;
    sc_proxy_ready_cb ready_cb;
    sc_proxy_exit_cb exit_cb;
    void *ud, *exit_ud;
};

extern char **environ;

char **sc_child_env(void)
{
    static const char *const keep[] = {"FAULT_PLUGIN_PATH=",
                                       "FAULT_PLUGIN_DIRS=",
                                       "FAULT_NO_DEFAULT_PLUGINS=",
                                       "FAULT_LOG_FILE=",
                                       "FAULT_LOG_LEVEL=",
                                       "FAULT_WITH_OTEL=",
                                       "FAULT_MASK=",
                                       NULL};
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 1, sizeof *env);
    if (!env)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        const char *e = environ[i];
        if (strncmp(e, "FAULT_", 6) == 0) {
            bool kept = false;
            for (size_t k = 0; keep[k]; k++)
                if (strncmp(e, keep[k], strlen(keep[k])) == 0)
                    kept = true;
            if (!kept)
                continue;
        }
        env[j++] = (char *)e;
    }
    env[j] = NULL;
    return env;
}

void sc_child_env_free(char **env)
{
    /* The strings belong to environ. */
    free(env);
}

/* ---- events ---- */

static char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
}

static sc_ev_type type_of(const char *t)
{
    static const struct {
        const char *name;
        sc_ev_type type;
    } map[] = {{"listening", SC_EV_LISTENING},         {"conn_open", SC_EV_CONN_OPEN},
               {"conn_close", SC_EV_CONN_CLOSE},       {"fault_applied", SC_EV_FAULT_APPLIED},
               {"fault_state", SC_EV_FAULT_STATE},     {"http_request", SC_EV_HTTP_REQUEST},
               {"http_response", SC_EV_HTTP_RESPONSE}, {"error", SC_EV_ERROR}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(t, map[i].name) == 0)
            return map[i].type;
    return SC_EV_OTHER;
}

static void on_line(sc_proxy *p, const char *s, size_t len)
{
    if (len == 0 || s[0] != '{')
        return;
    cJSON *j = cJSON_ParseWithLength(s, len);
    if (!j)
        return;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");
    sc_ev_type type = cJSON_IsString(t) ? type_of(t->valuestring) : SC_EV_OTHER;
    /* Byte counts and unknown types are of no use to the runner. */
    if (type == SC_EV_OTHER) {
        cJSON_Delete(j);
        return;
    }
    if (p->nevents == p->cevents) {
        size_t cap = p->cevents ? p->cevents * 2 : 256;
        sc_event *ne = realloc(p->events, cap * sizeof *ne);
        if (!ne) {
            cJSON_Delete(j);
            return;
        }
        p->events = ne;
        p->cevents = cap;
    }
    /* The DNS proxy numbers queries, not connections: its numbers would
     * collide with the streams'. Its faults are placed by time alone. */
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(j, "source");
    bool dns = cJSON_IsString(src) && strcmp(src->valuestring, "dns-proxy") == 0;
    if (dns && (type == SC_EV_CONN_OPEN || type == SC_EV_CONN_CLOSE)) {
        cJSON_Delete(j);
        return;
    }
    sc_event *e = &p->events[p->nevents++];
    memset(e, 0, sizeof *e);
    e->type = type;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "time_us");
    e->wall_us = cJSON_IsNumber(v) ? (uint64_t)v->valuedouble : 0;
    v = cJSON_GetObjectItemCaseSensitive(j, "conn");
    e->conn = cJSON_IsNumber(v) && !dns ? (uint64_t)v->valuedouble : 0;
    e->peer = jstr(j, "peer");
    e->target = jstr(j, "target");
    e->fault = jstr(j, "fault");
    e->side = jstr(j, "side");
    e->direction = jstr(j, "direction");
    e->url = jstr(j, "url");
    e->message = jstr(j, "message");
    v = cJSON_GetObjectItemCaseSensitive(j, "status");
    e->status = cJSON_IsNumber(v) ? v->valueint : 0;
    e->active = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "active"));
    if (type == SC_EV_FAULT_APPLIED)
        e->params = cJSON_DetachItemFromObjectCaseSensitive(j, "params");
    cJSON_Delete(j);

    if (type == SC_EV_LISTENING && !p->ready && !p->failed && ++p->got >= p->want) {
        p->ready = true;
        p->ready_wall = sc_wall_us();
        uv_timer_stop(&p->timer);
        p->ready_cb(p, 0, -1, NULL, p->ud);
    }
}

/* ---- handles ---- */

static void maybe_done(sc_proxy *p);

static void on_closed(uv_handle_t *h)
{
    sc_proxy *p = h->data;
    p->open_handles--;
    if (p->open_handles == 0 && p->freed_pending) {
        sc_buf_free(&p->line);
        sc_buf_free(&p->errtext);
        free(p);
    }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    static char chunk[65536];
    (void)suggested;
    /* One read at a time on one thread: a static buffer is enough, and
     * what is kept is copied out at once. */
    buf->base = chunk;
    buf->len = sizeof chunk;
}

static void fail_start(sc_proxy *p, const char *why)
{
    if (p->ready || p->failed)
        return;
    p->failed = true;
    uv_timer_stop(&p->timer);
    char msg[MAX_STDERR + 256];
    /* The child's own message (its last non-empty stderr line) says
     * best what went wrong; fall back to why. */
    const char *said = NULL;
    size_t said_len = 0;
    if (p->errtext.p) {
        char *s = p->errtext.p;
        size_t n = p->errtext.len;
        while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
            n--;
        size_t start = n;
        while (start && s[start - 1] != '\n')
            start--;
        said = s + start;
        said_len = n - start;
    }
    if (said_len)
        snprintf(msg, sizeof msg, "%.*s", (int)said_len, said);
    else
        snprintf(msg, sizeof msg, "%s", why);
    p->ready_cb(p, -1, p->exited ? p->exit_status : -1, msg, p->ud);
}

static void on_out(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    sc_proxy *p = s->data;
    if (n < 0) {
        p->out_eof = true;
        uv_close((uv_handle_t *)&p->out, on_closed);
        maybe_done(p);
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        char c = buf->base[i];
        if (c == '\n') {
            on_line(p, p->line.p ? p->line.p : "", p->line.len);
            p->line.len = 0;
        } else if (p->line.len < MAX_LINE) {
            sc_buf_put(&p->line, &c, 1);
        }
    }
}

static void on_err(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    sc_proxy *p = s->data;
    if (n < 0) {
        p->err_eof = true;
        uv_close((uv_handle_t *)&p->err, on_closed);
        maybe_done(p);
        return;
    }
    if (p->errtext.len < MAX_STDERR)
        sc_buf_put(&p->errtext, buf->base, (size_t)n);
}

static void on_exit_cb(uv_process_t *proc, int64_t status, int sig)
{
    sc_proxy *p = proc->data;
    p->died = p->ready && !p->stopping;
    p->exited = true;
    p->exit_status = status;
    p->term_signal = sig;
    uv_close((uv_handle_t *)&p->proc, on_closed);
    maybe_done(p);
}

static void maybe_done(sc_proxy *p)
{
    if (!(p->exited && p->out_eof && p->err_eof))
        return;
    uv_timer_stop(&p->timer);
    /* Decided before the ready callback runs: if that callback asks to
     * stop, its exit callback comes from a later turn, not from here. */
    sc_proxy_exit_cb cb = p->exit_cb;
    p->exit_cb = NULL;
    if (!p->ready && !p->failed) {
        char why[128];
        if (p->term_signal)
            snprintf(why, sizeof why, "the proxy was killed by signal %d before it listened",
                     p->term_signal);
        else
            snprintf(why, sizeof why, "the proxy exited with status %lld before it listened",
                     (long long)p->exit_status);
        fail_start(p, why);
    }
    if (cb)
        cb(p, p->exit_ud);
}

static void on_done_timer(uv_timer_t *t)
{
    maybe_done(t->data);
}

/* Start timeout, or a child that ignored SIGTERM for 5 s. */
static void on_timer(uv_timer_t *t)
{
    sc_proxy *p = t->data;
    if (!p->exited)
        uv_process_kill(&p->proc, SIGKILL);
    if (!p->ready)
        fail_start(p, "the proxy did not listen within 15 s");
}

sc_proxy *sc_proxy_start(uv_loop_t *loop, const char *exe, const sc_argv *args, int listeners,
                         sc_proxy_ready_cb cb, void *ud, char *err, size_t errlen)
{
    sc_proxy *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->loop = loop;
    p->want = listeners > 0 ? listeners : 1;
    p->ready_cb = cb;
    p->ud = ud;
    for (size_t i = 0; i < args->n; i++)
        if (sc_argv_add(&p->args, args->v[i]) != 0) {
            sc_argv_free(&p->args);
            free(p);
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
    sc_argv full = {0};
    int rc = sc_argv_add(&full, exe);
    rc |= sc_argv_add(&full, "run");
    for (size_t i = 0; i < args->n; i++)
        rc |= sc_argv_add(&full, args->v[i]);
    rc |= sc_argv_add(&full, "--events");
    rc |= sc_argv_add(&full, "-");
    char **env = sc_child_env();
    if (rc || !env) {
        sc_argv_free(&full);
        sc_argv_free(&p->args);
        sc_child_env_free(env);
        free(p);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    uv_pipe_init(loop, &p->out, 0);
    uv_pipe_init(loop, &p->err, 0);
    uv_timer_init(loop, &p->timer);
    p->out.data = p->err.data = p->timer.data = p->proc.data = p;
    p->open_handles = 3;
    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&p->out;
    stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[2].data.stream = (uv_stream_t *)&p->err;
    uv_process_options_t opt = {0};
    opt.file = exe;
    opt.args = full.v;
    opt.env = env;
    opt.exit_cb = on_exit_cb;
    /* Its own session: a Ctrl-C at the terminal reaches only us, and we
     * stop the child once what it was doing has been written down. */
    opt.flags = UV_PROCESS_DETACHED;
    opt.stdio_count = 3;
    opt.stdio = stdio;
    rc = uv_spawn(loop, &p->proc, &opt);
    sc_argv_free(&full);
    sc_child_env_free(env);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start %s: %s", exe, uv_strerror(rc));
        /* uv_spawn leaves the process handle initialised: it must be
         * closed like the others before p can go. */
        p->freed_pending = true;
        p->open_handles = 4;
        uv_close((uv_handle_t *)&p->out, on_closed);
        uv_close((uv_handle_t *)&p->err, on_closed);
        uv_close((uv_handle_t *)&p->timer, on_closed);
        uv_close((uv_handle_t *)&p->proc, on_closed);
        sc_argv_free(&p->args);
        return NULL;
    }
    p->open_handles++;
    uv_read_start((uv_stream_t *)&p->out, alloc_cb, on_out);
    uv_read_start((uv_stream_t *)&p->err, alloc_cb, on_err);
    uv_timer_start(&p->timer, on_timer, START_TIMEOUT_MS, 0);
    return p;
}

const sc_argv *sc_proxy_args(const sc_proxy *p)
{
    return &p->args;
}

uint64_t sc_proxy_ready_wall_us(const sc_proxy *p)
{
    return p->ready_wall;
}

void sc_proxy_stop(sc_proxy *p, bool force, sc_proxy_exit_cb cb, void *ud)
{
    p->exit_cb = cb;
    p->exit_ud = ud;
    p->stopping = true;
    uv_timer_stop(&p->timer);
    if (p->exited && p->out_eof && p->err_eof) {
        /* Already over: report on a later turn all the same, so callers
         * never see their callback run inside this call. */
        uv_timer_start(&p->timer, on_done_timer, 0, 0);
        return;
    }
    if (!p->exited) {
        uv_process_kill(&p->proc, force ? SIGKILL : SIGTERM);
        if (!force)
            uv_timer_start(&p->timer, on_timer, KILL_AFTER_MS, 0);
    }
}

bool sc_proxy_died(const sc_proxy *p, char *why, size_t len)
{
    if (!p->died)
        return false;
    const char *last = "";
    size_t n = 0;
    if (p->errtext.p) {
        /* Its last words, if it had any. */
        const char *s = p->errtext.p;
        size_t end = p->errtext.len;
        while (end && (s[end - 1] == '\n' || s[end - 1] == '\r'))
            end--;
        size_t start = end;
        while (start && s[start - 1] != '\n')
            start--;
        last = s + start;
        n = end - start;
    }
    if (p->term_signal)
        snprintf(why, len, "the proxy died (signal %d)%s%.*s", p->term_signal, n ? ": " : "",
                 (int)n, last);
    else
        snprintf(why, len, "the proxy exited by itself (status %lld)%s%.*s",
                 (long long)p->exit_status, n ? ": " : "", (int)n, last);
    return true;
}

const sc_event *sc_proxy_events(const sc_proxy *p, size_t *n)
{
    *n = p->nevents;
    return p->events;
}

void sc_proxy_free(sc_proxy *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nevents; i++) {
        sc_event *e = &p->events[i];
        free(e->peer);
        free(e->target);
        free(e->fault);
        free(e->side);
        free(e->direction);
        free(e->url);
        free(e->message);
        cJSON_Delete(e->params);
    }
    free(p->events);
    p->events = NULL;
    p->nevents = 0;
    sc_argv_free(&p->args);
    p->freed_pending = true;
    /* The process and pipe handles closed themselves on exit and EOF;
     * the timer is ours to close. */
    if (!uv_is_closing((uv_handle_t *)&p->timer))
        uv_close((uv_handle_t *)&p->timer, on_closed);
}
