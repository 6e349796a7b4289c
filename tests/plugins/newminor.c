/*
 * tests/plugins/newminor.c - a fault plugin declaring ABI minor (FAULT_ABI_MINOR + 1): the
 * loader accepts older minors of its major and refuses newer ones.
 */
#include <fault/plugin.h>

FAULT_PLUGIN_EXPORT const fault_plugin_descriptor FAULT_PLUGIN_SYMBOL = {
    .magic = FAULT_PLUGIN_MAGIC,
    .abi_major = FAULT_ABI_MAJOR,
    .abi_minor = FAULT_ABI_MINOR + 1,
    .size = (uint32_t)sizeof(fault_plugin_descriptor),
    .kind = FAULT_KIND_FAULT,
    .name = "newminor",
    .version = "0",
};
