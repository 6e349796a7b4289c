/*
 * core/options.c - the option registry: one declarative table per owner
 * (a plugin or the core) gives command-line parsing, environment variables,
 * validation and --help text.
 *
 * Every user error is reported as exactly one line on stderr naming the
 * flag (or the variable) and the value, and makes the caller exit with
 * status 2. Nothing here aborts.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

static size_t count_opts(const fault_option *o)
{
    size_t n = 0;
    while (o && o[n].name)
        n++;
    return n;
}

const fault_option *fault__option_find(const fault__optowner *o, const char *name, size_t *idx)
{
    for (size_t i = 0; i < o->nopts; i++) {
        if (strcmp(o->opts[i].name, name) == 0) {
            if (idx)
                *idx = i;
            return &o->opts[i];
        }
    }
    return NULL;
}

static const fault_option *find_short(const fault__optowner *o, int c, size_t *idx)
{
    for (size_t i = 0; i < o->nopts; i++) {
        if (o->opts[i].short_name == c) {
            *idx = i;
            return &o->opts[i];
        }
    }
    return NULL;
}

/* The environment variable of an option: explicit, or FAULT_ + NAME. */
void fault__option_env_name(const fault_option *opt, char *buf, size_t len)
{
    if (opt->env) {
        snprintf(buf, len, "%s", opt->env);
        return;
    }
    size_t j = (size_t)snprintf(buf, len, "FAULT_");
    for (const char *p = opt->name; *p && j + 1 < len; p++)
        buf[j++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    buf[j < len ? j : len - 1] = '\0';
}

static int parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off", ""};
    for (size_t i = 0; i < 4; i++)
        if (strcasecmp(v, yes[i]) == 0)
            return *out = true, 0;
    for (size_t i = 0; i < 5; i++)
        if (strcasecmp(v, no[i]) == 0)
            return *out = false, 0;
    return -1;
}

/* Index of value among choices ("a|b" entries are aliases), or -1. */
static int enum_index(const char *const *choices, const char *v)
{
    for (int i = 0; choices && choices[i]; i++) {
        const char *p = choices[i];
        while (*p) {
            size_t n = strcspn(p, "|");
            if (n == strlen(v) && strncasecmp(p, v, n) == 0)
                return i;
            p += n;
            if (*p == '|')
                p++;
        }
    }
    return -1;
}

static void enum_list(const char *const *choices, char *buf, size_t len)
{
    size_t j = 0;
    buf[0] = '\0';
    for (int i = 0; choices && choices[i] && j < len; i++) {
        size_t n = strcspn(choices[i], "|");
        j += (size_t)snprintf(buf + j, len - j, "%s%.*s", i ? ", " : "", (int)n, choices[i]);
    }
}

static void free_value(const fault_option *opt, void *dst)
{
    switch (opt->type) {
    case FAULT_OPT_STRING: {
        char **s = dst;
        free(*s);
        *s = NULL;
        break;
    }
    case FAULT_OPT_LIST: {
        fault_strv *l = dst;
        for (size_t i = 0; i < l->n; i++)
            free((char *)l->v[i]);
        free((void *)l->v);
        l->v = NULL;
        l->n = 0;
        break;
    }
    case FAULT_OPT_SCHEDULE: {
        fault_schedule **s = dst;
        fault__schedule_free(*s);
        *s = NULL;
        break;
    }
    default:
        break;
    }
}

static int list_append(fault_strv *l, const char *v, size_t n)
{
    const char **nv = realloc((void *)l->v, (l->n + 1) * sizeof *nv);
    if (!nv)
        return FAULT_ENOMEM;
    nv[l->n] = strndup(v, n);
    if (!nv[l->n])
        return FAULT_ENOMEM;
    l->v = nv;
    l->n++;
    return 0;
}

