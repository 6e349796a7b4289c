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
 *                     --instruction inserted as a system instruction;
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
 *                     that many words and says it hit a length limit.
 *
 * Response cases watch the response body (fault_http_watch_body) and cut
 * it into frames (frames.c) in bounded memory: a frame is handed on as soon
 * as its last byte arrived (changed or not), an unfinished one waits for
 * the rest, one larger than --llm-max-frame passes unparsed. Each applied
 * fault is published as an event naming the case and the request URL.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <fault/plugin.h>

#include "frames.h"
#include "provider.h"
#include "text.h"

enum {
    CASE_SLOW_STREAM = 0,
    CASE_PROMPT_SCRAMBLE,
    CASE_TOKEN_DROP,
    CASE_INJECT_BIAS,
    CASE_TRUNCATE,
    CASE_HTTP_ERROR
};
static const char *const case_choices[] = {"slow-stream", "prompt-scramble", "token-drop",
                                           "inject-bias", "truncate-response", "http-error",
                                           NULL};
static const char *const provider_choices[] = {"auto", "openai", "open-router|openrouter",
                                               "anthropic", "gemini", "ollama", NULL};
static const char *const error_choices[] = {"rate-limit", "quota", "overloaded", "server-error",
                                            NULL};
enum { DIST_NORMAL = 0, DIST_UNIFORM, DIST_PARETO, DIST_FIXED };
static const char *const dist_choices[] = {"normal", "uniform", "pareto", "fixed", NULL};
enum { TRUNC_CLEAN = 0, TRUNC_ABRUPT, TRUNC_ERROR };
static const char *const trunc_choices[] = {"clean", "abrupt", "error", NULL};

#define LX_BUCKETS 64

typedef struct lx lx;

typedef struct llm_state {
    bool enabled;
    int case_;
    int provider;
    double probability;
    double slow_mean_ms, slow_first_ms;
    int slow_dist;
    const char *scramble_pattern, *scramble_with, *instruction;
    const char *bias_pattern, *bias_replacement;
    int error_kind;
    int64_t error_status;
    double retry_after_ms;
    int64_t truncate_after;
    int truncate_mode;
    double token_drop_rate;
    int64_t max_frame, max_body, max_held;
    fault_schedule *sched;
    /* Derived. */
    fault_plugin *self;
    llm_regex scramble, bias;
    bool has_scramble, has_bias;
    lx *bucket[LX_BUCKETS];
} llm_state;

#define OFF(f) offsetof(llm_state, f)

