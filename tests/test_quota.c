/* SPDX-License-Identifier: ISC */
/*
 * test_quota.c - per-rule quotas of slots (shm/quota.c): one rule flooded
 * with new keys keeps within its share of the table, the other rules'
 * new keys and the daemon's debits of a global rule still find room, and
 * what the flooders saw refused is what the rule's counters say.  Then
 * workers SIGKILLed in the middle of inserts, after which the owner's
 * maintenance brings each rule's count of slots back to what the table
 * holds.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>

#include "shm/quota.h"
#include "tests/helpers.h"
#include "tests/procs.h"

TestSuite(quota, .timeout = 120);

static const char *seg_name(const char *tag)
{
	static char name[80];

	snprintf(name, sizeof name, "fg-quota-%s-%d", tag, (int)getpid());
	return name;
}

static fg_client *quota_create(const char *tag, uint64_t capacity)
{
	fg_segment_opts o = {.capacity = capacity};
	fg_client *c = NULL;
	int r;

	(void)fg_unlink(seg_name(tag));
	r = fg_create(seg_name(tag), &o, 0, &c);
	cr_assert_eq(r, 0, "fg_create: %s", fg_strerror(r));
	return c;
}

static void rule_share(fg_client *c, const char *name, uint32_t rate,
                       uint32_t period_ms, uint32_t flags, uint32_t share)
{
	fg_rule rule = {.name = name,
	                .capacity = 1,
	                .rate = rate,
	                .period_ms = period_ms,
	                .flags = flags};
	int r = fg_rule_set(c, &rule);

	cr_assert_eq(r, 0, "fg_rule_set(%s): %s", name, fg_strerror(r));
	if (share != 0) /* else the default, a new rule's */
		cr_assert_eq(fg_rule_share_set(c, name, share), 0);
}

/* What fg_rule_get() and fg_rule_share_get() say of rule @name. */
struct info {
	uint64_t table_full, slots, slot_quota, over_quota;
};

static struct info info_of(fg_client *c, const char *name)
{
	uint32_t idx = (uint32_t)rule_index(c, name);
	fg_share_info si;
	fg_rule_info ri;

	cr_assert_eq(fg_rule_get(c, idx, &ri), 0);
	cr_assert_eq(fg_rule_share_get(c, idx, &si), 0);
	return (struct info){ri.table_full, si.slots, si.slot_quota,
	                     si.over_quota};
}

/* The slots the buckets of rule @name hold, counted in the table. */
static uint64_t slots_in_table(fg_client *c, const char *name)
{
	unsigned idx = (unsigned)rule_index(c, name);
	uint64_t i, n = 0, nslots = fg__table_nslots(&c->seg.tbl);
	struct fg_slot_view v;

	for (i = 0; i < nslots; i++) {
		/* a bucket evicted but not yet buried (its evictor was killed
		 * between the two steps; the next check or eviction that
		 * meets it finishes it, table.c) still holds its slots */
		int held = fg__slot_read(&c->seg.tbl, i, &v) ||
		           (v.state == FG_SLOT_READY &&
		            v.tat == FG_TAT_EVICTED && v.keylen > 0);

		if (held && v.rule == idx)
			n++; /* a slot a key, long or short (layout 9) */
		/* a key frozen for a move (its mover was killed) holds its
		 * slot until the reap ends the move (shm/cuckoo.c) */
		if (v.state == FG_SLOT_MOVING &&
		    FG_W_RULE(c->seg.tbl.slots[i].word) == idx)
			n++;
	}
	return n;
}

/* ------------------------------------------------ 1. one rule flooded */

#define FLOODERS      2
#define FLOOD_KEYS    25000 /* each: 50,000 random keys in all */
#define OTHER_KEYS    200
#define DEBIT_KEYS    150
#define TABLE_KEYS    1000
#define ROLE_FLOOD(i) ((i) < FLOODERS)

struct flood_shm {
	uint64_t untracked[FLOODERS]; /* flood checks the flooder saw so */
	uint64_t tracked[FLOODERS];
	uint64_t other_untracked, other_denied, other_tracked;
	uint64_t debits_ok, debits_failed;
};

struct flood_job {
	const char *seg;
	struct start_gun gun;
	struct flood_shm *shm;
	uint64_t seed;
};

static int flood_worker(struct flood_job *job, fg_client *c, unsigned i)
{
	uint64_t rng = job->seed + i * 7919u + 1;
	char key[32];
	unsigned k;

	for (k = 0; k < FLOOD_KEYS; k++) {
		fg_decision d;
		int r;

		snprintf(key, sizeof key, "%016" PRIx64, xorshift(&rng));
		r = fg_allow(c, "flood", key, 1, &d);
		if (r < 0)
			return WX_ERROR;
		if (d.flags & FG_DECISION_UNTRACKED)
			job->shm->untracked[i]++;
		else
			job->shm->tracked[i]++;
	}
	return 0;
}

