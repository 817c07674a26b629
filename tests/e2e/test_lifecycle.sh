#!/usr/bin/env bash
# test_lifecycle.sh - end-to-end: reuse across runs, compressor switches, pruning, low disk, signals, lock.
#
# One private MariaDB with InnoDB, Aria and MyISAM databases.  The cases
# follow a backup folder through several runs as cron would: a change
# committed right before a run is dumped while untouched databases are
# reused (hard or symbolic link left behind); every kept `last` dump
# restores; a compressor switch dumps anew; delete_before keeps `versions`
# folders; a full disk (tmpfs) exits 2 without touching older backups;
# SIGTERM in the middle of a dump leaves no partial file; a second instance
# exits 3; a failed dump is never reused; condition edge cases.
# Cases are called through e2e_case.
# shellcheck disable=SC2317 # the case functions are called through e2e_case
set -euo pipefail

# shellcheck source=tests/lib/e2e.sh
. "$(dirname "$0")/../lib/e2e.sh"

e2e_setup db

# *_chg databases are changed by the cases, *_keep never after loading;
# big is about 5 MB of hex that does not compress well; small is tiny.
if ! mdb_sql >"$E2E_T/load.log" 2>&1 <<-'SQL'; then
	CREATE DATABASE inno_chg;
	CREATE TABLE inno_chg.t (id INT PRIMARY KEY, v VARCHAR(60)) ENGINE=InnoDB;
	INSERT INTO inno_chg.t SELECT seq, CONCAT('row ', seq) FROM inno_chg.seq_1_to_3000;
	CREATE DATABASE aria_chg;
	CREATE TABLE aria_chg.t (id INT PRIMARY KEY, v VARCHAR(60)) ENGINE=Aria;
	INSERT INTO aria_chg.t SELECT seq, CONCAT('row ', seq) FROM aria_chg.seq_1_to_3000;
	CREATE DATABASE myisam_chg;
	CREATE TABLE myisam_chg.t (id INT PRIMARY KEY, v VARCHAR(60)) ENGINE=MyISAM;
	INSERT INTO myisam_chg.t SELECT seq, CONCAT('row ', seq) FROM myisam_chg.seq_1_to_3000;
	CREATE DATABASE inno_keep;
	CREATE TABLE inno_keep.a (id INT PRIMARY KEY, v VARCHAR(60)) ENGINE=InnoDB;
	INSERT INTO inno_keep.a SELECT seq, CONCAT('keep ', seq) FROM inno_keep.seq_1_to_3000;
	CREATE TABLE inno_keep.b (id INT PRIMARY KEY, h CHAR(32) NULL) ENGINE=InnoDB;
	INSERT INTO inno_keep.b SELECT seq, IF(seq % 5 = 0, NULL, MD5(seq)) FROM inno_keep.seq_1_to_2000;
	CREATE DATABASE aria_keep;
	CREATE TABLE aria_keep.t (id INT PRIMARY KEY, v VARCHAR(60)) ENGINE=Aria;
	INSERT INTO aria_keep.t SELECT seq, CONCAT('aria ', seq) FROM aria_keep.seq_1_to_2000;
	CREATE DATABASE myisam_keep;
	CREATE TABLE myisam_keep.t (id INT PRIMARY KEY, v VARCHAR(60)) ENGINE=MyISAM;
	INSERT INTO myisam_keep.t SELECT seq, CONCAT('myisam ', seq) FROM myisam_keep.seq_1_to_2000;
	CREATE DATABASE fail_db;
	CREATE TABLE fail_db.t (id INT PRIMARY KEY, v VARCHAR(60)) ENGINE=InnoDB;
	INSERT INTO fail_db.t SELECT seq, CONCAT('row ', seq) FROM fail_db.seq_1_to_5000;
	CREATE DATABASE big;
	CREATE TABLE big.t (id INT PRIMARY KEY, h CHAR(64)) ENGINE=InnoDB;
	INSERT INTO big.t SELECT seq, CONCAT(MD5(RAND()), MD5(RAND())) FROM big.seq_1_to_50000;
	CREATE DATABASE small;
	CREATE TABLE small.t (id INT PRIMARY KEY) ENGINE=InnoDB;
	INSERT INTO small.t VALUES (1), (2), (3);
SQL
	echo 'not ok - load test data'
	sed 's/^/#   /' "$E2E_T/load.log"
	exit 1
fi
# InnoDB writes freshly loaded pages to the .ibd files whenever its page
# cleaner gets to them, and Aria keeps them in its page cache until a
# checkpoint, which an idle server may never reach.  Write everything now,
# as on a server that has long been idle, so that the table files of the
# databases the cases do not touch keep their times.  Whatever is reused
# later must be older than the first dump's start with a margin: file
# times and stored starts have one-second resolution in places, and a
# change in the second before a dump's start may count as newer than it.
INNO_TABLES=$(mdb_sql -N -B -e "SELECT GROUP_CONCAT(CONCAT('\`', table_schema, '\`.\`', table_name, '\`')) FROM information_schema.tables WHERE engine = 'InnoDB' AND table_schema IN ('inno_chg', 'inno_keep', 'fail_db', 'big', 'small')")
if ! mdb_sql -e "FLUSH TABLES $INNO_TABLES FOR EXPORT; UNLOCK TABLES; FLUSH TABLES" >"$E2E_T/flush.log" 2>&1; then
	echo 'not ok - write the loaded data to disk'
	sed 's/^/#   /' "$E2E_T/flush.log"
	exit 1