static const fault_option options[] = {
    {.name = "with-llm", .env = "FAULT_WITH_LLM", .type = FAULT_OPT_BOOL,
     .help = "Enable LLM faults on HTTP traffic to LLM providers (OpenAI, Anthropic, Gemini, Ollama)",
     .offset = OFF(enabled), .flags = FAULT_OPTF_ENABLE},
    {.name = "llm-case", .env = "FAULT_LLM_CASE", .type = FAULT_OPT_ENUM, .def = "slow-stream",
     .choices = case_choices, .metavar = "CASE", .help = "The LLM fault to apply",
     .offset = OFF(case_)},
    {.name = "llm-provider", .env = "FAULT_LLM_PROVIDER", .type = FAULT_OPT_ENUM, .def = "auto",
     .choices = provider_choices, .metavar = "PROVIDER",
     .help = "Provider whose error shapes OpenAI-compatible paths get (auto: from the path)",
     .offset = OFF(provider)},
    {.name = "llm-probability", .env = "FAULT_LLM_PROBABILITY", .type = FAULT_OPT_PROBABILITY,
     .def = "1.0", .metavar = "P", .help = "Chance that an LLM request gets the fault, rolled per request",
     .offset = OFF(probability)},
    {.name = "slow-stream-mean-delay", .env = "FAULT_LLM_SLOW_STREAM_MEAN_DELAY",
     .type = FAULT_OPT_DOUBLE, .def = "300", .metavar = "MS", .min = 0, .max = 3600000,
     .help = "slow-stream: mean delay before each frame, in milliseconds",
     .offset = OFF(slow_mean_ms)},
    {.name = "slow-stream-first-token-delay", .env = "FAULT_LLM_SLOW_STREAM_FIRST_TOKEN_DELAY",
     .type = FAULT_OPT_DOUBLE, .def = "0", .metavar = "MS", .min = 0, .max = 3600000,
     .help = "slow-stream: extra delay before the first frame (time to first token), in milliseconds",
     .offset = OFF(slow_first_ms)},
    {.name = "slow-stream-distribution", .env = "FAULT_LLM_SLOW_STREAM_DISTRIBUTION",
     .type = FAULT_OPT_ENUM, .def = "normal", .choices = dist_choices, .metavar = "DIST",
     .help = "slow-stream: distribution of the per-frame delay (normal: stddev mean/4; uniform: 0..2*mean; pareto: shape 3; fixed)",
     .offset = OFF(slow_dist)},
    {.name = "scramble-pattern", .env = "FAULT_LLM_SCRAMBLE_PATTERN", .type = FAULT_OPT_STRING,
     .metavar = "REGEX", .help = "prompt-scramble: pattern (PCRE2) to replace in the prompt",
     .offset = OFF(scramble_pattern)},
    {.name = "scramble-with", .env = "FAULT_LLM_SCRAMBLE_WITH", .type = FAULT_OPT_STRING,
     .metavar = "TEXT", .help = "prompt-scramble: replacement ($1 for groups)",
     .offset = OFF(scramble_with)},
    {.name = "instruction", .env = "FAULT_LLM_INSTRUCTION", .type = FAULT_OPT_STRING,
     .metavar = "TEXT", .help = "prompt-scramble: system instruction added to the request",
     .offset = OFF(instruction)},
    {.name = "bias-pattern", .env = "FAULT_LLM_BIAS_PATTERN", .type = FAULT_OPT_STRING,
     .metavar = "REGEX", .help = "inject-bias: pattern (PCRE2) to replace in the response text",
     .offset = OFF(bias_pattern)},
    {.name = "bias-replacement", .env = "FAULT_LLM_BIAS_REPLACEMENT", .type = FAULT_OPT_STRING,
     .metavar = "TEXT", .help = "inject-bias: replacement ($1 for groups)",
     .offset = OFF(bias_replacement)},
    {.name = "token-drop-rate", .env = "FAULT_LLM_TOKEN_DROP_RATE", .type = FAULT_OPT_PROBABILITY,
     .def = "0.3", .metavar = "P", .help = "token-drop: chance that each word of the response text is dropped",
     .offset = OFF(token_drop_rate)},
    {.name = "truncate-after", .env = "FAULT_LLM_TRUNCATE_AFTER", .type = FAULT_OPT_INT,
     .def = "5", .metavar = "N", .min = 0, .max = 1e9,
     .help = "truncate-response: frames of a stream (words of a whole response) kept",
     .offset = OFF(truncate_after)},
    {.name = "truncate-mode", .env = "FAULT_LLM_TRUNCATE_MODE", .type = FAULT_OPT_ENUM,
     .def = "clean", .choices = trunc_choices, .metavar = "MODE",
     .help = "truncate-response: end with a finish reason and terminator (clean), without (abrupt), or with the provider's mid-stream error (error)",
     .offset = OFF(truncate_mode)},
    {.name = "llm-error", .env = "FAULT_LLM_ERROR", .type = FAULT_OPT_ENUM, .def = "rate-limit",
     .choices = error_choices, .metavar = "KIND",
     .help = "http-error: rate-limit (429, retryable), quota (not retryable), overloaded (529/503), server-error (500)",
     .offset = OFF(error_kind)},
    {.name = "llm-error-status", .env = "FAULT_LLM_ERROR_STATUS", .type = FAULT_OPT_INT,
     .def = "0", .metavar = "CODE", .min = 0, .max = 599,
     .help = "http-error: status instead of the kind's own (0: the kind's)",
     .offset = OFF(error_status)},
    {.name = "llm-retry-after", .env = "FAULT_LLM_RETRY_AFTER", .type = FAULT_OPT_DOUBLE,
     .def = "1000", .metavar = "MS", .min = 0, .max = 86400000,
     .help = "http-error: delay the rate-limit answer asks clients to wait (retry-after, retry-after-ms)",
     .offset = OFF(retry_after_ms)},
    {.name = "llm-max-frame", .env = "FAULT_LLM_MAX_FRAME", .type = FAULT_OPT_INT,
     .def = "262144", .metavar = "BYTES", .min = 64, .max = 1e9,
     .help = "Largest stream frame parsed; larger ones pass unchanged",
     .offset = OFF(max_frame)},
    {.name = "llm-max-body", .env = "FAULT_LLM_MAX_BODY", .type = FAULT_OPT_INT,
     .def = "4194304", .metavar = "BYTES", .min = 64, .max = 1e9,
     .help = "Largest whole (non-streamed) request or response body changed; larger ones pass unchanged",
     .offset = OFF(max_body)},
    {.name = "llm-sched", .env = "FAULT_LLM_SCHED", .type = FAULT_OPT_SCHEDULE,
     .help = "When the LLM fault is on, e.g. \"start:10s,duration:30s\"", .offset = OFF(sched)},
    FAULT_OPTION_END};

