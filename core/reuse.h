/* reuse.h - a dump's sidecar file, and moving an unchanged dump into the new backup folder. */
#ifndef OMA_REUSE_H
#define OMA_REUSE_H

#include <stdint.h>

#include "config.h"

#define REUSE_SIDECAR_SUFFIX ".timestamp"

/* What is known about one finished dump (STEM.timestamp beside STEM.SUFFIX).
 * Written only after the dump is complete under its final name, so a
 * failed dump never has one. */
struct sidecar {
	int64_t start;       /* epoch seconds the dump started */
	char compressor[64]; /* compress plugin name, e.g. "gzip" */
	char file[256];      /* base name of the dump file */
	uint64_t bytes;      /* its size */
	char sha256[65];     /* SHA-256 of the file as written, lower-case hex;
	                        * "" when not recorded (oma before 0.2): such a
	                        * dump is never reused */
	/* How the file was encrypted: "METHOD:FINGERPRINT" (e.g. "age:3f2a..."),
	 * "" when it was not: a dump is reused only with the same. */
	char encryption[160];
	char *extra; /* further key=value lines (change-detection reference), malloc'ed */
};

/* Write dir/STEM.timestamp atomically (temp file, rename; not synced).
 * Returns 0, or -1 with err set. */
int reuse_write_sidecar(const char *dir, const char *stem, const struct sidecar *sc, char *err,
                        size_t errlen);

/* Read dir/STEM.timestamp.  Returns 0; 1 when there is none or it is not in
 * oma's format (e.g. upstream's local-time stamp): never reuse then; -1 on
 * a read error (err set).  Free with reuse_sidecar_free. */
int reuse_read_sidecar(const char *dir, const char *stem, struct sidecar *sc, char *err,
                       size_t errlen);
void reuse_sidecar_free(struct sidecar *sc);

/* Whether dir/NAME exists (of any kind; a link is not followed).  Returns
 * 1 or 0. */
int reuse_exists(const char *dir, const char *name);

/* Parse the `len` bytes of a sidecar's text (not NUL-terminated; a NUL ends
 * it) as reuse_read_sidecar does.  Returns 0, or 1 when it is not a
 * complete sidecar in oma's format.  Free with reuse_sidecar_free. */
int reuse_parse_sidecar(const char *text, size_t len, struct sidecar *sc);

/* Whether prev_dir holds the complete dump the sidecar describes, made with
 * `compressor` and named `file`: a regular file of the recorded size.
 * Returns 1, or 0 with a short reason in why. */
int reuse_usable(const char *prev_dir, const struct sidecar *sc, const char *compressor,
                 const char *file, char *why, size_t whylen);

/* Move prev_dir/NAME to cur_dir/NAME and leave a link of `link_type` (hard,
 * or symbolic with an absolute target) under the old name, for the dump
 * file and its sidecar: a hard link into cur_dir first, then (symbolic)
 * the old name replaced atomically by a link ("." NAME ".link-PID" renamed
 * over it), so the previous folder never lacks its dump.  Returns 0; -1
 * when the dump could not be linked (nothing changed then; err set); 1
 * when it is in cur_dir but the old name stayed a hard link or the
 * sidecar could not follow (err set).  The caller fsyncs both folders once
 * after moving everything (one fsync per move is far too slow for
 * thousands of databases). */
int reuse_move(const char *prev_dir, const char *cur_dir, const char *file, const char *stem,
               int link_type, char *err, size_t errlen);

/* reuse_move for a dump the previous folder has under another name (the
 * one an older oma gave it, names_encode_legacy): prev_dir/SC->FILE
 * becomes cur_dir/FILE as reuse_move does it, and cur_dir gets a sidecar
 * of its own under STEM (sc, with file = FILE); the previous folder keeps
 * its sidecar.  Returns as reuse_move. */
int reuse_move_renamed(const char *prev_dir, const char *cur_dir, const char *file,
                       const char *stem, const struct sidecar *sc, int link_type, char *err,
                       size_t errlen);

#endif
