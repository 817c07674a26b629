/* proc.c - child processes: start them, read their output, enforce deadlines, stop them. */
#include "proc.h"
#include "proc_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <oma/plugin.h>

#include "common/errbuf.h"
#include "util.h"

extern char **environ;

#define READ_SIZE_DEFAULT (64 * 1024)
#define EXIT_TICK_MS      50 /* how often exit is checked without a pidfd */

/* ---- cancellation -------------------------------------------------------- */

static volatile sig_atomic_t cancels; /* proc_cancel() calls so far */
/* An eventfd that becomes readable on proc_cancel() and is never read, so
 * every waiting thread's poll() wakes; -1 until the first child. */
static volatile int cancel_fd = -1;
static pthread_once_t cancel_once = PTHREAD_ONCE_INIT;
/* Descriptors proc_fork() children close (proc_private_fd). */
static int private_fds[PROC_PRIVATE_MAX];
static size_t nprivate;

int proc_private_fd(int fd)
{
	if (nprivate == PROC_PRIVATE_MAX)
		return -1;
	private_fds[nprivate++] = fd;
	return 0;
}

/* In a proc_fork() child: its children stay in its process group. */
static bool in_fork_child;

static void signal_cancel_fd(void)
{
	int fd = cancel_fd;
	uint64_t one = 1;
	if (fd >= 0)
		(void)!write(fd, &one, sizeof(one));
}

static void make_cancel_fd(void)
{
	cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (cancels > 0)
		signal_cancel_fd();
}

void proc_cancel(void)
{
	cancels++;
	signal_cancel_fd();
}

bool proc_cancelled(void)
{
	return cancels > 0;
}

unsigned proc_cancel_count(void)
{
	return (unsigned)cancels;
}

/* ---- starting ------------------------------------------------------------ */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A close-on-exec pipe whose ends are both above 2, so the child's dup2()
 * onto 1 and 2 cannot clobber one of them (oma may run with 0-2 closed).
 * Returns 0, or an errno value. */
static int pipe_high(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) != 0)
		return errno;
	for (int i = 0; i < 2; i++) {
		if (fds[i] > 2)
			continue;
		int moved = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
		if (moved < 0) {
			int e = errno;
			close(fds[0]);
			close(fds[1]);
			return e;
		}
		close(fds[i]);
		fds[i] = moved;
	}
	return 0;
}

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd >= 0)
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
#else
	(void)pid;
	return -1;
#endif
}

/* The signals a child gets back at their defaults (oma catches or ignores
 * them). */
static void child_signals(sigset_t *set)
{
	static const int sigs[] = {SIGPIPE, SIGINT,  SIGTERM, SIGHUP, SIGQUIT,
	                           SIGUSR1, SIGUSR2, SIGXFSZ, SIGALRM};
	sigemptyset(set);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(set, sigs[i]);
}

int proc_start(struct proc *p, char *const argv[], char *const envp[], size_t pipe_size)
{
	int out[2], errp[2];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	pthread_once(&cancel_once, make_cancel_fd);
	*p = (struct proc){.pid = -1, .pidfd = -1, .out_fd = -1, .err_fd = -1};
	int rc = pipe_high(out);
	if (rc != 0)
		return rc;
	rc = pipe_high(errp);
	if (rc != 0) {
		close(out[0]);
		close(out[1]);
		return rc;
	}
	if (pipe_size > 0)
		(void)fcntl(out[1], F_SETPIPE_SZ, (int)(pipe_size > INT_MAX ? INT_MAX : pipe_size));
	rc = posix_spawn_file_actions_init(&fa);
	if (rc != 0)
		goto close_pipes;
	rc = posix_spawnattr_init(&attr);
	if (rc != 0) {
		posix_spawn_file_actions_destroy(&fa);
		goto close_pipes;
	}
	sigset_t none, defaults;
	sigemptyset(&none);
	child_signals(&defaults);
	short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
	if (!in_fork_child)
		flags |= POSIX_SPAWN_SETPGROUP;
	rc = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (rc == 0)
		rc = posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
	if (rc == 0)
		rc = posix_spawn_file_actions_adddup2(&fa, errp[1], STDERR_FILENO);
	if (rc == 0)
		rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	if (rc == 0)
		rc = posix_spawnattr_setsigmask(&attr, &none);
	if (rc == 0)
		rc = posix_spawnattr_setsigdefault(&attr, &defaults);
	if (rc == 0 && !in_fork_child)
		rc = posix_spawnattr_setpgroup(&attr, 0);
	if (rc == 0)
		rc = posix_spawnattr_setflags(&attr, flags);
	pid_t pid = -1;
	if (rc == 0)
		rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv, envp != NULL ? envp : environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		goto close_pipes;
	close(out[1]);
	close(errp[1]);
	p->pid = pid;
	p->out_fd = out[0];
	p->err_fd = errp[0];
	p->pidfd = open_pidfd(pid);
	return 0;
close_pipes:
	close(out[0]);
	close(out[1]);
	close(errp[0]);
	close(errp[1]);
	return rc;
}

