# shellcheck shell=bash
# tests/lib/rgw.sh - start and stop a private single-node Ceph (mon, memstore OSD, radosgw) for S3 tests.
#
# Source this file, then:
#   rgw_start DIR     start a monitor, an in-memory OSD and a radosgw with all
#                     their files in DIR (created; it must be empty or absent),
#                     create an S3 user and wait until the gateway answers
#   rgw_stop          stop the three daemons by PID (SIGTERM, bounded wait,
#                     SIGKILL as a last resort); safe when nothing runs
#   rgw_aws ARGS...   Debian's /usr/bin/aws against the gateway (path style)
#   rgw_s3cmd ARGS... s3cmd against the gateway
#   rgw_gateway_stop [SIGNAL]  stop only radosgw (SIGTERM, or e.g. KILL) and
#                     wait until it is gone; the monitor and the OSD keep
#                     running, and with them every object and unfinished
#                     multipart upload
#   rgw_gateway_start start radosgw again on the same port and wait until it
#                     answers
#   rgw_usage_received BUCKET  bytes the gateway received for BUCKET so far
#                     (all requests, from radosgw's usage log), once every
#                     request made before the call is counted in it
#
# Or run it: `tests/lib/rgw.sh start DIR` starts the daemons, leaves them
# running and prints the path of DIR/env (shell assignments of the variables
# below, for programs such as the C unit tests); `tests/lib/rgw.sh stop DIR`
# stops the daemons whose PIDs DIR/pids lists; `tests/lib/rgw.sh serve DIR`
# starts them, prints DIR/env, and stops them when its stdin closes (so they
# go when the program that started it ends, however it ends).
#
# After rgw_start: RGW_ENDPOINT (http://127.0.0.1:PORT), RGW_PORT,
# RGW_ACCESS_KEY, RGW_SECRET_KEY (generated), RGW_REGION, RGW_DIR, RGW_LOG
# (the gateway's log: one line per request) are set and exported.  The
# usage log is on and flushed every second (rgw_usage_log_tick_interval), so
# `radosgw-admin usage show` counts the bytes each bucket received: an
# account of uploads that does not depend on the client.  Sourced,
# rgw_start registers rgw_stop with at_exit (tests/lib/mariadb.sh, which
# tests/lib/e2e.sh sources) when that exists, else with an EXIT trap.
#
# Everything listens on 127.0.0.1 only; cephx is off inside the throw-away
# cluster (radosgw still checks every S3 signature); the OSD keeps objects in
# memory.  No system service, /etc/ceph or /var/lib/ceph is used.  Missing
# packages are an error (exit status 1 and a message), never a skip.
# Why the configuration is what it is: plugins/store-s3/NOTES.md, "The
# throw-away gateway of the tests".

RGW_DIR=""
RGW_PORT=""
RGW_MON_PORT=""
RGW_ENDPOINT=""
RGW_ACCESS_KEY=""
RGW_SECRET_KEY=""
RGW_REGION=${RGW_REGION:-us-east-1}
RGW_LOG=""
RGW_START_TIMEOUT=${RGW_START_TIMEOUT:-120}
RGW_STOP_TIMEOUT=${RGW_STOP_TIMEOUT:-30}
RGW_AWS_BIN=/usr/bin/aws # not a pyenv or pip awscli earlier on PATH
_RGW_PIDS=()             # "name:pid", in start order
_RGW_EXIT_SET=""
_RGW_FSID=""

# Fail with a message naming every program of the packages that is missing.
_rgw_need() {
	local missing=() p
	for p in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph python3 curl openssl; do
		command -v "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	if ((${#missing[@]} > 0)); then
		printf 'rgw.sh: not found: %s (run scripts/install-deps.sh: ceph-mon ceph-osd radosgw)\n' "${missing[*]}" >&2
		return 1
	fi
}

# Print two free TCP ports on 127.0.0.1 (bound to port 0 and read back).
_rgw_free_ports() {
	python3 - <<-'PY'
		import socket
		s = [socket.socket() for _ in range(2)]
		for x in s:
		    x.bind(("127.0.0.1", 0))
		print(" ".join(str(x.getsockname()[1]) for x in s))
		for x in s:
		    x.close()
	PY
}

# Whether process $1 still runs (a zombie waiting to be reaped does not).
_rgw_alive() {
	local state=""
	kill -0 "$1" 2>/dev/null || return 1
	if [[ -r /proc/$1/stat ]]; then
		read -r _ _ state _ <"/proc/$1/stat" || true
	fi
	[[ $state != Z ]]
}

