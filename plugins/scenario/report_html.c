/*
 * plugins/scenario/report_html.c - `--html FILE`: one self-contained page
 * (inline CSS and SVG, no script, no external asset) that can be archived
 * by CI and opened anywhere.
 *
 * Per item: a latency-over-time chart (one dot per call, red when it
 * failed; shaded bands where each fault was on, as the proxy reported it;
 * dashed lines at latency SLO thresholds), a latency histogram, and the
 * overview, percentile and SLO tables. Elements carry stable class names
 * (latency-chart, histogram, fault-window, call, slo-threshold, slo) so
 * tests and scripts can find them.
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "scenario.h"

#define W          720.0
#define H          260.0
#define ML         60.0
#define MR         16.0
#define MT         14.0
#define MB         40.0
#define MAX_POINTS 5000

static const char *const fault_colors[] = {"#f59e0b", "#8b5cf6", "#06b6d4", "#ec4899",
                                           "#ef4444", "#475569", "#10b981"};

/* plugin: a fault plugin instance ("latency", "latency#2"). */
static const char *color_of(const char *plugin)
{
    const char *type = sc_fault_type_of_instance(plugin);
    for (int t = 0; t < SC_NFAULT_TYPES; t++)
        if (strcmp(type, sc_fault_type_name((sc_fault_type)t)) == 0)
            return fault_colors[t];
    return "#64748b";
}

/* A round number at or above v, so that fifths of it read well. */
static double nice_ceil(double v)
{
    static const double steps[] = {1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10};
    if (v <= 0)
        return 1;
    double p = pow(10, floor(log10(v)));
    double m = v / p;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (m <= steps[i] + 1e-9)
            return steps[i] * p;
    return 10 * p;
}

static void axes(sc_buf *b, double xmax, const char *xunit, double ymax, const char *yunit)
{
    double pw = W - ML - MR, ph = H - MT - MB;
    sc_buf_printf(b,
                  "<g class=\"axes\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
                  ML, MT + ph, ML + pw, MT + ph, ML, MT, ML, MT + ph);
    for (int i = 0; i <= 5; i++) {
        double y = MT + ph - ph * i / 5.0, v = ymax * i / 5.0;
        sc_buf_printf(b,
                      "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                      "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>",
                      ML, y, ML + pw, y, ML - 6, y + 4, v);
        double x = ML + pw * i / 5.0, xv = xmax * i / 5.0;
        sc_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.3g</text>", x,
                      MT + ph + 16, xv);
    }
    sc_buf_printf(b, "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>",
                  ML + pw / 2, H - 4, xunit);
    sc_buf_printf(b,
                  "<text class=\"label\" x=\"14\" y=\"%.1f\" text-anchor=\"middle\" "
                  "transform=\"rotate(-90 14 %.1f)\">%s</text></g>",
                  MT + ph / 2, MT + ph / 2, yunit);
}

