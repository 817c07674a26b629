/* verify.h - oma --verify: prove every dump of a backup folder readable and complete. */
#ifndef OMA_VERIFY_H
#define OMA_VERIFY_H

#include <stdio.h>

#include <oma/plugin.h>

/* A file kind --verify knows: a compressor's suffix and its reader, or an
 * encryptor's suffix and its check without the key (read NULL: the plugin
 * has none, so its files are checked by SHA-256 only). */
struct verify_kind {
	const char *name;   /* the plugin's name, for messages */
	const char *suffix; /* ".sql.gz", ".age" */
	const struct oma_read_ops *read;
};

struct verify_kinds {
	const struct verify_kind *comp; /* compressors */
	size_t ncomp;
	const struct verify_kind *enc; /* encryptors */
	size_t nenc;
};

/*
 * Check the backup folder `dir`: every dump in it (a file named
 * STEM + a compressor's suffix [+ an encryptor's suffix]) and every file
 * SHA256SUMS lists, each read once, `threads` at a time:
 *   - its SHA-256 against its SHA256SUMS line (a dump without one, or a
 *     line without its file, is bad; a folder without SHA256SUMS - oma
 *     before 0.3, upstream OMA - is said so once and not counted bad);
 *   - a plain dump decompressed to its end by the compressor's reader, and
 *     its SQL's last line mysqldump's completion line;
 *   - an encrypted dump checked by the encryptor without the key.
 * A folder without info.json (its run never completed) is bad too.
 * One line per file goes to `out` as each is done ("OK   NAME (...)" or
 * "BAD  NAME: REASON; REASON"), then the summary line.  Returns 0 when
 * everything is good, 4 (OMA_EXIT_FAILED) otherwise, also when the folder
 * cannot be read (said on `out`).
 */
int verify_folder(const char *dir, const struct verify_kinds *kinds, int threads, FILE *out);

/* `oma --verify`: load every compress-*.so and encrypt-*.so of
 * plugin_dir (a plugin that does not load is warned about on stderr, and
 * its files are then not recognised as dumps), initialise the
 * compressors, and verify_folder(dir) on stdout with one thread per CPU.
 * Returns the exit code. */
int verify_command(const char *dir, const char *plugin_dir);

#endif
