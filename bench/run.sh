#!/usr/bin/env bash
# shellcheck disable=SC2317 # some functions run only through trap and wait_for
# Benchmarks peekroute against the HAProxy set-up it replaces.
#
# Usage:
#
#   bench/run.sh            full run (about 5 minutes): every peer, body size
#                           and key position below; prints one Markdown table
#   bench/run.sh --smoke    CI check (seconds, after the build): three backends and
#                           peekroute only, 1 KiB bodies, wrk for 2 seconds;
#                           prints a one-row table and exits non-zero if any
#                           request failed or a key was not sticky. Same as
#                           SMOKE=1 bench/run.sh. Needs Go and wrk, not haproxy.
#   bench/run.sh --memory   peekroute's memory per connection (under a minute):
#                           three backends and two peekroutes (PEEKROUTE_MAX_CONNS
#                           20000), then bench/memory reads peekroute's RSS at
#                           rest, with 10,000 idle keep-alive connections (one
#                           small SOAP request each), and, on the second
#                           peekroute, at its peak during 256 concurrent 8 MiB
#                           uploads (see bench/memory); prints a Markdown table and
#                           exits non-zero if a connection or upload failed. Same
#                           as MEMORY=1 bench/run.sh. Needs Go only, and a
#                           descriptor limit (ulimit -n) of MEM_IDLE + 2048: it
#                           raises the soft limit to the hard one, and the hard
#                           limit too if it may (root with CAP_SYS_RESOURCE).
#
# Missing tools are installed from Debian (apt-get; sudo when not root): wrk,
# and haproxy for the full run. Go must be on PATH or in /usr/local/go/bin.
#
# Peers, each in front of the same three backends (bench/backend):
#
#   direct     wrk straight to one backend: the limit of the load side
#   haproxy    HAProxy, balance roundrobin, no body inspection: the ceiling
#              for a C proxy
#   seed       the set-up peekroute replaces: option http-buffer-request, a
#              Lua fetch that matches <sessionId>(.-)</sessionId> in
#              txn.f:req_body(), and a stick table on it, balance roundrobin,
#              default tune.bufsize (16 KiB), so it cannot see a key 20 KiB deep
#   stick      the same job in HAProxy's C alone, no Lua: option
#              http-buffer-request and a stick table on
#              req.body,regsub("(?s)^.*?<sessionId>(.*?)</sessionId>.*","\1")
#              (the first key, as seed's Lua), same table, balance
#              roundrobin, default tune.bufsize, so no key 20 KiB deep either
#   peekroute  key xml:sessionId, PEEKROUTE_PEEK_LIMIT (65536), other defaults
#
# Each run restarts the proxy (so peak RSS is per run), runs wrk with
# bench/soap.lua (POST, SOAP 1.1, text/xml, SOAPAction "ussd"; requests are
# rendered once per key in init), reads the proxy's CPU time (utime+stime in
# /proc/PID/stat, before and after wrk) and peak RSS (VmHWM), then sends each
# of 200 keys 3 times with bench/stickiness and counts the keys that stayed on
# one backend; the backends also hash each body, so a body that was not
# forwarded byte for byte is reported.
#
# Columns: errors is wrk's non-2xx/3xx responses plus socket errors (connect,
# read, write, timeout); CPU/req is the proxy's CPU time divided by the
# requests wrk completed; peak RSS is the proxy's VmHWM; stickiness adds "all
# on one backend" when every key went to the same backend (the seed set-up
# does that when it cannot see the key: its Lua fetch returns nil, which
# HAProxy stores as the key "0"; so does stick: its regsub then returns the
# body unchanged, and the table keeps the first 64 bytes, the same for every
# request); other CPU is how many CPUs, on average,
# went to anything but the proxy, the backends and wrk during the run (from
# /proc/stat): well above 0 means other work on the machine skewed the row.
#
# Pinning: with PIN=1 (the default) and at least two CPUs, the proxy runs on
# the upper half of the CPUs and wrk, the backends and the checker on the lower
# half (on 2 cores: proxy on CPU 1, everything else on CPU 0). Go and HAProxy
# size their thread pools from that affinity, so on 2 cores each proxy runs
# one thread (GOMAXPROCS=1, nbthread 1). The direct row therefore measures
# what the load side can drive, the bound for every proxy row. PIN=0 runs
# everything unpinned.
#
# Environment (defaults in brackets):
#
#   DURATION [10s; smoke 2s]  wrk duration        THREADS [2]  wrk threads
#   CONNS [64]                wrk connections     KEYS [1000]  session keys
#   CHECK_KEYS [200]          keys checked for stickiness, 3 requests each
#   PEERS ["direct haproxy seed stick peekroute"; smoke "peekroute"]
#   SIZES ["1024 65536 1048576"; smoke "1024"]  body sizes in bytes
#   DEEP_OFFSET [20480]       where the deep key starts; used for sizes >= 65536
#   PEEK_LIMIT [65536]        PEEKROUTE_PEEK_LIMIT
#   PIN [1], LOAD_CPUS, PROXY_CPUS   taskset CPU lists (see Pinning)
#   WRK_TIMEOUT [5s]          wrk's per-request timeout
#   MEM_IDLE [10000], MEM_UPLOADS [256], MEM_UPLOAD_SIZE [8388608]   --memory:
#                             idle connections, concurrent uploads, bytes each
#   KEEP_WORK [0]             1: keep the work directory (binaries, logs)
#   NICE [0]                  nice level of every process the bench starts; on
#                             a machine that runs other work, e.g. NICE=-10 (as
#                             root) keeps it from skewing the rows as much
#   QUIET_WAIT [0]            before each row, wait up to this many seconds for
#                             the machine to be idle, and measure a row again
#                             (once) when other work used more than a quarter
#                             of a CPU during it; the run then takes longer
#                             than the usual 5 minutes
#
# CI runs:  bench/run.sh --smoke
set -euo pipefail

