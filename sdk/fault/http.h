/*
 * fault/http.h - HTTP hooks, for fault plugins: reading and changing the
 * requests and responses that pass, answering in the upstream's place, and
 * bodies. (Protocol handlers that speak HTTP themselves also include
 * <fault/http_handler.h>.)
 *
 * The hooks run on every HTTP path (forward proxy, CONNECT interception,
 * reverse mappings, HTTP/2 streams), once per exchange (a request and its
 * response: per request on HTTP/1.1, per stream on HTTP/2):
 *
 *   on_request   the request's method, URL and headers are known; its body
 *                has not been forwarded. Return CONTINUE, RESPOND (the
 *                plugin answered with fault_http_respond(): the upstream
 *                is never contacted) or PENDING (decide later, from a timer
 *                or a callback, with fault_http_resume()).
 *   on_response  the response's status and headers are known; same
 *                verdicts (RESPOND replaces the upstream's response).
 *   on_body      a piece of a body this plugin watches (see "Bodies"),
 *                decoded (no chunked framing): EGRESS for the request,
 *                INGRESS for the response. Same verdicts as stream
 *                filters (<fault/stream.h>): pass at a time, pass N bytes,
 *                hold, close, reset; change it with fault_chunk_replace().
 *   on_body_end  (since 1.3) the end of a body this plugin watches reached
 *                its stage, after every piece before it: see "The end of a
 *                body" below. NULL: the end passes.
 *   on_end       the exchange is over (also after errors). Called for
 *                every plugin whose on_request or on_response ran, or that
 *                watched a body; the exchange and every string read from
 *                it are freed when on_end returns.
 *
 * Hooks run only while their plugin is active (enabled and inside its
 * schedule), in plugin order; the first RESPOND wins and later plugins'
 * on_request is not called.
 *
 * Bodies (ABI 1.2)
 * ----------------
 *   - streamed: a plugin that calls fault_http_watch_body() from a hook
 *     sees each piece of that body in on_body as it passes, in order. A
 *     watched body is sent on with chunked framing (close-delimited to
 *     HTTP/1.0 clients; DATA frames on HTTP/2), since a hook may change its
 *     length; bodies nobody watches keep their framing and zero-copy paths.
 *   - the end of a body (ABI 1.3): a plugin that keeps bytes between
 *     pieces (an unfinished frame of a streamed format) learns in
 *     on_body_end that no more will come, in order with the pieces and
 *     only when the body ended normally (not when the exchange was reset
 *     or closed). Its chunk c is empty (c->len 0, c->offset the number of
 *     body bytes that came in); the plugin may give it bytes to send before the end
 *     with fault_chunk_replace() (the last bytes of the body), and may
 *     set v->until_us to hold the end (and those bytes) until then;
 *     v->bytes is ignored. Verdicts: PASS (the end goes on; HOLD counts
 *     as PASS here), CLOSE and RESET as in on_body. It is called once per
 *     body and plugin, while the plugin is active (a plugin switched off
 *     by its schedule lets the end pass untold, as it lets pieces pass).
 *   - whole: a plugin that needs the entire body before deciding calls
 *     fault_http_want_body() once, from init(), configure() or start().
 *     Handlers then read a body of at most that many bytes before running
 *     the hooks of that message; the hooks read it with fault_http_body()
 *     and may replace it with fault_http_set_body(); the message goes on
 *     with a Content-Length. A larger body is not held: the hooks run
 *     without it (fault_http_body() returns NULL) and it streams.
 *
 * Conventions
 * -----------
 * Names: fault_http_VERB_NOUN for what changes or does something
 * (fault_http_set_header, fault_http_watch_body), fault_http_NOUN for what
 * reads (fault_http_header, fault_http_status), fault_http_is_ADJECTIVE
 * for yes/no questions. Errors are negative FAULT_E* codes
 * (<fault/common.h>). Strings returned by an accessor belong to the
 * exchange and stay valid until it ends (after on_end returns), even when
 * the value is changed afterwards: copy them only to keep them longer.
 * Every function here must be called from a hook of the exchange it names
 * (or from a callback of the same plugin before on_end, for a PENDING
 * exchange), on the loop thread.
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
    /* Since 1.3 (reserved[0] before it, which older plugins leave NULL):
     * the end of a watched body; see "The end of a body" above. state is
     * the plugin's, x the exchange, dir the body's direction (EGRESS:
     * request, INGRESS: response), c an empty chunk at the body's end that
     * fault_chunk_replace() may fill with final bytes, v the verdict
     * (until_us only). */
    fault_action (*on_body_end)(void *state, fault_http_exchange *x, fault_direction dir,
                                fault_chunk *c, fault_verdict *v);
    void *reserved[3];
} fault_http_ops;

/* Which message of the exchange an accessor reads or changes. */
typedef enum fault_http_msg { FAULT_HTTP_REQUEST = 0, FAULT_HTTP_RESPONSE = 1 } fault_http_msg;

/* ---- reading ---- */

