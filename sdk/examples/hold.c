/*
 * hold.c - an example fault plugin with a timer (ABI 1.3), built outside
 * the fault tree.
 *
 * Every new connection is held for --hold-ms milliseconds before its
 * first response bytes reach the client: the bytes wait at the head of
 * their stage (FAULT_HOLD) and a per-connection fault_timer wakes the
 * stream when the time is up. Later bytes pass at once. It shows the
 * pieces a fault with timers needs and nothing else: per-connection
 * state (attach/detach), a timer created, started and freed, holding and
 * waking a stream, and an event saying what was applied. Build it with
 * only the installed SDK:
 *
 *     cc -shared -fPIC -o hold.so hold.c $(pkg-config --cflags --libs fault-plugin)
 *
 * and run `fault --plugin-dir DIR run --proxy ... --with-hold --hold-ms 300`.
 */
#include <stdlib.h>

#include <fault/plugin.h>

typedef struct hold_state {
    bool enabled; /* --with-hold */
    int64_t ms;   /* --hold-ms */
} hold_state;

/* One per connection. */
typedef struct hold_conn {
    fault_stream *s;
    fault_timer *timer;
    bool released; /* the hold is over: everything passes */
} hold_conn;

static const fault_option options[] = {{.name = "with-hold",
                                        .env = "FAULT_WITH_HOLD",
                                        .type = FAULT_OPT_BOOL,
                                        .help = "Hold each connection's first response bytes",
                                        .offset = offsetof(hold_state, enabled),
                                        .flags = FAULT_OPTF_ENABLE},
                                       {.name = "hold-ms",
                                        .env = "FAULT_HOLD_MS",
                                        .type = FAULT_OPT_INT,
                                        .def = "250",
                                        .metavar = "MS",
                                        .help = "How long to hold them",
                                        .offset = offsetof(hold_state, ms),
                                        .min = 0,
                                        .max = 3600000},
                                       FAULT_OPTION_END};

/* The timer fired: let the held bytes go. */
static void on_release(fault_timer *t, void *userdata)
{
    (void)t;
    hold_conn *hc = userdata;
    hc->released = true;
    fault_stream_wake(hc->s); /* offers the held chunk to on_data again */
}

static int attach(void *state, fault_stream *s, void **conn_state, uint32_t *points)
{
    hold_state *st = state;
    hold_conn *hc = calloc(1, sizeof *hc);
    if (!hc)
        return FAULT_ENOMEM;
    hc->s = s;
    /* The instance this state block belongs to (ABI 1.3): timers and
     * events are owned by it. */
    int rc = fault_timer_new(fault_plugin_self(st), on_release, hc, &hc->timer);
    if (rc == 0)
        rc = fault_timer_start(hc->timer, (uint64_t)st->ms * 1000u);
    if (rc != 0) {
        fault_timer_free(hc->timer);
        free(hc);
        return rc; /* the connection is refused with this code */
    }
    *conn_state = hc;
    /* Response bytes, where they enter the proxy from the upstream. */
    *points = FAULT_POINT_SERVER_INGRESS;
    return 0;
}

static fault_action on_data(void *state, void *conn_state, fault_stream *s, fault_side side,
                            fault_direction dir, fault_chunk *c, fault_verdict *v)
{
    hold_state *st = state;
    hold_conn *hc = conn_state;
    (void)c;
    (void)v;
    if (!hc->released)
        return FAULT_HOLD; /* on_release() wakes the stream */
    if (c->offset == 0) {
        /* The first chunk goes now: say what was done, once. */
        fault_param p = {"hold_ms", NULL, (double)st->ms};
        fault_event_fault_applied(fault_plugin_self(st), fault_stream_id(s), side, dir, &p, 1);
    }
    return FAULT_PASS;
}

static void detach(void *state, void *conn_state, fault_stream *s)
{
    (void)state;
    (void)s;
    hold_conn *hc = conn_state;
    fault_timer_free(hc->timer); /* stops it if it has not fired */
    free(hc);
}

static const fault_stream_ops stream_ops = {
    .attach = attach,
    .on_data = on_data,
    .detach = detach,
};

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "hold", .version = "1.0.0",
                    .summary = "Example: hold each connection's first response bytes",
                    .license = "Apache-2.0", .options = options, .state_size = sizeof(hold_state),
                    .stream = &stream_ops);
