#!/usr/bin/env bash
# The data server's S3 tools against s3rver behind the SigV4-verifying front, with the official
# SDK client: the same round through the whole gateway (TLS) and standalone over stdio: s3_get
# (text, a byte range, a large text cut with a notice and read on with range_start, a binary
# object as a blob, keys with a space, UTF-8 and '+'), s3_list (prefix, delimiter, cursor
# pagination over many/ in three pages), s3_put then s3_get back (text and base64), a missing
# key and bucket. Then refusals made before any request (allowlists, read-only bucket, bad
# arguments), throttling retried and surfaced, a listing cut by a small result cap and paged
# with its own cursors, a wrong secret key, and settings errors.
# Usage: aws_data_s3.sh [BUILD]   (also run as a meson test)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/aws_lib.sh"
aws_test_start data seed

cat >"$WORK/settings.json" <<'JSON'
{ "s3": { "buckets": ["mcpgate-reports", "mcpgate-archive", "missing-*"], "write_buckets": ["mcpgate-reports"],
          "max_object_bytes": 1048576, "max_put_bytes": 4096 } }
JSON
aws_write_gateway "$WORK/settings.json"

requests() { aws_requests s3; }
# How many requests the S3 front saw whose path names this bucket.
bucket_requests() {
	aws_control GET /stats | jq --arg b "/$1" '[.s3.requests[] | select(.path | startswith($b))] | length'
}

aws_start_gateway

