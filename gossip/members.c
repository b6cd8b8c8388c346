/* SPDX-License-Identifier: ISC */
/*
 * members.c - see members.h.
 */
#include "gossip/members.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ addresses */

/* Our own address into @m: none when we listen on a wildcard, which
 * names no host others could reach. */
static void self_to_wire(const struct fgd_members *mb, struct fgw_member *m)
{
	m->family = 0;
	m->port = 0;
	memset(m->addr, 0, sizeof m->addr);
	if (mb->self_addr.len == 0 || fgd_addr_wildcard(&mb->self_addr) ||
	    fgd_addr_norm(&mb->self_addr, &m->family, &m->port, m->addr) != 0 ||
	    m->port == 0) {
		m->family = 0;
		m->port = 0;
		memset(m->addr, 0, sizeof m->addr);
	}
}

static int newer(uint64_t inc, uint64_t seq, uint64_t inc0, uint64_t seq0)
{
	return inc > inc0 || (inc == inc0 && seq > seq0);
}

/* Which member listens at each seed, after member @i's address changed
 * (or, with @i -1, from scratch). */
static void seeds_match(struct fgd_members *mb, int i)
{
	size_t s, j;

	for (s = 0; s < mb->nseeds; s++) {
		if (i < 0) {
			mb->seed_member[s] = -1;
			for (j = 0; j < mb->n; j++)
				if (mb->mem[j].addr.len &&
				    fgd_addr_eq(&mb->mem[j].addr,
				                &mb->seeds[s]))
					mb->seed_member[s] = (int)j;
			if (mb->x->self >= 0 && mb->self_addr.len &&
			    fgd_addr_eq(&mb->self_addr, &mb->seeds[s]))
				mb->seed_member[s] = mb->x->self;
		} else if (fgd_addr_eq(&mb->mem[i].addr, &mb->seeds[s])) {
			mb->seed_member[s] = i;
		} else if (mb->seed_member[s] == i) {
			mb->seed_member[s] = -1;
		}
	}
}

/* The address member @i signed in @m, if newer than what we hold. */
static void learn_addr(struct fgd_members *mb, int i,
                       const struct fgw_member *m, uint64_t inc, uint64_t seq)
{
	struct fgd_member *mm = &mb->mem[i];
	struct fgd_addr a;

	if (m->family == 0 || !newer(inc, seq, mm->addr_inc, mm->addr_seq))
		return;
	mm->addr_inc = inc;
	mm->addr_seq = seq;
	fgd_addr_make(m->family, m->port, m->addr, &a);
	if (mm->addr.len == a.len && fgd_addr_eq(&mm->addr, &a))
		return;
	mm->addr = a;
	seeds_match(mb, i);
}

/* --------------------------------------------------------------- table */

static void cand_free(struct fgd_members *mb)
{
	free(mb->cand);
	free(mb->cand_member);
	free(mb->cand_done);
	mb->cand = NULL;
	mb->cand_member = NULL;
	mb->cand_done = NULL;
}

/* The scratch arrays of pick(), for @size destinations.  0 or -1 (then
 * the old ones are kept). */
static int cand_alloc(struct fgd_members *mb, size_t size)
{
	const struct fgd_addr **cand = calloc(size, sizeof *cand);
	int *member = calloc(size, sizeof *member);
	uint8_t *done = calloc(size, sizeof *done);

	if (cand == NULL || member == NULL || done == NULL) {
		free(cand);
		free(member);
		free(done);
		return -1;
	}
	cand_free(mb);
	mb->cand = cand;
	mb->cand_member = member;
	mb->cand_done = done;
	return 0;
}

int fgd_members_init(struct fgd_members *mb, struct fgd_xmit *x,
                     uint32_t interval_ms, struct fgd_counters *ctr)
{
	size_t i, nm = x->kr->n ? x->kr->n : 1;

	memset(mb, 0, sizeof *mb);
	mb->x = x;
	mb->n = x->kr->n;
	mb->ctr = ctr;
	mb->interval_ms = interval_ms ? interval_ms : 1;
	mb->mem = calloc(nm, sizeof *mb->mem);
	if (mb->mem == NULL || cand_alloc(mb, nm) != 0 ||
	    fgd_spread_init(&mb->spread, x->kr) != 0) {
		fgd_members_fini(mb);
		return -1;
	}
	for (i = 0; i < nm; i++)
		mb->mem[i].relay_to = -1;
	randombytes_buf(&mb->rng, sizeof mb->rng);
	mb->rng |= 1;
	return 0;
}

