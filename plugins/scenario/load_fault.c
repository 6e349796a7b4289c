/*
 * plugins/scenario/load_fault.c - one fault of a scenario context
 * (loader.h): its type (names with or without separators, in any case)
 * and the settings of each type (latency, jitter, bandwidth, packet loss,
 * blackhole, HTTP errors, DNS, PostgreSQL, LLM), checked with the core's
 * own parsers where the command line has one, so that a scenario accepts
 * what `fault run` accepts.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <arpa/inet.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"

/* ---- faults ---- */

static int parse_side(loader *L, const yaml_node_t *map, char **out)
{
    yaml_node_t *n;
    if (ld_get(L, map, "side", &n) != 0)
        return -1;
    if (ld_is_null(n))
        return 0;
    const char *v = ld_scalar(n);
    if (!v || (strcasecmp(v, "client") != 0 && strcasecmp(v, "server") != 0))
        return ld_fail(L, n, "'side' must be client or server, not %s", v ? v : ld_kind_name(n));
    *out = strdup(strcasecmp(v, "client") == 0 ? "client" : "server");
    return *out ? 0 : ld_fail(L, n, "out of memory");
}

static int parse_direction(loader *L, const yaml_node_t *map, char **out)
{
    yaml_node_t *n;
    if (ld_get(L, map, "direction", &n) != 0)
        return -1;
    if (ld_is_null(n))
        return 0;
    static const char *const dirs[] = {"ingress", "egress", "both"};
    const char *v = ld_scalar(n);
    for (size_t i = 0; v && i < 3; i++) {
        if (strcasecmp(v, dirs[i]) == 0) {
            *out = strdup(dirs[i]);
            return *out ? 0 : ld_fail(L, n, "out of memory");
        }
    }
    return ld_fail(L, n, "'direction' must be ingress, egress or both, not %s",
                   v ? v : ld_kind_name(n));
}

static int parse_period(loader *L, const yaml_node_t *map, char **out)
{
    yaml_node_t *n;
    /* `period` in files; the published schema also spells it `sched`. */
    for (int k = 0; k < 2; k++) {
        const char *key = k ? "sched" : "period";
        if (ld_get(L, map, key, &n) != 0)
            return -1;
        if (ld_is_null(n))
            continue;
        const char *v = ld_scalar(n);
        if (!v)
            return ld_fail(
                L, n, "'%s' must be a schedule string such as \"start:30%%,duration:40%%\"", key);
        char why[256], what[32];
        if (sc_period_check(v, why, sizeof why) != 0) {
            snprintf(what, sizeof what, "'%s'", key);
            return ld_fail_inside(L, n, what, why);
        }
        free(*out);
        *out = strdup(v);
        return *out ? 0 : ld_fail(L, n, "out of memory");
    }
    return 0;
}

static int type_of(const char *name, sc_fault_type *t)
{
    static const struct {
        const char *name;
        sc_fault_type type;
    } names[] = {
        {"latency", SC_LATENCY},
        {"packetloss", SC_PACKETLOSS},
        {"bandwidth", SC_BANDWIDTH},
        {"jitter", SC_JITTER},
        {"httperror", SC_HTTPERROR},
        {"httpresponse", SC_HTTPERROR},
        {"blackhole", SC_BLACKHOLE},
        {"dns", SC_DNS},
        {"postgres", SC_POSTGRES},
        {"pg", SC_POSTGRES},
        {"llm", SC_LLM},
    };
    char sq[32];
    ld_squash(name, sq, sizeof sq);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(sq, names[i].name) == 0) {
            *t = names[i].type;
            return 0;
        }
    }
    return -1;
}

