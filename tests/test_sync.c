/* SPDX-License-Identifier: ISC */
/*
 * test_sync.c - repair by digests (daemon/sync.c) and the floors that
 * make a count meaningful to a node that never saw it (daemon/node.c),
 * between in-process nodes on the simulated network of sim.h.
 */
#include <time.h>

#include "shm/clock.h"
#include "tests/sim.h"

TestSuite(sync, .fini = sim_down, .timeout = 120);

static void rule_on_all(const char *name, uint32_t capacity, uint32_t rate,
                        uint32_t period_ms)
{
	int i;

	for (i = 0; i < S.n; i++)
		test_rule(S.fg[i], name, capacity, rate, period_ms,
		          FG_RULE_GLOBAL);
}

/* Wait, on the real clock, until node @i's bucket is full again; the
 * rule refills in a fraction of a second. */
static void wait_full(int i, const char *rule, const char *key, int64_t cap)
{
	struct timespec ts = {0, 5000000};
	int k;

	for (k = 0; k < 400 && left_in(i, rule, key) != cap; k++)
		nanosleep(&ts, NULL);
	cr_assert_eq(left_in(i, rule, key), cap, "the bucket did not refill");
}

static int rounds_until(const char *rule, const char *key, int64_t want,
                        int max)
{
	int r, i, all;

	for (r = 0; r < max; r++) {
		for (all = 1, i = 0; i < S.n; i++)
			all &= S.down[i] || left_in(i, rule, key) == want;
		if (all)
			return r;
		round_all();
	}
	return -1;
}

/* ------------------------------------------------------------ catching up */

Test(sync, a_node_that_joins_late_gets_consumption_older_than_any_round)
{
	int r, i;

	sim_up(4);
	net_mesh(0);
	S.down[3] = 1; /* not there yet */
	cr_assert_eq(fg_allow(S.fg[0], "g", "old", 7, NULL), 1);
	for (r = 0; r < 5; r++)
		round_all();
	cr_assert_eq(left(1, "old"), CAP - 7);
	/* ten minutes later: nothing of it is sent in rounds any more */
	S.now += 600000;
	for (i = 0; i < S.n; i++)
		fgd_node_expire(&S.node[i], S.now);
	for (r = 0; r < 20; r++)
		round_all();
	S.down[3] = 0; /* it joins */
	r = rounds_until("g", "old", CAP - 7, 30);
	cr_assert_geq(r, 0, "the joiner never learned what node 0 consumed");
	cr_log_info("a joiner caught up in %d rounds", r);
	cr_expect_gt(S.node[0].ctr.repairs, 0, "by a repair");
	cr_expect_eq(S.node[3].ctr.applied, 7);
	cr_expect_eq(S.node[1].ctr.applied, 7, "and nothing twice elsewhere");
	cr_expect_eq(S.node[3].sync.o[0].have, S.node[0].counts.k->version,
	             "it holds node 0 up to its latest version");
}

Test(sync, a_joiner_is_not_charged_for_what_the_origin_bucket_forgot)
{
	int r;

	sim_up(4);
	net_mesh(0);
	rule_on_all("fast", 10, 10, 200); /* refills in 200 ms */
	S.down[3] = 1;
	cr_assert_eq(fg_allow(S.fg[0], "fast", "burst", 10, NULL), 1);
	cr_assert_eq(fg_allow(S.fg[0], "g", "owed", 7, NULL), 1);
	round_all();
	cr_assert_eq(S.node[1].ctr.applied, 17);
	wait_full(0, "fast", "burst", 10);
	for (r = 0; r < (int)FGD_ABSORB_EVERY + 1; r++)
		round_all(); /* node 0 sees its bucket full: floor = count */
	S.down[3] = 0;
	r = rounds_until("g", "owed", CAP - 7, 30);
	cr_assert_geq(r, 0, "the joiner never caught up");
	cr_expect_eq(S.node[3].ctr.applied, 7,
	             "only what still matters: %llu applied",
	             (unsigned long long)S.node[3].ctr.applied);
	cr_expect_eq(S.node[1].ctr.applied, 17, "the floor debits nothing");
}