/* Text held back by inject-bias (a match the frame boundary may cut) is
 * bounded: past this, it goes out as it is. */
#define HELD_MAX 4096

/* ---- exchanges ---- */

struct lx {
    lx *next;
    fault_http_exchange *x;
    llm_state *st;
    llm_api api;
    llm_framing framing;
    bool watching;
    llm_frames fr;
    /* What the current chunk became, and where its frames end in it. */
    uint8_t *out;
    size_t out_len, out_cap;
    size_t *marks;
    size_t nmarks, marks_cap, mark_i, passed, resid;
    bool oom;
    /* Progress of the stream. */
    uint64_t frames;   /* frames with data */
    bool ended;        /* the provider's own end was seen */
    bool truncated;    /* truncate-response: everything after is dropped */
    cJSON *first;      /* the stream's first JSON frame (ids, model) */
    bool block_open;   /* Anthropic: a content block is open */
    double block_index;
    /* slow-stream */
    uint64_t next_at;
    bool first_done;
    double delayed_ms;
    uint64_t delayed_frames;
    /* inject-bias */
    char *held;
    bool final_frame, item_seen;
    unsigned replaced, dropped;
};

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

static void applied(llm_state *st, fault_http_exchange *x, fault_direction dir,
                    const fault_param *extra, size_t nextra)
{
    fault_param p[8];
    size_t n = 0;
    p[n++] = (fault_param){"case", case_choices[st->case_], 0};
    p[n++] = (fault_param){"url", fault_http_url(x), 0};
    for (size_t i = 0; i < nextra && n < 8; i++)
        p[n++] = extra[i];
    fault_stream *s = fault_http_stream(x);
    fault_event_fault_applied(st->self, s ? fault_stream_id(s) : 0, FAULT_SIDE_SERVER, dir, p, n);
    fault_log_debug(st->self, "%s on %s", case_choices[st->case_], fault_http_url(x));
}

/* ---- output of a chunk ---- */

static void out_add(lx *e, const void *p, size_t n)
{
    if (e->oom || n == 0)
        return;
    if (e->out_len + n > e->out_cap) {
        size_t cap = e->out_cap ? e->out_cap : 1024;
        while (cap < e->out_len + n)
            cap *= 2;
        uint8_t *b = realloc(e->out, cap);
        if (!b) {
            e->oom = true;
            return;
        }
        e->out = b;
        e->out_cap = cap;
    }
    memcpy(e->out + e->out_len, p, n);
    e->out_len += n;
}

/* The end of one frame in the output: slow-stream releases frame by frame. */
static void out_mark(lx *e)
{
    if (e->oom || (e->nmarks && e->marks[e->nmarks - 1] == e->out_len))
        return;
    if (e->nmarks == e->marks_cap) {
        size_t cap = e->marks_cap ? e->marks_cap * 2 : 16;
        size_t *m = realloc(e->marks, cap * sizeof *m);
        if (!m) {
            e->oom = true;
            return;
        }
        e->marks = m;
        e->marks_cap = cap;
    }
    e->marks[e->nmarks++] = e->out_len;
}

/* ---- changing a frame's JSON ---- */

