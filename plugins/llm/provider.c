/*
 * plugins/llm/provider.c - the providers' wire formats: request paths,
 * where text lives in their JSON, how their streams end, their errors.
 *
 * Error bodies, statuses and headers follow what each provider's API
 * sends and what its official clients read: OpenAI's and Anthropic's
 * clients retry 408/409/429/5xx unless the answer carries
 * "x-should-retry: false", and honour retry-after-ms / retry-after, so a
 * quota error says x-should-retry: false (it would not succeed later)
 * while a rate limit gives the delay to wait.
 */
#include "provider.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const api_names[] = {
    "none",   "openai-chat", "openai-responses", "anthropic-messages",
    "gemini", "ollama-chat", "ollama-generate"};

const char *llm_api_name(llm_api api)
{
    return (unsigned)api < sizeof api_names / sizeof *api_names ? api_names[api] : "none";
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

llm_api llm_detect(const char *method, const char *path)
{
    if (!method || !path || strcmp(method, "POST") != 0)
        return LLM_API_NONE;
    size_t n = strcspn(path, "?#");
    /* Trailing slashes do not change the route for these APIs. */
    while (n > 1 && path[n - 1] == '/')
        n--;
    if (ends_with(path, n, "/chat/completions"))
        return LLM_API_CHAT;
    if (ends_with(path, n, "/responses"))
        return LLM_API_RESPONSES;
    if (ends_with(path, n, "/v1/messages") || ends_with(path, n, "/messages"))
        return LLM_API_MESSAGES;
    if (ends_with(path, n, ":generateContent") || ends_with(path, n, ":streamGenerateContent"))
        return LLM_API_GEMINI;
    if (ends_with(path, n, "/api/chat"))
        return LLM_API_OLLAMA_CHAT;
    if (ends_with(path, n, "/api/generate"))
        return LLM_API_OLLAMA_GENERATE;
    return LLM_API_NONE;
}

llm_provider llm_provider_of(llm_api api, llm_provider forced)
{
    if (forced != LLM_PROV_AUTO) {
        /* Ollama's native API and Gemini's paths have one shape whatever was
         * said; OpenAI-compatible paths take the provider given. */
        if (api == LLM_API_CHAT || api == LLM_API_RESPONSES)
            return forced;
    }
    switch (api) {
    case LLM_API_MESSAGES:
        return LLM_PROV_ANTHROPIC;
    case LLM_API_GEMINI:
        return LLM_PROV_GEMINI;
    case LLM_API_OLLAMA_CHAT:
    case LLM_API_OLLAMA_GENERATE:
        return LLM_PROV_OLLAMA;
    default:
        return LLM_PROV_OPENAI;
    }
}

const char *llm_provider_name(llm_provider p)
{
    static const char *const n[] = {"auto",      "openai", "open-router",
                                    "anthropic", "gemini", "ollama"};
    return (unsigned)p < sizeof n / sizeof *n ? n[p] : "auto";
}

/* ---- errors ---- */

typedef struct hdrs {
    const char **h;
    int n;
    char *buf;
    size_t left;
} hdrs;

static void hdr(hdrs *hs, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#include <stdarg.h>
static void hdr(hdrs *hs, const char *name, const char *fmt, ...)
{
    if (hs->n + 3 > LLM_ERROR_HEADERS || hs->left < 2)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(hs->buf, hs->left, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= hs->left)
        return;
    hs->h[hs->n++] = name;
    hs->h[hs->n++] = hs->buf;
    hs->buf += k + 1;
    hs->left -= (size_t)k + 1;
}

static int natural_status(llm_provider p, llm_error_kind k)
{
    switch (k) {
    case LLM_ERR_RATE_LIMIT:
        return 429;
    case LLM_ERR_QUOTA:
        if (p == LLM_PROV_ANTHROPIC || p == LLM_PROV_OPENROUTER)
            return 402;
        return 429;
    case LLM_ERR_OVERLOADED:
        return p == LLM_PROV_ANTHROPIC ? 529 : 503;
    default:
        return 500;
    }
}

static char *print_free(cJSON *o)
{
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}

char *llm_error_body(llm_provider p, llm_error_kind kind, int status_override,
                     double retry_after_ms, int *status, const char **headers, char *buf,
                     size_t buflen)
{
    hdrs hs = {headers, 0, buf, buflen};
    int st = status_override ? status_override : natural_status(p, kind);
    *status = st;
    long ra_ms = lround(retry_after_ms < 0 ? 0 : retry_after_ms);
    long ra_s = (ra_ms + 999) / 1000;
    bool retry = kind != LLM_ERR_QUOTA;
    hdr(&hs, "Content-Type", "application/json");
    cJSON *o = cJSON_CreateObject();
    const char *msg;
    switch (p) {
    case LLM_PROV_ANTHROPIC: {
        const char *type;
        switch (kind) {
        case LLM_ERR_RATE_LIMIT:
            type = "rate_limit_error";
            msg = "Number of request tokens has exceeded your per-minute rate limit "
                  "(injected by fault)";
            break;
        case LLM_ERR_QUOTA:
            type = "billing_error";
            msg = "Your credit balance is too low to access the Anthropic API (injected by fault)";
            break;
        case LLM_ERR_OVERLOADED:
            type = "overloaded_error";
            msg = "Overloaded";
            break;
        default:
            type = "api_error";
            msg = "Internal server error";
            break;
        }
        cJSON_AddStringToObject(o, "type", "error");
        cJSON *e = cJSON_AddObjectToObject(o, "error");
        cJSON_AddStringToObject(e, "type", type);
        cJSON_AddStringToObject(e, "message", msg);
        cJSON_AddStringToObject(o, "request_id", "req_fault_injected");
        hdr(&hs, "request-id", "req_fault_injected");
        if (kind == LLM_ERR_RATE_LIMIT) {
            hdr(&hs, "retry-after", "%ld", ra_s);
            hdr(&hs, "anthropic-ratelimit-requests-limit", "50");
            hdr(&hs, "anthropic-ratelimit-requests-remaining", "0");
            hdr(&hs, "anthropic-ratelimit-tokens-remaining", "0");
        }
        break;
    }
    case LLM_PROV_GEMINI: {
        const char *gs;
        switch (kind) {
        case LLM_ERR_RATE_LIMIT:
            gs = "RESOURCE_EXHAUSTED";
            msg = "Resource has been exhausted (e.g. check quota). (injected by fault)";
            break;
        case LLM_ERR_QUOTA:
            gs = "RESOURCE_EXHAUSTED";
            msg = "You exceeded your current quota, please check your plan and billing details. "
                  "(injected by fault)";
            break;
        case LLM_ERR_OVERLOADED:
            gs = "UNAVAILABLE";
            msg = "The model is overloaded. Please try again later. (injected by fault)";
            break;
        default:
            gs = "INTERNAL";
            msg = "An internal error has occurred. (injected by fault)";
            break;
        }
        if (status_override && st == 503)
            gs = "UNAVAILABLE";
        else if (status_override && st == 429)
            gs = "RESOURCE_EXHAUSTED";
        cJSON *e = cJSON_AddObjectToObject(o, "error");
        cJSON_AddNumberToObject(e, "code", st);
        cJSON_AddStringToObject(e, "message", msg);
        cJSON_AddStringToObject(e, "status", gs);
        if (kind == LLM_ERR_RATE_LIMIT && ra_ms)
            hdr(&hs, "retry-after", "%ld", ra_s);
        break;
    }
    case LLM_PROV_OLLAMA:
        switch (kind) {
        case LLM_ERR_RATE_LIMIT:
            msg = "rate limit exceeded (injected by fault)";
            break;
        case LLM_ERR_QUOTA:
            msg = "usage limit reached (injected by fault)";
            break;
        case LLM_ERR_OVERLOADED:
            msg = "server busy, please try again.  maximum pending requests exceeded";
            break;
        default:
            msg = "llama runner process has terminated (injected by fault)";
            break;
        }
        cJSON_AddStringToObject(o, "error", msg);
        if (kind == LLM_ERR_RATE_LIMIT && ra_ms)
            hdr(&hs, "retry-after", "%ld", ra_s);
        break;
    case LLM_PROV_OPENROUTER: {
        switch (kind) {
        case LLM_ERR_RATE_LIMIT:
            msg = "Rate limit exceeded (injected by fault)";
            break;
        case LLM_ERR_QUOTA:
            msg = "Insufficient credits. Add more using https://openrouter.ai/credits "
                  "(injected by fault)";
            break;
        case LLM_ERR_OVERLOADED:
            msg = "Provider returned error: overloaded (injected by fault)";
            break;
        default:
            msg = "Internal Server Error (injected by fault)";
            break;
        }
        cJSON *e = cJSON_AddObjectToObject(o, "error");
        cJSON_AddNumberToObject(e, "code", st);
        cJSON_AddStringToObject(e, "message", msg);
        cJSON_AddObjectToObject(e, "metadata");
        if (kind == LLM_ERR_RATE_LIMIT) {
            hdr(&hs, "retry-after", "%ld", ra_s);
            hdr(&hs, "retry-after-ms", "%ld", ra_ms);
        }
        break;
    }
    default: { /* OpenAI */
        const char *type, *code;
        switch (kind) {
        case LLM_ERR_RATE_LIMIT:
            type = "requests";
            code = "rate_limit_exceeded";
            msg = "Rate limit reached for requests on model in organization org-fault. "
                  "Please try again later. (injected by fault)";
            break;
        case LLM_ERR_QUOTA:
            type = "insufficient_quota";
            code = "insufficient_quota";
            msg = "You exceeded your current quota, please check your plan and billing details. "
                  "(injected by fault)";
            break;
        case LLM_ERR_OVERLOADED:
            type = "server_error";
            code = NULL;
            msg = "The engine is currently overloaded, please try again later. (injected by fault)";
            break;
        default:
            type = "server_error";
            code = NULL;
            msg = "The server had an error while processing your request. (injected by fault)";
            break;
        }
        cJSON *e = cJSON_AddObjectToObject(o, "error");
        cJSON_AddStringToObject(e, "message", msg);
        cJSON_AddStringToObject(e, "type", type);
        cJSON_AddNullToObject(e, "param");
        if (code)
            cJSON_AddStringToObject(e, "code", code);
        else
            cJSON_AddNullToObject(e, "code");
        hdr(&hs, "x-request-id", "req_fault_injected");
        if (kind == LLM_ERR_RATE_LIMIT) {
            hdr(&hs, "retry-after", "%ld", ra_s);
            hdr(&hs, "retry-after-ms", "%ld", ra_ms);
            hdr(&hs, "x-ratelimit-limit-requests", "60");
            hdr(&hs, "x-ratelimit-remaining-requests", "0");
            hdr(&hs, "x-ratelimit-reset-requests", "%ldms", ra_ms);
            hdr(&hs, "x-ratelimit-limit-tokens", "150000");
            hdr(&hs, "x-ratelimit-remaining-tokens", "0");
            hdr(&hs, "x-ratelimit-reset-tokens", "%ldms", ra_ms);
        }
        break;
    }
    }
    hdr(&hs, "x-should-retry", "%s", retry ? "true" : "false");
    headers[hs.n] = NULL;
    return print_free(o);
}

/* ---- text in JSON ---- */

static bool type_is(const cJSON *o, const char *type)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    return cJSON_IsString(t) && strcmp(t->valuestring, type) == 0;
}

static void visit_str(cJSON *o, const char *key, llm_text_cb cb, void *ud)
{
    cJSON *s = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsString(s))
        cb(ud, s);
}

