/*
 * core/chain.c - filter chains: the stages fault plugins attached to a
 * stream, for one direction, through which bytes move in order.
 *
 * A chunk enters the first stage and moves on when that stage's plugin
 * lets it: a stage only ever decides for its head chunk, so nothing
 * overtakes a held or delayed chunk and bytes are never reordered. A
 * decision is "pass these bytes at this time" (FAULT_PASS with until_us and
 * bytes), "hold until woken", "close" or "reset". One timer per chain
 * fires at the earliest time a stage waits for.
 *
 * The relay (relay.c) builds its two directions from chains; protocol
 * handlers build their own through <fault/chain.h>.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct stage {
    fault_plugin *p;
    void *cs;
    fault_http_exchange *hx; /* an on_body stage of this exchange, or NULL */
    fault_side side;
    fault__node *head, *tail;
    bool decided, held;
    bool end_told; /* an on_body stage: on_body_end ran for this body */
    uint64_t until;
    size_t pass;
} stage;

struct fault_chain {
    fault_stream *s;
    fault_direction dir;
    stage *st;
    int nst;
    size_t pending;
    uint64_t pushed; /* bytes pushed so far: the next chunk's offset */
    bool in_pump, repump, dead;
    bool eof_in;    /* an EOF entered the chain (pushed, or after a close) */
    uint64_t woken; /* generation of the last fault__chains_wake_all() */
    fault__timer timer;
    fault__sink sink;
    void *sink_ud;
    fault_chain_ops ops; /* public chains */
    void *ud;
    fault_chain *next; /* in the stream's list */
};

/* ---- nodes ---- */

fault__node *fault__node_new(fault_chain *c, const uint8_t *data, size_t len)
{
    fault__node *n = malloc(sizeof *n + len);
    if (!n)
        return NULL;
    n->next = NULL;
    n->chain = c;
    n->alloc = NULL;
    n->eof = false;
    n->c.data = (uint8_t *)(n + 1);
    n->c.len = len;
    n->c.arrived_us = 0;
    n->c.offset = 0;
    if (len)
        memcpy(n->c.data, data, len);
    return n;
}

void fault__node_free(fault__node *n)
{
    free(n->alloc);
    free(n);
}

int fault_chunk_replace(fault_stream *s, fault_chunk *c, const void *data, size_t len)
{
    (void)s;
    fault__node *n = fault__container_of(c, fault__node, c);
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return FAULT_ENOMEM;
    if (len)
        memcpy(copy, data, len);
    n->chain->pending = n->chain->pending - c->len + len;
    free(n->alloc);
    n->alloc = copy;
    c->data = copy;
    c->len = len;
    return 0;
}

static void stage_push(stage *st, fault__node *n)
{
    n->c.arrived_us = fault_now_us();
    n->next = NULL;
    if (st->tail)
        st->tail->next = n;
    else
        st->head = n;
    st->tail = n;
}

static fault__node *stage_pop(stage *st)
{
    fault__node *n = st->head;
    st->head = n->next;
    if (!st->head)
        st->tail = NULL;
    n->next = NULL;
    return n;
}

/* ---- building ---- */

/* A chain with room for n stages, linked into the stream's list. malloc,
 * then zeroed: HTTP handlers make chains for every exchange, and glibc's
 * calloc() skips the per-thread cache that malloc() uses for blocks this
 * small. */
static fault_chain *chain_calloc(fault_stream *s, fault_direction dir, int n)
{
    fault_chain *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    *c = (fault_chain){0};
    if (n) {
        c->st = calloc((size_t)n, sizeof *c->st);
        if (!c->st) {
            free(c);
            return NULL;
        }
    }
    c->s = s;
    c->dir = dir;
    FAULT__TIMER_INIT(&c->timer);
    c->next = s->chains;
    s->chains = c;
    return c;
}

