/*
 * plugins/llm/frames.c - the streaming frame parser (see frames.h).
 *
 * One pass per byte with a little state (line length, a pending CR,
 * bracket depth and string state for JSON), so frames are found across
 * any chunk boundary without looking back. Frames that arrive whole in
 * one chunk are handed on from the caller's buffer without a copy; only
 * the unfinished tail of a chunk is copied, up to the bound.
 */
#include "frames.h"

#include <stdlib.h>
#include <string.h>

#define E_NOMEM (-12)

void llm_frames_init(llm_frames *f, llm_framing kind, size_t max)
{
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->max = max ? max : 1;
}

void llm_frames_free(llm_frames *f)
{
    free(f->buf);
    f->buf = NULL;
    f->len = f->cap = 0;
}

size_t llm_frames_pending(const llm_frames *f)
{
    return f->len;
}

static int keep(llm_frames *f, const uint8_t *p, size_t n)
{
    if (f->len + n > f->cap) {
        size_t cap = f->cap ? f->cap : 256;
        while (cap < f->len + n)
            cap *= 2;
        if (cap > f->max && f->len + n <= f->max)
            cap = f->max;
        uint8_t *b = realloc(f->buf, cap);
        if (!b)
            return E_NOMEM;
        f->buf = b;
        f->cap = cap;
    }
    memcpy(f->buf + f->len, p, n);
    f->len += n;
    return 0;
}

enum { STEP_MORE = 0, STEP_END = 1, STEP_GIVE_UP = 2 };

/* One byte of a line-based framing. */
static int step_lines(llm_frames *f, uint8_t ch)
{
    bool eol = false;
    if (f->kind == LLM_FRAMING_NDJSON) {
        if (ch == '\n')
            return STEP_END;
        return STEP_MORE;
    }
    if (ch == '\n') {
        if (f->prev_cr) { /* the LF of a CRLF whose CR ended the line */
            f->prev_cr = false;
            return STEP_MORE;
        }
        eol = true;
    } else if (ch == '\r') {
        f->prev_cr = true;
        eol = true;
    } else {
        f->prev_cr = false;
        f->line_len++;
    }
    if (!eol)
        return STEP_MORE;
    if (f->line_len == 0)
        return STEP_END; /* an empty line ends the event */
    f->line_len = 0;
    return STEP_MORE;
}

static int step_json(llm_frames *f, uint8_t ch)
{
    if (f->in_str) {
        if (f->esc)
            f->esc = false;
        else if (ch == '\\')
            f->esc = true;
        else if (ch == '"')
            f->in_str = false;
        return STEP_MORE;
    }
    switch (ch) {
    case ' ':
    case '\t':
    case '\r':
    case '\n':
        return STEP_MORE;
    case '"':
        if (!f->started)
            return STEP_GIVE_UP; /* a bare string: nothing to rewrite */
        f->in_str = true;
        return STEP_MORE;
    case '{':
    case '[':
        f->started = true;
        f->depth++;
        return STEP_MORE;
    case '}':
    case ']':
        if (!f->started || f->depth == 0)
            return STEP_GIVE_UP;
        return --f->depth == 0 ? STEP_END : STEP_MORE;
    default:
        return f->started ? STEP_MORE : STEP_GIVE_UP;
    }
}

/* A frame whose last byte is p[end - 1] and whose bytes from p[start] on
 * follow what was kept: handed on parsed, or raw when it outgrew the
 * bound. */
static int frame_done(llm_frames *f, const uint8_t *p, size_t start, size_t end, llm_frame_cb cb,
                      void *ud)
{
    int rc;
    if (!f->raw && f->len + (end - start) > f->max) {
        /* Its last byte takes it over the bound: raw, as the bytes of
         * any frame that outgrew it. */
        if (f->len && (rc = cb(ud, f->buf, f->len, false)) < 0)
            return rc;
        f->len = 0;
        f->raw = true;
    }
    if (f->raw) {
        f->raw = false;
        return cb(ud, p + start, end - start, false);
    }
    if (f->len) {
        if ((rc = keep(f, p + start, end - start)) < 0)
            return rc;
        size_t len = f->len;
        f->len = 0;
        return cb(ud, f->buf, len, true);
    }
    return cb(ud, p + start, end - start, true);
}

/* An unfinished frame outgrew the bound: what was kept goes on raw, and
 * so will the rest of the frame. */
static int give_up(llm_frames *f, llm_frame_cb cb, void *ud)
{
    int rc = 0;
    if (f->len) {
        rc = cb(ud, f->buf, f->len, false);
        f->len = 0;
    }
    f->raw = true;
    return rc < 0 ? rc : 0;
}

