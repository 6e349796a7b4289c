/*
 * plugins/llm/body.c - response bodies of the exchanges the llm plugin
 * follows: each chunk is cut into frames (frames.c), each frame changed
 * for the case or handed on as it came, and the chunk replaced by the
 * result; slow-stream then lets it go frame by frame, each at its time.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm.h"

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

/* The end of one frame in the output: slow-stream and stream-stall release
 * frame by frame. The frame takes the pending delay, if any. */
static void out_mark(lx *e)
{
    if (e->oom || (e->nmarks && e->marks[e->nmarks - 1].end == e->out_len))
        return;
    if (e->nmarks == e->marks_cap) {
        size_t cap = e->marks_cap ? e->marks_cap * 2 : 16;
        llm_mark *m = realloc(e->marks, cap * sizeof *m);
        if (!m) {
            e->oom = true;
            return;
        }
        e->marks = m;
        e->marks_cap = cap;
    }
    e->marks[e->nmarks++] = (llm_mark){e->out_len, e->pending_ms};
    if (e->pending_ms > 0)
        e->paced = true;
    e->pending_ms = 0;
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
            llm_set_string(it, "finish_reason", "length");
        }
        break;
    case LLM_API_MESSAGES:
        llm_set_string(root, "stop_reason", "max_tokens");
        break;
    case LLM_API_GEMINI:
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "candidates"))
        {
            llm_set_string(it, "finishReason", "MAX_TOKENS");
        }
        break;
    case LLM_API_OLLAMA_CHAT:
    case LLM_API_OLLAMA_GENERATE:
        llm_set_string(root, "done_reason", "length");
        break;
    case LLM_API_RESPONSES:
        llm_set_string(root, "status", "incomplete");
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
        char *t = llm_truncation_frames(e->api, e->framing, e->first);
        if (t) {
            out_add(e, t, strlen(t));
            free(t);
        } else {
            e->oom = true;
        }
        out_mark(e);
    } else if (st->truncate_mode == TRUNC_ERROR) {
        char *t = llm_stream_error_frame(
            e->api, llm_provider_of(e->api, (llm_provider)st->provider), e->framing);
        if (t) {
            out_add(e, t, strlen(t));
            free(t);
        } else {
            e->oom = true;
        }
        out_mark(e);
    }
    fault_param p[] = {{"frames", NULL, (double)e->frames},
                       {"mode", llm_trunc_names[st->truncate_mode], 0}};
    llm_applied(st, e->x, FAULT_DIR_INGRESS, p, 2);
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

/* stream-stall: after this frame the stream is quiet for --stall-duration
 * (on SSE, with the provider's keep-alive every --stall-keepalive-interval
 * if set), then goes on. */
static void stall_now(lx *e)
{
    llm_state *st = e->st;
    double left = st->stall_ms;
    unsigned kept = 0;
    e->stalled = true;
    if (e->framing == LLM_FRAMING_SSE && st->keepalive_ms > 0) {
        const char *ka =
            llm_keepalive_frame(e->api, llm_provider_of(e->api, (llm_provider)st->provider));
        size_t k = strlen(ka);
        while (left >= st->keepalive_ms && !e->oom) {
            e->pending_ms = st->keepalive_ms;
            out_add(e, ka, k);
            out_mark(e);
            left -= st->keepalive_ms;
            kept++;
        }
    }
    e->pending_ms = left;
    fault_param p[] = {{"frames", NULL, (double)e->frames},
                       {"stall_ms", NULL, st->stall_ms},
                       {"keepalives", NULL, kept}};
    llm_applied(st, e->x, FAULT_DIR_INGRESS, p, 3);
}

/* corrupt-stream: the frame just put out (from `from` on) is sent twice,
 * or replaced by one whose JSON stops halfway. */
static void corrupt_now(lx *e, size_t from, const llm_sse *ev, const char *data, size_t dlen)
{
    llm_state *st = e->st;
    e->corrupted = true;
    if (st->corrupt_mode == CORRUPT_DUPLICATE) {
        size_t n = e->out_len - from;
        uint8_t *copy = malloc(n ? n : 1);
        if (!copy) {
            e->oom = true;
            return;
        }
        memcpy(copy, e->out + from, n);
        if (e->framing == LLM_FRAMING_ARRAY)
            out_add(e, ",\r\n", 3);
        out_add(e, copy, n);
        free(copy);
    } else {
        char *half = strndup(data, dlen / 2);
        if (!half) {
            e->oom = true;
            return;
        }
        e->out_len = from;
        if (e->framing == LLM_FRAMING_SSE) {
            out_sse(e, ev, half);
        } else {
            out_add(e, half, strlen(half));
            if (e->framing == LLM_FRAMING_NDJSON)
                out_add(e, "\n", 1);
        }
        free(half);
    }
    fault_param p[] = {{"frames", NULL, (double)e->frames},
                       {"mode", llm_corrupt_names[st->corrupt_mode], 0}};
    llm_applied(st, e->x, FAULT_DIR_INGRESS, p, 2);
}

