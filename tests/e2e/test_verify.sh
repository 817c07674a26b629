#!/usr/bin/env bash
# test_verify.sh - end-to-end: oma --verify proves a backup folder's dumps readable and complete, and names what is wrong.
#
# Starts one private MariaDB, makes a gzip, a zstd and an age-encrypted
# backup, then checks copies of their folders with `oma --verify`: good
# folders exit 0 (with and without a configuration, on a copy elsewhere)
# and sha256sum -c agrees; a flipped byte, a truncated file, a valid gzip of
# SQL without mysqldump's completion line, a missing or an unlisted dump,
# a folder without info.json exit 4 naming exactly the bad file and why.
# Cases are called through e2e_case.
# shellcheck disable=SC2317 # the case functions are called through e2e_case
set -euo pipefail

# shellcheck source=tests/lib/e2e.sh
. "$(dirname "$0")/../lib/e2e.sh"

e2e_need_tools age-keygen zstd

e2e_setup db

e2e_load <<-'SQL'
	CREATE DATABASE shop;
	CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(80)) ENGINE=InnoDB;
	INSERT INTO shop.t SELECT seq, CONCAT('row ', seq, ' ', MD5(seq)) FROM shop.seq_1_to_60000;
	CREATE DATABASE aria;
	CREATE TABLE aria.t (id INT PRIMARY KEY, v VARCHAR(40)) ENGINE=Aria;
	INSERT INTO aria.t SELECT seq, CONCAT('row ', seq) FROM aria.seq_1_to_2000;
	CREATE DATABASE small;
	CREATE TABLE small.t (id INT PRIMARY KEY) ENGINE=InnoDB;
	INSERT INTO small.t VALUES (1), (2), (3);
