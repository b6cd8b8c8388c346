/* SPDX-License-Identifier: ISC */
/*
 * fuzz_keyring.c - keyring text, the trust anchor: fgk_keyring_parse().
 *
 * The input is the file's contents.  The parse is pure (keys.h); the
 * keyring it returns is freed with fgk_keyring_free().
 *
 * Oracles, from keys.h and keys.c's design notes:
 *  - a failure leaves the keyring empty and says "fname:line: reason";
 *  - a success holds at most FGK_KEYRING_MAX keys, each named 1..63 of
 *    [A-Za-z0-9._-], no name and no key twice, so fgw_keyring_find()
 *    finds each key at its own index;
 *  - base64 is strict, "one key has exactly one spelling": printing the
 *    keyring back as "NAME BASE64" lines and parsing that gives the same
 *    keyring, entry for entry.
 */
#include <sodium.h>
#include <string.h>

#include "gossip/keys.h"
#include "tests/fuzz/fuzz.h"

#define FNAME   "fuzz-keyring"
#define B64     sodium_base64_VARIANT_ORIGINAL
#define B64_LEN sodium_base64_ENCODED_LEN(FGW_PK_SIZE, B64)

static int name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > FGK_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("._-", s[i])))
			return 0;
	return 1;
}

/* Print @kr as a keyring file and parse it again: the same keyring. */
static void check_roundtrip(const struct fgw_keyring *kr)
{
	const size_t line = FGK_NAME_MAX + 1 + B64_LEN + 1;
	struct fgw_keyring again;
	char *text, err[256];
	size_t i, len = 0;

	text = malloc(kr->n * line + 1);
	FUZZ_ASSERT(text != NULL);
	for (i = 0; i < kr->n; i++) {
		char b64[B64_LEN];

		sodium_bin2base64(b64, sizeof b64, kr->keys[i].pk, FGW_PK_SIZE,
		                  B64);
		len += (size_t)sprintf(text + len, "%s %s\n", kr->keys[i].name,
		                       b64);
	}
	FUZZ_ASSERT(
	    fgk_keyring_parse(text, len, FNAME, &again, err, sizeof err) == 0);
	FUZZ_ASSERT(again.n == kr->n);
	for (i = 0; i < kr->n; i++) {
		FUZZ_ASSERT(strcmp(again.keys[i].name, kr->keys[i].name) == 0);
		FUZZ_ASSERT(
		    memcmp(again.keys[i].pk, kr->keys[i].pk, FGW_PK_SIZE) == 0);
	}
	fgk_keyring_free(&again);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fgw_keyring kr;
	char err[256];
	size_t i, j;
	int r;

	FUZZ_ASSERT(sodium_init() >= 0);
	memset(err, 'x', sizeof err);
	r = fgk_keyring_parse((const char *)data, size, FNAME, &kr, err,
	                      sizeof err);
	if (r != 0) {
		FUZZ_ASSERT(r == -1);
		FUZZ_ASSERT(kr.n == 0 && kr.keys == NULL);
		FUZZ_ASSERT(memchr(err, '\0', sizeof err) != NULL);
		FUZZ_ASSERT(strncmp(err, FNAME ":", strlen(FNAME ":")) == 0);
		return 0;
	}
	FUZZ_ASSERT(kr.n <= FGK_KEYRING_MAX);
	FUZZ_ASSERT((kr.n == 0) == (kr.keys == NULL));
	for (i = 0; i < kr.n; i++) {
		const struct fgw_peer_key *k = &kr.keys[i];

		FUZZ_ASSERT(memchr(k->name, '\0', sizeof k->name) != NULL);
		FUZZ_ASSERT(name_ok(k->name));
		for (j = 0; j < i; j++)
			FUZZ_ASSERT(strcmp(kr.keys[j].name, k->name) != 0);
		FUZZ_ASSERT(fgw_keyring_find(&kr, k->pk) == (int)i);
	}
	check_roundtrip(&kr);
	fgk_keyring_free(&kr);
	FUZZ_ASSERT(kr.n == 0 && kr.keys == NULL);
	return 0;
}
