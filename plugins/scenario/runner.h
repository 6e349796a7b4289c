/*
 * plugins/scenario/runner.h - the running side of `fault scenario run`:
 * the child proxy (proxy.c), HTTP calls (http.c), the strategies
 * (strategies.c), correlating the proxy's events with our calls
 * (events.c) and the item sequencer (runner.c).
 *
 * Everything here runs on the host's libuv loop, on one thread, and is
 * callback driven: starting a proxy, making a call or stopping the proxy
 * returns at once and reports through a callback on a later loop turn.
 */
#ifndef FAULT_SCENARIO_RUNNER_H
#define FAULT_SCENARIO_RUNNER_H

#include <uv.h>

#include <fault/plugin.h>

#include "scenario.h"

/* The plugin's options (the host writes them; see scenario.c). */
typedef struct sc_options {
    const char *scenario;
    const char *report;
    const char *result;
    const char *proxy_address;
    const char *junit;
    const char *html;
    const char *spec_file;
    const char *spec_url;
    uint64_t call_timeout_us;
    int64_t seed;
    bool has_seed;
    bool no_progress;
    /* derived */
    uv_loop_t *loop;
} sc_options;

/* ---- proxy.c: one `fault run` child ---- */

/* One event of the child's --events stream, as the runner needs it. */
typedef enum sc_ev_type {
    SC_EV_OTHER = 0,
    SC_EV_LISTENING,
    SC_EV_CONN_OPEN,
    SC_EV_CONN_CLOSE,
    SC_EV_FAULT_APPLIED,
    SC_EV_FAULT_STATE,
    SC_EV_HTTP_REQUEST,
    SC_EV_HTTP_RESPONSE,
    SC_EV_ERROR
} sc_ev_type;

typedef struct sc_event {
    sc_ev_type type;
    uint64_t wall_us;
    uint64_t conn;
    char *peer, *target, *fault, *side, *direction, *url, *message;
    bool active;
    int status;
    cJSON *params; /* FAULT_APPLIED: the params object, owned */
} sc_event;

typedef struct sc_proxy sc_proxy;
/* status 0: every listener is up; otherwise the child failed to start,
 * with what it said in msg, and exit_status its status (-1 if it did
 * not exit, e.g. a timeout). */
typedef void (*sc_proxy_ready_cb)(sc_proxy *p, int status, int exit_status, const char *msg,
                                  void *ud);
typedef void (*sc_proxy_exit_cb)(sc_proxy *p, void *ud);

/* Spawns `EXE run ARGS... --events -` and counts "listening" events until
 * `listeners` have been seen. */
sc_proxy *sc_proxy_start(uv_loop_t *loop, const char *exe, const sc_argv *args, int listeners,
                         sc_proxy_ready_cb cb, void *ud, char *err, size_t errlen);
/* The arguments the child was started with (to reuse it for equal runs). */
const sc_argv *sc_proxy_args(const sc_proxy *p);
uint64_t sc_proxy_ready_wall_us(const sc_proxy *p);
/* SIGTERM (SIGKILL after 5 s, or at once when force), then cb once the
 * child has exited and its output is read. */
void sc_proxy_stop(sc_proxy *p, bool force, sc_proxy_exit_cb cb, void *ud);
/* After the exit callback: true when the child ended by itself while it
 * was serving (a crash), with what to tell the user in why. */
bool sc_proxy_died(const sc_proxy *p, char *why, size_t len);
/* Events read so far (all of them after the exit callback). */
const sc_event *sc_proxy_events(const sc_proxy *p, size_t *n);
/* Frees a proxy whose exit callback has run. */
void sc_proxy_free(sc_proxy *p);
/* Builds the environment for children: ours minus the FAULT_* variables
 * that would configure the proxy behind the scenario's back. */
char **sc_child_env(void);
void sc_child_env_free(char **env);

/* ---- http.c: calls with libcurl multi on the loop ---- */

typedef struct sc_http sc_http;
typedef struct sc_req_spec {
    const char *method, *url, *body;
    const sc_pair *headers;
    size_t nheaders;
    uint64_t timeout_ms;
    const char *proxy; /* "http://127.0.0.1:3180" or NULL for direct */
} sc_req_spec;
/* The call's outcome; the callback takes ownership of the strings in it
 * (dns_host, error). */
typedef void (*sc_req_cb)(sc_call *result, void *ud, uintptr_t tag);

sc_http *sc_http_new(uv_loop_t *loop, char *err, size_t errlen);
int sc_http_start(sc_http *h, const sc_req_spec *spec, sc_req_cb cb, void *ud, uintptr_t tag);
size_t sc_http_inflight(const sc_http *h);
/* Drops every call in flight; their callbacks never run. */
void sc_http_cancel_all(sc_http *h);
void sc_http_free(sc_http *h);

/* ---- events.c ---- */

/* What one child was told to do (sc_child_faults, scenario.h) gives the
 * fault activity timeline. */
/* Attributes the FAULT_APPLIED events of one child to calls[idx[k]]
 * (the calls that child served), and adds the fault activity seen during
 * its life (from ready to stop) to ir->act. */
void sc_correlate(sc_item_result *ir, const size_t *idx, size_t nidx, const sc_event *ev,
                  size_t nev, const sc_child_faults *cf, uint64_t child_ready_wall,
                  uint64_t child_stop_wall);

/* ---- strategies.c ---- */

/* One proxy configuration of an item and what to send through it: one
 * call (single shot, each repeat iteration, the baseline) or the load. */
typedef struct sc_plan_run {
    bool baseline;   /* no faults */
    double mean_add; /* repeat step added to latency means */
    int iteration;   /* -1 for the baseline */
    bool load;
} sc_plan_run;

/* The runs of an item, in order; *out is malloc'd. */
size_t sc_plan(const sc_item *it, sc_plan_run **out);
/* Judges one single-shot or repeat call against the item's expect. */
void sc_judge_call(const sc_item *it, sc_call *c);

typedef struct sc_runner sc_runner;
/* Starts one call of the current item (runner.c). tag is given back with
 * the result (the load passes the client number). */
int sc_runner_start_call(sc_runner *R, int iteration);

typedef struct sc_load sc_load;
typedef void (*sc_load_done_cb)(void *ud);
/* Open-loop load: clients x rps requests per second, each sent at its
 * scheduled time whatever the earlier ones are doing. done runs once
 * every request has been sent and has ended. */
sc_load *sc_load_start(sc_runner *R, uv_loop_t *loop, const sc_strategy *s, sc_load_done_cb done,
                       void *ud);
/* A call started by the load has ended. */
void sc_load_call_ended(sc_load *l);
/* Stops sending (Ctrl-C); done never runs. Frees l on a later turn. */
void sc_load_cancel(sc_load *l);
/* Frees a load whose done callback ran. */
void sc_load_free(sc_load *l);

/* ---- generate.c ---- */

/* `fault scenario generate`: returns the exit status. */
int sc_generate(sc_options *o);

/* ---- runner.c ---- */

/* Runs the suite; returns the exit status (0, 1, 130 when interrupted). */
int sc_run(sc_options *o, const sc_suite *suite);

#endif /* FAULT_SCENARIO_RUNNER_H */
