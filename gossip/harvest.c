/* SPDX-License-Identifier: ISC */
/*
 * harvest.c - see harvest.h.
 */
#include "gossip/harvest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <urcu/compiler.h>
#include <urcu/uatomic.h>

#include "lib/client.h"
#include "shm/clock.h"
#include "shm/layout.h"
#include "shm/scan.h"
#include "shm/segment.h"
#include "shm/table.h"
#include "util/why.h"

struct state_hdr {
	uint8_t magic[8];
	uint64_t seed[2];
	uint64_t created_ns;
	uint64_t nslots;
	struct fgd_keep keep;
};

/* 5: the keep (counts, versions, seqs and the take's journal) */
static const uint8_t state_magic[8] = "FGDSTAT5";

/* What the sums hold of slot @b: taken out (@sign -1) or put in (+1). */
static void base_count(struct fgd_harvest *h, const struct fgd_base *b,
                       int sign)
{
	uint64_t one = (uint64_t)(int64_t)sign;
	struct fgd_live *r;

	if (b->id == FGD_BASE_DEAD) {
		h->dead += one;
		return;
	}
	if (b->id == FGD_BASE_NONE)
		return;
	h->ready += one;
	r = &h->live[b->id >> 56]; /* the rule: fg_slot_view.id keeps it */
	r->keys += one;
	r->allowed += one * b->allowed;
	r->denied += one * b->denied;
}

/* Slot @v as it is now goes into the sums; its baseline follows, except
 * seen, which moves once the taker took the growth. */
static void base_take(struct fgd_harvest *h, struct fgd_base *b,
                      const struct fg_slot_view *v, int live)
{
	base_count(h, b, -1);
	if (live) {
		/* a bucket new since the last look; or the key's bucket was
		 * removed and made again at the same slot since (it counts
		 * from 0 again: fewer than seen) */
		if (v->id != b->id || v->count < b->seen)
			b->seen = v->origin;
		b->id = v->id;
		b->alt = v->alt;
		b->allowed = v->consumed;
		b->denied = v->denied;
	} else {
		b->id =
		    v->state == FG_SLOT_DEAD ? FGD_BASE_DEAD : FGD_BASE_NONE;
		b->allowed = b->denied = 0;
	}
	base_count(h, b, 1);
}

/* Take everything in the segment now as already reported. */
static void baseline_now(struct fgd_harvest *h)
{
	struct fg_table *t = &h->fg->seg.tbl;
	struct fg_slot_view v;
	uint64_t cur = 0;

	memset(h->base, 0, h->nslots * sizeof *h->base);
	memset(h->live, 0, sizeof h->live);
	h->ready = h->dead = 0;
	while (fg__slot_next(t, &cur, &v)) {
		base_take(h, &h->base[v.slot], &v, 1);
		h->base[v.slot].seen = v.count;
	}
	fg__harvest_all(t); /* the first pass counts the rest (DEAD) */
}

/* A baseline kept by the previous daemon: its sums, and a first pass over
 * every block (a pass it died in may have taken blocks' marks). */
static void baseline_resume(struct fgd_harvest *h)
{
	uint64_t i;

	memset(h->live, 0, sizeof h->live);
	h->ready = h->dead = 0;
	for (i = 0; i < h->nslots; i++) {
		struct fgd_base *b = &h->base[i];

		if (b->id != FGD_BASE_DEAD && !(b->id & 1))
			b->id = FGD_BASE_NONE; /* not one of ours: forget */
		base_count(h, b, 1);
	}
	fg__harvest_all(&h->fg->seg.tbl);
}

/* Whether the mapped state @sh belongs to our segment. */
static int state_ours(const struct fgd_harvest *h, const struct state_hdr *sh)
{
	const struct fg_seg_hdr *g = h->fg->seg.tbl.hdr;

	return memcmp(sh->magic, state_magic, sizeof sh->magic) == 0 &&
	       sh->seed[0] == g->hash_seed[0] &&
	       sh->seed[1] == g->hash_seed[1] &&
	       sh->created_ns == g->created_ns && sh->nslots == h->nslots;
}

