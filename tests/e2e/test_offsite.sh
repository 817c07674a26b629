#!/usr/bin/env bash
# test_offsite.sh - end-to-end: the s3 store plugin copies every backup folder to a real Ceph RADOS Gateway.
#
# One private MariaDB and one private gateway (tests/lib/rgw.sh) for the
# whole script; every case writes under a remote prefix of its own in one
# bucket.  What oma wrote is read back with Debian's awscli and s3cmd and
# compared byte for byte (sha-256) with the local files; radosgw's usage log
# counts the bytes the gateway received, independently of oma's own log.
# The gateway is killed mid-upload through a small TCP relay that holds the
# first part it sees (an event, not a delay), and restarted on the same data.
# The same relay plays a hung gateway (it reads and drops every request), and
# the faults the adversarial test found (a signal with a hung gateway or while
# the copies end, two backups on one prefix, a dead gateway, a gateway hung
# from the start) each have a case.
# Needs store-s3.so, ceph-mon, ceph-osd, radosgw, awscli, s3cmd
# (scripts/install-deps.sh); without them the test fails, it never skips.
# shellcheck disable=SC2317 # the case functions are called through e2e_case
set -euo pipefail

# shellcheck source=tests/lib/e2e.sh
. "$(dirname "$0")/../lib/e2e.sh"
# shellcheck source=tests/lib/rgw.sh
. "$E2E_REPO/tests/lib/rgw.sh"

# Requests go straight to 127.0.0.1, whatever proxy the caller uses.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

PLUGIN=$(dirname "$OMA_BIN")/plugins/store-s3.so
for tool in "$RGW_AWS_BIN" s3cmd jq python3 sha256sum cc; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		printf 'not ok - setup: %s not found (run scripts/install-deps.sh)\n' "$tool"
		exit 1
	fi
done
if [[ ! -f $PLUGIN ]]; then
	printf 'not ok - setup: %s not found (run make first)\n' "$PLUGIN"
	exit 1
fi

e2e_setup db

if ! rgw_start "$E2E_T/rgw" >"$E2E_T/rgw-start.log" 2>&1; then
	echo 'not ok - setup: the private Ceph RADOS Gateway did not start'
	sed 's/^/#   /' "$E2E_T/rgw-start.log"
	exit 1
fi
BUCKET=offsite
rgw_aws s3api create-bucket --bucket "$BUCKET" >/dev/null

# shop: ~0.4 MB of dump (large next to the folder's own files, so the usage
# log tells uploads from server-side copies); big: 20 MB of random bytes,
# which gzip cannot shrink (multipart with 5 MiB parts).
if ! mdb_sql >"$E2E_T/load.log" 2>&1 <<-'SQL'; then
	CREATE DATABASE shop;
	CREATE TABLE shop.orders (id INT PRIMARY KEY, token CHAR(32), note VARCHAR(60)) ENGINE=InnoDB;
	INSERT INTO shop.orders SELECT seq, MD5(seq * 7), CONCAT('order ', seq) FROM shop.seq_1_to_20000;
	CREATE DATABASE crm;
	CREATE TABLE crm.people (id INT PRIMARY KEY, name VARCHAR(40)) ENGINE=InnoDB;
	INSERT INTO crm.people SELECT seq, CONCAT('person ', seq) FROM crm.seq_1_to_500;
	CREATE DATABASE tiny;
	CREATE TABLE tiny.t (id INT PRIMARY KEY) ENGINE=Aria;
	INSERT INTO tiny.t VALUES (1), (2), (3);
	CREATE DATABASE big;
	CREATE TABLE big.r (id INT PRIMARY KEY, b VARBINARY(1024)) ENGINE=InnoDB;
	INSERT INTO big.r SELECT seq, RANDOM_BYTES(1024) FROM big.seq_1_to_20000;
SQL
	echo 'not ok - setup: load test data'
	sed 's/^/#   /' "$E2E_T/load.log"
	exit 1
fi
# dg01 .. dg12: twelve small databases for the dead and the hung gateway.
DEAD_DBS=()
for i in $(seq -w 1 12); do
	DEAD_DBS+=("dg$i")
done
if ! for db in "${DEAD_DBS[@]}"; do
	printf 'CREATE DATABASE %s; CREATE TABLE %s.t (id INT PRIMARY KEY) ENGINE=Aria; INSERT INTO %s.t VALUES (1);\n' \
		"$db" "$db" "$db"
done | mdb_sql >"$E2E_T/load-dg.log" 2>&1; then
	echo 'not ok - setup: load the twelve small databases'
	sed 's/^/#   /' "$E2E_T/load-dg.log"
	exit 1
fi
# Data loaded a while ago (see test_reuse.sh): pages on disk, files older
# than the first dump's start by more than the change check's margin.
mdb_sql -e 'FLUSH TABLES shop.orders, crm.people, big.r FOR EXPORT; UNLOCK TABLES; FLUSH TABLES'
sleep 2.2

SMALL='do_databases = ["shop", "crm", "tiny"]'
MIB=1048576

# AWS-format credential files, mode 0600: the gateway's key, and a wrong secret.
CREDS=$E2E_T/credentials
BAD_CREDS=$E2E_T/credentials-bad
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
	"$RGW_ACCESS_KEY" "$RGW_SECRET_KEY" >"$CREDS"
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = wrong%s\n' \
	"$RGW_ACCESS_KEY" "$RGW_SECRET_KEY" >"$BAD_CREDS"
chmod 600 "$CREDS" "$BAD_CREDS"

# Peak RSS of the oma process itself: bench/hwm.c, preloaded, writes
# getrusage(RUSAGE_SELF).ru_maxrss at exit.
HWM=$E2E_T/hwm.so
cc -std=gnu11 -D_GNU_SOURCE -O2 -fPIC -shared -o "$HWM" "$E2E_REPO/bench/hwm.c"
SAN_BUILD=0
if ldd "$OMA_BIN" 2>/dev/null | grep -q 'libasan'; then
	SAN_BUILD=1
