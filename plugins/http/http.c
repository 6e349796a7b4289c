/*
 * plugins/http/http.c - placeholder: the http plugin is being written.
 */
#include "config.h"

#include <fault/plugin.h>

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_PROTOCOL, .name = "http", .version = PACKAGE_VERSION,
                    .summary = "http (not implemented yet)", .license = "Apache-2.0");
