/*
 * fault/net.h - sockets for protocol handlers: listeners, upstream
 * connections (with asynchronous name resolution and optional TLS), the
 * relay, and the `--proxy` mappings the host parsed.
 *
 * A protocol handler claims mappings by scheme (fault_protocol_ops), listens
 * in its start() callback, and for each accepted client either relays bytes
 * (fault_stream_new() + fault_connect() + fault_stream_relay()) or speaks
 * the protocol itself over fault_conn reads and writes.
 */
#ifndef FAULT_NET_H
#define FAULT_NET_H

#include <fault/common.h>
#include <fault/stream.h>

FAULT_BEGIN_DECLS

/* One `--proxy` mapping: `[ADDR:]PORT=[scheme://]host[:port]`. */
typedef struct fault_mapping {
    const char *text;        /* as the user wrote it */
    const char *listen_host; /* "127.0.0.1" when no address was given; IPv6
                              * addresses without brackets */
    uint16_t listen_port;
    const char *scheme; /* "" when none, else the scheme in lower case:
                         * fault's own "http", "https", "psql",
                         * "psqls", "tls", or (ABI 1.3) any other
                         * RFC 3986 scheme a protocol plugin claims */
    const char *host;   /* upstream host, IPv6 without brackets */
    uint16_t port;      /* upstream port (scheme default if omitted;
                         * other schemes must give one) */
    bool tls;           /* scheme asks for TLS toward the upstream
                         * (https, psqls, tls; false for others) */
    void *reserved[2];
} fault_mapping;

/* A connected socket, plain or TLS. Owned by whoever holds it until handed
 * to fault_stream_relay() or closed. */
typedef struct fault_conn fault_conn;
typedef struct fault_listener fault_listener;

typedef void (*fault_accept_cb)(fault_listener *l, fault_conn *c, void *userdata);

/* Listens on host:port (host NULL means "0.0.0.0"; IPv6 literals allowed;
 * port 0 picks a free port). Returns 0 and *out, or FAULT_EINVAL (no
 * loop yet: call it from start(); no callback; a bad address),
 * FAULT_ERESOLVE, FAULT_EADDRINUSE, FAULT_EACCES, FAULT_EADDRNOTAVAIL,
 * FAULT_ENOMEM. */
FAULT_API int fault_listen(fault_plugin *self, const char *host, uint16_t port, fault_accept_cb cb,
                           void *userdata, fault_listener **out);
/* "127.0.0.1:9098" or "[::1]:9098": the bound address; valid until
 * fault_listener_close(). */
FAULT_API const char *fault_listener_address(const fault_listener *l);
FAULT_API uint16_t fault_listener_port(const fault_listener *l);
/* Stops listening and frees l. When the run stops, the core closes every
 * listener before it calls the plugins' stop(); closing a listener that is
 * already closed (then or by an earlier call) does nothing, so stop() and
 * destroy() may close what they opened without tracking who was first.
 * (ABI 1.4; a 1.3 core aborted on a second close, so a plugin declaring
 * 1.3 closes its listeners only before the run stops.) */
FAULT_API void fault_listener_close(fault_listener *l);

/* TLS toward an upstream. */
typedef struct fault_tls_client_opts {
    const char *sni;     /* server name to send and verify; NULL: the host */
    bool verify;         /* verify the chain and the name (default true) */
    const char *ca_file; /* PEM bundle; NULL: the system store */
    const char *alpn;    /* wire-format ALPN list, or NULL */
    void *reserved[2];
} fault_tls_client_opts;

/* TLS toward clients (ABI 1.1).
 *
 * A fault_tls_server is an OpenSSL server context built once (typically per
 * listener, in configure() or start()) from a certificate chain and its key,
 * and shared by every connection that accepts TLS with it. It is reference
 * counted underneath: fault_tls_server_free() drops the caller's reference,
 * and handshakes in progress or finished keep theirs, so it may be freed
 * while connections still use it.
 *
 * alpn is the list of protocols the server speaks, in wire format (each
 * name prefixed by its length: "\x02h2\x08http/1.1") and in order of the
 * server's preference: the first of them the client also offers is chosen.
 * A client that offers none of them (or no ALPN at all) gets no ALPN
 * answer, and the handshake goes on. NULL: no ALPN. */
typedef struct fault_tls_server fault_tls_server;

typedef struct fault_tls_server_opts {
    /* The certificate chain (leaf first) and its private key, as PEM files
     * or as PEM text in memory; a file wins over the text when both are
     * given. An unencrypted key is expected. */
    const char *cert_file;
    const char *key_file;
    const char *cert_pem;
    const char *key_pem;
    const char *alpn; /* wire-format ALPN list, server preference order */
    void *reserved[4];
} fault_tls_server_opts;

/* Builds a server context into *out (ABI 1.3). Returns 0, or a negative
 * code with a one-line reason in err: FAULT_EINVAL (no certificate or no
 * key given, not PEM, the key does not match the certificate),
 * FAULT_ENOENT or FAULT_EACCES (a file cannot be read), FAULT_ENOMEM.
 * Does not need the loop: call it from configure() so that bad files are
 * bad input (exit status 2) rather than a failed start. TLS 1.2 and 1.3
 * only. */