int fault__option_parse_value(const fault_option *opt, const char *value, void *dst, char *err,
                              size_t errlen)
{
    char *end = NULL;
    switch (opt->type) {
    case FAULT_OPT_BOOL: {
        bool b;
        if (parse_bool(value, &b) != 0) {
            snprintf(err, errlen, "'%s' is not true or false", value);
            return FAULT_ESYNTAX;
        }
        *(bool *)dst = b;
        return 0;
    }
    case FAULT_OPT_INT: {
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (!*value || *end || errno) {
            snprintf(err, errlen, "'%s' is not an integer", value);
            return FAULT_ESYNTAX;
        }
        if (opt->min < opt->max && (v < opt->min || v > opt->max)) {
            snprintf(err, errlen, "%s is outside %g..%g", value, opt->min, opt->max);
            return FAULT_ESYNTAX;
        }
        *(int64_t *)dst = v;
        return 0;
    }
    case FAULT_OPT_DOUBLE:
    case FAULT_OPT_PROBABILITY: {
        errno = 0;
        double v = strtod(value, &end);
        if (!*value || *end || errno || !isfinite(v)) {
            snprintf(err, errlen, "'%s' is not a number", value);
            return FAULT_ESYNTAX;
        }
        double lo = opt->min, hi = opt->max;
        if (opt->type == FAULT_OPT_PROBABILITY && !(lo < hi)) {
            lo = 0;
            hi = 1;
        }
        if (lo < hi && (v < lo || v > hi)) {
            snprintf(err, errlen, "%s is outside %g..%g", value, lo, hi);
            return FAULT_ESYNTAX;
        }
        *(double *)dst = v;
        return 0;
    }
    case FAULT_OPT_STRING: {
        char *copy = strdup(value);
        if (!copy)
            return FAULT_ENOMEM;
        free(*(char **)dst);
        *(char **)dst = copy;
        return 0;
    }
    case FAULT_OPT_ENUM: {
        int i = enum_index(opt->choices, value);
        if (i < 0) {
            char list[256];
            enum_list(opt->choices, list, sizeof list);
            snprintf(err, errlen, "'%s' is not one of %s", value, list);
            return FAULT_ESYNTAX;
        }
        *(int *)dst = i;
        return 0;
    }
    case FAULT_OPT_SIDE: {
        static const char *const names[] = {"client", "server", "any", NULL};
        static const fault_side values[] = {FAULT_SIDE_CLIENT, FAULT_SIDE_SERVER, FAULT_SIDE_ANY};
        int i = enum_index(names, value);
        if (i < 0) {
            snprintf(err, errlen, "'%s' is not one of client, server, any", value);
            return FAULT_ESYNTAX;
        }
        *(fault_side *)dst = values[i];
        return 0;
    }
    case FAULT_OPT_DIRECTION: {
        static const char *const names[] = {"ingress", "egress", "both", NULL};
        static const fault_direction values[] = {FAULT_DIR_INGRESS, FAULT_DIR_EGRESS,
                                                 FAULT_DIR_BOTH};
        int i = enum_index(names, value);
        if (i < 0) {
            snprintf(err, errlen, "'%s' is not one of ingress, egress, both", value);
            return FAULT_ESYNTAX;
        }
        *(fault_direction *)dst = values[i];
        return 0;
    }
    case FAULT_OPT_DURATION: {
        char e[256];
        uint64_t us;
        if (fault__duration_parse(value, &us, e, sizeof e) != 0) {
            snprintf(err, errlen, "'%s': %s", value, e);
            return FAULT_ESYNTAX;
        }
        *(uint64_t *)dst = us;
        return 0;
    }
    case FAULT_OPT_LIST:
        return list_append(dst, value, strlen(value));
    case FAULT_OPT_SCHEDULE: {
        char e[256];
        fault_schedule *s = NULL;
        if (fault__schedule_parse(value, &s, e, sizeof e) != 0) {
            snprintf(err, errlen, "'%s': %s", value, e);
            return FAULT_ESYNTAX;
        }
        fault__schedule_free(*(fault_schedule **)dst);
        *(fault_schedule **)dst = s;
        return 0;
    }
    }
    snprintf(err, errlen, "option has an unknown type");
    return FAULT_ESYNTAX;
}

int fault__options_defaults(fault__optowner *o, char *err, size_t errlen)
{
    o->nopts = count_opts(o->opts);
    free(o->set);
    o->set = calloc(o->nopts ? o->nopts : 1, 1);
    if (!o->set)
        return FAULT_ENOMEM;
    for (size_t i = 0; i < o->nopts; i++) {
        const fault_option *opt = &o->opts[i];
        if (!opt->def)
            continue;
        char e[256];
        void *dst = (char *)o->block + opt->offset;
        int rc;
        if (opt->type == FAULT_OPT_LIST) {
            /* A list default is comma separated, like its variable. */
            rc = 0;
            for (const char *p = opt->def; *p && rc == 0;) {
                size_t n = strcspn(p, ",");
                if (n)
                    rc = list_append(dst, p, n);
                p += n + (p[n] == ',');
            }
        } else {
            rc = fault__option_parse_value(opt, opt->def, dst, e, sizeof e);
        }
        if (rc != 0) {
            snprintf(err, errlen, "%s: default of --%s: %s", o->name, opt->name, e);
            return FAULT_ESYNTAX;
        }
    }
    return 0;
}

