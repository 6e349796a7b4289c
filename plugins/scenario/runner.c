/*
 * plugins/scenario/runner.c - `fault scenario run`: runs every item of the
 * loaded suite, one after the other, then writes the results and reports.
 *
 * For each item the runner plans its runs (strategies.c), and for each run
 * starts a proxy child configured with the item's upstreams, mappings and
 * faults (proxy.c), sends the run's calls (http.c), stops the child and
 * attributes the fault events it reported to the calls (events.c).
 * Consecutive runs with the same configuration share one child.
 *
 * Calls go through the item's HTTP proxy (CURLOPT_PROXY) unless the item
 * disables it, so faults apply to them when their host is one of the
 * upstreams, and not otherwise; an application under test that sends its
 * own downstream calls through the same proxy address (HTTP_PROXY) has
 * the faults applied to those. Faults scheduled with relative periods are
 * placed over the load duration (or, for a single shot or a repeat, over
 * the call's timeout, or 10 s) and handed to the child as absolute
 * windows.
 *
 * Ctrl-C (or SIGTERM) drops the calls in flight, stops the child and
 * writes what has run so far; a second one kills the child at once.
 */
#include "config.h"

#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runner.h"

typedef enum rstate {
    ST_IDLE = 0,
    ST_STARTING,
    ST_CALLING,
    ST_WAITING,
    ST_STOPPING,
    ST_DONE
} rstate;
typedef enum after_stop { AFTER_START_PROXY, AFTER_FINALIZE } after_stop;

struct sc_runner {
    sc_options *o;
    const sc_suite *suite;
    uv_loop_t *loop;
    sc_http *http;
    char exe[PATH_MAX];
    sc_argv fwd; /* global flags to forward to children (--plugin-dir) */
    sc_run_result res;
    size_t total_items, next_item;
    uint64_t start_hr;
    bool tty;

    /* current item */
    sc_item_result *ir;
    sc_plan_run *plan;
    size_t nplan, run_idx;
    bool item_failed_call;
    rstate state;
    sc_proxy *proxy;
    sc_child_faults cur_faults;
    size_t *served;
    size_t nserved, cserved;
    uint64_t stop_wall;
    after_stop after;
    sc_load *load;
    uv_timer_t wait_timer, tick_timer;
    uv_signal_t sigint, sigterm;
    char proxy_url[300];

    bool interrupted, kill_now, bad_input, write_failed;
    int signum; /* the signal that interrupted the run */
};

/* ---- helpers ---- */

static uint64_t timeout_ms_of(const sc_runner *R, const sc_item *it)
{
    if (it->has_timeout)
        return (uint64_t)(it->timeout_ms + 0.5);
    return R->o->call_timeout_us / 1000u;
}

static void elapsed(const sc_runner *R, char *buf, size_t len)
{
    uint64_t s = (uv_hrtime() - R->start_hr) / 1000000000u;
    snprintf(buf, len, "%02llu:%02llu:%02llu", (unsigned long long)(s / 3600),
             (unsigned long long)(s / 60 % 60), (unsigned long long)(s % 60));
}

/* Whether the item's SLOs decide whether it passed (unless the file says
 * all_slo_are_valid: false), and how many of them it broke. */
static size_t slos_broken(const sc_item_result *ir, bool *counted)
{
    *counted = ir->item->nslos > 0 && !(ir->item->has_all_slo && !ir->item->all_slo_are_valid);
    size_t n = 0;
    for (size_t k = 0; k < ir->nslo; k++)
        if (!ir->slo[k].pass)
            n++;
    return n;
}

