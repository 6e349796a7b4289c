/*
 * plugins/otel/otel.c - the otel plugin: `fault --with-otel run ...`
 * exports what the proxy does as OpenTelemetry traces and metrics, over
 * OTLP/HTTP with the JSON encoding, configured by the standard OTEL_*
 * environment variables (README.md lists the ones read).
 *
 * What becomes what. The plugin only listens to the event bus:
 *   - CONN_OPEN .. CONN_CLOSE of a proxied connection is a span (peer,
 *     target, bytes each way, error);
 *   - HTTP_REQUEST .. HTTP_RESPONSE is a span, child of its connection's
 *     span (method, url, status, peer, target with the HTTP semantic
 *     conventions' names);
 *   - FAULT_APPLIED is an event of the exchange's span (else the
 *     connection's), with the fault's name and parameters as the event
 *     carries them (masked secrets stay masked); ERROR is an
 *     "exception" event and marks the span as failed;
 *   - counters (connections, HTTP responses by status, faults by name,
 *     bytes each way) are cumulative sums.
 *
 * Why the export never slows the proxy. Finished spans wait in a queue of
 * at most OTEL_BSP_MAX_QUEUE_SIZE (2048); a timer (OTEL_BSP_SCHEDULE_DELAY,
 * 1 s here) or a full
 * batch sends them with libcurl's multi interface on the loop itself
 * (plugins/lib/curluv.c): no call blocks, one request per signal is in
 * flight at a time, and what does not fit (a slow or dead collector) is
 * dropped and counted, with one warning for the whole outage.
 *
 * Stopping. The host stops plugins and then closes the connections, whose
 * CONN_CLOSE events still come here; so stop() only arms a zero timer,
 * which ends the spans still open, sends the rest and the final metrics,
 * and lets go of the loop when the collector answered or the export
 * timeout passed, whichever is first (a second Ctrl-C exits at once).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <cJSON.h>
#include <curl/curl.h>
#include <fault/plugin.h>
#include <uv.h>

#include "curluv.h"
#include "otelcfg.h"

#define MAX_EVENTS 128 /* events kept per span */
/* Exchanges open at once on a connection: an HTTP/2 connection has at
 * most 128 streams (H2_MAX_STREAMS of the http plugin), HTTP/1 one. A
 * stream the client resets before its response publishes no event: the
 * oldest exchanges past this many are such streams. */
#define MAX_EXCHANGES   128
#define MAX_OPEN_SPANS  65536
#define OPEN_BUCKETS    4096 /* open spans by connection: a power of two */
#define DEFAULT_URL     "http://localhost:4318"
#define DEFAULT_SERVICE "fault-cli"

typedef struct span span;
struct span {
    cJSON *obj, *attrs, *events;
    uint64_t conn_id;
    bool http;
    char *url; /* HTTP: to pair the response with its request */
    char trace[33], id[17];
    /* A connection: the plugin that opened it (its CONN_CLOSE comes from
     * the same one). An exchange: its connection's span id, "" if none.
     * Connection ids are not one space: the dns-proxy numbers its queries
     * from 1 as the core numbers streams. */
    char owner[32], parent[17];
    int nevents;
    span *next;
};

/* One counter of a metric, with at most one attribute. */
typedef struct counter {
    const char *metric; /* static */
    const char *akey;   /* static, or NULL */
    char *astr;         /* string value, or NULL for aint */
    long long aint;
    uint64_t value;
} counter;

typedef struct otel otel;

typedef struct xfer {
    otel *o;
    CURL *easy;
    char *body;
    size_t nspans;
    bool metrics;
    char errbuf[CURL_ERROR_SIZE];
} xfer;

/* Where one signal goes. */
typedef struct sink {
    bool on;
    char *url;
    struct curl_slist *headers;
    long timeout_ms;
    xfer *inflight;
} sink;

struct otel {
    fault_plugin *self;
    sink traces, metrics;
    cJSON *resource;
    long delay_ms, interval_ms;

    uv_loop_t *loop;
    curluv *cu;
    uv_timer_t flush_timer, metric_timer, stop_timer, deadline_timer;
    bool timers, stopping, final, torn_down;
    bool final_metrics; /* the final metrics left (see on_done) */
    int sub;
    span *open[OPEN_BUCKETS]; /* chained by connection id, newest first */
    size_t nopen;
    cJSON *queue;
    size_t nqueued;
    uint64_t dropped;
    long max_queue, batch; /* OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_MAX_EXPORT_BATCH_SIZE */
    bool failing, warned;
    uint64_t start_ns;
    counter *counters;
    size_t ncounters;
    uint64_t rng;
};

/* ---- small helpers ---- */

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void add_time(cJSON *obj, const char *key, uint64_t ns)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)ns);
    cJSON_AddStringToObject(obj, key, buf);
}

static cJSON *attr(cJSON *arr, const char *key)
{
    cJSON *a = cJSON_CreateObject(), *v = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "key", key);
    cJSON_AddItemToObject(a, "value", v);
    cJSON_AddItemToArray(arr, a);
    return v;
}

static void attr_str(cJSON *arr, const char *key, const char *val)
{
    if (val)
        cJSON_AddStringToObject(attr(arr, key), "stringValue", val);
}

static void attr_int(cJSON *arr, const char *key, long long val)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", val);
    cJSON_AddStringToObject(attr(arr, key), "intValue", buf);
}

