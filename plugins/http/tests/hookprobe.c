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
 *   X-Probe: scheme            RESPOND 200 with the stream's scheme
 *                              (fault_stream_scheme) as the body
 *
 * Every on_end is logged ("probe: end #ID pending=N"), so a test can see
 * that an exchange whose client left while PENDING was ended, and the
 * pending timer is cancelled then (no resume after on_end).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include <fault/plugin.h>

typedef struct probe_state {
    bool enabled;
    fault_plugin *self;
} probe_state;

typedef struct pend {
    uv_timer_t t;
    fault_http_exchange *x;
    bool respond;
    struct pend *next;
} pend;

static pend *pendings;

static const fault_option options[] = {
    {.name = "with-hookprobe", .type = FAULT_OPT_BOOL, .help = "Enable the HTTP hook probe",
     .offset = offsetof(probe_state, enabled), .flags = FAULT_OPTF_ENABLE},
    FAULT_OPTION_END};

static int configure(fault_plugin *self, void *state)
{
    ((probe_state *)state)->self = self;
    return 0;
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
    if (strcmp(v, "respond") == 0) {
        static const char body[] = "answered\n";
        fault_http_respond(x, 298, NULL, body, sizeof body - 1);
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
    uv_timer_init(fault_loop(st->self), &p->t);
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
        fault_http_header_set(x, FAULT_HTTP_RESPONSE, "X-Probed", "yes");
    } else if (strcmp(v, "replace") == 0) {
        static const char body[] = "replaced\n";
        fault_http_respond(x, 296, NULL, body, sizeof body - 1);
        return FAULT_HTTP_RESPOND;
    }
    return FAULT_HTTP_CONTINUE;
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
    fault_log_info(st->self, "probe: end #%llu pending=%d", (unsigned long long)fault_http_id(x),
                   n);
}

static const fault_http_ops http_ops = {
    .on_request = on_request,
    .on_response = on_response,
    .on_end = on_end,
};

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "hookprobe", .version = "0",
                    .summary = "HTTP hook probe (tests only)", .license = "Apache-2.0",
                    .options = options, .state_size = sizeof(probe_state),
                    .configure = configure, .http = &http_ops);
