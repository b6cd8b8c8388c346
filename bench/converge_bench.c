/* SPDX-License-Identifier: ISC */
/*
 * converge_bench.c - how many rounds a consumption takes to reach every
 * node, by dissemination design and cluster size, on a simulated network.
 *
 * N in-process nodes, each with a small segment of its own and a global
 * rule "g", exchange datagrams through a queue (as tests/sim.h): every
 * datagram is really signed or MAC'd and really checked, so the CPU time
 * is what the cluster's crypto and bookkeeping cost on one core.  Each
 * node starts knowing every member's address, as after discovery
 * (tests/test_discovery.c measures that), and announces its own, so SWIM
 * runs too: its pings carry the digests that repairs answer (sync.c).
 *
 * A round: every node harvests and ticks (gossip/node.h), then the network
 * delivers wave after wave until nothing is in flight (a wave is a hop:
 * relays forward on receipt, in well under a round on any LAN).  With
 * -l PCT every datagram is lost with that chance (a fixed seed: a run is
 * the same every time).
 *
 * Events: after 3 rounds of warm-up, for R rounds (-r, default 40), E =
 * min(N, 5) nodes drawn at random each consume one token of a new key just
 * before the round.  An event's figure is the number of rounds until every
 * node's bucket shows it, the round it was sent in counted as 1: 1 is "in
 * the round it went out", 2 "the round after" (a node that missed it learnt
 * of its gap and got a repair).  After the R rounds the cluster runs until
 * every event is everywhere, 60 rounds at most ("lost" counts the others).
 *
 * Printed per design and N: p50, p90, p99 and max of the events' rounds
 * (nearest rank); the target log2(N) + 2 (2 up to 16 nodes, issue 15);
 * datagrams and bytes each node sent per round (mean, and the most one
 * node sent in one round: the bound); and the CPU time per node per round,
 * next to one Ed25519 verification measured in the same run (the unit of
 * a relayed datagram's cost), as a ratio.
 *
 * Designs (-d): "trees" (the default: gossip/spread.h, arity = fanout),
 * "random" (fanout random members, infect and die: the design before the
 * trees) and "mesh" (fanout all: every origin sends a MAC'd copy to every
 * member, nothing is relayed).  -f sets the fanout of trees and random.
 *
 *   make bench   (the comparison of BENCHMARKS.md)
 *   bench/converge_bench [-d DESIGN] [-f F] [-l PCT] [-r R] [N...]
 */
#include <arpa/inet.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gossip/node.h"
#include "lib/client.h"
#include "shm/clock.h"

#define IV_MS      100
#define PORT0      30000
#define CAP        1000
#define WARM       3
#define DRAIN_MAX  60
#define LOST       UINT32_MAX
#define EVENTS_MAX 5

enum design { TREES, RANDOM, MESH };
static const char *const design_name[] = {"trees", "random", "mesh"};

struct pkt {
	int from, to;
	size_t len;
	uint8_t buf[FGW_MAX_SIZE];
};

struct event {
	int origin;
	uint32_t start; /* the round it went out in */
	uint32_t rounds;
};

static struct {
	int n;
	struct fgw_keyring kr;
	struct fgw_peer_key *keys;
	uint8_t (*sk)[FGW_SK_SIZE];
	struct fgd_addr *addr;
	fg_client **fg;
	struct fgd_node *node;
	int *ctx;
	struct pkt *q;
	size_t nq, qcap, head;
	uint64_t sent, bytes, now;
	uint64_t *round_sent; /* per node, this round */
	uint64_t max_sent;    /* the most one node sent in one round */
	unsigned loss;        /* percent */
	unsigned seed;
	int oom;
} B;

static void net_send(void *arg, const struct fgd_addr *to, const uint8_t *buf,
                     size_t len)
{
	const struct sockaddr_in *s = (const void *)&to->ss;
	int from = *(int *)arg;
	struct pkt *p;

	B.sent++;
	B.bytes += len;
	B.round_sent[from]++;
	if (B.loss && (unsigned)rand_r(&B.seed) % 100 < B.loss)
		return;
	if (B.nq == B.qcap) {
		size_t nc = B.qcap ? 2 * B.qcap : 4096;
		struct pkt *nq = realloc(B.q, nc * sizeof *nq);

		if (nq == NULL) {
			B.oom = 1;
			return;
		}
		B.q = nq;
		B.qcap = nc;
	}
	p = &B.q[B.nq++];
	p->from = from;
	p->to = ntohs(s->sin_port) - PORT0;
	p->len = len;
	memcpy(p->buf, buf, len);
}