void fgd_members_fini(struct fgd_members *mb)
{
	free(mb->mem);
	cand_free(mb);
	fgd_spread_fini(&mb->spread);
	free(mb->seeds);
	free(mb->seed_member);
	mb->mem = NULL;
	mb->seeds = NULL;
	mb->seed_member = NULL;
	mb->nseeds = 0;
}

int fgd_members_set_net(struct fgd_members *mb, const struct fgd_net *net)
{
	struct fgd_addr *seeds = NULL;
	int *sm = NULL;

	if (net->nseeds) {
		seeds = calloc(net->nseeds, sizeof *seeds);
		sm = calloc(net->nseeds, sizeof *sm);
	}
	if ((net->nseeds && (seeds == NULL || sm == NULL)) ||
	    cand_alloc(mb, mb->n + net->nseeds + 1) != 0) {
		free(seeds);
		free(sm);
		return -1;
	}
	if (net->nseeds)
		memcpy(seeds, net->seeds, net->nseeds * sizeof *seeds);
	free(mb->seeds);
	free(mb->seed_member);
	mb->seeds = seeds;
	mb->seed_member = sm;
	mb->nseeds = net->nseeds;
	memset(&mb->self_addr, 0, sizeof mb->self_addr);
	if (net->self != NULL)
		mb->self_addr = *net->self;
	mb->fanout = net->fanout;
	mb->random_push = net->random_push;
	mb->x->send = net->send;
	mb->x->arg = net->arg;
	seeds_match(mb, -1);
	return 0;
}

unsigned fgd_fanout_auto(size_t members)
{
	return members <= FGD_FANOUT_AUTO_ALL ? 0 : FGD_FANOUT_AUTO;
}

/* ------------------------------------------------------------- liveness */

/* Nothing heard from member @i (or, if never, since we started) for
 * @rounds. */
static int silent(const struct fgd_members *mb, size_t i, uint64_t now_ms,
                  uint64_t rounds)
{
	uint64_t heard = mb->mem[i].heard_ms > mb->started_ms
	                     ? mb->mem[i].heard_ms
	                     : mb->started_ms;

	return now_ms - heard >= rounds * mb->interval_ms;
}

enum fgd_peer_state fgd_members_state(const struct fgd_members *mb, int i,
                                      uint64_t now_ms)
{
	const struct fgd_member *m;
	uint64_t iv = mb->interval_ms;

	if (i < 0 || (size_t)i >= mb->n)
		return FGD_PEER_UNKNOWN;
	m = &mb->mem[i];
	/* The probes' verdict first; talking again clears it. */
	if (m->swim == FGD_PEER_SUSPECT || m->swim == FGD_PEER_DEAD)
		return (enum fgd_peer_state)m->swim;
	if (m->heard_ms == 0)
		return FGD_PEER_UNKNOWN;
	/* A member we can probe: its probes say, not silence (in a large
	 * cluster it may rightly send us nothing for a while). */
	if (m->addr.len != 0)
		return FGD_PEER_ALIVE;
	if (now_ms - m->heard_ms <= FGD_SUSPECT_ROUNDS * iv)
		return FGD_PEER_ALIVE;
	if (now_ms - m->heard_ms <= FGD_DEAD_ROUNDS * iv)
		return FGD_PEER_SUSPECT;
	return FGD_PEER_DEAD;
}

const char *fgd_peer_state_name(enum fgd_peer_state s)
{
	static const char *const names[] = {"unknown", "alive", "suspect",
	                                    "dead"};

	return (unsigned)s < 4 ? names[s] : "?";
}

void fgd_members_heard(struct fgd_members *mb, int i, uint64_t now_ms)
{
	mb->mem[i].heard_ms = now_ms;
	mb->mem[i].swim = FGD_PEER_ALIVE;
}

/* ------------------------------------------------------------- sending */

static uint64_t rnd(struct fgd_members *mb)
{
	uint64_t x = mb->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	mb->rng = x;
	return x * UINT64_C(0x2545F4914F6CDD1D);
}

/* The candidates of pick(): the members with an address that are not
 * suspect or dead (with @fanout 0, all of them), and the seeds not yet
 * identified; never ourselves, @ex1, @ex2, or the address @from. */
