/* age.h - the age v1 file format (age-encryption.org/v1, X25519 recipients) on libsodium: keys, recipient lists, streaming encryption and decryption. */
#ifndef OMA_AGE_H
#define OMA_AGE_H

/*
 * The library under the encrypt plugin "age" (encrypt.c): it knows
 * nothing of oma's core, only common/ (error buffers, growable buffers) and
 * libsodium, so tests/check_age.c and tests/age-tool.c link its sources
 * directly.
 *
 * The format (C2SP age.md): a text header - the line
 * "age-encryption.org/v1", one stanza "-> X25519 SHARE" + wrapped file key
 * per recipient, "--- MAC" - then a 16-byte nonce and the payload in chunks
 * of 64 KiB, each sealed with ChaCha20-Poly1305 (16-byte tag) under a key
 * derived from the file key and the nonce; the chunk's 12-byte AEAD nonce
 * is an 11-byte big-endian counter and a last-chunk flag.  The file key (16
 * random bytes) is wrapped for each recipient under
 * HKDF-SHA-256(X25519(ephemeral secret, recipient)); a new ephemeral key is
 * made for every stanza.  Files are readable by Debian's `age -d -i` and
 * files made by `age -r` are readable here; scrypt (passphrase),
 * plugin and SSH recipients and the ASCII armor are not supported.
 *
 * Memory is bounded: an encryptor holds one 64 KiB chunk, a decryptor one
 * sealed chunk and the header (at most AGE_HEADER_MAX bytes).  Secret keys
 * and file keys are wiped (sodium_memzero) when freed.  Call sodium_init()
 * (or age_init()) once before anything else.
 *
 * Errors: functions return 0 or a negative value and fill err (errlen
 * bytes) with one line beginning "age: ".  Messages name the file and line
 * of a key file, never a secret key.  The decryptor's failures have codes
 * of their own (AGE_E_*), so callers and tests can tell them apart.
 */

#include <stddef.h>
#include <stdint.h>

#define AGE_KEY_LEN         32    /* an X25519 public or secret key */
#define AGE_CHUNK           65536 /* plaintext bytes per payload chunk */
#define AGE_TAG             16    /* Poly1305 tag after each chunk */
#define AGE_SEALED_CHUNK    (AGE_CHUNK + AGE_TAG)
#define AGE_NONCE_LEN       16            /* payload nonce after the header */
#define AGE_HEADER_MAX      (1024 * 1024) /* longest header a decryptor reads */
#define AGE_RECIPIENT_CHARS 62            /* "age1" + 52 data + 6 checksum */

/* Failures of the decryptor (and -1 for the rest: memory, the output). */
#define AGE_E_FORMAT    -2 /* not an age v1 file, or a malformed header */
#define AGE_E_IDENTITY  -3 /* no identity matches any recipient stanza */
#define AGE_E_MAC       -4 /* the header MAC does not match: header changed */
#define AGE_E_AUTH      -5 /* a chunk does not authenticate: data damaged */
#define AGE_E_TRUNCATED -6 /* the file ends before its last chunk */
#define AGE_E_TRAILING  -7 /* data after the last chunk */
#define AGE_E_ORDER     -8 /* a chunk authenticates at another position */

/* Initialise libsodium (idempotent, thread-safe).  Returns 0, or -1 with
 * err filled when libsodium cannot start. */
int age_init(char *err, size_t errlen);

/* ---- keys (agekey.c) ----------------------------------------------------- */

/* Decode an X25519 recipient "age1..." (Bech32: HRP "age", all lowercase or
 * all uppercase, checksum, 32 bytes) into pk.  Returns 0, or -1 with err
 * saying what is wrong (wrong type, mixed case, bad character, checksum,
 * length) and quoting s. */
int age_recipient_parse(const char *s, uint8_t pk[AGE_KEY_LEN], char *err, size_t errlen);

/* Encode pk as "age1..." into out (AGE_RECIPIENT_CHARS + 1 bytes). */
void age_recipient_format(const uint8_t pk[AGE_KEY_LEN], char out[AGE_RECIPIENT_CHARS + 1]);

/* Encode len bytes of data as Bech32 with HRP hrp, in lower case, into out
 * (outlen bytes).  Returns 0, or -1 when out is too small or data longer
 * than 80 bytes. */
