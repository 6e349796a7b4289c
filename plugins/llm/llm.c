/*
 * plugins/llm/llm.c - LLM faults on HTTP traffic (`--with-llm`).
 *
 * Requests that are LLM calls (provider.c recognises them by path: OpenAI
 * chat completions and Responses, Anthropic messages, Gemini
 * generateContent, Ollama /api/chat and /api/generate) roll once, with
 * --llm-probability, from this plugin's generator (so --seed repeats a
 * run); everything else passes untouched and unwatched. A hit applies the
 * --llm-case:
 *
 *   http-error        answered at once in the provider's error shape
 *                     (provider.c), the upstream never called;
 *   prompt-scramble   the whole request body (fault_http_want_body) has its
 *                     prompt text rewritten (--scramble-pattern/-with) and
 *                     --instruction inserted as a system instruction
 *                     (--instruction given with a response case is
 *                     inserted too, e.g. to bias the model as well as its
 *                     text);
 *   slow-stream       each response frame held for a draw from a
 *                     distribution of mean --slow-stream-mean-delay after
 *                     the previous one, the first also for
 *                     --slow-stream-first-token-delay;
 *   token-drop        words removed from the generated text of each frame
 *                     (--token-drop-rate), frames kept valid;
 *   inject-bias       --bias-pattern replaced by --bias-replacement in the
 *                     generated text, matches spanning frames included;
 *   truncate-response the stream ends after --truncate-after frames, with
 *                     a finish reason and terminator (--truncate-mode
 *                     clean), without (abrupt) or with the provider's
 *                     mid-stream error frame (error); a whole body keeps
 *                     that many words and says it hit a length limit;
 *   stream-stall      after --stall-after frames the stream is quiet for
 *                     --stall-duration, silent or with the provider's SSE
 *                     keep-alives every --stall-keepalive-interval, then
 *                     goes on;
 *   corrupt-stream    frame --corrupt-after is sent twice (duplicate) or
 *                     with its JSON cut halfway (malformed).
 *
 * Response cases watch the response body (fault_http_watch_body) and cut
 * it into frames (frames.c) in bounded memory: a frame is handed on as soon
 * as its last byte arrived (changed or not), an unfinished one waits for
 * the rest, one larger than --llm-max-frame passes unparsed. Each applied
 * fault is published as an event naming the case and the request URL.
 * This file holds the options, the hooks and the request side; body.c the
 * response bodies.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "llm.h"

const char *const llm_case_names[] = {"slow-stream",  "prompt-scramble",   "token-drop",
                                      "inject-bias",  "truncate-response", "http-error",
                                      "stream-stall", "corrupt-stream",    NULL};
static const char *const provider_choices[] = {
    "auto", "openai", "open-router|openrouter", "anthropic", "gemini", "ollama", NULL};
static const char *const error_choices[] = {"rate-limit", "quota", "overloaded", "server-error",
                                            NULL};
static const char *const dist_choices[] = {"normal", "uniform", "pareto", "fixed", NULL};
const char *const llm_trunc_names[] = {"clean", "abrupt", "error", NULL};
const char *const llm_corrupt_names[] = {"duplicate", "malformed", NULL};

#define OFF(f) offsetof(llm_state, f)

static const fault_option options[] = {
    {.name = "with-llm",
     .env = "FAULT_WITH_LLM",
     .type = FAULT_OPT_BOOL,
     .help =
         "Enable LLM faults on HTTP traffic to LLM providers (OpenAI, Anthropic, Gemini, Ollama)",
     .offset = OFF(enabled),
     .flags = FAULT_OPTF_ENABLE},
    {.name = "llm-case",
     .env = "FAULT_LLM_CASE",
     .type = FAULT_OPT_ENUM,
     .def = "slow-stream",
     .choices = llm_case_names,
     .metavar = "CASE",
     .help = "The LLM fault to apply",
     .offset = OFF(case_)},
    {.name = "llm-provider",
     .env = "FAULT_LLM_PROVIDER",
     .type = FAULT_OPT_ENUM,
     .def = "auto",
     .choices = provider_choices,
     .metavar = "PROVIDER",
     .help = "Provider whose error shapes OpenAI-compatible paths get (auto: from the path)",
     .offset = OFF(provider)},
    {.name = "llm-probability",
     .env = "FAULT_LLM_PROBABILITY",
     .type = FAULT_OPT_PROBABILITY,
     .def = "1.0",
     .metavar = "P",
     .help = "Chance that an LLM request gets the fault, rolled per request",
     .offset = OFF(probability)},
    {.name = "slow-stream-mean-delay",
     .env = "FAULT_LLM_SLOW_STREAM_MEAN_DELAY",
     .type = FAULT_OPT_DOUBLE,
     .def = "300",
     .metavar = "MS",
     .min = 0,
     .max = 3600000,
     .help = "slow-stream: mean delay before each frame, in milliseconds",
     .offset = OFF(slow_mean_ms)},
    {.name = "slow-stream-first-token-delay",
     .env = "FAULT_LLM_SLOW_STREAM_FIRST_TOKEN_DELAY",
     .type = FAULT_OPT_DOUBLE,
     .def = "0",
     .metavar = "MS",
     .min = 0,
     .max = 3600000,
     .help =
         "slow-stream: extra delay before the first frame (time to first token), in milliseconds",
     .offset = OFF(slow_first_ms)},
    {.name = "slow-stream-distribution",
     .env = "FAULT_LLM_SLOW_STREAM_DISTRIBUTION",
     .type = FAULT_OPT_ENUM,
     .def = "normal",
     .choices = dist_choices,
     .metavar = "DIST",
     .help = "slow-stream: distribution of the per-frame delay (normal: stddev mean/4; uniform: "
             "0..2*mean; pareto: shape 3; fixed)",
     .offset = OFF(slow_dist)},
    {.name = "scramble-pattern",
     .env = "FAULT_LLM_SCRAMBLE_PATTERN",
     .type = FAULT_OPT_STRING,
     .metavar = "REGEX",
     .help = "prompt-scramble: pattern (PCRE2) to replace in the prompt",
     .offset = OFF(scramble_pattern)},
    {.name = "scramble-with",
     .env = "FAULT_LLM_SCRAMBLE_WITH",
     .type = FAULT_OPT_STRING,
     .metavar = "TEXT",
     .help = "prompt-scramble: replacement ($1 for groups)",
     .offset = OFF(scramble_with)},
    {.name = "instruction",
     .env = "FAULT_LLM_INSTRUCTION",
     .type = FAULT_OPT_STRING,
     .metavar = "TEXT",
     .help = "prompt-scramble: system instruction added to the request",
     .offset = OFF(instruction)},
    {.name = "bias-pattern",
     .env = "FAULT_LLM_BIAS_PATTERN",
     .type = FAULT_OPT_STRING,
     .metavar = "REGEX",
     .help = "inject-bias: pattern (PCRE2) to replace in the response text",
     .offset = OFF(bias_pattern)},
    {.name = "bias-replacement",
     .env = "FAULT_LLM_BIAS_REPLACEMENT",
     .type = FAULT_OPT_STRING,
     .metavar = "TEXT",
     .help = "inject-bias: replacement ($1 for groups)",
     .offset = OFF(bias_replacement)},
    {.name = "token-drop-rate",
     .env = "FAULT_LLM_TOKEN_DROP_RATE",
     .type = FAULT_OPT_PROBABILITY,
     .def = "0.3",
     .metavar = "P",
     .help = "token-drop: chance that each word of the response text is dropped",
     .offset = OFF(token_drop_rate)},
    {.name = "truncate-after",
     .env = "FAULT_LLM_TRUNCATE_AFTER",
     .type = FAULT_OPT_INT,
     .def = "5",
     .metavar = "N",
     .min = 0,
     .max = 1e9,
     .help = "truncate-response: frames of a stream (words of a whole response) kept",
     .offset = OFF(truncate_after)},
    {.name = "truncate-mode",
     .env = "FAULT_LLM_TRUNCATE_MODE",
     .type = FAULT_OPT_ENUM,
     .def = "clean",
     .choices = llm_trunc_names,
     .metavar = "MODE",
     .help = "truncate-response: end with a finish reason and terminator (clean), without "
             "(abrupt), or with the provider's mid-stream error (error)",
     .offset = OFF(truncate_mode)},
    {.name = "stall-after",
     .env = "FAULT_LLM_STALL_AFTER",
     .type = FAULT_OPT_INT,
     .def = "5",
     .metavar = "N",
     .min = 1,
     .max = 1e9,
     .help = "stream-stall: frames of a stream passed before it stalls",
     .offset = OFF(stall_after)},
    {.name = "stall-duration",
     .env = "FAULT_LLM_STALL_DURATION",
     .type = FAULT_OPT_DOUBLE,
     .def = "30000",
     .metavar = "MS",
     .min = 0,
     .max = 86400000,
     .help = "stream-stall: how long the stream is quiet before it goes on, in milliseconds",
     .offset = OFF(stall_ms)},
    {.name = "stall-keepalive-interval",
     .env = "FAULT_LLM_STALL_KEEPALIVE_INTERVAL",
     .type = FAULT_OPT_DOUBLE,
     .def = "0",
     .metavar = "MS",
     .min = 0,
     .max = 86400000,
     .help = "stream-stall: send the provider's SSE keep-alive (comment, Anthropic ping) this "
             "often during the stall (0: a silent stall)",
     .offset = OFF(keepalive_ms)},
    {.name = "corrupt-after",
     .env = "FAULT_LLM_CORRUPT_AFTER",
     .type = FAULT_OPT_INT,
     .def = "5",
     .metavar = "N",
     .min = 1,
     .max = 1e9,
     .help = "corrupt-stream: the frame of a stream that is corrupted (1: the first)",
     .offset = OFF(corrupt_after)},
    {.name = "corrupt-mode",
     .env = "FAULT_LLM_CORRUPT_MODE",
     .type = FAULT_OPT_ENUM,
     .def = "malformed",
     .choices = llm_corrupt_names,
     .metavar = "MODE",
     .help = "corrupt-stream: send the frame twice (duplicate) or with its JSON cut halfway "
             "(malformed)",
     .offset = OFF(corrupt_mode)},
    {.name = "llm-error",
     .env = "FAULT_LLM_ERROR",
     .type = FAULT_OPT_ENUM,
     .def = "rate-limit",
     .choices = error_choices,
     .metavar = "KIND",
     .help = "http-error: rate-limit (429, retryable), quota (not retryable), overloaded "
             "(529/503), server-error (500)",
     .offset = OFF(error_kind)},
    {.name = "llm-error-status",
     .env = "FAULT_LLM_ERROR_STATUS",
     .type = FAULT_OPT_INT,
     .def = "0",
     .metavar = "CODE",
     .min = 0,
     .max = 599,
     .help = "http-error: status instead of the kind's own (0: the kind's)",
     .offset = OFF(error_status)},
    {.name = "llm-retry-after",
     .env = "FAULT_LLM_RETRY_AFTER",
     .type = FAULT_OPT_DOUBLE,
     .def = "1000",
     .metavar = "MS",
     .min = 0,
     .max = 86400000,
     .help = "http-error: delay the rate-limit answer asks clients to wait (retry-after, "
             "retry-after-ms)",
     .offset = OFF(retry_after_ms)},
    {.name = "llm-max-frame",
     .env = "FAULT_LLM_MAX_FRAME",
     .type = FAULT_OPT_INT,
     .def = "262144",
     .metavar = "BYTES",
     .min = 64,
     .max = 1e9,
     .help = "Largest stream frame parsed; larger ones pass unchanged",
     .offset = OFF(max_frame)},
    {.name = "llm-max-body",
     .env = "FAULT_LLM_MAX_BODY",
     .type = FAULT_OPT_INT,
     .def = "4194304",
     .metavar = "BYTES",
     .min = 64,
     .max = 1e9,
     .help = "Largest whole (non-streamed) request or response body changed; larger ones pass "
             "unchanged",
     .offset = OFF(max_body)},
    {.name = "llm-sched",
     .env = "FAULT_LLM_SCHED",
     .type = FAULT_OPT_SCHEDULE,
     .help = "When the LLM fault is on, e.g. \"start:10s,duration:30s\"",
     .offset = OFF(sched)},
    FAULT_OPTION_END};

/* ---- exchanges ---- */

