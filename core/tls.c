/*
 * core/tls.c - TLS underneath a fault_conn, with OpenSSL memory BIOs, on
 * both ends: toward upstreams (client side) and toward clients (server
 * side, ABI 1.1).
 *
 * Ciphertext read from the socket is fed into the read BIO; plaintext comes
 * out of SSL_read and goes to the connection's consumer. Plaintext written
 * is encrypted at once by SSL_write into the write BIO, whose contents are
 * then written to the socket. Certificate verification (chain and host
 * name or IP) is on unless the caller or --tls-no-verify turns it off.
 *
 * Server contexts (fault_tls_server) are SSL_CTXs: their ALPN list lives
 * in the context's ex_data, so it dies with the last reference OpenSSL
 * holds (a handshake switched to another context by the SNI hook keeps
 * that one alive, not the wrapper of the first).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "internal.h"

struct fault__tlsconn {
    SSL *ssl;
    BIO *rbio, *wbio;
    bool handshaking;
    bool eof_delivered;
    bool server;
    void (*done)(fault_conn *c, int status, void *ud);
    void *ud;
    fault_tls_sni_cb sni_cb;
    void *sni_ud;
    char *sni;     /* server side: the name the client asked for */
    char alpn[32]; /* the protocol ALPN settled on, "" for none */
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
        return FAULT_ENOMEM;
    t->ssl = SSL_new(ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->rbio || !t->wbio) {
        SSL_free(t->ssl);
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        free(t);
        return FAULT_ENOMEM;
    }
    /* A memory BIO that runs dry must say "retry", not "end of file". */
    BIO_set_mem_eof_return(t->rbio, -1);
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    SSL_set_connect_state(t->ssl);
    /* The name sent and checked: the SNI given, else the host. Never an
     * empty one, which SSL_set1_host() takes as "check no name". */
    const char *name = o && o->sni && o->sni[0] ? o->sni : host;
    bool verify = (!o || o->verify) && !global_no_verify;
    if (verify && (!name || !name[0])) {
        SSL_free(t->ssl);
        free(t);
        return FAULT_ETLS;
    }
    if (!is_ip_literal(name))
        SSL_set_tlsext_host_name(t->ssl, name);
    if (verify) {
        SSL_set_verify(t->ssl, SSL_VERIFY_PEER, NULL);
        int named = is_ip_literal(name)
                        ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), name)
                        : SSL_set1_host(t->ssl, name);
        if (named != 1) {
            SSL_free(t->ssl);
            free(t);
            return FAULT_ETLS;
        }
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
    long vr = t->server ? X509_V_OK : SSL_get_verify_result(t->ssl);
    unsigned long e = ERR_get_error();
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    /* A client refusing our certificate is its business (and the
     * intercepting proxy's normal failure): not worth a warning. */
    if (t->server)
        fault_log_info(c->owner, "TLS handshake from %s failed: %s", c->peer, buf);
    else
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

/* Runs the handshake on what the read BIO holds. */
static void handshake_step(fault_conn *c)
{
    struct fault__tlsconn *t = c->tls;
    int r = SSL_do_handshake(t->ssl);
    flush(c);
    if (c->closing)
        return;
    if (r == 1) {
        t->handshaking = false;
        const unsigned char *p = NULL;
        unsigned int n = 0;
        SSL_get0_alpn_selected(t->ssl, &p, &n);
        if (p && n < sizeof t->alpn) {
            memcpy(t->alpn, p, n);
            t->alpn[n] = '\0';
        }
        /* Reads resume when the consumer asks for data. */
        if (!c->reading)
            fault__conn_sock_read(c, false);
        t->done(c, 0, t->ud);
        return;
    }
    int err = SSL_get_error(t->ssl, r);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
        handshake_failed(c);
}

void fault__tls_on_ciphertext(fault_conn *c, const uint8_t *data, size_t len)
{
    struct fault__tlsconn *t = c->tls;
    BIO_write(t->rbio, data, (int)len);
    if (t->handshaking) {
        handshake_step(c);
        return;
    }
    pump(c);
}

bool fault__tls_handshaking(const fault_conn *c)
{
    return c->tls && c->tls->handshaking;
}

