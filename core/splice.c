/*
 * core/splice.c - zero-copy transfers (Linux splice(2)): the one splice
 * engine of the core, with two users.
 *
 * A leg moves bytes from a source socket into a kernel pipe and from the
 * pipe into a destination socket, never through user space (fault__spleg
 * below). Two engines drive legs:
 *
 *   - the relay (fault__splice_*): once a connection with no fault attached
 *     shows a large transfer (relay.c decides), both directions move in the
 *     kernel. libuv allows one handle per descriptor, so the relay takes the
 *     two sockets over: it duplicates their descriptors, lets libuv close its
 *     own handles, and watches the duplicates with uv_poll. Half-closes
 *     travel as shutdown(SHUT_WR) once the pipe is empty, an error or reset
 *     on one leg resets the other (SO_LINGER 0), and a direction holds at
 *     most one pipe of bytes (1 MiB), after which the sender's window fills:
 *     backpressure.
 *   - fault_conn_splice() (ABI 1.1, fault__xfer_*): a known number of bytes
 *     from one connection to another, for protocol handlers (an HTTP body
 *     of known length). The connections' libuv handles stay open (the
 *     caller stopped reading the source and writes nothing to the
 *     destination meanwhile), so the transfer watches duplicates of both
 *     sockets in an epoll set of its own, which libuv watches with one
 *     uv_poll; the caller goes on with its connections afterwards.
 *
 * FAULT_NO_SPLICE=1 in the environment turns both off
 * (fault__splice_enabled()).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

#define PIPE_CAP (1024 * 1024)

bool fault__splice_enabled(void)
{
    const char *v = getenv("FAULT_NO_SPLICE");
    return !(v && *v && strcmp(v, "0") != 0);
}

/* ---- a leg: in_fd -> pipe -> out_fd ---- */

typedef struct spleg {
    int in_fd, out_fd;
    int pipe_r, pipe_w;
    size_t in_pipe; /* bytes in the kernel pipe */
    uint64_t left;  /* bytes still to read from in_fd (UINT64_MAX: to EOF) */
    uint64_t total; /* bytes written to out_fd */
    bool in_eof;    /* EOF read from in_fd */
    bool want_read, want_write;
} spleg;

static void leg_init(spleg *l, uint64_t limit)
{
    memset(l, 0, sizeof *l);
    l->in_fd = l->out_fd = l->pipe_r = l->pipe_w = -1;
    l->left = limit;
}

static int leg_pipe(spleg *l)
{
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
        return -errno;
    l->pipe_r = fds[0];
    l->pipe_w = fds[1];
    /* A larger pipe moves more per call; failure only costs speed. */
    (void)fcntl(l->pipe_w, F_SETPIPE_SZ, PIPE_CAP);
    return 0;
}

static void leg_close_pipe(spleg *l)
{
    if (l->pipe_r >= 0)
        close(l->pipe_r);
    if (l->pipe_w >= 0)
        close(l->pipe_w);
    l->pipe_r = l->pipe_w = -1;
}

/* Moves what it can: empties the pipe into out_fd, then refills it from
 * in_fd (at most l->left bytes), until a socket would block, the source
 * ends (in_eof) or its allowance is read. Sets want_read/want_write for
 * the poll. Returns 0 or a negative errno. */
static int leg_pump(spleg *l)
{
    l->want_read = l->want_write = false;
    for (;;) {
        while (l->in_pipe > 0) {
            ssize_t n = splice(l->pipe_r, NULL, l->out_fd, NULL, l->in_pipe,
                               SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n > 0) {
                l->in_pipe -= (size_t)n;
                l->total += (uint64_t)n;
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN) {
                l->want_write = true;
                return 0;
            }
            return n < 0 ? -errno : -EPIPE;
        }
        if (l->in_eof || l->left == 0)
            return 0;
        size_t want = l->left < PIPE_CAP ? (size_t)l->left : PIPE_CAP;
        ssize_t n =
            splice(l->in_fd, NULL, l->pipe_w, NULL, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) {
            l->in_pipe += (size_t)n;
            if (l->left != UINT64_MAX)
                l->left -= (uint64_t)n;
            continue;
        }
        if (n == 0) {
            l->in_eof = true;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN) {
            l->want_read = true;
            return 0;
        }
        return -errno;
    }
}

