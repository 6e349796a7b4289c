/*
 * core/internal.h - what the pieces of libfaultcore share with each other.
 *
 * Names here use the fault__ prefix and are hidden from plugins
 * (-fvisibility=hidden); plugins only see what sdk/fault/ declares.
 */
#ifndef FAULT_CORE_INTERNAL_H
#define FAULT_CORE_INTERNAL_H

#include <stdio.h>

#include <uv.h>

#include <fault/chain.h>
#include <fault/plugin.h>

#include "parse.h"

#define FAULT__ERRLEN 512

#define fault__container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* ---- errors (util.c) ---- */

/* Translates a libuv, getaddrinfo or negated errno code into the SDK's
 * FAULT_E* codes (<fault/common.h>): what reaches a plugin goes through
 * here. Non-negative values pass unchanged. */
int fault__err(int code);

/* ---- secrets (secret.c) ---- */

/* A fault parameter's text as events show it: secret keys masked, and
 * URLs (or paths) with their secret query values masked (into buf). */
const char *fault__param_shown(const fault_param *p, char *buf, size_t len);
/* The user's extra secret names (--mask / FAULT_MASK); kept, not copied. */
void fault__secrets_set(const fault_strv *patterns);
/* Whether a query parameter called name has its value masked. */
bool fault__secret_param(const char *name);

/* ---- plugin instances (loader.c) ---- */

/* Who owns an option table: a plugin instance, or the core itself. */
typedef struct fault__optowner {
    const char *name;         /* plugin name, or "core" */
    const fault_option *opts; /* table, FAULT_OPTION_END terminated */
    void *block;              /* where values are written */
    uint8_t *set;             /* one flag per option: given by the user, on
                               * the command line (1) or through its
                               * environment variable (2) */
    size_t nopts;
} fault__optowner;

/* One instance of a loaded plugin. The first instance of each plugin is
 * created when its file is loaded and owns the dlopen() handle; `fault
 * run --instance NAME` (and later the control API) adds more, each with
 * its own state, options, schedule, generator and name ("latency#2"). */
struct fault_plugin {
    const fault_plugin_descriptor *d;
    char *path;
    void *dl;    /* the first instance's handle; NULL for later ones */
    char *name;  /* d->name for the first instance, then "NAME#N" */
    int ordinal; /* 1 for the first instance of its plugin, then 2, 3... */
    void *state;
    fault__optowner opt;
    fault_rng rng;
    bool enabled;          /* its ENABLE option (true when it has none) */
    bool active;           /* enabled and inside its schedule */
    fault_schedule *sched; /* its schedule option value, or NULL */
    uv_timer_t sched_timer;
    bool sched_timer_init;
    bool started;
    char err[FAULT__ERRLEN];
    int index;           /* load order */
    size_t want_body[2]; /* fault_http_want_body(), per fault_http_msg */
    fault_plugin *next;
};

/* Plugin instances of one run, in all (the loader refuses more): each has
 * its own bit, its load index, in a fault__pset, so that an exchange knows
 * exactly which plugins watch its bodies and hear its end. */
#define FAULT__MAX_PLUGINS 256

typedef struct fault__pset {
    uint64_t w[FAULT__MAX_PLUGINS / 64];
} fault__pset;

static inline bool fault__pset_empty(const fault__pset *ps)
{
    for (size_t i = 0; i < sizeof ps->w / sizeof ps->w[0]; i++)
        if (ps->w[i])
            return false;
    return true;
}
static inline void fault__pset_add(fault__pset *ps, const fault_plugin *p)
{
    ps->w[p->index / 64] |= 1ull << (p->index % 64);
}
static inline bool fault__pset_has(const fault__pset *ps, const fault_plugin *p)
{
    return (ps->w[p->index / 64] >> (p->index % 64)) & 1u;
}

/* A plugin file found in a plugin directory, loaded or refused. */
typedef struct fault__found {
    char *path;
    char *name;                       /* descriptor name, or the file name when refused early */
    const fault_plugin_descriptor *d; /* NULL when refused */
    char *refused;                    /* reason, NULL when loaded */
    struct fault__found *next;
} fault__found;

/* Scans the plugin directories, loads every plugin it can, creates an
 * instance for each (state allocated, defaults applied, init() called).
 * Refusals are printed to stderr as one line each and kept in the found
 * list for `fault plugins`. */
