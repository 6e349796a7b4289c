/*
 * plugins/dns-proxy/dns-proxy.c - `fault run dns`: a DNS proxy on UDP and
 * TCP in front of a resolver that injects what resolvers do wrong
 * (NXDOMAIN, SERVFAIL, REFUSED, silence, truncation with or without a
 * working TCP fallback, slow answers, wrong addresses, empty answers,
 * answers alternating between the live address and a dead one, rewritten
 * TTLs), per query, for chosen names and record types.
 *
 * This file is the plugin: options, their checks, the decision taken for
 * each query and the events that tell it. udp.c and tcp.c move the bytes.
 * Queries that are not faulted go to the resolver as the client sent them
 * and its answer comes back unchanged (over UDP only the message ID is
 * swapped on the way, and swapped back).
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dnsproxy.h"

static const char *const case_names[] = {
    "none",     "nx-domain|nxdomain", "serv-fail|servfail", "refused",
    "timeout",  "truncated",          "truncated-tcp-fail", "delay",
    "random-a", "empty-answer",       "alternate",          NULL};
/* Names in events, by case. */
static const char *const case_label[] = {
    "none",  "nx-domain", "serv-fail",    "refused",  "timeout", "truncated", "truncated-tcp-fail",
    "delay", "random-a",  "empty-answer", "alternate"};

#define DEFAULT_LISTEN "127.0.0.1:45553"

static const fault_option options[] = {
    {.name = "case",
     .env = "FAULT_DNS_PROXY_CASE",
     .type = FAULT_OPT_ENUM,
     .def = "none",
     .choices = case_names,
     .metavar = "CASE",
     .help = "What faulted queries get (none: relayed; timeout: no answer; truncated: TC, "
             "the TCP retry passes; truncated-tcp-fail: TC, TCP is reset; alternate: every "
             "second A/AAAA answer is --dead-address)",
     .offset = offsetof(dp_state, kase)},
    {.name = "resolver",
     .env = "FAULT_DNS_PROXY_RESOLVER",
     .type = FAULT_OPT_STRING,
     .def = "127.0.0.53:53",
     .metavar = "IP:PORT",
     .help = "The resolver queries go to",
     .offset = offsetof(dp_state, resolver)},
    {.name = "probability",
     .env = "FAULT_DNS_PROXY_PROBABILITY",
     .type = FAULT_OPT_PROBABILITY,
     .def = "1",
     .metavar = "P",
     .help = "Chance that a selected query is faulted, rolled per query (seeded by --seed)",
     .offset = offsetof(dp_state, probability)},
    {.name = "delay",
     .env = "FAULT_DNS_PROXY_DELAY",
     .type = FAULT_OPT_DURATION,
     .def = "1s",
     .metavar = "DURATION",
     .help = "delay: how long answers are held",
     .offset = offsetof(dp_state, delay_us)},
    {.name = "dns-listen",
     .env = "FAULT_DNS_PROXY_LISTEN",
     .type = FAULT_OPT_STRING,
     .def = DEFAULT_LISTEN,
     .metavar = "IP:PORT",
     .help = "Address to serve DNS on, UDP and TCP (loopback unless --dns-allow-remote)",
     .offset = offsetof(dp_state, listen)},
    {.name = "dns-allow-remote",
     .env = "FAULT_DNS_PROXY_ALLOW_REMOTE",
     .type = FAULT_OPT_BOOL,
     .def = "false",
     .help = "Allow --dns-listen on a non-loopback address (other hosts may "
             "then use the proxy as a resolver)",
     .offset = offsetof(dp_state, allow_remote)},
    {.name = "names",
     .env = "FAULT_DNS_PROXY_NAMES",
     .type = FAULT_OPT_LIST,
     .metavar = "PATTERN,...",
     .help = "Only these names are faulted: exact 'a.example', '*.example' (names below), "
             "'.example' (the name and below), '*' (all; the default)",
     .offset = offsetof(dp_state, names)},
    {.name = "qtype",
     .env = "FAULT_DNS_PROXY_QTYPE",
     .type = FAULT_OPT_LIST,
     .metavar = "TYPE,...",
     .help = "Only queries for these record types are faulted (A, AAAA, SRV, CNAME, HTTPS, "
             "TYPE65, ...; default all)",
     .offset = offsetof(dp_state, qtypes)},
    {.name = "ttl",
     .env = "FAULT_DNS_PROXY_TTL",
     .type = FAULT_OPT_INT,
     .metavar = "SECONDS",
     .help = "Rewrite the TTL of every record of relayed answers to selected queries",
     .offset = offsetof(dp_state, ttl),
     .min = 0,
     .max = 2147483647},
    {.name = "dead-address",
     .env = "FAULT_DNS_PROXY_DEAD_ADDRESS",
     .type = FAULT_OPT_LIST,
     .metavar = "IP,...",
     .help = "alternate: the address given instead of the live one (default 192.0.2.1 for A, "
             "100::1 for AAAA: unreachable)",
     .offset = offsetof(dp_state, dead)},
    {.name = "case-sched",
     .env = "FAULT_DNS_PROXY_SCHED",
     .type = FAULT_OPT_SCHEDULE,
     .metavar = "SCHEDULE",
     .help = "When the case (and --ttl) apply (schedule grammar)",
     .offset = offsetof(dp_state, sched)},
    FAULT_OPTION_END};

