# shellcheck shell=bash
# bench/common.sh - what bench/run.sh and bench/offsite.sh share: messages, the work folder and cache lock, the measuring tools, statistics.
#
# Sourced after tests/lib/mariadb.sh (for at_exit), with REPO and CACHE set:
#   die MSG / note MSG   fail with "bench: MSG" / print "# MSG" on stderr
#   bench_workdir NAME   lock CACHE (one bench at a time), make the work
#                        folder W=/tmp/NAME.XXXXXX (removed at exit unless
#                        BENCH_KEEP=1) with HOMEDIR, conf/ and out/, build
#                        W/measure and W/hwm.so (bench/measure.c, hwm.c)
#                        and export MEASURE_HWM_SO
#   median, minmax, maxof  of the numbers on stdin
#   calc EXPR            float arithmetic (awk syntax), 4 significant digits

die() {
	printf 'bench: %s\n' "$*" >&2
	exit 1
}
note() { printf '# %s\n' "$*" >&2; }

bench_workdir() {
	mkdir -p "$CACHE"
	exec 9>"$CACHE/lock"
	flock -n 9 || die "another bench uses $CACHE"
	W=$(mktemp -d "/tmp/$1.XXXXXX")
	if [[ ${BENCH_KEEP:-0} = 1 ]]; then
		note "keeping $W"
	else
		at_exit "rm -rf -- $(printf '%q' "$W")"
	fi
	HOMEDIR=$W/home
	mkdir -p "$HOMEDIR" "$W/conf" "$W/out"
	CFLAGS_BENCH=(-std=gnu11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -I"$REPO/include")
	cc "${CFLAGS_BENCH[@]}" -o "$W/measure" "$REPO/bench/measure.c"
	cc "${CFLAGS_BENCH[@]}" -fPIC -shared -o "$W/hwm.so" "$REPO/bench/hwm.c"
	export MEASURE_HWM_SO=$W/hwm.so
}

median() {
	sort -g | awk '{ a[NR] = $1 } END {
		if (NR == 0) { print "nan"; exit }
		if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
minmax() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) printf "%s-%s", lo, hi }'; }
maxof() { sort -g | tail -n 1; }
calc() { awk "BEGIN { v = $1; printf \"%.4g\", v }"; }
