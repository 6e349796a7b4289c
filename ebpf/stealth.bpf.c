// SPDX-License-Identifier: Apache-2.0
/*
 * ebpf/stealth.bpf.c - stealth mode's kernel side.
 *
 * connect4/connect6 (cgroup sock_addr hooks): a TCP connect from a chosen
 * process (by command name or process id) is rewritten to go to fault's
 * stealth listener; the destination it asked for is kept under the
 * socket's cookie.
 *
 * sockops, at BPF_SOCK_OPS_TCP_CONNECT_CB (the kernel has picked the
 * socket's local address and port, the SYN is not sent yet): the entry is
 * moved to a map keyed by that local address and port, which is exactly
 * the peer address the listener sees when it accepts the connection. The
 * proxy reads it there (and deletes it) to know where to connect.
 *
 * fault's own connections (its thread group) are never touched, nor
 * connections to the listener itself, nor connections to a loopback port
 * that nothing listens on (the client gets its refusal as without fault). Written against the
 * kernel's UAPI only (struct bpf_sock_addr and struct bpf_sock_ops are stable interfaces), so no
 * BTF or vmlinux.h is needed to build it.
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/socket.h>
#include <linux/types.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "stealth_maps.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif
#define SOCK_STREAM_ 1

/* Only helpers open to any licence are used (no GPL-only ones). */
char LICENSE[] SEC("license") = "Apache-2.0";

struct stealth_config cfg = {};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, STEALTH_MAX_CONNS);
    __type(key, __u64);
    __type(value, struct stealth_pending);
} pending_by_cookie SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, STEALTH_MAX_CONNS);
    __type(key, struct stealth_addr);
    __type(value, struct stealth_addr);
} orig_by_client SEC(".maps");

static __always_inline int chosen(void)
{
    __u32 tgid = bpf_get_current_pid_tgid() >> 32;
    if (!cfg.enabled || tgid == cfg.proxy_tgid)
        return 0;
    if (cfg.capture_pid && tgid == cfg.capture_pid)
        return 1;
    if (!cfg.capture_comm[0])
        return 0;
    char comm[STEALTH_COMM_LEN] = {};
    if (bpf_get_current_comm(comm, sizeof comm) != 0)
        return 0;
#pragma unroll
    for (int i = 0; i < STEALTH_COMM_LEN; i++) {
        if (comm[i] != cfg.capture_comm[i])
            return 0;
        if (!comm[i])
            break;
    }
    return 1;
}

/* Whether a TCP socket of this network namespace listens on the address
 * and port (network order) given. A loopback destination nobody listens
 * on is left alone, so that the client sees the refusal itself (and, say,
 * goes from ::1 to 127.0.0.1 for "localhost") instead of a connection
 * fault accepted and then has to reset. */
static __always_inline int listened(struct bpf_sock_addr *ctx, struct bpf_sock_tuple *t, __u32 len)
{
    struct bpf_sock *sk = bpf_sk_lookup_tcp(ctx, t, len, BPF_F_CURRENT_NETNS, 0);
    if (!sk)
        return 0;
    bpf_sk_release(sk);
    return 1;
}

static __always_inline int listened4(struct bpf_sock_addr *ctx, __u32 ip, __u16 port)
{
    struct bpf_sock_tuple t = {};
    t.ipv4.saddr = t.ipv4.daddr = ip;
    t.ipv4.dport = port;
    return listened(ctx, &t, sizeof t.ipv4);
}

/* ::1, the only IPv6 loopback address. */
static __always_inline int listened6(struct bpf_sock_addr *ctx, __u16 port)
{
    struct bpf_sock_tuple t = {};
    t.ipv6.saddr[3] = t.ipv6.daddr[3] = bpf_htonl(1);
    t.ipv6.dport = port;
    return listened(ctx, &t, sizeof t.ipv6);
}

static __always_inline void remember(void *ctx, const struct stealth_addr *orig, __u8 mapped)
{
    struct stealth_pending p = {};
    p.orig = *orig;
    p.mapped = mapped;
    __u64 cookie = bpf_get_socket_cookie(ctx);
    bpf_map_update_elem(&pending_by_cookie, &cookie, &p, BPF_ANY);
}

