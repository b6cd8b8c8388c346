/* SPDX-License-Identifier: ISC */
/*
 * test_headers.c - fg_ratelimit_headers() writes exactly the draft's
 * RateLimit-Policy and RateLimit values of a decision: the figures are
 * checked against the rule as it was set and against the decision the
 * library gave (at one fixed time, fg_allow_at(), so each is exact), and
 * against the definition for the cases a clock cannot produce on demand.
 */
#include <limits.h>
#include <time.h>

#include "tests/helpers.h"

TestSuite(headers, .timeout = 30);

#define MAX FG_RATELIMIT_MAX

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void expect(fg_client *c, const fg_decision *d, const char *policy,
                   const char *ratelimit)
{
	char p[MAX], rl[MAX];
	int r = fg_ratelimit_headers(c, d, p, sizeof p, rl, sizeof rl);

	cr_assert_eq(r, 0, "fg_ratelimit_headers: %s", fg_strerror(r));
	cr_assert_str_eq(p, policy);
	cr_assert_str_eq(rl, ratelimit);
}

/* The index of rule @name, as the decisions name it. */
static uint32_t index_of(fg_client *c, const char *name)
{
	fg_rule_info ri;
	uint32_t i;

	for (i = 0; i < FG_RULES_MAX; i++)
		if (fg_rule_get(c, i, &ri) == 0 && strcmp(ri.name, name) == 0)
			return i;
	cr_assert_fail("no rule %s", name);
	return 0;
}

Test(headers, hour_rule_names_capacity_window_remaining_and_next_token)
{
	fg_client *c = test_create("hdr-hour", 1024);
	uint64_t now = mono_ns();
	fg_decision d;

	/* 2 tokens, one an hour: refills from empty in 7200 s; each token
	 * taken at one instant comes back 3600 s apart */
	test_rule(c, "h", 2, 1, HOUR_MS, 0);
	cr_assert_eq(fg_allow_at(c, "h", "k", 1, now, &d), 1);
	expect(c, &d, "\"h\";q=2;w=7200", "\"h\";r=1;t=3600");
	cr_assert_eq(fg_allow_at(c, "h", "k", 1, now, &d), 1);
	expect(c, &d, "\"h\";q=2;w=7200", "\"h\";r=0;t=3600");
	cr_assert_eq(fg_allow_at(c, "h", "k", 1, now, &d), 0);
	cr_assert_eq(d.retry_after_ms, 3600000u);
	expect(c, &d, "\"h\";q=2;w=7200", "\"h\";r=0;t=3600");
	fg_close(c);
	(void)fg_unlink(test_segment("hdr-hour"));
}

Test(headers, seed_rule_next_token_is_rounded_up_to_a_second)
{
	fg_client *c = test_create("hdr-seed", 1024);
	uint64_t now = mono_ns();
	fg_decision d;

	/* 5 per second: a token every 200 ms, full again 200 ms later */
	test_rule(c, "seed", 5, 5, 1000, 0);
	cr_assert_eq(fg_allow_at(c, "seed", "k", 1, now, &d), 1);
	cr_assert_eq(d.reset_ms, 200u);
	expect(c, &d, "\"seed\";q=5;w=1", "\"seed\";r=4;t=1");
	/* 10 per 3 s: the window is 3.33 s, said as 4 */
	test_rule(c, "odd", 10, 3, 1000, 0);
	cr_assert_eq(fg_allow_at(c, "odd", "k", 10, now, &d), 1);
	expect(c, &d, "\"odd\";q=10;w=4", "\"odd\";r=0;t=1");
	fg_close(c);
	(void)fg_unlink(test_segment("hdr-seed"));
}

/* t by the definition: the next token, capped at Retry-After. */
static uint64_t t_of(const fg_decision *d, uint64_t interval_ns)
{
	unsigned __int128 next = (unsigned __int128)d->reset_ms * 1000000u +
	                         ((unsigned __int128)d->remaining + 1) *
	                             interval_ns,
	                  tau = (unsigned __int128)d->limit * interval_ns;
	uint64_t t = (uint64_t)((next - tau + 999999999u) / 1000000000u);
	uint64_t ra = (d->retry_after_ms + 999) / 1000;

	return ra && ra < t ? ra : t;
}

Test(headers, full_bucket_has_no_t_and_t_never_passes_retry_after)
{
	fg_client *c = test_create("hdr-full", 1024);
	fg_decision d = {0};
	uint64_t t;

	test_rule(c, "h", 2, 1, HOUR_MS, 0);
	d.rule = index_of(c, "h");
	d.limit = 2;
	d.remaining = 2; /* full: nothing more is coming */
	expect(c, &d, "\"h\";q=2;w=7200", "\"h\";r=2");
	/* reset_ms rounded up 1 ms past the token: the next token is in
	 * 3600.001 s, said 3601, but Retry-After says 3600 and t follows */
	d.remaining = 0;
	d.reset_ms = 7200001;
	d.retry_after_ms = 3600000;
	t = t_of(&d, 3600000000000ull);
	cr_assert_eq(t, 3600);
	expect(c, &d, "\"h\";q=2;w=7200", "\"h\";r=0;t=3600");
	d.retry_after_ms = 0; /* allowed: no cap */
	expect(c, &d, "\"h\";q=2;w=7200", "\"h\";r=0;t=3601");
	fg_close(c);
	(void)fg_unlink(test_segment("hdr-full"));
}

