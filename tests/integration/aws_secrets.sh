#!/usr/bin/env bash
# The secrets server against the test endpoint's Secrets Manager double behind the SigV4-verifying
# front, with the official SDK client. Through the whole gateway (TLS, API keys): an admin key
# reveals, a reader key sees masks and is refused a reveal with the role it needs; JSON secrets
# (masked per key, json_key), a binary secret, secret_list showing only allowed names (prefix,
# paging), an unknown secret's clear error, config_get with its cache (one GetSecretValue for
# several calls) serving only the keys settings.config_keys lists (the configuration here also
# holds a Redis password: refused, never named, never logged), refusals made before any request, throttling retried and surfaced, the audit
# lines, and no secret value anywhere in the appliance's log (at debug level). Then standalone
# over stdio (never reveals), a wrong secret key, settings errors, and the start-up fetcher
# (--fetch-secret).
# Usage: aws_secrets.sh [BUILD]   (also run as a meson test)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/aws_lib.sh"
aws_test_start secrets

# The double's own secrets: app/db-password "s3cr3t-value-1" (a second version), app/api-token
# {"token":"tok-123","user":"svc"}, mcpgate/platform (the JSON config), other/not-allowed.
# Plus a binary one and a long one whose values must never reach a log either.
BINARY_B64=$(printf 'bin\x00\x01\x02-secret-bytes-0123456789' | base64 -w0)
LONG_VALUE="long-$(printf 'L%.0s' $(seq 10000))-end"
aws_control POST /secrets "{\"name\":\"app/binary-blob\",\"binary\":\"$BINARY_B64\"}" >/dev/null
aws_control POST /secrets "{\"name\":\"app/long-value\",\"string\":\"$LONG_VALUE\"}" >/dev/null
# The platform configuration as an operator might point config_secret at it: the appliance's own
# config, a password beside the flags. config_keys keeps config_get to the flags and the contacts.
REDIS_PASSWORD="redis-pw-7c1e94b2d0"
PLATFORM="{\"feature_flags\":{\"beta\":true},\"support_email\":\"ops@example.com\",\"max_upload_mb\":25,\"redis\":{\"host\":\"cache.internal\",\"password\":\"$REDIS_PASSWORD\"}}"
aws_control POST /secrets "$("$NODE22" -e 'console.log(JSON.stringify({name: "mcpgate/platform", string: process.argv[1]}))' "$PLATFORM")" >/dev/null

KEYS="$WORK/keys.json"
ADMIN_KEY=$("$MCPGATE" keygen --client adam --roles admin --keys-file "$KEYS" 2>/dev/null)
READER_KEY=$("$MCPGATE" keygen --client rita --roles reader --keys-file "$KEYS" 2>/dev/null)
check "keygen: an admin key and a reader key" test -n "$ADMIN_KEY" -a -n "$READER_KEY"
chmod 0644 "$KEYS"

cat >"$WORK/settings.json" <<'JSON'
{
  "secrets": ["app/*"],
  "reveal_roles": ["admin"],
  "config_secret": "mcpgate/platform",
  "config_keys": ["feature_flags", "feature_flags.*", "support_email", "max_upload_mb", "maintenance_window"],
  "config_ttl_seconds": 60,
  "result_cap_bytes": 8192
}
JSON
# (SECRETS_SANDBOX_DEBUG=1: the sandbox logs a forbidden system call instead of killing the server.)
aws_write_gateway "$WORK/settings.json" debug '"auth": { "anonymous": false, "keys_file": "'"$KEYS"'" },
  "roles": { "reader": { "tools": ["secrets__*"], "prompts": ["*"], "resources": ["*"] } },'

# run OUT TARGET [env...]: aws_calls with "@tool" standing for the target's name of the tool;
# TARGET admin / reader (through the gateway with that key) or stdio (settings: $SETTINGS).
run() {
	local out=$1 target=$2 prefix="" args key=""; shift 2
	case $target in
	admin) key=$ADMIN_KEY ;;
	reader) key=$READER_KEY ;;
	esac
	if [ -n "$key" ]; then
		prefix="secrets__"
		args=("https://127.0.0.1:$PORT/mcp")
	else
		args=(--stdio "$SERVER" --settings "${SETTINGS:-$WORK/settings.json}")
	fi
	sed "s/\"@/\"$prefix/g" | aws_calls "$out" MCPGATE_API_KEY="$key" "$@" -- "${args[@]}"
}
# requests: every request the Secrets Manager front saw (verified or refused).
requests() { aws_requests secretsmanager; }
gets() { aws_stat secretsmanager operations GetSecretValue; }

