/*
 * plugins/http/http.c - the HTTP protocol plugin: a forward proxy on
 * --proxy-address (default 127.0.0.1:3180), and reverse mappings
 * `--proxy PORT=http://host:port` / `https://host:port` (it serves those
 * schemes with priority 10, above the tcp plugin's byte relay).
 *
 * Forward proxy: absolute-form requests (http:// and https:// URLs; the
 * latter are fetched over TLS), CONNECT tunnels, keep-alive, pipelining,
 * streamed bodies both ways, idle upstream connections pooled per
 * scheme/host/port. --http-upstream-override [scheme://]host:port sends
 * every forward-proxy request (not CONNECT) to that upstream instead; the
 * client's Host header is kept. Origin-form requests on the forward
 * listener are only accepted with an override (else 400).
 *
 * Reverse mappings: origin-form requests go to the mapping's upstream with
 * Host rewritten to it; https:// upstreams are verified (--tls-ca-file,
 * --tls-no-verify are core options).
 *
 * Targeting (--upstream, repeatable, FAULT_UPSTREAMS comma-separated):
 * faults (stream stages and HTTP hooks) apply only to requests and
 * tunnels whose host matches a pattern: "*", "host" (any port),
 * "host:port", or a URL "scheme://host[:port][/...]" (scheme and path
 * ignored; no port means any port). Names are compared as written, case
 * aside: "localhost" does not match "127.0.0.1". Everything else goes
 * through untouched. With no --upstream at all, every host is targeted:
 * that is what the documentation's examples (`fault run --with-latency`,
 * `--with-http-response` without --upstream) expect, and `--upstream '*'`
 * says the same explicitly. Reverse mappings are always targeted, like
 * the tcp plugin's mappings.
 *
 * TLS toward clients (--http-tls-cert PEM --http-tls-key PEM, off by
 * default): every listener of this plugin (the forward proxy and the
 * http(s):// mappings) then also accepts TLS, told apart from plaintext
 * by the connection's first byte, so one port serves both; ALPN offers h2
 * then http/1.1. `--proxy 8443=https://host` still means TLS toward the
 * upstream; clients reach that mapping with https:// once a certificate is
 * given, with http:// in any case. The forward proxy so becomes an HTTPS
 * proxy as well (curl -x https://...).
 *
 * HTTP/2: a client may send the HTTP/2 preface (h2c with prior knowledge)
 * on any listener, or pick h2 by ALPN on TLS; each stream is an exchange
 * of its own (see h2.c). Upstreams stay HTTP/1.1 unless an https://
 * upstream picks h2 by ALPN for an HTTP/2 client.
 *
 * Interception (--http-intercept, off by default): CONNECT tunnels to
 * targeted hosts are answered, and when the client then starts TLS, fault
 * completes the handshake itself with a certificate for the tunnel's host
 * (or its SNI name) signed by a local CA, and proxies the HTTP inside
 * (HTTP/1.1 or h2) to https://host:port, verified like an https://
 * mapping (--tls-ca-file, --tls-no-verify). HTTP faults and hooks then
 * apply to HTTPS. The CA is --http-intercept-ca/--http-intercept-ca-key,
 * by default the one `fault ca generate` wrote; clients must trust its
 * certificate (curl --cacert ca.pem, or the system store). Tunnels that
 * do not start with TLS, or whose upstream speaks first, are relayed as
 * before. Without --http-intercept nothing changes: tunnels stay opaque.
 *
 * The forward proxy's address: when the default 127.0.0.1:3180 is taken
 * (another fault, say) and --proxy-address was not given, the run goes on
 * without the forward proxy (one line on standard error, logged, and an
 * error event for --tail), unless nothing else listens: then the run fails
 * (status 1) on that line. An address given explicitly that cannot be
 * bound fails the run. Listening
 * lines are published from the first loop iteration, once every plugin
 * has started, so a run that fails to start never claims to listen.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proxy.h"

#define OFF(f) offsetof(hp_state, f)

static const fault_option options[] = {
    {.name = "proxy-address",
     .env = "FAULT_PROXY_ADDRESS",
     .type = FAULT_OPT_STRING,
     .def = "127.0.0.1:3180",
     .metavar = "ADDR:PORT",
     .help = "Where the HTTP forward proxy listens ([::1]:3180 for IPv6)",
     .offset = OFF(proxy_address)},
    {.name = "disable-http-proxy",
     .env = "FAULT_DISABLE_HTTP_PROXY",
     .type = FAULT_OPT_BOOL,
     .help = "Do not start the HTTP forward proxy",
     .offset = OFF(disable)},
    {.name = "upstream",
     .env = "FAULT_UPSTREAMS",
     .type = FAULT_OPT_LIST,
     .metavar = "HOST",
     .help = "Host faults apply to on the HTTP proxy: HOST, HOST:PORT, URL or * (repeatable; "
             "default: every host)",
     .offset = OFF(upstreams)},
    {.name = "http-upstream-timeout",
     .env = "FAULT_HTTP_UPSTREAM_TIMEOUT",
     .type = FAULT_OPT_DURATION,
     .def = "30s",
     .help = "504 when an upstream takes longer to connect, or to start answering a request "
             "fully sent (0: never)",
     .offset = OFF(upstream_timeout_us)},
    {.name = "http-upstream-override",
     .env = "FAULT_HTTP_UPSTREAM_OVERRIDE",
     .type = FAULT_OPT_STRING,
     .metavar = "[SCHEME://]HOST:PORT",
     .help = "Send every forward-proxy request to this upstream instead",
     .offset = OFF(override)},
    {.name = "http-upstream-idle-timeout",
     .env = "FAULT_HTTP_UPSTREAM_IDLE_TIMEOUT",
     .type = FAULT_OPT_DURATION,
     .def = "30s",
     .help = "Close pooled keep-alive upstream connections idle this long (0: no pooling)",
     .offset = OFF(idle_timeout_us)},
    {.name = "http-upstream-pool-max",
     .env = "FAULT_HTTP_UPSTREAM_POOL_MAX",
     .type = FAULT_OPT_INT,
     .def = "2048",
     .metavar = "N",
     .min = 1,
     .max = 1000000,
     .help = "Idle keep-alive connections kept per upstream (four times that in all)",
     .offset = OFF(pool_max)},
    {.name = "http-via",
     .env = "FAULT_HTTP_VIA",
     .type = FAULT_OPT_BOOL,
     .help = "Add a Via header to requests and responses",
     .offset = OFF(via)},
    {.name = "http-tls-cert",
     .env = "FAULT_HTTP_TLS_CERT",
     .type = FAULT_OPT_STRING,
     .metavar = "PEM",
     .help = "Also accept TLS from clients (https://, h2 by ALPN) on the forward proxy and the "
             "http(s):// mappings, with this certificate chain (needs --http-tls-key)",
     .offset = OFF(tls_cert)},
    {.name = "http-tls-key",
     .env = "FAULT_HTTP_TLS_KEY",
     .type = FAULT_OPT_STRING,
     .metavar = "PEM",
     .help = "Private key of --http-tls-cert",
     .offset = OFF(tls_key)},
    {.name = "http-intercept",
     .env = "FAULT_HTTP_INTERCEPT",
     .type = FAULT_OPT_BOOL,
     .help = "Intercept HTTPS in CONNECT tunnels with certificates from a local CA (see "
             "'fault ca generate'; clients must trust it), so HTTP faults apply to HTTPS too",
     .offset = OFF(intercept)},
    {.name = "http-intercept-ca",
     .env = "FAULT_HTTP_INTERCEPT_CA",
     .type = FAULT_OPT_STRING,
     .metavar = "PEM",
     .help = "CA certificate for --http-intercept (default: ca.pem of 'fault ca generate')",
     .offset = OFF(intercept_ca)},
    {.name = "http-intercept-ca-key",
     .env = "FAULT_HTTP_INTERCEPT_CA_KEY",
     .type = FAULT_OPT_STRING,
     .metavar = "PEM",
     .help = "Private key of --http-intercept-ca (default: ca-key.pem next to it)",
     .offset = OFF(intercept_ca_key)},
    {.name = "http-handshake-timeout",
     .env = "FAULT_HTTP_HANDSHAKE_TIMEOUT",
     .type = FAULT_OPT_DURATION,
     .def = "60s",
     .help = "Close client connections that send nothing, or do not finish their TLS "
             "handshake, this long (0: never)",
     .offset = OFF(handshake_timeout_us)},
    {.name = "http-header-timeout",
     .env = "FAULT_HTTP_HEADER_TIMEOUT",
     .type = FAULT_OPT_DURATION,
     .def = "30s",
     .help = "Close client connections whose request head (HTTP/1 head, HTTP/2 header block) "
             "is not complete this long after it began (0: never)",
     .offset = OFF(header_timeout_us)},
    FAULT_OPTION_END};

/* What clients may pick by ALPN, best first. */
#define HP_ALPN "\x02h2\x08http/1.1"