fi

# A TCP relay in front of the gateway.  While the file $RELAY_ARM exists, the
# first request whose bytes contain "partNumber=" (an UploadPart) is passed
# on up to there and then held: nothing more of that connection reaches the
# gateway, $RELAY_HELD is created, and the connection is closed when the
# gateway closes its side (it is killed).  While the file $RELAY_HANG
# exists, the relay is a hung server: whatever a client sends from then on
# is read and dropped (a new connection does not even reach the gateway),
# nothing comes back, a connection once hung stays so until its client
# closes it, and each request line dropped is appended to $RELAY_HUNG.
# Otherwise it relays unchanged.
RELAY_ARM=$E2E_T/relay.arm
RELAY_HELD=$E2E_T/relay.held
RELAY_HANG=$E2E_T/relay.hang
RELAY_HUNG=$E2E_T/relay.hung
cat >"$E2E_T/relay.py" <<-'PY'
	import os, re, socket, sys, threading
	up, port_file, arm, held, hang, hung = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
	lock = threading.Lock()

	def shut(*socks):
	    for s in socks:
	        try:
	            s.shutdown(socket.SHUT_RDWR)
	        except OSError:
	            pass

	def drop(data):
	    line = data.split(b"\r\n", 1)[0]
	    if re.match(rb"[A-Z]+ /", line):
	        with lock, open(hung, "ab") as f:
	            f.write(line + b"\n")

	def to_server(c, u, gone, state):
	    tail = b""
	    try:
	        while True:
	            data = c.recv(65536)
	            if not data:
	                break
	            if state["dead"] or os.path.exists(hang):
	                state["dead"] = True
	                drop(data)
	                continue
	            hold = False
	            with lock:
	                if b"partNumber=" in tail + data and os.path.exists(arm):
	                    os.unlink(arm)
	                    hold = True
	            u.sendall(data)
	            if hold:
	                open(held, "w").close()
	                gone.wait()
	                break
	            tail = (tail + data)[-256:]
	    except OSError:
	        pass
	    shut(c, u)

	def to_client(c, u, gone, state):
	    try:
	        while True:
	            data = u.recv(65536)
	            if not data or state["dead"]:
	                break
	            c.sendall(data)
	    except OSError:
	        pass
	    gone.set()
	    if not state["dead"]:  # a hung connection stays open for its client
	        shut(c, u)

	def serve(c):
	    if os.path.exists(hang):
	        try:
	            while True:
	                data = c.recv(65536)
	                if not data:
	                    break
	                drop(data)
	        except OSError:
	            pass
	        c.close()
	        return
	    u = socket.socket()
	    try:
	        u.connect(("127.0.0.1", up))
	    except OSError:
	        c.close()
	        u.close()
	        return
	    gone, state = threading.Event(), {"dead": False}
	    t = [threading.Thread(target=f, args=(c, u, gone, state), daemon=True) for f in (to_server, to_client)]
	    for x in t:
	        x.start()
	    for x in t:
	        x.join()
	    c.close()
	    u.close()

	srv = socket.socket()
	srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
	srv.bind(("127.0.0.1", 0))
	srv.listen(64)
	with open(port_file + ".tmp", "w") as f:
	    f.write("%d\n" % srv.getsockname()[1])
	os.rename(port_file + ".tmp", port_file)
	while True:
	    conn, _ = srv.accept()
	    threading.Thread(target=serve, args=(conn,), daemon=True).start()
PY
python3 "$E2E_T/relay.py" "$RGW_PORT" "$E2E_T/relay.port" "$RELAY_ARM" "$RELAY_HELD" \
	"$RELAY_HANG" "$RELAY_HUNG" </dev/null >"$E2E_T/relay.out" 2>&1 &
RELAY_PID=$!
at_exit "kill $RELAY_PID 2>/dev/null || true"
for _ in $(seq 1 100); do
	[[ -s $E2E_T/relay.port ]] && break
	sleep 0.1
done
if [[ ! -s $E2E_T/relay.port ]]; then
	echo 'not ok - setup: the TCP relay did not start'
	sed 's/^/#   /' "$E2E_T/relay.out"
	exit 1
fi
RELAY_ENDPOINT=http://127.0.0.1:$(cat "$E2E_T/relay.port")

# ---- helpers ------------------------------------------------------------------

# Write config $1: backup folder $2 (created), remote prefix $3, credentials
# file $4.  Further arguments "main:LINE" go to [main], others to [s3].
# The endpoint is $ENDPOINT when set, else the gateway.
offsite_config() {
	local file=$1 dir=$2 prefix=$3 creds=$4 a
	shift 4
	local main=() s3=()
	for a in "$@"; do
		if [[ $a = main:* ]]; then
			main+=("${a#main:}")
		else
			s3+=("$a")
		fi
	done
	mkdir -p "$dir"
	write_config "$file" "$dir" "${main[@]}"
	{
		printf '[s3]\nendpoint = "%s"\nbucket = "%s"\nprefix = "%s"\n' \
			"${ENDPOINT:-$RGW_ENDPOINT}" "$BUCKET" "$prefix"
		printf 'region = "%s"\ncredentials_file = "%s"\n' "$RGW_REGION" "$creds"
		printf '%s\n' "${s3[@]}"
	} >>"$file"
}

# Run oma with config $1; NEW is the newest folder of backup folder $2;
# expect exit code $3 (default 0).
backup() {
	run_oma -c "$1"
	NEW=$(newest_folder "$2")
	assert_rc "${3:-0}" "$NEW/oma.log"
}

