/*
 * plugins/http/accept.c - what a client connection is, decided from its
 * first bytes, before an HTTP session takes it:
 *
 *   0x16 (a TLS handshake record), when the listener accepts TLS
 *   (--http-tls-cert/--http-tls-key) or the connection is an intercepted
 *   tunnel: the TLS handshake runs here, then ALPN "h2" goes to HTTP/2 and
 *   anything else is looked at again as plaintext;
 *   the HTTP/2 connection preface "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (h2c
 *   with prior knowledge): HTTP/2;
 *   anything else: HTTP/1.
 *
 * Only as many bytes are waited for as the decision needs (one for TLS,
 * up to the 24 of the preface while they match it), and they are handed
 * on with the connection, so the session sees them as if it had read them
 * itself (through its CLIENT/EGRESS chain). A plaintext listener with TLS
 * enabled therefore serves both http:// and https:// on one port; HTTP/1
 * requests never begin with 0x16.
 *
 * CONNECT interception (--http-intercept): the HTTP/1 session answered the
 * CONNECT with 200 and connected to the upstream; here the first byte of
 * the client decides again. A ClientHello gets a certificate for the
 * tunnel's host (or the name the client sends as SNI) signed by the local
 * CA, and the tunnel's content becomes HTTP (HTTP/1.1 or, by ALPN, h2)
 * toward https://host:port, verified like https:// mappings. Anything else
 * (a protocol that is not TLS, or an upstream that speaks first, as SMTP
 * or SSH servers do) is relayed as an ordinary tunnel, with the bytes seen
 * so far.
 *
 * --http-tls-handshake-timeout bounds how long a connection may take to
 * say what it is and finish its TLS handshake (a client that connects and
 * says nothing holds nothing else).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define PREFACE_LEN (sizeof preface - 1)

typedef struct hp_acc {
    hp_state *st;
    hp_front *fr;
    fault_conn *c;
    fault_stream *s;
    fault_conn *u; /* intercept: the CONNECT's upstream, until decided */
    hp_buf buf;    /* bytes read so far, not handed on yet */
    bool tls_done; /* TLS is established (or was not wanted) */
    bool handshaking;
    bool dead;
    uv_timer_t timer; /* the handshake deadline */
    struct hp_acc *prev, *next;
} hp_acc;

void hp_front_release(hp_front *fr)
{
    /* Listener fronts count too (harmlessly): only owned ones are freed. */
    if (fr && --fr->refs == 0 && fr->intercept)
        free(fr);
}

static void acc_freed(uv_handle_t *h)
{
    hp_acc *a = h->data;
    hp_front_release(a->fr);
    hp_buf_free(&a->buf);
    free(a);
}

/* Unlinks a; the connections are handed on or closed by the caller. */
static void acc_done(hp_acc *a)
{
    if (a->dead)
        return;
    a->dead = true;
    hp_state *st = a->st;
    if (a->prev)
        a->prev->next = a->next;
    else
        st->accs = a->next;
    if (a->next)
        a->next->prev = a->prev;
    a->prev = a->next = NULL;
    uv_close((uv_handle_t *)&a->timer, acc_freed);
}

/* Ends a connection that never became a session. */
static void acc_fail(hp_acc *a, bool reset, int error)
{
    if (a->dead)
        return;
    if (a->u) {
        fault_conn_close(a->u);
        a->u = NULL;
    }
    if (reset)
        fault_conn_reset(a->c);
    else
        fault_conn_close(a->c);
    fault_stream_set_end(a->s, NULL, NULL);
    fault_stream_finish(a->s, 0, 0, error);
    acc_done(a);
}

static void on_end(fault_stream *s, bool reset, void *ud)
{
    (void)s;
    acc_fail(ud, reset, 0);
}

static void on_deadline(uv_timer_t *t)
{
    hp_acc *a = t->data;
    fault_log_debug(a->st->self, "%s: no request or TLS handshake within %.3g s",
                    fault_conn_peer(a->c), (double)a->st->handshake_timeout_us / 1e6);
    acc_fail(a, false, UV_ETIMEDOUT);
}