static void latency_chart(sc_buf *b, const sc_item_result *ir)
{
    double xmax_ms = (double)ir->total_us / 1000.0, ymax = 1;
    for (size_t i = 0; i < ir->ncalls; i++) {
        const sc_call *c = &ir->calls[i];
        if (c->offset_ms + c->response_ms > xmax_ms)
            xmax_ms = c->offset_ms + c->response_ms;
        if (c->response_ms > ymax)
            ymax = c->response_ms;
    }
    for (size_t i = 0; i < ir->item->nslos; i++)
        if (!ir->item->slos[i].is_error && ir->item->slos[i].threshold > ymax)
            ymax = ir->item->slos[i].threshold;
    double xmax = nice_ceil(xmax_ms / 1000.0);
    ymax = nice_ceil(ymax * 1.05);
    double pw = W - ML - MR, ph = H - MT - MB;

    sc_buf_printf(b,
                  "<svg class=\"latency-chart\" xmlns=\"http://www.w3.org/2000/svg\" "
                  "viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"Latency over time\">",
                  W, H);
    sc_buf_puts(b, "<title>Latency of each call over the run</title>");
    /* Fault windows first, so the dots are drawn over them. */
    for (size_t a = 0; a < ir->nact; a++) {
        const sc_activity *act = &ir->act[a];
        for (size_t w = 0; w < act->nwin; w++) {
            double x0 = ML + pw * fmin(act->win[w][0] / 1000.0, xmax) / xmax;
            double x1 = ML + pw * fmin(act->win[w][1] / 1000.0, xmax) / xmax;
            sc_buf_printf(b, "<rect class=\"fault-window\" data-fault=\"");
            sc_buf_xml(b, act->fault);
            sc_buf_printf(b,
                          "\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" fill=\"%s\" "
                          "fill-opacity=\"0.15\"><title>",
                          x0, MT, fmax(x1 - x0, 1.0), ph, color_of(act->fault));
            sc_buf_xml(b, act->label);
            sc_buf_printf(b, " (%.2fs to %.2fs)</title></rect>", act->win[w][0] / 1000.0,
                          act->win[w][1] / 1000.0);
        }
    }
    axes(b, xmax, "time since the item started (s)", ymax, "latency (ms)");
    for (size_t i = 0; i < ir->item->nslos; i++) {
        const sc_slo *s = &ir->item->slos[i];
        if (s->is_error)
            continue;
        double y = MT + ph - ph * s->threshold / ymax;
        sc_buf_printf(b,
                      "<line class=\"slo-threshold\" x1=\"%.1f\" y1=\"%.2f\" x2=\"%.1f\" "
                      "y2=\"%.2f\"><title>",
                      ML, y, ML + pw, y);
        sc_buf_xml(b, s->title);
        sc_buf_puts(b, "</title></line>");
    }
    size_t step = ir->ncalls > MAX_POINTS ? (ir->ncalls + MAX_POINTS - 1) / MAX_POINTS : 1;
    sc_buf_puts(b, "<g class=\"calls\">");
    for (size_t i = 0; i < ir->ncalls; i += step) {
        const sc_call *c = &ir->calls[i];
        double x = ML + pw * (c->offset_ms / 1000.0) / xmax;
        double y = MT + ph - ph * fmin(c->response_ms, ymax) / ymax;
        sc_buf_printf(b, "<circle class=\"call %s\" cx=\"%.2f\" cy=\"%.2f\" r=\"3\"><title>%.2f ms",
                      sc_call_is_error(c) || !c->success ? "bad" : "ok", x, y, c->response_ms);
        if (c->status)
            sc_buf_printf(b, ", status %d", c->status);
        if (c->error) {
            sc_buf_puts(b, ", ");
            sc_buf_xml(b, c->error);
        }
        if (c->napplied)
            sc_buf_printf(b, ", %zu fault event%s", c->napplied, c->napplied == 1 ? "" : "s");
        sc_buf_puts(b, "</title></circle>");
    }
    sc_buf_puts(b, "</g></svg>\n");
    if (ir->nact) {
        sc_buf_puts(b, "<ul class=\"legend\">");
        for (size_t a = 0; a < ir->nact; a++) {
            sc_buf_printf(b, "<li><span class=\"swatch\" style=\"background:%s\"></span>",
                          color_of(ir->act[a].fault));
            sc_buf_xml(b, ir->act[a].label);
            sc_buf_puts(b, "</li>");
        }
        sc_buf_puts(b, "</ul>\n");
    }
}

static void histogram(sc_buf *b, const sc_item_result *ir, const sc_stats *st)
{
    enum { BINS = 20 };
    size_t count[BINS] = {0};
    double lo = 0, hi = nice_ceil(st->max > 0 ? st->max : 1);
    for (size_t i = 0; i < ir->ncalls; i++) {
        int k = (int)(ir->calls[i].response_ms / hi * BINS);
        count[k < 0 ? 0 : k >= BINS ? BINS - 1 : k]++;
    }
    size_t cmax = 1;
    for (int k = 0; k < BINS; k++)
        if (count[k] > cmax)
            cmax = count[k];
    double ymax = nice_ceil((double)cmax);
    double pw = W - ML - MR, ph = H - MT - MB;
    sc_buf_printf(b,
                  "<svg class=\"histogram\" xmlns=\"http://www.w3.org/2000/svg\" "
                  "viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"Latency histogram\">",
                  W, H);
    sc_buf_puts(b, "<title>How many calls took how long</title>");
    axes(b, hi, "latency (ms)", ymax, "calls");
    for (int k = 0; k < BINS; k++) {
        double x = ML + pw * k / BINS, bw = pw / BINS - 2;
        double h = ph * (double)count[k] / ymax;
        sc_buf_printf(b,
                      "<rect class=\"bar\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\">"
                      "<title>%.1f-%.1f ms: %zu</title></rect>",
                      x + 1, MT + ph - h, bw, h, lo + (hi - lo) * k / BINS,
                      lo + (hi - lo) * (k + 1) / BINS, count[k]);
    }
    sc_buf_puts(b, "</svg>\n");
}