void dp_format_addr(const struct sockaddr *sa, char *buf, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
        snprintf(buf, len, "[%s]:%u", ip, ntohs(s6->sin6_port));
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
        snprintf(buf, len, "%s:%u", ip, ntohs(s4->sin_port));
    }
}

/* "IP", "IP:PORT", "[IPv6]:PORT" or a bare IPv6 address. */
static int parse_ipport(const char *s, uint16_t defport, struct sockaddr_storage *ss, char *host,
                        uint16_t *port)
{
    char buf[INET6_ADDRSTRLEN + 8];
    const char *portp = NULL;
    if (!s || strlen(s) >= sizeof buf)
        return -1;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || (size_t)(close - s - 1) >= INET6_ADDRSTRLEN)
            return -1;
        memcpy(buf, s + 1, (size_t)(close - s - 1));
        buf[close - s - 1] = '\0';
        if (close[1] == ':')
            portp = close + 2;
        else if (close[1])
            return -1;
    } else {
        snprintf(buf, sizeof buf, "%s", s);
        char *colon = strchr(buf, ':');
        if (colon && !strchr(colon + 1, ':')) { /* one colon: IPv4:port */
            *colon = '\0';
            portp = s + (colon - buf) + 1;
        }
    }
    long p = defport;
    if (portp) {
        char *end;
        if (!*portp || *portp == '-' || *portp == '+')
            return -1;
        p = strtol(portp, &end, 10);
        if (*end || p < 1 || p > 65535)
            return -1;
    }
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, buf, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)p);
    } else if (inet_pton(AF_INET6, buf, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)p);
    } else {
        return -1;
    }
    inet_ntop(ss->ss_family,
              ss->ss_family == AF_INET ? (void *)&s4->sin_addr : (void *)&s6->sin6_addr, host,
              INET6_ADDRSTRLEN);
    *port = (uint16_t)p;
    return 0;
}

static bool is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
    const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(a))
        return true;
    return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
}

/* Calls fn for each comma-separated item of every entry of a list. */
static int each_item(const fault_strv *v, int (*fn)(dp_state *, const char *, size_t), dp_state *st)
{
    for (size_t i = 0; i < v->n; i++) {
        const char *p = v->v[i];
        for (;;) {
            const char *comma = strchr(p, ',');
            size_t n = comma ? (size_t)(comma - p) : strlen(p);
            int rc = fn(st, p, n);
            if (rc < 0)
                return rc;
            if (!comma)
                break;
            p = comma + 1;
        }
    }
    return 0;
}

static int add_pattern(dp_state *st, const char *p, size_t n)
{
    while (n && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    char item[300];
    if (n == 0 || n >= sizeof item) {
        fault_plugin_error(st->self, "--names: empty or too long pattern in '%.*s'", (int)n, p);
        return FAULT_EINVAL;
    }
    memcpy(item, p, n);
    item[n] = '\0';
    int kind = 0;
    const char *name = item;
    if (strcmp(item, "*") == 0) {
        kind = 3;
        name = "";
    } else if (strncmp(item, "*.", 2) == 0) {
        kind = 1;
        name = item + 2;
    } else if (item[0] == '.') {
        kind = 2;
        name = item + 1;
    }
    size_t len = strlen(name);
    if (len && name[len - 1] == '.')
        len--;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= 0x20 || c >= 0x7f || c == '*' || (c == '.' && (i == 0 || name[i - 1] == '.'))) {
            fault_plugin_error(st->self, "--names: '%s' is not a name, '*.name', '.name' or '*'",
                               item);
            return FAULT_EINVAL;
        }
    }
    if (kind != 3 && len == 0) {
        fault_plugin_error(st->self, "--names: '%s' names nothing", item);
        return FAULT_EINVAL;
    }
    dp_pattern *np = realloc(st->pats, (st->npats + 1) * sizeof *np);
    if (!np)
        return FAULT_ENOMEM;
    st->pats = np;
    char *s = strndup(name, len);
    if (!s)
        return FAULT_ENOMEM;
    for (char *c = s; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    st->pats[st->npats].name = s;
    st->pats[st->npats++].kind = kind;
    return 0;
}

