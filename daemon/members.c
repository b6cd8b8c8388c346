/*
 * members.c - who the members are, where they listen, whether they live,
 * and to whom a datagram goes (see node.h).
 *
 * Addresses.  A member's address is taken only from a membership datagram
 * signed by that member (every ping, ack, ping-req and announcement names
 * the address its origin listens on), and only if it is newer, by
 * (incarnation, seq), than the one we hold: a relay, a replay or a
 * stranger cannot redirect a member's traffic.  The config's peers are
 * seeds: addresses of no known identity, sent to until a member is found
 * listening there.  Each node re-sends a few of the announcements it
 * holds every round, so a node that knows one seed learns every member.
 *
 * Fanout.  Each round's datagrams go to `fanout` members drawn at random
 * among those not suspect or dead (and the seeds not yet identified).  A
 * consumption datagram of another origin accepted for the first time, as
 * the replay window tells, goes on unchanged to `fanout` others, never to
 * its origin or to the node it came from; a duplicate is dropped by the
 * window and never forwarded.  So a datagram costs at most N x fanout
 * sends, forwarding ends, and a relay cannot alter what it forwards (the
 * origin's signature would fail).  fanout 0 is the full mesh: every
 * member, every round, and nothing forwarded.
 *
 * SWIM.  Each round one member is pinged (round robin).  No ack by the
 * next round: FGD_PING_REQ_K others are asked to ping it for us; they
 * forward its ack, signed by the member itself, so a helper cannot vouch
 * for a dead one.  No ack within 2.5 rounds and nothing heard from it for
 * FGD_SUSPECT_ROUNDS: suspect; nothing for FGD_DEAD_ROUNDS: dead (node.h
 * says why a failed probe alone is not enough: one late ack on a busy host
 * must not make a member flap).  Any fresh datagram from the member makes
 * it alive again.  Suspicion is this node's own view and is not
 * gossiped, so a member never needs to refute it (no incarnation bump).
 * A ping also carries our digest of the member pinged, which answers
 * with a repair when we are behind it (sync.c): the round robin of
 * probes is the round robin of digests.
 *
 * Bounds: one table entry per keyring entry, one probe and one pending
 * ping-req per member, a scratch array of keyring + seeds addresses.
 */
#include "daemon/members.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/sync.h"

/* ------------------------------------------------------------ addresses */

/* (family 4|6, port, 16 bytes) of @a; IPv4-mapped IPv6 counts as IPv4.
 * -1 if it is no IP address. */
static int addr_norm(const struct fgd_addr *a, uint8_t *family, uint16_t *port,
                     uint8_t addr[16])
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
	                                   0, 0, 0, 0, 0xff, 0xff};

	memset(addr, 0, 16);
	if (a->len >= sizeof(struct sockaddr_in) &&
	    a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)&a->ss;

		*family = 4;
		*port = ntohs(s->sin_port);
		memcpy(addr, &s->sin_addr, 4);
		return 0;
	}
	if (a->len >= sizeof(struct sockaddr_in6) &&
	    a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)&a->ss;

		*port = ntohs(s->sin6_port);
		if (memcmp(&s->sin6_addr, mapped, 12) == 0) {
			*family = 4;
			memcpy(addr, (const uint8_t *)&s->sin6_addr + 12, 4);
		} else {
			*family = 6;
			memcpy(addr, &s->sin6_addr, 16);
		}
		return 0;
	}
	return -1;
}

static int addr_eq(const struct fgd_addr *a, const struct fgd_addr *b)
{
	uint8_t fa, fb, xa[16], xb[16];
	uint16_t pa, pb;

	if (addr_norm(a, &fa, &pa, xa) != 0 || addr_norm(b, &fb, &pb, xb) != 0)
		return 0;
	return fa == fb && pa == pb && memcmp(xa, xb, 16) == 0;
}

static void addr_from_wire(const struct fgw_member *m, struct fgd_addr *a)
{
	memset(a, 0, sizeof *a);
	if (m->family == 4) {
		struct sockaddr_in *s = (void *)&a->ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(m->port);
		memcpy(&s->sin_addr, m->addr, 4);
		a->len = sizeof *s;
	} else if (m->family == 6) {
		struct sockaddr_in6 *s = (void *)&a->ss;

		s->sin6_family = AF_INET6;
		s->sin6_port = htons(m->port);
		memcpy(&s->sin6_addr, m->addr, 16);
		a->len = sizeof *s;
	}
}

