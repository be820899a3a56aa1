#!/usr/bin/env bash
# The ops server (Lambda, SQS) against the test endpoint's Lambda double and fauxqs behind the
# SigV4-verifying fronts, with the official SDK client: the same round of calls through the
# whole gateway (TLS) and standalone over stdio: echo (plain, qualifier, full ARN), Event and
# DryRun invocations counted by the double, a failing function's error payload, a slow one and
# its cancellation, a big answer capped with a notice, an unknown function; SQS send / receive
# (long poll) / delete on "jobs" and "jobs.fifo" with group and dedup ids, an unknown queue,
# every answer's MD5 digests verified. Then refusals made before any request (allowlists, FIFO
# without group_id), throttling retried and surfaced, digests altered in transit (the endpoint's
# /corrupt) caught on send and on receive, a wrong secret key, and settings errors.
# Usage: aws_ops.sh [BUILD]   (also run as a meson test)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/aws_lib.sh"
aws_test_start ops seed

cat >"$WORK/settings.json" <<'JSON'
{
  "functions": ["echo", "fail", "slow", "big", "nope", "arn:aws:lambda:*:function:echo*"],
  "queues": ["jobs", "jobs.fifo", "no-such-queue"]
}
JSON
# (OPS_SANDBOX_DEBUG=1: the sandbox logs a forbidden system call instead of killing the server.)
aws_write_gateway "$WORK/settings.json"
aws_start_gateway
OPS_PID=$(child_pid mcpgate-server-ops)

