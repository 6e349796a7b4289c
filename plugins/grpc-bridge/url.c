/*
 * plugins/grpc-bridge/url.c - the URL of a remote plugin (--grpc-plugin)
 * to the gRPC target the bridge connects to. Plain C, no gRPC: the fuzz
 * target (fuzz_url.c) builds it alone.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "url.h"

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen)
        vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return FAULT_EINVAL;
}

/* "http://host:port[/]" -> insecure "host:port"; "https://" -> TLS;
 * "unix:PATH" and bare "host:port" as gRPC targets. */
int gb_parse_url(const char *url, char **target_out, bool *tls_out, char *err, size_t errlen)
{
    *target_out = NULL;
    *tls_out = false;
    const char *rest = url;
    bool tls = false;
    const char *defport = NULL;
    if (strncasecmp(url, "http://", 7) == 0) {
        rest = url + 7;
        defport = "80";
    } else if (strncasecmp(url, "https://", 8) == 0) {
        rest = url + 8;
        tls = true;
        defport = "443";
    } else if (strncasecmp(url, "unix:", 5) == 0) {
        if (!url[5]) {
            fail(err, errlen, "--grpc-plugin '%s': no socket path after unix:", url);
            return FAULT_EINVAL;
        }
        *target_out = strdup(url);
        return *target_out ? 0 : FAULT_ENOMEM;
    } else if (strstr(url, "://")) {
        fail(err, errlen, "--grpc-plugin '%s': the scheme must be http://, https:// or unix:", url);
        return FAULT_EINVAL;
    }
    size_t n = strcspn(rest, "/?#");
    if (n == 0 || n > 255) {
        fail(err, errlen, "--grpc-plugin '%s': no host", url);
        return FAULT_EINVAL;
    }
    char host[300];
    snprintf(host, sizeof host, "%.*s", (int)n, rest);
    /* A port is there when the text after the host part has a colon:
     * "[v6]:p" or "name:p". */
    const char *close = host[0] == '[' ? strchr(host, ']') : NULL;
    if (host[0] == '[' && !close) {
        fail(err, errlen, "--grpc-plugin '%s': unterminated IPv6 address", url);
        return FAULT_EINVAL;
    }
    const char *colon = close ? (close[1] == ':' ? close + 1 : NULL) : strrchr(host, ':');
    if (close && close[1] && close[1] != ':') {
        fail(err, errlen, "--grpc-plugin '%s': junk after the IPv6 address", url);
        return FAULT_EINVAL;
    }
    if (!defport && !colon) {
        fail(err, errlen,
             "--grpc-plugin '%s': not a URL (http://HOST:PORT, "
             "https://HOST:PORT or unix:PATH) nor HOST:PORT",
             url);
        return FAULT_EINVAL;
    }
    if (colon) {
        /* The port: 1 to 65535, digits only. */
        char *end;
        unsigned long port = strtoul(colon + 1, &end, 10);
        if (colon == host || !colon[1] || *end || colon[1] < '0' || colon[1] > '9' || port < 1 ||
            port > 65535) {
            fail(err, errlen, "--grpc-plugin '%s': %s", url,
                 colon == host ? "no host" : "the port must be 1 to 65535");
            return FAULT_EINVAL;
        }
    }
    bool has_port = colon != NULL;
    char target[320];
    if (!has_port && defport)
        snprintf(target, sizeof target, "%s:%s", host, defport);
    else
        snprintf(target, sizeof target, "%s", host);
    *target_out = strdup(target);
    *tls_out = tls;
    return *target_out ? 0 : FAULT_ENOMEM;
}
