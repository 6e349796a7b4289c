/*
 * plugins/http/proxy.h - what the files of the http plugin share.
 *
 *   http.c      the plugin: options, listeners, upstream targeting
 *   due.c       work due once per loop iteration (gathered writes of
 *               HTTP/1 sessions, pumps of HTTP/2 connections)
 *   h1.c        HTTP/1 text: head collection from llhttp callbacks,
 *               request targets, hop-by-hop headers, upstream patterns
 *               (no libuv: the fuzz target builds it on its own)
 *   session.c   one HTTP/1 client connection: parsing, exchanges,
 *               chains; with sess_request.c (the request side) and
 *               sess_upstream.c (the upstream side), sharing session.h
 *   upstream.c  upstream connections: connecting, the idle pool
 *   h1up.c      the one HTTP/1.1 upstream connection object (hp_h1up:
 *               bind, SERVER chains, reads, writes) embedded by the
 *               session, the HTTP/2 streams and their CONNECT tunnels;
 *               reading a response head, the request line, the end of a
 *               response, back to the pool
 *   tunnel.c    CONNECT: an HTTP/1 session's switch to a tunnel, plain
 *               tunnels that bypass the faults, HTTP/2 CONNECT streams
 *   accept.c    accepted connections: TLS or plaintext, HTTP/2 or
 *               HTTP/1 (told apart by their first bytes), CONNECT
 *               interception
 *   h2.c        HTTP/2 client connections (nghttp2); with h2_exchange.c
 *               (a stream as an exchange), h2_h1up.c (a stream's HTTP/1.1
 *               upstream) and h2up.c (HTTP/2 upstream connections, for
 *               HTTP/1 sessions too), sharing h2int.h
 *   pki.c       the local CA: generation, loading, leaf certificates
 *               (shared with the `fault ca` command plugin, ca.c)
 *
 * Not an installed header: plugins see only <fault/plugin.h>.
 */
#ifndef FAULT_HTTP_PROXY_H
#define FAULT_HTTP_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <llhttp.h>
#include <uv.h>

#include <fault/plugin.h>

/* Bytes buffered in one direction (chains, our buffers, socket queues)
 * above which the sender is no longer read, and below which reading
 * resumes: the relay's marks, so faults feel the same on both paths. */
#define HP_HIGH_WATER (256 * 1024)
#define HP_LOW_WATER  (64 * 1024)
/* Largest request or response head (line and headers) accepted. */
#define HP_MAX_HEAD (64 * 1024)
#define HP_MAX_HOST 256

/* ---- h1.c: buffers ---- */

typedef struct hp_buf {
    uint8_t *p;
    size_t len, cap;
} hp_buf;

/* Room for `more` bytes past len (the buffer grows by doubling). */
int hp_buf_reserve(hp_buf *b, size_t more);
/* Appends len bytes. Inline: heads are built from many short pieces, and
 * almost every one fits in what the buffer already has. */
static inline int hp_buf_add(hp_buf *b, const void *data, size_t len)
{
    if (len == 0)
        return 0;
    if (b->cap - b->len < len && hp_buf_reserve(b, len) < 0)
        return -1;
    memcpy(b->p + b->len, data, len);
    b->len += len;
    return 0;
}
int hp_buf_str(hp_buf *b, const char *s);
int hp_buf_printf(hp_buf *b, const char *fmt, ...) FAULT_PRINTF(2, 3);
/* Decimal and lower-case hex, without printf. */
int hp_buf_u64(hp_buf *b, uint64_t v);
int hp_buf_hex(hp_buf *b, uint64_t v);
/* strlcpy: copies what fits (NUL-terminated), returns strlen(src). */
size_t hp_copy(char *dst, size_t size, const char *src);
void hp_buf_free(hp_buf *b);

/* ---- h1.c: byte queues ----
 *
 * Bytes waiting to be used from the front (parser input, bodies on their
 * way): added at the end, taken from the front by moving a read offset,
 * so taking costs no memmove (the rest moves down only when the end needs
 * room). The one queue type of the plugin; hp_buf builds messages. */

typedef struct hp_fifo {
    uint8_t *p;
    size_t off, len, cap;
} hp_fifo;