Test(sync, a_key_the_origin_forgot_and_uses_again_costs_only_its_new_use)
{
	const struct fgd_remote *e;
	uint64_t before;
	int r;

	sim_up(2);
	net_mesh(0);
	rule_on_all("fast", 10, 10, 200);
	cr_assert_eq(fg_allow(S.fg[0], "fast", "again", 5, NULL), 1);
	round_all();
	cr_assert_eq(S.node[1].ctr.applied, 5);
	wait_full(0, "fast", "again", 10);
	/* node 1 misses the round that floors the count, and node 0 drops
	 * it before node 1 asks: node 1 still holds its mark 5 */
	S.down[1] = 1;
	for (r = 0; r < (int)FGD_ABSORB_EVERY + 1; r++)
		round_all();
	S.now += FGD_LOCAL_TTL_MS + 1000;
	fgd_node_expire(&S.node[0], S.now);
	S.down[1] = 0;
	cr_assert_null(fgd_node_count(&S.node[0], "fast", "again", 5));
	e = fgd_node_mark(&S.node[1], fgd_origin_id(&S.kr, 0), "fast", 4,
	                  "again", 5);
	cr_assert_not_null(e);
	cr_assert_eq(e->count, 5, "node 1 still holds its mark");
	before = S.node[1].ctr.applied;
	cr_assert_eq(fg_allow(S.fg[0], "fast", "again", 2, NULL), 1);
	round_all();
	cr_expect_eq(S.node[1].ctr.applied - before, 2,
	             "a count that starts again is not hidden by the old mark");
}

/* ------------------------------------------------------------ repairing */

/* Every node holds every other up to its latest version. */
static int all_caught_up(void)
{
	int i, j;

	for (i = 0; i < S.n; i++)
		for (j = 0; j < S.n; j++)
			if (i != j && S.node[i].sync.o[j].have !=
			                  S.node[j].counts.k->version)
				return 0;
	return 1;
}

Test(sync, loss_is_repaired_by_digests_not_by_resending_everything)
{
	static uint64_t consumed[200];
	uint64_t cons[MAXN], repairs = 0;
	char key[16];
	int r, i, k, bad;

	sim_up(3);
	net_mesh(0);
	S.loss = 30;
	for (r = 0; r < 50; r++) {
		for (i = 0; i < S.n; i++)
			for (k = r % 4; k < 200; k += 4) {
				snprintf(key, sizeof key, "key%d", k);
				cr_assert_eq(
				    fg_allow(S.fg[i], "g", key, 1, NULL), 1);
				consumed[k]++;
			}
		round_all();
	}
	for (r = 0; r < 100; r++) {
		for (bad = 0, k = 0; k < 200 && !bad; k++) {
			snprintf(key, sizeof key, "key%d", k);
			for (i = 0; i < S.n; i++)
				bad |=
				    left(i, key) != CAP - (int64_t)consumed[k];
		}
		if (!bad)
			break;
		round_all();
	}
	cr_assert_lt(r, 100, "30 %% loss: no agreement after 100 rounds");
	cr_log_info("30 %% loss: exact everywhere %d quiet rounds later", r);
	for (i = 0; i < S.n; i++)
		repairs += S.node[i].ctr.repairs;
	cr_expect_gt(repairs, 0, "the losses were repaired by digests");
	/* the values agree; the last repairs may still be on their way,
	 * and then nobody lacks anything */
	for (r = 0; r < 100 && !all_caught_up(); r++)
		round_all();
	cr_assert(all_caught_up(), "some node still lacks a version");
	for (i = 0; i < S.n; i++)
		cons[i] = S.sent_cons[i];
	for (r = 0; r < 20; r++)
		round_all();
	for (i = 0; i < S.n; i++)
		cr_expect_leq(S.sent_cons[i] - cons[i], 2 * 2 + 2,
		              "node %d: %llu consumption datagrams in 20 quiet "
		              "rounds: only heartbeats, no full re-sends",
		              i,
		              (unsigned long long)(S.sent_cons[i] - cons[i]));
}

