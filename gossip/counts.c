/* SPDX-License-Identifier: ISC */
/*
 * counts.c - see counts.h.
 */
#include "gossip/counts.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <urcu/compiler.h>

#include "lib/client.h"
#include "shm/clock.h"
#include "shm/hash.h"
#include "shm/table.h"
#include "util/why.h"

static const char ledger_ctx[] = "floodgate remote ledger ids v1";

size_t fgd_ledger_default(uint64_t capacity, size_t peers)
{
	size_t k = peers < FGD_LEDGER_PEERS ? peers : FGD_LEDGER_PEERS;

	return (size_t)capacity * (k ? k : 1);
}

void fgd_counts_ledger_key(const uint8_t *sk, uint8_t key[FGD_LEDGER_KEYBYTES])
{
	crypto_generichash(key, FGD_LEDGER_KEYBYTES,
	                   (const uint8_t *)ledger_ctx, sizeof ledger_ctx - 1,
	                   sk, 32);
}

static const char local_ctx[] = "floodgate local ledger ids v1";

/* The remote ledger's id key (counts.h): from our secret key, or given. */
static int remote_key(const uint8_t *sk, const struct fgd_counts_params *p,
                      uint8_t key[FGD_LEDGER_KEYBYTES])
{
	if (sk != NULL)
		fgd_counts_ledger_key(sk, key);
	else if (p->ledger_key != NULL)
		memcpy(key, p->ledger_key, FGD_LEDGER_KEYBYTES);
	else
		return -1;
	return 0;
}

/* A ledger of @esize records for @max, in @path if there is one. */
static int ledger_open(struct fgd_ledger *l, size_t esize, size_t max,
                       const uint8_t *key, const char *path,
                       const struct fgd_counts_params *p, char *err,
                       size_t errlen)
{
	if (path != NULL)
		return fgd_ledger_open(l, esize, max, key, path, p->ident, err,
		                       errlen);
	if (fgd_ledger_init(l, esize, max, key) == 0)
		return 0;
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* Both ledgers.  Their ids stay the same across restarts and reboots,
 * so that records in the files and marks in snapshots stay found, and
 * secret: keyed by keys derived from the node's secret key.  Ours (the
 * local ledger) is therefore also bound to the node's key. */
static int ledgers_open(struct fgd_counts *c, const uint8_t *sk,
                        const struct fgd_counts_params *p, char *err,
                        size_t errlen)
{
	size_t max = p->ledger_max
	                 ? p->ledger_max
	                 : fgd_ledger_default(c->fg->seg.capacity, c->npeers);
	uint8_t key[FGD_LEDGER_KEYBYTES], lkey[FGD_LEDGER_KEYBYTES];
	int r = -1;

	if (remote_key(sk, p, key) != 0) {
		snprintf(err, errlen, "no ledger key");
		return -1;
	}
	crypto_generichash(lkey, sizeof lkey, (const uint8_t *)local_ctx,
	                   sizeof local_ctx - 1, key, sizeof key);
	if (ledger_open(&c->local, sizeof(struct fgd_local),
	                c->fg->seg.capacity, lkey, p->local_path, p, err,
	                errlen) != 0)
		goto out;
	if (ledger_open(&c->remote, sizeof(struct fgd_remote), max, key,
	                p->path, p, err, errlen) != 0) {
		fgd_ledger_fini(&c->local);
		goto out;
	}
	r = 0;
out:
	sodium_memzero(key, sizeof key);
	sodium_memzero(lkey, sizeof lkey);
	return r;
}

int fgd_counts_init(struct fgd_counts *c, fg_client *fg, struct fgd_harvest *h,
                    const struct fgw_keyring *kr, const uint8_t *sk,
                    const struct fgd_counts_params *p, struct fgd_counters *ctr,
                    char *err, size_t errlen)
{
	memset(c, 0, sizeof *c);
	c->fg = fg;
	c->harvest = h;
	c->k = h->keep;
	c->kr = kr;
	c->ctr = ctr;
	c->npeers = p->npeers;
	c->debt_window_ns = (uint64_t)(p->debt_window_ms ? p->debt_window_ms
	                                                 : FGD_DEBT_WINDOW_MS) *
	                    1000000u;
	c->purged_pass = c->evicted_pass = UINT64_MAX;
	c->pushed = UINT64_MAX;
	return ledgers_open(c, sk, p, err, errlen);
}

int fgd_counts_resumable(const struct fgd_counts *c)
{
	return c->harvest->resumed && c->local.reloaded &&
	       c->k->incarnation != 0;
}