static void attr_double(cJSON *arr, const char *key, double val)
{
    cJSON_AddNumberToObject(attr(arr, key), "doubleValue", val);
}

/* "127.0.0.1:5000", "[::1]:80", "host:443" as address and port attributes. */
static void attr_hostport(cJSON *arr, const char *prefix, const char *hp)
{
    if (!hp || !*hp || strchr(hp, ' '))
        return; /* "forward proxy": no address */
    char key[48], host[256];
    const char *colon = strrchr(hp, ':');
    size_t hl = colon ? (size_t)(colon - hp) : strlen(hp);
    if (hl >= 2 && hp[0] == '[' && hp[hl - 1] == ']') {
        hp++;
        hl -= 2;
    } else if (colon && memchr(hp, ':', hl)) {
        hl = strlen(hp); /* a bare IPv6 address, no port */
        colon = NULL;
    }
    snprintf(host, sizeof host, "%.*s", (int)hl, hp);
    snprintf(key, sizeof key, "%s.address", prefix);
    attr_str(arr, key, host);
    if (colon && colon[1]) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (!*end && port > 0 && port < 65536) {
            snprintf(key, sizeof key, "%s.port", prefix);
            attr_int(arr, key, port);
        }
    }
}

static uint64_t next_rand(otel *o)
{
    /* splitmix64: ids only need to be unique, not secret */
    uint64_t z = (o->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void hex_id(otel *o, char *out, size_t bytes)
{
    for (size_t i = 0; i < bytes; i += 8)
        snprintf(out + 2 * i, 17, "%016llx", (unsigned long long)next_rand(o));
    out[2 * bytes] = '\0';
}

/* ---- counters ---- */

static void count(otel *o, const char *metric, const char *akey, const char *astr, long long aint,
                  uint64_t by)
{
    if (!o->metrics.on)
        return;
    for (size_t i = 0; i < o->ncounters; i++) {
        counter *c = &o->counters[i];
        if (c->metric == metric && c->aint == aint &&
            ((!c->astr && !astr) || (c->astr && astr && strcmp(c->astr, astr) == 0))) {
            c->value += by;
            return;
        }
    }
    if (o->ncounters >= 4096)
        return; /* bounded: fault names and statuses are few */
    counter *n = realloc(o->counters, (o->ncounters + 1) * sizeof *n);
    if (!n)
        return;
    o->counters = n;
    n[o->ncounters] = (counter){metric, akey, astr ? strdup(astr) : NULL, aint, by};
    o->ncounters++;
}

/* ---- spans ---- */

/* The chain of open spans where conn_id's are: every event looks its span
 * up, and a proxy may have thousands of connections open. */
static span **bucket(otel *o, uint64_t conn_id)
{
    return &o->open[(conn_id * 0x9e3779b97f4a7c15ull) >> 52];
}

static span *span_new(otel *o, const char *name, uint64_t start_ns, uint64_t conn_id,
                      const span *parent)
{
    if (o->nopen >= MAX_OPEN_SPANS) {
        o->dropped++;
        return NULL;
    }
    span *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->conn_id = conn_id;
    if (parent)
        memcpy(s->trace, parent->trace, sizeof s->trace);
    else
        hex_id(o, s->trace, 16);
    hex_id(o, s->id, 8);
    s->obj = cJSON_CreateObject();
    cJSON_AddStringToObject(s->obj, "traceId", s->trace);
    cJSON_AddStringToObject(s->obj, "spanId", s->id);
    if (parent) {
        cJSON_AddStringToObject(s->obj, "parentSpanId", parent->id);
        memcpy(s->parent, parent->id, sizeof s->parent);
    }
    cJSON_AddStringToObject(s->obj, "name", name);
    cJSON_AddNumberToObject(s->obj, "kind", 2); /* SPAN_KIND_SERVER: we answer clients */
    add_time(s->obj, "startTimeUnixNano", start_ns);
    s->attrs = cJSON_AddArrayToObject(s->obj, "attributes");
    s->events = cJSON_AddArrayToObject(s->obj, "events");
    span **b = bucket(o, conn_id);
    s->next = *b;
    *b = s;
    o->nopen++;
    return s;
}

static void set_error(span *s, const char *message)
{
    cJSON *st = cJSON_GetObjectItem(s->obj, "status");
    if (st)
        cJSON_DeleteItemFromObject(s->obj, "status");
    st = cJSON_AddObjectToObject(s->obj, "status");
    cJSON_AddNumberToObject(st, "code", 2); /* STATUS_CODE_ERROR */
    if (message)
        cJSON_AddStringToObject(st, "message", message);
}

static void export_traces(otel *o);
static void export_metrics(otel *o);
static void on_flush(uv_timer_t *t);

/* Ends s (takes it off the open list) and queues it for export. */
static void span_end(otel *o, span *s, uint64_t end_ns)
{
    for (span **pp = bucket(o, s->conn_id); *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            o->nopen--;
            break;
        }
    add_time(s->obj, "endTimeUnixNano", end_ns);
    /* At stop the spans of the connections still open are in memory
     * already: queued past the bound (it bounds what waits while the
     * run goes on), they leave a batch at a time before the deadline. */
    if (o->nqueued < (size_t)o->max_queue || o->stopping) {
        cJSON_AddItemToArray(o->queue, s->obj);
        o->nqueued++;
        if (o->nqueued >= (size_t)o->batch && !o->traces.inflight && !o->stopping)
            uv_timer_start(&o->flush_timer, on_flush, 0, (uint64_t)o->delay_ms);
    } else {
        cJSON_Delete(s->obj);
        o->dropped++;
        if (!o->warned) {
            /* One warning for the run, this or a failed export: a
             * collector slower than the traffic stays so. */
            o->warned = true;
            fprintf(stderr,
                    "fault: otel: the export queue is full (%ld spans; the collector is slower "
                    "than the traffic): spans are dropped and counted\n",
                    o->max_queue);
            fault_log_warn(o->self, "the export queue is full (%ld spans): spans are dropped",
                           o->max_queue);
        }
    }
    free(s->url);
    free(s);
}

static span *find_conn(otel *o, uint64_t conn_id)
{
    for (span *s = *bucket(o, conn_id); s; s = s->next)
        if (!s->http && s->conn_id == conn_id)
            return s;
    return NULL;
}

/* The connection conn_id that owner opened (else, with any, any of
 * that id). */
static span *find_owned(otel *o, uint64_t conn_id, const char *owner, bool any)
{
    for (span *s = *bucket(o, conn_id); s && owner; s = s->next)
        if (!s->http && s->conn_id == conn_id && strcmp(s->owner, owner) == 0)
            return s;
    return any ? find_conn(o, conn_id) : NULL;
}

/* An open exchange of connection c (its child), or, with no c, one of
 * conn_id that has no connection span. */
static span *find_child(otel *o, uint64_t conn_id, const span *c)
{
    for (span *s = *bucket(o, conn_id); s; s = s->next)
        if (s->http && s->conn_id == conn_id && strcmp(s->parent, c ? c->id : "") == 0)
            return s;
    return NULL;
}

/* The newest open exchange of a connection. */
static span *find_http(otel *o, uint64_t conn_id)
{
    for (span *s = *bucket(o, conn_id); s; s = s->next)
        if (s->http && s->conn_id == conn_id)
            return s;
    return NULL;
}

/* The oldest open exchange of the connection for url (else any). A
 * response without a URL answers a request that never had an exchange
 * (an HTTP/2 stream refused with 431 or 400 while others of the
 * connection are open): it is no other exchange's end. */
static span *find_exchange(otel *o, uint64_t conn_id, const char *url)
{
    if (!url)
        return NULL;
    span *same = NULL, *any = NULL;
    for (span *s = *bucket(o, conn_id); s; s = s->next)
        if (s->http && s->conn_id == conn_id) {
            any = s;
            if (url && s->url && strcmp(url, s->url) == 0)
                same = s;
        }
    return same ? same : any;
}

/* Where an event of source about conn_id goes: the connection source
 * opened (a dns-proxy query) or its exchange; else the newest exchange
 * of that id, else its connection. */
static span *span_of(otel *o, uint64_t conn_id, const char *source)
{
    if (!conn_id)
        return NULL;
    span *c = find_owned(o, conn_id, source, false);
    if (c) {
        span *x = find_child(o, conn_id, c);
        return x ? x : c;
    }
    span *s = find_http(o, conn_id);
    return s ? s : find_conn(o, conn_id);
}

static void add_event(span *s, const char *name, uint64_t ns, cJSON **attrs)
{
    cJSON *e = cJSON_CreateObject();
    add_time(e, "timeUnixNano", ns);
    cJSON_AddStringToObject(e, "name", name);
    *attrs = cJSON_AddArrayToObject(e, "attributes");
    cJSON_AddItemToArray(s->events, e);
    s->nevents++;
}

/* ---- the event bus ---- */

static void on_event(const fault_event *ev, void *ud)
{
    otel *o = ud;
    if (o->final)
        return;
    uint64_t ns = ev->wall_us * 1000u;
    switch (ev->type) {
    case FAULT_EV_CONN_OPEN: {
        count(o, "fault.connections", NULL, NULL, 0, 1);
        if (!o->traces.on)
            break;
        span *s = span_new(o, "proxy connection", ns, ev->conn_id, NULL);
        if (!s)
            break;
        snprintf(s->owner, sizeof s->owner, "%s", ev->source ? ev->source : "");
        attr_hostport(s->attrs, "client", ev->peer);
        attr_hostport(s->attrs, "server", ev->target);
        attr_str(s->attrs, "fault.handler", ev->source);
        attr_int(s->attrs, "fault.connection.id", (long long)ev->conn_id);
        break;
    }
    case FAULT_EV_CONN_CLOSE: {
        count(o, "fault.bytes", "network.io.direction", "egress", 0, ev->bytes_egress);
        count(o, "fault.bytes", "network.io.direction", "ingress", 0, ev->bytes_ingress);
        span *s = find_owned(o, ev->conn_id, ev->source, true), *x;
        while ((x = find_child(o, ev->conn_id, s)) != NULL) {
            set_error(x, "connection closed before the response");
            span_end(o, x, ns);
        }
        if (!s)
            break;
        attr_int(s->attrs, "fault.bytes.egress", (long long)ev->bytes_egress);
        attr_int(s->attrs, "fault.bytes.ingress", (long long)ev->bytes_ingress);
        if (ev->error) {
            attr_str(s->attrs, "error.type", ev->message ? ev->message : "error");
            set_error(s, ev->message);
        }
        span_end(o, s, ns);
        break;
    }
    case FAULT_EV_HTTP_REQUEST: {
        if (!o->traces.on)
            break;
        span *old = NULL;
        size_t nx = 0;
        for (span *x = *bucket(o, ev->conn_id); x; x = x->next)
            if (x->http && x->conn_id == ev->conn_id) {
                old = x;
                nx++;
            }
        if (ev->conn_id && nx >= MAX_EXCHANGES) {
            /* Gone without a response (reset): ended now, not kept
             * open, with all it holds, until the connection closes. */
            attr_str(old->attrs, "fault.span.ended_by", "exchange limit");
            set_error(old, "no response seen (the stream was reset)");
            span_end(o, old, ns);
        }
        span *parent = ev->conn_id ? find_owned(o, ev->conn_id, ev->source, true) : NULL;
        span *s = span_new(o, ev->method ? ev->method : "HTTP", ns, ev->conn_id, parent);
        if (!s)
            break;
        s->http = true;
        s->url = ev->url ? strdup(ev->url) : NULL;
        char masked[4096];
        attr_str(s->attrs, "http.request.method", ev->method);
        if (ev->url)
            attr_str(s->attrs, "url.full", fault_secret_url(ev->url, masked, sizeof masked));
        attr_hostport(s->attrs, "client", ev->peer);
        attr_hostport(s->attrs, "server", ev->target);
        attr_str(s->attrs, "fault.handler", ev->source);
        break;
    }
    case FAULT_EV_HTTP_RESPONSE: {
        count(o, "fault.http.responses", "http.response.status_code", NULL, ev->status, 1);
        span *s = find_exchange(o, ev->conn_id, ev->url);
        if (!s)
            break;
        attr_int(s->attrs, "http.response.status_code", ev->status);
        if (ev->status >= 500) {
            char code[16];
            snprintf(code, sizeof code, "%d", ev->status);
            attr_str(s->attrs, "error.type", code);
            set_error(s, NULL);
        }
        span_end(o, s, ns);
        break;
    }
    case FAULT_EV_FAULT_APPLIED: {
        count(o, "fault.faults.applied", "fault.name", ev->fault ? ev->fault : "?", 0, 1);
        span *s = span_of(o, ev->conn_id, ev->source);
        if (!s || s->nevents >= MAX_EVENTS)
            break;
        cJSON *a;
        add_event(s, ev->fault ? ev->fault : "fault", ns, &a);
        attr_str(a, "fault.name", ev->fault);
        if (ev->side)
            attr_str(a, "fault.side", fault_side_name(ev->side));
        if (ev->direction)
            attr_str(a, "fault.direction", fault_direction_name(ev->direction));
        for (size_t i = 0; i < ev->nparams && ev->params; i++) {
            const fault_param *p = &ev->params[i];
            if (!p->key)
                continue;
            char key[96];
            snprintf(key, sizeof key, "fault.param.%s", p->key);
            if (p->str)
                attr_str(a, key, p->str);
            else
                attr_double(a, key, p->num);
        }
        break;
    }
    case FAULT_EV_ERROR: {
        span *s = span_of(o, ev->conn_id, ev->source);
        if (!s)
            break;
        if (s->nevents < MAX_EVENTS) {
            cJSON *a;
            add_event(s, "exception", ns, &a);
            attr_str(a, "exception.type", ev->source);
            attr_str(a, "exception.message", ev->message);
        }
        set_error(s, ev->message);
        break;
    }
    default:
        break;
    }
}

/* ---- export ---- */

static void teardown_maybe(otel *o);

static void export_failed(otel *o, const char *url, const char *why)
{
    if (!o->warned) {
        /* One line for the whole outage (and the run): the next ones
         * would only repeat it. */
        o->warned = true;
        fprintf(stderr,
                "fault: otel: cannot export to %s: %s; telemetry is dropped (and counted) while "
                "this lasts\n",
                url, why);
        fault_log_warn(o->self, "cannot export to %s: %s; telemetry is dropped while this lasts",
                       url, why);
    }
    o->failing = true;
}

static void on_done(CURL *easy, CURLcode result, void *ud)
{
    otel *o = ud;
    xfer *x = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
    if (!x)
        return;
    sink *sk = x->metrics ? &o->metrics : &o->traces;
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    if (result != CURLE_OK || status < 200 || status > 299) {
        char why[CURL_ERROR_SIZE + 32];
        if (result != CURLE_OK)
            snprintf(why, sizeof why, "%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(result));
        else
            snprintf(why, sizeof why, "the collector answered HTTP %ld", status);
        o->dropped += x->nspans;
        export_failed(o, sk->url, why);
    } else if (o->failing) {
        o->failing = false;
        fault_log_info(o->self, "export to %s works again (%llu spans dropped so far)", sk->url,
                       (unsigned long long)o->dropped);
    }
    curluv_remove(o->cu, easy);
    curl_easy_cleanup(easy);
    bool metrics = x->metrics;
    free(x->body);
    free(x);
    sk->inflight = NULL;
    if (!metrics && (o->stopping ? o->final : o->nqueued >= (size_t)o->batch))
        export_traces(o);
    /* A periodic export was in flight at stop: the final counts follow. */
    if (metrics && o->final && !o->final_metrics)
        export_metrics(o);
    teardown_maybe(o);
}

/* The collector's answer is not ours to print (libcurl's default). */
static size_t discard(char *ptr, size_t size, size_t n, void *ud)
{
    (void)ptr;
    (void)ud;
    return size * n;
}

/* Sends body to sk; takes body. */
static void post(otel *o, sink *sk, char *body, size_t nspans, bool metrics)
{
    xfer *x = calloc(1, sizeof *x);
    CURL *easy = x ? curl_easy_init() : NULL;
    if (!easy) {
        free(x);
        free(body);
        o->dropped += nspans;
        return;
    }
    x->o = o;
    x->easy = easy;
    x->body = body;
    x->nspans = nspans;
    x->metrics = metrics;
    curl_easy_setopt(easy, CURLOPT_URL, sk->url);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, sk->headers);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, sk->timeout_ms);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, sk->timeout_ms);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
    /* No proxy from the environment: fault is often the proxy there
     * (http_proxy=http://127.0.0.1:3180), and exports through it would
     * make spans of their own. */
    curl_easy_setopt(easy, CURLOPT_PROXY, "");
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)x);
    if (curluv_add(o->cu, easy) != 0) {
        curl_easy_cleanup(easy);
        free(body);
        free(x);
        o->dropped += nspans;
        return;
    }
    sk->inflight = x;
}

