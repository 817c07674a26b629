#!/usr/bin/env bash
# bare-check.sh - prove the README's two commands on a fresh, bare Debian 12 root.
#
# Builds a minimal Debian 12 (bookworm) root with mmdebstrap in a temporary
# folder, copies the committed tree (git archive HEAD: no build folders, no
# uncommitted changes) to /root/oma in it, and runs there, as root with a
# clean environment, exactly
#     scripts/demo.sh
#     make check
# in that order.  Exits non-zero when either fails, when `make check` skips a
# test, or when the root was not bare to begin with.
#
# Nothing is installed into the root beforehand: only what mmdebstrap's
# minbase gives (bash, apt, dpkg), so scripts/install-deps.sh has to bring
# everything else.  A policy-rc.d that answers 101 keeps the packages'
# services (mariadb, rsyslog, zabbix-server) from starting; the tests start
# private servers of their own.  The root is a private bind mount of itself
# (/ is a mount point, as on a real machine) and gets /proc, /sys
# (read-only), /dev, /dev/pts and a private /dev/shm; /tmp is the root's own
# folder, on disk as on a default Debian 12.  It shares this machine's network (Unix sockets and
# 127.0.0.1 are all that the tests use) and uses this machine's apt sources.
#
# At exit, also on failure or a signal, the processes left in the root are
# ended, every mount below it is undone and the folder is removed; it is
# never removed while something is still mounted below it.
#
# Needs root and a Debian-like host; installs mmdebstrap with apt-get when
# missing.  Environment:
#   BARE_CHECK_CACHE  host folder kept between runs for the .deb files that
#                     install-deps.sh downloads in the root, bind-mounted at
#                     its /var/cache/apt/archives (default
#                     /var/cache/oma-bare-check; empty: no cache)
#   BARE_CHECK_TMP    where the temporary root is made (default /var/tmp)
#   BARE_CHECK_SUITE  Debian suite (default bookworm)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${BARE_CHECK_CACHE-/var/cache/oma-bare-check}
SUITE=${BARE_CHECK_SUITE:-bookworm}
SOURCES=/etc/apt/sources.list.d/debian.sources
CHROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

WORK=""
ROOT=""
CHILD=""
T_START=$SECONDS
STEPS=()

say() {
	printf '\n=== bare-check: %s (%ss)\n' "$*" "$((SECONDS - T_START))"
}

die() {
	printf '\nbare-check: FAILED: %s\n' "$*" >&2
	exit 1
}

# Record the duration of a finished step for the summary.
done_step() {
	STEPS+=("$(printf '%6ss  %s' "$2" "$1")")
}

# Mount points at or below $ROOT, deepest first.
mounts_below_root() {
	[[ -n $ROOT ]] || return 0
	# Field 5 of mountinfo is the mount point (octal escapes for odd bytes;
	# the root's own path, from mktemp, has none).
	awk -v r="$ROOT" '$5 == r || index($5, r "/") == 1 { print $5 }' /proc/self/mountinfo |
		awk '{ print length($0), $0 }' | sort -rn | cut -d' ' -f2-
}

# Processes whose root directory is $ROOT (they were started by this script
# through chroot), one pid per line.
procs_in_root() {
	local p link
	[[ -n $ROOT ]] || return 0
	for p in /proc/[0-9]*; do
		link=$(readlink "$p/root" 2>/dev/null) || continue
		if [[ $link = "$ROOT" ]]; then
			printf '%s\n' "${p#/proc/}"
		fi
	done
}