static int dup_fd(fault_conn *c)
{
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0)
        return -1;
    return fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

/* ---- the relay's splice ---- */

typedef struct spdir {
    spleg leg;
    bool out_shut; /* out_fd shut down for writing */
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

static void sp_free(fault__splice *sp)
{
    leg_close_pipe(&sp->eg.leg);
    leg_close_pipe(&sp->in.leg);
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
    sp->done(sp->s, reset, error, sp->eg.leg.total, sp->in.leg.total);
}

void fault__splice_end(fault__splice *sp, bool reset)
{
    sp_end(sp, reset, 0);
}

/* Moves what it can in one direction, then sends its FIN once the source
 * ended and the pipe is empty. Returns 0 or a negative errno. */
static int pump(spdir *d)
{
    int rc = leg_pump(&d->leg);
    if (rc == 0 && d->leg.in_eof && d->leg.in_pipe == 0 && !d->out_shut) {
        d->out_shut = true;
        shutdown(d->leg.out_fd, SHUT_WR);
    }
    return rc;
}

static void on_poll(uv_poll_t *h, int status, int events);

static void rearm(fault__splice *sp)
{
    int ce = (sp->eg.leg.want_read ? UV_READABLE : 0) | (sp->in.leg.want_write ? UV_WRITABLE : 0);
    int se = (sp->in.leg.want_read ? UV_READABLE : 0) | (sp->eg.leg.want_write ? UV_WRITABLE : 0);
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

fault__splice *fault__splice_start(fault_stream *s, fault_conn *client, fault_conn *server,
                                   void (*done)(fault_stream *s, bool reset, int error, uint64_t eg,
                                                uint64_t in))
{
    if (client->tls || server->tls || fault__conn_queued(client) || fault__conn_queued(server))
        return NULL;
    fault__splice *sp = calloc(1, sizeof *sp);
    if (!sp)
        return NULL;
    sp->s = s;
    sp->done = done;
    leg_init(&sp->eg.leg, UINT64_MAX);
    leg_init(&sp->in.leg, UINT64_MAX);
    sp->cfd = dup_fd(client);
    sp->sfd = dup_fd(server);
    if (sp->cfd < 0 || sp->sfd < 0 || leg_pipe(&sp->eg.leg) < 0 || leg_pipe(&sp->in.leg) < 0) {
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
    sp->eg.leg.in_fd = sp->cfd;
    sp->eg.leg.out_fd = sp->sfd;
    sp->in.leg.in_fd = sp->sfd;
    sp->in.leg.out_fd = sp->cfd;
    uv_poll_init(fault__g.loop, &sp->pc, sp->cfd);
    uv_poll_init(fault__g.loop, &sp->ps, sp->sfd);
    sp->pc.data = sp->ps.data = sp;
    sp->open_polls = 2;
    sp->eg.leg.want_read = sp->in.leg.want_read = true;
    rearm(sp);
    return sp;
}

uint64_t fault__splice_total(const fault__splice *sp, fault_direction dir)
{
    return dir == FAULT_DIR_EGRESS ? sp->eg.leg.total : sp->in.leg.total;
}

/* ---- fault_conn_splice(): a known number of bytes (ABI 1.1) ---- */

struct fault__xfer {
    fault_conn *from, *to;
    spleg leg;
    uint64_t len;
    int ep;
    uint32_t ev_in, ev_out; /* what the epoll set watches on each */
    uv_poll_t poll;
    bool poll_init;
    fault_splice_cb done;
    void *ud;
};

static void xfer_closed(uv_handle_t *h)
{
    struct fault__xfer *x = h->data;
    if (x->ep >= 0)
        close(x->ep);
    free(x);
}

/* Releases everything; the connections no longer point to x. */
static void xfer_release(struct fault__xfer *x)
{
    if (x->from)
        x->from->xfer = NULL;
    if (x->to)
        x->to->xfer = NULL;
    x->from = x->to = NULL;
    leg_close_pipe(&x->leg);
    if (x->leg.in_fd >= 0)
        close(x->leg.in_fd);
    if (x->leg.out_fd >= 0)
        close(x->leg.out_fd);
    x->leg.in_fd = x->leg.out_fd = -1;
    if (x->poll_init) {
        uv_poll_stop(&x->poll);
        uv_close((uv_handle_t *)&x->poll, xfer_closed);
    } else {
        if (x->ep >= 0)
            close(x->ep);
        free(x);
    }
}

void fault__xfer_cancel(struct fault__xfer *x)
{
    xfer_release(x);
}

static void xfer_finish(struct fault__xfer *x, int status)
{
    fault_conn *from = x->from, *to = x->to;
    fault_splice_cb done = x->done;
    void *ud = x->ud;
    uint64_t moved = x->leg.total;
    xfer_release(x);
    done(from, to, fault__err(status), moved, ud);
}

static void xfer_watch(struct fault__xfer *x, int fd, uint32_t *cur, uint32_t want)
{
    if (*cur == want)
        return;
    struct epoll_event ev = {.events = want, .data.fd = fd};
    int op = !*cur ? EPOLL_CTL_ADD : want ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;
    epoll_ctl(x->ep, op, fd, &ev);
    *cur = want;
}

/* Moves what it can; finishes x when done or broken. */
static void xfer_pump(struct fault__xfer *x)
{
    int rc = leg_pump(&x->leg);
    if (rc < 0) {
        xfer_finish(x, rc);
        return;
    }
    if (x->leg.total == x->len) {
        xfer_finish(x, 0);
        return;
    }
    if (x->leg.in_eof && x->leg.in_pipe == 0) {
        xfer_finish(x, UV_EOF); /* the source ended before len bytes */
        return;
    }
    /* Level-triggered: wait for bytes to read or room to write. */
    xfer_watch(x, x->leg.in_fd, &x->ev_in, x->leg.want_read ? EPOLLIN : 0);
    xfer_watch(x, x->leg.out_fd, &x->ev_out, x->leg.want_write ? EPOLLOUT : 0);
}

static void on_xfer_poll(uv_poll_t *h, int status, int events)
{
    struct fault__xfer *x = h->data;
    (void)events;
    if (!x->from)
        return;
    if (status < 0) {
        xfer_finish(x, status);
        return;
    }
    /* Drain the readiness list; the pump's splices say what happened
     * (bytes, the last bytes before a FIN, or an error). */
    struct epoll_event evs[2];
    (void)epoll_wait(x->ep, evs, 2, 0);
    xfer_pump(x);
}

int fault_conn_splice(fault_conn *from, fault_conn *to, uint64_t len, fault_splice_cb done,
                      void *userdata)
{
    if (!from || !to || from == to || !done || len == 0)
        return FAULT_EINVAL;
    if (from->tls || to->tls || !fault__splice_enabled())
        return FAULT_ENOTSUP;
    if (from->closing || to->closing || from->reading || from->xfer || to->xfer ||
        fault__conn_queued(to) != 0)
        return FAULT_EBUSY;
    struct fault__xfer *x = calloc(1, sizeof *x);
    if (!x)
        return FAULT_ENOMEM;
    leg_init(&x->leg, len);
    x->ep = -1;
    x->from = from;
    x->to = to;
    x->len = len;
    x->done = done;
    x->ud = userdata;
    int rc = 0;
    x->leg.in_fd = dup_fd(from);
    x->leg.out_fd = dup_fd(to);
    x->ep = epoll_create1(EPOLL_CLOEXEC);
    if (x->leg.in_fd < 0 || x->leg.out_fd < 0 || x->ep < 0) {
        rc = -errno;
    } else if ((rc = leg_pipe(&x->leg)) == 0) {
        /* Level-triggered: bytes already waiting wake the poll at once,
         * from the loop, so done never runs inside this call. */
        xfer_watch(x, x->leg.in_fd, &x->ev_in, EPOLLIN);
        rc = uv_poll_init(fault__g.loop, &x->poll, x->ep);
        if (rc == 0) {
            x->poll_init = true;
            x->poll.data = x;
            rc = uv_poll_start(&x->poll, UV_READABLE, on_xfer_poll);
        }
    }
    if (rc != 0) {
        x->from = x->to = NULL;
        xfer_release(x);
        return rc < 0 ? fault__err(rc) : FAULT_EIO;
    }
    from->xfer = to->xfer = x;
    return 0;
}
