/*
 * core/listen.c - TCP listeners (fault_listen()): IPv4 and IPv6 literal
 * addresses or a name resolved once at startup; each accepted connection
 * becomes a fault_conn handed to the listener's plugin. The core keeps
 * every listener on one list, closed together when the run stops, and
 * counts those that could not be opened, so that a run with none left
 * fails for that reason.
 *
 * A mapping without an address (`--proxy 8080=...`) is for this machine
 * only: its listener on 127.0.0.1 gets a twin socket on [::1] (same port,
 * IPv6 only), so clients that resolve localhost to ::1 reach it too. A host
 * without IPv6 loopback has no twin, silently; a [::1] port taken by
 * another program is logged and the run goes on with 127.0.0.1.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"

struct fault_listener {
    uv_tcp_t tcp;
    fault_plugin *owner;
    fault_accept_cb cb;
    void *ud;
    char addr[80];
    uint16_t port;
    uv_tcp_t *twin; /* the [::1] socket, or NULL */
    char twin_addr[80];
    struct fault_listener *next;
};

static fault_listener *listeners;
/* Listen ports of mappings that gave no address. */
static uint16_t *both_ports;
static size_t nboth;

void fault__listen_loopback_both(uint16_t port)
{
    uint16_t *n = realloc(both_ports, (nboth + 1) * sizeof *n);
    if (!n)
        return; /* 127.0.0.1 alone, as before */
    both_ports = n;
    both_ports[nboth++] = port;
}

static bool loopback_both(const char *host, uint16_t port)
{
    if (!host || strcmp(host, "127.0.0.1") != 0)
        return false;
    for (size_t i = 0; i < nboth; i++)
        if (both_ports[i] == port)
            return true;
    return false;
}

const char *fault__listen_twin(const char *addr)
{
    for (fault_listener *l = listeners; l && addr; l = l->next)
        if (l->twin && strcmp(l->addr, addr) == 0)
            return l->twin_addr;
    return NULL;
}
/* Listeners that could not be opened, each already reported by its plugin:
 * a run that ends up with no listener at all fails for that reason. */
static size_t listen_failures;

static void on_connection(uv_stream_t *server, int status)
{
    fault_listener *l = server->data;
    if (status < 0) {
        fault_log_warn(l->owner, "accept on %s: %s", l->addr, uv_strerror(status));
        return;
    }
    fault_conn *c = fault__conn_new(l->owner, server->loop);
    if (!c)
        return;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        fault_conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    fault__conn_set_peer(c);
    l->cb(l, c, l->ud);
}

static int resolve_listen(uv_loop_t *loop, const char *host, uint16_t port,
                          struct sockaddr_storage *ss)
{
    if (strchr(host, ':')) {
        if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0)
            return 0;
        return UV_EINVAL;
    }
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0)
        return 0;
    /* A host name ("localhost"): resolve once, synchronously, at startup. */
    uv_getaddrinfo_t req;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int rc = uv_getaddrinfo(loop, &req, NULL, host, NULL, &hints);
    if (rc != 0)
        return FAULT_ERESOLVE;
    memcpy(ss, req.addrinfo->ai_addr, req.addrinfo->ai_addrlen);
    if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
    else
        ((struct sockaddr_in *)ss)->sin_port = htons(port);
    uv_freeaddrinfo(req.addrinfo);
    return 0;
}

/* The [::1] twin of l, on l's port; none when it cannot be had. */
static void listen_twin(fault_listener *l)
{
    struct sockaddr_in6 a6;
    if (uv_ip6_addr("::1", l->port, &a6) != 0)
        return;
    uv_tcp_t *t = malloc(sizeof *t);
    if (!t)
        return;
    uv_tcp_init(l->tcp.loop, t);
    t->data = l;
    int rc = uv_tcp_bind(t, (const struct sockaddr *)&a6, UV_TCP_IPV6ONLY);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)t, 1024, on_connection);
    if (rc != 0) {
        /* No IPv6 loopback here (EADDRNOTAVAIL, EAFNOSUPPORT): nothing to
         * say. Anything else (the port taken on ::1) is worth a line. */
        if (rc == UV_EADDRNOTAVAIL || rc == UV_EAFNOSUPPORT)
            fault_log_debug(l->owner, "no [::1]:%u beside %s: %s", l->port, l->addr,
                            uv_strerror(rc));
        else
            fault_log_warn(l->owner, "cannot also listen on [::1] port %u: %s; %s only", l->port,
                           uv_strerror(rc), l->addr);
        t->data = NULL;
        uv_close((uv_handle_t *)t, (uv_close_cb)free);
        return;
    }
    l->twin = t;
    snprintf(l->twin_addr, sizeof l->twin_addr, "[::1]:%u", l->port);
}

int fault_listen(fault_plugin *self, const char *host, uint16_t port, fault_accept_cb cb,
                 void *userdata, fault_listener **out)
{
    uv_loop_t *loop = fault__g.loop;
    if (!loop || !cb)
        return FAULT_EINVAL;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    int rc = resolve_listen(loop, host ? host : "0.0.0.0", port, &ss);
    if (rc != 0)
        return fault__err(rc);
    fault_listener *l = calloc(1, sizeof *l);
    if (!l)
        return FAULT_ENOMEM;
    l->owner = self;
    l->cb = cb;
    l->ud = userdata;
    uv_tcp_init(loop, &l->tcp);
    l->tcp.data = l;
    rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&l->tcp, 1024, on_connection);
    if (rc != 0) {
        l->tcp.data = NULL;
        uv_close((uv_handle_t *)&l->tcp, (uv_close_cb)free);
        listen_failures++;
        return fault__err(rc);
    }
    int len = sizeof ss;
    uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &len);
    fault__format_addr((struct sockaddr *)&ss, l->addr, sizeof l->addr);
    l->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                       : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (loopback_both(host, port))
        listen_twin(l);
    l->next = listeners;
    listeners = l;
    if (out)
        *out = l;
    return 0;
}

const char *fault_listener_address(const fault_listener *l)
{
    return l->addr;
}
uint16_t fault_listener_port(const fault_listener *l)
{
    return l->port;
}

static void listener_closed(uv_handle_t *h)
{
    free(fault__container_of(h, fault_listener, tcp));
}

void fault_listener_close(fault_listener *l)
{
    if (!l)
        return;
    /* A listener no longer on the list was closed already: by the plugin,
     * or by the core when the run began stopping (before the plugins'
     * stop()). Closing it again does nothing, and l is not touched: its
     * memory may be gone. */
    fault_listener **pp = &listeners;
    while (*pp && *pp != l)
        pp = &(*pp)->next;
    if (!*pp)
        return;
    *pp = l->next;
    if (l->twin) {
        l->twin->data = NULL;
        uv_close((uv_handle_t *)l->twin, (uv_close_cb)free);
        l->twin = NULL;
    }
    uv_close((uv_handle_t *)&l->tcp, listener_closed);
}

size_t fault__listeners_count(void)
{
    size_t n = 0;
    for (fault_listener *l = listeners; l; l = l->next)
        n++;
    return n;
}

size_t fault__listen_failures(void)
{
    return listen_failures;
}

void fault__listeners_close_all(void)
{
    while (listeners)
        fault_listener_close(listeners);
}
