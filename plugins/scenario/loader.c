/*
 * plugins/scenario/loader.c - reads scenario files (the original tool's format)
 * with libyaml's document API into the model of scenario.h.
 *
 * Files written for the original tool must load unchanged, so the loader
 * is lenient where the original was (unknown keys are ignored, `items` or
 * `scenarios`, `slo_type` or `type`, `mode` in any case, fault type names
 * with or without separators) and strict where a mistake would make a run
 * meaningless: wrong types, values out of range, unknown fault types or
 * strategies, URL placeholders without a value. Every error is one message
 * "FILE:LINE:COLUMN: what", pointing at the node at fault (libyaml's marks
 * are 0-based; messages are 1-based), and nothing runs.
 *
 * The schema walk only ever descends into known keys, so a document with
 * aliases cannot make it loop; the one generic conversion (a body written
 * as a mapping, and OpenAPI documents) has a depth and a node budget,
 * since aliases can make a small file expand exponentially.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <yaml.h>

#include "scenario.h"

typedef struct loader {
    const char *file;
    yaml_document_t *doc;
    char *err;
    size_t errlen;
    /* config.http of the current document */
    sc_pair *cfg_headers;
    size_t ncfg_headers;
    sc_pair *segments;
    size_t nsegments;
} loader;

__attribute__((format(printf, 3, 4))) static int fail(loader *L, const yaml_node_t *n,
                                                      const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(L->err, L->errlen, "%s:%zu:%zu: %s", L->file, n ? n->start_mark.line + 1 : 1,
             n ? n->start_mark.column + 1 : 1, msg);
    return -1;
}

/*
 * The core's parsers end their messages with "at column N" of the text
 * they were given. When that text is a scalar on one line, the message
 * can point at the very character instead: the node's column, plus one
 * for an opening quote, plus N - 1.
 */
static int fail_inside(loader *L, const yaml_node_t *n, const char *what, const char *why)
{
    const char *at = strstr(why, " at column ");
    long col = at ? strtol(at + 11, NULL, 10) : 0;
    bool simple = n->type == YAML_SCALAR_NODE && n->start_mark.line == n->end_mark.line &&
                  (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ||
                   ((n->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                     n->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE) &&
                    !strpbrk((const char *)n->data.scalar.value, "\\'\"")));
    if (!at || col < 1 || !simple)
        return fail(L, n, "%s: %s", what, why);
    size_t quote = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? 0 : 1;
    snprintf(L->err, L->errlen, "%s:%zu:%zu: %s: %.*s", L->file, n->start_mark.line + 1,
             n->start_mark.column + 1 + quote + (size_t)(col - 1), what, (int)(at - why), why);
    return -1;
}

/* ---- node access ---- */

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static bool is_null(const yaml_node_t *n)
{
    if (!n)
        return true;
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = scalar(n);
    return !*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
           strcmp(v, "NULL") == 0;
}

static const char *kind_name(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return "a scalar";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "nothing";
    }
}

/* The value of key in a mapping, or NULL. A key given twice is an error:
 * which one counted would otherwise be a guess. */
static int get(loader *L, const yaml_node_t *map, const char *key, yaml_node_t **out)
{
    *out = NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(L->doc, p->key);
        const char *ks = scalar(k);
        if (!ks || strcmp(ks, key) != 0)
            continue;
        if (*out)
            return fail(L, k, "'%s' is given twice", key);
        *out = yaml_document_get_node(L->doc, p->value);
    }
    return 0;
}

static int want_mapping(loader *L, const yaml_node_t *n, const char *what)
{
    if (n->type != YAML_MAPPING_NODE)
        return fail(L, n, "%s must be a mapping, not %s", what, kind_name(n));
    return 0;
}

static int want_seq(loader *L, const yaml_node_t *n, const char *what)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(L, n, "%s must be a list, not %s", what, kind_name(n));
    return 0;
}

/* Strings: any scalar (a title may well be a number). */
static int as_str(loader *L, const yaml_node_t *n, const char *what, char **out)
{
    if (n->type != YAML_SCALAR_NODE)
        return fail(L, n, "%s must be a string, not %s", what, kind_name(n));
    free(*out);
    *out = strdup(scalar(n));
    return *out ? 0 : fail(L, n, "out of memory");
}

static int as_num(loader *L, const yaml_node_t *n, const char *what, double lo, double hi,
                  double *out)
{
    const char *v = scalar(n);
    if (!v)
        return fail(L, n, "%s must be a number, not %s", what, kind_name(n));
    char *end = NULL;
    errno = 0;
    double d = strtod(v, &end);
    while (end && isspace((unsigned char)*end))
        end++;
    if (!*v || !end || *end || errno == ERANGE || !isfinite(d))
        return fail(L, n, "%s must be a number, not '%s'", what, v);
    if (d < lo || d > hi)
        return fail(L, n, "%s must be between %g and %g, not %s", what, lo, hi, v);
    *out = d;
    return 0;
}

static int as_int(loader *L, const yaml_node_t *n, const char *what, int64_t lo, int64_t hi,
                  int64_t *out)
{
    double d;
    if (as_num(L, n, what, (double)lo, (double)hi, &d) != 0)
        return -1;
    if (d != floor(d))
        return fail(L, n, "%s must be a whole number, not %s", what, scalar(n));
    *out = (int64_t)d;
    return 0;
}

static int as_bool(loader *L, const yaml_node_t *n, const char *what, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "y"};
    static const char *const no[] = {"false", "no", "off", "n"};
    const char *v = scalar(n);
    if (v) {
        for (size_t i = 0; i < 4; i++) {
            if (strcasecmp(v, yes[i]) == 0)
                return *out = true, 0;
            if (strcasecmp(v, no[i]) == 0)
                return *out = false, 0;
        }
    }
    return fail(L, n, "%s must be true or false, not %s", what, v ? v : kind_name(n));
}

/* Lower case without '-', '_' and spaces: "Packet_Loss" -> "packetloss". */
static void squash(const char *in, char *out, size_t len)
{
    size_t j = 0;
    for (; *in && j + 1 < len; in++)
        if (*in != '-' && *in != '_' && *in != ' ')
            out[j++] = (char)tolower((unsigned char)*in);
    out[j] = '\0';
}

/* Optional string key: NULL node or null keeps *out. */
static int opt_str(loader *L, const yaml_node_t *map, const char *key, char **out)
{
    yaml_node_t *n;
    if (get(L, map, key, &n) != 0)
        return -1;
    if (is_null(n))
        return 0;
    char what[64];
    snprintf(what, sizeof what, "'%s'", key);
    return as_str(L, n, what, out);
}

static int opt_num(loader *L, const yaml_node_t *map, const char *key, double lo, double hi,
                   bool *has, double *out)
{
    yaml_node_t *n;
    if (get(L, map, key, &n) != 0)
        return -1;
    if (is_null(n))
        return 0;
    char what[64];
    snprintf(what, sizeof what, "'%s'", key);
    if (as_num(L, n, what, lo, hi, out) != 0)
        return -1;
    if (has)
        *has = true;
    return 0;
}

