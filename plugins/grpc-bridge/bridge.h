/*
 * plugins/grpc-bridge/bridge.h - what the files of the grpc-bridge plugin
 * share (grpc-bridge.c, rpc.c, remote.c, tunnel.c, http.c): the bridge,
 * remote plugin, call and connection types, and the functions one file
 * calls in another. Not an installed header.
 */
#ifndef FAULT_GRPC_BRIDGE_H
#define FAULT_GRPC_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <uv.h>

#include <fault/plugin.h>

#include "plugin.pb-c.h"

/* ---- small intrusive lists ---- */

typedef struct dlink {
    struct dlink *prev, *next;
} dlink;

static inline void dl_init(dlink *h)
{
    h->prev = h->next = h;
}
static inline bool dl_empty(const dlink *h)
{
    return h->next == h;
}
static inline bool dl_linked(const dlink *l)
{
    return l->next != NULL && l->next != l;
}

static inline void dl_add(dlink *h, dlink *l)
{
    l->prev = h->prev;
    l->next = h;
    h->prev->next = l;
    h->prev = l;
}

static inline void dl_del(dlink *l)
{
    if (!l->next)
        return;
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->prev = l->next = NULL;
}

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* ---- types ---- */

typedef struct bridge bridge;
typedef struct remote remote;
typedef struct rpc rpc;
typedef struct conn conn;

enum { M_HEALTH, M_INFO, M_CAPS, M_HTTP_REQ, M_HTTP_RESP, M_TUNNEL, M_COUNT };

/* Called on the loop thread when a call ended; resp is the decoded answer,
 * or NULL when the call failed (r->status, r->detail say why). */
typedef void (*rpc_done_cb)(rpc *r, ProtobufCMessage *resp);

struct rpc {
    bridge *b;
    remote *rp;
    int method;
    grpc_call *call;
    grpc_metadata_array md_init, md_trail;
    grpc_byte_buffer *out, *in;
    grpc_status_code status;
    grpc_slice details;
    char detail[256];
    rpc_done_cb cb; /* NULL once whoever waited for the answer is gone */
    void *ud;
    dlink live;     /* bridge.rpcs, loop thread only */
    bool ok;        /* written by the queue thread before hand-off */
    rpc *done_next; /* hand-off list, under bridge.mu */
};

typedef enum { RP_STARTING, RP_ENABLED, RP_DISABLED } rp_status;

/* Consecutive deadline misses under traffic after which a plugin is taken
 * out until its next successful health check: a hung plugin would
 * otherwise cost every chunk a full deadline. */
#define DEADLINE_STRIKES 3
#define FAULT_STR_(x)    #x
#define FAULT_STR(x)     FAULT_STR_(x)

struct remote {
    bridge *b;
    unsigned idx;    /* 1-based, in the order given */
    char *url;       /* as given */
    char *target;    /* gRPC target */
    char label[160]; /* "grpc:URL", for events */
    bool tls;
    grpc_channel *ch;
    rp_status status;
    bool initial;  /* the start-up handshake is running */
    bool checking; /* a health check or re-handshake is in flight */
    bool fresh_channel_wanted;
    /* GetPluginInfo */
    char *name, *version, *author, *home, *platform;
    int info_side, info_dir;
    /* GetPluginCapabilities */
    bool caps_known, http, tunnel, pg;
    unsigned strikes;
    grpc_status_code last_logged[M_COUNT]; /* to log a failure once, not per chunk */
    bool method_warned, path_warned;
};

/* One tunnel direction's decision for the chunk at the head of our stage. */
typedef struct tjob {
    conn *c;
    fault_direction dir;
    bool busy;             /* plugins are being asked */
    bool ready;            /* every plugin had its say: apply */
    bool in_hook;          /* inside on_data: finish without waking */
    const fault_chunk *cp; /* identity of the chunk decided for */
    uint64_t off;
    size_t olen;
    uint8_t *buf; /* the bytes as they stand (plugins may replace) */
    size_t len;
    bool changed;
    bool close;
    char reason[200];
    const remote *closer;
    uint64_t release_us; /* Buffer: not before this time */
    unsigned next;       /* index of the next plugin to ask */
    rpc *call;
    dlink park; /* bridge.tpark while the start-up handshakes run */
} tjob;

