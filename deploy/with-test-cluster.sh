#!/usr/bin/env bash
# with-test-cluster.sh runs a command with a throwaway ClickHouse cluster on
# loopback: one standalone ZooKeeper (Debian's zookeeper) and three
# clickhouse-server (Debian's 18.16) forming the cluster "ampel_test" —
# shard 01 = replicas A and B, shard 02 = C — each on free ports with its
# own data in a new temporary directory. It waits until every server
# answers and reaches ZooKeeper, exports
#
#     AMPEL_TEST_CLUSTER_DSNS       native DSNs of A, B and C, comma-separated, in that order
#                                   (clickhouse://default@127.0.0.1:PORT/default)
#     AMPEL_TEST_CLUSTER_NAME       ampel_test
#     AMPEL_TEST_CLUSTER_CTL        a control script: CTL stop B | CTL kill B | CTL start B |
#                                   CTL status; stop (SIGTERM), kill (SIGKILL, a crash) and
#                                   start return once the server is down / up
#     AMPEL_TEST_CLUSTER_ZOOKEEPER  127.0.0.1:PORT of the ZooKeeper
#     AMPEL_TEST_CLUSTER_LOCK       a file that tests flock(2) while they use the cluster
#                                   (warehouse/clustertest does), so that tests of
#                                   different packages do not stop servers under each other
#
# runs the command, then stops every server and ZooKeeper and removes the
# directory — also when the command fails or the script is interrupted. It
# exits with the command's status.
#
# The node config is deploy/clickhouse-test/config.xml and users.xml (the
# single test server's: same users and read-only rules) plus, in config.d,
# deploy/clickhouse-test/cluster.xml (cluster, macros, ZooKeeper) and, in
# users.d, deploy/clickhouse-test/cluster-users.xml; ZooKeeper's is
# deploy/clickhouse-test/zoo.cfg.
#
# Usage: deploy/with-test-cluster.sh CMD [ARGS...]
#   e.g. deploy/with-test-cluster.sh go test -race -run Cluster ./warehouse/...
# (deploy/with-test-cluster.sh --ctl DIR stop|kill|start|status NODE is what
# AMPEL_TEST_CLUSTER_CTL runs.)
set -euo pipefail

