/* SPDX-License-Identifier: ISC */
/*
 * test_badinput.c - every bad input gets a clear error and consumes
 * nothing; the table-full, shadow and default-rule policies answer as
 * documented.
 *
 * "Consumes nothing" is checked on the segment's counters (fg_stats():
 * buckets, inserts, tokens consumed, denials, table-full events) and on
 * the bucket itself (still full, or as it was).
 */
#include "tests/helpers.h"

#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "shm/segment.h"

TestSuite(badinput, .timeout = 30);

/* ------------------------------------------------------------ helpers */

static fg_segment_stats snapshot(fg_client *c)
{
	fg_segment_stats st;

	cr_assert_eq(fg_stats(c, &st), 0);
	return st;
}

static void assert_unchanged(fg_client *c, const fg_segment_stats *before,
                             const char *what)
{
	fg_segment_stats now = snapshot(c);

	cr_assert_eq(now.used, before->used, "%s: a bucket was made", what);
	cr_assert_eq(now.inserts, before->inserts, "%s: a key was inserted",
	             what);
	cr_assert_eq(now.consumed, before->consumed, "%s: tokens consumed",
	             what);
	cr_assert_eq(now.denied, before->denied, "%s: counted as a denial",
	             what);
	cr_assert_eq(now.table_full, before->table_full,
	             "%s: counted as table full", what);
}

/* fg_allow() of @cost that must be allowed; returns what remains. */
static uint32_t take(fg_client *c, const char *rule, const char *key,
                     uint32_t cost)
{
	fg_decision d;
	int r = fg_allow(c, rule, key, cost, &d);

	cr_assert_eq(r, 1, "fg_allow(%s, %.16s..., %u) = %d (%s)", rule, key,
	             cost, r, fg_strerror(r));
	return d.remaining;
}

/* Index of the rule named @name, via fg_rule_get(). */
static uint32_t rule_index(fg_client *c, const char *name)
{
	fg_rule_info info;
	uint32_t i;

	for (i = 0; i < FG_RULES_MAX; i++)
		if (fg_rule_get(c, i, &info) == 0 &&
		    strcmp(info.name, name) == 0)
			return i;
	cr_assert_fail("rule %s not found", name);
	return 0;
}

static fg_rule_info rule_info(fg_client *c, const char *name)
{
	fg_rule_info info;

	cr_assert_eq(fg_rule_get(c, rule_index(c, name), &info), 0);
	return info;
}

static int no_rule_published(fg_client *c)
{
	fg_rule_info info;
	uint32_t i;

	for (i = 0; i < FG_RULES_MAX; i++)
		if (fg_rule_get(c, i, &info) == 0)
			return 0;
	return 1;
}

static int exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* ---------------------------------------------------------- arguments */

Test(badinput, null_client_or_rule_is_einval_and_consumes_nothing)
{
	fg_client *c = test_create("null", 16);
	fg_segment_stats before;
	fg_rule rule = {
	    .name = "r", .capacity = 5, .rate = 5, .period_ms = HOUR_MS};
	fg_rule_info info;
	fg_decision d;
	char buf[64];

	test_rule(c, "r", 5, 5, HOUR_MS, 0);
	before = snapshot(c);
	cr_assert_eq(fg_allow(NULL, "r", "k", 1, &d), FG_EINVAL);
	cr_assert_eq(fg_allow(NULL, "r", "k", 1, NULL), FG_EINVAL);
	cr_assert_eq(fg_allow(c, NULL, "k", 1, &d), FG_EINVAL);
	cr_assert_eq(fg_allow(NULL, NULL, NULL, 0, NULL), FG_EINVAL);
	cr_assert_eq(fg_allow_request(NULL, "k", "r"), FG_EINVAL);
	cr_assert_eq(fg_allow_request(c, "k", NULL), FG_EINVAL);
	assert_unchanged(c, &before, "NULL argument");
	cr_assert_eq(take(c, "r", "k", 5), 0, "the bucket was not full");

	cr_assert_eq(fg_rule_set(NULL, &rule), FG_EINVAL);
	cr_assert_eq(fg_rule_set(c, NULL), FG_EINVAL);
	cr_assert_eq(fg_rule_remove(NULL, "r"), FG_EINVAL);
	cr_assert_eq(fg_rule_remove(c, NULL), FG_EINVAL);
	cr_assert_eq(fg_rule_get(NULL, 0, &info), FG_EINVAL);
	cr_assert_eq(fg_rule_get(c, 0, NULL), FG_EINVAL);
	cr_assert_eq(fg_rule_get(c, FG_RULES_MAX, &info), FG_ENORULE);
	cr_assert_eq(fg_rule_get(c, UINT32_MAX, &info), FG_ENORULE);
	cr_assert_eq(fg_stats(NULL, &before), FG_EINVAL);
	cr_assert_eq(fg_stats(c, NULL), FG_EINVAL);
	cr_assert_eq(fg_reap(NULL, 0), FG_EINVAL);
	cr_assert_eq(fg_reap(c, UINT64_MAX), FG_EINVAL, "ms to ns overflows");
	cr_assert_eq(fg_diagnose(test_segment("null"), NULL, 10), FG_EINVAL);
	cr_assert_eq(fg_diagnose(test_segment("null"), buf, 0), FG_EINVAL);
	cr_assert_eq(fg_open(test_segment("null"), 0, NULL), FG_EINVAL);
	fg_close(NULL);
	cr_assert_eq(fg_rule_get(c, 0, &info), 0, "rule r is gone");
	fg_close(c);
	fg_unlink(test_segment("null"));
}

