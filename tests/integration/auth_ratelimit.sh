#!/usr/bin/env bash
# Rate limiting through the whole gateway over TLS.
# (a) The embedded limiter at 5 per 2 s: five calls pass, the sixth gets 429 with Retry-After,
#     RateLimit-Limit/Remaining/Reset and a JSON-RPC error; another principal is unaffected;
#     refused calls count nowhere; after the window the principal is admitted again.
# (b) Two gateways (two supervisors, own ports) sharing one real redis-server at 20 per 2 s;
#     one principal hammers both (auth_ratelimit_hammer.mjs, bounded in time and count): no 2 s
#     window admits more than 20 across both. Stopping Redis mid-run gives 503 + Retry-After
#     with fail_mode closed, and each gateway limiting alone with fail_mode local; starting
#     Redis again restores shared limiting without restarting the gateways.
# Usage: auth_ratelimit.sh [BUILD]   (also run as a meson test)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/auth_lib.sh"
require_node22
HAMMER="$SOURCE/tests/integration/auth_ratelimit_hammer.mjs"
make_cert
KEYS="$WORK/keys.json"
KEY=$("$MCPGATE" keygen --client hammer --roles admin --keys-file "$KEYS" 2>/dev/null)
OTHER=$("$MCPGATE" keygen --client bystander --roles admin --keys-file "$KEYS" 2>/dev/null)
check "keygen: two keys" test -n "$KEY" -a -n "$OTHER"
chmod 0644 "$KEYS"
now_ms() { date +%s%3N; }
sleep_until_ms() { local d=$(($1 - $(now_ms))); [ "$d" -le 0 ] || sleep "$(printf '%d.%03d' $((d / 1000)) $((d % 1000)))"; }

GW_PID=()
REDIS_PID=""
stop_gw() { # stop_gw N
	local pid=${GW_PID[$1]:-}
	[ -n "$pid" ] || return 0
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	GW_PID[$1]=""
}
stop_redis() {
	[ -n "$REDIS_PID" ] || return 0
	kill -TERM "$REDIS_PID" 2>/dev/null
	wait "$REDIS_PID" 2>/dev/null
	REDIS_PID=""
}
trap 'stop_gw 1; stop_gw 2; stop_redis; cleanup' EXIT

# ============ (a) the embedded limiter: 5 per 2 s ============
check "(a) appliance (TLS, embedded limiter 5 per 2 s) becomes ready" start_tls "$WORK/embedded.json" \
	write_auth_config "$WORK/embedded.json" "{ \"anonymous\": false, \"keys_file\": \"$KEYS\",
    \"rate_limit\": { \"requests\": 5, \"window_seconds\": 2 } }"
SID=$(new_session a -H "X-API-Key: $KEY")
check "(a) a session" test -n "$SID"
OSID=$(new_session other -H "X-API-Key: $OTHER")
A_H=(-H "X-API-Key: $KEY" -H "Mcp-Session-Id: $SID" "${PV[@]}")
sleep 2.2 # the set-up requests count too: let their window pass

codes=""
t0=$(now_ms)
for i in 1 2 3 4 5; do
	codes+="$(post "a-$i" "$(call_body echo__echo "{\"text\":\"call $i\"}" "$i")" "${A_H[@]}") "
