/*
 * plugins/scenario/load_item.c - one item of a scenario (loader.h): the
 * call (method, URL with its placeholders resolved, headers, body), the
 * context (faults, strategy, upstreams, SLOs) and the expectations; keys
 * written one level off (an item-level `slo`) are refused by name.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"

/* Unknown keys are let be (files of the original tool load unchanged),
 * but a known key one level off would be silently ignored, and its check
 * with it (an item-level 'slo' let an item with 29% errors pass): each of
 * keys found in map is refused, naming where it belongs. */
static int misplaced(loader *L, const yaml_node_t *map, const char *const *keys,
                     const char *belongs)
{
    for (size_t i = 0; keys[i]; i++) {
        for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
             p++) {
            yaml_node_t *k = yaml_document_get_node(L->doc, p->key);
            const char *ks = ld_scalar(k);
            if (ks && strcmp(ks, keys[i]) == 0)
                return ld_fail(L, k, "'%s' belongs %s: here it would be ignored", ks, belongs);
        }
    }
    return 0;
}

static const char *const context_keys[] = {"slo", "faults", "strategy", "upstreams", NULL};
static const char *const call_keys[] = {"method", "url", "headers", "body", NULL};
static const char *const expect_keys[] = {"status", "response_time_under", "all_slo_are_valid",
                                          NULL};
static const char *const item_keys[] = {"call", "context", "expect", NULL};

/* ---- strategy, slo, expect ---- */

static int parse_strategy(loader *L, yaml_node_t *n, sc_strategy *s)
{
    s->mode = SC_SINGLE;
    if (ld_is_null(n))
        return 0;
    if (ld_want_mapping(L, n, "'strategy'") != 0)
        return -1;
    yaml_node_t *m;
    if (ld_get(L, n, "mode", &m) != 0)
        return -1;
    if (ld_is_null(m) && ld_get(L, n, "type", &m) != 0)
        return -1;
    if (ld_is_null(m))
        return ld_fail(L, n, "'strategy' needs a 'mode' (repeat or load)");
    const char *v = ld_scalar(m);
    char sq[64];
    ld_squash(v ? v : "", sq, sizeof sq);
    if (strcmp(sq, "repeat") == 0 || strcmp(sq, "scenariorepeatitemcallstrategy") == 0)
        s->mode = SC_REPEAT;
    else if (strcmp(sq, "load") == 0 || strcmp(sq, "scenarioloaditemcallstrategy") == 0)
        s->mode = SC_LOAD;
    else if (strcmp(sq, "single") == 0 || strcmp(sq, "singleshot") == 0)
        return 0;
    else
        return ld_fail(L, m, "unknown strategy mode '%s' (repeat or load)",
                       v ? v : ld_kind_name(m));

    if (s->mode == SC_REPEAT) {
        yaml_node_t *c, *w;
        if (ld_opt_num(L, n, "step", 0, MAX_MS, NULL, &s->step) ||
            ld_opt_bool(L, n, "failfast", NULL, &s->failfast) ||
            ld_opt_bool(L, n, "add_baseline_call", NULL, &s->add_baseline_call) ||
            ld_get(L, n, "count", &c) || ld_get(L, n, "wait", &w))
            return -1;
        if (!ld_is_null(c) && ld_as_int(L, c, "'count'", 0, 100000, &s->count) != 0)
            return -1;
        if (!ld_is_null(w)) {
            /* A number is milliseconds, like every other number of a
             * scenario; a string may carry its unit ("1s"). */
            const char *ws = ld_scalar(w);
            char *end = NULL;
            double d = ws ? strtod(ws, &end) : 0;
            uint64_t us;
            char why[128];
            if (ws && end && end != ws && !*end && d >= 0 && d <= 8.64e7) {
                s->wait_ms = d;
            } else if (ws && fault_parse_duration(ws, &us, why, sizeof why) == 0 &&
                       us <= UINT64_C(86400000000)) {
                s->wait_ms = (double)us / 1000.0;
            } else {
                return ld_fail(L, w,
                               "'wait' must be milliseconds or a duration such as \"1s\", not %s",
                               ws ? ws : ld_kind_name(w));
            }
            s->has_wait = true;
        }
        return 0;
    }

    yaml_node_t *d, *c, *r;
    if (ld_get(L, n, "duration", &d) || ld_get(L, n, "clients", &c) || ld_get(L, n, "rps", &r))
        return -1;
    if (ld_is_null(d))
        return ld_fail(L, n, "a load strategy needs a 'duration' (e.g. 10s)");
    if (!ld_scalar(d))
        return ld_fail(L, d, "'duration' must be a duration such as 10s, not %s", ld_kind_name(d));
    char why[256];
    if (fault_parse_duration(ld_scalar(d), &s->duration_us, why, sizeof why) != 0)
        return ld_fail(L, d, "'duration': %s", why);
    if (s->duration_us == 0 || s->duration_us > UINT64_C(86400000000))
        return ld_fail(L, d, "'duration' must be above 0 and at most a day");
    s->duration_text = strdup(ld_scalar(d));
    if (ld_is_null(c))
        return ld_fail(L, n, "a load strategy needs 'clients'");
    if (ld_is_null(r))
        return ld_fail(L, n, "a load strategy needs 'rps' (requests per second per client)");
    if (ld_as_int(L, c, "'clients'", 1, 10000, &s->clients) != 0 ||
        ld_as_int(L, r, "'rps'", 1, 100000, &s->rps) != 0)
        return -1;
    double total = (double)s->clients * (double)s->rps * ((double)s->duration_us / 1e6);
    if (total > 1e6)
        return ld_fail(L, n, "this load makes %.0f requests; at most 1000000 per item", total);
    return 0;
}

