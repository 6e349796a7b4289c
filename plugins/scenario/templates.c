/*
 * plugins/scenario/templates.c - the eight default scenarios `fault
 * scenario generate` writes for every operation of an OpenAPI document
 * (as the original tool's OpenAPI support does), as cJSON documents.
 *
 * The eight: a single high-latency spike; stair-step latency growth over
 * five calls after a baseline; latency pulses during a load; packet loss
 * for part of a call's window; high jitter; a bandwidth cap under load;
 * random 500 errors under load; a short full black-hole under load. The
 * titles are the original tool's, so reports and dashboards keyed on them
 * keep working. The faults apply to the API's own server (its base URL
 * is the upstream), so they hit the generated calls themselves.
 *
 * Path parameters stay placeholders in the URL ({id}); their values go in
 * the document's config.http.paths.segments, filled with the example,
 * default or first enum value the OpenAPI document gives, else with a
 * placeholder of the parameter's type (1, "example"...), so that the
 * generated files run as they are.
 *
 * Pure cJSON: the OpenAPI fuzz target builds it.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdbool.h>
#include <string.h>

#include "scenario.h"

typedef struct tpl {
    cJSON *doc, *item, *call, *ctx, *faults;
} tpl;

static cJSON *add_fault(tpl *t, const char *type)
{
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "type", type);
    cJSON_AddItemToArray(t->faults, f);
    return f;
}

static void add_slos(tpl *t)
{
    cJSON *slo = cJSON_AddArrayToObject(t->ctx, "slo");
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "type", "latency");
    cJSON_AddStringToObject(a, "title", "P95 < 300ms");
    cJSON_AddNumberToObject(a, "objective", 95);
    cJSON_AddNumberToObject(a, "threshold", 300);
    cJSON_AddItemToArray(slo, a);
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "type", "error");
    cJSON_AddStringToObject(b, "title", "P99 < 1% errors");
    cJSON_AddNumberToObject(b, "objective", 99);
    cJSON_AddNumberToObject(b, "threshold", 1);
    cJSON_AddItemToArray(slo, b);
}

static void set_load(tpl *t, const char *duration, int clients, int rps)
{
    cJSON *s = cJSON_AddObjectToObject(t->ctx, "strategy");
    cJSON_AddStringToObject(s, "mode", "load");
    cJSON_AddStringToObject(s, "duration", duration);
    cJSON_AddNumberToObject(s, "clients", clients);
    cJSON_AddNumberToObject(s, "rps", rps);
}

/* A document with one item calling op, its context ready for faults. */
static void begin(tpl *t, const sc_api *api, const sc_operation *op, const char *title,
                  const char *description)
{
    t->doc = cJSON_CreateObject();
    cJSON_AddStringToObject(t->doc, "title", title);
    cJSON_AddStringToObject(t->doc, "description", description);
    if (op->nsegments) {
        cJSON *cfg = cJSON_AddObjectToObject(t->doc, "config");
        cJSON *http = cJSON_AddObjectToObject(cfg, "http");
        cJSON_AddObjectToObject(http, "headers");
        cJSON *paths = cJSON_AddObjectToObject(http, "paths");
        cJSON *seg = cJSON_AddObjectToObject(paths, "segments");
        for (size_t i = 0; i < op->nsegments; i++)
            cJSON_AddStringToObject(seg, op->segments[i].name, op->segments[i].value);
    }
    cJSON *items = cJSON_AddArrayToObject(t->doc, "items");
    t->item = cJSON_CreateObject();
    cJSON_AddItemToArray(items, t->item);
    t->call = cJSON_AddObjectToObject(t->item, "call");
    cJSON_AddStringToObject(t->call, "method", op->method);
    cJSON_AddStringToObject(t->call, "url", op->url);
    if (op->body) {
        cJSON *h = cJSON_AddObjectToObject(t->call, "headers");
        cJSON_AddStringToObject(h, "content-type", "application/json");
        cJSON_AddStringToObject(t->call, "body", op->body);
    }
    cJSON *meta = cJSON_AddObjectToObject(t->call, "meta");
    cJSON_AddStringToObject(meta, "operation_id", op->operation_id);
    t->ctx = cJSON_AddObjectToObject(t->item, "context");
    cJSON *ups = cJSON_AddArrayToObject(t->ctx, "upstreams");
    cJSON_AddItemToArray(ups, cJSON_CreateString(api->base));
    t->faults = cJSON_AddArrayToObject(t->ctx, "faults");
}

static void finish(tpl *t, cJSON *docs, int status, double rtu, bool all_slo)
{
    if (!cJSON_GetObjectItemCaseSensitive(t->ctx, "strategy"))
        cJSON_AddNullToObject(t->ctx, "strategy");
    if (status || rtu > 0 || all_slo) {
        cJSON *e = cJSON_AddObjectToObject(t->item, "expect");
        if (status)
            cJSON_AddNumberToObject(e, "status", status);
        if (rtu > 0)
            cJSON_AddNumberToObject(e, "response_time_under", rtu);
        if (all_slo)
            cJSON_AddBoolToObject(e, "all_slo_are_valid", true);
    }
    cJSON_AddItemToArray(docs, t->doc);
}

