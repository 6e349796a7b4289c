/*
 * plugins/llm/llm-mode.c - `fault run llm PROVIDER`: the original tool's
 * command line for LLM faults, as a mode of `fault run` (SDK 1.3 run
 * modes) over the llm fault plugin and the HTTP plugin's reverse proxy.
 *
 *   fault run llm openai --case inject-bias --bias-pattern Paris ...
 *
 * listens on 127.0.0.1:45580 (--llm-port) as a reverse proxy in front of
 * the provider's base URL (--endpoint overrides it; a client only swaps
 * its base URL's scheme, host and port), and turns the llm plugin on with
 * the provider, the case and the probability. The llm plugin's own options
 * (--slow-stream-mean-delay, --scramble-pattern, --instruction, ...) and
 * run's (--seed, --duration, --tail, --no-ui, --events) apply as given.
 * The forward proxy on 127.0.0.1:3180 is not started.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <fault/plugin.h>

typedef struct mode_state {
    const char *endpoint; /* --endpoint */
    const char *kase;     /* --case */
    double probability;   /* --probability */
    int64_t port;         /* --llm-port */
} mode_state;

#define OFF(f) offsetof(mode_state, f)

static const fault_option options[] = {
    {.name = "endpoint",
     .env = "FAULT_LLM_ENDPOINT",
     .type = FAULT_OPT_STRING,
     .metavar = "URL",
     .help = "The provider's base URL, scheme://host[:port] (default: the "
             "provider's own)",
     .offset = OFF(endpoint)},
    {.name = "case",
     .env = "FAULT_LLM_CASE",
     .type = FAULT_OPT_STRING,
     .metavar = "CASE",
     .help = "slow-stream, prompt-scramble, token-drop, inject-bias, truncate-response, "
             "http-error, stream-stall or corrupt-stream (default slow-stream)",
     .offset = OFF(kase)},
    {.name = "probability",
     .env = "FAULT_LLM_PROBABILITY",
     .type = FAULT_OPT_PROBABILITY,
     .def = "1",
     .metavar = "P",
     .help = "Probability that a request is faulted (0 to 1)",
     .offset = OFF(probability)},
    {.name = "llm-port",
     .env = "FAULT_LLM_PORT",
     .type = FAULT_OPT_INT,
     .def = "45580",
     .metavar = "PORT",
     .help = "Port of the proxy on 127.0.0.1",
     .offset = OFF(port),
     .min = 1,
     .max = 65535},
    FAULT_OPTION_END};

/* Each provider's usual base URL. */
static const struct {
    const char *word, *provider, *endpoint;
} providers[] = {
    {"openai", "openai", "https://api.openai.com"},
    {"open-router", "open-router", "https://openrouter.ai"},
    {"openrouter", "open-router", "https://openrouter.ai"},
    {"gemini", "gemini", "https://generativelanguage.googleapis.com"},
    {"ollama", "ollama", "http://127.0.0.1:11434"},
    {"anthropic", "anthropic", "https://api.anthropic.com"},
};

/* Sets another plugin's option; the host prints what was wrong. */
static int set(fault_plugin *self, const char *name, const char *value)
{
    char err[200];
    int rc = fault_run_set_option(self, name, value, err, sizeof err);
    if (rc < 0 && rc != FAULT_ESYNTAX)
        fault_plugin_error(self, "%s (is the llm plugin installed?)", err);
    return rc;
}

static int select_mode(fault_plugin *self, void *state, int argc, char **argv)
{
    mode_state *st = state;
    if (argc != 1) {
        fault_plugin_error(self,
                           "%s: give one provider: openai, open-router, gemini, ollama or "
                           "anthropic",
                           argc ? "too many words" : "no provider");
        return FAULT_EINVAL;
    }
    size_t k = 0, n = sizeof providers / sizeof providers[0];
    while (k < n && strcmp(providers[k].word, argv[0]) != 0)
        k++;
    if (k == n) {
        fault_plugin_error(self,
                           "unknown provider '%s' (openai, open-router, gemini, ollama or "
                           "anthropic)",
                           argv[0]);
        return FAULT_EINVAL;
    }
    const char *endpoint = st->endpoint ? st->endpoint : providers[k].endpoint;
    /* The proxy keeps the client's path: the endpoint names a server. */
    char url[512];
    snprintf(url, sizeof url, "%s", endpoint);
    size_t len = strlen(url);
    if (len && url[len - 1] == '/')
        url[--len] = '\0';
    const char *hostpart = strstr(url, "://");
    if (!hostpart || !*(hostpart + 3) || strchr(hostpart + 3, '/')) {
        fault_plugin_error(self,
                           "--endpoint: '%s': give scheme://host[:port] (the client's "
                           "path is kept as it is)",
                           endpoint);
        return FAULT_EINVAL;
    }
    char mapping[600], err[256];
    snprintf(mapping, sizeof mapping, "127.0.0.1:%d=%s", (int)st->port, url);
    int rc = fault_run_add_mapping(self, mapping, err, sizeof err);
    if (rc < 0) {
        fault_plugin_error(self, "--endpoint: '%s': %s", endpoint, err);
        return rc;
    }
    char p[32];
    snprintf(p, sizeof p, "%.17g", st->probability);
    if ((rc = set(self, "with-llm", "true")) < 0 ||
        (rc = set(self, "llm-provider", providers[k].provider)) < 0 ||
        (rc = set(self, "llm-probability", p)) < 0 ||
        (st->kase && (rc = set(self, "llm-case", st->kase)) < 0) ||
        (rc = set(self, "disable-http-proxy", "true")) < 0)
        return rc;
    return 0;
}

static const fault_run_mode_ops mode_ops = {
    .word = "llm",
    .summary = "LLM faults: a reverse proxy in front of an LLM provider",
    .usage = "llm PROVIDER",
    .select = select_mode,
};

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "llm-mode", .version = PACKAGE_VERSION,
                    .summary = "fault run llm PROVIDER (over the llm and http plugins)",
                    .license = "Apache-2.0", .options = options, .state_size = sizeof(mode_state),
                    .run_mode = &mode_ops);
