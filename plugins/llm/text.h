/*
 * plugins/llm/text.h - changing text: pattern replacement (PCRE2) that can
 * hold back a possible match cut by a frame boundary, and token drops.
 */
#ifndef LLM_TEXT_H
#define LLM_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <fault/rng.h>

typedef struct llm_regex {
    pcre2_code *re;
    pcre2_match_data *md;
    const char *repl; /* PCRE2 substitution syntax: $1, ${name}, $$ */
} llm_regex;

/* Compiles pattern (UTF-8; "(?i)" and the like inline). Returns 0, or -1
 * with a message in err. */
int llm_regex_compile(llm_regex *r, const char *pattern, const char *repl, char *err,
                      size_t errlen);
void llm_regex_free(llm_regex *r);

/* Replaces every match in s[0..n). With partial, a match that the end of
 * s may cut (more text could complete it) is neither replaced nor put
 * out: *held says where it starts (n when nothing is held back), and the
 * caller passes s[*held..n) again in front of the next text. Returns the
 * new text (malloc'd, NUL-terminated) or NULL (no memory); *count gets the
 * number of replacements. */
char *llm_regex_apply(llm_regex *r, const char *s, size_t n, bool partial, size_t *held,
                      unsigned *count);

/* Drops each token (a word with the blanks before it) with probability
 * rate. Returns the new text (malloc'd) or NULL; *dropped counts them. */
char *llm_drop_tokens(const char *s, double rate, fault_rng *rng, unsigned *dropped);

/* Keeps the first max_tokens tokens of s (malloc'd); *cut tells whether
 * anything was removed. */
char *llm_keep_tokens(const char *s, long max_tokens, bool *cut);

#endif /* LLM_TEXT_H */
