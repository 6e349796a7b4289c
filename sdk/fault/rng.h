/*
 * fault/rng.h - reproducible randomness and the distributions faults draw from.
 *
 * Every plugin instance owns one generator (fault_plugin_rng()), seeded from
 * the run's `--seed` and the plugin's name, so one plugin's draws do not
 * shift another's: the same seed and the same traffic give the same sequence
 * of fault decisions. Plugins may also keep their own generators (one per
 * connection, say) seeded from fault_rng_u64() of the plugin generator.
 *
 * The generator is xoshiro256** seeded through splitmix64. It is not
 * cryptographic and not thread safe: use it on the loop thread.
 */
#ifndef FAULT_RNG_H
#define FAULT_RNG_H

#include <fault/common.h>

FAULT_BEGIN_DECLS

/* Public so plugins may embed one; treat the fields as private. */
typedef struct fault_rng {
    uint64_t s[4];
} fault_rng;

FAULT_API void fault_rng_seed(fault_rng *rng, uint64_t seed);
FAULT_API uint64_t fault_rng_u64(fault_rng *rng);
/* Uniform in [0, 1). */
FAULT_API double fault_rng_uniform(fault_rng *rng);
/* Standard normal draw scaled: mean + stddev * N(0, 1). */
FAULT_API double fault_rng_normal(fault_rng *rng, double mean, double stddev);
/* Pareto type I: scale / U^(1/shape); never below scale. */
FAULT_API double fault_rng_pareto(fault_rng *rng, double scale, double shape);
/* True with probability p (p <= 0 never, p >= 1 always). */
FAULT_API bool fault_rng_bernoulli(fault_rng *rng, double p);

/* The latency distributions of `--latency-distribution`. */
typedef enum fault_dist_kind {
    FAULT_DIST_UNIFORM = 0,      /* min..max */
    FAULT_DIST_NORMAL = 1,       /* mean, stddev */
    FAULT_DIST_PARETO = 2,       /* scale, shape */
    FAULT_DIST_PARETO_NORMAL = 3 /* normal(mean, stddev) + the excess of a
                                  * pareto(scale, shape) draw over its scale */
} fault_dist_kind;

typedef struct fault_distribution {
    fault_dist_kind kind;
    double mean, stddev; /* NORMAL, PARETO_NORMAL */
    double min, max;     /* UNIFORM */
    double scale, shape; /* PARETO, PARETO_NORMAL */
} fault_distribution;

/* One draw, in the distribution's unit (milliseconds for latency), clamped
 * at 0 so a delay is never negative. */
FAULT_API double fault_distribution_sample(const fault_distribution *d, fault_rng *rng);

/* Checks parameters (stddev >= 0, min <= max, shape > 0, ...). Returns 0, or
 * FAULT_EINVAL with a message naming the offending parameter in err. */
FAULT_API int fault_distribution_check(const fault_distribution *d, char *err, size_t errlen);

FAULT_END_DECLS

#endif /* FAULT_RNG_H */
