/*
 * plugins/postgres/pgtls.h - TLS toward the server after SSLRequest, in
 * memory (see pgtls.c).
 */
#ifndef FAULT_PG_TLS_H
#define FAULT_PG_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fault/common.h>

typedef struct pg_tls_ctx pg_tls_ctx;
typedef struct pg_tls pg_tls;
typedef void (*pg_tls_plain_cb)(void *ud, const uint8_t *data, size_t len);

/* A client context: CA bundle (NULL: the system store) and whether to
 * verify the chain and the name. 0, or FAULT_EINVAL with a reason. */
int pg_tls_ctx_new(const char *ca_file, bool verify, pg_tls_ctx **out, char *err, size_t errlen);
void pg_tls_ctx_free(pg_tls_ctx *t);

/* One connection's TLS, verifying host (or sni when given). */
pg_tls *pg_tls_new(pg_tls_ctx *ctx, const char *host, const char *sni);
void pg_tls_free(pg_tls *t);
bool pg_tls_ready(const pg_tls *t);
/* Ciphertext read from the socket: moves the handshake on, then hands
 * plaintext to cb. 0, FAULT_EOF (close_notify) or FAULT_ETLS with a
 * reason in err. */
int pg_tls_feed(pg_tls *t, const uint8_t *data, size_t len, pg_tls_plain_cb cb, void *ud, char *err,
                size_t errlen);
/* Plaintext to send: encrypted into the pending output. */
int pg_tls_write(pg_tls *t, const uint8_t *data, size_t len);
/* Ciphertext waiting to be sent, and how much of it was taken. */
size_t pg_tls_pending_out(pg_tls *t, const uint8_t **data);
void pg_tls_consume_out(pg_tls *t, size_t n);

#endif /* FAULT_PG_TLS_H */
