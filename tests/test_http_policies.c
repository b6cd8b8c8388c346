/* SPDX-License-Identifier: ISC */
/*
 * test_http_policies.c - several rules in one HTTP check: /v1/allow with
 * rule=a,b and the classic /check with endpoint=a,b answer for one
 * request that every rule must admit (fg_allow_many()), end to end
 * through a real floodgated (tests/httpd.h).
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#define HTTPD_SEG_PREFIX "fg-policies-http"
#include "tests/httpd.h"

#define RULES                                                                  \
	"rule api capacity 5 rate 5/1h default\n"                              \
	"rule small capacity 3 rate 3/1h\n"                                    \
	"rule login capacity 2 rate 2/1h\n"                                    \
	"rule r1 capacity 9 rate 1/1h\nrule r2 capacity 9 rate 1/1h\n"         \
	"rule r3 capacity 9 rate 1/1h\nrule r4 capacity 9 rate 1/1h\n"         \
	"rule r5 capacity 9 rate 1/1h\nrule r6 capacity 9 rate 1/1h\n"         \
	"rule conn in-flight 2\n"

TestSuite(http_policies, .timeout = 60);

static void start(void)
{
	start_on(NULL, "timeout 2s connections 4 per-address 4", RULES);
}

Test(http_policies, a_rule_list_admits_only_what_every_rule_admits)
{
	struct resp r;
	int i;

	start();
	for (i = 0; i < 2; i++) {
		post(&r, "/v1/allow?rule=small,login&key=zoe");
		cr_assert_eq(r.status, 200, "request %d: %s", i, r.raw);
	}
	/* the answer describes the rule with the fewest tokens left */
	cr_expect_not_null(strstr(r.body, "\"rule\":\"login\""), "%s", r.body);
	cr_expect_str_eq(header(&r, "RateLimit"), "\"login\";r=0;t=1800");
	post(&r, "/v1/allow?rule=small,login&key=zoe");
	cr_assert_eq(r.status, 429, "%s", r.raw);
	cr_expect_not_null(strstr(r.body, "\"rule\":\"login\""), "%s", r.body);
	cr_expect_eq(header_num(&r, "Retry-After"), 1800);
	cr_expect_eq(left("small", "zoe"), 1, "small paid for 2, not 3");
	cr_expect_eq(left("login", "zoe"), 0);
	/* small alone still has its token */
	post(&r, "/v1/allow?rule=small&key=zoe");
	cr_expect_eq(r.status, 200, "%s", r.raw);
	stop();
}

Test(http_policies, a_rule_named_twice_is_checked_once_and_cost_applies_to_each)
{
	struct resp r;

	start();
	post(&r, "/v1/allow?rule=small,api,small&key=yves&cost=2");
	cr_assert_eq(r.status, 200, "%s", r.raw);
	cr_expect_eq(left("small", "yves"), 1);
	cr_expect_eq(left("api", "yves"), 3);
	post(&r, "/v1/allow?rule=api,small&key=yves&cost=2");
	cr_assert_eq(r.status, 429, "%s", r.raw);
	cr_expect_not_null(strstr(r.body, "\"rule\":\"small\""), "%s", r.body);
	cr_expect_eq(left("api", "yves"), 3, "api kept its tokens");
	stop();
}

Test(http_policies, the_classic_check_takes_a_list_of_endpoints)
{
	struct resp r;
	int i;

	start();
	/* "/page" has no rule: the default rule (api) answers for it */
	for (i = 0; i < 2; i++) {
		get(&r, "/check?user_id=xena&endpoint=login,/page");
		cr_assert_eq(r.status, 200, "%s", r.raw);
	}
	get(&r, "/check?user_id=xena&endpoint=login,/page");
	cr_assert_eq(r.status, 429, "%s", r.raw);
	cr_expect_not_null(strstr(r.body, "\"rule\":\"login\""), "%s", r.body);
	cr_expect_eq(left("api", "xena"), 3, "the default rule paid twice");
	stop();
}

Test(http_policies, a_bad_list_is_400_and_consumes_nothing)
{
	static const struct {
		const char *path, *why;
	} bad[] = {
	    {"/v1/allow?rule=small,nope&key=walt", "no such rule"},
	    {"/v1/allow?rule=small,&key=walt", "no such rule"},
	    {"/v1/allow?rule=small,login&key=walt&cost=3",
	     "cost is 0 or above the rule's capacity"},
	    {"/v1/allow?rule=small,login&key=", "key is NULL or empty"},
	    {"/v1/allow?rule=small,login,api,r1,r2,r3,r4,r5,r6&key=walt",
	     "at most 8 rules"},
	    {"/v1/allow?rule=small,conn&key=walt", "the other kind"},
	};
	struct resp r;
	size_t i;

	start();
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		post(&r, bad[i].path);
		cr_expect_eq(r.status, 400, "%s: %s", bad[i].path, r.raw);
		cr_expect_not_null(strstr(r.body, bad[i].why), "%s: %s",
		                   bad[i].path, r.body);
	}
	cr_expect_eq(left("small", "walt"), 3);
	cr_expect_eq(left("login", "walt"), 2);
	cr_expect_eq(left("r1", "walt"), 9);
	/* eight distinct rules, one of them twice, are fine */
	post(&r,
	     "/v1/allow?rule=small,login,api,r1,r2,r3,r4,r5,small&key=walt");
	cr_expect_eq(r.status, 200, "%s", r.raw);
	cr_expect_eq(left("r5", "walt"), 8);
	stop();
}

/* A key's override (floodgate.conf(5)) is its capacity: the cost it may
 * ask, and the tokens it has; another key keeps the rule's. */
Test(http_policies, a_keys_override_sets_the_cost_it_may_ask)
{
	struct resp r;

	start_on(NULL, "timeout 2s connections 4 per-address 4",
	         RULES "override small key vip capacity 6 rate 6/1h\n");
	post(&r, "/v1/allow?rule=small&key=vip&cost=5");
	cr_assert_eq(r.status, 200, "%s", r.raw);
	cr_expect_eq(left("small", "vip"), 1, "6 less 5");
	post(&r, "/v1/allow?rule=small&key=bob&cost=5");
	cr_expect_eq(r.status, 400, "above the rule's 3: %s", r.raw);
	cr_expect_eq(left("small", "bob"), 3, "nothing taken");
	stop();
}