done
last_admit=$(now_ms)
code=$(post a-6 "$(call_body echo__echo '{"text":"call 6"}' 6)" "${A_H[@]}")
t429=$(now_ms)
is "$codes" "200 200 200 200 200 " "(a) five calls inside one window are admitted"
check "(a) the six calls took $((t429 - t0)) ms (< 1900: one window)" test $((t429 - t0)) -lt 1900
is "$code" 429 "(a) the sixth call inside the window gets 429"
RA=$(hdr a-6 Retry-After)
check "(a) Retry-After is 1 or 2 seconds (got '$RA')" test "$RA" = 1 -o "$RA" = 2
is "$(hdr a-6 RateLimit-Limit)" 5 "(a) RateLimit-Limit: 5"
is "$(hdr a-6 RateLimit-Remaining)" 0 "(a) RateLimit-Remaining: 0"
reset=$(hdr a-6 RateLimit-Reset)
check "(a) RateLimit-Reset is 1 or 2 seconds (got '$reset')" test "$reset" = 1 -o "$reset" = 2
is "$(jsq "$WORK/a-6.b" 'd.jsonrpc + " " + d.id + " " + d.error.code + " " + d.error.message')" \
	"2.0 6 -32029 rate limit exceeded" "(a) JSON-RPC error -32029 'rate limit exceeded' for id 6"
check "(a) the audit line says limited" grep -q '"decision":"limited","reason":"rate limit exceeded"' \
	"$WORK/appliance.log"
is "$(post other-1 "$(call_body echo__echo '{"text":"bystander"}' 1)" -H "X-API-Key: $OTHER" \
	-H "Mcp-Session-Id: $OSID" "${PV[@]}")" 200 "(a) another principal is admitted meanwhile"
# A burst of refused calls for about a second: none may count against the window.
refused_codes=""
burst_end=$(($(now_ms) + 1000))
while [ "$(now_ms)" -lt "$burst_end" ]; do
	refused_codes+="$(post a-burst "$(call_body echo__echo '{"text":"burst"}' 7)" "${A_H[@]}") "
	last_refused=$(now_ms)
done
n_refused=$(wc -w <<<"$refused_codes")
check "(a) a 1 s burst made $n_refused calls (>= 3)" test "$n_refused" -ge 3
is "$(tr ' ' '\n' <<<"$refused_codes" | grep -c 429)" "$n_refused" \
	"(a) every call of the burst inside the window gets 429"
# Past Retry-After and past the five admissions' window (but inside the burst's): admitted.
sleep_until_ms $(( t429 + RA * 1000 > last_admit + 2050 ? t429 + RA * 1000 : last_admit + 2050 ))
t_again=$(now_ms)
codes=""
for i in 1 2 3 4 5; do
	codes+="$(post "again-$i" "$(call_body echo__echo "{\"text\":\"again $i\"}" "$((10 + i))")" "${A_H[@]}") "
done
t_done=$(now_ms)
is "$codes" "200 200 200 200 200 " "(a) after the window, five calls are admitted again (the refused ones counted nowhere)"
# Had refused calls counted, the burst's last one would still fill the window for the fifth.
check "(a) ... and the burst's last refused call was $((t_done - last_refused)) ms before the last of them (< 2000)" \
	test $((t_done - last_refused)) -lt 2000
is "$(jsq "$WORK/again-1.b" 'JSON.parse(d.result.content[0].text).text')" "again 1" \
	"(a) the admitted call reached the upstream"
is "$(post again-6 "$(call_body echo__echo '{"text":"again 6"}' 16)" "${A_H[@]}")" 429 \
	"(a) and the sixth in the new window is refused again"
echo "# (a) t0=0: 5 admitted by $((last_admit - t0)) ms, 429 at $((t429 - t0)) ms (Retry-After $RA s), $n_refused refused in the burst, admitted again from $((t_again - t0)) ms"
stop_appliance

# ============ (b) two gateways sharing Redis: 20 per 2 s ============
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
	skip "(b) redis-server / redis-cli not installed (scripts/deps.sh installs them)"
	finish
fi
# start_redis: redis-server on 127.0.0.1:$RP, without persistence (a restart starts empty).
start_redis() {
	redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
		--daemonize no >>"$WORK/redis.log" 2>&1 &
	REDIS_PID=$!
	for _ in $(seq 100); do
		[ "$(redis-cli -h 127.0.0.1 -p "$RP" ping 2>/dev/null)" = PONG ] && return 0
		kill -0 "$REDIS_PID" 2>/dev/null || break
		sleep 0.1
	done
	stop_redis
	return 1
}
first_redis() { # a free port for it (another one if that is taken meanwhile)
	for _ in 1 2 3; do
		RP=$(auth_free_port)
		start_redis && return 0
	done
	return 1
}
check "(b) redis-server starts on 127.0.0.1" first_redis
echo "# (b) redis-server on 127.0.0.1:$RP, pid $REDIS_PID"

