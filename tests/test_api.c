/* SPDX-License-Identifier: ISC */
/*
 * test_api.c - the public API as a user sees it, through the installed
 * shared library (only exported symbols are reachable here), on the real
 * clock.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "floodgate.h"
#include "tests/helpers.h"

TestSuite(api, .timeout = 30);

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0)
		;
}

Test(api, seed_rule_admits_a_burst_of_5_then_denies_with_retry_after)
{
	fg_client *c = test_create("seed", 1000);
	fg_decision d;
	int i;

	test_rule(c, "api", 5, 5, 1000, 0);
	for (i = 0; i < 5; i++) {
		cr_assert_eq(fg_allow(c, "api", "alice", 1, &d), 1);
		cr_expect_eq(d.limit, 5);
		cr_expect_eq(d.remaining, (uint32_t)(4 - i));
		cr_expect_eq(d.retry_after_ms, 0);
		cr_expect_eq(d.flags, 0);
	}
	cr_assert_eq(fg_allow(c, "api", "alice", 1, &d), 0);
	cr_expect_eq(d.remaining, 0);
	cr_expect(d.retry_after_ms > 0 && d.retry_after_ms <= 200,
	          "retry after %llu ms", (unsigned long long)d.retry_after_ms);
	cr_expect(d.reset_ms > 800 && d.reset_ms <= 1000);
	/* another key is another bucket */
	cr_expect_eq(fg_allow(c, "api", "bob", 1, &d), 1);
	cr_expect_eq(d.remaining, 4);
	fg_close(c);
	fg_unlink(test_segment("seed"));
}

Test(api, a_token_is_back_after_retry_after_ms)
{
	fg_client *c = test_create("refill", 1000);
	fg_decision d;

	test_rule(c, "api", 5, 5, 1000, 0);
	while (fg_allow(c, "api", "alice", 1, &d) == 1)
		;
	cr_assert_gt(d.retry_after_ms, 0);
	sleep_ms(d.retry_after_ms);
	cr_expect_eq(fg_allow(c, "api", "alice", 1, &d), 1,
	             "the token promised by retry_after_ms is there");
	fg_close(c);
	fg_unlink(test_segment("refill"));
}

Test(api, cost_takes_that_many_tokens_or_none)
{
	fg_client *c = test_create("cost", 1000);
	fg_decision d;

	test_rule(c, "bytes", 100, 1, HOUR_MS, 0);
	cr_expect_eq(fg_allow(c, "bytes", "k", 60, &d), 1);
	cr_expect_eq(d.remaining, 40);
	cr_expect_eq(fg_allow(c, "bytes", "k", 41, &d), 0);
	cr_expect_eq(d.remaining, 40, "a denied check takes nothing");
	cr_expect_eq(fg_allow(c, "bytes", "k", 40, &d), 1);
	cr_expect_eq(d.remaining, 0);
	fg_close(c);
	fg_unlink(test_segment("cost"));
}

Test(api, decision_pointer_may_be_null)
{
	fg_client *c = test_create("nulld", 1000);

	test_rule(c, "r", 1, 1, HOUR_MS, 0);
	cr_expect_eq(fg_allow(c, "r", "k", 1, NULL), 1);
	cr_expect_eq(fg_allow(c, "r", "k", 1, NULL), 0);
	fg_close(c);
	fg_unlink(test_segment("nulld"));
}

Test(api, rule_get_reports_the_rule_with_interval_rounded_up)
{
	fg_client *c = test_create("ruleget", 1000);
	fg_rule_info ri;

	test_rule(c, "third", 7, 3, 1000, FG_RULE_GLOBAL | FG_RULE_DEFAULT);
	cr_assert_eq(fg_rule_get(c, 0, &ri), 0);
	cr_expect_str_eq(ri.name, "third");
	cr_expect_eq(ri.capacity, 7);
	cr_expect_eq(ri.rate, 3);
	cr_expect_eq(ri.period_ms, 1000);
	cr_expect_eq(ri.interval_ns, 333333334, "never faster than 3/s");
	cr_expect_eq(ri.flags, FG_RULE_GLOBAL | FG_RULE_DEFAULT);
	cr_expect_eq(fg_rule_get(c, 1, &ri), FG_ENORULE);
	fg_close(c);
	fg_unlink(test_segment("ruleget"));
}

