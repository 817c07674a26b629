#!/usr/bin/env bash
# test_deb.sh - the Debian packages on this machine: build, lintian, apt-get install, a real backup with /usr/bin/oma, the SDK, purge.
#
# Builds oma and oma-dev with scripts/build-deb.sh (build/deb/), runs
# lintian on them (no error, no warning; every override says why), installs
# them into this machine's root with `apt-get install ./oma_*.deb
# ./oma-dev_*.deb`, and checks what an admin relies on: oma -v, man -w for
# the three pages, systemd-analyze verify of the units (shipped, not
# enabled), the shipped /etc/oma/oma.conf valid as it is, /var/backups/mysql
# made with mode 0700, one real backup of a private MariaDB by the
# installed /usr/bin/oma with the installed plugins (no plugin folder
# configured), the example reporter of oma-dev built with pkg-config
# against the installed header and loaded by oma, a changed oma.conf kept
# when the package is installed again.  Then `apt-get purge` removes
# everything but the backups: /var/backups/mysql and its content stay.
#
# It installs into the real root, so it needs root and refuses to start
# (a failure, not a skip) when oma, oma-dev, /usr/bin/oma, /etc/oma or
# /var/backups/mysql are already there.  At exit, also after a failure, it
# purges what it installed (and any package apt-get brought in with it),
# removes the backup folder it made and leaves the list of installed
# packages as it found it.  Prints "ok - ..." per case and "N passed, M
# failed"; exits 1 when a case failed.  `make deb-check` and .ci/run run it.
# shellcheck disable=SC2317 # the case functions are called through e2e_case
set -euo pipefail

# The installed binary, and no plugin folder from the environment: the
# package's own default must find the plugins.
export OMA_BUILD=/usr/bin
unset OMA_PLUGIN_DIR
export DEBIAN_FRONTEND=noninteractive

# shellcheck source=tests/lib/e2e.sh
. "$(dirname "$0")/../lib/e2e.sh"

REPO=$E2E_REPO
DEB_DIR=${DEB_OUT:-$REPO/build/deb}
BACKUPS=/var/backups/mysql
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo unknown)
PLUGINDIR=/usr/lib/$MA/oma/plugins
VERSION=$(sed -n 's/^VERSION := //p' "$REPO/Makefile")
# What the cases (each in a subshell) did to the machine, for
# restore_machine: the package list from before, and the marks "installed"
# (apt-get install ran) and "made-backups" (/var/backups/mysql was not there
# before); made after e2e_setup.
STATE=""
EXAMPLE_SO=$PLUGINDIR/report-example.so

# Print the summary line and exit as e2e_finish does.
finish() {
	printf '%d passed, %d failed\n' "$E2E_PASSED" "$E2E_FAILED"
	e2e_finish
}

# Run case $2 as $1; when it fails, nothing after it can be tested: stop.
must() {
	local failed=$E2E_FAILED
	e2e_case "$1" "$2"
	if ((E2E_FAILED > failed)); then
		echo "# stopping: the cases after this one need it"
		finish
	fi
}

# Installed packages, one "name version" a line, sorted.
package_list() {
	dpkg-query -W -f='${db:Status-Abbrev} ${binary:Package} ${Version}\n' |
		awk '$1 ~ /^.i/ { print $2, $3 }' | LC_ALL=C sort
}

# Undo what this script did to the machine; runs at exit, whatever happened.
restore_machine() {
	set +e
	rm -f -- "$EXAMPLE_SO"
	if [[ -e $STATE/installed ]]; then
		apt-get purge -y -q oma-dev oma >/dev/null 2>&1
		# Packages apt-get brought in as dependencies of ours.
		local extra
		extra=$(LC_ALL=C comm -13 <(cut -d' ' -f1 "$STATE/before") <(package_list | cut -d' ' -f1))
		if [[ -n $extra ]]; then
			echo "# purging what apt-get installed with oma: $extra"
			# shellcheck disable=SC2086 # one package name per word
			apt-get purge -y -q $extra >/dev/null 2>&1
		fi
	fi
	if [[ -e $STATE/made-backups ]]; then
		rm -rf -- "$BACKUPS"
	fi
	rm -rf -- "$STATE"
}

e2e_setup db installed
STATE=$(mktemp -d /tmp/oma-test-deb.XXXXXX)
at_exit restore_machine

if ! mdb_sql >"$E2E_T/load.log" 2>&1 <<-'SQL'; then
	CREATE DATABASE shop;
	CREATE TABLE shop.orders (id INT PRIMARY KEY, item VARCHAR(40)) ENGINE=InnoDB;
	INSERT INTO shop.orders VALUES (1, 'tea'), (2, 'pot');
