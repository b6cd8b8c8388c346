/* SPDX-License-Identifier: ISC */
/*
 * sim.h - a simulated network of in-process nodes, for the tests of
 * dissemination, membership and repair (test_members.c, test_sync.c).
 *
 * Each node owns a segment of its own and an address 127.0.0.1:PORT0+i
 * that is never bound: the network is this file.  It carries what
 * fgd_node_tick and fgd_node_receive_from send in waves (a wave is one
 * hop: what the previous wave's deliveries sent goes in the next), and
 * can lose (at random, or every datagram between two nodes), duplicate
 * or tamper with datagrams.  Every random generator, the nodes' and the
 * network's, is seeded with a constant, so a run is the same every time.
 * Rule "g" (global, CAP tokens, one an hour) exists on every node.
 */
#ifndef FG_TESTS_SIM_H
#define FG_TESTS_SIM_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "gossip/node.h"
#include "gossip/wire.h"
#include "lib/client.h"
#include "tests/helpers.h"

#define MAXN  20
#define CAP   1000
#define PORT0 24100
#define IV_MS 100
#define MAXQ  65536

struct pkt {
	int from, to;
	size_t len;
	uint8_t buf[FGW_MAX_SIZE];
};

static struct sim {
	int n;
	struct fgw_keyring kr;
	struct fgw_peer_key keys[MAXN + 1]; /* the last: a stranger */
	uint8_t sk[MAXN + 1][FGW_SK_SIZE];
	struct fgd_addr addr[MAXN];
	fg_client *fg[MAXN];
	struct fgd_node node[MAXN];
	int ctx[MAXN];
	int down[MAXN];           /* neither ticks nor receives */
	int cut[MAXN][MAXN];      /* from -> to dropped */
	int dup;                  /* deliver everything twice */
	unsigned loss;            /* percent of datagrams lost at random */
	unsigned seed;            /* of the loss: a run is always the same */
	int tamper_by;            /* -1, or a relay flipping a count bit */
	uint64_t sent[MAXN];      /* datagrams each node sent */
	uint64_t sent_cons[MAXN]; /* of them, consumption (type 1) */
	uint64_t sent_mac[MAXN];  /* of those, under a pairwise MAC */
	uint64_t now;
	struct pkt *q;
	size_t nq, head;
} S;

static inline const char *seg_name(int i)
{
	static char name[64];

	snprintf(name, sizeof name, "fgtest-mem%d-%d", i, (int)getpid());
	return name;
}

static inline int addr_index(const struct fgd_addr *a)
{
	const struct sockaddr_in *s = (const void *)&a->ss;
	int p;

	cr_assert_eq(a->ss.ss_family, AF_INET);
	p = ntohs(s->sin_port) - PORT0;
	cr_assert(p >= 0 && p < S.n, "port %d", p + PORT0);
	return p;
}

static inline void net_send(void *arg, const struct fgd_addr *to,
                            const uint8_t *buf, size_t len)
{
	int from = *(int *)arg, t = addr_index(to);
	struct pkt *p;

	S.sent[from]++;
	S.sent_cons[from] += len > 4 && buf[4] == 1;
	S.sent_mac[from] += len > 5 && buf[4] == 1 && (buf[5] & FGW_F_MAC);
	if (S.cut[from][t])
		return;
	cr_assert_lt(S.nq, MAXQ);
	p = &S.q[S.nq++];
	p->from = from;
	p->to = t;
	p->len = len;
	memcpy(p->buf, buf, len);
	/* A dishonest relay changes a count in what it forwards: the last
	 * byte before the seal, a key's or, with no records, a batch
	 * field's. */
	if (from == S.tamper_by && len > FGW_CONS_MIN && buf[4] == 1 &&
	    !(buf[5] & FGW_F_MAC) && fgw_seal_size(buf, len) != 0 &&
	    memcmp(buf + 8, S.keys[from].pk, FGW_PK_SIZE) != 0)
		p->buf[len - fgw_seal_size(buf, len) - 1] ^= 1;
}

/* Node @i, knowing the seeds @seeds (indices, -1 ends), fanout @f. */
static inline void net_attach(int i, const int *seeds, unsigned f)
{
	struct fgd_addr sa[MAXN];
	struct fgd_net net = {.self = &S.addr[i],
	                      .seeds = sa,
	                      .fanout = f,
	                      .send = net_send,
	                      .arg = &S.ctx[i]};
	size_t k = 0;

	for (; seeds && *seeds >= 0; seeds++)
		sa[k++] = S.addr[*seeds];
	net.nseeds = k;
	cr_assert_eq(fgd_node_set_net(&S.node[i], &net), 0);
}