void fgd_counts_restart(struct fgd_counts *c)
{
	fgd_ledger_clear(&c->local);
	c->k->version = c->k->emitted = c->k->total = 0;
}

int fgd_counts_recover(struct fgd_counts *c)
{
	struct fgd_keep *k = c->k;
	struct fgd_local *e;

	if (k->jslot == 0 || k->ctag != k->jtag)
		return 0; /* the take had not begun */
	e = fgd_ledger_find(&c->local, k->cid);
	if (e == NULL || e->count != k->ccount + k->cdelta)
		return 0; /* nor changed the count */
	k->total = k->ctotal + k->cdelta;
	e->ver = ++k->version; /* sent again, whatever was */
	return 1;
}

void fgd_counts_fini(struct fgd_counts *c)
{
	fgd_ledger_fini(&c->local);
	fgd_ledger_fini(&c->remote);
}

/* ------------------------------------------------------------------ ours */

/* Our count of (@rule, @key): found, or made when @create and there is
 * room, at count = floor = everything harvested so far (counts.h). */
static struct fgd_local *local_get(struct fgd_counts *c, unsigned rule,
                                   const uint8_t *key, size_t len, int create)
{
	uint8_t name[1 + FG_KEY_MAX];
	struct fgd_local *e;
	uint64_t id[2];

	name[0] = (uint8_t)rule;
	memcpy(name + 1, key, len);
	fgd_ledger_id(&c->local, name, len + 1, id);
	e = fgd_ledger_find(&c->local, id);
	if (e != NULL || !create)
		return e;
	e = fgd_ledger_add(&c->local, id);
	if (e == NULL)
		return NULL;
	e->rule = (uint8_t)rule;
	e->key_len = (uint8_t)len;
	memcpy(e->key, key, len);
	e->count = e->floor = c->k->total;
	return e;
}

struct fgd_local *fgd_counts_local(struct fgd_counts *c, const char *rule,
                                   const void *key, size_t len)
{
	int idx = fg__rule_index(c->fg, rule);

	if (idx < 0 || len == 0 || len > FG_KEY_MAX)
		return NULL;
	return local_get(c, (unsigned)idx, key, len, 0);
}

/* Drop our counts that are all floor and unchanged since @before (ms):
 * they matter to nobody.  Returns how many. */
static size_t local_drop_absorbed(struct fgd_counts *c, uint64_t before)
{
	size_t i = 0, dropped = 0;

	while (i < c->local.cap) {
		struct fgd_local *e = fgd_ledger_at(&c->local, i);

		if (e != NULL && e->count <= e->floor && e->touched < before) {
			fgd_ledger_del(&c->local, e);
			dropped++;
			continue; /* the slot may hold a record moved back */
		}
		i++;
	}
	return dropped;
}

/* What the take of @delta into @e is about to change, under the
 * harvest's tag, stored before the count is (struct fgd_keep). */
static void take_journal(struct fgd_keep *k, const struct fgd_local *e,
                         uint64_t delta)
{
	k->cid[0] = e->id[0];
	k->cid[1] = e->id[1];
	k->ccount = e->count;
	k->ctotal = k->total;
	k->cdelta = delta;
	cmm_barrier();
	k->ctag = k->jtag;
	cmm_barrier();
}

int fgd_counts_take(void *arg, unsigned rule, const uint8_t *key, size_t len,
                    uint64_t delta, uint64_t now_ms)
{
	struct fgd_counts *c = arg;
	struct fgd_local *e = local_get(c, rule, key, len, 1);

	if (e == NULL && c->purged_pass != c->harvest->passes) {
		/* Full: a count that is all floor matters to nobody.  Once a
		 * pass. */
		c->purged_pass = c->harvest->passes;
		(void)local_drop_absorbed(c, UINT64_MAX);
		e = local_get(c, rule, key, len, 1);
	}
	if (e == NULL) { /* every count still owed: taken at a later pass */
		c->ctr->local_noroom++;
		return -1;
	}
	take_journal(c->k, e, delta);
	e->count += delta; /* the take happened (fgd_counts_recover) */
	cmm_barrier();
	e->ver = ++c->k->version;
	e->touched = now_ms;
	c->k->total += delta;
	c->ctr->harvested += delta;
	return 0;
}

