/*
 * core/loader.c - finds plugin files, checks their ABI, and owns the
 * plugin instances.
 *
 * Only absolute paths inside the configured plugin directories are opened
 * (never the current directory), with RTLD_NOW so a plugin with a missing
 * symbol is refused at load rather than failing mid-run, and RTLD_LOCAL so
 * plugins cannot see each other's symbols. Plugins stay mapped until
 * fault__plugins_unload(), which runs after the loop has drained.
 */
#include "config.h"

#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* The 1.0 layout is a promise: the descriptor never shrinks below it. */
_Static_assert(sizeof(fault_plugin_descriptor) >= FAULT_DESCRIPTOR_SIZE_1_0,
               "fault_plugin_descriptor is smaller than its ABI 1.0 size");
_Static_assert(sizeof(fault_plugin_descriptor) == FAULT_DESCRIPTOR_SIZE_1_0,
               "fields were added outside the descriptor's reserved space");

static fault_plugin *instances;
static fault__found *found;
static int next_index;
static fault_plugin core_instance;
static fault_plugin_descriptor core_descriptor = {.magic = FAULT_PLUGIN_MAGIC,
                                                  .abi_major = FAULT_ABI_MAJOR,
                                                  .abi_minor = FAULT_ABI_MINOR,
                                                  .size = sizeof(fault_plugin_descriptor),
                                                  .kind = 0,
                                                  .name = "core",
                                                  .version = PACKAGE_VERSION};

fault_plugin *fault__core_plugin(void)
{
    core_instance.d = &core_descriptor;
    core_instance.enabled = core_instance.active = true;
    return &core_instance;
}

fault_plugin *fault__plugins(void)
{
    return instances;
}
fault__found *fault__plugins_found(void)
{
    return found;
}