SQL
# Names kept (ünï, a backslash: an escaped SHA256SUMS line) and escaped
# (a newline) in the file name.
NL=$'new\nline'
e2e_load <<-SQL
	CREATE DATABASE \`ünï\`;
	CREATE TABLE \`ünï\`.t (id INT PRIMARY KEY) ENGINE=InnoDB;
	INSERT INTO \`ünï\`.t VALUES (1);
	CREATE DATABASE \`back\\slash\`;
	CREATE DATABASE \`$NL\`;
	CREATE TABLE \`$NL\`.t (v INT) ENGINE=Aria;
SQL

DBS='do_databases = ["shop", "aria", "small"]'
age-keygen -o "$E2E_T/key.txt" 2>/dev/null
PUB=$(age-keygen -y "$E2E_T/key.txt")

# One backup per kind, made before the cases: GZ, ZST, AGE are their
# folders (the cases only read them, and change copies).
make_backup() {
	local name=$1
	shift
	mkdir -p "$E2E_T/$name"
	write_config "$E2E_T/$name.conf" "$E2E_T/$name" "$DBS" "$@"
	run_oma -c "$E2E_T/$name.conf"
	if [[ $OMA_RC != 0 ]]; then
		echo "not ok - setup: the $name backup exited with $OMA_RC"
		sed 's/^/#   /' "$E2E_ERR"
		exit 1
	fi
	newest_folder "$E2E_T/$name"
}
GZ=$(make_backup gz)
ZST=$(make_backup zst 'compression = "zstd"')
AGE=$(make_backup age '[encryption]' "recipients = [\"$PUB\"]")

# A fresh copy of folder $1 to play with; prints its path.
copy_of() {
	local c
	c=$(mktemp -d "$E2E_T/copy.XXXXXX")
	cp -a "$1/." "$c/"
	printf '%s\n' "$c"
}

# --verify on folder $1 (without a configuration); must exit $2.
verify() {
	run_oma --verify "$1"
	if [[ $OMA_RC != "$2" ]]; then
		cat "$E2E_OUT" >&2
		fail "oma --verify $1: exit $OMA_RC, expected $2"
	fi
}

# stdout has exactly one BAD line, for file $1, containing $2.
assert_only_bad() {
	local bad
	bad=$(grep '^BAD ' "$E2E_OUT" || true)
	[[ $(grep -c . <<<"$bad") = 1 ]] || fail "expected one BAD line, got: $bad"
	[[ $bad = "BAD  $1: "* ]] || fail "the BAD line names another file: $bad"
	[[ $bad = *"$2"* ]] || fail "the BAD line does not say '$2': $bad"
	if [[ $1 = info.json ]]; then
		assert_out '^FAILED .*, 0 bad, 1 problem of the folder$'
	else
		assert_out '^FAILED .*, 1 bad$'
	fi
}

# stdout matches the extended regular expression $1.
assert_out() {
	grep -aqE -- "$1" "$E2E_OUT" || {
		cat "$E2E_OUT"
		fail "'$1' not in the output of oma --verify"
	}
}

# Flip one byte of file $1 in the middle.
flip_byte() {
	local size off byte
	size=$(stat -c %s "$1")
	off=$((size / 2))
	byte=$(od -An -tu1 -j "$off" -N1 "$1" | tr -d ' ')
	printf '%b' "$(printf '\\%03o' $(((byte + 1) % 256)))" | dd of="$1" bs=1 seek="$off" conv=notrunc status=none
}

case_good_folder() {
	run_oma -c "$E2E_T/gz.conf" --verify
	assert_rc 0
	local db
	for db in shop aria small; do
		assert_out "^OK   $db\\.sql\\.gz (.*checksum, gzip stream, [0-9]* bytes of SQL, completion line)"
	done
	assert_out "^Verified .*: 3 files checked, 3 good, 0 bad$"
	assert_no_grep "$E2E_OUT" '^BAD'
	(cd "$GZ" && sha256sum --strict --quiet -c SHA256SUMS) || fail "sha256sum -c disagrees on the good folder"
}

case_copy_elsewhere() {
	local c
	c=$(copy_of "$GZ")
	verify "$c" 0
	assert_out "^Verified $c: 3 files checked, 3 good, 0 bad$"
}

case_flipped_byte() {
	local c
	c=$(copy_of "$GZ")
	flip_byte "$c/shop.sql.gz"
	verify "$c" 4
	assert_only_bad shop.sql.gz 'checksum mismatch'
	assert_out '^OK   aria\.sql\.gz'
	(cd "$c" && sha256sum --quiet -c SHA256SUMS) >/dev/null 2>&1 && fail "sha256sum -c passed a flipped byte"
	return 0
}

case_truncated() {
	local c size
	c=$(copy_of "$GZ")
	size=$(stat -c %s "$c/shop.sql.gz")
	truncate -s $((size - 100)) "$c/shop.sql.gz"
	verify "$c" 4
	assert_only_bad shop.sql.gz 'truncated'
	assert_out '^BAD  shop\.sql\.gz: .*checksum mismatch'
}

# A valid gzip of SQL without the completion line, with SHA256SUMS made to
# match: only the completion line is wrong.
case_no_completion_line() {
	local c sum
	c=$(copy_of "$GZ")
	zcat "$c/aria.sql.gz" | grep -av '^-- Dump completed' | gzip >"$c/aria.new"
	mv "$c/aria.new" "$c/aria.sql.gz"
	sum=$(sha256sum "$c/aria.sql.gz" | cut -d' ' -f1)
	sed -i "s/^[0-9a-f]\\{64\\}  aria\\.sql\\.gz\$/$sum  aria.sql.gz/" "$c/SHA256SUMS"
	(cd "$c" && sha256sum --quiet -c SHA256SUMS) || fail "the doctored SHA256SUMS does not match"
	verify "$c" 4
	assert_only_bad aria.sql.gz 'completion line missing (last line: '
	assert_no_grep "$E2E_OUT" 'checksum mismatch'
}

case_missing_and_unlisted() {
	local c
	c=$(copy_of "$GZ")
	rm "$c/small.sql.gz"
	verify "$c" 4
	assert_only_bad small.sql.gz 'missing (listed in SHA256SUMS)'
	c=$(copy_of "$GZ")
	cp "$c/small.sql.gz" "$c/extra.sql.gz"
	verify "$c" 4
	assert_only_bad extra.sql.gz 'not listed in SHA256SUMS'
}

case_incomplete_folder() {
	local c
	c=$(copy_of "$GZ")
	rm "$c/info.json"
	verify "$c" 4
	assert_only_bad info.json 'did not complete'
}

case_no_sha256sums() {
	local c
	c=$(copy_of "$GZ")
	rm "$c/SHA256SUMS"
	verify "$c" 0
	assert_out "^note: $c/SHA256SUMS is missing"
	assert_out '^OK   shop\.sql\.gz (.* bytes, gzip stream, .*completion line)'
}

case_zstd() {
	local zst=$ZST c size
	verify "$zst" 0
	assert_out '^OK   shop\.sql\.zst (.*zstd stream, .*completion line)'
	c=$(copy_of "$zst")
	size=$(stat -c %s "$c/shop.sql.zst")
	truncate -s $((size - 10)) "$c/shop.sql.zst"
	verify "$c" 4
	assert_only_bad shop.sql.zst 'truncated'
}

case_encrypted() {
	local enc=$AGE c size
	verify "$enc" 0
	assert_out '^OK   shop\.sql\.gz\.age \(.*checksum, age structure \(the content needs the key\)\)'
	c=$(copy_of "$enc")
	flip_byte "$c/shop.sql.gz.age"
	verify "$c" 4
	assert_only_bad shop.sql.gz.age 'checksum mismatch'
	# Without the key only the form can be checked (a cut inside the
	# payload is the checksum's to find): a file cut in its header, with
	# SHA256SUMS made to match, is named by the age check alone.
	c=$(copy_of "$enc")
	truncate -s 60 "$c/aria.sql.gz.age"
	sed -i '/  aria\.sql\.gz\.age$/d' "$c/SHA256SUMS"
	printf '%s  aria.sql.gz.age\n' "$(sha256sum "$c/aria.sql.gz.age" | cut -d' ' -f1)" >>"$c/SHA256SUMS"
	verify "$c" 4
	assert_only_bad aria.sql.gz.age 'age: the file is truncated: it ends in the header'
	assert_no_grep "$E2E_OUT" 'checksum mismatch'
}

case_not_a_folder() {
	verify "$E2E_T/no-such-folder" 4
	assert_out "^Cannot verify $E2E_T/no-such-folder: No such file or directory"
	run_oma --verify "$E2E_T/a" "$E2E_T/b"
	assert_rc 1
}

# A FIFO named like a dump (nobody writes it): named, not waited for.
case_fifo_dump() {
	local c=$E2E_T/fifo
	mkdir -p "$c"
	mkfifo "$c/stuck.sql.gz"
	: >"$c/info.json"
	verify "$c" 4
	assert_only_bad stuck.sql.gz 'not a regular file'
}

e2e_case "a good folder: every dump OK, exit 0, sha256sum -c agrees" case_good_folder
e2e_case "a copy of the folder elsewhere, no configuration: exit 0" case_copy_elsewhere
e2e_case "a flipped byte: exit 4 naming that file, checksum mismatch" case_flipped_byte
e2e_case "a truncated dump: exit 4 naming that file, truncated" case_truncated
e2e_case "a valid gzip of SQL without the completion line: exit 4 naming it" case_no_completion_line
e2e_case "a dump missing or not listed in SHA256SUMS: exit 4 naming it" case_missing_and_unlisted
e2e_case "a folder without info.json: exit 4" case_incomplete_folder
e2e_case "a folder without SHA256SUMS (older oma): a note, the streams still checked" case_no_sha256sums
e2e_case "zstd: good, and a truncated .sql.zst named" case_zstd
e2e_case "age: structure checked without the key; a flipped byte and a cut file named" case_encrypted
case_odd_names() {
	local dir=$E2E_T/names cur c
	mkdir -p "$dir"
	write_config "$dir.conf" "$dir" 'do_databases = ["ünï", "new\nline", "back\\slash"]'
	run_oma -c "$dir.conf"
	cur=$(newest_folder "$dir")
	assert_rc 0 "$cur/oma.log"
	for c in ünï new@0aline 'back\slash'; do
		assert_complete_dump "$cur/$c.sql.gz"
	done
	assert_eq "$(grep -c '^\\[0-9a-f]\{64\}  back\\\\slash\.sql\.gz$' "$cur/SHA256SUMS")" 1 \
		"escaped SHA256SUMS lines"
	(cd "$cur" && sha256sum --strict -c SHA256SUMS) >"$E2E_T/names.sums" 2>&1 ||
		fail "sha256sum -c failed: $(cat "$E2E_T/names.sums")"
	assert_eq "$(grep -c ': OK$' "$E2E_T/names.sums")" 3 "files sha256sum found good"
	verify "$cur" 0
	assert_out '^OK   ünï\.sql\.gz \(.*checksum, gzip stream, .*completion line\)$'
	assert_out '^OK   new@0aline\.sql\.gz \(.*checksum, gzip stream, .*completion line\)$'
	assert_out '^OK   back\\slash\.sql\.gz \(.*checksum, gzip stream, .*completion line\)$'
	assert_out "^Verified $cur: 3 files checked, 3 good, 0 bad$"
	c=$(copy_of "$cur")
	flip_byte "$c/back\slash.sql.gz"
	verify "$c" 4
	assert_only_bad 'back\slash.sql.gz' 'checksum mismatch'
}

e2e_case "UTF-8, backslash and newline names: sha256sum -c and --verify agree, a bad one named" case_odd_names
e2e_case "a folder that does not exist: exit 4; two folders: exit 1" case_not_a_folder
e2e_case "a FIFO named like a dump: BAD, not a regular file, no hang" case_fifo_dump

e2e_finish