/* The connection goes to an HTTP session with what was read so far. */
static void hand_on(hp_acc *a, bool h2)
{
    fault_conn *c = a->c;
    fault_stream *s = a->s;
    hp_front *fr = a->fr;
    hp_buf data = a->buf;
    a->buf = (hp_buf){0};
    fault_conn_read_stop(c);
    fault_stream_set_end(s, NULL, NULL);
    fr->refs++; /* the session takes its own; ours goes with a */
    acc_done(a);
    if (h2)
        hp_h2_start(fr, c, s, data.p, data.len);
    else
        hp_sess_start(fr, c, s, data.p, data.len);
    hp_front_release(fr);
    hp_buf_free(&data);
}

/* Intercept: not TLS after all, or the upstream spoke first. The tunnel
 * is relayed with the bytes each side sent so far. */
static void relay_tunnel(hp_acc *a, const uint8_t *to_client, size_t len)
{
    fault_conn *c = a->c, *u = a->u;
    fault_stream *s = a->s;
    hp_buf data = a->buf;
    a->buf = (hp_buf){0};
    a->u = NULL;
    fault_conn_read_stop(c);
    fault_conn_read_stop(u);
    fault_stream_set_end(s, NULL, NULL);
    acc_done(a);
    fault_stream_relay_with(s, u, data.p, data.len, to_client, len);
    hp_buf_free(&data);
}

static void on_client_read(fault_conn *c, long nread, const uint8_t *data, void *ud);

static fault_tls_server *on_sni(fault_conn *c, const char *name, void *ud)
{
    hp_acc *a = ud;
    (void)c;
    if (!a->fr->intercept || !a->st->pki)
        return NULL;
    return hp_pki_server_for(a->st->pki, name);
}

static void decide(hp_acc *a);

static void on_tls(fault_conn *c, int status, void *ud)
{
    hp_acc *a = ud;
    if (a->dead)
        return;
    a->handshaking = false;
    if (status < 0) {
        acc_fail(a, false, status == UV_EOF ? 0 : status);
        return;
    }
    a->tls_done = true;
    const char *alpn = fault_conn_alpn(c);
    const char *sni = fault_conn_sni(c);
    fault_log_debug(a->st->self, "%s: TLS%s%s%s%s", fault_conn_peer(c), sni ? " for " : "",
                    sni ? sni : "", alpn ? ", ALPN " : "", alpn ? alpn : "");
    if (alpn && strcmp(alpn, "h2") == 0) {
        uv_timer_stop(&a->timer);
        hand_on(a, true);
        return;
    }
    /* Plaintext from here: one more look (h2 prior knowledge inside TLS
     * without ALPN is rare, but costs nothing to recognise). */
    if (fault_conn_read_start(c, on_client_read, a) < 0)
        acc_fail(a, true, -EIO);
}

static void start_tls(hp_acc *a)
{
    fault_tls_server *srv = a->st->tls_srv;
    if (a->fr->intercept) {
        srv = hp_pki_server_for(a->st->pki, a->fr->host);
        /* The upstream connection only served to answer the CONNECT:
         * requests inside get their own, verified, through the pool. */
        if (a->u) {
            fault_conn_close(a->u);
            a->u = NULL;
        }
    }
    if (!srv) {
        acc_fail(a, true, FAULT_ETLS);
        return;
    }
    fault_conn_read_stop(a->c);
    a->handshaking = true;
    int rc = fault_conn_start_tls_server(a->c, srv, on_sni, a, a->buf.p, a->buf.len, on_tls, a);
    a->buf.len = 0;
    if (rc < 0)
        acc_fail(a, true, rc);
}

static void decide(hp_acc *a)
{
    if (a->dead || a->buf.len == 0)
        return;
    const uint8_t *p = a->buf.p;
    size_t n = a->buf.len;
    if (!a->tls_done) {
        bool tls_ok = a->fr->intercept ? a->st->pki != NULL : a->st->tls_srv != NULL;
        if (tls_ok && p[0] == 0x16) {
            start_tls(a);
            return;
        }
        if (a->fr->intercept) {
            relay_tunnel(a, NULL, 0);
            return;
        }
    }
    size_t m = n < PREFACE_LEN ? n : PREFACE_LEN;
    if (memcmp(p, preface, m) == 0) {
        if (n < PREFACE_LEN)
            return; /* so far so good: wait for the rest */
        uv_timer_stop(&a->timer);
        hand_on(a, true);
        return;
    }
    uv_timer_stop(&a->timer);
    hand_on(a, false);
}

