/* SPDX-License-Identifier: ISC */
/*
 * test_spread.c - the two trees a relayed datagram travels (gossip/spread.h),
 * as pure functions, and on the simulated network of sim.h.
 *
 * The properties: every member is reached from the origin through each
 * tree; one member that is silent (it takes the datagram and forwards
 * nothing) cuts nobody off; members that cannot be reached are passed over
 * and their children still reached; nothing depends on the order of the
 * keyring file; the cost is about 2 (N - 1) sends; and, on the network,
 * every node has every round in the round it is sent.
 */
#include "gossip/spread.h"
#include "tests/sim.h"

TestSuite(spread, .fini = sim_down, .timeout = 120);

#define MAXK 200

static struct fgw_peer_key kk[MAXK];

/* A keyring of @n random keys. */
static void ring(struct fgw_keyring *kr, size_t n)
{
	size_t i;

	cr_assert_geq(sodium_init(), 0);
	cr_assert_leq(n, MAXK);
	for (i = 0; i < n; i++) {
		randombytes_buf(kk[i].pk, FGW_PK_SIZE);
		snprintf(kk[i].name, sizeof kk[i].name, "k%zu", i);
	}
	kr->n = n;
	kr->keys = kk;
	kr->pw = NULL;
}

/* Reachability as a test sets it: reach[i] 1 or 0. */
static int reach_of(void *arg, int member)
{
	return ((const int *)arg)[member];
}

/*
 * Forward a datagram of batch @base of @origin from every node that gets
 * it, as members.c does: who got it (@got, per member: copies), the
 * sends in all.  Members in @silent take it and forward nothing.
 */
static size_t flood(const struct fgd_spread *s, size_t n, int origin,
                    uint64_t base, unsigned fanout, const int *reach,
                    const int *silent, int *got)
{
	int queue[MAXK * 4], out[MAXK];
	size_t head = 0, tail = 0, sends = 0, k, i;

	memset(got, 0, n * sizeof *got);
	queue[tail++] = origin;
	got[origin] = 1;
	while (head < tail) {
		int at = queue[head++];

		if (silent != NULL && silent[at])
			continue;
		k = fgd_spread_children(s, origin, base, at, fanout, reach_of,
		                        (void *)reach, out, MAXK, NULL);
		for (i = 0; i < k; i++) {
			cr_assert_neq(out[i], at, "a node sends to itself");
			cr_assert_neq(out[i], origin, "back to the origin");
			sends++;
			if (got[out[i]]++ == 0)
				queue[tail++] = out[i];
		}
	}
	return sends;
}

Test(spread, every_member_is_reached_about_twice_for_2_n_sends)
{
	static const size_t sizes[] = {2, 3, 5, 16, 17, 64, 129, 200};
	int reach[MAXK], got[MAXK];
	struct fgw_keyring kr;
	struct fgd_spread s;
	unsigned f;
	size_t z, i;

	for (i = 0; i < MAXK; i++)
		reach[i] = 1;
	for (z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
		size_t n = sizes[z];

		ring(&kr, n);
		cr_assert_eq(fgd_spread_init(&s, &kr), 0);
		for (f = 1; f <= 6; f++) {
			uint64_t base;

			for (base = 1; base < 40; base++) {
				int o = (int)(base * 7 % n);
				size_t sends =
				    flood(&s, n, o, base, f, reach, NULL, got);

				for (i = 0; i < n; i++) {
					cr_assert_geq(got[i], 1,
					              "n %zu f %u: member %zu "
					              "missed",
					              n, f, i);
					cr_assert_leq(got[i], 2,
					              "n %zu f %u: %zu got %d",
					              n, f, i, got[i]);
				}
				cr_assert_leq(sends, 2 * (n - 1));
			}
		}
		fgd_spread_fini(&s);
	}
}

Test(spread, one_silent_member_cuts_nobody_off)
{
	int reach[MAXK], got[MAXK], silent[MAXK] = {0};
	struct fgw_keyring kr;
	struct fgd_spread s;
	size_t n = 40, i;
	unsigned f;
	int x;

	for (i = 0; i < MAXK; i++)
		reach[i] = 1;
	ring(&kr, n);
	cr_assert_eq(fgd_spread_init(&s, &kr), 0);
	for (f = 2; f <= 5; f++)
		for (x = 1; x < (int)n; x++) {
			silent[x] = 1;
			(void)flood(&s, n, 0, 1000 + (uint64_t)x, f, reach,
			            silent, got);
			for (i = 0; i < n; i++)
				cr_assert_geq(got[i], 1,
				              "f %u: %d silent, %zu cut off", f,
				              x, i);
			silent[x] = 0;
		}
	fgd_spread_fini(&s);
}