/* The bytes waiting (len of them). */
static inline const uint8_t *hp_fifo_data(const hp_fifo *f)
{
    return f->p + f->off;
}
int hp_fifo_add(hp_fifo *f, const void *data, size_t n);
/* Drops the first n bytes (n <= len). Once empty, a queue whose storage
 * grew past keep bytes gives it back to the allocator, so a burst does
 * not pin memory. */
void hp_fifo_take(hp_fifo *f, size_t n, size_t keep);
/* Empties the queue, keeping its storage. */
static inline void hp_fifo_clear(hp_fifo *f)
{
    f->off = f->len = 0;
}
/* Moves what from holds to the end of to (from is freed). */
int hp_fifo_move(hp_fifo *to, hp_fifo *from);
void hp_fifo_free(hp_fifo *f);

/* ---- h1.c: heads collected from llhttp callbacks ---- */

typedef struct hp_hdr {
    uint32_t name, value; /* offsets of NUL-terminated strings in buf */
} hp_hdr;

typedef struct hp_head {
    hp_buf b;
    uint32_t url; /* request target, or the reason phrase of a response */
    bool has_url;
    hp_hdr *h;
    size_t n, cap;
    int state;    /* which span is open (see h1.c) */
    bool too_big; /* more than HP_MAX_HEAD: the message is refused */
    int8_t conn;  /* Connection headers found (up to HP_CONN_IDX), -1: not
                   * looked yet; conn_idx holds their indices */
    uint16_t conn_idx[4];
} hp_head;
#define HP_CONN_IDX 4

/* An llhttp parser with the head it collects. The callbacks below find the
 * head from the parser, so a user fills its llhttp_settings_t with them and
 * adds its own on_headers_complete, on_body and on_message_complete. */
typedef struct hp_parser {
    llhttp_t p;
    hp_head head;
    void *ud;
} hp_parser;

void hp_parser_init(hp_parser *hp, llhttp_type_t type, const llhttp_settings_t *settings, void *ud);
void hp_parser_free(hp_parser *hp);
/* Why the parser stopped with error e, in words for a person: llhttp
 * names its callbacks ("`on_header_field_complete` callback error") when
 * one of ours refused. */
const char *hp_parse_error(const hp_parser *hp, llhttp_errno_t e);
/* Fills the collecting callbacks (message begin, url/status, header
 * fields and values and their completions). */
void hp_settings_collect(llhttp_settings_t *s);
/* on_message_begin of the collecting callbacks: empties the head. */
int hp_head_begin(llhttp_t *p);
/* Closes the last open span; call from on_headers_complete. */
void hp_head_done(hp_head *h);
const char *hp_head_url(const hp_head *h);
const char *hp_head_name(const hp_head *h, size_t i);
const char *hp_head_value(const hp_head *h, size_t i);
/* First value of a header (case-insensitive), or NULL. */
const char *hp_head_get(const hp_head *h, const char *name);
/* True when token appears in a comma-separated header value. */
bool hp_token_in(const char *list, const char *token);
/* True when any header called name has token in its list. */
bool hp_head_has_token(const hp_head *h, const char *name, const char *token);
/* Hop-by-hop (RFC 9110 7.6.1): the fixed set plus whatever Connection (or
 * the legacy Proxy-Connection) lists in this head. Content-Length is not
 * hop-by-hop; framing is decided separately. */
bool hp_hop_by_hop(hp_head *h, const char *name);
/* name equals lower (of length len), case aside. */
bool hp_name_is(const char *name, const char *lower, size_t len);
/* "Name: value\r\n" */
int hp_buf_header(hp_buf *b, const char *name, const char *value);

/* ---- h1.c: the pausable llhttp driver ----
 *
 * One loop for every llhttp parser of the plugin (the HTTP/1 request, the
 * HTTP/1.1 response for sessions and for HTTP/2 streams). The parser's
 * callbacks pause it at the events the owner acts on (d->ev: a head, a
 * message's end, a held body that outgrew its limit); the driver then
 * resumes it, hands the event to the owner (on_head, on_done, on_full)
 * and goes on. Bytes the parser may not take yet (not runnable, or a run
 * in progress: events may feed the same parser again) wait in the queue,
 * in order; the caller's own buffer is parsed in place when nothing waits
 * before it. After a pause llhttp may have more to say without another
 * byte (the end of a bodiless message): it is run once more on nothing
 * (kick). */