# The next backup folder gets a name of its own (one per second).
next_second() {
	local now
	now=$(date +%s)
	while [[ $(date +%s) = "$now" ]]; do
		sleep 0.1
	done
}

# Keys below remote prefix $1, one a line.
remote_keys() {
	rgw_aws s3api list-objects-v2 --bucket "$BUCKET" --prefix "$1" --output json |
		jq -r '(.Contents // [])[].Key'
}

# "KEY ETAG SIZE" of every object below $1 (the whole bucket when empty):
# what a change would show.
remote_listing() {
	local p=()
	[[ -z $1 ]] || p=(--prefix "$1")
	rgw_aws s3api list-objects-v2 --bucket "$BUCKET" "${p[@]}" --output json |
		jq -r '(.Contents // [])[] | "\(.Key) \(.ETag) \(.Size)"'
}

# Complete remote folders (holding info.json) of prefix $1, oldest first.
remote_complete() {
	remote_keys "$1/" | sed -n "s|^$1/\(oma_[0-9]\{8\}-[0-9]\{6\}\)/info\.json\$|\1|p" | LC_ALL=C sort
}

# Every remote folder of prefix $1 that has any object, oldest first.
remote_folders() {
	remote_keys "$1/" | sed -n "s|^$1/\(oma_[0-9]\{8\}-[0-9]\{6\}\)/.*|\1|p" | LC_ALL=C sort -u
}

sha_of() { sha256sum "$1" | cut -c 1-64; }

# sha-256 of object $1 read by awscli (GET to stdout).
aws_sha() {
	rgw_aws s3 cp --only-show-errors "s3://$BUCKET/$1" - | sha256sum | cut -c 1-64
}

# sha-256 of object $1 read by s3cmd.
s3cmd_sha() {
	rm -f "$E2E_T/s3cmd.obj"
	rgw_s3cmd -q get --force "s3://$BUCKET/$1" "$E2E_T/s3cmd.obj"
	sha_of "$E2E_T/s3cmd.obj"
}

# The object $1's content (small objects).
remote_cat() {
	rgw_aws s3 cp --only-show-errors "s3://$BUCKET/$1" -
}

# Unfinished multipart uploads below prefix $1 (of the whole bucket when
# absent): "KEY UPLOADID" a line.
remote_uploads() {
	local p=()
	[[ -z ${1:-} ]] || p=(--prefix "$1")
	rgw_aws s3api list-multipart-uploads --bucket "$BUCKET" "${p[@]}" --output json |
		jq -r '(.Uploads // [])[] | "\(.Key) \(.UploadId)"'
}

