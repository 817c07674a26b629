#!/usr/bin/env bash
# test_failures.sh - end-to-end: failing dumps, missing binaries, unreachable server, bad configs.
#
# One private MariaDB with three small databases.  mysqldump is replaced by
# wrapper scripts that fail in chosen ways for the database `fail_me`; the
# checks are that no broken file ever carries a final name, nothing temporary
# is left, the exit code says what happened and a good backup is never lost.
# Cases are called through e2e_case.
# shellcheck disable=SC2317 # the case functions are called through e2e_case
set -euo pipefail

# shellcheck source=tests/lib/e2e.sh
. "$(dirname "$0")/../lib/e2e.sh"

e2e_setup db

if ! mdb_sql >"$E2E_T/load.log" 2>&1 <<-'SQL'; then
	CREATE DATABASE good_a;
	CREATE TABLE good_a.t (id INT PRIMARY KEY, v VARCHAR(40)) ENGINE=InnoDB;
	INSERT INTO good_a.t SELECT seq, CONCAT('row ', seq) FROM good_a.seq_1_to_1000;
	CREATE DATABASE good_b;
	CREATE TABLE good_b.t (id INT PRIMARY KEY, b BLOB) ENGINE=InnoDB;
	INSERT INTO good_b.t SELECT seq, UNHEX(SHA2(seq, 256)) FROM good_b.seq_1_to_1000;
	CREATE DATABASE fail_me;
	CREATE TABLE fail_me.t (id INT PRIMARY KEY, v VARCHAR(80)) ENGINE=InnoDB;
	INSERT INTO fail_me.t SELECT seq, REPEAT('z', 70) FROM fail_me.seq_1_to_20000;
SQL
	echo 'not ok - load test data'
	sed 's/^/#   /' "$E2E_T/load.log"
	exit 1
fi

REAL_DUMP=$MDB_DUMP_BIN
WRAP=$E2E_T/wrappers
mkdir -p "$WRAP"

# Write a mysqldump stand-in $WRAP/$1 that behaves like the real one except
# for the database fail_me (or every database when $3 is "all"), where it
# runs the shell snippet $2 ("$real" is the real mysqldump, "$@" the arguments).
make_wrapper() {
	local file=$WRAP/$1 match
	if [[ ${3:-} = all ]]; then
		match='hit=1'
	else
		# shellcheck disable=SC2016 # a snippet for the wrapper script, expanded there
		match='for a in "$@"; do [ "$a" = fail_me ] && hit=1; done'
	fi
	cat >"$file" <<-EOF
		#!/bin/sh
		# mysqldump stand-in for oma's end-to-end tests
		real='$REAL_DUMP'
		hit=0
		$match
		if [ "\$hit" = 1 ]; then
		$2
		fi
		exec "\$real" "\$@"
	EOF
	chmod +x "$file"
}

# shellcheck disable=SC2016 # a snippet for the wrapper script, expanded there
make_wrapper midway '"$real" "$@" | head -n 40
echo "mysqldump: Got error: 2013: Lost connection to server during query when dumping table t at row: 123" >&2
exit 2'
# shellcheck disable=SC2016 # a snippet for the wrapper script, expanded there
make_wrapper complete-exit2 '"$real" "$@"
echo "mysqldump: simulated failure after the completion line" >&2
exit 2'
# shellcheck disable=SC2016 # a snippet for the wrapper script, expanded there
make_wrapper truncated-exit0 '"$real" "$@" | head -n 40
exit 0'
make_wrapper fail-all 'echo "mysqldump: Got error: 1045: Access denied" >&2
exit 2' all

# Backup folders other than those listed in $2 (space separated) in $1.
new_folders() {
	local f
	for f in $(backup_folders "$1"); do
		[[ " $2 " = *" $f "* ]] || printf '%s\n' "$f"
	done
}

# Run a backup into a fresh folder $1 with mysqldump_bin $2; check the common
# outcome of a failed fail_me dump.
failed_dump_case() {
	local dir=$E2E_T/$1 cur
	mkdir -p "$dir"
	write_config "$E2E_T/$1.conf" "$dir" "mysqldump_bin = \"$WRAP/$1\""
	run_oma -c "$E2E_T/$1.conf"
	cur=$(newest_folder "$dir")
	assert_rc 4 "$cur/oma.log"
	[[ -n $cur ]] || fail "no backup folder"
	assert_no_path "$cur/fail_me.sql.gz"
	assert_no_part "$dir"
	assert_complete_dump "$cur/good_a.sql.gz"
	assert_complete_dump "$cur/good_b.sql.gz"
	assert_grep "$cur/oma.log" "DB 'good_a': Backup successfully"
	assert_no_grep "$cur/oma.log" "DB 'fail_me': Backup successfully"
	grep -E ' ERROR .*fail_me' "$cur/oma.log" >/dev/null || fail "no ERROR line naming fail_me in the log"
	CUR=$cur
}

