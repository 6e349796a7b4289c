# plugins/stealth/tests/common.sh - helpers for the stealth plugin's tests
# (sourced after tests/e2e/lib.sh).
#
# Stealth mode captures by process name or pid, and other tests on the
# same machine run curl too: every test attaches the programs to a cgroup
# of its own (--ebpf-cgroup $CG) and runs its clients inside it, so that
# nothing outside is ever captured.
#
#   CG                  a fresh cgroup v2 directory, removed at exit
#   in_cg CMD...        run CMD inside $CG (in the foreground)
#   start_stealth ARGS  start_fault run --stealth --ebpf-cgroup $CG
#                       --disable-http-proxy --log-file $STEALTH_LOG
#                       --log-level debug ARGS (waits for its listener)
#   stop_stealth [SIG]  stop it (TERM by default); status 0 expected on
#                       TERM/INT
#   ours_attached       true while programs of ours are attached to $CG
#   wait_detached       poll (<= 5 s) until none is, else fail
#   timed_curl URL      curl in $CG: prints "SECONDS HTTP_CODE"
#
# Skips (77) when not root, without a cgroup v2 hierarchy or bpftool, or
# when the kernel refuses the programs.

STEALTH_SO=$top_builddir/plugins/stealth/.libs/stealth.so
[ -f "$STEALTH_SO" ] || skip "the stealth plugin is not built (configure found no clang, bpftool or libbpf)"
[ "$(id -u)" = 0 ] || skip "stealth mode needs root (CAP_BPF, CAP_NET_ADMIN)"
BPFTOOL=$(command -v bpftool || echo /usr/sbin/bpftool)
[ -x "$BPFTOOL" ] || skip "bpftool is not installed (apt-get install bpftool)"
CG_ROOT=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
[ -n "$CG_ROOT" ] || skip "no cgroup v2 hierarchy is mounted"

CG=$CG_ROOT/fault-test-$E2E_NAME-$$
mkdir "$CG" || fail "cannot create the cgroup $CG"
STEALTH_LOG=$E2E_TMP/stealth.log

# leave_cg - this shell back to the cgroup it started in, after a test
# moved it into $CG.
SHELL_CG=$CG_ROOT$(sed -n 's/^0:://p' /proc/self/cgroup)
leave_cg() { echo $$ >"$SHELL_CG/cgroup.procs" || echo $$ >"$CG_ROOT/cgroup.procs"; }

# The processes still in $CG are ours (only this test puts any there).
_stealth_cleanup() {
	local rc=$? pid
	grep -qx $$ "$CG/cgroup.procs" 2>/dev/null && leave_cg
	for pid in $E2E_PIDS; do stop_pid "$pid"; done
	if [ -d "$CG" ]; then
		for pid in $(cat "$CG/cgroup.procs" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
		for _ in 1 2 3 4 5 6 7 8 9 10; do rmdir "$CG" 2>/dev/null && break; sleep 0.1; done
		[ -d "$CG" ] && echo "[$E2E_NAME] could not remove $CG"
	fi
	(exit "$rc")
	_e2e_cleanup
}
trap _stealth_cleanup EXIT

in_cg() {
	bash -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG" "$@"
}

timed_curl() {
	in_cg curl -sS -o "$E2E_TMP/curl.body" --max-time 20 -w '%{time_total} %{http_code}\n' "$@"
}

ours_attached() {
	"$BPFTOOL" cgroup tree "$CG" 2>/dev/null | grep -q 'stealth_'
}

wait_detached() {
	local i
	for ((i = 0; i < 500; i++)); do
		ours_attached || return 0
		sleep 0.01
	done
	fail "stealth programs still attached to $CG: $("$BPFTOOL" cgroup tree "$CG")"
}

start_stealth() {
	start_fault run --stealth --ebpf-cgroup "$CG" --disable-http-proxy \
		--log-file "$STEALTH_LOG" --log-level debug "$@"
	ours_attached || fail "fault listens but nothing is attached to $CG: $("$BPFTOOL" cgroup tree "$CG")"
}

stop_stealth() {
	local sig=${1:-TERM}
	stop_pid "$FAULT_PID" "$sig"
	case $sig in TERM | INT) [ "$STOP_STATUS" = 0 ] || fail "fault: status $STOP_STATUS after SIG$sig: $(cat "$FAULT_ERR")" ;; esac
	wait_detached
}

# The kernel may lack what stealth mode needs (an old kernel, a container
# without CAP_BPF): skip, saying which, rather than fail.
_probe=$("$FAULT" run --stealth --capture-pid $$ --ebpf-cgroup "$CG" --disable-http-proxy \
	--duration 1ms 2>&1 >/dev/null)
case $_probe in
*"the kernel does not support"* | *"the kernel refused"* | *"cannot attach"*)
	skip "eBPF cannot be used here: $_probe" ;;
esac
unset _probe