enum { EV_NONE = 0, EV_HEAD = 1, EV_DONE = 2, EV_FULL = 3 };

typedef struct hp_drive hp_drive;
typedef struct hp_drive_ops {
    /* The owner was torn down: stop at once, touching nothing. */
    bool (*gone)(const hp_drive *d);
    /* The parser may take bytes now (else they wait). */
    bool (*runnable)(const hp_drive *d);
    /* The parser paused at d->ev: a head, a message's end, a held body
     * that outgrew its limit. */
    void (*on_head)(hp_drive *d);
    void (*on_done)(hp_drive *d);
    void (*on_full)(hp_drive *d);
    /* llhttp stopped with e (not HPE_OK, not HPE_PAUSED). Returns true to
     * go on (HPE_PAUSED_UPGRADE handled), false to stop. */
    bool (*on_error)(hp_drive *d, llhttp_errno_t e);
    /* A byte queue could not grow. */
    void (*on_nomem)(hp_drive *d);
} hp_drive_ops;

struct hp_drive {
    hp_parser *hp;
    hp_fifo *in;  /* bytes not parsed yet */
    size_t keep;  /* hp_fifo_take()'s keep for in */
    int ev;       /* set by the parser's callbacks before they pause it */
    bool kick;    /* run once more on nothing */
    bool running; /* a run is in progress (events may feed us again) */
    bool again;   /* fed during the run */
    const hp_drive_ops *ops;
};

void hp_drive_init(hp_drive *d, hp_parser *hp, hp_fifo *in, size_t keep, const hp_drive_ops *ops);
/* Parses p (n bytes, may be 0: only what waits) as far as the owner lets
 * it. Returns false when it only queued them (a run was in progress, or
 * it is gone / out of memory); true when it ran: the caller's
 * after-the-run checks (end of input, bytes after the message) go then.
 * After a pause it runs llhttp once on nothing: inside a body, llhttp
 * then reports the open body span empty, so on_body callbacks must take
 * n == 0 as nothing (in chunked framing it would be the last chunk). */
bool hp_drive_run(hp_drive *d, const uint8_t *p, size_t n);
/* The input ended: a message that runs to the end of the connection
 * ends here. Returns llhttp_finish()'s code; after HPE_PAUSED (resumed),
 * d->ev says what the callbacks saw. */
llhttp_errno_t hp_drive_finish(hp_drive *d);

/* ---- h1.c: request targets and host names ---- */

typedef enum hp_tform {
    HP_ORIGIN = 0,    /* "/path?q" */
    HP_ABSOLUTE = 1,  /* "http://host:port/path?q" */
    HP_AUTHORITY = 2, /* "host:port" (CONNECT) */
    HP_ASTERISK = 3   /* "*" (OPTIONS) */
} hp_tform;

typedef struct hp_target {
    hp_tform form;
    bool tls;               /* https:// */
    char host[HP_MAX_HOST]; /* without brackets; "" for origin form */
    uint16_t port;          /* given, or the scheme's default */
    bool port_given;
    const char *path; /* into the input, or "/" */
    size_t pathlen;
} hp_target;

/* Parses a request target. connect: CONNECT's authority form (port
 * required). Returns 0 or -1 with a reason in *why. */
int hp_parse_target(const char *t, size_t len, bool connect, hp_target *out, const char **why);
/* "host:port", "[v6]:port" or a bare host (port 0 when absent, unless
 * port_required). Returns 0 or -1. */
int hp_parse_hostport(const char *t, size_t len, char *host, size_t hostlen, uint16_t *port,
                      bool port_required);
/* Writes "host[:port]" with brackets for IPv6; the port is left out when
 * it is the scheme's default and omit_default is set. */
void hp_authority(char *out, size_t outlen, const char *host, uint16_t port, bool tls,
                  bool omit_default);

/* One --upstream pattern: a host and optionally a port (0: any). */
typedef struct hp_match {
    char host[HP_MAX_HOST];
    uint16_t port;
    bool any; /* "*" */
} hp_match;