void fault__tls_on_read_error(fault_conn *c, int error)
{
    struct fault__tlsconn *t = c->tls;
    ERR_clear_error();
    t->handshaking = false;
    fault__conn_sock_read(c, false);
    fault_log_debug(c->owner, "TLS handshake with %s: %s", c->peer, uv_strerror(error));
    t->done(c, fault__err(error), t->ud);
}

static void on_resume(uv_timer_t *timer)
{
    fault_conn *c = timer->data;
    if (!c->tls || c->closing)
        return;
    if (c->tls->handshaking)
        handshake_step(c);
    else
        pump(c);
}

static void arm_resume(fault_conn *c)
{
    struct fault__tlsconn *t = c->tls;
    if (!t->resume_init) {
        uv_timer_init(fault__g.loop, &t->resume);
        t->resume.data = c;
        t->resume_init = true;
    }
    uv_timer_start(&t->resume, on_resume, 0, 0);
}

void fault__tls_resume(fault_conn *c)
{
    struct fault__tlsconn *t = c->tls;
    if (t->handshaking || (SSL_pending(t->ssl) == 0 && BIO_ctrl_pending(t->rbio) == 0))
        return;
    /* Deliver from the next loop iteration, never from inside the
     * consumer's own read_start() call. */
    arm_resume(c);
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
    free(t->sni);
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
    free(t->sni);
    free(t);
}

/* ---- server side (ABI 1.1) ---- */

static int alpn_index = -1;

static void alpn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    free(ptr);
}

/* The ALPN list of the context the handshake ends up with (after SNI). */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)arg;
    const char *mine = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), alpn_index);
    if (!mine)
        return SSL_TLSEXT_ERR_NOACK;
    unsigned char *sel = NULL;
    /* Server preference: our list first. */
    if (SSL_select_next_proto(&sel, outlen, (const unsigned char *)mine, (unsigned)strlen(mine), in,
                              inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

static int servername(SSL *ssl, int *al, void *arg)
{
    (void)al;
    (void)arg;
    fault_conn *c = SSL_get_app_data(ssl);
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!c || !c->tls || !name || !name[0])
        return SSL_TLSEXT_ERR_OK;
    struct fault__tlsconn *t = c->tls;
    free(t->sni);
    t->sni = strdup(name);
    if (t->sni_cb) {
        fault_tls_server *other = t->sni_cb(c, name, t->sni_ud);
        if (other && (SSL_CTX *)other != SSL_get_SSL_CTX(ssl))
            SSL_set_SSL_CTX(ssl, (SSL_CTX *)other);
    }
    return SSL_TLSEXT_ERR_OK;
}

static void errf(char *err, size_t errlen, const char *what, const char *name)
{
    unsigned long e = ERR_peek_last_error();
    char buf[200] = "";
    if (e) {
        /* The reason alone reads better than OpenSSL's full error line. */
        const char *r = ERR_reason_error_string(e);
        snprintf(buf, sizeof buf, ": %s", r ? r : "unknown error");
    }
    ERR_clear_error();
    if (err && errlen)
        snprintf(err, errlen, "%s%s%s%s", what, name ? " " : "", name ? name : "", buf);
}

static bool load_pem_chain(SSL_CTX *ctx, const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    if (!b)
        return false;
    X509 *leaf = PEM_read_bio_X509(b, NULL, NULL, NULL);
    bool ok = leaf && SSL_CTX_use_certificate(ctx, leaf) == 1;
    X509_free(leaf);
    X509 *more;
    while (ok && (more = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        /* add0: the context takes the reference. */
        if (SSL_CTX_add0_chain_cert(ctx, more) != 1) {
            X509_free(more);
            ok = false;
        }
    }
    /* Running out of certificates is the normal end of the text. */
    if (ok)
        ERR_clear_error();
    BIO_free(b);
    return ok;
}

static bool load_pem_key(SSL_CTX *ctx, const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    if (!b)
        return false;
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    bool ok = k && SSL_CTX_use_PrivateKey(ctx, k) == 1;
    EVP_PKEY_free(k);
    BIO_free(b);
    return ok;
}

/* Which code a file that would not load deserves. */
static int file_error(const char *path)
{
    if (path && access(path, R_OK) != 0)
        return errno == ENOENT ? FAULT_ENOENT : errno == EACCES ? FAULT_EACCES : FAULT_EIO;
    return FAULT_EINVAL;
}

int fault_tls_server_load(const fault_tls_server_opts *o, fault_tls_server **out, char *err,
                          size_t errlen)
{
    int code = FAULT_EINVAL;
    if (out)
        *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!o || (!o->cert_file && !o->cert_pem) || (!o->key_file && !o->key_pem)) {
        if (err && errlen)
            snprintf(err, errlen, "a certificate and a key are both needed");
        return FAULT_EINVAL;
    }
    if (!out) {
        if (err && errlen)
            snprintf(err, errlen, "no place for the result");
        return FAULT_EINVAL;
    }
    if (alpn_index < 0)
        alpn_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, alpn_free);
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        errf(err, errlen, "cannot create a TLS context", NULL);
        return FAULT_ENOMEM;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    bool ok;
    if (o->cert_file) {
        ok = SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) == 1;
        if (!ok) {
            errf(err, errlen, "cannot load the certificate chain", o->cert_file);
            code = file_error(o->cert_file);
        }
    } else {
        ok = load_pem_chain(ctx, o->cert_pem);
        if (!ok)
            errf(err, errlen, "cannot load the certificate chain", "(PEM text)");
    }
    if (ok) {
        if (o->key_file) {
            ok = SSL_CTX_use_PrivateKey_file(ctx, o->key_file, SSL_FILETYPE_PEM) == 1;
            if (!ok) {
                errf(err, errlen, "cannot load the private key", o->key_file);
                code = file_error(o->key_file);
            }
        } else {
            ok = load_pem_key(ctx, o->key_pem);
            if (!ok)
                errf(err, errlen, "cannot load the private key", "(PEM text)");
        }
    }
    if (ok && SSL_CTX_check_private_key(ctx) != 1) {
        errf(err, errlen, "the private key does not match the certificate", NULL);
        ok = false;
    }
    if (ok && o->alpn && o->alpn[0]) {
        char *copy = strdup(o->alpn);
        ok = copy && SSL_CTX_set_ex_data(ctx, alpn_index, copy) == 1;
        if (!ok) {
            free(copy);
            errf(err, errlen, "out of memory", NULL);
            code = FAULT_ENOMEM;
        }
    }
    if (!ok) {
        SSL_CTX_free(ctx);
        return code;
    }
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    SSL_CTX_set_tlsext_servername_callback(ctx, servername);
    *out = (fault_tls_server *)ctx;
    return 0;
}

