/*
 * tests/unit/test_rng.c - the random generator and latency distributions.
 *
 * Reproducibility is the point of --seed, so the exact output stream for a
 * seed is pinned. The distributions are checked statistically with a fixed
 * seed: sample moments and quantiles at N = 100000, and a Kolmogorov-Smirnov
 * test of 1000 draws against each analytic CDF. Because the seed is fixed
 * the outcome is deterministic; the tolerances are still chosen (several
 * standard errors wide) so that any correct generator would pass them.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include <fault/rng.h>

#include "check.h"

#define N_MOMENTS 100000
#define N_KS      1000
/* Critical value of the one-sample KS statistic at alpha = 0.05. */
#define KS_CRIT (1.36 / sqrt((double)N_KS))

static double samples[N_MOMENTS];

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_known_answer(void)
{
    /* splitmix64 from 0 and xoshiro256** are reference algorithms; these
     * values come from them and must never change, or every recorded
     * --seed would replay differently. */
    fault_rng r;
    fault_rng_seed(&r, 0);
    CHECK_EQ_U64(r.s[0], UINT64_C(0xe220a8397b1dcdaf));
    CHECK_EQ_U64(r.s[1], UINT64_C(0x6e789e6aa1b965f4));
    CHECK_EQ_U64(r.s[2], UINT64_C(0x06c45d188009454f));
    CHECK_EQ_U64(r.s[3], UINT64_C(0xf88bb8a8724c81ec));
    CHECK_EQ_U64(fault_rng_u64(&r), UINT64_C(0x99ec5f36cb75f2b4));
    CHECK_EQ_U64(fault_rng_u64(&r), UINT64_C(0xbf6e1f784956452a));
    CHECK_EQ_U64(fault_rng_u64(&r), UINT64_C(0x1a5f849d4933e6e0));
}

static void test_determinism(void)
{
    fault_rng a, b;
    fault_rng_seed(&a, 42);
    fault_rng_seed(&b, 42);
    int same = 1;
    for (int i = 0; i < 1000; i++)
        if (fault_rng_u64(&a) != fault_rng_u64(&b))
            same = 0;
    CHECK(same);

    /* The distributions consume the stream deterministically too. */
    fault_distribution d = {
        .kind = FAULT_DIST_PARETO_NORMAL, .mean = 50, .stddev = 15, .scale = 20, .shape = 1.5};
    fault_rng_seed(&a, 7);
    fault_rng_seed(&b, 7);
    same = 1;
    for (int i = 0; i < 1000; i++)
        if (fault_distribution_sample(&d, &a) != fault_distribution_sample(&d, &b))
            same = 0;
    CHECK(same);

    /* Neighbouring seeds must give unrelated streams. */
    uint64_t first[4];
    for (uint64_t seed = 0; seed < 4; seed++) {
        fault_rng_seed(&a, seed);
        first[seed] = fault_rng_u64(&a);
    }
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++)
            CHECK(first[i] != first[j]);
    fault_rng_seed(&a, 1);
    fault_rng_seed(&b, 2);
    int differ = 0;
    for (int i = 0; i < 100; i++)
        if (fault_rng_u64(&a) != fault_rng_u64(&b))
            differ++;
    CHECK_EQ_INT(differ, 100);
}

static void test_uniform01(void)
{
    fault_rng r;
    fault_rng_seed(&r, 1);
    double lo = 1.0, hi = 0.0, sum = 0.0;
    for (int i = 0; i < N_MOMENTS; i++) {
        double u = fault_rng_uniform(&r);
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
        sum += u;
    }
    CHECK(lo >= 0.0);
    CHECK(hi < 1.0);
    CHECK(lo < 0.001);
    CHECK(hi > 0.999);
    /* Standard error of the mean: sqrt(1/12 / N) ~ 0.0009. */
    CHECK_NEAR(sum / N_MOMENTS, 0.5, 0.005);
}

static void moments(const double *x, int n, double *mean, double *sd)
{
    double m = 0.0, s = 0.0;
    for (int i = 0; i < n; i++)
        m += x[i];
    m /= n;
    for (int i = 0; i < n; i++)
        s += (x[i] - m) * (x[i] - m);
    *mean = m;
    *sd = sqrt(s / (n - 1));
}

