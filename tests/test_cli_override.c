/* SPDX-License-Identifier: ISC */
/*
 * test_cli_override.c - floodgate override set|rm|list and what get says
 * of a key's override, with a real floodgated: an override set at run
 * time reaches a running worker, is shown by get, stays across a reload,
 * and survives a restart of the daemon on a new segment by its snapshot.
 */
#include "tests/cli_harness.h"

#define TIERS "tier gold capacity 40 rate 40/1h\n"

/* The limit a fresh check of (api, @key) by the worker @w reports. */
static uint32_t limit_of(fg_client *w, const char *key)
{
	fg_decision d;

	cr_assert_eq(fg_allow(w, "api", key, 1, &d), 1, "%s denied", key);
	return d.limit;
}

static int has(const struct run *r, const char *s)
{
	return strstr(r->out, s) != NULL;
}

TestSuite(cli_override, .timeout = 60, .fini = env_fini);

/* Lines of @text that begin with @word and a space. */
static unsigned lines_of(const char *text, const char *word)
{
	unsigned n = 0;
	size_t len = strlen(word);

	for (; text != NULL && *text; text = strchr(text, '\n'), text += !!text)
		n += strncmp(text, word, len) == 0 && text[len] == ' ';
	return n;
}

/* Overrides of rules api and login, as floodgate rules and the daemon's
 * metrics count them: the same as the entries override list prints. */
static void expect_override_counts(unsigned api, unsigned login)
{
	char want[64], *reply = NULL;
	struct run r = cli("-s", E.seg[0], "--json", "rules", NULL);

	EXPECT(r, 0);
	assert_json(r.out);
	snprintf(want, sizeof want, "\"algorithm\":\"gcra\",\"overrides\":%u}",
	         api);
	cr_expect(strstr(r.out, "\"name\":\"api\"") != NULL &&
	              strstr(strstr(r.out, "\"name\":\"api\""), want) != NULL,
	          "want %s: %s", want, r.out);
	run_free(&r);
	r = cli("-s", E.seg[0], "override", "list", NULL);
	EXPECT(r, 0);
	cr_expect_eq(lines_of(r.out, "api"), api, "%s", r.out);
	cr_expect_eq(lines_of(r.out, "login"), login, "%s", r.out);
	run_free(&r);
	cr_assert_eq(fgd_ctl_request(E.sock[0], "metrics", &reply), 0);
	snprintf(want, sizeof want,
	         "floodgate_rule_overrides{rule=\"api\"} %u\n", api);
	cr_expect(strstr(reply, want) != NULL, "want %s", want);
	snprintf(want, sizeof want,
	         "floodgate_rule_overrides{rule=\"login\"} %u\n", login);
	cr_expect(strstr(reply, want) != NULL, "want %s", want);
	free(reply);
}

Test(cli_override, set_reaches_a_running_worker_and_get_shows_it)
{
	fg_client *w;
	struct run r;

	env_init(1);
	write_conf(0, 0, TIERS);
	start(0);
	cr_assert_eq(fg_open(E.seg[0], 0, &w), 0);
	/* the worker has the rule's parameters (a debt taken at the rule's
	 * rate would carry over in ns: shm/override.c) */
	cr_assert_eq(limit_of(w, "x"), 5, "the rule's capacity");
	r = cli("-c", E.conf[0], "override", "set", "api", "key", "vip", "tier",
	        "gold", NULL);
	EXPECT(r, 0);
	cr_assert(has(&r, "key vip (tier gold): capacity 40"), "%s", r.out);
	run_free(&r);
	cr_assert_eq(limit_of(w, "vip"), 40, "the worker sees the override");
	cr_assert_eq(limit_of(w, "vip2"), 5, "and only for that key");

	r = cli("-s", E.seg[0], "get", "api", "vip", NULL);
	EXPECT(r, 0);
	cr_assert(has(&r, "override:     key vip (tier gold): capacity 40, "),
	          "%s", r.out);
	cr_assert(has(&r, "(run time)"), "%s", r.out);
	cr_assert(has(&r, "tokens left:  39"), "40 less the 1 taken: %s",
	          r.out);
	run_free(&r);
	r = cli("-s", E.seg[0], "get", "--json", "api", "vip", NULL);
	EXPECT(r, 0);
	assert_json(r.out);
	cr_assert(has(&r, "\"capacity\":40,\"override\":{\"kind\":\"key\","
	                  "\"match\":\"vip\",\"tier\":\"gold\""),
	          "%s", r.out);
	run_free(&r);
	r = cli("-s", E.seg[0], "get", "api", "vip2", NULL);
	cr_assert(has(&r, "override:     none"), "%s", r.out);
	run_free(&r);

	r = cli("-s", E.seg[0], "list", "--json", "--rule", "api", NULL);
	EXPECT(r, 0);
	assert_json(r.out);
	cr_assert(has(&r, "\"key\":\"vip\",\"key_hex\":\"766970\","
	                  "\"tokens_left\":39,\"capacity\":40,"),
	          "list reads the key's own numbers: %s", r.out);
	run_free(&r);
	r = cli("-s", E.seg[0], "override", "list", NULL);
	EXPECT(r, 0);
	cr_assert(has(&r, "api") && has(&r, "key vip (tier gold)"), "%s",
	          r.out);
	run_free(&r);
	expect_override_counts(1, 0);
	r = cli("-c", E.conf[0], "override", "set", "login", "prefix", "10.",
	        "capacity", "9", "rate", "9/1h", NULL);
	EXPECT(r, 0);
	run_free(&r);
	expect_override_counts(1, 1);
	/* check --cost is judged against the key's capacity */
	r = cli("-s", E.seg[0], "check", "api", "vip", "--cost", "30", NULL);
	EXPECT(r, 0);
	cr_assert(has(&r, "allowed: 9 of 40 left"), "%s", r.out);
	run_free(&r);
	r = cli("-s", E.seg[0], "check", "api", "x", "--cost", "30", NULL);
	EXPECT(r, 64);
	run_free(&r);
	r = cli("-s", E.seg[0], "override", "rm", "api", "key", "vip", NULL);
	EXPECT(r, 0);
	cr_assert(has(&r, "removed"), "%s", r.out);
	run_free(&r);
	cr_assert_eq(limit_of(w, "vip"), 5, "the rule's again");
	expect_override_counts(0, 1);
	fg_close(w);
	env_fini();
}

