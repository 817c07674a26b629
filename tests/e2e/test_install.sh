#!/usr/bin/env bash
# test_install.sh - end-to-end: `make install` into a DESTDIR, and the installed oma at work.
#
# Installs with DESTDIR=<tmp> PREFIX=/usr and runs <tmp>/usr/bin/oma with
# OMA_PLUGIN_DIR pointing at the installed plugins.  The built-in lookup of
# an installed binary (PREFIX/bin/oma -> PREFIX/lib/oma/plugins) cannot be
# tested under a DESTDIR without a chroot, so it is not checked here
# (check_loader checks it on a copy of a binary; tests/pkg/test_deb.sh with
# the Debian package's /usr/bin/oma).
# Cases are called through e2e_case.
# shellcheck disable=SC2317 # the case functions are called through e2e_case
set -euo pipefail

# shellcheck source=tests/lib/e2e.sh
. "$(dirname "$0")/../lib/e2e.sh"

e2e_setup db

DEST=$E2E_T/dest
INSTALLED=$DEST/usr/bin/oma
PLUGINS=$DEST/usr/lib/oma/plugins

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

# Run the installed oma (HOME, cwd and locale as run_oma; OMA_PLUGIN_DIR=$1).
run_installed() {
	local plugdir=$1
	shift
	OMA_RC=0
	(cd "$E2E_CWD" && exec env HOME="$E2E_HOME" LC_ALL=C LANG=C OMA_PLUGIN_DIR="$plugdir" \
		"$INSTALLED" "$@") >"$E2E_OUT" 2>"$E2E_ERR" || OMA_RC=$?
	if grep -qE 'Sanitizer|runtime error:' "$E2E_ERR"; then
		head -n 40 "$E2E_ERR"
		fail "sanitizer report from the installed oma $*"
	fi
}

case_install() {
	run_make install DESTDIR="$DEST" PREFIX=/usr >"$E2E_T/install.log" 2>&1 || {
		cat "$E2E_T/install.log"
		fail "make install DESTDIR=$DEST PREFIX=/usr failed"
	}
	[[ -x $INSTALLED ]] || fail "no executable $INSTALLED"
	assert_file "$PLUGINS/compress-gzip.so"
	assert_file "$DEST/usr/include/oma/plugin.h"
	assert_file "$DEST/etc/oma/oma.conf.example"
	assert_file "$DEST/usr/share/man/man8/oma.8"
	assert_file "$DEST/usr/share/man/man5/oma.conf.5"
	assert_file "$DEST/usr/share/man/man7/oma-plugin.7"
	assert_file "$DEST/usr/lib/systemd/system/oma.service"
	assert_file "$DEST/usr/lib/systemd/system/oma.timer"
	# Made for this layout: the page names the plugin folder, the unit
	# runs the installed binary.
	assert_grep "$DEST/usr/share/man/man8/oma.8" '.I /usr/lib/oma/plugins'
	assert_grep "$DEST/usr/lib/systemd/system/oma.service" 'ExecStart=/usr/bin/oma -c /etc/oma/oma.conf'
}

case_installed_version() {
	run_installed "$PLUGINS" -v
	assert_rc 0
	grep -qE '[0-9]+\.[0-9]+' "$E2E_OUT" || fail "-v printed no version"
}

case_installed_backup() {
	local dir=$E2E_T/backup cur
	mkdir -p "$dir"
	write_config "$E2E_T/inst.conf" "$dir" 'compression = "gzip"'
	run_installed "$PLUGINS" -c "$E2E_T/inst.conf"
	cur=$(newest_folder "$dir")
	assert_rc 0 "$cur/oma.log"
	assert_complete_dump "$cur/mysql.sql.gz"
}

case_plugin_dir_honoured() {
	local dir=$E2E_T/backup-noplug
	mkdir -p "$dir"
	write_config "$E2E_T/noplug.conf" "$dir" 'compression = "gzip"'
	mkdir -p "$E2E_T/no-plugins-here"
	run_installed "$E2E_T/no-plugins-here" -c "$E2E_T/noplug.conf"
	assert_rc 1
	assert_grep "$E2E_ERR" "gzip"
	[[ -z $(backup_folders "$dir") ]] || fail "a backup folder was created without a compressor"
}

case_example_config() {
	local example=$DEST/etc/oma/oma.conf.example conf=$E2E_T/example.conf
	assert_file "$example"
	grep -qE '^backup_dir[[:space:]]*=' "$example" || fail "the example sets no backup_dir"
	sed -E "s|^backup_dir[[:space:]]*=.*|backup_dir = \"$E2E_T\"|" "$example" >"$conf"
	run_installed "$PLUGINS" --check-config -c "$conf"
	assert_rc 0
}

case_uninstall() {
	run_make uninstall DESTDIR="$DEST" PREFIX=/usr >"$E2E_T/uninstall.log" 2>&1 || {
		cat "$E2E_T/uninstall.log"
		fail "make uninstall failed"
	}
	assert_no_path "$INSTALLED"
	assert_no_path "$PLUGINS/compress-gzip.so"
	assert_no_path "$DEST/usr/include/oma/plugin.h"
	assert_no_path "$DEST/usr/share/man/man8/oma.8"
	assert_no_path "$DEST/usr/lib/systemd/system/oma.timer"
}

e2e_case "make install DESTDIR=... PREFIX=/usr installs binary, plugins, header, example, man pages, units" case_install
e2e_case "installed oma -v" case_installed_version
e2e_case "installed oma backs up with OMA_PLUGIN_DIR=<DESTDIR>/usr/lib/oma/plugins" case_installed_backup
e2e_case "OMA_PLUGIN_DIR without the compressor: exit 1, nothing created" case_plugin_dir_honoured
e2e_case "the installed oma.conf.example passes --check-config" case_example_config
e2e_case "make uninstall removes what install put there" case_uninstall

e2e_finish
