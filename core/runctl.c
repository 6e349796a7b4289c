/*
 * core/runctl.c - the run's clock: switches each fault on and off along its
 * schedule, ends the run at --duration, and stops cleanly on SIGINT/SIGTERM.
 *
 * A schedule is resolved once into windows of the run; one timer per
 * plugin fires at the next edge, so a fault turns on or off within a loop
 * iteration of when it should, whatever the traffic.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

fault__run fault__g;

int fault__sched_prepare(void)
{
    for (fault_plugin *p = fault__plugins(); p; p = p->next) {
        if (!p->sched)
            continue;
        char err[256];
        if (fault__schedule_resolve(p->sched, fault__g.duration_us, err, sizeof err) != 0) {
            /* Name the flag the schedule came from. */
            const char *flag = "schedule";
            for (const fault_option *o = p->d->options; o && o->name; o++)
                if (o->type == FAULT_OPT_SCHEDULE)
                    flag = o->name;
            if (p->ordinal > 1)
                fprintf(stderr, "fault: %s: --%s: '%s': %s\n", p->name, flag, p->sched->text, err);
            else
                fprintf(stderr, "fault: --%s: '%s': %s\n", flag, p->sched->text, err);
            return 2;
        }
    }
    return 0;
}

void fault__plugin_set_active(fault_plugin *p, bool active)
{
    if (p->active == active)
        return;
    p->active = active;
    fault_event ev = {.type = FAULT_EV_FAULT_STATE, .size = sizeof ev};
    ev.fault = fault_plugin_name(p);
    ev.active = active;
    fault_event_publish(p, &ev);
    fault_log_info(p, "%s by schedule at %.3fs", active ? "on" : "off",
                   (double)fault_run_elapsed_us() / 1e6);
    if (p->d->stream && p->d->stream->on_active)
        p->d->stream->on_active(p->state, active);
    if (!active)
        fault__streams_wake_plugin(p);
}

static void on_sched_edge(uv_timer_t *t)
{
    fault_plugin *p = t->data;
    uint64_t el = fault_run_elapsed_us();
    fault__plugin_set_active(p, p->enabled && fault__schedule_active_at(p->sched, el));
    uint64_t next = fault__schedule_next_edge(p->sched, el);
    if (next != UINT64_MAX && !fault__g.stopping)
        uv_timer_start(t, on_sched_edge, (next - el + 999) / 1000, 0);
}

static void on_duration(uv_timer_t *t)
{
    (void)t;
    fault_log_info(NULL, "run duration reached");
    fault__runctl_stop(0);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    if (fault__g.stopping) {
        /* A second Ctrl-C while draining: give up waiting. */
        fprintf(stderr, "\nfault: interrupted twice, exiting\n");
        exit(130);
    }
    fault_log_info(NULL, "signal %d, stopping", signum);
    fault__runctl_stop(signum == SIGINT ? 130 : 143);
}

int fault__runctl_start(void)
{
    uv_loop_t *loop = fault__g.loop;
    fault__g.start_us = fault_now_us();
    for (fault_plugin *p = fault__plugins(); p; p = p->next) {
        if (!p->sched) {
            p->active = p->enabled;
            continue;
        }
        p->active = p->enabled && fault__schedule_active_at(p->sched, 0);
        uint64_t next = fault__schedule_next_edge(p->sched, 0);
        if (p->enabled && next != UINT64_MAX) {
            uv_timer_init(loop, &p->sched_timer);
            p->sched_timer.data = p;
            p->sched_timer_init = true;
            uv_timer_start(&p->sched_timer, on_sched_edge, (next + 999) / 1000, 0);
        }
    }
    if (fault__g.duration_us) {
        uv_timer_init(loop, &fault__g.duration_timer);
        uv_timer_start(&fault__g.duration_timer, on_duration, (fault__g.duration_us + 999) / 1000,
                       0);
    }
    uv_signal_init(loop, &fault__g.sigint);
    uv_signal_start(&fault__g.sigint, on_signal, SIGINT);
    uv_signal_init(loop, &fault__g.sigterm);
    uv_signal_start(&fault__g.sigterm, on_signal, SIGTERM);
    fault__g.signals_open = true;
    return 0;
}

void fault__runctl_stop(int status)
{
    if (fault__g.stopping)
        return;
    fault__g.stopping = true;
    fault__g.exit_status = status;
    fault__listeners_close_all();
    for (fault_plugin *p = fault__plugins(); p; p = p->next) {
        if (p->sched_timer_init) {
            uv_close((uv_handle_t *)&p->sched_timer, NULL);
            p->sched_timer_init = false;
        }
        if (p->started && p->d->stop)
            p->d->stop(p, p->state);
        p->started = false;
    }
    fault__connects_cancel_all();
    fault__streams_close_all();
    fault__ui_stop();
    if (fault__g.duration_us)
        uv_close((uv_handle_t *)&fault__g.duration_timer, NULL);
    /* The signal handlers stay for a second Ctrl-C while what was asked to
     * stop drains (plugins flushing, connections closing); unreferenced,
     * they do not keep the loop running once nothing else does. */
    if (fault__g.signals_open) {
        uv_unref((uv_handle_t *)&fault__g.sigint);
        uv_unref((uv_handle_t *)&fault__g.sigterm);
    }
}

void fault__runctl_close_signals(void)
{
    if (!fault__g.signals_open)
        return;
    fault__g.signals_open = false;
    uv_close((uv_handle_t *)&fault__g.sigint, NULL);
    uv_close((uv_handle_t *)&fault__g.sigterm, NULL);
}
