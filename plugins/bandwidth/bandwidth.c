/*
 * plugins/bandwidth/bandwidth.c - the bandwidth fault.
 *
 * What it does
 * ------------
 * Caps the throughput of the chosen traffic with a token bucket:
 *
 *   --bandwidth-rate N       a positive integer (default 1000)
 *   --bandwidth-unit U       Bps, KBps, MBps or GBps, in any case (default
 *                            Bps). Units are binary and count bytes:
 *                            1 KBps = 1024 B/s, 1 MBps = 1024^2 B/s,
 *                            1 GBps = 1024^3 B/s. (KiBps, MiBps, GiBps and
 *                            B/s, KB/s, ... are accepted as aliases.)
 *   --bandwidth-side         client or server (default server)
 *   --bandwidth-direction    ingress, egress or both (default ingress)
 *   --bandwidth-shared       one bucket for all connections of the proxy
 *                            instead of one per connection
 *
 * The rate may go up to 1024 GBps (2^40 B/s); every computation is done in
 * 64-bit integers that cannot overflow in that range (see bucket_refill()).
 *
 * The bucket
 * ----------
 * Per connection (the default), each hook point has its own bucket: with
 * --bandwidth-direction both, uploads and downloads each get the rate (a
 * link is full duplex). With --bandwidth-shared there is one bucket per
 * direction for the whole proxy: every connection's bytes in that
 * direction draw from it, so N busy connections get about rate/N each and
 * their sum is the rate.
 *
 * The bucket holds at most BURST = max(1 byte, rate * 50 ms) bytes: that
 * is the largest burst that ever leaves faster than the rate, after the
 * traffic paused long enough to refill it (50 bytes at the default
 * 1000 B/s, 51 KiB at 1 MBps, 5 MiB at 100 MBps). It starts empty, so a
 * new connection has no burst at all: its first bytes already take their
 * time, as on a real link. Why 50 ms: tokens that arrive while the bucket
 * is full are lost, and the proxy itself is sometimes late (the relay's
 * timers have millisecond resolution, and a busy machine may not run the
 * loop for tens of milliseconds); a bucket that covers those delays lets
 * the proxy catch up, so the average rate stays exact. A smaller bucket
 * measurably lost rate at 100 MBps on a loaded 2-core machine.
 *
 * The chunk at the head of the stage takes min(its length, GRAIN) bytes
 * from the bucket, GRAIN = max(1 byte, rate * 10 ms), and the level may go
 * negative: those bytes leave when it is back to zero (verdict.until_us),
 * and the rest of the chunk is offered again after them. So a throttled
 * stream flows in pieces of at most 10 ms worth (1 KiB every 10 ms at
 * 100 KBps), not in bursts, while the bucket's larger size still lets a
 * late proxy catch up. A reservation is made at once, so with a shared
 * bucket the connections are served in turn, a piece each.
 *
 * Backpressure: held bytes stay in the relay, which stops reading the
 * sender when a direction holds more than its high-water mark (256 KiB):
 * the sender's TCP window fills and its writes block, as on a slow link.
 * The proxy's memory stays bounded whatever the sender does.
 *
 * Schedules: while --bandwidth-sched has the fault off, bytes pass
 * untouched and take no tokens; the bucket keeps refilling (to BURST).
 *
 * Events: one "bandwidth" fault event per connection and hook point, when
 * a chunk first has to wait for tokens, with rate_Bps, burst_bytes and
 * shared. Not one per chunk: a throttled download would flood the bus.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fault/plugin.h>

/* Tokens are counted in micro-bytes, so that a rate in bytes per second is
 * also exactly that many micro-bytes per microsecond of the relay clock:
 * refills are exact integer products, with no drift and no rounding. */
#define UB_PER_BYTE  INT64_C(1000000)
#define BURST_MS     50
#define GRAIN_MS     10
#define MAX_RATE_BPS (UINT64_C(1) << 40)

typedef struct bucket {
    bool init;
    int64_t level; /* micro-bytes; below zero: reserved ahead of time */
    uint64_t t_us; /* when level was last brought up to date */
} bucket;

