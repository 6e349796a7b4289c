/*
 * plugins/http/tests/hookprobe.c - a fault plugin that exists to test the
 * HTTP hooks of the http plugin (built for `make check` only). Driven by
 * request headers:
 *
 *   X-Probe: pending           on_request goes PENDING, CONTINUE 200 ms later
 *   X-Probe: pending-respond   PENDING, then RESPOND 299 "probe" 200 ms later
 *   X-Probe: respond           RESPOND 298 at once
 *   X-Probe: status            on_response changes the status to 297 and
 *                              adds "X-Probed: yes"
 *   X-Probe: replace           on_response answers 296 "replaced" instead
 *   X-Probe: url               RESPOND 200 with fault_http_url() as the body
 *   X-Probe: scheme            RESPOND 200 with the stream's scheme
 *                              (fault_stream_scheme) as the body
 *
 * With --hookprobe-body-limit N the plugin asks for whole bodies of up to
 * N bytes (fault_http_want_body) and:
 *
 *   X-Probe: body-echo         on_request answers 200 "held=N sha256=HEX"
 *                              of the request body it was given, or
 *                              "held=none" when it got none
 *   X-Probe: body-rewrite      on_request changes the request: method PUT,
 *                              path /echo?rewritten, body "rewritten body"
 *   X-Probe: resp-body         on_response replaces the response body with
 *                              its upper-case copy and adds X-Held-Len (or
 *                              "none")
 *   X-Probe: bad-path          on_request tries an invalid path, answers
 *                              200 "einval" when refused
 *
 * on_body (streamed bodies; on_request watches both bodies for these),
 * whatever the body limit:
 *
 *   X-Probe: body-upper        response body pieces upper-cased in place,
 *                              request body pieces lower-cased
 *   X-Probe: body-delay        each response body piece held 300 ms
 *   X-Probe: body-grow         each response body piece doubled
 *                              (fault_chunk_replace: the length changes)
 *   X-Probe: body-cut          FAULT_RESET at the first response piece
 *                              (paths starting /keep are spared)
 *   X-Probe: body-end          on_body_end (SDK 1.3) ends the response body
 *                              with "end at N\n" (N: the chunk's offset,
 *                              the body's length as it came) and the
 *                              request body with "end\n"
 *
 * Every on_end is logged ("probe: end #ID pending=N"), so a test can see
 * that an exchange whose client left while PENDING was ended, and the
 * pending timer is cancelled then (no resume after on_end).
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include <fault/plugin.h>

typedef struct probe_state {
    bool enabled;
    int64_t body_limit;
} probe_state;

typedef struct pend {
    uv_timer_t t;
    fault_http_exchange *x;
    bool respond;
    struct pend *next;
} pend;

static pend *pendings;

static const fault_option options[] = {
    {.name = "with-hookprobe",
     .type = FAULT_OPT_BOOL,
     .help = "Enable the HTTP hook probe",
     .offset = offsetof(probe_state, enabled),
     .flags = FAULT_OPTF_ENABLE},
    {.name = "hookprobe-body-limit",
     .type = FAULT_OPT_INT,
     .help = "Ask for whole bodies of up to this many bytes (0: none)",
     .offset = offsetof(probe_state, body_limit),
     .metavar = "BYTES"},
    FAULT_OPTION_END};

static int configure(fault_plugin *self, void *state)
{
    probe_state *st = state;
    if (st->body_limit < 0) {
        fault_log_error(self, "--hookprobe-body-limit must not be negative");
        return -1;
    }
    fault_http_want_body(self, FAULT_HTTP_REQUEST, (size_t)st->body_limit);
    fault_http_want_body(self, FAULT_HTTP_RESPONSE, (size_t)st->body_limit);
    return 0;
}

/* A tiny SHA-256 would be a lot of code for a test: a 64-bit FNV-1a hash
 * is enough to tell bodies apart. */
