/* oma/plugin.h - the only header an oma plugin needs (compress, report, condition, store, encrypt).
 *
 * A plugin is a shared object that exports exactly one read-only symbol,
 * `oma_plugin_descriptor` (a `struct oma_plugin`).  The core dlopen()s the
 * file with RTLD_NOW|RTLD_LOCAL, reads the descriptor and checks `abi`,
 * `size`, `type` and the function table before it calls any plugin code.
 * Build plugins with -fvisibility=hidden and mark only the descriptor with
 * OMA_PLUGIN_EXPORT (OMA_PLUGIN_DEFINE does this).
 *
 * Plugins never link against core symbols: everything they may call in the
 * core comes through the `struct oma_host` table handed to init().
 *
 * Conventions for every function below: return 0 on success and a negative
 * number on failure; on failure, write a one-line reason (no trailing
 * newline) into `err` (capacity `errlen`, always NUL-terminated).
 *
 * Structs shared with plugins only grow at the end.  Each carries its own
 * `size`; readers must check it before touching a member added later.
 *
 * In more detail (docs/PLUGINS.md has the walk-through for admins):
 *
 * - Loading.  The core loads only the plugins its configuration uses,
 *   each from the file TYPE-NAME.so ("compress-gzip.so", "report-NAME.so")
 *   in its plugin folder (plugin_dir in [main], else $OMA_PLUGIN_DIR, else
 *   the folder `make install` put the plugins in: PREFIX/lib/oma/plugins,
 *   /usr/lib/TRIPLET/oma/plugins in the Debian package), before it runs
 *   anything.  A file that fails
 *   the checks below stops oma with "Invalid configuration: ... plugin
 *   FILE: ..." (exit code 1) before any backup is made: running as root,
 *   the file or its folder (or a folder above, up to /, unless it is
 *   root's and sticky like /tmp) not owned by root or writable by group or
 *   others; not a complete ELF shared object for this machine, or one
 *   whose dynamic section dlopen cannot follow (checked before dlopen,
 *   which would die of SIGBUS on a truncated file, of SIGSEGV on one
 *   zero-filled at its end); no dlsym'able `oma_plugin_descriptor`,
 *   `abi` != the core's OMA_PLUGIN_ABI
 *   ("ABI mismatch: expected N, found M"), `size` smaller than the core's
 *   sizeof(struct oma_plugin), unknown `type`, `name` NULL or not 1..64 of
 *   [a-z0-9_-], another type or name than the file's, or the ops table of
 *   its type NULL or missing a mandatory function.
 * - Which plugins run.  compress: the one named by [main] compression.
 *   condition: the one named "sh", when [conditions] has any command.
 *   report: every report plugin whose config section [NAME] is present and
 *   whose key `enabled` is not false ([zabbix]: when item_key is not
 *   empty).  store: likewise, every store plugin whose section [NAME] is
 *   present and enabled (a section is looked up as report-NAME.so first,
 *   then store-NAME.so).  A used plugin's init() runs once before the backup starts; a
 *   failing init() stops oma as an invalid configuration (exit code 1).
 * - Threads and processes.  compress functions are called from several
 *   dump threads at once, each on its own stream: keep per-stream state in
 *   the stream, not in globals.  report() runs in a child process forked
 *   from oma (see struct oma_report_ops).  store put() is called from
 *   several of oma's threads at once (struct oma_store_ops).  init() and
 *   fini() run in oma's main thread.  Run commands through oma_host.run (never a fork of your
 *   own): it enforces time limits and stops them when oma is told to stop.
 * - Strings.  Every `const char *` the core hands over is NUL-terminated
 *   UTF-8 (database names as the server spells them; they may contain any
 *   character but NUL) and stays valid only for the duration of the call
 *   unless said otherwise; copy what you keep.
 * - Stdout and stderr belong to oma (cron mails them): log through
 *   oma_host.log instead of printing.
 */
#ifndef OMA_PLUGIN_H
#define OMA_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a change is not purely "grow at the end".  A plugin built
 * with another number is refused at load time. */