int sc_generate_for(const sc_api *api, const sc_operation *op, cJSON *docs)
{
    tpl t;
    cJSON *f, *s;
    int before = cJSON_GetArraySize(docs);

    begin(&t, api, op, "Single high-latency spike (client ingress)",
          "One call whose answer is held about 800 ms on its way back to the client, as a "
          "stalled network stack or a garbage-collection pause would hold it.");
    f = add_fault(&t, "latency");
    cJSON_AddStringToObject(f, "side", "client");
    cJSON_AddStringToObject(f, "direction", "ingress");
    cJSON_AddNumberToObject(f, "mean", 800);
    cJSON_AddNumberToObject(f, "stddev", 100);
    finish(&t, docs, 200, 0, false);

    begin(&t, api, op, "Stair-step latency growth (5 x 100 ms)",
          "A baseline call, then five calls each 100 ms slower than the one before: "
          "congestion building up, or head-of-line blocking.");
    f = add_fault(&t, "latency");
    cJSON_AddStringToObject(f, "side", "client");
    cJSON_AddStringToObject(f, "direction", "ingress");
    cJSON_AddNumberToObject(f, "mean", 100);
    cJSON_AddNumberToObject(f, "stddev", 30);
    s = cJSON_AddObjectToObject(t.ctx, "strategy");
    cJSON_AddStringToObject(s, "mode", "repeat");
    cJSON_AddNumberToObject(s, "step", 100);
    cJSON_AddNumberToObject(s, "count", 5);
    cJSON_AddBoolToObject(s, "add_baseline_call", true);
    finish(&t, docs, 200, 0, false);

    begin(&t, api, op, "Periodic 150-250 ms latency pulses during load",
          "Three bursts of latency, at 10%, 40% and 70% of a 10 s load, to see how far the "
          "95th percentile drifts.");
    static const struct {
        double mean;
        const char *period;
    } pulses[] = {{150, "start:10%,duration:15%"},
                  {250, "start:40%,duration:15%"},
                  {150, "start:70%,duration:15%"}};
    for (size_t i = 0; i < 3; i++) {
        f = add_fault(&t, "latency");
        cJSON_AddNumberToObject(f, "mean", pulses[i].mean);
        cJSON_AddStringToObject(f, "period", pulses[i].period);
    }
    set_load(&t, "10s", 3, 2);
    add_slos(&t);
    finish(&t, docs, 0, 0, true);

    begin(&t, api, op, "5% packet loss for 4s",
          "Requests lose packets for 40% of the window, as on flaky Wi-Fi or a cellular link; "
          "the call must still answer quickly.");
    cJSON_AddNumberToObject(t.call, "timeout", 500);
    f = add_fault(&t, "packetloss");
    cJSON_AddStringToObject(f, "direction", "egress");
    cJSON_AddStringToObject(f, "period", "start:30%,duration:40%");
    finish(&t, docs, 200, 100, false);

    begin(&t, api, op, "High jitter (±80ms @ 8Hz)",
          "Answers are delayed by up to 80 ms about eight times a second, as on a bursty "
          "uplink: does buffering cope?");
    f = add_fault(&t, "jitter");
    cJSON_AddStringToObject(f, "side", "server");
    cJSON_AddStringToObject(f, "direction", "ingress");
    cJSON_AddNumberToObject(f, "amplitude", 80);
    cJSON_AddNumberToObject(f, "frequency", 8);
    finish(&t, docs, 200, 0, false);

    begin(&t, api, op, "512 KBps bandwidth cap",
          "Answers are throttled to 512 KBps, a slow mobile link, under a light load: large "
          "payloads show.");
    f = add_fault(&t, "bandwidth");
    cJSON_AddNumberToObject(f, "rate", 512);
    cJSON_AddStringToObject(f, "unit", "KBps");
    cJSON_AddStringToObject(f, "direction", "ingress");
    set_load(&t, "15s", 2, 1);
    add_slos(&t);
    finish(&t, docs, 200, 0, false);

    begin(&t, api, op, "Random 500 errors (5% of calls)",
          "One call in twenty is answered 500 by the proxy under load: are retries and "
          "circuit breakers doing their job?");
    f = add_fault(&t, "httperror");
    cJSON_AddNumberToObject(f, "status_code", 500);
    cJSON_AddNumberToObject(f, "probability", 0.05);
    set_load(&t, "8s", 5, 4);
    add_slos(&t);
    finish(&t, docs, 0, 100, false);

    begin(&t, api, op, "Full black-hole for 1s",
          "For one second in the middle of a load, requests go nowhere, as when a router drops "
          "everything or a pod is evicted.");
    cJSON_AddNumberToObject(t.call, "timeout", 500);
    f = add_fault(&t, "blackhole");
    cJSON_AddStringToObject(f, "direction", "egress");
    cJSON_AddStringToObject(f, "period", "start:45%,duration:10%");
    set_load(&t, "10s", 2, 3);
    add_slos(&t);
    finish(&t, docs, 0, 0, false);

    return cJSON_GetArraySize(docs) == before + 8 ? 0 : -1;
}