cleanup() {
	local rc=$? pids m i left
	trap '' INT TERM
	set +e
	if [[ -n $ROOT ]]; then
		mapfile -t pids < <(procs_in_root)
		if ((${#pids[@]} > 0)); then
			echo "bare-check: ending ${#pids[@]} process(es) left in the root: ${pids[*]}"
			kill -TERM "${pids[@]}" 2>/dev/null
			for ((i = 0; i < 20; i++)); do
				mapfile -t pids < <(procs_in_root)
				((${#pids[@]} == 0)) && break
				sleep 0.5
			done
			mapfile -t pids < <(procs_in_root)
			((${#pids[@]} > 0)) && kill -KILL "${pids[@]}" 2>/dev/null && sleep 1
		fi
	fi
	if [[ -n $CHILD ]]; then
		kill -TERM "$CHILD" 2>/dev/null
		wait "$CHILD" 2>/dev/null
	fi
	for ((i = 0; i < 3; i++)); do
		mapfile -t left < <(mounts_below_root)
		((${#left[@]} == 0)) && break
		for m in "${left[@]}"; do
			umount "$m" 2>/dev/null || ((i < 2)) || umount -l "$m"
		done
	done
	mapfile -t left < <(mounts_below_root)
	if ((${#left[@]} > 0)); then
		printf 'bare-check: still mounted, NOT removing %s:\n' "$WORK" >&2
		printf '  %s\n' "${left[@]}" >&2
		rc=1
	elif [[ -n $WORK && -d $WORK ]]; then
		rm -rf --one-file-system -- "$WORK"
	fi
	exit "$rc"
}

# Mount inside the root, e.g. `mnt -t proc proc /proc`: the last argument is
# the mount point below $ROOT.
mnt() {
	local target=$ROOT${*: -1}
	mkdir -p "$target"
	mount "${@:1:$#-1}" "$target"
}

# Run shell command $2 in /root/oma inside the root with a clean environment;
# its output is shown and kept in $WORK/$1.log.  Sets RC.
in_root() {
	local log=$WORK/$1.log
	{
		env -i PATH="$CHROOT_PATH" HOME=/root TERM=dumb LANG=C.UTF-8 \
			chroot "$ROOT" /bin/bash -c "cd /root/oma && $2" 2>&1 | tee "$log"
		exit "${PIPESTATUS[0]}"
	} </dev/null &
	CHILD=$!
	RC=0
	wait "$CHILD" || RC=$?
	CHILD=""
}

[[ $(id -u) = 0 ]] || die "needs root (mmdebstrap, mount, chroot)"
command -v apt-get >/dev/null 2>&1 || die "needs a Debian-like host with apt-get"
[[ -f $SOURCES ]] || die "no $SOURCES to take the apt sources from"

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# shellcheck source=/dev/null
say "host: $(. /etc/os-release && echo "$PRETTY_NAME"), $(nproc) cores; tree: $REPO"
if ! command -v mmdebstrap >/dev/null 2>&1; then
	say "installing mmdebstrap on the host"
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mmdebstrap
fi

WORK=$(mktemp -d "${BARE_CHECK_TMP:-/var/tmp}/oma-bare-check.XXXXXX")
# Traversable, so that apt's _apt user can reach the root's folders while
# mmdebstrap downloads.
chmod 0755 "$WORK"
ROOT=$WORK/root

say "mmdebstrap --variant=minbase $SUITE $ROOT"
t=$SECONDS
# Its own downloads are not cached: its time goes into dpkg, not the
# download (docs/PERFORMANCE.md "Tooling: make bare-check does not cache").
mmdebstrap --variant=minbase --mode=root "$SUITE" "$ROOT" "$SOURCES" ||
	die "mmdebstrap (exit $?)"
done_step "mmdebstrap minbase $SUITE" $((SECONDS - t))

# No service may start from a package's maintainer script (invoke-rc.d asks
# this file; 101 = action forbidden).
printf '#!/bin/sh\n# bare-check.sh: no services in this root\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 0755 "$ROOT/usr/sbin/policy-rc.d"

say "copying the committed tree (git archive HEAD) to /root/oma"
if ! git -C "$REPO" rev-parse --verify -q HEAD >/dev/null; then
	die "$REPO is not a git checkout with a commit (the committed tree is what is tested)"
fi
if [[ -n $(git -C "$REPO" status --porcelain --untracked-files=no) ]]; then
	echo "bare-check: note: uncommitted changes in $REPO are not tested"
fi
mkdir -p "$ROOT/root/oma"
git -C "$REPO" archive --format=tar HEAD | tar -x -C "$ROOT/root/oma"
echo "HEAD $(git -C "$REPO" log -1 --format='%h %s')"

say "mounting /, /proc, /sys, /dev, /dev/pts, /dev/shm${CACHE:+ and the apt cache}"
# The root folder bound onto itself, private: / is a mount point of its own
# as on a real machine (a test that makes / private in a mount namespace of
# its own, to hide /proc, needs that), and nothing mounted below it shows
# up elsewhere.
mount --bind "$ROOT" "$ROOT"
mount --make-private "$ROOT"
mnt -t proc proc /proc
mnt -t sysfs -o ro,nosuid,nodev,noexec sysfs /sys
mnt --bind /dev /dev
mnt --bind /dev/pts /dev/pts
mnt -t tmpfs -o nosuid,nodev,mode=1777 shm /dev/shm
if [[ -n $CACHE ]]; then
	# install-deps.sh's apt-get keeps its .deb files here for the next run.
	mkdir -p "$CACHE"
	mnt --bind "$CACHE" /var/cache/apt/archives
fi
mounts_below_root | sed 's/^/  /'

say "the root is bare: none of cc, make, pkg-config, mariadbd, mariadb, jq, python3, openssl"
# shellcheck disable=SC2016 # expanded inside the root
in_root bare 'for t in cc make pkg-config mariadbd mariadb jq python3 openssl; do
	if command -v "$t"; then echo "bare-check: $t is already installed"; exit 1; fi
done; echo "bare: yes ($(dpkg-query -W | wc -l) packages)"'
((RC == 0)) || die "the root made by mmdebstrap is not bare"

say "chroot: scripts/demo.sh"
t=$SECONDS
in_root demo scripts/demo.sh
done_step "scripts/demo.sh (exit $RC)" $((SECONDS - t))
((RC == 0)) || die "scripts/demo.sh exited $RC inside the bare root"

say "chroot: make check"
t=$SECONDS
in_root check 'make check'
done_step "make check (exit $RC)" $((SECONDS - t))
SUMMARY=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$WORK/check.log" | tail -n 1 || true)
# Skips: an e2e case's "ok - ... # SKIP", a check binary's "NAME: skipped (why)".
SKIPS=$(grep -E '^ok - .*# SKIP|^[a-z_]+: skipped \(' "$WORK/check.log" || true)

say "summary"
printf '%s\n' "${STEPS[@]}"
printf '%6ss  total\n' "$((SECONDS - T_START))"
echo "make check: ${SUMMARY:-no summary line}"
((RC == 0)) || die "make check exited $RC inside the bare root"
[[ -n $SUMMARY ]] || die "make check printed no 'N passed, M failed' line"
if [[ -n $SKIPS ]]; then
	printf '%s\n' "$SKIPS"
	die "make check skipped tests inside the bare root (a package missing from scripts/install-deps.sh?)"
fi
echo "bare-check: both commands passed on a bare $SUITE root"
