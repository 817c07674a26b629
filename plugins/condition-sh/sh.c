/* sh.c - condition plugin "sh": runs a command with /bin/sh -c, captures output, enforces a timeout. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <oma/plugin.h>

/*
 * What upstream did: subprocess.run(['/bin/sh', '-c', command],
 * capture_output=True, timeout=...).  Differences, on purpose:
 *
 * - The shell leads its own process group, and a timeout SIGKILLs the whole
 *   group (upstream killed only /bin/sh; its children ran on).  Processes
 *   that leave the group (setsid, `set -m` job control) are out of reach.
 * - At most SH_KEEP_MAX bytes of each stream are kept; the rest is still
 *   read (so the command never blocks on a full pipe) and dropped.
 * - Like upstream, the command is done when the shell has exited AND both
 *   pipes reached EOF: a background process holding stdout or stderr keeps
 *   it running.  With a timeout, that wait is part of the timeout (upstream's
 *   communicate() timed out the same way); with timeout 0 it is unbounded,
 *   as upstream.
 * - The child gets stdin from /dev/null, no descriptor above 2, an empty
 *   signal mask and SIGPIPE/SIGXFSZ at their defaults (subprocess's
 *   close_fds and restore_signals).
 */

extern char **environ;

#define SH_PATH "/bin/sh"
#define SH_KEEP_MAX (1024 * 1024) /* bytes kept per stream */
#define SH_READ_CHUNK 65536
#define SH_EXIT_TICK_MS 20    /* exit polling when pidfds are unavailable */
#define SH_TIMEOUT_EXIT_CODE 1 /* upstream's exit code for a timeout */

struct capture {
	int fd;     /* read end of the pipe, -1 after EOF */
	char *data; /* NUL-terminated once anything was kept */
	size_t len, cap;
};

static void sh_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void sh_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (err == NULL || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int64_t sh_now_ms(void)
{
	struct timespec ts;
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t sh_key_len(const char *kv)
{
	return strcspn(kv, "=");
}

static int sh_same_key(const char *a, const char *b)
{
	size_t n = sh_key_len(a);
	return n == sh_key_len(b) && memcmp(a, b, n) == 0;
}

/* The child's environment: the current one, minus the names `env` sets,
 * plus `env` (the last of repeated names wins).  Only the array is
 * allocated.  Returns NULL with err set on a malformed entry or no memory. */
static char **sh_build_env(const char *const *env, char *err, size_t errlen)
{
	size_t nenv = 0, nadd = 0;
	while (environ != NULL && environ[nenv] != NULL)
		nenv++;
	for (; env != NULL && env[nadd] != NULL; nadd++) {
		size_t key = sh_key_len(env[nadd]);
		if (key == 0 || env[nadd][key] != '=') {
			sh_err(err, errlen, "condition sh: environment entry '%.80s' is not NAME=VALUE",
			       env[nadd]);
			return NULL;
		}
	}

	char **envp = calloc(nenv + nadd + 1, sizeof(*envp));
	if (envp == NULL) {
		sh_err(err, errlen, "condition sh: out of memory");
		return NULL;
	}
	size_t k = 0;
	for (size_t i = 0; i < nenv; i++) {
		int replaced = 0;
		for (size_t j = 0; j < nadd && !replaced; j++)
			replaced = sh_same_key(environ[i], env[j]);
		if (!replaced)
			envp[k++] = environ[i];
	}
	for (size_t j = 0; j < nadd; j++) {
		int later = 0;
		for (size_t l = j + 1; l < nadd && !later; l++)
			later = sh_same_key(env[j], env[l]);
		if (!later)
			envp[k++] = (char *)env[j];
	}
	envp[k] = NULL;
	return envp;
}

/* A close-on-exec pipe whose ends are both above 2, so that the child's
 * dup2() onto 1 and 2 cannot clobber one of them.  Returns -1 with errno. */
static int sh_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) != 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		if (fds[i] > 2)
			continue;
		int moved = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
		if (moved < 0) {
			int saved = errno;
			(void)close(fds[0]);
			(void)close(fds[1]);
			fds[0] = fds[1] = -1;
			errno = saved;
			return -1;
		}
		(void)close(fds[i]);
		fds[i] = moved;
	}
	return 0;
}

/* Start `/bin/sh -c command` as the leader of a new process group, stdin
 * from /dev/null, stdout to out_w and stderr to err_w.  Returns -1 with err
 * set when it cannot be started. */