static int parse_latency(loader *L, const yaml_node_t *n, sc_fault *f)
{
    yaml_node_t *d;
    if (ld_get(L, n, "distribution", &d) != 0)
        return -1;
    if (!ld_is_null(d)) {
        const char *v = ld_scalar(d);
        char sq[32];
        ld_squash(v ? v : "", sq, sizeof sq);
        const char *dist = strcmp(sq, "uniform") == 0        ? "uniform"
                           : strcmp(sq, "normal") == 0       ? "normal"
                           : strcmp(sq, "pareto") == 0       ? "pareto"
                           : strcmp(sq, "paretonormal") == 0 ? "pareto-normal"
                                                             : NULL;
        if (!dist)
            return ld_fail(
                L, d, "'distribution' must be uniform, normal, pareto or pareto-normal, not %s",
                v ? v : ld_kind_name(d));
        f->distribution = strdup(dist);
        if (!f->distribution)
            return ld_fail(L, d, "out of memory");
    }
    if (ld_opt_num(L, n, "mean", 0, MAX_MS, &f->has_mean, &f->mean) ||
        ld_opt_num(L, n, "stddev", 0, MAX_MS, &f->has_stddev, &f->stddev) ||
        ld_opt_num(L, n, "min", 0, MAX_MS, &f->has_min, &f->min) ||
        ld_opt_num(L, n, "max", 0, MAX_MS, &f->has_max, &f->max) ||
        ld_opt_num(L, n, "shape", 0, 1e6, &f->has_shape, &f->shape) ||
        ld_opt_num(L, n, "scale", 0, MAX_MS, &f->has_scale, &f->scale) ||
        ld_opt_bool(L, n, "global", &f->has_global, &f->global))
        return -1;
    if (!f->has_global && ld_opt_bool(L, n, "global_", &f->has_global, &f->global))
        return -1;
    const char *dist = f->distribution ? f->distribution : "normal";
    if (strcmp(dist, "uniform") == 0) {
        if (!f->has_max)
            return ld_fail(L, n, "a uniform latency needs 'max' (and 'min', 0 by default)");
        if (f->has_min && f->min > f->max)
            return ld_fail(L, n, "latency 'min' (%g) is above 'max' (%g)", f->min, f->max);
    } else if (strncmp(dist, "pareto", 6) == 0) {
        if (!f->has_scale || !f->has_shape)
            return ld_fail(L, n, "a %s latency needs 'scale' and 'shape'", dist);
        if (f->shape <= 0)
            return ld_fail(L, n, "latency 'shape' must be above 0");
    }
    return 0;
}

static int parse_bandwidth(loader *L, const yaml_node_t *n, sc_fault *f)
{
    yaml_node_t *r, *u;
    if (ld_get(L, n, "rate", &r) != 0 || ld_get(L, n, "unit", &u) != 0)
        return -1;
    if (!ld_is_null(r)) {
        if (ld_as_int(L, r, "'rate'", 1, INT64_C(1) << 50, &f->rate) != 0)
            return -1;
        f->has_rate = true;
    }
    if (!ld_is_null(u)) {
        static const char *const units[] = {"Bps", "KBps", "MBps", "GBps"};
        const char *v = ld_scalar(u);
        for (size_t i = 0; v && i < 4; i++)
            if (strcasecmp(v, units[i]) == 0)
                f->unit = strdup(units[i]);
        if (!f->unit)
            return ld_fail(L, u, "'unit' must be Bps, KBps, MBps or GBps (any case), not %s",
                           v ? v : ld_kind_name(u));
    }
    return 0;
}

static int parse_httperror(loader *L, const yaml_node_t *n, sc_fault *f)
{
    yaml_node_t *s;
    if (ld_get(L, n, "status_code", &s) != 0)
        return -1;
    if (ld_is_null(s) && ld_get(L, n, "status", &s) != 0)
        return -1;
    if (!ld_is_null(s)) {
        int64_t v;
        if (ld_as_int(L, s, "'status_code'", 100, 599, &v) != 0)
            return -1;
        f->status_code = (int)v;
        f->has_status = true;
    }
    return ld_opt_num(L, n, "probability", 0, 1, &f->has_probability, &f->probability) ||
                   ld_opt_str(L, n, "body", &f->body)
               ? -1
               : 0;
}

/* "IP" or "IP:PORT" ("[v6]:PORT"); the port is required when need_port. */
static bool ip_port_ok(const char *v, bool need_port)
{
    char host[64];
    const char *port = NULL;
    if (!v || !*v || strlen(v) >= sizeof host)
        return false;
    if (v[0] == '[') {
        const char *close = strchr(v, ']');
        if (!close || (close[1] && close[1] != ':'))
            return false;
        memcpy(host, v + 1, (size_t)(close - v - 1));
        host[close - v - 1] = '\0';
        port = close[1] ? close + 2 : NULL;
    } else {
        snprintf(host, sizeof host, "%s", v);
        char *colon = strchr(host, ':');
        if (colon && !strchr(colon + 1, ':')) {
            *colon = '\0';
            port = v + (colon - host) + 1;
        }
    }
    unsigned char buf[16];
    if (inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1)
        return false;
    if (!port)
        return !need_port;
    char *end;
    long p = strtol(port, &end, 10);
    return *port >= '0' && *port <= '9' && !*end && p >= 1 && p <= 65535;
}

