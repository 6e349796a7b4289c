/*
 * plugins/http/pki.c - the local CA behind HTTPS interception: generating
 * one (`fault ca generate`), loading the user's, and issuing a leaf
 * certificate per host name on demand.
 *
 * Keys are ECDSA P-256: generating one takes well under a millisecond, so
 * a leaf can be made during a TLS handshake without the loop noticing,
 * and every client that can speak TLS 1.2 accepts them. All leaves share
 * one key, made when the CA is loaded (as mitmproxy does): the CA's
 * signature is what binds a name to it, and a key per name would only
 * cost time. A leaf names its host in subjectAltName (DNS or IP; clients
 * ignore the CN) and is valid from an hour ago (clocks differ) for 397
 * days (the longest browsers accept), never past the CA itself. Leaves
 * are cached as ready server contexts, most recently used first, up to
 * PKI_CACHE entries.
 *
 * Names come from CONNECT targets (already validated) and from SNI, which
 * is whatever a client sends: anything but letters, digits, '-', '.', '_'
 * and '*' is refused rather than put into a certificate.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "proxy.h"
#include "safefile.h"

#define PKI_CACHE 512
#define LEAF_DAYS 397

typedef struct leaf {
    char name[HP_MAX_HOST];
    fault_tls_server *srv;
    struct leaf *prev, *next;
} leaf;

struct hp_pki {
    X509 *ca;
    EVP_PKEY *ca_key;
    EVP_PKEY *leaf_key;
    char *leaf_key_pem;
    char *ca_pem; /* sent after each leaf, so chains are complete */
    char *alpn;
    leaf *head, *tail;
    size_t n;
};

/* err = msg, then OpenSSL's reason for the last failure if it has one. */
static void set_err(char *err, size_t errlen, const char *msg)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    snprintf(err, errlen, "%s%s%s", msg, e ? ": " : "", e ? (r ? r : "unknown error") : "");
}

void hp_pki_default_dir(char *out, size_t len)
{
    const char *d = getenv("FAULT_CA_DIR");
    if (d && d[0]) {
        snprintf(out, len, "%s", d);
        return;
    }
    const char *x = getenv("XDG_CONFIG_HOME");
    if (x && x[0]) {
        snprintf(out, len, "%s/fault/ca", x);
        return;
    }
    const char *h = getenv("HOME");
    snprintf(out, len, "%s/.config/fault/ca", h && h[0] ? h : ".");
}

static EVP_PKEY *new_key(void)
{
    return EVP_EC_gen("P-256");
}

/* A random positive 127-bit serial (RFC 5280 wants them unpredictable). */
static bool set_serial(X509 *x)
{
    BIGNUM *bn = BN_new();
    bool ok = bn && BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
              BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok;
}

static bool add_ext(X509 *issuer, X509 *x, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!e)
        return false;
    bool ok = X509_add_ext(x, e, -1) == 1;
    X509_EXTENSION_free(e);
    return ok;
}

static char *pem_of(int (*write)(BIO *, const void *), const void *obj)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return NULL;
    char *out = NULL;
    if (write(b, obj) == 1) {
        char *p;
        long n = BIO_get_mem_data(b, &p);
        out = malloc((size_t)n + 1);
        if (out) {
            memcpy(out, p, (size_t)n);
            out[n] = '\0';
        }
    }
    BIO_free(b);
    return out;
}

static int write_x509(BIO *b, const void *x)
{
    return PEM_write_bio_X509(b, (X509 *)x);
}

static int write_key(BIO *b, const void *k)
{
    return PEM_write_bio_PrivateKey(b, (EVP_PKEY *)k, NULL, NULL, 0, NULL, NULL);
}

/* mkdir -p, the last component private (it holds a private key). */
static int make_dirs(const char *dir)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* A new file with its mode from the start, renamed over the old one: a
 * link planted at the path is replaced, never written through. */
static int write_file(const char *path, const char *text, mode_t mode, char *err, size_t errlen)
{
    return pl_write_file(path, text, strlen(text), mode, err, errlen);
}

