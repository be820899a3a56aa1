#!/usr/bin/env bash
# A built-in server run alone over stdio by a slow reader: when its input ends, every answer it
# owes still arrives whole before it exits (its stdout is non-blocking, so the last answers
# wait in its buffer for the pipe to drain rather than being dropped).
. "$(dirname "$0")/lib.sh"

req="$WORK/requests.jsonl"
echo '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}' >"$req"
for i in $(seq 1 60); do echo "{\"jsonrpc\":\"2.0\",\"id\":$i,\"method\":\"tools/list\"}" >>"$req"; done
# 61 answers of ~9 KB each: several times a pipe's 64 KiB, read only after 1.5 s.
env -u AWS_ACCESS_KEY_ID AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true \
	"$BUILD/servers/mcpgate-server-data" <"$req" 2>"$WORK/server.err" |
	{ sleep 1.5; cat; } >"$WORK/answers.jsonl"
lines=$(wc -l <"$WORK/answers.jsonl")
last=$(tail -c 200 "$WORK/answers.jsonl")
check "all 61 answers arrive after stdin closed ($lines)" test "$lines" -eq 61
check "the last answer is whole" grep -q '"id":60,' <<<"$(tail -1 "$WORK/answers.jsonl" | head -c 100000)"
finish