# The remote copy of local folder $1 under prefix $2 is complete: every dump
# is there with the local bytes (GET by awscli and by s3cmd) and the sha256
# metadata; info.json is the local one; oma.log and result.json are there;
# nothing is there that the local folder does not hold.
assert_remote_folder() {
	local dir=$1 prefix=$2 name f key want meta
	name=$(basename "$dir")
	for f in "$dir"/*.sql.gz; do
		[[ -f $f ]] || fail "no dump in $dir"
		key=$prefix/$name/$(basename "$f")
		want=$(sha_of "$f")
		assert_eq "$(aws_sha "$key")" "$want" "sha-256 of $key read by awscli"
		assert_eq "$(s3cmd_sha "$key")" "$want" "sha-256 of $key read by s3cmd"
		meta=$(rgw_aws s3api head-object --bucket "$BUCKET" --key "$key" --query 'Metadata.sha256' --output text)
		assert_eq "$meta" "$want" "x-amz-meta-sha256 of $key"
	done
	assert_eq "$(aws_sha "$prefix/$name/info.json")" "$(sha_of "$dir/info.json")" "remote info.json"
	remote_cat "$prefix/$name/result.json" | is_json || fail "remote result.json is not JSON"
	remote_keys "$prefix/$name/oma.log" | grep -qx "$prefix/$name/oma.log" || fail "no remote oma.log"
	while IFS= read -r key; do
		[[ -e $dir/${key#"$prefix/$name/"} ]] || fail "remote $key has no local file"
	done < <(remote_keys "$prefix/$name/")
}

# Object PREFIX/last ($1) holds folder name $2 and a newline, nothing else.
assert_remote_last() {
	assert_eq "$(remote_cat "$1/last" | od -An -c | tr -s ' ')" \
		"$(printf '%s\n' "$2" | od -An -c | tr -s ' ')" "$1/last"
}

# result.json of folder $1: run-level offsite outcome $2, $3 for every
# database dumped or reused, "none" for the skipped ones.
assert_offsite_result() {
	local j=$1/result.json got
	assert_file "$j"
	got=$(jq -r '.offsite.outcome' "$j")
	assert_eq "$got" "$2" "result.json offsite.outcome"
	got=$(jq -r '[.databases[] | select(.outcome != "skipped") | .offsite] | unique | join(",")' "$j")
	assert_eq "$got" "$3" "result.json offsite of the databases not skipped"
	got=$(jq -r '[.databases[] | select(.outcome == "skipped") | .offsite] | unique | join(",")' "$j")
	[[ -z $got || $got = none ]] || fail "result.json: skipped databases have offsite '$got', expected none"
}

# Start oma with config $1 in the background, as run_oma runs it; BG_PID
# is its PID.  When the case ends before oma_bg_end, that oma is killed
# and the relay no longer hangs.
oma_bg() {
	(cd "$E2E_CWD" && exec env HOME="$E2E_HOME" LC_ALL="$E2E_LOCALE" LANG="$E2E_LOCALE" \
		"$OMA_BIN" -c "$1") >"$E2E_OUT" 2>"$E2E_ERR" &
	BG_PID=$!
	trap '[[ -z $BG_PID ]] || kill -KILL "$BG_PID" 2>/dev/null || true; rm -f "$RELAY_HANG"' EXIT
}

# Wait at most $1 seconds, while the background oma runs, until the command
# $3... succeeds; $2 names the event awaited.  Fails the case (the oma
# killed) when oma ends first or the time is up.
await() {
	local bound=$1 what=$2 deadline=$((SECONDS + $1))
	shift 2
	until "$@"; do
		if ! kill -0 "$BG_PID" 2>/dev/null; then
			wait "$BG_PID" || true
			fail "oma ended before $what"
		fi
		if ((SECONDS >= deadline)); then
			kill -KILL "$BG_PID" 2>/dev/null || true
			wait "$BG_PID" 2>/dev/null || true
			fail "no $what within $bound s"
		fi
		sleep 0.05
	done
}

# Wait at most $1 seconds for the background oma to exit (wait_bounded):
# OMA_RC is its exit code, NEW the newest folder of backup folder $2.  A
# sanitizer report fails the case.
oma_bg_end() {
	wait_bounded "$BG_PID" "$1"
	BG_PID=""
	OMA_RC=$BG_RC
	NEW=$(newest_folder "$2")
	if grep -qE 'Sanitizer|runtime error:' "$E2E_ERR"; then
		head -n 40 "$E2E_ERR"
		fail "sanitizer report from the background oma"
	fi
}

# Whether the background oma has made its local backup in backup folder $1
# (last.log names the newest folder's log) and its main thread waits on a
# futex twice in a row: the wait for the off-site copies to end, the only
# place after the local backup where it blocks.
copies_ending() {
	local new i
	new=$(newest_folder "$1")
	[[ -n $new && $(readlink -f "$1/last.log") = "$(readlink -f "$new/oma.log")" ]] || return 1
	for i in 1 2; do
		((i == 1)) || sleep 0.2
		[[ $(cat "/proc/$BG_PID/wchan" 2>/dev/null) = *futex* ]] || return 1
	done
}

# The summary line of result.json in folder $1 ends with "Error=$2".
assert_summary_error() {
	local got
	got=$(jq -r '.summary' "$1/result.json")
	[[ $got = *". Error=$2" ]] || fail "result.json summary: got '$got', expected Error=$2"
}

# Total size of the files of folder $1 that are not dumps, plus $2.
nondump_bytes() {
	find "$1" -maxdepth 1 -type f ! -name '*.sql.gz' -printf '%s\n' |
		awk -v extra="$2" '{ s += $1 } END { printf "%d", s + extra }'
}

# ---- cases --------------------------------------------------------------------

FULL=$E2E_T/full
offsite_config "$E2E_T/full.conf" "$FULL" full "$CREDS" "main:$SMALL" 'main:versions = 3'
offsite_config "$E2E_T/bad.conf" "$FULL" full "$BAD_CREDS" "main:$SMALL" 'main:versions = 3'

case_complete() {
	backup "$E2E_T/full.conf" "$FULL"
	local f db n
	assert_remote_folder "$NEW" full
	assert_remote_last full "$(basename "$NEW")"
	assert_eq "$(remote_complete full)" "$(basename "$NEW")" "complete remote folders"
	assert_offsite_result "$NEW" copied copied
	assert_eq "$(jq -r '.offsite.error' "$NEW/result.json")" null "offsite.error"
	for db in shop crm tiny; do
		f=$NEW/$db.sql.gz
		n=$(stat -c %s "$f")
		assert_grep "$NEW/oma.log" "INFO s3: uploaded $db.sql.gz ($n bytes)"
		assert_eq "$(jq -r ".databases[] | select(.name == \"$db\") | .offsite_error" "$NEW/result.json")" \
			null "offsite_error of $db"
	done
	assert_grep "$NEW/oma.log" "INFO Off-site copy 's3' complete: $(basename "$NEW")"
	assert_no_grep "$NEW/oma.log" ' ERROR '
}

# The documented restore: GET | zcat | mysql, with awscli and with s3cmd.
case_restore() {
	local cur name
	cur=$(readlink -f "$FULL/last")
	[[ -f $cur/info.json ]] || fail "no complete local backup (case_complete failed?)"
	name=$(basename "$cur")
	mdb_sql -e 'DROP DATABASE IF EXISTS shop_r; CREATE DATABASE shop_r; DROP DATABASE IF EXISTS crm_r; CREATE DATABASE crm_r'
	rgw_aws s3 cp --only-show-errors "s3://$BUCKET/full/$name/shop.sql.gz" - | zcat | mdb_sql shop_r
	rgw_s3cmd -q get --force "s3://$BUCKET/full/$name/crm.sql.gz" "$E2E_T/crm.sql.gz"
	zcat "$E2E_T/crm.sql.gz" | mdb_sql crm_r
	assert_eq "$(db_checksums shop_r)" "$(db_checksums shop)" "shop restored from the awscli GET"
	assert_eq "$(db_checksums crm_r)" "$(db_checksums crm)" "crm restored from the s3cmd GET"
	mdb_sql -e 'DROP DATABASE shop_r; DROP DATABASE crm_r'
}

REUSE=$E2E_T/reuse
offsite_config "$E2E_T/reuse.conf" "$REUSE" reuse "$CREDS" "main:$SMALL" 'main:versions = 3' \
	'main:skip_unchanged_dbs = true'

case_server_copy() {
	local first second u0 u1 u2 dumps=0 db bound
	u0=$(rgw_usage_received "$BUCKET")
	backup "$E2E_T/reuse.conf" "$REUSE"
	first=$NEW
	u1=$(rgw_usage_received "$BUCKET")
	for db in shop crm tiny; do
		dumps=$((dumps + $(stat -c %s "$first/$db.sql.gz")))
	done
	echo "# first run: gateway received $((u1 - u0)) bytes, dumps $dumps bytes"
	((u1 - u0 >= dumps)) || fail "the usage log counts $((u1 - u0)) bytes for $dumps bytes of dumps uploaded"
	next_second
	backup "$E2E_T/reuse.conf" "$REUSE"
	second=$NEW
	[[ $first != "$second" ]] || fail "the second run reused the folder"
	u2=$(rgw_usage_received "$BUCKET")
	for db in shop crm tiny; do
		grep -aqF "DB '$db': Backup is newer than last database change. Reusing previous backup" "$second/oma.log" ||
			fail "unchanged $db was not reused"
		assert_grep "$second/oma.log" "INFO s3: copied $db.sql.gz from $(basename "$first") on the server"
	done
	if grep -aE 's3: uploaded .*\.sql\.gz' "$second/oma.log"; then
		fail "the no-change run uploaded a dump"
	fi
	# The folder's own files and PREFIX/last (< 64 bytes) are all it may send.
	bound=$(nondump_bytes "$second" 64)
	echo "# no-change run: gateway received $((u2 - u1)) bytes; the folder's own files: $bound"
	((u2 - u1 <= bound)) || fail "the no-change run sent $((u2 - u1)) bytes, more than its own files ($bound)"
	assert_remote_folder "$second" reuse
	assert_remote_folder "$first" reuse
	assert_remote_last reuse "$(basename "$second")"
	assert_offsite_result "$second" copied copied
}

RET=$E2E_T/ret
offsite_config "$E2E_T/ret.conf" "$RET" ret "$CREDS" 'main:do_databases = ["tiny"]' 'main:versions = 5' \
	'versions = 2'

case_retention() {
	local runs=() i
	for i in 1 2 3; do
		((i == 1)) || next_second
		backup "$E2E_T/ret.conf" "$RET"
		runs+=("$(basename "$NEW")")
	done
	assert_eq "$(remote_complete ret | tr '\n' ' ')" "${runs[1]} ${runs[2]} " "complete remote folders"
	assert_eq "$(remote_folders ret | tr '\n' ' ')" "${runs[1]} ${runs[2]} " "remote folders"
	assert_grep "$NEW/oma.log" "INFO s3: removed remote folder ${runs[0]}"
	assert_eq "$(backup_folders "$RET" | wc -l)" 3 "local folders (versions = 5)"
	assert_remote_last ret "${runs[2]}"
}

MP=$E2E_T/mp
offsite_config "$E2E_T/mp.conf" "$MP" mp "$CREDS" 'main:do_databases = ["big"]' 'part_size = 5'

case_multipart() {
	local f size etag parts peak
	: >"$E2E_T/hwm.out"
	export LD_PRELOAD=$HWM MEASURE_HWM_FILE=$E2E_T/hwm.out MEASURE_HWM_NAME=oma
	if ((SAN_BUILD)); then
		export ASAN_OPTIONS=$ASAN_OPTIONS:verify_asan_link_order=0
	fi
	backup "$E2E_T/mp.conf" "$MP"
	unset LD_PRELOAD
	f=$NEW/big.sql.gz
	size=$(stat -c %s "$f")
	((size > 3 * 5 * MIB)) || fail "big.sql.gz has $size bytes, fewer than three 5 MiB parts"
	parts=$(((size + 5 * MIB - 1) / (5 * MIB)))
	etag=$(rgw_aws s3api head-object --bucket "$BUCKET" --key "mp/$(basename "$NEW")/big.sql.gz" \
		--query ETag --output text)
	[[ $etag = *"-$parts\""* ]] || fail "ETag $etag: not a multipart object of $parts parts"
	assert_remote_folder "$NEW" mp
	assert_grep "$NEW/oma.log" "INFO s3: uploaded big.sql.gz ($size bytes)"
	assert_eq "$(remote_uploads)" "" "unfinished multipart uploads"
	peak=$(awk '{ print $2 }' "$E2E_T/hwm.out" | sort -n | tail -n 1)
	[[ -n $peak ]] || fail "the oma process did not record its peak RSS"
	echo "# peak RSS of oma uploading $size bytes in 5 MiB parts: $peak kB"
	if ((!SAN_BUILD && peak > 32768)); then
		fail "peak RSS of oma $peak kB > 32 MiB"
	fi
}

# With a wrong secret: exit 4 naming the server's code, the local backup as
# without [s3], the remote side untouched.
case_wrong_secret() {
	local before_local before_remote old n
	[[ -L $FULL/last ]] || fail "no earlier backup (case_complete failed?)"
	before_remote=$(remote_listing full/)
	old=$(backup_folders "$FULL")
	before_local=$(for n in $old; do tree_md5 "$FULL/$n"; done)
	next_second
	backup "$E2E_T/bad.conf" "$FULL" 4
	[[ $old != *"$(basename "$NEW")"* ]] || fail "no new local folder"
	assert_grep "$NEW/oma.log" 'SignatureDoesNotMatch'
	assert_grep "$NEW/oma.log" "ERROR Off-site copy 's3'"
	assert_eq "$(jq -r '.offsite.outcome' "$NEW/result.json")" failed "result.json offsite.outcome"
	if jq -r '.databases[].offsite' "$NEW/result.json" | grep -qx copied; then
		fail "result.json: a database's offsite is copied"
	fi
	jq -r '.offsite.error' "$NEW/result.json" | grep -q SignatureDoesNotMatch ||
		fail "result.json offsite.error does not name SignatureDoesNotMatch"
	# What the Zabbix report sends first; here without a Zabbix server.
	assert_summary_error "$NEW" 1
	assert_eq "$(for n in $old; do tree_md5 "$FULL/$n"; done)" "$before_local" "earlier local folders"
	assert_last "$FULL" "$NEW"
	for n in shop crm tiny; do
		assert_complete_dump "$NEW/$n.sql.gz"
		grep -aqF "DB '$n': Backup successfully" "$NEW/oma.log" || fail "$n was not dumped"
	done
	assert_eq "$(remote_listing full/)" "$before_remote" "remote objects of full/"
}

KILL=$E2E_T/kill
case_gateway_killed() {
	local name stale
	ENDPOINT=$RELAY_ENDPOINT offsite_config "$E2E_T/kill.conf" "$KILL" kill "$CREDS" \
		'main:do_databases = ["big", "tiny"]' 'part_size = 5' 'retries = 2' 'timeout = 10'
	rm -f "$RELAY_HELD" "$RELAY_HANG"
	: >"$RELAY_ARM"
	oma_bg "$E2E_T/kill.conf"
	await 300 "UploadPart held by the relay" test -e "$RELAY_HELD"
	rgw_gateway_stop KILL
	oma_bg_end 600 "$KILL"
	name=$(basename "$NEW")
	assert_rc 4 "$NEW/oma.log"
	assert_summary_error "$NEW" 1
	assert_grep "$NEW/oma.log" "ERROR Off-site copy 's3'"
	assert_eq "$(jq -r '.offsite.outcome' "$NEW/result.json")" failed "result.json offsite.outcome"
	[[ $(jq -r '.databases[] | select(.name == "big") | .offsite' "$NEW/result.json") = failed ]] ||
		fail "result.json: big's offsite is not failed"
	assert_last "$KILL" "$NEW"
	assert_complete_dump "$NEW/big.sql.gz"
	rgw_gateway_start
	assert_eq "$(remote_complete kill)" "" "complete remote folders after the failed copy"
	stale=$(remote_uploads kill/)
	echo "# unfinished uploads after the kill: ${stale:-none}"
	[[ $stale = "kill/$name/big.sql.gz "* ]] || fail "the kill left no unfinished upload of big.sql.gz: '$stale'"
	next_second
	rm -f "$RELAY_ARM"
	backup "$E2E_T/kill.conf" "$KILL"
	assert_eq "$(remote_uploads)" "" "unfinished multipart uploads after the next run"
	assert_remote_folder "$NEW" kill
	assert_remote_last kill "$(basename "$NEW")"
	assert_offsite_result "$NEW" copied copied
}

# --check-config --check-remote: a probe PUT/HEAD/DELETE; the server's code
# named when it fails; the probe leaves nothing behind.
case_check_remote() {
	local before
	before=$(remote_listing '')
	run_oma -c "$E2E_T/full.conf" --check-config --check-remote
	assert_rc 0
	assert_grep "$E2E_OUT" 'Configuration OK'
	run_oma -c "$E2E_T/bad.conf" --check-config --check-remote
	assert_rc 1
	grep -q SignatureDoesNotMatch "$E2E_OUT" "$E2E_ERR" || fail "no SignatureDoesNotMatch in the output: $(cat "$E2E_OUT" "$E2E_ERR")"
	# One line, naming the access key that was refused and where it came from.
	assert_eq "$(grep -c . "$E2E_ERR")" 1 "lines on stderr"
	grep -q "remote check failed: .*(access key .* from " "$E2E_ERR" || fail "the refused key is not named: $(cat "$E2E_ERR")"
	sed 's/^bucket = .*/bucket = "no-such-bucket"/' "$E2E_T/full.conf" >"$E2E_T/nobucket.conf"
	run_oma -c "$E2E_T/nobucket.conf" --check-config --check-remote
	assert_rc 1
	grep -q NoSuchBucket "$E2E_OUT" "$E2E_ERR" || fail "no NoSuchBucket in the output: $(cat "$E2E_OUT" "$E2E_ERR")"
	assert_eq "$(remote_listing '')" "$before" "objects of the bucket after the probes"
}