/* New keys of another host rule, all admitted (fresh buckets). */
static int other_worker(struct flood_job *job, fg_client *c)
{
	char key[32];
	unsigned k;

	for (k = 0; k < OTHER_KEYS; k++) {
		fg_decision d;
		int r;

		snprintf(key, sizeof key, "other-%u", k);
		r = fg_allow(c, "other", key, 1, &d);
		if (r < 0)
			return WX_ERROR;
		job->shm->other_untracked +=
		    (d.flags & FG_DECISION_UNTRACKED) != 0;
		job->shm->other_denied += r == 0;
		job->shm->other_tracked +=
		    r == 1 && !(d.flags & FG_DECISION_UNTRACKED);
	}
	return 0;
}

/* What the daemon does with a peer's records: debits of a global rule. */
static int debit_worker(struct flood_job *job, fg_client *c)
{
	char key[32];
	unsigned k;

	for (k = 0; k < DEBIT_KEYS; k++) {
		snprintf(key, sizeof key, "remote-%u", k);
		if (fg__debit(c, (unsigned)fg__rule_index(c, "glob"), key,
		              strlen(key), 1, UINT64_C(1) << 40, NULL) == 0)
			job->shm->debits_ok++;
		else
			job->shm->debits_failed++;
	}
	return 0;
}

static int flood_role(void *arg, unsigned i)
{
	struct flood_job *job = arg;
	fg_client *c = NULL;
	int r;

	if (fg_open(job->seg, 0, &c) != 0)
		return WX_OPEN;
	if (gun_wait(&job->gun) != 0)
		return WX_START;
	if (ROLE_FLOOD(i))
		r = flood_worker(job, c, i);
	else if (i == FLOODERS)
		r = other_worker(job, c);
	else
		r = debit_worker(job, c);
	fg_close(c);
	return r;
}

/* Run the flood on @c's segment: FLOODERS flooders, one process inserting
 * new keys of "other", one debiting "glob". */
static void flood_run(fg_client *c, const char *seg, struct flood_shm *shm)
{
	struct flood_job job = {.seg = seg, .shm = shm};

	job.seed = fg__now_ns() | 1;
	cr_log_info("seed %" PRIu64, job.seed);
	gun_load(&job.gun);
	spawn_n(flood_role, &job, FLOODERS + 2);
	gun_fire(&job.gun, FLOODERS + 2);
	wait_children(FLOODERS + 2);
	(void)c;
}

static uint64_t flood_untracked(const struct flood_shm *shm)
{
	uint64_t n = 0;
	unsigned i;

	for (i = 0; i < FLOODERS; i++)
		n += shm->untracked[i];
	return n;
}

/* The other rules came through whole: every new key tracked and admitted,
 * every debit applied, and each bucket in the table. */
static void others_whole(fg_client *c, const struct flood_shm *shm)
{
	struct info other = info_of(c, "other"), glob = info_of(c, "glob");

	cr_expect_eq(shm->other_untracked, 0, "other: %" PRIu64 " untracked",
	             shm->other_untracked);
	cr_expect_eq(shm->other_tracked, OTHER_KEYS);
	cr_expect_eq(shm->debits_ok, DEBIT_KEYS, "debits: %" PRIu64 " failed",
	             shm->debits_failed);
	cr_expect_eq(other.table_full, 0);
	cr_expect_eq(glob.table_full, 0);
	cr_expect_eq(slots_in_table(c, "other"), OTHER_KEYS);
	cr_expect_eq(slots_in_table(c, "glob"), DEBIT_KEYS);
	cr_expect_eq(other.slots, OTHER_KEYS);
	cr_expect_eq(glob.slots, DEBIT_KEYS);
}

