/*
 * plugins/scenario/scenario.c - the scenario command plugin:
 *
 *   fault scenario run -s FILE|DIR [-r REPORT] [--result FILE] [--junit FILE]
 *                      [--html FILE] [--proxy-address ADDR] ...
 *   fault scenario generate -s FILE|DIR (--spec-file F | --spec-url URL)
 *
 * This file holds the option table (flags, environment variables and
 * defaults of the original tool: FAULT_SCENARIO_REPORT_PATH, which the
 * original documents as the scenario file or directory despite its name,
 * _RESULTS_PATH, _PROXY_ADDR, _OPENAPI_V3_SPEC_FILE/_URL) and dispatches
 * to the runner (runner.c) or the generator (generate.c). No output is
 * ever written over a scenario file the run reads.
 *
 * Exit status: 0 when every expectation held, 1 when one did not (or a
 * proxy could not start, or a file could not be written), 2 for bad input
 * (nothing runs), 130 when interrupted (143 on SIGTERM); what ran until
 * then is written all the same.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "runner.h"

#define OFF(f)                offsetof(sc_options, f)
#define SC_PROXY_ADDRESS_FLAG "proxy-address"

static const fault_option options[] = {
    /* The variable's name says "report", but the original documents it as
     * the scenario file or directory: follow the documentation (also
     * FAULT_SCENARIO_PATH, read in configure()). */
    {.name = "scenario",
     .env = "FAULT_SCENARIO_REPORT_PATH",
     .type = FAULT_OPT_STRING,
     .metavar = "FILE|DIR",
     .short_name = 's',
     .help = "Scenario file, or directory of .yaml/.yml files (generate: where to write)",
     .offset = OFF(scenario)},
    {.name = "report",
     .env = "FAULT_SCENARIO_REPORT_FILE",
     .type = FAULT_OPT_STRING,
     .def = "report.md",
     .metavar = "FILE",
     .short_name = 'r',
     .help = "Report: Markdown, or JSON, YAML or HTML by the file's extension",
     .offset = OFF(report)},
    {.name = "result",
     .env = "FAULT_SCENARIO_RESULTS_PATH",
     .type = FAULT_OPT_STRING,
     .def = "results.json",
     .metavar = "FILE",
     .help = "Every call with its metrics and applied faults: JSON, or YAML by extension",
     .offset = OFF(result)},
    {.name = "junit",
     .env = "FAULT_SCENARIO_JUNIT_PATH",
     .type = FAULT_OPT_STRING,
     .metavar = "FILE",
     .help = "Also write a JUnit XML report (one testcase per item)",
     .offset = OFF(junit)},
    {.name = "html",
     .env = "FAULT_SCENARIO_HTML_PATH",
     .type = FAULT_OPT_STRING,
     .metavar = "FILE",
     .help = "Also write a self-contained HTML report with latency charts",
     .offset = OFF(html)},
    /* The original's flag and variable. (Command options live in their
     * own namespace, so this does not clash with `fault run`'s.) */
    {.name = SC_PROXY_ADDRESS_FLAG,
     .env = "FAULT_SCENARIO_PROXY_ADDR",
     .type = FAULT_OPT_STRING,
     .def = "127.0.0.1:3180",
     .metavar = "ADDR:PORT",
     .help = "Where each item's proxy listens (the application's HTTP_PROXY)",
     .offset = OFF(proxy_address)},
    {.name = "call-timeout",
     .env = "FAULT_SCENARIO_CALL_TIMEOUT",
     .type = FAULT_OPT_DURATION,
     .def = "30s",
     .help = "Timeout of calls whose scenario sets none (0: wait forever)",
     .offset = OFF(call_timeout_us)},
    {.name = "seed",
     .env = "FAULT_SCENARIO_SEED",
     .type = FAULT_OPT_INT,
     .metavar = "N",
     .help = "Seed for the proxy's fault decisions (same seed, same faults)",
     .offset = OFF(seed)},
    {.name = "quiet",
     .env = "FAULT_SCENARIO_QUIET",
     .type = FAULT_OPT_BOOL,
     .help = "Print no progress and no summary, only errors",
     .offset = OFF(no_progress)},
    {.name = "spec-file",
     .env = "FAULT_SCENARIO_OPENAPI_V3_SPEC_FILE",
     .type = FAULT_OPT_STRING,
     .metavar = "FILE",
     .help = "generate: OpenAPI 3.0/3.1 document (JSON or YAML)",
     .offset = OFF(spec_file)},
    {.name = "spec-url",
     .env = "FAULT_SCENARIO_OPENAPI_V3_SPEC_URL",
     .type = FAULT_OPT_STRING,
     .metavar = "URL",
     .help = "generate: URL of the OpenAPI document",
     .offset = OFF(spec_url)},
    FAULT_OPTION_END};