/* A new state file for our segment at @path: 0 and *@out mapped, or -1. */
static int state_create(struct fgd_harvest *h, const char *path, size_t bytes,
                        void **out)
{
	const struct fg_seg_hdr *g = h->fg->seg.tbl.hdr;
	struct state_hdr *sh;
	char tmp[600];
	void *p = MAP_FAILED;
	int fd;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= sizeof tmp)
		return -1;
	fd = mkostemp(tmp, O_CLOEXEC); /* O_EXCL, 0600 */
	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)bytes) == 0)
		p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		         0);
	close(fd);
	if (p != MAP_FAILED && rename(tmp, path) != 0) {
		munmap(p, bytes);
		p = MAP_FAILED;
	}
	if (p == MAP_FAILED) {
		(void)unlink(tmp);
		return -1;
	}
	sh = p;
	sh->seed[0] = g->hash_seed[0];
	sh->seed[1] = g->hash_seed[1];
	sh->created_ns = g->created_ns;
	sh->nslots = h->nslots;
	h->base = (struct fgd_base *)(void *)(sh + 1);
	baseline_now(h);
	memcpy(sh->magic, state_magic, sizeof sh->magic);
	*out = p;
	return 0;
}

/* The state file at @path if it is ours and our segment's: 1 and *@out
 * mapped; 0 if there is none to reuse; -1 if it is not ours (refused). */
static int state_reuse(struct fgd_harvest *h, const char *path, size_t bytes,
                       void **out, char *err, size_t errlen)
{
	struct stat st;
	void *p;
	int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return fgu_why(err, errlen, "%s: %s", path,
		               errno == ELOOP ? "a symbolic link: refused; "
		                                "remove it"
		                              : strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		close(fd);
		return fgu_why(err, errlen,
		               "%s: not a file of ours (owner %u, mode %04o): "
		               "refused; remove it",
		               path, (unsigned)st.st_uid,
		               (unsigned)(st.st_mode & 07777));
	}
	p = (size_t)st.st_size != bytes
	        ? MAP_FAILED
	        : mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return 0;
	if (!state_ours(h, p)) {
		munmap(p, bytes);
		return 0; /* another segment's: made anew */
	}
	h->base = (struct fgd_base *)(void *)((struct state_hdr *)p + 1);
	baseline_resume(h);
	h->resumed = 1;
	*out = p;
	return 1;
}

static int state_map(struct fgd_harvest *h, const char *path, char *err,
                     size_t errlen)
{
	size_t bytes = sizeof(struct state_hdr) + h->nslots * sizeof *h->base;
	void *p = NULL;
	int r = state_reuse(h, path, bytes, &p, err, errlen);

	if (r < 0)
		return -1;
	if (r == 0 && state_create(h, path, bytes, &p) != 0)
		return fgu_why(err, errlen, "%s: cannot create: %s", path,
		               strerror(errno));
	h->base_bytes = bytes;
	h->keep = &((struct state_hdr *)p)->keep;
	return 0;
}

int fgd_harvest_init(struct fgd_harvest *h, fg_client *fg,
                     const char *state_path, char *err, size_t errlen)
{
	memset(h, 0, sizeof *h);
	h->fg = fg;
	h->nslots = fg__table_nslots(&fg->seg.tbl);
	h->keep = &h->own_keep;
	if (state_path != NULL)
		return state_map(h, state_path, err, errlen);
	h->base = calloc(h->nslots ? h->nslots : 1, sizeof *h->base);
	if (h->base == NULL)
		return fgu_why(err, errlen, "out of memory");
	baseline_now(h);
	return 0;
}

void fgd_harvest_fini(struct fgd_harvest *h)
{
	fgd_top_fini(&h->top);
	if (h->base_bytes)
		munmap((struct state_hdr *)(void *)h->base - 1, h->base_bytes);
	else
		free(h->base);
	h->base = NULL;
	h->base_bytes = 0;
	h->keep = &h->own_keep;
}

uint64_t fgd_harvest_incarnation(struct fgd_harvest *h, uint64_t want)
{
	if (want <= h->keep->incarnation)
		want = h->keep->incarnation + 1;
	h->keep->incarnation = want;
	return want;
}

