/* fuzz.h - entry points of the fuzz targets, for libFuzzer (built with OMA_LIBFUZZER) and for tests/check_fuzz_replay.c. */
#ifndef OMA_FUZZ_H
#define OMA_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Each target feeds `size` bytes of `data` (any bytes) to one parser of
 * outside input and returns 0; a bug shows as a crash or a sanitizer
 * report, never as a return value. */
int fuzz_config(const uint8_t *data,
                size_t size); /* cfg_load_string: TOML, inih split, validation */
int fuzz_agentconf(const uint8_t *data, size_t size); /* Zabbix agent configuration with Include */
int fuzz_zbxreply(const uint8_t *data,
                  size_t size); /* Zabbix server's reply: header, length, JSON */
int fuzz_sidecar(const uint8_t *data, size_t size); /* reuse_parse_sidecar */
int fuzz_info(const uint8_t *data, size_t size);    /* store_parse_info */
int fuzz_facts(const uint8_t *data, size_t size);   /* server_decode_facts */

/* FUZZ_MAIN(fuzz_NAME) at the end of a target file makes it the libFuzzer
 * entry point when built for libFuzzer, and nothing otherwise. */
#ifdef OMA_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
#define FUZZ_MAIN(fn)                                                \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) \
	{                                                            \
		return fn(data, size);                               \
	}
#else
#define FUZZ_MAIN(fn)
#endif

#endif
