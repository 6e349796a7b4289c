/*
 * plugins/lib/curluv.c - libcurl multi on a libuv loop (see curluv.h).
 */
#include "config.h"

#include <stdlib.h>

#include "curluv.h"

typedef struct watch {
    uv_poll_t poll;
    curl_socket_t fd;
    curluv *cu;
    struct watch *next, *prev;
} watch;

struct curluv {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    curluv_done_cb done;
    void *ud;
    /* Sockets libcurl asked us to watch; kept on a list so that whatever
     * libcurl does not remove itself at cleanup is still closed. */
    watch *watches;
};

static void handle_freed(uv_handle_t *h)
{
    free(h->data);
}

static void watch_close(watch *w)
{
    curluv *cu = w->cu;
    if (w->prev)
        w->prev->next = w->next;
    else
        cu->watches = w->next;
    if (w->next)
        w->next->prev = w->prev;
    /* uv_close stops the poll and takes the descriptor out of epoll at
     * once, before libcurl closes it. */
    uv_close((uv_handle_t *)&w->poll, handle_freed);
}

/* Hands every finished transfer over. A callback may add or remove other
 * transfers: both only touch the multi handle outside socket_action, and
 * removing a handle also drops its pending message. */
static void check_done(curluv *cu)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(cu->multi, &left)))
        if (msg->msg == CURLMSG_DONE)
            cu->done(msg->easy_handle, msg->data.result, cu->ud);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    watch *w = p->data;
    curluv *cu = w->cu;
    int flags = 0, running;
    if (status < 0) {
        flags = CURL_CSELECT_ERR;
    } else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    curl_multi_socket_action(cu->multi, w->fd, flags, &running);
    check_done(cu);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    curluv *cu = userp;
    watch *w = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (w) {
            curl_multi_assign(cu->multi, fd, NULL);
            watch_close(w);
        }
        return 0;
    }
    if (!w) {
        w = calloc(1, sizeof *w);
        if (!w)
            return -1;
        if (uv_poll_init_socket(cu->loop, &w->poll, fd) != 0) {
            free(w);
            return -1;
        }
        w->fd = fd;
        w->cu = cu;
        w->poll.data = w;
        w->next = cu->watches;
        if (cu->watches)
            cu->watches->prev = w;
        cu->watches = w;
        curl_multi_assign(cu->multi, fd, w);
    }
    int ev = 0;
    if (what & CURL_POLL_IN)
        ev |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        ev |= UV_WRITABLE;
    return uv_poll_start(&w->poll, ev, on_poll) == 0 ? 0 : -1;
}

static void on_timeout(uv_timer_t *t)
{
    curluv *cu = t->data;
    int running;
    curl_multi_socket_action(cu->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(cu);
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    curluv *cu = userp;
    /* libcurl must not be re-entered from here: even 0 ms is served from
     * the loop, on its next turn. */
    if (timeout_ms < 0)
        uv_timer_stop(&cu->timer);
    else
        uv_timer_start(&cu->timer, on_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

curluv *curluv_new(uv_loop_t *loop, curluv_done_cb done, void *userdata)
{
    curluv *cu = calloc(1, sizeof *cu);
    if (!cu)
        return NULL;
    cu->loop = loop;
    cu->done = done;
    cu->ud = userdata;
    cu->multi = curl_multi_init();
    if (!cu->multi) {
        free(cu);
        return NULL;
    }
    uv_timer_init(loop, &cu->timer);
    cu->timer.data = cu;
    curl_multi_setopt(cu->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(cu->multi, CURLMOPT_SOCKETDATA, cu);
    curl_multi_setopt(cu->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(cu->multi, CURLMOPT_TIMERDATA, cu);
    return cu;
}

int curluv_add(curluv *cu, CURL *easy)
{
    return curl_multi_add_handle(cu->multi, easy) == CURLM_OK ? 0 : -1;
}

void curluv_remove(curluv *cu, CURL *easy)
{
    curl_multi_remove_handle(cu->multi, easy);
}

void curluv_free(curluv *cu)
{
    if (!cu)
        return;
    /* Closes the connections libcurl kept alive; it tells on_socket to
     * stop watching the ones it watched. */
    curl_multi_cleanup(cu->multi);
    cu->multi = NULL;
    while (cu->watches)
        watch_close(cu->watches);
    uv_close((uv_handle_t *)&cu->timer, handle_freed);
}
