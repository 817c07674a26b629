/* server.c - facts about the MySQL/MariaDB server, asked through mysql_bin. */
#include "server.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/errbuf.h"
#include "log.h"
#include "proc.h"

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
	cm_errf(out, outlen, "%.*s", (int)first_len, first != NULL ? first : "");
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

/* Seconds a query may take (server_set_timeout). */
static long query_timeout = SERVER_TIMEOUT_DEFAULT;

void server_set_timeout(long seconds)
{
	query_timeout = seconds;
}

int server_query(const char *mysql_bin, const char *query, struct strv *lines,
                 char *err, size_t errlen)
{
	char *argv[] = {(char *)mysql_bin, "--default-character-set=utf8mb4", "-N", "-B", "-e",
	                (char *)query, NULL};
	struct proc_limits lim = {
		.timeout_ms = (int64_t)query_timeout * 1000,
		.out_keep = SIZE_MAX,
		.err_keep = STDERR_MAX,
	};
	struct proc_result res;
	int rc = proc_run(argv, NULL, &lim, &res, err, errlen);
	if (rc == -2)
		return -1;
	rc = -1;
	char reason[512];
	stderr_reason(res.err, reason, sizeof(reason));
	if (res.end == PROC_TIMED_OUT) {
		cm_errf(err, errlen, "mysql: no answer within %ld seconds (server_timeout); stopped",
		        query_timeout);
		goto out;
	}
	if (res.end != PROC_EXITED) {
		char how[256];
		proc_describe(&res, &lim, how, sizeof(how));
		cm_errf(err, errlen, "mysql: %s", how);
		goto out;
	}
	int status = res.status;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		cm_errf(err, errlen, "cannot run '%s': %s", mysql_bin,
		        reason[0] != '\0' ? reason : "exit code 127");
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (reason[0] != '\0')
			cm_errf(err, errlen, "mysql: %s", reason);
		else if (WIFEXITED(status))
			cm_errf(err, errlen, "mysql: exited with code %d", WEXITSTATUS(status));
		else
			cm_errf(err, errlen, "mysql: killed by signal %d", WTERMSIG(status));
		goto out;
	}
	if (res.out != NULL)
		split_lines(res.out, res.out_len, lines);
	rc = 0;
out:
	proc_result_free(&res);
	return rc;
}

/* Whether `name` is a Windows device name (CON, PRN, AUX, NUL, COM1-9,
 * LPT1-9, any case), for which the server appends "@@@" to the folder. */
static int is_device_name(const char *name)
{
	static const char *const three[] = {"con", "prn", "aux", "nul"};
	size_t n = strlen(name);
	if (n == 3) {
		for (size_t i = 0; i < sizeof(three) / sizeof(three[0]); i++)
			if (strcasecmp(name, three[i]) == 0)
				return 1;
		return 0;
	}
	return n == 4 && (strncasecmp(name, "com", 3) == 0 || strncasecmp(name, "lpt", 3) == 0) &&
	       name[3] >= '1' && name[3] <= '9';
}

char *server_folder_name(const char *encoded)
{
	if (is_device_name(encoded))
		return xasprintf("%s@@@", encoded);
	return xstrdup(encoded);
}

struct db_row {
	char *name, *folder;
};

static int cmp_db_row(const void *a, const void *b)
{
	return strcmp(((const struct db_row *)a)->name, ((const struct db_row *)b)->name);
}

/* The facts query: one client process, two tagged result sets.  Names come
 * hex-encoded so no -B escaping matters; the folder is the server's own
 * "filename" encoding of the name (lower-cased first under
 * lower_case_table_names=1), to which server_folder_name adds the device
 * name rule that CONVERT does not apply. */
static const char facts_query[] =
	"SELECT 'datadir', @@lower_case_table_names, HEX(@@datadir); "
	"SELECT 'db', HEX(SCHEMA_NAME), HEX(CAST(CONVERT(IF(@@lower_case_table_names = 1, "
	"LOWER(SCHEMA_NAME), SCHEMA_NAME) USING filename) AS BINARY)) "
	"FROM information_schema.SCHEMATA";

/* Decode the facts query's lines into *f.  Returns 0, or -1 with err set
 * and *f empty. */