#define OMA_PLUGIN_ABI 1

/* Name of the one symbol a plugin exports (the descriptor). */
#define OMA_PLUGIN_SYMBOL "oma_plugin_descriptor"
/* Gives a symbol default visibility under -fvisibility=hidden. */
#define OMA_PLUGIN_EXPORT __attribute__((visibility("default")))

/* What a plugin is for; the descriptor's `type`. */
enum oma_plugin_type {
	OMA_PLUGIN_COMPRESS = 1,  /* turns a dump stream into NAME<suffix> */
	OMA_PLUGIN_REPORT = 2,    /* hears about every run's result */
	OMA_PLUGIN_CONDITION = 3, /* runs skip/run/terminate condition commands */
	OMA_PLUGIN_STORE = 4,     /* copies each backup folder off the host (oma 0.3) */
	OMA_PLUGIN_ENCRYPT = 5,   /* encrypts each compressed dump (oma 0.3) */
};

/* Levels for oma_host.log; the same numbers as Python's logging, which
 * upstream OMA used. */
enum oma_log_level {
	OMA_LOG_DEBUG = 10,
	OMA_LOG_INFO = 20,
	OMA_LOG_WARNING = 30,
	OMA_LOG_ERROR = 40,
};

/* A command for oma_host.run (oma 0.2). */
struct oma_run {
	uint32_t size;          /* sizeof(struct oma_run) as the plugin knows it */
	char *const *argv;      /* argv[0] is looked up in PATH unless it has a '/' */
	const char *const *env; /* "NAME=VALUE" entries set for the command (the
	                         * rest of oma's environment stays); NULL: none */
	int timeout;            /* seconds for the whole run; 0: no limit */
	size_t keep;            /* bytes of stdout and of stderr kept (the rest
	                         * is read and dropped); 0: 1 MiB */
	/* Set by run(): */
	int exit_code;      /* its exit status; 128 + N when signal N ended it */
	int timed_out;      /* stopped because `timeout` passed */
	int cancelled;      /* stopped because oma was told to stop (SIGTERM ...) */
	char *out, *errout; /* what it printed, NUL-terminated ("" for
	                         * nothing); malloc'ed: free() them */
	size_t out_len, err_len;
};

/* What the core offers a plugin.  Valid from init() until fini() returns
 * (also inside report()'s child process). */