static cJSON *scope(void)
{
    cJSON *sc = cJSON_CreateObject();
    cJSON_AddStringToObject(sc, "name", "fault");
    cJSON_AddStringToObject(sc, "version", PACKAGE_VERSION);
    return sc;
}

/* An OTLP document: {outer: [{resource, inner: [{scope, ...}]}]}; *scoped
 * is the object that gets the spans or metrics. */
static cJSON *envelope(const otel *o, const char *outer, const char *inner, cJSON **scoped)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *r = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(doc, outer), r);
    cJSON_AddItemToObject(r, "resource", cJSON_Duplicate(o->resource, 1));
    *scoped = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(r, inner), *scoped);
    cJSON_AddItemToObject(*scoped, "scope", scope());
    return doc;
}

static void export_traces(otel *o)
{
    if (!o->traces.on || o->traces.inflight || !o->nqueued || !o->cu)
        return;
    cJSON *ss;
    cJSON *doc = envelope(o, "resourceSpans", "scopeSpans", &ss);
    /* One batch at most (OTEL_BSP_MAX_EXPORT_BATCH_SIZE), oldest first:
     * a backlog leaves in several requests (on_done sends the next),
     * not in one body a collector may refuse as too large. */
    size_t n = o->nqueued;
    if (n > (size_t)o->batch) {
        cJSON *spans = cJSON_AddArrayToObject(ss, "spans");
        for (n = 0; n < (size_t)o->batch; n++)
            cJSON_AddItemToArray(spans, cJSON_DetachItemFromArray(o->queue, 0));
        o->nqueued -= n;
    } else {
        cJSON_AddItemToObject(ss, "spans", o->queue);
        o->queue = cJSON_CreateArray();
        o->nqueued = 0;
    }
    /* Room for the whole batch at once (a span is about 1 KiB): no
     * growing and copying of the text while it is written. */
    char *body = cJSON_PrintBuffered(doc, (int)(n * 1536 + 4096), 0);
    cJSON_Delete(doc);
    if (!body) {
        o->dropped += n;
        return;
    }
    post(o, &o->traces, body, n, false);
}