# round TARGET LABEL: every tool, the same way through either target.
round() {
	local target=$1 label=$2 f="$1-1"
	aws_run "$f" "$target" <<JSON
[
  {"tool": "@s3_get", "arguments": {"bucket": "mcpgate-reports", "key": "README.txt"}},
  {"tool": "@s3_get", "arguments": {"bucket": "mcpgate-reports", "key": "reports/2024-q1.csv", "range_start": 6, "max_bytes": 7}},
  {"tool": "@s3_get", "arguments": {"bucket": "mcpgate-reports", "key": "logs/big.txt"}},
  {"tool": "@s3_get", "arguments": {"bucket": "mcpgate-reports", "key": "data/blob.bin"}},
  {"tool": "@s3_get", "arguments": {"bucket": "mcpgate-reports", "key": "notes/hello world.txt"}},
  {"tool": "@s3_get", "arguments": {"bucket": "mcpgate-reports", "key": "notes/café+plus.txt"}},
  {"tool": "@s3_list", "arguments": {"bucket": "mcpgate-reports", "prefix": "many/", "limit": 10}},
  {"tool": "@s3_list", "arguments": {"bucket": "mcpgate-reports", "prefix": "notes/"}},
  {"tool": "@s3_list", "arguments": {"bucket": "mcpgate-reports", "delimiter": "/"}},
  {"tool": "@s3_put", "arguments": {"bucket": "mcpgate-reports", "key": "uploads/$label-hello wörld+1.txt", "body": "hello from $label\n", "content_type": "text/plain"}},
  {"tool": "@s3_get", "arguments": {"bucket": "mcpgate-reports", "key": "uploads/$label-hello wörld+1.txt"}},
  {"tool": "@s3_put", "arguments": {"bucket": "mcpgate-reports", "key": "uploads/$label-bin.dat", "body": "AAEC/f7/", "base64": true}},
  {"tool": "@s3_get", "arguments": {"bucket": "mcpgate-reports", "key": "uploads/$label-bin.dat"}},
  {"tool": "@s3_get", "arguments": {"bucket": "mcpgate-reports", "key": "no/such/key.txt"}},
  {"tool": "@s3_get", "arguments": {"bucket": "missing-bucket", "key": "README.txt"}},
  {"tool": "@s3_get", "arguments": {"bucket": "mcpgate-reports", "key": "README.txt", "range_start": 1000}},
  {"tool": "@s3_list", "arguments": {"bucket": "missing-bucket"}}
]
JSON
	if [ "$target" = gw ]; then
		expect $f 0 'JSON.stringify(d.tools.filter((n) => n.startsWith("data__s3_")).sort())' \
			'["data__s3_get","data__s3_list","data__s3_put"]' "tools/list through the gateway: the s3 tools"
		expect $f 0 '["data__s3_put","data__s3_list"].every((n) => d.schemas[n].outputSchema) && ["data__s3_get","data__s3_put","data__s3_list"].every((n) => d.schemas[n].inputSchema.additionalProperties === false)' \
			true "s3_put and s3_list declare an outputSchema; every input schema is closed"
	fi
	local readme="mcpgate test bucket: reports for the integration tests"
	expect $f 1 '[r.isError, h.size, h.content_type, h.encoding, h.range, h.next_range_start, b.text === seed("README.txt").toString(), r.content.length].join("|")' \
		"false|55|text/plain|text|bytes 0-54||true|2" "$label: s3_get README.txt: the text, with a header line (size, type, range)"
	expect $f 2 '[b.text, h.range, h.next_range_start, /^\[truncated: bytes 6-12 of 38 shown; call s3_get with range_start=13 for more\]$/.test(n)].join("|")' \
		"revenue|bytes 6-12|13|true" "$label: s3_get with range_start 6 and max_bytes 7: just those bytes, and how to read on"
	expect $f 3 '[h.size, h.encoding, b.text.length < 51200, b.text.length > 40000, h.next_range_start === Buffer.byteLength(b.text), /^\[truncated: bytes 0-\d+ of 71680 shown; call s3_get with range_start=\d+ for more\]$/.test(n)].join("|")' \
		"71680|text|true|true|true|true" "$label: a 70 KB text is cut under the 50 KB result cap with a notice naming range_start"
	expect $f 4 '[b.type, b.resource?.uri, b.resource?.mimeType, Buffer.from(b.resource?.blob ?? "", "base64").equals(seed("data/blob.bin")), h.encoding, h.size].join("|")' \
		"resource|s3://mcpgate-reports/data/blob.bin|application/octet-stream|true|base64|1024" \
		"$label: a binary object comes back as an embedded resource blob, byte for byte"
	expect $f 5 'b.text' "a key with a space" "$label: a key with a space"
	expect $f 6 '[b.text.trim(), h.key, h.content_type].join("|")' "a key with UTF-8 and a plus sign|notes/café+plus.txt|text/plain; charset=utf-8" \
		"$label: a key with UTF-8 and a plus sign"
	expect $f 7 '[r.isError, s.count, s.objects[0].key, s.objects[9].key, s.objects[0].size, s.next_cursor.startsWith("ct:")].join("|")' \
		"false|10|many/item-000.txt|many/item-009.txt|7|true" "$label: s3_list many/ with limit 10: the first page and a cursor"
	expect $f 8 'JSON.stringify(s.objects.map((o) => o.key)) + " " + s.next_cursor' '["notes/café+plus.txt","notes/hello world.txt"] null' \
		"$label: s3_list notes/: keys with a space, UTF-8 and '+' come back decoded"
	expect $f 9 '[s.objects.map((o) => o.key).join(","), ["data/","logs/","many/","notes/","reports/"].every((p) => s.common_prefixes.includes(p))].join("|")' \
		"README.txt|true" "$label: s3_list with delimiter /: README.txt and the common prefixes"
	expect $f 10 "[r.isError, s.bucket, s.key, s.size, /^\"[0-9a-f]{32}\"\$/.test(s.etag)].join('|')" \
		"false|mcpgate-reports|uploads/$label-hello wörld+1.txt|$((${#label} + 12))|true" "$label: s3_put writes text: bucket, key, size, etag"
	expect $f 11 '[b.text, h.content_type, h.etag === other("'$f'", 10).structuredContent.etag].join("|")' "hello from $label
|text/plain|true" "$label: s3_get reads the written text back (same etag)"
	expect $f 12 '[r.isError, s.size].join("|")' "false|6" "$label: s3_put with base64 writes 6 bytes"
	expect $f 13 '[b.type, b.resource?.blob, b.resource?.mimeType].join("|")' "resource|AAEC/f7/|application/octet-stream" \
		"$label: ...and they read back as the same blob"
	expect $f 14 'r.isError === true && t' \
		"s3_get: S3: NoSuchKey: The specified key does not exist. [bucket 'mcpgate-reports', key 'no/such/key.txt']" \
		"$label: a missing key: NoSuchKey naming the bucket and key"
	expect $f 15 'r.isError === true && /^s3_get: S3: NoSuchBucket: .*\[bucket .missing-bucket., key .README.txt.\]$/.test(t)' true \
		"$label: a missing bucket: NoSuchBucket naming it"
	expect $f 16 'r.isError === true && t' \
		"s3_get: range_start 1000 is beyond the end of the object: its size is 55 bytes, so range_start must be below 55 [bucket 'mcpgate-reports', key 'README.txt']" \
		"$label: range_start past the end: a clear error with the object's size"
	expect $f 17 'r.isError === true && /^s3_list: S3: NoSuchBucket: .*\[bucket .missing-bucket.\]$/.test(t)' true \
		"$label: s3_list on a missing bucket: NoSuchBucket"

	# The large text, read on from next_range_start to its end.
	local next
	next=$(js $f 3 'h.next_range_start')
	aws_run "$target-big2" "$target" <<JSON
[ {"tool": "@s3_get", "arguments": {"bucket": "mcpgate-reports", "key": "logs/big.txt", "range_start": $next}} ]
JSON
	expect "$target-big2" 1 "[h.next_range_start, n, h.range].join('|')" "||bytes $next-71679" \
		"$label: s3_get from range_start=$next reads the rest, no notice"
	expect "$target-big2" 1 'Buffer.from(other("'$f'", 3).content[1].text + b.text).equals(seed("logs/big.txt"))' true \
		"$label: ...and the two parts make the object exactly"

	# Pagination over many/: follow next_cursor to the end.
	local cursor pages=1 keys
	keys=$(js $f 7 's.objects.map((o) => o.key.slice(10, 13)).join(",")')
	cursor=$(js $f 7 's.next_cursor')
	while [ "$cursor" != null ] && [ -n "$cursor" ] && [ $pages -lt 6 ]; do
		pages=$((pages + 1))
		aws_run "$target-page$pages" "$target" <<JSON
[ {"tool": "@s3_list", "arguments": {"bucket": "mcpgate-reports", "prefix": "many/", "limit": 10, "cursor": "$cursor"}} ]
JSON
		keys="$keys,$(js "$target-page$pages" 1 's.objects.map((o) => o.key.slice(10, 13)).join(",")')"
		cursor=$(js "$target-page$pages" 1 's.next_cursor')
	done
	check "$label: the cursor pages through many/: 3 pages of 10, every item once" \
		test "$pages:$keys" = "3:$(seq -f '%03g' -s , 0 29)"
}