Test(cli_override, bad_words_are_refused_with_the_configs_messages)
{
	struct run r;

	env_init(1);
	write_conf(0, 0, "");
	start(0);
	r = cli("-s", E.seg[0], "override", "set", "api", "key", "k", "tier",
	        "gold", NULL);
	EXPECT(r, 64);
	cr_assert(strstr(r.err, "no tier 'gold'") &&
	              strstr(r.err, "give -c CONFIG"),
	          "%s", r.err);
	run_free(&r);
	r = cli("-s", E.seg[0], "override", "set", "api", "key", "k",
	        "capacity", "5", "rate", "5", NULL);
	EXPECT(r, 64);
	cr_assert(strstr(r.err, "rate must be N/PERIOD"), "%s", r.err);
	run_free(&r);
	r = cli("-s", E.seg[0], "override", "set", "nope", "key", "k",
	        "capacity", "5", "rate", "5/1s", NULL);
	EXPECT(r, 2);
	run_free(&r);
	r = cli("-s", E.seg[0], "override", "frob", NULL);
	EXPECT(r, 64);
	run_free(&r);
	env_fini();
}

/* The config's override comes back from the config, the run-time one
 * from the snapshot written at exit; a reload leaves the run-time one. */
Test(cli_override, a_run_time_override_survives_a_restart_on_a_new_segment)
{
	char extra[512];
	fg_client *w;
	struct run r;

	env_init(1);
	snprintf(extra, sizeof extra,
	         "snapshot %s/snap\noverride api key cfg capacity 7 rate "
	         "7/1h\n",
	         E.dir);
	write_conf(0, 0, extra);
	start(0);
	r = cli("-s", E.seg[0], "override", "set", "api", "prefix",
	        "user:", "capacity", "9", "rate", "9/1h", NULL);
	EXPECT(r, 0);
	run_free(&r);
	r = cli("-s", E.seg[0], "reload", NULL);
	EXPECT(r, 0);
	run_free(&r);
	stop(0);
	cr_assert_eq(fg_unlink(E.seg[0]), 0, "a new segment at the restart");
	start(0);
	cr_assert_eq(fg_open(E.seg[0], 0, &w), 0);
	cr_assert_eq(limit_of(w, "user:1"), 9, "restored from the snapshot");
	cr_assert_eq(limit_of(w, "cfg"), 7, "set again by the config");
	cr_assert_eq(limit_of(w, "other"), 5);
	fg_close(w);
	r = cli("-s", E.seg[0], "override", "list", "--json", NULL);
	EXPECT(r, 0);
	assert_json(r.out);
	cr_assert(has(&r, "\"match\":\"user:\",\"capacity\":9,\"rate\":9,"
	                  "\"period_ms\":3600000,\"origin\":\"runtime\""),
	          "%s", r.out);
	cr_assert(has(&r, "\"match\":\"cfg\"") && has(&r, "\"config\""), "%s",
	          r.out);
	run_free(&r);
	env_fini();
}
