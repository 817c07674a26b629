#!/usr/bin/env bash
# install-deps.sh - install the Debian packages oma needs to build, test and run (idempotent).
#
# Runs `apt-get update` and `apt-get install` only when a package is missing,
# so a second run takes a moment.  Uses sudo when not run as root.  Installing
# mariadb-server, rsyslog, zabbix-server-mysql, prometheus or
# prometheus-node-exporter may start the system service;
# oma's tests and demo never use it (they start private servers of their own).
set -euo pipefail

PACKAGES=(
	build-essential     # cc, make
	pkg-config
	libinih-dev         # INI structure under the TOML shim
	libdeflate-dev      # compress-gzip plugin (twice zlib's speed, see docs/PERFORMANCE.md)
	zlib1g-dev          # compress-gzip reads files back with zlib (--verify); gzip checks in tests and bench/
	libzstd-dev         # compress-zstd plugin
	libcurl4-openssl-dev # HTTP reporters
	libssl-dev          # SHA-256 of every dump (libcrypto: the CPU's SHA instructions)
	libsodium-dev       # age encryption (plugins/encrypt-age): X25519, ChaCha20-Poly1305, HMAC
	check               # unit tests
	mariadb-server      # end-to-end tests, demo
	mariadb-client      # mysql, mysqldump
	zabbix-agent        # zabbix_sender for the Zabbix reporter
	zabbix-server-mysql # a real Zabbix 6.0 server for the Zabbix end-to-end test
	zstd
	gzip
	ca-certificates
	jq                  # JSON checks in the end-to-end tests
	openssl             # self-signed TLS server in the webhook reporter's tests
	python3             # HTTP sink in the reporters' end-to-end test
	rsyslog             # private syslog daemon in the reporters' end-to-end test
	procps              # pgrep/pkill in the end-to-end tests
	iproute2            # ss in the end-to-end tests
	clang               # make fuzz: libFuzzer targets (clang 14)
	libclang-rt-14-dev  # make fuzz: the libFuzzer and sanitizer runtimes for -fsanitize=fuzzer
	shellcheck          # make lint (part of make check): every shell script
	clang-format        # make lint (part of make check): C layout as .clang-format says; make format
	ceph-mon            # S3 tests: a private Ceph RADOS Gateway (tests/lib/rgw.sh)
	ceph-osd
	radosgw
	curl                # S3 tests: rgw.sh asks the gateway whether it is up
	awscli              # S3 tests: second clients reading back what oma wrote
	s3cmd
	age                 # age tests: Debian's age and age-keygen read and write what oma's age code does
	prometheus          # promtool check metrics: the prometheus reporter's file in its tests
	prometheus-node-exporter # its textfile collector reads that file in the end-to-end test
	groff-base          # check_man: the man pages format without warnings (groff -ww)
	man-db              # check_man: man --warnings, as lintian checks the pages; man -w in test_deb
	dpkg-dev            # make deb: dpkg-buildpackage
	debhelper           # make deb: dh, debhelper compat 13 (debian/control Build-Depends)
	lintian             # make deb-check: the packages lintian clean
	systemd             # make deb-check: systemd-analyze verify oma.service oma.timer
)

# Packages not installed yet, one per line.
missing() {
	local pkg status
	for pkg in "${PACKAGES[@]}"; do
		status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
		if [[ $status != "install ok installed" ]]; then
			printf '%s\n' "$pkg"
		fi
	done
}

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
	echo "install-deps.sh: needs a Debian-like system with apt-get and dpkg-query" >&2
	echo "install-deps.sh: packages: ${PACKAGES[*]}" >&2
	exit 1
fi

mapfile -t TODO < <(missing)
if ((${#TODO[@]} == 0)); then
	echo "install-deps.sh: all ${#PACKAGES[@]} packages are installed"
	exit 0
fi

SUDO=()
if [[ $(id -u) != 0 ]]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "install-deps.sh: not root and no sudo; install as root: ${TODO[*]}" >&2
		exit 1
	fi
	SUDO=(sudo)
fi

echo "install-deps.sh: installing ${TODO[*]}"
"${SUDO[@]}" apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${TODO[@]}"

mapfile -t STILL < <(missing)
if ((${#STILL[@]} > 0)); then
	echo "install-deps.sh: still missing after apt-get: ${STILL[*]}" >&2
	exit 1
fi
echo "install-deps.sh: done"
