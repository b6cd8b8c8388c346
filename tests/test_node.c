/* SPDX-License-Identifier: ISC */
/*
 * test_node.c - gossip semantics between nodes, in one process: each node
 * owns a segment of its own, and the test carries datagrams between them,
 * losing, duplicating, reordering and tampering with them at will.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>

#include "gossip/node.h"
#include "gossip/wire.h"
#include "lib/client.h"
#include "shm/clock.h"
#include "shm/gcra.h"
#include "shm/hash.h"
#include "tests/helpers.h"

#define NNODES 3
#define CAP    10

struct outbox {
	size_t n;
	uint8_t buf[4096][FGW_MAX_SIZE];
	size_t len[4096];
};

static struct world {
	struct fgw_keyring kr;
	struct fgw_peer_key keys[NNODES + 1]; /* the last: a stranger */
	uint8_t sk[NNODES + 1][FGW_SK_SIZE];
	fg_client *fg[NNODES];
	struct fgd_node node[NNODES];
	struct outbox out;
} W;

static const char *seg_name(int i)
{
	static char name[64];

	snprintf(name, sizeof name, "fgtest-node%d-%d", i, (int)getpid());
	return name;
}

static void capture(void *arg, const uint8_t *buf, size_t len)
{
	struct outbox *o = arg;

	cr_assert_lt(o->n, 4096);
	cr_assert_leq(len, FGW_MAX_SIZE);
	memcpy(o->buf[o->n], buf, len);
	o->len[o->n++] = len;
}

static void node_start_with(int i, uint64_t incarnation, const char *state)
{
	struct fgd_node_params p = {.incarnation = incarnation,
	                            .max_datagram = 1200,
	                            .interval_ms = 100,
	                            .npeers = NNODES - 1,
	                            .state_path = state};

	cr_assert_eq(fgd_node_init(&W.node[i], W.fg[i], &W.kr, W.sk[i],
	                           W.keys[i].pk, &p),
	             0);
}

static void node_start(int i, uint64_t incarnation)
{
	node_start_with(i, incarnation, NULL);
}

static void setup(void)
{
	fg_segment_opts o = {.capacity = 4096};
	int i;

	cr_assert_geq(sodium_init(), 0);
	memset(&W, 0, sizeof W);
	for (i = 0; i <= NNODES; i++) {
		crypto_sign_keypair(W.keys[i].pk, W.sk[i]);
		snprintf(W.keys[i].name, sizeof W.keys[i].name, "n%d", i);
	}
	W.kr.n = NNODES; /* the stranger is not trusted */
	W.kr.keys = W.keys;
	for (i = 0; i < NNODES; i++) {
		fg_unlink(seg_name(i));
		cr_assert_eq(fg_create(seg_name(i), &o, 0, &W.fg[i]), 0);
		test_rule(W.fg[i], "g", CAP, 1, HOUR_MS, FG_RULE_GLOBAL);
		test_rule(W.fg[i], "h", CAP, 1, HOUR_MS, 0);
		node_start(i, 1000);
	}
}

static void teardown(void)
{
	int i;

	for (i = 0; i < NNODES; i++) {
		fgd_node_fini(&W.node[i]);
		fg_close(W.fg[i]);
		fg_unlink(seg_name(i));
	}
}

/* Node @i's round: harvest and emit into the outbox; returns how many. */
static size_t round_of(int i, uint64_t now_ms)
{
	size_t before = W.out.n;

	fgd_node_harvest(&W.node[i], now_ms);
	fgd_node_emit(&W.node[i], now_ms, 0, capture, &W.out);
	return W.out.n - before;
}

static enum fgw_drop deliver_at(int to, size_t which, uint64_t now_ms)
{
	return fgd_node_receive(&W.node[to], W.out.buf[which], W.out.len[which],
	                        now_ms);
}

static enum fgw_drop deliver(int to, size_t which)
{
	return deliver_at(to, which, 1);
}

/* Tokens left in node @i's bucket for (rule, key), without taking any. */
static int64_t left(int i, const char *rule, const char *key)
{
	int64_t n = 0;

	cr_assert_eq(fg__peek(W.fg[i], rule, key, strlen(key), &n), 0);
	return n;
}

static void take(int i, const char *rule, const char *key, uint32_t n)
{
	cr_assert_eq(fg_allow(W.fg[i], rule, key, n, NULL), 1);
}

TestSuite(gossip, .init = setup, .fini = teardown, .timeout = 60);

Test(gossip, consumption_on_one_node_is_debited_on_the_others)
{
	take(0, "g", "alice", 4);
	cr_assert_eq(round_of(0, 1), 1);
	cr_expect_eq(deliver(1, 0), FGW_OK);
	cr_expect_eq(deliver(2, 0), FGW_OK);
	cr_expect_eq(left(1, "g", "alice"), CAP - 4);
	cr_expect_eq(left(2, "g", "alice"), CAP - 4);
	cr_expect_eq(W.node[1].ctr.applied, 4);
	cr_expect_eq(left(0, "g", "alice"), CAP - 4,
	             "the origin is not debited twice");
}

/* A window rule @name of @flags (a limit of CAP an hour) on every node. */
static void window_rules(const char *name, uint32_t flags)
{
	fg_rule r = {.name = name,
	             .capacity = CAP,
	             .rate = CAP,
	             .period_ms = HOUR_MS,
	             .flags = FG_RULE_GLOBAL | flags};
	int i;

	for (i = 0; i < NNODES; i++)
		cr_assert_eq(fg_rule_set(W.fg[i], &r), 0);
}

