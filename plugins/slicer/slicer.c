/*
 * plugins/slicer/slicer.c - the slicer fault: bytes arrive in many small
 * pieces, spaced in time, as over a path that fragments and paces them.
 *
 * Every chunk of the selected direction (--slicer-direction, default
 * ingress: upstream to client) is cut into consecutive slices whose sizes
 * are drawn uniformly from the integers
 *     [average - variation, average + variation]
 * (--slicer-average-size, default 64 bytes; --slicer-size-variation,
 * default 32 bytes; the variation must be smaller than the average, so
 * every slice has at least one byte and the mean slice is the average).
 * A chunk's last slice is what remains of it, so it may be shorter. Each
 * slice is handed to the destination socket as its own write; the proxy's
 * sockets use TCP_NODELAY, so each leaves as its own segment.
 *
 * Consecutive slices of a direction are spaced by --slicer-delay US
 * microseconds (default 1000): a slice is written no earlier than DELAY
 * after the previous one. Bytes that arrive while the proxy is still
 * slicing earlier ones queue behind them (never reordered) and keep the
 * spacing; bytes that arrive after a pause longer than DELAY go out at
 * once. The relay's timers have millisecond resolution and round up, so a
 * non-zero delay below 1 ms is felt as about 1 ms per slice; 0 writes the
 * slices back to back. A slow slicer is felt as backpressure by the
 * sender, like any slow stage (the proxy stops reading it past 256 KiB).
 *
 * Per connection and per direction: the sizes are drawn from the plugin's
 * generator (reproducible with --seed). Side is not a parameter: slicing
 * is done at the last stage of the direction, just before the bytes are
 * written to the receiving peer. Schedules (--slicer-sched): only bytes
 * that reach the proxy while the fault is on are sliced; switching it off
 * releases the rest of a chunk being sliced at once.
 *
 * One fault event is published per chunk when its first slice is cut
 * (chunk_bytes, slice_bytes: the size of that first slice).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include <fault/plugin.h>

typedef struct slicer_state {
    bool enabled;
    int64_t average, variation, delay_us;
    fault_direction direction;
    fault_schedule *sched;
} slicer_state;

/* One direction of one connection. */
typedef struct dir_state {
    bool slicing;           /* the head should be the rest of a chunk we cut */
    uint64_t chunk_arrived; /* its arrived_us (the relay keeps it on the rest) */
    size_t rest_len;        /* and its length */
    uint64_t last_release;  /* when the previous slice was due to leave */
} dir_state;

typedef struct conn_state {
    dir_state d[2]; /* [0] egress, [1] ingress */
} conn_state;

#define OFF(f) offsetof(slicer_state, f)

static const fault_option options[] = {
    {.name = "with-slicer",
     .env = "FAULT_WITH_SLICER",
     .type = FAULT_OPT_BOOL,
     .help = "Enable the slicer fault: cut traffic into small delayed pieces",
     .offset = OFF(enabled),
     .flags = FAULT_OPTF_ENABLE},
    {.name = "slicer-average-size",
     .env = "FAULT_SLICER_AVERAGE_SIZE",
     .type = FAULT_OPT_INT,
     .def = "64",
     .metavar = "BYTES",
     .help = "Average slice size in bytes",
     .offset = OFF(average),
     .min = 1,
     .max = 1 << 30},
    {.name = "slicer-size-variation",
     .env = "FAULT_SLICER_SIZE_VARIATION",
     .type = FAULT_OPT_INT,
     .def = "32",
     .metavar = "BYTES",
     .help = "Slice sizes vary uniformly by up to this many bytes around the average",
     .offset = OFF(variation),
     .min = 0,
     .max = 1 << 30},
    {.name = "slicer-delay",
     .env = "FAULT_SLICER_DELAY",
     .type = FAULT_OPT_INT,
     .def = "1000",
     .metavar = "US",
     .help = "Microseconds between consecutive slices (ms resolution)",
     .offset = OFF(delay_us),
     .min = 0,
     .max = 60000000},
    {.name = "slicer-direction",
     .env = "FAULT_SLICER_DIRECTION",
     .type = FAULT_OPT_DIRECTION,
     .def = "ingress",
     .metavar = "DIR",
     .help = "Traffic to slice: ingress (responses), egress (requests) or both",
     .offset = OFF(direction)},
    {.name = "slicer-sched",
     .env = "FAULT_SLICER_SCHED",
     .type = FAULT_OPT_SCHEDULE,
     .help = "When the fault is on, e.g. \"start:10s,duration:30s\"",
     .offset = OFF(sched)},
    FAULT_OPTION_END};

