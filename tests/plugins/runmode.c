/*
 * tests/plugins/runmode.c - a plugin giving `fault run` a mode of its own
 * (ABI 1.3): `fault run relay-to HOST:PORT [--relay-to-port P]` relays
 * port P to HOST:PORT by adding a mapping from select(). Used by
 * tests/plugins/runmode.sh.
 */
#include <stdio.h>

#include <fault/plugin.h>

typedef struct mode_state {
    int64_t port;
    const char *tag;
} mode_state;

static const fault_option options[] = {{.name = "relay-to-port",
                                        .env = "FAULT_RELAY_TO_PORT",
                                        .type = FAULT_OPT_INT,
                                        .def = "45599",
                                        .metavar = "PORT",
                                        .help = "Port to listen on",
                                        .offset = offsetof(mode_state, port),
                                        .min = 1,
                                        .max = 65535},
                                       {.name = "relay-to-tag",
                                        .type = FAULT_OPT_STRING,
                                        .metavar = "TEXT",
                                        .help = "Printed when the mode is chosen",
                                        .offset = offsetof(mode_state, tag)},
                                       FAULT_OPTION_END};

static int select_mode(fault_plugin *self, void *state, int argc, char **argv)
{
    mode_state *st = state;
    if (argc != 1) {
        fault_plugin_error(self, "expected one HOST:PORT after 'relay-to' (got %d words)", argc);
        return FAULT_EINVAL;
    }
    char text[300], err[200];
    snprintf(text, sizeof text, "127.0.0.1:%d=%s", (int)st->port, argv[0]);
    int rc = fault_run_add_mapping(self, text, err, sizeof err);
    if (rc < 0) {
        fault_plugin_error(self, "'%s': %s", argv[0], err);
        return rc;
    }
    if (st->tag)
        fprintf(stderr, "relay-to: %s\n", st->tag);
    return 0;
}

static int configure(fault_plugin *self, void *state)
{
    (void)state;
    /* Mappings belong to select(): here it is too late. */
    char err[100];
    if (fault_run_add_mapping(self, "1=127.0.0.1:1", err, sizeof err) != FAULT_EPERM)
        return FAULT_EINVAL;
    return 0;
}

static const fault_run_mode_ops mode_ops = {
    .word = "relay-to",
    .summary = "Relay a local port to HOST:PORT (test mode)",
    .usage = "relay-to HOST:PORT",
    .select = select_mode,
};

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "runmode", .version = "0",
                    .summary = "Test plugin: a mode of fault run", .license = "Apache-2.0",
                    .options = options, .state_size = sizeof(mode_state), .configure = configure,
                    .run_mode = &mode_ops);