/* Window rules gossip the consumption of their slots' counts as a token
 * bucket's: each node counts the others' in its current window. */
Test(gossip, window_consumption_on_one_node_is_counted_on_the_others)
{
	window_rules("fw", FG_RULE_FIXED_WINDOW);
	window_rules("sw", FG_RULE_SLIDING_WINDOW);
	take(0, "fw", "alice", 4);
	take(1, "sw", "alice", 3);
	cr_assert_eq(round_of(0, 1), 1);
	cr_assert_eq(round_of(1, 1), 1);
	cr_expect_eq(deliver(1, 0), FGW_OK);
	cr_expect_eq(deliver(2, 0), FGW_OK);
	cr_expect_eq(deliver(0, 1), FGW_OK);
	cr_expect_eq(deliver(2, 1), FGW_OK);
	for (int i = 0; i < NNODES; i++) {
		cr_expect_eq(left(i, "fw", "alice"), CAP - 4, "node %d", i);
		cr_expect_eq(left(i, "sw", "alice"), CAP - 3, "node %d", i);
	}
	/* node 2 admits only what is left of the limit */
	cr_expect_eq(fg_allow(W.fg[2], "fw", "alice", CAP - 3, NULL), 0);
	take(2, "fw", "alice", CAP - 4);
	cr_expect_eq(fg_allow(W.fg[2], "fw", "alice", 1, NULL), 0);
	cr_expect_eq(W.node[1].ctr.applied, 4);
}

Test(gossip, nothing_to_send_sends_nothing)
{
	cr_expect_eq(round_of(0, 1), 0);
}

Test(gossip, a_duplicated_or_replayed_datagram_debits_nothing)
{
	take(0, "g", "k", 3);
	round_of(0, 1);
	cr_expect_eq(deliver(1, 0), FGW_OK);
	cr_expect_eq(deliver(1, 0), FGW_REPLAY);
	cr_expect_eq(deliver(1, 0), FGW_REPLAY);
	cr_expect_eq(left(1, "g", "k"), CAP - 3);
	cr_expect_eq(W.node[1].ctr.drops[FGW_REPLAY], 2);
}

/* A relayed datagram comes about twice (gossip/spread.h): the copy is
 * dropped by its replay window before its signature costs anything, and a
 * forgery of an unseen seq is still checked, and moves nothing. */
Test(gossip, a_copy_of_a_datagram_taken_is_dropped_before_its_signature)
{
	uint8_t bad[FGW_MAX_SIZE];

	take(0, "g", "k", 3);
	cr_assert_eq(round_of(0, 1), 1);
	take(0, "g", "k", 1);
	cr_assert_eq(round_of(0, 2), 1); /* datagram 1: a later seq */
	memcpy(bad, W.out.buf[0], W.out.len[0]);
	bad[W.out.len[0] - 1] ^= 1; /* its signature no longer verifies */
	cr_expect_eq(deliver(1, 0), FGW_OK);
	cr_expect_eq(fgd_node_receive(&W.node[1], bad, W.out.len[0], 1),
	             FGW_REPLAY, "a copy: not even checked");
	memcpy(bad, W.out.buf[1], W.out.len[1]);
	bad[W.out.len[1] - 1] ^= 1;
	cr_expect_eq(fgd_node_receive(&W.node[1], bad, W.out.len[1], 1),
	             FGW_BADSIG, "an unseen seq is checked");
	cr_expect_eq(deliver(1, 1), FGW_OK, "and the forgery moved nothing");
	cr_expect_eq(left(1, "g", "k"), CAP - 4);
	cr_expect_eq(W.node[1].ctr.drops[FGW_REPLAY], 1);
	cr_expect_eq(W.node[1].ctr.drops[FGW_BADSIG], 1);
}

Test(gossip, a_lost_datagram_is_repaired_by_the_next)
{
	take(0, "g", "k", 2);
	round_of(0, 1); /* datagram 0: lost */
	take(0, "g", "k", 3);
	round_of(0, 2); /* datagram 1: cumulative 5 */
	cr_expect_eq(deliver(1, 1), FGW_OK);
	cr_expect_eq(left(1, "g", "k"), CAP - 5);
}

Test(gossip, a_reordered_older_datagram_changes_nothing)
{
	take(0, "g", "k", 2);
	round_of(0, 1);
	take(0, "g", "k", 3);
	round_of(0, 2);
	cr_expect_eq(deliver(1, 1), FGW_OK); /* newer first: 5 */
	cr_expect_eq(deliver(1, 0), FGW_OK); /* older, in the window: 2 */
	cr_expect_eq(left(1, "g", "k"), CAP - 5);
}

Test(gossip, a_full_sync_catches_up_a_node_that_missed_everything)
{
	take(0, "g", "a", 1);
	take(0, "g", "b", 2);
	round_of(0, 1); /* lost for node 2 */
	cr_expect_eq(deliver(1, 0), FGW_OK);
	fgd_node_emit(&W.node[0], 2, 1, capture, &W.out); /* full */
	cr_assert_eq(W.out.n, 2);
	cr_expect_eq(deliver(2, 1), FGW_OK);
	cr_expect_eq(deliver(1, 1), FGW_OK);
	cr_expect_eq(left(2, "g", "a"), CAP - 1);
	cr_expect_eq(left(2, "g", "b"), CAP - 2);
	cr_expect_eq(left(1, "g", "b"), CAP - 2, "and nothing twice");
}

