/* server.c - facts about the MySQL/MariaDB server, asked through mysql_bin. */
#include "server.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Keep at most this much of the client's stderr (only its first line is used). */
#define STDERR_MAX (64 * 1024)

static const char *const system_dbs[] = {
	"information_schema",
	"performance_schema",
	"sys",
};

int server_is_system_db(const char *name)
{
	for (size_t i = 0; i < sizeof(system_dbs) / sizeof(system_dbs[0]); i++)
		if (strcmp(name, system_dbs[i]) == 0)
			return 1;
	return 0;
}

/* Undo mysql -B escaping in place: \t \n \0 \\ become their bytes; any other
 * backslash sequence is kept as it is. */
static void unescape_batch(char *s)
{
	char *w = s;
	for (const char *r = s; *r != '\0'; r++) {
		if (*r != '\\' || r[1] == '\0') {
			*w++ = *r;
			continue;
		}
		switch (r[1]) {
		case 't': *w++ = '\t'; r++; break;
		case 'n': *w++ = '\n'; r++; break;
		case '0': *w++ = '\0'; r++; break;
		case '\\': *w++ = '\\'; r++; break;
		default: *w++ = *r; break;
		}
	}
	*w = '\0';
}

/* The line of the client's stderr worth showing: the first one starting
 * with "ERROR", else the first non-empty one (skips warnings such as
 * MariaDB's "Deprecated program name").  Writes "" when there is none. */
static void stderr_reason(const char *errout, char *out, size_t outlen)
{
	const char *first = NULL;
	size_t first_len = 0;
	const char *p = errout;
	while (p != NULL && *p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == ' '))
			len--;
		if (len > 0) {
			if (strncmp(p, "ERROR", 5) == 0) {
				first = p;
				first_len = len;
				break;
			}
			if (first == NULL) {
				first = p;
				first_len = len;
			}
		}
		p = nl != NULL ? nl + 1 : NULL;
	}
	if (first == NULL)
		first_len = 0;
	errf(out, outlen, "%.*s", (int)first_len, first != NULL ? first : "");
}

/* Read what is available on *fd into the buffer (at most `max` bytes kept;
 * the rest is read and dropped); closes and sets *fd to -1 on EOF.
 * Returns 0, or -1 with errno set on a read error. */
static int drain(int *fd, char **buf, size_t *len, size_t *cap, size_t max)
{
	char chunk[65536];
	ssize_t n = read(*fd, chunk, sizeof(chunk));
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -1;
	if (n == 0) {
		close(*fd);
		*fd = -1;
		return 0;
	}
	size_t keep = (size_t)n;
	if (*len + keep > max)
		keep = max > *len ? max - *len : 0;
	if (keep > 0)
		buf_append(buf, len, cap, chunk, keep);
	return 0;
}

/* Spawn argv[0] (PATH lookup, no shell) with stdin from /dev/null and
 * stdout/stderr on the given pipe ends.  Returns 0 or an errno value. */