/* content: a string, or an array of parts {type, text}. */
static void visit_content(cJSON *msg, const char *key, llm_text_cb cb, void *ud)
{
    cJSON *c = cJSON_GetObjectItemCaseSensitive(msg, key);
    if (cJSON_IsString(c)) {
        cb(ud, c);
        return;
    }
    cJSON *part;
    cJSON_ArrayForEach(part, c)
    {
        if (type_is(part, "text") || type_is(part, "input_text") || type_is(part, "output_text"))
            visit_str(part, "text", cb, ud);
    }
}

static void visit_gemini_parts(cJSON *content, llm_text_cb cb, void *ud)
{
    cJSON *part;
    cJSON_ArrayForEach(part, cJSON_GetObjectItemCaseSensitive(content, "parts"))
    {
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(part, "thought")))
            visit_str(part, "text", cb, ud);
    }
}

void llm_visit_output(llm_api api, cJSON *root, llm_text_cb cb, void *ud)
{
    cJSON *it;
    switch (api) {
    case LLM_API_CHAT:
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "choices"))
        {
            visit_str(cJSON_GetObjectItemCaseSensitive(it, "delta"), "content", cb, ud);
            visit_str(cJSON_GetObjectItemCaseSensitive(it, "message"), "content", cb, ud);
        }
        break;
    case LLM_API_RESPONSES:
        if (type_is(root, "response.output_text.delta")) {
            visit_str(root, "delta", cb, ud);
        } else if (!cJSON_GetObjectItemCaseSensitive(root, "type") || type_is(root, "response")) {
            /* A whole (non-streamed) response. */
            cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "output"))
            {
                if (type_is(it, "message"))
                    visit_content(it, "content", cb, ud);
            }
        }
        break;
    case LLM_API_MESSAGES:
        if (type_is(root, "content_block_delta")) {
            cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "delta");
            if (type_is(d, "text_delta"))
                visit_str(d, "text", cb, ud);
        } else if (type_is(root, "message")) {
            visit_content(root, "content", cb, ud);
        }
        break;
    case LLM_API_GEMINI:
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "candidates"))
            visit_gemini_parts(cJSON_GetObjectItemCaseSensitive(it, "content"), cb, ud);
        break;
    case LLM_API_OLLAMA_CHAT:
        visit_str(cJSON_GetObjectItemCaseSensitive(root, "message"), "content", cb, ud);
        break;
    case LLM_API_OLLAMA_GENERATE:
        visit_str(root, "response", cb, ud);
        break;
    default:
        break;
    }
}

