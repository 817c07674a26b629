/* agestream.c - age v1 streams: the encryptor (header, nonce, STREAM chunks out) and the decryptor (header checked, chunks opened one by one). */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "age.h"
#include "common/buf.h"
#include "common/errbuf.h"

#define FILE_KEY_LEN 16
#define VERSION_LINE "age-encryption.org/v1\n"
#define ORDER_WINDOW 8 /* chunk positions tried on either side of a failed chunk */

/* The AEAD nonce of chunk k: 11-byte big-endian counter, then the flag. */
static void chunk_nonce(uint8_t nonce[12], uint64_t k, int last)
{
	memset(nonce, 0, 12);
	for (int i = 0; i < 8; i++)
		nonce[10 - i] = (uint8_t)(k >> (8 * i));
	nonce[11] = last ? 1 : 0;
}

/* A block of `size` bytes that is not the stream's last: sealed or opened
 * by the stream s.  Returns 0, or negative with err filled. */
typedef int (*block_fn)(void *s, const uint8_t *blk, char *err, size_t errlen);

/* Feed p (len bytes) through the holding buffer hold (*fill of size bytes
 * used): a full block is passed to fn only once a byte after it is known,
 * since the last block is handled differently (at the end, by the
 * caller); whole blocks go to fn straight from p when hold is empty.
 * Returns 0, or fn's code. */
static int hold_feed(uint8_t *hold, size_t *fill, size_t size, const uint8_t *p, size_t len,
                     block_fn fn, void *s, char *err, size_t errlen)
{
	while (len > 0) {
		int rc;
		if (*fill == size) {
			rc = fn(s, hold, err, errlen);
			if (rc != 0)
				return rc;
			*fill = 0;
		}
		if (*fill == 0 && len > size) {
			rc = fn(s, p, err, errlen);
			if (rc != 0)
				return rc;
			p += size;
			len -= size;
			continue;
		}
		size_t n = size - *fill < len ? size - *fill : len;
		memcpy(hold + *fill, p, n);
		*fill += n;
		p += n;
		len -= n;
	}
	return 0;
}

/* ---- encryption ---------------------------------------------------------------- */

struct age_enc {
	age_out_fn out;
	void *ctx;
	int failed;
	uint8_t key[32];
	uint64_t counter;
	size_t fill;
	uint8_t plain[AGE_CHUNK];
	uint8_t sealed[AGE_SEALED_CHUNK];
};

/* Seal len bytes of src as the next chunk and pass it to out.  Returns 0,
 * or out's code (or -1) with err filled; e is then failed. */
static int enc_seal(struct age_enc *e, const uint8_t *src, size_t len, int last, char *err,
                    size_t errlen)
{
	uint8_t nonce[12];
	if (e->counter == UINT64_MAX) {
		cm_errf(err, errlen, "age: too many chunks");
		e->failed = 1;
		return -1;
	}
	chunk_nonce(nonce, e->counter, last);
	crypto_aead_chacha20poly1305_ietf_encrypt(e->sealed, NULL, src, len, NULL, 0, NULL, nonce,
	                                          e->key);
	e->counter++;
	int rc = e->out(e->ctx, e->sealed, len + AGE_TAG, err, errlen);
	if (rc != 0) {
		e->failed = 1;
		return rc < 0 ? rc : -1;
	}
	return 0;
}