static void export_metrics(otel *o)
{
    if (!o->metrics.on || o->metrics.inflight || !o->cu)
        return;
    static const struct {
        const char *name, *unit, *desc;
    } defs[] = {
        {"fault.connections", "{connection}", "Proxied connections opened"},
        {"fault.http.responses", "{response}", "Proxied HTTP responses, by status"},
        {"fault.faults.applied", "{fault}", "Faults applied, by fault"},
        {"fault.bytes", "By", "Bytes proxied, by direction"},
    };
    uint64_t now = wall_ns();
    cJSON *sm;
    cJSON *doc = envelope(o, "resourceMetrics", "scopeMetrics", &sm);
    cJSON *metrics = cJSON_AddArrayToObject(sm, "metrics");
    for (size_t d = 0; d < sizeof defs / sizeof defs[0]; d++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "name", defs[d].name);
        cJSON_AddStringToObject(m, "unit", defs[d].unit);
        cJSON_AddStringToObject(m, "description", defs[d].desc);
        cJSON *sum = cJSON_AddObjectToObject(m, "sum");
        cJSON_AddNumberToObject(sum, "aggregationTemporality", 2); /* CUMULATIVE */
        cJSON_AddBoolToObject(sum, "isMonotonic", 1);
        cJSON *points = cJSON_AddArrayToObject(sum, "dataPoints");
        bool any = false;
        for (size_t i = 0; i < o->ncounters; i++) {
            counter *c = &o->counters[i];
            if (strcmp(c->metric, defs[d].name) != 0)
                continue;
            any = true;
            cJSON *p = cJSON_CreateObject();
            cJSON *attrs = cJSON_AddArrayToObject(p, "attributes");
            if (c->akey && c->astr)
                attr_str(attrs, c->akey, c->astr);
            else if (c->akey)
                attr_int(attrs, c->akey, c->aint);
            add_time(p, "startTimeUnixNano", o->start_ns);
            add_time(p, "timeUnixNano", now);
            char v[24];
            snprintf(v, sizeof v, "%llu", (unsigned long long)c->value);
            cJSON_AddStringToObject(p, "asInt", v);
            cJSON_AddItemToArray(points, p);
        }
        if (!any && strcmp(defs[d].name, "fault.connections") == 0) {
            /* The connection count is worth a zero. */
            cJSON *p = cJSON_CreateObject();
            add_time(p, "startTimeUnixNano", o->start_ns);
            add_time(p, "timeUnixNano", now);
            cJSON_AddStringToObject(p, "asInt", "0");
            cJSON_AddItemToArray(points, p);
            any = true;
        }
        if (any)
            cJSON_AddItemToArray(metrics, m);
        else
            cJSON_Delete(m);
    }
    char *body = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    o->final_metrics = o->final;
    if (body)
        post(o, &o->metrics, body, 0, true);
}

