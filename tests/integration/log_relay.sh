#!/usr/bin/env bash
# Children's log lines reach the supervisor's output as JSON lines stamped with the child's
# real name; plain text (a third-party server's stderr) is wrapped, never passed raw, and a
# child cannot pose as another process.
. "$(dirname "$0")/lib.sh"
PORT=$(free_port)
cat >"$WORK/talker.sh" <<'SH'
echo "plain text from a server" >&2
echo '{"process":"auth","level":"info","event":"spoof"}' >&2
exec sleep 60
SH
chmod 0644 "$WORK/talker.sh"
write_config "$WORK/config.json" '[{"name":"talker","namespace":"t","command":["/bin/sh","'"$WORK"'/talker.sh"]}]'
check "appliance becomes ready" start_appliance "$WORK/config.json"
check "plain text is wrapped as a child_output event" wait_log \
	'"process":"supervisor","event":"child_output","child":"server:talker","line":"plain text from a server"' 1 5
check "a spoofed process name is replaced by the real one" wait_log \
	'"process":"server:talker".*"event":"spoof".*"claimed_process":"auth"|"event":"spoof".*"process":"server:talker"' 1 5
bad=$(grep -v '^{' "$WORK/appliance.log" | head -3)
check "every line of output is a JSON object" test -z "$bad"
check "every line parses as JSON" node -e '
	const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean);
	for (const l of lines) { const o = JSON.parse(l); for (const k of ["time","level","process","event"]) if (!(k in o)) throw new Error("missing " + k + ": " + l); }
' "$WORK/appliance.log"
finish