case_midway() {
	failed_dump_case midway
	assert_grep "$CUR/oma.log" "Lost connection to server during query"
	grep -E ' ERROR .*Lost connection' "$CUR/oma.log" >/dev/null ||
		fail "mysqldump's stderr not logged as ERROR"
}

case_complete_exit2() {
	failed_dump_case complete-exit2
}

case_truncated_exit0() {
	failed_dump_case truncated-exit0
}

e2e_case "mysqldump failing midway: exit 4, no file for it, others complete" case_midway
e2e_case "completion line but exit code 2 is a failed dump" case_complete_exit2
e2e_case "exit code 0 without completion line is a failed dump" case_truncated_exit0

# ---- runs without a single good dump never lose the last good backup ----------

KEEP=$E2E_T/keep
mkdir -p "$KEEP"
write_config "$E2E_T/keep.conf" "$KEEP" 'versions = 1'
run_oma -c "$E2E_T/keep.conf"
GOOD_RC=$OMA_RC
GOOD=$(newest_folder "$KEEP")
GOOD_NAME=$(basename "${GOOD:-none}")
(cd "$KEEP" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 md5sum) >"$E2E_T/keep.md5" 2>/dev/null || true

case_good_first() {
	OMA_RC=$GOOD_RC
	assert_rc 0 "$GOOD/oma.log"
	assert_complete_dump "$GOOD/fail_me.sql.gz"
}

# The good backup is untouched and `last` still points at it.
assert_good_kept() {
	local now
	[[ -d $GOOD ]] || fail "the last good backup $GOOD_NAME was removed"
	now=$(cd "$KEEP" && find "./$GOOD_NAME" -type f -print0 | LC_ALL=C sort -z | xargs -0 md5sum)
	[[ $now = "$(grep " ./$GOOD_NAME/" "$E2E_T/keep.md5")" ]] || fail "files of $GOOD_NAME changed"
	assert_eq "$(readlink -f "$KEEP/last")" "$(readlink -f "$GOOD")" "last"
	assert_no_part "$KEEP"
	# No folder of this run holds a dump.
	local f
	for f in $(new_folders "$KEEP" "$GOOD_NAME"); do
		if compgen -G "$KEEP/$f/*.sql.gz" >/dev/null; then
			fail "failed run left dumps in $f"
		fi
	done
}

# Some message about the failure on stderr or in a log of the backup folder.
assert_error_reported() {
	local pattern=$1 f
	grep -qiE -- "$pattern" "$E2E_ERR" && return 0
	for f in "$KEEP"/oma_*/oma.log "$KEEP/last.log"; do
		[[ -f $f && $f != "$GOOD/oma.log" ]] || continue
		grep -qiE -- "$pattern" "$f" && return 0
	done
	show_run
	fail "no message matching '$pattern' on stderr or in a new log"
}

# Run oma on the keep folder with extra [main] lines; expect exit code(s) $1.
failing_run() {
	local want=$1
	shift
	write_config "$E2E_T/keep-fail.conf" "$KEEP" 'versions = 1' "$@"
	run_oma -c "$E2E_T/keep-fail.conf"
	if [[ " $want " != *" $OMA_RC "* ]]; then
		show_run "$(newest_folder "$KEEP")/oma.log"
		fail "oma exit code $OMA_RC, expected one of: $want"
	fi
}

case_all_fail() {
	failing_run 4 "mysqldump_bin = \"$WRAP/fail-all\""
	assert_good_kept
	assert_error_reported 'Access denied'
}

case_missing_bin() {
	failing_run "1 4" 'mysqldump_bin = "/nonexistent/oma-e2e-mysqldump"'
	assert_good_kept
	assert_error_reported '/nonexistent/oma-e2e-mysqldump'
}

case_bin_not_in_path() {
	failing_run "1 4" 'mysqldump_bin = "oma-e2e-no-such-mysqldump"'
	assert_good_kept
	assert_error_reported 'oma-e2e-no-such-mysqldump'
}

