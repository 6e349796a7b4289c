/*
 * plugins/scenario/loader.h - the scenario loader's inside, shared by its
 * files: loader.c (documents, files, freeing), load_node.c (typed access
 * to YAML nodes, errors with FILE:LINE:COLUMN, YAML to cJSON),
 * load_fault.c (the faults of a context) and load_item.c (items: call,
 * context, strategy, SLOs, expectations). Not part of the SDK.
 */
#ifndef FAULT_SC_LOADER_H
#define FAULT_SC_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* Bounds: a duration in milliseconds (one hour); the nesting and the node
 * count of a YAML value converted to JSON; the nesting a document may have
 * at all (deeper is refused before libyaml builds it). */
#define MAX_MS            3.6e6
#define SC_JSON_MAX_DEPTH 64
#define SC_JSON_MAX_NODES 2000000
#define SC_YAML_MAX_DEPTH (SC_JSON_MAX_DEPTH + 1)

/* ---- load_node.c: typed access to YAML nodes ----
 * Every function returning int returns 0, or -1 after writing one message
 * "FILE:LINE:COLUMN: what" about node n into L->err. `what` names the
 * value in messages ("'timeout'", "the latency fault's 'mean'"). */

/* A message about n (its line and column), printf-style. */
__attribute__((format(printf, 3, 4))) int ld_fail(loader *L, const yaml_node_t *n, const char *fmt,
                                                  ...);
/* A core parser's message `why` about scalar n, pointed at the character
 * its "at column N" names when n is a one-line scalar. */
int ld_fail_inside(loader *L, const yaml_node_t *n, const char *what, const char *why);
/* The text of a scalar node, NULL for any other node (or NULL). */
const char *ld_scalar(const yaml_node_t *n);
/* n is absent, empty or one of YAML's spellings of null. */
bool ld_is_null(const yaml_node_t *n);
/* "a mapping", "a list", "a scalar", for messages. */
const char *ld_kind_name(const yaml_node_t *n);
/* *out: the value of key in map, or NULL; a key given twice is an error. */
int ld_get(loader *L, const yaml_node_t *map, const char *key, yaml_node_t **out);
int ld_want_mapping(loader *L, const yaml_node_t *n, const char *what);
int ld_want_seq(loader *L, const yaml_node_t *n, const char *what);
/* Scalars as a new string, a number in [lo, hi], an integer in [lo, hi],
 * a boolean. */
int ld_as_str(loader *L, const yaml_node_t *n, const char *what, char **out);
int ld_as_num(loader *L, const yaml_node_t *n, const char *what, double lo, double hi, double *out);
int ld_as_int(loader *L, const yaml_node_t *n, const char *what, int64_t lo, int64_t hi,
              int64_t *out);
int ld_as_bool(loader *L, const yaml_node_t *n, const char *what, bool *out);
/* Optional keys of map: absent or null leaves *out (and *has) as they were. */
int ld_opt_str(loader *L, const yaml_node_t *map, const char *key, char **out);
int ld_opt_num(loader *L, const yaml_node_t *map, const char *key, double lo, double hi, bool *has,
               double *out);
int ld_opt_bool(loader *L, const yaml_node_t *map, const char *key, bool *has, bool *out);
/* A list of strings (or null) into a new array. */
int ld_str_list(loader *L, const yaml_node_t *n, const char *what, char ***out, size_t *nout);
/* A mapping of strings to strings (or null), appended to *out; header:
 * keys must be valid header names and values one line each. */
int ld_str_map(loader *L, const yaml_node_t *n, const char *what, bool header, sc_pair **out,
               size_t *nout);
void ld_pairs_free(sc_pair *p, size_t n);
/* Lower case without '-', '_' and spaces: "Packet_Loss" -> "packetloss". */
void ld_squash(const char *in, char *out, size_t len);
/* The text nests deeper than the loader accepts: where, 1-based. */
bool ld_yaml_too_deep(const char *data, size_t len, size_t *line, size_t *col);
/* Node n as cJSON, within a depth and a node budget (aliases can make a
 * small document expand exponentially); NULL with *why on failure. */
cJSON *ld_node_json(yaml_document_t *doc, yaml_node_t *n, int depth, size_t *budget,
                    const char **why);

/* ---- load_fault.c: one fault of a context (its type and settings) ---- */
int ld_parse_fault(loader *L, yaml_node_t *n, sc_fault *f);

/* ---- load_item.c: one item (call, context, expect) ---- */
int ld_parse_item(loader *L, yaml_node_t *n, sc_item *it);

#endif /* FAULT_SC_LOADER_H */
