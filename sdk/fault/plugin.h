/*
 * fault/plugin.h - the fault plugin SDK. Include this one header.
 *
 * A plugin is a shared object exporting exactly one symbol,
 * `fault_plugin_entry`, a fault_plugin_descriptor defined with
 * FAULT_PLUGIN_DEFINE(). The host loads it with dlopen(RTLD_NOW|RTLD_LOCAL)
 * from its plugin directories and checks the ABI fields before anything else.
 *
 * ABI versioning
 * --------------
 * FAULT_ABI_MAJOR changes when an existing type, field or function changes
 * meaning or layout: plugins must be rebuilt. FAULT_ABI_MINOR grows when
 * something is added (a function, a field in reserved space, an ops slot).
 * The host accepts a plugin when
 *     plugin.abi_major == host major && plugin.abi_minor <= host minor
 *     && plugin.size >= the descriptor size of ABI 1.0
 * and refuses anything else with one line naming the file and both ABIs.
 * The ABI version is not the product version. FAULT_ABI_MAJOR and
 * FAULT_ABI_MINOR below are the only place it is written: configure reads
 * them from this file (for fault-plugin.pc, whose abi_major and abi_minor
 * variables a build can check), and libfaultcore's library version
 * follows them.
 *
 * Behaviour gated by the plugin's minor
 * -------------------------------------
 * When the meaning of something a plugin already relied on changes in a
 * later minor, the host keeps the old meaning for plugins that declare
 * the older minor (descriptor.abi_minor). Gated today:
 *   - stream detach() left NULL: ABI 1.0 plugins keep their conn_state (the
 *     host does nothing with it); 1.1 and later: the host calls
 *     free(conn_state).
 * Everything else a minor added is new (functions, ops slots taken from
 * reserved space, which older plugins leave NULL), so older plugins see no
 * difference. Error codes kept their values across 1.x (FAULT_EOF is the
 * value 1.0-1.2 documented for the end of a stream, -4095; system codes
 * are negated errno).
 *
 * Threading
 * ---------
 * Today every callback of every plugin (lifecycle, hooks, timers, event
 * subscribers, connection callbacks) runs on one thread, the host's loop
 * thread, and never two at once; SDK functions may only be called from
 * that thread (from inside a callback). What a plugin may rely on, now and
 * when the host runs one loop per core (several threads, each with its own
 * listeners on a shared port):
 *   - everything about one stream, one exchange, one connection and one
 *     timer happens on one thread, in order, without overlap: per-stream
 *     and per-exchange state (conn_state, exchange data) needs no lock;
 *   - init, configure, destroy and command run() are called once, on the
 *     main thread, with no traffic flowing;
 *   - start() and stop() may be called once per loop thread in a future
 *     minor that says so; until then, once;
 *   - the state block is shared by every stream of the instance: a plugin
 *     that changes it from hooks (counters, shared token buckets) must not
 *     assume a single thread beyond what this minor promises. A future host
 *     with several loops will only do so for plugins that declare, in a
 *     descriptor field added then, that they are safe; others keep running
 *     on one loop thread. Nothing in the 1.3 API needs state shared across
 *     connections without the host's help.
 *
 * ABI changelog (newest first)
 * ----------------------------
 *   1.4  fault_listener_close() on a listener already closed does nothing
 *        (the core closes every listener before the plugins' stop(), so
 *        stop() may close what start() opened; on 1.3 a second close
 *        aborted). Every enabled fault instance attaches to a stream
 *        (1.3 attached at most 32, silently); at most 256 plugin instances
 *        in a run, refused beyond. No new symbol or field: a plugin
 *        declares 1.4 to rely on these.
 *   1.3  One error convention (<fault/common.h>): negative FAULT_E* codes
 *        everywhere, FAULT_EOF for the end of a stream (same value as
 *        before), fault_strerror() for each; libuv and getaddrinfo codes
 *        never reach plugins; <fault/parse.h> returns FAULT_ESYNTAX,
 *        FAULT_EINVAL or FAULT_ENOMEM (was -1); fault_conn_start_tls_server()
 *        returns FAULT_EBUSY (was -EALREADY); fault_tls_server_load() (the
 *        int form of fault_tls_server_new(), now deprecated). No installed
 *        header includes or names libuv's types. <fault/timer.h>:
 *        microsecond timers (fault_timer_new/start/start_at/stop/armed/
 *        deadline/free) on the host's timer heap. The behaviour of a NULL
 *        detach() follows the plugin's minor (see above).
 *        fault_plugin_self(state): a hook reaches its instance without
 *        keeping it in its state. Several instances of one fault plugin
 *        in a run (`fault run --instance`, scenarios), each with its own
 *        state block, options, schedule, generator and events;
 *        fault_plugin_name() and the events' source are the instance's
 *        name ("latency#2" for the second).
 *        <fault/secret.h>: fault_secret_name(), fault_secret_header(),
 *        fault_secret_url(): credentials masked in what fault writes (a
 *        default set of header and query parameter names, and the user's
 *        --mask / FAULT_MASK).
 *        Modes of `fault run` (`fault run dns`, `fault run llm openai`):
 *        fault_plugin_descriptor.run_mode (fault_run_mode_ops),
 *        fault_run_add_mapping() and fault_run_set_option().
 *        fault_http_ops.on_body_end (from reserved space): the end of a
 *        watched body, in order with its pieces, with room for final
 *        bytes (<fault/http.h>, "The end of a body").
 *        FAULT_DESCRIPTOR_SIZE_1_0 is the size 1.0 had, not the current
 *        size. fault_platform_ops and FAULT_KIND_AGENT marked reserved.
 *        fault_conn_write(): the callback runs exactly once when the
 *        call returns 0, never when it returns an error, on TLS as on TCP
 *        (<fault/net.h>).
 *        The threading contract written down (above). The HTTP API split
 *        by audience: <fault/http.h> for fault plugins (hooks, reading and
 *        changing messages, bodies), <fault/http_handler.h> for protocol
 *        handlers (exchanges, running hooks, handing bodies over), with
 *        one naming rule (verb_noun for actions, nouns for accessors,
 *        is_ for questions), return codes and string lifetimes written for
 *        every function: fault_http_set_header(), fault_http_add_header(),
 *        fault_http_wanted_body(), fault_http_load_body(),
 *        fault_http_is_body_watched() replace header_set, header_add,
 *        body_wanted, put_body and body_watched (still exported,
 *        deprecated).
 *   1.2  <fault/http.h>: on_body is called for bodies a plugin watches
 *        (fault_http_watch_body(); fault_http_body_watched() and
 *        fault_http_body_chain_new() for handlers, with
 *        fault_chain_ops.end to end one exchange); whole bodies for hooks: fault_http_want_body(),
 *        fault_http_body(), fault_http_set_body(), and for handlers
 *        fault_http_body_wanted(), fault_http_put_body(); request changes:
 *        fault_http_set_method(), fault_http_set_path(). <fault/parse.h>:
 *        the command line's grammars (fault_parse_duration(),
 *        fault_check_mapping(), fault_check_schedule(),
 *        fault_schedule_windows()). fault_stream_ops.on_exchange and
 *        fault_stream_next_exchange(): faults acting once per connection
 *        act once per HTTP exchange.
 *   1.1  <fault/chain.h>: filter chains for protocol handlers that speak a
 *        protocol themselves (fault_chain_*), fault_stream_attach(),
 *        fault_stream_set_end() and fault_stream_finish(); HTTP handler
 *        API: fault_http_exchange_new/_free, fault_http_header_add,
 *        fault_http_run_request/_response, fault_http_reply_body;
 *        fault_stream_relay_with() (relay that first carries bytes the
 *        handler already read, e.g. after a CONNECT head);
 *        fault_conn_try_write() (write without queueing); option types
 *        FAULT_OPT_SIDE and FAULT_OPT_DIRECTION; a NULL detach() frees
 *        conn_state with free(); TLS toward clients: fault_tls_server_new/
 *        _free, fault_conn_start_tls_server() (ALPN, SNI hook),
 *        fault_conn_alpn(), fault_conn_sni(); fault_conn_splice() (zero-
 *        copy transfer of a known number of bytes).
 *   1.0  First stable SDK: descriptor, option tables, lifecycle, stream
 *        hooks, HTTP hooks, protocol/command/platform ops, event bus, log,
 *        rng and distributions, net (listen, connect, TLS, relay).
 */
