/*
 * plugins/llm/tests/test_llm.c - the llm plugin's pieces on their own:
 * the frame parser under every way of cutting a stream, its bound, text
 * replacement across frame boundaries, token drops, path recognition and
 * error shapes.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "frames.h"
#include "provider.h"
#include "text.h"

/* What the parser handed on: every byte (to compare with the input) and
 * the frames it parsed, separated by '|' (frames here contain no '|'). */
typedef struct sink {
    char all[8192];
    size_t alen;
    char frames[8192];
    size_t flen;
    int nframes, nraw;
} sink;

static int collect(void *ud, const uint8_t *p, size_t n, bool parsed)
{
    sink *k = ud;
    if (k->alen + n < sizeof k->all) {
        memcpy(k->all + k->alen, p, n);
        k->alen += n;
    }
    if (parsed) {
        if (k->flen + n + 1 < sizeof k->frames) {
            memcpy(k->frames + k->flen, p, n);
            k->flen += n;
            k->frames[k->flen++] = '|';
        }
        k->nframes++;
    } else if (n == 1 && p[0] == '\n' && k->flen >= 2 && k->frames[k->flen - 2] == '\r') {
        /* The LF of a CRLF cut from its frame: it goes on raw, and is
         * counted with that frame here. */
        k->frames[k->flen - 1] = '\n';
        k->frames[k->flen++] = '|';
    } else {
        k->nraw++;
    }
    return 0;
}

/* Feeds s cut at a and b (a <= b) and returns what came out. */
static void feed3(llm_framing kind, size_t max, const char *s, size_t a, size_t b, sink *k)
{
    llm_frames f;
    size_t n = strlen(s);
    memset(k, 0, sizeof *k);
    llm_frames_init(&f, kind, max);
    llm_frames_feed(&f, (const uint8_t *)s, a, collect, k);
    llm_frames_feed(&f, (const uint8_t *)s + a, b - a, collect, k);
    llm_frames_feed(&f, (const uint8_t *)s + b, n - b, collect, k);
    k->all[k->alen] = '\0';
    k->frames[k->flen] = '\0';
    llm_frames_free(&f);
}

