# shellcheck shell=bash disable=SC2016
# bench/data.sh - the bench's data sets: SQL that generates them on the private MariaDB.
#
# Sourced by bench/run.sh after tests/lib/mariadb.sh.  Each set is made once
# per generator version and kept in the bench cache (see run.sh):
#
#   (a) 3 databases with 200,000 orders each (about 30 MB of dump each)
#       and 300 tiny databases (2 tables, a few rows)
#   (b) one database "big" with a ~BENCH_B_MB MiB dump: orders (62%) and
#       an access log (38%)
#   (c) BENCH_C_DBS tiny databases (default 5,000) of 3 tables each
#
# Rows are made with INSERT ... SELECT from MariaDB's seq_1_to_N tables and
# RAND(): names, cities, enums, amounts, dates, free text from word lists,
# hex tokens and JSON-ish payloads - about as compressible as real dumps
# (gzip -6 keeps 21..28%).

# Bump when the data changes, so cached data dirs are made again.
DATA_VERSION=1

# SQL for `rows` rows of an orders table `db`.orders, ids from `first`.
# The table is created when `first` is 1.
orders_sql() {
	local db=$1 first=$2 rows=$3
	if ((first == 1)); then
		cat <<-SQL
			CREATE TABLE \`$db\`.orders (
			  id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
			  customer_id INT UNSIGNED NOT NULL,
			  status ENUM('new','paid','shipped','delivered','cancelled','refunded') NOT NULL,
			  created_at DATETIME NOT NULL,
			  amount DECIMAL(10,2) NOT NULL,
			  currency CHAR(3) NOT NULL,
			  email VARCHAR(100) NOT NULL,
			  city VARCHAR(40) DEFAULT NULL,
			  note VARCHAR(255) DEFAULT NULL,
			  token CHAR(32) DEFAULT NULL,
			  KEY customer (customer_id)
			) ENGINE=InnoDB;
		SQL
	fi
	cat <<-SQL
		USE \`$db\`;
		INSERT INTO \`$db\`.orders
		SELECT seq + $((first - 1)),
		  1 + FLOOR(RAND() * 250000),
		  1 + FLOOR(RAND() * 6),
		  TIMESTAMP'2019-01-01 00:00:00' + INTERVAL FLOOR(RAND() * 157680000) SECOND,
		  ROUND(RAND() * RAND() * 2000, 2),
		  ELT(1 + FLOOR(RAND() * 4), 'EUR', 'USD', 'GBP', 'CHF'),
		  CONCAT(ELT(1 + FLOOR(RAND() * 16), 'anna','ben','carla','david','emma','felix','greta','hans','ines','jonas','klara','lukas','mia','noah','olga','paul'),
		         '.', ELT(1 + FLOOR(RAND() * 16), 'smith','mueller','garcia','rossi','dubois','novak','jensen','silva','kowalski','nagy','weber','martin','lopez','bauer','meyer','fischer'),
		         FLOOR(RAND() * 1000), '@', ELT(1 + FLOOR(RAND() * 6), 'example.com','mail.example.org','post.example.net','shop.example','corp.example.de','web.example.fr')),
		  IF(RAND() < 0.1, NULL, ELT(1 + FLOOR(RAND() * 24), 'Berlin','Hamburg','Munich','Cologne','Vienna','Zurich','Paris','Lyon','Madrid','Barcelona','Rome','Milan','Amsterdam','Brussels','Copenhagen','Oslo','Stockholm','Helsinki','Warsaw','Prague','Budapest','Lisbon','Dublin','London')),
		  IF(RAND() < 0.4, NULL, CONCAT_WS(' ',
		     ELT(1 + FLOOR(RAND() * 12), 'Please','Customer asked to','Do not','Kindly','Urgent:','Note:','Gift order,','Repeat order,','Call before','Leave parcel','Deliver','Fragile,'),
		     ELT(1 + FLOOR(RAND() * 12), 'deliver','wrap','ship','hold','check','confirm','pack','send','label','invoice','return','replace'),
		     ELT(1 + FLOOR(RAND() * 12), 'the order','all items','the parcel','the invoice','two boxes','the package','this shipment','the gift','remaining items','the refund','the voucher','the rest'),
		     ELT(1 + FLOOR(RAND() * 12), 'before noon','after 5 pm','on Monday','at the back door','with the neighbour','in the garage','to reception','next week','by express','in one box','without invoice','as soon as possible'),
		     IF(RAND() < 0.5, CONCAT('ref ', FLOOR(RAND() * 100000000)), NULL))),
		  IF(RAND() < 0.3, MD5(RAND()), NULL)
		FROM seq_1_to_$rows;
	SQL
}

# SQL for `rows` rows of an access log `db`.events, ids from `first`.
events_sql() {
	local db=$1 first=$2 rows=$3
	if ((first == 1)); then
		cat <<-SQL
			CREATE TABLE \`$db\`.events (
			  id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
			  at DATETIME(3) NOT NULL,
			  level ENUM('debug','info','notice','warning','error') NOT NULL,
			  source VARCHAR(40) NOT NULL,
			  user_id INT UNSIGNED DEFAULT NULL,
			  message VARCHAR(255) NOT NULL,
			  payload TEXT DEFAULT NULL
			) ENGINE=InnoDB;
		SQL
	fi
	cat <<-SQL
		USE \`$db\`;
		INSERT INTO \`$db\`.events
		SELECT seq + $((first - 1)),
		  TIMESTAMP'2023-01-01 00:00:00' + INTERVAL ((seq + $((first - 1))) * 4000 + FLOOR(RAND() * 4000)) * 1000 MICROSECOND,
		  ELT(1 + FLOOR(RAND() * RAND() * 5), 'info','notice','debug','warning','error'),
		  ELT(1 + FLOOR(RAND() * 8), 'web-01','web-02','api-01','api-02','worker-1','worker-2','cron','billing'),
		  IF(RAND() < 0.2, NULL, 1 + FLOOR(RAND() * 250000)),
		  CONCAT(ELT(1 + FLOOR(RAND() * 10), 'GET','POST','PUT','DELETE','login','logout','export','import','payment','search'), ' ',
		         ELT(1 + FLOOR(RAND() * 10), '/api/v1/orders/','/api/v1/customers/','/shop/cart/','/account/settings/','/search?q=','/reports/monthly/','/static/img/','/checkout/step/','/admin/users/','/api/v2/items/'),
		         FLOOR(RAND() * 100000), ' ', ELT(1 + FLOOR(RAND() * 6), 'ok','ok','ok','redirect','not found','timeout'), ' in ', FLOOR(RAND() * 900 + 3), ' ms'),
		  IF(RAND() < 0.5, NULL, CONCAT('{"ip":"10.', FLOOR(RAND() * 256), '.', FLOOR(RAND() * 256), '.', FLOOR(RAND() * 256),
		     '","agent":"', ELT(1 + FLOOR(RAND() * 5), 'Mozilla/5.0 (X11; Linux x86_64)','Mozilla/5.0 (Windows NT 10.0; Win64; x64)','Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2)','curl/8.4.0','python-requests/2.31'),
		     '","session":"', SUBSTRING(SHA1(RAND()), 1, 16), '","items":', FLOOR(RAND() * 12), '}'))
		FROM seq_1_to_$rows;
	SQL
}

# SQL for one tiny database `db` with `tables` (2 or 3) small tables.
tiny_sql() {
	local db=$1 tables=$2
	printf 'CREATE DATABASE `%s`;\n' "$db"
	printf 'CREATE TABLE `%s`.users (id INT PRIMARY KEY, name VARCHAR(40), email VARCHAR(80), created DATETIME) ENGINE=InnoDB;\n' "$db"
	printf 'INSERT INTO `%s`.users VALUES (1,"admin","admin@%s.example","2024-01-02 03:04:05"),(2,"anna","anna@%s.example","2024-02-03 04:05:06"),(3,"ben","ben@%s.example","2024-03-04 05:06:07");\n' "$db" "$db" "$db" "$db"
	printf 'CREATE TABLE `%s`.settings (k VARCHAR(40) PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB;\n' "$db"
	printf 'INSERT INTO `%s`.settings VALUES ("theme","dark"),("lang","en"),("tz","Europe/Berlin");\n' "$db"
	if ((tables > 2)); then
		printf 'CREATE TABLE `%s`.log (id INT AUTO_INCREMENT PRIMARY KEY, at DATETIME, msg VARCHAR(200)) ENGINE=InnoDB;\n' "$db"
		printf 'INSERT INTO `%s`.log (at, msg) VALUES ("2024-01-02 03:04:05","installed"),("2024-01-03 10:00:00","user anna added"),("2024-01-04 11:30:00","settings changed");\n' "$db"
	fi
}

# Rows per million-row INSERT: big statements in slices keep undo logs small.
_slices() {
	local fn=$1 db=$2 total=$3 slice=1000000 first=1 n
	while ((first <= total)); do
		n=$((total - first + 1))
		((n > slice)) && n=$slice
		"$fn" "$db" "$first" "$n"
		first=$((first + n))
	done
}

# Print the SQL that makes set $1.
data_sql() {
	local i
	echo 'SET SESSION unique_checks = 0, foreign_key_checks = 0;'
	case $1 in
	a)
		for i in 1 2 3; do
			echo "CREATE DATABASE a_big$i;"
			orders_sql "a_big$i" 1 200000
		done
		for ((i = 1; i <= 300; i++)); do
			tiny_sql "$(printf 'a_small%03d' "$i")" 2
		done
		;;
	b)
		local mb=${BENCH_B_MB:-1024}
		# Measured: 148 bytes of dump per order, 165 per event.
		local orders=$((mb * 1048576 * 62 / 100 / 148))
		local events=$((mb * 1048576 * 38 / 100 / 165))
		echo 'CREATE DATABASE big;'
		_slices orders_sql big "$orders"
		_slices events_sql big "$events"
		;;
	c)
		for ((i = 1; i <= ${BENCH_C_DBS:-5000}; i++)); do
			tiny_sql "$(printf 'c%05d' "$i")" 3
		done
		;;
	esac
}

# What identifies the data of set $1 (a changed value makes it again).
data_id() {
	case $1 in
	a) echo "v$DATA_VERSION a" ;;
	b) echo "v$DATA_VERSION b ${BENCH_B_MB:-1024}MiB" ;;
	c) echo "v$DATA_VERSION c ${BENCH_C_DBS:-5000}" ;;
	esac
}

# Databases of the running server that oma backs up by default (all but
# information_schema, performance_schema and sys), one per line.
data_dbs() {
	mdb_sql -N -B -e 'SHOW DATABASES' |
		grep -vxE 'information_schema|performance_schema|sys'
}

# Write every table's pages to disk and wait past the change check's
# one-second margin, as for a database loaded a while ago (see
# tests/e2e/test_reuse.sh): FLUSH TABLES ... FOR EXPORT per database.
data_settle() {
	mdb_sql -N -B -e "SELECT CONCAT('FLUSH TABLES ',
			GROUP_CONCAT(CONCAT('\`', TABLE_SCHEMA, '\`.\`', TABLE_NAME, '\`')),
			' FOR EXPORT; UNLOCK TABLES;')
		FROM information_schema.TABLES
		WHERE ENGINE = 'InnoDB' AND TABLE_SCHEMA NOT IN
			('mysql', 'information_schema', 'performance_schema', 'sys')
		GROUP BY TABLE_SCHEMA" | mdb_sql
	mdb_sql -e 'FLUSH TABLES'
	sleep 2.2
}
