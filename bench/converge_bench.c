/*
 * converge_bench.c - how fast consumption spreads through a cluster that
 * gossips with fanout and relaying, as the number of nodes grows.
 *
 * N in-process nodes (10, 100, 1000), each with a small segment of its
 * own and a global rule, on a simulated network (as tests/test_members.c):
 * every datagram is really signed and really verified, so the CPU time
 * is what the cluster's Ed25519 work costs on one core.  Each node starts
 * knowing every member's address, as after discovery (tests/test_members.c
 * measures that), and announces its own as the daemon does by default, so
 * SWIM runs too: its pings carry the digests that repairs answer
 * (daemon/sync.c).
 *
 * Per N and fanout: K = min(N, 10) origins each consume once a round for
 * R rounds, then the cluster runs until every node holds the exact total
 * of every origin.  Printed: the share of nodes a single round's datagram
 * reached through forwarding (coverage; the rest are repaired by the next
 * count, or by a repair once they learn they lack a version), the
 * rounds after the last consumption until all nodes agree, the hops a
 * round's forwarding took, datagrams sent per node per round, and the
 * CPU time of one simulated round (all N nodes on this one core).
 *
 *   make bench   (or bench/converge_bench [N...])
 */
#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gossip/node.h"
#include "lib/client.h"
#include "shm/clock.h"

#define IV_MS  100
#define PORT0  30000
#define ROUNDS 10

struct pkt {
	int from, to;
	size_t len;
	uint8_t buf[FGW_MAX_SIZE];
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
	uint64_t sent, now;
	int oom;
} B;

static void net_send(void *arg, const struct fgd_addr *to, const uint8_t *buf,
                     size_t len)
{
	const struct sockaddr_in *s = (const void *)&to->ss;
	struct pkt *p;

	B.sent++;
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
	p->from = *(int *)arg;
	p->to = ntohs(s->sin_port) - PORT0;
	p->len = len;
	memcpy(p->buf, buf, len);
}

/* Deliver until nothing is in flight; the number of hops. */
static int deliver_all(void)
{
	int waves = 0;

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
		waves++;
	}
	B.head = B.nq = 0;
	return waves;
}

static int cluster_up(int n, unsigned fanout)
{
	fg_segment_opts o = {.capacity = 64};
	fg_rule rule = {.name = "g",
	                .capacity = 1000,
	                .rate = 1,
	                .period_ms = 3600000,
	                .flags = FG_RULE_GLOBAL};
	char seg[64];
	int i, j;

	memset(&B, 0, sizeof B);
	B.n = n;
	B.now = 1000;
	B.keys = calloc((size_t)n, sizeof *B.keys);
	B.sk = calloc((size_t)n, sizeof *B.sk);
	B.addr = calloc((size_t)n, sizeof *B.addr);
	B.fg = calloc((size_t)n, sizeof *B.fg);
	B.node = calloc((size_t)n, sizeof *B.node);
	B.ctx = calloc((size_t)n, sizeof *B.ctx);
	if (!B.keys || !B.sk || !B.addr || !B.fg || !B.node || !B.ctx)
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
	for (i = 0; i < n; i++) {
		struct fgd_node_params p = {.incarnation = 1,
		                            .max_datagram = 1200,
		                            .interval_ms = IV_MS,
		                            .npeers = (size_t)n - 1};
		struct fgd_net net = {.self = &B.addr[i],
		                      .fanout = fanout,
		                      .send = net_send,
		                      .arg = &B.ctx[i]};

		snprintf(seg, sizeof seg, "fgbench-conv%d-%d", i,
		         (int)getpid());
		if (fg_create(seg, &o, FG_CREATE_REPLACE, &B.fg[i]) != 0)
			return -1;
		(void)fg_unlink(seg); /* the mapping stays: nothing to clean */
		if (fg_rule_set(B.fg[i], &rule) != 0 ||
		    fgd_node_init(&B.node[i], B.fg[i], &B.kr, B.sk[i],
		                  B.keys[i].pk, &p) != 0 ||
		    fgd_node_set_net(&B.node[i], &net) != 0)
			return -1;
		/* discovery done: every member's address known */
		for (j = 0; j < n; j++)
			if (j != i)
				B.node[i].members.mem[j].addr = B.addr[j];
		B.node[i].members.rng =
		    0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
	}
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
	free(B.q);
}

