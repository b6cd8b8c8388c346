/* SPDX-License-Identifier: ISC */
/*
 * test_override.c - per-key overrides and tiers (shm/override.c,
 * lib/ovrset.c, daemon/overconf.c): decision tables of exact and prefix
 * overrides written from the GCRA's definition, a key without one deciding
 * exactly as before, a bucket under a change of parameters, exactness
 * across processes, the double-buffered entries, and the config's words.
 */
#include "tests/helpers.h"
#include "tests/procs.h"

#include "daemon/config.h"
#include "daemon/overapply.h"
#include "shm/override.h"

#define T0 (1000 * SEC) /* a monotonic time for fg_allow_at */

static fg_client *ov_create(const char *tag)
{
	fg_client *c = test_create(tag, 1024);

	/* 2 tokens, one a second */
	test_rule(c, "api", 2, 1, 1000, 0);
	return c;
}

static void ov_destroy(fg_client *c, const char *tag)
{
	fg_close(c);
	(void)fg_unlink(test_segment(tag));
}

/* Set an override of rule "api" (or @rule): @cap tokens, @rate a @per_ms. */
static int ov_set(fg_client *c, const char *rule, unsigned kind,
                  const char *key, uint32_t cap, uint32_t rate, uint32_t per_ms)
{
	struct fg_ovr_entry e;
	int idx = fg__rule_index(c, rule);

	cr_assert(idx >= 0, "no rule %s", rule);
	memset(&e, 0, sizeof e);
	e.rule = (uint8_t)idx;
	e.kind = (uint8_t)kind;
	e.keylen = (uint8_t)strlen(key);
	memcpy(e.key, key, e.keylen);
	e.capacity = cap;
	e.rate = rate;
	e.period_ms = per_ms;
	return fg__override_set(c, &e);
}

static int ov_rm(fg_client *c, unsigned kind, const char *key)
{
	return fg__override_remove(c, (unsigned)fg__rule_index(c, "api"), kind,
	                           key, strlen(key));
}

static uint32_t live_flags(fg_client *c, const char *rule)
{
	const struct fg_rule_rec *r = &c->seg.rules[fg__rule_index(c, rule)];

	return r->params[r->seq & 1].flags;
}

/* One row of a decision table: at T0 + @at_ms, a check of @key costing
 * 1 is @allowed with @remaining left (when allowed) and @limit. */
struct row {
	const char *key;
	uint64_t at_ms;
	int allowed;
	uint32_t remaining, limit;
};

static void table_check(fg_client *c, const struct row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		fg_decision d;
		int r = fg_allow_at(c, "api", rows[i].key, 1,
		                    T0 + rows[i].at_ms * MS, &d);

		cr_assert_eq(r, rows[i].allowed, "row %zu (%s at %llu ms): %d",
		             i, rows[i].key, (unsigned long long)rows[i].at_ms,
		             r);
		cr_assert_eq(d.limit, rows[i].limit, "row %zu: limit %u", i,
		             d.limit);
		if (r == 1)
			cr_assert_eq(d.remaining, rows[i].remaining,
			             "row %zu: remaining %u", i, d.remaining);
	}
}

Test(override, exact_override_gives_its_key_its_capacity_and_rate)
{
	fg_client *c = ov_create("ovexact");
	/* api: 2 tokens, 1/s; vip: 4 tokens, 2/s (T = 500 ms) */
	static const struct row rows[] = {
	    {"vip", 0, 1, 3, 4},   {"vip", 0, 1, 2, 4},
	    {"vip", 0, 1, 1, 4},   {"vip", 0, 1, 0, 4},
	    {"vip", 0, 0, 0, 4},   {"bob", 0, 1, 1, 2},
	    {"bob", 0, 1, 0, 2},   {"bob", 0, 0, 0, 2},
	    {"vip", 499, 0, 0, 4}, {"vip", 500, 1, 0, 4},  /* T' = 500 ms */
	    {"bob", 999, 0, 0, 2}, {"bob", 1000, 1, 0, 2}, /* T = 1 s */
	};

	cr_assert_eq(ov_set(c, "api", 0, "vip", 4, 2, 1000), 0);
	table_check(c, rows, sizeof rows / sizeof rows[0]);
	ov_destroy(c, "ovexact");
}

