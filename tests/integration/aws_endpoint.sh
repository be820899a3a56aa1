#!/usr/bin/env bash
# Self-test of the AWS test endpoint (tests/fixtures/aws-endpoint.mjs) that the domain servers'
# integration tests run against: start it over HTTPS, seed it through its SigV4-verifying fronts,
# then aws-selftest.mjs checks every service's answers and refusals, the event-stream framing,
# throttle injection and temporary credentials. No appliance is started.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/aws_lib.sh"

if [ ! -x "$NODE22" ]; then
	skip "Node 22 not installed in tests/node (npm ci there)"
	exit 0
fi

if ! aws_endpoint_start; then
	not_ok "aws endpoint starts"
	exit 1
fi
ok "aws endpoint starts (HTTPS fronts, CA $AWS_CA_BUNDLE)"

check "https front presents the test certificate" \
	curl -s -o /dev/null --cacert "$AWS_CA_BUNDLE" "$AWS_ENDPOINT_URL_SECRETS_MANAGER/"
check "control API answers" test "$(aws_control GET /health | aws_json ok)" = true

seeded=$(aws_seed)
if [ $? -eq 0 ]; then ok "seeded through the verifying fronts: $seeded"; else not_ok "seeding"; fi
check "seeding was all verified, nothing refused" \
	test "$(aws_stat s3 refused)" = 0 -a "$(aws_stat s3 verified)" -ge 40 -a "$(aws_stat dynamodb refused)" = 0
check "aws_stat reads nested counters" test "$(aws_stat secretsmanager operations GetSecretValue)" = 0

# A plain unsigned curl is refused by every front.
for svc in S3 DYNAMODB SQS LAMBDA SECRETS_MANAGER BEDROCK_RUNTIME BEDROCK_AGENT_RUNTIME; do
	var="AWS_ENDPOINT_URL_$svc"
	code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$AWS_CA_BUNDLE" -X POST -d '{}' "${!var}/")
	check "unsigned request to $svc is refused (403)" test "$code" = 403
done

"$NODE22" "$SOURCE/tests/fixtures/aws-selftest.mjs" >"$WORK/selftest.out" 2>&1
rc=$?
cat "$WORK/selftest.out"
check "aws-selftest.mjs passed" test "$rc" = 0

passed=$(grep -c '^ok' "$WORK/selftest.out")
check "aws-selftest.mjs ran its checks ($passed)" test "$passed" -ge 60

# The shell helpers: temporary credentials in the environment (with AWS_SESSION_TOKEN), seeding
# again is harmless, throttle injection and counters.
aws_control POST /reset >/dev/null
if aws_temp_credentials SHELL && [[ $AWS_ACCESS_KEY_ID == ASIASHELL* ]] && [ -n "$AWS_SESSION_TOKEN" ]; then
	ok "aws_temp_credentials exports an ASIA key and a session token"
else
	not_ok "aws_temp_credentials"
fi
check "seeding again with temporary credentials is accepted" aws_seed
check "...and nothing was refused" test "$(aws_stat s3 refused)" = 0 -a "$(aws_stat sqs refused)" = 0
aws_throttle sqs 1
check "aws_throttle: seeding now fails on the throttled SQS call" bash -c '! aws_seed_out=$("$0" "$1" 2>&1)' \
	"$NODE22" "$SOURCE/tests/fixtures/aws-seed.mjs"
check "...and the throttled request was counted" test "$(aws_stat sqs throttled)" = 1
check "aws_stat counts a list's entries" test "$(aws_stat dynamodb requests)" -gt 0

if [ "$FAILED" -ne 0 ]; then
	echo "--- aws endpoint log (last 40 lines) ---"
	aws_endpoint_log 40
fi
exit "$FAILED"
