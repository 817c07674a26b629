/* server.c - facts about the MySQL/MariaDB server, asked through mysql_bin. */
#include "server.h"
#include "common/errbuf.h"
#include "server_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "walk.h"

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
		case 't':
			*w++ = '\t';
			r++;
			break;
		case 'n':
			*w++ = '\n';
			r++;
			break;
		case '0':
			*w++ = '\0';
			r++;
			break;
		case '\\':
			*w++ = '\\';
			r++;
			break;
		default:
			*w++ = *r;
			break;
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

/* Run `query` in one mysql_bin process (server_query's contract).  With
 * `partial`, the client flushes after each statement (--unbuffered) and
 * the lines it wrote are split into *lines even when it failed or was
 * stopped.  Returns 0, or -1 with err set. */
static int run_client(const char *mysql_bin, const char *query, bool partial, struct strv *lines,
                      char *err, size_t errlen)
{
	char *argv[8];
	size_t n = 0;
	argv[n++] = (char *)mysql_bin;
	argv[n++] = "--default-character-set=utf8mb4";
	if (partial)
		argv[n++] = "--unbuffered";
	argv[n++] = "-N";
	argv[n++] = "-B";
	argv[n++] = "-e";
	argv[n++] = (char *)query;
	argv[n] = NULL;
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
		cm_errf(err, errlen,
		        "mysql: no answer within %ld seconds (server_timeout); stopped",
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
	rc = 0;
out:
	if ((rc == 0 || partial) && res.out != NULL)
		split_lines(res.out, res.out_len, lines);
	proc_result_free(&res);
	return rc;
}

int server_query(const char *mysql_bin, const char *query, struct strv *lines, char *err,
                 size_t errlen)
{
	return run_client(mysql_bin, query, false, lines, err, errlen);
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
				cm_errf(err, errlen, "mysql: unexpected database row '%s\t%s'",
				        fld[1], fld[2]);
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
			log_warning(
			        "Database '%s' skipped: the server shows the folder '%s' of its "
			        "datadir under this name because the folder name is not a valid "
			        "encoded name; it cannot be dumped reliably by name (rename or "
			        "remove the folder)",
			        name, name + 9);
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
	return server_get_facts_more(mysql_bin, f, NULL, err, errlen);
}

/* The line the facts query ends with when further statements follow it. */
#define FACTS_END "facts\tend"

int server_get_facts_more(const char *mysql_bin, struct server_facts *f, struct server_more *more,
                          char *err, size_t errlen)
{
	struct strv lines = {0};
	memset(f, 0, sizeof(*f));
	if (more == NULL || more->sql == NULL) {
		if (server_query(mysql_bin, facts_query, &lines, err, errlen) != 0)
			return -1;
		int rc = parse_facts(&lines, f, err, errlen);
		strv_free(&lines);
		return rc;
	}

	more->err[0] = '\0';
	char *query = xasprintf("%s; SELECT 'facts', 'end';\n%s", facts_query, more->sql);
	char qerr[sizeof(more->err)];
	int qrc = run_client(mysql_bin, query, true, &lines, qerr, sizeof(qerr));
	free(query);
	size_t end = 0;
	while (end < lines.n && strcmp(lines.v[end], FACTS_END) != 0)
		end++;
	int rc = -1;
	if (qrc != 0 && end == lines.n) {
		/* The facts themselves did not come. */
		cm_errf(err, errlen, "%s", qerr);
		goto out;
	}
	if (qrc != 0)
		cm_errf(more->err, sizeof(more->err), "%s", qerr);
	/* The facts, then what the further statements wrote (nothing when
	 * the marker is missing: a client that ran only the facts query). */
	struct strv facts = {.v = lines.v, .n = end};
	rc = parse_facts(&facts, f, err, errlen);
	for (size_t i = end + 1; rc == 0 && i < lines.n; i++)
		strv_push(&more->lines, lines.v[i]);
out:
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

struct usage {
	uint64_t bytes;             /* everything, a file with several links once */
	uint64_t *folder_bytes;     /* the same per asked folder */
	struct folder_index *index; /* the asked folders by name */
	size_t nindex;
	struct walk_inodes *seen; /* files with several links: (dev, ino, -1) once
	                            * counted in bytes, (dev, ino, i) in folder i */
};

/* A step of the walk that failed: one line naming the path (what to do
 * when it is a permission).  Returns -1. */
static int usage_fail(struct walk *w, const struct walk_entry *e, const char *what, int err)
{
	(void)what;
	char *path = walk_path(e);
	if (err == EACCES || err == EPERM)
		cm_errf(w->err, w->errlen,
		        "datadir %s: permission denied; oma must read the server's data "
		        "directory (mode 0700): run it as root or as the user the server runs as",
		        path);
	else
		cm_errf(w->err, w->errlen, "datadir %s: %s", path, walk_reason(err));
	free(path);
	return -1;
}

/* Count one entry, in the total and, below an asked top-level folder (the
 * mark), in that folder's bytes.  Returns 0. */
static int usage_entry(struct walk *w, struct walk_entry *e)
{
	struct usage *u = w->data;
	const struct stat *st = e->st;
	if (e->depth == 1 && S_ISDIR(st->st_mode) && u->nindex > 0) {
		struct folder_index key = {e->name, -1};
		const struct folder_index *hit = bsearch(&key, u->index, u->nindex,
		                                         sizeof(*u->index), cmp_folder_index);
		if (hit != NULL)
			e->mark = hit->idx;
	}
	uint64_t b = (uint64_t)st->st_blocks * 512;
	bool once = S_ISDIR(st->st_mode) || st->st_nlink <= 1;
	if (once || !walk_inodes_add(u->seen, st->st_dev, st->st_ino, -1))
		u->bytes += b;
	if (e->mark >= 0 && (once || !walk_inodes_add(u->seen, st->st_dev, st->st_ino, e->mark)))
		u->folder_bytes[e->mark] += b;
	return 0;
}

int server_datadir_usage(const char *datadir, const struct strv *folders, uint64_t *total,
                         uint64_t *folder_bytes, char *err, size_t errlen)
{
	size_t nf = folders != NULL ? folders->n : 0;
	struct usage u = {
	        .folder_bytes = xcalloc(nf + 1, sizeof(*u.folder_bytes)),
	        .index = xcalloc(nf + 1, sizeof(*u.index)),
	        .nindex = nf,
	        .seen = walk_inodes_new(),
	};
	/* The datadir must be a folder and may be a symbolic link; entries
	 * that vanish meanwhile are ignored (the server is running). */
	struct walk w = {
	        .flags = WALK_TOP_DIR | WALK_TOP_FOLLOW,
	        .entry = usage_entry,
	        .fail = usage_fail,
	        .data = &u,
	        .err = err,
	        .errlen = errlen,
	};
	for (size_t i = 0; i < nf; i++)
		u.index[i] = (struct folder_index){folders->v[i], (long)i};
	qsort(u.index, nf, sizeof(*u.index), cmp_folder_index);

	int rc = walk_tree(&w, AT_FDCWD, datadir);
	if (rc == 0) {
		*total = u.bytes;
		if (folder_bytes != NULL)
			memcpy(folder_bytes, u.folder_bytes, nf * sizeof(*u.folder_bytes));
	}
	walk_inodes_free(u.seen);
	free(u.index);
	free(u.folder_bytes);
	return rc;
}

int server_datadir_bytes(const char *datadir, uint64_t *bytes, char *err, size_t errlen)
{
	return server_datadir_usage(datadir, NULL, bytes, NULL, err, errlen);
}
