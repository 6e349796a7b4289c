/*
 * plugins/scenario/faults.c - a scenario's faults as `fault run` flags, as
 * JSON, as report text, and their schedules as windows and timelines.
 *
 * Schedules are parsed by the core's own parser (core/schedule.c, built
 * into this plugin), so a period the loader accepts is exactly one the
 * proxy accepts. The runner never hands the proxy a relative period: it
 * knows how long the run lasts (the load duration) and passes absolute
 * windows instead, so the proxy needs no --duration and is stopped by the
 * runner once the last request has drained.
 *
 * Defaults are those of the original tool's scenario format (its
 * documented defaults): latency mean 100 ms, stddev 20 ms, global true; side
 * server; direction ingress, except blackhole (egress); bandwidth 1000 Bps;
 * jitter 20 ms at 5 Hz; HTTP error 500 with probability 1. An llm fault
 * (this tool's own) has the llm plugin's defaults for what it leaves out.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"

const char *sc_fault_type_name(sc_fault_type t)
{
    static const char *const names[] = {"latency", "packetloss", "bandwidth",
                                        "jitter",  "httperror",  "blackhole",
                                        "dns",     "postgres",   "llm"};
    return t < SC_NFAULT_TYPES ? names[t] : "unknown";
}

const char *sc_fault_plugin_name(sc_fault_type t)
{
    static const char *const names[] = {"latency",   "packet-loss",   "bandwidth",
                                        "jitter",    "http-response", "blackhole",
                                        "dns-proxy", "postgres",      "llm"};
    return t < SC_NFAULT_TYPES ? names[t] : "unknown";
}

static const char *const llm_cases[] = {"slow-stream",  "prompt-scramble",   "token-drop",
                                        "inject-bias",  "truncate-response", "http-error",
                                        "stream-stall", "corrupt-stream",    NULL};
static const char *const llm_providers[] = {"auto",      "openai", "open-router", "openrouter",
                                            "anthropic", "gemini", "ollama",      NULL};
static const char *const llm_dists[] = {"normal", "uniform", "pareto", "fixed", NULL};
static const char *const llm_truncs[] = {"clean", "abrupt", "error", NULL};
static const char *const llm_errors[] = {"rate-limit", "quota", "overloaded", "server-error", NULL};
static const char *const llm_corrupts[] = {"duplicate", "malformed", NULL};

const sc_llm_key sc_llm_keys[SC_LLM_KEYS] = {
    {"case", "llm-case", 'e', llm_cases, 0, 0},
    {"probability", "llm-probability", 'n', NULL, 0, 1},
    {"provider", "llm-provider", 'e', llm_providers, 0, 0},
    {"slow_stream_mean_delay", "slow-stream-mean-delay", 'n', NULL, 0, 3.6e6},
    {"slow_stream_first_token_delay", "slow-stream-first-token-delay", 'n', NULL, 0, 3.6e6},
    {"slow_stream_distribution", "slow-stream-distribution", 'e', llm_dists, 0, 0},
    {"scramble_pattern", "scramble-pattern", 's', NULL, 0, 0},
    {"scramble_with", "scramble-with", 's', NULL, 0, 0},
    {"instruction", "instruction", 's', NULL, 0, 0},
    {"bias_pattern", "bias-pattern", 's', NULL, 0, 0},
    {"bias_replacement", "bias-replacement", 's', NULL, 0, 0},
    {"token_drop_rate", "token-drop-rate", 'n', NULL, 0, 1},
    {"truncate_after", "truncate-after", 'i', NULL, 0, 1e9},
    {"truncate_mode", "truncate-mode", 'e', llm_truncs, 0, 0},
    {"error", "llm-error", 'e', llm_errors, 0, 0},
    {"status_code", "llm-error-status", 'i', NULL, 100, 599},
    {"retry_after", "llm-retry-after", 'n', NULL, 0, 8.64e7},
    {"stall_after", "stall-after", 'i', NULL, 1, 1e9},
    {"stall_duration", "stall-duration", 'n', NULL, 0, 8.64e7},
    {"stall_keepalive_interval", "stall-keepalive-interval", 'n', NULL, 0, 8.64e7},
    {"corrupt_after", "corrupt-after", 'i', NULL, 1, 1e9},
    {"corrupt_mode", "corrupt-mode", 'e', llm_corrupts, 0, 0},
};

const char *sc_fault_type_of_instance(const char *instance)
{
    size_t len = strcspn(instance, "#");
    for (int t = 0; t < SC_NFAULT_TYPES; t++) {
        const char *p = sc_fault_plugin_name((sc_fault_type)t);
        if (strlen(p) == len && strncmp(p, instance, len) == 0)
            return sc_fault_type_name((sc_fault_type)t);
    }
    return instance;
}

void sc_fault_effective(const sc_fault *f, sc_fault *o)
{
    *o = *f;
    o->side = strdup(f->side ? f->side : "server");
    o->direction = strdup(f->direction              ? f->direction
                          : f->type == SC_BLACKHOLE ? "egress"
                                                    : "ingress");
    o->period = sc_strdup(f->period);
    o->distribution = strdup(f->distribution ? f->distribution : "normal");
    o->unit = strdup(f->unit ? f->unit : "Bps");
    o->body = sc_strdup(f->body);
    o->dns_case = sc_strdup(f->dns_case);
    o->resolver = strdup(f->resolver ? f->resolver : "127.0.0.53:53");
    o->listen = strdup(f->listen ? f->listen : "127.0.0.1:45553");
    o->names = sc_strdup(f->names);
    o->qtypes = sc_strdup(f->qtypes);
    o->pg_cases = sc_strdup(f->pg_cases);
    o->statement = sc_strdup(f->statement);
    o->error_code = sc_strdup(f->error_code);
    if (!f->has_delay)
        o->delay_ms = 1000;
    for (size_t k = 0; k < SC_LLM_KEYS; k++)
        o->llm[k] = sc_strdup(f->llm[k]);
    if (!f->has_mean)
        o->mean = 100;
    if (!f->has_stddev)
        o->stddev = 20;
    if (!f->has_min)
        o->min = 0;
    if (!f->has_global)
        o->global = true;
    if (!f->has_rate)
        o->rate = 1000;
    if (!f->has_amplitude)
        o->amplitude = 20;
    if (!f->has_frequency)
        o->frequency = 5;
    if (!f->has_status)
        o->status_code = 500;
    if (!f->has_probability)
        o->probability = 1;
    o->has_mean = o->has_stddev = o->has_min = o->has_global = o->has_rate = true;
    o->has_amplitude = o->has_frequency = o->has_status = o->has_probability = true;
    o->has_delay = true;
}

cJSON *sc_fault_to_json(const sc_fault *f, bool effective)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "type", sc_fault_type_name(f->type));
    if (f->type != SC_HTTPERROR && f->type != SC_DNS && f->type != SC_POSTGRES &&
        f->type != SC_LLM) {
        if (f->side)
            cJSON_AddStringToObject(o, "side", f->side);
        if (f->direction)
            cJSON_AddStringToObject(o, "direction", f->direction);
    }
    switch (f->type) {
    case SC_LATENCY: {
        const char *d = f->distribution ? f->distribution : "normal";
        if (f->distribution)
            cJSON_AddStringToObject(o, "distribution", f->distribution);
        bool normal = strcmp(d, "normal") == 0 || strcmp(d, "pareto-normal") == 0;
        if (f->has_mean && (normal || !effective))
            cJSON_AddNumberToObject(o, "mean", f->mean);
        if (f->has_stddev && (normal || !effective))
            cJSON_AddNumberToObject(o, "stddev", f->stddev);
        if (f->has_min && (strcmp(d, "uniform") == 0 || !effective))
            cJSON_AddNumberToObject(o, "min", f->min);
        if (f->has_max)
            cJSON_AddNumberToObject(o, "max", f->max);
        if (f->has_shape)
            cJSON_AddNumberToObject(o, "shape", f->shape);
        if (f->has_scale)
            cJSON_AddNumberToObject(o, "scale", f->scale);
        if (f->has_global)
            cJSON_AddBoolToObject(o, "global", f->global);
        break;
    }
    case SC_BANDWIDTH:
        if (f->has_rate)
            cJSON_AddNumberToObject(o, "rate", (double)f->rate);
        if (f->unit)
            cJSON_AddStringToObject(o, "unit", f->unit);
        break;
    case SC_JITTER:
        if (f->has_amplitude)
            cJSON_AddNumberToObject(o, "amplitude", f->amplitude);
        if (f->has_frequency)
            cJSON_AddNumberToObject(o, "frequency", f->frequency);
        break;
    case SC_DNS:
        if (f->dns_case)
            cJSON_AddStringToObject(o, "case", f->dns_case);
        if (f->resolver)
            cJSON_AddStringToObject(o, "resolver", f->resolver);
        if (f->listen)
            cJSON_AddStringToObject(o, "listen", f->listen);
        if (f->has_probability)
            cJSON_AddNumberToObject(o, "probability", f->probability);
        if (f->has_delay)
            cJSON_AddNumberToObject(o, "delay", f->delay_ms);
        if (f->names)
            cJSON_AddStringToObject(o, "names", f->names);
        if (f->qtypes)
            cJSON_AddStringToObject(o, "qtype", f->qtypes);
        if (f->has_ttl)
            cJSON_AddNumberToObject(o, "ttl", (double)f->ttl);
        break;
    case SC_POSTGRES:
        if (f->pg_cases)
            cJSON_AddStringToObject(o, "case", f->pg_cases);
        if (f->statement)
            cJSON_AddStringToObject(o, "statement", f->statement);
        if (f->error_code)
            cJSON_AddStringToObject(o, "error_code", f->error_code);
        if (f->has_probability)
            cJSON_AddNumberToObject(o, "probability", f->probability);
        if (f->has_deadlock_rate)
            cJSON_AddNumberToObject(o, "deadlock_rate", f->deadlock_rate);
        if (f->has_corruption_rate)
            cJSON_AddNumberToObject(o, "corruption_rate", f->corruption_rate);
        if (f->has_mean)
            cJSON_AddNumberToObject(o, "mean", f->mean);
        if (f->has_stddev)
            cJSON_AddNumberToObject(o, "stddev", f->stddev);
        break;
    case SC_HTTPERROR:
        if (f->has_status)
            cJSON_AddNumberToObject(o, "status_code", f->status_code);
        if (f->body)
            cJSON_AddStringToObject(o, "body", f->body);
        if (f->has_probability)
            cJSON_AddNumberToObject(o, "probability", f->probability);
        break;
    case SC_LLM:
        for (size_t k = 0; k < SC_LLM_KEYS; k++) {
            const sc_llm_key *K = &sc_llm_keys[k];
            if (!f->llm[k])
                continue;
            if (K->kind == 'n' || K->kind == 'i')
                cJSON_AddNumberToObject(o, K->key, strtod(f->llm[k], NULL));
            else
                cJSON_AddStringToObject(o, K->key, f->llm[k]);
        }
        break;
    default:
        break;
    }
    if (f->period)
        cJSON_AddStringToObject(o, "period", f->period);
    return o;
}

void sc_fault_describe(const sc_fault *raw, char *buf, size_t len)
{
    sc_fault f;
    sc_fault_effective(raw, &f);
    char where[64];
    snprintf(where, sizeof where, "%s %s", f.side, f.direction);
    switch (f.type) {
    case SC_LATENCY:
        if (strcmp(f.distribution, "uniform") == 0)
            snprintf(buf, len, "Latency: %s, Per Read/Write Op.: %s, Uniform: %.2f to %.2f ms",
                     where, f.global ? "false" : "true", f.min, f.max);
        else if (strcmp(f.distribution, "pareto") == 0)
            snprintf(buf, len,
                     "Latency: %s, Per Read/Write Op.: %s, Pareto: scale %.2f ms, shape %.2f",
                     where, f.global ? "false" : "true", f.scale, f.shape);
        else if (strcmp(f.distribution, "pareto-normal") == 0)
            snprintf(buf, len,
                     "Latency: %s, Per Read/Write Op.: %s, Mean: %.2f ms, Stddev: %.2f ms, Pareto: "
                     "scale %.2f ms, shape %.2f",
                     where, f.global ? "false" : "true", f.mean, f.stddev, f.scale, f.shape);
        else
            snprintf(buf, len,
                     "Latency: %s, Per Read/Write Op.: %s, Mean: %.2f ms, Stddev: %.2f ms", where,
                     f.global ? "false" : "true", f.mean, f.stddev);
        break;
    case SC_PACKETLOSS:
        snprintf(buf, len, "Packet Loss: %s", where);
        break;
    case SC_BANDWIDTH:
        snprintf(buf, len, "Bandwidth: %s, Rate: %lld %s", where, (long long)f.rate, f.unit);
        break;
    case SC_JITTER:
        snprintf(buf, len, "Jitter: %s, Amplitude: %.2f ms, Frequency: %.2f Hz", where, f.amplitude,
                 f.frequency);
        break;
    case SC_HTTPERROR:
        snprintf(buf, len, "HTTP Error: Status %d, Probability: %.2f", f.status_code,
                 f.probability);
        break;
    case SC_BLACKHOLE:
        snprintf(buf, len, "Blackhole: %s", where);
        break;
    case SC_POSTGRES:
        snprintf(buf, len, "PostgreSQL: %s, Statements: %s, Probability: %.2f",
                 f.pg_cases ? f.pg_cases : "?", f.statement ? f.statement : "all", f.probability);
        break;
    case SC_DNS:
        snprintf(buf, len, "DNS: %s on %s for %s, Probability: %.2f, Names: %s, Types: %s",
                 f.dns_case ? f.dns_case : "none", f.listen, f.resolver, f.probability,
                 f.names ? f.names : "all", f.qtypes ? f.qtypes : "all");
        break;
    case SC_LLM: {
        snprintf(buf, len, "LLM: %s", f.llm[SC_LLM_CASE] ? f.llm[SC_LLM_CASE] : "?");
        for (size_t k = 1; k < SC_LLM_KEYS; k++) {
            size_t n = strlen(buf);
            if (f.llm[k])
                snprintf(buf + n, len - n, ", %s: %s", sc_llm_keys[k].key, f.llm[k]);
        }
        break;
    }
    default:
        snprintf(buf, len, "?");
        break;
    }
    if (f.period) {
        size_t n = strlen(buf);
        snprintf(buf + n, len - n, ", Period: %s", f.period);
    }
    sc_fault_clear(&f);
}

/* ---- schedules ---- */