static size_t lx_hash(const fault_http_exchange *x)
{
    return ((uintptr_t)x >> 4) % LX_BUCKETS;
}

static lx *lx_find(llm_state *st, const fault_http_exchange *x)
{
    for (lx *e = st->bucket[lx_hash(x)]; e; e = e->next)
        if (e->x == x)
            return e;
    return NULL;
}

static lx *lx_new(llm_state *st, fault_http_exchange *x, llm_api api)
{
    lx *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->x = x;
    e->st = st;
    e->api = api;
    size_t h = lx_hash(x);
    e->next = st->bucket[h];
    st->bucket[h] = e;
    return e;
}

static void lx_free(llm_state *st, lx *e)
{
    for (lx **pp = &st->bucket[lx_hash(e->x)]; *pp; pp = &(*pp)->next) {
        if (*pp == e) {
            *pp = e->next;
            break;
        }
    }
    llm_frames_free(&e->fr);
    free(e->out);
    free(e->marks);
    free(e->held);
    cJSON_Delete(e->first);
    free(e);
}

/* ---- events ---- */

void llm_applied(llm_state *st, fault_http_exchange *x, fault_direction dir,
                 const fault_param *extra, size_t nextra)
{
    fault_param p[8];
    size_t n = 0;
    p[n++] = (fault_param){"case", llm_case_names[st->case_], 0};
    p[n++] = (fault_param){"url", fault_http_url(x), 0};
    for (size_t i = 0; i < nextra && n < 8; i++)
        p[n++] = extra[i];
    fault_stream *s = fault_http_stream(x);
    fault_event_fault_applied(st->self, s ? fault_stream_id(s) : 0, FAULT_SIDE_SERVER, dir, p, n);
    fault_log_debug(st->self, "%s on %s", llm_case_names[st->case_], fault_http_url(x));
}

