# AWS helpers for integration tests, sourced after lib.sh: start tests/fixtures/aws-endpoint.mjs
# (emulators and doubles behind SigV4-verifying HTTPS fronts), point the standard AWS_*
# variables at it, seed its data, read its statistics and drive its control API.

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
