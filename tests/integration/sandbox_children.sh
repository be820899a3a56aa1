#!/usr/bin/env bash
# Every child the supervisor starts is confined: seccomp filter, no_new_privs, no
# capabilities, and (when started as root) its own unprivileged uid.
. "$(dirname "$0")/lib.sh"
PORT=$(free_port)
write_config "$WORK/config.json" '[{"name":"data","builtin":"data"},{"name":"ops","builtin":"ops"},
  {"name":"tp","namespace":"tp","command":["'"$BUILD"'/servers/mcpgate-server-secrets"]}]'
check "appliance becomes ready" start_appliance "$WORK/config.json"

declare -A uid_of
n=0
while read -r pid comm; do
	n=$((n + 1))
	check "$comm ($pid): Seccomp 2" test "$(status_field "$pid" Seccomp)" = 2
	check "$comm ($pid): NoNewPrivs 1" test "$(status_field "$pid" NoNewPrivs)" = 1
	check "$comm ($pid): CapEff 0" test "$(status_field "$pid" CapEff)" = 0000000000000000
	check "$comm ($pid): CapBnd 0" test "$(status_field "$pid" CapBnd)" = 0000000000000000
	uid=$(awk '/^Uid:/{print $2}' "/proc/$pid/status")
	if [ "$(id -u)" -eq 0 ]; then
		check "$comm ($pid): non-zero uid ($uid)" test "$uid" -ne 0
		role=${comm%%.*}
		uid_of[$comm]=$uid
	fi
done < <(children)
check "six children running (edge, auth, router, three servers)" test "$n" -eq 6
if [ "$(id -u)" -eq 0 ]; then
	distinct=$(printf '%s\n' "${uid_of[@]}" | sort -u | wc -l)
	check "every role runs as a different uid" test "$distinct" -eq "${#uid_of[@]}"
else
	skip "uid separation needs root"
fi
check "process names show in ps" bash -c "ps --ppid $SUP_PID -o args= | grep -q '^mcpgate-server-data'"
check "supervisor logged readiness" grep -q '"event":"appliance_ready"' "$WORK/appliance.log"
finish
