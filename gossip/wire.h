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
 * Type 2 (membership: SWIM ping, ack, ping-req, address announcement)
 * has the same header with nrec 0, and a fixed body of FGW_MEMBER_BODY
 * bytes instead of records:
 *
 *       56     1  kind: 1 ping, 2 ack, 3 ping-req, 4 announce
 *       57     1  address family of the sender: 0 none, 4 IPv4, 6 IPv6
 *       58     2  port
 *       60    16  address (IPv4: 4 bytes, then 12 zero bytes)
 *       76     8  nonce: a probe's, copied from ping to ack
 *       84    32  target: ping: the member pinged; ack: the member whose
 *                 probe it answers; ping-req: the member to probe
 *      116    32  requester: in a ping sent for a ping-req, and in its
 *                 ack, the member that asked; otherwise zero
 *      148    64  signature
 *
 * Every membership message carries the address its origin listens on,
 * signed by the origin itself: a node learns where a member is only from
 * that member, so nobody can redirect a member's traffic.  Nodes that do
 * not know type 2 drop it as BADVERSION, and type 1 is unchanged.
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
#define FGW_TYPE_MEMBER 2
#define FGW_HDR_SIZE 56
#define FGW_SIG_SIZE 64
#define FGW_PK_SIZE 32
#define FGW_SK_SIZE 64
#define FGW_REC_FIXED 10 /* rule_len, key_len, count */
#define FGW_RULE_MAX 31  /* = FG_RULE_NAME_MAX */
#define FGW_KEY_MAX 64   /* = FG_KEY_MAX */
#define FGW_MIN_SIZE (FGW_HDR_SIZE + FGW_SIG_SIZE)
#define FGW_MAX_SIZE 1400
#define FGW_MEMBER_BODY 92
#define FGW_MEMBER_SIZE (FGW_HDR_SIZE + FGW_MEMBER_BODY + FGW_SIG_SIZE)

enum fgw_member_kind {
	FGW_PING = 1,
	FGW_ACK = 2,
	FGW_PING_REQ = 3,
	FGW_ANNOUNCE = 4,
};

/* The body of a type 2 datagram. */
struct fgw_member {
	uint8_t kind;   /* enum fgw_member_kind */
	uint8_t family; /* 0: no address, 4, 6 */
	uint16_t port;
	uint8_t addr[16];
	uint64_t nonce;
	uint8_t target[FGW_PK_SIZE];
	uint8_t requester[FGW_PK_SIZE];
};

enum fgw_drop {
	FGW_OK = 0,
	FGW_TRUNCATED,   /* shorter than a header and a signature */
	FGW_OVERSIZED,   /* longer than FGW_MAX_SIZE */
	FGW_BADVERSION,  /* magic, version, type or flags not ours */
	FGW_UNKNOWNKEY,  /* origin not in the keyring */
	FGW_BADSIG,      /* signature does not verify */
	FGW_STALE,       /* incarnation older than one already seen */
	FGW_REPLAY,      /* seq already seen or older than the window */
	FGW_MALFORMED,   /* records overrun, or count disagrees with nrec;
	                  * a membership body of the wrong size or values */
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
	uint8_t type;          /* FGW_TYPE_* */
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
/* The next record of an opened datagram: 1, or 0 at the end (always 0
 * for a membership datagram). */
int fgw_next(struct fgw_view *v, struct fgw_record *r);

/* Sign a membership datagram into @buf (FGW_MEMBER_SIZE bytes); returns
 * its length, or 0 if @m is not valid or it could not be signed. */
size_t fgw_member_write(uint8_t buf[FGW_MEMBER_SIZE],
                        const uint8_t origin[FGW_PK_SIZE],
                        uint64_t incarnation, uint64_t seq,
                        const struct fgw_member *m,
                        const uint8_t sk[FGW_SK_SIZE]);
/* The body of an opened membership datagram: 0, or -1 if @v is not one. */
int fgw_member_get(const struct fgw_view *v, struct fgw_member *m);

#endif
