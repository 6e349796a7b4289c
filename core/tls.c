/*
 * core/tls.c - TLS underneath a fault_conn, with OpenSSL memory BIOs.
 *
 * Ciphertext read from the socket is fed into the read BIO; plaintext comes
 * out of SSL_read and goes to the connection's consumer. Plaintext written
 * is encrypted at once by SSL_write into the write BIO, whose contents are
 * then written to the socket. Certificate verification (chain and host
 * name or IP) is on unless the caller or --tls-no-verify turns it off.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "internal.h"

struct fault__tlsconn {
    SSL *ssl;
    BIO *rbio, *wbio;
    bool handshaking;
    bool eof_delivered;
    void (*done)(fault_conn *c, int status, void *ud);
    void *ud;
    uv_timer_t resume;
    bool resume_init;
};

static SSL_CTX *default_ctx;
static bool global_no_verify;
static char *global_ca_file;

/* Contexts for CA files other than the default, created on first use. */
typedef struct ctx_entry {
    char *ca_file;
    SSL_CTX *ctx;
    struct ctx_entry *next;
} ctx_entry;
static ctx_entry *extra_ctx;

void fault__tls_global_options(bool no_verify, const char *ca_file)
{
    global_no_verify = no_verify;
    free(global_ca_file);
    global_ca_file = ca_file ? strdup(ca_file) : NULL;
}

static SSL_CTX *make_ctx(const char *ca_file)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (ca_file) {
        if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
            fault_log_error(NULL, "cannot load CA file %s", ca_file);
            SSL_CTX_free(ctx);
            return NULL;
        }
    } else {
        SSL_CTX_set_default_verify_paths(ctx);
    }
    return ctx;
}

static SSL_CTX *ctx_for(const char *ca_file)
{
    if (!ca_file)
        ca_file = global_ca_file;
    if (!ca_file) {
        if (!default_ctx)
            default_ctx = make_ctx(NULL);
        return default_ctx;
    }
    for (ctx_entry *e = extra_ctx; e; e = e->next)
        if (strcmp(e->ca_file, ca_file) == 0)
            return e->ctx;
    SSL_CTX *ctx = make_ctx(ca_file);
    if (!ctx)
        return NULL;
    ctx_entry *e = calloc(1, sizeof *e);
    if (!e) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    e->ca_file = strdup(ca_file);
    e->ctx = ctx;
    e->next = extra_ctx;
    extra_ctx = e;
    return ctx;
}

void fault__tls_shutdown(void)
{
    if (default_ctx)
        SSL_CTX_free(default_ctx);
    default_ctx = NULL;
    while (extra_ctx) {
        ctx_entry *e = extra_ctx;
        extra_ctx = e->next;
        SSL_CTX_free(e->ctx);
        free(e->ca_file);
        free(e);
    }
    free(global_ca_file);
    global_ca_file = NULL;
}

/* Moves pending ciphertext from the write BIO to the socket. */
static int flush(fault_conn *c)
{
    struct fault__tlsconn *t = c->tls;
    uint8_t buf[16384];
    int n;
    while ((n = BIO_read(t->wbio, buf, sizeof buf)) > 0) {
        int rc = fault__conn_raw_write(c, buf, (size_t)n);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static bool is_ip_literal(const char *host)
{
    unsigned char tmp[16];
    return inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1;
}

int fault__tls_client_start(fault_conn *c, const char *host, const fault_tls_client_opts *o,
                            void (*done)(fault_conn *c, int status, void *ud), void *ud)
{
    SSL_CTX *ctx = ctx_for(o ? o->ca_file : NULL);
    if (!ctx)
        return FAULT_ETLS;
    struct fault__tlsconn *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->ssl = SSL_new(ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->rbio || !t->wbio) {
        SSL_free(t->ssl);
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        free(t);
        return -ENOMEM;
    }
    /* A memory BIO that runs dry must say "retry", not "end of file". */
    BIO_set_mem_eof_return(t->rbio, -1);
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    SSL_set_connect_state(t->ssl);
    const char *name = o && o->sni ? o->sni : host;
    bool verify = (!o || o->verify) && !global_no_verify;
    if (!is_ip_literal(name))
        SSL_set_tlsext_host_name(t->ssl, name);
    if (verify) {
        SSL_set_verify(t->ssl, SSL_VERIFY_PEER, NULL);
        if (is_ip_literal(name))
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), name);
        else
            SSL_set1_host(t->ssl, name);
    } else {
        SSL_set_verify(t->ssl, SSL_VERIFY_NONE, NULL);
    }
    if (o && o->alpn)
        SSL_set_alpn_protos(t->ssl, (const unsigned char *)o->alpn, (unsigned)strlen(o->alpn));
    t->handshaking = true;
    t->done = done;
    t->ud = ud;
    c->tls = t;
    SSL_do_handshake(t->ssl);
    int rc = flush(c);
    if (rc == 0)
        rc = fault__conn_sock_read(c, true);
    return rc;
}