aws_start_gateway
SECRETS_PID=$(child_pid mcpgate-server-secrets)

# ---- through the gateway, admin ----
run admin admin <<'JSON'
[
  {"tool": "@secret_get", "arguments": {"name": "app/db-password"}},
  {"tool": "@secret_get", "arguments": {"name": "app/db-password", "reveal": true}},
  {"tool": "@secret_get", "arguments": {"name": "app/api-token"}},
  {"tool": "@secret_get", "arguments": {"name": "app/api-token", "reveal": true, "json_key": "token"}},
  {"tool": "@secret_get", "arguments": {"name": "app/api-token", "json_key": "password"}},
  {"tool": "@secret_get", "arguments": {"name": "app/binary-blob"}},
  {"tool": "@secret_get", "arguments": {"name": "app/binary-blob", "reveal": true}},
  {"tool": "@secret_get", "arguments": {"name": "app/no-such-secret"}},
  {"tool": "@secret_list", "arguments": {}},
  {"tool": "@secret_list", "arguments": {"prefix": "app/db"}},
  {"tool": "@secret_list", "arguments": {"limit": 2}},
  {"tool": "@secret_get", "arguments": {"name": "app/long-value", "reveal": true}},
  {"tool": "@secret_get", "arguments": {"name": "app/api-token", "reveal": true}}
]
JSON
f=admin
expect $f 0 'JSON.stringify(d.tools.slice().sort())' '["secrets__config_get","secrets__secret_get","secrets__secret_list"]' \
	"admin: tools/list shows the secrets tools"
expect $f 0 'Object.values(d.schemas).every((x) => x.outputSchema && x.inputSchema.additionalProperties === false)' \
	true "every tool has an outputSchema and a closed inputSchema"
expect $f 1 'd.ok && !r.isError && JSON.stringify([s.name, s.revealed, s.value])' \
	'["app/db-password",false,"********-1 (14 chars)"]' "admin: without reveal the value is masked"
expect $f 1 '/^arn:aws:secretsmanager:us-east-1:\d{12}:secret:app\/db-password-/.test(s.arn) && s.version_id.length' 36 \
	"admin: the result names the ARN and the version"
expect $f 2 'JSON.stringify([s.revealed, s.value])' '[true,"s3cr3t-value-1"]' "admin: reveal gives the current version's value"
expect $f 3 'JSON.stringify([s.value, s.keys])' '[{"token":"********","user":"********"},["token","user"]]' \
	"admin: a JSON secret is masked key by key, with its keys"
expect $f 4 'JSON.stringify([s.json_key, s.value, s.revealed])' '["token","tok-123",true]' "admin: reveal with json_key"
expect $f 5 'r.isError && /json_key .password. is not a key of secret .app\/api-token. \(its keys: token, user\)/.test(t)' true \
	"admin: an unknown json_key lists the keys"
expect $f 6 'JSON.stringify([s.value, s.binary_bytes])' '["(binary secret, 30 bytes)",30]' "admin: a binary secret is a marker"
expect $f 7 'JSON.stringify([s.encoding, s.value])' "[\"base64\",\"$BINARY_B64\"]" "admin: a revealed binary secret is base64"
expect $f 8 'r.isError && /ResourceNotFoundException/.test(t) && /secret .app\/no-such-secret. does not exist/.test(t)' true \
	"admin: an unknown (allowed) secret's error names it"
expect $f 9 'JSON.stringify(s.names)' '["app/api-token","app/binary-blob","app/db-password","app/long-value"]' \
	"admin: secret_list shows only the allowed names"
expect $f 9 'Object.keys(s.last_changed).length === 4 && Object.values(s.last_changed).every((x) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(x)) && !/other|mcpgate\/platform|description/i.test(t)' \
	true "admin: secret_list gives last-changed times, never other names or descriptions"
expect $f 10 'JSON.stringify(s.names)' '["app/db-password"]' "admin: secret_list with a prefix"
expect $f 11 'JSON.stringify(s.names) + " " + typeof s.next_cursor' '["app/api-token","app/binary-blob"] string' \
	"admin: secret_list with limit 2 pages with next_cursor"
expect $f 12 'Buffer.byteLength(r.content[0].text) <= 8192 && /^\[truncated: bytes 0-\d+ of 10009 shown; call again with offset=\d+ for the rest\]$/.test(s.truncated)' \
	true "admin: a long revealed value is cut within the cap, with an offset to go on"