die() {
	echo "bench: $*" >&2
	exit 1
}
say() { echo "bench: $*" >&2; }

SMOKE=${SMOKE:-0}
MEMORY=${MEMORY:-0}
for arg in "$@"; do
	case $arg in
	--smoke) SMOKE=1 ;;
	--memory) MEMORY=1 ;;
	-h | --help)
		sed -n '3,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
		exit 0
		;;
	*) die "unknown argument $arg (see --help)" ;;
	esac
done

[ "$SMOKE" = 1 ] && [ "$MEMORY" = 1 ] && die "--smoke and --memory are separate runs"
if [ "$MEMORY" = 1 ]; then
	PEERS=peekroute
	MEM_IDLE=${MEM_IDLE:-10000}
	MEM_UPLOADS=${MEM_UPLOADS:-256}
	MEM_UPLOAD_SIZE=${MEM_UPLOAD_SIZE:-8388608}
fi
if [ "$SMOKE" = 1 ]; then
	DURATION=${DURATION:-2s}
	PEERS=${PEERS:-peekroute}
	SIZES=${SIZES:-1024}
else
	DURATION=${DURATION:-10s}
	PEERS=${PEERS:-direct haproxy seed stick peekroute}
	SIZES=${SIZES:-1024 65536 1048576}
fi
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
KEYS=${KEYS:-1000}
CHECK_KEYS=${CHECK_KEYS:-200}
DEEP_OFFSET=${DEEP_OFFSET:-20480}
PEEK_LIMIT=${PEEK_LIMIT:-65536}
WRK_TIMEOUT=${WRK_TIMEOUT:-5s}
PIN=${PIN:-1}
KEEP_WORK=${KEEP_WORK:-0}
NICE=${NICE:-0}
QUIET_WAIT=${QUIET_WAIT:-0}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench

# --- tools ------------------------------------------------------------------

# install_missing installs the Debian packages named after the commands that
# are not on PATH.
install_missing() {
	local missing=() cmd
	for cmd in "$@"; do
		command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	local sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null 2>&1 || die "need ${missing[*]}; not root and no sudo to install them"
		sudo=(sudo)
	fi
	command -v apt-get >/dev/null 2>&1 || die "need ${missing[*]} and there is no apt-get to install them"
	say "installing ${missing[*]}"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	PATH=/usr/local/go/bin:$PATH
fi
command -v go >/dev/null 2>&1 || die "go not found (PATH or /usr/local/go/bin)"
needed=()
[ "$MEMORY" = 1 ] || needed+=(wrk)
for peer in $PEERS; do
	case $peer in
	haproxy | seed | stick) needed+=(haproxy) ;;
	direct | peekroute) ;;
	*) die "unknown peer $peer (want direct, haproxy, seed, stick or peekroute)" ;;
	esac