static int parse_slo(loader *L, yaml_node_t *n, sc_slo *o)
{
    if (ld_want_mapping(L, n, "an slo") != 0)
        return -1;
    o->mark.line = (int)n->start_mark.line + 1;
    o->mark.col = (int)n->start_mark.column + 1;
    yaml_node_t *t, *obj, *th;
    if (ld_get(L, n, "slo_type", &t) != 0)
        return -1;
    if (ld_is_null(t) && ld_get(L, n, "type", &t) != 0)
        return -1;
    if (ld_is_null(t))
        return ld_fail(L, n, "an slo needs a 'type' (or 'slo_type'): latency or error");
    const char *v = ld_scalar(t);
    if (v && strcasecmp(v, "latency") == 0)
        o->is_error = false;
    else if (v && strcasecmp(v, "error") == 0)
        o->is_error = true;
    else
        return ld_fail(L, t, "unknown slo type '%s' (latency or error)", v ? v : ld_kind_name(t));
    if (ld_get(L, n, "objective", &obj) || ld_get(L, n, "threshold", &th))
        return -1;
    if (ld_is_null(obj))
        return ld_fail(L, n, "an slo needs an 'objective' (a percentile, e.g. 95)");
    if (ld_is_null(th))
        return ld_fail(L, n, "an slo needs a 'threshold' (ms for latency, %% for errors)");
    if (ld_as_num(L, obj, "'objective'", 0, 100, &o->objective) != 0 ||
        ld_as_num(L, th, "'threshold'", 0, o->is_error ? 100 : MAX_MS, &o->threshold) != 0)
        return -1;
    if (ld_opt_str(L, n, "title", &o->title) != 0)
        return -1;
    if (!o->title) {
        char buf[96];
        if (o->is_error)
            snprintf(buf, sizeof buf, "P%g Error Rate < %g%%", o->objective, o->threshold);
        else
            snprintf(buf, sizeof buf, "P%g Latency < %gms", o->objective, o->threshold);
        o->title = strdup(buf);
    }
    return o->title ? 0 : ld_fail(L, n, "out of memory");
}

