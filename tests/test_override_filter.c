/* SPDX-License-Identifier: ISC */
/*
 * test_override_filter.c - the override filter (shm/override.c): a key
 * without an override is told so by the filter without a probe, a key
 * with one is never told so, a change by the owner is seen by the next
 * check of any process (also while the owner rebuilds the filter), set
 * and removed overrides survive rebuilds exactly, and a filter whose
 * bits are all set (every key a false positive) still answers right.
 */
#include "tests/helpers.h"
#include "tests/procs.h"

#include "shm/override.h"

#define BIG 1000000u /* the rule's capacity: checks are admitted */

static fg_client *fl_create(const char *tag)
{
	fg_client *c = test_create(tag, 4096);

	/* 10^6 tokens, one a ns: every check admitted, d.limit tells
	 * which parameters it applied */
	test_rule(c, "api", BIG, 1000000000u, 1000, 0);
	return c;
}

static void fl_destroy(fg_client *c, const char *tag)
{
	fg_close(c);
	(void)fg_unlink(test_segment(tag));
}

static int fl_set(fg_client *c, unsigned kind, const char *key, uint32_t cap)
{
	struct fg_ovr_entry e;

	memset(&e, 0, sizeof e);
	e.rule = (uint8_t)rule_index(c, "api");
	e.kind = (uint8_t)kind;
	e.keylen = (uint8_t)strlen(key);
	memcpy(e.key, key, e.keylen);
	e.capacity = cap;
	e.rate = 1000000000u;
	e.period_ms = 1000;
	return fg__override_set(c, &e);
}

static int fl_rm(fg_client *c, unsigned kind, const char *key)
{
	return fg__override_remove(c, (unsigned)rule_index(c, "api"), kind, key,
	                           strlen(key));
}

/* The capacity a check of @key applies (and admits with). */
static uint32_t limit_of(fg_client *c, const char *key)
{
	fg_decision d;
	int r = fg_allow(c, "api", key, 1, &d);

	cr_assert_eq(r, 1, "%s: %d", key, r);
	return d.limit;
}

/* Whether the filter sends @key to a probe. */
static int filter_passes(fg_client *c, const char *key)
{
	size_t len = strlen(key);
	struct fg_ovr_cands k;
	unsigned idx = (unsigned)rule_index(c, "api");

	return fg__ovr_filter(c->seg.ovr, c->seg.tbl.seed, idx, key, len,
	                      fg__hash64(c->seg.tbl.seed, idx, key, len), &k);
}

/* 64 exact overrides and two prefixes, as a rule with tiers has. */
static void some_overrides(fg_client *c)
{
	char key[32];
	unsigned i;

	for (i = 0; i < 64; i++) {
		snprintf(key, sizeof key, "vip:%u", i);
		cr_assert_eq(fl_set(c, 0, key, 100 + i), 0);
	}
	cr_assert_eq(fl_set(c, FG_OVR_PREFIX, "premium:", 7), 0);
	cr_assert_eq(fl_set(c, FG_OVR_PREFIX,
	                    "a-rather-long-prefix-of-40-bytes"
	                    "-------:",
	                    9),
	             0);
}

Test(override_filter, a_key_with_an_override_always_passes_the_filter)
{
	fg_client *c = fl_create("flyes");
	char key[80];
	unsigned i;

	some_overrides(c);
	for (i = 0; i < 64; i++) {
		snprintf(key, sizeof key, "vip:%u", i);
		cr_assert(filter_passes(c, key), "%s", key);
		cr_assert_eq(limit_of(c, key), 100 + i);
	}
	for (i = 0; i < 1000; i++) {
		snprintf(key, sizeof key, "premium:%u", i);
		cr_assert(filter_passes(c, key), "%s", key);
		cr_assert_eq(limit_of(c, key), 7);
		snprintf(key, sizeof key,
		         "a-rather-long-prefix-of-40-bytes-------:%u", i);
		cr_assert(filter_passes(c, key), "%s", key);
		cr_assert_eq(limit_of(c, key), 9);
	}
	fl_destroy(c, "flyes");
}

