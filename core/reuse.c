/* reuse.c - a dump's sidecar file, and moving an unchanged dump into the new backup folder. */
#include "reuse.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errbuf.h"
#include "common/io.h"
#include "util.h"

#define SIDECAR_MAX 65536

int reuse_write_sidecar(const char *dir, const char *stem, const struct sidecar *sc, char *err,
                        size_t errlen)
{
	char sum[80] = "", enc[sizeof(sc->encryption) + 16] = "";
	if (sc->sha256[0] != '\0')
		(void)snprintf(sum, sizeof(sum), "sha256=%s\n", sc->sha256);
	if (sc->encryption[0] != '\0')
		(void)snprintf(enc, sizeof(enc), "encryption=%s\n", sc->encryption);
	char *text = xasprintf("format=oma-1\nstart=%" PRId64
	                       "\ncompressor=%s\nfile=%s\nbytes=%" PRIu64 "\n%s%s%s",
	                       sc->start, sc->compressor, sc->file, sc->bytes, sum, enc,
	                       sc->extra ? sc->extra : "");
	char *path = xasprintf("%s/%s%s", dir, stem, REUSE_SIDECAR_SUFFIX);
	char *tmp = xasprintf("%s.part", path);
	int rc = -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0) {
		cm_errf(err, errlen, "reuse: cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	/* No fsync: a sidecar lost or emptied by a crash only means the next
	 * run dumps that database again, and one fsync per database costs
	 * more than the dumps of thousands of small ones. */
	if (cm_write_all(fd, text, strlen(text)) != 0) {
		cm_errf(err, errlen, "reuse: cannot write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	if (close(fd) != 0) {
		cm_errf(err, errlen, "reuse: cannot write %s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path) != 0) {
		cm_errf(err, errlen, "reuse: cannot rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	free(text);
	free(path);
	free(tmp);
	return rc;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
		return -1;
	*v = x;
	return 0;
}

int reuse_parse_sidecar(const char *text, size_t len, struct sidecar *sc)
{
	memset(sc, 0, sizeof(*sc));
	char *buf = xstrndup(text, len);
	int rc = 1;
	char *extra = NULL;
	size_t elen = 0, ecap = 0;
	int have = 0;
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		if (eq == NULL)
			continue;
		*eq = '\0';
		const char *k = line, *v = eq + 1;
		uint64_t u;
		if (strcmp(k, "format") == 0) {
			if (strcmp(v, "oma-1") == 0)
				have |= 1;
		} else if (strcmp(k, "start") == 0 && parse_u64(v, &u) == 0) {
			sc->start = (int64_t)u;
			have |= 2;
		} else if (strcmp(k, "compressor") == 0 && strlen(v) < sizeof(sc->compressor)) {
			(void)snprintf(sc->compressor, sizeof(sc->compressor), "%s", v);
			have |= 4;
		} else if (strcmp(k, "file") == 0 && strlen(v) < sizeof(sc->file)) {
			(void)snprintf(sc->file, sizeof(sc->file), "%s", v);
			have |= 8;
		} else if (strcmp(k, "bytes") == 0 && parse_u64(v, &u) == 0) {
			sc->bytes = u;
			have |= 16;
		} else if (strcmp(k, "encryption") == 0) {
			if (strlen(v) < sizeof(sc->encryption))
				(void)snprintf(sc->encryption, sizeof(sc->encryption), "%s", v);
			else
				(void)snprintf(sc->encryption, sizeof(sc->encryption), "?");
		} else if (strcmp(k, "sha256") == 0) {
			/* 64 lower-case hex digits, or not recorded */
			if (strlen(v) == 64 && strspn(v, "0123456789abcdef") == 64)
				memcpy(sc->sha256, v, 65);
		} else {
			buf_appendf(&extra, &elen, &ecap, "%s=%s\n", k, v);
		}
	}
	if (have != 31) {
		free(extra);
		goto out; /* not ours (upstream's ISO stamp) or incomplete */
	}
	sc->extra = extra ? extra : xstrdup("");
	rc = 0;
out:
	free(buf);
	return rc;
}

int reuse_read_sidecar(const char *dir, const char *stem, struct sidecar *sc, char *err,
                       size_t errlen)
{
	memset(sc, 0, sizeof(*sc));
	char *path = xasprintf("%s/%s%s", dir, stem, REUSE_SIDECAR_SUFFIX);
	int rc = -1;
	char *buf = NULL;
	int fd = open_regular(AT_FDCWD, path, O_NOFOLLOW);
	if (fd == -1 && errno == ELOOP) /* a symbolic link left by reuse */
		fd = open_regular(AT_FDCWD, path, 0);
	if (fd == -2) {
		cm_errf(err, errlen, "reuse: %s is not a regular file", path);
		goto out;
	}
	if (fd < 0) {
		if (errno == ENOENT) {
			rc = 1;
		} else {
			cm_errf(err, errlen, "reuse: cannot read %s: %s", path, strerror(errno));
		}
		goto out;
	}
	buf = xmalloc(SIDECAR_MAX + 1);
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, buf + len, SIDECAR_MAX - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cm_errf(err, errlen, "reuse: cannot read %s: %s", path, strerror(errno));
			close(fd);
			goto out;
		}
		if (n == 0 || len + (size_t)n == SIDECAR_MAX) {
			len += (size_t)n;
			break;
		}
		len += (size_t)n;
	}
	close(fd);
	rc = reuse_parse_sidecar(buf, len, sc);
out:
	free(buf);
	free(path);
	return rc;
}

void reuse_sidecar_free(struct sidecar *sc)
{
	free(sc->extra);
	sc->extra = NULL;
}

int reuse_exists(const char *dir, const char *name)
{
	char *path = xasprintf("%s/%s", dir, name);
	struct stat st;
	int found = lstat(path, &st) == 0;
	free(path);
	return found;
}

int reuse_usable(const char *prev_dir, const struct sidecar *sc, const char *compressor,
                 const char *file, char *why, size_t whylen)
{
	if (strcmp(sc->compressor, compressor) != 0) {
		cm_errf(why, whylen, "previous dump was made with %s, now %s", sc->compressor,
		        compressor);
		return 0;
	}
	if (strcmp(sc->file, file) != 0) {
		cm_errf(why, whylen, "previous dump is named %s, expected %s", sc->file, file);
		return 0;
	}
	char *path = xasprintf("%s/%s", prev_dir, file);
	struct stat st;
	int ok = 0;
	if (lstat(path, &st) != 0)
		cm_errf(why, whylen, "previous dump %s is missing", path);
	else if (!S_ISREG(st.st_mode))
		cm_errf(why, whylen, "previous dump %s is not a regular file", path);
	else if ((uint64_t)st.st_size != sc->bytes)
		cm_errf(why, whylen, "previous dump %s has %lld bytes, %" PRIu64 " were written",
		        path, (long long)st.st_size, sc->bytes);
	else
		ok = 1;
	free(path);
	return ok;
}

/* Give prev_dir/FROM a second name cur_dir/TO, then (symbolic links)
 * replace the old name by a link to the new one.  The old folder has its
 * file, or a link to the complete file, at every moment: a crash, a full
 * disk or a file system without hard links never leaves it without its
 * dump (renaming first did).  Returns 0, -1 (nothing changed), 1 (both
 * names are hard links: the symbolic link could not be made). */
static int move_one(const char *prev_dir, const char *from_name, const char *cur_dir,
                    const char *to_name, int link_type, char *err, size_t errlen)
{
	char *from = xasprintf("%s/%s", prev_dir, from_name);
	char *to = xasprintf("%s/%s", cur_dir, to_name);
	char *tmp = NULL;
	int rc = -1;
	if (link(from, to) != 0) {
		cm_errf(err, errlen, "reuse: cannot link %s to %s: %s", from, to, strerror(errno));
		goto out;
	}
	rc = 0;
	if (link_type != CFG_LINK_SYMBOLIC)
		goto out;
	tmp = xasprintf("%s/.%s.link-%ld", prev_dir, from_name, (long)getpid());
	(void)unlink(tmp);
	if (symlink(to, tmp) != 0 || rename(tmp, from) != 0) {
		cm_errf(err, errlen,
		        "reuse: linked %s, but cannot replace it by a symbolic link: %s", from,
		        strerror(errno));
		(void)unlink(tmp);
		rc = 1;
	}
out:
	free(tmp);
	free(from);
	free(to);
	return rc;
}

int reuse_move(const char *prev_dir, const char *cur_dir, const char *file, const char *stem,
               int link_type, char *err, size_t errlen)
{
	char *side = xasprintf("%s%s", stem, REUSE_SIDECAR_SUFFIX);
	int rc = move_one(prev_dir, file, cur_dir, file, link_type, err, errlen);
	if (rc >= 0) {
		char err2[512];
		int rc2 = move_one(prev_dir, side, cur_dir, side, link_type, err2, sizeof(err2));
		if (rc2 != 0 && rc == 0) {
			cm_errf(err, errlen, "%s", err2);
			rc = 1;
		}
	}
	free(side);
	return rc;
}

int reuse_move_renamed(const char *prev_dir, const char *cur_dir, const char *file,
                       const char *stem, const struct sidecar *sc, int link_type, char *err,
                       size_t errlen)
{
	int rc = move_one(prev_dir, sc->file, cur_dir, file, link_type, err, errlen);
	if (rc < 0)
		return rc;
	struct sidecar now = *sc;
	(void)snprintf(now.file, sizeof(now.file), "%s", file);
	char err2[512];
	if (reuse_write_sidecar(cur_dir, stem, &now, err2, sizeof(err2)) != 0 && rc == 0) {
		cm_errf(err, errlen, "%s", err2);
		rc = 1;
	}
	return rc;
}