# Whether process $1 is one of this cluster's daemons (its command line
# names our ceph.conf), so that a PID reused since is never signalled.
_rgw_ours() {
	local cmd=""
	[[ -r /proc/$1/cmdline ]] || return 1
	cmd=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
	[[ $cmd = *"$RGW_DIR/ceph.conf"* ]]
}

# Print the last lines of daemon $1's log and output, for a failed start.
_rgw_show() {
	local f
	for f in "$RGW_DIR/log/$1.log" "$RGW_DIR/$1.out"; do
		if [[ -s $f ]]; then
			printf -- '--- %s:\n' "$f" >&2
			tail -n 15 "$f" >&2
		fi
	done
}

# The ceph CLI against the private cluster, bounded.
_rgw_ceph() {
	timeout 30 ceph -c "$RGW_DIR/ceph.conf" --connect-timeout 20 "$@"
}

# Start daemon NAME (for logs) as COMMAND... in the background, record its
# PID in _RGW_PIDS and DIR/pids.
_rgw_spawn() {
	local name=$1
	shift
	"$@" </dev/null >"$RGW_DIR/$name.out" 2>&1 &
	_RGW_PIDS+=("$name:$!")
	printf '%s %s\n' "$name" "$!" >>"$RGW_DIR/pids"
	# Out of the job table: a gateway killed on purpose (rgw_gateway_stop
	# KILL, maybe in a subshell) gives no "Killed" notice; bash still
	# reaps it, and rgw_stop waits by PID.
	disown "$!" 2>/dev/null || true
}

