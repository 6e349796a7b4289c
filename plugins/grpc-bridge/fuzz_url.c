/*
 * plugins/grpc-bridge/fuzz_url.c - libFuzzer target for the URL of a
 * remote plugin (url.c, --grpc-plugin): any text either gives a gRPC
 * target or one error naming the URL, never a crash, leak or undefined
 * behaviour. What parses is checked: a target is never empty, an http(s)
 * target always carries a port of 1 to 65535 after its last colon (or
 * after the ']' of an IPv6 address), and TLS is asked for by https only.
 * Built and run by tests/fuzz/run.sh url.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "url.h"

#include "fuzz_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url = fuzz_text(data, size);
    if (!url)
        return 0;
    char *target = NULL, err[512] = "";
    bool tls = true;
    int rc = gb_parse_url(url, &target, &tls, err, sizeof err);
    if (rc == 0) {
        if (!target || !*target)
            abort();
        if (tls != (strncasecmp(url, "https://", 8) == 0))
            abort();
        if (strncasecmp(url, "unix:", 5) != 0) {
            const char *close = target[0] == '[' ? strchr(target, ']') : NULL;
            const char *colon = close ? close + 1 : strrchr(target, ':');
            if (!colon || *colon != ':')
                abort();
            char *end;
            unsigned long port = strtoul(colon + 1, &end, 10);
            if (*end || port < 1 || port > 65535)
                abort();
        }
        free(target);
    } else if (rc != FAULT_EINVAL || target || strncmp(err, "--grpc-plugin '", 15) != 0) {
        abort();
    }
    free(url);
    return 0;
}
