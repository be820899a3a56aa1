# AWS helpers for integration tests, sourced after lib.sh: start tests/fixtures/aws-endpoint.mjs
# (emulators and doubles behind SigV4-verifying HTTPS fronts), point the standard AWS_*
# variables at it, seed its data, read its statistics and drive its control API. Below them,
# the frame the built-in servers' scripts share: set-up, the gateway config, running
# tests/node/mcp_calls.mjs and checking fields of its JSON lines (js/expect), request counts.

AWS_ENDPOINT_PID=""
AWS_ENDPOINT_LOG="$WORK/aws-endpoint.log"
AWS_JSON_LINE=""

aws_endpoint_stop() {
	[ -n "$AWS_ENDPOINT_PID" ] || return 0
	# Closing its stdin is the polite stop; the kill covers a wedged process.
	[ -n "${AWS_STDIN_FD:-}" ] && exec {AWS_STDIN_FD}>&- 2>/dev/null
	AWS_STDIN_FD=""
	for _ in $(seq 30); do kill -0 "$AWS_ENDPOINT_PID" 2>/dev/null || break; sleep 0.1; done
	kill -TERM "$AWS_ENDPOINT_PID" 2>/dev/null
	wait "$AWS_ENDPOINT_PID" 2>/dev/null
	AWS_ENDPOINT_PID=""
}

# lib.sh's trap only knows the appliance: stop the endpoint first, then its cleanup.
trap 'aws_endpoint_stop; cleanup' EXIT

# aws_endpoint_start [plain]: HTTPS fronts with a fresh certificate for 127.0.0.1 ("plain": HTTP).
aws_endpoint_start() {
	local tls_args=()
	if [ "${1:-}" != plain ]; then
		[ -f "$WORK/cert.pem" ] || make_cert
		tls_args=(--cert "$WORK/cert.pem" --key "$WORK/key.pem")
	fi
	local fifo="$WORK/aws-endpoint.stdin" out="$WORK/aws-endpoint.json"
	rm -f "$fifo" "$out"
	mkfifo "$fifo"
	"$NODE22" --openssl-legacy-provider --disable-warning=ExperimentalWarning "$SOURCE/tests/fixtures/aws-endpoint.mjs" "${tls_args[@]}" <"$fifo" >"$out" 2>"$AWS_ENDPOINT_LOG" &
	AWS_ENDPOINT_PID=$!
	# The write end stays open in this shell: when the test exits, the endpoint sees EOF.
	exec {AWS_STDIN_FD}>"$fifo"
	local deadline=$((SECONDS + 20))
	while [ $SECONDS -lt $deadline ]; do
		AWS_JSON_LINE=$(grep -m1 '^{.*}$' "$out" 2>/dev/null)
		[ -n "$AWS_JSON_LINE" ] && break
		kill -0 "$AWS_ENDPOINT_PID" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$AWS_JSON_LINE" ]; then
		echo "aws endpoint did not start; its log:"
		cat "$AWS_ENDPOINT_LOG"
		return 1
	fi
	# The JSON line becomes shell assignments (Node, not jq: Node is there whenever the tests are).
	eval "$(_aws_assign "$AWS_JSON_LINE" AWS_ACCESS_KEY_ID=access_key_id AWS_SECRET_ACCESS_KEY=secret_access_key \
		AWS_ENDPOINT_URL_S3=s3 AWS_ENDPOINT_URL_DYNAMODB=dynamodb AWS_ENDPOINT_URL_SQS=sqs \
		AWS_ENDPOINT_URL_LAMBDA=lambda AWS_ENDPOINT_URL_SECRETS_MANAGER=secretsmanager \
		AWS_ENDPOINT_URL_BEDROCK_RUNTIME=bedrock_runtime AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME=bedrock_agent_runtime \
		AWS_CONTROL_URL=control)" || return 1
	export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_DYNAMODB \
		AWS_ENDPOINT_URL_SQS AWS_ENDPOINT_URL_LAMBDA AWS_ENDPOINT_URL_SECRETS_MANAGER \
		AWS_ENDPOINT_URL_BEDROCK_RUNTIME AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME AWS_CONTROL_URL
	unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_DEFAULT_REGION
	export AWS_EC2_METADATA_DISABLED=true
	if [ "${1:-}" != plain ]; then export AWS_CA_BUNDLE="$WORK/cert.pem"; else unset AWS_CA_BUNDLE; fi
	return 0
}

