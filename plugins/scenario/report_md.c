/*
 * plugins/scenario/report_md.c - the Markdown report, laid out as the original tool's: per
 * scenario and item the call, the strategy, the faults (a timeline row per
 * fault for load runs: ten slots of 10% each, `x` when the fault is on
 * during any part of the slot), the expectation, the run overview,
 * latency percentiles and the SLO table.
 *
 * Beyond the original: single-shot and repeat items list each call with
 * its status, time, the faults applied to it and why it failed; items the
 * proxy could not run say why. Authorization-like header values are
 * masked (sc_header_shown()).
 */
#include "config.h"

#include <string.h>

#include "scenario.h"

static void pct_cell(sc_buf *b, size_t k, size_t n)
{
    sc_buf_printf(b, "%zu (%.1f%%)", k, n ? 100.0 * (double)k / (double)n : 0.0);
}

static void call_section(sc_buf *b, const sc_item *it)
{
    sc_buf_printf(b, "**Call**:\n\n- Method: `%s`\n", it->method);
    if (it->has_timeout)
        sc_buf_printf(b, "- Timeout: %gms\n", it->timeout_ms);
    else
        sc_buf_puts(b, "- Timeout: -\n");
    if (it->nheaders == 0) {
        sc_buf_puts(b, "- Headers: -\n");
    } else {
        sc_buf_puts(b, "- Headers:\n");
        for (size_t i = 0; i < it->nheaders; i++) {
            sc_buf_puts(b, "    - ");
            sc_buf_md(b, it->headers[i].name);
            sc_buf_puts(b, ": ");
            sc_buf_md(b, sc_header_shown(it->headers[i].name, it->headers[i].value));
            sc_buf_puts(b, "\n");
        }
    }
    sc_buf_printf(b, "- Body?: %s\n", it->body ? "Yes" : "No");
    if (it->nupstreams) {
        sc_buf_puts(b, "- Upstreams: ");
        for (size_t i = 0; i < it->nupstreams; i++) {
            sc_buf_printf(b, "%s`", i ? ", " : "");
            sc_buf_md(b, it->upstreams[i]);
            sc_buf_puts(b, "`");
        }
        sc_buf_puts(b, "\n");
    }
    sc_buf_puts(b, "\n");
}

static void faults_section(sc_buf *b, const sc_item *it)
{
    char desc[512];
    if (it->nfaults == 0) {
        sc_buf_puts(b, "**Faults Applied**: none\n\n");
        return;
    }
    if (it->strategy.mode == SC_LOAD) {
        sc_buf_puts(b, "**Faults Applied**:\n\n| Type | Timeline | Description |\n"
                       "|------|----------|-------------|\n");
        for (size_t i = 0; i < it->nfaults; i++) {
            char row[11];
            sc_period_timeline(it->faults[i].period, it->strategy.duration_us, row);
            sc_fault_describe(&it->faults[i], desc, sizeof desc);
            sc_buf_printf(b, "| %s | 0%% `%s` 100%% | ", sc_fault_type_name(it->faults[i].type),
                          row);
            sc_buf_md(b, desc);
            sc_buf_puts(b, " |\n");
        }
        sc_buf_puts(b, "\n");
        return;
    }
    sc_buf_puts(b, "**Faults Applied**:\n\n");
    for (size_t i = 0; i < it->nfaults; i++) {
        sc_fault_describe(&it->faults[i], desc, sizeof desc);
        sc_buf_puts(b, "- ");
        sc_buf_md(b, desc);
        sc_buf_puts(b, "\n");
    }
    sc_buf_puts(b, "\n");
}

static void overview(sc_buf *b, const sc_item_result *ir, const sc_stats *st)
{
    char span[96];
    sc_format_span(ir->total_us, span, sizeof span);
    sc_buf_puts(b, "**Run Overview**:\n\n"
                   "| Num. Requests | Num. Errors | Min. Response Time | Max Response Time | "
                   "Mean Latency (ms) | Expectation Failures | Total Time |\n"
                   "|-----------|---------|--------------------|-------------------|"
                   "-------------------|----------------------|------------|\n");
    sc_buf_printf(b, "| %zu | ", st->n);
    pct_cell(b, st->errors, st->n);
    if (ir->item->strategy.mode == SC_LOAD)
        sc_buf_printf(b, " | %.2f | %.2f | %.2f | - | %s |\n\n", st->min, st->max, st->mean, span);
    else
        sc_buf_printf(b, " | %.2f | %.2f | %.2f | %zu | %s |\n\n", st->min, st->max, st->mean,
                      ir->failures, span);
    if (st->n == 0)
        return;
    sc_buf_puts(b, "| Latency Percentile | Latency (ms) | Num. Requests (% of total) |\n"
                   "|------------|--------------|-----------|\n");
    for (int k = 0; k < 5; k++) {
        sc_buf_printf(b, "| p%g | %.2f | ", sc_pcts[k], st->pct[k]);
        pct_cell(b, st->pct_count[k], st->n);
        sc_buf_puts(b, " |\n");
    }
    sc_buf_puts(b, "\n");
}

