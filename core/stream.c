/*
 * core/stream.c - the stream: one proxied connection as faults see it.
 *
 * A protocol handler creates a stream for each accepted client
 * (fault_stream_new()); the fault plugins attach to it once
 * (fault_stream_attach()); its bytes then move either through the relay
 * (relay.c, fault_stream_relay()) or through chains the handler drives
 * itself (chain.c), and it ends once: by the relay, by the handler
 * (fault_stream_finish()), or because a fault asked (close or reset, which
 * goes to whoever moves its bytes). Every live stream is on one list, so
 * that the run can wake or close them all.
 *
 * A stream may end from inside a callback that still uses it: such code
 * holds a reference (fault__stream_ref()), and the memory goes when the
 * last one is dropped.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static fault_stream *live;
static size_t nlive;
static uint64_t next_id = 1;

size_t fault__streams_live(void)
{
    return nlive;
}
uint64_t fault_stream_id(const fault_stream *s)
{
    return s->id;
}
const char *fault_stream_peer(const fault_stream *s)
{
    return s->peer;
}
const char *fault_stream_target(const fault_stream *s)
{
    return s->target ? s->target : "";
}
const char *fault_stream_scheme(const fault_stream *s)
{
    return s->scheme;
}

void fault_stream_set_scheme(fault_stream *s, const char *scheme)
{
    snprintf(s->scheme, sizeof s->scheme, "%s", scheme ? scheme : "");
}

uint64_t fault_stream_bytes(const fault_stream *s, fault_direction dir)
{
    return s->relay ? fault__relay_bytes(s->relay, dir) : 0;
}

fault_stream *fault_stream_new(fault_plugin *self, fault_conn *client, const char *target)
{
    fault_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->id = next_id++;
    s->owner = self;
    s->client = client;
    s->target = target ? strdup(target) : NULL;
    snprintf(s->peer, sizeof s->peer, "%s", client ? fault_conn_peer(client) : "");
    s->next = live;
    if (live)
        live->prev = s;
    live = s;
    nlive++;
    fault_event ev = {.type = FAULT_EV_CONN_OPEN, .size = sizeof ev};
    ev.conn_id = s->id;
    ev.peer = s->peer;
    ev.target = s->target;
    fault_event_publish(self, &ev);
    return s;
}

void fault_stream_set_end(fault_stream *s, fault_stream_end_cb cb, void *userdata)
{
    s->end_cb = cb;
    s->end_ud = userdata;
}

void fault__stream_ref(fault_stream *s)
{
    s->refs++;
}

void fault__stream_unref(fault_stream *s)
{
    if (--s->refs == 0 && s->gone) {
        free(s->att);
        free(s->relay);
        free(s->target);
        free(s);
    }
}

/* Detaches the faults, publishes CONN_CLOSE and frees the stream. */
void fault__stream_free(fault_stream *s, uint64_t eg, uint64_t in, int error)
{
    while (s->chains)
        fault_chain_free(s->chains);
    for (int k = 0; k < s->natt; k++) {
        fault_plugin *p = s->att[k].p;
        if (p->d->stream->detach)
            p->d->stream->detach(p->state, s->att[k].cs, s);
        else if (p->d->abi_minor >= 1)
            free(s->att[k].cs); /* gated: a 1.0 plugin keeps its conn_state */
    }
    fault_event ev = {.type = FAULT_EV_CONN_CLOSE, .size = sizeof ev};
    ev.conn_id = s->id;
    ev.peer = s->peer;
    ev.target = s->target;
    ev.bytes_egress = eg;
    ev.bytes_ingress = in;
    ev.error = error;
    ev.message = error ? fault_strerror(error) : NULL;
    fault_event_publish(s->owner, &ev);
    if (s->prev)
        s->prev->next = s->next;
    else
        live = s->next;
    if (s->next)
        s->next->prev = s->prev;
    nlive--;
    s->gone = true;
    fault__stream_ref(s);
    fault__stream_unref(s);
}

void fault_stream_finish(fault_stream *s, uint64_t bytes_egress, uint64_t bytes_ingress, int error)
{
    if (!s || s->ending)
        return;
    s->ending = true;
    fault__stream_free(s, bytes_egress, bytes_ingress, error);
}

void fault_stream_abort(fault_stream *s, int error)
{
    if (s->relay) {
        fault__relay_end(s, true, error);
        return;
    }
    fault_conn_reset(s->client);
    fault_stream_finish(s, 0, 0, error);
}

void fault__stream_fault_end(fault_stream *s, bool reset)
{
    if (s->ending)
        return;
    if (s->relay) {
        if (reset)
            fault__relay_end(s, true, 0);
        else
            fault_stream_close(s);
    } else if (s->end_cb) {
        s->end_cb(s, reset, s->end_ud);
    }
}

void fault_stream_reset(fault_stream *s)
{
    fault__stream_fault_end(s, true);
}

void fault_stream_wake(fault_stream *s)
{
    if (s->ending)
        return;
    fault__stream_ref(s);
    fault__chains_wake_all(s);
    fault__stream_unref(s);
}

void fault__streams_wake_plugin(fault_plugin *p)
{
    for (fault_stream *s = live, *next; s; s = next) {
        next = s->next;
        for (int k = 0; k < s->natt; k++) {
            if (s->att[k].p == p) {
                fault_stream_wake(s);
                break;
            }
        }
    }
}

void fault__streams_close_all(void)
{
    /* Streams still connecting are ended when their connect completes
     * (fault_stream_relay() sees the run stopping): ending them now would
     * leave the pending connect pointing at freed memory. Handlers that do
     * not relay end their own streams from their stop(). */
    for (fault_stream *s = live, *next; s; s = next) {
        next = s->next;
        if (s->relay)
            fault__relay_end(s, false, 0);
    }
}

int fault__stream_check_connect(fault_stream *s, const char *host, uint16_t port)
{
    for (fault_plugin *p = fault__plugins(); p; p = p->next) {
        if (!p->d->stream || !p->d->stream->on_connect || !p->active)
            continue;
        int rc = p->d->stream->on_connect(p->state, s, host, port);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int fault_stream_attach(fault_stream *s)
{
    if (s->attached)
        return 0;
    s->attached = true;
    int n = 0;
    for (fault_plugin *p = fault__plugins(); p; p = p->next)
        n += p->d->stream && p->enabled && p->started;
    if (n == 0)
        return 0;
    s->att = calloc((size_t)n, sizeof *s->att);
    if (!s->att)
        return FAULT_ENOMEM;
    for (fault_plugin *p = fault__plugins(); p && s->natt < n; p = p->next) {
        if (!p->d->stream || !p->enabled || !p->started)
            continue;
        void *cs = NULL;
        uint32_t points = 0;
        if (p->d->stream->attach) {
            int rc = p->d->stream->attach(p->state, s, &cs, &points);
            if (rc < 0)
                return rc;
        }
        s->att[s->natt].p = p;
        s->att[s->natt].cs = cs;
        s->att[s->natt].points = points;
        s->natt++;
    }
    return 0;
}

void fault_stream_next_exchange(fault_stream *s)
{
    if (!s)
        return;
    for (int k = 0; k < s->natt; k++) {
        const fault_stream_ops *ops = s->att[k].p->d->stream;
        if (ops && ops->on_exchange)
            ops->on_exchange(s->att[k].p->state, s->att[k].cs, s);
    }
}

void fault_stream_close(fault_stream *s)
{
    if (s->ending)
        return;
    if (!s->relay) {
        fault__stream_fault_end(s, false);
        return;
    }
    fault__relay_close(s);
}