static int add_type(dp_state *st, const char *p, size_t n)
{
    char item[32];
    while (n && *p == ' ')
        p++, n--;
    while (n && p[n - 1] == ' ')
        n--;
    int t = -1;
    if (n && n < sizeof item) {
        memcpy(item, p, n);
        item[n] = '\0';
        t = dnsmsg_type_parse(item);
    }
    if (t < 0 || t == DNS_TYPE_OPT) {
        fault_plugin_error(st->self,
                           "--qtype: '%.*s' is not a record type (A, AAAA, SRV, "
                           "CNAME, HTTPS, TYPE<n>, ...)",
                           (int)n, p);
        return FAULT_EINVAL;
    }
    uint16_t *nt = realloc(st->types, (st->ntypes + 1) * sizeof *nt);
    if (!nt)
        return FAULT_ENOMEM;
    st->types = nt;
    st->types[st->ntypes++] = (uint16_t)t;
    return 0;
}

static int add_dead(dp_state *st, const char *p, size_t n)
{
    char item[INET6_ADDRSTRLEN];
    while (n && *p == ' ')
        p++, n--;
    while (n && p[n - 1] == ' ')
        n--;
    if (n && n < sizeof item) {
        memcpy(item, p, n);
        item[n] = '\0';
        if (inet_pton(AF_INET, item, st->dead4) == 1 || inet_pton(AF_INET6, item, st->dead6) == 1)
            return 0;
    }
    fault_plugin_error(st->self, "--dead-address: '%.*s' is not an IPv4 or IPv6 address", (int)n,
                       p);
    return FAULT_EINVAL;
}

static int select_mode(fault_plugin *self, void *state, int argc, char **argv)
{
    (void)state;
    if (argc > 0) {
        fault_plugin_error(self,
                           "unexpected '%s' after 'dns' (options only; see 'fault run dns "
                           "--help')",
                           argv[0]);
        return FAULT_EINVAL;
    }
    return 0;
}

static int configure(fault_plugin *self, void *state)
{
    dp_state *st = state;
    st->self = self;
    if (parse_ipport(st->resolver, 53, &st->resolver_ss, st->resolver_host, &st->resolver_port) <
        0) {
        fault_plugin_error(self,
                           "--resolver: '%s' is not IP[:PORT] (e.g. 127.0.0.53:53, "
                           "[::1]:53)",
                           st->resolver ? st->resolver : "");
        return FAULT_EINVAL;
    }
    dp_format_addr((struct sockaddr *)&st->resolver_ss, st->resolver_text,
                   sizeof st->resolver_text);
    if (parse_ipport(st->listen, 0, &st->listen_ss, st->listen_host, &st->listen_port) < 0 ||
        st->listen_port == 0) {
        fault_plugin_error(self, "--dns-listen: '%s' is not IP:PORT (e.g. %s)",
                           st->listen ? st->listen : "", DEFAULT_LISTEN);
        return FAULT_EINVAL;
    }
    if (!is_loopback(&st->listen_ss) && !st->allow_remote) {
        fault_plugin_error(self,
                           "--dns-listen: %s is not a loopback address: other hosts could "
                           "use the proxy as an open resolver (add --dns-allow-remote to "
                           "mean it)",
                           st->listen_host);
        return FAULT_EINVAL;
    }
    /* Unreachable by design: TEST-NET-1 (RFC 5737) and the discard-only
     * prefix (RFC 6666). */
    inet_pton(AF_INET, "192.0.2.1", st->dead4);
    inet_pton(AF_INET6, "100::1", st->dead6);
    int rc = each_item(&st->names, add_pattern, st);
    if (rc == 0)
        rc = each_item(&st->qtypes, add_type, st);
    if (rc == 0)
        rc = each_item(&st->dead, add_dead, st);
    if (rc < 0)
        return rc;
    st->ttl_set = fault_option_is_set(self, "ttl");
    return 0;
}