struct conn {
    bridge *b;
    fault_stream *s;
    uint64_t sid;
    char id[40]; /* per-connection UUID sent as ProcessTunnelDataRequest.id */
    bool http;   /* an HTTP session: its bytes belong to the HTTP hooks */
    bool pg;     /* a psql:// or psqls:// mapping's connection */
    tjob t[2];   /* [0] egress, [1] ingress */
    conn *hnext; /* bridge.conns bucket */
};

typedef struct hjob {
    bridge *b;
    fault_http_exchange *x;
    bool response; /* on_response rather than on_request */
    bool in_hook;
    bool finished;
    fault_http_action result;
    unsigned next;
    rpc *call;
    dlink link; /* bridge.hlive or bridge.hpark */
    bool parked;
} hjob;

#define NBUCKETS 1024

struct bridge {
    /* options */
    fault_strv urls;
    uint64_t timeout_us;
    uint64_t health_us;
    int64_t body_limit;
    /* derived */
    remote *rps;
    unsigned nrp;
    bool grpc_up, started, stopping;
    grpc_completion_queue *cq;
    grpc_channel_credentials *insecure, *ssl;
    pthread_t thread;
    bool thread_up;
    pthread_mutex_t mu;
    rpc *done_head, *done_tail; /* under mu */
    uv_async_t async;
    uv_timer_t health;
    unsigned starting;  /* start-up handshakes still running */
    dlink rpcs;         /* calls in flight */
    dlink tpark, hpark; /* work waiting for the start-up handshakes */
    dlink hlive;        /* HTTP hooks waiting for an answer */
    conn *conns[NBUCKETS];
};

/* ---- shared between the files ---- */

/* grpc-bridge.c: helpers */
const char *gb_status_name(grpc_status_code st);
char *gb_strdup(const char *s);
const char *rp_name(const remote *rp);

/* rpc.c: RPC plumbing, events and logs */
void gb_publish_error(bridge *b, uint64_t conn_id, int err, const char *msg);
void gb_publish_state(remote *rp, bool enabled);
void gb_publish_applied(remote *rp, uint64_t conn_id, fault_side side, fault_direction dir,
                        const char *action, const char *key, const char *str, double num);
void gb_call_failed(rpc *r, uint64_t conn_id);
void *gb_queue_thread(void *arg);
void gb_on_async(uv_async_t *a);
grpc_channel *gb_channel_new(bridge *b, remote *rp);
rpc *rpc_start(remote *rp, int method, const ProtobufCMessage *req, rpc_done_cb cb, void *ud);
void rpc_abandon(rpc *r);

/* remote.c: remote plugin state */
void gb_traffic_failure(remote *rp, grpc_status_code st);
void gb_traffic_success(remote *rp);
void gb_handshake(remote *rp);
void gb_on_health_timer(uv_timer_t *t);

/* tunnel.c: tunnels */
conn *gb_conn_find(bridge *b, const fault_stream *s);
int gb_attach(void *state, fault_stream *s, void **cs_out, uint32_t *points);
void gb_tjob_reset(tjob *j);
void gb_detach(void *state, void *cs, fault_stream *s);
fault_action gb_on_data(void *state, void *cs, fault_stream *s, fault_side side,
                        fault_direction dir, fault_chunk *ch, fault_verdict *v);

/* http.c: HTTP */
fault_http_action gb_on_request(void *state, fault_http_exchange *x);
fault_http_action gb_on_response(void *state, fault_http_exchange *x);
void gb_on_end(void *state, fault_http_exchange *x);
void gb_release_parked(bridge *b);

#endif /* FAULT_GRPC_BRIDGE_H */