static void handshake_failed(fault_conn *c)
{
    struct fault__tlsconn *t = c->tls;
    long vr = SSL_get_verify_result(t->ssl);
    unsigned long e = ERR_get_error();
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    fault_log_warn(c->owner, "TLS handshake with %s failed: %s", c->peer,
                   vr != X509_V_OK ? X509_verify_cert_error_string(vr) : buf);
    ERR_clear_error();
    t->handshaking = false;
    fault__conn_sock_read(c, false);
    t->done(c, FAULT_ETLS, t->ud);
}

/* Decrypts what is buffered and hands it to the consumer while it reads. */
static void pump(fault_conn *c)
{
    struct fault__tlsconn *t = c->tls;
    uint8_t buf[16384];
    while (c->tls && c->reading && c->read_cb && !c->closing) {
        int n = SSL_read(t->ssl, buf, sizeof buf);
        if (n > 0) {
            c->read_cb(c, n, buf, c->read_ud);
            continue;
        }
        int err = SSL_get_error(t->ssl, n);
        if (err == SSL_ERROR_ZERO_RETURN) {
            if (!t->eof_delivered) {
                t->eof_delivered = true;
                c->read_cb(c, UV_EOF, NULL, c->read_ud);
            }
        } else if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
            ERR_clear_error();
            c->read_cb(c, UV_EPROTO, NULL, c->read_ud);
        }
        break;
    }
    if (c->tls && !c->closing)
        flush(c);
}

void fault__tls_on_ciphertext(fault_conn *c, const uint8_t *data, size_t len)
{
    struct fault__tlsconn *t = c->tls;
    BIO_write(t->rbio, data, (int)len);
    if (t->handshaking) {
        int r = SSL_do_handshake(t->ssl);
        flush(c);
        if (r == 1) {
            t->handshaking = false;
            /* Reads resume when the consumer asks for data. */
            if (!c->reading)
                fault__conn_sock_read(c, false);
            t->done(c, 0, t->ud);
            return;
        }
        int err = SSL_get_error(t->ssl, r);
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
            handshake_failed(c);
        return;
    }
    pump(c);
}

static void on_resume(uv_timer_t *timer)
{
    fault_conn *c = timer->data;
    if (c->tls && !c->tls->handshaking)
        pump(c);
}

void fault__tls_resume(fault_conn *c)
{
    struct fault__tlsconn *t = c->tls;
    if (t->handshaking || (SSL_pending(t->ssl) == 0 && BIO_ctrl_pending(t->rbio) == 0))
        return;
    /* Deliver from the next loop iteration, never from inside the
     * consumer's own read_start() call. */
    if (!t->resume_init) {
        uv_timer_init(fault__g.loop, &t->resume);
        t->resume.data = c;
        t->resume_init = true;
    }
    uv_timer_start(&t->resume, on_resume, 0, 0);
}

int fault__tls_write(fault_conn *c, const uint8_t *data, size_t len)
{
    struct fault__tlsconn *t = c->tls;
    if (len == 0)
        return 0;
    int n = SSL_write(t->ssl, data, (int)len);
    if (n <= 0) {
        ERR_clear_error();
        return FAULT_ETLS;
    }
    return flush(c);
}

int fault__tls_shutdown_write(fault_conn *c)
{
    SSL_shutdown(c->tls->ssl);
    ERR_clear_error();
    return flush(c);
}

static void free_tls(uv_handle_t *h)
{
    struct fault__tlsconn *t = h->data;
    SSL_free(t->ssl);
    free(t);
}

void fault__tls_free(fault_conn *c)
{
    struct fault__tlsconn *t = c->tls;
    if (!t)
        return;
    c->tls = NULL;
    if (t->resume_init) {
        t->resume.data = t;
        uv_close((uv_handle_t *)&t->resume, free_tls);
        return;
    }
    SSL_free(t->ssl);
    free(t);
}
