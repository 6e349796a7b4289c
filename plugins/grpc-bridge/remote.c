/*
 * plugins/grpc-bridge/remote.c - the state of one remote plugin (see
 * grpc-bridge.c for the whole): STARTING while GetPluginInfo and
 * GetPluginCapabilities are in flight, ENABLED, or DISABLED; the periodic
 * HealthCheck that disables a plugin that stopped answering and re-enables
 * one that came back; strikes under traffic.
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

/* ---- remote plugin state ---- */

static void set_status(remote *rp, rp_status st, const char *why)
{
    rp_status old = rp->status;
    rp->status = st;
    if (st == RP_ENABLED) {
        rp->strikes = 0;
        memset(rp->last_logged, 0, sizeof rp->last_logged);
        char what[64] = "";
        snprintf(what, sizeof what, "%s%s%s", rp->http ? " http" : "", rp->tunnel ? " tunnel" : "",
                 rp->pg ? " postgresql" : "");
        fault_log_info(fault_plugin_self(rp->b),
                       "remote plugin %u %s: %s %s (author '%s', platform '%s'): %s for%s", rp->idx,
                       rp->url, rp_name(rp), rp->version ? rp->version : "",
                       rp->author ? rp->author : "", rp->platform ? rp->platform : "",
                       old == RP_DISABLED ? "enabled again" : "enabled",
                       what[0] ? what : " nothing (no capability)");
        gb_publish_state(rp, true);
    } else if (st == RP_DISABLED) {
        fault_log_warn(fault_plugin_self(rp->b),
                       "remote plugin %u %s: disabled (%s); traffic goes on untouched", rp->idx,
                       rp->url, why);
        rp->fresh_channel_wanted = true;
        if (old != RP_DISABLED)
            gb_publish_state(rp, false);
    }
    if (rp->initial) {
        rp->initial = false;
        if (--rp->b->starting == 0)
            gb_release_parked(rp->b);
    }
}

/* A traffic call failed: a plugin whose connection is gone, or that keeps
 * missing its deadline, is taken out until a health check brings it back. */
void gb_traffic_failure(remote *rp, grpc_status_code st)
{
    if (rp->status != RP_ENABLED)
        return;
    if (st == GRPC_STATUS_UNAVAILABLE) {
        set_status(rp, RP_DISABLED, "unreachable");
    } else if (st == GRPC_STATUS_DEADLINE_EXCEEDED) {
        if (++rp->strikes >= DEADLINE_STRIKES)
            set_status(rp, RP_DISABLED,
                       "missed its deadline " FAULT_STR(DEADLINE_STRIKES) " times in a row");
    }
}

void gb_traffic_success(remote *rp)
{
    rp->strikes = 0;
}

static void handshake_caps_done(rpc *r, ProtobufCMessage *m)
{
    remote *rp = r->rp;
    rp->checking = false;
    if (r->b->stopping)
        return;
    if (!m) {
        char why[400];
        snprintf(why, sizeof why, "GetPluginCapabilities: %s%s%s", gb_status_name(r->status),
                 r->detail[0] ? ": " : "", r->detail);
        gb_publish_error(r->b, 0, FAULT_EUNKNOWN, why);
        set_status(rp, RP_DISABLED, why);
        return;
    }
    Plugin__GetPluginCapabilitiesResponse *c = (Plugin__GetPluginCapabilitiesResponse *)m;
    rp->caps_known = true;
    rp->http = c->can_handle_http_forward;
    rp->tunnel = c->can_handle_tunnel;
    rp->pg = false;
    for (size_t i = 0; i < c->n_protocols; i++)
        if (c->protocols[i] ==
            PLUGIN__GET_PLUGIN_CAPABILITIES_RESPONSE__SUPPORTED_PROTOCOL__POSTGRESQL)
            rp->pg = true;
    set_status(rp, RP_ENABLED, NULL);
}

static void replace_str(char **dst, const char *src)
{
    free(*dst);
    *dst = gb_strdup(src);
}

