/*
 * core/event.c - the event bus: synchronous delivery to subscribers on the
 * loop thread, with a per-type mask so unwanted events cost one test.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/time.h>

#include "internal.h"

typedef struct sub {
    int id;
    uint32_t mask;
    fault_event_cb cb;
    void *ud;
    fault_plugin *owner;
    struct sub *next;
} sub;

static sub *subs;
static uint32_t wanted_mask;
static int next_id = 1;

static void recompute_mask(void)
{
    uint32_t m = 0;
    for (sub *s = subs; s; s = s->next)
        m |= s->mask;
    wanted_mask = m;
}

bool fault_event_wanted(fault_event_type type)
{
    return (wanted_mask & FAULT_EVMASK(type)) != 0;
}

int fault_event_subscribe(fault_plugin *self, uint32_t mask, fault_event_cb cb, void *userdata)
{
    if (!cb)
        return FAULT_EINVAL;
    sub *s = calloc(1, sizeof *s);
    if (!s)
        return FAULT_ENOMEM;
    s->id = next_id++;
    s->mask = mask;
    s->cb = cb;
    s->ud = userdata;
    s->owner = self;
    /* Append, so subscribers are called in subscription order. */
    sub **pp = &subs;
    while (*pp)
        pp = &(*pp)->next;
    *pp = s;
    recompute_mask();
    return s->id;
}

void fault_event_unsubscribe(int id)
{
    for (sub **pp = &subs; *pp; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            sub *dead = *pp;
            *pp = dead->next;
            free(dead);
            break;
        }
    }
    recompute_mask();
}

void fault__events_drop_owner(fault_plugin *p)
{
    for (sub **pp = &subs; *pp;) {
        if ((*pp)->owner == p) {
            sub *dead = *pp;
            *pp = dead->next;
            free(dead);
        } else {
            pp = &(*pp)->next;
        }
    }
    recompute_mask();
}

void fault__events_reset(void)
{
    while (subs) {
        sub *s = subs;
        subs = s->next;
        free(s);
    }
    wanted_mask = 0;
}

void fault_event_publish(fault_plugin *self, fault_event *ev)
{
    if (!ev || ev->type >= FAULT_EV_MAX_ || !(wanted_mask & FAULT_EVMASK(ev->type)))
        return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    ev->time_us = fault_now_us();
    ev->wall_us = (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
    ev->source = self ? fault_plugin_name(self) : "core";
    for (sub *s = subs; s;) {
        sub *next = s->next; /* a callback may unsubscribe itself */
        if (s->mask & FAULT_EVMASK(ev->type))
            s->cb(ev, s->ud);
        s = next;
    }
}

void fault_event_fault_applied(fault_plugin *self, uint64_t conn_id, fault_side side,
                               fault_direction dir, const fault_param *params, size_t nparams)
{
    if (!fault_event_wanted(FAULT_EV_FAULT_APPLIED))
        return;
    fault_event ev = {.type = FAULT_EV_FAULT_APPLIED, .size = sizeof ev};
    ev.conn_id = conn_id;
    ev.side = side;
    ev.direction = dir;
    ev.fault = self ? fault_plugin_name(self) : "core";
    ev.params = params;
    ev.nparams = nparams;
    fault_event_publish(self, &ev);
}

const char *fault_event_type_name(fault_event_type type)
{
    switch (type) {
    case FAULT_EV_LISTENING:
        return "listening";
    case FAULT_EV_CONN_OPEN:
        return "conn_open";
    case FAULT_EV_CONN_CLOSE:
        return "conn_close";
    case FAULT_EV_BYTES:
        return "bytes";
    case FAULT_EV_FAULT_APPLIED:
        return "fault_applied";
    case FAULT_EV_FAULT_STATE:
        return "fault_state";
    case FAULT_EV_HTTP_REQUEST:
        return "http_request";
    case FAULT_EV_HTTP_RESPONSE:
        return "http_response";
    case FAULT_EV_ERROR:
        return "error";
    case FAULT_EV_MAX_:
        break;
    }
    return "unknown";
}