static fault_action on_body(void *state, fault_http_exchange *x, fault_direction dir,
                            fault_chunk *c, fault_verdict *v)
{
    lx *e = lx_find(state, x);
    if (!e || !e->watching || dir != FAULT_DIR_INGRESS)
        return FAULT_PASS;
    return llm_body_chunk(e, x, c, v);
}

static fault_action on_body_end(void *state, fault_http_exchange *x, fault_direction dir,
                                fault_chunk *c, fault_verdict *v)
{
    lx *e = lx_find(state, x);
    if (!e || !e->watching || dir != FAULT_DIR_INGRESS)
        return FAULT_PASS;
    return llm_body_end(e, x, c, v);
}

/* ---- hooks ---- */

static fault_http_action http_error(llm_state *st, fault_http_exchange *x, llm_api api)
{
    const char *headers[LLM_ERROR_HEADERS];
    char buf[1024];
    int status;
    llm_provider p = llm_provider_of(api, (llm_provider)st->provider);
    char *body = llm_error_body(p, (llm_error_kind)st->error_kind, (int)st->error_status,
                                st->retry_after_ms, &status, headers, buf, sizeof buf);
    if (!body)
        return FAULT_HTTP_CONTINUE;
    int rc = fault_http_respond(x, status, headers, body, strlen(body));
    free(body);
    if (rc < 0)
        return FAULT_HTTP_CONTINUE;
    fault_param prm[] = {{"status", NULL, status},
                         {"provider", llm_provider_name(p), 0},
                         {"error", error_choices[st->error_kind], 0}};
    llm_applied(st, x, FAULT_DIR_INGRESS, prm, 3);
    return FAULT_HTTP_RESPOND;
}