# round TARGET LABEL: every tool, the same way through either target.
round() {
	local target=$1 label=$2 events_before
	events_before=$(aws_stat lambda invocations echo Event)
	aws_run "$target-1" "$target" <<JSON
[
  {"tool": "@lambda_invoke", "arguments": {"function": "echo", "payload": {"hello": "world", "n": 3}}},
  {"tool": "@lambda_invoke", "arguments": {"function": "echo", "qualifier": "live", "payload": "just text"}},
  {"tool": "@lambda_invoke", "arguments": {"function": "arn:aws:lambda:us-east-1:123456789012:function:echo:live", "payload": [1, 2]}},
  {"tool": "@lambda_invoke", "arguments": {"function": "echo", "asynchronous": true, "payload": {"job": "$label"}}},
  {"tool": "@lambda_invoke", "arguments": {"function": "echo", "dry_run": true}},
  {"tool": "@lambda_invoke", "arguments": {"function": "fail", "payload": {}}},
  {"tool": "@lambda_invoke", "arguments": {"function": "slow", "payload": {"slow": true}}},
  {"tool": "@lambda_invoke", "arguments": {"function": "big"}},
  {"tool": "@lambda_invoke", "arguments": {"function": "nope"}},
  {"tool": "@lambda_invoke", "arguments": {"function": "slow"}, "cancel_after_ms": 300},
  {"tool": "@lambda_invoke", "arguments": {"function": "echo", "payload": {"after": "cancel"}}},
  {"tool": "@sqs_send", "arguments": {"queue": "jobs", "body": "hello from $label", "attributes": {"kind": "test", "n": 7, "ratio": 0.25}}},
  {"tool": "@sqs_receive", "arguments": {"queue": "jobs", "max_messages": 10, "wait_seconds": 2}},
  {"tool": "@sqs_send", "arguments": {"queue": "jobs.fifo", "body": "fifo from $label", "group_id": "g-$label", "dedup_id": "d-$label"}},
  {"tool": "@sqs_send", "arguments": {"queue": "jobs.fifo", "body": "fifo again from $label", "group_id": "g-$label", "dedup_id": "d-$label"}},
  {"tool": "@sqs_receive", "arguments": {"queue": "jobs.fifo", "max_messages": 10, "visibility_timeout": 30}},
  {"tool": "@sqs_send", "arguments": {"queue": "no-such-queue", "body": "x"}}
]
JSON
	local f="$target-1"
	if [ "$target" = gw ]; then
		expect $f 0 'JSON.stringify(d.tools.slice().sort())' \
			'["ops__lambda_invoke","ops__sqs_delete","ops__sqs_receive","ops__sqs_send"]' "$label: tools/list shows the ops tools"
	else
		expect $f 0 'JSON.stringify(d.tools.slice().sort())' \
			'["lambda_invoke","sqs_delete","sqs_receive","sqs_send"]' "$label: tools/list shows the ops tools"
	fi
	expect $f 0 'Object.values(d.schemas).every((x) => x.outputSchema && x.inputSchema.additionalProperties === false)' \
		true "$label: every tool has an outputSchema and a closed inputSchema"
	expect $f 1 'd.ok && !r.isError && JSON.stringify(s)' \
		'{"status":200,"executed_version":"$LATEST","function_error":null,"payload":{"hello":"world","n":3}}' \
		"$label: echo answers its payload as JSON"
	expect $f 2 's.executed_version + " " + s.payload' '1 just text' "$label: qualifier 'live' runs version 1"
	expect $f 3 's.executed_version + " " + JSON.stringify(s.payload)' '1 [1,2]' "$label: a full ARN with its qualifier"
	expect $f 4 'JSON.stringify(s)' '{"status":202,"queued":true}' "$label: asynchronous is an Event invocation (202, queued)"
	check "$label: the double counted one more Event invocation of echo" \
		test "$(aws_stat lambda invocations echo Event)" = $((events_before + 1))
	expect $f 5 'JSON.stringify(s)' '{"status":204,"dry_run":true}' "$label: dry_run (204)"
	expect $f 6 'd.ok && r.isError && s.function_error' 'Unhandled' "$label: a failing function is a tool error (Unhandled)"
	expect $f 6 '/fail.*ran and failed \(Unhandled\): Error: boom/.test(t) && s.payload.errorMessage' 'boom' \
		"$label: the error shows the function's errorType and errorMessage"
	expect $f 7 'd.ok && s.payload.slow === true && d.ms >= 1900' true "$label: the slow function answers after 2 s"
	expect $f 8 'd.ok && /^\[truncated: \d+ of \d+ bytes shown/.test(s.truncated) && typeof s.payload.text' string \
		"$label: the big answer is cut, with a notice"
	expect $f 8 'Buffer.byteLength(r.content[0].text) <= 51200 && s.payload.text.startsWith("{\"items\":[")' true \
		"$label: the big answer stays within the 50 KB cap"
	expect $f 9 'r.isError && /ResourceNotFoundException/.test(t) && /function .nope. does not exist/.test(t)' true \
		"$label: an unknown function's error names it"
	expect $f 10 'd.cancelled && !d.ok' true "$label: a slow call is cancelled"
	expect $f 11 'd.ok && s.payload.after' cancel "$label: the server answers after a cancellation"
	expect $f 12 'd.ok && typeof s.message_id' string "$label: sqs_send to jobs gives a message_id"
	expect $f 12 's.integrity' ok "$label: sqs_send verified SQS's body and attribute digests (integrity ok)"
	expect $f 13 'JSON.stringify(s.messages.map((m) => [m.body, m.attributes]))' \
		"[[\"hello from $label\",{\"kind\":\"test\",\"n\":7,\"ratio\":0.25}]]" \
		"$label: sqs_receive gets the message and its attributes back"
	expect $f 13 's.messages[0].message_id' "$(js $f 12 's.message_id')" "$label: the received message is the one sent"
	expect $f 13 'JSON.stringify(s.messages.map((m) => m.integrity)) + " " + s.notice' '["ok"] undefined' \
		"$label: sqs_receive verified the message's body and attribute digests (integrity ok)"
	expect $f 14 'typeof s.sequence_number' string "$label: FIFO send gives a sequence_number"
	expect $f 15 'JSON.stringify([s.message_id, s.sequence_number])' \
		"$(js $f 14 'JSON.stringify([s.message_id, s.sequence_number])')" "$label: the same dedup_id is deduplicated"
	expect $f 15 's.integrity' ok "$label: a deduplicated send's digests are those of what was sent (integrity ok)"
	expect $f 16 'JSON.stringify(s.messages.map((m) => [m.body, m.system_attributes.MessageGroupId, m.system_attributes.MessageDeduplicationId]))' \
		"[[\"fifo from $label\",\"g-$label\",\"d-$label\"]]" "$label: FIFO receive with its group and dedup ids"
	expect $f 16 'JSON.stringify(s.messages.map((m) => m.integrity))' '["ok"]' "$label: FIFO receive verified (integrity ok)"
	expect $f 17 'r.isError && /QueueDoesNotExist/.test(t) && /queue .no-such-queue. does not exist/.test(t)' true \
		"$label: an unknown queue's error names it"

	local h1 h2
	h1=$(js $f 13 's.messages[0].receipt_handle')
	h2=$(js $f 16 's.messages[0].receipt_handle')
	aws_run "$target-2" "$target" <<JSON
[
  {"tool": "@sqs_delete", "arguments": {"queue": "jobs", "receipt_handle": "$h1"}},
  {"tool": "@sqs_delete", "arguments": {"queue": "jobs.fifo", "receipt_handle": "$h2"}},
  {"tool": "@sqs_receive", "arguments": {"queue": "jobs", "max_messages": 10, "wait_seconds": 2, "visibility_timeout": 0}},
  {"tool": "@sqs_receive", "arguments": {"queue": "jobs.fifo", "max_messages": 10, "visibility_timeout": 0}}
]
JSON
	f="$target-2"
	expect $f 1 'JSON.stringify(s)' '{"deleted":true}' "$label: sqs_delete on jobs"
	expect $f 2 'JSON.stringify(s)' '{"deleted":true}' "$label: sqs_delete on jobs.fifo"
	expect $f 3 'JSON.stringify(s.messages) + " " + (d.ms >= 1900)' '[] true' \
		"$label: after the delete jobs is empty; the long poll waited its 2 s"
	expect $f 4 'JSON.stringify(s.messages)' '[]' "$label: after the delete jobs.fifo is empty"
}

