#!/usr/bin/env bash
# run.sh - measure oma against mysqldump | gzip and | zstd, side by side, on a private MariaDB (make bench).
#
# Starts its own MariaDB (tests/lib/mariadb.sh) on a data folder in the bench
# cache, makes the data sets of bench/data.sh once, and measures for each set,
# all methods interleaved in every repetition:
#
#   floor           mysqldump --result-file=/dev/null, one per database,
#                   BENCH_PAR at a time (xargs -P)
#   dump|gzip       mysqldump DB | gzip -6 > DB.sql.gz, the same way
#   dump|zstd       mysqldump DB | zstd -3 > DB.sql.zst, the same way
#   oma gzip        oma, compression = "gzip" (level 6), parallelism BENCH_PAR
#   oma zstd        oma, compression = "zstd" (level 3)
#   oma no-change   (sets a and c) oma with skip_unchanged_dbs = true after a
#                   first run, nothing changed in between
#   oma gzip + age  (sets a and b) oma gzip with [encryption] to one
#   oma zstd + age  recipient (age-keygen): every dump NAME.sql.gz.age
#
# For each: the median wall time, CPU time (user + sys of the whole process
# tree: oma or the scripts, mysqldump, gzip ...), the server's CPU time
# meanwhile, the peak RSS of the oma process itself (measured in oma by
# bench/hwm.c at exit) and the largest RSS of any process of the tree, and
# the ratio to the floor.  Set b also measures the compressors alone on a
# saved dump and the age encryptor alone (build/tests/age-tool) on oma's
# big.sql.gz, checks oma's .sql.gz with `gzip -t` and a restore (CHECKSUM
# TABLE against the original), its .sql.zst with `zstd -t`, and that
# `age -d` of big.sql.gz.age passes `gzip -t`.  Then the
# targets of the issue are checked and printed as PASS/FAIL with the numbers.
# The exit code is 0 even when a target fails (this is a measurement); it is
# 1 only when the bench itself could not run.
#
# Environment:
#   BENCH_SETS="a b c"   data sets to measure (a: 3 x 200k rows + 300 tiny
#                        databases; b: one database, ~1 GiB of dump; c: 5,000
#                        tiny databases)
#   BENCH_REPS=3         repetitions of every method
#   BENCH_PAR=2          dumps at once (oma's parallelism, xargs -P)
#   BENCH_CACHE=/var/tmp/oma-bench  where generated server data folders are
#                        kept between runs (made again when bench/data.sh changes)
#   BENCH_B_MB=1024      size of set b's dump in MiB
#   BENCH_C_DBS=5000     databases of set c
#   BENCH_RESTORE=1      restore set b's oma dump and compare checksums (0: skip)
#   BENCH_METHODS="..."  measure only these methods (names as in results.tsv:
#                        floor gzip zstd oma-gzip oma-zstd oma-reuse
#                        oma-gzip-all oma-gzip-age oma-zstd-age, set b's
#                        c-gzip1 c-oma-gzip1 c-oma-gzip2 c-zstd1
#                        c-oma-zstd1 c-oma-zstd2 c-age); targets
#                        whose methods were not measured are not printed
#   BENCH_KEEP=1         keep the work folder (/tmp/oma-bench.XXXXXX)
#   OMA_BUILD=build      where oma and its plugins are
#
# Quick run:  BENCH_SETS=a BENCH_REPS=1 make bench
# shellcheck disable=SC2016 # sh -c scripts expand in the child
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tests/lib/mariadb.sh
. "$REPO/tests/lib/mariadb.sh"
# shellcheck source=bench/data.sh
. "$REPO/bench/data.sh"
# shellcheck source=bench/common.sh
. "$REPO/bench/common.sh"

