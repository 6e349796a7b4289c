/*
 * plugins/grpc-bridge/http.c - HTTP exchanges through remote plugins (see
 * grpc-bridge.c for the whole): the request and response hooks call
 * ProcessHttpRequest and ProcessHttpResponse in turn and apply the answer
 * (CONTINUE with the modified message, or ABORT with an answer to the
 * client).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bridge.h"

static void hjob_step(hjob *h);

/* ---- HTTP ---- */

typedef struct hdrs_out {
    Plugin__HttpHeader *h;
    Plugin__HttpHeader **p;
    size_t n;
} hdrs_out;

static int hdrs_fill(hdrs_out *o, fault_http_exchange *x, fault_http_msg m)
{
    size_t n = fault_http_header_count(x, m);
    o->n = 0;
    o->h = calloc(n ? n : 1, sizeof *o->h);
    o->p = calloc(n ? n : 1, sizeof *o->p);
    if (!o->h || !o->p) {
        free(o->h);
        free(o->p);
        return FAULT_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const char *name, *value;
        if (fault_http_header_at(x, m, i, &name, &value) < 0)
            break;
        Plugin__HttpHeader init = PLUGIN__HTTP_HEADER__INIT;
        o->h[o->n] = init;
        o->h[o->n].name = (char *)name;
        o->h[o->n].value = (char *)value;
        o->p[o->n] = &o->h[o->n];
        o->n++;
    }
    return 0;
}

static void hdrs_free(hdrs_out *o)
{
    free(o->h);
    free(o->p);
}

static bool headers_same(fault_http_exchange *x, fault_http_msg m, Plugin__HttpHeader **h, size_t n)
{
    if (fault_http_header_count(x, m) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        const char *name, *value;
        if (fault_http_header_at(x, m, i, &name, &value) < 0 || !h[i]->name || !h[i]->value ||
            strcmp(name, h[i]->name) != 0 || strcmp(value, h[i]->value) != 0)
            return false;
    }
    return true;
}

/* Makes the exchange's headers those the plugin sent back: names it left
 * out are removed, the others take its values (repeated names kept). */
static bool apply_headers(fault_http_exchange *x, fault_http_msg m, Plugin__HttpHeader **h,
                          size_t n)
{
    if (headers_same(x, m, h, n))
        return false;
    for (bool again = true; again;) {
        again = false;
        size_t cnt = fault_http_header_count(x, m);
        for (size_t i = 0; i < cnt; i++) {
            const char *name, *value;
            if (fault_http_header_at(x, m, i, &name, &value) < 0)
                break;
            bool keep = false;
            for (size_t k = 0; k < n && !keep; k++)
                keep = h[k]->name && strcasecmp(h[k]->name, name) == 0;
            if (!keep) {
                /* The name is freed by the removal: work on a copy. */
                char *copy = strdup(name);
                if (!copy)
                    return true;
                fault_http_set_header(x, m, copy, NULL);
                free(copy);
                again = true;
                break;
            }
        }
    }
    for (size_t k = 0; k < n; k++) {
        if (!h[k]->name || !h[k]->name[0])
            continue;
        bool first = true;
        for (size_t e = 0; e < k && first; e++)
            first = !(h[e]->name && strcasecmp(h[e]->name, h[k]->name) == 0);
        const char *value = h[k]->value ? h[k]->value : "";
        if (first)
            fault_http_set_header(x, m, h[k]->name, value);
        else
            fault_http_add_header(x, m, h[k]->name, value);
    }
    return true;
}

/* Answers the client with a plugin's HttpResponse. */
static int respond_with(fault_http_exchange *x, const Plugin__HttpResponse *resp, int fallback)
{
    int status = resp ? (int)resp->status_code : 0;
    if (status < 100 || status > 999)
        status = fallback;
    size_t n = resp ? resp->n_headers : 0;
    const char **hv = calloc(2 * n + 1, sizeof *hv);
    if (!hv)
        return FAULT_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const Plugin__HttpHeader *h = resp->headers[i];
        if (!h->name || !h->name[0])
            continue;
        hv[k++] = h->name;
        hv[k++] = h->value ? h->value : "";
    }
    hv[k] = NULL;
    int rc =
        fault_http_respond(x, status, hv, resp ? resp->body.data : NULL, resp ? resp->body.len : 0);
    free(hv);
    return rc;
}

