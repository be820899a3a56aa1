#!/usr/bin/env bash
# Session ids are sealed tokens any replica can open: two gateways sharing a session key
# (auth.session_key_file) accept each other's sessions, so no sticky load balancing is
# needed; a gateway with another key refuses them (404). Also: SSE keep-alive comments
# arrive at the configured interval on an idle stream.
. "$(dirname "$0")/lib.sh"
openssl rand -hex 32 >"$WORK/session.key"
chmod 0600 "$WORK/session.key"

config() { # config FILE PORT KEYFILE-or-empty
	local keyline=""
	[ -n "$3" ] && keyline="\"session_key_file\": \"$3\","
	cat >"$1" <<JSON
{
  "listen": [ { "address": "127.0.0.1:$2", "tls": false } ],
  "auth": { $keyline "anonymous": true },
  "roles": { "anonymous": { "tools": ["*"], "prompts": ["*"], "resources": ["*"] } },
  "edge": { "sse_keepalive_ms": 1000 },
  "servers": [ { "name": "data", "builtin": "data" } ],
  "log": { "level": "info" }
}
JSON
}

PORT_A=$(free_port)
PORT_B=$(free_port)
PORT_C=$(free_port)
config "$WORK/a.json" "$PORT_A" "$WORK/session.key"
config "$WORK/b.json" "$PORT_B" "$WORK/session.key"
config "$WORK/c.json" "$PORT_C" ""

start() { # start NAME CONFIG PORT: prints the supervisor's pid
	"$MCPGATE" run -c "$2" >"$WORK/$1.log" 2>&1 &
	local pid=$!
	for _ in $(seq 150); do
		curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$3/readyz" | grep -q 200 && break
		sleep 0.1
	done
	echo "$pid"
}
A=$(start a "$WORK/a.json" "$PORT_A")
B=$(start b "$WORK/b.json" "$PORT_B")
C=$(start c "$WORK/c.json" "$PORT_C")
stop_all() { for p in $A $B $C; do kill -TERM "$p" 2>/dev/null; done; for p in $A $B $C; do wait "$p" 2>/dev/null; done; }
trap 'stop_all; cleanup' EXIT

post() { # post PORT BODY [curl args]: body then status
	local port=$1 body=$2; shift 2
	curl -s -m 10 -w '\n%{http_code}' -H 'Content-Type: application/json' \
		-H 'Accept: application/json, text/event-stream' "$@" --data-binary "$body" \
		"http://127.0.0.1:$port/mcp"
}
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
post "$PORT_A" "$INIT" -D "$WORK/h" >/dev/null
SID=$(awk -F': ' 'tolower($1)=="mcp-session-id"{print $2}' "$WORK/h" | tr -d '\r')
check "replica A opened a session" test -n "$SID"
LIST='{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
on_b=$(post "$PORT_B" "$LIST" -H "Mcp-Session-Id: $SID" -H 'MCP-Protocol-Version: 2025-11-25')
check "replica B serves A's session (shared key)" test "$(tail -1 <<<"$on_b")" = 200
check "replica B lists the tools in that session" grep -q '"data__s3_get"' <<<"$on_b"
on_c=$(post "$PORT_C" "$LIST" -H "Mcp-Session-Id: $SID" -H 'MCP-Protocol-Version: 2025-11-25')
check "a gateway with another key refuses the session (404)" test "$(tail -1 <<<"$on_c")" = 404

# Keep-alive comments on an idle standalone stream, every sse_keepalive_ms (1 s here).
timeout 3.5 curl -s -N -H 'Accept: text/event-stream' -H "Mcp-Session-Id: $SID" \
	-H 'MCP-Protocol-Version: 2025-11-25' "http://127.0.0.1:$PORT_B/mcp" >"$WORK/stream.txt"
n=$(grep -c '^: keep-alive' "$WORK/stream.txt")
check "an idle SSE stream gets keep-alive comments at the interval ($n in 3.5 s)" test "$n" -ge 2 -a "$n" -le 4

# A key file that is not 64 hex digits is refused at start, naming the file.
echo "not a key" >"$WORK/bad.key"
config "$WORK/bad.json" "$(free_port)" "$WORK/bad.key"
"$MCPGATE" run -c "$WORK/bad.json" >"$WORK/bad.log" 2>&1
rc=$?
check "a malformed session key file stops start-up (exit 78, got $rc)" test "$rc" -eq 78
check "the error names the key file" grep -q 'bad.key' "$WORK/bad.log"
finish