typedef struct bandwidth_state {
    bool enabled;
    bool shared;
    int64_t rate;
    int unit; /* index into unit_choices */
    fault_side side;
    fault_direction direction;
    fault_schedule *sched;
    uint64_t bps;                       /* bytes per second */
    uint64_t burst;                     /* bucket size in bytes */
    uint64_t grain;                     /* most bytes taken per decision */
    int64_t burst_ub;                   /* bucket size in micro-bytes */
    bucket global[2];                   /* --bandwidth-shared: by direction (0 egress, 1 ingress) */
    char rate_text[24], burst_text[24]; /* exact, for events */
} bandwidth_state;

typedef struct conn_state {
    bucket own[2]; /* by direction */
    bool told[2];  /* the throttling event was published */
} conn_state;

static const char *const unit_choices[] = {"Bps|B/s", "KBps|KiBps|KB/s|KiB/s",
                                           "MBps|MiBps|MB/s|MiB/s", "GBps|GiBps|GB/s|GiB/s", NULL};
static const uint64_t unit_bytes[] = {1, UINT64_C(1) << 10, UINT64_C(1) << 20, UINT64_C(1) << 30};

#define OFF(f) offsetof(bandwidth_state, f)

static const fault_option options[] = {
    {.name = "with-bandwidth",
     .env = "FAULT_WITH_BANDWIDTH",
     .type = FAULT_OPT_BOOL,
     .help = "Enable the bandwidth fault",
     .offset = OFF(enabled),
     .flags = FAULT_OPTF_ENABLE},
    {.name = "bandwidth-side",
     .env = "FAULT_BANDWIDTH_SIDE",
     .type = FAULT_OPT_SIDE,
     .def = "server",
     .metavar = "SIDE",
     .help = "Leg of the connection to throttle",
     .offset = OFF(side)},
    {.name = "bandwidth-direction",
     .env = "FAULT_BANDWIDTH_DIRECTION",
     .type = FAULT_OPT_DIRECTION,
     .def = "ingress",
     .metavar = "DIR",
     .help = "Traffic to throttle: ingress (responses), egress (requests) or both "
             "(each direction gets the rate)",
     .offset = OFF(direction)},
    {.name = "bandwidth-rate",
     .env = "FAULT_BANDWIDTH_RATE",
     .type = FAULT_OPT_INT,
     .def = "1000",
     .metavar = "N",
     .help = "Rate, a positive integer of --bandwidth-unit",
     .offset = OFF(rate),
     .min = 1,
     .max = (double)MAX_RATE_BPS},
    {.name = "bandwidth-unit",
     .env = "FAULT_BANDWIDTH_UNIT",
     .type = FAULT_OPT_ENUM,
     .def = "Bps",
     .choices = unit_choices,
     .metavar = "UNIT",
     .help = "Unit of the rate, any case; binary: 1 KBps = 1024 bytes/s, 1 MBps = 1024 KBps",
     .offset = OFF(unit)},
    {.name = "bandwidth-shared",
     .env = "FAULT_BANDWIDTH_SHARED",
     .type = FAULT_OPT_BOOL,
     .help = "One bucket shared by every connection (default: one per connection)",
     .offset = OFF(shared)},
    {.name = "bandwidth-sched",
     .env = "FAULT_BANDWIDTH_SCHED",
     .type = FAULT_OPT_SCHEDULE,
     .help = "When the fault is on, e.g. \"start:10s,duration:30s;start:80%\"",
     .offset = OFF(sched)},
    FAULT_OPTION_END};

static int configure(fault_plugin *self, void *state)
{
    bandwidth_state *st = state;
    uint64_t mult = unit_bytes[st->unit];
    /* The option bounds keep rate in 1..2^40; the product must stay there
     * too, which is what makes the bucket arithmetic overflow-free. */
    if (st->rate < 1 || (uint64_t)st->rate > MAX_RATE_BPS / mult) {
        fault_plugin_error(self, "--bandwidth-rate %" PRId64 " %.*s is above 1024 GBps (2^40 B/s)",
                           st->rate, (int)strcspn(unit_choices[st->unit], "|"),
                           unit_choices[st->unit]);
        return FAULT_EINVAL;
    }
    st->bps = (uint64_t)st->rate * mult;
    st->burst = st->bps * BURST_MS / 1000;
    if (st->burst < 1)
        st->burst = 1;
    st->burst_ub = (int64_t)st->burst * UB_PER_BYTE;
    st->grain = st->bps * GRAIN_MS / 1000;
    if (st->grain < 1)
        st->grain = 1;
    snprintf(st->rate_text, sizeof st->rate_text, "%" PRIu64, st->bps);
    snprintf(st->burst_text, sizeof st->burst_text, "%" PRIu64, st->burst);
    return 0;
}

