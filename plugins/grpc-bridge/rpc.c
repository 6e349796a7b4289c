/*
 * plugins/grpc-bridge/rpc.c - the bridge's RPC plumbing (see grpc-bridge.c
 * for the whole): the methods it calls, starting a call, the thread that
 * waits on gRPC's completion queue and hands each finished call to the
 * loop (uv_async), channels to remote plugins, and the events and logs of
 * failed calls.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bridge.h"

/* ---- events and logs ---- */

/* The methods of proto/plugin.proto this bridge calls. */
static const struct {
    const char *path;
    const char *name;
    const ProtobufCMessageDescriptor *resp;
} methods[M_COUNT] = {
    {"/plugin.PluginService/HealthCheck", "HealthCheck",
     &plugin__health_check_response__descriptor},
    {"/plugin.PluginService/GetPluginInfo", "GetPluginInfo",
     &plugin__get_plugin_info_response__descriptor},
    {"/plugin.PluginService/GetPluginCapabilities", "GetPluginCapabilities",
     &plugin__get_plugin_capabilities_response__descriptor},
    {"/plugin.PluginService/ProcessHttpRequest", "ProcessHttpRequest",
     &plugin__process_http_request_response__descriptor},
    {"/plugin.PluginService/ProcessHttpResponse", "ProcessHttpResponse",
     &plugin__process_http_response_response__descriptor},
    {"/plugin.PluginService/ProcessTunnelData", "ProcessTunnelData",
     &plugin__process_tunnel_data_response__descriptor},
};

void gb_publish_error(bridge *b, uint64_t conn_id, int err, const char *msg)
{
    if (!fault_event_wanted(FAULT_EV_ERROR))
        return;
    fault_event ev = {.type = FAULT_EV_ERROR, .size = sizeof ev};
    ev.conn_id = conn_id;
    ev.error = err;
    ev.message = msg;
    fault_event_publish(fault_plugin_self(b), &ev);
}

void gb_publish_state(remote *rp, bool enabled)
{
    fault_event ev = {.type = FAULT_EV_FAULT_STATE, .size = sizeof ev};
    ev.fault = rp->label;
    ev.active = enabled;
    fault_event_publish(fault_plugin_self(rp->b), &ev);
}

void gb_publish_applied(remote *rp, uint64_t conn_id, fault_side side, fault_direction dir,
                        const char *action, const char *key, const char *str, double num)
{
    if (!fault_event_wanted(FAULT_EV_FAULT_APPLIED))
        return;
    fault_param params[3] = {{"plugin", rp->url, 0}, {"action", action, 0}, {key, str, num}};
    fault_event_fault_applied(fault_plugin_self(rp->b), conn_id, side, dir, params, key ? 3 : 2);
}

/* A failed call: the data it was about goes on unchanged. Logged loudly
 * the first time a plugin fails a method with a given status, quietly
 * after that, so a broken plugin does not write a line per chunk. */
void gb_call_failed(rpc *r, uint64_t conn_id)
{
    remote *rp = r->rp;
    bridge *b = r->b;
    char msg[512];
    snprintf(msg, sizeof msg, "remote plugin %s: %s failed: %s%s%s; data passed unchanged", rp->url,
             methods[r->method].name, gb_status_name(r->status), r->detail[0] ? ": " : "",
             r->detail);
    fault_log_level lvl =
        rp->last_logged[r->method] == r->status ? FAULT_LOG_DEBUG : FAULT_LOG_WARN;
    rp->last_logged[r->method] = r->status;
    fault_log(fault_plugin_self(b), lvl, "%s", msg);
    int err = r->status == GRPC_STATUS_DEADLINE_EXCEEDED ? -ETIMEDOUT
              : r->status == GRPC_STATUS_UNAVAILABLE     ? -ECONNREFUSED
                                                         : FAULT_EUNKNOWN;
    gb_publish_error(b, conn_id, err, msg);
}

/* ---- calls ---- */

static void rpc_free(rpc *r)
{
    if (r->call)
        grpc_call_unref(r->call);
    grpc_metadata_array_destroy(&r->md_init);
    grpc_metadata_array_destroy(&r->md_trail);
    if (r->out)
        grpc_byte_buffer_destroy(r->out);
    if (r->in)
        grpc_byte_buffer_destroy(r->in);
    grpc_slice_unref(r->details);
    free(r);
}

/* Queues a finished call for the loop (from the queue thread, or from the
 * loop itself when a call could not even start). */
static void handoff(bridge *b, rpc *r)
{
    pthread_mutex_lock(&b->mu);
    r->done_next = NULL;
    if (b->done_tail)
        b->done_tail->done_next = r;
    else
        b->done_head = r;
    b->done_tail = r;
    pthread_mutex_unlock(&b->mu);
    uv_async_send(&b->async);
}

void *gb_queue_thread(void *arg)
{
    bridge *b = arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(b->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        rpc *r = ev.tag;
        r->ok = ev.success != 0;
        handoff(b, r);
    }
    return NULL;
}