die() { echo "with-test-cluster: $*" >&2; exit 1; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
self="$here/$(basename "${BASH_SOURCE[0]}")"
nodes=(A B C)

# ---- one node: pid file, liveness, readiness, start, stop ------------------

# alive NAME: the process in NAME/pid runs (a zombie that nobody reaped yet
# counts as stopped).
alive() {
	local pid st
	pid="$(cat "$dir/$1/pid" 2>/dev/null)" || return 1
	[ -n "$pid" ] || return 1
	st="$(ps -o stat= -p "$pid" 2>/dev/null)" || return 1
	[ -n "$st" ] && [ "${st:0:1}" != Z ]
}

# http_get PORT PATH: the body of an HTTP/1.0 GET on loopback.
http_get() {
	(
		exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
		sed '1,/^\r\{0,1\}$/d' <&3
	) 2>/dev/null
}

# ready NAME: the server answers on HTTP and the native port and reaches
# ZooKeeper (a query of system.zookeeper returns the root's children).
# When not, why says what is missing.
why=""
ready() {
	local out
	why="the process is not running"
	alive "$1" || return 1
	why="nothing listens on the native port $(port "$1" tcp)"
	(exec 3<>"/dev/tcp/127.0.0.1/$(port "$1" tcp)") 2>/dev/null || return 1
	why="no answer on the HTTP port $(port "$1" http)"
	out="$(http_get "$(port "$1" http)" '/?query=SELECT%20count()%20FROM%20system.zookeeper%20WHERE%20path%20%3D%20%27%2F%27')" || return 1
	why="a query of system.zookeeper returned: ${out:0:300}"
	[[ "$out" =~ ^[1-9] ]]
}

zk_ready() {
	local out
	why="the process is not running"
	alive zookeeper || return 1
	out="$( (exec 3<>"/dev/tcp/127.0.0.1/$zk_port" && printf srvr >&3 && timeout 5 cat <&3) 2>/dev/null)" || true
	why="srvr on port $zk_port returned: ${out:0:300}"
	[[ "$out" == *"Mode: standalone"* ]]
}

# released NAME: no ZooKeeper session holds NAME's replicas active any
# more. A server killed with SIGKILL leaves its session (and so its
# replicas/NAME/is_active nodes) until the session times out (6 s); a
# server started before that keeps its replicated tables inactive for that
# long, and SYSTEM SYNC REPLICA on them returns before they caught up.
released() {
	local out
	out="$( (exec 3<>"/dev/tcp/127.0.0.1/$zk_port" && printf dump >&3 && timeout 5 cat <&3) 2>/dev/null)" || return 1
	[[ "$out" == *"ephemeral nodes dump"* ]] || return 1
	[[ "$out" != *"/replicas/$1/is_active"* ]]
}

# port NAME KIND: the node's tcp, http or interserver port.
port() { cat "$dir/$1/$2_port"; }

# launch NAME: starts the node in the background, detached from this shell
# (so that a later `ctl start` by another process is alike), pid in NAME/pid.
launch() {
	local n="$1"
	if [ "$n" = zookeeper ]; then
		(cd "$dir/zookeeper" && exec "$java" -Xms16m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData \
			-Dzookeeper.admin.enableServer=false -Djava.io.tmpdir="$dir/zookeeper" \
			-cp "$zk_jar" org.apache.zookeeper.server.ZooKeeperServerMain "$dir/zookeeper/zoo.cfg" \
			</dev/null >"$dir/zookeeper/stdout.log" 2>&1 &
		echo $! >"$dir/zookeeper/pid")
	else
		(cd "$dir/$n" && exec "$bin" --config-file="$dir/$n/config.xml" \
			</dev/null >"$dir/$n/stdout.log" 2>&1 &
		echo $! >"$dir/$n/pid")
	fi
}

# await NAME: waits until the node is ready (AMPEL_TEST_CLUSTER_WAIT
# seconds, 120 by default: the machine may be busy); fails at once when
# its process exits.
await() {
	local check=ready delay=0.01 deadline=$((SECONDS + ${AMPEL_TEST_CLUSTER_WAIT:-120}))
	[ "$1" != zookeeper ] || check=zk_ready
	while [ "$SECONDS" -le "$deadline" ]; do
		if "$check" "$1"; then return 0; fi
		alive "$1" || return 1
		sleep "$delay"
		delay=0.1
	done
	why="$why (after ${AMPEL_TEST_CLUSTER_WAIT:-120} s)"
	return 1
}

# halt NAME: SIGTERM, up to 15 s to exit, then SIGKILL; returns once it is gone.
halt() {
	local pid
	alive "$1" || return 0
	pid="$(cat "$dir/$1/pid")"
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 150); do alive "$1" || return 0; sleep 0.1; done
	: >"$dir/$1/killed"
	kill -KILL "$pid" 2>/dev/null || true
	for _ in $(seq 100); do alive "$1" || return 0; sleep 0.1; done
	return 1
}

# restore_after_kill NAME: before a start after SIGKILL, what an operator
# does after a crash: the flag force_restore_data. A replica killed after
# it wrote a part but before it registered the part in ZooKeeper finds an
# "unexpected" part at its start; in a small test table that is more than
# replicated_max_ratio_of_wrong_parts of the rows, and 18.16 then refuses
# to load the table. With the flag it moves the part aside and fetches
# what it misses; the server removes the flag once it has started.
restore_after_kill() {
	[ -e "$dir/$1/killed" ] || return 0
	mkdir -p "$dir/$1/data/flags"
	: >"$dir/$1/data/flags/force_restore_data"
	rm -f "$dir/$1/killed"
}

node_log() {
	echo "with-test-cluster: $1 did not start: $why; its output:" >&2
	tail -n 20 "$dir/$1/stdout.log" "$dir/$1/log/clickhouse-server.log" "$dir/$1/log/clickhouse-server.err.log" >&2 2>/dev/null || true
}

# ---- ctl mode ---------------------------------------------------------------

