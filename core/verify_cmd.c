/* verify_cmd.c - oma --verify's plugins: every compressor and encryptor of the plugin folder, then verify_folder. */
#include "verify.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "runner.h"
#include "util.h"

/* Load each TYPE-NAME.so of `dir` for type `type` (prefix "compress-" or
 * "encrypt-") into ld; warnings on stderr. */
static void load_all(struct loader *ld, const char *dir, int type, const char *prefix)
{
	DIR *d = opendir(dir);
	if (d == NULL) {
		(void)fprintf(stderr, "oma: warning: cannot read plugin folder %s\n", dir);
		return;
	}
	struct strv names = {0};
	for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
		size_t len = strlen(e->d_name), pl = strlen(prefix);
		if (len > pl + 3 && strncmp(e->d_name, prefix, pl) == 0 &&
		    strcmp(e->d_name + len - 3, ".so") == 0) {
			char *name = xstrndup(e->d_name + pl, len - pl - 3);
			strv_push(&names, name);
			free(name);
		}
	}
	closedir(d);
	for (size_t i = 0; i < names.n; i++) {
		char err[1024];
		struct loaded_plugin *p = NULL;
		int rc = loader_load(ld, dir, type, names.v[i], &p, err, sizeof(err));
		/* An encryptor's check works without init (it needs no key and
		 * no configuration: plugin.h); a compressor is initialised. */
		if (rc == 0 && type == OMA_PLUGIN_COMPRESS)
			rc = loader_init(p, loader_host(), err, sizeof(err));
		if (rc != 0) {
			char *safe = escape_controls(err);
			(void)fprintf(stderr, "oma: warning: %s; its files are not checked\n",
			              safe);
			free(safe);
		}
	}
	strv_free(&names);
}

int verify_command(const char *dir, const char *plugin_dir)
{
	struct loader ld = {0};
	load_all(&ld, plugin_dir, OMA_PLUGIN_COMPRESS, "compress-");
	load_all(&ld, plugin_dir, OMA_PLUGIN_ENCRYPT, "encrypt-");
	size_t nc = 0, ne = 0;
	for (struct loaded_plugin *p = loader_next(&ld, OMA_PLUGIN_COMPRESS, NULL); p != NULL;
	     p = loader_next(&ld, OMA_PLUGIN_COMPRESS, p))
		nc += p->initialized;
	for (struct loaded_plugin *p = loader_next(&ld, OMA_PLUGIN_ENCRYPT, NULL); p != NULL;
	     p = loader_next(&ld, OMA_PLUGIN_ENCRYPT, p))
		ne++;
	struct verify_kind *comp = xcalloc(nc + 1, sizeof(*comp));
	struct verify_kind *enc = xcalloc(ne + 1, sizeof(*enc));
	nc = ne = 0;
	for (struct loaded_plugin *p = loader_next(&ld, OMA_PLUGIN_COMPRESS, NULL); p != NULL;
	     p = loader_next(&ld, OMA_PLUGIN_COMPRESS, p)) {
		if (!p->initialized)
			continue;
		const struct oma_compress_ops *c = p->desc->compress;
		comp[nc++] = (struct verify_kind){p->desc->name, c->suffix, c->decompress};
	}
	for (struct loaded_plugin *p = loader_next(&ld, OMA_PLUGIN_ENCRYPT, NULL); p != NULL;
	     p = loader_next(&ld, OMA_PLUGIN_ENCRYPT, p)) {
		const struct oma_encrypt_ops *e = p->desc->encrypt;
		enc[ne++] = (struct verify_kind){p->desc->name, e->suffix, e->check};
	}
	struct verify_kinds kinds = {comp, nc, enc, ne};
	int code = OMA_EXIT_FAILED;
	if (nc == 0)
		(void)fprintf(stderr, "oma: --verify: no compressor plugin in %s\n", plugin_dir);
	else
		code = verify_folder(dir, &kinds, cpu_count(), stdout);
	free(comp);
	free(enc);
	loader_unload(&ld);
	return code;
}
