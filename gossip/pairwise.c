/* SPDX-License-Identifier: ISC */
/*
 * pairwise.c - MAC keys for each pair of members, from their identities.
 *
 * Why.  Every gossip datagram used to carry an Ed25519 signature, and a
 * verification costs ~50 us: at 100,000 changed keys a second a receiver
 * spent a quarter of a CPU per sending peer on them.  A signature is what
 * lets a relay carry the origin's proof to a third node; a datagram that
 * goes straight from its origin to one member (a small cluster's rounds,
 * a repair) needs no such proof, only one the member can check, and a MAC
 * under a key the two of them share does that for ~1.6 us (wire.h,
 * FGW_F_MAC).  As in WireGuard, the shared keys come from a static-static
 * Diffie-Hellman between the two identities: nothing new to distribute,
 * no handshake, no state that a lost datagram could desynchronise.
 *
 * How.  Our Ed25519 key pair and each member's Ed25519 public key are
 * mapped to X25519 (crypto_sign_ed25519_{sk,pk}_to_curve25519, the
 * birational map libsodium provides), and libsodium's crypto_kx makes the
 * two session keys of the pair: BLAKE2b-512(X25519(a, B) || client pk ||
 * server pk), split in halves, the client's tx being the server's rx.
 * Both ends must agree who is the client without talking: the member
 * whose Ed25519 public key is lower (memcmp) is.  So our tx key toward B
 * is B's rx key from us, and the two directions have different keys.
 *
 * Each session key is then hashed once more, keyed BLAKE2b-256 of a label
 * naming this use and the two Ed25519 public keys (client's first).  Not
 * for strength (crypto_kx's output is already a uniform key) but for two
 * bindings that cost one hash per member at startup: to this use, so that
 * a later feature running crypto_kx on the same identities (an encrypted
 * channel, say) can never end up with the same keys; and to the Ed25519
 * identities themselves, which the X25519 map does not preserve (it drops
 * the sign of x: A and -A map to the same X25519 key).
 *
 * What it gives, and what it does not.  The key from A to B is known to A
 * and B only (and to whoever steals either's identity key, who could sign
 * as that member anyway).  B can therefore make datagrams "from A" that
 * B accepts, which gains it nothing; no member can make one that a third
 * member accepts in A's name; and since the MAC proves nothing to a third
 * node, a MAC'd datagram is never relayed.  The keys are static: no
 * forward secrecy (neither has the signature), and replays are the replay
 * window's job, as for signed datagrams.  Keyed BLAKE2b is a PRF: one key
 * serves every datagram of a pair, with no nonce to manage (Poly1305
 * would need a fresh key per message).  One key pair for both Ed25519
 * signatures and X25519 is the use libsodium's conversion functions exist
 * for, with the caveats its documentation points to; the alternative, a
 * second public key per member in the keyring, means key distribution
 * anew, which is what this design avoids.
 *
 * Invariants.
 *  - Entry i describes keyring entry i and stores that entry's Ed25519
 *    public key, so that fgw_open() can refuse keys built from another
 *    keyring (fgw_pairwise_rx_from).
 *  - An entry has both keys or none (`ok`): ourselves, and a key that is
 *    not a valid point or is of small order (pk_to_curve25519 or crypto_kx
 *    fails), have none; the others are unaffected.
 *  - Everything, the count included, lives in one sodium_malloc'ed block
 *    (guard pages, mlock'ed, excluded from core dumps), made read-only
 *    once derived: the structure is immutable, any thread may read it.
 *    Its size is rounded up to 16 bytes because sodium_malloc places the
 *    block against its end guard page: a multiple of 16 keeps the start
 *    aligned.
 *  - Every intermediate secret (our X25519 secret, the crypto_kx session
 *    keys) lives on the stack only until wiped, on every path.
 *
 * Cost, at startup: ~90 us per member (the point check of the conversion
 * and the X25519; 0.36 s for a keyring of 4096), and 97 bytes each.
 */
#include "gossip/pairwise.h"

#include <limits.h>
#include <sodium.h>
#include <string.h>

#define LABEL "floodgate gossip v2: direct MAC key"

_Static_assert(FGW_MAC_KEY_SIZE == crypto_kx_SESSIONKEYBYTES, "kx key size");
_Static_assert(FGW_MAC_KEY_SIZE >= crypto_generichash_KEYBYTES_MIN &&
                   FGW_MAC_KEY_SIZE <= crypto_generichash_KEYBYTES_MAX,
               "session key as a BLAKE2b key");
