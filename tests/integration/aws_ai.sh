#!/usr/bin/env bash
# The ai server's `ask` against the Bedrock Runtime double behind the SigV4-verifying front:
# through the whole gateway (TLS, SDK client): a streamed answer whose progress notifications
# arrive before the result and join to the answer, a non-streamed one, routing by keyword and
# by name, a cache hit the double never sees, refusals made before any request, throttling
# retried and then surfaced, a missing model, an exception event mid-stream, a cancellation
# mid-stream after which the server still answers; then standalone over stdio, with no
# specialists configured, and with a wrong secret key.
# Usage: aws_ai.sh [BUILD]   (also run as a meson test)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/aws_lib.sh"
aws_test_start ai

HAIKU="anthropic.claude-3-haiku-20240307-v1:0"
SQL_MODEL="arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0"
cat >"$WORK/ai-settings.json" <<JSON
{
  "specialists": [
    { "name": "general", "model": "$HAIKU", "description": "Anything else",
      "system": "You are a helpful generalist.", "max_tokens": 1024, "temperature": 0.2 },
    { "name": "sql", "model": "$SQL_MODEL", "description": "Databases",
      "system": "You are a SQL expert.", "max_tokens": 512, "max_question_bytes": 2000 },
    { "name": "busy", "model": "throttle-me", "system": "You are always busy." },
    { "name": "ghost", "model": "missing-model" }
  ],
  "routing": [ { "specialist": "sql", "keywords": ["sql", "query", "database"] } ],
  "default": "general",
  "cache": { "entries": 64, "ttl_seconds": 300 },
  "stream": true
}
JSON
# (AI_SANDBOX_DEBUG=1: the sandbox logs a forbidden system call instead of killing the server.)
aws_write_gateway "$WORK/ai-settings.json" debug

# gw_calls OUT / stdio_calls OUT ARGS...: the steps on stdin through the gateway or standalone.
gw_calls() { aws_calls "$1" -- "https://127.0.0.1:$PORT/mcp"; }
stdio_calls() { local out=$1; shift; aws_calls "$out" -- --stdio "$SERVER" "$@"; }
# For js: t is the answer, the first text item only.
JS_TEXT=first
stat() { aws_stat bedrock_runtime "$@"; }

aws_start_gateway

# ---- through the gateway ----
ANSWER_WEATHER="[$HAIKU] You are a helpful generalist. | What is the weather like on Mars today?"
gw_calls gw1 <<'JSON'
[
  {"tool": "ai__ask", "arguments": {"question": "What is the weather like on Mars today?"}, "progress": true},
  {"tool": "ai__ask", "arguments": {"question": "What is the weather like on Mars today?"}, "progress": true},
  {"tool": "ai__ask", "arguments": {"question": "Write a SQL query for the top customers", "stream": false}},
  {"tool": "ai__ask", "arguments": {"question": "Write a SQL query for the top customers", "specialist": "general", "stream": false}},
  {"tool": "ai__ask", "arguments": {"question": "mysql or sqlite?"}, "progress": true},
  {"tool": "ai__ask", "arguments": {"question": "hello", "specialist": "nobody"}},
  {"tool": "ai__ask", "arguments": {"question": "hello", "specialist": "sql", "max_tokens": 600}},
  {"tool": "ai__ask", "arguments": {"question": "hello", "specialist": "ghost"}},
  {"tool": "ai__ask", "arguments": {"question": "please STREAM-ERROR now"}, "progress": true}
]
JSON
expect gw1 0 'JSON.stringify(d.tools)' '["ai__ask"]' "tools/list through the gateway: ai__ask"
expect gw1 0 'd.schemas.ai__ask.outputSchema.required.includes("answer") && d.schemas.ai__ask.inputSchema.additionalProperties === false' \
	true "ask declares an outputSchema and a closed inputSchema"
# 1: streamed
expect gw1 1 'd.ok && !r.isError && s.answer' "$ANSWER_WEATHER" "streamed ask answers with the default specialist's model and system prompt"
expect gw1 1 '[s.specialist, s.model, s.routed_by, s.streamed, s.cached, s.stop_reason].join(" ")' \
	"general $HAIKU default true false end_turn" "streamed result: specialist, model, routed_by default, streamed, not cached"
expect gw1 1 'd.progress.length >= 3 && p === s.answer' true \
	"progress notifications arrived before the result and their messages join to the answer"