void fault__options_release(fault__optowner *o)
{
    for (size_t i = 0; i < o->nopts; i++)
        free_value(&o->opts[i], (char *)o->block + o->opts[i].offset);
    free(o->set);
    o->set = NULL;
}

/* Finds an option by long name across owners. */
static const fault_option *lookup(fault__optowner **owners, size_t n, const char *name,
                                  size_t namelen, fault__optowner **owner, size_t *idx)
{
    char buf[128];
    if (namelen >= sizeof buf)
        return NULL;
    memcpy(buf, name, namelen);
    buf[namelen] = '\0';
    for (size_t i = 0; i < n; i++) {
        const fault_option *opt = fault__option_find(owners[i], buf, idx);
        if (opt) {
            *owner = owners[i];
            return opt;
        }
    }
    return NULL;
}

static int store(fault__optowner *owner, size_t idx, const char *value, const char *shown)
{
    const fault_option *opt = &owner->opts[idx];
    void *dst = (char *)owner->block + opt->offset;
    char err[512];
    /* A repeated scalar flag replaces the earlier value; a list grows, but
     * command-line values replace a default list rather than extend it. */
    if (opt->type == FAULT_OPT_LIST && !owner->set[idx])
        free_value(opt, dst);
    int rc = fault__option_parse_value(opt, value, dst, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "fault: %s: %s\n", shown, err);
        return 2;
    }
    owner->set[idx] = 1;
    return 0;
}

int fault__options_parse(fault__optowner **owners, size_t nowners, int argc, char **argv,
                         char **pos, int *npos, const char *command)
{
    return fault__options_parse_cb(owners, nowners, argc, argv, pos, npos, command, NULL, NULL);
}

int fault__options_parse_cb(fault__optowner **owners, size_t nowners, int argc, char **argv,
                            char **pos, int *npos, const char *command, fault__opt_stored_cb stored,
                            void *ud)
{
    *npos = 0;
    bool only_pos = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == '\0') {
            pos[(*npos)++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        fault__optowner *owner = NULL;
        size_t idx = 0;
        const fault_option *opt = NULL;
        const char *value = NULL;
        char shown[160];
        if (a[1] == '-') {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            opt = lookup(owners, nowners, name, len, &owner, &idx);
            snprintf(shown, sizeof shown, "--%.*s", (int)len, name);
            const char *needs = opt ? NULL : fault__skipped_option(name, len);
            if (needs) {
                fprintf(stderr, "fault: %s: only applies with --%s (give --%s too)\n", shown, needs,
                        needs);
                return 2;
            }
            if (!opt) {
                fprintf(stderr, "fault: %s: unknown option for '%s' (see 'fault %s --help'%s)\n",
                        shown, command, command,
                        strncmp(name, "with-", 5) == 0
                            ? "; is its plugin installed? 'fault plugins' lists them"
                            : "");
                return 2;
            }
            if (eq)
                value = eq + 1;
        } else {
            for (size_t k = 0; k < nowners && !opt; k++) {
                opt = find_short(owners[k], (unsigned char)a[1], &idx);
                owner = owners[k];
            }
            snprintf(shown, sizeof shown, "-%c", a[1]);
            if (!opt) {
                fprintf(stderr, "fault: %s: unknown option for '%s' (see 'fault %s --help')\n",
                        shown, command, command);
                return 2;
            }
            if (a[2] == '=')
                value = a + 3;
            else if (a[2])
                value = a + 2;
        }
        if (!value) {
            if (opt->type == FAULT_OPT_BOOL) {
                value = "true";
            } else if (i + 1 < argc) {
                value = argv[++i];
            } else {
                fprintf(stderr, "fault: %s: needs a value\n", shown);
                return 2;
            }
        }
        int rc = store(owner, idx, value, shown);
        if (rc == 0 && stored)
            rc = stored(ud, owners, nowners, owner, idx);
        if (rc)
            return rc;
    }
    return 0;
}

