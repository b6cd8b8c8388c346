/*
 * gossip_bench.c - what one floodgated round costs: harvesting a segment
 * and signing the datagrams of its changed keys.
 *
 * A default segment (1,000,000 keys, 1,375,000 slots) with K active keys
 * of a global rule; each round every active key is consumed once by a
 * "worker" (this process), then the node harvests and emits, signing
 * with Ed25519.  A second node, on a segment of its own, receives what
 * was sent: verifies each signature and debits the increases.  Prints
 * the median times of both sides and the share of one CPU they take at
 * the default 100 ms interval, for K = 0, 10,000 and 100,000 changed keys
 * per round (0, 100,000 and 1,000,000 per second), twice: datagrams
 * signed with Ed25519 (what relayed rounds carry), and under the pairwise
 * MAC a full-mesh round carries to each member (gossip/pairwise.h).  Then
 * both again as floodgated makes them: proved by its privileged process
 * across the socketpair (daemon/privsep.h), which this program forks;
 * "send" is CPU time, this process's and (then) the prover's.
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
	static uint8_t req[FGD_MSG_MAX], proofs[FGD_MSG_MAX];
	struct fgw_pairwise *pw = NULL;
	uint32_t type;
	ssize_t n;

	if (fgw_pairwise_new(kr, sk, pk, &pw) != 0)
		_exit(1);
	while ((n = fgd_msg_recv(fd, &type, req)) >= 0) {
		n = type == FGD_MSG_PROVE
		        ? fgd_priv_prove(req, (size_t)n, sk, pw, proofs,
		                         sizeof proofs)
		        : -1;
		if (n < 0 || fgd_msg_send(fd, FGD_MSG_PROOFS, proofs, (size_t)n,
		                          NULL, 0) != 0)
			_exit(1);
	}
	_exit(0);
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
	printf("gossip_bench: one floodgated round on a default segment "
	       "(%llu slots), 1200-byte datagrams\n",
	       (unsigned long long)fg__table_nslots(&c->seg.tbl));
	printf("%8s %12s %12s %11s %12s %11s %10s %10s\n", "auth", "keys/round",
	       "send (ms)", "CPU@100ms", "receive (ms)", "CPU@100ms",
	       "datagrams", "bytes/key");
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
			printf("%8s %12u %12.2f %10.1f%% %12.2f %10.1f%% %10zu "
			       "%10.1f\n",
			       (const char *[]){"Ed25519", "MAC", "Ed/priv",
			                        "MAC/priv"}[mode],
			       active[a], t[4] / 1e6, t[4] / 1e6, u[4] / 1e6,
			       u[4] / 1e6, sent_datagrams,
			       active[a] ? (double)sent_bytes / active[a]
			                 : 0.0);
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
