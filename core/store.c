/* store.c - backup folders: naming, info.json, last/last.log links, pruning. */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/errbuf.h"
#include "common/io.h"

#define INFO_FILE "info.json"
#define INFO_MAX_BYTES (1024 * 1024)
#define CREATE_TRIES 5

/* backup_dir + "/" + name, without doubling a trailing slash. */
static char *join(const char *dir, const char *name)
{
	size_t n = strlen(dir);
	if (n > 0 && dir[n - 1] == '/')
		return xasprintf("%s%s", dir, name);
	return xasprintf("%s/%s", dir, name);
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

bool store_is_backup_name(const char *name)
{
	const size_t plen = sizeof(STORE_PREFIX) - 1;
	if (name == NULL || strlen(name) != plen + 8 + 1 + 6)
		return false;
	if (strncmp(name, STORE_PREFIX, plen) != 0)
		return false;
	const char *p = name + plen;
	return all_digits(p, 8) && p[8] == '-' && all_digits(p + 9, 6);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int store_list(const char *backup_dir, struct strv *out, char *err, size_t errlen)
{
	int rc = -1;
	DIR *d = opendir(backup_dir);
	if (d == NULL) {
		cm_errf(err, errlen, "store: cannot read backup folder '%s': %s", backup_dir,
		        strerror(errno));
		return -1;
	}
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (de == NULL) {
			if (errno != 0) {
				cm_errf(err, errlen, "store: cannot read backup folder '%s': %s",
				        backup_dir, strerror(errno));
				goto out;
			}
			break;
		}
		if (!store_is_backup_name(de->d_name))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno == ENOENT)
				continue; /* removed while we looked */
			cm_errf(err, errlen, "store: cannot stat '%s/%s': %s", backup_dir, de->d_name,
			        strerror(errno));
			goto out;
		}
		if (S_ISDIR(st.st_mode))
			strv_push(out, de->d_name);
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), cmp_str);
	rc = 0;
out:
	closedir(d);
	return rc;
}

/* Sleep until the wall clock reaches second `t`. */
static void sleep_until(time_t t)
{
	for (;;) {
		struct timespec now;
		if (clock_gettime(CLOCK_REALTIME, &now) != 0 || now.tv_sec >= t)
			return;
		struct timespec left = {0, 0};
		if (t - now.tv_sec > 1)
			left.tv_sec = t - now.tv_sec - 1;
		left.tv_nsec = 1000000000L - now.tv_nsec;
		if (left.tv_nsec >= 1000000000L) {
			left.tv_sec++;
			left.tv_nsec -= 1000000000L;
		}
		(void)nanosleep(&left, NULL);
	}
}

int store_create_current(const char *backup_dir, time_t now, char **path,
                         char *err, size_t errlen)
{
	time_t t = now;
	*path = NULL;
	for (int attempt = 0; attempt < CREATE_TRIES; attempt++) {
		if (attempt > 0) {
			/* The name is taken: wait for the next second so the
			 * new name still tells the time the run started. */
			sleep_until(t + 1);
			time_t cur = time(NULL);
			t = cur > t ? cur : t + 1;
		}
		struct tm tm;
		if (localtime_r(&t, &tm) == NULL) {
			cm_errf(err, errlen, "store: cannot convert time %lld to local time",
			        (long long)t);
			return -1;
		}
		char name[64];
		if (strftime(name, sizeof(name), STORE_PREFIX "%Y%m%d-%H%M%S", &tm) == 0 ||
		    !store_is_backup_name(name)) {
			cm_errf(err, errlen, "store: time %lld gives no valid folder name",
			        (long long)t);
			return -1;
		}
		char *p = join(backup_dir, name);
		if (mkdir(p, 0750) == 0) {
			*path = p;
			return 0;
		}
		int e = errno;
		if (e != EEXIST) {
			cm_errf(err, errlen, "store: cannot create backup folder '%s': %s", p,
			        strerror(e));
			free(p);
			return -1;
		}
		free(p);
	}
	cm_errf(err, errlen, "store: cannot create a backup folder in '%s': the names for %d "
	        "seconds in a row already exist", backup_dir, CREATE_TRIES);
	return -1;
}

/* The local time a backup folder's name spells, as epoch seconds. */
static int64_t name_time(const char *name)
{
	const char *p = name + sizeof(STORE_PREFIX) - 1;
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	int d = 0, t = 0;
	for (int i = 0; i < 8; i++)
		d = d * 10 + (p[i] - '0');
	for (int i = 9; i < 15; i++)
		t = t * 10 + (p[i] - '0');
	tm.tm_year = d / 10000 - 1900;
	tm.tm_mon = d / 100 % 100 - 1;
	tm.tm_mday = d % 100;
	tm.tm_hour = t / 10000;
	tm.tm_min = t / 100 % 100;
	tm.tm_sec = t % 100;
	tm.tm_isdst = -1;
	time_t e = mktime(&tm);
	return e == (time_t)-1 ? 0 : (int64_t)e;
}

