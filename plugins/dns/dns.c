/*
 * plugins/dns/dns.c - placeholder: the dns fault is being written.
 */
#include "config.h"

#include <fault/plugin.h>

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "dns", .version = PACKAGE_VERSION,
                    .summary = "dns (not implemented yet)", .license = "Apache-2.0");
