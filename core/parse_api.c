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

int fault_parse_duration(const char *text, uint64_t *us, char *err, size_t errlen)
{
    return text && us && fault__duration_parse(text, us, err, errlen) == 0 ? 0 : -1;
}

int fault_check_mapping(const char *text, char *err, size_t errlen)
{
    fault_mapping m;
    if (!text || fault__mapping_parse(text, &m, err, errlen) != 0)
        return -1;
    fault__mapping_free(&m);
    return 0;
}

int fault_check_schedule(const char *text, char *err, size_t errlen)
{
    fault_schedule *s = NULL;
    if (!text || fault__schedule_parse(text, &s, err, errlen) != 0)
        return -1;
    fault__schedule_free(s);
    return 0;
}

int fault_schedule_windows(const char *text, uint64_t run_us, fault_window **out, size_t *n,
                           char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    fault_schedule *s = NULL;
    if (!text || fault__schedule_parse(text, &s, err, errlen) != 0)
        return -1;
    if (fault__schedule_resolve(s, run_us, err, errlen) != 0) {
        fault__schedule_free(s);
        return -1;
    }
    if (s->nwindows) {
        *out = calloc(s->nwindows, sizeof **out);
        if (!*out) {
            fault__schedule_free(s);
            return -1;
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