static int parse_expect(loader *L, yaml_node_t *n, sc_item *it)
{
    if (ld_is_null(n))
        return 0;
    if (ld_want_mapping(L, n, "'expect'") != 0 ||
        misplaced(L, n, context_keys, "under the item's 'context'"))
        return -1;
    it->has_expect = true;
    yaml_node_t *s;
    if (ld_get(L, n, "status", &s) != 0)
        return -1;
    if (!ld_is_null(s)) {
        int64_t v;
        if (ld_as_int(L, s, "'status'", 100, 599, &v) != 0)
            return -1;
        it->status = (int)v;
        it->has_status = true;
    }
    return ld_opt_num(L, n, "response_time_under", 0, 8.64e7, &it->has_rtu,
                      &it->response_time_under) ||
                   ld_opt_bool(L, n, "all_slo_are_valid", &it->has_all_slo, &it->all_slo_are_valid)
               ? -1
               : 0;
}

/* ---- call ---- */

static bool url_ok(const char *u)
{
    size_t skip = strncasecmp(u, "http://", 7) == 0    ? 7
                  : strncasecmp(u, "https://", 8) == 0 ? 8
                                                       : 0;
    if (!skip)
        return false;
    const char *host = u + skip;
    if (!*host || *host == '/' || *host == ':' || *host == '?' || *host == '#')
        return false;
    for (const char *c = u; *c; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f)
            return false;
    return true;
}

/* Replaces {name} with its config.http.paths.segments value. */
static int resolve_url(loader *L, const yaml_node_t *n, sc_item *it)
{
    sc_buf b = {0};
    for (const char *p = it->url; *p;) {
        if (*p == '{') {
            const char *end = strchr(p, '}');
            if (end && end > p + 1) {
                size_t len = (size_t)(end - p - 1);
                const char *val = NULL;
                for (size_t i = 0; i < L->nsegments; i++)
                    if (strlen(L->segments[i].name) == len &&
                        strncmp(L->segments[i].name, p + 1, len) == 0)
                        val = L->segments[i].value;
                if (!val || !*val) {
                    char why[512];
                    snprintf(why, sizeof why,
                             "placeholder {%.*s} without a value (set "
                             "config.http.paths.segments.%.*s) at column %zu",
                             (int)len, p + 1, (int)len, p + 1, (size_t)(p - it->url) + 1);
                    sc_buf_free(&b);
                    return ld_fail_inside(L, n, "'url'", why);
                }
                sc_buf_puts(&b, val);
                p = end + 1;
                continue;
            }
        }
        sc_buf_put(&b, p, 1);
        p++;
    }
    if (b.oom) {
        sc_buf_free(&b);
        return ld_fail(L, n, "out of memory");
    }
    it->resolved_url = b.p ? b.p : strdup("");
    if (!url_ok(it->resolved_url))
        return ld_fail(L, n,
                       "'url' must be an absolute http:// or https:// URL with a host, not '%s'",
                       it->resolved_url);
    return 0;
}

