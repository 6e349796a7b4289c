/*
 * tests/unit/test_schedule.c - schedules: every example of the schedule
 * reference parses to the windows it describes, the rule that a duration
 * clause completes the start clause before it, relative periods and
 * --duration, merging, and the exact edges of active_at()/next_edge().
 */
#include <stdlib.h>
#include <string.h>

#include "parse.h"

#include "check.h"

#define S   UINT64_C(1000000)
#define END UINT64_MAX

/* Parses and resolves; returns NULL (after reporting) on failure. */
static fault_schedule *load_at(const char *file, int line, const char *text, uint64_t run_us)
{
    char err[256] = "";
    fault_schedule *s = NULL;
    check_count++;
    if (fault__schedule_parse(text, &s, err, sizeof err) != 0) {
        check_report(file, line, "parse \"%s\" failed: %s", text, err);
        return NULL;
    }
    if (fault__schedule_resolve(s, run_us, err, sizeof err) != 0) {
        check_report(file, line, "resolve \"%s\" failed: %s", text, err);
        fault__schedule_free(s);
        return NULL;
    }
    return s;
}

/* Checks that text resolves to exactly the windows in w (pairs of start
 * and end, n of them). */
static void windows_at(const char *file, int line, const char *text, uint64_t run_us,
                       const uint64_t *w, size_t n)
{
    fault_schedule *s = load_at(file, line, text, run_us);
    if (!s)
        return;
    check_count++;
    if (s->nwindows != n) {
        check_report(file, line, "\"%s\": %zu windows, expected %zu", text, s->nwindows, n);
    } else {
        for (size_t i = 0; i < n; i++)
            if (s->windows[i].start_us != w[2 * i] || s->windows[i].end_us != w[2 * i + 1])
                check_report(file, line,
                             "\"%s\": window %zu is [%" PRIu64 ", %" PRIu64 "), expected [%" PRIu64
                             ", %" PRIu64 ")",
                             text, i, s->windows[i].start_us, s->windows[i].end_us, w[2 * i],
                             w[2 * i + 1]);
    }
    CHECK_STR(s->text, text);
    fault__schedule_free(s);
}

#define WINDOWS(text, run_us, ...)                                                                 \
    do {                                                                                           \
        const uint64_t w_[] = {__VA_ARGS__};                                                       \
        windows_at(__FILE__, __LINE__, text, run_us, w_, sizeof w_ / sizeof w_[0] / 2);            \
    } while (0)

/* Expects a parse error whose message contains fragment (a column). */
static void bad_at(const char *file, int line, const char *text, const char *fragment)
{
    char err[256] = "";
    fault_schedule *s = (fault_schedule *)1;
    int rc = fault__schedule_parse(text, &s, err, sizeof err);
    check_count++;
    if (rc != FAULT_ESYNTAX || s != NULL)
        check_report(file, line, "\"%s\": rc %d, expected FAULT_ESYNTAX and no schedule", text, rc);
    else if (!strstr(err, fragment))
        check_report(file, line, "\"%s\": error \"%s\" lacks \"%s\"", text, err, fragment);
    else if (!strstr(err, "at column "))
        check_report(file, line, "\"%s\": error \"%s\" names no column", text, err);
    if (rc == 0)
        fault__schedule_free(s);
}

#define BAD(text, fragment) bad_at(__FILE__, __LINE__, text, fragment)

static void test_reference_examples(void)
{
    /* The examples of the schedule-intervals reference, run for 5 minutes
     * where they use percentages and unlimited otherwise. */
    WINDOWS("start:30s;duration:3m", 0, 30 * S, 210 * S);
    WINDOWS("start:2m;duration:25s", 0, 120 * S, 145 * S);
    WINDOWS("start:30s", 0, 30 * S, END);
    WINDOWS("duration:50s", 0, 0, 50 * S);
    WINDOWS("start:30s;duration:3m;start:4m,duration:45s", 0, 30 * S, 210 * S, 240 * S, 285 * S);
    WINDOWS("start:30s;duration:3m;start:4m", 0, 30 * S, 210 * S, 240 * S, END);
    WINDOWS("start:30s;duration:3m;start:90%,duration:5%", 300 * S, 30 * S, 210 * S, 270 * S,
            285 * S);
    /* "A first wave after 15s for 90s, a second after 270s for 15s." */
    WINDOWS("start:5%;duration:30%;start:90%,duration:5%", 300 * S, 15 * S, 105 * S, 270 * S,
            285 * S);

    /* The lifecycle page and the latency how-to. */
    WINDOWS("start:20s,duration:40s;start:80s,duration:30s", 0, 20 * S, 60 * S, 80 * S, 110 * S);
    WINDOWS("start:35s,duration:20s", 0, 35 * S, 55 * S);
    WINDOWS("start:5%,duration:30%;start:90%,duration:5%", 300 * S, 15 * S, 105 * S, 270 * S,
            285 * S);
    WINDOWS("start:125s,duration:20s;start:70%,duration:5%", 300 * S, 125 * S, 145 * S, 210 * S,
            225 * S);
    WINDOWS("start:20%,duration:30%", 100 * S, 20 * S, 50 * S);
}

