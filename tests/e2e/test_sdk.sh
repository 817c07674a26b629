#!/usr/bin/env bash
# test_sdk.sh - end-to-end: the plugin SDK (make install, pkg-config, examples/report-example) with a real run.
#
# Installs oma with DESTDIR=<tmp> PREFIX=/usr, copies examples/report-example
# out of the repository and builds it with PKG_CONFIG_PATH pointing at the
# installed oma-plugin.pc and PKG_CONFIG_SYSROOT_DIR=<tmp>, so -I and
# plugindir point into the DESTDIR (the installed header, not the
# repository's).  `make install` of the example puts report-example.so beside the
# installed plugins; the installed oma then runs against a private MariaDB
# with OMA_PLUGIN_DIR set to that folder.  Cases are called through e2e_case.
# shellcheck disable=SC2317 # the case functions are called through e2e_case
set -euo pipefail

# shellcheck source=tests/lib/e2e.sh
. "$(dirname "$0")/../lib/e2e.sh"

e2e_setup db

if ! mdb_sql >"$E2E_T/load.log" 2>&1 <<-'SQL'; then
	CREATE DATABASE one;
	CREATE TABLE one.t (id INT PRIMARY KEY) ENGINE=InnoDB;
	INSERT INTO one.t VALUES (1), (2);
SQL
	echo 'not ok - load test data'
	sed 's/^/#   /' "$E2E_T/load.log"
	exit 1
fi

DEST=$E2E_T/dest
INSTALLED=$DEST/usr/bin/oma
PLUGINS=$DEST/usr/lib/oma/plugins
PCDIR=$DEST/usr/lib/pkgconfig
SRC=$E2E_T/src/report-example
# Every database is selected, so the summary reads "N of N".
SUMMARY_RE='Summary: Successfully dumped ([0-9]+) of \1 databases\. Skipped 0, Failed 0\. Error=0'

# make arguments that select the build this test runs against.
MAKE_ARGS=()
case $OMA_BUILD in
build) ;;
build-san) MAKE_ARGS+=(SAN=1) ;;
*) MAKE_ARGS+=("BUILD=$OMA_BUILD") ;;
esac

# Run make in the repository, isolated from a calling make's flags.
run_make() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$E2E_REPO" "${MAKE_ARGS[@]}" "$@"
}

# Run make in the out-of-tree copy of the example, against the installed SDK.
run_example_make() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u CFLAGS -u CPATH -u C_INCLUDE_PATH \
		PKG_CONFIG_PATH="$PCDIR" PKG_CONFIG_SYSROOT_DIR="$DEST" make -C "$SRC" "$@"
}

# Run the installed oma (HOME, cwd and locale as run_oma) with the installed
# plugin folder.
run_installed() {
	OMA_RC=0
	(cd "$E2E_CWD" && exec env HOME="$E2E_HOME" LC_ALL=C LANG=C OMA_PLUGIN_DIR="$PLUGINS" \
		"$INSTALLED" "$@") >"$E2E_OUT" 2>"$E2E_ERR" || OMA_RC=$?
	if grep -qE 'Sanitizer|runtime error:' "$E2E_ERR"; then
		head -n 40 "$E2E_ERR"
		fail "sanitizer report from the installed oma $*"
	fi
}

# Write a config for a fresh backup folder (every database), with the given
# extra lines after [main].  Sets CONF and DIR.
conf() {
	DIR=$(mktemp -d "$E2E_T/backup.XXXXXX")
	CONF=$DIR.conf
	write_config "$CONF" "$DIR" 'compression = "gzip"' "$@"
}

case_install_sdk() {
	run_make install DESTDIR="$DEST" PREFIX=/usr >"$E2E_T/install.log" 2>&1 || {
		cat "$E2E_T/install.log"
		fail "make install DESTDIR=$DEST PREFIX=/usr failed"
	}
	assert_file "$DEST/usr/include/oma/plugin.h"
	assert_file "$PCDIR/oma-plugin.pc"
	assert_grep "$PCDIR/oma-plugin.pc" 'prefix=/usr'
	assert_no_grep "$PCDIR/oma-plugin.pc" '@'
	local got
	got=$(PKG_CONFIG_PATH=$PCDIR PKG_CONFIG_SYSROOT_DIR=$DEST pkg-config --cflags oma-plugin)
	assert_eq "${got%% }" "-I$DEST/usr/include" "pkg-config --cflags (sysroot)"
	got=$(PKG_CONFIG_PATH=$PCDIR pkg-config --variable=includedir oma-plugin)
	assert_eq "$got" "/usr/include" "pkg-config includedir"
	got=$(PKG_CONFIG_PATH=$PCDIR pkg-config --variable=plugindir oma-plugin)
	assert_eq "$got" "/usr/lib/oma/plugins" "pkg-config plugindir"
	got=$(PKG_CONFIG_PATH=$PCDIR pkg-config --modversion oma-plugin)
	assert_eq "$got" "$("$INSTALLED" -v)" "pkg-config --modversion vs oma -v"
}