static int spawn_client(char *const argv[], int out_w, int err_w, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int rc = posix_spawn_file_actions_init(&fa);
	if (rc != 0)
		return rc;
	rc = posix_spawnattr_init(&attr);
	if (rc != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return rc;
	}
	sigset_t none, defaults;
	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGPIPE);
	sigaddset(&defaults, SIGINT);
	sigaddset(&defaults, SIGTERM);
	sigaddset(&defaults, SIGHUP);
	sigaddset(&defaults, SIGQUIT);
	rc = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (rc == 0)
		rc = posix_spawn_file_actions_adddup2(&fa, out_w, STDOUT_FILENO);
	if (rc == 0)
		rc = posix_spawn_file_actions_adddup2(&fa, err_w, STDERR_FILENO);
	if (rc == 0)
		rc = posix_spawnattr_setsigmask(&attr, &none);
	if (rc == 0)
		rc = posix_spawnattr_setsigdefault(&attr, &defaults);
	if (rc == 0)
		rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	if (rc == 0)
		rc = posix_spawnp(pid, argv[0], &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

/* Split `out` into lines (a final line without '\n' counts; the empty piece
 * after the last '\n' does not) and append each one, unescaped, to *lines. */
static void split_lines(char *out, size_t len, struct strv *lines)
{
	size_t count = 0;
	for (size_t i = 0; i < len; i++)
		if (out[i] == '\n')
			count++;
	if (len > 0 && out[len - 1] != '\n')
		count++;
	lines->v = xrealloc(lines->v, (lines->n + count + 1) * sizeof(*lines->v));
	size_t start = 0;
	while (start < len) {
		char *nl = memchr(out + start, '\n', len - start);
		size_t end = nl != NULL ? (size_t)(nl - out) : len;
		out[end] = '\0';
		unescape_batch(out + start);
		lines->v[lines->n++] = xstrdup(out + start);
		start = end + 1;
	}
	lines->v[lines->n] = NULL;
}

int server_query(const char *mysql_bin, const char *query, struct strv *lines,
                 char *err, size_t errlen)
{
	int rc = -1;
	int out_p[2] = {-1, -1}, err_p[2] = {-1, -1};
	char *out = NULL, *errout = NULL;
	size_t out_len = 0, out_cap = 0, err_len = 0, err_cap = 0;
	pid_t pid = -1;

	if (pipe2(out_p, O_CLOEXEC) != 0 || pipe2(err_p, O_CLOEXEC) != 0) {
		errf(err, errlen, "mysql: cannot create pipe: %s", strerror(errno));
		goto out;
	}
	char *argv[] = {(char *)mysql_bin, "--default-character-set=utf8mb4", "-N", "-B", "-e",
	                (char *)query, NULL};
	int sp = spawn_client(argv, out_p[1], err_p[1], &pid);
	if (sp != 0) {
		pid = -1;
		errf(err, errlen, "cannot run '%s': %s", mysql_bin, strerror(sp));
		goto out;
	}
	close(out_p[1]);
	close(err_p[1]);
	out_p[1] = err_p[1] = -1;

	/* Read both pipes until both are closed, so neither can fill up. */
	while (out_p[0] >= 0 || err_p[0] >= 0) {
		struct pollfd pfd[2] = {
			{.fd = out_p[0], .events = POLLIN},
			{.fd = err_p[0], .events = POLLIN},
		};
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			errf(err, errlen, "mysql: poll: %s", strerror(errno));
			goto out;
		}
		if (pfd[0].revents != 0 &&
		    drain(&out_p[0], &out, &out_len, &out_cap, SIZE_MAX) != 0) {
			errf(err, errlen, "mysql: reading output: %s", strerror(errno));
			goto out;
		}
		if (pfd[1].revents != 0 &&
		    drain(&err_p[0], &errout, &err_len, &err_cap, STDERR_MAX) != 0) {
			errf(err, errlen, "mysql: reading stderr: %s", strerror(errno));
			goto out;
		}
	}

	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			errf(err, errlen, "mysql: waitpid: %s", strerror(errno));
			pid = -1;
			goto out;
		}
	}
	pid = -1;

	char reason[512];
	stderr_reason(errout, reason, sizeof(reason));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		errf(err, errlen, "cannot run '%s': %s", mysql_bin,
		     reason[0] != '\0' ? reason : "exit code 127");
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (reason[0] != '\0')
			errf(err, errlen, "mysql: %s", reason);
		else if (WIFEXITED(status))
			errf(err, errlen, "mysql: exited with code %d", WEXITSTATUS(status));
		else
			errf(err, errlen, "mysql: killed by signal %d", WTERMSIG(status));
		goto out;
	}
	if (out != NULL)
		split_lines(out, out_len, lines);
	rc = 0;
out:
	if (pid > 0) {
		/* Only reached when reading failed: do not leave a zombie. */
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	for (int i = 0; i < 2; i++) {
		if (out_p[i] >= 0)
			close(out_p[i]);
		if (err_p[i] >= 0)
			close(err_p[i]);
	}
	free(out);
	free(errout);
	return rc;
}

int server_get_facts(const char *mysql_bin, struct server_facts *f, char *err, size_t errlen)
{
	struct strv lines = {0};
	memset(f, 0, sizeof(*f));

	if (server_query(mysql_bin, "SELECT @@datadir", &lines, err, errlen) != 0)
		goto fail;
	if (lines.n == 0 || lines.v[0][0] == '\0') {
		errf(err, errlen, "mysql: SELECT @@datadir returned nothing");
		goto fail;
	}
	f->datadir = xstrdup(lines.v[0]);
	size_t n = strlen(f->datadir);
	while (n > 1 && f->datadir[n - 1] == '/')
		f->datadir[--n] = '\0';
	strv_free(&lines);

	if (server_query(mysql_bin, "SHOW DATABASES", &lines, err, errlen) != 0)
		goto fail;
	for (size_t i = 0; i < lines.n; i++)
		if (!server_is_system_db(lines.v[i]))
			strv_push(&f->databases, lines.v[i]);
	strv_free(&lines);
	return 0;
fail:
	strv_free(&lines);
	server_facts_free(f);
	return -1;
}

void server_facts_free(struct server_facts *f)
{
	free(f->datadir);
	f->datadir = NULL;
	strv_free(&f->databases);
}