int sc_period_check(const char *text, char *err, size_t errlen)
{
    return fault_check_schedule(text, err, errlen);
}

size_t sc_period_windows(const char *text, uint64_t run_us, bool clip, uint64_t (**out)[2])
{
    *out = NULL;
    if (!text) {
        uint64_t(*w)[2] = malloc(sizeof *w);
        if (!w)
            return 0;
        w[0][0] = 0;
        w[0][1] = run_us && clip ? run_us : UINT64_MAX;
        *out = w;
        return 1;
    }
    fault_window *win = NULL;
    size_t nwin = 0;
    char err[256];
    /* Without a known run length, relative periods cannot be placed: the
     * runner then treats them as a 10 s window (see runner.c). */
    if (fault_schedule_windows(text, run_us, &win, &nwin, err, sizeof err) != 0 || nwin == 0) {
        free(win);
        return 0;
    }
    uint64_t(*w)[2] = calloc(nwin, sizeof *w);
    size_t n = 0;
    for (size_t i = 0; w && i < nwin; i++) {
        uint64_t a = win[i].start_us, b = win[i].end_us;
        if (clip && run_us) {
            if (a >= run_us)
                continue;
            if (b > run_us)
                b = run_us;
        }
        if (b <= a)
            continue;
        w[n][0] = a;
        w[n][1] = b;
        n++;
    }
    free(win);
    if (n == 0) {
        free(w);
        return 0;
    }
    *out = w;
    return n;
}