Test(sync, a_large_repair_comes_in_bounded_pieces_and_resumes)
{
	const int nkeys = FGD_REPAIR_MAX + 500;
	char key[16];
	int r, k;

	sim_up_cap(2, 16384);
	net_mesh(0);
	S.down[1] = 1;
	for (k = 0; k < nkeys; k++) {
		snprintf(key, sizeof key, "k%05d", k);
		cr_assert_eq(fg_allow(S.fg[0], "g", key, 1, NULL), 1);
	}
	round_all();
	S.down[1] = 0;
	for (r = 0; r < 200 && S.node[1].ctr.applied < (uint64_t)nkeys; r++)
		round_all();
	cr_assert_eq(S.node[1].ctr.applied, (uint64_t)nkeys,
	             "%llu of %d applied after %d rounds",
	             (unsigned long long)S.node[1].ctr.applied, nkeys, r);
	cr_expect_geq(S.node[0].ctr.repairs, 2, "at most %u records a repair",
	              FGD_REPAIR_MAX);
	cr_expect_eq(S.node[1].sync.o[0].have, S.node[0].counts.k->version);
	cr_expect_eq(left(1, "k00000"), CAP - 1);
	cr_expect_eq(left(1, "k04500"), CAP - 1);
}

Test(sync, a_heartbeat_that_shows_a_gap_gets_it_repaired_at_once)
{
	sim_start(4, 0);
	cr_assert_eq(fg_allow(S.fg[0], "g", "gap", 5, NULL), 1);
	S.cut[0][1] = 1; /* node 1 misses the round with the change */
	round_all();
	S.cut[0][1] = 0;
	cr_assert_eq(left(1, "gap"), CAP);
	/* the first quiet round: a heartbeat, which shows node 1 its gap;
	 * it asks on receipt, and has the repair in the same round */
	round_all();
	cr_expect_eq(S.node[1].sync.o[0].latest, S.node[0].counts.k->version);
	cr_expect_eq(left(1, "gap"), CAP - 5,
	             "a heartbeat follows the round it lacks: no need to wait");
	cr_expect_eq(S.node[1].sync.o[0].have, S.node[0].counts.k->version);
	cr_expect_eq(S.node[1].ctr.sync_requests, 1);
}

Test(sync, a_round_that_starts_past_what_a_node_holds_is_asked_for_at_once)
{
	sim_start(4, 0);
	cr_assert_eq(fg_allow(S.fg[0], "g", "a", 5, NULL), 1);
	S.cut[0][1] = 1; /* node 1 misses the round with "a" */
	round_all();
	S.cut[0][1] = 0;
	cr_assert_eq(left(1, "a"), CAP);
	/* the next round changes "b" only; it starts at the version node 1
	 * lacks, so node 1 asks on receipt and has both in this round */
	cr_assert_eq(fg_allow(S.fg[0], "g", "b", 2, NULL), 1);
	round_all();
	cr_expect_eq(left(1, "b"), CAP - 2);
	cr_expect_eq(left(1, "a"), CAP - 5,
	             "the gap, repaired in the round "
	             "that showed it");
	cr_expect_eq(S.node[1].sync.o[0].have, S.node[0].counts.k->version);
	cr_expect_eq(S.node[1].ctr.sync_requests, 1);
}

/* A sync request signed by node @from, about node @to, as if sent now. */
static size_t sync_request(uint8_t buf[FGW_MEMBER_SIZE], int from, int to,
                           uint64_t inc, uint64_t have)
{
	struct fgw_member m = {.kind = FGW_SYNC};

	memcpy(m.target, S.keys[to].pk, FGW_PK_SIZE);
	m.digest_inc = inc;
	m.digest_have = have;
	/* the requester's own address, as fgd_members_send writes it */
	m.family = 4;
	m.port = (uint16_t)(PORT0 + from);
	m.addr[0] = 127;
	m.addr[3] = 1;
	return fgw_member_write(buf, S.keys[from].pk,
	                        S.node[from].x.incarnation,
	                        ++S.node[from].x.seq_direct, &m, S.sk[from]);
}