static void publish_listening(dp_state *st, const char *proto)
{
    char addr[INET6_ADDRSTRLEN + 16];
    dp_format_addr((struct sockaddr *)&st->listen_ss, addr, sizeof addr);
    size_t n = strlen(addr);
    snprintf(addr + n, sizeof addr - n, "/%s", proto);
    fault_event ev = {.type = FAULT_EV_LISTENING, .size = sizeof ev};
    ev.peer = addr;
    ev.target = st->resolver_text;
    fault_event_publish(st->self, &ev);
}

static int start(fault_plugin *self, void *state)
{
    dp_state *st = state;
    char err[200];
    st->self = self;
    if (dp_udp_start(st, fault_loop(self), err, sizeof err) < 0 ||
        dp_tcp_start(st, err, sizeof err) < 0) {
        fault_plugin_error(self, "--dns-listen %s: %s", st->listen, err);
        return FAULT_EIO;
    }
    publish_listening(st, "udp");
    publish_listening(st, "tcp");
    fault_log_info(self, "serving DNS on %s (udp, tcp) for %s, case %s", st->listen,
                   st->resolver_text, case_label[st->kase]);
    return 0;
}

static void stop(fault_plugin *self, void *state)
{
    (void)self;
    dp_state *st = state;
    dp_tcp_stop(st);
    dp_udp_stop(st);
}

static void destroy(fault_plugin *self, void *state)
{
    (void)self;
    dp_state *st = state;
    for (size_t i = 0; i < st->npats; i++)
        free(st->pats[i].name);
    free(st->pats);
    free(st->types);
    st->pats = NULL;
    st->types = NULL;
    st->npats = st->ntypes = 0;
}

static bool name_matches(const dp_state *st, const char *name)
{
    if (st->npats == 0)
        return true;
    size_t nl = strlen(name);
    for (size_t i = 0; i < st->npats; i++) {
        const dp_pattern *p = &st->pats[i];
        size_t pl = strlen(p->name);
        switch (p->kind) {
        case 3:
            return true;
        case 0:
            if (strcmp(name, p->name) == 0)
                return true;
            break;
        case 2:
            /* The name itself, or below it. */
            if (strcmp(name, p->name) == 0)
                return true;
            /* fall through */
        case 1:
            if (nl > pl + 1 && name[nl - pl - 1] == '.' && strcmp(name + nl - pl, p->name) == 0)
                return true;
            break;
        }
    }
    return false;
}

static bool type_matches(const dp_state *st, uint16_t type)
{
    if (st->ntypes == 0)
        return true;
    for (size_t i = 0; i < st->ntypes; i++)
        if (st->types[i] == type)
            return true;
    return false;
}

