/* age-tool.c - test helper: encrypt or decrypt stdin to stdout with plugins/encrypt-age (age v1), in bounded memory. */
/*
 * Usage: age-tool encrypt [-r RECIPIENT]... [-R RECIPIENTS_FILE]... <in >out
 *        age-tool decrypt -i IDENTITY_FILE... <in >out
 *
 * Reads stdin in 64 KiB pieces.  Exit 0 on success, 1 with one line
 * "age-tool: REASON" on stderr otherwise (2 for a usage error).  Decrypted
 * output is written chunk by chunk as it authenticates, so a damaged file
 * may leave the chunks before the damage on stdout.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "age.h"
#include "common/io.h"

#define PIECE 65536

static int to_stdout(void *ctx, const void *buf, size_t len, char *err, size_t errlen)
{
	(void)ctx;
	if (cm_write_all(STDOUT_FILENO, buf, len) != 0) {
		snprintf(err, errlen, "age-tool: cannot write stdout: %s", strerror(errno));
		return -1;
	}
	return 0;
}

typedef int (*feed_fn)(void *s, const void *buf, size_t len, char *err, size_t errlen);

/* Pass stdin to feed(s, ...) piece by piece.  Returns 0, or feed's code or
 * -1 (stdin unreadable) with err filled. */
static int pump(void *s, feed_fn feed, char *err, size_t errlen)
{
	static unsigned char buf[PIECE];
	for (;;) {
		ssize_t got = read(STDIN_FILENO, buf, sizeof(buf));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			snprintf(err, errlen, "age-tool: cannot read stdin: %s", strerror(errno));
			return -1;
		}
		if (got == 0)
			return 0;
		int rc = feed(s, buf, (size_t)got, err, errlen);
		if (rc != 0)
			return rc;
	}
}

static int enc_feed(void *s, const void *buf, size_t len, char *err, size_t errlen)
{
	return age_enc_write(s, buf, len, err, errlen);
}

static int dec_feed(void *s, const void *buf, size_t len, char *err, size_t errlen)
{
	return age_dec_write(s, buf, len, err, errlen);
}

/* encrypt: -r and -R options in argv[2..].  Returns 0, else 1 or 2. */
static int encrypt_main(int argc, char **argv, char *err, size_t errlen)
{
	struct age_recipients r = {0}, more = {0};
	struct age_enc *e = NULL;
	int rc = 1;
	for (int i = 2; i < argc; i++) {
		if (i + 1 >= argc || (strcmp(argv[i], "-r") != 0 && strcmp(argv[i], "-R") != 0)) {
			snprintf(
			        err, errlen,
			        "age-tool: usage: age-tool encrypt [-r RECIPIENT]... [-R FILE]...");
			rc = 2;
			goto out;
		}
		const char *arg = argv[++i];
		if (strcmp(argv[i - 1], "-r") == 0) {
			if (age_recipients_add(&r, arg, NULL, err, errlen) != 0)
				goto out;
			continue;
		}
		if (age_recipients_file(arg, &more, err, errlen) != 0)
			goto out;
		for (size_t k = 0; k < more.n; k++) {
			char text[AGE_RECIPIENT_CHARS + 1];
			age_recipient_format(more.pk[k], text);
			if (age_recipients_add(&r, text, NULL, err, errlen) != 0)
				goto out;
		}
	}
	if (r.n == 0) {
		snprintf(err, errlen, "age-tool: no recipient (-r or -R)");
		rc = 2;
		goto out;
	}
	if (age_enc_open(&e, &r, to_stdout, NULL, err, errlen) != 0)
		goto out;
	if (pump(e, enc_feed, err, errlen) != 0)
		goto out;
	rc = age_enc_finish(e, err, errlen) == 0 ? 0 : 1;
	e = NULL;
out:
	age_enc_abort(e);
	age_recipients_free(&r);
	age_recipients_free(&more);
	return rc;
}

/* decrypt: -i options in argv[2..].  Returns 0, else 1 or 2. */
static int decrypt_main(int argc, char **argv, char *err, size_t errlen)
{
	struct age_identities ids = {0}, more = {0};
	struct age_dec *d = NULL;
	int rc = 1;
	for (int i = 2; i < argc; i++) {
		if (i + 1 >= argc || strcmp(argv[i], "-i") != 0) {
			snprintf(err, errlen,
			         "age-tool: usage: age-tool decrypt -i IDENTITY_FILE...");
			rc = 2;
			goto out;
		}
		if (age_identities_file(argv[++i], &more, err, errlen) != 0)
			goto out;
		for (size_t k = 0; k < more.n; k++)
			if (age_identities_add(&ids, more.sk[k], err, errlen) != 0)
				goto out;
	}
	if (ids.n == 0) {
		snprintf(err, errlen, "age-tool: no identity (-i)");
		rc = 2;
		goto out;
	}
	if (age_dec_open(&d, &ids, to_stdout, NULL, err, errlen) != 0)
		goto out;
	if (pump(d, dec_feed, err, errlen) != 0)
		goto out;
	rc = age_dec_finish(d, err, errlen) == 0 ? 0 : 1;
	d = NULL;
out:
	age_dec_abort(d);
	age_identities_free(&ids);
	age_identities_free(&more);
	return rc;
}

int main(int argc, char **argv)
{
	char err[1024] = "";
	int rc = 2;
	if (age_init(err, sizeof(err)) != 0)
		rc = 1;
	else if (argc >= 2 && strcmp(argv[1], "encrypt") == 0)
		rc = encrypt_main(argc, argv, err, sizeof(err));
	else if (argc >= 2 && strcmp(argv[1], "decrypt") == 0)
		rc = decrypt_main(argc, argv, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "age-tool: usage: age-tool encrypt|decrypt ...");
	if (rc != 0)
		fprintf(stderr, "%s\n", err);
	return rc;
}