/* Deliver until nothing is in flight. */
static void deliver_all(void)
{
	while (B.head < B.nq) {
		size_t end = B.nq;

		for (; B.head < end; B.head++) {
			/* a copy: forwarding may grow (move) the queue */
			static struct pkt p;

			p = B.q[B.head];
			if (p.to >= 0 && p.to < B.n)
				(void)fgd_node_receive_from(
				    &B.node[p.to], p.buf, p.len,
				    &B.addr[p.from], B.now);
		}
	}
	B.head = B.nq = 0;
}

static int node_up(int i, enum design d, unsigned fanout)
{
	fg_segment_opts o = {.capacity = 1024};
	fg_rule rule = {.name = "g",
	                .capacity = CAP,
	                .rate = 1,
	                .period_ms = 3600000,
	                .flags = FG_RULE_GLOBAL};
	struct fgd_node_params p = {.incarnation = 1,
	                            .max_datagram = 1200,
	                            .interval_ms = IV_MS,
	                            .npeers = (size_t)B.n - 1};
	struct fgd_net net = {.self = &B.addr[i],
	                      .fanout = d == MESH ? 0 : fanout,
	                      .send = net_send,
	                      .arg = &B.ctx[i]};
	char seg[64];
	int j;

#ifdef FGD_SPREAD_VISIT /* absent before the trees: -d random is all */
	net.random_push = d == RANDOM;
#endif
	snprintf(seg, sizeof seg, "fgbench-conv%d-%d", i, (int)getpid());
	if (fg_create(seg, &o, FG_CREATE_REPLACE, &B.fg[i]) != 0)
		return -1;
	(void)fg_unlink(seg); /* the mapping stays: nothing to clean */
	if (fg_rule_set(B.fg[i], &rule) != 0 ||
	    fgd_node_init(&B.node[i], B.fg[i], &B.kr, B.sk[i], B.keys[i].pk,
	                  &p) != 0 ||
	    fgd_node_set_net(&B.node[i], &net) != 0)
		return -1;
	/* discovery done: every member's address known */
	for (j = 0; j < B.n; j++)
		if (j != i)
			B.node[i].members.mem[j].addr = B.addr[j];
	B.node[i].members.rng = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
	return 0;
}

static int cluster_up(int n, enum design d, unsigned fanout, unsigned loss)
{
	int i;

	memset(&B, 0, sizeof B);
	B.n = n;
	B.now = 1000;
	B.loss = loss;
	B.seed = 4242;
	B.keys = calloc((size_t)n, sizeof *B.keys);
	B.sk = calloc((size_t)n, sizeof *B.sk);
	B.addr = calloc((size_t)n, sizeof *B.addr);
	B.fg = calloc((size_t)n, sizeof *B.fg);
	B.node = calloc((size_t)n, sizeof *B.node);
	B.ctx = calloc((size_t)n, sizeof *B.ctx);
	B.round_sent = calloc((size_t)n, sizeof *B.round_sent);
	if (!B.keys || !B.sk || !B.addr || !B.fg || !B.node || !B.ctx ||
	    !B.round_sent)
		return -1;
	for (i = 0; i < n; i++) {
		struct sockaddr_in *s = (void *)&B.addr[i].ss;

		crypto_sign_keypair(B.keys[i].pk, B.sk[i]);
		s->sin_family = AF_INET;
		s->sin_port = htons((uint16_t)(PORT0 + i));
		s->sin_addr.s_addr = htonl(0x7f000001);
		B.addr[i].len = sizeof *s;
		B.ctx[i] = i;
	}
	B.kr.n = (size_t)n;
	B.kr.keys = B.keys;
	for (i = 0; i < n; i++)
		if (node_up(i, d, fanout) != 0)
			return -1;
	return 0;
}

