#!/usr/bin/env bash
# install-libchdb.sh installs libchdb (the ClickHouse engine as a shared
# library, chDB 26.7.3) for Ampel's embedded warehouse driver, without root.
#
# It fetches the pinned npm package @chdb/lib-linux-x64-gnu with `npm pack`,
# checks the tarball's sha256, and unpacks libchdb.so to
#
#     ${XDG_CACHE_HOME:-$HOME/.cache}/ampel/libchdb-26.7.3/libchdb.so
#
# (the path warehouse/embedded.DefaultLibrary returns). The file appears
# atomically (written beside, then renamed). Running it again when the
# library is present does nothing. It prints the library's path on stdout.
#
# Usage: deploy/install-libchdb.sh [--force]
set -euo pipefail

PACKAGE="@chdb/lib-linux-x64-gnu"
PACKAGE_VERSION="26.7.3-stable.1"
ENGINE_VERSION="26.7.3"
SHA256="c0d32b129e988f2b9a9a31c9141aecf5e1e2453f9a079efc4d36ab8e3f92b2ad"

cache="${XDG_CACHE_HOME:-${HOME:?HOME is not set}/.cache}"
dir="$cache/ampel/libchdb-$ENGINE_VERSION"
lib="$dir/libchdb.so"

die() { echo "install-libchdb: $*" >&2; exit 1; }

force=0
case "${1:-}" in
"") ;;
--force) force=1 ;;
*) die "usage: $0 [--force]" ;;
esac

if [ "$force" = 0 ] && [ -s "$lib" ]; then
	echo "$lib"
	exit 0
fi

case "$(uname -s)/$(uname -m)" in
Linux/x86_64) ;;
*) die "only linux x86_64 is packaged here (this is $(uname -s)/$(uname -m))" ;;
esac
command -v npm >/dev/null || die "npm is needed (apt-get install npm)"
command -v sha256sum >/dev/null || die "sha256sum is needed (coreutils)"
command -v tar >/dev/null || die "tar is needed"

mkdir -p "$dir"
work="$(mktemp -d "$dir/.install.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "install-libchdb: fetching $PACKAGE@$PACKAGE_VERSION (about 180 MB)" >&2
(cd "$work" && npm pack --silent "$PACKAGE@$PACKAGE_VERSION" >/dev/null) ||
	die "npm pack $PACKAGE@$PACKAGE_VERSION failed"
tgz="$(ls "$work"/*.tgz 2>/dev/null | head -n 1)"
[ -n "$tgz" ] || die "npm pack produced no tarball"

got="$(sha256sum "$tgz" | cut -d' ' -f1)"
[ "$got" = "$SHA256" ] || die "checksum mismatch for $PACKAGE@$PACKAGE_VERSION: got $got, want $SHA256"

tar -xzf "$tgz" -C "$work" package/libchdb.so || die "tarball has no package/libchdb.so"
chmod 0755 "$work/package/libchdb.so"
mv -f "$work/package/libchdb.so" "$lib.tmp.$$"
mv -f "$lib.tmp.$$" "$lib"
echo "$lib"