Test(badinput, create_with_bad_arguments_is_einval_and_creates_nothing)
{
	const char *name = test_segment("createarg");
	fg_client *c = (fg_client *)(uintptr_t)1;

	fg_unlink(name);
	cr_assert_eq(fg_create(name, NULL, 0, NULL), FG_EINVAL);
	cr_assert_eq(fg_create(name, NULL, 0x2, &c), FG_EINVAL);
	cr_assert_null(c);
	c = (fg_client *)(uintptr_t)1;
	cr_assert_eq(fg_create(name, NULL, ~0u, &c), FG_EINVAL);
	cr_assert_null(c);
	cr_assert_eq(fg_open(name, 0, &c), FG_ENOSEG, "a file was created");
}

Test(badinput, create_of_segment_past_address_space_is_etoobig)
{
	const char *name = test_segment("toobig");
	const uint64_t caps[] = {UINT64_MAX, UINT64_C(1) << 62,
	                         (UINT64_C(1) << 40) / FG_SLOT_SIZE};
	unsigned i;

	fg_unlink(name);
	for (i = 0; i < 3; i++) {
		fg_segment_opts o = {.capacity = caps[i]};
		fg_client *c = (fg_client *)(uintptr_t)1;
		int r = fg_create(name, &o, 0, &c);

		cr_assert_eq(r, FG_ETOOBIG, "capacity %llu: %d (%s)",
		             (unsigned long long)caps[i], r, fg_strerror(r));
		cr_assert_null(c);
		cr_assert_eq(fg_open(name, 0, &c), FG_ENOSEG,
		             "a file was created");
	}
}

Test(badinput, open_with_nonzero_flags_is_einval)
{
	fg_client *c = test_create("flags", 16), *w;
	unsigned flags[] = {1, 2, 0x80000000u, ~0u};
	unsigned i;

	for (i = 0; i < 4; i++) {
		w = (fg_client *)(uintptr_t)1;
		cr_assert_eq(fg_open(test_segment("flags"), flags[i], &w),
		             FG_EINVAL, "flags %#x", flags[i]);
		cr_assert_null(w, "*out not cleared");
	}
	cr_assert_eq(fg_open(test_segment("flags"), 0, &w), 0);
	fg_close(w);
	fg_close(c);
	fg_unlink(test_segment("flags"));
}

/* ---------------------------------------------------------------- keys */

Test(badinput, null_or_empty_key_is_ekey_and_consumes_nothing)
{
	fg_client *c = test_create("ekey", 16);
	fg_segment_stats before;
	fg_decision d;

	test_rule(c, "r", 5, 5, HOUR_MS, FG_RULE_DEFAULT);
	before = snapshot(c);
	cr_assert_eq(fg_allow(c, "r", NULL, 1, &d), FG_EKEY);
	cr_assert_eq(fg_allow(c, "r", "", 1, &d), FG_EKEY);
	cr_assert_eq(fg_allow(c, "r", "", 1, NULL), FG_EKEY);
	cr_assert_eq(fg_allow_request(c, NULL, "r"), FG_EKEY);
	cr_assert_eq(fg_allow_request(c, "", "r"), FG_EKEY);
	cr_assert_eq(fg_allow_request(c, "", "unknown"), FG_EKEY);
	assert_unchanged(c, &before, "empty key");
	fg_close(c);
	fg_unlink(test_segment("ekey"));
}

/* FG_KEY_MAX is 64, and so is what layout 9's table holds: keys of 17-64
 * bytes in records (shm/layout.h).  A longer key is refused, never
 * truncated. */
