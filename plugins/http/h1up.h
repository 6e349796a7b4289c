/*
 * plugins/http/h1up.h - what the two HTTP/1.1 upstreams share (h1up.c):
 * the HTTP/1 session's (sess_upstream.c) and the HTTP/2 streams'
 * (h2_h1up.c). Each keeps its own connection handling and what its
 * client side needs; the reading of a response head (interim, refused
 * 101, bodiless, keep-alive), the request line, the end of a response
 * delimited by the connection's end and the decision to give a
 * connection back to the pool are written here once.
 */
#ifndef FAULT_HTTP_H1UP_H
#define FAULT_HTTP_H1UP_H

#include "proxy.h"

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
 * response allowed it (keepalive), the upstream has not closed (eof) and
 * is still read, nothing waits in its SERVER chains, and the plugin is
 * not stopping. The client sides add their own conditions. */
bool hp_h1up_reusable(const hp_state *st, bool keepalive, bool eof, bool reading, fault_chain *se,
                      fault_chain *si);

#endif /* FAULT_HTTP_H1UP_H */
