/*
 * core/relay.c - the bidirectional relay of a stream (stream.c), built on
 * chains (chain.c): egress (client to upstream) and ingress (upstream to
 * client), and moved to the splice engine (splice.c) when it pays.
 *
 * Buffering is bounded per direction: bytes inside the chain plus bytes
 * queued on the destination socket. Above HIGH_WATER the source is no
 * longer read (the peer's TCP window fills, as on a slow network); below
 * LOW_WATER reading resumes. With no stage at all, bytes are written
 * straight from the read buffer when the socket takes them, so a plain relay
 * copies nothing.
 *
 * End of stream: an EOF travels through the chain like data (a fault may
 * delay a FIN), then becomes a shutdown of the destination's write side.
 * The stream ends when both directions have carried their EOF and the
 * writes have drained, or at once with RST when either side resets.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Buffer budget of one direction. A direction without fault stages (the
 * plain relay) may hold more, so that it can read in large gulps: bulk
 * transfers then cost few system calls. */
#define HIGH_WATER      (256 * 1024)
#define HIGH_WATER_FAST (1024 * 1024)
#define LOW_WATER       (64 * 1024)
#define MIN_READ        (64 * 1024)
/* Splice only where it pays (as HAProxy's splice-auto): a connection with
 * no fault starts on the ordinary relay, whose read and send cost less
 * than two splices through a pipe for the small messages most connections
 * carry, and moves to splice(2) for good once one read brings this much:
 * a transfer that large goes on long enough to gain from zero copy. Pipes
 * are made only for the connections that move. */
#define SPLICE_AUTO (64 * 1024)

typedef struct rpipe {
    struct fault__relay *r;
    fault_direction dir;
    fault_chain *chain;
    fault_conn *src, *dst;
    bool fast;    /* no stage: write straight from the read buffer */
    bool src_eof; /* EOF read from the source */
    bool eof_out; /* EOF left the chain: destination shut down */
    bool paused;
    uint64_t total;
} rpipe;

typedef struct fault__relay {
    fault_stream *s;
    rpipe eg, in;
    fault__splice *splice; /* zero-copy mode: the sockets are its */
    bool splice_wanted;    /* a large read came: splice once drained */
} fault__relay;

/* ---- the relay: flow control ---- */

static size_t pending(const rpipe *pp)
{
    return fault_chain_pending(pp->chain) + fault__conn_queued(pp->dst);
}

