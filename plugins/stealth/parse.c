/*
 * plugins/stealth/parse.c - the two texts stealth mode reads: the peer
 * address of an accepted connection, as fault_conn_peer() writes it, and
 * a line of /proc/self/mountinfo (to find the cgroup v2 hierarchy). No
 * libbpf here, so that tests/fuzz/run.sh builds it alone (target
 * "stealth", plugins/stealth/fuzz_stealth.c).
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "stealth.h"

int stealth_parse_peer(const char *text, stealth_endpoint *ep)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *colon = strrchr(text, ':');
    if (!colon || (size_t)(colon - text) >= sizeof host || !colon[1])
        return -1;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    unsigned long port = 0;
    for (const char *p = colon + 1; *p; p++) {
        if (*p < '0' || *p > '9' || port > 65535)
            return -1;
        port = port * 10 + (unsigned long)(*p - '0');
    }
    if (port > 65535)
        return -1;
    memset(ep, 0, sizeof *ep);
    ep->port = (uint16_t)port;
    size_t n = strlen(host);
    if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
        host[n - 1] = '\0';
        ep->family = AF_INET6;
        return inet_pton(AF_INET6, host + 1, &ep->addr) == 1 ? 0 : -1;
    }
    ep->family = AF_INET;
    return inet_pton(AF_INET, host, &ep->addr) == 1 ? 0 : -1;
}

/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE
 * SUPER_OPTIONS, with spaces and the like in paths written \ooo. */
int stealth_mountinfo_cgroup2(const char *line, char *buf, size_t len)
{
    const char *sep = strstr(line, " - ");
    if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0 || len == 0)
        return -1;
    const char *p = line;
    for (int field = 0; field < 4; field++) {
        p = strchr(p, ' ');
        if (!p || p >= sep)
            return -1;
        p++;
    }
    const char *end = strchr(p, ' ');
    if (!end || end > sep || end == p)
        return -1;
    size_t o = 0;
    for (; p < end; p++) {
        if (o + 1 >= len)
            return -1;
        if (p[0] == '\\' && end - p >= 4 && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' &&
            p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
            buf[o++] = (char)(((p[1] - '0') << 6) | ((p[2] - '0') << 3) | (p[3] - '0'));
            p += 3;
        } else {
            buf[o++] = *p;
        }
    }
    buf[o] = '\0';
    return 0;
}
