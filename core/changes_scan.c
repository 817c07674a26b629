/* changes_scan.c - the change check's datadir scan: newest mtime of each database's folder and whether every table can be vouched for. */
#include "changes.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "changes_internal.h"
#include "walk.h"

/* Legacy storage engine codes in byte 3 of a table's .frm. */
enum {
	FRM_HEAP = 0x06,
	FRM_MYISAM = 0x09,
	FRM_MERGE = 0x0a,
	FRM_INNODB = 0x0c,
	FRM_CSV = 0x11,
	FRM_PARTITION = 0x14,
	FRM_ARIA = 0x2a,
};

struct entry {
	char *name;
	int is_dir;
};

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

static int has_entry(const struct entry *v, size_t n, const char *name)
{
	struct entry key = {.name = (char *)name};
	return n > 0 && bsearch(&key, v, n, sizeof(*v), cmp_entry) != NULL;
}

static const char *ext_of(const char *name)
{
	const char *dot = strrchr(name, '.');
	return dot != NULL ? dot + 1 : "";
}

/* File kinds a database folder may hold: table definitions and data of the
 * engines below, triggers, db.opt, partition lists, MERGE lists (a MERGE
 * table is refused by its .frm). */
static int known_ext(const char *ext)
{
	static const char *const known[] = {"frm", "ibd", "MYD", "MYI", "MAD", "MAI", "CSV",
	                                    "CSM", "TRG", "TRN", "opt", "par", "MRG"};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(ext, known[i]) == 0)
			return 1;
	return 0;
}

/* The data file suffix of a table of engine `code`, or NULL when the scan
 * cannot vouch for that engine. */
static const char *data_ext(int code)
{
	switch (code) {
	case FRM_INNODB:
		return "ibd";
	case FRM_MYISAM:
		return "MYD";
	case FRM_ARIA:
		return "MAD";
	case FRM_CSV:
		return "CSV";
	default:
		return NULL;
	}
}

static void set_cannot(struct db_check *c, char *why)
{
	if (c->cannot == NULL)
		c->cannot = why;
	else
		free(why);
}

