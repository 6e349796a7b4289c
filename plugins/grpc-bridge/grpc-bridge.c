/*
 * plugins/grpc-bridge/grpc-bridge.c - placeholder: the grpc-bridge plugin is being written.
 */
#include "config.h"

#include <fault/plugin.h>

FAULT_PLUGIN_DEFINE(.kind = FAULT_KIND_BRIDGE, .name = "grpc-bridge", .version = PACKAGE_VERSION,
                    .summary = "grpc-bridge (not implemented yet)", .license = "Apache-2.0");