case_missing_mysql_bin() {
	failing_run "1 4" 'mysql_bin = "/nonexistent/oma-e2e-mysql"'
	assert_good_kept
	assert_error_reported '/nonexistent/oma-e2e-mysql'
}

case_wrong_socket() {
	local home=$E2E_HOME
	E2E_HOME=$E2E_T/home-badsock
	mkdir -p "$E2E_HOME"
	write_mycnf "$E2E_HOME" "$E2E_T/no-such-socket"
	failing_run 4
	E2E_HOME=$home
	assert_good_kept
}

e2e_case "a good backup with versions = 1 to start from" case_good_first
e2e_case "every dump failing: exit 4, good backup and last kept" case_all_fail
e2e_case "non-existent mysqldump_bin: good backup kept, binary named" case_missing_bin
e2e_case "mysqldump_bin not in PATH: good backup kept, binary named" case_bin_not_in_path
e2e_case "non-existent mysql_bin: good backup kept, binary named" case_missing_mysql_bin
e2e_case "server unreachable (wrong socket): exit 4, good backup and last kept" case_wrong_socket

# ---- not enough disk space ----------------------------------------------------

case_disk_space() {
	local dir=$E2E_T/space old=oma_20000101-000000
	mkdir -p "$dir/$old"
	# A previous backup that claims a compression ratio of a million: the
	# estimate exceeds any free space.
	printf '{\n    "mysql_data_dir_bytes_used": 1000,\n    "backup_bytes_used": 1000000000,\n    "compression_ratio": 1000000.0\n}\n' >"$dir/$old/info.json"
	echo 'not a real dump' | gzip >"$dir/$old/good_a.sql.gz"
	write_config "$E2E_T/space.conf" "$dir" 'versions = 1'
	run_oma -c "$E2E_T/space.conf"
	assert_rc 2
	assert_eq "$(backup_folders "$dir" | tr '\n' ' ')" "$old " "backup folders after exit 2"
	assert_file "$dir/$old/good_a.sql.gz"
	assert_no_part "$dir"
}

e2e_case "not enough disk space: exit 2, no folder made, nothing pruned" case_disk_space

# ---- single instance ------------------------------------------------------------

case_lock() {
	local dir=$E2E_T/lock gate=$E2E_T/gate pid rc=0 deadline first
	mkdir -p "$dir"
	# A mysqldump that waits (at most 30 s) until the gate file exists.
	cat >"$WRAP/slow" <<-EOF
		#!/bin/sh
		i=0
		while [ ! -e '$gate' ] && [ \$i -lt 300 ]; do sleep 0.1; i=\$((i + 1)); done
		exec '$REAL_DUMP' "\$@"
	EOF
	chmod +x "$WRAP/slow"
	write_config "$E2E_T/lock.conf" "$dir" "mysqldump_bin = \"$WRAP/slow\"" 'do_databases = ["good_a"]'
	(cd "$E2E_CWD" && exec env HOME="$E2E_HOME" "$OMA_BIN" -c "$E2E_T/lock.conf") \
		>"$E2E_T/lock1.out" 2>&1 &
	pid=$!
	deadline=$((SECONDS + 30))
	until first=$(newest_folder "$dir") && [[ -n $first ]] && grep -qs 'Will start' "$first/oma.log"; do
		if ((SECONDS >= deadline)) || ! kill -0 "$pid" 2>/dev/null; then
			touch "$gate"
			wait "$pid" || true
			cat "$E2E_T/lock1.out"
			fail "first oma did not start dumping"
		fi
		sleep 0.1
	done
	run_oma -c "$E2E_T/lock.conf"
	touch "$gate"
	wait "$pid" || rc=$?
	assert_rc 3
	assert_grep "$E2E_ERR" "Another instance of OMA is already running (port $E2E_LOCK_PORT is in use)"
	assert_eq "$rc" 0 "exit code of the first oma"
	assert_eq "$(backup_folders "$dir" | wc -l)" 1 "backup folders"
	assert_complete_dump "$first/good_a.sql.gz"
}

e2e_case "a second instance exits 3 with upstream's message" case_lock

# ---- configuration errors --------------------------------------------------------

CFGDIR=$E2E_T/cfg
CFG_BACKUP=$E2E_T/cfg-backup
mkdir -p "$CFGDIR" "$CFG_BACKUP"

