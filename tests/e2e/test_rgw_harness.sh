#!/usr/bin/env bash
# test_rgw_harness.sh - end-to-end: tests/lib/rgw.sh starts a real Ceph RADOS Gateway that S3 clients can use, and stops it.
#
# The gateway (a private monitor, an in-memory OSD and radosgw on
# 127.0.0.1, tests/lib/rgw.sh) is started once; its start-up time is printed
# as a "#" line.  Debian's awscli (/usr/bin/aws) and s3cmd then create a
# bucket, put and get objects byte for byte, and a wrong secret key is
# refused with 403 SignatureDoesNotMatch.  The usage log counts uploaded
# bytes (not server-side copies); radosgw alone is killed and restarted on
# the same data.  The library's program mode (start
# DIR / stop DIR, used by the C unit tests), its refusal when the Ceph
# packages are missing, and the stop (no daemon left, port closed) are
# checked too.  Needs ceph-mon, ceph-osd, radosgw, awscli and s3cmd
# (scripts/install-deps.sh); without them the test fails, it never skips.
# shellcheck disable=SC2317 # functions are called through e2e_case
set -euo pipefail

# shellcheck source=tests/lib/e2e.sh
. "$(dirname "$0")/../lib/e2e.sh"
# shellcheck source=tests/lib/rgw.sh
. "$E2E_REPO/tests/lib/rgw.sh"

# Requests go straight to 127.0.0.1, whatever proxy the caller uses.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

for tool in "$RGW_AWS_BIN" s3cmd curl sha256sum; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		printf 'not ok - setup: %s not found (run scripts/install-deps.sh)\n' "$tool"
		exit 1
	fi
done

e2e_setup nodb

T0=${EPOCHREALTIME/[.,]/}
if ! rgw_start "$E2E_T/rgw" >"$E2E_T/rgw-start.log" 2>&1; then
	echo 'not ok - setup: the private Ceph RADOS Gateway did not start'
	sed 's/^/#   /' "$E2E_T/rgw-start.log"
	exit 1
fi
MS=$(((${EPOCHREALTIME/[.,]/} - T0) / 1000))
printf '# rgw start-up (mon + memstore OSD + user + radosgw): %d.%03d s\n' $((MS / 1000)) $((MS % 1000))

BUCKET=harness

# HTTP status and body of a signed curl request with secret $1 to path $2.
signed_curl() {
	curl -s -m 20 -o "$E2E_T/curl.body" -w '%{http_code}' --aws-sigv4 "aws:amz:$RGW_REGION:s3" \
		--user "$RGW_ACCESS_KEY:$1" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$RGW_ENDPOINT$2"
}

case_bucket() {
	rgw_aws s3api create-bucket --bucket "$BUCKET" >"$E2E_T/cb.out"
	rgw_aws s3api list-buckets --query 'Buckets[].Name' --output text >"$E2E_T/lb.out"
	assert_eq "$(cat "$E2E_T/lb.out")" "$BUCKET" "buckets"
}

case_put_get_aws() {
	head -c 3000000 /dev/urandom >"$E2E_T/obj.bin"
	rgw_aws s3 cp --only-show-errors "$E2E_T/obj.bin" "s3://$BUCKET/dir/obj.bin"
	rgw_aws s3 cp --only-show-errors "s3://$BUCKET/dir/obj.bin" "$E2E_T/obj.back"
	cmp "$E2E_T/obj.bin" "$E2E_T/obj.back" || fail "object read back differs"
	rgw_aws s3api head-object --bucket "$BUCKET" --key dir/obj.bin \
		--query ContentLength --output text >"$E2E_T/len"
	assert_eq "$(cat "$E2E_T/len")" 3000000 "ContentLength"
}

