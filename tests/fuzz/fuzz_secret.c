/*
 * tests/fuzz/fuzz_secret.c - libFuzzer target for <fault/secret.h>
 * (core/secret.c): the user's --mask patterns against header and query
 * parameter names that come from traffic, and URLs with their secrets
 * masked.
 *
 * The input is "PATTERNS\nURL": up to 8 comma-separated patterns (`*`
 * matches any run), then a URL as a client would send it. Checked on every
 * input: the masked URL is NUL-terminated inside its buffer and never
 * longer than it may be; masking is stable (masking the masked URL again
 * changes nothing); in the masked URL, the value of every query parameter
 * whose name is secret is the mask; a header name's verdict is the same
 * through fault_secret_name() and fault_secret_header(). A name from the
 * network is matched against every pattern, so the matching must stay
 * fast on long names and many stars (the libFuzzer -timeout catches it).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#include "fuzz_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    if (!text)
        return 0;
    char *nl = strchr(text, '\n');
    const char *url = nl ? nl + 1 : "";
    if (nl)
        *nl = '\0';

    /* The patterns, as --mask gives them. */
    const char *pats[8];
    fault_strv strv = {pats, 0};
    for (char *p = text; *p && strv.n < 8;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        pats[strv.n++] = p;
        if (!comma)
            break;
        p = comma + 1;
    }
    fault__secrets_set(&strv);

    /* Each secret value may grow to the mask: room for all of it. */
    size_t len = 4 * strlen(url) + 64;
    char *once = malloc(len), *twice = malloc(len);
    if (!once || !twice)
        abort();
    memset(once, 'Z', len);
    fault_secret_url(url, once, len);
    if (!memchr(once, '\0', len))
        abort();
    fault_secret_url(once, twice, len);
    if (strcmp(once, twice) != 0)
        abort(); /* masking what is masked changes nothing */

    /* Every secret parameter of the masked URL shows the mask. */
    const char *q = strchr(once, '?');
    if (q) {
        char *copy = strdup(q + 1);
        if (!copy)
            abort();
        copy[strcspn(copy, "#")] = '\0';
        for (char *save = NULL, *kv = strtok_r(copy, "&", &save); kv;
             kv = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(kv, '=');
            if (!eq)
                continue;
            *eq = '\0';
            if (fault__secret_param(kv) && strcmp(eq + 1, FAULT_SECRET_MASK) != 0)
                abort();
        }
        free(copy);
    }

    /* A header name: the two entry points agree. */
    const char *shown = fault_secret_header(url, "value");
    if ((shown != NULL && strcmp(shown, FAULT_SECRET_MASK) == 0) && !fault_secret_name(url))
        abort();

    fault__secrets_set(NULL);
    free(once);
    free(twice);
    free(text);
    return 0;
}
