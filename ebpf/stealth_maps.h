/*
 * ebpf/stealth_maps.h - what the stealth BPF programs (stealth.bpf.c) and the
 * stealth plugin (plugins/stealth/) share: the layout of the map entries
 * and of the configuration block. Plain fixed-size types only, so that
 * the BPF target and the host agree on every offset.
 */
#ifndef FAULT_EBPF_STEALTH_MAPS_H
#define FAULT_EBPF_STEALTH_MAPS_H

#define STEALTH_COMM_LEN  16 /* TASK_COMM_LEN */
#define STEALTH_MAX_CONNS 65536

/* An address as the kernel gives it: IPv4 in addr[0] (network order, the
 * other words 0), IPv6 in addr[0..3]; port in host order. */
struct stealth_addr {
    __u32 addr[4];
    __u16 port;
    __u16 family; /* 4 or 6 */
};

/* Where a captured connection was going, by the socket's cookie, from
 * the connect hook until the socket has its local port (sockops). */
struct stealth_pending {
    struct stealth_addr orig;
    __u8 mapped; /* an IPv6 socket connecting to ::ffff:a.b.c.d */
    __u8 pad[3];
};

/* The configuration the plugin writes into the programs' .bss once its
 * listeners are up; `enabled` is written last. */
struct stealth_config {
    __u32 enabled;
    __u32 proxy_tgid;                    /* fault itself: never captured */
    __u32 capture_pid;                   /* 0: none */
    __u32 skip_loopback;                 /* leave 127.0.0.0/8 and ::1 alone */
    __u32 proxy_ip4;                     /* network order */
    __u32 proxy_ip6[4];                  /* network order; all 0: IPv6 not captured */
    __u16 proxy_port4;                   /* host order */
    __u16 proxy_port6;                   /* host order */
    char capture_comm[STEALTH_COMM_LEN]; /* "": none */
};

#endif
