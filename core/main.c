/*
 * core/main.c - the `fault` executable: everything lives in libfaultcore,
 * so plugins and the program share one copy of the host.
 */
#include "config.h"

int fault_main(int argc, char **argv);

#ifdef FAULT_SANITIZE
/* Defaults for the sanitizer build (ASAN_OPTIONS in the environment still
 * overrides them). GCC 12's runtime misreads glibc 2.36's dynamic TLS
 * blocks once __tls_get_addr has been intercepted for a library loaded
 * with dlopen(); LeakSanitizer then crashes at exit ("Tracer caught signal
 * 11") instead of checking for leaks. Not intercepting it avoids that; the
 * leak check still runs. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "intercept_tls_get_addr=0";
}
#endif

int main(int argc, char **argv)
{
    return fault_main(argc, argv);
}