static size_t candidates(struct fgd_members *mb, int ex1, int ex2,
                         const struct fgd_addr *from, unsigned fanout,
                         uint64_t now_ms)
{
	size_t k = 0, i;

	for (i = 0; i < mb->n; i++) {
		const struct fgd_member *m = &mb->mem[i];
		enum fgd_peer_state st;

		if ((int)i == mb->x->self || (int)i == ex1 || (int)i == ex2 ||
		    m->addr.len == 0 || (from && fgd_addr_eq(&m->addr, from)))
			continue;
		st = fgd_members_state(mb, (int)i, now_ms);
		if (fanout && (st == FGD_PEER_SUSPECT || st == FGD_PEER_DEAD))
			continue;
		mb->cand_member[k] = (int)i;
		mb->cand[k++] = &m->addr;
	}
	for (i = 0; i < mb->nseeds; i++) {
		if (mb->seed_member[i] >= 0 ||
		    (from && fgd_addr_eq(&mb->seeds[i], from)))
			continue;
		mb->cand_member[k] = -1;
		mb->cand[k++] = &mb->seeds[i];
	}
	return k;
}

/* Up to @fanout (0: all) destinations in mb->cand, drawn at random among
 * candidates(); returns how many. */
static size_t pick(struct fgd_members *mb, int ex1, int ex2,
                   const struct fgd_addr *from, unsigned fanout,
                   uint64_t now_ms)
{
	size_t k = candidates(mb, ex1, ex2, from, fanout, now_ms), i, j;

	if (fanout == 0 || k <= fanout)
		return k;
	/* A partial Fisher-Yates shuffle: the first @fanout are a uniform
	 * sample without repetition. */
	for (i = 0; i < fanout; i++) {
		const struct fgd_addr *t;
		int tm;

		j = i + (size_t)(rnd(mb) % (k - i));
		tm = mb->cand_member[i];
		t = mb->cand[i];
		mb->cand[i] = mb->cand[j];
		mb->cand[j] = t;
		mb->cand_member[i] = mb->cand_member[j];
		mb->cand_member[j] = tm;
	}
	return fanout;
}

void fgd_members_send(struct fgd_members *mb, const struct fgd_addr *to,
                      struct fgw_member *m)
{
	self_to_wire(mb, m);
	fgd_xmit_member(mb->x, to, m);
}

/* Where a datagram goes in the trees (spread.h). */
struct reach {
	struct fgd_members *mb;
	const struct fgd_addr *from;
	uint64_t now_ms;
};

static int reachable(void *arg, int i)
{
	const struct reach *r = arg;
	const struct fgd_member *m = &r->mb->mem[i];
	enum fgd_peer_state st;

	if (m->addr.len == 0)
		return 0;
	if (r->from != NULL && fgd_addr_eq(&m->addr, r->from))
		return -1; /* it sent it to us: it has it */
	st = fgd_members_state(r->mb, i, r->now_ms);
	return st != FGD_PEER_SUSPECT && st != FGD_PEER_DEAD;
}

/* The destinations of a datagram of batch @base of @origin into mb->cand:
 * our children in its trees, or, when we can reach none of them (nobody
 * announces an address) or random push is asked for, `fanout` members
 * and seeds drawn at random.  Returns how many. */
static size_t spread(struct fgd_members *mb, int origin, uint64_t base,
                     const struct fgd_addr *from, uint64_t now_ms)
{
	struct reach r = {.mb = mb, .from = from, .now_ms = now_ms};
	size_t k = 0, passed = 1, i;

	if (!mb->random_push && mb->x->self >= 0)
		k = fgd_spread_children(
		    &mb->spread, origin, base, mb->x->self, mb->fanout,
		    reachable, &r, mb->cand_member,
		    mb->n < FGD_FORWARD_MAX ? mb->n : FGD_FORWARD_MAX, &passed);
	if (k == 0 && passed != 0)
		return pick(mb, origin == mb->x->self ? -1 : origin, -1, from,
		            mb->fanout, now_ms);
	for (i = 0; i < k; i++)
		mb->cand[i] = &mb->mem[mb->cand_member[i]].addr;
	return k;
}

/* The first round: where our round robins start, and the phase of our
 * heartbeats, drawn, so that nodes started together neither probe the
 * same member at once (it would get N - 1 pings in a round) nor beat
 * their hearts in the same round. */
