/* agehdr.c - the age v1 header: X25519 stanzas wrapping the file key, the header MAC, written and parsed; canonical unpadded base64. */
#include <sodium.h>
#include <string.h>

#include "age.h"
#include "common/buf.h"
#include "common/errbuf.h"

#define VERSION_LINE "age-encryption.org/v1"
#define X25519_INFO  "age-encryption.org/v1/X25519"
#define B64_LINE     64 /* body lines are wrapped at 64 columns */
#define B64_32       43 /* characters of 32 bytes in unpadded base64 */
#define MAX_ARGS     16
#define FILE_KEY_LEN 16
#define B64_VARIANT  sodium_base64_VARIANT_ORIGINAL_NO_PADDING

static const uint8_t zero_nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];

static int is_b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/* Decoding and encoding again must give the same text: that rejects '='
 * padding, other lengths and non-zero trailing bits (non-canonical). */
int age_b64_decode(const char *s, size_t len, uint8_t *out, size_t outlen)
{
	char again[B64_LINE * 4 + 1];
	size_t got = 0;
	const char *end = NULL;
	if (len != (outlen * 4 + 2) / 3 || outlen > sizeof(again) * 3 / 4 - 3)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (!is_b64_char(s[i]))
			return -1;
	if (sodium_base642bin(out, outlen, s, len, NULL, &got, &end, B64_VARIANT) != 0 ||
	    got != outlen || end != s + len)
		return -1;
	sodium_bin2base64(again, sizeof(again), out, outlen, B64_VARIANT);
	return strlen(again) == len && memcmp(again, s, len) == 0 ? 0 : -1;
}

/* Append the unpadded base64 of n bytes (n <= 48) to h. */
static void b64_add(struct cm_buf *h, const uint8_t *p, size_t n)
{
	char text[B64_LINE + 2];
	sodium_bin2base64(text, sizeof(text), p, n, B64_VARIANT);
	cm_buf_str(h, text);
}

/* The wrap key of a stanza: HKDF(ikm = shared, salt = share || recipient). */
static void wrap_key(uint8_t key[32], const uint8_t shared[32], const uint8_t share[32],
                     const uint8_t recipient[32])
{
	uint8_t salt[64];
	memcpy(salt, share, 32);
	memcpy(salt + 32, recipient, 32);
	age_hkdf(key, salt, sizeof(salt), shared, 32, X25519_INFO);
}

/* HMAC-SHA-256 of hdr[0..len) under HKDF(file key, "header"). */
static void header_mac(uint8_t mac[32], const uint8_t fk[FILE_KEY_LEN], const char *hdr, size_t len)
{
	uint8_t key[32];
	age_hkdf(key, NULL, 0, fk, FILE_KEY_LEN, "header");
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, key, sizeof(key));
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)hdr, len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(&st, sizeof(st));
}

int age_hdr_write(struct cm_buf *h, const struct age_recipients *r, const uint8_t fk[16], char *err,
                  size_t errlen)
{
	int rc = -1;
	uint8_t esk[32], epk[32], shared[32], key[32], body[FILE_KEY_LEN + AGE_TAG], mac[32];
	size_t start = h->len;
	if (r->n == 0) {
		cm_errf(err, errlen, "age: no recipient");
		return -1;
	}
	cm_buf_str(h, VERSION_LINE "\n");
	for (size_t i = 0; i < r->n; i++) {
		randombytes_buf(esk, sizeof(esk));
		crypto_scalarmult_base(epk, esk);
		if (crypto_scalarmult(shared, esk, r->pk[i]) != 0) {
			cm_errf(err, errlen,
			        "age: recipient %zu is not a usable X25519 key (low order)", i + 1);
			goto out;
		}
		wrap_key(key, shared, epk, r->pk[i]);
		crypto_aead_chacha20poly1305_ietf_encrypt(body, NULL, fk, FILE_KEY_LEN, NULL, 0,
		                                          NULL, zero_nonce, key);
		cm_buf_str(h, "-> X25519 ");
		b64_add(h, epk, sizeof(epk));
		cm_buf_str(h, "\n");
		b64_add(h, body, sizeof(body));
		cm_buf_str(h, "\n");
	}
	cm_buf_str(h, "---");
	if (h->failed) {
		cm_errf(err, errlen, "age: out of memory");
		goto out;
	}
	header_mac(mac, fk, h->p + start, h->len - start);
	cm_buf_str(h, " ");
	b64_add(h, mac, sizeof(mac));
	cm_buf_str(h, "\n");
	if (h->failed) {
		cm_errf(err, errlen, "age: out of memory");
		goto out;
	}
	rc = 0;
out:
	sodium_memzero(esk, sizeof(esk));
	sodium_memzero(shared, sizeof(shared));
	sodium_memzero(key, sizeof(key));
	return rc;
}

