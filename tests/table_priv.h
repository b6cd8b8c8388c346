/* SPDX-License-Identifier: ISC */
/*
 * table_priv.h - a table of the segment's layout in private memory, for
 * the tests of shm/table.c and shm/cold.c: a few buckets, so that every
 * key's two buckets are known and collisions are certain (with 2 buckets
 * every key has both).  Hashes are the real ones: the core hashes keys
 * itself.
 */
#ifndef FG_TESTS_TABLE_PRIV_H
#define FG_TESTS_TABLE_PRIV_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm/hash.h"
#include "shm/layout.h"
#include "shm/scan.h"
#include "shm/table.h"

static const uint64_t priv_seed[2] = {1, 2};

static inline void *zalloc(size_t size)
{
	size_t n = (size + 4095) / 4096 * 4096;
	void *p = aligned_alloc(4096, n);

	cr_assert_not_null(p);
	memset(p, 0, n);
	return p;
}

/* A table of @nb buckets in private memory, with rule records and
 * records for long keys as a segment of nb keys has. */
static inline struct fg_table *table_new(uint64_t nb)
{
	struct fg_table *t = calloc(1, sizeof *t);
	uint64_t pages = (nb + FG_DIRTY_BUCKETS - 1) / FG_DIRTY_BUCKETS;

	cr_assert_not_null(t);
	cr_assert_eq(fg__table_init(
	                 t, zalloc(sizeof(struct fg_seg_hdr)),
	                 zalloc(FG_MAX_RULES * sizeof(struct fg_rule_rec)),
	                 zalloc(fg__table_region_size(nb, FG_RECORDS_FOR(nb))),
	                 zalloc(nb * FG_BUCKET_SLOTS * sizeof(struct fg_cold)),
	                 zalloc((pages + 63) / 64 * 8), nb, FG_RECORDS_FOR(nb),
	                 priv_seed),
	             0);
	return t;
}

static inline void table_free(struct fg_table *t)
{
	free(t->ck.serial); /* the start of the table's region */
	free(t->cold);
	free(t->dirty);
	free(t->rules);
	free(t->hdr);
	free(t);
}

static inline uint64_t hash_of(const struct fg_table *t, unsigned rule,
                               const char *key)
{
	return fg__hash64(t->seed, rule, key, strlen(key));
}

static inline struct fg_slot *find(struct fg_table *t, unsigned rule,
                                   const char *key)
{
	struct fg_ref ref;

	return fg__table_find_ref(t, rule, key, strlen(key),
	                          hash_of(t, rule, key), &ref);
}

static inline struct fg_slot *lookup(struct fg_table *t, unsigned rule,
                                     const char *key)
{
	struct fg_ref ref;

	return fg__table_lookup(t, rule, key, strlen(key),
	                        hash_of(t, rule, key), &ref);
}

static inline uint64_t index_of(const struct fg_table *t,
                                const struct fg_slot *s)
{
	return (uint64_t)(s - t->slots);
}

static inline unsigned count_state(const struct fg_table *t, unsigned state)
{
	unsigned n = 0;
	uint64_t i;

	for (i = 0; i < fg__table_nslots(t); i++)
		n += fg__slot_state(t, i) == state;
	return n;
}

static inline void key_of(char *buf, size_t size, const char *prefix,
                          unsigned i)
{
	snprintf(buf, size, "%s%u", prefix, i);
}

/* Admit @cost tokens in the bucket at @s, its tat set to @tat. */
static inline void admit(struct fg_slot *s, uint64_t tat, uint64_t cost)
{
	struct fg_pair p;

	fg__pair_load(s, &p);
	cr_assert(fg__pair_advance(s, &p, tat, cost));
}

#endif