fault_plugin *fault__plugin_by_name(const char *name)
{
    for (fault_plugin *p = instances; p; p = p->next)
        if (strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

static void add_found(const char *path, const char *name, const fault_plugin_descriptor *d,
                      const char *refused)
{
    fault__found *f = calloc(1, sizeof *f);
    if (!f)
        return;
    f->path = strdup(path);
    f->name = strdup(name);
    f->d = d;
    f->refused = refused ? strdup(refused) : NULL;
    fault__found **pp = &found;
    while (*pp)
        pp = &(*pp)->next;
    *pp = f;
}

static void refuse(const char *path, const char *name, const char *fmt, ...) FAULT_PRINTF(3, 4);
static void refuse(const char *path, const char *name, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    fprintf(stderr, "fault: plugin %s refused: %s\n", path, why);
    add_found(path, name, NULL, why);
}

static bool valid_name(const char *n)
{
    if (!n || !*n || strlen(n) > 64)
        return false;
    for (const char *p = n; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return false;
    return true;
}

/* The command whose line a plugin's options are parsed on: its own for a
 * command plugin, `run` for every plugin that acts on traffic, and
 * `run WORD` for a mode of run (ABI 1.3), whose line also takes run's. */
static const char *option_namespace(const fault_plugin_descriptor *d, char *buf, size_t len)
{
    if (d->command && d->command->name)
        return d->command->name;
    if (d->abi_minor >= 3 && d->run_mode && d->run_mode->word) {
        snprintf(buf, len, "run %s", d->run_mode->word);
        return buf;
    }
    return "run";
}

/* Whether two namespaces clash. A mode's options meet run's on the
 * mode's line, but there the mode's own come first: a mode may take a
 * name that means something else on run's line (`fault run db pg
 * --latency-mean` is the database's, not the latency fault's). */
static bool namespaces_meet(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

/* Two plugins declaring the same flag for the same command would make its
 * command line ambiguous: the later one is refused. */
static const char *option_clash(const fault_plugin_descriptor *d, const char **owner)
{
    char b1[80], b2[80];
    for (const fault_option *o = d->options; o && o->name; o++) {
        for (fault_plugin *p = instances; p; p = p->next) {
            if (!namespaces_meet(option_namespace(p->d, b1, sizeof b1),
                                 option_namespace(d, b2, sizeof b2)))
                continue;
            if (fault__option_find(&p->opt, o->name, NULL)) {
                *owner = p->d->name;
                return o->name;
            }
        }
    }
    return NULL;
}

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The state block of an instance is preceded by a header naming its
 * instance, so that fault_plugin_self() can find it from any callback. The
 * header is as large as the strictest alignment, so the block keeps the
 * alignment malloc() gives. */
typedef union state_header {
    fault_plugin *owner;
    max_align_t align;
} state_header;

static void *state_new(fault_plugin *owner, size_t size)
{
    state_header *h = calloc(1, sizeof *h + (size ? size : 1));
    if (!h)
        return NULL;
    h->owner = owner;
    return h + 1;
}

static void state_free(void *state)
{
    if (state)
        free((state_header *)state - 1);
}

fault_plugin *fault_plugin_self(const void *state)
{
    return state ? ((const state_header *)state - 1)->owner : NULL;
}

static void instance_free(fault_plugin *p)
{
    fault__options_release(&p->opt);
    state_free(p->state);
    free(p->name);
    free(p->path);
    free(p);
}

/* A new instance of d named name: state allocated, defaults applied,
 * init() called. NULL with a message in err on failure. */
static fault_plugin *instance_create(const char *path, const fault_plugin_descriptor *d,
                                     const char *name, int ordinal, char *err, size_t errlen)
{
    fault_plugin *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->d = d;
    p->path = strdup(path);
    p->name = strdup(name);
    p->ordinal = ordinal;
    p->state = state_new(p, d->state_size);
    p->enabled = true;
    p->opt.name = p->name;
    p->opt.opts = d->options;
    p->opt.block = p->state;
    /* Each instance draws from its own stream: the plugin name for the
     * first (as before instances existed), "latency#2" for the second. */
    fault_rng_seed(&p->rng, name_hash(name));
    char e[FAULT__ERRLEN];
    if (!p->path || !p->name || !p->state) {
        snprintf(err, errlen, "out of memory");
        instance_free(p);
        return NULL;
    }
    if (fault__options_defaults(&p->opt, e, sizeof e) != 0) {
        snprintf(err, errlen, "%s", e);
        instance_free(p);
        return NULL;
    }
    if (next_index >= FAULT__MAX_PLUGINS) {
        snprintf(err, errlen, "at most %d plugin instances in one run", FAULT__MAX_PLUGINS);
        instance_free(p);
        return NULL;
    }
    p->index = next_index++;
    if (d->init && d->init(p, p->state) < 0) {
        snprintf(err, errlen, "init failed%s%.400s", p->err[0] ? ": " : "", p->err);
        fault__events_drop_owner(p);
        instance_free(p);
        return NULL;
    }
    return p;
}

static int instantiate(const char *path, void *dl, const fault_plugin_descriptor *d)
{
    char err[FAULT__ERRLEN];
    fault_plugin *p = instance_create(path, d, d->name, 1, err, sizeof err);
    if (!p) {
        refuse(path, d->name, "%s", err);
        return FAULT_EINVAL;
    }
    p->dl = dl;
    fault_plugin **pp = &instances;
    while (*pp)
        pp = &(*pp)->next;
    *pp = p;
    add_found(path, d->name, d, NULL);
    return 0;
}

#define MAX_INSTANCES 16 /* of one plugin */

fault_plugin *fault__plugin_instance_new(const char *plugin, char *err, size_t errlen)
{
    fault_plugin *first = NULL, *last = NULL;
    int n = 0;
    for (fault_plugin *p = instances; p; p = p->next) {
        if (p->ordinal == 1 && strcmp(p->d->name, plugin) == 0)
            first = p;
        if (first && p->d == first->d) {
            last = p;
            n++;
        }
    }
    if (!first) {
        snprintf(err, errlen, "'%s': no plugin of that name is loaded (see 'fault plugins')",
                 plugin);
        return NULL;
    }
    if (first->d->kind != FAULT_KIND_FAULT) {
        snprintf(err, errlen, "'%s' is a %s plugin: only faults can have several instances", plugin,
                 fault_plugin_kind_name((fault_plugin_kind)first->d->kind));
        return NULL;
    }
    if (n >= MAX_INSTANCES) {
        snprintf(err, errlen, "'%s': at most %d instances of a plugin", plugin, MAX_INSTANCES);
        return NULL;
    }
    char name[96], e[FAULT__ERRLEN];
    snprintf(name, sizeof name, "%s#%d", first->d->name, n + 1);
    fault_plugin *p = instance_create(first->path, first->d, name, n + 1, e, sizeof e);
    if (!p) {
        snprintf(err, errlen, "'%s': %s", name, e);
        return NULL;
    }
    /* Asking for an instance is asking for the fault: its ENABLE option
     * (--with-NAME) is on, as if given. */
    for (size_t i = 0; i < p->opt.nopts; i++) {
        const fault_option *o = &p->opt.opts[i];
        if ((o->flags & FAULT_OPTF_ENABLE) && o->type == FAULT_OPT_BOOL) {
            *(bool *)((char *)p->state + o->offset) = true;
            p->opt.set[i] = 1;
        }
    }
    p->next = last->next;
    last->next = p;
    return p;
}

/* The command the host runs and its words: hinted plugins it cannot use
 * are not loaded. A NULL command loads everything. */
static const char *only_command;
static int load_argc;
static char **load_argv;

/* Whether the command line or the environment uses a hinted option. */
static bool option_used(const fault_plugin_hint *h)
{
    if (h->env[0] && getenv(h->env))
        return true;
    size_t n = strlen(h->option);
    for (int i = 0; i < load_argc; i++) {
        const char *a = load_argv[i];
        if (strncmp(a, "--", 2) == 0 && strncmp(a + 2, h->option, n) == 0 &&
            (a[2 + n] == '\0' || a[2 + n] == '='))
            return true;
    }
    return false;
}

/* Whether a plugin with this hint can matter for the command running. */
static bool hint_wanted(const fault_plugin_hint *h)
{
    if (h->kind == FAULT_KIND_COMMAND)
        return strcmp(h->command, only_command) == 0;
    return !h->option[0] || option_used(h);
}

/* Reads the FAULT_PLUGIN_HINT section of an ELF file without loading it.
 * Returns true and fills *hint when the file has a valid one. */
static bool read_hint(const char *path, fault_plugin_hint *hint)
{
    bool hit = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    Elf64_Ehdr eh;
    if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
        eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shentsize != sizeof(Elf64_Shdr) ||
        eh.e_shstrndx >= eh.e_shnum || eh.e_shnum > 4096)
        goto out;
    Elf64_Shdr strs;
    if (pread(fd, &strs, sizeof strs,
              (off_t)(eh.e_shoff + (uint64_t)eh.e_shstrndx * sizeof strs)) != (ssize_t)sizeof strs)
        goto out;
    for (unsigned i = 0; i < eh.e_shnum && !hit; i++) {
        Elf64_Shdr sh;
        char name[sizeof FAULT_PLUGIN_HINT_SECTION];
        if (pread(fd, &sh, sizeof sh, (off_t)(eh.e_shoff + (uint64_t)i * sizeof sh)) !=
                (ssize_t)sizeof sh ||
            sh.sh_size != sizeof *hint ||
            pread(fd, name, sizeof name, (off_t)(strs.sh_offset + sh.sh_name)) !=
                (ssize_t)sizeof name ||
            memcmp(name, FAULT_PLUGIN_HINT_SECTION, sizeof name) != 0)
            continue;
        hit = pread(fd, hint, sizeof *hint, (off_t)sh.sh_offset) == (ssize_t)sizeof *hint &&
              hint->magic == FAULT_PLUGIN_MAGIC;
    }
out:
    close(fd);
    if (hit) {
        hint->command[sizeof hint->command - 1] = '\0';
        hint->option[sizeof hint->option - 1] = '\0';
        hint->env[sizeof hint->env - 1] = '\0';
    }
    return hit;
}

/* Options of plugins left unloaded by their hint: an option that starts
 * with one of them (--grpc-plugin-timeout without --grpc-plugin) is then
 * refused as needing it, not as unknown. */
#define MAX_SKIPPED 16
static char skipped_opt[MAX_SKIPPED][32];
static size_t nskipped;

const char *fault__skipped_option(const char *name, size_t len)
{
    for (size_t i = 0; i < nskipped; i++) {
        size_t n = strlen(skipped_opt[i]);
        if (len > n && strncmp(name, skipped_opt[i], n) == 0 && name[n] == '-')
            return skipped_opt[i];
    }
    return NULL;
}

static void load_file(const char *path, const char *file)
{
    if (only_command) {
        fault_plugin_hint hint;
        if (read_hint(path, &hint) && !hint_wanted(&hint)) {
            /* Not needed by this command line. */
            if (hint.option[0] && nskipped < MAX_SKIPPED)
                memcpy(skipped_opt[nskipped++], hint.option, sizeof hint.option);
            return;
        }
    }
    /* A plugin is known by its file until its descriptor names it. */
    char base[256];
    snprintf(base, sizeof base, "%.*s", (int)(strlen(file) - 3), file);
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        refuse(path, base, "%s", dlerror());
        return;
    }
    const fault_plugin_descriptor *d = dlsym(dl, FAULT_PLUGIN_SYMBOL_NAME);
    if (!d) {
        refuse(path, base, "no %s symbol (not a fault plugin)", FAULT_PLUGIN_SYMBOL_NAME);
        dlclose(dl);
        return;
    }
    if (d->magic != FAULT_PLUGIN_MAGIC) {
        refuse(path, base, "bad magic 0x%08x (not a fault plugin descriptor)", d->magic);
        dlclose(dl);
        return;
    }
    if (d->abi_major != FAULT_ABI_MAJOR || d->abi_minor > FAULT_ABI_MINOR ||
        d->size < FAULT_DESCRIPTOR_SIZE_1_0) {
        refuse(path, base, "plugin ABI %u.%u (descriptor %u bytes), host ABI %u.%u", d->abi_major,
               d->abi_minor, d->size, FAULT_ABI_MAJOR, FAULT_ABI_MINOR);
        dlclose(dl);
        return;
    }
    if (!valid_name(d->name)) {
        refuse(path, base, "invalid plugin name");
        dlclose(dl);
        return;
    }
    if (fault__plugin_by_name(d->name)) {
        refuse(path, d->name, "a plugin named '%s' is already loaded from %s", d->name,
               fault__plugin_by_name(d->name)->path);
        dlclose(dl);
        return;
    }
    if (d->abi_minor >= 3 && d->run_mode && d->run_mode->word) {
        if (!valid_name(d->run_mode->word)) {
            refuse(path, d->name, "invalid run mode word");
            dlclose(dl);
            return;
        }
        for (fault_plugin *p = instances; p; p = p->next) {
            if (p->d->abi_minor >= 3 && p->d->run_mode && p->d->run_mode->word &&
                strcmp(p->d->run_mode->word, d->run_mode->word) == 0) {
                refuse(path, d->name, "'fault run %s' is already the mode of plugin '%s'",
                       d->run_mode->word, p->d->name);
                dlclose(dl);
                return;
            }
        }
    }
    const char *owner = NULL;
    const char *clash = option_clash(d, &owner);
    if (clash) {
        refuse(path, d->name, "option --%s is already declared by plugin '%s'", clash, owner);
        dlclose(dl);
        return;
    }
    if (instantiate(path, dl, d) != 0)
        dlclose(dl);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void scan_dir(const char *dir)
{
    char abs[PATH_MAX];
    /* Relative directories are made absolute once, so dlopen never searches. */
    if (!realpath(dir, abs)) {
        fault_log_debug(NULL, "plugin directory %s: %s", dir, strerror(errno));
        return;
    }
    DIR *dh = opendir(abs);
    if (!dh)
        return;
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(dh))) {
        size_t len = strlen(de->d_name);
        if (len > 3 && strcmp(de->d_name + len - 3, ".so") == 0) {
            char **nn = realloc(names, (n + 1) * sizeof *nn);
            if (!nn)
                break;
            names = nn;
            names[n++] = strdup(de->d_name);
        }
    }
    closedir(dh);
    /* Load order is alphabetical within a directory, so it is stable. */
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX + 256];
        snprintf(path, sizeof path, "%s/%s", abs, names[i]);
        struct stat st;
        if (names[i] && stat(path, &st) == 0 && S_ISREG(st.st_mode))
            load_file(path, names[i]);
        free(names[i]);
    }
    free(names);
}

