#!/usr/bin/env bash
# Resumable SSE streams through the whole gateway over TLS (Streamable HTTP, 2025-11-25):
# a GET stream starts with a priming event that has an id; the client drops it, notifications
# are driven while it is away (the conformance fixture's test_trigger_* tools), and a GET with
# Last-Event-ID gets exactly the missed events, in order, on the same stream; later events
# arrive live. Only the stream's owner can resume it (same session and credentials). A POST
# response stream dropped mid-call is resumed the same way and ends with the result. An
# unknown or expired event id gets a fresh stream, and an expired stream does not take the
# session's newer stream with it.
# Usage: sse_resume.sh [BUILD]   (also run as a meson test)
. "$(dirname "$0")/lib.sh"
require_node22
PORT=$(free_port)
SCHEME=https
make_cert
DETACHED_MS=30000 # EDGE_DETACHED_STREAM_MS in gateway/edge/edge.h
cat >"$WORK/config.json" <<JSON
{
  "listen": [ { "address": "127.0.0.1:$PORT", "tls": true } ],
  "tls": { "certificate": "cert.pem", "key": "key.pem" },
  "auth": { "anonymous": true },
  "roles": { "anonymous": { "tools": ["*"], "prompts": ["*"], "resources": ["*"] } },
  "servers": [ { "name": "fixture", "namespace": "fx",
                 "command": [ "$BUILD/tests/fixtures/mcpgate-conformance-fixture" ] },
               { "name": "echo", "command": [ "$BUILD/tests/integration/echo-upstream" ] } ],
  "log": { "level": "info" }
}
JSON
check "appliance with the conformance fixture becomes ready" start_appliance "$WORK/config.json"

URL="https://127.0.0.1:$PORT/mcp"
PV='MCP-Protocol-Version: 2025-11-25'
STREAMS=()
trap 'for p in "${STREAMS[@]}"; do kill "$p" 2>/dev/null; done; cleanup' EXIT

post() { # post NAME SESSION BODY: prints the status; body in $WORK/NAME, headers in NAME.h
	curl -s -m 20 --cacert "$WORK/cert.pem" -D "$WORK/$1.h" -o "$WORK/$1" -w '%{http_code}' \
		-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
		-H "$PV" ${2:+-H "Mcp-Session-Id: $2"} --data-binary "$3" "$URL"
}
new_session() { # prints a new session id
	post init "" '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}' >/dev/null
	local sid
	sid=$(awk -F': ' 'tolower($1)=="mcp-session-id"{print $2}' "$WORK/init.h" | tr -d '\r')
	post initialized "$sid" '{"jsonrpc":"2.0","method":"notifications/initialized"}' >/dev/null
	echo "$sid"
}
trigger() { # trigger SESSION tool|prompt: makes the fixture announce a list change
	post "trigger-$2" "$1" "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"fx__test_trigger_$2_change\",\"arguments\":{}}}"
}

# open_stream NAME SESSION [LAST_EVENT_ID]: GET /mcp in the background; the stream's body goes
# to $WORK/NAME, headers to NAME.h; the curl PID to $STREAM_PID.
open_stream() {
	curl -sN -m 60 --cacert "$WORK/cert.pem" -D "$WORK/$1.h" -o "$WORK/$1" \
		-H 'Accept: text/event-stream' -H "$PV" -H "Mcp-Session-Id: $2" \
		${3:+-H "Last-Event-ID: $3"} "$URL" &
	STREAM_PID=$!
	STREAMS+=("$STREAM_PID")
}
# drop_stream: the client goes away (its socket closes); gives the edge a moment to see it.
drop_stream() {
	kill "$STREAM_PID" 2>/dev/null
	wait "$STREAM_PID" 2>/dev/null
	sleep 0.2
}
# events FILE: one line per SSE event: "<id> <data>" (id "-" when it has none).
events() {
	"$NODE22" -e '
		const t = require("fs").readFileSync(process.argv[1], "utf8");
		for (const block of t.split(/\r?\n\r?\n/)) {
			let id = "-", data = [], any = false;
			for (const l of block.split(/\r?\n/)) {
				if (l.startsWith("id:")) { id = l.slice(3).trim(); any = true; }
				else if (l.startsWith("data:")) { data.push(l.slice(5).replace(/^ /, "")); any = true; }
			}
			if (any) console.log(id + " " + data.join("\\n"));
		}' "$1" 2>/dev/null
}
# wait_events FILE N SECONDS: until FILE holds at least N events.
wait_events() {
	local deadline=$((SECONDS + $3))
	while [ $SECONDS -lt $deadline ]; do
		[ "$(events "$1" | wc -l)" -ge "$2" ] && return 0
		sleep 0.05
	done
	return 1
}
first_word() { echo "${1%% *}"; }
method_of() { sed -n 's/.*"method":"\([^"]*\)".*/\1/p'; }
status_of() { head -1 "$WORK/$1.h" | cut -d' ' -f2; }

