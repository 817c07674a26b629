/* store.c - backup folders: their names, listing and scanning them, creating the current one, finding the previous one. */
#include "store.h"
#include "common/errbuf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_internal.h"

#define CREATE_TRIES 5

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
			cm_errf(err, errlen, "store: cannot stat '%s/%s': %s", backup_dir,
			        de->d_name, strerror(errno));
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

int store_create_current(const char *backup_dir, time_t now, char **path, char *err, size_t errlen)
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
		char *p = store_join(backup_dir, name);
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
	cm_errf(err, errlen,
	        "store: cannot create a backup folder in '%s': the names for %d "
	        "seconds in a row already exist",
	        backup_dir, CREATE_TRIES);
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
		char *dir = store_join(backup_dir, names.v[i]);
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
		res = store_join(backup_dir, f->name);
		break;
	}
	store_folders_free(&all);
	return res;
}
