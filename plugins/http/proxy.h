/*
 * plugins/http/proxy.h - what the files of the http plugin share.
 *
 *   http.c      the plugin: options, listeners, upstream targeting
 *   h1.c        HTTP/1 text: head collection from llhttp callbacks,
 *               request targets, hop-by-hop headers, upstream patterns
 *               (no libuv: the fuzz target builds it on its own)
 *   session.c   one client connection: parsing, exchanges, chains
 *   upstream.c  upstream connections: connecting, the idle pool
 *   tunnel.c    CONNECT tunnels that bypass the faults
 *
 * Not an installed header: plugins see only <fault/plugin.h>.
 */
#ifndef FAULT_HTTP_PROXY_H
#define FAULT_HTTP_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>
#include <uv.h>

#include <fault/plugin.h>

/* Bytes buffered in one direction (chains, our buffers, socket queues)
 * above which the sender is no longer read, and below which reading
 * resumes: the relay's marks, so faults feel the same on both paths. */
#define HP_HIGH_WATER (256 * 1024)
#define HP_LOW_WATER (64 * 1024)
/* Largest request or response head (line and headers) accepted. */
#define HP_MAX_HEAD (64 * 1024)
#define HP_MAX_HOST 256

/* ---- h1.c: buffers ---- */

typedef struct hp_buf {
    uint8_t *p;
    size_t len, cap;
} hp_buf;

int hp_buf_add(hp_buf *b, const void *data, size_t len);
int hp_buf_str(hp_buf *b, const char *s);
int hp_buf_printf(hp_buf *b, const char *fmt, ...) FAULT_PRINTF(2, 3);
/* Drops the first n bytes. */
void hp_buf_consume(hp_buf *b, size_t n);
void hp_buf_free(hp_buf *b);

/* ---- h1.c: heads collected from llhttp callbacks ---- */

typedef struct hp_hdr {
    uint32_t name, value; /* offsets of NUL-terminated strings in buf */
} hp_hdr;

typedef struct hp_head {
    hp_buf b;
    uint32_t url;     /* request target, or the reason phrase of a response */
    bool has_url;
    hp_hdr *h;
    size_t n, cap;
    int state;        /* which span is open (see h1.c) */
    bool too_big;     /* more than HP_MAX_HEAD: the message is refused */
    int8_t conn;      /* has a Connection header: -1 not looked yet */
} hp_head;

/* An llhttp parser with the head it collects. The callbacks below find the
 * head from the parser, so a user fills its llhttp_settings_t with them and
 * adds its own on_headers_complete, on_body and on_message_complete. */
typedef struct hp_parser {
    llhttp_t p;
    hp_head head;
    void *ud;
} hp_parser;

void hp_parser_init(hp_parser *hp, llhttp_type_t type, const llhttp_settings_t *settings,
                    void *ud);
void hp_parser_free(hp_parser *hp);
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

/* ---- h1.c: request targets and host names ---- */

typedef enum hp_tform {
    HP_ORIGIN = 0,    /* "/path?q" */
    HP_ABSOLUTE = 1,  /* "http://host:port/path?q" */
    HP_AUTHORITY = 2, /* "host:port" (CONNECT) */
    HP_ASTERISK = 3   /* "*" (OPTIONS) */
} hp_tform;

typedef struct hp_target {
    hp_tform form;
    bool tls;              /* https:// */
    char host[HP_MAX_HOST]; /* without brackets; "" for origin form */
    uint16_t port;         /* given, or the scheme's default */
    bool port_given;
    const char *path;      /* into the input, or "/" */
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

/* ---- http.c: the plugin ---- */

struct hp_sess;
struct hp_up;
struct hp_tun;
struct hp_creq;

/* One listener: the forward proxy, or a reverse mapping. */
typedef struct hp_front {
    struct hp_state *st;
    bool reverse;
    char text[300];          /* the mapping as written, for messages */
    char lhost[HP_MAX_HOST]; /* where it listens */
    uint16_t lport;
    char host[HP_MAX_HOST];  /* reverse: the upstream */
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
    bool via;

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
} hp_state;

/* Whether faults apply to requests for host:port (--upstream). */
bool hp_targeted(const hp_state *st, const char *host, uint16_t port);

/* ---- session.c ---- */

void hp_sess_accept(hp_front *fr, fault_conn *c);
void hp_sess_close_all(hp_state *st);

/* ---- upstream.c ---- */

typedef struct hp_up {
    hp_state *st;
    fault_conn *c;
    char key[HP_MAX_HOST + 16];
    struct hp_sess *sess; /* bound to an exchange, or NULL when idle */
    uint64_t idle_since;
    struct hp_up *prev, *next; /* in the pool */
    bool pooled;
} hp_up;

/* status < 0: up is NULL and the attempt failed. */
typedef void (*hp_up_cb)(struct hp_sess *s, hp_up *up, int status);

void hp_up_key(char *key, size_t len, const char *host, uint16_t port, bool tls);
/* An idle pooled connection for key, or NULL. */
hp_up *hp_pool_take(hp_state *st, const char *key);
/* Starts a connection; cb runs later (never from inside this call). s
 * (may be NULL) lets stream faults see the attempt. Returns the request,
 * to be cancelled with hp_connect_cancel(), or NULL with *err set. */
struct hp_creq *hp_connect(hp_state *st, struct hp_sess *sess, fault_stream *s, const char *host,
                           uint16_t port, bool tls, hp_up_cb cb, int *err);
/* The session no longer waits: the connection, if any, is closed. */
void hp_connect_cancel(struct hp_creq *r);
/* Done with up: back to the pool when reusable, else closed. */
void hp_up_release(hp_up *up, bool reusable);
void hp_up_close(hp_up *up, bool reset);
/* Read callback for every upstream connection (bound or idle). */
void hp_up_on_read(fault_conn *c, long nread, const uint8_t *data, void *ud);
void hp_pool_close_all(hp_state *st);
/* session.c: bytes or an error from the upstream of a bound connection. */
void hp_sess_up_read(struct hp_sess *s, hp_up *up, long nread, const uint8_t *data);

/* ---- tunnel.c ---- */

/* Relays client <-> upstream without stages (a CONNECT to a host that is
 * not targeted). to_server goes first. Owns s, a and b from here on. */
void hp_tunnel_plain(hp_state *st, fault_stream *s, fault_conn *a, fault_conn *b,
                     const uint8_t *to_server, size_t len);
void hp_tunnels_close_all(hp_state *st);

#endif /* FAULT_HTTP_PROXY_H */
