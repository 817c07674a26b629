#!/usr/bin/env bash
# test_faults.sh - end-to-end: oma under faults: killed and cancelled runs, two runs on one folder,
# future-dated folders, damaged dumps, hung children, signals, bad plugins, hostile input.
#
# One private MariaDB.  mysqldump and mysql are replaced by stand-ins that
# behave like the real ones except where a test asks them (through the
# FAULT_* environment, which oma passes on to its children) to stall, stop,
# hang or fail.  Every case checks the exit code, the log line, that no good
# backup is lost, that `last` names a complete backup and that no .part file
# survives the next run.  Timing bounds are generous: the machine is noisy.
# Cases are called through e2e_case.
# shellcheck disable=SC2317 # the case functions are called through e2e_case
set -euo pipefail

# shellcheck source=tests/lib/e2e.sh
. "$(dirname "$0")/../lib/e2e.sh"

e2e_setup db

if ! mdb_sql >"$E2E_T/load.log" 2>&1 <<-'SQL'; then
	CREATE DATABASE big;
	CREATE TABLE big.t (id INT PRIMARY KEY, v VARCHAR(100)) ENGINE=InnoDB;
	INSERT INTO big.t SELECT seq, CONCAT('row ', seq, ' ', MD5(seq)) FROM big.seq_1_to_100000;
	CREATE DATABASE small1;
	CREATE TABLE small1.t (id INT PRIMARY KEY) ENGINE=InnoDB;
	INSERT INTO small1.t SELECT seq FROM small1.seq_1_to_100;
	CREATE DATABASE small2;
	CREATE TABLE small2.t (id INT PRIMARY KEY, b BLOB) ENGINE=InnoDB;
	INSERT INTO small2.t SELECT seq, UNHEX(SHA2(seq, 256)) FROM small2.seq_1_to_200;
	CREATE DATABASE small3;
	CREATE TABLE small3.t (id INT PRIMARY KEY, v TEXT) ENGINE=MyISAM;
	INSERT INTO small3.t SELECT seq, REPEAT('x', 500) FROM small3.seq_1_to_300;
SQL
	echo 'not ok - load test data'
	sed 's/^/#   /' "$E2E_T/load.log"
	exit 1
fi
DBS='do_databases = ["big", "small1", "small2", "small3"]'

REAL_DUMP=$MDB_DUMP_BIN
REAL_MYSQL=$MDB_CLIENT_BIN
FLAGS=$E2E_T/flags
BIN=$E2E_T/bin
mkdir -p "$FLAGS" "$BIN"

# The mysqldump stand-in.  For the database $FAULT_DB it does $FAULT_MODE:
#   stall   pass 128 KiB, touch $FLAGS/stalled, wait (at most 60 s) for $FLAGS/gate, pass the rest
#   stop    write the header, touch $FLAGS/stalled, then SIGSTOP itself
#   bgerr   leave a background sleep holding stderr, then dump normally
#   warn    dump normally, then complain on stderr and exit 0 (as mysqldump does
#           without the PROCESS privilege)
#   fail    exit 2 with an error (for every database when FAULT_DB is "all")
# Every process of it has "fault-stand-in" in its command line.
cat >"$BIN/mysqldump" <<EOF
#!/bin/sh
# fault-stand-in: mysqldump for oma's end-to-end fault tests
real='$REAL_DUMP'
hit=0
for a in "\$@"; do [ "\$a" = "\${FAULT_DB:-}" ] && hit=1; done
[ "\${FAULT_DB:-}" = all ] && hit=1
[ "\$hit" = 1 ] || exec "\$real" "\$@"
case "\${FAULT_MODE:-}" in
stall)
	"\$real" "\$@" | {
		dd bs=128k count=1 iflag=fullblock 2>/dev/null
		touch '$FLAGS/stalled'
		i=0
		while [ ! -e '$FLAGS/gate' ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i + 1)); done
		cat
	} ;;
stop)
	echo '-- MariaDB dump (stand-in)'
	touch '$FLAGS/stalled'
	kill -STOP \$\$
	exec "\$real" "\$@" ;;
bgerr)
	sleep 31 >&2 &
	echo \$! > '$FLAGS/bg.pid'
	exec "\$real" "\$@" ;;
warn)
	"\$real" "\$@" || exit \$?
	echo "mysqldump: Error: 'Access denied; you need (at least one of) the PROCESS privilege(s) for this operation' when trying to dump tablespaces" >&2
	exit 0 ;;
fail)
	echo 'mysqldump: Got error: 1045: Access denied (stand-in)' >&2
	exit 2 ;;
*) exec "\$real" "\$@" ;;
esac
EOF
# The mysql stand-in: with FAULT_MYSQL=hang it touches $FLAGS/mysql and
# sleeps instead of answering.
cat >"$BIN/mysql" <<EOF
#!/bin/sh
# fault-stand-in: mysql for oma's end-to-end fault tests
if [ "\${FAULT_MYSQL:-}" = hang ]; then
	touch '$FLAGS/mysql'
	exec sleep 33
fi
exec '$REAL_MYSQL' "\$@"
EOF
chmod +x "$BIN/mysqldump" "$BIN/mysql"
STANDINS="mysqldump_bin = \"$BIN/mysqldump\""
STANDIN_MYSQL="mysql_bin = \"$BIN/mysql\""

# Processes of the stand-ins still running (their sleeps are 31 to 37 s
# long, so no other sleep on the machine is taken for one).
standin_procs() { pgrep -af -- 'fault-stand-in|sleep 3[1-7]$' | grep -v pgrep || true; }

