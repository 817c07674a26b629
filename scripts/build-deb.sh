#!/usr/bin/env bash
# build-deb.sh - make the Debian packages oma and oma-dev (dpkg-buildpackage -b -us -uc) from a copy of this tree, into build/deb/.
#
# The copy (build/deb/src) holds what git knows of the tree: tracked and
# new files as they are now, uncommitted changes included, nothing git
# ignores (no build folders); without git, the tree less .git and build*.
# dpkg-buildpackage writes the packages beside the tree it builds, so they
# land in build/deb/: oma_VERSION_ARCH.deb, oma-dev_VERSION_ARCH.deb, the
# .buildinfo and .changes.  Nothing of build/ outside build/deb/ is
# touched (debian/rules builds in build-deb/ of the copy).  The copy is
# removed after a good build, kept after a failed one; the build's output
# is in build/deb/build.log.
#
# Environment: DEB_OUT (default build/deb), DEB_JOBS (default 2).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=${DEB_OUT:-$REPO/build/deb}
SRC=$OUT/src
LOG=$OUT/build.log

# The tree's files, NUL-separated, relative to $REPO.
tree_files() {
	local f
	if git -C "$REPO" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git -C "$REPO" ls-files -z --cached --others --exclude-standard |
			while IFS= read -r -d '' f; do
				# a tracked file deleted in the work tree is not copied
				if [[ -e $REPO/$f || -L $REPO/$f ]]; then
					printf '%s\0' "$f"
				fi
			done
	else
		(cd "$REPO" && find . \( -name .git -o -path './build*' \) -prune -o \
			\( -type f -o -type l \) -print0)
	fi
}

for tool in dpkg-buildpackage dh; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "build-deb.sh: $tool not found (dpkg-dev, debhelper: scripts/install-deps.sh)" >&2
		exit 1
	fi
done

rm -rf -- "$OUT"
mkdir -p "$SRC"
tree_files | tar -C "$REPO" --null -T - -cf - | tar -C "$SRC" -xf -

echo "build-deb.sh: dpkg-buildpackage -b -us -uc in $SRC (log: $LOG)"
if ! (cd "$SRC" && dpkg-buildpackage -b -us -uc -j"${DEB_JOBS:-2}") >"$LOG" 2>&1; then
	tail -n 40 "$LOG" >&2
	echo "build-deb.sh: dpkg-buildpackage failed; the copy stays in $SRC, the log in $LOG" >&2
	exit 1
fi
rm -rf -- "$SRC"
ls -1 "$OUT"/*.deb
