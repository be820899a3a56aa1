#!/usr/bin/env bash
# The official clients through the whole gateway over TLS: the TypeScript SDK
# (tests/node/sdk_client.mjs) and the MCP Inspector CLI list and call tools over Streamable
# HTTP (/mcp) and over the legacy HTTP+SSE transport (GET /sse + POST /messages), first with
# anonymous access, then with anonymous access off and an API key from `mcpgate keygen`, sent
# as X-API-Key and as Authorization: Bearer. Checks what comes back (tool names, the echoed
# text, which upstream answered, which principal the upstream saw), not just exit codes.
# Usage: sdk_clients.sh [BUILD]   (also run as a meson test)
. "$(dirname "$0")/lib.sh"
require_node22
INSPECTOR="$NODE_MODULES/@modelcontextprotocol/inspector/clients/launcher/build/index.js"
[ -f "$INSPECTOR" ] || { not_ok "MCP Inspector in tests/node (run make test-deps)"; finish; }
SDK_CLIENT="$SOURCE/tests/node/sdk_client.mjs"
PORT=$(free_port)
SCHEME=https
make_cert
mkdir -p "$WORK/home"

# write_tls_config FILE AUTH_JSON: one echo upstream (it calls itself "up1") as namespace "echo".
write_tls_config() {
	cat >"$1" <<JSON
{
  "listen": [ { "address": "127.0.0.1:$PORT", "tls": true } ],
  "tls": { "certificate": "cert.pem", "key": "key.pem" },
  "auth": $2,
  "roles": { "anonymous": { "tools": ["*"], "prompts": ["*"], "resources": ["*"] } },
  "servers": [ { "name": "echo",
                 "command": [ "$BUILD/tests/integration/echo-upstream", "--name", "up1" ] } ],
  "log": { "level": "info" }
}
JSON
}

# jsq FILE EXPR: a JavaScript expression over the JSON document in FILE (bound to `d`); prints
# the value (objects as JSON). Fails when the file is not JSON or the expression throws.
jsq() {
	"$NODE22" -e '
		const fs = require("fs");
		const d = JSON.parse(fs.readFileSync(process.argv[1], "utf8").trim().split("\n").pop());
		const v = new Function("d", "return (" + process.argv[2] + ");")(d);
		console.log(typeof v === "object" ? JSON.stringify(v) : String(v));' "$1" "$2" 2>/dev/null
}
# expect FILE EXPR WANT DESCRIPTION: one check on a client's JSON output.
expect() {
	local got
	got=$(jsq "$1" "$2")
	if [ "$got" = "$3" ]; then
		ok "$4"
	else
		not_ok "$4 (got '${got:0:300}', want '$3')"
		sed -n '1,20p' "$1.err" 2>/dev/null | sed 's/^/#   /'
	fi
}

# sdk OUT URL http|sse TOOL ARGS [env...]: the SDK client; its JSON summary goes to $WORK/OUT.
sdk() {
	local out=$1 url=$2 kind=$3 tool=$4 args=$5; shift 5
	(cd "$WORK" && env NODE_EXTRA_CA_CERTS="$WORK/cert.pem" "$@" timeout 60 "$NODE22" \
		"$SDK_CLIENT" "$url" "$kind" "$tool" "$args") >"$WORK/$out" 2>"$WORK/$out.err"
}

# inspector OUT URL http|sse ARGS...: the Inspector CLI (Node >= 22.19 first on PATH, a
# throwaway HOME for its storage), one JSON object on stdout.
inspector() {
	local out=$1 url=$2 transport=$3; shift 3
	(cd "$WORK" && HOME="$WORK/home" PATH="$(dirname "$NODE22"):$PATH" \
		NODE_EXTRA_CA_CERTS="$WORK/cert.pem" timeout 60 "$NODE22" "$INSPECTOR" --cli "$url" \
		--transport "$transport" --format json "$@") >"$WORK/$out" 2>"$WORK/$out.err"
}

url_for() { # the endpoint of a transport
	if [ "$1" = http ]; then echo "https://127.0.0.1:$PORT/mcp"; else echo "https://127.0.0.1:$PORT/sse"; fi
}

TOOLS_WANT='["echo__ask","echo__die","echo__echo","echo__slow"]'
TOOLS_SDK='d.tools.slice().sort()'
TOOLS_INSPECTOR='d.result.tools.map(t => t.name).sort()'
ECHOED='JSON.parse(d.call.content[0].text)'
ECHOED_INSPECTOR='JSON.parse(d.result.content[0].text)'