static void test_normal_moments(void)
{
    fault_rng r;
    fault_rng_seed(&r, 2);
    for (int i = 0; i < N_MOMENTS; i++)
        samples[i] = fault_rng_normal(&r, 300.0, 40.0);
    double mean, sd;
    moments(samples, N_MOMENTS, &mean, &sd);
    /* Standard errors: 40/sqrt(N) ~ 0.13 for the mean, 40/sqrt(2N) ~ 0.09
     * for the standard deviation; tolerances are about five of them. */
    CHECK_NEAR(mean, 300.0, 0.6);
    CHECK_NEAR(sd, 40.0, 0.45);

    /* About 68.3% of draws within one standard deviation. */
    int within = 0;
    for (int i = 0; i < N_MOMENTS; i++)
        within += fabs(samples[i] - 300.0) <= 40.0;
    CHECK_NEAR((double)within / N_MOMENTS, 0.6827, 0.0075);

    /* A zero standard deviation is a constant. */
    CHECK(fault_rng_normal(&r, 12.5, 0.0) == 12.5);
}

static void test_uniform_distribution(void)
{
    fault_rng r;
    fault_rng_seed(&r, 3);
    fault_distribution d = {.kind = FAULT_DIST_UNIFORM, .min = 300, .max = 500};
    double lo = 1e300, hi = -1e300;
    for (int i = 0; i < N_MOMENTS; i++) {
        samples[i] = fault_distribution_sample(&d, &r);
        lo = samples[i] < lo ? samples[i] : lo;
        hi = samples[i] > hi ? samples[i] : hi;
    }
    CHECK(lo >= 300.0);
    CHECK(hi <= 500.0);
    CHECK(lo < 300.1);
    CHECK(hi > 499.9);
    double mean, sd;
    moments(samples, N_MOMENTS, &mean, &sd);
    /* sd = 200/sqrt(12) ~ 57.7; standard error of the mean ~ 0.18. */
    CHECK_NEAR(mean, 400.0, 1.0);
    CHECK_NEAR(sd, 200.0 / sqrt(12.0), 0.6);

    /* min == max is a fixed delay. */
    fault_distribution fixed = {.kind = FAULT_DIST_UNIFORM, .min = 25, .max = 25};
    CHECK(fault_distribution_sample(&fixed, &r) == 25.0);
}

static void test_pareto(void)
{
    const double scale = 20.0, shape = 1.5;
    fault_rng r;
    fault_rng_seed(&r, 4);
    fault_distribution d = {.kind = FAULT_DIST_PARETO, .scale = scale, .shape = shape};
    double lo = 1e300;
    for (int i = 0; i < N_MOMENTS; i++) {
        samples[i] = fault_distribution_sample(&d, &r);
        lo = samples[i] < lo ? samples[i] : lo;
    }
    /* The scale is the minimum, and with 100000 draws the smallest lands
     * within a hair of it (expected excess ~ scale / (shape * N)). */
    CHECK(lo >= scale);
    CHECK(lo < scale * 1.001);

    /* Median scale * 2^(1/shape) ~ 31.75; its standard error here is about
     * 0.07, so 1% is a wide margin. */
    qsort(samples, N_MOMENTS, sizeof samples[0], cmp_double);
    double median = (samples[N_MOMENTS / 2 - 1] + samples[N_MOMENTS / 2]) / 2.0;
    double expect = scale * pow(2.0, 1.0 / shape);
    CHECK_NEAR(median, expect, expect * 0.01);

    /* Never below scale even for an invalid shape. */
    CHECK(fault_rng_pareto(&r, 5.0, 0.0) == 5.0);
    CHECK(fault_rng_pareto(&r, 5.0, -1.0) == 5.0);
}

static void test_pareto_normal_and_clamp(void)
{
    fault_rng r;
    fault_rng_seed(&r, 5);

    /* A normal centred on zero is clamped: about half the draws are 0 and
     * none is negative. */
    fault_distribution d = {.kind = FAULT_DIST_NORMAL, .mean = 0, .stddev = 10};
    int zeros = 0, negative = 0;
    for (int i = 0; i < N_MOMENTS; i++) {
        double x = fault_distribution_sample(&d, &r);
        zeros += x == 0.0;
        negative += x < 0.0;
    }
    CHECK_EQ_INT(negative, 0);
    CHECK_NEAR((double)zeros / N_MOMENTS, 0.5, 0.0075);

    /* Pareto-normal is the normal base plus the Pareto excess over its
     * scale: so it is never below the normal part's distribution, and its
     * median sits above the normal mean by about the excess median
     * (scale * (2^(1/shape) - 1) ~ 11.7 for these parameters, less some
     * spread from the sum). */
    fault_distribution pn = {
        .kind = FAULT_DIST_PARETO_NORMAL, .mean = 50, .stddev = 15, .scale = 20, .shape = 1.5};
    for (int i = 0; i < N_MOMENTS; i++)
        samples[i] = fault_distribution_sample(&pn, &r);
    qsort(samples, N_MOMENTS, sizeof samples[0], cmp_double);
    double median = samples[N_MOMENTS / 2];
    CHECK(median > 55.0);
    CHECK(median < 70.0);
    CHECK(samples[0] >= 0.0);

    /* With no spread and a huge shape the excess vanishes, leaving the
     * mean: this pins the "+ (pareto - scale)" form. */
    fault_distribution flat = {
        .kind = FAULT_DIST_PARETO_NORMAL, .mean = 40, .stddev = 0, .scale = 20, .shape = 1e9};
    CHECK_NEAR(fault_distribution_sample(&flat, &r), 40.0, 1e-6);
}

