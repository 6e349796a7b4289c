/*
 * fault/http.h - HTTP-level hooks, on every HTTP path (forward proxy,
 * CONNECT interception, reverse mappings, HTTP/2 streams).
 *
 * A protocol handler that understands HTTP calls these hooks once per
 * exchange (per request on HTTP/1.1, per stream on HTTP/2):
 *
 *   on_request   headers of the request are known; the body has not been
 *                forwarded. Return CONTINUE, RESPOND (the plugin answered
 *                with fault_http_respond(): the upstream is never contacted)
 *                or PENDING (answer later with fault_http_resume()).
 *   on_response  status and headers of the response are known.
 *   on_body      a piece of request (EGRESS) or response (INGRESS) body,
 *                decoded (no chunked framing); same verdicts as stream
 *                filters (pass at a time, pass N bytes, hold, close,
 *                reset), so bodies stream. Called (ABI 1.2) only for the
 *                bodies a plugin asked to watch with fault_http_watch_body()
 *                from its on_request or on_response hook.
 *   on_end       the exchange is over (also after errors).
 *
 * Bodies come in two ways (ABI 1.2):
 *   - streamed: a plugin that called fault_http_watch_body() for a
 *     direction sees each piece of that body in on_body as it passes, in
 *     order, and may delay, hold, change or replace it
 *     (fault_chunk_replace()). A watched body is sent on with chunked
 *     framing (close-delimited to HTTP/1.0 clients; DATA frames on HTTP/2),
 *     since a hook may change its length; bodies nobody watches keep
 *     their framing and the zero-copy paths.
 *   - whole: a plugin that needs the entire body before deciding (to
 *     answer from it, to rewrite it) calls fault_http_want_body() once,
 *     from init(), configure() or start(). Handlers then read a body of
 *     at most that many bytes before running the hooks of that message;
 *     the hooks read it with fault_http_body() and may replace it with
 *     fault_http_set_body(); the message goes on with a Content-Length.
 *     A body that turns out larger is not held: the hooks run without it
 *     (fault_http_body() returns NULL) and it streams as usual.
 *
 * Hooks run only while their plugin is active (enabled and inside its
 * schedule), in plugin order; the first RESPOND wins and later plugins'
 * on_request are not called.
 *
 * HTTP protocol handlers (ABI 1.1) create an exchange per request, fill in
 * the headers, and run the hooks with fault_http_run_request() and
 * fault_http_run_response().
 */
#ifndef FAULT_HTTP_H
#define FAULT_HTTP_H

#include <fault/chain.h>
#include <fault/common.h>
#include <fault/stream.h>

FAULT_BEGIN_DECLS

typedef struct fault_http_exchange fault_http_exchange;

typedef enum fault_http_action {
    FAULT_HTTP_CONTINUE = 0,
    FAULT_HTTP_RESPOND = 1,
    FAULT_HTTP_PENDING = 2
} fault_http_action;

typedef struct fault_http_ops {
    fault_http_action (*on_request)(void *state, fault_http_exchange *x);
    fault_http_action (*on_response)(void *state, fault_http_exchange *x);
    fault_action (*on_body)(void *state, fault_http_exchange *x, fault_direction dir,
                            fault_chunk *c, fault_verdict *v);
    void (*on_end)(void *state, fault_http_exchange *x);
    void *reserved[4];
} fault_http_ops;

/* Which message of the exchange an accessor reads or changes. */
typedef enum fault_http_msg { FAULT_HTTP_REQUEST = 0, FAULT_HTTP_RESPONSE = 1 } fault_http_msg;

FAULT_API uint64_t fault_http_id(const fault_http_exchange *x);
FAULT_API const char *fault_http_method(const fault_http_exchange *x);
/* Absolute URL of the request ("http://host:port/path?query"). */
FAULT_API const char *fault_http_url(const fault_http_exchange *x);
FAULT_API const char *fault_http_host(const fault_http_exchange *x);
/* Path with the query string. */
FAULT_API const char *fault_http_path(const fault_http_exchange *x);
/* Response status, 0 before the response is known. */
FAULT_API int fault_http_status(const fault_http_exchange *x);
FAULT_API int fault_http_set_status(fault_http_exchange *x, int status);
FAULT_API size_t fault_http_header_count(const fault_http_exchange *x, fault_http_msg m);
FAULT_API int fault_http_header_at(const fault_http_exchange *x, fault_http_msg m, size_t i,
                                   const char **name, const char **value);
/* First value of a header (case-insensitive name), or NULL. */
FAULT_API const char *fault_http_header(const fault_http_exchange *x, fault_http_msg m,
                                        const char *name);
/* Replaces every value of name with value; value NULL removes the header. */
FAULT_API int fault_http_header_set(fault_http_exchange *x, fault_http_msg m, const char *name,
                                    const char *value);
/* Answers the client: status, optional headers (name/value pairs, NULL
 * terminated) and body. Valid from on_request and on_response. */
FAULT_API int fault_http_respond(fault_http_exchange *x, int status,
                                 const char *const *headers, const void *body, size_t len);
/* Completes a PENDING hook with CONTINUE or RESPOND. */
FAULT_API void fault_http_resume(fault_http_exchange *x, fault_http_action action);
/* The stream (connection) the exchange travels on. */
FAULT_API fault_stream *fault_http_stream(fault_http_exchange *x);

/* ---- changing the request, whole bodies (ABI 1.2) ---- */