# _aws_assign JSON VAR=key...: prints VAR='value' lines (single-quoted for eval) for top-level keys.
_aws_assign() {
	"$NODE22" -e '
const o = JSON.parse(process.argv[1]);
const Q = String.fromCharCode(39);
for (const a of process.argv.slice(2)) {
	const [v, k] = a.split("=");
	if (typeof o[k] !== "string") { console.error(`aws endpoint JSON has no ${k}`); process.exit(1); }
	console.log(v + "=" + Q + o[k].split(Q).join(Q + "\\" + Q + Q) + Q);
}' "$@"
}

# aws_json KEY...: reads JSON on stdin, prints the value at that path: strings as they are,
# numbers and the rest as JSON, nothing when absent.
aws_json() {
	"$NODE22" -e '
let v = JSON.parse(require("fs").readFileSync(0, "utf8"));
for (const k of process.argv.slice(1)) v = v == null ? undefined : v[k];
process.stdout.write(v == null ? "" : typeof v === "string" ? v : JSON.stringify(v));' "$@"
}

# aws_control METHOD PATH [JSON]: one call to the control API; prints the JSON answer.
aws_control() {
	local method=$1 path=$2 body=${3:-}
	if [ -n "$body" ]; then
		curl -s -m 10 -X "$method" -H 'Content-Type: application/json' --data-binary "$body" "$AWS_CONTROL_URL$path"
	else
		curl -s -m 10 -X "$method" "$AWS_CONTROL_URL$path"
	fi
}

# aws_stat SERVICE FIELD [KEY...]: a number from /stats, 0 when absent. Keys may hold dots
# (model ids), so each level is its own argument: aws_stat bedrock_runtime converse my.model
aws_stat() {
	aws_control GET /stats | "$NODE22" -e '
let v = JSON.parse(require("fs").readFileSync(0, "utf8"));
for (const k of process.argv.slice(1)) v = v == null ? undefined : v[k];
console.log(typeof v === "number" ? v : v == null ? 0 : Array.isArray(v) ? v.length : Object.keys(v).length);' "$@"
}

# aws_throttle SERVICE COUNT [throttle|5xx]
aws_throttle() {
	aws_control POST /throttle "{\"service\":\"$1\",\"count\":$2,\"kind\":\"${3:-throttle}\"}" >/dev/null
}

# aws_temp_credentials [KIND]: exports derived temporary credentials (ASIA key, secret, session
# token) that the fronts accept, in place of the long-term test key.
aws_temp_credentials() {
	local j
	j=$(aws_control GET "/credentials/temporary?kind=${1:-TEST}") || return 1
	eval "$(_aws_assign "$j" AWS_ACCESS_KEY_ID=AccessKeyId AWS_SECRET_ACCESS_KEY=SecretAccessKey \
		AWS_SESSION_TOKEN=SessionToken)" || return 1
	export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
}

# aws_seed: buckets, objects, tables, items and queues (see tests/fixtures/aws-seed.mjs), all
# created through the verifying fronts, signed with @smithy/signature-v4.
aws_seed() {
	"$NODE22" "$SOURCE/tests/fixtures/aws-seed.mjs"
}

# The endpoint's log, for a failing test's output.
aws_endpoint_log() { tail -n "${1:-40}" "$AWS_ENDPOINT_LOG" 2>/dev/null; }

# ---- the shared frame of the built-in servers' scripts (aws_data_s3.sh, aws_ops.sh, ...) ----

# aws_endpoint_up [plain]: aws_endpoint_start, or a not_ok line and the end of the test.
aws_endpoint_up() { aws_endpoint_start "$@" || { not_ok "aws endpoint starts"; finish; }; }

# aws_test_start NAME [seed]: Node 22 present, MCP_CALLS, SERVER (mcpgate-server-NAME), PORT,
# SCHEME=https, a certificate and the endpoint started ("seed": and seeded); stops the test
# with a not_ok line when any of it fails.
aws_test_start() {
	AWS_SERVER_NAME=$1
	require_node22
	MCP_CALLS="$SOURCE/tests/node/mcp_calls.mjs"
	SERVER="$BUILD/servers/mcpgate-server-$1"
	PORT=$(free_port)
	SCHEME=https
	make_cert
	aws_endpoint_up
	if [ "${2:-}" = seed ] && ! aws_seed >"$WORK/seed.json" 2>&1; then
		not_ok "aws endpoint seeded"
		cat "$WORK/seed.json"
		finish
	fi
	return 0
}

