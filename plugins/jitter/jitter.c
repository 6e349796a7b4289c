/*
 * plugins/jitter/jitter.c - the jitter fault.
 *
 * What it does
 * ------------
 * Occasional random delay spikes on a stream, at a rate given in Hz:
 *
 *   --jitter-frequency F   (Hz, default 5.0, env FAULT_JITTER_FREQ)
 *   --jitter-amplitude A   (ms, default 20.0: the largest delay of a spike)
 *
 * On each hook point of each connection (--jitter-side, default server;
 * --jitter-direction, default ingress; both directions are two independent
 * points), jitter events happen as a Poisson process of rate F per second
 * of traffic time. It is not a probability per read: how the bytes happen
 * to be chunked changes nothing, and a stream carrying traffic for T
 * seconds sees F * T events on average (Poisson distributed).
 *
 * Traffic time is the wall-clock time between the arrivals of consecutive
 * chunks at the point, each gap counting for at most IDLE_CAP_US (1 s):
 * a keep-alive connection that sits idle for a minute does not store up
 * sixty seconds of spikes. It starts at the first chunk of the point and
 * only runs while the fault is active (chunks that pass while a schedule
 * has it off are not seen, so the gap over the off period is capped too).
 *
 * An event delays the chunk that reaches the point at (or right after) the
 * event's moment of traffic time: the chunk is released at its arrival
 * time plus a delay drawn uniformly in [0, A] ms. Delays count from the
 * chunk's own arrival, so they do not add up along a stream; when several
 * events fall on one chunk (a gap longer than 1/F), the longest delay wins.
 * Chunks behind a delayed chunk wait for it (the relay never reorders
 * bytes), then leave at their own arrival time plus their own delay, if
 * any, whichever is later.
 *
 * Events
 * ------
 * One "jitter" fault event per delayed chunk, with delay_ms (the delay
 * applied) and events (the number of Poisson events that fell on it,
 * usually 1). The sum of `events` over a stream is the Poisson count.
 *
 * Randomness
 * ----------
 * Each hook point of each connection has its own generator seeded from the
 * plugin's generator (so from --seed) when the connection attaches: the
 * draws of one stream do not depend on the timing of another. Event times
 * still depend on when bytes arrive, which is the point of the fault.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include <fault/plugin.h>

/* A gap between two chunks counts as traffic time for at most this long. */
#define IDLE_CAP_US 1000000.0
/* Bounds of the flags: an hour of delay, a kilohertz of spikes (timers
 * have millisecond resolution: faster spikes could not be told apart). */
#define MAX_AMPLITUDE_MS 3.6e6
#define MAX_FREQUENCY_HZ 1000.0

typedef struct jitter_state {
    bool enabled;
    double amplitude_ms;
    double frequency_hz;
    fault_side side;
    fault_direction direction;
    fault_schedule *sched;
} jitter_state;

/* The Poisson clock of one hook point of one connection. */
typedef struct point_state {
    bool started;
    uint64_t last_us; /* arrival of the previous chunk */
    double tau_us;    /* traffic time so far */
    double next_us;   /* traffic time of the next event */
    fault_rng rng;
} point_state;

typedef struct conn_state {
    point_state pt[4]; /* by hook point bit index */
} conn_state;

#define OFF(f) offsetof(jitter_state, f)

