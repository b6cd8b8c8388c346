/* SPDX-License-Identifier: ISC */
/*
 * test_cli_operator.c - what an operator reads from floodgate(1): one
 * version, --json on every command (or a clear refusal), messages of one
 * sentence that say what to do, figures for people in tables and raw
 * integers in JSON, and JSON that stays valid whatever the bytes of a key
 * (issue 20: a remote key whose hex form is all digits).
 */
#include "tests/cli_harness.h"

TestSuite(cli_operator, .timeout = 60, .fini = env_fini);

/* ------------------------------------------------------------ version */

Test(cli_operator, version_is_the_one_configure_defines)
{
	char want[64];
	struct run r;

	env_init(0);
	r = cli("--version", NULL);
	EXPECT(r, 0);
	snprintf(want, sizeof want, "floodgate %s\n", FG_VERSION_STRING);
	cr_assert_str_eq(r.out, want);
	cr_assert_str_eq(r.err, "");
	run_free(&r);
	env_fini();
}

/* --------------------------------------------------------------- json */

/* The commands --help lists (generated from the command table). */
static int help_commands(char names[][16], int max)
{
	struct run r = cli("--help", NULL);
	const char *l = strstr(r.out, "\ncommands:\n");
	int n = 0;

	EXPECT(r, 0);
	cr_assert_not_null(l, "%s", r.out);
	for (l = strchr(l + 1, '\n') + 1; strncmp(l, "  ", 2) == 0 && n < max;
	     l = strchr(l, '\n') + 1) {
		if (l[2] >= 'a' && l[2] <= 'z')
			sscanf(l + 2, "%15[a-z]", names[n++]);
	}
	run_free(&r);
	return n;
}

Test(cli_operator, every_command_answers_json_or_refuses_clearly)
{
	char names[32][16], key[160];
	struct run r;
	int n, i;

	one_up();
	snprintf(key, sizeof key, "%s/k", E.dir);
	n = help_commands(names, 32);
	cr_assert_geq(n, 10, "--help lists %d commands", n);
	for (i = 0; i < n; i++) {
		const char *c = names[i];

		if (strcmp(c, "get") == 0 || strcmp(c, "check") == 0 ||
		    strcmp(c, "reset") == 0)
			r = cli("-s", E.seg[0], "--json", c, "api", "k", NULL);
		else if (strcmp(c, "keygen") == 0)
			r = cli("--json", c, key, "n9", NULL);
		else
			r = cli("-s", E.seg[0], c, "--json", NULL);
		if (strcmp(c, "top") == 0) { /* a screen: refused, and where */
			EXPECT(r, 64);
			cr_assert(strstr(r.err, "--json list --top") != NULL,
			          "%s", r.err);
			cr_assert_str_eq(r.out, "");
			run_free(&r);
			continue;
		}
		cr_assert(r.status == 0, "%s --json: exit %d, %s", c, r.status,
		          r.err);
		assert_json(r.out);
		cr_assert_eq(r.out[strlen(r.out) - 1], '\n');
		run_free(&r);
	}
	/* two formats at once: refused, and said why */
	r = cli("-s", E.seg[0], "--json", "stats", "--prometheus", NULL);
	EXPECT(r, 64);
	cr_assert(strstr(r.err, "--json and --prometheus") != NULL, "%s",
	          r.err);
	cr_assert_str_eq(r.out, "");
	run_free(&r);
	env_fini();
}

/* ----------------------------------------------------------- messages */

/* One line on stderr, nothing on stdout, no library function named, the
 * fix after a colon or semicolon, and no clause said twice. */
static void one_sentence(const struct run *r, int status, const char *has)
{
	cr_assert_eq(r->status, status, "exit %d: %s", r->status, r->err);
	cr_assert_str_eq(r->out, "", "stdout: %s", r->out);
	cr_assert(strncmp(r->err, "floodgate: ", 11) == 0, "%s", r->err);
	cr_assert(strchr(r->err, '\n') == r->err + strlen(r->err) - 1,
	          "not one line: %s", r->err);
	cr_assert(strstr(r->err, "fg_") == NULL, "names a function: %s",
	          r->err);
	cr_assert(strstr(r->err, has) != NULL, "wanted '%s' in: %s", has,
	          r->err);
	cr_assert(strpbrk(r->err + 11, ":;") != NULL, "no fix: %s", r->err);
	cr_assert(strstr(r->err, "running?") == NULL, "%s", r->err);
}