int age_enc_open(struct age_enc **e, const struct age_recipients *r, age_out_fn out, void *ctx,
                 char *err, size_t errlen)
{
	uint8_t fk[FILE_KEY_LEN], nonce[AGE_NONCE_LEN];
	struct cm_buf h = {0};
	struct age_enc *n = NULL;
	int rc = -1;
	*e = NULL;
	n = calloc(1, sizeof(*n));
	if (n == NULL) {
		cm_errf(err, errlen, "age: out of memory");
		return -1;
	}
	n->out = out;
	n->ctx = ctx;
	randombytes_buf(fk, sizeof(fk));
	randombytes_buf(nonce, sizeof(nonce));
	if (age_hdr_write(&h, r, fk, err, errlen) != 0)
		goto out;
	if (cm_buf_add(&h, nonce, sizeof(nonce)) != 0) {
		cm_errf(err, errlen, "age: out of memory");
		goto out;
	}
	age_hkdf(n->key, nonce, sizeof(nonce), fk, sizeof(fk), "payload");
	rc = out(ctx, h.p, h.len, err, errlen);
	if (rc != 0) {
		rc = rc < 0 ? rc : -1;
		goto out;
	}
	*e = n;
	n = NULL;
out:
	sodium_memzero(fk, sizeof(fk));
	cm_buf_free(&h);
	age_enc_abort(n);
	return rc;
}

/* A full chunk that is not the last one. */
static int enc_block(void *s, const uint8_t *blk, char *err, size_t errlen)
{
	return enc_seal(s, blk, AGE_CHUNK, 0, err, errlen);
}

int age_enc_write(struct age_enc *e, const void *buf, size_t len, char *err, size_t errlen)
{
	if (e->failed) {
		cm_errf(err, errlen, "age: write after a failed write");
		return -1;
	}
	return hold_feed(e->plain, &e->fill, AGE_CHUNK, buf, len, enc_block, e, err, errlen);
}

int age_enc_finish(struct age_enc *e, char *err, size_t errlen)
{
	int rc = -1;
	if (e->failed)
		cm_errf(err, errlen, "age: finish after a failed write");
	else
		rc = enc_seal(e, e->plain, e->fill, 1, err, errlen);
	age_enc_abort(e);
	return rc;
}

void age_enc_abort(struct age_enc *e)
{
	if (e == NULL)
		return;
	sodium_memzero(e, sizeof(*e));
	free(e);
}

/* ---- decryption ---------------------------------------------------------------- */

enum dec_state { DEC_HEADER, DEC_NONCE, DEC_PAYLOAD, DEC_FAILED };

struct age_dec {
	const struct age_identities *ids;
	age_out_fn out;
	void *ctx;
	enum dec_state state;
	struct cm_buf hdr;
	size_t line_start; /* where the header line being read begins in hdr */
	uint8_t fk[FILE_KEY_LEN];
	uint8_t nonce[AGE_NONCE_LEN];
	size_t nonce_fill;
	uint8_t key[32];
	uint64_t counter; /* chunks opened so far */
	size_t fill;
	uint8_t sealed[AGE_SEALED_CHUNK];
	uint8_t plain[AGE_CHUNK];
};

int age_dec_open(struct age_dec **d, const struct age_identities *ids, age_out_fn out, void *ctx,
                 char *err, size_t errlen)
{
	*d = NULL;
	if (ids->n == 0) {
		cm_errf(err, errlen, "age: no identity to decrypt with");
		return -1;
	}
	struct age_dec *n = calloc(1, sizeof(*n));
	if (n == NULL) {
		cm_errf(err, errlen, "age: out of memory");
		return -1;
	}
	n->ids = ids;
	n->out = out;
	n->ctx = ctx;
	*d = n;
	return 0;
}

int age_check_open(struct age_dec **d, char *err, size_t errlen)
{
	*d = calloc(1, sizeof(**d));
	if (*d == NULL) {
		cm_errf(err, errlen, "age: out of memory");
		return -1;
	}
	return 0; /* ids NULL: check only */
}

/* Take header bytes from *p (at most one line at a time) until the MAC
 * line is complete, then parse the header.  Returns 0 (with d->state
 * DEC_NONCE once the header is read), or an AGE_E_ code with err filled. */
