/*
 * fault/log.h - logging that names who spoke.
 *
 * Every line carries the plugin name of the handle it was written through
 * ("core" for the host itself), so a log of a run with twenty plugins still
 * says which one complained. Destination and threshold come from
 * `--log-file`, `--log-stdout` and `--log-level` (FAULT_LOG_FILE,
 * FAULT_WITH_STDOUT_LOGGING, FAULT_LOG_LEVEL).
 */
#ifndef FAULT_LOG_H
#define FAULT_LOG_H

#include <fault/common.h>

FAULT_BEGIN_DECLS

typedef enum fault_log_level {
    FAULT_LOG_ERROR = 0,
    FAULT_LOG_WARN = 1,
    FAULT_LOG_INFO = 2,
    FAULT_LOG_DEBUG = 3,
    FAULT_LOG_TRACE = 4
} fault_log_level;

/* Writes one line. self may be NULL (the line is then attributed to "core").
 * A trailing newline in fmt is not needed. */
FAULT_API void fault_log(fault_plugin *self, fault_log_level level, const char *fmt, ...)
    FAULT_PRINTF(3, 4);

/* True when a line at this level would be written: guard costly messages. */
FAULT_API bool fault_log_enabled(fault_plugin *self, fault_log_level level);

#define fault_log_error(self, ...) fault_log((self), FAULT_LOG_ERROR, __VA_ARGS__)
#define fault_log_warn(self, ...)  fault_log((self), FAULT_LOG_WARN, __VA_ARGS__)
#define fault_log_info(self, ...)  fault_log((self), FAULT_LOG_INFO, __VA_ARGS__)
#define fault_log_debug(self, ...) fault_log((self), FAULT_LOG_DEBUG, __VA_ARGS__)

FAULT_END_DECLS

#endif /* FAULT_LOG_H */