static void test_duration_completes_start(void)
{
    char err[256];
    fault_schedule *s;

    /* ";" and "," both let a duration complete the start just before. */
    CHECK_EQ_INT(fault__schedule_parse("start:30s;duration:3m", &s, err, sizeof err), 0);
    CHECK_EQ_INT(s->nperiods, 1);
    CHECK(s->periods[0].has_start && s->periods[0].has_duration);
    CHECK(s->periods[0].start == 30e6 && s->periods[0].duration == 180e6);
    CHECK(!fault__schedule_is_relative(s));
    fault__schedule_free(s);

    CHECK_EQ_INT(fault__schedule_parse("start:30s,duration:3m", &s, err, sizeof err), 0);
    CHECK_EQ_INT(s->nperiods, 1);
    fault__schedule_free(s);

    /* A second duration has no open start left, so it starts at 0. */
    CHECK_EQ_INT(fault__schedule_parse("start:1s;duration:2s;duration:3s", &s, err, sizeof err), 0);
    CHECK_EQ_INT(s->nperiods, 2);
    CHECK(!s->periods[1].has_start && s->periods[1].has_duration);
    fault__schedule_free(s);
    WINDOWS("start:10s;duration:2s;duration:3s", 0, 0, 3 * S, 10 * S, 12 * S);

    /* A duration before any start is its own period from 0, and the start
     * after it stays open to the end. */
    CHECK_EQ_INT(fault__schedule_parse("duration:5s;start:10s", &s, err, sizeof err), 0);
    CHECK_EQ_INT(s->nperiods, 2);
    CHECK(!s->periods[0].has_start && s->periods[1].has_start && !s->periods[1].has_duration);
    fault__schedule_free(s);
    WINDOWS("duration:5s;start:10s", 0, 0, 5 * S, 10 * S, END);

    /* Two starts in a row: the first stays open. */
    CHECK_EQ_INT(fault__schedule_parse("start:1s;start:2s,duration:1s", &s, err, sizeof err), 0);
    CHECK_EQ_INT(s->nperiods, 2);
    CHECK(!s->periods[0].has_duration && s->periods[1].has_duration);
    fault__schedule_free(s);

    /* Relative fields are recorded as fractions of the run. */
    CHECK_EQ_INT(fault__schedule_parse("start:5%,duration:12.5%", &s, err, sizeof err), 0);
    CHECK(s->periods[0].start_rel && s->periods[0].duration_rel);
    CHECK_NEAR(s->periods[0].start, 0.05, 1e-12);
    CHECK_NEAR(s->periods[0].duration, 0.125, 1e-12);
    CHECK(fault__schedule_is_relative(s));
    fault__schedule_free(s);
}

static void test_relative_needs_duration(void)
{
    char err[256] = "";
    fault_schedule *s;
    const char *relative[] = {"start:5%", "duration:10%", "start:10s,duration:5%",
                              "start:30s;duration:3m;start:90%"};
    for (size_t i = 0; i < sizeof relative / sizeof relative[0]; i++) {
        CHECK_EQ_INT(fault__schedule_parse(relative[i], &s, err, sizeof err), 0);
        CHECK(fault__schedule_is_relative(s));
        err[0] = '\0';
        CHECK(fault__schedule_resolve(s, 0, err, sizeof err) < 0);
        CHECK_CONTAINS(err, "--duration");
        /* Once the run has a length the same schedule resolves. */
        CHECK_EQ_INT(fault__schedule_resolve(s, 60 * S, err, sizeof err), 0);
        fault__schedule_free(s);
    }
    /* A fixed schedule is fine with an unlimited run. */
    CHECK_EQ_INT(fault__schedule_parse("start:5s", &s, err, sizeof err), 0);
    CHECK(!fault__schedule_is_relative(s));
    CHECK_EQ_INT(fault__schedule_resolve(s, 0, err, sizeof err), 0);
    fault__schedule_free(s);
}

