#!/usr/bin/env bash
# test_conditions.sh - end-to-end: skip/run/terminate conditions and the Zabbix report.
#
# Conditions are /bin/sh command strings; the Zabbix reporter is pointed at a
# fake zabbix_sender that records its arguments, so the exact value oma sends
# (summary line, then the log, capped at 65536 bytes) can be checked.
# Cases are called through e2e_case.
# shellcheck disable=SC2317 # the case functions are called through e2e_case
set -euo pipefail

# shellcheck source=tests/lib/e2e.sh
. "$(dirname "$0")/../lib/e2e.sh"

e2e_setup db

if ! mdb_sql >"$E2E_T/load.log" 2>&1 <<-'SQL'; then
	CREATE DATABASE one;
	CREATE TABLE one.t (id INT PRIMARY KEY) ENGINE=InnoDB;
	INSERT INTO one.t VALUES (1), (2);
	CREATE DATABASE two;
	CREATE TABLE two.t (id INT PRIMARY KEY) ENGINE=InnoDB;
	INSERT INTO two.t VALUES (1), (2);
SQL
	echo 'not ok - load test data'
	sed 's/^/#   /' "$E2E_T/load.log"
	exit 1
fi

# Every database is selected (one, two and mysql), so the summary's total is 3
# whether it counts the selected or all non-system databases.
DBS='# all databases'
SENDER=$E2E_T/zabbix_sender
SENT=$E2E_T/sent
cat >"$SENDER" <<-EOF
	#!/bin/sh
	# fake zabbix_sender: keep the arguments (NUL separated) of the last call
	printf '%s\0' "\$@" >'$SENT'
	echo call >>'$SENT.calls'
	echo 'Response from "127.0.0.1:10051": "processed: 1; failed: 0; total: 1; seconds spent: 0.000050"'
	echo 'sent: 1; skipped: 0; total: 1; seconds spent: 0.000300'
EOF
chmod +x "$SENDER"
FAILDUMP=$E2E_T/fail-two
failing_mysqldump "$FAILDUMP" two 'mysqldump: simulated failure'