# Wait until COMMAND... succeeds, at most until $deadline (seconds of
# $SECONDS) and while daemon NAME ($1) runs.  Returns 1 with its log otherwise.
_rgw_wait() {
	local name=$1 pid="" e
	shift
	for e in "${_RGW_PIDS[@]}"; do
		[[ ${e%%:*} = "$name" ]] && pid=${e#*:}
	done
	until "$@" >/dev/null 2>&1; do
		if [[ -n $pid ]] && ! _rgw_alive "$pid"; then
			printf 'rgw.sh: %s exited during start-up\n' "$name" >&2
			_rgw_show "$name"
			return 1
		fi
		if ((SECONDS >= deadline)); then
			printf 'rgw.sh: %s not ready within %ss (waiting for: %s)\n' "$name" "$RGW_START_TIMEOUT" "$*" >&2
			_rgw_show "$name"
			return 1
		fi
		sleep 0.1
	done
}

# Write $RGW_DIR/ceph.conf for ports $RGW_MON_PORT and $RGW_PORT.
_rgw_write_conf() {
	local d=$RGW_DIR
	cat >"$d/ceph.conf" <<-EOF
		[global]
		fsid = $_RGW_FSID
		mon_host = [v2:127.0.0.1:$RGW_MON_PORT]
		mon_initial_members = a
		public_addr = 127.0.0.1
		cluster_addr = 127.0.0.1
		public_network = 127.0.0.0/8
		ms_bind_msgr1 = false
		ms_bind_msgr2 = true
		auth_cluster_required = none
		auth_service_required = none
		auth_client_required = none
		keyring = $d/keyring
		run_dir = $d/run
		admin_socket = $d/run/\$name.asok
		pid_file = $d/run/\$name.pid
		log_file = $d/log/\$name.log
		crash_dir = $d/crash
		tmp_dir = $d/tmp
		osd_pool_default_size = 1
		osd_pool_default_min_size = 1
		osd_pool_default_pg_num = 8
		osd_pool_default_pgp_num = 8
		osd_pool_default_pg_autoscale_mode = off
		osd_crush_chooseleaf_type = 0
		mon_allow_pool_size_one = true
		mon_max_pg_per_osd = 1000
		mon_warn_on_pool_no_redundancy = false
		mon_cluster_log_to_file = false
		[mon]
		mon_data = $d/mon/\$cluster-\$id
		mon_data_avail_crit = 1
		mon_data_avail_warn = 2
		paxos_propose_interval = 0.05
		[osd]
		osd_data = $d/osd/\$cluster-\$id
		osd_objectstore = memstore
		memstore_device_bytes = 8589934592
		[client.rgw]
		rgw_frontends = beast endpoint=127.0.0.1:$RGW_PORT
		rgw_data = $d/rgw
		ms_mon_client_mode = crc
		debug_rgw = 1
		rgw_enable_usage_log = true
		rgw_usage_log_tick_interval = 1
		rgw_usage_log_flush_threshold = 1
	EOF
}

# Write the awscli and s3cmd configuration files for the gateway.
_rgw_write_clients() {
	local d=$RGW_DIR
	printf '[default]\nregion = %s\ns3 =\n    addressing_style = path\n' "$RGW_REGION" >"$d/aws-config"
	printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
		"$RGW_ACCESS_KEY" "$RGW_SECRET_KEY" >"$d/aws-credentials"
	cat >"$d/s3cfg" <<-EOF
		[default]
		access_key = $RGW_ACCESS_KEY
		secret_key = $RGW_SECRET_KEY
		host_base = 127.0.0.1:$RGW_PORT
		host_bucket = 127.0.0.1:$RGW_PORT
		bucket_location = $RGW_REGION
		use_https = False
		signature_v2 = False
	EOF
	chmod 600 "$d/aws-credentials" "$d/s3cfg"
	{
		local v
		for v in RGW_DIR RGW_PORT RGW_ENDPOINT RGW_ACCESS_KEY RGW_SECRET_KEY RGW_REGION RGW_LOG; do
			printf '%s=%q\n' "$v" "${!v}"
		done
	} >"$d/env"
	chmod 600 "$d/env"
}

# Whether the gateway answers an anonymous GET / with 200.
_rgw_http_ok() {
	[[ $(curl -s -m 2 -o /dev/null -w '%{http_code}' "$RGW_ENDPOINT/") = 200 ]]
}

# Whether osd.$1 is up and in.
_rgw_osd_up() {
	_rgw_ceph osd dump 2>/dev/null | grep -qE "^osd\.$1 up +in "
}

# Start the cluster in folder $1 (see the top of the file).  Returns 1 with a
# message on stderr when a package is missing or a daemon does not come up
# within RGW_START_TIMEOUT seconds (what was started is stopped again).
rgw_start() {
	_rgw_need || return 1
	if [[ -n $RGW_DIR && ${#_RGW_PIDS[@]} -gt 0 ]]; then
		echo 'rgw.sh: rgw_start while a gateway runs' >&2
		return 1
	fi
	mkdir -p "$1" || return 1
	RGW_DIR=$(cd "$1" && pwd)
	if [[ -n $(ls -A "$RGW_DIR") ]]; then
		printf 'rgw.sh: %s is not empty\n' "$RGW_DIR" >&2
		return 1
	fi
	if [[ ${#RGW_DIR} -gt 80 ]]; then
		printf 'rgw.sh: folder name too long for the admin sockets: %s\n' "$RGW_DIR" >&2
		return 1
	fi
	mkdir -p "$RGW_DIR"/{run,log,crash,tmp,mon,osd,rgw}
	: >"$RGW_DIR/keyring"
	: >"$RGW_DIR/pids"
	local ports
	ports=$(_rgw_free_ports) || return 1
	read -r RGW_MON_PORT RGW_PORT <<<"$ports"
	RGW_ENDPOINT=http://127.0.0.1:$RGW_PORT
	RGW_LOG=$RGW_DIR/log/client.rgw.log
	RGW_ACCESS_KEY=$(openssl rand -hex 10 | tr a-f A-F)
	RGW_SECRET_KEY=$(openssl rand -base64 30)
	_RGW_FSID=$(</proc/sys/kernel/random/uuid)
	export RGW_DIR RGW_PORT RGW_ENDPOINT RGW_ACCESS_KEY RGW_SECRET_KEY RGW_REGION RGW_LOG
	_rgw_write_conf
	_rgw_write_clients
	if [[ -z $_RGW_EXIT_SET && ${_RGW_NO_EXIT:-} != 1 ]]; then
		if declare -F at_exit >/dev/null; then
			at_exit rgw_stop
		else
			trap rgw_stop EXIT
		fi
		_RGW_EXIT_SET=1
	fi
	local deadline=$((SECONDS + RGW_START_TIMEOUT)) conf=$RGW_DIR/ceph.conf
	if ! _rgw_start_daemons "$conf"; then
		rgw_stop
		return 1
	fi
}

# The steps of rgw_start once the files are written: monitor, OSD, user,
# gateway.  Returns 1 with a message when one of them fails.
_rgw_start_daemons() {
	local conf=$1 log=$RGW_DIR/setup.log uuid id
	if ! monmaptool --create --fsid "$_RGW_FSID" --addv a "[v2:127.0.0.1:$RGW_MON_PORT]" \
		"$RGW_DIR/monmap" >"$log" 2>&1 ||
		! ceph-mon -c "$conf" --mkfs -i a --monmap "$RGW_DIR/monmap" >>"$log" 2>&1; then
		printf 'rgw.sh: creating the monitor failed, %s:\n' "$log" >&2
		tail -n 15 "$log" >&2
		return 1
	fi
	_rgw_spawn mon.a ceph-mon -c "$conf" -i a -f
	uuid=$(</proc/sys/kernel/random/uuid)
	if ! id=$(_rgw_ceph osd new "$uuid" 2>>"$log") || [[ ! $id =~ ^[0-9]+$ ]]; then
		printf 'rgw.sh: "ceph osd new" failed (monitor not reachable?), %s:\n' "$log" >&2
		tail -n 15 "$log" >&2
		_rgw_show mon.a
		return 1
	fi
	mkdir -p "$RGW_DIR/osd/ceph-$id"
	if ! ceph-osd -c "$conf" -i "$id" --mkfs --osd-uuid "$uuid" >>"$log" 2>&1; then
		printf 'rgw.sh: ceph-osd --mkfs failed, %s:\n' "$log" >&2
		tail -n 15 "$log" >&2
		return 1
	fi
	_rgw_spawn "osd.$id" ceph-osd -c "$conf" -i "$id" -f
	_rgw_wait "osd.$id" _rgw_osd_up "$id" || return 1
	if ! timeout 60 radosgw-admin -c "$conf" -n client.rgw user create --uid=tester \
		--display-name=tester --access-key="$RGW_ACCESS_KEY" --secret-key="$RGW_SECRET_KEY" \
		>>"$log" 2>&1; then
		printf 'rgw.sh: radosgw-admin user create failed, %s:\n' "$log" >&2
		tail -n 15 "$log" >&2
		return 1
	fi
	_rgw_spawn client.rgw radosgw -c "$conf" -n client.rgw -f
	_rgw_wait client.rgw _rgw_http_ok || return 1
}

# Stop the daemons started by rgw_start, gateway first, monitor last: SIGTERM,
# wait at most RGW_STOP_TIMEOUT seconds, then SIGKILL.  Safe to call when
# nothing runs.  The data is throw-away; DIR itself stays (the caller's).
rgw_stop() {
	local i name pid deadline
	# DIR/pids is the whole list, also after a subshell restarted the
	# gateway (rgw_gateway_stop/start there change only its own copy).
	if [[ -n $RGW_DIR && -s $RGW_DIR/pids ]]; then
		_RGW_PIDS=()
		while read -r name pid; do
			[[ -n $pid ]] && _RGW_PIDS+=("$name:$pid")
		done <"$RGW_DIR/pids"
	fi
	for ((i = ${#_RGW_PIDS[@]} - 1; i >= 0; i--)); do
		name=${_RGW_PIDS[i]%%:*}
		pid=${_RGW_PIDS[i]#*:}
		if _rgw_ours "$pid"; then
			kill -TERM "$pid" 2>/dev/null || true
		fi
		deadline=$((SECONDS + RGW_STOP_TIMEOUT))
		while _rgw_ours "$pid" && _rgw_alive "$pid"; do
			if ((SECONDS >= deadline)); then
				printf 'rgw.sh: %s (pid %s) did not stop within %ss, killing it\n' "$name" "$pid" "$RGW_STOP_TIMEOUT" >&2
				kill -KILL "$pid" 2>/dev/null || true
				break
			fi
			sleep 0.05
		done
		wait "$pid" 2>/dev/null || true
	done
	_RGW_PIDS=()
	if [[ -n $RGW_DIR ]]; then
		: >"$RGW_DIR/pids"
	fi
}

# Stop only the gateway: signal $1 (default TERM) to radosgw, wait at most
# RGW_STOP_TIMEOUT seconds (then SIGKILL).  Returns 1 when no gateway runs.
rgw_gateway_stop() {
	local sig=${1:-TERM} i pid="" deadline
	for ((i = 0; i < ${#_RGW_PIDS[@]}; i++)); do
		if [[ ${_RGW_PIDS[i]%%:*} = client.rgw ]]; then
			pid=${_RGW_PIDS[i]#*:}
			unset '_RGW_PIDS[i]'
		fi
	done
	_RGW_PIDS=("${_RGW_PIDS[@]}")
	if [[ -z $pid ]] || ! _rgw_ours "$pid"; then
		echo 'rgw.sh: rgw_gateway_stop: no gateway runs' >&2
		return 1
	fi
	kill "-$sig" "$pid" 2>/dev/null || true
	deadline=$((SECONDS + RGW_STOP_TIMEOUT))
	while _rgw_ours "$pid" && _rgw_alive "$pid"; do
		if ((SECONDS >= deadline)); then
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.05
	done
	wait "$pid" 2>/dev/null || true
	grep -v '^client\.rgw ' "$RGW_DIR/pids" >"$RGW_DIR/pids.new" || true
	mv "$RGW_DIR/pids.new" "$RGW_DIR/pids"
}

# Start radosgw again after rgw_gateway_stop (same port, same data) and wait
# until it answers.  Returns 1 with its log when it does not come up.
rgw_gateway_start() {
	local e deadline=$((SECONDS + RGW_START_TIMEOUT))
	for e in "${_RGW_PIDS[@]}"; do
		if [[ ${e%%:*} = client.rgw ]]; then
			echo 'rgw.sh: rgw_gateway_start: the gateway runs' >&2
			return 1
		fi
	done
	_rgw_spawn client.rgw radosgw -c "$RGW_DIR/ceph.conf" -n client.rgw -f
	_rgw_wait client.rgw _rgw_http_ok
}

# radosgw-admin against the private cluster, bounded.
_rgw_admin() {
	timeout 60 radosgw-admin -c "$RGW_DIR/ceph.conf" -n client.rgw "$@"
}

# Field $2 (bytes_received, ops ...) for bucket $1, summed over every
# category and hour of the usage log.
_rgw_usage_sum() {
	_rgw_admin usage show --uid=tester --show-log-entries=true 2>/dev/null |
		python3 -c '
import json, sys
doc, want, field = json.load(sys.stdin), sys.argv[1], sys.argv[2]
print(sum(c[field] for e in doc.get("entries", []) for b in e.get("buckets", [])
          if b.get("bucket") == want for c in b.get("categories", [])))' "$1" "$2"
}

# Print the bytes bucket $1 received so far.  A marker object is put into a
# bucket of its own first (its body is the only bytes that bucket receives),
# and the answer is read once the usage log counts that request: radosgw writes its log in request order, so every earlier
# request is then counted too.  Returns 1 when the usage log does not show
# the marker within RGW_START_TIMEOUT seconds.
rgw_usage_received() {
	local mb=rgw-usage-marker before now deadline=$((SECONDS + RGW_START_TIMEOUT))
	rgw_aws s3api head-bucket --bucket "$mb" >/dev/null 2>&1 ||
		rgw_aws s3api create-bucket --bucket "$mb" >/dev/null || return 1
	before=$(_rgw_usage_sum "$mb" bytes_received) || return 1
	printf 'marker\n' >"$RGW_DIR/tmp/usage-marker"
	rgw_aws s3 cp --only-show-errors "$RGW_DIR/tmp/usage-marker" "s3://$mb/marker" || return 1
	while true; do
		now=$(_rgw_usage_sum "$mb" bytes_received) || return 1
		((now > before)) && break
		if ((SECONDS >= deadline)); then
			echo "rgw.sh: the usage log did not count a request within ${RGW_START_TIMEOUT}s" >&2
			return 1
		fi
		sleep 0.2
	done
	_rgw_usage_sum "$1" bytes_received
}

# Debian's awscli against the gateway, with its own config files (no
# ~/.aws, no instance metadata look-ups).
rgw_aws() {
	env -u AWS_PROFILE -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
		AWS_CONFIG_FILE="$RGW_DIR/aws-config" AWS_SHARED_CREDENTIALS_FILE="$RGW_DIR/aws-credentials" \
		AWS_EC2_METADATA_DISABLED=true AWS_PAGER="" \
		"$RGW_AWS_BIN" --endpoint-url "$RGW_ENDPOINT" "$@"
}

# s3cmd against the gateway, with its own config file.
rgw_s3cmd() {
	s3cmd -c "$RGW_DIR/s3cfg" "$@"
}

# Run as a program: start DIR | stop DIR | serve DIR (see the top of the file).
_rgw_main() {
	case ${1:-}:${2:-} in
	start:?*)
		_RGW_NO_EXIT=1
		rgw_start "$2" || exit 1
		printf '%s\n' "$RGW_DIR/env"
		;;
	serve:?*)
		rgw_start "$2" || exit 1
		printf '%s\n' "$RGW_DIR/env"
		read -r _ || true
		;;
	stop:?*)
		RGW_DIR=$(cd "$2" && pwd) || exit 1
		rgw_stop
		;;
	*)
		echo 'usage: rgw.sh start DIR | rgw.sh stop DIR | rgw.sh serve DIR' >&2
		exit 2
		;;
	esac
}

if [[ ${BASH_SOURCE[0]} = "$0" ]]; then
	set -euo pipefail
	_rgw_main "$@"
fi