Test(override, longest_prefix_applies_and_an_exact_key_beats_it)
{
	fg_client *c = ov_create("ovprefix");
	static const struct row rows[] = {
	    /* "user:" 3 tokens; "user:vip:" 5; "user:vip:x" exactly 1 */
	    {"user:1", 0, 1, 2, 3},     {"user:vip:7", 0, 1, 4, 5},
	    {"user:vip:x", 0, 1, 0, 1}, {"user:vip:x", 0, 0, 0, 1},
	    {"user", 0, 1, 1, 2}, /* shorter than the prefix: the rule's */
	    {"users:1", 0, 1, 1, 2},    {"user:", 0, 1, 2, 3},
	};

	cr_assert_eq(ov_set(c, "api", FG_OVR_PREFIX, "user:", 3, 1, 1000), 0);
	cr_assert_eq(ov_set(c, "api", FG_OVR_PREFIX, "user:vip:", 5, 1, 1000),
	             0);
	cr_assert_eq(ov_set(c, "api", 0, "user:vip:x", 1, 1, 1000), 0);
	table_check(c, rows, sizeof rows / sizeof rows[0]);
	ov_destroy(c, "ovprefix");
}

/* The same checks on two segments, one with overrides of other keys:
 * every decision, field by field, is the same. */
Test(override, a_key_without_override_decides_exactly_as_before)
{
	fg_client *a = ov_create("ovsameA"), *b = ov_create("ovsameB");
	uint64_t at[] = {0, 0, 0, 1, 400, 999, 1000, 1500, 2000, 2001, 5000};
	const char *keys[] = {"bob", "vipx", "vi", "bob2"};
	size_t i, k;

	cr_assert_eq(ov_set(b, "api", 0, "vip", 9, 3, 1000), 0);
	cr_assert_eq(ov_set(b, "api", FG_OVR_PREFIX, "use", 9, 3, 1000), 0);
	cr_assert_eq(ov_set(b, "api", FG_OVR_PREFIX, "userx", 9, 3, 1000), 0);
	for (k = 0; k < sizeof keys / sizeof keys[0]; k++)
		for (i = 0; i < sizeof at / sizeof at[0]; i++) {
			fg_decision da, db;
			const char *key = keys[k];
			int ra =
			    fg_allow_at(a, "api", key, 1, T0 + at[i] * MS, &da);
			int rb =
			    fg_allow_at(b, "api", key, 1, T0 + at[i] * MS, &db);

			cr_assert_eq(ra, rb, "%s at %llu", key,
			             (unsigned long long)at[i]);
			cr_assert_eq(memcmp(&da, &db, sizeof da), 0,
			             "decision of %s at %llu", key,
			             (unsigned long long)at[i]);
		}
	ov_destroy(a, "ovsameA");
	ov_destroy(b, "ovsameB");
}

Test(override, removing_the_override_gives_the_rules_parameters_again)
{
	fg_client *c = ov_create("ovrm");
	fg_decision d;

	cr_assert_eq(live_flags(c, "api") & FG__RULE_OVERRIDES, 0);
	cr_assert_eq(ov_set(c, "api", 0, "vip", 10, 1, 1000), 0);
	cr_assert_neq(live_flags(c, "api") & FG__RULE_OVERRIDES, 0,
	              "a rule with an override carries the flag");
	cr_assert_eq(fg_allow_at(c, "api", "k2", 1, T0, &d), 1);
	cr_assert_eq(d.limit, 2, "another key keeps the rule's capacity");
	cr_assert_eq(fg_allow_at(c, "api", "vip", 1, T0, &d), 1);
	cr_assert_eq(d.limit, 10);
	cr_assert_eq(ov_rm(c, 0, "vip"), 1);
	cr_assert_eq(ov_rm(c, 0, "vip"), 0, "nothing left to remove");
	cr_assert_eq(live_flags(c, "api") & FG__RULE_OVERRIDES, 0,
	             "the last override gone, the flag goes");
	/* the debt of 1 token at T = 1 s stays: 1 of 2 left */
	cr_assert_eq(fg_allow_at(c, "api", "vip", 1, T0, &d), 1);
	cr_assert_eq(d.limit, 2);
	cr_assert_eq(d.remaining, 0);
	cr_assert_eq(fg_allow_at(c, "api", "vip", 1, T0, &d), 0);
	ov_destroy(c, "ovrm");
}

