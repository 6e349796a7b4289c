/*
 * plugins/limit-data/limit-data.c - the limit-data fault: a connection is
 * closed once it has carried N bytes in a direction.
 *
 * Per connection, the first --limit-data-bytes N bytes of the selected
 * direction (--limit-data-direction, default ingress: upstream to client)
 * pass untouched; the byte stream is cut exactly there. The receiving peer
 * gets exactly N bytes, then the proxy closes the connection gracefully: a
 * FIN on both legs after the bytes already passed have been written.
 * Bytes beyond the N-th are discarded, as is anything still inside the
 * proxy for the other direction; the sender gets the FIN, and if it keeps
 * sending, its kernel gets an RST for bytes that reach the closed socket
 * (as from any peer that closed without reading). With both directions, each direction has its own
 * allowance of N and the first to reach it closes the connection.
 *
 * Exactly when: the connection is closed as soon as the N-th byte has been
 * handed to the destination socket, even if nothing follows it (a peer that
 * sends exactly N bytes and waits still gets its connection closed). With
 * N = 0 the first byte closes the connection and none is delivered. A
 * connection whose direction ends (FIN) before N bytes is not affected.
 *
 * Schedules (--limit-data-sched): only bytes that pass while the fault is
 * on count toward N, and the cut is made only while it is on. A
 * connection's count is kept while the fault is off and goes on when it
 * comes back on; a connection that filled its allowance exactly just as
 * the fault went off is closed at its next bytes once it is on again.
 *
 * Side is not a parameter: the cut is made at the last stage of the
 * direction (just before the bytes are written to the receiving peer), so
 * "passed" means delivered to that peer's socket, after any other fault.
 *
 * Every close is published as a fault event (limit_bytes).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include <fault/plugin.h>

typedef struct limit_state {
    bool enabled;
    int64_t limit;
    fault_direction direction;
    fault_schedule *sched;
} limit_state;

typedef struct conn_state {
    limit_state *st;
    fault_stream *s;
    fault_timer *timer; /* closes the connection after an exact fill */
    uint64_t passed[2]; /* bytes passed while on: [0] egress, [1] ingress */
    fault_side closing_side;
    fault_direction closing_dir;
} conn_state;

#define OFF(f) offsetof(limit_state, f)

static const fault_option options[] = {
    {.name = "with-limit-data",
     .env = "FAULT_WITH_LIMIT_DATA",
     .type = FAULT_OPT_BOOL,
     .help = "Enable the limit-data fault: close connections after N bytes",
     .offset = OFF(enabled),
     .flags = FAULT_OPTF_ENABLE},
    {.name = "limit-data-bytes",
     .env = "FAULT_LIMIT_DATA_BYTES",
     .type = FAULT_OPT_INT,
     .metavar = "N",
     .help = "Bytes a connection may carry in the direction before it is closed",
     .offset = OFF(limit),
     .min = 0,
     .max = 9.2e18},
    {.name = "limit-data-direction",
     .env = "FAULT_LIMIT_DATA_DIRECTION",
     .type = FAULT_OPT_DIRECTION,
     .def = "ingress",
     .metavar = "DIR",
     .help = "Bytes counted: ingress (responses), egress (requests) or both (each its own N)",
     .offset = OFF(direction)},
    {.name = "limit-data-sched",
     .env = "FAULT_LIMIT_DATA_SCHED",
     .type = FAULT_OPT_SCHEDULE,
     .help = "When the fault is on, e.g. \"start:10s,duration:30s\"",
     .offset = OFF(sched)},
    FAULT_OPTION_END};

static int configure(fault_plugin *self, void *state)
{
    (void)state;
    if (!fault_option_is_set(self, "limit-data-bytes")) {
        fault_plugin_error(self, "--limit-data-bytes is required with --with-limit-data");
        return FAULT_EINVAL;
    }
    return 0;
}

static void publish(limit_state *st, fault_stream *s, fault_side side, fault_direction dir)
{
    fault_param params[] = {{"limit_bytes", NULL, (double)st->limit}};
    fault_event_fault_applied(fault_plugin_self(st), fault_stream_id(s), side, dir, params, 1);
    fault_log_debug(fault_plugin_self(st), "#%llu %s limit of %lld bytes reached: closing",
                    (unsigned long long)fault_stream_id(s), fault_direction_name(dir),
                    (long long)st->limit);
}

static int attach(void *state, fault_stream *s, void **cs_out, uint32_t *points)
{
    limit_state *st = state;
    fault_direction d = st->direction;
    /* The last stage of each direction: when the relay closes the stream
     * on FAULT_CLOSE it drops whatever later stages still hold, so only at
     * the end are the N bytes this stage passed already on their way out. */
    *points = ((d & FAULT_DIR_EGRESS) ? FAULT_POINT_SERVER_EGRESS : 0) |
              ((d & FAULT_DIR_INGRESS) ? FAULT_POINT_CLIENT_INGRESS : 0);
    conn_state *cs = calloc(1, sizeof *cs);
    if (!cs)
        return FAULT_ENOMEM;
    cs->st = st;
    cs->s = s;
    *cs_out = cs;
    return 0;
}

static void on_close_timer(fault_timer *t, void *ud)
{
    (void)t;
    conn_state *cs = ud;
    /* The stream is still alive: detach() would have stopped the timer. */
    if (!fault_plugin_active(fault_plugin_self(cs->st)))
        return; /* switched off meanwhile: the next bytes decide */
    publish(cs->st, cs->s, cs->closing_side, cs->closing_dir);
    fault_stream_close(cs->s);
}

static fault_action on_data(void *state, void *cs_ptr, fault_stream *s, fault_side side,
                            fault_direction dir, fault_chunk *c, fault_verdict *v)
{
    limit_state *st = state;
    conn_state *cs = cs_ptr;
    uint64_t limit = (uint64_t)st->limit;
    uint64_t *passed = &cs->passed[dir == FAULT_DIR_EGRESS ? 0 : 1];
    if (*passed >= limit) {
        publish(st, s, side, dir);
        return FAULT_CLOSE;
    }
    uint64_t allowed = limit - *passed;
    if (allowed < c->len) {
        /* Pass exactly the allowance; the rest of the chunk comes back at
         * the head, where the first branch closes the connection. */
        *passed += allowed;
        v->bytes = (size_t)allowed;
        return FAULT_PASS;
    }
    *passed += c->len;
    if (allowed == c->len) {
        /* This chunk fills the allowance exactly and nothing may follow it
         * for a while. The stream cannot be closed from inside this hook
         * (the relay still holds the chunk), so close it from the loop
         * once the chunk has moved on: a zero timer runs after the relay
         * has handed it to the socket. */
        if (!cs->timer &&
            fault_timer_new(fault_plugin_self(st), on_close_timer, cs, &cs->timer) != 0)
            return FAULT_CLOSE; /* no memory for the timer: close now instead */
        cs->closing_side = side;
        cs->closing_dir = dir;
        fault_timer_start(cs->timer, 0);
    }
    return FAULT_PASS;
}

static void detach(void *state, void *cs_ptr, fault_stream *s)
{
    (void)state;
    (void)s;
    conn_state *cs = cs_ptr;
    if (!cs)
        return;
    fault_timer_free(cs->timer);
    free(cs);
}

static const fault_stream_ops stream_ops = {
    .attach = attach,
    .on_data = on_data,
    .detach = detach,
};

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "limit-data", .version = PACKAGE_VERSION,
                    .summary = "Limit data: close connections after N bytes",
                    .license = "Apache-2.0", .options = options, .state_size = sizeof(limit_state),
                    .configure = configure, .stream = &stream_ops);
