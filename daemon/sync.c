/*
 * sync.c - the digest exchange: how a node finds out what it missed of an
 * origin's records, and gets it from the origin.
 *
 * Scuttlebutt's idea with the origin as the one who answers.  Every
 * change of an origin's record takes the origin's next version (node.c),
 * and each round's datagrams form a batch covering the versions since the
 * previous round, (from, to], in parts 0..n-1, the last one flagged.  A
 * receiver keeps, per origin, `have`: it holds every part of every batch
 * up to that version.  A batch whose `from` it has reached and whose parts
 * it all holds moves `have` to the batch's `to`; batches that arrive early
 * (reordering, relays) wait in a few pending slots until they join up.
 *
 * The digest is (origin's incarnation, have).  A node sends it to each
 * member in its SWIM pings, which go round robin, and to an origin it has
 * been behind for FGD_SYNC_GRACE rounds in a sync request (it learns the
 * origin's latest version from every datagram's `to`; from a heartbeat it
 * asks at once, since a heartbeat follows the round it lacks).  The origin
 * answers a digest below its version with a repair: every record changed
 * after `have` that still matters (count above floor), in version order,
 * each datagram a batch of its own (so that each one that arrives is
 * progress), flagged FGW_F_REPAIR and never forwarded; to a node that holds
 * part of our history, records that became all floor since go too, so
 * that a node that lost the datagram saying so forgets its mark.  It goes under
 * a MAC of the key we share with the requester (gossip/pairwise.h; signed when
 * there is none), to the address the requester signed (or, in a cluster that
 * does not announce addresses, to where its request came from).  Without a
 * known address for an origin, a request goes to the seeds no member was found
 * at (a few at a time): only the origin answers it.  A record that no longer
 * matters is left out: a node without it debits nothing for it anyway (node.c).
 * So the lost datagram, the node that joined late, restarted, or was cut off by
 * a partition all get the same thing: what they lack, once.
 *
 * Why the origin and not any node: records carry their origin's proof
 * (a signature, or a MAC only their one recipient can check), and a third
 * node holds them only as datagrams of another shape; it cannot re-batch
 * them with proof.  Why not a periodic full re-send: it costs every
 * active key every period, to every node, most of which have it.
 *
 * A ping's digest lags by the rounds still in flight, so a ping is
 * answered only for what went out FGD_SYNC_GRACE rounds ago or earlier.
 *
 * Bounds: a repair holds at most FGD_REPAIR_MAX records (it then ends at
 * the last version sent, and the requester asks again for the rest); a
 * node answers one member at most once per FGD_SYNC_RETRY rounds and asks
 * one at most as often, so a request can never make a node send more than
 * one repair per period to its signed address.  A digest ahead of what we
 * have sent (a confused or compromised member) is ignored and counted.
 */
#include "daemon/sync.h"

#include <stdlib.h>
#include <string.h>

#include "daemon/members.h"

_Static_assert(FGD_VER_HIST > FGD_SYNC_GRACE, "versions kept for a grace");

int fgd_sync_init(struct fgd_node *n)
{
	n->sync = calloc(n->kr->n ? n->kr->n : 1, sizeof *n->sync);
	return n->sync == NULL ? -1 : 0;
}

void fgd_sync_fini(struct fgd_node *n)
{
	free(n->sync);
	n->sync = NULL;
}

/* Move `have` along every complete batch that starts at or before it. */
static void join_up(struct fgd_sync *s)
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
static struct fgd_pending *pending(struct fgd_sync *s, uint64_t from,
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

void fgd_sync_note(struct fgd_node *n, int origin, const struct fgw_view *v,
                   int whole, uint64_t now_ms)
{
	struct fgd_sync *s = &n->sync[origin];
	struct fgd_pending *p;

	if (v->incarnation != s->inc) {
		if (v->incarnation < s->inc)
			return; /* the replay window drops these already */
		memset(s, 0, sizeof *s); /* a new life: versions restart */
		s->inc = v->incarnation;
	}
	if (v->to > s->latest)
		s->latest = v->to;
	if (whole && v->to > s->have && v->to > v->from && v->seq >= v->part) {
		p = pending(s, v->from, v->to, v->seq - v->part,
		            (v->flags & FGW_F_REPAIR) != 0);
		p->got++;
		if (v->flags & FGW_F_LAST)
			p->n = v->part + 1;
		if (p->n != 0 && p->got >= p->n && p->from <= s->have &&
		    (v->flags & FGW_F_REPAIR))
			n->ctr.caught_up++;
		join_up(s);
	}
	if (s->have >= s->latest)
		s->behind_ms = 0;
	else if (v->from == v->to && v->nrec == 0) /* a heartbeat: what */
		s->behind_ms = 1; /* we lack went out a round ago: ask now */
	else if (s->behind_ms == 0)
		s->behind_ms = now_ms;
}

void fgd_sync_digest(const struct fgd_node *n, int origin, struct fgw_member *m)
{
	const struct fgd_sync *s = &n->sync[origin];

	m->digest_inc = s->inc;
	m->digest_have = s->have;
}

/* No address known for the origin (nobody announces): the request goes
 * to the seeds no member was found at, at most FGD_FANOUT_AUTO_ALL of
 * them a time, from a point that moves on each time. */
static void ask_seeds(struct fgd_node *n, struct fgw_member *m)
{
	size_t k, sent = 0, start = n->sync_seed++;

	for (k = 0; k < n->nseeds && sent < FGD_FANOUT_AUTO_ALL; k++) {
		size_t j = (start + k) % n->nseeds;

		if (n->seed_member[j] < 0) {
			fgd_members_send(n, &n->seeds[j], m);
			sent++;
		}
	}
}

size_t fgd_sync_tick(struct fgd_node *n, uint64_t now_ms)
{
	size_t i, sent = 0;

	for (i = 0; i < n->kr->n; i++) {
		struct fgd_sync *s = &n->sync[i];
		struct fgw_member m;

		if ((int)i == n->self || s->behind_ms == 0 ||
		    now_ms - s->behind_ms < FGD_SYNC_GRACE * fgd_interval_ms(n))
			continue;
		if (s->asked_ms != 0 &&
		    now_ms - s->asked_ms < FGD_SYNC_RETRY * fgd_interval_ms(n))
			continue;
		memset(&m, 0, sizeof m);
		m.kind = FGW_SYNC;
		memcpy(m.target, n->kr->keys[i].pk, FGW_PK_SIZE);
		fgd_sync_digest(n, (int)i, &m);
		if (n->mem[i].addr.len != 0)
			fgd_members_send(n, &n->mem[i].addr, &m);
		else
			ask_seeds(n, &m);
		s->asked_ms = now_ms;
		n->ctr.sync_requests++;
		sent++;
	}
	return sent;
}

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
	struct fgd_node *n;
	const struct fgd_addr *to;
	int member;
};

