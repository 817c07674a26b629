/* fuzz_info.c - fuzz target: a backup folder's info.json through store_parse_info. */
#include <math.h>
#include <stdlib.h>

#include "fuzz.h"
#include "log.h"
#include "store.h"
#include "store_internal.h"

int fuzz_info(const uint8_t *data, size_t size)
{
	log_set_level(OMA_LOG_ERROR + 10);
	log_set_stderr_level(OMA_LOG_ERROR + 10);
	struct store_info info;
	char err[512];
	if (store_parse_info((const char *)data, size, "info.json", &info, err, sizeof(err)) == 0) {
		/* the promises the disk space estimate relies on */
		if (!isfinite(info.compression_ratio) || info.compression_ratio < 0 ||
		    info.started < 0 || info.completed < 0)
			abort();
	}
	return 0;
}

FUZZ_MAIN(fuzz_info)