case_build_example() {
	mkdir -p "$(dirname "$SRC")"
	cp -R "$E2E_REPO/examples/report-example" "$SRC"
	rm -f "$SRC/report-example.so"
	run_example_make >"$E2E_T/example-build.log" 2>&1 || {
		cat "$E2E_T/example-build.log"
		fail "building the example against the installed SDK failed"
	}
	assert_grep "$E2E_T/example-build.log" "-I$DEST/usr/include"
	assert_no_grep "$E2E_T/example-build.log" "$E2E_REPO/include"
	assert_file "$SRC/report-example.so"
	if command -v nm >/dev/null 2>&1; then
		local syms
		syms=$(nm -D --defined-only "$SRC/report-example.so" | awk '$2 != "A" && $3 !~ /^_/ {print $3}')
		assert_eq "$syms" "oma_plugin_descriptor" "exported symbols of report-example.so"
	fi
	run_example_make install >"$E2E_T/example-install.log" 2>&1 || {
		cat "$E2E_T/example-install.log"
		fail "make install of the example failed"
	}
	assert_file "$PLUGINS/report-example.so"
	assert_file "$PLUGINS/compress-gzip.so"
	# DESTDIR is honoured too (plain pkg-config, no sysroot).
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL PKG_CONFIG_PATH="$PCDIR" \
		make -s -C "$SRC" install DESTDIR="$E2E_T/stage" >/dev/null
	assert_file "$E2E_T/stage/usr/lib/oma/plugins/report-example.so"
}

case_example_reports() {
	local out=$E2E_T/summary.txt cur
	rm -f "$out"
	conf '' '[example]' "file = \"$out\""
	run_installed -c "$CONF"
	cur=$(newest_folder "$DIR")
	assert_rc 0 "$cur/oma.log"
	assert_complete_dump "$cur/one.sql.gz"
	assert_file "$out"
	[[ $(wc -l <"$out") -eq 1 ]] || fail "expected one line in $out, got: $(cat "$out")"
	grep -qE "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z $SUMMARY_RE\$" "$out" ||
		fail "unexpected line in $out: $(cat "$out")"
	# The same summary as result.json.
	assert_grep "$cur/result.json" "\"summary\": \"$(cut -d ' ' -f 2- "$out")\""
	# One line per run.
	run_installed -c "$CONF"
	assert_rc 0
	[[ $(wc -l <"$out") -eq 2 ]] || fail "expected two lines after two runs, got: $(cat "$out")"
}

case_example_without_section() {
	local out=$E2E_T/not-called.txt cur
	rm -f "$out"
	# The file key sits in another section: [example] itself is absent.
	conf '' '[elsewhere]' "file = \"$out\""
	run_installed -d -c "$CONF"
	cur=$(newest_folder "$DIR")
	assert_rc 0 "$cur/oma.log"
	assert_no_path "$out"
	assert_no_grep "$cur/oma.log" "Reporter 'example'"
	assert_no_grep "$cur/oma.log" "example: summary appended"
}

case_example_disabled() {
	local out=$E2E_T/disabled.txt cur
	rm -f "$out"
	conf '' '[example]' 'enabled = false' "file = \"$out\""
	run_installed -d -c "$CONF"
	cur=$(newest_folder "$DIR")
	assert_rc 0 "$cur/oma.log"
	assert_no_path "$out"
	assert_no_grep "$cur/oma.log" "Reporter 'example'"
}

case_example_failure_exit_4() {
	local cur
	# A folder is not a file it can append to.
	mkdir -p "$E2E_T/a-folder"
	conf '' '[example]' "file = \"$E2E_T/a-folder\""
	run_installed -c "$CONF"
	cur=$(newest_folder "$DIR")
	assert_rc 4 "$cur/oma.log"
	assert_grep "$cur/oma.log" "ERROR Reporter 'example' failed: cannot open $E2E_T/a-folder:"
	# The backup itself is intact.
	assert_complete_dump "$cur/one.sql.gz"
}

case_example_init_fails() {
	conf '' '[example]'
	run_installed -c "$CONF"
	assert_rc 1
	assert_grep "$E2E_ERR" "init of 'example' failed: [example] file is not set"
	[[ -z $(backup_folders "$DIR") ]] || fail "a backup folder was created although init failed"
}

# The example's table of keys: the installed core checks [example] with it
# and prints it.
case_example_table() {
	local out=$E2E_T/table.txt
	conf '' '[example]' 'file = 1'
	run_installed -c "$CONF"
	assert_rc 1
	assert_grep "$E2E_ERR" "Invalid configuration: config $CONF:8: [example] file: expected a string, got an integer"
	[[ -z $(backup_folders "$DIR") ]] || fail "a backup folder was created for a bad config"
	conf '' '[example]' "file = \"$out\"" 'fiel = "typo"'
	run_installed --check-config -c "$CONF"
	assert_rc 0
	assert_grep "$E2E_ERR" "warning: config $CONF:9: unknown key 'fiel' in [example], ignored"
	run_installed --print-config -c "$CONF"
	assert_rc 0
	assert_grep "$E2E_OUT" "\"example\":{\"file\":\"$out\"}"
}

case_uninstall() {
	run_example_make uninstall >/dev/null 2>&1 || fail "make uninstall of the example failed"
	assert_no_path "$PLUGINS/report-example.so"
	run_make uninstall DESTDIR="$DEST" PREFIX=/usr >"$E2E_T/uninstall.log" 2>&1 || {
		cat "$E2E_T/uninstall.log"
		fail "make uninstall failed"
	}
	assert_no_path "$PCDIR/oma-plugin.pc"
	assert_no_path "$DEST/usr/include/oma/plugin.h"
}

e2e_case "make install DESTDIR=... PREFIX=/usr installs plugin.h and oma-plugin.pc" case_install_sdk
e2e_case "examples/report-example builds out of tree with pkg-config and installs into plugindir" case_build_example
e2e_case "[example] file = ...: one summary line per run" case_example_reports
e2e_case "without an [example] section the example is not called" case_example_without_section
e2e_case "[example] enabled = false: not called" case_example_disabled
e2e_case "a failing reporter is logged and makes exit code 4, backup intact" case_example_failure_exit_4
e2e_case "[example] without file: init fails, exit 1, nothing created" case_example_init_fails
e2e_case "[example] is checked and printed with the example's table of keys" case_example_table
e2e_case "make uninstall removes oma-plugin.pc; the example's uninstall its .so" case_uninstall

e2e_finish
