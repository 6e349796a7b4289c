/*
 * fault/parse.h - the grammars of fault's command line, for plugins that
 * read the same values from elsewhere (a scenario file, a remote control
 * API) and want them to mean exactly what they mean on the command line
 * (ABI 1.2).
 *
 * Every function returns 0 on success, or a negative code with a one-line
 * reason in err (NUL-terminated, truncated to errlen; err may be NULL when
 * errlen is 0) that names what was wrong but not where it came from: the
 * caller adds the file, line and column. The codes (ABI 1.3; 1.2 returned
 * -1 for all of them): FAULT_ESYNTAX, the text does not parse or cannot be
 * placed (a relative schedule in an unlimited run); FAULT_EINVAL, a NULL
 * argument; FAULT_ENOMEM.
 */
#ifndef FAULT_PARSE_H
#define FAULT_PARSE_H

#include <fault/common.h>

FAULT_BEGIN_DECLS

/* A duration: "250ms", "1m30s", "2h", "1.5s", "10" (seconds), "0". */
FAULT_API int fault_parse_duration(const char *text, uint64_t *us, char *err, size_t errlen);

/* Checks a --proxy mapping: "[listen:]port=host:port" or
 * "[listen:]port=scheme://host[:port]": http, https, psql, psqls and tls
 * have default ports; any other RFC 3986 scheme is accepted with a port
 * (ABI 1.3; whether a plugin serves it is known only when the run starts). */
FAULT_API int fault_check_mapping(const char *text, char *err, size_t errlen);

/* Checks a fault schedule ("start:10%,duration:30%;start:2m,duration:30s",
 * periods of absolute durations or percentages of the run). */
FAULT_API int fault_check_schedule(const char *text, char *err, size_t errlen);

/* A window of a run in which a scheduled fault is on: [start_us, end_us),
 * end_us UINT64_MAX for "until the end". */
typedef struct fault_window {
    uint64_t start_us, end_us;
} fault_window;

/* The windows of a schedule over a run of run_us (0: unlimited, which
 * percentages cannot be placed in: an error), sorted and merged. *out is
 * allocated (free() it; NULL when there is none); *n is its length. */
FAULT_API int fault_schedule_windows(const char *text, uint64_t run_us, fault_window **out,
                                     size_t *n, char *err, size_t errlen);

FAULT_END_DECLS

#endif /* FAULT_PARSE_H */