# Stop whatever the stand-ins left (a stopped mysqldump after oma was killed).
cleanup_standins() {
	touch "$FLAGS/gate"
	pkill -CONT -f -- "$BIN/mysqldump" 2>/dev/null || true
	pkill -KILL -f -- "$BIN/" 2>/dev/null || true
	pkill -KILL -f -- 'sleep 3[1-7]$' 2>/dev/null || true
	if [[ -f $FLAGS/bg.pid ]]; then kill -KILL "$(cat "$FLAGS/bg.pid")" 2>/dev/null || true; fi
	rm -f "$FLAGS"/*
}
at_exit cleanup_standins

# Run oma with config $1 in the background (BG_PID), with the FAULT_*
# variables of the caller's environment.
start_bg() {
	(cd "$E2E_CWD" && exec env HOME="$E2E_HOME" LC_ALL=C "$OMA_BIN" -c "$1") \
		>"$E2E_T/bg.out" 2>"$E2E_T/bg.err" &
	BG_PID=$!
}

# Wait at most $2 seconds for file $1 to appear while oma (BG_PID) runs.
wait_file() {
	local deadline=$((SECONDS + $2))
	until [[ -e $1 ]]; do
		if ((SECONDS >= deadline)) || ! kill -0 "$BG_PID" 2>/dev/null; then
			kill -KILL "$BG_PID" 2>/dev/null || true # no run left to hold the lock
			cat "$E2E_T/bg.out" "$E2E_T/bg.err" >&2 || true
			fail "oma did not get to the point where $1 appears"
		fi
		sleep 0.05
	done
}

# Complete backup folders (with info.json) of $1, oldest name first.
complete_folders() {
	local f
	for f in $(backup_folders "$1"); do
		[[ -f $1/$f/info.json ]] && printf '%s\n' "$f"
	done
	return 0
}

# Folders without info.json (interrupted runs) of $1.
incomplete_folders() {
	local f
	for f in $(backup_folders "$1"); do
		[[ -f $1/$f/info.json ]] || printf '%s\n' "$f"
	done
	return 0
}

# A good run of config $1 that must exit 0; NEW is its folder.
good_run() {
	run_oma -c "$1"
	NEW=$(newest_folder "$2")
	assert_rc 0 "$NEW/oma.log"
	assert_file "$NEW/info.json"
}

# ---- 1. interrupted runs do not count as versions ------------------------------

case_kill9_runs() {
	local dir=$E2E_T/kill9 good=() i inc
	mkdir -p "$dir"
	write_config "$dir.conf" "$dir" 'versions = 3' "$DBS" "$STANDINS"
	for i in 1 2 3; do
		good_run "$dir.conf" "$dir"
		good+=("$(basename "$NEW")")
	done
	local before
	before=$(tree_md5 "$dir/${good[2]}")
	for i in 1 2 3; do
		rm -f "$FLAGS/stalled" "$FLAGS/gate"
		FAULT_DB=big FAULT_MODE=stall start_bg "$dir.conf"
		wait_file "$FLAGS/stalled" 60
		# The small databases are done once their files are final.
		local deadline=$((SECONDS + 30))
		until [[ -f $(newest_folder "$dir")/small1.sql.gz ]] || ((SECONDS >= deadline)); do sleep 0.05; done
		kill -KILL "$BG_PID"
		wait_bounded "$BG_PID" 10
		cleanup_standins
	done
	assert_eq "$(complete_folders "$dir" | tr '\n' ' ')" "${good[*]} " "complete folders after 3 killed runs"
	inc=$(incomplete_folders "$dir")
	assert_eq "$(wc -l <<<"$inc")" 3 "interrupted folders"
	[[ -n $(find "$dir" -name '*.part') ]] || fail "the killed runs left no .part file (test setup)"
	assert_last "$dir" "$dir/${good[2]}"
	assert_eq "$(tree_md5 "$dir/${good[2]}")" "$before" "files of the last good backup"

	good_run "$dir.conf" "$dir"
	for i in $inc; do
		assert_grep "$NEW/oma.log" "WARNING Backup folder $i is incomplete (its run did not finish)"
	done
	assert_grep "$NEW/oma.log" "WARNING Removed a temporary file left by an interrupted run: $dir/"
	# versions = 3 complete backups: the two newest good ones and this one.
	assert_eq "$(complete_folders "$dir" | tr '\n' ' ')" "${good[1]} ${good[2]} $(basename "$NEW") " \
		"complete folders after the next good run"
	assert_eq "$(incomplete_folders "$dir")" "" "interrupted folders after a newer complete backup"
	assert_no_part "$dir"
	assert_last "$dir" "$NEW"
	assert_complete_dump "$dir/${good[1]}/big.sql.gz"
}

# An interrupted run's folder is never the previous backup: here one killed
# before it dumped anything (only oma.log in it), which as "previous" would
# make every database dump again.  Reuse comes from the last complete one.
case_incomplete_not_previous() {
	local dir=$E2E_T/noprev first
	mkdir -p "$dir"
	write_config "$dir.conf" "$dir" 'versions = 3' "$DBS" "$STANDINS" 'skip_unchanged_dbs = true' \
		'log_level = "debug"'
	good_run "$dir.conf" "$dir"
	first=$NEW
	write_config "$dir-cond.conf" "$dir" 'versions = 3' "$DBS" "$STANDINS" \
		'skip_unchanged_dbs = true' '[conditions]' \
		'run_conditions = ["touch '"$FLAGS"'/cond; exec sleep 37"]'
	rm -f "$FLAGS/cond"
	start_bg "$dir-cond.conf"
	wait_file "$FLAGS/cond" 30
	kill -KILL "$BG_PID"
	wait_bounded "$BG_PID" 10
	cleanup_standins
	assert_eq "$(incomplete_folders "$dir" | wc -l)" 1 "interrupted folders"
	good_run "$dir.conf" "$dir"
	local db
	for db in big small1 small2 small3; do
		assert_grep "$NEW/oma.log" "DB '$db': Backup is newer than last database change. Reusing previous backup"
	done
	[[ $(stat -c %i "$NEW/small1.sql.gz") = $(stat -c %i "$first/small1.sql.gz") ]] ||
		fail "small1 was not reused from $first"
	assert_last "$dir" "$NEW"
}

# SIGTERM, SIGINT, SIGHUP and SIGUSR1 while mysqldump runs: everything is
# stopped, the signal logged, exit 4, nothing partial, the good backup kept.
signal_mid_dump() {
	local sig=$1 num=$2 dir=$E2E_T/sig-$1 good cur
	mkdir -p "$dir"
	write_config "$dir.conf" "$dir" 'versions = 1' "$DBS" "$STANDINS"
	good_run "$dir.conf" "$dir"
	good=$NEW
	rm -f "$FLAGS/stalled" "$FLAGS/gate"
	FAULT_DB=big FAULT_MODE=stall start_bg "$dir.conf"
	wait_file "$FLAGS/stalled" 60
	kill "-$sig" "$BG_PID"
	wait_bounded "$BG_PID" 20
	((BG_RC == 4)) || { cat "$E2E_T/bg.err"; fail "oma exited $BG_RC after SIG$sig, expected 4"; }
	grep -q "ERROR Backup cancelled by signal $num" "$E2E_T/bg.err" ||
		{ cat "$E2E_T/bg.err"; fail "stderr does not say 'Backup cancelled by signal $num'"; }
	cur=$(newest_folder "$dir")
	if [[ $cur != "$good" ]]; then
		assert_grep "$cur/oma.log" "ERROR Backup cancelled by signal $num"
		assert_no_path "$cur/info.json"
	else
		assert_grep "$dir/last.log" "ERROR Backup cancelled by signal $num"
	fi
	assert_no_part "$dir"
	local deadline=$((SECONDS + 5))
	while [[ -n $(standin_procs) ]] && ((SECONDS < deadline)); do sleep 0.1; done
	[[ -z $(standin_procs) ]] || fail "processes left: $(standin_procs)"
	assert_last "$dir" "$good"
	cleanup_standins
	# The next run finishes off what the cancelled one left.
	good_run "$dir.conf" "$dir"
	assert_eq "$(backup_folders "$dir")" "$(basename "$NEW")" "folders after the next run"
}

case_sigterm_dump() { signal_mid_dump TERM 15; }
case_sigint_dump() { signal_mid_dump INT 2; }
case_sighup_dump() { signal_mid_dump HUP 1; }
case_sigusr1_dump() { signal_mid_dump USR1 10; }

# SIGTERM while a run condition, the server query or a terminate condition
# runs: stopped at once (the process group too), logged, exit 4.
case_sigterm_phases() {
	local dir=$E2E_T/phases log
	mkdir -p "$dir"
	local cond='["touch '"$FLAGS"'/cond; exec sleep 37"]'
	# skip condition
	write_config "$dir-skip.conf" "$dir" "$DBS" "$STANDINS" '[conditions]' "skip_conditions = $cond"
	rm -f "$FLAGS/cond"
	start_bg "$dir-skip.conf"
	wait_file "$FLAGS/cond" 30
	kill -TERM "$BG_PID"
	wait_bounded "$BG_PID" 10
	assert_eq "$BG_RC" 4 "exit code after SIGTERM in a skip condition"
	assert_grep "$dir/last.log" "ERROR Backup cancelled by signal 15"
	assert_no_grep "$dir/last.log" "Backup skipped"
	assert_eq "$(backup_folders "$dir")" "" "folders after a cancelled skip condition"
	# run condition
	write_config "$dir-run.conf" "$dir" "$DBS" "$STANDINS" '[conditions]' "run_conditions = $cond"
	rm -f "$FLAGS/cond"
	start_bg "$dir-run.conf"
	wait_file "$FLAGS/cond" 30
	kill -TERM "$BG_PID"
	wait_bounded "$BG_PID" 10
	assert_eq "$BG_RC" 4 "exit code after SIGTERM in a run condition"
	assert_grep "$dir/last.log" "ERROR Backup cancelled by signal 15"
	assert_eq "$(backup_folders "$dir")" "" "folders after a cancelled run condition"
	[[ -z $(standin_procs) ]] || fail "the condition's sleep is still running: $(standin_procs)"
	# server query
	write_config "$dir-srv.conf" "$dir" "$DBS" "$STANDINS" "$STANDIN_MYSQL"
	rm -f "$FLAGS/mysql"
	FAULT_MYSQL=hang start_bg "$dir-srv.conf"
	wait_file "$FLAGS/mysql" 30
	kill -TERM "$BG_PID"
	wait_bounded "$BG_PID" 10
	assert_eq "$BG_RC" 4 "exit code after SIGTERM in the server query"
	assert_grep "$dir/last.log" "ERROR Backup cancelled by signal 15"
	[[ -z $(standin_procs) ]] || fail "mysql is still running: $(standin_procs)"
	# terminate condition: the backup itself is complete already
	write_config "$dir-term.conf" "$dir" "$DBS" "$STANDINS" '[conditions]' "terminate_conditions = $cond"
	rm -f "$FLAGS/cond"
	start_bg "$dir-term.conf"
	wait_file "$FLAGS/cond" 60
	kill -TERM "$BG_PID"
	wait_bounded "$BG_PID" 10
	assert_eq "$BG_RC" 4 "exit code after SIGTERM in a terminate condition"
	log=$(newest_folder "$dir")/oma.log
	assert_grep "$log" "ERROR Backup cancelled by signal 15"
	assert_last "$dir" "$(newest_folder "$dir")"
	[[ -z $(standin_procs) ]] || fail "the condition's sleep is still running: $(standin_procs)"
}

# ---- 2. two runs on one backup folder ----------------------------------------------

case_two_configs() {
	local dir=$E2E_T/shared before cur
	mkdir -p "$dir"
	write_config "$dir-a.conf" "$dir" 'versions = 1' "$DBS" "$STANDINS"
	write_config "$dir-b.conf" "$dir" 'versions = 1' "$DBS" "$STANDINS"
	sed -i "s/^lock_port = .*/lock_port = $((E2E_LOCK_PORT + 1))/" "$dir-b.conf"
	good_run "$dir-b.conf" "$dir"
	rm -f "$FLAGS/stalled" "$FLAGS/gate"
	FAULT_DB=big FAULT_MODE=stall start_bg "$dir-a.conf"
	wait_file "$FLAGS/stalled" 60
	before=$(backup_folders "$dir")
	cur=$(newest_folder "$dir")
	run_oma -c "$dir-b.conf"
	assert_rc 3
	assert_eq "$(cat "$E2E_ERR")" \
		"Another instance of OMA is already running (backup folder $dir is locked by PID $BG_PID)" \
		"stderr of the second run"
	assert_eq "$(backup_folders "$dir")" "$before" "folders after the second run"
	touch "$FLAGS/gate"
	wait_bounded "$BG_PID" 60
	assert_eq "$BG_RC" 0 "exit code of the first run"
	assert_last "$dir" "$cur"
	assert_complete_dump "$cur/big.sql.gz"
	cleanup_standins
}