TOOLS_CHANGED=notifications/tools/list_changed
PROMPTS_CHANGED=notifications/prompts/list_changed

# ---- a GET stream: priming event, dropped, events missed, resumed ----
SID=$(new_session)
check "a session opens" test -n "$SID"
open_stream get1 "$SID"
wait_events "$WORK/get1" 1 5
first=$(events "$WORK/get1" | head -1)
KEY=${first%%-*}
check "GET /mcp answers 200 text/event-stream" \
	bash -c "[ '$(status_of get1)' = 200 ] && grep -qi '^content-type: text/event-stream' '$WORK/get1.h'"
check "the first event is a priming event: an id <stream>-1 and empty data ('$first')" \
	bash -c "[[ '$first' =~ ^[0-9]+-1\ $ ]]"
drop_stream

check "tools changed while the client was away (status $(trigger "$SID" tool))" test -f "$WORK/trigger-tool"
check "prompts changed while the client was away (status $(trigger "$SID" prompt))" test -f "$WORK/trigger-prompt"

# Someone else presenting the event id: not the stream's owner, so no resume.
open_stream steal1 "v1.someone-elses-session" "$KEY-1"
wait "$STREAM_PID"
check "Last-Event-ID with a made-up session: 404, not the stream ($(status_of steal1))" test "$(status_of steal1)" = 404
check "... and none of the stream's events" bash -c "! grep -q list_changed '$WORK/steal1'"
SID2=$(new_session)
open_stream steal2 "$SID2" "$KEY-1"
wait_events "$WORK/steal2" 1 5
sleep 0.5
drop_stream
other=$(events "$WORK/steal2" | head -1)
check "Last-Event-ID with another valid session: that session's own new stream ('$other')" \
	bash -c "[[ '$other' =~ ^[0-9]+-1\ $ ]] && [ '${other%%-*}' != '$KEY' ]"
check "... and none of the first stream's events" bash -c "! grep -q list_changed '$WORK/steal2'"

# The owner resumes: exactly the two missed events, in order, on the same stream.
open_stream get2 "$SID" "$KEY-1"
wait_events "$WORK/get2" 2 5
sleep 0.3
mapfile -t EV < <(events "$WORK/get2")
check "resume: 200 text/event-stream ($(status_of get2))" \
	bash -c "[ '$(status_of get2)' = 200 ] && grep -qi '^content-type: text/event-stream' '$WORK/get2.h'"
check "resume: exactly the 2 missed events, no new priming event (${#EV[@]}: ${EV[*]:0:2})" test "${#EV[@]}" = 2
check "resume: event $KEY-2 is tools/list_changed" \
	test "$(first_word "${EV[0]:-}")" = "$KEY-2" -a "$(method_of <<<"${EV[0]:-}")" = "$TOOLS_CHANGED"
check "resume: event $KEY-3 is prompts/list_changed" \
	test "$(first_word "${EV[1]:-}")" = "$KEY-3" -a "$(method_of <<<"${EV[1]:-}")" = "$PROMPTS_CHANGED"
trigger "$SID" tool >/dev/null
wait_events "$WORK/get2" 3 5
live=$(events "$WORK/get2" | sed -n 3p)
check "after the resume, a new event arrives live on the same stream ($live)" \
	test "${live%% *}" = "$KEY-4" -a "$(method_of <<<"$live")" = "$TOOLS_CHANGED"
drop_stream

# Dropped again: a resume from the last id seen replays only what came after it. With one
# event only, nothing but the edge watching the idle connection tells it the client left (a
# second write to the dead socket would fail and tell it too); if it has not noticed, the
# stream still looks attached and the resume starts a new stream instead.
trigger "$SID" prompt >/dev/null
open_stream get3 "$SID" "$KEY-4"
wait_events "$WORK/get3" 1 5
sleep 0.3
mapfile -t EV < <(events "$WORK/get3")
check "second resume from $KEY-4: only $KEY-5 (${EV[*]})" \
	test "${#EV[@]}" = 1 -a "$(first_word "${EV[0]:-}")" = "$KEY-5" -a "$(method_of <<<"${EV[0]:-}")" = "$PROMPTS_CHANGED"