static int opt_bool(loader *L, const yaml_node_t *map, const char *key, bool *has, bool *out)
{
    yaml_node_t *n;
    if (get(L, map, key, &n) != 0)
        return -1;
    if (is_null(n))
        return 0;
    char what[64];
    snprintf(what, sizeof what, "'%s'", key);
    if (as_bool(L, n, what, out) != 0)
        return -1;
    if (has)
        *has = true;
    return 0;
}

/* A list of strings (or null). */
static int str_list(loader *L, const yaml_node_t *n, const char *what, char ***out, size_t *nout)
{
    if (is_null(n))
        return 0;
    if (want_seq(L, n, what) != 0)
        return -1;
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    char **v = calloc(cnt ? cnt : 1, sizeof *v);
    if (!v)
        return fail(L, n, "out of memory");
    *out = v;
    *nout = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        yaml_node_t *e = yaml_document_get_node(L->doc, *it);
        char *s = NULL;
        if (as_str(L, e, what, &s) != 0)
            return -1;
        v[(*nout)++] = s;
    }
    return 0;
}

/* A mapping of strings to strings (or null), appended to *out. */
static int str_map(loader *L, const yaml_node_t *n, const char *what, bool header, sc_pair **out,
                   size_t *nout)
{
    if (is_null(n))
        return 0;
    if (want_mapping(L, n, what) != 0)
        return -1;
    size_t cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    sc_pair *v = realloc(*out, (*nout + cnt + 1) * sizeof *v);
    if (!v)
        return fail(L, n, "out of memory");
    *out = v;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(L->doc, p->key);
        yaml_node_t *val = yaml_document_get_node(L->doc, p->value);
        const char *ks = scalar(k);
        if (!ks || !*ks)
            return fail(L, k, "%s: keys must be non-empty strings", what);
        const char *vs = is_null(val) ? "" : scalar(val);
        if (!vs)
            return fail(L, val, "%s: the value of '%s' must be a string, not %s", what, ks,
                        kind_name(val));
        if (header) {
            for (const char *c = ks; *c; c++)
                if (!isgraph((unsigned char)*c) || *c == ':')
                    return fail(L, k, "header name '%s' is not a valid HTTP header name", ks);
            if (strpbrk(vs, "\r\n"))
                return fail(L, val, "the value of header '%s' contains a line break", ks);
        }
        v[*nout].name = strdup(ks);
        v[*nout].value = strdup(vs);
        if (!v[*nout].name || !v[*nout].value) {
            free(v[*nout].name);
            free(v[*nout].value);
            return fail(L, n, "out of memory");
        }
        (*nout)++;
    }
    return 0;
}

static void pairs_free(sc_pair *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(p[i].name);
        free(p[i].value);
    }
    free(p);
}

/* ---- YAML to cJSON (bodies written as mappings, OpenAPI documents) ---- */

#define SC_JSON_MAX_DEPTH 64
#define SC_JSON_MAX_NODES 2000000

/* Deeper than anything the loader or the conversion below accepts: a
 * document nested deeper is refused before libyaml builds it (its
 * scanner's work grows with the square of the nesting: 100,000 levels
 * took a minute). Events are read only until that depth is passed.
 * Returns true with the mark of the collection too deep; false when the
 * document is shallow enough, or malformed (the loader reports that). */
#define SC_YAML_MAX_DEPTH (SC_JSON_MAX_DEPTH + 1)

static bool yaml_too_deep(const char *data, size_t len, size_t *line, size_t *col)
{
    /* Every collection opens at an indicator of its own: '[' or '{', '-'
     * (a sequence entry), '?' or ':' (a mapping key or value). A document
     * with no more of these bytes than the limit cannot nest past it, and
     * is then read by libyaml once instead of twice. */
    size_t marks = 0;
    for (size_t i = 0; i < len && marks <= SC_YAML_MAX_DEPTH; i++) {
        switch (data[i]) {
        case '[':
        case '{':
        case '-':
        case '?':
        case ':':
            marks++;
            break;
        default:
            break;
        }
    }
    if (marks <= SC_YAML_MAX_DEPTH)
        return false;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return false;
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    int depth = 0;
    bool deep = false;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev))
            break;
        yaml_event_type_t t = ev.type;
        if (t == YAML_MAPPING_START_EVENT || t == YAML_SEQUENCE_START_EVENT) {
            if (++depth > SC_YAML_MAX_DEPTH) {
                deep = true;
                *line = ev.start_mark.line + 1;
                *col = ev.start_mark.column + 1;
            }
        } else if (t == YAML_MAPPING_END_EVENT || t == YAML_SEQUENCE_END_EVENT) {
            depth--;
        }
        yaml_event_delete(&ev);
        if (deep || t == YAML_STREAM_END_EVENT)
            break;
    }
    yaml_parser_delete(&parser);
    return deep;
}

static cJSON *scalar_json(const yaml_node_t *n)
{
    const char *v = scalar(n);
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return cJSON_CreateString(v);
    if (is_null(n))
        return cJSON_CreateNull();
    if (strcmp(v, "true") == 0 || strcmp(v, "True") == 0 || strcmp(v, "TRUE") == 0)
        return cJSON_CreateTrue();
    if (strcmp(v, "false") == 0 || strcmp(v, "False") == 0 || strcmp(v, "FALSE") == 0)
        return cJSON_CreateFalse();
    /* YAML 1.2 core schema numbers; anything else stays a string. */
    const char *p = v;
    if (*p == '-' || *p == '+')
        p++;
    if (isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1]))) {
        char *end = NULL;
        double d = strtod(v, &end);
        if (end && !*end && isfinite(d) && strpbrk(v, "xXpP") == NULL)
            return cJSON_CreateNumber(d);
    }
    return cJSON_CreateString(v);
}