fi
sleep 2.1

REAL_DUMP=$MDB_DUMP_BIN
ALL_DBS='do_databases = ["inno_chg", "aria_chg", "myisam_chg", "inno_keep", "aria_keep", "myisam_keep"]'
KEEP_NAMES=(inno_keep aria_keep myisam_keep)
KEEP_DBS='do_databases = ["inno_keep", "aria_keep", "myisam_keep"]'

# ---- helpers -------------------------------------------------------------------

# Run oma with config $1 (backup folder: the config's name without .conf);
# NEW is the newest folder afterwards; the exit code must be ${2:-0}.
backup() {
	run_oma -c "$1"
	NEW=$(newest_folder "${1%.conf}")
	assert_rc "${2:-0}" "$NEW/oma.log"
}

reused() { grep -aqF "DB '$2': Backup is newer than last database change. Reusing previous backup" "$1/oma.log"; }
dumped() { grep -aqF "DB '$2': Backup successfully" "$1/oma.log"; }

# Fail unless folder $1's log shows database $2 reused.
must_reuse() {
	reused "$1" "$2" || {
		grep -aE "'$2'|Skip unchanged|skip_unchanged" "$1/oma.log" | head -n 10 || true
		fail "$(basename "$1"): unchanged $2 was not reused"
	}
}

# Fail unless folder $1's log shows database $2 dumped and not reused.
must_dump() {
	dumped "$1" "$2" || fail "$(basename "$1"): $2 was not dumped"
	if reused "$1" "$2"; then
		fail "$(basename "$1"): $2 was reused"
	fi
}

# A complete .sql.gz or .sql.zst dump (valid stream, ends with the completion line).
assert_complete_any() {
	local f=$1 last
	[[ -f $f ]] || fail "missing dump $f"
	case $f in
	*.gz) assert_complete_dump "$f" ;;
	*.zst)
		zstd -q -t "$f" 2>/dev/null || fail "$f is not a valid zstd file"
		last=$(zstdcat "$f" | tail -n 1)
		grep -qE '^-- Dump completed on [0-9]{4}-[0-9]{2}-[0-9]{2}[[:space:]]+[0-9]+:[0-9]{2}:[0-9]{2}' <<<"$last" ||
			fail "$f does not end with the completion line (last line: ${last:0:80})"
		;;
	*) fail "unknown dump suffix: $f" ;;
	esac
}

# Reused with a hard link: $1/$3 and $2/$3 are one file (same inode).
assert_hard_link() {
	local prev=$1 cur=$2 f=$3
	[[ -f $cur/$f && ! -L $cur/$f ]] || fail "$(basename "$cur")/$f is not a regular file"
	[[ -f $prev/$f && ! -L $prev/$f ]] || fail "no hard link $(basename "$prev")/$f left behind"
	assert_eq "$(stat -c %i "$prev/$f")" "$(stat -c %i "$cur/$f")" "inode of $f in previous and current folder"
}

# Reused with a symbolic link: $1/$3 is a symlink to the file $2/$3.
assert_sym_link() {
	local prev=$1 cur=$2 f=$3
	[[ -f $cur/$f && ! -L $cur/$f ]] || fail "$(basename "$cur")/$f is not a regular file"
	[[ -L $prev/$f ]] || fail "$(basename "$prev")/$f is not a symbolic link"
	assert_eq "$(readlink -f "$prev/$f")" "$(readlink -f "$cur/$f")" "target of $(basename "$prev")/$f"
}

# Restore dump file $1 into a fresh database and compare CHECKSUM TABLE of
# every table with database $2.
assert_restores() {
	local f=$1 db=$2 copy=restored_$RANDOM$RANDOM
	mdb_sql -e "CREATE DATABASE $copy"
	case $f in
	*.gz) zcat "$f" | mdb_sql "$copy" ;;
	*.zst) zstdcat "$f" | mdb_sql "$copy" ;;
	esac
	db_checksums "$db" >"$E2E_T/sum-orig"
	db_checksums "$copy" >"$E2E_T/sum-copy"
	mdb_sql -e "DROP DATABASE $copy"
	[[ -s $E2E_T/sum-orig ]] || fail "no tables in $db"
	if ! cmp -s "$E2E_T/sum-orig" "$E2E_T/sum-copy"; then
		diff "$E2E_T/sum-orig" "$E2E_T/sum-copy" || true
		fail "$f does not restore $db (CHECKSUM TABLE differs)"
	fi
}

# Milliseconds since the epoch.
now_ms() { date +%s%3N; }

# ---- 1. a committed change is dumped, untouched databases are reused ------------

CHG=$E2E_T/chg
SYM=$E2E_T/sym
mkdir -p "$CHG" "$SYM"
write_config "$CHG.conf" "$CHG" 'versions = 5' 'skip_unchanged_dbs = true' 'log_level = "debug"' "$ALL_DBS"
write_config "$SYM.conf" "$SYM" 'versions = 5' 'skip_unchanged_dbs = true' 'link_type = "symbolic"' 'log_level = "debug"' "$ALL_DBS"