static int on_frame(void *ud, const uint8_t *p, size_t n, bool parsed)
{
    lx *e = ud;
    llm_state *st = e->st;
    if (e->truncated)
        return 0; /* after the cut: dropped */
    if (!parsed && e->framing == LLM_FRAMING_ARRAY) {
        /* The bytes between elements leave with the element before them
         * (or, at the start of a chunk, the one after). */
        bool after_frame = e->nmarks && e->marks[e->nmarks - 1].end == e->out_len;
        out_add(e, p, n);
        if (after_frame && !e->oom)
            e->marks[e->nmarks - 1].end = e->out_len;
        return 0;
    }
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
    size_t from = e->out_len;
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
    if (st->case_ == CASE_CORRUPT && data && !e->corrupted &&
        e->frames >= (uint64_t)st->corrupt_after)
        corrupt_now(e, from, &ev, data, dlen);
    out_mark(e);
    if (st->case_ == CASE_STALL && data && !e->stalled && !was_ended &&
        e->frames >= (uint64_t)st->stall_after)
        stall_now(e);
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
    case DIST_FIXED:
        d = m;
        break;
    case DIST_UNIFORM:
        d = 2 * m * fault_rng_uniform(rng);
        break;
    case DIST_PARETO:
        d = fault_rng_pareto(rng, m * 2.0 / 3.0, 3.0);
        break; /* mean m */
    default:
        d = fault_rng_normal(rng, m, m / 4);
        break;
    }
    return d < 0 ? 0 : d;
}

/* Passes the next part of the chunk's output (the head of the stage): for
 * slow-stream, and in a chunk with a delayed frame (stream-stall), frame
 * by frame, each at its time; else all of it at once. */
static fault_action next_frame(lx *e, fault_chunk *c, fault_verdict *v)
{
    llm_state *st = e->st;
    bool slow = st->case_ == CASE_SLOW_STREAM;
    size_t total = e->out_len, end = total;
    while (e->mark_i < e->nmarks && e->marks[e->mark_i].end <= e->passed)
        e->mark_i++;
    /* Bytes that end no frame (the LF of a CRLF cut from its frame, the
     * bytes around Gemini's array elements) get no delay of their own. */
    bool frame = e->mark_i < e->nmarks;
    double d = 0;
    if ((slow || e->paced) && frame) {
        d = slow ? draw_delay(st) : e->marks[e->mark_i].delay_ms;
        end = e->marks[e->mark_i++].end;
    }
    v->bytes = end < total ? end - e->passed : 0;
    if (slow || e->paced) {
        if (slow && frame) {
            if (!e->first_done) {
                d += st->slow_first_ms;
                e->first_done = true;
            }
            e->delayed_ms += d;
            e->delayed_frames++;
        }
        uint64_t base = c->arrived_us > e->next_at ? c->arrived_us : e->next_at;
        e->next_at = base + (uint64_t)llround(d * 1000.0);
        v->until_us = e->next_at;
    }
    e->passed = end;
    e->resid = total - end;
    return FAULT_PASS;
}

fault_action llm_body_chunk(lx *e, fault_http_exchange *x, fault_chunk *c, fault_verdict *v)
{
    llm_state *st = e->st;
    if (e->resid) {
        if (c->len == e->resid)
            return next_frame(e, c, v);
        e->resid = 0; /* not ours after all (cannot happen): start over */
    }
    e->out_len = e->nmarks = e->mark_i = e->passed = 0;
    e->oom = e->paced = false;
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

fault_action llm_body_end(lx *e, fault_http_exchange *x, fault_chunk *c, fault_verdict *v)
{
    /* After the frames held back by slow-stream or a stall, not before. */
    v->until_us = e->next_at;
    size_t n = llm_frames_pending(&e->fr);
    if (n == 0 || e->truncated)
        return FAULT_PASS;
    /* A last frame without its terminator (a provider cut off, a
     * malformed stream): it is nothing to change, and goes out as it
     * came. */
    if (fault_chunk_replace(fault_http_stream(x), c, e->fr.buf, n) < 0)
        return FAULT_RESET;
    e->fr.len = 0;
    return FAULT_PASS;
}