int proc_fork(struct proc *p, int (*fn)(void *arg, int err_fd), void *arg)
{
	int errp[2];
	pthread_once(&cancel_once, make_cancel_fd);
	*p = (struct proc){.pid = -1, .pidfd = -1, .out_fd = -1, .err_fd = -1};
	int rc = pipe_high(errp);
	if (rc != 0)
		return rc;
	(void)fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		rc = errno;
		close(errp[0]);
		close(errp[1]);
		return rc;
	}
	if (pid == 0) {
		(void)setpgid(0, 0);
		close(errp[0]);
		/* A child of its own: signals kill it, and oma's cancel state
		 * (the eventfd is shared across fork) is not its. */
		sigset_t defaults, none;
		child_signals(&defaults);
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		for (int sig = 1; sig < NSIG; sig++)
			if (sigismember(&defaults, sig) == 1)
				(void)sigaction(sig, &sa, NULL);
		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		if (cancel_fd >= 0)
			close(cancel_fd);
		cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		cancels = 0;
		in_fork_child = true;
		for (size_t i = 0; i < nprivate; i++)
			(void)close(private_fds[i]);
		_exit(fn(arg, errp[1]) & 0xff);
	}
	(void)setpgid(pid, pid); /* also here: no race with a kill of the group */
	close(errp[1]);
	p->pid = pid;
	p->err_fd = errp[0];
	p->pidfd = open_pidfd(pid);
	return 0;
}

/* ---- waiting ------------------------------------------------------------- */

struct keep {
	char *data;
	size_t len, cap, max;
	bool cut;
};

static void keep_add(struct keep *k, const char *buf, size_t n)
{
	size_t room = k->max > k->len ? k->max - k->len : 0;
	if (n > room) {
		k->cut = true;
		n = room;
	}
	if (n > 0)
		buf_append(&k->data, &k->len, &k->cap, buf, n);
}

/* Whether the child has exited, without reaping it: until it is reaped its
 * pid, which is also its process group's id, cannot be reused, so the
 * group can still be signalled safely. */
static bool has_exited(pid_t pid)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
		return errno != EINTR; /* ECHILD: gone already */
	return si.si_pid == pid;
}