typedef struct scr_ctx {
    llm_state *st;
    unsigned n;
} scr_ctx;

static void scramble_cb(void *ud, cJSON *item)
{
    scr_ctx *c = ud;
    size_t held;
    unsigned n;
    const char *v = item->valuestring;
    char *out = llm_regex_apply(&c->st->scramble, v, strlen(v), false, &held, &n);
    if (out && n) {
        cJSON_SetValuestring(item, out);
        c->n += n;
    }
    free(out);
}

/* The request's prompt: --scramble-pattern replaced (prompt-scramble
 * only) and --instruction inserted (any case that reaches the upstream). */
static void prompt_scramble(llm_state *st, fault_http_exchange *x, llm_api api)
{
    size_t len;
    const uint8_t *body = fault_http_body(x, FAULT_HTTP_REQUEST, &len);
    if (!body) {
        fault_log_debug(st->self, "%s: request body not held (too large?)", fault_http_url(x));
        return;
    }
    cJSON *root = cJSON_ParseWithLength((const char *)body, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return;
    }
    scr_ctx c = {st, 0};
    if (st->has_scramble && st->case_ == CASE_PROMPT_SCRAMBLE)
        llm_visit_prompt(api, root, scramble_cb, &c);
    bool instructed = st->instruction && st->instruction[0] &&
                      llm_add_instruction(api, root, st->instruction) == 0;
    if (c.n || instructed) {
        char *s = cJSON_PrintUnformatted(root);
        if (s && fault_http_set_body(x, FAULT_HTTP_REQUEST, s, strlen(s)) == 0) {
            fault_param p[] = {{"replacements", NULL, c.n},
                               {"instruction", instructed ? "added" : "none", 0}};
            llm_applied(st, x, FAULT_DIR_EGRESS, p, 2);
        }
        free(s);
    }
    cJSON_Delete(root);
}