static void drop_cb(void *ud, cJSON *item)
{
    lx *e = ud;
    unsigned n;
    char *t = llm_drop_tokens(item->valuestring, e->st->token_drop_rate,
                              fault_plugin_rng(e->st->self), &n);
    if (t && n) {
        cJSON_SetValuestring(item, t);
        e->dropped += n;
    }
    free(t);
}

static void bias_cb(void *ud, cJSON *item)
{
    lx *e = ud;
    e->item_seen = true;
    const char *v = item->valuestring;
    size_t hl = e->held ? strlen(e->held) : 0, vl = strlen(v);
    char *s = malloc(hl + vl + 1);
    if (!s)
        return;
    memcpy(s, e->held ? e->held : "", hl);
    memcpy(s + hl, v, vl + 1);
    bool partial = e->framing != LLM_FRAMING_JSON && !e->final_frame;
    size_t held;
    unsigned n;
    char *out = llm_regex_apply(&e->st->bias, s, hl + vl, partial, &held, &n);
    free(e->held);
    e->held = NULL;
    if (!out) {
        free(s);
        return;
    }
    if (held < hl + vl) {
        if (hl + vl - held > HELD_MAX) {
            /* Too long to wait for: it goes out unmatched. */
            size_t ol = strlen(out);
            char *o2 = realloc(out, ol + (hl + vl - held) + 1);
            if (o2) {
                memcpy(o2 + ol, s + held, hl + vl - held + 1);
                out = o2;
            }
        } else {
            e->held = strdup(s + held);
        }
    }
    e->replaced += n;
    if (n || hl || held < hl + vl)
        cJSON_SetValuestring(item, out);
    free(out);
    free(s);
}

typedef struct cut_ctx {
    long left;
    bool cut;
} cut_ctx;

static long count_words(const char *p)
{
    long words = 0;
    while (*p) {
        while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
            p++;
        if (!*p)
            break;
        words++;
        while (*p && *p != ' ' && *p != '\n' && *p != '\t' && *p != '\r')
            p++;
    }
    return words;
}

/* Keeps the first c->left words of the text, across its items. */
static void cut_cb(void *ud, cJSON *item)
{
    cut_ctx *c = ud;
    long w = count_words(item->valuestring);
    if (w <= c->left) {
        c->left -= w;
        return;
    }
    bool cut;
    char *t = llm_keep_tokens(item->valuestring, c->left, &cut);
    c->left = 0;
    if (t && cut) {
        c->cut = true;
        cJSON_SetValuestring(item, t);
    }
    free(t);
}

/* A whole response cut to --truncate-after words says it hit a limit. */
static void set_length_finish(llm_api api, cJSON *root)
{
    cJSON *it;
    switch (api) {
    case LLM_API_CHAT:
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "choices"))
        {
            cJSON_DeleteItemFromObjectCaseSensitive(it, "finish_reason");
            cJSON_AddStringToObject(it, "finish_reason", "length");
        }
        break;
    case LLM_API_MESSAGES:
        cJSON_DeleteItemFromObjectCaseSensitive(root, "stop_reason");
        cJSON_AddStringToObject(root, "stop_reason", "max_tokens");
        break;
    case LLM_API_GEMINI:
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "candidates"))
        {
            cJSON_DeleteItemFromObjectCaseSensitive(it, "finishReason");
            cJSON_AddStringToObject(it, "finishReason", "MAX_TOKENS");
        }
        break;
    case LLM_API_OLLAMA_CHAT:
    case LLM_API_OLLAMA_GENERATE:
        cJSON_DeleteItemFromObjectCaseSensitive(root, "done_reason");
        cJSON_AddStringToObject(root, "done_reason", "length");
        break;
    case LLM_API_RESPONSES:
        cJSON_DeleteItemFromObjectCaseSensitive(root, "status");
        cJSON_AddStringToObject(root, "status", "incomplete");
        cJSON_DeleteItemFromObjectCaseSensitive(root, "incomplete_details");
        it = cJSON_AddObjectToObject(root, "incomplete_details");
        if (it)
            cJSON_AddStringToObject(it, "reason", "max_output_tokens");
        break;
    default:
        break;
    }
}

/* Changes one frame's JSON for the case. Returns true when it changed;
 * *extra may get a frame to send before it. */
