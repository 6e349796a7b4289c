/*
 * plugins/scenario/strategies.c - how an item's calls are made: a single
 * shot, a repeat (optionally after a fault-free baseline, the latency mean
 * growing by `step` each iteration), or a load held open-loop; and how a
 * single call is judged against `expect`.
 *
 * The load is open-loop: request i is due at t0 + i / (clients * rps) and
 * is sent then, however many earlier requests are still waiting for an
 * answer. A closed loop (each client waiting for its answer before the
 * next request) would send less when the target slows down, hiding
 * exactly the slowness the faults cause. Client c sends requests c,
 * c + clients, ...: each client holds its rps, evenly staggered.
 * Due times are computed from t0, never from the previous send, so timer
 * lateness does not accumulate.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "runner.h"

size_t sc_plan(const sc_item *it, sc_plan_run **out)
{
    const sc_strategy *s = &it->strategy;
    size_t n = s->mode == SC_REPEAT ? (size_t)s->count + (s->add_baseline_call ? 1 : 0) : 1;
    sc_plan_run *p = calloc(n ? n : 1, sizeof *p);
    *out = p;
    if (!p)
        return 0;
    if (s->mode == SC_LOAD) {
        p[0].load = true;
        return 1;
    }
    if (s->mode == SC_SINGLE)
        return 1;
    size_t k = 0;
    if (s->add_baseline_call) {
        p[k].baseline = true;
        p[k].iteration = -1;
        k++;
    }
    for (int64_t i = 0; i < s->count; i++, k++) {
        p[k].iteration = (int)i;
        p[k].mean_add = s->step * (double)i;
    }
    return n;
}

void sc_judge_call(const sc_item *it, sc_call *c)
{
    char why[512] = "";
    c->evaluated = true;
    if (c->errored)
        snprintf(why, sizeof why, "%s%s", c->timed_out ? "timed out: " : "",
                 c->error ? c->error : "no answer");
    else if (it->has_status && c->status != it->status)
        snprintf(why, sizeof why, "status %d, expected %d", c->status, it->status);
    else if (it->has_rtu && c->response_ms >= it->response_time_under)
        snprintf(why, sizeof why, "response time %.2f ms, expected under %g ms", c->response_ms,
                 it->response_time_under);
    c->success = !why[0];
    free(c->reason);
    c->reason = why[0] ? strdup(why) : NULL;
}

/* ---- load ---- */

struct sc_load {
    sc_runner *R;
    uv_timer_t timer;
    uint64_t t0_ns, interval_ns;
    uint64_t total, issued, ended, clients;
    bool cancelled, done_reported;
    sc_load_done_cb done;
    void *ud;
};

static void load_closed(uv_handle_t *h)
{
    free(h->data);
}

static void check_done(sc_load *l)
{
    if (l->cancelled || l->done_reported || l->issued < l->total || l->ended < l->issued)
        return;
    l->done_reported = true;
    l->done(l->ud);
}

static void on_tick(uv_timer_t *t)
{
    sc_load *l = t->data;
    if (l->cancelled)
        return;
    uint64_t now = uv_hrtime();
    while (l->issued < l->total && l->t0_ns + l->issued * l->interval_ns <= now) {
        int client = (int)(l->issued % l->clients);
        l->issued++;
        if (sc_runner_start_call(l->R, client) != 0) {
            /* Could not even start (out of memory): it ended already. */
            l->ended++;
        }
    }
    if (l->issued < l->total) {
        uint64_t due = l->t0_ns + l->issued * l->interval_ns;
        uint64_t wait_ms = due > now ? (due - now + 999999) / 1000000 : 0;
        /* The loop's clock is cached at the start of its turn: refresh
         * it so the timer counts from now, not from then. */
        uv_update_time(t->loop);
        uv_timer_start(&l->timer, on_tick, wait_ms, 0);
    }
    check_done(l);
}

sc_load *sc_load_start(sc_runner *R, uv_loop_t *loop, const sc_strategy *s, sc_load_done_cb done,
                       void *ud)
{
    sc_load *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->R = R;
    l->done = done;
    l->ud = ud;
    l->clients = (uint64_t)s->clients;
    uint64_t per_s = (uint64_t)s->clients * (uint64_t)s->rps;
    l->interval_ns = 1000000000u / per_s;
    /* Every client sends rps requests in each second of the duration. */
    l->total = (uint64_t)((double)per_s * ((double)s->duration_us / 1e6) + 0.5);
    if (l->total == 0)
        l->total = 1;
    uv_timer_init(loop, &l->timer);
    l->timer.data = l;
    l->t0_ns = uv_hrtime();
    /* The first request goes out on the next turn, so that done never
     * runs before the caller has the handle. */
    uv_timer_start(&l->timer, on_tick, 0, 0);
    return l;
}

void sc_load_call_ended(sc_load *l)
{
    l->ended++;
    check_done(l);
}

void sc_load_cancel(sc_load *l)
{
    l->cancelled = true;
    uv_timer_stop(&l->timer);
    uv_close((uv_handle_t *)&l->timer, load_closed);
}

void sc_load_free(sc_load *l)
{
    if (!l)
        return;
    uv_timer_stop(&l->timer);
    uv_close((uv_handle_t *)&l->timer, load_closed);
}