Test(gossip, consumption_of_all_nodes_adds_up_as_debt)
{
	take(0, "g", "hot", CAP);
	take(1, "g", "hot", CAP);
	round_of(0, 1);
	round_of(1, 1);
	cr_expect_eq(deliver(2, 0), FGW_OK);
	cr_expect_eq(deliver(2, 1), FGW_OK);
	cr_expect_eq(deliver(0, 1), FGW_OK);
	cr_expect_eq(deliver(1, 0), FGW_OK);
	/* 2 x CAP consumed against one budget of CAP: CAP in debt */
	fg_decision d;
	cr_expect_eq(fg_allow(W.fg[2], "g", "hot", 1, &d), 0);
	cr_expect_gt(d.retry_after_ms, (uint64_t)CAP * HOUR_MS,
	             "the debt of %u tokens is repaid first", CAP);
}

Test(gossip, a_restarted_node_does_not_count_anything_twice)
{
	take(0, "g", "k", 4);
	round_of(0, 1);
	cr_expect_eq(deliver(1, 0), FGW_OK);
	/* node 0 restarts: same segment, new incarnation */
	fgd_node_fini(&W.node[0]);
	node_start(0, 2000);
	cr_expect_eq(round_of(0, 2), 0, "what was reported is not re-sent");
	take(0, "g", "k", 1);
	round_of(0, 3);
	cr_expect_eq(deliver(1, 1), FGW_OK);
	cr_expect_eq(left(1, "g", "k"), CAP - 5);
	/* the old incarnation's datagrams are now stale */
	cr_expect_eq(deliver(1, 0), FGW_STALE);
}

Test(gossip, tampered_forged_and_garbage_datagrams_change_nothing)
{
	uint8_t bad[FGW_MAX_SIZE];
	struct fgw_writer w;
	size_t len;

	take(0, "g", "k", 4);
	round_of(0, 1);
	/* tampered: one bit of a count */
	memcpy(bad, W.out.buf[0], W.out.len[0]);
	bad[W.out.len[0] - FGW_SIG_SIZE - 1] ^= 1;
	cr_expect_eq(fgd_node_receive(&W.node[1], bad, W.out.len[0], 1),
	             FGW_BADSIG);
	/* forged: a stranger signs, claiming to be node 0 */
	fgw_begin(&w, 1200, W.keys[0].pk, 1000, 99);
	cr_assert_eq(fgw_add(&w, "g", 1, "k", 1, 1000, 0), 0);
	len = fgw_finish(&w, W.sk[NNODES]);
	cr_expect_eq(fgd_node_receive(&W.node[1], w.buf, len, 1), FGW_BADSIG);
	/* a stranger signing as itself */
	fgw_begin(&w, 1200, W.keys[NNODES].pk, 1000, 1);
	cr_assert_eq(fgw_add(&w, "g", 1, "k", 1, 1000, 0), 0);
	len = fgw_finish(&w, W.sk[NNODES]);
	cr_expect_eq(fgd_node_receive(&W.node[1], w.buf, len, 1),
	             FGW_UNKNOWNKEY);
	/* garbage and a truncated copy */
	memset(bad, 0xa5, sizeof bad);
	cr_expect_eq(fgd_node_receive(&W.node[1], bad, 900, 1), FGW_BADVERSION);
	cr_expect_eq(fgd_node_receive(&W.node[1], W.out.buf[0], 20, 1),
	             FGW_TRUNCATED);
	cr_expect_eq(left(1, "g", "k"), CAP, "nothing was debited");
	cr_expect_eq(W.node[1].ctr.drops[FGW_BADSIG], 2);
	cr_expect_eq(W.node[1].ctr.drops[FGW_UNKNOWNKEY], 1);
	cr_expect_eq(W.node[1].ctr.drops[FGW_BADVERSION], 1);
	cr_expect_eq(W.node[1].ctr.drops[FGW_TRUNCATED], 1);
	/* and the genuine one still applies afterwards */
	cr_expect_eq(deliver(1, 0), FGW_OK);
	cr_expect_eq(left(1, "g", "k"), CAP - 4);
}

Test(gossip, a_node_drops_its_own_datagrams)
{
	take(0, "g", "k", 1);
	round_of(0, 1);
	cr_expect_neq(deliver(0, 0), FGW_OK);
	cr_expect_eq(W.node[0].ctr.drops_self, 1);
	cr_expect_eq(left(0, "g", "k"), CAP - 1);
}

Test(gossip, host_scope_rules_are_not_gossiped)
{
	take(0, "h", "k", 4);
	cr_expect_eq(round_of(0, 1), 0);
}

Test(gossip, records_for_a_rule_not_global_here_are_counted_and_skipped)
{
	test_rule(W.fg[1], "g", CAP, 1, HOUR_MS, 0); /* host scope on 1 */
	take(0, "g", "k", 2);
	round_of(0, 1);
	cr_expect_eq(deliver(1, 0), FGW_OK);
	cr_expect_eq(W.node[1].ctr.records_unknown, 1);
	cr_expect_eq(left(1, "g", "k"), CAP);
}

