/*
 * plugins/packet-loss/packet-loss.c - packet loss, as a TCP stream feels it.
 *
 * What it does
 * ------------
 * TCP never loses bytes: a lost segment is retransmitted, and what the
 * application sees is a stall while that happens, during which nothing
 * after the lost segment is delivered either (head-of-line blocking).
 * Dropping bytes out of the stream, as some tools do, corrupts it instead.
 * So this fault never drops or changes a byte: it delays.
 *
 * The model
 * ---------
 * The byte stream of each hook point (--packet-loss-side, default server;
 * --packet-loss-direction, default ingress; `both` gives two independent
 * points) is cut into virtual segments of MSS bytes (--packet-loss-mss,
 * default 1460), at offsets 0, MSS, 2*MSS, ... of that direction. The
 * channel is a Gilbert-Elliott chain with a good and a bad state:
 *
 *   p          --packet-loss-p          good -> bad, per segment   (0.01)
 *   r          --packet-loss-r          bad -> good, per segment   (0.3)
 *   loss_good  --packet-loss-loss-good  loss probability, good     (0.001)
 *   loss_bad   --packet-loss-loss-bad   loss probability, bad      (0.3)
 *
 * The defaults behave like a flaky Wi-Fi link: mostly clean, with bursts
 * (about 1/r = 3.3 segments long, one every ~100 segments) where almost a
 * third of the packets are lost. The chain starts in a state drawn from
 * its stationary distribution (bad with probability p / (p + r)) and steps
 * once per segment, before the segment's fate is drawn, so every segment's
 * first transmission is lost with the stationary loss rate
 *
 *   loss = (r * loss_good + p * loss_bad) / (p + r)   (0.0106 by default)
 *
 * and a stream of N segments sees loss * N lost segments on average. (With
 * p = r = 0 the chain stays in the good state.)
 *
 * A lost segment is retransmitted; the retransmissions travel in the same
 * state as the segment (they follow within a few round trips, shorter than
 * a state lasts) and are lost with that state's probability. The delay a
 * segment suffers, with RTT = --packet-loss-rtt (default 50 ms) and
 * RTO = RTT + --packet-loss-rto (default 200 ms; Linux's retransmission
 * timeout for a steady RTT is the RTT plus its 200 ms floor):
 *
 *   first transmission lost        + RTT (fast retransmit, after dup ACKs)
 *   that retransmission lost too   + RTO, then 2*RTO, 4*RTO, ... (backoff,
 *                                  each step at most 120 s, as Linux)
 *
 * When the 15th retransmission of one segment is lost too (Linux's
 * tcp_retries2), TCP gives up on the path: the stream stalls for the whole
 * backoff (RTT + RTO + 2*RTO + ... + the 15th retransmission's timeout,
 * about 15 minutes with the defaults), then both legs are reset. A
 * "packet-loss" event with reset=yes says so when the stall starts. If
 * the schedule switches the fault off before then, the held bytes flow
 * and the connection lives.
 *
 * The stall starts when the lost segment reaches the head of the stage
 * (when it would have been sent) and holds the segment and everything
 * behind it: lost segments stall the stream one after the other. Bytes
 * before the lost segment pass at once (verdict.bytes stops at the
 * segment's start, and the stalled part runs to the next lost segment).
 * A segment's fate is drawn when its first byte is at the head; if its
 * remaining bytes arrive later, they do not pay again.
 *
 * Schedules: while --packet-loss-sched has the fault off, bytes pass
 * untouched and no segment is drawn; segments that passed then are skipped
 * when it comes back on.
 *
 * Events: one "packet-loss" fault event per lost segment (a stall), with
 * segment (its index), retransmissions, stall_ms and state (good/bad).
 *
 * Randomness: each hook point of each connection has its own generator,
 * seeded from the plugin's (so from --seed) at attach. Decisions depend
 * only on segment positions, not on how the bytes are chunked or timed:
 * the same --seed and the same byte counts give the same losses.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <fault/plugin.h>

#define MAX_RETRANSMISSIONS 15
#define MAX_RTO_US          UINT64_C(120000000)
#define MAX_MS              3.6e6

typedef struct loss_state {
    bool enabled;
    fault_side side;
    fault_direction direction;
    int64_t mss;
    double p, r, loss_good, loss_bad;
    double rtt_ms, rto_ms;
    fault_schedule *sched;
    uint64_t rtt_us, rto_us;
    /* Counts the times the schedule switched the fault off, which releases
     * every held chunk: a connection waiting to be given up on survives. */
    uint64_t offs;
} loss_state;

