/* loader.h - finds, validates and loads plugins (.so) from a directory. */
#ifndef OMA_LOADER_H
#define OMA_LOADER_H

#include <stddef.h>

#include <oma/plugin.h>

struct loaded_plugin {
	char *path;                    /* file it came from */
	void *handle;                  /* dlopen handle */
	const struct oma_plugin *desc; /* validated descriptor */
	int initialized;               /* init() ran and succeeded */
};

/* The plugins loaded so far.  What it holds is the loader's own
 * (loader_internal.h, for its tests); all zeros ({0}) is an empty loader,
 * and loader_unload makes it empty again. */
struct loader {
	struct loader_state *state; /* NULL while nothing was loaded */
};

/* The plugin folder to use: `configured` (plugin_dir) if set, else
 * $OMA_PLUGIN_DIR if set and non-empty, else <dir of the executable>/plugins
 * when that is a folder (build tree: build/oma -> build/plugins), else
 * <dir of the executable>/../OMA_PLUGIN_SUBDIR, i.e. the PLUGINDIR of `make
 * install` below the PREFIX the binary runs from (installed: PREFIX/bin/oma
 * -> PREFIX/lib/oma/plugins; Debian's package: /usr/lib/TRIPLET/oma/plugins).
 * Returns a malloc'ed path. */
char *loader_default_dir(const char *configured);

/* Load the plugin of `type` called `name` from `dir`: the file
 * dir/TYPE-NAME.so (e.g. compress-gzip.so, report-zabbix.so), and nothing
 * else in the folder.  Before dlopen: a regular file (links followed)
 * that is a complete ELF shared object for this machine (a truncated one
 * would kill oma with SIGBUS inside dlopen) with a dynamic section dlopen
 * can follow (one of the right size but zeros at its end would be
 * SIGSEGV: entries, string, symbol and hash tables inside the loaded part
 * of the file, a hash table with buckets), and, when running as root,
 * the file, its folder and `dir` owned by root and not writable by group
 * or others (else anyone who can write there runs code as root), and so
 * every folder above the file's and `dir`'s real paths up to /, where a
 * root-owned sticky folder such as /tmp is fine too.  The
 * checks are made on one open descriptor, and dlopen opens that one
 * (/proc/self/fd/N; without /proc, an error, not a load by name), so the
 * file loaded is the file checked even if the path names another by
 * then; the plugin's path and every message stay the path given.  Then the
 * descriptor is validated (symbol present, abi == OMA_PLUGIN_ABI, size >=
 * the size this core knows, known type, name of [a-z0-9_-]{1,64}, the ops
 * table for its type non-NULL with every mandatory function set, no other
 * plugin of the same type and name) and must declare that type and name.
 * A plugin already in ld is given as it is.  No init() is called.
 * Returns 0 with *out set; 1 when there is no such file, or no
 * plugin can have that name (err: "no compress plugin 'x' (compress-x.so)
 * in DIR"); -1 with err set. */
int loader_load(struct loader *ld, const char *dir, int type, const char *name,
                struct loaded_plugin **out, char *err, size_t errlen);

/* The next plugin of `type` in `ld` after `prev` (the first one when prev
 * is NULL), in the order they were loaded, or NULL when there is none. */
struct loaded_plugin *loader_next(const struct loader *ld, int type,
                                  const struct loaded_plugin *prev);

/* Call the plugin's init (if it has one) with `host` (loader_host() when
 * NULL), once: later calls after a success do nothing.  Returns 0, or -1
 * with err set ("plugin FILE: init of 'NAME' failed: REASON"). */
int loader_init(struct loaded_plugin *p, const struct oma_host *host, char *err, size_t errlen);

/* Call fini for initialized plugins, dlclose everything, free. */
void loader_unload(struct loader *ld);

/* The host table the core hands to plugins: log goes to log_vmsg(),
 * config_get to the function set here (NULL until set: returns NULL). */
const struct oma_host *loader_host(void);
void loader_set_config_getter(const char *(*get)(const char *section, const char *key));

#endif
