/*
 * plugins/scenario/results.c - results.json, in the original tool's layout: every call of
 * every item with its expectation, metrics and the fault events the proxy
 * applied to it; and the JSON/YAML flavour of the report (an analysis per
 * item rather than every call).
 *
 * The layout is the original tool's, so programs that read its results
 * (its agent, CI scripts) read ours. Times are milliseconds (response
 * time, ttfb, dns duration), start times microseconds since the epoch,
 * the run's start and end seconds since the epoch. Fields beyond the
 * original's are additions only: `passed`, `interrupted`, `error`, `slo`
 * per item; `iteration`, `reason` per call; `at_ms` per fault event.
 * Header values that carry credentials are masked here as in the reports.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "scenario.h"

/* ---- the scenario as read ---- */

static cJSON *item_json(const sc_item *it)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *call = cJSON_AddObjectToObject(o, "call");
    cJSON_AddStringToObject(call, "method", it->method);
    cJSON_AddStringToObject(call, "url", sc_url_shown(it->url));
    if (it->nheaders) {
        cJSON *h = cJSON_AddObjectToObject(call, "headers");
        for (size_t i = 0; i < it->nheaders; i++)
            cJSON_AddStringToObject(h, it->headers[i].name,
                                    sc_header_shown(it->headers[i].name, it->headers[i].value));
    }
    if (it->body)
        cJSON_AddStringToObject(call, "body", it->body);
    if (it->has_timeout)
        cJSON_AddNumberToObject(call, "timeout", it->timeout_ms);
    if (it->operation_id) {
        cJSON *m = cJSON_AddObjectToObject(call, "meta");
        cJSON_AddStringToObject(m, "operation_id", it->operation_id);
    }
    cJSON *ctx = cJSON_AddObjectToObject(o, "context");
    cJSON *ups = cJSON_AddArrayToObject(ctx, "upstreams");
    for (size_t i = 0; i < it->nupstreams; i++)
        cJSON_AddItemToArray(ups, cJSON_CreateString(it->upstreams[i]));
    cJSON *fl = cJSON_AddArrayToObject(ctx, "faults");
    for (size_t i = 0; i < it->nfaults; i++)
        cJSON_AddItemToArray(fl, sc_fault_to_json(&it->faults[i], false));
    const sc_strategy *s = &it->strategy;
    if (s->mode == SC_SINGLE) {
        cJSON_AddNullToObject(ctx, "strategy");
    } else {
        cJSON *st = cJSON_AddObjectToObject(ctx, "strategy");
        if (s->mode == SC_REPEAT) {
            cJSON_AddStringToObject(st, "mode", "repeat");
            cJSON_AddNumberToObject(st, "step", s->step);
            cJSON_AddNumberToObject(st, "count", (double)s->count);
            cJSON_AddBoolToObject(st, "add_baseline_call", s->add_baseline_call);
            cJSON_AddBoolToObject(st, "failfast", s->failfast);
            if (s->has_wait)
                cJSON_AddNumberToObject(st, "wait", s->wait_ms);
        } else {
            cJSON_AddStringToObject(st, "mode", "load");
            cJSON_AddStringToObject(st, "duration", s->duration_text);
            cJSON_AddNumberToObject(st, "clients", (double)s->clients);
            cJSON_AddNumberToObject(st, "rps", (double)s->rps);
        }
    }
    if (it->nslos) {
        cJSON *sl = cJSON_AddArrayToObject(ctx, "slo");
        for (size_t i = 0; i < it->nslos; i++) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "type", it->slos[i].is_error ? "error" : "latency");
            cJSON_AddStringToObject(x, "title", it->slos[i].title);
            cJSON_AddNumberToObject(x, "objective", it->slos[i].objective);
            cJSON_AddNumberToObject(x, "threshold", it->slos[i].threshold);
            cJSON_AddItemToArray(sl, x);
        }
    }
    if (it->nproxies || it->disable_http_proxies) {
        cJSON *px = cJSON_AddObjectToObject(ctx, "proxy");
        cJSON_AddBoolToObject(px, "disable_http_proxies", it->disable_http_proxies);
        cJSON *pl = cJSON_AddArrayToObject(px, "proxies");
        for (size_t i = 0; i < it->nproxies; i++)
            cJSON_AddItemToArray(pl, cJSON_CreateString(it->proxies[i]));
    }
    if (it->has_expect) {
        cJSON *e = cJSON_AddObjectToObject(o, "expect");
        if (it->has_status)
            cJSON_AddNumberToObject(e, "status", it->status);
        if (it->has_rtu)
            cJSON_AddNumberToObject(e, "response_time_under", it->response_time_under);
        if (it->has_all_slo)
            cJSON_AddBoolToObject(e, "all_slo_are_valid", it->all_slo_are_valid);
    } else {
        cJSON_AddNullToObject(o, "expect");
    }
    return o;
}

