/* store_links.c - the links backup_dir/last, last.log and last.result.json: pointing them atomically, mending broken ones. */
#include "common/errbuf.h"
#include "store.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_internal.h"

int store_set_link(const char *backup_dir, const char *name, const char *target, char *err,
                   size_t errlen)
{
	if (name[0] == '\0' || strchr(name, '/') != NULL || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0) {
		cm_errf(err, errlen, "store: invalid link name '%s'", name);
		return -1;
	}
	char *dst = store_join(backup_dir, name);
	char *tmpname = xasprintf(".%s.tmp-%ld", name, (long)getpid());
	char *tmp = store_join(backup_dir, tmpname);
	bool made = false;
	int rc = -1;
	struct stat st;

	if (lstat(dst, &st) == 0 && S_ISDIR(st.st_mode)) {
		cm_errf(err, errlen, "store: cannot replace folder '%s' with a link", dst);
		goto out;
	}
	/* A relative target is relative to the link's folder. */
	char *resolved = target[0] == '/' ? xstrdup(target) : store_join(backup_dir, target);
	int missing = stat(resolved, &st) != 0 ? errno : 0;
	free(resolved);
	if (missing != 0) {
		cm_errf(err, errlen, "store: not pointing '%s' at '%s': %s", dst, target,
		        strerror(missing));
		goto out;
	}
	if (unlink(tmp) != 0 && errno != ENOENT) {
		cm_errf(err, errlen, "store: cannot remove '%s': %s", tmp, strerror(errno));
		goto out;
	}
	if (symlink(target, tmp) != 0) {
		cm_errf(err, errlen, "store: cannot create link '%s': %s", tmp, strerror(errno));
		goto out;
	}
	made = true;
	if (rename(tmp, dst) != 0) {
		cm_errf(err, errlen, "store: cannot rename '%s' to '%s': %s", tmp, dst,
		        strerror(errno));
		goto out;
	}
	made = false;
	if (fsync_dir(backup_dir) != 0) {
		cm_errf(err, errlen, "store: cannot sync folder '%s': %s", backup_dir,
		        strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (made)
		(void)unlink(tmp);
	free(dst);
	free(tmpname);
	free(tmp);
	return rc;
}

/* Whether backup_dir/name (following links) is a complete backup folder. */
static bool complete_at(const char *backup_dir, const char *name)
{
	char *p = store_join(backup_dir, name);
	char *info = store_join(p, STORE_INFO_FILE);
	struct stat st;
	bool ok = stat(p, &st) == 0 && S_ISDIR(st.st_mode) && lstat(info, &st) == 0;
	free(info);
	free(p);
	return ok;
}

/* Whether the symbolic link `path` (in backup_dir) points into one of the
 * folders of `all` that `gone` marks. */
static bool points_into(const char *backup_dir, const char *path, const struct store_folders *all,
                        const bool *gone)
{
	char t[PATH_MAX];
	ssize_t n = readlink(path, t, sizeof(t) - 1);
	if (n <= 0)
		return false;
	t[n] = '\0';
	for (size_t i = 0; i < all->n; i++) {
		if (!gone[i])
			continue;
		char *abs = store_join(backup_dir, all->v[i].name);
		const char *forms[] = {abs, all->v[i].name};
		bool in = false;
		for (size_t k = 0; k < 2 && !in; k++) {
			size_t len = strlen(forms[k]);
			in = strncmp(t, forms[k], len) == 0 && (t[len] == '\0' || t[len] == '/');
		}
		free(abs);
		if (in)
			return true;
	}
	return false;
}

int store_relink(const char *backup_dir, const struct store_folders *all, const bool *gone,
                 struct strv *notes, char *err, size_t errlen)
{
	static const struct {
		const char *link, *file; /* file in the folder `last` names; NULL: the folder */
	} links[] = {{"last", NULL}, {"last.log", "oma.log"}, {"last.result.json", "result.json"}};
	char *newest = NULL;
	for (size_t i = all->n; i > 0 && newest == NULL; i--)
		if (all->v[i - 1].complete && (gone == NULL || !gone[i - 1]))
			newest = store_join(backup_dir, all->v[i - 1].name);
	int rc = 0;
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]) && rc == 0; i++) {
		char *path = store_join(backup_dir, links[i].link);
		struct stat st;
		bool fine = lstat(path, &st) != 0 || !S_ISLNK(st.st_mode) ||
		            ((links[i].file == NULL ? complete_at(backup_dir, links[i].link)
		                                    : stat(path, &st) == 0) &&
		             (gone == NULL || !points_into(backup_dir, path, all, gone)));
		char *target = NULL;
		if (!fine && newest != NULL)
			target = links[i].file == NULL ? xstrdup(newest)
			                               : store_join(newest, links[i].file);
		if (target != NULL && lstat(target, &st) != 0) {
			free(target);
			target = NULL;
		}
		char *note = NULL;
		if (!fine && target != NULL) {
			rc = store_set_link(backup_dir, links[i].link, target, err, errlen);
			if (rc == 0)
				note = xasprintf(
				        "%s pointed at a missing or incomplete backup; it now "
				        "points at %s",
				        path, target);
		} else if (!fine) {
			if (unlink(path) != 0 && errno != ENOENT) {
				cm_errf(err, errlen, "store: cannot remove '%s': %s", path,
				        strerror(errno));
				rc = -1;
			} else {
				note = xasprintf(
				        "%s pointed at a missing or incomplete backup and there "
				        "is no complete one: removed",
				        path);
			}
		}
		if (note != NULL && notes != NULL)
			strv_push(notes, note);
		free(note);
		free(target);
		free(path);
	}
	free(newest);
	return rc;
}

int store_fix_links(const char *backup_dir, time_t now, struct strv *notes, char *err,
                    size_t errlen)
{
	struct store_folders all = {0};
	if (store_scan(backup_dir, now, &all, err, errlen) != 0)
		return -1;
	int rc = store_relink(backup_dir, &all, NULL, notes, err, errlen);
	store_folders_free(&all);
	return rc;
}