/* Nodes whose bucket shows all @total consumed, of the N. */
static int agreeing(int64_t total)
{
	int i, ok = 0;

	for (i = 0; i < B.n; i++) {
		int64_t left = 0;

		if (fg__peek(B.fg[i], "g", "k", 1, &left) == 0 &&
		    left == 1000 - total)
			ok++;
	}
	return ok;
}

/* CPU time of this process: the machine may be shared, and it is the
 * signing and verifying that is measured. */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int run(int n, unsigned fanout)
{
	int origins = n < 10 ? n : 10, i, r, hops = 0, more = 0, maxhops = 0;
	uint64_t t0, cpu = 0, sent0;
	double coverage = 0;
	int64_t total = 0;
	char f[16];

	if (cluster_up(n, fanout) != 0) {
		fprintf(stderr, "converge_bench: cannot set up %d nodes\n", n);
		cluster_down();
		return -1;
	}
	/* a round that is not a full sync, whatever the phase */
	sent0 = B.sent;
	for (r = 0; r < ROUNDS; r++) {
		int64_t before = total;

		B.now += IV_MS;
		t0 = cpu_ns();
		for (i = 0; i < origins; i++) {
			if (fg_allow(B.fg[i], "g", "k", 1, NULL) != 1)
				return -1;
			total++;
		}
		for (i = 0; i < n; i++) {
			fgd_node_harvest(&B.node[i], B.now);
			(void)fgd_node_tick(&B.node[i], B.now);
		}
		hops = deliver_all();
		cpu += cpu_ns() - t0;
		if (hops > maxhops)
			maxhops = hops;
		/* coverage of this round: nodes that hold every count so far
		 * (the repair of earlier misses counts too) */
		coverage += (double)agreeing(total) / n;
		(void)before;
	}
	while (agreeing(total) < n && more < 3 * (int)FGD_HEARTBEAT_EVERY) {
		B.now += IV_MS;
		t0 = cpu_ns();
		for (i = 0; i < n; i++) {
			fgd_node_harvest(&B.node[i], B.now);
			(void)fgd_node_tick(&B.node[i], B.now);
		}
		(void)deliver_all();
		cpu += cpu_ns() - t0;
		more++;
	}
	snprintf(f, sizeof f, fanout ? "%u" : "all", fanout);
	printf("%6d %10s %9.1f%% %14d %7d %17.1f %12.1f %s\n", n, f,
	       100.0 * coverage / ROUNDS, more, maxhops,
	       (double)(B.sent - sent0) / n / (ROUNDS + more),
	       cpu / 1e6 / (ROUNDS + more),
	       agreeing(total) == n ? "" : "(did not converge)");
	cluster_down();
	return B.oom ? -1 : 0;
}

int main(int argc, char **argv)
{
	static const int sizes[] = {10, 100, 1000};
	int i, rc = 0;

	if (sodium_init() < 0)
		return 1;
	printf("converge_bench: %d origins (at most) consume every %d ms round "
	       "for %d rounds; signatures and MACs are real, one core\n",
	       10, IV_MS, ROUNDS);
	printf("%6s %10s %10s %14s %7s %16s %12s\n", "nodes", "fanout",
	       "coverage", "rounds-after", "hops", "datagrams/node/rd",
	       "CPU ms/round");
	if (argc > 1) {
		for (i = 1; i < argc; i++)
			rc |= run(atoi(argv[i]), 3);
		return rc ? 1 : 0;
	}
	rc |= run(10, 0);
	for (i = 0; i < (int)(sizeof sizes / sizeof sizes[0]); i++)
		rc |= run(sizes[i], 3);
	rc |= run(100, 5);
	return rc ? 1 : 0;
}
