#!/usr/bin/env bash
# The appliance's configuration from a Secrets Manager secret (run -c secretsmanager:NAME):
# fetched through the SigV4-verifying test endpoint by the secrets server's fetcher mode, the
# appliance serves with it; a missing secret, bad JSON or an invalid document are refused
# with a clear error that quotes nothing of the secret.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/aws_lib.sh"

aws_endpoint_up
PORT=$(free_port)
# A marker that must never reach a log: it sits in the configuration secret.
MARKER="cfg-marker-$RANDOM$RANDOM"
config=$(cat <<JSON
{
  "listen": [ { "address": "127.0.0.1:$PORT", "tls": false } ],
  "auth": { "anonymous": true },
  "roles": { "anonymous": { "tools": ["*"], "prompts": ["*"], "resources": ["*"] } },
  "servers": [ { "name": "secrets", "builtin": "secrets",
                 "settings": { "secrets": ["app/*"], "config_secret": "mcpgate/platform" },
                 "env": { "MCPGATE_TEST_MARKER": "$MARKER" } } ],
  "log": { "level": "info" }
}
JSON
)
body=$(printf '%s' "$config" | "$NODE22" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.stringify({name:"mcpgate/appliance-config",string:s})))')
check "the configuration is stored as a secret" aws_control POST /secrets "$body"

aws_control POST /reset >/dev/null
start_appliance "secretsmanager:mcpgate/appliance-config"
check "the appliance starts from the secret's configuration" kill -0 "$SUP_PID"
gets=$(aws_stat secretsmanager operations GetSecretValue)
check "the secret was fetched through the verifying front (GetSecretValue: $gets)" test "$gets" -ge 1
refused=$(aws_stat secretsmanager refused)
check "no request was refused by the signature check ($refused)" test "$refused" -eq 0
out=$(mcp_post '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}')
check "it serves MCP on the port the secret names" grep -q '"protocolVersion"' <<<"$out"
sid=$(curl -s -m 5 -D - -o /dev/null -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
	--data-binary '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}' \
	"http://127.0.0.1:$PORT/mcp" | awk -F': ' 'tolower($1)=="mcp-session-id"{print $2}' | tr -d '\r')
list=$(mcp_post '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' -H "Mcp-Session-Id: $sid" -H 'MCP-Protocol-Version: 2025-06-18')
check "the secret's servers are mounted (secrets__config_get listed)" grep -q 'secrets__config_get' <<<"$list"
check "nothing of the configuration secret is logged" bash -c "! grep -q '$MARKER' '$WORK/appliance.log'"
stop_appliance

# Failures: each must exit with the configuration status (78) and say why.
run_expect_fail() { # run_expect_fail DESCRIPTION SOURCE PATTERN
	local rc=0
	timeout 40 "$MCPGATE" run -c "$2" >"$WORK/fail.log" 2>&1 || rc=$?
	if [ "$rc" -eq 78 ] && grep -q -E "$3" "$WORK/fail.log"; then ok "$1"; else
		not_ok "$1 (exit $rc)"; sed -n 1,10p "$WORK/fail.log"; fi
}
run_expect_fail "a missing secret is refused, naming the failure" \
	"secretsmanager:mcpgate/no-such-config" "secretsmanager:mcpgate/no-such-config: fetching the secret failed"
check "the fetcher said the secret does not exist" grep -q 'ResourceNotFoundException' "$WORK/fail.log"
aws_control POST /secrets "{\"name\":\"mcpgate/broken-config\",\"string\":\"{\\\"listen\\\": $MARKER\"}" >/dev/null
run_expect_fail "a secret that is not JSON is refused with a position only" \
	"secretsmanager:mcpgate/broken-config" "secretsmanager:mcpgate/broken-config:1:[0-9]+: not valid JSON"
check "the refusal quotes nothing of the secret" bash -c "! grep -q '$MARKER' '$WORK/fail.log'"
aws_control POST /secrets '{"name":"mcpgate/invalid-config","string":"{\"listen\": 5}"}' >/dev/null
run_expect_fail "an invalid document is refused with the loader's reason" \
	"secretsmanager:mcpgate/invalid-config" 'secretsmanager:mcpgate/invalid-config: at \$\.listen'
run_expect_fail "a source naming no secret is refused" "secretsmanager:" "names no secret"
finish
