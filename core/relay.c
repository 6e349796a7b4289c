/*
 * core/relay.c - the bidirectional relay and its filter chains.
 *
 * A stream has two pipes: egress (client to upstream) and ingress (upstream
 * to client). Each pipe is a sequence of stages, one per (plugin, hook
 * point) the fault plugins attached to; a chunk read from the source enters
 * the first stage, moves on when that stage's plugin lets it, and is written
 * to the destination after the last stage. A stage only ever decides for
 * its head chunk, so bytes never overtake each other.
 *
 * Buffering is bounded per pipe: bytes waiting in stages plus bytes queued
 * on the destination socket. Above HIGH_WATER the source is no longer read
 * (the peer's TCP window fills, as on a slow network); below LOW_WATER
 * reading resumes. With no stage at all, bytes are written straight from
 * the read buffer when the socket takes them, so a plain relay copies once.
 *
 * End of stream: an EOF travels through the stages like data (a fault may
 * delay a FIN), then becomes a shutdown of the destination's write side.
 * The stream ends when both directions have carried their EOF and the
 * writes have drained, or at once with RST when either side resets.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define HIGH_WATER (256 * 1024)
#define LOW_WATER (64 * 1024)
#define MAX_ATTACH 32

typedef struct rpipe rpipe;

typedef struct node {
    struct node *next;
    rpipe *pp;
    fault_chunk c;
    uint8_t *alloc; /* owned storage c.data points into */
    bool eof;
} node;

typedef struct stage {
    fault_plugin *p;
    void *cs;
    fault_side side;
    node *head, *tail;
    bool decided, held;
    uint64_t until;
    size_t pass;
} stage;

struct rpipe {
    fault_stream *s;
    fault_direction dir;
    fault_conn *src, *dst;
    stage *st;
    int nst;
    size_t staged;
    bool src_eof;  /* EOF read from the source */
    bool eof_out;  /* EOF left the last stage: destination shut down */
    bool paused;
    bool in_pump, repump;
    uv_timer_t timer;
    bool timer_init;
    uint64_t timer_at;
    uint64_t total;
};

typedef struct attachment {
    fault_plugin *p;
    void *cs;
} attachment;

struct fault_stream {
    uint64_t id;
    fault_plugin *owner;
    fault_conn *client, *server;
    char *target;
    char peer[64];
    rpipe eg, in;
    attachment att[MAX_ATTACH];
    int natt;
    int handles; /* timers still closing */
    bool relaying, ending, finished;
    int error;
    fault_stream *prev, *next;
};

static fault_stream *live;
static size_t nlive;
static uint64_t next_id = 1;

size_t fault__streams_live(void) { return nlive; }
uint64_t fault_stream_id(const fault_stream *s) { return s->id; }
const char *fault_stream_peer(const fault_stream *s) { return s->peer; }
const char *fault_stream_target(const fault_stream *s) { return s->target ? s->target : ""; }

uint64_t fault_stream_bytes(const fault_stream *s, fault_direction dir)
{
    return dir == FAULT_DIR_EGRESS ? s->eg.total : s->in.total;
}

static void pump(rpipe *pp);
static void stream_end(fault_stream *s, bool reset, int error);

/* ---- nodes ---- */

