/* agekey.c - age keys: Bech32 recipients ("age1...") and identities ("AGE-SECRET-KEY-1..."), recipient and identity files, the recipient set's fingerprint. */
#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "age.h"
#include "common/errbuf.h"

#define B32_CHARSET   "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
#define B32_CHECKSUM  6
#define B32_MAX_DATA  128 /* 5-bit groups we decode: keys need 52 */
#define HRP_RECIPIENT "age"
#define HRP_IDENTITY  "age-secret-key-"
#define SHOWN_MAX     100 /* characters of a bad recipient quoted in errors */

/* ---- Bech32 (BIP 173, without its length limit) ---------------------------- */

static uint32_t b32_polymod_step(uint32_t chk, uint8_t v)
{
	static const uint32_t gen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
	uint32_t top = chk >> 25;
	chk = ((chk & 0x1ffffff) << 5) ^ v;
	for (int i = 0; i < 5; i++)
		if ((top >> i) & 1)
			chk ^= gen[i];
	return chk;
}

/* The checksum state over the expanded lower-case HRP (hrplen bytes). */
static uint32_t b32_hrp_polymod(const char *hrp, size_t hrplen)
{
	uint32_t chk = 1;
	for (size_t i = 0; i < hrplen; i++)
		chk = b32_polymod_step(chk, (uint8_t)(tolower((unsigned char)hrp[i]) >> 5));
	chk = b32_polymod_step(chk, 0);
	for (size_t i = 0; i < hrplen; i++)
		chk = b32_polymod_step(chk, (uint8_t)(tolower((unsigned char)hrp[i]) & 31));
	return chk;
}

/* Decode Bech32 string s whose HRP must be `want` (lower case) into
 * exactly outlen bytes.  Returns 0, or -1 with why (whylen bytes) saying
 * what is wrong, never quoting s. */
static int b32_decode(const char *s, const char *want, uint8_t *out, size_t outlen, char *why,
                      size_t whylen)
{
	size_t len = strlen(s), lower = 0, upper = 0;
	if (len == 0) {
		cm_errf(why, whylen, "empty");
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 33 || c > 126) {
			cm_errf(why, whylen, "character %zu is not printable ASCII", i + 1);
			return -1;
		}
		lower += islower(c) != 0;
		upper += isupper(c) != 0;
	}
	if (lower > 0 && upper > 0) {
		cm_errf(why, whylen, "mixes upper and lower case (Bech32 is one or the other)");
		return -1;
	}
	const char *sep = strrchr(s, '1');
	if (sep == NULL || sep == s) {
		cm_errf(why, whylen, "no Bech32 separator '1'");
		return -1;
	}
	size_t hrplen = (size_t)(sep - s);
	if (hrplen != strlen(want) || strncasecmp(s, want, hrplen) != 0) {
		cm_errf(why, whylen, "type \"%.*s\" is not supported (want \"%s\")", (int)hrplen, s,
		        want);
		return -1;
	}
	const char *data = sep + 1;
	size_t dlen = len - hrplen - 1;
	if (dlen < B32_CHECKSUM + 1 || dlen > B32_MAX_DATA) {
		cm_errf(why, whylen, "wrong length (%zu characters)", len);
		return -1;
	}
	uint8_t v[B32_MAX_DATA];
	uint32_t chk = b32_hrp_polymod(s, hrplen);
	for (size_t i = 0; i < dlen; i++) {
		const char *p = strchr(B32_CHARSET, tolower((unsigned char)data[i]));
		if (p == NULL) {
			cm_errf(why, whylen, "character %zu '%c' is not in the Bech32 alphabet",
			        hrplen + 2 + i, data[i]);
			return -1;
		}
		v[i] = (uint8_t)(p - B32_CHARSET);
		chk = b32_polymod_step(chk, v[i]);
	}
	if (chk != 1) {
		cm_errf(why, whylen, "checksum does not match (mistyped or cut?)");
		return -1;
	}
	/* 5-bit groups to bytes; what is left over must be under 5 zero bits. */
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t n = 0;
	for (size_t i = 0; i < dlen - B32_CHECKSUM; i++) {
		acc = (acc << 5) | v[i];
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			if (n < outlen)
				out[n] = (uint8_t)(acc >> bits);
			n++;
		}
	}
	if (n != outlen) {
		cm_errf(why, whylen, "key of %zu bytes (want %zu)", n, outlen);
		return -1;
	}
	if (bits >= 5 || (acc & ((1u << bits) - 1)) != 0) {
		cm_errf(why, whylen, "non-zero padding bits");
		return -1;
	}
	return 0;
}

int age_recipient_parse(const char *s, uint8_t pk[AGE_KEY_LEN], char *err, size_t errlen)
{
	char why[160];
	if (strncmp(s, "ssh-", 4) == 0) {
		cm_errf(err, errlen, "age: recipient \"%.*s\": SSH keys are not supported",
		        SHOWN_MAX, s);
		return -1;
	}
	if (b32_decode(s, HRP_RECIPIENT, pk, AGE_KEY_LEN, why, sizeof(why)) != 0) {
		cm_errf(err, errlen, "age: recipient \"%.*s\": %s", SHOWN_MAX, s, why);
		return -1;
	}
	return 0;
}