/* A list field: a string ("a,b") or a sequence of strings, joined with
 * commas into *out. */
static int opt_list(loader *L, const yaml_node_t *n, const char *key, char **out)
{
    yaml_node_t *v;
    if (ld_get(L, n, key, &v) != 0)
        return -1;
    if (ld_is_null(v))
        return 0;
    sc_buf b = {0};
    if (ld_scalar(v)) {
        sc_buf_printf(&b, "%s", ld_scalar(v));
    } else if (v->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
             it++) {
            yaml_node_t *e = yaml_document_get_node(L->doc, *it);
            if (!ld_scalar(e) || !*ld_scalar(e) || strchr(ld_scalar(e), ',')) {
                free(b.p);
                return ld_fail(L, e, "'%s' must list names as strings, not %s", key,
                               ld_scalar(e) ? "an empty one or one with a comma" : ld_kind_name(e));
            }
            sc_buf_printf(&b, "%s%s", b.len ? "," : "", ld_scalar(e));
        }
    } else {
        return ld_fail(L, v, "'%s' must be a string or a list of strings, not %s", key,
                       ld_kind_name(v));
    }
    if (!b.p || !b.len) {
        free(b.p);
        return ld_fail(L, v, "'%s' is empty", key);
    }
    *out = b.p;
    return 0;
}

/* type: dns - the DNS proxy of `fault run dns` for the item's runs. */
static int parse_dns(loader *L, const yaml_node_t *n, sc_fault *f)
{
    static const char *const cases[] = {"nx-domain",    "serv-fail",          "refused", "timeout",
                                        "truncated",    "truncated-tcp-fail", "delay",   "random-a",
                                        "empty-answer", "alternate",          NULL};
    yaml_node_t *c, *r, *l, *d;
    if (ld_get(L, n, "case", &c) || ld_get(L, n, "resolver", &r) || ld_get(L, n, "listen", &l) ||
        ld_get(L, n, "delay", &d))
        return -1;
    const char *cv = ld_is_null(c) ? NULL : ld_scalar(c);
    const char *canon = !cv                           ? NULL
                        : strcmp(cv, "nxdomain") == 0 ? "nx-domain"
                        : strcmp(cv, "servfail") == 0 ? "serv-fail"
                                                      : cv;
    for (size_t i = 0; canon && cases[i] && !f->dns_case; i++)
        if (strcmp(canon, cases[i]) == 0)
            f->dns_case = strdup(canon);
    if (!f->dns_case)
        return ld_fail(
            L, ld_is_null(c) ? n : c,
            "a dns fault needs a 'case': nx-domain, serv-fail, refused, timeout, "
            "truncated, truncated-tcp-fail, delay, random-a, empty-answer or alternate%s%s",
            cv ? ", not " : "", cv ? cv : "");
    if (!ld_is_null(r)) {
        if (!ip_port_ok(ld_scalar(r), false))
            return ld_fail(L, r, "'resolver' must be IP or IP:PORT (e.g. 127.0.0.1:53), not %s",
                           ld_scalar(r) ? ld_scalar(r) : ld_kind_name(r));
        f->resolver = strdup(ld_scalar(r));
    }
    if (!ld_is_null(l)) {
        if (!ip_port_ok(ld_scalar(l), true))
            return ld_fail(L, l, "'listen' must be IP:PORT (e.g. 127.0.0.1:45553), not %s",
                           ld_scalar(l) ? ld_scalar(l) : ld_kind_name(l));
        f->listen = strdup(ld_scalar(l));
    }
    if (!ld_is_null(d)) {
        /* Milliseconds, as every number of a scenario, or a duration. */
        const char *ds = ld_scalar(d);
        char *end = NULL;
        double v = ds ? strtod(ds, &end) : 0;
        uint64_t us;
        char why[128];
        if (ds && end && end != ds && !*end && v >= 0 && v <= MAX_MS)
            f->delay_ms = v;
        else if (ds && fault_parse_duration(ds, &us, why, sizeof why) == 0 &&
                 us <= (uint64_t)(MAX_MS * 1000))
            f->delay_ms = (double)us / 1000.0;
        else
            return ld_fail(L, d,
                           "'delay' must be milliseconds or a duration such as \"1s\", not %s",
                           ds ? ds : ld_kind_name(d));
        f->has_delay = true;
    }
    double ttl = 0;
    bool has_ttl = false;
    if (ld_opt_num(L, n, "probability", 0, 1, &f->has_probability, &f->probability) ||
        ld_opt_num(L, n, "ttl", 0, 2147483647.0, &has_ttl, &ttl) ||
        opt_list(L, n, "names", &f->names) || opt_list(L, n, "qtype", &f->qtypes))
        return -1;
    f->has_ttl = has_ttl;
    f->ttl = (int64_t)ttl;
    return 0;
}