/* GCRA's tat is a debt in ns: a change keeps it and applies the new
 * window.  5 taken of 8 at 1/s (a debt of 5 s), then capacity 2: denied
 * until the debt is down to 1 s (room for one token in a 2 s window),
 * then one a second; raised to 10 under a debt of 2 s: 8 at once. */
Test(override, a_live_bucket_keeps_its_debt_in_ns_across_a_change)
{
	fg_client *c = ov_create("ovlive");
	static const struct row rows[] = {
	    {"k", 0, 0, 0, 2},    {"k", 3999, 0, 0, 2}, {"k", 4000, 1, 0, 2},
	    {"k", 4000, 0, 0, 2}, {"k", 5000, 1, 0, 2},
	};
	int i;

	cr_assert_eq(ov_set(c, "api", 0, "k", 8, 1, 1000), 0);
	for (i = 0; i < 5; i++)
		cr_assert_eq(fg_allow_at(c, "api", "k", 1, T0, NULL), 1);
	cr_assert_eq(ov_set(c, "api", 0, "k", 2, 1, 1000), 0);
	table_check(c, rows, sizeof rows / sizeof rows[0]);
	cr_assert_eq(ov_set(c, "api", 0, "k", 10, 1, 1000), 0);
	for (i = 0; i < 8; i++)
		cr_assert_eq(
		    fg_allow_at(c, "api", "k", 1, T0 + 5000 * MS, NULL), 1,
		    "token %d", i);
	cr_assert_eq(fg_allow_at(c, "api", "k", 1, T0 + 5000 * MS, NULL), 0);
	ov_destroy(c, "ovlive");
}

Test(override, cost_is_judged_against_the_keys_capacity)
{
	fg_client *c = ov_create("ovcost");
	uint64_t delay;

	cr_assert_eq(ov_set(c, "api", 0, "big", 50, 1, 1000), 0);
	cr_assert_eq(fg_allow(c, "api", "big", 30, NULL), 1);
	cr_assert_eq(fg_allow(c, "api", "small", 3, NULL), FG_ECOST);
	cr_assert_eq(fg_reserve(c, "api", "big", 20, &delay, NULL), 1);
	cr_assert_eq(delay, 0, "20 of the 20 left: no wait");
	ov_destroy(c, "ovcost");
}

Test(override, a_multi_rule_check_applies_each_keys_override)
{
	fg_client *c = ov_create("ovmany");
	fg_triple t[2] = {{"api", "vip", 1}, {"api", "bob", 1}};
	int i, n = 0;

	cr_assert_eq(ov_set(c, "api", 0, "vip", 5, 1, HOUR_MS), 0);
	t[1].key = "vip2";
	cr_assert_eq(ov_set(c, "api", 0, "vip2", 5, 1, HOUR_MS), 0);
	for (i = 0; i < 10; i++)
		n += fg_allow_many(c, t, 2, NULL, NULL) == 1;
	cr_assert_eq(n, 5, "5 admitted of each key's 5, not the rule's 2");
	ov_destroy(c, "ovmany");
}

Test(override, bad_overrides_are_refused_and_change_nothing)
{
	fg_client *c = ov_create("ovbad");
	fg_rule lr = {.name = "conc",
	              .capacity = 3,
	              .lease_ms = 1000,
	              .flags = FG_RULE_IN_FLIGHT};
	struct fg_ovr_entry e;

	cr_assert_eq(fg_rule_set(c, &lr), 0);
	cr_assert_eq(ov_set(c, "conc", 0, "k", 5, 1, 1000), FG_EKIND);
	cr_assert_eq(ov_set(c, "api", 0, "k", 0, 1, 1000), FG_ERULE);
	cr_assert_eq(ov_set(c, "api", 0, "k", 5, 0, 1000), FG_ERULE);
	cr_assert_eq(ov_set(c, "api", 0, "k", 5, 2000000, 1), FG_ERULE,
	             "above a token a ns");
	cr_assert_eq(ov_set(c, "api", 0, "k", UINT32_MAX, 1, HOUR_MS), FG_ERULE,
	             "a window beyond 2^56 ns");
	cr_assert_eq(fg_rule_remove(c, "api"), 0);
	cr_assert_eq(ov_set(c, "api", 0, "k", 5, 1, 1000), FG_ENORULE);
	cr_assert_eq(live_flags(c, "api") & FG__RULE_OVERRIDES, 0);
	cr_assert_eq(fg__override_get(c, 0, "k", 1, &e), 0);
	ov_destroy(c, "ovbad");
}

