/*
 * tests/plugins/badabi.c - a plugin that claims a future ABI major. The
 * loader must refuse it with one line naming the file and both ABIs, and
 * carry on with the other plugins.
 */
#include <fault/plugin.h>

FAULT_PLUGIN_EXPORT const fault_plugin_descriptor FAULT_PLUGIN_SYMBOL = {
    .magic = FAULT_PLUGIN_MAGIC,
    .abi_major = FAULT_ABI_MAJOR + 1,
    .abi_minor = 0,
    .size = (uint32_t)sizeof(fault_plugin_descriptor),
    .kind = FAULT_KIND_FAULT,
    .name = "badabi",
    .version = "0",
};