static void test_resolve(void)
{
    /* Overlapping and touching windows merge; the order written does not
     * matter. */
    WINDOWS("start:0s,duration:10s;start:5s,duration:10s;start:15s,duration:5s", 0, 0, 20 * S);
    WINDOWS("start:100s,duration:1s;start:10s,duration:1s", 0, 10 * S, 11 * S, 100 * S, 101 * S);
    WINDOWS("start:50s;start:10s,duration:100s", 0, 10 * S, END);
    /* Empty windows never switch anything on. */
    {
        fault_schedule *s = load_at(__FILE__, __LINE__, "duration:0s;start:5s,duration:0%", 10 * S);
        if (s) {
            CHECK_EQ_INT(s->nwindows, 0);
            CHECK(!fault__schedule_active_at(s, 0));
            CHECK(!fault__schedule_active_at(s, 5 * S));
            CHECK_EQ_U64(fault__schedule_next_edge(s, 0), END);
            fault__schedule_free(s);
        }
    }
    /* Relative values are rounded to the nearest microsecond. */
    WINDOWS("start:50%,duration:50%", 3, 2, 4);
    WINDOWS("start:33.3333%", 90 * S, 29999970, END);
    WINDOWS("start:100%", 7 * S, 7 * S, END);
    /* Huge fixed values saturate instead of wrapping around. */
    WINDOWS("start:18446744073709549568us,duration:1w", 0, UINT64_C(18446744073709549568), END);
    /* Resolving again replaces the windows. */
    {
        fault_schedule *s = load_at(__FILE__, __LINE__, "start:50%", 10 * S);
        if (s) {
            CHECK_EQ_U64(s->windows[0].start_us, 5 * S);
            CHECK_EQ_INT(fault__schedule_resolve(s, 20 * S, NULL, 0), 0);
            CHECK_EQ_INT(s->nwindows, 1);
            CHECK_EQ_U64(s->windows[0].start_us, 10 * S);
            fault__schedule_free(s);
        }
    }
}

static void test_edges(void)
{
    fault_schedule *s = load_at(__FILE__, __LINE__, "start:30s;duration:3m;start:4m", 0);
    if (!s)
        return;
    /* Windows [30s, 210s) and [240s, end). */
    CHECK(!fault__schedule_active_at(s, 0));
    CHECK(!fault__schedule_active_at(s, 30 * S - 1));
    CHECK(fault__schedule_active_at(s, 30 * S));
    CHECK(fault__schedule_active_at(s, 210 * S - 1));
    CHECK(!fault__schedule_active_at(s, 210 * S));
    CHECK(!fault__schedule_active_at(s, 240 * S - 1));
    CHECK(fault__schedule_active_at(s, 240 * S));
    CHECK(fault__schedule_active_at(s, END - 1));
    CHECK(fault__schedule_active_at(s, END));

    CHECK_EQ_U64(fault__schedule_next_edge(s, 0), 30 * S);
    CHECK_EQ_U64(fault__schedule_next_edge(s, 30 * S - 1), 30 * S);
    CHECK_EQ_U64(fault__schedule_next_edge(s, 30 * S), 210 * S);
    CHECK_EQ_U64(fault__schedule_next_edge(s, 210 * S - 1), 210 * S);
    CHECK_EQ_U64(fault__schedule_next_edge(s, 210 * S), 240 * S);
    CHECK_EQ_U64(fault__schedule_next_edge(s, 240 * S - 1), 240 * S);
    /* The last window never ends. */
    CHECK_EQ_U64(fault__schedule_next_edge(s, 240 * S), END);
    CHECK_EQ_U64(fault__schedule_next_edge(s, END), END);
    fault__schedule_free(s);

    /* A window from 0: on at once, off at its end, then never again. */
    s = load_at(__FILE__, __LINE__, "duration:5s", 0);
    if (s) {
        CHECK(fault__schedule_active_at(s, 0));
        CHECK_EQ_U64(fault__schedule_next_edge(s, 0), 5 * S);
        CHECK(!fault__schedule_active_at(s, 5 * S));
        CHECK_EQ_U64(fault__schedule_next_edge(s, 5 * S), END);
        fault__schedule_free(s);
    }

    /* Walking the edges of a many-window schedule visits each boundary. */
    s = load_at(__FILE__, __LINE__,
                "start:1s,duration:1s;start:3s,duration:1s;start:5s,duration:1s", 0);
    if (s) {
        uint64_t t = 0, seen[8];
        int n = 0;
        while (n < 8 && (t = fault__schedule_next_edge(s, t)) != END)
            seen[n++] = t;
        CHECK_EQ_INT(n, 6);
        for (int i = 0; i < n && i < 6; i++)
            CHECK_EQ_U64(seen[i], (uint64_t)(i + 1) * S);
        fault__schedule_free(s);
    }

    /* No schedule means always on. */
    CHECK(fault__schedule_active_at(NULL, 123));
    CHECK_EQ_U64(fault__schedule_next_edge(NULL, 123), END);
}

