#!/usr/bin/env bash
# Two upstreams whose tool names all clash (two echo-upstream processes mounted as namespaces
# "a" and "b"), through the whole gateway over TLS: both sets appear namespaced and each call
# reaches its own upstream; a call that kills upstream a mid-call gets a JSON-RPC error
# naming the upstream while a concurrent call to b completes; tools/list right after still
# shows b's tools, and a's again once the supervisor has restarted it; arguments that violate
# a tool's inputSchema get a tool error naming the argument.
# Usage: upstreams.sh [BUILD]   (also run as a meson test)
. "$(dirname "$0")/lib.sh"
require_node22
PORT=$(free_port)
SCHEME=https
make_cert
ECHO="$BUILD/tests/integration/echo-upstream"
cat >"$WORK/config.json" <<JSON
{
  "listen": [ { "address": "127.0.0.1:$PORT", "tls": true } ],
  "tls": { "certificate": "cert.pem", "key": "key.pem" },
  "auth": { "anonymous": true },
  "roles": { "anonymous": { "tools": ["*"], "prompts": ["*"], "resources": ["*"] } },
  "servers": [ { "name": "first", "namespace": "a", "command": [ "$ECHO", "--name", "up-a" ] },
               { "name": "second", "namespace": "b", "command": [ "$ECHO", "--name", "up-b" ] } ],
  "supervisor": { "restart": { "max_deaths": 20, "window_seconds": 60 } },
  "log": { "level": "info" }
}
JSON
check "appliance with two clashing upstreams becomes ready" start_appliance "$WORK/config.json"

# rpc NAME BODY [curl args...]: one POST to /mcp over TLS; the body in $WORK/NAME, headers in
# $WORK/NAME.h; prints the status.
rpc() {
	local name=$1 body=$2; shift 2
	curl -s -m 20 --cacert "$WORK/cert.pem" -D "$WORK/$name.h" -o "$WORK/$name" -w '%{http_code}' \
		-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
		-H 'MCP-Protocol-Version: 2025-11-25' ${SID:+-H "Mcp-Session-Id: $SID"} "$@" \
		--data-binary "$body" "https://127.0.0.1:$PORT/mcp"
}
expect() { # expect FILE EXPR WANT DESCRIPTION
	local got
	got=$(answer "$1" "$2")
	if [ "$got" = "$3" ]; then ok "$4"; else not_ok "$4 (got '${got:0:300}', want '$3')"; fi
}
call_tool() { # call_tool NAME ID TOOL ARGS_JSON: prints the status
	rpc "$1" "{\"jsonrpc\":\"2.0\",\"id\":$2,\"method\":\"tools/call\",\"params\":{\"name\":\"$3\",\"arguments\":$4}}"
}
list_tools() { # list_tools NAME: prints the sorted tool names, comma-separated
	rpc "$1" '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' >/dev/null
	answer "$WORK/$1" 'd.result.tools.map(t => t.name).sort().join(",")'
}
upstream_pid() { ps --ppid "$SUP_PID" -o pid=,args= | awk -v n="$1" '$NF == n {print $1; exit}'; }

SID=""
s=$(rpc init '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}')
SID=$(awk -F': ' 'tolower($1)=="mcp-session-id"{print $2}' "$WORK/init.h" | tr -d '\r')
check "a session opens (status $s)" test "$s" = 200 -a -n "$SID"
rpc initialized '{"jsonrpc":"2.0","method":"notifications/initialized"}' >/dev/null

A_TOOLS="a__ask,a__die,a__echo,a__slow"
B_TOOLS="b__ask,b__die,b__echo,b__slow"
tools=$(list_tools list0)
check "tools/list shows both upstreams' tools, each namespaced ($tools)" test "$tools" = "$A_TOOLS,$B_TOOLS"
expect "$WORK/list0" 'd.result.tools.filter(t => t.name.endsWith("__echo")).every(t => t.inputSchema.required[0] === "text")' true \
	"both echo tools keep their inputSchema"

call_tool echo-a 3 a__echo '{"text":"to a"}' >/dev/null
expect "$WORK/echo-a" 'JSON.parse(d.result.content[0].text).server' up-a "a__echo reaches upstream a"
call_tool echo-b 4 b__echo '{"text":"to b"}' >/dev/null
expect "$WORK/echo-b" 'JSON.parse(d.result.content[0].text).server' up-b "b__echo reaches upstream b"
expect "$WORK/echo-b" 'JSON.parse(d.result.content[0].text).text' "to b" "b__echo echoes its text"

