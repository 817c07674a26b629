#!/usr/bin/env bash
# test_reuse.sh - end-to-end: skip_unchanged_dbs reuses only dumps that are still current.
#
# Unchanged databases are moved from the previous folder (a hard or symbolic
# link stays behind); a change committed before the run starts is always in
# the new backup, even when InnoDB has not written it to the .ibd file yet;
# a failed dump is never reused.
# Cases are called through e2e_case.
# shellcheck disable=SC2317 # the case functions are called through e2e_case
set -euo pipefail

# shellcheck source=tests/lib/e2e.sh
. "$(dirname "$0")/../lib/e2e.sh"

e2e_setup db

# Databases whose names the file names keep (docs/BEHAVIOUR.md "Names";
# a backslash: an escaped SHA256SUMS line), loaded before the set so that
# its wait covers them too.
e2e_load <<-'SQL'
	CREATE DATABASE `ünï`;
	CREATE TABLE `ünï`.t (id INT PRIMARY KEY, v VARCHAR(40)) ENGINE=InnoDB;
	INSERT INTO `ünï`.t VALUES (1, 'Grüße'), (2, 'ünï');
	CREATE DATABASE `a b`;
	CREATE TABLE `a b`.t (id INT PRIMARY KEY) ENGINE=InnoDB;
	INSERT INTO `a b`.t VALUES (1);
	CREATE DATABASE `back\slash`;
	CREATE TABLE `back\slash`.t (id INT PRIMARY KEY) ENGINE=InnoDB;
	INSERT INTO `back\slash`.t VALUES (1);
SQL
# shellcheck disable=SC2016 # backticks quote SQL identifiers
mdb_sql -e 'FLUSH TABLES `ünï`.t, `a b`.t, `back\slash`.t FOR EXPORT; UNLOCK TABLES'
e2e_load_reuse_set

WRAP=$E2E_T/fail-inno
cat >"$WRAP" <<-EOF
	#!/bin/sh
	for a in "\$@"; do
	  if [ "\$a" = inno ]; then echo "mysqldump: simulated failure" >&2; exit 2; fi
	done
	exec '$MDB_DUMP_BIN' "\$@"
EOF
chmod +x "$WRAP"

DBS='do_databases = ["inno", "aria", "quiet"]'

# Run a backup with config $1; record the new folder in NEW and check exit 0.
backup() {
	run_oma -c "$1"
	NEW=$(newest_folder "$(dirname "$1")/$(basename "$1" .conf)")
	assert_rc 0 "$NEW/oma.log"
}

reused() { grep -aqF "DB '$2': Backup is newer than last database change. Reusing previous backup" "$1/oma.log"; }
dumped() { grep -aqF "DB '$2': Backup successfully" "$1/oma.log"; }

HARD=$E2E_T/hard
mkdir -p "$HARD"
write_config "$E2E_T/hard.conf" "$HARD" 'versions = 3' 'skip_unchanged_dbs = true' "$DBS"

case_hard_reuse() {
	local first second db
	backup "$E2E_T/hard.conf"
	first=$NEW
	for db in inno aria quiet; do
		dumped "$first" "$db" || fail "first run did not dump $db"
	done
	backup "$E2E_T/hard.conf"
	second=$NEW
	[[ $first != "$second" ]] || fail "second run reused the folder"
	for db in inno aria quiet; do
		reused "$second" "$db" || fail "unchanged $db was not reused"
		assert_complete_dump "$second/$db.sql.gz"
		[[ -f $first/$db.sql.gz && ! -L $first/$db.sql.gz ]] || fail "no hard link left in the previous folder for $db"
		[[ $first/$db.sql.gz -ef $second/$db.sql.gz ]] || fail "$db: previous file is not a hard link to the current one"
	done
	assert_no_part "$HARD"
}