void dp_decide(dp_state *st, const dnsmsg *q, bool tcp, const char *peer, dp_decision *d)
{
    fault_plugin *self = st->self;
    d->qid = ++st->next_qid;
    d->action = DP_PASS;
    d->kase = DP_NONE;
    d->ttl = false;
    d->reply_len = 0;
    char tbuf[16];
    const char *tname = q ? dnsmsg_type_name(q->qtype, tbuf, sizeof tbuf) : "?";
    const char *qname = q ? (q->name[0] ? q->name : ".") : "(unreadable)";
    if (fault_event_wanted(FAULT_EV_CONN_OPEN)) {
        char target[sizeof q->name + 32];
        snprintf(target, sizeof target, "%s %s", qname, tname);
        fault_event ev = {.type = FAULT_EV_CONN_OPEN, .size = sizeof ev};
        ev.conn_id = d->qid;
        ev.peer = peer;
        ev.target = target;
        fault_event_publish(self, &ev);
    }
    bool selected = q && !(q->flags & DNS_FLAG_QR) && DNS_OPCODE(q->flags) == 0 &&
                    q->qdcount == 1 && q->qclass == DNS_CLASS_IN && name_matches(st, q->name) &&
                    type_matches(st, q->qtype) && fault_plugin_active(self);
    if (!selected)
        return;
    bool faulted = false;
    switch (st->kase) {
    case DP_NONE:
        break;
    case DP_RANDOM_A:
        faulted =
            q->qtype == DNS_TYPE_A && fault_rng_bernoulli(fault_plugin_rng(self), st->probability);
        break;
    case DP_TRUNCATED:
        /* TC over TCP means nothing: the retry passes. */
        faulted = !tcp && fault_rng_bernoulli(fault_plugin_rng(self), st->probability);
        break;
    case DP_TRUNCATED_TCP_FAIL:
        /* The fallback is broken: every selected TCP query fails. */
        faulted = tcp || fault_rng_bernoulli(fault_plugin_rng(self), st->probability);
        break;
    case DP_ALTERNATE:
        /* Live, dead, live, dead...: every second selected address query
         * (of those, --probability of them). */
        faulted = (q->qtype == DNS_TYPE_A || q->qtype == DNS_TYPE_AAAA) &&
                  st->alternations++ % 2 == 1 &&
                  fault_rng_bernoulli(fault_plugin_rng(self), st->probability);
        break;
    default:
        faulted = fault_rng_bernoulli(fault_plugin_rng(self), st->probability);
        break;
    }
    uint32_t ttl = st->ttl_set ? (uint32_t)st->ttl : 60;
    if (faulted) {
        d->kase = st->kase;
        unsigned rcode = DNS_RCODE_NOERROR;
        bool tc = false;
        uint8_t a4[4];
        const uint8_t *ap = NULL;
        size_t alen = 4;
        switch (st->kase) {
        case DP_NXDOMAIN:
            rcode = DNS_RCODE_NXDOMAIN;
            break;
        case DP_SERVFAIL:
            rcode = DNS_RCODE_SERVFAIL;
            break;
        case DP_REFUSED:
            rcode = DNS_RCODE_REFUSED;
            break;
        case DP_TIMEOUT:
            d->action = DP_DROP;
            break;
        case DP_TRUNCATED_TCP_FAIL: /* over UDP, as truncated */
            if (tcp) {
                d->action = DP_FAIL;
                break;
            }
            /* fall through */
        case DP_TRUNCATED:
            tc = true;
            break;
        case DP_DELAY:
            d->action = DP_HOLD;
            break;
        case DP_RANDOM_A: {
            uint64_t r = fault_rng_u64(fault_plugin_rng(self));
            for (int i = 0; i < 4; i++)
                a4[i] = (uint8_t)(r >> (8 * i));
            ap = a4;
            break;
        }
        case DP_ALTERNATE:
            ap = q->qtype == DNS_TYPE_A ? st->dead4 : st->dead6;
            alen = q->qtype == DNS_TYPE_A ? 4 : 16;
            break;
        default:
            break; /* empty answer: NOERROR, no record */
        }
        if (d->action == DP_PASS) {
            d->action = DP_REPLY;
            d->reply_len = dnsmsg_reply(q, rcode, tc, ap, alen, ttl, d->reply, sizeof d->reply);
        }
    }
    if (st->ttl_set && (d->action == DP_PASS || d->action == DP_HOLD))
        d->ttl = true;
    if (!faulted && !d->ttl)
        return;
    fault_param params[6];
    size_t np = 0;
    params[np++] = (fault_param){"case", faulted ? case_label[st->kase] : "ttl", 0};
    params[np++] = (fault_param){"name", qname, 0};
    params[np++] = (fault_param){"qtype", tname, 0};
    params[np++] = (fault_param){"transport", tcp ? "tcp" : "udp", 0};
    if (d->kase == DP_DELAY)
        params[np++] = (fault_param){"delay_ms", NULL, (double)st->delay_us / 1000.0};
    if (d->ttl)
        params[np++] = (fault_param){"ttl", NULL, (double)st->ttl};
    fault_event_fault_applied(self, d->qid, FAULT_SIDE_CLIENT, FAULT_DIR_INGRESS, params, np);
}

void dp_done(dp_state *st, uint64_t qid, size_t in, size_t out, int error, const char *message)
{
    if (!fault_event_wanted(FAULT_EV_CONN_CLOSE))
        return;
    fault_event ev = {.type = FAULT_EV_CONN_CLOSE, .size = sizeof ev};
    ev.conn_id = qid;
    ev.bytes_egress = in;
    ev.bytes_ingress = out;
    ev.error = error;
    ev.message = message;
    fault_event_publish(st->self, &ev);
}

static const fault_run_mode_ops mode_ops = {
    .word = "dns",
    .summary = "A DNS proxy (UDP and TCP) that fails, drops, truncates, delays or fakes answers",
    .usage = "dns",
    .select = select_mode,
};

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_PROTOCOL, .name = "dns-proxy", .version = PACKAGE_VERSION,
                    .summary = "DNS faults: fault run dns", .license = "Apache-2.0",
                    .options = options, .state_size = sizeof(dp_state), .configure = configure,
                    .start = start, .stop = stop, .destroy = destroy, .run_mode = &mode_ops);
