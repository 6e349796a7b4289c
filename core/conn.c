/*
 * core/conn.c - connection I/O over libuv: a fault_conn's reads, writes,
 * half-close, close and reset. Listening is in listen.c, reaching
 * upstreams in connect.c. TLS sits underneath a fault_conn (tls.c) so
 * handlers and the relay see plaintext either way: toward upstreams
 * (fault_connect() with TLS options) and, since ABI 1.1, toward clients
 * (fault_conn_start_tls_server() on an accepted one).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

/* One read buffer for the whole loop: libuv asks for a buffer right before
 * each read and hands it back in the read callback, so a single buffer is
 * enough on one thread, and idle connections hold no read memory at all.
 * How much one read may take is the connection's read_max (the relay sizes
 * it to its buffer budget); large reads mean few system calls in bulk, so
 * the default is 256 KiB (the HTTP plugin's high-water mark): a body moves
 * in a quarter of the reads it took at 64 KiB, about 10% more throughput. */
#define READ_BUF_SIZE (1024 * 1024)
#define READ_DEFAULT  (256 * 1024)
static char read_buf[READ_BUF_SIZE];

void fault__format_addr(const struct sockaddr *sa, char *buf, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
        snprintf(buf, len, "[%s]:%u", ip, ntohs(s6->sin6_port));
    } else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
        snprintf(buf, len, "%s:%u", ip, ntohs(s4->sin_port));
    } else {
        snprintf(buf, len, "?");
    }
}

fault_conn *fault__conn_new(fault_plugin *owner, uv_loop_t *loop)
{
    fault_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->owner = owner;
    if (uv_tcp_init(loop, &c->tcp) != 0) {
        free(c);
        return NULL;
    }
    c->tcp.data = c;
    return c;
}

void fault__conn_set_peer(fault_conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
        fault__format_addr((struct sockaddr *)&ss, c->peer, sizeof c->peer);
}

const char *fault_conn_peer(const fault_conn *c)
{
    return c->peer;
}

/* ---- reading ---- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    const fault_conn *c = h->data;
    (void)suggested;
    size_t n = c->read_max ? c->read_max : READ_DEFAULT;
    buf->base = read_buf;
    buf->len = n < sizeof read_buf ? n : sizeof read_buf;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    fault_conn *c = s->data;
    if (nread == 0)
        return;
    if (c->tls) {
        if (nread > 0)
            fault__tls_on_ciphertext(c, (const uint8_t *)buf->base, (size_t)nread);
        else if (fault__tls_handshaking(c))
            fault__tls_on_read_error(c, (int)nread); /* nobody reads yet: fail the handshake */
        else if (c->read_cb)
            c->read_cb(c, (long)fault__err((int)nread), NULL, c->read_ud);
        return;
    }
    if (c->read_cb)
        c->read_cb(c, nread > 0 ? (long)nread : (long)fault__err((int)nread),
                   nread > 0 ? (const uint8_t *)buf->base : NULL, c->read_ud);
}

/* Starts socket reads without a consumer: used by TLS handshakes. */
int fault__conn_sock_read(fault_conn *c, bool on)
{
    if (c->closing)
        return 0;
    if (on)
        return uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
    return uv_read_stop((uv_stream_t *)&c->tcp);
}

int fault_conn_read_start(fault_conn *c, fault_read_cb cb, void *userdata)
{
    c->read_cb = cb;
    c->read_ud = userdata;
    c->reading = true;
    if (c->closing)
        return 0;
    int rc = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
    if (rc == UV_EALREADY)
        rc = 0;
    if (c->tls)
        fault__tls_resume(c);
    return fault__err(rc);
}

int fault_conn_read_stop(fault_conn *c)
{
    c->reading = false;
    if (c->closing)
        return 0;
    return fault__err(uv_read_stop((uv_stream_t *)&c->tcp));
}

/* ---- writing ---- */

typedef struct wreq {
    uv_write_t req;
    fault_conn *c;
    void (*done)(void *ud, int status);
    void *ud;
    fault_write_cb ucb;
    void *uud;
    uint8_t data[];
} wreq;

static void on_written(uv_write_t *req, int status)
{
    wreq *w = fault__container_of(req, wreq, req);
    fault_conn *c = w->c;
    if (w->done)
        w->done(w->ud, status);
    if (w->ucb)
        w->ucb(c, fault__err(status), w->uud);
    free(w);
    if (c->drain_cb && !c->closing)
        c->drain_cb(c, c->drain_ud);
}

int fault__conn_write_ref(fault_conn *c, const uint8_t *data, size_t len,
                          void (*done)(void *ud, int status), void *ud)
{
    if (c->closing)
        return UV_ECANCELED;
    if (c->tls) {
        /* Encrypted and handed on at once: done runs now, on success only,
         * as on plain TCP where a failed uv_write() never calls back. */
        int rc = fault__tls_write(c, data, len);
        if (rc == 0 && done)
            done(ud, 0);
        return rc;
    }
    wreq *w = malloc(sizeof *w);
    if (!w)
        return FAULT_ENOMEM;
    w->c = c;
    w->done = done;
    w->ud = ud;
    w->ucb = NULL;
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (rc != 0)
        free(w);
    return rc;
}

