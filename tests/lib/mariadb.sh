# shellcheck shell=bash
# tests/lib/mariadb.sh - start and stop a private MariaDB server in a folder of its own.
#
# Source this file, then:
#   mdb_init DIR        create DIR/data with mariadb-install-db and start the server
#   mdb_start           start the server again on the existing DIR/data
#   mdb_stop            stop it (SIGTERM, bounded wait, SIGKILL as a last resort)
#   mdb_sql [ARGS...]   run the mariadb client against it (SQL on stdin or -e)
#   at_exit CMD         run CMD (a string, eval'ed) when the script exits, last first
#
# The server listens only on DIR/sock (--skip-networking), reads no option
# file (--no-defaults) and is stopped on any exit of the sourcing script.  It
# never touches a system MariaDB.  As root (the normal case, CI) the account
# is root with unix_socket authentication; as another user that user gets its
# own socket-authenticated account with all privileges (MDB_USER).

MDB_DIR=""
MDB_SOCK=""
MDB_PID_FILE=""
MDB_PID=""
MDB_USER=$(id -un)
MDB_START_TIMEOUT=${MDB_START_TIMEOUT:-60}
MDB_STOP_TIMEOUT=${MDB_STOP_TIMEOUT:-60}

_AT_EXIT=()
_MDB_EXIT_SET=""

# Register a command string to run at exit (in reverse order of registration).
at_exit() {
	_AT_EXIT+=("$1")
	trap _run_at_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

_run_at_exit() {
	local i
	for ((i = ${#_AT_EXIT[@]} - 1; i >= 0; i--)); do
		eval "${_AT_EXIT[i]}" || true
	done
	_AT_EXIT=()
}

# Print the path of the first program found among the arguments (PATH, then sbin).
_mdb_find() {
	local name dir
	for name in "$@"; do
		if command -v "$name" >/dev/null 2>&1; then
			command -v "$name"
			return 0
		fi
		for dir in /usr/sbin /usr/local/sbin /sbin; do
			if [[ -x $dir/$name ]]; then
				printf '%s\n' "$dir/$name"
				return 0
			fi
		done
	done
	printf 'mariadb.sh: none of %s found (install mariadb-server and mariadb-client)\n' "$*" >&2
	return 1
}

MDB_SERVER_BIN=$(_mdb_find mariadbd mysqld)
MDB_INSTALL_BIN=$(_mdb_find mariadb-install-db mysql_install_db)
MDB_ADMIN_BIN=$(_mdb_find mariadb-admin mysqladmin)
MDB_CLIENT_BIN=$(_mdb_find mariadb mysql)
# shellcheck disable=SC2034 # used by the scripts that source this file
MDB_DUMP_BIN=$(_mdb_find mariadb-dump mysqldump)

# Run the mariadb client against the private server; extra arguments are passed on.
mdb_sql() {
	"$MDB_CLIENT_BIN" --no-defaults --socket="$MDB_SOCK" --user="$MDB_USER" \
		--default-character-set=utf8mb4 "$@"
}

# Whether process $1 still runs (a zombie waiting to be reaped does not).
_mdb_alive() {
	local state=""
	kill -0 "$1" 2>/dev/null || return 1
	if [[ -r /proc/$1/stat ]]; then
		read -r _ _ state _ <"/proc/$1/stat" || true
	fi
	[[ $state != Z ]]
}

_mdb_ping() {
	"$MDB_ADMIN_BIN" --no-defaults --socket="$MDB_SOCK" --user="$MDB_USER" \
		--connect-timeout=2 ping >/dev/null 2>&1
}

# Create a fresh data folder in $1 and start a server on it.  Returns 1 with a
# message on stderr when installation or start-up fails.
mdb_init() {
	local dir=$1
	mkdir -p "$dir"
	MDB_DIR=$(cd "$dir" && pwd)
	MDB_SOCK=$MDB_DIR/sock
	MDB_PID_FILE=$MDB_DIR/pid
	local -a opts=(--no-defaults --user="$MDB_USER" --datadir="$MDB_DIR/data"
		--auth-root-authentication-method=socket --skip-test-db)
	if [[ $MDB_USER != root ]]; then
		opts+=(--auth-root-socket-user="$MDB_USER")
	fi
	if ! "$MDB_INSTALL_BIN" "${opts[@]}" >"$MDB_DIR/install.log" 2>&1; then
		printf 'mariadb.sh: %s failed, see %s:\n' "$MDB_INSTALL_BIN" "$MDB_DIR/install.log" >&2
		tail -n 20 "$MDB_DIR/install.log" >&2
		return 1
	fi
	mdb_start
}

# Start the server on the existing $MDB_DIR/data and wait until it answers
# (at most MDB_START_TIMEOUT seconds).  Returns 1 with err.log on stderr when not.
mdb_start() {
	if [[ -z $MDB_DIR ]]; then
		echo 'mariadb.sh: mdb_start before mdb_init' >&2
		return 1
	fi
	if [[ ${#MDB_SOCK} -gt 100 ]]; then
		printf 'mariadb.sh: socket path too long for a unix socket: %s\n' "$MDB_SOCK" >&2
		return 1
	fi
	"$MDB_SERVER_BIN" --no-defaults --user="$MDB_USER" --datadir="$MDB_DIR/data" \
		--socket="$MDB_SOCK" --skip-networking --pid-file="$MDB_PID_FILE" \
		--log-error="$MDB_DIR/err.log" --innodb-buffer-pool-size=64M \
		--innodb-log-file-size=48M --character-set-server=utf8mb4 \
		--collation-server=utf8mb4_general_ci --max-connections=50 \
		--performance-schema=OFF --skip-log-bin </dev/null >/dev/null 2>&1 &
	MDB_PID=$!
	if [[ -z $_MDB_EXIT_SET ]]; then
		at_exit mdb_stop
		_MDB_EXIT_SET=1
	fi
	local deadline=$((SECONDS + MDB_START_TIMEOUT))
	until _mdb_ping; do
		if ! _mdb_alive "$MDB_PID"; then
			printf 'mariadb.sh: %s exited during start-up, %s:\n' "$MDB_SERVER_BIN" "$MDB_DIR/err.log" >&2
			tail -n 20 "$MDB_DIR/err.log" >&2 || true
			MDB_PID=""
			return 1
		fi
		if ((SECONDS >= deadline)); then
			printf 'mariadb.sh: server did not answer within %ss, %s:\n' "$MDB_START_TIMEOUT" "$MDB_DIR/err.log" >&2
			tail -n 20 "$MDB_DIR/err.log" >&2 || true
			mdb_stop
			return 1
		fi
		sleep 0.2
	done
}

# Stop the server started by mdb_start: SIGTERM, wait for the process and its
# pid file to go (at most MDB_STOP_TIMEOUT seconds), then SIGKILL.  Safe to
# call when nothing runs.
mdb_stop() {
	local pid=$MDB_PID
	if [[ -z $pid ]]; then
		return 0
	fi
	MDB_PID=""
	kill -TERM "$pid" 2>/dev/null || true
	local deadline=$((SECONDS + MDB_STOP_TIMEOUT))
	while _mdb_alive "$pid" || [[ -e $MDB_PID_FILE ]]; do
		if ((SECONDS >= deadline)); then
			printf 'mariadb.sh: server %s did not stop within %ss, killing it\n' "$pid" "$MDB_STOP_TIMEOUT" >&2
			kill -KILL "$pid" 2>/dev/null || true
			rm -f "$MDB_PID_FILE"
			break
		fi
		sleep 0.1
	done
	wait "$pid" 2>/dev/null || true
}
