#!/usr/bin/env bash
# The data server's DynamoDB and knowledge-base tools against dynalite and the Bedrock Agent
# Runtime double behind the SigV4-verifying fronts, with the official SDK client: the same round
# through the whole gateway (TLS) and standalone over stdio: get (found, missing, projection),
# put (conditional, then the condition failing), query (key condition, names, descending order,
# pagination with the cursor over three pages), kb_search (bounded text, its cursor, an unknown
# knowledge base), a missing table. Then refusals made before any request (allowlists, limit
# over max_items), throttling retried and surfaced, a page over the result cap cut with a cursor
# (DescribeTable once), an item over the cap, a wrong secret key, and settings errors.
# Usage: aws_data_dynamo.sh [BUILD]   (also run as a meson test)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/aws_lib.sh"
aws_test_start data seed

cat >"$WORK/settings.json" <<'JSON'
{
  "dynamodb": { "tables": ["orders", "orders-archive", "missing-*"], "write_tables": ["orders"],
                "max_items": 50 },
  "knowledge_bases": { "ids": ["KB12345678", "KB9*"], "max_results": 5, "max_text_bytes": 80 }
}
JSON
aws_write_gateway "$WORK/settings.json"

# targets SERVICE TARGET: how many requests to SERVICE the front saw with this X-Amz-Target.
targets() {
	aws_control GET /stats | jq --arg s "$1" --arg t "$2" '[.[$s].requests[] | select(.target == $t)] | length'
}

aws_start_gateway

