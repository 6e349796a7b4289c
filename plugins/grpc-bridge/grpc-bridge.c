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
 *
 * The bridge is in five files that share bridge.h:
 *   grpc-bridge.c  options, configuration and the plugin's lifecycle
 *   rpc.c          RPC plumbing: calls, the completion-queue thread and its
 *                  hand-off to the loop, channels, events and logs
 *   remote.c       a remote plugin's state: handshakes, health checks,
 *                  enabling and disabling
 *   tunnel.c       tunnels: connections and their chunks (ProcessTunnelData)
 *   http.c         HTTP exchanges (ProcessHttpRequest/Response)
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

#include "bridge.h"
#include "url.h"

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

const char *gb_status_name(grpc_status_code st)
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

char *gb_strdup(const char *s)
{
    return strdup(s ? s : "");
}

const char *rp_name(const remote *rp)
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
        rp->url = gb_strdup(u);
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
    uv_async_init(loop, &b->async, gb_on_async);
    b->async.data = b;
    int rc = pthread_create(&b->thread, NULL, gb_queue_thread, b);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        fault_plugin_error(self, "cannot start the gRPC completion thread: %s", strerror(rc));
        uv_close((uv_handle_t *)&b->async, NULL);
        return -rc;
    }
    b->thread_up = true;
    for (unsigned i = 0; i < b->nrp; i++) {
        remote *rp = &b->rps[i];
        rp->ch = gb_channel_new(b, rp);
        if (!rp->ch) {
            fault_plugin_error(self, "--grpc-plugin '%s': cannot create a channel", rp->url);
            return FAULT_EINVAL;
        }
    }
    uv_timer_init(loop, &b->health);
    b->health.data = b;
    uint64_t ms = (b->health_us + 999) / 1000;
    uv_timer_start(&b->health, gb_on_health_timer, ms, ms);
    b->started = true;
    b->starting = b->nrp;
    for (unsigned i = 0; i < b->nrp; i++) {
        b->rps[i].initial = true;
        gb_handshake(&b->rps[i]);
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
                gb_tjob_reset(&c->t[d]);
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
    gb_on_async(&b->async);
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
    .attach = gb_attach,
    .on_data = gb_on_data,
    .detach = gb_detach,
};

static const fault_http_ops http_ops = {
    .on_request = gb_on_request,
    .on_response = gb_on_response,
    .on_end = gb_on_end,
};

FAULT_PLUGIN_HINT_OPTION(FAULT_KIND_BRIDGE, "grpc-plugin", "FAULT_GRPC_PLUGINS");
FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_BRIDGE, .name = "grpc-bridge", .version = PACKAGE_VERSION,
                    .summary = "Remote plugins over gRPC (--grpc-plugin)", .license = "Apache-2.0",
                    .options = options, .state_size = sizeof(bridge), .init = init,
                    .configure = configure, .start = start, .stop = stop, .destroy = destroy,
                    .stream = &stream_ops, .http = &http_ops);