static int parse_facts(const struct strv *lines, struct server_facts *f, char *err, size_t errlen)
{
	struct db_row *rows = NULL;
	size_t nrows = 0;
	struct strv work = {0}; /* split_tabs cuts the lines in place */
	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < lines->n; i++)
		strv_push(&work, lines->v[i]);
	rows = xcalloc(work.n + 1, sizeof(*rows));
	for (size_t i = 0; i < work.n; i++) {
		char *fld[4];
		size_t nf = split_tabs(work.v[i], fld, 4);
		if (nf == 3 && strcmp(fld[0], "datadir") == 0 && f->datadir == NULL) {
			f->datadir = hex_decode(fld[2]);
			if (f->datadir == NULL || f->datadir[0] == '\0') {
				cm_errf(err, errlen, "mysql: SELECT @@datadir returned nothing");
				goto fail;
			}
			continue;
		}
		if (nf == 3 && strcmp(fld[0], "db") == 0) {
			char *name = hex_decode(fld[1]);
			char *enc = name != NULL ? hex_decode(fld[2]) : NULL;
			if (enc == NULL) {
				free(name);
				cm_errf(err, errlen, "mysql: unexpected database row '%s\t%s'", fld[1],
				        fld[2]);
				goto fail;
			}
			rows[nrows].name = name;
			rows[nrows].folder = server_folder_name(enc);
			nrows++;
			free(enc);
			continue;
		}
		cm_errf(err, errlen, "mysql: unexpected output line '%.200s'", fld[0]);
		goto fail;
	}
	if (f->datadir == NULL) {
		cm_errf(err, errlen, "mysql: SELECT @@datadir returned nothing");
		goto fail;
	}
	size_t n = strlen(f->datadir);
	while (n > 1 && f->datadir[n - 1] == '/')
		f->datadir[--n] = '\0';

	/* SHOW DATABASES order: by the bytes of the name. */
	qsort(rows, nrows, sizeof(*rows), cmp_db_row);
	for (size_t i = 0; i < nrows; i++) {
		const char *name = rows[i].name;
		if (server_is_system_db(name))
			continue;
		if (strncmp(name, "#mysql50#", 9) == 0) {
			log_warning("Database '%s' skipped: the server shows the folder '%s' of its "
			            "datadir under this name because the folder name is not a valid "
			            "encoded name; it cannot be dumped reliably by name (rename or "
			            "remove the folder)", name, name + 9);
			continue;
		}
		strv_push(&f->databases, name);
		strv_push(&f->folders, rows[i].folder);
	}
	for (size_t i = 0; i < nrows; i++) {
		free(rows[i].name);
		free(rows[i].folder);
	}
	free(rows);
	strv_free(&work);
	return 0;
fail:
	for (size_t i = 0; i < nrows; i++) {
		free(rows[i].name);
		free(rows[i].folder);
	}
	free(rows);
	strv_free(&work);
	server_facts_free(f);
	return -1;
}

int server_decode_facts(const char *out, size_t len, struct server_facts *f, char *err,
                        size_t errlen)
{
	struct strv lines = {0};
	char *copy = xstrndup(out, len);
	split_lines(copy, len, &lines);
	free(copy);
	int rc = parse_facts(&lines, f, err, errlen);
	strv_free(&lines);
	return rc;
}

int server_get_facts(const char *mysql_bin, struct server_facts *f, char *err, size_t errlen)
{
	struct strv lines = {0};
	memset(f, 0, sizeof(*f));
	if (server_query(mysql_bin, facts_query, &lines, err, errlen) != 0)
		return -1;
	int rc = parse_facts(&lines, f, err, errlen);
	strv_free(&lines);
	return rc;
}

static int cmp_name_key(const void *key, const void *elem)
{
	return strcmp(key, *(char *const *)elem);
}

const char *server_folder(const struct server_facts *f, const char *db)
{
	if (f->databases.n == 0)
		return NULL;
	char **hit = bsearch(db, f->databases.v, f->databases.n, sizeof(*f->databases.v),
	                     cmp_name_key);
	return hit != NULL ? f->folders.v[hit - f->databases.v] : NULL;
}

void server_facts_free(struct server_facts *f)
{
	free(f->datadir);
	f->datadir = NULL;
	strv_free(&f->databases);
	strv_free(&f->folders);
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
	long folder;             /* index into the folders asked for, or -1 */
	uint64_t bytes;
};

struct walk {
	uint64_t bytes;          /* files with one link, and folders */
	uint64_t *folder_bytes;  /* the same per asked folder, or NULL */
	struct inode_seen *multi; /* files with several links, counted at the end */
	size_t nmulti, capmulti;
	char *err;
	size_t errlen;
};

static void walk_fail(struct walk *w, const char *path, int e)
{
	if (e == EACCES || e == EPERM)
		cm_errf(w->err, w->errlen,
		        "datadir %s: permission denied; oma must read the server's data "
		        "directory (mode 0700): run it as root or as the user the server runs as",
		        path);
	else
		cm_errf(w->err, w->errlen, "datadir %s: %s", path, strerror(e));
}

