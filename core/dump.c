/* dump.c - dump workers: mysqldump -> compressor -> temp file -> final name. */
#include "dump.h"
#include "dump_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/errbuf.h"
#include "common/io.h"
#include "digest.h"
#include "log.h"
#include "names.h"
#include "proc.h"
#include "util.h"

#define READ_SIZE  (256 * 1024)   /* one read from mysqldump's stdout */
#define PIPE_SIZE  (1024 * 1024)  /* mysqldump's stdout pipe */
#define TAIL_SIZE  DUMP_TAIL_SIZE /* last bytes kept for the completion check */
#define STDERR_MAX (64 * 1024)    /* stderr kept per dump; the rest is read and dropped */

/* ---- completion line --------------------------------------------------- */

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Match `n` digits at *p (advancing it); 0 when they are not there. */
static int digits(const char **p, const char *end, int n)
{
	for (int i = 0; i < n; i++, (*p)++)
		if (*p >= end || !is_digit(**p))
			return 0;
	return 1;
}

/* Whether the line [p, end) matches
 * ^-- Dump completed on \d{4}-\d{2}-\d{2}\s+\d+:\d{2}:\d{2}  */
static int completion_line(const char *p, const char *end)
{
	static const char prefix[] = "-- Dump completed on ";
	size_t plen = sizeof(prefix) - 1;
	if ((size_t)(end - p) < plen || memcmp(p, prefix, plen) != 0)
		return 0;
	p += plen;
	if (!digits(&p, end, 4) || p >= end || *p++ != '-' || !digits(&p, end, 2) || p >= end ||
	    *p++ != '-' || !digits(&p, end, 2))
		return 0;
	if (p >= end || !is_space(*p))
		return 0;
	while (p < end && is_space(*p))
		p++;
	if (p >= end || !is_digit(*p))
		return 0;
	while (p < end && is_digit(*p))
		p++;
	return p < end && *p++ == ':' && digits(&p, end, 2) && p < end && *p++ == ':' &&
	       digits(&p, end, 2);
}

/* Find the last line of [tail, tail+len) that is not blank; sets *start and
 * *end and returns 1, or returns 0 when every line is blank. */
static int last_line(const char *tail, size_t len, const char **start, const char **end)
{
	size_t e = len;
	for (;;) {
		size_t s = e;
		while (s > 0 && tail[s - 1] != '\n')
			s--;
		for (size_t i = s; i < e; i++) {
			if (!is_space(tail[i])) {
				*start = tail + s;
				*end = tail + e;
				return 1;
			}
		}
		if (s == 0)
			return 0;
		e = s - 1;
	}
}

int dump_completed(const char *tail, size_t len)
{
	const char *s, *e;
	if (tail == NULL || !last_line(tail, len, &s, &e))
		return 0;
	return completion_line(s, e);
}

/* ---- one dump ---------------------------------------------------------- */

/* The file a compressor writes through (OMA_COMPRESS_SINK): bytes go to
 * the temp file and into its SHA-256, and a failure names the file. */
struct file_sink {
	int fd;
	const char *path;
	struct digest *dg;
	int failed;
	uint64_t *written; /* the job's count of bytes written (progress) */
};

static int sink_write(void *ctx, const void *buf, size_t len, char *err, size_t errlen)
{
	struct file_sink *k = ctx;
	if (cm_write_all(k->fd, buf, len) != 0) {
		k->failed = 1;
		cm_errf(err, errlen, "cannot write %s: %s", k->path, strerror(errno));
		return -1;
	}
	digest_update(k->dg, buf, len);
	__atomic_add_fetch(k->written, (uint64_t)len, __ATOMIC_RELAXED);
	return 0;
}

/* The job's error for a failed compressor call: the sink's text names the
 * file already; the plugin's own may only name an fd. */
static void compressor_error(const struct file_sink *k, const char *cerr, char *out, size_t outlen)
{
	if (k->failed)
		cm_errf(out, outlen, "%s", cerr);
	else
		cm_errf(out, outlen, "compressor writing %s: %s", k->path, cerr);
}