/*
 * Brings b up to now: level += elapsed * rate, capped at the burst.
 *
 * Overflow: rate <= 2^40 and burst <= rate / 20, so the capacity in
 * micro-bytes is below 2^40 / 20 * 10^6 < 2^56; the debt below zero is at
 * most one grain (<= burst) per connection. The gap to
 * fill is therefore far below 2^63, and the product elapsed * rate is only
 * computed when elapsed <= gap / rate, so it is at most the gap.
 */
static void bucket_refill(const bandwidth_state *st, bucket *b, uint64_t now)
{
    if (!b->init) {
        b->init = true;
        b->level = 0; /* empty: no burst on a new connection */
        b->t_us = now;
        return;
    }
    if (now <= b->t_us)
        return;
    uint64_t elapsed = now - b->t_us;
    b->t_us = now;
    uint64_t gap = (uint64_t)(st->burst_ub - b->level);
    if (elapsed > gap / st->bps)
        b->level = st->burst_ub;
    else
        b->level += (int64_t)(elapsed * st->bps);
}

/* Takes n bytes from b; returns when they may leave (0: now). */
static uint64_t bucket_take(const bandwidth_state *st, bucket *b, size_t n, uint64_t now)
{
    bucket_refill(st, b, now);
    b->level -= (int64_t)n * UB_PER_BYTE;
    if (b->level >= 0)
        return 0;
    /* Back to zero after -level micro-bytes at bps per microsecond. */
    uint64_t debt = (uint64_t)(-b->level);
    return now + (debt + st->bps - 1) / st->bps;
}

static int attach(void *state, fault_stream *s, void **cs, uint32_t *points)
{
    (void)s;
    bandwidth_state *st = state;
    conn_state *c = calloc(1, sizeof *c);
    if (!c)
        return FAULT_ENOMEM;
    *cs = c;
    *points = fault_points(st->side, st->direction);
    return 0;
}

static fault_action on_data(void *state, void *cs, fault_stream *s, fault_side side,
                            fault_direction dir, fault_chunk *c, fault_verdict *v)
{
    bandwidth_state *st = state;
    conn_state *cst = cs;
    int d = dir == FAULT_DIR_INGRESS;
    bucket *b = st->shared ? &st->global[d] : &cst->own[d];
    size_t n = c->len;
    if ((uint64_t)n > st->grain) {
        n = (size_t)st->grain;
        v->bytes = n;
    }
    uint64_t now = fault_now_us();
    v->until_us = bucket_take(st, b, n, now);
    if (v->until_us && !cst->told[d]) {
        cst->told[d] = true;
        fault_param params[] = {{"rate_Bps", st->rate_text, 0},
                                {"burst_bytes", st->burst_text, 0},
                                {"shared", st->shared ? "yes" : "no", 0}};
        fault_event_fault_applied(fault_plugin_self(st), fault_stream_id(s), side, dir, params, 3);
        fault_log_debug(fault_plugin_self(st), "#%llu %s %s throttled to %s B/s",
                        (unsigned long long)fault_stream_id(s), fault_side_name(side),
                        fault_direction_name(dir), st->rate_text);
    }
    return FAULT_PASS;
}

static const fault_stream_ops stream_ops = {
    .attach = attach,
    .on_data = on_data,
};

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "bandwidth", .version = PACKAGE_VERSION,
                    .summary = "Bandwidth: cap throughput with a token bucket",
                    .license = "Apache-2.0", .options = options,
                    .state_size = sizeof(bandwidth_state), .configure = configure,
                    .stream = &stream_ops);