SETS=${BENCH_SETS:-a b c}
REPS=${BENCH_REPS:-3}
PAR=${BENCH_PAR:-2}
CACHE=${BENCH_CACHE:-/var/tmp/oma-bench}
OMA_BUILD=${OMA_BUILD:-build}
[[ $OMA_BUILD = /* ]] || OMA_BUILD=$REPO/$OMA_BUILD
OMA=$OMA_BUILD/oma
GZ_LEVEL=6
ZS_LEVEL=3
LOCK_PORT=$((20000 + RANDOM % 12000))

[[ -x $OMA ]] || die "$OMA not found (run make first)"
[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "BENCH_REPS must be a positive number"
for s in $SETS; do
	[[ $s =~ ^[abc]$ ]] || die "unknown data set '$s' (BENCH_SETS: a b c)"
done
for tool in gzip zstd xargs cc age age-keygen; do
	command -v "$tool" >/dev/null || die "$tool not found"
done

bench_workdir oma-bench
cc "${CFLAGS_BENCH[@]}" -o "$W/compress" "$REPO/bench/compress.c" -ldl
AGE_TOOL=$OMA_BUILD/tests/age-tool
[[ -x $AGE_TOOL ]] || die "$AGE_TOOL not found (make tests)"
if [[ -z ${BENCH_METHODS:-} || $BENCH_METHODS = *-age* ]]; then
	[[ -f $OMA_BUILD/plugins/encrypt-age.so ]] || die "$OMA_BUILD/plugins/encrypt-age.so not found (make)"
fi
# The recipient of the encrypted methods; its identity decrypts set b's file.
age-keygen -o "$W/age-key.txt" 2>/dev/null
AGE_RECIPIENT=$(age-keygen -y "$W/age-key.txt")

RESULTS=$W/results.tsv   # set method rep wall cpu srv_cpu tree_kb peak_kb forks rc bytes
: >"$RESULTS"

# Run "$@" under measure (with -n oma when $1 is "oma:"), record the result
# as set $SET, method $M, repetition $REP; $OUTDIR's size is the output size.
measure_run() {
	local opts=(-s "$MDB_PID")
	if [[ $1 = oma: ]]; then
		opts+=(-n oma)
		shift
	fi
	"$W/measure" "${opts[@]}" -- "$@" </dev/null >"$W/last.out" 2>"$W/last.err" || true
	local line kv wall='' cpu='' srv='' tree='' peak='' forks='' rc=''
	line=$(grep '^wall=' "$W/last.err" | tail -n 1)
	for kv in $line; do
		case ${kv%%=*} in
		wall) wall=${kv#*=} ;;
		cpu) cpu=${kv#*=} ;;
		srv_cpu) srv=${kv#*=} ;;
		tree_maxrss_kb) tree=${kv#*=} ;;
		peak_kb) peak=${kv#*=} ;;
		forks) forks=${kv#*=} ;;
		rc) rc=${kv#*=} ;;
		esac
	done
	local bytes=0
	if [[ -n ${OUTDIR:-} && -d $OUTDIR ]]; then
		bytes=$(find "$OUTDIR" -type f \( -name '*.sql.gz' -o -name '*.sql.zst' -o -name '*.sql.*.age' \) -printf '%s\n' |
			awk '{ s += $1 } END { printf "%d", s }')
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$SET" "$M" "$REP" "$wall" "$cpu" "$srv" \
		"$tree" "$peak" "$forks" "${rc:-99}" "$bytes" >>"$RESULTS"
	if [[ ${rc:-99} != 0 ]]; then
		note "$SET/$M run $REP failed (exit ${rc:-?}):"
		grep -v '^wall=' "$W/last.err" | tail -n 5 | sed 's/^/#   /' >&2 || true
		if [[ $M = oma* && -n ${OUTDIR:-} ]]; then
			tail -n 5 "$OUTDIR"/last/oma.log 2>/dev/null | sed 's/^/#   /' >&2 || true
		fi
	fi
	note "$SET/$M run $REP: wall ${wall}s cpu ${cpu}s server ${srv}s peak ${peak}kB"
}

# Values of column $3 (1-based: 4 wall, 5 cpu ...) for set $1, method $2.
column() {
	awk -F'\t' -v s="$1" -v m="$2" -v c="$3" '$1 == s && $2 == m && $10 == 0 { print $c }' "$RESULTS"
}

# Column $4 of method $2 minus that of method $3 in set $1, run by run
# (only runs both completed), one difference per line.
paired_diff() {
	awk -F'\t' -v s="$1" -v a="$2" -v b="$3" -v c="$4" '
		$1 == s && $10 == 0 && $2 == a { x[$3] = $c }
		$1 == s && $10 == 0 && $2 == b { y[$3] = $c }
		END { for (r in x) if (r in y) printf "%d\t%.3f\n", r, x[r] - y[r] }' "$RESULTS" |
		sort -n | cut -f2
}

failures() { awk -F'\t' -v s="$1" -v m="$2" '$1 == s && $2 == m && $10 != 0' "$RESULTS" | wc -l; }

write_conf() {
	local file=$1 dir=$2
	shift 2
	{
		echo '[main]'
		printf 'backup_dir = "%s"\n' "$dir"
		printf 'lock_port = %s\n' "$LOCK_PORT"
		printf 'parallelism = %s\n' "$PAR"
		echo 'versions = 1'
		printf 'mysqldump_bin = "%s"\n' "$MDB_DUMP_BIN"
		printf 'mysql_bin = "%s"\n' "$MDB_CLIENT_BIN"
		printf '%s\n' "$@"
	} >"$file"
}

run_oma() { (cd "$W" && exec env HOME="$HOMEDIR" LC_ALL=C "$OMA" "$@"); }

# ---- server per data set ------------------------------------------------------

# Start the server on the cached data folder of set $1, making the data first
# when the cache has none (or an older version).
start_set() {
	local set=$1 dir=$CACHE/$1 id
	id=$(data_id "$set")
	MDB_DIR=$dir
	MDB_SOCK=$dir/sock
	MDB_PID_FILE=$dir/pid
	if [[ -f $MDB_PID_FILE ]]; then
		local old
		old=$(cat "$MDB_PID_FILE" 2>/dev/null || true)
		if [[ -n $old ]] && _mdb_alive "$old"; then
			die "a server already runs on $dir (pid $old); stop it first"
		fi
		rm -f "$MDB_PID_FILE"
	fi
	# The server's temporary files go to a folder of its own (others may
	# clean /tmp under its feet).
	local tmp=$dir.tmp
	mkdir -p "$tmp"
	if [[ -f $dir/ready && $(cat "$dir/ready") = "$id" ]]; then
		note "set $set: cached data in $dir"
		TMPDIR=$tmp mdb_start || die "server on $dir did not start"
	else
		note "set $set: generating data ($id) in $dir - once, kept for later runs"
		rm -rf -- "$dir"
		TMPDIR=$tmp mdb_init "$dir" >"$W/mdb-init.log" 2>&1 || {
			cat "$W/mdb-init.log" >&2
			die "mariadb-install-db failed"
		}
		local t0=$SECONDS
		mdb_sql -e 'SET GLOBAL innodb_flush_log_at_trx_commit = 0'
		data_sql "$set" | mdb_sql || die "generating set $set failed"
		# A slow shutdown purges and merges everything: the cached
		# folder starts with no background work pending.
		mdb_sql -e 'SET GLOBAL innodb_fast_shutdown = 0'
		mdb_stop
		echo "$id" >"$dir/ready"
		note "set $set: generated in $((SECONDS - t0)) s"
		TMPDIR=$tmp mdb_start || die "server on $dir did not start"
	fi
	printf '[client]\nsocket=%s\nuser=%s\n' "$MDB_SOCK" "$MDB_USER" >"$HOMEDIR/.my.cnf"
	chmod 600 "$HOMEDIR/.my.cnf"
	if [[ $set = b ]]; then
		# "One database": every method dumps only big (oma: do_databases).
		echo big >"$W/dbs"
		DO_DBS='do_databases = ["big"]'
	else
		data_dbs >"$W/dbs"
		DO_DBS=''
	fi
	tr '\n' '\0' <"$W/dbs" >"$W/dbs0"
}

# ---- methods ------------------------------------------------------------------

m_floor() {
	OUTDIR='' measure_run env HOME="$HOMEDIR" xargs -a "$W/dbs0" -0 -P "$PAR" -n 1 \
		"$MDB_DUMP_BIN" --result-file=/dev/null
}

m_script() { # gzip|zstd
	local comp=$1 out=$W/out/$1
	rm -rf -- "$out"
	mkdir -p "$out"
	local script
	if [[ $comp = gzip ]]; then
		script='"$0" "$2" | gzip -'$GZ_LEVEL' > "$1/$2.sql.gz"'
	else
		script='"$0" "$2" | zstd -q -'$ZS_LEVEL' > "$1/$2.sql.zst"'
	fi
	OUTDIR=$out measure_run env HOME="$HOMEDIR" xargs -a "$W/dbs0" -0 -P "$PAR" -n 1 \
		sh -c "$script" "$MDB_DUMP_BIN" "$out"
}

m_oma() { # gzip|zstd
	local comp=$1 out=$W/out/oma-$1
	rm -rf -- "$out"
	mkdir -p "$out"
	write_conf "$W/conf/oma-$comp.conf" "$out" "compression = \"$comp\"" "$DO_DBS"
	OUTDIR=$out measure_run oma: env HOME="$HOMEDIR" LC_ALL=C "$OMA" -c "$W/conf/oma-$comp.conf"
}

# oma gzip|zstd with [encryption] to one recipient.
m_oma_age() { # gzip|zstd
	local comp=$1 out=$W/out/oma-$1-age
	rm -rf -- "$out"
	mkdir -p "$out"
	write_conf "$W/conf/oma-$comp-age.conf" "$out" "compression = \"$comp\"" "$DO_DBS" \
		'[encryption]' "recipients = [\"$AGE_RECIPIENT\"]"
	OUTDIR=$out measure_run oma: env HOME="$HOMEDIR" LC_ALL=C "$OMA" -c "$W/conf/oma-$comp-age.conf"
}

# Set b with the server's mysql schema as well (what a default config does):
# two dumps start at once, so the big one gets threads = CPUs / 2.
m_oma_all() {
	local out=$W/out/oma-gzip-all
	rm -rf -- "$out"
	mkdir -p "$out"
	write_conf "$W/conf/oma-gzip-all.conf" "$out" 'compression = "gzip"'
	OUTDIR=$out measure_run oma: env HOME="$HOMEDIR" LC_ALL=C "$OMA" -c "$W/conf/oma-gzip-all.conf"
}

# The no-change run: a first (unmeasured) run in setup_reuse, then every
# measured run finds nothing changed.
setup_reuse() {
	local out=$W/out/oma-reuse
	rm -rf -- "$out"
	mkdir -p "$out"
	write_conf "$W/conf/oma-reuse.conf" "$out" 'compression = "gzip"' 'skip_unchanged_dbs = true'
	note "$SET: first run for the no-change measurement"
	run_oma -c "$W/conf/oma-reuse.conf" >/dev/null 2>"$W/reuse-first.err" ||
		note "$SET: the first skip_unchanged_dbs run failed: $(tail -n 3 "$W/reuse-first.err")"
}

m_reuse() {
	sleep 1.1 # a new backup folder name (one per second)
	OUTDIR=$W/out/oma-reuse measure_run oma: env HOME="$HOMEDIR" LC_ALL=C "$OMA" -c "$W/conf/oma-reuse.conf"
	local log=$W/out/oma-reuse/last/oma.log
	REUSED=$(grep -c 'Reusing previous backup' "$log" 2>/dev/null || true)
	DUMPED=$(grep -c 'Backup successfully' "$log" 2>/dev/null || true)
	DUMPED_NAMES=$(grep -o "DB '.*': Backup successfully" "$log" 2>/dev/null | sed "s/^DB '//; s/': Backup successfully$//" |
		head -n 5 | tr '\n' ' ' || true)
}

# Seconds of the phases of the oma run logged in $1: start to the first
# dump, the dumps (to the last "Backup successfully"), after the dumps.
phases() {
	awk '
	function t(s, a) { split(s, a, /[:,]/); return a[1] * 3600 + a[2] * 60 + a[3] + a[4] / 1000 }
	{ now = t($2) }
	NR == 1 { first = now }
	/Will start [0-9]+ parallel/ { start = now }
	/Backup successfully|Reusing previous backup/ { last = now }
	{ end = now }
	END {
		if (start == "") start = first
		if (last == "") last = start
		printf "before the dumps %.2f s, dumps %.2f s, after the dumps %.2f s", start - first, last - start, end - last
	}' "$1" 2>/dev/null || true
}

# One more no-change run with counting wrappers as mysqldump_bin and
# mysql_bin: how many client processes a no-change run starts.
count_processes() {
	local bin
	for bin in mysqldump mysql; do
		local real=$MDB_DUMP_BIN
		[[ $bin = mysql ]] && real=$MDB_CLIENT_BIN
		printf '#!/bin/sh\necho x >>"%s"\nexec "%s" "$@"\n' "$W/count.$bin" "$real" >"$W/count-$bin"
		chmod +x "$W/count-$bin"
		: >"$W/count.$bin"
	done
	sed -e "s|^mysqldump_bin = .*|mysqldump_bin = \"$W/count-mysqldump\"|" \
		-e "s|^mysql_bin = .*|mysql_bin = \"$W/count-mysql\"|" \
		"$W/conf/oma-reuse.conf" >"$W/conf/oma-count.conf"
	sleep 1.1
	run_oma -c "$W/conf/oma-count.conf" >/dev/null 2>&1 || true
	COUNT_DUMP=$(wc -l <"$W/count.mysqldump")
	COUNT_MYSQL=$(wc -l <"$W/count.mysql")
	COUNT_REUSED=$(grep -c 'Reusing previous backup' "$W/out/oma-reuse/last/oma.log" 2>/dev/null || true)
}

# ---- set b extras ---------------------------------------------------------------

# Whether method $1 is to be measured (BENCH_METHODS; unset: all).
wanted() { [[ -z ${BENCH_METHODS:-} || " $BENCH_METHODS " = *" $1 "* ]]; }

# Compressors alone on a saved dump (page cache), single and 2 threads, and
# the encryption stage alone on what it encrypts in oma: the gzip plugin's
# output (oma's big.sql.gz).
b_compressors() {
	local r
	local -A cmd=(
		[c-gzip1]="gzip -$GZ_LEVEL <'$W/b.sql' >/dev/null"
		[c-oma-gzip1]="'$W/compress' '$OMA_BUILD/plugins/compress-gzip.so' $GZ_LEVEL 1 <'$W/b.sql' >/dev/null"
		[c-oma-gzip2]="'$W/compress' '$OMA_BUILD/plugins/compress-gzip.so' $GZ_LEVEL 2 <'$W/b.sql' >/dev/null"
		[c-zstd1]="zstd -q -$ZS_LEVEL <'$W/b.sql' >/dev/null"
		[c-oma-zstd1]="'$W/compress' '$OMA_BUILD/plugins/compress-zstd.so' $ZS_LEVEL 1 <'$W/b.sql' >/dev/null"
		[c-oma-zstd2]="'$W/compress' '$OMA_BUILD/plugins/compress-zstd.so' $ZS_LEVEL 2 <'$W/b.sql' >/dev/null"
		[c-age]="'$AGE_TOOL' encrypt -r '$AGE_RECIPIENT' <'$W/out/oma-gzip/last/big.sql.gz' >/dev/null"
	)
	for ((r = 1; r <= REPS; r++)); do
		REP=$r
		OUTDIR=''
		for M in c-gzip1 c-oma-gzip1 c-oma-gzip2 c-zstd1 c-oma-zstd1 c-oma-zstd2 c-age; do
			wanted "$M" || continue
			if [[ $M = c-age && ! -f $W/out/oma-gzip/last/big.sql.gz ]]; then
				continue
			fi
			measure_run sh -c "${cmd[$M]}"
		done
	done
}

# gzip -t and a restore of oma's big.sql.gz, zstd -t of its big.sql.zst.
b_verify() {
	local gz=$W/out/oma-gzip/last/big.sql.gz zst=$W/out/oma-zstd/last/big.sql.zst
	VERIFY_GZ=FAIL
	VERIFY_ZST=FAIL
	VERIFY_RESTORE=skipped
	VERIFY_AGE=FAIL
	if [[ -f $gz ]] && gzip -t "$gz"; then VERIFY_GZ=PASS; fi
	local enc=$W/out/oma-gzip-age/last/big.sql.gz.age
	if [[ -f $enc ]] && age -d -i "$W/age-key.txt" "$enc" | gzip -t; then VERIFY_AGE=PASS; fi
	if [[ -f $zst ]] && zstd -q -t "$zst"; then VERIFY_ZST=PASS; fi
	if [[ ${BENCH_RESTORE:-1} = 1 && -f $gz ]]; then
		note "b: restoring oma's big.sql.gz into big_restore"
		local t0=$SECONDS
		mdb_sql -e 'DROP DATABASE IF EXISTS big_restore; CREATE DATABASE big_restore'
		if zcat "$gz" | mdb_sql big_restore; then
			local want got
			want=$(mdb_sql -N -B -e 'CHECKSUM TABLE big.orders, big.events' | awk '{ print $2 }' | tr '\n' ' ')
			got=$(mdb_sql -N -B -e 'CHECKSUM TABLE big_restore.orders, big_restore.events' | awk '{ print $2 }' | tr '\n' ' ')
			RESTORE_SUMS="original $want/ restored $got"
			if [[ -n $want && $want = "$got" ]]; then VERIFY_RESTORE=PASS; else VERIFY_RESTORE=FAIL; fi
		else
			VERIFY_RESTORE=FAIL
			RESTORE_SUMS="the restore failed"
		fi
		mdb_sql -e 'DROP DATABASE IF EXISTS big_restore'
		note "b: restore took $((SECONDS - t0)) s"
	fi
}

# ---- report ---------------------------------------------------------------------

REPORT=$W/report.txt
: >"$REPORT"
out() { printf '%s\n' "$*" | tee -a "$REPORT"; }
TARGETS=$W/targets.txt
: >"$TARGETS"
target() { # NAME PASS|FAIL TEXT
	printf '%-6s %s: %s\n' "$2" "$1" "$3" >>"$TARGETS"
}

method_label() {
	case $1 in
	floor) echo 'floor (mysqldump >/dev/null)' ;;
	gzip) echo "mysqldump | gzip -$GZ_LEVEL" ;;
	zstd) echo "mysqldump | zstd -$ZS_LEVEL" ;;
	oma-gzip) echo 'oma gzip' ;;
	oma-zstd) echo 'oma zstd' ;;
	oma-reuse) echo 'oma no-change (skip_unchanged)' ;;
	oma-gzip-all) echo 'oma gzip, big + mysql schema' ;;
	oma-gzip-age) echo 'oma gzip + age' ;;
	oma-zstd-age) echo 'oma zstd + age' ;;
	c-age) echo 'age encryptor alone, on .sql.gz' ;;
	c-gzip1) echo "gzip -$GZ_LEVEL (1 thread)" ;;
	c-oma-gzip1) echo 'oma gzip plugin, 1 thread' ;;
	c-oma-gzip2) echo 'oma gzip plugin, 2 threads' ;;
	c-zstd1) echo "zstd -$ZS_LEVEL" ;;
	c-oma-zstd1) echo 'oma zstd plugin, 1 thread' ;;
	c-oma-zstd2) echo 'oma zstd plugin, 2 threads' ;;
	*) echo "$1" ;;
	esac
}

# Print the table of set $1 for methods $2...; ratios against $FLOOR_WALL.
table() {
	local set=$1 m
	shift
	out "$(printf '%-32s %-20s %7s %9s %9s %10s %10s %10s' 'method' 'wall s (min-max)' "${RATIO_LABEL:-x floor}" \
		'CPU s' 'server s' 'oma RSS' 'max RSS' 'output MB')"
	for m in "$@"; do
		local wall range cpu srv peak tree bytes ratio fails
		wall=$(column "$set" "$m" 4 | median)
		range=$(column "$set" "$m" 4 | minmax)
		cpu=$(column "$set" "$m" 5 | median)
		srv=$(column "$set" "$m" 6 | median)
		peak=$(column "$set" "$m" 8 | maxof)
		tree=$(column "$set" "$m" 7 | maxof)
		bytes=$(column "$set" "$m" 11 | maxof)
		fails=$(failures "$set" "$m")
		ratio=n/a
		if [[ $wall != nan && -n ${FLOOR_WALL:-} && $FLOOR_WALL != nan ]]; then
			ratio=$(calc "$wall / $FLOOR_WALL")
		fi
		local peak_s=- tree_s=- bytes_s=-
		[[ -n $peak && $peak != -1 ]] && peak_s="$(calc "$peak / 1024") MiB"
		[[ -n $tree ]] && tree_s="$(calc "$tree / 1024") MiB"
		[[ -n $bytes && $bytes != 0 ]] && bytes_s=$(calc "$bytes / 1e6")
		local line
		line=$(printf '%-32s %-20s %7s %9s %9s %10s %10s %10s' "$(method_label "$m")" "$wall ($range)" \
			"$ratio" "$cpu" "$srv" "$peak_s" "$tree_s" "$bytes_s")
		((fails > 0)) && line="$line  [$fails run(s) FAILED]"
		out "$line"
	done
}

# ---- main -------------------------------------------------------------------------

START_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
out "oma bench - $(date -u '+%Y-%m-%d %H:%M UTC')"
out "host: $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, load average at start $START_LOAD"
out "oma $("$OMA" -v) ($(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?')), $("$MDB_SERVER_BIN" --version | sed 's/.*Ver //; s/ for .*//'), $("$MDB_DUMP_BIN" --version | sed 's/.*Distrib //; s/,.*//;') dump client"
out "$(gzip --version | head -n 1), $(zstd --version | sed 's/^\*\*\* //; s/ \*\*\*$//; s/, by.*//')"
out "parallelism $PAR, $REPS run(s) of every method (median shown), sets: $SETS"
out "command: ${BENCH_METHODS:+BENCH_METHODS=\"$BENCH_METHODS\" }BENCH_SETS=\"$SETS\" BENCH_REPS=$REPS BENCH_PAR=$PAR make bench"

for SET in $SETS; do
	start_set "$SET"
	NDBS=$(wc -l <"$W/dbs")
	if [[ $SET != b ]]; then
		note "$SET: settling the data (FLUSH TABLES ... FOR EXPORT)"
		data_settle
	fi
	# Warm-up: buffer pool and page cache, and the size of the dump.
	note "$SET: warm-up dump (and its size)"
	if [[ $SET = b ]]; then
		# Kept for the compressors alone.
		env HOME="$HOMEDIR" "$MDB_DUMP_BIN" big >"$W/b.sql"
		DUMP_BYTES=$(stat -c %s "$W/b.sql")
	else
		DUMP_BYTES=$(env HOME="$HOMEDIR" xargs -a "$W/dbs0" -0 -P "$PAR" -n 1 "$MDB_DUMP_BIN" | wc -c) ||
			note "$SET: the warm-up dump reported errors (see above)"
	fi
	methods=(floor gzip zstd oma-gzip oma-zstd)
	if [[ $SET = b ]]; then
		methods+=(oma-gzip-all oma-gzip-age oma-zstd-age)
	elif [[ $SET = a ]]; then
		methods+=(oma-reuse oma-gzip-age oma-zstd-age)
	else
		methods+=(oma-reuse)
	fi
	if [[ -n ${BENCH_METHODS:-} ]]; then
		kept=()
		for M in "${methods[@]}"; do
			if wanted "$M"; then kept+=("$M"); fi
		done
		methods=("${kept[@]}")
	fi
	if [[ " ${methods[*]} " = *" oma-reuse "* ]]; then
		setup_reuse
	fi
	for ((REP = 1; REP <= REPS; REP++)); do
		for M in "${methods[@]}"; do
			case $M in
			floor) m_floor ;;
			gzip | zstd) m_script "$M" ;;
			oma-gzip | oma-zstd) m_oma "${M#oma-}" ;;
			oma-reuse) m_reuse ;;
			oma-gzip-all) m_oma_all ;;
			oma-gzip-age) m_oma_age gzip ;;
			oma-zstd-age) m_oma_age zstd ;;
			esac
		done
	done
	if [[ $SET = b ]]; then
		b_compressors
		b_verify
	fi
	if [[ $SET = c && " ${methods[*]} " = *" oma-reuse "* ]]; then
		count_processes
	fi

	FLOOR_WALL=$(column "$SET" floor 4 | median)
	out ''
	case $SET in
	a) out "== (a) 3 databases x 200k rows + 300 tiny ones: $NDBS databases (with mysql), $(calc "$DUMP_BYTES / 1e6") MB of dump" ;;
	b) out "== (b) one big database (do_databases = [\"big\"]): $(calc "$DUMP_BYTES / 1e6") MB of dump" ;;
	c) out "== (c) $((NDBS - 1)) tiny databases (3 tables each) + mysql: $(calc "$DUMP_BYTES / 1e6") MB of dump" ;;
	esac
	table "$SET" "${methods[@]}"
	for m in oma-gzip oma-zstd oma-reuse oma-gzip-age; do
		if [[ -f $W/out/$m/last/oma.log ]]; then
			out "   $(method_label "$m"), last run: $(phases "$W/out/$m/last/oma.log")"
		fi
	done
	if [[ $SET = b ]]; then
		out ''
		out "   compressors alone on the saved dump ($(calc "$(stat -c %s "$W/b.sql") / 1e6") MB, page cache), x = ratio to gzip -$GZ_LEVEL alone:"
		FLOOR_WALL=$(column b c-gzip1 4 | median) RATIO_LABEL='x gzip' table b c-gzip1 c-oma-gzip1 c-oma-gzip2 c-zstd1 c-oma-zstd1 c-oma-zstd2 c-age
	fi

	# ---- targets of this set
	w() { column "$SET" "$1" 4 | median; }
	# Whether every method named was measured (at least one good run).
	have() {
		local m
		for m in "$@"; do
			[[ -n $(column "$SET" "$m" 4) ]] || return 1
		done
	}
	case $SET in
	a)
		if have oma-gzip oma-gzip-age; then
			r=$(calc "$(w oma-gzip-age) / $(w oma-gzip)")
			v=FAIL; [[ $(calc "$r <= 1.10") = 1 ]] && v=PASS
			target "(a) oma gzip + age <= 1.10 x oma gzip" $v "$(w oma-gzip-age) s / $(w oma-gzip) s = $r"
		fi
		if have oma-zstd oma-zstd-age; then
			r=$(calc "$(w oma-zstd-age) / $(w oma-zstd)")
			target "(a) info: oma zstd + age vs oma zstd" "$([[ $(calc "$r <= 1.10") = 1 ]] && echo PASS || echo INFO)" \
				"$(w oma-zstd-age) s / $(w oma-zstd) s = $r"
		fi
		if have gzip floor oma-gzip oma-zstd oma-reuse; then
			r=$(calc "$(w oma-gzip) / $(w gzip)")
			v=FAIL; [[ $(calc "$r <= 0.85") = 1 ]] && v=PASS
			target "(a) oma gzip <= 0.85 x mysqldump|gzip" $v "$(w oma-gzip) s / $(w gzip) s = $r"
			r=$(calc "$(w oma-zstd) / $(w floor)")
			v=FAIL; [[ $(calc "$r <= 1.15") = 1 ]] && v=PASS
			target "(a) oma zstd <= 1.15 x floor" $v "$(w oma-zstd) s / $(w floor) s = $r"
			target "(a) info: no-change run" "$([[ ${REUSED:-0} = "$NDBS" ]] && echo PASS || echo INFO)" \
				"median $(w oma-reuse) s; last run: ${REUSED:-0} of $NDBS reused, ${DUMPED:-0} dumped ${DUMPED_NAMES:+($DUMPED_NAMES)}"
		fi
		;;
	b)
		if have oma-gzip oma-gzip-age c-oma-gzip1; then
			# The stage's CPU in oma: user + sys of the whole run
			# (oma and mysqldump) with encryption minus without,
			# against the gzip plugin's CPU alone on the same dump
			# (1 thread: every block compressed once).  The
			# difference is taken run by run (run N of both methods
			# ran one after the other, so they share the machine's
			# state) and its median is the figure; the difference of
			# the two medians is shown beside it.
			cpu_plain=$(column b oma-gzip 5 | median)
			cpu_enc=$(column b oma-gzip-age 5 | median)
			cpu_comp=$(column b c-oma-gzip1 5 | median)
			diffs=$(paired_diff b oma-gzip-age oma-gzip 5)
			cpu_diff=$(median <<<"$diffs")
			r=$(calc "$cpu_diff / $cpu_comp")
			v=FAIL; [[ $(calc "$r <= 0.10") = 1 ]] && v=PASS
			target "(b) encryption stage <= 10 % of the compressor's CPU (oma gzip + age - oma gzip, run by run) / gzip plugin" $v \
				"median of ($(tr '\n' ' ' <<<"$diffs" | sed 's/ $//')) s = $cpu_diff s / $cpu_comp s = $r; difference of the medians: ($cpu_enc s - $cpu_plain s) / $cpu_comp s = $(calc "($cpu_enc - $cpu_plain) / $cpu_comp")"
			if have c-age; then
				cpu_age=$(column b c-age 5 | median)
				r=$(calc "$cpu_age / $cpu_comp")
				v=FAIL; [[ $(calc "$r <= 0.10") = 1 ]] && v=PASS
				target "(b) age encryptor alone on big.sql.gz <= 10 % of the gzip plugin's CPU on the dump" $v \
					"$cpu_age s / $cpu_comp s = $r"
			fi
			target "(b) age -d of oma's big.sql.gz.age passes gzip -t" "$VERIFY_AGE" "$W/out/oma-gzip-age/last/big.sql.gz.age"
		fi
		for c in gzip-age zstd-age; do
			have "oma-$c" || continue
			p=$(column b "oma-$c" 8 | maxof)
			v=FAIL; [[ -n $p && $p != -1 && $p -le 32768 ]] && v=PASS
			target "(b) peak RSS of oma <= 32 MiB, ${c/-/ + }" $v "$(calc "${p:-0} / 1024") MiB (highest of $REPS runs)"
		done
		if have floor gzip zstd oma-gzip oma-zstd c-gzip1 c-oma-gzip1 c-oma-gzip2; then
			size=$(stat -c %s "$W/b.sql")
			t_oma=$(w oma-gzip)
			t_gz1=$(column b c-gzip1 4 | median)
			r=$(calc "$t_gz1 / $t_oma")
			v=FAIL; [[ $(calc "$r >= 1.8") = 1 ]] && v=PASS
			cpu_oma=$(column b oma-gzip 5 | median)
			srv_oma=$(column b oma-gzip 6 | median)
			bound=$(calc "($cpu_oma + $srv_oma) / 2")
			target "(b) oma gzip (2 CPUs, 1 database) >= 1.8 x throughput of gzip -$GZ_LEVEL (1 thread)" $v \
				"oma $(calc "$size / 1e6 / $t_oma") MB/s vs gzip $(calc "$size / 1e6 / $t_gz1") MB/s = $r x; oma's run needs $cpu_oma s CPU + $srv_oma s server CPU, so >= $bound s on 2 CPUs: at best $(calc "$t_gz1 / $bound") x"
			r=$(calc "$(w gzip) / $t_oma")
			target "(b) info: oma gzip vs mysqldump | gzip -$GZ_LEVEL" "$([[ $(calc "$r >= 1.8") = 1 ]] && echo PASS || echo INFO)" \
				"$(w gzip) s / $t_oma s = $r x the throughput"
			r=$(calc "$t_gz1 / $(column b c-oma-gzip2 4 | median)")
			target "(b) info: gzip plugin alone, 2 threads vs gzip -$GZ_LEVEL" "$([[ $(calc "$r >= 1.8") = 1 ]] && echo PASS || echo INFO)" \
				"$r x the throughput ($(calc "$t_gz1 / $(column b c-oma-gzip1 4 | median)") x with 1 thread)"
			target "(b) oma's big.sql.gz passes gzip -t" "$VERIFY_GZ" "$W/out/oma-gzip/last/big.sql.gz"
			target "(b) restore of oma's big.sql.gz matches" "$VERIFY_RESTORE" "CHECKSUM TABLE: ${RESTORE_SUMS:-not run}"
			target "(b) oma's big.sql.zst passes zstd -t" "$VERIFY_ZST" "$W/out/oma-zstd/last/big.sql.zst"
			for c in gzip zstd; do
				p=$(column b "oma-$c" 8 | maxof)
				v=FAIL; [[ -n $p && $p != -1 && $p -le 32768 ]] && v=PASS
				target "(b) peak RSS of oma <= 32 MiB, $c" $v "$(calc "${p:-0} / 1024") MiB (highest of $REPS runs)"
			done
		fi
		;;
	c)
		t=$(w oma-reuse)
		v=FAIL; [[ $(calc "$t < 2") = 1 ]] && v=PASS
		target "(c) no-change run with skip_unchanged_dbs < 2 s" $v "median $t s ($(column c oma-reuse 4 | minmax)); last run: ${REUSED:-0} of $NDBS reused, ${DUMPED:-0} dumped ${DUMPED_NAMES:+($DUMPED_NAMES)}"
		v=FAIL; [[ ${COUNT_DUMP:-1} = 0 && ${COUNT_MYSQL:-99} -lt 10 && ${COUNT_REUSED:-0} = "$NDBS" ]] && v=PASS
		target "(c) no process per database in the no-change run" $v \
			"a counted run started $COUNT_DUMP mysqldump and $COUNT_MYSQL mysql processes for $NDBS databases (reused $COUNT_REUSED); processes started on the whole machine during the measured runs: $(column c oma-reuse 9 | minmax)"
		;;
	esac
	mdb_stop
done

out ''
out "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
out ''
out '== targets'
tee -a "$REPORT" <"$TARGETS"
cp "$REPORT" "$CACHE/report-$(date -u +%Y%m%d-%H%M%S).txt"
cp "$RESULTS" "$CACHE/results-$(date -u +%Y%m%d-%H%M%S).tsv"
exit 0