static int parse_call(loader *L, yaml_node_t *n, sc_item *it)
{
    if (ld_want_mapping(L, n, "'call'") != 0)
        return -1;
    yaml_node_t *m, *u, *h, *b, *meta;
    if (ld_get(L, n, "method", &m) || ld_get(L, n, "url", &u) || ld_get(L, n, "headers", &h) ||
        ld_get(L, n, "body", &b) || ld_get(L, n, "meta", &meta))
        return -1;
    if (ld_is_null(m))
        return ld_fail(L, n, "'call' needs a 'method' (GET, POST, ...)");
    if (ld_is_null(u))
        return ld_fail(L, n, "'call' needs a 'url'");
    if (ld_as_str(L, m, "'method'", &it->method) != 0 || ld_as_str(L, u, "'url'", &it->url) != 0)
        return -1;
    if (!*it->method)
        return ld_fail(L, m, "'method' is empty");
    for (char *c = it->method; *c; c++) {
        if (!isalpha((unsigned char)*c) && *c != '-' && *c != '_')
            return ld_fail(L, m, "'%s' is not an HTTP method", it->method);
        *c = (char)toupper((unsigned char)*c);
    }
    if (resolve_url(L, u, it) != 0)
        return -1;
    /* Global headers first, so that a call's own value is sent last and
     * wins (libcurl sends both; servers take the last). The call's own
     * replace a global one of the same name. */
    sc_pair *own = NULL;
    size_t nown = 0;
    if (ld_str_map(L, h, "'headers'", true, &own, &nown) != 0) {
        ld_pairs_free(own, nown);
        return -1;
    }
    it->headers = calloc(L->ncfg_headers + nown + 1, sizeof *it->headers);
    if (!it->headers) {
        ld_pairs_free(own, nown);
        return ld_fail(L, n, "out of memory");
    }
    for (size_t i = 0; i < L->ncfg_headers; i++) {
        bool overridden = false;
        for (size_t j = 0; j < nown; j++)
            if (strcasecmp(own[j].name, L->cfg_headers[i].name) == 0)
                overridden = true;
        if (overridden)
            continue;
        it->headers[it->nheaders].name = strdup(L->cfg_headers[i].name);
        it->headers[it->nheaders].value = strdup(L->cfg_headers[i].value);
        it->nheaders++;
    }
    for (size_t j = 0; j < nown; j++)
        it->headers[it->nheaders++] = own[j];
    free(own);

    if (!ld_is_null(b)) {
        if (b->type == YAML_SCALAR_NODE) {
            if (ld_as_str(L, b, "'body'", &it->body) != 0)
                return -1;
        } else {
            /* A body written as YAML structure is sent as JSON. */
            size_t budget = 100000;
            const char *why = "out of memory";
            cJSON *j = ld_node_json(L->doc, b, 0, &budget, &why);
            if (!j)
                return ld_fail(L, b, "'body': %s", why);
            it->body = cJSON_PrintUnformatted(j);
            cJSON_Delete(j);
            if (!it->body)
                return ld_fail(L, b, "out of memory");
        }
    }
    if (ld_opt_num(L, n, "timeout", 0, 8.64e7, &it->has_timeout, &it->timeout_ms) != 0)
        return -1;
    if (!ld_is_null(meta)) {
        if (ld_want_mapping(L, meta, "'meta'") != 0 ||
            ld_opt_str(L, meta, "operation_id", &it->operation_id) != 0)
            return -1;
    }
    return 0;
}