/* Our own address into @m: none when we listen on a wildcard, which
 * names no host others could reach. */
static void self_to_wire(const struct fgd_node *n, struct fgw_member *m)
{
	m->family = 0;
	m->port = 0;
	memset(m->addr, 0, sizeof m->addr);
	if (n->self_addr.len == 0 ||
	    addr_norm(&n->self_addr, &m->family, &m->port, m->addr) != 0 ||
	    m->port == 0 ||
	    (m->family == 4 && memcmp(m->addr, "\0\0\0\0", 4) == 0) ||
	    (m->family == 6 && memcmp(m->addr, in6addr_any.s6_addr, 16) == 0)) {
		m->family = 0;
		m->port = 0;
		memset(m->addr, 0, sizeof m->addr);
	}
}

/* --------------------------------------------------------------- table */

static void cand_free(struct fgd_node *n)
{
	free(n->cand);
	free(n->cand_member);
	free(n->cand_done);
	n->cand = NULL;
	n->cand_member = NULL;
	n->cand_done = NULL;
}

/* The scratch arrays of pick(), for @size destinations.  0 or -1 (then
 * the old ones are kept). */
static int cand_alloc(struct fgd_node *n, size_t size)
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
	cand_free(n);
	n->cand = cand;
	n->cand_member = member;
	n->cand_done = done;
	return 0;
}

int fgd_members_init(struct fgd_node *n)
{
	size_t i, nm = n->kr->n ? n->kr->n : 1;

	n->mem = calloc(nm, sizeof *n->mem);
	if (n->mem == NULL || cand_alloc(n, nm) != 0)
		return -1;
	for (i = 0; i < nm; i++)
		n->mem[i].relay_to = -1;
	randombytes_buf(&n->rng, sizeof n->rng);
	n->rng |= 1;
	return 0;
}

void fgd_members_fini(struct fgd_node *n)
{
	free(n->mem);
	cand_free(n);
	free(n->seeds);
	free(n->seed_member);
	n->mem = NULL;
	n->seeds = NULL;
	n->seed_member = NULL;
	n->nseeds = 0;
	n->net_send = NULL;
}

/* Which member listens at each seed, after member @i's address changed
 * (or, with @i -1, from scratch). */
static void seeds_match(struct fgd_node *n, int i)
{
	size_t s, j;

	for (s = 0; s < n->nseeds; s++) {
		if (i < 0) {
			n->seed_member[s] = -1;
			for (j = 0; j < n->kr->n; j++)
				if (n->mem[j].addr.len &&
				    addr_eq(&n->mem[j].addr, &n->seeds[s]))
					n->seed_member[s] = (int)j;
			if (n->self >= 0 && n->self_addr.len &&
			    addr_eq(&n->self_addr, &n->seeds[s]))
				n->seed_member[s] = n->self;
		} else if (addr_eq(&n->mem[i].addr, &n->seeds[s])) {
			n->seed_member[s] = i;
		} else if (n->seed_member[s] == i) {
			n->seed_member[s] = -1;
		}
	}
}

int fgd_node_set_net(struct fgd_node *n, const struct fgd_net *net)
{
	struct fgd_addr *seeds = NULL;
	int *sm = NULL;

	if (net->nseeds) {
		seeds = calloc(net->nseeds, sizeof *seeds);
		sm = calloc(net->nseeds, sizeof *sm);
	}
	if ((net->nseeds && (seeds == NULL || sm == NULL)) ||
	    cand_alloc(n, n->kr->n + net->nseeds + 1) != 0) {
		free(seeds);
		free(sm);
		return -1;
	}
	if (net->nseeds)
		memcpy(seeds, net->seeds, net->nseeds * sizeof *seeds);
	free(n->seeds);
	free(n->seed_member);
	n->seeds = seeds;
	n->seed_member = sm;
	n->nseeds = net->nseeds;
	memset(&n->self_addr, 0, sizeof n->self_addr);
	if (net->self != NULL)
		n->self_addr = *net->self;
	n->fanout = net->fanout;
	n->net_send = net->send;
	n->net_arg = net->arg;
	seeds_match(n, -1);
	return 0;
}