int age_bech32_encode(const char *hrp, const uint8_t *data, size_t len, char *out, size_t outlen);

/* Decode an X25519 identity "AGE-SECRET-KEY-1..." into sk.  Returns 0, or
 * -1 with err saying what is wrong without quoting the key. */
int age_identity_parse(const char *s, uint8_t sk[AGE_KEY_LEN], char *err, size_t errlen);

/* The recipient (public key) of identity sk.  Returns 0, or -1 when sk
 * gives no usable public key. */
int age_identity_public(const uint8_t sk[AGE_KEY_LEN], uint8_t pk[AGE_KEY_LEN]);

/* A list of recipients' public keys, in the order they were added
 * (duplicates kept).  {0} is empty; free with age_recipients_free. */
struct age_recipients {
	uint8_t (*pk)[AGE_KEY_LEN];
	size_t n, cap;
};

/* Parse s (age_recipient_parse) and add it to r; `where` (e.g. "FILE:3",
 * NULL: none) begins the error.  Returns 0, or -1 with err filled. */
int age_recipients_add(struct age_recipients *r, const char *s, const char *where, char *err,
                       size_t errlen);

/* Fill *out (emptied first) from n strings.  An empty list is an error.
 * Returns 0, or -1 with err naming the bad string (*out is then empty). */
int age_recipients_from_strings(const char *const *s, size_t n, struct age_recipients *out,
                                char *err, size_t errlen);

/* Fill *out (emptied first) from a recipients file in age's format: one
 * recipient per line, lines starting with '#' and blank lines ignored,
 * surrounding white space (and a CR before the LF) ignored.  A file with no
 * recipient is an error.  Returns 0, or -1 with err naming "FILE:LINE" (or
 * the file when it cannot be read); *out is then empty. */
int age_recipients_file(const char *path, struct age_recipients *out, char *err, size_t errlen);

/* The fingerprint of the recipient set: lower-case hex of the SHA-256 of
 * the sorted, de-duplicated 32-byte public keys, concatenated.  Neither
 * order nor duplicates change it; it reveals only a hash of public keys. */
void age_recipients_fingerprint(const struct age_recipients *r, char hex[65]);

/* Free the list and make it empty ({0}) again. */
void age_recipients_free(struct age_recipients *r);

/* Identities (secret keys), wiped when freed.  {0} is empty. */
struct age_identities {
	uint8_t (*sk)[AGE_KEY_LEN];
	size_t n, cap;
};

/* Fill *out (emptied first) from an identity file as age-keygen writes
 * it: one "AGE-SECRET-KEY-1..." per line, '#' comments and blank lines
 * ignored.  No identity is an error.  Returns 0, or -1 with err naming
 * "FILE:LINE" (never the key); *out is then empty. */
int age_identities_file(const char *path, struct age_identities *out, char *err, size_t errlen);

/* Add one secret key.  Returns 0, or -1 when out of memory. */
int age_identities_add(struct age_identities *ids, const uint8_t sk[AGE_KEY_LEN], char *err,
                       size_t errlen);

/* Wipe and free the keys; the list is empty ({0}) again. */
void age_identities_free(struct age_identities *ids);

/* ---- streams (agestream.c) ------------------------------------------------ */

/* Where a stream's output goes: called with each piece in order; returns 0,
 * or negative with err filled (the stream then fails with that code). */
typedef int (*age_out_fn)(void *ctx, const void *buf, size_t len, char *err, size_t errlen);

struct age_enc;

/* Start a file encrypted to every recipient in r (at least one): a fresh
 * file key, one X25519 stanza per recipient with a fresh ephemeral key, the
 * header MAC and the payload nonce, which are passed to out at once.
 * Returns 0 with *e set, or negative (out's code, or -1) with err filled
 * and *e NULL. */
int age_enc_open(struct age_enc **e, const struct age_recipients *r, age_out_fn out, void *ctx,
                 char *err, size_t errlen);

/* Encrypt len bytes.  At most one chunk is held: a full chunk is sealed
 * and passed to out only once more data follows (the last chunk carries
 * the last-chunk flag).  Returns 0, or negative (out's code, or -1) with err
 * filled; then only age_enc_abort is left to call. */