# round TARGET LABEL: every tool, the same way through either target.
round() {
	local target=$1 label=$2 f
	aws_run "$target-1" "$target" <<JSON
[
  {"tool": "@dynamo_get", "arguments": {"table": "orders", "key": {"customer": "alice", "order_id": "o-001"}, "consistent_read": true}},
  {"tool": "@dynamo_get", "arguments": {"table": "orders", "key": {"customer": "alice", "order_id": "o-999"}}},
  {"tool": "@dynamo_put", "arguments": {"table": "orders", "condition": "attribute_not_exists(customer)",
     "item": {"customer": "dave-$label", "order_id": "o-100", "total": 12, "price": 1.25, "gift": true, "note": null,
              "tags": ["a", 1, false, null, [2.5]], "meta": {"nested": {"x": "y"}}, "blob": {"\$binary": "AAECAw=="}}}},
  {"tool": "@dynamo_put", "arguments": {"table": "orders", "condition": "attribute_not_exists(customer)",
     "item": {"customer": "dave-$label", "order_id": "o-100", "total": 13}}},
  {"tool": "@dynamo_get", "arguments": {"table": "orders", "key": {"customer": "dave-$label", "order_id": "o-100"}}},
  {"tool": "@dynamo_get", "arguments": {"table": "orders", "key": {"customer": "alice", "order_id": "o-002"}, "attributes": ["total", "status"]}},
  {"tool": "@dynamo_query", "arguments": {"table": "orders", "key_condition": "#c = :c AND begins_with(order_id, :p)",
     "names": {"#c": "customer"}, "values": {":c": "bob", ":p": "o-00"}, "scan_forward": false}},
  {"tool": "@dynamo_query", "arguments": {"table": "orders", "key_condition": "customer = :c", "values": {":c": "alice"}, "limit": 2}},
  {"tool": "@kb_search", "arguments": {"knowledge_base": "KB12345678", "query": "how do refunds of a payment work", "top_k": 2}},
  {"tool": "@kb_search", "arguments": {"knowledge_base": "KB99999999", "query": "anything"}},
  {"tool": "@dynamo_get", "arguments": {"table": "missing-table", "key": {"id": "x"}}},
  {"tool": "@dynamo_query", "arguments": {"table": "missing-table", "key_condition": "id = :i", "values": {":i": "x"}}}
]
JSON
	f="$target-1"
	if [ "$target" = gw ]; then
		expect $f 0 'JSON.stringify(d.tools.filter((n) => !n.startsWith("data__s3_")).sort())' \
			'["data__dynamo_get","data__dynamo_put","data__dynamo_query","data__kb_search"]' \
			"tools/list through the gateway: the dynamo and kb tools"
		expect $f 0 '["data__dynamo_get","data__dynamo_put","data__dynamo_query","data__kb_search"].every((n) => d.schemas[n].outputSchema && d.schemas[n].inputSchema.additionalProperties === false)' \
			true "each declares an outputSchema and a closed inputSchema"
	fi
	expect $f 1 '!r.isError && JSON.stringify(s.item)' \
		'{"customer":"alice","order_id":"o-001","total":10.5,"status":"pending","items":["sku-1","sku-common"],"created":"2024-01-01T10:00:00Z"}' \
		"$label: dynamo_get returns the seeded item as plain JSON (number, list)"
	expect $f 2 '[r.isError, s.item, /no item with this key in table .orders./.test(t)].join(" ")' "false  true" \
		"$label: a missing item is no error: item null, and the text says so"
	expect $f 3 '!r.isError && s.ok' true "$label: dynamo_put with attribute_not_exists writes a new item"
	expect $f 4 'r.isError === true && /DynamoDB: ConditionalCheckFailedException.*table .orders.: the condition was false, so the item was not written/.test(t)' \
		true "$label: the same put again: the condition fails, a clear tool error"
	expect $f 5 'JSON.stringify(s.item)' \
		"{\"customer\":\"dave-$label\",\"order_id\":\"o-100\",\"total\":12,\"price\":1.25,\"gift\":true,\"note\":null,\"tags\":[\"a\",1,false,null,[2.5]],\"meta\":{\"nested\":{\"x\":\"y\"}},\"blob\":{\"\$binary\":\"AAECAw==\"}}" \
		"$label: the item reads back exactly (numbers, bool, null, list, map, binary), the failed put changed nothing"
	expect $f 6 'JSON.stringify(s.item)' '{"total":20.5,"status":"delivered"}' "$label: attributes projects the item"
	expect $f 7 '[s.count, s.items.map((i) => i.order_id).join(","), s.next_cursor].join(" ")' "4 o-009,o-008,o-007,o-006 " \
		"$label: query with names, begins_with and scan_forward false: bob's 4 orders descending, no cursor"
	expect $f 8 '[s.count, s.items.map((i) => i.order_id).join(","), typeof s.next_cursor].join(" ")' "2 o-001,o-002 string" \
		"$label: query with limit 2: the first page and a cursor"
	expect $f 9 '[r.isError, s.count, s.results[0].source, s.results[0].score > 0, s.results[0].truncated, s.results[0].text_bytes > 80, s.results[0].text.length <= 80, typeof s.next_cursor].join(" ")' \
		"false 2 s3://mcpgate-kb/docs/refund-policy.md true true true true string" \
		"$label: kb_search: refund policy first (S3 source, score), text cut to max_text_bytes and marked, a cursor"
	expect $f 9 's.results[0].metadata["x-amz-bedrock-kb-chunk-id"]' "chunk-1" "$label: kb_search: metadata comes along"
	expect $f 10 'r.isError === true && /Bedrock Agent Runtime: ResourceNotFoundException.*knowledge base .KB99999999. was not found/.test(t)' \
		true "$label: an unknown knowledge base: clear error naming it"
	expect $f 11 'r.isError === true && /DynamoDB: ResourceNotFoundException.*table .missing-table. was not found/.test(t)' \
		true "$label: a missing table: clear error naming it (get)"
	expect $f 12 'r.isError === true && /ResourceNotFoundException.*table .missing-table./.test(t)' true \
		"$label: a missing table: clear error naming it (query)"

	# Query pagination: follow next_cursor to the end.
	local cursor pages=1 seen
	seen=$(js $f 8 's.items.map((i) => i.order_id).join(",")')
	cursor=$(js $f 8 's.next_cursor')
	while [ "$cursor" != null ] && [ -n "$cursor" ] && [ $pages -lt 6 ]; do
		pages=$((pages + 1))
		aws_run "$target-page$pages" "$target" <<JSON
[ {"tool": "@dynamo_query", "arguments": {"table": "orders", "key_condition": "customer = :c", "values": {":c": "alice"}, "limit": 2, "cursor": "$cursor"}} ]
JSON
		seen="$seen,$(js "$target-page$pages" 1 's.items.map((i) => i.order_id).join(",")')"
		cursor=$(js "$target-page$pages" 1 's.next_cursor')
	done
	check "$label: the cursor pages through alice's orders: 3 pages, each once ($seen)" \
		test "$pages:$seen" = "3:o-001,o-002,o-003,o-004,o-005"
	cursor=$(js $f 8 's.next_cursor')
	aws_run "$target-badcur" "$target" <<JSON
[
  {"tool": "@dynamo_query", "arguments": {"table": "orders-archive", "key_condition": "customer = :c", "values": {":c": "alice"}, "cursor": "$cursor"}},
  {"tool": "@dynamo_query", "arguments": {"table": "orders", "key_condition": "customer = :c", "values": {":c": "alice"}, "cursor": "bm90IGEgY3Vyc29y"}}
]
JSON
	expect "$target-badcur" 1 'r.isError === true && /cursor: it was made for table .orders., not for this query/.test(t)' true \
		"$label: a cursor used on another table is refused"
	expect "$target-badcur" 2 'r.isError === true && /cursor: not a cursor from dynamo_query/.test(t)' true \
		"$label: a forged cursor is refused"

	# kb_search: the next page from its cursor.
	cursor=$(js $f 9 's.next_cursor')
	aws_run "$target-kb2" "$target" <<JSON
[ {"tool": "@kb_search", "arguments": {"knowledge_base": "KB12345678", "query": "how do refunds of a payment work", "top_k": 2, "cursor": "$cursor"}} ]
JSON
	expect "$target-kb2" 1 '[r.isError, s.count, s.results.every((x) => x.source !== "s3://mcpgate-kb/docs/refund-policy.md")].join(" ")' \
		"false 2 true" "$label: kb_search with the cursor: the next 2 results"
}

