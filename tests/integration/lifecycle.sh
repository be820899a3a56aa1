#!/usr/bin/env bash
# The supervisor's life cycle: readiness reported to systemd, SIGHUP reloads (a new server
# appears, a bad config is refused and the old one kept), SIGTERM drains and stops in bound.
. "$(dirname "$0")/lib.sh"
PORT=$(free_port)
write_config "$WORK/config.json" '[{"name":"data","builtin":"data"}]'

# systemd's notify socket, played by a datagram listener of our own.
"$BUILD/tests/integration/notify-sink" "$WORK/notify.sock" "$WORK/notify.out" &
SINK=$!
for _ in $(seq 50); do [ -S "$WORK/notify.sock" ] && break; sleep 0.05; done
check "appliance becomes ready" start_appliance "$WORK/config.json" NOTIFY_SOCKET="$WORK/notify.sock"
for _ in $(seq 50); do grep -q READY=1 "$WORK/notify.out" 2>/dev/null && break; sleep 0.1; done
check "READY=1 sent to NOTIFY_SOCKET once all children were ready" grep -q 'READY=1' "$WORK/notify.out"
kill "$SINK" 2>/dev/null

# SIGHUP with a server added: it is started, and the router hears of it.
write_config "$WORK/config.json" '[{"name":"data","builtin":"data"},{"name":"ops","builtin":"ops"}]'
kill -HUP "$SUP_PID"
check "reload starts the added server" wait_log '"child_ready","child":"server:ops"' 1 5
check "reload logged" wait_log '"config_reloaded"' 1 5

# SIGHUP with a broken config: refused with file, path and reason; the appliance carries on.
echo '{"listen": [{"address": "127.0.0.1:'"$PORT"'", "tls": false}], "edge": {"max_conections": 5}}' >"$WORK/config.json"
kill -HUP "$SUP_PID"
check "a bad config is refused on reload" wait_log 'config_reload_rejected.*config.json: at \$\.edge: unknown key' 1 5
check "still serving after a refused reload" test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")" = 200

# SIGTERM: edges drain first, everything exits, within the configured bound (5 s).
children_before=$(children | awk '{print $1}')
t0=$SECONDS
kill -TERM "$SUP_PID"
wait "$SUP_PID"
rc=$?
SUP_PID=""
check "SIGTERM: supervisor exits 0 (got $rc)" test "$rc" -eq 0
check "SIGTERM: stopped within the 5 s bound" test $((SECONDS - t0)) -le 6
alive=$(for p in $children_before; do kill -0 "$p" 2>/dev/null && echo "$p"; done)
check "SIGTERM: no child left behind" test -z "$alive"
check "SIGTERM: edges drained before the others" bash -c \
	"grep -n 'drain_requested' '$WORK/appliance.log' | head -1 | grep -q edge"
finish