# Write a config for a fresh backup folder: [main] with $DBS and the lines
# given before "--", then the lines after it (other sections).  Sets CONF, DIR.
conf() {
	DIR=$(mktemp -d "$E2E_T/backup.XXXXXX")
	CONF=$DIR.conf
	local main=() rest=()
	while (($# > 0)) && [[ $1 != -- ]]; do
		main+=("$1")
		shift
	done
	(($# > 0)) && shift
	rest=("$@")
	write_config "$CONF" "$DIR" "$DBS" "${main[@]}"
	printf '%s\n' "${rest[@]}" >>"$CONF"
}

# TOML basic string for $1.
toml_str() {
	local s=${1//\\/\\\\}
	printf '"%s"' "${s//\"/\\\"}"
}

# The value the fake sender got with -o, into $E2E_T/value; checks -c and -k.
sent_value() {
	local args=() i
	[[ -f $SENT ]] || fail "zabbix_sender was not called"
	mapfile -d '' args <"$SENT"
	VALUE_KEY="" VALUE_CONF=""
	: >"$E2E_T/value"
	for ((i = 0; i < ${#args[@]}; i++)); do
		case ${args[i]} in
		-o) printf '%s' "${args[i + 1]:-}" >"$E2E_T/value" ;;
		-k) VALUE_KEY=${args[i + 1]:-} ;;
		-c) VALUE_CONF=${args[i + 1]:-} ;;
		esac
	done
	assert_eq "$VALUE_KEY" "oma.e2e" "zabbix_sender -k"
	assert_eq "$VALUE_CONF" "$E2E_T/zabbix_agentd.conf" "zabbix_sender -c"
}

ZABBIX=("[zabbix]" 'item_key = "oma.e2e"' "sender_bin = \"$SENDER\"" "agent_conf = \"$E2E_T/zabbix_agentd.conf\"")

# ---- skip conditions ---------------------------------------------------------

case_skip() {
	conf 'log_level = "debug"' -- '[conditions]' 'skip_conditions = ["exit 1", "true"]' "$@"
	run_oma -c "$CONF"
	assert_rc 0 "$DIR/last.log"
	[[ -z $(backup_folders "$DIR") ]] || fail "a skipped run left a backup folder"
	[[ -f $DIR/last.log && ! -L $DIR/last.log ]] || fail "last.log is not a plain file"
	assert_grep "$DIR/last.log" "Backup skipped due to skip conditions (but considered successful)"
}

case_no_skip() {
	conf -- '[conditions]' 'skip_conditions = ["exit 1", "false"]'
	run_oma -c "$CONF"
	local cur
	cur=$(newest_folder "$DIR")
	assert_rc 0 "$cur/oma.log"
	assert_complete_dump "$cur/one.sql.gz"
	assert_no_grep "$cur/oma.log" "Backup skipped"
}

# ---- run conditions ----------------------------------------------------------

case_run_fail() {
	conf -- '[conditions]' 'run_conditions = ["true", "echo bad thing >&2; exit 3"]' "$@"
	run_oma -c "$CONF"
	assert_rc 1 "$DIR/last.log"
	[[ -z $(backup_folders "$DIR") ]] || fail "an aborted run left a backup folder"
	[[ -f $DIR/last.log && ! -L $DIR/last.log ]] || fail "last.log is not a plain file"
	assert_grep "$DIR/last.log" "Run condition failed: 'echo bad thing >&2; exit 3' (exit code: 3)"
	assert_grep "$DIR/last.log" "Run condition stderr: bad thing"
	assert_grep "$DIR/last.log" "Backup aborted due to failed run conditions"
}

case_run_pass() {
	conf 'log_level = "debug"' -- '[conditions]' 'run_conditions = ["echo hello", "true"]'
	run_oma -c "$CONF"
	local cur
	cur=$(newest_folder "$DIR")
	assert_rc 0 "$cur/oma.log"
	assert_grep "$cur/oma.log" "Run condition passed: 'true' (exit code: 0)"
	assert_grep "$cur/oma.log" "Run condition stdout: hello"
	assert_grep "$cur/oma.log" "All run conditions met"
	assert_complete_dump "$cur/two.sql.gz"
}

case_run_timeout() {
	local pidfile=$E2E_T/timeout.pid cmd pid deadline state
	cmd="sleep 60 & echo \$! > $pidfile; wait"
	conf -- '[conditions]' "run_conditions = [$(toml_str "$cmd")]" 'run_conditions_timeout = 1'
	run_oma -c "$CONF"
	assert_rc 1 "$DIR/last.log"
	assert_grep "$DIR/last.log" "Command timed out after 1 seconds: '$cmd'"
	assert_grep "$DIR/last.log" "Run condition stderr: Command timed out after 1 seconds"
	assert_file "$pidfile"
	pid=$(cat "$pidfile")
	# The condition's child must be gone too (a zombie waiting for init counts as gone).
	deadline=$((SECONDS + 5))
	while kill -0 "$pid" 2>/dev/null; do
		state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)
		[[ $state = Z || -z $state ]] && break
		if ((SECONDS >= deadline)); then
			kill "$pid" 2>/dev/null || true
			fail "the condition's child (sleep 60, pid $pid) outlived the timeout"
		fi
		sleep 0.1
	done
}

# ---- terminate conditions --------------------------------------------------------

case_terminate_fail() {
	local seen=$E2E_T/current-dir after=$E2E_T/after-failure cur
	rm -f "$seen" "$after"
	conf -- '[conditions]' \
		"terminate_conditions = [$(toml_str "printf %s \"\$OMA_CURRENT_DIR\" > $seen"), \"exit 5\", $(toml_str "touch $after")]" \
		"$@"
	run_oma -c "$CONF"
	cur=$(newest_folder "$DIR")
	assert_rc 4 "$cur/oma.log"
	assert_file "$seen"
	assert_eq "$(cat "$seen")" "$cur" "OMA_CURRENT_DIR"
	assert_file "$after"
	assert_grep "$cur/oma.log" "Terminate condition failed: 'exit 5' (exit code: 5)"
	assert_grep "$cur/oma.log" "One or more terminate conditions failed"
	assert_complete_dump "$cur/one.sql.gz"
}

case_terminate_ok() {
	# shellcheck disable=SC2016 # $OMA_CURRENT_DIR is for the condition's shell
	conf -- '[conditions]' 'terminate_conditions = ["true", "test -d \"$OMA_CURRENT_DIR\""]'
	run_oma -c "$CONF"
	local cur
	cur=$(newest_folder "$DIR")
	assert_rc 0 "$cur/oma.log"
	assert_grep "$cur/oma.log" "All terminate conditions succeeded"
}

e2e_case "skip condition passing: exit 0, no folder, last.log a plain file" case_skip
e2e_case "skip conditions all failing: the backup runs" case_no_skip
e2e_case "run condition failing: exit 1, logged, no folder" case_run_fail
e2e_case "run conditions passing: logged at debug, backup runs" case_run_pass
e2e_case "run condition timeout kills the whole process group" case_run_timeout
e2e_case "terminate conditions: all run, OMA_CURRENT_DIR set, one failing -> exit 4" case_terminate_fail
e2e_case "terminate conditions all succeeding" case_terminate_ok

# ---- Zabbix report -------------------------------------------------------------------

# The same condition cases, reported to Zabbix: first line of the value.
case_zabbix_skip() {
	rm -f "$SENT"
	case_skip "${ZABBIX[@]}"
	sent_value
	assert_eq "$(head -n 1 "$E2E_T/value")" \
		"Summary: Successfully skipped all databases due to skip_conditions. Error=0" "summary"
	tail -n +2 "$E2E_T/value" >"$E2E_T/value-log"
	assert_grep "$E2E_T/value-log" "Backup skipped due to skip conditions (but considered successful)"
}

case_zabbix_run_fail() {
	rm -f "$SENT"
	case_run_fail "${ZABBIX[@]}"
	sent_value
	assert_eq "$(head -n 1 "$E2E_T/value")" \
		"Summary: All databases were skipped due to faulty run_conditions. Error=1" "summary"
}

case_zabbix_terminate_fail() {
	rm -f "$SENT"
	case_terminate_fail "${ZABBIX[@]}"
	sent_value
	assert_eq "$(head -n 1 "$E2E_T/value")" \
		"Summary: Successfully dumped 3 of 3 databases. Skipped 0, Failed 0. Error=1" "summary"
}

case_zabbix_ok() {
	local cur
	rm -f "$SENT" "$SENT.calls"
	conf -- "${ZABBIX[@]}"
	run_oma -c "$CONF"
	cur=$(newest_folder "$DIR")
	assert_rc 0 "$cur/oma.log"
	sent_value
	assert_eq "$(grep -c . "$SENT.calls")" 1 "zabbix_sender calls"
	assert_eq "$(head -n 1 "$E2E_T/value")" \
		"Summary: Successfully dumped 3 of 3 databases. Skipped 0, Failed 0. Error=0" "summary"
	# Then the whole log as it was when the report was sent.
	tail -n +2 "$E2E_T/value" >"$E2E_T/value-log"
	assert_log_is_prefix "$E2E_T/value-log" "$cur/oma.log"
	assert_grep "$E2E_T/value-log" "DB 'one': Backup successfully"
	assert_grep "$E2E_T/value-log" "DB 'two': Backup successfully"
}

case_zabbix_failed_dump() {
	local cur
	rm -f "$SENT"
	conf "mysqldump_bin = \"$FAILDUMP\"" -- "${ZABBIX[@]}"
	run_oma -c "$CONF"
	cur=$(newest_folder "$DIR")
	assert_rc 4 "$cur/oma.log"
	sent_value
	assert_eq "$(head -n 1 "$E2E_T/value")" \
		"Summary: Successfully dumped 2 of 3 databases. Skipped 0, Failed 1. Error=1" "summary"
}

case_zabbix_truncated() {
	local cur size note
	rm -f "$SENT"
	# A failing skip condition whose 4000 stderr lines (about 100 KB) go to the log.
	conf -- '[conditions]' 'skip_conditions = ["seq 1 4000 | sed \"s/^/filler line for the zabbix cap /\" >&2; exit 1"]' \
		"${ZABBIX[@]}"
	run_oma -c "$CONF"
	cur=$(newest_folder "$DIR")
	assert_rc 0 "$cur/oma.log"
	(($(stat -c %s "$cur/oma.log") > 70000)) || fail "the log did not grow past the cap ($(stat -c %s "$cur/oma.log") bytes)"
	sent_value
	size=$(stat -c %s "$E2E_T/value")
	((size <= 65536)) || fail "value of $size bytes exceeds 65536"
	((size > 60000)) || fail "value of only $size bytes: whole lines should be kept while they fit"
	assert_eq "$(head -n 1 "$E2E_T/value")" \
		"Summary: Successfully dumped 3 of 3 databases. Skipped 0, Failed 0. Error=0" "summary"
	note=$(tail -n 2 "$E2E_T/value")
	grep -qi 'truncat' <<<"$note" || fail "no truncation note at the end: $note"
	grep -q '\.log' <<<"$note" || fail "the truncation note names no log file: $note"
	# Everything between the summary and the note is whole lines of the log.
	tail -n +2 "$E2E_T/value" | head -n -2 >"$E2E_T/value-log"
	assert_log_is_prefix "$E2E_T/value-log" "$cur/oma.log"
	[[ $(tail -c 1 "$E2E_T/value-log" | od -An -c | tr -d ' ') = '\n' ]] || fail "a log line was cut in the middle"
}

# The text in file $1 is the start of the log $2.
assert_log_is_prefix() {
	local n
	n=$(stat -c %s "$1")
	((n > 0)) || fail "no log in the value"
	if ! head -c "$n" "$2" | cmp -s - "$1"; then
		diff <(head -c "$n" "$2") "$1" | head -n 10 || true
		fail "the value's log is not the start of $2"
	fi
}

e2e_case "Zabbix: summary line then the log, sent once" case_zabbix_ok
e2e_case "Zabbix: skipped run -> skip summary, Error=0" case_zabbix_skip
e2e_case "Zabbix: failed run condition -> run_conditions summary, Error=1" case_zabbix_run_fail
e2e_case "Zabbix: failed terminate condition -> Error=1" case_zabbix_terminate_fail
e2e_case "Zabbix: a failed dump gives Failed 1, Error=1" case_zabbix_failed_dump
e2e_case "Zabbix: value capped at 65536 bytes with a note naming the log" case_zabbix_truncated

e2e_finish
