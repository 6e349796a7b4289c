/*
 * plugins/grpc-bridge/grpc-bridge.c - remote plugins over gRPC.
 *
 * Users write faults as gRPC servers (proto/plugin.proto, wire-compatible
 * with the original tool) and name them with --grpc-plugin URL. This bridge
 * calls them for the traffic fault sees:
 *
 *   HTTP (forward proxy, reverse mappings): on_request -> ProcessHttpRequest,
 *     on_response -> ProcessHttpResponse, for plugins that can handle HTTP
 *     forwarding. CONTINUE applies the modified message; ABORT answers the
 *     client instead (on a request, the upstream is never contacted).
 *   Tunnels (CONNECT, TCP mappings): every chunk -> ProcessTunnelData, for
 *     plugins that can handle tunnels, or that speak POSTGRESQL when the
 *     connection carries the PostgreSQL protocol. PassThrough, Replace,
 *     Buffer (released after the time the plugin gives) or Close.
 *
 * Several plugins chain in the order given: each sees what the one before
 * it let through. A plugin that fails a call (error, or no answer within
 * --grpc-plugin-timeout) is skipped for that message: the data goes on
 * unchanged, and the failure is logged and published as an error event.
 *
 * Threads. gRPC's completion queue blocks, libuv's loop must not: one
 * thread sits in grpc_completion_queue_next() and hands each finished call
 * to the loop through a uv_async. Everything else (calls started, results
 * applied, plugin state) happens on the loop thread only; the hand-off
 * list is the one thing both threads touch, under a mutex.
 *
 * Lifecycle of a remote plugin: STARTING (GetPluginInfo then
 * GetPluginCapabilities in flight), ENABLED, or DISABLED (it did not answer,
 * said it is unhealthy, or its connection failed under traffic). A
 * HealthCheck every --grpc-plugin-health-interval disables a plugin that
 * stopped answering and re-enables one that came back, after asking its
 * info and capabilities again. Traffic that arrives while the first
 * handshakes are still running waits for them (at most two deadlines), so
 * the first request of a run is not let through by accident.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <uv.h>

#include <fault/plugin.h>

#include "plugin.pb-c.h"
#include "url.h"

/* ---- small intrusive lists ---- */

typedef struct dlink {
    struct dlink *prev, *next;
} dlink;

static void dl_init(dlink *h)
{
    h->prev = h->next = h;
}
static bool dl_empty(const dlink *h)
{
    return h->next == h;
}
static bool dl_linked(const dlink *l)
{
    return l->next != NULL && l->next != l;
}

static void dl_add(dlink *h, dlink *l)
{
    l->prev = h->prev;
    l->next = h;
    h->prev->next = l;
    h->prev = l;
}

static void dl_del(dlink *l)
{
    if (!l->next)
        return;
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->prev = l->next = NULL;
}

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* ---- types ---- */

typedef struct bridge bridge;
typedef struct remote remote;
typedef struct rpc rpc;
typedef struct conn conn;

enum { M_HEALTH, M_INFO, M_CAPS, M_HTTP_REQ, M_HTTP_RESP, M_TUNNEL, M_COUNT };

static const struct {
    const char *path;
    const char *name;
    const ProtobufCMessageDescriptor *resp;
} methods[M_COUNT] = {
    {"/plugin.PluginService/HealthCheck", "HealthCheck",
     &plugin__health_check_response__descriptor},
    {"/plugin.PluginService/GetPluginInfo", "GetPluginInfo",
     &plugin__get_plugin_info_response__descriptor},
    {"/plugin.PluginService/GetPluginCapabilities", "GetPluginCapabilities",
     &plugin__get_plugin_capabilities_response__descriptor},
    {"/plugin.PluginService/ProcessHttpRequest", "ProcessHttpRequest",
     &plugin__process_http_request_response__descriptor},
    {"/plugin.PluginService/ProcessHttpResponse", "ProcessHttpResponse",
     &plugin__process_http_response_response__descriptor},
    {"/plugin.PluginService/ProcessTunnelData", "ProcessTunnelData",
     &plugin__process_tunnel_data_response__descriptor},
};

/* Called on the loop thread when a call ended; resp is the decoded answer,
 * or NULL when the call failed (r->status, r->detail say why). */
typedef void (*rpc_done_cb)(rpc *r, ProtobufCMessage *resp);

struct rpc {
    bridge *b;
    remote *rp;
    int method;
    grpc_call *call;
    grpc_metadata_array md_init, md_trail;
    grpc_byte_buffer *out, *in;
    grpc_status_code status;
    grpc_slice details;
    char detail[256];
    rpc_done_cb cb; /* NULL once whoever waited for the answer is gone */
    void *ud;
    dlink live;     /* bridge.rpcs, loop thread only */
    bool ok;        /* written by the queue thread before hand-off */
    rpc *done_next; /* hand-off list, under bridge.mu */
};

typedef enum { RP_STARTING, RP_ENABLED, RP_DISABLED } rp_status;

/* Consecutive deadline misses under traffic after which a plugin is taken
 * out until its next successful health check: a hung plugin would
 * otherwise cost every chunk a full deadline. */
#define DEADLINE_STRIKES 3
#define FAULT_STR_(x)    #x
#define FAULT_STR(x)     FAULT_STR_(x)

struct remote {
    bridge *b;
    unsigned idx;    /* 1-based, in the order given */
    char *url;       /* as given */
    char *target;    /* gRPC target */
    char label[160]; /* "grpc:URL", for events */
    bool tls;
    grpc_channel *ch;
    rp_status status;
    bool initial;  /* the start-up handshake is running */
    bool checking; /* a health check or re-handshake is in flight */
    bool fresh_channel_wanted;
    /* GetPluginInfo */
    char *name, *version, *author, *home, *platform;
    int info_side, info_dir;
    /* GetPluginCapabilities */
    bool caps_known, http, tunnel, pg;
    unsigned strikes;
    grpc_status_code last_logged[M_COUNT]; /* to log a failure once, not per chunk */
    bool method_warned, path_warned;
};

/* One tunnel direction's decision for the chunk at the head of our stage. */
typedef struct tjob {
    conn *c;
    fault_direction dir;
    bool busy;             /* plugins are being asked */
    bool ready;            /* every plugin had its say: apply */
    bool in_hook;          /* inside on_data: finish without waking */
    const fault_chunk *cp; /* identity of the chunk decided for */
    uint64_t off;
    size_t olen;
    uint8_t *buf; /* the bytes as they stand (plugins may replace) */
    size_t len;
    bool changed;
    bool close;
    char reason[200];
    const remote *closer;
    uint64_t release_us; /* Buffer: not before this time */
    unsigned next;       /* index of the next plugin to ask */
    rpc *call;
    dlink park; /* bridge.tpark while the start-up handshakes run */
} tjob;

struct conn {
    bridge *b;
    fault_stream *s;
    uint64_t sid;
    char id[40]; /* per-connection UUID sent as ProcessTunnelDataRequest.id */
    bool http;   /* an HTTP session: its bytes belong to the HTTP hooks */
    bool pg;     /* a psql:// mapping's connection */
    tjob t[2];   /* [0] egress, [1] ingress */
    conn *hnext; /* bridge.conns bucket */
};

typedef struct hjob {
    bridge *b;
    fault_http_exchange *x;
    bool response; /* on_response rather than on_request */
    bool in_hook;
    bool finished;
    fault_http_action result;
    unsigned next;
    rpc *call;
    dlink link; /* bridge.hlive or bridge.hpark */
    bool parked;
} hjob;

#define NBUCKETS 1024

