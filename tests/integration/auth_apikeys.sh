#!/usr/bin/env bash
# API keys through the whole gateway over TLS: keys made with `mcpgate keygen` (one valid,
# one expired, one revoked in the file as an operator would); every way to be refused has
# its own check (no credential, wrong secret, unknown id, malformed, expired, revoked), with
# the status, the WWW-Authenticate challenge and the JSON-RPC error body; a valid key works
# as X-API-Key and as Authorization: Bearer and reaches the upstream as its principal; the
# keys file is re-read on SIGHUP (a new key starts working, a revoked one stops); a session
# is bound to its principal (another key presenting it gets 404).
# Usage: auth_apikeys.sh [BUILD]   (also run as a meson test)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/auth_lib.sh"
require_node22
make_cert
KEYS="$WORK/keys.json"

# keygen CLIENT [keygen args...]: a new key, printed; its record goes to $KEYS.
keygen() {
	local client=$1; shift
	"$MCPGATE" keygen --client "$client" --keys-file "$KEYS" "$@" 2>>"$WORK/keygen.err"
}
# edit_key_record ID JS: runs JS on the record `r` with that id in $KEYS, as an operator
# editing the file would, and writes it back in place.
edit_key_record() {
	"$NODE22" -e '
		const fs = require("fs");
		const [file, id, js] = process.argv.slice(1);
		const doc = JSON.parse(fs.readFileSync(file, "utf8"));
		const r = doc.keys.find((k) => k.id === id);
		if (!r) process.exit(3);
		new Function("r", js)(r);
		fs.writeFileSync(file, JSON.stringify(doc, null, 2) + "\n");' "$KEYS" "$1" "$2"
}
key_id() { local k=${1#mcpg_}; echo "${k%%_*}"; }
is_key() { [[ "$1" =~ ^mcpg_[0-9a-f]{16}_[0-9a-f]{64}$ ]]; }

ALICE=$(keygen alice --roles admin)
check "keygen makes a valid key (alice)" is_key "$ALICE"
BOB=$(keygen bob --roles admin)
check "keygen makes a second key (bob)" is_key "$BOB"
YESTERDAY=$(date -u -d yesterday +%F)
if EXPIRED=$(keygen old-client --roles admin --expires "$YESTERDAY") && is_key "$EXPIRED"; then
	ok "keygen accepts --expires $YESTERDAY (yesterday, UTC)"
else
	# keygen refuses past dates: set the date in the file instead, as an operator would.
	EXPIRED=$(keygen old-client --roles admin)
	check "keygen key to expire by hand" is_key "$EXPIRED"
	check "set expires=$YESTERDAY in the keys file" \
		edit_key_record "$(key_id "$EXPIRED")" "r.expires = '$YESTERDAY'"
fi
REVOKED=$(keygen gone-client --roles admin)
check "keygen makes a key to revoke" is_key "$REVOKED"
check "revoke it in the keys file (\"revoked\": true)" \
	edit_key_record "$(key_id "$REVOKED")" 'r.revoked = true'
chmod 0644 "$KEYS"

check "appliance (TLS, API keys) becomes ready" start_tls "$WORK/config.json" \
	write_auth_config "$WORK/config.json" "{ \"anonymous\": false, \"keys_file\": \"$KEYS\" }" \
	'{ "admin": { "tools": ["*"], "prompts": ["*"], "resources": ["*"] } }'

check "auth loaded the 4 keys" wait_log '"event":"keys_loaded","count":4' 1 5

METADATA="https://127.0.0.1:$PORT/.well-known/oauth-protected-resource"

# refused LABEL WANT_TEXT [curl args...]: initialize with these credentials gets 401, a
# Bearer challenge pointing at the resource metadata, and a JSON-RPC error naming WANT_TEXT.
refused() {
	local label=$1 want=$2; shift 2
	local code www
	code=$(post "refused-$label" "$INIT" "$@")
	is "$code" 401 "$label: 401"
	www=$(hdr "refused-$label" WWW-Authenticate)
	has "$www" "Bearer resource_metadata=\"$METADATA\"" \
		"$label: WWW-Authenticate points at the protected resource metadata"
	is "$(jsq "$WORK/refused-$label.b" 'd.jsonrpc + " " + d.id + " " + d.error.code')" \
		"2.0 1 -32001" "$label: JSON-RPC error -32001 for request id 1"
	has "$(jsq "$WORK/refused-$label.b" 'd.error.message')" "$want" "$label: the error says '$want'"
	check "$label: no session handed out" test -z "$(hdr "refused-$label" Mcp-Session-Id)"
}

# --- refusals, each on its own ---
refused "no credential" "authentication required"
check "no credential: the challenge carries no error (RFC 6750 3.1: none for a missing token)" \
	bash -c "! grep -qi 'error=' '$WORK/refused-no credential.h'"

ALICE_ID=$(key_id "$ALICE")
last=${ALICE: -1}
[ "$last" = 0 ] && WRONG=${ALICE%?}1 || WRONG=${ALICE%?}0
refused "wrong secret (right id)" "wrong API key" -H "X-API-Key: $WRONG"
has "$(hdr "refused-wrong secret (right id)" WWW-Authenticate)" 'error="invalid_token"' \
	"wrong secret: error=invalid_token in the challenge"

OTHER_ID=$(printf '%08x' $(( (16#${ALICE_ID:0:8} ^ 0x5a5a5a5a) )))
UNKNOWN="mcpg_${OTHER_ID:0:8}${ALICE_ID:8:8}_${ALICE##*_}"
refused "unknown id" "unknown API key" -H "X-API-Key: $UNKNOWN"
refused "malformed key" "malformed API key" -H "X-API-Key: mcpg_not-a-key"
ALICE_SECRET=${ALICE##*_}
refused "malformed key (uppercase hex)" "malformed API key" \
	-H "X-API-Key: mcpg_${ALICE_ID^^}_${ALICE_SECRET^^}"
refused "malformed bearer API key" "malformed API key" -H "Authorization: Bearer mcpg_${ALICE_ID}_short"
refused "expired key" "API key expired" -H "X-API-Key: $EXPIRED"
refused "revoked key" "API key revoked" -H "X-API-Key: $REVOKED"
refused "revoked key as bearer" "API key revoked" -H "Authorization: Bearer $REVOKED"
refused "bearer token without OAuth configured" "OAuth is not configured" \
	-H "Authorization: Bearer abc.def.ghi"

# --- a valid key works, as X-API-Key and as Authorization: Bearer ---
# works LABEL CLIENT [curl args...]: a session, tools/list and a tools/call echoing our text;
# the upstream sees the key's client as the caller.
works() {
	local label=$1 client=$2; shift 2
	local sid code
	sid=$(new_session "works-$label" "$@")
	check "$label: initialize gives a session" test -n "$sid"
	code=$(post "works-$label-list" "$LIST" -H "Mcp-Session-Id: $sid" "${PV[@]}" "$@")
	is "$code" 200 "$label: tools/list 200"
	is "$(jsq "$WORK/works-$label-list.b" 'd.result.tools.some(t => t.name === "echo__echo")')" true \
		"$label: tools/list shows echo__echo"
	code=$(post "works-$label-call" "$(call_body echo__echo '{"text":"hi '"$label"'"}')" \
		-H "Mcp-Session-Id: $sid" "${PV[@]}" "$@")
	is "$code" 200 "$label: tools/call 200"
	is "$(jsq "$WORK/works-$label-call.b" 'JSON.parse(d.result.content[0].text).text')" "hi $label" \
		"$label: the tool echoed our text"
	is "$(jsq "$WORK/works-$label-call.b" 'JSON.parse(d.result.content[0].text).caller.name')" \
		"$client" "$label: the upstream saw principal '$client'"
}
works "X-API-Key" alice -H "X-API-Key: $ALICE"
works "Authorization Bearer" alice -H "Authorization: Bearer $ALICE"
works "bearer, lower-case scheme" bob -H "Authorization: bearer $BOB"

# --- a session belongs to its principal ---
SID_A=$(new_session alice-session -H "X-API-Key: $ALICE")
check "alice gets a session" test -n "$SID_A"
is "$(post a-own "$LIST" -H "Mcp-Session-Id: $SID_A" "${PV[@]}" -H "X-API-Key: $ALICE")" 200 \
	"alice's session works for alice"
code=$(post b-steals "$LIST" -H "Mcp-Session-Id: $SID_A" "${PV[@]}" -H "X-API-Key: $BOB")
is "$code" 404 "bob presenting alice's Mcp-Session-Id gets 404"
has "$(jsq "$WORK/b-steals.b" 'd.error.message')" "session not found" \
	"bob's 404 says the session was not found (nothing about whose it is)"
is "$(jsq "$WORK/b-steals.b" 'd.result === undefined')" true "bob sees no tool list"
code=$(post b-steals-call "$(call_body echo__echo '{"text":"stolen"}')" -H "Mcp-Session-Id: $SID_A" \
	"${PV[@]}" -H "Authorization: Bearer $BOB")
is "$code" 404 "bob calling a tool in alice's session (as bearer) gets 404"
check "the upstream never saw bob's stolen call" bash -c "! grep -q stolen '$WORK'/b-steals-call.b"
code=$(post b-forged "$LIST" -H "Mcp-Session-Id: v1.${SID_A:3:20}AAAA" "${PV[@]}" -H "X-API-Key: $BOB")
is "$code" 404 "a forged session id gets 404"

# --- the keys file is re-read on SIGHUP ---
CAROL=$(keygen carol --roles admin)
check "keygen adds carol's key while the appliance runs" is_key "$CAROL"
refused "carol before SIGHUP" "unknown API key" -H "X-API-Key: $CAROL"
loads=$(log_count '"event":"keys_loaded"')
kill -HUP "$SUP_PID"
check "SIGHUP: auth reloads the keys (5 now)" wait_log '"event":"keys_loaded","count":5' 1 10
works "carol after SIGHUP" carol -H "X-API-Key: $CAROL"

check "revoke alice's key in the file" edit_key_record "$ALICE_ID" 'r.revoked = true'
is "$(post alice-pre-hup "$LIST" -H "Mcp-Session-Id: $SID_A" "${PV[@]}" -H "X-API-Key: $ALICE")" 200 \
	"alice still works until the reload"
kill -HUP "$SUP_PID"
check "second SIGHUP: keys reloaded" wait_log '"event":"keys_loaded","count":5' 2 10
check "keys were loaded $((loads + 2)) times in all" test "$(log_count '"event":"keys_loaded"')" -ge $((loads + 2))
refused "alice after revocation + SIGHUP" "API key revoked" -H "X-API-Key: $ALICE"
code=$(post alice-after "$LIST" -H "Mcp-Session-Id: $SID_A" "${PV[@]}" -H "X-API-Key: $ALICE")
is "$code" 401 "alice's existing session is refused too once her key is revoked"
works "bob unaffected by the reload" bob -H "X-API-Key: $BOB"

# A broken keys file keeps the previous keys in force (never an open door, never a lockout).
cp "$KEYS" "$WORK/keys.good"
printf '{"keys": [ {"id": "nonsense"} ] }\n' >"$KEYS"
kill -HUP "$SUP_PID"
check "a broken keys file is rejected on SIGHUP" wait_log '"event":"keys_rejected"' 1 10
works "bob still works with the previous keys" bob -H "X-API-Key: $BOB"
refused "alice still revoked with the previous keys" "API key revoked" -H "X-API-Key: $ALICE"

# --- audit and secrecy ---
check "audit lines name the refusals" wait_log '"event":"audit".*"decision":"deny".*"reason":"API key revoked"' 1 2
check "audit lines name allowed requests by key id" \
	grep -q "\"event\":\"audit\",.*\"principal\":\"key:$ALICE_ID\".*\"decision\":\"allow\"" "$WORK/appliance.log"
leaked=0
for k in "$ALICE" "$BOB" "$CAROL" "$EXPIRED" "$REVOKED" "$WRONG"; do
	grep -qF "${k##*_}" "$WORK/appliance.log" && leaked=$((leaked + 1))
done
is "$leaked" 0 "no key secret (of 6 presented) appears in the appliance log"
check "the appliance is still up" kill -0 "$SUP_PID"
finish