unsigned fgd_fanout_auto(size_t members)
{
	return members <= FGD_FANOUT_AUTO_ALL ? 0 : FGD_FANOUT_AUTO;
}

static int newer(uint64_t inc, uint64_t seq, uint64_t inc0, uint64_t seq0)
{
	return inc > inc0 || (inc == inc0 && seq > seq0);
}

/* The address member @i signed in @m, if newer than what we hold. */
static void learn_addr(struct fgd_node *n, int i, const struct fgw_member *m,
                       uint64_t inc, uint64_t seq)
{
	struct fgd_member *mm = &n->mem[i];
	struct fgd_addr a;

	if (m->family == 0 || !newer(inc, seq, mm->addr_inc, mm->addr_seq))
		return;
	mm->addr_inc = inc;
	mm->addr_seq = seq;
	addr_from_wire(m, &a);
	if (mm->addr.len == a.len && addr_eq(&mm->addr, &a))
		return;
	mm->addr = a;
	seeds_match(n, i);
}

/* ------------------------------------------------------------- sending */

static uint64_t rnd(struct fgd_node *n)
{
	uint64_t x = n->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	n->rng = x;
	return x * UINT64_C(0x2545F4914F6CDD1D);
}

/*
 * Up to @fanout (0: all) destinations in n->cand, drawn at random among
 * the members with an address that are not suspect or dead (with fanout
 * 0, all of them), and the seeds not yet identified; never ourselves,
 * members @ex1 and @ex2, or the address @from.  Returns how many.
 */
static size_t pick(struct fgd_node *n, int ex1, int ex2,
                   const struct fgd_addr *from, unsigned fanout,
                   uint64_t now_ms)
{
	size_t k = 0, i, j;

	for (i = 0; i < n->kr->n; i++) {
		const struct fgd_member *m = &n->mem[i];
		enum fgd_peer_state st;

		if ((int)i == n->self || (int)i == ex1 || (int)i == ex2 ||
		    m->addr.len == 0 || (from && addr_eq(&m->addr, from)))
			continue;
		st = fgd_node_peer_state(n, (int)i, now_ms);
		if (fanout && (st == FGD_PEER_SUSPECT || st == FGD_PEER_DEAD))
			continue;
		n->cand_member[k] = (int)i;
		n->cand[k++] = &m->addr;
	}
	for (i = 0; i < n->nseeds; i++) {
		if (n->seed_member[i] >= 0 ||
		    (from && addr_eq(&n->seeds[i], from)))
			continue;
		n->cand_member[k] = -1;
		n->cand[k++] = &n->seeds[i];
	}
	if (fanout == 0 || k <= fanout)
		return k;
	/* A partial Fisher-Yates shuffle: the first @fanout are a uniform
	 * sample without repetition. */
	for (i = 0; i < fanout; i++) {
		const struct fgd_addr *t;

		j = i + (size_t)(rnd(n) % (k - i));
		int tm = n->cand_member[i];

		t = n->cand[i];
		n->cand[i] = n->cand[j];
		n->cand[j] = t;
		n->cand_member[i] = n->cand_member[j];
		n->cand_member[j] = tm;
	}
	return fanout;
}

static void xmit(struct fgd_node *n, const struct fgd_addr *to,
                 const uint8_t *buf, size_t len)
{
	if (n->net_send != NULL && to != NULL && to->len != 0)
		n->net_send(n->net_arg, to, buf, len);
}

void fgd_members_send(struct fgd_node *n, const struct fgd_addr *to,
                      struct fgw_member *m)
{
	uint8_t buf[FGW_MEMBER_SIZE];
	size_t len;

	self_to_wire(n, m);
	len = fgw_member_write(buf, n->pk, n->incarnation, ++n->seq_direct, m,
	                       n->sk);
	if (len == 0) {
		n->ctr.tx_errors++;
		return;
	}
	xmit(n, to, buf, len);
}

