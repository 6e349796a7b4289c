/*
 * plugins/scenario/scenario.c - placeholder: the scenario plugin is being written.
 */
#include "config.h"

#include <fault/plugin.h>

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_COMMAND, .name = "scenario", .version = PACKAGE_VERSION,
                    .summary = "scenario (not implemented yet)", .license = "Apache-2.0");