void fgd_harvest_recover(struct fgd_harvest *h, int taken)
{
	struct fgd_keep *k = h->keep;

	if (k->jslot != 0 && k->jslot <= h->nslots && taken)
		h->base[k->jslot - 1].seen = k->jseen;
	k->jslot = 0;
}

/* The pass's per-rule totals into the sums /metrics shows, which never
 * fall; the growth of the denial count goes to the rule's mode. */
static void sums_take(struct fgd_harvest *h, const uint64_t *allowed,
                      const uint64_t *aux, const uint8_t *shadow)
{
	unsigned r;

	for (r = 0; r < FG_RULES_MAX; r++) {
		struct fgd_rule_sums *m = &h->sums[r];

		if (allowed[r] > m->allowed)
			m->allowed = allowed[r];
		if (aux[r] <= m->aux)
			continue;
		if (shadow[r])
			m->shadow_denied += aux[r] - m->aux;
		else
			m->denied += aux[r] - m->aux;
		m->aux = aux[r];
	}
}

/* A pass's view of the rules, and its running totals. */
struct pass {
	uint8_t global[FG_RULES_MAX], shadow[FG_RULES_MAX];
	uint64_t allowed[FG_RULES_MAX], aux[FG_RULES_MAX];
	fgd_take_fn *take;
	void *arg;
	uint64_t now_ms;
};

static void pass_begin(struct fgd_harvest *h, struct pass *p)
{
	fg_rule_info ri;
	unsigned r;

	/* What evicted buckets held, first: a bucket evicted during the
	 * pass is then missed at worst (once), never counted twice. */
	for (r = 0; r < FG_RULES_MAX; r++) {
		int in_force = fg_rule_get(h->fg, r, &ri) == 0;

		p->global[r] = in_force && (ri.flags & FG_RULE_GLOBAL);
		p->shadow[r] = in_force && (ri.flags & FG_RULE_SHADOW);
		p->allowed[r] =
		    uatomic_read(&h->fg->seg.rules[r].evicted_consumed);
		p->aux[r] = uatomic_read(&h->fg->seg.rules[r].evicted_denied);
	}
}

/* --------------------------------------------------- keys that move */

/*
 * A key lives in one of four slots, the two of each of its buckets, and
 * moves between them (shm/cuckoo.c): its count goes along, so its
 * baseline must too, or the harvest would take what it had seen again at
 * the new slot (a baseline lost), or miss growth.  The baseline of a slot
 * names its key (id) and the key's other bucket (alt), so the harvest
 * knows the four slots it may be at.  Two events meet a move, in either
 * order, since a move marks neither page (a moved key's first admission
 * marks the new one): a slot whose baseline's key is no longer there
 * (depart: the key is found at one of its other slots, and its baseline
 * goes there; else the key is gone and the baseline with it), and a key
 * at a slot whose baseline is another's (arrive: its baseline is looked
 * for at its other slots).  A key in flight (a slot MOVING or COPY) is
 * decided at a later pass.  A baseline only ever sits at a slot of its
 * key, and knows the key's other bucket: that is how the key's slots
 * are known from it.  So a departing baseline whose key went where the
 * baseline is of another key that left too follows that one first, down
 * a chain of moves, each to where its key went, the last first; keys
 * that traded places (two of one bucket swapped ways, or a path of moves
 * that came back round) rotate their baselines.  A key is taken as gone
 * only when two looks at its slots agree: one dropped wrongly would count
 * again all its bucket ever admitted.
 */

#define FOLLOW_DEPTH 16u /* baselines in one chain of moves */
#define KEY_SLOTS    (2u * FG_BUCKET_SLOTS)

/* The slots of the key of baseline @b, which sits at @slot, one of them:
 * those of @slot's bucket, then those of the key's other bucket (alt). */
static void slots_of(const struct fgd_base *b, uint64_t slot,
                     uint64_t o[KEY_SLOTS])
{
	unsigned w;

	for (w = 0; w < KEY_SLOTS; w++)
		o[w] = (w < FG_BUCKET_SLOTS ? slot / FG_BUCKET_SLOTS : b->alt) *
		           FG_BUCKET_SLOTS +
		       w % FG_BUCKET_SLOTS;
}