static node *node_new(rpipe *pp, const uint8_t *data, size_t len)
{
    node *n = malloc(sizeof *n + len);
    if (!n)
        return NULL;
    n->next = NULL;
    n->pp = pp;
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

static void node_free(node *n)
{
    free(n->alloc);
    free(n);
}

int fault_chunk_replace(fault_stream *s, fault_chunk *c, const void *data, size_t len)
{
    (void)s;
    node *n = fault__container_of(c, node, c);
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return -ENOMEM;
    if (len)
        memcpy(copy, data, len);
    n->pp->staged = n->pp->staged - c->len + len;
    free(n->alloc);
    n->alloc = copy;
    c->data = copy;
    c->len = len;
    return 0;
}

static void stage_push(stage *st, node *n)
{
    n->c.arrived_us = fault_now_us();
    n->next = NULL;
    if (st->tail)
        st->tail->next = n;
    else
        st->head = n;
    st->tail = n;
}

static node *stage_pop(stage *st)
{
    node *n = st->head;
    st->head = n->next;
    if (!st->head)
        st->tail = NULL;
    n->next = NULL;
    return n;
}

/* ---- backpressure ---- */

static size_t pending(const rpipe *pp)
{
    return pp->staged + (pp->dst ? fault__conn_queued(pp->dst) : 0);
}

static void check_flow(rpipe *pp)
{
    if (pp->s->ending || pp->src_eof || !pp->src)
        return;
    size_t p = pending(pp);
    if (!pp->paused && p > HIGH_WATER) {
        pp->paused = true;
        fault_conn_read_stop(pp->src);
    } else if (pp->paused && p < LOW_WATER) {
        pp->paused = false;
        fault_conn_read_start(pp->src, pp->src->read_cb, pp->src->read_ud);
    }
}

/* Both directions finished and every write drained: end gracefully. */
static void check_done(fault_stream *s)
{
    if (s->ending || !s->eg.eof_out || !s->in.eof_out)
        return;
    if (fault__conn_queued(s->client) || fault__conn_queued(s->server))
        return;
    stream_end(s, false, 0);
}

static void on_drain(fault_conn *c, void *ud)
{
    rpipe *pp = ud;
    (void)c;
    if (pp->s->ending)
        return;
    check_flow(pp);
    check_done(pp->s);
}

/* ---- output ---- */

static void on_node_written(void *ud, int status)
{
    node *n = ud;
    rpipe *pp = n->pp;
    node_free(n);
    if (status < 0 && status != UV_ECANCELED && !pp->s->ending)
        stream_end(pp->s, true, status);
}

static void publish_bytes(rpipe *pp, size_t len)
{
    if (!fault_event_wanted(FAULT_EV_BYTES))
        return;
    fault_event ev = {.type = FAULT_EV_BYTES, .size = sizeof ev};
    ev.conn_id = pp->s->id;
    ev.direction = pp->dir;
    ev.bytes = len;
    fault_event_publish(pp->s->owner, &ev);
}

static void output(rpipe *pp, node *n)
{
    fault_stream *s = pp->s;
    pp->staged -= n->c.len;
    if (n->eof) {
        node_free(n);
        pp->eof_out = true;
        fault_conn_shutdown(pp->dst);
        check_done(s);
        return;
    }
    if (n->c.len == 0) {
        node_free(n);
        return;
    }
    pp->total += n->c.len;
    publish_bytes(pp, n->c.len);
    int rc = fault__conn_write_ref(pp->dst, n->c.data, n->c.len, on_node_written, n);
    if (rc < 0 && !s->ending)
        stream_end(s, true, rc);
}

/* Moves `bytes` (0: all) of stage i's head to the next stage or out. */
static void advance(rpipe *pp, int i, size_t bytes)
{
    stage *st = &pp->st[i];
    node *n = st->head;
    node *moving;
    if (!n->eof && bytes && bytes < n->c.len) {
        moving = node_new(pp, n->c.data, bytes);
        if (!moving) {
            stream_end(pp->s, true, -ENOMEM);
            return;
        }
        moving->c.offset = n->c.offset;
        n->c.data += bytes;
        n->c.len -= bytes;
        n->c.offset += bytes;
    } else {
        moving = stage_pop(st);
    }
    if (i + 1 < pp->nst)
        stage_push(&pp->st[i + 1], moving);
    else
        output(pp, moving);
}

/* ---- the pump ---- */

static void on_timer(uv_timer_t *t)
{
    rpipe *pp = t->data;
    pp->timer_at = 0;
    pump(pp);
}

static void arm(rpipe *pp, uint64_t at, uint64_t now)
{
    if (pp->timer_at == at)
        return;
    pp->timer_at = at;
    /* libuv timers count milliseconds; round up so a delay never ends early. */
    uint64_t ms = (at - now + 999) / 1000;
    uv_timer_start(&pp->timer, on_timer, ms, 0);
}

static void pump_once(rpipe *pp)
{
    fault_stream *s = pp->s;
    uint64_t now = fault_now_us();
    uint64_t wake = UINT64_MAX;
    for (int i = 0; i < pp->nst && !s->ending; i++) {
        stage *st = &pp->st[i];
        const fault_stream_ops *ops = st->p->d->stream;
        while (st->head && !s->ending) {
            node *n = st->head;
            if (!st->p->active) {
                /* Switched off (or never on): bytes pass untouched. */
                st->decided = st->held = false;
                advance(pp, i, 0);
                continue;
            }
            if (st->held)
                break;
            if (!st->decided) {
                fault_verdict v;
                memset(&v, 0, sizeof v);
                fault_action a = FAULT_PASS;
                if (n->eof) {
                    if (ops->on_eof)
                        a = ops->on_eof(st->p->state, st->cs, s, st->side, pp->dir, &v);
                } else if (ops->on_data) {
                    a = ops->on_data(st->p->state, st->cs, s, st->side, pp->dir, &n->c, &v);
                }
                if (s->ending)
                    return;
                if (a == FAULT_HOLD) {
                    st->held = true;
                    break;
                }
                if (a == FAULT_CLOSE) {
                    fault_stream_close(s);
                    return;
                }
                if (a == FAULT_RESET) {
                    stream_end(s, true, 0);
                    return;
                }
                st->decided = true;
                st->until = v.until_us;
                st->pass = v.bytes;
                if (!n->eof && n->c.len == 0) {
                    /* The plugin replaced the bytes with nothing. */
                    node_free(stage_pop(st));
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
            advance(pp, i, st->pass);
        }
    }
    if (!s->ending && wake != UINT64_MAX)
        arm(pp, wake, now);
}

static void pump(rpipe *pp)
{
    if (pp->s->ending)
        return;
    if (pp->in_pump) {
        /* A hook woke the stream from inside the pump: go round again. */
        pp->repump = true;
        return;
    }
    pp->in_pump = true;
    do {
        pp->repump = false;
        pump_once(pp);
    } while (pp->repump && !pp->s->ending);
    pp->in_pump = false;
    if (!pp->s->ending) {
        check_flow(pp);
        check_done(pp->s);
    }
}

/* ---- reading ---- */

static void on_read(fault_conn *c, long nread, const uint8_t *data, void *ud)
{
    rpipe *pp = ud;
    fault_stream *s = pp->s;
    (void)c;
    if (s->ending)
        return;
    if (nread < 0) {
        if (nread != UV_EOF) {
            /* A reset (or any error) on one leg becomes a reset on the
             * other, as a peer behind a real network path would see. */
            stream_end(s, true, (int)nread);
            return;
        }
        pp->src_eof = true;
        fault_conn_read_stop(pp->src);
        node *n = node_new(pp, NULL, 0);
        if (!n) {
            stream_end(s, true, -ENOMEM);
            return;
        }
        n->eof = true;
        if (pp->nst == 0)
            output(pp, n);
        else {
            stage_push(&pp->st[0], n);
            pump(pp);
        }
        return;
    }
    size_t len = (size_t)nread;
    if (pp->nst == 0) {
        /* Fast path: hand the bytes to the socket straight from the read
         * buffer; copy only what it does not take now. */
        size_t done = 0;
        if (fault__conn_queued(pp->dst) == 0) {
            long w = fault__conn_try_write(pp->dst, data, len);
            if (w < 0) {
                stream_end(s, true, (int)w);
                return;
            }
            done = (size_t)w;
        }
        pp->total += done;
        if (done > 0)
            publish_bytes(pp, done);
        if (done < len) {
            node *n = node_new(pp, data + done, len - done);
            if (!n) {
                stream_end(s, true, -ENOMEM);
                return;
            }
            n->c.offset = pp->total;
            pp->staged += n->c.len;
            output(pp, n);
        }
        check_flow(pp);
        return;
    }
    node *n = node_new(pp, data, len);
    if (!n) {
        stream_end(s, true, -ENOMEM);
        return;
    }
    n->c.offset = pp->total + pp->staged;
    pp->staged += len;
    stage_push(&pp->st[0], n);
    pump(pp);
}

/* ---- lifecycle ---- */

fault_stream *fault_stream_new(fault_plugin *self, fault_conn *client, const char *target)
{
    fault_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->id = next_id++;
    s->owner = self;
    s->client = client;
    s->target = target ? strdup(target) : NULL;
    snprintf(s->peer, sizeof s->peer, "%s", fault_conn_peer(client));
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

static int attach_all(fault_stream *s)
{
    uint32_t masks[MAX_ATTACH];
    for (fault_plugin *p = fault__plugins(); p && s->natt < MAX_ATTACH; p = p->next) {
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
        masks[s->natt] = points;
        s->natt++;
    }
    /* Egress meets the client-side stages first; ingress the server side. */
    static const struct { uint32_t point; fault_side side; int pipe; } order[] = {
        {FAULT_POINT_CLIENT_EGRESS, FAULT_SIDE_CLIENT, 0},
        {FAULT_POINT_SERVER_EGRESS, FAULT_SIDE_SERVER, 0},
        {FAULT_POINT_SERVER_INGRESS, FAULT_SIDE_SERVER, 1},
        {FAULT_POINT_CLIENT_INGRESS, FAULT_SIDE_CLIENT, 1},
    };
    int counts[2] = {0, 0};
    for (int k = 0; k < s->natt; k++)
        for (size_t o = 0; o < 4; o++)
            if (masks[k] & order[o].point)
                counts[order[o].pipe]++;
    rpipe *pipes[2] = {&s->eg, &s->in};
    for (int q = 0; q < 2; q++) {
        if (counts[q] == 0)
            continue;
        pipes[q]->st = calloc((size_t)counts[q], sizeof(stage));
        if (!pipes[q]->st)
            return -ENOMEM;
    }
    for (size_t o = 0; o < 4; o++) {
        rpipe *pp = pipes[order[o].pipe];
        for (int k = 0; k < s->natt; k++) {
            if (!(masks[k] & order[o].point))
                continue;
            stage *st = &pp->st[pp->nst++];
            st->p = s->att[k].p;
            st->cs = s->att[k].cs;
            st->side = order[o].side;
        }
    }
    return 0;
}

static void pipe_init(fault_stream *s, rpipe *pp, fault_direction dir, fault_conn *src,
                      fault_conn *dst)
{
    pp->s = s;
    pp->dir = dir;
    pp->src = src;
    pp->dst = dst;
    if (pp->nst > 0) {
        uv_timer_init(fault__g.loop, &pp->timer);
        pp->timer.data = pp;
        pp->timer_init = true;
    }
    dst->drain_cb = on_drain;
    dst->drain_ud = pp;
}

int fault_stream_relay(fault_stream *s, fault_conn *server)
{
    s->server = server;
    s->relaying = true;
    if (fault__g.stopping) {
        stream_end(s, false, 0);
        return UV_ECANCELED;
    }
    int rc = attach_all(s);
    pipe_init(s, &s->eg, FAULT_DIR_EGRESS, s->client, s->server);
    pipe_init(s, &s->in, FAULT_DIR_INGRESS, s->server, s->client);
    if (rc < 0) {
        stream_end(s, true, rc);
        return rc;
    }
    fault_conn_read_start(s->client, on_read, &s->eg);
    fault_conn_read_start(s->server, on_read, &s->in);
    return 0;
}

void fault_stream_abort(fault_stream *s, int error)
{
    stream_end(s, true, error);
}

static void free_stream(fault_stream *s)
{
    free(s->eg.st);
    free(s->in.st);
    free(s->target);
    free(s);
}

static void on_timer_closed(uv_handle_t *h)
{
    rpipe *pp = h->data;
    fault_stream *s = pp->s;
    if (--s->handles == 0 && s->finished)
        free_stream(s);
}

static void drop_stages(rpipe *pp)
{
    for (int i = 0; i < pp->nst; i++) {
        while (pp->st[i].head)
            node_free(stage_pop(&pp->st[i]));
    }
    pp->staged = 0;
}

static void stream_end(fault_stream *s, bool reset, int error)
{
    if (s->ending)
        return;
    s->ending = true;
    s->error = error;
    drop_stages(&s->eg);
    drop_stages(&s->in);
    if (reset) {
        fault_conn_reset(s->client);
        if (s->server)
            fault_conn_reset(s->server);
    } else {
        fault_conn_close(s->client);
        if (s->server)
            fault_conn_close(s->server);
    }
    for (int k = 0; k < s->natt; k++) {
        fault_plugin *p = s->att[k].p;
        if (p->d->stream->detach)
            p->d->stream->detach(p->state, s->att[k].cs, s);
    }
    fault_event ev = {.type = FAULT_EV_CONN_CLOSE, .size = sizeof ev};
    ev.conn_id = s->id;
    ev.peer = s->peer;
    ev.target = s->target;
    ev.bytes_egress = s->eg.total;
    ev.bytes_ingress = s->in.total;
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

    s->finished = true;
    rpipe *pipes[2] = {&s->eg, &s->in};
    for (int q = 0; q < 2; q++) {
        if (pipes[q]->timer_init) {
            s->handles++;
            uv_close((uv_handle_t *)&pipes[q]->timer, on_timer_closed);
        }
    }
    if (s->handles == 0)
        free_stream(s);
}

void fault_stream_close(fault_stream *s)
{
    if (s->ending)
        return;
    /* Stop taking new bytes, forget what faults still hold, and let what
     * was already written drain before the FINs. */
    drop_stages(&s->eg);
    drop_stages(&s->in);
    s->eg.src_eof = s->in.src_eof = true;
    fault_conn_read_stop(s->client);
    if (s->server)
        fault_conn_read_stop(s->server);
    if (!s->server) {
        stream_end(s, false, 0);
        return;
    }
    s->eg.eof_out = s->in.eof_out = true;
    fault_conn_shutdown(s->client);
    fault_conn_shutdown(s->server);
    check_done(s);
}

void fault_stream_reset(fault_stream *s)
{
    stream_end(s, true, 0);
}

void fault_stream_wake(fault_stream *s)
{
    if (s->ending)
        return;
    rpipe *pipes[2] = {&s->eg, &s->in};
    for (int q = 0; q < 2; q++) {
        for (int i = 0; i < pipes[q]->nst; i++)
            pipes[q]->st[i].held = false;
        pump(pipes[q]);
        if (s->ending)
            return;
    }
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
     * leave the pending connect pointing at freed memory. */
    for (fault_stream *s = live, *next; s; s = next) {
        next = s->next;
        if (s->relaying)
            stream_end(s, false, 0);
    }
}

int fault__stream_check_connect(fault_stream *s, const char *host, uint16_t port)
{
    (void)s;
    for (fault_plugin *p = fault__plugins(); p; p = p->next) {
        if (!p->d->stream || !p->d->stream->on_connect || !p->active)
            continue;
        int rc = p->d->stream->on_connect(p->state, s, host, port);
        if (rc < 0)
            return rc;
    }
    return 0;
}