case_committed_change() {
	local cur
	# Committed just before the run: InnoDB may not have written it to the
	# .ibd file yet, and Aria keeps it in its page cache.
	mdb_sql -e "INSERT INTO inno.t VALUES (900001, 'committed-before-run'); INSERT INTO aria.t VALUES (900001, 'aria-change')"
	backup "$E2E_T/hard.conf"
	cur=$NEW
	dumped "$cur" inno || fail "changed inno was not dumped again"
	dumped "$cur" aria || fail "changed aria was not dumped again"
	reused "$cur" quiet || fail "unchanged quiet was not reused"
	dump_has "$cur/inno.sql.gz" 'committed-before-run' || fail "the committed row is missing from inno's dump"
	dump_has "$cur/aria.sql.gz" 'aria-change' || fail "the committed row is missing from aria's dump"
	assert_complete_dump "$cur/quiet.sql.gz"
	# SHA256SUMS: the reused dump's line is the previous folder's, the
	# new dumps' lines are new, and coreutils agrees with all of them.
	local prev line
	prev=$(backup_folders "$HARD" | tail -n 2 | head -n 1)
	line=$(grep '  quiet\.sql\.gz$' "$HARD/$prev/SHA256SUMS") || fail "no quiet line in $prev/SHA256SUMS"
	assert_grep "$cur/SHA256SUMS" "$line"
	assert_eq "$(wc -l <"$cur/SHA256SUMS")" 3 "lines of SHA256SUMS"
	(cd "$cur" && sha256sum --strict --quiet -c SHA256SUMS) >"$E2E_T/sums.out" 2>&1 ||
		fail "sha256sum -c SHA256SUMS failed in the reusing run: $(cat "$E2E_T/sums.out")"
}

case_pruned_links() {
	local n
	backup "$E2E_T/hard.conf"
	n=$(backup_folders "$HARD" | wc -l)
	assert_eq "$n" 3 "folders kept"
	local f
	for f in $(backup_folders "$HARD"); do
		assert_complete_dump "$HARD/$f/quiet.sql.gz"
	done
}

case_symbolic() {
	local dir=$E2E_T/sym first second
	mkdir -p "$dir"
	write_config "$E2E_T/sym.conf" "$dir" 'versions = 2' 'skip_unchanged_dbs = true' \
		'link_type = "symbolic"' 'do_databases = ["quiet"]'
	backup "$E2E_T/sym.conf"
	first=$NEW
	backup "$E2E_T/sym.conf"
	second=$NEW
	reused "$second" quiet || fail "unchanged quiet was not reused"
	[[ -f $second/quiet.sql.gz && ! -L $second/quiet.sql.gz ]] || fail "the current folder does not hold the file itself"
	[[ -L $first/quiet.sql.gz ]] || fail "no symbolic link left in the previous folder"
	[[ $(readlink -f "$first/quiet.sql.gz") = "$(readlink -f "$second/quiet.sql.gz")" ]] ||
		fail "the symbolic link does not point at the current file"
	assert_complete_dump "$first/quiet.sql.gz"
}

case_failed_not_reused() {
	local dir=$E2E_T/failed failed cur
	mkdir -p "$dir"
	write_config "$E2E_T/failed-bad.conf" "$dir" 'versions = 3' 'skip_unchanged_dbs = true' \
		"$DBS" "mysqldump_bin = \"$WRAP\""
	run_oma -c "$E2E_T/failed-bad.conf"
	failed=$(newest_folder "$dir")
	assert_rc 4 "$failed/oma.log"
	assert_no_path "$failed/inno.sql.gz"
	write_config "$E2E_T/failed.conf" "$dir" 'versions = 3' 'skip_unchanged_dbs = true' "$DBS"
	run_oma -c "$E2E_T/failed.conf"
	cur=$(newest_folder "$dir")
	assert_rc 0 "$cur/oma.log"
	dumped "$cur" inno || fail "inno, whose last dump failed, was not dumped"
	assert_complete_dump "$cur/inno.sql.gz"
	dump_has "$cur/inno.sql.gz" 'committed-before-run' || fail "inno's new dump lacks data"
}