/* The filter's point: nearly every key without an override is told so
 * without a probe (4 bits of 64 in one of 8192 words an item). */
Test(override_filter, keys_without_an_override_almost_never_pass_the_filter)
{
	fg_client *c = fl_create("flno");
	unsigned i, passed = 0;
	char key[80];

	some_overrides(c);
	for (i = 0; i < 100000; i++) {
		snprintf(key, sizeof key, "%s:%u",
		         i & 1 ? "user" : "a-rather-long-prefix-of-40-bytes-",
		         i);
		passed += (unsigned)filter_passes(c, key);
	}
	cr_assert_leq(passed, 20, "%u of 100000 keys passed", passed);
	cr_assert_eq(limit_of(c, "user:1"), BIG);
	cr_assert_eq(limit_of(c, "premium"), BIG); /* shorter than it */
	fl_destroy(c, "flno");
}

/* A false positive costs a probe, never an answer: with every bit of
 * both copies set, every key is probed and each gets what it has. */
Test(override_filter, a_saturated_filter_still_answers_right)
{
	fg_client *c = fl_create("flsat");
	char key[32];
	unsigned i;

	some_overrides(c);
	memset(c->seg.ovr->filter, 0xff, sizeof c->seg.ovr->filter);
	cr_assert(filter_passes(c, "user:1"));
	for (i = 0; i < 200; i++) {
		snprintf(key, sizeof key, "vip:%u", i);
		cr_assert_eq(limit_of(c, key), i < 64 ? 100 + i : BIG, "%s",
		             key);
		snprintf(key, sizeof key, "premium:%u", i);
		cr_assert_eq(limit_of(c, key), 7);
		snprintf(key, sizeof key, "user:%u", i);
		cr_assert_eq(limit_of(c, key), BIG);
	}
	cr_assert_eq(fl_rm(c, 0, "vip:3"), 1);
	cr_assert_eq(limit_of(c, "vip:3"), BIG, "removed: the bits stay");
	fl_destroy(c, "flsat");
}

/* Removals clear no bits: the owner rebuilds the spare copy once the
 * live one has taken FG_OVR_FILTER_REBUILD items.  After twice that
 * many set/rm cycles, every live override still applies, none of the
 * removed does, and the removed keys no longer pass the filter. */
Test(override_filter, rebuilds_after_many_cycles_keep_exactly_the_live_ones)
{
	fg_client *c = fl_create("flcycle");
	unsigned i, n = 2 * FG_OVR_FILTER_REBUILD + 10, passed = 0;
	uint64_t gen0;
	char key[32];

	some_overrides(c);
	gen0 = c->seg.ovr->filter_gen;
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof key, "churn:%u", i);
		cr_assert_eq(fl_set(c, 0, key, 50), 0);
		if (i % 1000 == 0) /* live for the next check anyone makes */
			cr_assert_eq(limit_of(c, key), 50);
		cr_assert_eq(fl_rm(c, 0, key), 1);
	}
	cr_assert_geq(c->seg.ovr->filter_gen, gen0 + 2, "rebuilt %llu times",
	              (unsigned long long)(c->seg.ovr->filter_gen - gen0));
	cr_assert_leq(c->seg.ovr->filter_items, FG_OVR_FILTER_REBUILD);
	for (i = 0; i < 64; i++) {
		snprintf(key, sizeof key, "vip:%u", i);
		cr_assert_eq(limit_of(c, key), 100 + i, "%s", key);
	}
	cr_assert_eq(limit_of(c, "premium:x"), 7);
	for (i = 0; i < n; i += 7) {
		snprintf(key, sizeof key, "churn:%u", i);
		cr_assert_eq(limit_of(c, key), BIG, "%s came back", key);
	}
	/* those removed before the last rebuild left no bits behind */
	for (i = 0; i < FG_OVR_FILTER_REBUILD; i++) {
		snprintf(key, sizeof key, "churn:%u", i);
		passed += (unsigned)filter_passes(c, key);
	}
	cr_assert_leq(passed, 10, "%u removed keys still pass", passed);
	fl_destroy(c, "flcycle");
}