struct bridge {
    /* options */
    fault_strv urls;
    uint64_t timeout_us;
    uint64_t health_us;
    int64_t body_limit;
    /* derived */
    remote *rps;
    unsigned nrp;
    bool grpc_up, started, stopping;
    grpc_completion_queue *cq;
    grpc_channel_credentials *insecure, *ssl;
    pthread_t thread;
    bool thread_up;
    pthread_mutex_t mu;
    rpc *done_head, *done_tail; /* under mu */
    uv_async_t async;
    uv_timer_t health;
    unsigned starting;  /* start-up handshakes still running */
    dlink rpcs;         /* calls in flight */
    dlink tpark, hpark; /* work waiting for the start-up handshakes */
    dlink hlive;        /* HTTP hooks waiting for an answer */
    conn *conns[NBUCKETS];
};

#define OFF(f) offsetof(bridge, f)

static const fault_option options[] = {
    {.name = "grpc-plugin",
     .env = "FAULT_GRPC_PLUGINS",
     .type = FAULT_OPT_LIST,
     .metavar = "URL",
     .help = "Remote plugin to call, e.g. http://127.0.0.1:50051 (repeatable; chained in order)",
     .offset = OFF(urls)},
    {.name = "grpc-plugin-timeout",
     .env = "FAULT_GRPC_PLUGIN_TIMEOUT",
     .type = FAULT_OPT_DURATION,
     .def = "1s",
     .metavar = "DURATION",
     .help = "Deadline of each call to a remote plugin; past it the data goes on unchanged",
     .offset = OFF(timeout_us)},
    {.name = "grpc-plugin-health-interval",
     .env = "FAULT_GRPC_PLUGIN_HEALTH_INTERVAL",
     .type = FAULT_OPT_DURATION,
     .def = "10s",
     .metavar = "DURATION",
     .help = "Time between health checks, which disable and re-enable remote plugins",
     .offset = OFF(health_us)},
    {.name = "grpc-plugin-body-limit",
     .env = "FAULT_GRPC_PLUGIN_BODY_LIMIT",
     .type = FAULT_OPT_INT,
     .def = "1048576",
     .metavar = "BYTES",
     .help = "Largest HTTP body given whole to remote plugins (0: none); larger bodies stream "
             "past them and the plugins get an empty body",
     .offset = OFF(body_limit)},
    FAULT_OPTION_END};

static const char *status_name(grpc_status_code st)
{
    static const char *const names[] = {"OK",
                                        "CANCELLED",
                                        "UNKNOWN",
                                        "INVALID_ARGUMENT",
                                        "DEADLINE_EXCEEDED",
                                        "NOT_FOUND",
                                        "ALREADY_EXISTS",
                                        "PERMISSION_DENIED",
                                        "RESOURCE_EXHAUSTED",
                                        "FAILED_PRECONDITION",
                                        "ABORTED",
                                        "OUT_OF_RANGE",
                                        "UNIMPLEMENTED",
                                        "INTERNAL",
                                        "UNAVAILABLE",
                                        "DATA_LOSS",
                                        "UNAUTHENTICATED"};
    if ((unsigned)st < sizeof names / sizeof names[0])
        return names[st];
    return "STATUS?";
}

static char *xstrdup(const char *s)
{
    return strdup(s ? s : "");
}

static const char *rp_name(const remote *rp)
{
    return rp->name && rp->name[0] ? rp->name : rp->url;
}

/* ---- configuration ---- */

/* The remote plugin's gRPC target from its URL (url.c). */
static int parse_url(fault_plugin *self, remote *rp, const char *url)
{
    char err[512];
    int rc = gb_parse_url(url, &rp->target, &rp->tls, err, sizeof err);
    if (rc == FAULT_EINVAL)
        fault_plugin_error(self, "%s", err);
    return rc;
}

static int configure(fault_plugin *self, void *state)
{
    bridge *b = state;
    if (b->urls.n == 0)
        return 0;
    if (b->timeout_us < 1000) {
        fault_plugin_error(self, "--grpc-plugin-timeout must be at least 1ms");
        return FAULT_EINVAL;
    }
    if (b->health_us < 10000) {
        fault_plugin_error(self, "--grpc-plugin-health-interval must be at least 10ms");
        return FAULT_EINVAL;
    }
    if (b->body_limit < 0) {
        fault_plugin_error(self, "--grpc-plugin-body-limit must not be negative");
        return FAULT_EINVAL;
    }
    /* Remote plugins get whole bodies (the protocol has no streaming):
     * HTTP handlers read bodies up to the limit before the hooks run. */
    fault_http_want_body(self, FAULT_HTTP_REQUEST, (size_t)b->body_limit);
    fault_http_want_body(self, FAULT_HTTP_RESPONSE, (size_t)b->body_limit);
    b->rps = calloc(b->urls.n, sizeof *b->rps);
    if (!b->rps)
        return FAULT_ENOMEM;
    for (size_t i = 0; i < b->urls.n; i++) {
        const char *u = b->urls.v[i];
        while (*u == ' ')
            u++;
        if (!*u) {
            fault_plugin_error(self, "--grpc-plugin: empty URL");
            return FAULT_EINVAL;
        }
        remote *rp = &b->rps[b->nrp++];
        rp->b = b;
        rp->idx = b->nrp;
        rp->url = xstrdup(u);
        if (!rp->url)
            return FAULT_ENOMEM;
        snprintf(rp->label, sizeof rp->label, "grpc:%s", rp->url);
        int rc = parse_url(self, rp, rp->url);
        if (rc < 0)
            return rc;
        rp->status = RP_STARTING;
    }
    return 0;
}

/* ---- events and logs ---- */

static void publish_error(bridge *b, uint64_t conn_id, int err, const char *msg)
{
    if (!fault_event_wanted(FAULT_EV_ERROR))
        return;
    fault_event ev = {.type = FAULT_EV_ERROR, .size = sizeof ev};
    ev.conn_id = conn_id;
    ev.error = err;
    ev.message = msg;
    fault_event_publish(fault_plugin_self(b), &ev);
}

static void publish_state(remote *rp, bool enabled)
{
    fault_event ev = {.type = FAULT_EV_FAULT_STATE, .size = sizeof ev};
    ev.fault = rp->label;
    ev.active = enabled;
    fault_event_publish(fault_plugin_self(rp->b), &ev);
}

static void publish_applied(remote *rp, uint64_t conn_id, fault_side side, fault_direction dir,
                            const char *action, const char *key, const char *str, double num)
{
    if (!fault_event_wanted(FAULT_EV_FAULT_APPLIED))
        return;
    fault_param params[3] = {{"plugin", rp->url, 0}, {"action", action, 0}, {key, str, num}};
    fault_event_fault_applied(fault_plugin_self(rp->b), conn_id, side, dir, params, key ? 3 : 2);
}

/* A failed call: the data it was about goes on unchanged. Logged loudly
 * the first time a plugin fails a method with a given status, quietly
 * after that, so a broken plugin does not write a line per chunk. */
static void call_failed(rpc *r, uint64_t conn_id)
{
    remote *rp = r->rp;
    bridge *b = r->b;
    char msg[512];
    snprintf(msg, sizeof msg, "remote plugin %s: %s failed: %s%s%s; data passed unchanged", rp->url,
             methods[r->method].name, status_name(r->status), r->detail[0] ? ": " : "", r->detail);
    fault_log_level lvl =
        rp->last_logged[r->method] == r->status ? FAULT_LOG_DEBUG : FAULT_LOG_WARN;
    rp->last_logged[r->method] = r->status;
    fault_log(fault_plugin_self(b), lvl, "%s", msg);
    int err = r->status == GRPC_STATUS_DEADLINE_EXCEEDED ? -ETIMEDOUT
              : r->status == GRPC_STATUS_UNAVAILABLE     ? -ECONNREFUSED
                                                         : FAULT_EUNKNOWN;
    publish_error(b, conn_id, err, msg);
}

/* ---- calls ---- */

