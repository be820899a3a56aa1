#!/usr/bin/env bash
# RBAC through the whole gateway over TLS: two upstreams as namespaces data and ops, a
# config role "data-only" ({"tools": ["data__*"]}) and the shipped "admin". A data-only key
# sees only data__ tools in tools/list (raw JSON-RPC and the official SDK client), calls
# them, and is refused with 403 and a JSON-RPC error naming the tool on an ops__ tool, which
# never reaches the ops upstream; an admin key sees and calls both.
# Usage: auth_rbac.sh [BUILD]   (also run as a meson test)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/auth_lib.sh"
require_node22
make_cert
KEYS="$WORK/keys.json"

DANA=$("$MCPGATE" keygen --client dana --roles data-only --keys-file "$KEYS" 2>/dev/null)
check "keygen: a data-only key" test -n "$DANA"
ADAM=$("$MCPGATE" keygen --client adam --roles admin --keys-file "$KEYS" 2>/dev/null)
check "keygen: an admin key" test -n "$ADAM"
chmod 0644 "$KEYS"

check "appliance (TLS, two upstreams, role data-only) becomes ready" start_tls "$WORK/config.json" \
	write_auth_config "$WORK/config.json" "{ \"anonymous\": false, \"keys_file\": \"$KEYS\" }" \
	'{ "data-only": { "tools": ["data__*"] } }' "[ $(echo_server data), $(echo_server ops) ]"

TOOL_NAMES='d.result.tools.map(t => t.name).sort().join(",")'

# --- data-only ---
SID=$(new_session dana -H "X-API-Key: $DANA")
check "data-only: initialize gives a session" test -n "$SID"
DANA_H=(-H "X-API-Key: $DANA" -H "Mcp-Session-Id: $SID" "${PV[@]}")
is "$(post dana-list "$LIST" "${DANA_H[@]}")" 200 "data-only: tools/list 200"
names=$(jsq "$WORK/dana-list.b" "$TOOL_NAMES")
is "$names" "data__ask,data__die,data__echo,data__slow" \
	"data-only: tools/list shows exactly the data__ tools"
is "$(jsq "$WORK/dana-list.b" 'd.result.tools.filter(t => !t.name.startsWith("data__")).length')" 0 \
	"data-only: no tool outside data__ is listed"

is "$(post dana-data "$(call_body data__echo '{"text":"dana data"}' 11)" "${DANA_H[@]}")" 200 \
	"data-only: tools/call data__echo 200"
is "$(jsq "$WORK/dana-data.b" 'JSON.parse(d.result.content[0].text).server')" up-data \
	"data-only: data__echo answered by the data upstream"
is "$(jsq "$WORK/dana-data.b" 'JSON.parse(d.result.content[0].text).caller.name')" dana \
	"data-only: the upstream saw principal dana"

code=$(post dana-ops "$(call_body ops__echo '{"text":"dana ops"}' 12)" "${DANA_H[@]}")
is "$code" 403 "data-only: tools/call ops__echo is refused with 403"
is "$(jsq "$WORK/dana-ops.b" 'd.jsonrpc + " " + d.id + " " + d.error.code')" "2.0 12 -32003" \
	"data-only: JSON-RPC error -32003 for request id 12"
has "$(jsq "$WORK/dana-ops.b" 'd.error.message')" "'ops__echo'" \
	"data-only: the error names the tool ops__echo"
has "$(jsq "$WORK/dana-ops.b" 'd.error.message')" "forbidden" "data-only: the error says forbidden"
is "$(jsq "$WORK/dana-ops.b" 'd.result === undefined')" true "data-only: no result for ops__echo"
check "data-only: the audit line records the denial of ops__echo" grep -qE \
	'"event":"audit".*"principal":"key:[0-9a-f]+","method":"tools/call","target":"ops__echo","decision":"deny"' \
	"$WORK/appliance.log"
