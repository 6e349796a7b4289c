/*
 * plugins/otel/fuzz_otel.c - libFuzzer target for the otel plugin's
 * readers of the OTEL_* variables (otelcfg.c): key=value lists with
 * percent-decoding (resource attributes, then the same text as headers),
 * milliseconds and endpoint URLs. Any text parses or gives one reason,
 * never a crash, leak or undefined behaviour. What parses is checked: no
 * pair has an empty key or a control character (a decoded CR/LF would
 * smuggle a header), header names are HTTP tokens, a failed parse
 * appends nothing, and the pairs never outnumber the commas plus one.
 * Built and run by tests/fuzz/run.sh otel.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "otelcfg.h"

#include "fuzz_text.h"

static void check_pairs(const char *text, bool headers)
{
    otel_kv *kv = NULL;
    size_t n = 0, commas = 0;
    char err[256] = "";
    for (const char *p = text; *p; p++)
        commas += *p == ',';
    int rc = otel_kv_parse(text, headers, &kv, &n, err, sizeof err);
    if (rc != 0 && (n != 0 || !err[0]))
        abort();
    if (n > commas + 1)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (!kv[i].key[0])
            abort();
        for (const char *s = kv[i].key; *s; s++)
            if ((unsigned char)*s < 32 || *s == 127 || (headers && (*s == ':' || *s == ' ')))
                abort();
        for (const char *s = kv[i].value; *s; s++)
            if (*s == '\r' || *s == '\n')
                abort();
    }
    otel_kv_free(kv, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    if (!text)
        return 0;
    check_pairs(text, false);
    check_pairs(text, true);
    long ms = -1;
    if (otel_parse_ms(text, &ms) == 0 && (ms < 0 || ms > 3600000))
        abort();
    char err[512] = "";
    if (otel_check_url(text, err, sizeof err) == 0) {
        if (strncmp(text, "http://", 7) != 0 && strncmp(text, "https://", 8) != 0)
            abort();
        if (strpbrk(text, " \t\r\n"))
            abort();
    } else if (!err[0]) {
        abort();
    }
    free(text);
    return 0;
}
