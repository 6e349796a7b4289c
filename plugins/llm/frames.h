/*
 * plugins/llm/frames.h - cuts a streamed LLM response body into frames,
 * whatever the chunk boundaries, in bounded memory.
 *
 * Three framings:
 *   SSE     server-sent events: a frame is every line up to and including
 *           the empty line that ends an event (lines end with CRLF, LF or
 *           CR, as the EventSource grammar allows);
 *   NDJSON  one JSON document per line (Ollama): a frame is a line with
 *           its terminator;
 *   JSON    a whole (non-streamed) body holding one JSON value: the frame
 *           ends where that value closes (brackets counted outside
 *           strings); bytes after it pass through raw.
 *   ARRAY   an incrementally streamed JSON array of objects (Gemini's
 *           streamGenerateContent without alt=sse: `[{...},\r\n{...}]`):
 *           a frame is one element, from its `{` to its `}`; the bytes
 *           around elements (`[`, the commas and white space, `]`) are
 *           handed on raw as they come. An element that is not an object
 *           makes the rest of the body raw.
 *
 * The parser copies at most `max` bytes of an unfinished frame. A frame
 * that grows past the bound is given up: what was kept and every later
 * byte of that frame are handed on raw (unparsed) as they come, and
 * parsing resumes with the next frame (JSON: with nothing, the body is
 * raw to its end). So memory per body is max bytes whatever the stream's
 * length, and no byte is ever lost or reordered: concatenating the
 * callbacks' bytes gives back exactly what was fed.
 */
#ifndef LLM_FRAMES_H
#define LLM_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum llm_framing {
    LLM_FRAMING_SSE = 1,
    LLM_FRAMING_NDJSON = 2,
    LLM_FRAMING_JSON = 3,
    LLM_FRAMING_ARRAY = 4
} llm_framing;

/* A complete frame (parsed true) or a piece of raw bytes that are not
 * parsed (an oversized frame, bytes after a JSON body). Return 0, or a
 * negative value to stop feeding (returned by llm_frames_feed()). */
typedef int (*llm_frame_cb)(void *ud, const uint8_t *p, size_t n, bool parsed);

typedef struct llm_frames {
    llm_framing kind;
    size_t max;   /* bound on a kept frame */
    uint8_t *buf; /* the unfinished frame */
    size_t len, cap;
    bool raw;  /* inside an oversized frame: bytes go on raw */
    bool done; /* JSON: the value closed; the rest is raw */
    /* Line state (SSE, NDJSON). */
    bool prev_cr;    /* the last byte was a CR ending a line */
    size_t line_len; /* bytes in the current line so far */
    /* JSON state. */
    unsigned depth;
    bool started, in_str, esc;
    bool elem; /* ARRAY: inside an element */
} llm_frames;

void llm_frames_init(llm_frames *f, llm_framing kind, size_t max);
void llm_frames_free(llm_frames *f);
/* Feeds bytes; calls cb for each frame or raw piece completed by them, in
 * order. Returns 0, the callback's negative value, or -12 (ENOMEM). */
int llm_frames_feed(llm_frames *f, const uint8_t *p, size_t n, llm_frame_cb cb, void *ud);
/* Bytes of an unfinished frame kept so far. */
size_t llm_frames_pending(const llm_frames *f);

/* ---- reading an SSE frame ---- */

/* The fields of one SSE frame that matter here, pointing into the frame:
 * the event name (NULL when none), and the data (the lines joined by
 * "\n" as the grammar says, in a buffer of the caller's). */
typedef struct llm_sse {
    const uint8_t *event;
    size_t event_len;
    char *data; /* NUL-terminated; NULL when the frame has no data field */
    size_t data_len;
} llm_sse;

/* Reads frame p[0..n) into *e; data is malloc'd (free() it). Returns 0 or
 * -12 (ENOMEM). */
int llm_sse_read(const uint8_t *p, size_t n, llm_sse *e);

#endif /* LLM_FRAMES_H */
