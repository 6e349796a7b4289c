/*
 * plugins/dns/dns.c - the dns fault: upstream names that do not resolve.
 *
 * When the proxy is about to connect to the upstream of a proxied
 * connection, the fault makes the resolution of the upstream's host name
 * fail with probability --dns-rate (0..1, default 0.5; FAULT_DNS_PROBABILITY).
 * The original documents that variable as a percentage (0-100) with a
 * default of 0.5 meant as one in two: a value above 1 is read as a
 * percentage (50 is one in two), up to 1 as a fraction.
 * The connection attempt then fails exactly as if the resolver had answered
 * "no such name": no socket is opened toward the upstream, and the client
 * gets what the proxy gives for an unresolvable name (a TCP mapping resets
 * the client's connection; an HTTP proxy answers 502).
 *
 * Precisely:
 *   - one independent Bernoulli draw per upstream connection attempt, i.e.
 *     per proxied connection on a TCP mapping, from the plugin's generator
 *     (reproducible with --seed);
 *   - only host names are subject to it: an IP literal upstream
 *     ("127.0.0.1", "::1") is never resolved, so a DNS failure cannot affect
 *     it, and such attempts neither fail nor consume a draw;
 *   - the decision is made before the real resolver is asked, so a failed
 *     attempt costs no DNS query;
 *   - it applies only while the fault is active (--dns-sched): outside its
 *     schedule every name resolves normally. Connections already
 *     established are never touched.
 *
 * Every failed resolution is published as a fault event with the host and
 * port (side=server direction=egress, the leg the proxy failed to open).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <fault/plugin.h>

typedef struct dns_state {
    bool enabled;
    double rate;
    fault_schedule *sched;
} dns_state;

#define OFF(f) offsetof(dns_state, f)

static const fault_option options[] = {
    {.name = "with-dns",
     .env = "FAULT_WITH_DNS",
     .type = FAULT_OPT_BOOL,
     .help = "Enable the DNS fault: upstream names fail to resolve",
     .offset = OFF(enabled),
     .flags = FAULT_OPTF_ENABLE},
    {.name = "dns-rate",
     .env = "FAULT_DNS_PROBABILITY",
     .type = FAULT_OPT_PROBABILITY,
     .def = "0.5",
     .metavar = "P",
     .min = 0,
     .max = 100,
     .help = "Probability that resolving an upstream name fails (IP literals never do): "
             "0..1, or a percentage above 1 (50 is one in two)",
     .offset = OFF(rate)},
    {.name = "dns-sched",
     .env = "FAULT_DNS_SCHED",
     .type = FAULT_OPT_SCHEDULE,
     .help = "When the fault is on, e.g. \"start:30s,duration:60s\"",
     .offset = OFF(sched)},
    FAULT_OPTION_END};

static int configure(fault_plugin *self, void *state)
{
    (void)self;
    dns_state *st = state;
    if (st->rate > 1)
        st->rate /= 100;
    return 0;
}

/* An address written as such needs no resolver, so it cannot fail to
 * resolve. The host hands us names without the brackets of an IPv6
 * mapping; accept them anyway. */
static bool is_ip_literal(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    char tmp[64];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof tmp) {
        memcpy(tmp, host + 1, n - 2);
        tmp[n - 2] = '\0';
        host = tmp;
    }
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static int on_connect(void *state, fault_stream *s, const char *host, uint16_t port)
{
    dns_state *st = state;
    if (!host || is_ip_literal(host))
        return 0;
    if (!fault_rng_bernoulli(fault_plugin_rng(fault_plugin_self(st)), st->rate))
        return 0;
    fault_param params[] = {{"host", host, 0}, {"port", NULL, (double)port}};
    fault_event_fault_applied(fault_plugin_self(st), fault_stream_id(s), FAULT_SIDE_SERVER,
                              FAULT_DIR_EGRESS, params, 2);
    fault_log_debug(fault_plugin_self(st), "#%llu %s:%u: resolution failed (injected)",
                    (unsigned long long)fault_stream_id(s), host, (unsigned)port);
    return FAULT_ERESOLVE;
}

static const fault_stream_ops stream_ops = {
    /* No attach: the fault never acts on the relay itself, only at
     * connect time, so it adds no stage to any connection. */
    .on_connect = on_connect,
};

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "dns", .version = PACKAGE_VERSION,
                    .summary = "DNS: upstream host names fail to resolve", .license = "Apache-2.0",
                    .options = options, .state_size = sizeof(dns_state), .configure = configure,
                    .stream = &stream_ops);