/* Oldest first: folders dated in the future before all others (a stray
 * folder or a clock that ran ahead must not stay "newest" for ever), then
 * by the recorded start, then by name. */
static int cmp_folder(const void *a, const void *b)
{
	const struct store_folder *x = a, *y = b;
	if (x->future != y->future)
		return x->future ? -1 : 1;
	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return strcmp(x->name, y->name);
}

int store_scan(const char *backup_dir, time_t now, struct store_folders *out, char *err,
               size_t errlen)
{
	struct strv names = {0};
	out->v = NULL;
	out->n = 0;
	if (store_list(backup_dir, &names, err, errlen) != 0)
		return -1;
	out->v = xcalloc(names.n + 1, sizeof(*out->v));
	for (size_t i = 0; i < names.n; i++) {
		struct store_folder *f = &out->v[out->n++];
		char *dir = join(backup_dir, names.v[i]);
		struct store_info info;
		char ierr[512];
		int rc = store_read_info(dir, &info, ierr, sizeof(ierr));
		free(dir);
		f->name = xstrdup(names.v[i]);
		/* info.json is written last, atomically: a folder without one
		 * belongs to a run that did not finish.  One that cannot be read
		 * still marks a finished run (the space check warns about it). */
		f->complete = rc != 1;
		f->recorded = rc == 0 && info.started > 0;
		f->time = f->recorded ? info.started : name_time(f->name);
		f->future = f->time > (int64_t)now + (f->recorded ? STORE_FUTURE_SLACK
		                                                  : STORE_FUTURE_SLACK_NAME);
	}
	strv_free(&names);
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), cmp_folder);
	return 0;
}

void store_folders_free(struct store_folders *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->v[i].name);
	free(f->v);
	f->v = NULL;
	f->n = 0;
}

char *store_previous(const char *backup_dir, const char *exclude, time_t now)
{
	struct store_folders all;
	char *res = NULL;
	if (store_scan(backup_dir, now, &all, NULL, 0) != 0)
		return NULL;
	for (size_t i = all.n; i > 0; i--) {
		const struct store_folder *f = &all.v[i - 1];
		if (exclude != NULL && strcmp(f->name, exclude) == 0)
			continue;
		/* Its dumps' change references were taken at a time that has
		 * not come yet: comparing against them would miss changes. */
		if (!f->complete || f->future || (f->recorded && f->time > (int64_t)now))
			continue;
		res = join(backup_dir, f->name);
		break;
	}
	store_folders_free(&all);
	return res;
}

/* One level of a tree walk, so that an error can name the full path
 * without building paths for every entry. */
struct frame {
	const struct frame *up;
	const char *name;
};

static void frame_path(const struct frame *f, char **buf, size_t *len, size_t *cap)
{
	if (f->up != NULL) {
		frame_path(f->up, buf, len, cap);
		buf_append(buf, len, cap, "/", 1);
	}
	buf_append(buf, len, cap, f->name, strlen(f->name));
}

/* Fill err with "store: cannot WHAT 'PATH': ERRNO-TEXT" for frame f. */
static void frame_err(const struct frame *f, const char *what, int e, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	frame_path(f, &buf, &len, &cap);
	cm_errf(err, errlen, "store: cannot %s '%s': %s", what, buf, strerror(e));
	free(buf);
}

/* The names in the open directory fd (without "." and ".."); fd stays open
 * and usable.  Returns 0, or -1 with errno set. */
static int read_names(int fd, struct strv *out)
{
	int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dfd < 0)
		return -1;
	DIR *d = fdopendir(dfd);
	if (d == NULL) {
		int e = errno;
		close(dfd);
		errno = e;
		return -1;
	}
	int rc = 0;
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (de == NULL) {
			if (errno != 0)
				rc = -1;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		strv_push(out, de->d_name);
	}
	int e = errno;
	closedir(d);
	errno = e;
	return rc;
}

/* Remove `name` in dirfd and, if it is a directory, everything below it,
 * never following a symbolic link.  Returns 0, or -1 with err set. */
static int remove_at(int dirfd, const char *name, const struct frame *up,
                     char *err, size_t errlen)
{
	struct frame self = {up, name};
	struct strv names = {0};
	int fd = -1;
	int rc = -1;
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT && up != NULL)
			return 0; /* gone already */
		frame_err(&self, "remove", errno, err, errlen);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dirfd, name, 0) != 0 && !(errno == ENOENT && up != NULL)) {
			frame_err(&self, "remove", errno, err, errlen);
			return -1;
		}
		return 0;
	}
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		frame_err(&self, "open folder", errno, err, errlen);
		goto out;
	}
	if (read_names(fd, &names) != 0) {
		frame_err(&self, "read folder", errno, err, errlen);
		goto out;
	}
	for (size_t i = 0; i < names.n; i++)
		if (remove_at(fd, names.v[i], &self, err, errlen) != 0)
			goto out;
	if (unlinkat(dirfd, name, AT_REMOVEDIR) != 0) {
		frame_err(&self, "remove folder", errno, err, errlen);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	strv_free(&names);
	return rc;
}