# ---- faults found by the adversarial test -------------------------------------

# SIGTERM while a part is in flight to a gateway that hangs (the relay holds
# the part, then drops everything): the part is given up at once and the
# AbortMultipartUpload sent while stopping gets one try of at most 5 s, so
# oma ends well within [s3] timeout = 60 (it took 2 x 60: two tries of the
# abort, each waiting out the timeout).
HUNG=$E2E_T/hung
case_stop_hung() {
	local name
	ENDPOINT=$RELAY_ENDPOINT offsite_config "$E2E_T/hung.conf" "$HUNG" hung "$CREDS" \
		'main:do_databases = ["big"]' 'part_size = 5' 'retries = 2' 'timeout = 60'
	rm -f "$RELAY_HELD" "$RELAY_HANG" "$RELAY_HUNG"
	: >"$RELAY_ARM"
	oma_bg "$E2E_T/hung.conf"
	await 300 "UploadPart held by the relay" test -e "$RELAY_HELD"
	: >"$RELAY_HANG"
	kill -TERM "$BG_PID"
	oma_bg_end 30 "$HUNG"
	rm -f "$RELAY_HANG"
	name=$(basename "$NEW")
	assert_rc 4 "$NEW/oma.log"
	assert_grep "$NEW/oma.log" 'ERROR Backup cancelled by signal 15'
	# The abort went out, into the hung server: the bound above is its own.
	assert_file "$RELAY_HUNG"
	echo "# requests the hung relay dropped:"
	sed 's/^/#   /' "$RELAY_HUNG"
	grep -qE "^DELETE /$BUCKET/hung/$name/big\.sql\.gz\?uploadId=" "$RELAY_HUNG" ||
		fail "no AbortMultipartUpload of hung/$name/big.sql.gz reached the hung relay"
	assert_eq "$(jq -r '.outcome' "$NEW/result.json")" failed "result.json outcome"
	assert_eq "$(jq -r '.offsite.outcome' "$NEW/result.json")" failed "result.json offsite.outcome"
	assert_summary_error "$NEW" 1
	assert_eq "$(remote_complete hung)" "" "complete remote folders"
}