/* Read from fd until len bytes, end of file or an error: the count. */
static size_t read_upto(int fd, unsigned char *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

/* Read up to len bytes of file `name` in folder dfd.  Returns the count,
 * or -1 with errno set. */
static ssize_t read_head(int dfd, const char *name, unsigned char *buf, size_t len)
{
	int fd = open_regular(dfd, name, 0);
	if (fd < 0)
		return -1;
	size_t got = read_upto(fd, buf, len);
	close(fd);
	return (ssize_t)got;
}

/* Read all of the small file `name` in folder dfd (at most `max` bytes)
 * into a malloc'ed buffer.  Returns it with *len set, or NULL. */
static unsigned char *read_small(int dfd, const char *name, size_t max, size_t *len)
{
	int fd = open_regular(dfd, name, 0);
	if (fd < 0)
		return NULL;
	struct stat st;
	unsigned char *buf = NULL;
	if (fstat(fd, &st) != 0 || st.st_size <= 0 || (uint64_t)st.st_size > max)
		goto out;
	size_t size = (size_t)st.st_size;
	buf = xmalloc(size);
	if (read_upto(fd, buf, size) != size) {
		free(buf);
		buf = NULL;
		goto out;
	}
	*len = size;
out:
	close(fd);
	return buf;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Check a partitioned table `table` from its .par file: every partition's
 * engine must be one the scan vouches for and its data file
 * "<table>#P#<name>.<ext>" must be in the folder.  Sets c->cannot when not. */
static void check_partitions(struct db_check *c, int dfd, const char *table, const struct entry *v,
                             size_t n)
{
	char *par = xasprintf("%s.par", table);
	/* At most 8192 partitions, names of up to 64 characters (encoded: at
	 * most 5 bytes each), twice for sub-partitions: well below 8 MiB. */
	size_t got = 0;
	unsigned char *buf = read_small(dfd, par, 8 << 20, &got);
	/* Layout: words of 4 bytes, little endian: [0] length in words,
	 * [1] checksum, [2] partition count, then one engine byte per partition
	 * (padded to a word), a word with the length of the names, and the
	 * NUL-terminated, already encoded partition names. */
	uint32_t parts = got >= 12 ? le32(buf + 8) : 0;
	size_t names_at = 12 + ((size_t)parts + 3) / 4 * 4;
	if (buf == NULL || got < 12 || parts == 0 || parts > 65536 || names_at + 4 > got) {
		set_cannot(c, xasprintf("partitioned table '%s' has no readable '%s'; cannot "
		                        "detect changes",
		                        table, par));
		goto out;
	}
	size_t pos = names_at + 4, end = got;
	for (uint32_t i = 0; i < parts; i++) {
		int code = buf[12 + i];
		const char *ext = data_ext(code);
		if (ext == NULL || code == FRM_CSV) {
			set_cannot(c, xasprintf("partitioned table '%s' has engine type %d; cannot "
			                        "detect changes",
			                        table, code));
			goto out;
		}
		const unsigned char *nul = pos < end ? memchr(buf + pos, 0, end - pos) : NULL;
		if (nul == NULL || nul == buf + pos) {
			set_cannot(c,
			           xasprintf("partitioned table '%s' has no readable '%s'; cannot "
			                     "detect changes",
			                     table, par));
			goto out;
		}
		char *file = xasprintf("%s#P#%s.%s", table, (const char *)buf + pos, ext);
		pos = (size_t)(nul - buf) + 1;
		if (!has_entry(v, n, file)) {
			set_cannot(c, xasprintf("partition of table '%s' has no data file '%s'; "
			                        "cannot detect changes",
			                        table, file));
			free(file);
			goto out;
		}
		if (code == FRM_ARIA)
			c->has_aria = 1;
		free(file);
	}
out:
	free(buf);
	free(par);
}

/* Check that table `table` (from "<table>.frm") is a view or of an engine
 * whose changes show in its files here.  Sets c->cannot when not. */
static void check_table(struct db_check *c, int dfd, const char *table, const struct entry *v,
                        size_t n)
{
	char *frm = xasprintf("%s.frm", table);
	unsigned char head[16];
	ssize_t got = read_head(dfd, frm, head, sizeof(head));
	if (got < 0 && errno == ENOENT)
		goto out; /* dropped meanwhile: the folder's mtime shows it */
	if (got >= 9 && memcmp(head, "TYPE=VIEW", 9) == 0)
		goto out;
	if (got < 4 || head[0] != 0xfe || head[1] != 0x01) {
		set_cannot(c, xasprintf("table '%s' has an unreadable '%s'; cannot detect changes",
		                        table, frm));
		goto out;
	}
	int code = head[3];
	if (code == FRM_PARTITION) {
		check_partitions(c, dfd, table, v, n);
		goto out;
	}
	const char *ext = data_ext(code);
	if (ext == NULL) {
		set_cannot(c, xasprintf("table '%s' has engine type %d; cannot detect changes",
		                        table, code));
		goto out;
	}
	char *data = xasprintf("%s.%s", table, ext);
	if (!has_entry(v, n, data))
		set_cannot(c, xasprintf("table '%s' has no data file '%s'; cannot detect changes",
		                        table, data));
	free(data);
out:
	free(frm);
}

static void note_mtime(struct db_check *c, const struct stat *st, const char *name)
{
	int64_t sec = (int64_t)st->st_mtim.tv_sec;
	long nsec = st->st_mtim.tv_nsec;
	if (c->mtime_file != NULL &&
	    (sec < c->mtime_sec || (sec == c->mtime_sec && nsec <= c->mtime_nsec)))
		return;
	c->mtime_sec = sec;
	c->mtime_nsec = nsec;
	free(c->mtime_file);
	c->mtime_file = xstrdup(name);
}

/* One database folder's scan: the check it fills and the entries seen. */
struct scan {
	struct db_check *c;
	const char *datadir;
	struct entry *v;
	size_t n, cap;
};

/* The folder (it exists) or one of its entries: note its mtime, whether it
 * is an Aria file, and keep it for scan_checks.  Returns 0. */
static int scan_entry(struct walk *w, struct walk_entry *e)
{
	struct scan *s = w->data;
	struct db_check *c = s->c;
	if (e->depth == 0) {
		c->found = 1;
		return 0;
	}
	note_mtime(c, e->st, e->name);
	const char *ext = ext_of(e->name);
	if (strcmp(ext, "MAD") == 0 || strcmp(ext, "MAI") == 0)
		c->has_aria = 1;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = (struct entry){xstrdup(e->name), S_ISDIR(e->st->st_mode)};
	return 0;
}

/* The folder once all its entries are seen: every table, then every entry,
 * in name order (so the reason given is always the same one), and the
 * folder's own mtime last, so a drop during the scan still shows.
 * Returns 0. */
static int scan_checks(struct walk *w, const struct walk_entry *e)
{
	struct scan *s = w->data;
	struct db_check *c = s->c;
	struct entry *v = s->v;
	size_t n = s->n;
	if (n > 0)
		qsort(v, n, sizeof(*v), cmp_entry);
	for (size_t i = 0; i < n && c->cannot == NULL; i++) {
		size_t len = strlen(v[i].name);
		if (!v[i].is_dir && len > 4 && strcmp(v[i].name + len - 4, ".frm") == 0) {
			char *table = xstrndup(v[i].name, len - 4);
			check_table(c, e->fd, table, v, n);
			free(table);
		}
	}
	for (size_t i = 0; i < n && c->cannot == NULL; i++) {
		if (v[i].is_dir)
			set_cannot(
			        c,
			        xasprintf("unexpected folder '%s' in datadir folder '%s'; cannot "
			                  "detect changes",
			                  v[i].name, c->folder));
		else if (!known_ext(ext_of(v[i].name)))
			set_cannot(c,
			           xasprintf("file '%s' of an unknown kind in datadir folder '%s'; "
			                     "cannot detect changes",
			                     v[i].name, c->folder));
	}
	struct stat st;
	if (fstat(e->fd, &st) == 0)
		note_mtime(c, &st, "");
	return 0;
}

/* What cannot be read means no change can be detected (a folder that is
 * not there: the decision says so).  Returns 0: the scan goes on. */
static int scan_fail(struct walk *w, const struct walk_entry *e, const char *what, int err)
{
	struct scan *s = w->data;
	struct db_check *c = s->c;
	if (e->depth > 0)
		set_cannot(c, xasprintf("'%s' in datadir folder '%s' cannot be read (%s); cannot "
		                        "detect changes",
		                        e->name, c->folder, walk_reason(err)));
	else if (!(err == ENOENT && strcmp(what, "open folder") == 0))
		set_cannot(c, xasprintf("datadir folder '%s/%s' cannot be read (%s); cannot detect "
		                        "changes",
		                        s->datadir, c->folder, walk_reason(err)));
	return 0;
}

/* Scan the folder of one database: newest mtime (entries, then the folder
 * itself), Aria files, and whether every table can be vouched for.  The
 * folder may be a symbolic link; stat follows symlinks below it too:
 * MyISAM DATA DIRECTORY files show their target. */
static void scan_folder(struct db_check *c, int ddfd, const char *datadir)
{
	struct scan s = {.c = c, .datadir = datadir};
	struct walk w = {
	        .flags = WALK_TOP_DIR | WALK_TOP_FOLLOW | WALK_FOLLOW,
	        .max_depth = 1,
	        .entry = scan_entry,
	        .leave = scan_checks,
	        .fail = scan_fail,
	        .data = &s,
	};
	(void)walk_tree(&w, ddfd, c->folder);
	for (size_t i = 0; i < s.n; i++)
		free(s.v[i].name);
	free(s.v);
}

void changes_scan_datadir(struct changes_state *st, const char *datadir)
{
	int ddfd = datadir != NULL && datadir[0] != '\0'
	                   ? open(datadir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
	                   : -1;
	int e = errno;
	for (size_t i = 0; i < st->ndbs; i++) {
		struct db_check *c = &st->dbs[i];
		if (ddfd < 0)
			set_cannot(c,
			           xasprintf("datadir '%s' cannot be read (%s); cannot detect "
			                     "changes",
			                     datadir != NULL ? datadir : "",
			                     datadir != NULL && datadir[0] != '\0' ? strerror(e)
			                                                           : "not known"));
		else
			scan_folder(c, ddfd, datadir);
	}
	if (ddfd >= 0)
		close(ddfd);
}