SQL
	echo 'not ok - load test data'
	sed 's/^/#   /' "$E2E_T/load.log"
	E2E_FAILED=1
	finish
fi

case_preconditions() {
	[[ $(id -u) = 0 ]] || fail "needs root: it installs the packages into this machine's root"
	local tool
	for tool in apt-get dpkg-query dpkg-architecture dpkg-buildpackage dh lintian man \
		systemd-analyze pkg-config cc make; do
		command -v "$tool" >/dev/null 2>&1 ||
			fail "$tool not found (scripts/install-deps.sh installs what this test needs)"
	done
	[[ $MA != unknown ]] || fail "dpkg-architecture gives no DEB_HOST_MULTIARCH"
	local pkg status
	for pkg in oma oma-dev; do
		status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
		[[ -z $status || $status = un* ]] ||
			fail "the package $pkg is already on this machine ($status): purge it first"
	done
	local path
	for path in /usr/bin/oma /etc/oma "$BACKUPS" /usr/lib/oma "$PLUGINDIR"; do
		[[ ! -e $path ]] || fail "$path already exists: this test installs into the real root"
	done
}

case_build() {
	DEB_OUT=$DEB_DIR "$REPO/scripts/build-deb.sh" >"$E2E_T/build.out" 2>&1 || {
		cat "$E2E_T/build.out"
		fail "scripts/build-deb.sh failed"
	}
	assert_file "$DEB_DIR/oma_${VERSION}_$(dpkg --print-architecture).deb"
	assert_file "$DEB_DIR/oma-dev_${VERSION}_$(dpkg --print-architecture).deb"
	local changelog
	changelog=$(dpkg-parsechangelog -l "$REPO/debian/changelog" -S Version)
	assert_eq "$changelog" "$VERSION" "debian/changelog's version vs the Makefile's VERSION"
}

# Every Build-Depends of debian/control (debhelper-compat is debhelper's)
# is a package scripts/install-deps.sh installs.
case_build_depends() {
	local deps dep missing=""
	deps=$(sed -n '/^Build-Depends:/,/^$/p' "$REPO/debian/control" |
		sed -e 's/^Build-Depends://' -e 's/([^)]*)//g' -e 's/<[^>]*>//g' | tr ',' '\n' |
		awk 'NF { print $1 }')
	[[ -n $deps ]] || fail "no Build-Depends found in debian/control"
	for dep in $deps; do
		[[ $dep = debhelper-compat ]] && dep=debhelper
		grep -qE "^[[:space:]]+$dep([[:space:]]|\$)" "$REPO/scripts/install-deps.sh" ||
			missing="$missing $dep"
	done
	[[ -z $missing ]] || fail "Build-Depends not in scripts/install-deps.sh:$missing"
}

