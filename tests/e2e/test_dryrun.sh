#!/usr/bin/env bash
# test_dryrun.sh - end-to-end: oma --dry-run does every check of a run, says what it would do, and changes nothing.
#
# Starts one private MariaDB; with skip_unchanged_dbs and versions = 2,
# after two real runs and a change to one database, --dry-run must leave
# the backup folder tree as it was (names, inodes, sizes, mtimes, the lock
# file included), start no mysqldump (a counting wrapper as mysqldump_bin),
# and list the dumps, reuses and removals the following real run then
# makes.  Exit codes as a run would give: 2 no space, 3 locked, 4 server
# unreachable, 1 invalid configuration.
# Cases are called through e2e_case.
# shellcheck disable=SC2317 # the case functions are called through e2e_case
set -euo pipefail

# shellcheck source=tests/lib/e2e.sh
. "$(dirname "$0")/../lib/e2e.sh"

e2e_setup db

e2e_load_reuse_set

# mysqldump_bin that counts its starts.
COUNT=$E2E_T/mysqldump.count
WRAP=$E2E_T/counting-mysqldump
cat >"$WRAP" <<-EOF
	#!/bin/sh
	echo started >>'$COUNT'
	exec '$MDB_DUMP_BIN' "\$@"
EOF
chmod +x "$WRAP"
: >"$COUNT"

BDIR=$E2E_T/backups
mkdir -p "$BDIR"
MAIN=('do_databases = ["inno", "aria", "quiet"]' 'skip_unchanged_dbs = true' 'versions = 2'
	"mysqldump_bin = \"$WRAP\"")
write_config "$E2E_T/oma.conf" "$BDIR" "${MAIN[@]}"

# Names, inodes, sizes and mtimes (ns) of everything under $1.
tree_state() {
	find "$1" -printf '%P %i %s %T@ %y %l\n' | LC_ALL=C sort
}

starts() { wc -l <"$COUNT"; }

# The server's other connections (not this query's own): user, command,
# database and statement; nothing of oma's may stay behind.
processes() {
	mdb_sql -N -e "SELECT USER, COMMAND, IFNULL(DB, ''), IFNULL(INFO, '') FROM information_schema.PROCESSLIST
		WHERE ID <> CONNECTION_ID() AND COMMAND <> 'Daemon' ORDER BY ID"
}

# What the server counts of writes and locks: a dry run takes none.
write_counters() {
	mdb_sql -N -e "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS
		WHERE VARIABLE_NAME IN ('COM_INSERT', 'COM_UPDATE', 'COM_DELETE', 'COM_CREATE_TABLE',
		'COM_DROP_TABLE', 'COM_LOCK_TABLES', 'COM_FLUSH', 'HANDLER_WRITE', 'COM_CREATE_DB')
		ORDER BY VARIABLE_NAME"
}

# Two real runs (two complete folders), then a change to inno.
for i in 1 2; do
	run_oma -c "$E2E_T/oma.conf"
	if [[ $OMA_RC != 0 ]]; then
		echo "not ok - setup: real run $i exited with $OMA_RC"
		sed 's/^/#   /' "$E2E_ERR"
		exit 1
	fi
	sleep 1.1
done
mdb_sql -e "INSERT INTO inno.t VALUES (900001, 'changed')"

case_changes_nothing() {
	local before after n procs counters
	before=$(tree_state "$BDIR")
	n=$(starts)
	procs=$(processes)
	counters=$(write_counters)
	run_oma -c "$E2E_T/oma.conf" --dry-run
	assert_rc 0
	after=$(tree_state "$BDIR")
	if [[ $before != "$after" ]]; then
		diff <(echo "$before") <(echo "$after") || true
		fail "the backup folder tree changed (< before, > after)"
	fi
	assert_eq "$(processes)" "$procs" "the server's process list after the dry run"
	assert_eq "$(write_counters)" "$counters" "the server's write and lock counters"
	assert_eq "$(starts)" "$n" "mysqldump starts during the dry run"
	assert_eq "$(wc -c <"$E2E_ERR")" 0 "bytes on stderr"
	cp "$E2E_OUT" "$E2E_T/dry.out"
	assert_grep "$E2E_OUT" 'INFO Dry run: nothing is created, changed or removed'
	assert_grep "$E2E_OUT" 'INFO Backup will require '
	assert_grep "$E2E_OUT" "INFO Dry run: DB 'inno': would dump: "
	assert_grep "$E2E_OUT" "INFO Dry run: DB 'aria': would reuse oma_"
	assert_grep "$E2E_OUT" "INFO Dry run: DB 'quiet': would reuse oma_"
	assert_grep "$E2E_OUT" 'INFO Dry run: would dump 1 and reuse 2 of 3 selected databases, '
	assert_grep "$E2E_OUT" "INFO Dry run: would remove old backup directories: ['$(backup_folders "$BDIR" | head -n 1)']"
	assert_grep "$E2E_OUT" 'INFO Dry run: exit code 0'
}

