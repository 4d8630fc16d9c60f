#!/usr/bin/env bash
# install-test-deps.sh installs what Ampel's tests need besides Go and
# libchdb: Debian's clickhouse-server (18.16), which the tests start on
# loopback themselves (deploy/with-test-clickhouse.sh, warehouse/warehousetest),
# systemd-analyze (Debian's systemd), which deploy/check runs on the unit
# file, and xmllint (Debian's libxml2-utils), which serve's tests check the
# feed's $metadata with, and chromium (Debian's), which the cockpit's
# browser test drives headless, and zookeeper (Debian's), which coordinates
# the test cluster deploy/with-test-cluster.sh starts (Java comes with it).
#
# It runs apt-get non-interactively, with sudo only when not root, and does
# not start or enable the system services. When all are there already it
# does nothing. It prints the server's path on stdout.
#
# Usage: deploy/install-test-deps.sh
set -euo pipefail

BIN=/usr/sbin/clickhouse-server
ANALYZE=/usr/bin/systemd-analyze
XMLLINT=/usr/bin/xmllint
CHROMIUM=/usr/bin/chromium
ZOOKEEPER=/usr/share/java/zookeeper.jar

die() { echo "install-test-deps: $*" >&2; exit 1; }

pkgs=()
[ -x "$BIN" ] || pkgs+=(clickhouse-server)
[ -x "$ANALYZE" ] || pkgs+=(systemd)
[ -x "$XMLLINT" ] || pkgs+=(libxml2-utils)
[ -x "$CHROMIUM" ] || pkgs+=(chromium)
[ -r "$ZOOKEEPER" ] || pkgs+=(zookeeper)
if [ ${#pkgs[@]} -eq 0 ]; then
	echo "$BIN"
	exit 0
fi

command -v apt-get >/dev/null 2>&1 ||
	die "${pkgs[*]} missing and apt-get is not available: install them (Debian packages) by hand"

as_root=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || die "not root and no sudo: run as root: apt-get install ${pkgs[*]}"
	as_root=(sudo -n)
fi

export DEBIAN_FRONTEND=noninteractive
# Keep the package's init scripts from starting the service: tests start
# their own servers on free ports.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
	"${as_root[@]}" sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 0755 $policy"
	made_policy=1
fi
cleanup() { if [ "$made_policy" = 1 ]; then "${as_root[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT

"${as_root[@]}" apt-get update -q >&2 || die "apt-get update failed"
"${as_root[@]}" apt-get install -y -q --no-install-recommends \
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
	"${pkgs[@]}" >&2 || die "apt-get install ${pkgs[*]} failed"

[ -x "$BIN" ] || die "clickhouse-server installed but $BIN is missing"
[ -x "$ANALYZE" ] || die "systemd installed but $ANALYZE is missing"
[ -x "$CHROMIUM" ] || die "chromium installed but $CHROMIUM is missing"
[ -r "$ZOOKEEPER" ] || die "zookeeper installed but $ZOOKEEPER is missing"
echo "$BIN"
