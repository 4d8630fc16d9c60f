#!/usr/bin/env bash
# with-test-clickhouse.sh runs a command with a throwaway ClickHouse server:
# it starts clickhouse-server on free loopback ports with its data in a new
# temporary directory, waits until the server answers, exports
#
#     AMPEL_TEST_CLICKHOUSE_DSN=clickhouse://default@127.0.0.1:PORT/default
#
# runs the command, then stops the server and removes the directory — also
# when the command fails or the script is interrupted. It exits with the
# command's status.
#
# Usage: deploy/with-test-clickhouse.sh CMD [ARGS...]
#   e.g. deploy/with-test-clickhouse.sh go test -race ./...
set -euo pipefail

die() { echo "with-test-clickhouse: $*" >&2; exit 1; }

[ $# -gt 0 ] || die "usage: $0 CMD [ARGS...]"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="${CLICKHOUSE_SERVER:-}"
if [ -z "$bin" ]; then
	for b in /usr/sbin/clickhouse-server /usr/bin/clickhouse-server; do
		if [ -x "$b" ]; then bin="$b"; break; fi
	done
	[ -n "$bin" ] || bin="$(command -v clickhouse-server || true)"
fi
[ -n "$bin" ] || die "clickhouse-server not found: run \`make test-deps\` (deploy/install-test-deps.sh)"

# free_port asks the kernel for a free loopback port.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null && return
	# no python3: pick a random high port that nothing listens on
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
	done
	die "no free port found"
}

dir="$(mktemp -d "${TMPDIR:-/tmp}/ampel-clickhouse-XXXXXX")"
pid=""
stop() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start() {
	tcp_port="$(free_port)"
	http_port="$(free_port)"
	[ "$tcp_port" != "$http_port" ] || http_port="$(free_port)"
	mkdir -p "$dir"/{data,tmp,user_files,format_schemas,log}
	sed -e "s|@DIR@|$dir|g" -e "s|@TCP_PORT@|$tcp_port|g" -e "s|@HTTP_PORT@|$http_port|g" \
		"$here/clickhouse-test/config.xml" >"$dir/config.xml"
	cp "$here/clickhouse-test/users.xml" "$dir/users.xml"
	(cd "$dir" && exec "$bin" --config-file="$dir/config.xml") >"$dir/stdout.log" 2>&1 &
	pid=$!
	# wait until it answers, no fixed sleep (60 s at most)
	local delay=0.01
	for _ in $(seq 600); do
		if ! kill -0 "$pid" 2>/dev/null; then
			pid=""
			return 1
		fi
		if (exec 3<>"/dev/tcp/127.0.0.1/$http_port" && printf 'GET /ping HTTP/1.0\r\n\r\n' >&3 && grep -q '^Ok' <&3) 2>/dev/null &&
			(exec 3<>"/dev/tcp/127.0.0.1/$tcp_port") 2>/dev/null; then
			return 0
		fi
		sleep "$delay"
		delay=0.1
	done
	return 1
}

started=0
for _ in 1 2 3; do
	if start; then started=1; break; fi
	echo "with-test-clickhouse: server did not start; output:" >&2
	tail -n 20 "$dir/stdout.log" "$dir/log/clickhouse-server.err.log" >&2 2>/dev/null || true
	stop
	dir="$(mktemp -d "${TMPDIR:-/tmp}/ampel-clickhouse-XXXXXX")"
done
[ "$started" = 1 ] || die "clickhouse-server ($bin) did not start"

export AMPEL_TEST_CLICKHOUSE_DSN="clickhouse://default@127.0.0.1:$tcp_port/default"
echo "with-test-clickhouse: $("$bin" --version 2>/dev/null | head -n1 || echo clickhouse-server) at $AMPEL_TEST_CLICKHOUSE_DSN" >&2

status=0
"$@" || status=$?
exit "$status"