struct oma_host {
	uint32_t abi;  /* OMA_PLUGIN_ABI of the core */
	uint32_t size; /* sizeof(struct oma_host) of the core: check it before
	                * using a member a later header adds after config_get */
	/* Append one line to the run's log (oma.log) at `level` (enum
	 * oma_log_level), formatted like printf; the core adds the time stamp
	 * and level name ("2024-01-31 02:00:01,123 INFO message").  Never fails
	 * from the plugin's point of view; lines below the configured level are
	 * dropped.  ERROR lines also go to stderr.  Thread-safe. */
	void (*log)(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
	/* The decoded value of `key` in the config section `section`, as a
	 * string (integers and booleans in their TOML spelling, arrays as
	 * their elements joined by '\n'), or NULL when the key is absent.
	 * A key in a sub-table [section.sub] is asked for as "sub.key".
	 * For [main], [conditions] and the section of a plugin that declares
	 * its keys (oma_plugin.settings: zabbix, syslog, webhook ...) the value
	 * is the effective one (the default when the file does not set the key;
	 * NULL for a key without a default the file leaves out).  The string
	 * lives as long as the host table; never free it. */
	const char *(*config_get)(const char *section, const char *key);
	/* oma 0.2 (NULL in older cores: check before calling).  Run a
	 * command the way oma runs all of its children: no shell, stdin from
	 * /dev/null, stdout and stderr captured, in a process group of its own
	 * that is stopped as a whole (SIGTERM, SIGKILL a second later) when
	 * the timeout passes or oma is told to stop; once the command exited,
	 * a pipe something it left behind keeps open is given up after two
	 * seconds.  Returns 0 when it ran (see exit_code, timed_out and
	 * cancelled), -1 with err set when it could not be started. */
	int (*run)(struct oma_run *r, char *err, size_t errlen);
	/* oma 0.3 (NULL in older cores).  Non-zero once oma was told to stop
	 * (SIGTERM, SIGINT ...): a long transfer should then give up soon
	 * (a store plugin's put() fails with "cancelled").  Thread-safe and
	 * cheap: call it as often as you like. */
	int (*stopping)(void);
	void *spare[6]; /* reserved for later members; NULL */
};

/* ---- compress ---------------------------------------------------------- */

/* How the core wants one stream compressed; handed to open(). */
struct oma_compress_params {
	uint32_t size; /* sizeof(struct oma_compress_params) of the core */
	int level;     /* compression level; the plugin's default when < 0.
	                 * The core has already checked it against
	                 * min_level..max_level. */
	int threads;   /* worker threads the stream may use (>= 1); the core
	                 * divides the CPUs among the dumps running at once */
	/* Added in oma 0.2 (check `size` before reading them).  Where the
	 * compressed bytes go: a core sets `sink` only for a plugin whose ops
	 * have OMA_COMPRESS_SINK in `flags`.  Such a plugin then hands every
	 * byte of output to sink(sink_ctx, ...) instead of writing to the fd:
	 * in order, never from two threads at once for one stream (which
	 * thread does not matter).  The core writes them to the file (and
	 * hashes them, so no dump is read twice); sink() fails with err naming
	 * the file, and the plugin then fails the call it was in (write() or
	 * finish()) with that text as its reason.  NULL: write to the fd. */
	int (*sink)(void *sink_ctx, const void *buf, size_t len, char *err, size_t errlen);
	void *sink_ctx;
};

/* oma_compress_ops.flags: the plugin writes through params->sink when the
 * core sets it. */
#define OMA_COMPRESS_SINK 0x1u

/* Where a reader's output goes; handed to oma_read_ops.open(). */
struct oma_read_params {
	uint32_t size; /* sizeof(struct oma_read_params) of the core */
	/* Every output byte, in order, from the thread that called write()
	 * or finish(); NULL for a reader that has no output (an encrypted
	 * file checked without its key).  A failing out() fails the call
	 * with its err. */
	int (*out)(void *out_ctx, const void *buf, size_t len, char *err, size_t errlen);
	void *out_ctx;
};

/* Reading a file back (oma 0.3; `oma --verify`): a compressor's
 * decompressor, an encryptor's check without the key.  A stream is
 * open() / write()* (the file's bytes, in any pieces) / finish(), or
 * abort(); several at once, each used by one thread at a time; memory
 * bounded whatever the file's length.  write() fails at the first damage
 * it sees ("data error at byte N: ..."); finish() fails when the file ends
 * early ("truncated: ...") or has bytes after its end, and frees the
 * stream whatever the outcome.  Reasons are short and name no file (the
 * core adds it). */
struct oma_read_ops {
	uint32_t size; /* sizeof(struct oma_read_ops) of the plugin */
	int (*open)(void **stream, const struct oma_read_params *p, char *err, size_t errlen);
	int (*write)(void *stream, const void *buf, size_t len, char *err, size_t errlen);
	int (*finish)(void *stream, char *err, size_t errlen);
	void (*abort)(void *stream);
	void *spare[4]; /* reserved; NULL */
};

/* A compressor.  The core writes a dump to a temporary "NAME<suffix>.part"
 * file through open() / write()* / finish(), or abort() on any failure, and
 * renames the file only when finish() succeeded.  Several streams are open
 * at once, each used by one thread at a time. */
struct oma_compress_ops {
	/* File name suffix of the output, e.g. ".sql.gz": a '.' and at least
	 * one more character (checked at load). */
	const char *suffix;
	/* Level used when the configuration sets none. */
	int default_level;
	/* Lowest and highest level accepted; the loader refuses the plugin
	 * unless min_level <= default_level <= max_level, and oma refuses a
	 * configured compression_level outside the range. */
	int min_level, max_level;
	/* Start a stream that writes compressed bytes to `fd` (which the
	 * caller owns and closes).  Sets *stream; fails on a bad level or
	 * out of memory.  On failure *stream is ignored and neither finish()
	 * nor abort() is called. */
	int (*open)(void **stream, int fd, const struct oma_compress_params *p, char *err,
	            size_t errlen);
	/* Compress `len` bytes (len may be 0).  Fails when writing to the fd
	 * fails; the core then calls abort() on the stream. */
	int (*write)(void *stream, const void *buf, size_t len, char *err, size_t errlen);
	/* Flush everything, write the trailer and free the stream, whatever
	 * the outcome.  Fails when the final writes fail.  The stream is gone
	 * afterwards: no abort() follows, even on failure. */
	int (*finish)(void *stream, char *err, size_t errlen);
	/* Free the stream without finishing (the output is discarded).
	 * Cannot fail. */
	void (*abort)(void *stream);
	/* OMA_COMPRESS_* bits (oma 0.2; the first spare slot before, so a
	 * plugin built for an older core has 0 here and is given no sink: the
	 * core then reads each finished file back to hash it). */
	uintptr_t flags;
	/* oma 0.3 (the first spare slot before): the decompressor of the
	 * suffix's files, for --verify; NULL: this plugin's files cannot be
	 * checked beyond their SHA-256. */
	const struct oma_read_ops *decompress;
	void *spare[2]; /* reserved for later functions; leave NULL */
};

/* ---- report ------------------------------------------------------------ */

/* How the run as a whole ended (oma_report.outcome). */
enum oma_outcome {
	OMA_OUTCOME_SUCCESS = 0,
	OMA_OUTCOME_SKIPPED = 1,  /* a skip condition met */
	OMA_OUTCOME_ABORTED = 2,  /* a run condition failed */
	OMA_OUTCOME_NO_SPACE = 3, /* not enough disk space */
	OMA_OUTCOME_FAILED = 4,   /* dumps, terminate conditions or server failed */
};

/* How one database ended (oma_db_result.outcome). */
enum oma_db_outcome {
	OMA_DB_DUMPED = 0,
	OMA_DB_REUSED = 1,  /* unchanged since the last run; its dump was kept */
	OMA_DB_SKIPPED = 2, /* excluded by configuration */
	OMA_DB_FAILED = 3,
};

/* One database of the run. */
struct oma_db_result {
	const char *name;  /* database name as the server spells it */
	int outcome;       /* enum oma_db_outcome */
	uint64_t bytes;    /* size of the compressed file (0 unless dumped or reused) */
	double seconds;    /* wall time of the dump */
	const char *error; /* NULL unless outcome is OMA_DB_FAILED */
	/* oma 0.3 (records are db_size bytes: check it before reading these).
	 * The off-site copy of this database's dump (enum oma_offsite) and,
	 * when it failed, why ("s3: ..."; NULL otherwise). */
	int offsite;
	const char *offsite_error;
};

/* The result of one run, as handed to report().  Also written as
 * result.json in the run's backup folder (next to oma.log); result_json
 * holds that text. */
struct oma_report {
	uint32_t size; /* sizeof(struct oma_report) of the core: check
	                         * it before reading a member a later header
	                         * adds after current_dir (db_size, result_json) */
	int outcome;   /* enum oma_outcome */
	int exit_code; /* what oma will exit with (before reporting) */
	/* Databases dumped, reused, skipped by configuration and failed;
	 * total is the number the server listed (SHOW DATABASES without its
	 * system schemas), the T of the summary line. */
	unsigned dumped, reused, skipped, failed, total;
	const struct oma_db_result *dbs; /* ndbs records, in no promised order */
	size_t ndbs;
	const char *log_path;    /* the run's oma.log (or last.log) */
	const char *summary;     /* e.g. "Summary: Successfully dumped ..." */
	const char *backup_dir;  /* [main] backup_dir */
	const char *current_dir; /* NULL when the folder was removed */
	/* sizeof(struct oma_db_result) of the core: the stride of dbs, so a
	 * record that grows at the end does not break older plugins.  Walk the
	 * records with OMA_REPORT_DB(). */
	size_t db_size;
	/* oma 0.2 (check `size` before reading it): the result as JSON, byte
	 * for byte what result.json holds while the reporters run (the core
	 * writes the file again afterwards only when a reporter's failure
	 * changes the exit code to 4), so a reporter that sends JSON need not
	 * build it: NUL-terminated, valid UTF-8 (bytes that are not UTF-8 in a
	 * name or message are written as \ufffd), ending in a newline. */
	const char *result_json;
	/* oma 0.3 (check `size`): the off-site copy of the run as a whole
	 * (enum oma_offsite): OMA_OFFSITE_NONE without a store plugin,
	 * OMA_OFFSITE_COPIED when every store holds the complete folder,
	 * OMA_OFFSITE_FAILED when a file or the folder's completion failed
	 * (the exit code is then 4), with the first reason in offsite_error. */
	int offsite;
	const char *offsite_error;
};

/* How an off-site copy went (oma_db_result.offsite, oma_report.offsite). */
enum oma_offsite {
	OMA_OFFSITE_NONE = 0,   /* no store plugin, or nothing to copy */
	OMA_OFFSITE_COPIED = 1, /* every store holds it */
	OMA_OFFSITE_FAILED = 2, /* a store does not */
};

/* The i-th database record of a report, whatever the core's record size. */
#define OMA_REPORT_DB(r, i)                                                    \
	((const struct oma_db_result *)(const void *)((const char *)(r)->dbs + \
	                                              (size_t)(i) * (r)->db_size))

/* A reporter.  The core calls report() once per run that got past
 * validation, at the very end, whatever happened.  It runs in a child
 * process forked from oma: changes to memory are lost afterwards, threads
 * started in init() do not exist there, and the child is killed with
 * SIGKILL when it has not returned within the time limit ([main]
 * report_timeout, 120 seconds by default), so use shorter timeouts of your
 * own for network calls.  A failure,
 * crash or timeout is logged as "Reporter 'NAME' failed: REASON" and makes
 * oma exit with 4 when it would otherwise exit with 0; it never changes the
 * backup. */
struct oma_report_ops {
	/* Deliver the result of the run.  Called once, at the end, whatever
	 * happened.  Fails when the receiver could not be reached or
	 * refused the report; the reason written to `err` (up to 1023 bytes)
	 * ends up in the log. */
	int (*report)(const struct oma_report *r, char *err, size_t errlen);
	void *spare[4]; /* reserved for later functions; leave NULL */
};

/* ---- condition --------------------------------------------------------- */

/* What running one condition command produced; zeroed by the core before
 * run(). */
struct oma_condition_result {
	int exit_code; /* exit status, 128+signal when killed, -1 if not run */
	int timed_out; /* 1 when the timeout killed the command */
	char *out;     /* captured stdout (NUL-terminated, malloc'ed) or NULL */
	char *errout;  /* captured stderr (NUL-terminated, malloc'ed) or NULL */
};

/* A condition runner.  The core uses the condition plugin named "sh" for
 * every command of [conditions] (skip, run and terminate). */
struct oma_condition_ops {
	/* Run `command` with `env` (NULL-terminated "K=V" strings added to the
	 * environment; may be NULL), killing it (and everything it started)
	 * after `timeout` seconds (0 = no limit).  Fills *res.  Returns 0 when
	 * the command ran (whatever its exit code), negative when it could not
	 * be started. */
	int (*run)(const char *command, int timeout, const char *const *env,
	           struct oma_condition_result *res, char *err, size_t errlen);
	/* Free what run() put in *res.  Called after every run(), also a
	 * failed one, so it must cope with a partly filled result.  Cannot
	 * fail. */
	void (*result_free)(struct oma_condition_result *res);
	void *spare[4]; /* reserved for later functions; leave NULL */
};

/* ---- store (off-site copies) ------------------------------------------- */

/* The backup folder a run writes; handed to begin(). */
struct oma_store_folder {
	uint32_t size;         /* sizeof(struct oma_store_folder) of the core */
	const char *name;      /* "oma_YYYYMMDD-HHMMSS", the folder's name */
	const char *local_dir; /* its full local path */
	const char *host;      /* the host name (a default remote prefix) */
};

/* One file of the folder, final and complete: handed to put() and, for the
 * folder's completion mark, to commit(). */
struct oma_store_file {
	uint32_t size;      /* sizeof(struct oma_store_file) of the core */
	const char *name;   /* its name in the folder ("shop.sql.gz",
	                     * "oma.log", "info.json"); no '/' */
	const char *path;   /* the local file: open and read it, never
	                     * change, rename or remove it */
	uint64_t bytes;     /* its size */
	const char *sha256; /* lowercase hex SHA-256 of its bytes, or NULL
	                     * when the core did not compute one */
	const char *db;     /* the database whose dump it is; NULL for the
	                     * folder's own files (oma.log, result.json ...) */
	/* A reused dump (skip_unchanged_dbs): the name of the earlier backup
	 * folder that holds the same file, same name and bytes, so a store
	 * may copy it on the remote side instead of sending it again (after
	 * checking that its copy there is complete).  NULL otherwise. */
	const char *reused_from;
};

/* What commit() is asked to do besides completing the folder. */
struct oma_store_commit {
	uint32_t size; /* sizeof(struct oma_store_commit) of the core */
	/* The folder's completion mark (its info.json): store it last, after
	 * every file put() stored, so a remote folder holding it is complete. */
	const struct oma_store_file *marker;
	/* 1: prune the remote side to the store's number of versions (never
	 * the folder just completed, never another process's).  0 when a
	 * database failed: its last good dump lives in an older folder, which
	 * the local side keeps too. */
	int prune;
	long versions; /* [main] versions, a default for the store's own */
};

/* An off-site target (oma 0.3): S3, sftp, tape.  A store plugin runs when
 * its section [NAME] is present and not `enabled = false`.  Per run:
 * begin() once (in a thread of the core's, while the dumps start), then
 * put() once per file as it becomes final, from `workers` threads of the
 * core at once (each call on its own file, while the dumps still run;
 * after the first failed put() the core gives up the rest: the folder
 * cannot be completed then), then, only when every put() succeeded
 * and the local folder is complete, commit() once (main thread), and
 * finally end() (main thread), whatever happened.  A failure of put() or
 * commit() never touches the local backup: the core logs "Off-site copy
 * 'NAME' failed: REASON", records it in result.json and the reports and
 * exits with 4.  When oma is told to stop, host->stopping() turns true;
 * put() and commit() should then fail soon, leaving nothing half-made
 * behind that a later run cannot clean up (abort multipart uploads). */
struct oma_store_ops {
	/* Start copying the folder `f`.  Sets *run (the plugin's state for
	 * this run) and *workers (how many put() calls may run at once,
	 * 1..16; the core uses 1 when left 0).  Fails when the store cannot
	 * be used (no credentials, bucket unreachable ...): the core then
	 * puts nothing, calls neither commit() nor end(), and the copy of the
	 * run is failed. */
	int (*begin)(void **run, const struct oma_store_folder *f, unsigned *workers, char *err,
	             size_t errlen);
	/* Store file `file` in the remote copy of the folder.  Thread-safe:
	 * up to `workers` calls at once.  Fails when the file is not stored
	 * completely (the reason ends up in the log and result.json). */
	int (*put)(void *run, const struct oma_store_file *file, char *err, size_t errlen);
	/* Complete the remote folder (store c->marker last; then whatever
	 * names the newest complete folder), then prune when c->prune.
	 * Fails when the folder could not be completed; a failed prune is a
	 * warning through host->log, not a failure. */
	int (*commit)(void *run, const struct oma_store_commit *c, char *err, size_t errlen);
	/* Free *run.  Called after every successful begin(), also when the
	 * run failed or was stopped.  Cannot fail. */
	void (*end)(void *run);
	/* oma --check-config --check-remote: prove the store reachable and
	 * writable (e.g. write, read back and remove a probe object).  May be
	 * NULL (then the check says the store cannot be checked).  Fails with
	 * the store's own error (e.g. "SignatureDoesNotMatch"). */
	int (*check)(char *err, size_t errlen);
	void *spare[4]; /* reserved for later functions; leave NULL */
};

/* ---- encrypt ----------------------------------------------------------- */

/* Where an encrypted stream goes; handed to open(). */
struct oma_encrypt_params {
	uint32_t size; /* sizeof(struct oma_encrypt_params) of the core */
	/* Every output byte goes to sink(sink_ctx, ...), in order, from the
	 * thread that called write() or finish() (the core writes it to the
	 * file and hashes it).  A failing sink's err names the file: fail the
	 * call you were in with that text. */
	int (*sink)(void *sink_ctx, const void *buf, size_t len, char *err, size_t errlen);
	void *sink_ctx;
};

/* An encryption stage between the compressor and the file (oma 0.3): with
 * [encryption] in the configuration the core loads encrypt-METHOD.so
 * (METHOD: [encryption] method, default "age"), whose table of keys
 * (oma_plugin.settings) checks the rest of the section; every dump then is
 * NAME<compressor suffix><encrypt suffix> ("shop.sql.gz.age").  The
 * compressor's output is handed to write() instead of the file; only
 * compressors that write through a sink (OMA_COMPRESS_SINK) can be
 * combined with it.  Streams are as the compressor's: open() / write()* /
 * finish(), or abort() on any failure; several at once, each used by one
 * thread at a time. */
struct oma_encrypt_ops {
	/* Appended to the compressor's suffix: '.' and at least one more
	 * character (checked at load). */
	const char *suffix;
	/* Start a stream.  Fails on out of memory or no randomness. */
	int (*open)(void **stream, const struct oma_encrypt_params *p, char *err, size_t errlen);
	/* Encrypt `len` bytes (len may be 0); memory stays bounded whatever
	 * the stream's length.  Fails when the sink fails. */
	int (*write)(void *stream, const void *buf, size_t len, char *err, size_t errlen);
	/* Write the rest and free the stream, whatever the outcome (no abort()
	 * follows). */
	int (*finish)(void *stream, char *err, size_t errlen);
	/* Free the stream without finishing.  Cannot fail. */
	void (*abort)(void *stream);
	/* What the output depends on besides the data, as a short printable
	 * text without spaces (age: a hash of the recipients' public keys,
	 * never a key itself).  The core keeps it beside each dump and reuses
	 * an unchanged database's dump only when it is the same: a key
	 * rotation makes the next run dump everything again.  Constant
	 * between init() and fini(). */
	const char *(*fingerprint)(void);
	/* The check of a file without its secret key, for --verify (the
	 * first spare slot before): what can be checked without it (age: the
	 * header's form, the chunk layout; the SHA-256 is the core's).  No
	 * output (params->out is NULL).  Called without init() (--verify
	 * runs without [encryption], maybe on another machine): it must need
	 * neither keys nor configuration.  NULL: none. */
	const struct oma_read_ops *check;
	void *spare[3]; /* reserved for later functions; leave NULL */
};

/* ---- settings ----------------------------------------------------------- */

/* What a key of a plugin's section holds (oma_setting.type). */
enum oma_setting_type {
	OMA_SETTING_STRING = 1,
	OMA_SETTING_INT = 2, /* a TOML integer within min..max */
	OMA_SETTING_BOOL = 3,
	OMA_SETTING_STRINGS = 4, /* a string or an array of strings (config_get
	                           * gives the elements joined by '\n') */
};

/* oma_setting.flags: the key switches the plugin on (a reporter runs when
 * its value is a non-empty string or true) instead of the presence of its
 * section ([zabbix] item_key, as upstream OMA). */
#define OMA_SETTING_SWITCH 0x1u

/* One key of the plugin's own config section [NAME] (the plugin's name).
 * A plugin lists them in its descriptor (`settings`, ended by an entry
 * whose key is NULL; oma 0.2), and the core then does the rest before
 * init() runs: a value of the wrong type, outside min..max or not one of
 * `choices` stops oma as an invalid configuration naming the file, line
 * and key; a key not in the table is warned about; config_get gives the
 * default for a key the file does not set; --print-config prints the
 * section with its defaults; and `enabled = false` (a key every section
 * has) switches the plugin off.  Entries never grow: new members use the
 * spare slots. */
struct oma_setting {
	const char *key;            /* NULL ends the table */
	uint32_t type;              /* enum oma_setting_type */
	uint32_t flags;             /* OMA_SETTING_* */
	const char *def;            /* default in config_get's text form ("10",
	                             * "true", "a\nb"), or NULL: unset */
	long long min, max;         /* OMA_SETTING_INT: the values accepted */
	const char *const *choices; /* OMA_SETTING_STRING: the values accepted
	                             * (NULL-terminated), or NULL for any */
	const char *help;           /* one line on what it does */
	/* oma 0.3 (the first spare slot before; NULL: nothing more to check).
	 * Called for the value the file gives (each element of an
	 * OMA_SETTING_STRINGS array on its own) after the type check: fails
	 * with a short reason ("not an age recipient: bad checksum"), which the
	 * core turns into "config FILE:LINE: [SECTION] KEY[ #N]: REASON".
	 * Runs before init(); keep it pure (no files, no network). */
	int (*check)(const char *value, char *err, size_t errlen);
	void *spare[1]; /* reserved; NULL */
};

/* ---- the descriptor ---------------------------------------------------- */

/* The one exported symbol of a plugin; define it with OMA_PLUGIN_DEFINE. */
struct oma_plugin {
	uint32_t abi;        /* OMA_PLUGIN_ABI the plugin was built with */
	uint32_t size;       /* sizeof(struct oma_plugin) it was built with */
	uint32_t type;       /* enum oma_plugin_type */
	const char *name;    /* unique per type, [a-z0-9_-]+, e.g. "gzip";
	                       * a reporter's name is its config section */
	const char *version; /* free text */
	/* Called once before any other function.  May be NULL.  Fails when
	 * the plugin cannot work (bad config, missing library ...); oma then
	 * stops with "Invalid configuration: plugin FILE: init of 'NAME'
	 * failed: REASON" (the reason up to 511 bytes).  `host` stays valid
	 * until fini() returns: keep the pointer. */
	int (*init)(const struct oma_host *host, char *err, size_t errlen);
	/* Called once when the core unloads the plugin, only for a plugin it
	 * used (init() ran, or there is none, and succeeded); unused plugins
	 * are unloaded without it.  May be NULL.  Cannot fail. */
	void (*fini)(void);
	/* Exactly the one matching `type` is non-NULL. */
	const struct oma_compress_ops *compress;
	const struct oma_report_ops *report;
	const struct oma_condition_ops *condition;
	/* The keys of the plugin's section (see struct oma_setting), or NULL
	 * (the core then checks nothing of it).  oma 0.2; the first spare slot
	 * before. */
	const struct oma_setting *settings;
	/* oma 0.3; the second and third spare slots before. */
	const struct oma_store_ops *store;
	const struct oma_encrypt_ops *encrypt;
	void *spare[3]; /* reserved for later members; NULL */
};

/* Declare the descriptor:  OMA_PLUGIN_DEFINE(.type = ..., .name = ..., ...);
 * fills in abi and size, exports the symbol and leaves every member not
 * named (spare slots included) zero. */
#define OMA_PLUGIN_DEFINE(...)                                            \
	OMA_PLUGIN_EXPORT const struct oma_plugin oma_plugin_descriptor = \
	        {.abi = OMA_PLUGIN_ABI, .size = sizeof(struct oma_plugin), __VA_ARGS__}

#ifdef __cplusplus
}
#endif
#endif
