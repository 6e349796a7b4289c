/*
 * plugins/scenario/events.c - which fault events happened to which call.
 *
 * The child proxy reports every fault it applies with the connection it
 * applied it to. Two kinds of connections reach it:
 *
 *  - our own calls, when they go through the proxy (or to a TCP mapping):
 *    the proxy's conn_open event names the client's ip:port, which is our
 *    call's local address (CURLINFO_LOCAL_PORT). A fault on that
 *    connection belongs to our call that was in flight on it at the time
 *    (keep-alive connections carry several calls one after another).
 *
 *  - calls the application under test makes to its upstreams while it
 *    serves our call. Nothing on the wire links them to our call, so time
 *    does: the fault belongs to the call of ours that was in flight when
 *    the faulted exchange began (its http_request event, or conn_open for
 *    a TCP mapping), the latest started one if several were. With one
 *    call at a time (single shot, repeat) this is exact; under load it is
 *    the best guess, and each fault is attributed once, never to every
 *    call that overlapped it.
 *
 * The same events give the fault timeline: a scheduled fault is off until
 * its fault_state event says otherwise; an unscheduled one is on for the
 * child's whole life.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "runner.h"

#define SLACK_US 2000 /* clocks of child and parent are one, but events lag */

typedef struct conn_info {
    char *peer;   /* borrowed from the events */
    char *target; /* upstream host:port (latest exchange) */
    uint64_t open_wall, exchange_wall;
    bool known;
} conn_info;

typedef struct order {
    uint64_t start, end;
    size_t idx; /* into ir->calls */
} order;

static int cmp_start(const void *a, const void *b)
{
    const order *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static void attach(sc_call *c, const sc_event *e, const char *url)
{
    if (c->napplied == c->capplied) {
        size_t cap = c->capplied ? c->capplied * 2 : 4;
        sc_applied *na = realloc(c->applied, cap * sizeof *na);
        if (!na)
            return;
        c->applied = na;
        c->capplied = cap;
    }
    cJSON *ev = cJSON_CreateObject();
    if (!ev)
        return;
    const char *inst = e->fault ? e->fault : "?";
    cJSON_AddStringToObject(ev, "type", sc_fault_type_of_instance(inst));
    /* Which of the item's faults of that type: its proxy instance. */
    cJSON_AddStringToObject(ev, "instance", inst);
    if (e->direction)
        cJSON_AddStringToObject(ev, "direction", e->direction);
    if (e->side)
        cJSON_AddStringToObject(ev, "side", e->side);
    for (const cJSON *p = e->params ? e->params->child : NULL; p; p = p->next) {
        /* The original tool's results name a latency's draw "delay". */
        const char *k = strcmp(p->string, "delay_ms") == 0 ? "delay" : p->string;
        if (!cJSON_GetObjectItemCaseSensitive(ev, k))
            cJSON_AddItemToObject(ev, k, cJSON_Duplicate(p, true));
    }
    double at =
        e->wall_us > c->start_wall_us ? (double)(e->wall_us - c->start_wall_us) / 1000.0 : 0;
    cJSON_AddNumberToObject(ev, "at_ms", at);
    sc_applied *a = &c->applied[c->napplied++];
    a->url = strdup(url ? url : "");
    a->event = ev;
    a->wall_us = e->wall_us;
}

/* The call (index into ord) that owns a fault at time t on a connection
 * whose client address is peer, or whose exchange began at x. */
static const order *owner(const order *ord, size_t n, const sc_item_result *ir, const char *peer,
                          uint64_t t, uint64_t x)
{
    /* Latest call started at or before t + slack. */
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ord[mid].start <= t + SLACK_US)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (peer) {
        for (size_t k = lo; k-- > 0;)
            if (strcmp(ir->calls[ord[k].idx].local, peer) == 0)
                return &ord[k];
    }
    /* Not one of ours: the call in flight when the exchange began. */
    lo = 0;
    hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ord[mid].start <= x + SLACK_US)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t k = lo; k-- > 0;) {
        if (ord[k].end + SLACK_US >= x)
            return &ord[k];
        /* Calls are sorted by start, not end: a long call that started
         * earlier may still be in flight; look back a little. */
        if (lo - k > 256)
            break;
    }
    return NULL;
}