/* What a worker needs while one mysqldump runs. */
struct dumping {
	const struct dump_settings *s;
	struct dump_job *j;
	void *stream;  /* the compressor's */
	void *estream; /* the encryption stage's, or NULL */
	char tail[TAIL_SIZE];
	size_t tail_len;
	uint64_t total;  /* bytes read from stdout */
	char error[512]; /* why the job failed; "" while it has not */
	struct file_sink sink;
	char **argv; /* mysqldump's */
	struct proc child;
	struct proc_result res;
	char *final, *tmp; /* the file's paths, final and while it is written */
	int fd;            /* tmp, open */
	int tmp_made;      /* tmp exists and is ours to remove */
};

static void keep_tail(struct dumping *d, const char *p, size_t n)
{
	if (n >= TAIL_SIZE) {
		memcpy(d->tail, p + n - TAIL_SIZE, TAIL_SIZE);
		d->tail_len = TAIL_SIZE;
		return;
	}
	if (d->tail_len + n > TAIL_SIZE) {
		size_t drop = d->tail_len + n - TAIL_SIZE;
		memmove(d->tail, d->tail + drop, d->tail_len - drop);
		d->tail_len -= drop;
	}
	memcpy(d->tail + d->tail_len, p, n);
	d->tail_len += n;
}

/* The kept tail without a leading partial line (when the output was longer
 * than the tail, its first line may be cut). */
static const char *whole_tail(const struct dumping *d, size_t *len)
{
	if (d->total <= d->tail_len) {
		*len = d->tail_len;
		return d->tail;
	}
	const char *nl = memchr(d->tail, '\n', d->tail_len);
	if (nl == NULL) {
		*len = 0;
		return d->tail;
	}
	*len = d->tail_len - (size_t)(nl + 1 - d->tail);
	return nl + 1;
}

