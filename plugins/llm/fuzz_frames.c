/*
 * plugins/llm/fuzz_frames.c - libFuzzer target for the llm plugin's
 * streaming frame parser (frames.c) and SSE field reader.
 *
 * The first byte of the input picks the framing (SSE, NDJSON, JSON, ARRAY) and
 * the bound (16 to 527 bytes, so that oversized frames are common); the
 * second seeds the chunk sizes the rest is fed in (1 to 32 bytes, as
 * socket reads cut a stream anywhere). Checked on every input: what the
 * callbacks hand on, concatenated, is exactly the input (nothing lost,
 * duplicated or reordered); the parser never keeps more than the bound;
 * every parsed SSE frame reads cleanly, its data inside the frame's size.
 *
 * Build and run (not part of `make check`; needs clang), from the top of
 * the source tree:
 *
 *   tests/fuzz/run.sh llm
 *
 * or by hand:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined \
 *       -fno-sanitize-recover=undefined -I plugins/llm \
 *       plugins/llm/fuzz_frames.c plugins/llm/frames.c -o /tmp/fuzz_llm
 *   /tmp/fuzz_llm -max_total_time=60 -max_len=4096
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frames.h"

typedef struct out {
    uint8_t *p;
    size_t len;
    llm_framing kind;
} out;

static int take(void *ud, const uint8_t *p, size_t n, bool parsed)
{
    out *o = ud;
    memcpy(o->p + o->len, p, n);
    o->len += n;
    if (parsed && o->kind == LLM_FRAMING_SSE) {
        llm_sse e;
        if (llm_sse_read(p, n, &e) == 0) {
            if (e.data && (e.data_len > n || strlen(e.data) > e.data_len))
                abort();
            if (e.event && (e.event < p || e.event + e.event_len > p + n))
                abort();
            free(e.data);
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    llm_framing kind = (llm_framing)(data[0] % 4 + 1);
    size_t max = 16 + (size_t)(data[0] >> 2) * 8;
    uint32_t seed = data[1] * 2654435761u + 1;
    data += 2;
    size -= 2;
    out o = {malloc(size ? size : 1), 0, kind};
    llm_frames f;
    llm_frames_init(&f, kind, max);
    size_t i = 0;
    while (i < size) {
        seed = seed * 1103515245u + 12345u;
        size_t n = 1 + (seed >> 16) % 32;
        if (n > size - i)
            n = size - i;
        llm_frames_feed(&f, data + i, n, take, &o);
        if (llm_frames_pending(&f) > max)
            abort();
        i += n;
    }
    /* What is still held is the unfinished last frame. */
    if (o.len + llm_frames_pending(&f) != size || memcmp(o.p, data, o.len) != 0 ||
        memcmp(f.buf ? f.buf : (const uint8_t *)"", data + o.len, llm_frames_pending(&f)) != 0)
        abort();
    llm_frames_free(&f);
    free(o.p);
    return 0;
}