aws_control POST /reset >/dev/null
round gw gateway
check "gateway: every request was verified by the front, none refused" test "$(aws_stat dynamodb refused)" = 0
check "gateway: the Retrieve double saw KB12345678 twice and KB99999999 once" \
	test "$(aws_stat bedrock_agent_runtime retrieve KB12345678)" = 2 -a "$(aws_stat bedrock_agent_runtime retrieve KB99999999)" = 1

# ---- refusals before any request ----
before_ddb=$(aws_requests dynamodb)
before_kb=$(aws_requests bedrock_agent_runtime)
aws_run refuse gw <<'JSON'
[
  {"tool": "@dynamo_get", "arguments": {"table": "other-table", "key": {"id": "x-1"}}},
  {"tool": "@dynamo_query", "arguments": {"table": "other-table", "key_condition": "id = :i", "values": {":i": "x-1"}}},
  {"tool": "@dynamo_put", "arguments": {"table": "orders-archive", "item": {"customer": "z", "order_id": "z"}}},
  {"tool": "@dynamo_put", "arguments": {"table": "other-table", "item": {"id": "x-9"}}},
  {"tool": "@kb_search", "arguments": {"knowledge_base": "KBNOTALLOWED", "query": "secrets"}},
  {"tool": "@dynamo_query", "arguments": {"table": "orders", "key_condition": "customer = :c", "values": {":c": "alice"}, "limit": 60}},
  {"tool": "@dynamo_get", "arguments": {"table": "orders", "key": {"customer": ["not", "scalar"]}}},
  {"tool": "@dynamo_get", "arguments": {"table": "bad/name", "key": {"id": "x"}}},
  {"tool": "@kb_search", "arguments": {"knowledge_base": "KB12345678", "query": "x", "top_k": 6}}
]
JSON
expect refuse 1 'r.isError === true && t' \
	"dynamo_get: table 'other-table' is not allowed by this server's settings (dynamodb.tables); no request was made" \
	"dynamo_get on a table outside the allowlist is refused"
expect refuse 2 'r.isError === true && /table .other-table. is not allowed .*dynamodb.tables.*no request was made/.test(t)' true \
	"dynamo_query on a table outside the allowlist is refused"
expect refuse 3 'r.isError === true && t' \
	"dynamo_put: table 'orders-archive' is not allowed by this server's settings (dynamodb.write_tables); no request was made" \
	"dynamo_put on a read-only table is refused (write_tables)"
expect refuse 4 'r.isError === true && /other-table.*dynamodb.write_tables/.test(t)' true "dynamo_put outside both lists is refused"
expect refuse 5 'r.isError === true && t' \
	"kb_search: knowledge base 'KBNOTALLOWED' is not allowed by this server's settings (knowledge_bases.ids); no request was made" \
	"kb_search on a knowledge base outside the allowlist is refused"
expect refuse 6 'r.isError === true && /limit must be from 1 to 50 \(settings.dynamodb.max_items\)/.test(t)' true \
	"a limit over max_items is refused"
expect refuse 7 'r.isError === true && /key attribute .customer. must be a string, a number/.test(t)' true \
	"a key attribute that is not a scalar is refused"
