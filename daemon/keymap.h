/*
 * keymap.h - the daemon's tables of per-key counters.
 *
 * One structure serves both of the daemon's ledgers: this node's own
 * cumulative consumption per (rule, key), which it gossips, and the
 * highest cumulative figure seen per (origin, rule, key), from which it
 * debits only increases.  Rules are named, not numbered: indices differ
 * between hosts.  Open addressing with linear probing in private memory;
 * single-threaded (the daemon's loop owns it).  Bounded: at @max entries
 * an insert fails and the caller counts it; idle entries are expired by
 * rebuilding the table, which also keeps probe chains short.
 *
 * The remote ledger must outlive the daemon: the debits it records stay
 * in the segment, so a restarted daemon that forgot the high-water marks
 * would debit them again.  It can therefore live in a file mapped
 * MAP_SHARED beside the segment (fgd_map_open): every update is a store
 * to that memory, nothing to flush, and a rebuild writes a new file and
 * renames it into place, so a daemon killed at any point leaves either
 * the old table or the new one.
 */
#ifndef FGD_KEYMAP_H
#define FGD_KEYMAP_H

#include <stddef.h>
#include <stdint.h>

#include "lib/floodgate.h"

struct fgd_entry {
	uint64_t hash;        /* 0: empty slot */
	uint64_t incarnation; /* remote: the origin's incarnation of count */
	uint64_t count;       /* cumulative consumption */
	uint64_t floor;       /* of count, what no longer matters: consumed
	                       * before the origin's bucket was last full */
	uint64_t ver;         /* local: the version of its last change */
	uint64_t touched;     /* time (ms) of the last change */
	uint64_t origin;      /* remote: fgd_origin_id of its key; local: 0 */
	uint8_t rule_len;
	uint8_t key_len;
	char rule[FG_RULE_NAME_MAX + 1];
	uint8_t key[FG_KEY_MAX];
};

struct fgd_map {
	struct fgd_entry *e;
	size_t cap; /* power of two */
	size_t n;
	size_t max; /* entries allowed */
	/* file-backed maps only */
	char *path;
	uint64_t ident[3]; /* whose map: the segment's seed and birth */
	size_t bytes;      /* mapped length */
};

int fgd_map_init(struct fgd_map *m, size_t max);
/* A map kept in the file @path, reloaded if the file holds one made for
 * the same @ident (else started empty).  0 or -1. */
int fgd_map_open(struct fgd_map *m, size_t max, const char *path,
                 const uint64_t ident[3]);
void fgd_map_fini(struct fgd_map *m);

/* The entry of (origin, rule, key); created zeroed when @create and there
 * is room.  NULL when absent (or no room).  Pointers are valid until the
 * next call that creates or expires. */
struct fgd_entry *fgd_map_get(struct fgd_map *m, uint64_t origin,
                              const char *rule, size_t rule_len,
                              const void *key, size_t key_len, int create);

/* Drop entries not touched since @before (ms) and absorbed (count <=
 * floor: nothing in them matters any more); and, when @stale is not 0,
 * also the unabsorbed ones not touched since @stale.  Returns how many. */
size_t fgd_map_expire(struct fgd_map *m, uint64_t before, uint64_t stale);

#endif