Test(badinput, rejects_key_over_64_bytes_and_accepts_64)
{
	fg_client *c = test_create("keylen", 16);
	char k64[FG_KEY_MAX + 1], k63[FG_KEY_MAX], k65[FG_KEY_MAX + 2];
	char big[1000];
	fg_segment_stats before;

	test_rule(c, "r", 5, 5, HOUR_MS, FG_RULE_DEFAULT);
	memset(k65, 'k', sizeof k65 - 1);
	k65[sizeof k65 - 1] = '\0';
	memcpy(k64, k65, FG_KEY_MAX);
	k64[FG_KEY_MAX] = '\0';
	memcpy(k63, k65, FG_KEY_MAX - 1);
	k63[FG_KEY_MAX - 1] = '\0';
	memset(big, 'k', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	cr_assert_eq(strlen(k65), 65);

	before = snapshot(c);
	cr_assert_eq(fg_allow(c, "r", k65, 1, NULL), FG_EKEYLEN);
	cr_assert_eq(fg_allow(c, "r", big, 1, NULL), FG_EKEYLEN);
	cr_assert_eq(fg_allow_request(c, k65, "r"), FG_EKEYLEN);
	cr_assert_eq(fg_allow_request(c, big, "unknown"), FG_EKEYLEN);
	assert_unchanged(c, &before, "key of 65 bytes");

	/* 64 bytes: accepted, and the 65-byte key above took nothing from
	 * it (never truncated to 64) */
	cr_assert_eq(take(c, "r", k64, 1), 4);
	cr_assert_eq(take(c, "r", k64, 4), 0);
	cr_assert_eq(fg_allow(c, "r", k65, 1, NULL), FG_EKEYLEN);
	/* its 63-byte prefix is another bucket, still full */
	cr_assert_eq(take(c, "r", k63, 1), 4, "63-byte prefix merged");
	/* as is a 64-byte key that differs in its last byte only */
	k64[FG_KEY_MAX - 1] = 'z';
	cr_assert_eq(take(c, "r", k64, 1), 4, "last byte ignored");
	k64[FG_KEY_MAX - 1] = 'k';
	cr_assert_eq(fg_allow(c, "r", k64, 1, NULL), 0);
	fg_close(c);
	fg_unlink(test_segment("keylen"));
}

Test(badinput, keys_of_any_non_nul_bytes_are_distinct_buckets)
{
	fg_client *c = test_create("bytes", 16);

	test_rule(c, "r", 2, 2, HOUR_MS, 0);
	cr_assert_eq(take(c, "r", "\xff\xfe", 2), 0);
	cr_assert_eq(take(c, "r", "\xff", 1), 1);
	cr_assert_eq(take(c, "r", "\x01", 1), 1);
	cr_assert_eq(take(c, "r", "\xff\xfe\x01", 1), 1);
	cr_assert_eq(fg_allow(c, "r", "\xff\xfe", 1, NULL), 0);
	fg_close(c);
	fg_unlink(test_segment("bytes"));
}

/* --------------------------------------------------------- rules, cost */

Test(badinput, unknown_rule_is_enorule_and_consumes_nothing)
{
	fg_client *c = test_create("norule", 16);
	fg_segment_stats before;
	char longname[200];

	memset(longname, 'r', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	cr_assert_eq(fg_allow(c, "r", "k", 1, NULL), FG_ENORULE,
	             "no rule at all");
	test_rule(c, "r", 5, 5, HOUR_MS, 0);
	before = snapshot(c);
	cr_assert_eq(fg_allow(c, "nope", "k", 1, NULL), FG_ENORULE);
	cr_assert_eq(fg_allow(c, "R", "k", 1, NULL), FG_ENORULE);
	cr_assert_eq(fg_allow(c, "r ", "k", 1, NULL), FG_ENORULE);
	cr_assert_eq(fg_allow(c, "", "k", 1, NULL), FG_ENORULE);
	cr_assert_eq(fg_allow(c, longname, "k", 1, NULL), FG_ENORULE);
	cr_assert_eq(fg_allow_request(c, "k", "nope"), FG_ENORULE,
	             "no default rule");
	assert_unchanged(c, &before, "unknown rule");
	cr_assert_eq(fg_rule_remove(c, "nope"), FG_ENORULE);
	cr_assert_eq(take(c, "r", "k", 5), 0);
	fg_close(c);
	fg_unlink(test_segment("norule"));
}

Test(badinput, cost_zero_or_over_capacity_is_ecost_and_bucket_untouched)
{
	fg_client *c = test_create("ecost", 16);
	const uint32_t bad[] = {0, 6, 1000, UINT32_MAX};
	fg_segment_stats before;
	unsigned i;

	test_rule(c, "r", 5, 5, HOUR_MS, 0);
	/* a key never seen */
	before = snapshot(c);
	for (i = 0; i < 4; i++)
		cr_assert_eq(fg_allow(c, "r", "new", bad[i], NULL), FG_ECOST,
		             "cost %u", bad[i]);
	assert_unchanged(c, &before, "bad cost, new key");
	cr_assert_eq(take(c, "r", "new", 5), 0, "not full afterwards");

	/* a key in use */
	cr_assert_eq(take(c, "r", "k", 2), 3);
	before = snapshot(c);
	for (i = 0; i < 4; i++) {
		fg_decision d;

		cr_assert_eq(fg_allow(c, "r", "k", bad[i], &d), FG_ECOST,
		             "cost %u", bad[i]);
	}
	assert_unchanged(c, &before, "bad cost, key in use");
	cr_assert_eq(take(c, "r", "k", 3), 0, "tokens lost to a bad cost");
	fg_close(c);
	fg_unlink(test_segment("ecost"));
}

Test(badinput, removed_rule_is_enorule_and_readding_revives_its_buckets)
{
	fg_client *c = test_create("remove", 16), *w = NULL;
	fg_segment_stats before;
	fg_rule_info info;
	uint32_t idx;

	test_rule(c, "r", 5, 5, HOUR_MS, 0);
	cr_assert_eq(fg_open(test_segment("remove"), 0, &w), 0);
	cr_assert_eq(take(w, "r", "k", 3), 2); /* the worker caches the rule */
	idx = rule_index(c, "r");

	cr_assert_eq(fg_rule_remove(c, "r"), 0);
	before = snapshot(c);
	cr_assert_eq(fg_allow(w, "r", "k", 1, NULL), FG_ENORULE,
	             "the worker still uses a removed rule");
	cr_assert_eq(fg_allow(c, "r", "other", 1, NULL), FG_ENORULE);
	cr_assert_eq(fg_allow_request(w, "k", "r"), FG_ENORULE);
	assert_unchanged(c, &before, "removed rule");
	cr_assert_eq(fg_rule_get(c, idx, &info), FG_ENORULE);
	cr_assert_eq(fg_rule_remove(c, "r"), FG_ENORULE, "removed twice");
	cr_assert_eq(before.used, 1, "its buckets stay");

	test_rule(c, "r", 5, 5, HOUR_MS, 0);
	cr_assert_eq(rule_index(c, "r"), idx, "index changed");
	cr_assert_eq(take(w, "r", "k", 1), 1, "the bucket was reset");
	cr_assert_eq(take(w, "r", "other", 1), 4);
	fg_close(w);
	fg_close(c);
	fg_unlink(test_segment("remove"));
}

Test(badinput, invalid_rule_parameters_are_erule_and_publish_nothing)
{
	static const struct {
		uint32_t capacity, rate, period_ms, flags;
		const char *why;
	} bad[] = {
	    {0, 5, 1000, 0, "capacity 0"},
	    {5, 0, 1000, 0, "rate 0"},
	    {5, 5, 0, 0, "period 0"},
	    {0, 0, 0, 0, "all 0"},
	    {5, 1000001, 1, 0, "rate above one token per ns"},
	    {5, UINT32_MAX, 1000, 0, "rate above one token per ns"},
	    {5, 5, 1000, 0x01, "flag 0x01 (internal ACTIVE bit)"},
	    {5, 5, 1000, 0x20, "flag 0x20"},
	    {5, 5, 1000, 0x80000000u, "flag 0x80000000"},
	    {5, 5, 1000, ~0u, "every flag"},
	    /* burst window C*T over 2^56 ns */
	    {(1u << 24) + 1, 15625, 1u << 26, 0, "C*T = 2^56 + 2^32"},
	    {17, 1, UINT32_MAX, 0, "C*T = 17 * 2^32 ms"},
	    {UINT32_MAX, 1, UINT32_MAX, 0, "C*T far over 2^56 ns"},
	};
	fg_client *c = test_create("erule", 16);
	unsigned i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		fg_rule rule = {.name = "r",
		                .capacity = bad[i].capacity,
		                .rate = bad[i].rate,
		                .period_ms = bad[i].period_ms,
		                .flags = bad[i].flags};
		int r = fg_rule_set(c, &rule);

		cr_assert_eq(r, FG_ERULE, "%s: %d (%s)", bad[i].why, r,
		             fg_strerror(r));
		cr_assert(no_rule_published(c), "%s: published", bad[i].why);
		cr_assert_eq(fg_allow(c, "r", "k", 1, NULL), FG_ENORULE);
	}
	fg_close(c);
	fg_unlink(test_segment("erule"));
}

Test(badinput, rule_parameters_at_their_limits_are_accepted)
{
	fg_client *c = test_create("limits", 16);
	fg_rule_info info;

	/* T = 2^32 ns, C = 2^24: tau = 2^56 exactly */
	test_rule(c, "tau", 1u << 24, 15625, 1u << 26, 0);
	info = rule_info(c, "tau");
	cr_assert_eq(info.interval_ns, UINT64_C(1) << 32);
	cr_assert_eq(take(c, "tau", "k", 1u << 24), 0);
	cr_assert_eq(fg_allow(c, "tau", "k", 1, NULL), 0);
	/* the longest period: T = 2^32 - 1 ms, C = 16 */
	test_rule(c, "slow", 16, 1, UINT32_MAX, 0);
	cr_assert_eq(take(c, "slow", "k", 16), 0);
	/* one token per ns, the largest burst */
	test_rule(c, "fast", UINT32_MAX, 1000000, 1, 0);
	info = rule_info(c, "fast");
	cr_assert_eq(info.interval_ns, 1);
	cr_assert_eq(take(c, "fast", "k", UINT32_MAX), 0);
	/* period / rate is rounded up: never faster than configured */
	test_rule(c, "third", 1, 3, 1, 0);
	cr_assert_eq(rule_info(c, "third").interval_ns, 333334);
	/* every public flag */
	test_rule(c, "flags", 1, 1, 1,
	          FG_RULE_GLOBAL | FG_RULE_FAIL_CLOSED | FG_RULE_SHADOW |
	              FG_RULE_DEFAULT);
	cr_assert_eq(rule_info(c, "flags").flags,
	             FG_RULE_GLOBAL | FG_RULE_FAIL_CLOSED | FG_RULE_SHADOW |
	                 FG_RULE_DEFAULT);
	fg_close(c);
	fg_unlink(test_segment("limits"));
}

Test(badinput, invalid_rule_names_are_ename)
{
	static const char *const bad[] = {
	    "",
	    " ",
	    "a b",
	    "a*b",
	    "a\tb",
	    "rule\n",
	    "caf\xc3\xa9",
	    "a;b",
	    "a\"b",
	    "a,b",
	    "a@b",
	    "a\\b",
	    "a%s",
	    "abcdefghijklmnopqrstuvwxyz0123456", /* 32 bytes */
	};
	static const char *const good[] = {
	    "abcdefghijklmnopqrstuvwxyz01234", /* 31 bytes */
	    "A-Z_a.z:0/9",
	    "-",
	    ".",
	    "/",
	    ":",
	};
	fg_client *c = test_create("ename", 16);
	fg_rule rule = {
	    .name = NULL, .capacity = 5, .rate = 5, .period_ms = 1000};
	unsigned i;

	cr_assert_eq(fg_rule_set(c, &rule), FG_ENAME, "NULL name");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int r;

		rule.name = bad[i];
		r = fg_rule_set(c, &rule);
		cr_assert_eq(r, FG_ENAME, "name \"%s\": %d (%s)", bad[i], r,
		             fg_strerror(r));
	}
	cr_assert(no_rule_published(c));
	/* a bad name wins over bad parameters */
	rule.name = "a b";
	rule.capacity = 0;
	cr_assert_eq(fg_rule_set(c, &rule), FG_ENAME);
	rule.capacity = 5;
	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		rule.name = good[i];
		cr_assert_eq(fg_rule_set(c, &rule), 0, "name \"%s\"", good[i]);
		cr_assert_eq(take(c, good[i], "k", 1), 4);
		cr_assert_str_eq(rule_info(c, good[i]).name, good[i]);
	}
	fg_close(c);
	fg_unlink(test_segment("ename"));
}

