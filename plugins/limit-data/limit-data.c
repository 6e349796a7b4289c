/*
 * plugins/limit-data/limit-data.c - placeholder: the limit-data fault is being written.
 */
#include "config.h"

#include <fault/plugin.h>

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "limit-data", .version = PACKAGE_VERSION,
                    .summary = "limit-data (not implemented yet)", .license = "Apache-2.0");