/* One look at @o for the key of @b: 1 at *@at, 0 not there, -1 in flight
 * or unsure (a slot in a move, or read while it changed). */
static int look_for(const struct fgd_harvest *h, const struct fgd_base *b,
                    const uint64_t o[KEY_SLOTS], uint64_t *at)
{
	const struct fg_table *t = &h->fg->seg.tbl;
	struct fg_slot_view v;
	unsigned i;
	int unsure = 0;

	for (i = 0; i < KEY_SLOTS; i++) {
		if (o[i] >= h->nslots)
			return -1; /* not a baseline of this table: unsure */
		if (fg__slot_read(t, o[i], &v) && v.id == b->id) {
			*at = o[i];
			return 1;
		}
		unsure |= v.state == FG_SLOT_MOVING ||
		          v.state == FG_SLOT_COPY ||
		          (v.state == FG_SLOT_READY && v.keylen == 0);
	}
	return unsure ? -1 : 0;
}

/* Where the key of baseline @b (at @slot, one of its slots) is: 1 at
 * *@at, 0 gone, -1 unsure.  Gone only if a second look agrees: a key
 * that moved between two slots as the first read them was missed by it
 * (a baseline dropped for a key still there would count its admissions
 * again). */
static int find_key(const struct fgd_harvest *h, const struct fgd_base *b,
                    uint64_t slot, uint64_t *at)
{
	uint64_t o[KEY_SLOTS];
	int r;

	slots_of(b, slot, o);
	r = look_for(h, b, o, at);
	return r != 0 ? r : look_for(h, b, o, at);
}

/* Baseline @b goes from @from to @to, both slots of its key: its other
 * bucket is then @from's, when @to is in what was its other bucket. */
static void rehome(struct fgd_base *b, uint64_t from, uint64_t to)
{
	if (to / FG_BUCKET_SLOTS != from / FG_BUCKET_SLOTS)
		b->alt = from / FG_BUCKET_SLOTS;
}

/* @b holds no baseline (the sums are the caller's). */
static void base_clear(struct fgd_base *b)
{
	memset(b, 0, sizeof *b);
	b->id = FGD_BASE_NONE;
}

/* Baseline @from goes to slot @to, whose own (none, or an abandoned
 * insert's) leaves the sums; @from's entry stays in them, counted once. */
static void base_move(struct fgd_harvest *h, uint64_t from, uint64_t to)
{
	base_count(h, &h->base[to], -1);
	h->base[to] = h->base[from];
	rehome(&h->base[to], from, to);
	base_clear(&h->base[from]);
	fg__harvest_again(&h->fg->seg.tbl, to); /* its growth, next */
}

/* The baseline at @slot goes, with what the sums hold of it. */
static void base_drop(struct fgd_harvest *h, uint64_t slot)
{
	base_count(h, &h->base[slot], -1);
	base_clear(&h->base[slot]);
}

/* Keys that went round a cycle of slots @path[0..n-1], each to the next
 * and the last to the first: their baselines go round too. */
static void base_rotate(struct fgd_harvest *h, const uint64_t *path, unsigned n)
{
	struct fgd_base last = h->base[path[n - 1]];
	unsigned i;

	for (i = n - 1; i > 0; i--) {
		h->base[path[i]] = h->base[path[i - 1]];
		rehome(&h->base[path[i]], path[i - 1], path[i]);
		fg__harvest_again(&h->fg->seg.tbl, path[i]);
	}
	h->base[path[0]] = last;
	rehome(&h->base[path[0]], path[n - 1], path[0]);
	fg__harvest_again(&h->fg->seg.tbl, path[0]);
}

/* The chain of baselines from @path[0], whose key is not there: each
 * key is at the next slot, whose baseline is of a key that left too.
 * Returns 1 if its end is @end, a slot whose baseline goes: one of no
 * live key (none, an abandoned insert's), or one whose key is gone;
 * 2 if the chain went round to @path[0]; 0 unsure, or too long. */
