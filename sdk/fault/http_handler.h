/*
 * fault/http_handler.h - the HTTP API for protocol handlers (ABI 1.3
 * header; the functions date from ABI 1.1 and 1.2 as marked): plugins
 * that parse HTTP themselves, create one exchange per request, run the
 * fault plugins' hooks at the right moments and move bodies through their
 * on_body chains. Fault plugins need only <fault/http.h>.
 *
 * The life of an exchange, as a handler drives it:
 *
 *   x = fault_http_exchange_new(self, stream, method, url, host, path);
 *   fault_http_add_header(x, FAULT_HTTP_REQUEST, name, value);   per header
 *   if ((max = fault_http_wanted_body(x, FAULT_HTTP_REQUEST)) > 0)
 *       read a body of up to max bytes, then fault_http_load_body(x, ...);
 *   fault_http_run_request(x, on_request_done, ud);
 *       RESPOND: answer with fault_http_status(), the RESPONSE headers and
 *       fault_http_reply_body(); CONTINUE: send the request upstream (with
 *       fault_http_body() when a body was loaded), through
 *       fault_http_body_chain_new(x, FAULT_DIR_EGRESS, ...) when
 *       fault_http_is_body_watched(x, FAULT_DIR_EGRESS).
 *   status and headers of the response: fault_http_set_status(),
 *       fault_http_add_header(x, FAULT_HTTP_RESPONSE, ...), the same body
 *       steps, then fault_http_run_response(x, on_response_done, ud);
 *   fault_http_exchange_free(x);                                  at the end
 *
 * Same conventions as <fault/http.h>: negative FAULT_E* codes, strings
 * owned by the exchange until it is freed.
 */
#ifndef FAULT_HTTP_HANDLER_H
#define FAULT_HTTP_HANDLER_H

#include <fault/chain.h>
#include <fault/common.h>
#include <fault/http.h>
#include <fault/stream.h>

FAULT_BEGIN_DECLS

/* A new exchange on stream s (may be NULL: no body chains then, and no
 * stream for the hooks). url is absolute; host is "name[:port]" as the
 * request addressed it; path includes the query. All are copied. NULL only
 * when memory ran out. (ABI 1.1) */
FAULT_API fault_http_exchange *fault_http_exchange_new(fault_plugin *self, fault_stream *s,
                                                       const char *method, const char *url,
                                                       const char *host, const char *path);
/* Ends the exchange: on_end runs for every plugin whose hooks saw it (a
 * plugin that went PENDING must not resume it afterwards), then it is
 * freed with every string it handed out. Call it once the exchange is
 * over, also after errors; free its body chains first. NULL is accepted.
 * (ABI 1.1) */
FAULT_API void fault_http_exchange_free(fault_http_exchange *x);

/* result is CONTINUE, or RESPOND when a plugin answered: the answer is the
 * exchange's status, its RESPONSE headers and fault_http_reply_body(). */
typedef void (*fault_http_done_cb)(fault_http_exchange *x, fault_http_action result,
                                   void *userdata);
/* Runs on_request of the active plugins; cb runs exactly once, possibly
 * before this returns (no plugin went PENDING). Returns 0, or FAULT_EINVAL
 * (NULL argument, hooks of x already running): cb not called. (ABI 1.1) */
FAULT_API int fault_http_run_request(fault_http_exchange *x, fault_http_done_cb cb, void *userdata);
/* Runs on_response likewise, once the upstream's status and headers are in
 * the exchange. Same returns. (ABI 1.1) */
FAULT_API int fault_http_run_response(fault_http_exchange *x, fault_http_done_cb cb,
                                      void *userdata);
/* The body a plugin answered with (fault_http_respond()): *body NULL and
 * *len 0 if none. Valid until the exchange is freed. (ABI 1.1) */
FAULT_API void fault_http_reply_body(const fault_http_exchange *x, const uint8_t **body,
                                     size_t *len);

/* ---- bodies ---- */

/* How many bytes of message m's body the active plugins want held before
 * that message's hooks run (0: none; stream the body). Ask when the head is
 * known, just before fault_http_run_request()/_response(). (ABI 1.3 name
 * of fault_http_body_wanted(), 1.2) */
FAULT_API size_t fault_http_wanted_body(const fault_http_exchange *x, fault_http_msg m);
/* The handler read the whole body of m (at most fault_http_wanted_body()
 * bytes): hands a copy to the exchange for the hooks. Afterwards the body
 * to send is fault_http_body(). Returns 0, FAULT_EINVAL or FAULT_ENOMEM.
 * (ABI 1.3 name of fault_http_put_body(), 1.2) */
FAULT_API int fault_http_load_body(fault_http_exchange *x, fault_http_msg m, const void *data,
                                   size_t len);
/* Whether a plugin watches the request (EGRESS) or response (INGRESS) body
 * of x: when not, skip fault_http_body_chain_new() altogether. (ABI 1.3
 * name of fault_http_body_watched(), 1.2) */
FAULT_API bool fault_http_is_body_watched(const fault_http_exchange *x, fault_direction dir);
/* A chain of the on_body hooks of the plugins watching the body of the
 * request (dir EGRESS) or of the response (INGRESS) of an exchange that has
 * a stream; create it after that message's hooks ran. Push decoded body
 * bytes and the end of the body; send on what comes out (see
 * fault_chain_new() in <fault/chain.h>; ops->end hears an on_body close or
 * reset). It has no stages when no plugin watches. Free it with
 * fault_chain_free() before the exchange. NULL when x has no stream, dir is
 * not EGRESS or INGRESS, ops is NULL, or memory ran out. (ABI 1.2) */
FAULT_API fault_chain *fault_http_body_chain_new(fault_http_exchange *x, fault_direction dir,
                                                 const fault_chain_ops *ops, void *userdata);

/* ---- ABI 1.1-1.2 names, kept exported for plugins built against them ---- */

FAULT_API int fault_http_header_add(fault_http_exchange *x, fault_http_msg m, const char *name,
                                    const char *value) FAULT_DEPRECATED; /* fault_http_add_header */
FAULT_API size_t fault_http_body_wanted(const fault_http_exchange *x, fault_http_msg m)
    FAULT_DEPRECATED; /* fault_http_wanted_body */
FAULT_API int fault_http_put_body(fault_http_exchange *x, fault_http_msg m, const void *data,
                                  size_t len) FAULT_DEPRECATED; /* fault_http_load_body */
FAULT_API bool fault_http_body_watched(const fault_http_exchange *x, fault_direction dir)
    FAULT_DEPRECATED; /* fault_http_is_body_watched */

FAULT_END_DECLS

#endif /* FAULT_HTTP_HANDLER_H */
