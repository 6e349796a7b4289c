/*
 * core/run.c - `fault run`: parse the proxy's options and every plugin's,
 * hand `--proxy` mappings to the protocol handlers, start the plugins on the
 * loop, and run until --duration or a signal.
 *
 * All validation happens before anything listens, so bad input never
 * leaves a half-started proxy behind.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>

#include "internal.h"

fault__runopts fault__ro;

#define RO(field) offsetof(fault__runopts, field)

static const fault_option run_options[] = {
    {.name = "duration",
     .env = "FAULT_PROXY_DURATION",
     .type = FAULT_OPT_DURATION,
     .help = "Stop the proxy after this long (e.g. 60s, 10m); unlimited by default",
     .offset = RO(duration_us)},
    {.name = "proxy",
     .env = "FAULT_PROXIES",
     .type = FAULT_OPT_LIST,
     .metavar = "MAPPING",
     .help = "Proxy mapping [ADDR:]PORT=[scheme://]host[:port] (repeatable); ADDR "
             "defaults to 127.0.0.1 and [::1] (0.0.0.0: every interface)",
     .offset = RO(proxies)},
    {.name = "seed",
     .env = "FAULT_SEED",
     .type = FAULT_OPT_INT,
     .help = "Seed for fault decisions: same seed and traffic give the same faults",
     .offset = RO(seed),
     .min = 0,
     .max = 9223372036854775807.0},
    {.name = "no-ui",
     .env = "FAULT_PROXY_NO_UI",
     .type = FAULT_OPT_BOOL,
     .help = "Print nothing while running",
     .offset = RO(no_ui)},
    {.name = "tail",
     .env = "FAULT_TAIL",
     .type = FAULT_OPT_BOOL,
     .help = "Print one line per connection and fault event",
     .offset = RO(tail)},
    {.name = "connect-timeout",
     .env = "FAULT_CONNECT_TIMEOUT",
     .type = FAULT_OPT_DURATION,
     .def = "10s",
     .help = "Give up connecting to an upstream after this long",
     .offset = RO(connect_timeout_us)},
    {.name = "events",
     .env = "FAULT_EVENTS",
     .type = FAULT_OPT_STRING,
     .metavar = "FILE",
     .help = "Write every event as a JSON line to FILE ('-' for standard output)",
     .offset = RO(events)},
    {.name = "tls-no-verify",
     .env = "FAULT_TLS_NO_VERIFY",
     .type = FAULT_OPT_BOOL,
     .help = "Do not verify upstream TLS certificates (testing only)",
     .offset = RO(tls_no_verify)},
    {.name = "tls-ca-file",
     .env = "FAULT_TLS_CA_FILE",
     .type = FAULT_OPT_STRING,
     .metavar = "PEM",
     .help = "CA bundle for verifying upstreams (default: system store)",
     .offset = RO(tls_ca_file)},
    /* `--instance PLUGIN`: the options of PLUGIN that follow, up to the
     * next --instance, go to a new instance of it (see on_stored()). Out
     * of --help; fault-run(1) and the README describe it. */
    {.name = "instance",
     .env = "" /* none */,
     .type = FAULT_OPT_STRING,
     .metavar = "PLUGIN",
     .flags = FAULT_OPTF_HIDDEN,
     .help = "Options of PLUGIN that follow apply to a new instance of it",
     .offset = RO(instance)},
    FAULT_OPTION_END};

static fault__optowner run_owner = {.name = "core", .opts = run_options, .block = &fault__ro};

/* The mode of run the user chose (`fault run dns`), or NULL. */
static fault_plugin *run_mode;
/* Mappings the mode added (fault_run_add_mapping()), and whether it may. */
static fault_strv mode_maps;
static bool adding_maps;

static const fault_run_mode_ops *mode_ops(const fault_plugin *p)
{
    return p->d->abi_minor >= 3 && p->d->run_mode && p->d->run_mode->word ? p->d->run_mode : NULL;
}

static fault_plugin *find_mode(const char *word)
{
    for (fault_plugin *p = fault__plugins(); p; p = p->next)
        if (mode_ops(p) && strcmp(mode_ops(p)->word, word) == 0)
            return p;
    return NULL;
}

/* Every plugin that acts on proxied traffic takes its options on `run`;
 * a mode's plugin only when its mode was chosen. */
