/*
 * core/schedule.c - fault schedules ("--latency-sched start:30s,duration:3m"):
 * parsing the periods as written, turning them into sorted windows of the
 * run once its length is known, and answering "is the fault on now?" and
 * "when does that next change?" for the scheduler.
 *
 * Only the C library and fault__duration_parse() are used, so the fuzzer can
 * build this file with duration.c alone.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

/* 2^64 as a double: the first value that no longer fits in a uint64_t. */
#define TWO_POW_64 18446744073709551616.0

static bool word_is(const char *p, size_t n, const char *word)
{
    if (strlen(word) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != word[i])
            return false;
    }
    return true;
}

/*
 * The duration parser reports columns within the text it was given; a
 * schedule hands it one clause's value, so the column is moved by that
 * value's offset in the whole schedule. Every duration error ends in
 * "at column N", which is what makes this rewrite safe.
 */
static int duration_error(const char *inner, size_t offset, char *err, size_t errlen)
{
    static const char marker[] = " at column ";
    const char *at = NULL;
    for (const char *p = strstr(inner, marker); p; p = strstr(p + 1, marker))
        at = p;
    if (!at)
        return fault__parse_fail(err, errlen, "%s (in the value at column %zu)", inner, offset + 1);
    size_t col = (size_t)strtoul(at + sizeof marker - 1, NULL, 10);
    return fault__parse_fail(err, errlen, "%.*s at column %zu", (int)(at - inner), inner,
                             col + offset);
}

/*
 * Parses the value of one clause, text[begin, end) with surrounding blanks
 * already removed: "N%" (a fraction of the run, 0..100, decimals allowed)
 * or anything fault__duration_parse() accepts.
 */
static int parse_time(const char *text, size_t begin, size_t end, bool *rel, double *value,
                      char *err, size_t errlen)
{
    if (text[end - 1] == '%') {
        size_t i = begin, num_end = end - 1;
        while (num_end > begin && fault__parse_is_space(text[num_end - 1]))
            num_end--;
        if (i == num_end || !fault__parse_is_digit(text[i]))
            return fault__parse_fail(err, errlen,
                                     "expected a percentage such as '25%%' at column %zu", i + 1);
        /* Stop accumulating once the value is out of range anyway, so that
         * a thousand-digit percentage cannot overflow anything. */
        double pct = 0.0;
        bool too_big = false;
        while (i < num_end && fault__parse_is_digit(text[i])) {
            if (!too_big) {
                pct = pct * 10.0 + (text[i] - '0');
                too_big = pct > 100.0;
            }
            i++;
        }
        if (i < num_end && text[i] == '.') {
            i++;
            if (i >= num_end || !fault__parse_is_digit(text[i]))
                return fault__parse_fail(err, errlen, "expected a digit after '.' at column %zu",
                                         i + 1);
            double weight = 0.1;
            while (i < num_end && fault__parse_is_digit(text[i])) {
                pct += (text[i] - '0') * weight;
                weight /= 10.0;
                i++;
            }
        }
        if (i < num_end) {
            char shown[16];
            return fault__parse_fail(err, errlen, "unexpected %s in a percentage at column %zu",
                                     fault__parse_show_byte(shown, (unsigned char)text[i]), i + 1);
        }
        if (too_big || pct > 100.0)
            return fault__parse_fail(err, errlen, "percentage must be 0..100 at column %zu",
                                     begin + 1);
        *rel = true;
        *value = pct / 100.0;
        return 0;
    }

    char *copy = malloc(end - begin + 1);
    if (!copy)
        return fault__parse_fail(err, errlen, "out of memory at column %zu", begin + 1);
    memcpy(copy, text + begin, end - begin);
    copy[end - begin] = '\0';

    char inner[256];
    uint64_t us = 0;
    int rc = fault__duration_parse(copy, &us, inner, sizeof inner);
    free(copy);
    if (rc < 0)
        return duration_error(inner, begin, err, errlen);
    *rel = false;
    *value = (double)us;
    return 0;
}

static int push_period(fault_schedule *s, size_t *cap, const fault__period *p)
{
    if (s->nperiods == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        if (ncap > SIZE_MAX / sizeof *s->periods)
            return -1;
        fault__period *np = realloc(s->periods, ncap * sizeof *np);
        if (!np)
            return -1;
        s->periods = np;
        *cap = ncap;
    }
    s->periods[s->nperiods++] = *p;
    return 0;
}

