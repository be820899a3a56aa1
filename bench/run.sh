#!/usr/bin/env bash
# make bench: mcpgate side by side with the reference peers of the shared load harness
# (../shared/bench), in one invocation so the figures compare. Our target runs a plain-HTTP
# listener, anonymous access, and the harness's own stdio echo server as a third-party
# upstream mounted without a namespace (the harness calls the tool "echo").
# Usage: bench/run.sh BUILD [bench.sh options and targets...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-build}" && pwd)
shift || true
harness_src="$root/../shared/bench"
[ -d "$harness_src" ] || { echo "bench: the shared harness is not at $harness_src" >&2; exit 1; }
harness="$build/bench-harness"
if [ ! -d "$harness" ]; then
	cp -r "$harness_src" "$harness"
	chmod -R u+w "$harness"
fi
[ -d "$harness/peers/node_modules" ] || (cd "$harness" && ./setup.sh)

conf="$build/bench-mcpgate.json"
cat >"$conf" <<JSON
{
  "listen": [ { "address": "127.0.0.1:18300", "tls": false } ],
  "auth": { "anonymous": true, "rate_limit": { "requests": 1000000, "window_seconds": 1 } },
  "roles": { "anonymous": { "tools": ["*"], "prompts": ["*"], "resources": ["*"] } },
  "servers": [ { "name": "echo", "namespace": "",
                 "command": [ "$(command -v node)", "$harness/peers/stdio-echo.mjs" ] } ],
  "log": { "level": "warn" }
}
JSON
target="mcpgate|http://127.0.0.1:18300/mcp|$build/supervisor/mcpgate run -c $conf"
if [ $# -eq 0 ]; then
	set -- nginx-http node-raw sdk-stateful mcp-proxy
fi
cd "$harness"
exec ./bench.sh "$@" "$target"
