#!/usr/bin/env bash
# A child that makes a system call outside its policy dies by SIGSYS; the supervisor logs
# it and starts a new one. The call is injected into the real, running binary with gdb, so
# the filter under test is the one in production, not a test build.
. "$(dirname "$0")/lib.sh"
command -v gdb >/dev/null || { skip "gdb not installed"; exit 0; }
PORT=$(free_port)
write_config "$WORK/config.json" '[{"name":"data","builtin":"data"}]'
check "appliance becomes ready" start_appliance "$WORK/config.json"

inject() { # inject PID SYSCALL_NR
	timeout 20 gdb -nx -p "$1" -batch -ex "call (long)syscall($2, 0, 0, 0, 0, 0)" >/dev/null 2>&1
}
for role in edge auth router server-data; do
	pid=$(child_pid "mcpgate-$role")
	[ -n "$pid" ] || { not_ok "$role is running"; continue; }
	before=$(grep -c '"child_ready"' "$WORK/appliance.log")
	inject "$pid" 165 # mount(2): in no policy
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	check "$role: killed after a forbidden mount(2)" bash -c "! kill -0 $pid 2>/dev/null"
	check "$role: supervisor logged SIGSYS" grep -qE "\"child_killed\".*\"pid\":$pid,\"signal\":\"SIGSYS\"" "$WORK/appliance.log"
	check "$role: restarted and ready again" wait_log '"child_ready"' $((before + 1)) 10
done
check "appliance ready after all restarts" wait_ready 10
finish
