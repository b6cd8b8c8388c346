/* SPDX-License-Identifier: ISC */
/*
 * gossip_bench.c - what one floodgated round costs: harvesting a segment
 * and sealing the datagrams of its changed keys, and what receiving them
 * costs another node.
 *
 * A default segment (1,000,000 keys, 1,375,000 slots) with K active keys
 * of a global rule; each round every active key is consumed once by a
 * "worker" (this process), then the node harvests and emits.  A second
 * node, on a segment of its own, receives what was sent: checks each
 * datagram and debits the increases.  Prints the median times of both
 * sides and the share of one CPU they take at the default 100 ms
 * interval, for K = 0, 10,000 and 100,000 changed keys per round (0,
 * 100,000 and 1,000,000 per second), twice: datagrams sealed with Ed25519
 * (wire format 3: one signature per group of up to 64 datagrams, what
 * relayed rounds carry, gossip/seal.h), and under the pairwise MAC a
 * full-mesh round carries to each member (gossip/pairwise.h).  Then both
 * again as floodgated makes them: proved by its privileged process across
 * the socketpair (daemon/privsep.h), which this program forks (a seal
 * group's root goes there, one signature per group; a MAC'd datagram
 * whole); "send" is CPU time, this process's and (then) the prover's.
 *
 * The receive side is also given as changed keys received per second on
 * one core (K over the median receive time), next to issue 15's targets
 * (1 M sealed, 3 M MAC'd), and as ns per key next to one random memory
 * read measured in the same run (a dependent load in 256 MiB): applying
 * a key touches two places no cache holds, its mark and its bucket.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/priv.h"
#include "daemon/privsep.h"
#include "gossip/node.h"
#include "lib/client.h"
#include "shm/clock.h"
#include "shm/scan.h"

#define MAXDG 4096

static size_t sent_bytes, sent_datagrams;
static uint8_t dg[MAXDG][FGW_MAX_SIZE];
static size_t dglen[MAXDG];

static void count(void *arg, const uint8_t *buf, size_t len)
{
	(void)arg;
	if (sent_datagrams < MAXDG) {
		memcpy(dg[sent_datagrams], buf, len);
		dglen[sent_datagrams] = len;
	}
	sent_bytes += len;
	sent_datagrams++;
}

/* floodgated's way out: through xmit, which holds what it must have
 * proved elsewhere (xmit.h); in process, straight to count(). */
static const struct fgd_addr peer = {.len = 1};

static void sent_to(void *arg, const struct fgd_addr *to, const uint8_t *buf,
                    size_t len)
{
	(void)to;
	count(arg, buf, len);
}

static void out(void *arg, const uint8_t *buf, size_t len)
{
	struct fgd_node *n = arg;

	if (n->x.pend != NULL)
		fgd_xmit_to(&n->x, &peer, buf, len);
	else
		count(NULL, buf, len);
}

/* The full-mesh path: a MAC'd copy for the peer (keyring entry 1). */
static int seal(void *arg, const struct fgw_writer *w)
{
	uint8_t buf[FGW_MAX_SIZE];
	size_t len = fgd_xmit_seal(&((struct fgd_node *)arg)->x, 1, w, buf);

	if (len == 0)
		return 1;
	out(arg, buf, len);
	return 0;
}

/* CPU time, ns: ours, and that of process @pid (0: none) as the
 * scheduler counts it (/proc/PID/schedstat). */
static uint64_t cpu_ns(pid_t pid)
{
	struct timespec ts;
	unsigned long long run = 0;
	char path[64];
	FILE *f;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	if (pid > 0) {
		snprintf(path, sizeof path, "/proc/%d/schedstat", (int)pid);
		f = fopen(path, "r");
		if (f == NULL || fscanf(f, "%llu", &run) != 1)
			run = 0;
		if (f)
			fclose(f);
	}
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + run;
}

/* The privileged process: proves what comes on @fd until it closes. */
static void prover(int fd, const uint8_t *sk, const struct fgw_keyring *kr,
                   const uint8_t *pk)
{
	struct fgw_pairwise *pw = NULL;

	if (fgw_pairwise_new(kr, sk, pk, &pw) != 0)
		_exit(1);
	_exit(fgd_priv_prove_serve(fd, sk, pk, pw) == 0 ? 0 : 1);
}