done
install_missing "${needed[@]}"

# --memory holds tens of thousands of connections, each a descriptor in
# bench/memory and in peekroute, which also holds connections to the backends
# (its idle pool, and one per request in flight); both inherit this limit (Go
# raises the soft limit to the hard one).
if [ "$MEMORY" = 1 ]; then
	fds=$((MEM_IDLE + 2048))
	hard=$(ulimit -Hn)
	if [ "$hard" != unlimited ] && [ "$hard" -lt "$fds" ]; then
		ulimit -Hn "$fds" 2>/dev/null ||
			die "--memory: $MEM_IDLE connections need $fds descriptors in bench/memory and in peekroute; the hard limit (ulimit -Hn) is $hard, and raising it takes root with CAP_SYS_RESOURCE"
	fi
	ulimit -Sn "$(ulimit -Hn)"
fi

# --- processes ----------------------------------------------------------------

WORK=$(mktemp -d "${TMPDIR:-/tmp}/peekroute-bench.XXXXXX")
GROUPS_STARTED=()

# stop_group ends the process group a start call created, TERM then KILL.
stop_group() {
	local pid=$1 i
	kill -TERM -- "-$pid" "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$pid" "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local pid
	for pid in "${GROUPS_STARTED[@]}"; do
		stop_group "$pid"
	done
	if [ "$KEEP_WORK" = 1 ]; then
		say "work directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# CPU lists for the two sides; empty means unpinned.
LOAD_CPUS=${LOAD_CPUS:-}
PROXY_CPUS=${PROXY_CPUS:-}
ncpu=$(nproc)
if [ "$PIN" = 1 ] && command -v taskset >/dev/null 2>&1 && [ "$ncpu" -ge 2 ]; then
	half=$((ncpu / 2))
	cpu_range() { if [ "$1" = "$2" ]; then echo "$1"; else echo "$1-$2"; fi; }
	LOAD_CPUS=${LOAD_CPUS:-$(cpu_range 0 $((half - 1)))}
	PROXY_CPUS=${PROXY_CPUS:-$(cpu_range "$half" $((ncpu - 1)))}
fi

# on CPUS CMD... runs CMD pinned to CPUS, or unpinned when CPUS is empty,
# at the NICE level.
on() {
	local cpus=$1
	shift
	if [ -n "$cpus" ]; then
		nice -n "$NICE" taskset -c "$cpus" "$@"
	else
		nice -n "$NICE" "$@"
	fi
}

# start NAME CPUS CMD... starts CMD (pinned to CPUS unless empty) in a
# session and process group of its own, output in $WORK/NAME.out and .err,
# and sets STARTED to its pid, which is also the group's id: without job
# control the background child is no group leader, so setsid does not fork.
start() {
	local name=$1 cpus=$2
	shift 2
	if [ -n "$cpus" ]; then
		setsid nice -n "$NICE" taskset -c "$cpus" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
	else
		setsid nice -n "$NICE" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
	fi
	STARTED=$!
	GROUPS_STARTED+=("$STARTED")
}

# wait_for NAME SECONDS CMD... retries CMD every 0.1 s until it succeeds or
# the process start launched last, named NAME, has exited.
wait_for() {
	local name=$1 tries=$(($2 * 10))
	shift 2
	until "$@" >/dev/null 2>&1; do
		tries=$((tries - 1))
		if [ "$tries" -le 0 ] || ! kill -0 "$STARTED" 2>/dev/null; then
			say "$name did not come up; its log:"
			tail -n 20 "$WORK/$name.err" "$WORK/$name.out" >&2 || true
			exit 1
		fi
		sleep 0.1
	done
}

# http_status HOST:PORT PATH prints the status code of a GET.
http_status() {
	(
		exec 3<>"/dev/tcp/${1%:*}/${1##*:}"
		printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$2" "$1" >&3
		read -r -t 2 _ code _ <&3
		echo "$code"
	)
}
is_ready() { [ "$(http_status "$1" /readyz 2>/dev/null)" = 200 ]; }
accepts() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }
has_line() { [ -s "$1" ]; }

# --- build --------------------------------------------------------------------

