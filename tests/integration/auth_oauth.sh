#!/usr/bin/env bash
# OAuth through the whole gateway over TLS: a real issuer (oauth2-mock-server with an RS256 and
# an ES256 key, tests/integration/auth_oauth.mjs) configured as auth.oauth; auth fetches its
# JWKS from 127.0.0.1 inside its sandbox. The official SDK client connects with the issuer's
# bearer tokens (both algorithms, and a Cognito-shaped access token) and lists and calls
# tools; a client without a token follows the 401 challenge to the protected resource
# metadata and on to the issuer (the SDK's own discovery) and gets a token that works. Each
# bad token has its own check, through the gateway: alg none, HS256 keyed with the public
# key, bad signature (foreign key, tampered payload), unknown kid, expired, not yet valid,
# wrong iss, wrong audience, an id token (token_use id), oversized, malformed.
# Usage: auth_oauth.sh [BUILD]   (also run as a meson test)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/auth_lib.sh"
require_node22
SDK_CLIENT="$SOURCE/tests/node/sdk_client.mjs"
ISSUER_PID=""
stop_issuer() {
	[ -n "$ISSUER_PID" ] || return 0
	kill "$ISSUER_PID" 2>/dev/null && wait "$ISSUER_PID" 2>/dev/null
	ISSUER_PID=""
}
trap 'stop_issuer; cleanup' EXIT

# --- the issuer ---
"$NODE22" "$SOURCE/tests/integration/auth_oauth.mjs" >"$WORK/issuer.out" 2>"$WORK/issuer.err" &
ISSUER_PID=$!
ISS=""
for _ in $(seq 150); do
	ISS=$(sed -n 's/.*"issuer":"\([^"]*\)".*/\1/p' "$WORK/issuer.out" 2>/dev/null | head -1)
	[ -n "$ISS" ] && break
	sleep 0.1
done
[ -n "$ISS" ] || { cat "$WORK/issuer.err"; not_ok "oauth2-mock-server starts on 127.0.0.1"; finish; }
ok "oauth2-mock-server (RS256 + ES256) listening at $ISS"

make_cert
check "appliance (TLS, OAuth) becomes ready" start_tls "$WORK/config.json" \
	write_auth_config "$WORK/config.json" "{
    \"anonymous\": false,
    \"oauth\": { \"issuer\": \"$ISS\", \"jwks_url\": \"$ISS/jwks\", \"client_ids\": [\"cognito-app\"],
                 \"role_claims\": { \"scopes\": { \"mcp:tools\": [\"admin\"] },
                                    \"groups\": { \"admins\": [\"admin\"] } } }
  }"
# The resource (the default audience) follows the port.
RESOURCE="https://127.0.0.1:$PORT/mcp"
METADATA="https://127.0.0.1:$PORT/.well-known/oauth-protected-resource"
check "auth fetched the issuer's JWKS (2 keys) inside its sandbox" \
	wait_log '"event":"jwks_fetched".*"keys":2' 1 15
check "no seccomp or Landlock refusal in auth's log" \
	bash -c "! grep -E 'SIGSYS|seccomp|syscall_refused|EACCES' '$WORK/appliance.log' | grep -q '\"process\":\"auth\"'"