static uint64_t x_conn_id(fault_http_exchange *x)
{
    fault_stream *s = fault_http_stream(x);
    return s ? fault_stream_id(s) : 0;
}

static void hjob_finish(hjob *h, fault_http_action result)
{
    h->finished = true;
    h->result = result;
    if (h->in_hook)
        return; /* the hook returns the result itself */
    fault_http_exchange *x = h->x;
    dl_del(&h->link);
    free(h);
    /* Resuming may end the exchange (on_end): h is gone by then. */
    fault_http_resume(x, result);
}

/* What every HTTP call's completion starts with: the job moves past this
 * plugin; a failed call is logged and counted, and the next plugin asked.
 * False when the call failed (the job went on already). */
static bool hjob_answered(rpc *r, ProtobufCMessage *m)
{
    hjob *h = r->ud;
    h->call = NULL;
    h->next = r->rp->idx;
    if (!m) {
        gb_call_failed(r, x_conn_id(h->x));
        gb_traffic_failure(r->rp, r->status);
        hjob_step(h);
        return false;
    }
    gb_traffic_success(r->rp);
    return true;
}

static void http_req_done(rpc *r, ProtobufCMessage *m)
{
    if (!hjob_answered(r, m))
        return;
    hjob *h = r->ud;
    remote *rp = r->rp;
    fault_http_exchange *x = h->x;
    Plugin__ProcessHttpRequestResponse *a = (Plugin__ProcessHttpRequestResponse *)m;
    if (a->action == PLUGIN__PROCESS_HTTP_REQUEST_RESPONSE__ACTION__ABORT) {
        int rc = respond_with(x, a->abort_response, 500);
        if (rc == 0) {
            fault_log_debug(fault_plugin_self(r->b), "%s %s: aborted by %s with %d",
                            fault_http_method(x), fault_http_url(x), rp_name(rp),
                            fault_http_status(x));
            gb_publish_applied(rp, x_conn_id(x), FAULT_SIDE_ANY, FAULT_DIR_EGRESS, "abort",
                               "status", NULL, (double)fault_http_status(x));
            hjob_finish(h, FAULT_HTTP_RESPOND);
            return;
        }
        hjob_step(h);
        return;
    }
    Plugin__HttpRequest *mr = a->modified_request;
    if (mr) {
        bool changed = false;
        /* Empty fields are a plugin that filled in only part of the
         * request: they leave that part as it was. */
        if (mr->method && mr->method[0] && strcmp(mr->method, fault_http_method(x)) != 0) {
            if (fault_http_set_method(x, mr->method) == 0)
                changed = true;
            else if (!rp->method_warned) {
                rp->method_warned = true;
                fault_log_warn(fault_plugin_self(r->b),
                               "remote plugin %s gave an invalid method '%s': ignored", rp_name(rp),
                               mr->method);
            }
        }
        if (mr->path && mr->path[0] && strcmp(mr->path, fault_http_path(x)) != 0) {
            if (fault_http_set_path(x, mr->path) == 0)
                changed = true;
            else if (!rp->path_warned) {
                rp->path_warned = true;
                fault_log_warn(fault_plugin_self(r->b),
                               "remote plugin %s gave an invalid path '%s' (it must start with "
                               "'/' and hold no spaces): ignored",
                               rp_name(rp), mr->path);
            }
        }
        size_t blen;
        const uint8_t *body = fault_http_body(x, FAULT_HTTP_REQUEST, &blen);
        if (mr->body.len &&
            (!body || blen != mr->body.len || memcmp(body, mr->body.data, blen) != 0)) {
            if (fault_http_set_body(x, FAULT_HTTP_REQUEST, mr->body.data, mr->body.len) == 0)
                changed = true;
            else
                fault_log_debug(fault_plugin_self(r->b),
                                "%s %s: remote plugin %s set a body, but the request's body "
                                "streams (larger than --grpc-plugin-body-limit): ignored",
                                fault_http_method(x), fault_http_url(x), rp_name(rp));
        }
        /* No headers at all is a plugin that filled in only part of the
         * request, not one that wants a request without a Host. */
        if (mr->n_headers && apply_headers(x, FAULT_HTTP_REQUEST, mr->headers, mr->n_headers))
            changed = true;
        if (changed)
            gb_publish_applied(rp, x_conn_id(x), FAULT_SIDE_ANY, FAULT_DIR_EGRESS, "modify", NULL,
                               NULL, 0);
    }
    hjob_step(h);
}