drop_stream
DETACHED_AT=$SECONDS

# ---- a POST response stream dropped mid-call, resumed with GET + Last-Event-ID ----
curl -sN -m 30 --cacert "$WORK/cert.pem" -D "$WORK/post1.h" -o "$WORK/post1" \
	-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
	-H "$PV" -H "Mcp-Session-Id: $SID" --data-binary \
	'{"jsonrpc":"2.0","id":40,"method":"tools/call","params":{"name":"echo__slow","arguments":{"ms":1500},"_meta":{"progressToken":"p1"}}}' \
	"$URL" &
STREAM_PID=$!
STREAMS+=("$STREAM_PID")
wait_events "$WORK/post1" 1 5
first=$(events "$WORK/post1" | head -1)
PKEY=${first%%-*}
check "the slow call's POST answer is a stream whose first event has an id ($first)" \
	bash -c "[[ '$first' =~ ^[0-9]+-1\  ]]"
drop_stream
sleep 0.8 # progress events are sent while the client is away
open_stream post2 "$SID" "$PKEY-1"
wait "$STREAM_PID" # the resumed stream ends with the call's result
mapfile -t EV < <(events "$WORK/post2")
last=${EV[@]: -1}
e0=${EV[0]:-}
check "POST stream resumed: the missed progress events come first (${e0:0:120})" \
	bash -c "[[ '${EV[0]:-}' == '$PKEY-2 '*notifications/progress*'\"progress\":1'* ]]"
check "POST stream resumed: it ends with the call's result ($last)" \
	bash -c "[[ '$last' == *'\"id\":40'*'slow done after 1500 ms'* ]]"
ids=$(for e in "${EV[@]}"; do echo "${e%% *}"; done | tr '\n' ' ')
want=$(for i in $(seq 2 $((${#EV[@]} + 1))); do echo "$PKEY-$i"; done | tr '\n' ' ')
check "POST stream resumed: ids continue without a gap or repeat ($ids)" test "$ids" = "$want"

# ---- an event id the edge does not know: a fresh stream, not an error ----
open_stream fresh "$SID" "12345-1"
wait_events "$WORK/fresh" 1 5
first=$(events "$WORK/fresh" | head -1)
check "unknown Last-Event-ID: a fresh stream with its own priming event ($first)" \
	bash -c "[ '$(status_of fresh)' = 200 ] && [[ '$first' =~ ^[0-9]+-1\ $ ]] && [ '${first%%-*}' != '$KEY' ]"
drop_stream

# ---- expiry: the dropped stream is given up after the detach time; a newer stream of the
# same session keeps working, and a resume of the expired id gets a fresh stream ----
open_stream newer "$SID"
NEWER_PID=$STREAM_PID
wait_events "$WORK/newer" 1 5
NKEY=$(events "$WORK/newer" | head -1 | cut -d- -f1)
wait_s=$(( DETACHED_MS / 1000 + 2 - (SECONDS - DETACHED_AT) ))
[ "$wait_s" -gt 0 ] && sleep "$wait_s"
trigger "$SID" tool >/dev/null
wait_events "$WORK/newer" 2 5
ev=$(events "$WORK/newer" | sed -n 2p)
check "after the old stream expired, the session's newer stream still gets events ($ev)" \
	test "${ev%% *}" = "$NKEY-2" -a "$(method_of <<<"$ev")" = "$TOOLS_CHANGED"
STREAM_PID=$NEWER_PID
drop_stream
open_stream expired "$SID" "$KEY-5"
wait_events "$WORK/expired" 1 5
first=$(events "$WORK/expired" | head -1)
check "resume of an expired stream: a fresh stream, not an error ($first)" \
	bash -c "[ '$(status_of expired)' = 200 ] && [[ '$first' =~ ^[0-9]+-1\ $ ]] && [ '${first%%-*}' != '$KEY' ]"
drop_stream
check "the edge never restarted" test "$(grep -c '"child_started","child":"edge.0"' "$WORK/appliance.log")" = 1
finish