Test(override, a_rule_set_again_keeps_its_overrides)
{
	fg_client *c = ov_create("ovkeep");
	fg_rule_info ri;
	fg_decision d;

	cr_assert_eq(ov_set(c, "api", 0, "vip", 7, 1, 1000), 0);
	test_rule(c, "api", 3, 1, 1000, 0);
	cr_assert_neq(live_flags(c, "api") & FG__RULE_OVERRIDES, 0);
	cr_assert_eq(fg_rule_get(c, 0, &ri), 0);
	cr_assert_eq(ri.flags & FG__RULE_OVERRIDES, 0, "an internal flag");
	cr_assert_eq(fg_allow(c, "api", "vip", 1, &d), 1);
	cr_assert_eq(d.limit, 7);
	ov_destroy(c, "ovkeep");
}

/* Fill the table: inserts are refused only near a full window, and
 * every override set stays found with its own numbers. */
Test(override, a_full_table_refuses_and_keeps_every_entry)
{
	fg_client *c = ov_create("ovfull");
	struct fg_ovr_entry e;
	char key[32];
	unsigned i, set = 0;
	int r = 0;

	for (i = 0; i < FG_OVR_SLOTS && r == 0; i++) {
		snprintf(key, sizeof key, "key-%u", i);
		r = ov_set(c, "api", 0, key, 3 + i % 1000, 1, 1000);
		set += r == 0;
	}
	cr_assert(r == 0 || r == FG_ENOMEM, "%s", fg_strerror(r));
	/* the 1024 overrides a configuration may hold fit with room to
	 * spare; past them, a key may find its window of FG_OVR_PROBE
	 * slots full from about 45% of the table on (1 run in 100 refused
	 * before half) */
	cr_assert_geq(set, FG_OVR_SLOTS / 4, "refused at %u of %u", set,
	              FG_OVR_SLOTS);
	for (i = 0; i < set; i++) {
		snprintf(key, sizeof key, "key-%u", i);
		cr_assert_eq(fg__override_get(c, 0, key, strlen(key), &e), 1);
		cr_assert_eq(e.capacity, 3 + i % 1000);
	}
	ov_destroy(c, "ovfull");
}

/* A writer killed while it writes the copy that is not live: readers
 * go on with the live one; the next writer takes over. */
Test(override, a_torn_spare_copy_is_never_read)
{
	fg_client *c = ov_create("ovtorn");
	struct fg_ovr_entry e;
	unsigned i;

	cr_assert_eq(ov_set(c, "api", 0, "vip", 6, 1, 1000), 0);
	for (i = 0; i < FG_OVR_SLOTS; i++) {
		struct fg_ovr_slot *s = &c->seg.ovr->s[i];

		if (s->seq != 0)
			memset(&s->e[(s->seq + 1) & 1], 0xa5, sizeof s->e[0]);
	}
	cr_assert_eq(fg__override_get(c, 0, "vip", 3, &e), 1);
	cr_assert_eq(e.capacity, 6);
	cr_assert_eq(ov_set(c, "api", 0, "vip", 8, 1, 1000), 0);
	cr_assert_eq(fg__override_get(c, 0, "vip", 3, &e), 1);
	cr_assert_eq(e.capacity, 8);
	ov_destroy(c, "ovtorn");
}

/* The previous layout, as its release wrote it (the segment fuzz
 * corpus's seed): its clients would ignore every override. */
Test(override, a_segment_of_layout_version_5_is_refused)
{
	expect_old_segment_refused(
	    "tests/fuzz/corpus/segment/v5-capacity-1-full",
	    test_segment("ovv5"));
	cr_expect_geq(FG_LAYOUT_VERSION, 6);
}