aws_control POST /reset >/dev/null
round gw gateway
check "gateway: every request was verified by the front, none refused" test "$(aws_stat s3 refused)" = 0

# ---- refusals before any request ----
before=$(requests)
aws_run refuse gw <<JSON
[
  {"tool": "@s3_get", "arguments": {"bucket": "not-allowed-bucket", "key": "secret.txt"}},
  {"tool": "@s3_list", "arguments": {"bucket": "not-allowed-bucket"}},
  {"tool": "@s3_put", "arguments": {"bucket": "not-allowed-bucket", "key": "x.txt", "body": "x"}},
  {"tool": "@s3_put", "arguments": {"bucket": "mcpgate-archive", "key": "x.txt", "body": "x"}},
  {"tool": "@s3_get", "arguments": {"bucket": "Bad_Bucket", "key": "x"}},
  {"tool": "@s3_get", "arguments": {"bucket": "mcpgate-reports", "key": "../not-allowed-bucket/secret.txt"}},
  {"tool": "@s3_get", "arguments": {"bucket": "mcpgate-reports", "key": "README.txt", "max_bytes": 2000000}},
  {"tool": "@s3_list", "arguments": {"bucket": "mcpgate-reports", "cursor": "not-a-cursor"}},
  {"tool": "@s3_put", "arguments": {"bucket": "mcpgate-reports", "key": "x.bin", "body": "not base64!", "base64": true}},
  {"tool": "@s3_put", "arguments": {"bucket": "mcpgate-reports", "key": "x.txt", "body": "x", "content_type": "text/plain\r\nX-Evil: 1"}},
  {"tool": "@s3_put", "arguments": {"bucket": "mcpgate-reports", "key": "big.txt", "body": "$(printf 'x%.0s' $(seq 5000))"}}
]
JSON
expect refuse 1 'r.isError === true && t' \
	"s3_get: bucket 'not-allowed-bucket' is not allowed by this server's settings (s3.buckets); no request was made" \
	"s3_get on a bucket outside the allowlist is refused"
