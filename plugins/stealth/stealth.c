/*
 * plugins/stealth/stealth.c - stealth mode (`fault run --stealth`):
 * transparent interception of chosen processes' TCP connections.
 *
 * The eBPF programs of ebpf/ (loaded by bpf.c) rewrite each connect of a
 * chosen process (--capture-process NAME, --capture-pid PID) to this
 * plugin's listener and record where it was going, keyed by the client's
 * own address and port. For each connection accepted here, the plugin
 * looks that key up (the accepted connection's peer address), connects
 * to the original destination and hands both ends to the core's relay:
 * every stream fault of the run applies, as on a `--proxy` mapping.
 * fault's own connections are never captured (the programs skip its
 * process), so the upstream leg goes where it should.
 *
 * HTTP faults do not apply to captured traffic: it is relayed as TCP
 * (the client may speak anything, TLS included).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fault/plugin.h>

#include "stealth.h"

typedef struct stealth_state {
    /* options */
    bool stealth;
    const char *process;
    int64_t pid;
    const char *proxy_ip;
    int64_t proxy_port;
    const char *proxy_iface;
    const char *programs_dir;
    const char *cgroup;
    bool skip_loopback;
    /* derived */
    fault_plugin *self;
    char cgroup_path[4096];
    struct in_addr ip4;
    struct in6_addr ip6;
    bool ip_is6; /* --ebpf-proxy-ip is an IPv6 address */
    stealth_bpf_handle *bpf;
    fault_listener *l4, *l6;
} stealth_state;

static const fault_option options[] = {
    {.name = "stealth",
     .env = "FAULT_ENABLE_STEALTH",
     .type = FAULT_OPT_BOOL,
     .def = "false",
     .help = "Stealth mode: capture the TCP connections of chosen processes with eBPF, no proxy "
             "setting needed (Linux, root)",
     .offset = offsetof(stealth_state, stealth)},
    {.name = "capture-process",
     .env = "FAULT_EBPF_PROCESS_NAME",
     .type = FAULT_OPT_STRING,
     .metavar = "NAME",
     .help = "Capture processes with this command name (as in /proc/PID/comm: its first 15 "
             "bytes) (requires --stealth)",
     .offset = offsetof(stealth_state, process)},
    {.name = "capture-pid",
     .env = "FAULT_EBPF_PROCESS_PID",
     .type = FAULT_OPT_INT,
     .metavar = "PID",
     .min = 1,
     .max = 4194304,
     .help = "Capture the process with this process id, all its threads but not its children "
             "(requires --stealth)",
     .offset = offsetof(stealth_state, pid)},
    {.name = "ebpf-proxy-ip",
     .env = "FAULT_EBPF_PROXY_IP",
     .type = FAULT_OPT_STRING,
     .metavar = "IP",
     .help = "Address of the stealth listener captured connections are sent to (default: the "
             "address of --ebpf-proxy-iface, else 127.0.0.1; IPv6 ones go to ::1)",
     .offset = offsetof(stealth_state, proxy_ip)},
    {.name = "ebpf-proxy-port",
     .env = "FAULT_EBPF_PROXY_PORT",
     .type = FAULT_OPT_INT,
     .def = "0",
     .metavar = "PORT",
     .min = 0,
     .max = 65535,
     .help = "Port of the stealth listener (0: a free port)",
     .offset = offsetof(stealth_state, proxy_port)},
    {.name = "ebpf-proxy-iface",
     .env = "FAULT_EBPF_PROXY_IFACE",
     .type = FAULT_OPT_STRING,
     .metavar = "IFACE",
     .help = "Interface whose IPv4 address the stealth listener binds when --ebpf-proxy-ip is "
             "not given",
     .offset = offsetof(stealth_state, proxy_iface)},
    {.name = "ebpf-programs-dir",
     .env = "FAULT_EBPF_PROGRAMS_DIR",
     .type = FAULT_OPT_STRING,
     .metavar = "DIR",
     .help = "Accepted for the original's command lines: this build embeds its eBPF programs in "
             "the stealth plugin and reads no directory",
     .offset = offsetof(stealth_state, programs_dir)},
    {.name = "ebpf-cgroup",
     .env = "FAULT_EBPF_CGROUP",
     .type = FAULT_OPT_STRING,
     .metavar = "PATH",
     .help = "cgroup v2 directory whose processes (and its descendants') may be captured "
             "(default: the root of the cgroup v2 hierarchy)",
     .offset = offsetof(stealth_state, cgroup)},
    {.name = "ebpf-skip-loopback",
     .env = "FAULT_EBPF_SKIP_LOOPBACK",
     .type = FAULT_OPT_BOOL,
     .def = "false",
     .help = "Leave connections to loopback addresses (127.0.0.0/8, ::1) alone",
     .offset = offsetof(stealth_state, skip_loopback)},
    FAULT_OPTION_END};

/* Stealth options given without --stealth change nothing: said once each
 * on standard error (as fault does for the original's other options it
 * cannot honour), and the run goes on. */
