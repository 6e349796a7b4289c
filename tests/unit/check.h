/*
 * tests/unit/check.h - a minimal assertion kit for the unit tests.
 *
 * Checks do not stop the test: each failure prints file:line with the
 * values involved and is counted, so one run reports every broken case.
 * A test's main() ends with `return check_done();`, which prints a summary
 * and gives exit status 1 when anything failed (0 otherwise), as automake's
 * test harness expects.
 */
#ifndef FAULT_TESTS_CHECK_H
#define FAULT_TESTS_CHECK_H

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Each test program is a single translation unit, so file-level counters
 * are all the state needed. */
static int check_failures;
static int check_count;

static inline void check_report(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline void check_report(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    check_failures++;
    fprintf(stderr, "%s:%d: FAIL: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        check_count++;                                                                             \
        if (!(cond))                                                                               \
            check_report(__FILE__, __LINE__, "%s", #cond);                                         \
    } while (0)

/* Integers are compared as intmax_t so that any integer type fits. */
#define CHECK_EQ_INT(actual, expected)                                                             \
    do {                                                                                           \
        intmax_t check_a_ = (intmax_t)(actual), check_e_ = (intmax_t)(expected);                   \
        check_count++;                                                                             \
        if (check_a_ != check_e_)                                                                  \
            check_report(__FILE__, __LINE__, "%s == %jd, expected %s == %jd", #actual, check_a_,   \
                         #expected, check_e_);                                                     \
    } while (0)

/* Unsigned 64-bit values (microseconds, UINT64_MAX sentinels) do not fit
 * intmax_t, so they get their own comparison. */
#define CHECK_EQ_U64(actual, expected)                                                             \
    do {                                                                                           \
        uint64_t check_a_ = (uint64_t)(actual), check_e_ = (uint64_t)(expected);                   \
        check_count++;                                                                             \
        if (check_a_ != check_e_)                                                                  \
            check_report(__FILE__, __LINE__, "%s == %" PRIu64 ", expected %" PRIu64, #actual,      \
                         check_a_, check_e_);                                                      \
    } while (0)

/* Strings compare equal when both are NULL or both hold the same text. */
#define CHECK_STR(actual, expected)                                                                \
    do {                                                                                           \
        const char *check_a_ = (actual), *check_e_ = (expected);                                   \
        check_count++;                                                                             \
        if (!(check_a_ == check_e_ || (check_a_ && check_e_ && strcmp(check_a_, check_e_) == 0)))  \
            check_report(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"", #actual,             \
                         check_a_ ? check_a_ : "(null)", check_e_ ? check_e_ : "(null)");          \
    } while (0)

/* Does the string contain the fragment? Used for error messages, whose
 * exact wording may change while the column they name must not. */
#define CHECK_CONTAINS(haystack, needle)                                                           \
    do {                                                                                           \
        const char *check_h_ = (haystack), *check_n_ = (needle);                                   \
        check_count++;                                                                             \
        if (!check_h_ || !strstr(check_h_, check_n_))                                              \
            check_report(__FILE__, __LINE__, "%s == \"%s\" does not contain \"%s\"", #haystack,    \
                         check_h_ ? check_h_ : "(null)", check_n_);                                \
    } while (0)

/* |actual - expected| <= tol, for statistics. */
#define CHECK_NEAR(actual, expected, tol)                                                          \
    do {                                                                                           \
        double check_a_ = (actual), check_e_ = (expected), check_t_ = (tol);                       \
        check_count++;                                                                             \
        if (!(fabs(check_a_ - check_e_) <= check_t_))                                              \
            check_report(__FILE__, __LINE__, "%s == %.9g, expected %.9g +- %.3g", #actual,         \
                         check_a_, check_e_, check_t_);                                            \
    } while (0)

static inline int check_done(void)
{
    if (check_failures)
        fprintf(stderr, "%d of %d checks failed\n", check_failures, check_count);
    else
        printf("all %d checks passed\n", check_count);
    return check_failures ? 1 : 0;
}

#endif /* FAULT_TESTS_CHECK_H */