Test(badinput, failed_rule_update_keeps_the_rule_in_force)
{
	fg_client *c = test_create("keeprule", 16);
	fg_rule rule = {
	    .name = "r", .capacity = 0, .rate = 1, .period_ms = 1000};
	fg_rule_info info;

	test_rule(c, "r", 5, 5, HOUR_MS, FG_RULE_DEFAULT);
	cr_assert_eq(take(c, "r", "k", 2), 3);
	cr_assert_eq(fg_rule_set(c, &rule), FG_ERULE);
	rule.capacity = 100;
	rule.flags = 0x80000000u; /* a flag no version knows */
	cr_assert_eq(fg_rule_set(c, &rule), FG_ERULE);
	info = rule_info(c, "r");
	cr_assert_eq(info.capacity, 5);
	cr_assert_eq(info.period_ms, HOUR_MS);
	cr_assert_eq(info.flags, FG_RULE_DEFAULT, "default flag lost");
	cr_assert_eq(take(c, "r", "k", 1), 2);
	cr_assert_eq(fg_allow_request(c, "k", "elsewhere"), 1);
	fg_close(c);
	fg_unlink(test_segment("keeprule"));
}

Test(badinput, more_than_255_rule_names_is_erules)
{
	fg_client *c = test_create("erules", 16);
	fg_rule rule = {.capacity = 5, .rate = 5, .period_ms = HOUR_MS};
	fg_rule_info info;
	char name[16];
	unsigned i;

	for (i = 0; i < FG_RULES_MAX; i++) {
		snprintf(name, sizeof name, "r%u", i);
		test_rule(c, name, 5, 5, HOUR_MS, 0);
	}
	snprintf(name, sizeof name, "r%u", FG_RULES_MAX);
	rule.name = name;
	cr_assert_eq(fg_rule_set(c, &rule), FG_ERULES);
	cr_assert_eq(fg_allow(c, "r255", "k", 1, NULL), FG_ENORULE);
	/* replacing an existing name needs no new index */
	test_rule(c, "r0", 7, 7, HOUR_MS, 0);
	cr_assert_eq(take(c, "r0", "k", 1), 6);
	/* removing a rule does not free its index */
	cr_assert_eq(fg_rule_remove(c, "r1"), 0);
	rule.name = "another";
	cr_assert_eq(fg_rule_set(c, &rule), FG_ERULES);
	/* the last index works like any other */
	cr_assert_eq(fg_rule_get(c, FG_RULES_MAX - 1, &info), 0);
	cr_assert_str_eq(info.name, "r254");
	cr_assert_eq(take(c, "r254", "k", 1), 4);
	cr_assert_eq(take(c, "r253", "k", 1), 4,
	             "r254 and r253 share a bucket");
	fg_close(c);
	fg_unlink(test_segment("erules"));
}