static void add_num_or_null(cJSON *o, const char *k, bool has, double v)
{
    if (has)
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static void add_bool_or_null(cJSON *o, const char *k, bool has, bool v)
{
    if (has)
        cJSON_AddBoolToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

/* ---- one call ---- */

static cJSON *call_json(const sc_item_result *ir, const sc_call *c)
{
    const sc_item *it = ir->item;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "start", (double)c->start_wall_us);
    cJSON_AddNumberToObject(o, "iteration", c->iteration);
    cJSON *ex = cJSON_AddObjectToObject(o, "expect");
    cJSON_AddStringToObject(ex, "type", "http");
    cJSON *wanted = cJSON_AddObjectToObject(ex, "wanted");
    add_num_or_null(wanted, "status_code", it->has_status, it->status);
    add_num_or_null(wanted, "response_time_under", it->has_rtu, it->response_time_under);
    add_bool_or_null(wanted, "all_slo_are_valid", it->has_all_slo, it->all_slo_are_valid);
    cJSON *got = cJSON_AddObjectToObject(ex, "got");
    add_num_or_null(got, "status_code", c->status > 0, c->status);
    cJSON_AddNumberToObject(got, "response_time", c->response_ms);
    add_bool_or_null(got, "all_slo_are_valid", it->nslos > 0, ir->slo_ok);
    cJSON_AddStringToObject(got, "decision", c->success ? "success" : "failure");
    if (c->reason)
        cJSON_AddStringToObject(o, "reason", c->reason);

    cJSON *m = cJSON_AddObjectToObject(o, "metrics");
    cJSON *dns = cJSON_AddArrayToObject(m, "dns");
    if (c->dns_host) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "host", c->dns_host);
        cJSON_AddNumberToObject(d, "duration", c->dns_ms);
        cJSON_AddBoolToObject(d, "resolved", c->dns_resolved);
        cJSON_AddItemToArray(dns, d);
    }
    if (c->status > 0) {
        cJSON *p = cJSON_AddObjectToObject(m, "protocol");
        cJSON_AddStringToObject(p, "type", "http");
        cJSON_AddNumberToObject(p, "code", c->status);
        cJSON_AddNumberToObject(p, "body_length", (double)c->body_len);
    } else {
        cJSON_AddNullToObject(m, "protocol");
    }
    add_num_or_null(m, "ttfb", c->ttfb_ms > 0, c->ttfb_ms);
    cJSON_AddNumberToObject(m, "total_time", c->response_ms);
    /* Fault events grouped by the upstream they hit, in time order. */
    cJSON *fl = cJSON_AddArrayToObject(m, "faults");
    for (size_t i = 0; i < c->napplied; i++) {
        cJSON *grp = NULL;
        for (cJSON *g = fl->child; g; g = g->next) {
            const cJSON *u = cJSON_GetObjectItemCaseSensitive(g, "url");
            if (cJSON_IsString(u) && strcmp(u->valuestring, sc_url_shown(c->applied[i].url)) == 0)
                grp = g;
        }
        if (!grp) {
            grp = cJSON_CreateObject();
            cJSON_AddStringToObject(grp, "url", sc_url_shown(c->applied[i].url));
            cJSON_AddArrayToObject(grp, "applied");
            cJSON_AddItemToArray(fl, grp);
        }
        cJSON *e = cJSON_CreateObject();
        cJSON_AddItemToObject(e, "event", cJSON_Duplicate(c->applied[i].event, true));
        cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(grp, "applied"), e);
    }
    cJSON_AddBoolToObject(m, "errored", c->errored);
    cJSON_AddBoolToObject(m, "timed_out", c->timed_out);

    /* The faults this call ran with (the repeat step included). */
    cJSON *cf = cJSON_AddArrayToObject(o, "faults");
    for (size_t i = 0; c->with_faults && i < it->nfaults; i++) {
        sc_fault f = it->faults[i];
        if (f.type == SC_LATENCY && c->mean_add != 0) {
            f.mean = (f.has_mean ? f.mean : 100) + c->mean_add;
            f.has_mean = true;
        }
        cJSON_AddItemToArray(cf, sc_fault_to_json(&f, false));
    }
    cJSON *errs = cJSON_AddArrayToObject(o, "errors");
    if (c->error)
        cJSON_AddItemToArray(errs, cJSON_CreateString(c->error));
    return o;
}