static void warn_without_stealth(fault_plugin *self)
{
    for (const fault_option *o = options + 1; o->name; o++)
        if (fault_option_is_set(self, o->name))
            fprintf(stderr,
                    "fault: --%s (%s): only used by stealth mode (--stealth), which is off; "
                    "ignored\n",
                    o->name, o->env);
}

/* The first IPv4 address of an interface. */
static int iface_ip4(const char *name, struct in_addr *out)
{
    struct ifaddrs *all, *ifa;
    int rc = -1;
    if (getifaddrs(&all) < 0)
        return -1;
    for (ifa = all; ifa; ifa = ifa->ifa_next) {
        if (ifa->ifa_addr && ifa->ifa_addr->sa_family == AF_INET &&
            strcmp(ifa->ifa_name, name) == 0) {
            *out = ((struct sockaddr_in *)ifa->ifa_addr)->sin_addr;
            rc = 0;
            break;
        }
    }
    freeifaddrs(all);
    return rc;
}

static int configure(fault_plugin *self, void *state)
{
    stealth_state *st = state;
    st->self = self;
    if (!st->stealth) {
        warn_without_stealth(self);
        return 0;
    }
    if (!st->process && !st->pid) {
        fault_plugin_error(self, "--stealth: say which processes to capture "
                                 "(--capture-process NAME or --capture-pid PID)");
        return FAULT_EINVAL;
    }
    if (st->process && (!st->process[0] || strchr(st->process, '/'))) {
        fault_plugin_error(self,
                           "--capture-process '%s': a command name, as in "
                           "/proc/PID/comm (not empty, no '/')",
                           st->process);
        return FAULT_EINVAL;
    }
    if (st->pid) {
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/%lld", (long long)st->pid);
        if (access(proc, F_OK) != 0) {
            fault_plugin_error(self, "--capture-pid %lld: no such process", (long long)st->pid);
            return FAULT_EINVAL;
        }
    }
    st->ip4.s_addr = htonl(INADDR_LOOPBACK);
    st->ip6 = in6addr_loopback;
    if (st->proxy_ip) {
        if (inet_pton(AF_INET, st->proxy_ip, &st->ip4) == 1) {
            st->ip_is6 = false;
        } else if (inet_pton(AF_INET6, st->proxy_ip, &st->ip6) == 1) {
            st->ip_is6 = true;
            st->ip4.s_addr = htonl(INADDR_LOOPBACK);
        } else {
            fault_plugin_error(self, "--ebpf-proxy-ip '%s': not an IPv4 or IPv6 address",
                               st->proxy_ip);
            return FAULT_EINVAL;
        }
    } else if (st->proxy_iface) {
        if (if_nametoindex(st->proxy_iface) == 0) {
            fault_plugin_error(self, "--ebpf-proxy-iface '%s': no such interface", st->proxy_iface);
            return FAULT_EINVAL;
        }
        if (iface_ip4(st->proxy_iface, &st->ip4) < 0) {
            fault_plugin_error(self, "--ebpf-proxy-iface '%s': the interface has no IPv4 address",
                               st->proxy_iface);
            return FAULT_EINVAL;
        }
    }
    if (st->cgroup) {
        struct stat sb;
        if (stat(st->cgroup, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            fault_plugin_error(self, "--ebpf-cgroup '%s': not a directory", st->cgroup);
            return FAULT_EINVAL;
        }
        snprintf(st->cgroup_path, sizeof st->cgroup_path, "%s", st->cgroup);
    } else if (stealth_cgroup2_root(st->cgroup_path, sizeof st->cgroup_path) < 0) {
        fault_plugin_error(self, "stealth mode needs a cgroup v2 hierarchy and none is mounted "
                                 "(mount -t cgroup2 none /sys/fs/cgroup, or give --ebpf-cgroup)");
        return FAULT_EINVAL;
    }
    if (st->programs_dir)
        fault_log_info(self,
                       "--ebpf-programs-dir %s: not used, the eBPF programs are built into "
                       "the plugin",
                       st->programs_dir);
    char err[512] = "";
    st->bpf = stealth_bpf_open(st->cgroup_path, err, sizeof err);
    if (!st->bpf) {
        fault_plugin_error(self, "%s", err);
        return FAULT_EINVAL;
    }
    return 0;
}

typedef struct pending {
    fault_stream *s;
    fault_plugin *self;
    char target[INET6_ADDRSTRLEN + 8];
} pending;

static void on_upstream(fault_conn *c, int status, void *ud)
{
    pending *pd = ud;
    fault_stream *s = pd->s;
    if (status < 0) {
        fault_log_warn(pd->self, "%s -> %s: %s", fault_stream_peer(s), pd->target,
                       fault_strerror(status));
        free(pd);
        fault_stream_abort(s, status);
        return;
    }
    free(pd);
    fault_stream_relay(s, c);
}

static void on_accept(fault_listener *l, fault_conn *c, void *ud)
{
    (void)l;
    stealth_state *st = ud;
    stealth_endpoint client, orig;
    const char *peer = fault_conn_peer(c);
    if (stealth_parse_peer(peer, &client) < 0 || stealth_bpf_take(st->bpf, &client, &orig) < 0) {
        fault_log_warn(st->self,
                       "%s: no original destination recorded for this connection "
                       "(not one the eBPF programs captured): reset",
                       peer);
        fault_conn_reset(c);
        return;
    }
    pending *pd = calloc(1, sizeof *pd);
    if (!pd) {
        fault_conn_reset(c);
        return;
    }
    char ip[INET6_ADDRSTRLEN];
    inet_ntop(orig.family, &orig.addr, ip, sizeof ip);
    bool v6 = orig.family == AF_INET6;
    snprintf(pd->target, sizeof pd->target, "%s%s%s:%u", v6 ? "[" : "", ip, v6 ? "]" : "",
             orig.port);
    pd->self = st->self;
    pd->s = fault_stream_new(st->self, c, pd->target);
    if (!pd->s) {
        free(pd);
        fault_conn_reset(c);
        return;
    }
    fault_log_debug(st->self, "%s captured, to %s", peer, pd->target);
    fault_stream *s = pd->s;
    int rc = fault_connect(st->self, s, ip, orig.port, NULL, on_upstream, pd);
    if (rc < 0) {
        free(pd);
        fault_stream_abort(s, rc);
    }
}

static void announce(stealth_state *st, fault_listener *l)
{
    char target[256];
    snprintf(target, sizeof target, "original destinations of %s%s%s%s%s", st->process ? "'" : "",
             st->process ? st->process : "", st->process ? "'" : "",
             st->process && st->pid ? " and " : "", st->pid ? "pid " : "");
    if (st->pid)
        snprintf(target + strlen(target), sizeof target - strlen(target), "%lld",
                 (long long)st->pid);
    fault_event ev = {.type = FAULT_EV_LISTENING, .size = sizeof ev};
    ev.peer = fault_listener_address(l);
    ev.target = target;
    fault_event_publish(st->self, &ev);
    fault_log_info(st->self, "stealth listener on %s -> %s (cgroup %s)", ev.peer, target,
                   st->cgroup_path);
}

static int start(fault_plugin *self, void *state)
{
    stealth_state *st = state;
    if (!st->stealth)
        return 0;
    char ip[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET, &st->ip4, ip, sizeof ip);
    uint16_t want = (uint16_t)st->proxy_port;
    int rc = fault_listen(self, ip, want, on_accept, st, &st->l4);
    if (rc < 0) {
        fault_plugin_error(self, "stealth listener: cannot listen on %s port %u: %s", ip, want,
                           fault_strerror(rc));
        return rc;
    }
    /* IPv6: the same port on ::1 (or the address given) when it is free. */
    uint16_t port4 = fault_listener_port(st->l4);
    inet_ntop(AF_INET6, &st->ip6, ip, sizeof ip);
    rc = fault_listen(self, ip, port4, on_accept, st, &st->l6);
    if (rc == FAULT_EADDRINUSE && !want)
        rc = fault_listen(self, ip, 0, on_accept, st, &st->l6);
    if (rc < 0) {
        fault_log_warn(self, "no stealth listener on %s (%s): IPv6 connections are not captured",
                       ip, fault_strerror(rc));
        st->l6 = NULL;
    }
    stealth_target t = {
        .proxy_tgid = (uint32_t)getpid(),
        .capture_pid = (uint32_t)st->pid,
        .capture_comm = st->process,
        .skip_loopback = st->skip_loopback,
        .ip4 = st->ip4,
        .port4 = port4,
        .has6 = st->l6 != NULL,
        .ip6 = st->ip6,
        .port6 = st->l6 ? fault_listener_port(st->l6) : 0,
    };
    stealth_bpf_enable(st->bpf, &t);
    announce(st, st->l4);
    if (st->l6)
        announce(st, st->l6);
    return 0;
}

/* Capture stops with the run: the programs are detached at once, so that
 * connections made while the relay drains go where they were meant to. */
static void stop(fault_plugin *self, void *state)
{
    (void)self;
    stealth_state *st = state;
    stealth_bpf_close(st->bpf);
    st->bpf = NULL;
    st->l4 = st->l6 = NULL; /* the core closes every listener at stop */
}

static void destroy(fault_plugin *self, void *state)
{
    (void)self;
    stealth_state *st = state;
    stealth_bpf_close(st->bpf);
    st->bpf = NULL;
}

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_PROTOCOL, .name = "stealth", .version = PACKAGE_VERSION,
                    .summary = "Stealth mode: transparent capture of chosen processes' TCP "
                               "connections with eBPF (--stealth)",
                    .license = "Apache-2.0", .options = options,
                    .state_size = sizeof(stealth_state), .configure = configure, .start = start,
                    .stop = stop, .destroy = destroy);