int fault__schedule_parse(const char *text, fault_schedule **out, char *err, size_t errlen)
{
    char shown[16];
    int rc;

    *out = NULL;
    if (!text)
        return fault__parse_fail(err, errlen, "missing schedule at column 1");

    fault_schedule *s = calloc(1, sizeof *s);
    if (!s)
        return fault__parse_fail(err, errlen, "out of memory at column 1");
    const size_t len = strlen(text);
    s->text = malloc(len + 1);
    if (!s->text) {
        rc = fault__parse_fail(err, errlen, "out of memory at column 1");
        goto error;
    }
    memcpy(s->text, text, len + 1);

    size_t cap = 0;
    /* True while the last clause was a start without a duration: only then
     * may a following duration clause complete that period. */
    bool open_start = false;
    /* Whether the clause comes after a ',': one joins a start to its
     * duration only ("start:1s,start:2s" is one start too many). */
    bool after_comma = false;
    size_t i = 0;

    for (;;) {
        while (i < len && fault__parse_is_space(text[i]))
            i++;

        const size_t kw = i;
        while (i < len && fault__parse_is_alpha(text[i]))
            i++;
        bool is_start = word_is(text + kw, i - kw, "start");
        bool is_duration = word_is(text + kw, i - kw, "duration");
        if (!is_start && !is_duration) {
            if (kw == len)
                rc = fault__parse_fail(err, errlen,
                                       "expected 'start:' or 'duration:' at column %zu", kw + 1);
            else if (i == kw)
                rc = fault__parse_fail(
                    err, errlen, "expected 'start:' or 'duration:', got %s at column %zu",
                    fault__parse_show_byte(shown, (unsigned char)text[kw]), kw + 1);
            else
                rc = fault__parse_fail(
                    err, errlen,
                    "unknown schedule clause '%.*s%s' (expected start or duration) "
                    "at column %zu",
                    (int)(i - kw > 16 ? 16 : i - kw), text + kw, i - kw > 16 ? "..." : "", kw + 1);
            goto error;
        }

        if (after_comma && (is_start || !open_start)) {
            rc = fault__parse_fail(
                err, errlen,
                "%s'%s:' after ',' at column %zu: ',' joins a start to its duration, "
                "';' separates periods",
                is_start && open_start ? "a second start in one period: " : "",
                is_start ? "start" : "duration", kw + 1);
            goto error;
        }
        while (i < len && fault__parse_is_space(text[i]))
            i++;
        if (i >= len || text[i] != ':') {
            rc = fault__parse_fail(err, errlen, "expected ':' after '%s' at column %zu",
                                   is_start ? "start" : "duration", i + 1);
            goto error;
        }
        i++;
        while (i < len && fault__parse_is_space(text[i]))
            i++;

        const size_t value = i;
        while (i < len && text[i] != ';' && text[i] != ',')
            i++;
        size_t value_end = i;
        while (value_end > value && fault__parse_is_space(text[value_end - 1]))
            value_end--;
        if (value_end == value) {
            rc = fault__parse_fail(
                err, errlen, "expected a time such as '30s' or '10%%' at column %zu", value + 1);
            goto error;
        }

        bool rel = false;
        double v = 0.0;
        rc = parse_time(text, value, value_end, &rel, &v, err, errlen);
        if (rc < 0)
            goto error;

        if (is_start) {
            fault__period p = {.has_start = true, .start_rel = rel, .start = v};
            if (push_period(s, &cap, &p) < 0) {
                rc = fault__parse_fail(err, errlen, "out of memory at column %zu", kw + 1);
                goto error;
            }
            open_start = true;
        } else if (open_start) {
            fault__period *p = &s->periods[s->nperiods - 1];
            p->has_duration = true;
            p->duration_rel = rel;
            p->duration = v;
            open_start = false;
        } else {
            /* A duration on its own starts at the beginning of the run. */
            fault__period p = {.has_duration = true, .duration_rel = rel, .duration = v};
            if (push_period(s, &cap, &p) < 0) {
                rc = fault__parse_fail(err, errlen, "out of memory at column %zu", kw + 1);
                goto error;
            }
        }

        if (i >= len)
            break;
        after_comma = text[i] == ',';
        i++; /* the separator; a clause must follow it */
    }

    *out = s;
    return 0;

error:
    fault__schedule_free(s);
    return rc;
}

