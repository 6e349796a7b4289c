/*
 * core/rng.c - the reproducible random numbers behind every fault decision,
 * and the latency distributions built on them (see <fault/rng.h>).
 *
 * The generator is xoshiro256** (Blackman and Vigna), seeded by running
 * splitmix64 over the 64-bit seed so that nearby seeds (0, 1, 2, ...) still
 * give unrelated streams and the state can never be all zero. Only the
 * C library is used, so the unit tests and fuzzers can build this file alone.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include <fault/rng.h>

/* Advances a splitmix64 state and returns its next output. */
static uint64_t splitmix64_next(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void fault_rng_seed(fault_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64_next(&x);
    /* splitmix64 is a bijection over successive counter values, so four
     * consecutive outputs cannot all be zero; this guard only documents
     * the invariant xoshiro relies on. */
    if ((rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3]) == 0)
        rng->s[0] = 1;
}

uint64_t fault_rng_u64(fault_rng *rng)
{
    uint64_t *s = rng->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double fault_rng_uniform(fault_rng *rng)
{
    /* The top 53 bits fill a double's mantissa exactly, so every value is
     * a multiple of 2^-53 in [0, 1) and 1.0 itself is never returned. */
    return (double)(fault_rng_u64(rng) >> 11) * 0x1.0p-53;
}

double fault_rng_normal(fault_rng *rng, double mean, double stddev)
{
    /* Marsaglia's polar method. It yields two independent deviates per
     * accepted pair; the second is dropped because fault_rng has no room to
     * keep it, and a cached spare would also make a draw depend on whether
     * the previous call happened to be a normal one. */
    double u, v, s;
    do {
        u = 2.0 * fault_rng_uniform(rng) - 1.0;
        v = 2.0 * fault_rng_uniform(rng) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    return mean + stddev * u * sqrt(-2.0 * log(s) / s);
}

double fault_rng_pareto(fault_rng *rng, double scale, double shape)
{
    /* Without a positive shape there is no distribution; returning the
     * scale keeps the "never below scale" promise instead of producing a
     * NaN or infinity for a caller that skipped fault_distribution_check(). */
    if (!(shape > 0.0))
        return scale;
    /* Inverse transform with U in (0, 1], so U^(1/shape) is never zero and
     * the smallest draw is exactly the scale. */
    double u = 1.0 - fault_rng_uniform(rng);
    return scale / pow(u, 1.0 / shape);
}

bool fault_rng_bernoulli(fault_rng *rng, double p)
{
    /* Written so that NaN counts as "never" rather than consuming a draw. */
    if (!(p > 0.0))
        return false;
    if (p >= 1.0)
        return true;
    return fault_rng_uniform(rng) < p;
}

double fault_distribution_sample(const fault_distribution *d, fault_rng *rng)
{
    double x;
    switch (d->kind) {
    case FAULT_DIST_UNIFORM:
        x = d->min + (d->max - d->min) * fault_rng_uniform(rng);
        break;
    case FAULT_DIST_NORMAL:
        x = fault_rng_normal(rng, d->mean, d->stddev);
        break;
    case FAULT_DIST_PARETO:
        x = fault_rng_pareto(rng, d->scale, d->shape);
        break;
    case FAULT_DIST_PARETO_NORMAL:
        /* The normal part is the base delay; the Pareto part only adds its
         * excess over the scale, so the tail starts at the normal value. */
        x = fault_rng_normal(rng, d->mean, d->stddev);
        x += fault_rng_pareto(rng, d->scale, d->shape) - d->scale;
        break;
    default:
        x = 0.0;
        break;
    }
    /* A delay is never negative, and a NaN (from unchecked parameters)
     * becomes no delay. An infinite heavy-tail draw is kept finite so that
     * callers only need to saturate when converting to an integer. */
    if (!(x > 0.0))
        return 0.0;
    if (x > DBL_MAX)
        return DBL_MAX;
    return x;
}

FAULT_PRINTF(3, 4)
static int invalid(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return FAULT_EINVAL;
}

int fault_distribution_check(const fault_distribution *d, char *err, size_t errlen)
{
    /* The isfinite() tests come first so that NaN or infinity is reported
     * as such rather than slipping through comparisons that are all false. */
    switch (d->kind) {
    case FAULT_DIST_UNIFORM:
        if (!isfinite(d->min))
            return invalid(err, errlen, "min must be a finite number");
        if (!isfinite(d->max))
            return invalid(err, errlen, "max must be a finite number");
        if (d->min < 0.0)
            return invalid(err, errlen, "min must be >= 0 (got %g)", d->min);
        if (d->max < d->min)
            return invalid(err, errlen, "max must be >= min (got min %g, max %g)", d->min, d->max);
        return 0;
    case FAULT_DIST_NORMAL:
    case FAULT_DIST_PARETO_NORMAL:
        if (!isfinite(d->mean))
            return invalid(err, errlen, "mean must be a finite number");
        if (!isfinite(d->stddev))
            return invalid(err, errlen, "stddev must be a finite number");
        if (d->mean < 0.0)
            return invalid(err, errlen, "mean must be >= 0 (got %g)", d->mean);
        if (d->stddev < 0.0)
            return invalid(err, errlen, "stddev must be >= 0 (got %g)", d->stddev);
        if (d->kind == FAULT_DIST_NORMAL)
            return 0;
        /* The Pareto-normal mix also needs valid Pareto parameters. */
        /* fall through */
    case FAULT_DIST_PARETO:
        if (!isfinite(d->scale))
            return invalid(err, errlen, "scale must be a finite number");
        if (!isfinite(d->shape))
            return invalid(err, errlen, "shape must be a finite number");
        if (d->scale <= 0.0)
            return invalid(err, errlen, "scale must be > 0 (got %g)", d->scale);
        if (d->shape <= 0.0)
            return invalid(err, errlen, "shape must be > 0 (got %g)", d->shape);
        return 0;
    }
    return invalid(err, errlen, "unknown distribution kind %d", (int)d->kind);
}