static void first_round(struct fgd_members *mb, uint64_t now_ms)
{
	mb->started_ms = now_ms;
	mb->probe_next = (size_t)(rnd(mb) % (mb->n ? mb->n : 1));
	mb->ann_next = (size_t)(rnd(mb) % (mb->n ? mb->n : 1));
	mb->phase = (unsigned)(rnd(mb) % FGD_HEARTBEAT_EVERY);
}

size_t fgd_members_round(struct fgd_members *mb, uint64_t now_ms)
{
	if (mb->started_ms == 0)
		first_round(mb, now_ms);
	/* The batch about to go takes our next relayed seq for its part 0
	 * (xmit.h): its trees are known now. */
	if (mb->fanout != 0)
		mb->ncand =
		    spread(mb, mb->x->self, mb->x->seq + 1, NULL, now_ms);
	else
		mb->ncand = pick(mb, -1, -1, NULL, 0, now_ms);
	memset(mb->cand_done, 0, mb->ncand);
	return mb->ncand;
}

/* The signed copy: to every destination that got no MAC'd one. */
void fgd_members_round_send(void *arg, const uint8_t *buf, size_t len)
{
	struct fgd_members *mb = arg;
	size_t i;

	for (i = 0; i < mb->ncand; i++)
		if (!mb->cand_done[i])
			fgd_xmit_to(mb->x, mb->cand[i], buf, len);
}

/* A round that goes straight to every member (fanout all): each member
 * we share keys with gets a copy with a MAC under its key, ~1.5 us
 * instead of a signature's ~20 to make and ~50 to check; seeds not yet
 * identified, and members without keys, get the signed copy.  Relayed
 * rounds (fanout N) carry the origin's signature only. */
int fgd_members_round_seal(void *arg, const struct fgw_writer *w)
{
	struct fgd_members *mb = arg;
	uint8_t buf[FGW_MAX_SIZE];
	size_t i, len;
	int sign = 0;

	if (mb->fanout != 0 || mb->x->pw == NULL)
		return 1;
	for (i = 0; i < mb->ncand; i++) {
		len = fgd_xmit_seal(mb->x, mb->cand_member[i], w, buf);
		mb->cand_done[i] = len != 0;
		if (len != 0)
			fgd_xmit_to(mb->x, mb->cand[i], buf, len);
		else
			sign = 1;
	}
	return sign;
}

void fgd_members_forward(struct fgd_members *mb, const struct fgw_view *v,
                         const struct fgd_addr *from, uint64_t now_ms)
{
	size_t k, i;

	if (mb->x->send == NULL || mb->fanout == 0)
		return;
	k = spread(mb, v->origin, v->seq - v->part, from, now_ms);
	for (i = 0; i < k; i++)
		fgd_xmit_to(mb->x, mb->cand[i], v->buf, v->len);
	mb->ctr->relayed += k;
}

/* ----------------------------------------------------------------- SWIM */

static void ping(struct fgd_members *mb, int i, uint64_t nonce,
                 const uint8_t *requester)
{
	struct fgw_member m = {.kind = FGW_PING, .nonce = nonce};

	memcpy(m.target, mb->x->kr->keys[i].pk, FGW_PK_SIZE);
	if (requester != NULL)
		memcpy(m.requester, requester, FGW_PK_SIZE);
	if (mb->on_ping != NULL)
		mb->on_ping(mb->on_ping_arg, i, &m);
	fgd_members_send(mb, &mb->mem[i].addr, &m);
}

/* Member @i's probe: no ack by the next round, ask others to try; none
 * within 2.5 rounds, the probe failed. */
static void probe_step(struct fgd_members *mb, size_t i, uint64_t now_ms)
{
	const uint64_t iv = mb->interval_ms;
	struct fgd_member *m = &mb->mem[i];
	size_t k, j;

	if (m->probe == 1 && now_ms - m->probe_ms >= iv / 2) {
		struct fgw_member req = {.kind = FGW_PING_REQ,
		                         .nonce = m->probe_nonce};

		memcpy(req.target, mb->x->kr->keys[i].pk, FGW_PK_SIZE);
		k = pick(mb, (int)i, -1, &m->addr, FGD_PING_REQ_K, now_ms);
		for (j = 0; j < k; j++)
			fgd_members_send(mb, mb->cand[j], &req);
		mb->ctr->ping_reqs += k;
		m->probe = 2;
	} else if (m->probe == 2 && now_ms - m->probe_ms >= iv * 5 / 2) {
		m->probe = 0;
		if (m->swim != FGD_PEER_SUSPECT && m->swim != FGD_PEER_DEAD &&
		    silent(mb, i, now_ms, FGD_SUSPECT_ROUNDS)) {
			m->swim = FGD_PEER_SUSPECT;
			m->suspect_ms = now_ms;
			mb->ctr->suspected++;
		}
	}
}