static void rpc_free(rpc *r)
{
    if (r->call)
        grpc_call_unref(r->call);
    grpc_metadata_array_destroy(&r->md_init);
    grpc_metadata_array_destroy(&r->md_trail);
    if (r->out)
        grpc_byte_buffer_destroy(r->out);
    if (r->in)
        grpc_byte_buffer_destroy(r->in);
    grpc_slice_unref(r->details);
    free(r);
}

/* Queues a finished call for the loop (from the queue thread, or from the
 * loop itself when a call could not even start). */
static void handoff(bridge *b, rpc *r)
{
    pthread_mutex_lock(&b->mu);
    r->done_next = NULL;
    if (b->done_tail)
        b->done_tail->done_next = r;
    else
        b->done_head = r;
    b->done_tail = r;
    pthread_mutex_unlock(&b->mu);
    uv_async_send(&b->async);
}

static void *queue_thread(void *arg)
{
    bridge *b = arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(b->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        rpc *r = ev.tag;
        r->ok = ev.success != 0;
        handoff(b, r);
    }
    return NULL;
}

/* On the loop thread: decode and deliver one finished call. */
static void rpc_finish(rpc *r)
{
    dl_del(&r->live);
    ProtobufCMessage *msg = NULL;
    if (!r->ok && r->status == GRPC_STATUS_OK)
        r->status = GRPC_STATUS_UNKNOWN;
    if (r->status != GRPC_STATUS_OK && !r->detail[0] && GRPC_SLICE_LENGTH(r->details)) {
        size_t n = GRPC_SLICE_LENGTH(r->details);
        if (n >= sizeof r->detail)
            n = sizeof r->detail - 1;
        memcpy(r->detail, GRPC_SLICE_START_PTR(r->details), n);
        r->detail[n] = '\0';
    }
    if (r->status == GRPC_STATUS_OK) {
        if (!r->in) {
            r->status = GRPC_STATUS_INTERNAL;
            snprintf(r->detail, sizeof r->detail, "no response message");
        } else {
            grpc_byte_buffer_reader rd;
            if (grpc_byte_buffer_reader_init(&rd, r->in)) {
                grpc_slice all = grpc_byte_buffer_reader_readall(&rd);
                grpc_byte_buffer_reader_destroy(&rd);
                msg = protobuf_c_message_unpack(methods[r->method].resp, NULL,
                                                GRPC_SLICE_LENGTH(all), GRPC_SLICE_START_PTR(all));
                grpc_slice_unref(all);
            }
            if (!msg) {
                r->status = GRPC_STATUS_INTERNAL;
                snprintf(r->detail, sizeof r->detail, "undecodable response");
            }
        }
    }
    if (r->cb)
        r->cb(r, msg);
    if (msg)
        protobuf_c_message_free_unpacked(msg, NULL);
    rpc_free(r);
}

static void on_async(uv_async_t *a)
{
    bridge *b = a->data;
    pthread_mutex_lock(&b->mu);
    rpc *list = b->done_head;
    b->done_head = b->done_tail = NULL;
    pthread_mutex_unlock(&b->mu);
    while (list) {
        rpc *r = list;
        list = r->done_next;
        rpc_finish(r);
    }
}

static grpc_channel *channel_new(bridge *b, remote *rp)
{
    /* No HTTP_PROXY from the environment: plugins are local services and
     * a proxy meant for user traffic must never carry our calls.
     * Reconnection: retry soon (100 ms, at most 1 s apart) so that a plugin
     * that comes back is reachable at the next health check, but give each
     * attempt as long as a call (gRPC takes the minimum backoff as the
     * connect timeout; too short, a busy machine never connects). */
    int connect_ms = (int)(b->timeout_us / 1000);
    if (connect_ms < 1000)
        connect_ms = 1000;
    grpc_arg args[5];
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = (char *)GRPC_ARG_ENABLE_HTTP_PROXY;
    args[0].value.integer = 0;
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = (char *)GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS;
    args[1].value.integer = 100;
    args[2].type = GRPC_ARG_INTEGER;
    args[2].key = (char *)GRPC_ARG_MIN_RECONNECT_BACKOFF_MS;
    args[2].value.integer = connect_ms;
    args[3].type = GRPC_ARG_INTEGER;
    args[3].key = (char *)GRPC_ARG_MAX_RECONNECT_BACKOFF_MS;
    args[3].value.integer = 1000;
    args[4].type = GRPC_ARG_INTEGER;
    args[4].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[4].value.integer = 64 * 1024 * 1024;
    grpc_channel_args ca = {.num_args = 5, .args = args};
    return grpc_channel_create(rp->target, rp->tls ? b->ssl : b->insecure, &ca);
}

/* Starts a unary call. The answer always comes back asynchronously through
 * cb, even when the call cannot start (it then fails with INTERNAL). */
static rpc *rpc_start(remote *rp, int method, const ProtobufCMessage *req, rpc_done_cb cb, void *ud)
{
    bridge *b = rp->b;
    rpc *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->b = b;
    r->rp = rp;
    r->method = method;
    r->cb = cb;
    r->ud = ud;
    r->details = grpc_empty_slice();
    grpc_metadata_array_init(&r->md_init);
    grpc_metadata_array_init(&r->md_trail);
    dl_add(&b->rpcs, &r->live);

    /* The request is packed once into a slice the byte buffer takes over:
     * no copy of a tunnel chunk beyond this one. */
    size_t len = protobuf_c_message_get_packed_size(req);
    grpc_slice sl = grpc_empty_slice();
    if (len) {
        uint8_t *buf = malloc(len);
        if (!buf)
            goto fail;
        protobuf_c_message_pack(req, buf);
        sl = grpc_slice_new(buf, len, free);
    }
    r->out = grpc_raw_byte_buffer_create(&sl, 1);
    grpc_slice_unref(sl);

    gpr_timespec deadline = gpr_time_add(
        gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_micros((int64_t)b->timeout_us, GPR_TIMESPAN));
    r->call = grpc_channel_create_call(rp->ch, NULL, GRPC_PROPAGATE_DEFAULTS, b->cq,
                                       grpc_slice_from_static_string(methods[method].path), NULL,
                                       deadline, NULL);
    if (!r->call)
        goto fail;
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = r->out;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &r->md_init;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &r->in;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &r->md_trail;
    ops[5].data.recv_status_on_client.status = &r->status;
    ops[5].data.recv_status_on_client.status_details = &r->details;
    grpc_call_error ce = grpc_call_start_batch(r->call, ops, 6, r, NULL);
    if (ce != GRPC_CALL_OK) {
        snprintf(r->detail, sizeof r->detail, "grpc_call_start_batch: error %d", (int)ce);
        goto fail_started;
    }
    return r;
fail:
    snprintf(r->detail, sizeof r->detail, "could not create the call");
fail_started:
    r->ok = false;
    r->status = GRPC_STATUS_INTERNAL;
    handoff(b, r);
    return r;
}

/* Whoever waited for r is gone: the answer, when it comes, is dropped. */
static void rpc_abandon(rpc *r)
{
    if (!r)
        return;
    r->cb = NULL;
    r->ud = NULL;
    if (r->call)
        grpc_call_cancel(r->call, NULL);
}

/* ---- remote plugin state ---- */

static void release_parked(bridge *b);

