/*
 * core/timers.c - microsecond timers for the relay.
 *
 * libuv timers count whole milliseconds of a clock read once per loop
 * iteration, so a 4.2 ms delay ends anywhere between 5 and 6 ms later: a
 * latency fault would add a millisecond of its own. Chains instead use
 * these timers: a min-heap of deadlines on the fault_now_us() clock behind
 * one timerfd (CLOCK_MONOTONIC, absolute, nanosecond resolution) watched
 * by the loop. The deadline is met to within the kernel's wake-up time.
 *
 * The watcher does not keep the loop alive on its own (what a timer
 * delays always belongs to an open connection, which does).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "internal.h"

static struct {
    int fd;
    uv_poll_t poll;
    bool init;
    fault__timer **heap;
    size_t n, cap;
} tm = {.fd = -1};

static bool before(const fault__timer *a, const fault__timer *b)
{
    return a->at_us < b->at_us || (a->at_us == b->at_us && a->seq < b->seq);
}

static void place(size_t i, fault__timer *t)
{
    tm.heap[i] = t;
    t->slot = i;
}

static void sift_up(size_t i)
{
    fault__timer *t = tm.heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(t, tm.heap[parent]))
            break;
        place(i, tm.heap[parent]);
        i = parent;
    }
    place(i, t);
}

static void sift_down(size_t i)
{
    fault__timer *t = tm.heap[i];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const fault__timer *best = t;
        if (l < tm.n && before(tm.heap[l], best)) {
            m = l;
            best = tm.heap[l];
        }
        if (r < tm.n && before(tm.heap[r], best))
            m = r;
        if (m == i)
            break;
        place(i, tm.heap[m]);
        i = m;
    }
    place(i, t);
}

static void remove_at(size_t i)
{
    fault__timer *last = tm.heap[--tm.n];
    tm.heap[i]->slot = SIZE_MAX;
    if (i == tm.n)
        return;
    place(i, last);
    sift_down(i);
    sift_up(last->slot);
}

/* Programs the timerfd for the earliest deadline (or disarms it). */
static void program(void)
{
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    if (tm.n) {
        uint64_t at = tm.heap[0]->at_us;
        if (at == 0)
            at = 1; /* an all-zero value would disarm the timer */
        its.it_value.tv_sec = (time_t)(at / 1000000u);
        its.it_value.tv_nsec = (long)(at % 1000000u) * 1000;
    }
    timerfd_settime(tm.fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void on_ready(uv_poll_t *h, int status, int events)
{
    (void)h;
    (void)status;
    (void)events;
    uint64_t expirations;
    while (read(tm.fd, &expirations, sizeof expirations) > 0) {
    }
    uint64_t now = fault_now_us();
    /* Callbacks may start and stop timers: take one due timer at a time. */
    while (tm.n && tm.heap[0]->at_us <= now) {
        fault__timer *t = tm.heap[0];
        remove_at(0);
        t->cb(t);
    }
    program();
}

static int timers_init(void)
{
    if (tm.init)
        return 0;
    tm.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (tm.fd < 0)
        return -errno;
    if (uv_poll_init(fault__g.loop, &tm.poll, tm.fd) != 0) {
        close(tm.fd);
        tm.fd = -1;
        return FAULT_EIO;
    }
    uv_poll_start(&tm.poll, UV_READABLE, on_ready);
    uv_unref((uv_handle_t *)&tm.poll);
    tm.init = true;
    return 0;
}

int fault__timer_start(fault__timer *t, uint64_t at_us, void (*cb)(fault__timer *t))
{
    static uint64_t seq;
    int rc = timers_init();
    if (rc < 0)
        return rc;
    if (fault__timer_armed(t))
        remove_at(t->slot);
    if (tm.n == tm.cap) {
        size_t cap = tm.cap ? tm.cap * 2 : 64;
        fault__timer **h = realloc(tm.heap, cap * sizeof *h);
        if (!h)
            return FAULT_ENOMEM;
        tm.heap = h;
        tm.cap = cap;
    }
    t->at_us = at_us;
    t->cb = cb;
    t->seq = ++seq;
    place(tm.n++, t);
    sift_up(tm.n - 1);
    if (tm.heap[0] == t)
        program();
    return 0;
}

void fault__timer_stop(fault__timer *t)
{
    if (!fault__timer_armed(t))
        return;
    bool first = t->slot == 0;
    remove_at(t->slot);
    if (first)
        program();
}

bool fault__timer_armed(const fault__timer *t)
{
    return t->slot != SIZE_MAX && t->slot < tm.n && tm.heap[t->slot] == t;
}

static void on_poll_closed(uv_handle_t *h)
{
    (void)h;
    close(tm.fd);
    tm.fd = -1;
}

void fault__timers_shutdown(void)
{
    if (!tm.init)
        return;
    tm.init = false;
    uv_poll_stop(&tm.poll);
    uv_close((uv_handle_t *)&tm.poll, on_poll_closed);
    free(tm.heap);
    tm.heap = NULL;
    tm.n = tm.cap = 0;
}

/* ---- timers for plugins (<fault/timer.h>, ABI 1.3) ----
 *
 * A public timer is a heap timer with its owner and callback, kept on a
 * list so that the host can free what a plugin leaves behind. */

struct fault_timer {
    fault__timer t;
    fault_plugin *owner;
    fault_timer_cb cb;
    void *ud;
    struct fault_timer *prev, *next;
};

static struct fault_timer *ptimers;

static void ptimer_fire(fault__timer *t)
{
    struct fault_timer *pt = fault__container_of(t, struct fault_timer, t);
    pt->cb(pt, pt->ud);
}

int fault_timer_new(fault_plugin *self, fault_timer_cb cb, void *userdata, fault_timer **out)
{
    if (!self || !cb || !out)
        return FAULT_EINVAL;
    struct fault_timer *pt = calloc(1, sizeof *pt);
    if (!pt)
        return FAULT_ENOMEM;
    FAULT__TIMER_INIT(&pt->t);
    pt->owner = self;
    pt->cb = cb;
    pt->ud = userdata;
    pt->next = ptimers;
    if (ptimers)
        ptimers->prev = pt;
    ptimers = pt;
    *out = pt;
    return 0;
}

int fault_timer_start_at(fault_timer *pt, uint64_t at_us)
{
    if (!pt)
        return FAULT_EINVAL;
    if (!fault__g.loop)
        return FAULT_EPERM;
    return fault__err(fault__timer_start(&pt->t, at_us, ptimer_fire));
}

int fault_timer_start(fault_timer *pt, uint64_t delay_us)
{
    uint64_t now = fault_now_us();
    return fault_timer_start_at(pt, delay_us > UINT64_MAX - now ? UINT64_MAX : now + delay_us);
}

void fault_timer_stop(fault_timer *pt)
{
    if (pt)
        fault__timer_stop(&pt->t);
}

bool fault_timer_armed(const fault_timer *pt)
{
    return pt && fault__timer_armed(&pt->t);
}

uint64_t fault_timer_deadline(const fault_timer *pt)
{
    return fault_timer_armed(pt) ? pt->t.at_us : 0;
}

void fault_timer_free(fault_timer *pt)
{
    if (!pt)
        return;
    fault__timer_stop(&pt->t);
    if (pt->prev)
        pt->prev->next = pt->next;
    else
        ptimers = pt->next;
    if (pt->next)
        pt->next->prev = pt->prev;
    free(pt);
}

void fault__timers_drop_owner(fault_plugin *p)
{
    struct fault_timer *pt = ptimers;
    while (pt) {
        struct fault_timer *next = pt->next;
        if (pt->owner == p)
            fault_timer_free(pt);
        pt = next;
    }
}
