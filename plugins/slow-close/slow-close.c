/*
 * plugins/slow-close/slow-close.c - placeholder: the slow-close fault is being written.
 */
#include "config.h"

#include <fault/plugin.h>

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "slow-close", .version = PACKAGE_VERSION,
                    .summary = "slow-close (not implemented yet)", .license = "Apache-2.0");