expect $f 13 'JSON.stringify(s.value)' '{"token":"tok-123","user":"svc"}' "admin: a revealed JSON secret is the object"

# Paging on, and the long value's continuation.
cursor=$(js $f 11 's.next_cursor')
offset=$(js $f 12 's.truncated.match(/offset=(\d+)/)[1]')
first=$(js $f 12 's.value')
run admin2 admin <<JSON
[
  {"tool": "@secret_list", "arguments": {"limit": 2, "cursor": "$cursor"}},
  {"tool": "@secret_get", "arguments": {"name": "app/long-value", "reveal": true, "offset": $offset}}
]
JSON
expect admin2 1 'JSON.stringify(s.names)' '["app/db-password","app/long-value"]' "admin: the next page from the cursor"
check "admin: offset gives the rest of the long value" test "$first$(js admin2 2 's.value')" = "$LONG_VALUE"

# config_get: one GetSecretValue for the calls within the TTL; only config_keys' keys.
before=$(gets)
run config admin <<'JSON'
[
  {"tool": "@config_get", "arguments": {"key": "feature_flags.beta"}},
  {"tool": "@config_get", "arguments": {"key": "support_email"}},
  {"tool": "@config_get", "arguments": {"key": "feature_flags"}},
  {"tool": "@config_get", "arguments": {"key": "maintenance_window"}},
  {"tool": "@config_get", "arguments": {"key": "feature_flags.gamma"}},
  {"tool": "@config_get", "arguments": {"key": "redis.password"}},
  {"tool": "@config_get", "arguments": {"key": "redis"}}
]
JSON
expect config 0 '/config_keys/.test(d.schemas.secrets__config_get.inputSchema.properties.key.description)' true \
	"config_get: its key's description names config_keys"
expect config 1 'JSON.stringify(s)' '{"key":"feature_flags.beta","value":true,"source":"mcpgate/platform","cached":false}' \
	"config_get: a dotted key, fetched"
expect config 2 'JSON.stringify([s.value, s.cached])' '["ops@example.com",true]' "config_get: the next call is served from the cache"
expect config 3 'JSON.stringify(s.value)' '{"beta":true}' "config_get: an object value"
expect config 4 'r.isError && t' \
	"config_get: key 'maintenance_window' is not in the configuration; its top-level keys that settings.config_keys allows: feature_flags, support_email, max_upload_mb (configuration secret 'mcpgate/platform')" \
	"config_get: an unknown (allowed) key lists only the top-level keys config_keys allows"
expect config 5 'r.isError && /.feature_flags. has no key .gamma. \(its keys that settings.config_keys allows: beta\)/.test(t)' true \
	"config_get: an unknown nested key lists the allowed keys there"
expect config 6 'r.isError && t' \
	"config_get: key 'redis.password' is not allowed by this server's settings (config_keys); no request was made" \
	"config_get: a key outside config_keys is refused"
expect config 7 'r.isError && /key .redis. is not allowed by this server.s settings \(config_keys\)/.test(t)' true \
	"config_get: its parent object is refused too"
check "config_get: one GetSecretValue for seven calls ($before -> $(gets))" test "$(gets)" = $((before + 1))
check "config_get: no result names or holds the password" \
	bash -c "! grep -qE 'redis|$REDIS_PASSWORD' <(sed -n '2,6p' '$WORK/config')"

# ---- through the gateway, reader ----
before=$(requests)
run reader reader <<'JSON'
[
  {"tool": "@secret_get", "arguments": {"name": "app/db-password"}},
  {"tool": "@config_get", "arguments": {"key": "max_upload_mb"}}
]
JSON
expect reader 1 'JSON.stringify([s.revealed, s.value])' '[false,"********-1 (14 chars)"]' "reader: the value is masked"
expect reader 2 'JSON.stringify([s.value, s.cached])' '[25,true]' "reader: config_get (cached across callers)"
check "reader: one request for the two calls" test "$(requests)" = $((before + 1))

# Refusals: nothing reaches Secrets Manager.
before=$(requests)
run refusals reader <<'JSON'
[
  {"tool": "@secret_get", "arguments": {"name": "app/db-password", "reveal": true}},
  {"tool": "@secret_get", "arguments": {"name": "other/not-allowed"}},
  {"tool": "@secret_get", "arguments": {"name": "mcpgate/platform"}},
  {"tool": "@secret_get", "arguments": {"name": "arn:aws:secretsmanager:us-east-1:123456789012:secret:other/not-allowed"}},
  {"tool": "@secret_get", "arguments": {"name": "app/db-password", "extra": 1}},
  {"tool": "@secret_list", "arguments": {"cursor": "not a cursor"}}
]
JSON
expect refusals 1 'r.isError && t' \
	"secret_get: revealing secret 'app/db-password' needs the role admin (settings.reveal_roles); your roles: reader; call again without reveal for the masked value; no request was made" \
	"reader: a reveal is refused, naming the role it needs"
