/*
 * plugins/slicer/slicer.c - placeholder: the slicer fault is being written.
 */
#include "config.h"

#include <fault/plugin.h>

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "slicer", .version = PACKAGE_VERSION,
                    .summary = "slicer (not implemented yet)", .license = "Apache-2.0");
