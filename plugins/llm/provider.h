/*
 * plugins/llm/provider.h - what differs between LLM providers: which
 * requests are LLM calls, where the text sits in their JSON (requests,
 * whole responses and stream frames), how a stream ends, and what their
 * errors look like.
 */
#ifndef LLM_PROVIDER_H
#define LLM_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>

#include <cJSON.h>

#include "frames.h"

/* Wire formats (APIs), recognised from the request path. */
typedef enum llm_api {
    LLM_API_NONE = 0,
    LLM_API_CHAT,           /* OpenAI chat completions (and compatibles) */
    LLM_API_RESPONSES,      /* OpenAI Responses */
    LLM_API_MESSAGES,       /* Anthropic messages */
    LLM_API_GEMINI,         /* Gemini generateContent / streamGenerateContent */
    LLM_API_OLLAMA_CHAT,    /* Ollama /api/chat */
    LLM_API_OLLAMA_GENERATE /* Ollama /api/generate */
} llm_api;

/* Providers, for the shape of errors (--llm-provider). */
typedef enum llm_provider {
    LLM_PROV_AUTO = 0, /* from the API */
    LLM_PROV_OPENAI,
    LLM_PROV_OPENROUTER,
    LLM_PROV_ANTHROPIC,
    LLM_PROV_GEMINI,
    LLM_PROV_OLLAMA
} llm_provider;

/* Kinds of http-error (--llm-error). */
typedef enum llm_error_kind {
    LLM_ERR_RATE_LIMIT = 0, /* 429, retryable */
    LLM_ERR_QUOTA,          /* out of quota or credit: not retryable */
    LLM_ERR_OVERLOADED,     /* 529 Anthropic, 503 elsewhere */
    LLM_ERR_SERVER          /* 500 */
} llm_error_kind;

const char *llm_api_name(llm_api api);
/* The API of a request, from its method and path (query ignored, except
 * Gemini's). LLM_API_NONE for anything else. */
llm_api llm_detect(const char *method, const char *path);
llm_provider llm_provider_of(llm_api api, llm_provider forced);
const char *llm_provider_name(llm_provider p);

/* An error answer in the provider's shape. *status is the kind's status
 * unless status_override is not 0. headers gets name/value pairs followed
 * by NULL (at most LLM_ERROR_HEADERS entries including the NULL); their
 * strings live in buf. Returns the malloc'd body, or NULL (no memory). */
#define LLM_ERROR_HEADERS 24
char *llm_error_body(llm_provider p, llm_error_kind kind, int status_override,
                     double retry_after_ms, int *status, const char **headers, char *buf,
                     size_t buflen);

/* ---- text in JSON ---- */

/* Called for each string item holding generated text (responses) or
 * prompt text (requests); it may change the item's value. */
typedef void (*llm_text_cb)(void *ud, cJSON *item);

/* Generated text of a response (whole or one stream frame's JSON). For
 * SSE frames, event is the frame's event name or NULL. */
void llm_visit_output(llm_api api, cJSON *root, llm_text_cb cb, void *ud);
/* Prompt text of a request body. */
void llm_visit_prompt(llm_api api, cJSON *root, llm_text_cb cb, void *ud);
/* Sets o[key] to the string text, replacing any member of that name.
 * Returns 0, or -1 when memory ran out. */
int llm_set_string(cJSON *o, const char *key, const char *text);
/* Inserts a system instruction in the request's own format. Returns 0 or
 * -1 (no memory, or a body this API does not allow it in). */
int llm_add_instruction(llm_api api, cJSON *root, const char *text);

/* Whether a stream frame's JSON ends the generated text (a finish reason,
 * content_block_stop, "done": true), and adds text to it so that text
 * still held back (a partial match) is not lost: returns true and sets
 * *extra_frame to a malloc'd frame to send before this one when the text
 * could not go inside it (Anthropic), else NULL. */
bool llm_frame_is_final(llm_api api, const cJSON *root);
int llm_frame_add_text(llm_api api, cJSON *root, const char *text, char **extra_frame);

/* Frames that end a stream cleanly after truncation ("length" finish
 * reasons and the terminator), with the ids and model of the stream's
 * first frame (first may be NULL), in the stream's framing (ARRAY: the
 * element after the last one kept, with its comma, and the closing
 * bracket). Malloc'd. */
char *llm_truncation_frames(llm_api api, llm_framing framing, const cJSON *first);

/* A frame that reports an error in the middle of a stream, as the
 * provider does (OpenAI: a data frame with "error"; OpenRouter: also a
 * choice with finish_reason "error"; Anthropic: `event: error`; Gemini:
 * a data frame with "error", or an element with "error" that closes the
 * streamed array; Ollama: an {"error"} line). Malloc'd. */
char *llm_stream_error_frame(llm_api api, llm_provider p, llm_framing framing);

/* The keep-alive frame a provider sends on an SSE stream while the model
 * is busy: OpenRouter's `: OPENROUTER PROCESSING` comment, Anthropic's
 * ping event, an SSE comment elsewhere (CRLF-terminated for Gemini). */
const char *llm_keepalive_frame(llm_api api, llm_provider p);

/* Whether a stream frame's payload is the stream terminator ([DONE]). */
bool llm_is_done_marker(const char *data);

#endif /* LLM_PROVIDER_H */
