/*
 * core/cli.c - the command line: plugin loading, and dispatch to `run`,
 * `plugins`, `version` or a command plugin (the global options they all
 * take are in globals.c).
 */
#include "config.h"

#include <dlfcn.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

static void usage(FILE *out)
{
    fprintf(out, "Usage: fault [GLOBAL OPTIONS] COMMAND [OPTIONS]\n\n"
                 "A network fault-injection proxy and resilience-testing tool.\n\nCommands:\n");
    fprintf(out, "  %-12s %s\n", "run", "Run the proxy with fault injection");
    for (fault_plugin *p = fault__plugins(); p; p = p->next)
        if (p->d->command && p->d->command->name)
            fprintf(out, "  %-12s %s\n", p->d->command->name,
                    p->d->command->summary ? p->d->command->summary : "");
    fprintf(out, "  %-12s %s\n", "plugins", "List the plugins found and whether they loaded");
    fprintf(out, "  %-12s %s\n", "version", "Print the version and plugin ABI");
    fprintf(out, "  %-12s %s\n", "completion", "Print a bash completion script (completion bash)");
    fprintf(out, "  %-12s %s\n", "manpage", "Print the manual page of fault or of a command");
    fault__options_help(out, fault__global_owner(), "Global options");
    fprintf(out, "\nRun 'fault COMMAND --help' for the options of a command.\n");
}

static int cmd_version(void)
{
    printf("fault %s (plugin ABI %d.%d)\n", PACKAGE_VERSION, FAULT_ABI_MAJOR, FAULT_ABI_MINOR);
    return 0;
}

int fault__cmd_plugins(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("%-14s %-9s %-9s %-5s %s\n", "NAME", "KIND", "VERSION", "ABI", "STATUS");
    for (fault__found *f = fault__plugins_found(); f; f = f->next) {
        if (f->d) {
            char abi[16];
            snprintf(abi, sizeof abi, "%u.%u", f->d->abi_major, f->d->abi_minor);
            printf("%-14s %-9s %-9s %-5s loaded (%s)\n", f->name,
                   fault_plugin_kind_name((fault_plugin_kind)f->d->kind),
                   f->d->version ? f->d->version : "-", abi, f->path);
        } else {
            printf("%-14s %-9s %-9s %-5s refused: %s (%s)\n", f->name, "-", "-", "-", f->refused,
                   f->path);
        }
    }
    return 0;
}

static int run_command_plugin(fault_plugin *p, int argc, char **argv)
{
    fault__optowner *owners[2] = {&p->opt, fault__global_owner()};
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    int npos = 0;
    if (!pos)
        return 1;
    int rc = fault__options_parse(owners, 2, argc, argv, pos, &npos, p->d->command->name);
    if (rc == 0)
        rc = fault__options_env(owners, 2);
    if (rc == 0)
        rc = fault__globals_apply();
    if (rc == 0 && p->d->configure && p->d->configure(p, p->state) < 0) {
        fprintf(stderr, "fault: %s: %s\n", p->d->command->name,
                p->err[0] ? p->err : "invalid configuration");
        rc = 2;
    }
    if (rc == 0) {
        fault__g.start_us = fault_now_us();
        if (p->d->start && p->d->start(p, p->state) < 0) {
            fprintf(stderr, "fault: %s: %s\n", p->d->command->name, p->err[0] ? p->err : "failed");
            rc = 1;
        } else {
            p->started = true;
            rc = p->d->command->run(p->state, npos, pos);
            if (p->d->stop)
                p->d->stop(p, p->state);
            p->started = false;
            uv_run(fault__g.loop, UV_RUN_DEFAULT);
        }
    }
    free(pos);
    return rc;
}

static bool wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    }
    return false;
}

/* Adds each entry of a colon-separated path to dirs. */
static size_t split_path(const char *path, const char **dirs, size_t n, size_t max, char **hold)
{
    *hold = path ? strdup(path) : NULL;
    char *save = NULL;
    for (char *t = *hold ? strtok_r(*hold, ":", &save) : NULL; t && n < max;
         t = strtok_r(NULL, ":", &save))
        dirs[n++] = t;
    return n;
}

/*
 * The default plugin directory: <libdir>/fault/plugins, found next to the
 * libfaultcore actually loaded, so an installed tree still works when it
 * is moved (or installed under another prefix, as the SDK test does);
 * otherwise the directory configured at build time.
 */
static const char *default_plugin_dir(char *buf, size_t len)
{
    Dl_info info;
    if (dladdr((void *)&fault_main, &info) && info.dli_fname) {
        const char *slash = strrchr(info.dli_fname, '/');
        struct stat st;
        if (slash) {
            snprintf(buf, len, "%.*s/fault/plugins", (int)(slash - info.dli_fname), info.dli_fname);
            if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
                return buf;
        }
    }
    return FAULT_PLUGINDIR;
}

