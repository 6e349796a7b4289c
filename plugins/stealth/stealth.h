/*
 * plugins/stealth/stealth.h - between the plugin's two halves: stealth.c
 * (options, listeners, the relay) and bpf.c (everything libbpf).
 */
#ifndef FAULT_STEALTH_H
#define FAULT_STEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

/* A destination or a client address, as the BPF maps hold them. */
typedef struct stealth_endpoint {
    int family;           /* AF_INET or AF_INET6 */
    struct in6_addr addr; /* IPv4 in the first 4 bytes */
    uint16_t port;        /* host order */
} stealth_endpoint;

typedef struct stealth_bpf_handle stealth_bpf_handle;

/* What the programs are told once the listeners are up. */
typedef struct stealth_target {
    uint32_t proxy_tgid;
    uint32_t capture_pid;     /* 0: none */
    const char *capture_comm; /* NULL: none */
    bool skip_loopback;
    struct in_addr ip4;
    uint16_t port4;
    bool has6; /* an IPv6 listener exists */
    struct in6_addr ip6;
    uint16_t port6;
} stealth_target;

/* Checks the privileges, loads the programs and attaches them (inert) to
 * the cgroup at cgroup_path. Returns the handle, or NULL with a one-line
 * reason in err. */
stealth_bpf_handle *stealth_bpf_open(const char *cgroup_path, char *err, size_t errlen);
/* Switches capture on with these listeners. */
void stealth_bpf_enable(stealth_bpf_handle *h, const stealth_target *t);
/* The original destination of the connection accepted from client;
 * forgets it. Returns 0, or -1 when none is recorded. */
int stealth_bpf_take(stealth_bpf_handle *h, const stealth_endpoint *client, stealth_endpoint *orig);
/* Detaches everything and frees the handle (NULL is fine). */
void stealth_bpf_close(stealth_bpf_handle *h);

/* The cgroup v2 mount point, from /proc/self/mountinfo: 0, or -1 when
 * none is mounted. */
int stealth_cgroup2_root(char *buf, size_t len);

/* parse.c. "1.2.3.4:5" or "[::1]:5" (fault_conn_peer()): 0, or -1. */
int stealth_parse_peer(const char *text, stealth_endpoint *ep);
/* A /proc/self/mountinfo line: 0 and its mount point (unescaped) in buf
 * when it mounts a cgroup v2 hierarchy, else -1 (also when the mount
 * point does not fit in len). */
int stealth_mountinfo_cgroup2(const char *line, char *buf, size_t len);

#endif