Test(sync, a_digest_ahead_of_what_the_origin_made_is_ignored_and_counted)
{
	uint8_t buf[FGW_MEMBER_SIZE];
	size_t len;
	int r;

	sim_up(2);
	net_mesh(0);
	cr_assert_eq(fg_allow(S.fg[0], "g", "k", 1, NULL), 1);
	for (r = 0; r < 3; r++)
		round_all();
	len = sync_request(buf, 1, 0, S.node[0].x.incarnation,
	                   S.node[0].counts.k->version + 1000);
	cr_assert_eq(len, FGW_MEMBER_SIZE);
	cr_assert_eq(
	    fgd_node_receive_from(&S.node[0], buf, len, &S.addr[1], S.now),
	    FGW_OK);
	cr_expect_eq(S.node[0].ctr.member_ignored, 1);
	cr_expect_eq(S.node[0].ctr.repairs, 0);
}

Test(sync, repairs_to_one_member_are_rate_limited)
{
	uint8_t buf[FGW_MEMBER_SIZE];
	uint64_t repairs, limited;
	size_t len;

	sim_start(2, 0);
	cr_assert_eq(fg_allow(S.fg[0], "g", "k", 1, NULL), 1);
	round_all();
	S.now += FGD_SYNC_RETRY * IV_MS; /* no repair to node 1 of late */
	repairs = S.node[0].ctr.repairs;
	limited = S.node[0].ctr.repairs_limited;
	len = sync_request(buf, 1, 0, S.node[0].x.incarnation, 0);
	(void)fgd_node_receive_from(&S.node[0], buf, len, &S.addr[1], S.now);
	cr_expect_eq(S.node[0].ctr.repairs - repairs, 1);
	len = sync_request(buf, 1, 0, S.node[0].x.incarnation, 0);
	(void)fgd_node_receive_from(&S.node[0], buf, len, &S.addr[1], S.now);
	cr_expect_eq(S.node[0].ctr.repairs - repairs, 1, "not twice a period");
	cr_expect_eq(S.node[0].ctr.repairs_limited - limited, 1);
	S.now += FGD_SYNC_RETRY * IV_MS;
	len = sync_request(buf, 1, 0, S.node[0].x.incarnation, 0);
	(void)fgd_node_receive_from(&S.node[0], buf, len, &S.addr[1], S.now);
	cr_expect_eq(S.node[0].ctr.repairs - repairs, 2,
	             "again a period later");
	deliver_all();
}

Test(sync, a_repair_answers_one_node_and_is_never_forwarded)
{
	uint8_t buf[FGW_MEMBER_SIZE];
	uint64_t relayed = 0, applied, repairs;
	size_t len;
	int r, i;

	sim_up(6);
	net_mesh(1); /* forwarding on */
	for (r = 0; r < 5; r++)
		round_all();
	cr_assert_eq(fg_allow(S.fg[0], "g", "k", 3, NULL), 1);
	cr_assert_geq(rounds_until("g", "k", CAP - 3, 40), 0);
	for (i = 0; i < S.n; i++)
		relayed += S.node[i].ctr.relayed;
	applied = S.node[2].ctr.applied;
	repairs = S.node[0].ctr.repairs;
	S.now += FGD_SYNC_RETRY * IV_MS; /* no repair to node 2 of late */
	len = sync_request(buf, 2, 0, S.node[0].x.incarnation, 0);
	(void)fgd_node_receive_from(&S.node[0], buf, len, &S.addr[2], S.now);
	cr_assert_eq(S.node[0].ctr.repairs - repairs, 1);
	deliver_all();
	for (i = 0; i < S.n; i++)
		relayed -= S.node[i].ctr.relayed;
	cr_expect_eq(relayed, 0, "nobody forwarded the repair");
	cr_expect_eq(S.node[2].ctr.applied, applied,
	             "and it debits nothing "
	             "that was already there");
}

/* ------------------------------------------------------------ batches */

static struct {
	size_t n;
	uint8_t buf[8][FGW_MAX_SIZE];
	size_t len[8];
} out;

static void capture(void *arg, const uint8_t *buf, size_t len)
{
	(void)arg;
	cr_assert_lt(out.n, 8);
	memcpy(out.buf[out.n], buf, len);
	out.len[out.n++] = len;
}