/* Every node seeded with every other. */
static inline void net_mesh(unsigned f)
{
	int i, j, seeds[MAXN + 1], k;

	for (i = 0; i < S.n; i++) {
		for (k = 0, j = 0; j < S.n; j++)
			if (j != i)
				seeds[k++] = j;
		seeds[k] = -1;
		net_attach(i, seeds, f);
	}
}

static inline void sim_up_cap(int n, uint64_t capacity)
{
	fg_segment_opts o = {.capacity = capacity};
	int i;

	cr_assert_geq(sodium_init(), 0);
	cr_assert_leq(n, MAXN);
	memset(&S, 0, sizeof S);
	S.q = calloc(MAXQ, sizeof *S.q);
	cr_assert_not_null(S.q);
	S.n = n;
	S.tamper_by = -1;
	S.seed = 4242;
	S.now = 1000;
	for (i = 0; i <= n; i++) {
		crypto_sign_keypair(S.keys[i].pk, S.sk[i]);
		snprintf(S.keys[i].name, sizeof S.keys[i].name, "n%d", i);
	}
	S.kr.n = (size_t)n;
	S.kr.keys = S.keys;
	for (i = 0; i < n; i++) {
		struct sockaddr_in *s = (void *)&S.addr[i].ss;
		struct fgd_node_params p = {.incarnation = 7,
		                            .max_datagram = 1200,
		                            .interval_ms = IV_MS,
		                            .npeers = (size_t)n - 1};

		s->sin_family = AF_INET;
		s->sin_port = htons((uint16_t)(PORT0 + i));
		s->sin_addr.s_addr = htonl(0x7f000001);
		S.addr[i].len = sizeof *s;
		S.ctx[i] = i;
		fg_unlink(seg_name(i));
		cr_assert_eq(fg_create(seg_name(i), &o, 0, &S.fg[i]), 0);
		test_rule(S.fg[i], "g", CAP, 1, HOUR_MS, FG_RULE_GLOBAL);
		cr_assert_eq(fgd_node_init(&S.node[i], S.fg[i], &S.kr, S.sk[i],
		                           S.keys[i].pk, &p),
		             0);
		S.node[i].members.rng =
		    0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
	}
}

static inline void sim_up(int n)
{
	sim_up_cap(n, 256);
}

static inline void sim_down(void)
{
	int i;

	for (i = 0; i < S.n; i++) {
		fgd_node_fini(&S.node[i]);
		fg_close(S.fg[i]);
		fg_unlink(seg_name(i));
	}
	free(S.q);
	S.q = NULL;
}

/* Deliver wave after wave until nothing is in flight; returns the number
 * of waves (hops). */
static inline int deliver_all(void)
{
	int waves = 0;

	while (S.head < S.nq) {
		size_t end = S.nq;

		for (; S.head < end; S.head++) {
			struct pkt *p = &S.q[S.head];
			int k;

			if (S.down[p->to] ||
			    (S.loss &&
			     (unsigned)rand_r(&S.seed) % 100 < S.loss))
				continue;
			for (k = 0; k < (S.dup ? 2 : 1); k++)
				(void)fgd_node_receive_from(
				    &S.node[p->to], p->buf, p->len,
				    &S.addr[p->from], S.now);
		}
		waves++;
		cr_assert_lt(waves, 1000, "forwarding does not end");
	}
	S.head = S.nq = 0;
	return waves;
}

/* One round: every live node harvests and ticks, then the network
 * delivers everything.  Returns the hops that took. */
static inline int round_all(void)
{
	int i;

	S.now += IV_MS;
	for (i = 0; i < S.n; i++) {
		if (S.down[i])
			continue;
		fgd_node_harvest(&S.node[i], S.now);
		(void)fgd_node_tick(&S.node[i], S.now);
	}
	return deliver_all();
}

/* @n nodes seeded with each other, fanout @f, three rounds on: their
 * addresses and liveness have settled. */
static inline void sim_start(int n, unsigned f)
{
	int r;

	sim_up(n);
	net_mesh(f);
	for (r = 0; r < 3; r++)
		round_all();
}

static inline int64_t left_in(int i, const char *rule, const char *key)
{
	int64_t n = 0;

	cr_assert_eq(fg__peek(S.fg[i], rule, key, strlen(key), &n), 0);
	return n;
}

static inline int64_t left(int i, const char *key)
{
	return left_in(i, "g", key);
}

static inline int all_left(const char *key, int64_t want)
{
	int i;

	for (i = 0; i < S.n; i++)
		if (!S.down[i] && left(i, key) != want)
			return 0;
	return 1;
}

static inline enum fgd_peer_state state_of(int viewer, int of)
{
	return fgd_node_peer_state(&S.node[viewer], of, S.now);
}

#endif
