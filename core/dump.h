/* dump.h - dump workers: mysqldump -> compressor -> temp file -> final name. */
#ifndef OMA_DUMP_H
#define OMA_DUMP_H

#include <stdint.h>
#include <time.h>

#include <oma/plugin.h>

#include "config.h"

struct dump_job {
	const char *db;  /* database name */
	uint64_t weight; /* expected size (datadir bytes): the biggest
	                          * dumps start first, so no long one is left
	                          * running alone at the end */
	/* filled in by dump_run: */
	int ok;         /* 1 when the file is complete under its final name */
	char *file;     /* final file name (base name, malloc'ed) */
	uint64_t bytes; /* compressed size */
	double seconds;
	time_t started;  /* epoch time the dump started */
	char sha256[65]; /* SHA-256 of the file, hex ("" unless ok) */
	char *error;     /* one-line reason when !ok (malloc'ed) */
	/* While dump_run runs, for a progress display (read with
	 * __atomic_load_n from another thread): */
	int phase;        /* DUMP_WAITING, DUMP_RUNNING, DUMP_ENDED */
	uint64_t written; /* bytes written to its file so far */
};

enum { DUMP_WAITING = 0, DUMP_RUNNING = 1, DUMP_ENDED = 2 };

struct dump_settings {
	const char *dir; /* current backup folder */
	const char *mysqldump_bin;
	const struct strv *options;          /* mysqldump_options */
	const struct oma_compress_ops *comp; /* compressor */
	/* The encryption stage between the compressor and the file, or NULL
	 * (the compressor then writes through the sink straight to it).  With
	 * one, comp must have OMA_COMPRESS_SINK. */
	const struct oma_encrypt_ops *enc;
	int level;          /* -1 = compressor default */
	int parallelism;    /* dumps at once, >= 1 */
	int cpus;           /* CPUs to share among running dumps */
	long stall_timeout; /* seconds without output before a
	                                       * mysqldump is stopped; 0: never */
	/* Called by the worker thread after each dump that succeeded (file
	 * durable under its final name, success logged); may run in several
	 * threads at once.  NULL: nothing to call. */
	void (*done)(void *arg, const struct dump_job *j);
	void *done_arg;
};

/* Dump every job, s->parallelism at a time, in order of falling weight.  For each: start
 * `mysqldump_bin DB options...` by argument vector (no shell; a name
 * starting with '-' would be read as an option, so it is passed as
 * `mysqldump_bin options... -- DB`) through proc_start, stream its
 * stdout through the compressor (and its sink: the file and its SHA-256)
 * into "STEM SUFFIX.part" in s->dir; a mysqldump silent for
 * s->stall_timeout seconds, or a cancelled run, stops it.  On exit 0 plus
 * completion trailer: fsync, rename to the final name, fsync the folder,
 * log "DB 'NAME': Backup successfully" (its stderr as warnings) and call
 * s->done; otherwise remove the temp file and log the error (its stderr as
 * errors).  A worker settles (fsync, rename) a dump while its next
 * mysqldump starts.  After proc_cancel() (signal handler safe) running
 * dumps stop, their temporary files are removed and their jobs fail with
 * "cancelled", and so do the jobs not started yet.  Returns the number of
 * failed jobs. */
int dump_run(const struct dump_settings *s, struct dump_job *jobs, size_t njobs);

void dump_job_clear(struct dump_job *j);

/* Whether `tail` (the last bytes of a dump's SQL, at least DUMP_TAIL_SIZE
 * of them when there are) ends with mysqldump's completion line
 * ("-- Dump completed on YYYY-MM-DD hh:mm:ss").  Returns 0, or -1 with why
 * "completion line missing (last line: ...)". */
#define DUMP_TAIL_SIZE 512
int dump_check_tail(const char *tail, size_t len, char *why, size_t whylen);

#endif
