#!/usr/bin/env bash
# Every refusal of the edge, through a real appliance: the exact status, the JSON-RPC error
# body (code, message, id, data) where the edge writes one, and that framing errors close the
# connection. HTTP-level refusals go over TLS with curl; framing that curl cannot send goes
# over raw sockets (bash /dev/tcp on a plain listener, openssl s_client on the TLS one).
# Also: pipelined requests answered in order, the slowloris cut-off after
# edge.header_timeout_ms, HTTP+SSE without sessionId, and DELETE of a session then its use.
# Usage: edge_rejections.sh [BUILD]   (also run as a meson test)
. "$(dirname "$0")/lib.sh"
require_node22
PORT=$(free_port)
PLAIN=$(free_port)
while [ "$PLAIN" = "$PORT" ]; do PLAIN=$(free_port); done
SCHEME=https
make_cert
MAX_BODY=2048
MAX_HEADER=4096
cat >"$WORK/config.json" <<JSON
{
  "listen": [ { "address": "127.0.0.1:$PORT", "tls": true },
              { "address": "127.0.0.1:$PLAIN", "tls": false } ],
  "tls": { "certificate": "cert.pem", "key": "key.pem" },
  "edge": { "max_body_bytes": $MAX_BODY, "max_header_bytes": $MAX_HEADER, "header_timeout_ms": 1000 },
  "auth": { "anonymous": true },
  "roles": { "anonymous": { "tools": ["*"], "prompts": ["*"], "resources": ["*"] } },
  "servers": [ { "name": "echo", "command": [ "$BUILD/tests/integration/echo-upstream" ] } ],
  "log": { "level": "info" }
}
JSON
check "appliance with a TLS and a plain listener becomes ready" start_appliance "$WORK/config.json"

JSON_ACCEPT='Accept: application/json, text/event-stream'
CT_JSON='Content-Type: application/json'
PV='MCP-Protocol-Version: 2025-11-25'
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'

# call NAME METHOD PATH [curl args...]: one HTTPS request (certificate verified); prints the
# status; headers in $WORK/NAME.h, body in $WORK/NAME.b.
call() {
	local name=$1 method=$2 path=$3; shift 3
	curl -s -m 10 --cacert "$WORK/cert.pem" -X "$method" -D "$WORK/$name.h" -o "$WORK/$name.b" \
		-w '%{http_code}' "$@" "https://127.0.0.1:$PORT$path"
}

# jsq FILE EXPR: a JavaScript expression over the JSON document in FILE (bound to `d`).
jsq() {
	"$NODE22" -e '
		const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
		const v = new Function("d", "return (" + process.argv[2] + ");")(d);
		console.log(typeof v === "object" ? JSON.stringify(v) : String(v));' "$1" "$2" 2>/dev/null
}

header_of() { # header_of NAME HEADER: the value of a response header (case-insensitive)
	awk -v h="$(echo "$2" | tr 'A-Z' 'a-z')" -F': ' 'tolower($1)==h {sub(/\r$/, "", $2); print $2}' "$WORK/$1.h"
}

# refused NAME STATUS GOT_STATUS RPC_CODE MESSAGE_PART [DESCRIPTION]: the status, a JSON body
# whose error.code is RPC_CODE and whose error.message contains MESSAGE_PART.
refused() {
	local name=$1 want=$2 got=$3 code=$4 part=$5 what=${6:-$1}
	if [ "$got" != "$want" ]; then
		not_ok "$what: status $got, want $want (body: $(head -c 300 "$WORK/$name.b"))"
		return
	fi
	local ct rc msg
	ct=$(header_of "$name" content-type)
	rc=$(jsq "$WORK/$name.b" 'd.jsonrpc + " " + d.error.code')
	msg=$(jsq "$WORK/$name.b" 'd.error.message')
	if [ "$ct" = application/json ] && [ "$rc" = "2.0 $code" ] && [[ "$msg" == *"$part"* ]]; then
		ok "$what: $want, JSON-RPC error $code \"$msg\""
	else
		not_ok "$what: $want but body is not the expected error (Content-Type '$ct', code '$rc', message '$msg', want $code \"$part\")"
	fi
}

