/*
 * plugins/llm/tests/test_llm.c - the llm plugin's pieces on their own.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "frames.h"
#include "provider.h"
#include "text.h"

int main(void)
{
    return check_done();
}
