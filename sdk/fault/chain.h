/*
 * fault/chain.h - filter chains for protocol handlers (ABI 1.1).
 *
 * The relay of fault_stream_relay() moves bytes through the stages that
 * fault plugins attached to a stream. A handler that speaks a protocol
 * itself (an HTTP proxy parses requests, picks an upstream, rewrites
 * headers) needs the same machinery at each hook point it crosses: a chain
 * is exactly that, one direction's stages on one or both sides, fed with
 * fault_chain_push() and delivering to an output callback. Chains keep the
 * relay's rules: in order, head-only decisions, held bytes count as
 * pending so the handler can stop reading its source (backpressure).
 *
 * A handler that is not a relay also owns the stream's end: it registers
 * fault_stream_set_end() to hear when a fault asks to close or reset the
 * connection, and calls fault_stream_finish() when it is done with it.
 */
#ifndef FAULT_CHAIN_H
#define FAULT_CHAIN_H

#include <fault/common.h>
#include <fault/stream.h>

FAULT_BEGIN_DECLS

typedef struct fault_chain fault_chain;

typedef struct fault_chain_ops {
    /* Bytes that passed every stage, in order. Valid during the call only:
     * copy what you keep (fault_conn_write() copies). */
    void (*output)(void *userdata, const uint8_t *data, size_t len);
    /* The EOF given to fault_chain_eof() passed every stage. May be NULL. */
    void (*eof)(void *userdata);
    /* Bytes left the chain or a stage: pending went down. Re-check flow
     * control here. May be NULL. */
    void (*progress)(void *userdata);
    /* Body chains only (fault_http_body_chain_new(), ABI 1.2): an on_body
     * hook answered FAULT_RESET (reset true) or FAULT_CLOSE for this body.
     * The handler ends that exchange alone (an HTTP/2 stream is reset, an
     * HTTP/1.1 connection must close); nothing more comes out of the
     * chain. NULL: the whole stream ends, as for a stream fault. */
    void (*end)(void *userdata, bool reset);
    void *reserved[3];
} fault_chain_ops;

/* Runs the attach() hook of every enabled fault plugin for the stream,
 * once; later calls do nothing. fault_chain_new() and fault_stream_relay()
 * call it. Returns 0 or the negative error a plugin refused with. */
FAULT_API int fault_stream_attach(fault_stream *s);

/* A chain for direction dir (EGRESS or INGRESS) made of the stages at the
 * hook points of the given sides (CLIENT, SERVER or ANY), in wire order:
 * egress meets the client side first, ingress the server side first. A
 * chain without stages hands bytes to output at once. NULL on failure. */
FAULT_API fault_chain *fault_chain_new(fault_stream *s, fault_direction dir, fault_side sides,
                                       const fault_chain_ops *ops, void *userdata);
/* Copies len bytes into the chain. Returns 0 or a negative error. */
FAULT_API int fault_chain_push(fault_chain *c, const void *data, size_t len);
/* Marks the end of the bytes; ops->eof runs when it has passed. */
FAULT_API int fault_chain_eof(fault_chain *c);
/* Bytes inside the chain (held or waiting in a stage). */
FAULT_API size_t fault_chain_pending(const fault_chain *c);
/* Number of stages; 0 means bytes pass straight through. */
FAULT_API size_t fault_chain_stages(const fault_chain *c);
/* Frees the chain; pending bytes are dropped and no callback runs after. */
FAULT_API void fault_chain_free(fault_chain *c);

/* ABI 1.2: one exchange (request and response) on s is over, the next
 * one begins: calls the on_exchange hook of the faults attached to s. */
FAULT_API void fault_stream_next_exchange(fault_stream *s);

/* A fault asked to end the stream: reset is true for an RST, false for a
 * graceful close. The handler tears its connections down, then calls
 * fault_stream_finish(). */
typedef void (*fault_stream_end_cb)(fault_stream *s, bool reset, void *userdata);
FAULT_API void fault_stream_set_end(fault_stream *s, fault_stream_end_cb cb, void *userdata);
/* The handler is done with a stream it did not relay: publishes CONN_CLOSE
 * with the byte counts given, detaches the faults and frees the stream
 * (the client connection is the handler's to close). */
FAULT_API void fault_stream_finish(fault_stream *s, uint64_t bytes_egress, uint64_t bytes_ingress,
                                   int error);

FAULT_END_DECLS

#endif /* FAULT_CHAIN_H */