/* Unique id of the exchange within the run (also in events). */
FAULT_API uint64_t fault_http_id(const fault_http_exchange *x);
/* The request's method ("GET"). */
FAULT_API const char *fault_http_method(const fault_http_exchange *x);
/* Absolute URL of the request ("http://host:port/path?query"). */
FAULT_API const char *fault_http_url(const fault_http_exchange *x);
/* "name[:port]" as the request addressed it. */
FAULT_API const char *fault_http_host(const fault_http_exchange *x);
/* Path with the query string ("/a/b?c=d"). */
FAULT_API const char *fault_http_path(const fault_http_exchange *x);
/* Response status; 0 before the response is known. */
FAULT_API int fault_http_status(const fault_http_exchange *x);
/* Number of headers of message m (each repeated header counts). */
FAULT_API size_t fault_http_header_count(const fault_http_exchange *x, fault_http_msg m);
/* The i-th header of m, in wire order: 0, or FAULT_ERANGE when i >=
 * fault_http_header_count(). */
FAULT_API int fault_http_header_at(const fault_http_exchange *x, fault_http_msg m, size_t i,
                                   const char **name, const char **value);
/* First value of a header (case-insensitive name), or NULL. */
FAULT_API const char *fault_http_header(const fault_http_exchange *x, fault_http_msg m,
                                        const char *name);
/* The stream (connection) the exchange travels on; NULL for an exchange a
 * handler made without one. Valid until the exchange ends. */
FAULT_API fault_stream *fault_http_stream(fault_http_exchange *x);

/* ---- changing ---- */

/* Replaces every value of header name in m with value; value NULL removes
 * the header (ABI 1.3 name of fault_http_header_set()). Returns 0,
 * FAULT_EINVAL (NULL name) or FAULT_ENOMEM. */
FAULT_API int fault_http_set_header(fault_http_exchange *x, fault_http_msg m, const char *name,
                                    const char *value);
/* Appends a header to m, keeping those of the same name (ABI 1.3 name of
 * fault_http_header_add()). Returns 0, FAULT_EINVAL or FAULT_ENOMEM. */
FAULT_API int fault_http_add_header(fault_http_exchange *x, fault_http_msg m, const char *name,
                                    const char *value);
/* Sets the response status (100-999). Returns 0 or FAULT_EINVAL. */
FAULT_API int fault_http_set_status(fault_http_exchange *x, int status);
/* Changes the request's method (an HTTP token, e.g. "PUT"). Valid from
 * on_request. Returns 0, FAULT_EINVAL (empty or not a token) or
 * FAULT_ENOMEM (ABI 1.2). */
FAULT_API int fault_http_set_method(fault_http_exchange *x, const char *method);
/* Changes the request's path (with its query; must start with '/', no
 * spaces or control characters); fault_http_url() follows. Valid from
 * on_request. Returns 0, FAULT_EINVAL or FAULT_ENOMEM (ABI 1.2). */
FAULT_API int fault_http_set_path(fault_http_exchange *x, const char *path);

/* ---- answering ---- */

/* Answers the client in the upstream's place: status (100-999), optional
 * headers (name, value, name, value, ..., NULL) and a body (copied). Valid
 * from on_request and on_response; return FAULT_HTTP_RESPOND from the hook
 * (or pass it to fault_http_resume()). Returns 0, FAULT_EINVAL or
 * FAULT_ENOMEM. */
FAULT_API int fault_http_respond(fault_http_exchange *x, int status, const char *const *headers,
                                 const void *body, size_t len);
/* Completes a hook that returned PENDING, with CONTINUE or RESPOND. Call it
 * once, before the exchange ends; later calls do nothing. */
FAULT_API void fault_http_resume(fault_http_exchange *x, fault_http_action action);

/* ---- bodies (ABI 1.2) ---- */

/* Asks that this plugin's hooks for message m (on_request for REQUEST,
 * on_response for RESPONSE) see whole bodies of up to max bytes (see
 * "Bodies" above). Handlers hold the largest max any active plugin asked
 * for; max 0 withdraws the wish. Call it from init(), configure() or
 * start(). Returns 0 or FAULT_EINVAL. */
FAULT_API int fault_http_want_body(fault_plugin *self, fault_http_msg m, size_t max);
/* The whole body of message m, when the handler held it for the hooks
 * (*len may be 0: an empty body); NULL when it did not (no plugin asked, the
 * message is too large, its hooks run before the body is read). Valid until
 * the body is set again or the exchange ends. */
FAULT_API const uint8_t *fault_http_body(const fault_http_exchange *x, fault_http_msg m,
                                         size_t *len);
/* Replaces the held body of m with a copy of data[0..len). Valid only when
 * fault_http_body() is not NULL for m; the handler sends the new body with a
 * matching Content-Length. Returns 0, FAULT_EPERM (no held body),
 * FAULT_EINVAL or FAULT_ENOMEM. */
FAULT_API int fault_http_set_body(fault_http_exchange *x, fault_http_msg m, const void *data,
                                  size_t len);
/* Asks that self's on_body hook see the request body (dir EGRESS) or the
 * response body (INGRESS) of this exchange. Call it from on_request (for
 * either body) or on_response (for the response body), before the body
 * moves. Returns 0 or FAULT_EINVAL. */
FAULT_API int fault_http_watch_body(fault_plugin *self, fault_http_exchange *x,
                                    fault_direction dir);

/* ---- ABI 1.0-1.2 names, kept exported for plugins built against them ---- */

FAULT_API int fault_http_header_set(fault_http_exchange *x, fault_http_msg m, const char *name,
                                    const char *value) FAULT_DEPRECATED; /* fault_http_set_header */

FAULT_END_DECLS

#endif /* FAULT_HTTP_H */