static void set_status(remote *rp, rp_status st, const char *why)
{
    rp_status old = rp->status;
    rp->status = st;
    if (st == RP_ENABLED) {
        rp->strikes = 0;
        memset(rp->last_logged, 0, sizeof rp->last_logged);
        char what[64] = "";
        snprintf(what, sizeof what, "%s%s%s", rp->http ? " http" : "", rp->tunnel ? " tunnel" : "",
                 rp->pg ? " postgresql" : "");
        fault_log_info(fault_plugin_self(rp->b),
                       "remote plugin %u %s: %s %s (author '%s', platform '%s'): %s for%s", rp->idx,
                       rp->url, rp_name(rp), rp->version ? rp->version : "",
                       rp->author ? rp->author : "", rp->platform ? rp->platform : "",
                       old == RP_DISABLED ? "enabled again" : "enabled",
                       what[0] ? what : " nothing (no capability)");
        publish_state(rp, true);
    } else if (st == RP_DISABLED) {
        fault_log_warn(fault_plugin_self(rp->b), "remote plugin %u %s: disabled (%s); traffic goes on untouched",
                       rp->idx, rp->url, why);
        rp->fresh_channel_wanted = true;
        if (old != RP_DISABLED)
            publish_state(rp, false);
    }
    if (rp->initial) {
        rp->initial = false;
        if (--rp->b->starting == 0)
            release_parked(rp->b);
    }
}

/* A traffic call failed: a plugin whose connection is gone, or that keeps
 * missing its deadline, is taken out until a health check brings it back. */
static void traffic_failure(remote *rp, grpc_status_code st)
{
    if (rp->status != RP_ENABLED)
        return;
    if (st == GRPC_STATUS_UNAVAILABLE) {
        set_status(rp, RP_DISABLED, "unreachable");
    } else if (st == GRPC_STATUS_DEADLINE_EXCEEDED) {
        if (++rp->strikes >= DEADLINE_STRIKES)
            set_status(rp, RP_DISABLED,
                       "missed its deadline " FAULT_STR(DEADLINE_STRIKES) " times in a row");
    }
}

static void traffic_success(remote *rp)
{
    rp->strikes = 0;
}

static void handshake_caps_done(rpc *r, ProtobufCMessage *m)
{
    remote *rp = r->rp;
    rp->checking = false;
    if (r->b->stopping)
        return;
    if (!m) {
        char why[400];
        snprintf(why, sizeof why, "GetPluginCapabilities: %s%s%s", status_name(r->status),
                 r->detail[0] ? ": " : "", r->detail);
        publish_error(r->b, 0, FAULT_EUNKNOWN, why);
        set_status(rp, RP_DISABLED, why);
        return;
    }
    Plugin__GetPluginCapabilitiesResponse *c = (Plugin__GetPluginCapabilitiesResponse *)m;
    rp->caps_known = true;
    rp->http = c->can_handle_http_forward;
    rp->tunnel = c->can_handle_tunnel;
    rp->pg = false;
    for (size_t i = 0; i < c->n_protocols; i++)
        if (c->protocols[i] ==
            PLUGIN__GET_PLUGIN_CAPABILITIES_RESPONSE__SUPPORTED_PROTOCOL__POSTGRESQL)
            rp->pg = true;
    set_status(rp, RP_ENABLED, NULL);
}

static void replace_str(char **dst, const char *src)
{
    free(*dst);
    *dst = xstrdup(src);
}

static void handshake_info_done(rpc *r, ProtobufCMessage *m)
{
    remote *rp = r->rp;
    if (r->b->stopping) {
        rp->checking = false;
        return;
    }
    if (!m) {
        rp->checking = false;
        char why[400];
        snprintf(why, sizeof why, "GetPluginInfo: %s%s%s", status_name(r->status),
                 r->detail[0] ? ": " : "", r->detail);
        publish_error(r->b, 0, FAULT_EUNKNOWN, why);
        set_status(rp, RP_DISABLED, why);
        return;
    }
    Plugin__GetPluginInfoResponse *i = (Plugin__GetPluginInfoResponse *)m;
    replace_str(&rp->name, i->name);
    replace_str(&rp->version, i->version);
    replace_str(&rp->author, i->author);
    replace_str(&rp->home, i->url);
    replace_str(&rp->platform, i->platform);
    rp->info_side = i->side;
    rp->info_dir = i->direction;
    Plugin__GetPluginCapabilitiesRequest req = PLUGIN__GET_PLUGIN_CAPABILITIES_REQUEST__INIT;
    if (!rpc_start(rp, M_CAPS, &req.base, handshake_caps_done, NULL)) {
        rp->checking = false;
        set_status(rp, RP_DISABLED, "out of memory");
    }
}

/* GetPluginInfo then GetPluginCapabilities; ENABLED when both answered. */
static void handshake(remote *rp)
{
    rp->checking = true;
    Plugin__GetPluginInfoRequest req = PLUGIN__GET_PLUGIN_INFO_REQUEST__INIT;
    if (!rpc_start(rp, M_INFO, &req.base, handshake_info_done, NULL)) {
        rp->checking = false;
        set_status(rp, RP_DISABLED, "out of memory");
    }
}

static void health_done(rpc *r, ProtobufCMessage *m)
{
    remote *rp = r->rp;
    if (r->b->stopping) {
        rp->checking = false;
        return;
    }
    Plugin__HealthCheckResponse *h = (Plugin__HealthCheckResponse *)m;
    if (h && h->healthy) {
        if (rp->status == RP_ENABLED) {
            rp->checking = false;
            return;
        }
        /* It came back: who it is and what it wants may have changed. */
        fault_log_info(fault_plugin_self(rp->b), "remote plugin %u %s: healthy again", rp->idx, rp->url);
        handshake(rp);
        return;
    }
    rp->checking = false;
    char why[400];
    if (h)
        snprintf(why, sizeof why, "HealthCheck: unhealthy%s%s", h->message[0] ? ": " : "",
                 h->message);
    else
        snprintf(why, sizeof why, "HealthCheck: %s%s%s", status_name(r->status),
                 r->detail[0] ? ": " : "", r->detail);
    if (rp->status == RP_ENABLED) {
        publish_error(r->b, 0, h ? FAULT_EUNKNOWN : -ECONNREFUSED, why);
        set_status(rp, RP_DISABLED, why);
    } else {
        fault_log_debug(fault_plugin_self(rp->b), "remote plugin %u %s: still disabled (%s)", rp->idx, rp->url,
                        why);
        rp->fresh_channel_wanted = true;
    }
}

static void on_health_timer(uv_timer_t *t)
{
    bridge *b = t->data;
    if (b->stopping)
        return;
    for (unsigned i = 0; i < b->nrp; i++) {
        remote *rp = &b->rps[i];
        if (rp->checking || rp->status == RP_STARTING)
            continue;
        if (rp->fresh_channel_wanted) {
            /* A new channel connects at once, whatever backoff the old one
             * was in after the plugin went away. */
            grpc_channel *ch = channel_new(b, rp);
            if (ch) {
                grpc_channel_destroy(rp->ch);
                rp->ch = ch;
                rp->fresh_channel_wanted = false;
            }
        }
        rp->checking = true;
        Plugin__HealthCheckRequest req = PLUGIN__HEALTH_CHECK_REQUEST__INIT;
        if (!rpc_start(rp, M_HEALTH, &req.base, health_done, NULL))
            rp->checking = false;
    }
}

/* ---- connections ---- */

static size_t bucket_of(const fault_stream *s)
{
    uintptr_t v = (uintptr_t)s;
    v ^= v >> 17;
    v *= 0x9E3779B97F4A7C15ull;
    return (size_t)(v >> 40) % NBUCKETS;
}

static conn *conn_find(bridge *b, const fault_stream *s)
{
    if (!s)
        return NULL;
    for (conn *c = b->conns[bucket_of(s)]; c; c = c->hnext)
        if (c->s == s)
            return c;
    return NULL;
}

static void make_uuid(fault_rng *rng, char *out, size_t len)
{
    uint64_t hi = fault_rng_u64(rng), lo = fault_rng_u64(rng);
    hi = (hi & ~(uint64_t)0xf000) | 0x4000;                    /* version 4 */
    lo = (lo & 0x3fffffffffffffffull) | 0x8000000000000000ull; /* RFC 4122 variant */
    snprintf(out, len, "%08" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%012" PRIx64,
             hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff, lo >> 48, lo & (uint64_t)0xffffffffffff);
}

