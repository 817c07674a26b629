/* encrypt.c - encrypt plugin "age": every dump encrypted in the age v1 format to the public keys of [encryption] (recipients, recipients_file). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oma/plugin.h>

#include "age.h"
#include "common/errbuf.h"

/*
 * Settings ([encryption], checked by the core through the table below
 * before init runs; `method = "age"` is the core's key that chose us):
 *   recipients       one or more X25519 public keys "age1..." as
 *                    age-keygen prints them (a string or an array); each
 *                    element is checked on its own, so an error names its
 *                    line and its number ("recipients #2")
 *   recipients_file  a file in age's recipients-file format: one key per
 *                    line, '#' comments and blank lines ignored; read in
 *                    init, so an unreadable file or a bad line stops oma as
 *                    an invalid configuration naming FILE:LINE
 * Both may be given: the set is their union.  None at all is an error, as
 * is a secret key (AGE-SECRET-KEY-1...) given as a recipient (named, never
 * quoted: errors go to cron mail).
 *
 * Every stream is age_enc_open on the set: a fresh file key and ephemeral
 * keys per file, the header, then 64 KiB STREAM chunks, written to the
 * core's sink as they are sealed; one chunk is held per stream.  The
 * fingerprint is the hex SHA-256 of the set's sorted distinct public keys,
 * so neither order nor duplicates make the next run dump again, while any
 * added, removed or replaced key does.
 */

static struct age_recipients recips;
static char fingerprint[65];

/* A recipients element as the core checks it (before init; pure). */
static int check_recipient(const char *value, char *err, size_t errlen)
{
	uint8_t pk[AGE_KEY_LEN];
	return age_recipient_parse(value, pk, err, errlen);
}

static const struct oma_setting age_settings[] = {
        {.key = "recipients",
         .type = OMA_SETTING_STRINGS,
         .check = check_recipient,
         .help = "public keys (age1...) every dump is encrypted to, as age-keygen prints them"},
        {.key = "recipients_file",
         .type = OMA_SETTING_STRING,
         .help = "a file of public keys in age's format (one per line, # comments)"},
        {.key = NULL},
};

/* Add each '\n'-separated element of list to r.  The core checked every
 * element already; a failure here is out of memory (or a core that did
 * not check), named by the element's number. */
static int add_strings(struct age_recipients *r, const char *list, char *err, size_t errlen)
{
	size_t n = 0;
	for (const char *s = list; s != NULL && *s != '\0';) {
		const char *nl = strchr(s, '\n');
		size_t len = nl != NULL ? (size_t)(nl - s) : strlen(s);
		char *one = strndup(s, len);
		n++;
		char where[64];
		snprintf(where, sizeof(where), "[encryption] recipients #%zu", n);
		int rc = one == NULL ? -1 : age_recipients_add(r, one, where, err, errlen);
		if (one == NULL)
			cm_errf(err, errlen, "age: out of memory");
		free(one);
		if (rc != 0)
			return -1;
		s = nl != NULL ? nl + 1 : s + len;
	}
	return 0;
}

static int age_plugin_init(const struct oma_host *host, char *err, size_t errlen)
{
	if (age_init(err, errlen) != 0)
		return -1;
	age_recipients_free(&recips);
	const char *list = host->config_get("encryption", "recipients");
	const char *file = host->config_get("encryption", "recipients_file");
	if (add_strings(&recips, list, err, errlen) != 0)
		goto fail;
	if (file != NULL) {
		struct age_recipients from_file = {0};
		char why[512];
		if (file[0] == '\0') {
			cm_errf(err, errlen, "[encryption] recipients_file: empty file name");
			goto fail;
		}
		if (age_recipients_file(file, &from_file, why, sizeof(why)) != 0) {
			cm_errf(err, errlen, "[encryption] recipients_file: %s", why);
			goto fail;
		}
		for (size_t i = 0; i < from_file.n; i++) {
			char hex[AGE_RECIPIENT_CHARS + 1];
			age_recipient_format(from_file.pk[i], hex);
			if (age_recipients_add(&recips, hex, file, err, errlen) != 0) {
				age_recipients_free(&from_file);
				goto fail;
			}
		}
		age_recipients_free(&from_file);
	}
	if (recips.n == 0) {
		cm_errf(err, errlen,
		        "[encryption] recipients and recipients_file name no recipient: give at "
		        "least one public key (age1..., see age-keygen)");
		goto fail;
	}
	age_recipients_fingerprint(&recips, fingerprint);
	return 0;
fail:
	age_recipients_free(&recips);
	return -1;
}

static void age_plugin_fini(void)
{
	age_recipients_free(&recips);
	fingerprint[0] = '\0';
}

static int age_open(void **stream, const struct oma_encrypt_params *p, char *err, size_t errlen)
{
	struct age_enc *e = NULL;
	if (age_enc_open(&e, &recips, p->sink, p->sink_ctx, err, errlen) != 0)
		return -1;
	*stream = e;
	return 0;
}

static int age_write(void *stream, const void *buf, size_t len, char *err, size_t errlen)
{
	return age_enc_write(stream, buf, len, err, errlen) == 0 ? 0 : -1;
}

static int age_finish(void *stream, char *err, size_t errlen)
{
	return age_enc_finish(stream, err, errlen) == 0 ? 0 : -1;
}

static void age_abort(void *stream)
{
	age_enc_abort(stream);
}

static const char *age_fingerprint(void)
{
	return fingerprint;
}

/* --verify without the secret key: the header's form and the chunk
 * layout (age_check_open). */
static int check_open(void **stream, const struct oma_read_params *p, char *err, size_t errlen)
{
	(void)p;
	struct age_dec *d = NULL;
	if (age_check_open(&d, err, errlen) != 0)
		return -1;
	*stream = d;
	return 0;
}

static int check_write(void *stream, const void *buf, size_t len, char *err, size_t errlen)
{
	return age_dec_write(stream, buf, len, err, errlen) == 0 ? 0 : -1;
}

static int check_finish(void *stream, char *err, size_t errlen)
{
	return age_dec_finish(stream, err, errlen) == 0 ? 0 : -1;
}

static void check_abort(void *stream)
{
	age_dec_abort(stream);
}

static const struct oma_read_ops age_check_ops = {
        .size = sizeof(struct oma_read_ops),
        .open = check_open,
        .write = check_write,
        .finish = check_finish,
        .abort = check_abort,
};

static const struct oma_encrypt_ops age_ops = {
        .suffix = ".age",
        .open = age_open,
        .write = age_write,
        .finish = age_finish,
        .abort = age_abort,
        .fingerprint = age_fingerprint,
        .check = &age_check_ops,
};

OMA_PLUGIN_DEFINE(.type = OMA_PLUGIN_ENCRYPT, .name = "age", .version = "1.0",
                  .init = age_plugin_init, .fini = age_plugin_fini, .encrypt = &age_ops,
                  .settings = age_settings);