static fault_http_action on_request(void *state, fault_http_exchange *x)
{
    llm_state *st = state;
    llm_api api = llm_detect(fault_http_method(x), fault_http_path(x));
    if (api == LLM_API_NONE)
        return FAULT_HTTP_CONTINUE;
    if (!fault_rng_bernoulli(fault_plugin_rng(st->self), st->probability))
        return FAULT_HTTP_CONTINUE;
    switch (st->case_) {
    case CASE_HTTP_ERROR:
        return http_error(st, x, api);
    case CASE_PROMPT_SCRAMBLE:
        prompt_scramble(st, x, api);
        return FAULT_HTTP_CONTINUE;
    default:
        if (st->instruction && st->instruction[0])
            prompt_scramble(st, x, api);
        break;
    }
    if (!lx_new(st, x, api))
        return FAULT_HTTP_CONTINUE;
    /* The response is read as text: no compression. */
    fault_http_set_header(x, FAULT_HTTP_REQUEST, "Accept-Encoding", "identity");
    return FAULT_HTTP_CONTINUE;
}

static bool has_token(const char *v, const char *tok)
{
    return v && strcasestr(v, tok) != NULL;
}

static fault_http_action on_response(void *state, fault_http_exchange *x)
{
    llm_state *st = state;
    lx *e = lx_find(st, x);
    if (!e)
        return FAULT_HTTP_CONTINUE;
    int status = fault_http_status(x);
    const char *ct = fault_http_header(x, FAULT_HTTP_RESPONSE, "content-type");
    const char *ce = fault_http_header(x, FAULT_HTTP_RESPONSE, "content-encoding");
    llm_framing f = 0;
    if (has_token(ct, "text/event-stream"))
        f = LLM_FRAMING_SSE;
    else if (has_token(ct, "ndjson"))
        f = LLM_FRAMING_NDJSON;
    else if (has_token(ct, "json"))
        f = e->api == LLM_API_GEMINI && strstr(fault_http_path(x), ":streamGenerateContent")
                ? LLM_FRAMING_ARRAY /* Gemini's streamed JSON array (no alt=sse) */
                : LLM_FRAMING_JSON;
    if (status < 200 || status > 299 || !f || (ce && strcasecmp(ce, "identity") != 0)) {
        lx_free(st, e);
        return FAULT_HTTP_CONTINUE;
    }
    e->framing = f;
    llm_frames_init(&e->fr, f, (size_t)(f == LLM_FRAMING_JSON ? st->max_body : st->max_frame));
    if (fault_http_watch_body(st->self, x, FAULT_DIR_INGRESS) < 0) {
        lx_free(st, e);
        return FAULT_HTTP_CONTINUE;
    }
    e->watching = true;
    return FAULT_HTTP_CONTINUE;
}

static void on_end(void *state, fault_http_exchange *x)
{
    llm_state *st = state;
    lx *e = lx_find(st, x);
    if (!e)
        return;
    if (st->case_ == CASE_SLOW_STREAM && e->delayed_frames) {
        fault_param p[] = {{"frames", NULL, (double)e->delayed_frames},
                           {"delay_ms", NULL, e->delayed_ms}};
        llm_applied(st, x, FAULT_DIR_INGRESS, p, 2);
    } else if (st->case_ == CASE_TOKEN_DROP && e->dropped) {
        fault_param p[] = {{"dropped", NULL, e->dropped}};
        llm_applied(st, x, FAULT_DIR_INGRESS, p, 1);
    } else if (st->case_ == CASE_INJECT_BIAS && e->replaced) {
        fault_param p[] = {{"replacements", NULL, e->replaced}};
        llm_applied(st, x, FAULT_DIR_INGRESS, p, 1);
    } else if (st->case_ == CASE_TRUNCATE && e->truncated && e->framing == LLM_FRAMING_JSON) {
        fault_param p[] = {{"words", NULL, (double)st->truncate_after}};
        llm_applied(st, x, FAULT_DIR_INGRESS, p, 1);
    }
    lx_free(st, e);
}

