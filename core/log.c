/*
 * core/log.c - log lines that name the plugin that wrote them.
 *
 * Off unless --log-file or --log-stdout asks for it, as in the original
 * tool; the threshold comes from --log-level, whose value may be written in
 * the original's filter syntax ("info,tower_http=debug"): the first bare
 * level is used and per-target directives are ignored.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "internal.h"

static FILE *log_file;
static bool log_stdout;
static fault_log_level log_level = FAULT_LOG_INFO;

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG", "TRACE"};

static int parse_level(const char *text, fault_log_level *out)
{
    static const struct {
        const char *name;
        fault_log_level lvl;
    } names[] = {
        {"error", FAULT_LOG_ERROR}, {"warn", FAULT_LOG_WARN},   {"warning", FAULT_LOG_WARN},
        {"info", FAULT_LOG_INFO},   {"debug", FAULT_LOG_DEBUG}, {"trace", FAULT_LOG_TRACE},
    };
    const char *p = text;
    while (*p) {
        size_t n = strcspn(p, ",");
        /* Directives with '=' address one target of the original tool. */
        if (memchr(p, '=', n) == NULL && n > 0) {
            for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
                if (strlen(names[i].name) == n && strncasecmp(p, names[i].name, n) == 0) {
                    *out = names[i].lvl;
                    return 0;
                }
            }
            return FAULT_ESYNTAX;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

int fault__log_setup(const char *file, bool to_stdout, const char *level, char *err, size_t errlen)
{
    if (level && parse_level(level, &log_level) != 0) {
        snprintf(err, errlen, "--log-level: '%s' is not a level (error, warn, info, debug, trace)",
                 level);
        return FAULT_ESYNTAX;
    }
    if (file && *file) {
        log_file = fault__open_output(file, true);
        if (!log_file) {
            snprintf(err, errlen, "--log-file: cannot open '%s': %s", file,
                     errno == ELOOP ? "a symbolic link to a file (not followed)" : strerror(errno));
            return -errno;
        }
        setvbuf(log_file, NULL, _IOLBF, 0);
    }
    log_stdout = to_stdout;
    return 0;
}

void fault__log_close(void)
{
    if (log_file)
        fclose(log_file);
    log_file = NULL;
    log_stdout = false;
}

bool fault_log_enabled(fault_plugin *self, fault_log_level level)
{
    (void)self;
    return (log_file || log_stdout) && level <= log_level;
}

void fault_log(fault_plugin *self, fault_log_level level, const char *fmt, ...)
{
    if (!fault_log_enabled(self, level))
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    const char *who = self ? fault_plugin_name(self) : "core";
    const char *lvl = level_names[level <= FAULT_LOG_TRACE ? level : FAULT_LOG_TRACE];
    if (log_file)
        fprintf(log_file, "%s.%03ldZ %-5s %s: %s\n", ts, (long)tv.tv_usec / 1000, lvl, who, msg);
    if (log_stdout) {
        fprintf(stdout, "%s.%03ldZ %-5s %s: %s\n", ts, (long)tv.tv_usec / 1000, lvl, who, msg);
        fflush(stdout);
    }
}
