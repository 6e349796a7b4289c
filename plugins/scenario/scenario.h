/*
 * plugins/scenario/scenario.h - what the files of the scenario plugin share.
 *
 * `fault scenario run` reads YAML scenario files (loader.c) into the model
 * below, runs every item against a proxy started as a child `fault run`
 * process (proxy.c, runner.c, strategies.c, http.c), and writes what
 * happened as results.json (results.c) and as reports (report_md.c,
 * report_junit.c, report_html.c). `fault scenario generate` reads an
 * OpenAPI document (openapi.c) and writes scenario files (yamlout.c).
 *
 * The loader, the OpenAPI reader and the writers use only the C library,
 * libyaml and cJSON, so the fuzz targets can build them without the host.
 * Everything else runs on the host's libuv loop, on one thread.
 */
#ifndef FAULT_SCENARIO_H
#define FAULT_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>
#include <fault/parse.h>

/* ---- the model of a scenario file (loader.c) ---- */

/* Where a node starts in its file, 1-based, for error messages. */
typedef struct sc_mark {
    int line, col;
} sc_mark;

typedef enum sc_fault_type {
    SC_LATENCY = 0,
    SC_PACKETLOSS,
    SC_BANDWIDTH,
    SC_JITTER,
    SC_HTTPERROR,
    SC_BLACKHOLE,
    SC_DNS,      /* the DNS proxy of `fault run dns`: at most one per item */
    SC_POSTGRES, /* the database cases on psql:// mappings: at most one per item */
    SC_LLM,
    SC_NFAULT_TYPES
} sc_fault_type;

/* The settings of an llm fault: its key in a scenario file, the llm
 * plugin's option it sets in the child, and what it takes ('e' one of
 * choices, 'n' a number and 'i' a whole number within [min, max], 's' a
 * string). The table is sc_llm_keys (faults.c); an sc_fault keeps each
 * value given as text, by index. */
typedef struct sc_llm_key {
    const char *key, *flag;
    char kind;
    const char *const *choices;
    double min, max;
} sc_llm_key;
enum {
    SC_LLM_CASE = 0,
    SC_LLM_SCRAMBLE_PATTERN = 6,
    SC_LLM_SCRAMBLE_WITH = 7,
    SC_LLM_INSTRUCTION = 8,
    SC_LLM_BIAS_PATTERN = 9,
    SC_LLM_BIAS_REPLACEMENT = 10,
    SC_LLM_KEYS = 22
};
extern const sc_llm_key sc_llm_keys[SC_LLM_KEYS];

/* One fault of an item's context, as written. Fields a file leaves out
 * keep their has_ flag false; sc_fault_effective() fills the defaults. */
typedef struct sc_fault {
    sc_fault_type type;
    sc_mark mark;
    char *side;      /* "client" | "server", lower-cased; NULL: default */
    char *direction; /* "ingress" | "egress" | "both"; NULL: default */
    char *period;    /* schedule text, validated; NULL: always on */
    /* latency */
    char *distribution; /* "uniform" | "normal" | "pareto" | "pareto-normal" */
    bool has_mean, has_stddev, has_min, has_max, has_shape, has_scale, has_global;
    double mean, stddev, min, max, shape, scale;
    bool global; /* false: every read/write is delayed (--latency-per-read-write) */
    /* bandwidth */
    bool has_rate;
    int64_t rate;
    char *unit; /* "Bps" | "KBps" | "MBps" | "GBps", normalised */
    /* jitter */
    bool has_amplitude, has_frequency;
    double amplitude, frequency;
    /* httperror */
    bool has_status, has_probability;
    int status_code;
    double probability;
    char *body;
    /* dns (probability above too) */
    char *dns_case;       /* a --case of fault run dns */
    char *resolver;       /* IP[:PORT]; NULL: the proxy's default */
    char *listen;         /* IP:PORT; NULL: the proxy's default */
    char *names, *qtypes; /* comma-separated lists; NULL: all */
    bool has_delay, has_ttl;
    double delay_ms;
    int64_t ttl;
    /* postgres (probability, mean and stddev above too) */
    char *pg_cases;   /* comma-separated --pg-case values */
    char *statement;  /* PCRE2 pattern; NULL: every statement */
    char *error_code; /* SQLSTATE */
    bool has_deadlock_rate, has_corruption_rate;
    double deadlock_rate, corruption_rate;
    /* llm: the values given, by sc_llm_keys index (NULL: not given) */
    char *llm[SC_LLM_KEYS];
} sc_fault;