# A signal after the dumps, while oma waits for the copies to end (the relay
# holds a part of big.sql.gz): a cancel like any other, "Backup cancelled by
# signal 15", outcome failed, exit 4; the remote folder is not completed and
# PREFIX/last still names the earlier complete folder.
SIGEND=$E2E_T/sigend
case_signal_copies_end() {
	local first name ok cancel
	offsite_config "$E2E_T/sigend1.conf" "$SIGEND" sigend "$CREDS" 'main:do_databases = ["tiny"]'
	ENDPOINT=$RELAY_ENDPOINT offsite_config "$E2E_T/sigend2.conf" "$SIGEND" sigend "$CREDS" \
		'main:do_databases = ["big"]' 'part_size = 5'
	backup "$E2E_T/sigend1.conf" "$SIGEND"
	first=$(basename "$NEW")
	next_second
	rm -f "$RELAY_HELD" "$RELAY_HANG"
	: >"$RELAY_ARM"
	oma_bg "$E2E_T/sigend2.conf"
	await 300 "UploadPart held by the relay" test -e "$RELAY_HELD"
	await 120 "local backup with oma waiting for its copies" copies_ending "$SIGEND"
	kill -TERM "$BG_PID"
	oma_bg_end 120 "$SIGEND"
	name=$(basename "$NEW")
	[[ $name != "$first" ]] || fail "no new local folder"
	assert_rc 4 "$NEW/oma.log"
	ok=$(grep -anE 'INFO Successfully dumped 1 of [0-9]+, failed 0 databases' "$NEW/oma.log" | cut -d: -f1)
	cancel=$(grep -anF 'ERROR Backup cancelled by signal 15' "$NEW/oma.log" | cut -d: -f1)
	[[ -n $ok ]] || fail "the dumps did not end before the signal"
	[[ -n $cancel ]] || fail "no 'ERROR Backup cancelled by signal 15' in $NEW/oma.log"
	((cancel > ok)) || fail "the cancel (line $cancel) came before the dumps ended (line $ok)"
	assert_complete_dump "$NEW/big.sql.gz"
	assert_eq "$(jq -r '.outcome' "$NEW/result.json")" failed "result.json outcome"
	assert_eq "$(jq -r '.exit_code' "$NEW/result.json")" 4 "result.json exit_code"
	assert_eq "$(jq -r '.offsite.outcome' "$NEW/result.json")" failed "result.json offsite.outcome"
	assert_summary_error "$NEW" 1
	assert_eq "$(remote_complete sigend)" "$first" "complete remote folders"
	assert_remote_last sigend "$first"
	assert_eq "$(remote_uploads sigend/)" "" "unfinished uploads below sigend/ (the abort went out)"
}

