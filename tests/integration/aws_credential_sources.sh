#!/usr/bin/env bash
# A built-in server signs with credentials from each source of the chain, against the
# SigV4-verifying test endpoint: environment keys with a session token, the ECS/EKS container
# endpoint and EC2 IMDSv2 (loopback doubles that issue short-lived keys the endpoint accepts),
# and refreshes them before they expire.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/aws_lib.sh"

SERVER="$BUILD/servers/mcpgate-server-secrets"
aws_endpoint_up
aws_seed >/dev/null || not_ok "seed"

# The credential doubles (container endpoint, IMDSv2); their stdin closes when this shell exits.
coproc DOUBLES { "$NODE22" "$SOURCE/tests/fixtures/aws-doubles.mjs" 2>"$WORK/doubles.log"; }
read -r -t 10 word DPORT <&"${DOUBLES[0]}"
[ "$word" = PORT ] || { not_ok "credential doubles start"; finish; }
dctl() { curl -s -m 5 "http://127.0.0.1:$DPORT/_control?$1"; }

echo '{"secrets": ["app/*"]}' >"$WORK/settings.json"
STDIO_SERVER=(--stdio "$SERVER" --settings "$WORK/settings.json")
list_secrets() { # list_secrets ENV... : runs the server standalone over stdio, one secret_list
	aws_last_result '[{"tool":"secret_list","arguments":{}}]' \
		-u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN "$@" -- "${STDIO_SERVER[@]}"
}
last_key() { # the access key id of the verifying front's latest Secrets Manager request
	curl -s -m 5 "$AWS_CONTROL_URL/stats" | "$NODE22" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s).secretsmanager.requests;console.log(r.length?r[r.length-1].key_id:"")})'
}

# Environment keys with a session token (temporary keys from the endpoint).
(
	aws_temp_credentials ENV
	out=$(aws_last_result '[{"tool":"secret_list","arguments":{}}]' -- "${STDIO_SERVER[@]}")
	aws_secrets_listed "$out" && ok "environment keys with a session token sign accepted requests" || { not_ok "environment keys with a session token"; echo "$out"; }
)
key=$(last_key)
check "the front saw the environment's temporary key ($key)" test "${key:0:7}" = ASIAENV

# The container endpoint (full URI with a token), then IMDSv2.
out=$(list_secrets AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1:$DPORT/container/creds" \
	AWS_CONTAINER_AUTHORIZATION_TOKEN=container-auth-token-1)
aws_secrets_listed "$out" && ok "container endpoint credentials sign accepted requests" || { not_ok "container endpoint credentials"; echo "$out"; tail -5 "$WORK/calls.err"; }
key=$(last_key)
check "the front saw a container-issued key ($key)" test "${key:0:4}" = ASIA

out=$(list_secrets AWS_EC2_METADATA_DISABLED=false AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:$DPORT")
aws_secrets_listed "$out" && ok "IMDSv2 credentials sign accepted requests" || { not_ok "IMDSv2 credentials"; echo "$out"; tail -5 "$WORK/calls.err"; }
key2=$(last_key)
check "the front saw an IMDS-issued key ($key2, not $key)" bash -c "[ '${key2:0:4}' = ASIA ] && [ '$key2' != '$key' ]"

# Refresh before expiry: keys that live 20 s. The provider refreshes them in the background
# once they are inside its refresh margin (no sooner than 10 s after a fetch), so a fresh
# pair is in hand before the first expires, without a call waiting for it.
dctl "expires=20" >/dev/null
coproc SRV { env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
	AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1:$DPORT/container/creds" \
	AWS_CONTAINER_AUTHORIZATION_TOKEN=container-auth-token-1 "$SERVER" --settings "$WORK/settings.json" 2>>"$WORK/server.err"; }
rpc() { echo "$1" >&"${SRV[1]}"; local line; read -r -t 20 line <&"${SRV[0]}"; echo "$line"; }
call() { rpc "{\"jsonrpc\":\"2.0\",\"id\":$1,\"method\":\"tools/call\",\"params\":{\"name\":\"secret_list\",\"arguments\":{}}}"; }
container_gets() { dctl "" | "$NODE22" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).container_get))'; }
rpc '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}' >/dev/null
echo '{"jsonrpc":"2.0","method":"notifications/initialized"}' >&"${SRV[1]}"
r1=$(call 2); k1=$(last_key)
g1=$(container_gets); t1=$SECONDS
sleep 12
g2=$(container_gets)
check "the keys were fetched again in the background before they expired ($g1 -> $g2 fetches, $((SECONDS - t1)) s of 20)" test "$g2" -gt "$g1"
r2=$(call 3); k2=$(last_key)
both_ok() { grep -q '"isError":false' <<<"$r1" && grep -q '"isError":false' <<<"$r2"; }
check "calls succeed before and after the refresh" both_ok
check "the next call is signed with the new keys ($k1 -> $k2)" bash -c "[ -n '$k2' ] && [ '$k1' != '$k2' ]"
exec {SRV[1]}>&-
wait "$SRV_PID" 2>/dev/null
kill "$DOUBLES_PID" 2>/dev/null
wait "$DOUBLES_PID" 2>/dev/null
check "no secret value reached the server's log" bash -c "! grep -q -e 's3cr3t-value' -e doublesecret '$WORK/server.err'"
finish