void llm_visit_prompt(llm_api api, cJSON *root, llm_text_cb cb, void *ud)
{
    cJSON *it;
    switch (api) {
    case LLM_API_CHAT:
    case LLM_API_OLLAMA_CHAT:
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "messages"))
            visit_content(it, "content", cb, ud);
        break;
    case LLM_API_RESPONSES: {
        visit_str(root, "instructions", cb, ud);
        cJSON *in = cJSON_GetObjectItemCaseSensitive(root, "input");
        if (cJSON_IsString(in))
            cb(ud, in);
        cJSON_ArrayForEach(it, in) visit_content(it, "content", cb, ud);
        break;
    }
    case LLM_API_MESSAGES:
        visit_content(root, "system", cb, ud);
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "messages"))
            visit_content(it, "content", cb, ud);
        break;
    case LLM_API_GEMINI:
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "contents"))
            visit_gemini_parts(it, cb, ud);
        visit_gemini_parts(cJSON_GetObjectItemCaseSensitive(root, "systemInstruction"), cb, ud);
        visit_gemini_parts(cJSON_GetObjectItemCaseSensitive(root, "system_instruction"), cb, ud);
        break;
    case LLM_API_OLLAMA_GENERATE:
        visit_str(root, "system", cb, ud);
        visit_str(root, "prompt", cb, ud);
        break;
    default:
        break;
    }
}