static cJSON *slo_json(const sc_item_result *ir)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < ir->nslo; i++) {
        const sc_slo_result *r = &ir->slo[i];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "title", r->slo->title);
        cJSON_AddStringToObject(x, "type", r->slo->is_error ? "error" : "latency");
        cJSON_AddNumberToObject(x, "objective", r->slo->objective);
        cJSON_AddNumberToObject(x, "threshold", r->slo->threshold);
        cJSON_AddNumberToObject(x, "value", r->value);
        cJSON_AddBoolToObject(x, "pass", r->pass);
        cJSON_AddNumberToObject(x, "margin", r->margin);
        cJSON_AddNumberToObject(x, "over_threshold", (double)r->over);
        cJSON_AddItemToArray(a, x);
    }
    return a;
}

static cJSON *item_result_json(const sc_item_result *ir)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *t = cJSON_AddObjectToObject(o, "target");
    cJSON_AddStringToObject(t, "address", sc_url_shown(ir->item->resolved_url));
    cJSON *res = cJSON_AddArrayToObject(o, "results");
    for (size_t i = 0; i < ir->ncalls; i++)
        cJSON_AddItemToArray(res, call_json(ir, &ir->calls[i]));
    cJSON_AddNumberToObject(o, "requests_count", (double)ir->ncalls);
    cJSON_AddNumberToObject(o, "failure_counts", (double)ir->failures);
    cJSON *tt = cJSON_AddObjectToObject(o, "total_time");
    cJSON_AddNumberToObject(tt, "secs", (double)(ir->total_us / 1000000u));
    cJSON_AddNumberToObject(tt, "nanos", (double)(ir->total_us % 1000000u * 1000u));
    cJSON_AddBoolToObject(o, "passed", ir->passed);
    cJSON_AddBoolToObject(o, "interrupted", ir->interrupted);
    if (ir->error)
        cJSON_AddStringToObject(o, "error", ir->error);
    else
        cJSON_AddNullToObject(o, "error");
    cJSON_AddItemToObject(o, "slo", slo_json(ir));
    return o;
}

bool sc_scenario_ran(const sc_run_result *r, const sc_suite *suite, size_t s, size_t *first,
                     size_t *end)
{
    size_t k = 0;
    for (size_t t = 0; t < s && t < suite->n; t++)
        k += suite->scenarios[t].nitems;
    *first = k;
    k += s < suite->n ? suite->scenarios[s].nitems : 0;
    *end = k < r->nitems ? k : r->nitems;
    bool any = false;
    for (size_t i = *first; i < *end; i++)
        any |= r->items[i].ran;
    return any;
}

