/* unzstd.h - the zstd plugin's reader (--verify): streaming decompression of .sql.zst files. */
#ifndef OMA_UNZSTD_H
#define OMA_UNZSTD_H

#include <oma/plugin.h>

/* Decompresses every frame of a zstd file, each frame's checksum checked
 * when it has one; a file that ends inside a frame is truncated. */
extern const struct oma_read_ops zs_read_ops;

#endif