# Two configurations (other backup_dir) with one prefix: the prefix is the
# first one's (PREFIX/.oma-owner = HOST:BACKUP_DIR); the second is refused
# at begin, exit 4, and neither aborts the first one's upload in flight nor
# prunes its remote folders (versions = 1).
OWN_A=$E2E_T/own-a
OWN_B=$E2E_T/own-b
case_shared_prefix() {
	local host first uploads listing
	host=$(uname -n)
	offsite_config "$E2E_T/own-a1.conf" "$OWN_A" shared "$CREDS" 'main:do_databases = ["tiny"]'
	ENDPOINT=$RELAY_ENDPOINT offsite_config "$E2E_T/own-a2.conf" "$OWN_A" shared "$CREDS" \
		'main:do_databases = ["big"]' 'part_size = 5'
	# B runs while A does: a lock port of its own.
	E2E_LOCK_PORT=$((E2E_LOCK_PORT + 1)) offsite_config "$E2E_T/own-b.conf" "$OWN_B" shared "$CREDS" \
		'main:do_databases = ["tiny"]' 'main:versions = 1'
	backup "$E2E_T/own-a1.conf" "$OWN_A"
	first=$(basename "$NEW")
	assert_grep "$NEW/oma.log" "INFO s3: shared/ in bucket $BUCKET now belongs to $host:$OWN_A"
	assert_eq "$(remote_cat shared/.oma-owner | od -An -c | tr -s ' ')" \
		"$(printf '%s\n' "$host:$OWN_A" | od -An -c | tr -s ' ')" "shared/.oma-owner"
	next_second
	rm -f "$RELAY_HELD" "$RELAY_HANG"
	: >"$RELAY_ARM"
	oma_bg "$E2E_T/own-a2.conf"
	await 300 "UploadPart held by the relay" test -e "$RELAY_HELD"
	uploads=$(remote_uploads shared/)
	[[ $uploads = "shared/oma_"*"/big.sql.gz "* ]] || fail "no upload of big.sql.gz in flight: '$uploads'"
	listing=$(remote_listing shared/)
	backup "$E2E_T/own-b.conf" "$OWN_B" 4
	assert_grep "$NEW/oma.log" "ERROR Off-site copy 's3' failed: s3: shared/ in bucket $BUCKET belongs to another oma backup (shared/.oma-owner says \"$host:$OWN_A\"); this one is $host:$OWN_B: give each backup_dir its own [s3] prefix (nothing was copied, aborted or pruned)"
	assert_no_grep "$NEW/oma.log" 'aborted an unfinished'
	assert_eq "$(jq -r '.offsite.outcome' "$NEW/result.json")" failed "B: result.json offsite.outcome"
	assert_summary_error "$NEW" 1
	assert_complete_dump "$NEW/tiny.sql.gz"
	assert_last "$OWN_B" "$NEW"
	assert_eq "$(remote_uploads shared/)" "$uploads" "uploads below shared/ after B"
	assert_eq "$(remote_listing shared/)" "$listing" "objects below shared/ after B"
	kill -TERM "$BG_PID"
	oma_bg_end 120 "$OWN_A"
	assert_rc 4 "$NEW/oma.log"
	assert_eq "$(remote_complete shared)" "$first" "complete remote folders of A"
	assert_remote_last shared "$first"
}

