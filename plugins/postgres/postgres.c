/*
 * plugins/postgres/postgres.c - the PostgreSQL protocol handler: psql:// and
 * psqls:// mappings (above the tcp plugin, which relays them as bytes when
 * this plugin is absent), and the database cases as its own options.
 *
 * The cases are options of the handler rather than a separate fault
 * plugin because they need the handler's view of the protocol (which
 * statement a result belongs to, where a transaction ends); a stream fault
 * only sees bytes. They take effect on every psql:// mapping of the run,
 * follow --pg-sched like any fault's schedule, and draw from the plugin's
 * generator (--seed). `fault run db pg --case X --latency-mean M ...` maps
 * onto --pg-case X --pg-latency-mean M ...:
 *
 *   --pg-case slow-query       results of matching statements held back
 *                              for a delay drawn from --pg-latency-*
 *   --pg-case error-injection  an ErrorResponse with --pg-error-code
 *                              instead of running the statement
 *   --pg-case deadlock         40P01 at --pg-deadlock-rate
 *   --pg-case conn-reset       reset mid-result, or right after a COMMIT
 *                              succeeded (--pg-reset-at)
 *   --pg-case timeout          the result held (--pg-timeout-hold, or
 *                              until the client gives up)
 *   --pg-case data-corruption  rows of matching results get one text
 *                              value altered, same length and still valid
 *                              for its type (--pg-corruption-rate)
 *   --pg-case stale-reads      a matching SELECT answered with the result
 *                              it had last time, as a lagging replica or
 *                              cache would
 *   --pg-case failover         when the case turns on (at once, or at the
 *                              start of each --pg-sched window): every
 *                              session gets FATAL 57P01 and is closed, new
 *                              connections are refused with FATAL 57P03
 *                              for --pg-failover-refuse, then writes fail
 *                              with 25006 for --pg-failover-read-only, as
 *                              while a standby is promoted
 *
 * --pg-statement (a PCRE2 pattern on the SQL text) picks the statements;
 * --pg-probability is the chance for each matching statement (the
 * deadlock case uses --pg-deadlock-rate instead; failover ignores both,
 * except that only matching writes get 25006). Ordinary stream faults
 * (--with-latency, ...) apply to psql:// traffic as to any other.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "pgtls.h"

static const char *const schemes[] = {"psql", "psqls", NULL};
static const char *const dist_choices[] = {"uniform", "normal", "pareto",
                                           "pareto-normal|paretonormal|pareto_normal", NULL};
static const char *const reset_choices[] = {"result", "commit", NULL};

#define OFF(f) offsetof(pg_state, f)

static const fault_option options[] = {
    {.name = "pg-case",
     .env = "FAULT_PG_CASE",
     .type = FAULT_OPT_LIST,
     .metavar = "CASE",
     .help = "Database case on psql:// mappings: slow-query, error-injection, conn-reset, "
             "timeout, deadlock, data-corruption, stale-reads or failover (repeatable)",
     .offset = OFF(case_names)},
    {.name = "pg-statement",
     .env = "FAULT_PG_STATEMENT",
     .type = FAULT_OPT_STRING,
     .metavar = "REGEX",
     .help = "PCRE2 pattern on the SQL text picking the statements cases act on (default: all)",
     .offset = OFF(pattern)},
    {.name = "pg-probability",
     .env = "FAULT_PG_PROBABILITY",
     .type = FAULT_OPT_PROBABILITY,
     .def = "1",
     .metavar = "P",
     .help = "Chance that a case acts on a matching statement",
     .offset = OFF(probability)},
    {.name = "pg-deadlock-rate",
     .env = "FAULT_PG_DEADLOCK_RATE",
     .type = FAULT_OPT_PROBABILITY,
     .def = "0.1",
     .metavar = "P",
     .help = "Chance of 40P01 on a matching statement (deadlock)",
     .offset = OFF(deadlock_rate)},
    {.name = "pg-corruption-rate",
     .env = "FAULT_PG_CORRUPTION_RATE",
     .type = FAULT_OPT_PROBABILITY,
     .def = "0.1",
     .metavar = "P",
     .help = "data-corruption: chance that a row of a matching result has one value altered",
     .offset = OFF(corruption_rate)},
    {.name = "pg-error-code",
     .env = "FAULT_PG_ERROR_CODE",
     .type = FAULT_OPT_STRING,
     .def = "40001",
     .metavar = "SQLSTATE",
     .help = "SQLSTATE of injected errors (57P01, 53300, 57P02, 57P03 are FATAL: the "
             "connection closes)",
     .offset = OFF(error_code)},
    {.name = "pg-error-message",
     .env = "FAULT_PG_ERROR_MESSAGE",
     .type = FAULT_OPT_STRING,
     .metavar = "TEXT",
     .help = "Message of injected errors (default: the server's usual text)",
     .offset = OFF(error_message)},
    {.name = "pg-reset-at",
     .env = "FAULT_PG_RESET_AT",
     .type = FAULT_OPT_ENUM,
     .def = "result",
     .choices = reset_choices,
     .metavar = "WHEN",
     .help = "conn-reset: mid-result (after the first row) or right after a COMMIT succeeded",
     .offset = OFF(reset_at)},
    {.name = "pg-timeout-hold",
     .env = "FAULT_PG_TIMEOUT_HOLD",
     .type = FAULT_OPT_DURATION,
     .def = "0",
     .metavar = "DURATION",
     .help = "timeout: how long results are held (0: until the client gives up)",
     .offset = OFF(timeout_hold_us)},
    {.name = "pg-latency-distribution",
     .env = "FAULT_PG_LATENCY_DISTRIBUTION",
     .type = FAULT_OPT_ENUM,
     .def = "normal",
     .choices = dist_choices,
     .metavar = "DIST",
     .help = "slow-query: distribution of the delays",
     .offset = OFF(distribution)},
    {.name = "pg-latency-mean",
     .env = "FAULT_PG_LATENCY_MEAN",
     .type = FAULT_OPT_DOUBLE,
     .def = "1000",
     .metavar = "MS",
     .help = "slow-query: mean delay in ms (normal, pareto-normal)",
     .offset = OFF(mean),
     .min = 0,
     .max = 3.6e6},
    {.name = "pg-latency-stddev",
     .env = "FAULT_PG_LATENCY_STDDEV",
     .type = FAULT_OPT_DOUBLE,
     .def = "0",
     .metavar = "MS",
     .help = "slow-query: standard deviation in ms",
     .offset = OFF(stddev),
     .min = 0,
     .max = 3.6e6},
    {.name = "pg-latency-shape",
     .env = "FAULT_PG_LATENCY_SHAPE",
     .type = FAULT_OPT_DOUBLE,
     .def = "1.5",
     .metavar = "NUM",
     .help = "slow-query: shape of the tail (pareto)",
     .offset = OFF(shape),
     .min = 0,
     .max = 1e6},
    {.name = "pg-latency-scale",
     .env = "FAULT_PG_LATENCY_SCALE",
     .type = FAULT_OPT_DOUBLE,
     .def = "100",
     .metavar = "MS",
     .help = "slow-query: scale in ms (pareto)",
     .offset = OFF(scale),
     .min = 0,
     .max = 3.6e6},
    {.name = "pg-latency-min",
     .env = "FAULT_PG_LATENCY_MIN",
     .type = FAULT_OPT_DOUBLE,
     .def = "0",
     .metavar = "MS",
     .help = "slow-query: smallest delay in ms (uniform)",
     .offset = OFF(min),
     .min = 0,
     .max = 3.6e6},
    {.name = "pg-latency-max",
     .env = "FAULT_PG_LATENCY_MAX",
     .type = FAULT_OPT_DOUBLE,
     .def = "2000",
     .metavar = "MS",
     .help = "slow-query: largest delay in ms (uniform)",
     .offset = OFF(max),
     .min = 0,
     .max = 3.6e6},
    {.name = "pg-sched",
     .env = "FAULT_PG_SCHED",
     .type = FAULT_OPT_SCHEDULE,
     .help = "When the database cases act, e.g. \"start:10s,duration:30s\"",
     .offset = OFF(sched)},
    {.name = "pg-failover-refuse",
     .env = "FAULT_PG_FAILOVER_REFUSE",
     .type = FAULT_OPT_DURATION,
     .def = "5s",
     .metavar = "DURATION",
     .help = "failover: how long new connections are refused (FATAL 57P03) after every session "
             "was terminated",
     .offset = OFF(fo_refuse_us)},
    {.name = "pg-failover-read-only",
     .env = "FAULT_PG_FAILOVER_READ_ONLY",
     .type = FAULT_OPT_DURATION,
     .def = "10s",
     .metavar = "DURATION",
     .help = "failover: how long writes then fail with 25006 (read-only transaction)",
     .offset = OFF(fo_read_only_us)},
    {.name = "pg-tls-sni",
     .env = "FAULT_PG_TLS_SNI",
     .type = FAULT_OPT_STRING,
     .metavar = "NAME",
     .help = "psqls://: server name to send and verify (default: the host)",
     .offset = OFF(tls_sni)},
    {.name = "pg-tls-ca",
     .env = "FAULT_PG_TLS_CA",
     .type = FAULT_OPT_STRING,
     .metavar = "FILE",
     .help = "psqls://: CA certificates (PEM) to verify servers with (default: the system store)",
     .offset = OFF(tls_ca)},
    {.name = "pg-tls-insecure",
     .env = "FAULT_PG_TLS_INSECURE",
     .type = FAULT_OPT_BOOL,
     .help = "psqls://: do not verify the server's certificate",
     .offset = OFF(tls_insecure)},
    FAULT_OPTION_END};

static const struct {
    const char *name;
    uint32_t bit;
} case_table[] = {
    {"slow-query", PG_CASE_SLOW},   {"error-injection", PG_CASE_ERROR},
    {"conn-reset", PG_CASE_RESET},  {"timeout", PG_CASE_TIMEOUT},
    {"deadlock", PG_CASE_DEADLOCK}, {"data-corruption", PG_CASE_CORRUPT},
    {"stale-reads", PG_CASE_STALE}, {"failover", PG_CASE_FAILOVER},
};

/* What a server says for the codes people inject most; the text is what
 * clients log, so it should look like the real thing. */