/* One new probe a round, round robin over the members we can reach (the
 * dead too, so that we notice when they are back). */
static void probe_next(struct fgd_members *mb, uint64_t now_ms)
{
	size_t tries, i;

	for (tries = 0; tries < mb->n; tries++) {
		struct fgd_member *m;

		i = mb->probe_next++ % mb->n;
		m = &mb->mem[i];
		if ((int)i == mb->x->self || m->addr.len == 0 || m->probe != 0)
			continue;
		m->probe = 1;
		m->probe_ms = now_ms;
		m->probe_nonce = rnd(mb);
		ping(mb, (int)i, m->probe_nonce, NULL);
		mb->ctr->pings++;
		return;
	}
}

static void swim_step(struct fgd_members *mb, uint64_t now_ms)
{
	size_t i;

	for (i = 0; i < mb->n; i++) {
		struct fgd_member *m = &mb->mem[i];

		if ((int)i == mb->x->self)
			continue;
		if (m->relay_to >= 0 &&
		    now_ms - m->relay_ms > 3 * mb->interval_ms)
			m->relay_to = -1;
		probe_step(mb, i, now_ms);
		if (m->swim == FGD_PEER_SUSPECT &&
		    silent(mb, i, now_ms, FGD_DEAD_ROUNDS)) {
			m->swim = FGD_PEER_DEAD;
			mb->ctr->declared_dead++;
		}
	}
	probe_next(mb, now_ms);
}

/* A ping for us: answered with an ack that names whose probe it answers
 * (the asker's, when this ping came for a ping-req), sent to the address
 * the pinger signed, else to where the ping came from (it is signed and
 * fresh: at most one ack each). */
static void on_ping(struct fgd_members *mb, int o, const struct fgw_member *m,
                    const struct fgd_addr *from)
{
	struct fgw_member out = {.kind = FGW_ACK, .nonce = m->nonce};

	memcpy(out.target,
	       sodium_is_zero(m->requester, FGW_PK_SIZE) ? mb->x->kr->keys[o].pk
	                                                 : m->requester,
	       FGW_PK_SIZE);
	memcpy(out.requester, m->requester, FGW_PK_SIZE);
	fgd_members_send(mb, mb->mem[o].addr.len ? &mb->mem[o].addr : from,
	                 &out);
}

/* An ack: to our probe, or to a ping we sent for someone's ping-req (then
 * passed on unchanged, so that it carries the member's own proof).
 * 0, or -1 when it answers nothing of ours. */
static int on_ack(struct fgd_members *mb, const struct fgw_view *v,
                  const struct fgw_member *m)
{
	struct fgd_member *om = &mb->mem[v->origin];
	int t;

	if (memcmp(m->target, mb->x->pk, FGW_PK_SIZE) == 0) {
		if (om->probe == 0 || m->nonce != om->probe_nonce)
			return -1;
		om->probe = 0;
		mb->ctr->acks++;
		return 0;
	}
	t = fgw_keyring_find(mb->x->kr, m->target);
	if (t < 0 || t != om->relay_to || m->nonce != om->relay_nonce ||
	    mb->mem[t].addr.len == 0)
		return -1;
	fgd_xmit_to(mb->x, &mb->mem[t].addr, v->buf, v->len);
	om->relay_to = -1;
	mb->ctr->acks_relayed++;
	return 0;
}

/* A ping-req: probe the target for the asker.  0, or -1 if it is bad. */
static int on_ping_req(struct fgd_members *mb, int o,
                       const struct fgw_member *m, uint64_t now_ms)
{
	int t = fgw_keyring_find(mb->x->kr, m->target);

	if (t < 0 || t == mb->x->self || t == o || mb->mem[t].addr.len == 0)
		return -1;
	mb->mem[t].relay_to = o;
	mb->mem[t].relay_nonce = m->nonce;
	mb->mem[t].relay_ms = now_ms;
	ping(mb, t, m->nonce, mb->x->kr->keys[o].pk);
	return 0;
}