# ---- 3. folders dated in the future ------------------------------------------------

case_future_folder() {
	local dir=$E2E_T/future first fake
	mkdir -p "$dir/oma_29991231-235959"
	write_config "$dir.conf" "$dir" 'versions = 2' "$DBS" 'skip_unchanged_dbs = true'
	good_run "$dir.conf" "$dir"
	first=$NEW
	assert_grep "$NEW/oma.log" "WARNING Backup folder oma_29991231-235959 is dated in the future"
	# Incomplete and dated first: gone once this backup is complete.
	assert_grep "$NEW/oma.log" "Removed old backup directories: ['oma_29991231-235959']"
	assert_no_path "$dir/oma_29991231-235959"
	# A complete folder made while the clock ran a year ahead.
	fake=$dir/oma_29991230-000000
	cp -a "$first" "$fake"
	local ahead=$(($(date +%s) + 366 * 86400))
	printf '{\n    "mysql_data_dir_bytes_used": 1,\n    "backup_bytes_used": 1,\n    "compression_ratio": 0.5,\n    "started": %s,\n    "completed": %s\n}' "$ahead" "$ahead" >"$fake/info.json"
	good_run "$dir.conf" "$dir"
	# Neither is "previous": reuse comes from the first run.
	assert_grep "$NEW/oma.log" "DB 'small1': Backup is newer than last database change. Reusing previous backup"
	[[ $(stat -c %i "$NEW/small1.sql.gz") = $(stat -c %i "$first/small1.sql.gz") ]] ||
		fail "small1 was not reused from $first"
	assert_grep "$NEW/oma.log" "WARNING Backup folder oma_29991230-000000 is dated in the future"
	# versions = 2: the future-dated complete one goes first.
	assert_grep "$NEW/oma.log" "Removed old backup directories: ['oma_29991230-000000']"
	assert_eq "$(backup_folders "$dir" | tr '\n' ' ')" "$(basename "$first") $(basename "$NEW") " \
		"folders after the second run"
	assert_last "$dir" "$NEW"
}

