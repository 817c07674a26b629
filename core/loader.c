/* loader.c - finds, validates and loads plugins (.so) from a directory. */
#include "loader.h"
#include "loader_internal.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errbuf.h"
#include "elfcheck.h"
#include "log.h"
#include "ownercheck.h"
#include "proc.h"
#include "util.h"

#define NAME_MAX_LEN 64

/* Where `make install` puts the plugins (the Makefile passes its PREFIX and
 * PLUGINDIR): OMA_PLUGIN_SUBDIR is PLUGINDIR below PREFIX, e.g.
 * "lib/oma/plugins" or "lib/x86_64-linux-gnu/oma/plugins", found below the
 * PREFIX of the running executable; an absolute path when PLUGINDIR lies
 * outside PREFIX. */
#ifndef OMA_PREFIX
#define OMA_PREFIX "/usr/local"
#endif
#ifndef OMA_PLUGIN_SUBDIR
#define OMA_PLUGIN_SUBDIR "lib/oma/plugins"
#endif

static const char *(*config_getter)(const char *section, const char *key);

static void host_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void host_log(int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

static const char *host_config_get(const char *section, const char *key)
{
	if (config_getter == NULL)
		return NULL;
	return config_getter(section, key);
}

/* host->stopping: once oma was told to stop, every child is stopped too. */
static int host_stopping(void)
{
	return proc_cancelled() ? 1 : 0;
}

static const struct oma_host host_table = {
        .abi = OMA_PLUGIN_ABI,
        .size = sizeof(struct oma_host),
        .log = host_log,
        .config_get = host_config_get,
        .run = proc_host_run,
        .stopping = host_stopping,
};

const struct oma_host *loader_host(void)
{
	return &host_table;
}

void loader_set_config_getter(const char *(*get)(const char *section, const char *key))
{
	config_getter = get;
}

static int is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The absolute path of the running executable, or NULL when /proc is
 * unavailable. */
static char *exe_path(void)
{
	size_t cap = 256;
	for (;;) {
		char *buf = xmalloc(cap);
		ssize_t n = readlink("/proc/self/exe", buf, cap);
		if (n < 0) {
			free(buf);
			return NULL;
		}
		if ((size_t)n < cap) {
			buf[n] = '\0';
			return buf;
		}
		free(buf);
		cap *= 2;
	}
}

/* Cut `path` at its last '/', leaving its directory ("" for "/x"). */
static void cut_last_component(char *path)
{
	char *slash = strrchr(path, '/');
	if (slash != NULL)
		*slash = '\0';
	else
		path[0] = '\0';
}

char *loader_default_dir(const char *configured)
{
	if (configured != NULL)
		return xstrdup(configured);
	const char *env = getenv("OMA_PLUGIN_DIR");
	if (env != NULL && env[0] != '\0')
		return xstrdup(env);

	char *exe = exe_path();
	if (exe != NULL) {
		cut_last_component(exe); /* .../bin */
		char *own = xasprintf("%s/plugins", exe);
		if (is_dir(own)) {
			free(exe);
			return own;
		}
		free(own);
		cut_last_component(exe); /* PREFIX */
	}
	const char *prefix = exe != NULL ? exe : OMA_PREFIX;
	char *dir = OMA_PLUGIN_SUBDIR[0] == '/' ? xstrdup(OMA_PLUGIN_SUBDIR)
	                                        : xasprintf("%s/%s", prefix, OMA_PLUGIN_SUBDIR);
	free(exe);
	return dir;
}

static const char *type_name(uint32_t type)
{
	switch (type) {
	case OMA_PLUGIN_COMPRESS:
		return "compress";
	case OMA_PLUGIN_REPORT:
		return "report";
	case OMA_PLUGIN_CONDITION:
		return "condition";
	case OMA_PLUGIN_STORE:
		return "store";
	case OMA_PLUGIN_ENCRYPT:
		return "encrypt";
	default:
		return "unknown";
	}
}

static int valid_name(const char *name)
{
	size_t n = 0;
	for (; name[n] != '\0'; n++) {
		char c = name[n];
		int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
		if (!ok || n >= NAME_MAX_LEN)
			return 0;
	}
	return n > 0;
}

/* Check the function table of `d` for its type; fills err (prefixed with
 * "plugin FILE: ") and returns -1 when something mandatory is missing. */
static int check_ops(const struct oma_plugin *d, const char *file, char *err, size_t errlen)
{
	const char *what = type_name(d->type);
	const char *missing = NULL;

	switch (d->type) {
	case OMA_PLUGIN_COMPRESS: {
		const struct oma_compress_ops *c = d->compress;
		if (c == NULL) {
			missing = "compress ops";
			break;
		}
		if (c->suffix == NULL)
			missing = "suffix";
		else if (c->open == NULL)
			missing = "open()";
		else if (c->write == NULL)
			missing = "write()";
		else if (c->finish == NULL)
			missing = "finish()";
		else if (c->abort == NULL)
			missing = "abort()";
		if (missing != NULL)
			break;
		if (c->suffix[0] != '.' || c->suffix[1] == '\0') {
			cm_errf(err, errlen,
			        "plugin %s: compress plugin '%s': suffix '%.64s' must be '.' and a name, e.g. \".sql.gz\"",
			        file, d->name, c->suffix);
			return -1;
		}
		if (c->min_level > c->max_level || c->default_level < c->min_level ||
		    c->default_level > c->max_level) {
			cm_errf(err, errlen,
			        "plugin %s: compress plugin '%s': default level %d outside its range %d..%d",
			        file, d->name, c->default_level, c->min_level, c->max_level);
			return -1;
		}
		break;
	}
	case OMA_PLUGIN_REPORT:
		if (d->report == NULL)
			missing = "report ops";
		else if (d->report->report == NULL)
			missing = "report()";
		break;
	case OMA_PLUGIN_CONDITION:
		if (d->condition == NULL)
			missing = "condition ops";
		else if (d->condition->run == NULL)
			missing = "run()";
		else if (d->condition->result_free == NULL)
			missing = "result_free()";
		break;
	case OMA_PLUGIN_STORE:
		if (d->store == NULL)
			missing = "store ops";
		else if (d->store->begin == NULL)
			missing = "begin()";
		else if (d->store->put == NULL)
			missing = "put()";
		else if (d->store->commit == NULL)
			missing = "commit()";
		else if (d->store->end == NULL)
			missing = "end()";
		break;
	case OMA_PLUGIN_ENCRYPT: {
		const struct oma_encrypt_ops *e = d->encrypt;
		if (e == NULL)
			missing = "encrypt ops";
		else if (e->suffix == NULL)
			missing = "suffix";
		else if (e->open == NULL)
			missing = "open()";
		else if (e->write == NULL)
			missing = "write()";
		else if (e->finish == NULL)
			missing = "finish()";
		else if (e->abort == NULL)
			missing = "abort()";
		else if (e->fingerprint == NULL)
			missing = "fingerprint()";
		if (missing == NULL && (e->suffix[0] != '.' || e->suffix[1] == '\0')) {
			cm_errf(err, errlen,
			        "plugin %s: encrypt plugin '%s': suffix '%.64s' must be '.' and a name, e.g. \".age\"",
			        file, d->name, e->suffix);
			return -1;
		}
		break;
	}
	default:
		break;
	}
	if (missing != NULL) {
		cm_errf(err, errlen, "plugin %s: %s plugin '%s' has no %s", file, what, d->name,
		        missing);
		return -1;
	}
	return 0;
}

/* Validate the descriptor of `file` without calling into the plugin.
 * Returns 0, or -1 with err set. */
static int check_descriptor(struct loader *ld, const struct oma_plugin *d, const char *file,
                            int want_type, const char *want_name, char *err, size_t errlen)
{
	if (d->abi != OMA_PLUGIN_ABI) {
		cm_errf(err, errlen, "plugin %s: ABI mismatch: expected %d, found %u", file,
		        OMA_PLUGIN_ABI, (unsigned)d->abi);
		return -1;
	}
	if (d->size < sizeof(struct oma_plugin)) {
		cm_errf(err, errlen, "plugin %s: descriptor size %u is smaller than %zu", file,
		        (unsigned)d->size, sizeof(struct oma_plugin));
		return -1;
	}
	if (d->type != OMA_PLUGIN_COMPRESS && d->type != OMA_PLUGIN_REPORT &&
	    d->type != OMA_PLUGIN_CONDITION && d->type != OMA_PLUGIN_STORE &&
	    d->type != OMA_PLUGIN_ENCRYPT) {
		cm_errf(err, errlen, "plugin %s: unknown plugin type %u", file, (unsigned)d->type);
		return -1;
	}
	if (d->name == NULL) {
		cm_errf(err, errlen, "plugin %s: %s plugin has no name", file, type_name(d->type));
		return -1;
	}
	if (!valid_name(d->name)) {
		cm_errf(err, errlen,
		        "plugin %s: invalid plugin name '%.80s' (expected 1 to %d of [a-z0-9_-])",
		        file, d->name, NAME_MAX_LEN);
		return -1;
	}
	if (want_name != NULL && ((int)d->type != want_type || strcmp(d->name, want_name) != 0)) {
		cm_errf(err, errlen, "plugin %s: holds %s plugin '%s', expected %s plugin '%s'",
		        file, type_name(d->type), d->name, type_name((uint32_t)want_type),
		        want_name);
		return -1;
	}
	if (check_ops(d, file, err, errlen) != 0)
		return -1;
	struct loaded_plugin *other = loader_find(ld, (int)d->type, d->name);
	if (other != NULL) {
		cm_errf(err, errlen, "plugin %s: duplicate %s plugin '%s' (also in %s)", file,
		        type_name(d->type), d->name, other->path);
		return -1;
	}
	return 0;
}

/* Everything that can be checked before dlopen: a regular file, safe to
 * load as root (also the folder it really lives in and every folder
 * above), a complete ELF shared object.  The checks are made on one open descriptor,
 * which is what gets loaded (load_fd): the file at `path` may be another
 * one by then.  Returns 0 with *fdp that descriptor (the caller closes it)
 * and *st its fstat; 1 when the file does not exist (err set); -1 with
 * err set. */
static int check_file(const char *path, int *fdp, struct stat *st, char *err, size_t errlen)
{
	/* A FIFO or device under the plugin's name is refused, not waited on. */
	int fd = open_regular(AT_FDCWD, path, 0);
	if (fd == -2) {
		cm_errf(err, errlen, "plugin %s: not a regular file", path);
		return -1;
	}
	if (fd < 0) {
		cm_errf(err, errlen, "plugin %s: %s", path, strerror(errno));
		return errno == ENOENT ? 1 : -1;
	}
	int rc = -1;
	char *real = realpath(path, NULL);
	char why[256];
	if (fstat(fd, st) != 0 || real == NULL) {
		cm_errf(err, errlen, "plugin %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st->st_mode)) {
		cm_errf(err, errlen, "plugin %s: not a regular file", path);
		goto out;
	}
	if (owner_check("file", real, st, err, errlen) != 0 ||
	    owner_check_folders(real, err, errlen) != 0)
		goto out;
	/* The path checked is the file opened (not swapped in between). */
	struct stat rst;
	if (stat(real, &rst) != 0 || rst.st_dev != st->st_dev || rst.st_ino != st->st_ino) {
		cm_errf(err, errlen, "plugin %s: replaced while it was being checked", path);
		goto out;
	}
	if (elfcheck_file(fd, st->st_size, why, sizeof(why)) != 0) {
		cm_errf(err, errlen, "plugin %s: %s", path, why);
		goto out;
	}
	rc = 0;
out:
	free(real);
	if (rc == 0)
		*fdp = fd;
	else
		close(fd);
	return rc;
}

/* The folder a plugin is loaded from must be as safe as the file, and so
 * must every folder above where it really is. */
static int check_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	if (stat(dir, &st) != 0) {
		cm_errf(err, errlen, "plugin dir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		cm_errf(err, errlen, "plugin dir %s: not a folder", dir);
		return -1;
	}
	if (owner_check("folder", dir, &st, err, errlen) != 0)
		return -1;
	if (geteuid() != 0)
		return 0;
	char *real = realpath(dir, NULL);
	if (real == NULL) {
		cm_errf(err, errlen, "plugin dir %s: %s", dir, strerror(errno));
		return -1;
	}
	int rc = owner_check_above(real, err, errlen);
	free(real);
	return rc;
}

/* The lowest descriptor number no load has named yet: glibc knows a
 * loaded object by the name it was opened with, and dlopen of a name it
 * has seen gives back that object (also after dlclose: RTLD_NODELETE keeps
 * them), so /proc/self/fd/N of a new plugin must not reuse an N. */
static int next_fd_name;

/* The name "/proc/self/fd/N" (in `name`) under which dlopen opens the
 * checked file `fd` itself, N never named before.  Returns N (the caller
 * closes it; it is fd or a copy of it), or -1 with err set, for `path`:
 * also when /proc is not mounted (then nothing is loaded by name, which
 * would open whatever is at `path` by now). */
static int fd_name(int fd, const struct stat *st, const char *path, char *name, size_t namelen,
                   char *err, size_t errlen)
{
	int num = fd;
	if (fd < next_fd_name) {
		num = fcntl(fd, F_DUPFD_CLOEXEC, next_fd_name);
		if (num < 0) {
			cm_errf(err, errlen,
			        "plugin %s: cannot load: no descriptor number from %d on for "
			        "/proc/self/fd: %s",
			        path, next_fd_name, strerror(errno));
			return -1;
		}
	}
	next_fd_name = num + 1;
	snprintf(name, namelen, "/proc/self/fd/%d", num);
	struct stat pst;
	int found = stat(name, &pst) == 0;
	if (!found || pst.st_dev != st->st_dev || pst.st_ino != st->st_ino) {
		cm_errf(err, errlen,
		        "plugin %s: cannot load it through %s, the file checked: %s (is "
		        "/proc mounted?)",
		        path, name, found ? "another file is there" : strerror(errno));
		if (num != fd)
			close(num);
		return -1;
	}
	return num;
}

/* ld's state, made when nothing was loaded yet. */
static struct loader_state *state_of(struct loader *ld)
{
	if (ld->state == NULL)
		ld->state = xcalloc(1, sizeof(*ld->state));
	return ld->state;
}

/* dlopen the checked file `fd` (closed here) of `path`, validate it and
 * append it to ld.  Returns 0, or -1 with err set (the handle is closed
 * again). */
static int load_fd(struct loader *ld, const char *path, int fd, const struct stat *st,
                   int want_type, const char *want_name, char *err, size_t errlen)
{
	int rc = -1;
	char name[64];
	int num = fd_name(fd, st, path, name, sizeof(name), err, errlen);
	if (num < 0) {
		close(fd);
		return -1;
	}
	(void)dlerror();
	/* RTLD_NODELETE: a plugin's libraries (libcurl, OpenSSL) register
	 * thread-specific data and exit handlers; unmapping them at dlclose
	 * would leave those pointing nowhere. */
	void *handle = dlopen(name, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (num != fd)
		close(num);
	close(fd);
	if (handle == NULL) {
		const char *why = dlerror();
		if (why == NULL)
			why = "unknown error";
		/* It names the object by the name it was given: say `path` once. */
		size_t len = strlen(name);
		if (strncmp(why, name, len) == 0 && strncmp(why + len, ": ", 2) == 0)
			why += len + 2;
		cm_errf(err, errlen, "plugin %s: cannot load: %s", path, why);
		return -1;
	}
	const struct oma_plugin *d = dlsym(handle, OMA_PLUGIN_SYMBOL);
	if (d == NULL) {
		cm_errf(err, errlen, "plugin %s: no %s symbol (not an oma plugin?)", path,
		        OMA_PLUGIN_SYMBOL);
		goto out;
	}
	rc = check_descriptor(ld, d, path, want_type, want_name, err, errlen);
	if (rc != 0)
		goto out;
	struct loader_state *s = state_of(ld);
	s->plugins = xrealloc(s->plugins, (s->n + 1) * sizeof(*s->plugins));
	s->plugins[s->n] = xmalloc(sizeof(**s->plugins));
	*s->plugins[s->n] = (struct loaded_plugin){
	        .path = xstrdup(path),
	        .handle = handle,
	        .desc = d,
	        .initialized = 0,
	};
	s->n++;
	handle = NULL;
	rc = 0;
out:
	if (handle != NULL)
		dlclose(handle);
	return rc;
}

/* check_file, then load_fd.  Returns 0; 1 when `path` does not exist; -1;
 * err set unless 0. */
static int load_one(struct loader *ld, const char *path, int want_type, const char *want_name,
                    char *err, size_t errlen)
{
	int fd;
	struct stat st;
	int rc = check_file(path, &fd, &st, err, errlen);
	if (rc != 0)
		return rc;
	return load_fd(ld, path, fd, &st, want_type, want_name, err, errlen);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_so_suffix(const char *name)
{
	size_t n = strlen(name);
	return name[0] != '.' && n > 3 && strcmp(name + n - 3, ".so") == 0;
}

/* The sorted paths of the regular "*.so" files in `dir`.  Returns 0, or -1
 * with err set when the folder cannot be read. */
static int list_plugins(const char *dir, struct strv *out, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	if (d == NULL) {
		cm_errf(err, errlen, "plugin dir %s: %s", dir, strerror(errno));
		return -1;
	}
	int rc = 0;
	for (;;) {
		errno = 0;
		struct dirent *e = readdir(d);
		if (e == NULL) {
			if (errno != 0) {
				cm_errf(err, errlen, "plugin dir %s: %s", dir, strerror(errno));
				rc = -1;
			}
			break;
		}
		if (!has_so_suffix(e->d_name))
			continue;
		char *path = xasprintf("%s/%s", dir, e->d_name);
		struct stat st;
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			strv_push(out, path);
		free(path);
	}
	closedir(d);
	if (rc != 0) {
		strv_free(out);
		return rc;
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), cmp_str);
	return 0;
}

int loader_load(struct loader *ld, const char *dir, int type, const char *name,
                struct loaded_plugin **out, char *err, size_t errlen)
{
	*out = loader_find(ld, type, name);
	if (*out != NULL)
		return 0;
	if (!valid_name(name)) {
		cm_errf(err, errlen, "no plugin can be called '%.80s' (1 to %d of [a-z0-9_-])",
		        name, NAME_MAX_LEN);
		return 1;
	}
	if (check_dir(dir, err, errlen) != 0)
		return -1;
	if (state_of(ld)->dir == NULL)
		ld->state->dir = xstrdup(dir);
	const char *tn = type_name((uint32_t)type);
	char *path = xasprintf("%s/%s-%s.so", dir, tn, name);
	int rc = load_one(ld, path, type, name, err, errlen);
	if (rc == 1)
		cm_errf(err, errlen, "no %s plugin '%s' (%s-%s.so) in %s", tn, name, tn, name, dir);
	if (rc != 0)
		goto out;
	*out = ld->state->plugins[ld->state->n - 1];
out:
	free(path);
	return rc;
}

int loader_load_dir(struct loader *ld, const char *dir, char *err, size_t errlen)
{
	struct strv files = {0};
	int rc = check_dir(dir, err, errlen);
	if (rc == 0)
		rc = list_plugins(dir, &files, err, errlen);
	if (rc != 0)
		goto out;
	struct loader_state *s = state_of(ld);
	free(s->dir);
	s->dir = xstrdup(dir);
	for (size_t i = 0; i < files.n; i++) {
		/* A file gone since the listing is an error too (err says so). */
		rc = load_one(ld, files.v[i], 0, NULL, err, errlen);
		if (rc != 0)
			goto out;
	}
out:
	strv_free(&files);
	if (rc != 0) {
		loader_unload(ld);
		return -1;
	}
	return 0;
}

struct loaded_plugin *loader_find(const struct loader *ld, int type, const char *name)
{
	for (struct loaded_plugin *p = loader_next(ld, type, NULL); p != NULL;
	     p = loader_next(ld, type, p))
		if (strcmp(p->desc->name, name) == 0)
			return p;
	return NULL;
}

struct loaded_plugin *loader_next(const struct loader *ld, int type,
                                  const struct loaded_plugin *prev)
{
	const struct loader_state *s = ld->state;
	if (s == NULL)
		return NULL;
	size_t i = 0;
	if (prev != NULL) {
		while (i < s->n && s->plugins[i] != prev)
			i++;
		i++; /* the one after prev (none when prev is not in ld) */
	}
	for (; i < s->n; i++)
		if ((int)s->plugins[i]->desc->type == type)
			return s->plugins[i];
	return NULL;
}

int loader_init(struct loaded_plugin *p, const struct oma_host *host, char *err, size_t errlen)
{
	if (p->initialized)
		return 0;
	if (p->desc->init != NULL) {
		char why[512];
		why[0] = '\0';
		int rc = p->desc->init(host != NULL ? host : loader_host(), why, sizeof(why));
		why[sizeof(why) - 1] = '\0';
		if (rc != 0) {
			cm_errf(err, errlen, "plugin %s: init of '%s' failed: %s", p->path,
			        p->desc->name, why[0] != '\0' ? why : "no reason given");
			return -1;
		}
	}
	p->initialized = 1;
	return 0;
}

void loader_unload(struct loader *ld)
{
	struct loader_state *s = ld->state;
	if (s == NULL)
		return;
	/* Finish in reverse load order, then close. */
	for (size_t i = s->n; i-- > 0;) {
		struct loaded_plugin *p = s->plugins[i];
		if (p->initialized && p->desc->fini != NULL)
			p->desc->fini();
		p->initialized = 0;
	}
	for (size_t i = s->n; i-- > 0;) {
		dlclose(s->plugins[i]->handle);
		free(s->plugins[i]->path);
		free(s->plugins[i]);
	}
	free(s->plugins);
	free(s->dir);
	free(s);
	ld->state = NULL;
}