# ---- 400 ----
s=$(call parse POST /mcp -H "$CT_JSON" -H "$JSON_ACCEPT" -H "$PV" --data-binary '{"jsonrpc":"2.0","id":1,')
refused parse 400 "$s" -32700 "" "malformed JSON"
s=$(call invalid POST /mcp -H "$CT_JSON" -H "$JSON_ACCEPT" -H "$PV" --data-binary '{"jsonrpc":"1.0","id":7,"method":"ping"}')
refused invalid 400 "$s" -32600 'jsonrpc must be "2.0"' "invalid JSON-RPC (jsonrpc 1.0)"
s=$(call invalid2 POST /mcp -H "$CT_JSON" -H "$JSON_ACCEPT" -H "$PV" --data-binary '{"jsonrpc":"2.0","id":8,"method":"tools/list","params":[1]}')
refused invalid2 400 "$s" -32600 "params must be an object" "invalid JSON-RPC (params an array)"
check "invalid JSON-RPC: the error's id is null (JSON-RPC 2.0 for an Invalid Request)" \
	test "$(jsq "$WORK/invalid2.b" 'd.id === null')" = true
s=$(call nosession POST /mcp -H "$CT_JSON" -H "$JSON_ACCEPT" -H "$PV" --data-binary '{"jsonrpc":"2.0","id":"a-1","method":"tools/list"}')
refused nosession 400 "$s" -32600 "Mcp-Session-Id header is required" "tools/list without Mcp-Session-Id"
check "missing session: the error carries the request's id" test "$(jsq "$WORK/nosession.b" d.id)" = a-1
s=$(call badver POST /mcp -H "$CT_JSON" -H "$JSON_ACCEPT" -H 'MCP-Protocol-Version: 1999-01-01' --data-binary '{"jsonrpc":"2.0","id":3,"method":"tools/list"}')
refused badver 400 "$s" -32022 "Unsupported protocol version" "bad MCP-Protocol-Version"
check "bad version: data.supported lists every supported version" \
	test "$(jsq "$WORK/badver.b" 'd.error.data.supported.join(",")')" = "2026-07-28,2025-11-25,2025-06-18,2025-03-26,2024-11-05"
check "bad version: data.requested names what was sent" test "$(jsq "$WORK/badver.b" d.error.data.requested)" = 1999-01-01
BATCH='[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"ping"}]'
for v in 2025-06-18 2025-11-25; do
	s=$(call batch-$v POST /mcp -H "$CT_JSON" -H "$JSON_ACCEPT" -H "MCP-Protocol-Version: $v" --data-binary "$BATCH")
	refused batch-$v 400 "$s" -32600 "batches are not supported in protocol version $v" "batch refused in $v"
done
s=$(call batch-2026 POST /mcp -H "$CT_JSON" -H "$JSON_ACCEPT" -H "MCP-Protocol-Version: 2026-07-28" -H 'Mcp-Method: ping' --data-binary "$BATCH")
refused batch-2026 400 "$s" -32600 "batches are not supported" "batch refused in 2026-07-28"
SL='MCP-Protocol-Version: 2026-07-28'
s=$(call mmethod POST /mcp -H "$CT_JSON" -H "$JSON_ACCEPT" -H "$SL" -H 'Mcp-Method: tools/call' --data-binary '{"jsonrpc":"2.0","id":4,"method":"tools/list"}')
refused mmethod 400 "$s" -32020 "Mcp-Method header does not match" "2026-07-28: Mcp-Method differs from the body's method"
check "Mcp-Method mismatch: the error carries the request's id" test "$(jsq "$WORK/mmethod.b" d.id)" = 4
s=$(call nomethod POST /mcp -H "$CT_JSON" -H "$JSON_ACCEPT" -H "$SL" --data-binary '{"jsonrpc":"2.0","id":5,"method":"tools/list"}')
refused nomethod 400 "$s" -32020 "Mcp-Method header is required" "2026-07-28: Mcp-Method missing"
s=$(call mname POST /mcp -H "$CT_JSON" -H "$JSON_ACCEPT" -H "$SL" -H 'Mcp-Method: tools/call' -H 'Mcp-Name: echo__slow' --data-binary '{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"echo__echo","arguments":{"text":"x"}}}')
refused mname 400 "$s" -32020 "Mcp-Name header does not match" "2026-07-28: Mcp-Name differs from params.name"