cJSON *sc_results_json(const sc_run_result *r, const sc_suite *suite)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "start", (double)(r->start_wall_us / 1000000u));
    cJSON_AddNumberToObject(root, "end", (double)(r->end_wall_us / 1000000u));
    cJSON_AddBoolToObject(root, "interrupted", r->interrupted);
    cJSON *results = cJSON_AddArrayToObject(root, "results");
    for (size_t s = 0; s < suite->n; s++) {
        const sc_scenario *sc = &suite->scenarios[s];
        size_t first, k;
        if (!sc_scenario_ran(r, suite, s, &first, &k))
            continue;
        cJSON *entry = cJSON_CreateObject();
        cJSON *scj = cJSON_AddObjectToObject(entry, "scenario");
        cJSON_AddStringToObject(scj, "title", sc->title);
        if (sc->description)
            cJSON_AddStringToObject(scj, "description", sc->description);
        else
            cJSON_AddNullToObject(scj, "description");
        cJSON *items = cJSON_AddArrayToObject(scj, "items");
        for (size_t i = 0; i < sc->nitems; i++)
            cJSON_AddItemToArray(items, item_json(&sc->items[i]));
        cJSON *ir = cJSON_AddArrayToObject(entry, "results");
        for (size_t i = first; i < k; i++)
            if (r->items[i].ran)
                cJSON_AddItemToArray(ir, item_result_json(&r->items[i]));
        cJSON_AddItemToArray(results, entry);
    }
    return root;
}

static int write_doc(cJSON *doc, const char *path, char *err, size_t errlen)
{
    if (!doc) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    int rc;
    if (sc_has_ext(path, "yaml") || sc_has_ext(path, "yml")) {
        sc_buf b = {0};
        rc = sc_yaml_emit(&b, doc, false);
        if (rc == 0 && !b.oom)
            rc = sc_write_atomic(path, b.p ? b.p : "", b.len, err, errlen);
        else {
            snprintf(err, errlen, "%s: cannot write YAML", path);
            rc = -1;
        }
        sc_buf_free(&b);
    } else {
        char *s = cJSON_Print(doc);
        if (!s) {
            snprintf(err, errlen, "%s: out of memory", path);
            rc = -1;
        } else {
            size_t n = strlen(s);
            s[n] = '\0';
            sc_buf b = {0};
            sc_buf_put(&b, s, n);
            sc_buf_puts(&b, "\n");
            rc = b.oom ? -1 : sc_write_atomic(path, b.p, b.len, err, errlen);
            sc_buf_free(&b);
            free(s);
        }
    }
    cJSON_Delete(doc);
    return rc;
}

int sc_results_write(const sc_run_result *r, const sc_suite *suite, const char *path, char *err,
                     size_t errlen)
{
    return write_doc(sc_results_json(r, suite), path, err, errlen);
}

/* ---- the report as data ---- */

