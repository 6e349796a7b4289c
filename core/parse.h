/*
 * core/parse.h - the small grammars of the command line: durations,
 * schedules (reference "schedule intervals") and `--proxy` mappings.
 *
 * Internal to libfaultcore (fault__ prefix). Every parser is total: any
 * input string gives either a value or an error message naming the column
 * (1-based) where the input went wrong, never a crash. Each has a fuzz
 * target in tests/fuzz/.
 */
#ifndef FAULT_CORE_PARSE_H
#define FAULT_CORE_PARSE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include <fault/plugin.h>

/* Durations: a sequence of <number><unit> with units ns, us, ms, s, sec,
 * m, min, h, hr, d, w (e.g. "1m30s", "250ms"); a bare number is seconds.
 * Fractions are allowed ("1.5s"). Result in microseconds. Returns 0 or
 * FAULT_ESYNTAX with err set ("unknown unit 'x' at column 3"). */
int fault__duration_parse(const char *text, uint64_t *us, char *err, size_t errlen);

/* One period of a schedule, as written. A start or duration is either a
 * fixed time (microseconds) or a fraction of the run (0..1, from "N%"). */
typedef struct fault__period {
    bool has_start, start_rel;
    double start; /* us, or fraction when start_rel */
    bool has_duration, duration_rel;
    double duration;
} fault__period;

/* A window of the run in which the fault is on: [start_us, end_us).
 * end_us is UINT64_MAX for "until the end". */
typedef struct fault__window {
    uint64_t start_us, end_us;
} fault__window;

struct fault_schedule {
    char *text;
    fault__period *periods;
    size_t nperiods;
    fault__window *windows; /* set by fault__schedule_resolve(), sorted */
    size_t nwindows;
};

/*
 * Grammar (the original tool's schedule intervals): periods separated by ';' or ',' where a period
 * is `start:T[,duration:T]` or `duration:T`, T being `N%` or a duration. A `duration` clause
 * directly after a `start` clause that has none (with either separator) completes that period, so
 * "start:30s;duration:3m" is one period of 3 minutes from 30 s, as the reference's examples mean. A
 * lone duration starts at 0. Periods may overlap; the union is used.
 */
int fault__schedule_parse(const char *text, fault_schedule **out, char *err, size_t errlen);
bool fault__schedule_is_relative(const fault_schedule *s);
/* Turns periods into windows for a run of run_us (0 = unlimited). Fails
 * with err set when a relative period meets an unlimited run. */
int fault__schedule_resolve(fault_schedule *s, uint64_t run_us, char *err, size_t errlen);
/* After resolve: is the fault on at this point of the run? */
bool fault__schedule_active_at(const fault_schedule *s, uint64_t elapsed_us);
/* After resolve: the first time > elapsed_us at which the state changes,
 * or UINT64_MAX when it never does again. */
uint64_t fault__schedule_next_edge(const fault_schedule *s, uint64_t elapsed_us);
void fault__schedule_free(fault_schedule *s);

/*
 * Mapping grammar (the original tool's --proxy grammar), extended with an optional listen address:
 *   mapping = [listen ":"] port "=" right
 *   listen  = IPv4 | "[" IPv6 "]" | hostname
 *   right   = host ":" port | scheme "://" host [":" port]
 *   scheme  = http | https | psql | psqls | tls   (case-insensitive)
 * Hosts may be "[v6]". Default upstream ports: http 80, https 443, psql and
 * psqls 5432; "tls" and plain host:port need a port. Ports are 1..65535.
 * All strings in *out are allocated; free with fault__mapping_free().
 */
int fault__mapping_parse(const char *text, fault_mapping *out, char *err, size_t errlen);
void fault__mapping_free(fault_mapping *m);

/* ---- lexing helpers shared by the three parsers ---- */

/* Writes the message to err (when given) and returns FAULT_ESYNTAX. */
FAULT_PRINTF(3, 4)
static inline int fault__parse_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return FAULT_ESYNTAX;
}

/* Renders one input byte for an error message: printable ASCII quoted,
 * anything else (control bytes, UTF-8 pieces) as a hex code so the message
 * itself stays printable. */
static inline const char *fault__parse_show_byte(char buf[16], unsigned char c)
{
    if (c >= 0x20 && c < 0x7f)
        snprintf(buf, 16, "'%c'", (char)c);
    else
        snprintf(buf, 16, "byte 0x%02x", (unsigned)c);
    return buf;
}

/* ASCII classes, without the locale (and the sign trouble) of ctype.h. */
static inline bool fault__parse_is_space(char c)
{
    return c == ' ' || c == '\t';
}

static inline bool fault__parse_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static inline bool fault__parse_is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool fault__parse_is_alnum(char c)
{
    return fault__parse_is_digit(c) || fault__parse_is_alpha(c);
}

#endif /* FAULT_CORE_PARSE_H */
