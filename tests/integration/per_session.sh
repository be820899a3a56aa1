#!/usr/bin/env bash
# A server configured "per_session" gets a process of its own for every client session, through
# the whole appliance: two sessions each call whoami (the echo upstream's process id) twice and
# see the same pid within a session, different pids across sessions, and never the shared
# process's (which still serves the catalog); calls made together before the process is up are
# held and both served by it; a plain server is shared as before; resources/subscribe starts
# the session's process (its subscriptions live there). A stateless 2026-07-28 call
# is refused with an error naming the server and why. DELETE of a session stops its process.
# Killing a session's process fails its call in flight at once with a clear error, and the
# session's next call gets a new process. Past the supervisor's 64 processes per server, a
# call fails with an error naming the server and the supervisor's reason.
# Usage: per_session.sh [BUILD]   (also run as a meson test)
. "$(dirname "$0")/lib.sh"
require_node22
PORT=$(free_port)
ECHO="$BUILD/tests/integration/echo-upstream"
write_config "$WORK/config.json" "[
  { \"name\": \"ps\", \"namespace\": \"ps\", \"per_session\": true,
    \"command\": [ \"$ECHO\", \"--name\", \"up-ps\", \"--whoami\" ] },
  { \"name\": \"plain\", \"namespace\": \"plain\",
    \"command\": [ \"$ECHO\", \"--name\", \"up-plain\", \"--whoami\" ] } ]"
check "appliance with a per_session server and a plain one becomes ready" start_appliance "$WORK/config.json"

# rpc NAME SID BODY [curl args...]: one POST to /mcp in session SID ("" for none); the body in
# $WORK/NAME, headers in $WORK/NAME.h; prints the status.
rpc() {
	local name=$1 sid=$2 body=$3; shift 3
	curl -s -m 20 -D "$WORK/$name.h" -o "$WORK/$name" -w '%{http_code}' \
		-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
		${sid:+-H "Mcp-Session-Id: $sid"} "$@" --data-binary "$body" "http://127.0.0.1:$PORT/mcp"
}
open_session() { # open_session NAME: prints the new session's id
	rpc "$1" "" '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}' \
		-H 'MCP-Protocol-Version: 2025-11-25' >/dev/null
	awk -F': ' 'tolower($1)=="mcp-session-id"{print $2}' "$WORK/$1.h" | tr -d '\r'
}
call_tool() { # call_tool NAME SID ID TOOL [ARGS_JSON]: prints the status
	rpc "$1" "$2" "{\"jsonrpc\":\"2.0\",\"id\":$3,\"method\":\"tools/call\",\"params\":{\"name\":\"$4\",\"arguments\":${5:-{\}}}}" \
		-H 'MCP-Protocol-Version: 2025-11-25'
}
whoami() { # whoami NAME SID [TOOL]: prints the pid the call's answer names (or its error)
	call_tool "$1" "$2" 7 "${3:-ps__whoami}" >/dev/null
	answer "$WORK/$1" 'd.result ? d.result.content[0].text : "error: " + d.error.message'
}
ps_pids() { ps --ppid "$SUP_PID" -o pid=,args= | awk '/ --name up-ps / {print $1}' | sort -n | tr '\n' ' '; }
alive() { [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
gone_within() { # gone_within PID SECONDS
	local deadline=$((SECONDS + $2))
	while [ $SECONDS -lt $deadline ]; do alive "$1" || return 0; sleep 0.1; done
	! alive "$1"
}
is_pid() { [[ "$1" =~ ^[0-9]+$ ]]; }

SHARED=$(ps_pids | tr -d ' ')
check "the shared process of the per_session server runs ($SHARED)" is_pid "$SHARED"

A=$(open_session initA)
B=$(open_session initB)
check "two sessions open" test -n "$A" -a -n "$B" -a "$A" != "$B"
tools=$(rpc listA "$A" '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' -H 'MCP-Protocol-Version: 2025-11-25' >/dev/null;
	answer "$WORK/listA" 'd.result.tools.map(t => t.name).filter(n => n.endsWith("whoami")).sort().join(",")')
check "tools/list shows the per_session server's tools from its shared process ($tools)" \
	test "$tools" = "plain__whoami,ps__whoami"

a1=$(whoami a1 "$A"); a2=$(whoami a2 "$A")
b1=$(whoami b1 "$B"); b2=$(whoami b2 "$B")
check "session A's whoami answers a pid ($a1)" is_pid "$a1"
check "session B's whoami answers a pid ($b1)" is_pid "$b1"
check "session A: the same process for both calls ($a1, $a2)" test "$a1" = "$a2"
check "session B: the same process for both calls ($b1, $b2)" test "$b1" = "$b2"
check "sessions A and B have different processes ($a1, $b1)" test "$a1" != "$b1"
check "neither is the shared process ($SHARED)" test "$a1" != "$SHARED" -a "$b1" != "$SHARED"
check "both are the supervisor's children running the server ($(ps_pids))" \
	bash -c "[[ ' $(ps_pids)' == *' $a1 '* && ' $(ps_pids)' == *' $b1 '* ]]"
p1=$(whoami pa "$A" plain__whoami); p2=$(whoami pb "$B" plain__whoami)
check "control: a plain server is one process for both sessions ($p1, $p2)" \
	bash -c "[[ '$p1' =~ ^[0-9]+$ && '$p1' == '$p2' ]]"

# ---- calls sent before the session's process is up are held, then served by it ----
C=$(open_session initC)
call_tool c1 "$C" 11 ps__whoami >/dev/null &
J1=$!
call_tool c2 "$C" 12 ps__whoami >/dev/null &
J2=$!
wait "$J1" "$J2"
c1=$(answer "$WORK/c1" 'd.result ? d.result.content[0].text : d.error.message')
c2=$(answer "$WORK/c2" 'd.result ? d.result.content[0].text : d.error.message')
check "two calls at once in a new session are both served by one new process ($c1, $c2)" \
	bash -c "[[ '$c1' =~ ^[0-9]+$ && '$c1' == '$c2' && '$c1' != '$a1' && '$c1' != '$b1' && '$c1' != '$SHARED' ]]"
check "the answers keep their ids" test "$(answer "$WORK/c1" d.id),$(answer "$WORK/c2" d.id)" = "11,12"

# ---- 2026-07-28 has no session: refused, naming the server and why ----
SL_BODY='{"jsonrpc":"2.0","id":21,"method":"tools/call","params":{"name":"ps__whoami","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"}}}}'
rpc stateless "" "$SL_BODY" -H 'MCP-Protocol-Version: 2026-07-28' -H 'Mcp-Method: tools/call' -H 'Mcp-Name: ps__whoami' >/dev/null
msg=$(answer "$WORK/stateless" 'd.error.message')
check "stateless call to the per_session server: a JSON-RPC error (-32600)" test "$(answer "$WORK/stateless" 'd.error.code')" = -32600
check "... whose message names the server and says it needs a session ('${msg:0:80}...')" \
	bash -c "[[ \"\$1\" == *\"upstream 'ps'\"* && \"\$1\" == *per_session* && \"\$1\" == *session* ]]" _ "$msg"
SL_PLAIN=${SL_BODY//ps__whoami/plain__whoami}
rpc stateless-plain "" "$SL_PLAIN" -H 'MCP-Protocol-Version: 2026-07-28' -H 'Mcp-Method: tools/call' -H 'Mcp-Name: plain__whoami' >/dev/null
check "control: the same stateless call to the plain server works" \
	test "$(answer "$WORK/stateless-plain" 'd.result.content[0].text')" = "$p1"

# ---- DELETE ends the session and stops its process ----
s=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -X DELETE -H "Mcp-Session-Id: $A" \
	-H 'MCP-Protocol-Version: 2025-11-25' "http://127.0.0.1:$PORT/mcp")
check "DELETE of session A is accepted (status $s)" bash -c "[[ '$s' == 200 || '$s' == 202 || '$s' == 204 ]]"
check "session A's process ($a1) is gone within 5 s" gone_within "$a1" 5
check "session B's process ($b1) still runs" alive "$b1"
check "the shared process ($SHARED) still runs" alive "$SHARED"
check "session B still reaches its process" test "$(whoami b3 "$B")" = "$b1"

# ---- the process dies mid-call: the call fails at once, clearly; the next call respawns ----
stopped=$(grep -c 'per_session_stopped' "$WORK/appliance.log")
call_tool slowB "$B" 30 ps__slow '{"ms":8000}' >"$WORK/slowB.status" &
SLOW=$!
sleep 0.5
kill -KILL "$b1"
t0=$(date +%s%N)
wait "$SLOW"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
msg=$(answer "$WORK/slowB" 'd.error.message')
check "the call in flight is answered at once (${ms} ms), not at its timeout" test "$ms" -lt 3000
check "... with a JSON-RPC error (-32603) for its id" \
	test "$(answer "$WORK/slowB" 'd.error.code'),$(answer "$WORK/slowB" d.id)" = "-32603,30"
check "... whose message names the server and says the session's process exited ('$msg')" \
	bash -c "[[ \"\$1\" == *\"upstream 'ps'\"* && \"\$1\" == *\"process for this session exited\"* ]]" _ "$msg"
wait_log 'per_session_stopped' $((stopped + 1)) 5
b4=$(whoami b4 "$B")
check "session B's next call gets a new process ($b1 -> $b4)" \
	bash -c "[[ '$b4' =~ ^[0-9]+$ && '$b4' != '$b1' && '$b4' != '$SHARED' ]]"
check "... and keeps it ($(whoami b5 "$B"))" test "$(whoami b5 "$B")" = "$b4"
# Killed while idle: the same.
stopped=$(grep -c 'per_session_stopped' "$WORK/appliance.log")
kill -KILL "$b4"
wait_log 'per_session_stopped' $((stopped + 1)) 5
b6=$(whoami b6 "$B")
check "killed while idle: the next call gets a new process ($b4 -> $b6)" \
	bash -c "[[ '$b6' =~ ^[0-9]+$ && '$b6' != '$b4' ]]"

# ---- a subscription lives in the session's own process: subscribing starts it ----
D=$(open_session initD)
before=" $(ps_pids)"
rpc subD "$D" '{"jsonrpc":"2.0","id":40,"method":"resources/subscribe","params":{"uri":"echo://up-ps/info"}}' \
	-H 'MCP-Protocol-Version: 2025-11-25' >/dev/null
check "resources/subscribe to the per_session server's resource succeeds" \
	test "$(answer "$WORK/subD" 'JSON.stringify(d.result)')" = '{}'
d1=$(whoami d1 "$D")
check "the subscribing session's calls go to a process started for it ($d1, not one of$before)" \
	bash -c "[[ '$d1' =~ ^[0-9]+$ && '$before' != *' $d1 '* ]]"

# ---- the supervisor's cap (64 processes of one server): a clear error, nothing hangs ----
err=""
for i in $(seq 70); do
	S=$(open_session "cap$i")
	out=$(whoami "capc$i" "$S")
	if [[ "$out" == error:* ]]; then err=$out; break; fi
done
running=$(ps_pids | wc -w)
check "past the cap a call fails (after $i more sessions, $running processes of the server)" \
	test -n "$err" -a "$running" -le 66
check "... naming the server and the supervisor's reason ('${err:0:160}')" \
	bash -c "[[ \"\$1\" == *\"upstream 'ps'\"* && \"\$1\" == *\"too many sessions with their own process\"* ]]" _ "$err"
check "the appliance is still ready" wait_ready 5
finish
