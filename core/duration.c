/*
 * core/duration.c - parses human-written durations ("1m30s", "250ms",
 * "1.5h", "1 hour 30 minutes", or a bare number of seconds) into microseconds, for --duration,
 * schedule clauses and duration-typed plugin options.
 *
 * All arithmetic is done on integers: "0.1s" is exactly 100000 us rather
 * than whatever a double rounds it to, and a value that does not fit in 64
 * bits is an error instead of silently wrapping around. Only the C library
 * is used so the fuzzer can build this file on its own.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "parse.h"

typedef struct unit {
    const char *name;
    uint64_t ns; /* length of one unit in nanoseconds */
} unit;

#define NS_PER_US UINT64_C(1000)
#define NS_PER_S  UINT64_C(1000000000)

/* The short forms and the spelled-out ones of the original tool's
 * parser (humantime), so "1 minute", "2 hours" and "1h 30min" read as
 * they do there. Case matters: "M" is a month, "m" a minute. A month
 * and a year are the average ones (30.44 and 365.25 days). */
#define NS_PER_DAY (86400 * NS_PER_S)
static const unit units[] = {
    {"ns", 1},
    {"nsec", 1},
    {"nanos", 1},
    {"nanosecond", 1},
    {"nanoseconds", 1},
    {"us", NS_PER_US},
    {"\xc2\xb5s", NS_PER_US}, /* µs in UTF-8 */
    {"usec", NS_PER_US},
    {"micros", NS_PER_US},
    {"microsecond", NS_PER_US},
    {"microseconds", NS_PER_US},
    {"ms", UINT64_C(1000000)},
    {"msec", UINT64_C(1000000)},
    {"millis", UINT64_C(1000000)},
    {"millisecond", UINT64_C(1000000)},
    {"milliseconds", UINT64_C(1000000)},
    {"s", NS_PER_S},
    {"sec", NS_PER_S},
    {"secs", NS_PER_S},
    {"second", NS_PER_S},
    {"seconds", NS_PER_S},
    {"m", 60 * NS_PER_S},
    {"min", 60 * NS_PER_S},
    {"mins", 60 * NS_PER_S},
    {"minute", 60 * NS_PER_S},
    {"minutes", 60 * NS_PER_S},
    {"h", 3600 * NS_PER_S},
    {"hr", 3600 * NS_PER_S},
    {"hrs", 3600 * NS_PER_S},
    {"hour", 3600 * NS_PER_S},
    {"hours", 3600 * NS_PER_S},
    {"d", NS_PER_DAY},
    {"day", NS_PER_DAY},
    {"days", NS_PER_DAY},
    {"w", 7 * NS_PER_DAY},
    {"week", 7 * NS_PER_DAY},
    {"weeks", 7 * NS_PER_DAY},
    {"M", 2630016 * NS_PER_S},
    {"month", 2630016 * NS_PER_S},
    {"months", 2630016 * NS_PER_S},
    {"y", 31557600 * NS_PER_S},
    {"year", 31557600 * NS_PER_S},
    {"years", 31557600 * NS_PER_S},
};

/* Length of the unit character at p: an ASCII letter, or the two bytes
 * of the micro sign, 0 for anything else. */
static size_t unit_char(const char *p, size_t left)
{
    if (fault__parse_is_alpha(*p))
        return 1;
    if (left >= 2 && (unsigned char)p[0] == 0xc2 && (unsigned char)p[1] == 0xb5)
        return 2;
    return 0;
}

static const unit *find_unit(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strlen(units[i].name) == len && memcmp(units[i].name, name, len) == 0)
            return &units[i];
    return NULL;
}

/*
 * Exactly floor(0.DIGITS * unit_ns) for the fraction digits in [p, end).
 * Horner's scheme run from the last digit keeps every intermediate below
 * 10 * unit_ns (under 2^63 even for years), and because floor((a + floor(b)) / n)
 * equals floor((a + b) / n) for integers a and n, truncating at each step
 * loses nothing however many digits there are.
 */
static uint64_t fraction_ns(const char *p, const char *end, uint64_t unit_ns)
{
    uint64_t acc = 0;
    while (end > p) {
        end--;
        acc = ((uint64_t)(*end - '0') * unit_ns + acc) / 10;
    }
    return acc;
}