static const char *const schemes[] = {"http", "https", NULL};

bool hp_targeted(const hp_state *st, const char *host, uint16_t port)
{
    if (st->match_all)
        return true;
    for (size_t i = 0; i < st->nmatch; i++)
        if (hp_match_host(&st->match[i], host, port))
            return true;
    return false;
}

/* "host:port" or "[v6]:port" (port required). */
static int parse_listen(const char *text, char *host, size_t hostlen, uint16_t *port)
{
    return hp_parse_hostport(text, strlen(text), host, hostlen, port, true);
}

/* TLS toward clients and interception: files are checked here, so that a
 * bad path is bad input (exit status 2) and not a failed start. */
static int configure_tls(fault_plugin *self, hp_state *st)
{
    char err[512];
    bool cert = st->tls_cert && st->tls_cert[0], key = st->tls_key && st->tls_key[0];
    if (cert != key) {
        fault_plugin_error(self, "%s needs %s too", cert ? "--http-tls-cert" : "--http-tls-key",
                           cert ? "--http-tls-key" : "--http-tls-cert");
        return FAULT_EINVAL;
    }
    if (cert) {
        fault_tls_server_opts o;
        memset(&o, 0, sizeof o);
        o.cert_file = st->tls_cert;
        o.key_file = st->tls_key;
        o.alpn = HP_ALPN;
        if (fault_tls_server_load(&o, &st->tls_srv, err, sizeof err) != 0) {
            fault_plugin_error(self, "--http-tls-cert/--http-tls-key: %s", err);
            return FAULT_EINVAL;
        }
    }
    bool ca = st->intercept_ca && st->intercept_ca[0];
    bool ca_key = st->intercept_ca_key && st->intercept_ca_key[0];
    if (!st->intercept) {
        if (ca || ca_key) {
            fault_plugin_error(self, "%s only matters with --http-intercept",
                               ca ? "--http-intercept-ca" : "--http-intercept-ca-key");
            return FAULT_EINVAL;
        }
        return 0;
    }
    char dir[4096], cert_path[4200], key_path[4200];
    if (ca) {
        snprintf(cert_path, sizeof cert_path, "%s", st->intercept_ca);
    } else {
        hp_pki_default_dir(dir, sizeof dir);
        snprintf(cert_path, sizeof cert_path, "%s/ca.pem", dir);
    }
    if (ca_key) {
        snprintf(key_path, sizeof key_path, "%s", st->intercept_ca_key);
    } else {
        /* ca-key.pem beside the certificate, as `fault ca generate` writes. */
        snprintf(key_path, sizeof key_path, "%s", cert_path);
        char *slash = strrchr(key_path, '/');
        size_t at = slash ? (size_t)(slash - key_path + 1) : 0;
        snprintf(key_path + at, sizeof key_path - at, "ca-key.pem");
    }
    st->pki = hp_pki_load(cert_path, key_path, HP_ALPN, err, sizeof err);
    if (!st->pki) {
        fault_plugin_error(self, "--http-intercept: %s%s", err,
                           ca ? ""
                              : " (run 'fault ca generate' first, or give "
                                "--http-intercept-ca and --http-intercept-ca-key)");
        return FAULT_EINVAL;
    }
    return 0;
}

