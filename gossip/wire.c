/* SPDX-License-Identifier: ISC */
/*
 * wire.c - building and checking gossip datagrams (layout in wire.h).
 *
 * Writing.  fgw_begin() lays down the header with nrec 0, fgw_add()
 * appends one record if the record *and* the largest seal still fit
 * under the writer's cap, and fgw_finish() (or fgw_finish_group(), for
 * up to FGW_GROUP_MAX writers at once) patches nrec and appends the seal:
 * the path to the group's root and its signature (seal.h).  The invariant
 * "len + FGW_SEAL_MAX <= cap" holds from fgw_begin() to the finish, so a
 * refused record leaves a datagram that can still be sealed and sent: the
 * caller starts a new one for the rest.  The finish then sets cap = len,
 * so a late fgw_add() or a second finish is refused instead of writing
 * past the seal.  fgw_seal_mac() reads the writer without changing it
 * (one copy per member, each with its own key); the MAC is shorter than
 * any seal, so the same invariant makes room for it, and a finished
 * writer (cap == len) is refused there too.
 *
 * Reading.  Everything in the datagram is hostile until the signature has
 * been checked, and the checks run in a fixed order, cheapest and least
 * trusting first, each with its own drop reason (chrony's
 * read_from_cmd_socket does the same):
 *
 *   1. length bounds          TRUNCATED / OVERSIZED  (no byte read yet)
 *   2. magic, version, type, flags,                BADVERSION
 *      a seal's depth (its last byte before the
 *      signature) at most FGW_DEPTH_MAX
 *   3. origin in the keyring                       UNKNOWNKEY
 *   4. type 1: the seal: the datagram's leaf and   BADSIG
 *      path fold to a root whose signature
 *      verifies (or that @roots holds verified);
 *      type 2: Ed25519 over [0, len - 64);
 *      with FGW_F_MAC: the MAC over [0, len - 16)
 *      under the pairwise key for that origin
 *      (none: BADSIG)
 *   5. every record's bounds, nrec, exact end,     MALFORMED
 *      recent <= count, from <= to
 *      (type 2: nrec 0, the body's exact size and values)
 *
 * Only a key we already trust can make us spend a signature verification
 * (~57 us, DESIGN-NOTES); a random origin costs a keyring lookup, and a
 * datagram of a seal group whose root was verified costs two hashes.
 * Step 5 runs after step 4 because only a trusted node can put bytes
 * there, but it runs all the same: a buggy or compromised peer must not
 * make fgw_next() read out of bounds.  Every record is checked before the
 * first is handed out, so a datagram is applied entirely or not at all.
 * The walk is bounded by the datagram: each record advances the position
 * by at least FGW_REC_FIXED + 2 bytes and the loop stops where the
 * trailer starts (the view keeps that end).  Step 1 knows only the
 * shortest datagram of all (FGW_MAC_MIN); the minimum of a type and
 * trailer is known after reading the type, flag and depth bytes, so a
 * datagram too short for them (a signed consumption datagram without
 * room for its batch fields, say) is TRUNCATED right after step 2.
 *
 * A MAC is checked with the key the receiver shares with the claimed
 * origin, so a trusted member cannot pass one off in another's name
 * (wire.h), and like the signature it is checked before any byte of the
 * body is believed.  Its comparison is constant-time (crypto_verify_16),
 * and the MAC computed for comparison is wiped: for a forged datagram it
 * is exactly the tag the forger lacks.
 *
 * STALE and REPLAY need per-origin state: see replay.h; the caller asks
 * it after fgw_open() returned FGW_OK, never before (an unauthenticated
 * datagram must not move a window; fgw_peek() lets it drop, unverified,
 * what its window holds already).
 *
 * All multi-byte fields are big-endian and read byte by byte: no
 * alignment or aliasing assumptions about @buf.
 */
#include "gossip/wire.h"

#include <sodium.h>
#include <string.h>

#include "gossip/pairwise.h"
#include "lib/floodgate.h"

_Static_assert(FGW_RULE_MAX == FG_RULE_NAME_MAX, "rule names: wire = api");
_Static_assert(FGW_KEY_MAX == FG_KEY_MAX, "keys: wire = api");
_Static_assert(FGW_PK_SIZE == crypto_sign_PUBLICKEYBYTES, "public key");
_Static_assert(FGW_SK_SIZE == crypto_sign_SECRETKEYBYTES, "secret key");
_Static_assert(FGW_MAX_SIZE - FGW_MIN_SIZE < (FGW_REC_FIXED + 2) * 65535,
               "nrec cannot overflow");
