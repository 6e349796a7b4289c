/*
 * plugins/postgres/cancel.c - CancelRequest: a client cancels a running
 * statement from a new connection, naming the session by the key its
 * server sent (BackendKeyData). The key is looked up among every live
 * session of the plugin and the request goes, on a new upstream
 * connection, to the address that session actually reached.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

typedef struct cancel_req {
    pg_session *ss;
    uint8_t pkt[272];
    size_t len;
} cancel_req;

static void cancel_written(fault_conn *c, int status, void *ud)
{
    (void)status;
    (void)ud;
    fault_conn_close(c);
}

static void on_cancel_upstream(fault_conn *c, int status, void *ud)
{
    cancel_req *cr = ud;
    pg_session *ss = cr->ss;
    if (status < 0) {
        fault_log_warn(ss->self, "%s: cancel: cannot reach %s: %s", fault_stream_peer(ss->s),
                       ss->server_addr, fault_strerror(status));
    } else if (fault_conn_write(c, cr->pkt, cr->len, cancel_written, NULL) < 0) {
        fault_conn_close(c);
    }
    free(cr);
    if (!ss->dead)
        pg_teardown(ss, false, status < 0 ? status : 0);
    pg_ss_unref(ss);
}

/* Splits "ip:port" or "[ip]:port". */
static bool split_addr(const char *addr, char *host, size_t hostlen, uint16_t *port)
{
    const char *colon;
    const char *h = addr;
    size_t hl;
    if (*addr == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':')
            return false;
        h = addr + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon)
            return false;
        hl = (size_t)(colon - addr);
    }
    if (hl == 0 || hl >= hostlen)
        return false;
    memcpy(host, h, hl);
    host[hl] = '\0';
    long p = strtol(colon + 1, NULL, 10);
    if (p <= 0 || p > 65535)
        return false;
    *port = (uint16_t)p;
    return true;
}

void pg_handle_cancel(pg_session *ss, const uint8_t *pkt, size_t len)
{
    pg_state *st = ss->st;
    const uint8_t *key = pkt + 8;
    size_t klen = len - 8;
    pg_session *owner = NULL;
    for (pg_session *x = st->live; x; x = x->next)
        if (x != ss && x->key_len == klen && memcmp(x->key, key, klen) == 0)
            owner = x;
    char host[64];
    uint16_t port = ss->mp->port;
    const char *where = ss->mp->host;
    if (owner && split_addr(owner->server_addr, host, sizeof host, &port)) {
        where = host;
        snprintf(ss->server_addr, sizeof ss->server_addr, "%s", owner->server_addr);
    } else {
        /* Not a key of ours (the session is gone, or went through another
         * proxy): the mapping's server ignores it as it would anyway. */
        port = ss->mp->port;
        snprintf(ss->server_addr, sizeof ss->server_addr, "%s", ss->mp->target);
        fault_log_debug(ss->self, "%s: cancel with an unknown key: sent to %s",
                        fault_stream_peer(ss->s), ss->mp->target);
    }
    cancel_req *cr = malloc(sizeof *cr);
    if (!cr || len > sizeof cr->pkt) {
        free(cr);
        pg_teardown(ss, true, FAULT_ENOMEM);
        return;
    }
    cr->ss = ss;
    memcpy(cr->pkt, pkt, len);
    cr->len = len;
    ss->phase = P_CANCEL;
    fault_conn_read_stop(ss->client);
    fault_log_info(ss->self, "%s: cancel request forwarded to %s%s", fault_stream_peer(ss->s),
                   ss->server_addr, owner ? "" : " (unknown key)");
    /* A cancel goes in plaintext, as libpq sends it, psqls:// or not: the
     * server reads it before any TLS. */
    pg_ss_ref(ss);
    int rc = fault_connect(ss->self, ss->s, where, port, NULL, on_cancel_upstream, cr);
    if (rc < 0) {
        free(cr);
        pg_ss_unref(ss);
        pg_teardown(ss, true, rc);
    }
}
