/* fuzz_agentconf.c - fuzz target: a Zabbix agent configuration with Include of files, a folder and globs, read as the zabbix plugin reads it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentconf.h"
#include "fuzz.h"

/*
 * The input is up to four files separated by MARK lines: the main file
 * (DIR/main.conf), DIR/inc.conf, DIR/d/a.conf and DIR/d/b.conf, where DIR is
 * a temporary folder made on the first call, so that Include can name a
 * file, the folder DIR/d or a glob.  "%D" in the input stands for DIR.  A
 * file the input does not give is absent.
 *
 * Include must stay inside DIR: an input with an Include line whose value
 * is not "%D" or "%D/..." or has ".." in it is skipped (outside, the
 * reader would wander the real file system: /dev/zero, /proc/kmsg).  So is
 * an input with more than MAX_INCLUDES Include lines: each Include of a
 * file that includes more multiplies the work, as for the agent itself,
 * which only makes the fuzzer slow.
 */

#define MARK         "\n--8<--\n"
#define NPARTS       4
#define MAX_INCLUDES 16

static const char *const part_names[NPARTS] = {"main.conf", "inc.conf", "d/a.conf", "d/b.conf"};
static char *dir; /* DIR, malloc'ed */

/* DIR/part_names[i], malloc'ed; aborts when out of memory. */
static char *part_path(size_t i)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", dir, part_names[i]) < 0)
		abort();
	return p;
}

/* Remove the parts, DIR/d and DIR (at exit); errors are ignored. */
static void remove_dir(void)
{
	if (dir == NULL)
		return;
	for (size_t i = 0; i < NPARTS; i++) {
		char *p = part_path(i);
		(void)unlink(p);
		free(p);
	}
	char *d = NULL;
	if (asprintf(&d, "%s/d", dir) >= 0) {
		(void)rmdir(d);
		free(d);
	}
	(void)rmdir(dir);
	free(dir);
	dir = NULL;
}

/* Make DIR and DIR/d once; aborts when it cannot (nothing could be tested). */
static void make_dir(void)
{
	if (dir != NULL)
		return;
	char tmpl[] = "/tmp/oma-fuzz-agentconf-XXXXXX";
	if (mkdtemp(tmpl) == NULL) {
		perror("fuzz_agentconf: mkdtemp");
		abort();
	}
	dir = strdup(tmpl);
	char *d = NULL;
	if (dir == NULL || asprintf(&d, "%s/d", dir) < 0 || mkdir(d, 0700) != 0) {
		perror("fuzz_agentconf: mkdir");
		abort();
	}
	free(d);
	(void)atexit(remove_dir);
}

/* Whether the text (n bytes, NUL bytes included) keeps every Include
 * inside DIR, judged on each line as the reader sees it (up to its first
 * NUL byte).  Adds the Include lines to *count. */
static int includes_inside(const char *text, size_t n, size_t *count)
{
	const char *p = text, *end = text + n;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		len = strnlen(p, len);
		if (memmem(p, len, "Include", 7) != NULL) {
			const char *eq = memchr(p, '=', len);
			if (eq != NULL) {
				(*count)++;
				const char *v = eq + 1, *lend = p + len;
				while (v < lend && (*v == ' ' || *v == '\t'))
					v++;
				if ((size_t)(lend - v) < 2 || memcmp(v, "%D", 2) != 0 ||
				    memmem(p, len, "..", 2) != NULL)
					return 0;
				/* "%D" must be followed by '/' or nothing: "%D*" would match
				 * the folders of other fuzzers running beside this one */
				v += 2;
				if (v < lend && *v != '/') {
					while (v < lend && (*v == ' ' || *v == '\t' || *v == '\r'))
						v++;
					if (v < lend)
						return 0;
				}
			}
		}
		p = nl != NULL ? nl + 1 : end;
	}
	return 1;
}

/* Write n bytes of text to path with "%D" replaced by DIR.  Returns 0 or -1. */
static int write_part(const char *path, const char *text, size_t n)
{
	FILE *f = fopen(path, "we");
	if (f == NULL)
		return -1;
	size_t dlen = strlen(dir);
	for (size_t i = 0; i < n; i++) {
		if (text[i] == '%' && i + 1 < n && text[i + 1] == 'D') {
			(void)fwrite(dir, 1, dlen, f);
			i++;
		} else {
			(void)fputc(text[i], f);
		}
	}
	return fclose(f) == 0 ? 0 : -1;
}

int fuzz_agentconf(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *start[NPARTS];
	size_t len[NPARTS], nparts = 0, includes = 0;
	const char *p = text, *end = text + size;
	while (nparts < NPARTS) {
		const char *m = nparts + 1 < NPARTS
		                        ? memmem(p, (size_t)(end - p), MARK, strlen(MARK))
		                        : NULL;
		start[nparts] = p;
		len[nparts] = m != NULL ? (size_t)(m - p) : (size_t)(end - p);
		if (!includes_inside(start[nparts], len[nparts], &includes) ||
		    includes > MAX_INCLUDES)
			return 0;
		nparts++;
		if (m == NULL)
			break;
		p = m + strlen(MARK);
	}

	make_dir();
	for (size_t i = 0; i < NPARTS; i++) {
		char *path = part_path(i);
		int rc = i < nparts ? write_part(path, start[i], len[i]) : unlink(path);
		(void)rc; /* unlink: usually absent already */
		free(path);
	}

	struct agentconf ac = {0};
	char err[1024];
	char *main_path = part_path(0);
	if (agentconf_read(main_path, &ac, err, sizeof(err)) == 0 && ac.server_active != NULL) {
		/* what native_setup does next */
		struct dest *d = NULL;
		size_t nd = 0;
		if (parse_server_active(ac.server_active, &d, &nd, err, sizeof(err)) == 0) {
			if (nd == 0)
				abort();
			for (size_t i = 0; i < nd; i++)
				if (d[i].n == 0 || d[i].nodes[0].host[0] == '\0')
					abort();
			dests_free(d, nd);
		}
	}
	agentconf_free(&ac);
	free(main_path);
	return 0;
}

FUZZ_MAIN(fuzz_agentconf)