static void slo_table(sc_buf *b, const sc_item_result *ir)
{
    if (ir->nslo == 0)
        return;
    sc_buf_puts(b,
                "| SLO | Pass? | Objective | Margin | Num. Requests Over Threshold (% of total) |\n"
                "|-----------|-------|-----------|--------|--------------------------|\n");
    for (size_t i = 0; i < ir->nslo; i++) {
        const sc_slo_result *r = &ir->slo[i];
        const char *unit = r->slo->is_error ? "%" : "ms";
        sc_buf_puts(b, "| ");
        sc_buf_md(b, r->slo->title);
        sc_buf_printf(b, " | %s | %g%% < %g%s | %s by %.1f%s | ", r->pass ? "✅" : "❌",
                      r->slo->objective, r->slo->threshold, unit, r->pass ? "Below" : "Above",
                      r->margin, unit);
        pct_cell(b, r->over, ir->ncalls);
        sc_buf_puts(b, " |\n");
    }
    sc_buf_puts(b, "\n");
}

static void calls_table(sc_buf *b, const sc_item_result *ir)
{
    if (ir->item->strategy.mode == SC_LOAD || ir->ncalls == 0)
        return;
    sc_buf_puts(b,
                "| Call | Iteration | Status | Response Time (ms) | Faults Applied | Result |\n"
                "|------|-----------|--------|--------------------|----------------|--------|\n");
    for (size_t i = 0; i < ir->ncalls; i++) {
        const sc_call *c = &ir->calls[i];
        sc_buf_printf(b, "| %zu | ", i + 1);
        if (c->iteration < 0)
            sc_buf_puts(b, "baseline");
        else
            sc_buf_printf(b, "%d", c->iteration + 1);
        if (c->status)
            sc_buf_printf(b, " | %d | %.2f | ", c->status, c->response_ms);
        else
            sc_buf_printf(b, " | - | %.2f | ", c->response_ms);
        if (c->napplied == 0)
            sc_buf_puts(b, "-");
        for (size_t a = 0; a < c->napplied && a < 8; a++) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(c->applied[a].event, "type");
            const cJSON *d = cJSON_GetObjectItemCaseSensitive(c->applied[a].event, "delay");
            sc_buf_printf(b, "%s%s", a ? ", " : "", cJSON_IsString(t) ? t->valuestring : "?");
            if (cJSON_IsNumber(d))
                sc_buf_printf(b, " %.1fms", d->valuedouble);
            sc_buf_puts(b, " on ");
            sc_buf_md(b, sc_url_shown(c->applied[a].url));
        }
        if (c->napplied > 8)
            sc_buf_printf(b, " (+%zu)", c->napplied - 8);
        sc_buf_puts(b, " | ");
        if (c->success)
            sc_buf_puts(b, "✅");
        else {
            sc_buf_puts(b, "❌ ");
            sc_buf_md(b, c->reason ? c->reason : c->error ? c->error : "failed");
        }
        sc_buf_puts(b, " |\n");
    }
    sc_buf_puts(b, "\n");
}

void sc_report_md(const sc_run_result *r, const sc_suite *suite, sc_buf *b)
{
    char when[64];
    sc_buf_puts(b, "# Scenarios Report\n\n");
    sc_format_wall(r->start_wall_us, when, sizeof when);
    sc_buf_printf(b, "Start: %s\n\n", when);
    sc_format_wall(r->end_wall_us, when, sizeof when);
    sc_buf_printf(b, "End: %s\n\n", when);
    if (r->interrupted)
        sc_buf_puts(b, "**The run was interrupted: what follows is what ran before.**\n\n");
    for (size_t s = 0; s < suite->n; s++) {
        const sc_scenario *sc = &suite->scenarios[s];
        size_t first, k;
        if (!sc_scenario_ran(r, suite, s, &first, &k))
            continue;
        sc_buf_puts(b, "## Scenario: ");
        sc_buf_md(b, sc->title);
        sc_buf_printf(b, " (items: %zu)\n\n", sc->nitems);
        if (sc->description && *sc->description) {
            sc_buf_puts(b, "_Description:_ ");
            sc_buf_md(b, sc->description);
            sc_buf_puts(b, "\n\n");
        }
        for (size_t i = first; i < k; i++) {
            const sc_item_result *ir = &r->items[i];
            if (!ir->ran)
                continue;
            const sc_item *it = ir->item;
            sc_buf_printf(b, "### 🎯 `%s` ", it->method);
            sc_buf_md(b, sc_url_shown(it->resolved_url));
            sc_buf_printf(b, " | %s\n\n",
                          ir->interrupted ? "Interrupted"
                          : ir->passed    ? "Passed"
                                          : "Failed");
            if (ir->error) {
                sc_buf_puts(b, "**Error**: ");
                sc_buf_md(b, ir->error);
                sc_buf_puts(b, "\n\n");
            }
            if (ir->warning) {
                sc_buf_puts(b, "**Warning**: ");
                sc_buf_md(b, ir->warning);
                sc_buf_puts(b, "\n\n");
            }
            call_section(b, it);
            char buf[512];
            sc_strategy_describe(&it->strategy, buf, sizeof buf);
            sc_buf_printf(b, "**Strategy**: %s\n\n", buf);
            faults_section(b, it);
            sc_expect_describe(it, buf, sizeof buf);
            sc_buf_printf(b, "**Expectation**: %s\n\n", buf);
            sc_stats st;
            sc_stats_compute(ir, &st);
            overview(b, ir, &st);
            slo_table(b, ir);
            calls_table(b, ir);
        }
        sc_buf_puts(b, "---\n\n");
    }
}