/* Count one entry, found below asked folder number `folder` (-1: none). */
static void walk_count(struct walk *w, const struct stat *st, long folder)
{
	uint64_t b = (uint64_t)st->st_blocks * 512;
	if (S_ISDIR(st->st_mode) || st->st_nlink <= 1) {
		w->bytes += b;
		if (folder >= 0)
			w->folder_bytes[folder] += b;
		return;
	}
	if (w->nmulti == w->capmulti) {
		w->capmulti = w->capmulti ? w->capmulti * 2 : 64;
		w->multi = xrealloc(w->multi, w->capmulti * sizeof(*w->multi));
	}
	w->multi[w->nmulti++] = (struct inode_seen){st->st_dev, st->st_ino, folder, b};
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

static int cmp_inode_folder(const void *a, const void *b)
{
	int c = cmp_inode(a, b);
	if (c != 0)
		return c;
	const struct inode_seen *x = a, *y = b;
	return x->folder < y->folder ? -1 : x->folder > y->folder;
}

/* Asked folders, sorted by name, for the lookup of top-level entries. */
struct folder_index {
	const char *name;
	long idx;
};

static int cmp_folder_index(const void *a, const void *b)
{
	return strcmp(((const struct folder_index *)a)->name,
	              ((const struct folder_index *)b)->name);
}

/* Count everything in the open folder `dfd` (which this function closes),
 * whose path is `path`.  At the top level (`folder` -1 and `index` set),
 * a sub-folder named in the index is counted for that folder too.  Entries
 * that vanish meanwhile are ignored (the server is running).  Returns 0, or
 * -1 with w->err set. */
static int walk_dir(struct walk *w, int dfd, const char *path, long folder,
                    const struct folder_index *index, size_t nindex)
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
		long in = folder;
		if (S_ISDIR(st.st_mode) && nindex > 0) {
			struct folder_index key = {name, -1};
			const struct folder_index *hit =
				bsearch(&key, index, nindex, sizeof(*index), cmp_folder_index);
			if (hit != NULL)
				in = hit->idx;
		}
		walk_count(w, &st, in);
		if (S_ISDIR(st.st_mode)) {
			int fd = openat(dirfd(d), name,
			                O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0) {
				if (errno != ENOENT) {
					walk_fail(w, sub, errno);
					rc = -1;
				}
			} else {
				rc = walk_dir(w, fd, sub, in, NULL, 0);
			}
		}
		free(sub);
		if (rc != 0)
			break;
	}
	closedir(d);
	return rc;
}

int server_datadir_usage(const char *datadir, const struct strv *folders, uint64_t *total,
                         uint64_t *folder_bytes, char *err, size_t errlen)
{
	size_t nf = folders != NULL ? folders->n : 0;
	uint64_t *fb = xcalloc(nf + 1, sizeof(*fb));
	struct folder_index *index = xcalloc(nf + 1, sizeof(*index));
	struct walk w = {.folder_bytes = fb, .err = err, .errlen = errlen};
	int rc = -1;

	for (size_t i = 0; i < nf; i++)
		index[i] = (struct folder_index){folders->v[i], (long)i};
	qsort(index, nf, sizeof(*index), cmp_folder_index);

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
	walk_count(&w, &st, -1);
	if (walk_dir(&w, fd, datadir, -1, index, nf) != 0)
		goto out;

	/* A file with several links counts once in the total, and once in each
	 * folder it was seen in. */
	if (w.nmulti > 0)
		qsort(w.multi, w.nmulti, sizeof(*w.multi), cmp_inode_folder);
	for (size_t i = 0; i < w.nmulti; i++) {
		const struct inode_seen *m = &w.multi[i];
		if (i == 0 || cmp_inode(&w.multi[i - 1], m) != 0)
			w.bytes += m->bytes;
		if (m->folder >= 0 && (i == 0 || cmp_inode_folder(&w.multi[i - 1], m) != 0))
			fb[m->folder] += m->bytes;
	}
	*total = w.bytes;
	if (folder_bytes != NULL)
		memcpy(folder_bytes, fb, nf * sizeof(*fb));
	rc = 0;
out:
	free(w.multi);
	free(index);
	free(fb);
	return rc;
}

int server_datadir_bytes(const char *datadir, uint64_t *bytes, char *err, size_t errlen)
{
	return server_datadir_usage(datadir, NULL, bytes, NULL, err, errlen);
}