static cJSON *node_json(yaml_document_t *doc, yaml_node_t *n, int depth, size_t *budget,
                        const char **why)
{
    if (!n)
        return cJSON_CreateNull();
    if (depth > SC_JSON_MAX_DEPTH) {
        *why = "nested too deeply (more than 64 levels, or an alias refers to its own parent)";
        return NULL;
    }
    if (*budget == 0) {
        *why = "too large once aliases are expanded (more than 2000000 nodes)";
        return NULL;
    }
    (*budget)--;
    if (n->type == YAML_SCALAR_NODE)
        return scalar_json(n);
    if (n->type == YAML_SEQUENCE_NODE) {
        cJSON *a = cJSON_CreateArray();
        for (yaml_node_item_t *it = n->data.sequence.items.start;
             a && it < n->data.sequence.items.top; it++) {
            cJSON *e = node_json(doc, yaml_document_get_node(doc, *it), depth + 1, budget, why);
            if (!e) {
                cJSON_Delete(a);
                return NULL;
            }
            cJSON_AddItemToArray(a, e);
        }
        return a;
    }
    if (n->type == YAML_MAPPING_NODE) {
        cJSON *o = cJSON_CreateObject();
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; o && p < n->data.mapping.pairs.top;
             p++) {
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            const char *ks = scalar(k);
            if (!ks) {
                *why = "a mapping key is not a string";
                cJSON_Delete(o);
                return NULL;
            }
            cJSON *e =
                node_json(doc, yaml_document_get_node(doc, p->value), depth + 1, budget, why);
            if (!e) {
                cJSON_Delete(o);
                return NULL;
            }
            /* A repeated key: the last one wins, as in JSON parsers. */
            if (cJSON_GetObjectItemCaseSensitive(o, ks))
                cJSON_ReplaceItemInObjectCaseSensitive(o, ks, e);
            else
                cJSON_AddItemToObject(o, ks, e);
        }
        return o;
    }
    return cJSON_CreateNull();
}

cJSON *sc_yaml_to_json(const char *data, size_t len, char *err, size_t errlen)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    size_t dl, dc;
    if (yaml_too_deep(data, len, &dl, &dc)) {
        snprintf(err, errlen, "%zu:%zu: nested more than %d levels deep", dl, dc,
                 SC_YAML_MAX_DEPTH);
        return NULL;
    }
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "%zu:%zu: %s", parser.problem_mark.line + 1,
                 parser.problem_mark.column + 1, parser.problem ? parser.problem : "invalid YAML");
        yaml_parser_delete(&parser);
        return NULL;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    cJSON *out = NULL;
    if (!root) {
        snprintf(err, errlen, "1:1: the document is empty");
    } else {
        size_t budget = SC_JSON_MAX_NODES;
        const char *why = "out of memory";
        out = node_json(&doc, root, 0, &budget, &why);
        if (!out)
            snprintf(err, errlen, "%zu:%zu: %s", root->start_mark.line + 1,
                     root->start_mark.column + 1, why);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return out;
}

/* ---- faults ---- */

static int parse_side(loader *L, const yaml_node_t *map, char **out)
{
    yaml_node_t *n;
    if (get(L, map, "side", &n) != 0)
        return -1;
    if (is_null(n))
        return 0;
    const char *v = scalar(n);
    if (!v || (strcasecmp(v, "client") != 0 && strcasecmp(v, "server") != 0))
        return fail(L, n, "'side' must be client or server, not %s", v ? v : kind_name(n));
    *out = strdup(strcasecmp(v, "client") == 0 ? "client" : "server");
    return *out ? 0 : fail(L, n, "out of memory");
}

static int parse_direction(loader *L, const yaml_node_t *map, char **out)
{
    yaml_node_t *n;
    if (get(L, map, "direction", &n) != 0)
        return -1;
    if (is_null(n))
        return 0;
    static const char *const dirs[] = {"ingress", "egress", "both"};
    const char *v = scalar(n);
    for (size_t i = 0; v && i < 3; i++) {
        if (strcasecmp(v, dirs[i]) == 0) {
            *out = strdup(dirs[i]);
            return *out ? 0 : fail(L, n, "out of memory");
        }
    }
    return fail(L, n, "'direction' must be ingress, egress or both, not %s", v ? v : kind_name(n));
}

static int parse_period(loader *L, const yaml_node_t *map, char **out)
{
    yaml_node_t *n;
    /* `period` in files; the published schema also spells it `sched`. */
    for (int k = 0; k < 2; k++) {
        const char *key = k ? "sched" : "period";
        if (get(L, map, key, &n) != 0)
            return -1;
        if (is_null(n))
            continue;
        const char *v = scalar(n);
        if (!v)
            return fail(L, n, "'%s' must be a schedule string such as \"start:30%%,duration:40%%\"",
                        key);
        char why[256], what[32];
        if (sc_period_check(v, why, sizeof why) != 0) {
            snprintf(what, sizeof what, "'%s'", key);
            return fail_inside(L, n, what, why);
        }
        free(*out);
        *out = strdup(v);
        return *out ? 0 : fail(L, n, "out of memory");
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
    squash(name, sq, sizeof sq);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(sq, names[i].name) == 0) {
            *t = names[i].type;
            return 0;
        }
    }
    return -1;
}

#define MAX_MS 3.6e6

static int parse_latency(loader *L, const yaml_node_t *n, sc_fault *f)
{
    yaml_node_t *d;
    if (get(L, n, "distribution", &d) != 0)
        return -1;
    if (!is_null(d)) {
        const char *v = scalar(d);
        char sq[32];
        squash(v ? v : "", sq, sizeof sq);
        const char *dist = strcmp(sq, "uniform") == 0        ? "uniform"
                           : strcmp(sq, "normal") == 0       ? "normal"
                           : strcmp(sq, "pareto") == 0       ? "pareto"
                           : strcmp(sq, "paretonormal") == 0 ? "pareto-normal"
                                                             : NULL;
        if (!dist)
            return fail(L, d,
                        "'distribution' must be uniform, normal, pareto or pareto-normal, not %s",
                        v ? v : kind_name(d));
        f->distribution = strdup(dist);
        if (!f->distribution)
            return fail(L, d, "out of memory");
    }
    if (opt_num(L, n, "mean", 0, MAX_MS, &f->has_mean, &f->mean) ||
        opt_num(L, n, "stddev", 0, MAX_MS, &f->has_stddev, &f->stddev) ||
        opt_num(L, n, "min", 0, MAX_MS, &f->has_min, &f->min) ||
        opt_num(L, n, "max", 0, MAX_MS, &f->has_max, &f->max) ||
        opt_num(L, n, "shape", 0, 1e6, &f->has_shape, &f->shape) ||
        opt_num(L, n, "scale", 0, MAX_MS, &f->has_scale, &f->scale) ||
        opt_bool(L, n, "global", &f->has_global, &f->global))
        return -1;
    if (!f->has_global && opt_bool(L, n, "global_", &f->has_global, &f->global))
        return -1;
    const char *dist = f->distribution ? f->distribution : "normal";
    if (strcmp(dist, "uniform") == 0) {
        if (!f->has_max)
            return fail(L, n, "a uniform latency needs 'max' (and 'min', 0 by default)");
        if (f->has_min && f->min > f->max)
            return fail(L, n, "latency 'min' (%g) is above 'max' (%g)", f->min, f->max);
    } else if (strncmp(dist, "pareto", 6) == 0) {
        if (!f->has_scale || !f->has_shape)
            return fail(L, n, "a %s latency needs 'scale' and 'shape'", dist);
        if (f->shape <= 0)
            return fail(L, n, "latency 'shape' must be above 0");
    }
    return 0;
}

