#!/usr/bin/env bash
# Every list shows a caller exactly what its roles let it use: prompts and resources are
# filtered by the same globs that refuse the calls, not only tools.
. "$(dirname "$0")/lib.sh"
PORT=$(free_port)
key=$("$MCPGATE" keygen --client lists --roles limited --keys-file "$WORK/keys.json" 2>/dev/null)
cat >"$WORK/config.json" <<JSON
{
  "listen": [ { "address": "127.0.0.1:$PORT", "tls": false } ],
  "auth": { "keys_file": "keys.json" },
  "roles": { "limited": { "tools": ["test_simple_*"], "prompts": [], "resources": ["test://static-*"] } },
  "servers": [ { "name": "fixture", "namespace": "",
                 "command": [ "$BUILD/tests/fixtures/mcpgate-conformance-fixture" ] } ],
  "log": { "level": "info" }
}
JSON
check "appliance becomes ready" start_appliance "$WORK/config.json"
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
mcp_post "$INIT" -H "X-API-Key: $key" -D "$WORK/h" >/dev/null
SID=$(awk -F': ' 'tolower($1)=="mcp-session-id"{print $2}' "$WORK/h" | tr -d '\r')
call() { mcp_post "$1" -H "X-API-Key: $key" -H "Mcp-Session-Id: $SID" -H 'MCP-Protocol-Version: 2025-11-25'; }
tools=$(call '{"jsonrpc":"2.0","id":2,"method":"tools/list"}')
check "tools/list shows only test_simple_* tools" bash -c \
	"grep -q '\"test_simple_text\"' <<<'$tools' && ! grep -q '\"test_image_content\"' <<<'$tools'"
prompts=$(call '{"jsonrpc":"2.0","id":3,"method":"prompts/list"}')
check "prompts/list is empty for a role with no prompts" grep -q '"prompts":\[\]' <<<"$prompts"
resources=$(call '{"jsonrpc":"2.0","id":4,"method":"resources/list"}')
check "resources/list shows the allowed URIs" grep -q '"test://static-text"' <<<"$resources"
check "resources/list hides the others" bash -c "! grep -q 'watched-resource' <<<'$resources'"
templates=$(call '{"jsonrpc":"2.0","id":5,"method":"resources/templates/list"}')
check "resources/templates/list hides templates outside the globs" bash -c "! grep -q 'test://template' <<<'$templates'"
refused=$(call '{"jsonrpc":"2.0","id":6,"method":"prompts/get","params":{"name":"test_simple_prompt"}}')
check "prompts/get of a hidden prompt is refused (403)" test "$(tail -1 <<<"$refused")" = 403
read_ok=$(call '{"jsonrpc":"2.0","id":7,"method":"resources/read","params":{"uri":"test://static-text"}}')
check "resources/read of an allowed URI works" test "$(tail -1 <<<"$read_ok")" = 200
finish
