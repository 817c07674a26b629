#!/usr/bin/env bash
# demo.sh - build oma, start a throw-away MariaDB with sample data, back it up and show the result.
#
# Everything lives in a new folder /tmp/oma-demo.XXXXXX: the private server
# (socket only, no network, removed at the end), a HOME with .my.cnf, the
# config and the backups, which are kept so you can look at them.  No system
# MariaDB and nothing outside the repository and that folder is touched.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"

OMA_BUILD=${OMA_BUILD:-build}
OMA=$REPO/$OMA_BUILD/oma

say() {
	if [[ -t 1 ]]; then
		printf '\n\033[1m== %s\033[0m\n' "$*"
	else
		printf '\n== %s\n' "$*"
	fi
}

say "Installing build and test packages (Debian; skipped when present)"
"$REPO/scripts/install-deps.sh"

# Only now: mariadb.sh looks up mariadbd and the clients when it is sourced,
# and on a bare machine install-deps.sh has just installed them.
# shellcheck source=tests/lib/mariadb.sh
. "$REPO/tests/lib/mariadb.sh"

say "Building oma"
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s all
"$OMA" -v

DEMO=$(mktemp -d /tmp/oma-demo.XXXXXX)
BACKUPS=$DEMO/backups
DEMO_HOME=$DEMO/home
CONF=$DEMO/oma.conf
mkdir -p "$BACKUPS" "$DEMO_HOME"
# The server's data is scratch; the backups stay.
at_exit "rm -rf -- $(printf '%q' "$DEMO/mariadb")"

say "Starting a private MariaDB in $DEMO/mariadb (socket only)"
mdb_init "$DEMO/mariadb"
"$MDB_CLIENT_BIN" --version

say "Loading sample databases: shop, d-e-m-o-2, sl/ash, ünï"
mdb_sql <<-'SQL'
	CREATE DATABASE shop;
	USE shop;
	CREATE TABLE customers (
	  id INT PRIMARY KEY, name VARCHAR(80), email VARCHAR(120), created DATETIME
	) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
	INSERT INTO customers SELECT seq, CONCAT('Customer ', seq), CONCAT('c', seq, '@example.org'),
	  '2024-01-01' + INTERVAL seq MINUTE FROM seq_1_to_50000;
	CREATE TABLE products (
	  id INT PRIMARY KEY, title VARCHAR(200), price DECIMAL(10,2), picture BLOB
	) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
	INSERT INTO products SELECT seq, CONCAT('Product ', seq, ' ☕'), seq * 0.99,
	  UNHEX(SHA2(seq, 512)) FROM seq_1_to_1000;
	CREATE TABLE orders (
	  id INT PRIMARY KEY, customer_id INT, product_id INT, qty INT
	) ENGINE=InnoDB;
	INSERT INTO orders SELECT seq, 1 + seq % 50000, 1 + seq % 1000, 1 + seq % 5 FROM seq_1_to_20000;
	CREATE DATABASE `d-e-m-o-2`;
	CREATE TABLE `d-e-m-o-2`.notes (id INT PRIMARY KEY, body TEXT) DEFAULT CHARSET=utf8mb4;
	INSERT INTO `d-e-m-o-2`.notes VALUES (1, 'hello'), (2, NULL), (3, 'grüße');
	CREATE DATABASE `sl/ash`;
	CREATE TABLE `sl/ash`.t (id INT PRIMARY KEY) ;
	INSERT INTO `sl/ash`.t VALUES (1), (2), (3);
	CREATE DATABASE `ünï`;
	CREATE TABLE `ünï`.t (id INT PRIMARY KEY, v VARCHAR(20)) DEFAULT CHARSET=utf8mb4;
	INSERT INTO `ünï`.t VALUES (1, 'ünïcödé');
SQL
mdb_sql -e 'SHOW DATABASES'

say "Writing $DEMO_HOME/.my.cnf and $CONF"
printf '[client]\nsocket=%s\nuser=%s\n' "$MDB_SOCK" "$MDB_USER" >"$DEMO_HOME/.my.cnf"
chmod 600 "$DEMO_HOME/.my.cnf"
cat >"$CONF" <<-EOF
	# oma demo configuration (see oma.conf.example for every key)
	[main]
	backup_dir = "$BACKUPS"
	versions = 3
	parallelism = 2
	mysqldump_options = ["--single-transaction", "--routines", "--events"]
	compression = "gzip"
	log_level = "info"
EOF
cat "$DEMO_HOME/.my.cnf" "$CONF"

say "Running: HOME=$DEMO_HOME $OMA -c $CONF"
rc=0
HOME=$DEMO_HOME "$OMA" -c "$CONF" || rc=$?
echo "exit code: $rc"

say "ls -l $BACKUPS"
ls -l "$BACKUPS"
if [[ -d $BACKUPS/last ]]; then
	say "ls -l $BACKUPS/last/"
	ls -l "$BACKUPS/last/"
	say "head $BACKUPS/last/oma.log"
	head -n 25 "$BACKUPS/last/oma.log"
	say "cat $BACKUPS/last/info.json"
	cat "$BACKUPS/last/info.json"
	say "zcat $BACKUPS/last/shop.sql.gz | head -n 30"
	zcat "$BACKUPS/last/shop.sql.gz" | head -n 30 || true
	echo "..."
	zcat "$BACKUPS/last/shop.sql.gz" | tail -n 1
fi

say "Stopping the private MariaDB"
mdb_stop

cat <<-EOF

	The backups are kept in $BACKUPS
	  config:      $CONF
	  client conf: $DEMO_HOME/.my.cnf
	  log:         $BACKUPS/last.log
	Remove everything with: rm -rf $DEMO
EOF
exit "$rc"
