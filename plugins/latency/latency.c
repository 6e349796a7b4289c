/*
 * plugins/latency/latency.c - the latency fault.
 *
 * Delays bytes by a duration drawn from a distribution (uniform, normal,
 * pareto, pareto-normal), once per connection (the first chunk at each hook
 * point) or for every read/write (--latency-per-read-write). On HTTP
 * traffic "once per connection" is once per exchange: the HTTP handler says
 * when the next request begins (on_exchange), so every request of a
 * keep-alive connection, and every HTTP/2 stream, is delayed.
 *
 * A chunk is released at (the time it reached this point) + (its delay).
 * Two consequences, both on purpose: the delay adds to whatever the
 * upstream itself took, since the clock starts only when its bytes arrive;
 * and per-read/write delays do not pile up, since each chunk's clock
 * starts at its own arrival (bytes are still never reordered).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fault/plugin.h>

typedef struct latency_state {
    bool enabled;
    bool per_rw;
    fault_side side;
    fault_direction direction;
    int distribution; /* index into dist_choices == fault_dist_kind */
    double mean, stddev, shape, scale, min, max;
    fault_schedule *sched;
    fault_distribution dist;
} latency_state;

typedef struct conn_state {
    uint32_t done; /* hook points that already had their one delay */
} conn_state;

static const char *const dist_choices[] = {"uniform", "normal", "pareto",
                                           "pareto-normal|paretonormal|pareto_normal", NULL};

#define OFF(f) offsetof(latency_state, f)

static const fault_option options[] = {
    {.name = "with-latency",
     .env = "FAULT_WITH_LATENCY",
     .type = FAULT_OPT_BOOL,
     .help = "Enable the latency fault",
     .offset = OFF(enabled),
     .flags = FAULT_OPTF_ENABLE},
    {.name = "latency-per-read-write",
     .env = "FAULT_LATENCY_PER_READ_WRITE",
     .type = FAULT_OPT_BOOL,
     .help = "Delay every read/write, not only the first of a connection",
     .offset = OFF(per_rw)},
    {.name = "latency-side",
     .env = "FAULT_LATENCY_SIDE",
     .type = FAULT_OPT_SIDE,
     .def = "server",
     .metavar = "SIDE",
     .help = "Leg of the connection to delay",
     .offset = OFF(side)},
    {.name = "latency-direction",
     .env = "FAULT_LATENCY_DIRECTION",
     .type = FAULT_OPT_DIRECTION,
     .def = "ingress",
     .metavar = "DIR",
     .help = "Traffic to delay: ingress (responses), egress (requests) or both",
     .offset = OFF(direction)},
    {.name = "latency-distribution",
     .env = "FAULT_LATENCY_DISTRIBUTION",
     .type = FAULT_OPT_ENUM,
     .def = "normal",
     .choices = dist_choices,
     .metavar = "DIST",
     .help = "Distribution of the delays",
     .offset = OFF(distribution)},
    {.name = "latency-mean",
     .env = "FAULT_LATENCY_MEAN",
     .type = FAULT_OPT_DOUBLE,
     .metavar = "MS",
     .help = "Mean delay in ms (normal, pareto-normal)",
     .offset = OFF(mean),
     .min = 0,
     .max = 3.6e6},
    {.name = "latency-stddev",
     .env = "FAULT_LATENCY_STANDARD_DEVIATION",
     .type = FAULT_OPT_DOUBLE,
     .metavar = "MS",
     .help = "Standard deviation in ms (normal, pareto-normal)",
     .offset = OFF(stddev),
     .min = 0,
     .max = 3.6e6},
    {.name = "latency-shape",
     .env = "FAULT_LATENCY_SHAPE",
     .type = FAULT_OPT_DOUBLE,
     .metavar = "NUM",
     .help = "Shape of the tail (pareto, pareto-normal)",
     .offset = OFF(shape),
     .min = 0,
     .max = 1e6},
    {.name = "latency-scale",
     .env = "FAULT_LATENCY_SCALE",
     .type = FAULT_OPT_DOUBLE,
     .metavar = "MS",
     .help = "Scale in ms (pareto, pareto-normal)",
     .offset = OFF(scale),
     .min = 0,
     .max = 3.6e6},
    {.name = "latency-min",
     .env = "FAULT_LATENCY_MIN",
     .type = FAULT_OPT_DOUBLE,
     .metavar = "MS",
     .help = "Smallest delay in ms (uniform)",
     .offset = OFF(min),
     .min = 0,
     .max = 3.6e6},
    {.name = "latency-max",
     .env = "FAULT_LATENCY_MAX",
     .type = FAULT_OPT_DOUBLE,
     .metavar = "MS",
     .help = "Largest delay in ms (uniform)",
     .offset = OFF(max),
     .min = 0,
     .max = 3.6e6},
    {.name = "latency-sched",
     .env = "FAULT_LATENCY_SCHED",
     .type = FAULT_OPT_SCHEDULE,
     .help = "When the fault is on, e.g. \"start:10s,duration:30s;start:80%\"",
     .offset = OFF(sched)},
    FAULT_OPTION_END};

