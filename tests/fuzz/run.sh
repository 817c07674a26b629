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
# FUZZ_BUILD/work/NAME.log.  A crash, leak, timeout, out-of-memory or
# sanitizer report makes the target fail; its reproducer (crash-*, leak-*,
# timeout-*, oom-*) is kept in FUZZ_BUILD/artifacts/NAME/ and printed.
# Prints per target: executions, exec/s, cov, ft, corpus size.  Exits 1
# when any target failed.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO"
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
if (($# == 0)); then
	echo "usage: $0 NAME..." >&2
	exit 2
fi

FAILED=()
for name in "$@"; do
	bin=$FUZZ_BUILD/fuzz_$name
	work=$FUZZ_BUILD/work/$name
	art=$FUZZ_BUILD/artifacts/$name
	log=$FUZZ_BUILD/work/$name.log
	if [[ ! -x $bin ]]; then
		echo "fuzz $name: $bin is missing (run make fuzz-build)" >&2
		FAILED+=("$name")
		continue
	fi
	if [[ ! -d tests/fuzz/corpus/$name ]]; then
		echo "fuzz $name: no seed corpus tests/fuzz/corpus/$name" >&2
		FAILED+=("$name")
		continue
	fi
	rm -rf "$work" "$art"
	mkdir -p "$work" "$art"
	cp -p tests/fuzz/corpus/"$name"/* "$work"/
	if [[ -d tests/fuzz/regress/$name ]]; then
		cp -p tests/fuzz/regress/"$name"/* "$work"/ 2>/dev/null || true
	fi
	opts=(-max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
		-artifact_prefix="$art"/)
	if [[ -f tests/fuzz/$name.dict ]]; then
		opts+=(-dict=tests/fuzz/"$name".dict)
	fi
	echo "== fuzz $name: ${FUZZ_SECONDS}s, nice -n 10 $bin ${opts[*]} $work"
	set +e
	nice -n 10 "$bin" "${opts[@]}" "$work" >"$log" 2>&1
	rc=$?
	set -e
	done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	cov=$(grep -oE 'cov: [0-9]+' <<<"$done_line" | cut -d' ' -f2 || true)
	ft=$(grep -oE 'ft: [0-9]+' <<<"$done_line" | cut -d' ' -f2 || true)
	corp=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' <<<"$done_line" | cut -d' ' -f2 || true)
	files=$(find "$work" -maxdepth 1 -type f | wc -l)
	echo "fuzz $name: ${execs:-?} executions, ${speed:-?} exec/s, cov ${cov:-?}, ft ${ft:-?}," \
		"corpus ${corp:-?} (${files} files in $work)"
	found=$(find "$art" -maxdepth 1 -type f | sort)
	if ((rc != 0)) || [[ -n $found ]] ||
		grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log"; then
		echo "fuzz $name: FAILED (exit code $rc); log: $log"
		grep -E 'ERROR: |runtime error:|SUMMARY: ' "$log" | head -n 5 | sed 's/^/    /'
		if [[ -n $found ]]; then
			echo "fuzz $name: reproducer(s), replay with: $bin FILE"
			sed 's/^/    /' <<<"$found"
		fi
		FAILED+=("$name")
	fi
done

if ((${#FAILED[@]} > 0)); then
	echo "fuzz: failed: ${FAILED[*]}"
	exit 1
fi
echo "fuzz: $# target(s), no findings"