/* A worker opened before any override sees one set by the owner (in
 * another process) at its next check, and its removal too. */
Test(override_filter, another_process_sees_each_set_and_rm_at_its_next_check)
{
	fg_client *c = fl_create("flnext"), *w;
	char key[32], seg[80];
	unsigned i;

	cr_assert_eq(fg_open(test_segment("flnext"), 0, &w), 0);
	cr_assert_eq(limit_of(w, "k"), BIG);
	snprintf(seg, sizeof seg, "%s", test_segment("flnext"));
	for (i = 0; i < 200; i++) {
		pid_t pid = fork();
		int st;

		cr_assert_geq(pid, 0);
		if (pid == 0) { /* the owner: floodgate override set, rm */
			fg_client *o;

			if (fg_open(seg, 0, &o) != 0)
				_exit(WX_OPEN);
			snprintf(key, sizeof key, "k%u", i % 3 ? i : 0);
			_exit(fl_set(o, i & 1 ? FG_OVR_PREFIX : 0, key,
			             10 + i) == 0
			          ? 0
			          : WX_ERROR);
		}
		cr_assert_eq(waitpid(pid, &st, 0), pid);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%#x", st);
		snprintf(key, sizeof key, "k%u", i % 3 ? i : 0);
		cr_assert_eq(limit_of(w, key), 10 + i, "%s", key);
		cr_assert_eq(fl_rm(c, i & 1 ? FG_OVR_PREFIX : 0, key), 1);
		cr_assert_eq(limit_of(w, key), BIG, "%s removed", key);
	}
	fg_close(w);
	fl_destroy(c, "flnext");
}

/* What a check sees between an entry's bits and the entry (the
 * owner's hook runs there). */
struct mid {
	fg_client *w;
	int passes, live;
	uint32_t limit;
};

static void mid_look(fg_client *c, void *arg)
{
	struct mid *m = arg;
	struct fg_ovr_entry e;

	m->passes = filter_passes(m->w, "mid");
	m->live = fg__ovr_find(c->seg.ovr, c->seg.tbl.seed, 0, 0, "mid", 3, &e);
	m->limit = limit_of(m->w, "mid");
}

/* The order a check relies on: once an entry is live its bits are set,
 * so a check that finds a bit clear is one made before the entry was. */
Test(override_filter, an_entrys_bits_go_in_before_the_entry)
{
	fg_client *c = fl_create("flmid"), *w;
	struct mid m = {0};

	cr_assert_eq(fg_open(test_segment("flmid"), 0, &w), 0);
	cr_assert_eq(fl_set(c, 0, "other", 9), 0); /* the rule's flag */
	m.w = w;
	c->ovr_hook = mid_look;
	c->ovr_arg = &m;
	cr_assert_eq(fl_set(c, 0, "mid", 55), 0);
	c->ovr_hook = NULL;
	cr_assert(m.passes, "the entry's bits were not set before it");
	cr_assert_not(m.live, "the entry went live before the hook");
	cr_assert_eq(m.limit, BIG, "a check in between: not yet");
	cr_assert_eq(limit_of(w, "mid"), 55);
	fg_close(w);
	fl_destroy(c, "flmid");
}

static void die(fg_client *c, void *arg)
{
	(void)c;
	(void)arg;
	_exit(0);
}

/* An owner killed between the bits and the entry leaves a wasted probe,
 * not an override, nor a lock: the next owner sets it. */