Test(sync, rounds_that_arrive_out_of_order_join_up)
{
	struct fgd_sync_origin *s;

	sim_up(2);
	out.n = 0;
	cr_assert_eq(fg_allow(S.fg[0], "g", "a", 1, NULL), 1);
	fgd_node_harvest(&S.node[0], 1);
	cr_assert_eq(fgd_node_emit(&S.node[0], 1, 0, capture, NULL), 1);
	cr_assert_eq(fg_allow(S.fg[0], "g", "b", 1, NULL), 1);
	fgd_node_harvest(&S.node[0], 2);
	cr_assert_eq(fgd_node_emit(&S.node[0], 2, 0, capture, NULL), 1);
	s = &S.node[1].sync.o[0];
	cr_assert_eq(fgd_node_receive(&S.node[1], out.buf[1], out.len[1], 3),
	             FGW_OK);
	cr_expect_eq(s->have, 0, "the second round alone leaves a gap");
	cr_expect_eq(s->latest, 2);
	cr_expect_neq(s->behind_ms, 0, "and it knows it is behind");
	cr_assert_eq(fgd_node_receive(&S.node[1], out.buf[0], out.len[0], 4),
	             FGW_OK);
	cr_expect_eq(s->have, 2, "the first fills it: both count");
	cr_expect_eq(s->behind_ms, 0);
}

Test(sync, a_new_incarnation_of_an_origin_starts_its_versions_again)
{
	struct fgd_sync_origin *s;
	struct fgd_node_params p = {.incarnation = 99,
	                            .max_datagram = 1200,
	                            .interval_ms = IV_MS,
	                            .npeers = 1};

	sim_up(2);
	out.n = 0;
	cr_assert_eq(fg_allow(S.fg[0], "g", "a", 2, NULL), 1);
	fgd_node_harvest(&S.node[0], 1);
	cr_assert_eq(fgd_node_emit(&S.node[0], 1, 0, capture, NULL), 1);
	cr_assert_eq(fgd_node_receive(&S.node[1], out.buf[0], out.len[0], 1),
	             FGW_OK);
	s = &S.node[1].sync.o[0];
	cr_assert_eq(s->have, 1);
	fgd_node_fini(&S.node[0]); /* restart: same segment */
	cr_assert_eq(fgd_node_init(&S.node[0], S.fg[0], &S.kr, S.sk[0],
	                           S.keys[0].pk, &p),
	             0);
	cr_assert_eq(fg_allow(S.fg[0], "g", "a", 1, NULL), 1);
	fgd_node_harvest(&S.node[0], 2);
	cr_assert_eq(fgd_node_emit(&S.node[0], 2, 0, capture, NULL), 1);
	cr_assert_eq(fgd_node_receive(&S.node[1], out.buf[1], out.len[1], 2),
	             FGW_OK);
	cr_expect_eq(s->inc, 99);
	cr_expect_eq(s->have, 1, "version 1 of the new life");
	cr_expect_eq(left(1, "a"), CAP - 3, "2 before the restart, 1 after");
}

/* Node @i restarts with incarnation @inc (its clock was set back, say):
 * same segment, same address, and its network attached again. */
static void restart_with(int i, uint64_t inc)
{
	struct fgd_node_params p = {.incarnation = inc,
	                            .max_datagram = 1200,
	                            .interval_ms = IV_MS,
	                            .npeers = (size_t)S.n - 1};
	int j, k = 0, seeds[MAXN + 1];

	fgd_node_fini(&S.node[i]);
	cr_assert_eq(fgd_node_init(&S.node[i], S.fg[i], &S.kr, S.sk[i],
	                           S.keys[i].pk, &p),
	             0);
	for (j = 0; j < S.n; j++)
		if (j != i)
			seeds[k++] = j;
	seeds[k] = -1;
	net_attach(i, seeds, 0);
}