GW_PORT=()
gw_port() { echo "${GW_PORT[$1]}"; }
# start_gw N FAIL_MODE: gateway N on a port of its own, its log in $WORK/gwN.log (another
# port if the one picked is taken meanwhile).
start_gw() {
	local n=$1 mode=$2 rc
	for _ in 1 2 3; do
		GW_PORT[$n]=$(auth_free_port)
		PORT=${GW_PORT[$n]} write_auth_config "$WORK/gw$n.json" "{ \"anonymous\": false, \"keys_file\": \"$KEYS\",
    \"rate_limit\": { \"requests\": 20, \"window_seconds\": 2 },
    \"redis\": { \"host\": \"127.0.0.1\", \"port\": $RP, \"fail_mode\": \"$mode\" } }"
		launch "$WORK/gw$n.log" "$WORK/gw$n.json"
		rc=$?
		GW_PID[$n]=$LAUNCHED
		[ "$rc" = 0 ] && return 0
		stop_gw "$n"
		[ "$rc" = 2 ] || return 1
		echo "# port ${GW_PORT[$n]} was taken meanwhile: trying another"
	done
	return 1
}
gw_count() { grep -c -E "$2" "$WORK/gw$1.log"; }
wait_gw_log() { # wait_gw_log N PATTERN COUNT SECONDS
	local deadline=$((SECONDS + $4))
	while [ $SECONDS -lt $deadline ]; do
		[ "$(gw_count "$1" "$2")" -ge "$3" ] && return 0
		sleep 0.05
	done
	return 1
}
auth_pid() { ps --ppid "${GW_PID[$1]}" -o pid=,args= | awk '$2 ~ /mcpgate-auth$/ {print $1; exit}'; }
sessions() { # fresh sessions on both gateways, then a quiet window
	S1=$(TARGET_PORT=$(gw_port 1) new_session s1 -H "X-API-Key: $KEY")
	S2=$(TARGET_PORT=$(gw_port 2) new_session s2 -H "X-API-Key: $KEY")
	check "(b) a session on each gateway" test -n "$S1" -a -n "$S2"
	sleep 2.2
}
S_ALLOW='"decision":"allow","reason":"within the shared budget"'
L_ALLOW='"decision":"allow","reason":"within budget"'
AUDIT='"event":"audit"'

