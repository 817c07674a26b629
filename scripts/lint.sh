#!/usr/bin/env bash
# lint.sh - the checks the house relies on: banned C functions, the warning flags, C layout, shellcheck.
#
#   scripts/lint.sh [--only banned|flags|format|shell] [ROOT]
#   scripts/lint.sh --print-c-sources     the C sources it checks (make format)
#
# ROOT (default: this repository) is the tree to check; tests/e2e/test_lint.sh
# runs it on temporary copies with a planted fault.  Every finding is one
# line "FILE:LINE: what (use what instead)"; the last line says how many
# there were.  Exits 1 when anything was found, or when a check found
# nothing to look at (a lint that checks nothing must not pass).  `make
# lint` runs it; tests/run-all.sh runs it first in `make check`, as one test.
set -euo pipefail

ONLY=""
PRINT_SOURCES=0
if [[ ${1:-} = --print-c-sources ]]; then
	PRINT_SOURCES=1
	shift
fi
if [[ ${1:-} = --only ]]; then
	ONLY=${2:?--only needs banned, flags, format or shell}
	shift 2
fi
ROOT=$(cd "${1:-$(dirname "$0")/..}" && pwd)
cd "$ROOT"

PROBLEMS=0
OUT=$(mktemp /tmp/oma-lint.XXXXXX)
trap 'rm -f "$OUT"' EXIT

# Print finding lines from file $1 and count them.
report() {
	local n
	n=$(grep -c '' "$1" || true)
	if ((n > 0)); then
		cat "$1"
		PROBLEMS=$((PROBLEMS + n))
	fi
}

# ---- banned functions ---------------------------------------------------------
#
# Like curl's checksrc: calls of functions that have bitten C programs too
# often, found as a name followed by "(" outside comments, strings and
# character literals, not as a member (".f(", "->f(") and not as part of a
# longer name.  NAME:REPLACEMENT; the first list holds everywhere, the
# second in the code that ships (core, plugins, include, examples).
#
# - No bound, or one that silently cuts or leaves no NUL: sprintf, vsprintf,
#   strcpy, stpcpy, strcat, strncpy, stpncpy, strncat (and their wide
#   forms), gets, getwd.
# - No error report (0 for "0" and for "x", overflow undefined): atoi,
#   atol, atoll, atof.
# - Hidden static state, wrong as soon as a second thread (dump workers,
#   compressor threads) calls them: strtok, asctime, ctime, gmtime,
#   localtime (use the _r forms).
# - Races on temporary names: tmpnam, tempnam, mktemp.
# - Stack allocation without a check: alloca (and VLAs: -Wvla).
# - A child sharing the parent's memory: vfork.
# - Shipped code only: system and popen go through /bin/sh (a database
#   name must never pass through a shell: docs/BEHAVIOUR.md "Upstream
#   defects oma does not copy"); the scanf family has undefined behaviour
#   on numeric overflow and unbounded %s; signal()'s semantics differ
#   between systems (use sigaction).  Tests and bench/ drive shell tools
#   (gzip -t, python3, rm -rf of their own temp folders) with strings they
#   build themselves and read /proc with fscanf, so there these are allowed.
# - Not banned: strerror (glibc's is thread-safe), strtok_r, access (only
#   to look for executables, never to decide before an open).
BANNED_ALL="\
sprintf:snprintf (check for truncation) or xasprintf
vsprintf:vsnprintf (check for truncation)
strcpy:snprintf or memcpy with a known length
stpcpy:snprintf or memcpy with a known length
strcat:snprintf at an offset, or xasprintf
strncpy:snprintf or memcpy with a known length
stpncpy:snprintf or memcpy with a known length
strncat:snprintf at an offset, or xasprintf
wcscpy:snprintf or memcpy with a known length
wcscat:snprintf at an offset
wcsncpy:snprintf or memcpy with a known length
wcsncat:snprintf at an offset
gets:fgets
getwd:getcwd
atoi:strtol with end and errno checks (parse_long)
atol:strtol with end and errno checks (parse_long)
atoll:strtoll with end and errno checks
atof:strtod with end and errno checks
strtok:strtok_r
asctime:strftime
ctime:localtime_r and strftime
gmtime:gmtime_r
localtime:localtime_r
tmpnam:mkstemp or mkdtemp
tempnam:mkstemp or mkdtemp
mktemp:mkstemp or mkdtemp
alloca:malloc, or an array of fixed size
vfork:posix_spawn (proc_start)"
BANNED_SHIPPED="\
system:posix_spawn with an argument vector (proc_run), no shell
popen:posix_spawn with an argument vector (proc_start), no shell
sscanf:strtol / strtoull with end checks
fscanf:fgets, then strtol / strtoull with end checks
scanf:fgets, then strtol / strtoull with end checks
vsscanf:strtol / strtoull with end checks
vfscanf:fgets, then strtol / strtoull with end checks
vscanf:fgets, then strtol / strtoull with end checks
signal:sigaction"

