#!/usr/bin/env bash
# test_progress.sh - end-to-end: a live status line on a terminal during the dumps, and nothing of it in oma.log, cron mail or a pipe.
#
# Runs oma under script(1) (a pseudo-terminal) against a private MariaDB:
# the terminal shows "oma: N/M databases, ... written, .../s, dumping NAME"
# while a dump runs (a mysqldump stand-in waits until the line names its
# database: an event, not a time), and the line is cleared at the end.  The
# same run without a terminal (a pipe, as cron) and with TERM=dumb writes
# no status line; oma.log never has one.
# Cases are called through e2e_case.
# shellcheck disable=SC2317 # the case functions are called through e2e_case
set -euo pipefail

# shellcheck source=tests/lib/e2e.sh
. "$(dirname "$0")/../lib/e2e.sh"

if ! command -v script >/dev/null 2>&1; then
	echo "not ok - setup: script(1) not found (package bsdutils)"
	exit 1
fi

e2e_setup db

e2e_load <<-'SQL'
	CREATE DATABASE alpha;
	CREATE TABLE alpha.t (id INT PRIMARY KEY, v VARCHAR(40)) ENGINE=InnoDB;
	INSERT INTO alpha.t SELECT seq, CONCAT('row ', seq) FROM alpha.seq_1_to_5000;
	CREATE DATABASE beta;
	CREATE TABLE beta.t (id INT PRIMARY KEY) ENGINE=InnoDB;
	INSERT INTO beta.t VALUES (1), (2);
SQL

TS=$E2E_T/typescript
# mysqldump stand-in: before dumping alpha, wait (at most 30 s) until the
# terminal's status line names it.
WRAP=$E2E_T/waiting-mysqldump
cat >"$WRAP" <<-WRAPPER
	#!/bin/sh
	for a in "\$@"; do
	  if [ "\$a" = alpha ] && [ -n "\${OMA_TEST_TS:-}" ]; then
	    i=0
	    while [ \$i -lt 300 ] && ! grep -aq 'dumping alpha' "\$OMA_TEST_TS" 2>/dev/null; do
	      sleep 0.1; i=\$((i + 1))
	    done
	  fi
	done
	exec '$MDB_DUMP_BIN' "\$@"
WRAPPER
chmod +x "$WRAP"
BDIR=$E2E_T/backups
mkdir -p "$BDIR"
write_config "$E2E_T/oma.conf" "$BDIR" 'do_databases = ["alpha", "beta"]' \
	"mysqldump_bin = \"$WRAP\""

# Run oma on a pseudo-terminal (TERM $1); the terminal's bytes in $TS.
run_on_tty() {
	local term=$1 cmd
	: >"$TS"
	printf -v cmd '%q ' env HOME="$E2E_HOME" TERM="$term" OMA_TEST_TS="$TS" "$OMA_BIN" -c "$E2E_T/oma.conf"
	OMA_RC=0
	(cd "$E2E_CWD" && script -qfec "$cmd" "$TS") >/dev/null 2>&1 </dev/null || OMA_RC=$?
}

case_status_line() {
	run_on_tty xterm
	assert_rc 0
	grep -aqE 'oma: [0-9]+/2 databases, [0-9.]+ [KMGT]?i?B written, [0-9.]+ [KMGT]?i?B/s, dumping alpha' "$TS" ||
		fail "no status line naming alpha on the terminal: $(tr '\r\033' '|~' <"$TS" | head -c 600)"
	# The line is cleared before oma exits: after the last status the
	# erase sequence comes (script(1) may add a line of its own after).
	local text after
	text=$(cat "$TS")
	after=${text##*databases, }
	[[ $after == *$'\r\033[K'* ]] ||
		fail "the status line is not cleared at the end: $(tr '\r\033' '|~' <<<"$after" | head -c 300)"
	local cur
	cur=$(newest_folder "$BDIR")
	assert_no_grep "$cur/oma.log" 'databases, '
	assert_no_grep "$cur/oma.log" $'\r'
	assert_grep "$cur/oma.log" "DB 'alpha': Backup successfully"
}

case_no_tty() {
	sleep 1.1
	run_oma -c "$E2E_T/oma.conf"
	assert_rc 0
	assert_no_grep "$E2E_ERR" 'databases, '
	assert_eq "$(wc -c <"$E2E_OUT")" 0 "bytes on stdout"
}

case_dumb_terminal() {
	sleep 1.1
	run_on_tty dumb
	assert_rc 0
	if grep -aq 'databases, ' "$TS"; then
		fail "a status line with TERM=dumb"
	fi
}

e2e_case "on a terminal: a status line naming the database being dumped, cleared at the end" case_status_line
e2e_case "without a terminal (cron, a pipe): no status line" case_no_tty
e2e_case "TERM=dumb: no status line" case_dumb_terminal

e2e_finish