/* Copy [p, end) into out as one printable line, shortened with "...". */
static void printable(const char *p, const char *end, char *out, size_t outlen)
{
	size_t max = outlen > 100 ? 100 : outlen - 1, n = 0;
	while (p < end && n < max) {
		unsigned char c = (unsigned char)*p++;
		out[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	if (p < end && n >= 3) {
		/* Shortened: never in the middle of a UTF-8 character. */
		size_t k = n - 3;
		while (k > 0 && ((unsigned char)out[k] & 0xc0) == 0x80)
			k--;
		memcpy(out + k, "...", 3);
		n = k + 3;
	}
	out[n] = '\0';
}

/* `line` with the word "Error" written "error": a dump that succeeded
 * logs mysqldump's complaints as warnings, and a successful run's log
 * never says "Error" (monitoring greps for it).  Malloc'ed. */
static char *soften(const char *line, size_t len)
{
	char *s = xstrndup(line, len);
	for (char *p = strstr(s, "Error"); p != NULL; p = strstr(p + 5, "Error"))
		p[0] = 'e';
	return s;
}

/* Log each non-empty line of mysqldump's stderr: as errors when the dump
 * failed, as warnings when it succeeded anyway (mysqldump exits 0 after
 * e.g. "Error: 'Access denied; you need the PROCESS privilege' when trying
 * to dump tablespaces"). */
static void log_stderr(const struct dumping *d, const struct proc_result *res, int ok)
{
	const char *p = res->err, *end = res->err + res->err_len;
	int level = ok ? OMA_LOG_WARNING : OMA_LOG_ERROR;
	while (p != NULL && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl != NULL ? nl : end;
		const char *le = e;
		while (le > p && (le[-1] == '\r' || le[-1] == ' '))
			le--;
		/* mysqldump starts its own lines with "mysqldump: " already. */
		if (le - p > 11 && memcmp(p, "mysqldump: ", 11) == 0)
			p += 11;
		if (le > p) {
			char *line = ok ? soften(p, (size_t)(le - p))
			                : xstrndup(p, (size_t)(le - p));
			log_msg(level, "DB '%s': mysqldump: %s", d->j->db, line);
			free(line);
		}
		p = nl != NULL ? nl + 1 : NULL;
	}
	if (res->err_cut)
		log_msg(level, "DB '%s': mysqldump: (stderr cut after %d bytes)", d->j->db,
		        STDERR_MAX);
}

/* The argument vector for one database: `bin DB options...` as upstream
 * does.  mysqldump parses options anywhere on its command line, so a name
 * starting with '-' would be read as an option; such a name goes after the
 * options and a "--" (end of options) instead: `bin options... -- DB`. */
static char **dump_argv(const struct dump_settings *s, const char *db)
{
	size_t nopt = s->options != NULL ? s->options->n : 0;
	char **argv = xcalloc(nopt + 4, sizeof(*argv));
	size_t k = 0;
	argv[k++] = (char *)s->mysqldump_bin;
	if (db[0] != '-')
		argv[k++] = (char *)db;
	for (size_t i = 0; i < nopt; i++)
		argv[k++] = s->options->v[i];
	if (db[0] == '-') {
		argv[k++] = "--";
		argv[k++] = (char *)db;
	}
	argv[k] = NULL;
	return argv;
}

/* proc_wait's consumer of mysqldump's stdout: into the tail and the
 * compressor.  Returns -1 (the child is then stopped) when the compressor
 * fails, with d->error set. */
static int feed(void *arg, const char *buf, size_t n)
{
	struct dumping *d = arg;
	d->total += (uint64_t)n;
	keep_tail(d, buf, n);
	char cerr[384] = "";
	if (d->s->comp->write(d->stream, buf, n, cerr, sizeof(cerr)) != 0) {
		compressor_error(&d->sink, cerr, d->error, sizeof(d->error));
		return -1;
	}
	return 0;
}

/* Judge a finished mysqldump: exit status, output, completion line.
 * Returns 0, or -1 with d->error set. */
static int judge(struct dumping *d, int status)
{
	if (WIFSIGNALED(status)) {
		cm_errf(d->error, sizeof(d->error), "mysqldump was killed by signal %d",
		        WTERMSIG(status));
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		cm_errf(d->error, sizeof(d->error), "mysqldump exited with code %d",
		        WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return -1;
	}
	if (d->total == 0) {
		cm_errf(d->error, sizeof(d->error),
		        "mysqldump exited with code 0 but wrote nothing");
		return -1;
	}
	size_t len;
	const char *tail = whole_tail(d, &len);
	return dump_check_tail(tail, len, d->error, sizeof(d->error));
}

int dump_check_tail(const char *tail, size_t len, char *why, size_t whylen)
{
	if (dump_completed(tail, len))
		return 0;
	const char *s, *e;
	char last[128] = "";
	if (tail != NULL && last_line(tail, len, &s, &e))
		printable(s, e, last, sizeof(last));
	cm_errf(why, whylen, "completion line missing (last line: %s)", last);
	return -1;
}

/* A dump whose output is complete in its temp file but not yet durable
 * under its final name.  Settling it (fsync, rename, folder fsync, the
 * caller's `done` hook) waits for the disk, so a worker does that while the
 * next mysqldump starts up (exec, connect, first queries) instead of before:
 * with hundreds of small databases the waits add up to most of a second. */
struct settling {
	struct dump_job *j; /* NULL when there is nothing to settle */
	int fd;
	char *tmp, *final;
	int big;           /* settle before the next mysqldump starts (below) */
	struct digest *dg; /* what went through the sink; NULL: read the file */
};

/* A dump of more than this many bytes settles before the next mysqldump
 * starts: its fsync may take seconds, and meanwhile the next mysqldump,
 * its pipe full, would hold its table locks (--lock-tables) for nothing.
 * The overlap only matters for small dumps anyway. */
#define SETTLE_FIRST_BYTES (16 * 1024 * 1024)

/* Log the outcome of a job whose work is over. */
static void log_outcome(struct dump_job *j, const char *error)
{
	free(j->error);
	j->error = NULL;
	if (j->ok) {
		log_info("DB '%s': Backup successfully", j->db);
		log_debug("DB '%s': %s, %llu bytes in %.1f s", j->db, j->file,
		          (unsigned long long)j->bytes, j->seconds);
	} else {
		j->error = xstrdup(error != NULL && error[0] != '\0' ? error : "failed");
		log_error("DB '%s': Backup failed: %s", j->db, j->error);
	}
}

/* Make a finished dump durable under its final name and log the outcome. */
static void settle(const struct dump_settings *s, struct settling *p)
{
	struct dump_job *j = p->j;
	char error[512] = "";
	struct stat st;
	struct timespec t0, t1;
	if (j == NULL)
		return;
	p->j = NULL;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (p->dg != NULL) {
		digest_hex(p->dg, j->sha256);
	} else if (digest_fd(p->fd, j->sha256) != 0) {
		/* A compressor without a sink: hash what it wrote. */
		cm_errf(error, sizeof(error), "cannot read back %s: %s", p->tmp, strerror(errno));
		close(p->fd);
		unlink(p->tmp);
		goto out;
	}
	if (fsync(p->fd) != 0 || fstat(p->fd, &st) != 0) {
		cm_errf(error, sizeof(error), "cannot write %s: %s", p->tmp, strerror(errno));
		close(p->fd);
		unlink(p->tmp);
		goto out;
	}
	if (close(p->fd) != 0) {
		cm_errf(error, sizeof(error), "cannot write %s: %s", p->tmp, strerror(errno));
		unlink(p->tmp);
		goto out;
	}
	if (rename(p->tmp, p->final) != 0) {
		cm_errf(error, sizeof(error), "cannot rename %s to %s: %s", p->tmp, p->final,
		        strerror(errno));
		unlink(p->tmp);
		goto out;
	}
	if (fsync_dir(s->dir) != 0) {
		cm_errf(error, sizeof(error), "cannot sync folder %s: %s", s->dir, strerror(errno));
		unlink(p->final);
		goto out;
	}
	j->bytes = (uint64_t)st.st_size;
	j->ok = 1;
out:
	if (!j->ok)
		j->sha256[0] = '\0';
	digest_free(p->dg);
	p->dg = NULL;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	j->seconds += (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	p->fd = -1;
	free(p->tmp);
	free(p->final);
	p->tmp = p->final = NULL;
	log_outcome(j, error);
	if (j->ok && s->done != NULL)
		s->done(s->done_arg, j);
}

/* Start mysqldump for d's job, its file names made first; a big previous
 * dump of the worker (*prev) is settled before.  Returns 0, or -1 with
 * d->error set. */
static int start_dump(struct dumping *d, int threads, struct settling *prev)
{
	const struct dump_settings *s = d->s;
	char stem[NAMES_STEM_MAX + 1];
	if (names_encode(d->j->db, stem, sizeof(stem)) != 0) {
		cm_errf(d->error, sizeof(d->error),
		        "cannot make a file name from the database name");
		return -1;
	}
	d->j->file = xasprintf("%s%s%s", stem, s->comp->suffix, s->enc ? s->enc->suffix : "");
	d->final = xasprintf("%s/%s", s->dir, d->j->file);
	d->tmp = xasprintf("%s.part", d->final);

	if (prev->j != NULL && prev->big)
		settle(s, prev);
	/* A dump with more than one thread (a big database, or one of the
	 * last dumps) gets 1 MiB between mysqldump and the compressor instead
	 * of 64 KiB, so that neither side's bursts stall the other.  Only
	 * these: with every CPU busy a bigger pipe costs time (measured in
	 * docs/PERFORMANCE.md "CPUs for the big database").  Refused above
	 * fs.pipe-max-size or a user's pipe quota: 64 KiB stays. */
	d->argv = dump_argv(s, d->j->db);
	int sp = proc_start(&d->child, d->argv, NULL, threads > 1 ? PIPE_SIZE : 0);
	if (sp != 0) {
		cm_errf(d->error, sizeof(d->error), "cannot run '%s': %s", s->mysqldump_bin,
		        strerror(sp));
		return -1;
	}
	return 0;
}

/* The compressor's sink with an encryption stage: into the stage (whose
 * own sink is the file's). */
static int enc_sink(void *ctx, const void *buf, size_t len, char *err, size_t errlen)
{
	struct dumping *d = ctx;
	return d->s->enc->write(d->estream, buf, len, err, errlen);
}

/* Open the encryption stage on the file's sink.  Returns 0, or -1 with
 * d->error set. */
static int open_encryption(struct dumping *d)
{
	char eerr[384] = "";
	struct oma_encrypt_params ep = {.size = sizeof(ep),
	                                .sink = sink_write,
	                                .sink_ctx = &d->sink};
	if (d->s->enc->open(&d->estream, &ep, eerr, sizeof(eerr)) != 0) {
		d->estream = NULL;
		cm_errf(d->error, sizeof(d->error), "encryption: %s", eerr);
		return -1;
	}
	return 0;
}

/* Create the temp file and open the compressor on it (with a sink that
 * hashes what it writes, when the compressor takes one; through the
 * encryption stage when there is one).  Returns 0, or -1 with d->error
 * set. */
static int open_output(struct dumping *d, int threads)
{
	const struct dump_settings *s = d->s;
	char cerr[384] = "";
	/* O_RDWR: a compressor without a sink is hashed by reading back. */
	d->fd = open(d->tmp, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0640);
	if (d->fd < 0) {
		cm_errf(d->error, sizeof(d->error), "cannot create %s: %s", d->tmp,
		        strerror(errno));
		return -1;
	}
	d->tmp_made = 1;

	struct oma_compress_params params = {.size = sizeof(params),
	                                     .level = s->level,
	                                     .threads = threads};
	d->sink = (struct file_sink){.fd = d->fd, .path = d->tmp, .written = &d->j->written};
	if (s->comp->flags & OMA_COMPRESS_SINK) {
		d->sink.dg = digest_new();
		if (d->sink.dg == NULL) {
			cm_errf(d->error, sizeof(d->error), "cannot start a SHA-256 digest");
			return -1;
		}
		params.sink = sink_write;
		params.sink_ctx = &d->sink;
		if (s->enc != NULL) {
			if (open_encryption(d) != 0)
				return -1;
			params.sink = enc_sink;
			params.sink_ctx = d;
		}
	}
	if (s->comp->open(&d->stream, d->fd, &params, cerr, sizeof(cerr)) != 0) {
		d->stream = NULL;
		cm_errf(d->error, sizeof(d->error), "compressor: %s", cerr);
		return -1;
	}
	return 0;
}

/* Stream mysqldump's output into the compressor until it exits, then
 * judge it; its stderr is logged either way.  Returns 0 when the dump is
 * complete, -1 with d->error set (and no temp file left when mysqldump
 * was stopped). */
static int wait_dump(struct dumping *d)
{
	const struct dump_settings *s = d->s;
	struct proc_limits lim = {
	        .stall_ms = (int64_t)s->stall_timeout * 1000,
	        .on_out = feed,
	        .arg = d,
	        .err_keep = STDERR_MAX,
	        .read_size = READ_SIZE,
	};
	int waited = proc_wait(&d->child, &lim, &d->res);
	if (waited != 0) {
		/* Cancelled, stalled or broken: no temp file stays behind. */
		unlink(d->tmp);
		d->tmp_made = 0;
		char how[256];
		switch (d->res.end) {
		case PROC_REFUSED: /* the compressor's error is set */
			break;
		case PROC_STALLED:
			cm_errf(d->error, sizeof(d->error),
			        "mysqldump wrote nothing for %ld seconds (dump_stall_timeout); stopped",
			        s->stall_timeout);
			break;
		case PROC_CANCELLED:
			cm_errf(d->error, sizeof(d->error), "cancelled");
			break;
		default:
			proc_describe(&d->res, &lim, how, sizeof(how));
			cm_errf(d->error, sizeof(d->error), "mysqldump: %s", how);
			break;
		}
		log_stderr(d, &d->res, 0);
		return -1;
	}
	if (d->res.lingered)
		log_warning("DB '%s': mysqldump exited but something it started kept its output "
		            "open; stopped reading after %d ms",
		            d->j->db, PROC_LINGER_MS);
	if (proc_cancelled()) {
		cm_errf(d->error, sizeof(d->error), "cancelled");
		log_stderr(d, &d->res, 0);
		return -1;
	}
	int judged = judge(d, d->res.status);
	log_stderr(d, &d->res, judged == 0);
	return judged;
}

/* Finish the compressed stream and hand the complete file over to
 * settle() in *next.  Returns 0, or -1 with d->error set. */
static int finish_output(struct dumping *d, struct settling *next)
{
	char cerr[384] = "";
	int fin = d->s->comp->finish(d->stream, cerr, sizeof(cerr));
	d->stream = NULL;
	if (fin != 0) {
		compressor_error(&d->sink, cerr, d->error, sizeof(d->error));
		return -1;
	}
	if (d->estream != NULL) {
		fin = d->s->enc->finish(d->estream, cerr, sizeof(cerr));
		d->estream = NULL;
		if (fin != 0) {
			if (d->sink.failed)
				cm_errf(d->error, sizeof(d->error), "%s", cerr);
			else
				cm_errf(d->error, sizeof(d->error), "encryption writing %s: %s",
				        d->tmp, cerr);
			return -1;
		}
	}
	*next = (struct settling){.j = d->j,
	                          .fd = d->fd,
	                          .tmp = d->tmp,
	                          .final = d->final,
	                          .big = d->total > SETTLE_FIRST_BYTES,
	                          .dg = d->sink.dg};
	d->sink.dg = NULL;
	d->fd = -1;
	d->tmp = d->final = NULL;
	d->tmp_made = 0;
	return 0;
}

/* Dump one job into s->dir.  A job that fails is finished here (logged,
 * temp file gone); one whose output is complete is handed over in *next
 * for settle().  *prev, the worker's previous dump, is settled once this
 * one's mysqldump runs (or right away when it cannot start). */
static void dump_one(const struct dump_settings *s, struct dump_job *j, int threads,
                     struct settling *prev, struct settling *next)
{
	struct dumping d = {.s = s,
	                    .j = j,
	                    .fd = -1,
	                    .child = {.pid = -1, .pidfd = -1, .out_fd = -1, .err_fd = -1}};
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* Before mysqldump starts: a later run compares changes with this. */
	j->started = time(NULL);
	j->ok = 0;
	j->bytes = 0;
	free(j->file);
	j->file = NULL;
	__atomic_store_n(&j->written, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&j->phase, DUMP_RUNNING, __ATOMIC_RELEASE);

	int rc = -1;
	if (proc_cancelled())
		cm_errf(d.error, sizeof(d.error), "cancelled");
	else
		rc = start_dump(&d, threads, prev);
	if (rc == 0) {
		/* mysqldump needs milliseconds before its first byte (its output
		 * waits in the pipe meanwhile): the previous dump settles now,
		 * and this one's file is made. */
		settle(s, prev);
		rc = open_output(&d, threads);
	}
	if (rc == 0)
		rc = wait_dump(&d);
	if (rc == 0)
		(void)finish_output(&d, next);

	settle(s, prev);
	if (d.child.pid > 0)
		proc_kill(&d.child);
	if (d.stream != NULL)
		s->comp->abort(d.stream);
	if (d.estream != NULL)
		s->enc->abort(d.estream);
	if (d.fd >= 0)
		close(d.fd);
	if (d.tmp_made)
		unlink(d.tmp);
	proc_result_free(&d.res);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	j->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (next->j != j)
		log_outcome(j, d.error);
	__atomic_store_n(&j->phase, DUMP_ENDED, __ATOMIC_RELEASE);
	digest_free(d.sink.dg);
	free(d.argv);
	free(d.final);
	free(d.tmp);
}

/* ---- workers ----------------------------------------------------------- */

struct run {
	const struct dump_settings *s;
	struct dump_job *jobs;
	size_t *order;         /* job indices, heaviest first */
	uint64_t *weight_left; /* [i]: weight of order[i] and every job after it */
	size_t njobs;
	size_t next;     /* next job to start */
	size_t parallel; /* dumps at once */
	pthread_mutex_t lock;
};

/* Compressor threads for the i-th job to start: the CPUs shared evenly
 * among the dumps that can still run at once, or more when the job's share
 * of the weight left (its own and that of every job after it) says so, at
 * most all CPUs.  A big database that starts next to small ones (the
 * `mysql` schema, say) thus gets the CPUs they leave idle within moments,
 * instead of half of them for all of its dump; the threads of the running
 * dumps may add up to more than the CPUs for a while. */
static int share(const struct run *r, size_t i)
{
	int cpus = r->s->cpus > 0 ? r->s->cpus : 1;
	size_t remaining = r->njobs - i;
	size_t sharing = remaining < r->parallel ? remaining : r->parallel;
	int threads = cpus / (int)sharing;
	uint64_t w = r->jobs[r->order[i]].weight;
	if (r->weight_left[i] > 0 && w > 0) {
		double part = (double)cpus * (double)w / (double)r->weight_left[i];
		int by_weight = (int)(part + 0.5);
		if (by_weight > threads)
			threads = by_weight;
	}
	if (threads > cpus)
		threads = cpus;
	return threads > 0 ? threads : 1;
}

/* Take jobs from the shared index until none is left. */
static void *worker(void *arg)
{
	struct run *r = arg;
	struct settling prev = {.fd = -1};
	for (;;) {
		pthread_mutex_lock(&r->lock);
		size_t i = r->next;
		if (i < r->njobs)
			r->next++;
		pthread_mutex_unlock(&r->lock);
		if (i >= r->njobs)
			break;
		struct settling next = {.fd = -1};
		dump_one(r->s, &r->jobs[r->order[i]], share(r, i), &prev, &next);
		prev = next;
	}
	settle(r->s, &prev);
	return NULL;
}

/* Heaviest first; equal weights keep their order. */
static int by_weight(const void *a, const void *b, void *arg)
{
	const struct dump_job *jobs = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	if (jobs[x].weight != jobs[y].weight)
		return jobs[x].weight > jobs[y].weight ? -1 : 1;
	return x < y ? -1 : x > y;
}

int dump_run(const struct dump_settings *s, struct dump_job *jobs, size_t njobs)
{
	struct run r = {.s = s, .jobs = jobs, .njobs = njobs};
	r.order = xcalloc(njobs ? njobs : 1, sizeof(*r.order));
	for (size_t i = 0; i < njobs; i++)
		r.order[i] = i;
	qsort_r(r.order, njobs, sizeof(*r.order), by_weight, jobs);
	r.weight_left = xcalloc(njobs + 1, sizeof(*r.weight_left));
	for (size_t i = njobs; i-- > 0;)
		r.weight_left[i] = r.weight_left[i + 1] + jobs[r.order[i]].weight;
	pthread_mutex_init(&r.lock, NULL);
	r.parallel = s->parallelism > 0 ? (size_t)s->parallelism : 1;
	if (r.parallel > njobs)
		r.parallel = njobs;

	/* Workers never take process signals (the caller's thread handles them
	 * and may call proc_cancel); a dead child's pipe cannot kill oma. */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGPIPE);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	sigaddset(&block, SIGALRM);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);
	sigaddset(&block, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	pthread_t *tids = xcalloc(r.parallel ? r.parallel : 1, sizeof(*tids));
	size_t started = 0;
	for (size_t i = 0; i < r.parallel; i++) {
		int e = pthread_create(&tids[i], NULL, worker, &r);
		if (e != 0) {
			log_warning("Cannot start dump worker %zu of %zu: %s", i + 1, r.parallel,
			            strerror(e));
			break;
		}
		started++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (started == 0) {
		/* No thread at all: dump here, one at a time, still safe from SIGPIPE. */
		sigset_t pipe_only;
		sigemptyset(&pipe_only);
		sigaddset(&pipe_only, SIGPIPE);
		pthread_sigmask(SIG_BLOCK, &pipe_only, NULL);
		worker(&r);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	for (size_t i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	free(tids);
	free(r.order);
	free(r.weight_left);
	pthread_mutex_destroy(&r.lock);

	int failed = 0;
	for (size_t i = 0; i < njobs; i++)
		if (!jobs[i].ok)
			failed++;
	return failed;
}

void dump_job_clear(struct dump_job *j)
{
	free(j->file);
	free(j->error);
	j->file = NULL;
	j->error = NULL;
	j->ok = 0;
	j->bytes = 0;
	j->seconds = 0;
	j->started = 0;
}
