/*
 * tests/fuzz/fuzz_options.c - libFuzzer target for option values: the
 * first byte picks an option type (every FAULT_OPT_* the registry knows),
 * the rest is the value as a user would type it on the command line or in
 * an environment variable. Parsing must give a value or an error message,
 * never a crash, and a parsed value must be released cleanly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The loader's list of plugins left unloaded (options.c names them in
 * its unknown-option message): none here. */
const char *fault__skipped_option(const char *name, size_t len)
{
    (void)name;
    (void)len;
    return NULL;
}

static const char *const choices[] = {"uniform", "normal", "pareto-normal|paretonormal", NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *value = malloc(size);
    if (!value)
        return 0;
    memcpy(value, data + 1, size - 1);
    value[size - 1] = '\0';

    fault_option opt;
    memset(&opt, 0, sizeof opt);
    opt.name = "fuzzed";
    opt.type = (fault_option_type)(1 + data[0] % FAULT_OPT_DIRECTION);
    opt.choices = choices;
    if (data[0] & 0x80) {
        /* Bounds, as plugins give them for INT and DOUBLE options. */
        opt.min = -1000;
        opt.max = 1000;
    }
    union {
        bool b;
        int64_t i;
        double d;
        char *s;
        int e;
        uint64_t u;
        fault_strv l;
        fault_schedule *sched;
        fault_side side;
        fault_direction dir;
    } dst;
    memset(&dst, 0, sizeof dst);
    char err[256];
    int rc = fault__option_parse_value(&opt, value, &dst, err, sizeof err);
    if (rc != 0 && (err[0] == '\0' || !memchr(err, '\0', sizeof err)))
        abort(); /* an error must come with a message */
    if (rc == 0 && opt.type == FAULT_OPT_SCHEDULE) {
        char e2[256];
        if (fault__schedule_resolve(dst.sched, 60000000, e2, sizeof e2) == 0)
            (void)fault__schedule_active_at(dst.sched, 1000000);
    }
    /* Release exactly as the registry does. */
    fault__optowner owner;
    memset(&owner, 0, sizeof owner);
    owner.opts = &opt;
    owner.nopts = 1;
    owner.block = &dst;
    opt.offset = 0;
    fault__options_release(&owner);
    free(value);
    return 0;
}