int fault__duration_parse(const char *text, uint64_t *us, char *err, size_t errlen)
{
    char shown[16];

    if (!text)
        return fault__parse_fail(err, errlen, "missing duration at column 1");

    const size_t len = strlen(text);
    size_t i = 0;
    uint64_t total_us = 0;
    uint64_t rem_ns = 0; /* sub-microsecond part carried between terms */
    bool any_term = false;

    while (i < len && fault__parse_is_space(text[i]))
        i++;
    if (i == len)
        return fault__parse_fail(err, errlen, "expected a duration such as '30s' at column %zu",
                                 i + 1);

    while (i < len) {
        const size_t term = i;

        if (text[i] == '-' || text[i] == '+')
            return fault__parse_fail(err, errlen,
                                     "a duration takes no sign, unexpected '%c' at column %zu",
                                     text[i], i + 1);
        if (!fault__parse_is_digit(text[i]))
            return fault__parse_fail(err, errlen, "expected a number, got %s at column %zu",
                                     fault__parse_show_byte(shown, (unsigned char)text[i]), i + 1);

        /* Integer part, refusing to wrap around. */
        uint64_t whole = 0;
        while (i < len && fault__parse_is_digit(text[i])) {
            uint64_t digit = (uint64_t)(text[i] - '0');
            if (whole > (UINT64_MAX - digit) / 10)
                return fault__parse_fail(err, errlen, "duration too large at column %zu", term + 1);
            whole = whole * 10 + digit;
            i++;
        }

        /* Optional fraction: a dot must be followed by at least one digit,
         * so "1." and "1.s" are typos rather than one second. */
        const char *frac = NULL, *frac_end = NULL;
        if (i < len && text[i] == '.') {
            i++;
            if (i >= len || !fault__parse_is_digit(text[i]))
                return fault__parse_fail(err, errlen, "expected a digit after '.' at column %zu",
                                         i + 1);
            frac = text + i;
            while (i < len && fault__parse_is_digit(text[i]))
                i++;
            frac_end = text + i;
        }
        const size_t number_end = i;

        while (i < len && fault__parse_is_space(text[i]))
            i++;

        const unit *u;
        if (i < len && unit_char(text + i, len - i)) {
            const size_t unit_start = i;
            for (size_t n; i < len && (n = unit_char(text + i, len - i)) > 0;)
                i += n;
            u = find_unit(text + unit_start, i - unit_start);
            if (!u) {
                /* Long garbage is cut short so the column still fits in a
                 * reasonably sized error buffer. */
                size_t n = i - unit_start;
                return fault__parse_fail(err, errlen, "unknown time unit '%.*s%s' at column %zu",
                                         (int)(n > 16 ? 16 : n), text + unit_start,
                                         n > 16 ? "..." : "", unit_start + 1);
            }
        } else if (!any_term && i == len) {
            /* A lone number is seconds, as in "--duration 30". Inside a
             * compound like "1m30" a missing unit is more likely a typo. */
            u = find_unit("s", 1);
        } else {
            return fault__parse_fail(
                err, errlen,
                "missing time unit (ns, us, ms, s, m, h, d, w, or words such as 'minutes') "
                "at column %zu",
                number_end + 1);
        }

        /* whole * unit in microseconds, plus the leftover nanoseconds. */
        uint64_t add_us, add_ns;
        if (u->ns >= NS_PER_US) {
            const uint64_t unit_us = u->ns / NS_PER_US;
            if (whole > UINT64_MAX / unit_us)
                return fault__parse_fail(err, errlen, "duration too large at column %zu", term + 1);
            add_us = whole * unit_us;
            add_ns = 0;
        } else {
            add_us = whole / NS_PER_US;
            add_ns = whole % NS_PER_US;
        }
        if (frac) {
            const uint64_t f = fraction_ns(frac, frac_end, u->ns);
            if (add_us > UINT64_MAX - f / NS_PER_US)
                return fault__parse_fail(err, errlen, "duration too large at column %zu", term + 1);
            add_us += f / NS_PER_US;
            add_ns += f % NS_PER_US;
        }

        if (total_us > UINT64_MAX - add_us)
            return fault__parse_fail(err, errlen, "duration too large at column %zu", term + 1);
        total_us += add_us;
        rem_ns += add_ns;
        if (rem_ns >= NS_PER_US) {
            if (total_us > UINT64_MAX - rem_ns / NS_PER_US)
                return fault__parse_fail(err, errlen, "duration too large at column %zu", term + 1);
            total_us += rem_ns / NS_PER_US;
            rem_ns %= NS_PER_US;
        }

        any_term = true;
        while (i < len && fault__parse_is_space(text[i]))
            i++;
        /* "1 hour, 30 minutes": a comma may separate terms (never end the
         * text: "5s," is a typo). */
        if (i < len && text[i] == ',') {
            i++;
            while (i < len && fault__parse_is_space(text[i]))
                i++;
            if (i == len)
                return fault__parse_fail(err, errlen, "expected a duration after ',' at column %zu",
                                         i + 1);
        }
    }

    /* Anything below a microsecond is dropped: the clock counts in us. */
    *us = total_us;
    return 0;
}