static const fault_option options[] = {
    {.name = "with-jitter",
     .env = "FAULT_WITH_JITTER",
     .type = FAULT_OPT_BOOL,
     .help = "Enable the jitter fault",
     .offset = OFF(enabled),
     .flags = FAULT_OPTF_ENABLE},
    {.name = "jitter-amplitude",
     .env = "FAULT_JITTER_AMPLITUDE",
     .type = FAULT_OPT_DOUBLE,
     .def = "20.0",
     .metavar = "MS",
     .help = "Largest delay of a jitter event in ms (each is uniform in 0..MS)",
     .offset = OFF(amplitude_ms),
     .min = 0,
     .max = MAX_AMPLITUDE_MS},
    {.name = "jitter-frequency",
     .env = "FAULT_JITTER_FREQ",
     .type = FAULT_OPT_DOUBLE,
     .def = "5.0",
     .metavar = "HZ",
     .help = "Jitter events per second of traffic (Poisson rate, not a probability)",
     .offset = OFF(frequency_hz),
     .min = 0,
     .max = MAX_FREQUENCY_HZ},
    {.name = "jitter-side",
     .env = "FAULT_JITTER_SIDE",
     .type = FAULT_OPT_SIDE,
     .def = "server",
     .metavar = "SIDE",
     .help = "Leg of the connection to jitter",
     .offset = OFF(side)},
    {.name = "jitter-direction",
     .env = "FAULT_JITTER_DIRECTION",
     .type = FAULT_OPT_DIRECTION,
     .def = "ingress",
     .metavar = "DIR",
     .help = "Traffic to jitter: ingress (responses), egress (requests) or both",
     .offset = OFF(direction)},
    {.name = "jitter-sched",
     .env = "FAULT_JITTER_SCHED",
     .type = FAULT_OPT_SCHEDULE,
     .help = "When the fault is on, e.g. \"start:10s,duration:30s;start:80%\"",
     .offset = OFF(sched)},
    FAULT_OPTION_END};

/* Traffic time to the next event: exponential with mean 1/F seconds. */
static double next_gap_us(const jitter_state *st, fault_rng *rng)
{
    if (st->frequency_hz <= 0)
        return INFINITY;
    /* 1 - U is in (0, 1]: the logarithm is finite. */
    return -log(1.0 - fault_rng_uniform(rng)) * 1e6 / st->frequency_hz;
}

static int attach(void *state, fault_stream *s, void **cs, uint32_t *points)
{
    (void)s;
    jitter_state *st = state;
    conn_state *c = calloc(1, sizeof *c);
    if (!c)
        return FAULT_ENOMEM;
    uint64_t seed = fault_rng_u64(fault_plugin_rng(fault_plugin_self(st)));
    for (unsigned i = 0; i < 4; i++)
        fault_rng_seed(&c->pt[i].rng, seed + i);
    *cs = c;
    *points = fault_points(st->side, st->direction);
    return 0;
}

static fault_action on_data(void *state, void *cs, fault_stream *s, fault_side side,
                            fault_direction dir, fault_chunk *c, fault_verdict *v)
{
    jitter_state *st = state;
    conn_state *cst = cs;
    point_state *ps = &cst->pt[__builtin_ctz(fault_points(side, dir))];

    /* Advance this point's traffic time to the chunk's arrival. */
    if (!ps->started) {
        ps->started = true;
        ps->tau_us = 0;
        ps->next_us = next_gap_us(st, &ps->rng);
    } else if (c->arrived_us > ps->last_us) {
        double gap = (double)(c->arrived_us - ps->last_us);
        ps->tau_us += gap < IDLE_CAP_US ? gap : IDLE_CAP_US;
    }
    ps->last_us = c->arrived_us;

    /* Every event up to now falls on this chunk; the longest delay wins. */
    unsigned events = 0;
    double ms = 0;
    while (ps->next_us <= ps->tau_us) {
        events++;
        double d = fault_rng_uniform(&ps->rng) * st->amplitude_ms;
        if (d > ms)
            ms = d;
        ps->next_us += next_gap_us(st, &ps->rng);
    }
    if (events == 0)
        return FAULT_PASS;
    v->until_us = c->arrived_us + (uint64_t)(ms * 1000.0);
    fault_param params[] = {{"delay_ms", NULL, ms}, {"events", NULL, (double)events}};
    fault_event_fault_applied(fault_plugin_self(st), fault_stream_id(s), side, dir, params, 2);
    fault_log_debug(fault_plugin_self(st), "#%llu %s %s jitter %.3f ms (%u events)",
                    (unsigned long long)fault_stream_id(s), fault_side_name(side),
                    fault_direction_name(dir), ms, events);
    return FAULT_PASS;
}

static const fault_stream_ops stream_ops = {
    .attach = attach,
    .on_data = on_data,
};

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "jitter", .version = PACKAGE_VERSION,
                    .summary = "Jitter: random delay spikes at a rate in Hz",
                    .license = "Apache-2.0", .options = options, .state_size = sizeof(jitter_state),
                    .stream = &stream_ops);