/* type: postgres - the database cases of the postgres plugin, on the
 * item's psql:// and psqls:// mappings. */
static int parse_pg(loader *L, const yaml_node_t *n, sc_fault *f)
{
    static const char *const cases[] = {"slow-query",  "error-injection", "conn-reset",
                                        "timeout",     "deadlock",        "data-corruption",
                                        "stale-reads", "failover",        NULL};
    yaml_node_t *c;
    if (ld_get(L, n, "case", &c) != 0 || opt_list(L, n, "case", &f->pg_cases) != 0)
        return -1;
    if (!f->pg_cases)
        return ld_fail(L, n,
                       "a postgres fault needs a 'case' (slow-query, error-injection, "
                       "conn-reset, timeout, deadlock, data-corruption, stale-reads or "
                       "failover)");
    char *list = strdup(f->pg_cases);
    for (char *save = NULL, *w = list ? strtok_r(list, ",", &save) : NULL; w;
         w = strtok_r(NULL, ",", &save)) {
        size_t i = 0;
        while (cases[i] && strcmp(cases[i], w) != 0)
            i++;
        if (!cases[i]) {
            int rc = ld_fail(L, c,
                             "unknown postgres case '%s' (slow-query, error-injection, "
                             "conn-reset, timeout, deadlock, data-corruption, stale-reads "
                             "or failover)",
                             w);
            free(list);
            return rc;
        }
    }
    free(list);
    yaml_node_t *e;
    if (ld_opt_str(L, n, "statement", &f->statement) || ld_get(L, n, "error_code", &e))
        return -1;
    if (!ld_is_null(e)) {
        const char *v = ld_scalar(e);
        bool ok = v && strlen(v) == 5;
        for (size_t i = 0; ok && i < 5; i++)
            ok = (v[i] >= '0' && v[i] <= '9') || (v[i] >= 'A' && v[i] <= 'Z');
        if (!ok)
            return ld_fail(L, e,
                           "'error_code' must be a SQLSTATE (five digits or upper-case "
                           "letters, e.g. \"40001\"), not %s",
                           v ? v : ld_kind_name(e));
        f->error_code = strdup(v);
    }
    return ld_opt_num(L, n, "probability", 0, 1, &f->has_probability, &f->probability) ||
                   ld_opt_num(L, n, "deadlock_rate", 0, 1, &f->has_deadlock_rate,
                              &f->deadlock_rate) ||
                   ld_opt_num(L, n, "corruption_rate", 0, 1, &f->has_corruption_rate,
                              &f->corruption_rate) ||
                   ld_opt_num(L, n, "mean", 0, MAX_MS, &f->has_mean, &f->mean) ||
                   ld_opt_num(L, n, "stddev", 0, MAX_MS, &f->has_stddev, &f->stddev)
               ? -1
               : 0;
}

/* "a, b or c" of a NULL-ended list. */
static void list_choices(const char *const *c, char *buf, size_t len)
{
    buf[0] = '\0';
    for (size_t i = 0; c[i]; i++) {
        size_t n = strlen(buf);
        snprintf(buf + n, len - n, "%s%s", i == 0 ? "" : c[i + 1] ? ", " : " or ", c[i]);
    }
}