static void cluster_down(void)
{
	int i;

	for (i = 0; i < B.n; i++) {
		if (B.node[i].fg)
			fgd_node_fini(&B.node[i]);
		if (B.fg[i])
			fg_close(B.fg[i]);
	}
	free(B.keys);
	free(B.sk);
	free(B.addr);
	free(B.fg);
	free(B.node);
	free(B.ctx);
	free(B.round_sent);
	free(B.q);
}

/* CPU time of this process: the machine may be shared, and it is the
 * signing and verifying that is measured. */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One round of every node, and its deliveries. */
static void round_all(void)
{
	int i;

	B.now += IV_MS;
	memset(B.round_sent, 0, (size_t)B.n * sizeof *B.round_sent);
	for (i = 0; i < B.n; i++) {
		fgd_node_harvest(&B.node[i], B.now);
		(void)fgd_node_tick(&B.node[i], B.now);
	}
	deliver_all();
	for (i = 0; i < B.n; i++)
		if (B.round_sent[i] > B.max_sent)
			B.max_sent = B.round_sent[i];
}

static void key_of(size_t e, char key[24])
{
	snprintf(key, 24, "e%zu", e);
}

/* Whether every node's bucket shows event @e's token. */
static int everywhere(size_t e)
{
	char key[24];
	int i;

	key_of(e, key);
	for (i = 0; i < B.n; i++) {
		int64_t left = 0;

		if (fg__peek(B.fg[i], "g", key, strlen(key), &left) != 0 ||
		    left != CAP - 1)
			return 0;
	}
	return 1;
}