static bool is_run_plugin(const fault_plugin *p)
{
    if (mode_ops(p))
        return p == run_mode;
    return p->d->kind == FAULT_KIND_FAULT || p->d->kind == FAULT_KIND_PROTOCOL ||
           p->d->kind == FAULT_KIND_BRIDGE;
}

int fault_run_add_mapping(fault_plugin *self, const char *text, char *err, size_t errlen)
{
    if (!adding_maps || self != run_mode) {
        if (err && errlen)
            snprintf(err, errlen, "mappings are added from a run mode's select() only");
        return FAULT_EPERM;
    }
    fault_mapping m;
    if (!text || fault__mapping_parse(text, &m, err, errlen) != 0)
        return FAULT_ESYNTAX;
    fault__mapping_free(&m);
    const char **v = realloc((void *)mode_maps.v, (mode_maps.n + 1) * sizeof *v);
    if (!v)
        return FAULT_ENOMEM;
    mode_maps.v = v;
    if (!(v[mode_maps.n] = strdup(text)))
        return FAULT_ENOMEM;
    mode_maps.n++;
    return 0;
}

/* The owners of run's options while a mode's select() runs. */
static fault__optowner **select_owners;
static size_t select_nowners;

int fault_run_set_option(fault_plugin *self, const char *name, const char *value, char *err,
                         size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!adding_maps || self != run_mode || !select_owners) {
        if (err && errlen)
            snprintf(err, errlen, "options are set from a run mode's select() only");
        return FAULT_EPERM;
    }
    if (!name || !value)
        return FAULT_EINVAL;
    for (size_t i = 0; i < select_nowners; i++) {
        fault__optowner *o = select_owners[i];
        if (o == &self->opt || !fault__option_find(o, name, NULL))
            continue;
        size_t n = strlen(name) + strlen(value) + 4;
        char *arg = malloc(n);
        if (!arg)
            return FAULT_ENOMEM;
        snprintf(arg, n, "--%s=%s", name, value);
        char *one[1] = {arg}, *pos[1];
        int npos = 0;
        /* The parser names the option and the value on stderr. */
        int rc = fault__options_parse(&o, 1, 1, one, pos, &npos, "run");
        free(arg);
        if (rc != 0) {
            if (err && errlen)
                snprintf(err, errlen, "--%s: invalid value '%s'", name, value);
            return FAULT_ESYNTAX;
        }
        return 0;
    }
    if (err && errlen)
        snprintf(err, errlen, "no plugin takes --%s here", name);
    return FAULT_EINVAL;
}

static void mode_maps_free(void)
{
    for (size_t i = 0; i < mode_maps.n; i++)
        free((char *)mode_maps.v[i]);
    free((void *)mode_maps.v);
    mode_maps.v = NULL;
    mode_maps.n = 0;
}

size_t fault__run_owners(fault__optowner **owners, size_t max)
{
    size_t n = 0;
    char err[FAULT__ERRLEN];
    if (!run_owner.set)
        fault__options_defaults(&run_owner, err, sizeof err);
    owners[n++] = &run_owner;
    /* The chosen mode's options come first: they shadow run's of the same
     * name on the mode's line. */
    if (run_mode && n < max)
        owners[n++] = &run_mode->opt;
    /* Later instances (--instance) take their options through the first's
     * entry, swapped while parsing; help and documentation list plugins. */
    for (fault_plugin *p = fault__plugins(); p && n < max; p = p->next)
        if (is_run_plugin(p) && p->ordinal == 1 && p != run_mode)
            owners[n++] = &p->opt;
    return n;
}