/* Every two-cut split of s gives the same frames, the bytes unchanged. */
static void every_split(llm_framing kind, const char *s, const char *want_frames)
{
    size_t n = strlen(s);
    int bad = 0;
    for (size_t a = 0; a <= n; a++) {
        for (size_t b = a; b <= n; b++) {
            sink k;
            feed3(kind, 4096, s, a, b, &k);
            if (k.alen != n || memcmp(k.all, s, n) != 0 || strcmp(k.frames, want_frames) != 0) {
                if (bad++ < 3)
                    fprintf(stderr, "split %zu/%zu: frames '%s'\n", a, b, k.frames);
            }
        }
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_frames(void)
{
    /* SSE with LF, a comment, an event name, CRLF events, a lone CR. */
    every_split(LLM_FRAMING_SSE,
                "data: {\"a\":1}\n\n: keep-alive\n\nevent: x\ndata: 2\n\n"
                "data: 3\r\n\r\ndata: 4\r\r",
                "data: {\"a\":1}\n\n|: keep-alive\n\n|event: x\ndata: 2\n\n|"
                "data: 3\r\n\r\n|data: 4\r\r|");
    every_split(LLM_FRAMING_NDJSON, "{\"a\":1}\n{\"b\":\"x\\ny\"}\r\n{\"done\":true}\n",
                "{\"a\":1}\n|{\"b\":\"x\\ny\"}\r\n|{\"done\":true}\n|");
    /* JSON: brackets inside strings, escaped quotes; what follows is raw. */
    every_split(LLM_FRAMING_JSON, "  {\"t\":\"}]\\\"{\",\"a\":[1,{\"b\":2}]}\n",
                "  {\"t\":\"}]\\\"{\",\"a\":[1,{\"b\":2}]}|");

    /* An unfinished frame is kept, not handed on. */
    sink k;
    feed3(LLM_FRAMING_SSE, 4096, "data: 1\n\ndata: 2\n", 3, 12, &k);
    CHECK_STR(k.all, "data: 1\n\n");
    CHECK_EQ_INT(k.nframes, 1);

    /* The bound: a 100-byte frame with max 32 goes on raw, whole, and
     * the next frame is parsed again; nothing kept beyond 32 bytes. */
    char big[256];
    snprintf(big, sizeof big, "data: %s\n\ndata: ok\n\n",
             "0123456789012345678901234567890123456789012345678901234567890123456789"
             "0123456789012345678901234");
    for (size_t a = 0; a < strlen(big); a += 7) {
        feed3(LLM_FRAMING_SSE, 32, big, a, a + (strlen(big) - a) / 2, &k);
        CHECK_STR(k.all, big);
        CHECK_STR(k.frames, "data: ok\n\n|");
    }
    llm_frames f;
    llm_frames_init(&f, LLM_FRAMING_NDJSON, 32);
    memset(&k, 0, sizeof k);
    for (int i = 0; i < 1000; i++)
        llm_frames_feed(&f, (const uint8_t *)"xxxxxxxxxx", 10, collect, &k);
    CHECK(llm_frames_pending(&f) <= 32);
    CHECK(f.cap <= 32);
    llm_frames_free(&f);

    /* JSON that is not an object or array: raw at once. */
    feed3(LLM_FRAMING_JSON, 4096, "\"just a string\"", 3, 5, &k);
    CHECK_EQ_INT(k.nframes, 0);
    CHECK_STR(k.all, "\"just a string\"");

    /* A streamed JSON array (Gemini without alt=sse): each element is a
     * frame, brackets and quotes in strings included; the bytes around
     * elements pass raw. */
    every_split(LLM_FRAMING_ARRAY,
                "[{\"t\":\"]},{\\\"\",\"a\":[{}]}\r\n,\r\n{\"b\":2} ,{\"c\":3}]\n",
                "{\"t\":\"]},{\\\"\",\"a\":[{}]}|{\"b\":2}|{\"c\":3}|");
    /* An element over the bound passes raw, the next one is parsed. */
    const char *arr = "[{\"t\":\"0123456789012345678901234567890123456789\"},\r\n{\"ok\":1}]";
    for (size_t a = 0; a < strlen(arr); a += 5) {
        feed3(LLM_FRAMING_ARRAY, 32, arr, a, a + (strlen(arr) - a) / 2, &k);
        CHECK_STR(k.all, arr);
        CHECK_STR(k.frames, "{\"ok\":1}|");
    }
    /* Not an array of objects: raw from there on. */
    feed3(LLM_FRAMING_ARRAY, 4096, "[{\"a\":1}, 2, {\"b\":1}]", 4, 9, &k);
    CHECK_STR(k.all, "[{\"a\":1}, 2, {\"b\":1}]");
    CHECK_STR(k.frames, "{\"a\":1}|");
    feed3(LLM_FRAMING_ARRAY, 4096, "{\"a\":1}", 2, 3, &k);
    CHECK_EQ_INT(k.nframes, 0);
}

static void test_sse_read(void)
{
    llm_sse e;
    const char *f = "event: content_block_delta\r\ndata: {\"a\":\r\ndata:1}\r\n: c\r\n\r\n";
    CHECK_EQ_INT(llm_sse_read((const uint8_t *)f, strlen(f), &e), 0);
    CHECK(e.event_len == 19 && memcmp(e.event, "content_block_delta", 19) == 0);
    CHECK_STR(e.data, "{\"a\":\n1}");
    free(e.data);
    CHECK_EQ_INT(llm_sse_read((const uint8_t *)": ping\n\n", 8, &e), 0);
    CHECK(e.data == NULL && e.event == NULL);
}

/* Applies the pattern to pieces as a stream would, holding back text. */
static char *stream_apply(llm_regex *r, const char *const *pieces, int n, unsigned *count)
{
    static char out[1024];
    char held[256] = "";
    out[0] = '\0';
    *count = 0;
    for (int i = 0; i < n; i++) {
        char s[512];
        snprintf(s, sizeof s, "%s%s", held, pieces[i]);
        size_t h;
        unsigned c;
        char *o = llm_regex_apply(r, s, strlen(s), i + 1 < n, &h, &c);
        strcat(out, o);
        free(o);
        snprintf(held, sizeof held, "%s", s + h);
        *count += c;
    }
    return out;
}

static void test_regex(void)
{
    llm_regex r;
    char err[128];
    unsigned n;
    CHECK_EQ_INT(llm_regex_compile(&r, "(?i)paris", "London", err, sizeof err), 0);
    const char *p1[] = {"The capital is Par", "is. PA", "RIS", " and pa", "r"};
    CHECK_STR(stream_apply(&r, p1, 5, &n), "The capital is London. London and par");
    CHECK_EQ_INT((int)n, 2);
    size_t h;
    char *o = llm_regex_apply(&r, "to Par", 6, true, &h, &n);
    CHECK_STR(o, "to ");
    CHECK_EQ_INT((int)h, 3);
    free(o);
    llm_regex_free(&r);

    /* Groups in the replacement, and a pattern that can match nothing. */
    CHECK_EQ_INT(llm_regex_compile(&r, "(\\w+)@(\\w+)", "$2 at $1", err, sizeof err), 0);
    o = llm_regex_apply(&r, "mail bob@host now", 17, false, &h, &n);
    CHECK_STR(o, "mail host at bob now");
    free(o);
    llm_regex_free(&r);
    CHECK_EQ_INT(llm_regex_compile(&r, "x*", "-", err, sizeof err), 0);
    o = llm_regex_apply(&r, "aé", 3, false, &h, &n);
    CHECK_STR(o, "-a-é-");
    free(o);
    llm_regex_free(&r);
    CHECK_EQ_INT(llm_regex_compile(&r, "(", "-", err, sizeof err), -1);
    CHECK_CONTAINS(err, "missing closing parenthesis");
}

static void test_tokens(void)
{
    fault_rng rng;
    fault_rng_seed(&rng, 1);
    unsigned d;
    char *o = llm_drop_tokens(" Paris is nice", 0, &rng, &d);
    CHECK_STR(o, " Paris is nice");
    free(o);
    o = llm_drop_tokens(" Paris is nice", 1, &rng, &d);
    CHECK_STR(o, "");
    CHECK_EQ_INT((int)d, 3);
    free(o);
    bool cut;
    o = llm_keep_tokens("a b  c d", 2, &cut);
    CHECK_STR(o, "a b");
    CHECK(cut);
    free(o);
}

static void test_detect(void)
{
    CHECK_EQ_INT(llm_detect("POST", "/v1/chat/completions"), LLM_API_CHAT);
    CHECK_EQ_INT(llm_detect("POST", "/api/v1/chat/completions?x=1"), LLM_API_CHAT);
    CHECK_EQ_INT(llm_detect("GET", "/v1/chat/completions"), LLM_API_NONE);
    CHECK_EQ_INT(llm_detect("POST", "/v1/responses"), LLM_API_RESPONSES);
    CHECK_EQ_INT(llm_detect("POST", "/v1/messages"), LLM_API_MESSAGES);
    CHECK_EQ_INT(llm_detect("POST", "/v1beta/models/g:streamGenerateContent?alt=sse"),
                 LLM_API_GEMINI);
    CHECK_EQ_INT(llm_detect("POST", "/api/chat"), LLM_API_OLLAMA_CHAT);
    CHECK_EQ_INT(llm_detect("POST", "/api/generate"), LLM_API_OLLAMA_GENERATE);
    CHECK_EQ_INT(llm_detect("POST", "/v1/embeddings"), LLM_API_NONE);
    CHECK_EQ_INT(llm_detect("POST", "/v1/messages/count_tokens"), LLM_API_NONE);
}

static void test_errors(void)
{
    for (int p = LLM_PROV_OPENAI; p <= LLM_PROV_OLLAMA; p++) {
        for (int k = LLM_ERR_RATE_LIMIT; k <= LLM_ERR_SERVER; k++) {
            const char *h[LLM_ERROR_HEADERS];
            char buf[1024];
            int status;
            char *b = llm_error_body(p, k, 0, 1500, &status, h, buf, sizeof buf);
            cJSON *j = cJSON_Parse(b);
            CHECK(j != NULL);
            CHECK(status >= 400 && status <= 599);
            int nh = 0;
            bool retry_false = false;
            while (h[nh]) {
                if (strcmp(h[nh], "x-should-retry") == 0)
                    retry_false = strcmp(h[nh + 1], "false") == 0;
                nh += 2;
            }
            CHECK(retry_false == (k == LLM_ERR_QUOTA));
            cJSON_Delete(j);
            free(b);
        }
    }
    const char *h[LLM_ERROR_HEADERS];
    char buf[1024];
    int status;
    char *b =
        llm_error_body(LLM_PROV_ANTHROPIC, LLM_ERR_OVERLOADED, 0, 0, &status, h, buf, sizeof buf);
    CHECK_EQ_INT(status, 529);
    CHECK_CONTAINS(b, "\"overloaded_error\"");
    free(b);
    b = llm_error_body(LLM_PROV_GEMINI, LLM_ERR_RATE_LIMIT, 503, 0, &status, h, buf, sizeof buf);
    CHECK_EQ_INT(status, 503);
    CHECK_CONTAINS(b, "\"UNAVAILABLE\"");
    free(b);
}

int main(void)
{
    test_frames();
    test_sse_read();
    test_regex();
    test_tokens();
    test_detect();
    test_errors();
    return check_done();
}
