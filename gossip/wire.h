/*
 * wire.h - the gossip datagram: signed, cumulative, per-key consumption.
 *
 *   offset  size
 *        0     4  magic "FGW" and version (1)
 *        4     1  type (1: consumption)
 *        5     1  flags (0)
 *        6     2  nrec, records that follow (big-endian, as every field)
 *        8    32  origin: Ed25519 public key of the node that signed
 *       40     8  incarnation: changes when the origin restarts
 *       48     8  seq: per (origin, incarnation) datagram counter
 *       56     .  records: rule_len u8, key_len u8, count u64, rule, key
 *      end    64  Ed25519 signature of everything before it
 *
 * count is the origin's cumulative consumption of (rule, key) in this
 * incarnation: a grow-only counter.  A receiver keeps the highest count
 * per (origin, incarnation, rule, key) and debits only the increase, so
 * loss is repaired by the next datagram and duplicates, reordering and
 * replays change nothing.
 *
 * A receiver checks, in order and before it trusts anything: length
 * bounds, magic/version/type/flags, that the origin is in its keyring, the
 * signature, then every record's bounds.  Each reason for dropping a
 * datagram has its own counter (enum fgw_drop).
 */
#ifndef FG_GOSSIP_WIRE_H
#define FG_GOSSIP_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define FGW_MAGIC "FGW\x01"
#define FGW_VERSION 1
#define FGW_TYPE_CONSUMPTION 1
#define FGW_HDR_SIZE 56
#define FGW_SIG_SIZE 64
#define FGW_PK_SIZE 32
#define FGW_SK_SIZE 64
#define FGW_REC_FIXED 10 /* rule_len, key_len, count */
#define FGW_RULE_MAX 31  /* = FG_RULE_NAME_MAX */
#define FGW_KEY_MAX 64   /* = FG_KEY_MAX */
#define FGW_MIN_SIZE (FGW_HDR_SIZE + FGW_SIG_SIZE)
#define FGW_MAX_SIZE 1400

enum fgw_drop {
	FGW_OK = 0,
	FGW_TRUNCATED,   /* shorter than a header and a signature */
	FGW_OVERSIZED,   /* longer than FGW_MAX_SIZE */
	FGW_BADVERSION,  /* magic, version, type or flags not ours */
	FGW_UNKNOWNKEY,  /* origin not in the keyring */
	FGW_BADSIG,      /* signature does not verify */
	FGW_STALE,       /* incarnation older than one already seen */
	FGW_REPLAY,      /* seq already seen or older than the window */
	FGW_MALFORMED,   /* records overrun, or count disagrees with nrec */
	FGW_NDROPS
};

const char *fgw_drop_name(enum fgw_drop d);

struct fgw_record {
	const uint8_t *rule;
	uint8_t rule_len;
	const uint8_t *key;
	uint8_t key_len;
	uint64_t count;
};

/* Building a datagram. */
struct fgw_writer {
	uint8_t buf[FGW_MAX_SIZE];
	size_t len; /* bytes written so far */
	size_t cap; /* max datagram size, <= FGW_MAX_SIZE */
	uint16_t nrec;
};

void fgw_begin(struct fgw_writer *w, size_t cap,
               const uint8_t origin[FGW_PK_SIZE], uint64_t incarnation,
               uint64_t seq);
/* 0, or -1 when the record would not fit (start a new datagram). */
int fgw_add(struct fgw_writer *w, const char *rule, size_t rule_len,
            const void *key, size_t key_len, uint64_t count);
/* Sign with @sk (libsodium crypto_sign secret key); returns the length. */
size_t fgw_finish(struct fgw_writer *w, const uint8_t sk[FGW_SK_SIZE]);

/* Trusted origins. */
struct fgw_keyring {
	size_t n;
	struct fgw_peer_key {
		uint8_t pk[FGW_PK_SIZE];
		char name[64];
	} *keys;
};

/* -1 if absent. */
int fgw_keyring_find(const struct fgw_keyring *kr,
                     const uint8_t pk[FGW_PK_SIZE]);

/* A datagram that passed fgw_open(). */
struct fgw_view {
	const uint8_t *buf;
	size_t len;
	int origin;            /* index in the keyring */
	uint64_t incarnation;
	uint64_t seq;
	uint16_t nrec;
	size_t pos;            /* of the next record */
};

/*
 * Check @buf in the order above: FGW_OK and @v set, or the reason to drop
 * it.  Records are all bounds-checked here, before any is returned.
 */
enum fgw_drop fgw_open(const uint8_t *buf, size_t len,
                       const struct fgw_keyring *kr, struct fgw_view *v);
/* The next record of an opened datagram: 1, or 0 at the end. */
int fgw_next(struct fgw_view *v, struct fgw_record *r);

#endif