/* ------------------------------------------------ across processes */

#define MP_WORKERS 4u
#define MP_CAP     3000u

struct mp_shm {
	uint64_t admitted[MP_WORKERS];
};

struct mp_job {
	struct mp_shm *shm;
	struct start_gun gun;
	const char *segment;
};

static int mp_worker(void *arg, unsigned i)
{
	const struct mp_job *job = arg;
	uint64_t deadline = fg__now_ns() + WORKER_DEADLINE_NS, n = 0, ok = 0;
	unsigned run = 0;
	fg_client *c;

	if (fg_open(job->segment, 0, &c) != 0)
		return WX_OPEN;
	if (gun_wait(&job->gun) != 0)
		return WX_START;
	while (run < 5000) {
		int r = fg_allow(c, "api", "vip", 1, NULL);

		if (r < 0)
			return WX_ERROR;
		ok += r;
		run = r ? 0 : run + 1;
		if ((++n & 1023) == 0 && fg__now_ns() > deadline)
			return WX_DEADLINE;
	}
	store64(&job->shm->admitted[i], ok);
	fg_close(c);
	return 0;
}

Test(override, four_processes_admit_exactly_the_overridden_capacity)
{
	fg_client *c = test_create("ovmp", 1024);
	struct mp_shm *shm = shared_alloc(sizeof *shm);
	struct mp_job job = {.shm = shm, .segment = test_segment("ovmp")};
	uint64_t total = 0;
	unsigned i;

	test_rule(c, "api", 10, 1, HOUR_MS, 0);
	cr_assert_eq(ov_set(c, "api", 0, "vip", MP_CAP, 1, HOUR_MS), 0);
	gun_load(&job.gun);
	spawn_n(mp_worker, &job, MP_WORKERS);
	gun_fire(&job.gun, MP_WORKERS);
	wait_children((int)MP_WORKERS);
	for (i = 0; i < MP_WORKERS; i++)
		total += load64(&shm->admitted[i]);
	cr_expect_eq(total, MP_CAP, "%u processes admitted %llu of %u",
	             MP_WORKERS, (unsigned long long)total, MP_CAP);
	munmap(shm, sizeof *shm);
	ov_destroy(c, "ovmp");
}

/* Writers killed at any instant while readers look the key up: every
 * copy a reader uses is one a writer wrote whole, never the capacity of
 * one with the interval of the other.  The two pairs: 100 at 100/s
 * (10 ms a token), 200 at 50/s (20 ms). */
#define TORN_READERS 2u
#define TORN_ROUNDS  8u

struct torn_shm {
	uint64_t stop;
	uint64_t found[TORN_READERS], torn[TORN_READERS];
};

struct torn_job {
	struct torn_shm *shm;
	struct start_gun gun;
	const char *segment;
};

static int torn_reader(void *arg, unsigned i)
{
	const struct torn_job *job = arg;
	uint64_t deadline = fg__now_ns() + WORKER_DEADLINE_NS, found = 0;
	uint64_t torn = 0, n = 0;
	struct fg_ovr_entry e;
	fg_client *c;

	if (fg_open(job->segment, 0, &c) != 0)
		return WX_OPEN;
	if (gun_wait(&job->gun) != 0)
		return WX_START;
	while (!load64(&job->shm->stop)) {
		if (fg__override_get(c, 0, "k", 1, &e)) {
			found++;
			torn +=
			    !((e.capacity == 100 && e.interval_ns == 10 * MS) ||
			      (e.capacity == 200 && e.interval_ns == 20 * MS));
		}
		if ((++n & 1023) == 0 && fg__now_ns() > deadline)
			return WX_DEADLINE;
	}
	store64(&job->shm->found[i], found);
	store64(&job->shm->torn[i], torn);
	fg_close(c);
	return 0;
}

/* Set the two pairs in turn until killed. */
static void torn_writer(const char *segment)
{
	fg_client *c;
	unsigned n;

	if (fg_open(segment, 0, &c) != 0)
		_exit(WX_OPEN);
	for (n = 0;; n++)
		if (ov_set(c, "api", 0, "k", n & 1 ? 200 : 100,
		           n & 1 ? 50 : 100, 1000) != 0)
			_exit(WX_ERROR);
}

