/* fuzz_sidecar.c - fuzz target: a dump's sidecar (NAME.timestamp) through reuse_parse_sidecar and, as the runner does, its change-detection reference through changes_ref_parse. */
#include <stdlib.h>
#include <string.h>

#include "changes.h"
#include "fuzz.h"
#include "log.h"
#include "reuse.h"

static int same_ref(const struct changes_ref *a, const struct changes_ref *b)
{
	return a->valid == b->valid && a->ref_time == b->ref_time && a->ref_lsn == b->ref_lsn &&
	       a->proc_count == b->proc_count && a->proc_max == b->proc_max &&
	       a->event_count == b->event_count && a->event_max == b->event_max;
}

int fuzz_sidecar(const uint8_t *data, size_t size)
{
	log_set_level(OMA_LOG_ERROR + 10);
	log_set_stderr_level(OMA_LOG_ERROR + 10);
	struct sidecar sc;
	if (reuse_parse_sidecar((const char *)data, size, &sc) == 0) {
		/* what reuse_usable and the runner read */
		if (sc.extra == NULL || strlen(sc.compressor) >= sizeof(sc.compressor) ||
		    strlen(sc.file) >= sizeof(sc.file) ||
		    (sc.sha256[0] != '\0' && strlen(sc.sha256) != 64))
			abort();
		struct changes_ref ref;
		if (changes_ref_parse(sc.extra, &ref) == 0) {
			/* a reference written back reads as the same */
			char text[1024];
			struct changes_ref again;
			if (!ref.valid || changes_ref_format(&ref, text, sizeof(text)) != 0 ||
			    changes_ref_parse(text, &again) != 0 || !same_ref(&ref, &again))
				abort();
		} else if (ref.valid) {
			abort();
		}
	}
	reuse_sidecar_free(&sc);
	return 0;
}

FUZZ_MAIN(fuzz_sidecar)