struct to_cand {
	struct fgd_node *n;
	size_t k;
};

/* The signed copy: to every candidate that got no MAC'd one. */
static void send_cand(void *arg, const uint8_t *buf, size_t len)
{
	struct to_cand *tc = arg;
	size_t i;

	for (i = 0; i < tc->k; i++)
		if (!tc->n->cand_done[i])
			xmit(tc->n, tc->n->cand[i], buf, len);
}

/* A round that goes straight to every member (fanout all): each member
 * we share keys with gets a copy with a MAC under its key, ~1.5 us
 * instead of a signature's ~20 to make and ~50 to check; seeds not yet
 * identified, and members without keys, get the signed copy. */
static int seal_cand(void *arg, const struct fgw_writer *w)
{
	struct to_cand *tc = arg;
	struct fgd_node *n = tc->n;
	uint8_t buf[FGW_MAX_SIZE];
	size_t i, len;
	int sign = 0;

	for (i = 0; i < tc->k; i++) {
		len = fgd_seal_for(n, n->cand_member[i], w, buf);
		n->cand_done[i] = len != 0;
		if (len != 0)
			xmit(n, n->cand[i], buf, len);
		else
			sign = 1;
	}
	return sign;
}

void fgd_members_forward(struct fgd_node *n, const uint8_t *buf, size_t len,
                         int origin, const struct fgd_addr *from,
                         uint64_t now_ms)
{
	size_t k, i;

	if (n->net_send == NULL || n->fanout == 0)
		return;
	k = pick(n, origin, -1, from, n->fanout, now_ms);
	for (i = 0; i < k; i++)
		xmit(n, n->cand[i], buf, len);
	n->ctr.relayed += k;
}

/* ----------------------------------------------------------------- SWIM */

static void ping(struct fgd_node *n, int i, uint64_t nonce,
                 const uint8_t *requester)
{
	struct fgw_member m = {.kind = FGW_PING, .nonce = nonce};

	memcpy(m.target, n->kr->keys[i].pk, FGW_PK_SIZE);
	if (requester != NULL)
		memcpy(m.requester, requester, FGW_PK_SIZE);
	fgd_sync_digest(n, i, &m);
	fgd_members_send(n, &n->mem[i].addr, &m);
}

/* Nothing heard from member @i (or, if never, since we started) for
 * @rounds. */
static int silent(const struct fgd_node *n, size_t i, uint64_t now_ms,
                  uint64_t rounds)
{
	uint64_t heard =
	    n->heard_ms[i] > n->started_ms ? n->heard_ms[i] : n->started_ms;

	return now_ms - heard >= rounds * fgd_interval_ms(n);
}

/* Member @i's probe: no ack by the next round, ask others to try; none
 * within 2.5 rounds, the probe failed. */
static void probe_step(struct fgd_node *n, size_t i, uint64_t now_ms)
{
	const uint64_t iv = fgd_interval_ms(n);
	struct fgd_member *m = &n->mem[i];
	size_t k, j;

	if (m->probe == 1 && now_ms - m->probe_ms >= iv / 2) {
		struct fgw_member req = {.kind = FGW_PING_REQ,
		                         .nonce = m->probe_nonce};

		memcpy(req.target, n->kr->keys[i].pk, FGW_PK_SIZE);
		k = pick(n, (int)i, -1, &m->addr, FGD_PING_REQ_K, now_ms);
		for (j = 0; j < k; j++)
			fgd_members_send(n, n->cand[j], &req);
		n->ctr.ping_reqs += k;
		m->probe = 2;
	} else if (m->probe == 2 && now_ms - m->probe_ms >= iv * 5 / 2) {
		m->probe = 0;
		if (m->swim != FGD_PEER_SUSPECT && m->swim != FGD_PEER_DEAD &&
		    silent(n, i, now_ms, FGD_SUSPECT_ROUNDS)) {
			m->swim = FGD_PEER_SUSPECT;
			m->suspect_ms = now_ms;
			n->ctr.suspected++;
		}
	}
}