/* ---- parsing ----------------------------------------------------------------- */

struct hdr_cursor {
	const char *p;
	size_t len, pos;
	unsigned lineno;
};

/* The next line (without its LF) as *line, *llen.  Returns 0, or -1 when
 * no LF is left. */
static int next_line(struct hdr_cursor *c, const char **line, size_t *llen)
{
	const char *nl = memchr(c->p + c->pos, '\n', c->len - c->pos);
	if (nl == NULL)
		return -1;
	*line = c->p + c->pos;
	*llen = (size_t)(nl - *line);
	c->pos += *llen + 1;
	c->lineno++;
	return 0;
}

/* Try identity sk on the X25519 stanza (share, body): the file key into
 * fk.  Returns 1 when it unwraps, 0 when not, -1 when the share is of low
 * order (all-zero shared secret: the file must be refused). */
static int x25519_unwrap(const uint8_t sk[32], const uint8_t share[32], const uint8_t body[32],
                         uint8_t fk[FILE_KEY_LEN])
{
	uint8_t shared[32], pk[32], key[32];
	int rc = 0;
	if (crypto_scalarmult(shared, sk, share) != 0)
		return -1;
	if (crypto_scalarmult_base(pk, sk) != 0)
		goto out;
	wrap_key(key, shared, share, pk);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(fk, NULL, NULL, body, 32, NULL, 0, zero_nonce,
	                                              key) == 0)
		rc = 1;
out:
	sodium_memzero(shared, sizeof(shared));
	sodium_memzero(key, sizeof(key));
	return rc;
}

/* One stanza whose "-> " line is line/llen: its arguments and body lines
 * read from c; an X25519 stanza is tried with each identity unless *found.
 * Returns 0, or AGE_E_FORMAT with err filled. */
static int read_stanza(struct hdr_cursor *c, const char *line, size_t llen,
                       const struct age_identities *ids, uint8_t fk[FILE_KEY_LEN], int *found,
                       char *err, size_t errlen)
{
	const char *arg[MAX_ARGS];
	size_t alen[MAX_ARGS], nargs = 0, at = 3;
	unsigned first = c->lineno;
	while (at <= llen) {
		size_t end = at;
		while (end < llen && line[end] != ' ')
			end++;
		if (end == at || nargs == MAX_ARGS) {
			cm_errf(err, errlen, "age: header line %u: %s", first,
			        end == at ? "empty stanza argument" : "too many stanza arguments");
			return AGE_E_FORMAT;
		}
		for (size_t i = at; i < end; i++) {
			if (line[i] < 33 || line[i] > 126) {
				cm_errf(err, errlen, "age: header line %u: bad character in stanza",
				        first);
				return AGE_E_FORMAT;
			}
		}
		arg[nargs] = line + at;
		alen[nargs++] = end - at;
		at = end + 1;
	}
	const char *body = NULL, *b;
	size_t blen = 0, body_lines = 0;
	for (;;) {
		if (next_line(c, &b, &blen) != 0) {
			cm_errf(err, errlen, "age: header line %u: stanza without a body", first);
			return AGE_E_FORMAT;
		}
		for (size_t i = 0; i < blen; i++) {
			if (!is_b64_char(b[i])) {
				cm_errf(err, errlen,
				        "age: header line %u: stanza body is not base64",
				        c->lineno);
				return AGE_E_FORMAT;
			}
		}
		if (blen > B64_LINE) {
			cm_errf(err, errlen, "age: header line %u: stanza body line longer than 64",
			        c->lineno);
			return AGE_E_FORMAT;
		}
		if (body_lines++ == 0)
			body = b;
		if (blen < B64_LINE)
			break;
	}
	if (alen[0] != 6 || memcmp(arg[0], "X25519", 6) != 0)
		return 0; /* another recipient type: not ours to read */
	uint8_t share[32], sealed[32];
	if (nargs != 2 || age_b64_decode(arg[1], alen[1], share, sizeof(share)) != 0 ||
	    body_lines != 1 || age_b64_decode(body, blen, sealed, sizeof(sealed)) != 0) {
		cm_errf(err, errlen, "age: header line %u: malformed X25519 stanza", first);
		return AGE_E_FORMAT;
	}
	for (size_t i = 0; ids != NULL && i < ids->n && !*found; i++) {
		int rc = x25519_unwrap(ids->sk[i], share, sealed, fk);
		if (rc < 0) {
			cm_errf(err, errlen, "age: header line %u: X25519 share of low order",
			        first);
			return AGE_E_FORMAT;
		}
		*found = rc;
	}
	return 0;
}

