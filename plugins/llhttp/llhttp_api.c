/* Compiles llhttp's api.c from the directory configure found (--with-llhttp). */
#include "api.c"