static bool change_json(lx *e, cJSON *root, char **extra)
{
    llm_state *st = e->st;
    *extra = NULL;
    switch (st->case_) {
    case CASE_TOKEN_DROP: {
        unsigned before = e->dropped;
        llm_visit_output(e->api, root, drop_cb, e);
        return e->dropped != before;
    }
    case CASE_INJECT_BIAS: {
        e->final_frame = e->framing == LLM_FRAMING_JSON || llm_frame_is_final(e->api, root);
        e->item_seen = false;
        unsigned before = e->replaced;
        bool had_held = e->held != NULL;
        llm_visit_output(e->api, root, bias_cb, e);
        bool changed = e->replaced != before || had_held || e->held != NULL;
        if (e->final_frame && e->held) {
            /* The end of the text: what was held back goes out now, in
             * this frame or just before it. */
            size_t hl = strlen(e->held), h2;
            unsigned n;
            char *rest = llm_regex_apply(&st->bias, e->held, hl, false, &h2, &n);
            free(e->held);
            e->held = NULL;
            if (rest) {
                e->replaced += n;
                llm_frame_add_text(e->api, root, rest, extra);
                free(rest);
            }
            changed = true;
        }
        return changed;
    }
    case CASE_TRUNCATE:
        if (e->framing == LLM_FRAMING_JSON) {
            cut_ctx c = {(long)st->truncate_after, false};
            llm_visit_output(e->api, root, cut_cb, &c);
            if (c.cut) {
                set_length_finish(e->api, root);
                e->truncated = true;
                return true;
            }
        }
        return false;
    default:
        return false;
    }
}

/* ---- frames ---- */

static void note_progress(lx *e, const cJSON *root, const char *data)
{
    if (llm_is_done_marker(data)) {
        e->ended = true;
        return;
    }
    if (!root)
        return;
    if (e->api == LLM_API_MESSAGES) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "type");
        const char *type = cJSON_IsString(t) ? t->valuestring : "";
        const cJSON *idx = cJSON_GetObjectItemCaseSensitive(root, "index");
        if (strcmp(type, "content_block_start") == 0) {
            e->block_open = true;
            e->block_index = cJSON_IsNumber(idx) ? idx->valuedouble : 0;
        } else if (strcmp(type, "content_block_stop") == 0) {
            e->block_open = false;
        } else if (strcmp(type, "message_stop") == 0) {
            e->ended = true;
        }
    } else if (e->api == LLM_API_RESPONSES) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "type");
        if (cJSON_IsString(t) && (strcmp(t->valuestring, "response.completed") == 0 ||
                                  strcmp(t->valuestring, "response.incomplete") == 0 ||
                                  strcmp(t->valuestring, "response.failed") == 0))
            e->ended = true;
    } else if (e->api == LLM_API_OLLAMA_CHAT || e->api == LLM_API_OLLAMA_GENERATE) {
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "done")))
            e->ended = true;
    }
}

/* truncate-response: the stream ends here. */
static void truncate_now(lx *e)
{
    llm_state *st = e->st;
    e->truncated = true;
    if (st->truncate_mode == TRUNC_CLEAN) {
        if (e->api == LLM_API_MESSAGES && e->block_open) {
            char b[96];
            int k = snprintf(b, sizeof b,
                             "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
                             "\"index\":%.0f}\n\n",
                             e->block_index);
            out_add(e, b, (size_t)k);
        }
        char *t = llm_truncation_frames(e->api, e->framing == LLM_FRAMING_SSE, e->first);
        if (t) {
            out_add(e, t, strlen(t));
            free(t);
        } else {
            e->oom = true;
        }
        out_mark(e);
    } else if (st->truncate_mode == TRUNC_ERROR) {
        char *t = llm_stream_error_frame(e->api, llm_provider_of(e->api, (llm_provider)st->provider),
                                         e->framing == LLM_FRAMING_SSE);
        if (t) {
            out_add(e, t, strlen(t));
            free(t);
        } else {
            e->oom = true;
        }
        out_mark(e);
    }
    fault_param p[] = {{"frames", NULL, (double)e->frames},
                       {"mode", trunc_choices[st->truncate_mode], 0}};
    applied(st, e->x, FAULT_DIR_INGRESS, p, 2);
}