expect refuse 8 'r.isError === true && /table must be a DynamoDB table name/.test(t)' true "an invalid table name is refused"
expect refuse 9 'r.isError === true && /top_k must be from 1 to 5/.test(t)' true "top_k over max_results is refused"
check "...and the fronts saw no request for any of them" \
	test "$(aws_requests dynamodb)" = "$before_ddb" -a "$(aws_requests bedrock_agent_runtime)" = "$before_kb"

# ---- throttling ----
aws_control POST /reset >/dev/null
aws_throttle dynamodb 2
aws_throttle bedrock_agent_runtime 1
aws_run throttle gw <<'JSON'
[
  {"tool": "@dynamo_get", "arguments": {"table": "orders", "key": {"customer": "carol", "order_id": "o-010"}}},
  {"tool": "@kb_search", "arguments": {"knowledge_base": "KB12345678", "query": "shipping times"}}
]
JSON
expect throttle 1 '[r.isError, s.item.order_id].join(" ")' "false o-010" "dynamo_get throttled twice, then answered"
aws_check_attempts dynamodb 2 3 "...the front counted 2 throttles and 3 attempts"
expect throttle 2 '[r.isError, s.results[0].source].join(" ")' "false s3://mcpgate-kb/docs/shipping-times.md" \
	"kb_search throttled once, then answered"
aws_check_attempts bedrock_agent_runtime 1 2 "...1 throttle and 2 Retrieve attempts"
aws_control POST /reset >/dev/null
aws_throttle dynamodb 10
aws_run throttle2 gw <<'JSON'
[ {"tool": "@dynamo_query", "arguments": {"table": "orders", "key_condition": "customer = :c", "values": {":c": "carol"}}} ]
JSON
expect throttle2 1 'r.isError === true && /DynamoDB: ProvisionedThroughputExceededException.*table .orders.*after 3 attempts/.test(t)' true \
	"throttled more than the attempts allow: ProvisionedThroughputExceededException surfaced"
check "...after 3 attempts" test "$(aws_stat dynamodb throttled)" = 3
aws_throttle dynamodb 0
aws_check_started_once
stop_appliance

# ---- standalone over stdio ----
aws_control POST /reset >/dev/null
round stdio stdio

# A small result cap: a page cut with a cursor made from the last kept item's key (the table's
# key names from DescribeTable, once), and an item over the cap keeping what fits.
cat >"$WORK/small.json" <<'JSON'
{ "result_cap_bytes": 1024,
  "dynamodb": { "tables": ["orders"], "write_tables": ["orders"] },
  "knowledge_bases": { "ids": ["KB12345678"], "max_results": 20, "max_text_bytes": 2000 } }
JSON
NOTE=$(printf 'n%.0s' $(seq 300))
BIG=$(printf 'b%.0s' $(seq 3000))
aws_control POST /reset >/dev/null
aws_run small stdio "$WORK/small.json" <<JSON
[
  {"tool": "@dynamo_put", "arguments": {"table": "orders", "item": {"customer": "erin", "order_id": "e-1", "note": "$NOTE"}}},
  {"tool": "@dynamo_put", "arguments": {"table": "orders", "item": {"customer": "erin", "order_id": "e-2", "note": "$NOTE"}}},
  {"tool": "@dynamo_put", "arguments": {"table": "orders", "item": {"customer": "erin", "order_id": "e-3", "note": "$NOTE"}}},
  {"tool": "@dynamo_put", "arguments": {"table": "orders", "item": {"customer": "erin", "order_id": "e-4", "note": "$NOTE"}}},
  {"tool": "@dynamo_put", "arguments": {"table": "orders", "item": {"customer": "erin", "order_id": "e-5", "note": "$NOTE"}}},
  {"tool": "@dynamo_put", "arguments": {"table": "orders", "item": {"customer": "frank", "order_id": "f-1", "note": "$BIG", "small": 1}}},
  {"tool": "@dynamo_query", "arguments": {"table": "orders", "key_condition": "customer = :c", "values": {":c": "erin"}}},
  {"tool": "@dynamo_get", "arguments": {"table": "orders", "key": {"customer": "frank", "order_id": "f-1"}}},
  {"tool": "@dynamo_get", "arguments": {"table": "orders", "key": {"customer": "frank", "order_id": "f-1"}, "attributes": ["small"]}},
  {"tool": "@kb_search", "arguments": {"knowledge_base": "KB12345678", "query": "data retention of audit logs", "top_k": 8}}
]
JSON
expect small 7 '[r.isError, s.count < 5, s.count >= 1, /\[truncated: \d of 5 items shown.*cursor=next_cursor/.test(s.notice), typeof s.next_cursor, t.length <= 1024].join(" ")' \
	"false true true true string true" "a page over the 1 KB cap: trailing items dropped, a notice, a cursor, within the cap"