SEC("cgroup/connect4")
int stealth_connect4(struct bpf_sock_addr *ctx)
{
    if (ctx->type != SOCK_STREAM_ || (ctx->protocol && ctx->protocol != IPPROTO_TCP) || !chosen())
        return 1;
    __u32 ip = ctx->user_ip4;
    __u16 port = bpf_ntohs((__u16)ctx->user_port);
    if (ip == cfg.proxy_ip4 && port == cfg.proxy_port4)
        return 1;
    if ((bpf_ntohl(ip) >> 24) == 127 && (cfg.skip_loopback || !listened4(ctx, ip, bpf_htons(port))))
        return 1;
    struct stealth_addr orig = {.addr = {ip, 0, 0, 0}, .port = port, .family = 4};
    remember(ctx, &orig, 0);
    ctx->user_ip4 = cfg.proxy_ip4;
    ctx->user_port = bpf_htons(cfg.proxy_port4);
    return 1;
}

SEC("cgroup/connect6")
int stealth_connect6(struct bpf_sock_addr *ctx)
{
    if (ctx->type != SOCK_STREAM_ || (ctx->protocol && ctx->protocol != IPPROTO_TCP) || !chosen())
        return 1;
    __u32 a0 = ctx->user_ip6[0], a1 = ctx->user_ip6[1], a2 = ctx->user_ip6[2],
          a3 = ctx->user_ip6[3];
    __u16 port = bpf_ntohs((__u16)ctx->user_port);
    if (a0 == 0 && a1 == 0 && a2 == bpf_htonl(0xffff)) {
        /* ::ffff:a.b.c.d on a dual-stack socket: IPv4 underneath. */
        if (a3 == cfg.proxy_ip4 && port == cfg.proxy_port4)
            return 1;
        if ((bpf_ntohl(a3) >> 24) == 127 &&
            (cfg.skip_loopback || !listened4(ctx, a3, bpf_htons(port))))
            return 1;
        struct stealth_addr orig = {.addr = {a3, 0, 0, 0}, .port = port, .family = 4};
        remember(ctx, &orig, 1);
        ctx->user_ip6[3] = cfg.proxy_ip4;
        ctx->user_port = bpf_htons(cfg.proxy_port4);
        return 1;
    }
    if (!(cfg.proxy_ip6[0] | cfg.proxy_ip6[1] | cfg.proxy_ip6[2] | cfg.proxy_ip6[3]))
        return 1; /* no IPv6 listener */
    if (a0 == cfg.proxy_ip6[0] && a1 == cfg.proxy_ip6[1] && a2 == cfg.proxy_ip6[2] &&
        a3 == cfg.proxy_ip6[3] && port == cfg.proxy_port6)
        return 1;
    if (a0 == 0 && a1 == 0 && a2 == 0 && a3 == bpf_htonl(1) &&
        (cfg.skip_loopback || !listened6(ctx, bpf_htons(port))))
        return 1;
    struct stealth_addr orig = {.addr = {a0, a1, a2, a3}, .port = port, .family = 6};
    remember(ctx, &orig, 0);
    ctx->user_ip6[0] = cfg.proxy_ip6[0];
    ctx->user_ip6[1] = cfg.proxy_ip6[1];
    ctx->user_ip6[2] = cfg.proxy_ip6[2];
    ctx->user_ip6[3] = cfg.proxy_ip6[3];
    ctx->user_port = bpf_htons(cfg.proxy_port6);
    return 1;
}

SEC("sockops")
int stealth_sockops(struct bpf_sock_ops *skops)
{
    if (skops->op != BPF_SOCK_OPS_TCP_CONNECT_CB)
        return 1;
    __u64 cookie = bpf_get_socket_cookie(skops);
    struct stealth_pending *p = bpf_map_lookup_elem(&pending_by_cookie, &cookie);
    if (!p)
        return 1;
    struct stealth_addr client = {};
    /* skops->local_port is in host order. A mapped connect is an IPv4
     * connection: its IPv6 view of the local address is not set yet at
     * this point, its IPv4 one is. */
    client.port = (__u16)skops->local_port;
    if (skops->family == AF_INET || p->mapped) {
        client.family = 4;
        client.addr[0] = skops->local_ip4;
    } else {
        client.family = 6;
        client.addr[0] = skops->local_ip6[0];
        client.addr[1] = skops->local_ip6[1];
        client.addr[2] = skops->local_ip6[2];
        client.addr[3] = skops->local_ip6[3];
    }
    struct stealth_addr orig = p->orig;
    bpf_map_update_elem(&orig_by_client, &client, &orig, BPF_ANY);
    bpf_map_delete_elem(&pending_by_cookie, &cookie);
    return 1;
}