FAULT_API int fault_tls_server_load(const fault_tls_server_opts *o, fault_tls_server **out,
                                    char *err, size_t errlen);
/* ABI 1.1 form of fault_tls_server_load(): the context, or NULL with the
 * reason in err. Kept for plugins built against 1.1 and 1.2. */
FAULT_API fault_tls_server *fault_tls_server_new(const fault_tls_server_opts *o, char *err,
                                                 size_t errlen) FAULT_DEPRECATED;
FAULT_API void fault_tls_server_free(fault_tls_server *t);

/* Server Name Indication hook, called during the handshake with the name
 * the client asked for (never with NULL: a client that sends no name, as
 * clients do for IP addresses, does not trigger it). Return the context
 * whose certificate answers for that name, or NULL to keep the one the
 * handshake started with. The returned context is referenced by the
 * connection: the caller may free or cache it as it likes. This is how an
 * intercepting proxy presents a certificate made on the fly for each name
 * from its own CA. */
typedef fault_tls_server *(*fault_tls_sni_cb)(fault_conn *c, const char *name, void *userdata);

/* status is 0 (the connection now carries plaintext: fault_conn_read_start()
 * and writes work as on any connection) or FAULT_ETLS (handshake failed),
 * FAULT_EOF, FAULT_ECONNRESET or another code (the client went away). On
 * failure c is still valid and still the caller's to close. */
typedef void (*fault_tls_done_cb)(fault_conn *c, int status, void *userdata);

/* Accepts TLS on an accepted connection c (ABI 1.1), with server context t
 * and optionally an SNI hook (sni and sni_ud). initial/len are bytes the
 * handler already read from c and that belong to the handshake (it peeked
 * at the first byte to tell TLS from plaintext, or a ClientHello followed
 * a CONNECT head); they are copied. Reading must be stopped (the handshake
 * reads the socket itself) and nothing may be written until done runs.
 * done runs once, from a later loop iteration, never inside this call.
 * There is no handshake deadline here: a handler that does not want to
 * wait forever for a silent client closes c from its own timer (done then
 * never runs). Returns 0, or a negative error (done not called). */
/* Returns 0, FAULT_EINVAL (a NULL argument), FAULT_EBUSY (c already
 * does TLS or is closing) or FAULT_ENOMEM. */
FAULT_API int fault_conn_start_tls_server(fault_conn *c, fault_tls_server *t, fault_tls_sni_cb sni,
                                          void *sni_ud, const void *initial, size_t len,
                                          fault_tls_done_cb done, void *userdata);

/* The protocol ALPN settled on for a TLS connection, client or server side
 * ("h2", "http/1.1"), once its handshake is done; NULL for plain TCP, for
 * a handshake without ALPN, or before it finished (ABI 1.1). */
FAULT_API const char *fault_conn_alpn(const fault_conn *c);
/* The server name a TLS client asked for (SNI) on a connection accepted
 * with fault_conn_start_tls_server(); NULL when it sent none, and for
 * every other connection (ABI 1.1). */
FAULT_API const char *fault_conn_sni(const fault_conn *c);

/* c is NULL when status < 0: FAULT_ERESOLVE, FAULT_ECONNREFUSED,
 * FAULT_ETIMEDOUT (the --connect-timeout passed), FAULT_ETLS,
 * FAULT_ENETUNREACH, FAULT_EHOSTUNREACH, FAULT_ECANCELED (the run is
 * stopping), or the negative code a fault's on_connect hook returned. */
typedef void (*fault_connect_cb)(fault_conn *c, int status, void *userdata);

/* Resolves host asynchronously, connects (trying each address), and does
 * the TLS handshake when tls is not NULL. When s is given, the fault
 * plugins attached to it see the attempt first (stream on_connect).
 * Returns 0 (cb runs once, later, from the loop, never inside this call)
 * or FAULT_EINVAL / FAULT_ENOMEM (cb not called). */
FAULT_API int fault_connect(fault_plugin *self, fault_stream *s, const char *host, uint16_t port,
                            const fault_tls_client_opts *tls, fault_connect_cb cb, void *userdata);

/* Plain reads and writes, for handlers that speak a protocol themselves.
 * On read, nread > 0 is data, 0 never happens, negative is FAULT_EOF (the
 * peer closed its side) or an error (FAULT_ECONNRESET, FAULT_EPROTO for a
 * broken TLS record, ...). The data is valid during the callback only.
 * read_start and read_stop return 0 or a negative code; write callbacks
 * get 0 or a negative code (FAULT_ECANCELED when the connection was
 * closed first, FAULT_EPIPE, FAULT_ECONNRESET). */
