#!/usr/bin/env bash
# test_lint.sh - end-to-end: scripts/lint.sh (make lint) fails on what it must find, and only on that.
#
# Every case runs the lint on a temporary copy of the tree (or a small tree
# of its own) with one fault planted, and checks the exit code and the
# exact "FILE:LINE: ..." line; the clean copy must pass first, so a case
# cannot pass because the lint finds nothing at all.
# Cases are called through e2e_case.
# shellcheck disable=SC2317 # the case functions are called through e2e_case
set -euo pipefail

# shellcheck source=tests/lib/e2e.sh
. "$(dirname "$0")/../lib/e2e.sh"

e2e_setup none # no MariaDB: the lint needs none

LINT=$E2E_REPO/scripts/lint.sh
LINT_OUT=""
LINT_RC=0

# Run the lint with arguments $@ (the tree last); output in $LINT_OUT, exit code in LINT_RC.
run_lint() {
	LINT_OUT=$E2E_T/lint.out
	LINT_RC=0
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "$LINT" "$@" >"$LINT_OUT" 2>&1 || LINT_RC=$?
}

# The lint exited $1.
assert_lint_rc() {
	if [[ $LINT_RC != "$1" ]]; then
		cat "$LINT_OUT"
		fail "lint exit code $LINT_RC, expected $1"
	fi
}

# A copy of the C sources (and the Makefile) in a new folder; prints its path.
copy_c_tree() {
	local t
	t=$(mktemp -d "$E2E_T/tree.XXXXXX")
	(cd "$E2E_REPO" && cp -r --parents core common plugins include examples bench Makefile .clang-format "$t/")
	mkdir -p "$t/tests"
	cp "$E2E_REPO"/tests/*.c "$E2E_REPO"/tests/*.h "$t/tests/"
	printf '%s\n' "$t"
}

# Append C lines $2... to file $1; prints the number of the first of them.
plant() {
	local file=$1
	shift
	echo $(($(wc -l <"$file") + 1))
	printf '%s\n' "$@" >>"$file"
}

case_banned_call_fails() {
	local t line
	t=$(copy_c_tree)
	run_lint --only banned "$t"
	assert_lint_rc 0
	line=$(plant "$t/core/util.c" 'static void lint_fault(char *d, const char *s) { strcpy(d, s); }')
	run_lint --only banned "$t"
	assert_lint_rc 1
	assert_grep "$LINT_OUT" "core/util.c:$line: banned function strcpy (use "
	assert_eq "$(grep -c 'banned function' "$LINT_OUT")" 1 "findings"
	assert_grep "$LINT_OUT" "lint: 1 problem(s)"
}

# Every function the house bans (the brief's list and what lint.sh adds),
# each on its own line of a plugin: each is reported on its line.
case_every_banned_name() {
	local t f first n name i=0
	local names=(sprintf vsprintf strcpy strcat strncpy strncat atoi atol atof gets strtok
		tmpnam tempnam mktemp system popen alloca atoll stpcpy getwd gmtime localtime
		ctime asctime vfork sscanf fscanf signal)
	t=$(copy_c_tree)
	f=$t/plugins/report-syslog/lint_fault.c
	: >"$f"
	first=$(plant "$f" "${names[@]/%/(x);}")
	run_lint --only banned "$t"
	assert_lint_rc 1
	for name in "${names[@]}"; do
		n=$((first + i))
		assert_grep "$LINT_OUT" "plugins/report-syslog/lint_fault.c:$n: banned function $name (use "
		i=$((i + 1))
	done
	assert_eq "$(grep -c 'banned function' "$LINT_OUT")" "${#names[@]}" "findings"
}

# Names in comments, strings and character literals, members, longer
# names: not calls of the banned functions.
case_not_a_call() {
	local t f line
	t=$(copy_c_tree)
	f=$t/core/lint_clean.c
	cat >"$f" <<-'EOF'
		/* strcpy(a, b) in a comment
		 * sprintf(spanning, lines) strcat(x) */
		// gets(line) after a line comment
		static const char *s = "strcpy(x) \" sprintf(y)";
		static const char q = '"'; /* a quote that opens no string: */ static int k;
		static char c = '\''; static const char *e = "\\"; static int m;
		struct ops { int (*system)(const char *); int (*signal)(int); };
		static int run(struct ops *o, struct ops p) { return o->system("x") + p.signal(1); }
		static int my_strcpy(int v) { return v; }
		static int strcpy_count;
		static int use(void) { return my_strcpy(strcpy_count) + /* atoi( */ 0; }
		#include <string.h>
	EOF
	run_lint --only banned "$t"
	assert_lint_rc 0
	# After the literals above, a real call on the same line still counts.
	line=$(plant "$f" "static void f(char *a) { char q2 = '\"'; const char *w = \"/*\"; strcat(a, w); (void)q2; }")
	run_lint --only banned "$t"
	assert_lint_rc 1
	assert_grep "$LINT_OUT" "core/lint_clean.c:$line: banned function strcat (use "
	assert_eq "$(grep -c 'banned function' "$LINT_OUT")" 1 "findings"
}