/* A string field becomes text + "\n\n" + what it was, or text. */
int llm_set_string(cJSON *o, const char *key, const char *text)
{
    cJSON_DeleteItemFromObjectCaseSensitive(o, key);
    return cJSON_AddStringToObject(o, key, text) ? 0 : -1;
}

static int prepend_string(cJSON *o, const char *key, const char *text)
{
    cJSON *s = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsString(s) && s->valuestring[0]) {
        size_t n = strlen(text) + strlen(s->valuestring) + 3;
        char *v = malloc(n);
        if (!v)
            return -1;
        snprintf(v, n, "%s\n\n%s", text, s->valuestring);
        cJSON *ns = cJSON_CreateString(v);
        free(v);
        return ns && cJSON_ReplaceItemInObjectCaseSensitive(o, key, ns) ? 0 : -1;
    }
    return llm_set_string(o, key, text);
}

static int insert_system_message(cJSON *root, const char *text)
{
    cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
    if (!cJSON_IsArray(msgs))
        return -1;
    cJSON *m = cJSON_CreateObject();
    if (!m || !cJSON_AddStringToObject(m, "role", "system") ||
        !cJSON_AddStringToObject(m, "content", text)) {
        cJSON_Delete(m);
        return -1;
    }
    return cJSON_InsertItemInArray(msgs, 0, m) ? 0 : -1;
}

