# Helpers for the auth_*.sh tests, sourced after lib.sh: a TLS appliance whose config
# carries auth settings, HTTPS POSTs to /mcp that keep status, headers and body apart, and
# checks on JSON bodies (plain or SSE). Every request goes through the whole gateway.
SCHEME=https
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"auth-test","version":"1"}}}'
INITIALIZED='{"jsonrpc":"2.0","method":"notifications/initialized"}'
LIST='{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
PV=(-H 'MCP-Protocol-Version: 2025-11-25')

# echo_server NAME: one echo upstream (tests/fixtures/echo_upstream.c) as namespace NAME; it
# calls itself "up-NAME", echoes its arguments and the caller it was told about.
echo_server() {
	printf '{ "name": "%s", "command": [ "%s/tests/integration/echo-upstream", "--name", "up-%s" ] }' \
		"$1" "$BUILD" "$1"
}

# write_auth_config FILE AUTH_JSON [ROLES_JSON [SERVERS_JSON [EXTRA_TOP_LEVEL]]]: TLS on $PORT
# with $WORK/cert.pem; one echo server "echo" unless SERVERS_JSON says otherwise.
write_auth_config() {
	local roles=${3:-}
	local servers=${4:-}
	local extra=${5:-}
	[ -n "$roles" ] || roles='{}'
	[ -n "$servers" ] || servers="[ $(echo_server echo) ]"
	[ -z "$extra" ] || extra="$extra,"
	cat >"$1" <<JSON
{
  "listen": [ { "address": "127.0.0.1:$PORT", "tls": true } ],
  "tls": { "certificate": "$WORK/cert.pem", "key": "$WORK/key.pem" },
  "auth": $2,
  "roles": $roles,
  "servers": $servers,
  $extra
  "supervisor": { "restart": { "max_deaths": 20, "window_seconds": 60 }, "shutdown_timeout_ms": 5000 },
  "log": { "level": "info" }
}
JSON
}

# post NAME BODY [curl args...]: POSTs BODY to https://127.0.0.1:$PORT/mcp, keeps the response
# headers in $WORK/NAME.h and the body in $WORK/NAME.b, prints the HTTP status.
post() {
	local name=$1 body=$2; shift 2
	curl -s -m 15 --cacert "$WORK/cert.pem" -D "$WORK/$name.h" -o "$WORK/$name.b" \
		-w '%{http_code}' -H 'Content-Type: application/json' \
		-H 'Accept: application/json, text/event-stream' "$@" --data-binary "$body" \
		"https://127.0.0.1:${TARGET_PORT:-$PORT}/mcp"
}

# hdr NAME HEADER: the value of a header of response NAME (name matched without case).
hdr() {
	tr -d '\r' <"$WORK/$1.h" | awk -v want="$(printf '%s' "$2" | tr 'A-Z' 'a-z')" '
		{ i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == want) {
			v = substr($0, i + 1); sub(/^ +/, "", v); print v; exit } }'
}

# jsq FILE EXPR: a JavaScript expression over the JSON in FILE, bound to `d` (an SSE body is
# read as its last data: line). Prints the value, objects as JSON; fails when it throws.
jsq() {
	"$NODE22" -e '
		const fs = require("fs");
		let t = fs.readFileSync(process.argv[1], "utf8");
		if (/^(event|data|id):/m.test(t) && !t.trimStart().startsWith("{"))
			t = t.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5)).pop() ?? "";
		const d = JSON.parse(t.trim());
		const v = new Function("d", "return (" + process.argv[2] + ");")(d);
		console.log(typeof v === "object" ? JSON.stringify(v) : String(v));' "$1" "$2" 2>/dev/null
}

# is GOT WANT DESCRIPTION: one equality check, showing both sides when it fails.
is() {
	if [ "$1" = "$2" ]; then ok "$3"; else not_ok "$3 (got '${1:0:300}', want '$2')"; fi
}

# has HAYSTACK NEEDLE DESCRIPTION: a substring check.
has() {
	if [[ "$1" == *"$2"* ]]; then ok "$3"; else not_ok "$3 ('${1:0:300}' lacks '$2')"; fi
}

# new_session NAME [curl args...]: initialize + notifications/initialized with the given
# credentials; prints the Mcp-Session-Id (empty when initialize was refused).
new_session() {
	local name=$1; shift
	local code sid
	code=$(post "$name-init" "$INIT" "$@")
	[ "$code" = 200 ] || return 1
	sid=$(hdr "$name-init" Mcp-Session-Id)
	[ -n "$sid" ] || return 1
	post "$name-initialized" "$INITIALIZED" -H "Mcp-Session-Id: $sid" "${PV[@]}" "$@" >/dev/null
	printf '%s' "$sid"
}

# call_body TOOL ARGS_JSON [ID]: a tools/call request.
call_body() {
	printf '{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":"%s","arguments":%s}}' \
		"${3:-3}" "$1" "$2"
}

# log_count PATTERN: lines of the appliance log matching an extended regex.
log_count() { grep -c -E "$1" "$WORK/appliance.log"; }

# A free loopback port below the kernel's ephemeral range, with no socket of any state on it:
# lib.sh's free_port looks at listeners only, and can hand out a port that an outgoing
# connection holds as its local port (tests running alongside make many), so bind fails.
auth_free_port() {
	local lo p
	lo=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
	[ -n "$lo" ] && [ "$lo" -gt 21000 ] || lo=32768
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % (lo - 20000)))
		if ! ss -Hatn "sport = :$p" | grep -q .; then echo "$p"; return; fi
	done
	echo 0
}

# launch LOG CONFIG: a supervisor in the background (its PID in LAUNCHED), appending to LOG,
# and waits up to 15 s for its own appliance_ready line: whoever else may answer on the port
# (another test that picked it too) is never taken for it. Returns 0 when ready, 2 when the
# port was taken (listen_failed), 1 otherwise.
launch() {
	local log=$1 config=$2 ready0 failed0
	touch "$log"
	ready0=$(grep -c '"event":"appliance_ready"' "$log")
	failed0=$(grep -c '"event":"listen_failed"' "$log")
	"$MCPGATE" run -c "$config" >>"$log" 2>&1 &
	LAUNCHED=$!
	local deadline=$((SECONDS + 15))
	while [ $SECONDS -lt $deadline ]; do
		[ "$(grep -c '"event":"appliance_ready"' "$log")" -gt "$ready0" ] && return 0
		[ "$(grep -c '"event":"listen_failed"' "$log")" -gt "$failed0" ] && return 2
		kill -0 "$LAUNCHED" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# start_tls CONFIG WRITER [ARGS...]: picks $PORT, runs WRITER ARGS (which writes CONFIG for
# that port) and starts the appliance (SUP_PID, $WORK/appliance.log, as start_appliance); on
# another port when the one picked was taken between the check and the bind.
start_tls() {
	local config=$1 rc; shift
	for _ in 1 2 3; do
		PORT=$(auth_free_port)
		"$@" || return 1
		: >"$WORK/appliance.log"
		launch "$WORK/appliance.log" "$config"
		rc=$?
		SUP_PID=$LAUNCHED
		[ "$rc" = 0 ] && return 0
		stop_appliance
		[ "$rc" = 2 ] || return 1
		echo "# port $PORT was taken meanwhile: trying another"
	done
	return 1
}