/* Accepts "*", "host", "host:port", "[v6]:port", and URLs such as
 * "http://host:port/path" (scheme and path ignored). */
int hp_parse_match(const char *text, hp_match *out, const char **why);
bool hp_match_host(const hp_match *m, const char *host, uint16_t port);

/* Reason phrase for a status ("" when unknown). */
const char *hp_reason(int status);

/* ---- due.c: work due once per loop iteration ---- */

typedef struct hp_due hp_due;
/* Runs a connection's due work. Returns true when work is left: d stays
 * queued (with the owner's reference) for the next iteration. Else the
 * owner has cleared d->queued (before its work, if that work may queue it
 * again) and dropped the reference it took for the queue. */
typedef bool (*hp_due_fn)(hp_due *d);
struct hp_due {
    hp_due *next;
    bool queued;
    hp_due_fn run;
};

/* ---- http.c: the plugin ---- */

struct hp_sess;
struct hp_up;
struct hp_tun;
struct hp_creq;

/* One listener: the forward proxy, or a reverse mapping; or, owned by a
 * session, the inside of an intercepted CONNECT tunnel (reverse, toward
 * https://host:port, keeping the client's Host). */
typedef struct hp_front {
    struct hp_state *st;
    bool reverse;
    bool keep_host;          /* reverse: send the client's Host, not the upstream's */
    bool intercept;          /* the inside of an intercepted tunnel */
    int refs;                /* owned fronts (intercept): freed at 0 */
    char text[300];          /* the mapping as written, for messages */
    char lhost[HP_MAX_HOST]; /* where it listens */
    uint16_t lport;
    char host[HP_MAX_HOST]; /* reverse: the upstream */
    uint16_t port;
    bool tls;
    char authority[HP_MAX_HOST + 8]; /* reverse: Host sent upstream */
    char target[HP_MAX_HOST + 16];   /* for events */
    fault_listener *l;
} hp_front;

typedef struct hp_state {
    /* options */
    const char *proxy_address;
    bool disable;
    fault_strv upstreams;
    uint64_t upstream_timeout_us;
    const char *override;
    uint64_t idle_timeout_us;
    int64_t pool_max; /* --http-upstream-pool-max: idle connections per upstream */
    bool via;
    const char *tls_cert;
    const char *tls_key;
    bool intercept;
    const char *intercept_ca;
    const char *intercept_ca_key;
    uint64_t handshake_timeout_us;
    uint64_t header_timeout_us;

    fault_plugin *self;
    uv_loop_t *loop;
    hp_match *match;
    size_t nmatch;
    bool match_all;
    bool have_override;
    char ov_host[HP_MAX_HOST];
    uint16_t ov_port;
    bool ov_tls;
    hp_front fwd;
    bool fwd_on;
    char fwd_busy[300]; /* why the forward proxy did not start, told once */
    hp_front *maps;
    size_t nmaps;
    struct hp_sess *sessions;
    struct hp_tun *tunnels;
    struct hp_creq *creqs;
    struct hp_up *pool;
    size_t npool;
    uv_timer_t sweep;
    bool sweep_init;
    uv_timer_t announce;
    bool announce_init;
    bool stopping;
    fault_tls_server *tls_srv; /* --http-tls-cert/--http-tls-key */
    struct hp_pki *pki;        /* --http-intercept */
    struct hp_acc *accs;       /* connections not yet handed on */
    struct hp_h2 *h2s;         /* HTTP/2 client connections */
    hp_due *due;               /* connections with work due (due.c) */
    uv_prepare_t due_prepare;  /* runs it once per loop iteration */
    uv_idle_t due_more;        /* no waiting in poll while some is left */
    bool due_init;
    uv_timer_t head_sweep; /* closes HTTP/1 sessions whose request
                            * head is late (--http-header-timeout) */
    bool head_sweep_init;
} hp_state;

/* Whether faults apply to requests for host:port (--upstream). */
bool hp_targeted(const hp_state *st, const char *host, uint16_t port);

/* due.c: queues d (owned by a connection that took a reference for the
 * queue) to run when this loop iteration's events have all run; false when
 * it is queued already. hp_due_run() runs what is queued now (stopping);
 * hp_due_close() too, then closes the handles. */