static int configure(fault_plugin *self, void *state)
{
    hp_state *st = state;
    st->self = self;
    if (st->disable && st->intercept) {
        /* Interception acts on the forward proxy's CONNECT tunnels. */
        fault_plugin_error(self, "--http-intercept needs the forward proxy, which "
                                 "--disable-http-proxy turns off: give one");
        return FAULT_EINVAL;
    }
    if (!st->disable) {
        if (!st->proxy_address || parse_listen(st->proxy_address, st->fwd.lhost,
                                               sizeof st->fwd.lhost, &st->fwd.lport) < 0) {
            fault_plugin_error(self,
                               "--proxy-address: '%s' is not ADDR:PORT (e.g. 127.0.0.1:3180 or "
                               "[::1]:3180)",
                               st->proxy_address ? st->proxy_address : "");
            return FAULT_EINVAL;
        }
    }
    if (st->upstreams.n) {
        st->match = calloc(st->upstreams.n, sizeof *st->match);
        if (!st->match)
            return FAULT_ENOMEM;
        for (size_t i = 0; i < st->upstreams.n; i++) {
            const char *why;
            if (hp_parse_match(st->upstreams.v[i], &st->match[i], &why) < 0) {
                fault_plugin_error(self, "--upstream: '%s': %s", st->upstreams.v[i], why);
                return FAULT_EINVAL;
            }
            if (st->match[i].any)
                st->match_all = true;
        }
        st->nmatch = st->upstreams.n;
    } else {
        st->match_all = true;
    }
    if (st->override && st->override[0]) {
        const char *t = st->override;
        if (strncasecmp(t, "https://", 8) == 0) {
            st->ov_tls = true;
            t += 8;
        } else if (strncasecmp(t, "http://", 7) == 0) {
            t += 7;
        } else if (strstr(t, "://")) {
            fault_plugin_error(self, "--http-upstream-override: '%s': scheme must be http or https",
                               st->override);
            return FAULT_EINVAL;
        }
        size_t len = strlen(t);
        if (len && t[len - 1] == '/')
            len--;
        if (hp_parse_hostport(t, len, st->ov_host, sizeof st->ov_host, &st->ov_port, false) < 0) {
            fault_plugin_error(self, "--http-upstream-override: '%s' is not [SCHEME://]HOST[:PORT]",
                               st->override);
            return FAULT_EINVAL;
        }
        if (!st->ov_port)
            st->ov_port = st->ov_tls ? 443 : 80;
        st->have_override = true;
    }
    return configure_tls(self, st);
}