void fault__run_help(FILE *out, int argc, char **argv)
{
    fault__optowner *owners[64];
    fault_plugin *m = argc > 0 && argv[0][0] != '-' ? find_mode(argv[0]) : NULL;
    run_mode = m;
    size_t n = fault__run_owners(owners, 64);
    if (m) {
        fprintf(out, "Usage: fault run %s [OPTIONS]\n\n%s\n",
                mode_ops(m)->usage ? mode_ops(m)->usage : mode_ops(m)->word,
                mode_ops(m)->summary ? mode_ops(m)->summary : "");
        for (size_t i = 1; i < n; i++)
            if (owners[i] == &m->opt)
                fault__options_help(out, owners[i], "Options of this mode");
        fault__options_help(out, owners[0], "Proxy options");
        for (size_t i = 1; i < n; i++) {
            if (owners[i] == &m->opt)
                continue;
            fault_plugin *p = fault__plugin_by_name(owners[i]->name);
            char title[160];
            snprintf(title, sizeof title, "%s (%s plugin)",
                     p->d->summary ? p->d->summary : p->d->name, p->d->name);
            fault__options_help(out, owners[i], title);
        }
        return;
    }
    fprintf(out, "Usage: fault run [MODE ARGS] [OPTIONS]\n\nRun the proxy with fault injection.\n");
    bool any = false;
    for (fault_plugin *p = fault__plugins(); p; p = p->next) {
        if (!mode_ops(p) || p->ordinal != 1)
            continue;
        if (!any)
            fprintf(out, "\nModes (see 'fault run MODE --help'):\n");
        any = true;
        fprintf(out, "  %-24s %s\n", mode_ops(p)->usage ? mode_ops(p)->usage : mode_ops(p)->word,
                mode_ops(p)->summary ? mode_ops(p)->summary : "");
    }
    fault__options_help(out, owners[0], "Proxy options");
    for (size_t i = 1; i < n; i++) {
        fault_plugin *p = fault__plugin_by_name(owners[i]->name);
        char title[160];
        snprintf(title, sizeof title, "%s (%s plugin)", p->d->summary ? p->d->summary : p->d->name,
                 p->d->name);
        fault__options_help(out, owners[i], title);
    }
}

/* Highest-priority protocol handler serving the scheme. */
static fault_plugin *handler_for(const char *scheme)
{
    fault_plugin *best = NULL;
    for (fault_plugin *p = fault__plugins(); p; p = p->next) {
        const fault_protocol_ops *po = p->d->protocol;
        if (!po || !po->schemes || !p->enabled)
            continue;
        for (const char *const *sc = po->schemes; *sc; sc++) {
            if (strcasecmp(*sc, scheme) == 0 &&
                (!best || po->priority > best->d->protocol->priority))
                best = p;
        }
    }
    return best;
}

static bool run_option_set(const char *name)
{
    size_t idx;
    return fault__option_find(&run_owner, name, &idx) && run_owner.set && run_owner.set[idx];
}

/* Options that each parse but say nothing sensible together, or name a
 * file that cannot serve: one line and status 2, before anything runs. */
static int check_run_options(void)
{
    if (fault__ro.tail && fault__ro.no_ui) {
        fprintf(stderr, "fault: --tail and --no-ui contradict each other: give one\n");
        return 2;
    }
    if (run_option_set("duration") && fault__ro.duration_us < 1000) {
        fprintf(stderr, "fault: --duration: must be at least 1ms (leave it out to run until "
                        "stopped)\n");
        return 2;
    }
    if (fault__ro.tls_ca_file) {
        if (fault__ro.tls_no_verify) {
            fprintf(stderr, "fault: --tls-no-verify and --tls-ca-file contradict each other: "
                            "give one\n");
            return 2;
        }
        FILE *f = fopen(fault__ro.tls_ca_file, "r");
        if (!f) {
            fprintf(stderr, "fault: --tls-ca-file: %s: %s\n", fault__ro.tls_ca_file,
                    strerror(errno));
            return 2;
        }
        char line[256];
        bool pem = false;
        while (!pem && fgets(line, sizeof line, f))
            pem = strncmp(line, "-----BEGIN CERTIFICATE-----", 27) == 0;
        fclose(f);
        if (!pem) {
            fprintf(stderr, "fault: --tls-ca-file: %s: no PEM certificate in it\n",
                    fault__ro.tls_ca_file);
            return 2;
        }
    }
    return 0;
}

static uint64_t random_seed(void)
{
    uint64_t s = 0;
    if (getrandom(&s, sizeof s, 0) != (ssize_t)sizeof s)
        s = fault_now_us() ^ ((uint64_t)getpid() << 32);
    return s;
}

/* A fault's settings given on the command line while the fault is off
 * (--latency-mean without --with-latency) would do nothing: bad input.
 * Values from the environment are let be: a shell may well keep them for
 * the runs that enable the fault. */