# peekroute only when it is a peer, so that the HAProxy rows need no build of it.
built="bench/backend and bench/stickiness"
[ "$MEMORY" = 1 ] && built="bench/backend and bench/memory"
[[ " $PEERS " == *" peekroute "* ]] && built="peekroute, $built"
say "building $built"
(
	cd "$ROOT"
	if [[ " $PEERS " == *" peekroute "* ]]; then
		go build -o "$WORK/peekroute" .
	fi
	go build -o "$WORK/backend" ./bench/backend
	if [ "$MEMORY" = 1 ]; then
		go build -o "$WORK/memory" ./bench/memory
	else
		go build -o "$WORK/stickiness" ./bench/stickiness
	fi
)

# --- backends -----------------------------------------------------------------

BACKEND_ADDRS=()
BACKEND_PIDS=()
for i in 1 2 3; do
	start "backend$i" "$LOAD_CPUS" "$WORK/backend" -addr 127.0.0.1:0 -name "b$i"
	wait_for "backend$i" 10 has_line "$WORK/backend$i.out"
	BACKEND_ADDRS+=("$(head -n 1 "$WORK/backend$i.out")")
	BACKEND_PIDS+=("$STARTED")
done
say "backends: ${BACKEND_ADDRS[*]}"

# --- proxies ------------------------------------------------------------------

# The Lua sample fetch of the seed set-up, loaded with lua-load (one Lua state
# shared by HAProxy's threads) as the classic recipe does.
cat >"$WORK/sessionid.lua" <<'LUA'
core.register_fetches("sessionid", function(txn)
	local body = txn.f:req_body()
	if body == nil then
		return nil
	end
	return body:match("<sessionId>(.-)</sessionId>")
end)
LUA

# The stick peer's key in HAProxy's own sample fetch and converter: the text
# between the first <sessionId> and </sessionId> of the buffered body ((?s):
# . also matches the body's newlines), like seed's Lua pattern. HAProxy
# takes two levels of quotes here: the outer single quotes make the
# expression one word, with no $ or \ processing, and the inner double quotes
# keep the regex's parentheses out of the converter's argument list.
STICK_EXPR='req.body,regsub("(?s)^.*?<sessionId>(.*?)</sessionId>.*","\1")'

# haproxy_config PEER ADDR writes the configuration of peer haproxy, seed or
# stick.
haproxy_config() {
	local peer=$1 addr=$2 i
	echo "global"
	echo "	maxconn 4096"
	[ "$peer" = seed ] && echo "	lua-load $WORK/sessionid.lua"
	echo "defaults"
	echo "	mode http"
	echo "	timeout connect 5s"
	echo "	timeout client 30s"
	echo "	timeout server 30s"
	[ "$peer" != haproxy ] && echo "	option http-buffer-request"
	echo "frontend fe"
	echo "	bind $addr"
	echo "	default_backend be"
	echo "backend be"
	echo "	balance roundrobin"
	if [ "$peer" != haproxy ]; then
		echo "	stick-table type string len 64 size 1m expire 30m"
		case $peer in
		seed) echo "	stick on lua.sessionid" ;;
		stick) printf "\tstick on '%s'\n" "$STICK_EXPR" ;;
		esac
	fi
	for i in "${!BACKEND_ADDRS[@]}"; do
		echo "	server b$((i + 1)) ${BACKEND_ADDRS[$i]}"
	done
}

# PEEKROUTE_ENV holds more NAME=VALUE settings for peekroute.
PEEKROUTE_ENV=()