int fault__options_env(fault__optowner **owners, size_t nowners)
{
    for (size_t k = 0; k < nowners; k++) {
        fault__optowner *o = owners[k];
        for (size_t i = 0; i < o->nopts; i++) {
            if (o->set[i])
                continue;
            const fault_option *opt = &o->opts[i];
            char name[128];
            fault__option_env_name(opt, name, sizeof name);
            const char *v = getenv(name);
            if (!v)
                continue;
            void *dst = (char *)o->block + opt->offset;
            char err[512];
            int rc = 0;
            if (opt->type == FAULT_OPT_LIST) {
                free_value(opt, dst);
                for (const char *p = v; *p && rc == 0;) {
                    size_t n = strcspn(p, ",");
                    while (n && isspace((unsigned char)*p))
                        p++, n--;
                    size_t m = n;
                    while (m && isspace((unsigned char)p[m - 1]))
                        m--;
                    if (m)
                        rc = list_append(dst, p, m);
                    p += n + (p[n] == ',');
                }
            } else {
                rc = fault__option_parse_value(opt, v, dst, err, sizeof err);
            }
            if (rc != 0) {
                fprintf(stderr, "fault: %s (environment, for --%s): %s\n", name, opt->name,
                        rc == -ENOMEM ? "out of memory" : err);
                return 2;
            }
            o->set[i] = 2;
        }
    }
    return 0;
}

const char *fault__option_metavar(const fault_option *opt)
{
    if (opt->metavar)
        return opt->metavar;
    switch (opt->type) {
    case FAULT_OPT_BOOL:
        return NULL;
    case FAULT_OPT_INT:
        return "N";
    case FAULT_OPT_DOUBLE:
        return "NUM";
    case FAULT_OPT_PROBABILITY:
        return "P";
    case FAULT_OPT_STRING:
        return "TEXT";
    case FAULT_OPT_ENUM:
        return "CHOICE";
    case FAULT_OPT_DURATION:
        return "DURATION";
    case FAULT_OPT_LIST:
        return "VALUE";
    case FAULT_OPT_SCHEDULE:
        return "SCHEDULE";
    case FAULT_OPT_SIDE:
        return "SIDE";
    case FAULT_OPT_DIRECTION:
        return "DIR";
    }
    return "VALUE";
}

void fault__options_help(FILE *out, fault__optowner *o, const char *title)
{
    size_t shown = 0;
    for (size_t i = 0; i < o->nopts; i++)
        if (!(o->opts[i].flags & FAULT_OPTF_HIDDEN))
            shown++;
    if (!shown)
        return;
    fprintf(out, "\n%s:\n", title);
    for (size_t i = 0; i < o->nopts; i++) {
        const fault_option *opt = &o->opts[i];
        if (opt->flags & FAULT_OPTF_HIDDEN)
            continue;
        char left[128];
        const char *mv = fault__option_metavar(opt);
        int n;
        if (opt->short_name)
            n = snprintf(left, sizeof left, "  -%c, --%s%s%s", opt->short_name, opt->name,
                         mv ? " " : "", mv ? mv : "");
        else
            n = snprintf(left, sizeof left, "      --%s%s%s", opt->name, mv ? " " : "",
                         mv ? mv : "");
        char env[128];
        fault__option_env_name(opt, env, sizeof env);
        fprintf(out, "%-40s %s", left, opt->help ? opt->help : "");
        if (n >= 40)
            fprintf(out, "\n%-40s", "");
        if (opt->type == FAULT_OPT_ENUM) {
            char list[256];
            enum_list(opt->choices, list, sizeof list);
            fprintf(out, " [%s]", list);
        } else if (opt->type == FAULT_OPT_SIDE || opt->type == FAULT_OPT_DIRECTION) {
            fprintf(out, " [%s]", fault__option_choices(opt));
        }
        if (opt->def && opt->type != FAULT_OPT_BOOL)
            fprintf(out, " (default: %s)", opt->def);
        fprintf(out, " [env: %s]\n", env);
    }
}

const char *fault__option_choices(const fault_option *opt)
{
    if (opt->type == FAULT_OPT_SIDE)
        return "client, server, any";
    if (opt->type == FAULT_OPT_DIRECTION)
        return "ingress, egress, both";
    return NULL;
}

bool fault_option_is_set(fault_plugin *self, const char *name)
{
    if (!self)
        return false;
    size_t idx;
    if (!fault__option_find(&self->opt, name, &idx))
        return false;
    return self->opt.set && self->opt.set[idx];
}