/* Puts out an SSE frame with new JSON data, keeping its event name. */
static void out_sse(lx *e, const llm_sse *ev, const char *json)
{
    if (ev->event) {
        out_add(e, "event: ", 7);
        out_add(e, ev->event, ev->event_len);
        out_add(e, "\n", 1);
    }
    out_add(e, "data: ", 6);
    out_add(e, json, strlen(json));
    out_add(e, "\n\n", 2);
}

static int on_frame(void *ud, const uint8_t *p, size_t n, bool parsed)
{
    lx *e = ud;
    llm_state *st = e->st;
    if (e->truncated)
        return 0; /* after the cut: dropped */
    if (!parsed || st->case_ == CASE_SLOW_STREAM) {
        out_add(e, p, n);
        /* (The LF of a CRLF cut from its frame is no frame of its own:
         * it leaves with the next one.) */
        if (parsed || n != 1 || p[0] != '\n')
            out_mark(e);
        return 0;
    }
    llm_sse ev = {0};
    const char *data;
    size_t dlen;
    if (e->framing == LLM_FRAMING_SSE) {
        if (llm_sse_read(p, n, &ev) < 0) {
            e->oom = true;
            return -1;
        }
        data = ev.data;
        dlen = ev.data_len;
    } else {
        data = (const char *)p;
        dlen = n;
    }
    cJSON *root = data ? cJSON_ParseWithLength(data, dlen) : NULL;
    bool was_ended = e->ended;
    if (data)
        e->frames++;
    if (root && !e->first && st->case_ == CASE_TRUNCATE)
        e->first = cJSON_Duplicate(root, true);
    note_progress(e, root, data);
    char *extra = NULL;
    bool changed = root && !was_ended && change_json(e, root, &extra);
    if (extra) {
        out_add(e, extra, strlen(extra));
        free(extra);
    }
    char *json = changed ? cJSON_PrintUnformatted(root) : NULL;
    if (json) {
        if (e->framing == LLM_FRAMING_SSE) {
            out_sse(e, &ev, json);
        } else {
            out_add(e, json, strlen(json));
            if (e->framing == LLM_FRAMING_NDJSON)
                out_add(e, "\n", 1);
        }
        free(json);
    } else {
        out_add(e, p, n);
    }
    out_mark(e);
    cJSON_Delete(root);
    free(ev.data);
    if (st->case_ == CASE_TRUNCATE && e->framing != LLM_FRAMING_JSON && !e->ended && data &&
        e->frames >= (uint64_t)st->truncate_after)
        truncate_now(e);
    return 0;
}

/* ---- slow-stream ---- */

static double draw_delay(llm_state *st)
{
    fault_rng *rng = fault_plugin_rng(st->self);
    double m = st->slow_mean_ms, d;
    switch (st->slow_dist) {
    case DIST_FIXED: d = m; break;
    case DIST_UNIFORM: d = 2 * m * fault_rng_uniform(rng); break;
    case DIST_PARETO: d = fault_rng_pareto(rng, m * 2.0 / 3.0, 3.0); break; /* mean m */
    default: d = fault_rng_normal(rng, m, m / 4); break;
    }
    return d < 0 ? 0 : d;
}

/* Passes the next frame of the chunk's output (the head of the stage). */
static fault_action next_frame(lx *e, fault_chunk *c, fault_verdict *v)
{
    llm_state *st = e->st;
    size_t total = e->out_len;
    size_t end = total;
    while (e->mark_i < e->nmarks && e->marks[e->mark_i] <= e->passed)
        e->mark_i++;
    if (st->case_ == CASE_SLOW_STREAM && e->mark_i < e->nmarks)
        end = e->marks[e->mark_i++];
    v->bytes = end < total ? end - e->passed : 0;
    if (st->case_ == CASE_SLOW_STREAM) {
        uint64_t base = c->arrived_us > e->next_at ? c->arrived_us : e->next_at;
        double d = draw_delay(st);
        if (!e->first_done) {
            d += st->slow_first_ms;
            e->first_done = true;
        }
        e->next_at = base + (uint64_t)llround(d * 1000.0);
        e->delayed_ms += d;
        e->delayed_frames++;
        v->until_us = e->next_at;
    }
    e->passed = end;
    e->resid = total - end;
    return FAULT_PASS;
}