static void swim_step(struct fgd_node *n, uint64_t now_ms)
{
	const uint64_t iv = fgd_interval_ms(n);
	size_t i, tries;

	if (n->started_ms == 0)
		n->started_ms = now_ms;
	for (i = 0; i < n->kr->n; i++) {
		struct fgd_member *m = &n->mem[i];

		if ((int)i == n->self)
			continue;
		if (m->relay_to >= 0 && now_ms - m->relay_ms > 3 * iv)
			m->relay_to = -1;
		probe_step(n, i, now_ms);
		if (m->swim == FGD_PEER_SUSPECT &&
		    silent(n, i, now_ms, FGD_DEAD_ROUNDS)) {
			m->swim = FGD_PEER_DEAD;
			n->ctr.declared_dead++;
		}
	}
	/* One new probe a round, round robin over the members we can reach
	 * (the dead too, so that we notice when they are back). */
	for (tries = 0; tries < n->kr->n; tries++) {
		struct fgd_member *m;

		i = n->probe_next++ % n->kr->n;
		m = &n->mem[i];
		if ((int)i == n->self || m->addr.len == 0 || m->probe != 0)
			continue;
		m->probe = 1;
		m->probe_ms = now_ms;
		m->probe_nonce = rnd(n);
		ping(n, (int)i, m->probe_nonce, NULL);
		n->ctr.pings++;
		break;
	}
}

void fgd_members_heard(struct fgd_node *n, int origin)
{
	n->mem[origin].swim = FGD_PEER_ALIVE;
}

enum fgd_peer_state fgd_members_verdict(const struct fgd_node *n, int origin)
{
	uint8_t s = n->mem[origin].swim;

	return s == FGD_PEER_SUSPECT || s == FGD_PEER_DEAD
	           ? (enum fgd_peer_state)s
	           : FGD_PEER_UNKNOWN;
}

void fgd_members_receive(struct fgd_node *n, const struct fgw_view *v,
                         const struct fgd_addr *from, uint64_t now_ms)
{
	struct fgd_member *om = &n->mem[v->origin];
	struct fgw_member m, out;
	int t;

	if (fgw_member_get(v, &m) != 0)
		return;
	learn_addr(n, v->origin, &m, v->incarnation, v->seq);
	switch (m.kind) {
	case FGW_PING:
		if (memcmp(m.target, n->pk, FGW_PK_SIZE) != 0)
			break; /* meant for another member */
		memset(&out, 0, sizeof out);
		out.kind = FGW_ACK;
		out.nonce = m.nonce;
		/* The ack names whose probe it answers: the asker's, when
		 * this ping came for a ping-req. */
		memcpy(out.target,
		       sodium_is_zero(m.requester, FGW_PK_SIZE)
		           ? n->kr->keys[v->origin].pk
		           : m.requester,
		       FGW_PK_SIZE);
		memcpy(out.requester, m.requester, FGW_PK_SIZE);
		/* To the address it signed, else to where the ping came
		 * from (it is signed and fresh: at most one ack each). */
		fgd_members_send(n, om->addr.len ? &om->addr : from, &out);
		fgd_sync_answer(n, v->origin, &m, from, now_ms);
		return;
	case FGW_SYNC:
		if (memcmp(m.target, n->pk, FGW_PK_SIZE) != 0)
			break; /* meant for another member */
		fgd_sync_answer(n, v->origin, &m, from, now_ms);
		return;
	case FGW_ACK:
		if (memcmp(m.target, n->pk, FGW_PK_SIZE) == 0) {
			if (om->probe == 0 || m.nonce != om->probe_nonce)
				break;
			om->probe = 0;
			n->ctr.acks++;
			return;
		}
		/* An ack to a ping we sent for someone's ping-req: pass it
		 * on unchanged, so that it carries the member's own proof. */
		t = fgw_keyring_find(n->kr, m.target);
		if (t < 0 || t != om->relay_to || m.nonce != om->relay_nonce ||
		    n->mem[t].addr.len == 0)
			break;
		xmit(n, &n->mem[t].addr, v->buf, v->len);
		om->relay_to = -1;
		n->ctr.acks_relayed++;
		return;
	case FGW_PING_REQ:
		t = fgw_keyring_find(n->kr, m.target);
		if (t < 0 || t == n->self || t == v->origin ||
		    n->mem[t].addr.len == 0)
			break;
		n->mem[t].relay_to = v->origin;
		n->mem[t].relay_nonce = m.nonce;
		n->mem[t].relay_ms = now_ms;
		ping(n, t, m.nonce, n->kr->keys[v->origin].pk);
		return;
	default:
		break;
	}
	n->ctr.member_ignored++;
}

