/*
 * tests/unit/test_duration.c - fault__duration_parse(): every unit, compound
 * and fractional values computed exactly, the bare-seconds rule, and errors
 * that name the right column, including 64-bit overflow.
 */
#include <stdlib.h>
#include <string.h>

#include "parse.h"

#include "check.h"

#define S UINT64_C(1000000)

/* Parses text and checks the result in microseconds. */
static void ok_at(const char *file, int line, const char *text, uint64_t expect)
{
    char err[256] = "";
    uint64_t us = 12345;
    int rc = fault__duration_parse(text, &us, err, sizeof err);
    check_count++;
    if (rc != 0)
        check_report(file, line, "\"%s\" failed: %s", text, err);
    else if (us != expect)
        check_report(file, line, "\"%s\" gave %" PRIu64 " us, expected %" PRIu64, text, us, expect);
}

/* Parses text, expecting FAULT_ESYNTAX and a message holding fragment. */
static void bad_at(const char *file, int line, const char *text, const char *fragment)
{
    char err[256] = "";
    uint64_t us = 0;
    int rc = fault__duration_parse(text, &us, err, sizeof err);
    check_count++;
    if (rc != FAULT_ESYNTAX)
        check_report(file, line, "\"%s\" returned %d (%" PRIu64 " us), expected an error", text, rc,
                     us);
    else if (!strstr(err, fragment))
        check_report(file, line, "\"%s\": error \"%s\" lacks \"%s\"", text, err, fragment);
    else if (!strstr(err, "at column "))
        check_report(file, line, "\"%s\": error \"%s\" names no column", text, err);
}

#define OK(text, expect)    ok_at(__FILE__, __LINE__, text, expect)
#define BAD(text, fragment) bad_at(__FILE__, __LINE__, text, fragment)

static void test_units(void)
{
    OK("1500ns", 1);
    OK("999ns", 0);
    OK("1us", 1);
    OK("250ms", 250000);
    OK("1s", S);
    OK("1sec", S);
    OK("2m", 120 * S);
    OK("2min", 120 * S);
    OK("1h", 3600 * S);
    OK("1hr", 3600 * S);
    OK("1d", 86400 * S);
    OK("1w", 604800 * S);
    OK("0", 0);
    OK("0s", 0);
}

/* The spelled-out units of the original tool's parser (humantime). */
static void test_words(void)
{
    OK("1 minute", 60 * S);
    OK("2 hours", 7200 * S);
    OK("1h 30min", 5400 * S);
    OK("1 hour 30 minutes", 5400 * S);
    OK("3 days", 3 * 86400 * S);
    OK("1day", 86400 * S);
    OK("2 weeks", 14 * 86400 * S);
    OK("1 week", 7 * 86400 * S);
    OK("10 seconds", 10 * S);
    OK("1 second", S);
    OK("5secs", 5 * S);
    OK("3 mins", 180 * S);
    OK("2hrs", 7200 * S);
    OK("1hour", 3600 * S);
    OK("250 millis", 250000);
    OK("250msec", 250000);
    OK("2 milliseconds", 2000);
    OK("1 millisecond", 1000);
    OK("7usec", 7);
    OK("7 micros", 7);
    OK("3 microseconds", 3);
    OK("5\xc2\xb5s", 5);
    OK("2000 nanos", 2);
    OK("2000nsec", 2);
    OK("4000 nanoseconds", 4);
    OK("1 nanosecond", 0);
    OK("1M", UINT64_C(2630016) * S);
    OK("2 months", UINT64_C(2) * 2630016 * S);
    OK("1 month", UINT64_C(2630016) * S);
    OK("1y", UINT64_C(31557600) * S);
    OK("1 year", UINT64_C(31557600) * S);
    OK("2 years", UINT64_C(63115200) * S);
    OK("1 year 2 months 3 weeks 4 days 5 hours 6 minutes 7 seconds 8 millis",
       (UINT64_C(31557600) + 2 * 2630016 + 21 * 86400 + 4 * 86400 + 5 * 3600 + 6 * 60 + 7) * S +
           8000);
    OK("1.5 hours", 5400 * S);
    OK("1 hour, 30 minutes", 5400 * S);
    OK("1h,30m", 5400 * S);
    BAD("5s,", "expected a duration after ',' at column 4");
    BAD("5s,,1s", "expected a number, got ',' at column 4");
    BAD(",5s", "expected a number, got ',' at column 1");
    /* Case matters as in the original: M is a month, Minute is a typo. */
    BAD("1 Minute", "unknown time unit 'Minute' at column 3");
    BAD("2 HOURS", "unknown time unit 'HOURS'");
    BAD("1 minutess", "unknown time unit 'minutess'");
    BAD("1 min utes", "expected a number, got 'u' at column 7");
    BAD("5\xc2s", "column 2");
}