int fault__plugins_load(const char *const *dirs, size_t ndirs, const char *command, int argc,
                        char **argv)
{
    only_command = command;
    nskipped = 0;
    load_argc = argc;
    load_argv = argv;
    for (size_t i = 0; i < ndirs; i++)
        scan_dir(dirs[i]);
    return 0;
}

void fault__plugins_unload(void)
{
    for (fault_plugin *p = instances; p; p = p->next) {
        if (p->d->destroy)
            p->d->destroy(p, p->state);
        fault__events_drop_owner(p);
        fault__timers_drop_owner(p);
    }
    /* Option tables live in the plugins' files: every instance releases
     * its values before any file is closed. */
    for (fault_plugin *p = instances; p; p = p->next) {
        fault__options_release(&p->opt);
        state_free(p->state);
        p->state = NULL;
    }
    while (instances) {
        fault_plugin *p = instances;
        instances = p->next;
        if (p->dl)
            dlclose(p->dl);
        free(p->name);
        free(p->path);
        free(p);
    }
    while (found) {
        fault__found *f = found;
        found = f->next;
        free(f->path);
        free(f->name);
        free(f->refused);
        free(f);
    }
}

/* ---- host services for plugins ---- */

void *fault_loop(fault_plugin *self)
{
    (void)self;
    return fault__g.loop;
}

const char *fault_plugin_name(const fault_plugin *self)
{
    return self && self->name ? self->name : self && self->d ? self->d->name : "core";
}

void *fault_plugin_state(fault_plugin *self)
{
    return self ? self->state : NULL;
}
fault_rng *fault_plugin_rng(fault_plugin *self)
{
    return &self->rng;
}
bool fault_plugin_active(const fault_plugin *self)
{
    return self && self->active;
}

void fault_plugin_error(fault_plugin *self, const char *fmt, ...)
{
    if (!self)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(self->err, sizeof self->err, fmt, ap);
    va_end(ap);
}

uint64_t fault_run_duration_us(void)
{
    return fault__g.duration_us;
}

uint64_t fault_run_elapsed_us(void)
{
    return fault__g.start_us ? fault_now_us() - fault__g.start_us : 0;
}

/* Reseeds every instance from the run seed, keeping instances
 * independent: each stream is the seed mixed with the instance's name
 * ("latency", "latency#2"), so adding an instance changes no other's draws. */
void fault__plugins_seed(uint64_t seed)
{
    for (fault_plugin *p = instances; p; p = p->next)
        fault_rng_seed(&p->rng, seed ^ name_hash(p->name));
}
