/* SPDX-License-Identifier: ISC */
/*
 * test_quota_daemon.c - finding 8 of issue 12 against real daemons: one
 * host rule flooded with 50,000 random keys on a table of 1,000 keys no
 * longer starves the others.  Two floodgated on loopback; on node 1 two
 * processes flood a fail-closed host rule while a third inserts new keys
 * of another fail-closed rule, and node 0's workers consume keys of a
 * global rule, which node 1's daemon debits as they arrive.  Every new
 * key of the other rule is admitted in a bucket of its own, every debit
 * finds room (records_noroom stays 0, each bucket shows it), and the
 * flooded rule's table_full is what its flooders saw untracked.
 *
 * Ports: tests/ports.h's; segments "fg-quota-dI-PID".
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>

#include "tests/cluster.h"
#include "tests/helpers.h"
#include "tests/ports.h"
#include "tests/procs.h"

#define NODES      2
#define FLOODERS   2
#define FLOOD_KEYS 25000 /* each: 50,000 in all */
#define OTHER_KEYS 150
#define GLOB_KEYS  200
#define TABLE_KEYS 1000

static struct fgc_cluster K;

static void teardown(void)
{
	if (fgc_fini(&K, 0) != 0)
		cr_log_warn("cleanup: %s", K.err);
}

TestSuite(quota_daemon, .timeout = 120, .fini = teardown);

static const char rules[] = "rule flood capacity 1 rate 1/1h on-full closed\n"
                            "rule other capacity 1 rate 1/1h on-full closed\n"
                            "rule glob capacity 5 rate 1/1h scope global\n";

struct shm {
	uint64_t untracked[FLOODERS], tracked[FLOODERS];
	uint64_t other_ok, other_untracked, glob_ok;
};

struct job {
	struct start_gun gun;
	struct shm *shm;
	uint64_t seed;
};

static int flood(fg_client *c, struct job *job, unsigned i)
{
	uint64_t rng = job->seed + 7919u * i + 1;
	char key[32];
	unsigned k;

	for (k = 0; k < FLOOD_KEYS; k++) {
		fg_decision d;

		snprintf(key, sizeof key, "%016" PRIx64, xorshift(&rng));
		if (fg_allow(c, "flood", key, 1, &d) < 0)
			return WX_ERROR;
		if (d.flags & FG_DECISION_UNTRACKED)
			job->shm->untracked[i]++;
		else
			job->shm->tracked[i]++;
	}
	return 0;
}

/* New keys of @rule, @n of them, each admitted in a bucket of its own. */
static int fresh(fg_client *c, const char *rule, unsigned n, uint64_t *ok,
                 uint64_t *untracked)
{
	char key[32];
	unsigned k;

	for (k = 0; k < n; k++) {
		fg_decision d;
		int r;

		snprintf(key, sizeof key, "%s-%u", rule, k);
		r = fg_allow(c, rule, key, 1, &d);
		if (r < 0)
			return WX_ERROR;
		if (d.flags & FG_DECISION_UNTRACKED)
			++*untracked;
		else if (r == 1)
			++*ok;
	}
	return 0;
}

/* Workers 0..FLOODERS-1 flood on node 1, FLOODERS inserts "other" keys
 * on node 1, FLOODERS + 1 consumes "glob" keys on node 0. */
static int role(void *arg, unsigned i)
{
	struct job *job = arg;
	fg_client *c = NULL;
	uint64_t glob_untracked = 0;
	int r;

	if (fg_open(K.node[i == FLOODERS + 1 ? 0 : 1].seg, 0, &c) != 0)
		return WX_OPEN;
	if (gun_wait(&job->gun) != 0)
		return WX_START;
	if (i < FLOODERS)
		r = flood(c, job, i);
	else if (i == FLOODERS)
		r = fresh(c, "other", OTHER_KEYS, &job->shm->other_ok,
		          &job->shm->other_untracked);
	else
		r = fresh(c, "glob", GLOB_KEYS, &job->shm->glob_ok,
		          &glob_untracked);
	fg_close(c);
	return r == 0 && glob_untracked == 0 ? 0 : WX_ERROR;
}

/* Node 1's bucket of every key node 0 consumed shows it: 4 of 5 left. */
static unsigned debits_seen(void)
{
	char key[32];
	unsigned k, n = 0;
	int64_t left;

	for (k = 0; k < GLOB_KEYS; k++) {
		snprintf(key, sizeof key, "glob-%u", k);
		CLUSTER_OK(&K, fgc_left(&K, 1, "glob", key, &left));
		n += left == 4;
	}
	return n;
}

Test(quota_daemon, a_flooded_host_rule_leaves_room_for_other_rules_and_debits)
{
	struct fgc_conf conf = {
	    .capacity = TABLE_KEYS, .interval_ms = 50, .extra = rules};
	struct shm *shm = shared_alloc(sizeof *shm);
	struct job job = {.shm = shm, .seed = fg__now_ns() | 1};
	uint64_t t0, untracked;
	struct fgc_counters g;
	fg_share_info si;
	fg_rule_info ri;
	int i, flood_idx;

	CLUSTER_OK(&K, fgc_init(&K, NODES, "fg-quota-d"));
	fgc_set_ports(&K, fgt_ports(K.n));
	CLUSTER_OK(&K, fgc_make_keys(&K));
	for (i = 0; i < NODES; i++)
		CLUSTER_OK(&K, fgc_write_conf(&K, i, &conf));
	CLUSTER_OK(&K, fgc_start_all(&K, "glob"));
	cr_log_info("seed %" PRIu64, job.seed);

	gun_load(&job.gun);
	spawn_n(role, &job, FLOODERS + 2);
	gun_fire(&job.gun, FLOODERS + 2);
	wait_children(FLOODERS + 2);

	cr_expect_eq(shm->other_ok, OTHER_KEYS, "other: %" PRIu64 " untracked",
	             shm->other_untracked);
	cr_expect_eq(shm->glob_ok, GLOB_KEYS);
	/* every debit arrives and finds room (a repair at worst) */
	t0 = fg__now_ns();
	while (debits_seen() < GLOB_KEYS && fg__now_ns() - t0 < 15 * SEC)
		usleep(20000);
	cr_expect_eq(debits_seen(), GLOB_KEYS);
	CLUSTER_OK(&K, fgc_counters(&K, 1, &g));
	cr_expect_eq(g.noroom, 0, "node 1: %llu debits without room", g.noroom);
	cr_expect_geq(g.applied, GLOB_KEYS);

	flood_idx = fg__rule_index(K.node[1].fg, "flood");
	cr_assert_geq(flood_idx, 0);
	cr_assert_eq(fg_rule_get(K.node[1].fg, (uint32_t)flood_idx, &ri), 0);
	cr_assert_eq(fg_rule_share_get(K.node[1].fg, (uint32_t)flood_idx, &si),
	             0);
	untracked = shm->untracked[0] + shm->untracked[1];
	cr_expect_gt(untracked, 0);
	cr_expect_eq(ri.table_full, untracked,
	             "counted %" PRIu64 ", flooders saw %" PRIu64,
	             ri.table_full, untracked);
	cr_expect_eq(si.over_quota, untracked);
	cr_expect_eq(si.slots, shm->tracked[0] + shm->tracked[1]);
	cr_expect_eq(si.slots, si.slot_quota, "the flood holds %" PRIu64,
	             si.slots);
}
