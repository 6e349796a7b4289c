#!/bin/sh
# plugins/scenario/fuzz.sh - the scenario plugin's libFuzzer targets,
# built and run by tests/fuzz/run.sh (which builds every target of the
# tree the same way):
#
#   scenario   the scenario loader (fuzz_scenario.c): YAML in, a suite or
#              one FILE:LINE:COLUMN message out
#   openapi    the OpenAPI reader and the generator (fuzz_openapi.c)
#
# Usage: plugins/scenario/fuzz.sh [scenario|openapi ...]; the environment
# is tests/fuzz/run.sh's (FUZZ_SECONDS, FUZZ_RUNS, FUZZ_WORKDIR, ...).
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -eq 0 ]; then set -- scenario openapi; fi
exec sh "$here/../../tests/fuzz/run.sh" "$@"
