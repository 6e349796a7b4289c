/*
 * plugins/postgres/pgtls.c - TLS toward a PostgreSQL server after its
 * SSLRequest, for psqls:// mappings.
 *
 * PostgreSQL (before 17's direct TLS) speaks TLS only after the client
 * asked for it in plaintext (SSLRequest) and the server answered 'S', on
 * the same socket. The SDK's fault_connect() does TLS from the first byte,
 * so the handshake here runs in OpenSSL memory BIOs over the plain
 * connection: ciphertext read from the socket goes in with pg_tls_feed(),
 * plaintext comes out through a callback, and pg_tls_write() turns
 * plaintext into ciphertext the session sends. No I/O here.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "pgtls.h"

struct pg_tls {
    SSL *ssl;
    BIO *in, *out; /* network to SSL, SSL to network */
    bool ready;
};

struct pg_tls_ctx {
    SSL_CTX *ctx;
    bool verify;
};

static bool inet_pton_any(const char *name, unsigned char *buf)
{
    return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

int pg_tls_ctx_new(const char *ca_file, bool verify, pg_tls_ctx **out, char *err, size_t errlen)
{
    pg_tls_ctx *t = calloc(1, sizeof *t);
    if (!t)
        return FAULT_ENOMEM;
    t->ctx = SSL_CTX_new(TLS_client_method());
    if (!t->ctx) {
        free(t);
        return FAULT_ENOMEM;
    }
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    t->verify = verify;
    if (verify) {
        int ok = ca_file ? SSL_CTX_load_verify_locations(t->ctx, ca_file, NULL)
                         : SSL_CTX_set_default_verify_paths(t->ctx);
        if (ok != 1) {
            snprintf(err, errlen, "cannot load CA certificates from '%s'",
                     ca_file ? ca_file : "the system store");
            SSL_CTX_free(t->ctx);
            free(t);
            return FAULT_EINVAL;
        }
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    }
    *out = t;
    return 0;
}

void pg_tls_ctx_free(pg_tls_ctx *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    free(t);
}

pg_tls *pg_tls_new(pg_tls_ctx *ctx, const char *host, const char *sni)
{
    pg_tls *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ssl = SSL_new(ctx->ctx);
    t->in = BIO_new(BIO_s_mem());
    t->out = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->in || !t->out) {
        SSL_free(t->ssl);
        BIO_free(t->in);
        BIO_free(t->out);
        free(t);
        return NULL;
    }
    SSL_set_bio(t->ssl, t->in, t->out); /* the SSL owns both now */
    const char *name = sni ? sni : host;
    /* SNI is for names; an address is checked against the certificate's
     * IP entries instead. */
    unsigned char buf[16];
    bool literal = inet_pton_any(name, buf);
    if (!literal)
        SSL_set_tlsext_host_name(t->ssl, name);
    if (ctx->verify) {
        X509_VERIFY_PARAM *vp = SSL_get0_param(t->ssl);
        if (literal)
            X509_VERIFY_PARAM_set1_ip_asc(vp, name);
        else
            X509_VERIFY_PARAM_set1_host(vp, name, 0);
    }
    SSL_set_connect_state(t->ssl);
    return t;
}

void pg_tls_free(pg_tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl);
    free(t);
}

bool pg_tls_ready(const pg_tls *t)
{
    return t->ready;
}

size_t pg_tls_pending_out(pg_tls *t, const uint8_t **data)
{
    char *p;
    long n = BIO_get_mem_data(t->out, &p);
    *data = (const uint8_t *)p;
    return n > 0 ? (size_t)n : 0;
}

void pg_tls_consume_out(pg_tls *t, size_t n)
{
    char sink[4096];
    while (n > 0) {
        int k = BIO_read(t->out, sink, n < sizeof sink ? (int)n : (int)sizeof sink);
        if (k <= 0)
            break;
        n -= (size_t)k;
    }
}

static int fail_tls(char *err, size_t errlen)
{
    unsigned long e = ERR_get_error();
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    snprintf(err, errlen, "%s", e ? buf : "TLS failure");
    ERR_clear_error();
    return FAULT_ETLS;
}

int pg_tls_feed(pg_tls *t, const uint8_t *data, size_t len, pg_tls_plain_cb cb, void *ud, char *err,
                size_t errlen)
{
    if (len && BIO_write(t->in, data, (int)len) != (int)len)
        return FAULT_ENOMEM;
    if (!t->ready) {
        int rc = SSL_do_handshake(t->ssl);
        if (rc != 1) {
            int e = SSL_get_error(t->ssl, rc);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                return 0;
            long v = SSL_get_verify_result(t->ssl);
            if (v != X509_V_OK) {
                snprintf(err, errlen, "certificate verification failed: %s",
                         X509_verify_cert_error_string(v));
                ERR_clear_error();
                return FAULT_ETLS;
            }
            return fail_tls(err, errlen);
        }
        t->ready = true;
    }
    uint8_t buf[16384];
    for (;;) {
        int n = SSL_read(t->ssl, buf, sizeof buf);
        if (n > 0) {
            cb(ud, buf, (size_t)n);
            continue;
        }
        int e = SSL_get_error(t->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return 0;
        if (e == SSL_ERROR_ZERO_RETURN)
            return FAULT_EOF;
        return fail_tls(err, errlen);
    }
}

int pg_tls_write(pg_tls *t, const uint8_t *data, size_t len)
{
    while (len > 0) {
        int n = SSL_write(t->ssl, data, len > 65536 ? 65536 : (int)len);
        if (n <= 0)
            return FAULT_ETLS;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}