#ifndef FAULT_PLUGIN_H
#define FAULT_PLUGIN_H

#include <fault/chain.h>
#include <fault/common.h>
#include <fault/event.h>
#include <fault/http.h>
#include <fault/http_handler.h>
#include <fault/log.h>
#include <fault/net.h>
#include <fault/option.h>
#include <fault/parse.h>
#include <fault/rng.h>
#include <fault/secret.h>
#include <fault/stream.h>
#include <fault/timer.h>

FAULT_BEGIN_DECLS

#define FAULT_ABI_MAJOR          1
#define FAULT_ABI_MINOR          4
#define FAULT_PLUGIN_MAGIC       0x464c5447u /* "GTLF" little-endian: fault */
#define FAULT_PLUGIN_SYMBOL      fault_plugin_entry
#define FAULT_PLUGIN_SYMBOL_NAME "fault_plugin_entry"

/* What a plugin primarily is. A plugin may fill several ops tables (a bridge
 * has both stream and HTTP hooks); the kind is what `fault plugins` shows
 * and decides where its options appear in --help. */
typedef enum fault_plugin_kind {
    FAULT_KIND_FAULT = 1,    /* a fault: stream and/or HTTP hooks */
    FAULT_KIND_PROTOCOL = 2, /* owns accepted connections (TCP, HTTP, ...) */
    FAULT_KIND_PLATFORM = 3, /* reserved: platform injectors (not loaded yet) */
    FAULT_KIND_AGENT = 4,    /* reserved: the agent (not loaded yet) */
    FAULT_KIND_BRIDGE = 5,   /* forwards traffic to remote (gRPC) plugins */
    FAULT_KIND_COMMAND = 6   /* adds a subcommand (demo, scenario) */
} fault_plugin_kind;