static void test_compound_and_fractions(void)
{
    OK("1m30s", 90 * S);
    OK("1h2m3s", 3723 * S);
    OK("1m 30s", 90 * S);
    OK("  5s  ", 5 * S);
    OK("5 s", 5 * S);
    OK("1s500ms", 1500000);
    OK("1.5s", 1500000);
    OK("0.1s", 100000);
    OK("0.001ms", 1);
    OK("1.5h", 5400 * S);
    OK("0.25m", 15 * S);
    OK("2.5ms", 2500);
    /* The sub-microsecond parts of several terms add up. */
    OK("600ns600ns", 1);
    OK("0.0000001s", 0);
    /* Many fraction digits are fine and exact. */
    OK("0.333333333333333333333333333333h", 1199999999);
}

static void test_bare_seconds(void)
{
    OK("30", 30 * S);
    OK("1.25", 1250000);
    OK(" 7 ", 7 * S);
    /* Inside a compound a missing unit is an error, not seconds. */
    BAD("1m30", "missing time unit");
    BAD("1m30", "column 5");
    BAD("1 30s", "column 2");
}

static void test_errors(void)
{
    BAD("", "column 1");
    BAD("   ", "column 4");
    BAD("5x", "unknown time unit 'x' at column 2");
    BAD("10 parsecs", "unknown time unit 'parsecs' at column 4");
    BAD("5S", "unknown time unit 'S'");
    BAD("-5s", "column 1");
    BAD("+5s", "column 1");
    BAD("s", "expected a number");
    BAD("1.s", "column 3");
    BAD("1.", "column 3");
    BAD(".5s", "column 1");
    BAD("5s;", "column 3");
    BAD("5s\x01", "0x01 at column 3");
    BAD("1m30s!", "'!' at column 6");
    BAD("5\xc3\xa9", "column 2");
    BAD("1abcdefghijklmnopqrstuvwxyz", "unknown time unit 'abcdefghijklmnop...' at column 2");
}

static void test_limits(void)
{
    /* UINT64_MAX microseconds is representable; one more is not. */
    OK("18446744073709551615us", UINT64_MAX);
    BAD("18446744073709551616us", "too large at column 1");
    BAD("99999999999999999999999s", "too large at column 1");
    /* The multiplication by the unit is checked too. */
    BAD("18446744073709551615s", "too large at column 1");
    BAD("30500569w", "too large");
    OK("30500568w", UINT64_C(30500568) * 604800 * S);
    /* So is the sum of terms, reported at the term that overflowed. */
    BAD("18446744073709551615us 1us", "too large at column 24");
    BAD("18446744073709551615us1000ns", "too large at column 23");
    OK("18446744073709551614us999ns", UINT64_C(18446744073709551614));
    /* Nanoseconds large enough not to fit as microseconds elsewhere. */
    OK("18446744073709551615ns", UINT64_C(18446744073709551));
    /* A long run of digits in a fraction is harmless. */
    char big[5000];
    memset(big, '9', sizeof big);
    big[0] = '0';
    big[1] = '.';
    big[sizeof big - 2] = 's';
    big[sizeof big - 1] = '\0';
    OK(big, 999999);
}

static void test_no_err_buffer(void)
{
    uint64_t us = 0;
    CHECK_EQ_INT(fault__duration_parse("5x", &us, NULL, 0), FAULT_ESYNTAX);
    char tiny[4];
    CHECK_EQ_INT(fault__duration_parse("5x", &us, tiny, sizeof tiny), FAULT_ESYNTAX);
    CHECK_EQ_INT((int)strlen(tiny), 3);
    CHECK_EQ_INT(fault__duration_parse(NULL, &us, tiny, sizeof tiny), FAULT_ESYNTAX);
}

int main(void)
{
    test_units();
    test_words();
    test_compound_and_fractions();
    test_bare_seconds();
    test_errors();
    test_limits();
    test_no_err_buffer();
    return check_done();
}
