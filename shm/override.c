/* SPDX-License-Identifier: ISC */
/*
 * override.c - per-key capacities and rates: the segment's override table.
 *
 * What.  An override gives one key of a rule (kind exact), or every key
 * that starts with some bytes (kind prefix), its own capacity and rate in
 * place of the rule's.  The bucket stays the rule's bucket of that key:
 * only the parameters a check applies to it change.  A key has the
 * override of its exact entry if there is one, else that of its longest
 * prefix entry, else the rule's parameters.
 *
 * Where.  A region of fixed size in the segment (layout.h): a page of
 * prefix-length masks, one word a rule, then FG_OVR_SLOTS entries in one
 * open-addressing table.  An entry's home is the hash of (rule, kind, key)
 * under the segment's secret seed (shm/hash.h, with a tag no bucket uses),
 * so nobody who cannot read the segment can aim keys at one probe window.
 * Probes are linear and bounded: an insert that finds no room within
 * FG_OVR_PROBE slots of home is refused (FG_ENOMEM), so a lookup never
 * reads more than FG_OVR_PROBE slots.  Removed entries become FREE
 * (tombstones: reusable, they do not end a probe); EMPTY slots, never
 * used, end it.  Nothing is ever moved, so an entry found stays where it
 * was found.
 *
 * Concurrency.  Only the owner writes, under the segment's owner lock
 * (the daemon at config load and reload, the CLI at run time).  Each slot
 * is double-buffered as a rule's parameters are: the owner writes the
 * copy that is not live, then increments seq; a reader copies e[seq & 1]
 * and re-checks seq.  An owner killed half-way leaves the live copy
 * whole: readers never wait for it and never use a torn copy.  A reader
 * that keeps losing the race (two updates of its slot during its copy,
 * eight times running) takes the key for one without an override.
 *
 * Prefixes.  A rule's mask in the region has bit L-1 set when it may
 * have a prefix entry of L bytes: a lookup tries the key's own length's
 * prefixes, longest first, one probe sequence each.  The owner sets the
 * bit before such an entry goes live, and recomputes the mask (a scan)
 * after removing one, so a bit may be stale (one wasted probe), never
 * missing.
 *
 * The filter.  A key without an override, in a rule with some, would
 * pay a probe for its exact entry and one a prefix length: two hashes
 * and two slots for a rule with tiers.  The region therefore holds a
 * Bloom filter of one 64-bit word an item (bits 12-24 of the item's hash
 * choose the word, bits 25-48 its four bits in it), so a check tests a
 * word for the exact key and one for each prefix length its rule uses,
 * and probes only where all four bits are set.  The exact key's item is
 * the key's hash in the bucket table (fg__hash64 with the rule as tag),
 * which a check computes anyway; a prefix's is fg__ovr_prefix_item(),
 * one multiplication for up to 16 bytes.  A key without an override pays
 * a word, and a short hash and a word a prefix length, inline, after the
 * check's clock read (lib/client.c).  False positives cost what every
 * key paid before, a probe; a hostile writer of the segment can do no
 * worse than clear bits, which it could do to the entries themselves.
 *
 * Bits are set in the live copy (filter[filter_gen & 1]) before the
 * entry goes live (fg__ovr_place(), then fg__ovr_publish()), so a check
 * that finds one clear is a check made before the entry existed: any
 * check that begins after fg__override_set() returned finds the bits, as
 * it finds the entry.  Removals clear nothing (bits are shared by
 * items): the owner rebuilds the other copy from the live entries once
 * FG_OVR_FILTER_REBUILD items went into the live one, then flips
 * filter_gen.  A reader reads filter_gen, its words, then filter_gen
 * again, and probes everything when it moved (the copy it read may have
 * been the one being rebuilt): so no reader ever trusts a word of a copy
 * that was not live for its whole read.  An owner killed half-way leaves
 * bits without an entry (a wasted probe) or a half-built spare copy that
 * the next rebuild clears again.
 *
 * The rule's flag.  A rule with any entry carries FG__RULE_OVERRIDES in
 * its parameters (lib/ovrset.c publishes it, set before the first entry
 * goes live, cleared after the last is gone): a check of a rule without
 * it tests one bit of its private copy of the parameters and reads
 * nothing here.
 *
 * A worker that trusts nothing: entries are read as values and checked
 * (lengths, a nonzero capacity and interval, a burst within FG_TAU_MAX)
 * before any arithmetic uses them; a corrupt entry is no override.
 *
 * What a check does with an override (lib/client.c, fg__override_apply):
 * a check of a rule without the flag never comes here (client.h
 * fg__rule_key: one bit of the private copy of the parameters).  With
 * it, the key's exact entry, else its longest prefix entry, replaces the
 * rule's capacity and ns per token in a copy of the parameters on the
 * caller's stack; everything else (scope, fail policy, shadow mode, the
 * maximum delay, cut to fit the burst window) stays the rule's.
 *
 * A live bucket under a change.  A bucket is its GCRA tat, the time at
 * which it would be full again: tat - now is its debt in ns, whatever
 * the parameters.  A new override (or one removed) keeps that debt and
 * applies the new burst window tau' = capacity' x T' to it: the key has
 * (tau' - debt) / T' tokens at once.  Raising a capacity thus grants the
 * difference at once, lowering it below the debt leaves the key denied
 * until the debt is down to tau' - T' (room for one token), and a new
 * rate re-values the outstanding debt at the time it takes to refill,
 * never at tokens: no change of parameters ever makes a bucket fuller
 * than a full one or lets it borrow beyond its new window.  Snapshots store
 * debts in ns too, so they restore the same way.
 */