_Static_assert(FGW_MAC_SIZE == crypto_verify_16_BYTES, "MAC compare");
_Static_assert(FGW_MAC_SIZE >= crypto_generichash_BYTES_MIN &&
                   FGW_MAC_SIZE <= crypto_generichash_BYTES_MAX,
               "MAC size");
_Static_assert(FGW_MAC_KEY_SIZE >= crypto_generichash_KEYBYTES_MIN &&
                   FGW_MAC_KEY_SIZE <= crypto_generichash_KEYBYTES_MAX,
               "MAC key size");
_Static_assert(FGW_MAC_SIZE < FGW_SEAL_FIXED && FGW_MAC_MIN < FGW_CONS_MIN,
               "a datagram that fits sealed fits MAC'd");
_Static_assert(FGW_CONS_HDR + FGW_SEAL_MAX + FGW_REC_MAX <= 512,
               "a record fits any datagram the config allows");

/* Header offsets. */
#define OFF_MAGIC  0
#define OFF_TYPE   4
#define OFF_FLAGS  5
#define OFF_NREC   6
#define OFF_ORIGIN 8
#define OFF_INC    40
#define OFF_SEQ    48
_Static_assert(OFF_SEQ + 8 == FGW_HDR_SIZE, "header layout");
#define OFF_FROM 56
#define OFF_TO   64
#define OFF_PART 72
_Static_assert(OFF_PART + 4 == FGW_CONS_HDR, "consumption header layout");
/* What fgw_set_batch() may set; FGW_F_MAC is fgw_seal_mac()'s alone, so
 * that a signed datagram never claims to end with a MAC. */
#define FLAGS_BATCH (FGW_F_LAST | FGW_F_REPAIR | FGW_F_FLOOD)
#define FLAGS_CONS  (FLAGS_BATCH | FGW_F_MAC)

static const char *const drop_names[FGW_NDROPS] = {
    [FGW_OK] = "ok",
    [FGW_TRUNCATED] = "truncated",
    [FGW_OVERSIZED] = "oversized",
    [FGW_BADVERSION] = "bad-version",
    [FGW_UNKNOWNKEY] = "unknown-key",
    [FGW_BADSIG] = "bad-signature",
    [FGW_STALE] = "stale",
    [FGW_REPLAY] = "replay",
    [FGW_MALFORMED] = "malformed",
};