/* -------------------------------------------------------- segment names */

Test(badinput, invalid_segment_names_are_ename)
{
	char n65[66], n64[65], msg[256];
	char longpath[FG_SEG_PATH_MAX + 2];
	const char *bad[] = {"../x", "",   "a b",   n65,   ".hidden",
	                     ".",    "..", "a/b",   "x\n", "caf\xc3\xa9",
	                     "a*",   "/",  longpath};
	fg_client *c;
	unsigned i;

	memset(n65, 'a', 65);
	n65[65] = '\0';
	memcpy(n64, n65, 64);
	n64[64] = '\0';
	memset(longpath, 'a', sizeof longpath - 1);
	longpath[0] = '/';
	longpath[sizeof longpath - 1] = '\0';

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int r;

		c = (fg_client *)(uintptr_t)1;
		r = fg_open(bad[i], 0, &c);
		cr_assert_eq(r, FG_ENAME, "fg_open(\"%s\"): %d (%s)", bad[i], r,
		             fg_strerror(r));
		cr_assert_null(c);
		c = (fg_client *)(uintptr_t)1;
		r = fg_create(bad[i], &(fg_segment_opts){.capacity = 4}, 0, &c);
		cr_assert_eq(r, FG_ENAME, "fg_create(\"%s\"): %d (%s)", bad[i],
		             r, fg_strerror(r));
		cr_assert_null(c);
		cr_assert_eq(fg_unlink(bad[i]), FG_ENAME, "fg_unlink(\"%s\")",
		             bad[i]);
		cr_assert_eq(fg_diagnose(bad[i], msg, sizeof msg), FG_ENAME,
		             "fg_diagnose(\"%s\")", bad[i]);
		cr_assert(strstr(msg, "invalid segment name") != NULL, "%s",
		          msg);
	}
	cr_assert_not(exists(FG_SHM_DIR "a b"));
	cr_assert_not(exists("/dev/x"));
	cr_assert_eq(setenv("FLOODGATE_SEGMENT", "../x", 1), 0);
	cr_assert_eq(fg_open(NULL, 0, &c), FG_ENAME);
	unsetenv("FLOODGATE_SEGMENT");

	/* 64 bytes is a valid name */
	n64[0] = 'f';
	snprintf(n64 + 1, 20, "gtest-%d-", (int)getpid());
	n64[strlen(n64)] = 'a';
	cr_assert_eq(strlen(n64), 64);
	fg_unlink(n64);
	cr_assert_eq(fg_create(n64, &(fg_segment_opts){.capacity = 4}, 0, &c),
	             0);
	fg_close(c);
	cr_assert_eq(fg_unlink(n64), 0);
}