static int dec_header(struct age_dec *d, const uint8_t **p, size_t *len, char *err, size_t errlen)
{
	while (*len > 0 && d->state == DEC_HEADER) {
		const uint8_t *nl = memchr(*p, '\n', *len);
		size_t take = nl != NULL ? (size_t)(nl - *p) + 1 : *len;
		if (d->hdr.len + take > AGE_HEADER_MAX) {
			cm_errf(err, errlen, "age: header longer than %d bytes: not an age file?",
			        AGE_HEADER_MAX);
			return AGE_E_FORMAT;
		}
		if (cm_buf_add(&d->hdr, *p, take) != 0) {
			cm_errf(err, errlen, "age: out of memory");
			return -1;
		}
		*p += take;
		*len -= take;
		if (d->line_start == 0) {
			size_t n = d->hdr.len < strlen(VERSION_LINE) ? d->hdr.len
			                                             : strlen(VERSION_LINE);
			if (memcmp(d->hdr.p, VERSION_LINE, n) != 0) {
				if (strncmp(d->hdr.p, "-----BEGIN",
				            d->hdr.len < 10 ? d->hdr.len : 10) == 0)
					cm_errf(err, errlen,
					        "age: armored (PEM) age files are not supported");
				else
					cm_errf(err, errlen,
					        "age: not an age v1 file (it does not begin with \"age-encryption.org/v1\")");
				return AGE_E_FORMAT;
			}
		}
		if (nl == NULL)
			break;
		const char *line = d->hdr.p + d->line_start;
		d->line_start = d->hdr.len;
		if (strncmp(line, "---", 3) != 0)
			continue;
		int rc = age_hdr_parse(d->hdr.p, d->hdr.len, d->ids, d->fk, err, errlen);
		if (rc != 0)
			return rc;
		d->state = DEC_NONCE;
	}
	return 0;
}

/* Open src (n bytes) as chunk k with the last-chunk flag into d->plain.
 * Returns 0 when it authenticates, else -1. */
static int try_open(struct age_dec *d, const uint8_t *src, size_t n, uint64_t k, int last)
{
	uint8_t nonce[12];
	chunk_nonce(nonce, k, last);
	return crypto_aead_chacha20poly1305_ietf_decrypt(d->plain, NULL, NULL, src, n, NULL, 0,
	                                                 nonce, d->key);
}

/* Why chunk src (n bytes, at position d->counter) did not open as `last`
 * says: data after the last chunk, a cut file, a chunk from elsewhere in
 * the file, else damage.  Returns the AGE_E_ code, err filled. */
static int dec_diagnose(struct age_dec *d, const uint8_t *src, size_t n, int last, char *err,
                        size_t errlen)
{
	unsigned long long no = (unsigned long long)d->counter + 1;
	if (!last && try_open(d, src, n, d->counter, 1) == 0) {
		cm_errf(err, errlen, "age: data after the last chunk (chunk %llu)", no);
		return AGE_E_TRAILING;
	}
	if (last && n == AGE_SEALED_CHUNK && try_open(d, src, n, d->counter, 0) == 0) {
		cm_errf(err, errlen,
		        "age: the file is truncated: it ends after chunk %llu, which is not the last chunk",
		        no);
		return AGE_E_TRUNCATED;
	}
	uint64_t lo = d->counter > ORDER_WINDOW ? d->counter - ORDER_WINDOW : 0;
	for (uint64_t k = lo; k <= d->counter + ORDER_WINDOW; k++) {
		for (int l = 0; l < 2 && k != d->counter; l++) {
			if (try_open(d, src, n, k, l) == 0) {
				cm_errf(err, errlen,
				        "age: chunk %llu is chunk %llu of the file: chunks reordered",
				        no, (unsigned long long)k + 1);
				return AGE_E_ORDER;
			}
		}
	}
	cm_errf(err, errlen, "age: chunk %llu does not authenticate: the file is damaged%s", no,
	        last && n < AGE_SEALED_CHUNK ? " or truncated" : "");
	return AGE_E_AUTH;
}

/* Open src (n bytes) as the next chunk, the last one when `last`, and pass
 * the plaintext on.  Returns 0, or an AGE_E_ code, out's code or -1 with
 * err filled. */