static int parse_bandwidth(loader *L, const yaml_node_t *n, sc_fault *f)
{
    yaml_node_t *r, *u;
    if (get(L, n, "rate", &r) != 0 || get(L, n, "unit", &u) != 0)
        return -1;
    if (!is_null(r)) {
        if (as_int(L, r, "'rate'", 1, INT64_C(1) << 50, &f->rate) != 0)
            return -1;
        f->has_rate = true;
    }
    if (!is_null(u)) {
        static const char *const units[] = {"Bps", "KBps", "MBps", "GBps"};
        const char *v = scalar(u);
        for (size_t i = 0; v && i < 4; i++)
            if (strcasecmp(v, units[i]) == 0)
                f->unit = strdup(units[i]);
        if (!f->unit)
            return fail(L, u, "'unit' must be Bps, KBps, MBps or GBps (any case), not %s",
                        v ? v : kind_name(u));
    }
    return 0;
}

static int parse_httperror(loader *L, const yaml_node_t *n, sc_fault *f)
{
    yaml_node_t *s;
    if (get(L, n, "status_code", &s) != 0)
        return -1;
    if (is_null(s) && get(L, n, "status", &s) != 0)
        return -1;
    if (!is_null(s)) {
        int64_t v;
        if (as_int(L, s, "'status_code'", 100, 599, &v) != 0)
            return -1;
        f->status_code = (int)v;
        f->has_status = true;
    }
    return opt_num(L, n, "probability", 0, 1, &f->has_probability, &f->probability) ||
                   opt_str(L, n, "body", &f->body)
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
    if (get(L, n, key, &v) != 0)
        return -1;
    if (is_null(v))
        return 0;
    sc_buf b = {0};
    if (scalar(v)) {
        sc_buf_printf(&b, "%s", scalar(v));
    } else if (v->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
             it++) {
            yaml_node_t *e = yaml_document_get_node(L->doc, *it);
            if (!scalar(e) || !*scalar(e) || strchr(scalar(e), ',')) {
                free(b.p);
                return fail(L, e, "'%s' must list names as strings, not %s", key,
                            scalar(e) ? "an empty one or one with a comma" : kind_name(e));
            }
            sc_buf_printf(&b, "%s%s", b.len ? "," : "", scalar(e));
        }
    } else {
        return fail(L, v, "'%s' must be a string or a list of strings, not %s", key, kind_name(v));
    }
    if (!b.p || !b.len) {
        free(b.p);
        return fail(L, v, "'%s' is empty", key);
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
    if (get(L, n, "case", &c) || get(L, n, "resolver", &r) || get(L, n, "listen", &l) ||
        get(L, n, "delay", &d))
        return -1;
    const char *cv = is_null(c) ? NULL : scalar(c);
    const char *canon = !cv                           ? NULL
                        : strcmp(cv, "nxdomain") == 0 ? "nx-domain"
                        : strcmp(cv, "servfail") == 0 ? "serv-fail"
                                                      : cv;
    for (size_t i = 0; canon && cases[i] && !f->dns_case; i++)
        if (strcmp(canon, cases[i]) == 0)
            f->dns_case = strdup(canon);
    if (!f->dns_case)
        return fail(L, is_null(c) ? n : c,
                    "a dns fault needs a 'case': nx-domain, serv-fail, refused, timeout, "
                    "truncated, truncated-tcp-fail, delay, random-a, empty-answer or alternate%s%s",
                    cv ? ", not " : "", cv ? cv : "");
    if (!is_null(r)) {
        if (!ip_port_ok(scalar(r), false))
            return fail(L, r, "'resolver' must be IP or IP:PORT (e.g. 127.0.0.1:53), not %s",
                        scalar(r) ? scalar(r) : kind_name(r));
        f->resolver = strdup(scalar(r));
    }
    if (!is_null(l)) {
        if (!ip_port_ok(scalar(l), true))
            return fail(L, l, "'listen' must be IP:PORT (e.g. 127.0.0.1:45553), not %s",
                        scalar(l) ? scalar(l) : kind_name(l));
        f->listen = strdup(scalar(l));
    }
    if (!is_null(d)) {
        /* Milliseconds, as every number of a scenario, or a duration. */
        const char *ds = scalar(d);
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
            return fail(L, d, "'delay' must be milliseconds or a duration such as \"1s\", not %s",
                        ds ? ds : kind_name(d));
        f->has_delay = true;
    }
    double ttl = 0;
    bool has_ttl = false;
    if (opt_num(L, n, "probability", 0, 1, &f->has_probability, &f->probability) ||
        opt_num(L, n, "ttl", 0, 2147483647.0, &has_ttl, &ttl) ||
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
    if (get(L, n, "case", &c) != 0 || opt_list(L, n, "case", &f->pg_cases) != 0)
        return -1;
    if (!f->pg_cases)
        return fail(L, n,
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
            int rc = fail(L, c,
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
    if (opt_str(L, n, "statement", &f->statement) || get(L, n, "error_code", &e))
        return -1;
    if (!is_null(e)) {
        const char *v = scalar(e);
        bool ok = v && strlen(v) == 5;
        for (size_t i = 0; ok && i < 5; i++)
            ok = (v[i] >= '0' && v[i] <= '9') || (v[i] >= 'A' && v[i] <= 'Z');
        if (!ok)
            return fail(L, e,
                        "'error_code' must be a SQLSTATE (five digits or upper-case "
                        "letters, e.g. \"40001\"), not %s",
                        v ? v : kind_name(e));
        f->error_code = strdup(v);
    }
    return opt_num(L, n, "probability", 0, 1, &f->has_probability, &f->probability) ||
                   opt_num(L, n, "deadlock_rate", 0, 1, &f->has_deadlock_rate, &f->deadlock_rate) ||
                   opt_num(L, n, "corruption_rate", 0, 1, &f->has_corruption_rate,
                           &f->corruption_rate) ||
                   opt_num(L, n, "mean", 0, MAX_MS, &f->has_mean, &f->mean) ||
                   opt_num(L, n, "stddev", 0, MAX_MS, &f->has_stddev, &f->stddev)
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
        if (get(L, n, K->key, &v) != 0)
            return -1;
        if (is_null(v))
            continue;
        const char *s = scalar(v);
        char num[64];
        if (K->kind == 's' && !s) {
            return fail(L, v, "'%s' must be a string, not %s", K->key, kind_name(v));
        } else if (K->kind == 'e') {
            size_t i = 0;
            while (s && K->choices[i] && strcmp(s, K->choices[i]) != 0)
                i++;
            if (!s || !K->choices[i]) {
                list_choices(K->choices, list, sizeof list);
                return fail(L, v, "'%s' must be %s, not %s", K->key, list, s ? s : kind_name(v));
            }
        } else if (K->kind == 'n' || K->kind == 'i') {
            double d;
            if (opt_num(L, n, K->key, K->min, K->max, NULL, &d) != 0)
                return -1;
            if (K->kind == 'i' && d != floor(d))
                return fail(L, v, "'%s' must be a whole number, not %s", K->key, s);
            snprintf(num, sizeof num, "%.15g", d);
            s = num;
        }
        if (!(f->llm[k] = strdup(s)))
            return fail(L, v, "out of memory");
    }
    const char *c = f->llm[SC_LLM_CASE];
    if (!c) {
        list_choices(sc_llm_keys[SC_LLM_CASE].choices, list, sizeof list);
        return fail(L, n, "an llm fault needs a 'case' (%s)", list);
    }
    if (strcmp(c, "inject-bias") == 0 &&
        (!f->llm[SC_LLM_BIAS_PATTERN] || !f->llm[SC_LLM_BIAS_REPLACEMENT]))
        return fail(L, n, "an inject-bias llm fault needs 'bias_pattern' and 'bias_replacement'");
    if (f->llm[SC_LLM_SCRAMBLE_PATTERN] && !f->llm[SC_LLM_SCRAMBLE_WITH])
        return fail(L, n, "'scramble_pattern' needs 'scramble_with'");
    if (strcmp(c, "prompt-scramble") == 0 && !f->llm[SC_LLM_SCRAMBLE_PATTERN] &&
        !f->llm[SC_LLM_INSTRUCTION])
        return fail(L, n,
                    "a prompt-scramble llm fault needs 'scramble_pattern' and "
                    "'scramble_with', or 'instruction'");
    return 0;
}

static int parse_fault(loader *L, yaml_node_t *n, sc_fault *f)
{
    if (want_mapping(L, n, "a fault") != 0)
        return -1;
    f->mark.line = (int)n->start_mark.line + 1;
    f->mark.col = (int)n->start_mark.column + 1;
    yaml_node_t *t;
    if (get(L, n, "type", &t) != 0)
        return -1;
    yaml_node_t *body = n;
    if (is_null(t)) {
        /* The published schema's externally tagged form: {Latency: {...}}. */
        size_t cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
        if (cnt == 1) {
            yaml_node_t *k = yaml_document_get_node(L->doc, n->data.mapping.pairs.start->key);
            yaml_node_t *v = yaml_document_get_node(L->doc, n->data.mapping.pairs.start->value);
            if (scalar(k) && type_of(scalar(k), &f->type) == 0 &&
                (v->type == YAML_MAPPING_NODE || is_null(v))) {
                if (is_null(v))
                    return 0;
                body = v;
                goto fields;
            }
        }
        return fail(L, n,
                    "a fault needs a 'type' (latency, packetloss, bandwidth, jitter, "
                    "httperror, blackhole, dns, postgres or llm)");
    }
    if (!scalar(t) || type_of(scalar(t), &f->type) != 0)
        return fail(L, t,
                    "unknown fault type '%s' (latency, packetloss, bandwidth, jitter, httperror, "
                    "blackhole, dns, postgres or llm)",
                    scalar(t) ? scalar(t) : kind_name(t));
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
        return opt_num(L, body, "amplitude", 0, MAX_MS, &f->has_amplitude, &f->amplitude) ||
                       opt_num(L, body, "frequency", 0, 1e6, &f->has_frequency, &f->frequency)
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
            const char *ks = scalar(k);
            if (ks && strcmp(ks, keys[i]) == 0)
                return fail(L, k, "'%s' belongs %s: here it would be ignored", ks, belongs);
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
    if (is_null(n))
        return 0;
    if (want_mapping(L, n, "'strategy'") != 0)
        return -1;
    yaml_node_t *m;
    if (get(L, n, "mode", &m) != 0)
        return -1;
    if (is_null(m) && get(L, n, "type", &m) != 0)
        return -1;
    if (is_null(m))
        return fail(L, n, "'strategy' needs a 'mode' (repeat or load)");
    const char *v = scalar(m);
    char sq[64];
    squash(v ? v : "", sq, sizeof sq);
    if (strcmp(sq, "repeat") == 0 || strcmp(sq, "scenariorepeatitemcallstrategy") == 0)
        s->mode = SC_REPEAT;
    else if (strcmp(sq, "load") == 0 || strcmp(sq, "scenarioloaditemcallstrategy") == 0)
        s->mode = SC_LOAD;
    else if (strcmp(sq, "single") == 0 || strcmp(sq, "singleshot") == 0)
        return 0;
    else
        return fail(L, m, "unknown strategy mode '%s' (repeat or load)", v ? v : kind_name(m));

    if (s->mode == SC_REPEAT) {
        yaml_node_t *c, *w;
        if (opt_num(L, n, "step", 0, MAX_MS, NULL, &s->step) ||
            opt_bool(L, n, "failfast", NULL, &s->failfast) ||
            opt_bool(L, n, "add_baseline_call", NULL, &s->add_baseline_call) ||
            get(L, n, "count", &c) || get(L, n, "wait", &w))
            return -1;
        if (!is_null(c) && as_int(L, c, "'count'", 0, 100000, &s->count) != 0)
            return -1;
        if (!is_null(w)) {
            /* A number is milliseconds, like every other number of a
             * scenario; a string may carry its unit ("1s"). */
            const char *ws = scalar(w);
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
                return fail(L, w,
                            "'wait' must be milliseconds or a duration such as \"1s\", not %s",
                            ws ? ws : kind_name(w));
            }
            s->has_wait = true;
        }
        return 0;
    }

    yaml_node_t *d, *c, *r;
    if (get(L, n, "duration", &d) || get(L, n, "clients", &c) || get(L, n, "rps", &r))
        return -1;
    if (is_null(d))
        return fail(L, n, "a load strategy needs a 'duration' (e.g. 10s)");
    if (!scalar(d))
        return fail(L, d, "'duration' must be a duration such as 10s, not %s", kind_name(d));
    char why[256];
    if (fault_parse_duration(scalar(d), &s->duration_us, why, sizeof why) != 0)
        return fail(L, d, "'duration': %s", why);
    if (s->duration_us == 0 || s->duration_us > UINT64_C(86400000000))
        return fail(L, d, "'duration' must be above 0 and at most a day");
    s->duration_text = strdup(scalar(d));
    if (is_null(c))
        return fail(L, n, "a load strategy needs 'clients'");
    if (is_null(r))
        return fail(L, n, "a load strategy needs 'rps' (requests per second per client)");
    if (as_int(L, c, "'clients'", 1, 10000, &s->clients) != 0 ||
        as_int(L, r, "'rps'", 1, 100000, &s->rps) != 0)
        return -1;
    double total = (double)s->clients * (double)s->rps * ((double)s->duration_us / 1e6);
    if (total > 1e6)
        return fail(L, n, "this load makes %.0f requests; at most 1000000 per item", total);
    return 0;
}

static int parse_slo(loader *L, yaml_node_t *n, sc_slo *o)
{
    if (want_mapping(L, n, "an slo") != 0)
        return -1;
    o->mark.line = (int)n->start_mark.line + 1;
    o->mark.col = (int)n->start_mark.column + 1;
    yaml_node_t *t, *obj, *th;
    if (get(L, n, "slo_type", &t) != 0)
        return -1;
    if (is_null(t) && get(L, n, "type", &t) != 0)
        return -1;
    if (is_null(t))
        return fail(L, n, "an slo needs a 'type' (or 'slo_type'): latency or error");
    const char *v = scalar(t);
    if (v && strcasecmp(v, "latency") == 0)
        o->is_error = false;
    else if (v && strcasecmp(v, "error") == 0)
        o->is_error = true;
    else
        return fail(L, t, "unknown slo type '%s' (latency or error)", v ? v : kind_name(t));
    if (get(L, n, "objective", &obj) || get(L, n, "threshold", &th))
        return -1;
    if (is_null(obj))
        return fail(L, n, "an slo needs an 'objective' (a percentile, e.g. 95)");
    if (is_null(th))
        return fail(L, n, "an slo needs a 'threshold' (ms for latency, %% for errors)");
    if (as_num(L, obj, "'objective'", 0, 100, &o->objective) != 0 ||
        as_num(L, th, "'threshold'", 0, o->is_error ? 100 : MAX_MS, &o->threshold) != 0)
        return -1;
    if (opt_str(L, n, "title", &o->title) != 0)
        return -1;
    if (!o->title) {
        char buf[96];
        if (o->is_error)
            snprintf(buf, sizeof buf, "P%g Error Rate < %g%%", o->objective, o->threshold);
        else
            snprintf(buf, sizeof buf, "P%g Latency < %gms", o->objective, o->threshold);
        o->title = strdup(buf);
    }
    return o->title ? 0 : fail(L, n, "out of memory");
}

static int parse_expect(loader *L, yaml_node_t *n, sc_item *it)
{
    if (is_null(n))
        return 0;
    if (want_mapping(L, n, "'expect'") != 0 ||
        misplaced(L, n, context_keys, "under the item's 'context'"))
        return -1;
    it->has_expect = true;
    yaml_node_t *s;
    if (get(L, n, "status", &s) != 0)
        return -1;
    if (!is_null(s)) {
        int64_t v;
        if (as_int(L, s, "'status'", 100, 599, &v) != 0)
            return -1;
        it->status = (int)v;
        it->has_status = true;
    }
    return opt_num(L, n, "response_time_under", 0, 8.64e7, &it->has_rtu,
                   &it->response_time_under) ||
                   opt_bool(L, n, "all_slo_are_valid", &it->has_all_slo, &it->all_slo_are_valid)
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
                    return fail_inside(L, n, "'url'", why);
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
        return fail(L, n, "out of memory");
    }
    it->resolved_url = b.p ? b.p : strdup("");
    if (!url_ok(it->resolved_url))
        return fail(L, n, "'url' must be an absolute http:// or https:// URL with a host, not '%s'",
                    it->resolved_url);
    return 0;
}