# ---- 403 ----
s=$(call origin POST /mcp -H "$CT_JSON" -H "$JSON_ACCEPT" -H "$PV" -H 'Origin: https://evil.example' --data-binary "$INIT")
refused origin 403 "$s" -32600 "Origin not allowed" "a valid initialize from Origin https://evil.example"
check "foreign Origin: no Access-Control-Allow-Origin in the refusal" test -z "$(header_of origin access-control-allow-origin)"
s=$(call origin-ok POST /mcp -H "$CT_JSON" -H "$JSON_ACCEPT" -H "$PV" -H 'Origin: http://localhost:6274' --data-binary "$INIT")
check "control: the same initialize from a loopback Origin is 200 (got $s)" test "$s" = 200
check "control: ... with Access-Control-Allow-Origin echoing it" test "$(header_of origin-ok access-control-allow-origin)" = http://localhost:6274
s=$(call host POST /mcp -H "$CT_JSON" -H "$JSON_ACCEPT" -H "$PV" -H 'Host: evil.example' --data-binary "$INIT")
refused host 403 "$s" -32600 "Host header not allowed" "a valid initialize with Host: evil.example"
s=$(call host-port POST /mcp -H "$CT_JSON" -H "$JSON_ACCEPT" -H "$PV" -H "Host: evil.example:$PORT" --data-binary "$INIT")
refused host-port 403 "$s" -32600 "Host header not allowed" "a valid initialize with Host: evil.example:PORT"

