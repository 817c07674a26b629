/* loader.h - finds, validates and loads plugins (.so) from a directory. */
#ifndef OMA_LOADER_H
#define OMA_LOADER_H

#include <stddef.h>

#include <oma/plugin.h>

struct loaded_plugin {
	char *path;                      /* file it came from */
	void *handle;                    /* dlopen handle */
	const struct oma_plugin *desc;   /* validated descriptor */
	int initialized;                 /* init() ran and succeeded */
};

struct loader {
	char *dir;
	struct loaded_plugin *plugins;
	size_t n;
};

/* The plugin folder to use: `configured` (plugin_dir) if set, else
 * $OMA_PLUGIN_DIR if set and non-empty, else <dir of the executable>/plugins
 * when that is a folder (build tree: build/oma -> build/plugins), else
 * <dir of the executable>/../lib/oma/plugins, spelled PREFIX/lib/oma/plugins
 * (installed: PREFIX/bin/oma).
 * Returns a malloc'ed path. */
char *loader_default_dir(const char *configured);

/* dlopen every "*.so" in `dir` (sorted by name) with RTLD_NOW|RTLD_LOCAL and
 * validate its descriptor before calling anything in it: symbol present,
 * abi == OMA_PLUGIN_ABI, size >= the size this core knows, known type,
 * name of [a-z0-9_-]{1,64}, the ops table for its type non-NULL with every
 * mandatory function set, and no other plugin of the same type and name.
 * Any failure stops loading, unloads everything in `ld` (leaving it empty)
 * and returns -1 with err naming the file (and, for ABI mismatches, both
 * ABI numbers: "expected N, found M").  No plugin's init() is called here.
 * Returns 0 on success (an empty folder is not an error). */
int loader_load_dir(struct loader *ld, const char *dir, char *err, size_t errlen);

/* The plugin of `type` called `name`, or NULL. */
struct loaded_plugin *loader_find(struct loader *ld, int type, const char *name);

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
