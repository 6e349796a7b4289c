/* Compiles llhttp's llhttp.c from the directory configure found (--with-llhttp). */
#include "llhttp.c"
