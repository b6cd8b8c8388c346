/*
 * keymap.c - see keymap.h.
 */
#include "daemon/keymap.h"

#include <stdlib.h>
#include <string.h>

#include "shm/hash.h"

static const uint64_t map_seed[2] = {UINT64_C(0x6b65796d61702d31),
                                     UINT64_C(0x666c6f6f64676174)};

static uint64_t entry_hash(uint16_t origin, const char *rule, size_t rule_len,
                           const void *key, size_t key_len)
{
	uint64_t h = fg__hash64(map_seed, origin, rule, rule_len);

	h = fg__hash64(map_seed, h, key, key_len);
	return h ? h : 1; /* 0 marks an empty slot */
}

static int table_alloc(struct fgd_map *m, size_t cap)
{
	m->e = calloc(cap, sizeof *m->e);
	if (m->e == NULL)
		return -1;
	m->cap = cap;
	m->n = 0;
	return 0;
}

int fgd_map_init(struct fgd_map *m, size_t max)
{
	memset(m, 0, sizeof *m);
	m->max = max;
	return table_alloc(m, 64);
}

void fgd_map_fini(struct fgd_map *m)
{
	free(m->e);
	memset(m, 0, sizeof *m);
}

static struct fgd_entry *slot_for(struct fgd_map *m, uint64_t h,
                                  uint16_t origin, const char *rule,
                                  size_t rule_len, const void *key,
                                  size_t key_len)
{
	size_t i = h & (m->cap - 1);

	for (;;) {
		struct fgd_entry *e = &m->e[i];

		if (e->hash == 0)
			return e;
		if (e->hash == h && e->origin == origin &&
		    e->rule_len == rule_len && e->key_len == key_len &&
		    memcmp(e->rule, rule, rule_len) == 0 &&
		    memcmp(e->key, key, key_len) == 0)
			return e;
		i = (i + 1) & (m->cap - 1);
	}
}

/* Move every entry accepted by @keep into a table of @cap slots. */
static int rebuild(struct fgd_map *m, size_t cap, uint64_t before)
{
	struct fgd_map old = *m;
	size_t i;

	if (table_alloc(m, cap) != 0) {
		*m = old;
		return -1;
	}
	for (i = 0; i < old.cap; i++) {
		struct fgd_entry *e = &old.e[i], *d;

		if (e->hash == 0 || e->touched < before)
			continue;
		d = slot_for(m, e->hash, e->origin, e->rule, e->rule_len,
		             e->key, e->key_len);
		*d = *e;
		m->n++;
	}
	free(old.e);
	return 0;
}

struct fgd_entry *fgd_map_get(struct fgd_map *m, uint16_t origin,
                              const char *rule, size_t rule_len,
                              const void *key, size_t key_len, int create)
{
	uint64_t h;
	struct fgd_entry *e;

	if (rule_len == 0 || rule_len > FG_RULE_NAME_MAX || key_len == 0 ||
	    key_len > FG_KEY_MAX)
		return NULL;
	h = entry_hash(origin, rule, rule_len, key, key_len);
	e = slot_for(m, h, origin, rule, rule_len, key, key_len);
	if (e->hash != 0 || !create)
		return e->hash != 0 ? e : NULL;
	if (m->n >= m->max)
		return NULL;
	if ((m->n + 1) * 4 > m->cap * 3) { /* keep the load under 3/4 */
		if (rebuild(m, m->cap * 2, 0) != 0)
			return NULL;
		e = slot_for(m, h, origin, rule, rule_len, key, key_len);
	}
	memset(e, 0, sizeof *e);
	e->hash = h;
	e->origin = origin;
	e->rule_len = (uint8_t)rule_len;
	e->key_len = (uint8_t)key_len;
	memcpy(e->rule, rule, rule_len);
	memcpy(e->key, key, key_len);
	m->n++;
	return e;
}

size_t fgd_map_expire(struct fgd_map *m, uint64_t before)
{
	size_t n = m->n, cap = m->cap;

	/* shrink when mostly empty, never below the initial size */
	while (cap > 64 && m->n * 8 < cap)
		cap /= 2;
	if (rebuild(m, cap, before) != 0)
		return 0;
	return n - m->n;
}
