/*
 * plugins/grpc-bridge/tunnel.c - tunnels through remote plugins (see
 * grpc-bridge.c for the whole): a connection's stages on both
 * directions, each chunk sent to ProcessTunnelData in turn and the answer
 * applied (PassThrough, Replace, Buffer, Close).
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

static void tjob_step(tjob *j);

/* ---- connections ---- */

static size_t bucket_of(const fault_stream *s)
{
    uintptr_t v = (uintptr_t)s;
    v ^= v >> 17;
    v *= 0x9E3779B97F4A7C15ull;
    return (size_t)(v >> 40) % NBUCKETS;
}

conn *gb_conn_find(bridge *b, const fault_stream *s)
{
    if (!s)
        return NULL;
    for (conn *c = b->conns[bucket_of(s)]; c; c = c->hnext)
        if (c->s == s)
            return c;
    return NULL;
}

static void make_uuid(fault_rng *rng, char *out, size_t len)
{
    uint64_t hi = fault_rng_u64(rng), lo = fault_rng_u64(rng);
    hi = (hi & ~(uint64_t)0xf000) | 0x4000;                    /* version 4 */
    lo = (lo & 0x3fffffffffffffffull) | 0x8000000000000000ull; /* RFC 4122 variant */
    snprintf(out, len, "%08" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%012" PRIx64,
             hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff, lo >> 48, lo & (uint64_t)0xffffffffffff);
}

/* Whether some plugin may ever want this connection's bytes: a run whose
 * plugins are all known to handle HTTP only keeps the plain relay. */
static bool tunnel_possible(const bridge *b)
{
    for (unsigned i = 0; i < b->nrp; i++) {
        const remote *rp = &b->rps[i];
        if (!rp->caps_known || rp->tunnel || rp->pg)
            return true;
    }
    return false;
}

int gb_attach(void *state, fault_stream *s, void **cs_out, uint32_t *points)
{
    bridge *b = state;
    *points = 0;
    if (b->nrp == 0 || !b->started || b->stopping || !tunnel_possible(b))
        return 0;
    conn *c = calloc(1, sizeof *c);
    if (!c)
        return FAULT_ENOMEM;
    c->b = b;
    c->s = s;
    c->sid = fault_stream_id(s);
    /* psqls:// too: the handler's chains carry the protocol in plaintext
     * (TLS is added after them, on the server leg). */
    c->pg =
        strcmp(fault_stream_scheme(s), "psql") == 0 || strcmp(fault_stream_scheme(s), "psqls") == 0;
    make_uuid(fault_plugin_rng(fault_plugin_self(b)), c->id, sizeof c->id);
    for (int d = 0; d < 2; d++) {
        c->t[d].c = c;
        c->t[d].dir = d == 0 ? FAULT_DIR_EGRESS : FAULT_DIR_INGRESS;
    }
    size_t k = bucket_of(s);
    c->hnext = b->conns[k];
    b->conns[k] = c;
    /* The server leg: in an HTTP session its chains only carry bytes after
     * the request hooks ran, so the session is known to be HTTP (and its
     * bytes left to the HTTP hooks) before any of them reaches us. */
    *points = FAULT_POINT_SERVER_EGRESS | FAULT_POINT_SERVER_INGRESS;
    *cs_out = c;
    return 0;
}

void gb_tjob_reset(tjob *j)
{
    rpc_abandon(j->call);
    j->call = NULL;
    dl_del(&j->park);
    free(j->buf);
    j->buf = NULL;
    j->len = 0;
    j->busy = j->ready = j->changed = j->close = false;
    j->reason[0] = '\0';
    j->closer = NULL;
    j->release_us = 0;
    j->next = 0;
    j->cp = NULL;
}

void gb_detach(void *state, void *cs, fault_stream *s)
{
    bridge *b = state;
    conn *c = cs;
    if (!c)
        return;
    for (conn **pp = &b->conns[bucket_of(s)]; *pp; pp = &(*pp)->hnext) {
        if (*pp == c) {
            *pp = c->hnext;
            break;
        }
    }
    gb_tjob_reset(&c->t[0]);
    gb_tjob_reset(&c->t[1]);
    free(c);
}

static bool wants(const remote *rp, const conn *c)
{
    return rp->status == RP_ENABLED && (rp->tunnel || (rp->pg && c->pg));
}

