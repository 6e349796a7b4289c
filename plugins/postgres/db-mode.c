/*
 * plugins/postgres/db-mode.c - `fault run db pg`: the original tool's
 * command line for database faults, as a mode of `fault run` (SDK 1.3 run
 * modes) over the PostgreSQL handler (postgres.c).
 *
 *   fault run db pg --proxy 6432=psql://127.0.0.1:5432 --case deadlock \
 *       --deadlock-rate 0.2
 *
 * The mode's flags are shorthands for the handler's: --case X is
 * --pg-case X (repeatable), --latency-mean, --error-code, --deadlock-rate,
 * --corruption-rate and --probability are --pg-latency-mean, ...; the
 * handler's own --pg-* options and run's apply as given. Its listeners are
 * the user's psql:// and psqls:// mappings. mysql and mongo are named by
 * the original's command line but not implemented: they are refused with
 * exit status 2. The forward proxy on 127.0.0.1:3180 is not started.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <fault/plugin.h>

typedef struct mode_state {
    fault_strv cases;
    const char *latency_mean, *error_code, *deadlock_rate, *corruption_rate, *probability;
} mode_state;

#define OFF(f) offsetof(mode_state, f)

static const fault_option options[] = {
    {.name = "case",
     .env = "FAULT_DB_CASE",
     .type = FAULT_OPT_LIST,
     .metavar = "CASE",
     .help = "slow-query, error-injection, conn-reset, data-corruption, stale-reads, timeout, "
             "deadlock or failover (repeatable)",
     .offset = OFF(cases)},
    {.name = "latency-mean",
     .env = "FAULT_DB_LATENCY_MEAN",
     .type = FAULT_OPT_STRING,
     .metavar = "MS",
     .help = "slow-query: mean delay in ms (--pg-latency-mean)",
     .offset = OFF(latency_mean)},
    {.name = "error-code",
     .env = "FAULT_DB_ERROR_CODE",
     .type = FAULT_OPT_STRING,
     .metavar = "SQLSTATE",
     .help = "error-injection: the SQLSTATE (--pg-error-code)",
     .offset = OFF(error_code)},
    {.name = "deadlock-rate",
     .env = "FAULT_DB_DEADLOCK_RATE",
     .type = FAULT_OPT_STRING,
     .metavar = "P",
     .help = "deadlock: share of matching statements (--pg-deadlock-rate)",
     .offset = OFF(deadlock_rate)},
    {.name = "corruption-rate",
     .env = "FAULT_DB_CORRUPTION_RATE",
     .type = FAULT_OPT_STRING,
     .metavar = "P",
     .help = "data-corruption: share of rows (--pg-corruption-rate)",
     .offset = OFF(corruption_rate)},
    {.name = "probability",
     .env = "FAULT_DB_PROBABILITY",
     .type = FAULT_OPT_STRING,
     .metavar = "P",
     .help = "Share of matching statements faulted (--pg-probability)",
     .offset = OFF(probability)},
    FAULT_OPTION_END};

static int set(fault_plugin *self, const char *name, const char *value)
{
    char err[200];
    int rc = fault_run_set_option(self, name, value, err, sizeof err);
    if (rc < 0 && rc != FAULT_ESYNTAX)
        fault_plugin_error(self, "%s (is the postgres plugin installed?)", err);
    return rc;
}

static int select_mode(fault_plugin *self, void *state, int argc, char **argv)
{
    mode_state *st = state;
    if (argc != 1) {
        fault_plugin_error(self, "%s: give the database: pg",
                           argc ? "too many words" : "no database");
        return FAULT_EINVAL;
    }
    if (strcmp(argv[0], "mysql") == 0 || strcmp(argv[0], "mongo") == 0) {
        fault_plugin_error(self,
                           "'%s' is not supported yet (only pg: the PostgreSQL wire "
                           "protocol)",
                           argv[0]);
        return FAULT_ENOTSUP;
    }
    if (strcmp(argv[0], "pg") != 0 && strcmp(argv[0], "postgres") != 0 &&
        strcmp(argv[0], "postgresql") != 0) {
        fault_plugin_error(self, "unknown database '%s' (pg)", argv[0]);
        return FAULT_EINVAL;
    }
    static const struct {
        size_t off;
        const char *target;
    } maps[] = {
        {OFF(latency_mean), "pg-latency-mean"},   {OFF(error_code), "pg-error-code"},
        {OFF(deadlock_rate), "pg-deadlock-rate"}, {OFF(corruption_rate), "pg-corruption-rate"},
        {OFF(probability), "pg-probability"},
    };
    int rc;
    for (size_t i = 0; i < st->cases.n; i++)
        if ((rc = set(self, "pg-case", st->cases.v[i])) < 0)
            return rc;
    for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++) {
        const char *v = *(const char *const *)((const char *)st + maps[i].off);
        if (v && (rc = set(self, maps[i].target, v)) < 0)
            return rc;
    }
    return set(self, "disable-http-proxy", "true");
}

static const fault_run_mode_ops mode_ops = {
    .word = "db",
    .summary = "Database faults at the PostgreSQL protocol level (give psql:// mappings)",
    .usage = "db pg",
    .select = select_mode,
};

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "db-mode", .version = PACKAGE_VERSION,
                    .summary = "fault run db pg (over the postgres plugin)",
                    .license = "Apache-2.0", .options = options, .state_size = sizeof(mode_state),
                    .run_mode = &mode_ops);