expect gw1 1 'd.progress.every((x, i, a) => i === 0 || x.progress > a[i - 1].progress) && d.progress.at(-1).progress === [...s.answer].length' \
	true "progress counts rise to the answer's length in characters"
expect gw1 1 's.usage.input_tokens > 0 && s.usage.output_tokens > 0 && s.usage.total_tokens === s.usage.input_tokens + s.usage.output_tokens' \
	true "usage from the stream's metadata event"
# 2: cache hit
expect gw1 2 '[s.answer === "'"$ANSWER_WEATHER"'", s.cached, s.streamed, d.progress.length, s.cache.hits >= 1].join(" ")' \
	"true true false 0 true" "the same ask again: served from the cache, not streamed"
# Streams on the default model: steps 1, 5 and 9; the repeat (2) never reached the double.
check "...and the double saw no ConverseStream call for the repeat" test "$(stat converse_stream "$HAIKU")" = 3
# 3: keyword route, not streamed
expect gw1 3 '[s.specialist, s.routed_by, s.streamed, s.cached, s.model].join(" ")' "sql rule:0 false false $SQL_MODEL" \
	"'SQL' routes to the sql specialist by rule 0, not streamed"
expect gw1 3 's.answer' "[$SQL_MODEL] You are a SQL expert. | Write a SQL query for the top customers" \
	"non-streamed answer from Converse (ARN model id through the verifying front)"
check "...one Converse call for the ARN model" test "$(stat converse "$SQL_MODEL")" = 1
# 4: explicit
expect gw1 4 '[s.specialist, s.routed_by].join(" ")' "general explicit" "an explicit specialist beats the routing rules"
# 5: whole words only
expect gw1 5 '[s.specialist, s.routed_by].join(" ")' "general default" "'mysql'/'sqlite' are not the keyword 'sql': default"
# 6, 7: refusals before any request
expect gw1 6 'r.isError === true && /specialist .nobody. is not allowed.*no request was made/.test(t)' true \
	"an unknown specialist is refused, no request made"
expect gw1 7 'r.isError === true && /max_tokens 600 is over .*512.*no request was made/.test(t)' true \
	"max_tokens over the specialist's limit is refused"
# Steps 1, 3, 4, 5, 8 and 9 each made one request; 2 (cached), 6 and 7 (refused) none.
check "...the double saw 6 requests in all: none for the cached or refused asks" \
	test "$(stat verified)" = 6 -a "$(stat converse_stream "$SQL_MODEL")" = 0 -a "$(stat refused)" = 0
# 8: missing model
expect gw1 8 'r.isError === true && /ResourceNotFoundException: Model not found.*specialist .ghost., model .missing-model./.test(t)' \
	true "a missing model: clear error naming the specialist and model"
# 9: exception mid-stream
expect gw1 9 'r.isError === true && /Bedrock Runtime: validationException: The stream failed on purpose/.test(t)' true \
	"an exception event mid-stream becomes a tool error naming it"
total_before=$(stat verified)

# Throttling: two injected throttles are retried away; throttle-me always throttles.
aws_throttle bedrock_runtime 2
gw_calls gw2 <<'JSON'
[
  {"tool": "ai__ask", "arguments": {"question": "Retry me please", "stream": false}},
  {"tool": "ai__ask", "arguments": {"question": "Are you busy?", "specialist": "busy"}, "progress": true}
]
JSON
expect gw2 1 '!r.isError && s.answer.endsWith("| Retry me please")' true "throttled twice, then answered"
check "...the double counted 2 throttles, and 3 + 3 attempts for the two asks" \
	test "$(stat throttled)" = 2 -a "$(( $(stat verified) - total_before ))" = 6
expect gw2 2 'r.isError === true && /ThrottlingException/.test(t) && /after 3 attempts/.test(t)' true \
	"a model that always throttles: retried, then ThrottlingException surfaced"
check "...three ConverseStream attempts for throttle-me" test "$(stat converse_stream throttle-me)" = 3

# Cancellation mid-stream (the double sends a delta every 100 ms), then the server still works.
gw_calls gw3 <<'JSON'
[
  {"tool": "ai__ask", "arguments": {"question": "Tell me a long story about databases and queries", "specialist": "general"}, "progress": true, "cancel_after_ms": 250},
  {"tool": "ai__ask", "arguments": {"question": "Still there after the cancel?"}, "progress": true}
]
JSON
expect gw3 1 'd.cancelled === true && d.progress.length >= 1' true "cancelled mid-stream, after some progress"
expect gw3 2 '!r.isError && s.streamed && p === s.answer' true "the server answers the next ask, streamed"
if wait_log '"event":"ai_ask_cancelled"' 1 5; then ok "the cancellation reached the ai server"; else not_ok "the cancellation reached the ai server"; fi
aws_check_started_once
stop_appliance