static int add_mapping(void *state, const fault_mapping *m, char *err, size_t errlen)
{
    hp_state *st = state;
    for (size_t i = 0; i < st->nmaps; i++) {
        if (st->maps[i].lport == m->listen_port && strcmp(st->maps[i].lhost, m->listen_host) == 0) {
            snprintf(err, errlen, "port %u is already mapped by '%s'", m->listen_port,
                     st->maps[i].text);
            return FAULT_EINVAL;
        }
    }
    hp_front *nm = realloc(st->maps, (st->nmaps + 1) * sizeof *nm);
    if (!nm)
        return FAULT_ENOMEM;
    st->maps = nm;
    hp_front *fr = &st->maps[st->nmaps++];
    memset(fr, 0, sizeof *fr);
    fr->reverse = true;
    snprintf(fr->text, sizeof fr->text, "%s", m->text);
    snprintf(fr->lhost, sizeof fr->lhost, "%s", m->listen_host);
    fr->lport = m->listen_port;
    snprintf(fr->host, sizeof fr->host, "%s", m->host);
    fr->port = m->port;
    fr->tls = m->tls;
    hp_authority(fr->authority, sizeof fr->authority, fr->host, fr->port, fr->tls, true);
    hp_authority(fr->target, sizeof fr->target, fr->host, fr->port, fr->tls, false);
    return 0;
}

static void on_accept(fault_listener *l, fault_conn *c, void *ud)
{
    (void)l;
    hp_front *fr = ud;
    if (fr->st->stopping) {
        fault_conn_close(c);
        return;
    }
    hp_accept(fr, c);
}

static void announce(hp_state *st, hp_front *fr)
{
    fault_event ev = {.type = FAULT_EV_LISTENING, .size = sizeof ev};
    ev.peer = fault_listener_address(fr->l);
    ev.target = fr->target;
    fault_event_publish(st->self, &ev);
    fault_log_info(st->self, "listening on %s -> %s", ev.peer, fr->target);
}

