/*
 * core/util.c - small shared helpers: names, error strings, the clock.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

FILE *fault__open_output(const char *path, bool append)
{
    int how = O_WRONLY | O_CLOEXEC | (append ? O_APPEND : 0);
    int fd = open(path, how | O_CREAT | O_NOFOLLOW | (append ? 0 : O_TRUNC), 0644);
    if (fd < 0 && errno == ELOOP) {
        /* A link: written through only when it leads to no regular file
         * (opened without O_CREAT or O_TRUNC, so nothing changed yet). */
        fd = open(path, how);
        struct stat sb;
        if (fd >= 0 && (fstat(fd, &sb) != 0 || S_ISREG(sb.st_mode))) {
            close(fd);
            errno = ELOOP;
            return NULL;
        }
    }
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, append ? "a" : "w");
    if (!f) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return f;
}

const char *fault_side_name(fault_side side)
{
    switch (side) {
    case FAULT_SIDE_CLIENT: return "client";
    case FAULT_SIDE_SERVER: return "server";
    case FAULT_SIDE_ANY: return "any";
    }
    return "?";
}

const char *fault_direction_name(fault_direction dir)
{
    switch (dir) {
    case FAULT_DIR_EGRESS: return "egress";
    case FAULT_DIR_INGRESS: return "ingress";
    case FAULT_DIR_BOTH: return "both";
    }
    return "?";
}

const char *fault_plugin_kind_name(fault_plugin_kind kind)
{
    switch (kind) {
    case FAULT_KIND_FAULT: return "fault";
    case FAULT_KIND_PROTOCOL: return "protocol";
    case FAULT_KIND_PLATFORM: return "platform";
    case FAULT_KIND_AGENT: return "agent";
    case FAULT_KIND_BRIDGE: return "bridge";
    case FAULT_KIND_COMMAND: return "command";
    }
    return "unknown";
}

const char *fault_strerror(int err)
{
    switch (err) {
    case 0: return "success";
    case FAULT_EUNKNOWN: return "unknown error";
    case FAULT_EABI: return "incompatible plugin ABI";
    case FAULT_ESYNTAX: return "syntax error";
    case FAULT_ETLS: return "TLS handshake failed";
    case FAULT_ERESOLVE: return "name does not resolve";
    }
    if (err < 0 && err > -4000) {
        /* libuv codes are negated errno values on Unix. */
        return uv_strerror(err);
    }
    return "unknown error";
}

uint64_t fault_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint32_t fault_points(fault_side side, fault_direction dir)
{
    uint32_t m = 0;
    if ((side & FAULT_SIDE_CLIENT) && (dir & FAULT_DIR_EGRESS))
        m |= FAULT_POINT_CLIENT_EGRESS;
    if ((side & FAULT_SIDE_CLIENT) && (dir & FAULT_DIR_INGRESS))
        m |= FAULT_POINT_CLIENT_INGRESS;
    if ((side & FAULT_SIDE_SERVER) && (dir & FAULT_DIR_EGRESS))
        m |= FAULT_POINT_SERVER_EGRESS;
    if ((side & FAULT_SIDE_SERVER) && (dir & FAULT_DIR_INGRESS))
        m |= FAULT_POINT_SERVER_INGRESS;
    return m;
}