void fgd_counts_absorb(struct fgd_counts *c, uint64_t now_ms)
{
	uint64_t now = fg__now_ns();
	size_t i;

	for (i = 0; i < c->local.cap; i++) {
		struct fgd_local *e = fgd_ledger_at(&c->local, i);
		const struct fg_rule_cache *rc;

		/* A change not sent yet (by every transport) is sent with
		 * its old floor first: every consumption is announced once
		 * as such. */
		if (e == NULL || e->count <= e->floor ||
		    e->ver > c->k->emitted || e->ver > c->pushed)
			continue;
		rc = fg__rule_params(c->fg, e->rule);
		if ((rc->flags & FG__RULE_ACTIVE) &&
		    fg__bucket_full(c->fg, e->rule, e->key, e->key_len, now) !=
		        1)
			continue;
		e->floor = e->count;
		e->ver = ++c->k->version;
		e->touched = now_ms;
	}
}

/* ---------------------------------------------------------------- theirs */

uint64_t fgd_origin_of(const uint8_t pk[FGW_PK_SIZE])
{
	uint64_t id;

	memcpy(&id, pk, sizeof id);
	return id ? id : 1; /* 0 would name nobody */
}

uint64_t fgd_origin_id(const struct fgw_keyring *kr, int origin)
{
	return fgd_origin_of(kr->keys[origin].pk);
}

void fgd_counts_mark_id(const struct fgd_counts *c, uint64_t origin_id,
                        const char *rule, size_t rule_len, const void *key,
                        size_t key_len, uint64_t id[2])
{
	uint8_t name[8 + 1 + FG_RULE_NAME_MAX + FG_KEY_MAX];

	memcpy(name, &origin_id, 8);
	name[8] = (uint8_t)rule_len;
	memcpy(name + 9, rule, rule_len);
	memcpy(name + 9 + rule_len, key, key_len);
	fgd_ledger_id(&c->remote, name, 9 + rule_len + key_len, id);
}

struct fgd_remote *fgd_counts_mark(struct fgd_counts *c, uint64_t origin_id,
                                   const char *rule, size_t rule_len,
                                   const void *key, size_t key_len)
{
	uint64_t id[2];

	if (rule_len == 0 || rule_len > FG_RULE_NAME_MAX || key_len == 0 ||
	    key_len > FG_KEY_MAX)
		return NULL;
	fgd_counts_mark_id(c, origin_id, rule, rule_len, key, key_len, id);
	return fgd_ledger_find(&c->remote, id);
}

/* The debt a bucket may carry, in ns beyond now (counts.h):
 * tau + peers x (tau + debt window), where a penalty's block (which an
 * honest origin takes a bucket to: lib/penalty.c) counts in tau. */
static uint64_t max_debt(const struct fgd_counts *c,
                         const struct fg_rule_cache *rc)
{
	uint64_t tau = rc->tau_ns + rc->pen.block_ns;
	uint64_t per = c->debt_window_ns + tau,
	         peers = c->npeers ? c->npeers : 1;
	uint64_t cap = UINT64_C(1) << 60;

	if (per > (cap - tau) / peers)
		return cap;
	return tau + peers * per;
}

/* Tokens an honest origin can have admitted in @dt_ms: its bucket's
 * capacity and its refill, with FGD_HONEST_SLACK_MS to spare.  And with
 * a penalty, its blocks (lib/penalty.c): a block takes a bucket at most
 * tau + max delay + block ns ahead of the time (its tokens that far, and
 * less than one more), and needs a denial from the tally of the key,
 * which gives one each penalty window. */
static uint64_t honest_tokens(const struct fg_rule_cache *rc, uint64_t dt_ms)
{
	uint64_t ns = (dt_ms + FGD_HONEST_SLACK_MS) * 1000000u;
	uint64_t n = rc->capacity + ns / rc->interval_ns;

	if (rc->flags & FG__RULE_PENALTY)
		n += (rc->max_delay_ns + rc->pen.block_ns) / rc->interval_ns +
		     2 + ns / rc->pen.tally_ns;
	return n;
}

/* Which of two marks to forget first: the one idle longer. */
static int idler(const void *a, const void *b)
{
	return ((const struct fgd_remote *)a)->touched <
	       ((const struct fgd_remote *)b)->touched;
}

/* A new mark for @id; when the ledger is full, the idlest of a sample is
 * forgotten for it (counts.h says what that costs). */
static struct fgd_remote *mark_new(struct fgd_counts *c, const uint64_t id[2])
{
	struct fgd_remote *e = fgd_ledger_add(&c->remote, id);
	void *victim;

	if (e != NULL || c->remote.n == 0)
		return e;
	victim = fgd_ledger_victim(&c->remote, FGD_VICTIM_SAMPLE, idler);
	if (victim == NULL)
		return NULL;
	fgd_ledger_del(&c->remote, victim);
	c->ctr->ledger_evicted++;
	return fgd_ledger_add(&c->remote, id);
}