int store_remove_tree(const char *path, char *err, size_t errlen)
{
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	char *p = xstrndup(path, n);
	const char *base = strrchr(p, '/');
	base = base != NULL ? base + 1 : p;
	int rc = -1;
	if (base[0] == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
		cm_errf(err, errlen, "store: refusing to remove '%s'", path);
		goto out;
	}
	rc = remove_at(AT_FDCWD, p, NULL, err, errlen);
out:
	free(p);
	return rc;
}

/* The folder a symbolic link at dirfd/name points into, compared by
 * device and inode with `st`.  Returns 1 and the target's path (malloc'ed,
 * relative targets made relative to `dir`) when it does, else 0. */
static int link_into(int dirfd, const char *dir, const char *name, const struct stat *st,
                     char **target)
{
	char buf[PATH_MAX];
	ssize_t n = readlinkat(dirfd, name, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *t = buf[0] == '/' ? xstrdup(buf) : join(dir, buf);
	char *slash = strrchr(t, '/');
	int hit = 0;
	if (slash != NULL && slash[1] != '\0') {
		*slash = '\0';
		struct stat ps;
		hit = stat(t[0] != '\0' ? t : "/", &ps) == 0 && ps.st_dev == st->st_dev &&
		      ps.st_ino == st->st_ino;
		*slash = '/';
	}
	if (hit)
		*target = t;
	else
		free(t);
	return hit;
}

/* Before `doomed` goes: a kept folder's symbolic link into it (left by a
 * reuse with link_type = symbolic, which moved the dump into the newer
 * folder) gets the file it points at moved back in its place, so no kept
 * backup loses a dump.  Returns 0, or -1 with err set (nothing removed
 * then). */
static int rescue_links(const char *backup_dir, const char *doomed,
                        const struct store_folders *all, const bool *removing, char *err,
                        size_t errlen)
{
	char *dpath = join(backup_dir, doomed);
	struct stat dst;
	int rc = 0;
	if (stat(dpath, &dst) != 0) {
		free(dpath);
		return 0;
	}
	for (size_t i = 0; i < all->n && rc == 0; i++) {
		if (removing[i] || strcmp(all->v[i].name, doomed) == 0)
			continue;
		char *kpath = join(backup_dir, all->v[i].name);
		int fd = open(kpath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		struct strv names = {0};
		if (fd >= 0 && read_names(fd, &names) == 0) {
			for (size_t k = 0; k < names.n && rc == 0; k++) {
				struct stat st;
				char *target = NULL;
				if (fstatat(fd, names.v[k], &st, AT_SYMLINK_NOFOLLOW) != 0 ||
				    !S_ISLNK(st.st_mode) ||
				    !link_into(fd, kpath, names.v[k], &dst, &target))
					continue;
				char *lpath = join(kpath, names.v[k]);
				if (rename(target, lpath) != 0 && errno != ENOENT) {
					cm_errf(err, errlen, "store: cannot move %s back to %s before "
					        "removing %s: %s", target, lpath, dpath, strerror(errno));
					rc = -1;
				}
				free(lpath);
				free(target);
			}
			if (rc == 0 && names.n > 0 && fsync(fd) != 0) {
				cm_errf(err, errlen, "store: cannot sync folder '%s': %s", kpath,
				        strerror(errno));
				rc = -1;
			}
		}
		if (fd >= 0)
			close(fd);
		strv_free(&names);
		free(kpath);
	}
	free(dpath);
	return rc;
}

int store_remove_backup(const char *backup_dir, const char *name, char *err, size_t errlen)
{
	char *p = join(backup_dir, name);
	char *info = join(p, INFO_FILE);
	int rc = -1;
	/* info.json first: a removal cut short leaves an incomplete folder,
	 * which the next run finishes off, never a "complete" one with dumps
	 * missing. */
	if (unlink(info) == 0) {
		if (fsync_dir(p) != 0) {
			cm_errf(err, errlen, "store: cannot sync folder '%s': %s", p, strerror(errno));
			goto out;
		}
	} else if (errno != ENOENT) {
		cm_errf(err, errlen, "store: cannot remove '%s': %s", info, strerror(errno));
		goto out;
	}
	rc = store_remove_tree(p, err, errlen);
out:
	free(info);
	free(p);
	return rc;
}

static int relink_top(const char *backup_dir, const struct store_folders *all, const bool *gone,
                      struct strv *notes, char *err, size_t errlen);

/* Which folders store_prune(keep, current) removes: *all as store_scan
 * gives it, (*removing)[i] for each (malloc'ed).  Returns 0, or -1 with
 * err set. */
static int plan_prune(const char *backup_dir, long keep, const char *current, time_t now,
                      struct store_folders *all, bool **removing, char *err, size_t errlen)
{
	if (keep < 0) {
		cm_errf(err, errlen, "store: cannot keep %ld backup folders", keep);
		return -1;
	}
	if (store_scan(backup_dir, now, all, err, errlen) != 0)
		return -1;
	bool *rm = xcalloc(all->n + 1, sizeof(*rm));
	size_t complete = 0, newest = SIZE_MAX;
	for (size_t i = 0; i < all->n; i++) {
		if (!all->v[i].complete)
			continue;
		newest = i;
		if (current == NULL || strcmp(all->v[i].name, current) != 0)
			complete++;
	}
	size_t excess = complete > (size_t)keep ? complete - (size_t)keep : 0;
	for (size_t i = 0; i < all->n; i++) {
		const struct store_folder *f = &all->v[i];
		if (current != NULL && strcmp(f->name, current) == 0)
			continue;
		if (f->complete && excess > 0) {
			rm[i] = true;
			excess--;
		} else if (!f->complete && newest != SIZE_MAX && i < newest) {
			rm[i] = true; /* a newer complete backup supersedes it */
		}
	}
	*removing = rm;
	return 0;
}

int store_prune(const char *backup_dir, long keep, const char *current, time_t now,
                struct strv *removed, char *err, size_t errlen)
{
	struct store_folders all = {0};
	bool *removing = NULL;
	int rc = -1;
	if (plan_prune(backup_dir, keep, current, now, &all, &removing, err, errlen) != 0)
		goto out;
	/* last, last.log and last.result.json never point into a folder being
	 * removed, not even if this process dies half-way. */
	for (size_t i = 0; i < all.n; i++)
		if (removing[i]) {
			if (relink_top(backup_dir, &all, removing, NULL, err, errlen) != 0)
				goto out;
			break;
		}
	for (size_t i = 0; i < all.n; i++) {
		if (!removing[i])
			continue;
		if (rescue_links(backup_dir, all.v[i].name, &all, removing, err, errlen) != 0 ||
		    store_remove_backup(backup_dir, all.v[i].name, err, errlen) != 0)
			goto out;
		strv_push(removed, all.v[i].name);
	}
	rc = 0;
out:
	free(removing);
	store_folders_free(&all);
	return rc;
}

/* Whether `name` in a backup folder is a temporary file of oma's: a dump,
 * sidecar or result.json being written ("*.part"), info.json's
 * ".info.json.tmp-PID", or a reused dump's symbolic link being made
 * (".NAME.link-PID", reuse.c). */
static bool temp_in_folder(const char *name)
{
	size_t n = strlen(name);
	return (n > 5 && strcmp(name + n - 5, ".part") == 0) ||
	       strncmp(name, "." INFO_FILE ".tmp-", sizeof(INFO_FILE) + 5) == 0 ||
	       (name[0] == '.' && strstr(name, ".link-") != NULL);
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
	if (fd < 0 || read_names(fd, &names) != 0) {
		cm_errf(err, errlen, "store: cannot read folder '%s': %s", dir, strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < names.n; i++) {
		struct stat st;
		if (!is_temp(names.v[i]) || fstatat(fd, names.v[i], &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    S_ISDIR(st.st_mode))
			continue;
		char *p = join(dir, names.v[i]);
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

int store_clean_temp(const char *backup_dir, const char *current, struct strv *removed,
                     char *err, size_t errlen)
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
		char *p = join(backup_dir, dirs.v[i]);
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

/* Whether backup_dir/name (following links) is a complete backup folder. */
static bool complete_at(const char *backup_dir, const char *name)
{
	char *p = join(backup_dir, name);
	char *info = join(p, INFO_FILE);
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
		char *abs = join(backup_dir, all->v[i].name);
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

/* store_fix_links, treating the folders `gone` marks (NULL: none) as
 * already removed; without `notes`, quietly. */
static int relink_top(const char *backup_dir, const struct store_folders *all, const bool *gone,
                      struct strv *notes, char *err, size_t errlen)
{
	static const struct {
		const char *link, *file; /* file in the folder `last` names; NULL: the folder */
	} links[] = {{"last", NULL}, {"last.log", "oma.log"}, {"last.result.json", "result.json"}};
	char *newest = NULL;
	for (size_t i = all->n; i > 0 && newest == NULL; i--)
		if (all->v[i - 1].complete && (gone == NULL || !gone[i - 1]))
			newest = join(backup_dir, all->v[i - 1].name);
	int rc = 0;
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]) && rc == 0; i++) {
		char *path = join(backup_dir, links[i].link);
		struct stat st;
		bool fine = lstat(path, &st) != 0 || !S_ISLNK(st.st_mode) ||
		            ((links[i].file == NULL ? complete_at(backup_dir, links[i].link)
		                                    : stat(path, &st) == 0) &&
		             (gone == NULL || !points_into(backup_dir, path, all, gone)));
		char *target = NULL;
		if (!fine && newest != NULL)
			target = links[i].file == NULL ? xstrdup(newest) : join(newest, links[i].file);
		if (target != NULL && lstat(target, &st) != 0) {
			free(target);
			target = NULL;
		}
		char *note = NULL;
		if (!fine && target != NULL) {
			rc = store_set_link(backup_dir, links[i].link, target, err, errlen);
			if (rc == 0)
				note = xasprintf("%s pointed at a missing or incomplete backup; it now "
				                 "points at %s", path, target);
		} else if (!fine) {
			if (unlink(path) != 0 && errno != ENOENT) {
				cm_errf(err, errlen, "store: cannot remove '%s': %s", path, strerror(errno));
				rc = -1;
			} else {
				note = xasprintf("%s pointed at a missing or incomplete backup and there "
				                 "is no complete one: removed", path);
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
	int rc = relink_top(backup_dir, &all, NULL, notes, err, errlen);
	store_folders_free(&all);
	return rc;
}

/* Set of (device, inode) pairs of multiply linked files already counted. */
struct inode_set {
	struct inode_key {
		dev_t dev;
		ino_t ino;
		bool used;
	} *slot;
	size_t cap, n;
};

static size_t inode_hash(dev_t dev, ino_t ino, size_t cap)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ULL ^ (uint64_t)dev;
	return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

/* Add (dev, ino); returns true when it was already in the set. */
static bool inode_seen(struct inode_set *s, dev_t dev, ino_t ino)
{
	if (2 * (s->n + 1) > s->cap) {
		struct inode_set big = {xcalloc(s->cap ? 2 * s->cap : 64, sizeof(*s->slot)),
		                        s->cap ? 2 * s->cap : 64, 0};
		for (size_t i = 0; i < s->cap; i++)
			if (s->slot[i].used)
				(void)inode_seen(&big, s->slot[i].dev, s->slot[i].ino);
		free(s->slot);
		*s = big;
	}
	size_t i = inode_hash(dev, ino, s->cap);
	while (s->slot[i].used) {
		if (s->slot[i].dev == dev && s->slot[i].ino == ino)
			return true;
		i = (i + 1) & (s->cap - 1);
	}
	s->slot[i] = (struct inode_key){dev, ino, true};
	s->n++;
	return false;
}

/* Add the allocated size of `name` in dirfd and all below it to *bytes.
 * The top (up == NULL) is followed if it is a symbolic link, nothing below
 * it is.  Entries that vanish during the walk are skipped.  Returns 0, or
 * -1 with err set. */
static int du_at(int dirfd, const char *name, const struct frame *up, struct inode_set *seen,
                 uint64_t *bytes, char *err, size_t errlen)
{
	struct frame self = {up, name};
	struct strv names = {0};
	struct stat st;
	int fd = -1;
	int rc = -1;

	if (fstatat(dirfd, name, &st, up == NULL ? 0 : AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT && up != NULL)
			return 0;
		frame_err(&self, "stat", errno, err, errlen);
		return -1;
	}
	if (!S_ISDIR(st.st_mode) && st.st_nlink > 1 && inode_seen(seen, st.st_dev, st.st_ino))
		return 0;
	*bytes += (uint64_t)st.st_blocks * 512;
	if (!S_ISDIR(st.st_mode))
		return 0;

	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (up == NULL ? 0 : O_NOFOLLOW));
	if (fd < 0) {
		if (errno == ENOENT && up != NULL)
			return 0;
		frame_err(&self, "open folder", errno, err, errlen);
		goto out;
	}
	if (read_names(fd, &names) != 0) {
		frame_err(&self, "read folder", errno, err, errlen);
		goto out;
	}
	for (size_t i = 0; i < names.n; i++)
		if (du_at(fd, names.v[i], &self, seen, bytes, err, errlen) != 0)
			goto out;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	strv_free(&names);
	return rc;
}

int store_dir_bytes(const char *path, uint64_t *bytes, char *err, size_t errlen)
{
	struct inode_set seen = {0};
	uint64_t total = 0;
	int rc = du_at(AT_FDCWD, path, NULL, &seen, &total, err, errlen);
	free(seen.slot);
	if (rc == 0)
		*bytes = total;
	return rc;
}

int store_prunable_bytes(const char *backup_dir, long keep, const char *current, time_t now,
                         uint64_t *bytes, char *err, size_t errlen)
{
	struct store_folders all = {0};
	bool *removing = NULL;
	struct inode_set seen = {0};
	uint64_t total = 0;
	int rc = plan_prune(backup_dir, keep, current, now, &all, &removing, err, errlen);
	for (size_t i = 0; rc == 0 && i < all.n; i++) {
		if (!removing[i])
			continue;
		char *p = join(backup_dir, all.v[i].name);
		rc = du_at(AT_FDCWD, p, NULL, &seen, &total, err, errlen);
		free(p);
	}
	free(seen.slot);
	free(removing);
	store_folders_free(&all);
	if (rc == 0)
		*bytes = total;
	return rc;
}

int store_free_bytes(const char *path, uint64_t *bytes, char *err, size_t errlen)
{
	struct statvfs sv;
	if (statvfs(path, &sv) != 0) {
		cm_errf(err, errlen, "store: cannot read free space of '%s': %s", path,
		        strerror(errno));
		return -1;
	}
	*bytes = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
	return 0;
}

/* Format x as Python's repr() does: the shortest digits that read back as
 * x, fixed notation for exponents -4..15, otherwise "de+XX" style. */
static void py_float(double x, char *out, size_t outlen)
{
	if (!isfinite(x)) {
		/* Python writes NaN/Infinity, which is not JSON; write 0.0. */
		x = 0.0;
	}
	if (x == 0.0) {
		(void)snprintf(out, outlen, "%s", signbit(x) ? "-0.0" : "0.0");
		return;
	}
	char buf[64];
	for (int prec = 1; prec <= 17; prec++) {
		(void)snprintf(buf, sizeof(buf), "%.*e", prec - 1, x);
		if (strtod(buf, NULL) == x)
			break;
	}
	/* buf is "[-]d[.ddd]e[+-]XX": split into digits and exponent. */
	char digits[32];
	size_t nd = 0;
	const char *p = buf;
	bool neg = *p == '-';
	if (neg)
		p++;
	for (; *p != 'e'; p++)
		if (*p != '.' && nd < sizeof(digits) - 1)
			digits[nd++] = *p;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	long exp = strtol(p + 1, NULL, 10);

	char *o = out;
	size_t left = outlen;
#define PUT(...)                                                       \
	do {                                                           \
		int w_ = snprintf(o, left, __VA_ARGS__);               \
		if (w_ < 0 || (size_t)w_ >= left)                      \
			return;                                        \
		o += w_;                                               \
		left -= (size_t)w_;                                    \
	} while (0)
	if (neg)
		PUT("-");
	if (exp >= 16 || exp < -4) {
		PUT("%c", digits[0]);
		if (nd > 1)
			PUT(".%s", digits + 1);
		PUT("e%c%02ld", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
	} else if (exp >= 0) {
		size_t ip = (size_t)exp + 1; /* digits before the point */
		if (nd <= ip) {
			PUT("%s", digits);
			for (size_t i = nd; i < ip; i++)
				PUT("0");
			PUT(".0");
		} else {
			PUT("%.*s.%s", (int)ip, digits, digits + ip);
		}
	} else {
		PUT("0.");
		for (long i = -1; i > exp; i--)
			PUT("0");
		PUT("%s", digits);
	}
#undef PUT
}

int store_write_info(const char *dir, const struct store_info *info, char *err, size_t errlen)
{
	char ratio[64];
	py_float(info->compression_ratio, ratio, sizeof(ratio));
	char times[160] = "";
	if (info->started > 0 || info->completed > 0)
		(void)snprintf(times, sizeof(times),
		               ",\n    \"started\": %" PRId64 ",\n    \"completed\": %" PRId64
		               ",\n    \"failed_databases\": %" PRIu64,
		               info->started, info->completed, info->failed_databases);
	char *text = xasprintf("{\n    \"mysql_data_dir_bytes_used\": %" PRIu64 ",\n"
	                       "    \"backup_bytes_used\": %" PRIu64 ",\n"
	                       "    \"compression_ratio\": %s%s\n}",
	                       info->mysql_data_dir_bytes_used, info->backup_bytes_used, ratio,
	                       times);
	char *tmpname = xasprintf(".%s.tmp-%ld", INFO_FILE, (long)getpid());
	char *tmp = join(dir, tmpname);
	char *final = join(dir, INFO_FILE);
	int rc = -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0666);
	if (fd < 0) {
		cm_errf(err, errlen, "store: cannot create '%s': %s", tmp, strerror(errno));
		goto out;
	}
	if (cm_write_all(fd, text, strlen(text)) != 0 || fsync(fd) != 0) {
		cm_errf(err, errlen, "store: cannot write '%s': %s", tmp, strerror(errno));
		goto out;
	}
	int fdc = fd;
	fd = -1;
	if (close(fdc) != 0) {
		cm_errf(err, errlen, "store: cannot write '%s': %s", tmp, strerror(errno));
		goto out;
	}
	if (rename(tmp, final) != 0) {
		cm_errf(err, errlen, "store: cannot rename '%s' to '%s': %s", tmp, final,
		        strerror(errno));
		goto out;
	}
	if (fsync_dir(dir) != 0) {
		cm_errf(err, errlen, "store: cannot sync folder '%s': %s", dir, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc != 0)
		(void)unlink(tmp);
	free(text);
	free(tmpname);
	free(tmp);
	free(final);
	return rc;
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/* Parse a JSON string at p into out (cut to outlen-1 bytes; escapes are
 * taken literally, enough to compare keys).  Returns the position after the
 * closing quote, or NULL. */
static const char *parse_string(const char *p, char *out, size_t outlen)
{
	size_t n = 0;
	if (*p != '"')
		return NULL;
	for (p++; *p != '"'; p++) {
		if (*p == '\0' || (unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\') {
			p++;
			if (*p == '\0')
				return NULL;
		}
		if (n + 1 < outlen)
			out[n++] = *p;
	}
	if (outlen > 0)
		out[n] = '\0';
	return p + 1;
}

/* Check the JSON number at p; returns its end or NULL.  *integral tells
 * whether it has neither fraction nor exponent. */
static const char *scan_number(const char *p, bool *integral)
{
	*integral = true;
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return NULL;
	if (*p == '.') {
		*integral = false;
		p++;
		if (*p < '0' || *p > '9')
			return NULL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		*integral = false;
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (*p < '0' || *p > '9')
			return NULL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return p;
}

/* Skip any JSON value at p (for keys oma does not know); returns its end or NULL. */
static const char *skip_value(const char *p, int depth)
{
	bool integral;
	if (depth > 64)
		return NULL;
	p = skip_ws(p);
	if (*p == '"')
		return parse_string(p, NULL, 0);
	if (strncmp(p, "true", 4) == 0 || strncmp(p, "null", 4) == 0)
		return p + 4;
	if (strncmp(p, "false", 5) == 0)
		return p + 5;
	if (*p == '[' || *p == '{') {
		char close = *p == '[' ? ']' : '}';
		p = skip_ws(p + 1);
		if (*p == close)
			return p + 1;
		for (;;) {
			if (close == '}') {
				p = parse_string(skip_ws(p), NULL, 0);
				if (p == NULL)
					return NULL;
				p = skip_ws(p);
				if (*p++ != ':')
					return NULL;
			}
			p = skip_value(p, depth + 1);
			if (p == NULL)
				return NULL;
			p = skip_ws(p);
			if (*p == close)
				return p + 1;
			if (*p++ != ',')
				return NULL;
		}
	}
	return scan_number(p, &integral);
}

/* Parse a non-negative number token [p, end) as a byte count. */
static int to_count(const char *p, const char *end, bool integral, uint64_t *out)
{
	char tok[64];
	size_t n = (size_t)(end - p);
	if (n >= sizeof(tok) || *p == '-')
		return -1;
	memcpy(tok, p, n);
	tok[n] = '\0';
	errno = 0;
	if (integral) {
		unsigned long long v = strtoull(tok, NULL, 10);
		if (errno != 0)
			return -1;
		*out = v;
		return 0;
	}
	double d = strtod(tok, NULL);
	if (!isfinite(d) || d < 0 || d >= 18446744073709551616.0)
		return -1;
	*out = (uint64_t)d;
	return 0;
}

/* Parse the flat object in text into *info.  Returns 0, or -1 with err set. */
static int parse_info(const char *text, const char *path, struct store_info *info,
                      char *err, size_t errlen)
{
	enum { K_DATA = 1, K_BACKUP = 2, K_RATIO = 4, K_STARTED = 8, K_COMPLETED = 16, K_FAILED = 32 };
	unsigned have = 0;
	struct store_info res = {0, 0, 0.0, 0, 0, 0};
	const char *p = skip_ws(text);
	const char *why = "expected '{'";
	if (*p++ != '{')
		goto bad;
	p = skip_ws(p);
	if (*p == '}') {
		p++;
		goto end;
	}
	for (;;) {
		char key[64];
		why = "expected a key";
		p = parse_string(skip_ws(p), key, sizeof(key));
		if (p == NULL)
			goto bad;
		p = skip_ws(p);
		why = "expected ':'";
		if (*p++ != ':')
			goto bad;
		p = skip_ws(p);
		unsigned k = strcmp(key, "mysql_data_dir_bytes_used") == 0 ? K_DATA
		             : strcmp(key, "backup_bytes_used") == 0       ? K_BACKUP
		             : strcmp(key, "compression_ratio") == 0       ? K_RATIO
		             : strcmp(key, "started") == 0                 ? K_STARTED
		             : strcmp(key, "completed") == 0               ? K_COMPLETED
		             : strcmp(key, "failed_databases") == 0        ? K_FAILED
		                                                           : 0;
		if (k == 0) {
			why = "bad value";
			p = skip_value(p, 0);
			if (p == NULL)
				goto bad;
		} else {
			bool integral;
			const char *end = scan_number(p, &integral);
			if (end == NULL) {
				cm_errf(err, errlen, "store: %s: \"%s\" is not a number", path, key);
				return -1;
			}
			if (k == K_RATIO) {
				char tok[64];
				size_t n = (size_t)(end - p);
				double d = NAN;
				if (n < sizeof(tok)) {
					memcpy(tok, p, n);
					tok[n] = '\0';
					d = strtod(tok, NULL);
				}
				if (!isfinite(d) || d < 0) {
					cm_errf(err, errlen, "store: %s: \"%s\" is not a ratio >= 0",
					        path, key);
					return -1;
				}
				res.compression_ratio = d;
			} else if (k == K_STARTED || k == K_COMPLETED) {
				uint64_t t = 0;
				if (!integral || to_count(p, end, integral, &t) != 0 || t > INT64_MAX) {
					cm_errf(err, errlen, "store: %s: \"%s\" is not a time (epoch seconds)",
					        path, key);
					return -1;
				}
				*(k == K_STARTED ? &res.started : &res.completed) = (int64_t)t;
			} else if (k == K_FAILED) {
				if (to_count(p, end, integral, &res.failed_databases) != 0) {
					cm_errf(err, errlen, "store: %s: \"%s\" is not a count", path, key);
					return -1;
				}
			} else {
				uint64_t *dst = k == K_DATA ? &res.mysql_data_dir_bytes_used
				                            : &res.backup_bytes_used;
				if (to_count(p, end, integral, dst) != 0) {
					cm_errf(err, errlen, "store: %s: \"%s\" is not a byte count",
					        path, key);
					return -1;
				}
			}
			have |= k;
			p = end;
		}
		p = skip_ws(p);
		if (*p == '}') {
			p++;
			break;
		}
		why = "expected ',' or '}'";
		if (*p++ != ',')
			goto bad;
	}
end:
	p = skip_ws(p);
	why = "text after the object";
	if (*p != '\0')
		goto bad;
	if ((have & (K_DATA | K_BACKUP | K_RATIO)) != (K_DATA | K_BACKUP | K_RATIO)) {
		cm_errf(err, errlen, "store: %s: missing \"%s\"", path,
		        !(have & K_DATA) ? "mysql_data_dir_bytes_used"
		        : !(have & K_BACKUP) ? "backup_bytes_used"
		                          : "compression_ratio");
		return -1;
	}
	*info = res;
	return 0;
bad:
	cm_errf(err, errlen, "store: %s: not valid JSON (%s)", path, why);
	return -1;
}

int store_parse_info(const char *text, size_t len, const char *name, struct store_info *info,
                     char *err, size_t errlen)
{
	if (memchr(text, '\0', len) != NULL) {
		cm_errf(err, errlen, "store: %s: not valid JSON (NUL byte)", name);
		return -1;
	}
	char *copy = xstrndup(text, len);
	int rc = parse_info(copy, name, info, err, errlen);
	free(copy);
	return rc;
}

int store_read_info(const char *dir, struct store_info *info, char *err, size_t errlen)
{
	char *path = join(dir, INFO_FILE);
	char *text = NULL;
	int rc = -1;
	int fd = open_regular(AT_FDCWD, path, 0);
	if (fd == -2) {
		cm_errf(err, errlen, "store: '%s' is not a regular file", path);
		goto out;
	}
	if (fd < 0) {
		if (errno == ENOENT) {
			rc = 1;
			goto out;
		}
		cm_errf(err, errlen, "store: cannot open '%s': %s", path, strerror(errno));
		goto out;
	}
	text = xmalloc(INFO_MAX_BYTES + 1);
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, text + len, INFO_MAX_BYTES + 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			cm_errf(err, errlen, "store: cannot read '%s': %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > INFO_MAX_BYTES) {
			cm_errf(err, errlen, "store: %s: file too large", path);
			goto out;
		}
	}
	text[len] = '\0';
	rc = store_parse_info(text, len, path, info, err, errlen);
out:
	if (fd >= 0)
		close(fd);
	free(text);
	free(path);
	return rc;
}

int store_set_link(const char *backup_dir, const char *name, const char *target,
                   char *err, size_t errlen)
{
	if (name[0] == '\0' || strchr(name, '/') != NULL || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0) {
		cm_errf(err, errlen, "store: invalid link name '%s'", name);
		return -1;
	}
	char *dst = join(backup_dir, name);
	char *tmpname = xasprintf(".%s.tmp-%ld", name, (long)getpid());
	char *tmp = join(backup_dir, tmpname);
	bool made = false;
	int rc = -1;
	struct stat st;

	if (lstat(dst, &st) == 0 && S_ISDIR(st.st_mode)) {
		cm_errf(err, errlen, "store: cannot replace folder '%s' with a link", dst);
		goto out;
	}
	/* A relative target is relative to the link's folder. */
	char *resolved = target[0] == '/' ? xstrdup(target) : join(backup_dir, target);
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