Test(api, raising_capacity_applies_to_an_existing_bucket)
{
	fg_client *c = test_create("raise", 1000);
	fg_decision d;

	test_rule(c, "r", 5, 1, HOUR_MS, 0);
	while (fg_allow(c, "r", "k", 1, NULL) == 1)
		;
	test_rule(c, "r", 10, 1, HOUR_MS, 0);
	cr_expect_eq(fg_allow(c, "r", "k", 1, &d), 1);
	cr_expect_eq(d.limit, 10);
	cr_expect_eq(d.remaining, 4, "the 5 taken stay taken");
	fg_close(c);
	fg_unlink(test_segment("raise"));
}

Test(api, two_clients_in_one_process_share_buckets)
{
	fg_client *a = test_create("twoclients", 1000), *b = NULL;

	test_rule(a, "r", 3, 1, HOUR_MS, 0);
	cr_assert_eq(fg_open(test_segment("twoclients"), 0, &b), 0);
	cr_expect_eq(fg_allow(a, "r", "k", 2, NULL), 1);
	cr_expect_eq(fg_allow(b, "r", "k", 2, NULL), 0);
	cr_expect_eq(fg_allow(b, "r", "k", 1, NULL), 1);
	cr_expect_eq(fg_allow(a, "r", "k", 1, NULL), 0);
	fg_close(b);
	fg_close(a);
	fg_unlink(test_segment("twoclients"));
}

Test(api, rule_published_after_open_is_seen_without_reopening)
{
	fg_client *owner = test_create("late", 1000), *w = NULL;

	cr_assert_eq(fg_open(test_segment("late"), 0, &w), 0);
	cr_expect_eq(fg_allow(w, "late", "k", 1, NULL), FG_ENORULE);
	test_rule(owner, "late", 1, 1, HOUR_MS, 0);
	cr_expect_eq(fg_allow(w, "late", "k", 1, NULL), 1);
	cr_assert_eq(fg_rule_remove(owner, "late"), 0);
	cr_expect_eq(fg_allow(w, "late", "k", 1, NULL), FG_ENORULE);
	fg_close(w);
	fg_close(owner);
	fg_unlink(test_segment("late"));
}

Test(api, allow_request_uses_the_endpoint_rule_else_the_default)
{
	fg_client *c = test_create("allowreq", 1000);

	test_rule(c, "/login", 1, 1, HOUR_MS, 0);
	test_rule(c, "default", 2, 1, HOUR_MS, FG_RULE_DEFAULT);
	cr_expect_eq(fg_allow_request(c, "u1", "/login"), 1);
	cr_expect_eq(fg_allow_request(c, "u1", "/login"), 0);
	cr_expect_eq(fg_allow_request(c, "u1", "/search"), 1);
	cr_expect_eq(fg_allow_request(c, "u1", "/feed"), 1);
	cr_expect_eq(fg_allow_request(c, "u1", "/other"), 0,
	             "every unnamed endpoint shares the default bucket");
	cr_expect_eq(fg_allow_request(c, "u2", "/other"), 1);
	fg_close(c);
	fg_unlink(test_segment("allowreq"));
}

Test(api, stats_count_consumption_and_denials)
{
	fg_client *c = test_create("stats", 1000);
	fg_segment_stats st;

	test_rule(c, "r", 3, 1, HOUR_MS, 0);
	cr_expect_eq(fg_allow(c, "r", "a", 2, NULL), 1);
	cr_expect_eq(fg_allow(c, "r", "a", 2, NULL), 0);
	cr_expect_eq(fg_allow(c, "r", "b", 1, NULL), 1);
	cr_assert_eq(fg_stats(c, &st), 0);
	cr_expect_eq(st.used, 2);
	cr_expect_eq(st.inserts, 2);
	cr_expect_eq(st.consumed, 3);
	cr_expect_eq(st.denied, 1);
	cr_expect_eq(st.capacity, 1000);
	cr_expect_eq(st.nslots, 2 * (572 + 3 * 24),
	             "572 buckets of 2 slots for 1000 keys at 1.75 a bucket, "
	             "and 3 x sqrt(572) more (layout.h)");
	fg_close(c);
	fg_unlink(test_segment("stats"));
}