# The real run that follows does what the dry run said.
case_real_run_matches() {
	[[ -f $E2E_T/dry.out ]] || fail "the dry run case did not run"
	local oldest db cur
	oldest=$(backup_folders "$BDIR" | head -n 1)
	run_oma -c "$E2E_T/oma.conf"
	assert_rc 0
	cur=$(newest_folder "$BDIR")
	for db in aria quiet; do
		assert_grep "$cur/oma.log" "DB '$db': Backup is newer than last database change. Reusing previous backup"
	done
	assert_grep "$cur/oma.log" "DB 'inno': Backup successfully"
	assert_no_grep "$cur/oma.log" "DB 'aria': Backup successfully"
	assert_grep "$cur/oma.log" "Removed old backup directories: ['$oldest']"
	assert_no_path "$BDIR/$oldest"
}

case_no_space() {
	local dir=$E2E_T/space old=oma_20000101-000000 before
	mkdir -p "$dir/$old"
	printf '{\n    "mysql_data_dir_bytes_used": 1000,\n    "backup_bytes_used": 1000000000,\n    "compression_ratio": 1000000.0\n}\n' >"$dir/$old/info.json"
	echo 'not a real dump' | gzip >"$dir/$old/inno.sql.gz"
	write_config "$E2E_T/space.conf" "$dir" 'versions = 1'
	before=$(tree_state "$dir")
	run_oma -c "$E2E_T/space.conf" --dry-run
	assert_rc 2
	assert_grep "$E2E_OUT" 'ERROR Not enough free space in target directory.'
	assert_eq "$(tree_state "$dir")" "$before" "the tree after a dry run without room"
}

case_locked() {
	local pid before
	before=$(tree_state "$BDIR")
	rm -f "$E2E_T/locked"
	# The holder is this one process (flock on an inherited fd, then sleep
	# in its place), so killing it lets the lock go.
	(
		exec 9<"$BDIR/.oma.lock"
		flock 9
		touch "$E2E_T/locked"
		exec sleep 30
	) &
	pid=$!
	local i
	for ((i = 0; i < 200; i++)); do
		[[ -f $E2E_T/locked ]] && break
		sleep 0.05
	done
	[[ -f $E2E_T/locked ]] || { kill "$pid"; fail "the test's flock did not start within 10 s"; }
	before=$(tree_state "$BDIR")
	run_oma -c "$E2E_T/oma.conf" --dry-run
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	assert_rc 3
	assert_grep "$E2E_ERR" 'Another instance of OMA is already running (backup folder '
	assert_eq "$(tree_state "$BDIR")" "$before" "the tree after a locked dry run"
}

case_server_unreachable() {
	local home=$E2E_HOME before
	before=$(tree_state "$BDIR")
	E2E_HOME=$E2E_T/home-badsock
	mkdir -p "$E2E_HOME"
	write_mycnf "$E2E_HOME" "$E2E_T/no-such-socket"
	run_oma -c "$E2E_T/oma.conf" --dry-run
	E2E_HOME=$home
	assert_rc 4
	assert_grep "$E2E_OUT" 'ERROR Cannot get server facts: '
	assert_eq "$(tree_state "$BDIR")" "$before" "the tree after a dry run without a server"
}

case_bad_config() {
	printf '[main]\nbackup_dir = "%s"\nversions = "three"\n' "$BDIR" >"$E2E_T/bad.conf"
	run_oma -c "$E2E_T/bad.conf" --dry-run
	assert_rc 1
	assert_grep "$E2E_ERR" 'Invalid configuration: '
	run_oma -c "$E2E_T/oma.conf" --dry-run --check-config
	assert_rc 1
}

# A read-only backup folder (a tmpfs remounted ro; mounted at top level:
# at_exit must not run in a case's subshell).
RO=$E2E_T/ro
mkdir -p "$RO"
if mount -t tmpfs -o size=1m tmpfs "$RO" 2>"$E2E_T/mount.err"; then
	at_exit "umount $(printf '%q' "$RO") 2>/dev/null || umount -l $(printf '%q' "$RO") 2>/dev/null"
fi

case_read_only() {
	mountpoint -q "$RO" || fail "cannot mount a tmpfs at $RO (needs root): $(head -n 1 "$E2E_T/mount.err")"
	write_config "$E2E_T/ro.conf" "$RO" 'do_databases = ["inno"]'
	mount -o remount,ro "$RO"
	run_oma -c "$E2E_T/ro.conf" --dry-run
	assert_rc 4
	assert_grep "$E2E_OUT" "ERROR store: cannot create backup folder in '$RO': Read-only file system"
	assert_grep "$E2E_OUT" 'INFO Dry run: exit code 4'
	# The real run agrees.
	run_oma -c "$E2E_T/ro.conf"
	assert_rc 4
	assert_grep "$E2E_ERR" "cannot create backup folder"
}

e2e_case "--dry-run changes nothing, starts no mysqldump, lists dumps, reuses, removals" case_changes_nothing
e2e_case "the real run after it dumps, reuses and removes what the dry run said" case_real_run_matches
e2e_case "--dry-run without room: exit 2, nothing changed" case_no_space
e2e_case "--dry-run while the backup folder is locked: exit 3, nothing changed" case_locked
e2e_case "--dry-run without a server: exit 4, nothing changed" case_server_unreachable
e2e_case "--dry-run with an invalid configuration: exit 1" case_bad_config
e2e_case "--dry-run on a read-only backup folder: exit 4 as the run, named" case_read_only

e2e_finish