typedef struct point_state {
    bool started;
    bool bad;          /* the chain's state */
    uint64_t scan;     /* offset of the next segment whose fate is not drawn */
    uint64_t last_o;   /* offset of the last chunk seen */
    bool pending;      /* a lost segment ahead of the head waits its turn */
    uint64_t lost_at;  /* its offset */
    uint64_t stall_us; /* its stall */
    unsigned tries;    /* its lost transmissions */
    bool lost_bad;     /* the state it was lost in */
    bool fatal;        /* TCP gives up on it: reset after the stall */
    fault_rng rng;
} point_state;

typedef struct conn_state {
    point_state pt[4]; /* by hook point bit index */
    loss_state *st;
    fault_stream *s;
    /* Resets the stream when TCP would give up; only a stream that meets
     * a fatal loss gets one, freed by detach(). */
    fault_timer *timer;
    uint64_t offs; /* st->offs when the give-up timer started */
} conn_state;

#define OFF(f) offsetof(loss_state, f)

static const fault_option options[] = {
    {.name = "with-packet-loss",
     .env = "FAULT_WITH_PACKET_LOSS",
     .type = FAULT_OPT_BOOL,
     .help = "Enable the packet loss fault (stalls, as TCP retransmits)",
     .offset = OFF(enabled),
     .flags = FAULT_OPTF_ENABLE},
    {.name = "packet-loss-side",
     .env = "FAULT_PACKET_LOSS_SIDE",
     .type = FAULT_OPT_SIDE,
     .def = "server",
     .metavar = "SIDE",
     .help = "Leg of the connection that loses packets",
     .offset = OFF(side)},
    {.name = "packet-loss-direction",
     .env = "FAULT_PACKET_LOSS_DIRECTION",
     .type = FAULT_OPT_DIRECTION,
     .def = "ingress",
     .metavar = "DIR",
     .help = "Traffic that loses packets: ingress (responses), egress (requests) or both",
     .offset = OFF(direction)},
    {.name = "packet-loss-mss",
     .env = "FAULT_PACKET_LOSS_MSS",
     .type = FAULT_OPT_INT,
     .def = "1460",
     .metavar = "BYTES",
     .help = "Size of the virtual TCP segments",
     .offset = OFF(mss),
     .min = 1,
     .max = 1 << 20},
    {.name = "packet-loss-p",
     .env = "FAULT_PACKET_LOSS_P",
     .type = FAULT_OPT_PROBABILITY,
     .def = "0.01",
     .help = "Gilbert-Elliott: good -> bad transition probability per segment",
     .offset = OFF(p)},
    {.name = "packet-loss-r",
     .env = "FAULT_PACKET_LOSS_R",
     .type = FAULT_OPT_PROBABILITY,
     .def = "0.3",
     .help = "Gilbert-Elliott: bad -> good transition probability per segment",
     .offset = OFF(r)},
    {.name = "packet-loss-loss-good",
     .env = "FAULT_PACKET_LOSS_LOSS_GOOD",
     .type = FAULT_OPT_PROBABILITY,
     .def = "0.001",
     .help = "Loss probability of a segment in the good state",
     .offset = OFF(loss_good)},
    {.name = "packet-loss-loss-bad",
     .env = "FAULT_PACKET_LOSS_LOSS_BAD",
     .type = FAULT_OPT_PROBABILITY,
     .def = "0.3",
     .help = "Loss probability of a segment in the bad state",
     .offset = OFF(loss_bad)},
    {.name = "packet-loss-rtt",
     .env = "FAULT_PACKET_LOSS_RTT",
     .type = FAULT_OPT_DOUBLE,
     .def = "50",
     .metavar = "MS",
     .help = "Round-trip time: the stall of a fast retransmit",
     .offset = OFF(rtt_ms),
     .min = 0,
     .max = MAX_MS},
    {.name = "packet-loss-rto",
     .env = "FAULT_PACKET_LOSS_RTO",
     .type = FAULT_OPT_DOUBLE,
     .def = "200",
     .metavar = "MS",
     .help = "Minimum retransmission timeout; RTO = RTT + this, doubled per repeated loss",
     .offset = OFF(rto_ms),
     .min = 0,
     .max = MAX_MS},
    {.name = "packet-loss-sched",
     .env = "FAULT_PACKET_LOSS_SCHED",
     .type = FAULT_OPT_SCHEDULE,
     .help = "When the fault is on, e.g. \"start:10s,duration:30s;start:80%\"",
     .offset = OFF(sched)},
    FAULT_OPTION_END};

