/*
 * plugins/reset-peer/reset-peer.c - placeholder: the reset-peer fault is being written.
 */
#include "config.h"

#include <fault/plugin.h>

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "reset-peer", .version = PACKAGE_VERSION,
                    .summary = "reset-peer (not implemented yet)", .license = "Apache-2.0");