/* Add to a counter of tokens a peer claimed: those are the peer's
 * numbers (up to 2^64 - 1 each), so their sum stops at UINT64_MAX
 * rather than wrapping to a small, plausible figure. */
static void tokens_add(uint64_t *ctr, uint64_t n)
{
	*ctr = n > UINT64_MAX - *ctr ? UINT64_MAX : *ctr + n;
}

/* Debit @delta of @rec's key, within both bounds; -1 when the table has
 * no room for the bucket (not recorded: a repair brings it again). */
static int debit(struct fgd_counts *c, unsigned idx,
                 const struct fg_rule_cache *rc, const struct fgw_record *rec,
                 uint64_t delta, uint64_t honest)
{
	uint64_t capped = 0;
	int r;

	if (delta > honest) {
		tokens_add(&c->ctr->debit_clamped, delta - honest);
		delta = honest;
	}
	r = fg__debit(c->fg, idx, rec->key, rec->key_len, delta,
	              max_debt(c, rc), &capped);
	if (r == FG_ENOMEM && c->evicted_pass != c->harvest->passes) {
		/* The table is full: make room as the harvest would, once a
		 * pass, and try again. */
		c->evicted_pass = c->harvest->passes;
		(void)fgd_harvest_evict(c->harvest, 1);
		r = fg__debit(c->fg, idx, rec->key, rec->key_len, delta,
		              max_debt(c, rc), &capped);
	}
	if (r != 0) {
		c->ctr->records_noroom++;
		return -1;
	}
	tokens_add(&c->ctr->debt_capped, capped);
	tokens_add(&c->ctr->applied, delta - capped); /* at most the bound */
	return 0;
}

/* The rule @rec names, if it is an active global rule here; else -1.
 * @last remembers the previous record's (the records of a datagram
 * mostly share one): its name is compared, not looked up again. */
static int global_rule(struct fgd_counts *c, const struct fgw_record *rec,
                       struct fgd_rule_seen *last,
                       const struct fg_rule_cache **rc)
{
	int idx;

	if (last->len == rec->rule_len &&
	    memcmp(last->name, rec->rule, rec->rule_len) == 0) {
		*rc = last->rc;
		return last->idx;
	}
	memcpy(last->name, rec->rule, rec->rule_len);
	last->name[rec->rule_len] = '\0';
	last->len = rec->rule_len;
	idx = memchr(last->name, '\0', rec->rule_len)
	          ? -1
	          : fg__rule_index(c->fg, last->name);
	*rc = idx < 0 ? NULL : fg__rule_params(c->fg, (unsigned)idx);
	if (*rc == NULL || !((*rc)->flags & FG__RULE_ACTIVE) ||
	    !((*rc)->flags & FG__RULE_GLOBAL))
		idx = -1;
	last->idx = idx;
	last->rc = *rc;
	return idx;
}

/* The mark @rec is measured against: NULL when there is none, or when
 * its count is all floor (then it is forgotten).  *@stop when @rec
 * changes nothing. */
static struct fgd_remote *mark_for(struct fgd_counts *c, const uint64_t id[2],
                                   uint64_t inc, const struct fgw_record *rec,
                                   int *stop)
{
	struct fgd_remote *e = fgd_ledger_find(&c->remote, id);

	*stop = 1;
	if (e != NULL && e->incarnation > inc)
		return NULL; /* an older life of the origin: counted */
	if (e != NULL && e->incarnation < inc) {
		fgd_ledger_del(&c->remote, e); /* its counts restart at 0 */
		c->remote_changes++;
		e = NULL;
	}
	if (rec->count <= rec->floor) {
		/* All floor: nothing in it matters to anyone any more. */
		if (e != NULL && rec->floor >= e->count) {
			fgd_ledger_del(&c->remote, e);
			c->remote_changes++;
		}
		return NULL;
	}
	if (e != NULL && rec->count <= e->count)
		return NULL; /* nothing new: duplicate, reordered, replayed */
	*stop = 0;
	return e;
}

/* One record, its rule and mark id found (struct fgd_apply). */
static int apply_one(struct fgd_counts *c, const struct fgd_apply *a,
                     const struct fgw_record *rec, uint64_t now_ms)
{
	uint64_t base, honest = UINT64_MAX;
	struct fgd_remote *e;
	int stop;

	e = mark_for(c, a->id, a->inc, rec, &stop);
	if (stop)
		return 0;
	/* What the origin's bucket has forgotten, ours has too: only what
	 * is above both our mark and the floor is debited. */
	base = rec->floor;
	if (e != NULL) {
		base = e->count > rec->floor ? e->count : rec->floor;
		honest = honest_tokens(a->rc, now_ms - e->touched);
	}
	if (rec->count > base && debit(c, (unsigned)a->idx, a->rc, rec,
	                               rec->count - base, honest) != 0)
		return -1; /* not recorded as seen: retried */
	if (e == NULL && (e = mark_new(c, a->id)) == NULL)
		return 0; /* cannot happen: a full ledger forgets one */
	if (e->count == 0) {
		e->origin = a->oid;
		e->incarnation = a->inc;
	}
	e->floor = rec->floor > e->floor ? rec->floor : e->floor;
	e->consumed += rec->count - base;
	e->count = rec->count;
	e->touched = now_ms;
	c->remote_changes++;
	return 0;
}

