/*
 * upcase.c - an example fault plugin, built outside the fault tree.
 *
 * It turns every lowercase ASCII letter the client sends into uppercase
 * before the upstream sees it: small enough to read in one sitting, and
 * visible on any echo server. Build it with only the installed SDK:
 *
 *     cc -shared -fPIC -o upcase.so upcase.c $(pkg-config --cflags --libs fault-plugin)
 *
 * and load it with `fault --plugin-dir DIR run --with-upcase ...`, or copy
 * it into $(pkg-config --variable=plugindir fault-plugin).
 */
#include <fault/plugin.h>

/* The plugin's state block: the host allocates it, zeroed, and writes the
 * option values into it at the offsets named in the table below. */
typedef struct upcase_state {
    bool enabled;          /* --with-upcase */
    fault_schedule *sched; /* --upcase-sched */
} upcase_state;

static const fault_option options[] = {{.name = "with-upcase",
                                        .env = "FAULT_WITH_UPCASE",
                                        .type = FAULT_OPT_BOOL,
                                        .help = "Uppercase what clients send",
                                        .offset = offsetof(upcase_state, enabled),
                                        .flags = FAULT_OPTF_ENABLE},
                                       {.name = "upcase-sched",
                                        .env = "FAULT_UPCASE_SCHED",
                                        .type = FAULT_OPT_SCHEDULE,
                                        .help = "When the fault is on",
                                        .offset = offsetof(upcase_state, sched)},
                                       FAULT_OPTION_END};

/* Ask for one hook point: bytes from the client, on the client leg. */
static int attach(void *state, fault_stream *s, void **conn_state, uint32_t *points)
{
    (void)state;
    (void)s;
    (void)conn_state;
    *points = FAULT_POINT_CLIENT_EGRESS;
    return 0;
}

static fault_action on_data(void *state, void *conn_state, fault_stream *s, fault_side side,
                            fault_direction dir, fault_chunk *c, fault_verdict *v)
{
    upcase_state *st = state;
    size_t changed = 0;
    (void)conn_state;
    (void)v; /* zeroed by the host: pass the whole chunk now */
    for (size_t i = 0; i < c->len; i++) {
        if (c->data[i] >= 'a' && c->data[i] <= 'z') {
            c->data[i] = (uint8_t)(c->data[i] - 'a' + 'A');
            changed++;
        }
    }
    if (changed) {
        fault_param p = {"bytes_changed", NULL, (double)changed};
        /* A hook gets only the state: fault_plugin_self() finds the
         * instance it belongs to (ABI 1.3). */
        fault_event_fault_applied(fault_plugin_self(st), fault_stream_id(s), side, dir, &p, 1);
    }
    return FAULT_PASS;
}

static const fault_stream_ops stream_ops = {.attach = attach, .on_data = on_data};

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "upcase", .version = "1.0.0",
                    .summary = "Example: uppercase client bytes", .license = "Apache-2.0",
                    .options = options, .state_size = sizeof(upcase_state), .stream = &stream_ops);
