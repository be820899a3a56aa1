#!/usr/bin/env bash
# Runs every libFuzzer harness for N seconds over a scratch copy of its corpus and prints the
# executions each made. New crashes land in build-fuzz/findings/<name>/.
set -uo pipefail
build=${1:-build-fuzz}
seconds=${2:-600}
root=$(cd "$(dirname "$0")/.." && pwd)
status=0
for bin in "$build"/fuzz/fuzz-*; do
	[ -x "$bin" ] || continue
	name=${bin##*/fuzz-}
	work=$(mktemp -d)
	cp -r "$root/fuzz/corpus/$name/." "$work/"
	mkdir -p "$build/findings/$name"
	log="$build/findings/$name/run.log"
	"$bin" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$build/findings/$name/" \
		"$work" >"$log" 2>&1
	rc=$?
	execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
	echo "fuzz-$name: ${execs:-?} executions in ${seconds}s, exit $rc"
	[ $rc -eq 0 ] || { status=1; tail -30 "$log"; }
	rm -rf "$work"
done
exit $status