/* A penalty's tally is a bucket under a key no caller can give (a NUL,
 * then the key: lib/penalty.c), and this host's alone: a record that
 * names such a key, even from a member, is counted and not applied. */
Test(gossip, records_whose_key_holds_a_nul_are_counted_and_not_applied)
{
	struct fgw_writer w;
	int64_t n = -1;
	size_t len;

	fgw_begin(&w, 1200, W.keys[0].pk, W.node[0].x.incarnation, 1);
	cr_assert_eq(fgw_add(&w, "g", 1, "\0k", 2, 3, 0), 0);
	cr_assert_eq(fgw_add(&w, "g", 1, "k\0", 2, 3, 0), 0);
	cr_assert_eq(fgw_add(&w, "g", 1, "k", 1, 2, 0), 0);
	len = fgw_finish(&w, W.sk[0]);
	cr_assert_gt(len, 0);
	cr_expect_eq(fgd_node_receive(&W.node[1], w.buf, len, 1), FGW_OK);
	cr_expect_eq(W.node[1].ctr.records_badkey, 2);
	cr_expect_eq(W.node[1].ctr.records_unknown, 0);
	cr_expect_eq(left(1, "g", "k"), CAP - 2, "the good record applies");
	cr_assert_eq(fg__peek(W.fg[1], "g", "\0k", 2, &n), 0);
	cr_expect_eq(n, CAP, "no tally was debited");
	cr_assert_eq(fg__peek(W.fg[1], "g", "k\0", 2, &n), 0);
	cr_expect_eq(n, CAP);
}

Test(gossip, thousands_of_keys_travel_in_datagrams_under_the_size_limit)
{
	char key[32];
	size_t i, n;
	int k;

	for (k = 0; k < 2000; k++) {
		snprintf(key, sizeof key, "user-%d", k);
		take(0, "g", key, 1 + k % 3);
	}
	n = round_of(0, 1);
	cr_expect_gt(n, 1);
	for (i = 0; i < n; i++) {
		cr_expect_leq(W.out.len[i], 1200);
		cr_expect_eq(deliver(1, i), FGW_OK);
	}
	for (k = 0; k < 2000; k += 199) {
		snprintf(key, sizeof key, "user-%d", k);
		cr_expect_eq(left(1, "g", key), CAP - 1 - k % 3);
	}
	cr_expect_eq(W.node[1].ctr.applied, W.node[0].ctr.harvested);
}

Test(gossip, a_restart_with_its_state_file_reports_what_was_consumed_meanwhile)
{
	char state[128];

	snprintf(state, sizeof state, "/dev/shm/fgtest-state-%d",
	         (int)getpid());
	test_unlink_state_at(state);
	fgd_node_fini(&W.node[0]);
	node_start_with(0, 1500, state);
	take(0, "g", "k", 4);
	round_of(0, 1);
	cr_expect_eq(deliver(1, 0), FGW_OK);
	fgd_node_fini(&W.node[0]);       /* the daemon stops... */
	take(0, "g", "k", 3);            /* ...workers go on... */
	node_start_with(0, 2000, state); /* ...and it comes back */
	cr_assert_eq(round_of(0, 2), 1, "the 3 consumed meanwhile are sent");
	cr_expect_eq(deliver(1, 1), FGW_OK);
	cr_expect_eq(left(1, "g", "k"), CAP - 7, "nothing lost, nothing twice");
	/* a state file of another segment is not trusted */
	fgd_node_fini(&W.node[1]);
	node_start_with(1, 3000, state);
	cr_expect_eq(round_of(1, 3), 0, "node 1 starts from its own counts");
	test_unlink_state_at(state);
}

/* Issue 12, finding 2: a harvest state file that another user could
 * write (0666, as one made first by somebody else would be) or that
 * another user owns is refused, never adopted: whoever writes it could
 * make the node report consumption nobody had. */
Test(gossip, a_state_file_another_user_could_write_is_refused_not_adopted)
{
	static const char *const ext[] = {"", "-local", "-remote"};
	struct fgd_node_params p = {.incarnation = 2000,
	                            .max_datagram = 1200,
	                            .interval_ms = 100,
	                            .npeers = NNODES - 1};
	char state[128], path[160];
	unsigned i;

	snprintf(state, sizeof state, "/dev/shm/fgtest-squat-%d",
	         (int)getpid());
	test_unlink_state_at(state);
	p.state_path = state;
	fgd_node_fini(&W.node[0]);
	node_start_with(0, 1500, state);
	take(0, "g", "k", 4);
	round_of(0, 1);
	fgd_node_fini(&W.node[0]);
	for (i = 0; i < 3; i++) { /* the state, our counts, our marks */
		snprintf(path, sizeof path, "%s%s", state, ext[i]);
		cr_assert_eq(chmod(path, 0666), 0, "%s", path);
		cr_expect_neq(fgd_node_init(&W.node[0], W.fg[0], &W.kr, W.sk[0],
		                            W.keys[0].pk, &p),
		              0, "%s, which others may write, is refused",
		              path);
		cr_assert_eq(chmod(path, 0600), 0);
		if (geteuid() != 0)
			continue;
		cr_assert_eq(chown(path, 65534, 65534), 0);
		cr_expect_neq(fgd_node_init(&W.node[0], W.fg[0], &W.kr, W.sk[0],
		                            W.keys[0].pk, &p),
		              0, "%s, another user's, is refused", path);
		cr_assert_eq(chown(path, 0, 0), 0);
	}
	test_unlink_state_at(state);
	node_start(0, 3000); /* for the teardown */
}

