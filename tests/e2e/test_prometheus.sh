#!/usr/bin/env bash
# test_prometheus.sh - end-to-end: the prometheus reporter's file against a private MariaDB, promtool and node_exporter.
#
# oma backs up a private MariaDB with [prometheus] path in a textfile
# folder.  Checks: every file passes `promtool check metrics` (Debian's
# prometheus; the test fails without it), a good run's file carries the
# run's values (exit code, database counts, each database's bytes equal to
# its dump file's size, their sum), a failed dump and a dead server show the
# failure and keep the earlier success time stamp, node_exporter's textfile
# collector serves the file without error, a full disk fails the report
# (exit 4) and leaves the old file whole, and bad settings are configuration
# errors.
# Cases are called through e2e_case.
# shellcheck disable=SC2317 # the case functions are called through e2e_case
set -euo pipefail

# shellcheck source=tests/lib/e2e.sh
. "$(dirname "$0")/../lib/e2e.sh"

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

e2e_need_tools promtool prometheus-node-exporter curl jq

e2e_setup db

ODD='q"b\s ü' # a database name with a quote, a backslash, a space, non-ASCII
ODD_LABEL='q\"b\\s ü'
e2e_load <<-SQL
	CREATE DATABASE one;
	CREATE TABLE one.t (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB;
	INSERT INTO one.t SELECT seq, REPEAT('x', 100) FROM one.seq_1_to_2000;
	CREATE DATABASE two;
	CREATE TABLE two.t (id INT PRIMARY KEY) ENGINE=InnoDB;
	INSERT INTO two.t VALUES (1), (2);
	CREATE DATABASE \`$ODD\`;
	CREATE TABLE \`$ODD\`.t (id INT PRIMARY KEY) ENGINE=InnoDB;
	INSERT INTO \`$ODD\`.t VALUES (1);
SQL

# mysqldump that fails for the database "two".
FAILDUMP=$E2E_T/fail-two
failing_mysqldump "$FAILDUMP" two 'mysqldump: Got error: 1044: simulated failure'

# A small file system for the full-disk case, mounted here (at_exit must
# not be called inside a case).
FULL=$E2E_T/full
mkdir -p "$FULL"
if mount -t tmpfs -o size=256k tmpfs "$FULL" 2>>"$E2E_T/mount.err"; then
	at_exit "umount $(printf '%q' "$FULL") 2>/dev/null || umount -l $(printf '%q' "$FULL") 2>/dev/null"
fi

# ---- helpers -----------------------------------------------------------------------

# A config for a fresh backup folder and textfile folder: [main] lines
# before "--", lines of [prometheus] after it.  Sets CONF, DIR, TF, PROM.
conf() {
	DIR=$(mktemp -d "$E2E_T/backup.XXXXXX")
	TF=$DIR.textfile
	PROM=$TF/oma.prom
	mkdir -p "$TF"
	CONF=$DIR.conf
	local main=()
	while (($# > 0)) && [[ $1 != -- ]]; do
		main+=("$1")
		shift
	done
	(($# > 0)) && shift
	write_config "$CONF" "$DIR" "do_databases = [\"one\", \"two\", '$ODD']" "${main[@]}"
	{
		echo '[prometheus]'
		printf 'path = "%s"\n' "$PROM"
		printf '%s\n' "$@"
	} >>"$CONF"
}

# The value of the sample $2 (name and labels exactly as written) in file $1.
sample() {
	local v
	# (through the environment: awk -v would take backslash escapes)
	v=$(S=$2 awk 'index($0, ENVIRON["S"] " ") == 1 { print substr($0, length(ENVIRON["S"]) + 2); exit }' "$1")
	[[ -n $v ]] || {
		cat "$1"
		fail "no sample $2 in $1"
	}
	printf '%s\n' "$v"
}

# promtool parses and lints file $1 clean: exit 0, nothing printed.
assert_promtool() {
	local out rc=0
	out=$(promtool check metrics <"$1" 2>&1) || rc=$?
	[[ $rc = 0 && -z $out ]] || fail "promtool check metrics $1: exit $rc: $out"
}

# a <= b (+ c) for decimal numbers $1, $2 (and $4).
assert_le() {
	awk -v a="$1" -v b="$2" -v c="${4:-0}" 'BEGIN { exit !(a + 0 <= b + c) }' || fail "${3:-value}: $1 > $2"
}

# The folder $1 holds only oma.prom, of mode 0644.
assert_only_prom() {
	assert_eq "$(ls -A "$1")" oma.prom "files in $1"
	assert_eq "$(stat -c %a "$1/oma.prom")" 644 "mode of $1/oma.prom"
}

# Run oma on $CONF; sets BEFORE and AFTER (Unix time around the run).
run_timed() {
	BEFORE=$(date +%s.%N)
	run_oma -c "$CONF"
	AFTER=$(date +%s.%N)
}

# A good run: its file carries the run's values.  Sets CUR and SUCCESS.
good_run() {
	run_timed
	CUR=$(newest_folder "$DIR")
	assert_rc 0 "$CUR/oma.log"
	assert_file "$PROM"
	assert_promtool "$PROM"
	assert_only_prom "$TF"
	local start end sum=0 f bytes
	assert_eq "$(sample "$PROM" oma_last_run_exit_code)" 0 "exit code"
	assert_eq "$(sample "$PROM" 'oma_last_run_outcome{outcome="success"}')" 1 "success"
	assert_eq "$(sample "$PROM" 'oma_last_run_outcome{outcome="failed"}')" 0 "failed"
	assert_eq "$(sample "$PROM" 'oma_last_run_databases{outcome="dumped"}')" 3 "dumped"
	assert_eq "$(sample "$PROM" 'oma_last_run_databases{outcome="failed"}')" 0 "failed dbs"
	start=$(sample "$PROM" oma_last_run_start_timestamp_seconds)
	end=$(sample "$PROM" oma_last_run_end_timestamp_seconds)
	assert_le "${BEFORE:0:14}" "$start" "run started before oma did"
	assert_le "$start" "$end" "start and end"
	assert_le "$end" "$AFTER" "run ended after oma did" 0.001 # the file rounds to ms
	SUCCESS=$(sample "$PROM" oma_last_success_timestamp_seconds)
	assert_eq "$SUCCESS" "$end" "last success of a good run"
	for db in one two; do
		bytes=$(stat -c %s "$CUR/$db.sql.gz")
		assert_eq "$(sample "$PROM" "oma_database_dump_bytes{database=\"$db\"}")" "$bytes" "bytes of $db"
		assert_eq "$(sample "$PROM" "oma_database_outcome{database=\"$db\",outcome=\"dumped\"}")" 1 "outcome of $db"
	done
	assert_eq "$(sample "$PROM" "oma_database_outcome{database=\"$ODD_LABEL\",outcome=\"dumped\"}")" 1 "outcome of $ODD"
	for f in "$CUR"/*.sql.gz; do
		sum=$((sum + $(stat -c %s "$f")))
	done
	assert_eq "$(sample "$PROM" oma_last_run_written_bytes)" "$sum" "bytes written"
	assert_eq "$(sample "$PROM" oma_last_run_dump_bytes)" "$sum" "bytes of the dumps"
	# mysql, not in do_databases, is there as skipped
	assert_eq "$(sample "$PROM" 'oma_last_run_databases{outcome="skipped"}')" 1 "skipped dbs"
	assert_eq "$(sample "$PROM" 'oma_database_outcome{database="mysql",outcome="skipped"}')" 1 "mysql skipped"
	assert_eq "$(sample "$PROM" 'oma_database_dump_bytes{database="mysql"}')" 0 "bytes of mysql"
	assert_eq "$(grep -c '^oma_database_dump_bytes{' "$PROM")" 4 "databases with bytes"
	assert_eq "$(jq -r .exit_code "$CUR/result.json")" 0 "result.json"
}

# ---- cases -------------------------------------------------------------------------

case_good_run() {
	conf
	good_run
	# The odd name's bytes are its file's: the rest of the sum.
	local odd
	odd=$(sample "$PROM" "oma_database_dump_bytes{database=\"$ODD_LABEL\"}")
	assert_eq "$((odd + $(stat -c %s "$CUR/one.sql.gz") + $(stat -c %s "$CUR/two.sql.gz")))" \
		"$(sample "$PROM" oma_last_run_written_bytes)" "bytes of $ODD"
	assert_no_grep "$CUR/oma.log" "Reporter"
	assert_no_grep "$CUR/oma.log" "WARNING"
}

# A good run, then one where "two" fails: the failure shows, the success
# time stamp stays; then a good run moves it on.
case_failed_dump() {
	conf
	good_run
	local first=$SUCCESS
	sed -i "s|^parallelism = 2|mysqldump_bin = \"$FAILDUMP\"\nparallelism = 2|" "$CONF"
	run_timed
	CUR=$(newest_folder "$DIR")
	assert_rc 4 "$CUR/oma.log"
	assert_promtool "$PROM"
	assert_only_prom "$TF"
	assert_eq "$(sample "$PROM" oma_last_run_exit_code)" 4 "exit code"
	assert_eq "$(sample "$PROM" 'oma_last_run_outcome{outcome="failed"}')" 1 "failed"
	assert_eq "$(sample "$PROM" 'oma_last_run_outcome{outcome="success"}')" 0 "success"
	assert_eq "$(sample "$PROM" 'oma_last_run_databases{outcome="failed"}')" 1 "failed dbs"
	assert_eq "$(sample "$PROM" 'oma_last_run_databases{outcome="dumped"}')" 2 "dumped dbs"
	assert_eq "$(sample "$PROM" 'oma_database_outcome{database="two",outcome="failed"}')" 1 "two failed"
	assert_eq "$(sample "$PROM" 'oma_database_dump_bytes{database="two"}')" 0 "bytes of two"
	assert_eq "$(sample "$PROM" oma_last_success_timestamp_seconds)" "$first" "last success kept"
	assert_le "$first" "$(sample "$PROM" oma_last_run_start_timestamp_seconds)" "a later run"
	assert_no_grep "$CUR/oma.log" "Reporter 'prometheus'"
	sed -i "/^mysqldump_bin = /d" "$CONF"
	good_run
	assert_le "$first" "$SUCCESS" "last success moved on"
	[[ $SUCCESS != "$first" ]] || fail "last success did not move on"
}

# The server cannot be reached: outcome failed, no databases, the earlier
# success kept.
case_dead_server() {
	conf
	good_run
	local first=$SUCCESS home=$E2E_HOME
	E2E_HOME=$E2E_T/home-dead
	mkdir -p "$E2E_HOME"
	write_mycnf "$E2E_HOME" "$E2E_T/no-such-socket"
	run_timed
	E2E_HOME=$home
	assert_rc 4
	assert_promtool "$PROM"
	assert_only_prom "$TF"
	assert_eq "$(sample "$PROM" oma_last_run_exit_code)" 4 "exit code"
	assert_eq "$(sample "$PROM" 'oma_last_run_outcome{outcome="failed"}')" 1 "failed"
	assert_eq "$(sample "$PROM" 'oma_last_run_databases{outcome="dumped"}')" 0 "dumped dbs"
	assert_eq "$(sample "$PROM" oma_last_success_timestamp_seconds)" "$first" "last success kept"
	assert_eq "$(grep -c '^oma_database_' "$PROM" || true)" 0 "database series"
}

# node_exporter's textfile collector serves the file: no scrape error,
# our series with the file's values.
case_node_exporter() {
	conf
	good_run
	local port=$((E2E_LOCK_PORT + 1)) pid scrape i
	prometheus-node-exporter --collector.disable-defaults --collector.textfile \
		--collector.textfile.directory="$TF" --web.listen-address="127.0.0.1:$port" \
		>"$E2E_T/node-exporter.log" 2>&1 &
	pid=$!
	scrape=$E2E_T/scrape
	for i in $(seq 100); do
		curl -sf "http://127.0.0.1:$port/metrics" >"$scrape" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	[[ -s $scrape ]] || {
		cat "$E2E_T/node-exporter.log"
		fail "node_exporter on port $port served nothing (after $i tries)"
	}
	assert_eq "$(sample "$scrape" node_textfile_scrape_error)" 0 "textfile scrape error"
	assert_eq "$(sample "$scrape" oma_last_run_exit_code)" 0 "exit code via node_exporter"
	assert_eq "$(sample "$scrape" 'oma_last_run_databases{outcome="dumped"}')" 3 "dumped via node_exporter"
	assert_grep "$scrape" "oma_database_dump_bytes{database=\"$ODD_LABEL\"}"
	assert_grep "$scrape" '# TYPE oma_last_success_timestamp_seconds gauge'
}

# The textfile folder's disk is full: the report fails (exit 4, logged),
# the backup is whole, the old file stays as it was, no temporary file.
case_disk_full() {
	mountpoint -q "$FULL" || fail "cannot mount a tmpfs at $FULL: $(head -n 1 "$E2E_T/mount.err")"
	conf
	sed -i "s|^path = .*|path = \"$FULL/oma.prom\"|" "$CONF"
	PROM=$FULL/oma.prom
	TF=$FULL
	good_run
	cp "$PROM" "$E2E_T/before.prom"
	dd if=/dev/zero of="$FULL/filler" bs=4k 2>/dev/null || true
	run_oma -c "$CONF"
	CUR=$(newest_folder "$DIR")
	rm -f "$FULL/filler"
	assert_rc 4 "$CUR/oma.log"
	assert_grep "$CUR/oma.log" "ERROR Reporter 'prometheus' failed: prometheus: cannot write $FULL/.oma.prom."
	assert_grep "$CUR/oma.log" ": No space left on device"
	cmp "$PROM" "$E2E_T/before.prom" || fail "the old file changed"
	assert_only_prom "$FULL"
	assert_complete_dump "$CUR/one.sql.gz"
	assert_eq "$(jq -r .exit_code "$CUR/result.json")" 4 "exit code in result.json"
	assert_last "$DIR" "$CUR"
	rm -f "$PROM"
}

# Bad settings: a configuration error naming [prometheus] path, before
# anything runs.
case_bad_settings() {
	local want
	for want in "relative/oma.prom|[prometheus] path: 'relative/oma.prom' is not an absolute path" \
		"$E2E_T/none/oma.prom|[prometheus] path: the folder $E2E_T/none: No such file or directory" \
		"$E2E_T/oma.txt|[prometheus] path: '$E2E_T/oma.txt': the file's name must end in .prom"; do
		conf
		sed -i "s|^path = .*|path = \"${want%%|*}\"|" "$CONF"
		run_config_error run "$CONF"
		assert_grep "$E2E_ERR" "Invalid configuration: "
		assert_grep "$E2E_ERR" "${want#*|}"
		[[ -z $(backup_folders "$DIR") ]] || fail "a backup folder was made for a bad config"
		run_config_error check "$CONF"
		assert_grep "$E2E_ERR" "${want#*|}"
	done
	conf -- 'labels = ["database=x"]'
	run_config_error check "$CONF"
	assert_grep "$E2E_ERR" "[prometheus] labels #1: label name 'database' is reserved"
	conf
	sed -i 's|^path = .*|path = 5|' "$CONF"
	run_config_error check "$CONF"
	assert_grep "$E2E_ERR" "[prometheus] path: expected a string, got an integer"
	# With labels set, --print-config shows both keys.
	conf -- 'labels = ["server=db1"]'
	run_oma --print-config -c "$CONF"
	assert_rc 0
	assert_eq "$(jq -c .prometheus "$E2E_OUT")" "{\"path\":\"$PROM\",\"labels\":[\"server=db1\"]}" "print-config"
}

e2e_case "good run: promtool accepts the file; exit code, counts, each database's bytes = its dump file's" case_good_run
e2e_case "failed dump: outcome failed, exit code 4, the database failed, the earlier success kept" case_failed_dump
e2e_case "dead server: outcome failed, no databases, the earlier success kept" case_dead_server
e2e_case "node_exporter's textfile collector serves the file without error" case_node_exporter
e2e_case "full disk under the textfile folder: exit 4, logged, old file whole, no temporary file" case_disk_full
e2e_case "bad [prometheus] settings: configuration error, nothing runs" case_bad_settings

e2e_finish