#include "shm/override.h"

#include <string.h>
#include <urcu/uatomic.h>

#include "lib/floodgate.h"
#include "shm/gcra.h"
#include "shm/hash.h"

#define TRIES 8u

_Static_assert(FG_OVR_SLOTS == 1u << 12, "home: bits 0-11 of the hash");
_Static_assert(FG_OVR_FILTER_WORDS <= 1u << 13, "word: bits 12-24");

static uint64_t ovr_hash(const uint64_t seed[2], unsigned rule, unsigned kind,
                         const void *key, size_t len)
{
	return fg__ovr_hash(seed, rule, kind, key, len);
}

static int same(const struct fg_ovr_entry *e, unsigned rule, unsigned kind,
                const void *key, size_t len)
{
	return e->state == FG_OVR_LIVE && e->rule == rule &&
	       (e->kind & FG_OVR_PREFIX) == kind && e->keylen == len &&
	       memcmp(e->key, key, len) == 0;
}

/* The live copy of @s into *@out, consistent: 1, or 0 after TRIES. */
static int slot_read(const struct fg_ovr_slot *s, struct fg_ovr_entry *out)
{
	unsigned tries;

	for (tries = 0; tries < TRIES; tries++) {
		uint64_t s1 = uatomic_read(&s->seq), s2;

		cmm_smp_rmb();
		memcpy(out, (const void *)&s->e[s1 & 1], sizeof *out);
		cmm_smp_rmb();
		s2 = uatomic_read(&s->seq);
		if (s1 == s2)
			return 1;
	}
	return 0;
}

/* Whether @s's live copy is (@rule, @kind, @key), judged in place (a
 * probe mostly meets other keys: no copy for them): 1 it is, 0 it is
 * not, -1 the slot was never used (the probe ends), -2 the owner wrote
 * it under us TRIES times. */
static int slot_is(const struct fg_ovr_slot *s, unsigned rule, unsigned kind,
                   const void *key, size_t len)
{
	unsigned tries;

	for (tries = 0; tries < TRIES; tries++) {
		uint64_t s1 = uatomic_read(&s->seq), s2;
		const struct fg_ovr_entry *e = &s->e[s1 & 1];
		unsigned state = CMM_LOAD_SHARED(e->state);
		int r = state == FG_OVR_EMPTY ? -1 : 0;

		if (state == FG_OVR_LIVE && CMM_LOAD_SHARED(e->rule) == rule &&
		    (CMM_LOAD_SHARED(e->kind) & FG_OVR_PREFIX) == kind &&
		    CMM_LOAD_SHARED(e->keylen) == len)
			r = memcmp((const void *)e->key, key, len) == 0;
		cmm_smp_rmb();
		s2 = uatomic_read(&s->seq);
		if (s1 == s2)
			return r;
	}
	return -2;
}

/* fg__ovr_find() with the hash @h of (@rule, @kind, @key) */
static int find_at(const struct fg_ovr_region *o, uint64_t h, unsigned rule,
                   unsigned kind, const void *key, size_t len,
                   struct fg_ovr_entry *out)
{
	unsigned i;

