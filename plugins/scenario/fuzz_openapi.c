/*
 * plugins/scenario/fuzz_openapi.c - libFuzzer target for the OpenAPI
 * reader: any bytes given as an OpenAPI document (JSON or YAML) must
 * either be read, with the eight scenarios of each operation generated and
 * written as YAML, or be refused with a message; never crash, leak, loop
 * on $ref cycles or blow up on aliases. Built and run by
 * plugins/scenario/fuzz.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sc_api api;
    char err[1024];
    if (sc_openapi_parse("fuzz", (const char *)data, size, "http://127.0.0.1:1/spec", &api, err,
                         sizeof err) != 0)
        return 0;
    /* Bounded work per input: the first few operations are enough. Each
     * one is generated; what one of them generated (picked by the input's
     * first byte, so every operation can be picked) is written as YAML and
     * loaded again. Writing and loading the scenarios of all of them took
     * four fifths of the time of an input: the writer and the loader are
     * the same code for every operation, and the loader has its own
     * target (fuzz_scenario). */
    size_t nops = api.nops < 8 ? api.nops : 8;
    size_t check = nops ? (size ? data[0] : 0) % nops : 0;
    for (size_t i = 0; i < nops; i++) {
        cJSON *docs = cJSON_CreateArray();
        if (docs && sc_generate_for(&api, &api.ops[i], docs) == 0 && i == check) {
            sc_buf out = {0};
            for (cJSON *d = docs->child; d; d = d->next)
                sc_yaml_emit(&out, d, true);
            /* What was generated must load as a scenario file again
             * (unless a path parameter has no example). */
            sc_suite suite = {0};
            char lerr[1024];
            if (out.p)
                sc_load_buffer("generated.yaml", out.p, out.len, &suite, lerr, sizeof lerr);
            sc_suite_free(&suite);
            sc_buf_free(&out);
        }
        cJSON_Delete(docs);
    }
    sc_api_free(&api);
    return 0;
}