static void http_resp_done(rpc *r, ProtobufCMessage *m)
{
    if (!hjob_answered(r, m))
        return;
    hjob *h = r->ud;
    remote *rp = r->rp;
    fault_http_exchange *x = h->x;
    Plugin__ProcessHttpResponseResponse *a = (Plugin__ProcessHttpResponseResponse *)m;
    if (a->action == PLUGIN__PROCESS_HTTP_RESPONSE_RESPONSE__ACTION__ABORT) {
        /* The original ignored ABORT on responses; a plugin asking for it
         * means it: its answer replaces the upstream's. */
        if (respond_with(x, a->abort_response, 500) == 0) {
            gb_publish_applied(rp, x_conn_id(x), FAULT_SIDE_ANY, FAULT_DIR_INGRESS, "abort",
                               "status", NULL, (double)fault_http_status(x));
            hjob_finish(h, FAULT_HTTP_RESPOND);
            return;
        }
        hjob_step(h);
        return;
    }
    Plugin__HttpResponse *mr = a->modified_response;
    if (mr) {
        bool changed = false;
        size_t blen;
        const uint8_t *body = fault_http_body(x, FAULT_HTTP_RESPONSE, &blen);
        if (body && mr->body.len &&
            (blen != mr->body.len || memcmp(body, mr->body.data, blen) != 0)) {
            /* The body was held for us: it is replaced in place. */
            if (fault_http_set_body(x, FAULT_HTTP_RESPONSE, mr->body.data, mr->body.len) == 0)
                changed = true;
        } else if (!body && mr->body.len) {
            /* The body streams (larger than --grpc-plugin-body-limit), so
             * a plugin that writes one answers in place of the upstream:
             * its status and headers (ours when it sent none) with its
             * body. */
            Plugin__HttpResponse full = *mr;
            hdrs_out cur = {0};
            if (mr->n_headers == 0 && hdrs_fill(&cur, x, FAULT_HTTP_RESPONSE) == 0) {
                full.headers = cur.p;
                full.n_headers = cur.n;
            }
            int rc = respond_with(x, &full, fault_http_status(x));
            hdrs_free(&cur);
            if (rc == 0) {
                gb_publish_applied(rp, x_conn_id(x), FAULT_SIDE_ANY, FAULT_DIR_INGRESS, "replace",
                                   "status", NULL, (double)fault_http_status(x));
                hjob_finish(h, FAULT_HTTP_RESPOND);
                return;
            }
        }
        int st = (int)mr->status_code;
        if (st != 0 && st != fault_http_status(x) && fault_http_set_status(x, st) == 0)
            changed = true;
        if (mr->n_headers && apply_headers(x, FAULT_HTTP_RESPONSE, mr->headers, mr->n_headers))
            changed = true;
        if (changed)
            gb_publish_applied(rp, x_conn_id(x), FAULT_SIDE_ANY, FAULT_DIR_INGRESS, "modify",
                               "status", NULL, (double)fault_http_status(x));
    }
    hjob_step(h);
}

