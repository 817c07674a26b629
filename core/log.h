/* log.h - the run's log: "YYYY-MM-DD HH:MM:SS,mmm LEVEL message" lines in oma.log. */
#ifndef OMA_LOG_H
#define OMA_LOG_H

#include <stdarg.h>

#include <oma/plugin.h> /* enum oma_log_level */

/* Parse "debug" | "info" | "warning" | "error"; -1 when unknown. */
int log_level_parse(const char *name);
const char *log_level_name(int level); /* "DEBUG", "INFO", ... (log lines) */
const char *log_level_word(int level); /* "debug", "info", ... (oma.conf) */

void log_set_level(int level);
int log_get_level(void);

/* Start writing to `path` (truncated).  Lines logged before this call are
 * kept in memory and written first.  Returns 0, or -1 with errno set. */
int log_open(const char *path);
/* Log to the open descriptor f from now on (it is the log's: closed by
 * log_close), named `name` in messages (lines logged before go there
 * first).  Returns 0. */
int log_use_fd(int f, const char *name);
/* Switch the open log to a new path after the file was moved (rename). */
void log_moved(const char *new_path);
const char *log_path(void);
void log_close(void);

/* Also copy lines at or above `level` to stderr (default: OMA_LOG_ERROR;
 * a level above OMA_LOG_ERROR turns it off). */
void log_set_stderr_level(int level);

/* Call fn (NULL: nothing) before each line goes to stderr: the progress
 * line clears itself (progress.c). */
void log_set_stderr_hook(void (*fn)(void));

/* Log one line.  Control characters in the message (a newline in a
 * database name, say) are written as \\n, \\r, \\xHH (escape_controls), so
 * every line of the log is one message with its time stamp.  A failed
 * write to the log file is reported on stderr once (and the number of lost
 * lines at log_close).  Thread-safe. */
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#define log_debug(...)   log_msg(OMA_LOG_DEBUG, __VA_ARGS__)
#define log_info(...)    log_msg(OMA_LOG_INFO, __VA_ARGS__)
#define log_warning(...) log_msg(OMA_LOG_WARNING, __VA_ARGS__)
#define log_error(...)   log_msg(OMA_LOG_ERROR, __VA_ARGS__)

/* Count of lines logged at ERROR since start. */
unsigned log_error_count(void);

#endif