_Static_assert(crypto_kx_PUBLICKEYBYTES == crypto_scalarmult_curve25519_BYTES &&
                   crypto_kx_SECRETKEYBYTES ==
                       crypto_scalarmult_curve25519_SCALARBYTES,
               "crypto_kx is X25519");

struct fgw_pw_entry {
	uint8_t pk[FGW_PK_SIZE]; /* the keyring entry's, as derived from */
	uint8_t tx[FGW_MAC_KEY_SIZE];
	uint8_t rx[FGW_MAC_KEY_SIZE];
	uint8_t ok;    /* 1: rx is a key; 0: both zero */
	uint8_t tx_ok; /* 1: tx is a key too (not in an rx-only table) */
};

struct fgw_pairwise {
	size_t n;
	struct fgw_pw_entry e[];
};

/* @out = keyed BLAKE2b-256(@sess; LABEL || @client || @server). */
static int bind_key(uint8_t out[FGW_MAC_KEY_SIZE],
                    const uint8_t sess[FGW_MAC_KEY_SIZE],
                    const uint8_t client[FGW_PK_SIZE],
                    const uint8_t server[FGW_PK_SIZE])
{
	uint8_t msg[sizeof LABEL - 1 + 2 * FGW_PK_SIZE]; /* public */

	memcpy(msg, LABEL, sizeof LABEL - 1);
	memcpy(msg + sizeof LABEL - 1, client, FGW_PK_SIZE);
	memcpy(msg + sizeof LABEL - 1 + FGW_PK_SIZE, server, FGW_PK_SIZE);
	return crypto_generichash(out, FGW_MAC_KEY_SIZE, msg, sizeof msg, sess,
	                          FGW_MAC_KEY_SIZE);
}

/*
 * The keys between us (@pk, and @xpk/@xsk in X25519) and @peer, into @e
 * (zeroed): 0, or -1 with @e left without keys when @peer cannot take
 * part in a key agreement.
 */
static int derive(struct fgw_pw_entry *e, const uint8_t pk[FGW_PK_SIZE],
                  const uint8_t xpk[crypto_kx_PUBLICKEYBYTES],
                  const uint8_t xsk[crypto_kx_SECRETKEYBYTES],
                  const uint8_t peer[FGW_PK_SIZE])
{
	uint8_t peer_xpk[crypto_kx_PUBLICKEYBYTES];
	uint8_t rx[crypto_kx_SESSIONKEYBYTES], tx[crypto_kx_SESSIONKEYBYTES];
	const uint8_t *client, *server;
	int r, ret = -1;

	if (crypto_sign_ed25519_pk_to_curve25519(peer_xpk, peer) != 0)
		goto out;
	if (memcmp(pk, peer, FGW_PK_SIZE) < 0) {
		client = pk;
		server = peer;
		r = crypto_kx_client_session_keys(rx, tx, xpk, xsk, peer_xpk);
	} else {
		client = peer;
		server = pk;
		r = crypto_kx_server_session_keys(rx, tx, xpk, xsk, peer_xpk);
	}
	if (r != 0 || bind_key(e->tx, tx, client, server) != 0 ||
	    bind_key(e->rx, rx, client, server) != 0)
		goto out;
	e->ok = e->tx_ok = 1;
	ret = 0;
out:
	if (ret != 0) {
		sodium_memzero(e->tx, sizeof e->tx);
		sodium_memzero(e->rx, sizeof e->rx);
		e->ok = e->tx_ok = 0;
	}
	sodium_memzero(rx, sizeof rx);
	sodium_memzero(tx, sizeof tx);
	return ret;
}

/* Whether the arguments can make a table: members are ints in the API,
 * and its size must not wrap. */
static int args_ok(const struct fgw_keyring *kr, const uint8_t *sk,
                   const uint8_t *pk)
{
	if (kr == NULL || sk == NULL || pk == NULL ||
	    (kr->n > 0 && kr->keys == NULL))
		return 0;
	return kr->n <= (size_t)INT_MAX &&
	       kr->n <= (SIZE_MAX - sizeof(struct fgw_pairwise) - 15) /
	                    sizeof(struct fgw_pw_entry);
}

