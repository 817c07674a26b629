#!/usr/bin/env bash
# test_zabbix_server.sh - end-to-end: the Zabbix reporter delivers to a real Zabbix 6.0 server.
#
# Debian's zabbix-server-mysql runs on the test's private MariaDB (its own
# database, config, port, log and sockets in the temporary folder).  A
# trapper item of type text is created with SQL; each case runs oma with the
# zabbix_sender transport or the native one, then reads the value back from
# history_text and compares it byte for byte with what docs/BEHAVIOUR.md
# ("Zabbix report") says oma sends: the summary line (as in result.json), a
# newline, the log, capped below 65536 bytes with upstream's two-line note.
#
# Needs zabbix-server-mysql and zabbix-agent (zabbix_sender), which
# scripts/install-deps.sh installs.  Outside CI a machine without them skips
# this test; in CI (CI=true) that is a failure.
# shellcheck disable=SC2317 # the case functions are called through e2e_case
set -euo pipefail

# shellcheck source=tests/lib/e2e.sh
. "$(dirname "$0")/../lib/e2e.sh"

ZBX_SERVER_BIN=${ZBX_SERVER_BIN:-/usr/sbin/zabbix_server}
ZBX_SENDER_BIN=${ZBX_SENDER_BIN:-$(command -v zabbix_sender || echo /usr/bin/zabbix_sender)}
ZBX_SQL_DIR=${ZBX_SQL_DIR:-/usr/share/zabbix-server-mysql}
ZBX_START_TIMEOUT=${ZBX_START_TIMEOUT:-90}
ZBX_STOP_TIMEOUT=${ZBX_STOP_TIMEOUT:-30}
ZBX_HOST=oma-e2e-host
ZBX_KEY=oma.e2e
ZBX_ITEMID=50001  # above the ids of data.sql (44517)
ZBX_PID=""
ZBX_CHILDREN=()
ZBX_PORT=""

missing=""
[[ -x $ZBX_SERVER_BIN ]] || missing+=" $ZBX_SERVER_BIN (zabbix-server-mysql)"
[[ -f $ZBX_SQL_DIR/schema.sql.gz ]] || missing+=" $ZBX_SQL_DIR/schema.sql.gz (zabbix-server-mysql)"
[[ -x $ZBX_SENDER_BIN ]] || missing+=" zabbix_sender (zabbix-agent)"
if [[ -n $missing ]]; then
	if [[ ${CI:-} = true ]]; then
		echo "not ok - setup: missing$missing; scripts/install-deps.sh installs it"
		exit 1
	fi
	echo "ok - real Zabbix server # SKIP missing$missing (run scripts/install-deps.sh)"
	exit 0
fi

e2e_setup db

# ---- the Zabbix server --------------------------------------------------------

# Stop the server: SIGTERM, a bounded wait, then SIGKILL for it and the
# children it had when it started.
zbx_stop() {
	local pid=$ZBX_PID c deadline
	[[ -n $pid ]] || return 0
	ZBX_PID=""
	kill -TERM "$pid" 2>/dev/null || true
	deadline=$((SECONDS + ZBX_STOP_TIMEOUT))
	while _mdb_alive "$pid"; do
		if ((SECONDS >= deadline)); then
			printf '# zabbix_server %s did not stop within %ss, killing it\n' "$pid" "$ZBX_STOP_TIMEOUT"
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.2
	done
	wait "$pid" 2>/dev/null || true
	for c in "${ZBX_CHILDREN[@]}"; do
		if _mdb_alive "$c"; then
			kill -KILL "$c" 2>/dev/null || true
		fi
	done
}