static int configure(fault_plugin *self, void *state)
{
    loss_state *st = state;
    st->rtt_us = (uint64_t)(st->rtt_ms * 1000.0);
    st->rto_us = st->rtt_us + (uint64_t)(st->rto_ms * 1000.0);
    if (st->rto_us > MAX_RTO_US)
        st->rto_us = MAX_RTO_US;
    return 0;
}

static int attach(void *state, fault_stream *s, void **cs, uint32_t *points)
{
    loss_state *st = state;
    conn_state *c = calloc(1, sizeof *c);
    if (!c)
        return FAULT_ENOMEM;
    c->st = st;
    c->s = s;
    uint64_t seed = fault_rng_u64(fault_plugin_rng(fault_plugin_self(st)));
    for (unsigned i = 0; i < 4; i++)
        fault_rng_seed(&c->pt[i].rng, seed + i);
    *cs = c;
    *points = fault_points(st->side, st->direction);
    return 0;
}

/*
 * Draws the fate of the next segment: steps the chain, then its
 * transmissions until one gets through. Returns 0 when the first
 * transmission got through, 1 when it was lost (*stall and *tries, the
 * number of lost transmissions, say what it cost), or -1 when TCP would
 * give up on the connection (*stall is then the time until it does).
 */
static int segment_fate(const loss_state *st, point_state *ps, uint64_t *stall, unsigned *tries)
{
    if (!ps->started) {
        ps->started = true;
        double pb = st->p + st->r > 0 ? st->p / (st->p + st->r) : 0;
        ps->bad = fault_rng_bernoulli(&ps->rng, pb);
    } else {
        ps->bad = fault_rng_bernoulli(&ps->rng, ps->bad ? 1.0 - st->r : st->p);
    }
    double loss = ps->bad ? st->loss_bad : st->loss_good;
    if (!fault_rng_bernoulli(&ps->rng, loss))
        return 0;
    /* Lost once: fast retransmit after about one round trip. */
    uint64_t rto = st->rto_us;
    *stall = st->rtt_us;
    *tries = 1; /* lost transmissions so far = retransmissions sent */
    while (fault_rng_bernoulli(&ps->rng, loss)) {
        /* Retransmission number *tries was lost too. */
        if (*tries >= MAX_RETRANSMISSIONS) {
            *stall += rto; /* the last timeout runs out before giving up */
            return -1;
        }
        /* Wait for the retransmission timer, backing off. */
        *stall += rto;
        rto = rto * 2 > MAX_RTO_US ? MAX_RTO_US : rto * 2;
        (*tries)++;
    }
    return 1;
}

static void publish(loss_state *st, fault_stream *s, fault_side side, fault_direction dir,
                    const point_state *ps)
{
    /* Segment numbers outgrow %g's six digits: print them exactly. */
    char seg[24];
    snprintf(seg, sizeof seg, "%" PRIu64, ps->lost_at / (uint64_t)st->mss);
    fault_param params[] = {{"segment", seg, 0},
                            {"retransmissions", NULL, (double)ps->tries},
                            {"stall_ms", NULL, (double)ps->stall_us / 1000.0},
                            {"state", ps->lost_bad ? "bad" : "good", 0},
                            {"reset", "yes", 0}};
    fault_event_fault_applied(fault_plugin_self(st), fault_stream_id(s), side, dir, params,
                              ps->fatal ? 5 : 4);
    fault_log_debug(fault_plugin_self(st), "#%llu %s %s segment %s lost %u times: stall %.3f ms",
                    (unsigned long long)fault_stream_id(s), fault_side_name(side),
                    fault_direction_name(dir), seg, ps->tries, (double)ps->stall_us / 1000.0);
}

static void on_give_up(fault_timer *t, void *ud)
{
    (void)t;
    conn_state *c = ud;
    /* If the schedule switched the fault off meanwhile, the host released
     * the held bytes: the path came back before TCP gave up. */
    if (c->st->offs != c->offs)
        return;
    /* Resetting ends the stream, which calls detach(), which frees t:
     * nothing of c may be touched after this. */
    fault_stream_reset(c->s);
}