static void on_flush(uv_timer_t *t)
{
    export_traces(t->data);
}

static void on_metric_timer(uv_timer_t *t)
{
    export_metrics(t->data);
}

static void close_timer(uv_timer_t *t)
{
    if (!uv_is_closing((uv_handle_t *)t))
        uv_close((uv_handle_t *)t, NULL);
}

static void drop_inflight(otel *o, sink *sk)
{
    xfer *x = sk->inflight;
    if (!x)
        return;
    curluv_remove(o->cu, x->easy);
    curl_easy_cleanup(x->easy);
    o->dropped += x->nspans;
    free(x->body);
    free(x);
    sk->inflight = NULL;
}

static void teardown(otel *o)
{
    if (o->torn_down)
        return;
    o->torn_down = true;
    drop_inflight(o, &o->traces);
    drop_inflight(o, &o->metrics);
    if (o->cu)
        curluv_free(o->cu);
    o->cu = NULL;
    close_timer(&o->flush_timer);
    close_timer(&o->metric_timer);
    close_timer(&o->stop_timer);
    close_timer(&o->deadline_timer);
    if (o->dropped)
        fault_log_info(o->self, "%llu spans were not exported", (unsigned long long)o->dropped);
}

static void on_teardown(uv_timer_t *t)
{
    teardown(t->data);
}

