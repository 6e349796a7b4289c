/*
 * plugins/scenario/fuzz_scenario.c - libFuzzer target for the scenario
 * loader: any bytes given as a scenario file must either load or yield one
 * "FILE:LINE:COLUMN: what" message, never crash, leak or hit undefined
 * behaviour. Built and run by plugins/scenario/fuzz.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sc_suite suite = {0};
    char err[1024];
    err[0] = '\0';
    int rc = sc_load_buffer("fuzz.yaml", (const char *)data, size, &suite, err, sizeof err);
    /* A failure must say where: the message starts with the file name
     * and a line and column. */
    if (rc != 0 && strncmp(err, "fuzz.yaml:", 10) != 0)
        __builtin_trap();
    /* What loaded must be usable by the writers. */
    for (size_t s = 0; s < suite.n; s++) {
        for (size_t i = 0; i < suite.scenarios[s].nitems; i++) {
            const sc_item *it = &suite.scenarios[s].items[i];
            cJSON *j = NULL;
            for (size_t f = 0; f < it->nfaults; f++) {
                char buf[512];
                char row[11];
                sc_fault_describe(&it->faults[f], buf, sizeof buf);
                sc_period_timeline(it->faults[f].period, it->strategy.duration_us, row);
                j = sc_fault_to_json(&it->faults[f], false);
                cJSON_Delete(j);
            }
        }
    }
    sc_suite_free(&suite);
    return 0;
}