int fgw_pairwise_new(const struct fgw_keyring *kr,
                     const uint8_t sk[FGW_SK_SIZE],
                     const uint8_t pk[FGW_PK_SIZE], struct fgw_pairwise **out)
{
	uint8_t xsk[crypto_kx_SECRETKEYBYTES];
	uint8_t xpk[crypto_kx_PUBLICKEYBYTES],
	    xpk_of_sk[crypto_kx_PUBLICKEYBYTES];
	struct fgw_pairwise *p = NULL;
	size_t i, n, size;
	int ret = -1;

	if (out == NULL)
		goto out;
	*out = NULL;
	if (!args_ok(kr, sk, pk) || sodium_init() < 0)
		goto out;
	n = kr->n;
	/* @pk must be @sk's, and peers derive our X25519 key from @pk: check
	 * that it is the one our secret makes, or no key would agree. */
	if (memcmp(sk + crypto_sign_SEEDBYTES, pk, FGW_PK_SIZE) != 0 ||
	    crypto_sign_ed25519_sk_to_curve25519(xsk, sk) != 0 ||
	    crypto_sign_ed25519_pk_to_curve25519(xpk, pk) != 0 ||
	    crypto_scalarmult_curve25519_base(xpk_of_sk, xsk) != 0 ||
	    memcmp(xpk, xpk_of_sk, sizeof xpk) != 0)
		goto out;
	size = (sizeof *p + n * sizeof p->e[0] + 15) & ~(size_t)15;
	p = sodium_malloc(size);
	if (p == NULL)
		goto out;
	memset(p, 0, size); /* sodium_malloc fills with garbage */
	p->n = n;
	for (i = 0; i < n; i++) {
		memcpy(p->e[i].pk, kr->keys[i].pk, FGW_PK_SIZE);
		if (memcmp(kr->keys[i].pk, pk, FGW_PK_SIZE) == 0)
			continue; /* ourselves: no key */
		(void)derive(&p->e[i], pk, xpk, xsk, kr->keys[i].pk);
	}
	if (sodium_mprotect_readonly(p) != 0)
		goto out;
	*out = p;
	p = NULL;
	ret = 0;
out:
	sodium_free(p); /* wipes; NULL is fine */
	sodium_memzero(xsk, sizeof xsk);
	return ret;
}

void fgw_pairwise_free(struct fgw_pairwise *p)
{
	sodium_free(p); /* makes it writable, wipes it, frees it */
}

static const struct fgw_pw_entry *entry(const struct fgw_pairwise *p,
                                        int member)
{
	if (p == NULL || member < 0 || (size_t)member >= p->n ||
	    !p->e[member].ok)
		return NULL;
	return &p->e[member];
}

const uint8_t *fgw_pairwise_tx(const struct fgw_pairwise *p, int member)
{
	const struct fgw_pw_entry *e = entry(p, member);

	return e != NULL && e->tx_ok ? e->tx : NULL;
}

int fgw_pairwise_rx_only(const struct fgw_keyring *kr, const uint8_t *rx,
                         struct fgw_pairwise **out)
{
	static const uint8_t pk_none[FGW_PK_SIZE];
	struct fgw_pairwise *p;
	size_t i, size;

	if (out == NULL)
		return -1;
	*out = NULL;
	/* args_ok's bounds; no secret key here, so a stand-in for it */
	if (rx == NULL || !args_ok(kr, pk_none, pk_none) || sodium_init() < 0)
		return -1;
	size = (sizeof *p + kr->n * sizeof p->e[0] + 15) & ~(size_t)15;
	p = sodium_malloc(size);
	if (p == NULL)
		return -1;
	memset(p, 0, size);
	p->n = kr->n;
	for (i = 0; i < kr->n; i++) {
		const uint8_t *k = rx + i * FGW_MAC_KEY_SIZE;

		memcpy(p->e[i].pk, kr->keys[i].pk, FGW_PK_SIZE);
		if (sodium_is_zero(k, FGW_MAC_KEY_SIZE))
			continue;
		memcpy(p->e[i].rx, k, FGW_MAC_KEY_SIZE);
		p->e[i].ok = 1;
	}
	if (sodium_mprotect_readonly(p) != 0) {
		sodium_free(p);
		return -1;
	}
	*out = p;
	return 0;
}

const uint8_t *fgw_pairwise_rx(const struct fgw_pairwise *p, int member)
{
	const struct fgw_pw_entry *e = entry(p, member);

	return e != NULL ? e->rx : NULL;
}

const uint8_t *fgw_pairwise_rx_from(const struct fgw_pairwise *p, int member,
                                    const uint8_t pk[FGW_PK_SIZE])
{
	const struct fgw_pw_entry *e = entry(p, member);

	/* Public keys: no need for a constant-time compare. */
	if (e == NULL || pk == NULL || memcmp(e->pk, pk, FGW_PK_SIZE) != 0)
		return NULL;
	return e->rx;
}