/* Deliver every datagram of the outbox from @first on to every node but
 * its sender, each copy lost with probability @loss %, duplicated with
 * probability @dup %, in shuffled order; @cut[i][j] blocks i -> j. */
static void deliver_impaired(size_t first, unsigned loss, unsigned dup,
                             const int cut[NNODES][NNODES], unsigned *seed)
{
	size_t order[4096 * 2], n = 0, i;
	struct fgw_view v;
	int to;

	for (i = first; i < W.out.n; i++) {
		order[n++] = i;
		if ((unsigned)rand_r(seed) % 100 < dup)
			order[n++] = i;
	}
	for (i = n; i > 1; i--) { /* Fisher-Yates */
		size_t j = (size_t)rand_r(seed) % i, t = order[i - 1];

		order[i - 1] = order[j];
		order[j] = t;
	}
	for (i = 0; i < n; i++) {
		cr_assert_eq(fgw_open(W.out.buf[order[i]], W.out.len[order[i]],
		                      &W.kr, &v),
		             FGW_OK);
		for (to = 0; to < NNODES; to++) {
			if (to == v.origin || (cut && cut[v.origin][to]) ||
			    (unsigned)rand_r(seed) % 100 < loss)
				continue;
			(void)deliver(to, order[i]);
		}
	}
	W.out.n = 0;
}

#define BIG 1000000u

/* Run @rounds rounds of random consumption on every node, impaired. */
static void run_rounds(int rounds, unsigned loss, unsigned dup,
                       const int cut[NNODES][NNODES], uint64_t *consumed,
                       unsigned *seed, uint64_t *now)
{
	char key[16];
	int r, i, k;

	for (r = 0; r < rounds; r++) {
		for (i = 0; i < NNODES; i++) {
			for (k = 0; k < 3; k++) {
				int which = rand_r(seed) % 8;
				uint32_t n = 1 + (uint32_t)rand_r(seed) % 5;

				snprintf(key, sizeof key, "key%d", which);
				take(i, "big", key, n);
				consumed[which] += n;
			}
			fgd_node_harvest(&W.node[i], *now);
			fgd_node_emit(&W.node[i], *now, 0, capture, &W.out);
		}
		deliver_impaired(0, loss, dup, cut, seed);
		*now += 100;
	}
}

/* Quiet rounds: no new consumption; every tenth round each node sends
 * everything that still matters (a full batch: these nodes have no
 * network to ask for repairs on, test_sync.c covers the digests). */
static void settle(int rounds, unsigned loss, unsigned *seed, uint64_t *now)
{
	int r, i;

	for (r = 0; r < rounds; r++) {
		for (i = 0; i < NNODES; i++) {
			fgd_node_harvest(&W.node[i], *now);
			fgd_node_emit(&W.node[i], *now, r % 10 == 9, capture,
			              &W.out);
		}
		deliver_impaired(0, loss, 0, NULL, seed);
		*now += 100;
	}
}

static void expect_all_agree(const uint64_t *consumed)
{
	char key[16];
	int i, k;

	for (k = 0; k < 8; k++) {
		snprintf(key, sizeof key, "key%d", k);
		for (i = 0; i < NNODES; i++)
			cr_expect_eq(
			    left(i, "big", key), (int64_t)(BIG - consumed[k]),
			    "node %d, %s: %lld left, %llu consumed in all", i,
			    key, (long long)left(i, "big", key),
			    (unsigned long long)consumed[k]);
	}
}

Test(gossip, loss_duplication_and_reordering_converge_to_the_exact_totals)
{
	uint64_t consumed[8] = {0}, now = 1;
	unsigned seed = 12345;
	int i;

	for (i = 0; i < NNODES; i++)
		test_rule(W.fg[i], "big", BIG, 1, 60000, FG_RULE_GLOBAL);
	run_rounds(60, 30, 20, NULL, consumed, &seed, &now);
	settle(40, 30, &seed, &now); /* 4 full batches, each 30 % lossy */
	expect_all_agree(consumed);
	for (i = 0; i < NNODES; i++)
		cr_expect_gt(W.node[i].ctr.drops[FGW_REPLAY], 0,
		             "duplicates were seen, and dropped");
}

Test(gossip, a_partition_limits_each_side_alone_and_heals_to_agreement)
{
	int cut[NNODES][NNODES] = {{0}};
	uint64_t consumed[8] = {0}, now = 1;
	unsigned seed = 777;
	int i;

	for (i = 0; i < NNODES; i++)
		test_rule(W.fg[i], "big", BIG, 1, 60000, FG_RULE_GLOBAL);
	/* node 2 is cut off from 0 and 1, both ways */
	cut[0][2] = cut[2][0] = cut[1][2] = cut[2][1] = 1;
	run_rounds(30, 0, 0, cut, consumed, &seed, &now);
	cr_expect_neq(left(2, "big", "key0"), left(0, "big", "key0"),
	              "while cut off, node 2 knows only its own consumption");
	/* heal: the full batches bring everyone to the same figures */
	settle(20, 0, &seed, &now);
	expect_all_agree(consumed);
}