# start_proxy PEER NAME starts a fresh proxy and sets PROXY_PID (empty for
# direct) and PROXY_URL.
start_proxy() {
	local peer=$1 name=$2 addr admin
	PROXY_PID=
	case $peer in
	direct)
		PROXY_URL="http://${BACKEND_ADDRS[0]}/"
		return
		;;
	haproxy | seed | stick)
		addr=127.0.0.1:$("$WORK/backend" -free-ports 1)
		haproxy_config "$peer" "$addr" >"$WORK/$name.cfg"
		haproxy -c -q -f "$WORK/$name.cfg" || die "bad HAProxy configuration $WORK/$name.cfg"
		start "$name" "$PROXY_CPUS" haproxy -db -f "$WORK/$name.cfg"
		PROXY_PID=$STARTED
		wait_for "$name" 10 accepts "$addr"
		;;
	peekroute)
		start "$name" "$PROXY_CPUS" env \
			PEEKROUTE_BACKENDS="$(printf 'http://%s,' "${BACKEND_ADDRS[@]}" | sed 's/,$//')" \
			PEEKROUTE_KEY=xml:sessionId \
			PEEKROUTE_LISTEN_ADDR=127.0.0.1:0 \
			PEEKROUTE_ADMIN_ADDR=127.0.0.1:0 \
			PEEKROUTE_PEEK_LIMIT="$PEEK_LIMIT" \
			PEEKROUTE_SHUTDOWN_DELAY=0s \
			PEEKROUTE_SHUTDOWN_TIMEOUT=2s \
			"${PEEKROUTE_ENV[@]}" \
			"$WORK/peekroute"
		PROXY_PID=$STARTED
		wait_for "$name" 10 grep -q '"msg":"peekroute listening"' "$WORK/$name.err"
		addr=$(sed -n 's/.*"msg":"peekroute listening".*"addr":"\([^"]*\)".*/\1/p' "$WORK/$name.err" | head -n 1)
		admin=$(sed -n 's/.*"msg":"peekroute listening".*"admin":"\([^"]*\)".*/\1/p' "$WORK/$name.err" | head -n 1)
		if [ -z "$addr" ] || [ -z "$admin" ]; then
			die "no addresses in peekroute's log line"
		fi
		wait_for "$name" 20 is_ready "$admin"
		;;
	esac
	PROXY_URL="http://$addr/"
}

stop_proxy() {
	[ -n "$PROXY_PID" ] || return 0
	stop_group "$PROXY_PID"
	local kept=() pid
	for pid in "${GROUPS_STARTED[@]}"; do
		[ "$pid" = "$PROXY_PID" ] || kept+=("$pid")
	done
	GROUPS_STARTED=("${kept[@]}")
	PROXY_PID=
}

# cpu_ticks PID prints the process's utime+stime in clock ticks.
cpu_ticks() {
	local stat f
	read -r stat <"/proc/$1/stat"
	read -r -a f <<<"${stat##*) }"
	echo $((f[11] + f[12]))
}
peak_rss_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
CLK_TCK=$(getconf CLK_TCK)

# --- memory -------------------------------------------------------------------

# --memory: bench/memory drives one peekroute with the idle connections and
# a second, fresh one with the uploads (the first keeps the memory of the
# closed connections for a while), and prints the table.
if [ "$MEMORY" = 1 ]; then
	PEEKROUTE_ENV=(PEEKROUTE_MAX_CONNS=20000)
	mem_args=()
	mem_proxies=()
	for role in idle upload; do
		start_proxy peekroute "peekroute-$role"
		mem_proxies+=("$PROXY_PID")
		addr=${PROXY_URL#http://}
		admin=$(sed -n 's/.*"msg":"peekroute listening".*"admin":"\([^"]*\)".*/\1/p' "$WORK/peekroute-$role.err" | head -n 1)
		if [ "$role" = idle ]; then
			mem_args+=(-addr "${addr%/}" -pid "$PROXY_PID" -admin "$admin")
		else
			mem_args+=(-upload-addr "${addr%/}" -upload-pid "$PROXY_PID" -upload-admin "$admin")
		fi
	done
	say "peekroute: $MEM_IDLE idle connections, then $MEM_UPLOADS uploads of $MEM_UPLOAD_SIZE bytes to a second one"
	# In the background, so that INT and TERM end the run at once (a trap
	# waits for a command in the foreground) and cleanup stops it too.
	start memory "$LOAD_CPUS" "$WORK/memory" "${mem_args[@]}" -idle "$MEM_IDLE" -uploads "$MEM_UPLOADS" \
		-upload-size "$MEM_UPLOAD_SIZE" -timeout 90s
	status=0
	wait "$STARTED" || status=$?
	cat "$WORK/memory.err" >&2
	for pid in "${mem_proxies[@]}"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			say "a peekroute exited during the run; the logs:"
			tail -n 20 "$WORK"/peekroute-*.err >&2 || true
			status=1
		fi
	done
	pinning="unpinned"
	[ -n "$PROXY_CPUS" ] && pinning="peekroute on CPU $PROXY_CPUS; bench/memory and backends on CPU $LOAD_CPUS"
	[ "$NICE" != 0 ] && pinning+="; nice $NICE"
	echo
	echo "peekroute, PEEKROUTE_KEY=xml:sessionId, PEEKROUTE_MAX_CONNS=20000; $pinning; $(nproc) CPUs; ulimit -n $(ulimit -n)"
	echo
	cat "$WORK/memory.out"
	[ "$status" = 0 ] || say "memory run failed (exit status $status)"
	exit "$status"
fi

# --- measuring ----------------------------------------------------------------

# result FILE NAME prints NAME's value from the RESULT line in FILE.
result() { sed -n "s/^RESULT.* $2=\([0-9]*\).*/\1/p" "$1" | tail -n 1; }

human_size() {
	case $1 in
	*[!0-9]*) echo "$1" ;;
	*) awk -v b="$1" 'BEGIN {
		if (b >= 1048576 && b % 1048576 == 0) printf "%d MiB", b / 1048576
		else if (b >= 1024 && b % 1024 == 0) printf "%d KiB", b / 1024
		else printf "%d B", b }' ;;
	esac
}