static void send_to_addr(void *arg, const uint8_t *buf, size_t len)
{
	struct to_addr *ta = arg;

	if (ta->n->net_send != NULL)
		ta->n->net_send(ta->n->net_arg, ta->to, buf, len);
	ta->n->ctr.repair_datagrams++;
}

/* A repair goes to one member: a MAC under its key if we share one. */
static int seal_to_addr(void *arg, const struct fgw_writer *w)
{
	struct to_addr *ta = arg;
	uint8_t buf[FGW_MAX_SIZE];
	size_t len = fgd_seal_for(ta->n, ta->member, w, buf);

	if (len == 0)
		return 1;
	send_to_addr(arg, buf, len);
	return 0;
}

/* Our version as of @ago rounds back (0 before that many rounds). */
static uint64_t version_ago(const struct fgd_node *n, unsigned ago)
{
	if (n->rounds < ago + 1)
		return 0;
	return n->ver_hist[(n->rounds - ago) % FGD_VER_HIST];
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

void fgd_sync_answer(struct fgd_node *n, int origin, const struct fgw_member *m,
                     const struct fgd_addr *from, uint64_t now_ms)
{
	struct fgd_sync *s = &n->sync[origin];
	struct to_addr ta = {
	    .n = n, .to = &n->mem[origin].addr, .member = origin};
	uint64_t have = m->digest_have, to;
	struct by_ver *list = NULL;
	struct fgd_batch b;
	size_t i, k = 0;

	if (m->digest_inc != n->incarnation)
		have = 0; /* it knows an older life of ours, or none */
	if (have > n->version) {
		n->ctr.member_ignored++; /* versions we never made */
		return;
	}
	/* A ping's digest lags by the rounds still on their way: answer it
	 * only for what went out FGD_SYNC_GRACE rounds ago.  A sync request
	 * comes from a node that waited that long already. */
	if (m->kind == FGW_PING && have >= version_ago(n, FGD_SYNC_GRACE))
		return;
	if (ta.to->len == 0)
		ta.to = from; /* signed and fresh: one answer per request */
	if (have == n->version || ta.to == NULL || ta.to->len == 0 ||
	    n->net_send == NULL)
		return;
	if (s->answered_ms != 0 &&
	    now_ms - s->answered_ms < FGD_SYNC_RETRY * fgd_interval_ms(n)) {
		n->ctr.repairs_limited++;
		return;
	}
	for (i = 0; i < n->local.cap; i++)
		k += repaired(fgd_ledger_at(&n->local, i), have);
	if (k != 0) {
		list = malloc(k * sizeof *list);
		if (list == NULL)
			return; /* it asks again */
	}
	k = 0;
	for (i = 0; list != NULL && i < n->local.cap; i++) {
		const struct fgd_local *e = fgd_ledger_at(&n->local, i);

		if (repaired(e, have)) {
			list[k].ver = e->ver;
			list[k++].i = i;
		}
	}
	/* In version order: each datagram of the repair is a batch of its
	 * own, so what arrives of it is progress even if the rest is lost. */
	if (k > 1)
		qsort(list, k, sizeof *list, by_ver_cmp);
	to = n->version;
	if (k > FGD_REPAIR_MAX) {
		k = FGD_REPAIR_MAX;
		to = list[k - 1].ver; /* versions are unique: nothing split */
	}
	fgd_batch_begin(&b, n, have, to, FGW_F_REPAIR, send_to_addr, &ta);
	b.seal = seal_to_addr;
	for (i = 0; i < k; i++)
		fgd_batch_add(&b, fgd_ledger_at(&n->local, list[i].i));
	(void)fgd_batch_end(&b, 1);
	free(list);
	s->answered_ms = now_ms;
	n->ctr.repairs++;
}