FAULT_API const char *fault_plugin_kind_name(fault_plugin_kind kind);

/* Protocol handler: which `--proxy` mappings it serves. */
typedef struct fault_protocol_ops {
    /* NULL-terminated schemes this handler serves; "" is a mapping written
     * without a scheme. */
    const char *const *schemes;
    /* When several handlers serve a scheme, the highest priority wins. */
    int priority;
    /* Called once per claimed mapping, after configure() and before
     * start(). Return 0, or a negative error with a message in err. */
    int (*add_mapping)(void *state, const fault_mapping *m, char *err, size_t errlen);
    void *reserved[4];
} fault_protocol_ops;

/* Command (and agent) plugins: `fault NAME ...`. */
typedef struct fault_command_ops {
    const char *name;    /* the subcommand word, e.g. "demo" */
    const char *summary; /* one line for `fault --help` */
    const char *usage;   /* e.g. "run [ADDRESS] [PORT]" */
    /* The host has parsed the plugin's options (anywhere after NAME) into
     * its state; args are the remaining positional words. Returns the
     * process exit status (0 ok, 1 failure, 2 bad input). The loop is
     * available through fault_loop(). */
    int (*run)(void *state, int argc, char **argv);
    void *reserved[4];
} fault_command_ops;

/* A mode of `fault run` (ABI 1.3): `fault run WORD [ARGS] [OPTIONS]`, as
 * `fault run dns`, `fault run llm openai`, `fault run db pg`. The plugin's
 * options belong to its mode: they are accepted (and listed by
 * `fault run WORD --help`) only after `fault run WORD`, beside run's own
 * options and every fault's; where a name is both the mode's and another
 * plugin's, the mode's wins on its line. The plugin is enabled only when
 * its mode is chosen. */
typedef struct fault_run_mode_ops {
    const char *word;    /* the mode's word, [a-z0-9-]+, e.g. "dns" */
    const char *summary; /* one line for `fault run --help` */
    const char *usage;   /* what follows `fault run`, e.g. "llm PROVIDER" */
    /* The user chose this mode. args are the positional words after the
     * mode's word ("openai" in `fault run llm openai`); options are
     * parsed (command line, then environment) and configure() has not run
     * yet. Check the words and set up what the mode needs, such as
     * mappings (fault_run_add_mapping()). Return 0, or a negative FAULT_E*
     * code with a message (fault_plugin_error()): fault exits with status
     * 2. */
    int (*select)(fault_plugin *self, void *state, int argc, char **argv);
    void *reserved[4];
} fault_run_mode_ops;

/* Adds a --proxy mapping from a run mode's select() (ABI 1.3), as if the
 * user had given `--proxy TEXT`; it is served like the user's, by the
 * protocol plugin of its scheme. Returns 0, FAULT_ESYNTAX (with the reason
 * in err), FAULT_EPERM (not called from select()) or FAULT_ENOMEM. */
FAULT_API int fault_run_add_mapping(fault_plugin *self, const char *text, char *err, size_t errlen);