void sc_period_timeline(const char *text, uint64_t run_us, char row[11])
{
    memset(row, '.', 10);
    row[10] = '\0';
    uint64_t(*w)[2] = NULL;
    size_t n = sc_period_windows(text, run_us ? run_us : 10000000, true, &w);
    uint64_t total = run_us ? run_us : 10000000;
    /* A slot is marked when the fault is on during any part of it. */
    for (int slot = 0; slot < 10; slot++) {
        uint64_t a = total * (uint64_t)slot / 10, b = total * (uint64_t)(slot + 1) / 10;
        for (size_t i = 0; i < n; i++)
            if (w[i][0] < b && w[i][1] > a)
                row[slot] = 'x';
    }
    free(w);
}

/* ---- `fault run` flags ---- */

/* The absolute schedule of one fault's period over the run; NULL with
 * *always when it has none (on for the whole run), *never when every
 * window falls outside the run. */
static char *fault_schedule(const sc_fault *f, uint64_t run_us, bool clip, bool *always,
                            bool *never)
{
    sc_buf b = {0};
    *always = !f->period;
    *never = false;
    if (!f->period)
        return NULL;
    uint64_t(*w)[2] = NULL;
    size_t nw = sc_period_windows(f->period, run_us, clip, &w);
    for (size_t k = 0; k < nw; k++) {
        /* Microseconds keep the windows exact; the proxy's duration
         * parser takes "us". */
        if (w[k][1] == UINT64_MAX)
            sc_buf_printf(&b, "%sstart:%lluus", b.len ? ";" : "", (unsigned long long)w[k][0]);
        else
            sc_buf_printf(&b, "%sstart:%lluus,duration:%lluus", b.len ? ";" : "",
                          (unsigned long long)w[k][0], (unsigned long long)(w[k][1] - w[k][0]));
    }
    free(w);
    *never = nw == 0;
    return b.p;
}

