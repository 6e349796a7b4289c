/*
 * plugins/scenario/stats.c - numbers the reports share: latency
 * percentiles, error counts and SLO verdicts, and the one-line wording of
 * strategies and expectations.
 *
 * Percentiles are nearest-rank (the smallest sample with at least p% of
 * the samples at or below it), so every reported percentile is a latency
 * that was really measured, and the "requests at or under" count beside it
 * is exact. Every request counts, failed ones with the time they took to
 * fail: a timeout is a slow answer as far as a user is concerned.
 *
 * A latency SLO "P95 < 300ms" holds when the 95th percentile is under the
 * threshold. An error SLO holds when the error rate (no answer, or a 5xx)
 * in percent is under its threshold; its objective is only shown.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"

const double sc_pcts[5] = {25, 50, 75, 95, 99};

bool sc_call_is_error(const sc_call *c)
{
    return c->errored || c->status >= 500 || c->status == 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double sc_percentile(const double *sorted, size_t n, double p)
{
    if (n == 0)
        return 0;
    double r = ceil(p / 100.0 * (double)n);
    size_t idx = r < 1 ? 0 : (size_t)r - 1;
    return sorted[idx < n ? idx : n - 1];
}

static double *sorted_latencies(const sc_item_result *ir)
{
    double *v = malloc((ir->ncalls ? ir->ncalls : 1) * sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < ir->ncalls; i++)
        v[i] = ir->calls[i].response_ms;
    qsort(v, ir->ncalls, sizeof *v, cmp_double);
    return v;
}

void sc_stats_compute(const sc_item_result *ir, sc_stats *st)
{
    memset(st, 0, sizeof *st);
    st->n = ir->ncalls;
    for (size_t i = 0; i < ir->ncalls; i++)
        if (sc_call_is_error(&ir->calls[i]))
            st->errors++;
    if (ir->ncalls == 0)
        return;
    double *v = sorted_latencies(ir);
    if (!v)
        return;
    double sum = 0;
    for (size_t i = 0; i < st->n; i++)
        sum += v[i];
    st->min = v[0];
    st->max = v[st->n - 1];
    st->mean = sum / (double)st->n;
    st->median = sc_percentile(v, st->n, 50);
    for (int k = 0; k < 5; k++) {
        st->pct[k] = sc_percentile(v, st->n, sc_pcts[k]);
        size_t c = 0;
        while (c < st->n && v[c] <= st->pct[k])
            c++;
        st->pct_count[k] = c;
    }
    free(v);
}

int sc_slo_evaluate(sc_item_result *ir)
{
    const sc_item *it = ir->item;
    free(ir->slo);
    ir->slo = NULL;
    ir->nslo = 0;
    ir->slo_ok = true;
    if (it->nslos == 0)
        return 0;
    ir->slo = calloc(it->nslos, sizeof *ir->slo);
    if (!ir->slo)
        return -1;
    double *v = sorted_latencies(ir);
    if (!v)
        return -1;
    size_t errors = 0;
    for (size_t i = 0; i < ir->ncalls; i++)
        if (sc_call_is_error(&ir->calls[i]))
            errors++;
    for (size_t k = 0; k < it->nslos; k++) {
        const sc_slo *s = &it->slos[k];
        sc_slo_result *r = &ir->slo[ir->nslo++];
        r->slo = s;
        if (s->is_error) {
            r->value = ir->ncalls ? 100.0 * (double)errors / (double)ir->ncalls : 0;
            r->over = errors;
        } else {
            r->value = sc_percentile(v, ir->ncalls, s->objective);
            for (size_t i = 0; i < ir->ncalls; i++)
                if (v[i] > s->threshold)
                    r->over++;
        }
        /* No request at all proves nothing: that is a failed objective. */
        r->pass = ir->ncalls > 0 && r->value < s->threshold;
        r->margin = fabs(r->value - s->threshold);
        if (!r->pass)
            ir->slo_ok = false;
    }
    free(v);
    return 0;
}

void sc_strategy_describe(const sc_strategy *s, char *buf, size_t len)
{
    switch (s->mode) {
    case SC_REPEAT:
        snprintf(buf, len, "repeat %lld times with a step of %g%s%s", (long long)s->count, s->step,
                 s->add_baseline_call ? ", after a baseline call" : "",
                 s->failfast ? ", stopping at the first failure" : "");
        break;
    case SC_LOAD:
        snprintf(buf, len, "load for %s with %lld client%s @ %lld RPS", s->duration_text,
                 (long long)s->clients, s->clients == 1 ? "" : "s", (long long)s->rps);
        break;
    default:
        snprintf(buf, len, "single shot");
    }
}

void sc_expect_describe(const sc_item *it, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    if (it->has_rtu)
        n +=
            (size_t)snprintf(buf + n, len - n, "Response time Under %gms", it->response_time_under);
    if (it->has_status && n < len)
        n += (size_t)snprintf(buf + n, len - n, "%sStatus Code %d", n ? " | " : "", it->status);
    if (it->has_all_slo && n < len)
        n += (size_t)snprintf(buf + n, len - n, "%sAll SLOs %s", n ? " | " : "",
                              it->all_slo_are_valid ? "hold" : "are informative");
    if (n == 0)
        snprintf(buf, len, "-");
}

void sc_run_result_free(sc_run_result *r)
{
    for (size_t i = 0; i < r->nitems; i++) {
        sc_item_result *ir = &r->items[i];
        for (size_t k = 0; k < ir->ncalls; k++) {
            sc_call *c = &ir->calls[k];
            free(c->dns_host);
            free(c->error);
            free(c->reason);
            for (size_t a = 0; a < c->napplied; a++) {
                free(c->applied[a].url);
                cJSON_Delete(c->applied[a].event);
            }
            free(c->applied);
        }
        free(ir->calls);
        free(ir->slo);
        for (size_t a = 0; a < ir->nact; a++) {
            free(ir->act[a].fault);
            free(ir->act[a].label);
            free(ir->act[a].win);
        }
        free(ir->act);
        free(ir->error);
        free(ir->warning);
    }
    free(r->items);
    memset(r, 0, sizeof *r);
}