static int parse_context(loader *L, yaml_node_t *n, sc_item *it)
{
    if (ld_want_mapping(L, n, "'context'") != 0)
        return -1;
    yaml_node_t *ups, *fl, *st, *slo, *px, *ro;
    if (ld_get(L, n, "upstreams", &ups) || ld_get(L, n, "faults", &fl) ||
        ld_get(L, n, "strategy", &st) || ld_get(L, n, "slo", &slo) || ld_get(L, n, "proxy", &px) ||
        ld_get(L, n, "runs_on", &ro) ||
        misplaced(L, n, item_keys, "in the item, beside 'context'") ||
        misplaced(L, n, expect_keys, "under the item's 'expect'"))
        return -1;
    if (!ld_is_null(ro))
        return ld_fail(L, ro,
                       "'runs_on' (running the proxy on a platform) is not supported by this "
                       "build: remove it to run the proxy locally");
    if (ld_str_list(L, ups, "'upstreams'", &it->upstreams, &it->nupstreams) != 0)
        return -1;
    for (size_t i = 0; i < it->nupstreams; i++)
        if (!*it->upstreams[i])
            return ld_fail(L, ups, "'upstreams' has an empty entry");
    if (!ld_is_null(fl)) {
        if (ld_want_seq(L, fl, "'faults'") != 0)
            return -1;
        size_t cnt = (size_t)(fl->data.sequence.items.top - fl->data.sequence.items.start);
        it->faults = calloc(cnt ? cnt : 1, sizeof *it->faults);
        if (!it->faults)
            return ld_fail(L, fl, "out of memory");
        for (yaml_node_item_t *e = fl->data.sequence.items.start; e < fl->data.sequence.items.top;
             e++) {
            sc_fault *f = &it->faults[it->nfaults++];
            yaml_node_t *fn = yaml_document_get_node(L->doc, *e);
            if (ld_parse_fault(L, fn, f) != 0)
                return -1;
            for (size_t k = 0; (f->type == SC_DNS || f->type == SC_POSTGRES) && k + 1 < it->nfaults;
                 k++)
                if (it->faults[k].type == f->type)
                    return ld_fail(L, fn, "one %s fault per item (the item has one at line %d)",
                                   sc_fault_type_name(f->type), it->faults[k].mark.line);
        }
    }
    if (parse_strategy(L, st, &it->strategy) != 0)
        return -1;
    if (!ld_is_null(slo)) {
        if (ld_want_seq(L, slo, "'slo'") != 0)
            return -1;
        size_t cnt = (size_t)(slo->data.sequence.items.top - slo->data.sequence.items.start);
        it->slos = calloc(cnt ? cnt : 1, sizeof *it->slos);
        if (!it->slos)
            return ld_fail(L, slo, "out of memory");
        for (yaml_node_item_t *e = slo->data.sequence.items.start; e < slo->data.sequence.items.top;
             e++) {
            if (parse_slo(L, yaml_document_get_node(L->doc, *e), &it->slos[it->nslos++]) != 0)
                return -1;
        }
    }
    if (!ld_is_null(px)) {
        yaml_node_t *pl;
        if (ld_want_mapping(L, px, "'proxy'") != 0 ||
            ld_opt_bool(L, px, "disable_http_proxies", NULL, &it->disable_http_proxies) != 0 ||
            ld_get(L, px, "proxies", &pl) != 0 ||
            ld_str_list(L, pl, "'proxies'", &it->proxies, &it->nproxies) != 0)
            return -1;
        for (size_t i = 0; i < it->nproxies; i++) {
            /* The proxy's own grammar (the --proxy grammar), so that a mapping
             * is refused here, before anything runs, not by the proxy. */
            char why[256];
            if (fault_check_mapping(it->proxies[i], why, sizeof why) != 0) {
                char what[300];
                snprintf(what, sizeof what, "proxy mapping '%s'", it->proxies[i]);
                return ld_fail_inside(
                    L, yaml_document_get_node(L->doc, pl->data.sequence.items.start[i]), what, why);
            }
        }
    }
    if (it->disable_http_proxies && it->nproxies == 0)
        return ld_fail(L, px,
                       "'disable_http_proxies' leaves no proxy: give 'proxies' mappings too");
    for (size_t k = 0; k < it->nfaults; k++) {
        if (it->faults[k].type != SC_POSTGRES)
            continue;
        bool pg = false;
        for (size_t i = 0; i < it->nproxies; i++)
            pg |= strstr(it->proxies[i], "=psql://") || strstr(it->proxies[i], "=psqls://");
        if (!pg)
            return ld_fail(L, yaml_document_get_node(L->doc, fl->data.sequence.items.start[k]),
                           "a postgres fault acts on psql:// mappings: the item has none in "
                           "'proxy.proxies'");
    }
    return 0;
}

int ld_parse_item(loader *L, yaml_node_t *n, sc_item *it)
{
    if (ld_want_mapping(L, n, "an item") != 0)
        return -1;
    if (misplaced(L, n, context_keys, "under the item's 'context'") ||
        misplaced(L, n, call_keys, "under the item's 'call'") ||
        misplaced(L, n, expect_keys, "under the item's 'expect'"))
        return -1;
    it->mark.line = (int)n->start_mark.line + 1;
    it->mark.col = (int)n->start_mark.column + 1;
    yaml_node_t *call, *ctx, *exp;
    if (ld_get(L, n, "call", &call) || ld_get(L, n, "context", &ctx) ||
        ld_get(L, n, "expect", &exp))
        return -1;
    if (ld_is_null(call))
        return ld_fail(L, n, "an item needs a 'call'");
    if (parse_call(L, call, it) != 0)
        return -1;
    if (!ld_is_null(ctx) && parse_context(L, ctx, it) != 0)
        return -1;
    return parse_expect(L, exp, it);
}