int age_hdr_parse(const char *hdr, size_t len, const struct age_identities *ids, uint8_t fk[16],
                  char *err, size_t errlen)
{
	struct hdr_cursor c = {.p = hdr, .len = len};
	const char *line;
	size_t llen, stanzas = 0;
	int found = 0, rc;
	if (next_line(&c, &line, &llen) != 0 || llen != strlen(VERSION_LINE) ||
	    memcmp(line, VERSION_LINE, llen) != 0) {
		cm_errf(err, errlen, "age: not an age v1 file (first line is not \"%s\")",
		        VERSION_LINE);
		return AGE_E_FORMAT;
	}
	for (;;) {
		if (next_line(&c, &line, &llen) != 0) {
			cm_errf(err, errlen, "age: header ends without its MAC line");
			return AGE_E_FORMAT;
		}
		if (llen >= 3 && memcmp(line, "---", 3) == 0)
			break;
		if (llen < 3 || memcmp(line, "-> ", 3) != 0) {
			cm_errf(err, errlen, "age: header line %u: neither a stanza nor the MAC",
			        c.lineno);
			return AGE_E_FORMAT;
		}
		rc = read_stanza(&c, line, llen, ids, fk, &found, err, errlen);
		if (rc != 0)
			goto fail;
		stanzas++;
	}
	uint8_t want[32], got[32];
	if (llen != 4 + B64_32 || line[3] != ' ' || c.pos != len ||
	    age_b64_decode(line + 4, B64_32, got, sizeof(got)) != 0) {
		cm_errf(err, errlen, "age: header line %u: malformed MAC line", c.lineno);
		rc = AGE_E_FORMAT;
		goto fail;
	}
	if (stanzas == 0) {
		cm_errf(err, errlen, "age: header has no recipient stanza");
		rc = AGE_E_FORMAT;
		goto fail;
	}
	if (ids == NULL)
		return 0; /* its form only: the MAC needs the file key */
	if (!found) {
		cm_errf(err, errlen,
		        "age: no identity matches the file's recipients (%zu stanza%s; wrong key?)",
		        stanzas, stanzas == 1 ? "" : "s");
		rc = AGE_E_IDENTITY;
		goto fail;
	}
	header_mac(want, fk, hdr, (size_t)(line + 3 - hdr));
	if (sodium_memcmp(want, got, sizeof(want)) != 0) {
		cm_errf(err, errlen, "age: header MAC does not match: the header was changed");
		rc = AGE_E_MAC;
		goto fail;
	}
	return 0;
fail:
	sodium_memzero(fk, FILE_KEY_LEN);
	return rc;
}