const char *pg_default_message(const char *code)
{
    static const struct {
        const char *code, *msg;
    } t[] = {
        {"40001", "could not serialize access due to concurrent update"},
        {"40P01", "deadlock detected"},
        {"55P03", "could not obtain lock on row in relation"},
        {"57014", "canceling statement due to statement timeout"},
        {"25006", "cannot execute statement in a read-only transaction"},
        {"53300", "sorry, too many clients already"},
        {"57P01", "terminating connection due to administrator command"},
        {"57P02", "terminating connection because of crash of another server process"},
        {"57P03", "the database system is not accepting connections"},
        {"23505", "duplicate key value violates unique constraint"},
        {"53200", "out of memory"},
        {"08006", "connection failure"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(t[i].code, code) == 0)
            return t[i].msg;
    return "injected error";
}

static int configure(fault_plugin *self, void *state)
{
    pg_state *st = state;
    st->self = self;
    st->cases = 0;
    for (size_t i = 0; i < st->case_names.n; i++) {
        const char *name = st->case_names.v[i];
        uint32_t bit = 0;
        for (size_t k = 0; k < sizeof case_table / sizeof case_table[0]; k++)
            if (strcmp(case_table[k].name, name) == 0)
                bit = case_table[k].bit;
        if (!bit) {
            fault_plugin_error(self,
                               "--pg-case: unknown case '%s' (expected slow-query, "
                               "error-injection, conn-reset, timeout, deadlock, "
                               "data-corruption, stale-reads or failover)",
                               name);
            return FAULT_EINVAL;
        }
        st->cases |= bit;
    }
    if (!pg_sqlstate_valid(st->error_code)) {
        fault_plugin_error(self,
                           "--pg-error-code: '%s' is not a SQLSTATE (five digits or "
                           "upper-case letters, e.g. 40001)",
                           st->error_code ? st->error_code : "");
        return FAULT_EINVAL;
    }
    st->error_fatal = strcmp(st->error_code, "57P01") == 0 ||
                      strcmp(st->error_code, "57P02") == 0 ||
                      strcmp(st->error_code, "57P03") == 0 || strcmp(st->error_code, "53300") == 0;
    if (st->error_message && strlen(st->error_message) > 1000) {
        fault_plugin_error(self, "--pg-error-message: longer than 1000 bytes");
        return FAULT_EINVAL;
    }
    fault_distribution *d = &st->dist;
    d->kind = (fault_dist_kind)st->distribution;
    d->mean = st->mean;
    d->stddev = st->stddev;
    d->shape = st->shape;
    d->scale = st->scale;
    d->min = st->min;
    d->max = st->max;
    char err[256];
    if (fault_distribution_check(d, err, sizeof err) != 0) {
        fault_plugin_error(self, "--pg-latency-*: %s", err);
        return FAULT_EINVAL;
    }
    if (pg_tls_ctx_new(st->tls_ca, !st->tls_insecure, &st->tls, err, sizeof err) < 0) {
        fault_plugin_error(self, "--pg-tls-ca: %s", err);
        return FAULT_EINVAL;
    }
    if (st->pattern) {
        int code;
        PCRE2_SIZE at;
        st->re = pcre2_compile((PCRE2_SPTR)st->pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code,
                               &at, NULL);
        if (!st->re) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(code, msg, sizeof msg);
            fault_plugin_error(self, "--pg-statement: '%s': %s at offset %zu", st->pattern,
                               (const char *)msg, (size_t)at);
            return FAULT_EINVAL;
        }
        (void)pcre2_jit_compile(st->re, PCRE2_JIT_COMPLETE);
        st->md = pcre2_match_data_create_from_pattern(st->re, NULL);
        if (!st->md)
            return FAULT_ENOMEM;
    }
    return 0;
}