Test(gossip, a_quiet_node_heartbeats_and_peers_see_it_alive_suspect_dead_alive)
{
	size_t i;
	uint64_t t;

	cr_expect_eq(fgd_node_peer_state(&W.node[1], 0, 1), FGD_PEER_UNKNOWN);
	/* nothing consumed: a full batch is still sent, as a heartbeat */
	fgd_node_emit(&W.node[0], 1, 1, capture, &W.out);
	cr_assert_eq(W.out.n, 1);
	cr_expect_eq(
	    fgd_node_receive(&W.node[1], W.out.buf[0], W.out.len[0], 1000),
	    FGW_OK);
	/* the default interval is 100 ms: a heartbeat every second */
	cr_expect_eq(fgd_node_peer_state(&W.node[1], 0, 1000), FGD_PEER_ALIVE);
	cr_expect_eq(fgd_node_peer_state(&W.node[1], 0, 1000 + 3000),
	             FGD_PEER_ALIVE);
	cr_expect_eq(fgd_node_peer_state(&W.node[1], 0, 1000 + 3001),
	             FGD_PEER_SUSPECT);
	cr_expect_eq(fgd_node_peer_state(&W.node[1], 0, 1000 + 10001),
	             FGD_PEER_DEAD);
	/* it talks again */
	t = 20000;
	for (i = 0; i < FGD_HEARTBEAT_EVERY; i++)
		fgd_node_emit(&W.node[0], t, 0, capture, &W.out);
	cr_assert_eq(W.out.n, 2, "one heartbeat in ten quiet rounds");
	cr_expect_eq(
	    fgd_node_receive(&W.node[1], W.out.buf[1], W.out.len[1], t),
	    FGW_OK);
	cr_expect_eq(fgd_node_peer_state(&W.node[1], 0, t), FGD_PEER_ALIVE);
	cr_expect_str_eq(fgd_peer_state_name(FGD_PEER_SUSPECT), "suspect");
}

Test(gossip, a_restarted_receiver_remembers_what_it_already_debited)
{
	char state[128];

	snprintf(state, sizeof state, "/dev/shm/fgtest-rstate-%d",
	         (int)getpid());
	test_unlink_state_at(state);
	fgd_node_fini(&W.node[1]);
	node_start_with(1, 1500, state);
	take(0, "g", "k", 4);
	round_of(0, 1);
	cr_expect_eq(deliver(1, 0), FGW_OK);
	cr_expect_eq(left(1, "g", "k"), CAP - 4);
	/* node 1's daemon restarts; node 0 re-sends its count in a full batch
	 */
	fgd_node_fini(&W.node[1]);
	node_start_with(1, 2500, state);
	fgd_node_emit(&W.node[0], 2, 1, capture, &W.out);
	cr_expect_eq(deliver(1, 1), FGW_OK);
	cr_expect_eq(left(1, "g", "k"), CAP - 4, "the 4 are not debited twice");
	/* and later increases still arrive */
	take(0, "g", "k", 1);
	round_of(0, 3);
	cr_expect_eq(deliver(1, 2), FGW_OK);
	cr_expect_eq(left(1, "g", "k"), CAP - 5);
	test_unlink_state_at(state);
}

/* A restart that cannot continue its counts (its ledger lost: the
 * restart test_restart.c does not cover) takes a new incarnation. */
Test(gossip, new_incarnations_grow_across_restarts_even_if_the_clock_goes_back)
{
	char state[128], local[160];

	snprintf(state, sizeof state, "/dev/shm/fgtest-istate-%d",
	         (int)getpid());
	snprintf(local, sizeof local, "%s-local", state);
	test_unlink_state_at(state);
	fgd_node_fini(&W.node[0]);
	node_start_with(0, 5000, state);
	take(0, "g", "k", 1);
	round_of(0, 1);
	cr_expect_eq(deliver(1, 0), FGW_OK);
	fgd_node_fini(&W.node[0]);
	cr_assert_eq(unlink(local), 0);
	node_start_with(0, 4000, state); /* the wall clock stepped back */
	cr_expect_gt(W.node[0].x.incarnation, 5000);
	take(0, "g", "k", 2);
	round_of(0, 2);
	cr_expect_eq(deliver(1, 1), FGW_OK, "not taken for the node's past");
	cr_expect_eq(left(1, "g", "k"), CAP - 3);
	test_unlink_state_at(state);
}