static void tables(sc_buf *b, const sc_item_result *ir, const sc_stats *st)
{
    char span[96];
    sc_format_span(ir->total_us, span, sizeof span);
    sc_buf_printf(b,
                  "<table class=\"overview\"><tr><th>Requests</th><th>Errors</th><th>Min (ms)</th>"
                  "<th>Max (ms)</th><th>Mean (ms)</th><th>Expectation failures</th><th>Total "
                  "time</th></tr><tr><td>%zu</td><td>%zu (%.1f%%)</td><td>%.2f</td><td>%.2f</td>"
                  "<td>%.2f</td><td>%zu</td><td>%s</td></tr></table>\n",
                  st->n, st->errors, st->n ? 100.0 * (double)st->errors / (double)st->n : 0.0,
                  st->min, st->max, st->mean, ir->failures, span);
    if (st->n) {
        sc_buf_puts(b, "<table class=\"percentiles\"><tr><th>Percentile</th><th>Latency (ms)</th>"
                       "<th>Requests at or under</th></tr>");
        for (int k = 0; k < 5; k++)
            sc_buf_printf(b, "<tr><td>p%g</td><td>%.2f</td><td>%zu (%.1f%%)</td></tr>", sc_pcts[k],
                          st->pct[k], st->pct_count[k],
                          100.0 * (double)st->pct_count[k] / (double)st->n);
        sc_buf_puts(b, "</table>\n");
    }
    if (ir->nslo) {
        sc_buf_puts(b, "<table class=\"slo\"><tr><th>SLO</th><th>Pass?</th><th>Objective</th>"
                       "<th>Value</th><th>Margin</th><th>Requests over threshold</th></tr>");
        for (size_t i = 0; i < ir->nslo; i++) {
            const sc_slo_result *r = &ir->slo[i];
            const char *unit = r->slo->is_error ? "%" : " ms";
            sc_buf_printf(b, "<tr class=\"%s\"><td>", r->pass ? "pass" : "fail");
            sc_buf_xml(b, r->slo->title);
            sc_buf_printf(b,
                          "</td><td>%s</td><td>p%g &lt; %g%s</td><td>%.2f%s</td><td>%s by "
                          "%.2f%s</td><td>%zu (%.1f%%)</td></tr>",
                          r->pass ? "✅" : "❌", r->slo->objective, r->slo->threshold, unit, r->value,
                          unit, r->pass ? "below" : "above", r->margin, unit, r->over,
                          ir->ncalls ? 100.0 * (double)r->over / (double)ir->ncalls : 0.0);
        }
        sc_buf_puts(b, "</table>\n");
    }
}

static const char *css =
    "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;"
    "max-width:980px;color:#1e293b;padding:0 1rem}h1{margin-bottom:.2rem}"
    ".meta{color:#64748b}.item{border:1px solid #e2e8f0;border-radius:8px;padding:1rem;"
    "margin:1rem 0}.item.failed{border-left:6px solid #dc2626}.item.passed{border-left:6px solid "
    "#16a34a}.item.interrupted{border-left:6px solid #f59e0b}.badge{font-size:.8rem;"
    "padding:.1rem .5rem;border-radius:999px;color:#fff}.badge.passed{background:#16a34a}"
    ".badge.failed{background:#dc2626}.badge.interrupted{background:#f59e0b}"
    "table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}th,td{border:1px solid "
    "#e2e8f0;padding:.25rem .6rem;text-align:left}th{background:#f8fafc}tr.fail td{background:"
    "#fef2f2}svg{width:100%;height:auto;display:block;margin:.6rem 0}svg text{font-size:11px;"
    "fill:#475569}svg .label{font-size:12px}svg .axes line{stroke:#94a3b8}svg line.grid{stroke:"
    "#f1f5f9}circle.call.ok{fill:#2563eb;fill-opacity:.75}circle.call.bad{fill:#dc2626}"
    "line.slo-threshold{stroke:#dc2626;stroke-dasharray:6 4}rect.bar{fill:#2563eb;"
    "fill-opacity:.8}.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:1rem;"
    "font-size:.85rem}.swatch{display:inline-block;width:12px;height:12px;margin-right:.3rem;"
    "border-radius:2px;opacity:.6}.error{color:#b91c1c}code{background:#f1f5f9;padding:0 .2rem}";

