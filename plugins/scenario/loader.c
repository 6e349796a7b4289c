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
 *
 * This file holds documents, files and directories, and freeing;
 * load_node.c the typed access to nodes, load_fault.c the faults,
 * load_item.c the items (loader.h is what they share).
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "loader.h"

/* ---- documents ---- */

static int parse_config(loader *L, yaml_node_t *cfg)
{
    if (ld_is_null(cfg))
        return 0;
    if (ld_want_mapping(L, cfg, "'config'") != 0)
        return -1;
    yaml_node_t *http;
    if (ld_get(L, cfg, "http", &http) != 0)
        return -1;
    if (ld_is_null(http))
        return 0;
    if (ld_want_mapping(L, http, "'config.http'") != 0)
        return -1;
    yaml_node_t *h, *paths;
    if (ld_get(L, http, "headers", &h) || ld_get(L, http, "paths", &paths))
        return -1;
    if (ld_str_map(L, h, "'config.http.headers'", true, &L->cfg_headers, &L->ncfg_headers) != 0)
        return -1;
    if (ld_is_null(paths))
        return 0;
    yaml_node_t *seg;
    if (ld_want_mapping(L, paths, "'config.http.paths'") != 0 ||
        ld_get(L, paths, "segments", &seg) != 0)
        return -1;
    return ld_str_map(L, seg, "'config.http.paths.segments'", false, &L->segments, &L->nsegments);
}

static void item_free(sc_item *it);

static int parse_document(loader *L, yaml_node_t *root, sc_scenario *sc)
{
    sc->mark.line = (int)root->start_mark.line + 1;
    sc->mark.col = (int)root->start_mark.column + 1;
    if (ld_want_mapping(L, root, "a scenario document") != 0)
        return -1;
    yaml_node_t *items, *scen, *cfg;
    if (ld_opt_str(L, root, "title", &sc->title) ||
        ld_opt_str(L, root, "description", &sc->description) || ld_get(L, root, "items", &items) ||
        ld_get(L, root, "scenarios", &scen) || ld_get(L, root, "config", &cfg))
        return -1;
    if (!sc->title)
        return ld_fail(L, root, "a scenario needs a 'title'");
    if (!ld_is_null(items) && !ld_is_null(scen))
        return ld_fail(L, scen, "give 'items' or 'scenarios', not both");
    if (ld_is_null(items))
        items = scen;
    if (ld_is_null(items))
        return ld_fail(L, root, "a scenario needs 'items' (a list of calls)");
    if (ld_want_seq(L, items, "'items'") != 0 || parse_config(L, cfg) != 0)
        return -1;
    size_t cnt = (size_t)(items->data.sequence.items.top - items->data.sequence.items.start);
    sc->items = calloc(cnt ? cnt : 1, sizeof *sc->items);
    if (!sc->items)
        return ld_fail(L, items, "out of memory");
    for (yaml_node_item_t *e = items->data.sequence.items.start; e < items->data.sequence.items.top;
         e++) {
        if (ld_parse_item(L, yaml_document_get_node(L->doc, *e), &sc->items[sc->nitems++]) != 0)
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
    if (ld_yaml_too_deep(data, len, &dl, &dc)) {
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
        if (ld_is_null(root)) {
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
        ld_pairs_free(L.cfg_headers, L.ncfg_headers);
        ld_pairs_free(L.segments, L.nsegments);
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
    ld_pairs_free(it->headers, it->nheaders);
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