# system()/popen() drive shell tools in tests/ and bench/; shipped code may
# not call them.
case_shell_runners_only_in_tools() {
	local t line
	t=$(copy_c_tree)
	plant "$t/tests/check_store.c" 'static int lint_t(void) { return system("true"); }' >/dev/null
	plant "$t/bench/measure.c" 'static void lint_b(void) { (void)popen("true", "r"); }' >/dev/null
	run_lint --only banned "$t"
	assert_lint_rc 0
	line=$(plant "$t/examples/report-example/example.c" 'static int lint_e(void) { return system("true"); }')
	run_lint --only banned "$t"
	assert_lint_rc 1
	assert_grep "$LINT_OUT" "examples/report-example/example.c:$line: banned function system (use posix_spawn"
}

case_warning_flags() {
	local t line
	t=$(copy_c_tree)
	run_lint --only flags "$t"
	assert_lint_rc 0
	cp "$t/Makefile" "$t/Makefile.orig"
	sed -i 's/^WARN = \(.*\) -Wvla$/WARN = \1/' "$t/Makefile"
	if cmp -s "$t/Makefile" "$t/Makefile.orig"; then
		fail "the Makefile has no 'WARN = ... -Wvla' line to edit"
	fi
	run_lint --only flags "$t"
	assert_lint_rc 1
	assert_grep "$LINT_OUT" "Makefile:0: ALL_CFLAGS lacks -Wvla"
	assert_grep "$LINT_OUT" "Makefile:0: FUZZ_CFLAGS lacks -Wvla"
	cp "$t/Makefile.orig" "$t/Makefile"
	sed -i 's/^WARN = \(.*\)$/WARN = \1 -Wno-shadow/' "$t/Makefile"
	run_lint --only flags "$t"
	assert_lint_rc 1
	assert_grep "$LINT_OUT" "ALL_CFLAGS turns a required warning off: -Wno-shadow"
	cp "$t/Makefile.orig" "$t/Makefile"
	line=$(plant "$t/core/util.c" '#pragma GCC diagnostic ignored "-Wshadow"')
	run_lint --only flags "$t"
	assert_lint_rc 1
	assert_grep "$LINT_OUT" "core/util.c:$line: a pragma turns a warning off"
}

case_shellcheck() {
	command -v shellcheck >/dev/null || fail "shellcheck is not installed (scripts/install-deps.sh)"
	local t=$E2E_T/shtree
	mkdir -p "$t/scripts" "$t/.ci"
	cat >"$t/scripts/ok.sh" <<-'EOF'
		#!/bin/sh
		# clean
		printf '%s\n' "$1"
	EOF
	cat >"$t/.ci/run" <<-'EOF'
		#!/usr/bin/env bash
		# clean too
		echo "${1:-}"
	EOF
	run_lint --only shell "$t"
	assert_lint_rc 0
	assert_grep "$LINT_OUT" "lint: ok (2 shell scripts)"
	# An unquoted expansion, in a script without .sh found by its shebang.
	cat >"$t/.ci/run" <<-'EOF'
		#!/bin/sh
		# not clean
		echo $1
	EOF
	run_lint --only shell "$t"
	assert_lint_rc 1
	assert_grep "$LINT_OUT" ".ci/run:3:6: "
	assert_grep "$LINT_OUT" "[SC2086]"
	# A disable needs its reason (the directive is made by sed, so that this
	# file does not hold a reasonless one itself).
	cat >"$t/.ci/run" <<-'EOF'
		#!/bin/sh
		# shellcheck DISABLE=SC2086
		echo $1
	EOF
	sed -i 's/DISABLE=/disable=/' "$t/.ci/run"
	run_lint --only shell "$t"
	assert_lint_rc 1
	assert_grep "$LINT_OUT" ".ci/run:2: shellcheck disable without a reason"
	cat >"$t/.ci/run" <<-'EOF'
		#!/bin/sh
		# shellcheck disable=SC2086 # split on purpose
		echo $1
	EOF
	run_lint --only shell "$t"
	assert_lint_rc 0
}

