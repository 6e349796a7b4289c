/*
 * plugins/grpc-bridge/url.h - the URL of a remote plugin (url.c).
 */
#ifndef GB_URL_H
#define GB_URL_H

#include <stdbool.h>
#include <stddef.h>

#include <fault/common.h>

/* "http://host[:port][/]" -> insecure "host:port" (port 80 by default),
 * "https://..." -> TLS (443), "unix:PATH" and bare "host:port" as they are.
 * Returns 0 with *target (malloc'd) and *tls; FAULT_EINVAL with one line
 * in err naming the URL and what is wrong with it (not a URL, another
 * scheme, no host, a port outside 1..65535); FAULT_ENOMEM. */
int gb_parse_url(const char *url, char **target, bool *tls, char *err, size_t errlen);

#endif
