/*
 * plugins/demo/demo.c - `fault demo run [ADDRESS] [PORT]`: a small HTTP
 * application to put behind (and in front of) the fault proxy while
 * learning it. See routes.c for the endpoints.
 *
 * The command runs the host's libuv loop itself, from run(), until
 * SIGINT or SIGTERM: then it closes its listener, its client connections
 * and its outbound calls, lets the loop drain and returns 0. Running the
 * loop here (rather than returning and letting the host run it) keeps the
 * exit status and the libcurl teardown in the plugin's hands.
 *
 * Address and port come, from weakest to strongest, from the defaults
 * (127.0.0.1, 7070), FAULT_DEMO_ADDR / FAULT_DEMO_PORT, --address /
 * --port, and the positional words. A lone numeric positional word is the
 * port (`fault demo run 8080`). Port 0 picks a free port; the first line
 * printed says which.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "demo.h"

static const fault_option options[] = {
    {.name = "address",
     .env = "FAULT_DEMO_ADDR",
     .type = FAULT_OPT_STRING,
     .def = "127.0.0.1",
     .metavar = "ADDR",
     .help = "Address to listen on (the ADDRESS word wins over it)",
     .offset = offsetof(demo_state, address)},
    {.name = "port",
     .env = "FAULT_DEMO_PORT",
     .type = FAULT_OPT_INT,
     .def = "7070",
     .metavar = "PORT",
     .help = "Port to listen on, 0 for any free port (the PORT word wins)",
     .offset = offsetof(demo_state, port),
     .min = 0,
     .max = 65535},
    {.name = "upstream-url",
     .env = "FAULT_DEMO_UPSTREAM_URL",
     .type = FAULT_OPT_STRING,
     .metavar = "URL",
     .help = "URL that /ping and /multi call (default: this server's /), through "
             "HTTP_PROXY/HTTPS_PROXY unless NO_PROXY says otherwise",
     .offset = offsetof(demo_state, upstream_url)},
    {.name = "upstream-timeout",
     .env = "FAULT_DEMO_UPSTREAM_TIMEOUT",
     .type = FAULT_OPT_DURATION,
     .def = "10s",
     .help = "Give up an outbound call after this long (0: never)",
     .offset = offsetof(demo_state, upstream_timeout_us)},
    FAULT_OPTION_END};

static int configure(fault_plugin *self, void *state)
{
    demo_state *st = state;
    char err[256];
    if (st->upstream_url && demo_url_check(st->upstream_url, err, sizeof err) != 0) {
        fault_plugin_error(self, "--upstream-url: %s", err);
        return -1;
    }
    return 0;
}

static int start(fault_plugin *self, void *state)
{
    demo_state *st = state;
    st->loop = fault_loop(self);
    return 0;
}

/* ---- stopping ---- */

static void demo_shutdown(demo_state *st)
{
    if (st->stopping)
        return;
    st->stopping = true;
    if (st->listener) {
        fault_listener_close(st->listener);
        st->listener = NULL;
    }
    demo_server_close_all(st);
    demo_fetcher_close(st);
    if (st->signals_open) {
        uv_close((uv_handle_t *)&st->sigint, NULL);
        uv_close((uv_handle_t *)&st->sigterm, NULL);
        st->signals_open = false;
    }
}

static void on_signal(uv_signal_t *h, int signum)
{
    demo_state *st = h->data;
    printf("fault: demo: %s, stopping\n", signum == SIGINT ? "interrupted" : "terminated");
    fflush(stdout);
    demo_shutdown(st);
}

/* ---- arguments ---- */

static int parse_port(const char *s, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < 0 || v > 65535)
        return -1;
    *out = v;
    return 0;
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* The URL of this server as a client reaches it: a wildcard address is
 * reached on loopback. */
static void make_self_url(demo_state *st)
{
    const char *a = fault_listener_address(st->listener);
    uint16_t port = fault_listener_port(st->listener);
    if (strncmp(a, "0.0.0.0:", 8) == 0)
        snprintf(st->self_url, sizeof st->self_url, "http://127.0.0.1:%u/", port);
    else if (strncmp(a, "[::]:", 5) == 0)
        snprintf(st->self_url, sizeof st->self_url, "http://[::1]:%u/", port);
    else
        snprintf(st->self_url, sizeof st->self_url, "http://%s/", a);
}