if [ "${1:-}" = --ctl ]; then
	[ $# -ge 3 ] || die "usage: CTL stop|kill|start|status [A|B|C]"
	dir="$2"
	cmd="$3"
	# shellcheck source=/dev/null
	. "$dir/env"
	case "$cmd" in
	status)
		list=("${@:4}")
		[ ${#list[@]} -gt 0 ] || list=("${nodes[@]}")
		for n in "${list[@]}"; do
			if alive "$n"; then echo "$n up"; else echo "$n down"; fi
		done
		exit 0
		;;
	stop | kill | start) ;;
	*) die "unknown command $cmd: want stop, kill, start or status" ;;
	esac
	[ $# -eq 4 ] || die "usage: CTL $cmd A|B|C"
	n="$4"
	case "$n" in A | B | C) ;; *) die "unknown node $n: want A, B or C" ;; esac
	if [ "$cmd" = stop ]; then
		halt "$n" || die "$n did not stop"
	elif [ "$cmd" = kill ]; then
		if alive "$n"; then
			: >"$dir/$n/killed"
			kill -KILL "$(cat "$dir/$n/pid")" 2>/dev/null || true
		fi
		for _ in $(seq 100); do alive "$n" || exit 0; sleep 0.1; done
		die "$n did not die"
	else
		if ! alive "$n"; then
			for _ in $(seq 300); do released "$n" && break; sleep 0.1; done
			released "$n" || die "ZooKeeper still holds $n's replicas active after 30 s"
			restore_after_kill "$n"
			launch "$n"
		fi
		await "$n" || { node_log "$n"; die "$n did not start"; }
	fi
	exit 0
fi

# ---- run mode ---------------------------------------------------------------

[ $# -gt 0 ] || die "usage: $0 CMD [ARGS...]"

bin="${CLICKHOUSE_SERVER:-}"
if [ -z "$bin" ]; then
	for b in /usr/sbin/clickhouse-server /usr/bin/clickhouse-server; do
		if [ -x "$b" ]; then bin="$b"; break; fi
	done
	[ -n "$bin" ] || bin="$(command -v clickhouse-server || true)"
fi
[ -n "$bin" ] || die "clickhouse-server not found: run \`make test-deps\` (deploy/install-test-deps.sh)"
zk_jar="${ZOOKEEPER_JAR:-/usr/share/java/zookeeper.jar}"
[ -r "$zk_jar" ] || die "$zk_jar not found: run \`make test-deps\` (deploy/install-test-deps.sh installs Debian's zookeeper)"
java="${JAVA:-$(command -v java || true)}"
[ -n "$java" ] || die "java not found: install a Java runtime (Debian's default-jre-headless)"

# free_ports N: N distinct free loopback ports, one a line.
free_ports() {
	python3 -c '
import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in ss))
for s in ss: s.close()' "$1" 2>/dev/null && return
	# no python3: random high ports that nothing listens on
	local p seen=" " k=0
	for _ in $(seq 500); do
		p=$((20000 + RANDOM % 40000))
		[[ "$seen" == *" $p "* ]] && continue
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"; seen="$seen$p "; k=$((k + 1))
			[ "$k" -lt "$1" ] || return 0
		fi
	done
	die "no free ports found"
}

dir=""
stop_all() {
	[ -n "$dir" ] || return 0
	local n
	for n in "${nodes[@]}"; do halt "$n" & done
	wait
	halt zookeeper || true
	rm -rf "$dir"
	dir=""
}
# on INT or TERM: stop the command (its whole process group: go test and
# the test binaries it runs), then everything else (EXIT)
child=""
on_signal() {
	if [ -n "$child" ]; then
		kill -TERM -- "-$child" 2>/dev/null || true
		wait "$child" 2>/dev/null || true
	fi
	exit "$1"
}
trap stop_all EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