static void test_bernoulli(void)
{
    fault_rng r;
    fault_rng_seed(&r, 6);
    int hits0 = 0, hits1 = 0, hits = 0, hitsnan = 0;
    for (int i = 0; i < N_MOMENTS; i++) {
        hits0 += fault_rng_bernoulli(&r, 0.0);
        hits0 += fault_rng_bernoulli(&r, -1.0);
        hits1 += fault_rng_bernoulli(&r, 1.0);
        hits += fault_rng_bernoulli(&r, 0.3);
        hitsnan += fault_rng_bernoulli(&r, NAN);
    }
    CHECK_EQ_INT(hits0, 0);
    CHECK_EQ_INT(hits1, N_MOMENTS);
    CHECK_EQ_INT(hitsnan, 0);
    /* Standard error sqrt(0.21 / N) ~ 0.0015. */
    CHECK_NEAR((double)hits / N_MOMENTS, 0.3, 0.0075);
}

/* The largest gap between the empirical CDF of x (sorted in place) and the
 * analytic cdf, checking both sides of each step. */
static double ks_statistic(double *x, int n, double (*cdf)(double, const double *),
                           const double *params)
{
    qsort(x, (size_t)n, sizeof x[0], cmp_double);
    double dmax = 0.0;
    for (int i = 0; i < n; i++) {
        double f = cdf(x[i], params);
        double above = (double)(i + 1) / n - f;
        double below = f - (double)i / n;
        if (above > dmax)
            dmax = above;
        if (below > dmax)
            dmax = below;
    }
    return dmax;
}

static double cdf_uniform(double x, const double *p)
{
    if (x <= p[0])
        return 0.0;
    if (x >= p[1])
        return 1.0;
    return (x - p[0]) / (p[1] - p[0]);
}

static double cdf_normal(double x, const double *p)
{
    return 0.5 * erfc(-(x - p[0]) / (p[1] * sqrt(2.0)));
}

static double cdf_pareto(double x, const double *p)
{
    return x < p[0] ? 0.0 : 1.0 - pow(p[0] / x, p[1]);
}

static void test_kolmogorov_smirnov(void)
{
    double x[N_KS];
    fault_rng r;
    double dstat;

    fault_rng_seed(&r, 1000);
    const double up[] = {5.0, 20.0};
    fault_distribution u = {.kind = FAULT_DIST_UNIFORM, .min = up[0], .max = up[1]};
    for (int i = 0; i < N_KS; i++)
        x[i] = fault_distribution_sample(&u, &r);
    dstat = ks_statistic(x, N_KS, cdf_uniform, up);
    CHECK(dstat < KS_CRIT);
    printf("KS uniform D = %.4f (critical %.4f)\n", dstat, KS_CRIT);

    fault_rng_seed(&r, 1001);
    const double np[] = {10.0, 3.0};
    for (int i = 0; i < N_KS; i++)
        x[i] = fault_rng_normal(&r, np[0], np[1]);
    dstat = ks_statistic(x, N_KS, cdf_normal, np);
    CHECK(dstat < KS_CRIT);
    printf("KS normal D = %.4f (critical %.4f)\n", dstat, KS_CRIT);

    fault_rng_seed(&r, 1002);
    const double pp[] = {3.0, 1.5};
    for (int i = 0; i < N_KS; i++)
        x[i] = fault_rng_pareto(&r, pp[0], pp[1]);
    dstat = ks_statistic(x, N_KS, cdf_pareto, pp);
    CHECK(dstat < KS_CRIT);
    printf("KS pareto D = %.4f (critical %.4f)\n", dstat, KS_CRIT);

    /* The test must also be able to fail: normal draws are not uniform on
     * [mean - 3 sd, mean + 3 sd], and the statistic says so. */
    fault_rng_seed(&r, 1003);
    const double wrong[] = {1.0, 19.0};
    for (int i = 0; i < N_KS; i++)
        x[i] = fault_rng_normal(&r, 10.0, 3.0);
    CHECK(ks_statistic(x, N_KS, cdf_uniform, wrong) > KS_CRIT);
}