Test(spread, unreachable_members_are_passed_over_and_their_children_reached)
{
	int reach[MAXK], got[MAXK];
	struct fgw_keyring kr;
	struct fgd_spread s;
	size_t n = 100, i;
	uint64_t base;

	ring(&kr, n);
	cr_assert_eq(fgd_spread_init(&s, &kr), 0);
	for (base = 1; base < 50; base++) {
		for (i = 0; i < n; i++) /* a third nobody can reach */
			reach[i] = (i + base) % 3 != 0;
		(void)flood(&s, n, 1, base, 3, reach, NULL, got);
		for (i = 0; i < n; i++) {
			if (i == 1)
				continue;
			if (reach[i])
				cr_assert_geq(got[i], 1, "%zu cut off", i);
			else
				cr_assert_eq(got[i], 0, "%zu sent to", i);
		}
	}
	fgd_spread_fini(&s);
}

Test(spread, the_order_of_the_keyring_file_does_not_matter)
{
	struct fgw_peer_key rev[MAXK];
	struct fgw_keyring kr, kr2;
	struct fgd_spread s, s2;
	int reach[MAXK], a[MAXK], b[MAXK];
	size_t n = 30, i, k, k2, j;

	for (i = 0; i < MAXK; i++)
		reach[i] = 1;
	ring(&kr, n);
	for (i = 0; i < n; i++)
		rev[i] = kk[n - 1 - i];
	kr2 = kr;
	kr2.keys = rev;
	cr_assert_eq(fgd_spread_init(&s, &kr), 0);
	cr_assert_eq(fgd_spread_init(&s2, &kr2), 0);
	for (i = 0; i < n; i++) {
		k = fgd_spread_children(&s, 3, 77, (int)i, 3, reach_of, reach,
		                        a, MAXK, NULL);
		k2 = fgd_spread_children(&s2, (int)(n - 1 - 3), 77,
		                         (int)(n - 1 - i), 3, reach_of, reach,
		                         b, MAXK, NULL);
		cr_assert_eq(k, k2);
		for (j = 0; j < k; j++)
			cr_assert_eq(a[j], (int)(n - 1) - b[j]);
	}
	fgd_spread_fini(&s);
	fgd_spread_fini(&s2);
}

Test(spread, a_node_sends_to_no_one_but_tree_children_and_at_most_the_bound)
{
	int reach[MAXK], out[MAXK];
	struct fgw_keyring kr;
	struct fgd_spread s;
	size_t n = 200, k;
	size_t passed = 0;
	int i;

	ring(&kr, n);
	cr_assert_eq(fgd_spread_init(&s, &kr), 0);
	for (i = 0; i < (int)n; i++)
		reach[i] = 0; /* nobody reachable: all passed over */
	k = fgd_spread_children(&s, 0, 5, 0, 3, reach_of, reach, out, MAXK,
	                        &passed);
	cr_expect_eq(k, 0);
	cr_expect_gt(passed, 0, "it says it could reach no one");
	cr_expect_leq(passed, 2 * FGD_SPREAD_VISIT, "the walk is bounded");
	for (i = 0; i < (int)n; i++)
		reach[i] = 1;
	k = fgd_spread_children(&s, 0, 5, 0, 3, reach_of, reach, out, 4,
	                        &passed);
	cr_expect_eq(k, 4, "at most the caller's bound");
	fgd_spread_fini(&s);
}

/* ------------------------------------------------------------ the network */

/* @n nodes, fanout 3: each of 40 consumptions, from node after node, is in
 * every live bucket at the end of the round it went out in. */
static void every_round_everywhere(int n, int silent)
{
	char key[16];
	int e, r, o;

	sim_up(n);
	net_mesh(3);
	for (r = 0; r < 3; r++)
		round_all();
	if (silent >= 0)
		S.down[silent] = 1; /* not yet suspect: still in the trees */
	for (e = 0; e < 40; e++) {
		o = e % n;
		if (o == silent)
			continue;
		snprintf(key, sizeof key, "k%d", e);
		cr_assert_eq(fg_allow(S.fg[o], "g", key, 1, NULL), 1);
		round_all();
		cr_assert(all_left(key, CAP - 1),
		          "consumption %d of node %d missed a node in its "
		          "round",
		          e, o);
	}
}