Test(cli_operator, each_message_is_one_sentence_that_says_what_to_do)
{
	struct run r;

	one_up();
	r = cli("-s", "fg-cli-absent", "status", NULL);
	one_sentence(&r, 4, "does not exist: start floodgated");
	run_free(&r);
	r = cli("-s", E.seg[0], "frobnicate", NULL);
	one_sentence(&r, 64, "floodgate --help lists them");
	run_free(&r);
	r = cli("-s", E.seg[0], "get", "api", NULL);
	one_sentence(&r, 64, "usage: floodgate get RULE KEY");
	run_free(&r);
	r = cli("-s", E.seg[0], "list", "--top", "-5", NULL);
	one_sentence(&r, 64, "--top -5 is negative: give a whole number");
	run_free(&r);
	r = cli("-s", E.seg[0], "list", "--window", "10x", NULL);
	one_sentence(&r, 64, "is not a whole number");
	run_free(&r);
	r = cli("-s", E.seg[0], "list", "--frob", NULL);
	one_sentence(&r, 64, "usage: floodgate list");
	run_free(&r);
	r = cli("-s", E.seg[0], "check", "api", "k", "--cost", "6", NULL);
	one_sentence(&r, 64, "above rule api's capacity: give 1 to 5");
	run_free(&r);
	r = cli("-s", E.seg[0], "get", "nosuch", "k", NULL);
	one_sentence(&r, 2, "floodgate rules lists them");
	run_free(&r);
	stop(0);
	r = cli("-s", E.seg[0], "peers", NULL);
	one_sentence(&r, 3, "floodgated is not running");
	run_free(&r);
	env_fini();
}

/* ------------------------------------------------------------- figures */

Test(cli_operator, tables_show_rates_and_durations_for_people)
{
	struct run r;
	const char *up;
	int i;

	one_up();
	r = cli("-s", E.seg[0], "rules", NULL);
	EXPECT(r, 0);
	cr_assert(strstr(r.out, " 1/h ") && strstr(r.out, " 3/h ") &&
	              strstr(r.out, " 1000000/s "),
	          "%s", r.out);
	run_free(&r);
	r = cli("-s", E.seg[0], "status", NULL);
	EXPECT(r, 0);
	up = strstr(r.out, ", up ");
	cr_assert(up != NULL && up[5] >= '0' && up[5] <= '9', "%s", r.out);
	cr_assert(strstr(up, " ms, gossip") || strstr(up, " s, gossip"), "%s",
	          r.out);
	run_free(&r);
	for (i = 0; i < 5; i++) {
		r = cli("-s", E.seg[0], "check", "api", "h", NULL);
		EXPECT(r, 0);
		run_free(&r);
	}
	/* one token an hour, the last just taken: an hour to wait, less
	 * the moments since; JSON gives the milliseconds */
	r = cli("-s", E.seg[0], "check", "api", "h", NULL);
	EXPECT(r, 1);
	cr_assert_str_eq(r.out, "denied: retry after 1 h\n");
	run_free(&r);
	r = cli("-s", E.seg[0], "--json", "check", "api", "h", NULL);
	EXPECT(r, 1);
	{
		const char *v = strstr(r.out, "\"retry_after_ms\":");
		unsigned long ms = 0;

		cr_assert(v && sscanf(v + 17, "%lu", &ms) == 1, "%s", r.out);
		cr_assert(ms > 3500000 && ms <= 3600000, "%lu", ms);
	}
	run_free(&r);
	r = cli("-s", E.seg[0], "get", "api", "h", NULL);
	EXPECT(r, 0);
	cr_assert(strstr(r.out, "(capacity 5, 1/h, global)") != NULL, "%s",
	          r.out);
	run_free(&r);
	env_fini();
}

/* ------------------------------------------------------------ issue 20 */

Test(cli_operator, get_json_quotes_remote_keys_whose_hex_is_all_digits)
{
	static const uint8_t digits[] = {0x01, 0x23}; /* hex 0123 */
	struct run r;
	fg_client *fg;
	fg_decision d;
	unsigned api;

	two_up();
	cr_assert_eq(fg_open(E.seg[1], 0, &fg), 0);
	api = (unsigned)fg__rule_index(fg, "api");
	cr_assert_eq(fg__check(fg, api, digits, sizeof digits, 1, &d), 1);
	cr_assert_eq(fg_allow(fg, "api", "y", 1, NULL), 1); /* hex 79 */
	/* (how much the ledger says n1 consumed is another test's) */
	cr_assert(contains_soon("n1 consumed ", 0, "get", "api", "\x01#"),
	          "node 0 never learnt node 1's consumption");
	cr_assert(contains_soon("n1 consumed ", 0, "get", "api", "y"));
	r = cli("-s", E.seg[0], "--json", "get", "api", "\x01#", NULL);
	EXPECT(r, 0);
	assert_json(r.out);
	cr_assert(strstr(r.out, "\"key\":\"\\u0001#\",\"key_hex\":\"0123\"") !=
	              NULL,
	          "%s", r.out);
	cr_assert(strstr(r.out, "{\"origin\":\"n1\",\"rule\":\"api\","
	                        "\"key\":\"0123\",\"count\":") != NULL,
	          "%s", r.out);
	run_free(&r);
	r = cli("-s", E.seg[0], "--json", "get", "api", "y", NULL);
	EXPECT(r, 0);
	assert_json(r.out);
	cr_assert(strstr(r.out, "\"key\":\"79\",\"count\":") != NULL, "%s",
	          r.out);
	run_free(&r);
	fg_close(fg);
	env_fini();
}