case_lintian() {
	local rc=0
	# (--show-overrides would make lintian 2.116 exit 2 with --fail-on.)
	lintian --fail-on error,warning --pedantic --info \
		"$DEB_DIR"/oma_*.deb "$DEB_DIR"/oma-dev_*.deb >"$E2E_T/lintian.out" 2>&1 || rc=$?
	sed 's/^/lintian: /' "$E2E_T/lintian.out" | grep -v 'running with root privileges' || true
	((rc == 0)) || fail "lintian exit $rc"
	if grep -E '^[EW]: ' "$E2E_T/lintian.out"; then
		fail "lintian reports errors or warnings"
	fi
	# Every override says why: a comment right above each of its lines.
	local f line prev
	for f in "$REPO"/debian/*lintian-overrides; do
		[[ -e $f ]] || continue
		prev=""
		while IFS= read -r line; do
			if [[ -n $line && $line != \#* && $prev != \#* ]]; then
				fail "$f: override '$line' has no comment saying why"
			fi
			prev=$line
		done <"$f"
	done
}

case_install() {
	package_list >"$STATE/before"
	: >"$STATE/installed"
	: >"$STATE/made-backups" # the preconditions saw no $BACKUPS
	(cd "$DEB_DIR" && apt-get install -y -q ./oma_*.deb ./oma-dev_*.deb) >"$E2E_T/install.out" 2>&1 || {
		tail -n 30 "$E2E_T/install.out"
		fail "apt-get install ./oma_*.deb ./oma-dev_*.deb failed"
	}
	assert_eq "$(dpkg-query -W -f='${db:Status-Abbrev}' oma)" "ii " "dpkg status of oma"
	assert_eq "$(dpkg-query -W -f='${db:Status-Abbrev}' oma-dev)" "ii " "dpkg status of oma-dev"
	assert_eq "$(command -v oma)" /usr/bin/oma "oma in PATH"
	dpkg-query -W -f='${Conffiles}\n' oma | grep -q '^ /etc/oma/oma.conf ' ||
		fail "/etc/oma/oma.conf is not a conffile of oma"
	assert_file "$PLUGINDIR/compress-gzip.so"
	assert_no_path /usr/lib/oma
	[[ -d $BACKUPS ]] || fail "the package did not make $BACKUPS"
	assert_eq "$(stat -c '%a %U %G' "$BACKUPS")" "700 root root" "$BACKUPS mode and owner"
}

case_version() {
	run_oma -v
	assert_rc 0
	assert_eq "$(cat "$E2E_OUT")" "$VERSION" "oma -v"
}

case_man() {
	local out page
	out=$(man -w oma oma.conf oma-plugin) || fail "man -w oma oma.conf oma-plugin failed"
	for page in man8/oma.8.gz man5/oma.conf.5.gz man7/oma-plugin.7.gz; do
		grep -qxF "/usr/share/man/$page" <<<"$out" || fail "man -w: no /usr/share/man/$page in: $out"
	done
	# The installed page names the package's plugin folder.
	MANWIDTH=200 man oma 2>/dev/null | grep -qF "$PLUGINDIR" || fail "man oma does not name $PLUGINDIR"
}

case_units() {
	local u
	for u in oma.service oma.timer; do
		assert_file "/lib/systemd/system/$u"
	done
	systemd-analyze verify /lib/systemd/system/oma.service /lib/systemd/system/oma.timer \
		>"$E2E_T/verify.out" 2>&1 || {
		cat "$E2E_T/verify.out"
		fail "systemd-analyze verify failed"
	}
	if [[ -s $E2E_T/verify.out ]]; then
		cat "$E2E_T/verify.out"
		fail "systemd-analyze verify printed warnings"
	fi
	assert_grep /lib/systemd/system/oma.service 'ExecStart=/usr/bin/oma -c /etc/oma/oma.conf'
	assert_grep /lib/systemd/system/oma.service 'ConditionPathExists=/etc/oma/oma.conf'
	# Shipped, not enabled.
	assert_no_path /etc/systemd/system/timers.target.wants/oma.timer
}

case_shipped_config() {
	run_oma --check-config
	assert_rc 0
	assert_grep "$E2E_OUT" "Configuration OK: /etc/oma/oma.conf"
	assert_grep /etc/oma/oma.conf 'backup_dir = "/var/backups/mysql"'
}

case_backup() {
	local conf=$E2E_T/oma.conf cur
	write_config "$conf" "$BACKUPS" 'compression = "gzip"'
	run_oma -c "$conf"
	cur=$(newest_folder "$BACKUPS")
	[[ -n $cur ]] || {
		show_run
		fail "no backup folder in $BACKUPS"
	}
	assert_rc 0 "$cur/oma.log"
	assert_complete_dump "$cur/shop.sql.gz"
	dump_has "$cur/shop.sql.gz" "'tea'" || fail "shop.sql.gz lacks the rows"
	assert_last "$BACKUPS" "$cur"
	# Restored into a new database, the rows come back.
	mdb_sql -e 'CREATE DATABASE shop2'
	zcat "$cur/shop.sql.gz" | mdb_sql shop2
	assert_eq "$(mdb_sql -N -e 'SELECT GROUP_CONCAT(item ORDER BY id) FROM shop2.orders')" "tea,pot" \
		"restored rows"
}

case_sdk() {
	local src=$E2E_T/report-example out=$E2E_T/summary.txt conf=$E2E_T/example.conf cur
	cp -r /usr/share/doc/oma-dev/examples/report-example "$src"
	assert_eq "$(pkg-config --variable=plugindir oma-plugin)" "$PLUGINDIR" "pkg-config plugindir"
	# The command of the issue and of oma-plugin(7), against the installed header.
	# shellcheck disable=SC2046 # pkg-config's flags are words
	cc $(pkg-config --cflags oma-plugin) -Wall -Wextra -Werror -O2 -shared -fPIC \
		-fvisibility=hidden -o "$src/report-example.so" "$src/example.c" ||
		fail "cc against the installed oma-dev failed"
	# And its Makefile: make, make install into the package's plugin folder.
	rm -f "$src/report-example.so"
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$src" >"$E2E_T/sdk.out" 2>&1 || {
		cat "$E2E_T/sdk.out"
		fail "make in the example's folder failed"
	}
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$src" install >>"$E2E_T/sdk.out" 2>&1 ||
		fail "make install of the example failed"
	assert_file "$EXAMPLE_SO"
	write_config "$conf" "$BACKUPS" '[example]' "file = \"$out\""
	run_oma -d -c "$conf"
	cur=$(newest_folder "$BACKUPS")
	assert_rc 0 "$cur/oma.log"
	assert_grep "$cur/oma.log" "Reporter 'example' delivered the result"
	grep -qE 'Summary: Successfully dumped [0-9]+ of [0-9]+ databases' "$out" ||
		fail "the example reporter wrote no summary to $out"
	rm -f -- "$EXAMPLE_SO"
}

case_conffile_kept() {
	echo '# changed by the admin (test_deb.sh)' >>/etc/oma/oma.conf
	(cd "$DEB_DIR" && apt-get install -y -q --reinstall ./oma_*.deb) >"$E2E_T/reinstall.out" 2>&1 || {
		tail -n 20 "$E2E_T/reinstall.out"
		fail "apt-get install --reinstall failed"
	}
	assert_grep /etc/oma/oma.conf '# changed by the admin (test_deb.sh)'
	assert_no_path /etc/oma/oma.conf.dpkg-new
	assert_no_path /etc/oma/oma.conf.dpkg-dist
}

case_purge() {
	local before_backup
	before_backup=$(newest_folder "$BACKUPS")
	apt-get purge -y -q oma-dev oma >"$E2E_T/purge.out" 2>&1 || {
		tail -n 20 "$E2E_T/purge.out"
		fail "apt-get purge oma-dev oma failed"
	}
	local path
	for path in /usr/bin/oma /etc/oma "/usr/lib/$MA/oma" /usr/include/oma \
		"/usr/lib/$MA/pkgconfig/oma-plugin.pc" /usr/share/doc/oma /usr/share/doc/oma-dev \
		/usr/share/man/man8/oma.8.gz /lib/systemd/system/oma.service /lib/systemd/system/oma.timer; do
		assert_no_path "$path"
	done
	local pkg
	for pkg in oma oma-dev; do
		if dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null | grep -qv '^un'; then
			fail "$pkg is still known to dpkg after purge"
		fi
	done
	# The backups stay, whole.
	[[ -n $before_backup && -d $before_backup ]] || fail "purge removed the backup folder $before_backup"
	assert_complete_dump "$before_backup/shop.sql.gz"
	assert_last "$BACKUPS" "$before_backup"
}

# Installed and purged with an empty backup folder, the package takes the
# folder it made away again.
case_purge_empty_folder() {
	rm -rf -- "$BACKUPS"
	(cd "$DEB_DIR" && apt-get install -y -q ./oma_*.deb && apt-get purge -y -q oma) \
		>"$E2E_T/again.out" 2>&1 || {
		tail -n 20 "$E2E_T/again.out"
		fail "install and purge again failed"
	}
	assert_no_path "$BACKUPS"
	assert_no_path /usr/bin/oma
}

case_machine_as_before() {
	package_list >"$STATE/after"
	diff "$STATE/before" "$STATE/after" || fail "the installed packages differ from before the test"
}

must "preconditions: root, the tools, no oma on this machine yet" case_preconditions
must "scripts/build-deb.sh builds oma and oma-dev (dpkg-buildpackage -b)" case_build
e2e_case "debian/control's Build-Depends are in scripts/install-deps.sh" case_build_depends
e2e_case "lintian: no error, no warning, every override explained" case_lintian
must "apt-get install ./oma_*.deb ./oma-dev_*.deb: binary, plugins, conffile, $BACKUPS 0700" case_install
e2e_case "oma -v is the package's version" case_version
e2e_case "man -w oma oma.conf oma-plugin; man oma names $PLUGINDIR" case_man
e2e_case "systemd-analyze verify oma.service oma.timer; the timer is not enabled" case_units
e2e_case "the shipped /etc/oma/oma.conf passes oma --check-config" case_shipped_config
e2e_case "a real backup by /usr/bin/oma with the installed plugins, restored" case_backup
e2e_case "oma-dev: the example reporter built with pkg-config, installed and loaded" case_sdk
e2e_case "a changed /etc/oma/oma.conf is kept when the package is installed again" case_conffile_kept
must "apt-get purge removes everything but the backups" case_purge
e2e_case "install and purge with an empty $BACKUPS: the folder goes too" case_purge_empty_folder
e2e_case "the installed packages are those from before the test" case_machine_as_before
finish