bool hp_due_add(hp_state *st, hp_due *d);
void hp_due_run(hp_state *st);
void hp_due_close(hp_state *st);

/* ---- accept.c ---- */

/* A client connected to a listener of fr. */
void hp_accept(hp_front *fr, fault_conn *c);
/* The inside of a CONNECT tunnel to host:port (targeted) is to be
 * intercepted: s, c and u (the upstream connection the CONNECT made) are
 * handed over; early are client bytes that followed the CONNECT head.
 * The first byte the client sends decides: a TLS ClientHello is answered
 * with a certificate for the host from the local CA and the tunnel
 * carries HTTP from then on; anything else (or the upstream speaking
 * first) relays the tunnel as before. */
void hp_intercept(hp_state *st, fault_stream *s, fault_conn *c, fault_conn *u, const char *host,
                  uint16_t port, const uint8_t *early, size_t len);
void hp_accept_close_all(hp_state *st);
void hp_front_release(hp_front *fr);

/* ---- session.c ---- */

/* HTTP/1 on c (plain or TLS already) for the stream s, which the session
 * now owns; initial are bytes already read from c. Takes a reference on
 * fr. */
void hp_sess_start(hp_front *fr, fault_conn *c, fault_stream *s, const uint8_t *initial,
                   size_t len);
void hp_sess_close_all(hp_state *st);

/* ---- h2.c, h2up.c ---- */

/* HTTP/2 (the client sent the connection preface, or chose h2 by ALPN) on
 * c for the stream s, which the session now owns. */
void hp_h2_start(hp_front *fr, fault_conn *c, fault_stream *s, const uint8_t *initial, size_t len);
void hp_h2_close_all(hp_state *st);
/* Frees what the HTTP/2 code keeps for the whole process (destroy()). */
void hp_h2_shutdown(void);

/* ALPN offered to https:// upstreams that may speak HTTP/2. */
#define HP_ALPN_H2_H1 "\x02h2\x08http/1.1"

/* Bridges: HTTP/2 upstreams for an HTTP/1 session (see h2up.c). The bridge
 * belongs to the session (its stream s carries the upstream legs'
 * faults); a bridge stream is one exchange. */
struct h2_strm;
struct hp_h2 *hp_h2b_new(hp_front *fr, fault_stream *s);
void hp_h2b_free(struct hp_h2 *b);
/* An HTTP/2 connection to key is there and takes new streams. */
bool hp_h2b_ready(struct hp_h2 *b, const char *key);
/* up (connected, ALPN h2) becomes the bridge's connection to key; always
 * taken, even on failure (< 0). */
int hp_h2b_adopt(struct hp_h2 *b, const char *key, struct hp_up *up, bool targeted);
/* The exchange x (its request head, hooks done) as a stream on the
 * connection to key; body: request DATA follows (hp_h2b_body(),
 * hp_h2b_end()); expect: the client waits for 100-continue. NULL when it
 * cannot be sent. */
struct h2_strm *hp_h2b_submit(struct hp_h2 *b, struct hp_sess *sess, fault_http_exchange *x,
                              const char *key, const char *host, uint16_t port, bool targeted,
                              bool body, bool is_head, bool expect);
void hp_h2b_body(struct h2_strm *q, const uint8_t *p, size_t n);
void hp_h2b_end(struct h2_strm *q);
/* Request bytes not yet on the wire (for the session's flow control). */
size_t hp_h2b_pending(const struct h2_strm *q);
/* The session is done with the stream (reset upstream if unfinished). */
void hp_h2b_release(struct h2_strm *q);
/* The session may take more of the response: hand it over soon. */
void hp_h2b_kick(struct h2_strm *q);
/* session.c, for bridges: how many response bytes the session takes now,
 * response bytes (HTTP/1.1), a failure of the stream, and "request bytes
 * moved on". */
size_t hp_sess_h2_room(struct hp_sess *sess);
void hp_sess_h2_data(struct hp_sess *sess, const uint8_t *p, size_t n);
void hp_sess_h2_fail(struct hp_sess *sess, int err);
void hp_sess_h2_flow(struct hp_sess *sess);

/* ---- pki.c ---- */