/* fault: the instance's name; label: its fault's description. */
static void activity_add(sc_item_result *ir, const char *fault, const sc_fault *f, double a,
                         double b)
{
    if (b < a)
        return;
    sc_activity *act = NULL;
    for (size_t i = 0; i < ir->nact; i++)
        if (strcmp(ir->act[i].fault, fault) == 0)
            act = &ir->act[i];
    if (!act) {
        sc_activity *na = realloc(ir->act, (ir->nact + 1) * sizeof *na);
        if (!na)
            return;
        ir->act = na;
        act = &ir->act[ir->nact++];
        memset(act, 0, sizeof *act);
        act->fault = strdup(fault);
        if (f) {
            char buf[256];
            sc_fault_describe(f, buf, sizeof buf);
            act->label = strdup(buf);
        }
        if (!act->label)
            act->label = strdup(fault);
    }
    double(*nw)[2] = realloc(act->win, (act->nwin + 1) * sizeof *nw);
    if (!nw)
        return;
    act->win = nw;
    act->win[act->nwin][0] = a;
    act->win[act->nwin][1] = b;
    act->nwin++;
}

static const sc_fault *fault_of(const sc_item_result *ir, const sc_child_fault *c)
{
    return c->fault < ir->item->nfaults ? &ir->item->faults[c->fault] : NULL;
}

static double rel_ms(const sc_item_result *ir, uint64_t wall)
{
    return wall > ir->start_wall_us ? (double)(wall - ir->start_wall_us) / 1000.0 : 0;
}

void sc_correlate(sc_item_result *ir, const size_t *idx, size_t nidx, const sc_event *ev,
                  size_t nev, const sc_child_faults *cf, uint64_t ready_wall, uint64_t stop_wall)
{
    order *ord = calloc(nidx ? nidx : 1, sizeof *ord);
    if (!ord)
        return;
    for (size_t k = 0; k < nidx; k++) {
        ord[k].idx = idx[k];
        ord[k].start = ir->calls[idx[k]].start_wall_us;
        ord[k].end = ir->calls[idx[k]].end_wall_us;
    }
    qsort(ord, nidx, sizeof *ord, cmp_start);

    /* Connection ids are small and sequential within a child. */
    size_t nconn = 0;
    for (size_t i = 0; i < nev; i++)
        if (ev[i].conn >= nconn && ev[i].conn < (1u << 24))
            nconn = (size_t)ev[i].conn + 1;
    conn_info *conns = calloc(nconn ? nconn : 1, sizeof *conns);
    if (!conns) {
        free(ord);
        return;
    }

    /* Fault state, per instance: on from ready when unscheduled. */
    double on_since[SC_MAX_CHILD_FAULTS];
    for (size_t k = 0; k < cf->n; k++)
        on_since[k] = cf->inst[k].scheduled ? -1 : rel_ms(ir, ready_wall);

    for (size_t i = 0; i < nev; i++) {
        const sc_event *e = &ev[i];
        conn_info *ci = e->conn && e->conn < nconn ? &conns[e->conn] : NULL;
        switch (e->type) {
        case SC_EV_CONN_OPEN:
            if (ci) {
                ci->known = true;
                ci->peer = e->peer;
                ci->target = e->target;
                ci->open_wall = e->wall_us;
                ci->exchange_wall = e->wall_us;
            }
            break;
        case SC_EV_HTTP_REQUEST:
            if (ci) {
                ci->target = e->target;
                ci->exchange_wall = e->wall_us;
            }
            break;
        case SC_EV_FAULT_APPLIED: {
            const char *peer = ci && ci->known ? ci->peer : NULL;
            uint64_t x = ci && ci->known ? ci->exchange_wall : e->wall_us;
            const order *o = owner(ord, nidx, ir, peer, e->wall_us, x);
            if (o)
                attach(&ir->calls[o->idx], e, ci ? ci->target : NULL);
            break;
        }
        case SC_EV_FAULT_STATE:
            for (size_t k = 0; e->fault && k < cf->n; k++) {
                if (strcmp(e->fault, cf->inst[k].name) != 0)
                    continue;
                if (e->active && on_since[k] < 0)
                    on_since[k] = rel_ms(ir, e->wall_us);
                else if (!e->active && on_since[k] >= 0) {
                    activity_add(ir, e->fault, fault_of(ir, &cf->inst[k]), on_since[k],
                                 rel_ms(ir, e->wall_us));
                    on_since[k] = -1;
                }
            }
            break;
        default:
            break;
        }
    }
    for (size_t k = 0; k < cf->n; k++)
        if (on_since[k] >= 0)
            activity_add(ir, cf->inst[k].name, fault_of(ir, &cf->inst[k]), on_since[k],
                         rel_ms(ir, stop_wall));
    free(conns);
    free(ord);
}
