#!/usr/bin/env bash
# test_backup.sh - end-to-end: a real backup of odd database names, restore, selection, versions.
#
# Starts one private MariaDB, loads databases with awkward names and real data
# (100k rows, BLOBs, 4-byte UTF-8, NULLs), runs oma against it and checks the
# files, the restored data (CHECKSUM TABLE), logs, links and pruning.
# Cases are called through e2e_case; backticks and $ in single quotes are SQL/literal.
# shellcheck disable=SC2317 # the case functions are called through e2e_case
set -euo pipefail

# shellcheck source=tests/lib/e2e.sh
. "$(dirname "$0")/../lib/e2e.sh"

e2e_setup db

# 64 two-byte characters (the longest name is 64 characters): kept whole.
LONG_DB=$(printf 'é%.0s' {1..64})
# 25 U+2066 (bidi isolate, escaped: 9 bytes each) and "x": cut and hashed.
CUT_DB="$(printf '\u2066%.0s' {1..25})x"
CUT_GLOB='@e2@81@a6*'
NFC=$'\xc3\xa9'     # é
NFD=$'e\xcc\x81'    # e and COMBINING ACUTE ACCENT: another name, another file

# Database name -> expected file stem (contract, docs/BEHAVIOUR.md "Names":
# printable UTF-8 kept as it is; controls, bidi formatting characters, '/',
# '@' and a leading '.' as "@hh" per byte).
# shellcheck disable=SC2016 # '$(touch x)' is a database name, not an expansion
declare -A STEM=(
	[shop]=shop
	[d-e-m-o-2]=d-e-m-o-2
	[sl/ash]=sl@2fash
	[..]=@2e.
	[.hidden]=@2ehidden
	["quote'db"]="quote'db"
	['$(touch x)']='$(touch x)'
	[ünï]=ünï
	["a b"]="a b"
	[dot.ted]=dot.ted
	[@at]=@40at
	['☕ coffee']='☕ coffee'
	['back\slash']='back\slash'
	[$LONG_DB]=$LONG_DB
	[$NFC]=$NFC
	[$NFD]=$NFD
	[mysql]=mysql
)
# Databases created by this test, in the order they are loaded.
# shellcheck disable=SC2016 # '$(touch x)' is a database name, not an expansion
USER_DBS=(shop d-e-m-o-2 sl/ash .. .hidden "quote'db" '$(touch x)' ünï "a b" dot.ted @at
	'☕ coffee' 'back\slash' "$LONG_DB" "$NFC" "$NFD" "$CUT_DB")