bool fault__schedule_is_relative(const fault_schedule *s)
{
    if (!s)
        return false;
    for (size_t i = 0; i < s->nperiods; i++)
        if (s->periods[i].start_rel || s->periods[i].duration_rel)
            return true;
    return false;
}

/* A non-negative double of microseconds to an integer, rounded to the
 * nearest and saturating at UINT64_MAX instead of overflowing the cast. */
static uint64_t to_us(double v)
{
    if (!(v > 0.0))
        return 0;
    v += 0.5;
    if (v >= TWO_POW_64)
        return UINT64_MAX;
    return (uint64_t)v;
}

static int cmp_window(const void *a, const void *b)
{
    const fault__window *x = a, *y = b;
    if (x->start_us != y->start_us)
        return x->start_us < y->start_us ? -1 : 1;
    if (x->end_us != y->end_us)
        return x->end_us < y->end_us ? -1 : 1;
    return 0;
}

int fault__schedule_resolve(fault_schedule *s, uint64_t run_us, char *err, size_t errlen)
{
    if (!s)
        return 0;
    if (run_us == 0 && fault__schedule_is_relative(s))
        return fault__parse_fail(
            err, errlen, "schedule '%s' uses percentages of the run, which needs --duration",
            s->text ? s->text : "");

    fault__window *w = NULL;
    if (s->nperiods > 0) {
        w = calloc(s->nperiods, sizeof *w);
        if (!w)
            return fault__parse_fail(err, errlen, "out of memory");
    }

    size_t n = 0;
    for (size_t i = 0; i < s->nperiods; i++) {
        const fault__period *p = &s->periods[i];
        uint64_t start = 0, end = UINT64_MAX;
        if (p->has_start)
            start = to_us(p->start_rel ? p->start * (double)run_us : p->start);
        if (p->has_duration) {
            uint64_t d = to_us(p->duration_rel ? p->duration * (double)run_us : p->duration);
            end = start > UINT64_MAX - d ? UINT64_MAX : start + d;
        }
        /* An empty window ("duration:0s") never switches the fault on. */
        if (start < end)
            w[n++] = (fault__window){start, end};
    }

    if (n > 1)
        qsort(w, n, sizeof *w, cmp_window);

    /* Merge overlapping and touching windows so that consecutive windows
     * are separated by a gap: then every window boundary is a real change
     * of state, which next_edge relies on. */
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && w[i].start_us <= w[m - 1].end_us) {
            if (w[i].end_us > w[m - 1].end_us)
                w[m - 1].end_us = w[i].end_us;
        } else {
            w[m++] = w[i];
        }
    }

    free(s->windows);
    s->windows = w;
    s->nwindows = m;
    return 0;
}

/* Index of the first window whose end lies after t, or nwindows. The
 * windows are sorted and disjoint, so their ends increase too. */
static size_t first_ending_after(const fault_schedule *s, uint64_t t)
{
    size_t lo = 0, hi = s->nwindows;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->windows[mid].end_us > t)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

bool fault__schedule_active_at(const fault_schedule *s, uint64_t elapsed_us)
{
    /* No schedule at all means the fault runs for the whole run. */
    if (!s)
        return true;
    size_t i = first_ending_after(s, elapsed_us);
    if (i < s->nwindows)
        return s->windows[i].start_us <= elapsed_us;
    /* An end of UINT64_MAX stands for "until the end of the run", so even
     * that last instant counts as inside an open-ended window. */
    return s->nwindows > 0 && s->windows[s->nwindows - 1].end_us == UINT64_MAX &&
           s->windows[s->nwindows - 1].start_us <= elapsed_us;
}

uint64_t fault__schedule_next_edge(const fault_schedule *s, uint64_t elapsed_us)
{
    if (!s)
        return UINT64_MAX;
    size_t i = first_ending_after(s, elapsed_us);
    if (i == s->nwindows)
        return UINT64_MAX;
    if (s->windows[i].start_us > elapsed_us)
        return s->windows[i].start_us;
    /* Inside a window: it switches off at its end, and an end of
     * UINT64_MAX means it never does. */
    return s->windows[i].end_us;
}

void fault__schedule_free(fault_schedule *s)
{
    if (!s)
        return;
    free(s->text);
    free(s->periods);
    free(s->windows);
    free(s);
}
