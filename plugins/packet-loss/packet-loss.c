/*
 * plugins/packet-loss/packet-loss.c - placeholder: the packet-loss fault is being written.
 */
#include "config.h"

#include <fault/plugin.h>

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "packet-loss", .version = PACKAGE_VERSION,
                    .summary = "packet-loss (not implemented yet)", .license = "Apache-2.0");