static fault_chain *chain_alloc(fault_stream *s, fault_direction dir, fault_side sides)
{
    if (fault_stream_attach(s) < 0)
        return NULL;
    /* Wire order: egress meets the client leg first, ingress the server leg. */
    fault_side order[2];
    if (dir == FAULT_DIR_EGRESS) {
        order[0] = FAULT_SIDE_CLIENT;
        order[1] = FAULT_SIDE_SERVER;
    } else {
        order[0] = FAULT_SIDE_SERVER;
        order[1] = FAULT_SIDE_CLIENT;
    }
    int n = 0;
    for (int o = 0; o < 2; o++)
        for (int k = 0; k < s->natt; k++)
            if ((sides & order[o]) && (s->att[k].points & fault_points(order[o], dir)))
                n++;
    fault_chain *c = chain_calloc(s, dir, n);
    if (!c)
        return NULL;
    for (int o = 0; o < 2; o++) {
        for (int k = 0; k < s->natt; k++) {
            if (!(sides & order[o]) || !(s->att[k].points & fault_points(order[o], dir)))
                continue;
            stage *st = &c->st[c->nst++];
            st->p = s->att[k].p;
            st->cs = s->att[k].cs;
            st->side = order[o];
        }
    }
    return c;
}

static void public_sink(void *ud, fault__node *n);

/* A chain of on_body hooks: one stage per plugin with an on_body hook
 * that watches the body (in mask); whether active is decided chunk by
 * chunk, as for stream stages. */
static bool watches(const fault_plugin *p, const fault__pset *mask)
{
    return p->d->http && p->d->http->on_body && p->enabled && p->started &&
           fault__pset_has(mask, p);
}

fault_chain *fault__body_chain_new(fault_stream *s, fault_direction dir, fault_http_exchange *x,
                                   const fault__pset *mask, const fault_chain_ops *ops,
                                   void *userdata)
{
    int n = 0;
    for (fault_plugin *p = fault__plugins(); p; p = p->next)
        if (watches(p, mask))
            n++;
    fault_chain *c = chain_calloc(s, dir, n);
    if (!c)
        return NULL;
    for (fault_plugin *p = fault__plugins(); p && c->nst < n; p = p->next) {
        if (!watches(p, mask))
            continue;
        stage *st = &c->st[c->nst++];
        st->p = p;
        st->hx = x;
        st->side = dir == FAULT_DIR_EGRESS ? FAULT_SIDE_CLIENT : FAULT_SIDE_SERVER;
    }
    c->ops = *ops;
    c->ud = userdata;
    c->sink = public_sink;
    c->sink_ud = c;
    return c;
}

fault_chain *fault__chain_new(fault_stream *s, fault_direction dir, fault_side sides,
                              fault__sink sink, void *ud)
{
    fault_chain *c = chain_alloc(s, dir, sides);
    if (c) {
        c->sink = sink;
        c->sink_ud = ud;
    }
    return c;
}

/* Public chains copy out to ops->output and free the node. */
static void public_sink(void *ud, fault__node *n)
{
    fault_chain *c = ud;
    if (n->eof) {
        fault__node_free(n);
        if (c->ops.eof)
            c->ops.eof(c->ud);
        return;
    }
    if (n->c.len && c->ops.output)
        c->ops.output(c->ud, n->c.data, n->c.len);
    fault__node_free(n);
}

fault_chain *fault_chain_new(fault_stream *s, fault_direction dir, fault_side sides,
                             const fault_chain_ops *ops, void *userdata)
{
    if (!s || !ops || (dir != FAULT_DIR_EGRESS && dir != FAULT_DIR_INGRESS))
        return NULL;
    fault_chain *c = chain_alloc(s, dir, sides);
    if (c) {
        c->ops = *ops;
        c->ud = userdata;
        c->sink = public_sink;
        c->sink_ud = c;
    }
    return c;
}

size_t fault_chain_pending(const fault_chain *c)
{
    return c->pending;
}
size_t fault_chain_stages(const fault_chain *c)
{
    return (size_t)c->nst;
}

/* ---- moving bytes ---- */

static void emit(fault_chain *c, fault__node *n)
{
    c->pending -= n->c.len;
    c->sink(c->sink_ud, n);
}

/* Moves `bytes` (0: all) of stage i's head to the next stage or out. */
static int advance(fault_chain *c, int i, size_t bytes)
{
    stage *st = &c->st[i];
    fault__node *n = st->head;
    fault__node *moving;
    if (!n->eof && bytes && bytes < n->c.len) {
        moving = fault__node_new(c, n->c.data, bytes);
        if (!moving)
            return FAULT_ENOMEM;
        moving->c.offset = n->c.offset;
        n->c.data += bytes;
        n->c.len -= bytes;
        n->c.offset += bytes;
    } else {
        moving = stage_pop(st);
    }
    if (i + 1 < c->nst)
        stage_push(&c->st[i + 1], moving);
    else
        emit(c, moving);
    return 0;
}

