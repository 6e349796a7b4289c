/*
 * fault/event.h - the event bus.
 *
 * The core and plugins publish typed events; subscribers (the terminal
 * summary, `--tail`, the logger, later results collection and telemetry)
 * receive them synchronously on the loop thread, in publication order.
 * An event and everything it points to are valid only during delivery:
 * a subscriber that keeps something copies it.
 *
 * Publishing is cheap when nobody listens: fault_event_wanted() lets a hot
 * path skip building an event no subscriber asked for.
 */
#ifndef FAULT_EVENT_H
#define FAULT_EVENT_H

#include <fault/common.h>

FAULT_BEGIN_DECLS

typedef enum fault_event_type {
    FAULT_EV_LISTENING = 1,     /* a listener is ready: addr, target */
    FAULT_EV_CONN_OPEN = 2,     /* a proxied connection started: peer, target */
    FAULT_EV_CONN_CLOSE = 3,    /* it ended: bytes_egress, bytes_ingress, error */
    FAULT_EV_BYTES = 4,         /* bytes moved: side, direction, bytes */
    FAULT_EV_FAULT_APPLIED = 5, /* a fault acted: fault, side, direction, params */
    FAULT_EV_FAULT_STATE = 6,   /* a fault was switched on/off by its schedule */
    FAULT_EV_HTTP_REQUEST = 7,  /* method, url */
    FAULT_EV_HTTP_RESPONSE = 8, /* status, url */
    FAULT_EV_ERROR = 9,         /* error, message */
    FAULT_EV_MAX_ = 32
} fault_event_type;

#define FAULT_EVMASK(t)  (1u << (t))
#define FAULT_EVMASK_ALL 0xffffffffu

/* One named parameter of an applied fault. When str is NULL the value is
 * the number num; otherwise it is the string str. */
typedef struct fault_param {
    const char *key;
    const char *str;
    double num;
} fault_param;

typedef struct fault_event {
    uint32_t type;    /* fault_event_type */
    uint32_t size;    /* sizeof(fault_event) as the publisher knew it */
    uint64_t time_us; /* fault_now_us() at publication; the host fills it */
    uint64_t wall_us; /* wall clock (unix epoch, us); the host fills it */
    uint64_t conn_id; /* connection the event belongs to, 0 for none */
    const char
        *source; /* fault_plugin_name(): "latency", "latency#2", or "core"; the host fills it */

    /* CONN_OPEN, CONN_CLOSE, LISTENING, HTTP_*: who and where. */
    const char *peer;   /* "127.0.0.1:51234" or NULL */
    const char *target; /* "example.com:443" or NULL */

    /* BYTES, FAULT_APPLIED: where on the connection. 0 when not relevant. */
    fault_side side;
    fault_direction direction;
    uint64_t bytes; /* BYTES */

    /* CONN_CLOSE: totals for the connection. */
    uint64_t bytes_egress, bytes_ingress;

    /* FAULT_APPLIED, FAULT_STATE: the fault's instance name ("latency",
     * "latency#2") and its parameters ({"delay_ms", NULL, 102.4}, ...). */
    const char *fault;
    const fault_param *params;
    size_t nparams;
    bool active; /* FAULT_STATE: new state */

    /* HTTP_REQUEST / HTTP_RESPONSE. */
    const char *method;
    const char *url;
    int status;

    /* ERROR, CONN_CLOSE: error code (negative) and text, 0/NULL if none. */
    int error;
    const char *message;

    void *reserved[4];
} fault_event;

typedef void (*fault_event_cb)(const fault_event *ev, void *userdata);

/* Publishes ev on behalf of self (which may be NULL for the core). The host
 * fills time_us, wall_us and source. */
FAULT_API void fault_event_publish(fault_plugin *self, fault_event *ev);

/* True when some subscriber wants events of this type. */
FAULT_API bool fault_event_wanted(fault_event_type type);

/* Subscribes cb to the event types in mask (FAULT_EVMASK bits). Returns a
 * positive subscription id, or a negative error. Subscriptions made by a
 * plugin are dropped with it. */
FAULT_API int fault_event_subscribe(fault_plugin *self, uint32_t mask, fault_event_cb cb,
                                    void *userdata);
FAULT_API void fault_event_unsubscribe(int id);

/* Convenience for fault plugins: publishes FAULT_APPLIED with the plugin's
 * name as the fault. */
FAULT_API void fault_event_fault_applied(fault_plugin *self, uint64_t conn_id, fault_side side,
                                         fault_direction dir, const fault_param *params,
                                         size_t nparams);

/* Name of an event type ("conn_open", ...). */
FAULT_API const char *fault_event_type_name(fault_event_type type);

FAULT_END_DECLS

#endif /* FAULT_EVENT_H */