static unsigned long long fnv(const uint8_t *p, size_t n)
{
    unsigned long long h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static fault_http_action body_request(fault_http_exchange *x, const char *v)
{
    size_t len;
    const uint8_t *b = fault_http_body(x, FAULT_HTTP_REQUEST, &len);
    char out[128];
    if (strcmp(v, "body-echo") == 0) {
        if (b)
            snprintf(out, sizeof out, "held=%zu fnv=%016llx\n", len, fnv(b, len));
        else
            snprintf(out, sizeof out, "held=none\n");
        fault_http_respond(x, 200, NULL, out, strlen(out));
        return FAULT_HTTP_RESPOND;
    }
    if (strcmp(v, "body-rewrite") == 0) {
        static const char nb[] = "rewritten body";
        if (fault_http_set_method(x, "PUT") < 0 || fault_http_set_path(x, "/echo?rewritten") < 0 ||
            fault_http_set_body(x, FAULT_HTTP_REQUEST, nb, sizeof nb - 1) < 0) {
            fault_http_respond(x, 500, NULL, "set failed\n", 11);
            return FAULT_HTTP_RESPOND;
        }
        return FAULT_HTTP_CONTINUE;
    }
    if (strcmp(v, "bad-path") == 0) {
        int a = fault_http_set_path(x, "no-slash");
        int c = fault_http_set_path(x, "/with space");
        int m = fault_http_set_method(x, "BAD METHOD");
        bool refused = a < 0 && c < 0 && m < 0;
        fault_http_respond(x, 200, NULL, refused ? "einval\n" : "accepted\n", refused ? 7 : 9);
        return FAULT_HTTP_RESPOND;
    }
    return FAULT_HTTP_CONTINUE;
}

static void unlink_pend(pend *p)
{
    for (pend **pp = &pendings; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            return;
        }
    }
}

static void on_fire(uv_timer_t *t)
{
    pend *p = (pend *)t;
    fault_http_exchange *x = p->x;
    unlink_pend(p);
    uv_close((uv_handle_t *)t, (uv_close_cb)free);
    if (p->respond) {
        static const char body[] = "probe\n";
        fault_http_respond(x, 299, NULL, body, sizeof body - 1);
        fault_http_resume(x, FAULT_HTTP_RESPOND);
    } else {
        fault_http_resume(x, FAULT_HTTP_CONTINUE);
    }
}

static fault_http_action on_request(void *state, fault_http_exchange *x)
{
    probe_state *st = state;
    const char *v = fault_http_header(x, FAULT_HTTP_REQUEST, "x-probe");
    if (!v)
        return FAULT_HTTP_CONTINUE;
    if (strcmp(v, "body-upper") == 0 || strcmp(v, "body-delay") == 0 ||
        strcmp(v, "body-grow") == 0 || strcmp(v, "body-cut") == 0 || strcmp(v, "body-end") == 0) {
        fault_http_watch_body(fault_plugin_self(st), x, FAULT_DIR_EGRESS);
        fault_http_watch_body(fault_plugin_self(st), x, FAULT_DIR_INGRESS);
        return FAULT_HTTP_CONTINUE;
    }
    if (strncmp(v, "body-", 5) == 0 || strcmp(v, "bad-path") == 0)
        return body_request(x, v);
    if (strcmp(v, "respond") == 0) {
        static const char body[] = "answered\n";
        fault_http_respond(x, 298, NULL, body, sizeof body - 1);
        return FAULT_HTTP_RESPOND;
    }
    if (strcmp(v, "url") == 0) {
        const char *u = fault_http_url(x);
        fault_http_respond(x, 200, NULL, u, strlen(u));
        return FAULT_HTTP_RESPOND;
    }
    if (strcmp(v, "scheme") == 0) {
        char body[80];
        fault_stream *s = fault_http_stream(x);
        snprintf(body, sizeof body, "scheme=%s\n", s ? fault_stream_scheme(s) : "(none)");
        fault_http_respond(x, 200, NULL, body, strlen(body));
        return FAULT_HTTP_RESPOND;
    }
    if (strncmp(v, "pending", 7) != 0)
        return FAULT_HTTP_CONTINUE;
    pend *p = calloc(1, sizeof *p);
    if (!p)
        return FAULT_HTTP_CONTINUE;
    p->x = x;
    p->respond = strcmp(v, "pending-respond") == 0;
    uv_timer_init(fault_loop(fault_plugin_self(st)), &p->t);
    uv_timer_start(&p->t, on_fire, 200, 0);
    p->next = pendings;
    pendings = p;
    return FAULT_HTTP_PENDING;
}