int llm_add_instruction(llm_api api, cJSON *root, const char *text)
{
    switch (api) {
    case LLM_API_CHAT:
    case LLM_API_OLLAMA_CHAT:
        return insert_system_message(root, text);
    case LLM_API_RESPONSES:
        return prepend_string(root, "instructions", text);
    case LLM_API_OLLAMA_GENERATE:
        return prepend_string(root, "system", text);
    case LLM_API_MESSAGES: {
        cJSON *sys = cJSON_GetObjectItemCaseSensitive(root, "system");
        if (cJSON_IsArray(sys)) {
            cJSON *b = cJSON_CreateObject();
            if (!b || !cJSON_AddStringToObject(b, "type", "text") ||
                !cJSON_AddStringToObject(b, "text", text)) {
                cJSON_Delete(b);
                return -1;
            }
            return cJSON_InsertItemInArray(sys, 0, b) ? 0 : -1;
        }
        return prepend_string(root, "system", text);
    }
    case LLM_API_GEMINI: {
        const char *key = cJSON_GetObjectItemCaseSensitive(root, "system_instruction")
                              ? "system_instruction"
                              : "systemInstruction";
        cJSON *si = cJSON_GetObjectItemCaseSensitive(root, key);
        if (!cJSON_IsObject(si)) {
            cJSON_DeleteItemFromObjectCaseSensitive(root, key);
            si = cJSON_AddObjectToObject(root, key);
        }
        cJSON *parts = si ? cJSON_GetObjectItemCaseSensitive(si, "parts") : NULL;
        if (si && !cJSON_IsArray(parts)) {
            cJSON_DeleteItemFromObjectCaseSensitive(si, "parts");
            parts = cJSON_AddArrayToObject(si, "parts");
        }
        cJSON *p = cJSON_CreateObject();
        if (!parts || !p || !cJSON_AddStringToObject(p, "text", text)) {
            cJSON_Delete(p);
            return -1;
        }
        return cJSON_InsertItemInArray(parts, 0, p) ? 0 : -1;
    }
    default:
        return -1;
    }
}

/* ---- stream ends ---- */

bool llm_frame_is_final(llm_api api, const cJSON *root)
{
    const cJSON *it;
    switch (api) {
    case LLM_API_CHAT:
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "choices"))
        {
            if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, "finish_reason")))
                return true;
        }
        return false;
    case LLM_API_RESPONSES:
        return type_is(root, "response.output_text.done");
    case LLM_API_MESSAGES:
        return type_is(root, "content_block_stop") || type_is(root, "message_delta");
    case LLM_API_GEMINI:
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "candidates"))
        {
            if (cJSON_GetObjectItemCaseSensitive(it, "finishReason"))
                return true;
        }
        return false;
    case LLM_API_OLLAMA_CHAT:
    case LLM_API_OLLAMA_GENERATE:
        return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "done"));
    default:
        return false;
    }
}

