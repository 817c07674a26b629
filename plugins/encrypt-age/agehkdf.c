/* agehkdf.c - HKDF-SHA-256 (RFC 5869) over libsodium's HMAC-SHA-256 (Debian 12's libsodium 1.0.18 has no HKDF), and libsodium's start-up. */
#include <sodium.h>
#include <string.h>

#include "age.h"
#include "common/errbuf.h"

int age_init(char *err, size_t errlen)
{
	if (sodium_init() < 0) {
		cm_errf(err, errlen, "age: libsodium cannot be initialised");
		return -1;
	}
	return 0;
}

/* Extract: PRK = HMAC(salt, ikm), an empty salt being HashLen zero bytes
 * (HMAC pads a short key with zeros, so an empty key is the same).  Expand
 * to 32 bytes is the first block: T(1) = HMAC(PRK, info || 0x01). */
void age_hkdf(uint8_t out[32], const void *salt, size_t saltlen, const void *ikm, size_t ikmlen,
              const char *info)
{
	uint8_t prk[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;
	static const uint8_t one = 1, no_salt[1];

	/* libsodium declares the key non-null even when its length is 0. */
	crypto_auth_hmacsha256_init(&st, salt != NULL ? salt : no_salt, saltlen);
	crypto_auth_hmacsha256_update(&st, ikm, ikmlen);
	crypto_auth_hmacsha256_final(&st, prk);

	crypto_auth_hmacsha256_init(&st, prk, sizeof(prk));
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)info, strlen(info));
	crypto_auth_hmacsha256_update(&st, &one, 1);
	crypto_auth_hmacsha256_final(&st, out);

	sodium_memzero(prk, sizeof(prk));
	sodium_memzero(&st, sizeof(st));
}