# ---- 4. a damaged dump is not reused -----------------------------------------------

case_flipped_byte() {
	local dir=$E2E_T/flip first
	mkdir -p "$dir"
	write_config "$dir.conf" "$dir" 'versions = 2' "$DBS" 'skip_unchanged_dbs = true'
	good_run "$dir.conf" "$dir"
	first=$NEW
	printf '\377\377\377\377' | dd of="$first/small3.sql.gz" bs=1 seek=40 conv=notrunc 2>/dev/null
	! gzip -t "$first/small3.sql.gz" 2>/dev/null || fail "the flipped bytes left a valid gzip file (test setup)"
	good_run "$dir.conf" "$dir"
	assert_grep "$NEW/oma.log" "WARNING DB 'small3': previous dump $first/small3.sql.gz does not match the SHA-256 recorded when it was written (damaged?); dumping it again"
	assert_grep "$NEW/oma.log" "INFO DB 'small3': Backup successfully"
	assert_grep "$NEW/oma.log" "DB 'small1': Backup is newer than last database change. Reusing previous backup"
	assert_complete_dump "$NEW/small3.sql.gz"
}

# ---- 5. delete_before with versions = 1 and a failing run --------------------------

case_delete_before_fail() {
	local dir=$E2E_T/delbefore good
	mkdir -p "$dir"
	write_config "$dir.conf" "$dir" 'versions = 1' 'delete_before = true' "$DBS" "$STANDINS"
	good_run "$dir.conf" "$dir"
	good=$NEW
	FAULT_DB=all FAULT_MODE=fail run_oma -c "$dir.conf"
	assert_rc 4 "$dir/last.log"
	[[ -d $good ]] || fail "delete_before removed the only backup before a run that failed"
	assert_last "$dir" "$good"
	assert_complete_dump "$dir/last/big.sql.gz"
	good_run "$dir.conf" "$dir"
	assert_eq "$(backup_folders "$dir")" "$(basename "$NEW")" "folders after the next good run"
	assert_last "$dir" "$NEW"
}

# A FIFO in place of a file oma reads (the previous folder's info.json, a
# sidecar) must not hang the run: it is not a regular file, and said so.
case_fifo_files() {
	local dir=$E2E_T/fifo first
	mkdir -p "$dir"
	write_config "$dir.conf" "$dir" 'versions = 3' "$DBS" 'skip_unchanged_dbs = true'
	good_run "$dir.conf" "$dir"
	first=$NEW
	rm "$first/small1.timestamp"
	mkfifo "$first/small1.timestamp"
	sleep 1
	start_bg "$dir.conf"
	wait_bounded "$BG_PID" 120
	NEW=$(newest_folder "$dir")
	assert_eq "$BG_RC" 0 "exit code with a FIFO as a sidecar"
	assert_grep "$NEW/oma.log" "small1.timestamp is not a regular file"
	assert_grep "$NEW/oma.log" "INFO DB 'small1': Backup successfully"
	assert_complete_dump "$NEW/small1.sql.gz"
	# The newest backup's info.json a FIFO: the space check says so and
	# goes on with its default ratio.
	rm "$NEW/info.json"
	mkfifo "$NEW/info.json"
	sleep 1
	start_bg "$dir.conf"
	wait_bounded "$BG_PID" 120
	assert_eq "$BG_RC" 0 "exit code with a FIFO as info.json"
	assert_grep "$(newest_folder "$dir")/oma.log" "info.json' is not a regular file"
}

