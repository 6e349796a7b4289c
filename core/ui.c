/*
 * core/ui.c - what `fault run` prints: the addresses it listens on, then
 * either a running summary (default), one line per event (--tail), or
 * nothing (--no-ui). Both are plain subscribers of the event bus.
 *
 * On a terminal the summary is one line redrawn in place, with a progress
 * bar when --duration is set; otherwise a summary line is printed at most
 * once a second, and only when something changed, so logs stay readable.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define MAX_FAULT_NAMES 16

static struct {
    fault__ui_mode mode;
    bool tty, running, dirty, listened;
    int sub;
    uv_timer_t timer;
    uint64_t open, total, egress, ingress, errors;
    struct {
        char name[32];
        uint64_t n;
    } faults[MAX_FAULT_NAMES];
    int nfaults;
} ui;

static void count_fault(const char *name)
{
    for (int i = 0; i < ui.nfaults; i++) {
        if (strcmp(ui.faults[i].name, name) == 0) {
            ui.faults[i].n++;
            return;
        }
    }
    if (ui.nfaults < MAX_FAULT_NAMES) {
        snprintf(ui.faults[ui.nfaults].name, sizeof ui.faults[0].name, "%s", name);
        ui.faults[ui.nfaults++].n = 1;
    }
}

static void human_bytes(uint64_t b, char *buf, size_t len)
{
    if (b < 10 * 1024)
        snprintf(buf, len, "%" PRIu64 " B", b);
    else if (b < 10ull * 1024 * 1024)
        snprintf(buf, len, "%.1f KiB", (double)b / 1024);
    else
        snprintf(buf, len, "%.1f MiB", (double)b / (1024 * 1024));
}

static void summary_text(char *buf, size_t len)
{
    char eg[32], in[32];
    human_bytes(ui.egress, eg, sizeof eg);
    human_bytes(ui.ingress, in, sizeof in);
    size_t j = (size_t)snprintf(
        buf, len, "connections: %" PRIu64 " open, %" PRIu64 " total | sent %s, received %s",
        ui.open, ui.total, eg, in);
    if (ui.nfaults && j < len)
        j += (size_t)snprintf(buf + j, len - j, " | faults:");
    for (int i = 0; i < ui.nfaults && j < len; i++)
        j += (size_t)snprintf(buf + j, len - j, " %s=%" PRIu64, ui.faults[i].name, ui.faults[i].n);
}

static void draw(bool final)
{
    char line[512];
    summary_text(line, sizeof line);
    if (ui.tty && !final) {
        char bar[64] = "";
        uint64_t d = fault__g.duration_us;
        if (d) {
            uint64_t el = fault_run_elapsed_us();
            int width = 30, pos = el >= d ? width : (int)((el * (uint64_t)width) / d);
            bar[0] = '[';
            for (int i = 0; i < width; i++)
                bar[1 + i] = i < pos ? '=' : (i == pos ? '>' : ' ');
            snprintf(bar + 1 + width, sizeof bar - 1 - (size_t)width, "] %3d%% ",
                     (int)(el >= d ? 100 : el * 100 / d));
        }
        printf("\r\033[K%s%s", bar, line);
    } else {
        printf("%s%s\n", ui.tty ? "\r\033[K" : "", line);
    }
    fflush(stdout);
}

static void fmt_params(const fault_event *ev, char *buf, size_t len)
{
    size_t j = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < ev->nparams && j < len; i++) {
        const fault_param *p = &ev->params[i];
        char masked[1024];
        if (p->str)
            j += (size_t)snprintf(buf + j, len - j, " %s=%s", p->key,
                                  fault__param_shown(p, masked, sizeof masked));
        else
            j += (size_t)snprintf(buf + j, len - j, " %s=%g", p->key, p->num);
    }
}

static void tail_line(const fault_event *ev)
{
    char ts[32];
    time_t t = (time_t)(ev->wall_us / 1000000u);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%H:%M:%S", &tm);
    char extra[512], url[2048];
    if (ev->url)
        fault_secret_url(ev->url, url, sizeof url);
    switch (ev->type) {
    case FAULT_EV_CONN_OPEN:
        printf("%s.%03u #%" PRIu64 " open %s -> %s\n", ts, (unsigned)(ev->wall_us / 1000 % 1000),
               ev->conn_id, ev->peer ? ev->peer : "?", ev->target ? ev->target : "?");
        break;
    case FAULT_EV_CONN_CLOSE:
        printf("%s.%03u #%" PRIu64 " close sent=%" PRIu64 " received=%" PRIu64 "%s%s\n", ts,
               (unsigned)(ev->wall_us / 1000 % 1000), ev->conn_id, ev->bytes_egress,
               ev->bytes_ingress, ev->error ? " error=" : "", ev->error ? ev->message : "");
        break;
    case FAULT_EV_FAULT_APPLIED:
        fmt_params(ev, extra, sizeof extra);
        printf("%s.%03u #%" PRIu64 " %s side=%s direction=%s%s\n", ts,
               (unsigned)(ev->wall_us / 1000 % 1000), ev->conn_id, ev->fault,
               fault_side_name(ev->side), fault_direction_name(ev->direction), extra);
        break;
    case FAULT_EV_FAULT_STATE:
        printf("%s.%03u %s %s\n", ts, (unsigned)(ev->wall_us / 1000 % 1000), ev->fault,
               ev->active ? "on" : "off");
        break;
    case FAULT_EV_HTTP_REQUEST:
        printf("%s.%03u #%" PRIu64 " %s %s\n", ts, (unsigned)(ev->wall_us / 1000 % 1000),
               ev->conn_id, ev->method ? ev->method : "?", ev->url ? url : "?");
        break;
    case FAULT_EV_HTTP_RESPONSE:
        printf("%s.%03u #%" PRIu64 " %d %s\n", ts, (unsigned)(ev->wall_us / 1000 % 1000),
               ev->conn_id, ev->status, ev->url ? url : "?");
        break;
    case FAULT_EV_ERROR:
        printf("%s.%03u error %s\n", ts, (unsigned)(ev->wall_us / 1000 % 1000),
               ev->message ? ev->message : fault_strerror(ev->error));
        break;
    default:
        return;
    }
    fflush(stdout);
}

static void on_event(const fault_event *ev, void *ud)
{
    (void)ud;
    if (ev->type == FAULT_EV_LISTENING) {
        ui.listened = true;
        const char *twin = fault__listen_twin(ev->peer);
        printf("%sfault: listening on %s%s%s -> %s (%s)\n", ui.tty ? "\r\033[K" : "",
               ev->peer ? ev->peer : "?", twin ? " and " : "", twin ? twin : "",
               ev->target ? ev->target : "?", ev->source);
        fflush(stdout);
        return;
    }
    switch (ev->type) {
    case FAULT_EV_CONN_OPEN:
        ui.open++;
        ui.total++;
        break;
    case FAULT_EV_CONN_CLOSE:
        if (ui.open)
            ui.open--;
        ui.egress += ev->bytes_egress;
        ui.ingress += ev->bytes_ingress;
        break;
    case FAULT_EV_FAULT_APPLIED:
        count_fault(ev->fault ? ev->fault : "?");
        break;
    default:
        break;
    }
    ui.dirty = true;
    if (ui.mode == FAULT__UI_TAIL)
        tail_line(ev);
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
    if (ui.tty || ui.dirty)
        draw(false);
    ui.dirty = false;
}

void fault__ui_start(fault__ui_mode mode)
{
    memset(&ui, 0, sizeof ui);
    ui.mode = mode;
    if (mode == FAULT__UI_NONE)
        return;
    ui.tty = isatty(STDOUT_FILENO);
    uint32_t mask = FAULT_EVMASK(FAULT_EV_LISTENING) | FAULT_EVMASK(FAULT_EV_CONN_OPEN) |
                    FAULT_EVMASK(FAULT_EV_CONN_CLOSE) | FAULT_EVMASK(FAULT_EV_FAULT_APPLIED);
    if (mode == FAULT__UI_TAIL)
        mask |= FAULT_EVMASK(FAULT_EV_FAULT_STATE) | FAULT_EVMASK(FAULT_EV_HTTP_REQUEST) |
                FAULT_EVMASK(FAULT_EV_HTTP_RESPONSE) | FAULT_EVMASK(FAULT_EV_ERROR);
    ui.sub = fault_event_subscribe(NULL, mask, on_event, NULL);
    if (mode == FAULT__UI_SUMMARY) {
        uv_timer_init(fault__g.loop, &ui.timer);
        uv_timer_start(&ui.timer, on_tick, ui.tty ? 250 : 1000, ui.tty ? 250 : 1000);
    }
    ui.running = true;
}

void fault__ui_stop(void)
{
    if (!ui.running)
        return;
    ui.running = false;
    if (ui.mode == FAULT__UI_SUMMARY) {
        uv_close((uv_handle_t *)&ui.timer, NULL);
        /* A run that never listened (it failed to start) prints no summary. */
        if (ui.listened)
            draw(true);
    }
    /* Tail mode keeps its subscription so the closes of the last
     * connections still show; the subscription ends with the run. */
}