/* Whether some plugin may ever want this connection's bytes: a run whose
 * plugins are all known to handle HTTP only keeps the plain relay. */
static bool tunnel_possible(const bridge *b)
{
    for (unsigned i = 0; i < b->nrp; i++) {
        const remote *rp = &b->rps[i];
        if (!rp->caps_known || rp->tunnel || rp->pg)
            return true;
    }
    return false;
}

static int attach(void *state, fault_stream *s, void **cs_out, uint32_t *points)
{
    bridge *b = state;
    *points = 0;
    if (b->nrp == 0 || !b->started || b->stopping || !tunnel_possible(b))
        return 0;
    conn *c = calloc(1, sizeof *c);
    if (!c)
        return FAULT_ENOMEM;
    c->b = b;
    c->s = s;
    c->sid = fault_stream_id(s);
    c->pg = strcmp(fault_stream_scheme(s), "psql") == 0;
    make_uuid(fault_plugin_rng(fault_plugin_self(b)), c->id, sizeof c->id);
    for (int d = 0; d < 2; d++) {
        c->t[d].c = c;
        c->t[d].dir = d == 0 ? FAULT_DIR_EGRESS : FAULT_DIR_INGRESS;
    }
    size_t k = bucket_of(s);
    c->hnext = b->conns[k];
    b->conns[k] = c;
    /* The server leg: in an HTTP session its chains only carry bytes after
     * the request hooks ran, so the session is known to be HTTP (and its
     * bytes left to the HTTP hooks) before any of them reaches us. */
    *points = FAULT_POINT_SERVER_EGRESS | FAULT_POINT_SERVER_INGRESS;
    *cs_out = c;
    return 0;
}

static void tjob_reset(tjob *j)
{
    rpc_abandon(j->call);
    j->call = NULL;
    dl_del(&j->park);
    free(j->buf);
    j->buf = NULL;
    j->len = 0;
    j->busy = j->ready = j->changed = j->close = false;
    j->reason[0] = '\0';
    j->closer = NULL;
    j->release_us = 0;
    j->next = 0;
    j->cp = NULL;
}

static void detach(void *state, void *cs, fault_stream *s)
{
    bridge *b = state;
    conn *c = cs;
    if (!c)
        return;
    for (conn **pp = &b->conns[bucket_of(s)]; *pp; pp = &(*pp)->hnext) {
        if (*pp == c) {
            *pp = c->hnext;
            break;
        }
    }
    tjob_reset(&c->t[0]);
    tjob_reset(&c->t[1]);
    free(c);
}

static bool wants(const remote *rp, const conn *c)
{
    return rp->status == RP_ENABLED && (rp->tunnel || (rp->pg && c->pg));
}

static void tjob_step(tjob *j);

static void tunnel_done(rpc *r, ProtobufCMessage *m)
{
    tjob *j = r->ud;
    remote *rp = r->rp;
    conn *c = j->c;
    j->call = NULL;
    j->next = rp->idx; /* rp->idx is 1-based: the next plugin */
    fault_side side = FAULT_SIDE_SERVER;
    if (!m) {
        call_failed(r, c->sid);
        traffic_failure(rp, r->status);
        tjob_step(j);
        return;
    }
    traffic_success(rp);
    Plugin__ProcessTunnelDataResponse *t = (Plugin__ProcessTunnelDataResponse *)m;
    const ProtobufCBinaryData *nd = NULL;
    switch (t->action_case) {
    case PLUGIN__PROCESS_TUNNEL_DATA_RESPONSE__ACTION_PASS_THROUGH:
        /* An empty chunk means "as it was": plugins that just answer
         * PassThrough() must not erase the data. */
        if (t->pass_through->chunk.len)
            nd = &t->pass_through->chunk;
        break;
    case PLUGIN__PROCESS_TUNNEL_DATA_RESPONSE__ACTION_REPLACE:
        nd = &t->replace->modified_chunk;
        break;
    case PLUGIN__PROCESS_TUNNEL_DATA_RESPONSE__ACTION_BUFFER: {
        /* Held for the time the plugin estimates, then released (the
         * original held it forever). Delays of chained plugins add up. */
        int32_t ms = t->buffer->estimated_time_to_release_ms;
        if (ms < 0)
            ms = 0;
        uint64_t now = fault_now_us();
        if (j->release_us < now)
            j->release_us = now;
        j->release_us += (uint64_t)ms * 1000u;
        fault_log_debug(fault_plugin_self(r->b), "#%" PRIu64 " %s: %s buffers %zu bytes for %d ms", c->sid,
                        fault_direction_name(j->dir), rp_name(rp), j->len, (int)ms);
        publish_applied(rp, c->sid, side, j->dir, "buffer", "delay_ms", NULL, (double)ms);
        break;
    }
    case PLUGIN__PROCESS_TUNNEL_DATA_RESPONSE__ACTION_CLOSE:
        j->close = true;
        j->closer = rp;
        snprintf(j->reason, sizeof j->reason, "%s", t->close->reason ? t->close->reason : "");
        publish_applied(rp, c->sid, side, j->dir, "close", "reason", j->reason, 0);
        break;
    default:
        break; /* no action: as a pass-through */
    }
    if (nd && (nd->len != j->len || (nd->len && memcmp(nd->data, j->buf, nd->len) != 0))) {
        uint8_t *nb = malloc(nd->len ? nd->len : 1);
        if (nb) {
            if (nd->len)
                memcpy(nb, nd->data, nd->len);
            fault_log_debug(fault_plugin_self(r->b), "#%" PRIu64 " %s: %s replaced %zu bytes with %zu", c->sid,
                            fault_direction_name(j->dir), rp_name(rp), j->len, nd->len);
            free(j->buf);
            j->buf = nb;
            j->len = nd->len;
            j->changed = true;
            publish_applied(rp, c->sid, side, j->dir, "replace", "bytes", NULL, (double)j->len);
        }
    }
    tjob_step(j);
}

/* Asks the next plugin that wants this connection, or finishes. */
static void tjob_step(tjob *j)
{
    conn *c = j->c;
    bridge *b = c->b;
    while (!j->close && !b->stopping && j->next < b->nrp) {
        remote *rp = &b->rps[j->next];
        if (!wants(rp, c)) {
            j->next++;
            continue;
        }
        Plugin__ProcessTunnelDataRequest req = PLUGIN__PROCESS_TUNNEL_DATA_REQUEST__INIT;
        req.id = c->id;
        req.side = PLUGIN__PROCESS_TUNNEL_DATA_REQUEST__SIDE__SERVER;
        req.direction = j->dir == FAULT_DIR_EGRESS
                            ? PLUGIN__PROCESS_TUNNEL_DATA_REQUEST__DIRECTION__EGRESS
                            : PLUGIN__PROCESS_TUNNEL_DATA_REQUEST__DIRECTION__INGRESS;
        req.chunk.data = j->buf;
        req.chunk.len = j->len;
        j->call = rpc_start(rp, M_TUNNEL, &req.base, tunnel_done, j);
        if (j->call)
            return;
        j->next++;
    }
    j->busy = false;
    j->ready = true;
    if (!j->in_hook)
        fault_stream_wake(c->s);
}

static fault_action tjob_apply(tjob *j, fault_stream *s, fault_chunk *ch, fault_verdict *v)
{
    bridge *b = j->c->b;
    fault_action a = FAULT_PASS;
    if (j->close) {
        fault_log_info(fault_plugin_self(b), "#%" PRIu64 " closed by remote plugin %s: %s", j->c->sid,
                       j->closer ? rp_name(j->closer) : "?",
                       j->reason[0] ? j->reason : "(no reason given)");
        a = FAULT_CLOSE;
    } else {
        if (j->changed && fault_chunk_replace(s, ch, j->buf, j->len) < 0)
            fault_log_warn(fault_plugin_self(b), "#%" PRIu64 " out of memory: chunk passed unchanged",
                           j->c->sid);
        v->until_us = j->release_us;
    }
    tjob_reset(j);
    return a;
}