ROWS=()
FAILED=0
SETUP_FAILED=0

# busy_ticks prints the ticks all CPUs spent on anything but idling, leaving
# out softirq time: there the kernel carries the bench's own loopback traffic
# (the other work that shares the machine is busy in user space).
busy_ticks() {
	local user nice system irq steal
	read -r _ user nice system _ _ irq _ steal _ </proc/stat
	echo $((user + nice + system + irq + steal))
}

# children_ticks FILE prints the CPU time of this shell's reaped children
# (wrk), in ticks, from the output of bash's `times` in FILE, which must run
# in this shell, not in a subshell.
children_ticks() {
	local line m1 s1 m2 s2
	line=$(tail -n 1 "$1") # e.g. "0m1.234s 0m0.567s"
	read -r m1 s1 m2 s2 <<<"$(echo "$line" | tr 'ms' '  ')"
	awk -v a="$m1" -v b="$s1" -v c="$m2" -v d="$s2" -v hz="$CLK_TCK" \
		'BEGIN { printf "%d\n", ((a + c) * 60 + b + d) * hz }'
}

backend_ticks() {
	local pid sum=0
	for pid in "${BACKEND_PIDS[@]}"; do
		sum=$((sum + $(cpu_ticks "$pid")))
	done
	echo "$sum"
}

# wait_quiet waits, at most QUIET_WAIT seconds, until the machine has been
# idle (under a tenth of a CPU busy) for two seconds in a row.
wait_quiet() {
	[ "$QUIET_WAIT" -gt 0 ] || return 0
	local waited=0 quiet=0 b0 b1
	b0=$(busy_ticks)
	while [ "$quiet" -lt 2 ] && [ "$waited" -lt "$QUIET_WAIT" ]; do
		sleep 1
		waited=$((waited + 1))
		b1=$(busy_ticks)
		if [ $((b1 - b0)) -lt $((CLK_TCK / 10)) ]; then
			quiet=$((quiet + 1))
		else
			quiet=0
		fi
		b0=$b1
	done
	if [ "$quiet" -lt 2 ]; then
		say "the machine is still busy after ${QUIET_WAIT}s; measuring anyway"
	elif [ "$waited" -gt 2 ]; then
		say "waited ${waited}s for the machine to be idle"
	fi
}