/* host:port, [v6]:port or name:port with a port in 1..65535. */
static bool address_ok(const char *a)
{
    const char *colon = NULL;
    if (a[0] == '[') {
        const char *close = strchr(a, ']');
        if (!close || close[1] != ':' || close == a + 1)
            return false;
        colon = close + 1;
    } else {
        colon = strrchr(a, ':');
        if (!colon || colon == a || memchr(a, ':', (size_t)(colon - a)))
            return false;
    }
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    return colon[1] && end && !*end && port >= 1 && port <= 65535;
}

static int configure(fault_plugin *self, void *state)
{
    sc_options *o = state;
    if (!o->proxy_address || !address_ok(o->proxy_address)) {
        fault_plugin_error(self,
                           "--" SC_PROXY_ADDRESS_FLAG ": '%s' is not ADDRESS:PORT (port 1-65535)",
                           o->proxy_address ? o->proxy_address : "");
        return -1;
    }
    o->has_seed = fault_option_is_set(self, "seed");
    const char *alias = getenv("FAULT_SCENARIO_PATH");
    if (!o->scenario && alias && *alias && !(o->scenario = strdup(alias))) {
        fault_plugin_error(self, "out of memory");
        return -1;
    }
    return 0;
}

static bool yaml_name(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot && (strcasecmp(dot, ".yaml") == 0 || strcasecmp(dot, ".yml") == 0);
}

/* Whether writing out would replace an input of the run: the scenario file
 * itself, or a scenario file of the scenario directory. */
static bool is_input(const char *scenario, const char *out)
{
    struct stat ss, os;
    if (!out || stat(scenario, &ss) != 0 || stat(out, &os) != 0 || !S_ISREG(os.st_mode))
        return false;
    if (S_ISREG(ss.st_mode))
        return ss.st_dev == os.st_dev && ss.st_ino == os.st_ino;
    if (!S_ISDIR(ss.st_mode) || !yaml_name(out))
        return false;
    /* In the directory itself (files of subdirectories are not read). */
    char *copy = strdup(out), *slash = copy ? strrchr(copy, '/') : NULL;
    struct stat ds;
    bool in = false;
    if (copy) {
        if (slash)
            *(slash == copy ? slash + 1 : slash) = '\0';
        in = stat(slash ? copy : ".", &ds) == 0 && ds.st_dev == ss.st_dev && ds.st_ino == ss.st_ino;
    }
    free(copy);
    return in;
}

/* Why out cannot be written (its directory is missing, not a directory
 * or not writable; out itself is a directory), or NULL. Files are written
 * as a temporary file in that directory, then renamed over out. */
static const char *unwritable(const char *out, char *dir, size_t dirlen)
{
    const char *slash = strrchr(out, '/');
    if (!slash)
        snprintf(dir, dirlen, ".");
    else if (slash == out)
        snprintf(dir, dirlen, "/");
    else
        snprintf(dir, dirlen, "%.*s", (int)(slash - out), out);
    struct stat st;
    if (out[strlen(out) - 1] == '/')
        return "names no file";
    if (stat(dir, &st) != 0)
        return errno == ENOTDIR ? "its directory is not a directory"
                                : "its directory does not exist";
    if (!S_ISDIR(st.st_mode))
        return "its directory is not a directory";
    if (access(dir, W_OK | X_OK) != 0)
        return "its directory is not writable";
    if (stat(out, &st) == 0 && S_ISDIR(st.st_mode))
        return "it is a directory";
    return NULL;
}

/* Refuses outputs that would overwrite a scenario file, or that cannot be
 * written (bad input, 2): before anything runs, so that a run is never
 * done for nothing. */
static int check_outputs(const sc_options *o)
{
    const struct {
        const char *flag, *path;
    } outs[] = {{"--report", o->report},
                {"--result", o->result},
                {"--junit", o->junit},
                {"--html", o->html}};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        if (is_input(o->scenario, outs[i].path)) {
            fprintf(stderr,
                    "fault: scenario: %s: '%s' is a scenario file of this run; "
                    "refusing to overwrite it (give another path)\n",
                    outs[i].flag, outs[i].path);
            return 2;
        }
        char dir[4096];
        const char *why =
            outs[i].path && *outs[i].path ? unwritable(outs[i].path, dir, sizeof dir) : NULL;
        if (why) {
            fprintf(stderr, "fault: scenario: %s: '%s': %s%s%s%s\n", outs[i].flag, outs[i].path,
                    why, strstr(why, "directory ") ? " ('" : "",
                    strstr(why, "directory ") ? dir : "", strstr(why, "directory ") ? "')" : "");
            return 2;
        }
    }
    return 0;
}

