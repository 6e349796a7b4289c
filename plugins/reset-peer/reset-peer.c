/*
 * plugins/reset-peer/reset-peer.c - the reset-peer fault: connections end
 * with a TCP reset (RST), as "connection reset by peer".
 *
 * Both legs of an affected connection are reset at once: the client and the
 * upstream each receive an RST (the proxy closes its sockets with
 * SO_LINGER 0), and every byte still inside the proxy, in either direction,
 * is discarded. Nothing is closed gracefully: no FIN is sent.
 *
 * When, per connection (--reset-peer-timeout MS, default 0):
 *   - 0: at the first bytes that reach the proxy in the affected direction
 *     (--reset-peer-direction: ingress, the default, means the upstream's
 *     first response bytes; egress the client's first request bytes; both
 *     whichever comes first). Those bytes are not delivered: with ingress
 *     the request reached the upstream but the client sees no byte of the
 *     response, with egress the request never reaches the upstream. A
 *     connection on which nothing flows that way is never reset.
 *   - MS > 0: MS milliseconds after the proxied connection was established
 *     (the upstream connection succeeded and relaying began), whatever
 *     flows or does not flow; the direction plays no part. The timer never
 *     fires early (it re-arms if the loop's clock runs behind).
 *     Note: toxiproxy's reset_peer instead counts its timeout from the first
 *     data; counting from the open makes the lifetime of every connection,
 *     idle ones included, bounded, which is what a middlebox or a crashing
 *     peer does.
 * Side is not a parameter: a reset ends both legs.
 *
 * Schedules (--reset-peer-sched): the fault acts only while active. With a
 * timeout, a connection is reset at the first moment it is at least MS old
 * while the fault is on: one whose deadline passes while the fault is off
 * is reset as soon as the fault is switched on again (unless it ended
 * before). With timeout 0, only data that arrives while the fault is on
 * triggers it.
 *
 * Every reset is published as a fault event (timeout_ms, age_ms).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include <fault/plugin.h>

typedef struct conn_state conn_state;

typedef struct reset_state {
    bool enabled;
    int64_t timeout_ms;
    fault_direction direction;
    fault_schedule *sched;
    conn_state *conns; /* live connections with a timer, for on_active() */
} reset_state;

struct conn_state {
    reset_state *st;
    fault_stream *s;
    fault_timer *timer;
    uint64_t opened_us, deadline_us;
    bool due; /* the deadline passed while the fault was off */
    conn_state *prev, *next;
};

#define OFF(f) offsetof(reset_state, f)

static const fault_option options[] = {
    {.name = "with-reset-peer",
     .env = "FAULT_WITH_RESET_PEER",
     .type = FAULT_OPT_BOOL,
     .help = "Enable the reset-peer fault: connections end with a TCP reset",
     .offset = OFF(enabled),
     .flags = FAULT_OPTF_ENABLE},
    {.name = "reset-peer-timeout",
     .env = "FAULT_RESET_PEER_TIMEOUT",
     .type = FAULT_OPT_INT,
     .def = "0",
     .metavar = "MS",
     .help = "Reset each connection MS ms after it opened (0: at its first data in the direction)",
     .offset = OFF(timeout_ms),
     .min = 0,
     .max = 86400000},
    {.name = "reset-peer-direction",
     .env = "FAULT_RESET_PEER_DIRECTION",
     .type = FAULT_OPT_DIRECTION,
     .def = "ingress",
     .metavar = "DIR",
     .help = "With timeout 0, data that triggers the reset: ingress, egress or both",
     .offset = OFF(direction)},
    {.name = "reset-peer-sched",
     .env = "FAULT_RESET_PEER_SCHED",
     .type = FAULT_OPT_SCHEDULE,
     .help = "When the fault is on, e.g. \"start:10s,duration:30s\"",
     .offset = OFF(sched)},
    FAULT_OPTION_END};

static int configure(fault_plugin *self, void *state)
{
    reset_state *st = state;
    if (st->timeout_ms > 0 && fault_option_is_set(self, "reset-peer-direction"))
        fault_log_warn(self, "--reset-peer-direction has no effect with --reset-peer-timeout > 0");
    return 0;
}