static void on_announce(uv_timer_t *t)
{
    hp_state *st = t->data;
    if (st->stopping)
        return;
    if (st->fwd_busy[0]) {
        fprintf(stderr, "fault: http: %s\n", st->fwd_busy);
        st->fwd_busy[0] = '\0';
    }
    if (st->fwd_on)
        announce(st, &st->fwd);
    for (size_t i = 0; i < st->nmaps; i++)
        announce(st, &st->maps[i]);
}

static int start(fault_plugin *self, void *state)
{
    hp_state *st = state;
    st->self = self;
    st->loop = fault_loop(self);
    st->stopping = false;
    for (size_t i = 0; i < st->nmaps; i++) {
        hp_front *fr = &st->maps[i];
        fr->st = st;
        int rc = fault_listen(self, fr->lhost, fr->lport, on_accept, fr, &fr->l);
        if (rc < 0) {
            fault_plugin_error(self, "--proxy '%s': cannot listen on %s port %u: %s", fr->text,
                               fr->lhost, fr->lport, fault_strerror(rc));
            return rc;
        }
    }
    if (!st->disable) {
        hp_front *fr = &st->fwd;
        fr->st = st;
        fr->reverse = false;
        snprintf(fr->target, sizeof fr->target, "forward proxy");
        snprintf(fr->text, sizeof fr->text, "%s", st->proxy_address);
        int rc = fault_listen(self, fr->lhost, fr->lport, on_accept, fr, &fr->l);
        if (rc == 0) {
            st->fwd_on = true;
        } else if (fault_option_is_set(self, "proxy-address")) {
            fault_plugin_error(self, "--proxy-address: cannot listen on %s port %u: %s", fr->lhost,
                               fr->lport, fault_strerror(rc));
            return rc;
        } else {
            /* The default address is busy: the mappings of this run still
             * work; say why there is no forward proxy without failing,
             * once the run has started (on_announce). When nothing else
             * listens, the core ends the run with this error as its
             * reason instead. */
            char *msg = st->fwd_busy;
            snprintf(msg, sizeof st->fwd_busy,
                     "forward proxy not started: cannot listen on %s: %s (use --proxy-address)",
                     st->proxy_address, fault_strerror(rc));
            fault_plugin_error(self, "%s", msg);
            fault_log_warn(self, "%s", msg);
            fault_event ev = {.type = FAULT_EV_ERROR, .size = sizeof ev};
            ev.error = rc;
            ev.message = msg;
            fault_event_publish(self, &ev);
        }
    }
    uv_timer_init(st->loop, &st->announce);
    st->announce.data = st;
    st->announce_init = true;
    uv_timer_start(&st->announce, on_announce, 0, 0);
    return 0;
}

static void stop(fault_plugin *self, void *state)
{
    (void)self;
    hp_state *st = state;
    st->stopping = true;
    /* The core closes every listener at stop: forget ours. */
    st->fwd.l = NULL;
    for (size_t i = 0; i < st->nmaps; i++)
        st->maps[i].l = NULL;
    if (st->announce_init) {
        uv_close((uv_handle_t *)&st->announce, NULL);
        st->announce_init = false;
    }
    hp_accept_close_all(st);
    hp_sess_close_all(st);
    hp_h2_close_all(st);
    hp_due_close(st); /* nothing is queued any more */
    hp_tunnels_close_all(st);
    hp_pool_close_all(st);
}

static void destroy(fault_plugin *self, void *state)
{
    (void)self;
    hp_state *st = state;
    free(st->match);
    st->match = NULL;
    free(st->maps);
    st->maps = NULL;
    st->nmaps = 0;
    fault_tls_server_free(st->tls_srv);
    st->tls_srv = NULL;
    hp_pki_free(st->pki);
    st->pki = NULL;
    hp_h2_shutdown();
}

static const fault_protocol_ops protocol = {
    .schemes = schemes,
    .priority = 10,
    .add_mapping = add_mapping,
};

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_PROTOCOL, .name = "http", .version = PACKAGE_VERSION,
                    .summary = "HTTP/1.1 and HTTP/2 forward proxy, CONNECT tunnels (interception), "
                               "http(s):// mappings, TLS toward clients",
                    .license = "Apache-2.0", .options = options, .state_size = sizeof(hp_state),
                    .configure = configure, .start = start, .stop = stop, .destroy = destroy,
                    .protocol = &protocol);