/* The segment at the head will never get through: hold the stream for the
 * whole backoff, then reset it. */
static fault_action give_up(loss_state *st, conn_state *c, fault_stream *s, fault_side side,
                            fault_direction dir, point_state *ps)
{
    if (!c->timer && fault_timer_new(fault_plugin_self(st), on_give_up, c, &c->timer) != 0)
        return FAULT_RESET; /* no memory for the timer: give up at once */
    if (!fault_timer_armed(c->timer)) {
        c->offs = st->offs;
        fault_timer_start(c->timer, ps->stall_us);
        publish(st, s, side, dir, ps);
        fault_log_info(fault_plugin_self(st),
                       "#%llu segment %" PRIu64 " lost %d times: reset in %.3f s",
                       (unsigned long long)fault_stream_id(s), ps->lost_at / (uint64_t)st->mss,
                       MAX_RETRANSMISSIONS + 1, (double)ps->stall_us / 1e6);
    }
    /* Offered again (another plugin woke the stream), or another point
     * gave up too (one reset ends both): still held. */
    return FAULT_HOLD;
}

static fault_action on_data(void *state, void *cs, fault_stream *s, fault_side side,
                            fault_direction dir, fault_chunk *c, fault_verdict *v)
{
    loss_state *st = state;
    conn_state *cst = cs;
    point_state *ps = &cst->pt[__builtin_ctz(fault_points(side, dir))];
    uint64_t mss = (uint64_t)st->mss;
    uint64_t o = c->offset, end = o + c->len;
    uint64_t now = fault_now_us();

    /* Offsets only grow along a byte stream (a chunk offered again keeps
     * its offset); going back means a handler started a new one (a new
     * chain): segments start over from there. */
    if (o < ps->last_o) {
        ps->scan = o;
        ps->pending = false;
    }
    ps->last_o = o;
    /* Bytes that passed while the fault was off: their segments are gone,
     * and so is a loss drawn for one of them. */
    if (ps->pending && ps->lost_at < o)
        ps->pending = false;
    if (ps->scan < o)
        ps->scan = (o + mss - 1) / mss * mss;

    bool stalled = false;
    if (ps->pending) {
        if (ps->lost_at > o) {
            /* Clean bytes before the lost segment go now. */
            v->bytes = (size_t)(ps->lost_at - o);
            return FAULT_PASS;
        }
        /* The lost segment is at the head: it and what follows it wait. */
        if (ps->fatal)
            return give_up(st, cst, s, side, dir, ps);
        ps->pending = false;
        stalled = true;
        v->until_us = now + ps->stall_us;
        publish(st, s, side, dir, ps);
    }
    /* Draw the segments that start in this chunk, up to the next loss. */
    while (ps->scan < end) {
        uint64_t at = ps->scan;
        unsigned tries = 0;
        uint64_t stall = 0;
        int fate = segment_fate(st, ps, &stall, &tries);
        ps->scan += mss;
        if (fate == 0)
            continue;
        ps->pending = true;
        ps->lost_at = at;
        ps->stall_us = stall;
        ps->tries = tries;
        ps->lost_bad = ps->bad;
        ps->fatal = fate < 0;
        if (at == o && !stalled && ps->fatal)
            return give_up(st, cst, s, side, dir, ps);
        if (at == o && !stalled) {
            /* The head itself is lost. */
            ps->pending = false;
            stalled = true;
            v->until_us = now + stall;
            publish(st, s, side, dir, ps);
            continue;
        }
        /* Pass up to the lost segment (with the stall already decided for
         * the head, if any); the next call meets the loss at the head. */
        v->bytes = (size_t)(at - o);
        break;
    }
    return FAULT_PASS;
}

static void on_active(void *state, bool active)
{
    loss_state *st = state;
    if (!active)
        st->offs++;
}

static void detach(void *state, void *cs, fault_stream *s)
{
    (void)state;
    (void)s;
    conn_state *c = cs;
    fault_timer_free(c->timer);
    free(c);
}

static const fault_stream_ops stream_ops = {
    .attach = attach,
    .on_data = on_data,
    .on_active = on_active,
    .detach = detach,
};

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "packet-loss", .version = PACKAGE_VERSION,
                    .summary = "Packet loss: TCP retransmission stalls, Gilbert-Elliott channel",
                    .license = "Apache-2.0", .options = options, .state_size = sizeof(loss_state),
                    .configure = configure, .stream = &stream_ops);
