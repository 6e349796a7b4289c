/*
 * plugins/scenario/load_node.c - typed access to the YAML nodes of a
 * scenario file for the loader (loader.h): scalars as strings, numbers,
 * integers and booleans within bounds, optional keys, lists and mappings
 * of strings, each error one "FILE:LINE:COLUMN: what" message; and the
 * one generic conversion, YAML to cJSON (bodies written as mappings,
 * OpenAPI documents), with its depth check and node budget.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"

__attribute__((format(printf, 3, 4))) int ld_fail(loader *L, const yaml_node_t *n, const char *fmt,
                                                  ...)
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
int ld_fail_inside(loader *L, const yaml_node_t *n, const char *what, const char *why)
{
    const char *at = strstr(why, " at column ");
    long col = at ? strtol(at + 11, NULL, 10) : 0;
    bool simple = n->type == YAML_SCALAR_NODE && n->start_mark.line == n->end_mark.line &&
                  (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ||
                   ((n->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                     n->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE) &&
                    !strpbrk((const char *)n->data.scalar.value, "\\'\"")));
    if (!at || col < 1 || !simple)
        return ld_fail(L, n, "%s: %s", what, why);
    size_t quote = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? 0 : 1;
    snprintf(L->err, L->errlen, "%s:%zu:%zu: %s: %.*s", L->file, n->start_mark.line + 1,
             n->start_mark.column + 1 + quote + (size_t)(col - 1), what, (int)(at - why), why);
    return -1;
}

/* ---- node access ---- */

const char *ld_scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

bool ld_is_null(const yaml_node_t *n)
{
    if (!n)
        return true;
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = ld_scalar(n);
    return !*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
           strcmp(v, "NULL") == 0;
}

const char *ld_kind_name(const yaml_node_t *n)
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
int ld_get(loader *L, const yaml_node_t *map, const char *key, yaml_node_t **out)
{
    *out = NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(L->doc, p->key);
        const char *ks = ld_scalar(k);
        if (!ks || strcmp(ks, key) != 0)
            continue;
        if (*out)
            return ld_fail(L, k, "'%s' is given twice", key);
        *out = yaml_document_get_node(L->doc, p->value);
    }
    return 0;
}

int ld_want_mapping(loader *L, const yaml_node_t *n, const char *what)
{
    if (n->type != YAML_MAPPING_NODE)
        return ld_fail(L, n, "%s must be a mapping, not %s", what, ld_kind_name(n));
    return 0;
}

int ld_want_seq(loader *L, const yaml_node_t *n, const char *what)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return ld_fail(L, n, "%s must be a list, not %s", what, ld_kind_name(n));
    return 0;
}

/* Strings: any scalar (a title may well be a number). */
int ld_as_str(loader *L, const yaml_node_t *n, const char *what, char **out)
{
    if (n->type != YAML_SCALAR_NODE)
        return ld_fail(L, n, "%s must be a string, not %s", what, ld_kind_name(n));
    free(*out);
    *out = strdup(ld_scalar(n));
    return *out ? 0 : ld_fail(L, n, "out of memory");
}

int ld_as_num(loader *L, const yaml_node_t *n, const char *what, double lo, double hi, double *out)
{
    const char *v = ld_scalar(n);
    if (!v)
        return ld_fail(L, n, "%s must be a number, not %s", what, ld_kind_name(n));
    char *end = NULL;
    errno = 0;
    double d = strtod(v, &end);
    while (end && isspace((unsigned char)*end))
        end++;
    if (!*v || !end || *end || errno == ERANGE || !isfinite(d))
        return ld_fail(L, n, "%s must be a number, not '%s'", what, v);
    if (d < lo || d > hi)
        return ld_fail(L, n, "%s must be between %g and %g, not %s", what, lo, hi, v);
    *out = d;
    return 0;
}

int ld_as_int(loader *L, const yaml_node_t *n, const char *what, int64_t lo, int64_t hi,
              int64_t *out)
{
    double d;
    if (ld_as_num(L, n, what, (double)lo, (double)hi, &d) != 0)
        return -1;
    if (d != floor(d))
        return ld_fail(L, n, "%s must be a whole number, not %s", what, ld_scalar(n));
    *out = (int64_t)d;
    return 0;
}

int ld_as_bool(loader *L, const yaml_node_t *n, const char *what, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "y"};
    static const char *const no[] = {"false", "no", "off", "n"};
    const char *v = ld_scalar(n);
    if (v) {
        for (size_t i = 0; i < 4; i++) {
            if (strcasecmp(v, yes[i]) == 0)
                return *out = true, 0;
            if (strcasecmp(v, no[i]) == 0)
                return *out = false, 0;
        }
    }
    return ld_fail(L, n, "%s must be true or false, not %s", what, v ? v : ld_kind_name(n));
}

/* Lower case without '-', '_' and spaces: "Packet_Loss" -> "packetloss". */
void ld_squash(const char *in, char *out, size_t len)
{
    size_t j = 0;
    for (; *in && j + 1 < len; in++)
        if (*in != '-' && *in != '_' && *in != ' ')
            out[j++] = (char)tolower((unsigned char)*in);
    out[j] = '\0';
}

