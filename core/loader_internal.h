/* loader_internal.h - what the loader keeps and does that only its own tests reach. */
#ifndef OMA_LOADER_INTERNAL_H
#define OMA_LOADER_INTERNAL_H

#include <stddef.h>

#include "loader.h"

struct loader_state {
	char *dir; /* the folder of the last loader_load_dir, else the first loader_load */
	struct loaded_plugin **plugins; /* each stays where it is while more load */
	size_t n;
};

/* dlopen every "*.so" in `dir` (sorted by name, each checked and validated
 * as by loader_load, any type and name).  Any failure stops loading,
 * unloads everything in `ld` (leaving it empty) and returns -1 with err
 * naming the file (and, for ABI mismatches, both ABI numbers: "expected N,
 * found M").  No plugin's init() is called here.  Returns 0 on success (an
 * empty folder is not an error). */
int loader_load_dir(struct loader *ld, const char *dir, char *err, size_t errlen);

/* The plugin of `type` called `name`, or NULL. */
struct loaded_plugin *loader_find(const struct loader *ld, int type, const char *name);

#endif