static int sh_spawn(const char *command, char *const envp[], int out_w, int err_w, pid_t *pid,
                    char *err, size_t errlen)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int fa_ok = 0, attr_ok = 0;
	int rc = -1, e;
	sigset_t mask, dflt;
	char *const argv[] = {SH_PATH, "-c", (char *)command, NULL};

	e = posix_spawn_file_actions_init(&fa);
	if (e != 0)
		goto fail;
	fa_ok = 1;
	e = posix_spawnattr_init(&attr);
	if (e != 0)
		goto fail;
	attr_ok = 1;

	e = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (e == 0)
		e = posix_spawn_file_actions_adddup2(&fa, out_w, 1);
	if (e == 0)
		e = posix_spawn_file_actions_adddup2(&fa, err_w, 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
	if (e == 0)
		e = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
	if (e != 0)
		goto fail;

	sigemptyset(&mask);
	sigemptyset(&dflt);
	sigaddset(&dflt, SIGPIPE);
	sigaddset(&dflt, SIGXFSZ);
	e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
	                                            POSIX_SPAWN_SETSIGDEF);
	if (e == 0)
		e = posix_spawnattr_setpgroup(&attr, 0);
	if (e == 0)
		e = posix_spawnattr_setsigmask(&attr, &mask);
	if (e == 0)
		e = posix_spawnattr_setsigdefault(&attr, &dflt);
	if (e != 0)
		goto fail;

	e = posix_spawn(pid, SH_PATH, &fa, &attr, argv, envp);
	if (e != 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	sh_err(err, errlen, "condition sh: cannot start %s: %s", SH_PATH, strerror(e));
out:
	if (attr_ok)
		(void)posix_spawnattr_destroy(&attr);
	if (fa_ok)
		(void)posix_spawn_file_actions_destroy(&fa);
	return rc;
}

/* Read once from the capture's pipe, keeping what fits under SH_KEEP_MAX.
 * EOF (or a read error) closes the pipe.  Returns -1 when out of memory. */
static int sh_drain(struct capture *c)
{
	char buf[SH_READ_CHUNK];
	ssize_t n = read(c->fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		(void)close(c->fd);
		c->fd = -1;
		return 0;
	}
	size_t keep = (size_t)n;
	if (keep > SH_KEEP_MAX - c->len)
		keep = SH_KEEP_MAX - c->len;
	if (keep == 0)
		return 0;
	if (c->len + keep + 1 > c->cap) {
		size_t cap = c->cap < 4096 ? 4096 : c->cap * 2;
		while (cap < c->len + keep + 1)
			cap *= 2;
		if (cap > SH_KEEP_MAX + 1)
			cap = SH_KEEP_MAX + 1;
		char *p = realloc(c->data, cap);
		if (p == NULL)
			return -1;
		c->data = p;
		c->cap = cap;
	}
	memcpy(c->data + c->len, buf, keep);
	c->len += keep;
	c->data[c->len] = '\0';
	return 0;
}

/* Hand the kept bytes over as a NUL-terminated string ("" when nothing was
 * printed).  Returns NULL when out of memory. */
static char *sh_take(struct capture *c)
{
	char *s = c->data != NULL ? c->data : strdup("");
	c->data = NULL;
	c->len = c->cap = 0;
	return s;
}

/* 1 when the shell has exited (without reaping it, so that its pid, which
 * is also the group id, cannot be reused while we may still signal it). */
static int sh_exited(pid_t pid)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
		return errno != EINTR; /* ECHILD: already reaped by someone else */
	return si.si_pid == pid;
}

/* Reap the shell.  Returns its exit status, 128+signal when a signal
 * killed it, or -1 when its status cannot be had. */
