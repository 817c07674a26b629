#!/usr/bin/env bash
# test_encryption.sh - end-to-end: [encryption] writes every dump in the age v1 format, readable with Debian's age.
#
# Starts one private MariaDB and runs oma with [encryption] (recipients made
# by Debian's age-keygen): the files are NAME.sql.gz.age / .sql.zst.age and
# none is in the clear; `age -d -i` gives back exactly the compressor's
# stream (a restore through age | zcat | mariadb matches CHECKSUM TABLE);
# two recipients, a recipients file, a wrong identity; a rotated key makes
# skip_unchanged_dbs dump everything again (with the debug line saying why),
# the same key reuses; configuration errors are refused before anything is
# touched; info.json, result.json and the space estimate count the encrypted
# files; our own decryptor (build/tests/age-tool) reads oma's files.
# Cases are called through e2e_case.
# shellcheck disable=SC2317 # the case functions are called through e2e_case
set -euo pipefail

# shellcheck source=tests/lib/e2e.sh
. "$(dirname "$0")/../lib/e2e.sh"

e2e_need_tools age age-keygen zstd jq

e2e_setup db

e2e_load <<-'SQL'
	CREATE DATABASE shop;
	CREATE TABLE shop.customers (
	  id INT PRIMARY KEY, name VARCHAR(80), email VARCHAR(120), balance DECIMAL(12,2) NULL
	) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
	INSERT INTO shop.customers SELECT seq, CONCAT('Kunde Nr. ', seq, ' Ærø 🙂'),
	  CONCAT('c', seq, '@example.org'), IF(seq % 11 = 0, NULL, seq * 1.25)
	FROM shop.seq_1_to_30000;
	CREATE TABLE shop.products (id INT PRIMARY KEY, title VARCHAR(200), picture MEDIUMBLOB) ENGINE=InnoDB;
	INSERT INTO shop.products SELECT seq, CONCAT('Produkt ', seq), REPEAT(UNHEX(SHA2(seq, 512)), 64)
	FROM shop.seq_1_to_300;
	CREATE DATABASE aria;
	CREATE TABLE aria.t (id INT PRIMARY KEY, v VARCHAR(40)) ENGINE=Aria;
	INSERT INTO aria.t SELECT seq, CONCAT('row ', seq) FROM aria.seq_1_to_2000;
	CREATE DATABASE `a b`;
	CREATE TABLE `a b`.t (id INT PRIMARY KEY) ENGINE=InnoDB;
	INSERT INTO `a b`.t VALUES (1), (2), (3);
SQL
# Settle the data as test_reuse.sh does: pages on disk, files older than
# the first dump's start by more than the change check's margin.
# shellcheck disable=SC2016 # backticks quote an SQL name
mdb_sql -e 'FLUSH TABLES shop.customers, shop.products, `a b`.t FOR EXPORT; UNLOCK TABLES; FLUSH TABLES'
sleep 2.2