void sc_report_html(const sc_run_result *r, const sc_suite *suite, sc_buf *b)
{
    size_t passed = 0, failed = 0, ran = 0;
    for (size_t i = 0; i < r->nitems; i++) {
        if (!r->items[i].ran)
            continue;
        ran++;
        if (r->items[i].passed)
            passed++;
        else if (!r->items[i].interrupted)
            failed++;
    }
    char start[64], end[64];
    sc_format_wall(r->start_wall_us, start, sizeof start);
    sc_format_wall(r->end_wall_us, end, sizeof end);
    sc_buf_printf(b,
                  "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                  "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                  "<title>fault scenarios report</title><style>%s</style></head><body>\n",
                  css);
    sc_buf_printf(b,
                  "<h1>Scenarios Report</h1><p class=\"meta\">Start: %s<br>End: %s<br>"
                  "Items run: %zu, passed: %zu, failed: %zu%s</p>\n",
                  start, end, ran, passed, failed, r->interrupted ? " (interrupted)" : "");
    for (size_t s = 0; s < suite->n; s++) {
        const sc_scenario *sc = &suite->scenarios[s];
        size_t first, k;
        if (!sc_scenario_ran(r, suite, s, &first, &k))
            continue;
        sc_buf_puts(b, "<section class=\"scenario\"><h2>");
        sc_buf_xml(b, sc->title);
        sc_buf_puts(b, "</h2>");
        if (sc->description && *sc->description) {
            sc_buf_puts(b, "<p class=\"description\">");
            sc_buf_xml(b, sc->description);
            sc_buf_puts(b, "</p>");
        }
        sc_buf_puts(b, "\n");
        for (size_t i = first; i < k; i++) {
            const sc_item_result *ir = &r->items[i];
            if (!ir->ran)
                continue;
            const sc_item *it = ir->item;
            const char *state = ir->interrupted ? "interrupted" : ir->passed ? "passed" : "failed";
            sc_buf_printf(b, "<article class=\"item %s\" id=\"item-%zu\"><h3><code>%s</code> ",
                          state, ir->index, it->method);
            sc_buf_xml(b, sc_url_shown(it->resolved_url));
            sc_buf_printf(b, " <span class=\"badge %s\">%s</span></h3>\n", state, state);
            if (ir->error) {
                sc_buf_puts(b, "<p class=\"error\">");
                sc_buf_xml(b, ir->error);
                sc_buf_puts(b, "</p>");
            }
            char buf[512];
            sc_strategy_describe(&it->strategy, buf, sizeof buf);
            sc_buf_puts(b, "<p>Strategy: ");
            sc_buf_xml(b, buf);
            sc_expect_describe(it, buf, sizeof buf);
            sc_buf_puts(b, "<br>Expectation: ");
            sc_buf_xml(b, buf);
            sc_buf_puts(b, "</p>");
            if (it->nfaults) {
                sc_buf_puts(b, "<ul class=\"faults\">");
                for (size_t f = 0; f < it->nfaults; f++) {
                    sc_fault_describe(&it->faults[f], buf, sizeof buf);
                    sc_buf_puts(b, "<li>");
                    sc_buf_xml(b, buf);
                    sc_buf_puts(b, "</li>");
                }
                sc_buf_puts(b, "</ul>");
            }
            sc_buf_puts(b, "\n");
            sc_stats st;
            sc_stats_compute(ir, &st);
            latency_chart(b, ir);
            histogram(b, ir, &st);
            tables(b, ir, &st);
            sc_buf_puts(b, "</article>\n");
        }
        sc_buf_puts(b, "</section>\n");
    }
    sc_buf_puts(b, "</body></html>\n");
}
