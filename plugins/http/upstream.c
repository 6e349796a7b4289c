/*
 * plugins/http/upstream.c - connections to upstreams: connecting (through
 * fault_connect(), so name resolution, TLS and the on_connect hooks of
 * stream faults are the core's), and the pool of idle keep-alive
 * connections.
 *
 * The pool is keyed by scheme, host and port; the most recently used
 * connection is reused first (it is the least likely to have been closed
 * by the upstream's own idle timeout). An idle connection that becomes
 * readable (the upstream closed it, or sent bytes nobody asked for) is
 * closed at once; one idle longer than --http-upstream-idle-timeout is
 * closed by a sweep that runs while the pool is not empty.
 *
 * A connection attempt outlives whoever asked for it: a session that
 * gives up (client gone, timeout) cancels its request, and the connection,
 * when it comes, is closed.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"

/* The pool's bounds: --http-upstream-pool-max per upstream (scheme,
 * host and port), and four times that in all. The default fits a
 * thousand-odd concurrent clients of one upstream: a smaller pool closes
 * upstream connections after each response and opens new ones for the
 * next request, filling the machine with TIME_WAIT sockets. */
#define POOL_TOTAL_FACTOR 4

typedef struct hp_creq {
    hp_state *st;
    hp_up_user *owner; /* NULL once cancelled */
    char key[HP_MAX_HOST + 16];
    struct hp_creq *prev, *next;
} hp_creq;