case_change_then_run_hard() {
	local first second db
	backup "$CHG.conf"
	first=$NEW
	assert_grep "$first/oma.log" "Skip unchanged databases: True"
	for db in inno_chg aria_chg myisam_chg "${KEEP_NAMES[@]}"; do
		must_dump "$first" "$db"
	done
	# InnoDB and MyISAM: committed, then oma at once (no pause).
	mdb_sql -e "UPDATE inno_chg.t SET v = 'inno-change-hard' WHERE id = 17; INSERT INTO myisam_chg.t VALUES (900001, 'myisam-change-hard')"
	backup "$CHG.conf"
	second=$NEW
	must_dump "$second" inno_chg
	must_dump "$second" myisam_chg
	dump_has "$second/inno_chg.sql.gz" 'inno-change-hard' || fail "the committed InnoDB change is missing from the new dump"
	dump_has "$second/myisam_chg.sql.gz" 'myisam-change-hard' || fail "the committed MyISAM change is missing from the new dump"
	for db in aria_chg "${KEEP_NAMES[@]}"; do
		must_reuse "$second" "$db"
		assert_hard_link "$first" "$second" "$db.sql.gz"
		assert_complete_dump "$second/$db.sql.gz"
	done
	assert_last "$CHG" "$second"
	assert_no_part "$CHG"
	assert_no_grep "$second/oma.log" "Error"
}

case_change_then_run_symbolic() {
	local first second db
	backup "$SYM.conf"
	first=$NEW
	mdb_sql -e "UPDATE inno_chg.t SET v = 'inno-change-sym' WHERE id = 18; DELETE FROM myisam_chg.t WHERE id = 3"
	backup "$SYM.conf"
	second=$NEW
	must_dump "$second" inno_chg
	must_dump "$second" myisam_chg
	dump_has "$second/inno_chg.sql.gz" 'inno-change-sym' || fail "the committed InnoDB change is missing from the new dump"
	if dump_has "$second/myisam_chg.sql.gz" "(3,'row 3')"; then
		fail "the deleted MyISAM row is still in the new dump"
	fi
	for db in aria_chg "${KEEP_NAMES[@]}"; do
		must_reuse "$second" "$db"
		assert_sym_link "$first" "$second" "$db.sql.gz"
		assert_complete_dump "$first/$db.sql.gz"
	done
	assert_last "$SYM" "$second"
	assert_no_part "$SYM"
}

# Run at the end of the script: an Aria change may stay in the page cache,
# and an implementation may then (soundly) dump every database with Aria
# tables until the server writes it.
case_aria_change_then_run() {
	local prev cur db
	prev=$(newest_folder "$CHG")
	[[ -n $prev && -f $prev/aria_chg.sql.gz ]] || fail "no previous backup in $CHG"
	mdb_sql -e "UPDATE aria_chg.t SET v = 'aria-change-hard' WHERE id = 5"
	backup "$CHG.conf"
	cur=$NEW
	must_dump "$cur" aria_chg
	dump_has "$cur/aria_chg.sql.gz" 'aria-change-hard' || fail "the committed Aria change is missing from the new dump"
	for db in inno_keep myisam_keep; do
		must_reuse "$cur" "$db"
		assert_hard_link "$prev" "$cur" "$db.sql.gz"
	done
	# aria_keep may be reused or dumped (see above); either way it is complete.
	assert_complete_dump "$cur/aria_keep.sql.gz"
	dump_has "$cur/inno_chg.sql.gz" 'inno-change-sym' || fail "inno_chg's dump lost an earlier change"
	assert_no_part "$CHG"
}

e2e_case "change committed right before the run is dumped, untouched InnoDB/Aria/MyISAM reused (hard links)" case_change_then_run_hard
e2e_case "change committed right before the run is dumped, untouched reused (symbolic links)" case_change_then_run_symbolic

# ---- 2. four unchanged runs with versions = 3: three folders, last/ restores -------

