/*
 * plugins/bandwidth/bandwidth.c - placeholder: the bandwidth fault is being written.
 */
#include "config.h"

#include <fault/plugin.h>

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "bandwidth", .version = PACKAGE_VERSION,
                    .summary = "bandwidth (not implemented yet)", .license = "Apache-2.0");
