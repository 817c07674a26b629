/* gunzip.h - the gzip plugin's reader (--verify): streaming decompression of .sql.gz files. */
#ifndef OMA_GUNZIP_H
#define OMA_GUNZIP_H

#include <oma/plugin.h>

/* Decompresses every member of a gzip file (oma writes one per MiB of
 * dump; other tools one for the whole file) with zlib, CRC and length of
 * each checked; bytes after the last member that do not begin another one
 * are an error. */
extern const struct oma_read_ops gz_read_ops;

#endif