# s3cmd, a second client, reads what awscli wrote and the other way round.
case_second_client() {
	printf 'via s3cmd\n' >"$E2E_T/s.txt"
	rgw_s3cmd -q put "$E2E_T/s.txt" "s3://$BUCKET/s.txt"
	rgw_aws s3 cp --only-show-errors "s3://$BUCKET/s.txt" "$E2E_T/s.back"
	cmp "$E2E_T/s.txt" "$E2E_T/s.back" || fail "awscli reads other bytes than s3cmd wrote"
	[[ -f $E2E_T/obj.bin ]] || head -c 3000000 /dev/urandom >"$E2E_T/obj.bin"
	rgw_aws s3 cp --only-show-errors "$E2E_T/obj.bin" "s3://$BUCKET/dir/obj2.bin"
	rgw_s3cmd -q get --force "s3://$BUCKET/dir/obj2.bin" "$E2E_T/obj2.back"
	cmp "$E2E_T/obj.bin" "$E2E_T/obj2.back" || fail "s3cmd reads other bytes than awscli wrote"
	rgw_s3cmd ls "s3://$BUCKET/" >"$E2E_T/ls.out"
	assert_grep "$E2E_T/ls.out" "s3://$BUCKET/s.txt"
}

# The gateway checks signatures: the right secret gets 200, a wrong one 403
# SignatureDoesNotMatch (from curl and from s3cmd).
case_wrong_secret() {
	local code
	code=$(signed_curl "$RGW_SECRET_KEY" "/$BUCKET/")
	assert_eq "$code" 200 "status with the right secret"
	code=$(signed_curl "wrong$RGW_SECRET_KEY" "/$BUCKET/")
	assert_eq "$code" 403 "status with a wrong secret"
	assert_grep "$E2E_T/curl.body" '<Code>SignatureDoesNotMatch</Code>'
	sed "s|^secret_key = .*|secret_key = wrong|" "$RGW_DIR/s3cfg" >"$E2E_T/bad.s3cfg"
	local rc=0
	s3cmd -c "$E2E_T/bad.s3cfg" ls "s3://$BUCKET/" >"$E2E_T/bad.out" 2>&1 || rc=$?
	((rc != 0)) || fail "s3cmd with a wrong secret succeeded"
	assert_grep "$E2E_T/bad.out" 'SignatureDoesNotMatch'
}

# The usage log counts the bytes a bucket received: a 1,000,000-byte upload
# adds at least that much, a server-side copy and GETs add nothing.
case_usage() {
	local u0 u1 u2
	u0=$(rgw_usage_received "$BUCKET")
	head -c 1000000 /dev/urandom >"$E2E_T/u.bin"
	rgw_aws s3 cp --only-show-errors "$E2E_T/u.bin" "s3://$BUCKET/u.bin"
	u1=$(rgw_usage_received "$BUCKET")
	((u1 - u0 >= 1000000 && u1 - u0 < 1001000)) || fail "received $((u1 - u0)) bytes for a 1000000-byte upload"
	rgw_aws s3api copy-object --bucket "$BUCKET" --key u2.bin --copy-source "$BUCKET/u.bin" >/dev/null
	rgw_aws s3 cp --only-show-errors "s3://$BUCKET/u2.bin" "$E2E_T/u2.back"
	cmp "$E2E_T/u.bin" "$E2E_T/u2.back" || fail "the copy differs"
	u2=$(rgw_usage_received "$BUCKET")
	assert_eq "$((u2 - u1))" 0 "bytes received for a server-side copy and a GET"
}