int age_bech32_encode(const char *hrp, const uint8_t *data, size_t len, char *out, size_t outlen)
{
	size_t hrplen = strlen(hrp), groups = (len * 8 + 4) / 5;
	if (groups > B32_MAX_DATA || hrplen + 1 + groups + B32_CHECKSUM + 1 > outlen)
		return -1;
	uint8_t v[B32_MAX_DATA + B32_CHECKSUM];
	size_t n = 0;
	uint32_t acc = 0;
	unsigned bits = 0;
	for (size_t i = 0; i < len; i++) {
		acc = (acc << 8) | data[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			v[n++] = (uint8_t)((acc >> bits) & 31);
		}
	}
	if (bits > 0)
		v[n++] = (uint8_t)((acc << (5 - bits)) & 31);
	uint32_t chk = b32_hrp_polymod(hrp, hrplen);
	for (size_t i = 0; i < n; i++)
		chk = b32_polymod_step(chk, v[i]);
	for (int i = 0; i < B32_CHECKSUM; i++)
		chk = b32_polymod_step(chk, 0);
	chk ^= 1;
	for (int i = 0; i < B32_CHECKSUM; i++)
		v[n + (size_t)i] = (uint8_t)((chk >> (5 * (B32_CHECKSUM - 1 - i))) & 31);
	for (size_t i = 0; i < hrplen; i++)
		out[i] = (char)tolower((unsigned char)hrp[i]);
	out[hrplen] = '1';
	for (size_t i = 0; i < n + B32_CHECKSUM; i++)
		out[hrplen + 1 + i] = B32_CHARSET[v[i]];
	out[hrplen + 1 + n + B32_CHECKSUM] = '\0';
	return 0;
}

void age_recipient_format(const uint8_t pk[AGE_KEY_LEN], char out[AGE_RECIPIENT_CHARS + 1])
{
	age_bech32_encode(HRP_RECIPIENT, pk, AGE_KEY_LEN, out, AGE_RECIPIENT_CHARS + 1);
}

int age_identity_parse(const char *s, uint8_t sk[AGE_KEY_LEN], char *err, size_t errlen)
{
	char why[160];
	if (strncmp(s, "age1", 4) == 0) {
		cm_errf(err, errlen,
		        "age: identity: this is a recipient (public key), not an identity");
		return -1;
	}
	if (b32_decode(s, HRP_IDENTITY, sk, AGE_KEY_LEN, why, sizeof(why)) != 0) {
		cm_errf(err, errlen, "age: identity: %s", why);
		sodium_memzero(sk, AGE_KEY_LEN);
		return -1;
	}
	return 0;
}

int age_identity_public(const uint8_t sk[AGE_KEY_LEN], uint8_t pk[AGE_KEY_LEN])
{
	return crypto_scalarmult_base(pk, sk) == 0 ? 0 : -1;
}

/* ---- lists ------------------------------------------------------------------ */

/* Make room for one more key in a list of `*cap` keys of which n are used
 * (*keys reallocated; `wipe` clears the old block first).  Returns 0, or -1. */
static int grow(uint8_t (**keys)[AGE_KEY_LEN], size_t n, size_t *cap, int wipe)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap == 0 ? 4 : *cap * 2;
	uint8_t(*p)[AGE_KEY_LEN] = malloc(ncap * AGE_KEY_LEN);
	if (p == NULL)
		return -1;
	if (n > 0)
		memcpy(p, *keys, n * AGE_KEY_LEN);
	if (wipe && *keys != NULL)
		sodium_memzero(*keys, *cap * AGE_KEY_LEN);
	free(*keys);
	*keys = p;
	*cap = ncap;
	return 0;
}

int age_recipients_add(struct age_recipients *r, const char *s, const char *where, char *err,
                       size_t errlen)
{
	uint8_t pk[AGE_KEY_LEN];
	char why[512];
	if (age_recipient_parse(s, pk, why, sizeof(why)) != 0) {
		if (where != NULL)
			cm_errf(err, errlen, "age: %s: %s", where, why + strlen("age: "));
		else
			cm_errf(err, errlen, "%s", why);
		return -1;
	}
	if (grow(&r->pk, r->n, &r->cap, 0) != 0) {
		cm_errf(err, errlen, "age: out of memory");
		return -1;
	}
	memcpy(r->pk[r->n++], pk, AGE_KEY_LEN);
	return 0;
}

int age_recipients_from_strings(const char *const *s, size_t n, struct age_recipients *out,
                                char *err, size_t errlen)
{
	age_recipients_free(out);
	if (n == 0) {
		cm_errf(err, errlen, "age: no recipient given");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (age_recipients_add(out, s[i], NULL, err, errlen) != 0) {
			age_recipients_free(out);
			return -1;
		}
	}
	return 0;
}