Test(sync, a_node_restarted_below_its_last_incarnation_is_heard_again)
{
	uint64_t stale = 0;
	int r, i;

	sim_up(3);
	net_mesh(0);
	for (r = 0; r < 5; r++)
		round_all(); /* everyone knows node 2 as incarnation 7 */
	restart_with(2, 3);  /* a clock set back across a reboot */
	cr_assert_eq(fg_allow(S.fg[2], "g", "late", 4, NULL), 1);
	for (r = 0; r < 4 * S.n + 2 * (int)FGD_SYNC_RETRY &&
	            !all_left("late", CAP - 4);
	     r++)
		round_all();
	for (i = 0; i < 2; i++)
		stale += S.node[i].ctr.drops[FGW_STALE];
	cr_log_info("heard again after %d rounds (%llu datagrams dropped as "
	            "stale meanwhile)",
	            r, (unsigned long long)stale);
	cr_expect(all_left("late", CAP - 4),
	          "node 2's consumption never reached the others");
	cr_expect_gt(stale, 0, "its low incarnation was dropped first");
	cr_expect_eq(S.node[2].ctr.incarnations, 1, "it moved past it once");
	cr_expect_gt(S.node[2].x.incarnation, 7);
	cr_expect_leq(r, 2 * S.n + (int)FGD_SYNC_RETRY,
	              "within a probe cycle and a repair: %d rounds", r);
}

/* ------------------------------------------------------------ MACs */

Test(sync, a_full_mesh_round_goes_under_pairwise_macs)
{
	int r;

	sim_up(3);
	net_mesh(0); /* every member, every round, nothing forwarded */
	for (r = 0; r < 3; r++)
		round_all();
	cr_assert_not_null(S.node[0].x.pw, "keys derived for a small keyring");
	S.sent_cons[0] = S.sent_mac[0] = 0;
	cr_assert_eq(fg_allow(S.fg[0], "g", "k", 5, NULL), 1);
	round_all();
	cr_expect_eq(S.sent_cons[0], 2, "one datagram to each of 2 members");
	cr_expect_eq(S.sent_mac[0], 2, "both under a MAC, none signed");
	cr_expect_eq(left(1, "k"), CAP - 5);
	cr_expect_eq(left(2, "k"), CAP - 5);
	cr_expect_eq(S.node[1].ctr.drops[FGW_BADSIG], 0);
}

Test(sync, relayed_rounds_stay_signed)
{
	int i;

	sim_start(6, 2);
	for (i = 0; i < S.n; i++)
		S.sent_mac[i] = S.sent_cons[i] = 0;
	cr_assert_eq(fg_allow(S.fg[0], "g", "k", 5, NULL), 1);
	S.node[0].rounds = 1; /* not a heartbeat round */
	fgd_node_harvest(&S.node[0], S.now);
	S.now += IV_MS;
	cr_assert_eq(fgd_node_tick(&S.node[0], S.now), 1);
	cr_expect_geq(S.sent_cons[0], 2);
	cr_expect_leq(S.sent_cons[0], 4, "its children in two trees of 2");
	cr_expect_eq(S.sent_mac[0], 0, "a relay needs the origin's signature");
	deliver_all();
	cr_expect_gt(S.node[1].ctr.relayed + S.node[2].ctr.relayed +
	                 S.node[3].ctr.relayed + S.node[4].ctr.relayed +
	                 S.node[5].ctr.relayed,
	             0, "and it was relayed");
}

Test(sync, a_repair_goes_under_a_mac_to_its_requester_only)
{
	uint8_t buf[FGW_MEMBER_SIZE];
	size_t len;

	sim_start(3, 0);
	cr_assert_eq(fg_allow(S.fg[0], "g", "k", 3, NULL), 1);
	round_all();
	S.now += FGD_SYNC_RETRY * IV_MS;
	S.sent_mac[0] = 0;
	len = sync_request(buf, 1, 0, S.node[0].x.incarnation, 0);
	(void)fgd_node_receive_from(&S.node[0], buf, len, &S.addr[1], S.now);
	cr_expect_eq(S.sent_mac[0], 1);
	cr_assert_eq(S.nq, 1);
	cr_expect_eq(S.q[0].to, 1);
	cr_expect_eq(fgd_node_receive_from(&S.node[1], S.q[0].buf, S.q[0].len,
	                                   &S.addr[0], S.now),
	             FGW_OK, "its requester takes it");
	cr_expect_eq(fgd_node_receive_from(&S.node[2], S.q[0].buf, S.q[0].len,
	                                   &S.addr[0], S.now),
	             FGW_BADSIG, "another member cannot check it");
	S.nq = S.head = 0;
}
