/* rgwlib.c - a private radosgw for the S3 unit tests (tests/lib/rgw.sh serve), awscli against it, test files. */
#include "rgwlib.h"

#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"
#include "util.h"

struct t_rgw t_gw = {.helper = -1, .helper_in = -1};

/* The value of NAME=VALUE in the env file text (printf %q quoting undone),
 * malloc'ed; fails the test when missing. */
static char *env_value(const char *text, const char *name)
{
	size_t nl = strlen(name);
	for (const char *line = text; *line != '\0';) {
		const char *end = strchr(line, '\n');
		size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
		if (len > nl && strncmp(line, name, nl) == 0 && line[nl] == '=') {
			char *v = xmalloc(len);
			size_t k = 0;
			for (size_t i = nl + 1; i < len; i++) {
				if (line[i] == '\\' && i + 1 < len)
					i++;
				v[k++] = line[i];
			}
			v[k] = '\0';
			ck_assert_msg(v[0] != '$' && v[0] != '\'', "%s: unexpected quoting", name);
			return v;
		}
		line += len + (end != NULL);
	}
	ck_abort_msg("%s missing in the gateway's env file", name);
	return NULL;
}

void t_rgw_up(const char *name, const char *bucket)
{
	char *rel = t_source_path("tests/lib/rgw.sh");
	ck_assert_msg(rel != NULL, "tests/lib/rgw.sh not found");
	t_gw.rgw_sh = realpath(rel, NULL); /* absolute: handed to shells */
	ck_assert_ptr_nonnull(t_gw.rgw_sh);
	free(rel);
	snprintf(t_gw.tmp, sizeof(t_gw.tmp), "/tmp/oma-check-%s.XXXXXX", name);
	ck_assert_ptr_nonnull(mkdtemp(t_gw.tmp));
	t_gw.dir = xasprintf("%s/rgw", t_gw.tmp);
	char *log = xasprintf("%s/serve.log", t_gw.tmp);
	int in[2], out[2];
	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		dup2(in[0], 0);
		dup2(out[1], 1);
		if (fd >= 0)
			dup2(fd, 2);
		execlp("bash", "bash", t_gw.rgw_sh, "serve", t_gw.dir, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	t_gw.helper = pid;
	t_gw.helper_in = in[1];
	/* rgw.sh bounds each of its waits (RGW_START_TIMEOUT); this is the outer bound. */
	struct pollfd pfd = {.fd = out[0], .events = POLLIN};
	char line[512] = "";
	ck_assert_msg(poll(&pfd, 1, 300 * 1000) == 1, "radosgw did not start in 300 s (see %s)",
	              log);
	ssize_t n = read(out[0], line, sizeof(line) - 1);
	close(out[0]);
	if (n <= 0) {
		/* rgw.sh stopped what it started; the folder goes too. */
		static char why[2048];
		char *text = t_read_file(log);
		snprintf(why, sizeof(why), "%s", text != NULL ? text : "(no log)");
		free(text);
		t_remove_tree(t_gw.tmp);
		ck_abort_msg("radosgw did not start: %s", why);
	}
	line[n] = '\0';
	line[strcspn(line, "\n")] = '\0';
	char *env = t_read_file(line);
	ck_assert_msg(env != NULL, "cannot read %s", line);
	t_gw.endpoint = env_value(env, "RGW_ENDPOINT");
	t_gw.access_key = env_value(env, "RGW_ACCESS_KEY");
	t_gw.secret_key = env_value(env, "RGW_SECRET_KEY");
	free(env);
	free(log);
	if (bucket != NULL)
		ck_assert_msg(t_rgw_aws(NULL, "s3api create-bucket --bucket %s", bucket) == 0,
		              "creating bucket %s failed", bucket);
}

void t_rgw_down(void)
{
	if (t_gw.helper > 0) {
		close(t_gw.helper_in);
		int status;
		/* rgw_stop waits at most 30 s per daemon itself. */
		for (int i = 0; i < 1200 && waitpid(t_gw.helper, &status, WNOHANG) == 0; i++)
			usleep(100 * 1000);
		if (waitpid(t_gw.helper, &status, WNOHANG) == 0) {
			kill(t_gw.helper, SIGKILL);
			waitpid(t_gw.helper, &status, 0);
		}
		t_gw.helper = -1;
	}
	if (t_gw.tmp[0] != '\0')
		t_remove_tree(t_gw.tmp);
	free(t_gw.rgw_sh);
	free(t_gw.dir);
	free(t_gw.endpoint);
	free(t_gw.access_key);
	free(t_gw.secret_key);
}

int t_rgw_aws(char **out, const char *fmt, ...)
{
	char args[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	ck_assert(n > 0 && (size_t)n < sizeof(args));
	char *file = xasprintf("%s/aws.out", t_gw.tmp);
	char *cmd = xasprintf("bash -c '. \"%s\" && . \"%s/env\" && rgw_aws %s' >'%s' 2>&1",
	                      t_gw.rgw_sh, t_gw.dir, args, file);
	int rc = system(cmd);
	if (out != NULL) {
		*out = t_read_file(file);
		ck_assert_ptr_nonnull(*out);
		(*out)[strcspn(*out, "\n")] = '\0';
	}
	free(cmd);
	free(file);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

char *t_rgw_file(const char *name, uint64_t size, uint32_t seed)
{
	char *path = xasprintf("%s/%s", t_gw.tmp, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	uint32_t buf[16384], x = seed | 1;
	for (uint64_t done = 0; done < size;) {
		for (size_t i = 0; i < sizeof(buf) / sizeof(buf[0]); i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			buf[i] = x;
		}
		size_t n = size - done < sizeof(buf) ? (size_t)(size - done) : sizeof(buf);
		ck_assert_int_eq(write(fd, buf, n), (ssize_t)n);
		done += n;
	}
	ck_assert_int_eq(close(fd), 0);
	return path;
}

bool t_same_file(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	bool same = fa != NULL && fb != NULL;
	char x[65536], y[65536];
	while (same) {
		size_t na = fread(x, 1, sizeof(x), fa), nb = fread(y, 1, sizeof(y), fb);
		same = na == nb && memcmp(x, y, na) == 0;
		if (na == 0)
			break;
	}
	if (fa != NULL)
		fclose(fa);
	if (fb != NULL)
		fclose(fb);
	return same;
}