# A TCP port on 127.0.0.1 in zabbix_server's range (1024..32767) where
# nothing listens.
free_port() {
	local p i
	for ((i = 0; i < 50; i++)); do
		p=$((20000 + RANDOM % 12000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			printf '%s\n' "$p"
			return 0
		fi
	done
	return 1
}

# Print the setup failure with the server's log and end the script.
setup_fail() {
	printf 'not ok - setup: %s\n' "$1"
	for f in "$E2E_T/zbx/fg.out" "$E2E_T/zbx/server.log" "$E2E_T/zbx/sql.log"; do
		if [[ -f $f ]]; then
			printf '#   --- %s\n' "$f"
			tail -n 25 "$f" | sed 's/^/#   /'
		fi
	done
	exit 1
}

zbx_sql() {
	mdb_sql zabbix "$@"
}

mkdir -p "$E2E_T/zbx"
mdb_sql >"$E2E_T/zbx/sql.log" 2>&1 <<-'SQL' || setup_fail "cannot create the test databases"
	CREATE DATABASE one;
	CREATE TABLE one.t (id INT PRIMARY KEY) ENGINE=InnoDB;
	INSERT INTO one.t VALUES (1), (2);
	CREATE DATABASE two;
	CREATE TABLE two.t (id INT PRIMARY KEY) ENGINE=InnoDB;
	INSERT INTO two.t VALUES (1), (2);
	CREATE DATABASE zabbix CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
SQL
for f in schema images data; do
	zcat "$ZBX_SQL_DIR/$f.sql.gz" | zbx_sql >>"$E2E_T/zbx/sql.log" 2>&1 ||
		setup_fail "loading $ZBX_SQL_DIR/$f.sql.gz failed"
done
zbx_sql >>"$E2E_T/zbx/sql.log" 2>&1 <<-SQL || setup_fail "cannot create the trapper item"
	INSERT INTO hosts (hostid, host, name, status, description)
		VALUES ($ZBX_ITEMID, '$ZBX_HOST', '$ZBX_HOST', 0, '');
	INSERT INTO hosts_groups (hostgroupid, hostid, groupid) VALUES ($ZBX_ITEMID, $ZBX_ITEMID, 2);
	INSERT INTO items (itemid, type, hostid, name, key_, delay, history, trends, status,
		value_type, params, description, posts, headers)
		VALUES ($ZBX_ITEMID, 2, $ZBX_ITEMID, 'oma report', '$ZBX_KEY', '0', '90d', '0', 0,
		4, '', '', '', '');
	INSERT INTO item_rtdata (itemid) VALUES ($ZBX_ITEMID);
SQL

ZBX_PORT=$(free_port) || setup_fail "no free port"
cat >"$E2E_T/zbx/server.conf" <<-EOF
	ListenIP=127.0.0.1
	ListenPort=$ZBX_PORT
	PidFile=$E2E_T/zbx/server.pid
	LogType=file
	LogFile=$E2E_T/zbx/server.log
	SocketDir=$E2E_T/zbx
	TmpDir=$E2E_T/zbx
	DBName=zabbix
	DBUser=$MDB_USER
	DBSocket=$MDB_SOCK
	AllowUnsupportedDBVersions=1
	AllowRoot=1
	CacheUpdateFrequency=1
	HousekeepingFrequency=0
	StartPollers=0
	StartPollersUnreachable=0
	StartPingers=0
	StartDiscoverers=0
	StartHTTPPollers=0
	StartTrappers=2
	StartPreprocessors=1
	StartDBSyncers=1
	StartReportWriters=0
	StartHistoryPollers=0
	StartODBCPollers=0
	Timeout=4
EOF
"$ZBX_SERVER_BIN" -f -c "$E2E_T/zbx/server.conf" </dev/null >"$E2E_T/zbx/fg.out" 2>&1 &
ZBX_PID=$!
at_exit zbx_stop

# The agent configuration zabbix_sender (and the native transport) reads.
AGENT_CONF=$E2E_T/zabbix_agentd.conf
printf '# written by test_zabbix_server.sh\nServerActive=127.0.0.1:%s\nHostname=%s\n' \
	"$ZBX_PORT" "$ZBX_HOST" >"$AGENT_CONF"

# Wait until the server takes values for the item (its configuration cache
# is read every CacheUpdateFrequency seconds).
deadline=$((SECONDS + ZBX_START_TIMEOUT))
until "$ZBX_SENDER_BIN" -z 127.0.0.1 -p "$ZBX_PORT" -s "$ZBX_HOST" -k "$ZBX_KEY" -o probe \
	>"$E2E_T/zbx/probe.out" 2>&1; do
	_mdb_alive "$ZBX_PID" || setup_fail "zabbix_server exited"
	((SECONDS < deadline)) || setup_fail "zabbix_server took no value within ${ZBX_START_TIMEOUT}s: $(tr '\n' ' ' <"$E2E_T/zbx/probe.out")"
	sleep 0.5
done
mapfile -t ZBX_CHILDREN < <(ps -o pid= --ppid "$ZBX_PID" | tr -d ' ')
printf '# zabbix_server %s on 127.0.0.1:%s, %d children\n' "$ZBX_PID" "$ZBX_PORT" "${#ZBX_CHILDREN[@]}"

# ---- helpers --------------------------------------------------------------------

FAILDUMP=$E2E_T/fail-two
cat >"$FAILDUMP" <<-EOF
	#!/bin/sh
	for a in "\$@"; do
	  if [ "\$a" = two ]; then echo "mysqldump: simulated failure" >&2; exit 2; fi
	done
	exec '$MDB_DUMP_BIN' "\$@"
EOF
chmod +x "$FAILDUMP"

# Values stored for the item so far.
value_count() {
	zbx_sql -N -B -e "SELECT COUNT(*) FROM history_text WHERE itemid = $ZBX_ITEMID"
}

# Wait (bounded) until more than $1 values are stored, then write the newest
# to file $2, byte for byte.
fetch_value() {
	local before=$1 out=$2 deadline=$((SECONDS + 30))
	until (($(value_count) > before)); do
		if ((SECONDS >= deadline)); then
			tail -n 5 "$E2E_T/zbx/server.log"
			fail "no new value in history_text within 30 s"
		fi
		sleep 0.3
	done
	zbx_sql -N -B -e "SELECT REPLACE(TO_BASE64(value), '\n', '') FROM history_text
		WHERE itemid = $ZBX_ITEMID ORDER BY clock DESC, ns DESC LIMIT 1" | base64 -d >"$out"
}

# Write to file $3 the value docs/BEHAVIOUR.md ("Zabbix report") says oma
# sends for summary $1 and log file $2: summary, newline, log; when that is
# 65536 bytes or more, the summary, whole log lines while they fit, and the
# two-line note.
expected_value() {
	local summary=$1 log=$2 out=$3 limit=65535 note budget
	local LC_ALL=C
	if ((${#summary} + 1 + $(stat -c %s "$log") <= limit)); then
		{
			printf '%s\n' "$summary"
			cat "$log"
		} >"$out"
		return 0
	fi
	note=$(printf '** Zabbix item values has been truncated because it exceeds 65536 bytes.**\n** Refer to %s on the monitored host to get the full report.**' "$log")
	budget=$((limit - ${#note} - 1 - ${#summary} - 1))
	{
		printf '%s\n' "$summary"
		awk -v budget="$budget" '{ n = length($0) + 1; if (used + n > budget) exit; used += n; print }' "$log"
		printf '%s\n' "$note"
	} >"$out"
}

# Write a config for a fresh backup folder: [main] lines before "--",
# [zabbix] lines after it.  [zabbix] has item_key, sender_bin and agent_conf
# for the test's server unless those lines replace them.  Sets CONF and DIR.
conf() {
	DIR=$(mktemp -d "$E2E_T/backup.XXXXXX")
	CONF=$DIR.conf
	local main=() zbx=() line
	local item="item_key = \"$ZBX_KEY\"" sender="sender_bin = \"$ZBX_SENDER_BIN\""
	local agent="agent_conf = \"$AGENT_CONF\""
	while (($# > 0)) && [[ $1 != -- ]]; do
		main+=("$1")
		shift
	done
	(($# > 0)) && shift
	for line in "$@"; do
		case $line in
		item_key*) item=$line ;;
		sender_bin*) sender=$line ;;
		agent_conf*) agent=$line ;;
		*) zbx+=("$line") ;;
		esac
	done
	write_config "$CONF" "$DIR" 'do_databases = ["one", "two"]' "${main[@]}"
	printf '%s\n' '[zabbix]' "$item" "$sender" "$agent" "${zbx[@]}" >>"$CONF"
}

# Run oma with $CONF; the value the server stored goes to $E2E_T/value.
run_and_fetch() {
	local before
	before=$(value_count)
	run_oma -c "$CONF"
	CUR=$(newest_folder "$DIR")
	fetch_value "$before" "$E2E_T/value"
	SUMMARY=$(jq -r .summary "$DIR/last.result.json")
}

# The stored value's first line is a dump summary with Failed $1 and Error=$2.
assert_summary() {
	local first
	first=$(head -n 1 "$E2E_T/value")
	[[ $first =~ ^Summary:\ Successfully\ dumped\ [0-9]+\ of\ [0-9]+\ databases\.\ Skipped\ [0-9]+,\ Failed\ $1\.\ Error=$2$ ]] ||
		fail "summary line: got '$first', expected Failed $1, Error=$2"
	assert_eq "$first" "$SUMMARY" "summary line (result.json)"
}

# The stored value equals the expected one for log file $1.
assert_value_is() {
	expected_value "$SUMMARY" "$1" "$E2E_T/expected"
	if ! cmp -s "$E2E_T/expected" "$E2E_T/value"; then
		echo "--- expected $(stat -c %s "$E2E_T/expected") bytes, stored $(stat -c %s "$E2E_T/value")"
		diff <(head -c 3000 "$E2E_T/expected") <(head -c 3000 "$E2E_T/value") | head -n 20 || true
		fail "the stored value differs from what oma should send"
	fi
}

# ---- cases ------------------------------------------------------------------------

case_sender_ok() {
	conf
	run_and_fetch
	assert_rc 0 "$CUR/oma.log"
	assert_summary 0 0
	assert_value_is "$CUR/oma.log"
	assert_grep "$E2E_T/value" "DB 'one': Backup successfully"
}

case_native_ok() {
	# no zabbix_sender needed: sender_bin points nowhere
	conf -- 'transport = "native"' 'sender_bin = "/nonexistent/zabbix_sender"'
	run_and_fetch
	assert_rc 0 "$CUR/oma.log"
	assert_summary 0 0
	assert_value_is "$CUR/oma.log"
}

case_failed_dump() {
	conf "mysqldump_bin = \"$FAILDUMP\"" -- "$@"
	run_and_fetch
	assert_rc 4 "$CUR/oma.log"
	assert_summary 1 1
	assert_value_is "$CUR/oma.log"
	assert_grep "$E2E_T/value" "mysqldump: simulated failure"
}

case_failed_dump_native() {
	case_failed_dump 'transport = "native"'
}

# A debug-level run condition prints about 110 KB: the value is cut.
case_truncated() {
	local size kept
	conf 'log_level = "debug"' -- "$@"
	printf '[conditions]\nrun_conditions = ["seq 1 20000"]\n' >>"$CONF"
	run_and_fetch
	assert_rc 0 "$CUR/oma.log"
	(($(stat -c %s "$CUR/oma.log") > 100000)) || fail "the log did not grow past 100 KB"
	size=$(stat -c %s "$E2E_T/value")
	((size < 65536)) || fail "value of $size bytes stored"
	((size > 60000)) || fail "value of only $size bytes: whole lines should be kept while they fit"
	assert_value_is "$CUR/oma.log"
	# and, spelled out: summary, whole lines from the start of the log, the note
	assert_summary 0 0
	assert_eq "$(tail -n 1 "$E2E_T/value")" \
		"** Refer to $CUR/oma.log on the monitored host to get the full report.**" "note"
	tail -n +2 "$E2E_T/value" | head -n -2 >"$E2E_T/kept"
	kept=$(stat -c %s "$E2E_T/kept")
	head -c "$kept" "$CUR/oma.log" | cmp -s - "$E2E_T/kept" || fail "the kept lines are not the start of the log"
	[[ $(tail -c 1 "$E2E_T/kept" | od -An -c | tr -d ' ') = '\n' ]] || fail "a log line was cut"
}

case_truncated_native() {
	case_truncated 'transport = "native"'
}

# A value for an item the server does not know: rejected, reported, exit 4.
case_rejected() {
	local before
	conf -- "$@" 'retries = 0' 'item_key = "no.such.item"'
	before=$(value_count)
	run_oma -c "$CONF"
	CUR=$(newest_folder "$DIR")
	assert_rc 4 "$CUR/oma.log"
	assert_grep "$CUR/oma.log" "Reporter 'zabbix' failed: zabbix:"
	assert_grep "$CUR/oma.log" "rejected by the server (check the item key / host / item type)"
	assert_eq "$(value_count)" "$before" "values stored"
}

case_rejected_native() {
	case_rejected 'transport = "native"'
}

# [zabbix] server_active: an HA pair whose first node is down.
case_native_failover() {
	local dead
	dead=$(free_port)
	conf -- 'transport = "native"' "server_active = \"127.0.0.1:$dead;127.0.0.1:$ZBX_PORT\"" \
		"hostname = \"$ZBX_HOST\"" "agent_conf = \"$E2E_T/no-such-agent.conf\""
	run_and_fetch
	assert_rc 0 "$CUR/oma.log"
	assert_value_is "$CUR/oma.log"
}

e2e_case "sender transport: the real zabbix_sender delivers summary + log" case_sender_ok
e2e_case "native transport: delivers the same without zabbix_sender" case_native_ok
e2e_case "sender transport: a failed dump arrives with Error=1" case_failed_dump
e2e_case "native transport: a failed dump arrives with Error=1" case_failed_dump_native
e2e_case "sender transport: a log over 64 KiB arrives truncated at a line, with the note" case_truncated
e2e_case "native transport: a log over 64 KiB arrives truncated at a line, with the note" case_truncated_native
e2e_case "sender transport: a value for an unknown item is rejected -> exit 4" case_rejected
e2e_case "native transport: a value for an unknown item is rejected -> exit 4" case_rejected_native
e2e_case "native transport: HA failover to the second node, overrides from [zabbix]" case_native_failover

e2e_finish