Test(gossip, a_full_ledger_drops_what_no_longer_matters_and_defers_the_rest)
{
	struct timespec ts = {0, 30000000};
	char key[16];
	int k;

	test_rule(W.fg[0], "fast", 1, 1, 10, FG_RULE_GLOBAL); /* 10 ms */
	W.node[0].counts.local.max = 16;
	for (k = 0; k < 16; k++) {
		snprintf(key, sizeof key, "f%d", k);
		take(0, "fast", key, 1);
	}
	fgd_node_harvest(&W.node[0], 1);
	cr_assert_eq(W.node[0].counts.local.n, 16, "the ledger is full");
	fgd_node_emit(&W.node[0], 1, 0, capture, &W.out); /* then floored */
	nanosleep(&ts, NULL); /* every bucket is full again */
	for (k = 0; k < (int)FGD_ABSORB_EVERY; k++)
		fgd_node_harvest(&W.node[0], 2); /* floors: all absorbed */
	for (k = 0; k < 16; k++) {
		snprintf(key, sizeof key, "g%d", k);
		take(0, "g", key, 1);
	}
	fgd_node_harvest(&W.node[0], 3);
	cr_expect_eq(W.node[0].ctr.local_noroom, 0,
	             "absorbed counts made room for the new ones");
	cr_expect_eq(W.node[0].ctr.harvested, 32);
	/* now full of counts still owed: a new one waits, and is lost to
	 * nobody */
	take(0, "g", "late", 2);
	fgd_node_harvest(&W.node[0], 4);
	cr_expect_eq(W.node[0].ctr.local_noroom, 1);
	cr_expect_eq(W.node[0].ctr.harvested, 32);
	W.node[0].counts.local.max = 17;
	fgd_node_harvest(&W.node[0], 5);
	cr_expect_eq(W.node[0].ctr.harvested, 34, "taken at the next round");
	W.out.n = 0;
	fgd_node_emit(&W.node[0], 5, 0, capture, &W.out);
	cr_assert_geq(W.out.n, 1);
	cr_expect_eq(deliver(1, W.out.n - 1), FGW_OK);
	cr_expect_eq(left(1, "g", "late"), CAP - 2, "and reaches the others");
}

/* ------------------------------------------------- bounded ledgers (20) */

/* Node 0's last datagram of a round at @now_ms, delivered to node 1. */
static void round_to_1(uint64_t now_ms)
{
	cr_assert_geq(round_of(0, now_ms), 1);
	cr_assert_eq(deliver_at(1, W.out.n - 1, now_ms), FGW_OK);
}

Test(gossip, a_receiver_forgets_a_mark_as_soon_as_its_count_is_all_floor)
{
	struct timespec ts = {0, 30000000};
	int k;

	test_rule(W.fg[0], "fast", 1, 1, 10, FG_RULE_GLOBAL); /* 10 ms */
	test_rule(W.fg[1], "fast", 1, 1, 10, FG_RULE_GLOBAL);
	take(0, "fast", "x", 1);
	round_to_1(1);
	cr_expect_eq(W.node[1].counts.remote.n, 1, "a mark while it is owed");
	nanosleep(&ts, NULL); /* node 0's bucket is full again */
	for (k = 1; k < (int)FGD_ABSORB_EVERY; k++)
		fgd_node_harvest(&W.node[0], 2);
	round_to_1(3); /* the round that floors it */
	cr_expect_eq(W.node[1].counts.remote.n, 0,
	             "forgotten at once, not idled");
	cr_expect_eq(W.node[1].ctr.ledger_evicted, 0);
}

Test(gossip, a_full_remote_ledger_forgets_the_idlest_mark_never_a_debit)
{
	char key[16];
	int k;

	W.node[1].counts.remote.max = 4;
	for (k = 0; k < 6; k++) {
		snprintf(key, sizeof key, "k%d", k);
		take(0, "g", key, 1);
		round_to_1(1000 + 100 * (uint64_t)k);
	}
	cr_expect_eq(W.node[1].counts.remote.n, 4);
	cr_expect_eq(W.node[1].ctr.ledger_evicted, 2, "counted, not silent");
	cr_expect_eq(W.node[1].ctr.applied, 6, "every token was debited");
	cr_expect_null(
	    fgd_node_mark(&W.node[1], fgd_origin_id(&W.kr, 0), "g", 1, "k0", 2),
	    "the idlest went first");
	cr_expect_not_null(fgd_node_mark(&W.node[1], fgd_origin_id(&W.kr, 0),
	                                 "g", 1, "k5", 2));
	/* k0 again: without its mark, node 1 measures from the floor, so
	 * the key pays again for its first token: stricter, never looser */
	take(0, "g", "k0", 1);
	round_to_1(2000);
	cr_expect_eq(left(0, "g", "k0"), CAP - 2);
	cr_expect_eq(left(1, "g", "k0"), CAP - 3, "charged twice for one");
}

Test(gossip, a_mark_still_owed_is_forgotten_after_an_hour_without_news)
{
	take(0, "g", "old", 1);
	round_to_1(1000);
	take(0, "g", "new", 1);
	round_to_1(1000 + FGD_REMOTE_STALE_MS);
	fgd_node_expire(&W.node[1], 1001 + FGD_REMOTE_STALE_MS);
	cr_expect_eq(W.node[1].counts.remote.n, 1);
	cr_expect_not_null(fgd_node_mark(&W.node[1], fgd_origin_id(&W.kr, 0),
	                                 "g", 1, "new", 3));
}

/* Make node 0 claim @more tokens of (@rule, @key) than it admitted, as a
 * peer with a stolen key could. */
static void claim_more(const char *rule, const char *key, uint64_t more)
{
	struct fgd_local *e =
	    fgd_node_count(&W.node[0], rule, key, strlen(key));

	cr_assert_not_null(e);
	e->count += more;
	e->ver = ++W.node[0].counts.k->version;
}

Test(gossip, an_increase_beyond_what_the_origin_can_admit_is_not_debited)
{
	take(0, "g", "k", CAP);
	round_to_1(1000);
	cr_expect_eq(left(1, "g", "k"), 0);
	claim_more("g", "k", 1000);
	round_to_1(1100); /* 100 ms later: at most a bucketful */
	cr_expect_eq(W.node[1].ctr.debit_clamped, 1000 - CAP,
	             "what no honest origin can admit is counted");
	cr_expect_eq(left(1, "g", "k"), -CAP);
}