/* ARRAY: elements are frames, the bytes between them raw. */
static int feed_array(llm_frames *f, const uint8_t *p, size_t n, llm_frame_cb cb, void *ud)
{
    size_t start = 0;
    int rc;
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = p[i];
        if (!f->elem) {
            if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || (f->started && ch == ','))
                continue;
            if (!f->started && ch == '[') {
                f->started = true;
                continue;
            }
            if (!f->started || ch != '{') {
                /* The array's end, or not an array of objects: the rest
                 * of the body is raw. */
                f->done = true;
                return cb(ud, p + start, n - start, false);
            }
            if (i > start && (rc = cb(ud, p + start, i - start, false)) < 0)
                return rc;
            start = i;
            f->elem = true;
            f->depth = 0;
            f->in_str = f->esc = false;
        }
        if (step_json(f, ch) == STEP_END) {
            if ((rc = frame_done(f, p, start, i + 1, cb, ud)) < 0)
                return rc;
            start = i + 1;
            f->elem = false;
            continue;
        }
        if (!f->raw && f->len + (i + 1 - start) > f->max && (rc = give_up(f, cb, ud)) < 0)
            return rc;
    }
    if (start < n) {
        if (!f->elem || f->raw)
            return cb(ud, p + start, n - start, false);
        return keep(f, p + start, n - start);
    }
    return 0;
}

int llm_frames_feed(llm_frames *f, const uint8_t *p, size_t n, llm_frame_cb cb, void *ud)
{
    size_t start = 0;
    int rc;
    if (f->done)
        return n ? cb(ud, p, n, false) : 0;
    if (f->kind == LLM_FRAMING_ARRAY)
        return feed_array(f, p, n, cb, ud);
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = p[i];
        if (f->kind == LLM_FRAMING_SSE && f->prev_cr && ch == '\n' && f->line_len == 0 &&
            f->len == 0 && i == start && !f->raw) {
            /* The LF of a CRLF whose CR ended the previous frame (the
             * chunk ended between the two): it belongs to that frame,
             * and goes on at once. */
            f->prev_cr = false;
            if ((rc = cb(ud, p + i, 1, false)) < 0)
                return rc;
            start = i + 1;
            continue;
        }
        int s = f->kind == LLM_FRAMING_JSON ? step_json(f, ch) : step_lines(f, ch);
        if (s == STEP_END) {
            size_t end = i + 1;
            /* A CRLF ending an SSE event: keep the LF with it if here. */
            if (f->kind == LLM_FRAMING_SSE && ch == '\r' && end < n && p[end] == '\n') {
                end++;
                f->prev_cr = false;
                i++;
            }
            if ((rc = frame_done(f, p, start, end, cb, ud)) < 0)
                return rc;
            start = end;
            if (f->kind == LLM_FRAMING_JSON) {
                f->done = true;
                return end < n ? cb(ud, p + end, n - end, false) : 0;
            }
            continue;
        }
        if (s == STEP_GIVE_UP || (!f->raw && f->len + (i + 1 - start) > f->max)) {
            /* Too large (or not a JSON object/array): hand on what was
             * kept and go on raw to the end of this frame. */
            if ((rc = give_up(f, cb, ud)) < 0)
                return rc;
            if (f->kind == LLM_FRAMING_JSON) {
                f->done = true;
                return cb(ud, p + start, n - start, false);
            }
        }
    }
    if (start < n) {
        if (f->raw)
            return cb(ud, p + start, n - start, false);
        return keep(f, p + start, n - start);
    }
    return 0;
}

/* ---- reading an SSE frame ---- */

int llm_sse_read(const uint8_t *p, size_t n, llm_sse *e)
{
    memset(e, 0, sizeof *e);
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && p[j] != '\n' && p[j] != '\r')
            j++;
        const uint8_t *line = p + i;
        size_t ll = j - i;
        /* Past the terminator (CRLF counts once). */
        if (j < n && p[j] == '\r' && j + 1 < n && p[j + 1] == '\n')
            j++;
        i = j + 1;
        if (ll == 0 || line[0] == ':')
            continue;
        const uint8_t *colon = memchr(line, ':', ll);
        size_t fl = colon ? (size_t)(colon - line) : ll;
        const uint8_t *v = colon ? colon + 1 : line + ll;
        size_t vl = (size_t)(line + ll - v);
        if (vl && *v == ' ') {
            v++;
            vl--;
        }
        if (fl == 5 && memcmp(line, "event", 5) == 0) {
            e->event = v;
            e->event_len = vl;
        } else if (fl == 4 && memcmp(line, "data", 4) == 0) {
            size_t add = vl + (e->data ? 1 : 0);
            char *d = realloc(e->data, e->data_len + add + 1);
            if (!d) {
                free(e->data);
                e->data = NULL;
                return E_NOMEM;
            }
            if (e->data)
                d[e->data_len++] = '\n';
            memcpy(d + e->data_len, v, vl);
            e->data_len += vl;
            d[e->data_len] = '\0';
            e->data = d;
        }
    }
    return 0;
}