/* command: the command about to run (hinted plugins of other commands are
 * skipped), or NULL to load every plugin. */
int fault__plugins_load(const char *const *dirs, size_t ndirs, const char *command, int argc,
                        char **argv);
/* The hint option (e.g. "grpc-plugin") of a plugin left unloaded because
 * it was not given, when the option name (len bytes, no dashes) extends
 * it ("grpc-plugin-timeout"); else NULL. */
const char *fault__skipped_option(const char *name, size_t len);
fault_plugin *fault__plugins(void); /* instances, in load order */
fault__found *fault__plugins_found(void);
/* The instance named name: "latency" is the plugin's first instance,
 * "latency#2" its second. */
fault_plugin *fault__plugin_by_name(const char *name);
/* Creates the next instance of the loaded fault plugin named plugin
 * ("latency" -> "latency#2"): own state block, defaults applied, init()
 * called, enabled (its ENABLE option set), its own generator, placed after
 * the plugin's other instances. Returns NULL with a message in err (no
 * such plugin, not a fault, too many instances, init failed). */
fault_plugin *fault__plugin_instance_new(const char *plugin, char *err, size_t errlen);
/* Calls destroy() on every instance, frees them, then dlclose()s. */
void fault__plugins_unload(void);
void fault__plugins_seed(uint64_t seed);
/* Pseudo-instance for the core's own log lines and events. */
fault_plugin *fault__core_plugin(void);

/* ---- options (options.c) ---- */

/* Writes defaults into owner->block (no user values). Returns 0 or
 * FAULT_ESYNTAX when a built-in default does not parse (a plugin bug). */
int fault__options_defaults(fault__optowner *o, char *err, size_t errlen);
/* Parses argv (no program or command word) against the owners: options
 * anywhere, positional words collected into pos (caller-allocated, argc
 * slots). Stops option parsing after "--". Returns 0 or 2 after printing
 * one error line to stderr. */
int fault__options_parse(fault__optowner **owners, size_t nowners, int argc, char **argv,
                         char **pos, int *npos, const char *command);
/* The same, calling stored(ud, owners, nowners, owner, idx) after each
 * value is stored; it may replace entries of owners (`fault run
 * --instance`) and returns 0, or 2 after printing one error line. */
typedef int (*fault__opt_stored_cb)(void *ud, fault__optowner **owners, size_t nowners,
                                    fault__optowner *owner, size_t idx);
int fault__options_parse_cb(fault__optowner **owners, size_t nowners, int argc, char **argv,
                            char **pos, int *npos, const char *command, fault__opt_stored_cb stored,
                            void *ud);
/* Applies environment variables to options not set on the command line.
 * Returns 0 or 2 after printing one error line. */
int fault__options_env(fault__optowner **owners, size_t nowners);
/* Prints --help text for the owners' options. */
void fault__options_help(FILE *out, fault__optowner *o, const char *title);
/* Frees strings, lists and schedules held in the block. */
void fault__options_release(fault__optowner *o);
const fault_option *fault__option_find(const fault__optowner *o, const char *name, size_t *idx);
/* The environment variable of an option (explicit, or FAULT_ + NAME). */
void fault__option_env_name(const fault_option *opt, char *buf, size_t len);
/* The placeholder shown after a flag in help (NULL for booleans). */
const char *fault__option_metavar(const fault_option *opt);
/* "a, b, c" for the built-in choice types (SIDE, DIRECTION), else NULL. */
const char *fault__option_choices(const fault_option *opt);
/* Parses one value into dst for option opt; err gets a message. */
int fault__option_parse_value(const fault_option *opt, const char *value, void *dst, char *err,
                              size_t errlen);

/* ---- logging (log.c) ---- */

int fault__log_setup(const char *file, bool to_stdout, const char *level, char *err, size_t errlen);
void fault__log_close(void);
/* util.c: opens a file the core writes as it goes (--log-file appends,
 * --events truncates) without following a link to a regular file, which
 * someone may have planted there (a link to a terminal, a pipe or
 * /dev/stdout is fine). NULL with errno set (ELOOP for such a link). */
FILE *fault__open_output(const char *path, bool append);

/* ---- events (event.c) ---- */

void fault__events_drop_owner(fault_plugin *p);
void fault__events_reset(void);

/* ---- run control (runctl.c) ---- */