/* ---------------------------------------------------------- table full */

/* Fill the table of @c with keys under @rule; returns how many fit. */
static unsigned fill_table(fg_client *c, const char *rule)
{
	fg_decision d;
	char key[16];
	unsigned i;

	for (i = 0; i < 1000; i++) {
		snprintf(key, sizeof key, "fill%u", i);
		cr_assert_eq(fg_allow(c, rule, key, 1, &d), 1);
		if (d.flags & FG_DECISION_UNTRACKED)
			return i;
	}
	cr_assert_fail("the table never filled");
	return 0;
}

Test(badinput, table_full_fail_open_rule_allows_untracked_and_counts_it)
{
	fg_client *c = test_create("fullopen", 4);
	fg_segment_stats st = snapshot(c);
	fg_decision d;
	char newkey[32];
	unsigned n;

	cr_assert_eq(st.nslots, FG_BUCKETS_FOR(4) * FG_BUCKET_SLOTS,
	             "a tiny table");
	test_rule(c, "open", 5, 5, HOUR_MS, 0);
	n = fill_table(c, "open");
	/* its capacity always fits; beyond, it depends on where keys go */
	cr_assert(n >= 4 && n <= st.nslots, "%u keys in %llu slots", n,
	          (unsigned long long)st.nslots);
	cr_assert_eq(rule_info(c, "open").table_full, 1);

	/* a new key (the one that found no room): allowed, untracked,
	 * counted, nothing consumed */
	snprintf(newkey, sizeof newkey, "fill%u", n);
	st = snapshot(c);
	cr_assert_eq(fg_allow(c, "open", newkey, 1, &d), 1);
	cr_assert_eq(d.flags, FG_DECISION_UNTRACKED);
	cr_assert_eq(d.limit, 5);
	cr_assert_eq(d.retry_after_ms, 0);
	cr_assert_eq(d.rule, rule_index(c, "open"));
	cr_assert_eq(fg_allow(c, "open", newkey, 5, NULL), 1);
	cr_assert_eq(fg_allow_request(c, newkey, "open"), 1);
	cr_assert_eq(rule_info(c, "open").table_full, 4);
	cr_assert_eq(snapshot(c).table_full, st.table_full + 3);
	cr_assert_eq(snapshot(c).used, st.used);
	cr_assert_eq(snapshot(c).consumed, st.consumed);
	/* a bad cost is still refused, and not counted as table full */
	cr_assert_eq(fg_allow(c, "open", newkey, 6, NULL), FG_ECOST);
	cr_assert_eq(rule_info(c, "open").table_full, 4);

	/* keys already in the table are still tracked */
	cr_assert_eq(fg_allow(c, "open", "fill0", 1, &d), 1);
	cr_assert_eq(d.flags, 0);
	cr_assert_eq(d.remaining, 3);
	fg_close(c);
	fg_unlink(test_segment("fullopen"));
}

/* The first key "newkey-N" of @rule that finds no room, in @key (where a
 * key goes depends on its name and rule: those before it take the room
 * they find); its refusal is counted in the rule's table_full. */