/* Events still on their way that arrived everywhere by round @r. */
static size_t settle(struct event *ev, size_t nev, uint32_t r)
{
	size_t e, open = 0;

	for (e = 0; e < nev; e++) {
		if (ev[e].rounds != LOST)
			continue;
		if (everywhere(e))
			ev[e].rounds = r - ev[e].start + 1;
		else
			open++;
	}
	return open;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest rank of the sorted @v. */
static void put_rank(const uint32_t *v, size_t n, double q)
{
	size_t r = (size_t)ceil(q * (double)n);

	r = r < 1 ? 1 : r;
	if (v[r - 1] == LOST)
		printf(" %5s", "lost");
	else
		printf(" %5u", v[r - 1]);
}

/* Median microseconds of CPU time of an Ed25519 verification of a
 * 1200-byte message: the unit the CPU figure is put next to. */
static double verify_us(void)
{
	uint8_t pk[32], sk[64], msg[1200], sig[64];
	double t[15];
	int i, j;

	crypto_sign_keypair(pk, sk);
	randombytes_buf(msg, sizeof msg);
	crypto_sign_detached(sig, NULL, msg, sizeof msg, sk);
	for (i = 0; i < 15; i++) {
		uint64_t t0 = cpu_ns();

		for (j = 0; j < 20; j++)
			if (crypto_sign_verify_detached(sig, msg, sizeof msg,
			                                pk) != 0)
				return -1;
		t[i] = (cpu_ns() - t0) / 20e3;
	}
	for (i = 1; i < 15; i++)
		for (j = i; j > 0 && t[j] < t[j - 1]; j--) {
			double x = t[j];

			t[j] = t[j - 1];
			t[j - 1] = x;
		}
	return t[7];
}

struct opts {
	enum design d;
	unsigned fanout, loss, rounds;
};

static void print_row(int n, const struct opts *o, uint32_t *r, size_t nev,
                      uint32_t rounds, double cpu_ms, double vus)
{
	double target = n <= 16 ? 2 : log2(n) + 2;
	char f[16];

	qsort(r, nev, sizeof *r, cmp_u32);
	snprintf(f, sizeof f, o->d == MESH ? "all" : "%u", o->fanout);
	printf("%6s %5d %6s %4u%%", design_name[o->d], n, f, o->loss);
	put_rank(r, nev, 0.5);
	put_rank(r, nev, 0.9);
	put_rank(r, nev, 0.99);
	put_rank(r, nev, 1.0);
	printf(" %6.1f %8.1f %7llu %9.0f %9.3f %9.1f\n", target,
	       (double)B.sent / n / rounds, (unsigned long long)B.max_sent,
	       (double)B.bytes / n / rounds, cpu_ms / n / rounds,
	       cpu_ms * 1000 / n / rounds / vus);
	fflush(stdout);
}

static int run(int n, const struct opts *o, double vus)
{
	size_t nev = 0, e, cap = (size_t)o->rounds * EVENTS_MAX, per;
	struct event *ev = calloc(cap, sizeof *ev);
	uint32_t *r = calloc(cap, sizeof *r), round;
	uint64_t sent0, bytes0, cpu = 0, t0;
	int ok = ev && r && cluster_up(n, o->d, o->fanout, o->loss) == 0;
	unsigned rs = 77;

	per = (size_t)(n < EVENTS_MAX ? n : EVENTS_MAX);
	for (round = 0; ok && round < WARM; round++)
		round_all();
	sent0 = B.sent;
	bytes0 = B.bytes;
	B.max_sent = 0;
	for (round = 1;
	     ok && (round <= o->rounds || (settle(ev, nev, round - 1) != 0 &&
	                                   round <= o->rounds + DRAIN_MAX));
	     round++) {
		char key[24];

		for (e = 0; round <= o->rounds && e < per; e++, nev++) {
			ev[nev].origin = rand_r(&rs) % n;
			ev[nev].start = round;
			ev[nev].rounds = LOST;
			key_of(nev, key);
			ok &= fg_allow(B.fg[ev[nev].origin], "g", key, 1,
			               NULL) == 1;
		}
		t0 = cpu_ns();
		round_all();
		cpu += cpu_ns() - t0;
		if (round <= o->rounds)
			(void)settle(ev, nev, round);
	}
	if (ok) {
		B.sent -= sent0;
		B.bytes -= bytes0;
		for (e = 0; e < nev; e++)
			r[e] = ev[e].rounds;
		print_row(n, o, r, nev, round - 1, cpu / 1e6, vus);
	} else {
		fprintf(stderr, "converge_bench: %d nodes failed\n", n);
	}
	ok &= !B.oom;
	cluster_down();
	free(ev);
	free(r);
	return ok ? 0 : -1;
}

static void header(double vus)
{
	printf("converge_bench: simulated network, %d ms rounds, every "
	       "datagram really signed or MAC'd and checked on one core; "
	       "one Ed25519 verification here: %.1f us\n",
	       IV_MS, vus);
	printf("%6s %5s %6s %5s %5s %5s %5s %5s %6s %8s %7s %9s %9s %9s\n",
	       "design", "nodes", "fanout", "loss", "p50", "p90", "p99", "max",
	       "target", "dg/nd/rd", "dg max", "B/nd/rd", "CPU ms/nd",
	       "/verify");
}

/* The comparison of BENCHMARKS.md. */
static int compare(double vus)
{
	static const int sizes[] = {3, 8, 16, 32, 64, 128, 1000};
	struct opts o = {.fanout = 3, .rounds = 40};
	int rc = 0;
	size_t i;

	for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		for (o.d = TREES; o.d <= MESH; o.d++)
			if (o.d != MESH || sizes[i] <= 128)
				rc |= run(sizes[i], &o, vus);
	}
	o.loss = 10;
	for (o.d = TREES; o.d <= MESH; o.d++) {
		rc |= run(16, &o, vus);
		rc |= run(128, &o, vus);
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o = {.fanout = 3, .rounds = 40};
	double vus;
	int c, rc = 0;

	if (sodium_init() < 0)
		return 1;
	while ((c = getopt(argc, argv, "d:f:l:r:")) != -1) {
		switch (c) {
		case 'd':
			for (o.d = TREES; o.d <= MESH; o.d++)
				if (strcmp(optarg, design_name[o.d]) == 0)
					break;
			if (o.d > MESH)
				return 2;
			break;
		case 'f':
			o.fanout = (unsigned)atoi(optarg);
			break;
		case 'l':
			o.loss = (unsigned)atoi(optarg);
			break;
		case 'r':
			o.rounds = (unsigned)atoi(optarg);
			break;
		default:
			fprintf(stderr,
			        "usage: %s [-d trees|random|mesh] "
			        "[-f F] [-l PCT] [-r R] [N...]\n",
			        argv[0]);
			return 2;
		}
	}
	vus = verify_us();
	header(vus);
	if (optind == argc)
		return compare(vus) ? 1 : 0;
	for (; optind < argc; optind++)
		rc |= run(atoi(argv[optind]), &o, vus);
	return rc ? 1 : 0;
}
