/* proc.h - child processes: start them, read their output, enforce deadlines, stop them.
 *
 * Every child oma runs goes through here: mysql (server facts, change
 * probe), mysqldump, condition commands and zabbix_sender (through
 * oma_host.run), and the forked reporter processes.  So there is one place
 * that knows how to wait for a child without hanging: each wait has a
 * deadline or a stall limit, stops when the run is cancelled, and does not
 * wait for ever on a pipe a background grandchild keeps open.
 */
#ifndef OMA_PROC_H
#define OMA_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* After the child exited, how long a pipe it left open (a background
 * process holds it) is still read before it is given up. */
#define PROC_LINGER_MS     2000
/* SIGTERM to a child's process group, then SIGKILL after this long. */
#define PROC_KILL_GRACE_MS 1000

/* Tell every running and later proc_wait() to stop its child (the run is
 * cancelled).  Async-signal-safe; lasts for the rest of the process (in a
 * child made by proc_fork it starts cleared). */
void proc_cancel(void);
bool proc_cancelled(void);
/* How many times proc_cancel() was called. */
unsigned proc_cancel_count(void);

/* A started child. */
struct proc {
	pid_t pid;
	int pidfd;  /* readable once it exits; -1 where the kernel has none */
	int out_fd; /* read ends of its stdout and stderr pipes */
	int err_fd;
};

/* What proc_wait() does while the child runs. */
struct proc_limits {
	int64_t timeout_ms; /* from the start of the wait; 0: none */
	int64_t stall_ms;   /* without a byte on stdout or stderr; 0: none */
	/* stdout goes to on_out(arg, ...) when set (it returns 0, or -1 to
	 * stop the child: PROC_REFUSED), else up to out_keep bytes are kept */
	int (*on_out)(void *arg, const char *buf, size_t len);
	void *arg;
	size_t out_keep, err_keep; /* the rest is read and dropped */
	size_t read_size;          /* bytes per read from stdout; 0: 64 KiB */
	/* The wait stops its child once proc_cancel() was called more often
	 * than this: 0 for the backup's children; the reporters, which still
	 * tell monitoring about a cancelled run, let the cancels so far pass
	 * (a further signal stops them; it must arrive in the waiting thread,
	 * interrupting its poll()). */
	unsigned cancels_allowed;
};

/* How a wait ended. */
enum proc_end {
	PROC_EXITED = 0, /* by itself: see status */
	PROC_TIMED_OUT,  /* timeout_ms passed; stopped */
	PROC_STALLED,    /* stall_ms without output; stopped */
	PROC_CANCELLED,  /* proc_cancel(); stopped */
	PROC_REFUSED,    /* on_out() failed; stopped */
	PROC_BROKEN,     /* poll or read failed (errno in `error`); stopped */
};

struct proc_result {
	int end;         /* enum proc_end */
	int status;      /* waitpid() status (also for a stopped child) */
	int error;       /* errno for PROC_BROKEN */
	char *out, *err; /* kept output, NUL-terminated (NULL when none) */
	size_t out_len, err_len;
	bool out_cut, err_cut; /* more came than was kept */
	bool lingered;         /* a pipe was still open PROC_LINGER_MS after the exit */
	double seconds;        /* wall time of the wait */
};

/* Start argv[0] (looked up in PATH unless it has a '/', no shell) with
 * argv, envp (NULL: oma's environment), stdin from /dev/null, stdout and
 * stderr on pipes (stdout's of pipe_size bytes when > 0 and allowed), no
 * descriptor above 2, an empty signal mask and default signal handling,
 * as the leader of a process group of its own (inside a proc_fork child:
 * in that child's group, so stopping it stops everything it started).
 * Returns 0, or an errno value. */
int proc_start(struct proc *p, char *const argv[], char *const envp[], size_t pipe_size);

/* Fork a child in a process group of its own that runs fn(arg, err_fd)
 * with default signal handling and _exits with its return value; what fn
 * writes to err_fd (e.g. its error message) arrives as the child's
 * stderr, and it has no stdout pipe.  Only call with no other threads
 * running.  Returns 0, or an errno value. */
int proc_fork(struct proc *p, int (*fn)(void *arg, int err_fd), void *arg);

/* Close `fd` in every later proc_fork child before fn runs (the run's
 * locks: a reporter, or what it leaves behind, must never hold them once
 * oma is gone).  At most PROC_PRIVATE_MAX descriptors; returns 0, or -1
 * when that many are registered. */
#define PROC_PRIVATE_MAX 8
int proc_private_fd(int fd);

/* Read the child's output and wait for it under `l`, then reap it.  A
 * child that is stopped gets SIGTERM on its process group and SIGKILL
 * PROC_KILL_GRACE_MS later; its output is then dropped.  Once the child
 * has exited, pipes still open after PROC_LINGER_MS are given up.  Always
 * fills *r (free it with proc_result_free) and closes p's descriptors.
 * Returns 0 when the child exited by itself, -1 when it was stopped. */
int proc_wait(struct proc *p, const struct proc_limits *l, struct proc_result *r);

/* Stop a started child at once (SIGKILL to its group), reap it and close
 * p's descriptors, for a caller that cannot go on to proc_wait(). */
void proc_kill(struct proc *p);

void proc_result_free(struct proc_result *r);

/* proc_start() + proc_wait().  Returns 0 when the child ran and exited by
 * itself (whatever its exit code), -1 when it was stopped (r->end says
 * why), or -2 when it could not be started (err set; r empty). */
int proc_run(char *const argv[], char *const envp[], const struct proc_limits *l,
             struct proc_result *r, char *err, size_t errlen);

/* One line on how a child ended, e.g. "exit code 2", "killed by signal 9",
 * "no answer within 60 seconds", "no output for 3600 seconds",
 * "cancelled". */
void proc_describe(const struct proc_result *r, const struct proc_limits *l, char *out,
                   size_t outlen);

struct oma_run;
/* oma_host.run: a plugin's command through proc_run() (see plugin.h). */
int proc_host_run(struct oma_run *run, char *err, size_t errlen);

#endif
