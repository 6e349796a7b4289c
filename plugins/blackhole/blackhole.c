/*
 * plugins/blackhole/blackhole.c - placeholder: the blackhole fault is being written.
 */
#include "config.h"

#include <fault/plugin.h>

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "blackhole", .version = PACKAGE_VERSION,
                    .summary = "blackhole (not implemented yet)", .license = "Apache-2.0");