static void on_timer(fault__timer *t)
{
    fault__chain_wake(fault__container_of(t, fault_chain, timer));
}

/* Wakes the chain at `at` (microsecond timers: a delay is neither cut short
 * nor stretched to the next millisecond). */
static void arm(fault_chain *c, uint64_t at)
{
    if (fault__timer_armed(&c->timer) && c->timer.at_us == at)
        return;
    if (fault__timer_start(&c->timer, at, on_timer) < 0)
        fault__stream_fault_end(c->s, true);
}

/* FAULT_CLOSE from stage i: what stage i and those before it still hold is
 * dropped (it was not passed), what it already passed goes on, followed by
 * an EOF, so the connection closes after delivering it. */
static int close_at(fault_chain *c, int i)
{
    bool dropped_eof = false;
    for (int k = 0; k <= i; k++) {
        stage *st = &c->st[k];
        while (st->head) {
            fault__node *n = stage_pop(st);
            dropped_eof |= n->eof;
            c->pending -= n->eof ? 0 : n->c.len;
            fault__node_free(n);
        }
        st->decided = st->held = false;
    }
    /* An EOF already past stage i still closes the stream. */
    if (c->eof_in && !dropped_eof)
        return 0;
    fault__node *eof = fault__node_new(c, NULL, 0);
    if (!eof)
        return FAULT_ENOMEM;
    eof->eof = true;
    c->eof_in = true;
    if (i + 1 < c->nst)
        stage_push(&c->st[i + 1], eof);
    else
        emit(c, eof);
    return 0;
}

/* on_body_end gave the end node n (head of st) final bytes: n becomes
 * those bytes, and a new end follows them in the same stage. */
static int end_bytes(fault_chain *c, stage *st, fault__node *n)
{
    fault__node *e = fault__node_new(c, NULL, 0);
    if (!e)
        return FAULT_ENOMEM;
    e->eof = true;
    e->c.offset = n->c.offset + n->c.len;
    e->c.arrived_us = n->c.arrived_us;
    e->next = n->next;
    n->next = e;
    if (st->tail == n)
        st->tail = e;
    n->eof = false;
    return 0;
}

/* One pass over the stages. Returns false when the chain must stop (the
 * stream is ending or the chain was freed from a hook). */
static bool pump_once(fault_chain *c)
{
    fault_stream *s = c->s;
    uint64_t now = fault_now_us();
    uint64_t wake = UINT64_MAX;
    for (int i = 0; i < c->nst; i++) {
        stage *st = &c->st[i];
        const fault_stream_ops *ops = st->p->d->stream;
        while (st->head) {
            if (c->dead || s->ending)
                return false;
            fault__node *n = st->head;
            if (!st->p->active) {
                /* Switched off (or never on): bytes pass untouched. */
                st->decided = st->held = false;
                if (advance(c, i, 0) < 0)
                    goto oom;
                continue;
            }
            if (st->held)
                break;
            if (!st->decided) {
                fault_verdict v;
                memset(&v, 0, sizeof v);
                fault_action a = FAULT_PASS;
                if (st->hx) {
                    /* An on_body stage: the end of the body passes, told
                     * to on_body_end (ABI 1.3) once. */
                    const fault_http_ops *h = st->p->d->http;
                    if (!n->eof) {
                        a = h->on_body(st->p->state, st->hx, c->dir, &n->c, &v);
                    } else if (h->on_body_end && !st->end_told) {
                        st->end_told = true;
                        a = h->on_body_end(st->p->state, st->hx, c->dir, &n->c, &v);
                        if (a == FAULT_HOLD)
                            a = FAULT_PASS;
                        v.bytes = 0;
                        if (!c->dead && !s->ending && n->c.len && end_bytes(c, st, n) < 0)
                            goto oom;
                    }
                } else if (n->eof) {
                    if (ops->on_eof)
                        a = ops->on_eof(st->p->state, st->cs, s, st->side, c->dir, &v);
                } else if (ops->on_data) {
                    a = ops->on_data(st->p->state, st->cs, s, st->side, c->dir, &n->c, &v);
                }
                if (c->dead || s->ending)
                    return false;
                if (a == FAULT_HOLD) {
                    st->held = true;
                    break;
                }
                if ((a == FAULT_RESET || a == FAULT_CLOSE) && st->hx && c->ops.end) {
                    /* A body hook ends its exchange, not the stream. */
                    c->ops.end(c->ud, a == FAULT_RESET);
                    return false;
                }
                if (a == FAULT_RESET) {
                    fault__stream_fault_end(s, true);
                    return false;
                }
                if (a == FAULT_CLOSE) {
                    if (close_at(c, i) < 0)
                        goto oom;
                    /* The owner stops reading and closes the other way. */
                    fault__stream_fault_end(s, false);
                    if (c->dead || s->ending)
                        return false;
                    break;
                }
                st->decided = true;
                st->until = v.until_us;
                st->pass = v.bytes;
                if (!n->eof && n->c.len == 0) {
                    /* The plugin replaced the bytes with nothing. */
                    fault__node_free(stage_pop(st));
                    st->decided = false;
                    continue;
                }
            }
            if (st->until > now) {
                if (st->until < wake)
                    wake = st->until;
                break;
            }
            st->decided = false;
            if (advance(c, i, st->pass) < 0)
                goto oom;
        }
    }
    if (wake != UINT64_MAX && !c->dead)
        arm(c, wake);
    return true;
oom:
    fault__stream_fault_end(s, true);
    return false;
}

