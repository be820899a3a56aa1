#!/usr/bin/env bash
# Inside its sandbox a built-in server resolves endpoint host names (getaddrinfo on libcurl's
# resolver thread reads /etc/hosts and friends, which Landlock lets it read) and verifies the
# endpoint's certificate against a CA bundle named by AWS_CA_BUNDLE, without being killed:
# the endpoint is given as https://localhost:PORT through the server's own config "env".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/aws_lib.sh"

PORT=$(free_port)
make_cert
aws_endpoint_up
local_url=${AWS_ENDPOINT_URL_SECRETS_MANAGER/127.0.0.1/localhost}
write_config "$WORK/config.json" "[{\"name\":\"secrets\",\"builtin\":\"secrets\",
	\"settings\":{\"secrets\":[\"app/*\"]},
	\"env\":{\"AWS_ENDPOINT_URL_SECRETS_MANAGER\":\"$local_url\"}}]"
start_appliance "$WORK/config.json"
check "the appliance starts" kill -0 "$SUP_PID"
pid=$(child_pid mcpgate-server-secrets)
calls() { aws_last_result '[{"tool":"secrets__secret_list","arguments":{}}]' -- "http://127.0.0.1:$PORT/mcp"; }
out=$(calls)
check "a call to https://localhost:... succeeds from inside the sandbox" aws_secrets_listed "$out" || echo "# $out"
check "the server was not killed ($pid)" test "$(child_pid mcpgate-server-secrets)" = "$pid"
check "no child was killed by seccomp" bash -c "! grep -q '\"signal\":\"SIGSYS\"' '$WORK/appliance.log'"
stop_appliance

# The same with a CA bundle that does not sign the endpoint's certificate: refused, clearly.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj "/CN=other" \
	-keyout "$WORK/other.key" -out "$WORK/other.pem" 2>/dev/null
chmod 0644 "$WORK/other.pem"
start_appliance "$WORK/config.json" AWS_CA_BUNDLE="$WORK/other.pem"
out=$(calls)
tls_refused() { grep -q '"isError":true' <<<"$out" && grep -q 'TLSVerificationFailed: SSL certificate problem' <<<"$out"; }
why=$(grep -o '"text":"[^"]*' <<<"$out" | head -1 | cut -c9-)
check "an endpoint whose certificate the bundle does not vouch for is refused ($why)" tls_refused || echo "# $out"
stop_appliance
finish