DEAD_LIST="do_databases = [$(printf '"%s", ' "${DEAD_DBS[@]}" | sed 's/, $//')]"

# Nothing listens at the endpoint: begin() fails after its retries, and
# every file is given up at once after that ("not copied after an earlier
# failure"), instead of each one waiting out the retries again; the dumps
# are all there locally.
DEAD=$E2E_T/dead
case_dead_gateway() {
	local db log j
	ENDPOINT=http://127.0.0.1:1 offsite_config "$E2E_T/dead.conf" "$DEAD" dead "$CREDS" \
		"main:$DEAD_LIST" 'retries = 2'
	backup "$E2E_T/dead.conf" "$DEAD" 4
	log=$NEW/oma.log
	j=$NEW/result.json
	grep -a '; retry ' "$log" || true
	assert_eq "$(grep -ac '; retry [0-9]* of 2 in ' "$log")" 2 "retry warnings (retries = 2, one request)"
	assert_eq "$(grep -ac "ERROR Off-site copy 's3'" "$log")" 1 "off-site errors logged"
	assert_grep "$log" 'INFO Successfully dumped 12 of '
	for db in "${DEAD_DBS[@]}"; do
		assert_complete_dump "$NEW/$db.sql.gz"
		assert_eq "$(jq -r ".databases[] | select(.name == \"$db\") | .offsite" "$j")" failed "offsite of $db"
		jq -r ".databases[] | select(.name == \"$db\") | .offsite_error" "$j" |
			grep -q '^not copied after an earlier failure: ' ||
			fail "offsite_error of $db: $(jq -r ".databases[] | select(.name == \"$db\") | .offsite_error" "$j")"
	done
	assert_eq "$(jq -r '.offsite.outcome' "$j")" failed "result.json offsite.outcome"
	assert_summary_error "$NEW" 1
	assert_last "$DEAD" "$NEW"
}

# begin() runs in a thread of its own: with a gateway that hangs from the
# start ([s3] timeout = 120, retries = 0), all twelve dumps end while
# begin()'s first request still hangs (they waited the 120 s before the
# fix); a SIGTERM then ends the run.
HB=$E2E_T/hb
case_begin_hung() {
	local new
	ENDPOINT=$RELAY_ENDPOINT offsite_config "$E2E_T/hb.conf" "$HB" hungbegin "$CREDS" \
		"main:$DEAD_LIST" 'retries = 0' 'timeout = 120'
	rm -f "$RELAY_HELD" "$RELAY_ARM" "$RELAY_HUNG"
	: >"$RELAY_HANG"
	oma_bg "$E2E_T/hb.conf"
	await 90 "end of the dumps while the gateway hangs" dumps_ended "$HB"
	new=$(newest_folder "$HB")
	assert_no_grep "$new/oma.log" 'Off-site copy'
	grep -qE "^GET /$BUCKET/hungbegin/\.oma-owner " "$RELAY_HUNG" ||
		fail "begin()'s GET of hungbegin/.oma-owner is not what hangs: $(cat "$RELAY_HUNG")"
	kill -TERM "$BG_PID"
	oma_bg_end 30 "$HB"
	rm -f "$RELAY_HANG"
	assert_rc 4 "$NEW/oma.log"
	assert_grep "$NEW/oma.log" 'ERROR Backup cancelled by signal 15'
	for db in "${DEAD_DBS[@]}"; do
		assert_complete_dump "$NEW/$db.sql.gz"
	done
	assert_eq "$(remote_keys hungbegin/)" "" "objects below hungbegin/"
}

# Whether the background oma logged the end of its twelve dumps in the
# newest folder of $1 and a request hangs in the relay.
dumps_ended() {
	local new
	new=$(newest_folder "$1")
	[[ -n $new && -s $RELAY_HUNG ]] &&
		grep -aqF 'INFO Successfully dumped 12 of ' "$new/oma.log"
}

e2e_case "a backup of three databases arrives complete, read back by awscli and s3cmd" case_complete
e2e_case "restore from the remote copy: GET | zcat | mysql, awscli and s3cmd" case_restore
e2e_case "a no-change run copies on the server: no dump bytes received" case_server_copy
e2e_case "remote retention: versions = 2 keeps two complete remote folders" case_retention
e2e_case "a dump above part_size goes multipart, byte-identical; oma RSS <= 32 MiB" case_multipart
e2e_case "a wrong secret: SignatureDoesNotMatch, exit 4, local and remote untouched" case_wrong_secret
e2e_case "--check-config --check-remote: good, wrong secret, missing bucket" case_check_remote
e2e_case "gateway killed mid-upload: exit 4; after a restart the next run completes, no upload left" case_gateway_killed
e2e_case "SIGTERM with a hung gateway mid-upload: exit 4 within 30 s ([s3] timeout = 60), the abort tried" case_stop_hung
e2e_case "a signal while the copies end: cancelled, outcome failed, exit 4, remote folder not completed" case_signal_copies_end
e2e_case "two backup_dirs, one prefix: the second refused (exit 4), the first's copies and upload untouched" case_shared_prefix
e2e_case "a dead gateway: one request's retries, every file given up after, dumps all local, Error=1" case_dead_gateway
e2e_case "a gateway hung from the start: the dumps end while begin() waits; SIGTERM ends the run" case_begin_hung

e2e_finish