void server_select(const struct oma_config *cfg, const struct strv *databases,
                   struct strv *selected, struct strv *skipped, struct strv *missing)
{
	const struct strv *only = &cfg->main.do_databases;
	const struct strv *except = &cfg->main.exclude_databases;
	const struct strv *named = only->n > 0 ? only : except;

	for (size_t i = 0; i < databases->n; i++) {
		const char *db = databases->v[i];
		if (server_is_system_db(db))
			continue;
		int take = only->n > 0 ? strv_contains(only, db) : !strv_contains(except, db);
		strv_push(take ? selected : skipped, db);
	}
	/* System schemas are never dumped anyway, so naming them is not an error. */
	for (size_t i = 0; i < named->n; i++) {
		const char *db = named->v[i];
		if (!server_is_system_db(db) && !strv_contains(databases, db) &&
		    !strv_contains(missing, db))
			strv_push(missing, db);
	}
}

/* ---- datadir size ------------------------------------------------------ */

struct inode_seen {
	dev_t dev;
	ino_t ino;
	uint64_t bytes;
};

struct walk {
	uint64_t bytes;          /* files with one link, and folders */
	struct inode_seen *multi; /* files with several links, counted at the end */
	size_t nmulti, capmulti;
	char *err;
	size_t errlen;
};

static void walk_fail(struct walk *w, const char *path, int e)
{
	if (e == EACCES || e == EPERM)
		errf(w->err, w->errlen,
		     "datadir %s: permission denied; oma must read the server's data "
		     "directory (mode 0700): run it as root or as the user the server runs as",
		     path);
	else
		errf(w->err, w->errlen, "datadir %s: %s", path, strerror(e));
}

static void walk_count(struct walk *w, const struct stat *st)
{
	uint64_t b = (uint64_t)st->st_blocks * 512;
	if (S_ISDIR(st->st_mode) || st->st_nlink <= 1) {
		w->bytes += b;
		return;
	}
	if (w->nmulti == w->capmulti) {
		w->capmulti = w->capmulti ? w->capmulti * 2 : 64;
		w->multi = xrealloc(w->multi, w->capmulti * sizeof(*w->multi));
	}
	w->multi[w->nmulti++] = (struct inode_seen){st->st_dev, st->st_ino, b};
}

static int cmp_inode(const void *a, const void *b)
{
	const struct inode_seen *x = a, *y = b;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return 0;
}

/* Count everything in the open folder `dfd` (which this function closes),
 * whose path is `path`.  Entries that vanish meanwhile are ignored (the
 * server is running).  Returns 0, or -1 with w->err set. */
static int walk_dir(struct walk *w, int dfd, const char *path)
{
	DIR *d = fdopendir(dfd);
	if (d == NULL) {
		int e = errno;
		close(dfd);
		walk_fail(w, path, e);
		return -1;
	}
	int rc = 0;
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (de == NULL) {
			if (errno != 0) {
				walk_fail(w, path, errno);
				rc = -1;
			}
			break;
		}
		const char *name = de->d_name;
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		char *sub = xasprintf("%s/%s", path, name);
		struct stat st;
		if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			int e = errno;
			if (e != ENOENT) {
				walk_fail(w, sub, e);
				rc = -1;
			}
			free(sub);
			if (rc != 0)
				break;
			continue;
		}
		walk_count(w, &st);
		if (S_ISDIR(st.st_mode)) {
			int fd = openat(dirfd(d), name,
			                O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0) {
				if (errno != ENOENT) {
					walk_fail(w, sub, errno);
					rc = -1;
				}
			} else {
				rc = walk_dir(w, fd, sub);
			}
		}
		free(sub);
		if (rc != 0)
			break;
	}
	closedir(d);
	return rc;
}

int server_datadir_bytes(const char *datadir, uint64_t *bytes, char *err, size_t errlen)
{
	struct walk w = {.err = err, .errlen = errlen};
	int rc = -1;

	int fd = open(datadir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		walk_fail(&w, datadir, errno);
		goto out;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		walk_fail(&w, datadir, errno);
		close(fd);
		goto out;
	}
	walk_count(&w, &st);
	if (walk_dir(&w, fd, datadir) != 0)
		goto out;

	if (w.nmulti > 0)
		qsort(w.multi, w.nmulti, sizeof(*w.multi), cmp_inode);
	for (size_t i = 0; i < w.nmulti; i++)
		if (i == 0 || cmp_inode(&w.multi[i - 1], &w.multi[i]) != 0)
			w.bytes += w.multi[i].bytes;
	*bytes = w.bytes;
	rc = 0;
out:
	free(w.multi);
	return rc;
}