void hp_up_key(char *key, size_t len, const char *host, uint16_t port, bool tls)
{
    /* "scheme|host|port", built without printf (once per request). */
    char tmp[HP_MAX_HOST + 16];
    size_t i = hp_copy(tmp, sizeof tmp - 8, tls ? "https|" : "http|");
    i += hp_copy(tmp + i, sizeof tmp - 8 - i, host);
    if (i > sizeof tmp - 9)
        i = sizeof tmp - 9;
    tmp[i++] = '|';
    char d[8];
    size_t k = sizeof d;
    unsigned v = port;
    do {
        d[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(tmp + i, d + k, sizeof d - k);
    tmp[i + sizeof d - k] = '\0';
    hp_copy(key, len, tmp);
}

static void pool_unlink(hp_up *up)
{
    hp_state *st = up->st;
    if (!up->pooled)
        return;
    if (up->prev)
        up->prev->next = up->next;
    else
        st->pool = up->next;
    if (up->next)
        up->next->prev = up->prev;
    up->prev = up->next = NULL;
    up->pooled = false;
    st->npool--;
}

void hp_up_close(hp_up *up, bool reset)
{
    pool_unlink(up);
    if (reset)
        fault_conn_reset(up->c);
    else
        fault_conn_close(up->c);
    free(up);
}

hp_up *hp_pool_take(hp_state *st, const char *key)
{
    for (hp_up *up = st->pool; up; up = up->next) {
        if (strcmp(up->key, key) == 0) {
            pool_unlink(up);
            return up;
        }
    }
    return NULL;
}

static void on_sweep(uv_timer_t *t)
{
    hp_state *st = t->data;
    uint64_t now = fault_now_us();
    for (hp_up *up = st->pool, *next; up; up = next) {
        next = up->next;
        if (now - up->idle_since >= st->idle_timeout_us) {
            fault_log_debug(st->self, "closing idle upstream connection %s", up->key);
            hp_up_close(up, false);
        }
    }
    if (!st->pool)
        uv_timer_stop(t);
}

void hp_up_on_read(fault_conn *c, long nread, const uint8_t *data, void *ud)
{
    hp_up *up = ud;
    (void)c;
    if (up->owner) {
        up->owner->ops->on_read(up->owner, up, nread, data);
        return;
    }
    /* Idle: the upstream closed it, or spoke out of turn. Either way it
     * can no longer carry a request. */
    hp_up_close(up, false);
}

void hp_up_release(hp_up *up, bool reusable)
{
    hp_state *st = up->st;
    up->owner = NULL;
    /* Connections to the same upstream in the pool: counted only when
     * the pool is large enough for the limit to matter, since this runs
     * at the end of every exchange. */
    size_t same = 0;
    size_t per_key = (size_t)st->pool_max;
    if (st->npool >= per_key)
        for (hp_up *p = st->pool; p; p = p->next)
            if (strcmp(p->key, up->key) == 0)
                same++;
    fault_log_debug(st->self, "upstream %s: %s", up->key, reusable ? "to the pool" : "closed");
    if (!reusable || st->stopping || st->idle_timeout_us == 0 || same >= per_key ||
        st->npool >= per_key * POOL_TOTAL_FACTOR) {
        hp_up_close(up, false);
        return;
    }
    if (fault_conn_read_start(up->c, hp_up_on_read, up) < 0) {
        hp_up_close(up, false);
        return;
    }
    up->idle_since = fault_now_us();
    up->prev = NULL;
    up->next = st->pool;
    if (st->pool)
        st->pool->prev = up;
    st->pool = up;
    up->pooled = true;
    st->npool++;
    if (!st->sweep_init) {
        uv_timer_init(st->loop, &st->sweep);
        st->sweep.data = st;
        st->sweep_init = true;
    }
    if (!uv_is_active((uv_handle_t *)&st->sweep)) {
        uint64_t ms = st->idle_timeout_us / 1000 / 4;
        if (ms < 50)
            ms = 50;
        if (ms > 1000)
            ms = 1000;
        uv_timer_start(&st->sweep, on_sweep, ms, ms);
    }
}

static void on_connected(fault_conn *c, int status, void *ud)
{
    hp_creq *r = ud;
    hp_state *st = r->st;
    if (r->prev)
        r->prev->next = r->next;
    else
        st->creqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    if (!r->owner) {
        if (c)
            fault_conn_close(c);
        free(r);
        return;
    }
    if (status < 0 || !c) {
        r->owner->ops->on_ready(r->owner, NULL, status < 0 ? status : -EIO);
        free(r);
        return;
    }
    hp_up *up = calloc(1, sizeof *up);
    if (!up) {
        fault_conn_close(c);
        r->owner->ops->on_ready(r->owner, NULL, -ENOMEM);
        free(r);
        return;
    }
    up->st = st;
    up->c = c;
    snprintf(up->key, sizeof up->key, "%s", r->key);
    /* The owner binds it (hp_up_bind) in its callback. */
    r->owner->ops->on_ready(r->owner, up, 0);
    free(r);
}

hp_creq *hp_connect(hp_state *st, hp_up_user *owner, fault_stream *s, const char *host,
                    uint16_t port, bool tls, const char *alpn, int *err)
{
    hp_creq *r = calloc(1, sizeof *r);
    if (!r) {
        *err = -ENOMEM;
        return NULL;
    }
    r->st = st;
    r->owner = owner;
    hp_up_key(r->key, sizeof r->key, host, port, tls);
    /* Verification is on; --tls-ca-file and --tls-no-verify (core options)
     * apply to every TLS connection the core makes. */
    fault_tls_client_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.verify = true;
    opts.alpn = alpn;
    int rc = fault_connect(st->self, s, host, port, tls ? &opts : NULL, on_connected, r);
    if (rc < 0) {
        free(r);
        *err = rc;
        return NULL;
    }
    r->next = st->creqs;
    if (st->creqs)
        st->creqs->prev = r;
    st->creqs = r;
    return r;
}

void hp_connect_cancel(hp_creq *r)
{
    if (r)
        r->owner = NULL;
}

void hp_pool_close_all(hp_state *st)
{
    while (st->pool)
        hp_up_close(st->pool, false);
    if (st->sweep_init) {
        uv_close((uv_handle_t *)&st->sweep, NULL);
        st->sweep_init = false;
    }
    for (hp_creq *r = st->creqs; r; r = r->next)
        r->owner = NULL;
}