const pg_stale *pg_stale_get(pg_state *st, const char *sql, size_t len)
{
    for (size_t i = 0; i < PG_STALE_ENTRIES; i++) {
        pg_stale *e = &st->stale[i];
        if (e->sql && e->sqllen == len && memcmp(e->sql, sql, len) == 0)
            return e;
    }
    return NULL;
}

void pg_stale_put(pg_state *st, const char *sql, size_t len, const uint8_t *bytes, size_t n)
{
    pg_stale *e = (pg_stale *)pg_stale_get(st, sql, len);
    if (!e) {
        e = &st->stale[0];
        for (size_t i = 1; i < PG_STALE_ENTRIES && e->sql; i++)
            if (!st->stale[i].sql || st->stale[i].stamp < e->stamp)
                e = &st->stale[i];
        free(e->sql);
        e->sql = malloc(len ? len : 1);
        if (!e->sql) {
            free(e->bytes);
            memset(e, 0, sizeof *e);
            return;
        }
        memcpy(e->sql, sql, len);
        e->sqllen = len;
    }
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy)
        return;
    memcpy(copy, bytes, n);
    free(e->bytes);
    e->bytes = copy;
    e->len = n;
    e->stamp = ++st->stale_clock;
}

bool pg_statement_matches(pg_state *st, const char *sql, size_t len)
{
    if (!st->re)
        return true;
    /* PCRE2_NO_UTF_CHECK is not given: statements are client bytes, and an
     * invalid UTF-8 text simply does not match. */
    return pcre2_match(st->re, (PCRE2_SPTR)sql, len, 0, 0, st->md, NULL) >= 0;
}

