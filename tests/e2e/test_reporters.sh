#!/usr/bin/env bash
# test_reporters.sh - end-to-end: the syslog and webhook reporters against a real rsyslogd and an HTTP server.
#
# A private rsyslogd (its own config, an imuxsock socket in the temporary
# folder, everything written to a file with facility, severity and tag) and a
# small HTTP server on 127.0.0.1 (python3; it keeps every request and answers
# with the status in a file) receive what oma reports.  Checks: the webhook
# body is byte for byte the run's result.json, failed runs go to the failure
# URL, syslog gets the summary and one error line per failed database, and a
# failing reporter makes the exit code 4 without harming the backup.  The
# system's syslog daemon and journald are never used.
# Cases are called through e2e_case.
# shellcheck disable=SC2317 # the case functions are called through e2e_case
set -euo pipefail

# shellcheck source=tests/lib/e2e.sh
. "$(dirname "$0")/../lib/e2e.sh"

# Requests go straight to 127.0.0.1, whatever proxy the caller uses.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

for tool in rsyslogd python3 jq; do
	if ! command -v "$tool" >/dev/null 2>&1 && [[ ! -x /usr/sbin/$tool ]]; then
		printf 'not ok - setup: %s not found (run scripts/install-deps.sh)\n' "$tool"
		exit 1
	fi
done
RSYSLOGD=$(command -v rsyslogd || echo /usr/sbin/rsyslogd)

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

# mysqldump that fails for the database "two".
FAILDUMP=$E2E_T/fail-two
failing_mysqldump "$FAILDUMP" two 'mysqldump: Got error: 1044: simulated failure'

# ---- a private rsyslogd --------------------------------------------------------

RS_DIR=$E2E_T/rsyslog
RS_SOCK=$RS_DIR/log.sock
RS_OUT=$RS_DIR/messages
mkdir -p "$RS_DIR"
cat >"$RS_DIR/rsyslog.conf" <<-EOF
	global(workDirectory="$RS_DIR")
	module(load="imuxsock" SysSock.Use="off")
	input(type="imuxsock" Socket="$RS_SOCK")
	template(name="oma" type="string"
	         string="%syslogfacility-text%.%syslogseverity-text% %programname%[%procid%]:%msg%\n")
	*.* action(type="omfile" file="$RS_OUT" template="oma")
EOF
"$RSYSLOGD" -n -iNONE -f "$RS_DIR/rsyslog.conf" >"$RS_DIR/rsyslogd.out" 2>&1 &
RS_PID=$!
at_exit "kill $RS_PID 2>/dev/null; wait $RS_PID 2>/dev/null"
for _ in $(seq 100); do
	[[ -S $RS_SOCK ]] && break
	sleep 0.1
done
if [[ ! -S $RS_SOCK ]]; then
	echo 'not ok - setup: rsyslogd did not create its socket'
	sed 's/^/#   /' "$RS_DIR/rsyslogd.out"
	exit 1
fi

# ---- a small HTTP server ---------------------------------------------------------

HTTP_DIR=$E2E_T/http
mkdir -p "$HTTP_DIR/reqs"
echo 200 >"$HTTP_DIR/status"
cat >"$HTTP_DIR/sink.py" <<-'EOF'
	# HTTP sink for oma's end-to-end tests: keeps each request as
	# reqs/NNN.{line,headers,body} (NNN counting from 001 in an emptied
	# reqs/); answers with the status in ./status.
	import glob, http.server, os, sys

	top = sys.argv[1]

	class Sink(http.server.BaseHTTPRequestHandler):
	    protocol_version = "HTTP/1.1"

	    def do_POST(self):
	        count = len(glob.glob(os.path.join(top, "reqs", "*.body"))) + 1
	        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
	        base = os.path.join(top, "reqs", "%03d" % count)
	        with open(base + ".body", "wb") as f:
	            f.write(body)
	        with open(base + ".headers", "w") as f:
	            f.write(str(self.headers))
	        with open(base + ".line", "w") as f:
	            f.write(self.requestline + "\n")
	        with open(os.path.join(top, "status")) as f:
	            status = int(f.read())
	        self.send_response(status)
	        self.send_header("Content-Length", "0")
	        self.send_header("Connection", "close")
	        self.end_headers()

	    def log_message(self, *args):
	        pass

	srv = http.server.HTTPServer(("127.0.0.1", 0), Sink)
	with open(os.path.join(top, "port.tmp"), "w") as f:
	    f.write(str(srv.server_address[1]))
	os.rename(os.path.join(top, "port.tmp"), os.path.join(top, "port"))
	srv.serve_forever()