static int chain(struct fgd_harvest *h, uint64_t *path, unsigned *n,
                 uint64_t *end)
{
	uint64_t at;
	unsigned i;
	int r;

	for (;;) {
		const struct fgd_base *b = &h->base[path[*n - 1]];

		r = find_key(h, b, path[*n - 1], &at);
		if (r < 0 || (r > 0 && at == path[*n - 1]))
			return 0; /* in flight: back where it was */
		if (r == 0 || h->base[at].id == b->id) {
			/* gone (or its baseline is there already): this one
			 * goes, and the others move up to its slot */
			*end = path[--*n];
			return 1;
		}
		if (at == path[0])
			return 2;
		if (!(h->base[at].id & 1u)) {
			*end = at;
			return 1;
		}
		for (i = 1; i < *n; i++)
			if (path[i] == at)
				return 0; /* two keys at one slot: in flight */
		if (*n == FOLLOW_DEPTH)
			return 0;
		path[(*n)++] = at;
	}
}

/* The key of @slot's baseline is not there: the baseline follows it,
 * and so on down the chain (chain()), or goes with it.  Each baseline
 * only ever sits at a slot of its key, so that the key's slots are known
 * from it.  1 done, 0 not yet (the slot is to be visited again). */
static int depart(struct fgd_harvest *h, uint64_t slot)
{
	uint64_t path[FOLLOW_DEPTH], end;
	unsigned n = 1;
	int r;

	path[0] = slot;
	r = chain(h, path, &n, &end);
	if (r == 2)
		base_rotate(h, path, n);
	if (r != 1)
		return r == 2;
	if (h->base[end].id & 1u) /* of a key that is gone */
		base_drop(h, end);
	while (n-- > 0) { /* each to where its key is, the last first */
		base_move(h, path[n], end);
		end = path[n];
	}
	return 1;
}

/* Key @v is new at its slot: its baseline from another of its slots,
 * if one has it. */
static void arrive(struct fgd_harvest *h, const struct fg_slot_view *v)
{
	struct fgd_base probe = {.id = v->id, .alt = v->alt};
	uint64_t o[KEY_SLOTS];
	unsigned i;

	slots_of(&probe, v->slot, o);
	for (i = 0; i < KEY_SLOTS; i++)
		if (o[i] != v->slot && o[i] < h->nslots &&
		    h->base[o[i]].id == v->id) {
			base_move(h, o[i], v->slot);
			return;
		}
}

/* Slot @v is changing as we read it, or its key is in flight: it is
 * marked for the next pass, 1; else 0. */
static int unsettled(struct fgd_harvest *h, const struct fg_slot_view *v,
                     const struct fgd_base *b, int live)
{
	struct fg_table *t = &h->fg->seg.tbl;

	if ((v->state == FG_SLOT_READY && v->keylen == 0) ||
	    v->state == FG_SLOT_MOVING || v->state == FG_SLOT_COPY ||
	    ((b->id & 1u) && !(live && v->id == b->id) &&
	     !depart(h, v->slot))) {
		fg__harvest_again(t, v->slot);
		return 1;
	}
	return 0;
}

/* The take of @v's growth begins (struct fgd_keep): a new tag, then the
 * slot, each store in this order (a SIGKILL stops between two). */
static void journal_arm(struct fgd_keep *k, const struct fg_slot_view *v)
{
	k->jseen = v->count;
	k->jtag++;
	cmm_barrier();
	k->jslot = v->slot + 1;
	cmm_barrier();
}

/* The growth of live bucket @v since @b's baseline, to the taker. */
static void grown(struct fgd_harvest *h, struct pass *p, struct fgd_base *b,
                  const struct fg_slot_view *v)
{
	if (v->count == b->seen)
		return;
	if (v->rule >= FG_RULES_MAX || !p->global[v->rule]) {
		b->seen = v->count; /* not gossiped */
		return;
	}
	journal_arm(h->keep, v);
	if (p->take(p->arg, v->rule, v->key, v->keylen,
	            (v->count - b->seen) & FG_W_COUNT_MASK, p->now_ms) == 0)
		b->seen = v->count;
	else /* the taker had no room */
		fg__harvest_again(&h->fg->seg.tbl, v->slot);
	cmm_barrier();
	h->keep->jslot = 0;
}