# Create database $1 with one table `t` of $2 rows: unicode, BLOB with NUL,
# quote and backslash bytes, NULLs.
load_small_db() {
	local db
	db=$(sql_ident "$1")
	mdb_sql <<-SQL
		CREATE DATABASE $db;
		USE $db;
		CREATE TABLE t (
		  id INT PRIMARY KEY,
		  name VARCHAR(100) CHARACTER SET utf8mb4,
		  data BLOB,
		  note TEXT NULL
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
		INSERT INTO t SELECT seq, CONCAT('Grüße ünï 日本語 🙂 ', seq, ' ', $(sql_str "$1")),
		  CONCAT(CHAR(0), CHAR(39), CHAR(92), UNHEX(SHA2(seq, 512))),
		  IF(seq % 7 = 0, NULL, REPEAT(CONCAT('x', CHAR(39), 'y"z', CHAR(10)), seq % 5))
		FROM seq_1_to_$2;
		CREATE TABLE \`odd "tab" le\` (k VARCHAR(20) PRIMARY KEY, v INT NULL) ENGINE=Aria;
		INSERT INTO \`odd "tab" le\` VALUES ('a', 1), ('b', NULL), ('ü', 3);
	SQL
}

load_shop() {
	mdb_sql <<-'SQL'
		CREATE DATABASE shop;
		USE shop;
		CREATE TABLE customers (
		  id INT PRIMARY KEY, name VARCHAR(80), email VARCHAR(120),
		  created DATETIME, balance DECIMAL(12,2) NULL
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
		INSERT INTO customers SELECT seq, CONCAT('Kunde Nr. ', seq, ' Ærø'),
		  CONCAT('c', seq, '@example.org'), '2024-01-01' + INTERVAL seq MINUTE,
		  IF(seq % 11 = 0, NULL, seq * 1.25)
		FROM seq_1_to_100000;
		CREATE TABLE products (
		  id INT PRIMARY KEY, title VARCHAR(200), picture MEDIUMBLOB
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
		INSERT INTO products SELECT seq, CONCAT('Produkt 🙂 ', seq),
		  REPEAT(UNHEX(SHA2(seq, 512)), 32)
		FROM seq_1_to_500;
		CREATE TABLE orders (
		  id INT PRIMARY KEY, customer_id INT, product_id INT, qty INT, note TEXT NULL
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
		INSERT INTO orders SELECT seq, 1 + seq % 100000, 1 + seq % 500, seq % 9,
		  IF(seq % 3 = 0, NULL, 'bitte schnell')
		FROM seq_1_to_20000;
	SQL
}

if ! {
	load_shop
	for db in "${USER_DBS[@]}"; do
		[[ $db = shop ]] || load_small_db "$db" 200
	done
} >"$E2E_T/load.log" 2>&1; then
	echo 'not ok - load test data'
	sed 's/^/#   /' "$E2E_T/load.log"
	exit 1
fi

# Files in folder $1, sorted, one per line.
list_files() {
	find "$1" -mindepth 1 -maxdepth 1 -printf '%f\n' | LC_ALL=C sort
}

# ---- a full backup -------------------------------------------------------

FULL=$E2E_T/full
mkdir -p "$FULL"
write_config "$E2E_T/full.conf" "$FULL"
MARKERS=(/x /tmp/x "$HOME/x")
declare -A MARKER_BEFORE=()
for m in "${MARKERS[@]}"; do
	MARKER_BEFORE[$m]=$([[ -e $m ]] && echo yes || echo no)
done
run_oma -c "$E2E_T/full.conf"
FULL_RC=$OMA_RC
cp "$E2E_ERR" "$E2E_T/full.stderr"
CUR=$(newest_folder "$FULL")

case_full_exit() {
	OMA_RC=$FULL_RC
	if grep -qE 'Sanitizer|runtime error:' "$E2E_T/full.stderr"; then
		head -n 40 "$E2E_T/full.stderr"
		fail "sanitizer report from oma"
	fi
	assert_rc 0 "$CUR/oma.log"
	[[ -n $CUR ]] || fail "no oma_YYYYMMDD-HHMMSS folder in $FULL"
	assert_eq "$(backup_folders "$FULL" | wc -l)" 1 "number of backup folders"
}

case_file_names() {
	[[ -n $CUR ]] || fail "no backup folder"
	local want got f
	want=$(for db in "${!STEM[@]}"; do printf '%s.sql.gz\n' "${STEM[$db]}"; done | LC_ALL=C sort)
	# shellcheck disable=SC2053 # the glob is meant
	got=$(list_files "$CUR" | grep '\.sql\.gz$' | while IFS= read -r f; do
		[[ $f = $CUT_GLOB ]] || printf '%s\n' "$f"
	done)
	if [[ $want != "$got" ]]; then
		diff <(echo "$want") <(echo "$got") || true
		fail "dump files differ from the expected names (< expected, > found)"
	fi
	# The name of 25 escaped characters (226 bytes encoded) is cut between
	# two characters and hashed; one file, a sane length.
	got=$(find "$CUR" -maxdepth 1 -name "$CUT_GLOB.sql.gz" -printf '%f\n')
	[[ $(grep -c . <<<"$got") = 1 ]] || fail "expected one file for the cut name, got: $got"
	[[ $got =~ ^(@e2@81@a6)+@@[0-9a-f]{16}\.sql\.gz$ && ${#got} -le 255 ]] ||
		fail "bad file for the cut name: $got"
	# Besides the log, info.json, result.json and SHA256SUMS: one sidecar
	# per dump (skip_unchanged_dbs or not), with a change reference.
	while IFS= read -r f; do
		case $f in
		oma.log | info.json | result.json | SHA256SUMS | *.sql.gz) ;;
		*.timestamp)
			assert_file "$CUR/${f%.timestamp}.sql.gz"
			assert_grep "$CUR/$f" "file=${f%.timestamp}.sql.gz"
			assert_grep "$CUR/$f" "ref_time="
			;;
		*) fail "unexpected file in the backup folder: $f" ;;
		esac
	done < <(list_files "$CUR")
	assert_eq "$(list_files "$CUR" | grep -c '\.timestamp$')" "$(list_files "$CUR" | grep -c '\.sql\.gz$')" \
		"sidecars"
}

# SHA256SUMS lists every dump and nothing else, and coreutils checks it.
case_sha256sums() {
	[[ -n $CUR ]] || fail "no backup folder"
	assert_file "$CUR/SHA256SUMS"
	local want got line
	want=$(list_files "$CUR" | grep '\.sql\.gz$' | LC_ALL=C sort)
	# A name with a backslash is in sha256sum's escaped form ("\HEX  a\\b").
	got=$(while IFS= read -r line; do
		if [[ $line = \\* ]]; then
			line=${line:67}
			printf '%s\n' "${line//\\\\/\\}"
		else
			printf '%s\n' "${line:66}"
		fi
	done <"$CUR/SHA256SUMS")
	assert_grep "$CUR/SHA256SUMS" '  back\\slash.sql.gz'
	[[ $want = "$got" ]] || {
		diff <(echo "$want") <(echo "$got") || true
		fail "SHA256SUMS names other files than the dumps (< dumps, > SHA256SUMS)"
	}
	(cd "$CUR" && sha256sum --strict --quiet -c SHA256SUMS) >"$E2E_T/sums.out" 2>&1 ||
		fail "sha256sum -c SHA256SUMS failed: $(cat "$E2E_T/sums.out")"
}

case_system_schemas() {
	[[ -n $CUR ]] || fail "no backup folder"
	local s
	for s in information_schema performance_schema sys; do
		assert_no_path "$CUR/$s.sql.gz"
		assert_no_grep "$CUR/oma.log" "DB '$s'"
	done
}

case_no_shell() {
	assert_no_path "$E2E_CWD/x"
	assert_no_path "$E2E_REPO/x"
	local hits m
	hits=$(find "$E2E_T" -name x | head -n 5 || true)
	[[ -z $hits ]] || fail "a file named x appeared: $hits"
	for m in "${MARKERS[@]}"; do
		[[ ${MARKER_BEFORE[$m]} = yes ]] || assert_no_path "$m"
	done
	assert_grep "$CUR/oma.log" "DB '\$(touch x)': Backup successfully"
}

case_dumps_complete() {
	[[ -n $CUR ]] || fail "no backup folder"
	local f n=0
	for f in "$CUR"/*.sql.gz; do
		assert_complete_dump "$f"
		n=$((n + 1))
	done
	[[ $n -eq $((${#STEM[@]} + 1)) ]] || fail "expected $((${#STEM[@]} + 1)) dumps, found $n"
}

case_restore() {
	[[ -n $CUR ]] || fail "no backup folder"
	local db file target n=0 before after
	for db in "${USER_DBS[@]}"; do
		n=$((n + 1))
		if [[ -n ${STEM[$db]:-} ]]; then
			file=$CUR/${STEM[$db]}.sql.gz
		else
			file=$(find "$CUR" -maxdepth 1 -name "$CUT_GLOB.sql.gz" | head -n 1 || true)
		fi
		assert_file "$file"
		target=restored_$n
		mdb_sql -e "DROP DATABASE IF EXISTS $target; CREATE DATABASE $target"
		zcat "$file" | mdb_sql "$target" || fail "restoring $file into $target failed"
		before=$(db_checksums "$db")
		after=$(db_checksums "$target")
		mdb_sql -e "DROP DATABASE $target"
		[[ -n $before ]] || fail "no tables found in $db"
		if [[ $before != "$after" ]]; then
			diff <(echo "$before") <(echo "$after") || true
			fail "CHECKSUM TABLE differs after restoring $db"
		fi
	done
	# The big table really is in the dump.
	[[ $(mdb_sql -N -e 'SELECT COUNT(*) FROM shop.customers') = 100000 ]] || fail "shop.customers lost rows"
}

case_info_json() {
	local info=$CUR/info.json
	assert_file "$info"
	is_json <"$info" || fail "info.json is not valid JSON"
	jq -e '(.mysql_data_dir_bytes_used | type == "number") and
	       (.backup_bytes_used | type == "number") and
	       (.compression_ratio | type == "number") and
	       .backup_bytes_used > 0 and .mysql_data_dir_bytes_used > 0' "$info" >/dev/null ||
		fail "info.json lacks a key or has a wrong value: $(tr -d '\n' <"$info")"
}

case_log_lines() {
	local log=$CUR/oma.log db
	assert_file "$log"
	assert_grep "$log" "Will start 2 parallel mysqldump processes using options ["
	assert_grep "$log" "DB 'd-e-m-o-2': Backup successfully"
	for db in "${USER_DBS[@]}" mysql; do
		assert_grep "$log" "DB '$db': Backup successfully"
	done
}

case_log_clean() {
	local log=$CUR/oma.log
	assert_file "$log"
	assert_log_format "$log"
	assert_no_grep "$log" "Error"
	assert_no_grep "$log" " ERROR "
}

case_links() {
	[[ -L $FULL/last ]] || fail "$FULL/last is not a symlink"
	[[ -L $FULL/last.log ]] || fail "$FULL/last.log is not a symlink"
	assert_eq "$(readlink -f "$FULL/last")" "$(readlink -f "$CUR")" "last"
	assert_eq "$(readlink -f "$FULL/last.log")" "$(readlink -f "$CUR/oma.log")" "last.log"
}

case_no_part() {
	assert_no_part "$FULL"
	assert_no_part "$E2E_CWD"
}

e2e_case "backup of all databases exits 0" case_full_exit
e2e_case "one dump per database, odd names encoded" case_file_names
e2e_case "SHA256SUMS lists every dump, and sha256sum -c passes" case_sha256sums
e2e_case "system schemas are not dumped" case_system_schemas
e2e_case "database names never reach a shell" case_no_shell
e2e_case "every dump is complete gzip with the completion line" case_dumps_complete
e2e_case "restoring each dump reproduces CHECKSUM TABLE" case_restore
e2e_case "info.json has the three keys" case_info_json
e2e_case "log has the parallel and success lines" case_log_lines
e2e_case "successful log is well-formed and has no Error" case_log_clean
e2e_case "last and last.log point to the new folder" case_links
e2e_case "no temporary files remain" case_no_part

# ---- selection ---------------------------------------------------------------

case_exclude() {
	local dir=$E2E_T/exclude cur
	mkdir -p "$dir"
	write_config "$E2E_T/exclude.conf" "$dir" \
		'exclude_databases = ["shop", "sl/ash", "quote'"'"'db", "mysql", "'"$LONG_DB"'", "'"$CUT_DB"'"]'
	run_oma -c "$E2E_T/exclude.conf"
	cur=$(newest_folder "$dir")
	assert_rc 0 "$cur/oma.log"
	for stem in shop sl@2fash "quote'db" mysql "$LONG_DB"; do
		assert_no_path "$cur/$stem.sql.gz"
	done
	[[ -z $(find "$cur" -name "$CUT_GLOB") ]] || fail "excluded cut name was dumped"
	# shellcheck disable=SC2016 # '$(touch x)' is a file name
	for stem in d-e-m-o-2 @2e. '$(touch x)' ünï "a b" dot.ted @40at "$NFC" "$NFD"; do
		assert_complete_dump "$cur/$stem.sql.gz"
	done
}

case_do_databases() {
	local dir=$E2E_T/do cur got
	mkdir -p "$dir"
	write_config "$E2E_T/do.conf" "$dir" \
		'do_databases = ["d-e-m-o-2", "a b", "no_such_db_e2e"]'
	run_oma -c "$E2E_T/do.conf"
	cur=$(newest_folder "$dir")
	assert_rc 0 "$cur/oma.log"
	got=$(list_files "$cur" | grep '\.sql\.gz$' | tr '\n' ' ' || true)
	assert_eq "$got" "a b.sql.gz d-e-m-o-2.sql.gz " "dump files"
	grep -E ' WARNING .*no_such_db_e2e' "$cur/oma.log" >/dev/null ||
		fail "no WARNING naming no_such_db_e2e in the log"
	assert_no_grep "$cur/oma.log" "DB 'no_such_db_e2e': Backup successfully"
}

case_versions() {
	local dir=$E2E_T/versions names=() kept newest
	mkdir -p "$dir"
	write_config "$E2E_T/versions.conf" "$dir" 'versions = 3' 'do_databases = ["d-e-m-o-2"]'
	for _ in 1 2 3 4; do
		run_oma -c "$E2E_T/versions.conf"
		assert_rc 0 "$(newest_folder "$dir")/oma.log"
		names+=("$(basename "$(newest_folder "$dir")")")
	done
	# Four distinct folders were made, the oldest one is gone.
	[[ $(printf '%s\n' "${names[@]}" | sort -u | wc -l) = 4 ]] ||
		fail "runs shared a folder: ${names[*]}"
	kept=$(backup_folders "$dir" | tr '\n' ' ')
	assert_eq "$kept" "${names[1]} ${names[2]} ${names[3]} " "kept folders"
	newest=$dir/${names[3]}
	assert_eq "$(readlink -f "$dir/last")" "$(readlink -f "$newest")" "last"
	assert_eq "$(readlink -f "$dir/last.log")" "$(readlink -f "$newest/oma.log")" "last.log"
	assert_complete_dump "$newest/d-e-m-o-2.sql.gz"
}

case_options() {
	local dir=$E2E_T/options cur rows inserts
	mkdir -p "$dir"
	write_config "$E2E_T/options.conf" "$dir" 'do_databases = ["d-e-m-o-2"]' \
		'mysqldump_options = ["--skip-extended-insert", "--single-transaction"]'
	run_oma -d -c "$E2E_T/options.conf"
	cur=$(newest_folder "$dir")
	assert_rc 0 "$cur/oma.log"
	grep -E 'Will start 2 parallel mysqldump processes using options \[.*--skip-extended-insert.*--single-transaction.*\]' \
		"$cur/oma.log" >/dev/null || fail "options not named in the 'Will start' line"
	grep -q ' DEBUG ' "$cur/oma.log" || fail "-d gave no DEBUG lines"
	# --skip-extended-insert reached mysqldump: one INSERT per row.
	# shellcheck disable=SC2016 # backticks quote an SQL name
	rows=$(mdb_sql -N -e 'SELECT COUNT(*) FROM `d-e-m-o-2`.t')
	# shellcheck disable=SC2016 # backticks quote an SQL name in the dump
	inserts=$(zcat "$cur/d-e-m-o-2.sql.gz" | grep -c '^INSERT INTO `t` ' || true)
	assert_eq "$inserts" "$rows" "INSERT lines for d-e-m-o-2.t"
}

e2e_case "exclude_databases leaves those out" case_exclude
e2e_case "do_databases dumps only those and warns about a missing one" case_do_databases
e2e_case "versions = 3 keeps the 3 newest of 4 runs, last points to the newest" case_versions
e2e_case "mysqldump_options reach mysqldump and the log; -d logs DEBUG" case_options

# ---- command line --------------------------------------------------------

case_check_config() {
	run_oma --check-config -c "$E2E_T/full.conf"
	assert_rc 0
	assert_eq "$(backup_folders "$FULL" | wc -l)" 1 "backup folders after --check-config"
}

case_print_config() {
	local json=$E2E_T/print.json
	run_oma --print-config -c "$E2E_T/exclude.conf"
	assert_rc 0
	cp "$E2E_OUT" "$json"
	is_json <"$json" || fail "--print-config output is not valid JSON: $(head -c 300 "$json")"
	jq -e --arg dir "$E2E_T/exclude" '
	  .main.backup_dir == $dir and .main.parallelism == 2 and .main.versions == 1 and
	  .main.delete_before == false and .main.link_type == "hard" and
	  .main.mysqldump_bin == "mysqldump" and
	  (.main.exclude_databases | type == "array" and length == 6 and .[2] == "quote'"'"'db") and
	  (.conditions | type == "object") and (has("zabbix") | not)' "$json" >/dev/null ||
		fail "--print-config lacks expected values: $(head -c 400 "$json")"
	# A plugin's section is printed with the defaults of the plugin's own
	# table (the core knows none of them).
	{ cat "$E2E_T/exclude.conf"; printf '[zabbix]\nretries = 1\n'; } >"$E2E_T/print-zbx.conf"
	run_oma --print-config -c "$E2E_T/print-zbx.conf"
	assert_rc 0
	jq -e '.zabbix.item_key == "" and .zabbix.transport == "sender" and .zabbix.timeout == 10 and
	  .zabbix.retries == 1 and .zabbix.agent_conf == "/etc/zabbix/zabbix_agentd.conf"' \
		<"$E2E_OUT" >/dev/null || fail "--print-config [zabbix]: $(head -c 600 "$E2E_OUT")"
	# and checked with it
	{ cat "$E2E_T/exclude.conf"; printf '[zabbix]\nretries = 11\n'; } >"$E2E_T/print-zbx.conf"
	run_oma --check-config -c "$E2E_T/print-zbx.conf"
	assert_rc 1
	assert_grep "$E2E_ERR" "[zabbix] retries: must be 0..10, not 11"
}

case_version_help() {
	run_oma -v
	assert_rc 0
	grep -qE '[0-9]+\.[0-9]+' "$E2E_OUT" || fail "-v printed no version: $(head -c 200 "$E2E_OUT")"
	run_oma --version
	assert_rc 0
	run_oma -h
	assert_rc 0
	grep -q -- '--config' "$E2E_OUT" "$E2E_ERR" || fail "-h does not mention --config"
}

e2e_case "--check-config accepts a valid file and touches nothing" case_check_config
e2e_case "--print-config prints the effective configuration as JSON" case_print_config
e2e_case "-v and -h exit 0" case_version_help

e2e_finish