/* After the final export: done when nothing is left in flight. From the
 * loop's next turn, never inside libcurl's done callback (curluv is still
 * reading the multi handle's messages there). */
static void teardown_maybe(otel *o)
{
    if (o->final && !o->torn_down && !o->traces.inflight && !o->metrics.inflight &&
        (!o->nqueued || !o->traces.on))
        uv_timer_start(&o->stop_timer, on_teardown, 0, 0);
}

static void on_deadline(uv_timer_t *t)
{
    otel *o = t->data;
    o->dropped += o->nqueued;
    teardown(o);
}

static void on_final(uv_timer_t *t)
{
    otel *o = t->data;
    uint64_t now = wall_ns();
    for (size_t i = 0; i < OPEN_BUCKETS; i++)
        while (o->open[i]) {
            span *s = o->open[i];
            attr_str(s->attrs, "fault.span.ended_by", "stop");
            span_end(o, s, now);
        }
    o->final = true;
    export_traces(o);
    export_metrics(o);
    long bound =
        o->traces.timeout_ms > o->metrics.timeout_ms ? o->traces.timeout_ms : o->metrics.timeout_ms;
    uv_timer_start(&o->deadline_timer, on_deadline, (uint64_t)bound, 0);
    teardown_maybe(o);
}

/* ---- configuration ---- */

/* The first of the variables that is set (and not empty). */
static const char *env2(const char *specific, const char *general, const char **which)
{
    const char *v = specific ? getenv(specific) : NULL;
    *which = specific;
    if (!v || !*v) {
        v = getenv(general);
        *which = general;
    }
    return v && *v ? v : NULL;
}

static bool env_true(const char *name)
{
    const char *v = getenv(name);
    return v && strcasecmp(v, "true") == 0;
}

static int header_list(fault_plugin *self, const char *signal_var, struct curl_slist **out)
{
    otel_kv *kv = NULL;
    size_t n = 0;
    char err[256];
    const char *vars[2] = {"OTEL_EXPORTER_OTLP_HEADERS", signal_var};
    for (int i = 0; i < 2; i++) {
        size_t before = n;
        if (otel_kv_parse(getenv(vars[i]), true, &kv, &n, err, sizeof err) != 0) {
            fault_plugin_error(self, "%s: %s", vars[i], err);
            otel_kv_free(kv, n);
            return FAULT_ESYNTAX;
        }
        /* The signal's own headers replace the general ones of that name. */
        for (size_t j = before; j < n && i == 1; j++)
            for (size_t k = 0; k < before; k++)
                if (kv[k].key[0] && strcasecmp(kv[k].key, kv[j].key) == 0)
                    kv[k].key[0] = '\0';
    }
    /* "Expect:" empty: libcurl would ask a large batch (over 1 MiB) to wait
     * for a 100 Continue, a second lost with collectors that send none. */
    struct curl_slist *l = curl_slist_append(NULL, "Content-Type: application/json");
    if (l) {
        struct curl_slist *nl = curl_slist_append(l, "Expect:");
        if (!nl) {
            curl_slist_free_all(l);
            l = NULL;
        } else
            l = nl;
    }
    for (size_t i = 0; i < n && l; i++) {
        if (!kv[i].key[0])
            continue;
        size_t len = strlen(kv[i].key) + strlen(kv[i].value) + 3;
        char *h = malloc(len);
        if (!h)
            break;
        snprintf(h, len, "%s: %s", kv[i].key, kv[i].value);
        struct curl_slist *nl = curl_slist_append(l, h);
        free(h);
        if (!nl) {
            curl_slist_free_all(l);
            l = NULL;
        } else
            l = nl;
    }
    otel_kv_free(kv, n);
    *out = l;
    return l ? 0 : FAULT_ENOMEM;
}