Test(override, readers_never_use_a_copy_a_killed_writer_tore)
{
	fg_client *c = ov_create("ovkill");
	struct torn_shm *shm = shared_alloc(sizeof *shm);
	struct torn_job job = {.shm = shm, .segment = test_segment("ovkill")};
	uint64_t found = 0, torn = 0, rng = 0x9e3779b97f4a7c15ull;
	unsigned i;

	cr_assert_eq(ov_set(c, "api", 0, "k", 100, 100, 1000), 0);
	gun_load(&job.gun);
	spawn_n(torn_reader, &job, TORN_READERS);
	gun_fire(&job.gun, TORN_READERS);
	for (i = 0; i < TORN_ROUNDS; i++) {
		pid_t w = fork();
		int st;

		cr_assert_geq(w, 0);
		if (w == 0)
			torn_writer(job.segment); /* the name has our pid */
		usleep(1000 + (unsigned)(xorshift(&rng) % 20000));
		kill(w, SIGKILL);
		cr_assert_eq(waitpid(w, &st, 0), w);
		cr_assert(WIFSIGNALED(st), "the writer failed: %#x", st);
	}
	store64(&shm->stop, 1);
	wait_children((int)TORN_READERS);
	for (i = 0; i < TORN_READERS; i++) {
		found += load64(&shm->found[i]);
		torn += load64(&shm->torn[i]);
	}
	cr_assert_gt(found, 1000, "the readers looked %llu times",
	             (unsigned long long)found);
	cr_assert_eq(torn, 0, "%llu torn copies used of %llu",
	             (unsigned long long)torn, (unsigned long long)found);
	/* the lock died with each writer: the owner still writes */
	cr_assert_eq(ov_set(c, "api", 0, "k", 7, 1, 1000), 0);
	munmap(shm, sizeof *shm);
	ov_destroy(c, "ovkill");
}

/* A worker that has cached the rule sees an override set after. */
Test(override, a_running_worker_sees_an_override_set_later)
{
	fg_client *c = ov_create("ovlater"), *w;
	fg_decision d;

	cr_assert_eq(fg_open(test_segment("ovlater"), 0, &w), 0);
	cr_assert_eq(fg_allow(w, "api", "vip", 1, &d), 1);
	cr_assert_eq(d.limit, 2);
	cr_assert_eq(ov_set(c, "api", 0, "vip", 40, 1, 1000), 0);
	cr_assert_eq(fg_allow(w, "api", "vip", 1, &d), 1);
	cr_assert_eq(d.limit, 40);
	fg_close(w);
	ov_destroy(c, "ovlater");
}

/* ------------------------------------------------------- the config */

static void conf_bad(const char *text, const char *want)
{
	struct fgd_config cfg;
	char err[512];

	cr_assert_eq(fgd_config_parse(text, strlen(text), "t.conf", &cfg, err,
	                              sizeof err),
	             -1, "accepted: %s", text);
	cr_assert(strstr(err, want) != NULL, "for %s: '%s' lacks '%s'", text,
	          err, want);
	cr_assert_eq(cfg.ov.noverrides, 0);
}

#define RULE "rule api capacity 10 rate 5/1s\n"

Test(override, config_takes_tiers_keys_and_prefixes)
{
	static const char text[] =
	    "tier gold capacity 100 rate 50/1s\n" RULE
	    "override api key alice tier gold\n"
	    "override api prefix bot: capacity 1 rate 1/1m\n";
	struct fgd_config cfg;
	char err[512];

	cr_assert_eq(fgd_config_parse(text, sizeof text - 1, "t.conf", &cfg,
	                              err, sizeof err),
	             0, "%s", err);
	cr_assert_eq(cfg.ov.ntiers, 1);
	cr_assert_eq(cfg.ov.noverrides, 2);
	cr_assert_str_eq(cfg.ov.overrides[0].tier, "gold");
	cr_assert_eq(cfg.ov.overrides[0].capacity, 100);
	cr_assert_eq(cfg.ov.overrides[0].rate, 50);
	cr_assert_eq(cfg.ov.overrides[0].period_ms, 1000);
	cr_assert_eq(cfg.ov.overrides[1].prefix, 1);
	cr_assert_eq(cfg.ov.overrides[1].keylen, 4);
	cr_assert_eq(cfg.ov.overrides[1].period_ms, 60000);
	fgd_config_free(&cfg);
}

