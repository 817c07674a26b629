/* check_age.c - unit tests for the age v1 library of plugins/encrypt-age: keys, recipient files, fingerprint, and files both ways with Debian's age and age-keygen. */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "age.h"
#include "common/buf.h"
#include "testlib.h"
#include "util.h"

#define CHUNK  AGE_CHUNK
#define SEALED AGE_SEALED_CHUNK

/* The spec's example X25519 identity and its recipient (C2SP age.md). */
#define SPEC_IDENTITY  "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
#define SPEC_RECIPIENT "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"

static const size_t sizes[] = {0, 1, 65535, 65536, 65537, 3 * 65536, 1000003};

static void setup(void)
{
	char err[256];
	ck_assert_msg(age_init(err, sizeof(err)) == 0, "%s", err);
}

/* Run a shell command line; returns its exit status (-1: killed). */
static int run(const char *cmd)
{
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A key made by age-keygen as DIR/NAME; *pk (malloc'ed) is its "age1..."
 * recipient as age-keygen -y prints it. */
static char *keygen(const char *dir, const char *name, char **pk)
{
	char *path = xasprintf("%s/%s", dir, name);
	char *cmd = xasprintf("age-keygen -o '%s' 2>/dev/null && age-keygen -y '%s' >'%s.pub'",
	                      path, path, path);
	ck_assert_msg(run(cmd) == 0, "%s failed (is Debian's age installed?)", cmd);
	char *pub = xasprintf("%s.pub", path);
	*pk = t_read_file(pub);
	ck_assert_ptr_nonnull(*pk);
	(*pk)[strcspn(*pk, "\n")] = '\0';
	free(pub);
	free(cmd);
	return path;
}

static void recipients_of(struct age_recipients *r, const char *const *pks, size_t n)
{
	char err[512];
	ck_assert_msg(age_recipients_from_strings(pks, n, r, err, sizeof(err)) == 0, "%s", err);
}

static void identities_of(struct age_identities *ids, const char *path)
{
	char err[512];
	ck_assert_msg(age_identities_file(path, ids, err, sizeof(err)) == 0, "%s", err);
}

static unsigned char *random_bytes(size_t n)
{
	unsigned char *p = xmalloc(n > 0 ? n : 1);
	randombytes_buf(p, n);
	return p;
}

/* Encrypt len bytes of data to r in writes of `piece` bytes into *k. */
static void encrypt_mem(const struct age_recipients *r, const void *data, size_t len, size_t piece,
                        struct t_sink *k)
{
	char err[512];
	struct age_enc *e = NULL;
	memset(k, 0, sizeof(*k));
	ck_assert_msg(age_enc_open(&e, r, t_sink_write, k, err, sizeof(err)) == 0, "%s", err);
	for (size_t off = 0; off < len; off += piece) {
		size_t n = len - off < piece ? len - off : piece;
		ck_assert_msg(age_enc_write(e, (const char *)data + off, n, err, sizeof(err)) == 0,
		              "%s", err);
	}
	ck_assert_msg(age_enc_finish(e, err, sizeof(err)) == 0, "%s", err);
}

/* Decrypt len bytes of data with ids in writes of `piece` bytes into *k
 * (zeroed first).  Returns 0 or the first failure's code, err filled. */
static int decrypt_mem(const struct age_identities *ids, const void *data, size_t len, size_t piece,
                       struct t_sink *k, char *err, size_t errlen)
{
	struct age_dec *d = NULL;
	memset(k, 0, sizeof(*k));
	ck_assert_msg(age_dec_open(&d, ids, t_sink_write, k, err, errlen) == 0, "%s", err);
	for (size_t off = 0; off < len; off += piece) {
		size_t n = len - off < piece ? len - off : piece;
		int rc = age_dec_write(d, (const char *)data + off, n, err, errlen);
		if (rc != 0) {
			age_dec_abort(d);
			return rc;
		}
	}
	return age_dec_finish(d, err, errlen);
}

/* Read a whole (binary) file into *len bytes, malloc'ed. */
static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	struct cm_buf b = {0};
	char buf[65536];
	size_t got;
	while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
		ck_assert_int_eq(cm_buf_add(&b, buf, got), 0);
	cm_buf_add(&b, "", 0);
	fclose(f);
	*len = b.len;
	return (unsigned char *)b.p;
}

static void assert_same(const void *got, size_t glen, const void *want, size_t wlen, size_t size)
{
	ck_assert_msg(glen == wlen, "size %zu: %zu bytes back, want %zu", size, glen, wlen);
	ck_assert_msg(wlen == 0 || memcmp(got, want, wlen) == 0, "size %zu: bytes differ", size);
}

/* ---- keys ----------------------------------------------------------------------- */

START_TEST(test_bech32_good)
{
	char err[512], text[AGE_RECIPIENT_CHARS + 1];
	uint8_t sk[32], pk[32], pk2[32];
	/* The spec's example pair. */
	ck_assert_msg(age_identity_parse(SPEC_IDENTITY, sk, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(age_identity_public(sk, pk), 0);
	age_recipient_format(pk, text);
	ck_assert_str_eq(text, SPEC_RECIPIENT);
	ck_assert_msg(age_recipient_parse(SPEC_RECIPIENT, pk2, err, sizeof(err)) == 0, "%s", err);
	ck_assert_mem_eq(pk, pk2, 32);
	/* A key from age-keygen: its identity gives the recipient it printed. */
	char *dir = t_mkdtemp("age"), *pub = NULL;
	char *key = keygen(dir, "key.txt", &pub);
	struct age_identities ids = {0};
	identities_of(&ids, key);
	ck_assert_uint_eq(ids.n, 1);
	ck_assert_int_eq(age_identity_public(ids.sk[0], pk), 0);
	age_recipient_format(pk, text);
	ck_assert_str_eq(text, pub);
	ck_assert_msg(age_recipient_parse(pub, pk2, err, sizeof(err)) == 0, "%s", err);
	ck_assert_mem_eq(pk, pk2, 32);
	/* All upper case is Bech32 too. */
	char *upper = xstrdup(pub);
	for (char *c = upper; *c != '\0'; c++)
		*c = (char)toupper((unsigned char)*c);
	ck_assert_msg(age_recipient_parse(upper, pk2, err, sizeof(err)) == 0, "%s", err);
	ck_assert_mem_eq(pk, pk2, 32);
	free(upper);
	age_identities_free(&ids);
	ck_assert_ptr_null(ids.sk);
	free(pub);
	free(key);
	t_remove_tree(dir);
	free(dir);
}
END_TEST

/* Parsing s as a recipient fails with an error containing `want`. */
static void bad_recipient(const char *s, const char *want)
{
	char err[512] = "";
	uint8_t pk[32];
	ck_assert_msg(age_recipient_parse(s, pk, err, sizeof(err)) != 0, "%s was accepted", s);
	ck_assert_msg(strstr(err, want) != NULL, "%s: error \"%s\" lacks \"%s\"", s, err, want);
	ck_assert_msg(strncmp(err, "age: recipient \"", 16) == 0, "%s", err);
}

START_TEST(test_bech32_bad)
{
	char s[200];
	/* Checksum: the last character changed. */
	snprintf(s, sizeof(s), "%s", SPEC_RECIPIENT);
	s[strlen(s) - 1] = s[strlen(s) - 1] == 'q' ? 'p' : 'q';
	bad_recipient(s, "checksum");
	/* One data character changed. */
	snprintf(s, sizeof(s), "%s", SPEC_RECIPIENT);
	s[10] = s[10] == 'q' ? 'p' : 'q';
	bad_recipient(s, "checksum");
	/* Mixed case. */
	snprintf(s, sizeof(s), "%s", SPEC_RECIPIENT);
	s[5] = (char)toupper((unsigned char)s[5]);
	bad_recipient(s, "mixes upper and lower case");
	/* Wrong HRP: an identity, a plugin recipient, another Bech32 string. */
	/* A secret key given as a recipient is named, never quoted. */
	bad_recipient("age-secret-key-1gfpyysjzgfpyysjzgfpyysjzgfpyysjzgfpyysjzgfpyysjzgfpq4egaex",
	              "this is a secret key (an identity)");
	char kerr[512] = "";
	uint8_t kpk[32];
	ck_assert_int_ne(age_recipient_parse(SPEC_IDENTITY, kpk, kerr, sizeof(kerr)), 0);
	ck_assert_msg(strstr(kerr, "GFPYYSJZ") == NULL, "the secret key is quoted: %s", kerr);
	uint8_t data[40] = {1, 2, 3};
	ck_assert_int_eq(age_bech32_encode("age1yubikey", data, 32, s, sizeof(s)), 0);
	bad_recipient(s, "type \"age1yubikey\" is not supported");
	ck_assert_int_eq(age_bech32_encode("bc", data, 32, s, sizeof(s)), 0);
	bad_recipient(s, "type \"bc\"");
	/* Wrong length, with a valid checksum. */
	ck_assert_int_eq(age_bech32_encode("age", data, 31, s, sizeof(s)), 0);
	bad_recipient(s, "key of 31 bytes (want 32)");
	ck_assert_int_eq(age_bech32_encode("age", data, 33, s, sizeof(s)), 0);
	bad_recipient(s, "key of 33 bytes (want 32)");
	/* Not Bech32 at all. */
	bad_recipient("age1", "wrong length");
	bad_recipient("", "empty");
	bad_recipient("hello", "no Bech32 separator");
	bad_recipient("age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwb",
	              "character 62 'b' is not in the Bech32 alphabet");
	bad_recipient("age1 zvkyg", "not printable ASCII");
	bad_recipient("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI", "SSH keys are not supported");
	/* A recipient's own encoding round-trips. */
	char good[AGE_RECIPIENT_CHARS + 1];
	uint8_t pk[32], back[32];
	randombytes_buf(pk, sizeof(pk));
	age_recipient_format(pk, good);
	ck_assert_uint_eq(strlen(good), AGE_RECIPIENT_CHARS);
	char err[256];
	ck_assert_msg(age_recipient_parse(good, back, err, sizeof(err)) == 0, "%s", err);
	ck_assert_mem_eq(pk, back, 32);
}
END_TEST

START_TEST(test_identity_errors_hide_key)
{
	char err[512] = "", s[200];
	uint8_t sk[32];
	snprintf(s, sizeof(s), "%s", SPEC_IDENTITY);
	s[strlen(s) - 1] = 'Q';
	ck_assert_int_ne(age_identity_parse(s, sk, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "checksum") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "GFPYYSJZ") == NULL, "the key is quoted: %s", err);
	ck_assert_int_ne(age_identity_parse(SPEC_RECIPIENT, sk, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "recipient (public key), not an identity") != NULL, "%s", err);
	/* In a file: FILE:LINE, still no key. */
	char *dir = t_mkdtemp("age");
	char *path = xasprintf("%s/ids.txt", dir);
	char *text = xasprintf("# created by hand\n\n%s\n%s\n", SPEC_IDENTITY, s);
	t_write_file(path, text, 0600);
	struct age_identities ids = {0};
	ck_assert_int_ne(age_identities_file(path, &ids, err, sizeof(err)), 0);
	char *where = xasprintf("age: %s:4: identity: checksum", path);
	ck_assert_msg(strncmp(err, where, strlen(where)) == 0, "%s", err);
	ck_assert_msg(strstr(err, "GFPYYSJZ") == NULL, "the key is quoted: %s", err);
	ck_assert_ptr_null(ids.sk);
	t_write_file(path, "# nothing\n", 0600);
	ck_assert_int_ne(age_identities_file(path, &ids, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "has no identity") != NULL, "%s", err);
	free(where);
	free(text);
	free(path);
	t_remove_tree(dir);
	free(dir);
}
END_TEST

START_TEST(test_recipients_file)
{
	char err[1024] = "";
	char *dir = t_mkdtemp("age"), *pub = NULL;
	char *key = keygen(dir, "key.txt", &pub);
	char *path = xasprintf("%s/recipients.txt", dir);
	char *text = xasprintf("# backup keys\n\n%s\r\n   # indented comment\n\t%s  \n", pub,
	                       SPEC_RECIPIENT);
	t_write_file(path, text, 0644);
	struct age_recipients r = {0};
	ck_assert_msg(age_recipients_file(path, &r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(r.n, 2);
	uint8_t pk[32];
	ck_assert_int_eq(age_recipient_parse(SPEC_RECIPIENT, pk, err, sizeof(err)), 0);
	ck_assert_mem_eq(r.pk[1], pk, 32);
	free(text);
	/* A bad line: FILE:LINE and what is wrong; the list is left empty. */
	text = xasprintf("# keys\n%s\n\nage1notakey\n", pub);
	t_write_file(path, text, 0644);
	ck_assert_int_ne(age_recipients_file(path, &r, err, sizeof(err)), 0);
	char *want = xasprintf("age: %s:4: recipient \"age1notakey\": ", path);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
	ck_assert_uint_eq(r.n, 0);
	ck_assert_ptr_null(r.pk);
	free(want);
	/* No recipient at all. */
	t_write_file(path, "# no keys yet\n\n", 0644);
	ck_assert_int_ne(age_recipients_file(path, &r, err, sizeof(err)), 0);
	want = xasprintf("age: recipients file %s has no recipient", path);
	ck_assert_str_eq(err, want);
	free(want);
	/* Unreadable. */
	char *missing = xasprintf("%s/missing.txt", dir);
	ck_assert_int_ne(age_recipients_file(missing, &r, err, sizeof(err)), 0);
	want = xasprintf("age: cannot read recipients file %s: No such file or directory", missing);
	ck_assert_str_eq(err, want);
	free(want);
	free(missing);
	/* In memory: an empty list and a bad string are errors. */
	ck_assert_int_ne(age_recipients_from_strings(NULL, 0, &r, err, sizeof(err)), 0);
	ck_assert_str_eq(err, "age: no recipient given");
	const char *two[] = {pub, "age1bad"};
	ck_assert_int_ne(age_recipients_from_strings(two, 2, &r, err, sizeof(err)), 0);
	ck_assert_msg(strncmp(err, "age: recipient \"age1bad\": ", 26) == 0, "%s", err);
	ck_assert_uint_eq(r.n, 0);
	free(text);
	free(path);
	free(key);
	free(pub);
	t_remove_tree(dir);
	free(dir);
}
END_TEST

START_TEST(test_fingerprint)
{
	char a_s[AGE_RECIPIENT_CHARS + 1], b_s[AGE_RECIPIENT_CHARS + 1];
	uint8_t a[32], b[32];
	randombytes_buf(a, 32);
	randombytes_buf(b, 32);
	age_recipient_format(a, a_s);
	age_recipient_format(b, b_s);
	struct age_recipients r1 = {0}, r2 = {0}, r3 = {0};
	const char *l1[] = {a_s, b_s}, *l2[] = {b_s, a_s, a_s, b_s}, *l3[] = {a_s};
	recipients_of(&r1, l1, 2);
	recipients_of(&r2, l2, 4);
	recipients_of(&r3, l3, 1);
	char f1[65], f2[65], f3[65], want[65];
	age_recipients_fingerprint(&r1, f1);
	age_recipients_fingerprint(&r2, f2);
	age_recipients_fingerprint(&r3, f3);
	ck_assert_str_eq(f1, f2);
	ck_assert_str_ne(f1, f3);
	ck_assert_uint_eq(strlen(f1), 64);
	/* SHA-256 over the sorted keys, computed here independently. */
	uint8_t cat[64], sum[32];
	int a_first = memcmp(a, b, 32) < 0;
	memcpy(cat, a_first ? a : b, 32);
	memcpy(cat + 32, a_first ? b : a, 32);
	crypto_hash_sha256(sum, cat, sizeof(cat));
	sodium_bin2hex(want, sizeof(want), sum, sizeof(sum));
	ck_assert_str_eq(f1, want);
	crypto_hash_sha256(sum, a, 32);
	sodium_bin2hex(want, sizeof(want), sum, sizeof(sum));
	ck_assert_str_eq(f3, want);
	age_recipients_free(&r1);
	age_recipients_free(&r2);
	age_recipients_free(&r3);
}
END_TEST

/* ---- files both ways with Debian's age ---------------------------------------------- */

START_TEST(test_ours_to_age)
{
	char *dir = t_mkdtemp("age"), *pub = NULL;
	char *key = keygen(dir, "key.txt", &pub);
	struct age_recipients r = {0};
	recipients_of(&r, (const char *[]){pub}, 1);
	char *enc = xasprintf("%s/x.age", dir), *dec = xasprintf("%s/x.out", dir);
	/* Through stdout: age -o makes no file for an empty payload. */
	char *cmd = xasprintf("age -d -i '%s' '%s' >'%s'", key, enc, dec);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t size = sizes[i];
		unsigned char *data = random_bytes(size);
		/* Whole writes and odd pieces alike. */
		size_t piece = i % 2 == 0 ? (size > 0 ? size : 1) : 7919;
		struct t_sink k;
		encrypt_mem(&r, data, size, piece, &k);
		t_write_bytes(enc, k.data, k.len, 0644);
		unlink(dec);
		ck_assert_msg(run(cmd) == 0, "size %zu: age -d refused our file", size);
		size_t len = 0;
		unsigned char *back = slurp(dec, &len);
		assert_same(back, len, data, size, size);
		free(back);
		free(k.data);
		free(data);
	}
	age_recipients_free(&r);
	free(cmd);
	free(enc);
	free(dec);
	free(key);
	free(pub);
	t_remove_tree(dir);
	free(dir);
}
END_TEST

START_TEST(test_two_recipients)
{
	char *dir = t_mkdtemp("age"), *pub1 = NULL, *pub2 = NULL, *pub3 = NULL, err[512];
	char *k1 = keygen(dir, "k1.txt", &pub1), *k2 = keygen(dir, "k2.txt", &pub2);
	char *k3 = keygen(dir, "k3.txt", &pub3);
	struct age_recipients r = {0};
	recipients_of(&r, (const char *[]){pub1, pub2}, 2);
	unsigned char *data = random_bytes(100000);
	struct t_sink k, back;
	encrypt_mem(&r, data, 100000, 4096, &k);
	char *enc = xasprintf("%s/x.age", dir);
	t_write_bytes(enc, k.data, k.len, 0644);
	const char *keys[] = {k1, k2};
	for (int i = 0; i < 2; i++) {
		char *out = xasprintf("%s/out%d", dir, i);
		char *cmd = xasprintf("age -d -i '%s' -o '%s' '%s'", keys[i], out, enc);
		ck_assert_msg(run(cmd) == 0, "%s", cmd);
		size_t len;
		unsigned char *got = slurp(out, &len);
		assert_same(got, len, data, 100000, 100000);
		free(got);
		free(cmd);
		free(out);
		/* And ours. */
		struct age_identities ids = {0};
		identities_of(&ids, keys[i]);
		ck_assert_msg(decrypt_mem(&ids, k.data, k.len, k.len, &back, err, sizeof(err)) == 0,
		              "%s", err);
		assert_same(back.data, back.len, data, 100000, 100000);
		free(back.data);
		age_identities_free(&ids);
	}
	char *cmd = xasprintf("age -d -i '%s' -o /dev/null '%s' 2>/dev/null", k3, enc);
	ck_assert_msg(run(cmd) != 0, "age decrypted with a third identity");
	struct age_identities ids = {0};
	identities_of(&ids, k3);
	ck_assert_int_eq(decrypt_mem(&ids, k.data, k.len, k.len, &back, err, sizeof(err)),
	                 AGE_E_IDENTITY);
	ck_assert_str_eq(err,
	                 "age: no identity matches the file's recipients (2 stanzas; wrong key?)");
	ck_assert_uint_eq(back.len, 0);
	free(back.data);
	age_identities_free(&ids);
	free(cmd);
	free(k.data);
	free(data);
	age_recipients_free(&r);
	free(enc);
	free(k1);
	free(k2);
	free(k3);
	free(pub1);
	free(pub2);
	free(pub3);
	t_remove_tree(dir);
	free(dir);
}
END_TEST

START_TEST(test_age_to_ours)
{
	char *dir = t_mkdtemp("age"), *pub = NULL, *pub2 = NULL, err[512];
	char *key = keygen(dir, "key.txt", &pub), *key2 = keygen(dir, "key2.txt", &pub2);
	char *rfile = xasprintf("%s/recipients.txt", dir);
	char *text = xasprintf("# two\n%s\n%s\n", pub2, pub);
	t_write_file(rfile, text, 0644);
	char *plain = xasprintf("%s/x", dir), *enc = xasprintf("%s/x.age", dir);
	struct age_identities ids = {0};
	identities_of(&ids, key);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t size = sizes[i];
		unsigned char *data = random_bytes(size);
		t_write_bytes(plain, data, size, 0644);
		for (int how = 0; how < 2; how++) {
			char *cmd = how == 0 ? xasprintf("age -r %s -o '%s' '%s'", pub, enc, plain)
			                     : xasprintf("age -R '%s' -o '%s' '%s'", rfile, enc,
			                                 plain);
			unlink(enc);
			ck_assert_msg(run(cmd) == 0, "%s", cmd);
			free(cmd);
			size_t len;
			unsigned char *file = slurp(enc, &len);
			/* Whole, in small pieces, in pieces around a chunk. */
			const size_t pieces[] = {len > 0 ? len : 1, 1000, SEALED + 1};
			for (size_t p = 0; p < 3; p++) {
				struct t_sink back;
				int rc = decrypt_mem(&ids, file, len, pieces[p], &back, err,
				                     sizeof(err));
				ck_assert_msg(rc == 0, "size %zu, pieces of %zu: %s", size,
				              pieces[p], err);
				assert_same(back.data, back.len, data, size, size);
				free(back.data);
			}
			free(file);
		}
		free(data);
	}
	age_identities_free(&ids);
	free(plain);
	free(enc);
	free(rfile);
	free(text);
	free(key);
	free(key2);
	free(pub);
	free(pub2);
	t_remove_tree(dir);
	free(dir);
}
END_TEST

/* ---- damage detected ------------------------------------------------------------ */

struct damaged {
	char *dir, *key, *pub, *pub2;
	struct age_identities ids;
	unsigned char *file; /* made by age -r PUB -r PUB2 */
	size_t len, hdr;     /* bytes; header + nonce */
	unsigned char *plain;
	size_t size;
};

/* A file of `size` random bytes made by Debian's age to two recipients. */
static void damaged_setup(struct damaged *t, size_t size)
{
	memset(t, 0, sizeof(*t));
	t->dir = t_mkdtemp("age");
	t->key = keygen(t->dir, "key.txt", &t->pub);
	char *k2 = keygen(t->dir, "key2.txt", &t->pub2);
	free(k2);
	identities_of(&t->ids, t->key);
	t->size = size;
	t->plain = random_bytes(size);
	char *plain = xasprintf("%s/x", t->dir), *enc = xasprintf("%s/x.age", t->dir);
	t_write_bytes(plain, t->plain, size, 0644);
	char *cmd = xasprintf("age -r %s -r %s -o '%s' '%s'", t->pub, t->pub2, enc, plain);
	ck_assert_msg(run(cmd) == 0, "%s", cmd);
	t->file = slurp(enc, &t->len);
	const char *mac = strstr((const char *)t->file, "\n--- ");
	ck_assert_ptr_nonnull(mac);
	t->hdr = (size_t)(strchr(mac + 1, '\n') + 1 - (const char *)t->file) + AGE_NONCE_LEN;
	free(cmd);
	free(plain);
	free(enc);
}

static void damaged_free(struct damaged *t)
{
	age_identities_free(&t->ids);
	free(t->file);
	free(t->plain);
	free(t->key);
	free(t->pub);
	free(t->pub2);
	t_remove_tree(t->dir);
	free(t->dir);
}

/* Decrypting buf (len bytes; whole and in 4 KiB pieces) fails with code
 * `want` and an error beginning `msg`. */
static void expect_failure(struct damaged *t, const void *buf, size_t len, int want,
                           const char *msg)
{
	for (int how = 0; how < 2; how++) {
		char err[512] = "";
		struct t_sink back;
		int rc = decrypt_mem(&t->ids, buf, len, how == 0 ? (len > 0 ? len : 1) : 4096,
		                     &back, err, sizeof(err));
		ck_assert_msg(rc == want, "code %d, want %d: %s", rc, want, err);
		ck_assert_msg(strncmp(err, msg, strlen(msg)) == 0, "error \"%s\", want \"%s...\"",
		              err, msg);
		/* Only chunks that authenticated came out. */
		ck_assert_uint_le(back.len, t->size);
		ck_assert(back.len % CHUNK == 0);
		ck_assert(back.len == 0 || memcmp(back.data, t->plain, back.len) == 0);
		free(back.data);
	}
}

START_TEST(test_damage_payload)
{
	struct damaged t;
	damaged_setup(&t, 3 * CHUNK + 100);
	unsigned char *c = xmalloc(t.len + 1);
	/* A flipped byte in chunk 2. */
	memcpy(c, t.file, t.len);
	c[t.hdr + SEALED + 500] ^= 0x01;
	expect_failure(&t, c, t.len, AGE_E_AUTH,
	               "age: chunk 2 does not authenticate: the file is damaged");
	/* In the tag of the last chunk. */
	memcpy(c, t.file, t.len);
	c[t.len - 1] ^= 0x80;
	expect_failure(&t, c, t.len, AGE_E_AUTH, "age: chunk 4 does not authenticate");
	/* Truncated at a chunk boundary, inside a chunk, in the header, in the nonce. */
	expect_failure(&t, t.file, t.hdr + 2 * SEALED, AGE_E_TRUNCATED,
	               "age: the file is truncated: it ends after chunk 2, which is not the last");
	expect_failure(&t, t.file, t.hdr + 2 * SEALED + 1000, AGE_E_AUTH,
	               "age: chunk 3 does not authenticate: the file is damaged or truncated");
	expect_failure(&t, t.file, t.hdr + 2 * SEALED + 10, AGE_E_TRUNCATED,
	               "age: the file is truncated: chunk 3 has 10 bytes");
	expect_failure(&t, t.file, t.hdr, AGE_E_TRUNCATED,
	               "age: the file is truncated: no last chunk after 0 chunks");
	expect_failure(&t, t.file, t.hdr - 5, AGE_E_TRUNCATED,
	               "age: the file is truncated: it ends before the payload");
	expect_failure(&t, t.file, 40, AGE_E_TRUNCATED,
	               "age: the file is truncated: it ends in the header");
	expect_failure(&t, t.file, 0, AGE_E_TRUNCATED,
	               "age: the file is truncated: it ends in the header");
	/* Chunks 1 and 2 swapped. */
	memcpy(c, t.file, t.len);
	memcpy(c + t.hdr, t.file + t.hdr + SEALED, SEALED);
	memcpy(c + t.hdr + SEALED, t.file + t.hdr, SEALED);
	expect_failure(&t, c, t.len, AGE_E_ORDER,
	               "age: chunk 1 is chunk 2 of the file: chunks reordered");
	/* The last chunk moved up: chunk 3 dropped. */
	memcpy(c, t.file, t.hdr + 2 * SEALED);
	memcpy(c + t.hdr + 2 * SEALED, t.file + t.hdr + 3 * SEALED, t.len - t.hdr - 3 * SEALED);
	expect_failure(&t, c, t.len - SEALED, AGE_E_ORDER,
	               "age: chunk 3 is chunk 4 of the file: chunks reordered");
	/* Data appended after a short last chunk: that chunk no longer authenticates. */
	memcpy(c, t.file, t.len);
	c[t.len] = 'x';
	expect_failure(&t, c, t.len + 1, AGE_E_AUTH, "age: chunk 4 does not authenticate");
	free(c);
	damaged_free(&t);
}
END_TEST

START_TEST(test_damage_trailing)
{
	/* The last chunk is a full one: data after it is recognised as such. */
	struct damaged t;
	damaged_setup(&t, 2 * CHUNK);
	ck_assert_uint_eq(t.len, t.hdr + 2 * SEALED);
	unsigned char *c = xmalloc(t.len + 100);
	memcpy(c, t.file, t.len);
	memset(c + t.len, 'x', 100);
	expect_failure(&t, c, t.len + 1, AGE_E_TRAILING,
	               "age: data after the last chunk (chunk 2)");
	expect_failure(&t, c, t.len + 100, AGE_E_TRAILING,
	               "age: data after the last chunk (chunk 2)");
	/* An empty last chunk after full ones is refused (the spec forbids it),
	 * whereas an empty payload is one empty last chunk: checked with ours. */
	free(c);
	damaged_free(&t);
}
END_TEST

/* Replace the character at `at` of the header by another base64 one. */
static void flip_b64(unsigned char *c, size_t at)
{
	c[at] = c[at] == 'A' ? 'B' : 'A';
}

START_TEST(test_damage_header)
{
	struct damaged t;
	damaged_setup(&t, 1000);
	unsigned char *c = xmalloc(t.len);
	const char *text = (const char *)t.file;
	/* The MAC itself. */
	memcpy(c, t.file, t.len);
	size_t mac = (size_t)(strstr(text, "\n--- ") - text) + 5;
	flip_b64(c, mac + 10);
	expect_failure(&t, c, t.len, AGE_E_MAC,
	               "age: header MAC does not match: the header was changed");
	/* The other recipient's stanza: ours still unwraps, the MAC catches it. */
	size_t first = (size_t)(strstr(text, "\n-> X25519 ") - text);
	size_t second = (size_t)(strstr(text + first + 1, "\n-> X25519 ") - text);
	for (int stanza = 0; stanza < 2; stanza++) {
		size_t at = stanza == 0 ? first : second;
		memcpy(c, t.file, t.len);
		flip_b64(c, at + 20); /* in the share */
		char err[512];
		struct t_sink back;
		int rc = decrypt_mem(&t.ids, c, t.len, t.len, &back, err, sizeof(err));
		free(back.data);
		/* age puts the stanzas in the order of -r: the first is ours. */
		ck_assert_msg(rc == (stanza == 0 ? AGE_E_IDENTITY : AGE_E_MAC), "stanza %d: %d %s",
		              stanza, rc, err);
	}
	/* A share that is not canonical base64 (non-zero trailing bits) or padded. */
	memcpy(c, t.file, t.len);
	size_t share_end = (size_t)(strchr(text + first + 1, '\n') - text);
	c[share_end - 1] = c[share_end - 1] == 'A' ? 'B' : c[share_end - 1] == 'E' ? 'F' : 'B';
	expect_failure(&t, c, t.len, AGE_E_FORMAT, "age: header line 2: malformed X25519 stanza");
	memcpy(c, t.file, t.len);
	c[share_end - 1] = '=';
	expect_failure(&t, c, t.len, AGE_E_FORMAT, "age: header line 2: malformed X25519 stanza");
	/* The version line. */
	memcpy(c, t.file, t.len);
	c[20] = '2';
	expect_failure(&t, c, t.len, AGE_E_FORMAT, "age: not an age v1 file");
	expect_failure(&t, "hello world\n", 12, AGE_E_FORMAT, "age: not an age v1 file");
	expect_failure(&t, "-----BEGIN AGE ENCRYPTED FILE-----\n", 35, AGE_E_FORMAT,
	               "age: armored (PEM) age files are not supported");
	free(c);
	damaged_free(&t);
}
END_TEST

/* A header we write ourselves, with an unknown stanza added and the MAC
 * made again: unknown stanzas are skipped, the file key comes back. */
START_TEST(test_header_unknown_stanza)
{
	char err[512];
	uint8_t fk[16], back[16], sk[32], pk[32], mac[32], key[32];
	randombytes_buf(fk, sizeof(fk));
	randombytes_buf(sk, sizeof(sk));
	ck_assert_int_eq(age_identity_public(sk, pk), 0);
	struct age_recipients r = {0};
	char text[AGE_RECIPIENT_CHARS + 1];
	age_recipient_format(pk, text);
	recipients_of(&r, (const char *[]){text}, 1);
	struct cm_buf h = {0};
	ck_assert_msg(age_hdr_write(&h, &r, fk, err, sizeof(err)) == 0, "%s", err);
	char *dashes = strstr(h.p, "\n---") + 1;
	struct cm_buf h2 = {0};
	cm_buf_add(&h2, h.p, (size_t)(dashes - h.p));
	cm_buf_str(&h2, "-> example.com/other arg\n"
	                "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\n\n---");
	age_hkdf(key, NULL, 0, fk, sizeof(fk), "header");
	crypto_auth_hmacsha256(mac, (const uint8_t *)h2.p, h2.len, key);
	char b64[64];
	sodium_bin2base64(b64, sizeof(b64), mac, sizeof(mac),
	                  sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	cm_buf_fmt(&h2, " %s\n", b64);
	struct age_identities ids = {0};
	ck_assert_int_eq(age_identities_add(&ids, sk, err, sizeof(err)), 0);
	ck_assert_msg(age_hdr_parse(h2.p, h2.len, &ids, back, err, sizeof(err)) == 0, "%s", err);
	ck_assert_mem_eq(back, fk, 16);
	/* Without our stanza, nothing matches. */
	char *other = strstr(h2.p, "-> example.com");
	struct cm_buf h3 = {0};
	cm_buf_str(&h3, "age-encryption.org/v1\n");
	cm_buf_str(&h3, other);
	ck_assert_int_eq(age_hdr_parse(h3.p, h3.len, &ids, back, err, sizeof(err)), AGE_E_IDENTITY);
	ck_assert_str_eq(err,
	                 "age: no identity matches the file's recipients (1 stanza; wrong key?)");
	/* Lines longer than 64 are refused. */
	struct cm_buf h4 = {0};
	cm_buf_str(&h4,
	           "age-encryption.org/v1\n-> x\n"
	           "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQ\n--- x\n");
	ck_assert_int_eq(age_hdr_parse(h4.p, h4.len, &ids, back, err, sizeof(err)), AGE_E_FORMAT);
	ck_assert_str_eq(err, "age: header line 3: stanza body line longer than 64");
	cm_buf_free(&h);
	cm_buf_free(&h2);
	cm_buf_free(&h3);
	cm_buf_free(&h4);
	age_identities_free(&ids);
	age_recipients_free(&r);
}
END_TEST

START_TEST(test_empty_payload)
{
	char err[512];
	uint8_t sk[32], pk[32];
	randombytes_buf(sk, sizeof(sk));
	ck_assert_int_eq(age_identity_public(sk, pk), 0);
	char text[AGE_RECIPIENT_CHARS + 1];
	age_recipient_format(pk, text);
	struct age_recipients r = {0};
	recipients_of(&r, (const char *[]){text}, 1);
	struct age_identities ids = {0};
	ck_assert_int_eq(age_identities_add(&ids, sk, err, sizeof(err)), 0);
	struct t_sink k, back;
	encrypt_mem(&r, "", 0, 1, &k);
	/* Header, nonce, one empty last chunk (the tag alone). */
	const char *end = strstr(k.data, "\n--- ");
	size_t hdr = (size_t)(strchr(end + 1, '\n') + 1 - k.data);
	ck_assert_uint_eq(k.len, hdr + AGE_NONCE_LEN + AGE_TAG);
	ck_assert_msg(decrypt_mem(&ids, k.data, k.len, 7, &back, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(back.len, 0);
	free(back.data);
	free(k.data);
	/* Exactly one chunk of input: one chunk out, flagged last. */
	unsigned char *data = random_bytes(CHUNK);
	encrypt_mem(&r, data, CHUNK, CHUNK, &k);
	ck_assert_uint_eq(k.len, hdr + AGE_NONCE_LEN + SEALED);
	ck_assert_msg(decrypt_mem(&ids, k.data, k.len, k.len, &back, err, sizeof(err)) == 0, "%s",
	              err);
	assert_same(back.data, back.len, data, CHUNK, CHUNK);
	free(back.data);
	free(k.data);
	free(data);
	age_identities_free(&ids);
	age_recipients_free(&r);
}
END_TEST

/* ---- memory ----------------------------------------------------------------------- */

/* A field of /proc/self/status in KiB ("VmHWM", "VmRSS"). */
static long status_kib(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	ck_assert_ptr_nonnull(f);
	char line[256];
	long v = -1;
	size_t n = strlen(field);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	fclose(f);
	ck_assert_int_ge(v, 0);
	return v;
}

struct hashing_sink {
	crypto_hash_sha256_state st;
	uint64_t bytes;
};

static int hash_out(void *ctx, const void *buf, size_t len, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	struct hashing_sink *h = ctx;
	crypto_hash_sha256_update(&h->st, buf, len);
	h->bytes += len;
	return 0;
}

static int to_decryptor(void *ctx, const void *buf, size_t len, char *err, size_t errlen)
{
	return age_dec_write(ctx, buf, len, err, errlen);
}

/* 64 MiB through an encryptor straight into a decryptor, in writes of
 * 256 KiB from one buffer: the peak resident set grows by less than 1 MiB
 * (the two streams hold about 256 KiB), and the bytes come back. */
START_TEST(test_memory_bounded)
{
	char err[512];
	const size_t piece = 256 * 1024, total = 64 * 1024 * 1024;
	uint8_t sk[32], pk[32], want[32], got[32];
	randombytes_buf(sk, sizeof(sk));
	ck_assert_int_eq(age_identity_public(sk, pk), 0);
	char text[AGE_RECIPIENT_CHARS + 1];
	age_recipient_format(pk, text);
	struct age_recipients r = {0};
	recipients_of(&r, (const char *[]){text}, 1);
	struct age_identities ids = {0};
	ck_assert_int_eq(age_identities_add(&ids, sk, err, sizeof(err)), 0);
	unsigned char *buf = random_bytes(piece);
	struct hashing_sink in, out;
	crypto_hash_sha256_init(&in.st);
	crypto_hash_sha256_init(&out.st);
	out.bytes = 0;

	/* Reset the peak to the current resident set ("5" > clear_refs). */
	FILE *f = fopen("/proc/self/clear_refs", "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs("5", f), 0);
	ck_assert_int_eq(fclose(f), 0);
	long before = status_kib("VmRSS");

	struct age_dec *d = NULL;
	struct age_enc *e = NULL;
	ck_assert_msg(age_dec_open(&d, &ids, hash_out, &out, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(age_enc_open(&e, &r, to_decryptor, d, err, sizeof(err)) == 0, "%s", err);
	for (size_t off = 0; off < total; off += piece) {
		memcpy(buf, &off, sizeof(off)); /* every piece differs */
		crypto_hash_sha256_update(&in.st, buf, piece);
		ck_assert_msg(age_enc_write(e, buf, piece, err, sizeof(err)) == 0, "%s", err);
	}
	ck_assert_msg(age_enc_finish(e, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(age_dec_finish(d, err, sizeof(err)) == 0, "%s", err);
	long grown = status_kib("VmHWM") - before;

	crypto_hash_sha256_final(&in.st, want);
	crypto_hash_sha256_final(&out.st, got);
	ck_assert_uint_eq(out.bytes, total);
	ck_assert_mem_eq(want, got, 32);
	fprintf(stderr, "check_age: 64 MiB through encryptor and decryptor: peak RSS +%ld KiB\n",
	        grown);
	ck_assert_msg(grown < 1024, "peak RSS grew by %ld KiB for 64 MiB", grown);
	free(buf);
	age_identities_free(&ids);
	age_recipients_free(&r);
}
END_TEST

/* ---- the test tool ------------------------------------------------------------------ */

START_TEST(test_age_tool)
{
	char *dir = t_mkdtemp("age"), *pub = NULL, *pub2 = NULL;
	char *key = keygen(dir, "key.txt", &pub), *key2 = keygen(dir, "key2.txt", &pub2);
	char *build = t_build_dir();
	char *rel = xasprintf("%s/tests/age-tool", build);
	char *tool = realpath(rel, NULL);
	ck_assert_msg(tool != NULL, "%s: %s (run make tests)", rel, strerror(errno));
	free(rel);
	ck_assert_msg(access(tool, X_OK) == 0, "%s: %s (run make tests)", tool, strerror(errno));
	char *rfile = xasprintf("%s/r.txt", dir);
	t_write_file(rfile, pub2, 0644);
	char *cmd = xasprintf(
	        "set -e; cd '%s'; head -c 300000 /dev/urandom >in; "
	        "'%s' encrypt -r %s -R r.txt <in >ours.age; "
	        "age -d -i key.txt ours.age | cmp - in; age -d -i key2.txt ours.age | cmp - in; "
	        "age -r %s -o theirs.age in; '%s' decrypt -i key2.txt -i key.txt <theirs.age | cmp - in; "
	        "head -c 100000 theirs.age >cut.age; "
	        "if '%s' decrypt -i key.txt <cut.age >/dev/null 2>err; then exit 9; fi; "
	        "test \"$(wc -l <err)\" = 1; grep -q '^age: chunk 2 does not authenticate' err; "
	        "if '%s' encrypt -r age1nope <in >/dev/null 2>err; then exit 9; fi; "
	        "grep -q '^age: recipient \"age1nope\": ' err",
	        dir, tool, pub, pub, tool, tool, tool);
	ck_assert_msg(run(cmd) == 0, "%s", cmd);
	free(cmd);
	free(rfile);
	free(tool);
	free(build);
	free(key);
	free(key2);
	free(pub);
	free(pub2);
	t_remove_tree(dir);
	free(dir);
}
END_TEST

/* Checked without a key (age_check_open), whole and in 4 KiB pieces:
 * returns the code, err filled. */
static int check_mem(const void *buf, size_t len, char *err, size_t errlen)
{
	int rc = 0, rc2 = 0;
	for (int how = 0; how < 2; how++) {
		struct age_dec *d = NULL;
		ck_assert_int_eq(age_check_open(&d, err, errlen), 0);
		size_t piece = how == 0 ? (len > 0 ? len : 1) : 4096, at = 0;
		int r = 0;
		while (at < len && r == 0) {
			size_t n = len - at < piece ? len - at : piece;
			r = age_dec_write(d, (const char *)buf + at, n, err, errlen);
			at += n;
		}
		if (r == 0)
			r = age_dec_finish(d, err, errlen);
		else
			age_dec_abort(d);
		if (how == 0)
			rc = r;
		else
			rc2 = r;
	}
	ck_assert_int_eq(rc, rc2);
	return rc;
}

/* The check without the key (--verify): a file of Debian's age passes; a
 * file cut in its header or nonce, a last chunk shorter than its tag, a
 * changed version line or a malformed stanza fail with their codes; a file
 * cut inside its payload cannot be told from a shorter one (the checksum's
 * job) and passes. */
START_TEST(test_check_without_key)
{
	struct damaged t;
	damaged_setup(&t, 3 * CHUNK + 100);
	char err[512];
	ck_assert_msg(check_mem(t.file, t.len, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(check_mem(t.file, 40, err, sizeof(err)), AGE_E_TRUNCATED);
	ck_assert_str_eq(err, "age: the file is truncated: it ends in the header");
	ck_assert_int_eq(check_mem(t.file, t.hdr - 3, err, sizeof(err)), AGE_E_TRUNCATED);
	/* 3 full chunks, then 10 bytes: shorter than a tag */
	size_t cut = t.hdr + 3 * (CHUNK + 16) + 10;
	ck_assert_int_eq(check_mem(t.file, cut, err, sizeof(err)), AGE_E_TRUNCATED);
	ck_assert_int_eq(check_mem(t.file, t.len - 50, err, sizeof(err)), 0);
	unsigned char *c = xmalloc(t.len);
	memcpy(c, t.file, t.len);
	c[3] = 'X';
	ck_assert_int_eq(check_mem(c, t.len, err, sizeof(err)), AGE_E_FORMAT);
	memcpy(c, t.file, t.len);
	char *arrow = strstr((char *)c, "\n-> X25519 ");
	ck_assert_ptr_nonnull(arrow);
	arrow[11] = '\n'; /* the stanza loses its share */
	ck_assert_int_eq(check_mem(c, t.len, err, sizeof(err)), AGE_E_FORMAT);
	free(c);
	damaged_free(&t);
}
END_TEST

static Suite *age_suite(void)
{
	Suite *s = suite_create("encrypt-age");
	TCase *k = tcase_create("keys");
	tcase_add_checked_fixture(k, setup, NULL);
	tcase_add_test(k, test_bech32_good);
	tcase_add_test(k, test_bech32_bad);
	tcase_add_test(k, test_identity_errors_hide_key);
	tcase_add_test(k, test_recipients_file);
	tcase_add_test(k, test_fingerprint);
	suite_add_tcase(s, k);
	TCase *f = tcase_create("files");
	tcase_add_checked_fixture(f, setup, NULL);
	tcase_set_timeout(f, 120);
	tcase_add_test(f, test_ours_to_age);
	tcase_add_test(f, test_two_recipients);
	tcase_add_test(f, test_age_to_ours);
	tcase_add_test(f, test_empty_payload);
	tcase_add_test(f, test_header_unknown_stanza);
	tcase_add_test(f, test_damage_payload);
	tcase_add_test(f, test_damage_trailing);
	tcase_add_test(f, test_damage_header);
	tcase_add_test(f, test_check_without_key);
	tcase_add_test(f, test_memory_bounded);
	tcase_add_test(f, test_age_tool);
	suite_add_tcase(s, f);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(age_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
