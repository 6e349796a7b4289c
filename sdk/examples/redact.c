/*
 * redact.c - an example HTTP fault plugin, built outside the fault tree
 * (plugin ABI 1.2).
 *
 * Before a request goes upstream, every "secret" in its body becomes
 * "XXXXXX", and the upstream is told so in an X-Redacted header. It shows
 * the two halves of whole-body access: asking for bodies once
 * (fault_http_want_body(), here up to --redact-max-body bytes), then
 * reading and replacing the body in on_request (fault_http_body(),
 * fault_http_set_body()). Bodies larger than that stream to the upstream
 * untouched: the hook gets none. Build it with only the installed SDK:
 *
 *     cc -shared -fPIC -o redact.so redact.c $(pkg-config --cflags --libs fault-plugin)
 *
 * and load it with `fault --plugin-dir DIR run --with-redact ...`: it acts
 * on the HTTP proxy's traffic (forward proxy, http:// mappings, HTTP/2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fault/plugin.h>

typedef struct redact_state {
    bool enabled;     /* --with-redact */
    int64_t max_body; /* --redact-max-body */
} redact_state;

static const fault_option options[] = {{.name = "with-redact",
                                        .env = "FAULT_WITH_REDACT",
                                        .type = FAULT_OPT_BOOL,
                                        .help = "Redact \"secret\" in request bodies",
                                        .offset = offsetof(redact_state, enabled),
                                        .flags = FAULT_OPTF_ENABLE},
                                       {.name = "redact-max-body",
                                        .env = "FAULT_REDACT_MAX_BODY",
                                        .type = FAULT_OPT_INT,
                                        .def = "65536",
                                        .metavar = "BYTES",
                                        .help = "Largest request body looked at",
                                        .offset = offsetof(redact_state, max_body)},
                                       FAULT_OPTION_END};

static int configure(fault_plugin *self, void *state)
{
    redact_state *st = state;
    if (st->max_body < 0) {
        fault_plugin_error(self, "--redact-max-body must not be negative");
        return -1;
    }
    /* Whole request bodies of up to max_body bytes, before on_request. */
    return fault_http_want_body(self, FAULT_HTTP_REQUEST, (size_t)st->max_body);
}

static fault_http_action on_request(void *state, fault_http_exchange *x)
{
    (void)state;
    size_t len;
    const uint8_t *body = fault_http_body(x, FAULT_HTTP_REQUEST, &len);
    if (!body || len == 0)
        return FAULT_HTTP_CONTINUE; /* none, or too large to hold */
    char *copy = malloc(len);
    if (!copy)
        return FAULT_HTTP_CONTINUE;
    memcpy(copy, body, len);
    static const char word[] = "secret";
    const size_t wl = sizeof word - 1;
    unsigned n = 0;
    for (size_t i = 0; i + wl <= len; i++) {
        if (memcmp(copy + i, word, wl) == 0) {
            memset(copy + i, 'X', wl);
            i += wl - 1;
            n++;
        }
    }
    if (n) {
        char v[16];
        snprintf(v, sizeof v, "%u", n);
        fault_http_set_body(x, FAULT_HTTP_REQUEST, copy, len);
        fault_http_set_header(x, FAULT_HTTP_REQUEST, "X-Redacted", v);
    }
    free(copy);
    return FAULT_HTTP_CONTINUE;
}

static const fault_http_ops http_ops = {.on_request = on_request};

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "redact", .version = "1.0.0",
                    .summary = "Redacts a word in HTTP request bodies (SDK example)",
                    .license = "Apache-2.0", .options = options, .state_size = sizeof(redact_state),
                    .configure = configure, .http = &http_ops);