expect refuse 2 'r.isError === true && /bucket .not-allowed-bucket. is not allowed .*s3.buckets.*no request was made/.test(t)' true \
	"s3_list on a bucket outside the allowlist is refused"
expect refuse 3 'r.isError === true && /not-allowed-bucket.*s3.write_buckets/.test(t)' true "s3_put outside both lists is refused"
expect refuse 4 'r.isError === true && t' \
	"s3_put: bucket 'mcpgate-archive' is not allowed by this server's settings (s3.write_buckets); no request was made" \
	"s3_put into a read-only bucket is refused (write_buckets)"
expect refuse 5 'r.isError === true && /bucket must be an S3 bucket name/.test(t)' true "an invalid bucket name is refused"
expect refuse 6 "r.isError === true && /must not have '.' or '..' path segments/.test(t)" true \
	"a key with a '..' segment is refused (it would reach another bucket)"
expect refuse 7 'r.isError === true && /max_bytes must be from 1 to 1048576 \(settings.s3.max_object_bytes\)/.test(t)' true \
	"max_bytes over max_object_bytes is refused"
expect refuse 8 'r.isError === true && /cursor: not a next_cursor from s3_list/.test(t)' true "a forged cursor is refused"
expect refuse 9 'r.isError === true && /body is not valid base64/.test(t)' true "a body that is not base64 is refused"
expect refuse 10 'r.isError === true && /content_type must be/.test(t)' true "a content_type with CR LF is refused"
expect refuse 11 'r.isError === true && /body is 5000 bytes; settings.s3.max_put_bytes allows 4096/.test(t)' true \
	"a body over max_put_bytes is refused"
check "...and the front saw no request for any of them" test "$(requests)" = "$before"
check "...none at all for not-allowed-bucket since the seed" test "$(bucket_requests not-allowed-bucket)" = 0

# ---- throttling ----
aws_control POST /reset >/dev/null
aws_throttle s3 2
aws_run throttle gw <<'JSON'
[ {"tool": "@s3_get", "arguments": {"bucket": "mcpgate-reports", "key": "README.txt"}} ]
JSON
expect throttle 1 '[r.isError, b.text.trim()].join("|")' "false|mcpgate test bucket: reports for the integration tests" \
	"s3_get throttled twice (SlowDown), then answered"
aws_check_attempts s3 2 3 "...the front counted 2 throttles and 3 attempts"
aws_control POST /reset >/dev/null
aws_throttle s3 10
aws_run throttle2 gw <<'JSON'
[ {"tool": "@s3_list", "arguments": {"bucket": "mcpgate-reports", "prefix": "many/"}} ]
JSON
expect throttle2 1 'r.isError === true && /^s3_list: S3: SlowDown: Please reduce your request rate.* \[bucket .mcpgate-reports.\] \(after 3 attempts\)$/.test(t)' true \
	"throttled more than the attempts allow: SlowDown surfaced"
check "...after 3 attempts" test "$(aws_stat s3 throttled)" = 3
aws_throttle s3 0
aws_check_started_once
stop_appliance

# ---- standalone over stdio ----
aws_control POST /reset >/dev/null
round stdio stdio

# A small result cap: a listing cut with an "after:" cursor, followed to the end.
cat >"$WORK/small.json" <<'JSON'
{ "result_cap_bytes": 1024, "s3": { "buckets": ["mcpgate-reports"] } }
JSON
aws_run small stdio "$WORK/small.json" <<'JSON'
[
  {"tool": "@s3_list", "arguments": {"bucket": "mcpgate-reports"}},
  {"tool": "@s3_list", "arguments": {"bucket": "mcpgate-reports", "delimiter": "/"}},
  {"tool": "@s3_get", "arguments": {"bucket": "mcpgate-reports", "key": "data/blob.bin"}}
]
JSON
expect small 1 '[r.isError, s.count >= 1, s.count < 20, /^\[truncated: \d+ of \d+ entries shown; call s3_list with cursor=next_cursor for more\]$/.test(s.notice), s.next_cursor.startsWith("after:"), r.content[0].text.length <= 1024].join("|")' \
	"false|true|true|true|true|true" "a listing over the 1 KB cap: trailing entries dropped, a notice, an after: cursor, within the cap"
