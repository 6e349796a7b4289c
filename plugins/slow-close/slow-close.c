/*
 * plugins/slow-close/slow-close.c - the slow-close fault: a peer's FIN
 * reaches the other side late.
 *
 * When a peer closes its write side (sends FIN), the proxy delays passing
 * that end of stream on to the other side by --slow-close-delay MS
 * (default 1000 ms). Data is never delayed: every byte sent before the FIN
 * is delivered as usual, and only the FIN (the shutdown of the proxy's
 * write side toward the other peer) waits. The delay counts from the
 * later of: the FIN reaching the proxy, and the last byte before it being
 * handed to the destination socket; so it adds to any delay other faults
 * put on those bytes. It is never shorter than MS (the relay's timers
 * round up to the next millisecond).
 *
 * --slow-close-direction (default both): ingress delays the upstream's
 * FIN toward the client, egress the client's FIN toward the upstream,
 * both each of them, independently. Side is not a parameter: a FIN is
 * forwarded once, whichever leg one looks at. Per connection: each
 * connection's FIN is delayed on its own; nothing is shared.
 *
 * While the FIN waits, the connection stays open both ways: the other peer
 * may still send (its bytes are relayed), and a reset from either side
 * still ends everything at once. Schedules (--slow-close-sched): a FIN is
 * delayed only if it reaches the proxy while the fault is on; switching
 * the fault off releases a waiting FIN at once.
 *
 * Every delayed FIN is published as a fault event (delay_ms).
 */
#include "config.h"

#include <fault/plugin.h>

typedef struct slow_close_state {
    bool enabled;
    int64_t delay_ms;
    fault_direction direction;
    fault_schedule *sched;
} slow_close_state;

#define OFF(f) offsetof(slow_close_state, f)

static const fault_option options[] = {
    {.name = "with-slow-close",
     .env = "FAULT_WITH_SLOW_CLOSE",
     .type = FAULT_OPT_BOOL,
     .help = "Enable the slow-close fault: delay each FIN (end of stream)",
     .offset = OFF(enabled),
     .flags = FAULT_OPTF_ENABLE},
    {.name = "slow-close-delay",
     .env = "FAULT_SLOW_CLOSE_DELAY",
     .type = FAULT_OPT_INT,
     .def = "1000",
     .metavar = "MS",
     .help = "Delay before a FIN is passed on, in ms",
     .offset = OFF(delay_ms),
     .min = 0,
     .max = 86400000},
    {.name = "slow-close-direction",
     .env = "FAULT_SLOW_CLOSE_DIRECTION",
     .type = FAULT_OPT_DIRECTION,
     .def = "both",
     .metavar = "DIR",
     .help = "FINs to delay: ingress (upstream's), egress (client's) or both",
     .offset = OFF(direction)},
    {.name = "slow-close-sched",
     .env = "FAULT_SLOW_CLOSE_SCHED",
     .type = FAULT_OPT_SCHEDULE,
     .help = "When the fault is on, e.g. \"start:10s,duration:30s\"",
     .offset = OFF(sched)},
    FAULT_OPTION_END};

static int attach(void *state, fault_stream *s, void **cs, uint32_t *points)
{
    (void)s;
    (void)cs;
    slow_close_state *st = state;
    fault_direction d = st->direction;
    /* The last stage of each direction: the FIN reaches it only once every
     * byte before it has been handed to the destination socket, so the
     * delay starts after the data, whatever other faults do to it. */
    *points = ((d & FAULT_DIR_EGRESS) ? FAULT_POINT_SERVER_EGRESS : 0) |
              ((d & FAULT_DIR_INGRESS) ? FAULT_POINT_CLIENT_INGRESS : 0);
    return 0;
}

static fault_action on_eof(void *state, void *cs, fault_stream *s, fault_side side,
                           fault_direction dir, fault_verdict *v)
{
    (void)cs;
    slow_close_state *st = state;
    if (st->delay_ms == 0)
        return FAULT_PASS;
    /* Called when the FIN reaches the head of the stage, i.e. right after
     * the last byte before it moved on: count from now. */
    v->until_us = fault_now_us() + (uint64_t)st->delay_ms * 1000u;
    fault_param params[] = {{"delay_ms", NULL, (double)st->delay_ms}};
    fault_event_fault_applied(fault_plugin_self(st), fault_stream_id(s), side, dir, params, 1);
    fault_log_debug(fault_plugin_self(st), "#%llu %s FIN delayed %lld ms",
                    (unsigned long long)fault_stream_id(s), fault_direction_name(dir),
                    (long long)st->delay_ms);
    return FAULT_PASS;
}

static const fault_stream_ops stream_ops = {
    .attach = attach,
    .on_eof = on_eof,
};

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "slow-close", .version = PACKAGE_VERSION,
                    .summary = "Slow close: delay the FIN that ends each direction",
                    .license = "Apache-2.0", .options = options,
                    .state_size = sizeof(slow_close_state), .stream = &stream_ops);
