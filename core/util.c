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
    case FAULT_SIDE_CLIENT:
        return "client";
    case FAULT_SIDE_SERVER:
        return "server";
    case FAULT_SIDE_ANY:
        return "any";
    }
    return "?";
}

const char *fault_direction_name(fault_direction dir)
{
    switch (dir) {
    case FAULT_DIR_EGRESS:
        return "egress";
    case FAULT_DIR_INGRESS:
        return "ingress";
    case FAULT_DIR_BOTH:
        return "both";
    }
    return "?";
}

const char *fault_plugin_kind_name(fault_plugin_kind kind)
{
    switch (kind) {
    case FAULT_KIND_FAULT:
        return "fault";
    case FAULT_KIND_PROTOCOL:
        return "protocol";
    case FAULT_KIND_PLATFORM:
        return "platform";
    case FAULT_KIND_AGENT:
        return "agent";
    case FAULT_KIND_BRIDGE:
        return "bridge";
    case FAULT_KIND_COMMAND:
        return "command";
    }
    return "unknown";
}

/* The system codes of the SDK, with their descriptions. */
static const struct {
    int code;
    const char *text;
} codes[] = {
    {FAULT_EOF, "end of stream"},
    {FAULT_EPERM, "operation not permitted"},
    {FAULT_ENOENT, "no such file or directory"},
    {FAULT_EIO, "input/output error"},
    {FAULT_EAGAIN, "resource temporarily unavailable"},
    {FAULT_ENOMEM, "out of memory"},
    {FAULT_EACCES, "permission denied"},
    {FAULT_EBUSY, "resource busy"},
    {FAULT_EEXIST, "already exists"},
    {FAULT_EINVAL, "invalid argument"},
    {FAULT_EMFILE, "too many open files"},
    {FAULT_EPIPE, "broken pipe"},
    {FAULT_ERANGE, "value out of range"},
    {FAULT_EPROTO, "protocol error"},
    {FAULT_EMSGSIZE, "message too long"},
    {FAULT_ENOTSUP, "not supported"},
    {FAULT_EADDRINUSE, "address already in use"},
    {FAULT_EADDRNOTAVAIL, "address not available"},
    {FAULT_ENETUNREACH, "network is unreachable"},
    {FAULT_ECONNABORTED, "connection aborted"},
    {FAULT_ECONNRESET, "connection reset by peer"},
    {FAULT_ENOTCONN, "not connected"},
    {FAULT_ETIMEDOUT, "timed out"},
    {FAULT_ECONNREFUSED, "connection refused"},
    {FAULT_EHOSTUNREACH, "host is unreachable"},
    {FAULT_ECANCELED, "operation canceled"},
    {FAULT_EUNKNOWN, "unknown error"},
    {FAULT_EABI, "incompatible plugin ABI"},
    {FAULT_ESYNTAX, "syntax error"},
    {FAULT_ETLS, "TLS handshake failed"},
    {FAULT_ERESOLVE, "name does not resolve"},
};

/* The codes must keep the values of the errno they are named after: the
 * header promises `return -errno;` works. */
_Static_assert(FAULT_EPERM == -EPERM && FAULT_ENOENT == -ENOENT && FAULT_EIO == -EIO &&
                   FAULT_EAGAIN == -EAGAIN && FAULT_ENOMEM == -ENOMEM && FAULT_EACCES == -EACCES &&
                   FAULT_EBUSY == -EBUSY && FAULT_EEXIST == -EEXIST && FAULT_EINVAL == -EINVAL &&
                   FAULT_EMFILE == -EMFILE && FAULT_EPIPE == -EPIPE && FAULT_ERANGE == -ERANGE &&
                   FAULT_EPROTO == -EPROTO && FAULT_EMSGSIZE == -EMSGSIZE &&
                   FAULT_ENOTSUP == -ENOTSUP && FAULT_EADDRINUSE == -EADDRINUSE &&
                   FAULT_EADDRNOTAVAIL == -EADDRNOTAVAIL && FAULT_ENETUNREACH == -ENETUNREACH &&
                   FAULT_ECONNABORTED == -ECONNABORTED && FAULT_ECONNRESET == -ECONNRESET &&
                   FAULT_ENOTCONN == -ENOTCONN && FAULT_ETIMEDOUT == -ETIMEDOUT &&
                   FAULT_ECONNREFUSED == -ECONNREFUSED && FAULT_EHOSTUNREACH == -EHOSTUNREACH &&
                   FAULT_ECANCELED == -ECANCELED,
               "FAULT_E* system codes are Linux's negated errno values");
_Static_assert(FAULT_EOF == UV_EOF, "FAULT_EOF keeps UV_EOF's value for 1.0-1.2 plugins");

const char *fault_strerror(int err)
{
    if (err == 0)
        return "success";
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i].code == err)
            return codes[i].text;
    return "unknown error";
}

int fault__err(int code)
{
    if (code >= 0)
        return code;
    if (code == -EOPNOTSUPP)
        return FAULT_ENOTSUP;
    if (code == -EWOULDBLOCK)
        return FAULT_EAGAIN;
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i].code == code)
            return code;
    switch (code) {
    case UV_EAI_NONAME:
    case UV_EAI_AGAIN:
    case UV_EAI_FAIL:
    case UV_EAI_NODATA:
    case UV_EAI_ADDRFAMILY:
    case UV_EAI_FAMILY:
    case UV_EAI_SERVICE:
        return FAULT_ERESOLVE;
    case UV_EAI_MEMORY:
    case UV_ENOBUFS:
        return FAULT_ENOMEM;
    case UV_ECANCELED:
    case UV_EAI_CANCELED:
        return FAULT_ECANCELED;
    case UV_ENFILE:
        return FAULT_EMFILE;
    case UV_ENOSYS:
        return FAULT_ENOTSUP;
    case UV_ENETDOWN:
        return FAULT_ENETUNREACH;
    case UV_EBADF:
    case UV_ENOTSOCK:
    case UV_EFAULT:
        return FAULT_EINVAL;
    }
    return FAULT_EIO;
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