static fault_action on_data(void *state, void *cs, fault_stream *s, fault_side side,
                            fault_direction dir, fault_chunk *ch, fault_verdict *v)
{
    (void)side;
    bridge *b = state;
    conn *c = cs;
    if (!c || c->http || b->stopping)
        return FAULT_PASS;
    tjob *j = &c->t[dir == FAULT_DIR_EGRESS ? 0 : 1];
    bool same = j->cp == ch && j->off == ch->offset && j->olen == ch->len;
    if (j->ready && same)
        return tjob_apply(j, s, ch, v);
    if ((j->busy || dl_linked(&j->park)) && same)
        return FAULT_HOLD; /* woken for someone else's chunk */
    if (j->busy || j->ready || dl_linked(&j->park))
        tjob_reset(j); /* a decision for a chunk that is gone */
    j->cp = ch;
    j->off = ch->offset;
    j->olen = ch->len;
    if (b->starting) {
        dl_add(&b->tpark, &j->park);
        return FAULT_HOLD;
    }
    bool any = false;
    for (unsigned i = 0; i < b->nrp && !any; i++)
        any = wants(&b->rps[i], c);
    if (!any) {
        j->cp = NULL;
        return FAULT_PASS;
    }
    j->buf = malloc(ch->len);
    if (!j->buf) {
        j->cp = NULL;
        return FAULT_PASS;
    }
    memcpy(j->buf, ch->data, ch->len);
    j->len = ch->len;
    j->busy = true;
    j->next = 0;
    j->in_hook = true;
    tjob_step(j);
    j->in_hook = false;
    if (j->ready)
        return tjob_apply(j, s, ch, v);
    return FAULT_HOLD;
}

/* ---- HTTP ---- */

typedef struct hdrs_out {
    Plugin__HttpHeader *h;
    Plugin__HttpHeader **p;
    size_t n;
} hdrs_out;

static int hdrs_fill(hdrs_out *o, fault_http_exchange *x, fault_http_msg m)
{
    size_t n = fault_http_header_count(x, m);
    o->n = 0;
    o->h = calloc(n ? n : 1, sizeof *o->h);
    o->p = calloc(n ? n : 1, sizeof *o->p);
    if (!o->h || !o->p) {
        free(o->h);
        free(o->p);
        return FAULT_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const char *name, *value;
        if (fault_http_header_at(x, m, i, &name, &value) < 0)
            break;
        Plugin__HttpHeader init = PLUGIN__HTTP_HEADER__INIT;
        o->h[o->n] = init;
        o->h[o->n].name = (char *)name;
        o->h[o->n].value = (char *)value;
        o->p[o->n] = &o->h[o->n];
        o->n++;
    }
    return 0;
}

static void hdrs_free(hdrs_out *o)
{
    free(o->h);
    free(o->p);
}

static bool headers_same(fault_http_exchange *x, fault_http_msg m, Plugin__HttpHeader **h, size_t n)
{
    if (fault_http_header_count(x, m) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        const char *name, *value;
        if (fault_http_header_at(x, m, i, &name, &value) < 0 || !h[i]->name || !h[i]->value ||
            strcmp(name, h[i]->name) != 0 || strcmp(value, h[i]->value) != 0)
            return false;
    }
    return true;
}

/* Makes the exchange's headers those the plugin sent back: names it left
 * out are removed, the others take its values (repeated names kept). */
static bool apply_headers(fault_http_exchange *x, fault_http_msg m, Plugin__HttpHeader **h,
                          size_t n)
{
    if (headers_same(x, m, h, n))
        return false;
    for (bool again = true; again;) {
        again = false;
        size_t cnt = fault_http_header_count(x, m);
        for (size_t i = 0; i < cnt; i++) {
            const char *name, *value;
            if (fault_http_header_at(x, m, i, &name, &value) < 0)
                break;
            bool keep = false;
            for (size_t k = 0; k < n && !keep; k++)
                keep = h[k]->name && strcasecmp(h[k]->name, name) == 0;
            if (!keep) {
                /* The name is freed by the removal: work on a copy. */
                char *copy = strdup(name);
                if (!copy)
                    return true;
                fault_http_set_header(x, m, copy, NULL);
                free(copy);
                again = true;
                break;
            }
        }
    }
    for (size_t k = 0; k < n; k++) {
        if (!h[k]->name || !h[k]->name[0])
            continue;
        bool first = true;
        for (size_t e = 0; e < k && first; e++)
            first = !(h[e]->name && strcasecmp(h[e]->name, h[k]->name) == 0);
        const char *value = h[k]->value ? h[k]->value : "";
        if (first)
            fault_http_set_header(x, m, h[k]->name, value);
        else
            fault_http_add_header(x, m, h[k]->name, value);
    }
    return true;
}

/* Answers the client with a plugin's HttpResponse. */
static int respond_with(fault_http_exchange *x, const Plugin__HttpResponse *resp, int fallback)
{
    int status = resp ? (int)resp->status_code : 0;
    if (status < 100 || status > 999)
        status = fallback;
    size_t n = resp ? resp->n_headers : 0;
    const char **hv = calloc(2 * n + 1, sizeof *hv);
    if (!hv)
        return FAULT_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const Plugin__HttpHeader *h = resp->headers[i];
        if (!h->name || !h->name[0])
            continue;
        hv[k++] = h->name;
        hv[k++] = h->value ? h->value : "";
    }
    hv[k] = NULL;
    int rc =
        fault_http_respond(x, status, hv, resp ? resp->body.data : NULL, resp ? resp->body.len : 0);
    free(hv);
    return rc;
}

static uint64_t x_conn_id(fault_http_exchange *x)
{
    fault_stream *s = fault_http_stream(x);
    return s ? fault_stream_id(s) : 0;
}

static void hjob_step(hjob *h);

static void hjob_finish(hjob *h, fault_http_action result)
{
    h->finished = true;
    h->result = result;
    if (h->in_hook)
        return; /* the hook returns the result itself */
    fault_http_exchange *x = h->x;
    dl_del(&h->link);
    free(h);
    /* Resuming may end the exchange (on_end): h is gone by then. */
    fault_http_resume(x, result);
}

/* What every HTTP call's completion starts with: the job moves past this
 * plugin; a failed call is logged and counted, and the next plugin asked.
 * False when the call failed (the job went on already). */
static bool hjob_answered(rpc *r, ProtobufCMessage *m)
{
    hjob *h = r->ud;
    h->call = NULL;
    h->next = r->rp->idx;
    if (!m) {
        call_failed(r, x_conn_id(h->x));
        traffic_failure(r->rp, r->status);
        hjob_step(h);
        return false;
    }
    traffic_success(r->rp);
    return true;
}