static int run(void *state, int argc, char **argv)
{
    demo_state *st = state;
    if (argc < 1) {
        fprintf(stderr, "fault: demo: missing subcommand 'run' (usage: fault demo run "
                        "[ADDRESS] [PORT])\n");
        return 2;
    }
    if (strcmp(argv[0], "run") != 0) {
        fprintf(stderr,
                "fault: demo: unknown subcommand '%s' (usage: fault demo run "
                "[ADDRESS] [PORT])\n",
                argv[0]);
        return 2;
    }
    if (argc > 3) {
        fprintf(stderr,
                "fault: demo: unexpected argument '%s' (usage: fault demo run "
                "[ADDRESS] [PORT])\n",
                argv[3]);
        return 2;
    }
    const char *address = st->address ? st->address : "127.0.0.1";
    int64_t port = st->port;
    const char *port_word = NULL;
    if (argc == 2 && all_digits(argv[1]))
        port_word = argv[1];
    else if (argc >= 2)
        address = argv[1];
    if (argc == 3)
        port_word = argv[2];
    if (port_word && parse_port(port_word, &port) != 0) {
        fprintf(stderr, "fault: demo: invalid port '%s' (expected 0 to 65535)\n", port_word);
        return 2;
    }
    if (!*address) {
        fprintf(stderr, "fault: demo: empty address\n");
        return 2;
    }

    /* A client that disconnects while we write must not kill the
     * process; write errors are handled where they occur. The demo owns
     * the process, so it may decide this for it. */
    signal(SIGPIPE, SIG_IGN);

    int rc = fault_listen(fault_plugin_self(st), address, (uint16_t)port, demo_server_accept, st,
                          &st->listener);
    if (rc < 0) {
        fprintf(stderr, "fault: demo: cannot listen on %s port %lld: %s\n", address,
                (long long)port, fault_strerror(rc));
        /* A name that does not resolve is bad input; a busy port is not. */
        return rc == FAULT_ERESOLVE || rc == UV_EINVAL ? 2 : 1;
    }
    make_self_url(st);
    st->upstream = st->upstream_url ? st->upstream_url : st->self_url;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "fault: demo: libcurl failed to initialise\n");
        fault_listener_close(st->listener);
        st->listener = NULL;
        uv_run(st->loop, UV_RUN_DEFAULT);
        return 1;
    }
    char err[256];
    if (demo_fetcher_init(st, err, sizeof err) != 0) {
        fprintf(stderr, "fault: demo: %s\n", err);
        fault_listener_close(st->listener);
        st->listener = NULL;
        uv_run(st->loop, UV_RUN_DEFAULT);
        curl_global_cleanup();
        return 1;
    }

    uv_signal_init(st->loop, &st->sigint);
    uv_signal_init(st->loop, &st->sigterm);
    st->sigint.data = st->sigterm.data = st;
    uv_signal_start(&st->sigint, on_signal, SIGINT);
    uv_signal_start(&st->sigterm, on_signal, SIGTERM);
    st->signals_open = true;

    char where[sizeof st->self_url];
    snprintf(where, sizeof where, "%s", st->self_url);
    where[strlen(where) - 1] = '\0'; /* no trailing slash */
    printf("fault: listening on %s (demo)\n", where);
    demo_routes_describe(st);
    fflush(stdout);

    uv_run(st->loop, UV_RUN_DEFAULT);

    demo_routes_cleanup();
    curl_global_cleanup();
    return 0;
}

static void stop(fault_plugin *self, void *state)
{
    (void)self;
    /* run() only returns once everything is closed; this covers a host
     * that stops the plugin some other way. */
    demo_shutdown(state);
}

static const fault_command_ops command = {
    .name = "demo",
    .summary = "Run a demo HTTP server to try fault against",
    .usage = "run [ADDRESS] [PORT]",
    .run = run,
};

FAULT_PLUGIN_HINT(FAULT_KIND_COMMAND, "demo");
FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_COMMAND, .name = "demo", .version = PACKAGE_VERSION,
                    .summary = "demo HTTP server (fault demo run)", .license = "Apache-2.0",
                    .options = options, .state_size = sizeof(demo_state), .configure = configure,
                    .start = start, .stop = stop, .command = &command);