cJSON *sc_report_json(const sc_run_result *r, const sc_suite *suite)
{
    cJSON *root = cJSON_CreateObject();
    char when[64];
    sc_format_wall(r->start_wall_us, when, sizeof when);
    cJSON_AddStringToObject(root, "start", when);
    sc_format_wall(r->end_wall_us, when, sizeof when);
    cJSON_AddStringToObject(root, "end", when);
    cJSON *scs = cJSON_AddArrayToObject(root, "scenarios");
    size_t k = 0;
    for (size_t s = 0; s < suite->n; s++) {
        const sc_scenario *sc = &suite->scenarios[s];
        cJSON *sj = cJSON_CreateObject();
        cJSON_AddStringToObject(sj, "title", sc->title);
        if (sc->description)
            cJSON_AddStringToObject(sj, "description", sc->description);
        cJSON *items = cJSON_AddArrayToObject(sj, "items");
        for (size_t i = 0; i < sc->nitems; i++, k++) {
            if (k >= r->nitems || !r->items[k].ran)
                continue;
            const sc_item_result *ir = &r->items[k];
            const sc_item *it = ir->item;
            cJSON *ij = cJSON_CreateObject();
            cJSON_AddStringToObject(ij, "method", it->method);
            cJSON_AddStringToObject(ij, "url", sc_url_shown(it->resolved_url));
            char buf[256];
            sc_strategy_describe(&it->strategy, buf, sizeof buf);
            cJSON_AddStringToObject(ij, "strategy", buf);
            sc_expect_describe(it, buf, sizeof buf);
            cJSON_AddStringToObject(ij, "expectation", buf);
            cJSON_AddBoolToObject(ij, "passed", ir->passed);
            cJSON_AddBoolToObject(ij, "interrupted", ir->interrupted);
            if (ir->error)
                cJSON_AddStringToObject(ij, "error", ir->error);
            sc_stats st;
            sc_stats_compute(ir, &st);
            cJSON *sj2 = cJSON_AddObjectToObject(ij, "overview");
            cJSON_AddNumberToObject(sj2, "requests", (double)st.n);
            cJSON_AddNumberToObject(sj2, "errors", (double)st.errors);
            cJSON_AddNumberToObject(sj2, "error_rate",
                                    st.n ? 100.0 * (double)st.errors / (double)st.n : 0);
            cJSON_AddNumberToObject(sj2, "min_ms", st.min);
            cJSON_AddNumberToObject(sj2, "max_ms", st.max);
            cJSON_AddNumberToObject(sj2, "mean_ms", st.mean);
            cJSON_AddNumberToObject(sj2, "expectation_failures", (double)ir->failures);
            cJSON_AddNumberToObject(sj2, "total_time_ms", (double)ir->total_us / 1000.0);
            cJSON *pc = cJSON_AddArrayToObject(ij, "percentiles");
            for (int p = 0; p < 5 && st.n; p++) {
                cJSON *x = cJSON_CreateObject();
                cJSON_AddNumberToObject(x, "percentile", sc_pcts[p]);
                cJSON_AddNumberToObject(x, "latency_ms", st.pct[p]);
                cJSON_AddNumberToObject(x, "requests", (double)st.pct_count[p]);
                cJSON_AddItemToArray(pc, x);
            }
            cJSON_AddItemToObject(ij, "slo", slo_json(ir));
            cJSON *fl = cJSON_AddArrayToObject(ij, "faults");
            for (size_t f = 0; f < it->nfaults; f++) {
                cJSON *x = cJSON_CreateObject();
                cJSON_AddStringToObject(x, "type", sc_fault_type_name(it->faults[f].type));
                sc_fault_describe(&it->faults[f], buf, sizeof buf);
                cJSON_AddStringToObject(x, "description", buf);
                if (it->strategy.mode == SC_LOAD) {
                    char row[11];
                    sc_period_timeline(it->faults[f].period, it->strategy.duration_us, row);
                    cJSON_AddStringToObject(x, "timeline", row);
                }
                cJSON_AddItemToArray(fl, x);
            }
            cJSON_AddItemToArray(items, ij);
        }
        cJSON_AddItemToArray(scs, sj);
    }
    return root;
}

int sc_report_write(const sc_run_result *r, const sc_suite *suite, const char *path, char *err,
                    size_t errlen)
{
    if (sc_has_ext(path, "json") || sc_has_ext(path, "yaml") || sc_has_ext(path, "yml"))
        return write_doc(sc_report_json(r, suite), path, err, errlen);
    sc_buf b = {0};
    if (sc_has_ext(path, "html") || sc_has_ext(path, "htm"))
        sc_report_html(r, suite, &b);
    else
        sc_report_md(r, suite, &b);
    int rc;
    if (b.oom) {
        snprintf(err, errlen, "%s: out of memory", path);
        rc = -1;
    } else {
        rc = sc_write_atomic(path, b.p ? b.p : "", b.len, err, errlen);
    }
    sc_buf_free(&b);
    return rc;
}