# Four runs of config $1 with link type $2; checks folders, links and restores.
four_runs() {
	local conf=$1 type=$2 dir=${1%.conf} i f db prev=""
	for i in 1 2 3 4; do
		backup "$conf"
		if [[ -n $prev ]]; then
			for db in "${KEEP_NAMES[@]}"; do
				must_reuse "$NEW" "$db"
			done
		fi
		assert_last "$dir" "$NEW"
		prev=$NEW
	done
	assert_eq "$(backup_folders "$dir" | wc -l)" 3 "backup folders after four runs with versions = 3"
	# Every kept folder's dumps read through (links included).
	for f in $(backup_folders "$dir"); do
		for db in "${KEEP_NAMES[@]}"; do
			assert_complete_dump "$dir/$f/$db.sql.gz"
			if [[ $type = symbolic && $dir/$f != "$NEW" ]]; then
				[[ -L $dir/$f/$db.sql.gz ]] || fail "$f/$db.sql.gz is not a symbolic link"
			fi
		done
	done
	local n=0
	for f in "$dir"/last/*.sql.gz; do
		[[ -e $f ]] || continue
		db=$(basename "$f" .sql.gz)
		assert_restores "$f" "$db"
		n=$((n + 1))
	done
	assert_eq "$n" "${#KEEP_NAMES[@]}" "dumps restored from last/"
	assert_no_part "$dir"
}

case_four_runs_hard() {
	mkdir -p "$E2E_T/four-hard"
	write_config "$E2E_T/four-hard.conf" "$E2E_T/four-hard" 'versions = 3' 'skip_unchanged_dbs = true' "$KEEP_DBS"
	four_runs "$E2E_T/four-hard.conf" hard
}

case_four_runs_symbolic() {
	mkdir -p "$E2E_T/four-sym"
	write_config "$E2E_T/four-sym.conf" "$E2E_T/four-sym" 'versions = 3' 'skip_unchanged_dbs = true' \
		'link_type = "symbolic"' "$KEEP_DBS"
	four_runs "$E2E_T/four-sym.conf" symbolic
}

e2e_case "four unchanged runs, versions = 3, hard links: 3 folders, every last/ dump restores" case_four_runs_hard
e2e_case "four unchanged runs, versions = 3, symbolic links: 3 folders, every last/ dump restores" case_four_runs_symbolic

# ---- 3. reuse only with the same compressor ----------------------------------------

case_compressor_switch() {
	local dir=$E2E_T/mixed f1 f2 f3 f4 f5 db
	mkdir -p "$dir"
	write_config "$dir-gz.conf" "$dir" 'versions = 3' 'skip_unchanged_dbs = true' "$KEEP_DBS" 'compression = "gzip"'
	write_config "$dir-zst.conf" "$dir" 'versions = 3' 'skip_unchanged_dbs = true' "$KEEP_DBS" 'compression = "zstd"'
	run_oma -c "$dir-gz.conf"
	f1=$(newest_folder "$dir")
	assert_rc 0 "$f1/oma.log"
	# zstd after gzip, nothing changed: everything dumped anew.
	run_oma -c "$dir-zst.conf"
	f2=$(newest_folder "$dir")
	assert_rc 0 "$f2/oma.log"
	[[ $f2 != "$f1" ]] || fail "no new folder for the zstd run"
	for db in "${KEEP_NAMES[@]}"; do
		must_dump "$f2" "$db"
		assert_complete_any "$f2/$db.sql.zst"
		assert_no_path "$f2/$db.sql.gz"
		[[ -f $f1/$db.sql.gz && ! -L $f1/$db.sql.gz ]] || fail "the gzip dump of $db left $(basename "$f1")"
		assert_eq "$(stat -c %h "$f1/$db.sql.gz")" 1 "links of the untouched gzip dump of $db"
		assert_complete_dump "$f1/$db.sql.gz"
	done
	# zstd again: reused.
	run_oma -c "$dir-zst.conf"
	f3=$(newest_folder "$dir")
	assert_rc 0 "$f3/oma.log"
	for db in "${KEEP_NAMES[@]}"; do
		must_reuse "$f3" "$db"
		assert_hard_link "$f2" "$f3" "$db.sql.zst"
		assert_complete_any "$f3/$db.sql.zst"
	done
	assert_last "$dir" "$f3"
	# Back to gzip: new .sql.gz files; the oldest folder is pruned.
	run_oma -c "$dir-gz.conf"
	f4=$(newest_folder "$dir")
	assert_rc 0 "$f4/oma.log"
	for db in "${KEEP_NAMES[@]}"; do
		if reused "$f4" "$db"; then
			fail "$(basename "$f4"): $db reused although the previous dump is zstd"
		fi
		assert_complete_any "$f4/$db.sql.gz"
		assert_no_path "$f4/$db.sql.zst"
	done
	assert_eq "$(backup_folders "$dir" | tr '\n' ' ')" "$(basename "$f2") $(basename "$f3") $(basename "$f4") " "folders kept"
	assert_last "$dir" "$f4"
	# gzip again: reused from the gzip folder; the zstd folders stay readable.
	run_oma -c "$dir-gz.conf"
	f5=$(newest_folder "$dir")
	assert_rc 0 "$f5/oma.log"
	assert_eq "$(backup_folders "$dir" | tr '\n' ' ')" "$(basename "$f3") $(basename "$f4") $(basename "$f5") " "folders kept"
	for db in "${KEEP_NAMES[@]}"; do
		must_reuse "$f5" "$db"
		assert_hard_link "$f4" "$f5" "$db.sql.gz"
		assert_complete_any "$f3/$db.sql.zst"
		assert_restores "$dir/last/$db.sql.gz" "$db"
	done
	assert_restores "$f3/inno_keep.sql.zst" inno_keep
	assert_last "$dir" "$f5"
	assert_no_part "$dir"
}

e2e_case "reuse only with the same compressor: gzip -> zstd dumps anew, zstd -> zstd reuses, pruning across both" case_compressor_switch

# ---- 4. delete_before ----------------------------------------------------------------

case_delete_before() {
	local dir=$E2E_T/delbefore i log names first
	mkdir -p "$dir"
	write_config "$dir.conf" "$dir" 'versions = 2' 'delete_before = true' 'log_level = "debug"' \
		'do_databases = ["small"]'
	for i in 1 2 3; do
		backup "$dir.conf"
		log=$NEW/oma.log
		[[ -n ${first:-} ]] || first=$(basename "$NEW")
		grep -aqE '^[0-9-]{10} [0-9:]{8},[0-9]{3} DEBUG Removing old backup directories before new backup\. Will keep 2 versions \.\.\.$' "$log" ||
			fail "run $i: no debug line 'Removing old backup directories before new backup. Will keep 2 versions ...'"
		(($(backup_folders "$dir" | wc -l) <= 2)) || fail "run $i: more than 2 folders"
		assert_complete_dump "$NEW/small.sql.gz"
	done
	names=$(backup_folders "$dir")
	assert_eq "$(wc -l <<<"$names")" 2 "backup folders after three runs"
	[[ $names != *"$first"* ]] || fail "the oldest folder $first was kept"
	assert_grep "$log" "Removed old backup directories: ["
	assert_grep "$log" "$first"
	# Pruned before the dump, not after it.
	local removed_at dumped_at
	removed_at=$(grep -anF 'Removed old backup directories' "$log" | head -n 1 | cut -d: -f1)
	dumped_at=$(grep -anF "DB 'small': Backup successfully" "$log" | head -n 1 | cut -d: -f1)
	((removed_at < dumped_at)) || fail "with delete_before the old folder was removed after the dump"
	assert_last "$dir" "$NEW"
}

e2e_case "delete_before = true, versions = 2: two folders, debug line, pruned before the dump" case_delete_before

# ---- 5. not enough space on a small file system ----------------------------------------

MNT=$E2E_T/tmpfs
mkdir -p "$MNT"
MOUNTED=0
if mount -t tmpfs -o size=128m tmpfs "$MNT" 2>"$E2E_T/mount.err"; then
	MOUNTED=1
	at_exit "umount $(printf '%q' "$MNT") 2>/dev/null || umount -l $(printf '%q' "$MNT") 2>/dev/null"
fi

# Resize the tmpfs to $1 bytes.
resize_mnt() {
	mount -o remount,size="$1" "$MNT" || fail "cannot resize the tmpfs to $1 bytes"
}

# docs/BEHAVIOUR.md "One run, phase by phase", step 6: the estimate is the
# size of the *selected* databases' folders (x 0.5 without a previous
# info.json), not of the whole datadir (which holds the redo log, ibdata1,
# undo and every other database).
case_space_selected_only() {
	local big_bytes total size
	big_bytes=$(du -sB1 "$MDB_DIR/data/big" | cut -f 1)
	total=$(du -sB1 "$MDB_DIR/data" | cut -f 1)
	size=$((2 * big_bytes + 1048576))
	echo "datadir $total bytes, big $big_bytes bytes, tmpfs $size bytes"
	resize_mnt "$size"
	write_config "$E2E_T/space-first.conf" "$MNT" 'versions = 3' 'do_databases = ["big"]'
	run_oma -c "$E2E_T/space-first.conf"
	if ((OMA_RC == 2)); then
		cat "$MNT/last.log"
		fail "exit 2 on $size bytes free for one database of $big_bytes bytes (0.5 x the whole datadir would be $((total / 2)))"
	fi
	NEW=$(newest_folder "$MNT")
	assert_rc 0 "$NEW/oma.log"
	assert_complete_dump "$NEW/big.sql.gz"
}

case_low_disk() {
	local prev prev_bytes used before after folders
	resize_mnt 128m
	write_config "$E2E_T/space.conf" "$MNT" 'versions = 3' 'do_databases = ["big"]'
	# A real previous backup (its info.json gives the compression ratio).
	run_oma -c "$E2E_T/space.conf"
	prev=$(newest_folder "$MNT")
	assert_rc 0 "$prev/oma.log"
	assert_complete_dump "$prev/big.sql.gz"
	prev_bytes=$(du -sB1 "$prev" | cut -f 1)
	((prev_bytes > 1000000)) || fail "test data too small: the backup of big has only $prev_bytes bytes"
	# Shrink the file system: about half of what the next dump needs stays free.
	used=$(df -B1 --output=used "$MNT" | tail -n 1 | tr -d ' ')
	resize_mnt $((used + prev_bytes / 2))
	df -B1 "$MNT"
	before=$(tree_md5 "$MNT")
	folders=$(backup_folders "$MNT")
	run_oma -c "$E2E_T/space.conf"
	assert_rc 2 "$MNT/last.log"
	[[ -f $MNT/last.log && ! -L $MNT/last.log ]] || fail "last.log is not a plain file"
	grep -aqi 'not enough' "$MNT/last.log" || { cat "$MNT/last.log"; fail "last.log does not say there is not enough space"; }
	assert_eq "$(backup_folders "$MNT")" "$folders" "backup folders after exit 2"
	assert_last "$MNT" "$prev"
	after=$(tree_md5 "$MNT")
	# last.log (now the failed run's log) and last.result.json change; nothing else.
	if [[ $(grep -v '\./last\.' <<<"$before") != "$(grep -v '\./last\.' <<<"$after")" ]]; then
		diff <(echo "$before") <(echo "$after") || true
		fail "the previous backups changed"
	fi
	assert_no_part "$MNT"
}

# With delete_before, the space freed by pruning counts: free space is read
# again after pruning.  Two backups exist; half a backup is free; pruning
# the older one makes room.
case_low_disk_delete_before() {
	local older prev cur prev_bytes used
	resize_mnt 128m
	write_config "$E2E_T/space.conf" "$MNT" 'versions = 3' 'do_databases = ["big"]'
	run_oma -c "$E2E_T/space.conf"
	prev=$(newest_folder "$MNT")
	assert_rc 0 "$prev/oma.log"
	# Keep only the two newest folders.
	for older in $(backup_folders "$MNT" | head -n -2); do
		rm -rf "${MNT:?}/$older"
	done
	older=$(backup_folders "$MNT" | head -n 1)
	assert_eq "$(backup_folders "$MNT" | wc -l)" 2 "backup folders before the run"
	prev_bytes=$(du -sB1 "$prev" | cut -f 1)
	used=$(df -B1 --output=used "$MNT" | tail -n 1 | tr -d ' ')
	resize_mnt $((used + prev_bytes / 2))
	write_config "$E2E_T/space-del.conf" "$MNT" 'versions = 2' 'delete_before = true' 'do_databases = ["big"]'
	run_oma -c "$E2E_T/space-del.conf"
	cur=$(newest_folder "$MNT")
	assert_rc 0 "$cur/oma.log"
	[[ $cur != "$prev" ]] || fail "no new backup folder"
	assert_eq "$(backup_folders "$MNT" | tr '\n' ' ')" "$(basename "$prev") $(basename "$cur") " "backup folders"
	assert_no_path "$MNT/$older"
	assert_complete_dump "$cur/big.sql.gz"
	assert_last "$MNT" "$cur"
}

# The estimate can be wrong (the data grew since the previous backup): the
# disk fills up during the dump.  The failed dump leaves nothing behind, the
# previous backups and `last` stay, and oma exits 2 as for a low estimate.
case_disk_full_during_dump() {
	local prev prev_bytes used before after f
	resize_mnt 128m
	write_config "$E2E_T/space.conf" "$MNT" 'versions = 3' 'do_databases = ["big"]'
	run_oma -c "$E2E_T/space.conf"
	prev=$(newest_folder "$MNT")
	assert_rc 0 "$prev/oma.log"
	# The previous backup claims the data compressed 1000:1.
	printf '{\n    "mysql_data_dir_bytes_used": 1000000000,\n    "backup_bytes_used": 1000000,\n    "compression_ratio": 0.001\n}' >"$prev/info.json"
	prev_bytes=$(du -sB1 "$prev" | cut -f 1)
	used=$(df -B1 --output=used "$MNT" | tail -n 1 | tr -d ' ')
	resize_mnt $((used + prev_bytes / 2))
	before=$(tree_md5 "$MNT")
	run_oma -c "$E2E_T/space.conf"
	# Exit 2 (not enough disk space), as when the estimate had said so.
	assert_rc 2 "$MNT/last.log"
	grep -aqi 'no space left\|not enough' "$MNT/last.log" || fail "last.log does not say the disk is full"
	assert_no_part "$MNT"
	assert_last "$MNT" "$prev"
	after=$(tree_md5 "$MNT")
	# Every file of the earlier backups is as it was (the failed run may add
	# its own folder and last.log, nothing else).
	grep -v '\./last\.' <<<"$before" >"$E2E_T/full-before"
	grep -v '\./last\.' <<<"$after" >"$E2E_T/full-after"
	if grep -vxFf "$E2E_T/full-after" "$E2E_T/full-before"; then
		fail "files of the previous backups changed or vanished (above)"
	fi
	# No later folder holds a dump.
	for f in $(backup_folders "$MNT"); do
		[[ $f > $(basename "$prev") ]] || continue
		if compgen -G "$MNT/$f/*.sql.gz" >/dev/null; then
			fail "the failed run left a dump in $f"
		fi
	done
}

if ((MOUNTED)); then
	e2e_case "disk estimate counts the selected databases' folders, not the whole datadir" case_space_selected_only
	e2e_case "not enough space (small tmpfs): exit 2, last.log says so, previous backups untouched" case_low_disk
	e2e_case "delete_before on a nearly full disk: pruning frees the space, free space re-read" case_low_disk_delete_before
	e2e_case "disk full during the dump (estimate too low): exit 2, nothing partial, previous backups and last kept" case_disk_full_during_dump
else
	printf 'ok - not enough space on a small tmpfs # SKIP mount -t tmpfs not permitted: %s\n' "$(head -n 1 "$E2E_T/mount.err")"
	E2E_PASSED=$((E2E_PASSED + 1))
fi

# ---- 6/7. a run in progress: second instance, SIGTERM mid-dump ---------------------------

# A mysqldump stand-in that, for database big, passes the first 128 KiB of
# the real dump, creates $STALLED and then waits (at most 30 s) until $GATE
# exists before passing the rest.  Every process of it has $MARK in its
# command line (the real mysqldump runs through a symlink in $MARK).
MARK=$E2E_T/stallbin/
STALLED=$E2E_T/stalled
GATE=$E2E_T/gate
mkdir -p "$MARK"
ln -s "$REAL_DUMP" "${MARK}real-mysqldump"
cat >"${MARK}slow-mysqldump" <<-EOF
	#!/bin/sh
	# mysqldump stand-in for oma's end-to-end tests: stalls mid-dump of big
	real='${MARK}real-mysqldump'
	hit=0
	for a in "\$@"; do [ "\$a" = big ] && hit=1; done
	[ "\$hit" = 1 ] || exec "\$real" "\$@"
	"\$real" "\$@" | {
	  dd bs=128k count=1 iflag=fullblock 2>/dev/null
	  touch '$STALLED'
	  i=0
	  while [ ! -e '$GATE' ] && [ \$i -lt 300 ]; do sleep 0.1; i=\$((i + 1)); done
	  cat
	}
EOF
chmod +x "${MARK}slow-mysqldump"

# Processes of the stand-in still running (pid and command line).
stall_procs() { pgrep -af -- "$MARK" || true; }

# Start oma with config $1 (backup folder $2) in the background (BG_PID) and wait until the
# stand-in has stalled in the middle of big's dump with a .part file present.
start_stalled() {
	local conf=$1 dir=$2 deadline
	rm -f "$STALLED" "$GATE"
	(cd "$E2E_CWD" && exec env HOME="$E2E_HOME" LC_ALL=C "$OMA_BIN" -c "$conf") \
		>"$E2E_T/bg.out" 2>"$E2E_T/bg.err" &
	BG_PID=$!
	deadline=$((SECONDS + 30))
	until [[ -e $STALLED ]] && [[ -n $(find "$dir" -name '*.part' 2>/dev/null) ]]; do
		if ((SECONDS >= deadline)) || ! kill -0 "$BG_PID" 2>/dev/null; then
			touch "$GATE"
			wait "$BG_PID" || true
			cat "$E2E_T/bg.out" "$E2E_T/bg.err"
			find "$dir" | head -n 20
			fail "oma did not reach the middle of big's dump (no stall or no .part file)"
		fi
		sleep 0.05
	done
}

RUN=$E2E_T/running
mkdir -p "$RUN"
write_config "$RUN.conf" "$RUN" 'versions = 1' 'do_databases = ["big", "small"]'
write_config "$RUN-slow.conf" "$RUN" 'versions = 1' 'do_databases = ["big", "small"]' \
	"mysqldump_bin = \"${MARK}slow-mysqldump\""

case_second_instance() {
	local before
	start_stalled "$RUN-slow.conf" "$RUN"
	before=$(backup_folders "$RUN")
	run_oma -c "$RUN.conf"
	touch "$GATE"
	assert_rc 3
	assert_eq "$(cat "$E2E_ERR")" "Another instance of OMA is already running (port $E2E_LOCK_PORT is in use)" "stderr of the second instance"
	assert_eq "$(backup_folders "$RUN")" "$before" "backup folders after the second instance"
	wait_bounded "$BG_PID" 60
	if ((BG_RC != 0)); then
		cat "$E2E_T/bg.err"
		tail -n 20 "$(newest_folder "$RUN")/oma.log"
		fail "the first oma exited $BG_RC"
	fi
	assert_complete_dump "$(newest_folder "$RUN")/big.sql.gz"
	assert_complete_dump "$(newest_folder "$RUN")/small.sql.gz"
	assert_last "$RUN" "$(newest_folder "$RUN")"
}

case_sigterm() {
	local good before t0 elapsed left f deadline
	good=$(newest_folder "$RUN")
	[[ -n $good && -f $good/big.sql.gz ]] || {
		run_oma -c "$RUN.conf"
		good=$(newest_folder "$RUN")
		assert_rc 0 "$good/oma.log"
	}
	assert_last "$RUN" "$good"
	before=$(tree_md5 "$good")
	start_stalled "$RUN-slow.conf" "$RUN"
	t0=$(now_ms)
	kill -TERM "$BG_PID"
	wait_bounded "$BG_PID" 10
	elapsed=$(($(now_ms) - t0))
	touch "$GATE"
	((BG_RC != 0)) || fail "oma exited 0 after SIGTERM"
	((elapsed <= 5000)) || fail "oma took $elapsed ms to exit after SIGTERM"
	# Its mysqldump processes are gone (allow a moment for the kernel to reap grandchildren).
	deadline=$(($(now_ms) + 1000))
	while [[ -n $(stall_procs) ]] && (($(now_ms) < deadline)); do
		sleep 0.05
	done
	left=$(stall_procs)
	if [[ -n $left ]]; then
		pkill -KILL -f -- "$MARK" || true
		fail "mysqldump processes left after oma exited: $left"
	fi
	assert_no_part "$RUN"
	while IFS= read -r f; do
		assert_complete_dump "$f"
	done < <(find "$RUN" -name '*.sql.gz' -type f)
	assert_last "$RUN" "$good"
	[[ -d $good ]] || fail "the last good backup was removed"
	assert_eq "$(tree_md5 "$good")" "$before" "files of the last good backup"
	echo "oma exited $BG_RC $elapsed ms after SIGTERM"
}

e2e_case "second instance while a backup is dumping: exit 3, exact message, nothing touched" case_second_instance
e2e_case "SIGTERM mid-dump: non-zero exit, mysqldump gone, no partial file, last kept" case_sigterm

# ---- 9. a failed dump is never reused, even when nothing changes afterwards ---------------

FAILWRAP=$E2E_T/fail-wrappers
mkdir -p "$FAILWRAP"
# mysqldump stand-ins failing for fail_db: midway (partial output, exit 2) and
# after a complete dump (completion line, exit 2).
cat >"$FAILWRAP/midway" <<-EOF
	#!/bin/sh
	for a in "\$@"; do
	  if [ "\$a" = fail_db ]; then
	    '$REAL_DUMP' "\$@" | head -n 30
	    echo "mysqldump: Got error: 2013: Lost connection to server during query" >&2
	    exit 2
	  fi
	done
	exec '$REAL_DUMP' "\$@"
EOF
cat >"$FAILWRAP/complete" <<-EOF
	#!/bin/sh
	for a in "\$@"; do
	  if [ "\$a" = fail_db ]; then
	    '$REAL_DUMP' "\$@"
	    echo "mysqldump: simulated failure after a complete dump" >&2
	    exit 2
	  fi
	done
	exec '$REAL_DUMP' "\$@"
EOF
chmod +x "$FAILWRAP/midway" "$FAILWRAP/complete"

case_failed_dump_not_reused() {
	local dir=$E2E_T/failreuse kind value cur failed first
	mkdir -p "$dir"
	write_config "$dir.conf" "$dir" 'versions = 5' 'skip_unchanged_dbs = true' 'do_databases = ["fail_db", "inno_keep"]'
	backup "$dir.conf"
	first=$NEW
	must_dump "$first" fail_db
	for kind in midway complete; do
		value="changed-before-failed-$kind"
		# A change, then a run whose dump of fail_db fails ...
		mdb_sql -e "UPDATE fail_db.t SET v = '$value' WHERE id = 4321"
		write_config "$dir-$kind.conf" "$dir" 'versions = 5' 'skip_unchanged_dbs = true' \
			'do_databases = ["fail_db", "inno_keep"]' "mysqldump_bin = \"$FAILWRAP/$kind\""
		run_oma -c "$dir-$kind.conf"
		failed=$(newest_folder "$dir")
		assert_rc 4 "$failed/oma.log"
		assert_no_path "$failed/fail_db.sql.gz"
		assert_no_part "$dir"
		must_reuse "$failed" inno_keep
		# ... then, with no further change, a normal run must dump it again.
		backup "$dir.conf"
		cur=$NEW
		[[ $cur != "$failed" ]] || fail "no new folder"
		must_dump "$cur" fail_db
		assert_complete_dump "$cur/fail_db.sql.gz"
		dump_has "$cur/fail_db.sql.gz" "$value" || fail "$kind: the dump of fail_db lacks the change made before the failed run"
		must_reuse "$cur" inno_keep
	done
	# And now, unchanged after a good dump, it is reused.
	backup "$dir.conf"
	must_reuse "$NEW" fail_db
}

e2e_case "a failed dump (midway, or complete but exit 2) is never reused; the next run dumps it" case_failed_dump_not_reused

# ---- 10. conditions: exit code 127 and a timeout that is quick and thorough -------------------

case_run_condition_not_found() {
	local dir=$E2E_T/cond-127
	mkdir -p "$dir"
	write_config "$dir.conf" "$dir" 'do_databases = ["small"]'
	printf '[conditions]\nrun_conditions = ["non-existing-command"]\n' >>"$dir.conf"
	run_oma -c "$dir.conf"
	assert_rc 1 "$dir/last.log"
	[[ -z $(backup_folders "$dir") ]] || fail "an aborted run left a backup folder"
	[[ -f $dir/last.log && ! -L $dir/last.log ]] || fail "last.log is not a plain file"
	assert_grep "$dir/last.log" "Run condition failed: 'non-existing-command' (exit code: 127)"
	assert_grep "$dir/last.log" "/bin/sh: 1: non-existing-command: not found"
	grep -aqE ' ERROR Run condition stderr: .*/bin/sh: 1: non-existing-command: not found' "$dir/last.log" ||
		fail "the shell's message is not logged as 'Run condition stderr' at ERROR level"
	assert_grep "$dir/last.log" "Backup aborted due to failed run conditions"
}