static int configure(fault_plugin *self, void *state)
{
    slicer_state *st = state;
    if (st->variation >= st->average) {
        fault_plugin_error(self,
                           "--slicer-size-variation (%lld) must be smaller than "
                           "--slicer-average-size (%lld)",
                           (long long)st->variation, (long long)st->average);
        return FAULT_EINVAL;
    }
    return 0;
}

static int attach(void *state, fault_stream *s, void **cs_out, uint32_t *points)
{
    (void)s;
    slicer_state *st = state;
    fault_direction d = st->direction;
    /* The last stage of each direction: slices are written as they leave
     * this stage, so no other fault can merge or re-time them after us. */
    *points = ((d & FAULT_DIR_EGRESS) ? FAULT_POINT_SERVER_EGRESS : 0) |
              ((d & FAULT_DIR_INGRESS) ? FAULT_POINT_CLIENT_INGRESS : 0);
    conn_state *cs = calloc(1, sizeof *cs);
    if (!cs)
        return FAULT_ENOMEM;
    *cs_out = cs;
    return 0;
}

static size_t draw_size(slicer_state *st)
{
    uint64_t span = (uint64_t)(2 * st->variation + 1);
    uint64_t k = fault_rng_u64(fault_plugin_rng(fault_plugin_self(st))) % span;
    return (size_t)(st->average - st->variation + (int64_t)k);
}

static fault_action on_data(void *state, void *cs_ptr, fault_stream *s, fault_side side,
                            fault_direction dir, fault_chunk *c, fault_verdict *v)
{
    slicer_state *st = state;
    conn_state *cs = cs_ptr;
    int k = dir == FAULT_DIR_EGRESS ? 0 : 1;
    dir_state *d = &cs->d[k];
    uint64_t now = fault_now_us();
    uint64_t delay = (uint64_t)st->delay_us;

    /* The rest of a chunk we cut comes back at the head right after its
     * previous slice moved on, with the chunk's arrival time and the
     * length we left. Anything else is a new chunk (the rest of one may
     * also have passed untouched while the fault was off). */
    bool cont = d->slicing && c->arrived_us == d->chunk_arrived && c->len == d->rest_len;

    /* When may this slice leave? */
    uint64_t base;
    if (cont || c->arrived_us <= d->last_release)
        base = now; /* it waited behind the previous slice, which just left */
    else
        base = d->last_release; /* the stage was idle: the previous one left then */
    uint64_t until = delay ? base + delay : 0;

    size_t size = draw_size(st);
    if (!cont) {
        fault_param params[] = {{"chunk_bytes", NULL, (double)c->len},
                                {"slice_bytes", NULL, (double)(size < c->len ? size : c->len)}};
        fault_event_fault_applied(fault_plugin_self(st), fault_stream_id(s), side, dir, params, 2);
    }
    if (size < c->len) {
        v->bytes = size;
        d->slicing = true;
        d->chunk_arrived = c->arrived_us;
        d->rest_len = c->len - size;
    } else {
        d->slicing = false; /* the last slice: the whole head moves on */
    }
    v->until_us = until;
    d->last_release = until > now ? until : now;
    return FAULT_PASS;
}

static const fault_stream_ops stream_ops = {
    .attach = attach,
    .on_data = on_data,
};

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "slicer", .version = PACKAGE_VERSION,
                    .summary = "Slicer: cut traffic into small pieces spaced in time",
                    .license = "Apache-2.0", .options = options, .state_size = sizeof(slicer_state),
                    .configure = configure, .stream = &stream_ops);