/* Changes the request's method (a token, e.g. "PUT"). Valid from
 * on_request. Returns 0, or -EINVAL for an empty or invalid token. */
FAULT_API int fault_http_set_method(fault_http_exchange *x, const char *method);
/* Changes the request's path (with its query; must start with '/').
 * fault_http_url() follows. Valid from on_request. Returns 0 or -EINVAL. */
FAULT_API int fault_http_set_path(fault_http_exchange *x, const char *path);

/* Asks that this plugin's hooks for message m (on_request for REQUEST,
 * on_response for RESPONSE) see whole bodies of up to max bytes (see the
 * top of this file). Handlers hold the largest max any active plugin
 * asked for. max 0 withdraws the wish. Call it from init(), configure()
 * or start(). Returns 0 or -EINVAL. */
FAULT_API int fault_http_want_body(fault_plugin *self, fault_http_msg m, size_t max);
/* The whole body of message m, when the handler held it for the hooks
 * (*len may be 0: an empty body); NULL when it did not (no plugin asked,
 * the message is too large, its hooks run before the body is read). The
 * pointer is valid until the body is set again or the exchange ends. */
FAULT_API const uint8_t *fault_http_body(const fault_http_exchange *x, fault_http_msg m,
                                         size_t *len);
/* Replaces the held body of m with a copy of data[0..len). Valid only when
 * fault_http_body() is not NULL for m (-EPERM otherwise); the handler sends
 * the new body with a matching Content-Length. Returns 0, -EPERM or
 * -ENOMEM. */
FAULT_API int fault_http_set_body(fault_http_exchange *x, fault_http_msg m, const void *data,
                                  size_t len);

/* ---- for HTTP protocol handlers (ABI 1.1) ---- */

/* A new exchange on stream s (may be NULL). url is absolute; host is
 * "name[:port]" as the request addressed it; path includes the query. */
FAULT_API fault_http_exchange *fault_http_exchange_new(fault_plugin *self, fault_stream *s,
                                                       const char *method, const char *url,
                                                       const char *host, const char *path);
/* Ends the exchange: on_end runs for every plugin whose hooks saw it (a
 * plugin that went PENDING must not resume it afterwards), then it is
 * freed. Call it once the exchange is over, also after errors. */
FAULT_API void fault_http_exchange_free(fault_http_exchange *x);
/* Appends a header (keeps existing ones of the same name). */
FAULT_API int fault_http_header_add(fault_http_exchange *x, fault_http_msg m, const char *name,
                                    const char *value);

/* result is CONTINUE, or RESPOND when a plugin answered: the answer is the
 * exchange's status, its RESPONSE headers and fault_http_reply_body(). */
typedef void (*fault_http_done_cb)(fault_http_exchange *x, fault_http_action result,
                                   void *userdata);
/* Runs on_request of the active plugins; cb runs exactly once, possibly
 * before this returns. Returns 0 or a negative error (cb not called). */
FAULT_API int fault_http_run_request(fault_http_exchange *x, fault_http_done_cb cb,
                                     void *userdata);
/* Runs on_response likewise, once the upstream's status and headers are in
 * the exchange (fault_http_set_status(), fault_http_header_add()). */
FAULT_API int fault_http_run_response(fault_http_exchange *x, fault_http_done_cb cb,
                                      void *userdata);
/* The body a plugin answered with (fault_http_respond()); NULL/0 if none. */
FAULT_API void fault_http_reply_body(const fault_http_exchange *x, const uint8_t **body,
                                     size_t *len);

/* Asks that self's on_body hook see the request body (dir EGRESS) or the
 * response body (INGRESS) of this exchange. Call it from on_request (for
 * either body) or on_response (for the response body), before the body
 * moves. Returns 0 or -EINVAL. */
FAULT_API int fault_http_watch_body(fault_plugin *self, fault_http_exchange *x,
                                    fault_direction dir);

/* ---- for HTTP protocol handlers: bodies (ABI 1.2) ---- */

/* How many bytes of message m's body the active plugins want held before
 * that message's hooks run (0: none; stream the body). Ask when the head is
 * known, just before fault_http_run_request()/_response(). */
FAULT_API size_t fault_http_body_wanted(const fault_http_exchange *x, fault_http_msg m);
/* The handler read the whole body of m (at most fault_http_body_wanted()
 * bytes): hands a copy to the exchange for the hooks. Afterwards the body
 * to send is fault_http_body(). Returns 0 or -ENOMEM. */
FAULT_API int fault_http_put_body(fault_http_exchange *x, fault_http_msg m, const void *data,
                                  size_t len);
/* Whether a plugin watches the request (EGRESS) or response (INGRESS)
 * body of x: when not, skip fault_http_body_chain_new() altogether. */
FAULT_API bool fault_http_body_watched(const fault_http_exchange *x, fault_direction dir);
/* A chain of the on_body hooks of the plugins watching the body of the
 * request (dir EGRESS) or of the response (INGRESS) of an exchange that
 * has a stream; create it after that message's hooks ran. Push decoded
 * body bytes and the end of the body; send on what comes out (see
 * fault_chain_new()). It has no stages when no plugin watches: check
 * fault_chain_stages() and skip it then, so bodies keep their framing and
 * their zero-copy paths. Free it with
 * fault_chain_free() before the exchange. NULL on failure. */
FAULT_API fault_chain *fault_http_body_chain_new(fault_http_exchange *x, fault_direction dir,
                                                 const fault_chain_ops *ops, void *userdata);

FAULT_END_DECLS

#endif /* FAULT_HTTP_H */