typedef struct sc_pair {
    char *name, *value;
} sc_pair;

typedef struct sc_slo {
    bool is_error; /* type "error"; otherwise "latency" */
    char *title;
    double objective, threshold;
    sc_mark mark;
} sc_slo;

typedef enum sc_mode { SC_SINGLE = 0, SC_REPEAT, SC_LOAD } sc_mode;

typedef struct sc_strategy {
    sc_mode mode;
    /* repeat */
    double step;
    int64_t count;
    bool failfast, add_baseline_call;
    bool has_wait;
    double wait_ms;
    /* load */
    char *duration_text;
    uint64_t duration_us;
    int64_t clients, rps;
} sc_strategy;

typedef struct sc_item {
    sc_mark mark;
    /* call */
    char *method;
    char *url;          /* as written */
    char *resolved_url; /* with config.http.paths.segments applied */
    sc_pair *headers;   /* config.http.headers, then the call's own */
    size_t nheaders;
    char *body;
    bool has_timeout;
    double timeout_ms;
    char *operation_id;
    /* context */
    char **upstreams;
    size_t nupstreams;
    sc_fault *faults;
    size_t nfaults;
    sc_strategy strategy;
    sc_slo *slos;
    size_t nslos;
    bool disable_http_proxies;
    char **proxies; /* --proxy mappings */
    size_t nproxies;
    /* expect */
    bool has_expect, has_status, has_rtu, has_all_slo;
    int status;
    double response_time_under;
    bool all_slo_are_valid;
} sc_item;

typedef struct sc_scenario {
    char *file;
    sc_mark mark;
    char *title;
    char *description;
    sc_item *items;
    size_t nitems;
} sc_scenario;

typedef struct sc_suite {
    sc_scenario *scenarios;
    size_t n;
} sc_suite;

/* Loads every document of one file, or every .yaml/.yml file of a
 * directory (sorted by name), appending scenarios to suite. On any error
 * returns -1 with "FILE:LINE:COLUMN: what" in err, and suite holds only
 * what was loaded before. */
int sc_load_path(const char *path, sc_suite *suite, char *err, size_t errlen);
/* Same, except that in a directory a file that does not load is left out
 * (skip is called with its error) and the others are loaded; -1 only when
 * no file of the directory loads, or the path itself cannot be read. */
typedef void (*sc_skip_cb)(const char *err, void *ud);
int sc_load_path_skipping(const char *path, sc_suite *suite, sc_skip_cb skip, void *ud, char *err,
                          size_t errlen);
/* Same for a buffer; name is used in messages. */
int sc_load_buffer(const char *name, const char *data, size_t len, sc_suite *suite, char *err,
                   size_t errlen);
void sc_suite_free(sc_suite *suite);

/* ---- faults (faults.c) ---- */

