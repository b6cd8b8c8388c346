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
 * MAC a full-mesh round carries to each member (gossip/pairwise.h).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* The full-mesh path: a MAC'd copy for the peer (keyring entry 1). */
static int seal(void *arg, const struct fgw_writer *w)
{
	uint8_t buf[FGW_MAX_SIZE];
	size_t len = fgd_xmit_seal(&((struct fgd_node *)arg)->x, 1, w, buf);

	if (len == 0)
		return 1;
	count(NULL, buf, len);
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
	int rc = 1, mac;

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
	for (mac = 0; mac < 2; mac++)
		for (a = 0; a < sizeof active / sizeof active[0]; a++) {
			struct fgd_node_params p = {.incarnation =
			                                1 + a + 10 * mac,
			                            .max_datagram = 1200,
			                            .interval_ms = 100,
			                            .npeers = 2};
			struct fgd_node n, n2;
			uint64_t t[9], u[9];
			size_t i;

			if (fgd_node_init(&n, c, &kr, sk, pk, &p) != 0)
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
				t0 = fg__now_ns();
				fgd_node_harvest(&n, r + 1);
				(void)fgd_node_emit_sealed(
				    &n, r + 1, 0, count, mac ? seal : NULL, &n);
				t[r] = fg__now_ns() - t0;
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
			    "%8s %12u %12.2f %10.1f%% %12.2f %10.1f%% %10zu "
			    "%10.1f\n",
			    mac ? "MAC" : "Ed25519", active[a], t[4] / 1e6,
			    t[4] / 1e6, u[4] / 1e6, u[4] / 1e6, sent_datagrams,
			    active[a] ? (double)sent_bytes / active[a] : 0.0);
			fgd_node_fini(&n);
			fgd_node_fini(&n2);
		}
	rc = 0;
out:
	fg_close(c);
	fg_close(c2);
	return rc;
}