static void tunnel_done(rpc *r, ProtobufCMessage *m)
{
    tjob *j = r->ud;
    remote *rp = r->rp;
    conn *c = j->c;
    j->call = NULL;
    j->next = rp->idx; /* rp->idx is 1-based: the next plugin */
    fault_side side = FAULT_SIDE_SERVER;
    if (!m) {
        gb_call_failed(r, c->sid);
        gb_traffic_failure(rp, r->status);
        tjob_step(j);
        return;
    }
    gb_traffic_success(rp);
    Plugin__ProcessTunnelDataResponse *t = (Plugin__ProcessTunnelDataResponse *)m;
    const ProtobufCBinaryData *nd = NULL;
    switch (t->action_case) {
    case PLUGIN__PROCESS_TUNNEL_DATA_RESPONSE__ACTION_PASS_THROUGH:
        /* An empty chunk means "as it was": plugins that just answer
         * PassThrough() must not erase the data. */
        if (t->pass_through->chunk.len)
            nd = &t->pass_through->chunk;
        break;
    case PLUGIN__PROCESS_TUNNEL_DATA_RESPONSE__ACTION_REPLACE:
        nd = &t->replace->modified_chunk;
        break;
    case PLUGIN__PROCESS_TUNNEL_DATA_RESPONSE__ACTION_BUFFER: {
        /* Held for the time the plugin estimates, then released (the
         * original held it forever). Delays of chained plugins add up. */
        int32_t ms = t->buffer->estimated_time_to_release_ms;
        if (ms < 0)
            ms = 0;
        uint64_t now = fault_now_us();
        if (j->release_us < now)
            j->release_us = now;
        j->release_us += (uint64_t)ms * 1000u;
        fault_log_debug(fault_plugin_self(r->b), "#%" PRIu64 " %s: %s buffers %zu bytes for %d ms",
                        c->sid, fault_direction_name(j->dir), rp_name(rp), j->len, (int)ms);
        gb_publish_applied(rp, c->sid, side, j->dir, "buffer", "delay_ms", NULL, (double)ms);
        break;
    }
    case PLUGIN__PROCESS_TUNNEL_DATA_RESPONSE__ACTION_CLOSE:
        j->close = true;
        j->closer = rp;
        snprintf(j->reason, sizeof j->reason, "%s", t->close->reason ? t->close->reason : "");
        gb_publish_applied(rp, c->sid, side, j->dir, "close", "reason", j->reason, 0);
        break;
    default:
        break; /* no action: as a pass-through */
    }
    if (nd && (nd->len != j->len || (nd->len && memcmp(nd->data, j->buf, nd->len) != 0))) {
        uint8_t *nb = malloc(nd->len ? nd->len : 1);
        if (nb) {
            if (nd->len)
                memcpy(nb, nd->data, nd->len);
            fault_log_debug(fault_plugin_self(r->b),
                            "#%" PRIu64 " %s: %s replaced %zu bytes with %zu", c->sid,
                            fault_direction_name(j->dir), rp_name(rp), j->len, nd->len);
            free(j->buf);
            j->buf = nb;
            j->len = nd->len;
            j->changed = true;
            gb_publish_applied(rp, c->sid, side, j->dir, "replace", "bytes", NULL, (double)j->len);
        }
    }
    tjob_step(j);
}

/* Asks the next plugin that wants this connection, or finishes. */
static void tjob_step(tjob *j)
{
    conn *c = j->c;
    bridge *b = c->b;
    while (!j->close && !b->stopping && j->next < b->nrp) {
        remote *rp = &b->rps[j->next];
        if (!wants(rp, c)) {
            j->next++;
            continue;
        }
        Plugin__ProcessTunnelDataRequest req = PLUGIN__PROCESS_TUNNEL_DATA_REQUEST__INIT;
        req.id = c->id;
        req.side = PLUGIN__PROCESS_TUNNEL_DATA_REQUEST__SIDE__SERVER;
        req.direction = j->dir == FAULT_DIR_EGRESS
                            ? PLUGIN__PROCESS_TUNNEL_DATA_REQUEST__DIRECTION__EGRESS
                            : PLUGIN__PROCESS_TUNNEL_DATA_REQUEST__DIRECTION__INGRESS;
        req.chunk.data = j->buf;
        req.chunk.len = j->len;
        j->call = rpc_start(rp, M_TUNNEL, &req.base, tunnel_done, j);
        if (j->call)
            return;
        j->next++;
    }
    j->busy = false;
    j->ready = true;
    if (!j->in_hook)
        fault_stream_wake(c->s);
}

static fault_action tjob_apply(tjob *j, fault_stream *s, fault_chunk *ch, fault_verdict *v)
{
    bridge *b = j->c->b;
    fault_action a = FAULT_PASS;
    if (j->close) {
        fault_log_info(fault_plugin_self(b), "#%" PRIu64 " closed by remote plugin %s: %s",
                       j->c->sid, j->closer ? rp_name(j->closer) : "?",
                       j->reason[0] ? j->reason : "(no reason given)");
        a = FAULT_CLOSE;
    } else {
        if (j->changed && fault_chunk_replace(s, ch, j->buf, j->len) < 0)
            fault_log_warn(fault_plugin_self(b),
                           "#%" PRIu64 " out of memory: chunk passed unchanged", j->c->sid);
        v->until_us = j->release_us;
    }
    gb_tjob_reset(j);
    return a;
}

fault_action gb_on_data(void *state, void *cs, fault_stream *s, fault_side side,
                        fault_direction dir, fault_chunk *ch, fault_verdict *v)
{
    (void)side;
    bridge *b = state;
    conn *c = cs;
    if (!c || c->http || b->stopping)
        return FAULT_PASS;
    tjob *j = &c->t[dir == FAULT_DIR_EGRESS ? 0 : 1];
    bool same = j->cp == ch && j->off == ch->offset && j->olen == ch->len;
    if (j->ready && same)
        return tjob_apply(j, s, ch, v);
    if ((j->busy || dl_linked(&j->park)) && same)
        return FAULT_HOLD; /* woken for someone else's chunk */
    if (j->busy || j->ready || dl_linked(&j->park))
        gb_tjob_reset(j); /* a decision for a chunk that is gone */
    j->cp = ch;
    j->off = ch->offset;
    j->olen = ch->len;
    if (b->starting) {
        dl_add(&b->tpark, &j->park);
        return FAULT_HOLD;
    }
    bool any = false;
    for (unsigned i = 0; i < b->nrp && !any; i++)
        any = wants(&b->rps[i], c);
    if (!any) {
        j->cp = NULL;
        return FAULT_PASS;
    }
    j->buf = malloc(ch->len);
    if (!j->buf) {
        j->cp = NULL;
        return FAULT_PASS;
    }
    memcpy(j->buf, ch->data, ch->len);
    j->len = ch->len;
    j->busy = true;
    j->next = 0;
    j->in_hook = true;
    tjob_step(j);
    j->in_hook = false;
    if (j->ready)
        return tjob_apply(j, s, ch, v);
    return FAULT_HOLD;
}