static int start(fault_plugin *self, void *state)
{
    sc_options *o = state;
    o->loop = fault_loop(self);
    return 0;
}

/* The files of a scenario directory that did not load, each with its
 * error: said before the run, which goes on with the others (status 1 at
 * the end). */
typedef struct skipped_files {
    char **why;
    size_t n;
} skipped_files;

static void skip_file(const char *err, void *ud)
{
    skipped_files *s = ud;
    char **nw = realloc(s->why, (s->n + 1) * sizeof *nw);
    if (!nw)
        return;
    s->why = nw;
    if ((s->why[s->n] = strdup(err)))
        s->n++;
}

static int cmd_run(sc_options *o)
{
    if (!o->scenario || !*o->scenario) {
        fprintf(stderr, "fault: scenario: run: give the scenario file or directory with "
                        "-s/--scenario FILE|DIR\n");
        return 2;
    }
    if (check_outputs(o) != 0)
        return 2;
    sc_suite suite = {0};
    char err[1024];
    skipped_files sk = {0};
    int lrc = sc_load_path_skipping(o->scenario, &suite, skip_file, &sk, err, sizeof err);
    for (size_t i = 0; i < sk.n; i++) {
        fprintf(stderr, "fault: scenario: %s%s\n", sk.why[i],
                lrc == 0 ? " (this file is left out; the others run)" : "");
        free(sk.why[i]);
    }
    free(sk.why);
    size_t skipped = sk.n;
    if (lrc != 0) {
        fprintf(stderr, "fault: scenario: %s\n", err);
        sc_suite_free(&suite);
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "fault: scenario: libcurl failed to initialise\n");
        sc_suite_free(&suite);
        return 1;
    }
    int rc = sc_run(o, &suite);
    if (skipped > 0) {
        fprintf(stderr,
                "fault: scenario: %zu scenario file%s of %s could not be loaded and did "
                "not run (see above)\n",
                skipped, skipped == 1 ? "" : "s", o->scenario);
        if (rc == 0)
            rc = 1;
    }
    curl_global_cleanup();
    sc_suite_free(&suite);
    return rc;
}

static int run(void *state, int argc, char **argv)
{
    sc_options *o = state;
    static const char usage[] = "usage: fault scenario run -s FILE|DIR, or fault scenario "
                                "generate -s FILE|DIR --spec-file F|--spec-url URL";
    if (argc < 1) {
        fprintf(stderr, "fault: scenario: missing subcommand (%s)\n", usage);
        return 2;
    }
    if (argc > 1) {
        fprintf(stderr, "fault: scenario: unexpected argument '%s' (%s)\n", argv[1], usage);
        return 2;
    }
    if (strcmp(argv[0], "run") == 0)
        return cmd_run(o);
    if (strcmp(argv[0], "generate") == 0) {
        if (o->spec_file && o->scenario && is_input(o->spec_file, o->scenario)) {
            fprintf(stderr,
                    "fault: scenario: --scenario: '%s' is the OpenAPI document read; "
                    "refusing to overwrite it (give another path)\n",
                    o->scenario);
            return 2;
        }
        return sc_generate(o);
    }
    fprintf(stderr, "fault: scenario: unknown subcommand '%s' (%s)\n", argv[0], usage);
    return 2;
}

static const fault_command_ops command = {
    .name = "scenario",
    .summary = "Run scenario files against an application, or generate them from OpenAPI",
    .usage = "run -s FILE|DIR [OPTIONS] | generate -s FILE|DIR (--spec-file F | --spec-url URL)",
    .run = run,
};

/* libcurl, libyaml and cJSON are needed for `fault scenario` only: every
 * proxy child of a run is a `fault run` that need not load them. */
FAULT_PLUGIN_HINT(FAULT_KIND_COMMAND, "scenario");
FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_COMMAND, .name = "scenario", .version = PACKAGE_VERSION,
                    .summary = "scenario runner and generator (fault scenario run|generate)",
                    .license = "Apache-2.0", .options = options, .state_size = sizeof(sc_options),
                    .configure = configure, .start = start, .command = &command);