static void chain_release(fault_chain *c);

void fault__chain_wake(fault_chain *c)
{
    if (c->in_pump) {
        /* A hook woke the stream from inside the pump: go round again. */
        c->repump = true;
        return;
    }
    c->in_pump = true;
    bool ok;
    size_t before = c->pending;
    do {
        c->repump = false;
        ok = pump_once(c);
    } while (ok && c->repump);
    c->in_pump = false;
    if (c->dead) {
        chain_release(c);
        return;
    }
    if (c->pending < before && c->ops.progress)
        c->ops.progress(c->ud);
}

void fault__chain_wake_held(fault_chain *c)
{
    for (int i = 0; i < c->nst; i++)
        c->st[i].held = false;
    fault__chain_wake(c);
}

void fault__chains_wake_all(fault_stream *s)
{
    /* Waking one chain may free others (a handler ends an exchange from
     * the output of the first), so never hold on to a next pointer: each
     * round takes the first chain of the list not woken in this call. */
    static uint64_t generation;
    uint64_t g = ++generation;
    while (!s->ending) {
        fault_chain *c = s->chains;
        while (c && c->woken == g)
            c = c->next;
        if (!c)
            break;
        c->woken = g;
        fault__chain_wake_held(c);
    }
}

bool fault__chain_has_eof(const fault_chain *c)
{
    return c->eof_in;
}
fault_stream *fault__chain_stream(const fault_chain *c)
{
    return c->s;
}

int fault__chain_push(fault_chain *c, const uint8_t *data, size_t len)
{
    fault__node *n = fault__node_new(c, data, len);
    if (!n)
        return FAULT_ENOMEM;
    /* fault_chunk.offset is the chunk's position in the direction's byte
     * stream: faults that cut the stream into units (packet-loss segments)
     * depend on it. */
    n->c.offset = c->pushed;
    c->pushed += len;
    c->pending += len;
    if (c->nst == 0) {
        emit(c, n);
        return 0;
    }
    stage_push(&c->st[0], n);
    fault__chain_wake(c);
    return 0;
}

int fault_chain_push(fault_chain *c, const void *data, size_t len)
{
    if (!c || c->dead)
        return FAULT_EINVAL;
    if (len == 0)
        return 0;
    return fault__chain_push(c, data, len);
}

int fault_chain_eof(fault_chain *c)
{
    if (!c || c->dead)
        return FAULT_EINVAL;
    fault__node *n = fault__node_new(c, NULL, 0);
    if (!n)
        return FAULT_ENOMEM;
    n->eof = true;
    n->c.offset = c->pushed;
    c->eof_in = true;
    if (c->nst == 0) {
        emit(c, n);
        return 0;
    }
    stage_push(&c->st[0], n);
    fault__chain_wake(c);
    return 0;
}

/* ---- freeing ---- */

static void chain_release(fault_chain *c)
{
    for (int i = 0; i < c->nst; i++)
        while (c->st[i].head)
            fault__node_free(stage_pop(&c->st[i]));
    fault__timer_stop(&c->timer);
    free(c->st);
    free(c);
}

void fault_chain_free(fault_chain *c)
{
    if (!c || c->dead)
        return;
    c->dead = true;
    for (fault_chain **pp = &c->s->chains; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    /* Freed from one of its own hooks: the pump releases it on the way out. */
    if (!c->in_pump)
        chain_release(c);
}