static int parse_call(loader *L, yaml_node_t *n, sc_item *it)
{
    if (want_mapping(L, n, "'call'") != 0)
        return -1;
    yaml_node_t *m, *u, *h, *b, *meta;
    if (get(L, n, "method", &m) || get(L, n, "url", &u) || get(L, n, "headers", &h) ||
        get(L, n, "body", &b) || get(L, n, "meta", &meta))
        return -1;
    if (is_null(m))
        return fail(L, n, "'call' needs a 'method' (GET, POST, ...)");
    if (is_null(u))
        return fail(L, n, "'call' needs a 'url'");
    if (as_str(L, m, "'method'", &it->method) != 0 || as_str(L, u, "'url'", &it->url) != 0)
        return -1;
    if (!*it->method)
        return fail(L, m, "'method' is empty");
    for (char *c = it->method; *c; c++) {
        if (!isalpha((unsigned char)*c) && *c != '-' && *c != '_')
            return fail(L, m, "'%s' is not an HTTP method", it->method);
        *c = (char)toupper((unsigned char)*c);
    }
    if (resolve_url(L, u, it) != 0)
        return -1;
    /* Global headers first, so that a call's own value is sent last and
     * wins (libcurl sends both; servers take the last). The call's own
     * replace a global one of the same name. */
    sc_pair *own = NULL;
    size_t nown = 0;
    if (str_map(L, h, "'headers'", true, &own, &nown) != 0) {
        pairs_free(own, nown);
        return -1;
    }
    it->headers = calloc(L->ncfg_headers + nown + 1, sizeof *it->headers);
    if (!it->headers) {
        pairs_free(own, nown);
        return fail(L, n, "out of memory");
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

    if (!is_null(b)) {
        if (b->type == YAML_SCALAR_NODE) {
            if (as_str(L, b, "'body'", &it->body) != 0)
                return -1;
        } else {
            /* A body written as YAML structure is sent as JSON. */
            size_t budget = 100000;
            const char *why = "out of memory";
            cJSON *j = node_json(L->doc, b, 0, &budget, &why);
            if (!j)
                return fail(L, b, "'body': %s", why);
            it->body = cJSON_PrintUnformatted(j);
            cJSON_Delete(j);
            if (!it->body)
                return fail(L, b, "out of memory");
        }
    }
    if (opt_num(L, n, "timeout", 0, 8.64e7, &it->has_timeout, &it->timeout_ms) != 0)
        return -1;
    if (!is_null(meta)) {
        if (want_mapping(L, meta, "'meta'") != 0 ||
            opt_str(L, meta, "operation_id", &it->operation_id) != 0)
            return -1;
    }
    return 0;
}

static int parse_context(loader *L, yaml_node_t *n, sc_item *it)
{
    if (want_mapping(L, n, "'context'") != 0)
        return -1;
    yaml_node_t *ups, *fl, *st, *slo, *px, *ro;
    if (get(L, n, "upstreams", &ups) || get(L, n, "faults", &fl) || get(L, n, "strategy", &st) ||
        get(L, n, "slo", &slo) || get(L, n, "proxy", &px) || get(L, n, "runs_on", &ro) ||
        misplaced(L, n, item_keys, "in the item, beside 'context'") ||
        misplaced(L, n, expect_keys, "under the item's 'expect'"))
        return -1;
    if (!is_null(ro))
        return fail(L, ro,
                    "'runs_on' (running the proxy on a platform) is not supported by this "
                    "build: remove it to run the proxy locally");
    if (str_list(L, ups, "'upstreams'", &it->upstreams, &it->nupstreams) != 0)
        return -1;
    for (size_t i = 0; i < it->nupstreams; i++)
        if (!*it->upstreams[i])
            return fail(L, ups, "'upstreams' has an empty entry");
    if (!is_null(fl)) {
        if (want_seq(L, fl, "'faults'") != 0)
            return -1;
        size_t cnt = (size_t)(fl->data.sequence.items.top - fl->data.sequence.items.start);
        it->faults = calloc(cnt ? cnt : 1, sizeof *it->faults);
        if (!it->faults)
            return fail(L, fl, "out of memory");
        for (yaml_node_item_t *e = fl->data.sequence.items.start; e < fl->data.sequence.items.top;
             e++) {
            sc_fault *f = &it->faults[it->nfaults++];
            yaml_node_t *fn = yaml_document_get_node(L->doc, *e);
            if (parse_fault(L, fn, f) != 0)
                return -1;
            for (size_t k = 0; (f->type == SC_DNS || f->type == SC_POSTGRES) && k + 1 < it->nfaults;
                 k++)
                if (it->faults[k].type == f->type)
                    return fail(L, fn, "one %s fault per item (the item has one at line %d)",
                                sc_fault_type_name(f->type), it->faults[k].mark.line);
        }
    }
    if (parse_strategy(L, st, &it->strategy) != 0)
        return -1;
    if (!is_null(slo)) {
        if (want_seq(L, slo, "'slo'") != 0)
            return -1;
        size_t cnt = (size_t)(slo->data.sequence.items.top - slo->data.sequence.items.start);
        it->slos = calloc(cnt ? cnt : 1, sizeof *it->slos);
        if (!it->slos)
            return fail(L, slo, "out of memory");
        for (yaml_node_item_t *e = slo->data.sequence.items.start; e < slo->data.sequence.items.top;
             e++) {
            if (parse_slo(L, yaml_document_get_node(L->doc, *e), &it->slos[it->nslos++]) != 0)
                return -1;
        }
    }
    if (!is_null(px)) {
        yaml_node_t *pl;
        if (want_mapping(L, px, "'proxy'") != 0 ||
            opt_bool(L, px, "disable_http_proxies", NULL, &it->disable_http_proxies) != 0 ||
            get(L, px, "proxies", &pl) != 0 ||
            str_list(L, pl, "'proxies'", &it->proxies, &it->nproxies) != 0)
            return -1;
        for (size_t i = 0; i < it->nproxies; i++) {
            /* The proxy's own grammar (the --proxy grammar), so that a mapping
             * is refused here, before anything runs, not by the proxy. */
            char why[256];
            if (fault_check_mapping(it->proxies[i], why, sizeof why) != 0) {
                char what[300];
                snprintf(what, sizeof what, "proxy mapping '%s'", it->proxies[i]);
                return fail_inside(
                    L, yaml_document_get_node(L->doc, pl->data.sequence.items.start[i]), what, why);
            }
        }
    }
    if (it->disable_http_proxies && it->nproxies == 0)
        return fail(L, px, "'disable_http_proxies' leaves no proxy: give 'proxies' mappings too");
    for (size_t k = 0; k < it->nfaults; k++) {
        if (it->faults[k].type != SC_POSTGRES)
            continue;
        bool pg = false;
        for (size_t i = 0; i < it->nproxies; i++)
            pg |= strstr(it->proxies[i], "=psql://") || strstr(it->proxies[i], "=psqls://");
        if (!pg)
            return fail(L, yaml_document_get_node(L->doc, fl->data.sequence.items.start[k]),
                        "a postgres fault acts on psql:// mappings: the item has none in "
                        "'proxy.proxies'");
    }
    return 0;
}

static int parse_item(loader *L, yaml_node_t *n, sc_item *it)
{
    if (want_mapping(L, n, "an item") != 0)
        return -1;
    if (misplaced(L, n, context_keys, "under the item's 'context'") ||
        misplaced(L, n, call_keys, "under the item's 'call'") ||
        misplaced(L, n, expect_keys, "under the item's 'expect'"))
        return -1;
    it->mark.line = (int)n->start_mark.line + 1;
    it->mark.col = (int)n->start_mark.column + 1;
    yaml_node_t *call, *ctx, *exp;
    if (get(L, n, "call", &call) || get(L, n, "context", &ctx) || get(L, n, "expect", &exp))
        return -1;
    if (is_null(call))
        return fail(L, n, "an item needs a 'call'");
    if (parse_call(L, call, it) != 0)
        return -1;
    if (!is_null(ctx) && parse_context(L, ctx, it) != 0)
        return -1;
    return parse_expect(L, exp, it);
}

/* ---- documents ---- */

static int parse_config(loader *L, yaml_node_t *cfg)
{
    if (is_null(cfg))
        return 0;
    if (want_mapping(L, cfg, "'config'") != 0)
        return -1;
    yaml_node_t *http;
    if (get(L, cfg, "http", &http) != 0)
        return -1;
    if (is_null(http))
        return 0;
    if (want_mapping(L, http, "'config.http'") != 0)
        return -1;
    yaml_node_t *h, *paths;
    if (get(L, http, "headers", &h) || get(L, http, "paths", &paths))
        return -1;
    if (str_map(L, h, "'config.http.headers'", true, &L->cfg_headers, &L->ncfg_headers) != 0)
        return -1;
    if (is_null(paths))
        return 0;
    yaml_node_t *seg;
    if (want_mapping(L, paths, "'config.http.paths'") != 0 || get(L, paths, "segments", &seg) != 0)
        return -1;
    return str_map(L, seg, "'config.http.paths.segments'", false, &L->segments, &L->nsegments);
}

static void item_free(sc_item *it);

static int parse_document(loader *L, yaml_node_t *root, sc_scenario *sc)
{
    sc->mark.line = (int)root->start_mark.line + 1;
    sc->mark.col = (int)root->start_mark.column + 1;
    if (want_mapping(L, root, "a scenario document") != 0)
        return -1;
    yaml_node_t *items, *scen, *cfg;
    if (opt_str(L, root, "title", &sc->title) ||
        opt_str(L, root, "description", &sc->description) || get(L, root, "items", &items) ||
        get(L, root, "scenarios", &scen) || get(L, root, "config", &cfg))
        return -1;
    if (!sc->title)
        return fail(L, root, "a scenario needs a 'title'");
    if (!is_null(items) && !is_null(scen))
        return fail(L, scen, "give 'items' or 'scenarios', not both");
    if (is_null(items))
        items = scen;
    if (is_null(items))
        return fail(L, root, "a scenario needs 'items' (a list of calls)");
    if (want_seq(L, items, "'items'") != 0 || parse_config(L, cfg) != 0)
        return -1;
    size_t cnt = (size_t)(items->data.sequence.items.top - items->data.sequence.items.start);
    sc->items = calloc(cnt ? cnt : 1, sizeof *sc->items);
    if (!sc->items)
        return fail(L, items, "out of memory");
    for (yaml_node_item_t *e = items->data.sequence.items.start; e < items->data.sequence.items.top;
         e++) {
        if (parse_item(L, yaml_document_get_node(L->doc, *e), &sc->items[sc->nitems++]) != 0)
            return -1;
    }
    return 0;
}

static void scenario_free(sc_scenario *sc)
{
    for (size_t i = 0; i < sc->nitems; i++)
        item_free(&sc->items[i]);
    free(sc->items);
    free(sc->file);
    free(sc->title);
    free(sc->description);
    memset(sc, 0, sizeof *sc);
}

int sc_load_buffer(const char *name, const char *data, size_t len, sc_suite *suite, char *err,
                   size_t errlen)
{
    loader L = {.file = name, .err = err, .errlen = errlen};
    yaml_parser_t parser;
    size_t dl, dc;
    if (yaml_too_deep(data, len, &dl, &dc)) {
        snprintf(err, errlen, "%s:%zu:%zu: nested more than %d levels deep", name, dl, dc,
                 SC_YAML_MAX_DEPTH);
        return -1;
    }
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "%s: out of memory", name);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    int rc = 0;
    size_t ndocs = 0;
    for (;;) {
        yaml_document_t doc;
        if (!yaml_parser_load(&parser, &doc)) {
            const char *ctx = parser.context;
            size_t line = parser.problem_mark.line + 1, col = parser.problem_mark.column + 1;
            if (parser.error == YAML_READER_ERROR) {
                /* Encoding errors carry a byte offset, not a mark. */
                line = col = 1;
                for (size_t i = 0; i < parser.problem_offset && i < len; i++) {
                    if (data[i] == '\n') {
                        line++;
                        col = 1;
                    } else if (((unsigned char)data[i] & 0xc0) != 0x80) {
                        col++;
                    }
                }
            }
            snprintf(err, errlen, "%s:%zu:%zu: %s%s%s", name, line, col,
                     parser.problem ? parser.problem : "invalid YAML", ctx ? " " : "",
                     ctx ? ctx : "");
            rc = -1;
            break;
        }
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (!root) {
            yaml_document_delete(&doc);
            break;
        }
        ndocs++;
        /* An explicitly empty document ("---" then nothing, or null) is
         * skipped: generated files sometimes end that way. */
        if (is_null(root)) {
            yaml_document_delete(&doc);
            continue;
        }
        L.doc = &doc;
        sc_scenario *grown = realloc(suite->scenarios, (suite->n + 1) * sizeof *grown);
        if (!grown) {
            snprintf(err, errlen, "%s: out of memory", name);
            yaml_document_delete(&doc);
            rc = -1;
            break;
        }
        suite->scenarios = grown;
        sc_scenario *sc = &suite->scenarios[suite->n];
        memset(sc, 0, sizeof *sc);
        sc->file = strdup(name);
        rc = parse_document(&L, root, sc);
        pairs_free(L.cfg_headers, L.ncfg_headers);
        pairs_free(L.segments, L.nsegments);
        L.cfg_headers = L.segments = NULL;
        L.ncfg_headers = L.nsegments = 0;
        yaml_document_delete(&doc);
        if (rc != 0) {
            scenario_free(sc);
            break;
        }
        suite->n++;
    }
    yaml_parser_delete(&parser);
    if (rc == 0 && ndocs == 0) {
        snprintf(err, errlen, "%s:1:1: no scenario in this file", name);
        rc = -1;
    }
    return rc;
}