	for (i = 0; i < FG_OVR_PROBE; i++) {
		const struct fg_ovr_slot *s = &o->s[(h + i) % FG_OVR_SLOTS];
		int r = slot_is(s, rule, kind, key, len);

		if (r < 0)
			return 0;
		/* the copy, consistent, and still the key's */
		if (r == 1 && slot_read(s, out))
			return same(out, rule, kind, key, len);
	}
	return 0;
}

/* The item of @e in the filter: the table's hash of an exact key,
 * fg__ovr_prefix_item() of a prefix. */
static uint64_t item_hash(const uint64_t seed[2], const struct fg_ovr_entry *e)
{
	if (e->kind & FG_OVR_PREFIX)
		return fg__ovr_prefix_item(seed, e->rule, e->key, e->keylen);
	return fg__hash64(seed, e->rule, e->key, e->keylen);
}

int fg__ovr_find(const struct fg_ovr_region *o, const uint64_t seed[2],
                 unsigned rule, unsigned kind, const void *key, size_t len,
                 struct fg_ovr_entry *out)
{
	return find_at(o, ovr_hash(seed, rule, kind, key, len), rule, kind, key,
	               len, out);
}

/* Make @e the live copy of @s (owner). */
static void slot_publish(struct fg_ovr_slot *s, const struct fg_ovr_entry *e)
{
	uint64_t seq = uatomic_read(&s->seq);

	cmm_smp_wmb(); /* seq's last increment before we overwrite a copy */
	memcpy(&s->e[(seq + 1) & 1], e, sizeof *e);
	cmm_smp_wmb(); /* the copy before the seq that makes it live */
	uatomic_set(&s->seq, seq + 1);
}

/* The slot of (@rule, @kind, @key)'s live entry, or NULL; *@room (if not
 * NULL) the first slot an insert may take, or NULL. */
static struct fg_ovr_slot *slot_find(struct fg_ovr_region *o, uint64_t h,
                                     unsigned rule, unsigned kind,
                                     const void *key, size_t len,
                                     struct fg_ovr_slot **room)
{
	struct fg_ovr_entry e;
	unsigned i;

	if (room != NULL)
		*room = NULL;
	for (i = 0; i < FG_OVR_PROBE; i++) {
		struct fg_ovr_slot *s = &o->s[(h + i) % FG_OVR_SLOTS];

		/* the owner's own writes: a failed read is a copy some
		 * other writer of the segment tears; take it as a room */
		if (!slot_read(s, &e) || e.state != FG_OVR_LIVE) {
			if (room != NULL && *room == NULL)
				*room = s;
			if (e.state == FG_OVR_EMPTY)
				return NULL;
			continue;
		}
		if (same(&e, rule, kind, key, len))
			return s;
	}
	return NULL;
}

void fg__ovr_filter_rebuild(struct fg_ovr_region *o, const uint64_t seed[2])
{
	uint64_t g = uatomic_read(&o->filter_gen), n = 0, h;
	uint64_t *f = o->filter[(g + 1) & 1];
	struct fg_ovr_entry e;
	unsigned i;

	cmm_smp_wmb(); /* the flip that retired this copy, before we clear it */
	memset(f, 0, sizeof o->filter[0]);
	for (i = 0; i < FG_OVR_SLOTS; i++) {
		if (!fg__ovr_at(o, i, &e))
			continue;
		h = item_hash(seed, &e);
		f[fg__ovr_filter_word(h)] |= fg__ovr_filter_bits(h);
		n++;
	}
	cmm_smp_wmb(); /* the copy before the generation that makes it live */
	uatomic_set(&o->filter_gen, g + 1);
	uatomic_set(&o->filter_items, n);
}

/* Set @h's bits in the live copy of the filter (owner). */
static void filter_add(struct fg_ovr_region *o, const uint64_t seed[2],
                       uint64_t h)
{
	uint64_t *w;

	if (uatomic_read(&o->filter_items) >= FG_OVR_FILTER_REBUILD)
		fg__ovr_filter_rebuild(o, seed);
	w = &o->filter[uatomic_read(&o->filter_gen) & 1]
	              [fg__ovr_filter_word(h)];
	uatomic_set(w, *w | fg__ovr_filter_bits(h));
	uatomic_set(&o->filter_items, uatomic_read(&o->filter_items) + 1);
}