# phase NAME MS: hammers both gateways for MS; the summary goes to $WORK/NAME.json and the
# global SHARED / LOCAL (allow decisions by Redis / by a gateway alone, from the audit lines).
phase() {
	local name=$1 ms=$2 a1 a2 s1 s2 l1 l2
	a1=$(gw_count 1 "$AUDIT"); a2=$(gw_count 2 "$AUDIT")
	s1=$(gw_count 1 "$S_ALLOW"); s2=$(gw_count 2 "$S_ALLOW")
	l1=$(gw_count 1 "$L_ALLOW"); l2=$(gw_count 2 "$L_ALLOW")
	(cd "$WORK" && NODE_EXTRA_CA_CERTS="$WORK/cert.pem" timeout 60 "$NODE22" "$HAMMER" \
		"$WORK/$name.records.json" "$ms" 20 2000 "$KEY" \
		"https://127.0.0.1:$(gw_port 1)/mcp=$S1" "https://127.0.0.1:$(gw_port 2)/mcp=$S2") \
		>"$WORK/$name.json" 2>"$WORK/$name.err"
	check "(b) $name: the load ran" test $? = 0
	# Every request leaves one audit line: wait for all of them.
	local n1 n2
	n1=$(jsq "$WORK/$name.json" 'd.perGateway[0].requests')
	n2=$(jsq "$WORK/$name.json" 'd.perGateway[1].requests')
	wait_gw_log 1 "$AUDIT" $((a1 + ${n1:-0})) 10
	wait_gw_log 2 "$AUDIT" $((a2 + ${n2:-0})) 10
	SHARED=$(( $(gw_count 1 "$S_ALLOW") - s1 + $(gw_count 2 "$S_ALLOW") - s2 ))
	LOCAL=$(( $(gw_count 1 "$L_ALLOW") - l1 + $(gw_count 2 "$L_ALLOW") - l2 ))
	echo "# (b) $name: $(jsq "$WORK/$name.json" '`${d.all.requests} requests in ${Math.round(d.end - d.start)} ms, statuses ${JSON.stringify(d.all.byStatus)}, admitted ${d.all.admitted} (gateway 1: ${d.perGateway[0].admitted}, gateway 2: ${d.perGateway[1].admitted}); max admitted in one 2 s window: ${d.all.certainMax} certain, ${d.all.answeredMax} by answer time; per gateway ${d.perGateway[0].certainMax} / ${d.perGateway[1].certainMax}`'); audit: $SHARED shared + $LOCAL local allows"
}
q() { jsq "$WORK/$1.json" "$2"; }

# shared_ok NAME: the checks of a phase with Redis up.
shared_ok() {
	local name=$1 max
	max=$(q "$name" d.all.certainMax)
	check "(b) $name: no 2 s window admitted more than 20 across both gateways (max $max)" test "$max" -le 20
	is "$max" 20 "(b) $name: the shared budget of 20 was used in full in some window"
	check "(b) $name: both gateways admitted calls ($(q "$name" 'd.perGateway.map(g => g.admitted).join(" + ")'))" \
		test "$(q "$name" 'd.perGateway.every(g => g.admitted > 0)')" = true
	check "(b) $name: both gateways refused calls with 429" \
		test "$(q "$name" 'd.perGateway.every(g => (g.byStatus[429] ?? 0) > 0)')" = true
	is "$(q "$name" 'Object.keys(d.all.byStatus).sort().join(",")')" "200,429" "(b) $name: only 200 and 429"
	is "$(q "$name" 'd.all.limitedWithRateLimitHeaders === d.all.byStatus[429] && d.all.refusedWithRetryAfter === d.all.byStatus[429]')" \
		true "(b) $name: every 429 has Retry-After and RateLimit-Limit/Remaining/Reset"
	is "$(q "$name" 'd.all.codes.join("|")')" "429:-32029:rate limit exceeded" \
		"(b) $name: every 429 carries JSON-RPC error -32029"
	is "$SHARED/$LOCAL" "$(q "$name" d.all.admitted)/0" "(b) $name: every admission was decided by Redis"
	# With the exact window, admissions over the run cannot exceed 20 per started 2 s.
	local bound
	bound=$(q "$name" '20 * Math.ceil((d.end - d.start) / 2000)')
	check "(b) $name: $(q "$name" d.all.admitted) admitted in all <= $bound (20 per started window)" \
		test "$(q "$name" d.all.admitted)" -le "$bound"
}

