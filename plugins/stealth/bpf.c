/*
 * plugins/stealth/bpf.c - the libbpf side of stealth mode: privileges,
 * loading the programs of ebpf/stealth.bpf.c from the skeleton bpftool
 * generated (the object is embedded in it), attaching them to a cgroup
 * and reading the original destinations back.
 *
 * Every attachment is a bpf_link held by a file descriptor of this
 * process and nothing is pinned in bpffs: when fault exits, however it
 * exits (a crash or SIGKILL included), the kernel closes the links and
 * the programs are detached. There is nothing to clean up at the next
 * start.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/magic.h>
#include <linux/types.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "stealth.h"
#include "stealth_maps.h" /* ebpf/: the layout the skeleton refers to */
#include "stealth.skel.h"

struct stealth_bpf_handle {
    struct stealth_bpf *skel;
    int cgroup_fd;
};

/* libbpf's last complaint, for the one line fault prints. libbpf calls
 * this from the thread that called it: configure(), on the main thread. */
static char last_libbpf[256];

static int on_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    if (level == LIBBPF_DEBUG)
        return 0;
    char line[sizeof last_libbpf];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' '))
        line[--n] = '\0';
    if (n > 0)
        memcpy(last_libbpf, line, n + 1);
    return 0;
}

/* Effective capabilities, from /proc/self/status. */
static int effective_caps(uint64_t *caps)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int rc = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long long v;
        if (sscanf(line, "CapEff: %llx", &v) == 1) {
            *caps = v;
            rc = 0;
            break;
        }
    }
    fclose(f);
    return rc;
}

#define CAP_NET_ADMIN_ 12
#define CAP_SYS_ADMIN_ 21
#define CAP_BPF_       39
#define HAS(caps, n)   (((caps) >> (n)) & 1u)

static int check_privileges(char *err, size_t errlen)
{
    uint64_t caps = 0;
    if (effective_caps(&caps) < 0)
        return 0; /* cannot tell: let the kernel say */
    bool admin = HAS(caps, CAP_SYS_ADMIN_);
    bool bpf = admin || HAS(caps, CAP_BPF_);
    bool net = admin || HAS(caps, CAP_NET_ADMIN_);
    if (bpf && net)
        return 0;
    snprintf(err, errlen,
             "stealth mode needs the %s%s%s capabilit%s to load and attach eBPF programs "
             "(run as root, or setcap cap_bpf,cap_net_admin+ep on fault)",
             bpf ? "" : "CAP_BPF", !bpf && !net ? " and " : "", net ? "" : "CAP_NET_ADMIN",
             !bpf && !net ? "ies" : "y");
    return -1;
}

int stealth_cgroup2_root(char *buf, size_t len)
{
    FILE *f = fopen("/proc/self/mountinfo", "r");
    char line[4096];
    int rc = -1;
    if (!f)
        return -1;
    while (rc < 0 && fgets(line, sizeof line, f))
        rc = stealth_mountinfo_cgroup2(line, buf, len);
    fclose(f);
    return rc;
}

static void fail_with(char *err, size_t errlen, const char *what, int error)
{
    if (last_libbpf[0])
        snprintf(err, errlen, "%s: %s (%s)", what, strerror(error), last_libbpf);
    else
        snprintf(err, errlen, "%s: %s", what, strerror(error));
}

