/*
 * plugins/http/due.c - work due once per loop iteration, for every kind of
 * connection of the plugin (HTTP/1 sessions flush the writes they
 * gathered, HTTP/2 connections run their pumps).
 *
 * An event only changes state and queues its connection; a prepare handle
 * (run when the iteration's events have all run, before the loop polls
 * again) runs each queued connection once. So the writes caused by many
 * events of one iteration leave in one system call per socket, and the
 * peers wake once for the lot, as they would with a server that batches
 * its sends. A connection whose work is not finished (a socket that takes
 * all it is given) stays queued for the next iteration, after the others
 * had their turn; an idle handle keeps the loop from blocking in its poll
 * meanwhile.
 */
#include "config.h"

#include "proxy.h"

/* Only there to be active: the loop does not block in its poll while an
 * idle handle is, so work carried over runs at once. */
static void on_more(uv_idle_t *t)
{
    (void)t;
}

static void run_due(hp_state *st)
{
    hp_due *again = NULL, *d;
    while ((d = st->due) != NULL) {
        st->due = d->next;
        d->next = NULL;
        /* The owner clears d->queued and drops the queue's reference
         * itself, or keeps both and asks for the next iteration. */
        if (d->run(d)) {
            d->next = again;
            again = d;
        }
    }
    st->due = again;
}

static void on_prepare(uv_prepare_t *t)
{
    hp_state *st = t->data;
    run_due(st);
    if (st->due) {
        uv_idle_start(&st->due_more, on_more);
    } else {
        uv_idle_stop(&st->due_more);
        uv_prepare_stop(t);
    }
}

bool hp_due_add(hp_state *st, hp_due *d)
{
    if (d->queued)
        return false;
    if (!st->due_init) {
        uv_prepare_init(st->loop, &st->due_prepare);
        uv_idle_init(st->loop, &st->due_more);
        st->due_prepare.data = st;
        st->due_init = true;
    }
    d->queued = true;
    d->next = st->due;
    st->due = d;
    uv_prepare_start(&st->due_prepare, on_prepare);
    return true;
}

void hp_due_run(hp_state *st)
{
    if (st->due_init)
        on_prepare(&st->due_prepare);
}

void hp_due_close(hp_state *st)
{
    if (!st->due_init)
        return;
    on_prepare(&st->due_prepare);
    uv_close((uv_handle_t *)&st->due_prepare, NULL);
    uv_close((uv_handle_t *)&st->due_more, NULL);
    st->due_init = false;
}