# ---- through the gateway ----
round gw gateway

# Refusals: nothing reaches AWS.
lambda_before=$(aws_requests lambda)
sqs_before=$(aws_requests sqs)
aws_run gw-refusals gw <<'JSON'
[
  {"tool": "@lambda_invoke", "arguments": {"function": "secret-fn"}},
  {"tool": "@lambda_invoke", "arguments": {"function": "arn:aws:lambda:us-east-1:123456789012:function:secret-fn"}},
  {"tool": "@sqs_send", "arguments": {"queue": "other-queue", "body": "x"}},
  {"tool": "@sqs_receive", "arguments": {"queue": "other-queue"}},
  {"tool": "@sqs_send", "arguments": {"queue": "jobs.fifo", "body": "no group"}},
  {"tool": "@sqs_send", "arguments": {"queue": "jobs", "body": "x", "dedup_id": "d"}},
  {"tool": "@sqs_send", "arguments": {"queue": "https://sqs.us-east-1.amazonaws.com/123456789012/jobs", "body": "x"}},
  {"tool": "@lambda_invoke", "arguments": {"function": "echo", "qualifier": "a/b"}},
  {"tool": "@sqs_send", "arguments": {"queue": "jobs", "body": "x", "attributes": {"AWS.trace": "t"}}},
  {"tool": "@sqs_delete", "arguments": {"queue": "jobs", "receipt_handle": "not a handle"}}
]
JSON
expect gw-refusals 1 'r.isError && t' \
	"lambda_invoke: function 'secret-fn' is not allowed by this server's settings (functions); no request was made" \
	"refused: a function outside the allowlist"
expect gw-refusals 2 'r.isError && /not allowed.*no request was made/.test(t)' true "refused: another function's ARN"
expect gw-refusals 3 'r.isError && t' \
	"sqs_send: queue 'other-queue' is not allowed by this server's settings (queues); no request was made" \
	"refused: a queue outside the allowlist (send)"