# A lint that finds nothing to check fails.
case_empty_tree() {
	local t=$E2E_T/empty
	mkdir -p "$t"
	run_lint --only banned "$t"
	assert_lint_rc 1
	assert_grep "$LINT_OUT" "lint: banned functions: no C sources found"
	run_lint --only shell "$t"
	assert_lint_rc 1
	assert_grep "$LINT_OUT" "lint: shellcheck: no shell scripts found"
}

# `make lint` (every check) fails on a planted call, and passes without it.
# The layout: the tree as committed passes; a file laid out otherwise is
# named, and make format's clang-format call puts it right.
case_format() {
	local t
	t=$(copy_c_tree)
	run_lint --only format "$t"
	assert_lint_rc 0
	printf 'static int lint_layout(int a){return a+1;}\n' >>"$t/common/buf.c"
	run_lint --only format "$t"
	assert_lint_rc 1
	assert_grep "$LINT_OUT" "common/buf.c:1: not laid out as .clang-format says (run make format)"
	assert_eq "$(grep -c 'not laid out' "$LINT_OUT")" 1 "findings"
	(cd "$t" && clang-format --style=file -i common/buf.c)
	run_lint --only format "$t"
	assert_lint_rc 0
	rm "$t/.clang-format"
	run_lint --only format "$t"
	assert_lint_rc 1
	assert_grep "$LINT_OUT" "lint: format: no .clang-format in $t"
}

case_make_lint_fails() {
	local t=$E2E_T/small line
	mkdir -p "$t/scripts"
	cp "$E2E_REPO/Makefile" "$t/"
	cp "$LINT" "$t/scripts/"
	cp -r "$E2E_REPO/core" "$E2E_REPO/.clang-format" "$t/"
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$t" lint >"$E2E_T/make.out" 2>&1 ||
		{ cat "$E2E_T/make.out"; fail "make lint failed on a clean copy"; }
	# Laid out as .clang-format says: the banned call is the one problem.
	line=$(plant "$t/core/store.c" '' 'static int lint_fault(const char *s)' '{' $'\treturn atoi(s);' '}')
	line=$((line + 3))
	if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$t" lint >"$E2E_T/make.out" 2>&1; then
		cat "$E2E_T/make.out"
		fail "make lint passed with atoi planted"
	fi
	assert_grep "$E2E_T/make.out" "core/store.c:$line: banned function atoi (use strtol"
	assert_grep "$E2E_T/make.out" "lint: 1 problem(s)"
}

e2e_case "a planted strcpy fails the lint with FILE:LINE and the replacement" case_banned_call_fails
e2e_case "every banned function is found on its line" case_every_banned_name
e2e_case "names in comments, literals, members and longer names are not calls" case_not_a_call
e2e_case "system/popen allowed in tests and bench only" case_shell_runners_only_in_tools
e2e_case "warning flags: a missing -Wvla, a -Wno-shadow, a pragma fail the lint" case_warning_flags
e2e_case "shellcheck: a finding and a disable without a reason fail the lint" case_shellcheck
e2e_case "a tree with nothing to check fails the lint" case_empty_tree
e2e_case "layout: a file not laid out as .clang-format says fails the lint" case_format
e2e_case "make lint exits non-zero on a planted call" case_make_lint_fails
e2e_finish
