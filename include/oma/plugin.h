/* oma/plugin.h - the only header an oma plugin needs (compress, report, condition).
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
 */
#ifndef OMA_PLUGIN_H
#define OMA_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a change is not purely "grow at the end". */
#define OMA_PLUGIN_ABI 1

#define OMA_PLUGIN_SYMBOL "oma_plugin_descriptor"
#define OMA_PLUGIN_EXPORT __attribute__((visibility("default")))

enum oma_plugin_type {
	OMA_PLUGIN_COMPRESS = 1,
	OMA_PLUGIN_REPORT = 2,
	OMA_PLUGIN_CONDITION = 3,
};

enum oma_log_level {
	OMA_LOG_DEBUG = 10,
	OMA_LOG_INFO = 20,
	OMA_LOG_WARNING = 30,
	OMA_LOG_ERROR = 40,
};

/* What the core offers a plugin.  Valid from init() until fini() returns. */
struct oma_host {
	uint32_t abi;  /* OMA_PLUGIN_ABI of the core */
	uint32_t size; /* sizeof(struct oma_host) of the core */
	/* Append one line to the run's log (oma.log) at `level`.  Never fails
	 * from the plugin's point of view; lines below the configured level are
	 * dropped. */
	void (*log)(int level, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));
	/* The decoded value of `key` in the config section `section`, as a
	 * string (integers and booleans in their TOML spelling, arrays as
	 * their elements joined by '\n'), or NULL when the key is absent.
	 * The string lives as long as the host table. */
	const char *(*config_get)(const char *section, const char *key);
	void *spare[8];
};

/* ---- compress ---------------------------------------------------------- */

struct oma_compress_params {
	uint32_t size;  /* sizeof(struct oma_compress_params) */
	int level;      /* compression level; the plugin's default when < 0 */
	int threads;    /* worker threads the stream may use (>= 1) */
};

struct oma_compress_ops {
	/* File name suffix of the output, e.g. ".sql.gz". */
	const char *suffix;
	/* Level used when the configuration sets none. */
	int default_level;
	/* Lowest and highest level accepted. */
	int min_level, max_level;
	/* Start a stream that writes compressed bytes to `fd` (which the
	 * caller owns and closes).  Sets *stream; fails on a bad level or
	 * out of memory. */
	int (*open)(void **stream, int fd, const struct oma_compress_params *p,
	            char *err, size_t errlen);
	/* Compress `len` bytes.  Fails when writing to the fd fails. */
	int (*write)(void *stream, const void *buf, size_t len, char *err,
	             size_t errlen);
	/* Flush everything, write the trailer and free the stream, whatever
	 * the outcome.  Fails when the final writes fail. */
	int (*finish)(void *stream, char *err, size_t errlen);
	/* Free the stream without finishing (the output is discarded). */
	void (*abort)(void *stream);
	void *spare[4];
};

/* ---- report ------------------------------------------------------------ */

enum oma_outcome {
	OMA_OUTCOME_SUCCESS = 0,
	OMA_OUTCOME_SKIPPED = 1,     /* a skip condition met */
	OMA_OUTCOME_ABORTED = 2,     /* a run condition failed */
	OMA_OUTCOME_NO_SPACE = 3,    /* not enough disk space */
	OMA_OUTCOME_FAILED = 4,      /* dumps, terminate conditions or server failed */
};

enum oma_db_outcome {
	OMA_DB_DUMPED = 0,
	OMA_DB_REUSED = 1,
	OMA_DB_SKIPPED = 2,  /* excluded by configuration */
	OMA_DB_FAILED = 3,
};

struct oma_db_result {
	const char *name;       /* database name as the server spells it */
	int outcome;            /* enum oma_db_outcome */
	uint64_t bytes;         /* size of the compressed file */
	double seconds;         /* wall time of the dump */
	const char *error;      /* NULL unless outcome is OMA_DB_FAILED */
};

struct oma_report {
	uint32_t size;          /* sizeof(struct oma_report) */
	int outcome;            /* enum oma_outcome */
	int exit_code;          /* what oma will exit with (before reporting) */
	unsigned dumped, reused, skipped, failed, total;
	const struct oma_db_result *dbs;
	size_t ndbs;
	const char *log_path;   /* the run's oma.log (or last.log) */
	const char *summary;    /* e.g. "Summary: Successfully dumped ..." */
	const char *backup_dir;
	const char *current_dir; /* NULL when the folder was removed */
};

struct oma_report_ops {
	/* Deliver the result of the run.  Called once, at the end, whatever
	 * happened.  Fails when the receiver could not be reached or
	 * refused the report. */
	int (*report)(const struct oma_report *r, char *err, size_t errlen);
	void *spare[4];
};

/* ---- condition --------------------------------------------------------- */

struct oma_condition_result {
	int exit_code;   /* exit status, 128+signal when killed, -1 if not run */
	int timed_out;   /* 1 when the timeout killed the command */
	char *out;       /* captured stdout (NUL-terminated, malloc'ed) or NULL */
	char *errout;    /* captured stderr (NUL-terminated, malloc'ed) or NULL */
};

struct oma_condition_ops {
	/* Run `command` with `env` (NULL-terminated "K=V" strings added to the
	 * environment; may be NULL), killing it (and everything it started)
	 * after `timeout` seconds (0 = no limit).  Fills *res.  Returns 0 when
	 * the command ran (whatever its exit code), negative when it could not
	 * be started. */
	int (*run)(const char *command, int timeout, const char *const *env,
	           struct oma_condition_result *res, char *err, size_t errlen);
	/* Free what run() put in *res. */
	void (*result_free)(struct oma_condition_result *res);
	void *spare[4];
};

/* ---- the descriptor ---------------------------------------------------- */

struct oma_plugin {
	uint32_t abi;         /* OMA_PLUGIN_ABI the plugin was built with */
	uint32_t size;        /* sizeof(struct oma_plugin) it was built with */
	uint32_t type;        /* enum oma_plugin_type */
	const char *name;     /* unique per type, [a-z0-9_-]+, e.g. "gzip" */
	const char *version;  /* free text */
	/* Called once before any other function.  May be NULL.  Fails when
	 * the plugin cannot work (bad config, missing library ...). */
	int (*init)(const struct oma_host *host, char *err, size_t errlen);
	/* Called once when the core unloads the plugin.  May be NULL. */
	void (*fini)(void);
	/* Exactly the one matching `type` is non-NULL. */
	const struct oma_compress_ops *compress;
	const struct oma_report_ops *report;
	const struct oma_condition_ops *condition;
	void *spare[6];
};

/* Declare the descriptor:  OMA_PLUGIN_DEFINE(.type = ..., .name = ..., ...); */
#define OMA_PLUGIN_DEFINE(...)                                               \
	OMA_PLUGIN_EXPORT const struct oma_plugin oma_plugin_descriptor = {  \
		.abi = OMA_PLUGIN_ABI,                                       \
		.size = sizeof(struct oma_plugin),                           \
		__VA_ARGS__}

#ifdef __cplusplus
}
#endif
#endif
