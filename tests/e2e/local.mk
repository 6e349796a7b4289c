# tests/e2e/ - end-to-end tests: the fault binary between curl or python
# peers and nginx, on loopback. Shell tests run with $(SHELL) (bash); each
# sources tests/e2e/lib.sh and skips (77) without nginx or curl.
E2E_TESTS = \
	tests/e2e/fidelity.sh \
	tests/e2e/run_cli.sh \
	tests/e2e/run_instances.sh \
	tests/e2e/run_files.sh \
	tests/e2e/run_latency.sh \
	tests/e2e/run_relay.sh \
	tests/e2e/run_splice_auto.sh \
	tests/e2e/run_tls.sh \
	tests/e2e/run_listen.sh \
	tests/e2e/run_durations.sh \
	tests/e2e/run_unavailable.sh \
	tests/e2e/cli_help.sh \
	tests/e2e/run_env.sh

TESTS += $(E2E_TESTS)
EXTRA_DIST += $(E2E_TESTS) tests/e2e/lib.sh tests/e2e/relay.py tests/e2e/fidelity.py