# measure PEER SIZE OFFSET runs one row; OFFSET 0 puts the key at the start.
measure() {
	local peer=$1 size=$2 offset=$3
	local name="$peer-$size-$offset" body="$WORK/body-$size-$offset.xml"
	local pos=start before=0 after=0 rss=
	[ "$offset" -gt 0 ] && pos="$(human_size "$offset") deep"
	[ -f "$body" ] || "$WORK/stickiness" -template "$body" -size "$size" -key-offset "$offset"
	LAST_OTHER_BUSY=0
	wait_quiet
	say "$peer, $(human_size "$size") body, key at $pos: wrk -t$THREADS -c$CONNS -d$DURATION"

	start_proxy "$peer" "$name"
	local busy0 backends0 wrk0 busy1 backends1 wrk1
	[ -n "$PROXY_PID" ] && before=$(cpu_ticks "$PROXY_PID")
	local t0=$EPOCHREALTIME t1
	busy0=$(busy_ticks)
	backends0=$(backend_ticks)
	times >"$WORK/times"
	wrk0=$(children_ticks "$WORK/times")
	BENCH_TEMPLATE=$body BENCH_THREADS=$THREADS BENCH_KEYS=$KEYS \
		on "$LOAD_CPUS" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --timeout "$WRK_TIMEOUT" \
		-s "$BENCH/soap.lua" "$PROXY_URL" >"$WORK/$name.wrk" 2>&1 || true
	busy1=$(busy_ticks)
	backends1=$(backend_ticks)
	times >"$WORK/times"
	wrk1=$(children_ticks "$WORK/times")
	t1=$EPOCHREALTIME
	if [ -n "$PROXY_PID" ]; then
		after=$(cpu_ticks "$PROXY_PID")
		rss=$(peak_rss_kib "$PROXY_PID")
	fi
	on "$LOAD_CPUS" "$WORK/stickiness" -url "$PROXY_URL" -keys "$CHECK_KEYS" -size "$size" \
		-key-offset "$offset" >"$WORK/$name.check" 2>&1 || true
	stop_proxy

	local requests duration_us p50 p99 errors
	requests=$(result "$WORK/$name.wrk" requests)
	if [ -z "$requests" ] || [ "$requests" -eq 0 ]; then
		say "wrk measured nothing for $name:"
		tail -n 20 "$WORK/$name.wrk" >&2
		ROWS+=("| $peer | $(human_size "$size") | $pos | failed | | | | | | | |")
		SETUP_FAILED=1
		return
	fi
	duration_us=$(result "$WORK/$name.wrk" duration_us)
	p50=$(result "$WORK/$name.wrk" p50_us)
	p99=$(result "$WORK/$name.wrk" p99_us)
	errors=0
	local e
	for e in status_errors connect read write timeout; do
		errors=$((errors + $(result "$WORK/$name.wrk" "$e")))
	done

	local sticky check_keys check_errors mismatches spread sticky_cell
	sticky=$(result "$WORK/$name.check" sticky)
	check_keys=$(result "$WORK/$name.check" keys)
	check_errors=$(result "$WORK/$name.check" errors)
	mismatches=$(result "$WORK/$name.check" mismatches)
	spread=$(result "$WORK/$name.check" backends)
	if [ -z "$sticky" ]; then
		sticky_cell="check failed"
		say "stickiness check failed for $name:"
		tail -n 5 "$WORK/$name.check" >&2
		FAILED=1
	else
		if [ "$peer" = direct ]; then
			sticky_cell="— (one backend)"
		else
			sticky_cell="$sticky/$check_keys sticky"
			# Every key on one backend is no session affinity but a hot spot.
			[ "$spread" -eq 1 ] && [ "$check_keys" -gt 1 ] && sticky_cell+=", all on one backend"
		fi
		[ "$check_errors" -gt 0 ] && sticky_cell+=", $check_errors failed"
		[ "$mismatches" -gt 0 ] && sticky_cell+=", $mismatches bodies altered"
		# Only peekroute must be sticky: HAProxy round robin never is, and
		# the seed and stick set-ups are not when the key lies beyond their
		# buffer.
		if [ "$check_errors" -gt 0 ] || [ "$mismatches" -gt 0 ] ||
			{ [ "$peer" = peekroute ] && { [ "$sticky" -ne "$check_keys" ] || [ "$spread" -lt 2 ]; }; }; then
			FAILED=1
		fi
	fi
	[ "$errors" -gt 0 ] && FAILED=1

	local cpu_cell="—" rss_cell="—" other_ticks other_cell
	if [ -n "$rss" ]; then
		cpu_cell=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v n="$requests" 'BEGIN { printf "%.1f µs", t / hz * 1e6 / n }')
		rss_cell=$(awk -v k="$rss" 'BEGIN { printf "%.1f MiB", k / 1024 }')
	fi
	# CPU time that neither the proxy, the backends nor wrk used during the
	# run, in CPUs: other work on the machine skews the row when it is large.
	other_ticks=$(((busy1 - busy0) - (after - before) - (backends1 - backends0) - (wrk1 - wrk0)))
	other_cell=$(awk -v t="$other_ticks" -v hz="$CLK_TCK" -v t0="$t0" -v t1="$t1" \
		'BEGIN { o = t / hz / (t1 - t0); if (o < 0) o = 0; printf "%.2f", o }')
	LAST_OTHER=$other_cell
	LAST_OTHER_BUSY=$(awk -v o="$other_cell" 'BEGIN { print (o > 0.25) ? 1 : 0 }')
	local row
	row=$(awk -v n="$requests" -v d="$duration_us" -v p50="$p50" -v p99="$p99" \
		'BEGIN { printf "%d | %.2f ms | %.2f ms", n / (d / 1e6), p50 / 1000, p99 / 1000 }')
	ROWS+=("| $peer | $(human_size "$size") | $pos | $row | $errors | $cpu_cell | $rss_cell | $sticky_cell | $other_cell |")
	# peer size offset req/s p50_us p99_us errors cpu_us rss_kib sticky keys
	awk -v n="$requests" -v d="$duration_us" -v t=$((after - before)) -v hz="$CLK_TCK" \
		-v line="$peer $size $offset" -v rest="$p50 $p99 $errors" -v tail="${rss:-0} ${sticky:-0} ${check_keys:-0}" \
		-v proxy="${rss:+1}" \
		'BEGIN { printf "%s %.0f %s %.2f %s\n", line, n / (d / 1e6), rest, (proxy ? t / hz * 1e6 / n : 0), tail }' \
		>>"$WORK/results.txt"
}

