/*
 * tests/unit/test_conn_write.c - the completion contract of fault_conn_write():
 * its callback runs only when it returns 0, on plain TCP and TLS alike, so a
 * caller that takes a reference for the callback drops it once, either in
 * the callback or on the error return, never both.
 *
 * The connections sit on one end of a socketpair; the TLS one is a client
 * still in its handshake, where every write fails (FAULT_ETLS).
 */
#include "check.h"
#include "internal.h"

#include <sys/socket.h>
#include <unistd.h>

static int calls, last_status;

static void on_written(fault_conn *c, int status, void *ud)
{
    (void)c;
    (void)ud;
    calls++;
    last_status = status;
}

static void on_handshake(fault_conn *c, int status, void *ud)
{
    (void)c;
    (void)status;
    (void)ud;
}

/* A connection on one end of a fresh socketpair; the other end in *peer. */
static fault_conn *conn_on_pair(uv_loop_t *loop, int *peer)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return NULL;
    fault_conn *c = fault__conn_new(NULL, loop);
    if (!c || uv_tcp_open(&c->tcp, sv[0]) != 0)
        return NULL;
    *peer = sv[1];
    return c;
}

static void plain(uv_loop_t *loop)
{
    int peer;
    fault_conn *c = conn_on_pair(loop, &peer);
    CHECK(c != NULL);
    if (!c)
        return;
    calls = 0;
    CHECK_EQ_INT(fault_conn_write(c, "abc", 3, on_written, NULL), 0);
    CHECK_EQ_INT(calls, 0); /* from the loop, not inside the call */
    uv_run(loop, UV_RUN_NOWAIT);
    CHECK_EQ_INT(calls, 1);
    CHECK_EQ_INT(last_status, 0);
    fault_conn_close(c);
    calls = 0;
    uv_run(loop, UV_RUN_DEFAULT);
    close(peer);
}

static void tls_error(uv_loop_t *loop)
{
    int peer;
    fault_conn *c = conn_on_pair(loop, &peer);
    CHECK(c != NULL);
    if (!c)
        return;
    fault_tls_client_opts o = {.verify = false};
    CHECK_EQ_INT(fault__tls_client_start(c, "localhost", &o, on_handshake, NULL), 0);
    calls = 0;
    int rc = fault_conn_write(c, "abc", 3, on_written, NULL);
    CHECK(rc < 0);
    CHECK_EQ_INT(calls, 0); /* an error is returned, the callback never runs */
    uv_run(loop, UV_RUN_NOWAIT);
    CHECK_EQ_INT(calls, 0);
    fault_conn_close(c);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(calls, 0);
    close(peer);
}

int main(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    plain(&loop);
    tls_error(&loop);
    uv_loop_close(&loop);
    return check_done();
}
