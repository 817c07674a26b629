#!/usr/bin/env bash
# offsite.sh - measure oma's off-site copies (the s3 store plugin) against a private loopback Ceph RADOS Gateway, side by side.
#
# Starts its own MariaDB on bench/data.sh's set (a) (kept in the bench
# cache, as bench/run.sh does) and its own gateway (tests/lib/rgw.sh: mon,
# memstore OSD, radosgw on 127.0.0.1), and measures, all methods
# interleaved in every repetition:
#
#   a local      oma on set (a) (304 databases, gzip), no [s3]
#   a s3         the same run with [s3]: every dump uploaded while the
#                others still run
#   1g local     oma on one ~1 GiB file: a stand-in mysqldump_bin prints a
#                prepared file of random bytes (zstd leaves it as it is),
#                so the run is mostly the upload; no [s3]
#   1g s3        the same with [s3]; the upload time is taken from oma.log
#                ("Backup successfully" to "s3: uploaded"), and the peak RSS
#                of the oma process is measured (bench/hwm.c)
#   1g aws       /usr/bin/aws s3 cp of that same file to the same gateway
#                (its defaults: 8 MiB parts, 10 at once); its start-up is
#                measured apart (aws s3api head-bucket)
#   a no-change  oma with skip_unchanged_dbs and [s3] after a first run,
#                nothing changed: the bytes the gateway received (its usage
#                log, tests/lib/rgw.sh rgw_usage_received) against the size
#                of the folder's own files, and "s3: uploaded *.sql.gz" lines
#
# Then the targets of issue 11 are printed as PASS/FAIL with the numbers.
# Exits 0 even when a target fails (a measurement); 1 when it cannot run.
#
# Environment: BENCH_REPS=3, BENCH_PAR=2 (oma's parallelism),
# BENCH_BIG_MB=1024, BENCH_CACHE=/var/tmp/oma-bench, BENCH_KEEP=1 (keep the
# work folder), OMA_BUILD=build, S3_PARALLEL (the plugin's
# parallel_uploads; default: the plugin's own).
# shellcheck disable=SC2016 # sh -c scripts expand in the child
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tests/lib/mariadb.sh
. "$REPO/tests/lib/mariadb.sh"
# shellcheck source=bench/data.sh
. "$REPO/bench/data.sh"
# shellcheck source=bench/common.sh
. "$REPO/bench/common.sh"
# shellcheck source=tests/lib/rgw.sh
. "$REPO/tests/lib/rgw.sh"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