expect gw-refusals 4 'r.isError && /other-queue.*not allowed/.test(t)' true "refused: a queue outside the allowlist (receive)"
expect gw-refusals 5 'r.isError && /FIFO queue .* needs group_id.*no request was made/.test(t)' true \
	"refused: a FIFO send without group_id"
expect gw-refusals 6 'r.isError && /dedup_id applies to FIFO queues/.test(t)' true "refused: dedup_id on a standard queue"
expect gw-refusals 7 'r.isError && /queue NAME \(not its URL\)/.test(t)' true "refused: a queue URL for a name"
expect gw-refusals 8 'r.isError && /qualifier must be/.test(t)' true "refused: a malformed qualifier"
expect gw-refusals 9 'r.isError && /AWS\.trace. is not valid/.test(t)' true "refused: a reserved attribute name"
expect gw-refusals 10 'r.isError && /receipt_handle must be/.test(t)' true "refused: a malformed receipt handle"
check "no request reached Lambda for the refusals ($lambda_before -> $(aws_requests lambda))" \
	test "$(aws_requests lambda)" = "$lambda_before"
check "no request reached SQS for the refusals ($sqs_before -> $(aws_requests sqs))" test "$(aws_requests sqs)" = "$sqs_before"
check "the refusals are logged" grep -q '"event":"aws_refused".*"name":"secret-fn"' "$WORK/appliance.log"

# Throttling: two throttles are retried away; five outlast the three attempts.
lambda_throttled=$(aws_stat lambda throttled)
lambda_verified=$(aws_stat lambda verified)
sqs_throttled=$(aws_stat sqs throttled)
sqs_verified=$(aws_stat sqs verified)
aws_throttle lambda 2
aws_run gw-throttle1 gw <<'JSON'
[ {"tool": "@lambda_invoke", "arguments": {"function": "echo", "payload": {"through": "throttles"}}} ]
JSON
aws_throttle sqs 2
aws_run gw-throttle2 gw <<'JSON'
[ {"tool": "@sqs_send", "arguments": {"queue": "jobs", "body": "through throttles"}} ]
JSON
expect gw-throttle1 1 'd.ok && !r.isError && s.payload.through' throttles "Lambda: two throttles retried, the call succeeds"
check "Lambda: the double throttled 2 and saw 3 attempts" \
	test "$(aws_stat lambda throttled)" = $((lambda_throttled + 2)) -a "$(aws_stat lambda verified)" = $((lambda_verified + 3))
expect gw-throttle2 1 'd.ok && !r.isError && typeof s.message_id' string "SQS: two throttles retried, the send succeeds"
check "SQS: the double throttled 2 and saw 3 attempts (queue URL cached)" \
	test "$(aws_stat sqs throttled)" = $((sqs_throttled + 2)) -a "$(aws_stat sqs verified)" = $((sqs_verified + 3))
aws_throttle lambda 5
aws_run gw-throttle3 gw <<'JSON'
[ {"tool": "@lambda_invoke", "arguments": {"function": "echo"}} ]
JSON
aws_throttle lambda 0
aws_throttle sqs 5
aws_run gw-throttle4 gw <<'JSON'
[ {"tool": "@sqs_receive", "arguments": {"queue": "jobs"}} ]
JSON
aws_throttle sqs 0
expect gw-throttle3 1 'r.isError && /Lambda: TooManyRequestsException: Rate Exceeded.*after 3 attempts/.test(t)' true \
	"Lambda: more throttles than attempts surface as TooManyRequestsException"
expect gw-throttle4 1 'r.isError && /SQS: ThrottlingException: Rate exceeded.*after 3 attempts/.test(t)' true \
	"SQS: more throttles than attempts surface as ThrottlingException"
