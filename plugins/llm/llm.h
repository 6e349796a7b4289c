/*
 * plugins/llm/llm.h - what the llm plugin's files share: its state (the
 * options and the table of exchanges it follows) and one exchange's
 * progress through a response body.
 */
#ifndef LLM_LLM_H
#define LLM_LLM_H

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
    CASE_HTTP_ERROR,
    CASE_STALL,
    CASE_CORRUPT
};
enum { DIST_NORMAL = 0, DIST_UNIFORM, DIST_PARETO, DIST_FIXED };
enum { TRUNC_CLEAN = 0, TRUNC_ABRUPT, TRUNC_ERROR };
enum { CORRUPT_DUPLICATE = 0, CORRUPT_MALFORMED };
/* --llm-case, --truncate-mode and --corrupt-mode names, by value. */
extern const char *const llm_case_names[];
extern const char *const llm_trunc_names[];
extern const char *const llm_corrupt_names[];

#define LX_BUCKETS 64

typedef struct lx lx;

/* The end of one frame in a chunk's output, and how long after the frame
 * before it that frame leaves (0: as soon as it can). */
typedef struct llm_mark {
    size_t end;
    double delay_ms;
} llm_mark;

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
    int64_t stall_after;
    double stall_ms, keepalive_ms;
    int64_t corrupt_after;
    int corrupt_mode;
    int64_t max_frame, max_body, max_held;
    fault_schedule *sched;
    /* Derived. */
    fault_plugin *self;
    llm_regex scramble, bias;
    bool has_scramble, has_bias;
    lx *bucket[LX_BUCKETS];
} llm_state;

/* Text held back by inject-bias (a match the frame boundary may cut) is
 * bounded: past this, it goes out as it is. */
#define HELD_MAX 4096

struct lx {
    lx *next;
    fault_http_exchange *x;
    llm_state *st;
    llm_api api;
    llm_framing framing;
    bool watching;
    llm_frames fr;
    /* What the current chunk became, and where its frames end in it
     * (each with the delay before it may leave, stream-stall). */
    uint8_t *out;
    size_t out_len, out_cap;
    llm_mark *marks;
    size_t nmarks, marks_cap, mark_i, passed, resid;
    bool oom;
    bool paced;        /* a frame of this chunk has a delay */
    double pending_ms; /* delay for the next frame marked */
    /* Progress of the stream. */
    uint64_t frames; /* frames with data */
    bool ended;      /* the provider's own end was seen */
    bool truncated;  /* truncate-response: everything after is dropped */
    cJSON *first;    /* the stream's first JSON frame (ids, model) */
    bool block_open; /* Anthropic: a content block is open */
    double block_index;
    /* slow-stream */
    uint64_t next_at;
    bool first_done;
    double delayed_ms;
    uint64_t delayed_frames;
    /* stream-stall, corrupt-stream: done once */
    bool stalled, corrupted;
    /* inject-bias */
    char *held;
    bool final_frame, item_seen;
    unsigned replaced, dropped;
};

/* Publishes an applied fault naming the case, the request URL and extra. */
void llm_applied(llm_state *st, fault_http_exchange *x, fault_direction dir,
                 const fault_param *extra, size_t nextra);

/* body.c: one chunk of a watched response body (the on_body hook of the
 * exchange e follows). */
fault_action llm_body_chunk(lx *e, fault_http_exchange *x, fault_chunk *c, fault_verdict *v);
/* body.c: the end of that body (on_body_end): an unfinished last frame
 * goes out as it came. */
fault_action llm_body_end(lx *e, fault_http_exchange *x, fault_chunk *c, fault_verdict *v);

#endif /* LLM_LLM_H */
