/* SPDX-License-Identifier: ISC */
/*
 * sync.c - see sync.h.
 */
#include "gossip/sync.h"

#include <stdlib.h>
#include <string.h>

#include "lib/client.h"

_Static_assert(FGD_VER_HIST > FGD_SYNC_GRACE, "versions kept for a grace");

static int ask(struct fgd_sync *sy, size_t i, uint64_t now_ms);

int fgd_sync_init(struct fgd_sync *sy, struct fgd_counts *counts,
                  struct fgd_members *mb, struct fgd_xmit *x,
                  struct fgd_counters *ctr)
{
	memset(sy, 0, sizeof *sy);
	sy->n = x->kr->n;
	sy->counts = counts;
	sy->mb = mb;
	sy->x = x;
	sy->ctr = ctr;
	sy->o = calloc(sy->n ? sy->n : 1, sizeof *sy->o);
	return sy->o == NULL ? -1 : 0;
}

void fgd_sync_fini(struct fgd_sync *sy)
{
	free(sy->o);
	sy->o = NULL;
}

void fgd_sync_round(struct fgd_sync *sy, uint64_t version)
{
	sy->rounds++;
	sy->ver_hist[sy->rounds % FGD_VER_HIST] = version;
}

/* Our version as of @ago rounds back (0 before that many rounds). */
static uint64_t version_ago(const struct fgd_sync *sy, unsigned ago)
{
	if (sy->rounds < ago + 1)
		return 0;
	return sy->ver_hist[(sy->rounds - ago) % FGD_VER_HIST];
}

/* ----------------------------------------------------- what we hold */

/* Move `have` along every complete batch that starts at or before it. */
static void join_up(struct fgd_sync_origin *s)
{
	int moved;
	size_t i;

	do {
		moved = 0;
		for (i = 0; i < FGD_SYNC_PENDING; i++) {
			struct fgd_pending *p = &s->pend[i];

			if (p->to == 0)
				continue;
			if (p->to <= s->have) {
				memset(p, 0, sizeof *p); /* nothing new in it */
				continue;
			}
			if (p->n == 0 || p->got < p->n || p->from > s->have)
				continue;
			s->have = p->to;
			memset(p, 0, sizeof *p);
			moved = 1;
		}
	} while (moved);
}

/*
 * The pending slot of a batch: found, free, or the one furthest ahead
 * given up (a repair will cover it).  A batch is known by its range, by
 * its seq space (rounds or repairs) and by the seq of its part 0 (a
 * batch's parts take consecutive seqs): two batches of one range need not
 * cut their records into the same parts, and a part of one must never
 * stand in for a part of the other.
 */
static struct fgd_pending *pending(struct fgd_sync_origin *s, uint64_t from,
                                   uint64_t to, uint64_t base, int repair)
{
	struct fgd_pending *p = NULL;
	size_t i;

	for (i = 0; i < FGD_SYNC_PENDING; i++)
		if (s->pend[i].to == to && s->pend[i].from == from &&
		    s->pend[i].base == base && s->pend[i].repair == repair)
			return &s->pend[i];
	for (i = 0; i < FGD_SYNC_PENDING; i++)
		if (p == NULL || s->pend[i].to == 0 ||
		    (p->to != 0 && s->pend[i].to > p->to))
			p = &s->pend[i];
	memset(p, 0, sizeof *p);
	p->from = from;
	p->to = to;
	p->base = base;
	p->repair = repair;
	return p;
}

/* A whole part of the batch @v belongs to: counted, and joined up. */
static void part_note(struct fgd_sync *sy, struct fgd_sync_origin *s,
                      const struct fgw_view *v)
{
	int repair = (v->flags & FGW_F_REPAIR) != 0;
	struct fgd_pending *p =
	    pending(s, v->from, v->to, v->seq - v->part, repair);

	p->got++;
	if (v->flags & FGW_F_LAST)
		p->n = v->part + 1;
	if (p->n != 0 && p->got >= p->n && p->from <= s->have && repair)
		sy->ctr->caught_up++;
	join_up(s);
}

void fgd_sync_known(struct fgd_sync *sy, int origin, uint64_t inc)
{
	struct fgd_sync_origin *s = &sy->o[origin];

	if (inc > s->inc) {
		memset(s, 0, sizeof *s); /* a new life: versions restart */
		s->inc = inc;
	}
}