static int sh_reap(pid_t pid)
{
	int status;
	for (;;) {
		pid_t r = waitpid(pid, &status, 0);
		if (r == pid)
			break;
		if (r < 0 && errno == EINTR)
			continue;
		return -1;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

static void sh_kill_group(pid_t pid)
{
	(void)kill(-pid, SIGKILL);
	(void)kill(pid, SIGKILL); /* in case the shell left its group */
}

static int sh_pidfd(pid_t pid)
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

/* Run `command` under /bin/sh (see the comment at the top).  Returns 0 when
 * it ran, whatever its exit code; -1 with err set when it could not be
 * started or its output could not be kept (out of memory). */
static int sh_run(const char *command, int timeout, const char *const *env,
                  struct oma_condition_result *res, char *err, size_t errlen)
{
	int rc = -1;
	char **envp = NULL;
	int out_p[2] = {-1, -1}, err_p[2] = {-1, -1};
	struct capture caps[2] = {{.fd = -1}, {.fd = -1}};
	pid_t pid = -1;
	int pidfd = -1;
	int exited = 0, timed_out = 0;

	res->exit_code = -1;
	res->timed_out = 0;
	res->out = res->errout = NULL;
	if (command == NULL) {
		sh_err(err, errlen, "condition sh: no command");
		return -1;
	}

	envp = sh_build_env(env, err, errlen);
	if (envp == NULL)
		goto out;
	if (sh_pipe(out_p) != 0 || sh_pipe(err_p) != 0) {
		sh_err(err, errlen, "condition sh: cannot create pipe for '%.200s': %s", command,
		       strerror(errno));
		goto out;
	}
	if (sh_spawn(command, envp, out_p[1], err_p[1], &pid, err, errlen) != 0) {
		pid = -1;
		goto out;
	}
	(void)close(out_p[1]);
	(void)close(err_p[1]);
	out_p[1] = err_p[1] = -1;
	caps[0].fd = out_p[0];
	caps[1].fd = err_p[0];
	out_p[0] = err_p[0] = -1;
	pidfd = sh_pidfd(pid);

	int64_t deadline = timeout > 0 ? sh_now_ms() + (int64_t)timeout * 1000 : -1;
	for (;;) {
		if (!exited)
			exited = sh_exited(pid);
		int open = (caps[0].fd >= 0) + (caps[1].fd >= 0);
		if (open == 0 && (exited || deadline < 0))
			break; /* without a deadline, waitpid() below waits */

		int wait_ms = -1;
		if (deadline >= 0) {
			int64_t left = deadline - sh_now_ms();
			if (left <= 0) {
				timed_out = 1;
				break;
			}
			wait_ms = left > INT_MAX ? INT_MAX : (int)left;
		}
		struct pollfd pfd[3];
		struct capture *who[3] = {NULL, NULL, NULL};
		nfds_t n = 0;
		for (int i = 0; i < 2; i++) {
			if (caps[i].fd < 0)
				continue;
			pfd[n] = (struct pollfd){.fd = caps[i].fd, .events = POLLIN};
			who[n++] = &caps[i];
		}
		if (!exited && pidfd >= 0)
			pfd[n++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
		else if (!exited && open == 0 && (wait_ms < 0 || wait_ms > SH_EXIT_TICK_MS))
			wait_ms = SH_EXIT_TICK_MS;

		int ready = poll(pfd, n, wait_ms);
		if (ready < 0) {
			if (errno == EINTR)
				continue;
			sh_err(err, errlen, "condition sh: poll while running '%.200s': %s", command,
			       strerror(errno));
			goto out;
		}
		for (nfds_t i = 0; i < n; i++) {
			if (who[i] == NULL || (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0)
				continue;
			if (sh_drain(who[i]) != 0) {
				sh_err(err, errlen, "condition sh: out of memory capturing '%.200s'",
				       command);
				goto out;
			}
		}
	}

	if (timed_out)
		sh_kill_group(pid);
	int status = sh_reap(pid);
	pid = -1;

	res->out = sh_take(&caps[0]);
	if (timed_out) {
		res->timed_out = 1;
		res->exit_code = SH_TIMEOUT_EXIT_CODE;
		char msg[64];
		(void)snprintf(msg, sizeof(msg), "Command timed out after %d seconds", timeout);
		res->errout = strdup(msg);
	} else {
		res->exit_code = status;
		res->errout = sh_take(&caps[1]);
	}
	if (res->out == NULL || res->errout == NULL) {
		sh_err(err, errlen, "condition sh: out of memory capturing '%.200s'", command);
		free(res->out);
		free(res->errout);
		res->out = res->errout = NULL;
		res->exit_code = -1;
		res->timed_out = 0;
		goto out;
	}
	rc = 0;
out:
	if (pid > 0) {
		/* Failed while the command ran: do not leave it or a zombie behind. */
		sh_kill_group(pid);
		(void)sh_reap(pid);
	}
	for (int i = 0; i < 2; i++) {
		if (caps[i].fd >= 0)
			(void)close(caps[i].fd);
		free(caps[i].data);
		if (out_p[i] >= 0)
			(void)close(out_p[i]);
		if (err_p[i] >= 0)
			(void)close(err_p[i]);
	}
	if (pidfd >= 0)
		(void)close(pidfd);
	free(envp);
	return rc;
}

static void sh_result_free(struct oma_condition_result *res)
{
	if (res == NULL)
		return;
	free(res->out);
	free(res->errout);
	res->out = res->errout = NULL;
}

static const struct oma_condition_ops sh_ops = {
	.run = sh_run,
	.result_free = sh_result_free,
};

OMA_PLUGIN_DEFINE(.type = OMA_PLUGIN_CONDITION, .name = "sh", .version = "1.0 (/bin/sh -c)",
                  .condition = &sh_ops);