DBS='do_databases = ["shop", "aria", "a b"]'
# Database -> file stem.
declare -A STEM=([shop]=shop [aria]=aria ["a b"]="a b")
AGE_TOOL=$E2E_REPO/$OMA_BUILD/tests/age-tool
[[ $OMA_BUILD = /* ]] && AGE_TOOL=$OMA_BUILD/tests/age-tool
PLUGIN_DIR=$(dirname "$(readlink -f "$OMA_BIN")")/plugins

# Identities A, B, C (key files) and their recipients (public keys).
KEYS=$E2E_T/keys
mkdir -p "$KEYS"
declare -A PUB=()
for k in A B C; do
	age-keygen -o "$KEYS/$k.txt" 2>/dev/null
	PUB[$k]=$(age-keygen -y "$KEYS/$k.txt")
done

COMPLETION='^-- Dump completed on [0-9]{4}-[0-9]{2}-[0-9]{2}[[:space:]]+[0-9]+:[0-9]{2}:[0-9]{2}'

# Write config $1 for backup folder $2 (made) with [main] lines, then
# "--" and the lines of [encryption] (none: no [encryption] at all).
enc_config() {
	local file=$1 dir=$2 main=() enc=() seen=0 a
	shift 2
	for a in "$@"; do
		if [[ $a = -- ]]; then
			seen=1
		elif ((seen)); then
			enc+=("$a")
		else
			main+=("$a")
		fi
	done
	mkdir -p "$dir"
	if ((seen)); then
		write_config "$file" "$dir" "${main[@]}" '[encryption]' "${enc[@]}"
	else
		write_config "$file" "$dir" "${main[@]}"
	fi
}

# Run a backup with config $1 (more oma options after it); NEW is the new
# folder; the run must exit 0.
backup() {
	local conf=$1
	shift
	local before
	before=$(newest_folder "$BDIR")
	run_oma "$@" -c "$conf"
	NEW=$(newest_folder "$BDIR")
	[[ -n $NEW && $NEW != "$before" ]] || {
		show_run
		fail "no new backup folder in $BDIR"
	}
	assert_rc 0 "$NEW/oma.log"
}

# The fingerprint logged by the run in folder $1 ("Encryption: ..." line).
logged_fp() {
	sed -nE 's/.* INFO Encryption: age \(\.age\), recipients ([0-9a-f]{64})$/\1/p' "$1/oma.log" | head -n 1
}

# Decrypt FILE with identity $2 (A, B, C) to stdout with Debian's age.
dec() { age -d -i "$KEYS/$2.txt" "$1"; }

# The decrypted, decompressed dump FILE ($3: zcat or "zstd -dc") ends in
# mysqldump's completion line; identity $2.
assert_enc_dump() {
	local f=$1 id=$2 unz=${3:-zcat} last
	dec "$f" "$id" >"$E2E_T/plain.bin" || fail "age -d -i $id.txt $f failed"
	if [[ $unz = zcat ]]; then
		gzip -t <"$E2E_T/plain.bin" || fail "$f: the decrypted stream is not valid gzip"
	else
		zstd -q -t <"$E2E_T/plain.bin" || fail "$f: the decrypted stream is not valid zstd"
	fi
	last=$($unz <"$E2E_T/plain.bin" | tail -n 1)
	grep -qE "$COMPLETION" <<<"$last" || fail "$f does not end with the completion line (last: ${last:0:80})"
}

# Every dump in folder $1 is DB-stem + suffix $2 (e.g. .sql.gz.age) and no
# other dump file (in the clear or otherwise) is there.
assert_only_suffix() {
	local dir=$1 suf=$2 db f
	for db in "${!STEM[@]}"; do
		assert_file "$dir/${STEM[$db]}$suf"
	done
	while IFS= read -r f; do
		case $f in
		oma.log | info.json | result.json | SHA256SUMS | .oma.lock | *.timestamp) ;;
		*"$suf")
			[[ $(head -c 21 "$dir/$f") = age-encryption.org/v1 || $suf != *.age ]] ||
				fail "$f does not begin with the age v1 header"
			;;
		*) fail "unexpected file in $dir: $f" ;;
		esac
	done < <(find "$dir" -mindepth 1 -maxdepth 1 -printf '%f\n')
}

# ---- an encrypted backup --------------------------------------------------------

BDIR=$E2E_T/one
enc_config "$E2E_T/one.conf" "$BDIR" "$DBS" 'versions = 5' -- "recipients = [\"${PUB[A]}\"]"
ONE=""

case_encrypted_files() {
	backup "$E2E_T/one.conf"
	ONE=$NEW
	echo "$ONE" >"$E2E_T/one.folder"
	assert_only_suffix "$ONE" .sql.gz.age
	logged_fp "$ONE" >"$E2E_T/fp.A"
	[[ -s $E2E_T/fp.A ]] || {
		grep -a 'Encryption' "$ONE/oma.log" || true
		fail "no 'INFO Encryption: age (.age), recipients <64 hex>' line in oma.log"
	}
	local db
	for db in "${!STEM[@]}"; do
		assert_grep "$ONE/oma.log" "DB '$db': Backup successfully"
		assert_enc_dump "$ONE/${STEM[$db]}.sql.gz.age" A
		# Not a byte of SQL in the clear.
		if zcat -f "$ONE/${STEM[$db]}.sql.gz.age" 2>/dev/null | grep -aq 'Dump completed'; then
			fail "${STEM[$db]}.sql.gz.age readable without the key"
		fi
	done
	assert_no_grep "$ONE/${STEM[shop]}.sql.gz.age" 'Kunde Nr.'
	assert_no_part "$BDIR"
}

case_restore() {
	ONE=$(cat "$E2E_T/one.folder")
	mdb_sql -e 'DROP DATABASE IF EXISTS shop2; CREATE DATABASE shop2'
	age -d -i "$KEYS/A.txt" "$ONE/shop.sql.gz.age" | zcat | mdb_sql shop2 ||
		fail "restore through age -d | zcat | mariadb failed"
	local want got
	want=$(db_checksums shop)
	got=$(db_checksums shop2)
	[[ -n $want ]] || fail "no checksums of shop"
	if [[ $want != "$got" ]]; then
		diff <(echo "$want") <(echo "$got") || true
		fail "CHECKSUM TABLE of the restored shop2 differs from shop"
	fi
	mdb_sql -e 'DROP DATABASE shop2'
}

case_wrong_identity() {
	ONE=$(cat "$E2E_T/one.folder")
	if dec "$ONE/shop.sql.gz.age" B >/dev/null 2>"$E2E_T/age.err"; then
		fail "identity B decrypted a file made for A"
	fi
}

case_age_tool() {
	ONE=$(cat "$E2E_T/one.folder")
	[[ -x $AGE_TOOL ]] || fail "$AGE_TOOL not found (make tests)"
	local f=$ONE/shop.sql.gz.age last
	"$AGE_TOOL" decrypt -i "$KEYS/A.txt" <"$f" >"$E2E_T/ours.bin" || fail "age-tool decrypt failed on $f"
	dec "$f" A >"$E2E_T/theirs.bin"
	cmp -s "$E2E_T/ours.bin" "$E2E_T/theirs.bin" || fail "age-tool and age -d decrypt $f differently"
	last=$(zcat <"$E2E_T/ours.bin" | tail -n 1)
	grep -qE "$COMPLETION" <<<"$last" || fail "age-tool's output lacks the completion line"
	if "$AGE_TOOL" decrypt -i "$KEYS/C.txt" <"$f" >/dev/null 2>&1; then
		fail "age-tool decrypted with a wrong identity"
	fi
}

# info.json, result.json and the next run's space estimate with encrypted files.
case_json() {
	ONE=$(cat "$E2E_T/one.folder")
	local res=$ONE/result.json info=$ONE/info.json db sum=0 size bytes
	is_json <"$res" || fail "result.json is not JSON"
	# mysql, not in do_databases, is "skipped".
	jq -e '.counts == {"dumped": 3, "reused": 0, "skipped": 1, "failed": 0, "total": 4} and .outcome == "success"' \
		"$res" >/dev/null || fail "result.json counts: $(jq -c '.counts' "$res")"
	for db in "${!STEM[@]}"; do
		size=$(stat -c %s "$ONE/${STEM[$db]}.sql.gz.age")
		bytes=$(jq -r --arg n "$db" '.databases[] | select(.name == $n) | .bytes' "$res")
		assert_eq "$bytes" "$size" "result.json bytes of $db"
		((size > 0)) || fail "$db: empty file"
		sum=$((sum + size))
	done
	jq -e --argjson s "$sum" '.backup_bytes_used >= $s and .compression_ratio > 0 and .mysql_data_dir_bytes_used > 0' \
		"$info" >/dev/null || fail "info.json does not count the encrypted files ($sum bytes): $(tr -d '\n' <"$info")"
	# The next run reads that info.json for its estimate: no warning, a
	# debug line with the estimate, exit 0.
	sleep 1.1
	backup "$E2E_T/one.conf" -d
	assert_no_grep "$NEW/oma.log" 'WARNING'
	assert_no_grep "$NEW/oma.log" 'assuming a compression ratio'
}

# The estimate uses the encrypted backup's ratio: a huge one from its
# info.json makes the next run stop with exit 2 before the dumps.
case_space_estimate() {
	local dir=$E2E_T/space old=oma_20000101-000000
	mkdir -p "$dir/$old"
	printf '{\n    "mysql_data_dir_bytes_used": 1000,\n    "backup_bytes_used": 1000000000,\n    "compression_ratio": 1000000.0\n}\n' >"$dir/$old/info.json"
	enc_config "$E2E_T/space.conf" "$dir" "$DBS" -- "recipients = [\"${PUB[A]}\"]"
	run_oma -c "$E2E_T/space.conf"
	assert_rc 2
	[[ -z $(find "$dir" -name '*.age' | head -n 1) ]] || fail "dumps written despite no space"
}

# ---- recipients ---------------------------------------------------------------

case_two_recipients() {
	BDIR=$E2E_T/two
	enc_config "$E2E_T/two.conf" "$BDIR" "$DBS" -- "recipients = [\"${PUB[A]}\", \"${PUB[B]}\"]"
	backup "$E2E_T/two.conf"
	assert_only_suffix "$NEW" .sql.gz.age
	local f=$NEW/shop.sql.gz.age
	assert_enc_dump "$f" A
	assert_enc_dump "$f" B
	if dec "$f" C >/dev/null 2>&1; then
		fail "a third identity C decrypted a file for A and B"
	fi
	logged_fp "$NEW" >"$E2E_T/fp.AB"
	[[ -s $E2E_T/fp.A ]] || fail "the first case logged no fingerprint"
	[[ $(cat "$E2E_T/fp.AB") != "$(cat "$E2E_T/fp.A")" ]] || fail "{A, B} has the fingerprint of {A}"
}

# recipients_file in age's format, alone and together with recipients.
case_recipients_file() {
	local rf=$KEYS/recipients.txt fp
	printf '# backup keys\n\n%s\n  # the second admin\n%s\n' "${PUB[B]}" "${PUB[A]}" >"$rf"
	BDIR=$E2E_T/rfile
	enc_config "$E2E_T/rfile.conf" "$BDIR" "$DBS" -- "recipients_file = \"$rf\""
	backup "$E2E_T/rfile.conf"
	assert_only_suffix "$NEW" .sql.gz.age
	assert_enc_dump "$NEW/aria.sql.gz.age" A
	assert_enc_dump "$NEW/aria.sql.gz.age" B
	fp=$(logged_fp "$NEW")
	[[ -f $E2E_T/fp.AB ]] || fail "the two-recipient case did not run"
	assert_eq "$fp" "$(cat "$E2E_T/fp.AB")" "fingerprint of {B, A} from a file vs {A, B} in the config"

	printf '%s\n' "${PUB[B]}" >"$KEYS/only-b.txt"
	BDIR=$E2E_T/both
	enc_config "$E2E_T/both.conf" "$BDIR" "$DBS" -- "recipients = [\"${PUB[A]}\"]" \
		"recipients_file = \"$KEYS/only-b.txt\""
	backup "$E2E_T/both.conf"
	assert_enc_dump "$NEW/aria.sql.gz.age" A
	assert_enc_dump "$NEW/aria.sql.gz.age" B
	assert_eq "$(logged_fp "$NEW")" "$(cat "$E2E_T/fp.AB")" "fingerprint of recipients A + recipients_file B"
}

case_zstd() {
	BDIR=$E2E_T/zstd
	enc_config "$E2E_T/zstd.conf" "$BDIR" "$DBS" 'compression = "zstd"' -- "recipients = [\"${PUB[A]}\"]"
	backup "$E2E_T/zstd.conf"
	assert_only_suffix "$NEW" .sql.zst.age
	local db
	for db in "${!STEM[@]}"; do
		assert_enc_dump "$NEW/${STEM[$db]}.sql.zst.age" A 'zstd -dc'
	done
	assert_grep "$NEW/oma.log" 'INFO Encryption: age (.age), recipients '
}

# ---- the decrypted stream is the compressor's ---------------------------------

# A mysqldump whose completion line has a fixed date: two runs of the same
# data then make the same dump, so the compressed files can be compared.
FIXED=$E2E_T/fixed-dump
cat >"$FIXED" <<-EOF
	#!/usr/bin/env bash
	set -o pipefail
	'$MDB_DUMP_BIN' "\$@" | sed 's/^-- Dump completed on .*\$/-- Dump completed on 2000-01-01  0:00:00/'
EOF
chmod +x "$FIXED"

# Compressor $1 (gzip|zstd), suffix $2: without [encryption] nothing
# changes, and with it, age -d gives back exactly the same bytes.
same_stream() {
	local comp=$1 suf=$2 plain enc db
	BDIR=$E2E_T/plain-$comp
	enc_config "$E2E_T/plain-$comp.conf" "$BDIR" "$DBS" "mysqldump_bin = \"$FIXED\"" "compression = \"$comp\""
	backup "$E2E_T/plain-$comp.conf"
	plain=$NEW
	assert_no_grep "$plain/oma.log" 'Encryption'
	assert_only_suffix "$plain" "$suf"
	BDIR=$E2E_T/enc-$comp
	enc_config "$E2E_T/enc-$comp.conf" "$BDIR" "$DBS" "mysqldump_bin = \"$FIXED\"" "compression = \"$comp\"" \
		-- "recipients = [\"${PUB[A]}\"]"
	backup "$E2E_T/enc-$comp.conf"
	enc=$NEW
	for db in "${!STEM[@]}"; do
		dec "$enc/${STEM[$db]}$suf.age" A >"$E2E_T/dec.bin"
		cmp -s "$E2E_T/dec.bin" "$plain/${STEM[$db]}$suf" ||
			fail "$db: age -d of ${STEM[$db]}$suf.age differs from the unencrypted ${STEM[$db]}$suf ($(stat -c %s "$E2E_T/dec.bin") vs $(stat -c %s "$plain/${STEM[$db]}$suf") bytes)"
	done
}

case_same_stream_gzip() { same_stream gzip .sql.gz; }
case_same_stream_zstd() { same_stream zstd .sql.zst; }

# ---- key rotation and reuse ---------------------------------------------------

case_rotation() {
	BDIR=$E2E_T/rot
	local main=("$DBS" 'skip_unchanged_dbs = true' 'versions = 5') first second third fpa fpb db f
	enc_config "$E2E_T/rot-a.conf" "$BDIR" "${main[@]}" -- "recipients = [\"${PUB[A]}\"]"
	enc_config "$E2E_T/rot-b.conf" "$BDIR" "${main[@]}" -- "recipients = [\"${PUB[B]}\"]"
	backup "$E2E_T/rot-a.conf"
	first=$NEW
	fpa=$(logged_fp "$first")
	[[ -n $fpa ]] || fail "no fingerprint logged"
	for db in "${!STEM[@]}"; do
		assert_grep "$first/${STEM[$db]}.timestamp" "encryption=age:$fpa"
		assert_no_grep "$first/${STEM[$db]}.timestamp" 'age1'
	done
	sleep 1.1
	backup "$E2E_T/rot-b.conf" -d
	second=$NEW
	fpb=$(logged_fp "$second")
	[[ -n $fpb && $fpb != "$fpa" ]] || fail "key B logged fingerprint '$fpb' (A: $fpa)"
	for db in "${!STEM[@]}"; do
		assert_grep "$second/oma.log" "DB '$db': dumping: previous dump was encrypted for other recipients (age:$fpa, now age:$fpb)"
		assert_grep "$second/oma.log" "DB '$db': Backup successfully"
		assert_no_grep "$second/oma.log" "DB '$db': Backup is newer than last database change"
		f=$second/${STEM[$db]}.sql.gz.age
		assert_enc_dump "$f" B
		if dec "$f" A >/dev/null 2>&1; then fail "the old key A still decrypts $f"; fi
	done
	sleep 1.1
	backup "$E2E_T/rot-b.conf"
	third=$NEW
	for db in "${!STEM[@]}"; do
		assert_grep "$third/oma.log" "DB '$db': Backup is newer than last database change. Reusing previous backup"
		assert_enc_dump "$third/${STEM[$db]}.sql.gz.age" B
	done
	jq -e '.counts.reused == 3 and .counts.dumped == 0' "$third/result.json" >/dev/null ||
		fail "result.json of the reusing run: $(jq -c .counts "$third/result.json")"
	for db in "${!STEM[@]}"; do
		assert_eq "$(jq -r --arg n "$db" '.databases[] | select(.name == $n) | "\(.outcome) \(.bytes)"' "$third/result.json")" \
			"reused $(stat -c %s "$third/${STEM[$db]}.sql.gz.age")" "result.json of the reusing run, $db"
	done
}

# Turning encryption on never reuses a dump in the clear, and turning it
# off never reuses an encrypted one.
case_on_off() {
	BDIR=$E2E_T/onoff
	local main=("$DBS" 'skip_unchanged_dbs = true' 'versions = 5') db
	enc_config "$E2E_T/off.conf" "$BDIR" "${main[@]}"
	enc_config "$E2E_T/on.conf" "$BDIR" "${main[@]}" -- "recipients = [\"${PUB[A]}\"]"
	backup "$E2E_T/off.conf"
	sleep 1.1
	backup "$E2E_T/on.conf" -d
	assert_only_suffix "$NEW" .sql.gz.age
	for db in "${!STEM[@]}"; do
		assert_grep "$NEW/oma.log" "DB '$db': Backup successfully"
	done
	sleep 1.1
	backup "$E2E_T/off.conf" -d
	assert_only_suffix "$NEW" .sql.gz
	for db in "${!STEM[@]}"; do
		assert_grep "$NEW/oma.log" "DB '$db': Backup successfully"
		assert_complete_dump "$NEW/${STEM[$db]}.sql.gz"
	done
	# [encryption] with enabled = false is no encryption: plain dumps, and
	# the plain dumps of the run before are reused.
	enc_config "$E2E_T/disabled.conf" "$BDIR" "${main[@]}" -- 'enabled = false' "recipients = [\"${PUB[A]}\"]"
	sleep 1.1
	backup "$E2E_T/disabled.conf" -d
	assert_only_suffix "$NEW" .sql.gz
	assert_no_grep "$NEW/oma.log" 'Encryption'
	for db in "${!STEM[@]}"; do
		assert_grep "$NEW/oma.log" "DB '$db': Backup is newer than last database change. Reusing previous backup"
		assert_complete_dump "$NEW/${STEM[$db]}.sql.gz"
	done
}

# ---- configuration -------------------------------------------------------------

CFG=$E2E_T/cfg
CFG_BACKUP=$E2E_T/cfg-backup

# One valid backup in CFG_BACKUP, made once: the errors below must leave it as it is.
cfg_prepare() {
	if [[ ! -f $E2E_T/cfg.ready ]]; then
		mkdir -p "$CFG"
		BDIR=$CFG_BACKUP
		enc_config "$CFG/good.conf" "$CFG_BACKUP" 'do_databases = ["aria"]' -- "recipients = [\"${PUB[A]}\"]"
		backup "$CFG/good.conf"
		touch "$E2E_T/cfg.ready"
	fi
}

# Config $1 (file name) with [encryption] lines $3...: exit 1 with one line
# on stderr, "Invalid configuration: " and then containing each
# |-separated fixed string of $2; no new folder, the old backup untouched.
cfg_error() {
	cfg_prepare
	local file=$CFG/$1.conf want=$2 mode before w parts
	shift 2
	enc_config "$file" "$CFG_BACKUP" 'do_databases = ["aria"]' -- "$@"
	before=$(tree_md5 "$CFG_BACKUP")
	for mode in run check; do
		run_config_error "$mode" "$file"
		[[ $(head -c 23 "$E2E_ERR") = 'Invalid configuration: ' ]] || fail "$mode: stderr: $(cat "$E2E_ERR")"
		IFS='|' read -ra parts <<<"$want"
		for w in "${parts[@]}"; do
			assert_grep "$E2E_ERR" "$w"
		done
		assert_eq "$(tree_md5 "$CFG_BACKUP")" "$before" "$mode: the backup folder after a configuration error"
	done
}

# Line number of the first line of config $1 beginning with $2.
line_of() { grep -n -m 1 -- "^$2" "$1" | cut -d: -f1; }

case_cfg_bad_recipient() {
	cfg_error bad-recipient '[encryption] recipients #2' "recipients = [\"${PUB[A]}\", \"age1notakey\"]"
	local f=$CFG/bad-recipient.conf
	assert_grep "$E2E_ERR" "config $f:$(line_of "$f" recipients): [encryption] recipients #2: age: "
	cfg_error bad-recipient-ssh '[encryption] recipients #1' 'recipients = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHhl"]'
	f=$CFG/bad-recipient-ssh.conf
	assert_grep "$E2E_ERR" "config $f:$(line_of "$f" recipients): [encryption] recipients #1: age: "
}

# A secret key where a public one belongs: refused, and the secret is not
# repeated on stderr (cron mails it; the log may be collected).
case_cfg_secret_as_recipient() {
	local secret f=$CFG/secret-as-recipient.conf
	secret=$(grep '^AGE-SECRET-KEY-' "$KEYS/A.txt")
	cfg_error secret-as-recipient '[encryption] recipients #1' "recipients = [\"$secret\"]"
	assert_grep "$E2E_ERR" "config $f:$(line_of "$f" recipients): [encryption] recipients #1: age: "
	assert_no_grep "$E2E_ERR" "${secret:15:40}"
}

case_cfg_unreadable_file() {
	cfg_error missing-file "$CFG/no-such-recipients.txt|recipients_file" "recipients_file = \"$CFG/no-such-recipients.txt\""
	mkdir -p "$CFG/a-folder"
	cfg_error folder-file "$CFG/a-folder|recipients_file" "recipients_file = \"$CFG/a-folder\""
}

case_cfg_bad_line_in_file() {
	printf '# keys\n%s\n\nage1thisisnotakey\n' "${PUB[A]}" >"$CFG/bad-line.txt"
	cfg_error bad-line "$CFG/bad-line.txt:4|recipients_file" "recipients_file = \"$CFG/bad-line.txt\""
}

case_cfg_no_recipients() {
	cfg_error no-recipients '[encryption] recipients|recipients_file' 'method = "age"'
	cfg_error empty-list '[encryption] recipients|recipients_file' 'recipients = []'
	printf '# nobody yet\n\n' >"$CFG/comments-only.txt"
	cfg_error comments-only 'recipients_file' "recipients_file = \"$CFG/comments-only.txt\""
}

case_cfg_method() {
	cfg_error method-nope \
		"config $CFG/method-nope.conf: [encryption] method: no encrypt plugin 'nope' (encrypt-nope.so) in $PLUGIN_DIR" \
		'method = "nope"' "recipients = [\"${PUB[A]}\"]"
}

case_check_config_ok() {
	cfg_prepare
	run_oma --check-config -c "$CFG/good.conf"
	assert_rc 0
	printf '%s\n' "${PUB[A]}" >"$CFG/ok-recipients.txt"
	enc_config "$CFG/good-file.conf" "$CFG_BACKUP" -- 'method = "age"' "recipients_file = \"$CFG/ok-recipients.txt\""
	run_oma --check-config -c "$CFG/good-file.conf"
	assert_rc 0
}

e2e_case "encrypted backup: every dump NAME.sql.gz.age, none in the clear, age -d | zcat complete" case_encrypted_files
e2e_case "restore through age -d | zcat | mariadb: CHECKSUM TABLE equal" case_restore
e2e_case "a wrong identity cannot decrypt" case_wrong_identity
e2e_case "our decryptor (age-tool) reads oma's file as age -d does" case_age_tool
e2e_case "result.json and info.json count the encrypted files; the next run's estimate uses them" case_json
e2e_case "the space estimate applies with encryption (exit 2, nothing written)" case_space_estimate
e2e_case "two recipients: either identity decrypts, a third fails" case_two_recipients
e2e_case "recipients_file (age's format), alone and with recipients: same fingerprint" case_recipients_file
e2e_case "compression = zstd: NAME.sql.zst.age, age -d | zstd -dc complete" case_zstd
e2e_case "gzip: age -d gives the exact bytes of the unencrypted .sql.gz; no [encryption], no change" case_same_stream_gzip
e2e_case "zstd: age -d gives the exact bytes of the unencrypted .sql.zst" case_same_stream_zstd
e2e_case "key rotation: key B dumps everything again (debug line), key B again reuses" case_rotation
e2e_case "encryption on or off (or enabled = false): a dump of the other kind is never reused" case_on_off
e2e_case "config: a bad recipient string -> exit 1, FILE:LINE and recipients #N" case_cfg_bad_recipient
e2e_case "config: a secret key as recipient -> exit 1, the secret not echoed" case_cfg_secret_as_recipient
e2e_case "config: an unreadable recipients_file -> exit 1 naming it" case_cfg_unreadable_file
e2e_case "config: a bad line in recipients_file -> exit 1, FILE:LINE" case_cfg_bad_line_in_file
e2e_case "config: no recipients -> exit 1 naming recipients and recipients_file" case_cfg_no_recipients
e2e_case "config: method = nope -> exit 1, no encrypt plugin" case_cfg_method
e2e_case "--check-config accepts a valid [encryption]" case_check_config_ok

e2e_finish