for mode in closed local; do
	echo "# ---- fail_mode $mode ----"
	# Each gateway's log holds every run of it: count this run's events from here on.
	touch "$WORK/gw1.log" "$WORK/gw2.log"
	up1=$(gw_count 1 '"event":"redis_up"'); up2=$(gw_count 2 '"event":"redis_up"')
	check "(b) gateway 1 ($mode) becomes ready" start_gw 1 "$mode"
	check "(b) gateway 2 ($mode) becomes ready" start_gw 2 "$mode"
	check "(b) gateway 1 reaches Redis" wait_gw_log 1 '"event":"redis_up"' $((up1 + 1)) 10
	check "(b) gateway 2 reaches Redis" wait_gw_log 2 '"event":"redis_up"' $((up2 + 1)) 10
	AUTH1=$(auth_pid 1); AUTH2=$(auth_pid 2)
	sessions

	phase "$mode-shared" 6000
	shared_ok "$mode-shared"

	# Redis goes away mid-run.
	d1=$(gw_count 1 '"event":"redis_down"'); d2=$(gw_count 2 '"event":"redis_down"')
	up1=$(gw_count 1 '"event":"redis_up"'); up2=$(gw_count 2 '"event":"redis_up"')
	stop_redis
	check "(b) $mode: gateway 1 notices Redis is down" wait_gw_log 1 '"event":"redis_down"' $((d1 + 1)) 5
	check "(b) $mode: gateway 2 notices Redis is down" wait_gw_log 2 '"event":"redis_down"' $((d2 + 1)) 5
	phase "$mode-redis-down" 4000
	if [ "$mode" = closed ]; then
		is "$(q "$mode-redis-down" d.all.admitted)" 0 "(b) closed, Redis down: nothing is admitted"
		is "$(q "$mode-redis-down" 'Object.keys(d.all.byStatus).join(",")')" 503 \
			"(b) closed, Redis down: every call gets 503"
		is "$(q "$mode-redis-down" 'd.all.refusedWithRetryAfter === d.all.requests')" true \
			"(b) closed, Redis down: every 503 has Retry-After >= 1"
		is "$(q "$mode-redis-down" 'd.all.codes.join("|")')" \
			"503:-32603:the rate limit store is unavailable; retry shortly" \
			"(b) closed, Redis down: the JSON-RPC error says the store is unavailable"
		check "(b) closed, Redis down: the audit lines say unavailable" \
			grep -q '"decision":"unavailable"' "$WORK/gw1.log"
	else
		is "$(q "$mode-redis-down" 'd.all.byStatus[503] ?? 0')" 0 "(b) local, Redis down: no 503"
		is "$(q "$mode-redis-down" 'Object.keys(d.all.byStatus).sort().join(",")')" "200,429" \
			"(b) local, Redis down: each gateway admits and limits by itself (200 and 429)"
		for g in 0 1; do
			m=$(q "$mode-redis-down" "d.perGateway[$g].certainMax")
			check "(b) local, Redis down: gateway $((g + 1)) alone admits at most 20 per 2 s (max $m)" test "$m" -le 20
			is "$m" 20 "(b) local, Redis down: gateway $((g + 1)) uses its own budget of 20 in full"
		done
		m=$(q "$mode-redis-down" d.all.certainMax)
		check "(b) local, Redis down: the budget is per gateway now (max $m across both: > 20, <= 40)" \
			test "$m" -gt 20 -a "$m" -le 40
		is "$SHARED/$LOCAL" "0/$(q "$mode-redis-down" d.all.admitted)" \
			"(b) local, Redis down: every admission was decided locally"
	fi

	# Redis comes back on the same port; the gateways reconnect by themselves.
	check "(b) $mode: redis-server starts again" start_redis
	check "(b) $mode: gateway 1 reconnects to Redis (no restart)" wait_gw_log 1 '"event":"redis_up"' $((up1 + 1)) 20
	check "(b) $mode: gateway 2 reconnects to Redis (no restart)" wait_gw_log 2 '"event":"redis_up"' $((up2 + 1)) 20
	is "$(auth_pid 1) $(auth_pid 2)" "$AUTH1 $AUTH2" "(b) $mode: the auth processes are the same ones as before"
	sleep 2.2 # a window without load: local admissions of the outage are out of every window
	phase "$mode-redis-back" 4000
	shared_ok "$mode-redis-back"
	stop_gw 1
	stop_gw 2
done
stop_redis

if [ "$FAILED" -ne 0 ]; then
	for n in 1 2; do
		echo "--- gateway $n log (last 30 lines) ---"
		tail -30 "$WORK/gw$n.log"
	done
fi
finish