const char *fgw_drop_name(enum fgw_drop d)
{
	if ((unsigned)d >= FGW_NDROPS)
		return "unknown";
	return drop_names[d];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* ------------------------------------------------------------ writing */

/* Whether @w is a datagram being written: not finished, with room for
 * the largest seal. */
static int writing(const struct fgw_writer *w)
{
	return w->cap <= FGW_MAX_SIZE && w->len >= FGW_CONS_HDR &&
	       w->len <= w->cap && w->cap - w->len >= FGW_SEAL_MAX;
}

void fgw_begin(struct fgw_writer *w, size_t cap,
               const uint8_t origin[FGW_PK_SIZE], uint64_t incarnation,
               uint64_t seq)
{
	if (cap > FGW_MAX_SIZE)
		cap = FGW_MAX_SIZE;
	/* a record always fits an empty datagram */
	if (cap < FGW_CONS_HDR + FGW_SEAL_MAX + FGW_REC_MAX)
		cap = FGW_CONS_HDR + FGW_SEAL_MAX + FGW_REC_MAX;
	memset(w->buf, 0, FGW_CONS_HDR);
	memcpy(w->buf + OFF_MAGIC, FGW_MAGIC, 4);
	w->buf[OFF_TYPE] = FGW_TYPE_CONSUMPTION;
	w->buf[OFF_FLAGS] = 0;
	put16(w->buf + OFF_NREC, 0);
	memcpy(w->buf + OFF_ORIGIN, origin, FGW_PK_SIZE);
	put64(w->buf + OFF_INC, incarnation);
	put64(w->buf + OFF_SEQ, seq);
	w->len = FGW_CONS_HDR;
	w->cap = cap;
	w->nrec = 0;
}

int fgw_add(struct fgw_writer *w, const char *rule, size_t rule_len,
            const void *key, size_t key_len, uint64_t count, uint64_t floor)
{
	size_t need = FGW_REC_FIXED + rule_len + key_len;
	uint8_t *p;

	if (rule == NULL || rule_len == 0 || rule_len > FGW_RULE_MAX)
		return -1;
	if (key == NULL || key_len == 0 || key_len > FGW_KEY_MAX)
		return -1;
	if (floor > count)
		return -1;
	/* Also refuses a finished writer (cap == len there). */
	if (!writing(w) || w->cap - w->len - FGW_SEAL_MAX < need ||
	    w->nrec == UINT16_MAX)
		return -1;
	p = w->buf + w->len;
	p[0] = (uint8_t)rule_len;
	p[1] = (uint8_t)key_len;
	put64(p + 2, count);
	put32(p + 10, count - floor > UINT32_MAX ? UINT32_MAX
	                                         : (uint32_t)(count - floor));
	memcpy(p + FGW_REC_FIXED, rule, rule_len);
	memcpy(p + FGW_REC_FIXED + rule_len, key, key_len);
	w->len += need;
	w->nrec++;
	return 0;
}

void fgw_set_batch(struct fgw_writer *w, uint64_t from, uint64_t to,
                   uint32_t part, unsigned flags)
{
	/* A finished writer's bytes are signed: never rewrite them. */
	if (from > to || (flags & ~(unsigned)FLAGS_BATCH) != 0 || !writing(w))
		return;
	put64(w->buf + OFF_FROM, from);
	put64(w->buf + OFF_TO, to);
	put32(w->buf + OFF_PART, part);
	w->buf[OFF_FLAGS] = (uint8_t)flags;
}

/* Seal @w[0 .. @n): the trailers written and the group's @root given;
 * signed with @sk unless it is NULL (the signature left zero). */
static int finish(struct fgw_writer *const w[], size_t n, const uint8_t *sk,
                  uint8_t root[FGW_HASH_SIZE])
{
	const uint8_t *body[FGW_GROUP_MAX];
	uint8_t *trailer[FGW_GROUP_MAX], sig[FGW_SIG_SIZE];
	size_t len[FGW_GROUP_MAX], i, tlen;

	if (n == 0 || n > FGW_GROUP_MAX)
		return -1;
	for (i = 0; i < n; i++) {
		if (w[i] == NULL || !writing(w[i]))
			return -1;
		put16(w[i]->buf + OFF_NREC, w[i]->nrec);
		body[i] = w[i]->buf;
		len[i] = w[i]->len;
		trailer[i] = w[i]->buf + w[i]->len;
	}
	tlen = fgw_seal_build(n, body, len, trailer, root);
	if (tlen == 0 || (sk != NULL && fgw_seal_sign_root(root, sig, sk) != 0))
		return -1;
	for (i = 0; i < n; i++) {
		w[i]->len += tlen;
		w[i]->cap = w[i]->len;
		if (sk != NULL)
			memcpy(w[i]->buf + w[i]->len - FGW_SIG_SIZE, sig,
			       FGW_SIG_SIZE);
	}
	sodium_memzero(sig, sizeof sig);
	return 0;
}

int fgw_finish_group(struct fgw_writer *const w[], size_t n,
                     const uint8_t sk[FGW_SK_SIZE])
{
	uint8_t root[FGW_HASH_SIZE];

	return finish(w, n, sk, root);
}

int fgw_finish_group_root(struct fgw_writer *const w[], size_t n,
                          uint8_t root[FGW_HASH_SIZE])
{
	return finish(w, n, NULL, root);
}

size_t fgw_finish(struct fgw_writer *w, const uint8_t sk[FGW_SK_SIZE])
{
	return fgw_finish_group(&w, 1, sk) == 0 ? w->len : 0;
}

size_t fgw_seal_mac(const struct fgw_writer *w,
                    const uint8_t key[FGW_MAC_KEY_SIZE],
                    uint8_t out[FGW_MAX_SIZE])
{
	size_t len;

	if (key == NULL)
		return 0;
	len = fgw_seal_later(w, out);
	if (len == 0 || fgw_prove(out, len, NULL, key) != 0)
		return 0;
	return len;
}

size_t fgw_seal_later(const struct fgw_writer *w, uint8_t out[FGW_MAX_SIZE])
{
	size_t len = w->len;

	/* the finish's conditions: an unfinished datagram, with room for
	 * a seal, hence for the shorter MAC. */
	if (out == NULL || !writing(w))
		return 0;
	memcpy(out, w->buf, len);
	out[OFF_FLAGS] |= FGW_F_MAC;
	put16(out + OFF_NREC, w->nrec);
	memset(out + len, 0, FGW_MAC_SIZE);
	return len + FGW_MAC_SIZE;
}

int fgw_proof_needed(const uint8_t *buf, size_t len,
                     const uint8_t origin[FGW_PK_SIZE])
{
	if (len < FGW_MAC_MIN || len > FGW_MAX_SIZE ||
	    memcmp(buf + OFF_MAGIC, FGW_MAGIC, 4) != 0 ||
	    memcmp(buf + OFF_ORIGIN, origin, FGW_PK_SIZE) != 0)
		return FGW_PROOF_NONE;
	if (buf[OFF_TYPE] == FGW_TYPE_MEMBER)
		return len == FGW_MEMBER_SIZE ? FGW_PROOF_SIG : FGW_PROOF_NONE;
	if (buf[OFF_TYPE] != FGW_TYPE_CONSUMPTION)
		return FGW_PROOF_NONE;
	if (buf[OFF_FLAGS] & FGW_F_MAC)
		return FGW_PROOF_MAC;
	return len >= FGW_CONS_MIN && fgw_seal_size(buf, len) != 0
	           ? FGW_PROOF_SEAL
	           : FGW_PROOF_NONE;
}

int fgw_prove(uint8_t *buf, size_t len, const uint8_t *sk,
              const uint8_t *mac_key)
{
	if (sodium_init() < 0 || len > FGW_MAX_SIZE)
		return -1;
	if (mac_key != NULL)
		return len < FGW_MAC_MIN ||
		               crypto_generichash(buf + len - FGW_MAC_SIZE,
		                                  FGW_MAC_SIZE, buf,
		                                  len - FGW_MAC_SIZE, mac_key,
		                                  FGW_MAC_KEY_SIZE) != 0
		           ? -1
		           : 0;
	/* Whole datagrams signed are membership datagrams alone (type 1
	 * carries a seal: fgw_seal_sign_root). */
	return sk == NULL || len != FGW_MEMBER_SIZE ||
	               buf[OFF_TYPE] != FGW_TYPE_MEMBER ||
	               crypto_sign_detached(buf + len - FGW_SIG_SIZE, NULL, buf,
	                                    len - FGW_SIG_SIZE, sk) != 0
	           ? -1
	           : 0;
}

/* Member body offsets, from FGW_HDR_SIZE. */
#define M_KIND   0
#define M_FAMILY 1
#define M_PORT   2
#define M_ADDR   4
#define M_NONCE  20
#define M_TARGET 28
#define M_REQ    60
#define M_DINC   92
#define M_DHAVE  100
_Static_assert(M_DHAVE + 8 == FGW_MEMBER_BODY, "member layout");

/* The values a member body may hold: a known kind, and an address in
 * one canonical form (family 0 has no port or address bytes, IPv4 uses
 * the first 4 of 16). */
static int member_valid(uint8_t kind, uint8_t family, uint16_t port,
                        const uint8_t addr[16], uint64_t dinc, uint64_t dhave)
{
	if (kind < FGW_PING || kind > FGW_SYNC)
		return 0;
	if (kind != FGW_PING && kind != FGW_SYNC && (dinc | dhave) != 0)
		return 0;
	if (family == 0)
		return port == 0 && sodium_is_zero(addr, 16);
	if (family == 4)
		return port != 0 && sodium_is_zero(addr + 4, 12);
	return family == 6 && port != 0;
}

size_t fgw_member_write(uint8_t buf[FGW_MEMBER_SIZE],
                        const uint8_t origin[FGW_PK_SIZE], uint64_t incarnation,
                        uint64_t seq, const struct fgw_member *m,
                        const uint8_t sk[FGW_SK_SIZE])
{
	uint8_t *b = buf + FGW_HDR_SIZE;
	const size_t end = FGW_HDR_SIZE + FGW_MEMBER_BODY;

	if (!member_valid(m->kind, m->family, m->port, m->addr, m->digest_inc,
	                  m->digest_have))
		return 0;
	if (sodium_init() < 0)
		return 0;
	memset(buf, 0, FGW_HDR_SIZE);
	memcpy(buf + OFF_MAGIC, FGW_MAGIC, 4);
	buf[OFF_TYPE] = FGW_TYPE_MEMBER;
	memcpy(buf + OFF_ORIGIN, origin, FGW_PK_SIZE);
	put64(buf + OFF_INC, incarnation);
	put64(buf + OFF_SEQ, seq);
	b[M_KIND] = m->kind;
	b[M_FAMILY] = m->family;
	put16(b + M_PORT, m->port);
	memcpy(b + M_ADDR, m->addr, 16);
	put64(b + M_NONCE, m->nonce);
	memcpy(b + M_TARGET, m->target, FGW_PK_SIZE);
	memcpy(b + M_REQ, m->requester, FGW_PK_SIZE);
	put64(b + M_DINC, m->digest_inc);
	put64(b + M_DHAVE, m->digest_have);
	if (sk == NULL) /* signed elsewhere (fgw_prove) */
		memset(buf + end, 0, FGW_SIG_SIZE);
	else if (crypto_sign_detached(buf + end, NULL, buf, end, sk) != 0)
		return 0;
	return FGW_MEMBER_SIZE;
}

int fgw_member_get(const struct fgw_view *v, struct fgw_member *m)
{
	const uint8_t *b;

	if (v->buf == NULL || v->type != FGW_TYPE_MEMBER ||
	    v->len != FGW_MEMBER_SIZE)
		return -1;
	b = v->buf + FGW_HDR_SIZE;
	m->kind = b[M_KIND];
	m->family = b[M_FAMILY];
	m->port = get16(b + M_PORT);
	memcpy(m->addr, b + M_ADDR, 16);
	m->nonce = get64(b + M_NONCE);
	memcpy(m->target, b + M_TARGET, FGW_PK_SIZE);
	memcpy(m->requester, b + M_REQ, FGW_PK_SIZE);
	m->digest_inc = get64(b + M_DINC);
	m->digest_have = get64(b + M_DHAVE);
	return 0;
}

/* ------------------------------------------------------------ reading */

/*
 * Walk the records in [FGW_CONS_HDR, end): 0 if they are exactly @nrec
 * well-formed records ending at @end, -1 otherwise.
 */
static int check_records(const uint8_t *buf, size_t end, uint16_t nrec)
{
	size_t pos = FGW_CONS_HDR;
	size_t n = 0;
	size_t rl, kl;

	while (pos < end) {
		if (end - pos < FGW_REC_FIXED || n == nrec)
			return -1;
		rl = buf[pos];
		kl = buf[pos + 1];
		if (rl == 0 || rl > FGW_RULE_MAX || kl == 0 || kl > FGW_KEY_MAX)
			return -1;
		if (end - pos - FGW_REC_FIXED < rl + kl)
			return -1;
		if (get32(buf + pos + 10) > get64(buf + pos + 2))
			return -1; /* more recent than ever consumed */
		pos += FGW_REC_FIXED + rl + kl;
		n++;
	}
	return (pos == end && n == nrec) ? 0 : -1;
}

/* The trailer the type, flags and a seal's depth byte (at len - 65: a
 * datagram is FGW_MAC_MIN bytes at least) call for; 0 for a seal deeper
 * than FGW_DEPTH_MAX. */
static size_t trailer_size(const uint8_t *buf, size_t len)
{
	unsigned depth = buf[len - FGW_SIG_SIZE - 1];

	if (buf[OFF_FLAGS] & FGW_F_MAC)
		return FGW_MAC_SIZE;
	if (buf[OFF_TYPE] == FGW_TYPE_MEMBER)
		return FGW_SIG_SIZE;
	return depth > FGW_DEPTH_MAX ? 0 : FGW_SEAL_SIZE(depth);
}

/* Steps 1 and 2: the frame.  FGW_OK with the trailer's size. */
static enum fgw_drop check_frame(const uint8_t *buf, size_t len,
                                 size_t *trailer)
{
	uint8_t type, flags;

	if (buf == NULL || len < FGW_MAC_MIN)
		return FGW_TRUNCATED;
	if (len > FGW_MAX_SIZE)
		return FGW_OVERSIZED;
	type = buf[OFF_TYPE];
	flags = buf[OFF_FLAGS];
	if (memcmp(buf + OFF_MAGIC, FGW_MAGIC, 4) != 0 ||
	    (type == FGW_TYPE_CONSUMPTION && (flags & ~FLAGS_CONS) != 0) ||
	    (type == FGW_TYPE_MEMBER && flags != 0) ||
	    (type != FGW_TYPE_CONSUMPTION && type != FGW_TYPE_MEMBER))
		return FGW_BADVERSION;
	*trailer = trailer_size(buf, len);
	if (*trailer == 0)
		return FGW_BADVERSION; /* a seal deeper than ours */
	/* Step 1 again, now that the type and the trailer are known. */
	if (len < *trailer + (type == FGW_TYPE_CONSUMPTION ? FGW_CONS_HDR
	                                                   : FGW_HDR_SIZE))
		return FGW_TRUNCATED;
	return FGW_OK;
}

/* Step 4 for a seal: the root the datagram folds to, known verified or
 * verified now (and then remembered in @roots). */
static enum fgw_drop check_seal(const uint8_t *buf, size_t len, size_t tlen,
                                int origin, struct fgw_roots *roots)
{
	uint8_t root[FGW_HASH_SIZE];
	const uint8_t *sig;

	if (fgw_seal_root(buf, len, tlen, root, &sig) != 0)
		return FGW_BADSIG;
	if (roots != NULL && fgw_roots_has(roots, origin, root))
		return FGW_OK;
	if (fgw_seal_verify(root, sig, buf + OFF_ORIGIN) != 0)
		return FGW_BADSIG;
	if (roots != NULL)
		fgw_roots_add(roots, origin, root);
	return FGW_OK;
}

/* Step 4: the seal (type 1), the signature over [0, @end) (type 2), or
 * the MAC under the key made for this very origin: the pairwise keys of
 * another keyring must not check a datagram in the name of whoever now
 * has the index.  (A MAC'd datagram is of type 1: step 2 refused the flag
 * on type 2.) */
static enum fgw_drop check_auth(const uint8_t *buf, size_t len, size_t end,
                                const struct fgw_keyring *kr, int origin,
                                struct fgw_roots *roots)
{
	uint8_t mac[FGW_MAC_SIZE];
	const uint8_t *key;
	enum fgw_drop d = FGW_OK;

	/* sodium_init() failing is the one case we cannot verify: drop. */
	if (sodium_init() < 0)
		return FGW_BADSIG;
	if (!(buf[OFF_FLAGS] & FGW_F_MAC) && buf[OFF_TYPE] == FGW_TYPE_MEMBER)
		return crypto_sign_verify_detached(buf + end, buf, end,
		                                   buf + OFF_ORIGIN) == 0
		           ? FGW_OK
		           : FGW_BADSIG;
	if (!(buf[OFF_FLAGS] & FGW_F_MAC))
		return check_seal(buf, len, len - end, origin, roots);
	key = fgw_pairwise_rx_from(kr->pw, origin, buf + OFF_ORIGIN);
	if (key == NULL ||
	    crypto_generichash(mac, sizeof mac, buf, end, key,
	                       FGW_MAC_KEY_SIZE) != 0 ||
	    crypto_verify_16(mac, buf + end) != 0)
		d = FGW_BADSIG;
	sodium_memzero(mac, sizeof mac);
	return d;
}

/* Step 5: the body, now that it is authentic. */
static enum fgw_drop check_body(const uint8_t *buf, size_t end)
{
	const uint8_t *m = buf + FGW_HDR_SIZE;

	if (buf[OFF_TYPE] == FGW_TYPE_MEMBER)
		/* Fixed size first: only then are the body's bytes there. */
		return end == FGW_HDR_SIZE + FGW_MEMBER_BODY &&
		               get16(buf + OFF_NREC) == 0 &&
		               member_valid(m[M_KIND], m[M_FAMILY],
		                            get16(m + M_PORT), m + M_ADDR,
		                            get64(m + M_DINC),
		                            get64(m + M_DHAVE))
		           ? FGW_OK
		           : FGW_MALFORMED;
	return get64(buf + OFF_FROM) <= get64(buf + OFF_TO) &&
	               check_records(buf, end, get16(buf + OFF_NREC)) == 0
	           ? FGW_OK
	           : FGW_MALFORMED;
}

static void view_fill(const uint8_t *buf, size_t len, size_t end, int origin,
                      struct fgw_view *v)
{
	v->buf = buf;
	v->len = len;
	v->origin = origin;
	v->type = buf[OFF_TYPE];
	v->incarnation = get64(buf + OFF_INC);
	v->seq = get64(buf + OFF_SEQ);
	v->nrec = get16(buf + OFF_NREC);
	v->flags = buf[OFF_FLAGS];
	if (v->type == FGW_TYPE_CONSUMPTION) {
		v->from = get64(buf + OFF_FROM);
		v->to = get64(buf + OFF_TO);
		v->part = get32(buf + OFF_PART);
	} else {
		v->kind = buf[FGW_HDR_SIZE + M_KIND];
	}
	v->end = end;
	/* A membership datagram has no records: its walk is at the end. */
	v->pos = v->type == FGW_TYPE_MEMBER ? end : FGW_CONS_HDR;
}

enum fgw_drop fgw_peek(const uint8_t *buf, size_t len,
                       const struct fgw_keyring *kr, struct fgw_view *v)
{
	enum fgw_drop d;
	size_t trailer = 0;

	memset(v, 0, sizeof *v);
	v->origin = -1;
	d = check_frame(buf, len, &trailer);
	if (d == FGW_OK &&
	    (v->origin = fgw_keyring_find(kr, buf + OFF_ORIGIN)) < 0)
		d = FGW_UNKNOWNKEY;
	if (d != FGW_OK)
		return d;
	v->type = buf[OFF_TYPE];
	v->flags = buf[OFF_FLAGS];
	v->incarnation = get64(buf + OFF_INC);
	v->seq = get64(buf + OFF_SEQ);
	return FGW_OK;
}

enum fgw_drop fgw_open_cached(const uint8_t *buf, size_t len,
                              const struct fgw_keyring *kr,
                              struct fgw_roots *roots, struct fgw_view *v)
{
	enum fgw_drop d;
	size_t trailer = 0;
	int origin = -1;

	memset(v, 0, sizeof *v);
	v->origin = -1;
	d = check_frame(buf, len, &trailer);
	if (d == FGW_OK) {
		origin = fgw_keyring_find(kr, buf + OFF_ORIGIN);
		if (origin < 0)
			d = FGW_UNKNOWNKEY;
	}
	if (d == FGW_OK)
		d = check_auth(buf, len, len - trailer, kr, origin, roots);
	if (d == FGW_OK)
		d = check_body(buf, len - trailer);
	if (d == FGW_OK)
		view_fill(buf, len, len - trailer, origin, v);
	return d;
}

enum fgw_drop fgw_open(const uint8_t *buf, size_t len,
                       const struct fgw_keyring *kr, struct fgw_view *v)
{
	return fgw_open_cached(buf, len, kr, NULL, v);
}

int fgw_next(struct fgw_view *v, struct fgw_record *r)
{
	size_t end = v->end, rl, kl;
	const uint8_t *p;

	/* fgw_open() checked every record; these bounds only keep a view
	 * that did not come from it (or was zeroed on a drop) harmless. */
	if (v->buf == NULL || v->type != FGW_TYPE_CONSUMPTION ||
	    v->len > FGW_MAX_SIZE || end > v->len ||
	    v->len - end != ((v->flags & FGW_F_MAC)
	                         ? FGW_MAC_SIZE
	                         : fgw_seal_size(v->buf, v->len)))
		return 0;
	if (v->pos < FGW_CONS_HDR || v->pos >= end ||
	    end - v->pos < FGW_REC_FIXED)
		return 0;
	p = v->buf + v->pos;
	rl = p[0];
	kl = p[1];
	if (rl == 0 || kl == 0 || end - v->pos - FGW_REC_FIXED < rl + kl)
		return 0;
	r->rule_len = (uint8_t)rl;
	r->key_len = (uint8_t)kl;
	r->count = get64(p + 2);
	r->floor = r->count - get32(p + 10); /* <= count: fgw_open checked */
	if (r->floor > r->count)
		r->floor = 0;
	r->rule = p + FGW_REC_FIXED;
	r->key = p + FGW_REC_FIXED + rl;
	v->pos += FGW_REC_FIXED + rl + kl;
	return 1;
}