static void progress(sc_runner *R, bool final)
{
    if (R->o->no_progress)
        return;
    sc_item_result *ir = R->ir;
    const sc_item *it = ir->item;
    char el[32];
    elapsed(R, el, sizeof el);
    if (!final) {
        /* On a terminal the line is redrawn with the calls made so far;
         * elsewhere (CI logs) it is printed once, when the item starts. */
        if (R->tty)
            printf("\r\033[K[%zu/%zu] %s %s [%s %s] %zu call%s", ir->index, R->total_items, el,
                   ir->scenario->title, it->method, sc_url_shown(it->resolved_url), ir->ncalls,
                   ir->ncalls == 1 ? "" : "s");
        else
            printf("[%zu/%zu] %s %s [%s %s] running\n", ir->index, R->total_items, el,
                   ir->scenario->title, it->method, sc_url_shown(it->resolved_url));
    } else {
        char span[64], slo[64] = "";
        sc_format_span(ir->total_us, span, sizeof span);
        /* Say which SLOs failed an item, so that "FAILED: 160 calls, 0
         * failed" never stands alone. */
        bool counted;
        size_t broken = slos_broken(ir, &counted);
        if (counted && broken > 0)
            snprintf(slo, sizeof slo, "%zu of %zu SLO%s broken, ", broken, ir->nslo,
                     ir->nslo == 1 ? "" : "s");
        printf("%s[%zu/%zu] %s %s [%s %s] %s: %zu call%s, %zu failed, %s%s%s%s\n",
               R->tty ? "\r\033[K" : "", ir->index, R->total_items, el, ir->scenario->title,
               it->method, sc_url_shown(it->resolved_url),
               ir->interrupted ? "interrupted"
               : ir->passed    ? "passed"
                               : "FAILED",
               ir->ncalls, ir->ncalls == 1 ? "" : "s", ir->failures, slo, span,
               ir->error ? ": " : "", ir->error ? ir->error : "");
    }
    fflush(stdout);
}

static void on_tick(uv_timer_t *t)
{
    sc_runner *R = t->data;
    if (R->ir && R->state == ST_CALLING)
        progress(R, false);
}

/* Global flags the children need too: the plugin directories. */
static void forward_globals(sc_runner *R)
{
    size_t len;
    char err[128];
    char *cmd = sc_read_file("/proc/self/cmdline", &len, err, sizeof err);
    if (!cmd)
        return;
    for (size_t i = 0; i < len;) {
        const char *a = cmd + i;
        size_t n = strlen(a);
        i += n + 1;
        if (strcmp(a, "--") == 0)
            break;
        if (strcmp(a, "--plugin-dir") == 0 && i < len) {
            sc_argv_addf(&R->fwd, "--plugin-dir=%s", cmd + i);
            i += strlen(cmd + i) + 1;
        } else if (strncmp(a, "--plugin-dir=", 13) == 0) {
            sc_argv_add(&R->fwd, a);
        }
    }
    free(cmd);
}

/* ---- the child's arguments ---- */

/* Returns 0, -1 (out of memory) or -2 (too many faults of one type). */
static int run_args(sc_runner *R, const sc_plan_run *pr, sc_argv *a, sc_child_faults *cf)
{
    const sc_item *it = R->ir->item;
    memset(cf, 0, sizeof *cf);
    bool load = it->strategy.mode == SC_LOAD;
    uint64_t tmo = timeout_ms_of(R, it);
    uint64_t run_us = load ? it->strategy.duration_us : tmo ? tmo * 1000u : 10000000u;
    /* `fault run dns ...` when the item has a dns fault: the mode's word
     * comes first. */
    int rc = sc_fault_dns_flags(it->faults, it->nfaults, !pr->baseline, run_us, load, a, cf);
    for (size_t i = 0; i < R->fwd.n; i++)
        rc |= sc_argv_add(a, R->fwd.v[i]);
    rc |= sc_argv_add(a, "--no-ui");
    rc |= sc_argv_addf(a, "--proxy-address=%s", R->o->proxy_address);
    if (R->o->has_seed)
        rc |= sc_argv_addf(a, "--seed=%lld", (long long)R->o->seed);
    /* A safety net: if this process dies without stopping the child, the
     * child stops by itself. Schedules are absolute, so this duration
     * does not stretch any of them. */
    uint64_t worst = 60000 + (tmo ? tmo : 600000);
    if (it->strategy.mode == SC_LOAD)
        worst += it->strategy.duration_us / 1000u;
    else if (it->strategy.mode == SC_REPEAT)
        worst += (uint64_t)R->nplan * ((tmo ? tmo : 600000) + (uint64_t)it->strategy.wait_ms);
    rc |= sc_argv_addf(a, "--duration=%llums", (unsigned long long)worst);
    if (it->disable_http_proxies)
        rc |= sc_argv_add(a, "--disable-http-proxy");
    for (size_t i = 0; i < it->nupstreams; i++)
        rc |= sc_argv_addf(a, "--upstream=%s", it->upstreams[i]);
    for (size_t i = 0; i < it->nproxies; i++)
        rc |= sc_argv_addf(a, "--proxy=%s", it->proxies[i]);
    if (!pr->baseline && it->nfaults > 0) {
        int frc = sc_fault_flags(it->faults, it->nfaults, pr->mean_add, run_us, load, a, cf);
        if (frc == -2)
            return -2;
        rc |= frc;
    }
    return rc ? -1 : 0;
}