/* Sets an option of another plugin from a run mode's select() (ABI 1.3),
 * as if the user had given `--NAME=VALUE` on the command line after their
 * own options (a mode's shorthand, e.g. `fault run db pg --case deadlock`
 * setting the PostgreSQL handler's `--pg-case deadlock`). Returns 0,
 * FAULT_EINVAL (no plugin of the run takes --NAME), FAULT_ESYNTAX (a bad
 * value; the option's own message is printed), FAULT_EPERM (not from
 * select()) or FAULT_ENOMEM; err says which. */
FAULT_API int fault_run_set_option(fault_plugin *self, const char *name, const char *value,
                                   char *err, size_t errlen);

/* Reserved for platform injectors. The host does not read this table yet
 * (there is no `fault inject` command in this version): leave
 * descriptor.platform NULL. The layout is kept for the minor that gives
 * it a meaning, which will document each field then. */
typedef struct fault_platform_ops {
    const char *name;
    const char *summary;
    int (*inject)(void *state, int argc, char **argv);
    void *reserved[4];
} fault_platform_ops;

/*
 * The descriptor. Fields up to `reserved` exist in every 1.x plugin; later
 * minors take space from `reserved`, so its size never changes the layout
 * of what comes before.
 */
typedef struct fault_plugin_descriptor {
    /* ABI fields: always first, never moved. */
    uint32_t magic;     /* FAULT_PLUGIN_MAGIC */
    uint16_t abi_major; /* FAULT_ABI_MAJOR the plugin was built with */
    uint16_t abi_minor; /* FAULT_ABI_MINOR the plugin was built with */
    uint32_t size;      /* sizeof(fault_plugin_descriptor) at build time */
    uint32_t kind;      /* fault_plugin_kind */

    const char *name;    /* unique, [a-z0-9-]+, e.g. "latency" */
    const char *version; /* the plugin's own version, free form */
    const char *summary; /* one line for `fault plugins` */
    const char *license; /* SPDX identifier */

    /* Options, terminated by FAULT_OPTION_END; NULL for none. */
    const fault_option *options;
    /* Size of the state block the host allocates (zeroed) for each plugin
     * instance; option values are written into it. May be 0. A run may
     * hold several instances of a fault plugin, each with its own block
     * and lifecycle: keep per-instance data here, not in statics. */
    size_t state_size;

    /* Lifecycle, each optional. Returning a negative value fails the step:
     * the host logs it (with fault_plugin_error() text if set), tears the
     * instance down and, for configure, exits with status 2.
     *   init       state allocated, defaults applied, before user options
     *   configure  user options applied: validate and derive
     *   start      the loop exists (fault_loop()); open listeners, timers
     *   stop       stop accepting work; close what start opened
     *   destroy    free what init/configure allocated (not the block) */
    int (*init)(fault_plugin *self, void *state);
    int (*configure)(fault_plugin *self, void *state);
    int (*start)(fault_plugin *self, void *state);
    void (*stop)(fault_plugin *self, void *state);
    void (*destroy)(fault_plugin *self, void *state);

    /* Role tables; NULL when the plugin does not play the role. */
    const fault_stream_ops *stream;
    const fault_http_ops *http;
    const fault_protocol_ops *protocol;
    const fault_command_ops *command;
    const fault_platform_ops *platform; /* reserved: leave NULL */

    /* ABI 1.3 (from reserved space): a mode of `fault run`, or NULL. */
    const fault_run_mode_ops *run_mode;

    void *reserved[15];
} fault_plugin_descriptor;

/* Size of the ABI 1.0 descriptor, the least the loader accepts: four
 * 32-bit words (magic to kind) and 32 pointer-sized fields (name to
 * reserved). A fixed number: later minors take their fields from reserved
 * and never change it. */
#define FAULT_DESCRIPTOR_SIZE_1_0 (16u + 32u * (uint32_t)sizeof(void *))

/*
 * Defines the exported descriptor. Use once per plugin, at file scope:
 *
 *   FAULT_PLUGIN_DEFINE(
 *       .kind = FAULT_KIND_FAULT,
 *       .name = "latency",
 *       .version = "1.0.0",
 *       ...);
 */
#define FAULT_PLUGIN_DEFINE(...)                                                                   \
    FAULT_PLUGIN_EXPORT const fault_plugin_descriptor FAULT_PLUGIN_SYMBOL = {                      \
        .magic = FAULT_PLUGIN_MAGIC,                                                               \
        .abi_major = FAULT_ABI_MAJOR,                                                              \
        .abi_minor = FAULT_ABI_MINOR,                                                              \
        .size = (uint32_t)sizeof(fault_plugin_descriptor),                                         \
        __VA_ARGS__}

