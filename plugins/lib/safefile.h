/*
 * plugins/lib/safefile.h - writing a whole file without following links:
 * for keys, certificates, results and reports that plugins write. A
 * convenience library linked into the plugins that write files (the core
 * has its own, core/util.c).
 */
#ifndef FAULT_SAFEFILE_H
#define FAULT_SAFEFILE_H

#include <stddef.h>
#include <sys/types.h>

/* Writes data[0..len) to path: into a new temporary file next to it
 * (created with O_EXCL, so never through a link someone planted, and with
 * the given mode from the start), flushed to disk, then renamed over
 * path, which is replaced whatever it was (a symbolic link there is
 * replaced, never followed). Readers see the old file or the new one,
 * never half of one. Returns 0, or -1 with a one-line reason naming the
 * file in err (errno kept). */
int pl_write_file(const char *path, const void *data, size_t len, mode_t mode, char *err,
                  size_t errlen);

#endif /* FAULT_SAFEFILE_H */
