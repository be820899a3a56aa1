#!/usr/bin/env bash
# The official MCP conformance suite through the whole gateway over TLS, with the
# conformance fixture mounted without a namespace: 0.1.16 `--suite all`, then the
# 2026-07-28 requirements of the 0.2.0 alpha. Prints each run's Total: line.
# Usage: conformance.sh [BUILD]   (also run by `make test` as a meson test)
. "$(dirname "$0")/lib.sh"
require_node22
PORT=$(free_port)
SCHEME=https
# The DNS-rebinding scenario sends Host: evil.example.com and its TLS client checks the
# certificate against that name before anything reaches the gateway. Naming it in the test
# certificate lets the request through TLS, so what is tested is the gateway's Host/Origin
# refusal (403), as on a plain listener.
make_cert evil.example.com
cat >"$WORK/config.json" <<JSON
{
  "listen": [ { "address": "127.0.0.1:$PORT", "tls": true } ],
  "tls": { "certificate": "cert.pem", "key": "key.pem" },
  "auth": { "anonymous": true },
  "roles": { "anonymous": { "tools": ["*"], "prompts": ["*"], "resources": ["*"] } },
  "servers": [ { "name": "fixture", "namespace": "",
                 "command": [ "$BUILD/tests/fixtures/mcpgate-conformance-fixture" ] } ],
  "log": { "level": "warn" }
}
JSON
check "appliance with the fixture becomes ready" start_appliance "$WORK/config.json"

run_suite() { # run_suite NAME PACKAGE ARGS...: passes when every scored scenario passes
	local name=$1 pkg=$2; shift 2
	(cd "$WORK" && NODE_EXTRA_CA_CERTS="$WORK/cert.pem" timeout 600 "$NODE22" \
		"$NODE_MODULES/$pkg/dist/index.js" server --url "https://127.0.0.1:$PORT/mcp" "$@") \
		>"$WORK/$name.out" 2>&1
	local total unscored="" failed=0
	total=$(grep -E '^Total:' "$WORK/$name.out" | tail -1)
	echo "# $name: ${total:-no Total line}"
	[ -n "$total" ] || return 1
	# The alpha marks scenarios that are not scored (extensions, pending drafts) in its summary.
	while read -r scenario; do
		if grep -qE "✗ $scenario \((extension|pending)\)" "$WORK/$name.out"; then
			unscored="$unscored $scenario"
		else
			echo "# FAILED: $scenario"
			failed=1
		fi
	done < <(grep -oE '^✗ [a-z0-9-]+' "$WORK/$name.out" | cut -c5- | sort -u)
	[ -z "$unscored" ] || echo "# not scored by the suite (extension or pending):$unscored"
	return $failed
}
check "conformance 0.1.16 --suite all passes every scenario" \
	run_suite conformance-0.1.16 @modelcontextprotocol/conformance --suite all
check "conformance 0.2.0-alpha.12 --requirements 2026-07-28: every scored scenario passes" \
	run_suite conformance-2026 conformance-next --requirements 2026-07-28
finish