/* The plugin flags of one fault (an instance's settings), without
 * --with-NAME. */
static int fault_settings(sc_argv *a, const sc_fault *raw, double mean_add, const char *sched)
{
    sc_fault f;
    sc_fault_effective(raw, &f);
    const char *p = sc_fault_plugin_name(f.type);
    int rc = 0;
    if (f.type != SC_HTTPERROR && f.type != SC_LLM) {
        rc |= sc_argv_addf(a, "--%s-side=%s", p, f.side);
        rc |= sc_argv_addf(a, "--%s-direction=%s", p, f.direction);
    }
    switch (f.type) {
    case SC_LATENCY: {
        rc |= sc_argv_addf(a, "--latency-distribution=%s", f.distribution);
        double mean = f.mean + mean_add;
        if (mean > 3.6e6)
            mean = 3.6e6;
        if (strcmp(f.distribution, "uniform") == 0) {
            rc |= sc_argv_addf(a, "--latency-min=%.6g", f.min + mean_add);
            rc |= sc_argv_addf(a, "--latency-max=%.6g", f.max + mean_add);
        } else {
            rc |= sc_argv_addf(a, "--latency-mean=%.6g", mean);
            rc |= sc_argv_addf(a, "--latency-stddev=%.6g", f.stddev);
        }
        if (f.has_shape)
            rc |= sc_argv_addf(a, "--latency-shape=%.6g", f.shape);
        if (f.has_scale)
            rc |= sc_argv_addf(a, "--latency-scale=%.6g", f.scale);
        if (!f.global)
            rc |= sc_argv_add(a, "--latency-per-read-write");
        break;
    }
    case SC_BANDWIDTH:
        rc |= sc_argv_addf(a, "--bandwidth-rate=%lld", (long long)f.rate);
        rc |= sc_argv_addf(a, "--bandwidth-unit=%s", f.unit);
        break;
    case SC_JITTER:
        rc |= sc_argv_addf(a, "--jitter-amplitude=%.6g", f.amplitude);
        rc |= sc_argv_addf(a, "--jitter-frequency=%.6g", f.frequency);
        break;
    case SC_HTTPERROR:
        rc |= sc_argv_addf(a, "--http-response-status=%d", f.status_code);
        rc |= sc_argv_addf(a, "--http-response-trigger-probability=%.6g", f.probability);
        if (f.body) {
            rc |= sc_argv_add(a, "--http-response-body");
            rc |= sc_argv_add(a, f.body);
        }
        break;
    case SC_LLM:
        /* One argument per setting: patterns and texts may hold anything. */
        for (size_t k = 0; k < SC_LLM_KEYS; k++)
            if (f.llm[k])
                rc |= sc_argv_addf(a, "--%s=%s", sc_llm_keys[k].flag, f.llm[k]);
        break;
    default:
        break;
    }
    if (sched)
        rc |= sc_argv_addf(a, "--%s-sched=%s", p, sched);
    sc_fault_clear(&f);
    return rc ? -1 : 0;
}