static cJSON *child_object(cJSON *o, const char *key)
{
    cJSON *c = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsObject(c))
        return c;
    cJSON_DeleteItemFromObjectCaseSensitive(o, key);
    return cJSON_AddObjectToObject(o, key);
}

static char *sse_frame(const char *event, cJSON *o)
{
    char *data = print_free(o);
    if (!data)
        return NULL;
    size_t n = strlen(data) + (event ? strlen(event) : 0) + 32;
    char *f = malloc(n);
    if (f) {
        if (event)
            snprintf(f, n, "event: %s\ndata: %s\n\n", event, data);
        else
            snprintf(f, n, "data: %s\n\n", data);
    }
    free(data);
    return f;
}

int llm_frame_add_text(llm_api api, cJSON *root, const char *text, char **extra_frame)
{
    *extra_frame = NULL;
    switch (api) {
    case LLM_API_CHAT: {
        cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "choices"), 0);
        cJSON *d = c0 ? child_object(c0, "delta") : NULL;
        if (!d)
            return -1;
        return llm_set_string(d, "content", text);
    }
    case LLM_API_MESSAGES: {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "type", "content_block_delta");
        const cJSON *idx = cJSON_GetObjectItemCaseSensitive(root, "index");
        cJSON_AddNumberToObject(o, "index", cJSON_IsNumber(idx) ? idx->valuedouble : 0);
        cJSON *d = cJSON_AddObjectToObject(o, "delta");
        cJSON_AddStringToObject(d, "type", "text_delta");
        cJSON_AddStringToObject(d, "text", text);
        *extra_frame = sse_frame("content_block_delta", o);
        return *extra_frame ? 0 : -1;
    }
    case LLM_API_RESPONSES: {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "type", "response.output_text.delta");
        static const char *const keep[] = {"item_id", "output_index", "content_index"};
        for (size_t i = 0; i < 3; i++) {
            cJSON *v = cJSON_GetObjectItemCaseSensitive(root, keep[i]);
            if (v)
                cJSON_AddItemToObject(o, keep[i], cJSON_Duplicate(v, true));
        }
        cJSON_AddStringToObject(o, "delta", text);
        *extra_frame = sse_frame("response.output_text.delta", o);
        return *extra_frame ? 0 : -1;
    }
    case LLM_API_GEMINI: {
        cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "candidates"), 0);
        cJSON *content = c0 ? child_object(c0, "content") : NULL;
        if (!content)
            return -1;
        cJSON *parts = cJSON_GetObjectItemCaseSensitive(content, "parts");
        if (!cJSON_IsArray(parts)) {
            cJSON_DeleteItemFromObjectCaseSensitive(content, "parts");
            parts = cJSON_AddArrayToObject(content, "parts");
        }
        if (!cJSON_GetObjectItemCaseSensitive(content, "role"))
            cJSON_AddStringToObject(content, "role", "model");
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "text", text);
        return parts && cJSON_AddItemToArray(parts, p) ? 0 : -1;
    }
    case LLM_API_OLLAMA_CHAT: {
        cJSON *m = child_object(root, "message");
        if (!m)
            return -1;
        if (!cJSON_GetObjectItemCaseSensitive(m, "role"))
            cJSON_AddStringToObject(m, "role", "assistant");
        return llm_set_string(m, "content", text);
    }
    case LLM_API_OLLAMA_GENERATE:
        return llm_set_string(root, "response", text);
    default:
        return -1;
    }
}

/* A copy of first's key (or the fallback string) into o. */
static void copy_key(cJSON *o, const cJSON *first, const char *key, const char *fallback)
{
    const cJSON *v = first ? cJSON_GetObjectItemCaseSensitive(first, key) : NULL;
    if (v)
        cJSON_AddItemToObject(o, key, cJSON_Duplicate(v, true));
    else if (fallback)
        cJSON_AddStringToObject(o, key, fallback);
}

