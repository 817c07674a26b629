/* store_temp.c - removing the temporary files interrupted runs left in the backup folders. */
#include "common/errbuf.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_internal.h"

/* Whether `name` in a backup folder is a temporary file of oma's: a dump,
 * sidecar or result.json being written ("*.part"), info.json's or
 * SHA256SUMS's ".NAME.tmp-PID" (store_write_file), or a reused dump's
 * symbolic link being made (".NAME.link-PID", reuse.c).  No dump's name
 * begins with '.' (names.c encodes a leading dot). */
static bool temp_in_folder(const char *name)
{
	size_t n = strlen(name);
	return (n > 5 && strcmp(name + n - 5, ".part") == 0) ||
	       (name[0] == '.' &&
	        (strstr(name, ".tmp-") != NULL || strstr(name, ".link-") != NULL));
}

/* The same for backup_dir itself: a link being replaced (".last.tmp-PID",
 * ".last.log.tmp-PID", ".last.result.json.tmp-PID") or an abandoned run's
 * result being written ("last.result.json.part"). */
static bool temp_in_top(const char *name)
{
	static const char *const links[] = {".last.tmp-", ".last.log.tmp-",
	                                    ".last.result.json.tmp-"};
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (strncmp(name, links[i], strlen(links[i])) == 0)
			return true;
	return strcmp(name, "last.result.json.part") == 0;
}

/* Remove the temporary files (not folders) in `dir` that `is_temp` picks;
 * their paths go to *removed.  Returns 0, or -1 with err set. */
static int clean_dir(const char *dir, bool (*is_temp)(const char *), struct strv *removed,
                     char *err, size_t errlen)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct strv names = {0};
	int rc = -1;
	if (fd < 0 || walk_names(fd, &names) != 0) {
		cm_errf(err, errlen, "store: cannot read folder '%s': %s", dir, strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < names.n; i++) {
		struct stat st;
		if (!is_temp(names.v[i]) ||
		    fstatat(fd, names.v[i], &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISDIR(st.st_mode))
			continue;
		char *p = store_join(dir, names.v[i]);
		if (unlinkat(fd, names.v[i], 0) != 0 && errno != ENOENT) {
			cm_errf(err, errlen, "store: cannot remove '%s': %s", p, strerror(errno));
			free(p);
			goto out;
		}
		strv_push(removed, p);
		free(p);
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	strv_free(&names);
	return rc;
}

int store_clean_temp(const char *backup_dir, const char *current, struct strv *removed, char *err,
                     size_t errlen)
{
	struct strv dirs = {0};
	int rc = -1;
	if (store_list(backup_dir, &dirs, err, errlen) != 0)
		return -1;
	if (clean_dir(backup_dir, temp_in_top, removed, err, errlen) != 0)
		goto out;
	for (size_t i = 0; i < dirs.n; i++) {
		if (current != NULL && strcmp(dirs.v[i], current) == 0)
			continue;
		char *p = store_join(backup_dir, dirs.v[i]);
		int r = clean_dir(p, temp_in_folder, removed, err, errlen);
		free(p);
		if (r != 0)
			goto out;
	}
	rc = 0;
out:
	strv_free(&dirs);
	return rc;
}