for size in $SIZES; do
	offsets=0
	if [ "$SMOKE" != 1 ] && [ "$size" -ge 65536 ] && [ "$size" -gt $((DEEP_OFFSET + 1024)) ]; then
		offsets="0 $DEEP_OFFSET"
	fi
	for offset in $offsets; do
		for peer in $PEERS; do
			measure "$peer" "$size" "$offset"
			# With QUIET_WAIT, a row that other work skewed is measured
			# once more.
			if [ "$QUIET_WAIT" -gt 0 ] && [ "${LAST_OTHER_BUSY:-0}" = 1 ]; then
				say "other work used ${LAST_OTHER} CPUs during the run; measuring it again"
				unset 'ROWS[${#ROWS[@]}-1]'
				sed -i '$d' "$WORK/results.txt"
				measure "$peer" "$size" "$offset"
			fi
		done
	done
done

# --- report -------------------------------------------------------------------

pinning="unpinned"
[ -n "$PROXY_CPUS" ] && pinning="proxy on CPU $PROXY_CPUS; wrk, backends and checker on CPU $LOAD_CPUS"
[ "$NICE" != 0 ] && pinning+="; nice $NICE"
echo
echo "wrk -t$THREADS -c$CONNS -d$DURATION, $KEYS keys; stickiness: $CHECK_KEYS keys × 3; $pinning; $(nproc) CPUs"
echo
echo "| peer | body | key | req/s | p50 | p99 | errors | CPU/req | peak RSS | stickiness | other CPU |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|"
printf '%s\n' "${ROWS[@]}"

# Goals: peekroute against the seed set-up and against the stick set-up (the
# same job in HAProxy's C alone), row by row.
for base in seed stick; do
	if [[ " $PEERS " == *" $base "* && " $PEERS " == *" peekroute "* ]] && [ -s "$WORK/results.txt" ]; then
		echo
		awk -v base="$base" '
			{ key = $2 " " $3; rps[$1, key] = $4; p99[$1, key] = $6; cpu[$1, key] = $8; keys[key] = 1; order[++n] = key }
			END {
				for (i = 1; i <= n; i++) {
					k = order[i]
					if (seen[k]++ || !(((base, k) in rps) && (("peekroute", k) in rps)) || rps[base, k] == 0) continue
					split(k, f, " ")
					printf "peekroute vs %s, %d-byte body, key at %s: req/s %.2f×, p99 %.2f×, CPU/req %.2f×\n",
						base, f[1], (f[2] == 0 ? "start" : f[2]), rps["peekroute", k] / rps[base, k],
						(p99[base, k] ? p99["peekroute", k] / p99[base, k] : 0),
						(cpu[base, k] ? cpu["peekroute", k] / cpu[base, k] : 0)
				}
			}' "$WORK/results.txt"
	fi
done

if [ "$SETUP_FAILED" = 1 ]; then
	exit 1
fi
if [ "$SMOKE" = 1 ] && [ "$FAILED" = 1 ]; then
	say "smoke check failed: failed requests, altered bodies or keys peekroute did not keep on one backend"
	exit 1
fi
exit 0
