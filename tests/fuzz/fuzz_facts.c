/* fuzz_facts.c - fuzz target: the server-facts query's output (mysql -N -B) through server_decode_facts. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "log.h"
#include "server.h"
#include "server_internal.h"

int fuzz_facts(const uint8_t *data, size_t size)
{
	log_set_level(OMA_LOG_ERROR + 10);
	log_set_stderr_level(OMA_LOG_ERROR + 10);
	struct server_facts f;
	char err[512];
	if (server_decode_facts((const char *)data, size, &f, err, sizeof(err)) == 0) {
		/* what the runner relies on: a datadir, one folder per database,
		 * names sorted so that server_folder finds each one */
		if (f.datadir == NULL || f.datadir[0] == '\0' || f.databases.n != f.folders.n)
			abort();
		for (size_t i = 0; i < f.databases.n; i++) {
			if (i > 0 && strcmp(f.databases.v[i - 1], f.databases.v[i]) > 0)
				abort();
			if (server_folder(&f, f.databases.v[i]) == NULL)
				abort();
		}
		server_facts_free(&f);
	}
	return 0;
}

FUZZ_MAIN(fuzz_facts)