# delete_before with a database that keeps failing: its last good dump is
# in an older folder, which pruning before the dumps must not take.
case_delete_before_failing_db() {
	local dir=$E2E_T/delbefore-db first
	mkdir -p "$dir"
	write_config "$dir.conf" "$dir" 'versions = 2' 'delete_before = true' "$DBS" "$STANDINS"
	good_run "$dir.conf" "$dir"
	first=$NEW
	sleep 1
	FAULT_DB=small1 FAULT_MODE=fail run_oma -c "$dir.conf"
	assert_rc 4 "$dir/last.log"
	assert_grep "$dir/last/info.json" '"failed_databases": 1'
	sleep 1
	FAULT_DB=small1 FAULT_MODE=fail run_oma -c "$dir.conf"
	assert_rc 4 "$dir/last.log"
	assert_grep "$dir/last.log" "WARNING delete_before: not removing old backup directories before the dumps: 1 database(s) failed in the last backup"
	[[ -d $first ]] || fail "delete_before removed the folder with small1's last good dump"
	assert_complete_dump "$first/small1.sql.gz"
	# Once small1 dumps again, pruning catches up.
	sleep 1
	good_run "$dir.conf" "$dir"
	[[ ! -d $first ]] || fail "the folder with small1's old dump outlived a good run"
	assert_eq "$(complete_folders "$dir" | wc -l)" 2 "complete folders after the good run"
	assert_last "$dir" "$NEW"
}

# delete_before, versions = 1, no room: the last backup goes only when
# removing it makes the room.
case_delete_before_no_room() {
	local dir=$E2E_T/delbefore-room old
	mkdir -p "$dir"
	write_config "$dir.conf" "$dir" 'versions = 1' 'delete_before = true' "$DBS"
	good_run "$dir.conf" "$dir"
	old=$NEW
	# A recorded ratio that no disk can hold.
	sed -i 's/"compression_ratio": [0-9.e+-]*/"compression_ratio": 1000000000.0/' "$old/info.json"
	sleep 1
	run_oma -c "$dir.conf"
	assert_rc 2 "$dir/last.log"
	assert_grep "$dir/last.log" "WARNING delete_before: removing the last complete backup would free only"
	assert_grep "$dir/last.log" "ERROR Not enough free space in target directory."
	[[ -d $old ]] || fail "delete_before removed the last backup without making the room"
	assert_last "$dir" "$old"
	assert_complete_dump "$dir/last/big.sql.gz"
}

# versions = 1 runs in a row: no warning about links (they were pointed
# at the folder being pruned and "fixed" every run).
case_versions1_no_link_warning() {
	local dir=$E2E_T/v1
	mkdir -p "$dir"
	write_config "$dir.conf" "$dir" 'versions = 1' "$DBS"
	good_run "$dir.conf" "$dir"
	sleep 1
	good_run "$dir.conf" "$dir"
	assert_no_grep "$NEW/oma.log" "WARNING"
	assert_eq "$(backup_folders "$dir")" "$(basename "$NEW")" "folders after two runs"
	assert_last "$dir" "$NEW"
	assert_eq "$(readlink "$dir/last.log")" "$NEW/oma.log" "last.log"
	assert_eq "$(readlink "$dir/last.result.json")" "$NEW/result.json" "last.result.json"
}

# do_databases naming only databases that do not exist: nothing was
# backed up, which is a failure.
case_do_databases_missing() {
	local dir=$E2E_T/missing
	mkdir -p "$dir"
	write_config "$dir.conf" "$dir" 'do_databases = ["no_such_db", "nor_this"]'
	run_oma -c "$dir.conf"
	assert_rc 4 "$dir/last.log"
	assert_grep "$dir/last.log" "WARNING Database 'no_such_db' listed in do_databases does not exist."
	assert_grep "$dir/last.log" "ERROR None of the databases listed in do_databases exists; nothing was backed up"
	assert_grep "$dir/last.result.json" '"exit_code": 4,'
	assert_eq "$(backup_folders "$dir")" "" "backup folders"
}

# ---- 6. hung children -----------------------------------------------------------------

case_stopped_mysqldump() {
	local dir=$E2E_T/stopped t0 cur
	mkdir -p "$dir"
	write_config "$dir.conf" "$dir" "$DBS" "$STANDINS" 'dump_stall_timeout = 2'
	rm -f "$FLAGS/stalled"
	t0=$SECONDS
	FAULT_DB=big FAULT_MODE=stop run_oma -c "$dir.conf"
	cur=$(newest_folder "$dir")
	assert_rc 4 "$cur/oma.log"
	((SECONDS - t0 < 60)) || fail "oma took $((SECONDS - t0)) s with a stopped mysqldump"
	assert_grep "$cur/oma.log" "ERROR DB 'big': Backup failed: mysqldump wrote nothing for 2 seconds (dump_stall_timeout); stopped"
	assert_complete_dump "$cur/small1.sql.gz"
	assert_no_part "$dir"
	[[ -z $(pgrep -f -- "$BIN/mysqldump" || true) ]] || fail "the stopped mysqldump is still there"
	# The lock is free again.
	good_run "$dir.conf" "$dir"
}