static fault_http_action on_response(void *state, fault_http_exchange *x)
{
    (void)state;
    const char *v = fault_http_header(x, FAULT_HTTP_REQUEST, "x-probe");
    if (!v)
        return FAULT_HTTP_CONTINUE;
    if (strcmp(v, "status") == 0) {
        fault_http_set_status(x, 297);
        fault_http_set_header(x, FAULT_HTTP_RESPONSE, "X-Probed", "yes");
    } else if (strcmp(v, "resp-body") == 0) {
        size_t len;
        const uint8_t *b = fault_http_body(x, FAULT_HTTP_RESPONSE, &len);
        char n[32];
        if (!b) {
            fault_http_set_header(x, FAULT_HTTP_RESPONSE, "X-Held-Len", "none");
            return FAULT_HTTP_CONTINUE;
        }
        snprintf(n, sizeof n, "%zu", len);
        fault_http_set_header(x, FAULT_HTTP_RESPONSE, "X-Held-Len", n);
        char *up = malloc(len + 1);
        if (up) {
            for (size_t i = 0; i < len; i++)
                up[i] = (char)toupper(b[i]);
            fault_http_set_body(x, FAULT_HTTP_RESPONSE, up, len);
            free(up);
        }
    } else if (strcmp(v, "replace") == 0) {
        static const char body[] = "replaced\n";
        fault_http_respond(x, 296, NULL, body, sizeof body - 1);
        return FAULT_HTTP_RESPOND;
    }
    return FAULT_HTTP_CONTINUE;
}

static fault_action on_body(void *state, fault_http_exchange *x, fault_direction dir,
                            fault_chunk *c, fault_verdict *v)
{
    (void)state;
    const char *p = fault_http_header(x, FAULT_HTTP_REQUEST, "x-probe");
    if (!p)
        return FAULT_PASS;
    bool in = dir == FAULT_DIR_INGRESS;
    if (strcmp(p, "body-upper") == 0) {
        for (size_t i = 0; i < c->len; i++)
            c->data[i] = (uint8_t)(in ? toupper(c->data[i]) : tolower(c->data[i]));
    } else if (strcmp(p, "body-delay") == 0 && in) {
        v->until_us = c->arrived_us + 300000;
    } else if (strcmp(p, "body-grow") == 0 && in) {
        size_t n = c->len;
        uint8_t *d = malloc(2 * n);
        if (d) {
            memcpy(d, c->data, n);
            memcpy(d + n, c->data, n);
            fault_chunk_replace(fault_http_stream(x), c, d, 2 * n);
            free(d);
        }
    } else if (strcmp(p, "body-cut") == 0 && in && strncmp(fault_http_path(x), "/keep", 5) != 0) {
        return FAULT_RESET;
    }
    return FAULT_PASS;
}

static fault_action on_body_end(void *state, fault_http_exchange *x, fault_direction dir,
                                fault_chunk *c, fault_verdict *v)
{
    (void)state;
    (void)v;
    const char *p = fault_http_header(x, FAULT_HTTP_REQUEST, "x-probe");
    if (!p || strcmp(p, "body-end") != 0 || c->len != 0)
        return FAULT_PASS;
    char line[64];
    int n = dir == FAULT_DIR_INGRESS
                ? snprintf(line, sizeof line, "end at %llu\n", (unsigned long long)c->offset)
                : snprintf(line, sizeof line, "end\n");
    return fault_chunk_replace(fault_http_stream(x), c, line, (size_t)n) < 0 ? FAULT_RESET
                                                                             : FAULT_PASS;
}

static void on_end(void *state, fault_http_exchange *x)
{
    probe_state *st = state;
    int n = 0;
    for (pend *p = pendings, *next; p; p = next) {
        next = p->next;
        if (p->x == x) {
            unlink_pend(p);
            uv_close((uv_handle_t *)&p->t, (uv_close_cb)free);
            n++;
        }
    }
    fault_log_info(fault_plugin_self(st), "probe: end #%llu pending=%d",
                   (unsigned long long)fault_http_id(x), n);
}

static const fault_http_ops http_ops = {
    .on_request = on_request,
    .on_response = on_response,
    .on_body = on_body,
    .on_body_end = on_body_end,
    .on_end = on_end,
};

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "hookprobe", .version = "0",
                    .summary = "HTTP hook probe (tests only)", .license = "Apache-2.0",
                    .options = options, .state_size = sizeof(probe_state), .configure = configure,
                    .http = &http_ops);
