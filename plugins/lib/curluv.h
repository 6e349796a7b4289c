/*
 * plugins/lib/curluv.h - libcurl's multi interface driven by a libuv loop,
 * for plugins that make HTTP calls (demo, scenario). A convenience library
 * linked into those plugins: the core never links libcurl.
 *
 * libcurl says which sockets to watch (one uv_poll_t each) and when to wake
 * it (one uv_timer_t); readiness goes back with curl_multi_socket_action(),
 * and every finished transfer is handed to the done callback. So any
 * number of calls are sockets on the one loop (no thread pool to
 * saturate), and a call can be dropped at any moment.
 */
#ifndef FAULT_CURLUV_H
#define FAULT_CURLUV_H

#include <curl/curl.h>
#include <uv.h>

typedef struct curluv curluv;

/* A transfer finished (result CURLE_OK or the error). The callback may add
 * and remove other transfers, and must remove this one (curluv_remove())
 * before freeing it. */
typedef void (*curluv_done_cb)(CURL *easy, CURLcode result, void *userdata);

/* NULL when libcurl cannot make a multi handle. */
curluv *curluv_new(uv_loop_t *loop, curluv_done_cb done, void *userdata);
/* curl_multi_add_handle(); returns 0 or -1. */
int curluv_add(curluv *cu, CURL *easy);
/* curl_multi_remove_handle(): the transfer stops, no callback follows. */
void curluv_remove(curluv *cu, CURL *easy);
/* Closes what libcurl kept open and frees the handles once the loop let
 * go of them. Remove (and free) the transfers first. */
void curluv_free(curluv *cu);

#endif /* FAULT_CURLUV_H */