Test(quota, a_flooded_rule_keeps_to_its_half_and_others_find_room)
{
	fg_client *c = quota_create("flood", TABLE_KEYS);
	struct flood_shm *shm = shared_alloc(sizeof *shm);
	struct info fl;
	uint64_t nslots = fg__table_nslots(&c->seg.tbl), held;

	/* No refill within the test: a flooded bucket never makes room. */
	rule_share(c, "flood", 1, HOUR_MS, FG_RULE_FAIL_CLOSED, 0);
	rule_share(c, "other", 1, HOUR_MS, FG_RULE_FAIL_CLOSED, 0);
	rule_share(c, "glob", 1, HOUR_MS, FG_RULE_GLOBAL, 0);
	flood_run(c, seg_name("flood"), shm);

	fl = info_of(c, "flood");
	held = slots_in_table(c, "flood");
	cr_expect_eq(fl.slot_quota, nslots / 2, "quota %" PRIu64 " of %" PRIu64,
	             fl.slot_quota, nslots);
	cr_expect_eq(held, fl.slot_quota, "the flood holds %" PRIu64, held);
	cr_expect_eq(fl.slots, held);
	/* What the flooders saw refused is what the rule counted. */
	cr_expect_eq(flood_untracked(shm), fl.table_full,
	             "seen %" PRIu64 ", counted %" PRIu64, flood_untracked(shm),
	             fl.table_full);
	cr_expect_eq(fl.over_quota, fl.table_full);
	cr_expect_eq(shm->tracked[0] + shm->tracked[1], held);
	others_whole(c, shm);
	fg_close(c);
	(void)fg_unlink(seg_name("flood"));
}

Test(quota, a_flooded_rule_evicts_only_its_own_full_buckets)
{
	fg_client *c = quota_create("evict", TABLE_KEYS);
	struct flood_shm *shm = shared_alloc(sizeof *shm);
	struct info fl;
	uint64_t held, tracked = 0;
	unsigned i;

	/* A bucket full again after 1 ms: the flood evicts its own. */
	rule_share(c, "flood", 1000, 1000, FG_RULE_FAIL_CLOSED, 25);
	rule_share(c, "other", 1000, 1000, FG_RULE_FAIL_CLOSED, 0);
	rule_share(c, "glob", 1, HOUR_MS, FG_RULE_GLOBAL, 0);
	flood_run(c, seg_name("evict"), shm);

	fl = info_of(c, "flood");
	held = slots_in_table(c, "flood");
	cr_expect_leq(held, fl.slot_quota, "the flood holds %" PRIu64, held);
	cr_expect_eq(fl.slots, held);
	for (i = 0; i < FLOODERS; i++)
		tracked += shm->tracked[i];
	cr_expect_gt(tracked, fl.slot_quota, "the flood evicted none");
	cr_expect_eq(flood_untracked(shm), fl.table_full);
	cr_expect_eq(fl.over_quota, fl.table_full);
	/* every bucket of "other" is full too, and none went */
	others_whole(c, shm);
	fg_close(c);
	(void)fg_unlink(seg_name("evict"));
}

/* ------------------------------------------- 2. workers killed anywhere */

#define KILL_WORKERS 4
#define KILL_ROUNDS  40

static int kill_worker(void *arg, unsigned i)
{
	struct flood_job *job = arg;
	uint64_t rng = job->seed + i * 104729u + 1;
	fg_client *c = NULL;
	char key[64];

	if (fg_open(job->seg, 0, &c) != 0)
		return WX_OPEN;
	store64(&job->shm->tracked[i % FLOODERS], 1); /* attached */
	for (;;) {
		uint64_t x = xorshift(&rng);

		/* short and long keys: a slot each, a record for the long */
		snprintf(key, sizeof key, "%0*" PRIx64, (int)(8 + x % 40), x);
		if (fg_allow(c, "flood", key, 1, NULL) < 0)
			return WX_ERROR;
	}
}

Test(quota, counts_left_by_killed_workers_converge_to_the_table)
{
	fg_client *c = quota_create("kill", TABLE_KEYS);
	struct flood_shm *shm = shared_alloc(sizeof *shm);
	struct flood_job job = {.seg = seg_name("kill"), .shm = shm};
	uint64_t rng = fg__now_ns() | 1, leaked = 0, held, q;
	pid_t pids[KILL_WORKERS];
	struct info fl;
	unsigned round, i;

	/* refilled in 1 ms: workers evict each other's buckets all along */
	rule_share(c, "flood", 1000, 1000, FG_RULE_FAIL_CLOSED, 30);
	job.seed = rng;
	cr_log_info("seed %" PRIu64, rng);
	/* more rounds while no kill has landed between the table and the
	 * count yet (a few in a hundred do) */
	for (round = 0; round < KILL_ROUNDS || (leaked == 0 && round < 400);
	     round++) {
		memset(shm, 0, sizeof *shm);
		for (i = 0; i < KILL_WORKERS; i++)
			pids[i] = spawn(kill_worker, &job, i);
		await_count(&shm->tracked[0], 1, "attached");
		await_count(&shm->tracked[1], 1, "attached");
		usleep(2000);
		kill_each(pids, KILL_WORKERS, &rng, 500);
		fl = info_of(c, "flood");
		held = slots_in_table(c, "flood");
		/* a kill leaves the count high, never low */
		cr_assert_geq(fl.slots, held, "round %u", round);
		leaked += fl.slots - held;
		q = fl.slot_quota;
		cr_assert_leq(held, q, "round %u: %" PRIu64 " over %" PRIu64,
		              round, held, q);
	}
	cr_log_info("%u rounds; slots left counted by killed workers: %" PRIu64,
	            round, leaked);
	cr_expect_gt(leaked, 0, "no kill left the count wrong: nothing tested");
	/* The owner's maintenance: claims of the dead go, counts are set. */
	cr_assert_geq(fg_reap(c, 0), 0);
	cr_assert_geq(fg_reap(c, 0), 0);
	fl = info_of(c, "flood");
	held = slots_in_table(c, "flood");
	cr_expect_eq(fl.slots, held, "counted %" PRIu64 ", table %" PRIu64,
	             fl.slots, held);
	fg_close(c);
	(void)fg_unlink(seg_name("kill"));
}

