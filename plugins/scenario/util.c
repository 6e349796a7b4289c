/*
 * plugins/scenario/util.c - small helpers of the scenario plugin: a growable
 * text buffer with the escapings the writers need, atomic file writes, and
 * the time formats reports use.
 *
 * Files are written to FILE.tmp, flushed to disk and renamed over FILE, so
 * a reader (a CI job picking up results.json, a browser reloading the
 * report) never sees half a file, even when the run is interrupted.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <fault/secret.h>

#include "safefile.h"
#include "scenario.h"

/* ---- text buffer ---- */

static bool buf_reserve(sc_buf *b, size_t more)
{
    if (b->oom)
        return false;
    if (b->len + more + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np) {
        b->oom = true;
        return false;
    }
    b->p = np;
    b->cap = cap;
    return true;
}

void sc_buf_put(sc_buf *b, const char *s, size_t n)
{
    if (!buf_reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sc_buf_puts(sc_buf *b, const char *s)
{
    sc_buf_put(b, s, strlen(s));
}

void sc_buf_printf(sc_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void sc_buf_xml(sc_buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '<':
            sc_buf_puts(b, "&lt;");
            break;
        case '>':
            sc_buf_puts(b, "&gt;");
            break;
        case '&':
            sc_buf_puts(b, "&amp;");
            break;
        case '"':
            sc_buf_puts(b, "&quot;");
            break;
        default:
            /* Control characters are not allowed in XML 1.0 at all. */
            if (*p < 0x20 && *p != '\n' && *p != '\t' && *p != '\r')
                sc_buf_puts(b, "?");
            else
                sc_buf_put(b, (const char *)p, 1);
        }
    }
}

void sc_buf_md(sc_buf *b, const char *s)
{
    for (const char *p = s ? s : ""; *p; p++) {
        if (*p == '|')
            sc_buf_puts(b, "\\|");
        else if (*p == '\n' || *p == '\r')
            sc_buf_puts(b, " ");
        else
            sc_buf_put(b, p, 1);
    }
}

void sc_buf_free(sc_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

char *sc_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

char *sc_strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* ---- files ---- */

int sc_write_atomic(const char *path, const char *data, size_t len, char *err, size_t errlen)
{
    /* A temporary file of our own next to path (never a link someone
     * planted), renamed over it. */
    return pl_write_file(path, data, len, 0644, err, errlen);
}

/* Scenario files and OpenAPI documents: regular files (not a device or a
 * pipe that never ends, such as /dev/zero), at most this large. */
#define SC_MAX_FILE (16 * 1024 * 1024)

char *sc_read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    /* O_NONBLOCK: opening a FIFO must not wait for a writer. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    sc_buf b = {0};
    char chunk[65536];
    size_t n;
    bool big = false;
    while (!big && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        sc_buf_put(&b, chunk, n);
        big = b.len > SC_MAX_FILE;
    }
    bool bad = ferror(f);
    fclose(f);
    if (big) {
        snprintf(err, errlen, "%s: larger than %d MiB", path, SC_MAX_FILE / (1024 * 1024));
        sc_buf_free(&b);
        return NULL;
    }
    if (bad || b.oom) {
        snprintf(err, errlen, "%s: %s", path, bad ? "read error" : "out of memory");
        sc_buf_free(&b);
        return NULL;
    }
    if (!b.p) {
        b.p = calloc(1, 1);
        if (!b.p) {
            snprintf(err, errlen, "%s: out of memory", path);
            return NULL;
        }
    }
    *len = b.len;
    return b.p;
}

bool sc_has_ext(const char *path, const char *ext)
{
    size_t n = strlen(path), e = strlen(ext);
    return n > e + 1 && path[n - e - 1] == '.' && strcasecmp(path + n - e, ext) == 0;
}

/* ---- time ---- */

uint64_t sc_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void sc_format_wall(uint64_t wall_us, char *buf, size_t len)
{
    time_t t = (time_t)(wall_us / 1000000u);
    struct tm tm;
    gmtime_r(&t, &tm);
    char day[40];
    strftime(day, sizeof day, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf, len, "%s.%06u UTC", day, (unsigned)(wall_us % 1000000u));
}

void sc_format_span(uint64_t us, char *buf, size_t len)
{
    uint64_t ms = us / 1000u;
    uint64_t s = ms / 1000u, m = s / 60u;
    if (m > 0)
        snprintf(buf, len, "%llu minute%s, %llu second%s and %llu ms", (unsigned long long)m,
                 m == 1 ? "" : "s", (unsigned long long)(s % 60u), s % 60u == 1 ? "" : "s",
                 (unsigned long long)(ms % 1000u));
    else if (s > 0)
        snprintf(buf, len, "%llu second%s and %llu ms", (unsigned long long)s, s == 1 ? "" : "s",
                 (unsigned long long)(ms % 1000u));
    else
        snprintf(buf, len, "%llu ms", (unsigned long long)ms);
}

/* Credentials must not end up in reports and results that are shared or
 * archived by CI: <fault/secret.h> says which names carry them. */
const char *sc_header_shown(const char *name, const char *value)
{
    return fault_secret_header(name, value);
}

const char *sc_url_shown(const char *url)
{
    /* A few buffers in turn, so that one printf may show two URLs. */
    static char bufs[4][4096];
    static unsigned next;
    char *b = bufs[next++ % 4];
    return fault_secret_url(url, b, sizeof bufs[0]);
}

/* ---- argv ---- */

int sc_argv_add(sc_argv *a, const char *s)
{
    if (a->n + 2 > a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 32;
        char **nv = realloc(a->v, cap * sizeof *nv);
        if (!nv)
            return -1;
        a->v = nv;
        a->cap = cap;
    }
    a->v[a->n] = strdup(s);
    if (!a->v[a->n])
        return -1;
    a->n++;
    a->v[a->n] = NULL;
    return 0;
}

int sc_argv_addf(sc_argv *a, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return sc_argv_add(a, buf);
}

void sc_argv_free(sc_argv *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
    memset(a, 0, sizeof *a);
}