code=$(post dana-ops2 "$(call_body ops__slow '{}' 13)" "${DANA_H[@]}")
is "$code" 403 "data-only: tools/call ops__slow is refused with 403 too"
has "$(jsq "$WORK/dana-ops2.b" 'd.error.message')" "'ops__slow'" "data-only: that error names ops__slow"
# A name that merely contains data__ is not in the namespace.
code=$(post dana-sneaky "$(call_body ops__data__echo '{"text":"x"}' 14)" "${DANA_H[@]}")
is "$code" 403 "data-only: ops__data__echo (data__ inside the name) is refused with 403"
is "$(post dana-still "$(call_body data__echo '{"text":"again"}' 15)" "${DANA_H[@]}")" 200 \
	"data-only: the session still works after the refusals"

# --- admin ---
SID=$(new_session adam -H "X-API-Key: $ADAM")
check "admin: initialize gives a session" test -n "$SID"
ADAM_H=(-H "Authorization: Bearer $ADAM" -H "Mcp-Session-Id: $SID" "${PV[@]}")
is "$(post adam-list "$LIST" "${ADAM_H[@]}")" 200 "admin: tools/list 200"
is "$(jsq "$WORK/adam-list.b" "$TOOL_NAMES")" \
	"data__ask,data__die,data__echo,data__slow,ops__ask,ops__die,ops__echo,ops__slow" \
	"admin: tools/list shows the data__ and the ops__ tools"
for ns in data ops; do
	is "$(post "adam-$ns" "$(call_body "${ns}__echo" "{\"text\":\"adam $ns\"}" 21)" "${ADAM_H[@]}")" 200 \
		"admin: tools/call ${ns}__echo 200"
	is "$(jsq "$WORK/adam-$ns.b" 'JSON.parse(d.result.content[0].text).server')" "up-$ns" \
		"admin: ${ns}__echo answered by the $ns upstream"
	is "$(jsq "$WORK/adam-$ns.b" 'JSON.parse(d.result.content[0].text).text')" "adam $ns" \
		"admin: ${ns}__echo echoed our text"
done
check "no ops__ call of dana's reached the ops upstream (all ops calls were adam's)" \
	bash -c "! grep -q 'dana ops' '$WORK'/*.b"

# --- the official SDK client sees the same list ---
SDK_CLIENT="$SOURCE/tests/node/sdk_client.mjs"
sdk() { # sdk OUT TOOL ARGS KEY
	(cd "$WORK" && NODE_EXTRA_CA_CERTS="$WORK/cert.pem" MCPGATE_API_KEY="$4" timeout 60 "$NODE22" \
		"$SDK_CLIENT" "https://127.0.0.1:$PORT/mcp" http "$2" "$3") >"$WORK/$1" 2>"$WORK/$1.err"
}
sdk sdk-dana.json data__echo '{"text":"sdk dana"}' "$DANA"
check "SDK, data-only key: exits 0" test $? = 0
is "$(jsq "$WORK/sdk-dana.json" 'd.tools.slice().sort().join(",")')" \
	"data__ask,data__die,data__echo,data__slow" "SDK, data-only key: lists only data__ tools"
is "$(jsq "$WORK/sdk-dana.json" 'JSON.parse(d.call.content[0].text).text')" "sdk dana" \
	"SDK, data-only key: calls data__echo"
sdk sdk-dana-ops.json ops__echo '{"text":"sdk ops"}' "$DANA"
check "SDK, data-only key: calling ops__echo fails" test $? -ne 0
check "SDK, data-only key: the failure names ops__echo / forbidden" \
	grep -qE "forbidden.*ops__echo|403" "$WORK/sdk-dana-ops.json.err"
sdk sdk-adam.json ops__echo '{"text":"sdk adam"}' "$ADAM"
check "SDK, admin key: exits 0" test $? = 0
is "$(jsq "$WORK/sdk-adam.json" 'd.tools.length')" 8 "SDK, admin key: lists all 8 tools"
is "$(jsq "$WORK/sdk-adam.json" 'JSON.parse(d.call.content[0].text).server')" up-ops \
	"SDK, admin key: ops__echo answered by the ops upstream"
finish
