/* SPDX-License-Identifier: ISC */
/*
 * test_penalty_node.c - the penalty box as operators meet it: the block
 * in floodgate get, list, rules and stats, lifted by floodgate reset; and
 * a global rule's block on the other node of two real floodgated.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "lib/client.h"
#include "tests/cli_harness.h"

TestSuite(penalty_node, .timeout = 90, .fini = env_fini);

#define BOX "rule box capacity 2 rate 1/1h penalty 3 denials in 10s block 30s\n"
#define GBOX                                                                   \
	"rule gbox capacity 5 rate 5/1s scope global "                         \
	"penalty 3 denials in 10s block 1m\n"

/* @n requests of (@rule, @key) on @fg admitted, then @denied denied:
 * the retry_after_ms of the last. */
static uint64_t hammer(fg_client *fg, const char *rule, const char *key,
                       unsigned n, unsigned denied)
{
	fg_decision d = {0};
	unsigned i;

	for (i = 0; i < n; i++)
		cr_assert_eq(fg_allow(fg, rule, key, 1, &d), 1);
	for (i = 0; i < denied; i++)
		cr_assert_eq(fg_allow(fg, rule, key, 1, &d), 0);
	return d.retry_after_ms;
}

/* @denied denials of (@rule, @key) on @fg in a row, after taking what
 * refilled since its last check (a rule of 5/1s refills a token each
 * 200 ms, which waiting for gossip under ASan can take): the
 * retry_after_ms of the last. */
static uint64_t deny(fg_client *fg, const char *rule, const char *key,
                     unsigned denied)
{
	fg_decision d = {0};
	unsigned i, refilled = 0;

	while (fg_allow(fg, rule, key, 1, &d) == 1)
		cr_assert_lt(++refilled, 100, "%s never denies", rule);
	for (i = 1; i < denied; i++)
		cr_assert_eq(fg_allow(fg, rule, key, 1, &d), 0);
	return d.retry_after_ms;
}

/* The number after @key in @json (0 if it is not there). */
static uint64_t json_u64(const char *json, const char *key)
{
	const char *p = strstr(json, key);

	return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

static void expect_out(struct run *r, const char *needle, int present)
{
	cr_expect_eq(r->status, 0, "status %d: %s", r->status, r->err);
	cr_expect_eq(strstr(r->out, needle) != NULL, present, "%s '%s' in:\n%s",
	             present ? "no" : "a", needle, r->out);
	run_free(r);
}

Test(penalty_node, the_cli_shows_a_block_and_reset_lifts_it)
{
	fg_client *fg;
	struct run r;

	env_init(1);
	write_conf(0, 0, BOX);
	start(0);
	cr_assert_eq(fg_open(E.seg[0], 0, &fg), 0);
	cr_expect_geq(hammer(fg, "box", "k", 2, 3), 30000 + 3600000 - 1000);

	r = cli("-s", E.seg[0], "get", "box", "k", NULL);
	expect_out(&r, " s more (penalty)\n", 1);
	r = cli("-s", E.seg[0], "--json", "get", "box", "k", NULL);
	assert_json(r.out);
	cr_expect_geq(json_u64(r.out, "\"blocked_ms\":"), 25000, "%s", r.out);
	cr_expect_leq(json_u64(r.out, "\"blocked_ms\":"), 30000, "%s", r.out);
	run_free(&r);
	r = cli("-s", E.seg[0], "list", "--rule", "box", NULL);
	expect_out(&r, " s\n", 1);
	r = cli("-s", E.seg[0], "list", "--rule", "box", NULL);
	expect_out(&r, "        3 blocked ", 1);
	r = cli("-s", E.seg[0], "list", "--rule", "box", NULL);
	expect_out(&r, "\\x00", 0); /* the count of denials is no key */
	r = cli("-s", E.seg[0], "rules", NULL);
	expect_out(&r, " 3 in 10 s, 30 s ", 1);
	r = cli("-s", E.seg[0], "--json", "rules", NULL);
	expect_out(&r,
	           "\"penalty_denials\":3,\"penalty_window_ms\":10000,"
	           "\"penalty_block_ms\":30000,\"penalty_blocks\":1,",
	           1);
	r = cli("-s", E.seg[0], "--json", "stats", NULL);
	expect_out(&r, "\"penalty_blocks\":1}", 1);

	r = cli("-s", E.seg[0], "reset", "box", "k", NULL);
	expect_out(&r, "refilled: 2 tokens", 1);
	r = cli("-s", E.seg[0], "get", "box", "k", NULL);
	expect_out(&r, "blocked:", 0);
	cr_expect_eq(fg_allow(fg, "box", "k", 1, NULL), 1, "lifted");
	cr_expect_eq(fg_allow(fg, "box", "k", 1, NULL), 1);
	/* and its denials forgotten: two more do not block it again */
	cr_expect_eq(fg_allow(fg, "box", "k", 1, NULL), 0);
	cr_expect_eq(fg_allow(fg, "box", "k", 1, NULL), 0);
	r = cli("-s", E.seg[0], "get", "box", "k", NULL);
	expect_out(&r, "blocked:", 0);
	fg_close(fg);
}

Test(penalty_node, a_global_rules_block_reaches_the_other_node)
{
	fg_client *fg0, *fg1;
	fg_decision d;
	fg_rule_info ri;
	struct run r;

	env_init(2);
	write_conf(0, 1, GBOX);
	write_conf(1, 1, GBOX);
	start(0);
	start(1);
	cr_assert_eq(fg_open(E.seg[0], 0, &fg0), 0);
	cr_assert_eq(fg_open(E.seg[1], 0, &fg1), 0);
	/* node 1 first learns the admissions, so that the block comes as
	 * an increase of a count it holds, within its bound of what an
	 * honest origin can have admitted since (gossip/counts.c) */
	cr_expect_eq(hammer(fg0, "gbox", "k", 5, 0), 0);
	cr_assert(contains_soon("n0 consumed 5,", 1, "get", "gbox", "k"));
	cr_expect_geq(deny(fg0, "gbox", "k", 3), 60000);
	cr_assert_eq(
	    fg_rule_get(fg0, (uint32_t)fg__rule_index(fg0, "gbox"), &ri), 0);
	cr_expect_eq(ri.penalties, 1);

	/* node 1 saw no denial of its own: the block came as consumption */
	cr_assert(contains_soon("blocked:      for ", 1, "get", "gbox", "k"),
	          "node 1 never heard of the block");
	cr_assert_eq(fg_allow(fg1, "gbox", "k", 1, &d), 0);
	cr_expect_geq(d.retry_after_ms, 55000, "node 1 blocks for %llu ms",
	              (unsigned long long)d.retry_after_ms);
	cr_expect_leq(d.retry_after_ms, 61200);
	cr_assert_eq(
	    fg_rule_get(fg1, (uint32_t)fg__rule_index(fg1, "gbox"), &ri), 0);
	cr_expect_eq(ri.penalties, 0, "the block is node 0's");

	/* a reset lifts it where it runs */
	r = cli("-s", E.seg[1], "reset", "gbox", "k", NULL);
	expect_out(&r, "refilled", 1);
	cr_expect_eq(fg_allow(fg1, "gbox", "k", 1, NULL), 1);
	cr_expect_eq(fg_allow(fg0, "gbox", "k", 1, NULL), 0);
	fg_close(fg0);
	fg_close(fg1);
}
