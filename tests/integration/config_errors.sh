#!/usr/bin/env bash
# `mcpgate check-config` and `run` refuse a bad config naming the file, the JSON path and
# the reason, and exit non-zero.
. "$(dirname "$0")/lib.sh"
PORT=$(free_port)
expect_error() { # expect_error FILE PATTERN
	out=$("$MCPGATE" check-config "$1" 2>&1)
	rc=$?
	check "check-config $(basename "$1"): exit non-zero ($rc)" test "$rc" -ne 0
	check "check-config $(basename "$1"): says '$2'" grep -qE "$2" <<<"$out"
}
printf '{"listen": [{"address": "127.0.0.1:%s", "tls": false}],\n "servers": [{"name": "x", "command": []}]}\n' "$PORT" >"$WORK/empty-command.json"
expect_error "$WORK/empty-command.json" 'empty-command\.json: at \$\.servers\[0\]\.command: .*non-empty'
printf '{"listen": [{"address": "127.0.0.1:%s", "tls": false}],\n "edge": {"instances": 0}}\n' "$PORT" >"$WORK/range.json"
expect_error "$WORK/range.json" 'range\.json: at \$\.edge\.instances: .*1'
printf '{"listen": [\n {"address": "nowhere", "tls": false}]}\n' >"$WORK/address.json"
expect_error "$WORK/address.json" 'address\.json: at \$\.listen\[0\]\.address'
printf '{"listen": [}\n' >"$WORK/syntax.json"
expect_error "$WORK/syntax.json" 'syntax\.json:1:'
expect_error "$WORK/missing.json" 'missing\.json'

write_config "$WORK/good.json"
check "check-config accepts a good config" "$MCPGATE" check-config "$WORK/good.json"
"$MCPGATE" run -c "$WORK/range.json" >"$WORK/run.out" 2>&1
rc=$?
check "run refuses a bad config with exit 78 (got $rc)" test "$rc" -eq 78
check "run names file and path" grep -q 'range.json: at \$.edge.instances' "$WORK/run.out"
finish