static bool disabled_but_set(const fault_plugin *p)
{
    const fault_option *enable = NULL;
    for (size_t i = 0; i < p->opt.nopts; i++)
        if ((p->opt.opts[i].flags & FAULT_OPTF_ENABLE) && p->opt.opts[i].type == FAULT_OPT_BOOL)
            enable = &p->opt.opts[i];
    if (!enable)
        return false;
    for (size_t i = 0; i < p->opt.nopts; i++) {
        if (&p->opt.opts[i] == enable || p->opt.set[i] != 1)
            continue;
        fprintf(stderr, "fault: --%s: the %s fault is off: give --%s to enable it\n",
                p->opt.opts[i].name, p->d->name, enable->name);
        return true;
    }
    return false;
}

static int configure_plugins(void)
{
    for (fault_plugin *p = fault__plugins(); p; p = p->next) {
        if (!is_run_plugin(p))
            continue;
        for (size_t i = 0; i < p->opt.nopts; i++) {
            const fault_option *o = &p->opt.opts[i];
            void *v = (char *)p->state + o->offset;
            if ((o->flags & FAULT_OPTF_ENABLE) && o->type == FAULT_OPT_BOOL)
                p->enabled = *(bool *)v;
            if (o->type == FAULT_OPT_SCHEDULE)
                p->sched = *(fault_schedule **)v;
        }
        if (!p->enabled) {
            if (disabled_but_set(p))
                return 2;
            continue;
        }
        p->err[0] = '\0';
        if (p->d->configure && p->d->configure(p, p->state) < 0) {
            fprintf(stderr, "fault: %s: %s\n", fault_plugin_name(p),
                    p->err[0] ? p->err : "invalid configuration");
            return 2;
        }
    }
    return 0;
}

static int add_mappings(fault_mapping *maps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fault_plugin *h = handler_for(maps[i].scheme);
        if (!h) {
            fprintf(stderr, "fault: --proxy: '%s': no protocol plugin serves %s%s%s\n",
                    maps[i].text, *maps[i].scheme ? "scheme " : "plain host:port mappings",
                    maps[i].scheme, *maps[i].scheme ? "" : " (is the tcp plugin installed?)");
            return 2;
        }
        char err[FAULT__ERRLEN] = "";
        if (h->d->protocol->add_mapping &&
            h->d->protocol->add_mapping(h->state, &maps[i], err, sizeof err) < 0) {
            fprintf(stderr, "fault: --proxy: '%s': %s\n", maps[i].text, err[0] ? err : "refused");
            return 2;
        }
    }
    return 0;
}

/* Whether a plugin of the run reads the environment variable name. */
static bool env_claimed(fault__optowner **owners, size_t nowners, const char *name)
{
    char env[128];
    for (size_t i = 0; i < nowners; i++)
        for (size_t j = 0; j < owners[i]->nopts; j++) {
            fault__option_env_name(&owners[i]->opts[j], env, sizeof env);
            if (strcmp(env, name) == 0)
                return true;
        }
    return false;
}

/*
 * Variables of the original's `run` for features this build does not
 * have (stealth mode through eBPF, when no plugin provides it). They are
 * documented, so a user may well set them: each one set says on standard
 * error that it has no effect, and the run goes on. A variable some
 * loaded plugin reads is that plugin's business.
 */
static void warn_unavailable(fault__optowner **owners, size_t nowners)
{
    static const char *const stealth_vars[] = {"FAULT_EBPF_PROCESS_NAME", "FAULT_EBPF_PROGRAMS_DIR",
                                               "FAULT_EBPF_PROXY_IP",     "FAULT_EBPF_PROXY_PORT",
                                               "FAULT_EBPF_PROXY_IFACE",  NULL};
    const char *v = getenv("FAULT_ENABLE_STEALTH");
    if (v && *v && !env_claimed(owners, nowners, "FAULT_ENABLE_STEALTH") &&
        strcasecmp(v, "false") != 0 && strcmp(v, "0") != 0 && strcasecmp(v, "no") != 0 &&
        strcasecmp(v, "off") != 0) {
        fprintf(stderr, "fault: FAULT_ENABLE_STEALTH: stealth mode (eBPF) is not available in "
                        "this build; ignored, the proxy runs as usual\n");
        fault_log_warn(NULL, "FAULT_ENABLE_STEALTH: stealth mode is not available; ignored");
    }
    for (size_t i = 0; stealth_vars[i]; i++)
        if (getenv(stealth_vars[i]) && !env_claimed(owners, nowners, stealth_vars[i]))
            fprintf(stderr,
                    "fault: %s: only used by stealth mode (eBPF), which is not "
                    "available in this build; ignored\n",
                    stealth_vars[i]);
}