# aws_write_gateway SETTINGS [LOG_LEVEL] [AUTH_ROLES]: $WORK/gateway.json, TLS on $PORT with the
# one server AWS_SERVER_NAME and those settings. AUTH_ROLES is the "auth" and "roles" members
# (default: anonymous may call everything). NAME_SANDBOX_DEBUG=1 in the environment (e.g.
# OPS_SANDBOX_DEBUG) makes the sandbox log a forbidden system call instead of killing the server.
aws_write_gateway() {
	local settings=$1 level=${2:-info} debug_var="${AWS_SERVER_NAME^^}_SANDBOX_DEBUG" sandbox=""
	local auth_roles=${3:-'"auth": { "anonymous": true },
  "roles": { "anonymous": { "tools": ["*"], "prompts": ["*"], "resources": ["*"] } },'}
	[ -n "${!debug_var:-}" ] && sandbox=', "sandbox": { "debug": true }'
	cat >"$WORK/gateway.json" <<JSON
{
  "listen": [ { "address": "127.0.0.1:$PORT", "tls": true } ],
  "tls": { "certificate": "cert.pem", "key": "key.pem" },
  $auth_roles
  "servers": [ { "name": "$AWS_SERVER_NAME", "builtin": "$AWS_SERVER_NAME", "settings": $(cat "$settings") } ],
  "log": { "level": "$level" }$sandbox
}
JSON
}

# aws_start_gateway: the appliance from $WORK/gateway.json, one ok line, or not_ok and stop.
aws_start_gateway() {
	if ! start_appliance "$WORK/gateway.json"; then
		not_ok "appliance starts with the $AWS_SERVER_NAME server"
		aws_endpoint_log
		finish
	fi
	ok "appliance starts with the $AWS_SERVER_NAME server"
}

# aws_calls OUT [VAR=value...] [-- ARGS...]: tests/node/mcp_calls.mjs with ARGS (a URL, or
# --stdio SERVER --settings FILE) and its steps on stdin, trusting the test certificate; its
# JSON lines go to $WORK/OUT, its stderr to $WORK/OUT.err.
aws_calls() {
	local out=$1 envs=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	(cd "$WORK" && env NODE_EXTRA_CA_CERTS="$WORK/cert.pem" "${envs[@]}" timeout 100 \
		"$NODE22" "$MCP_CALLS" "$@") >"$WORK/$out" 2>"$WORK/$out.err"
}

# aws_run OUT TARGET [SETTINGS] [VAR=value...]: aws_calls with "@tool" in the steps standing
# for the target's name of the tool; TARGET gw (through the gateway, tools named NAME__tool)
# or stdio (the server standalone with SETTINGS, default $WORK/settings.json).
aws_run() {
	local out=$1 target=$2 settings=${3:-$WORK/settings.json} prefix="" args
	shift 2
	[ $# -gt 0 ] && shift
	if [ "$target" = gw ]; then
		prefix="${AWS_SERVER_NAME}__"
		args=("https://127.0.0.1:$PORT/mcp")
	else
		args=(--stdio "$SERVER" --settings "$settings")
	fi
	sed "s/\"@/\"$prefix/g" | aws_calls "$out" "$@" -- "${args[@]}"
}

# js OUT N EXPR: a JavaScript expression over line N (0: tools/list, 1..: the steps) of
# $WORK/OUT, with d the line, r its result, s the structured content, t all its text joined
# (only the first text item when JS_TEXT=first), p the progress messages joined; for s3_get:
# h its header line (parsed), b the item with the bytes, n the notice (or ""); seed(key) is
# the seeded object's bytes (a Buffer); other(OUT, N) the result on line N of another output.
js() {
	"$NODE22" --input-type=module -e '
		import fs from "node:fs";
		const [file, idx, expr, source, textMode] = process.argv.slice(1);
		const seedMod = expr.includes("seed(") ? await import(source + "/tests/fixtures/aws-seed.mjs") : null;
		const seed = (k) => seedMod.seedObjects().find((o) => o.key === k).body;
		const line = (f, i) => JSON.parse(fs.readFileSync(f, "utf8").trim().split("\n")[Number(i)]);
		const other = (out, i) => line(file.replace(/[^/]*$/, out), i).result ?? {};
		const d = line(file, idx);
		const r = d.result ?? {}, s = r.structuredContent ?? {}, c = r.content ?? [];
		const t = textMode === "first" ? c[0]?.text ?? "" : c.map((x) => x.text ?? "").join("\n");
		const p = (d.progress ?? []).map((x) => x.message ?? "").join("");
		let h = {};
		try { h = JSON.parse(c[0]?.text ?? "{}"); } catch { h = {}; }
		const b = c[1] ?? {}, n = c[2]?.text ?? "";
		const v = new Function("d", "r", "s", "t", "p", "h", "b", "n", "seed", "other", "Buffer",
			"return (" + expr + ");")(d, r, s, t, p, h, b, n, seed, other, Buffer);
		console.log(typeof v === "object" ? JSON.stringify(v) : String(v));' \
		"$WORK/$1" "$2" "$3" "$SOURCE" "${JS_TEXT:-all}" 2>&1
}

# expect OUT N EXPR WANT DESCRIPTION: ok when js OUT N EXPR prints WANT; otherwise not_ok with
# what it printed, the line and the client's stderr.
expect() {
	local got
	got=$(js "$1" "$2" "$3")
	if [ "$got" = "$4" ]; then
		ok "$5"
	else
		not_ok "$5 (got '${got:0:400}', want '$4')"
		sed -n "$(($2 + 1))p" "$WORK/$1" | cut -c1-800 | sed 's/^/#   /'
		sed -n '1,10p' "$WORK/$1.err" 2>/dev/null | sed 's/^/#   /'
	fi
}

# aws_last_result STEPS [VAR=value...] [-- ARGS...]: mcp_calls.mjs (ARGS: a URL, or --stdio
# SERVER ...) with the STEPS JSON array; prints its last line, the last step's result. Its
# stderr goes on $WORK/calls.err. VAR=value may also be env's -u VAR.
aws_last_result() {
	local steps=$1 envs=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	echo "$steps" | env "${envs[@]}" "$NODE22" "$SOURCE/tests/node/mcp_calls.mjs" "$@" 2>>"$WORK/calls.err" | tail -1
}

# aws_secrets_listed RESULT: a secret_list result that succeeded and names app/db-password.
aws_secrets_listed() { grep -q '"isError":false' <<<"$1" && grep -q 'app/db-password' <<<"$1"; }

# aws_requests SERVICE: every request the front saw for SERVICE, verified or refused; compare
# before and after to check that nothing reached AWS.
aws_requests() { echo $(($(aws_stat "$1" verified) + $(aws_stat "$1" refused))); }

# aws_check_attempts SERVICE THROTTLED VERIFIED DESCRIPTION: the front's counts since its reset.
aws_check_attempts() {
	check "$4" test "$(aws_stat "$1" throttled)" = "$2" -a "$(aws_stat "$1" verified)" = "$3"
}

# settings_error JSON PATTERN DESCRIPTION: SERVER refuses those settings, exiting non-zero
# with a message matching PATTERN.
settings_error() {
	echo "$1" >"$WORK/bad.json"
	timeout 10 "$SERVER" --settings "$WORK/bad.json" </dev/null >/dev/null 2>"$WORK/bad.err"
	local rc=$?
	if [ $rc -ne 0 ] && grep -q -- "$2" "$WORK/bad.err"; then
		ok "$3"
	else
		not_ok "$3 (exit $rc)"
		sed 's/^/#   /' "$WORK/bad.err" | head -5
	fi
}

# aws_check_started_once: the server under test was started once, never restarted.
aws_check_started_once() {
	check "the $AWS_SERVER_NAME server was never restarted" test \
		"$(grep -c '"event":"child_started".*"child":"[^"]*'"$AWS_SERVER_NAME" "$WORK/appliance.log")" = 1
}

# aws_check_no_secret_logged: the secret access key never reached the appliance's log.
aws_check_no_secret_logged() {
	if grep -qF -- "$AWS_SECRET_ACCESS_KEY" "$WORK/appliance.log"; then
		not_ok "no secret in the appliance log"
	else
		ok "no secret in the appliance log"
	fi
}

# aws_finish: finish, with the endpoint's log first when a check failed.
aws_finish() {
	[ "$FAILED" -ne 0 ] && { echo "--- aws endpoint log ---"; aws_endpoint_log 30; }
	finish
}
