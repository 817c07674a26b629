/* verify.c - oma --verify: every dump of a backup folder read once, its SHA-256, stream and completion line checked, several at a time. */
#include "verify.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errbuf.h"
#include "digest.h"
#include "dump.h"
#include "proc.h"
#include "runner.h"
#include "sums.h"
#include "util.h"
#include "walk.h"

#define VERIFY_READ (1024 * 1024) /* bytes read from a file at once */

/* One file to check and what came of it. */
struct vfile {
	char *name;
	const struct verify_kind *comp; /* NULL: not a dump (listed in SHA256SUMS only) */
	const struct verify_kind *enc;  /* NULL: not encrypted */
	const struct sums_entry *sum;   /* its SHA256SUMS line, or NULL */
	uint64_t size;                  /* st_size, for the order of work */
	bool missing;                   /* listed, but not in the folder */
	/* results */
	bool bad;
	char *reasons; /* "; "-joined, malloc'ed */
	uint64_t bytes, sql_bytes;
};

struct verify {
	const char *dir;
	struct vfile *files;
	size_t n;
	bool have_sums;
	size_t next; /* the next file to take (under lock) */
	pthread_mutex_t lock;
	FILE *out;
	size_t good, bad; /* files */
	size_t problems;  /* of the folder: no info.json, a bad SHA256SUMS, no dump */
};

/* The last DUMP_TAIL_SIZE bytes of a decompressed stream, and its length. */
struct tail {
	char buf[DUMP_TAIL_SIZE];
	size_t fill;
	uint64_t total;
};

static int tail_out(void *ctx, const void *buf, size_t len, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	struct tail *t = ctx;
	const char *p = buf;
	t->total += len;
	if (len >= sizeof(t->buf)) {
		memcpy(t->buf, p + len - sizeof(t->buf), sizeof(t->buf));
		t->fill = sizeof(t->buf);
		return 0;
	}
	if (t->fill + len > sizeof(t->buf)) {
		size_t drop = t->fill + len - sizeof(t->buf);
		memmove(t->buf, t->buf + drop, t->fill - drop);
		t->fill -= drop;
	}
	memcpy(t->buf + t->fill, p, len);
	t->fill += len;
	return 0;
}

static void add_reason(struct vfile *f, const char *why)
{
	f->bad = true;
	char *r = f->reasons ? xasprintf("%s; %s", f->reasons, why) : xstrdup(why);
	free(f->reasons);
	f->reasons = r;
}

/* The kind whose suffix ends `name` at `end` (name + end is where the
 * suffix would end), longest suffix first; NULL when none does. */
static const struct verify_kind *kind_at(const struct verify_kind *k, size_t n, const char *name,
                                         size_t end)
{
	const struct verify_kind *best = NULL;
	for (size_t i = 0; i < n; i++) {
		size_t sl = strlen(k[i].suffix);
		if (sl < end && memcmp(name + end - sl, k[i].suffix, sl) == 0 &&
		    (best == NULL || sl > strlen(best->suffix)))
			best = &k[i];
	}
	return best;
}

/* Whether `name` is a dump: STEM + compressor suffix [+ encryptor suffix];
 * sets *comp and *enc. */
static bool is_dump(const struct verify_kinds *k, const char *name, const struct verify_kind **comp,
                    const struct verify_kind **enc)
{
	size_t len = strlen(name);
	*enc = kind_at(k->enc, k->nenc, name, len);
	size_t end = *enc != NULL ? len - strlen((*enc)->suffix) : len;
	*comp = kind_at(k->comp, k->ncomp, name, end);
	if (*comp == NULL && *enc != NULL) {
		/* "x.age" of an unknown compressor: not a dump of ours */
		*enc = NULL;
		*comp = kind_at(k->comp, k->ncomp, name, len);
	}
	return *comp != NULL && name[0] != '.';
}

/* Feed the open file fd to the digest and to *stream (reader rd; NULL:
 * none).  A stream that fails is aborted and *stream set to NULL; the
 * digest still gets the rest.  Returns 0 at the end of the file, or -1
 * (cancelled, read error) with the reason added to f. */
static int read_through(struct vfile *f, int fd, char *buf, const struct oma_read_ops *rd,
                        void **stream, struct digest *dg)
{
	char err[512];
	for (;;) {
		if (proc_cancelled()) {
			add_reason(f, "cancelled by a signal");
			return -1;
		}
		ssize_t got = read(fd, buf, VERIFY_READ);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			char *why = xasprintf("read error: %s", strerror(errno));
			add_reason(f, why);
			free(why);
			return -1;
		}
		if (got == 0)
			return 0;
		f->bytes += (uint64_t)got;
		digest_update(dg, buf, (size_t)got);
		if (*stream != NULL &&
		    rd->write(*stream, buf, (size_t)got, err, sizeof(err)) != 0) {
			add_reason(f, err);
			rd->abort(*stream);
			*stream = NULL;
		}
	}
}

