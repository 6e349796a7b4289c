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
#define FAULT_END_DECLS }
#else
#define FAULT_BEGIN_DECLS
#define FAULT_END_DECLS
#endif

/*
 * FAULT_API marks a function exported by libfaultcore. The library is built
 * with -fvisibility=hidden, so only what carries this macro is visible to
 * plugins. FAULT_PLUGIN_EXPORT marks the one symbol a plugin exports.
 */
#if defined(__GNUC__) || defined(__clang__)
#define FAULT_API __attribute__((visibility("default")))
#define FAULT_PLUGIN_EXPORT __attribute__((visibility("default")))
#define FAULT_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
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

/* Project error codes, all negative, beside negative errno values.
 * fault_strerror() describes both. */
#define FAULT_EUNKNOWN (-4000) /* unspecified failure */
#define FAULT_EABI (-4001)     /* plugin built for an incompatible ABI */
#define FAULT_ESYNTAX (-4002)  /* malformed user input */
#define FAULT_ETLS (-4003)     /* TLS handshake or verification failure */
#define FAULT_ERESOLVE (-4004) /* host name did not resolve */

FAULT_API const char *fault_strerror(int err);

/* Monotonic clock in microseconds. The same clock the relay and the
 * scheduler use, so values can be compared with fault_chunk.arrived_us. */
FAULT_API uint64_t fault_now_us(void);

FAULT_END_DECLS

#endif /* FAULT_COMMON_H */