# ---- a dies mid-call while b is busy ----
pid_a=$(upstream_pid up-a)
pid_b=$(upstream_pid up-b)
check "both upstreams run as the supervisor's children (a=$pid_a b=$pid_b)" test -n "$pid_a" -a -n "$pid_b"
ready_before=$(grep -c '"upstream_ready","upstream":"first"' "$WORK/appliance.log")
call_tool slow-b 10 b__slow '{"ms":1500}' >"$WORK/slow-b.status" &
SLOW=$!
sleep 0.3
t0=$(date +%s%N)
s=$(call_tool die-a 11 a__die '{}')
die_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "a__die is answered at once (status $s, ${die_ms} ms), not left to a timeout" test "$s" = 200 -a "$die_ms" -lt 3000
expect "$WORK/die-a" 'd.id' 11 "a__die: the answer carries the call's id"
expect "$WORK/die-a" 'd.error.code' -32603 "a__die: a JSON-RPC error (-32603)"
msg=$(answer "$WORK/die-a" 'd.error.message')
check "a__die: the error message names the upstream ('$msg')" bash -c "[[ \"\$1\" == *\"upstream 'first'\"* || \"\$1\" == *\"upstream 'a'\"* ]]" _ "$msg"
check "a__die: the error data names the upstream" \
	bash -c "[[ '$(answer "$WORK/die-a" 'd.error.data.upstream')' =~ ^(first|a)$ ]]"
# Right after the death, before the restart could have happened (it is at least 1 s later).
tools=$(list_tools list1)
check "tools/list right after: b's tools are all there ($tools)" bash -c "[[ ',$tools,' == *',$B_TOOLS,'* ]]"
wait "$SLOW"
check "the concurrent b__slow call finished with 200" test "$(cat "$WORK/slow-b.status")" = 200
expect "$WORK/slow-b" 'd.id' 10 "b__slow: the answer carries its id"
expect "$WORK/slow-b" 'd.result.content[0].text' "slow done after 1500 ms" "b__slow: completed normally while a died"
expect "$WORK/slow-b" 'd.result.isError' false "b__slow: not an error"
check "upstream b was not restarted (pid $pid_b)" test "$(upstream_pid up-b)" = "$pid_b"

# ---- the supervisor restarts a; its tools come back ----
if wait_log '"upstream_ready","upstream":"first"' $((ready_before + 1)) 10; then
	ok "the supervisor restarted upstream a and the router has it ready again"
else
	not_ok "upstream a was not ready again within 10 s"
fi
new_a=$(upstream_pid up-a)
check "upstream a has a new process ($pid_a -> $new_a)" test -n "$new_a" -a "$new_a" != "$pid_a"
tools=""
for _ in $(seq 50); do
	tools=$(list_tools list2)
	[ "$tools" = "$A_TOOLS,$B_TOOLS" ] && break
	sleep 0.2
done
check "tools/list shows a's tools again after the restart ($tools)" test "$tools" = "$A_TOOLS,$B_TOOLS"
call_tool echo-a2 12 a__echo '{"text":"back"}' >/dev/null
expect "$WORK/echo-a2" 'JSON.parse(d.result.content[0].text).text' back "a__echo works again on the same session"

# ---- arguments that violate the inputSchema ----
schema_error() { # schema_error NAME ARGS_JSON ARGUMENT DESCRIPTION
	call_tool "$1" 20 b__echo "$2" >/dev/null
	local err text
	err=$(answer "$WORK/$1" 'd.result.isError')
	text=$(answer "$WORK/$1" 'd.result.content[0].text')
	if [ "$err" = true ] && [[ "$text" == *"'$3'"* ]]; then
		ok "$4: tool error naming '$3' (\"$text\")"
	else
		not_ok "$4: want isError and a text naming '$3', got isError=$err text='$text' ($(head -c 300 "$WORK/$1"))"
	fi
}
schema_error bad-type '{"text":5}' text "text of the wrong type"
schema_error bad-missing '{"times":2}' text "required text missing"
schema_error bad-extra '{"text":"x","colour":"red"}' colour "an argument the schema does not allow"
schema_error bad-range '{"text":"x","times":9}' times "times above its maximum"
schema_error bad-length "{\"text\":\"$(printf 'y%.0s' $(seq 60))\"}" text "text over its maxLength"
call_tool good 21 b__echo '{"text":"fine","times":3}' >/dev/null
expect "$WORK/good" 'd.result.isError' false "control: valid arguments are not an error"
check "no upstream failed permanently" bash -c "! grep -q child_failed_permanently '$WORK/appliance.log'"
finish