typedef struct hp_pki hp_pki;
/* Where `fault ca generate` writes and --http-intercept looks by default:
 * $FAULT_CA_DIR, else $XDG_CONFIG_HOME/fault/ca, else ~/.config/fault/ca. */
void hp_pki_default_dir(char *out, size_t len);
/* Writes ca.pem and ca-key.pem (mode 0600) in dir (created if missing).
 * Refuses to overwrite unless force. Returns 0 or -1 with err. */
int hp_pki_generate(const char *dir, const char *name, int days, bool force, char *err,
                    size_t errlen);
/* Loads a CA (certificate and key PEM files); NULL with err. */
hp_pki *hp_pki_load(const char *cert_file, const char *key_file, const char *alpn, char *err,
                    size_t errlen);
/* A server context whose certificate answers for host (a name or an IP
 * literal), signed by the CA; made on first use and cached. NULL on
 * failure (logged). The cache keeps the reference: do not free it. */
fault_tls_server *hp_pki_server_for(hp_pki *pki, const char *host);
size_t hp_pki_cached(const hp_pki *pki);
void hp_pki_free(hp_pki *pki);

/* ---- upstream.c ---- */

typedef struct hp_up hp_up;

/* Who holds an upstream connection, or waits for one: an HTTP/1 session's
 * exchange (sess_upstream.c), an HTTP/2 stream's HTTP/1.1 upstream
 * (h2_h1up.c) or CONNECT tunnel (tunnel.c), an HTTP/2 route (h2up.c).
 * Embedded in its owner, which finds itself back from it. */
typedef struct hp_up_user hp_up_user;
typedef struct hp_up_user_ops {
    /* hp_connect() ended: up, or up NULL and status < 0. The user binds
     * up (hp_up_bind()) or hands it on. */
    void (*on_ready)(hp_up_user *u, hp_up *up, int status);
    /* Bytes or an error (UV_EOF included) from a connection bound to u. */
    void (*on_read)(hp_up_user *u, hp_up *up, long nread, const uint8_t *data);
} hp_up_user_ops;
struct hp_up_user {
    const hp_up_user_ops *ops;
};

struct hp_up {
    hp_state *st;
    fault_conn *c;
    char key[HP_MAX_HOST + 16];
    hp_up_user *owner; /* bound to an exchange, or NULL when idle */
    uint64_t idle_since;
    struct hp_up *prev, *next; /* in the pool */
    bool pooled;
};

void hp_up_key(char *key, size_t len, const char *host, uint16_t port, bool tls);
/* An idle pooled connection for key, or NULL. */
hp_up *hp_pool_take(hp_state *st, const char *key);
/* Starts a connection; u's on_ready runs later (never from inside this call). s
 * (may be NULL) lets stream faults see the attempt. alpn (wire format, or
 * NULL) is offered on TLS connections. Returns the request, to be
 * cancelled with hp_connect_cancel(), or NULL with *err set. */
struct hp_creq *hp_connect(hp_state *st, hp_up_user *u, fault_stream *s, const char *host,
                           uint16_t port, bool tls, const char *alpn, int *err);
/* up now carries u's exchange: its bytes go to u's on_read. */
static inline void hp_up_bind(hp_up *up, hp_up_user *u)
{
    up->owner = u;
}
/* The owner no longer waits: the connection, if any, is closed. */
void hp_connect_cancel(struct hp_creq *r);
/* Done with up: back to the pool when reusable, else closed. */
void hp_up_release(hp_up *up, bool reusable);
void hp_up_close(hp_up *up, bool reset);
/* Read callback for every upstream connection (bound or idle). */
void hp_up_on_read(fault_conn *c, long nread, const uint8_t *data, void *ud);
void hp_pool_close_all(hp_state *st);

/* ---- tunnel.c ---- */

/* Relays client <-> upstream without stages (a CONNECT to a host that is
 * not targeted). to_server goes first. Owns s, a and b from here on. */
void hp_tunnel_plain(hp_state *st, fault_stream *s, fault_conn *a, fault_conn *b,
                     const uint8_t *to_server, size_t len);
void hp_tunnels_close_all(hp_state *st);

#endif /* FAULT_HTTP_PROXY_H */