# radosgw alone killed and started again: the port closes and opens, the
# objects and an unfinished multipart upload survive; rgw_stop (in the main
# shell) later stops the new gateway too, through DIR/pids.
case_gateway_restart() {
	local id code
	id=$(rgw_aws s3api create-multipart-upload --bucket "$BUCKET" --key mpu.bin --query UploadId --output text)
	rgw_gateway_stop KILL
	code=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$RGW_ENDPOINT/" || true)
	assert_eq "$code" 000 "HTTP status with the gateway stopped"
	assert_eq "$(grep -c '^client\.rgw ' "$RGW_DIR/pids" || true)" 0 "gateways in DIR/pids after the stop"
	rgw_gateway_start
	assert_eq "$(grep -c '^client\.rgw ' "$RGW_DIR/pids")" 1 "gateways in DIR/pids after the start"
	rgw_aws s3 cp --only-show-errors "s3://$BUCKET/dir/obj.bin" "$E2E_T/obj.again"
	cmp "$E2E_T/obj.bin" "$E2E_T/obj.again" || fail "the object differs after the restart"
	rgw_aws s3api list-multipart-uploads --bucket "$BUCKET" --query 'Uploads[].UploadId' \
		--output text >"$E2E_T/mpu.out"
	assert_eq "$(cat "$E2E_T/mpu.out")" "$id" "unfinished uploads after the restart"
	rgw_aws s3api abort-multipart-upload --bucket "$BUCKET" --key mpu.bin --upload-id "$id"
}

# Without the Ceph programs on PATH, rgw.sh fails and names them.
case_missing_packages() {
	local rc=0
	env PATH=/nonexistent /bin/bash "$E2E_REPO/tests/lib/rgw.sh" start "$E2E_T/none" \
		>"$E2E_T/none.out" 2>&1 || rc=$?
	assert_eq "$rc" 1 "exit status"
	assert_grep "$E2E_T/none.out" 'rgw.sh: not found: ceph-mon ceph-osd radosgw'
	assert_no_path "$E2E_T/none"
}

# Program mode: start DIR prints DIR/env and leaves the daemons running;
# stop DIR stops exactly the PIDs of DIR/pids.
case_program_mode() {
	local d=$E2E_T/prog env name pid
	env=$(bash "$E2E_REPO/tests/lib/rgw.sh" start "$d")
	assert_eq "$env" "$d/env" "printed env file"
	(
		# shellcheck source=/dev/null
		. "$env"
		[[ $RGW_ENDPOINT = http://127.0.0.1:* && -n $RGW_SECRET_KEY ]] || exit 1
		code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$RGW_ENDPOINT/")
		[[ $code = 200 ]]
	) || fail "the gateway of $env does not answer"
	cp "$d/pids" "$E2E_T/prog.pids"
	assert_eq "$(wc -l <"$d/pids")" 3 "daemons in $d/pids"
	bash "$E2E_REPO/tests/lib/rgw.sh" stop "$d"
	while read -r name pid; do
		if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$d/ceph.conf"; then
			fail "$name (pid $pid) still runs after stop"
		fi
	done <"$E2E_T/prog.pids"
}

# rgw_stop stops the three daemons and closes the S3 port; a second call is
# harmless.  (Runs last: the other cases need the gateway.)
case_stop() {
	local name pid
	local -a pids=()
	while read -r name pid; do
		pids+=("$pid")
	done <"$RGW_DIR/pids"
	assert_eq "${#pids[@]}" 3 "daemons running"
	rgw_stop
	for pid in "${pids[@]}"; do
		if _rgw_alive "$pid"; then
			fail "pid $pid still runs after rgw_stop"
		fi
	done
	local code
	code=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$RGW_ENDPOINT/" || true)
	assert_eq "$code" 000 "HTTP status after the stop"
	rgw_stop
}

e2e_case "create a bucket with awscli" case_bucket
e2e_case "put and get a 3 MB object with awscli, byte-identical" case_put_get_aws
e2e_case "s3cmd and awscli read each other's objects" case_second_client
e2e_case "a wrong secret key is refused with 403 SignatureDoesNotMatch" case_wrong_secret
e2e_case "the usage log counts uploaded bytes, not server-side copies or GETs" case_usage
e2e_case "radosgw alone killed and restarted keeps objects and uploads" case_gateway_restart
e2e_case "rgw.sh fails loudly when the Ceph packages are missing" case_missing_packages
e2e_case "program mode: start DIR / stop DIR" case_program_mode
e2e_case "rgw_stop stops every daemon and closes the port" case_stop
e2e_finish
