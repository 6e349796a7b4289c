/*
 * tests/bench/minrelay.c - the least a user-space TCP relay can do, as a
 * yardstick for bulk-ceiling.sh: one connection at a time, blocking
 * sockets, no event loop, no buffering policy; each poll wake-up moves what
 * one call brings from one side to the other.
 *
 *   minrelay LISTEN_PORT UPSTREAM_PORT rw|splice CHUNK
 *
 * rw: recv() into a CHUNK-byte buffer, send() it all. splice: splice(2)
 * through a pipe of CHUNK bytes. Loopback only. Not part of fault.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int move_rw(int s, int d, char *buf, size_t chunk)
{
    ssize_t n = recv(s, buf, chunk, MSG_DONTWAIT);
    if (n <= 0)
        return -1;
    for (ssize_t o = 0; o < n;) {
        ssize_t w = send(d, buf + o, (size_t)(n - o), MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        o += w;
    }
    return 0;
}

static int move_splice(int s, int d, const int p[2], size_t chunk)
{
    ssize_t n = splice(s, NULL, p[1], NULL, chunk, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n <= 0)
        return -1;
    for (ssize_t o = 0; o < n;) {
        ssize_t w = splice(p[0], NULL, d, NULL, (size_t)(n - o), SPLICE_F_MOVE);
        if (w <= 0)
            return -1;
        o += w;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 5 || (strcmp(argv[3], "rw") && strcmp(argv[3], "splice"))) {
        fprintf(stderr, "usage: minrelay LISTEN_PORT UPSTREAM_PORT rw|splice CHUNK\n");
        return 2;
    }
    int use_splice = !strcmp(argv[3], "splice"), one = 1;
    size_t chunk = (size_t)atol(argv[4]);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int l = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (chunk == 0 || bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 16) != 0) {
        perror("minrelay: listen");
        return 1;
    }
    char *buf = malloc(chunk);
    if (!buf)
        return 1;
    for (;;) {
        int c = accept(l, NULL, NULL);
        if (c < 0)
            continue;
        int u = socket(AF_INET, SOCK_STREAM, 0);
        a.sin_port = htons((uint16_t)atoi(argv[2]));
        if (connect(u, (struct sockaddr *)&a, sizeof a) != 0) {
            close(c);
            close(u);
            continue;
        }
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        int fds[2] = {c, u}, p[2][2] = {{-1, -1}, {-1, -1}};
        for (int i = 0; use_splice && i < 2; i++) {
            if (pipe2(p[i], O_NONBLOCK) == 0)
                (void)fcntl(p[i][0], F_SETPIPE_SZ, (int)chunk);
        }
        for (int done = 0; !done;) {
            struct pollfd pf[2] = {{.fd = c, .events = POLLIN}, {.fd = u, .events = POLLIN}};
            if (poll(pf, 2, -1) < 0)
                break;
            for (int i = 0; i < 2 && !done; i++) {
                if (!pf[i].revents)
                    continue;
                done = use_splice ? move_splice(fds[i], fds[!i], p[i], chunk) != 0
                                  : move_rw(fds[i], fds[!i], buf, chunk) != 0;
            }
        }
        close(c);
        close(u);
        for (int i = 0; i < 2; i++) {
            if (p[i][0] >= 0) {
                close(p[i][0]);
                close(p[i][1]);
            }
        }
    }
}