Test(override_filter, an_owner_killed_between_bits_and_entry_leaves_no_override)
{
	fg_client *c = fl_create("flkill");
	char seg[80];
	pid_t pid;
	int st;

	snprintf(seg, sizeof seg, "%s", test_segment("flkill"));
	cr_assert_eq(fl_set(c, 0, "other", 9), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		fg_client *o;

		if (fg_open(seg, 0, &o) != 0)
			_exit(WX_OPEN);
		o->ovr_hook = die;
		(void)fl_set(o, 0, "mid", 55);
		_exit(WX_ERROR); /* the hook did not run */
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%#x", st);
	cr_assert(filter_passes(c, "mid"));
	cr_assert_eq(limit_of(c, "mid"), BIG);
	cr_assert_eq(fl_set(c, 0, "mid", 55), 0);
	cr_assert_eq(limit_of(c, "mid"), 55);
	cr_assert_eq(limit_of(c, "other"), 9);
	fl_destroy(c, "flkill");
}

/* The previous layout, as its release wrote it (the segment fuzz
 * corpus's seed): its owners publish entries without their bits, which
 * this version's checks would never find. */
Test(override_filter, a_segment_of_layout_version_6_is_refused)
{
	expect_old_segment_refused(
	    "tests/fuzz/corpus/segment/v6-capacity-1-full",
	    test_segment("flv6"));
	cr_expect_geq(FG_LAYOUT_VERSION, 7);
}

/* ------------------------------------------------ across processes */

/*
 * The owner flips the override of "flip" (set, removed) and rebuilds
 * the filter after every change, while readers check.  Its phases, in
 * state: 4n set starting, 4n+1 set returned, 4n+2 rm starting, 4n+3 rm
 * returned.  A check made within one phase (state the same before and
 * after it) must apply the override in phase 1, must not in phase 3,
 * and in phase 0 must apply it when the reader saw the entry live (an
 * unfiltered find) before the check: the bits went in before the entry.
 * The permanent keys keep what they have throughout.
 */
#define FLIP_READERS 2u
#define FLIP_ROUNDS  1500u
#define FLIP_CAP     4321u

struct flip_shm {
	uint64_t state, stop;
	uint64_t checks[FLIP_READERS], seen[FLIP_READERS];
	uint64_t wrong[FLIP_READERS][6], witnessed[FLIP_READERS];
};

struct flip_job {
	struct flip_shm *shm;
	struct start_gun gun;
	const char *segment;
};

/* The phase + 1 whose rule the check of "flip" broke, else 0. */
static int flip_once(fg_client *c, struct flip_shm *shm, unsigned i)
{
	struct fg_ovr_entry e;
	uint64_t s1 = load64(&shm->state), s2;
	int live =
	    fg__ovr_find(c->seg.ovr, c->seg.tbl.seed, 0, 0, "flip", 4, &e);
	fg_decision d;

	/* a denial (a reader stalled between its clock and its update)
	 * still says which parameters it applied */
	if (fg_allow(c, "api", "flip", 1, &d) < 0)
		return 5;
	s2 = load64(&shm->state);
	if (s1 != s2)
		return 0;
	shm->checks[i]++;
	shm->seen[i] += d.limit == FLIP_CAP;
	switch (s1 & 3) {
	case 0:
		shm->witnessed[i] += (uint64_t)live;
		return live && d.limit != FLIP_CAP ? 1 : 0;
	case 1:
		return d.limit != FLIP_CAP ? 2 : 0;
	case 3:
		return d.limit != BIG ? 4 : 0;
	}
	return 0;
}

static int flip_reader(void *arg, unsigned i)
{
	struct flip_job *job = arg;
	uint64_t deadline = fg__now_ns() + WORKER_DEADLINE_NS, n = 0;
	fg_client *c;
	fg_decision d;

	if (fg_open(job->segment, 0, &c) != 0)
		return WX_OPEN;
	if (gun_wait(&job->gun) != 0)
		return WX_START;
	while (!load64(&job->shm->stop)) {
		job->shm->wrong[i][flip_once(c, job->shm, i)]++;
		if (fg_allow(c, "api", "vip", 1, &d) < 0 || d.limit != 77 ||
		    fg_allow(c, "api", "premium:1", 1, &d) < 0 ||
		    d.limit != 7 || fg_allow(c, "api", "user", 1, &d) < 0 ||
		    d.limit != BIG)
			job->shm->wrong[i][3]++;
		if ((++n & 255) == 0 && fg__now_ns() > deadline)
			return WX_DEADLINE;
	}
	fg_close(c);
	return 0;
}

/* One round of the owner: set, rm, each followed by a rebuild. */
static void flip_round(fg_client *c, struct flip_shm *shm, uint64_t n)
{
	store64(&shm->state, 4 * n);
	cr_assert_eq(fl_set(c, 0, "flip", FLIP_CAP), 0);
	store64(&shm->state, 4 * n + 1);
	cr_assert_eq(fg__seg_lock(&c->seg), 0);
	fg__ovr_filter_rebuild(c->seg.ovr, c->seg.tbl.seed);
	fg__seg_unlock(&c->seg);
	store64(&shm->state, 4 * n + 2);
	cr_assert_eq(fl_rm(c, 0, "flip"), 1);
	store64(&shm->state, 4 * n + 3);
	cr_assert_eq(fg__seg_lock(&c->seg), 0);
	fg__ovr_filter_rebuild(c->seg.ovr, c->seg.tbl.seed);
	fg__seg_unlock(&c->seg);
}

Test(override_filter, checks_never_disagree_with_a_change_that_returned)
{
	fg_client *c = fl_create("flflip");
	struct flip_shm *shm = shared_alloc(sizeof *shm);
	struct flip_job job = {.shm = shm, .segment = test_segment("flflip")};
	uint64_t checks = 0, seen = 0, wrong[6] = {0}, witnessed = 0;
	unsigned i, k;

	cr_assert_eq(rule_index(c, "api"), 0);
	cr_assert_eq(fl_set(c, 0, "vip", 77), 0);
	cr_assert_eq(fl_set(c, FG_OVR_PREFIX, "premium:", 7), 0);
	store64(&shm->state, 3);
	gun_load(&job.gun);
	spawn_n(flip_reader, &job, FLIP_READERS);
	gun_fire(&job.gun, FLIP_READERS);
	for (i = 1; i <= FLIP_ROUNDS; i++)
		flip_round(c, shm, i);
	store64(&shm->stop, 1);
	wait_children((int)FLIP_READERS);
	for (i = 0; i < FLIP_READERS; i++) {
		checks += load64(&shm->checks[i]);
		seen += load64(&shm->seen[i]);
		for (k = 1; k < 6; k++)
			wrong[k] += load64(&shm->wrong[i][k]);
		witnessed += load64(&shm->witnessed[i]);
	}
	cr_assert_eq(wrong[1] + wrong[2] + wrong[3] + wrong[4] + wrong[5], 0,
	             "of %llu checks, wrong: %llu missed a live entry before "
	             "its set returned, %llu missed a set that returned, %llu "
	             "of the permanent keys, %llu applied a removed one, %llu "
	             "errors",
	             (unsigned long long)checks, (unsigned long long)wrong[1],
	             (unsigned long long)wrong[2], (unsigned long long)wrong[3],
	             (unsigned long long)wrong[4],
	             (unsigned long long)wrong[5]);
	cr_assert_gt(seen, 100, "the override was applied %llu times of %llu",
	             (unsigned long long)seen, (unsigned long long)checks);
	cr_assert_gt(checks - seen, 100, "and the rule's %llu times",
	             (unsigned long long)(checks - seen));
	cr_log_info("%llu checks, %llu in phase 0 with the entry live",
	            (unsigned long long)checks, (unsigned long long)witnessed);
	munmap(shm, sizeof *shm);
	fl_destroy(c, "flflip");
}