case_hung_server_query() {
	local dir=$E2E_T/hungsrv good t0
	mkdir -p "$dir"
	write_config "$dir.conf" "$dir" "$DBS" "$STANDIN_MYSQL" 'server_timeout = 2'
	good_run "$dir.conf" "$dir"
	good=$NEW
	t0=$SECONDS
	FAULT_MYSQL=hang run_oma -c "$dir.conf"
	assert_rc 4 "$dir/last.log"
	((SECONDS - t0 < 30)) || fail "oma took $((SECONDS - t0)) s with a hung mysql"
	assert_grep "$dir/last.log" "mysql: no answer within 2 seconds (server_timeout); stopped"
	assert_grep "$E2E_ERR" "no answer within 2 seconds (server_timeout)"
	assert_last "$dir" "$good"
	[[ -z $(standin_procs) ]] || fail "mysql is still running: $(standin_procs)"
}

case_background_stderr() {
	local dir=$E2E_T/bgerr t0
	mkdir -p "$dir"
	write_config "$dir.conf" "$dir" "$DBS" "$STANDINS"
	t0=$SECONDS
	FAULT_DB=small2 FAULT_MODE=bgerr good_run "$dir.conf" "$dir"
	((SECONDS - t0 < 25)) || fail "oma waited $((SECONDS - t0)) s for a background process"
	assert_grep "$NEW/oma.log" "WARNING DB 'small2': mysqldump exited but something it started kept its output open"
	assert_complete_dump "$NEW/small2.sql.gz"
	cleanup_standins
}

