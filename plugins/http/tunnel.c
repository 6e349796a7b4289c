/*
 * plugins/http/tunnel.c - CONNECT tunnels to hosts that --upstream does
 * not target: bytes go both ways untouched, with no fault stage at all
 * (targeted tunnels are handed to the core's relay instead, where stream
 * faults apply).
 *
 * Same flow control as the relay: a side is no longer read while more
 * than HP_HIGH_WATER bytes wait to be written to the other, and resumes
 * below HP_LOW_WATER. An EOF becomes a shutdown of the other side's write
 * half; the tunnel ends when both halves are done and drained, or at once
 * (with RST on both) when either side errors.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"

typedef struct tdir {
    struct hp_tun *t;
    fault_conn *src, *dst;
    bool eof, paused;
    uint64_t bytes;
} tdir;

typedef struct hp_tun {
    hp_state *st;
    fault_stream *s;
    tdir d[2]; /* 0: client to upstream, 1: upstream to client */
    int refs;
    bool dead;
    struct hp_tun *prev, *next;
} hp_tun;

static void tun_unref(hp_tun *t)
{
    if (--t->refs == 0 && t->dead)
        free(t);
}

static void tun_end(hp_tun *t, bool reset, int error)
{
    if (t->dead)
        return;
    t->dead = true;
    hp_state *st = t->st;
    if (t->prev)
        t->prev->next = t->next;
    else
        st->tunnels = t->next;
    if (t->next)
        t->next->prev = t->prev;
    for (int i = 0; i < 2; i++) {
        if (reset)
            fault_conn_reset(t->d[i].src);
        else
            fault_conn_close(t->d[i].src);
    }
    fault_stream_finish(t->s, t->d[0].bytes, t->d[1].bytes, error);
    t->refs++;
    tun_unref(t);
}

static void on_read(fault_conn *c, long nread, const uint8_t *data, void *ud);

static void check(hp_tun *t)
{
    if (t->dead)
        return;
    for (int i = 0; i < 2; i++) {
        tdir *d = &t->d[i];
        size_t q = fault_conn_write_queued(d->dst);
        if (!d->eof && !d->paused && q > HP_HIGH_WATER) {
            d->paused = true;
            fault_conn_read_stop(d->src);
        } else if (!d->eof && d->paused && q < HP_LOW_WATER) {
            d->paused = false;
            fault_conn_read_start(d->src, on_read, d);
        }
    }
    if (t->d[0].eof && t->d[1].eof && fault_conn_write_queued(t->d[0].dst) == 0 &&
        fault_conn_write_queued(t->d[1].dst) == 0)
        tun_end(t, false, 0);
}

static void on_written(fault_conn *c, int status, void *ud)
{
    hp_tun *t = ud;
    (void)c;
    if (!t->dead && status < 0 && status != UV_ECANCELED)
        tun_end(t, true, status);
    else
        check(t);
    tun_unref(t);
}

static int send_to(hp_tun *t, tdir *d, const uint8_t *data, size_t len)
{
    t->refs++;
    d->bytes += len;
    int rc = fault_conn_write(d->dst, data, len, on_written, t);
    if (rc < 0)
        tun_unref(t);
    return rc;
}

static void on_read(fault_conn *c, long nread, const uint8_t *data, void *ud)
{
    tdir *d = ud;
    hp_tun *t = d->t;
    (void)c;
    if (t->dead)
        return;
    t->refs++;
    if (nread < 0) {
        if (nread == UV_EOF) {
            d->eof = true;
            fault_conn_read_stop(d->src);
            fault_conn_shutdown(d->dst);
            check(t);
        } else {
            tun_end(t, true, (int)nread);
        }
    } else {
        int rc = send_to(t, d, data, (size_t)nread);
        if (rc < 0)
            tun_end(t, true, rc);
        else
            check(t);
    }
    tun_unref(t);
}

void hp_tunnel_plain(hp_state *st, fault_stream *s, fault_conn *a, fault_conn *b,
                     const uint8_t *to_server, size_t len)
{
    hp_tun *t = calloc(1, sizeof *t);
    if (!t) {
        fault_conn_reset(a);
        fault_conn_reset(b);
        fault_stream_finish(s, 0, 0, -ENOMEM);
        return;
    }
    t->st = st;
    t->s = s;
    t->d[0] = (tdir){.t = t, .src = a, .dst = b};
    t->d[1] = (tdir){.t = t, .src = b, .dst = a};
    t->next = st->tunnels;
    if (st->tunnels)
        st->tunnels->prev = t;
    st->tunnels = t;
    t->refs++;
    if (len && send_to(t, &t->d[0], to_server, len) < 0)
        tun_end(t, true, -EIO);
    if (!t->dead) {
        fault_conn_read_start(a, on_read, &t->d[0]);
        fault_conn_read_start(b, on_read, &t->d[1]);
        check(t);
    }
    tun_unref(t);
}

void hp_tunnels_close_all(hp_state *st)
{
    while (st->tunnels)
        tun_end(st->tunnels, false, 0);
}