int hp_pki_generate(const char *dir, const char *name, int days, bool force, char *err,
                    size_t errlen)
{
    char cert_path[4200], key_path[4200];
    snprintf(cert_path, sizeof cert_path, "%s/ca.pem", dir);
    snprintf(key_path, sizeof key_path, "%s/ca-key.pem", dir);
    struct stat sb;
    if (!force && (lstat(cert_path, &sb) == 0 || lstat(key_path, &sb) == 0)) {
        snprintf(err, errlen, "%s already holds a CA (--force replaces it)", dir);
        return -1;
    }
    if (make_dirs(dir) < 0) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    ERR_clear_error();
    EVP_PKEY *key = new_key();
    X509 *x = X509_new();
    X509_NAME *nm = x ? X509_get_subject_name(x) : NULL;
    bool ok = key && x && nm && X509_set_version(x, 2) == 1 && set_serial(x) &&
              X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
              X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) &&
              X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_UTF8, (const unsigned char *)"fault", -1,
                                         -1, 0) == 1 &&
              X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8, (const unsigned char *)name, -1,
                                         -1, 0) == 1 &&
              X509_set_issuer_name(x, nm) == 1 && X509_set_pubkey(x, key) == 1 &&
              add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
              add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") &&
              add_ext(x, x, NID_subject_key_identifier, "hash") &&
              add_ext(x, x, NID_authority_key_identifier, "keyid:always") &&
              X509_sign(x, key, EVP_sha256()) > 0;
    char *cert_pem = ok ? pem_of(write_x509, x) : NULL;
    char *key_pem = ok ? pem_of(write_key, key) : NULL;
    int rc = 0;
    if (!ok || !cert_pem || !key_pem) {
        set_err(err, errlen, "cannot make the CA certificate");
        rc = -1;
    } else if (write_file(key_path, key_pem, 0600, err, errlen) < 0 ||
               write_file(cert_path, cert_pem, 0644, err, errlen) < 0) {
        rc = -1;
    }
    if (key_pem)
        OPENSSL_cleanse(key_pem, strlen(key_pem));
    free(key_pem);
    free(cert_pem);
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}

hp_pki *hp_pki_load(const char *cert_file, const char *key_file, const char *alpn, char *err,
                    size_t errlen)
{
    ERR_clear_error();
    hp_pki *k = calloc(1, sizeof *k);
    if (!k) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    FILE *f = fopen(cert_file, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", cert_file, strerror(errno));
        goto fail;
    }
    k->ca = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!k->ca) {
        char msg[4200];
        snprintf(msg, sizeof msg, "%s: not a PEM certificate", cert_file);
        set_err(err, errlen, msg);
        goto fail;
    }
    f = fopen(key_file, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", key_file, strerror(errno));
        goto fail;
    }
    k->ca_key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!k->ca_key) {
        char msg[4200];
        snprintf(msg, sizeof msg, "%s: not a PEM private key (encrypted keys are not accepted)",
                 key_file);
        set_err(err, errlen, msg);
        goto fail;
    }
    if (X509_check_private_key(k->ca, k->ca_key) != 1) {
        ERR_clear_error();
        snprintf(err, errlen, "%s is not the key of %s", key_file, cert_file);
        goto fail;
    }
    if (X509_check_ca(k->ca) == 0) {
        snprintf(err, errlen, "%s is not a CA certificate (basicConstraints CA:TRUE)", cert_file);
        goto fail;
    }
    k->leaf_key = new_key();
    k->leaf_key_pem = k->leaf_key ? pem_of(write_key, k->leaf_key) : NULL;
    k->ca_pem = pem_of(write_x509, k->ca);
    k->alpn = alpn ? strdup(alpn) : NULL;
    if (!k->leaf_key_pem || !k->ca_pem || (alpn && !k->alpn)) {
        set_err(err, errlen, "cannot make the leaf key");
        goto fail;
    }
    return k;
fail:
    hp_pki_free(k);
    return NULL;
}

static bool name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > 253)
        return false;
    for (const char *p = n; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_' || c == '*' || c == ':'))
            return false;
    }
    return true;
}

