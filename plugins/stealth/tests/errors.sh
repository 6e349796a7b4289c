#!/usr/bin/env bash
# plugins/stealth/tests/errors.sh - stealth mode's refusals: one line on
# standard error and exit status 2, nothing left attached.
#
#  - --stealth without a process to capture; --capture-process with a '/';
#    a --capture-pid out of range or of no process; an --ebpf-proxy-ip that
#    is no address; an --ebpf-proxy-iface that does not exist; an
#    --ebpf-cgroup that is missing or not in a cgroup v2 hierarchy;
#  - not root (as nobody, without capabilities): the line names the
#    missing capabilities; no cgroup v2 hierarchy mounted (in a mount
#    namespace of the test's own): the line says so;
#  - without --ebpf-cgroup: the root of the cgroup v2 hierarchy.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/stealth/tests/common.sh" || exit 99

S=(run --stealth --disable-http-proxy --ebpf-cgroup "$CG")
bad_input '^fault: stealth: --stealth: say which processes to capture \(--capture-process NAME or --capture-pid PID\)$' "${S[@]}"
bad_input "^fault: stealth: --capture-process 'a/b': a command name" "${S[@]}" --capture-process a/b
bad_input 'capture-pid' "${S[@]}" --capture-pid 0
# A pid beyond pid_max (4194304 at most) cannot exist; within the range,
# find one that does not.
nopid=$(python3 -c 'import os
p = 4194303
while os.path.exists("/proc/%d" % p): p -= 1
print(p)')
bad_input "^fault: stealth: --capture-pid $nopid: no such process$" "${S[@]}" --capture-pid "$nopid"
bad_input "^fault: stealth: --ebpf-proxy-ip '1.2.3': not an IPv4 or IPv6 address$" "${S[@]}" --capture-process curl --ebpf-proxy-ip 1.2.3
bad_input "^fault: stealth: --ebpf-proxy-iface 'nosuch0': no such interface$" "${S[@]}" --capture-process curl --ebpf-proxy-iface nosuch0
bad_input "^fault: stealth: --ebpf-cgroup '$E2E_TMP/none': not a directory$" run --stealth --capture-process curl --ebpf-cgroup "$E2E_TMP/none"
bad_input "^fault: stealth: --ebpf-cgroup $E2E_TMP: not a directory of a cgroup v2 hierarchy$" run --stealth --capture-process curl --ebpf-cgroup "$E2E_TMP"
note "bad input: one line, status 2"

# Not root: setpriv drops to nobody, which loses every capability.
rc=0
setpriv --reuid=65534 --regid=65534 --clear-groups -- "$FAULT" "${S[@]}" --capture-process curl \
	>"$E2E_TMP/nobody.out" 2>"$E2E_TMP/nobody.err" || rc=$?
[ "$rc" = 2 ] || fail "as nobody: status $rc: $(cat "$E2E_TMP/nobody.err")"
[ "$(wc -l <"$E2E_TMP/nobody.err")" = 1 ] &&
	grep -q '^fault: stealth: stealth mode needs the CAP_BPF and CAP_NET_ADMIN capabilities' "$E2E_TMP/nobody.err" ||
	fail "as nobody: $(cat "$E2E_TMP/nobody.err")"
note "as nobody: $(cat "$E2E_TMP/nobody.err")"
# No cgroup v2 hierarchy (unmounted in a mount namespace of this test
# only): the missing feature is named.
if command -v unshare >/dev/null 2>&1; then
	rc=0
	unshare -m --propagation private sh -c 'umount -l "$1" && exec "$2" run --stealth --capture-pid $$ --disable-http-proxy' \
		_ "$CG_ROOT" "$FAULT" >/dev/null 2>"$E2E_TMP/nocg.err" || rc=$?
	[ "$rc" = 2 ] && [ "$(wc -l <"$E2E_TMP/nocg.err")" = 1 ] &&
		grep -q '^fault: stealth: stealth mode needs a cgroup v2 hierarchy and none is mounted' "$E2E_TMP/nocg.err" ||
		fail "without cgroup v2: status $rc: $(cat "$E2E_TMP/nocg.err")"
	note "without cgroup v2: $(cat "$E2E_TMP/nocg.err")"
fi
ours_attached && fail "something is attached to $CG after refusals"
note "nothing attached"

# Without --ebpf-cgroup, the programs go to the root of the cgroup v2
# hierarchy (read from /proc/self/mountinfo). Capturing only this shell,
# which connects nowhere meanwhile, for a moment: nobody else is touched.
"$FAULT" run --stealth --capture-pid $$ --disable-http-proxy --duration 1ms --log-file "$E2E_TMP/root.log" \
	>/dev/null 2>"$E2E_TMP/root.err" || fail "default cgroup: status $?: $(cat "$E2E_TMP/root.err")"
grep -q "stealth listener on 127.0.0.1:[0-9]* -> .* (cgroup $CG_ROOT)\$" "$E2E_TMP/root.log" ||
	fail "default cgroup: not $CG_ROOT: $(cat "$E2E_TMP/root.log")"
note "default: the cgroup v2 root, $CG_ROOT"