static void http_req_done(rpc *r, ProtobufCMessage *m)
{
    if (!hjob_answered(r, m))
        return;
    hjob *h = r->ud;
    remote *rp = r->rp;
    fault_http_exchange *x = h->x;
    Plugin__ProcessHttpRequestResponse *a = (Plugin__ProcessHttpRequestResponse *)m;
    if (a->action == PLUGIN__PROCESS_HTTP_REQUEST_RESPONSE__ACTION__ABORT) {
        int rc = respond_with(x, a->abort_response, 500);
        if (rc == 0) {
            fault_log_debug(fault_plugin_self(r->b), "%s %s: aborted by %s with %d", fault_http_method(x),
                            fault_http_url(x), rp_name(rp), fault_http_status(x));
            publish_applied(rp, x_conn_id(x), FAULT_SIDE_ANY, FAULT_DIR_EGRESS, "abort", "status",
                            NULL, (double)fault_http_status(x));
            hjob_finish(h, FAULT_HTTP_RESPOND);
            return;
        }
        hjob_step(h);
        return;
    }
    Plugin__HttpRequest *mr = a->modified_request;
    if (mr) {
        bool changed = false;
        /* Empty fields are a plugin that filled in only part of the
         * request: they leave that part as it was. */
        if (mr->method && mr->method[0] && strcmp(mr->method, fault_http_method(x)) != 0) {
            if (fault_http_set_method(x, mr->method) == 0)
                changed = true;
            else if (!rp->method_warned) {
                rp->method_warned = true;
                fault_log_warn(fault_plugin_self(r->b), "remote plugin %s gave an invalid method '%s': ignored",
                               rp_name(rp), mr->method);
            }
        }
        if (mr->path && mr->path[0] && strcmp(mr->path, fault_http_path(x)) != 0) {
            if (fault_http_set_path(x, mr->path) == 0)
                changed = true;
            else if (!rp->path_warned) {
                rp->path_warned = true;
                fault_log_warn(fault_plugin_self(r->b),
                               "remote plugin %s gave an invalid path '%s' (it must start with "
                               "'/' and hold no spaces): ignored",
                               rp_name(rp), mr->path);
            }
        }
        size_t blen;
        const uint8_t *body = fault_http_body(x, FAULT_HTTP_REQUEST, &blen);
        if (mr->body.len && (!body || blen != mr->body.len ||
                             memcmp(body, mr->body.data, blen) != 0)) {
            if (fault_http_set_body(x, FAULT_HTTP_REQUEST, mr->body.data, mr->body.len) == 0)
                changed = true;
            else
                fault_log_debug(fault_plugin_self(r->b),
                                "%s %s: remote plugin %s set a body, but the request's body "
                                "streams (larger than --grpc-plugin-body-limit): ignored",
                                fault_http_method(x), fault_http_url(x), rp_name(rp));
        }
        /* No headers at all is a plugin that filled in only part of the
         * request, not one that wants a request without a Host. */
        if (mr->n_headers && apply_headers(x, FAULT_HTTP_REQUEST, mr->headers, mr->n_headers))
            changed = true;
        if (changed)
            publish_applied(rp, x_conn_id(x), FAULT_SIDE_ANY, FAULT_DIR_EGRESS, "modify", NULL,
                            NULL, 0);
    }
    hjob_step(h);
}

static void http_resp_done(rpc *r, ProtobufCMessage *m)
{
    if (!hjob_answered(r, m))
        return;
    hjob *h = r->ud;
    remote *rp = r->rp;
    fault_http_exchange *x = h->x;
    Plugin__ProcessHttpResponseResponse *a = (Plugin__ProcessHttpResponseResponse *)m;
    if (a->action == PLUGIN__PROCESS_HTTP_RESPONSE_RESPONSE__ACTION__ABORT) {
        /* The original ignored ABORT on responses; a plugin asking for it
         * means it: its answer replaces the upstream's. */
        if (respond_with(x, a->abort_response, 500) == 0) {
            publish_applied(rp, x_conn_id(x), FAULT_SIDE_ANY, FAULT_DIR_INGRESS, "abort", "status",
                            NULL, (double)fault_http_status(x));
            hjob_finish(h, FAULT_HTTP_RESPOND);
            return;
        }
        hjob_step(h);
        return;
    }
    Plugin__HttpResponse *mr = a->modified_response;
    if (mr) {
        bool changed = false;
        size_t blen;
        const uint8_t *body = fault_http_body(x, FAULT_HTTP_RESPONSE, &blen);
        if (body && mr->body.len &&
            (blen != mr->body.len || memcmp(body, mr->body.data, blen) != 0)) {
            /* The body was held for us: it is replaced in place. */
            if (fault_http_set_body(x, FAULT_HTTP_RESPONSE, mr->body.data, mr->body.len) == 0)
                changed = true;
        } else if (!body && mr->body.len) {
            /* The body streams (larger than --grpc-plugin-body-limit), so
             * a plugin that writes one answers in place of the upstream:
             * its status and headers (ours when it sent none) with its
             * body. */
            Plugin__HttpResponse full = *mr;
            hdrs_out cur = {0};
            if (mr->n_headers == 0 && hdrs_fill(&cur, x, FAULT_HTTP_RESPONSE) == 0) {
                full.headers = cur.p;
                full.n_headers = cur.n;
            }
            int rc = respond_with(x, &full, fault_http_status(x));
            hdrs_free(&cur);
            if (rc == 0) {
                publish_applied(rp, x_conn_id(x), FAULT_SIDE_ANY, FAULT_DIR_INGRESS, "replace",
                                "status", NULL, (double)fault_http_status(x));
                hjob_finish(h, FAULT_HTTP_RESPOND);
                return;
            }
        }
        int st = (int)mr->status_code;
        if (st != 0 && st != fault_http_status(x) && fault_http_set_status(x, st) == 0)
            changed = true;
        if (mr->n_headers && apply_headers(x, FAULT_HTTP_RESPONSE, mr->headers, mr->n_headers))
            changed = true;
        if (changed)
            publish_applied(rp, x_conn_id(x), FAULT_SIDE_ANY, FAULT_DIR_INGRESS, "modify", "status",
                            NULL, (double)fault_http_status(x));
    }
    hjob_step(h);
}

static void hjob_step(hjob *h)
{
    bridge *b = h->b;
    fault_http_exchange *x = h->x;
    while (!b->stopping && h->next < b->nrp) {
        remote *rp = &b->rps[h->next];
        if (rp->status != RP_ENABLED || !rp->http) {
            h->next++;
            continue;
        }
        hdrs_out ho;
        if (hdrs_fill(&ho, x, h->response ? FAULT_HTTP_RESPONSE : FAULT_HTTP_REQUEST) < 0)
            break;
        if (h->response) {
            Plugin__HttpResponse resp = PLUGIN__HTTP_RESPONSE__INIT;
            resp.status_code = (uint32_t)fault_http_status(x);
            resp.headers = ho.p;
            resp.n_headers = ho.n;
            const uint8_t *body = fault_http_body(x, FAULT_HTTP_RESPONSE, &resp.body.len);
            resp.body.data = (uint8_t *)body;
            Plugin__ProcessHttpResponseRequest req = PLUGIN__PROCESS_HTTP_RESPONSE_REQUEST__INIT;
            req.response = &resp;
            h->call = rpc_start(rp, M_HTTP_RESP, &req.base, http_resp_done, h);
        } else {
            /* The body as held for the hooks; empty when it streams
             * (larger than --grpc-plugin-body-limit). */
            Plugin__HttpRequest rq = PLUGIN__HTTP_REQUEST__INIT;
            rq.method = (char *)fault_http_method(x);
            rq.path = (char *)fault_http_path(x);
            rq.headers = ho.p;
            rq.n_headers = ho.n;
            const uint8_t *body = fault_http_body(x, FAULT_HTTP_REQUEST, &rq.body.len);
            rq.body.data = (uint8_t *)body;
            Plugin__ProcessHttpRequestRequest req = PLUGIN__PROCESS_HTTP_REQUEST_REQUEST__INIT;
            req.request = &rq;
            h->call = rpc_start(rp, M_HTTP_REQ, &req.base, http_req_done, h);
        }
        hdrs_free(&ho);
        if (h->call)
            return;
        h->next++;
    }
    hjob_finish(h, FAULT_HTTP_CONTINUE);
}