static void on_client_read(fault_conn *c, long nread, const uint8_t *data, void *ud)
{
    hp_acc *a = ud;
    (void)c;
    if (a->dead)
        return;
    if (nread < 0) {
        if (nread == UV_EOF && a->buf.len && a->tls_done) {
            /* A short message then EOF: let HTTP/1 answer it. */
            uv_timer_stop(&a->timer);
            hand_on(a, false);
            return;
        }
        acc_fail(a, nread != UV_EOF, nread == UV_EOF ? 0 : (int)nread);
        return;
    }
    if (hp_buf_add(&a->buf, data, (size_t)nread) < 0) {
        acc_fail(a, true, -ENOMEM);
        return;
    }
    decide(a);
}

static void on_upstream_read(fault_conn *u, long nread, const uint8_t *data, void *ud)
{
    hp_acc *a = ud;
    (void)u;
    if (a->dead || a->handshaking)
        return;
    if (nread < 0) {
        /* The upstream left before the client said anything. */
        acc_fail(a, false, nread == UV_EOF ? 0 : (int)nread);
        return;
    }
    relay_tunnel(a, data, (size_t)nread);
}

static hp_acc *acc_new(hp_front *fr, fault_conn *c, fault_stream *s)
{
    hp_state *st = fr->st;
    hp_acc *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->st = st;
    a->fr = fr;
    fr->refs++;
    a->c = c;
    a->s = s;
    uv_timer_init(st->loop, &a->timer);
    a->timer.data = a;
    a->next = st->accs;
    if (st->accs)
        st->accs->prev = a;
    st->accs = a;
    fault_stream_set_end(s, on_end, a);
    if (st->handshake_timeout_us)
        uv_timer_start(&a->timer, on_deadline, (st->handshake_timeout_us + 999) / 1000, 0);
    return a;
}

void hp_accept(hp_front *fr, fault_conn *c)
{
    hp_state *st = fr->st;
    fault_stream *s = fault_stream_new(st->self, c, fr->target);
    if (!s) {
        fault_conn_reset(c);
        return;
    }
    /* What the stream carries, for plugins (fault_stream_scheme): the
     * mapping's scheme, or the forward proxy's; a CONNECT makes it
     * "connect" (session.c, h2.c). */
    fault_stream_set_scheme(s, !fr->reverse ? "http-forward" : fr->tls ? "https" : "http");
    hp_acc *a = acc_new(fr, c, s);
    if (!a) {
        fault_conn_reset(c);
        fault_stream_finish(s, 0, 0, -ENOMEM);
        return;
    }
    if (fault_conn_read_start(c, on_client_read, a) < 0)
        acc_fail(a, true, -EIO);
}

void hp_intercept(hp_state *st, fault_stream *s, fault_conn *c, fault_conn *u, const char *host,
                  uint16_t port, const uint8_t *early, size_t len)
{
    hp_front *fr = calloc(1, sizeof *fr);
    hp_acc *a = NULL;
    if (fr) {
        fr->st = st;
        fr->reverse = true;
        fr->keep_host = true;
        fr->intercept = true;
        snprintf(fr->host, sizeof fr->host, "%s", host);
        fr->port = port;
        fr->tls = true;
        hp_authority(fr->authority, sizeof fr->authority, host, port, true, true);
        hp_authority(fr->target, sizeof fr->target, host, port, true, false);
        snprintf(fr->text, sizeof fr->text, "CONNECT %s", fr->target);
        fr->refs = 1;
        a = acc_new(fr, c, s);
        hp_front_release(fr);
    }
    if (!a) {
        /* fr, if any, went with its last reference. */
        fault_conn_reset(c);
        fault_conn_reset(u);
        fault_stream_finish(s, 0, 0, -ENOMEM);
        return;
    }
    a->u = u;
    if (len && hp_buf_add(&a->buf, early, len) < 0) {
        acc_fail(a, true, -ENOMEM);
        return;
    }
    if (fault_conn_read_start(u, on_upstream_read, a) < 0 ||
        fault_conn_read_start(c, on_client_read, a) < 0) {
        acc_fail(a, true, -EIO);
        return;
    }
    decide(a);
}

void hp_accept_close_all(hp_state *st)
{
    while (st->accs)
        acc_fail(st->accs, false, 0);
}