/* ---- lifecycle ---- */

static int configure(fault_plugin *self, void *state)
{
    llm_state *st = state;
    char err[200];
    st->self = self;
    if (!st->enabled)
        return 0;
    if (st->error_status && st->error_status < 100) {
        fault_plugin_error(self, "--llm-error-status must be 0 or within 100-599");
        return FAULT_EINVAL;
    }
    if (st->scramble_pattern) {
        if (!st->scramble_with) {
            fault_plugin_error(self, "--scramble-pattern needs --scramble-with");
            return FAULT_EINVAL;
        }
        if (llm_regex_compile(&st->scramble, st->scramble_pattern, st->scramble_with, err,
                              sizeof err) < 0) {
            fault_plugin_error(self, "--scramble-pattern: %s", err);
            return FAULT_EINVAL;
        }
        st->has_scramble = true;
    }
    if (st->case_ == CASE_STALL && st->keepalive_ms > 0 &&
        st->stall_ms / st->keepalive_ms > 100000) {
        fault_plugin_error(self,
                           "--stall-keepalive-interval: at most 100000 keep-alives per stall "
                           "(%.0f ms / %.0f ms)",
                           st->stall_ms, st->keepalive_ms);
        return FAULT_EINVAL;
    }
    if (st->case_ == CASE_INJECT_BIAS) {
        if (!st->bias_pattern || !st->bias_replacement) {
            fault_plugin_error(
                self, "--llm-case inject-bias needs --bias-pattern and --bias-replacement");
            return FAULT_EINVAL;
        }
    }
    if (st->bias_pattern) {
        if (llm_regex_compile(&st->bias, st->bias_pattern,
                              st->bias_replacement ? st->bias_replacement : "", err,
                              sizeof err) < 0) {
            fault_plugin_error(self, "--bias-pattern: %s", err);
            return FAULT_EINVAL;
        }
        st->has_bias = true;
    }
    bool instructed = st->instruction && st->instruction[0];
    if (instructed && st->case_ != CASE_HTTP_ERROR && st->case_ != CASE_PROMPT_SCRAMBLE)
        /* --instruction with a response case: the request gets it too. */
        return fault_http_want_body(self, FAULT_HTTP_REQUEST, (size_t)st->max_body);
    if (st->case_ == CASE_PROMPT_SCRAMBLE) {
        if (!st->has_scramble && !instructed) {
            fault_plugin_error(self, "--llm-case prompt-scramble needs "
                                     "--scramble-pattern/--scramble-with or --instruction");
            return FAULT_EINVAL;
        }
        /* Whole request bodies, only for this case: every request body
         * up to the bound is read before the hooks run. */
        return fault_http_want_body(self, FAULT_HTTP_REQUEST, (size_t)st->max_body);
    }
    return 0;
}

static void destroy(fault_plugin *self, void *state)
{
    (void)self;
    llm_state *st = state;
    for (size_t i = 0; i < LX_BUCKETS; i++)
        while (st->bucket[i])
            lx_free(st, st->bucket[i]);
    if (st->has_scramble)
        llm_regex_free(&st->scramble);
    if (st->has_bias)
        llm_regex_free(&st->bias);
}

static const fault_http_ops http_ops = {
    .on_request = on_request,
    .on_response = on_response,
    .on_body = on_body,
    .on_body_end = on_body_end,
    .on_end = on_end,
};

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "llm", .version = PACKAGE_VERSION,
                    .summary = "LLM faults: provider errors, slow streams, token drops, bias, "
                               "truncation, prompt scrambling",
                    .license = "Apache-2.0", .options = options, .state_size = sizeof(llm_state),
                    .configure = configure, .destroy = destroy, .http = &http_ops);