static void roomless(fg_client *c, const char *rule, char *key, size_t size)
{
	fg_decision d;
	unsigned i;

	for (i = 0; i < 1000; i++) {
		snprintf(key, size, "newkey-%u", i);
		if (fg_allow(c, rule, key, 1, &d) >= 0 &&
		    (d.flags & FG_DECISION_UNTRACKED))
			break;
	}
	cr_assert_lt(i, 1000, "the keys of %s always found room", rule);
}

Test(badinput, table_full_fail_closed_rule_denies_untracked)
{
	fg_client *c = test_create("fullclosed", 4);
	fg_decision d;
	char newkey[32];
	unsigned n;

	test_rule(c, "open", 5, 5, HOUR_MS, 0);
	test_rule(c, "closed", 5, 5, 1000, FG_RULE_FAIL_CLOSED);
	n = fill_table(c, "open");
	cr_assert(n >= 4 && n <= FG_BUCKETS_FOR(4) * FG_BUCKET_SLOTS);
	roomless(c, "closed", newkey, sizeof newkey);

	cr_assert_eq(fg_allow(c, "closed", newkey, 1, &d), 0);
	cr_assert_eq(d.flags, FG_DECISION_UNTRACKED);
	cr_assert_eq(d.limit, 5);
	cr_assert_eq(d.remaining, 0);
	cr_assert_eq(d.retry_after_ms, 200, "one interval");
	cr_assert_eq(d.rule, rule_index(c, "closed"));
	cr_assert_eq(fg_allow(c, "closed", newkey, 1, NULL), 0);
	cr_assert_eq(fg_allow_request(c, newkey, "closed"), 0);
	cr_assert_eq(rule_info(c, "closed").table_full, 4, "roomless()'s too");
	cr_assert_eq(rule_info(c, "open").table_full, 1,
	             "counted on the wrong rule");

	/* a shadow rule never denies: it flags what enforcing would do */
	test_rule(c, "dryrun", 5, 5, 1000,
	          FG_RULE_FAIL_CLOSED | FG_RULE_SHADOW);
	roomless(c, "dryrun", newkey, sizeof newkey);
	cr_assert_eq(fg_allow(c, "dryrun", newkey, 1, &d), 1);
	cr_assert_eq(d.flags, FG_DECISION_UNTRACKED | FG_DECISION_SHADOW);
	cr_assert_eq(d.retry_after_ms, 0);
	cr_assert_eq(rule_info(c, "dryrun").table_full, 2, "roomless()'s too");
	/* a fail-open shadow rule: untracked only */
	test_rule(c, "dryrun", 5, 5, 1000, FG_RULE_SHADOW);
	cr_assert_eq(fg_allow(c, "dryrun", newkey, 1, &d), 1);
	cr_assert_eq(d.flags, FG_DECISION_UNTRACKED);
	fg_close(c);
	fg_unlink(test_segment("fullclosed"));
}

/* ------------------------------------------------------- shadow rules */

Test(badinput,
     shadow_rule_flags_exactly_the_enforced_denials_and_consumes_like_it)
{
	static const uint32_t costs[] = {3, 3, 3, 3, 1, 2, 1, 5, 10, 1, 1};
	fg_client *c = test_create("shadow", 16);
	fg_segment_stats st;
	unsigned i, denials = 0;
	uint64_t consumed = 0;

	test_rule(c, "enforce", 10, 1, HOUR_MS, 0);
	test_rule(c, "shadow", 10, 1, HOUR_MS, FG_RULE_SHADOW);
	cr_assert_eq(rule_info(c, "shadow").flags, FG_RULE_SHADOW);

	for (i = 0; i < sizeof costs / sizeof costs[0]; i++) {
		fg_decision de, ds;
		int re = fg_allow(c, "enforce", "k", costs[i], &de);
		int rs = fg_allow(c, "shadow", "k", costs[i], &ds);

		cr_assert(re == 0 || re == 1, "step %u: %d", i, re);
		cr_assert_eq(rs, 1, "step %u: a shadow rule denied", i);
		cr_assert_eq(ds.flags, re ? 0u : FG_DECISION_SHADOW,
		             "step %u (cost %u): enforce says %d, shadow flags "
		             "%#x",
		             i, costs[i], re, ds.flags);
		cr_assert_eq(ds.remaining, de.remaining,
		             "step %u: the shadow bucket moved differently", i);
		cr_assert_eq(ds.retry_after_ms, 0, "step %u: allowed", i);
		cr_assert_eq(ds.limit, 10);
		denials += !re;
		consumed += re ? costs[i] : 0;
	}
	cr_assert_geq(denials, 3, "the sequence denied too little");
	st = snapshot(c);
	cr_assert_eq(st.consumed, 2 * consumed,
	             "shadow would-be denials consumed tokens");
	cr_assert_eq(st.denied, 2 * denials,
	             "would-be denials are counted like denials");

	/* enforcing the shadow rule now gives the enforced rule's answers */
	test_rule(c, "shadow", 10, 1, HOUR_MS, 0);
	cr_assert_eq(fg_allow(c, "shadow", "k", 1, NULL),
	             fg_allow(c, "enforce", "k", 1, NULL));
	fg_close(c);
	fg_unlink(test_segment("shadow"));
}