/* Each distribution needs its own parameters: say which flag is missing. */
static int require(fault_plugin *self, const char *flag, const char *dist)
{
    if (fault_option_is_set(self, flag))
        return 0;
    fault_plugin_error(self, "--%s is required with --latency-distribution %s", flag, dist);
    return FAULT_EINVAL;
}

static int configure(fault_plugin *self, void *state)
{
    latency_state *st = state;
    fault_distribution *d = &st->dist;
    d->kind = (fault_dist_kind)st->distribution;
    d->mean = st->mean;
    d->stddev = st->stddev;
    d->shape = st->shape;
    d->scale = st->scale;
    d->min = st->min;
    d->max = st->max;
    int rc = 0;
    switch (d->kind) {
    case FAULT_DIST_UNIFORM:
        rc = require(self, "latency-max", "uniform");
        /* A mean or deviation the uniform draw would ignore is a mistake
         * the user should hear about, not a silent no-op. */
        for (const char *const *o = (const char *const[]){"latency-mean", "latency-stddev", NULL};
             rc == 0 && *o; o++) {
            if (fault_option_is_set(self, *o)) {
                fault_plugin_error(self,
                                   "--%s has no effect with --latency-distribution uniform "
                                   "(give --latency-min and --latency-max)",
                                   *o);
                rc = FAULT_EINVAL;
            }
        }
        break;
    case FAULT_DIST_NORMAL:
        rc = require(self, "latency-mean", "normal");
        break;
    case FAULT_DIST_PARETO:
        if ((rc = require(self, "latency-scale", "pareto")) == 0)
            rc = require(self, "latency-shape", "pareto");
        break;
    case FAULT_DIST_PARETO_NORMAL:
        if ((rc = require(self, "latency-scale", "pareto-normal")) == 0 &&
            (rc = require(self, "latency-shape", "pareto-normal")) == 0)
            rc = require(self, "latency-mean", "pareto-normal");
        break;
    }
    if (rc < 0)
        return rc;
    char err[256];
    if (fault_distribution_check(d, err, sizeof err) != 0) {
        fault_plugin_error(self, "%s", err);
        return FAULT_EINVAL;
    }
    return 0;
}

static int attach(void *state, fault_stream *s, void **cs, uint32_t *points)
{
    (void)s;
    latency_state *st = state;
    *points = fault_points(st->side, st->direction);
    if (!st->per_rw) {
        conn_state *c = calloc(1, sizeof *c);
        if (!c)
            return FAULT_ENOMEM;
        *cs = c;
    }
    return 0;
}

static fault_action on_data(void *state, void *cs, fault_stream *s, fault_side side,
                            fault_direction dir, fault_chunk *c, fault_verdict *v)
{
    latency_state *st = state;
    conn_state *cst = cs;
    if (cst) {
        uint32_t bit = fault_points(side, dir);
        if (cst->done & bit)
            return FAULT_PASS;
        cst->done |= bit;
    }
    double ms = fault_distribution_sample(&st->dist, fault_plugin_rng(fault_plugin_self(st)));
    /* A heavy tail can draw absurd values: no delay exceeds an hour. */
    if (ms > 3.6e6)
        ms = 3.6e6;
    v->until_us = c->arrived_us + (uint64_t)(ms * 1000.0);
    fault_param params[] = {{"delay_ms", NULL, ms},
                            {"distribution", dist_choices[st->distribution], 0}};
    /* Aliases share an entry: show the first spelling only. */
    char name[32];
    snprintf(name, sizeof name, "%s", dist_choices[st->distribution]);
    name[strcspn(name, "|")] = '\0';
    params[1].str = name;
    fault_event_fault_applied(fault_plugin_self(st), fault_stream_id(s), side, dir, params, 2);
    fault_log_debug(fault_plugin_self(st), "#%llu %s %s delay %.3f ms",
                    (unsigned long long)fault_stream_id(s), fault_side_name(side),
                    fault_direction_name(dir), ms);
    return FAULT_PASS;
}

/* The next HTTP exchange on the connection: its first chunks are delayed
 * again. */
static void on_exchange(void *state, void *cs, fault_stream *s)
{
    (void)state;
    (void)s;
    conn_state *cst = cs;
    if (cst)
        cst->done = 0;
}

static const fault_stream_ops stream_ops = {
    .attach = attach,
    .on_data = on_data,
    .on_exchange = on_exchange,
};

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "latency", .version = PACKAGE_VERSION,
                    .summary = "Latency: delay traffic by a drawn amount", .license = "Apache-2.0",
                    .options = options, .state_size = sizeof(latency_state), .configure = configure,
                    .stream = &stream_ops);