EOF
python3 "$HTTP_DIR/sink.py" "$HTTP_DIR" >"$HTTP_DIR/sink.out" 2>&1 &
HTTP_PID=$!
at_exit "kill $HTTP_PID 2>/dev/null; wait $HTTP_PID 2>/dev/null"
for _ in $(seq 100); do
	[[ -f $HTTP_DIR/port ]] && break
	sleep 0.1
done
if [[ ! -f $HTTP_DIR/port ]]; then
	echo 'not ok - setup: the HTTP sink did not start'
	sed 's/^/#   /' "$HTTP_DIR/sink.out"
	exit 1
fi
HTTP_URL=http://127.0.0.1:$(cat "$HTTP_DIR/port")

# ---- helpers -----------------------------------------------------------------------

# Write a config for a fresh backup folder: [main] lines before "--", other
# sections after it.  Sets CONF, DIR.
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
	write_config "$CONF" "$DIR" '# all databases' "${main[@]}"
	printf '%s\n' "${rest[@]}" >>"$CONF"
}

# Forget earlier requests and syslog lines; the sink answers with status $1.
reset_receivers() {
	rm -f "$HTTP_DIR"/reqs/*
	echo "${1:-200}" >"$HTTP_DIR/status"
	: >"$RS_OUT"
}

requests() {
	local n=0 f
	for f in "$HTTP_DIR"/reqs/*.body; do
		[[ -e $f ]] && n=$((n + 1))
	done
	echo "$n"
}

# Syslog lines of oma (tag $1) with the pid replaced by PID, into $E2E_T/syslog.
# rsyslogd writes asynchronously: wait (at most 5 s) for at least $2 lines.
syslog_lines() {
	local tag=$1 want=$2 i
	for i in $(seq 50); do
		grep -aF " ${tag}[" "$RS_OUT" | sed -E 's/\[[0-9]+\]:/[PID]:/' >"$E2E_T/syslog" || true
		(($(wc -l <"$E2E_T/syslog") >= want)) && break
		sleep 0.1
	done
	if (($(wc -l <"$E2E_T/syslog") < want)); then
		cat "$RS_OUT"
		fail "rsyslogd got fewer than $want lines from $tag"
	fi
}

# The line $2 (exactly) is in the syslog lines.
assert_syslog() {
	if ! grep -qxF -- "$1" "$E2E_T/syslog"; then
		cat "$E2E_T/syslog"
		fail "syslog line not found: $1"
	fi
}

REPORTERS=("[syslog]" "socket = \"$RS_SOCK\"" 'facility = "local4"' 'ident = "oma-e2e"'
	"[webhook]" "url = \"$HTTP_URL/ping/e2e\"" 'failure_suffix = "/fail"'
	'header = ["Authorization: Bearer e2e-token", "X-Oma-Test: yes"]' 'retry_delay = 0')

# ---- cases -------------------------------------------------------------------------

case_good_run() {
	reset_receivers 200
	conf -- "${REPORTERS[@]}"
	run_oma -c "$CONF"
	local cur summary
	cur=$(newest_folder "$DIR")
	assert_rc 0 "$cur/oma.log"
	assert_file "$cur/result.json"
	assert_eq "$(requests)" 1 "webhook requests"
	assert_eq "$(cat "$HTTP_DIR/reqs/001.line")" "POST /ping/e2e HTTP/1.1" "request line"
	cmp "$cur/result.json" "$HTTP_DIR/reqs/001.body" || fail "webhook body differs from result.json"
	assert_grep "$HTTP_DIR/reqs/001.headers" "Content-Type: application/json"
	assert_grep "$HTTP_DIR/reqs/001.headers" "Authorization: Bearer e2e-token"
	assert_grep "$HTTP_DIR/reqs/001.headers" "X-Oma-Test: yes"
	assert_eq "$(jq -r .outcome "$HTTP_DIR/reqs/001.body")" success "outcome"
	assert_eq "$(jq -r .current_dir "$HTTP_DIR/reqs/001.body")" "$cur" "current_dir"
	summary=$(jq -r .summary "$cur/result.json")
	assert_eq "$summary" "Summary: Successfully dumped 3 of 3 databases. Skipped 0, Failed 0. Error=0" "summary"
	syslog_lines oma-e2e 1
	assert_syslog "local4.info oma-e2e[PID]: $summary"
	assert_eq "$(wc -l <"$E2E_T/syslog")" 1 "syslog lines"
	assert_no_grep "$cur/oma.log" "Reporter"
}

case_failed_dump() {
	reset_receivers 200
	conf "mysqldump_bin = \"$FAILDUMP\"" -- "${REPORTERS[@]}"
	run_oma -c "$CONF"
	local cur summary err
	cur=$(newest_folder "$DIR")
	assert_rc 4 "$cur/oma.log"
	assert_eq "$(requests)" 1 "webhook requests"
	assert_eq "$(cat "$HTTP_DIR/reqs/001.line")" "POST /ping/e2e/fail HTTP/1.1" "request line"
	cmp "$cur/result.json" "$HTTP_DIR/reqs/001.body" || fail "webhook body differs from result.json"
	assert_eq "$(jq -r '.databases[] | select(.name == "two") | .outcome' "$HTTP_DIR/reqs/001.body")" \
		failed "outcome of two"
	summary=$(jq -r .summary "$cur/result.json")
	err=$(jq -r '.databases[] | select(.name == "two") | .error' "$cur/result.json")
	[[ -n $err && $err != null ]] || fail "no error for two in result.json"
	err=${err//$'\n'/ } # control characters become spaces in syslog
	err=${err//$'\t'/ }
	syslog_lines oma-e2e 2
	assert_syslog "local4.err oma-e2e[PID]: $summary"
	assert_syslog "local4.err oma-e2e[PID]: DB 'two': backup failed: $err"
	assert_eq "$(wc -l <"$E2E_T/syslog")" 2 "syslog lines"
}

# The webhook's server fails: exit code 4, the error in the log, and the
# backup is whole: dumps complete, last and last.log point to it.
case_webhook_down() {
	reset_receivers 500
	conf -- "${REPORTERS[@]}" 'retries = 1'
	run_oma -c "$CONF"
	local cur
	cur=$(newest_folder "$DIR")
	assert_rc 4 "$cur/oma.log"
	assert_eq "$(requests)" 2 "webhook requests (1 + 1 retry)"
	assert_grep "$cur/oma.log" "ERROR Reporter 'webhook' failed: webhook: POST $HTTP_URL/ping/e2e failed 2 times, last: HTTP 500"
	assert_grep "$cur/oma.log" "WARNING webhook: POST $HTTP_URL/ping/e2e: attempt 1 of 2 failed: HTTP 500"
	assert_complete_dump "$cur/one.sql.gz"
	assert_complete_dump "$cur/two.sql.gz"
	assert_no_part "$DIR"
	assert_eq "$(readlink -f "$DIR/last")" "$(readlink -f "$cur")" "last"
	assert_eq "$(readlink -f "$DIR/last.log")" "$(readlink -f "$cur/oma.log")" "last.log"
	assert_eq "$(jq -r .outcome "$cur/result.json")" success "outcome in result.json"
	# The other reporter is not affected.
	syslog_lines oma-e2e 1
	assert_syslog "local4.info oma-e2e[PID]: $(jq -r .summary "$cur/result.json")"
}

# No syslog daemon at the configured socket: exit code 4, backup whole.
case_syslog_missing() {
	reset_receivers 200
	conf -- "[syslog]" "socket = \"$E2E_T/no-such.sock\""
	run_oma -c "$CONF"
	local cur
	cur=$(newest_folder "$DIR")
	assert_rc 4 "$cur/oma.log"
	assert_grep "$cur/oma.log" "ERROR Reporter 'syslog' failed: syslog: cannot connect to $E2E_T/no-such.sock: No such file or directory"
	assert_complete_dump "$cur/one.sql.gz"
	assert_eq "$(readlink -f "$DIR/last")" "$(readlink -f "$cur")" "last"
}

# Config with the section lines $2...: a configuration error containing $1
# (@CONF@ in it: the config file's path), and no backup folder.
bad_config() {
	local want=$1
	shift
	conf -- "$@"
	want=${want//@CONF@/$CONF}
	run_oma -c "$CONF"
	assert_rc 1
	assert_grep "$E2E_ERR" "Invalid configuration: "
	assert_grep "$E2E_ERR" "$want"
	[[ -z $(backup_folders "$DIR") ]] || fail "a backup folder was made for a bad config"
	return 0
}

# Bad settings are configuration errors before anything runs.
case_bad_settings() {
	bad_config "[webhook] url: only http:// and https://" "[webhook]" 'url = "ftp://example.org/x"'
	bad_config "[webhook] url: missing" "[webhook]" 'timeout = 5'
	# Types, ranges and choices are checked by the core, from the plugins'
	# tables of keys: the message names the file, line, key and value.
	bad_config "config @CONF@:8: [webhook] timeout: must be 1..110, not -5" "[webhook]" "url = \"$HTTP_URL/\"" 'timeout = -5'
	bad_config "config @CONF@:8: [webhook] retries: must be 0..10, not 99" "[webhook]" "url = \"$HTTP_URL/\"" 'retries = 99'
	bad_config "config @CONF@:7: [webhook] timeout: expected an integer, got a string" "[webhook]" 'timeout = "5"'
	bad_config "config @CONF@:7: [syslog] facility: must be \"user\", \"mail\", \"daemon\", \"auth\", \"authpriv\", \"syslog\", \"lpr\", \"news\", \"uucp\", \"cron\", \"ftp\", \"local0\", \"local1\", \"local2\", \"local3\", \"local4\", \"local5\", \"local6\" or \"local7\", not \"kernel\"" "[syslog]" 'facility = "kernel"'
	bad_config "config @CONF@:7: [syslog] ident: expected a string, got an integer" "[syslog]" 'ident = 5'
	bad_config "[syslog] ident" "[syslog]" 'ident = "two words"'
	run_oma --check-config -c "$CONF"
	assert_rc 1
	assert_grep "$E2E_ERR" "[syslog] ident"
	assert_eq "$(requests)" 0 "webhook requests"
}

# enabled = false switches a reporter off (its settings are not even read).
case_disabled() {
	reset_receivers 200
	conf -- "[webhook]" 'enabled = false' "url = \"$HTTP_URL/ping/off\"" \
		"[syslog]" 'enabled = false' "socket = \"$E2E_T/no-such.sock\""
	run_oma -c "$CONF"
	local cur
	cur=$(newest_folder "$DIR")
	assert_rc 0 "$cur/oma.log"
	assert_eq "$(requests)" 0 "webhook requests"
}

e2e_case "good run: webhook gets result.json byte for byte, syslog the summary (info)" case_good_run
e2e_case "failed dump: webhook at url/fail, syslog summary and the database's error (err)" case_failed_dump
e2e_case "webhook answering 500: retried, exit 4, backup complete, last moved" case_webhook_down
e2e_case "syslog socket missing: exit 4, error logged, backup complete" case_syslog_missing
e2e_case "bad [webhook]/[syslog] settings: configuration error, nothing runs" case_bad_settings
e2e_case "enabled = false: no report" case_disabled

e2e_finish