# setup writes the configs of ZooKeeper and the three nodes in a new $dir.
setup() {
	dir="$(mktemp -d "${TMPDIR:-/tmp}/ampel-cluster-XXXXXX")"
	local ports i n shard
	mapfile -t ports < <(free_ports 10)
	[ ${#ports[@]} -eq 10 ] || die "no free ports found"
	zk_port="${ports[9]}"
	mkdir -p "$dir/zookeeper/data"
	sed -e "s|@DIR@|$dir|g" -e "s|@ZK_PORT@|$zk_port|g" "$here/clickhouse-test/zoo.cfg" >"$dir/zookeeper/zoo.cfg"
	for i in 0 1 2; do
		n="${nodes[$i]}"
		mkdir -p "$dir/$n"/{data,tmp,user_files,format_schemas,log,config.d,users.d}
		echo "${ports[$((3 * i))]}" >"$dir/$n/tcp_port"
		echo "${ports[$((3 * i + 1))]}" >"$dir/$n/http_port"
		echo "${ports[$((3 * i + 2))]}" >"$dir/$n/interserver_port"
	done
	for n in "${nodes[@]}"; do
		shard=01
		[ "$n" != C ] || shard=02
		sed -e "s|@DIR@|$dir/$n|g" -e "s|@TCP_PORT@|$(port "$n" tcp)|g" -e "s|@HTTP_PORT@|$(port "$n" http)|g" \
			"$here/clickhouse-test/config.xml" >"$dir/$n/config.xml"
		cp "$here/clickhouse-test/users.xml" "$dir/$n/users.xml"
		cp "$here/clickhouse-test/cluster-users.xml" "$dir/$n/users.d/cluster.xml"
		sed -e "s|@INTERSERVER_PORT@|$(port "$n" interserver)|g" -e "s|@ZK_PORT@|$zk_port|g" \
			-e "s|@A_PORT@|$(port A tcp)|g" -e "s|@B_PORT@|$(port B tcp)|g" -e "s|@C_PORT@|$(port C tcp)|g" \
			-e "s|@SHARD@|$shard|g" -e "s|@REPLICA@|$n|g" \
			"$here/clickhouse-test/cluster.xml" >"$dir/$n/config.d/cluster.xml"
	done
	cat >"$dir/env" <<-EOF
		bin='$bin'
		zk_port='$zk_port'
		EOF
	printf '#!/bin/sh\n# controls the test cluster in %s: stop|kill|start|status [A|B|C]\nexec %q --ctl %q "$@"\n' \
		"$dir" "$self" "$dir" >"$dir/ctl"
	chmod +x "$dir/ctl"
	: >"$dir/lock"
}

# start_all starts ZooKeeper, then the three servers side by side, and
# waits until all are ready.
start_all() {
	launch zookeeper
	if ! await zookeeper; then node_log zookeeper; return 1; fi
	local n ok=0
	for n in "${nodes[@]}"; do launch "$n"; done
	for n in "${nodes[@]}"; do
		if ! await "$n"; then node_log "$n"; ok=1; fi
	done
	return "$ok"
}

started=0
for _ in 1 2 3; do
	setup
	if start_all; then started=1; break; fi
	stop_all
done
[ "$started" = 1 ] || die "the test cluster did not start ($bin, $zk_jar)"

dsns=()
for n in "${nodes[@]}"; do dsns+=("clickhouse://default@127.0.0.1:$(port "$n" tcp)/default"); done
export AMPEL_TEST_CLUSTER_DSNS
AMPEL_TEST_CLUSTER_DSNS="$(IFS=,; echo "${dsns[*]}")"
export AMPEL_TEST_CLUSTER_NAME=ampel_test
export AMPEL_TEST_CLUSTER_CTL="$dir/ctl"
export AMPEL_TEST_CLUSTER_ZOOKEEPER="127.0.0.1:$zk_port"
export AMPEL_TEST_CLUSTER_LOCK="$dir/lock"
echo "with-test-cluster: $("$bin" --version 2>/dev/null | head -n1 || echo clickhouse-server) cluster ampel_test" \
	"(A, B = shard 01; C = shard 02; ZooKeeper at $AMPEL_TEST_CLUSTER_ZOOKEEPER): $AMPEL_TEST_CLUSTER_DSNS" >&2

# the command runs in a process group of its own (set -m) so that a signal
# reaches all of it, and in the background so that this shell's traps run
# at once rather than when the command ends
set -m
"$@" <&0 &
child=$!
set +m
status=0
wait "$child" || status=$?
exit "$status"