Test(override, bad_override_lines_say_what_and_where)
{
	conf_bad(RULE "override api key a tier gold\n",
	         "t.conf:2: override api key 'a': no tier 'gold'");
	conf_bad("tier g capacity 1 rate 1/1s\ntier g capacity 2 rate 1/1s\n",
	         "t.conf:2: tier 'g': defined twice");
	conf_bad(RULE "override web key a capacity 1 rate 1/1s\n",
	         "t.conf:2: override web: no rule 'web' in this config");
	conf_bad("rule c in-flight 4\noverride c key a capacity 1 rate 1/1s\n",
	         "t.conf:2: override c: only a gcra rule of host or global "
	         "scope takes overrides");
	conf_bad(RULE "override api key a capacity 1 rate 1\n",
	         "t.conf:2: override api key 'a': rate must be N/PERIOD");
	conf_bad(RULE "override api key a capacity 0 rate 1/1s\n",
	         "t.conf:2: override api key 'a':");
	conf_bad(RULE "override api key a capacity 5\n",
	         "give capacity N rate R/PERIOD");
	conf_bad(RULE "override api key a burst 5 rate 1/1s\n",
	         "unknown keyword 'burst'");
	conf_bad(RULE "override api name a capacity 1 rate 1/1s\n",
	         "t.conf:2: override needs RULE key|prefix KEY");
	conf_bad(RULE "override api key a capacity 1 rate 1/1s\n"
	              "override api key a capacity 2 rate 1/1s\n",
	         "t.conf:3: override api key 'a': given twice (first on line "
	         "2)");
	conf_bad(RULE "override api key "
	              "0123456789012345678901234567890123456789012345678901234"
	              "567890123456789 capacity 1 rate 1/1s\n",
	         "longer than 64 bytes");
	conf_bad("tier this-name-is-too-long capacity 1 rate 1/1s\n",
	         "t.conf:1: tier 'this-name-is-too-long': name must be");
}

/* The config's overrides go in; a reload's set replaces them without a
 * gap, and a run-time one of the same key stays. */
Test(override, a_reload_replaces_the_configs_and_keeps_run_time_ones)
{
	static const char one[] = RULE "override api key a capacity 3 rate "
	                               "1/1s\noverride api key b capacity 4 "
	                               "rate 1/1s\n";
	static const char two[] = RULE "override api key b capacity 5 rate "
	                               "1/1s\noverride api key r capacity 6 "
	                               "rate 1/1s\n";
	fg_client *c = test_create("ovreload", 1024);
	struct fgd_config c1, c2;
	struct fg_ovr_entry e;
	char err[256];

	cr_assert_eq(
	    fgd_config_parse(one, sizeof one - 1, "1", &c1, err, sizeof err),
	    0);
	cr_assert_eq(
	    fgd_config_parse(two, sizeof two - 1, "2", &c2, err, sizeof err),
	    0);
	test_rule(c, "api", 10, 5, 1000, 0);
	cr_assert_eq(fgd_overrides_apply(c, &c1), 0);
	cr_assert_eq(ov_set(c, "api", FG_OVR_RUNTIME, "r", 9, 1, 1000), 0);
	cr_assert_eq(fgd_overrides_apply(c, &c2), 0);
	cr_assert_eq(fg__override_get(c, 0, "a", 1, &e), 0, "a: gone");
	cr_assert_eq(fg__override_get(c, 0, "b", 1, &e), 1);
	cr_assert_eq(e.capacity, 5, "b: the new config's");
	cr_assert_eq(fg__override_get(c, 0, "r", 1, &e), 1);
	cr_assert_eq(e.capacity, 9, "r: the run-time one stays");
	fgd_config_free(&c1);
	fgd_config_free(&c2);
	fg_close(c);
	(void)fg_unlink(test_segment("ovreload"));
}