static void test_syntax(void)
{
    /* Blanks around tokens and capitalised keywords are tolerated. */
    WINDOWS(" start : 30s , duration : 1m ", 0, 30 * S, 90 * S);
    WINDOWS("Start:1s;DURATION:1s", 0, S, 2 * S);
    WINDOWS("start:1m30s,duration:1.5s", 0, 90 * S, 91500000);
    WINDOWS("start:5 %,duration:10%", 100 * S, 5 * S, 15 * S);
    /* A bare number is seconds, as for --duration. */
    WINDOWS("start:30", 0, 30 * S, END);

    BAD("", "column 1");
    BAD("   ", "column 4");
    BAD("start", "expected ':' after 'start' at column 6");
    BAD("start:", "column 7");
    BAD("start:  ", "column 9");
    BAD("start:30x", "unknown time unit 'x' at column 9");
    BAD("start:30s;duration:3q", "unknown time unit 'q' at column 21");
    BAD("start:30s;", "column 11");
    BAD("start:30s,", "column 11");
    BAD("start:30s;;duration:1s", "column 11");
    BAD(";start:30s", "column 1");
    BAD("stop:30s", "unknown schedule clause 'stop'");
    BAD("stop:30s", "column 1");
    BAD("start=30s", "column 6");
    BAD("start:101%", "0..100 at column 7");
    BAD("start:99999999999999999999999999999%", "0..100 at column 7");
    BAD("start:5.%", "column 9");
    BAD("start:abc%", "column 7");
    BAD("start:%", "column 7");
    BAD("start:-5s", "column 7");
    BAD("start:1s,duration:99999999999999999999999s", "too large at column 19");
    BAD("start:30s duration:3m", "column 11");
    BAD("start:1s\x7f", "0x7f at column 9");
    BAD("start:1s;\xff", "0xff at column 10");
    BAD("duration:1m30", "missing time unit");
    /* ',' joins a start to its duration, nothing else: a second start in
     * one period, or a clause after a complete one, is refused where it is. */
    BAD("start:1s,start:2s", "a second start in one period: 'start:' after ',' at column 10");
    BAD("start:1s,duration:1s,duration:2s", "'duration:' after ',' at column 22");
    BAD("start:1s,duration:1s,start:5s", "'start:' after ',' at column 22");
    BAD("duration:1s,start:5s", "'start:' after ',' at column 13");
    BAD("duration:1s,duration:5s", "'duration:' after ',' at column 13");
    BAD("start:1s,duration:1s;start:2s,start:3s", "a second start in one period");

    /* NULL error buffers are allowed. */
    fault_schedule *s;
    CHECK_EQ_INT(fault__schedule_parse("nope", &s, NULL, 0), FAULT_ESYNTAX);
    CHECK(s == NULL);
    fault__schedule_free(NULL);
}

int main(void)
{
    test_reference_examples();
    test_duration_completes_start();
    test_relative_needs_duration();
    test_resolve();
    test_edges();
    test_syntax();
    return check_done();
}