static char *ndjson_line(cJSON *o)
{
    char *s = print_free(o);
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *l = realloc(s, n + 2);
    if (!l) {
        free(s);
        return NULL;
    }
    memcpy(l + n, "\n", 2);
    return l;
}

/* Gemini's frames: an SSE event ended by CRLF CRLF, or an element of the
 * streamed array that closes it. Frees o. */
static char *gemini_frame(cJSON *o, llm_framing framing)
{
    char *d = print_free(o);
    if (!d)
        return NULL;
    size_t n = strlen(d) + 16;
    char *f = malloc(n);
    if (f)
        snprintf(f, n, framing == LLM_FRAMING_ARRAY ? ",\r\n%s]" : "data: %s\r\n\r\n", d);
    free(d);
    return f;
}

char *llm_truncation_frames(llm_api api, llm_framing framing, const cJSON *first)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    switch (api) {
    case LLM_API_CHAT: {
        copy_key(o, first, "id", "chatcmpl-fault");
        cJSON_AddStringToObject(o, "object", "chat.completion.chunk");
        copy_key(o, first, "created", NULL);
        copy_key(o, first, "model", "fault");
        cJSON *c = cJSON_CreateObject();
        cJSON_AddNumberToObject(c, "index", 0);
        cJSON_AddObjectToObject(c, "delta");
        cJSON_AddStringToObject(c, "finish_reason", "length");
        cJSON *arr = cJSON_AddArrayToObject(o, "choices");
        cJSON_AddItemToArray(arr, c);
        char *f = sse_frame(NULL, o);
        if (!f)
            return NULL;
        size_t n = strlen(f);
        char *g = realloc(f, n + sizeof "data: [DONE]\n\n");
        if (!g) {
            free(f);
            return NULL;
        }
        memcpy(g + n, "data: [DONE]\n\n", sizeof "data: [DONE]\n\n");
        return g;
    }
    case LLM_API_RESPONSES: {
        const cJSON *r = first ? cJSON_GetObjectItemCaseSensitive(first, "response") : NULL;
        cJSON_AddStringToObject(o, "type", "response.incomplete");
        cJSON *resp = cJSON_AddObjectToObject(o, "response");
        copy_key(resp, r, "id", "resp_fault");
        cJSON_AddStringToObject(resp, "object", "response");
        copy_key(resp, r, "created_at", NULL);
        copy_key(resp, r, "model", NULL);
        cJSON_AddStringToObject(resp, "status", "incomplete");
        cJSON *d = cJSON_AddObjectToObject(resp, "incomplete_details");
        cJSON_AddStringToObject(d, "reason", "max_output_tokens");
        cJSON_AddArrayToObject(resp, "output");
        return sse_frame("response.incomplete", o);
    }
    case LLM_API_MESSAGES: {
        /* The open block's content_block_stop comes from the caller. */
        cJSON_Delete(o);
        return strdup("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":"
                      "{\"stop_reason\":\"max_tokens\",\"stop_sequence\":null},\"usage\":"
                      "{\"output_tokens\":0}}\n\nevent: message_stop\ndata: "
                      "{\"type\":\"message_stop\"}\n\n");
    }
    case LLM_API_GEMINI: {
        if (framing != LLM_FRAMING_SSE && framing != LLM_FRAMING_ARRAY) {
            cJSON_Delete(o);
            return strdup("");
        }
        cJSON *cands = cJSON_AddArrayToObject(o, "candidates");
        cJSON *c = cJSON_CreateObject();
        cJSON *content = cJSON_AddObjectToObject(c, "content");
        cJSON *parts = cJSON_AddArrayToObject(content, "parts");
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "text", "");
        cJSON_AddItemToArray(parts, p);
        cJSON_AddStringToObject(content, "role", "model");
        cJSON_AddStringToObject(c, "finishReason", "MAX_TOKENS");
        cJSON_AddNumberToObject(c, "index", 0);
        cJSON_AddItemToArray(cands, c);
        copy_key(o, first, "modelVersion", NULL);
        copy_key(o, first, "responseId", NULL);
        return gemini_frame(o, framing);
    }
    case LLM_API_OLLAMA_CHAT:
    case LLM_API_OLLAMA_GENERATE:
        copy_key(o, first, "model", "fault");
        copy_key(o, first, "created_at", "1970-01-01T00:00:00Z");
        if (api == LLM_API_OLLAMA_CHAT) {
            cJSON *m = cJSON_AddObjectToObject(o, "message");
            cJSON_AddStringToObject(m, "role", "assistant");
            cJSON_AddStringToObject(m, "content", "");
        } else {
            cJSON_AddStringToObject(o, "response", "");
        }
        cJSON_AddStringToObject(o, "done_reason", "length");
        cJSON_AddTrueToObject(o, "done");
        return ndjson_line(o);
    default:
        cJSON_Delete(o);
        return strdup("");
    }
}

