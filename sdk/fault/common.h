/*
 * fault/common.h - basic types shared by every SDK header.
 *
 * Part of the fault plugin SDK. Installed as <fault/common.h>; include
 * <fault/plugin.h> rather than this file directly.
 */
#ifndef FAULT_COMMON_H
#define FAULT_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define FAULT_BEGIN_DECLS extern "C" {
#define FAULT_END_DECLS   }
#else
#define FAULT_BEGIN_DECLS
#define FAULT_END_DECLS
#endif

/*
 * FAULT_API marks a function exported by libfaultcore. The library is built
 * with -fvisibility=hidden, so only what carries this macro is visible to
 * plugins. FAULT_PLUGIN_EXPORT marks the one symbol a plugin exports.
 * FAULT_DEPRECATED marks a function kept only for plugins built against
 * an older minor: it stays exported for the whole major, but new code gets
 * a warning pointing at its replacement.
 */
#if defined(__GNUC__) || defined(__clang__)
#define FAULT_API               __attribute__((visibility("default")))
#define FAULT_PLUGIN_EXPORT     __attribute__((visibility("default")))
#define FAULT_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define FAULT_DEPRECATED        __attribute__((deprecated))
#else
#define FAULT_DEPRECATED
#define FAULT_API
#define FAULT_PLUGIN_EXPORT
#define FAULT_PRINTF(fmt, args)
#endif

FAULT_BEGIN_DECLS

/* Opaque handle the host keeps for one loaded plugin instance. Every call a
 * plugin makes into the host names its own handle, so that log lines, events
 * and errors say which plugin they came from. */
typedef struct fault_plugin fault_plugin;

/*
 * Which leg of a proxied connection a fault acts on.
 * CLIENT is the leg between the client and the proxy; SERVER is the leg
 * between the proxy and the upstream. ANY matches both.
 */
typedef enum fault_side {
    FAULT_SIDE_CLIENT = 1,
    FAULT_SIDE_SERVER = 2,
    FAULT_SIDE_ANY = 3
} fault_side;

/*
 * Which way bytes flow. EGRESS is client to upstream (requests), INGRESS is
 * upstream to client (responses). BOTH matches both.
 */
typedef enum fault_direction {
    FAULT_DIR_EGRESS = 1,
    FAULT_DIR_INGRESS = 2,
    FAULT_DIR_BOTH = 3
} fault_direction;

/* Names used on the command line and in events: "client", "server",
 * "any"; "egress", "ingress", "both". Never NULL. */
FAULT_API const char *fault_side_name(fault_side side);
FAULT_API const char *fault_direction_name(fault_direction dir);

/*
 * Errors (one convention, ABI 1.3).
 *
 * Every SDK function that can fail reports it the same way: a negative
 * FAULT_E* code, returned (functions returning int or long, where 0 or a
 * count means success) or passed as the status of a callback. Functions
 * returning a pointer return NULL only when memory ran out (FAULT_ENOMEM),
 * unless their comment says otherwise. No other code reaches a plugin:
 * libuv's codes and getaddrinfo()'s are translated by the host, and an
 * unexpected system error arrives as FAULT_EIO (the host logs the
 * original). A plugin returns these codes from its own callbacks too.
 *
 * The system codes have the values of Linux's negated errno (FAULT_EINVAL
 * is -EINVAL), so `return -errno;` after a failed system call is a valid
 * FAULT_E* code when errno is one of them. FAULT_EOF keeps the value
 * (-4095) that ABI 1.0-1.2 documented for the end of a stream, so older
 * plugins that compared with it still work. fault_strerror() describes
 * every code below.
 */
#define FAULT_EOF           (-4095) /* end of stream: the peer closed its side */
#define FAULT_EPERM         (-1)    /* operation not permitted (here, now) */
#define FAULT_ENOENT        (-2)    /* no such file or entry */
#define FAULT_EIO           (-5)    /* input/output error (any other system error) */
#define FAULT_EAGAIN        (-11)   /* try again */
#define FAULT_ENOMEM        (-12)   /* out of memory */
#define FAULT_EACCES        (-13)   /* permission denied */
#define FAULT_EBUSY         (-16)   /* busy: the conditions of the call do not hold */
#define FAULT_EEXIST        (-17)   /* already exists */
#define FAULT_EINVAL        (-22)   /* invalid argument */
#define FAULT_EMFILE        (-24)   /* too many open files */
#define FAULT_EPIPE         (-32)   /* broken pipe: the peer stopped reading */
#define FAULT_ERANGE        (-34)   /* value out of range */
#define FAULT_EPROTO        (-71)   /* protocol error on the wire */
#define FAULT_EMSGSIZE      (-90)   /* message too long */
#define FAULT_ENOTSUP       (-95)   /* not supported here */
#define FAULT_EADDRINUSE    (-98)   /* address already in use */
#define FAULT_EADDRNOTAVAIL (-99)   /* address not available */
#define FAULT_ENETUNREACH   (-101)  /* network unreachable */
#define FAULT_ECONNABORTED  (-103)  /* connection aborted */
#define FAULT_ECONNRESET    (-104)  /* connection reset by peer */
#define FAULT_ENOTCONN      (-107)  /* not connected */
#define FAULT_ETIMEDOUT     (-110)  /* timed out */
#define FAULT_ECONNREFUSED  (-111)  /* connection refused */
#define FAULT_EHOSTUNREACH  (-113)  /* host unreachable */
#define FAULT_ECANCELED     (-125)  /* canceled (the run is stopping) */
/* fault's own conditions. */
#define FAULT_EUNKNOWN (-4000) /* unspecified failure */
#define FAULT_EABI     (-4001) /* plugin built for an incompatible ABI */
#define FAULT_ESYNTAX  (-4002) /* malformed user input */
#define FAULT_ETLS     (-4003) /* TLS handshake or verification failure */
#define FAULT_ERESOLVE (-4004) /* host name did not resolve */

/* A short lower-case description of a FAULT_E* code ("connection reset by
 * peer"); "unknown error" for anything else. Never NULL; a static string. */
FAULT_API const char *fault_strerror(int err);

/* Monotonic clock in microseconds. The same clock the relay and the
 * scheduler use, so values can be compared with fault_chunk.arrived_us. */
FAULT_API uint64_t fault_now_us(void);

FAULT_END_DECLS

#endif /* FAULT_COMMON_H */
