/* SPDX-License-Identifier: ISC */
/*
 * ledger.h - the daemon's tables of per-key counts, bounded.
 *
 * One container serves both of the daemon's ledgers (node.h): this node's
 * own cumulative consumption per (rule, key), which it gossips, and the
 * highest cumulative count seen per (origin, rule, key), from which it
 * debits only increases.  A record is fixed-size and starts with its id:
 * 128 bits of SipHash (libsodium's siphashx24) of the name it stands for,
 * under a secret key: the caller's (the remote ledger's is derived from
 * the node's secret key, so that ids stay the same across restarts,
 * reboots and snapshots), else random.  Two names share an id with
 * probability 2^-128, and nobody who does not hold the key can make them:
 * keys come from requests, so from anyone, but their placement is secret.
 *
 * Open addressing with linear probing, single-threaded (the daemon's
 * loop owns it).  A record is deleted in place by backward shifting
 * (Knuth's algorithm R): no tombstones, so probes stay short however many
 * keys come and go, and nothing needs a periodic rebuild.  The table
 * grows by doubling up to max x 5/4 slots (a load of 0.8 when full) and
 * never beyond: memory is at most esize x 5/4 x max, and stated.  At max
 * records, fgd_ledger_add() fails: the owner decides what to give up
 * (fgd_ledger_victim() proposes the oldest of a few).
 *
 * A ledger can live in a file mapped MAP_SHARED (fgd_ledger_open), so
 * that it outlives the daemon: every update is a store to that memory,
 * nothing to flush.  Growth writes a new file and renames it into place.
 * A daemon killed in the middle of a backward shift may leave a record
 * twice or a gap in a probe chain, so opening re-inserts every record
 * into a fresh file (duplicates are identical, the first kept): O(n) at
 * start, and the file is whole again.  A file made under another id key
 * (the node key changed) or for another segment is started over.  The
 * file is created 0600 with O_EXCL and O_NOFOLLOW; one that is not a
 * regular file owned by us and closed to others is refused, never
 * adopted.
 */
#ifndef FGD_LEDGER_H
#define FGD_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#define FGD_LEDGER_KEYBYTES 16u /* crypto_shorthash_siphashx24_KEYBYTES */
#define FGD_LEDGER_MIN      64u /* slots of a new table */

struct fgd_ledger {
	uint8_t *slots; /* cap records of esize bytes; id 0,0: empty */
	size_t esize;
	size_t cap;     /* slots now */
	size_t cap_max; /* slots at most */
	size_t n;       /* records */
	size_t max;     /* records allowed */
	size_t hand;    /* where the next fgd_ledger_victim() starts */
	uint8_t key[FGD_LEDGER_KEYBYTES]; /* of ids */
	/* file-backed ledgers only */
	char *path;
	uint64_t ident[3]; /* whose: the segment's seed and birth */
	size_t bytes;      /* mapped length, header included */
	int reloaded;      /* open found the file a ledger of ours */
};

/* A ledger in memory for @max records of @esize bytes (a multiple of 8,
 * at least 16, starting with uint64_t id[2]), ids under @key (NULL: a
 * random one).  0, or -1 out of memory. */
int fgd_ledger_init(struct fgd_ledger *l, size_t esize, size_t max,
                    const uint8_t *key);

/*
 * The ledger kept in @path, reloaded if the file holds one made for the
 * same @ident, @esize and @key (l->reloaded; else started empty).  0, or -1
 * with a reason in @err: the file is not ours, or cannot be written.
 */
int fgd_ledger_open(struct fgd_ledger *l, size_t esize, size_t max,
                    const uint8_t *key, const char *path,
                    const uint64_t ident[3], char *err, size_t errlen);
void fgd_ledger_fini(struct fgd_ledger *l);

/* The id of @name (any bytes) in this ledger. */
void fgd_ledger_id(const struct fgd_ledger *l, const void *name, size_t len,
                   uint64_t id[2]);

/* The record of @id, or NULL.  Pointers stay valid until the next add
 * or delete. */
void *fgd_ledger_find(struct fgd_ledger *l, const uint64_t id[2]);

/* Start fetching the slot where @id's record would be found (a hint: it
 * changes nothing). */
void fgd_ledger_prefetch(const struct fgd_ledger *l, const uint64_t id[2]);

/* A new record for @id (absent: the caller checked), zeroed but for its
 * id.  NULL at max records, or when the table could not grow. */
void *fgd_ledger_add(struct fgd_ledger *l, const uint64_t id[2]);

/* Delete @rec (a pointer from this ledger); records after it may move. */
void fgd_ledger_del(struct fgd_ledger *l, void *rec);

/* Delete every record (a file-backed ledger's too, in place). */
void fgd_ledger_clear(struct fgd_ledger *l);

/* The record in slot @i < l->cap, or NULL when the slot is empty.  To
 * delete while walking, re-read the same slot after fgd_ledger_del(). */
void *fgd_ledger_at(const struct fgd_ledger *l, size_t i);

/*
 * Which record to give up for room: of the next @sample records from a
 * hand that moves on at every call, the one @worse ranks highest (it
 * returns > 0 when its first argument is the better victim).  NULL when
 * the ledger is empty.
 */
void *fgd_ledger_victim(struct fgd_ledger *l, unsigned sample,
                        int (*worse)(const void *a, const void *b));

/* Bytes the ledger may take when full: what floodgate.conf(5) states. */
size_t fgd_ledger_bytes_max(size_t esize, size_t max);

#endif