static void test_check(void)
{
    char err[128];
    fault_distribution d;

    d = (fault_distribution){.kind = FAULT_DIST_NORMAL, .mean = 300, .stddev = 40};
    CHECK_EQ_INT(fault_distribution_check(&d, err, sizeof err), 0);
    d.stddev = -1;
    CHECK_EQ_INT(fault_distribution_check(&d, err, sizeof err), -EINVAL);
    CHECK_CONTAINS(err, "stddev must be >= 0");
    d.stddev = NAN;
    CHECK_EQ_INT(fault_distribution_check(&d, err, sizeof err), -EINVAL);
    CHECK_CONTAINS(err, "stddev");
    d = (fault_distribution){.kind = FAULT_DIST_NORMAL, .mean = -5, .stddev = 1};
    CHECK_EQ_INT(fault_distribution_check(&d, err, sizeof err), -EINVAL);
    CHECK_CONTAINS(err, "mean");

    d = (fault_distribution){.kind = FAULT_DIST_UNIFORM, .min = 300, .max = 500};
    CHECK_EQ_INT(fault_distribution_check(&d, err, sizeof err), 0);
    d.max = 200;
    CHECK_EQ_INT(fault_distribution_check(&d, err, sizeof err), -EINVAL);
    CHECK_CONTAINS(err, "max must be >= min");
    d = (fault_distribution){.kind = FAULT_DIST_UNIFORM, .min = -1, .max = 5};
    CHECK_EQ_INT(fault_distribution_check(&d, err, sizeof err), -EINVAL);
    CHECK_CONTAINS(err, "min");
    d = (fault_distribution){.kind = FAULT_DIST_UNIFORM, .min = 0, .max = INFINITY};
    CHECK_EQ_INT(fault_distribution_check(&d, err, sizeof err), -EINVAL);
    CHECK_CONTAINS(err, "max");

    d = (fault_distribution){.kind = FAULT_DIST_PARETO, .scale = 20, .shape = 1.5};
    CHECK_EQ_INT(fault_distribution_check(&d, err, sizeof err), 0);
    d.shape = 0;
    CHECK_EQ_INT(fault_distribution_check(&d, err, sizeof err), -EINVAL);
    CHECK_CONTAINS(err, "shape must be > 0");
    d = (fault_distribution){.kind = FAULT_DIST_PARETO, .scale = 0, .shape = 1.5};
    CHECK_EQ_INT(fault_distribution_check(&d, err, sizeof err), -EINVAL);
    CHECK_CONTAINS(err, "scale must be > 0");

    /* Pareto-normal needs both halves valid. */
    d = (fault_distribution){
        .kind = FAULT_DIST_PARETO_NORMAL, .mean = 50, .stddev = 15, .scale = 20, .shape = 1.5};
    CHECK_EQ_INT(fault_distribution_check(&d, err, sizeof err), 0);
    d.shape = -2;
    CHECK_EQ_INT(fault_distribution_check(&d, err, sizeof err), -EINVAL);
    CHECK_CONTAINS(err, "shape");
    d.shape = 1.5;
    d.stddev = -3;
    CHECK_EQ_INT(fault_distribution_check(&d, err, sizeof err), -EINVAL);
    CHECK_CONTAINS(err, "stddev");

    d = (fault_distribution){.kind = (fault_dist_kind)99};
    CHECK_EQ_INT(fault_distribution_check(&d, err, sizeof err), -EINVAL);
    CHECK_CONTAINS(err, "kind");

    /* A missing error buffer is allowed. */
    CHECK_EQ_INT(fault_distribution_check(&d, NULL, 0), -EINVAL);
}

int main(void)
{
    test_known_answer();
    test_determinism();
    test_uniform01();
    test_normal_moments();
    test_uniform_distribution();
    test_pareto();
    test_pareto_normal_and_clamp();
    test_bernoulli();
    test_kolmogorov_smirnov();
    test_check();
    return check_done();
}