Test(spread, every_node_has_every_round_in_the_round_it_is_sent)
{
	int i;

	every_round_everywhere(MAXN, -1);
	for (i = 0; i < S.n; i++)
		cr_expect_eq(S.node[i].ctr.sync_requests, 0,
		             "node %d had to ask for a repair", i);
}

Test(spread, a_silent_node_cuts_nobody_off_on_the_network)
{
	every_round_everywhere(MAXN, 7);
}

Test(spread, a_round_goes_to_at_most_twice_fanout_members)
{
	sim_up(MAXN);
	net_mesh(3);
	round_all();
	round_all();
	S.sent_cons[0] = 0;
	cr_assert_eq(fg_allow(S.fg[0], "g", "k", 5, NULL), 1);
	fgd_node_harvest(&S.node[0], S.now);
	S.now += IV_MS;
	cr_assert_eq(fgd_node_tick(&S.node[0], S.now), 1);
	cr_expect_geq(S.sent_cons[0], 3);
	cr_expect_leq(S.sent_cons[0], 2 * 3, "its children in two trees");
	deliver_all();
	cr_expect(all_left("k", CAP - 5));
}

/* A round of 5,000 keys takes several seal groups (gossip/seal.h); relayed
 * through the trees, it is applied exactly everywhere, each node checks
 * one signature per group of it, and the whole round replayed to a node
 * debits nothing. */
Test(spread, a_large_round_costs_one_signature_check_a_group_and_never_twice)
{
	uint64_t misses[MAXN];
	size_t groups, k, nsent;
	struct pkt *sent;
	char key[16];
	int i, r;

	sim_up_cap(MAXN, 8192);
	net_mesh(3);
	for (r = 0; r < 3; r++)
		round_all();
	for (i = 0; i < S.n; i++)
		misses[i] = S.node[i].roots.misses;
	for (k = 0; k < 5000; k++) {
		snprintf(key, sizeof key, "big%zu", k);
		cr_assert_eq(fg_allow(S.fg[0], "g", key, 1, NULL), 1);
	}
	S.sent_cons[0] = 0;
	fgd_node_harvest(&S.node[0], S.now);
	S.now += IV_MS;
	groups = fgd_node_tick(&S.node[0], S.now);
	groups = (groups + FGW_GROUP_MAX - 1) / FGW_GROUP_MAX;
	cr_assert_geq(groups, 2, "more than one group");
	sent = malloc(S.nq * sizeof *sent);
	cr_assert_not_null(sent);
	for (nsent = 0, k = 0; k < S.nq; k++)
		if (S.q[k].from == 0 && S.q[k].buf[4] == FGW_TYPE_CONSUMPTION)
			sent[nsent++] = S.q[k];
	deliver_all();
	for (k = 0; k < 5000; k += 499) {
		snprintf(key, sizeof key, "big%zu", k);
		cr_assert(all_left(key, CAP - 1), "%s not everywhere", key);
	}
	for (i = 1; i < S.n; i++) {
		cr_expect_eq(
		    S.node[i].roots.misses - misses[i], groups,
		    "node %d: %llu signature checks for %zu groups", i,
		    (unsigned long long)(S.node[i].roots.misses - misses[i]),
		    groups);
		cr_expect_eq(S.node[i].ctr.drops[FGW_BADSIG], 0);
	}
	/* node 0's datagrams of the round, again, to every node: all
	 * replays, nothing debited, nothing forwarded */
	for (i = 1; i < S.n; i++)
		for (k = 0; k < nsent; k++)
			cr_assert_eq(fgd_node_receive_from(
			                 &S.node[i], sent[k].buf, sent[k].len,
			                 &S.addr[0], S.now),
			             FGW_REPLAY);
	cr_assert_eq(S.nq, 0);
	for (k = 0; k < 5000; k += 499) {
		snprintf(key, sizeof key, "big%zu", k);
		cr_assert(all_left(key, CAP - 1), "%s debited twice", key);
	}
	free(sent);
}