Test(gossip, a_partition_is_paid_back_in_full_up_to_the_debt_window)
{
	int64_t l;

	/* 10 a second: 30 s of partition is 300 tokens */
	test_rule(W.fg[0], "p", 10, 10, 1000, FG_RULE_GLOBAL);
	test_rule(W.fg[1], "p", 10, 10, 1000, FG_RULE_GLOBAL);
	take(0, "p", "k", 10);
	round_to_1(1000);
	claim_more("p", "k", 300); /* as admitted during the cut */
	round_to_1(31000);
	cr_expect_eq(W.node[1].ctr.debit_clamped, 0, "honest: all of it");
	cr_expect_eq(W.node[1].ctr.debt_capped, 0);
	cr_assert_eq(fg__peek(W.fg[1], "p", "k", 1, &l), 0);
	cr_expect_leq(l, -299, "300 tokens of debt, not a capped few");
}

Test(gossip, a_stolen_key_cannot_push_a_key_beyond_the_debt_bound)
{
	int64_t l;
	uint64_t bound;

	test_rule(W.fg[0], "p", 10, 10, 1000, FG_RULE_GLOBAL);
	test_rule(W.fg[1], "p", 10, 10, 1000, FG_RULE_GLOBAL);
	take(0, "p", "k", 1);
	fgd_node_harvest(&W.node[0], 500);
	claim_more("p", "k", 1000000000);
	round_to_1(1000); /* a new mark: only the debt bound applies */
	/* tau + peers x (tau + window), in tokens of 100 ms */
	bound = (1000 + 2 * (1000 + FGD_DEBT_WINDOW_MS)) / 100;
	cr_assert_eq(fg__peek(W.fg[1], "p", "k", 1, &l), 0);
	cr_expect_geq(l, 10 - (int64_t)bound, "no deeper than the bound");
	cr_expect_leq(l, 10 - (int64_t)bound + 1);
	cr_expect_gt(W.node[1].ctr.debt_capped, 0, "and the rest counted");
	cr_expect_eq(W.node[1].ctr.applied + W.node[1].ctr.debt_capped,
	             1000000001, "nothing unaccounted for");
}

Test(gossip, a_change_is_sent_before_its_count_is_floored)
{
	struct timespec ts = {0, 30000000};
	int k;

	test_rule(W.fg[0], "fast", 1, 1, 10, FG_RULE_GLOBAL); /* 10 ms */
	test_rule(W.fg[1], "fast", 10, 1, HOUR_MS, FG_RULE_GLOBAL);
	take(0, "fast", "y", 1);
	nanosleep(&ts, NULL); /* full again before the round that sends it */
	for (k = 0; k < (int)FGD_ABSORB_EVERY; k++)
		fgd_node_harvest(&W.node[0], 1);
	round_to_1(2);
	cr_expect_eq(W.node[1].ctr.applied, 1, "announced once as consumed");
	cr_expect_eq(left(1, "fast", "y"), 9);
}

/* Issue 12, finding 9: a peer with a key (stolen, or its own gone bad)
 * claims 2^64 - 1 tokens of a key.  On the wire a record carries at most
 * 2^32 - 1 of them (recent saturates, wire.h); a record pulled from
 * Redis carries its floor as it is, so all of it.  Debts stay within the
 * bound, and the counters an operator reads stay true: applied is what
 * was debited (at most the bound a key), and what was kept out only
 * grows, stopping at UINT64_MAX rather than wrapping to a small number. */
Test(gossip, a_count_of_2_to_the_64_never_wraps_a_counter)
{
	const struct fgd_counters *c = &W.node[1].ctr;
	static const char *keys[] = {"a", "b", "c"};
	uint64_t bound, oid = fgd_origin_id(&W.kr, 0), capped;
	size_t k;
	int64_t l;

	test_rule(W.fg[1], "p", 10, 10, 1000, FG_RULE_GLOBAL);
	bound = (1000 + 2 * (1000 + FGD_DEBT_WINDOW_MS)) / 100;
	for (k = 0; k < 3; k++) {
		struct fgw_record rec = {.rule = (const uint8_t *)"p",
		                         .rule_len = 1,
		                         .key = (const uint8_t *)keys[k],
		                         .key_len = 1,
		                         .count = UINT64_MAX,
		                         .floor = 0};

		cr_assert_eq(fgd_counts_apply_from(&W.node[1].counts, oid, 7,
		                                   &rec, 1000),
		             0);
		cr_assert_eq(fg__peek(W.fg[1], "p", keys[k], 1, &l), 0);
		cr_expect_geq(l, 10 - (int64_t)bound, "%s: within the bound",
		              keys[k]);
		capped = c->debt_capped;
		cr_expect_geq(capped, UINT64_MAX / 2, "%s: counted, not %llu",
		              keys[k], (unsigned long long)capped);
	}
	cr_expect_eq(capped, UINT64_MAX, "3 x 2^64 kept out: saturated");
	cr_expect_leq(c->applied, 3 * (bound + 1), "applied: what was debited");
	cr_expect_geq(c->applied, 3 * (bound - 1));
}
