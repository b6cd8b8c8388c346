/* SPDX-License-Identifier: ISC */
/*
 * fuzz_args.c - what the floodgate CLI and the HTTP endpoint pass to a
 * segment: a rule name, a key and a cost from outside (daemon/args.h),
 * into fg_allow() on a real segment.
 *
 * Input: rule, key and cost, separated by NUL bytes (missing parts are
 * empty; a cost part that is absent means the default of 1, as in both
 * front ends).  The segment is made once, with two rules, and removed at
 * exit: the one piece of state a target may keep (fuzz.h).
 *
 * Oracle: a cost that parses is the decimal value of its digits and at
 * most UINT32_MAX, and one that does not never reaches the segment; a
 * check that fails (a negative FG_E* code, named by fg_strerror) leaves
 * the segment exactly as it was; one that succeeds admits or denies with
 * figures that fit the rule.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/args.h"
#include "lib/floodgate.h"
#include "tests/fuzz/fuzz.h"

static fg_client *seg;
static char seg_name[64];

static void seg_remove(void)
{
	fg_close(seg);
	(void)fg_unlink(seg_name);
}

static void seg_make(void)
{
	fg_segment_opts o = {.capacity = 4096};
	fg_rule a = {
	    .name = "api", .capacity = 1000, .rate = 1000, .period_ms = 1};
	fg_rule b = {.name = "login",
	             .capacity = 3,
	             .rate = 1,
	             .period_ms = 3600000,
	             .flags = FG_RULE_FAIL_CLOSED};

	snprintf(seg_name, sizeof seg_name, "fgfuzz-args-%d", (int)getpid());
	(void)fg_unlink(seg_name);
	FUZZ_ASSERT(fg_create(seg_name, &o, 0, &seg) == 0);
	FUZZ_ASSERT(fg_rule_set(seg, &a) == 0 && fg_rule_set(seg, &b) == 0);
	atexit(seg_remove);
}

static uint64_t decimal(const char *s, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = v * 10 + (uint64_t)(s[i] - '0');
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *rule, *key, *cost_s, *end;
	fg_segment_stats before, after;
	fg_decision d;
	uint32_t cost = 1;
	size_t cost_n = 0;
	int r;

	if (seg == NULL)
		seg_make();
	buf = malloc(size + 3);
	FUZZ_ASSERT(buf != NULL);
	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = buf[size + 2] = '\0';
	end = buf + size;
	rule = buf;
	key = rule + strlen(rule) + 1;
	cost_s = key <= end ? key + strlen(key) + 1 : NULL;
	if (cost_s != NULL && cost_s <= end) {
		cost_n = strlen(cost_s);
		if (fgd_arg_cost(cost_s, cost_n, &cost) != 0) {
			size_t i;

			/* refused: not all digits, too long, or too big */
			for (i = 0;
			     i < cost_n && cost_s[i] >= '0' && cost_s[i] <= '9';
			     i++)
				;
			FUZZ_ASSERT(cost_n == 0 || cost_n > 10 || i < cost_n ||
			            decimal(cost_s, cost_n) > UINT32_MAX);
			goto out;
		}
		FUZZ_ASSERT(cost_n >= 1 && cost_n <= 10 &&
		            decimal(cost_s, cost_n) == cost);
	}

	FUZZ_ASSERT(fg_stats(seg, &before) == 0);
	r = fg_allow(seg, rule, key, cost, &d);
	FUZZ_ASSERT(r == 0 || r == 1 || (r < 0 && fg_strerror(r) != NULL));
	FUZZ_ASSERT(fg_stats(seg, &after) == 0);
	if (r < 0) {
		FUZZ_ASSERT(after.used == before.used &&
		            after.consumed == before.consumed &&
		            after.denied == before.denied &&
		            after.table_full == before.table_full);
	} else {
		FUZZ_ASSERT(d.limit == 1000 || d.limit == 3);
		FUZZ_ASSERT(d.remaining <= d.limit);
		FUZZ_ASSERT(cost >= 1 && cost <= d.limit);
		FUZZ_ASSERT(strlen(key) >= 1 && strlen(key) <= FG_KEY_MAX);
	}
out:
	free(buf);
	return 0;
}
