# shellcheck shell=bash
# tests/lib/e2e.sh - helpers for the end-to-end tests: test cases, assertions, running oma.
#
# A test script sources this file, calls e2e_setup (a temporary folder, a
# private MariaDB, a HOME with .my.cnf), defines one function per case and
# runs each with `e2e_case NAME FUNCTION`, then ends with e2e_finish.  Each
# case runs in a subshell with `set -e`; it prints "ok - NAME" or
# "not ok - NAME: reason" (diagnostics follow as "#" lines).  e2e_finish exits
# non-zero when a case failed or none ran.
#
# Environment: OMA_BUILD (default "build"): oma is $OMA_BUILD/oma, relative to
# the repository unless absolute.  E2E_KEEP=1 keeps the temporary folder.

E2E_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/mariadb.sh
. "$E2E_REPO/tests/lib/mariadb.sh"

OMA_BUILD=${OMA_BUILD:-build}
if [[ $OMA_BUILD = /* ]]; then
	OMA_BIN=$OMA_BUILD/oma
else
	OMA_BIN=$E2E_REPO/$OMA_BUILD/oma
fi

# Sanitizer builds: a report must not look like an ordinary exit code 1.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}:exitcode=86
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

E2E_PASSED=0
E2E_FAILED=0
E2E_T=""         # temporary folder of this script
E2E_HOME=""      # HOME for oma, with .my.cnf
E2E_CWD=""       # working directory oma runs in
E2E_OUT=""       # stdout of the last run_oma
E2E_ERR=""       # stderr of the last run_oma
OMA_RC=0         # exit code of the last run_oma
# Below the ephemeral range (32768+), where outgoing connections could hold it.
E2E_LOCK_PORT=$((20000 + RANDOM % 12000))
E2E_LOCALE=${E2E_LOCALE:-C}

# Stop the script as a failed setup unless every command $@ is in PATH.
e2e_need_tools() {
	local tool
	for tool in "$@"; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			echo "not ok - setup: $tool not found (scripts/install-deps.sh installs it)"
			exit 1
		fi
	done
}

# Run the SQL on stdin against the private server; stop the script as a
# failed setup when it fails.
e2e_load() {
	if ! mdb_sql >"$E2E_T/load.log" 2>&1; then
		echo 'not ok - load test data'
		sed 's/^/#   /' "$E2E_T/load.log"
		exit 1
	fi
}

# The change-detection data set: inno (InnoDB), aria (Aria), quiet (InnoDB,
# left alone), 2000/2000/3 rows, modelled as loaded a while ago: pages on
# disk (InnoDB writes dirty pages only under pressure, Aria at a
# checkpoint, so both are forced now) and the files older than the first
# dump's start by more than the change check's one-second margin.
e2e_load_reuse_set() {
	e2e_load <<-'SQL'
		CREATE DATABASE inno;
		CREATE TABLE inno.t (id INT PRIMARY KEY, v VARCHAR(40)) ENGINE=InnoDB;
		INSERT INTO inno.t SELECT seq, CONCAT('row ', seq) FROM inno.seq_1_to_2000;
		CREATE DATABASE aria;
		CREATE TABLE aria.t (id INT PRIMARY KEY, v VARCHAR(40)) ENGINE=Aria;
		INSERT INTO aria.t SELECT seq, CONCAT('row ', seq) FROM aria.seq_1_to_2000;
		CREATE DATABASE quiet;
		CREATE TABLE quiet.t (id INT PRIMARY KEY) ENGINE=InnoDB;
		INSERT INTO quiet.t VALUES (1), (2), (3);
	SQL
	mdb_sql -e 'FLUSH TABLES inno.t, quiet.t FOR EXPORT; UNLOCK TABLES; FLUSH TABLES'
	sleep 2.2
}

# Create the temporary folder; with "db" as $1 also start a private MariaDB
# and write $E2E_HOME/.my.cnf for it.  With "installed" as $2, $OMA_BIN need
# not exist yet: the script installs it itself (tests/pkg/test_deb.sh).
e2e_setup() {
	if [[ ${2:-} != installed && ! -x $OMA_BIN ]]; then
		printf 'not ok - setup: %s not found (run make first)\n' "$OMA_BIN"
		exit 1
	fi
	E2E_T=$(mktemp -d /tmp/oma-e2e.XXXXXX)
	if [[ ${E2E_KEEP:-0} = 1 ]]; then
		printf '# keeping %s\n' "$E2E_T"
	else
		at_exit "rm -rf -- $(printf '%q' "$E2E_T")"
	fi
	E2E_HOME=$E2E_T/home
	E2E_CWD=$E2E_T/cwd
	E2E_OUT=$E2E_T/stdout
	E2E_ERR=$E2E_T/stderr
	mkdir -p "$E2E_HOME" "$E2E_CWD"
	if [[ ${1:-} = db ]]; then
		if ! mdb_init "$E2E_T/mdb" >"$E2E_T/mdb-start.log" 2>&1; then
			echo 'not ok - setup: private MariaDB did not start'
			sed 's/^/#   /' "$E2E_T/mdb-start.log"
			exit 1
		fi
		write_mycnf "$E2E_HOME" "$MDB_SOCK"
	fi
}

# Write DIR/.my.cnf pointing the client at SOCKET as $MDB_USER.
write_mycnf() {
	printf '[client]\nsocket=%s\nuser=%s\n' "$2" "$MDB_USER" >"$1/.my.cnf"
	chmod 600 "$1/.my.cnf"
}

# Write an oma config to FILE with backup_dir DIR, a private lock port and
# parallelism 2; further arguments are appended as lines of [main].
write_config() {
	local file=$1 dir=$2
	shift 2
	{
		echo '[main]'
		printf 'backup_dir = "%s"\n' "$dir"
		printf 'lock_port = %s\n' "$E2E_LOCK_PORT"
		echo 'parallelism = 2'
		local line
		for line in "$@"; do
			printf '%s\n' "$line"
		done
	} >"$file"
}

# Run oma with HOME=$E2E_HOME in $E2E_CWD under the C locale (as cron does;
# E2E_LOCALE overrides it);
# stdout and stderr go to $E2E_OUT and $E2E_ERR, the exit code to OMA_RC.
# Fails the case when a sanitizer reported something.
run_oma() {
	OMA_RC=0
	(cd "$E2E_CWD" && exec env HOME="$E2E_HOME" LC_ALL="$E2E_LOCALE" LANG="$E2E_LOCALE" "$OMA_BIN" "$@") \
		>"$E2E_OUT" 2>"$E2E_ERR" || OMA_RC=$?
	if grep -qE 'Sanitizer|runtime error:' "$E2E_ERR"; then
		if [[ -n ${E2E_IN_CASE:-} ]]; then
			head -n 40 "$E2E_ERR" >&2
			fail "sanitizer report from oma $*"
		fi
		printf '# sanitizer report from oma %s:\n' "$*"
		sed -n '1,40s/^/#   /p' "$E2E_ERR"
	fi
	return 0
}

# Run oma on config $2 as a backup ($1 = run) or with --check-config ($1 =
# check); it must exit 1 with exactly one line on stderr (a configuration
# error).  Ends the case otherwise.
run_config_error() {
	if [[ $1 = run ]]; then
		run_oma -c "$2"
	else
		run_oma --check-config -c "$2"
	fi
	assert_rc 1
	[[ $(wc -l <"$E2E_ERR") = 1 ]] || {
		cat "$E2E_ERR"
		fail "$1: expected exactly one line on stderr, got $(wc -l <"$E2E_ERR")"
	}
}

# Write FILE, a mysqldump that fails (exit 2, MESSAGE on stderr) for the
# database DB and runs $MDB_DUMP_BIN for the others.
failing_mysqldump() {
	local file=$1 db=$2 msg=$3
	cat >"$file" <<-EOF
		#!/bin/sh
		for a in "\$@"; do
		  if [ "\$a" = '$db' ]; then echo '$msg' >&2; exit 2; fi
		done
		exec '$MDB_DUMP_BIN' "\$@"
	EOF
	chmod +x "$file"
}

# ---- test cases -------------------------------------------------------------

# Run FUNCTION as the case NAME in a subshell with set -e; print the result line.
e2e_case() {
	local name=$1 fn=$2 rc=0
	# E2E_ONLY (a regular expression on case function names) runs a subset
	# while working on a case; the summary counts only what ran.
	if [[ -n ${E2E_ONLY:-} && ! $fn =~ $E2E_ONLY ]]; then
		return 0
	fi
	local reason=$E2E_T/reason diag=$E2E_T/diag
	: >"$reason"
	set +e
	(
		set -eE
		E2E_IN_CASE=1
		trap 'printf "command failed (exit %s) at line %s: %s\n" "$?" "$LINENO" "$BASH_COMMAND" >"$E2E_T/reason"' ERR
		"$fn"
	) >"$diag" 2>&1
	rc=$?
	set -e
	if ((rc == 0)); then
		printf 'ok - %s\n' "$name"
		E2E_PASSED=$((E2E_PASSED + 1))
	else
		local why
		why=$(head -n 1 "$reason")
		printf 'not ok - %s: %s\n' "$name" "${why:-exit $rc}"
		sed 's/^/#   /' "$diag" | tail -n 40
		E2E_FAILED=$((E2E_FAILED + 1))
	fi
}

# Print the totals; exit 1 when a case failed or no case ran.
e2e_finish() {
	printf '# %s: %d passed, %d failed\n' "$(basename "$0")" "$E2E_PASSED" "$E2E_FAILED"
	if ((E2E_FAILED > 0 || E2E_PASSED == 0)); then
		exit 1
	fi
	exit 0
}

# ---- assertions (inside a case; each ends the case on failure) --------------

# End the current case with REASON.
fail() {
	printf '%s\n' "$*" >"$E2E_T/reason"
	trap - ERR
	exit 1
}

# Show the last oma run (stderr and the given log) on the case's diagnostics.
show_run() {
	echo "oma exit code: $OMA_RC"
	echo '--- stderr:'
	head -n 20 "$E2E_ERR"
	if [[ -n ${1:-} && -f $1 ]]; then
		echo "--- $1:"
		tail -n 20 "$1"
	fi
}

assert_rc() {
	local want=$1 log=${2:-}
	if [[ $OMA_RC != "$want" ]]; then
		show_run "$log"
		fail "oma exit code $OMA_RC, expected $want"
	fi
}

assert_eq() {
	if [[ $1 != "$2" ]]; then
		fail "${3:-value}: got '$1', expected '$2'"
	fi
}

assert_file() {
	[[ -f $1 ]] || fail "missing file $1"
}

assert_no_path() {
	if [[ -e $1 || -L $1 ]]; then
		fail "unexpected $1"
	fi
}

# assert_grep FILE FIXED-STRING: the file contains the string.
assert_grep() {
	if ! grep -aqF -- "$2" "$1"; then
		tail -n 20 "$1"
		fail "'$2' not found in $1"
	fi
}

assert_no_grep() {
	if grep -aqF -- "$2" "$1"; then
		grep -anF -- "$2" "$1" | head -n 5 || true
		fail "'$2' found in $1"
	fi
}

# Backup folders (base names, oldest first) in DIR.
backup_folders() {
	local d
	for d in "$1"/oma_*; do
		[[ -d $d && ! -L $d ]] || continue
		basename "$d"
	done | grep -E '^oma_[0-9]{8}-[0-9]{6}$' | LC_ALL=C sort || true
}

# The newest backup folder in DIR (full path) or nothing.
newest_folder() {
	local n
	n=$(backup_folders "$1" | tail -n 1)
	if [[ -n $n ]]; then
		printf '%s/%s\n' "$1" "$n"
	fi
}

# $1/last is a link to the complete backup folder $2 (one with info.json).
assert_last() {
	[[ -L $1/last ]] || fail "$1/last is not a link"
	assert_eq "$(readlink -f "$1/last")" "$(readlink -f "$2")" "$1/last"
	[[ -f $1/last/info.json ]] || fail "$1/last names a folder without info.json"
}

# md5 of every file below folder $1 and the target of every symlink (paths
# relative to it); the backup folder's lock file (it holds the PID of the
# last run) is not a backup.
tree_md5() {
	(
		cd "$1"
		find . -type f ! -path ./.oma.lock -print0 | LC_ALL=C sort -z | xargs -0 -r md5sum
		find . -type l -printf '%p -> %l\n' | LC_ALL=C sort
	)
}

# Wait at most $2 seconds for pid $1 (a background oma) to exit; BG_RC is
# its exit code.
wait_bounded() {
	local pid=$1 deadline=$((SECONDS + $2))
	while kill -0 "$pid" 2>/dev/null; do
		if ((SECONDS >= deadline)); then
			kill -KILL "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
			fail "oma (pid $pid) did not exit within $2 s"
		fi
		sleep 0.05
	done
	BG_RC=0
	# shellcheck disable=SC2034 # BG_RC is read by the scripts that source this file
	wait "$pid" || BG_RC=$?
}

# Fail when any *.part file exists below DIR.
assert_no_part() {
	local found
	found=$(find "$1" -name '*.part' | head -n 5 || true)
	if [[ -n $found ]]; then
		fail "temporary files left: $found"
	fi
}

# A dump FILE is a valid gzip stream whose last line is mysqldump's completion line.
assert_complete_dump() {
	local f=$1 last
	gzip -t "$f" 2>/dev/null || fail "$f is not a valid gzip file"
	last=$(zcat "$f" | tail -n 1)
	if ! grep -qE '^-- Dump completed on [0-9]{4}-[0-9]{2}-[0-9]{2}[[:space:]]+[0-9]+:[0-9]{2}:[0-9]{2}' <<<"$last"; then
		fail "$f does not end with the completion line (last line: ${last:0:80})"
	fi
}

# Whether the gzip'ed dump FILE contains the fixed string (reads it all: no
# SIGPIPE under pipefail).
dump_has() {
	zcat "$1" | grep -F -- "$2" >/dev/null
}

# Every line of the log FILE has the format "YYYY-MM-DD HH:MM:SS,mmm LEVEL message".
assert_log_format() {
	local bad
	bad=$(grep -avnE '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2},[0-9]{3} (DEBUG|INFO|WARNING|ERROR) ' "$1" | head -n 3 || true)
	if [[ -n $bad ]]; then
		fail "log lines not in the log format in $1: $bad"
	fi
}

# Check that stdin is one JSON document; uses python3 when present, else jq.
is_json() {
	if command -v python3 >/dev/null 2>&1 && python3 -c 'import json' 2>/dev/null; then
		python3 -m json.tool >/dev/null
	else
		jq -e . >/dev/null
	fi
}

# ---- SQL helpers -----------------------------------------------------------

# Quote $1 as an SQL identifier (backticks).
sql_ident() {
	local q='`'
	printf '%s%s%s' "$q" "${1//$q/$q$q}" "$q"
}

# Quote $1 as an SQL string literal.
sql_str() {
	local s=${1//\\/\\\\}
	printf "'%s'" "${s//\'/\'\'}"
}

# "table<TAB>checksum" for every base table of database $1, sorted by table name.
db_checksums() {
	local db=$1 t sum
	mdb_sql -N -B -e "SELECT table_name FROM information_schema.tables WHERE table_schema = $(sql_str "$db") AND table_type = 'BASE TABLE' ORDER BY table_name" |
		while IFS= read -r t; do
			sum=$(mdb_sql -N -B -e "CHECKSUM TABLE $(sql_ident "$db").$(sql_ident "$t") EXTENDED" </dev/null | cut -f 2)
			printf '%s\t%s\n' "$t" "$sum"
		done
}