/*
 * Optional hint, for plugins that link heavy libraries: the host reads it
 * from the file without loading it, and skips the plugin (and the
 * libraries it needs) when the command line cannot use it, so that
 * `fault run` starts fast however many plugins are installed (ABI 1.1).
 * Every plugin is loaded anyway for --help, `fault plugins` and the
 * generated documentation. At file scope, beside FAULT_PLUGIN_DEFINE:
 *
 *   FAULT_PLUGIN_HINT(FAULT_KIND_COMMAND, "demo");      only for `fault demo`
 *   FAULT_PLUGIN_HINT_OPTION(FAULT_KIND_BRIDGE, "grpc-plugin",
 *                            "FAULT_GRPC_PLUGINS");    only when --grpc-plugin
 *                                                      or the variable is given
 */
typedef struct fault_plugin_hint {
    uint32_t magic;   /* FAULT_PLUGIN_MAGIC */
    uint32_t kind;    /* fault_plugin_kind, as in the descriptor */
    char command[32]; /* FAULT_KIND_COMMAND: the command word */
    char option[32];  /* else: needed only when --OPTION is given ... */
    char env[48];     /* ... or this environment variable is set */
} fault_plugin_hint;

#define FAULT_PLUGIN_HINT_SECTION ".fault_hint"
#define FAULT_PLUGIN_HINT_(kind_, command_, option_, env_)                                         \
    __attribute__((used, section(FAULT_PLUGIN_HINT_SECTION))) static const fault_plugin_hint       \
        fault_plugin_hint_ = {FAULT_PLUGIN_MAGIC, (uint32_t)(kind_), command_, option_, env_}
#define FAULT_PLUGIN_HINT(kind_, command_)             FAULT_PLUGIN_HINT_(kind_, command_, "", "")
#define FAULT_PLUGIN_HINT_OPTION(kind_, option_, env_) FAULT_PLUGIN_HINT_(kind_, "", option_, env_)

/* Host services for a plugin instance. */

/* The escape hatch: the host's event loop itself, for a plugin that wants
 * to drive other libraries on it (a libcurl multi handle, a subprocess,
 * file watching) and so links libuv on its own (pkg-config libuv; the SDK
 * does not depend on it). It is libuv's loop structure, as void * so that
 * no SDK header depends on libuv. Valid from start() to destroy(). Handles
 * a plugin opens on it must be closed by stop(); the host keeps the plugin
 * loaded until the loop has drained. Plugins that need only sockets and
 * timers use <fault/net.h> and <fault/timer.h> instead, and build with
 * `pkg-config fault-plugin` alone. */
FAULT_API void *fault_loop(fault_plugin *self);
/* The instance's name: the descriptor's name for a plugin's first instance
 * ("latency"), "NAME#N" for the Nth when a run holds several ("latency#2",
 * `fault run --instance`). Events a plugin publishes carry it as their
 * source (and fault_event_fault_applied() as their fault), so instances
 * are told apart (several instances: ABI 1.3; a plugin's first instance
 * keeps the name it always had). */
FAULT_API const char *fault_plugin_name(const fault_plugin *self);
/* The instance's state block (the one passed to every callback). */
FAULT_API void *fault_plugin_state(fault_plugin *self);
/* The instance owning a state block: the inverse of fault_plugin_state(),
 * so a hook given only its state can log, publish events, draw from the
 * instance's generator or test fault_plugin_active() without the plugin
 * keeping a `self` pointer in its state (ABI 1.3). state must be the block
 * the host passed to a callback (the host places the instance's address
 * just before it); for any other pointer the result is undefined. */
FAULT_API fault_plugin *fault_plugin_self(const void *state);
/* The instance's generator, seeded from --seed and the instance's name. */
FAULT_API fault_rng *fault_plugin_rng(fault_plugin *self);
/* Whether the plugin is enabled (its FAULT_OPTF_ENABLE option, if any) and
 * inside its schedule right now. */
FAULT_API bool fault_plugin_active(const fault_plugin *self);
/* Records a message explaining the next failing return (printed by the
 * host as "fault: NAME: message"). */
FAULT_API void fault_plugin_error(fault_plugin *self, const char *fmt, ...) FAULT_PRINTF(2, 3);
/* Run duration in microseconds (--duration), 0 when unlimited. */
FAULT_API uint64_t fault_run_duration_us(void);
/* Microseconds since the run started (schedules count from there). */
FAULT_API uint64_t fault_run_elapsed_us(void);

FAULT_END_DECLS

#endif /* FAULT_PLUGIN_H */