/* Node @n proves across a socketpair, in a process forked for it, as
 * floodgated's network process does: *@pid that process.  0 or -1. */
static int remote_init(struct fgd_node *n, fg_client *c,
                       const struct fgw_keyring *kr, const uint8_t *sk,
                       const uint8_t *pk, struct fgd_node_params *p,
                       struct fgd_ps *ps, pid_t *pid)
{
	uint8_t rx[2 * FGW_MAC_KEY_SIZE] = {0}, lk[FGD_LEDGER_KEYBYTES];
	struct fgw_pairwise *full = NULL;
	const uint8_t *k;

	if (fgw_pairwise_new(kr, sk, pk, &full) != 0)
		return -1;
	k = fgw_pairwise_rx(full, 1);
	if (k)
		memcpy(rx + FGW_MAC_KEY_SIZE, k, FGW_MAC_KEY_SIZE);
	fgw_pairwise_free(full);
	fgd_counts_ledger_key(sk, lk);
	*pid = fgd_ps_fork(ps);
	if (*pid < 0)
		return -1;
	if (*pid == 0)
		prover(ps->fd, sk, kr, pk);
	ps->buf = malloc(FGD_MSG_MAX);
	ps->out = malloc(FGD_MSG_MAX);
	if (ps->buf == NULL || ps->out == NULL ||
	    fgw_pairwise_rx_only(kr, rx, &p->pw_rx) != 0)
		return -1;
	p->ledger_key = lk;
	p->prove = fgd_ps_prove;
	p->prove_arg = ps;
	if (fgd_node_init(n, c, kr, NULL, pk, p) != 0)
		return -1;
	n->x.send = sent_to;
	return 0;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* ns of one dependent load from a random place in 256 MiB: a cycle
 * through every slot in random order (Sattolo), so that no prefetcher
 * can guess the next. */
static double random_read_ns(void)
{
	const size_t n = (256u << 20) / sizeof(size_t);
	size_t *next = malloc(n * sizeof *next), i, j, t, p = 0,
	       steps = 2000000;
	uint64_t t0, x = UINT64_C(0x9e3779b97f4a7c15);

	if (next == NULL)
		return 0;
	for (i = 0; i < n; i++)
		next[i] = i;
	for (i = n - 1; i > 0; i--) {
		x ^= x << 13; /* xorshift64: any shuffle will do, fast */
		x ^= x >> 7;
		x ^= x << 17;
		j = (size_t)(x % i);
		t = next[i];
		next[i] = next[j];
		next[j] = t;
	}
	for (i = 0; i < steps / 4; i++) /* warm the TLB a little */
		p = next[p];
	t0 = fg__now_ns();
	for (i = 0; i < steps; i++)
		p = next[p];
	t0 = fg__now_ns() - t0;
	free(next);
	return p == (size_t)-1 ? 0 : (double)t0 / steps;
}

int main(void)
{
	static const unsigned active[] = {0, 10000, 100000};
	uint8_t pk[FGW_PK_SIZE], sk[FGW_SK_SIZE], pk2[FGW_PK_SIZE],
	    sk2[FGW_SK_SIZE];
	struct fgw_peer_key kk[2] = {{.name = "self"}, {.name = "peer"}};
	struct fgw_keyring kr = {.n = 2, .keys = kk};
	fg_rule rule = {.name = "api",
	                .capacity = 1000000,
	                .rate = 1000000,
	                .period_ms = 1000,
	                .flags = FG_RULE_GLOBAL};
	char seg[64], seg2[64], key[32];
	fg_client *c = NULL, *c2 = NULL;
	unsigned a, k, r;
	double mem_ns;
	int rc = 1, mac, mode;

	if (sodium_init() < 0)
		return 1;
	crypto_sign_keypair(pk, sk);
	crypto_sign_keypair(pk2, sk2);
	memcpy(kk[0].pk, pk, sizeof pk);
	memcpy(kk[1].pk, pk2, sizeof pk2);
	snprintf(seg, sizeof seg, "fgbench-gossip-%d", (int)getpid());
	snprintf(seg2, sizeof seg2, "fgbench-gossip2-%d", (int)getpid());
	if (fg_create(seg, NULL, FG_CREATE_REPLACE, &c) != 0 ||
	    fg_rule_set(c, &rule) != 0 ||
	    fg_create(seg2, NULL, FG_CREATE_REPLACE, &c2) != 0 ||
	    fg_rule_set(c2, &rule) != 0)
		goto out;
	(void)fg_unlink(seg);
	(void)fg_unlink(seg2);
	mem_ns = random_read_ns();
	printf("gossip_bench: one floodgated round on a default segment "
	       "(%llu slots), 1200-byte datagrams; one random memory read "
	       "here: %.0f ns\n",
	       (unsigned long long)fg__table_nslots(&c->seg.tbl), mem_ns);
	printf("%11s %10s %9s %9s %9s %9s %9s %9s %12s %7s %8s %6s\n", "auth",
	       "keys/round", "send ms", "CPU@100ms", "recv ms", "CPU@100ms",
	       "datagrams", "bytes/key", "rx keys/s/cpu", "target", "rx ns/key",
	       "/read");
	for (mode = 0; mode < 4; mode++)
		for (a = 0; a < sizeof active / sizeof active[0]; a++) {
			struct fgd_node_params p = {.incarnation =
			                                1 + a + 10 * mode,
			                            .max_datagram = 1200,
			                            .interval_ms = 100,
			                            .npeers = 2};
			struct fgd_node n, n2;
			struct fgd_ps ps = {.fd = -1};
			uint64_t t[9], u[9];
			pid_t pid = 0;
			size_t i;

			mac = mode & 1;
			if (mode < 2 &&
			    fgd_node_init(&n, c, &kr, sk, pk, &p) != 0)
				goto out;
			if (mode >= 2 &&
			    remote_init(&n, c, &kr, sk, pk, &p, &ps, &pid) != 0)
				goto out;
			if (fgd_node_init(&n2, c2, &kr, sk2, pk2, &p) != 0)
				goto out;
			for (r = 0; r < 9; r++) {
				uint64_t t0;

				for (k = 0; k < active[a]; k++) {
					snprintf(key, sizeof key, "user-%07u",
					         k);
					if (fg_allow(c, "api", key, 1, NULL) <
					    0)
						goto out;
				}
				sent_bytes = sent_datagrams = 0;
				t0 = cpu_ns(pid);
				fgd_node_harvest(&n, r + 1);
				(void)fgd_node_emit_sealed(
				    &n, r + 1, 0, out, mac ? seal : NULL, &n);
				fgd_xmit_flush(&n.x);
				t[r] = cpu_ns(pid) - t0;
				t0 = fg__now_ns();
				for (i = 0; i < sent_datagrams && i < MAXDG;
				     i++)
					(void)fgd_node_receive(&n2, dg[i],
					                       dglen[i], r + 1);
				u[r] = fg__now_ns() - t0;
			}
			qsort(t, 9, sizeof t[0], cmp);
			qsort(u, 9, sizeof u[0], cmp);
			printf(
			    "%11s %10u %9.2f %8.1f%% %9.2f %8.1f%% %9zu %9.1f",
			    (const char *[]){"sealed", "MAC", "sealed/priv",
			                     "MAC/priv"}[mode],
			    active[a], t[4] / 1e6, t[4] / 1e6, u[4] / 1e6,
			    u[4] / 1e6, sent_datagrams,
			    active[a] ? (double)sent_bytes / active[a] : 0.0);
			if (active[a] == 0)
				printf("\n");
			else
				printf(" %11.2f M %6.0f M %8.0f %6.1f\n",
				       active[a] / (u[4] / 1e9) / 1e6,
				       mac ? 3.0 : 1.0,
				       (double)u[4] / active[a],
				       (double)u[4] / active[a] / mem_ns);
			fgd_node_fini(&n);
			fgd_node_fini(&n2);
			fgd_ps_close(&ps); /* the prover sees EOF and leaves */
			if (pid > 0)
				(void)waitpid(pid, NULL, 0);
		}
	rc = 0;
out:
	fg_close(c);
	fg_close(c2);
	return rc;
}
