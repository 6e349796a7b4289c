/*
 * plugins/demo/demo.c - placeholder: the demo plugin is being written.
 */
#include "config.h"

#include <fault/plugin.h>

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_COMMAND, .name = "demo", .version = PACKAGE_VERSION,
                    .summary = "demo (not implemented yet)", .license = "Apache-2.0");
