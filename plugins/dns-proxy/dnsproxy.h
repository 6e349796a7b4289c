/*
 * plugins/dns-proxy/dnsproxy.h - what the parts of the dns-proxy plugin
 * share: its state block, the decision taken for each query, and the
 * per-query events. dns-proxy.c is the plugin (options, the decision,
 * events), udp.c and tcp.c the two transports; msg.c the wire format.
 */
#ifndef DNS_PROXY_H
#define DNS_PROXY_H

#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>

#include <fault/plugin.h>

#include "msg.h"

/* --case, in the order of the option's choices. */
enum {
    DP_NONE,
    DP_NXDOMAIN,
    DP_SERVFAIL,
    DP_REFUSED,
    DP_TIMEOUT,
    DP_TRUNCATED,
    DP_TRUNCATED_TCP_FAIL,
    DP_DELAY,
    DP_RANDOM_A,
    DP_EMPTY_ANSWER,
    DP_ALTERNATE
};

/* What happens to one query. */
typedef enum dp_action {
    DP_PASS,  /* forwarded; the resolver's answer relayed (TTLs maybe rewritten) */
    DP_HOLD,  /* forwarded; the answer held for --delay */
    DP_REPLY, /* answered here: reply/reply_len */
    DP_DROP,  /* never answered */
    DP_FAIL   /* TCP: the connection is reset */
} dp_action;

typedef struct dp_decision {
    dp_action action;
    int kase;     /* the case applied, DP_NONE when none */
    bool ttl;     /* rewrite the TTLs of the relayed answer */
    uint64_t qid; /* the query's number in events */
    uint8_t reply[DNSMSG_REPLY_MAX];
    long reply_len;
} dp_decision;

typedef struct dp_pattern {
    char *name; /* lower case, no final dot */
    int kind;   /* 0 exact, 1 "*.x" strictly below x, 2 ".x" x and below, 3 "*" */
} dp_pattern;

typedef struct dp_udp dp_udp;
typedef struct dp_tcp dp_tcp;

typedef struct dp_state {
    /* Options. */
    int kase;
    const char *resolver;
    double probability;
    uint64_t delay_us;
    const char *listen;
    bool allow_remote;
    fault_strv names;
    fault_strv qtypes;
    int64_t ttl;
    fault_strv dead;
    fault_schedule *sched;
    /* Derived in configure(). */
    fault_plugin *self;
    struct sockaddr_storage listen_ss, resolver_ss;
    char listen_host[INET6_ADDRSTRLEN], resolver_host[INET6_ADDRSTRLEN];
    uint16_t listen_port, resolver_port;
    char resolver_text[INET6_ADDRSTRLEN + 8];
    dp_pattern *pats;
    size_t npats;
    uint16_t *types;
    size_t ntypes;
    bool ttl_set;
    uint8_t dead4[4], dead6[16];
    /* Running. */
    uint64_t next_qid;
    uint64_t alternations; /* selected A and AAAA queries seen by alternate */
    dp_udp *udp;
    dp_tcp *tcp;
} dp_state;

/* Decides what happens to a query (q as parsed, or NULL when it could not
 * be), arriving over TCP or UDP, and publishes the query's opening events
 * (peer: the client, "" when no one listens to them). */
void dp_decide(dp_state *st, const dnsmsg *q, bool tcp, const char *peer, dp_decision *d);
/* The query's last event: bytes in and out, error (0, or FAULT_ETIMEDOUT
 * when the resolver never answered, ...). */
void dp_done(dp_state *st, uint64_t qid, size_t in, size_t out, int error, const char *message);

int dp_udp_start(dp_state *st, uv_loop_t *loop, char *err, size_t errlen);
void dp_udp_stop(dp_state *st);
int dp_tcp_start(dp_state *st, char *err, size_t errlen);
void dp_tcp_stop(dp_state *st);

/* "ip:port" of a socket address. */
void dp_format_addr(const struct sockaddr *sa, char *buf, size_t len);

/* How long a forwarded query waits for the resolver. */
#define DP_UPSTREAM_TIMEOUT_US (10u * 1000u * 1000u)

#endif /* DNS_PROXY_H */