# ---- 404 ----
s=$(call unknown GET /nope)
refused unknown 404 "$s" -32600 "not found" "GET of an unknown path"
s=$(call unknown-post POST /mcp/x -H "$CT_JSON" -H "$JSON_ACCEPT" --data-binary "$INIT")
refused unknown-post 404 "$s" -32600 "not found" "POST to /mcp/x"
s=$(call init POST /mcp -H "$CT_JSON" -H "$JSON_ACCEPT" -H "$PV" --data-binary "$INIT")
SID=$(header_of init mcp-session-id)
check "initialize opens a session (status $s, a session id)" test "$s" = 200 -a -n "$SID"
LIST='{"jsonrpc":"2.0","id":11,"method":"tools/list"}'
s=$(call list POST /mcp -H "$CT_JSON" -H "$JSON_ACCEPT" -H "$PV" -H "Mcp-Session-Id: $SID" --data-binary "$LIST")
check "control: tools/list with that session is 200 (got $s)" test "$s" = 200
s=$(call madeup POST /mcp -H "$CT_JSON" -H "$JSON_ACCEPT" -H "$PV" -H 'Mcp-Session-Id: v1.made-up-session-id' --data-binary "$LIST")
refused madeup 404 "$s" -32001 "session not found" "a made-up Mcp-Session-Id"
# Tampered: one character in the middle of the sealed token changed.
mid=$(( ${#SID} / 2 ))
c=${SID:$mid:1}; [ "$c" = A ] && r=B || r=A
TAMPERED="${SID:0:$mid}$r${SID:$((mid + 1))}"
s=$(call tampered POST /mcp -H "$CT_JSON" -H "$JSON_ACCEPT" -H "$PV" -H "Mcp-Session-Id: $TAMPERED" --data-binary "$LIST")
refused tampered 404 "$s" -32001 "session not found" "a tampered Mcp-Session-Id (one character changed)"
s=$(call tampered-get GET /mcp -H 'Accept: text/event-stream' -H "$PV" -H "Mcp-Session-Id: $TAMPERED")
refused tampered-get 404 "$s" -32001 "session not found" "GET /mcp with a tampered Mcp-Session-Id"

# ---- 405, 406, 413, 415, 431 ----
s=$(call put PUT /mcp -H "$CT_JSON" -H "$JSON_ACCEPT" --data-binary "$INIT")
refused put 405 "$s" -32600 "method not allowed" "PUT /mcp"
check "PUT /mcp: Allow: GET, POST, DELETE" test "$(header_of put allow)" = "GET, POST, DELETE"
s=$(call post-sse POST /sse -H "$CT_JSON" --data-binary "$INIT")
refused post-sse 405 "$s" -32600 "method not allowed" "POST /sse"
check "POST /sse: Allow: GET" test "$(header_of post-sse allow)" = GET
s=$(call accept POST /mcp -H "$CT_JSON" -H 'Accept: application/json' -H "$PV" --data-binary "$INIT")
refused accept 406 "$s" -32600 "Accept must list both application/json and text/event-stream" "POST with Accept: application/json only"
s=$(call accept-get GET /mcp -H 'Accept: application/json' -H "$PV" -H "Mcp-Session-Id: $SID")
refused accept-get 406 "$s" -32600 "Accept must include text/event-stream" "GET /mcp with Accept: application/json"
head -c $((MAX_BODY * 2)) /dev/zero | tr '\0' ' ' >"$WORK/big.json"
s=$(call big POST /mcp -H "$CT_JSON" -H "$JSON_ACCEPT" -H "$PV" --data-binary @"$WORK/big.json")
refused big 413 "$s" -32600 "request body exceeds $MAX_BODY bytes" "a body of $((MAX_BODY * 2)) bytes over edge.max_body_bytes"
check "413: the connection is closed" test "$(header_of big connection)" = close
s=$(call ctype POST /mcp -H 'Content-Type: text/plain' -H "$JSON_ACCEPT" -H "$PV" --data-binary "$INIT")
refused ctype 415 "$s" -32600 "Content-Type must be application/json" "Content-Type: text/plain"
s=$(call bigheader GET /healthz -H "X-Padding: $(head -c $((MAX_HEADER + 500)) /dev/zero | tr '\0' a)")
refused bigheader 431 "$s" -32600 "header section exceeds $MAX_HEADER bytes" "a header section over edge.max_header_bytes"
check "431: the connection is closed" test "$(header_of bigheader connection)" = close

# ---- raw sockets: ambiguous framing -> 400 and the connection closed ----
# raw_plain NAME: sends stdin's bytes on a plain connection and reads until the server closes
# it (at most 5 s). Returns 0 only if the server closed the connection.
raw_plain() {
	exec 3<>"/dev/tcp/127.0.0.1/$PLAIN" || return 2
	cat >&3
	timeout 5 cat <&3 >"$WORK/$1.raw"
	local rc=$?
	exec 3<&- 3>&-
	return $rc
}
# raw_tls NAME: the same over TLS with openssl s_client (-quiet also waits for the server to
# close after stdin ends). Its exit status is not used: it fails when it still had bytes to
# send to a server that closed. $WORK/NAME.ms gets how long it ran.
raw_tls() {
	local t0 rc
	t0=$(date +%s%N)
	timeout 5 openssl s_client -quiet -connect "127.0.0.1:$PORT" -CAfile "$WORK/cert.pem" \
		-verify_return_error >"$WORK/$1.raw" 2>"$WORK/$1.err"
	rc=$?
	echo $(( ($(date +%s%N) - t0) / 1000000 )) >"$WORK/$1.ms"
	[ "$rc" -ne 124 ]
}
# raw_refused NAME RC REASON DESCRIPTION: 400, the reason in a JSON-RPC body, closed.
raw_refused() {
	local name=$1 rc=$2 reason=$3 what=$4
	local first body
	first=$(head -1 "$WORK/$name.raw" | tr -d '\r')
	body=$(sed '1,/^\r$/d' "$WORK/$name.raw")
	printf '%s' "$body" >"$WORK/$name.body"
	if [ "$first" = "HTTP/1.1 400 Bad Request" ] && grep -qi '^connection: close' "$WORK/$name.raw" &&
		[ "$(jsq "$WORK/$name.body" 'd.error.code')" = -32600 ] &&
		[[ "$(jsq "$WORK/$name.body" 'd.error.message')" == *"$reason"* ]] && [ "$rc" = 0 ]; then
		ok "$what: 400 \"$reason\", connection closed"
	else
		not_ok "$what: got '$first', closed: $([ "$rc" = 0 ] && echo yes || echo "no ($rc)"), body '$(head -c 200 "$WORK/$name.body")'"
	fi
}
H="Host: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
B='{"jsonrpc":"2.0","id":1,"method":"ping"}'
printf "POST /mcp HTTP/1.1\r\n${H}Content-Length: ${#B}\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" ${#B} "$B" | raw_plain clte
raw_refused clte $? "both Content-Length and Transfer-Encoding" "Content-Length with Transfer-Encoding"
printf "POST /mcp HTTP/1.1\r\n${H}Content-Length: ${#B}\r\nContent-Length: ${#B}\r\n\r\n%s" "$B" | raw_plain clcl
raw_refused clcl $? "duplicate Content-Length" "Content-Length twice (equal values)"
printf "POST /mcp HTTP/1.1\r\n${H}Content-Length: ${#B}\r\nX-Folded: a\r\n b\r\n\r\n%s" "$B" | raw_plain fold
raw_refused fold $? "obsolete line folding" "obs-fold header line"
printf "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\rb\r\n\r\n" | raw_plain barecr
raw_refused barecr $? "bare CR" "bare CR inside a header"
printf "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\0b\r\n\r\n" | raw_plain nul
raw_refused nul $? "NUL byte" "NUL inside a header"
printf "POST /mcp HTTP/1.1\r\n${H}Content-Length: ${#B}\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" ${#B} "$B" | raw_tls clte-tls
raw_refused clte-tls $? "both Content-Length and Transfer-Encoding" "over TLS: Content-Length with Transfer-Encoding"
printf "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\0b\r\n\r\n" | raw_tls nul-tls
raw_refused nul-tls $? "NUL byte" "over TLS: NUL inside a header"

# ---- pipelining: three requests in one write, answered in order ----
# Two go through auth and the router (the connection waits for each), the last is answered
# by the edge and closes the connection.
INIT_A=${INIT/\"id\":1/\"id\":\"first\"}
INIT_B=${INIT/\"id\":1/\"id\":\"second\"}
pipeline() {
	printf "POST /mcp HTTP/1.1\r\n${H}Content-Length: ${#INIT_A}\r\n\r\n%s" "$INIT_A"
	printf "POST /mcp HTTP/1.1\r\n${H}Content-Length: ${#INIT_B}\r\n\r\n%s" "$INIT_B"
	printf "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
}
check_pipeline() { # NAME RC TRANSPORT
	local statuses order
	statuses=$(grep -aoE 'HTTP/1.1 [0-9]{3} ' "$WORK/$1.raw" | cut -d' ' -f2 | tr '\n' ' ')
	order=$(grep -aoE '"id":"(first|second)"|"status":"ok"' "$WORK/$1.raw" | tr '\n' ' ')
	check "$3 pipelining: three answers (statuses: $statuses)" test "$statuses" = "200 200 200 "
	check "$3 pipelining: in request order ($order)" \
		test "$order" = '"id":"first" "id":"second" "status":"ok" '
	check "$3 pipelining: the connection closed after the last (Connection: close)" test "$2" = 0
}
pipeline | raw_plain pipe-plain
check_pipeline pipe-plain $? plain
pipeline | raw_tls pipe-tls
check_pipeline pipe-tls $? TLS

# ---- slowloris: header bytes trickling in are cut off after header_timeout_ms (1000) ----
exec 3<>"/dev/tcp/127.0.0.1/$PLAIN"
t0=$(date +%s%N)
{
	printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n'
	for i in $(seq 40); do sleep 0.2; printf 'X-Slow-%d: a\r\n' "$i" || break; done
} >&3 2>/dev/null &
TRICKLE=$!
timeout 10 cat <&3 >"$WORK/slow.raw"
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
exec 3<&- 3>&-
kill "$TRICKLE" 2>/dev/null
wait "$TRICKLE" 2>/dev/null
check "slowloris (plain): the server closed the connection (after $ms ms)" test "$rc" = 0
check "slowloris (plain): cut off between 900 and 2500 ms, while bytes still trickled in" \
	test "$ms" -ge 900 -a "$ms" -le 2500
check "slowloris (plain): answered 408 before closing" grep -q '^HTTP/1.1 408 ' "$WORK/slow.raw"
{
	printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n'
	for i in $(seq 40); do sleep 0.2; printf 'X-Slow-%d: a\r\n' "$i" || break; done
} 2>/dev/null | raw_tls slow-tls
rc=${PIPESTATUS[1]} # the writer may die of SIGPIPE once the server has closed
ms=$(cat "$WORK/slow-tls.ms")
check "slowloris (TLS): the server closed the connection after $ms ms (900..2500)" \
	test "$rc" = 0 -a "$ms" -ge 900 -a "$ms" -le 2500
check "slowloris (TLS): answered 408" grep -q '^HTTP/1.1 408 ' "$WORK/slow-tls.raw"
# A client that sends nothing at all after the handshake is cut off too (not answered: there
# is no request to answer).
sleep 4 | raw_tls idle-tls
rc=${PIPESTATUS[1]}
ms=$(cat "$WORK/idle-tls.ms")
check "a TLS client that sends no request is closed after $ms ms (900..2500)" \
	test "$rc" = 0 -a "$ms" -ge 900 -a "$ms" -le 2500

# ---- HTTP+SSE without sessionId; DELETE then use ----
s=$(call msg-nosid POST /messages -H "$CT_JSON" --data-binary '{"jsonrpc":"2.0","id":1,"method":"ping"}')
refused msg-nosid 400 "$s" -32600 "sessionId query parameter is required" "POST /messages without sessionId"
s=$(call msg-badsid POST '/messages?sessionId=a&sessionId=b' -H "$CT_JSON" --data-binary '{"jsonrpc":"2.0","id":1,"method":"ping"}')
refused msg-badsid 400 "$s" -32600 "sessionId query parameter is malformed" "POST /messages with a malformed sessionId"
s=$(call delete DELETE /mcp -H "$PV" -H "Mcp-Session-Id: $SID")
check "DELETE of the session: 200 (got $s)" test "$s" = 200
s=$(call after-delete POST /mcp -H "$CT_JSON" -H "$JSON_ACCEPT" -H "$PV" -H "Mcp-Session-Id: $SID" --data-binary "$LIST")
refused after-delete 404 "$s" -32001 "session not found" "tools/list on the deleted session"
s=$(call after-delete-get GET /mcp -H 'Accept: text/event-stream' -H "$PV" -H "Mcp-Session-Id: $SID")
refused after-delete-get 404 "$s" -32001 "session not found" "GET /mcp on the deleted session"
s=$(call delete-none DELETE /mcp -H "$PV")
refused delete-none 400 "$s" -32600 "Mcp-Session-Id header is required" "DELETE without Mcp-Session-Id"

check "the edge is still the one that started (no crash on any of this)" \
	test "$(grep -c '"child":"edge.0".*"child_ready"\|"child_ready".*"child":"edge.0"' "$WORK/appliance.log")" = 1
finish