expect refusals 2 'r.isError && t' \
	"secret_get: secret 'other/not-allowed' is not allowed by this server's settings (secrets); no request was made" \
	"refused: a secret outside the allowlist"
expect refusals 3 'r.isError && /mcpgate\/platform. is not allowed/.test(t)' true \
	"refused: the config secret is not readable through secret_get"
expect refusals 4 'r.isError && /name must be a secret NAME, not its ARN/.test(t)' true "refused: an ARN for a name"
expect refusals 5 '!d.ok || r.isError' true "refused: an unknown argument"
expect refusals 6 'r.isError && /cursor a next_cursor this tool gave/.test(t)' true "refused: a malformed cursor"
check "no request reached Secrets Manager for the refusals ($before -> $(requests))" test "$(requests)" = "$before"
check "the allowlist refusal is logged" grep -q '"event":"aws_refused".*"name":"other/not-allowed"' "$WORK/appliance.log"
check "the refused reveal is audited" \
	grep -q '"event":"secret_reveal_refused".*"name":"app/db-password".*"principal":"key:[0-9a-f]*".*"needs":"admin"' \
	"$WORK/appliance.log"
check "an admin's reveal is audited (revealed yes, principal)" \
	grep -q '"event":"secret_access".*"name":"app/db-password","revealed":"yes".*"principal":"key:[0-9a-f]*","outcome":"ok"' \
	"$WORK/appliance.log"
check "a reader's masked read is audited (revealed no)" \
	grep -q '"event":"secret_access".*"name":"app/db-password","revealed":"no".*"outcome":"ok"' "$WORK/appliance.log"
check "config_get is audited: key, source, principal, outcome" \
	grep -q '"event":"config_access".*"key":"feature_flags.beta","source":"mcpgate/platform".*"principal":"key:[0-9a-f]*","outcome":"ok"' \
	"$WORK/appliance.log"
check "a refused config_get is audited" \
	grep -q '"event":"config_access".*"key":"redis.password","source":"mcpgate/platform".*"principal":"key:[0-9a-f]*","outcome":"refused"' \
	"$WORK/appliance.log"
check "one config_access line per config_get (8 so far)" test "$(grep -c '"event":"config_access"' "$WORK/appliance.log")" = 8

# Throttling: two throttles are retried away; five outlast the three attempts.
throttled=$(aws_stat secretsmanager throttled)
verified=$(aws_stat secretsmanager verified)
aws_throttle secretsmanager 2
run throttle1 admin <<'JSON'
[ {"tool": "@secret_get", "arguments": {"name": "app/db-password", "reveal": true}} ]
JSON
expect throttle1 1 'd.ok && !r.isError && s.value' s3cr3t-value-1 "two throttles retried, the call succeeds"
check "the double throttled 2 and saw 3 attempts" \
	test "$(aws_stat secretsmanager throttled)" = $((throttled + 2)) -a "$(aws_stat secretsmanager verified)" = $((verified + 3))
aws_throttle secretsmanager 5
run throttle2 admin <<'JSON'
[ {"tool": "@secret_list", "arguments": {}} ]
JSON
aws_throttle secretsmanager 0
expect throttle2 1 'r.isError && /Secrets Manager: ThrottlingException: Rate exceeded.*after 3 attempts/.test(t)' true \
	"more throttles than attempts surface as ThrottlingException"
check "the secrets server ran throughout: same process ($SECRETS_PID)" \
	test "$(child_pid mcpgate-server-secrets)" = "$SECRETS_PID"
stop_appliance
LONG_MARK=$(printf 'L%.0s' $(seq 40))
for v in s3cr3t-value-1 tok-123 "$BINARY_B64" "$LONG_MARK" "$REDIS_PASSWORD" ops@example.com; do
	check "the appliance's log holds no secret value (${v:0:16}...)" bash -c "! grep -qF -- '$v' '$WORK/appliance.log'"
done