/* ---------------------------------------------------- fg_allow_request */

Test(badinput, allow_request_uses_endpoint_rule_else_default_else_enorule)
{
	fg_client *c = test_create("request", 16);
	fg_decision d;

	test_rule(c, "login", 2, 2, HOUR_MS, 0);
	cr_assert_eq(fg_allow_request(c, "u1", "/search"), FG_ENORULE,
	             "no default rule yet");
	test_rule(c, "default", 5, 5, HOUR_MS, FG_RULE_DEFAULT);
	cr_assert_eq(rule_info(c, "default").flags, FG_RULE_DEFAULT);
	cr_assert_eq(rule_info(c, "login").flags, 0);

	/* the endpoint's own rule, and the same bucket as fg_allow() */
	cr_assert_eq(fg_allow_request(c, "u1", "login"), 1);
	cr_assert_eq(fg_allow_request(c, "u1", "login"), 1);
	cr_assert_eq(fg_allow_request(c, "u1", "login"), 0);
	cr_assert_eq(fg_allow(c, "login", "u1", 1, &d), 0);
	cr_assert_eq(fg_allow(c, "default", "u1", 1, &d), 1);
	cr_assert_eq(d.remaining, 4, "login used the default rule");

	/* any unknown endpoint: the default rule's bucket */
	cr_assert_eq(fg_allow_request(c, "u1", "/search"), 1);
	cr_assert_eq(fg_allow_request(c, "u1", "/other"), 1);
	cr_assert_eq(fg_allow_request(c, "u1", "/search"), 1);
	cr_assert_eq(fg_allow_request(c, "u1", "/x"), 1);
	cr_assert_eq(fg_allow_request(c, "u1", "/search"), 0);
	cr_assert_eq(fg_allow_request(c, "u2", "/search"), 1, "per user");
	cr_assert_eq(fg_allow_request(c, "u1", "login"), 0);

	/* a removed endpoint rule falls back to the default */
	cr_assert_eq(fg_rule_remove(c, "login"), 0);
	cr_assert_eq(fg_allow_request(c, "u3", "login"), 1);
	cr_assert_eq(fg_allow(c, "default", "u3", 1, &d), 1);
	cr_assert_eq(d.remaining, 3);

	/* the default moves to the last rule set with the flag */
	test_rule(c, "other", 1, 1, HOUR_MS, FG_RULE_DEFAULT);
	cr_assert_eq(rule_info(c, "default").flags, 0);
	cr_assert_eq(rule_info(c, "other").flags, FG_RULE_DEFAULT);
	cr_assert_eq(fg_allow_request(c, "u4", "/y"), 1);
	cr_assert_eq(fg_allow_request(c, "u4", "/y"), 0, "capacity 1");

	/* setting the default rule without the flag: no default */
	test_rule(c, "other", 1, 1, HOUR_MS, 0);
	cr_assert_eq(fg_allow_request(c, "u5", "/y"), FG_ENORULE);
	cr_assert_eq(fg_allow_request(c, "u5", "default"), 1);
	/* removing the default rule: no default */
	test_rule(c, "other", 1, 1, HOUR_MS, FG_RULE_DEFAULT);
	cr_assert_eq(fg_rule_remove(c, "other"), 0);
	cr_assert_eq(fg_allow_request(c, "u6", "/y"), FG_ENORULE);
	/* and re-adding it without the flag does not make it default */
	test_rule(c, "other", 1, 1, HOUR_MS, 0);
	cr_assert_eq(fg_allow_request(c, "u6", "/y"), FG_ENORULE);
	fg_close(c);
	fg_unlink(test_segment("request"));
}

/* ---------------------------------------------------------- strerror */

Test(badinput, strerror_names_every_error_distinctly)
{
	const char *msg[20];
	int e, f;

	for (e = 0; e <= 18; e++) {
		msg[e] = fg_strerror(-e);
		cr_assert_not_null(msg[e]);
		cr_assert_gt(strlen(msg[e]), 0);
		cr_assert_str_neq(msg[e], "unknown error", "code %d", -e);
		for (f = 0; f < e; f++)
			cr_assert_str_neq(msg[e], msg[f],
			                  "codes %d and %d share \"%s\"", -e,
			                  -f, msg[e]);
	}
	msg[19] = fg_strerror(1);
	for (f = 0; f < 19; f++)
		cr_assert_str_neq(msg[19], msg[f]);
	cr_assert_str_eq(fg_strerror(-19), "unknown error");
	cr_assert_str_eq(fg_strerror(2), "unknown error");
	cr_assert_str_eq(fg_strerror(INT_MIN), "unknown error");
	cr_assert_str_eq(fg_strerror(INT_MAX), "unknown error");
	/* the codes are the documented values */
	cr_assert_eq(FG_EINVAL, -1);
	cr_assert_eq(FG_ETOOBIG, -16);
	cr_assert_eq(FG_EKIND, -17);
	cr_assert_eq(FG_ESPACE, -18);
}
