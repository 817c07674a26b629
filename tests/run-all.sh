#!/usr/bin/env bash
# run-all.sh - run every unit test binary and end-to-end script; print "N passed, M failed".
#
#   tests/run-all.sh            everything: the lint first, then unit and e2e
#   tests/run-all.sh lint       only scripts/lint.sh (one test)
#   tests/run-all.sh unit       only $OMA_BUILD/tests/check_* (libcheck binaries)
#   tests/run-all.sh e2e        only tests/e2e/test_*.sh
#   tests/run-all.sh WORD       only tests whose name contains WORD (e.g. store, test_backup)
#
# OMA_BUILD (default "build") is the build folder; `make check SAN=1` passes
# build-san.  Counts are test cases: for a check binary its
# "Checks: X, Failures: Y, Errors: Z" line, for an e2e script its
# "ok - " / "not ok - " lines; the lint is one test.  A test that exits
# non-zero without reporting a failure counts as one failure.  A test that
# could not run here and says so ("NAME: skipped (why)" from a check binary,
# "ok - ... # SKIP why" from a script) is not counted as passed: the skips
# are listed and counted on a line of their own before the summary.  Exits 1
# when anything failed or nothing ran.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
export OMA_BUILD=${OMA_BUILD:-build}
if [[ $OMA_BUILD = /* ]]; then
	BUILD_DIR=$OMA_BUILD
else
	BUILD_DIR=$REPO/$OMA_BUILD
fi
FILTER=${1:-}
UNIT_TIMEOUT=${UNIT_TIMEOUT:-300}
E2E_TIMEOUT=${E2E_TIMEOUT:-600}

PASSED=0
FAILED=0
SKIPPED=0
FAILED_NAMES=()
SKIPPED_LINES=()
OUT=$(mktemp /tmp/oma-run-all.XXXXXX)
trap 'rm -f "$OUT"' EXIT

# Whether test $1 of kind $2 (unit|e2e) is selected by the filter.
selected() {
	case $FILTER in
	'') return 0 ;;
	lint | unit | e2e) [[ $2 = "$FILTER" ]] ;;
	*) [[ $1 = *"$FILTER"* ]] ;;
	esac
}

# Run command $2... with timeout $1, output shown and kept in $OUT; sets RC.
run_one() {
	local limit=$1
	shift
	set +e
	timeout --kill-after=30 "$limit" "$@" 2>&1 | tee "$OUT"
	RC=${PIPESTATUS[0]}
	set -e
}

# Add test $1's counts (passed $2, failed $3) to the totals; the skips it
# reported in $OUT are taken out of its passes.
record() {
	local name=$1 pass=$2 fail=$3 skip line
	skip=0
	while IFS= read -r line; do
		SKIPPED_LINES+=("$name: $line")
		skip=$((skip + 1))
	done < <(grep -E '^[A-Za-z0-9_]+: skipped \(|^ok - .*# SKIP' "$OUT" || true)
	pass=$((pass - skip))
	((pass >= 0)) || pass=0
	SKIPPED=$((SKIPPED + skip))
	if ((RC != 0 && fail == 0)); then
		if ((RC == 124)); then
			echo "# $name: timed out"
		else
			echo "# $name: exit code $RC without a reported failure"
		fi
		fail=1
	fi
	PASSED=$((PASSED + pass))
	FAILED=$((FAILED + fail))
	if ((fail > 0)); then
		FAILED_NAMES+=("$name")
	fi
}

# The lint (scripts/lint.sh, seconds) first: one test, passed or failed.
if selected lint lint; then
	echo "== lint"
	run_one "$UNIT_TIMEOUT" "$REPO/scripts/lint.sh"
	if ((RC == 0)); then
		record lint 1 0
	else
		record lint 0 1
	fi
fi

# Unit tests: libcheck binaries (CK_FORK left at its default).
shopt -s nullglob
for bin in "$BUILD_DIR"/tests/check_*; do
	[[ -f $bin && -x $bin ]] || continue
	name=$(basename "$bin")
	selected "$name" unit || continue
	echo "== $name"
	run_one "$UNIT_TIMEOUT" "$bin"
	line=$(grep -E 'Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$OUT" | tail -n 1 || true)
	checks=0 failures=0 errors=0
	if [[ $line =~ Checks:\ ([0-9]+),\ Failures:\ ([0-9]+),\ Errors:\ ([0-9]+) ]]; then
		checks=${BASH_REMATCH[1]}
		failures=${BASH_REMATCH[2]}
		errors=${BASH_REMATCH[3]}
	fi
	record "$name" $((checks - failures - errors)) $((failures + errors))
done

# End-to-end scripts.
for script in "$REPO"/tests/e2e/test_*.sh; do
	name=$(basename "$script" .sh)
	selected "$name" e2e || continue
	echo "== $name"
	run_one "$E2E_TIMEOUT" bash "$script"
	ok=$(grep -c '^ok - ' "$OUT" || true)
	notok=$(grep -c '^not ok - ' "$OUT" || true)
	record "$name" "$ok" "$notok"
done

if ((${#FAILED_NAMES[@]} > 0)); then
	echo "# failed: ${FAILED_NAMES[*]}"
fi
if ((SKIPPED > 0)); then
	printf '# skipped: %s\n' "${SKIPPED_LINES[@]}"
	echo "# $SKIPPED skipped (not counted as passed)"
fi
if ((PASSED + FAILED == 0)); then
	echo "# no tests ran (filter: '${FILTER}', build: $BUILD_DIR)"
fi
echo "$PASSED passed, $FAILED failed"
if ((FAILED > 0 || PASSED == 0)); then
	exit 1
fi
