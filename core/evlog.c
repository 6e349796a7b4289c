/*
 * core/evlog.c - `fault run --events FILE`: every event of the bus as one
 * JSON object per line, for programs that drive fault (the scenario
 * runner, CI scripts) rather than people. "-" is standard output.
 *
 * Lines are written whole and flushed at once, so a reader following the
 * file never sees half an event.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static FILE *out;
static int sub;

static void put_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void field_str(FILE *f, const char *key, const char *v)
{
    if (!v)
        return;
    fprintf(f, ",\"%s\":", key);
    put_str(f, v);
}

static void on_event(const fault_event *ev, void *ud)
{
    (void)ud;
    FILE *f = out;
    fprintf(f, "{\"type\":\"%s\",\"time_us\":%" PRIu64 ",\"elapsed_us\":%" PRIu64,
            fault_event_type_name((fault_event_type)ev->type), ev->wall_us,
            fault__g.start_us && ev->time_us > fault__g.start_us ? ev->time_us - fault__g.start_us
                                                                 : 0);
    field_str(f, "source", ev->source);
    if (ev->conn_id)
        fprintf(f, ",\"conn\":%" PRIu64, ev->conn_id);
    field_str(f, "peer", ev->peer);
    field_str(f, "target", ev->target);
    if (ev->side)
        field_str(f, "side", fault_side_name(ev->side));
    if (ev->direction)
        field_str(f, "direction", fault_direction_name(ev->direction));
    if (ev->type == FAULT_EV_BYTES)
        fprintf(f, ",\"bytes\":%" PRIu64, ev->bytes);
    if (ev->type == FAULT_EV_CONN_CLOSE)
        fprintf(f, ",\"bytes_egress\":%" PRIu64 ",\"bytes_ingress\":%" PRIu64, ev->bytes_egress,
                ev->bytes_ingress);
    field_str(f, "fault", ev->fault);
    if (ev->type == FAULT_EV_FAULT_STATE)
        fprintf(f, ",\"active\":%s", ev->active ? "true" : "false");
    if (ev->nparams) {
        fprintf(f, ",\"params\":{");
        for (size_t i = 0; i < ev->nparams; i++) {
            const fault_param *p = &ev->params[i];
            fprintf(f, "%s", i ? "," : "");
            put_str(f, p->key ? p->key : "?");
            fputc(':', f);
            if (p->str) {
                char masked[4096];
                put_str(f, fault__param_shown(p, masked, sizeof masked));
            } else
                fprintf(f, "%.17g", p->num);
        }
        fputc('}', f);
    }
    field_str(f, "method", ev->method);
    if (ev->url) {
        char masked[4096];
        field_str(f, "url", fault_secret_url(ev->url, masked, sizeof masked));
    }
    if (ev->status)
        fprintf(f, ",\"status\":%d", ev->status);
    if (ev->error) {
        fprintf(f, ",\"error\":%d", ev->error);
        field_str(f, "message", ev->message ? ev->message : fault_strerror(ev->error));
    }
    fputs("}\n", f);
    fflush(f);
}

int fault__evlog_open(const char *path, char *err, size_t errlen)
{
    if (!path)
        return 0;
    if (strcmp(path, "-") == 0) {
        out = stdout;
    } else {
        out = fault__open_output(path, false);
        if (!out) {
            snprintf(err, errlen, "--events: cannot open '%s': %s", path,
                     errno == ELOOP ? "a symbolic link to a file (not followed)" : strerror(errno));
            return -errno;
        }
    }
    /* Every type but the per-chunk byte counts, which would swamp readers. */
    sub = fault_event_subscribe(NULL, FAULT_EVMASK_ALL & ~FAULT_EVMASK(FAULT_EV_BYTES), on_event,
                                NULL);
    return sub < 0 ? sub : 0;
}

void fault__evlog_close(void)
{
    if (!out)
        return;
    fault_event_unsubscribe(sub);
    if (out != stdout)
        fclose(out);
    out = NULL;
}