check "...DescribeTable was asked once for the key names" \
	test "$(targets dynamodb DynamoDB_20120810.DescribeTable)" = 1
seen=$(js small 7 's.items.map((i) => i.order_id).join(",")')
cursor=$(js small 7 's.next_cursor')
pages=1
while [ "$cursor" != null ] && [ -n "$cursor" ] && [ $pages -lt 8 ]; do
	pages=$((pages + 1))
	aws_run "small-page$pages" stdio "$WORK/small.json" <<JSON
[ {"tool": "@dynamo_query", "arguments": {"table": "orders", "key_condition": "customer = :c", "values": {":c": "erin"}, "cursor": "$cursor"}} ]
JSON
	seen="$seen,$(js "small-page$pages" 1 's.items.map((i) => i.order_id).join(",")')"
	cursor=$(js "small-page$pages" 1 's.next_cursor')
done
check "...following next_cursor reads every item once ($pages pages: $seen)" \
	test "$seen" = "e-1,e-2,e-3,e-4,e-5" -a "$pages" -ge 2
check "...each later cut page asked DescribeTable again only in its own process (cache per process)" \
	test "$(targets dynamodb DynamoDB_20120810.DescribeTable)" -le "$pages"
expect small 8 '[r.isError, Object.keys(s.item).sort().join(","), JSON.stringify(s.omitted_attributes), /truncated: the item is \d+ bytes/.test(s.notice), t.length <= 1024].join(" ")' \
	'false customer,order_id,small ["note"] true true' "an item over the cap keeps what fits and names what was left out"
expect small 9 'JSON.stringify(s.item)' '{"small":1}' "...attributes reads the rest"
expect small 10 '[r.isError, s.count >= 1, s.count < 8, /truncated: \d+ of 8 results shown.*top_k=\d+/.test(s.notice), t.length <= 1024].join(" ")' \
	"false true true true true" "kb_search over the cap: trailing results dropped with a notice naming top_k"

# A wrong secret key: the verifying front's signature error, as a tool error.
before=$(aws_stat dynamodb verified)
aws_run wrong stdio "$WORK/settings.json" AWS_SECRET_ACCESS_KEY="wrong$AWS_SECRET_ACCESS_KEY" <<'JSON'
[
  {"tool": "@dynamo_get", "arguments": {"table": "orders", "key": {"customer": "alice", "order_id": "o-001"}}},
  {"tool": "@kb_search", "arguments": {"knowledge_base": "KB12345678", "query": "refunds"}}
]
JSON
expect wrong 1 'r.isError === true && /DynamoDB: InvalidSignatureException/.test(t)' true \
	"a wrong secret key: DynamoDB's signature error as a tool error"
expect wrong 2 'r.isError === true && /Bedrock Agent Runtime: InvalidSignatureException/.test(t)' true \
	"a wrong secret key: Bedrock Agent Runtime's signature error as a tool error"
check "...refused by the fronts, nothing verified" \
	test "$(aws_stat dynamodb refused)" -ge 1 -a "$(aws_stat dynamodb verified)" = "$before"

# Settings errors stop the server and say where.
settings_error '{"dynamodb": {"tabels": ["orders"]}}' "settings.dynamodb: unknown key 'tabels'" \
	"settings: an unknown key in dynamodb stops the server, naming it"
settings_error '{"knowledge_bases": {"ids": ["KB1"], "max_results": 500}}' 'settings.knowledge_bases.max_results' \
	"settings: max_results out of range stops the server"
settings_error '{"dynamodb": []}' 'settings.dynamodb: must be an object' "settings: dynamodb must be an object"

# Without settings, nothing is allowed.
echo '{}' >"$WORK/empty.json"
aws_run empty stdio "$WORK/empty.json" <<'JSON'
[ {"tool": "@dynamo_get", "arguments": {"table": "orders", "key": {"customer": "alice", "order_id": "o-001"}}} ]
JSON
expect empty 1 'r.isError === true && /not allowed .*dynamodb.tables.*no request was made/.test(t)' true \
	"no settings: every table is refused"

aws_check_no_secret_logged
aws_finish