/* -------------------------------------------------------- announcements */

int fgd_members_known(const struct fgd_node *n, const uint8_t *buf, size_t len)
{
	int i;

	if (n->mem == NULL || buf == NULL || len != FGW_MEMBER_SIZE ||
	    buf[4] != FGW_TYPE_MEMBER)
		return 0;
	i = fgw_keyring_find(n->kr, buf + 8);
	return i >= 0 && n->mem[i].ann_len == len &&
	       memcmp(n->mem[i].ann, buf, len) == 0;
}

enum fgw_drop fgd_members_announce(struct fgd_node *n, const struct fgw_view *v,
                                   uint64_t now_ms)
{
	struct fgd_member *mm = &n->mem[v->origin];
	struct fgw_member m;

	(void)now_ms;
	if (v->incarnation < n->replay[v->origin].incarnation)
		return FGW_STALE;
	if (fgw_member_get(v, &m) != 0 || v->len > sizeof mm->ann)
		return FGW_MALFORMED;
	if (mm->ann_len &&
	    !newer(v->incarnation, v->seq, mm->ann_inc, mm->ann_seq))
		return FGW_OK; /* an older one, re-sent late: nothing new */
	memcpy(mm->ann, v->buf, v->len);
	mm->ann_len = v->len;
	mm->ann_inc = v->incarnation;
	mm->ann_seq = v->seq;
	n->ctr.announces++;
	learn_addr(n, v->origin, &m, v->incarnation, v->seq);
	return FGW_OK;
}

/* Ours to @k candidates and to the seeds no member answered from yet;
 * then FGD_ANNOUNCE_PER_ROUND of the others', round robin, each to one
 * member other than itself. */
static void announce(struct fgd_node *n, size_t k, int own, uint64_t now_ms)
{
	struct fgw_member m = {.kind = FGW_ANNOUNCE};
	size_t i, sent, tries;

	if (own) {
		self_to_wire(n, &m);
		if (m.family != 0) {
			uint8_t buf[FGW_MEMBER_SIZE];
			size_t len =
			    fgw_member_write(buf, n->pk, n->incarnation,
			                     ++n->seq_direct, &m, n->sk);

			for (i = 0; len && i < k; i++)
				xmit(n, n->cand[i], buf, len);
			for (i = 0; len && i < n->nseeds; i++)
				if (n->seed_member[i] < 0)
					xmit(n, &n->seeds[i], buf, len);
		}
	}
	for (sent = tries = 0;
	     sent < FGD_ANNOUNCE_PER_ROUND && tries < n->kr->n; tries++) {
		size_t j = n->ann_next++ % n->kr->n;

		if ((int)j == n->self || n->mem[j].ann_len == 0)
			continue;
		if (pick(n, (int)j, -1, NULL, 1, now_ms) == 1)
			xmit(n, n->cand[0], n->mem[j].ann, n->mem[j].ann_len);
		sent++;
	}
}

size_t fgd_node_tick(struct fgd_node *n, uint64_t now_ms)
{
	struct to_cand tc = {.n = n};
	size_t sent;

	tc.k = pick(n, -1, -1, NULL, n->fanout, now_ms);
	memset(n->cand_done, 0, tc.k);
	/* Relayed rounds (fanout N) carry the origin's signature. */
	sent = fgd_node_emit_sealed(n, now_ms, 0, send_cand,
	                            n->fanout == 0 && n->pw ? seal_cand : NULL,
	                            &tc);
	/* pick() again only after: the emitter sends to n->cand */
	announce(n, tc.k,
	         n->rounds == 1 || n->rounds % FGD_HEARTBEAT_EVERY == 0,
	         now_ms);
	swim_step(n, now_ms);
	(void)fgd_sync_tick(n, now_ms);
	return sent;
}