static void signal_group(pid_t pid, int sig)
{
	(void)kill(-pid, sig);
	(void)kill(pid, sig); /* in case it left its group */
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* What one wait is doing. */
struct waiting {
	struct proc *p;
	const struct proc_limits *l;
	struct proc_result *r;
	struct keep out, err;
	int64_t start, last_output;
	bool exited, stopping, killed;
	int64_t kill_at, linger_until;
};

static void stop(struct waiting *w, int why, int64_t now)
{
	if (w->stopping)
		return;
	w->stopping = true;
	w->r->end = why;
	w->kill_at = now + PROC_KILL_GRACE_MS;
	if (w->exited)
		w->linger_until = now;
	signal_group(w->p->pid, SIGTERM);
	/* A stopped child's output is not wanted; only stderr still tells why. */
}

/* Read once from *fd.  Returns the byte count, 0 at EOF (fd closed), or -1
 * (nothing to read now, or an error in w->r, fd closed). */
static ssize_t read_some(struct waiting *w, int *fd, char *buf, size_t size)
{
	ssize_t n = read(*fd, buf, size);
	if (n > 0)
		return n;
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return -1;
	if (n < 0 && !w->stopping) {
		w->r->error = errno;
		stop(w, PROC_BROKEN, now_ms());
	}
	close_fd(fd);
	return n < 0 ? -1 : 0;
}

/* Milliseconds poll() may sleep: until the nearest deadline, -1 for none. */
static int poll_ms(const struct waiting *w, int64_t now)
{
	int64_t until = INT64_MAX;
	const struct proc_limits *l = w->l;
	if (!w->stopping && l->timeout_ms > 0)
		until = w->start + l->timeout_ms;
	if (!w->stopping && l->stall_ms > 0 && w->last_output + l->stall_ms < until)
		until = w->last_output + l->stall_ms;
	if (w->stopping && !w->killed && w->kill_at < until)
		until = w->kill_at;
	if (w->exited && w->linger_until < until)
		until = w->linger_until;
	if (!w->exited && w->p->pidfd < 0 && now + EXIT_TICK_MS < until)
		until = now + EXIT_TICK_MS;
	if (until == INT64_MAX)
		return -1;
	int64_t ms = until - now;
	return ms <= 0 ? 0 : ms > INT_MAX ? INT_MAX : (int)ms;
}

int proc_wait(struct proc *p, const struct proc_limits *l, struct proc_result *r)
{
	struct waiting w = {.p = p, .l = l, .r = r};
	memset(r, 0, sizeof(*r));
	w.out.max = l->out_keep;
	w.err.max = l->err_keep;
	size_t rsize = l->read_size > 0 ? l->read_size : READ_SIZE_DEFAULT;
	char *buf = xmalloc(rsize);
	w.start = w.last_output = now_ms();

	for (;;) {
		int64_t now = now_ms();
		if (!w.exited && has_exited(p->pid)) {
			w.exited = true;
			/* A stopped child's pipes are not waited for at all. */
			w.linger_until = now + (w.stopping ? 0 : PROC_LINGER_MS);
		}
		if (p->out_fd < 0 && p->err_fd < 0 && w.exited)
			break;
		if (w.exited && now >= w.linger_until) {
			r->lingered = !w.stopping;
			close_fd(&p->out_fd);
			close_fd(&p->err_fd);
			break;
		}
		if (!w.stopping) {
			if ((unsigned)cancels > l->cancels_allowed)
				stop(&w, PROC_CANCELLED, now);
			else if (l->timeout_ms > 0 && now - w.start >= l->timeout_ms)
				stop(&w, PROC_TIMED_OUT, now);
			else if (l->stall_ms > 0 && now - w.last_output >= l->stall_ms)
				stop(&w, PROC_STALLED, now);
		}
		if (w.stopping && !w.killed && now >= w.kill_at) {
			signal_group(p->pid, SIGKILL);
			w.killed = true;
		}

		struct pollfd pfd[4];
		nfds_t n = 0;
		int i_out = -1, i_err = -1;
		if (p->out_fd >= 0) {
			i_out = (int)n;
			pfd[n++] = (struct pollfd){.fd = p->out_fd, .events = POLLIN};
		}
		if (p->err_fd >= 0) {
			i_err = (int)n;
			pfd[n++] = (struct pollfd){.fd = p->err_fd, .events = POLLIN};
		}
		if (!w.exited && p->pidfd >= 0)
			pfd[n++] = (struct pollfd){.fd = p->pidfd, .events = POLLIN};
		/* Once readable it stays so: a wait that let a cancel pass
		 * relies on the signal interrupting poll() instead. */
		if (!w.stopping && cancel_fd >= 0 && cancels == 0)
			pfd[n++] = (struct pollfd){.fd = cancel_fd, .events = POLLIN};
		int ready = poll(pfd, n, poll_ms(&w, now));
		if (ready < 0) {
			if (errno == EINTR)
				continue;
			if (!w.stopping) {
				r->error = errno;
				stop(&w, PROC_BROKEN, now_ms());
			}
			continue;
		}
		if (i_out >= 0 && pfd[i_out].revents != 0) {
			ssize_t got = read_some(&w, &p->out_fd, buf, rsize);
			if (got > 0) {
				w.last_output = now_ms();
				if (!w.stopping && l->on_out != NULL &&
				    l->on_out(l->arg, buf, (size_t)got) != 0)
					stop(&w, PROC_REFUSED, w.last_output);
				else if (!w.stopping && l->on_out == NULL)
					keep_add(&w.out, buf, (size_t)got);
			}
		}
		if (i_err >= 0 && pfd[i_err].revents != 0) {
			ssize_t got = read_some(&w, &p->err_fd, buf, rsize < 65536 ? rsize : 65536);
			if (got > 0) {
				w.last_output = now_ms();
				keep_add(&w.err, buf, (size_t)got);
			}
		}
	}
	free(buf);
	int status = 0;
	while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
		;
	close_fd(&p->pidfd);
	close_fd(&p->out_fd);
	close_fd(&p->err_fd);
	p->pid = -1;
	r->status = status;
	r->seconds = (double)(now_ms() - w.start) / 1000.0;
	r->out = w.out.data;
	r->out_len = w.out.len;
	r->out_cut = w.out.cut;
	r->err = w.err.data;
	r->err_len = w.err.len;
	r->err_cut = w.err.cut;
	return w.stopping ? -1 : 0;
}

void proc_kill(struct proc *p)
{
	if (p->pid > 0) {
		signal_group(p->pid, SIGKILL);
		while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	p->pid = -1;
	close_fd(&p->pidfd);
	close_fd(&p->out_fd);
	close_fd(&p->err_fd);
}

void proc_result_free(struct proc_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
	r->out_len = r->err_len = 0;
}

int proc_run(char *const argv[], char *const envp[], const struct proc_limits *l,
             struct proc_result *r, char *err, size_t errlen)
{
	struct proc p;
	memset(r, 0, sizeof(*r));
	int rc = proc_start(&p, argv, envp, 0);
	if (rc != 0) {
		cm_errf(err, errlen, "cannot run '%s': %s", argv[0], strerror(rc));
		return -2;
	}
	return proc_wait(&p, l, r);
}

int proc_exit_code(const struct proc_result *r)
{
	if (WIFEXITED(r->status))
		return WEXITSTATUS(r->status);
	if (WIFSIGNALED(r->status))
		return 128 + WTERMSIG(r->status);
	return -1;
}

void proc_describe(const struct proc_result *r, const struct proc_limits *l, char *out,
                   size_t outlen)
{
	switch (r->end) {
	case PROC_TIMED_OUT:
		cm_errf(out, outlen, "did not finish within %lld seconds; stopped",
		        (long long)(l->timeout_ms / 1000));
		return;
	case PROC_STALLED:
		cm_errf(out, outlen, "wrote nothing for %lld seconds; stopped",
		        (long long)(l->stall_ms / 1000));
		return;
	case PROC_CANCELLED:
		cm_errf(out, outlen, "cancelled");
		return;
	case PROC_REFUSED:
		cm_errf(out, outlen, "its output could not be taken; stopped");
		return;
	case PROC_BROKEN:
		cm_errf(out, outlen, "reading its output failed: %s; stopped", strerror(r->error));
		return;
	default:
		break;
	}
	if (WIFSIGNALED(r->status))
		cm_errf(out, outlen, "killed by signal %d", WTERMSIG(r->status));
	else
		cm_errf(out, outlen, "exit code %d",
		        WIFEXITED(r->status) ? WEXITSTATUS(r->status) : -1);
}

static size_t key_len(const char *kv)
{
	return strcspn(kv, "=");
}

static bool same_key(const char *a, const char *b)
{
	size_t n = key_len(a);
	return n == key_len(b) && memcmp(a, b, n) == 0;
}

char **proc_env_with(const char *const *add)
{
	size_t nenv = 0, nadd = 0;
	while (environ != NULL && environ[nenv] != NULL)
		nenv++;
	for (; add != NULL && add[nadd] != NULL; nadd++)
		if (key_len(add[nadd]) == 0 || add[nadd][key_len(add[nadd])] != '=')
			return NULL;
	char **envp = xcalloc(nenv + nadd + 1, sizeof(*envp));
	size_t k = 0;
	for (size_t i = 0; i < nenv; i++) {
		bool replaced = false;
		for (size_t j = 0; j < nadd && !replaced; j++)
			replaced = same_key(environ[i], add[j]);
		if (!replaced)
			envp[k++] = environ[i];
	}
	for (size_t j = 0; j < nadd; j++) {
		bool later = false;
		for (size_t m = j + 1; m < nadd && !later; m++)
			later = same_key(add[j], add[m]);
		if (!later)
			envp[k++] = (char *)add[j];
	}
	envp[k] = NULL;
	return envp;
}

int proc_host_run(struct oma_run *run, char *err, size_t errlen)
{
	const size_t have = offsetof(struct oma_run, err_len) + sizeof(run->err_len);
	if (run == NULL || run->size < have || run->argv == NULL || run->argv[0] == NULL) {
		cm_errf(err, errlen,
		        "run: no command (or a struct oma_run this core does not know)");
		return -1;
	}
	run->exit_code = -1;
	run->timed_out = run->cancelled = 0;
	run->out = run->errout = NULL;
	run->out_len = run->err_len = 0;
	char **envp = NULL;
	if (run->env != NULL) {
		envp = proc_env_with(run->env);
		for (size_t i = 0; envp == NULL && run->env[i] != NULL; i++)
			if (strchr(run->env[i], '=') == NULL || run->env[i][0] == '=') {
				cm_errf(err, errlen, "environment entry '%.80s' is not NAME=VALUE",
				        run->env[i]);
				return -1;
			}
		if (envp == NULL) {
			cm_errf(err, errlen, "environment entry is not NAME=VALUE");
			return -1;
		}
	}
	size_t keep = run->keep > 0 ? run->keep : 1024 * 1024;
	struct proc_limits lim = {.timeout_ms = (int64_t)(run->timeout > 0 ? run->timeout : 0) *
	                                        1000,
	                          .out_keep = keep,
	                          .err_keep = keep};
	struct proc_result res;
	int rc = proc_run(run->argv, envp, &lim, &res, err, errlen);
	free(envp);
	if (rc == -2)
		return -1;
	run->exit_code = proc_exit_code(&res);
	run->timed_out = res.end == PROC_TIMED_OUT;
	run->cancelled = res.end == PROC_CANCELLED;
	run->out = res.out != NULL ? res.out : xstrdup("");
	run->errout = res.err != NULL ? res.err : xstrdup("");
	run->out_len = res.out_len;
	run->err_len = res.err_len;
	return 0;
}