int fgd_members_receive(struct fgd_members *mb, const struct fgw_view *v,
                        const struct fgw_member *m, const struct fgd_addr *from,
                        uint64_t now_ms)
{
	int r = -1, ours = memcmp(m->target, mb->x->pk, FGW_PK_SIZE) == 0;

	learn_addr(mb, v->origin, m, v->incarnation, v->seq);
	switch (m->kind) {
	case FGW_PING: /* to another member: ignored */
		if (ours)
			on_ping(mb, v->origin, m, from);
		r = ours ? 1 : -1;
		break;
	case FGW_SYNC: /* a digest alone: the owner's to answer */
		r = ours ? 1 : -1;
		break;
	case FGW_ACK:
		r = on_ack(mb, v, m);
		break;
	case FGW_PING_REQ:
		r = on_ping_req(mb, v->origin, m, now_ms);
		break;
	default:
		break;
	}
	if (r < 0)
		mb->ctr->member_ignored++;
	return r > 0;
}

/* -------------------------------------------------------- announcements */

int fgd_members_known(const struct fgd_members *mb, const uint8_t *buf,
                      size_t len)
{
	int i;

	if (mb->mem == NULL || buf == NULL || len != FGW_MEMBER_SIZE ||
	    buf[4] != FGW_TYPE_MEMBER)
		return 0;
	i = fgw_keyring_find(mb->x->kr, buf + 8);
	return i >= 0 && mb->mem[i].ann_len == len &&
	       memcmp(mb->mem[i].ann, buf, len) == 0;
}

enum fgw_drop fgd_members_announce(struct fgd_members *mb,
                                   const struct fgw_view *v)
{
	struct fgd_member *mm = &mb->mem[v->origin];
	struct fgw_member m;

	if (fgw_member_get(v, &m) != 0 || v->len > sizeof mm->ann)
		return FGW_MALFORMED;
	if (mm->ann_len &&
	    !newer(v->incarnation, v->seq, mm->ann_inc, mm->ann_seq))
		return FGW_OK; /* an older one, re-sent late: nothing new */
	memcpy(mm->ann, v->buf, v->len);
	mm->ann_len = v->len;
	mm->ann_inc = v->incarnation;
	mm->ann_seq = v->seq;
	mb->ctr->announces++;
	learn_addr(mb, v->origin, &m, v->incarnation, v->seq);
	return FGW_OK;
}

/* Ours to this round's destinations and to the seeds no member answered
 * from yet. */
static void announce_own(struct fgd_members *mb)
{
	struct fgw_member m = {.kind = FGW_ANNOUNCE};
	uint8_t buf[FGW_MEMBER_SIZE];
	size_t i, len;

	self_to_wire(mb, &m);
	if (m.family == 0)
		return;
	len = fgw_member_write(buf, mb->x->pk, mb->x->incarnation,
	                       ++mb->x->seq_direct, &m, mb->x->sk);
	for (i = 0; len && i < mb->ncand; i++)
		fgd_xmit_to(mb->x, mb->cand[i], buf, len);
	for (i = 0; len && i < mb->nseeds; i++)
		if (mb->seed_member[i] < 0)
			fgd_xmit_to(mb->x, &mb->seeds[i], buf, len);
}

/* FGD_ANNOUNCE_PER_ROUND of the others', round robin, each to one member
 * other than itself. */
static void announce_others(struct fgd_members *mb, uint64_t now_ms)
{
	size_t sent, tries;

	for (sent = tries = 0; sent < FGD_ANNOUNCE_PER_ROUND && tries < mb->n;
	     tries++) {
		size_t j = mb->ann_next++ % mb->n;

		if ((int)j == mb->x->self || mb->mem[j].ann_len == 0)
			continue;
		if (pick(mb, (int)j, -1, NULL, 1, now_ms) == 1)
			fgd_xmit_to(mb->x, mb->cand[0], mb->mem[j].ann,
			            mb->mem[j].ann_len);
		sent++;
	}
}

void fgd_members_tick(struct fgd_members *mb, int own, uint64_t now_ms)
{
	if (mb->started_ms == 0)
		first_round(mb, now_ms);
	/* ours first: it goes to this round's destinations (mb->cand) */
	if (own)
		announce_own(mb);
	announce_others(mb, now_ms);
	swim_step(mb, now_ms);
}
