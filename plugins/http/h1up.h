/*
 * plugins/http/h1up.h - the HTTP/1.1 upstream that the HTTP/1 session
 * (sess_upstream.c), the HTTP/2 streams (h2_h1up.c) and their CONNECT
 * tunnels (tunnel.c) share (h1up.c): hp_h1up, the connection object each
 * embeds (binding, SERVER chains, reads, writes; its client side told
 * through hp_h1up_ops), and the helpers of the HTTP on it: the reading of
 * a response head (interim, refused 101, bodiless, keep-alive), the
 * request line, the end of a response delimited by the connection's end
 * and the decision to give a connection back to the pool. Each client
 * side keeps its own response parser and what it does with a response.
 */
#ifndef FAULT_HTTP_H1UP_H
#define FAULT_HTTP_H1UP_H

#include "proxy.h"

/* The connection side of an HTTP/1.1 upstream, one object embedded in
 * both client sides (hp_ex of a session, h2_strm of an HTTP/2 stream):
 * the connection (or its pending request), its SERVER chains, its read
 * state, the reads (hp_h1up_read) and the writes (hp_h1up_write). What
 * the bytes mean stays with the client side, told through ops. */
typedef struct hp_h1up hp_h1up;
typedef struct hp_h1up_ops {
    /* Around every read of the connection (references, corks): enter
     * returns what leave gets, which may free u; the client side's
     * after-the-event checks go there. */
    void *(*enter)(hp_h1up *u);
    void (*leave)(void *ctx);
    /* Bytes came from the upstream (before SERVER/INGRESS). */
    void (*resp_byte)(hp_h1up *u);
    /* Response bytes (after SERVER/INGRESS when it has stages). */
    void (*response)(hp_h1up *u, const uint8_t *p, size_t n);
    /* The upstream closed its side and no chain is in the way. */
    void (*response_eof)(hp_h1up *u);
    /* A read or write error. */
    void (*fail)(hp_h1up *u, int err);
    /* A queued write's callback keeps the client side alive: hold
     * returns what written (a fault_conn_write() callback) gets; unhold
     * gives it back when the write was refused. */
    void *(*hold)(hp_h1up *u);
    void (*unhold)(void *ud);
    fault_write_cb written;
} hp_h1up_ops;

struct hp_h1up {
    const hp_h1up_ops *ops;
    struct hp_creq *creq; /* connecting */
    hp_up *up;            /* bound */
    fault_chain *se, *si; /* SERVER/EGRESS and SERVER/INGRESS when targeted */
    bool reading;         /* the connection is read */
    bool paused;          /* reads stopped for flow control */
    bool eof;             /* the upstream closed its side */
};

/* up carries u's exchange from now: user is the hp_up_user of u's client
 * side; with s (targeted exchanges) the SERVER chains are made with the
 * given ops and ud. Reads start. Returns 0, or -ECONNREFUSED when a chain
 * could not be made. */
int hp_h1up_bind(hp_h1up *u, hp_up *up, hp_up_user *user, fault_stream *s,
                 const fault_chain_ops *se_ops, const fault_chain_ops *si_ops, void *chain_ud);
/* A read of u's connection (the client side's hp_up_user on_read). */
void hp_h1up_read(hp_h1up *u, hp_up *up, long nread, const uint8_t *data);
/* Straight to the socket when it has room (no copy, no callback), the
 * rest queued with ops->written. */
void hp_h1up_write(hp_h1up *u, const uint8_t *p, size_t n);
/* Bytes written or queued toward the upstream, not sent yet. */
size_t hp_h1up_congestion(const hp_h1up *u);
/* Frees the SERVER chains. */
void hp_h1up_chains_free(hp_h1up *u);
/* Lets go of the connection: a pending one is cancelled, a bound one
 * closed (reset: with an RST) after its SERVER chains are freed. */
void hp_h1up_drop(hp_h1up *u, bool reset);

/* on_headers_complete of an upstream's response. A 101 nobody asked for
 * is refused (HPE_USER, its reason set); a 1xx is an interim response
 * (*interim set, 0 returned: llhttp goes on to the final one); a final
 * response pauses the parser (HPE_PAUSED), told to skip the body when
 * there is none (a HEAD request's, 204, 304). */
int hp_h1up_on_headers(llhttp_t *p, bool is_head, bool *interim);
/* on_message_complete: the end of an interim response is not the end
 * (0); the final one's pauses the parser at EV_DONE. */
int hp_h1up_on_complete(hp_drive *d, bool *interim);
/* The final response's head is complete: may its connection carry
 * another exchange after it? (Its version and Connection header say so,
 * and its body, if any, ends by length or chunks, not with the
 * connection.) */
bool hp_h1up_keepalive(const llhttp_t *p, const hp_head *h);
/* The response's status and end-to-end headers into x. Returns -1 when
 * x refuses the status. */
int hp_h1up_head_to_x(fault_http_exchange *x, const llhttp_t *p, hp_head *h);
/* Empties b and writes the request line and x's end-to-end request
 * headers: without the framing (Content-Length, Transfer-Encoding),
 * Connection, and TE when drop_te. The caller adds its framing and the
 * blank line. */
void hp_h1up_request_head(hp_buf *b, fault_http_exchange *x, bool drop_te);
/* The upstream closed while a response that runs to the end of the
 * connection was being read (llhttp_message_needs_eof()): 1 when that
 * ended it, 0 when llhttp had nothing to end, else the llhttp error,
 * negated. */
int hp_h1up_finish(hp_drive *d);
/* An exchange ended: its connection goes back to the pool when the
 * response allowed it (keepalive), the upstream has not closed and is
 * still read, nothing waits in u's SERVER chains, and the plugin is not
 * stopping. The client sides add their own conditions. */
bool hp_h1up_reusable(const hp_state *st, const hp_h1up *u, bool keepalive);

#endif /* FAULT_HTTP_H1UP_H */
