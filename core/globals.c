/*
 * core/globals.c - the global options (those before the command: logs,
 * plugin directories, secret masks), their one value for the process
 * (fault__go), and what applying them does. cli.c parses them, run.c and
 * command plugins apply them, doc.c documents them.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

fault__globals fault__go;

#define GO(field) offsetof(fault__globals, field)

static const fault_option global_options[] = {
    {.name = "log-file",
     .env = "FAULT_LOG_FILE",
     .type = FAULT_OPT_STRING,
     .metavar = "FILE",
     .help = "Append logs to this file",
     .offset = GO(log_file)},
    {.name = "log-stdout",
     .env = "FAULT_WITH_STDOUT_LOGGING",
     .type = FAULT_OPT_BOOL,
     .help = "Print logs on standard output",
     .offset = GO(log_stdout)},
    {.name = "log-level",
     .env = "FAULT_LOG_LEVEL",
     .type = FAULT_OPT_STRING,
     .def = "info",
     .metavar = "LEVEL",
     .help = "error, warn, info, debug or trace",
     .offset = GO(log_level)},
    {.name = "with-otel",
     .env = "FAULT_WITH_OTEL",
     .type = FAULT_OPT_BOOL,
     .help = "Export traces and metrics over OTLP/HTTP (JSON), configured by the OTEL_* "
             "variables (the otel plugin; without it, says so and is ignored)",
     .offset = GO(with_otel)},
    {.name = "plugin-dir",
     .env = "FAULT_PLUGIN_DIRS",
     .type = FAULT_OPT_LIST,
     .metavar = "DIR",
     .help = "Also load plugins from DIR (repeatable; FAULT_PLUGIN_PATH is colon separated)",
     .offset = GO(plugin_dirs)},
    {.name = "mask",
     .env = "FAULT_MASK",
     .type = FAULT_OPT_LIST,
     .metavar = "NAME",
     .help = "Also mask the values of this header or query parameter in reports, results and "
             "events ('*' wildcards; repeatable)",
     .offset = GO(mask)},
    FAULT_OPTION_END};

static fault__optowner global_owner = {.name = "core", .opts = global_options, .block = &fault__go};

fault__optowner *fault__global_owner(void)
{
    return &global_owner;
}

int fault__globals_apply(void)
{
    char err[FAULT__ERRLEN];
    for (size_t i = 0; i < fault__go.plugin_dirs.n; i++) {
        struct stat st;
        if (stat(fault__go.plugin_dirs.v[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "fault: --plugin-dir: %s: not a directory\n",
                    fault__go.plugin_dirs.v[i]);
            return 2;
        }
    }
    fault__secrets_set(&fault__go.mask);
    /* Child processes (a scenario's proxy) mask the same names. */
    if (fault__go.mask.n) {
        size_t n = 1;
        for (size_t i = 0; i < fault__go.mask.n; i++)
            n += strlen(fault__go.mask.v[i]) + 1;
        char *all = calloc(1, n);
        if (all) {
            for (size_t i = 0; i < fault__go.mask.n; i++) {
                if (i)
                    strcat(all, ",");
                strcat(all, fault__go.mask.v[i]);
            }
            setenv("FAULT_MASK", all, 1);
            free(all);
        }
    }
    if (fault__log_setup(fault__go.log_file, fault__go.log_stdout, fault__go.log_level, err,
                         sizeof err) != 0) {
        fprintf(stderr, "fault: %s\n", err);
        return 2;
    }
    /* The otel plugin (loaded only when --with-otel or FAULT_WITH_OTEL
     * is given, by its hint) exports when the option is on, and is off
     * otherwise (FAULT_WITH_OTEL=false loads it too). Without it, the
     * option is accepted for the original's command lines: say that
     * nothing exports, where the user looks, and go on. */
    bool have_otel = false;
    for (fault_plugin *p = fault__plugins(); p; p = p->next)
        if (strcmp(p->d->name, "otel") == 0) {
            p->enabled = fault__go.with_otel;
            have_otel = true;
        }
    /* A scenario's proxies are child `fault run` processes: they export
     * too. */
    if (fault__go.with_otel)
        setenv("FAULT_WITH_OTEL", "true", 1);
    if (fault__go.with_otel && !have_otel) {
        const char *msg = "--with-otel (FAULT_WITH_OTEL): OpenTelemetry export is not available "
                          "in this build; ignored";
        fprintf(stderr, "fault: %s\n", msg);
        fault_log_warn(NULL, "%s", msg);
    }
    return 0;
}
