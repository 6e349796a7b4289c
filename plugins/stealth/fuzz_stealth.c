/*
 * plugins/stealth/fuzz_stealth.c - libFuzzer target for stealth mode's
 * parsers (parse.c): the input, as one NUL-terminated string, is read as
 * a peer address and as a mountinfo line. Built and run by
 * tests/fuzz/run.sh stealth.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stealth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    stealth_endpoint ep;
    if (stealth_parse_peer(s, &ep) == 0 && ep.family != 2 && ep.family != 10)
        abort();
    char path[64];
    if (stealth_mountinfo_cgroup2(s, path, sizeof path) == 0 && strlen(path) >= sizeof path)
        abort();
    free(s);
    return 0;
}