static int ms_var(fault_plugin *self, const char *specific, const char *general, long def,
                  long *out)
{
    const char *which;
    const char *v = env2(specific, general, &which);
    *out = def;
    if (v && otel_parse_ms(v, out) != 0) {
        fault_plugin_error(self, "%s: '%s' is not a number of milliseconds (0 to 3600000)", which,
                           v);
        return FAULT_ESYNTAX;
    }
    return 0;
}

/* A count of spans: 1 to 1000000. */
static int count_var(fault_plugin *self, const char *name, long def, long *out)
{
    const char *v = getenv(name);
    *out = def;
    if (v && *v && (otel_parse_ms(v, out) != 0 || *out < 1 || *out > 1000000)) {
        fault_plugin_error(self, "%s: '%s' is not a number of spans (1 to 1000000)", name, v);
        return FAULT_ESYNTAX;
    }
    return 0;
}

/* One signal: exporter, protocol, endpoint, headers, timeout. */
static int configure_sink(fault_plugin *self, sink *sk, const char *sig, const char *path)
{
    char exporter_var[64], proto_var[64], url_var[64], headers_var[64], timeout_var[64];
    char err[512];
    const char *which;
    snprintf(exporter_var, sizeof exporter_var, "OTEL_%s_EXPORTER", sig);
    snprintf(proto_var, sizeof proto_var, "OTEL_EXPORTER_OTLP_%s_PROTOCOL", sig);
    snprintf(url_var, sizeof url_var, "OTEL_EXPORTER_OTLP_%s_ENDPOINT", sig);
    snprintf(headers_var, sizeof headers_var, "OTEL_EXPORTER_OTLP_%s_HEADERS", sig);
    snprintf(timeout_var, sizeof timeout_var, "OTEL_EXPORTER_OTLP_%s_TIMEOUT", sig);
    const char *exp = getenv(exporter_var);
    sk->on = true;
    if (exp && *exp && strcmp(exp, "otlp") != 0) {
        if (strcmp(exp, "none") != 0) {
            fault_plugin_error(self, "%s: '%s' is not supported (otlp or none)", exporter_var, exp);
            return FAULT_ESYNTAX;
        }
        sk->on = false;
        return 0;
    }
    const char *proto = env2(proto_var, "OTEL_EXPORTER_OTLP_PROTOCOL", &which);
    if (proto && strcmp(proto, "http/json") != 0) {
        fault_plugin_error(self, "%s: '%s' is not supported: this build exports http/json only",
                           which, proto);
        return FAULT_ESYNTAX;
    }
    const char *url = getenv(url_var);
    if (url && *url) {
        which = url_var;
        sk->url = strdup(url);
    } else {
        const char *base = getenv("OTEL_EXPORTER_OTLP_ENDPOINT");
        which = "OTEL_EXPORTER_OTLP_ENDPOINT";
        if (!base || !*base)
            base = DEFAULT_URL;
        size_t bl = strlen(base);
        while (bl && base[bl - 1] == '/')
            bl--;
        size_t len = bl + strlen(path) + 1;
        if ((sk->url = malloc(len)) != NULL)
            snprintf(sk->url, len, "%.*s%s", (int)bl, base, path);
    }
    if (!sk->url)
        return FAULT_ENOMEM;
    if (otel_check_url(sk->url, err, sizeof err) != 0) {
        fault_plugin_error(self, "%s: %s", which, err);
        return FAULT_ESYNTAX;
    }
    int rc = header_list(self, headers_var, &sk->headers);
    if (rc == 0)
        rc = ms_var(self, timeout_var, "OTEL_EXPORTER_OTLP_TIMEOUT", 10000, &sk->timeout_ms);
    if (rc == 0 && sk->timeout_ms == 0)
        sk->timeout_ms = 10000;
    return rc;
}

static int configure_resource(fault_plugin *self, otel *o)
{
    otel_kv *kv = NULL;
    size_t n = 0;
    char err[256];
    if (otel_kv_parse(getenv("OTEL_RESOURCE_ATTRIBUTES"), false, &kv, &n, err, sizeof err) != 0) {
        fault_plugin_error(self, "OTEL_RESOURCE_ATTRIBUTES: %s", err);
        return FAULT_ESYNTAX;
    }
    const char *service = getenv("OTEL_SERVICE_NAME");
    for (size_t i = 0; i < n && !(service && *service); i++)
        if (strcmp(kv[i].key, "service.name") == 0)
            service = kv[i].value;
    o->resource = cJSON_CreateObject();
    cJSON *attrs = cJSON_AddArrayToObject(o->resource, "attributes");
    attr_str(attrs, "service.name", service && *service ? service : DEFAULT_SERVICE);
    attr_str(attrs, "service.version", PACKAGE_VERSION);
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, "service.name") != 0 && strcmp(kv[i].key, "service.version") != 0)
            attr_str(attrs, kv[i].key, kv[i].value);
    otel_kv_free(kv, n);
    return 0;
}

