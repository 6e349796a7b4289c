/*
 * plugins/http-response/http-response.c - the HTTP error fault.
 *
 * Semantics:
 *  - Per request, not per connection: every request of targeted HTTP
 *    traffic (forward proxy, http(s):// mappings; see --upstream) rolls
 *    once, with probability --http-response-trigger-probability (default
 *    1), from this plugin's generator, so the same --seed and the same
 *    sequence of requests give the same sequence of errors.
 *  - A hit answers the client at once with --http-response-status
 *    (default 500) and --http-response-body (default: empty; sent as
 *    application/json when it looks like JSON, else text/plain). The
 *    decision is taken when the request head is known, before anything is
 *    sent upstream: the request never reaches the upstream (the original
 *    tool forwards it first, which is not what its documentation says). A
 *    request body the client still sends is read and dropped.
 *  - A miss lets the request go on untouched.
 *  - CONNECT tunnels are not HTTP exchanges to this fault: their bytes are
 *    opaque, so it never answers them.
 *  - --http-response-direction is accepted for compatibility with the
 *    original's command line and has no effect: the answer replaces the
 *    whole exchange, so there is no direction to pick.
 *  - --http-response-sched switches the fault on and off; outside its
 *    windows requests are not rolled at all.
 *  - Each hit is published as a fault event with the status and the URL.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fault/plugin.h>

typedef struct hr_state {
    bool enabled;
    int64_t status;
    const char *body;
    double probability;
    int direction;
    fault_schedule *sched;
    size_t body_len;
    const char *content_type;
} hr_state;

static const char *const direction_choices[] = {"ingress", "egress", "both", NULL};

#define OFF(f) offsetof(hr_state, f)

static const fault_option options[] = {
    {.name = "with-http-response",
     .env = "FAULT_WITH_HTTP_FAULT",
     .type = FAULT_OPT_BOOL,
     .help = "Enable the HTTP error fault: answer requests with an error instead of the upstream",
     .offset = OFF(enabled),
     .flags = FAULT_OPTF_ENABLE},
    {.name = "http-response-status",
     .env = "FAULT_HTTP_FAULT_STATUS",
     .type = FAULT_OPT_INT,
     .def = "500",
     .metavar = "CODE",
     .help = "Status of the answer (100-599)",
     .offset = OFF(status),
     .min = 100,
     .max = 599},
    {.name = "http-response-body",
     .env = "FAULT_HTTP_FAULT_BODY",
     .type = FAULT_OPT_STRING,
     .metavar = "TEXT",
     .help = "Body of the answer (default: empty)",
     .offset = OFF(body)},
    {.name = "http-response-trigger-probability",
     .env = "FAULT_HTTP_FAULT_PROBABILITY",
     .type = FAULT_OPT_PROBABILITY,
     .def = "1.0",
     .metavar = "P",
     .help = "Chance that a request is answered with the error, rolled per request",
     .offset = OFF(probability)},
    {.name = "http-response-direction",
     .env = "FAULT_HTTP_FAULT_DIRECTION",
     .type = FAULT_OPT_ENUM,
     .def = "ingress",
     .choices = direction_choices,
     .metavar = "DIR",
     .help = "Accepted for compatibility; no effect (the answer replaces the exchange)",
     .offset = OFF(direction)},
    {.name = "http-response-sched",
     .env = "FAULT_HTTP_FAULT_SCHED",
     .type = FAULT_OPT_SCHEDULE,
     .help = "When the fault is on, e.g. \"start:10s,duration:30s\"",
     .offset = OFF(sched)},
    FAULT_OPTION_END};

static int configure(fault_plugin *self, void *state)
{
    hr_state *st = state;
    /* A flag that cannot take effect says so (the run goes on). */
    if (fault_option_is_set(self, "http-response-direction"))
        fprintf(stderr, "fault: --http-response-direction (FAULT_HTTP_FAULT_DIRECTION): no effect: "
                        "the answer replaces the whole exchange; ignored\n");
    st->body_len = st->body ? strlen(st->body) : 0;
    /* The documented example body is JSON: label it so clients parse it. */
    const char *b = st->body ? st->body : "";
    while (*b == ' ' || *b == '\t' || *b == '\n')
        b++;
    st->content_type = (*b == '{' || *b == '[') ? "application/json" : "text/plain; charset=utf-8";
    return 0;
}

static fault_http_action on_request(void *state, fault_http_exchange *x)
{
    hr_state *st = state;
    if (strcmp(fault_http_method(x), "CONNECT") == 0)
        return FAULT_HTTP_CONTINUE;
    if (!fault_rng_bernoulli(fault_plugin_rng(fault_plugin_self(st)), st->probability))
        return FAULT_HTTP_CONTINUE;
    const char *headers[] = {"Content-Type", st->content_type, NULL, NULL};
    if (fault_http_respond(x, (int)st->status, st->body_len ? headers : NULL, st->body,
                           st->body_len) < 0)
        return FAULT_HTTP_CONTINUE;
    fault_stream *s = fault_http_stream(x);
    fault_param params[] = {{"status", NULL, (double)st->status}, {"url", fault_http_url(x), 0}};
    fault_event_fault_applied(fault_plugin_self(st), s ? fault_stream_id(s) : 0, FAULT_SIDE_SERVER,
                              FAULT_DIR_INGRESS, params, 2);
    fault_log_debug(fault_plugin_self(st), "%s %s -> %d", fault_http_method(x), fault_http_url(x),
                    (int)st->status);
    return FAULT_HTTP_RESPOND;
}

static const fault_http_ops http_ops = {
    .on_request = on_request,
};

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "http-response", .version = PACKAGE_VERSION,
                    .summary = "HTTP error: answer requests with a status instead of the upstream",
                    .license = "Apache-2.0", .options = options, .state_size = sizeof(hr_state),
                    .configure = configure, .http = &http_ops);