/* PEM of a new leaf for name, followed by the CA; NULL on failure. */
static char *issue(hp_pki *k, const char *name)
{
    unsigned char ip[16];
    bool is_ip = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
    if (!is_ip && strchr(name, ':'))
        return NULL;
    char san[HP_MAX_HOST + 8];
    snprintf(san, sizeof san, "%s:%s", is_ip ? "IP" : "DNS", name);
    X509 *x = X509_new();
    X509_NAME *nm = x ? X509_get_subject_name(x) : NULL;
    bool ok = x && nm && X509_set_version(x, 2) == 1 && set_serial(x) &&
              X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
              X509_time_adj_ex(X509_getm_notAfter(x), LEAF_DAYS, 0, NULL);
    /* Never valid past the CA that signs it. */
    if (ok && ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(k->ca)) > 0)
        ok = X509_set1_notAfter(x, X509_get0_notAfter(k->ca)) == 1;
    /* A CN holds 64 characters at most; the SAN is what counts anyway. */
    if (ok && strlen(name) <= 64)
        ok = X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8, (const unsigned char *)name, -1,
                                        -1, 0) == 1;
    ok = ok && X509_set_issuer_name(x, X509_get_subject_name(k->ca)) == 1 &&
         X509_set_pubkey(x, k->leaf_key) == 1 &&
         add_ext(k->ca, x, NID_basic_constraints, "critical,CA:FALSE") &&
         add_ext(k->ca, x, NID_key_usage, "critical,digitalSignature") &&
         add_ext(k->ca, x, NID_ext_key_usage, "serverAuth") &&
         add_ext(k->ca, x, NID_subject_key_identifier, "hash") &&
         add_ext(k->ca, x, NID_authority_key_identifier, "keyid") &&
         add_ext(k->ca, x, NID_subject_alt_name, san) && X509_sign(x, k->ca_key, EVP_sha256()) > 0;
    char *pem = ok ? pem_of(write_x509, x) : NULL;
    X509_free(x);
    if (!pem) {
        ERR_clear_error();
        return NULL;
    }
    size_t a = strlen(pem), b = strlen(k->ca_pem);
    char *chain = realloc(pem, a + b + 1);
    if (!chain) {
        free(pem);
        return NULL;
    }
    memcpy(chain + a, k->ca_pem, b + 1);
    return chain;
}

static void unlink_leaf(hp_pki *k, leaf *l)
{
    if (l->prev)
        l->prev->next = l->next;
    else
        k->head = l->next;
    if (l->next)
        l->next->prev = l->prev;
    else
        k->tail = l->prev;
    l->prev = l->next = NULL;
}

static void push_front(hp_pki *k, leaf *l)
{
    l->prev = NULL;
    l->next = k->head;
    if (k->head)
        k->head->prev = l;
    k->head = l;
    if (!k->tail)
        k->tail = l;
}

fault_tls_server *hp_pki_server_for(hp_pki *k, const char *host)
{
    if (!k || !host || !name_ok(host))
        return NULL;
    for (leaf *l = k->head; l; l = l->next) {
        if (strcasecmp(l->name, host) == 0) {
            if (l != k->head) {
                unlink_leaf(k, l);
                push_front(k, l);
            }
            return l->srv;
        }
    }
    char *chain = issue(k, host);
    if (!chain)
        return NULL;
    fault_tls_server_opts o;
    memset(&o, 0, sizeof o);
    o.cert_pem = chain;
    o.key_pem = k->leaf_key_pem;
    o.alpn = k->alpn;
    char err[300];
    fault_tls_server *srv = NULL;
    int rc = fault_tls_server_load(&o, &srv, err, sizeof err);
    free(chain);
    if (rc != 0)
        return NULL;
    leaf *l = calloc(1, sizeof *l);
    if (!l) {
        fault_tls_server_free(srv);
        return NULL;
    }
    snprintf(l->name, sizeof l->name, "%s", host);
    l->srv = srv;
    push_front(k, l);
    /* Handshakes still using an evicted context hold their own reference. */
    if (++k->n > PKI_CACHE) {
        leaf *old = k->tail;
        unlink_leaf(k, old);
        fault_tls_server_free(old->srv);
        free(old);
        k->n--;
    }
    return srv;
}

size_t hp_pki_cached(const hp_pki *k)
{
    return k ? k->n : 0;
}

void hp_pki_free(hp_pki *k)
{
    if (!k)
        return;
    while (k->head) {
        leaf *l = k->head;
        unlink_leaf(k, l);
        fault_tls_server_free(l->srv);
        free(l);
    }
    X509_free(k->ca);
    EVP_PKEY_free(k->ca_key);
    EVP_PKEY_free(k->leaf_key);
    if (k->leaf_key_pem)
        OPENSSL_cleanse(k->leaf_key_pem, strlen(k->leaf_key_pem));
    free(k->leaf_key_pem);
    free(k->ca_pem);
    free(k->alpn);
    free(k);
}