# Databases whose names the file name encoding keeps as they are now, and
# did not before (docs/BEHAVIOUR.md "Names").
NAMED='do_databases = ["quiet", "ünï", "a b", "back\\slash"]'
NAMED_DBS=(quiet ünï "a b" 'back\slash')

# Every dump of folder $1 has a sidecar with a change reference.
assert_sidecars() {
	local stem
	for stem in "${NAMED_DBS[@]}"; do
		assert_grep "$1/$stem.timestamp" "file=$stem.sql.gz"
		assert_grep "$1/$stem.timestamp" "ref_time="
		assert_grep "$1/$stem.timestamp" "ref_lsn="
	done
}

# Folder $2 reused every database of NAMED from folder $1: logged so, the
# same file (a hard link), complete.
assert_reused_from() {
	local db
	for db in "${NAMED_DBS[@]}"; do
		reused "$2" "$db" || fail "$db was not reused"
		assert_complete_dump "$2/$db.sql.gz"
		[[ $1/$db.sql.gz -ef $2/$db.sql.gz ]] || fail "$db: not a hard link to the dump of $1"
	done
}

case_off_then_on() {
	local dir=$E2E_T/offon first second
	mkdir -p "$dir"
	write_config "$dir.conf" "$dir" 'versions = 3' "$NAMED"
	backup "$dir.conf"
	first=$NEW
	assert_sidecars "$first"
	write_config "$dir.conf" "$dir" 'versions = 3' 'skip_unchanged_dbs = true' "$NAMED"
	backup "$dir.conf"
	second=$NEW
	assert_reused_from "$first" "$second"
	assert_no_grep "$second/oma.log" "Error"
	# The reused lines, the escaped one too, as sha256sum reads them.
	assert_grep "$second/SHA256SUMS" '  back\\slash.sql.gz'
	(cd "$second" && sha256sum --strict --quiet -c SHA256SUMS) || fail "sha256sum -c failed after the reuse"
}

case_delete_before_after_off() {
	local dir=$E2E_T/delbefore first second third
	mkdir -p "$dir"
	write_config "$dir.conf" "$dir" 'versions = 2' "$NAMED"
	backup "$dir.conf"
	first=$NEW
	backup "$dir.conf"
	second=$NEW
	# delete_before prunes to versions - 1 = 1 folder before the dumps:
	# the first goes, the second (made without skip_unchanged_dbs) stays.
	write_config "$dir.conf" "$dir" 'versions = 2' 'delete_before = true' \
		'skip_unchanged_dbs = true' "$NAMED"
	backup "$dir.conf"
	third=$NEW
	assert_reused_from "$second" "$third"
	assert_no_path "$first"
	assert_eq "$(backup_folders "$dir" | tr '\n' ' ')" "$(basename "$second") $(basename "$third") " \
		"kept folders"
	assert_sidecars "$third"
}

# A folder written by an oma that named "ünï" "@c3@bcn@c3@af" and "a b"
# "a@20b": made from a current one by renaming its files as that version
# named them (sidecars and SHA256SUMS too).
make_old_names() {
	local dir=$1 new old
	for new in ünï "a b"; do
		case $new in
		ünï) old=@c3@bcn@c3@af ;;
		*) old=a@20b ;;
		esac
		mv "$dir/$new.sql.gz" "$dir/$old.sql.gz"
		sed "s/^file=.*/file=$old.sql.gz/" "$dir/$new.timestamp" >"$dir/$old.timestamp"
		rm "$dir/$new.timestamp"
		sed -i "s/  $new\.sql\.gz\$/  $old.sql.gz/" "$dir/SHA256SUMS"
	done
	(cd "$dir" && sha256sum --strict --quiet -c SHA256SUMS) || fail "the made-up old folder is broken"
}