static int start_plugins(void)
{
    for (fault_plugin *p = fault__plugins(); p; p = p->next) {
        if (!is_run_plugin(p) || !p->enabled)
            continue;
        p->err[0] = '\0';
        if (p->d->start && p->d->start(p, p->state) < 0) {
            fprintf(stderr, "fault: %s: %s\n", fault_plugin_name(p),
                    p->err[0] ? p->err : "failed to start");
            return 1;
        }
        p->started = true;
    }
    return 0;
}

/* After each stored option: `--instance PLUGIN` creates the plugin's next
 * instance, and the plugin's entry in owners points to it until the next
 * --instance, so its flags that follow configure the new instance. */
static int on_stored(void *ud, fault__optowner **owners, size_t nowners, fault__optowner *owner,
                     size_t idx)
{
    (void)ud;
    if (owner != &run_owner || strcmp(owner->opts[idx].name, "instance") != 0)
        return 0;
    char err[FAULT__ERRLEN];
    fault_plugin *p = fault__plugin_instance_new(fault__ro.instance, err, sizeof err);
    if (!p) {
        fprintf(stderr, "fault: --instance: %s\n", err);
        return 2;
    }
    for (size_t i = 0; i < nowners; i++) {
        if (owners[i] == &run_owner || owners[i] == fault__global_owner())
            continue;
        fault_plugin *q = fault__container_of(owners[i], fault_plugin, opt);
        if (q->d == p->d)
            owners[i] = &p->opt;
    }
    return 0;
}