void fgd_sync_note(struct fgd_sync *sy, int origin, const struct fgw_view *v,
                   int whole, uint64_t now_ms)
{
	struct fgd_sync_origin *s = &sy->o[origin];

	fgd_sync_known(sy, origin, v->incarnation);
	if (v->incarnation < s->inc)
		return; /* the node drops these already */
	if (v->to > s->latest)
		s->latest = v->to;
	if (whole && v->to > s->have && v->to > v->from && v->seq >= v->part)
		part_note(sy, s, v);
	if (s->have >= s->latest) {
		s->behind_ms = 0;
	} else if (v->from > s->have && !(v->flags & FGW_F_REPAIR)) {
		/* A round or heartbeat that starts past what we hold: the
		 * rounds we lack went out a round ago or more, nothing of
		 * them is on its way.  Ask now (sync.h). */
		s->behind_ms = 1;
		if (sy->x->send != NULL && sy->mb->mem != NULL)
			(void)ask(sy, (size_t)origin, now_ms);
	} else if (s->behind_ms == 0) {
		s->behind_ms = now_ms;
	}
}

void fgd_sync_digest(const struct fgd_sync *sy, int origin,
                     struct fgw_member *m)
{
	const struct fgd_sync_origin *s = &sy->o[origin];

	m->digest_inc = s->inc;
	m->digest_have = s->have;
}

/* ------------------------------------------------------------- asking */

/* No address known for the origin (nobody announces): the request goes
 * to the seeds no member was found at, at most FGD_FANOUT_AUTO_ALL of
 * them a time, from a point that moves on each time. */
static void ask_seeds(struct fgd_sync *sy, struct fgw_member *m)
{
	const struct fgd_members *mb = sy->mb;
	size_t k, sent = 0, start = sy->seed_next++;

	for (k = 0; k < mb->nseeds && sent < FGD_FANOUT_AUTO_ALL; k++) {
		size_t j = (start + k) % mb->nseeds;

		if (mb->seed_member[j] < 0) {
			fgd_members_send(sy->mb, &mb->seeds[j], m);
			sent++;
		}
	}
}

/* Ask origin @i for what we lack of it, unless we asked less than
 * FGD_SYNC_RETRY rounds ago.  1 if a request went. */
static int ask(struct fgd_sync *sy, size_t i, uint64_t now_ms)
{
	struct fgd_sync_origin *s = &sy->o[i];
	struct fgw_member m;

	if (s->asked_ms != 0 &&
	    now_ms - s->asked_ms < FGD_SYNC_RETRY * sy->mb->interval_ms)
		return 0;
	memset(&m, 0, sizeof m);
	m.kind = FGW_SYNC;
	memcpy(m.target, sy->x->kr->keys[i].pk, FGW_PK_SIZE);
	fgd_sync_digest(sy, (int)i, &m);
	if (sy->mb->mem[i].addr.len != 0)
		fgd_members_send(sy->mb, &sy->mb->mem[i].addr, &m);
	else
		ask_seeds(sy, &m);
	s->asked_ms = now_ms ? now_ms : 1;
	sy->ctr->sync_requests++;
	return 1;
}

size_t fgd_sync_tick(struct fgd_sync *sy, uint64_t now_ms)
{
	const uint64_t iv = sy->mb->interval_ms;
	size_t i, sent = 0;

	for (i = 0; i < sy->n; i++) {
		const struct fgd_sync_origin *s = &sy->o[i];

		if ((int)i == sy->x->self || s->behind_ms == 0 ||
		    now_ms - s->behind_ms < FGD_SYNC_GRACE * iv)
			continue;
		sent += (size_t)ask(sy, i, now_ms);
	}
	return sent;
}

/* ---------------------------------------------------------- answering */

struct by_ver {
	uint64_t ver;
	size_t i;
};

static int by_ver_cmp(const void *a, const void *b)
{
	const struct by_ver *x = a, *y = b;

	return x->ver < y->ver ? -1 : x->ver > y->ver;
}

struct to_addr {
	struct fgd_sync *sy;
	const struct fgd_addr *to;
	int member;
};

static void send_to_addr(void *arg, const uint8_t *buf, size_t len)
{
	struct to_addr *ta = arg;

	fgd_xmit_to(ta->sy->x, ta->to, buf, len);
	ta->sy->ctr->repair_datagrams++;
}

/* A repair goes to one member: a MAC under its key if we share one. */
static int seal_to_addr(void *arg, const struct fgw_writer *w)
{
	struct to_addr *ta = arg;
	uint8_t buf[FGW_MAX_SIZE];
	size_t len = fgd_xmit_seal(ta->sy->x, ta->member, w, buf);

	if (len == 0)
		return 1;
	send_to_addr(arg, buf, len);
	return 0;
}