typedef struct fault__run {
    uv_loop_t *loop;
    uint64_t start_us;    /* fault_now_us() when the run started */
    uint64_t duration_us; /* 0: unlimited */
    uint64_t seed;
    bool stopping;
    int exit_status;
    uv_signal_t sigint, sigterm;
    bool signals_open; /* sigint/sigterm initialised and not closed yet */
    uv_timer_t duration_timer;
} fault__run;

extern fault__run fault__g;

/* Resolves every plugin's schedule against the run duration; prints one
 * error line and returns 2 on failure. */
int fault__sched_prepare(void);
/* Arms schedule timers, the duration timer and signal handlers. */
int fault__runctl_start(void);
/* Begins an orderly stop: listeners and timers closed, plugins stopped,
 * live streams closed. Safe to call more than once. The signal handlers
 * stay (unreferenced: they do not keep the loop running), so that a second
 * Ctrl-C while the run drains exits at once (status 130). */
void fault__runctl_stop(int status);
/* Closes the signal handlers, once the loop has nothing else to run. */
void fault__runctl_close_signals(void);
/* Sets p's active flag, publishes FAULT_STATE, informs the plugin and
 * releases chunks it holds when it turns inactive. */
void fault__plugin_set_active(fault_plugin *p, bool active);

/* ---- microsecond timers (timers.c) ---- */

typedef struct fault__timer {
    uint64_t at_us; /* deadline on the fault_now_us() clock */
    uint64_t seq;   /* ties broken in start order */
    size_t slot;    /* place in the heap; SIZE_MAX when not armed */
    void (*cb)(struct fault__timer *t);
} fault__timer;

#define FAULT__TIMER_INIT(t) ((t)->slot = SIZE_MAX)
/* Frees the <fault/timer.h> timers p left behind (at unload). */
void fault__timers_drop_owner(fault_plugin *p);
/* (Re)arms t for at_us; cb runs from the loop once the time has come. */
int fault__timer_start(fault__timer *t, uint64_t at_us, void (*cb)(fault__timer *t));
void fault__timer_stop(fault__timer *t);
bool fault__timer_armed(const fault__timer *t);
void fault__timers_shutdown(void);

/* ---- streams (relay.c) and chains (chain.c) ---- */

/* A chunk travelling through a chain; owned by the stage it sits in. */
typedef struct fault__node {
    struct fault__node *next;
    fault_chain *chain;
    fault_chunk c;
    uint8_t *alloc; /* storage c.data points into when replaced */
    bool eof;
} fault__node;

typedef struct fault__attachment {
    fault_plugin *p;
    void *cs;
    uint32_t points;
} fault__attachment;

struct fault__relay;

struct fault_stream {
    uint64_t id;
    fault_plugin *owner;
    fault_conn *client, *server;
    char *target;
    char scheme[16];
    char peer[64];
    fault__attachment *att; /* natt of them, in load order (fault_stream_attach()) */
    int natt;
    bool attached;
    fault_chain *chains; /* live chains of this stream */
    fault_stream_end_cb end_cb;
    void *end_ud;
    struct fault__relay *relay; /* set when fault_stream_relay() runs it */
    bool ending;
    bool gone; /* ended; memory freed when refs drops to 0 */
    int refs;
    fault_stream *prev, *next;
};

/* Chains: the relay gives each chain an internal sink that takes the
 * node (and its bytes) over, so relayed bytes are written without a copy. */
typedef void (*fault__sink)(void *ud, fault__node *n);
/* A chain whose stages are the HTTP on_body hooks for x of the plugins
 * in mask (bits by load index, as fault_http_exchange's seen). */
fault_chain *fault__body_chain_new(fault_stream *s, fault_direction dir, fault_http_exchange *x,
                                   const fault__pset *mask, const fault_chain_ops *ops,
                                   void *userdata);
fault_chain *fault__chain_new(fault_stream *s, fault_direction dir, fault_side sides,
                              fault__sink sink, void *ud);
/* Pushes bytes as a node (copied). */
int fault__chain_push(fault_chain *c, const uint8_t *data, size_t len);
void fault__chain_wake(fault_chain *c);
/* Clears HOLD at every stage, then pumps. */
void fault__chain_wake_held(fault_chain *c);
/* Clears HOLD and pumps every chain of s, safely against chains freed by
 * the wake itself. */