# Digests altered on the way back (the endpoint changes one digit of the next answer's
# MD5OfMessageBody / MD5OfBody): a send is a tool error and is not sent again; a received
# message is kept, marked, and the notice says so; received again, it verifies.
sqs_before=$(aws_requests sqs)
aws_control POST /corrupt '{"service":"sqs","count":1}' >/dev/null
aws_run gw-corrupt-send gw <<'JSON'
[ {"tool": "@sqs_send", "arguments": {"queue": "jobs", "body": "altered on the way back"}} ]
JSON
sent_md5=$(printf %s "altered on the way back" | md5sum | cut -c1-32)
expect gw-corrupt-send 1 'r.isError && /^sqs_send: SQS: MD5 of the message body does not match \(sent ([0-9a-f]{32}), SQS computed (?!\1)[0-9a-f]{32}\); the message may be on the queue .jobs. \(message_id [^)]+\)/.test(t) && t.match(/sent ([0-9a-f]{32})/)[1]' \
	"$sent_md5" "a send whose MD5OfMessageBody was altered is a tool error naming both digests"
check "the altered send was made once, not retried ($sqs_before -> $(aws_requests sqs))" \
	test "$(aws_requests sqs)" = $((sqs_before + 1)) -a "$(aws_stat sqs corrupted)" = 1
check "the mismatch is logged without the body" bash -c "grep -q '\"event\":\"sqs_digest_mismatch\".*\"tool\":\"sqs_send\"' '$WORK/appliance.log' && ! grep -q 'altered on the way back' '$WORK/appliance.log'"
aws_control POST /corrupt '{"service":"sqs","count":1}' >/dev/null
aws_run gw-corrupt-receive gw <<'JSON'
[
  {"tool": "@sqs_receive", "arguments": {"queue": "jobs", "max_messages": 10, "wait_seconds": 1, "visibility_timeout": 0}},
  {"tool": "@sqs_receive", "arguments": {"queue": "jobs", "max_messages": 10, "wait_seconds": 1, "visibility_timeout": 60}}
]
JSON
expect gw-corrupt-receive 1 'd.ok && !r.isError && s.messages.filter((m) => m.integrity === "mismatch").length + " " + s.messages.filter((m) => m.integrity === "ok").length' \
	"1 $(($(js gw-corrupt-receive 1 's.messages.length') - 1))" "a received message whose MD5OfBody was altered is kept, marked mismatch; the others verify"
expect gw-corrupt-receive 1 '/^MD5 of the body does not match \(SQS sent [0-9a-f]{32}, what arrived hashes to [0-9a-f]{32}\)$/.test(s.messages.find((m) => m.integrity === "mismatch").integrity_detail)' \
	true "the mismatching message says which digest"
expect gw-corrupt-receive 1 "/^\\[integrity: 1 of \\d+ messages do not match the MD5 digests SQS sent/.test(s.notice)" true \
	"the notice mentions the mismatch"
expect gw-corrupt-receive 1 's.messages.some((m) => m.body === "altered on the way back")' true \
	"the send that was reported as altered did reach the queue"
expect gw-corrupt-receive 2 'JSON.stringify([...new Set(s.messages.map((m) => m.integrity))]) + " " + s.messages.length + " " + s.notice' \
	"[\"ok\"] $(js gw-corrupt-receive 1 's.messages.length') undefined" "received again, every message verifies"
# Delete what the throttled and altered sends put on jobs, so the standalone round starts empty.
js gw-corrupt-receive 2 's.messages.map((m) => ({tool: "@sqs_delete", arguments: {queue: "jobs", receipt_handle: m.receipt_handle}}))' |
	aws_run gw-drain gw
expect gw-drain "$(js gw-corrupt-receive 2 's.messages.length')" 'JSON.stringify(s)' '{"deleted":true}' "jobs drained"
check "the ops server ran throughout: same process ($OPS_PID)" test "$(child_pid mcpgate-server-ops)" = "$OPS_PID"
stop_appliance

# ---- standalone over stdio ----
round stdio standalone