char *llm_stream_error_frame(llm_api api, llm_provider p, llm_framing framing)
{
    const char *msg = "The server had an error while processing your request. (injected by fault)";
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    if (api == LLM_API_MESSAGES) {
        cJSON_AddStringToObject(o, "type", "error");
        cJSON *e = cJSON_AddObjectToObject(o, "error");
        cJSON_AddStringToObject(e, "type", "overloaded_error");
        cJSON_AddStringToObject(e, "message", "Overloaded (injected by fault)");
        return sse_frame("error", o);
    }
    if (api == LLM_API_RESPONSES) {
        cJSON_AddStringToObject(o, "type", "error");
        cJSON_AddStringToObject(o, "code", "server_error");
        cJSON_AddStringToObject(o, "message", msg);
        cJSON_AddNullToObject(o, "param");
        return sse_frame("error", o);
    }
    if (api == LLM_API_OLLAMA_CHAT || api == LLM_API_OLLAMA_GENERATE) {
        cJSON_AddStringToObject(
            o, "error", "an error was encountered while running the model (injected by fault)");
        return ndjson_line(o);
    }
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    if (api == LLM_API_GEMINI) {
        cJSON_AddNumberToObject(e, "code", 500);
        cJSON_AddStringToObject(e, "message",
                                "An internal error has occurred. (injected by fault)");
        cJSON_AddStringToObject(e, "status", "INTERNAL");
    } else if (p == LLM_PROV_OPENROUTER) {
        cJSON_AddNumberToObject(e, "code", 502);
        cJSON_AddStringToObject(e, "message", "Provider disconnected (injected by fault)");
        cJSON *cs = cJSON_AddArrayToObject(o, "choices");
        cJSON *c = cJSON_CreateObject();
        cJSON_AddNumberToObject(c, "index", 0);
        cJSON *d = cJSON_AddObjectToObject(c, "delta");
        cJSON_AddStringToObject(d, "content", "");
        cJSON_AddStringToObject(c, "finish_reason", "error");
        cJSON_AddItemToArray(cs, c);
    } else {
        cJSON_AddStringToObject(e, "message", msg);
        cJSON_AddStringToObject(e, "type", "server_error");
        cJSON_AddNullToObject(e, "param");
        cJSON_AddNullToObject(e, "code");
    }
    if (api == LLM_API_GEMINI)
        return gemini_frame(o, framing);
    if (framing != LLM_FRAMING_SSE)
        return ndjson_line(o);
    return sse_frame(NULL, o);
}

const char *llm_keepalive_frame(llm_api api, llm_provider p)
{
    if (api == LLM_API_MESSAGES)
        return "event: ping\ndata: {\"type\": \"ping\"}\n\n";
    if (api == LLM_API_GEMINI)
        return ": keep-alive\r\n\r\n";
    if (p == LLM_PROV_OPENROUTER)
        return ": OPENROUTER PROCESSING\n\n";
    return ": keep-alive\n\n";
}

bool llm_is_done_marker(const char *data)
{
    return data && strcmp(data, "[DONE]") == 0;
}