pg_fo_phase pg_failover_phase(const pg_state *st)
{
    if (!st->fo_at)
        return PG_FO_NONE;
    uint64_t since = fault_now_us() - st->fo_at;
    if (since < st->fo_refuse_us)
        return PG_FO_REFUSING;
    if (since - st->fo_refuse_us < st->fo_read_only_us)
        return PG_FO_READ_ONLY;
    return PG_FO_NONE;
}

/* failover: the case's schedule is polled; each time it turns on, the
 * primary "goes away". */
#define FO_POLL_US 20000
static void failover_poll(fault_timer *t, void *ud)
{
    pg_state *st = ud;
    if (st->stopping)
        return;
    bool active = fault_plugin_active(st->self);
    if (active && !st->fo_was_active) {
        st->fo_at = fault_now_us();
        if (!st->fo_at)
            st->fo_at = 1;
        fault_log_info(st->self,
                       "failover: every session terminated (57P01); new connections refused "
                       "for %.3f s, then writes fail (25006) for %.3f s",
                       (double)st->fo_refuse_us / 1e6, (double)st->fo_read_only_us / 1e6);
        pg_session_failover_all(st);
    }
    st->fo_was_active = active;
    fault_timer_start(t, FO_POLL_US);
}

static char *copy(const char *s)
{
    return strdup(s ? s : "");
}