/* The postgres plugin's --pg-* flags of a postgres fault. */
static int pg_settings(sc_argv *a, const sc_fault *f, const char *sched)
{
    int rc = 0;
    char *cases = sc_strdup(f->pg_cases);
    for (char *save = NULL, *c = cases ? strtok_r(cases, ",", &save) : NULL; c;
         c = strtok_r(NULL, ",", &save))
        rc |= sc_argv_addf(a, "--pg-case=%s", c);
    free(cases);
    if (f->statement)
        rc |= sc_argv_addf(a, "--pg-statement=%s", f->statement);
    if (f->error_code)
        rc |= sc_argv_addf(a, "--pg-error-code=%s", f->error_code);
    if (f->has_probability)
        rc |= sc_argv_addf(a, "--pg-probability=%.6g", f->probability);
    if (f->has_deadlock_rate)
        rc |= sc_argv_addf(a, "--pg-deadlock-rate=%.6g", f->deadlock_rate);
    if (f->has_corruption_rate)
        rc |= sc_argv_addf(a, "--pg-corruption-rate=%.6g", f->corruption_rate);
    if (f->has_mean)
        rc |= sc_argv_addf(a, "--pg-latency-mean=%.6g", f->mean);
    if (f->has_stddev)
        rc |= sc_argv_addf(a, "--pg-latency-stddev=%.6g", f->stddev);
    if (sched)
        rc |= sc_argv_addf(a, "--pg-sched=%s", sched);
    return rc ? -1 : 0;
}

