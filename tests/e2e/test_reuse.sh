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

e2e_case "skip_unchanged_dbs: unchanged databases reused, hard link left behind" case_hard_reuse
e2e_case "a change committed before the run is always dumped (InnoDB and Aria)" case_committed_change
e2e_case "pruning keeps every kept folder's files readable" case_pruned_links
e2e_case "link_type = symbolic leaves a working symlink" case_symbolic
e2e_case "a failed dump is never reused" case_failed_not_reused

e2e_finish
