#!/usr/bin/env bash
# `make run`'s development setup, as written by scripts/dev-setup.sh, on a machine without AWS:
# the appliance starts with all four built-in servers, and every AWS tool answers with a tool
# error that says what is missing (region, then credentials) and that no request was made,
# while the rest of the appliance keeps working.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/aws_lib.sh"

# dev-setup.sh works on a build directory: give it one whose mcpgate is this build's.
fake="$WORK/build"
mkdir -p "$fake"
ln -s "$BUILD/supervisor" "$fake/supervisor"
"$SOURCE/scripts/dev-setup.sh" "$fake" >"$WORK/dev-setup.out" 2>&1 || { not_ok "dev-setup.sh runs"; cat "$WORK/dev-setup.out"; finish; }
PORT=$(free_port)
sed -i "s/127.0.0.1:8443/127.0.0.1:$PORT/g" "$fake/dev/config.json"
check "the development config is valid" "$MCPGATE" check-config "$fake/dev/config.json"
KEY=$(cat "$fake/dev/api-key")
SCHEME=https

strip_aws=()
for v in $(env | awk -F= '/^AWS_/ {print $1}'); do strip_aws+=(-u "$v"); done

calls='[
 {"tool":"data__s3_get","arguments":{"bucket":"mcpgate-dev-reports","key":"a.txt"}},
 {"tool":"data__dynamo_get","arguments":{"table":"mcpgate-dev-orders","key":{"id":"1"}}},
 {"tool":"ai__ask","arguments":{"question":"hello"}},
 {"tool":"ops__lambda_invoke","arguments":{"function":"mcpgate-dev-report"}},
 {"tool":"ops__sqs_send","arguments":{"queue":"mcpgate-dev-jobs","body":"x"}},
 {"tool":"secrets__secret_get","arguments":{"name":"mcpgate/dev/token"}},
 {"tool":"secrets__secret_list","arguments":{}}
]'
# The gateway with the development key, for aws_last_result.
GATEWAY=(NODE_EXTRA_CA_CERTS="$fake/dev/cert.pem" MCPGATE_API_KEY="$KEY" -- "https://127.0.0.1:$PORT/mcp")
run_calls() {
	echo "$calls" | NODE_EXTRA_CA_CERTS="$fake/dev/cert.pem" MCPGATE_API_KEY="$KEY" \
		"$NODE22" "$SOURCE/tests/node/mcp_calls.mjs" "https://127.0.0.1:$PORT/mcp" 2>"$WORK/calls.err"
}
# Every call must be a tool error naming what is missing, and say no request was made.
expect_all() { # expect_all OUTPUT PATTERN WHAT
	local n=0 good=0 line
	while IFS= read -r line; do
		grep -q '"tool"' <<<"$line" || continue
		n=$((n + 1))
		if grep -q '"isError":true' <<<"$line" && grep -q -E "$2" <<<"$line" &&
			grep -q 'no request was made' <<<"$line"; then good=$((good + 1)); else echo "# $line"; fi
	done <<<"$1"
	check "$3 ($good of $n tools)" test "$n" -eq 7 -a "$good" -eq 7
}

# No region at all.
start_appliance "$fake/dev/config.json" "${strip_aws[@]}" AWS_EC2_METADATA_DISABLED=true
check "the appliance starts with the four built-in servers and no AWS configuration" kill -0 "$SUP_PID"
out=$(run_calls)
grep -q '"tools"' <<<"$out" && ok "the SDK client connects and lists tools" || { not_ok "SDK client connects"; cat "$WORK/calls.err"; }
all_listed() { local t; for t in data__s3_list data__kb_search ai__ask ops__sqs_delete secrets__config_get; do grep -q "$t" <<<"$out" || return 1; done; }
check "every server's tools are listed" all_listed
expect_all "$out" 'AWS_REGION' "without a region, each tool says to set AWS_REGION"
kb=$(aws_last_result '[{"tool":"data__kb_search","arguments":{"knowledge_base":"KB1","query":"q"}}]' "${GATEWAY[@]}")
kb_refused() { grep -q 'not allowed by this server' <<<"$kb" && grep -q 'no request was made' <<<"$kb"; }
check "a knowledge base outside the (empty) allowlist is refused first" kb_refused
for s in data ai ops secrets; do
	pid=$(child_pid "mcpgate-server-$s")
	check "server $s is still running ($pid)" test -n "$pid"
done
stop_appliance

# A region but no credentials anywhere (the instance metadata service switched off).
start_appliance "$fake/dev/config.json" "${strip_aws[@]}" AWS_EC2_METADATA_DISABLED=true AWS_REGION=eu-west-1
out=$(run_calls)
expect_all "$out" '[Cc]redentials' "without credentials, each tool says credentials are missing"
check "the AWS servers logged no request" bash -c "! grep -q '\"event\":\"aws_retry\"' '$WORK/appliance.log'"
stop_appliance
finish