fault_tls_server *fault_tls_server_new(const fault_tls_server_opts *o, char *err, size_t errlen)
{
    fault_tls_server *t = NULL;
    return fault_tls_server_load(o, &t, err, errlen) == 0 ? t : NULL;
}

void fault_tls_server_free(fault_tls_server *t)
{
    if (t)
        SSL_CTX_free((SSL_CTX *)t);
}

int fault__tls_server_start(fault_conn *c, fault_tls_server *srv, fault_tls_sni_cb sni,
                            void *sni_ud, const uint8_t *initial, size_t len,
                            void (*done)(fault_conn *c, int status, void *ud), void *ud)
{
    struct fault__tlsconn *t = calloc(1, sizeof *t);
    if (!t)
        return FAULT_ENOMEM;
    t->ssl = SSL_new((SSL_CTX *)srv);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->rbio || !t->wbio) {
        SSL_free(t->ssl);
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        free(t);
        return FAULT_ENOMEM;
    }
    BIO_set_mem_eof_return(t->rbio, -1);
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    SSL_set_accept_state(t->ssl);
    SSL_set_app_data(t->ssl, c);
    if (len)
        BIO_write(t->rbio, initial, (int)len);
    t->server = true;
    t->handshaking = true;
    t->sni_cb = sni;
    t->sni_ud = sni_ud;
    t->done = done;
    t->ud = ud;
    c->tls = t;
    /* The first step (with the bytes already read, if any) runs from the
     * loop, so done never runs inside the caller. */
    arm_resume(c);
    return fault__conn_sock_read(c, true);
}

const char *fault_conn_alpn(const fault_conn *c)
{
    if (!c || !c->tls || c->tls->handshaking || !c->tls->alpn[0])
        return NULL;
    return c->tls->alpn;
}

const char *fault_conn_sni(const fault_conn *c)
{
    return c && c->tls && c->tls->server ? c->tls->sni : NULL;
}