/* Find @rec's rule and mark id, and start fetching the memory applying it
 * will touch: the mark's home in the remote ledger and the bucket's two
 * lines in the table (shm/table.h: a prefetch is a hint, never a
 * dependency on where a bucket is).  0, or -1 for a rule not ours. */
static int prepare(struct fgd_counts *c, const struct fgw_record *rec,
                   struct fgd_rule_seen *last, struct fgd_apply *a)
{
	struct fg_table *t = &c->fg->seg.tbl;
	uint64_t h;

	/* Keys given to the library are C strings: one with a NUL can only
	 * name a bucket no caller has, such as a penalty's tally
	 * (lib/penalty.c), which a peer has no business debiting. */
	if (memchr(rec->key, '\0', rec->key_len) != NULL) {
		a->idx = -1;
		c->ctr->records_badkey++;
		return 0;
	}
	a->idx = global_rule(c, rec, last, &a->rc);
	if (a->idx < 0)
		return -1;
	fgd_counts_mark_id(c, a->oid, last->name, rec->rule_len, rec->key,
	                   rec->key_len, a->id);
	fgd_ledger_prefetch(&c->remote, a->id);
	h = fg__hash64(t->seed, (unsigned)a->idx, rec->key, rec->key_len);
	fg__table_prefetch(t, h);
	return 0;
}

/* fgd_counts_apply_all for the origin named @oid. */
static size_t apply_all(struct fgd_counts *c, uint64_t oid, uint64_t inc,
                        const struct fgw_record *recs, size_t n,
                        uint64_t now_ms)
{
	struct fgd_apply a[FGD_APPLY_MAX];
	struct fgd_rule_seen last = {.len = 0};
	size_t i, k, failed = 0;

	for (k = 0; k < n; k += FGD_APPLY_MAX) {
		size_t m = n - k < FGD_APPLY_MAX ? n - k : FGD_APPLY_MAX;

		for (i = 0; i < m; i++) {
			a[i].oid = oid;
			a[i].inc = inc;
			if (prepare(c, &recs[k + i], &last, &a[i]) != 0)
				c->ctr->records_unknown++;
		}
		for (i = 0; i < m; i++)
			if (a[i].idx >= 0 &&
			    apply_one(c, &a[i], &recs[k + i], now_ms) != 0)
				failed++;
	}
	return failed;
}

size_t fgd_counts_apply_all(struct fgd_counts *c, int origin, uint64_t inc,
                            const struct fgw_record *recs, size_t n,
                            uint64_t now_ms)
{
	return apply_all(c, fgd_origin_id(c->kr, origin), inc, recs, n, now_ms);
}

int fgd_counts_apply(struct fgd_counts *c, int origin, uint64_t inc,
                     const struct fgw_record *rec, uint64_t now_ms)
{
	return fgd_counts_apply_all(c, origin, inc, rec, 1, now_ms) ? -1 : 0;
}

int fgd_counts_apply_from(struct fgd_counts *c, uint64_t oid, uint64_t inc,
                          const struct fgw_record *rec, uint64_t now_ms)
{
	return apply_all(c, oid, inc, rec, 1, now_ms) ? -1 : 0;
}

void fgd_counts_expire(struct fgd_counts *c, uint64_t now_ms)
{
	size_t i = 0;

	/* Our own counts still owed are never dropped: absorb() floors
	 * them once their bucket is full, or gone. */
	if (now_ms > FGD_LOCAL_TTL_MS)
		(void)local_drop_absorbed(c, now_ms - FGD_LOCAL_TTL_MS);
	if (now_ms <= FGD_REMOTE_STALE_MS)
		return;
	while (i < c->remote.cap) {
		struct fgd_remote *e = fgd_ledger_at(&c->remote, i);

		if (e != NULL && e->touched < now_ms - FGD_REMOTE_STALE_MS) {
			fgd_ledger_del(&c->remote, e);
			c->remote_changes++;
			continue; /* the slot may hold a record moved back */
		}
		i++;
	}
}
