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
	uint64_t sent;        /* local: count last gossiped */
	uint64_t touched;     /* round of the last change */
	uint16_t origin;      /* remote: keyring index; local: 0 */
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
};

int fgd_map_init(struct fgd_map *m, size_t max);
void fgd_map_fini(struct fgd_map *m);

/* The entry of (origin, rule, key); created zeroed when @create and there
 * is room.  NULL when absent (or no room).  Pointers are valid until the
 * next call that creates or expires. */
struct fgd_entry *fgd_map_get(struct fgd_map *m, uint16_t origin,
                              const char *rule, size_t rule_len,
                              const void *key, size_t key_len, int create);

/* Drop entries not touched since round @before; returns how many. */
size_t fgd_map_expire(struct fgd_map *m, uint64_t before);

#endif