/* Optional string key: NULL node or null keeps *out. */
int ld_opt_str(loader *L, const yaml_node_t *map, const char *key, char **out)
{
    yaml_node_t *n;
    if (ld_get(L, map, key, &n) != 0)
        return -1;
    if (ld_is_null(n))
        return 0;
    char what[64];
    snprintf(what, sizeof what, "'%s'", key);
    return ld_as_str(L, n, what, out);
}

int ld_opt_num(loader *L, const yaml_node_t *map, const char *key, double lo, double hi, bool *has,
               double *out)
{
    yaml_node_t *n;
    if (ld_get(L, map, key, &n) != 0)
        return -1;
    if (ld_is_null(n))
        return 0;
    char what[64];
    snprintf(what, sizeof what, "'%s'", key);
    if (ld_as_num(L, n, what, lo, hi, out) != 0)
        return -1;
    if (has)
        *has = true;
    return 0;
}

int ld_opt_bool(loader *L, const yaml_node_t *map, const char *key, bool *has, bool *out)
{
    yaml_node_t *n;
    if (ld_get(L, map, key, &n) != 0)
        return -1;
    if (ld_is_null(n))
        return 0;
    char what[64];
    snprintf(what, sizeof what, "'%s'", key);
    if (ld_as_bool(L, n, what, out) != 0)
        return -1;
    if (has)
        *has = true;
    return 0;
}

/* A list of strings (or null). */
int ld_str_list(loader *L, const yaml_node_t *n, const char *what, char ***out, size_t *nout)
{
    if (ld_is_null(n))
        return 0;
    if (ld_want_seq(L, n, what) != 0)
        return -1;
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    char **v = calloc(cnt ? cnt : 1, sizeof *v);
    if (!v)
        return ld_fail(L, n, "out of memory");
    *out = v;
    *nout = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        yaml_node_t *e = yaml_document_get_node(L->doc, *it);
        char *s = NULL;
        if (ld_as_str(L, e, what, &s) != 0)
            return -1;
        v[(*nout)++] = s;
    }
    return 0;
}

/* A mapping of strings to strings (or null), appended to *out. */
int ld_str_map(loader *L, const yaml_node_t *n, const char *what, bool header, sc_pair **out,
               size_t *nout)
{
    if (ld_is_null(n))
        return 0;
    if (ld_want_mapping(L, n, what) != 0)
        return -1;
    size_t cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    sc_pair *v = realloc(*out, (*nout + cnt + 1) * sizeof *v);
    if (!v)
        return ld_fail(L, n, "out of memory");
    *out = v;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(L->doc, p->key);
        yaml_node_t *val = yaml_document_get_node(L->doc, p->value);
        const char *ks = ld_scalar(k);
        if (!ks || !*ks)
            return ld_fail(L, k, "%s: keys must be non-empty strings", what);
        const char *vs = ld_is_null(val) ? "" : ld_scalar(val);
        if (!vs)
            return ld_fail(L, val, "%s: the value of '%s' must be a string, not %s", what, ks,
                           ld_kind_name(val));
        if (header) {
            for (const char *c = ks; *c; c++)
                if (!isgraph((unsigned char)*c) || *c == ':')
                    return ld_fail(L, k, "header name '%s' is not a valid HTTP header name", ks);
            if (strpbrk(vs, "\r\n"))
                return ld_fail(L, val, "the value of header '%s' contains a line break", ks);
        }
        v[*nout].name = strdup(ks);
        v[*nout].value = strdup(vs);
        if (!v[*nout].name || !v[*nout].value) {
            free(v[*nout].name);
            free(v[*nout].value);
            return ld_fail(L, n, "out of memory");
        }
        (*nout)++;
    }
    return 0;
}

void ld_pairs_free(sc_pair *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(p[i].name);
        free(p[i].value);
    }
    free(p);
}

/* ---- YAML to cJSON (bodies written as mappings, OpenAPI documents) ---- */

/* Deeper than anything the loader or the conversion below accepts: a
 * document nested deeper is refused before libyaml builds it (its
 * scanner's work grows with the square of the nesting: 100,000 levels
 * took a minute). Events are read only until that depth is passed.
 * Returns true with the mark of the collection too deep; false when the
 * document is shallow enough, or malformed (the loader reports that). */
bool ld_yaml_too_deep(const char *data, size_t len, size_t *line, size_t *col)
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
    const char *v = ld_scalar(n);
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return cJSON_CreateString(v);
    if (ld_is_null(n))
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

cJSON *ld_node_json(yaml_document_t *doc, yaml_node_t *n, int depth, size_t *budget,
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
            cJSON *e = ld_node_json(doc, yaml_document_get_node(doc, *it), depth + 1, budget, why);
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
            const char *ks = ld_scalar(k);
            if (!ks) {
                *why = "a mapping key is not a string";
                cJSON_Delete(o);
                return NULL;
            }
            cJSON *e =
                ld_node_json(doc, yaml_document_get_node(doc, p->value), depth + 1, budget, why);
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
    if (ld_yaml_too_deep(data, len, &dl, &dc)) {
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
        out = ld_node_json(&doc, root, 0, &budget, &why);
        if (!out)
            snprintf(err, errlen, "%zu:%zu: %s", root->start_mark.line + 1,
                     root->start_mark.column + 1, why);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return out;
}