static void handshake_info_done(rpc *r, ProtobufCMessage *m)
{
    remote *rp = r->rp;
    if (r->b->stopping) {
        rp->checking = false;
        return;
    }
    if (!m) {
        rp->checking = false;
        char why[400];
        snprintf(why, sizeof why, "GetPluginInfo: %s%s%s", gb_status_name(r->status),
                 r->detail[0] ? ": " : "", r->detail);
        gb_publish_error(r->b, 0, FAULT_EUNKNOWN, why);
        set_status(rp, RP_DISABLED, why);
        return;
    }
    Plugin__GetPluginInfoResponse *i = (Plugin__GetPluginInfoResponse *)m;
    replace_str(&rp->name, i->name);
    replace_str(&rp->version, i->version);
    replace_str(&rp->author, i->author);
    replace_str(&rp->home, i->url);
    replace_str(&rp->platform, i->platform);
    rp->info_side = i->side;
    rp->info_dir = i->direction;
    Plugin__GetPluginCapabilitiesRequest req = PLUGIN__GET_PLUGIN_CAPABILITIES_REQUEST__INIT;
    if (!rpc_start(rp, M_CAPS, &req.base, handshake_caps_done, NULL)) {
        rp->checking = false;
        set_status(rp, RP_DISABLED, "out of memory");
    }
}

/* GetPluginInfo then GetPluginCapabilities; ENABLED when both answered. */
void gb_handshake(remote *rp)
{
    rp->checking = true;
    Plugin__GetPluginInfoRequest req = PLUGIN__GET_PLUGIN_INFO_REQUEST__INIT;
    if (!rpc_start(rp, M_INFO, &req.base, handshake_info_done, NULL)) {
        rp->checking = false;
        set_status(rp, RP_DISABLED, "out of memory");
    }
}

static void health_done(rpc *r, ProtobufCMessage *m)
{
    remote *rp = r->rp;
    if (r->b->stopping) {
        rp->checking = false;
        return;
    }
    Plugin__HealthCheckResponse *h = (Plugin__HealthCheckResponse *)m;
    if (h && h->healthy) {
        if (rp->status == RP_ENABLED) {
            rp->checking = false;
            return;
        }
        /* It came back: who it is and what it wants may have changed. */
        fault_log_info(fault_plugin_self(rp->b), "remote plugin %u %s: healthy again", rp->idx,
                       rp->url);
        gb_handshake(rp);
        return;
    }
    rp->checking = false;
    char why[400];
    if (h)
        snprintf(why, sizeof why, "HealthCheck: unhealthy%s%s", h->message[0] ? ": " : "",
                 h->message);
    else
        snprintf(why, sizeof why, "HealthCheck: %s%s%s", gb_status_name(r->status),
                 r->detail[0] ? ": " : "", r->detail);
    if (rp->status == RP_ENABLED) {
        gb_publish_error(r->b, 0, h ? FAULT_EUNKNOWN : -ECONNREFUSED, why);
        set_status(rp, RP_DISABLED, why);
    } else {
        fault_log_debug(fault_plugin_self(rp->b), "remote plugin %u %s: still disabled (%s)",
                        rp->idx, rp->url, why);
        rp->fresh_channel_wanted = true;
    }
}

void gb_on_health_timer(uv_timer_t *t)
{
    bridge *b = t->data;
    if (b->stopping)
        return;
    for (unsigned i = 0; i < b->nrp; i++) {
        remote *rp = &b->rps[i];
        if (rp->checking || rp->status == RP_STARTING)
            continue;
        if (rp->fresh_channel_wanted) {
            /* A new channel connects at once, whatever backoff the old one
             * was in after the plugin went away. */
            grpc_channel *ch = gb_channel_new(b, rp);
            if (ch) {
                grpc_channel_destroy(rp->ch);
                rp->ch = ch;
                rp->fresh_channel_wanted = false;
            }
        }
        rp->checking = true;
        Plugin__HealthCheckRequest req = PLUGIN__HEALTH_CHECK_REQUEST__INIT;
        if (!rpc_start(rp, M_HEALTH, &req.base, health_done, NULL))
            rp->checking = false;
    }
}
