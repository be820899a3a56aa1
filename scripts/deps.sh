#!/usr/bin/env bash
# Installs what is missing, and only that: `deps.sh build` for building and running,
# `deps.sh test` for the test suites (Redis, gdb, Node packages from the lockfile).
set -euo pipefail
cd "$(dirname "$0")/.."

build_pkgs=(gcc make meson ninja-build pkg-config libevent-dev libmbedtls-dev libjansson-dev
	libseccomp-dev libcap-dev libhiredis-dev libcurl4-openssl-dev libexpat1-dev zlib1g-dev openssl curl)
test_pkgs=(redis-server gdb clang libclang-rt-14-dev procps iproute2)

want=("${build_pkgs[@]}")
[ "${1:-build}" = test ] && want=("${test_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "${1:-build}" = test ]; then
	if ! command -v npm >/dev/null; then
		sudo=""
		[ "$(id -u)" -eq 0 ] || sudo="sudo"
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs npm >/dev/null
	fi
	# Node packages for the tests (official MCP SDK, Inspector, conformance suite, Node 22),
	# from the committed lockfile; reinstalled only when the lockfile changes.
	stamp=tests/node/node_modules/.lock-stamp
	if [ ! -f "$stamp" ] || ! cmp -s tests/node/package-lock.json "$stamp"; then
		(cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
		cp tests/node/package-lock.json "$stamp"
	fi
fi