# ---- standalone over stdio ----
run stdio stdio <<'JSON'
[
  {"tool": "@secret_get", "arguments": {"name": "app/db-password"}},
  {"tool": "@secret_get", "arguments": {"name": "app/db-password", "reveal": true}},
  {"tool": "@secret_get", "arguments": {"name": "app/api-token", "json_key": "user"}},
  {"tool": "@secret_list", "arguments": {"prefix": "app/"}},
  {"tool": "@config_get", "arguments": {"key": "feature_flags.beta"}},
  {"tool": "@secret_get", "arguments": {"name": "other/not-allowed"}}
]
JSON
expect stdio 0 'JSON.stringify(d.tools.slice().sort())' '["config_get","secret_get","secret_list"]' "standalone: tools/list"
expect stdio 1 's.value' '********-1 (14 chars)' "standalone: secret_get masked"
expect stdio 2 'r.isError && /this server runs standalone with no caller identity, so it never reveals/.test(t) && /no request was made/.test(t)' \
	true "standalone: never reveals, and says why"
expect stdio 3 'JSON.stringify([s.json_key, s.value])' '["user","********"]' "standalone: json_key, masked"
expect stdio 4 'JSON.stringify(s.names)' '["app/api-token","app/binary-blob","app/db-password","app/long-value"]' \
	"standalone: secret_list"
expect stdio 5 'JSON.stringify([s.value, s.source])' '[true,"mcpgate/platform"]' "standalone: config_get"
expect stdio 6 'r.isError && /not allowed by this server.s settings \(secrets\); no request was made/.test(t)' true \
	"standalone: allowlist refusal"
check "standalone: the server's log holds no value" bash -c "! grep -qE 's3cr3t-value|tok-123' '$WORK/stdio.err'"
check "standalone: the access is audited with no principal" \
	grep -q '"event":"secret_access".*"name":"app/db-password","revealed":"no".*"principal":"-"' "$WORK/stdio.err"
check "standalone: config_get is audited with no principal" \
	grep -q '"event":"config_access".*"key":"feature_flags.beta".*"principal":"-","outcome":"ok"' "$WORK/stdio.err"

# config_keys refusals on a cold cache: no GetSecretValue for them; none of them names the
# configuration's other keys; absent config_keys allows nothing.
before=$(gets)
run cfgrefused stdio <<'JSON'
[
  {"tool": "@config_get", "arguments": {"key": "redis.password"}},
  {"tool": "@config_get", "arguments": {"key": "redis"}},
  {"tool": "@config_get", "arguments": {"key": "feature_flags_x"}}
]
JSON
expect cfgrefused 1 'r.isError && t' \
	"config_get: key 'redis.password' is not allowed by this server's settings (config_keys); no request was made" \
	"standalone: a key outside config_keys is refused"
expect cfgrefused 3 'r.isError && /feature_flags_x. is not allowed/.test(t)' true "standalone: patterns match whole keys"
check "standalone: no GetSecretValue for the refused keys ($before -> $(gets))" test "$(gets)" = "$before"
echo '{"secrets": ["app/*"], "config_secret": "mcpgate/platform"}' >"$WORK/nokeys.json"
SETTINGS="$WORK/nokeys.json" run nokeys stdio <<'JSON'
[ {"tool": "@config_get", "arguments": {"key": "support_email"}} ]
JSON
expect nokeys 1 'r.isError && /key .support_email. is not allowed by this server.s settings \(config_keys\); no request was made/.test(t)' \
	true "no config_keys: config_get serves no key"
check "no config_keys: no GetSecretValue ($before -> $(gets))" test "$(gets)" = "$before"
check "no config_keys: the server says at start that config_get is off" grep -q '"event":"config_get_disabled"' "$WORK/nokeys.err"
check "standalone: the refusals are audited, values never logged" bash -c \
	"grep -q '\"event\":\"config_access\".*\"key\":\"redis\".*\"outcome\":\"refused\"' '$WORK/cfgrefused.err' && ! grep -qE '$REDIS_PASSWORD|ops@example.com' '$WORK/stdio.err' '$WORK/cfgrefused.err' '$WORK/nokeys.err'"

# No configuration secret configured.
echo '{"secrets": ["app/*"]}' >"$WORK/noconfig.json"
before=$(requests)
SETTINGS="$WORK/noconfig.json" run noconfig stdio <<'JSON'
[
  {"tool": "@config_get", "arguments": {"key": "a"}},
  {"tool": "@secret_get", "arguments": {"name": "app/db-password", "reveal": true}}
]
JSON
expect noconfig 1 'r.isError && t' \
	"config_get: this server has no platform configuration secret (settings.config_secret is not set); no request was made" \
	"no config_secret: a clear tool error"