typedef void (*fault_read_cb)(fault_conn *c, long nread, const uint8_t *data, void *userdata);
typedef void (*fault_write_cb)(fault_conn *c, int status, void *userdata);
FAULT_API int fault_conn_read_start(fault_conn *c, fault_read_cb cb, void *userdata);
FAULT_API int fault_conn_read_stop(fault_conn *c);
/* Copies data; cb (may be NULL) runs once it is handed to the kernel.
 * Returns 0, FAULT_ECANCELED (c is closing), FAULT_ENOMEM, FAULT_ETLS or
 * the socket's error. cb runs exactly once when this returns 0 (with 0, or
 * a later error or FAULT_ECANCELED) and never when it returns an error, on
 * plain TCP and TLS connections alike: a caller holding a reference for
 * the callback drops it there, or on the error return, never both. On a
 * TLS connection the bytes are encrypted at once and cb runs before this
 * returns. (Older cores also called cb on a failed TLS write: a plugin
 * that must run on them too should not take a reference for cb on TLS
 * connections, or should count callbacks.) */
FAULT_API int fault_conn_write(fault_conn *c, const void *data, size_t len, fault_write_cb cb,
                               void *userdata);
/* Hands the kernel as much of data as it takes right now, without
 * queueing or copying anything (ABI 1.1): returns the bytes taken (0 when
 * the socket is full), or a negative error. Only use it while
 * fault_conn_write_queued() is 0, or bytes would overtake queued ones;
 * write the rest with fault_conn_write(). On a TLS connection everything
 * is taken (encrypted at once). Saves the allocation, copy and completion
 * callback of fault_conn_write() for the common case of a socket with
 * room. */
FAULT_API long fault_conn_try_write(fault_conn *c, const void *data, size_t len);
/* Zero-copy transfer (ABI 1.1): moves exactly len bytes from `from` to
 * `to` inside the kernel (splice(2) through a pipe), for a handler that
 * knows a run of bytes needs no look, e.g. an HTTP body of known length
 * with no fault stage in its way. Bytes past len stay unread in `from`.
 * Both connections must be plain TCP; the caller must have stopped
 * reading `from` (fault_conn_read_stop()) and have nothing queued on `to`
 * (fault_conn_write_queued() == 0), and must neither read `from` nor
 * write `to` until done runs (reading `to` is fine). done runs once, from
 * the loop, never inside this call, with status 0 (all moved), FAULT_EOF
 * (`from` ended first) or a negative error, and the bytes moved; the
 * caller then carries on as before (fault_conn_read_start() again).
 * Closing or resetting either connection cancels the transfer: done does
 * not run then. Returns 0, FAULT_ENOTSUP (TLS on either side, no splice
 * here, or FAULT_NO_SPLICE=1 in the environment: do it the ordinary way),
 * FAULT_EBUSY (the conditions above do not hold), FAULT_EINVAL or another
 * negative code. */
typedef void (*fault_splice_cb)(fault_conn *from, fault_conn *to, int status, uint64_t moved,
                                void *userdata);
FAULT_API int fault_conn_splice(fault_conn *from, fault_conn *to, uint64_t len,
                                fault_splice_cb done, void *userdata);
/* Bytes accepted by fault_conn_write() and not yet handed to the kernel. */
FAULT_API size_t fault_conn_write_queued(const fault_conn *c);
/* FIN after queued writes; 0 or a negative code (FAULT_ENOMEM, the
 * socket's error). Calling it twice is harmless. */
FAULT_API int fault_conn_shutdown(fault_conn *c);
FAULT_API void fault_conn_close(fault_conn *c); /* graceful close, frees c */
FAULT_API void fault_conn_reset(fault_conn *c); /* RST, frees c */
/* "ip:port" of the other end; valid until c is closed. */
FAULT_API const char *fault_conn_peer(const fault_conn *c);

/* Creates the stream for an accepted client (publishes CONN_OPEN). target
 * is "host:port" for events. Once fault_stream_relay() runs, the relay
 * owns client; a handler that does not relay keeps owning it and ends the
 * stream with fault_stream_finish() (<fault/chain.h>). */
FAULT_API fault_stream *fault_stream_new(fault_plugin *self, fault_conn *client,
                                         const char *target);
/* Attaches the fault plugins and relays bytes both ways until both legs
 * have closed; then the stream frees itself (publishes CONN_CLOSE). */
FAULT_API int fault_stream_relay(fault_stream *s, fault_conn *server);
/* fault_stream_relay() for a handler that has already read bytes the relay
 * must carry first (ABI 1.1). to_server (e.g. what a client sent after a
 * CONNECT head) enters the egress direction and to_client the ingress
 * direction, ahead of anything read afterwards and through the same
 * stages, exactly as if the relay had read them itself. Either may be
 * NULL with length 0; the bytes are copied. A handler that made chains for
 * s frees them first (their pending bytes would be lost). Same ownership
 * and return values as fault_stream_relay(). */
FAULT_API int fault_stream_relay_with(fault_stream *s, fault_conn *server, const void *to_server,
                                      size_t to_server_len, const void *to_client,
                                      size_t to_client_len);
/* Ends a stream that never relayed (the upstream could not be reached):
 * resets the client connection and publishes CONN_CLOSE with the error. */
FAULT_API void fault_stream_abort(fault_stream *s, int error);

FAULT_END_DECLS

#endif /* FAULT_NET_H */
