#!/usr/bin/env bash
# kill -9 of any child under traffic: a new one is ready within 2 s, and the others keep
# serving (their PIDs do not change; requests succeed again right after).
. "$(dirname "$0")/lib.sh"
PORT=$(free_port)
write_config "$WORK/config.json" '[{"name":"data","builtin":"data"},{"name":"ops","builtin":"ops"}]'
check "appliance becomes ready" start_appliance "$WORK/config.json"

INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
session() { # opens a session and prints its id (each caller its own header file)
	local h
	h=$(mktemp "$WORK/h.XXXXXX")
	mcp_post "$INIT" -D "$h" >/dev/null
	awk -F': ' 'tolower($1)=="mcp-session-id"{print $2}' "$h" | tr -d '\r'
	rm -f "$h"
}
call_tool() { # one tools/call through the whole path; prints the HTTP status
	mcp_post '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"ops__sqs_delete","arguments":{"queue":"q","receipt_handle":"r"}}}' \
		-H "Mcp-Session-Id: $1" -H 'MCP-Protocol-Version: 2025-11-25' | tail -1
}

# Background traffic: a bounded loop of calls (at most 60 s), counting answers.
traffic() {
	local sid end=$((SECONDS + 60)) n=0
	sid=$(session)
	while [ $SECONDS -lt $end ] && [ ! -f "$WORK/stop" ]; do
		code=$(call_tool "$sid")
		[ "$code" = 200 ] && n=$((n + 1))
		[ "$code" = 404 ] && sid=$(session)
		echo "$n" >"$WORK/traffic.count"
	done
}
traffic &
TRAFFIC=$!

sid=$(session)
check "a session can be opened" test -n "$sid"
check "a tool call works before any kill" test "$(call_tool "$sid")" = 200

for role in edge auth router server-data server-ops; do
	victim=$(child_pid "mcpgate-$role")
	others=$(children | awk -v v="$victim" '$1 != v {print $1}' | sort | tr '\n' ' ')
	before=$(grep -c '"child_ready"' "$WORK/appliance.log")
	t0=$(date +%s%N)
	kill -KILL "$victim"
	if wait_log '"child_ready"' $((before + 1)) 2; then
		ms=$(( ($(date +%s%N) - t0) / 1000000 ))
		ok "$role: restarted and ready in ${ms} ms (< 2000)"
	else
		not_ok "$role: not ready again within 2 s"
	fi
	still=$(for p in $others; do kill -0 "$p" 2>/dev/null && echo "$p"; done | sort | tr '\n' ' ')
	check "$role: the other children kept running" test "$still" = "$others"
	wait_ready 5
	code=000
	for _ in $(seq 30); do
		sid=$(session)
		code=$(call_tool "$sid")
		[ "$code" = 200 ] && break
		sleep 0.1
	done
	check "$role: calls succeed again after the restart" test "$code" = 200
done

touch "$WORK/stop"
wait "$TRAFFIC"
count=$(cat "$WORK/traffic.count" 2>/dev/null || echo 0)
check "background traffic kept being served ($count calls)" test "$count" -gt 20
check "no child failed permanently" bash -c "! grep -q child_failed_permanently '$WORK/appliance.log'"
finish