int sc_fault_flags(const sc_fault *faults, size_t n, double mean_add, uint64_t run_us, bool clip,
                   sc_argv *a, sc_child_faults *cf)
{
    /* Every fault is its own instance in the child, with its own settings
     * and windows: the first of each type is the plugin's first instance
     * (--with-NAME), the others follow as `--instance NAME` groups after
     * every first instance's flags, so that each group's flags reach its
     * own instance. Faults whose periods all fall outside the run never
     * act and get none. */
    char **sched = calloc(n ? n : 1, sizeof *sched);
    int *ord = calloc(n ? n : 1, sizeof *ord);
    int count[SC_NFAULT_TYPES] = {0};
    int rc = sched && ord ? 0 : -1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        bool always, never;
        if (faults[i].type >= SC_NFAULT_TYPES || faults[i].type == SC_DNS)
            continue; /* the DNS proxy is the child's mode: sc_fault_dns_flags() */
        if (faults[i].type == SC_POSTGRES) {
            /* The handler's own options, no --with: one per item. */
            sched[i] = fault_schedule(&faults[i], run_us, clip, &always, &never);
            if (!never && pg_settings(a, &faults[i], sched[i]) != 0)
                rc = -1;
            else if (!never && cf->n < SC_MAX_CHILD_FAULTS) {
                sc_child_fault *c = &cf->inst[cf->n++];
                snprintf(c->name, sizeof c->name, "%s", sc_fault_plugin_name(SC_POSTGRES));
                c->type = SC_POSTGRES;
                c->fault = i;
                c->scheduled = sched[i] != NULL;
            }
            continue;
        }
        sched[i] = fault_schedule(&faults[i], run_us, clip, &always, &never);
        if (never)
            continue;
        ord[i] = ++count[faults[i].type];
        if (ord[i] > SC_MAX_INSTANCES)
            rc = -2;
    }
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (!ord[i] || (pass == 0) != (ord[i] == 1))
                continue;
            const char *p = sc_fault_plugin_name(faults[i].type);
            if (pass == 0)
                rc = sc_argv_addf(a, "--with-%s", p);
            else
                rc = sc_argv_add(a, "--instance") | sc_argv_add(a, p);
            rc |= fault_settings(a, &faults[i], mean_add, sched[i]);
            if (rc)
                rc = -1;
            else if (cf->n < SC_MAX_CHILD_FAULTS) {
                sc_child_fault *c = &cf->inst[cf->n++];
                if (ord[i] == 1)
                    snprintf(c->name, sizeof c->name, "%s", p);
                else
                    snprintf(c->name, sizeof c->name, "%s#%d", p, ord[i]);
                c->type = faults[i].type;
                c->fault = i;
                c->scheduled = sched[i] != NULL;
            }
        }
    }
    for (size_t i = 0; sched && i < n; i++)
        free(sched[i]);
    free(sched);
    free(ord);
    return rc;
}

