/*
 * plugins/scenario/report_junit.c - `--junit FILE`: the run as JUnit XML,
 * the format CI systems (Jenkins, GitLab, GitHub test reporters) read.
 *
 * One <testsuite> per scenario, one <testcase> per item, named after the
 * call and its strategy so that the same item keeps the same name from
 * run to run (CI tracks tests by name). A failed item carries a <failure>
 * whose message is the first reason, and whose text lists every failed
 * call and broken SLO; an item that could not run is an <error>; an item
 * Ctrl-C cut short, or never reached, is <skipped>. Times are seconds.
 */
#include "config.h"

#include <string.h>

#include "scenario.h"

static void failure_text(sc_buf *b, const sc_item_result *ir, char *first, size_t flen)
{
    first[0] = '\0';
    for (size_t i = 0; i < ir->ncalls; i++) {
        const sc_call *c = &ir->calls[i];
        if (!c->evaluated || c->success)
            continue;
        char line[600];
        if (ir->item->strategy.mode == SC_SINGLE)
            snprintf(line, sizeof line, "call %zu: %s", i + 1, c->reason ? c->reason : "failed");
        else if (c->iteration < 0)
            snprintf(line, sizeof line, "call %zu (baseline): %s", i + 1,
                     c->reason ? c->reason : "failed");
        else
            snprintf(line, sizeof line, "call %zu (iteration %d): %s", i + 1, c->iteration + 1,
                     c->reason ? c->reason : "failed");
        if (!first[0])
            snprintf(first, flen, "%s", line);
        sc_buf_xml(b, line);
        sc_buf_puts(b, "\n");
    }
    bool slo_counts = !(ir->item->has_all_slo && !ir->item->all_slo_are_valid);
    for (size_t i = 0; slo_counts && i < ir->nslo; i++) {
        const sc_slo_result *r = &ir->slo[i];
        if (r->pass)
            continue;
        char line[600];
        snprintf(line, sizeof line, "SLO '%s' broken: %s %.2f%s, threshold %g%s", r->slo->title,
                 r->slo->is_error ? "error rate" : "latency", r->value,
                 r->slo->is_error ? "%" : " ms", r->slo->threshold, r->slo->is_error ? "%" : " ms");
        if (!first[0])
            snprintf(first, flen, "%s", line);
        sc_buf_xml(b, line);
        sc_buf_puts(b, "\n");
    }
    if (!first[0])
        snprintf(first, flen, "no call was made");
}

void sc_report_junit(const sc_run_result *r, const sc_suite *suite, sc_buf *b)
{
    size_t tests = r->nitems, failures = 0, errors = 0, skipped = 0;
    for (size_t i = 0; i < r->nitems; i++) {
        const sc_item_result *ir = &r->items[i];
        if (!ir->ran || ir->interrupted)
            skipped++;
        else if (ir->error)
            errors++;
        else if (!ir->passed)
            failures++;
    }
    sc_buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    sc_buf_printf(b,
                  "<testsuites name=\"fault scenarios\" tests=\"%zu\" failures=\"%zu\" "
                  "errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\">\n",
                  tests, failures, errors, skipped,
                  (double)(r->end_wall_us - r->start_wall_us) / 1e6);
    size_t k = 0;
    for (size_t s = 0; s < suite->n; s++) {
        const sc_scenario *sc = &suite->scenarios[s];
        size_t first = k, f = 0, e = 0, sk = 0;
        double secs = 0;
        k += sc->nitems;
        for (size_t i = first; i < k && i < r->nitems; i++) {
            const sc_item_result *ir = &r->items[i];
            secs += (double)ir->total_us / 1e6;
            if (!ir->ran || ir->interrupted)
                sk++;
            else if (ir->error)
                e++;
            else if (!ir->passed)
                f++;
        }
        char when[64] = "";
        if (first < r->nitems && r->items[first].ran) {
            sc_format_wall(r->items[first].start_wall_us, when, sizeof when);
            /* ISO 8601 as JUnit readers expect: 2025-05-05T11:20:12 */
            when[10] = 'T';
            when[19] = '\0';
        }
        sc_buf_puts(b, "  <testsuite name=\"");
        sc_buf_xml(b, sc->title);
        sc_buf_printf(
            b, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\"",
            sc->nitems, f, e, sk, secs);
        if (when[0])
            sc_buf_printf(b, " timestamp=\"%s\"", when);
        sc_buf_puts(b, " file=\"");
        sc_buf_xml(b, sc->file);
        sc_buf_puts(b, "\">\n");
        for (size_t i = first; i < k && i < r->nitems; i++) {
            const sc_item_result *ir = &r->items[i];
            const sc_item *it = ir->item;
            char strat[256];
            sc_strategy_describe(&it->strategy, strat, sizeof strat);
            char name[1024];
            snprintf(name, sizeof name, "%s %s (%s)", it->method, sc_url_shown(it->resolved_url),
                     strat);
            sc_buf_puts(b, "    <testcase classname=\"");
            sc_buf_xml(b, sc->title);
            sc_buf_puts(b, "\" name=\"");
            sc_buf_xml(b, name);
            sc_buf_printf(b, "\" time=\"%.3f\" file=\"", (double)ir->total_us / 1e6);
            sc_buf_xml(b, sc->file);
            sc_buf_printf(b, "\" line=\"%d\"", it->mark.line);
            if (ir->ran && !ir->interrupted && ir->passed) {
                sc_buf_puts(b, "/>\n");
                continue;
            }
            sc_buf_puts(b, ">\n");
            if (!ir->ran || ir->interrupted) {
                sc_buf_printf(b, "      <skipped message=\"%s\"/>\n",
                              ir->ran ? "interrupted" : "not run (the run was interrupted)");
            } else if (ir->error) {
                sc_buf_puts(b, "      <error message=\"");
                sc_buf_xml(b, ir->error);
                sc_buf_puts(b, "\" type=\"error\"/>\n");
            } else {
                sc_buf tmp = {0};
                char first_reason[600];
                failure_text(&tmp, ir, first_reason, sizeof first_reason);
                sc_buf_puts(b, "      <failure message=\"");
                sc_buf_xml(b, first_reason);
                sc_buf_puts(b, "\" type=\"expectation\">");
                sc_buf_puts(b, tmp.p ? tmp.p : "");
                sc_buf_puts(b, "</failure>\n");
                sc_buf_free(&tmp);
            }
            sc_buf_puts(b, "    </testcase>\n");
        }
        sc_buf_puts(b, "  </testsuite>\n");
    }
    sc_buf_puts(b, "</testsuites>\n");
}