struct fg_ovr_slot *fg__ovr_place(struct fg_ovr_region *o,
                                  const uint64_t seed[2],
                                  const struct fg_ovr_entry *e)
{
	unsigned kind = e->kind & FG_OVR_PREFIX;
	uint64_t h = ovr_hash(seed, e->rule, kind, e->key, e->keylen);
	struct fg_ovr_slot *room,
	    *s = slot_find(o, h, e->rule, kind, e->key, e->keylen, &room);

	if (s == NULL)
		s = room;
	if (s != NULL) /* the bits first: slot_publish's barrier orders them */
		filter_add(o, seed, item_hash(seed, e));
	return s;
}

void fg__ovr_publish(struct fg_ovr_slot *s, const struct fg_ovr_entry *e)
{
	slot_publish(s, e);
}

int fg__ovr_del(struct fg_ovr_region *o, const uint64_t seed[2], unsigned rule,
                unsigned kind, const void *key, size_t len)
{
	struct fg_ovr_slot *s =
	    slot_find(o, ovr_hash(seed, rule, kind, key, len), rule, kind, key,
	              len, NULL);
	struct fg_ovr_entry e;

	if (s == NULL)
		return 0;
	memset(&e, 0, sizeof e);
	e.state = FG_OVR_FREE;
	slot_publish(s, &e);
	return 1;
}

int fg__ovr_at(const struct fg_ovr_region *o, unsigned i,
               struct fg_ovr_entry *out)
{
	if (i >= FG_OVR_SLOTS || !slot_read(&o->s[i], out))
		return 0;
	return out->state == FG_OVR_LIVE && out->keylen >= 1 &&
	       out->keylen <= FG_SLOT_KEY_MAX;
}

unsigned fg__ovr_count(const struct fg_ovr_region *o, unsigned rule,
                       uint64_t *lens)
{
	struct fg_ovr_entry e;
	unsigned i, n = 0;

	*lens = 0;
	for (i = 0; i < FG_OVR_SLOTS; i++) {
		if (!fg__ovr_at(o, i, &e) || e.rule != rule)
			continue;
		n++;
		if (e.kind & FG_OVR_PREFIX)
			*lens |= UINT64_C(1) << (e.keylen - 1);
	}
	return n;
}

/* Whether @e's numbers are safe for the GCRA arithmetic of a check. */
static int entry_sane(const struct fg_ovr_entry *e)
{
	return e->capacity != 0 && e->interval_ns != 0 &&
	       e->capacity <= FG_TAU_MAX / e->interval_ns;
}

int fg__ovr_probe(const struct fg_ovr_region *o, const uint64_t seed[2],
                  unsigned rule, const void *key, size_t len,
                  const struct fg_ovr_cands *k, struct fg_ovr_entry *out)
{
	uint64_t lens = k->lens;

	if (rule >= FG_MAX_RULES || len == 0 || len > FG_SLOT_KEY_MAX)
		return 0;
	if (k->exact && fg__ovr_find(o, seed, rule, 0, key, len, out) &&
	    entry_sane(out))
		return 1;
	if (len < 64)
		lens &= (UINT64_C(1) << len) - 1; /* prefixes up to len */
	while (lens != 0) {
		unsigned l = 64u - (unsigned)__builtin_clzll(lens);

		if (fg__ovr_find(o, seed, rule, FG_OVR_PREFIX, key, l, out) &&
		    entry_sane(out))
			return 1;
		lens &= ~(UINT64_C(1) << (l - 1));
	}
	return 0;
}

int fg__ovr_lookup(const struct fg_ovr_region *o, const uint64_t seed[2],
                   unsigned rule, const void *key, size_t len, uint64_t h,
                   struct fg_ovr_entry *out)
{
	struct fg_ovr_cands k;

	return fg__ovr_filter(o, seed, rule, key, len, h, &k) &&
	       fg__ovr_probe(o, seed, rule, key, len, &k, out);
}

int fg__ovr_next(const struct fg_ovr_region *o, unsigned *cursor,
                 struct fg_ovr_entry *out)
{
	while (*cursor < FG_OVR_SLOTS)
		if (fg__ovr_at(o, (*cursor)++, out) &&
		    out->rule < FG_MAX_RULES && entry_sane(out))
			return 1;
	return 0;
}
