/*
 * plugins/lib/safefile.c - see safefile.h.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safefile.h"

int pl_write_file(const char *path, const void *data, size_t len, mode_t mode, char *err,
                  size_t errlen)
{
    size_t n = strlen(path) + sizeof ".XXXXXX";
    char *tmp = malloc(n);
    if (!tmp) {
        snprintf(err, errlen, "%s: out of memory", path);
        errno = ENOMEM;
        return -1;
    }
    /* mkostemp(): a name nobody had, created with O_CREAT | O_EXCL (which
     * fails on an existing link instead of following it), mode 0600. */
    snprintf(tmp, n, "%s.XXXXXX", path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot create a file next to %s: %s", path, strerror(e));
        free(tmp);
        errno = e;
        return -1;
    }
    const char *why = "write";
    int e = 0;
    if (fchmod(fd, mode) != 0) {
        why = "set the mode of";
        e = errno;
    }
    const char *p = data;
    size_t off = 0;
    while (!e && off < len) {
        ssize_t w = write(fd, p + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            e = w < 0 ? errno : EIO;
            break;
        }
        off += (size_t)w;
    }
    /* The rename must not publish a file whose blocks are not on disk. */
    if (!e && fsync(fd) != 0 && errno != EINVAL)
        e = errno;
    if (close(fd) != 0 && !e)
        e = errno;
    if (!e && rename(tmp, path) != 0) {
        why = "replace";
        e = errno;
    }
    if (e) {
        snprintf(err, errlen, "cannot %s %s: %s", why, path, strerror(e));
        unlink(tmp);
        free(tmp);
        errno = e;
        return -1;
    }
    free(tmp);
    return 0;
}