int age_enc_write(struct age_enc *e, const void *buf, size_t len, char *err, size_t errlen);

/* Seal and pass on the last chunk (for an empty payload: one empty last
 * chunk) and free e, whatever the outcome.  Returns 0, or negative (out's
 * code, or -1) with err filled. */
int age_enc_finish(struct age_enc *e, char *err, size_t errlen);

/* Free e (NULL: nothing) without writing anything more; keys are wiped. */
void age_enc_abort(struct age_enc *e);

struct age_dec;

/* Start decrypting a file with identities ids (kept by pointer: they must
 * outlive the decryptor); plaintext goes to out, chunk by chunk, and only
 * after the chunk authenticated.  Returns 0 with *d set, or -1 with err
 * filled. */
int age_dec_open(struct age_dec **d, const struct age_identities *ids, age_out_fn out, void *ctx,
                 char *err, size_t errlen);

/* Feed len bytes of the file, in any pieces.  The header is read and its
 * MAC checked once complete, then chunks are opened as they complete (a
 * full chunk once a byte after it came).  Returns 0, or AGE_E_FORMAT,
 * AGE_E_IDENTITY, AGE_E_MAC, AGE_E_AUTH, AGE_E_TRAILING, AGE_E_ORDER (with
 * the chunk's number in err), out's code or -1; after a failure only
 * age_dec_abort is left to call. */
int age_dec_write(struct age_dec *d, const void *buf, size_t len, char *err, size_t errlen);

/* The end of the file: open the held chunk as the last one, and free d
 * whatever the outcome.  Returns 0, or AGE_E_TRUNCATED (the file ends in
 * the header, or without a last chunk), AGE_E_AUTH, AGE_E_ORDER, AGE_E_FORMAT
 * (an empty last chunk after others), out's code or -1, with err filled. */
int age_dec_finish(struct age_dec *d, char *err, size_t errlen);

/* Free d (NULL: nothing); the keys are wiped. */
void age_dec_abort(struct age_dec *d);

/* Start checking a file without its secret key: a decryptor without
 * identities (age_dec_write, age_dec_finish, age_dec_abort) that checks
 * what can be checked without the file key - the header's form (version
 * line, stanzas, MAC line; not the MAC itself), the payload nonce and the
 * chunk layout (every chunk but the last full, the last one 16 to 64 KiB +
 * 16 bytes, not empty unless it is the only one) - and has no output.  It
 * cannot tell a changed byte inside a chunk, nor data appended after a
 * short last chunk: that is the SHA-256's job.  Returns 0 with *d set, or
 * -1 (out of memory). */
int age_check_open(struct age_dec **d, char *err, size_t errlen);

/* ---- internals shared by the module's files --------------------------------- */

/* HKDF-SHA-256 (RFC 5869): extract with salt (saltlen may be 0), expand
 * with the NUL-terminated info into 32 bytes of out (agehkdf.c). */
void age_hkdf(uint8_t out[32], const void *salt, size_t saltlen, const void *ikm, size_t ikmlen,
              const char *info);

/* Canonical unpadded standard base64 (agehdr.c).  age_b64_decode decodes
 * exactly len characters of s into out (outlen bytes expected exactly);
 * returns 0, or -1 for a bad character, '=' padding, non-zero trailing
 * bits or another length. */
int age_b64_decode(const char *s, size_t len, uint8_t *out, size_t outlen);

/* The header for file key fk (16 bytes) and recipients r, through "--- MAC\n",
 * appended to *h (struct cm_buf, agehdr.c).  Returns 0, or -1 with err
 * filled (out of memory, a recipient key of low order). */
struct cm_buf;
int age_hdr_write(struct cm_buf *h, const struct age_recipients *r, const uint8_t fk[16], char *err,
                  size_t errlen);

/* Parse the complete header hdr (len bytes, ending with the MAC line's LF),
 * unwrap the file key with one of ids into fk and check the MAC.  Returns
 * 0, or AGE_E_FORMAT, AGE_E_IDENTITY, AGE_E_MAC with err filled.  With ids
 * NULL only the header's form is checked (fk is left alone). */
int age_hdr_parse(const char *hdr, size_t len, const struct age_identities *ids, uint8_t fk[16],
                  char *err, size_t errlen);

#endif