/* An llm fault: the llm plugin's settings under their sc_llm_keys names. */
static int parse_llm(loader *L, const yaml_node_t *n, sc_fault *f)
{
    char list[256];
    for (size_t k = 0; k < SC_LLM_KEYS; k++) {
        const sc_llm_key *K = &sc_llm_keys[k];
        yaml_node_t *v;
        if (ld_get(L, n, K->key, &v) != 0)
            return -1;
        if (ld_is_null(v))
            continue;
        const char *s = ld_scalar(v);
        char num[64];
        if (K->kind == 's' && !s) {
            return ld_fail(L, v, "'%s' must be a string, not %s", K->key, ld_kind_name(v));
        } else if (K->kind == 'e') {
            size_t i = 0;
            while (s && K->choices[i] && strcmp(s, K->choices[i]) != 0)
                i++;
            if (!s || !K->choices[i]) {
                list_choices(K->choices, list, sizeof list);
                return ld_fail(L, v, "'%s' must be %s, not %s", K->key, list,
                               s ? s : ld_kind_name(v));
            }
        } else if (K->kind == 'n' || K->kind == 'i') {
            double d;
            if (ld_opt_num(L, n, K->key, K->min, K->max, NULL, &d) != 0)
                return -1;
            if (K->kind == 'i' && d != floor(d))
                return ld_fail(L, v, "'%s' must be a whole number, not %s", K->key, s);
            snprintf(num, sizeof num, "%.15g", d);
            s = num;
        }
        if (!(f->llm[k] = strdup(s)))
            return ld_fail(L, v, "out of memory");
    }
    const char *c = f->llm[SC_LLM_CASE];
    if (!c) {
        list_choices(sc_llm_keys[SC_LLM_CASE].choices, list, sizeof list);
        return ld_fail(L, n, "an llm fault needs a 'case' (%s)", list);
    }
    if (strcmp(c, "inject-bias") == 0 &&
        (!f->llm[SC_LLM_BIAS_PATTERN] || !f->llm[SC_LLM_BIAS_REPLACEMENT]))
        return ld_fail(L, n,
                       "an inject-bias llm fault needs 'bias_pattern' and 'bias_replacement'");
    if (f->llm[SC_LLM_SCRAMBLE_PATTERN] && !f->llm[SC_LLM_SCRAMBLE_WITH])
        return ld_fail(L, n, "'scramble_pattern' needs 'scramble_with'");
    if (strcmp(c, "prompt-scramble") == 0 && !f->llm[SC_LLM_SCRAMBLE_PATTERN] &&
        !f->llm[SC_LLM_INSTRUCTION])
        return ld_fail(L, n,
                       "a prompt-scramble llm fault needs 'scramble_pattern' and "
                       "'scramble_with', or 'instruction'");
    return 0;
}

int ld_parse_fault(loader *L, yaml_node_t *n, sc_fault *f)
{
    if (ld_want_mapping(L, n, "a fault") != 0)
        return -1;
    f->mark.line = (int)n->start_mark.line + 1;
    f->mark.col = (int)n->start_mark.column + 1;
    yaml_node_t *t;
    if (ld_get(L, n, "type", &t) != 0)
        return -1;
    yaml_node_t *body = n;
    if (ld_is_null(t)) {
        /* The published schema's externally tagged form: {Latency: {...}}. */
        size_t cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
        if (cnt == 1) {
            yaml_node_t *k = yaml_document_get_node(L->doc, n->data.mapping.pairs.start->key);
            yaml_node_t *v = yaml_document_get_node(L->doc, n->data.mapping.pairs.start->value);
            if (ld_scalar(k) && type_of(ld_scalar(k), &f->type) == 0 &&
                (v->type == YAML_MAPPING_NODE || ld_is_null(v))) {
                if (ld_is_null(v))
                    return 0;
                body = v;
                goto fields;
            }
        }
        return ld_fail(L, n,
                       "a fault needs a 'type' (latency, packetloss, bandwidth, jitter, "
                       "httperror, blackhole, dns, postgres or llm)");
    }
    if (!ld_scalar(t) || type_of(ld_scalar(t), &f->type) != 0)
        return ld_fail(
            L, t,
            "unknown fault type '%s' (latency, packetloss, bandwidth, jitter, httperror, "
            "blackhole, dns, postgres or llm)",
            ld_scalar(t) ? ld_scalar(t) : ld_kind_name(t));
fields:
    if (f->type != SC_HTTPERROR && f->type != SC_DNS && f->type != SC_POSTGRES &&
        f->type != SC_LLM &&
        (parse_side(L, body, &f->side) || parse_direction(L, body, &f->direction)))
        return -1;
    if (parse_period(L, body, &f->period) != 0)
        return -1;
    switch (f->type) {
    case SC_LATENCY:
        return parse_latency(L, body, f);
    case SC_BANDWIDTH:
        return parse_bandwidth(L, body, f);
    case SC_JITTER:
        return ld_opt_num(L, body, "amplitude", 0, MAX_MS, &f->has_amplitude, &f->amplitude) ||
                       ld_opt_num(L, body, "frequency", 0, 1e6, &f->has_frequency, &f->frequency)
                   ? -1
                   : 0;
    case SC_HTTPERROR:
        return parse_httperror(L, body, f);
    case SC_DNS:
        return parse_dns(L, body, f);
    case SC_POSTGRES:
        return parse_pg(L, body, f);
    case SC_LLM:
        return parse_llm(L, body, f);
    default:
        return 0;
    }
}