/*
 * Whether a repair from @have carries @e: a count changed since then that
 * still matters, and, to a node that holds some of our records, also one
 * that became all floor (it tells the node to forget its mark; a node
 * with none has nothing to forget).
 */
static int repaired(const struct fgd_local *e, uint64_t have)
{
	return e != NULL && e->ver > have && e->count != 0 &&
	       (e->count > e->floor || have != 0);
}

/* Our records a repair from @have carries, in version order, at most
 * FGD_REPAIR_MAX: their slots into *@out (malloc'ed), their number; the
 * version the repair reaches into *@to.  (size_t)-1 out of memory. */
static size_t repair_list(const struct fgd_counts *c, uint64_t have,
                          struct by_ver **out, uint64_t *to)
{
	struct by_ver *list = NULL;
	size_t i, k = 0;

	for (i = 0; i < c->local.cap; i++)
		k += repaired(fgd_ledger_at(&c->local, i), have);
	if (k != 0 && (list = malloc(k * sizeof *list)) == NULL)
		return (size_t)-1;
	k = 0;
	for (i = 0; list != NULL && i < c->local.cap; i++) {
		const struct fgd_local *e = fgd_ledger_at(&c->local, i);

		if (repaired(e, have)) {
			list[k].ver = e->ver;
			list[k++].i = i;
		}
	}
	/* In version order: each datagram of the repair is a batch of its
	 * own, so what arrives of it is progress even if the rest is lost. */
	if (k > 1)
		qsort(list, k, sizeof *list, by_ver_cmp);
	*to = c->k->version;
	if (k > FGD_REPAIR_MAX) {
		k = FGD_REPAIR_MAX;
		*to = list[k - 1].ver; /* versions are unique: nothing split */
	}
	*out = list;
	return k;
}

/* Whether a digest of @have from @origin gets a repair now (counted when
 * it is too soon). */
static int worth_answering(struct fgd_sync *sy, int origin,
                           const struct fgw_member *m, uint64_t have,
                           const struct fgd_addr *to, uint64_t now_ms)
{
	const struct fgd_sync_origin *s = &sy->o[origin];

	if (have > sy->counts->k->version) {
		sy->ctr->member_ignored++; /* versions we never made */
		return 0;
	}
	/* A ping's digest lags by the rounds still on their way: answer it
	 * only for what went out FGD_SYNC_GRACE rounds ago.  A sync request
	 * comes from a node that waited that long already. */
	if (m->kind == FGW_PING && have >= version_ago(sy, FGD_SYNC_GRACE))
		return 0;
	if (have == sy->counts->k->version || to == NULL || to->len == 0 ||
	    sy->x->send == NULL)
		return 0;
	if (s->answered_ms != 0 &&
	    now_ms - s->answered_ms < FGD_SYNC_RETRY * sy->mb->interval_ms) {
		sy->ctr->repairs_limited++;
		return 0;
	}
	return 1;
}

void fgd_sync_answer(struct fgd_sync *sy, int origin,
                     const struct fgw_member *m, const struct fgd_addr *from,
                     uint64_t now_ms)
{
	struct to_addr ta = {
	    .sy = sy, .to = &sy->mb->mem[origin].addr, .member = origin};
	const struct fgd_counts *c = sy->counts;
	uint64_t have = m->digest_have, to;
	struct by_ver *list = NULL;
	struct fgd_batch b;
	size_t i, k;

	if (m->digest_inc != sy->x->incarnation)
		have = 0; /* it knows an older life of ours, or none */
	if (ta.to->len == 0)
		ta.to = from; /* signed and fresh: one answer per request */
	if (!worth_answering(sy, origin, m, have, ta.to, now_ms))
		return;
	k = repair_list(c, have, &list, &to);
	if (k == (size_t)-1)
		return; /* it asks again */
	fgd_batch_begin(&b, sy->x, have, to, FGW_F_REPAIR, send_to_addr, &ta);
	b.seal = seal_to_addr;
	for (i = 0; i < k; i++) {
		const struct fgd_local *e = fgd_ledger_at(&c->local, list[i].i);

		fgd_batch_add(&b, c->fg->names[e->rule], e->key, e->key_len,
		              e->count, e->floor, e->ver);
	}
	(void)fgd_batch_end(&b, 1);
	free(list);
	sy->o[origin].answered_ms = now_ms;
	sy->ctr->repairs++;
}