Test(api, diagnose_says_a_good_segment_is_attachable)
{
	fg_client *c = test_create("diag", 100);
	char buf[512];

	cr_expect_eq(fg_diagnose(test_segment("diag"), buf, sizeof buf), 0);
	cr_expect(strstr(buf, "attachable") != NULL, "%s", buf);
	fg_close(c);
	fg_unlink(test_segment("diag"));
	cr_expect_eq(fg_diagnose(test_segment("diag"), buf, sizeof buf),
	             FG_ENOSEG);
	cr_expect(strstr(buf, "does not exist") != NULL, "%s", buf);
}

Test(api, close_accepts_null)
{
	fg_close(NULL);
}

Test(api, shadow_rule_allows_even_on_a_full_table_that_fails_closed)
{
	fg_client *c = test_create("shadowfull", 1);
	fg_decision d;
	char key[16];
	int i, r;

	test_rule(c, "s", 1, 1, HOUR_MS, FG_RULE_SHADOW | FG_RULE_FAIL_CLOSED);
	for (i = 0; i < 100; i++) {
		snprintf(key, sizeof key, "k%d", i);
		r = fg_allow(c, "s", key, 1, &d);
		cr_assert_eq(r, 1, "shadow never denies (key %s)", key);
		if (d.flags & FG_DECISION_UNTRACKED)
			break;
	}
	cr_assert(d.flags & FG_DECISION_UNTRACKED, "the table filled up");
	cr_expect(d.flags & FG_DECISION_SHADOW, "and reports the denial");
	fg_close(c);
	fg_unlink(test_segment("shadowfull"));
}

Test(api, unlink_refuses_a_file_that_is_not_a_segment)
{
	char path[] = "/tmp/fgtest-notaseg-XXXXXX";
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "precious data", 13), 13);
	close(fd);
	cr_expect_eq(fg_unlink(path), FG_EBADSEG);
	cr_expect_eq(access(path, F_OK), 0, "the file is still there");
	unlink(path);
	cr_expect_eq(fg_unlink(path), FG_ENOSEG);
}

/* ------------------------------------------------------- fg_allow_at */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#define MS_NS 1000000ull

Test(api, allow_at_the_clock_answers_as_allow_does)
{
	fg_client *c = test_create("at", 100);
	fg_decision d;
	uint64_t now = mono_ns();
	int i;

	test_rule(c, "r", 5, 5, 1000, 0); /* the seed example */
	for (i = 0; i < 5; i++)
		cr_expect_eq(fg_allow_at(c, "r", "k", 1, now, &d), 1);
	cr_expect_eq(fg_allow_at(c, "r", "k", 1, now, &d), 0);
	cr_expect_eq(d.retry_after_ms, 200, "one token per 200 ms");
	cr_expect_eq(d.reset_ms, 1000);
	/* and the bucket is fg_allow()'s: it is empty for it too */
	cr_expect_eq(fg_allow(c, "r", "k", 1, NULL), 0);
	/* 200 ms later by the caller's clock: a token is back */
	cr_expect_eq(fg_allow_at(c, "r", "k", 1, now + 200 * MS_NS, &d), 1);
	fg_close(c);
	fg_unlink(test_segment("at"));
}

Test(api, allow_at_one_clock_read_serves_several_rules)
{
	fg_client *c = test_create("atrules", 100);
	uint64_t now = mono_ns();

	test_rule(c, "per-user", 2, 2, 1000, 0);
	test_rule(c, "per-ip", 1, 1, 1000, 0);
	cr_expect_eq(fg_allow_at(c, "per-user", "alice", 1, now, NULL), 1);
	cr_expect_eq(fg_allow_at(c, "per-ip", "192.0.2.1", 1, now, NULL), 1);
	cr_expect_eq(fg_allow_at(c, "per-user", "alice", 1, now, NULL), 1);
	cr_expect_eq(fg_allow_at(c, "per-ip", "192.0.2.1", 1, now, NULL), 0);
	cr_expect_eq(fg_allow_at(c, "per-user", "alice", 1, now, NULL), 0);
	fg_close(c);
	fg_unlink(test_segment("atrules"));
}

/* Two keys with one history, then one asked at t and the other at an
 * older time: the older answer is never "allowed" where the newer one is
 * "denied", nor does it promise the tokens for an earlier moment. */