void fault__chains_wake_all(fault_stream *s);
/* An EOF already entered the chain (fault_chain_eof() or a close). */
bool fault__chain_has_eof(const fault_chain *c);
fault_stream *fault__chain_stream(const fault_chain *c);
void fault__node_free(fault__node *n);
fault__node *fault__node_new(fault_chain *c, const uint8_t *data, size_t len);
/* A stage asked for FAULT_CLOSE or FAULT_RESET (stream.c sends it to
 * whoever moves the stream's bytes). */
void fault__stream_fault_end(fault_stream *s, bool reset);
/* The stream (stream.c): references held across callbacks that may end
 * it, and its end (detaches the faults, publishes CONN_CLOSE, frees it
 * once unreferenced). */
void fault__stream_ref(fault_stream *s);
void fault__stream_unref(fault_stream *s);
void fault__stream_free(fault_stream *s, uint64_t eg, uint64_t in, int error);
/* The relay (relay.c) of a relayed stream. */
typedef struct fault__relay fault__relay;
void fault__relay_end(fault_stream *s, bool reset, int error);
void fault__relay_close(fault_stream *s);
uint64_t fault__relay_bytes(const fault__relay *r, fault_direction dir);

/* ---- the zero-copy relay (splice.c) ---- */

typedef struct fault__splice fault__splice;
bool fault__splice_enabled(void);
/* Takes both connections over (they are closed) and relays with splice(2);
 * done runs once when the relay ends. NULL when it cannot (TLS, queued
 * writes, no descriptors): the caller relays as usual. */
fault__splice *fault__splice_start(fault_stream *s, fault_conn *client, fault_conn *server,
                                   void (*done)(fault_stream *s, bool reset, int error, uint64_t eg,
                                                uint64_t in));
void fault__splice_end(fault__splice *sp, bool reset);
uint64_t fault__splice_total(const fault__splice *sp, fault_direction dir);
/* A fault_conn_splice() in progress: cancelled when either connection
 * closes (done does not run). */
struct fault__xfer;
void fault__xfer_cancel(struct fault__xfer *x);

/* ---- connections (conn.c, tls.c) ---- */

/* Closes every live stream (used at shutdown). */
void fault__streams_close_all(void);
/* Offers held chunks again in every stream where p has a stage. */
void fault__streams_wake_plugin(fault_plugin *p);
size_t fault__streams_live(void);

void fault__listeners_close_all(void);
/* "1.2.3.4:80" or "[::1]:80" (conn.c). */
void fault__format_addr(const struct sockaddr *sa, char *buf, size_t len);
/* Cancels upstream connection attempts still in progress. */
void fault__connects_cancel_all(void);
size_t fault__listeners_count(void);
/* How many fault_listen() calls could not bind or listen. */
size_t fault__listen_failures(void);
/* A --proxy mapping gave no address for this listen port: listening on
 * 127.0.0.1 there also listens on [::1] when the host has IPv6 loopback. */
void fault__listen_loopback_both(uint16_t port);
/* The [::1] twin ("[::1]:PORT") of the listener bound at addr, or NULL. */
const char *fault__listen_twin(const char *addr);
/* Option owners of `fault run` (core first, then plugins); --help text. */
size_t fault__run_owners(fault__optowner **owners, size_t max);
/* `fault run [MODE] --help`: argv are run's words (a mode's first). */
void fault__run_help(FILE *out, int argc, char **argv);

/* TLS client context (lazily created, shared). */
typedef struct fault__tls fault__tls;
void fault__tls_global_options(bool no_verify, const char *ca_file);
void fault__tls_shutdown(void);

/* Internal view of a connection, shared by conn.c, tls.c and relay.c. */
typedef void (*fault__drain_cb)(fault_conn *c, void *userdata);
struct fault_conn {
    uv_tcp_t tcp;
    fault_plugin *owner;
    struct fault__tlsconn *tls; /* NULL for plain TCP */
    fault_read_cb read_cb;
    void *read_ud;
    fault__drain_cb drain_cb; /* after any write completes */
    void *drain_ud;
    char peer[64];
    bool reading, closing, shut;
    int refs;                 /* pending writes + 1 for the owner */
    size_t read_max;          /* largest single read; 0: READ_DEFAULT */
    struct fault__xfer *xfer; /* a fault_conn_splice() in progress */
};