const char *sc_fault_type_name(sc_fault_type t); /* "latency", "packetloss", ... */
/* Plugin (event) name of a fault type: "latency", "packet-loss", ... */
const char *sc_fault_plugin_name(sc_fault_type t);
/* A copy of f with every default filled in; free with sc_fault_clear(). */
void sc_fault_effective(const sc_fault *f, sc_fault *out);
void sc_fault_clear(sc_fault *f);
/* The fault as the scenario file states it (results.json echo). */
cJSON *sc_fault_to_json(const sc_fault *f, bool effective);
/* One line for reports: "Latency: server ingress, Per Read/Write Op.: false, Mean: 80.00 ms". */
void sc_fault_describe(const sc_fault *f, char *buf, size_t len);
/* Checks a schedule text; 0, or -1 with the reason in err. */
int sc_period_check(const char *text, char *err, size_t errlen);
/* The windows [start, end) in microseconds during which a schedule is on,
 * for a run of run_us (relative periods are fractions of it); open ends
 * are clipped to run_us when clip is true, UINT64_MAX otherwise. Returns
 * the count (0 on error); *out is malloc'd. A NULL text is one window
 * [0, run_us or UINT64_MAX). */
size_t sc_period_windows(const char *text, uint64_t run_us, bool clip, uint64_t (**out)[2]);
/* The `0% .xx....... 100%` row of a fault over a run of run_us. */
void sc_period_timeline(const char *text, uint64_t run_us, char row[11]);

