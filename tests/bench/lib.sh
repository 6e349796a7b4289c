# tests/bench/lib.sh - helpers shared by the benchmark scripts (sourced, not run).
# shellcheck shell=bash disable=SC2034
#
# Provides: a private temp dir, background-process bookkeeping with a cleanup
# trap, free-port allocation, bounded readiness polling, and locating the
# fault binary. Every process started through bench_start is stopped on exit.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/fault-bench.XXXXXX")
# nginx workers drop to an unprivileged user when started as root: let them
# read the document root.
chmod 755 "$BENCH_TMP"
BENCH_PIDS=()
BENCH_NAMES=()

bench_log() { printf '[bench] %s\n' "$*" >&2; }
bench_die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

# bench_stop PID - TERM, wait up to 3 s, then KILL. Only PIDs we started.
bench_stop() {
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.01
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

bench_cleanup() {
	local rc=$? i
	trap - EXIT INT TERM
	for ((i = ${#BENCH_PIDS[@]} - 1; i >= 0; i--)); do
		[[ -n ${BENCH_PIDS[i]} ]] && bench_stop "${BENCH_PIDS[i]}"
	done
	if [[ -n ${BENCH_PIDFILES:-} ]]; then
		# PIDs written by helper programs (e.g. a fault spawned by python).
		local f p
		for f in $BENCH_PIDFILES; do
			[[ -s $f ]] || continue
			p=$(<"$f")
			[[ $p =~ ^[0-9]+$ ]] && bench_stop "$p"
		done
	fi
	if [[ ${BENCH_KEEP_TMP:-0} == 1 ]]; then
		bench_log "kept temp dir $BENCH_TMP"
	else
		rm -rf "$BENCH_TMP"
	fi
	exit "$rc"
}
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# bench_start NAME CMD... - run CMD in the background, output to
# $BENCH_TMP/NAME.log; sets BENCH_LAST_PID. taskset/exec keep the PID.
bench_start() {
	local name=$1
	shift
	"$@" >"$BENCH_TMP/$name.log" 2>&1 &
	BENCH_LAST_PID=$!
	BENCH_PIDS+=("$BENCH_LAST_PID")
	BENCH_NAMES+=("$name")
}

# bench_stop_name NAME - stop a process started by bench_start.
bench_stop_name() {
	local i
	for ((i = 0; i < ${#BENCH_PIDS[@]}; i++)); do
		if [[ ${BENCH_NAMES[i]} == "$1" && -n ${BENCH_PIDS[i]} ]]; then
			bench_stop "${BENCH_PIDS[i]}"
			BENCH_PIDS[i]=
		fi
	done
}

# bench_free_ports N - print N distinct free loopback TCP ports.
bench_free_ports() {
	python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
EOF
}

# bench_wait_port PORT PID NAME [TIMEOUT_MS] - poll until 127.0.0.1:PORT
# accepts a connection; fail if PID dies or the timeout passes.
bench_wait_port() {
	local port=$1 pid=$2 name=$3 timeout_ms=${4:-10000} waited=0
	while ((waited < timeout_ms)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			bench_log "$name (pid $pid) exited before listening on $port; log:"
			tail -n 20 "$BENCH_TMP/$name.log" >&2 || true
			return 1
		fi
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.005
		waited=$((waited + 5))
	done
	bench_log "$name did not listen on 127.0.0.1:$port within ${timeout_ms} ms; log:"
	tail -n 20 "$BENCH_TMP/$name.log" >&2 || true
	return 1
}

# bench_find_fault - set FAULT_BIN to the fault binary, or return 1.
# Order: $FAULT, ${top_builddir:-.}/core/fault, fault on PATH.
bench_find_fault() {
	FAULT_BIN=
	if [[ -n ${FAULT:-} ]]; then
		if [[ -x $FAULT ]]; then
			FAULT_BIN=$FAULT
		elif command -v "$FAULT" >/dev/null 2>&1; then
			FAULT_BIN=$(command -v "$FAULT")
		else
			bench_die "FAULT=$FAULT is not executable"
		fi
	elif [[ -x ${top_builddir:-.}/core/fault ]]; then
		FAULT_BIN=${top_builddir:-.}/core/fault
	elif command -v fault >/dev/null 2>&1; then
		FAULT_BIN=$(command -v fault)
	else
		return 1
	fi
	case $FAULT_BIN in /*) ;; *) FAULT_BIN=$PWD/${FAULT_BIN#./} ;; esac
	# From a build tree with FAULT_PLUGIN_PATH unset, use the plugins built
	# next to the binary (plugins/NAME/.libs). Set by the caller otherwise.
	if [[ -z ${FAULT_PLUGIN_PATH+set} ]]; then
		local d pp=
		for d in "$(dirname "$FAULT_BIN")"/../plugins/*/.libs; do
			compgen -G "$d/*.so" >/dev/null && pp+="${pp:+:}$(cd "$d" && pwd)"
		done
		if [[ -n $pp ]]; then
			export FAULT_PLUGIN_PATH=$pp
			bench_log "FAULT_PLUGIN_PATH unset: using the build tree's plugins"
		fi
	fi
	FAULT_IS_WRAPPER=0
	if grep -qs -m1 'temporary wrapper script' "$FAULT_BIN"; then
		FAULT_IS_WRAPPER=1
	fi
	return 0
}

# bench_raise_nofile N - make the soft (and, if needed and allowed, hard)
# open-files limit at least N.
bench_raise_nofile() {
	local want=$1 soft hard
	soft=$(ulimit -Sn)
	hard=$(ulimit -Hn)
	[[ $soft == unlimited || $soft -ge $want ]] && return 0
	if [[ $hard != unlimited && $hard -lt $want ]]; then
		ulimit -Hn "$want" 2>/dev/null ||
			bench_die "need $want open files, hard limit is $hard (run as root or raise it)"
	fi
	ulimit -Sn "$want"
}

# bench_median - median of numbers on stdin.
bench_median() {
	sort -g | awk '{a[NR] = $1} END {
		if (NR == 0) { print "nan"; exit }
		if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# bench_ratio A B - A/B with 2 decimals, or n/a.
bench_ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "" || b == "" || a == "n/a" || b == "n/a" || b + 0 == 0) print "n/a";
		else printf "%.2f", a / b }'
}

# bench_ge A B - exit 0 if A >= B (numbers), 1 otherwise or on n/a.
bench_ge() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "n/a" && a != "" && a + 0 >= b + 0) }'
}

# bench_load_check - warn when the machine is busy before a measurement.
bench_load_check() {
	local load
	read -r load _ </proc/loadavg
	BENCH_LOAD=$load
	if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
		bench_log "warning: 1-min load average is $load before starting; other work on this machine will add noise"
	fi
}

# bench_cpu_ticks PID - user + system clock ticks PID has used so far.
bench_cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
BENCH_TICK=$(getconf CLK_TCK)

# bench_us_per_req T0 T1 N - microseconds of CPU per request between two
# bench_cpu_ticks readings over N requests (0 when N is 0). CPU per request
# is what a busy machine disturbs least: req/s falls when another process
# takes the CPU, the proxy's own cost per request barely moves.
bench_us_per_req() {
	awk -v a="$1" -v b="$2" -v n="${3:-0}" -v t="$BENCH_TICK" \
		'BEGIN { if (n > 0) printf "%.1f", (b - a) / t * 1e6 / n; else print 0 }'
}

# bench_real_pid PID - the process doing the work behind PID: its newest
# child when it has one (a libtool wrapper, an nginx master), else PID.
bench_real_pid() { pgrep -n -P "$1" 2>/dev/null || echo "$1"; }

# bench_ms LATENCY - a wrk latency (512.00us, 1.20ms, 2.00s, 1.00m) in ms.
bench_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0
		if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) ; else if (v ~ /s$/) n *= 1000;
		else if (v ~ /m$/) n *= 60000
		printf "%.3f", n }'
}

# bench_sanitizers PID - sanitizer runtimes mapped into PID ("none" if none).
bench_sanitizers() {
	local found=
	local n
	for n in asan ubsan tsan msan lsan; do
		grep -qs "lib$n" "/proc/$1/maps" && found+="${found:+,}$n"
	done
	echo "${found:-none}"
}
