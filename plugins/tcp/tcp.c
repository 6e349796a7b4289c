/*
 * plugins/tcp/tcp.c - the TCP protocol handler: `--proxy` mappings relayed
 * byte for byte, with TLS toward the upstream for https://, tls:// and
 * psqls:// mappings. Faults act on the relay through their stream hooks;
 * this plugin only listens, connects and hands both ends to the relay.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fault/plugin.h>

typedef struct mapping {
    fault_mapping m; /* strings owned here */
    char target[300];
    fault_listener *listener;
    fault_plugin *self;
} mapping;

typedef struct tcp_state {
    const char *sni; /* option: override the TLS server name */
    mapping *maps;
    size_t nmaps;
} tcp_state;

static const char *const schemes[] = {"", "tls", "https", "http", "psql", "psqls", NULL};

static const fault_option options[] = {
    {.name = "tcp-tls-sni",
     .env = "FAULT_TCP_TLS_SNI",
     .type = FAULT_OPT_STRING,
     .metavar = "NAME",
     .help = "Server name to send and verify on TLS mappings (default: the host)",
     .offset = offsetof(tcp_state, sni)},
    FAULT_OPTION_END};

static char *dup(const char *s)
{
    return strdup(s ? s : "");
}

static int add_mapping(void *state, const fault_mapping *m, char *err, size_t errlen)
{
    tcp_state *st = state;
    for (size_t i = 0; i < st->nmaps; i++) {
        if (st->maps[i].m.listen_port == m->listen_port &&
            strcmp(st->maps[i].m.listen_host, m->listen_host) == 0) {
            snprintf(err, errlen, "port %u is already mapped by '%s'", m->listen_port,
                     st->maps[i].m.text);
            return FAULT_EINVAL;
        }
    }
    mapping *nm = realloc(st->maps, (st->nmaps + 1) * sizeof *nm);
    if (!nm)
        return FAULT_ENOMEM;
    st->maps = nm;
    mapping *mp = &st->maps[st->nmaps++];
    memset(mp, 0, sizeof *mp);
    mp->m = *m;
    mp->m.text = dup(m->text);
    mp->m.listen_host = dup(m->listen_host);
    mp->m.scheme = dup(m->scheme);
    mp->m.host = dup(m->host);
    bool v6 = strchr(m->host, ':') != NULL;
    snprintf(mp->target, sizeof mp->target, "%s%s%s:%u", v6 ? "[" : "", m->host, v6 ? "]" : "",
             m->port);
    return 0;
}

typedef struct pending {
    fault_stream *s;
    mapping *mp;
} pending;

static void on_upstream(fault_conn *c, int status, void *ud)
{
    pending *pd = ud;
    fault_stream *s = pd->s;
    mapping *mp = pd->mp;
    free(pd);
    if (status < 0) {
        fault_log_warn(mp->self, "%s -> %s: %s", fault_stream_peer(s), mp->target,
                       fault_strerror(status));
        fault_stream_abort(s, status);
        return;
    }
    fault_stream_relay(s, c);
}

static void on_accept(fault_listener *l, fault_conn *c, void *ud)
{
    (void)l;
    mapping *mp = ud;
    tcp_state *st = fault_plugin_state(mp->self);
    fault_stream *s = fault_stream_new(mp->self, c, mp->target);
    if (!s) {
        fault_conn_reset(c);
        return;
    }
    fault_stream_set_scheme(s, mp->m.scheme);
    pending *pd = malloc(sizeof *pd);
    if (!pd) {
        fault_stream_abort(s, -ENOMEM);
        return;
    }
    pd->s = s;
    pd->mp = mp;
    fault_tls_client_opts tls = {.sni = st->sni, .verify = true};
    int rc = fault_connect(mp->self, s, mp->m.host, mp->m.port, mp->m.tls ? &tls : NULL,
                           on_upstream, pd);
    if (rc < 0) {
        free(pd);
        fault_stream_abort(s, rc);
    }
}

/* An empty server name would switch the name check off (OpenSSL's
 * SSL_set1_host() with "" clears it): refused, as the name checked is
 * always the one given or the mapping's host (only --tls-no-verify turns
 * checking off). FAULT_TCP_TLS_SNI= from an unset shell variable lands
 * here too. */
static int configure(fault_plugin *self, void *state)
{
    tcp_state *st = state;
    if (st->sni && !st->sni[0]) {
        fault_plugin_error(self, "--tcp-tls-sni: the server name is empty (leave the option out "
                                 "to use the mapping's host)");
        return -EINVAL;
    }
    return 0;
}

static int start(fault_plugin *self, void *state)
{
    tcp_state *st = state;
    for (size_t i = 0; i < st->nmaps; i++) {
        mapping *mp = &st->maps[i];
        mp->self = self;
        int rc =
            fault_listen(self, mp->m.listen_host, mp->m.listen_port, on_accept, mp, &mp->listener);
        if (rc < 0) {
            fault_plugin_error(self, "--proxy '%s': cannot listen on %s port %u: %s", mp->m.text,
                               mp->m.listen_host, mp->m.listen_port, fault_strerror(rc));
            return rc;
        }
        fault_event ev = {.type = FAULT_EV_LISTENING, .size = sizeof ev};
        ev.peer = fault_listener_address(mp->listener);
        ev.target = mp->target;
        fault_event_publish(self, &ev);
        fault_log_info(self, "listening on %s -> %s%s", ev.peer, mp->target,
                       mp->m.tls ? " (TLS to upstream)" : "");
    }
    return 0;
}

static void stop(fault_plugin *self, void *state)
{
    (void)self;
    tcp_state *st = state;
    for (size_t i = 0; i < st->nmaps; i++) {
        /* The core closes every listener at stop; forget ours. */
        st->maps[i].listener = NULL;
    }
}

static void destroy(fault_plugin *self, void *state)
{
    (void)self;
    tcp_state *st = state;
    for (size_t i = 0; i < st->nmaps; i++) {
        free((char *)st->maps[i].m.text);
        free((char *)st->maps[i].m.listen_host);
        free((char *)st->maps[i].m.scheme);
        free((char *)st->maps[i].m.host);
    }
    free(st->maps);
    st->maps = NULL;
    st->nmaps = 0;
}

static const fault_protocol_ops protocol = {
    .schemes = schemes,
    .priority = 0,
    .add_mapping = add_mapping,
};

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_PROTOCOL, .name = "tcp", .version = PACKAGE_VERSION,
                    .summary = "TCP proxy mappings (--proxy), with TLS to upstreams",
                    .license = "Apache-2.0", .options = options, .state_size = sizeof(tcp_state),
                    .configure = configure, .start = start, .stop = stop, .destroy = destroy,
                    .protocol = &protocol);
