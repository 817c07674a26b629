#!/usr/bin/env bash
# run.sh - run libFuzzer targets (build-fuzz/fuzz_NAME) for FUZZ_SECONDS each on a working copy of their seed corpus; fails on any finding.
#
#   tests/fuzz/run.sh NAME...       (what `make fuzz` runs, after building)
#
# FUZZ_BUILD (default build-fuzz) holds the binaries.  For each NAME the
# working corpus FUZZ_BUILD/work/NAME is made afresh from
# tests/fuzz/corpus/NAME and tests/fuzz/regress/NAME (the tree is never
# written), libFuzzer runs FUZZ_SECONDS (default 60) seconds under nice with
# tests/fuzz/NAME.dict when there is one, and its log stays in
# FUZZ_BUILD/work/NAME.log.  FUZZ_JOBS (default 1) targets run at a time.
# A crash, leak, timeout, out-of-memory or sanitizer report makes the
# target fail; its reproducer (crash-*, leak-*, timeout-*, oom-*) is kept
# in FUZZ_BUILD/artifacts/NAME/ and printed.  Prints per target:
# executions, exec/s, cov, ft, corpus size.  Exits 1 when any target failed.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO"
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_JOBS=${FUZZ_JOBS:-1}
if (($# == 0)); then
	echo "usage: $0 NAME..." >&2
	exit 2
fi

# Run target $1; its report goes to FUZZ_BUILD/work/$1.report, and the
# status is 0 when it found nothing.
run_target() {
	local name=$1
	local bin=$FUZZ_BUILD/fuzz_$name work=$FUZZ_BUILD/work/$name art=$FUZZ_BUILD/artifacts/$name
	local log=$FUZZ_BUILD/work/$name.log report=$FUZZ_BUILD/work/$name.report
	mkdir -p "$FUZZ_BUILD/work"
	: >"$report"
	if [[ ! -x $bin ]]; then
		echo "fuzz $name: FAILED: $bin is missing (run make fuzz-build)" >>"$report"
		return 1
	fi
	if [[ ! -d tests/fuzz/corpus/$name ]]; then
		echo "fuzz $name: FAILED: no seed corpus tests/fuzz/corpus/$name" >>"$report"
		return 1
	fi
	rm -rf "$work" "$art"
	if ! mkdir -p "$work" "$art" || ! cp -p tests/fuzz/corpus/"$name"/* "$work"/; then
		echo "fuzz $name: FAILED: cannot copy tests/fuzz/corpus/$name to $work" >>"$report"
		return 1
	fi
	if [[ -d tests/fuzz/regress/$name ]]; then
		cp -p tests/fuzz/regress/"$name"/* "$work"/ 2>/dev/null || true
	fi
	local opts=(-max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048
		-print_final_stats=1 -artifact_prefix="$art"/)
	if [[ -f tests/fuzz/$name.dict ]]; then
		opts+=(-dict=tests/fuzz/"$name".dict)
	fi
	echo "== fuzz $name: ${FUZZ_SECONDS}s, nice -n 10 $bin ${opts[*]} $work" >>"$report"
	local rc=0
	nice -n 10 "$bin" "${opts[@]}" "$work" >"$log" 2>&1 || rc=$?
	local done_line execs speed cov ft corp files found=()
	done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	cov=$(grep -oE 'cov: [0-9]+' <<<"$done_line" | cut -d' ' -f2 || true)
	ft=$(grep -oE 'ft: [0-9]+' <<<"$done_line" | cut -d' ' -f2 || true)
	corp=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' <<<"$done_line" | cut -d' ' -f2 || true)
	files=$(find "$work" -maxdepth 1 -type f | wc -l)
	echo "fuzz $name: ${execs:-?} executions, ${speed:-?} exec/s, cov ${cov:-?}, ft ${ft:-?}," \
		"corpus ${corp:-?} (${files} files in $work)" >>"$report"
	mapfile -t found < <(find "$art" -maxdepth 1 -type f | sort)
	if ((rc != 0)) || ((${#found[@]} > 0)) ||
		grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log"; then
		{
			echo "fuzz $name: FAILED (exit code $rc); log: $log"
			grep -E 'ERROR: |runtime error:|SUMMARY: ' "$log" | head -n 5 | sed 's/^/    /'
			if ((${#found[@]} > 0)); then
				echo "fuzz $name: reproducer(s), replay with: $bin FILE"
				printf '    %s\n' "${found[@]}"
			fi
		} >>"$report"
		return 1
	fi
	return 0
}

if [[ $(printf '%s\n' "$@" | sort | uniq -d) != "" ]]; then
	echo "$0: a target is named twice (they would share a working corpus)" >&2
	exit 2
fi

FAILED=()
declare -A PIDS=()
# Print target $1's report and note its result (status $2).
finish() {
	cat "$FUZZ_BUILD/work/$1.report"
	if (($2 != 0)); then
		FAILED+=("$1")
	fi
}

running=()
for name in "$@"; do
	if ((FUZZ_JOBS <= 1)); then
		rc=0
		run_target "$name" || rc=$?
		finish "$name" "$rc"
		continue
	fi
	run_target "$name" &
	PIDS[$name]=$!
	running+=("$name")
	if ((${#running[@]} >= FUZZ_JOBS)); then
		# wait for the oldest, so reports come out in the order given
		rc=0
		wait "${PIDS[${running[0]}]}" || rc=$?
		finish "${running[0]}" "$rc"
		running=("${running[@]:1}")
	fi
done
for name in "${running[@]}"; do
	rc=0
	wait "${PIDS[$name]}" || rc=$?
	finish "$name" "$rc"
done

if ((${#FAILED[@]} > 0)); then
	echo "fuzz: failed: ${FAILED[*]}"
	exit 1
fi
echo "fuzz: $# target(s), no findings"