int fault__conn_raw_write(fault_conn *c, const uint8_t *data, size_t len)
{
    if (c->closing)
        return UV_ECANCELED;
    wreq *w = malloc(sizeof *w + len);
    if (!w)
        return FAULT_ENOMEM;
    memcpy(w->data, data, len);
    w->c = c;
    w->done = NULL;
    w->ucb = NULL;
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (rc != 0)
        free(w);
    return rc;
}

int fault_conn_write(fault_conn *c, const void *data, size_t len, fault_write_cb cb, void *userdata)
{
    if (c->closing)
        return FAULT_ECANCELED;
    if (c->tls) {
        /* One contract for both kinds of connection: cb runs when (and
         * only when) this returns 0. Calling back with an error as well
         * made callers that hold a reference for the callback drop it
         * twice. */
        int rc = fault__err(fault__tls_write(c, data, len));
        if (rc == 0 && cb)
            cb(c, 0, userdata);
        return rc;
    }
    wreq *w = malloc(sizeof *w + len);
    if (!w)
        return FAULT_ENOMEM;
    memcpy(w->data, data, len);
    w->c = c;
    w->done = NULL;
    w->ucb = cb;
    w->uud = userdata;
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (rc != 0)
        free(w);
    return fault__err(rc);
}

long fault__conn_try_write(fault_conn *c, const uint8_t *data, size_t len)
{
    if (c->closing)
        return UV_ECANCELED;
    if (c->tls) {
        int rc = fault__tls_write(c, data, len);
        return rc < 0 ? rc : (long)len;
    }
    /* What uv_try_write() does, with send() instead of write(): on a
     * socket both do the same, but write() first goes through the file
     * layer (position lock, permission hooks), which shows in the cost of
     * every small exchange a proxy relays. Bytes libuv still queues go
     * first, as with uv_try_write(). */
    uv_os_fd_t fd;
    if (uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp) != 0)
        return 0;
    if (uv_fileno((const uv_handle_t *)&c->tcp, &fd) != 0)
        return UV_EBADF;
    ssize_t n;
    do
        n = send(fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n >= 0)
        return (long)n;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 0;
    return uv_translate_sys_error(errno);
}

size_t fault__conn_queued(const fault_conn *c)
{
    return uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp);
}

size_t fault_conn_write_queued(const fault_conn *c)
{
    return fault__conn_queued(c);
}

long fault_conn_try_write(fault_conn *c, const void *data, size_t len)
{
    if (!c || (len && !data))
        return FAULT_EINVAL;
    if (len == 0)
        return 0;
    long n = fault__conn_try_write(c, data, len);
    return n < 0 ? (long)fault__err((int)n) : n;
}

/* ---- TLS toward clients (ABI 1.1) ---- */

int fault_conn_start_tls_server(fault_conn *c, fault_tls_server *t, fault_tls_sni_cb sni,
                                void *sni_ud, const void *initial, size_t len,
                                fault_tls_done_cb done, void *userdata)
{
    if (!c || !t || !done || (len && !initial))
        return FAULT_EINVAL;
    if (c->tls || c->closing)
        return FAULT_EBUSY;
    /* The handshake owns the socket's reads until done runs. */
    c->reading = false;
    c->read_cb = NULL;
    return fault__err(fault__tls_server_start(c, t, sni, sni_ud, initial, len, done, userdata));
}

/* Closing either side cancels a transfer: done will not run. */
static void xfer_cancel(fault_conn *c)
{
    if (c->xfer)
        fault__xfer_cancel(c->xfer);
}

/* ---- ending ---- */

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    free(req);
}

int fault_conn_shutdown(fault_conn *c)
{
    if (c->closing || c->shut)
        return 0;
    c->shut = true;
    if (c->tls)
        fault__tls_shutdown_write(c);
    uv_shutdown_t *req = malloc(sizeof *req);
    if (!req)
        return FAULT_ENOMEM;
    int rc = uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown);
    if (rc != 0)
        free(req);
    return fault__err(rc);
}

static void on_closed(uv_handle_t *h)
{
    fault_conn *c = h->data;
    fault__tls_free(c);
    free(c);
}

void fault_conn_close(fault_conn *c)
{
    if (!c || c->closing)
        return;
    xfer_cancel(c);
    c->closing = true;
    c->read_cb = NULL;
    c->drain_cb = NULL;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

void fault_conn_reset(fault_conn *c)
{
    if (!c || c->closing)
        return;
    xfer_cancel(c);
    c->closing = true;
    c->read_cb = NULL;
    c->drain_cb = NULL;
    /* libuv refuses an RST after a shutdown was requested; close then. */
    if (c->shut || uv_tcp_close_reset(&c->tcp, on_closed) != 0)
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}
