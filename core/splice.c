/*
 * core/splice.c - the zero-copy relay (Linux splice(2)).
 *
 * When no fault attached to a connection and both legs are plain TCP, the
 * bytes need not visit user space at all: each direction moves them from
 * the source socket into a kernel pipe and from the pipe into the
 * destination socket. libuv has no such transfer, so the relay takes the
 * two sockets over: it duplicates their descriptors, lets libuv close its
 * own handles, and watches the duplicates with uv_poll.
 *
 * Semantics are those of the ordinary relay: half-closes travel as
 * shutdown(SHUT_WR) once the pipe is empty, an error or reset on one leg
 * resets the other (SO_LINGER 0), and a direction holds at most one pipe of
 * bytes (1 MiB), after which the sender's window fills: backpressure.
 * FAULT_NO_SPLICE=1 in the environment turns it off.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

#define PIPE_CAP (1024 * 1024)

typedef struct spdir {
    int in_fd, out_fd;
    int pipe_r, pipe_w;
    size_t in_pipe;  /* bytes in the kernel pipe */
    bool in_eof;     /* EOF read from in_fd */
    bool out_shut;   /* out_fd shut down for writing */
    bool want_read, want_write;
    uint64_t total;
} spdir;

struct fault__splice {
    fault_stream *s;
    int cfd, sfd;
    uv_poll_t pc, ps;
    int open_polls;
    spdir eg, in;
    bool ended;
    void (*done)(fault_stream *s, bool reset, int error, uint64_t eg, uint64_t in);
};

bool fault__splice_enabled(void)
{
    const char *v = getenv("FAULT_NO_SPLICE");
    return !(v && *v && strcmp(v, "0") != 0);
}

static int dup_fd(fault_conn *c)
{
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0)
        return -1;
    return fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

static void close_pipe(spdir *d)
{
    if (d->pipe_r >= 0)
        close(d->pipe_r);
    if (d->pipe_w >= 0)
        close(d->pipe_w);
    d->pipe_r = d->pipe_w = -1;
}

static void sp_free(fault__splice *sp)
{
    close_pipe(&sp->eg);
    close_pipe(&sp->in);
    free(sp);
}

static void on_poll_closed(uv_handle_t *h)
{
    fault__splice *sp = h->data;
    if (--sp->open_polls == 0) {
        /* Closing the last descriptor of each socket sends its FIN, or
         * its RST when SO_LINGER 0 was set. */
        close(sp->cfd);
        close(sp->sfd);
        sp_free(sp);
    }
}

static void sp_end(fault__splice *sp, bool reset, int error)
{
    if (sp->ended)
        return;
    sp->ended = true;
    if (reset) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(sp->cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        setsockopt(sp->sfd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    uv_close((uv_handle_t *)&sp->pc, on_poll_closed);
    uv_close((uv_handle_t *)&sp->ps, on_poll_closed);
    sp->done(sp->s, reset, error, sp->eg.total, sp->in.total);
}

void fault__splice_end(fault__splice *sp, bool reset)
{
    sp_end(sp, reset, 0);
}

/* Moves what it can in one direction. Returns 0 or a negative errno. */
static int pump(spdir *d)
{
    d->want_read = d->want_write = false;
    for (;;) {
        while (d->in_pipe > 0) {
            ssize_t n = splice(d->pipe_r, NULL, d->out_fd, NULL, d->in_pipe,
                               SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n > 0) {
                d->in_pipe -= (size_t)n;
                d->total += (uint64_t)n;
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN) {
                d->want_write = true;
                return 0;
            }
            return n < 0 ? -errno : -EPIPE;
        }
        if (d->in_eof) {
            if (!d->out_shut) {
                d->out_shut = true;
                shutdown(d->out_fd, SHUT_WR);
            }
            return 0;
        }
        ssize_t n = splice(d->in_fd, NULL, d->pipe_w, NULL, PIPE_CAP,
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) {
            d->in_pipe += (size_t)n;
            continue;
        }
        if (n == 0) {
            d->in_eof = true;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN) {
            d->want_read = true;
            return 0;
        }
        return -errno;
    }
}

static void on_poll(uv_poll_t *h, int status, int events);

static void rearm(fault__splice *sp)
{
    int ce = (sp->eg.want_read ? UV_READABLE : 0) | (sp->in.want_write ? UV_WRITABLE : 0);
    int se = (sp->in.want_read ? UV_READABLE : 0) | (sp->eg.want_write ? UV_WRITABLE : 0);
    if (ce)
        uv_poll_start(&sp->pc, ce, on_poll);
    else
        uv_poll_stop(&sp->pc);
    if (se)
        uv_poll_start(&sp->ps, se, on_poll);
    else
        uv_poll_stop(&sp->ps);
}

static void run(fault__splice *sp)
{
    int rc = pump(&sp->eg);
    if (rc == 0)
        rc = pump(&sp->in);
    if (rc < 0) {
        sp_end(sp, true, rc);
        return;
    }
    if (sp->eg.out_shut && sp->in.out_shut) {
        sp_end(sp, false, 0);
        return;
    }
    rearm(sp);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    fault__splice *sp = h->data;
    (void)events;
    if (sp->ended)
        return;
    if (status < 0) {
        sp_end(sp, true, status);
        return;
    }
    run(sp);
}

static int make_pipe(spdir *d)
{
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
        return -errno;
    d->pipe_r = fds[0];
    d->pipe_w = fds[1];
    /* A larger pipe moves more per call; failure only costs speed. */
    (void)fcntl(d->pipe_w, F_SETPIPE_SZ, PIPE_CAP);
    return 0;
}

fault__splice *fault__splice_start(fault_stream *s, fault_conn *client, fault_conn *server,
                                   void (*done)(fault_stream *s, bool reset, int error,
                                                uint64_t eg, uint64_t in))
{
    if (client->tls || server->tls || fault__conn_queued(client) || fault__conn_queued(server))
        return NULL;
    fault__splice *sp = calloc(1, sizeof *sp);
    if (!sp)
        return NULL;
    sp->s = s;
    sp->done = done;
    sp->eg.pipe_r = sp->eg.pipe_w = sp->in.pipe_r = sp->in.pipe_w = -1;
    sp->cfd = dup_fd(client);
    sp->sfd = dup_fd(server);
    if (sp->cfd < 0 || sp->sfd < 0 || make_pipe(&sp->eg) < 0 || make_pipe(&sp->in) < 0) {
        if (sp->cfd >= 0)
            close(sp->cfd);
        if (sp->sfd >= 0)
            close(sp->sfd);
        sp_free(sp);
        return NULL;
    }
    /* libuv's handles go; the duplicates keep both sockets open. */
    fault_conn_close(client);
    fault_conn_close(server);
    sp->eg.in_fd = sp->cfd;
    sp->eg.out_fd = sp->sfd;
    sp->in.in_fd = sp->sfd;
    sp->in.out_fd = sp->cfd;
    uv_poll_init(fault__g.loop, &sp->pc, sp->cfd);
    uv_poll_init(fault__g.loop, &sp->ps, sp->sfd);
    sp->pc.data = sp->ps.data = sp;
    sp->open_polls = 2;
    sp->eg.want_read = sp->in.want_read = true;
    rearm(sp);
    return sp;
}

uint64_t fault__splice_total(const fault__splice *sp, fault_direction dir)
{
    return dir == FAULT_DIR_EGRESS ? sp->eg.total : sp->in.total;
}