/* A string vector for child process arguments. */
typedef struct sc_argv {
    char **v;
    size_t n, cap;
} sc_argv;
int sc_argv_add(sc_argv *a, const char *s);
int sc_argv_addf(sc_argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sc_argv_free(sc_argv *a);

/* The faults a child proxy runs: one plugin instance per fault, named as
 * the child names it ("latency", then "latency#2", ...). */
#define SC_MAX_INSTANCES    16 /* of one fault plugin, the proxy's limit */
#define SC_MAX_CHILD_FAULTS (SC_NFAULT_TYPES * SC_MAX_INSTANCES)
typedef struct sc_child_fault {
    char name[48]; /* instance name in the child's events */
    sc_fault_type type;
    size_t fault;   /* index into the item's faults */
    bool scheduled; /* has windows (else on for the child's whole life) */
} sc_child_fault;
typedef struct sc_child_faults {
    sc_child_fault inst[SC_MAX_CHILD_FAULTS];
    size_t n;
} sc_child_faults;

/* Appends the `fault run` flags for the faults of one run. mean_add is
 * added to every latency mean (repeat step); run_us is the length of
 * the run for relative periods (0: none is known); clip ends open
 * windows there. Each fault gets its own plugin instance in the child
 * (`--instance`), with its own settings and windows, described in *cf.
 * Returns 0, -1 (out of memory) or -2 (more than SC_MAX_INSTANCES faults
 * of one type act in the run). */
int sc_fault_flags(const sc_fault *faults, size_t n, double mean_add, uint64_t run_us, bool clip,
                   sc_argv *argv, sc_child_faults *cf);
/* The flags that come first when an item has a dns fault: the mode word
 * ("dns") and the DNS proxy's options. The proxy serves every run of the
 * item, baseline included (the application keeps resolving through it);
 * the case and its window apply only when faulted is true. Appends
 * nothing when there is no dns fault; adds its instance to *cf. Returns
 * 0 or -1 (out of memory). */
int sc_fault_dns_flags(const sc_fault *faults, size_t n, bool faulted, uint64_t run_us, bool clip,
                       sc_argv *argv, sc_child_faults *cf);
/* The scenario type name of a fault plugin instance's events
 * ("latency#2" -> "latency"); the name itself when it is none of ours. */
const char *sc_fault_type_of_instance(const char *instance);

/* ---- small helpers (util.c) ---- */

typedef struct sc_buf {
    char *p;
    size_t len, cap;
    bool oom;
} sc_buf;
void sc_buf_put(sc_buf *b, const char *s, size_t n);
void sc_buf_puts(sc_buf *b, const char *s);
void sc_buf_printf(sc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* XML/HTML text escaping, for text and double-quoted attributes (the
 * writers never single-quote one). */
void sc_buf_xml(sc_buf *b, const char *s);
/* Markdown table cell: pipes and newlines escaped. */
void sc_buf_md(sc_buf *b, const char *s);
void sc_buf_free(sc_buf *b);

char *sc_strdup(const char *s);
char *sc_strndup(const char *s, size_t n);
/* Writes data to path atomically (path.tmp, fsync, rename). Returns 0 or
 * -1 with the reason in err. */
int sc_write_atomic(const char *path, const char *data, size_t len, char *err, size_t errlen);
/* Reads a whole file (NUL terminated); NULL with err set on failure. */
char *sc_read_file(const char *path, size_t *len, char *err, size_t errlen);
bool sc_has_ext(const char *path, const char *ext); /* case-insensitive ".ext" */
/* Wall clock in microseconds since the epoch. */
uint64_t sc_wall_us(void);
/* "2025-05-05 11:20:12.665603 UTC" */
void sc_format_wall(uint64_t wall_us, char *buf, size_t len);
/* "1 second and 968 ms", "464 ms" */
void sc_format_span(uint64_t us, char *buf, size_t len);
/* The value of an Authorization-like header as reports show it. */
const char *sc_header_shown(const char *name, const char *value);
/* url with the values of secret query parameters masked (a rotating
 * buffer: valid until four more calls). */
const char *sc_url_shown(const char *url);

/* ---- YAML output (yamlout.c) ---- */

/* Appends doc as one YAML document ("---" first when explicit_start). */
int sc_yaml_emit(sc_buf *out, const cJSON *doc, bool explicit_start);

/* ---- results (runner.c fills them; results.c and report_*.c read) ---- */

/* One fault event the proxy reported for a request. */
typedef struct sc_applied {
    char *url;    /* "host:port" the faulted connection went to */
    cJSON *event; /* {"type", "direction", "side", "delay", ...} */
    uint64_t wall_us;
} sc_applied;

typedef struct sc_call {
    int iteration;          /* repeat: -1 baseline, 0..; load: client */
    uint64_t start_wall_us; /* when the request was sent */
    uint64_t end_wall_us;   /* when it ended */
    double offset_ms;       /* start, relative to the item's start */
    double response_ms;     /* total time */
    double ttfb_ms, dns_ms;
    bool dns_resolved;
    char *dns_host;
    int status; /* 0: no HTTP answer */
    int64_t body_len;
    bool errored, timed_out;
    char *error;      /* why, when errored */
    char local[64];   /* our "ip:port", to find the connection */
    double mean_add;  /* repeat step added to latency means */
    bool with_faults; /* false for a baseline call */
    bool evaluated;   /* judged against expect */
    bool success;
    char *reason; /* why it failed */
    sc_applied *applied;
    size_t napplied, capplied;
} sc_call;

/* When a fault was actually on during an item, from the proxy's events
 * (and its declared windows when the proxy never switched it). */
typedef struct sc_activity {
    char *fault; /* plugin instance name ("latency", "latency#2") */
    char *label; /* description for legends */
    size_t nwin;
    double (*win)[2]; /* [start_ms, end_ms) relative to the item start */
} sc_activity;

typedef struct sc_slo_result {
    const sc_slo *slo;
    double value; /* the percentile (ms) or the error rate (%) */
    bool pass;
    double margin; /* |value - threshold| */
    size_t over;   /* requests over the threshold (errors for error SLOs) */
} sc_slo_result;

typedef struct sc_item_result {
    const sc_scenario *scenario;
    const sc_item *item;
    size_t index; /* 1-based, across the whole run */
    bool ran, interrupted, passed;
    char *error;   /* the item could not run (proxy, ...) */
    char *warning; /* e.g. merged faults */
    uint64_t start_wall_us, end_wall_us, total_us;
    sc_call *calls;
    size_t ncalls, ccalls;
    size_t failures; /* expectation failures */
    sc_slo_result *slo;
    size_t nslo;
    bool slo_ok;
    sc_activity *act;
    size_t nact;
    uint64_t run_us; /* load duration (timeline), else 0 */
} sc_item_result;

typedef struct sc_run_result {
    uint64_t start_wall_us, end_wall_us;
    sc_item_result *items;
    size_t nitems;
    bool interrupted;
} sc_run_result;

void sc_run_result_free(sc_run_result *r);
/* The results of scenario s of the suite are r->items[*first .. *end).
 * Returns whether any of those items ran: every output leaves out a
 * scenario none of whose items ran (the run was interrupted before it). */
bool sc_scenario_ran(const sc_run_result *r, const sc_suite *suite, size_t s, size_t *first,
                     size_t *end);

/* ---- statistics (stats.c) ---- */

typedef struct sc_stats {
    size_t n, errors;
    double min, max, mean, median;
    double pct[5];       /* p25, p50, p75, p95, p99 */
    size_t pct_count[5]; /* requests at or under each */
} sc_stats;
extern const double sc_pcts[5];
void sc_stats_compute(const sc_item_result *ir, sc_stats *st);
/* Nearest-rank percentile of sorted[0..n). */
double sc_percentile(const double *sorted, size_t n, double p);
/* An error for SLOs and the overview: no answer, or a 5xx. */
bool sc_call_is_error(const sc_call *c);
/* Judges the SLOs of ir's item; fills ir->slo, ir->nslo, ir->slo_ok. */
int sc_slo_evaluate(sc_item_result *ir);
/* "single shot", "repeat 3 times with a step of 30", "load for 10s with 3 clients @ 2 RPS" */
void sc_strategy_describe(const sc_strategy *s, char *buf, size_t len);
/* "Response time Under 490ms | Status Code 200", or "-" */
void sc_expect_describe(const sc_item *it, char *buf, size_t len);

/* ---- writers ---- */

/* results.json, or YAML when path ends in .yaml/.yml. */
int sc_results_write(const sc_run_result *r, const sc_suite *suite, const char *path, char *err,
                     size_t errlen);
cJSON *sc_results_json(const sc_run_result *r, const sc_suite *suite);
/* The report, by extension: .json/.yaml/.yml an analysis document,
 * .html/.htm the HTML page, anything else Markdown. */
int sc_report_write(const sc_run_result *r, const sc_suite *suite, const char *path, char *err,
                    size_t errlen);
void sc_report_md(const sc_run_result *r, const sc_suite *suite, sc_buf *out);
void sc_report_junit(const sc_run_result *r, const sc_suite *suite, sc_buf *out);
void sc_report_html(const sc_run_result *r, const sc_suite *suite, sc_buf *out);
cJSON *sc_report_json(const sc_run_result *r, const sc_suite *suite);

/* ---- OpenAPI (openapi.c) ---- */

/* One operation of an OpenAPI document, ready to become scenarios. */
typedef struct sc_operation {
    char *method; /* upper case */
    char *path;   /* "/users/{id}" */
    char *url;    /* server + path */
    char *operation_id;
    char *body;        /* compact JSON for POST/PUT/PATCH, or NULL */
    sc_pair *segments; /* path parameters and an example value ("" if none) */
    size_t nsegments;
} sc_operation;

typedef struct sc_api {
    char *version; /* "3.0.3" */
    char *base;    /* server URL without a trailing slash */
    sc_operation *ops;
    size_t nops;
} sc_api;

/* Parses an OpenAPI 3.0.x/3.1.x document (JSON or YAML). base_url, when
 * not NULL, resolves a relative server URL. Returns 0 or -1 with err. */
int sc_openapi_parse(const char *name, const char *data, size_t len, const char *base_url,
                     sc_api *api, char *err, size_t errlen);
void sc_api_free(sc_api *api);
/* The eight default scenarios of one operation, as cJSON documents,
 * appended to docs (a cJSON array). */
int sc_generate_for(const sc_api *api, const sc_operation *op, cJSON *docs);
/* YAML (libyaml) to cJSON, bounded in depth and size (aliases expand). */
cJSON *sc_yaml_to_json(const char *data, size_t len, char *err, size_t errlen);

#endif /* FAULT_SCENARIO_H */