/* Check one file (in a worker thread). */
static void check_file(const struct verify *v, struct vfile *f, char *buf)
{
	char err[512];
	if (f->missing) {
		add_reason(f, "missing (listed in SHA256SUMS)");
		return;
	}
	char *path = xasprintf("%s/%s", v->dir, f->name);
	/* O_NONBLOCK: a FIFO or a device named like a dump must not hang the
	 * check (reused dumps may be symbolic links: they are followed). */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	free(path);
	if (fd < 0) {
		char *why = xasprintf("cannot open: %s", strerror(errno));
		add_reason(f, why);
		free(why);
		return;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		add_reason(f, "not a regular file");
		close(fd);
		return;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		(void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	const struct verify_kind *k = f->enc != NULL ? f->enc : f->comp;
	const struct oma_read_ops *rd = k != NULL ? k->read : NULL;
	struct tail t = {0};
	struct oma_read_params p = {
	        .size = sizeof(p),
	        .out = f->enc == NULL ? tail_out : NULL,
	        .out_ctx = f->enc == NULL ? &t : NULL,
	};
	void *stream = NULL;
	if (rd != NULL && rd->open(&stream, &p, err, sizeof(err)) != 0) {
		add_reason(f, err);
		rd = NULL;
		stream = NULL;
	}
	struct digest *dg = digest_new();
	if (dg == NULL) {
		add_reason(f, "cannot start a SHA-256 digest");
		if (stream != NULL)
			rd->abort(stream);
		close(fd);
		return;
	}
	bool read_ok = read_through(f, fd, buf, rd, &stream, dg) == 0;
	close(fd);
	bool stream_ok = stream != NULL && read_ok;
	if (stream_ok && rd->finish(stream, err, sizeof(err)) != 0) {
		add_reason(f, err);
		stream_ok = false;
	} else if (stream != NULL && !read_ok) {
		rd->abort(stream);
	}
	char hex[DIGEST_HEX_LEN + 1];
	digest_hex(dg, hex);
	digest_free(dg);
	if (!read_ok)
		return;
	if (f->sum != NULL && strcmp(f->sum->hex, hex) != 0) {
		char *why = xasprintf("checksum mismatch (SHA256SUMS %.12s..., file %.12s...)",
		                      f->sum->hex, hex);
		add_reason(f, why);
		free(why);
	} else if (f->sum == NULL && v->have_sums) {
		add_reason(f, "not listed in SHA256SUMS");
	}
	if (f->comp != NULL && f->enc == NULL && stream_ok) {
		f->sql_bytes = t.total;
		if (dump_check_tail(t.buf, t.fill, err, sizeof(err)) != 0)
			add_reason(f, err);
	}
	if (f->comp != NULL && k->read == NULL)
		add_reason(f, "its plugin cannot read files back (built for an older oma)");
}

/* Print f's line (under the lock). */
static void report_file(struct verify *v, const struct vfile *f)
{
	char *name = escape_controls(f->name);
	if (f->bad) {
		char *why = escape_controls(f->reasons);
		(void)fprintf(v->out, "BAD  %s: %s\n", name, why);
		free(why);
		v->bad++;
	} else {
		char what[160];
		if (f->comp == NULL)
			(void)snprintf(what, sizeof(what), "%" PRIu64 " bytes, checksum", f->bytes);
		else if (f->enc != NULL)
			(void)snprintf(what, sizeof(what),
			               "%" PRIu64
			               " bytes, %s%s structure (the content needs the key)",
			               f->bytes, v->have_sums ? "checksum, " : "", f->enc->name);
		else
			(void)snprintf(what, sizeof(what),
			               "%" PRIu64 " bytes, %s%s stream, %" PRIu64
			               " bytes of SQL, completion line",
			               f->bytes, v->have_sums ? "checksum, " : "", f->comp->name,
			               f->sql_bytes);
		(void)fprintf(v->out, "OK   %s (%s)\n", name, what);
		v->good++;
	}
	(void)fflush(v->out);
	free(name);
}

static void *worker(void *arg)
{
	struct verify *v = arg;
	char *buf = xmalloc(VERIFY_READ);
	for (;;) {
		pthread_mutex_lock(&v->lock);
		size_t i = v->next < v->n ? v->next++ : v->n;
		pthread_mutex_unlock(&v->lock);
		if (i == v->n)
			break;
		check_file(v, &v->files[i], buf);
		pthread_mutex_lock(&v->lock);
		report_file(v, &v->files[i]);
		pthread_mutex_unlock(&v->lock);
	}
	free(buf);
	return NULL;
}

/* Biggest first, so no long file is left alone at the end. */
static int by_size(const void *a, const void *b)
{
	const struct vfile *x = a, *y = b;
	if (x->size != y->size)
		return x->size < y->size ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* The files to check: the folder's dumps and SHA256SUMS's lines.  Returns
 * 0, or -1 with err set. */
static int collect(struct verify *v, const struct verify_kinds *k, const struct sums *sums,
                   char *err, size_t errlen)
{
	int fd = open(v->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct strv names = {0};
	if (fd < 0 || walk_names(fd, &names) != 0) {
		cm_errf(err, errlen, "cannot read folder %s: %s", v->dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	v->files = xcalloc(names.n + sums->n + 1, sizeof(*v->files));
	for (size_t i = 0; i < names.n; i++) {
		const struct verify_kind *comp, *enc;
		struct stat st;
		if (!is_dump(k, names.v[i], &comp, &enc) && sums_find(sums, names.v[i]) == NULL)
			continue;
		if (fstatat(fd, names.v[i], &st, 0) != 0 || !S_ISREG(st.st_mode)) {
			if (sums_find(sums, names.v[i]) == NULL && comp == NULL)
				continue;
			st.st_size = 0;
		}
		struct vfile *f = &v->files[v->n++];
		f->name = xstrdup(names.v[i]);
		f->comp = comp;
		f->enc = enc;
		f->sum = sums_find(sums, names.v[i]);
		f->size = (uint64_t)st.st_size;
	}
	for (size_t i = 0; i < sums->n; i++) {
		if (strv_contains(&names, sums->v[i].name))
			continue;
		struct vfile *f = &v->files[v->n++];
		f->name = xstrdup(sums->v[i].name);
		f->sum = &sums->v[i];
		f->missing = true;
	}
	close(fd);
	strv_free(&names);
	qsort(v->files, v->n, sizeof(*v->files), by_size);
	return 0;
}

int verify_folder(const char *dir, const struct verify_kinds *kinds, int threads, FILE *out)
{
	char err[1024];
	struct verify v = {.dir = dir, .out = out};
	struct sums sums = {0};
	struct stat st;
	int code = OMA_EXIT_FAILED;
	if (stat(dir, &st) != 0) {
		(void)fprintf(out, "Cannot verify %s: %s\n", dir, strerror(errno));
		return code;
	}
	if (!S_ISDIR(st.st_mode)) {
		(void)fprintf(out, "Cannot verify %s: not a folder\n", dir);
		return code;
	}
	int rs = sums_read(dir, &sums, err, sizeof(err));
	if (rs < 0) {
		(void)fprintf(out, "BAD  %s: %s\n", SUMS_FILE, err);
		v.problems++;
	}
	v.have_sums = rs == 0;
	if (rs == 1)
		(void)fprintf(out,
		              "note: %s/%s is missing (a folder of oma before 0.3 or of upstream "
		              "OMA?): checksums cannot be checked\n",
		              dir, SUMS_FILE);
	char *info = xasprintf("%s/info.json", dir);
	bool complete = access(info, F_OK) == 0;
	free(info);
	if (!complete) {
		(void)fprintf(out, "BAD  info.json: missing: the run that wrote this folder did "
		                   "not complete\n");
		v.problems++;
	}
	if (collect(&v, kinds, &sums, err, sizeof(err)) != 0) {
		(void)fprintf(out, "Cannot verify %s: %s\n", dir, err);
		goto out;
	}
	size_t dumps = 0;
	for (size_t i = 0; i < v.n; i++)
		dumps += v.files[i].comp != NULL;
	if (dumps == 0) {
		(void)fprintf(out, "BAD  %s: no dump in the folder\n", dir);
		v.problems++;
	}
	pthread_mutex_init(&v.lock, NULL);
	size_t nt = threads < 1 ? 1 : (size_t)threads;
	if (nt > v.n)
		nt = v.n > 0 ? v.n : 1;
	pthread_t *t = xcalloc(nt, sizeof(*t));
	size_t started = 0;
	for (; started < nt; started++)
		if (pthread_create(&t[started], NULL, worker, &v) != 0)
			break;
	if (started == 0)
		worker(&v); /* no thread could start: do it here */
	for (size_t i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	free(t);
	pthread_mutex_destroy(&v.lock);
	bool ok = v.bad == 0 && v.problems == 0 && !proc_cancelled();
	char folder[64] = "";
	if (v.problems > 0)
		(void)snprintf(folder, sizeof(folder), ", %zu problem%s of the folder", v.problems,
		               v.problems == 1 ? "" : "s");
	(void)fprintf(out, "%s %s: %zu file%s checked, %zu good, %zu bad%s%s\n",
	              ok ? "Verified" : "FAILED", dir, v.n, v.n == 1 ? "" : "s", v.good, v.bad,
	              folder, proc_cancelled() ? " (cancelled by a signal)" : "");
	if (ok)
		code = OMA_EXIT_OK;
out:
	for (size_t i = 0; i < v.n; i++) {
		free(v.files[i].name);
		free(v.files[i].reasons);
	}
	free(v.files);
	sums_free(&sums);
	return code;
}