static void hjob_step(hjob *h)
{
    bridge *b = h->b;
    fault_http_exchange *x = h->x;
    while (!b->stopping && h->next < b->nrp) {
        remote *rp = &b->rps[h->next];
        if (rp->status != RP_ENABLED || !rp->http) {
            h->next++;
            continue;
        }
        hdrs_out ho;
        if (hdrs_fill(&ho, x, h->response ? FAULT_HTTP_RESPONSE : FAULT_HTTP_REQUEST) < 0)
            break;
        if (h->response) {
            Plugin__HttpResponse resp = PLUGIN__HTTP_RESPONSE__INIT;
            resp.status_code = (uint32_t)fault_http_status(x);
            resp.headers = ho.p;
            resp.n_headers = ho.n;
            const uint8_t *body = fault_http_body(x, FAULT_HTTP_RESPONSE, &resp.body.len);
            resp.body.data = (uint8_t *)body;
            Plugin__ProcessHttpResponseRequest req = PLUGIN__PROCESS_HTTP_RESPONSE_REQUEST__INIT;
            req.response = &resp;
            h->call = rpc_start(rp, M_HTTP_RESP, &req.base, http_resp_done, h);
        } else {
            /* The body as held for the hooks; empty when it streams
             * (larger than --grpc-plugin-body-limit). */
            Plugin__HttpRequest rq = PLUGIN__HTTP_REQUEST__INIT;
            rq.method = (char *)fault_http_method(x);
            rq.path = (char *)fault_http_path(x);
            rq.headers = ho.p;
            rq.n_headers = ho.n;
            const uint8_t *body = fault_http_body(x, FAULT_HTTP_REQUEST, &rq.body.len);
            rq.body.data = (uint8_t *)body;
            Plugin__ProcessHttpRequestRequest req = PLUGIN__PROCESS_HTTP_REQUEST_REQUEST__INIT;
            req.request = &rq;
            h->call = rpc_start(rp, M_HTTP_REQ, &req.base, http_req_done, h);
        }
        hdrs_free(&ho);
        if (h->call)
            return;
        h->next++;
    }
    hjob_finish(h, FAULT_HTTP_CONTINUE);
}

static fault_http_action http_hook(bridge *b, fault_http_exchange *x, bool response)
{
    if (b->nrp == 0 || !b->started || b->stopping)
        return FAULT_HTTP_CONTINUE;
    conn *c = gb_conn_find(b, fault_http_stream(x));
    if (c)
        c->http = true;
    bool any = b->starting > 0;
    for (unsigned i = 0; i < b->nrp && !any; i++)
        any = b->rps[i].status == RP_ENABLED && b->rps[i].http;
    if (!any)
        return FAULT_HTTP_CONTINUE;
    hjob *h = calloc(1, sizeof *h);
    if (!h)
        return FAULT_HTTP_CONTINUE;
    h->b = b;
    h->x = x;
    h->response = response;
    if (b->starting) {
        h->parked = true;
        dl_add(&b->hpark, &h->link);
        return FAULT_HTTP_PENDING;
    }
    dl_add(&b->hlive, &h->link);
    h->in_hook = true;
    hjob_step(h);
    h->in_hook = false;
    if (h->finished) {
        fault_http_action a = h->result;
        dl_del(&h->link);
        free(h);
        return a;
    }
    return FAULT_HTTP_PENDING;
}

fault_http_action gb_on_request(void *state, fault_http_exchange *x)
{
    return http_hook(state, x, false);
}

fault_http_action gb_on_response(void *state, fault_http_exchange *x)
{
    return http_hook(state, x, true);
}

static hjob *hjob_find(dlink *list, const fault_http_exchange *x)
{
    for (dlink *l = list->next; l != list; l = l->next) {
        hjob *h = container_of(l, hjob, link);
        if (h->x == x)
            return h;
    }
    return NULL;
}

void gb_on_end(void *state, fault_http_exchange *x)
{
    bridge *b = state;
    if (b->nrp == 0)
        return;
    hjob *h = hjob_find(&b->hlive, x);
    if (!h)
        h = hjob_find(&b->hpark, x);
    if (!h)
        return;
    /* The exchange ended while a plugin was thinking: forget it. */
    rpc_abandon(h->call);
    dl_del(&h->link);
    free(h);
}

/* The start-up handshakes are over: what waited for them goes on. */
void gb_release_parked(bridge *b)
{
    while (!dl_empty(&b->tpark)) {
        tjob *j = container_of(b->tpark.next, tjob, park);
        dl_del(&j->park);
        j->cp = NULL; /* offered again, it starts afresh */
        fault_stream_wake(j->c->s);
    }
    while (!dl_empty(&b->hpark)) {
        hjob *h = container_of(b->hpark.next, hjob, link);
        dl_del(&h->link);
        h->parked = false;
        dl_add(&b->hlive, &h->link);
        hjob_step(h);
    }
}