static int configure(fault_plugin *self, void *state)
{
    otel *o = state;
    o->self = self;
    if (env_true("OTEL_SDK_DISABLED"))
        return 0;
    int rc = configure_sink(self, &o->traces, "TRACES", "/v1/traces");
    if (rc == 0)
        rc = configure_sink(self, &o->metrics, "METRICS", "/v1/metrics");
    if (rc == 0)
        rc = ms_var(self, NULL, "OTEL_BSP_SCHEDULE_DELAY", 1000, &o->delay_ms);
    if (rc == 0)
        rc = ms_var(self, NULL, "OTEL_METRIC_EXPORT_INTERVAL", 60000, &o->interval_ms);
    if (rc == 0)
        rc = count_var(self, "OTEL_BSP_MAX_QUEUE_SIZE", 2048, &o->max_queue);
    if (rc == 0)
        rc = count_var(self, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512, &o->batch);
    if (rc == 0 && o->batch > o->max_queue)
        o->batch = o->max_queue; /* as the specification says */
    if (rc == 0)
        rc = configure_resource(self, o);
    if (o->delay_ms == 0)
        o->delay_ms = 1000;
    if (o->interval_ms == 0)
        o->interval_ms = 60000;
    return rc;
}

static int start(fault_plugin *self, void *state)
{
    otel *o = state;
    if (!o->traces.on && !o->metrics.on)
        return 0;
    o->loop = fault_loop(self);
    if (getrandom(&o->rng, sizeof o->rng, 0) != (ssize_t)sizeof o->rng)
        o->rng = wall_ns() ^ (uint64_t)(uintptr_t)o;
    o->start_ns = wall_ns();
    o->queue = cJSON_CreateArray();
    o->cu = curluv_new(o->loop, on_done, o);
    if (!o->cu || !o->queue) {
        fault_plugin_error(self, "cannot set up libcurl");
        return FAULT_ENOMEM;
    }
    uv_timer_t *timers[] = {&o->flush_timer, &o->metric_timer, &o->stop_timer, &o->deadline_timer};
    for (size_t i = 0; i < 4; i++) {
        uv_timer_init(o->loop, timers[i]);
        timers[i]->data = o;
    }
    /* The timers alone must not keep a finished run alive. */
    uv_unref((uv_handle_t *)&o->flush_timer);
    uv_unref((uv_handle_t *)&o->metric_timer);
    o->timers = true;
    uv_timer_start(&o->flush_timer, on_flush, (uint64_t)o->delay_ms, (uint64_t)o->delay_ms);
    if (o->metrics.on)
        uv_timer_start(&o->metric_timer, on_metric_timer, (uint64_t)o->interval_ms,
                       (uint64_t)o->interval_ms);
    uint32_t mask = FAULT_EVMASK(FAULT_EV_CONN_OPEN) | FAULT_EVMASK(FAULT_EV_CONN_CLOSE) |
                    FAULT_EVMASK(FAULT_EV_HTTP_REQUEST) | FAULT_EVMASK(FAULT_EV_HTTP_RESPONSE) |
                    FAULT_EVMASK(FAULT_EV_FAULT_APPLIED) | FAULT_EVMASK(FAULT_EV_ERROR);
    o->sub = fault_event_subscribe(self, mask, on_event, o);
    if (o->sub < 0) {
        fault_plugin_error(self, "cannot subscribe to events: %s", fault_strerror(o->sub));
        return o->sub;
    }
    fault_log_info(self, "exporting traces to %s, metrics to %s",
                   o->traces.on ? o->traces.url : "(off)",
                   o->metrics.on ? o->metrics.url : "(off)");
    return 0;
}

static void stop(fault_plugin *self, void *state)
{
    (void)self;
    otel *o = state;
    if (!o->timers || o->stopping)
        return;
    o->stopping = true;
    uv_timer_stop(&o->flush_timer);
    uv_timer_stop(&o->metric_timer);
    /* After the host closed the connections (their CONN_CLOSE come
     * first): see the top of the file. */
    uv_timer_start(&o->stop_timer, on_final, 0, 0);
}

static void destroy(fault_plugin *self, void *state)
{
    (void)self;
    otel *o = state;
    for (size_t i = 0; i < OPEN_BUCKETS; i++)
        while (o->open[i]) {
            span *s = o->open[i];
            o->open[i] = s->next;
            cJSON_Delete(s->obj);
            free(s->url);
            free(s);
        }
    cJSON_Delete(o->queue);
    cJSON_Delete(o->resource);
    sink *sinks[2] = {&o->traces, &o->metrics};
    for (int i = 0; i < 2; i++) {
        free(sinks[i]->url);
        curl_slist_free_all(sinks[i]->headers);
    }
    for (size_t i = 0; i < o->ncounters; i++)
        free(o->counters[i].astr);
    free(o->counters);
}

/* Loaded only when --with-otel or FAULT_WITH_OTEL is given; the core
 * enables it only when that option is on. */
FAULT_PLUGIN_HINT_OPTION(FAULT_KIND_BRIDGE, "with-otel", "FAULT_WITH_OTEL");
FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_BRIDGE, .name = "otel", .version = PACKAGE_VERSION,
                    .summary = "OpenTelemetry export of traces and metrics (--with-otel)",
                    .license = "Apache-2.0", .state_size = sizeof(otel), .configure = configure,
                    .start = start, .stop = stop, .destroy = destroy);