/* Slot @v of a changed page: its sums, its ranking, and its growth to
 * the taker. */
static void pass_slot(struct fgd_harvest *h, struct pass *p,
                      const struct fg_slot_view *v)
{
	struct fgd_base *b = &h->base[v->slot];
	int live = v->state == FG_SLOT_READY && v->keylen > 0;

	if (unsettled(h, v, b, live))
		return;
	if (live && b->id != v->id)
		arrive(h, v);
	if (!live && b->id == FGD_BASE_NONE && v->state != FG_SLOT_DEAD)
		return; /* empty, and was: most of a page */
	if (live)
		fgd_top_see(&h->top, v, b->id == v->id ? b->denied : 0,
		            b->id != v->id);
	base_take(h, b, v, live);
	if (live)
		grown(h, p, b, v);
}

void fgd_harvest_pass(struct fgd_harvest *h, uint64_t now_ms, fgd_take_fn *take,
                      void *arg)
{
	struct fg_table *t = &h->fg->seg.tbl;
	struct pass p = {.take = take, .arg = arg, .now_ms = now_ms};
	struct fg_slot_view v;
	uint64_t cur = 0;
	unsigned r;

	(void)fgd_top_begin(&h->top, h->nslots, now_ms);
	pass_begin(h, &p);
	while (fg__harvest_next(t, &cur, &v)) {
		pass_slot(h, &p, &v);
		h->visited++;
	}
	for (r = 0; r < FG_RULES_MAX; r++) {
		h->sums[r].keys = h->live[r].keys;
		p.allowed[r] += h->live[r].allowed;
		p.aux[r] += h->live[r].denied;
	}
	sums_take(h, p.allowed, p.aux, p.shadow);
	fgd_top_end(&h->top, now_ms);
	h->last_ms = now_ms;
	h->passes++;
}

/* The bucket of baseline @b was reset to a new one of its key, which
 * stayed: it counts from 0 (what it had went to its rule's record), and
 * so does its baseline, wherever the key goes next.  Left as it was, a
 * count grown back past the old one would have its first tokens missed. */
static void base_renew(struct fgd_harvest *h, struct fgd_base *b)
{
	base_count(h, b, -1);
	b->seen = b->allowed = b->denied = 0;
	base_count(h, b, 1);
}

/* Whether the table is under pressure: more buckets than it is sized for,
 * or checks that found no room since the last look. */
static int pressed(struct fgd_harvest *h)
{
	uint64_t full = 0;
	unsigned r;

	for (r = 0; r < FG_RULES_MAX; r++)
		full += uatomic_read(&h->fg->seg.rules[r].table_full);
	if (h->ready <= h->fg->seg.capacity && full == h->table_full_seen)
		return 0;
	h->table_full_seen = full;
	return 1;
}

uint64_t fgd_harvest_evict(struct fgd_harvest *h, int always)
{
	struct fg_table *t = &h->fg->seg.tbl;
	uint8_t global[FG_RULES_MAX];
	struct fg_slot_view v;
	uint64_t cur = 0, now, evicted = 0;
	fg_rule_info ri;
	unsigned r;

	if (!pressed(h) && !always)
		return 0;
	for (r = 0; r < FG_RULES_MAX; r++)
		global[r] = fg_rule_get(h->fg, r, &ri) == 0 &&
		            (ri.flags & FG_RULE_GLOBAL);
	now = fg__now_ns();
	while (fg__slot_next(t, &cur, &v)) {
		struct fgd_base *b = &h->base[v.slot];
		int done;

		/* A global bucket's consumption must have been taken: the
		 * baseline is this very bucket, and has seen all of it.
		 * fg__bucket_evict then fails if anything was admitted since
		 * it was read. */
		if (v.rule < FG_RULES_MAX && global[v.rule] &&
		    (b->id != v.id || b->seen != v.count))
			continue;
		done = fg__bucket_evict(t, &v, now);
		if (done == FG__EVICT_FREED) {
			/* its key's next bucket counts from 0 */
			base_take(h, b, &v, 0);
			evicted++;
		} else if (done == FG__EVICT_RENEWED && b->id == v.id) {
			base_renew(h, b);
		}
	}
	return evicted;
}
