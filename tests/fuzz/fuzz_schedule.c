/*
 * tests/fuzz/fuzz_schedule.c - libFuzzer target for schedules: parse any
 * byte string, resolve it against several run lengths (including none and
 * the largest possible), and query the windows, checking that the answers
 * agree with each other.
 */
#include <stdlib.h>
#include <string.h>

#include "parse.h"

#include "fuzz_text.h"

static const uint64_t runs[] = {0, 1, 1000000, 300000000, UINT64_C(86400000000), UINT64_MAX};

/* The edges reported by next_edge must be real changes of state, and the
 * state must not change between two consecutive edges. */
static void check_edges(const fault_schedule *s, uint64_t t)
{
    uint64_t e = fault__schedule_next_edge(s, t);
    if (e != UINT64_MAX) {
        if (e <= t)
            abort();
        if (fault__schedule_active_at(s, e - 1) == fault__schedule_active_at(s, e))
            abort();
        if (e - 1 > t && fault__schedule_active_at(s, t) != fault__schedule_active_at(s, e - 1))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    if (!text)
        return 0;

    char err[256] = "";
    fault_schedule *s = NULL;
    int rc = fault__schedule_parse(text, &s, err, sizeof err);
    if (rc != 0) {
        if (rc != FAULT_ESYNTAX || s != NULL || !strstr(err, "at column "))
            abort();
        free(text);
        return 0;
    }

    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        if (fault__schedule_resolve(s, runs[r], err, sizeof err) != 0) {
            /* Only a relative schedule without a run length may fail. */
            if (runs[r] != 0 || !fault__schedule_is_relative(s))
                abort();
            continue;
        }
        /* Windows are sorted, non-empty and separated by gaps. */
        for (size_t i = 0; i < s->nwindows; i++) {
            if (s->windows[i].start_us >= s->windows[i].end_us)
                abort();
            if (i > 0 && s->windows[i - 1].end_us >= s->windows[i].start_us)
                abort();
        }
        /* Probe around every boundary and a few fixed points. */
        const uint64_t fixed[] = {0, 1, 999999, 1000000, UINT64_MAX - 1, UINT64_MAX};
        for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
            check_edges(s, fixed[i]);
        for (size_t i = 0; i < s->nwindows && i < 64; i++) {
            uint64_t b[] = {s->windows[i].start_us, s->windows[i].end_us};
            for (int k = 0; k < 2; k++) {
                check_edges(s, b[k]);
                if (b[k] > 0)
                    check_edges(s, b[k] - 1);
            }
        }
    }

    fault__schedule_free(s);
    free(text);
    return 0;
}
