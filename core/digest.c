/* digest.c - SHA-256 of dump files (libcrypto), as lower-case hex.
 *
 * libcrypto, not libsodium: OpenSSL uses the CPU's SHA instructions, several
 * times faster (docs/PERFORMANCE.md "SHA-256: libcrypto, not libsodium"),
 * and a reused dump is hashed whole on every run. */
#include "digest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/errbuf.h"
#include "proc.h"
#include "util.h"

#define READ_CHUNK (256 * 1024)

struct digest {
	EVP_MD_CTX *ctx;
};

struct digest *digest_new(void)
{
	struct digest *d = xcalloc(1, sizeof(*d));
	d->ctx = EVP_MD_CTX_new();
	if (d->ctx == NULL || EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL) != 1) {
		digest_free(d);
		return NULL;
	}
	return d;
}

void digest_update(struct digest *d, const void *buf, size_t len)
{
	if (len > 0)
		(void)EVP_DigestUpdate(d->ctx, buf, len);
}

void digest_hex(struct digest *d, char out[DIGEST_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (EVP_DigestFinal_ex(d->ctx, md, &n) != 1 || n != DIGEST_HEX_LEN / 2) {
		out[0] = '\0';
		return;
	}
	for (unsigned int i = 0; i < n; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[DIGEST_HEX_LEN] = '\0';
}

void digest_free(struct digest *d)
{
	if (d == NULL)
		return;
	EVP_MD_CTX_free(d->ctx);
	free(d);
}

int digest_fd(int fd, char out[DIGEST_HEX_LEN + 1])
{
	struct digest *d = digest_new();
	if (d == NULL) {
		errno = ENOMEM;
		return -1;
	}
	char *buf = xmalloc(READ_CHUNK);
	off_t off = 0;
	int rc = -1;
	for (;;) {
		/* Hashing a large previous dump must not hold up a cancelled run. */
		if (proc_cancelled()) {
			errno = ECANCELED;
			goto out;
		}
		ssize_t n = pread(fd, buf, READ_CHUNK, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		if (n == 0)
			break;
		digest_update(d, buf, (size_t)n);
		off += n;
	}
	digest_hex(d, out);
	rc = out[0] != '\0' ? 0 : -1;
	if (rc != 0)
		errno = EIO;
out:
	free(buf);
	digest_free(d);
	return rc;
}

int digest_path(const char *path, char out[DIGEST_HEX_LEN + 1], char *err, size_t errlen)
{
	int fd = open_regular(AT_FDCWD, path, 0);
	if (fd < 0) {
		if (fd == -2)
			cm_errf(err, errlen, "%s is not a regular file", path);
		else
			cm_errf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	int rc = digest_fd(fd, out);
	if (rc != 0)
		cm_errf(err, errlen, "cannot read %s: %s", path, strerror(errno));
	close(fd);
	return rc;
}