case_old_file_names() {
	local dir=$E2E_T/oldnames first second third f
	mkdir -p "$dir"
	write_config "$dir.conf" "$dir" 'versions = 2' 'skip_unchanged_dbs = true' \
		'link_type = "symbolic"' "$NAMED"
	backup "$dir.conf"
	first=$NEW
	make_old_names "$first"
	# A change: the old file of `a b` is not reused, whatever its name.
	# shellcheck disable=SC2016 # backticks quote SQL identifiers
	mdb_sql -e 'INSERT INTO `a b`.t VALUES (2)'
	backup "$dir.conf"
	second=$NEW
	reused "$second" quiet || fail "quiet, named alike by both versions, was not reused"
	reused "$second" ünï || fail "ünï under its old file name was not reused"
	dumped "$second" "a b" || fail "'a b', changed, was not dumped again"
	assert_grep "$second/oma.log" "INFO DB 'ünï': the previous backup has it as @c3@bcn@c3@af.sql.gz, the file name an older oma gave it; kept as ünï.sql.gz"
	assert_no_grep "$second/oma.log" "DB 'a b': the previous backup"
	assert_no_grep "$second/oma.log" "WARNING"
	assert_no_grep "$second/oma.log" "Error"
	# The reused file moved under its new name, with a sidecar naming it;
	# the old folder keeps a symbolic link under the old name, and its sidecar.
	[[ -f $second/ünï.sql.gz && ! -L $second/ünï.sql.gz ]] || fail "ünï.sql.gz is not the file itself"
	[[ -L $first/@c3@bcn@c3@af.sql.gz ]] || fail "no symbolic link left under the old name"
	[[ $first/@c3@bcn@c3@af.sql.gz -ef $second/ünï.sql.gz ]] || fail "the old name does not lead to the reused file"
	assert_grep "$second/ünï.timestamp" "file=ünï.sql.gz"
	assert_grep "$second/ünï.timestamp" "ref_time="
	assert_grep "$first/@c3@bcn@c3@af.timestamp" "file=@c3@bcn@c3@af.sql.gz"
	assert_no_path "$second/@c3@bcn@c3@af.sql.gz"
	assert_no_path "$second/@c3@bcn@c3@af.timestamp"
	assert_no_path "$second/a@20b.sql.gz"
	for f in "${NAMED_DBS[@]}"; do
		assert_complete_dump "$second/$f.sql.gz"
	done
	dump_has "$second/a b.sql.gz" '(2)' || fail "the new dump of 'a b' lacks the change"
	assert_complete_dump "$first/@c3@bcn@c3@af.sql.gz"
	assert_complete_dump "$first/a@20b.sql.gz"
	(cd "$second" && sha256sum --strict --quiet -c SHA256SUMS) || fail "sha256sum -c failed in the renaming run"
	assert_eq "$(wc -l <"$second/SHA256SUMS")" 4 "lines of SHA256SUMS"
	# The next run reuses everything under the new names and prunes the
	# old folder; what stays is readable.
	backup "$dir.conf"
	third=$NEW
	for f in "${NAMED_DBS[@]}"; do
		reused "$third" "$f" || fail "$f was not reused in the run after the upgrade"
	done
	assert_no_grep "$third/oma.log" "the file name an older oma gave it"
	assert_no_path "$first"
	for f in "${NAMED_DBS[@]}"; do
		assert_complete_dump "$second/$f.sql.gz"
		assert_complete_dump "$third/$f.sql.gz"
	done
	(cd "$third" && sha256sum --strict --quiet -c SHA256SUMS) || fail "sha256sum -c failed after the upgrade"
}

e2e_case "skip_unchanged_dbs: unchanged databases reused, hard link left behind" case_hard_reuse
e2e_case "a change committed before the run is always dumped (InnoDB and Aria)" case_committed_change
e2e_case "pruning keeps every kept folder's files readable" case_pruned_links
e2e_case "link_type = symbolic leaves a working symlink" case_symbolic
e2e_case "a failed dump is never reused" case_failed_not_reused
e2e_case "a run without skip_unchanged_dbs leaves sidecars: the next run with it reuses" case_off_then_on
e2e_case "delete_before with skip_unchanged_dbs after runs without it reuses" case_delete_before_after_off
e2e_case "a folder with an older oma's file names: unchanged dumps reused under the new names, logged" case_old_file_names

e2e_finish