static int load_file(const char *path, sc_suite *suite, char *err, size_t errlen)
{
    size_t len;
    char why[512];
    char *data = sc_read_file(path, &len, why, sizeof why);
    if (!data) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    int rc = sc_load_buffer(path, data, len, suite, err, errlen);
    free(data);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int sc_load_path(const char *path, sc_suite *suite, char *err, size_t errlen)
{
    return sc_load_path_skipping(path, suite, NULL, NULL, err, errlen);
}

int sc_load_path_skipping(const char *path, sc_suite *suite, sc_skip_cb skip, void *ud, char *err,
                          size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return load_file(path, suite, err, errlen);
    DIR *d = opendir(path);
    if (!d) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' ||
            (!sc_has_ext(e->d_name, "yaml") && !sc_has_ext(e->d_name, "yml")))
            continue;
        size_t plen = strlen(path) + strlen(e->d_name) + 2;
        char *full = malloc(plen);
        if (!full) {
            rc = -1;
            break;
        }
        snprintf(full, plen, "%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/", e->d_name);
        struct stat fst;
        if (stat(full, &fst) != 0 || !S_ISREG(fst.st_mode)) {
            free(full);
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                free(full);
                rc = -1;
                break;
            }
            names = nn;
        }
        names[n++] = full;
    }
    closedir(d);
    if (rc != 0)
        snprintf(err, errlen, "%s: out of memory", path);
    else if (n == 0) {
        snprintf(err, errlen, "%s: no .yaml or .yml file in this directory", path);
        rc = -1;
    }
    if (rc == 0)
        qsort(names, n, sizeof *names, cmp_names);
    size_t skipped = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t before = suite->n;
        rc = load_file(names[i], suite, err, errlen);
        if (rc != 0 && skip) {
            /* Leave the whole file out, documents loaded before the bad
             * one included, and go on with the next. */
            while (suite->n > before)
                scenario_free(&suite->scenarios[--suite->n]);
            skip(err, ud);
            skipped++;
            rc = 0;
        }
    }
    if (rc == 0 && skip && skipped == n) {
        snprintf(err, errlen, "%s: no scenario file of this directory could be loaded", path);
        rc = -1;
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* ---- freeing ---- */

void sc_fault_clear(sc_fault *f)
{
    free(f->side);
    free(f->direction);
    free(f->period);
    free(f->distribution);
    free(f->unit);
    free(f->body);
    free(f->dns_case);
    free(f->resolver);
    free(f->listen);
    free(f->names);
    free(f->qtypes);
    free(f->pg_cases);
    free(f->statement);
    free(f->error_code);
    for (size_t k = 0; k < SC_LLM_KEYS; k++)
        free(f->llm[k]);
    memset(f, 0, sizeof *f);
}

static void item_free(sc_item *it)
{
    free(it->method);
    free(it->url);
    free(it->resolved_url);
    pairs_free(it->headers, it->nheaders);
    free(it->body);
    free(it->operation_id);
    for (size_t i = 0; i < it->nupstreams; i++)
        free(it->upstreams[i]);
    free(it->upstreams);
    for (size_t i = 0; i < it->nfaults; i++)
        sc_fault_clear(&it->faults[i]);
    free(it->faults);
    free(it->strategy.duration_text);
    for (size_t i = 0; i < it->nslos; i++)
        free(it->slos[i].title);
    free(it->slos);
    for (size_t i = 0; i < it->nproxies; i++)
        free(it->proxies[i]);
    free(it->proxies);
    memset(it, 0, sizeof *it);
}

void sc_suite_free(sc_suite *suite)
{
    for (size_t i = 0; i < suite->n; i++)
        scenario_free(&suite->scenarios[i]);
    free(suite->scenarios);
    suite->scenarios = NULL;
    suite->n = 0;
}