static bool same_args(const sc_argv *a, const sc_argv *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i]) != 0)
            return false;
    return true;
}

/* ---- sequencing ---- */

static void start_item(sc_runner *R);
static void next_run(sc_runner *R);
static void end_item(sc_runner *R);
static void finish_all(sc_runner *R);

static void item_error(sc_runner *R, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void item_error(sc_runner *R, const char *fmt, ...)
{
    if (R->ir->error)
        return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    R->ir->error = strdup(buf);
}

static void finalize_item(sc_runner *R)
{
    sc_item_result *ir = R->ir;
    const sc_item *it = ir->item;
    ir->end_wall_us = sc_wall_us();
    ir->total_us = ir->end_wall_us > ir->start_wall_us ? ir->end_wall_us - ir->start_wall_us : 0;
    ir->ran = true;
    if (R->interrupted)
        ir->interrupted = true;
    sc_slo_evaluate(ir);
    ir->failures = 0;
    for (size_t i = 0; i < ir->ncalls; i++)
        if (ir->calls[i].evaluated && !ir->calls[i].success)
            ir->failures++;
    /* SLOs are expectations unless the file says all_slo_are_valid: false. */
    bool slo_counts = !(it->has_all_slo && !it->all_slo_are_valid);
    ir->passed = !ir->error && ir->failures == 0 && (!slo_counts || ir->slo_ok) &&
                 (ir->ncalls > 0 || ir->interrupted);
    if (!ir->error && ir->ncalls == 0 && !ir->interrupted)
        item_error(R, "no call was made");
    progress(R, true);
    if (ir->warning && !R->o->no_progress)
        fprintf(stderr, "fault: scenario: %s\n", ir->warning);
    free(R->plan);
    R->plan = NULL;
    R->ir = NULL;
    R->state = ST_IDLE;
    start_item(R);
}

static void on_proxy_exit(sc_proxy *p, void *ud)
{
    sc_runner *R = ud;
    size_t nev;
    const sc_event *ev = sc_proxy_events(p, &nev);
    uint64_t ready = sc_proxy_ready_wall_us(p);
    if (ready)
        sc_correlate(R->ir, R->served, R->nserved, ev, nev, &R->cur_faults, ready, R->stop_wall);
    char why[1024];
    if (sc_proxy_died(p, why, sizeof why) && !R->interrupted)
        item_error(R, "%s", why);
    sc_proxy_free(p);
    R->proxy = NULL;
    R->nserved = 0;
    if (R->after == AFTER_START_PROXY && !R->interrupted && !R->bad_input)
        next_run(R);
    else
        finalize_item(R);
}

static void stop_proxy(sc_runner *R, after_stop after)
{
    R->state = ST_STOPPING;
    R->after = after;
    R->stop_wall = sc_wall_us();
    sc_proxy_stop(R->proxy, R->kill_now, on_proxy_exit, R);
}

static void on_load_done(void *ud)
{
    sc_runner *R = ud;
    sc_load_free(R->load);
    R->load = NULL;
    R->run_idx++;
    next_run(R);
}

static void begin_calls(sc_runner *R)
{
    const sc_plan_run *pr = &R->plan[R->run_idx];
    R->state = ST_CALLING;
    if (pr->load) {
        R->load = sc_load_start(R, R->loop, &R->ir->item->strategy, on_load_done, R);
        if (!R->load) {
            item_error(R, "out of memory");
            end_item(R);
        }
        return;
    }
    if (sc_runner_start_call(R, pr->iteration) != 0) {
        item_error(R, "could not start the call");
        end_item(R);
    }
}

static void on_ready(sc_proxy *p, int status, int exit_status, const char *msg, void *ud)
{
    sc_runner *R = ud;
    (void)p;
    if (R->state != ST_STARTING)
        return;
    if (status == 0) {
        begin_calls(R);
        return;
    }
    const sc_item *it = R->ir->item;
    if (exit_status == 2) {
        /* The proxy refused a setting the loader let through: that is
         * bad input, like any other, and stops the whole run. */
        fprintf(stderr, "fault: scenario: %s:%d:%d: the proxy refused this item's settings: %s\n",
                R->ir->scenario->file, it->mark.line, it->mark.col, msg);
        R->bad_input = true;
    }
    item_error(R, "the proxy did not start: %s", msg);
    end_item(R);
}

static void start_proxy(sc_runner *R, sc_argv *args, int listeners)
{
    char err[512];
    R->state = ST_STARTING;
    R->proxy = sc_proxy_start(R->loop, R->exe, args, listeners, on_ready, R, err, sizeof err);
    if (!R->proxy) {
        item_error(R, "%s", err);
        end_item(R);
    }
}

static void on_wait_done(uv_timer_t *t)
{
    sc_runner *R = t->data;
    next_run(R);
}

static void run_done(sc_runner *R)
{
    R->run_idx++;
    const sc_strategy *s = &R->ir->item->strategy;
    if (s->mode == SC_REPEAT && s->has_wait && s->wait_ms > 0 && R->run_idx < R->nplan &&
        !(s->failfast && R->item_failed_call) && !R->interrupted) {
        R->state = ST_WAITING;
        uv_timer_start(&R->wait_timer, on_wait_done, (uint64_t)(s->wait_ms + 0.5), 0);
        return;
    }
    next_run(R);
}

static void next_run(sc_runner *R)
{
    const sc_item *it = R->ir->item;
    if (R->interrupted || R->bad_input || R->run_idx >= R->nplan ||
        (it->strategy.failfast && R->item_failed_call)) {
        end_item(R);
        return;
    }
    sc_argv args = {0};
    sc_child_faults cf;
    int arc = run_args(R, &R->plan[R->run_idx], &args, &cf);
    if (arc != 0) {
        sc_argv_free(&args);
        if (arc == -2)
            item_error(R,
                       "more than %d faults of one type act in this item: the proxy runs at "
                       "most %d instances of a fault",
                       SC_MAX_INSTANCES, SC_MAX_INSTANCES);
        else
            item_error(R, "out of memory");
        end_item(R);
        return;
    }
    if (R->proxy && same_args(sc_proxy_args(R->proxy), &args)) {
        sc_argv_free(&args);
        begin_calls(R);
        return;
    }
    if (R->proxy) {
        sc_argv_free(&args);
        stop_proxy(R, AFTER_START_PROXY);
        return;
    }
    R->cur_faults = cf;
    int listeners = (it->disable_http_proxies ? 0 : 1) + (int)it->nproxies;
    for (size_t i = 0; i < it->nfaults; i++)
        if (it->faults[i].type == SC_DNS)
            listeners += 2; /* the DNS proxy: UDP and TCP */
    start_proxy(R, &args, listeners);
    sc_argv_free(&args);
}

static void end_item(sc_runner *R)
{
    uv_timer_stop(&R->wait_timer);
    if (R->proxy)
        stop_proxy(R, AFTER_FINALIZE);
    else
        finalize_item(R);
}

static void start_item(sc_runner *R)
{
    if (R->interrupted || R->bad_input || R->next_item >= R->total_items) {
        finish_all(R);
        return;
    }
    sc_item_result *ir = &R->res.items[R->next_item++];
    R->ir = ir;
    R->run_idx = 0;
    R->item_failed_call = false;
    R->nplan = sc_plan(ir->item, &R->plan);
    ir->start_wall_us = sc_wall_us();
    if (ir->item->strategy.mode == SC_LOAD)
        ir->run_us = ir->item->strategy.duration_us;
    progress(R, false);
    if (R->nplan == 0) {
        /* repeat with count 0 and no baseline: nothing to send. */
        end_item(R);
        return;
    }
    next_run(R);
}

/* ---- calls ---- */

static void on_call(sc_call *c, void *ud, uintptr_t tag)
{
    sc_runner *R = ud;
    sc_item_result *ir = R->ir;
    if (ir->ncalls == ir->ccalls) {
        size_t cap = ir->ccalls ? ir->ccalls * 2 : 16;
        sc_call *nc = realloc(ir->calls, cap * sizeof *nc);
        if (!nc) {
            free(c->dns_host);
            free(c->error);
            goto next;
        }
        ir->calls = nc;
        ir->ccalls = cap;
    }
    {
        const sc_plan_run *pr = &R->plan[R->run_idx];
        c->iteration = pr->load ? (int)tag : pr->iteration;
        c->mean_add = pr->mean_add;
        c->with_faults = !pr->baseline;
        c->offset_ms = c->start_wall_us > ir->start_wall_us
                           ? (double)(c->start_wall_us - ir->start_wall_us) / 1000.0
                           : 0;
        if (!pr->load) {
            sc_judge_call(ir->item, c);
            if (!c->success)
                R->item_failed_call = true;
        } else {
            /* Under load, expect does not apply (as in the original tool): a call
             * succeeds when it got an answer; SLOs judge the whole. */
            c->success = !c->errored;
        }
        size_t idx = ir->ncalls;
        ir->calls[ir->ncalls++] = *c;
        if (R->nserved == R->cserved) {
            size_t cap = R->cserved ? R->cserved * 2 : 64;
            size_t *ns = realloc(R->served, cap * sizeof *ns);
            if (ns) {
                R->served = ns;
                R->cserved = cap;
            }
        }
        if (R->nserved < R->cserved)
            R->served[R->nserved++] = idx;
    }
next:
    if (R->load)
        sc_load_call_ended(R->load);
    else
        run_done(R);
}

int sc_runner_start_call(sc_runner *R, int iteration)
{
    const sc_item *it = R->ir->item;
    sc_req_spec s = {
        .method = it->method,
        .url = it->resolved_url,
        .body = it->body,
        .headers = it->headers,
        .nheaders = it->nheaders,
        .timeout_ms = timeout_ms_of(R, it),
        .proxy = it->disable_http_proxies ? NULL : R->proxy_url,
    };
    return sc_http_start(R->http, &s, on_call, R, (uintptr_t)(iteration < 0 ? 0 : iteration));
}

/* ---- the end ---- */

static void write_outputs(sc_runner *R)
{
    char err[1024];
    sc_options *o = R->o;
    struct {
        const char *path;
        int kind;
    } outs[] = {{o->result, 0}, {o->report, 1}, {o->junit, 2}, {o->html, 3}};
    for (size_t i = 0; i < 4; i++) {
        if (!outs[i].path || !*outs[i].path)
            continue;
        int rc = 0;
        if (outs[i].kind == 0) {
            rc = sc_results_write(&R->res, R->suite, outs[i].path, err, sizeof err);
        } else if (outs[i].kind == 1) {
            rc = sc_report_write(&R->res, R->suite, outs[i].path, err, sizeof err);
        } else {
            sc_buf b = {0};
            if (outs[i].kind == 2)
                sc_report_junit(&R->res, R->suite, &b);
            else
                sc_report_html(&R->res, R->suite, &b);
            if (b.oom) {
                snprintf(err, sizeof err, "%s: out of memory", outs[i].path);
                rc = -1;
            } else {
                rc = sc_write_atomic(outs[i].path, b.p ? b.p : "", b.len, err, sizeof err);
            }
            sc_buf_free(&b);
        }
        if (rc != 0) {
            fprintf(stderr, "fault: scenario: %s\n", err);
            R->write_failed = true;
        }
    }
}

/*
 * As in the original, a test is a judged call of a single shot or a
 * repeat, and the whole of a load (one test). An item that failed for
 * another reason (its SLOs, or it could not run) fails one of its tests,
 * so the failed tests never outnumber the tests; the next line says what
 * failed: calls that missed their expectation, SLOs, items that could not
 * run.
 */
static void summary(sc_runner *R)
{
    size_t tests = 0, failed = 0, calls = 0, calls_failed = 0, slos = 0, slos_bad = 0;
    size_t errors = 0, broke = 0; /* items that made no call / some calls, then an error */
    for (size_t i = 0; i < R->res.nitems; i++) {
        const sc_item_result *ir = &R->res.items[i];
        if (!ir->ran)
            continue;
        size_t evaluated = 0;
        for (size_t k = 0; k < ir->ncalls; k++)
            if (ir->calls[k].evaluated)
                evaluated++;
        calls += ir->ncalls;
        calls_failed += ir->failures;
        bool counted;
        size_t broken = slos_broken(ir, &counted);
        if (counted && ir->ncalls > 0) {
            slos += ir->nslo;
            slos_bad += broken;
        }
        if (ir->error && ir->ncalls == 0)
            errors++;
        else if (ir->error)
            broke++;
        size_t t, f;
        if (ir->item->strategy.mode == SC_LOAD) {
            t = 1;
            f = ir->passed || ir->interrupted ? 0 : 1;
        } else {
            t = evaluated ? evaluated : 1;
            f = ir->failures;
            if (f == 0 && !ir->passed && !ir->interrupted)
                f = 1;
            if (f > t)
                f = t;
        }
        tests += t;
        failed += f;
    }
    printf("===================== Summary =====================\n");
    printf("Tests run: %zu, Tests failed: %zu\n", tests, failed);
    if (failed > 0) {
        const char *sep = "Failed: ";
        if (calls > 0) {
            printf("%s%zu of %zu call%s missed their expectation", sep, calls_failed, calls,
                   calls == 1 ? "" : "s");
            sep = ", ";
        }
        if (slos > 0) {
            printf("%s%zu of %zu SLO%s broken", sep, slos_bad, slos, slos == 1 ? "" : "s");
            sep = ", ";
        }
        if (errors > 0) {
            printf("%s%zu item%s could not run", sep, errors, errors == 1 ? "" : "s");
            sep = ", ";
        }
        if (broke > 0)
            printf("%s%zu item%s ended in an error", sep, broke, broke == 1 ? "" : "s");
        printf("\n");
    }
    uint64_t total = R->res.end_wall_us - R->res.start_wall_us;
    printf("Total time: %.1fs%s\n", (double)total / 1e6, R->interrupted ? " (interrupted)" : "");
    if (R->o->report && *R->o->report)
        printf("Report saved as %s\n", R->o->report);
    if (R->o->result && *R->o->result)
        printf("Results saved as %s\n", R->o->result);
    if (R->o->junit && *R->o->junit)
        printf("JUnit report saved as %s\n", R->o->junit);
    if (R->o->html && *R->o->html)
        printf("HTML report saved as %s\n", R->o->html);
    fflush(stdout);
}

static void finish_all(sc_runner *R)
{
    if (R->state == ST_DONE)
        return;
    R->state = ST_DONE;
    R->res.end_wall_us = sc_wall_us();
    R->res.interrupted = R->interrupted;
    sc_http_free(R->http);
    R->http = NULL;
    uv_close((uv_handle_t *)&R->wait_timer, NULL);
    uv_close((uv_handle_t *)&R->tick_timer, NULL);
    uv_close((uv_handle_t *)&R->sigint, NULL);
    uv_close((uv_handle_t *)&R->sigterm, NULL);
    write_outputs(R);
    if (!R->o->no_progress)
        summary(R);
}

static void on_signal(uv_signal_t *s, int signum)
{
    sc_runner *R = s->data;
    if (R->state == ST_DONE)
        return;
    if (R->interrupted) {
        /* Second time: do not wait for the child any longer. */
        R->kill_now = true;
        if (R->proxy)
            sc_proxy_stop(R->proxy, true, on_proxy_exit, R);
        return;
    }
    R->interrupted = true;
    R->signum = signum;
    fprintf(stderr, "\nfault: scenario: %s: stopping and writing what has run so far\n",
            signum == SIGINT ? "interrupted" : "terminated");
    if (!R->ir)
        return;
    R->ir->interrupted = true;
    if (R->load) {
        sc_load_cancel(R->load);
        R->load = NULL;
    }
    sc_http_cancel_all(R->http);
    switch (R->state) {
    case ST_STARTING:
    case ST_CALLING:
    case ST_WAITING:
        end_item(R);
        break;
    default:
        break;
    }
}

int sc_run(sc_options *o, const sc_suite *suite)
{
    sc_runner *R = calloc(1, sizeof *R);
    if (!R) {
        fprintf(stderr, "fault: scenario: out of memory\n");
        return 1;
    }
    R->o = o;
    R->suite = suite;
    R->loop = o->loop;
    R->tty = isatty(STDOUT_FILENO);
    ssize_t n = readlink("/proc/self/exe", R->exe, sizeof R->exe - 1);
    if (n <= 0) {
        fprintf(stderr, "fault: scenario: cannot find this executable (/proc/self/exe)\n");
        free(R);
        return 1;
    }
    R->exe[n] = '\0';
    forward_globals(R);
    snprintf(R->proxy_url, sizeof R->proxy_url, "http://%s", o->proxy_address);

    for (size_t i = 0; i < suite->n; i++)
        R->total_items += suite->scenarios[i].nitems;
    R->res.items = calloc(R->total_items ? R->total_items : 1, sizeof *R->res.items);
    char err[256];
    R->http = sc_http_new(R->loop, err, sizeof err);
    if (!R->res.items || !R->http) {
        fprintf(stderr, "fault: scenario: %s\n", R->http ? "out of memory" : err);
        sc_http_free(R->http);
        free(R->res.items);
        sc_argv_free(&R->fwd);
        free(R);
        uv_run(o->loop, UV_RUN_DEFAULT);
        return 1;
    }
    size_t k = 0;
    for (size_t i = 0; i < suite->n; i++) {
        for (size_t j = 0; j < suite->scenarios[i].nitems; j++, k++) {
            R->res.items[k].scenario = &suite->scenarios[i];
            R->res.items[k].item = &suite->scenarios[i].items[j];
            R->res.items[k].index = k + 1;
        }
    }
    R->res.nitems = R->total_items;

    uv_timer_init(R->loop, &R->wait_timer);
    uv_timer_init(R->loop, &R->tick_timer);
    R->wait_timer.data = R->tick_timer.data = R;
    uv_signal_init(R->loop, &R->sigint);
    uv_signal_init(R->loop, &R->sigterm);
    R->sigint.data = R->sigterm.data = R;
    uv_signal_start(&R->sigint, on_signal, SIGINT);
    uv_signal_start(&R->sigterm, on_signal, SIGTERM);
    if (R->tty)
        uv_timer_start(&R->tick_timer, on_tick, 250, 250);

    if (!o->no_progress) {
        printf("================ Running Scenarios ================\n");
        fflush(stdout);
    }
    R->start_hr = uv_hrtime();
    R->res.start_wall_us = sc_wall_us();
    start_item(R);
    uv_run(R->loop, UV_RUN_DEFAULT);

    int rc = 0;
    bool any_failed = false;
    for (size_t i = 0; i < R->res.nitems; i++)
        if (R->res.items[i].ran && !R->res.items[i].passed)
            any_failed = true;
    if (R->bad_input)
        rc = 2;
    else if (R->interrupted)
        rc = 128 + R->signum; /* 130 for Ctrl-C, 143 for SIGTERM */
    else if (any_failed || R->write_failed)
        rc = 1;
    sc_run_result_free(&R->res);
    free(R->served);
    free(R->plan);
    sc_argv_free(&R->fwd);
    free(R);
    return rc;
}