int fault__cmd_run(int argc, char **argv)
{
    fault__optowner *owners[65], *parsed[65];
    /* A mode's word comes first: `fault run dns --case ...`. */
    run_mode = NULL;
    if (argc > 0 && argv[0][0] != '-') {
        run_mode = find_mode(argv[0]);
        if (run_mode) {
            argc--;
            argv++;
        }
    }
    for (fault_plugin *p = fault__plugins(); p; p = p->next)
        if (mode_ops(p) && p != run_mode)
            p->enabled = false; /* a mode that was not chosen does nothing */
    size_t nowners = fault__run_owners(owners, 64);
    owners[nowners++] = fault__global_owner();
    memcpy(parsed, owners, nowners * sizeof *owners);
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    int npos = 0, rc;
    if (!pos)
        return 1;
    /* parsed follows --instance; the environment applies to the first
     * instances only (owners). */
    rc = fault__options_parse_cb(parsed, nowners, argc, argv, pos, &npos, "run", on_stored, NULL);
    if (rc == 0 && npos > 0 && !run_mode) {
        fprintf(
            stderr,
            "fault: run: '%s' is neither a mode of run nor an option (see 'fault run --help')\n",
            pos[0]);
        rc = 2;
    }
    if (rc == 0)
        rc = fault__options_env(owners, nowners);
    if (rc == 0)
        rc = fault__globals_apply();
    if (rc == 0)
        rc = check_run_options();
    if (rc == 0)
        warn_unavailable(owners, nowners);
    if (rc == 0 && run_mode) {
        /* The mode sees its words and adds what it needs. */
        const fault_run_mode_ops *mo = mode_ops(run_mode);
        run_mode->enabled = true;
        run_mode->err[0] = '\0';
        adding_maps = true;
        select_owners = parsed;
        select_nowners = nowners;
        int mrc = mo->select ? mo->select(run_mode, run_mode->state, npos, pos) : 0;
        adding_maps = false;
        select_owners = NULL;
        if (mrc < 0) {
            fprintf(stderr, "fault: run %s: %s\n", mo->word,
                    run_mode->err[0] ? run_mode->err : fault_strerror(mrc));
            rc = 2;
        }
    }
    free(pos);
    if (rc != 0) {
        mode_maps_free();
        return rc;
    }

    /* Validate everything before anything listens. */
    size_t nmaps = fault__ro.proxies.n + mode_maps.n;
    fault_mapping *maps = calloc(nmaps ? nmaps : 1, sizeof *maps);
    if (!maps) {
        mode_maps_free();
        return 1;
    }
    for (size_t i = 0; i < nmaps && rc == 0; i++) {
        char err[256];
        const char *text =
            i < fault__ro.proxies.n ? fault__ro.proxies.v[i] : mode_maps.v[i - fault__ro.proxies.n];
        if (fault__mapping_parse(text, &maps[i], err, sizeof err) != 0) {
            fprintf(stderr, "fault: --proxy: '%s': %s\n", text, err);
            rc = 2;
        }
    }
    /* A mapping with no address listens on the loopback of both families;
     * not where another mapping names [::1] or [::] on the same port. */
    for (size_t i = 0; i < fault__ro.proxies.n && rc == 0; i++) {
        const char *text = fault__ro.proxies.v[i];
        if (strspn(text, "0123456789") != strcspn(text, "="))
            continue;
        bool taken = false;
        for (size_t j = 0; j < nmaps; j++)
            taken = taken || (maps[j].listen_port == maps[i].listen_port &&
                              strchr(maps[j].listen_host, ':'));
        if (!taken)
            fault__listen_loopback_both(maps[i].listen_port);
    }
    mode_maps_free();
    fault__g.duration_us = fault__ro.duration_us;
    if (rc == 0)
        rc = configure_plugins();
    if (rc == 0)
        rc = fault__sched_prepare();
    if (rc == 0)
        rc = add_mappings(maps, nmaps);
    for (size_t i = 0; i < nmaps; i++)
        fault__mapping_free(&maps[i]);
    free(maps);
    if (rc != 0)
        return rc;

    fault__tls_global_options(fault__ro.tls_no_verify, fault__ro.tls_ca_file);
    /* Each relayed connection may hold up to six descriptors (two sockets,
     * two splice pipes): the soft limit goes up to the hard one, as
     * servers do, so that 1,024 does not cap the proxy at ~170. */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        rlim_t was = nofile.rlim_cur;
        nofile.rlim_cur = nofile.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &nofile) == 0)
            fault_log_debug(NULL, "open files: soft limit %llu -> %llu", (unsigned long long)was,
                            (unsigned long long)nofile.rlim_cur);
    }
    uint64_t seed;
    size_t seed_idx;
    if (fault__option_find(&run_owner, "seed", &seed_idx) && run_owner.set[seed_idx])
        seed = (uint64_t)fault__ro.seed;
    else
        seed = random_seed();
    fault__g.seed = seed;
    fault__plugins_seed(seed);
    fault_log_info(NULL, "seed %llu", (unsigned long long)seed);

    char everr[FAULT__ERRLEN];
    if (fault__evlog_open(fault__ro.events, everr, sizeof everr) < 0) {
        fprintf(stderr, "fault: %s\n", everr);
        return 2;
    }
    fault__ui_start(fault__ro.no_ui  ? FAULT__UI_NONE
                    : fault__ro.tail ? FAULT__UI_TAIL
                                     : FAULT__UI_SUMMARY);
    fault__runctl_start();
    rc = start_plugins();
    if (rc == 0 && fault__listeners_count() == 0) {
        /* A listener that could not be opened, and did not fail its
         * plugin's start, left its reason as the plugin's error: that is a
         * failure of the run (1), whereas no listener asked for at all is
         * bad input (2). */
        if (fault__listen_failures() > 0) {
            for (fault_plugin *p = fault__plugins(); p; p = p->next)
                if (is_run_plugin(p) && p->enabled && p->err[0])
                    fprintf(stderr, "fault: %s: %s\n", p->d->name, p->err);
            rc = 1;
        } else {
            fprintf(stderr, "fault: run: nothing to proxy: give at least one --proxy mapping\n");
            rc = 2;
        }
    }
    if (rc != 0)
        fault__runctl_stop(rc);
    uv_run(fault__g.loop, UV_RUN_DEFAULT);
    if (!fault__g.stopping)
        fault__runctl_stop(0);
    fault__runctl_close_signals();
    /* Let every closing handle finish before plugins are unloaded. */
    uv_run(fault__g.loop, UV_RUN_DEFAULT);
    fault__evlog_close();
    return rc != 0                                                        ? rc
           : (fault__g.exit_status == 130 || fault__g.exit_status == 143) ? 0
                                                                          : fault__g.exit_status;
}
