/* SPDX-License-Identifier: ISC */
/*
 * keys.h - node identities: Ed25519 key files and the keyring.
 *
 * A node's secret key lives in a file readable by its owner only (a file
 * readable by group or others is refused), is read into sodium_malloc'ed
 * memory made read-only, and every buffer it passed through is wiped.
 * The keyring lists the public keys of trusted nodes, one per line:
 * "NAME BASE64-PUBLIC-KEY", '#' comments.
 */
#ifndef FG_GOSSIP_KEYS_H
#define FG_GOSSIP_KEYS_H

#include <stddef.h>
#include <stdint.h>

/* Sizes of an identity (libsodium's crypto_sign: Ed25519). */
#define FGW_PK_SIZE 32
#define FGW_SK_SIZE 64

#define FGK_NAME_MAX         63         /* names: 1..63 of [A-Za-z0-9._-] */
#define FGK_KEYRING_MAX      4096       /* keys in one keyring */
#define FGK_KEYRING_FILE_MAX (1u << 20) /* bytes of keyring text */
#define FGK_SECRET_FILE_MAX  256        /* bytes of a secret key file */

struct fgw_pairwise; /* gossip/pairwise.h */

/* Trusted origins. */
struct fgw_keyring {
	size_t n;
	struct fgw_peer_key {
		uint8_t pk[FGW_PK_SIZE];
		char name[64];
	} * keys;
	/* Our MAC keys with each entry, built from this very keyring
	 * (fgw_pairwise_new), not owned by it; NULL: none, and every
	 * FGW_F_MAC datagram is BADSIG.  fgk_keyring_parse/load/free set
	 * it to NULL. */
	const struct fgw_pairwise *pw;
};

/* The index of @pk in @kr, or -1 if absent. */
int fgw_keyring_find(const struct fgw_keyring *kr,
                     const uint8_t pk[FGW_PK_SIZE]);

/* Write a new key pair: the secret key to @path (created 0600, never
 * overwriting), the public key to @path.pub as one keyring-style line
 * "NAME BASE64" with NAME = @name.  0, or -1 with a message in @err. */
int fgk_keygen(const char *path, const char *name, char *err, size_t errlen);

/* Load a secret key file: *sk receives FGW_SK_SIZE bytes in read-only
 * sodium_malloc'ed memory (free with fgk_secret_free), @pk its public key.
 * 0, or -1 with a message (missing, readable by group/others, malformed). */
int fgk_load_secret(const char *path, uint8_t **sk, uint8_t pk[FGW_PK_SIZE],
                    char *err, size_t errlen);
void fgk_secret_free(uint8_t *sk);

/* Parse a keyring text (pure function, fuzzable); same conventions as
 * fgd_config_parse: "fname:line: reason" on error. */
int fgk_keyring_parse(const char *text, size_t len, const char *fname,
                      struct fgw_keyring *kr, char *err, size_t errlen);
int fgk_keyring_load(const char *path, struct fgw_keyring *kr, char *err,
                     size_t errlen);
void fgk_keyring_free(struct fgw_keyring *kr);

#endif