case_quiet_reporter() {
	local dir=$E2E_T/quiet plugins=$E2E_T/quiet-plugins t0
	mkdir -p "$dir" "$plugins"
	cp "$(dirname "$OMA_BIN")"/plugins/*.so "$plugins/"
	cp "$(dirname "$OMA_BIN")/tests/fixtures/report_quiet.so" "$plugins/report-quiet.so"
	chmod 0644 "$plugins"/*.so
	write_config "$dir.conf" "$dir" "$DBS" "plugin_dir = \"$plugins\"" 'report_timeout = 2' '[quiet]'
	t0=$SECONDS
	run_oma -c "$dir.conf"
	assert_rc 4 "$(newest_folder "$dir")/oma.log"
	((SECONDS - t0 < 40)) || fail "oma waited $((SECONDS - t0)) s for a reporter that closed its pipe"
	assert_grep "$(newest_folder "$dir")/oma.log" "ERROR Reporter 'quiet' failed: no answer within 2 seconds; stopped"
	# result.json tells the exit code the run ended with, not the one
	# before the reporters ran.
	assert_grep "$(newest_folder "$dir")/result.json" '"exit_code": 4,'
	assert_last "$dir" "$(newest_folder "$dir")"
	# SIGTERM while it hangs: stopped at once, logged, exit 4.
	write_config "$dir-long.conf" "$dir" "$DBS" "plugin_dir = \"$plugins\"" 'report_timeout = 600' '[quiet]'
	rm -f "$FLAGS/reporter"
	OMA_FIXTURE_MARKER=$FLAGS/reporter start_bg "$dir-long.conf"
	wait_file "$FLAGS/reporter" 60
	kill -TERM "$BG_PID"
	wait_bounded "$BG_PID" 10
	assert_eq "$BG_RC" 4 "exit code after SIGTERM in a reporter"
	assert_grep "$(newest_folder "$dir")/oma.log" "ERROR Reporter 'quiet' failed: cancelled"
	assert_grep "$(newest_folder "$dir")/oma.log" "ERROR Backup cancelled by signal 15"
	assert_grep "$(newest_folder "$dir")/result.json" '"exit_code": 4,'
	assert_last "$dir" "$(newest_folder "$dir")"
}

# ---- 8. bad plugin files -------------------------------------------------------------

case_bad_plugins() {
	local dir=$E2E_T/badplug plugins=$E2E_T/bad-plugins
	mkdir -p "$dir" "$plugins"
	cp "$(dirname "$OMA_BIN")"/plugins/*.so "$plugins/"
	chmod 0644 "$plugins"/*.so
	chmod 0755 "$plugins"
	# A stray, truncated *.so does not stop a run that does not use it.
	head -c 1000 "$plugins/compress-zstd.so" >"$plugins/trunc.so"
	write_config "$dir.conf" "$dir" "$DBS" "plugin_dir = \"$plugins\""
	good_run "$dir.conf" "$dir"
	# The compressor the run uses, truncated: a clear error, no crash, nothing made.
	head -c 1000 "$(dirname "$OMA_BIN")/plugins/compress-zstd.so" >"$plugins/compress-zstd.so"
	write_config "$dir-zstd.conf" "$dir" "$DBS" "plugin_dir = \"$plugins\"" 'compression = "zstd"'
	local before
	before=$(backup_folders "$dir")
	run_oma -c "$dir-zstd.conf"
	assert_rc 1
	assert_grep "$E2E_ERR" "Invalid configuration: config $dir-zstd.conf: [main] compression: plugin $plugins/compress-zstd.so: truncated or damaged ELF file"
	assert_eq "$(wc -l <"$E2E_ERR")" 1 "lines on stderr"
	assert_eq "$(backup_folders "$dir")" "$before" "folders after a bad plugin"
	run_oma --check-config -c "$dir-zstd.conf"
	assert_rc 1
	assert_grep "$E2E_ERR" "compress-zstd.so: truncated or damaged ELF file"
	# Its size right but zeros after byte 1000 (the size set, the contents
	# never written): dlopen would die of SIGSEGV on it.  A new file, as a
	# copy that crashed would leave.
	local size
	size=$(stat -c %s "$(dirname "$OMA_BIN")/plugins/compress-zstd.so")
	rm -f "$plugins/compress-zstd.so"
	head -c 1000 "$(dirname "$OMA_BIN")/plugins/compress-zstd.so" >"$plugins/compress-zstd.so"
	truncate -s "$size" "$plugins/compress-zstd.so"
	chmod 0644 "$plugins/compress-zstd.so"
	for mode in run check; do
		if [[ $mode = run ]]; then run_oma -c "$dir-zstd.conf"; else run_oma --check-config -c "$dir-zstd.conf"; fi
		assert_rc 1
		assert_grep "$E2E_ERR" "plugin $plugins/compress-zstd.so: damaged ELF file ("
		assert_eq "$(wc -l <"$E2E_ERR")" 1 "lines on stderr ($mode, zero-filled plugin)"
		[[ -z $(find "$E2E_CWD" -maxdepth 1 -name 'core*') ]] || fail "a core file in $E2E_CWD"
	done
	assert_eq "$(backup_folders "$dir")" "$before" "folders after a zero-filled plugin"
	# A FIFO under the plugin's name: refused at once, never waited on.
	rm -f "$plugins/compress-zstd.so"
	mkfifo -m 0644 "$plugins/compress-zstd.so"
	start_bg "$dir-zstd.conf"
	wait_bounded "$BG_PID" 60
	assert_eq "$BG_RC" 1 "exit code with a FIFO as the plugin"
	assert_grep "$E2E_T/bg.err" "plugin $plugins/compress-zstd.so: not a regular file"
	rm -f "$plugins/compress-zstd.so"
	if [[ $(id -u) = 0 ]]; then
		chmod 0775 "$plugins"
		run_oma -c "$dir.conf"
		assert_rc 1
		assert_grep "$E2E_ERR" "plugin folder $plugins is writable by its group (mode 0775): refusing to load code from it as root"
		chmod 0755 "$plugins"
		chmod 0666 "$plugins/compress-gzip.so"
		run_oma -c "$dir.conf"
		assert_rc 1
		assert_grep "$E2E_ERR" "plugin file $plugins/compress-gzip.so is writable by others (mode 0666)"
	fi
	assert_eq "$(backup_folders "$dir")" "$before" "folders after refused plugins"
}

# ---- 9. hostile configuration files --------------------------------------------------

case_bad_config_files() {
	local dir=$E2E_T/badconf t0
	mkdir -p "$dir"
	t0=$SECONDS
	run_oma -c /dev/zero
	assert_rc 1
	assert_eq "$(cat "$E2E_ERR")" "Invalid configuration: config /dev/zero: larger than 1024 KiB, which no oma configuration is" "stderr"
	((SECONDS - t0 < 10)) || fail "oma took $((SECONDS - t0)) s to refuse /dev/zero"
	write_config "$dir.conf" "$dir" '[conditions]' 'run_conditions = ["true"]' 'run_conditions_timeout = 4294967297'
	run_oma -c "$dir.conf"
	assert_rc 1
	assert_eq "$(cat "$E2E_ERR")" "Invalid configuration: config $dir.conf:7: [conditions] run_conditions_timeout: must be 0..2147483647 seconds (0: no limit), not 4294967297" "stderr"
	assert_eq "$(backup_folders "$dir")" "" "folders"
}

# ---- 10. a database name that would forge a log line ---------------------------------

case_newline_name() {
	local dir=$E2E_T/hostile forged value evil
	mkdir -p "$dir"
	forged='2026-12-07 00:00:00,000 INFO Successfully dumped 9 of 9' # a name has at most 64 characters
	# MariaDB refuses a newline in a database name but takes a carriage
	# return (a line break to terminals, Python's splitlines and syslog); a
	# newline can still come from do_databases (the missing-database warning).
	evil="evil"$'\r'"$forged"
	mdb_sql -e "CREATE DATABASE \`$evil\`; CREATE TABLE \`$evil\`.t (id INT PRIMARY KEY);
		INSERT INTO \`$evil\`.t VALUES (1);"
	cat >"$BIN/zabbix_sender" <<-EOF
		#!/bin/sh
		# fault-stand-in: keeps the value it was given
		while [ \$# -gt 0 ]; do [ "\$1" = -o ] && printf '%s' "\$2" > '$FLAGS/value'; shift; done
		exit 0
	EOF
	chmod +x "$BIN/zabbix_sender"
	write_config "$dir.conf" "$dir" \
		'do_databases = ["small1", "evil\r'"$forged"'", "ghost\n'"$forged"'"]' \
		'[zabbix]' 'item_key = "oma.backup"' "sender_bin = \"$BIN/zabbix_sender\""
	good_run "$dir.conf" "$dir"
	mdb_sql -e "DROP DATABASE \`$evil\`"
	assert_log_format "$NEW/oma.log"
	if grep -q "^$forged" "$NEW/oma.log"; then fail "a database name forged a log line"; fi
	if grep -q $'\r' "$NEW/oma.log"; then fail "a carriage return reached oma.log"; fi
	assert_grep "$NEW/oma.log" "INFO DB 'evil\\r$forged': Backup successfully"
	assert_grep "$NEW/oma.log" "WARNING Database 'ghost\\n$forged' listed in do_databases does not exist."
	jq -e --arg n "$evil" '[.databases[].name] | index($n) != null' "$NEW/result.json" >/dev/null ||
		fail "result.json does not hold the name as it is"
	value=$(cat "$FLAGS/value")
	if grep -q "^$forged" <<<"$value"; then fail "a database name forged a line of the Zabbix value"; fi
	if grep -q $'\r' <<<"$value"; then fail "a carriage return reached the Zabbix value"; fi
	tail -n +2 <<<"$value" >"$E2E_T/value-log"
	assert_log_format "$E2E_T/value-log"
	rm -f "$BIN/zabbix_sender"
}

# ---- 11. mysqldump complaining but succeeding; a full disk names the file -----------

case_mysqldump_warning() {
	local dir=$E2E_T/warn
	mkdir -p "$dir"
	write_config "$dir.conf" "$dir" "$DBS" "$STANDINS"
	FAULT_DB=small1 FAULT_MODE=warn good_run "$dir.conf" "$dir"
	assert_grep "$NEW/oma.log" "WARNING DB 'small1': mysqldump: error: 'Access denied; you need (at least one of) the PROCESS privilege(s) for this operation' when trying to dump tablespaces"
	assert_no_grep "$NEW/oma.log" "Error"
	assert_no_grep "$NEW/oma.log" " ERROR "
	assert_eq "$(cat "$E2E_ERR")" "" "stderr of a successful run"
}

# Small file systems for the full-disk and read-only cases, mounted here
# (at_exit must not be called inside a case: its subshell would run every
# exit command when it ends).
FULL=$E2E_T/full
RO=$E2E_T/ro
mkdir -p "$FULL" "$RO"
for m in "$FULL" "$RO"; do
	if mount -t tmpfs -o size=1m tmpfs "$m" 2>>"$E2E_T/mount.err"; then
		at_exit "umount $(printf '%q' "$m") 2>/dev/null || umount -l $(printf '%q' "$m") 2>/dev/null"
	fi
done

# $1 is a mounted tmpfs (the test needs root for it).
need_mount() {
	mountpoint -q "$1" || fail "cannot mount a tmpfs at $1: $(head -n 1 "$E2E_T/mount.err")"
	MNT=$1
}

case_disk_full_names_file() {
	need_mount "$FULL"
	# A previous backup whose ratio makes the estimate pass; the dump of
	# big (megabytes) does not fit.
	mkdir "$MNT/oma_20200101-000000"
	printf '{\n    "mysql_data_dir_bytes_used": 1000000000,\n    "backup_bytes_used": 1000000,\n    "compression_ratio": 0.001\n}' >"$MNT/oma_20200101-000000/info.json"
	write_config "$E2E_T/full.conf" "$MNT" 'do_databases = ["big"]' 'compression_level = 1' 'versions = 5'
	run_oma -c "$E2E_T/full.conf"
	assert_rc 2 "$MNT/last.log"
	grep -qE "ERROR DB 'big': Backup failed: cannot write $MNT/oma_[0-9]{8}-[0-9]{6}/big\.sql\.gz\.part: No space left on device" "$E2E_ERR" ||
		{ cat "$E2E_ERR"; fail "the ENOSPC error does not name the .part file"; }
	assert_no_grep "$E2E_ERR" "fd "
	assert_no_part "$MNT"
	assert_file "$MNT/oma_20200101-000000/info.json"
}

case_folder_error_once() {
	need_mount "$RO"
	write_config "$E2E_T/ro.conf" "$MNT" "$DBS"
	mount -o remount,ro "$MNT"
	run_oma -c "$E2E_T/ro.conf"
	assert_rc 4
	assert_eq "$(grep -c 'cannot create backup folder' "$E2E_ERR")" 1 \
		"times the folder error is printed (stderr: $(cat "$E2E_ERR"))"
	assert_grep "$E2E_ERR" "Read-only file system"
}

e2e_case "kill -9 three times, versions = 3: good backups kept, interrupted folders reported, not counted, removed with their .part files once a newer backup is complete" case_kill9_runs
e2e_case "an interrupted run's folder is never the previous backup (reuse comes from the last complete one)" case_incomplete_not_previous
e2e_case "SIGTERM mid-dump: stopped, 'Backup cancelled by signal 15', exit 4, nothing partial" case_sigterm_dump
e2e_case "SIGINT mid-dump: the same with signal 2" case_sigint_dump
e2e_case "SIGHUP mid-dump (a closed ssh session): the same with signal 1" case_sighup_dump
e2e_case "SIGUSR1 mid-dump: the same with signal 10" case_sigusr1_dump
e2e_case "SIGTERM in a skip or run condition, the server query, a terminate condition: stopped at once, logged, exit 4" case_sigterm_phases
e2e_case "two configs with other lock ports on one backup_dir: the second exits 3, the first completes, last is right" case_two_configs
e2e_case "folders dated in the future: warned about, never previous, pruned first" case_future_folder
e2e_case "a dump damaged on disk is not reused: SHA-256 mismatch warned about, dumped again" case_flipped_byte
e2e_case "delete_before, versions = 1, every dump failing: the last backup and last are kept" case_delete_before_fail
e2e_case "a FIFO as a sidecar or as info.json does not hang the run" case_fifo_files
e2e_case "delete_before, versions = 2, a database failing twice: its last good dump's folder is not pruned before the dumps" case_delete_before_failing_db
e2e_case "delete_before, versions = 1, no room even without the last backup: it is kept, exit 2" case_delete_before_no_room
e2e_case "versions = 1, two good runs: no warning, last, last.log and last.result.json at the new folder" case_versions1_no_link_warning
e2e_case "do_databases naming only missing databases: exit 4, nothing backed up" case_do_databases_missing
e2e_case "a stopped (SIGSTOP) mysqldump is stopped after dump_stall_timeout, logged, lock released" case_stopped_mysqldump
e2e_case "a hung server query is stopped after server_timeout, good backup kept" case_hung_server_query
e2e_case "a background process holding mysqldump's stderr does not hold the run" case_background_stderr
e2e_case "a reporter that closes its pipe and sleeps: stopped after report_timeout, or at once by SIGTERM" case_quiet_reporter
e2e_case "truncated or unsafe plugin files: stray ones ignored, used ones refused with one clear line" case_bad_plugins
e2e_case "-c /dev/zero and a timeout past 2^31: refused with one line, nothing made" case_bad_config_files
e2e_case "a database name with a newline forges no line in oma.log or the Zabbix value" case_newline_name
e2e_case "mysqldump complaining on stderr but exiting 0: a warning, no 'Error' in the log" case_mysqldump_warning
e2e_case "disk full during a dump: the error names the .part file" case_disk_full_names_file
e2e_case "the backup folder cannot be made: the error is printed once" case_folder_error_once
e2e_finish