stealth_bpf_handle *stealth_bpf_open(const char *cgroup_path, char *err, size_t errlen)
{
    if (check_privileges(err, errlen) < 0)
        return NULL;
    libbpf_set_print(on_libbpf_print);
    last_libbpf[0] = '\0';
    static const struct {
        enum bpf_prog_type type;
        const char *what;
    } needed[] = {
        {BPF_PROG_TYPE_CGROUP_SOCK_ADDR, "cgroup sock_addr programs (cgroup/connect4, connect6)"},
        {BPF_PROG_TYPE_SOCK_OPS, "sockops programs"},
    };
    for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++) {
        if (libbpf_probe_bpf_prog_type(needed[i].type, NULL) != 1) {
            snprintf(err, errlen,
                     "the kernel does not support %s, which stealth mode needs "
                     "(CONFIG_BPF_SYSCALL and CONFIG_CGROUP_BPF)",
                     needed[i].what);
            return NULL;
        }
    }
    stealth_bpf_handle *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->cgroup_fd = open(cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (h->cgroup_fd < 0) {
        snprintf(err, errlen, "--ebpf-cgroup %s: %s", cgroup_path, strerror(errno));
        free(h);
        return NULL;
    }
    struct statfs sfs;
    if (fstatfs(h->cgroup_fd, &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC) {
        snprintf(err, errlen, "--ebpf-cgroup %s: not a directory of a cgroup v2 hierarchy",
                 cgroup_path);
        stealth_bpf_close(h);
        return NULL;
    }
    h->skel = stealth_bpf__open();
    if (!h->skel) {
        fail_with(err, errlen, "cannot open the embedded eBPF object", errno);
        stealth_bpf_close(h);
        return NULL;
    }
    if (stealth_bpf__load(h->skel) != 0) {
        fail_with(err, errlen, "the kernel refused the stealth eBPF programs", errno);
        stealth_bpf_close(h);
        return NULL;
    }
    /* Attached now, inert until stealth_bpf_enable(): a kernel that cannot
     * attach is found before the run starts (exit status 2). */
    struct {
        struct bpf_program *prog;
        struct bpf_link **link;
        const char *name;
    } att[] = {
        {h->skel->progs.stealth_sockops, &h->skel->links.stealth_sockops, "sockops"},
        {h->skel->progs.stealth_connect4, &h->skel->links.stealth_connect4, "cgroup/connect4"},
        {h->skel->progs.stealth_connect6, &h->skel->links.stealth_connect6, "cgroup/connect6"},
    };
    for (size_t i = 0; i < sizeof att / sizeof att[0]; i++) {
        *att[i].link = bpf_program__attach_cgroup(att[i].prog, h->cgroup_fd);
        if (!*att[i].link) {
            int e = errno;
            char what[300];
            snprintf(what, sizeof what, "cannot attach the %s program to cgroup %s", att[i].name,
                     cgroup_path);
            fail_with(err, errlen, what, e);
            stealth_bpf_close(h);
            return NULL;
        }
    }
    return h;
}

void stealth_bpf_enable(stealth_bpf_handle *h, const stealth_target *t)
{
    struct stealth_config *c = &h->skel->bss->cfg;
    c->proxy_tgid = t->proxy_tgid;
    c->capture_pid = t->capture_pid;
    memset(c->capture_comm, 0, sizeof c->capture_comm);
    if (t->capture_comm)
        strncpy(c->capture_comm, t->capture_comm, sizeof c->capture_comm - 1);
    c->skip_loopback = t->skip_loopback;
    memcpy(&c->proxy_ip4, &t->ip4, 4);
    c->proxy_port4 = t->port4;
    memset(c->proxy_ip6, 0, sizeof c->proxy_ip6);
    if (t->has6)
        memcpy(c->proxy_ip6, &t->ip6, 16);
    c->proxy_port6 = t->port6;
    __atomic_store_n(&c->enabled, 1, __ATOMIC_RELEASE);
}

int stealth_bpf_take(stealth_bpf_handle *h, const stealth_endpoint *client, stealth_endpoint *orig)
{
    struct stealth_addr key, val;
    memset(&key, 0, sizeof key);
    key.family = client->family == AF_INET6 ? 6 : 4;
    memcpy(key.addr, &client->addr, client->family == AF_INET6 ? 16 : 4);
    key.port = client->port;
    int fd = bpf_map__fd(h->skel->maps.orig_by_client);
    if (bpf_map_lookup_elem(fd, &key, &val) != 0)
        return -1;
    bpf_map_delete_elem(fd, &key);
    memset(orig, 0, sizeof *orig);
    orig->family = val.family == 6 ? AF_INET6 : AF_INET;
    memcpy(&orig->addr, val.addr, val.family == 6 ? 16 : 4);
    orig->port = val.port;
    return 0;
}

void stealth_bpf_close(stealth_bpf_handle *h)
{
    if (!h)
        return;
    if (h->skel) {
        __atomic_store_n(&h->skel->bss->cfg.enabled, 0, __ATOMIC_RELEASE);
        stealth_bpf__destroy(h->skel); /* destroys the links: detached */
    }
    if (h->cgroup_fd >= 0)
        close(h->cgroup_fd);
    free(h);
}