# issue VAR [form fields...]: a token from the issuer's real token endpoint
# (client_credentials), its fields url-encoded; VAR gets the access token.
issue() {
	local var=$1; shift
	local args=() f tok
	for f in grant_type=client_credentials "$@"; do args+=(--data-urlencode "$f"); done
	tok=$(curl -s -m 10 "${args[@]}" "$ISS/token" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
	printf -v "$var" '%s' "$tok"
	[ -n "$tok" ]
}
# alg_of TOKEN: the alg in its header.
alg_of() { "$NODE22" -e 'console.log(JSON.parse(Buffer.from(process.argv[1].split(".")[0], "base64url")).alg)' "$1"; }
# issue_alg VAR ALG [fields...]: the issuer alternates keys; ask until ALG comes (4 tries).
issue_alg() {
	local var=$1 alg=$2; shift 2
	for _ in 1 2 3 4; do
		issue "$var" "$@" || return 1
		[ "$(alg_of "${!var}")" = "$alg" ] && return 0
	done
	return 1
}
# forge VAR JSON: a token from the test-only route (see auth_oauth.mjs).
forge() {
	local tok
	tok=$(curl -s -m 10 -H 'Content-Type: application/json' --data-binary "$2" "$ISS/test/forge" |
		sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
	printf -v "$1" '%s' "$tok"
	[ -n "$tok" ]
}

# sdk OUT TOKEN [TOOL ARGS]: the official SDK client with "Authorization: Bearer TOKEN".
sdk() {
	local out=$1 token=$2; shift 2
	(cd "$WORK" && NODE_EXTRA_CA_CERTS="$WORK/cert.pem" MCPGATE_BEARER="$token" timeout 60 \
		"$NODE22" "$SDK_CLIENT" "$RESOURCE" http "$@") >"$WORK/$out" 2>"$WORK/$out.err"
}
# sdk_works LABEL TOKEN NAME: lists and calls echo__echo; the upstream sees principal NAME.
sdk_works() {
	local label=$1 token=$2 name=$3
	sdk "sdk-$label.json" "$token" echo__echo "{\"text\":\"oauth $label\"}"
	local rc=$?
	is "$rc" 0 "SDK ($label): connects, lists and calls (exit 0)"
	[ "$rc" = 0 ] || sed -n '1,5p' "$WORK/sdk-$label.json.err" | sed 's/^/#   /'
	is "$(jsq "$WORK/sdk-$label.json" 'd.tools.slice().sort().join(",")')" \
		"echo__ask,echo__die,echo__echo,echo__slow" "SDK ($label): tools/list shows the echo tools"
	is "$(jsq "$WORK/sdk-$label.json" 'JSON.parse(d.call.content[0].text).text')" "oauth $label" \
		"SDK ($label): the tool echoed our text"
	is "$(jsq "$WORK/sdk-$label.json" 'JSON.parse(d.call.content[0].text).caller.name')" "$name" \
		"SDK ($label): the upstream saw principal '$name'"
	is "$(jsq "$WORK/sdk-$label.json" 'JSON.parse(d.call.content[0].text).caller.id.startsWith("jwt:")')" \
		true "SDK ($label): the caller id is a jwt: principal"
}

# --- good tokens from the issuer ---
check "the issuer's token endpoint hands out an RS256 token" \
	issue_alg RS_TOKEN RS256 client_id=sdk-client scope=mcp:tools "aud=$RESOURCE"
check "the issuer's token endpoint hands out an ES256 token" \
	issue_alg ES_TOKEN ES256 client_id=sdk-client scope=mcp:tools "aud=$RESOURCE"
sdk_works RS256 "$RS_TOKEN" sdk-client
sdk_works ES256 "$ES_TOKEN" sdk-client
check "a Cognito-shaped access token (no aud, token_use access, client_id)" \
	issue COGNITO_TOKEN client_id=cognito-app shape=cognito-access
sdk_works cognito-access "$COGNITO_TOKEN" cognito-app

# A valid token whose scopes grant no role: authenticated, but RBAC lets it use nothing.
check "a token without the mcp:tools scope" \
	issue NOSCOPE_TOKEN client_id=plain-client scope=profile "aud=$RESOURCE"
SID=$(new_session noscope -H "Authorization: Bearer $NOSCOPE_TOKEN")
check "no-role token: initialize still gives a session (authenticated)" test -n "$SID"
post noscope-list "$LIST" -H "Authorization: Bearer $NOSCOPE_TOKEN" -H "Mcp-Session-Id: $SID" "${PV[@]}" >/dev/null
is "$(jsq "$WORK/noscope-list.b" 'd.result.tools.length')" 0 "no-role token: tools/list is empty"
is "$(post noscope-call "$(call_body echo__echo '{"text":"x"}')" -H "Authorization: Bearer $NOSCOPE_TOKEN" \
	-H "Mcp-Session-Id: $SID" "${PV[@]}")" 403 "no-role token: tools/call is refused with 403"

# --- discovery: a client with nothing follows the 401 ---
(cd "$WORK" && NODE_EXTRA_CA_CERTS="$WORK/cert.pem" timeout 60 "$NODE22" \
	"$SOURCE/tests/integration/auth_oauth_discover.mjs" "$RESOURCE" discover-client mcp:tools) \
	>"$WORK/discover.json" 2>"$WORK/discover.err"
is "$?" 0 "SDK discovery: runs through (exit 0)"
D="$WORK/discover.json"
is "$(jsq "$D" 'd.status')" 401 "SDK discovery: initialize without a token gets 401"
is "$(jsq "$D" 'd.resourceMetadataUrl')" "$METADATA" \
	"SDK discovery: the challenge's resource_metadata is the gateway's RFC 9728 URL"
is "$(jsq "$D" 'd.resourceMetadata.resource')" "$RESOURCE" "SDK discovery: metadata resource is $RESOURCE"
is "$(jsq "$D" 'd.resourceMetadata.authorization_servers')" "[\"$ISS\"]" \
	"SDK discovery: metadata authorization_servers is [the issuer]"
is "$(jsq "$D" 'd.authorizationServerUrl')" "$ISS" "SDK discovery: picks the issuer as authorization server"
is "$(jsq "$D" 'd.tokenEndpoint')" "$ISS/token" "SDK discovery: finds the issuer's token endpoint"
DISCOVERED=$(jsq "$D" 'd.accessToken')
sdk_works discovered "$DISCOVERED" discover-client
# The same by hand: follow the header with curl.
code=$(post challenge "$INIT")
is "$code" 401 "no token: 401"
url=$(hdr challenge WWW-Authenticate | sed -n 's/.*resource_metadata="\([^"]*\)".*/\1/p')
is "$url" "$METADATA" "no token: WWW-Authenticate names the resource metadata"
curl -s -m 10 --cacert "$WORK/cert.pem" -o "$WORK/prm.json" "$url"
is "$(jsq "$WORK/prm.json" 'd.resource')" "$RESOURCE" "GET resource_metadata: resource"
is "$(jsq "$WORK/prm.json" 'd.authorization_servers.join(",")')" "$ISS" \
	"GET resource_metadata: authorization_servers = the issuer"

# --- refused tokens, each through the gateway ---
# refused LABEL TOKEN VERDICT TEXT: initialize with the token gets 401 with an invalid_token
# challenge pointing at the metadata, a JSON-RPC error saying TEXT, no session, and auth
# logs the verdict.
refused() {
	local label=$1 token=$2 verdict=$3 text=$4
	local code www
	if [ -z "$token" ]; then not_ok "$label: could not make the token"; return; fi
	code=$(post "bad-$label" "$INIT" -H "Authorization: Bearer $token")
	is "$code" 401 "$label: 401"
	www=$(hdr "bad-$label" WWW-Authenticate)
	has "$www" "Bearer resource_metadata=\"$METADATA\"" "$label: challenge names the resource metadata"
	has "$www" 'error="invalid_token"' "$label: challenge says invalid_token"
	has "$www" "error_description=\"$text" "$label: challenge describes the fault"
	is "$(jsq "$WORK/bad-$label.b" 'd.id + " " + d.error.code')" "1 -32001" "$label: JSON-RPC error -32001, id 1"
	has "$(jsq "$WORK/bad-$label.b" 'd.error.message')" "$text" "$label: the error says '$text'"
	check "$label: no session handed out" test -z "$(hdr "bad-$label" Mcp-Session-Id)"
	check "$label: auth logs verdict $verdict" \
		wait_log "\"event\":\"jwt_refused\".*\"verdict\":\"$verdict\"" 1 5
}
NOW=$(date +%s)
forge T '{"key": "none"}'
refused "alg none" "$T" unsigned "unsigned tokens (alg none) are not accepted"
forge T '{"key": "hs256-public"}'
refused "HS256 keyed with the public key" "$T" alg_unsupported "token alg is not accepted"
forge T '{"alg": "RS256", "key": "foreign"}'
refused "bad signature (RS256, foreign key, issuer kid)" "$T" bad_signature "token signature is invalid"
forge T '{"alg": "ES256", "key": "foreign"}'
refused "bad signature (ES256, foreign key, issuer kid)" "$T" bad_signature "token signature is invalid"
# A genuine token with its payload swapped: the issuer's signature no longer matches.
TAMPERED_PAYLOAD=$("$NODE22" -e '
	const [h, p, s] = process.argv[1].split(".");
	const c = JSON.parse(Buffer.from(p, "base64url"));
	c.sub = "someone-else";
	console.log([h, Buffer.from(JSON.stringify(c)).toString("base64url"), s].join("."));' "$RS_TOKEN")
refused "bad signature (tampered payload)" "$TAMPERED_PAYLOAD" bad_signature "token signature is invalid"
forge T '{"alg": "RS256", "key": "foreign", "header": {"kid": "not-a-published-kid"}}'
refused "unknown kid" "$T" unknown_kid "token was signed with a key the issuer does not publish"
forge T "{\"claims\": {\"aud\": \"$RESOURCE\", \"iat\": $((NOW - 7200)), \"nbf\": $((NOW - 7200)), \"exp\": $((NOW - 3600))}}"
refused "expired" "$T" expired "token expired"
forge T "{\"alg\": \"ES256\", \"claims\": {\"aud\": \"$RESOURCE\", \"nbf\": $((NOW + 3600))}}"
refused "not yet valid" "$T" not_yet_valid "token is not valid yet"
forge T "{\"claims\": {\"aud\": \"$RESOURCE\", \"iss\": \"http://127.0.0.1:1\"}}"
refused "wrong iss" "$T" wrong_issuer "token was issued by another authorization server"
issue T client_id=sdk-client scope=mcp:tools "aud=https://elsewhere.example/mcp"
refused "wrong audience (from the token endpoint)" "$T" wrong_audience "token was not issued for this resource"
issue T client_id=cognito-app shape=cognito-id
refused "id token (token_use id, Cognito shape)" "$T" wrong_token_use "token is not an access token"
PAD=$(head -c 9000 /dev/zero | tr '\0' x)
forge T "{\"claims\": {\"aud\": \"$RESOURCE\", \"pad\": \"$PAD\"}}"
check "the oversized token is over 8192 bytes (${#T})" test "${#T}" -gt 8192
refused "oversized" "$T" too_long "bearer token longer than 8192 bytes"
refused "malformed (not a JWT)" "this-is-not-a-jwt" malformed "bearer token is not a signed JWT"
refused "malformed (bad base64url)" "e30*.e30.AAAA" bad_encoding "bearer token is not valid base64url"

# The good tokens still work after all that (no lockout, keys still cached).
sdk_works "RS256 again" "$RS_TOKEN" sdk-client
check "no token appears in the appliance log" bash -c "! grep -qF '${RS_TOKEN##*.}' '$WORK/appliance.log'"
check "the appliance is still up" kill -0 "$SUP_PID"
stop_appliance

# --- required scopes: the challenge names them; a token without them gets 403 ---
# oauth_config FILE SCOPES_JSON: the same issuer, with required_scopes.
oauth_config() {
	write_auth_config "$1" "{ \"anonymous\": false,
    \"oauth\": { \"issuer\": \"$ISS\", \"jwks_url\": \"$ISS/jwks\", \"required_scopes\": $2,
                 \"role_claims\": { \"scopes\": { \"mcp:tools\": [\"admin\"] } } } }"
}
check "appliance with required_scopes [mcp:tools] becomes ready" start_tls "$WORK/scoped.json" \
	oauth_config "$WORK/scoped.json" '["mcp:tools"]'
RESOURCE="https://127.0.0.1:$PORT/mcp"
METADATA="https://127.0.0.1:$PORT/.well-known/oauth-protected-resource"
wait_log '"event":"jwks_fetched"' 1 15
check "a token for this port's resource, with mcp:tools" \
	issue SCOPED_TOKEN client_id=sdk-client scope=mcp:tools "aud=$RESOURCE"
check "a token for this port's resource, without mcp:tools" \
	issue NOSCOPE_TOKEN client_id=plain-client scope=profile "aud=$RESOURCE"
is "$(post scoped-none "$INIT")" 401 "required scopes, no token: 401"
has "$(hdr scoped-none WWW-Authenticate)" 'scope="mcp:tools"' "required scopes: the challenge names scope=\"mcp:tools\""
code=$(post scoped-short "$INIT" -H "Authorization: Bearer $NOSCOPE_TOKEN")
is "$code" 403 "required scopes, token without mcp:tools: 403"
has "$(hdr scoped-short WWW-Authenticate)" 'error="insufficient_scope"' "required scopes: error=insufficient_scope"
is "$(post scoped-ok "$INIT" -H "Authorization: Bearer $SCOPED_TOKEN")" 200 "required scopes, token with mcp:tools: 200"
stop_appliance

# Regression: 32 required scopes of 200 bytes are a valid config; the challenge once
# overflowed its 1400-byte stack buffer building them, and any 401 killed auth.
LONG=$("$NODE22" -e 'console.log(JSON.stringify(Array.from({ length: 32 }, (_, i) => "scope" + i + "-" + "x".repeat(200))))')
check "appliance with 32 long required scopes becomes ready" start_tls "$WORK/longscopes.json" \
	oauth_config "$WORK/longscopes.json" "$LONG"
METADATA="https://127.0.0.1:$PORT/.well-known/oauth-protected-resource"
AUTH_BEFORE=$(child_pid 'mcpgate-auth$')
check "long required scopes: auth is running" test -n "$AUTH_BEFORE"
for i in 1 2 3; do
	is "$(post long-$i "$INIT")" 401 "long required scopes, no token ($i): 401"
done
has "$(hdr long-1 WWW-Authenticate)" "resource_metadata=\"$METADATA\"" \
	"long required scopes: the challenge still names the resource metadata"
check "long required scopes: the challenge leaves out a scope list that does not fit (no cut-off list)" \
	bash -c "! grep -qi 'scope=' '$WORK/long-1.h'"
is "$(child_pid 'mcpgate-auth$')" "$AUTH_BEFORE" "long required scopes: auth did not die (same process)"
check "long required scopes: no child exited" bash -c "! grep -q '\"event\":\"child_exited\"' '$WORK/appliance.log'"
stop_appliance
stop_issuer
finish