static fault_action on_body(void *state, fault_http_exchange *x, fault_direction dir,
                            fault_chunk *c, fault_verdict *v)
{
    llm_state *st = state;
    lx *e = lx_find(st, x);
    if (!e || !e->watching || dir != FAULT_DIR_INGRESS)
        return FAULT_PASS;
    if (e->resid) {
        if (c->len == e->resid)
            return next_frame(e, c, v);
        e->resid = 0; /* not ours after all (cannot happen): start over */
    }
    e->out_len = e->nmarks = e->mark_i = e->passed = 0;
    e->oom = false;
    if (llm_frames_feed(&e->fr, c->data, c->len, on_frame, e) < 0 || e->oom) {
        fault_log_error(st->self, "out of memory on %s: ending the exchange", fault_http_url(x));
        return FAULT_RESET;
    }
    if (e->out_len != c->len || memcmp(e->out, c->data, c->len) != 0) {
        if (fault_chunk_replace(fault_http_stream(x), c, e->out, e->out_len) < 0)
            return FAULT_RESET;
    }
    if (e->out_len == 0)
        return FAULT_PASS;
    return next_frame(e, c, v);
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
    applied(st, x, FAULT_DIR_INGRESS, prm, 3);
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
    if (st->has_scramble)
        llm_visit_prompt(api, root, scramble_cb, &c);
    bool instructed = st->instruction && st->instruction[0] &&
                      llm_add_instruction(api, root, st->instruction) == 0;
    if (c.n || instructed) {
        char *s = cJSON_PrintUnformatted(root);
        if (s && fault_http_set_body(x, FAULT_HTTP_REQUEST, s, strlen(s)) == 0) {
            fault_param p[] = {{"replacements", NULL, c.n},
                               {"instruction", instructed ? "added" : "none", 0}};
            applied(st, x, FAULT_DIR_EGRESS, p, 2);
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
    else if (has_token(ct, "json") &&
             !(e->api == LLM_API_GEMINI && strstr(fault_http_path(x), ":streamGenerateContent")))
        f = LLM_FRAMING_JSON; /* (Gemini's streamed JSON array is left alone) */
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
        applied(st, x, FAULT_DIR_INGRESS, p, 2);
    } else if (st->case_ == CASE_TOKEN_DROP && e->dropped) {
        fault_param p[] = {{"dropped", NULL, e->dropped}};
        applied(st, x, FAULT_DIR_INGRESS, p, 1);
    } else if (st->case_ == CASE_INJECT_BIAS && e->replaced) {
        fault_param p[] = {{"replacements", NULL, e->replaced}};
        applied(st, x, FAULT_DIR_INGRESS, p, 1);
    } else if (st->case_ == CASE_TRUNCATE && e->truncated && e->framing == LLM_FRAMING_JSON) {
        fault_param p[] = {{"words", NULL, (double)st->truncate_after}};
        applied(st, x, FAULT_DIR_INGRESS, p, 1);
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
    if (st->case_ == CASE_INJECT_BIAS) {
        if (!st->bias_pattern || !st->bias_replacement) {
            fault_plugin_error(self, "--llm-case inject-bias needs --bias-pattern and --bias-replacement");
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
    if (st->case_ == CASE_PROMPT_SCRAMBLE) {
        if (!st->has_scramble && !(st->instruction && st->instruction[0])) {
            fault_plugin_error(self, "--llm-case prompt-scramble needs --scramble-pattern/--scramble-with or --instruction");
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
    .on_end = on_end,
};

FAULT_PLUGIN_HINT_OPTION(FAULT_KIND_FAULT, "with-llm", "FAULT_WITH_LLM");

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "llm", .version = PACKAGE_VERSION,
                    .summary = "LLM faults: provider errors, slow streams, token drops, bias, truncation, prompt scrambling",
                    .license = "Apache-2.0", .options = options, .state_size = sizeof(llm_state),
                    .configure = configure, .destroy = destroy, .http = &http_ops);