int sc_fault_dns_flags(const sc_fault *faults, size_t n, bool faulted, uint64_t run_us, bool clip,
                       sc_argv *a, sc_child_faults *cf)
{
    const sc_fault *raw = NULL;
    for (size_t i = 0; i < n && !raw; i++)
        if (faults[i].type == SC_DNS)
            raw = &faults[i];
    if (!raw)
        return 0;
    sc_fault f;
    sc_fault_effective(raw, &f);
    int rc = sc_argv_add(a, "dns");
    rc |= sc_argv_addf(a, "--resolver=%s", f.resolver);
    rc |= sc_argv_addf(a, "--dns-listen=%s", f.listen);
    bool always, never;
    char *sched = faulted ? fault_schedule(raw, run_us, clip, &always, &never) : NULL;
    if (faulted && !never) {
        rc |= sc_argv_addf(a, "--case=%s", f.dns_case ? f.dns_case : "none");
        rc |= sc_argv_addf(a, "--probability=%.6g", f.probability);
        rc |= sc_argv_addf(a, "--delay=%.0fus", f.delay_ms * 1000.0);
        if (f.names)
            rc |= sc_argv_addf(a, "--names=%s", f.names);
        if (f.qtypes)
            rc |= sc_argv_addf(a, "--qtype=%s", f.qtypes);
        if (f.has_ttl)
            rc |= sc_argv_addf(a, "--ttl=%lld", (long long)f.ttl);
        if (sched)
            rc |= sc_argv_addf(a, "--case-sched=%s", sched);
        if (cf->n < SC_MAX_CHILD_FAULTS) {
            sc_child_fault *c = &cf->inst[cf->n++];
            snprintf(c->name, sizeof c->name, "%s", sc_fault_plugin_name(SC_DNS));
            c->type = SC_DNS;
            c->fault = (size_t)(raw - faults);
            c->scheduled = sched != NULL;
        }
    }
    free(sched);
    sc_fault_clear(&f);
    return rc ? -1 : 0;
}