static fault_http_action http_hook(bridge *b, fault_http_exchange *x, bool response)
{
    if (b->nrp == 0 || !b->started || b->stopping)
        return FAULT_HTTP_CONTINUE;
    conn *c = conn_find(b, fault_http_stream(x));
    if (c)
        c->http = true;
    bool any = b->starting > 0;
    for (unsigned i = 0; i < b->nrp && !any; i++)
        any = b->rps[i].status == RP_ENABLED && b->rps[i].http;
    if (!any)
        return FAULT_HTTP_CONTINUE;
    hjob *h = calloc(1, sizeof *h);
    if (!h)
        return FAULT_HTTP_CONTINUE;
    h->b = b;
    h->x = x;
    h->response = response;
    if (b->starting) {
        h->parked = true;
        dl_add(&b->hpark, &h->link);
        return FAULT_HTTP_PENDING;
    }
    dl_add(&b->hlive, &h->link);
    h->in_hook = true;
    hjob_step(h);
    h->in_hook = false;
    if (h->finished) {
        fault_http_action a = h->result;
        dl_del(&h->link);
        free(h);
        return a;
    }
    return FAULT_HTTP_PENDING;
}

static fault_http_action on_request(void *state, fault_http_exchange *x)
{
    return http_hook(state, x, false);
}

static fault_http_action on_response(void *state, fault_http_exchange *x)
{
    return http_hook(state, x, true);
}

static hjob *hjob_find(dlink *list, const fault_http_exchange *x)
{
    for (dlink *l = list->next; l != list; l = l->next) {
        hjob *h = container_of(l, hjob, link);
        if (h->x == x)
            return h;
    }
    return NULL;
}

static void on_end(void *state, fault_http_exchange *x)
{
    bridge *b = state;
    if (b->nrp == 0)
        return;
    hjob *h = hjob_find(&b->hlive, x);
    if (!h)
        h = hjob_find(&b->hpark, x);
    if (!h)
        return;
    /* The exchange ended while a plugin was thinking: forget it. */
    rpc_abandon(h->call);
    dl_del(&h->link);
    free(h);
}

/* The start-up handshakes are over: what waited for them goes on. */
static void release_parked(bridge *b)
{
    while (!dl_empty(&b->tpark)) {
        tjob *j = container_of(b->tpark.next, tjob, park);
        dl_del(&j->park);
        j->cp = NULL; /* offered again, it starts afresh */
        fault_stream_wake(j->c->s);
    }
    while (!dl_empty(&b->hpark)) {
        hjob *h = container_of(b->hpark.next, hjob, link);
        dl_del(&h->link);
        h->parked = false;
        dl_add(&b->hlive, &h->link);
        hjob_step(h);
    }
}

/* ---- lifecycle ---- */

static int init(fault_plugin *self, void *state)
{
    bridge *b = state;
    dl_init(&b->rpcs);
    dl_init(&b->tpark);
    dl_init(&b->hpark);
    dl_init(&b->hlive);
    return 0;
}

static int start(fault_plugin *self, void *state)
{
    bridge *b = state;
    if (b->nrp == 0)
        return 0;
    uv_loop_t *loop = fault_loop(self);
    /* gRPC's threads and ours must not take the loop's signals. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    grpc_init();
    b->grpc_up = true;
    b->cq = grpc_completion_queue_create_for_next(NULL);
    b->insecure = grpc_insecure_credentials_create();
    b->ssl = grpc_ssl_credentials_create(NULL, NULL, NULL, NULL);
    pthread_mutex_init(&b->mu, NULL);
    uv_async_init(loop, &b->async, on_async);
    b->async.data = b;
    int rc = pthread_create(&b->thread, NULL, queue_thread, b);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        fault_plugin_error(self, "cannot start the gRPC completion thread: %s", strerror(rc));
        uv_close((uv_handle_t *)&b->async, NULL);
        return -rc;
    }
    b->thread_up = true;
    for (unsigned i = 0; i < b->nrp; i++) {
        remote *rp = &b->rps[i];
        rp->ch = channel_new(b, rp);
        if (!rp->ch) {
            fault_plugin_error(self, "--grpc-plugin '%s': cannot create a channel", rp->url);
            return FAULT_EINVAL;
        }
    }
    uv_timer_init(loop, &b->health);
    b->health.data = b;
    uint64_t ms = (b->health_us + 999) / 1000;
    uv_timer_start(&b->health, on_health_timer, ms, ms);
    b->started = true;
    b->starting = b->nrp;
    for (unsigned i = 0; i < b->nrp; i++) {
        b->rps[i].initial = true;
        handshake(&b->rps[i]);
    }
    return 0;
}

static void stop(fault_plugin *self, void *state)
{
    (void)self;
    bridge *b = state;
    if (!b->started)
        return;
    b->stopping = true;
    uv_timer_stop(&b->health);
    uv_close((uv_handle_t *)&b->health, NULL);
    /* Nothing waits for a plugin any more: held chunks are offered again
     * and pass (stopping), HTTP hooks continue. */
    b->starting = 0;
    for (size_t k = 0; k < NBUCKETS; k++) {
        for (conn *c = b->conns[k], *next; c; c = next) {
            next = c->hnext;
            bool held = false;
            for (int d = 0; d < 2; d++) {
                held |= c->t[d].busy || dl_linked(&c->t[d].park);
                tjob_reset(&c->t[d]);
            }
            if (held)
                fault_stream_wake(c->s);
        }
    }
    while (!dl_empty(&b->hpark) || !dl_empty(&b->hlive)) {
        dlink *l = !dl_empty(&b->hpark) ? b->hpark.next : b->hlive.next;
        hjob *h = container_of(l, hjob, link);
        rpc_abandon(h->call);
        dl_del(&h->link);
        fault_http_exchange *x = h->x;
        free(h);
        fault_http_resume(x, FAULT_HTTP_CONTINUE);
    }
    /* Cancel what is in flight, drain the queue, then let the thread go. */
    for (dlink *l = b->rpcs.next; l != &b->rpcs; l = l->next)
        rpc_abandon(container_of(l, rpc, live));
    if (b->thread_up) {
        grpc_completion_queue_shutdown(b->cq);
        pthread_join(b->thread, NULL);
        b->thread_up = false;
    }
    on_async(&b->async);
    uv_close((uv_handle_t *)&b->async, NULL);
    b->started = false;
}

static void destroy(fault_plugin *self, void *state)
{
    (void)self;
    bridge *b = state;
    for (unsigned i = 0; i < b->nrp; i++) {
        remote *rp = &b->rps[i];
        if (rp->ch)
            grpc_channel_destroy(rp->ch);
        free(rp->url);
        free(rp->target);
        free(rp->name);
        free(rp->version);
        free(rp->author);
        free(rp->home);
        free(rp->platform);
    }
    free(b->rps);
    b->rps = NULL;
    b->nrp = 0;
    if (b->grpc_up) {
        if (b->cq)
            grpc_completion_queue_destroy(b->cq);
        if (b->insecure)
            grpc_channel_credentials_release(b->insecure);
        if (b->ssl)
            grpc_channel_credentials_release(b->ssl);
        pthread_mutex_destroy(&b->mu);
        grpc_shutdown();
        b->grpc_up = false;
    }
}

static const fault_stream_ops stream_ops = {
    .attach = attach,
    .on_data = on_data,
    .detach = detach,
};

static const fault_http_ops http_ops = {
    .on_request = on_request,
    .on_response = on_response,
    .on_end = on_end,
};

FAULT_PLUGIN_HINT_OPTION(FAULT_KIND_BRIDGE, "grpc-plugin", "FAULT_GRPC_PLUGINS");
FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_BRIDGE, .name = "grpc-bridge", .version = PACKAGE_VERSION,
                    .summary = "Remote plugins over gRPC (--grpc-plugin)", .license = "Apache-2.0",
                    .options = options, .state_size = sizeof(bridge), .init = init,
                    .configure = configure, .start = start, .stop = stop, .destroy = destroy,
                    .stream = &stream_ops, .http = &http_ops);