/* Call fn(ctx, line, "PATH:N") for each line of the file that is neither
 * blank nor a '#' comment, trimmed of surrounding white space.  The line
 * buffer is wiped (it may hold secret keys).  Returns 0 with *count lines
 * passed, or -1 with err filled (the file cannot be read) or fn's error. */
static int each_line(const char *path, const char *what,
                     int (*fn)(void *ctx, const char *line, const char *where, char *err,
                               size_t errlen),
                     void *ctx, size_t *count, char *err, size_t errlen)
{
	int rc = -1;
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	*count = 0;
	FILE *f = fopen(path, "re");
	if (f == NULL) {
		cm_errf(err, errlen, "age: cannot read %s %s: %s", what, path, strerror(errno));
		return -1;
	}
	for (;;) {
		errno = 0;
		ssize_t got = getline(&line, &cap, f);
		if (got < 0) {
			if (ferror(f)) {
				cm_errf(err, errlen, "age: cannot read %s %s: %s", what, path,
				        strerror(errno));
				goto out;
			}
			break;
		}
		lineno++;
		size_t len = (size_t)got;
		while (len > 0 && isspace((unsigned char)line[len - 1]))
			line[--len] = '\0';
		const char *p = line;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		char where[4200];
		snprintf(where, sizeof(where), "%s:%zu", path, lineno);
		if (fn(ctx, p, where, err, errlen) != 0)
			goto out;
		(*count)++;
	}
	rc = 0;
out:
	if (line != NULL)
		sodium_memzero(line, cap);
	free(line);
	fclose(f);
	return rc;
}

static int recipient_line(void *ctx, const char *line, const char *where, char *err, size_t errlen)
{
	return age_recipients_add(ctx, line, where, err, errlen);
}

int age_recipients_file(const char *path, struct age_recipients *out, char *err, size_t errlen)
{
	size_t count = 0;
	age_recipients_free(out);
	int rc = each_line(path, "recipients file", recipient_line, out, &count, err, errlen);
	if (rc == 0 && count == 0) {
		cm_errf(err, errlen, "age: recipients file %s has no recipient", path);
		rc = -1;
	}
	if (rc != 0)
		age_recipients_free(out);
	return rc;
}

/* Distinct keys are hashed in ascending order, each found by a pass over
 * the list (no copy to allocate; recipient lists are short). */
void age_recipients_fingerprint(const struct age_recipients *r, char hex[65])
{
	uint8_t sum[crypto_hash_sha256_BYTES], last[AGE_KEY_LEN], cur[AGE_KEY_LEN];
	crypto_hash_sha256_state st;
	int have_last = 0;
	crypto_hash_sha256_init(&st);
	for (;;) {
		int found = 0;
		for (size_t i = 0; i < r->n; i++) {
			if (have_last && memcmp(r->pk[i], last, AGE_KEY_LEN) <= 0)
				continue;
			if (!found || memcmp(r->pk[i], cur, AGE_KEY_LEN) < 0)
				memcpy(cur, r->pk[i], AGE_KEY_LEN);
			found = 1;
		}
		if (!found)
			break;
		crypto_hash_sha256_update(&st, cur, AGE_KEY_LEN);
		memcpy(last, cur, AGE_KEY_LEN);
		have_last = 1;
	}
	crypto_hash_sha256_final(&st, sum);
	sodium_bin2hex(hex, 65, sum, sizeof(sum));
}

void age_recipients_free(struct age_recipients *r)
{
	free(r->pk);
	r->pk = NULL;
	r->n = r->cap = 0;
}

int age_identities_add(struct age_identities *ids, const uint8_t sk[AGE_KEY_LEN], char *err,
                       size_t errlen)
{
	if (grow(&ids->sk, ids->n, &ids->cap, 1) != 0) {
		cm_errf(err, errlen, "age: out of memory");
		return -1;
	}
	memcpy(ids->sk[ids->n++], sk, AGE_KEY_LEN);
	return 0;
}

static int identity_line(void *ctx, const char *line, const char *where, char *err, size_t errlen)
{
	uint8_t sk[AGE_KEY_LEN];
	char why[256];
	if (age_identity_parse(line, sk, why, sizeof(why)) != 0) {
		cm_errf(err, errlen, "age: %s: %s", where, why + strlen("age: "));
		return -1;
	}
	int rc = age_identities_add(ctx, sk, err, errlen);
	sodium_memzero(sk, sizeof(sk));
	return rc;
}

int age_identities_file(const char *path, struct age_identities *out, char *err, size_t errlen)
{
	size_t count = 0;
	age_identities_free(out);
	int rc = each_line(path, "identity file", identity_line, out, &count, err, errlen);
	if (rc == 0 && count == 0) {
		cm_errf(err, errlen, "age: identity file %s has no identity", path);
		rc = -1;
	}
	if (rc != 0)
		age_identities_free(out);
	return rc;
}

void age_identities_free(struct age_identities *ids)
{
	if (ids->sk != NULL)
		sodium_memzero(ids->sk, ids->cap * AGE_KEY_LEN);
	free(ids->sk);
	ids->sk = NULL;
	ids->n = ids->cap = 0;
}