# Our C sources, one per line, sorted.
c_sources() {
	find core common plugins include examples tests bench -type f \
		\( -name '*.c' -o -name '*.h' \) -not -path 'tests/fuzz/corpus/*' 2>/dev/null | LC_ALL=C sort
}

check_banned() {
	local files=()
	mapfile -t files < <(c_sources)
	if ((${#files[@]} == 0)); then
		echo "lint: banned functions: no C sources found under $ROOT" >"$OUT"
		report "$OUT"
		return
	fi
	awk -v all="$BANNED_ALL" -v shipped="$BANNED_SHIPPED" -v sq="'" '
	function load(list, scope,    n, i, lines, k, name) {
		n = split(list, lines, "\n")
		for (i = 1; i <= n; i++) {
			k = index(lines[i], ":")
			name = substr(lines[i], 1, k - 1)
			use[name] = substr(lines[i], k + 1)
			where[name] = scope
			names = names (names == "" ? "" : "|") name
		}
	}
	BEGIN {
		load(all, "all")
		load(shipped, "shipped")
		call = "(^|[^A-Za-z0-9_.>])(" names ")[ \t]*[(]"
		opener = "[\"" sq "]|/[*]|//"
	}
	FNR == 1 {
		comment = 0
		quote = ""
		tool = FILENAME ~ /^(tests|bench)\//
	}
	{
		# The line with comments dropped and literals emptied.
		rest = $0
		code = ""
		while (rest != "") {
			if (comment) {
				k = index(rest, "*/")
				if (k == 0)
					break
				rest = substr(rest, k + 2)
				comment = 0
				code = code " "
			} else if (quote != "") {
				kq = index(rest, quote)
				kb = index(rest, "\\")
				if (kq == 0 && kb == 0)
					break
				if (kb > 0 && (kq == 0 || kb < kq)) {
					rest = substr(rest, kb + 2)
				} else {
					rest = substr(rest, kq + 1)
					code = code quote
					quote = ""
				}
			} else if (match(rest, opener)) {
				code = code substr(rest, 1, RSTART - 1)
				tok = substr(rest, RSTART, RLENGTH)
				rest = substr(rest, RSTART + RLENGTH)
				if (tok == "//")
					break
				if (tok == "/*") {
					comment = 1
				} else {
					quote = tok
					code = code tok
				}
			} else {
				code = code rest
				break
			}
		}
		# A literal ends with its line unless the line is continued.
		if (quote != "" && substr($0, length($0), 1) != "\\")
			quote = ""
		while (match(code, call)) {
			hit = substr(code, RSTART, RLENGTH)
			code = substr(code, RSTART + RLENGTH)
			sub(/^[^A-Za-z_]/, "", hit)
			sub(/[ \t]*[(]$/, "", hit)
			if (!(tool && where[hit] == "shipped"))
				printf "%s:%d: banned function %s (use %s)\n", FILENAME, FNR, hit, use[hit]
		}
	}' "${files[@]}" >"$OUT"
	report "$OUT"
	CHECKED="${#files[@]} C files"
}

# ---- warning flags ------------------------------------------------------------
#
# The compiler enforces these (with -Werror) on every build of core,
# plugins and tests, and on the fuzz build: here only that the Makefile
# still passes them, and that nothing turns one off again.
REQUIRED_FLAGS=(-Wall -Wextra -Werror -Wshadow -Wformat=2 -Wvla)

check_flags() {
	local var value flag
	if [[ ! -f Makefile ]]; then
		echo "Makefile:0: no Makefile to read the warning flags from" >"$OUT"
		report "$OUT"
		return
	fi
	: >"$OUT"
	for var in ALL_CFLAGS FUZZ_CFLAGS; do
		value=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory -f Makefile \
			--eval "lint-print-flags: ; \$(info \$($var))@:" lint-print-flags 2>&1) || {
			echo "Makefile:0: cannot read $var: $value" >>"$OUT"
			continue
		}
		for flag in "${REQUIRED_FLAGS[@]}"; do
			if [[ " $value " != *" $flag "* ]]; then
				echo "Makefile:0: $var lacks $flag (WARN must hold ${REQUIRED_FLAGS[*]})" >>"$OUT"
			fi
		done
		for flag in $value; do
			case $flag in
			-Wno-error* | -Wno-shadow* | -Wno-format* | -Wno-vla* | -Wformat=[01])
				echo "Makefile:0: $var turns a required warning off: $flag" >>"$OUT"
				;;
			esac
		done
	done
	# ... nor a pragma in a source file.
	grep -nE '^[[:space:]]*#[[:space:]]*pragma[[:space:]]+(GCC|clang)[[:space:]]+diagnostic[[:space:]]+(ignored|warning)' \
		-r --include='*.[ch]' core plugins include examples tests bench 2>/dev/null |
		sed -E 's/^([^:]*:[0-9]+):.*/\1: a pragma turns a warning off (fix the code instead)/' >>"$OUT" || true
	report "$OUT"
}

# ---- shellcheck ---------------------------------------------------------------
#
# Every shell script: *.sh, and any other file whose first line is a sh or
# bash shebang (.ci/run, debian's maintainer scripts), outside .git and the
# build folders.  Sourced
# files are followed (-x; paths from the repository root).  A disable
# directive must say why on its own line, after a second "#".

shell_scripts() {
	find . \( -name .git -o -path './build*' -o -path ./tests/fuzz/corpus \) -prune -o \
		-type f -print | sed 's|^\./||' | LC_ALL=C sort |
		while IFS= read -r f; do
			if [[ $f = *.sh ]]; then
				printf '%s\n' "$f"
			elif [[ $f != *.* || $f = .ci/* || $f = debian/*.post* || $f = debian/*.pre* ]] &&
				[[ -r $f ]] &&
				head -n 1 -- "$f" 2>/dev/null | grep -qE '^#!.*[/ ](ba|da|k)?sh([[:space:]]|$)'; then
				printf '%s\n' "$f"
			fi
		done
}

# ---- layout ------------------------------------------------------------------

# Every C source as clang-format (Debian's clang-format 14) lays it out
# with the checked-in .clang-format: layout stays out of reviews.  One line
# per file that differs; `make format` rewrites them.
check_format() {
	local files=() f
	mapfile -t files < <(c_sources)
	if [[ ! -f .clang-format ]]; then
		echo "lint: format: no .clang-format in $ROOT" >"$OUT"
		report "$OUT"
		return
	fi
	if ! command -v clang-format >/dev/null 2>&1; then
		echo "lint: clang-format not found (Debian package clang-format; scripts/install-deps.sh installs it)" >"$OUT"
		report "$OUT"
		return
	fi
	: >"$OUT"
	for f in "${files[@]}"; do
		if ! clang-format --style=file "$f" | cmp -s - "$f"; then
			echo "$f:1: not laid out as .clang-format says (run make format)" >>"$OUT"
		fi
	done
	report "$OUT"
}

check_shell() {
	local scripts=()
	mapfile -t scripts < <(shell_scripts)
	if ((${#scripts[@]} == 0)); then
		echo "lint: shellcheck: no shell scripts found under $ROOT" >"$OUT"
		report "$OUT"
		return
	fi
	if ! command -v shellcheck >/dev/null 2>&1; then
		echo "lint: shellcheck not found (Debian package shellcheck; scripts/install-deps.sh installs it)" >"$OUT"
		report "$OUT"
		return
	fi
	# Two at a time: the machine has two cores, and shellcheck is most of
	# the lint's time.
	printf '%s\0' "${scripts[@]}" |
		xargs -0 -n 2 -P 2 shellcheck -x -f gcc >"$OUT" 2>&1 || true
	grep -nE '#[[:space:]]*shellcheck[[:space:]]+disable=' -- "${scripts[@]}" |
		grep -vE 'disable=[A-Z0-9,]+[[:space:]]+#[[:space:]]*[^[:space:]]' |
		sed -E 's/^([^:]*:[0-9]+):.*/\1: shellcheck disable without a reason (add "# why" after the codes)/' \
			>>"$OUT" || true
	report "$OUT"
	CHECKED_SH="${#scripts[@]} shell scripts"
}

if ((PRINT_SOURCES)); then
	c_sources
	exit 0
fi

CHECKED="" CHECKED_SH=""
case $ONLY in
'') check_banned; check_flags; check_format; check_shell ;;
banned) check_banned ;;
flags) check_flags ;;
format) check_format ;;
shell) check_shell ;;
*) echo "lint.sh: unknown check '$ONLY' (banned, flags, format or shell)" >&2; exit 2 ;;
esac

what="${CHECKED}${CHECKED:+${CHECKED_SH:+, }}${CHECKED_SH}"
if ((PROBLEMS > 0)); then
	echo "lint: $PROBLEMS problem(s)${what:+ in $what}"
	exit 1
fi
echo "lint: ok${what:+ ($what)}"