seen=$(js small 1 's.objects.map((o) => o.key).join("\n")')
cursor=$(js small 1 's.next_cursor')
pages=1
while [ "$cursor" != null ] && [ -n "$cursor" ] && [ $pages -lt 60 ]; do
	pages=$((pages + 1))
	aws_run "small-page$pages" stdio "$WORK/small.json" <<JSON
[ {"tool": "@s3_list", "arguments": {"bucket": "mcpgate-reports", "cursor": "$cursor"}} ]
JSON
	seen="$seen
$(js "small-page$pages" 1 's.objects.map((o) => o.key).join("\n")')"
	cursor=$(js "small-page$pages" 1 's.next_cursor')
done
aws_run full stdio <<'JSON'
[ {"tool": "@s3_list", "arguments": {"bucket": "mcpgate-reports"}} ]
JSON
check "...following next_cursor reads every key once, in order ($pages pages)" \
	test "$seen" = "$(js full 1 's.objects.map((o) => o.key).join("\n")')" -a "$pages" -ge 3
expect small 2 '[s.objects.map((o) => o.key).join(","), s.common_prefixes.length, s.next_cursor === null || s.next_cursor.startsWith("after:")].join("|")' \
	"README.txt|6|true" "with a delimiter the rolled-up prefixes fit (or are cut with a cursor)"
expect small 3 '[b.type, Buffer.from(b.resource.blob, "base64").equals(seed("data/blob.bin").subarray(0, h.bytes)), h.next_range_start === h.bytes, /range_start=\d+ for more/.test(n), t.length + b.resource.blob.length <= 1024].join("|")' \
	"resource|true|true|true|true" "a binary object over the cap: the first bytes as a blob, and how to read on"

# A wrong secret key: the verifying front's signature error, as a tool error.
before=$(aws_stat s3 verified)
aws_run wrong stdio "$WORK/settings.json" AWS_SECRET_ACCESS_KEY="wrong$AWS_SECRET_ACCESS_KEY" <<'JSON'
[ {"tool": "@s3_get", "arguments": {"bucket": "mcpgate-reports", "key": "README.txt"}},
  {"tool": "@s3_put", "arguments": {"bucket": "mcpgate-reports", "key": "x.txt", "body": "x"}} ]
JSON
expect wrong 1 'r.isError === true && /^s3_get: S3: SignatureDoesNotMatch: .*\[bucket .mcpgate-reports., key .README.txt.\]$/.test(t)' true \
	"a wrong secret key: S3's SignatureDoesNotMatch as a tool error"
expect wrong 2 'r.isError === true && /^s3_put: S3: SignatureDoesNotMatch/.test(t)' true "...for s3_put too"
check "...refused by the front, nothing verified" \
	test "$(aws_stat s3 refused)" -ge 2 -a "$(aws_stat s3 verified)" = "$before"

# Settings errors stop the server and say where.
settings_error '{"s3": {"bucket": ["x"]}}' "settings.s3: unknown key 'bucket'" "settings: an unknown key in s3 stops the server, naming it"
settings_error '{"s3": {"max_object_bytes": 20000000}}' "settings.s3.max_object_bytes: must be an integer from 1 to 16777216" \
	"settings: max_object_bytes over 16 MiB is refused"
settings_error '{"s3": {"path_style": false}}' "settings.s3.path_style: virtual-hosted-style requests are not supported" \
	"settings: path_style false is refused (path-style only)"
settings_error '{"s3": []}' "settings.s3: must be an object" "settings: s3 must be an object"

# Without settings, nothing is allowed.
echo '{}' >"$WORK/empty.json"
aws_run empty stdio "$WORK/empty.json" <<'JSON'
[ {"tool": "@s3_get", "arguments": {"bucket": "mcpgate-reports", "key": "README.txt"}} ]
JSON
expect empty 1 'r.isError === true && /not allowed .*s3.buckets.*no request was made/.test(t)' true \
	"no settings: every bucket is refused"

aws_check_no_secret_logged
aws_finish
