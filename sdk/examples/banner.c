/*
 * banner.c - an example protocol handler with a mapping scheme of its own
 * (ABI 1.3), built outside the fault tree.
 *
 * `fault run --proxy 9000=banner://127.0.0.1:7000` listens on port 9000;
 * every client first receives one line, "banner: via fault", then talks
 * to 127.0.0.1:7000 as through any TCP proxy. The banner is the handler
 * speaking a little protocol of its own; it enters the relay as bytes
 * coming from the upstream, so the fault plugins attached to the
 * connection (latency, hold, ...) act on it like on the rest. It shows
 * what a protocol handler needs: the schemes it serves, each mapping
 * handed over before start(), listening, accepting, connecting upstream
 * and relaying, and the events the host's terminal line is built from.
 * Build it with only the installed SDK:
 *
 *     cc -shared -fPIC -o banner.so banner.c $(pkg-config --cflags --libs fault-plugin)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fault/plugin.h>

#define BANNER       "banner: via fault\n"
#define MAX_MAPPINGS 16

typedef struct banner_map {
    char *listen_host, *host, *text;
    uint16_t listen_port, port;
    char target[300];
    fault_plugin *self;  /* set in start(): the accept callback needs it */
    fault_listener *lis; /* set in start(), closed in stop() */
} banner_map;

typedef struct banner_state {
    banner_map maps[MAX_MAPPINGS];
    size_t n;
} banner_state;

/* One connection on its way: the stream waits for its upstream. */
typedef struct pending {
    fault_stream *s;
} pending;

static char *copy(const char *s)
{
    return strdup(s ? s : "");
}

/* Called once per `--proxy ...=banner://...` before start(). The mapping's
 * strings belong to the host: keep copies. */
static int add_mapping(void *state, const fault_mapping *m, char *err, size_t errlen)
{
    banner_state *st = state;
    if (st->n == MAX_MAPPINGS) {
        snprintf(err, errlen, "at most %d banner mappings", MAX_MAPPINGS);
        return FAULT_EINVAL;
    }
    banner_map *bm = &st->maps[st->n];
    bm->listen_host = copy(m->listen_host);
    bm->host = copy(m->host);
    bm->text = copy(m->text);
    bm->listen_port = m->listen_port;
    bm->port = m->port;
    snprintf(bm->target, sizeof bm->target, "%s:%u", m->host, m->port);
    if (!bm->listen_host || !bm->host || !bm->text)
        return FAULT_ENOMEM;
    st->n++;
    return 0;
}

static void on_upstream(fault_conn *server, int status, void *userdata)
{
    pending *pd = userdata;
    fault_stream *s = pd->s;
    free(pd);
    if (status < 0) {
        fault_stream_abort(s, status); /* resets the client, publishes the close */
        return;
    }
    /* The banner goes first, as if the upstream had sent it. */
    int rc = fault_stream_relay_with(s, server, NULL, 0, BANNER, strlen(BANNER));
    if (rc < 0) {
        fault_conn_close(server);
        fault_stream_abort(s, rc);
    }
}

static void on_accept(fault_listener *l, fault_conn *client, void *userdata)
{
    (void)l;
    banner_map *bm = userdata;
    fault_plugin *self = bm->self;
    /* The stream: what faults attach to, and what events are about. */
    fault_stream *s = fault_stream_new(self, client, bm->target);
    if (!s) {
        fault_conn_reset(client);
        return;
    }
    fault_stream_set_scheme(s, "banner");
    pending *pd = malloc(sizeof *pd);
    if (!pd) {
        fault_stream_abort(s, FAULT_ENOMEM);
        return;
    }
    pd->s = s;
    /* Faults see the attempt first (a DNS fault may fail it). */
    int rc = fault_connect(self, s, bm->host, bm->port, NULL, on_upstream, pd);
    if (rc < 0) {
        free(pd);
        fault_stream_abort(s, rc);
    }
}

static int start(fault_plugin *self, void *state)
{
    banner_state *st = state;
    for (size_t i = 0; i < st->n; i++) {
        banner_map *bm = &st->maps[i];
        bm->self = self;
        fault_listener *l;
        int rc = fault_listen(self, bm->listen_host, bm->listen_port, on_accept, bm, &l);
        if (rc < 0) {
            fault_plugin_error(self, "--proxy '%s': cannot listen: %s", bm->text,
                               fault_strerror(rc));
            return rc;
        }
        bm->lis = l;
        /* The host prints "listening on ..." from this event. */
        fault_event ev = {.type = FAULT_EV_LISTENING, .size = sizeof ev};
        ev.peer = fault_listener_address(l);
        ev.target = bm->target;
        fault_event_publish(self, &ev);
    }
    return 0;
}

/* The run is stopping. The core has closed every listener already (a
 * second close does nothing), so a plugin may simply close what it opened. */
static void stop(fault_plugin *self, void *state)
{
    (void)self;
    banner_state *st = state;
    for (size_t i = 0; i < st->n; i++) {
        fault_listener_close(st->maps[i].lis);
        st->maps[i].lis = NULL;
    }
}

static void destroy(fault_plugin *self, void *state)
{
    (void)self;
    banner_state *st = state;
    for (size_t i = 0; i < st->n; i++) {
        free(st->maps[i].listen_host);
        free(st->maps[i].host);
        free(st->maps[i].text);
    }
}

static const char *const schemes[] = {"banner", NULL};

static const fault_protocol_ops protocol_ops = {
    .schemes = schemes,
    .add_mapping = add_mapping,
};

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_PROTOCOL, .name = "banner", .version = "1.0.0",
                    .summary = "Example: a TCP proxy that greets its clients (banner://)",
                    .license = "Apache-2.0", .state_size = sizeof(banner_state), .start = start,
                    .stop = stop, .destroy = destroy, .protocol = &protocol_ops);
