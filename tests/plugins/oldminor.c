/*
 * tests/plugins/oldminor.c - a fault plugin built as ABI 1.0 declared it.
 *
 * The loader accepts older minors of its major (tests/plugins/loader.sh),
 * and the host must also keep the promises of that minor
 * (tests/plugins/oldminor.sh). Under 1.0 a NULL detach meant "the host does
 * nothing with conn_state"; from 1.1 on it means free(conn_state). This
 * plugin hands out conn_state pointers into a static array, which free()
 * would abort on, and checks at destroy() that every slot is intact.
 */
#include <stdio.h>
#include <string.h>

#include <fault/plugin.h>

#define SLOTS 64
#define MAGIC 0x01d10u

typedef struct oldminor_state {
    bool enabled;
} oldminor_state;

static struct {
    unsigned magic;
    bool used;
} slots[SLOTS];
static unsigned attached;

static int attach(void *state, fault_stream *s, void **conn_state, uint32_t *points)
{
    (void)state;
    (void)s;
    *points = FAULT_POINT_CLIENT_EGRESS;
    unsigned i = attached++ % SLOTS;
    slots[i].magic = MAGIC;
    slots[i].used = true;
    *conn_state = &slots[i];
    return 0;
}

static fault_action on_data(void *state, void *conn_state, fault_stream *s, fault_side side,
                            fault_direction dir, fault_chunk *c, fault_verdict *v)
{
    (void)state;
    (void)conn_state;
    (void)s;
    (void)side;
    (void)dir;
    (void)c;
    (void)v;
    return FAULT_PASS;
}

static void destroy(fault_plugin *self, void *state)
{
    const oldminor_state *st = state;
    if (!st->enabled)
        return;
    unsigned intact = 0;
    for (unsigned i = 0; i < SLOTS; i++)
        if (slots[i].used && slots[i].magic == MAGIC)
            intact++;
    /* Printed for the test to read: stderr is where fault's own lines go. */
    fprintf(stderr, "oldminor: %u attached, %u conn_state intact\n", attached, intact);
    (void)self;
}

static const fault_stream_ops stream_ops = {
    .attach = attach, .on_data = on_data,
    /* .detach NULL: under ABI 1.0 the host leaves conn_state alone. */
};

static const fault_option options[] = {
    {.name = "with-oldminor",
     .type = FAULT_OPT_BOOL,
     .def = "false",
     .help = "Enable the ABI 1.0 test plugin",
     .offset = offsetof(oldminor_state, enabled),
     .flags = FAULT_OPTF_ENABLE},
    FAULT_OPTION_END,
};

FAULT_PLUGIN_EXPORT const fault_plugin_descriptor FAULT_PLUGIN_SYMBOL = {
    .magic = FAULT_PLUGIN_MAGIC,
    .abi_major = FAULT_ABI_MAJOR,
    .abi_minor = 0,
    .size = (uint32_t)sizeof(fault_plugin_descriptor),
    .kind = FAULT_KIND_FAULT,
    .name = "oldminor",
    .version = "0",
    .summary = "ABI 1.0 behaviour test",
    .options = options,
    .state_size = sizeof(oldminor_state),
    .destroy = destroy,
    .stream = &stream_ops,
};
