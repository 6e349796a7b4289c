/*
 * fault/stream.h - stream-level hooks on the relay.
 *
 * A proxied connection (a "stream") has two legs, the client leg and the
 * server (upstream) leg, and two directions, egress (client to upstream) and
 * ingress (upstream to client). That gives four hook points:
 *
 *   client --[CLIENT,EGRESS]--> proxy --[SERVER,EGRESS]--> upstream
 *   client <--[CLIENT,INGRESS]- proxy <-[SERVER,INGRESS]-- upstream
 *
 * Bytes read from the client pass through the CLIENT,EGRESS filters then the
 * SERVER,EGRESS filters before they are written upstream; bytes read from the
 * upstream pass through SERVER,INGRESS then CLIENT,INGRESS. Within a point,
 * filters run in plugin order.
 *
 * Each filter stage keeps its chunks in order: a filter only ever sees the
 * chunk at the head of its stage, and nothing behind a held chunk overtakes
 * it, so faults never reorder bytes. Buffering is bounded per direction:
 * when the bytes queued in a direction exceed the high-water mark the relay
 * stops reading the sender, and resumes below the low-water mark, so a slow
 * stage is felt as backpressure by the peer, as a slow network would be.
 *
 * Everything here runs on the loop thread.
 */
#ifndef FAULT_STREAM_H
#define FAULT_STREAM_H

#include <fault/common.h>

FAULT_BEGIN_DECLS

/* One proxied connection. Opaque; valid from attach() to detach(). */
typedef struct fault_stream fault_stream;

/* Hook points, as a bit mask for fault_stream_ops.attach(). */
#define FAULT_POINT_CLIENT_EGRESS  0x1u
#define FAULT_POINT_CLIENT_INGRESS 0x2u
#define FAULT_POINT_SERVER_EGRESS  0x4u
#define FAULT_POINT_SERVER_INGRESS 0x8u

/* The points selected by a side and a direction (ANY and BOTH widen). */
FAULT_API uint32_t fault_points(fault_side side, fault_direction dir);

/* A run of bytes waiting at a filter stage. */
typedef struct fault_chunk {
    uint8_t *data;       /* may be modified in place (same length) */
    size_t len;          /* bytes in this chunk, > 0 */
    uint64_t arrived_us; /* when the chunk entered this stage (fault_now_us clock) */
    uint64_t offset;     /* position of data[0] in this direction's byte stream */
} fault_chunk;

/* What a filter decides for the chunk at the head of its stage. */
typedef enum fault_action {
    FAULT_PASS = 0,  /* pass verdict.bytes (0: all) at verdict.until_us */
    FAULT_HOLD = 1,  /* keep the chunk until fault_stream_wake() is called,
                      * then offer it again */
    FAULT_CLOSE = 2, /* flush what was passed, then close both legs with FIN */
    FAULT_RESET = 3  /* drop everything and reset both legs (RST) */
} fault_action;

typedef struct fault_verdict {
    /* FAULT_PASS: absolute time (fault_now_us clock) before which the bytes
     * must not move on; 0 or a past time means now. Latency sets
     * chunk->arrived_us + delay, so consecutive chunks do not add up their
     * delays; a rate limiter sets now + wait. */
    uint64_t until_us;
    /* FAULT_PASS: pass only the first `bytes` bytes (0 = the whole chunk).
     * The rest stays at the head of the stage and is offered again, with
     * its arrived_us unchanged, once the first part has moved on. */
    size_t bytes;
    void *reserved[2];
} fault_verdict;

/*
 * The stream hooks of a fault (or bridge) plugin. Any may be NULL.
 */
typedef struct fault_stream_ops {
    /* A stream is about to relay. Return 0 and set *points to the hook
     * points this plugin wants (0 for none) and optionally *conn_state to
     * per-stream state; or a negative error to refuse the connection. */
    int (*attach)(void *state, fault_stream *s, void **conn_state, uint32_t *points);

    /* The chunk at the head of the stage at (side, dir). Fill *v and return
     * an action. Called only while the plugin is active (see
     * fault_plugin_active()); otherwise chunks pass untouched. */
    fault_action (*on_data)(void *state, void *conn_state, fault_stream *s, fault_side side,
                            fault_direction dir, fault_chunk *c, fault_verdict *v);

    /* The sender closed its write side (FIN) and every chunk before it has
     * passed this stage. FAULT_PASS with until_us delays the FIN; HOLD
     * keeps it until fault_stream_wake(). NULL: pass at once. */
    fault_action (*on_eof)(void *state, void *conn_state, fault_stream *s, fault_side side,
                           fault_direction dir, fault_verdict *v);

    /* The host is about to resolve and connect to the upstream for s.
     * Return 0 to go on, or a negative error (FAULT_ERESOLVE to make the name
     * look unresolvable) to fail the connection attempt. */
    int (*on_connect)(void *state, fault_stream *s, const char *host, uint16_t port);

    /* The plugin was switched on or off by its schedule. Held chunks of an
     * inactive plugin are released by the host; this is for the plugin's
     * own bookkeeping. */
    void (*on_active)(void *state, bool active);

    /* The stream ended; free conn_state. Timers the plugin started for the
     * stream must be stopped here. When NULL, the host calls
     * free(conn_state) (ABI 1.1). */
    void (*detach)(void *state, void *conn_state, fault_stream *s);

    /* ABI 1.2: the protocol handler finished one request/response exchange
     * on s and the next one starts (an HTTP/1.1 keep-alive connection's
     * next request, a new HTTP/2 stream). A fault that acts once per
     * connection acts again, once per exchange, as the original tool does
     * for HTTP. NULL: nothing to do. */
    void (*on_exchange)(void *state, void *conn_state, fault_stream *s);

    void *reserved[3];
} fault_stream_ops;

/* Unique id of the stream within the run (also in events). */
FAULT_API uint64_t fault_stream_id(const fault_stream *s);
/* "ip:port" of the client, and "host:port" of the upstream. */
FAULT_API const char *fault_stream_peer(const fault_stream *s);
FAULT_API const char *fault_stream_target(const fault_stream *s);
/* The kind of traffic the stream carries, as its protocol handler said
 * (fault_stream_set_scheme): the --proxy mapping's scheme ("" for a plain
 * host:port mapping, "psql", "tls", ...), or "http-forward" and "connect"
 * for the HTTP forward proxy and its tunnels. Never NULL (ABI 1.1). */
FAULT_API const char *fault_stream_scheme(const fault_stream *s);
/* For protocol handlers: sets it (copied); call before relaying. */
FAULT_API void fault_stream_set_scheme(fault_stream *s, const char *scheme);
/* Offer held chunks (and a held EOF) at every stage again. */
FAULT_API void fault_stream_wake(fault_stream *s);
/* Replace the chunk's bytes with a copy of data[0..len) (len may be 0 to
 * drop the chunk's bytes). Returns 0, FAULT_EINVAL or FAULT_ENOMEM. */
FAULT_API int fault_chunk_replace(fault_stream *s, fault_chunk *c, const void *data, size_t len);
/* End the stream: gracefully (FIN after queued bytes) or with RST. */
FAULT_API void fault_stream_close(fault_stream *s);
FAULT_API void fault_stream_reset(fault_stream *s);
/* Bytes that have left the relay in a direction so far. */
FAULT_API uint64_t fault_stream_bytes(const fault_stream *s, fault_direction dir);

FAULT_END_DECLS

#endif /* FAULT_STREAM_H */