# ---- standalone over stdio ----
aws_control POST /reset >/dev/null
stdio_calls st1 --settings "$WORK/ai-settings.json" <<'JSON'
[
  {"tool": "ask", "arguments": {"question": "Which database should I use?"}, "progress": true},
  {"tool": "ask", "arguments": {"question": "Which database should I use?"}},
  {"tool": "ask", "arguments": {"question": "Tell me a joke", "stream": false}},
  {"tool": "ask", "arguments": {"question": "Tell me a joke", "stream": false, "no_cache": true}}
]
JSON
expect st1 1 '[s.specialist, s.routed_by, s.streamed, p === s.answer && d.progress.length >= 3].join(" ")' \
	"sql rule:0 true true" "stdio: streamed ask routed by keyword, progress joins to the answer"
expect st1 2 '[s.cached, s.streamed, s.cache.hits, s.cache.misses].join(" ")' "true false 1 1" \
	"stdio: the same ask is a cache hit (1 hit, 1 miss)"
expect st1 3 '[s.specialist, s.streamed, s.cached].join(" ")' "general false false" "stdio: non-streamed ask"
expect st1 4 '[s.cached, s.cache.hits].join(" ")' "false 1" "stdio: no_cache asks again"
check "stdio: the double saw 1 stream and 2 Converse calls" \
	test "$(stat converse_stream "$SQL_MODEL")" = 1 -a "$(stat converse "$HAIKU")" = 2

echo '{}' >"$WORK/empty-settings.json"
stdio_calls st2 --settings "$WORK/empty-settings.json" <<'JSON'
[ {"tool": "ask", "arguments": {"question": "anyone?"}} ]
JSON
expect st2 1 'r.isError === true && /settings.specialists is empty.*no request was made/.test(t)' true \
	"no specialists configured: refused, no request made"

# A small result cap: the answer is cut on a character boundary with a notice saying so.
cat >"$WORK/small-cap.json" <<JSON
{ "specialists": [ { "name": "general", "model": "$HAIKU", "system": "Long answers." } ],
  "result_cap_bytes": 4096, "cache": { "entries": 0 } }
JSON
LONG=$(printf 'ü%.0s' $(seq 2000))
printf '[{"tool": "ask", "arguments": {"question": "%s", "stream": false}}]' "$LONG" >"$WORK/long.json"
stdio_calls st4 --settings "$WORK/small-cap.json" <"$WORK/long.json"
expect st4 1 '[s.truncated, /\n\[truncated: \d+ of 4\d\d\d bytes shown; ask for a shorter answer/.test(s.answer), Buffer.byteLength(s.answer) < 3300, s.cache.misses].join(" ")' \
	"true true true 0" "stdio: an answer over result_cap_bytes is cut with a notice (cache off)"

# Bad settings: the server refuses to start and says which value is wrong.
echo '{"specialists": [{"name": "a", "model": "m"}], "routing": [{"specialist": "b", "keywords": ["x"]}]}' \
	>"$WORK/bad-settings.json"
"$SERVER" --settings "$WORK/bad-settings.json" </dev/null >/dev/null 2>"$WORK/bad-settings.err"
rc=$?
check "bad settings: the server exits ($rc) naming settings.routing[0].specialist" \
	test "$rc" -ne 0 -a "$(grep -c "settings.routing\[0\].specialist: unknown specialist 'b' (known: a)" "$WORK/bad-settings.err")" = 1

before=$(stat verified)
AWS_SECRET_ACCESS_KEY="wrong$AWS_SECRET_ACCESS_KEY" stdio_calls st3 --settings "$WORK/ai-settings.json" <<'JSON'
[ {"tool": "ask", "arguments": {"question": "signed wrongly", "stream": false}} ]
JSON
expect st3 1 'r.isError === true && /Bedrock Runtime: InvalidSignatureException/.test(t)' true \
	"a wrong secret key: the verifying front's signature error as a tool error"
check "...refused by the front, nothing verified" test "$(stat refused)" -ge 1 -a "$(stat verified)" = "$before"

aws_check_no_secret_logged
aws_finish