case_run_condition_timeout() {
	# The sleep's argument is unique to this script (30.0<pid> seconds).
	local dir=$E2E_T/cond-timeout marker="sleep 30.0$$" cmd t0 elapsed deadline
	cmd="$marker; echo never"
	mkdir -p "$dir"
	write_config "$dir.conf" "$dir" 'do_databases = ["small"]'
	printf '[conditions]\nrun_conditions = ["%s"]\nrun_conditions_timeout = 1\n' "$cmd" >>"$dir.conf"
	t0=$(now_ms)
	run_oma -c "$dir.conf"
	elapsed=$(($(now_ms) - t0))
	assert_rc 1 "$dir/last.log"
	echo "oma exited after $elapsed ms"
	# Stopped by the timeout, not after the sleep (how soon is noise here).
	((elapsed < 20000)) || fail "oma took $elapsed ms with run_conditions_timeout = 1"
	assert_grep "$dir/last.log" "Command timed out after 1 seconds: '$cmd'"
	assert_grep "$dir/last.log" "Run condition stderr: Command timed out after 1 seconds"
	assert_grep "$dir/last.log" "Backup aborted due to failed run conditions"
	[[ -z $(backup_folders "$dir") ]] || fail "an aborted run left a backup folder"
	deadline=$(($(now_ms) + 3000))
	while pgrep -fx "$marker" >/dev/null && (($(now_ms) < deadline)); do
		sleep 0.05
	done
	if pgrep -afx "$marker"; then
		pkill -fx "$marker" || true
		fail "the condition's sleep outlived the timeout"
	fi
}

e2e_case "run condition 'non-existing-command': exit 1, exit code 127 and the shell's message logged" case_run_condition_not_found
e2e_case "run condition timeout (sleep 30, timeout 1): exit 1, logged, the sleep stopped" case_run_condition_timeout

# ---- last: an Aria change committed right before the run ---------------------------------------

e2e_case "Aria change committed right before the run is dumped, untouched InnoDB/MyISAM reused" case_aria_change_then_run

e2e_finish