static void check_flow(rpipe *pp)
{
    if (pp->r->s->ending || pp->src_eof)
        return;
    size_t p = pending(pp);
    size_t high = pp->fast ? HIGH_WATER_FAST : HIGH_WATER;
    /* The next read takes at most what is left of the budget, so the
     * direction never holds more than high + MIN_READ bytes. */
    pp->src->read_max = p + MIN_READ < high ? high - p : MIN_READ;
    if (!pp->paused && p > high) {
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
    fault__relay *r = s->relay;
    if (s->ending || !r->eg.eof_out || !r->in.eof_out)
        return;
    if (fault__conn_queued(s->client) || fault__conn_queued(s->server))
        return;
    fault__relay_end(s, false, 0);
}

static void try_splice(fault__relay *r);

static void on_drain(fault_conn *c, void *ud)
{
    rpipe *pp = ud;
    (void)c;
    if (pp->r->s->ending)
        return;
    check_flow(pp);
    check_done(pp->r->s);
    if (!pp->r->s->ending && pp->r->splice_wanted)
        try_splice(pp->r);
}

/* ---- the relay: output ---- */

static void on_node_written(void *ud, int status)
{
    fault__node *n = ud;
    /* ECANCELED means the connection is being closed (and the chain may be
     * gone); any other error happens while the stream is alive. */
    fault_stream *s = status < 0 && status != UV_ECANCELED ? fault__chain_stream(n->chain) : NULL;
    fault__node_free(n);
    if (s && s->relay && !s->ending)
        fault__relay_end(s, true, status);
}

static void publish_bytes(rpipe *pp, size_t len)
{
    if (!fault_event_wanted(FAULT_EV_BYTES))
        return;
    fault_event ev = {.type = FAULT_EV_BYTES, .size = sizeof ev};
    ev.conn_id = pp->r->s->id;
    ev.direction = pp->dir;
    ev.bytes = len;
    fault_event_publish(pp->r->s->owner, &ev);
}

/* The chain's sink: bytes are written from the node, which is freed when
 * the socket is done with it; an EOF becomes a shutdown. */
static void sink(void *ud, fault__node *n)
{
    rpipe *pp = ud;
    fault_stream *s = pp->r->s;
    if (n->eof) {
        fault__node_free(n);
        pp->eof_out = true;
        fault_conn_shutdown(pp->dst);
        check_done(s);
        return;
    }
    if (n->c.len == 0) {
        fault__node_free(n);
        return;
    }
    pp->total += n->c.len;
    publish_bytes(pp, n->c.len);
    int rc = fault__conn_write_ref(pp->dst, n->c.data, n->c.len, on_node_written, n);
    if (rc < 0) {
        fault__node_free(n); /* done does not run on an error */
        if (!s->ending)
            fault__relay_end(s, true, rc);
    }
}

/* ---- the relay: input ---- */

static void on_read(fault_conn *c, long nread, const uint8_t *data, void *ud)
{
    rpipe *pp = ud;
    fault_stream *s = pp->r->s;
    (void)c;
    if (s->ending)
        return;
    if (nread < 0) {
        if (nread != UV_EOF) {
            /* A reset (or any error) on one leg becomes a reset on the
             * other, as a peer behind a real network path would see. */
            fault__relay_end(s, true, (int)nread);
            return;
        }
        pp->src_eof = true;
        fault_conn_read_stop(pp->src);
        fault__stream_ref(s);
        if (fault_chain_eof(pp->chain) < 0)
            fault__relay_end(s, true, -ENOMEM);
        fault__stream_unref(s);
        return;
    }
    size_t len = (size_t)nread;
    fault__stream_ref(s);
    if (pp->fast) {
        /* Hand the bytes to the socket straight from the read buffer; copy
         * only what it does not take now. */
        size_t done = 0;
        if (fault__conn_queued(pp->dst) == 0) {
            long w = fault__conn_try_write(pp->dst, data, len);
            if (w < 0) {
                fault__relay_end(s, true, (int)w);
                return;
            }
            done = (size_t)w;
        }
        pp->total += done;
        if (done > 0)
            publish_bytes(pp, done);
        if (done < len && fault__chain_push(pp->chain, data + done, len - done) < 0)
            fault__relay_end(s, true, -ENOMEM);
        if (len >= SPLICE_AUTO && !s->ending && pp->r->in.fast && pp->r->eg.fast &&
            fault__splice_enabled())
            pp->r->splice_wanted = true;
    } else if (fault__chain_push(pp->chain, data, len) < 0) {
        fault__relay_end(s, true, -ENOMEM);
    }
    if (!s->ending)
        check_flow(pp);
    if (!s->ending && pp->r->splice_wanted)
        try_splice(pp->r);
    fault__stream_unref(s);
}

/* ---- the relay: lifecycle ---- */

static int pipe_init(fault__relay *r, rpipe *pp, fault_direction dir, fault_conn *src,
                     fault_conn *dst)
{
    pp->r = r;
    pp->dir = dir;
    pp->src = src;
    pp->dst = dst;
    pp->chain = fault__chain_new(r->s, dir, FAULT_SIDE_ANY, sink, pp);
    if (!pp->chain)
        return FAULT_ENOMEM;
    pp->fast = fault_chain_stages(pp->chain) == 0;
    src->read_max = pp->fast ? HIGH_WATER_FAST : HIGH_WATER;
    dst->drain_cb = on_drain;
    dst->drain_ud = pp;
    return 0;
}

static void splice_done(fault_stream *s, bool reset, int error, uint64_t eg, uint64_t in);

/* Hands both sockets to the splice engine once nothing is left to write
 * and both directions are still open; until then, on_drain asks again. */
static void try_splice(fault__relay *r)
{
    fault_stream *s = r->s;
    if (r->splice || s->ending || !s->client || !s->server)
        return;
    if (r->eg.src_eof || r->in.src_eof || r->eg.eof_out || r->in.eof_out || r->eg.paused ||
        r->in.paused)
        return;
    if (fault_chain_pending(r->eg.chain) || fault_chain_pending(r->in.chain) ||
        fault__conn_queued(s->client) || fault__conn_queued(s->server))
        return;
    r->splice_wanted = false;
    r->splice = fault__splice_start(s, s->client, s->server, splice_done);
    if (!r->splice)
        return; /* no pipe or descriptor to spare: stay on the ordinary relay */
    s->client = s->server = NULL;
    r->eg.src = r->eg.dst = r->in.src = r->in.dst = NULL;
}

int fault_stream_relay(fault_stream *s, fault_conn *server)
{
    return fault_stream_relay_with(s, server, NULL, 0, NULL, 0);
}

static void splice_done(fault_stream *s, bool reset, int error, uint64_t eg, uint64_t in)
{
    (void)reset;
    s->ending = true;
    /* What the ordinary relay moved before the switch counts too. */
    fault__stream_free(s, s->relay->eg.total + eg, s->relay->in.total + in, error);
}

int fault_stream_relay_with(fault_stream *s, fault_conn *server, const void *to_server,
                            size_t to_server_len, const void *to_client, size_t to_client_len)
{
    s->server = server;
    fault__relay *r = calloc(1, sizeof *r);
    if (!r) {
        fault_conn_reset(server);
        fault_stream_abort(s, -ENOMEM);
        return FAULT_ENOMEM;
    }
    r->s = s;
    s->relay = r;
    if (fault__g.stopping) {
        fault__relay_end(s, false, 0);
        return UV_ECANCELED;
    }
    int rc = fault_stream_attach(s);
    if (rc == 0)
        rc = pipe_init(r, &r->eg, FAULT_DIR_EGRESS, s->client, s->server);
    if (rc == 0)
        rc = pipe_init(r, &r->in, FAULT_DIR_INGRESS, s->server, s->client);
    if (rc < 0) {
        fault__relay_end(s, true, rc);
        return rc;
    }
    fault_conn_read_start(s->client, on_read, &r->eg);
    fault_conn_read_start(s->server, on_read, &r->in);
    if (to_server_len == 0 && to_client_len == 0)
        return 0;
    /* Bytes the handler already read go first, through the same stages:
     * reads only complete from a later loop iteration, so nothing read
     * from the sockets can overtake them. */
    fault__stream_ref(s);
    if (to_server_len && fault__chain_push(r->eg.chain, to_server, to_server_len) < 0)
        fault__relay_end(s, true, -ENOMEM);
    if (!s->ending && to_client_len && fault__chain_push(r->in.chain, to_client, to_client_len) < 0)
        fault__relay_end(s, true, -ENOMEM);
    if (!s->ending) {
        check_flow(&r->eg);
        check_flow(&r->in);
    }
    fault__stream_unref(s);
    return 0;
}

void fault__relay_end(fault_stream *s, bool reset, int error)
{
    if (s->ending)
        return;
    if (s->relay && s->relay->splice) {
        /* splice_done() frees the stream. */
        fault__splice_end(s->relay->splice, reset);
        return;
    }
    s->ending = true;
    if (reset) {
        fault_conn_reset(s->client);
        if (s->server)
            fault_conn_reset(s->server);
    } else {
        fault_conn_close(s->client);
        if (s->server)
            fault_conn_close(s->server);
    }
    fault__relay *r = s->relay;
    fault__stream_free(s, r->eg.total, r->in.total, error);
}

uint64_t fault__relay_bytes(const fault__relay *r, fault_direction dir)
{
    uint64_t before = dir == FAULT_DIR_EGRESS ? r->eg.total : r->in.total;
    if (r->splice)
        return before + fault__splice_total(r->splice, dir);
    return before;
}

/* A graceful close of a relayed stream (fault_stream_close()). */
void fault__relay_close(fault_stream *s)
{
    if (s->relay->splice) {
        fault__relay_end(s, false, 0);
        return;
    }
    /* A graceful close: stop reading both sides and let an EOF follow what
     * is already on its way in each direction, so every byte a fault let
     * through is delivered before the FINs. A fault that closes from one
     * of its stages has already dropped what it held (chain.c). */
    fault__stream_ref(s);
    fault__relay *r = s->relay;
    rpipe *pipes[2] = {&r->eg, &r->in};
    for (int q = 0; q < 2 && !s->ending; q++) {
        rpipe *pp = pipes[q];
        if (pp->src_eof)
            continue;
        pp->src_eof = true;
        if (pp->src)
            fault_conn_read_stop(pp->src);
        if (!fault__chain_has_eof(pp->chain) && fault_chain_eof(pp->chain) < 0)
            fault__relay_end(s, true, -ENOMEM);
    }
    if (!s->ending && s->server)
        check_done(s);
    else if (!s->ending)
        fault__relay_end(s, false, 0);
    fault__stream_unref(s);
}
