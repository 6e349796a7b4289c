/*
 * plugins/jitter/jitter.c - placeholder: the jitter fault is being written.
 */
#include "config.h"

#include <fault/plugin.h>

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "jitter", .version = PACKAGE_VERSION,
                    .summary = "jitter (not implemented yet)", .license = "Apache-2.0");