REPS=${BENCH_REPS:-3}
PAR=${BENCH_PAR:-2}
BIG_MB=${BENCH_BIG_MB:-1024}
CACHE=${BENCH_CACHE:-/var/tmp/oma-bench}
OMA_BUILD=${OMA_BUILD:-build}
[[ $OMA_BUILD = /* ]] || OMA_BUILD=$REPO/$OMA_BUILD
OMA=$OMA_BUILD/oma
LOCK_PORT=$((20000 + RANDOM % 12000))
BUCKET=bench

[[ -x $OMA ]] || die "$OMA not found (run make first)"
[[ -f $OMA_BUILD/plugins/store-s3.so ]] || die "$OMA_BUILD/plugins/store-s3.so not found (run make first)"
[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "BENCH_REPS must be a positive number"
for tool in cc zstd jq "$RGW_AWS_BIN"; do
	command -v "$tool" >/dev/null || die "$tool not found"
done

bench_workdir oma-boff

RESULTS=$W/results.tsv # method rep wall peak_kb rc extra
: >"$RESULTS"

# Run "$@" under measure (-n oma), record wall, peak and rc as method $M,
# repetition $REP, with $EXTRA (a number: upload seconds, bytes ...).
measure_run() {
	"$W/measure" -s "$MDB_PID" -n oma -- "$@" </dev/null >"$W/last.out" 2>"$W/last.err" || true
	local line kv wall='' peak='' rc=''
	line=$(grep '^wall=' "$W/last.err" | tail -n 1)
	for kv in $line; do
		case ${kv%%=*} in
		wall) wall=${kv#*=} ;;
		peak_kb) peak=${kv#*=} ;;
		rc) rc=${kv#*=} ;;
		esac
	done
	LAST_RC=${rc:-99}
	if [[ $LAST_RC != 0 ]]; then
		note "$M run $REP failed (exit $LAST_RC):"
		grep -v '^wall=' "$W/last.err" | tail -n 5 | sed 's/^/#   /' >&2 || true
	fi
	note "$M run $REP: wall ${wall}s peak ${peak}kB"
	LAST_WALL=$wall
	LAST_PEAK=$peak
}

record() { # EXTRA
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$M" "$REP" "$LAST_WALL" "$LAST_PEAK" "$LAST_RC" "${1:-}" >>"$RESULTS"
}

# Column $2 (3 wall, 4 peak, 6 extra) of the successful runs of method $1.
column() { awk -F'\t' -v m="$1" -v c="$2" '$1 == m && $5 == 0 && $c != "" { print $c }' "$RESULTS"; }

# Seconds since midnight of the first line of log $1 containing string $2.
log_time() {
	awk -v s="$2" 'index($0, s) { split($2, a, /[:,]/); printf "%.3f\n", a[1] * 3600 + a[2] * 60 + a[3] + a[4] / 1000; exit }' "$1"
}

# Write config $1 for backup folder $2; further arguments are lines of [main]
# and, after a "[s3]" argument, of [s3].
write_conf() {
	local file=$1 dir=$2
	shift 2
	{
		echo '[main]'
		printf 'backup_dir = "%s"\nlock_port = %s\nparallelism = %s\nversions = 1\n' "$dir" "$LOCK_PORT" "$PAR"
		printf 'mysqldump_bin = "%s"\nmysql_bin = "%s"\n' "${DUMP_BIN:-$MDB_DUMP_BIN}" "$MDB_CLIENT_BIN"
		printf '%s\n' "$@"
	} >"$file"
}

# The [s3] section for remote prefix $1 (as arguments for write_conf).
s3_lines() {
	S3=('[s3]' "endpoint = \"$RGW_ENDPOINT\"" "bucket = \"$BUCKET\"" "prefix = \"$1\""
		"region = \"$RGW_REGION\"" "credentials_file = \"$W/credentials\"")
	[[ -z ${S3_PARALLEL:-} ]] || S3+=("parallel_uploads = $S3_PARALLEL")
}

# ---- set up: server, gateway, the 1 GiB file -------------------------------------

# The cached data folder of set (a), made as bench/run.sh makes it when the
# cache has none (or an older version).
start_set_a() {
	local dir=$CACHE/a id
	id=$(data_id a)
	MDB_DIR=$dir
	MDB_SOCK=$dir/sock
	MDB_PID_FILE=$dir/pid
	rm -f "$MDB_PID_FILE"
	mkdir -p "$dir.tmp"
	if [[ ! -f $dir/ready || $(cat "$dir/ready") != "$id" ]]; then
		note "set a: generating data ($id) in $dir - once, kept for later runs"
		rm -rf -- "$dir"
		TMPDIR=$dir.tmp mdb_init "$dir" >"$W/mdb-init.log" 2>&1 || die "mariadb-install-db failed"
		mdb_sql -e 'SET GLOBAL innodb_flush_log_at_trx_commit = 0'
		data_sql a | mdb_sql || die "generating set a failed"
		mdb_sql -e 'SET GLOBAL innodb_fast_shutdown = 0'
		mdb_stop
		echo "$id" >"$dir/ready"
	fi
	TMPDIR=$dir.tmp mdb_start || die "server on $dir did not start"
	printf '[client]\nsocket=%s\nuser=%s\n' "$MDB_SOCK" "$MDB_USER" >"$HOMEDIR/.my.cnf"
	chmod 600 "$HOMEDIR/.my.cnf"
}

start_set_a
note "set a: settling the data"
data_settle
rgw_start "$W/rgw" >"$W/rgw-start.log" 2>&1 || {
	cat "$W/rgw-start.log" >&2
	die "the gateway did not start"
}
rgw_aws s3api create-bucket --bucket "$BUCKET" >/dev/null
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
	"$RGW_ACCESS_KEY" "$RGW_SECRET_KEY" >"$W/credentials"
chmod 600 "$W/credentials"

note "writing the ${BIG_MB} MiB file and its stand-in mysqldump"
head -c $((BIG_MB * 1048576)) /dev/urandom >"$W/big.sql"
printf '\n-- Dump completed on 2026-01-01  0:00:00\n' >>"$W/big.sql"
printf '#!/bin/sh\nexec cat "%s"\n' "$W/big.sql" >"$W/fake-dump"
chmod +x "$W/fake-dump"

write_conf "$W/conf/a-local.conf" "$W/out/a-local" 'compression = "gzip"'
s3_lines a-s3
write_conf "$W/conf/a-s3.conf" "$W/out/a-s3" 'compression = "gzip"' "${S3[@]}"
DUMP_BIN=$W/fake-dump write_conf "$W/conf/1g-local.conf" "$W/out/1g-local" \
	'compression = "zstd"' 'do_databases = ["mysql"]'
s3_lines 1g-s3
DUMP_BIN=$W/fake-dump write_conf "$W/conf/1g-s3.conf" "$W/out/1g-s3" \
	'compression = "zstd"' 'do_databases = ["mysql"]' "${S3[@]}"
s3_lines reuse
write_conf "$W/conf/reuse.conf" "$W/out/reuse" 'compression = "gzip"' 'skip_unchanged_dbs = true' "${S3[@]}"

# ---- methods ----------------------------------------------------------------------

m_oma() { # NAME: a-local a-s3 1g-local
	rm -rf -- "$W/out/$1"
	mkdir -p "$W/out/$1"
	measure_run env HOME="$HOMEDIR" LC_ALL=C "$OMA" -c "$W/conf/$1.conf"
	record
}

# 1g s3: the whole run, and the upload alone from the log.
m_1g_s3() {
	rm -rf -- "$W/out/1g-s3"
	mkdir -p "$W/out/1g-s3"
	measure_run env HOME="$HOMEDIR" LC_ALL=C "$OMA" -c "$W/conf/1g-s3.conf"
	local log=$W/out/1g-s3/last/oma.log t0 t1 up=''
	t0=$(log_time "$log" "DB 'mysql': Backup successfully")
	t1=$(log_time "$log" 's3: uploaded mysql.sql')
	if [[ -n $t0 && -n $t1 ]]; then
		up=$(calc "$t1 - $t0")
	fi
	BIG_FILE=$(find "$W/out/1g-s3/last/" -maxdepth 1 -name 'mysql.sql.*' | head -n 1)
	record "$up"
}

m_1g_aws() {
	[[ -f ${BIG_FILE:-} ]] || return 0
	measure_run env AWS_CONFIG_FILE="$RGW_DIR/aws-config" AWS_SHARED_CREDENTIALS_FILE="$RGW_DIR/aws-credentials" \
		AWS_EC2_METADATA_DISABLED=true "$RGW_AWS_BIN" --endpoint-url "$RGW_ENDPOINT" \
		s3 cp --only-show-errors "$BIG_FILE" "s3://$BUCKET/aws/big"
	record
	rgw_aws s3 rm --only-show-errors "s3://$BUCKET/aws/big" || true
	M=aws-start measure_run env AWS_CONFIG_FILE="$RGW_DIR/aws-config" \
		AWS_SHARED_CREDENTIALS_FILE="$RGW_DIR/aws-credentials" AWS_EC2_METADATA_DISABLED=true \
		"$RGW_AWS_BIN" --endpoint-url "$RGW_ENDPOINT" s3api head-bucket --bucket "$BUCKET"
	M=aws-start record
}

setup_reuse() {
	rm -rf -- "$W/out/reuse"
	mkdir -p "$W/out/reuse"
	note "first run for the no-change measurement"
	env HOME="$HOMEDIR" LC_ALL=C "$OMA" -c "$W/conf/reuse.conf" >/dev/null 2>"$W/reuse-first.err" ||
		note "the first skip_unchanged_dbs run failed: $(tail -n 3 "$W/reuse-first.err")"
}

# A no-change run; extra = bytes the gateway received beyond the folder's
# own files (oma.log, result.json, info.json, sidecars, PREFIX/last).
m_reuse() {
	local u0 u1 own dir log
	sleep 1.1 # a new folder name (one per second)
	u0=$(rgw_usage_received "$BUCKET")
	measure_run env HOME="$HOMEDIR" LC_ALL=C "$OMA" -c "$W/conf/reuse.conf"
	u1=$(rgw_usage_received "$BUCKET")
	dir=$(readlink -f "$W/out/reuse/last")
	log=$dir/oma.log
	own=$(find "$dir" -maxdepth 1 -type f ! -name '*.sql.gz' -printf '%s\n' | awk '{ s += $1 } END { print s + 64 }')
	REUSE_RECEIVED=$((u1 - u0))
	REUSE_OWN=$own
	REUSE_UPLOADED=$(grep -c 's3: uploaded .*\.sql\.gz' "$log" || true)
	REUSE_COPIED=$(grep -c 's3: copied .* on the server' "$log" || true)
	REUSE_DUMPS=$(find "$dir" -maxdepth 1 -name '*.sql.gz' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
	record "$((u1 - u0 - own))"
}

# ---- run --------------------------------------------------------------------------

REPORT=$W/report.txt
: >"$REPORT"
out() { printf '%s\n' "$*" | tee -a "$REPORT"; }

setup_reuse
for ((REP = 1; REP <= REPS; REP++)); do
	M=a-local m_oma a-local
	M=a-s3 m_oma a-s3
	M=1g-local m_oma 1g-local
	M=1g-s3 m_1g_s3
	M=1g-aws m_1g_aws
	M=reuse m_reuse
done

NDBS=$(data_dbs | wc -l)
A_DUMP=$(find "$W/out/a-s3/last/" -name '*.sql.gz' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
BIG_BYTES=$(stat -c %s "${BIG_FILE:-/dev/null}" 2>/dev/null || echo 0)
out "oma off-site bench - $(date -u '+%Y-%m-%d %H:%M UTC')"
out "host: $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
out "oma $("$OMA" -v) ($(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?')), radosgw $(radosgw --version | awk '{ print $3 }'), $("$RGW_AWS_BIN" --version 2>&1 | cut -d' ' -f1)"
out "parallelism $PAR, $REPS run(s) of every method (median, min-max), parallel_uploads ${S3_PARALLEL:-default}"
out "command: BENCH_REPS=$REPS BENCH_PAR=$PAR BENCH_BIG_MB=$BIG_MB bench/offsite.sh"
out ''
line() { # LABEL METHOD
	local wall range peak
	wall=$(column "$2" 3 | median)
	range=$(column "$2" 3 | minmax)
	peak=$(column "$2" 4 | maxof)
	out "$(printf '%-44s %8s s (%s)  oma peak RSS %s kB' "$1" "$wall" "$range" "${peak:--}")"
}
line "(a) $NDBS databases, $(calc "$A_DUMP / 1e6") MB gz, no [s3]" a-local
line "(a) the same with [s3]" a-s3
line "1 file of $(calc "$BIG_BYTES / 1048576") MiB, no [s3]" 1g-local
line "1 file, with [s3]" 1g-s3
line "1 file, aws s3 cp" 1g-aws
line "aws s3api head-bucket (aws start-up)" aws-start
line "(a) no-change run with [s3]" reuse
UP=$(column 1g-s3 6 | median)
out "   upload of the 1 file by oma (oma.log: dump final -> uploaded): median $UP s ($(column 1g-s3 6 | minmax))"
out "   no-change run (last): gateway received $REUSE_RECEIVED bytes, the folder's own files $REUSE_OWN bytes, dumps $REUSE_DUMPS bytes; $REUSE_UPLOADED dumps uploaded, $REUSE_COPIED copied on the server"

out ''
out '== targets'
target() { printf '%-6s %s: %s\n' "$2" "$1" "$3" | tee -a "$REPORT"; }
r=$(calc "$(column a-s3 3 | median) / $(column a-local 3 | median)")
target "full run with upload <= 1.25 x without" "$([[ $(calc "$r <= 1.25") = 1 ]] && echo PASS || echo FAIL)" \
	"$(column a-s3 3 | median) s / $(column a-local 3 | median) s = $r"
AWS=$(column 1g-aws 3 | median)
if [[ $UP != nan && $AWS != nan ]]; then
	r=$(calc "$AWS / $UP")
	target "upload throughput of 1 file >= aws s3 cp" "$([[ $(calc "$r >= 1") = 1 ]] && echo PASS || echo FAIL)" \
		"oma $(calc "$BIG_BYTES / 1048576 / $UP") MiB/s vs aws $(calc "$BIG_BYTES / 1048576 / $AWS") MiB/s (its wall time, start-up $(column aws-start 3 | median) s included) = $r x"
else
	target "upload throughput of 1 file >= aws s3 cp" FAIL "no figure (a run failed)"
fi
p=$(column 1g-s3 4 | maxof)
target "peak RSS of oma <= 32 MiB uploading 1 file" "$([[ -n $p && $p -le 32768 ]] && echo PASS || echo FAIL)" \
	"$(calc "${p:-0} / 1024") MiB (highest of $REPS runs)"
worst=$(column reuse 6 | maxof)
target "a no-change run uploads 0 bytes of dump data" \
	"$([[ ${REUSE_UPLOADED:-1} = 0 && -n $worst && $worst -le 0 ]] && echo PASS || echo FAIL)" \
	"gateway bytes beyond the folder's own files: at most $worst per run; 'uploaded *.sql.gz' lines in the last: ${REUSE_UPLOADED:-?}"
cp "$REPORT" "$CACHE/offsite-report-$(date -u +%Y%m%d-%H%M%S).txt"
exit 0