/* A count made wrong by hand (a killed process) and a rule starved by
 * it: the maintenance gives the rule its quota back. */
Test(quota, a_count_left_too_high_is_set_by_fg_reap)
{
	fg_client *c = quota_create("resync", 100);
	struct fg_rule_rec *rec;
	char key[16];
	fg_decision d;
	unsigned k;

	rule_share(c, "r", 1, HOUR_MS, FG_RULE_FAIL_CLOSED, 10);
	rec = &c->seg.rules[rule_index(c, "r")];
	cr_assert_eq(fg_allow(c, "r", "a", 1, &d), 1);
	/* as an inserter killed after reserving leaves it, many times */
	__atomic_fetch_add(&rec->slots, 50 * FG_QUOTA_OP + 50,
	                   __ATOMIC_SEQ_CST);
	cr_expect_eq(fg_allow(c, "r", "b", 1, &d), 0);
	cr_expect(d.flags & FG_DECISION_UNTRACKED);
	cr_assert_geq(fg_reap(c, 0), 0);
	cr_expect_eq(info_of(c, "r").slots, 1);
	for (k = 0; k < info_of(c, "r").slot_quota - 1; k++) {
		snprintf(key, sizeof key, "k%u", k);
		cr_expect_eq(fg_allow(c, "r", key, 1, &d), 1, "key %u", k);
		cr_expect(!(d.flags & FG_DECISION_UNTRACKED), "key %u", k);
	}
	cr_expect_eq(fg_allow(c, "r", "one-too-many", 1, &d), 0);
	cr_expect_eq(info_of(c, "r").over_quota, 2);
	fg_close(c);
	(void)fg_unlink(seg_name("resync"));
}

Test(quota, share_is_1_to_100_percent_and_100_means_no_quota)
{
	fg_client *c = quota_create("share", 1000);
	uint64_t nslots = fg__table_nslots(&c->seg.tbl);
	fg_share_info si;

	rule_share(c, "all", 1, 1000, 0, 100);
	rule_share(c, "some", 1, 1000, 0, 1);
	rule_share(c, "dflt", 1, 1000, 0, 0);
	cr_expect_eq(fg_rule_share_set(c, "some", 101), FG_EINVAL);
	cr_expect_eq(fg_rule_share_set(c, "none", 10), FG_ENORULE);
	cr_expect_eq(fg_rule_share_set(NULL, "some", 10), FG_EINVAL);
	cr_expect_eq(fg_rule_share_get(c, 200, &si), FG_ENORULE);
	cr_expect_eq(fg_rule_share_get(c, 0, NULL), FG_EINVAL);
	cr_expect_eq(info_of(c, "all").slot_quota, 0);
	cr_expect_eq(info_of(c, "some").slot_quota, nslots / 100);
	cr_expect_eq(info_of(c, "dflt").slot_quota, nslots / 2);
	/* a rule set again keeps its share; 0 sets the default back */
	rule_share(c, "some", 2, 1000, 0, 0);
	cr_expect_eq(info_of(c, "some").slot_quota, nslots / 100);
	cr_expect_eq(fg_rule_share_set(c, "some", 0), 0);
	cr_expect_eq(info_of(c, "some").slot_quota, nslots / 2);
	fg_close(c);
	(void)fg_unlink(seg_name("share"));
}

/* Layout 5 (shm/layout.h) brought quotas, and this version reads a later
 * one: a segment of layout 4, as the version before quotas wrote it (its
 * seed of the segment fuzz corpus), whose clients would neither keep to
 * quotas nor give slots back, is refused. */
Test(quota, a_segment_of_layout_version_4_is_refused)
{
	expect_old_segment_refused(
	    "tests/fuzz/corpus/segment/v4-capacity-1-full", seg_name("v4"));
	cr_expect_geq(FG_LAYOUT_VERSION, 5, "quotas came with 5");
}