Test(headers, many_and_reserve_decisions_name_the_rule_that_decided)
{
	fg_client *c = test_create("hdr-many", 1024);
	fg_rule slow = {.name = "slow",
	                .capacity = 1,
	                .rate = 1,
	                .period_ms = 1000,
	                .max_delay_ms = 5000};
	fg_triple tr[] = {{"wide", "k", 1}, {"narrow", "k", 1}};
	char want[MAX];
	uint64_t delay;
	fg_decision d;

	test_rule(c, "wide", 100, 100, HOUR_MS, 0);
	test_rule(c, "narrow", 3, 3, HOUR_MS, 0);
	cr_assert_eq(fg_allow_many(c, tr, 2, &d, NULL), 1);
	expect(c, &d, "\"narrow\";q=3;w=3600", "\"narrow\";r=2;t=1200");
	cr_assert_eq(fg_rule_set(c, &slow), 0);
	cr_assert_eq(fg_reserve(c, "slow", "k", 1, &delay, &d), 1);
	cr_assert_eq(fg_reserve(c, "slow", "k", 1, &delay, &d), 1);
	cr_assert_gt(delay, 0, "the second waits");
	snprintf(want, sizeof want, "\"slow\";r=%u;t=%llu", d.remaining,
	         (unsigned long long)t_of(&d, 1000000000u));
	expect(c, &d, "\"slow\";q=1;w=1", want);
	fg_close(c);
	(void)fg_unlink(test_segment("hdr-many"));
}

Test(headers, a_buffer_one_byte_short_is_espace_and_leaves_both_empty)
{
	fg_client *c = test_create("hdr-space", 1024);
	char p[MAX], rl[MAX];
	fg_decision d;

	test_rule(c, "h", 2, 1, HOUR_MS, 0);
	cr_assert_eq(fg_allow(c, "h", "k", 1, &d), 1);
	/* "h";q=2;w=7200 is 14 bytes, "h";r=1;t=3600 14 */
	cr_assert_eq(fg_ratelimit_headers(c, &d, p, 15, rl, 15), 0);
	cr_assert_str_eq(p, "\"h\";q=2;w=7200");
	cr_assert_eq(fg_ratelimit_headers(c, &d, p, 14, rl, sizeof rl),
	             FG_ESPACE);
	cr_assert_str_eq(p, "");
	cr_assert_str_eq(rl, "");
	cr_assert_eq(fg_ratelimit_headers(c, &d, p, sizeof p, rl, 14),
	             FG_ESPACE);
	cr_assert_str_eq(p, "");
	cr_assert_str_eq(rl, "");
	cr_assert_eq(fg_ratelimit_headers(c, &d, p, 0, rl, 0), FG_ESPACE);
	fg_close(c);
	(void)fg_unlink(test_segment("hdr-space"));
}

Test(headers, ratelimit_max_holds_the_longest_values)
{
	static const char name[] = "a23456789012345678901234567890b";
	fg_client *c = test_create("hdr-long", 1024);
	fg_decision d = {0};
	char p[MAX], rl[MAX];

	cr_assert_eq(sizeof name - 1, FG_RULE_NAME_MAX);
	/* the widest window a rule may have: 2^56 ns */
	test_rule(c, name, 72057, 1, 1000000, 0);
	d.rule = index_of(c, name);
	d.limit = UINT32_MAX;
	d.remaining = UINT32_MAX - 1;
	d.reset_ms = UINT64_MAX; /* t: ceil(2^64 - 1 ms), in s */
	cr_assert_eq(fg_ratelimit_headers(c, &d, p, sizeof p, rl, sizeof rl),
	             0);
	cr_assert_str_eq(rl, "\"a23456789012345678901234567890b\";"
	                     "r=4294967294;t=18446744073709552");
	cr_assert_str_eq(p, "\"a23456789012345678901234567890b\";"
	                    "q=4294967295;w=72057000");
	fg_close(c);
	(void)fg_unlink(test_segment("hdr-long"));
}

Test(headers, refuses_null_withdrawn_and_in_flight_rules)
{
	fg_client *c = test_create("hdr-bad", 1024);
	fg_rule lim = {.name = "conn",
	               .capacity = 2,
	               .lease_ms = 1000,
	               .flags = FG_RULE_IN_FLIGHT};
	char p[MAX] = "x", rl[MAX] = "x";
	fg_lease lease;
	fg_decision d;

	test_rule(c, "h", 2, 1, HOUR_MS, 0);
	cr_assert_eq(fg_allow(c, "h", "k", 1, &d), 1);
	cr_assert_eq(fg_ratelimit_headers(NULL, &d, p, sizeof p, rl, sizeof rl),
	             FG_EINVAL);
	cr_assert_str_eq(p, "");
	cr_assert_eq(fg_ratelimit_headers(c, NULL, p, sizeof p, rl, sizeof rl),
	             FG_EINVAL);
	cr_assert_eq(fg_ratelimit_headers(c, &d, NULL, 0, rl, sizeof rl),
	             FG_EINVAL);
	cr_assert_eq(fg_ratelimit_headers(c, &d, p, sizeof p, NULL, 0),
	             FG_EINVAL);
	cr_assert_eq(fg_rule_remove(c, "h"), 0);
	cr_assert_eq(fg_ratelimit_headers(c, &d, p, sizeof p, rl, sizeof rl),
	             FG_ENORULE);
	cr_assert_eq(fg_rule_set(c, &lim), 0);
	cr_assert_eq(fg_acquire(c, "conn", "k", &lease, &d), 1);
	cr_assert_eq(fg_ratelimit_headers(c, &d, p, sizeof p, rl, sizeof rl),
	             FG_EKIND);
	cr_assert_str_eq(rl, "");
	cr_assert_eq(fg_release(c, &lease), 1);
	fg_close(c);
	(void)fg_unlink(test_segment("hdr-bad"));
}