# A wrong secret: the verifying front's signature error comes back as the tool error.
lambda_refused=$(aws_stat lambda refused)
aws_run stdio-wrong stdio "" AWS_SECRET_ACCESS_KEY=wrong-secret-key <<'JSON'
[
  {"tool": "@lambda_invoke", "arguments": {"function": "echo"}},
  {"tool": "@sqs_send", "arguments": {"queue": "jobs", "body": "x"}}
]
JSON
expect stdio-wrong 1 'r.isError && /Lambda: InvalidSignatureException: The request signature we calculated does not match/.test(t)' \
	true "wrong secret: Lambda's signature error is the tool error"
expect stdio-wrong 2 'r.isError && /SQS: InvalidSignatureException/.test(t) && /queue .jobs./.test(t)' \
	true "wrong secret: SQS's signature error is the tool error"
check "wrong secret: the Lambda front refused it" test "$(aws_stat lambda refused)" -gt "$lambda_refused"
check "wrong secret: the secret is not in the server's log" bash -c "! grep -q wrong-secret-key '$WORK/stdio-wrong.err'"

# Settings: strict keys, bounded numbers.
settings_error '{"functions": ["echo"], "queue": ["jobs"]}' "unknown key 'queue'" \
	"settings: an unknown key stops the server, naming it"
settings_error '{"max_payload_bytes": 0}' 'settings.max_payload_bytes' "settings: max_payload_bytes out of range stops the server"

# A small payload limit is enforced before any request.
echo '{"functions": ["echo"], "queues": ["jobs"], "max_payload_bytes": 16}' >"$WORK/small.json"
lambda_before=$(aws_requests lambda)
sqs_before=$(aws_requests sqs)
aws_calls small -- --stdio "$SERVER" --settings "$WORK/small.json" <<'JSON'
[
  {"tool": "lambda_invoke", "arguments": {"function": "echo", "payload": {"this payload": "is longer than sixteen bytes"}}},
  {"tool": "sqs_send", "arguments": {"queue": "jobs", "body": "a body of more than sixteen bytes"}}
]
JSON
expect small 1 'r.isError && /payload is \d+ bytes as JSON; this server sends at most 16 \(settings.max_payload_bytes\)/.test(t)' \
	true "max_payload_bytes: a large Lambda payload is refused"
expect small 2 'r.isError && /message is \d+ bytes.*at most 16/.test(t)' true "max_payload_bytes: a large SQS message is refused"
check "max_payload_bytes: no request was made" \
	test "$(aws_requests lambda)" = "$lambda_before" -a "$(aws_requests sqs)" = "$sqs_before"

# Names match name patterns and ARNs ARN patterns: "*cho" must not let an ARN of another
# account through ('*' would match its colons); an ARN pattern allows exactly its ARNs.
echo '{"functions": ["*cho", "arn:aws:lambda:us-east-1:000000000000:function:ec*"]}' >"$WORK/arn.json"
lambda_before=$(aws_requests lambda)
aws_calls arn -- --stdio "$SERVER" --settings "$WORK/arn.json" <<'JSON'
[
  {"tool": "lambda_invoke", "arguments": {"function": "arn:aws:lambda:us-east-1:999999999999:function:echo"}},
  {"tool": "lambda_invoke", "arguments": {"function": "echo", "payload": {"n": 1}}},
  {"tool": "lambda_invoke", "arguments": {"function": "arn:aws:lambda:us-east-1:000000000000:function:echo", "payload": {"n": 2}}}
]
JSON
expect arn 1 'r.isError && /function .arn:aws:lambda:us-east-1:999999999999:function:echo. is not allowed/.test(t)' true \
	"an ARN of another account is not matched by a name pattern"
expect arn 2 '!r.isError && s.payload.n === 1' true "a bare name matches the name pattern"
expect arn 3 '!r.isError && s.payload.n === 2' true "an ARN matches the ARN pattern"
check "only the two allowed invocations reached Lambda" test "$(aws_requests lambda)" -eq $((lambda_before + 2))

aws_finish