static void publish(reset_state *st, fault_stream *s, fault_side side, fault_direction dir,
                    uint64_t opened_us)
{
    double age_ms = (double)(fault_now_us() - opened_us) / 1000.0;
    fault_param params[] = {{"timeout_ms", NULL, (double)st->timeout_ms}, {"age_ms", NULL, age_ms}};
    fault_event_fault_applied(fault_plugin_self(st), fault_stream_id(s), side, dir, params, 2);
    fault_log_debug(fault_plugin_self(st), "#%llu reset after %.3f ms",
                    (unsigned long long)fault_stream_id(s), age_ms);
}

/* Resets the connection of cs. Ending the stream runs detach(), which
 * closes the timer and frees cs later: do not touch cs afterwards. */
static void reset_now(conn_state *cs)
{
    publish(cs->st, cs->s, FAULT_SIDE_ANY, FAULT_DIR_BOTH, cs->opened_us);
    fault_stream_reset(cs->s);
}

static void on_timer(fault_timer *t, void *ud)
{
    (void)t;
    conn_state *cs = ud;
    if (!fault_plugin_active(fault_plugin_self(cs->st))) {
        cs->due = true; /* on_active() resets it when the fault comes on */
        return;
    }
    reset_now(cs);
}

static void on_active(void *state, bool active)
{
    reset_state *st = state;
    if (!active)
        return;
    for (conn_state *cs = st->conns, *next; cs; cs = next) {
        next = cs->next;
        if (cs->due)
            reset_now(cs); /* unlinks and frees cs (see detach) */
    }
}

static int attach(void *state, fault_stream *s, void **cs_out, uint32_t *points)
{
    reset_state *st = state;
    uint64_t now = fault_now_us();
    if (st->timeout_ms == 0) {
        /* The earliest stage of each selected direction: the reset comes
         * as soon as the bytes reach the proxy, before any other fault
         * could delay them. */
        fault_direction d = st->direction;
        *points = ((d & FAULT_DIR_EGRESS) ? FAULT_POINT_CLIENT_EGRESS : 0) |
                  ((d & FAULT_DIR_INGRESS) ? FAULT_POINT_SERVER_INGRESS : 0);
        uint64_t *opened = malloc(sizeof *opened);
        if (!opened)
            return FAULT_ENOMEM;
        *opened = now;
        *cs_out = opened;
        return 0;
    }
    /* With a timeout the fault needs no stage: bytes flow untouched until
     * the timer fires. */
    *points = 0;
    conn_state *cs = calloc(1, sizeof *cs);
    if (!cs)
        return FAULT_ENOMEM;
    cs->st = st;
    cs->s = s;
    cs->opened_us = now;
    cs->deadline_us = now + (uint64_t)st->timeout_ms * 1000u;
    int rc = fault_timer_new(fault_plugin_self(st), on_timer, cs, &cs->timer);
    if (rc == 0)
        rc = fault_timer_start_at(cs->timer, cs->deadline_us);
    if (rc != 0) {
        fault_timer_free(cs->timer);
        free(cs);
        return rc;
    }
    cs->next = st->conns;
    if (st->conns)
        st->conns->prev = cs;
    st->conns = cs;
    *cs_out = cs;
    return 0;
}

static fault_action on_data(void *state, void *cs, fault_stream *s, fault_side side,
                            fault_direction dir, fault_chunk *c, fault_verdict *v)
{
    (void)c;
    (void)v;
    reset_state *st = state;
    /* Only the timeout-0 mode attaches stages, with cs the open time. */
    publish(st, s, side, dir, *(const uint64_t *)cs);
    return FAULT_RESET;
}

static void detach(void *state, void *cs_ptr, fault_stream *s)
{
    (void)s;
    reset_state *st = state;
    if (st->timeout_ms == 0) {
        free(cs_ptr);
        return;
    }
    conn_state *cs = cs_ptr;
    if (!cs)
        return;
    if (cs->prev)
        cs->prev->next = cs->next;
    else
        st->conns = cs->next;
    if (cs->next)
        cs->next->prev = cs->prev;
    cs->prev = cs->next = NULL;
    fault_timer_free(cs->timer);
    free(cs);
}

static const fault_stream_ops stream_ops = {
    .attach = attach,
    .on_data = on_data,
    .on_active = on_active,
    .detach = detach,
};

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "reset-peer", .version = PACKAGE_VERSION,
                    .summary = "Reset peer: connections end with a TCP RST",
                    .license = "Apache-2.0", .options = options, .state_size = sizeof(reset_state),
                    .configure = configure, .stream = &stream_ops);
