/*
 * plugins/llm/text.c - pattern replacement and token drops on generated
 * or prompt text (see text.h).
 *
 * Matches that span frames: with PCRE2_PARTIAL_HARD, pcre2_match() says
 * when the subject ends inside what could still become a match (or a
 * longer one); the text from that point is held back and tried again with
 * the next frame's text in front of it, so "Par" + "is" is found like
 * "Paris". The caller bounds what it holds back.
 */
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int llm_regex_compile(llm_regex *r, const char *pattern, const char *repl, char *err, size_t errlen)
{
    int ec;
    PCRE2_SIZE eo;
    memset(r, 0, sizeof *r);
    r->re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &ec,
                          &eo, NULL);
    if (!r->re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof msg);
        snprintf(err, errlen, "at offset %zu: %s", (size_t)eo, (const char *)msg);
        return -1;
    }
    r->md = pcre2_match_data_create_from_pattern(r->re, NULL);
    if (!r->md) {
        snprintf(err, errlen, "out of memory");
        pcre2_code_free(r->re);
        r->re = NULL;
        return -1;
    }
    r->repl = repl ? repl : "";
    return 0;
}

void llm_regex_free(llm_regex *r)
{
    pcre2_match_data_free(r->md);
    pcre2_code_free(r->re);
    memset(r, 0, sizeof *r);
}

typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static char *sb_done(sbuf *b)
{
    if (!b->oom && !b->p)
        sb_add(b, "", 0);
    if (b->oom) {
        free(b->p);
        return NULL;
    }
    return b->p;
}

/* The replacement for the match in r->md, expanded ($1 ...). */
static void add_replacement(llm_regex *r, const char *s, size_t n, sbuf *b)
{
    PCRE2_UCHAR small[256];
    PCRE2_SIZE olen = sizeof small;
    uint32_t opts = PCRE2_SUBSTITUTE_MATCHED | PCRE2_SUBSTITUTE_REPLACEMENT_ONLY |
                    PCRE2_SUBSTITUTE_OVERFLOW_LENGTH;
    int rc = pcre2_substitute(r->re, (PCRE2_SPTR)s, n, 0, opts, r->md, NULL, (PCRE2_SPTR)r->repl,
                              PCRE2_ZERO_TERMINATED, small, &olen);
    if (rc >= 0) {
        sb_add(b, (const char *)small, olen);
        return;
    }
    if (rc != PCRE2_ERROR_NOMEMORY) {
        sb_add(b, r->repl, strlen(r->repl)); /* a bad reference: literal */
        return;
    }
    PCRE2_UCHAR *big = malloc(olen);
    if (!big) {
        b->oom = true;
        return;
    }
    rc = pcre2_substitute(r->re, (PCRE2_SPTR)s, n, 0, opts, r->md, NULL, (PCRE2_SPTR)r->repl,
                          PCRE2_ZERO_TERMINATED, big, &olen);
    if (rc >= 0)
        sb_add(b, (const char *)big, olen);
    free(big);
}

char *llm_regex_apply(llm_regex *r, const char *s, size_t n, bool partial, size_t *held,
                      unsigned *count)
{
    sbuf b = {0};
    size_t pos = 0;
    *held = n;
    *count = 0;
    while (pos <= n) {
        int rc = pcre2_match(r->re, (PCRE2_SPTR)s, n, pos, partial ? PCRE2_PARTIAL_HARD : 0, r->md,
                             NULL);
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->md);
        if (rc == PCRE2_ERROR_PARTIAL) {
            size_t at = ov[0] < pos ? pos : ov[0];
            sb_add(&b, s + pos, at - pos);
            *held = at;
            break;
        }
        if (rc < 0) {
            sb_add(&b, s + pos, n - pos);
            break;
        }
        size_t ms = ov[0], me = ov[1];
        sb_add(&b, s + pos, ms - pos);
        add_replacement(r, s, n, &b);
        (*count)++;
        if (me > ms) {
            pos = me;
            continue;
        }
        /* An empty match: keep one character (UTF-8) and go on. */
        if (ms >= n)
            break;
        size_t k = ms + 1;
        while (k < n && ((unsigned char)s[k] & 0xc0) == 0x80)
            k++;
        sb_add(&b, s + ms, k - ms);
        pos = k;
    }
    return sb_done(&b);
}

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Calls keep(i) for each token; a token is blanks then non-blanks. */
char *llm_drop_tokens(const char *s, double rate, fault_rng *rng, unsigned *dropped)
{
    sbuf b = {0};
    *dropped = 0;
    size_t i = 0, n = strlen(s);
    while (i < n) {
        size_t j = i;
        while (j < n && blank(s[j]))
            j++;
        bool word = j < n;
        while (j < n && !blank(s[j]))
            j++;
        if (word && fault_rng_bernoulli(rng, rate))
            (*dropped)++;
        else
            sb_add(&b, s + i, j - i);
        i = j;
    }
    return sb_done(&b);
}

char *llm_keep_tokens(const char *s, long max_tokens, bool *cut)
{
    sbuf b = {0};
    size_t i = 0, n = strlen(s);
    long k = 0;
    *cut = false;
    while (i < n) {
        size_t j = i;
        while (j < n && blank(s[j]))
            j++;
        while (j < n && !blank(s[j]))
            j++;
        if (k++ >= max_tokens) {
            *cut = true;
            break;
        }
        sb_add(&b, s + i, j - i);
        i = j;
    }
    return sb_done(&b);
}