int fault_main(int argc, char **argv)
{
    char err[FAULT__ERRLEN];
    /* A peer that goes away mid-write must be an error on that socket,
     * not the end of the process. */
    signal(SIGPIPE, SIG_IGN);
    fault__options_defaults(fault__global_owner(), err, sizeof err);

    /* Global options come before the command word; they are also accepted
     * after it (each command parses them again). */
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-')
            break;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "--version") == 0 ||
            strcmp(a, "-V") == 0)
            break;
        const char *name = a + (a[1] == '-' ? 2 : 1);
        size_t len = strcspn(name, "=");
        char buf[64];
        snprintf(buf, sizeof buf, "%.*s", (int)len, name);
        size_t idx;
        const fault_option *o = fault__option_find(fault__global_owner(), buf, &idx);
        if (!o) {
            fprintf(stderr, "fault: %s: unknown global option (see 'fault --help')\n", a);
            return 2;
        }
        const char *value = name[len] == '=' ? name + len + 1 : NULL;
        if (!value && o->type != FAULT_OPT_BOOL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "fault: --%s: needs a value\n", buf);
                return 2;
            }
            value = argv[++i];
        }
        char *one[1] = {NULL};
        char optbuf[256];
        snprintf(optbuf, sizeof optbuf, "--%s=%s", buf, value ? value : "true");
        one[0] = optbuf;
        fault__optowner *owners[1] = {fault__global_owner()};
        char *pos[1];
        int npos;
        int rc = fault__options_parse(owners, 1, 1, one, pos, &npos, "fault");
        if (rc)
            return rc;
    }
    /* --plugin-dir may also follow the command: look for it everywhere. */
    for (int k = i; k < argc; k++) {
        if (strcmp(argv[k], "--") == 0)
            break;
        const char *v = NULL;
        if (strcmp(argv[k], "--plugin-dir") == 0 && k + 1 < argc)
            v = argv[k + 1];
        else if (strncmp(argv[k], "--plugin-dir=", 13) == 0)
            v = argv[k] + 13;
        if (v) {
            char optbuf[4096];
            snprintf(optbuf, sizeof optbuf, "--plugin-dir=%s", v);
            char *one[1] = {optbuf};
            fault__optowner *owners[1] = {fault__global_owner()};
            char *pos[1];
            int npos;
            if (fault__options_parse(owners, 1, 1, one, pos, &npos, "fault"))
                return 2;
        }
    }

    const char *dirs[64];
    size_t ndirs = 0;
    for (size_t k = 0; k < fault__go.plugin_dirs.n && ndirs < 60; k++)
        dirs[ndirs++] = fault__go.plugin_dirs.v[k];
    char *hold = NULL;
    char defdir[PATH_MAX];
    ndirs = split_path(getenv("FAULT_PLUGIN_PATH"), dirs, ndirs, 62, &hold);
    if (!getenv("FAULT_NO_DEFAULT_PLUGINS"))
        dirs[ndirs++] = default_plugin_dir(defdir, sizeof defdir);

    uv_loop_t loop;
    uv_loop_init(&loop);
    fault__g.loop = &loop;
    const char *cmd = i < argc ? argv[i] : NULL;
    /* Commands that list or document everything need every plugin; any
     * other loads only what it can use. */
    static const char *const all[] = {"plugins",    "help",    "--help", "-h",
                                      "completion", "manpage", NULL};
    bool load_all = !cmd || wants_help(argc - i, argv + i);
    for (size_t k = 0; all[k] && cmd; k++)
        load_all |= strcmp(cmd, all[k]) == 0;
    fault__plugins_load(dirs, ndirs, load_all ? NULL : cmd, argc, argv);

    int rc = 0;
    int cargc = i < argc ? argc - i - 1 : 0;
    char **cargv = argv + (i < argc ? i + 1 : argc);
    /* `fault help COMMAND` is `fault COMMAND --help`. */
    char *help_argv[2] = {"--help", NULL};
    if (cmd && strcmp(cmd, "help") == 0 && cargc > 0) {
        cmd = cargv[0];
        cargc = 1;
        cargv = help_argv;
    }
    if (!cmd || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(cmd ? stdout : stderr);
        rc = cmd ? 0 : 2;
    } else if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0 ||
               strcmp(cmd, "version") == 0) {
        rc = cmd_version();
    } else if (strcmp(cmd, "run") == 0) {
        if (wants_help(cargc, cargv))
            fault__run_help(stdout, cargc, cargv);
        else
            rc = fault__cmd_run(cargc, cargv);
    } else if (strcmp(cmd, "plugins") == 0) {
        rc = fault__cmd_plugins(cargc, cargv);
    } else if (strcmp(cmd, "completion") == 0 || strcmp(cmd, "manpage") == 0) {
        rc = fault__cmd_doc(cmd, cargc, cargv);
    } else {
        fault_plugin *p = NULL;
        for (fault_plugin *q = fault__plugins(); q; q = q->next)
            if (q->d->command && q->d->command->name && strcmp(q->d->command->name, cmd) == 0)
                p = q;
        if (!p) {
            fprintf(stderr, "fault: '%s' is not a command (see 'fault --help')\n", cmd);
            rc = 2;
        } else if (wants_help(cargc, cargv)) {
            printf("Usage: fault %s %s\n\n%s\n", cmd,
                   p->d->command->usage ? p->d->command->usage : "[OPTIONS]",
                   p->d->command->summary ? p->d->command->summary : "");
            fault__options_help(stdout, &p->opt, "Options");
        } else {
            rc = run_command_plugin(p, cargc, cargv);
        }
    }

    fault__timers_shutdown();
    uv_run(&loop, UV_RUN_DEFAULT);
    fault__plugins_unload();
    fault__events_reset();
    fault__options_release(fault__global_owner());
    fault__tls_shutdown();
    fault__log_close();
    if (uv_loop_close(&loop) == UV_EBUSY)
        uv_run(&loop, UV_RUN_NOWAIT);
    free(hold);
    return rc;
}