static int add_mapping(void *state, const fault_mapping *m, char *err, size_t errlen)
{
    pg_state *st = state;
    for (size_t i = 0; i < st->nmaps; i++) {
        if (st->maps[i].listen_port == m->listen_port &&
            strcmp(st->maps[i].listen_host, m->listen_host) == 0) {
            snprintf(err, errlen, "port %u is already mapped by '%s'", m->listen_port,
                     st->maps[i].text);
            return FAULT_EINVAL;
        }
    }
    pg_mapping *nm = realloc(st->maps, (st->nmaps + 1) * sizeof *nm);
    if (!nm)
        return FAULT_ENOMEM;
    st->maps = nm;
    pg_mapping *mp = &st->maps[st->nmaps];
    memset(mp, 0, sizeof *mp);
    mp->text = copy(m->text);
    mp->listen_host = copy(m->listen_host);
    mp->host = copy(m->host);
    if (!mp->text || !mp->listen_host || !mp->host) {
        free(mp->text);
        free(mp->listen_host);
        free(mp->host);
        return FAULT_ENOMEM;
    }
    st->nmaps++;
    mp->listen_port = m->listen_port;
    mp->port = m->port;
    mp->tls = m->tls;
    bool v6 = strchr(m->host, ':') != NULL;
    snprintf(mp->target, sizeof mp->target, "%s%s%s:%u", v6 ? "[" : "", m->host, v6 ? "]" : "",
             m->port);
    return 0;
}

static void on_accept(fault_listener *l, fault_conn *c, void *ud)
{
    (void)l;
    pg_session_accept(ud, c);
}

static int start(fault_plugin *self, void *state)
{
    pg_state *st = state;
    st->self = self;
    for (size_t i = 0; i < st->nmaps; i++) {
        pg_mapping *mp = &st->maps[i];
        mp->st = st;
        int rc = fault_listen(self, mp->listen_host, mp->listen_port, on_accept, mp, &mp->listener);
        if (rc < 0) {
            fault_plugin_error(self, "--proxy '%s': cannot listen on %s port %u: %s", mp->text,
                               mp->listen_host, mp->listen_port, fault_strerror(rc));
            return rc;
        }
        fault_event ev = {.type = FAULT_EV_LISTENING, .size = sizeof ev};
        ev.peer = fault_listener_address(mp->listener);
        ev.target = mp->target;
        fault_event_publish(self, &ev);
        fault_log_info(self, "listening on %s -> %s (PostgreSQL%s)", ev.peer, mp->target,
                       mp->tls ? ", TLS to upstream" : "");
    }
    if (st->cases & PG_CASE_FAILOVER) {
        int rc = fault_timer_new(self, failover_poll, st, &st->fo_timer);
        if (rc < 0)
            return rc;
        failover_poll(st->fo_timer, st);
    }
    return 0;
}

static void stop(fault_plugin *self, void *state)
{
    (void)self;
    pg_state *st = state;
    st->stopping = true;
    fault_timer_free(st->fo_timer);
    st->fo_timer = NULL;
    for (size_t i = 0; i < st->nmaps; i++)
        st->maps[i].listener = NULL; /* the core closes listeners at stop */
    pg_session_stop_all(st);
}

static void destroy(fault_plugin *self, void *state)
{
    (void)self;
    pg_state *st = state;
    for (size_t i = 0; i < st->nmaps; i++) {
        free(st->maps[i].text);
        free(st->maps[i].listen_host);
        free(st->maps[i].host);
    }
    free(st->maps);
    st->maps = NULL;
    st->nmaps = 0;
    pg_tls_ctx_free(st->tls);
    st->tls = NULL;
    for (size_t i = 0; i < PG_STALE_ENTRIES; i++) {
        free(st->stale[i].sql);
        free(st->stale[i].bytes);
    }
    memset(st->stale, 0, sizeof st->stale);
    pcre2_match_data_free(st->md);
    pcre2_code_free(st->re);
    st->md = NULL;
    st->re = NULL;
}

static const fault_protocol_ops protocol = {
    .schemes = schemes,
    .priority = 10,
    .add_mapping = add_mapping,
};

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_PROTOCOL, .name = "postgres", .version = PACKAGE_VERSION,
                    .summary = "PostgreSQL protocol handler (psql://, psqls://) and database cases",
                    .license = "Apache-2.0", .options = options, .state_size = sizeof(pg_state),
                    .configure = configure, .start = start, .stop = stop, .destroy = destroy,
                    .protocol = &protocol);