# check_sdk TRANSPORT LABEL TEXT PRINCIPAL [env...]: list and call through the SDK client.
check_sdk() {
	local transport=$1 label=$2 text=$3 principal=$4; shift 4
	local out="sdk-$transport-$label.json"
	sdk "$out" "$(url_for "$transport")" "$transport" echo__echo "{\"text\":\"$text\",\"times\":2}" "$@"
	local rc=$?
	check "SDK $transport ($label): exits 0" test "$rc" = 0
	expect "$WORK/$out" 'd.server.name' mcpgate "SDK $transport ($label): the server is mcpgate"
	if [ "$transport" = http ]; then
		expect "$WORK/$out" 'd.protocol' 2025-11-25 "SDK http ($label): negotiated 2025-11-25"
	fi
	expect "$WORK/$out" "$TOOLS_SDK" "$TOOLS_WANT" "SDK $transport ($label): tools/list shows the namespaced tools (bad.tool left out)"
	expect "$WORK/$out" 'd.call.isError' false "SDK $transport ($label): tools/call is not an error"
	expect "$WORK/$out" "$ECHOED.text" "$text" "SDK $transport ($label): the tool echoed our text"
	expect "$WORK/$out" "$ECHOED.server" up1 "SDK $transport ($label): the configured upstream answered"
	expect "$WORK/$out" "$ECHOED.caller.name" "$principal" "SDK $transport ($label): the upstream saw principal '$principal'"
}

# check_inspector TRANSPORT LABEL TEXT PRINCIPAL [inspector args...]
check_inspector() {
	local transport=$1 label=$2 text=$3 principal=$4; shift 4
	local url
	url=$(url_for "$transport")
	inspector "insp-list-$transport-$label.json" "$url" "$transport" --method tools/list "$@"
	check "Inspector $transport ($label): tools/list exits 0" test $? = 0
	expect "$WORK/insp-list-$transport-$label.json" "$TOOLS_INSPECTOR" "$TOOLS_WANT" \
		"Inspector $transport ($label): tools/list shows the namespaced tools"
	expect "$WORK/insp-list-$transport-$label.json" \
		'd.result.tools.find(t => t.name === "echo__echo").inputSchema.required' '["text"]' \
		"Inspector $transport ($label): the tool's inputSchema comes through"
	local out="insp-call-$transport-$label.json"
	inspector "$out" "$url" "$transport" --method tools/call --tool-name echo__echo \
		--tool-arg "text=$text" "$@"
	check "Inspector $transport ($label): tools/call exits 0" test $? = 0
	expect "$WORK/$out" 'd.result.isError' false "Inspector $transport ($label): tools/call is not an error"
	expect "$WORK/$out" "$ECHOED_INSPECTOR.text" "$text" "Inspector $transport ($label): the tool echoed our text"
	expect "$WORK/$out" "$ECHOED_INSPECTOR.caller.name" "$principal" \
		"Inspector $transport ($label): the upstream saw principal '$principal'"
}

# --- anonymous access ---
write_tls_config "$WORK/anon.json" '{ "anonymous": true }'
check "appliance (TLS, anonymous) becomes ready" start_appliance "$WORK/anon.json"
for t in http sse; do
	check_sdk "$t" anonymous "hello from the sdk over $t" anonymous
	check_inspector "$t" anonymous "hello-from-inspector-$t" anonymous
done
stop_appliance

# --- API key, anonymous off ---
KEY=$("$MCPGATE" keygen --client sdk-test --roles admin --keys-file "$WORK/keys.json" 2>"$WORK/keygen.err")
check "mcpgate keygen prints a key" bash -c "[[ '$KEY' =~ ^mcpg_[0-9a-f]+_[0-9a-f]+$ ]]"
write_tls_config "$WORK/keyed.json" "{ \"anonymous\": false, \"keys_file\": \"$WORK/keys.json\" }"
check "appliance (TLS, API keys only) becomes ready" start_appliance "$WORK/keyed.json"

for t in http sse; do
	sdk "sdk-$t-nokey.json" "$(url_for "$t")" "$t" echo__echo '{"text":"x"}'
	rc=$?
	check "SDK $t without a key is refused (exit $rc)" test "$rc" -ne 0
	check "SDK $t without a key: the error says 401 / authentication required" \
		grep -qiE '401|authentication required' "$WORK/sdk-$t-nokey.json.err"
	inspector "insp-$t-nokey.json" "$(url_for "$t")" "$t" --method tools/list
	rc=$?
	check "Inspector $t without a key is refused (exit $rc)" test "$rc" -ne 0
	check "Inspector $t without a key: no tool list in its output" \
		bash -c "! grep -q echo__echo '$WORK/insp-$t-nokey.json'"
	last=${KEY: -1}
	[ "$last" = 0 ] && wrong=${KEY%?}1 || wrong=${KEY%?}0
	sdk "sdk-$t-badkey.json" "$(url_for "$t")" "$t" echo__echo '{"text":"x"}' \
		MCPGATE_API_KEY="$wrong"
	check "SDK $t with a wrong key is refused" test $? -ne 0

	check_sdk "$t" x-api-key "keyed sdk $t" sdk-test MCPGATE_API_KEY="$KEY"
	check_sdk "$t" bearer "bearer sdk $t" sdk-test MCPGATE_API_KEY="$KEY" MCPGATE_API_KEY_HEADER=bearer
	check_inspector "$t" x-api-key "keyed-inspector-$t" sdk-test --header "X-API-Key: $KEY"
	check_inspector "$t" bearer "bearer-inspector-$t" sdk-test --header "Authorization: Bearer $KEY"
done
expect "$WORK/sdk-http-bearer.json" "$ECHOED.caller.id.startsWith('key:')" true \
	"the upstream's caller id names the API key record"
check "the raw key never reaches the log" bash -c "! grep -qF '$KEY' '$WORK/appliance.log'"
finish