/* Writes len bytes from data, which stays owned by the caller until
 * done(ud) runs (for TLS the bytes are encrypted at once and done runs
 * before return). Returns 0 or a negative error; on an error done does
 * not run and data is the caller's again. */
int fault__conn_write_ref(fault_conn *c, const uint8_t *data, size_t len,
                          void (*done)(void *ud, int status), void *ud);
/* Writes as much as the kernel takes now without queueing; returns the
 * bytes taken (TLS: all of them). Negative on a hard error. */
long fault__conn_try_write(fault_conn *c, const uint8_t *data, size_t len);
size_t fault__conn_queued(const fault_conn *c);
fault_conn *fault__conn_new(fault_plugin *owner, uv_loop_t *loop);
void fault__conn_set_peer(fault_conn *c);
/* Copies and writes raw bytes to the socket (TLS ciphertext). */
int fault__conn_raw_write(fault_conn *c, const uint8_t *data, size_t len);
/* Socket reads on or off regardless of the consumer (TLS handshakes). */
int fault__conn_sock_read(fault_conn *c, bool on);
/* relay.c: runs the on_connect hooks of the fault plugins. */
int fault__stream_check_connect(fault_stream *s, const char *host, uint16_t port);

/* tls.c */
struct fault__tlsconn;
int fault__tls_client_start(fault_conn *c, const char *host, const fault_tls_client_opts *o,
                            void (*done)(fault_conn *c, int status, void *ud), void *ud);
int fault__tls_server_start(fault_conn *c, fault_tls_server *srv, fault_tls_sni_cb sni,
                            void *sni_ud, const uint8_t *initial, size_t len,
                            void (*done)(fault_conn *c, int status, void *ud), void *ud);
/* The socket failed or ended (EOF) while the handshake was running. */
void fault__tls_on_read_error(fault_conn *c, int error);
/* True while c is in its TLS handshake. */
bool fault__tls_handshaking(const fault_conn *c);
/* Feeds ciphertext read from the socket; plaintext goes to c->read_cb. */
void fault__tls_on_ciphertext(fault_conn *c, const uint8_t *data, size_t len);
int fault__tls_write(fault_conn *c, const uint8_t *data, size_t len);
int fault__tls_shutdown_write(fault_conn *c);
void fault__tls_free(fault_conn *c);
/* Delivers plaintext already decrypted but not yet read (after a pause). */
void fault__tls_resume(fault_conn *c);

/* ---- ui (ui.c) ---- */

typedef enum { FAULT__UI_SUMMARY, FAULT__UI_TAIL, FAULT__UI_NONE } fault__ui_mode;
void fault__ui_start(fault__ui_mode mode);
void fault__ui_stop(void);

/* ---- `fault run --events FILE` (evlog.c) ---- */

int fault__evlog_open(const char *path, char *err, size_t errlen);
void fault__evlog_close(void);

/* ---- commands ---- */

int fault__cmd_run(int argc, char **argv);
int fault__cmd_plugins(int argc, char **argv);
/* `fault completion bash` and `fault manpage [COMMAND]` (doc.c). */
int fault__cmd_doc(const char *cmd, int argc, char **argv);

/* Options of the core for `fault run` (core/run.c). */
typedef struct fault__runopts {
    uint64_t duration_us;
    fault_strv proxies;
    int64_t seed;
    bool no_ui;
    bool tail;
    bool tls_no_verify;
    const char *tls_ca_file;
    uint64_t connect_timeout_us;
    const char *events;
    const char *instance; /* the latest --instance */
} fault__runopts;
extern fault__runopts fault__ro;

/* Global options (core/globals.c). */
typedef struct fault__globals {
    const char *log_file;
    bool log_stdout;
    const char *log_level;
    bool with_otel;
    fault_strv plugin_dirs;
    fault_strv mask; /* --mask / FAULT_MASK: names whose values are secret */
} fault__globals;
extern fault__globals fault__go;
/* Their owner (for parsing and documentation), and applying them (logs,
 * masks, plugin directories checked): 0, or 2 after a line on stderr. */
fault__optowner *fault__global_owner(void);
int fault__globals_apply(void);

/* Entry point used by the thin executable. */
FAULT_API int fault_main(int argc, char **argv);

#endif /* FAULT_CORE_INTERNAL_H */