/* On the loop thread: decode and deliver one finished call. */
static void rpc_finish(rpc *r)
{
    dl_del(&r->live);
    ProtobufCMessage *msg = NULL;
    if (!r->ok && r->status == GRPC_STATUS_OK)
        r->status = GRPC_STATUS_UNKNOWN;
    if (r->status != GRPC_STATUS_OK && !r->detail[0] && GRPC_SLICE_LENGTH(r->details)) {
        size_t n = GRPC_SLICE_LENGTH(r->details);
        if (n >= sizeof r->detail)
            n = sizeof r->detail - 1;
        memcpy(r->detail, GRPC_SLICE_START_PTR(r->details), n);
        r->detail[n] = '\0';
    }
    if (r->status == GRPC_STATUS_OK) {
        if (!r->in) {
            r->status = GRPC_STATUS_INTERNAL;
            snprintf(r->detail, sizeof r->detail, "no response message");
        } else {
            grpc_byte_buffer_reader rd;
            if (grpc_byte_buffer_reader_init(&rd, r->in)) {
                grpc_slice all = grpc_byte_buffer_reader_readall(&rd);
                grpc_byte_buffer_reader_destroy(&rd);
                msg = protobuf_c_message_unpack(methods[r->method].resp, NULL,
                                                GRPC_SLICE_LENGTH(all), GRPC_SLICE_START_PTR(all));
                grpc_slice_unref(all);
            }
            if (!msg) {
                r->status = GRPC_STATUS_INTERNAL;
                snprintf(r->detail, sizeof r->detail, "undecodable response");
            }
        }
    }
    if (r->cb)
        r->cb(r, msg);
    if (msg)
        protobuf_c_message_free_unpacked(msg, NULL);
    rpc_free(r);
}

void gb_on_async(uv_async_t *a)
{
    bridge *b = a->data;
    pthread_mutex_lock(&b->mu);
    rpc *list = b->done_head;
    b->done_head = b->done_tail = NULL;
    pthread_mutex_unlock(&b->mu);
    while (list) {
        rpc *r = list;
        list = r->done_next;
        rpc_finish(r);
    }
}

grpc_channel *gb_channel_new(bridge *b, remote *rp)
{
    /* No HTTP_PROXY from the environment: plugins are local services and
     * a proxy meant for user traffic must never carry our calls.
     * Reconnection: retry soon (100 ms, at most 1 s apart) so that a plugin
     * that comes back is reachable at the next health check, but give each
     * attempt as long as a call (gRPC takes the minimum backoff as the
     * connect timeout; too short, a busy machine never connects). */
    int connect_ms = (int)(b->timeout_us / 1000);
    if (connect_ms < 1000)
        connect_ms = 1000;
    grpc_arg args[5];
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = (char *)GRPC_ARG_ENABLE_HTTP_PROXY;
    args[0].value.integer = 0;
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = (char *)GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS;
    args[1].value.integer = 100;
    args[2].type = GRPC_ARG_INTEGER;
    args[2].key = (char *)GRPC_ARG_MIN_RECONNECT_BACKOFF_MS;
    args[2].value.integer = connect_ms;
    args[3].type = GRPC_ARG_INTEGER;
    args[3].key = (char *)GRPC_ARG_MAX_RECONNECT_BACKOFF_MS;
    args[3].value.integer = 1000;
    args[4].type = GRPC_ARG_INTEGER;
    args[4].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[4].value.integer = 64 * 1024 * 1024;
    grpc_channel_args ca = {.num_args = 5, .args = args};
    return grpc_channel_create(rp->target, rp->tls ? b->ssl : b->insecure, &ca);
}

/* Starts a unary call. The answer always comes back asynchronously through
 * cb, even when the call cannot start (it then fails with INTERNAL). */
rpc *rpc_start(remote *rp, int method, const ProtobufCMessage *req, rpc_done_cb cb, void *ud)
{
    bridge *b = rp->b;
    rpc *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->b = b;
    r->rp = rp;
    r->method = method;
    r->cb = cb;
    r->ud = ud;
    r->details = grpc_empty_slice();
    grpc_metadata_array_init(&r->md_init);
    grpc_metadata_array_init(&r->md_trail);
    dl_add(&b->rpcs, &r->live);

    /* The request is packed once into a slice the byte buffer takes over:
     * no copy of a tunnel chunk beyond this one. */
    size_t len = protobuf_c_message_get_packed_size(req);
    grpc_slice sl = grpc_empty_slice();
    if (len) {
        uint8_t *buf = malloc(len);
        if (!buf)
            goto fail;
        protobuf_c_message_pack(req, buf);
        sl = grpc_slice_new(buf, len, free);
    }
    r->out = grpc_raw_byte_buffer_create(&sl, 1);
    grpc_slice_unref(sl);

    gpr_timespec deadline = gpr_time_add(
        gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_micros((int64_t)b->timeout_us, GPR_TIMESPAN));
    r->call = grpc_channel_create_call(rp->ch, NULL, GRPC_PROPAGATE_DEFAULTS, b->cq,
                                       grpc_slice_from_static_string(methods[method].path), NULL,
                                       deadline, NULL);
    if (!r->call)
        goto fail;
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = r->out;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &r->md_init;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &r->in;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &r->md_trail;
    ops[5].data.recv_status_on_client.status = &r->status;
    ops[5].data.recv_status_on_client.status_details = &r->details;
    grpc_call_error ce = grpc_call_start_batch(r->call, ops, 6, r, NULL);
    if (ce != GRPC_CALL_OK) {
        snprintf(r->detail, sizeof r->detail, "grpc_call_start_batch: error %d", (int)ce);
        goto fail_started;
    }
    return r;
fail:
    snprintf(r->detail, sizeof r->detail, "could not create the call");
fail_started:
    r->ok = false;
    r->status = GRPC_STATUS_INTERNAL;
    handoff(b, r);
    return r;
}

/* Whoever waited for r is gone: the answer, when it comes, is dropped. */
void rpc_abandon(rpc *r)
{
    if (!r)
        return;
    r->cb = NULL;
    r->ud = NULL;
    if (r->call)
        grpc_call_cancel(r->call, NULL);
}
