/*
 * core/parse_api.c - <fault/parse.h>: the command line's grammars (the
 * parsers of duration.c, mapping.c and schedule.c) for plugins. Like them,
 * it needs only the C library, so fuzzers can build it alone.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>

#include "parse.h"

#include <stdio.h>

/* The argument checks every entry point shares. */
static int missing(char *err, size_t errlen)
{
    if (err && errlen)
        snprintf(err, errlen, "no text given");
    return FAULT_EINVAL;
}

int fault_parse_duration(const char *text, uint64_t *us, char *err, size_t errlen)
{
    if (!text || !us)
        return missing(err, errlen);
    return fault__duration_parse(text, us, err, errlen) == 0 ? 0 : FAULT_ESYNTAX;
}

int fault_check_mapping(const char *text, char *err, size_t errlen)
{
    fault_mapping m;
    if (!text)
        return missing(err, errlen);
    if (fault__mapping_parse(text, &m, err, errlen) != 0)
        return FAULT_ESYNTAX;
    fault__mapping_free(&m);
    return 0;
}

int fault_check_schedule(const char *text, char *err, size_t errlen)
{
    fault_schedule *s = NULL;
    if (!text)
        return missing(err, errlen);
    if (fault__schedule_parse(text, &s, err, errlen) != 0)
        return FAULT_ESYNTAX;
    fault__schedule_free(s);
    return 0;
}

int fault_schedule_windows(const char *text, uint64_t run_us, fault_window **out, size_t *n,
                           char *err, size_t errlen)
{
    if (!out || !n)
        return missing(err, errlen);
    *out = NULL;
    *n = 0;
    fault_schedule *s = NULL;
    if (!text)
        return missing(err, errlen);
    if (fault__schedule_parse(text, &s, err, errlen) != 0)
        return FAULT_ESYNTAX;
    if (fault__schedule_resolve(s, run_us, err, errlen) != 0) {
        fault__schedule_free(s);
        return FAULT_ESYNTAX;
    }
    if (s->nwindows) {
        *out = calloc(s->nwindows, sizeof **out);
        if (!*out) {
            fault__schedule_free(s);
            if (err && errlen)
                snprintf(err, errlen, "out of memory");
            return FAULT_ENOMEM;
        }
        for (size_t i = 0; i < s->nwindows; i++) {
            (*out)[i].start_us = s->windows[i].start_us;
            (*out)[i].end_us = s->windows[i].end_us;
        }
        *n = s->nwindows;
    }
    fault__schedule_free(s);
    return 0;
}