Test(api, allow_at_an_older_time_never_gives_a_looser_answer)
{
	fg_client *c = test_create("atold", 20000);
	uint64_t rng = 0x2545f4914f6cdd1dull, t0 = mono_ns(), looser = 0;
	uint64_t stricter = 0;
	unsigned probe, step;
	char a[32], b[32];

	test_rule(c, "r", 8, 4, 100, 0); /* 8 of burst, a token per 25 ms */
	for (probe = 0; probe < 2000; probe++) {
		uint64_t t = t0, lag;
		fg_decision da, db;
		int ra, rb;

		snprintf(a, sizeof a, "a%u", probe);
		snprintf(b, sizeof b, "b%u", probe);
		for (step = 0; step < 1 + probe % 12; step++) {
			uint32_t cost = 1 + (uint32_t)(rng % 3);

			rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
			t += rng % (30 * MS_NS);
			cr_assert_eq(fg_allow_at(c, "r", a, cost, t, NULL),
			             fg_allow_at(c, "r", b, cost, t, NULL));
		}
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		lag = rng % (60 * MS_NS);
		t += 60 * MS_NS;
		ra = fg_allow_at(c, "r", a, 2, t - lag, &da);
		rb = fg_allow_at(c, "r", b, 2, t, &db);
		cr_assert(ra == 0 || ra == 1);
		/* a retry promised for an earlier moment (to the ms) */
		if (ra > rb || (ra == 0 && rb == 0 &&
		                (da.retry_after_ms + 1) * MS_NS <
		                    db.retry_after_ms * MS_NS + lag))
			looser++;
		stricter += ra < rb;
	}
	cr_expect_eq(looser, 0, "%llu older answers were looser",
	             (unsigned long long)looser);
	cr_expect_gt(stricter, 0, "an older time was stricter sometimes");
	fg_close(c);
	fg_unlink(test_segment("atold"));
}

Test(api, allow_at_refuses_what_is_not_a_monotonic_time)
{
	fg_client *c = test_create("atbad", 100);
	fg_decision d;

	test_rule(c, "r", 5, 5, 1000, 0);
	cr_expect_eq(fg_allow_at(c, "r", "k", 1, UINT64_C(1) << 62, &d),
	             FG_EINVAL);
	cr_expect_eq(fg_allow_at(c, "r", "k", 1, UINT64_MAX, &d), FG_EINVAL);
	cr_expect_eq(fg_allow_at(NULL, "r", "k", 1, mono_ns(), &d), FG_EINVAL);
	cr_expect_eq(fg_allow_at(c, "nope", "k", 1, mono_ns(), &d), FG_ENORULE);
	cr_expect_eq(fg_allow_at(c, "r", "k", 6, mono_ns(), &d), FG_ECOST);
	cr_expect_eq(fg_allow_at(c, "r", "", 1, mono_ns(), &d), FG_EKEY);
	fg_close(c);
	fg_unlink(test_segment("atbad"));
}

Test(api, a_segment_asked_for_huge_pages_is_sized_for_them)
{
	fg_segment_opts o = {.capacity = 1000, .flags = FG_SEGMENT_HUGEPAGES};
	fg_segment_opts bad = {.capacity = 1000, .flags = 0x80};
	fg_client *c = NULL, *w = NULL;
	fg_segment_stats st;
	char path[128];
	struct stat sb;

	(void)fg_unlink(test_segment("huge"));
	cr_expect_eq(fg_create(test_segment("huge"), &bad, 0, &c), FG_EINVAL);
	cr_assert_eq(fg_create(test_segment("huge"), &o, 0, &c), 0);
	snprintf(path, sizeof path, "/dev/shm/%s", test_segment("huge"));
	cr_assert_eq(stat(path, &sb), 0);
	cr_expect_eq(sb.st_size % (2 << 20), 0, "%lld bytes",
	             (long long)sb.st_size);
	cr_assert_eq(fg_open(test_segment("huge"), 0, &w), 0);
	test_rule(c, "r", 2, 1, 1000, 0);
	cr_expect_eq(fg_allow(w, "r", "k", 2, NULL), 1);
	cr_expect_eq(fg_allow(c, "r", "k", 1, NULL), 0, "one bucket");
	cr_assert_eq(fg_stats(w, &st), 0);
	cr_expect_eq(st.capacity, 1000);
	fg_close(w);
	fg_close(c);
	fg_unlink(test_segment("huge"));
}