# Config error: file $1 (written from the remaining lines) makes oma exit 1
# with one line on stderr naming the file, and no backup folder appears.
config_error() {
	local file=$CFGDIR/$1.conf
	shift
	find "$CFG_BACKUP" -mindepth 1 -delete
	printf '%s\n' "$@" >"$file"
	local mode
	for mode in run check; do
		run_config_error "$mode" "$file"
		assert_grep "$E2E_ERR" "$file"
		[[ -z $(backup_folders "$CFG_BACKUP") ]] || fail "$mode: a backup folder was created"
	done
}

MAIN_OK=("[main]" "backup_dir = \"$CFG_BACKUP\"" "lock_port = $E2E_LOCK_PORT")

case_cfg_no_backup_dir() { config_error no-backup-dir '[main]' 'versions = 2'; }
case_cfg_backup_dir_missing() { config_error backup-dir-missing '[main]' "backup_dir = \"$E2E_T/does-not-exist\""; }
case_cfg_backup_dir_file() { config_error backup-dir-file '[main]' "backup_dir = \"$E2E_T/load.log\""; }
case_cfg_parallelism_0() { config_error parallelism-0 "${MAIN_OK[@]}" 'parallelism = 0'; }
case_cfg_both_lists() { config_error both-lists "${MAIN_OK[@]}" 'exclude_databases = ["a"]' 'do_databases = ["b"]'; }
case_cfg_link_type() { config_error link-type "${MAIN_OK[@]}" 'link_type = "soft"'; }
case_cfg_wrong_type() { config_error wrong-type "${MAIN_OK[@]}" 'versions = "three"'; }
case_cfg_syntax() { config_error syntax "${MAIN_OK[@]}" 'versions = = 3'; }
case_cfg_unterminated() { config_error unterminated "${MAIN_OK[@]}" 'exclude_databases = ["a", "b"'; }
case_cfg_no_main() { config_error no-main '[zabbix]' 'item_key = "x"'; }
case_cfg_delete_before() {
	config_error delete-before "${MAIN_OK[@]}" 'delete_before = true' \
		'skip_unchanged_dbs = true' 'versions = 1'
}

case_cfg_no_file() {
	run_oma -c "$CFGDIR/no-such-file.conf"
	assert_rc 1
	assert_grep "$E2E_ERR" "$CFGDIR/no-such-file.conf"
}

case_cfg_missing_plugin() {
	find "$CFG_BACKUP" -mindepth 1 -delete
	printf '%s\n' "${MAIN_OK[@]}" 'compression = "nope"' >"$CFGDIR/plugin.conf"
	run_oma -c "$CFGDIR/plugin.conf"
	assert_rc 1
	assert_grep "$E2E_ERR" "nope"
	[[ -z $(backup_folders "$CFG_BACKUP") ]] || fail "a backup folder was created before plugin validation"
	[[ ! -e $CFG_BACKUP/last && ! -L $CFG_BACKUP/last.log ]] || fail "last or last.log was written"
}

case_cfg_unknown_key() {
	printf '%s\n' "${MAIN_OK[@]}" 'no_such_key_e2e = 1' >"$CFGDIR/unknown.conf"
	run_oma --check-config -c "$CFGDIR/unknown.conf"
	assert_rc 0
}

e2e_case "config: backup_dir not set -> exit 1" case_cfg_no_backup_dir
e2e_case "config: backup_dir does not exist -> exit 1" case_cfg_backup_dir_missing
e2e_case "config: backup_dir is a file -> exit 1" case_cfg_backup_dir_file
e2e_case "config: parallelism = 0 -> exit 1" case_cfg_parallelism_0
e2e_case "config: exclude and do lists together -> exit 1" case_cfg_both_lists
e2e_case "config: link_type = soft -> exit 1" case_cfg_link_type
e2e_case "config: versions of the wrong type -> exit 1" case_cfg_wrong_type
e2e_case "config: TOML syntax error -> exit 1" case_cfg_syntax
e2e_case "config: unterminated array -> exit 1" case_cfg_unterminated
e2e_case "config: no [main] -> exit 1" case_cfg_no_main
e2e_case "config: delete_before with skip_unchanged_dbs and versions < 2 -> exit 1" case_cfg_delete_before
e2e_case "config: file does not exist -> exit 1 naming it" case_cfg_no_file
e2e_case "config: missing compression plugin -> exit 1, nothing created" case_cfg_missing_plugin
e2e_case "config: an unknown key is only a warning" case_cfg_unknown_key

# ---- server stopped (last: the server stays down) ---------------------------------

mdb_stop

case_server_stopped() {
	failing_run 4
	assert_good_kept
}

e2e_case "server stopped: exit 4, good backup and last kept" case_server_stopped

e2e_finish