expect noconfig 2 'r.isError && /revealing secret .app\/db-password. is disabled on this server \(settings.reveal_roles is empty\)/.test(t)' \
	true "no reveal_roles: revealing is disabled, and says so"
check "no request for either ($before -> $(requests))" test "$(requests)" = "$before"

# A wrong secret key: the verifying front's signature error is the tool error.
refused=$(aws_stat secretsmanager refused)
run wrong stdio AWS_SECRET_ACCESS_KEY=wrong-secret-key <<'JSON'
[
  {"tool": "@secret_get", "arguments": {"name": "app/db-password"}},
  {"tool": "@config_get", "arguments": {"key": "support_email"}}
]
JSON
expect wrong 1 'r.isError && /Secrets Manager: InvalidSignatureException: The request signature we calculated does not match/.test(t)' \
	true "wrong secret key: the signature error is the tool error"
expect wrong 2 'r.isError && /InvalidSignatureException.*configuration secret .mcpgate\/platform./.test(t)' true \
	"wrong secret key: config_get says so too"
check "wrong secret key: the front refused them" test "$(aws_stat secretsmanager refused)" -ge $((refused + 2))
check "wrong secret key: the key is not in the server's log" bash -c "! grep -q wrong-secret-key '$WORK/wrong.err'"

# Settings: strict keys and values.
settings_error '{"secret": ["app/*"]}' "unknown key 'secret'" "settings: an unknown key stops the server, naming it"
settings_error '{"reveal_roles": ["adm*"]}' 'settings.reveal_roles\[0\]' "settings: reveal_roles takes exact role names"
settings_error '{"config_secret": "has space"}' 'settings.config_secret' "settings: config_secret must be a secret name"
settings_error '{"config_keys": "feature_flags"}' 'settings.config_keys' "settings: config_keys is a list"
settings_error '{"config_ttl_seconds": -1}' 'settings.config_ttl_seconds' "settings: config_ttl_seconds is bounded"
settings_error '{"result_cap_bytes": 100}' 'settings.result_cap_bytes' "settings: result_cap_bytes is bounded"

# ---- the start-up fetcher ----
rc=0
"$SERVER" --fetch-secret app/db-password >"$WORK/fetch.out" 2>"$WORK/fetch.err" || rc=$?
check "--fetch-secret prints the SecretString and exits 0 (exit $rc)" \
	test "$rc" = 0 -a "$(cat "$WORK/fetch.out")" = "s3cr3t-value-1"
check "--fetch-secret logs nothing of the value" bash -c "! grep -q s3cr3t '$WORK/fetch.err'"
rc=0
"$SERVER" --fetch-secret mcpgate/platform >"$WORK/fetch2.out" 2>/dev/null || rc=$?
check "--fetch-secret of the JSON config (exit $rc)" \
	test "$rc" = 0 -a "$("$NODE22" -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).max_upload_mb)' "$WORK/fetch2.out")" = 25
rc=0
"$SERVER" --fetch-secret app/no-such-secret >"$WORK/fetch3.out" 2>"$WORK/fetch3.err" || rc=$?
check "--fetch-secret of a missing secret exits 1 with AWS's reason" \
	bash -c "[ $rc = 1 ] && [ ! -s '$WORK/fetch3.out' ] && grep -q '\"event\":\"secret_fetch_failed\".*ResourceNotFoundException' '$WORK/fetch3.err'"
rc=0
"$SERVER" --fetch-secret app/binary-blob >"$WORK/fetch4.out" 2>"$WORK/fetch4.err" || rc=$?
check "--fetch-secret of a binary secret is refused (exit $rc)" \
	bash -c "[ $rc = 1 ] && [ ! -s '$WORK/fetch4.out' ] && grep -q 'binary' '$WORK/fetch4.err'"
rc=0
AWS_SECRET_ACCESS_KEY=wrong-secret-key "$SERVER" --fetch-secret app/db-password >"$WORK/fetch5.out" 2>"$WORK/fetch5.err" || rc=$?
check "--fetch-secret with a wrong key exits 1 with the signature error" \
	bash -c "[ $rc = 1 ] && grep -q InvalidSignatureException '$WORK/fetch5.err' && ! grep -q wrong-secret-key '$WORK/fetch5.err'"
rc=0
"$SERVER" --fetch-secret >/dev/null 2>"$WORK/fetch6.err" || rc=$?
check "--fetch-secret without a name is a usage error (exit $rc)" test "$rc" = 64

aws_finish
