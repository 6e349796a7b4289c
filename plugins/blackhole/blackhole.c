/*
 * plugins/blackhole/blackhole.c - the blackhole fault.
 *
 * What it does
 * ------------
 * While the fault is active, nothing gets through the chosen hook point
 * (--blackhole-side, default server; --blackhole-direction, default
 * ingress; both directions with `both`): every chunk, and the end of stream
 * (FIN), is held where it is. Nothing is answered to the sender either, so
 * the connection simply stalls, as behind a route that swallows packets.
 *
 * Held, not dropped: on a real path TCP would keep retransmitting what was
 * swallowed, so when the blackhole ends the bytes do arrive, in order, and
 * the exchange completes, unless a peer gave up (timed out and closed) in
 * the meantime. Dropping bytes out of a TCP stream instead would corrupt it,
 * which no network can do.
 *
 * Backpressure: once the held bytes of a direction exceed the relay's
 * high-water mark (256 KiB) the proxy stops reading the sender, whose TCP
 * window then fills and whose writes block, as on a dead link. The proxy's
 * memory stays bounded.
 *
 * Schedules: without --blackhole-sched the blackhole lasts the whole run.
 * With a schedule, it holds only inside its periods; when a period ends the
 * host switches the plugin off and wakes every held chunk, which then
 * flows at once. Bytes that pass while it is off are never held.
 *
 * Events: one "blackhole" fault event per connection and hook point when it
 * starts holding, and again in each later period that catches traffic.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include <fault/plugin.h>

typedef struct blackhole_state {
    bool enabled;
    fault_side side;
    fault_direction direction;
    fault_schedule *sched;
    /* Counts the periods the schedule switched on, so that a connection
     * says once per period that it is being held. */
    uint64_t period;
} blackhole_state;

typedef struct conn_state {
    uint64_t told[4]; /* by hook point: period + 1 of the last event */
} conn_state;

#define OFF(f) offsetof(blackhole_state, f)

static const fault_option options[] = {
    {.name = "with-blackhole",
     .env = "FAULT_WITH_BLACKHOLE",
     .type = FAULT_OPT_BOOL,
     .help = "Enable the blackhole fault",
     .offset = OFF(enabled),
     .flags = FAULT_OPTF_ENABLE},
    {.name = "blackhole-side",
     .env = "FAULT_BLACKHOLE_SIDE",
     .type = FAULT_OPT_SIDE,
     .def = "server",
     .metavar = "SIDE",
     .help = "Leg of the connection to blackhole",
     .offset = OFF(side)},
    {.name = "blackhole-direction",
     .env = "FAULT_BLACKHOLE_DIRECTION",
     .type = FAULT_OPT_DIRECTION,
     .def = "ingress",
     .metavar = "DIR",
     .help = "Traffic to hold: ingress (responses), egress (requests) or both",
     .offset = OFF(direction)},
    {.name = "blackhole-sched",
     .env = "FAULT_BLACKHOLE_SCHED",
     .type = FAULT_OPT_SCHEDULE,
     .help = "When the fault is on, e.g. \"start:10s,duration:30s;start:80%\"",
     .offset = OFF(sched)},
    FAULT_OPTION_END};

static int attach(void *state, fault_stream *s, void **cs, uint32_t *points)
{
    (void)s;
    blackhole_state *st = state;
    conn_state *c = calloc(1, sizeof *c);
    if (!c)
        return FAULT_ENOMEM;
    *cs = c;
    *points = fault_points(st->side, st->direction);
    return 0;
}

/* Holds whatever is at the head; says so once per period and point. */
static fault_action hold(blackhole_state *st, conn_state *cst, fault_stream *s, fault_side side,
                         fault_direction dir)
{
    unsigned i = (unsigned)__builtin_ctz(fault_points(side, dir));
    if (cst->told[i] != st->period + 1) {
        cst->told[i] = st->period + 1;
        fault_event_fault_applied(fault_plugin_self(st), fault_stream_id(s), side, dir, NULL, 0);
        fault_log_debug(fault_plugin_self(st), "#%llu %s %s held",
                        (unsigned long long)fault_stream_id(s), fault_side_name(side),
                        fault_direction_name(dir));
    }
    /* No timer of ours: the host wakes held chunks when the schedule turns
     * the fault off, and the stream's end frees them. */
    return FAULT_HOLD;
}

static fault_action on_data(void *state, void *cs, fault_stream *s, fault_side side,
                            fault_direction dir, fault_chunk *c, fault_verdict *v)
{
    (void)c;
    (void)v;
    return hold(state, cs, s, side, dir);
}

/* A FIN is a packet like any other: it vanishes too. */
static fault_action on_eof(void *state, void *cs, fault_stream *s, fault_side side,
                           fault_direction dir, fault_verdict *v)
{
    (void)v;
    return hold(state, cs, s, side, dir);
}

static void on_active(void *state, bool active)
{
    blackhole_state *st = state;
    if (active)
        st->period++;
}

static const fault_stream_ops stream_ops = {
    .attach = attach,
    .on_data = on_data,
    .on_eof = on_eof,
    .on_active = on_active,
};

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "blackhole", .version = PACKAGE_VERSION,
                    .summary = "Blackhole: hold all traffic, the connection stalls",
                    .license = "Apache-2.0", .options = options,
                    .state_size = sizeof(blackhole_state), .stream = &stream_ops);