static int dec_chunk(struct age_dec *d, const uint8_t *src, size_t n, int last, char *err,
                     size_t errlen)
{
	if (n < AGE_TAG) {
		cm_errf(err, errlen, "age: the file is truncated: chunk %llu has %zu bytes",
		        (unsigned long long)d->counter + 1, n);
		return AGE_E_TRUNCATED;
	}
	if (d->ids != NULL && try_open(d, src, n, d->counter, last) != 0)
		return dec_diagnose(d, src, n, last, err, errlen);
	if (last && n == AGE_TAG && d->counter > 0) {
		cm_errf(err, errlen, "age: empty last chunk after %llu chunks (not allowed)",
		        (unsigned long long)d->counter);
		return AGE_E_FORMAT;
	}
	d->counter++;
	if (d->ids == NULL)
		return 0; /* checked without the key: no plaintext */
	int rc = d->out(d->ctx, d->plain, n - AGE_TAG, err, errlen);
	return rc == 0 ? 0 : rc < 0 ? rc : -1;
}

/* A full sealed chunk with more data after it. */
static int dec_block(void *s, const uint8_t *blk, char *err, size_t errlen)
{
	return dec_chunk(s, blk, AGE_SEALED_CHUNK, 0, err, errlen);
}

int age_dec_write(struct age_dec *d, const void *buf, size_t len, char *err, size_t errlen)
{
	const uint8_t *p = buf;
	int rc = 0;
	if (d->state == DEC_FAILED) {
		cm_errf(err, errlen, "age: write after a failed write");
		return -1;
	}
	if (d->state == DEC_HEADER) {
		rc = dec_header(d, &p, &len, err, errlen);
		if (rc != 0)
			goto out;
	}
	if (d->state == DEC_NONCE && len > 0) {
		size_t n = AGE_NONCE_LEN - d->nonce_fill < len ? AGE_NONCE_LEN - d->nonce_fill
		                                               : len;
		memcpy(d->nonce + d->nonce_fill, p, n);
		d->nonce_fill += n;
		p += n;
		len -= n;
		if (d->nonce_fill == AGE_NONCE_LEN && d->ids == NULL) {
			cm_buf_free(&d->hdr);
			d->state = DEC_PAYLOAD;
		} else if (d->nonce_fill == AGE_NONCE_LEN) {
			age_hkdf(d->key, d->nonce, sizeof(d->nonce), d->fk, sizeof(d->fk),
			         "payload");
			sodium_memzero(d->fk, sizeof(d->fk));
			cm_buf_free(&d->hdr);
			d->state = DEC_PAYLOAD;
		}
	}
	if (d->state == DEC_PAYLOAD)
		rc = hold_feed(d->sealed, &d->fill, AGE_SEALED_CHUNK, p, len, dec_block, d, err,
		               errlen);
out:
	if (rc != 0)
		d->state = DEC_FAILED;
	return rc;
}

int age_dec_finish(struct age_dec *d, char *err, size_t errlen)
{
	int rc = AGE_E_TRUNCATED;
	switch (d->state) {
	case DEC_FAILED:
		cm_errf(err, errlen, "age: finish after a failed write");
		rc = -1;
		break;
	case DEC_HEADER:
		cm_errf(err, errlen, "age: the file is truncated: it ends in the header");
		break;
	case DEC_NONCE:
		cm_errf(err, errlen, "age: the file is truncated: it ends before the payload");
		break;
	case DEC_PAYLOAD:
		if (d->fill == 0)
			cm_errf(err, errlen,
			        "age: the file is truncated: no last chunk after %llu chunks",
			        (unsigned long long)d->counter);
		else
			rc = dec_chunk(d, d->sealed, d->fill, 1, err, errlen);
		break;
	}
	age_dec_abort(d);
	return rc;
}

void age_dec_abort(struct age_dec *d)
{
	if (d == NULL)
		return;
	cm_buf_free(&d->hdr);
	sodium_memzero(d, sizeof(*d));
	free(d);
}
