/*
 * plugins/http-response/http-response.c - placeholder: the http-response plugin is being written.
 */
#include "config.h"

#include <fault/plugin.h>

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_FAULT, .name = "http-response", .version = PACKAGE_VERSION,
                    .summary = "http-response (not implemented yet)", .license = "Apache-2.0");
