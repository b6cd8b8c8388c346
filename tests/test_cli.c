/* SPDX-License-Identifier: ISC */
/*
 * test_cli.c - floodgate(1) against real segments and real floodgated
 * processes: every command's output, its --json (parsed by the strict
 * checker of cli_harness.h), and its exit status on every error path.
 * What an operator reads (messages, human figures, --json everywhere,
 * list --top) has its own file, test_cli_operator.c.
 */
#include "tests/cli_harness.h"
#include "util/hex.h"

TestSuite(cli, .timeout = 60, .fini = env_fini);

Test(cli, json_checker_rejects_what_is_not_json)
{
	assert_json("{\"a\": [1, -2.5, \"x\\u00ff\", true, null, {}]}");
	cr_assert_null(j_value("{\"a\": 1,}", 0));
	cr_assert_null(j_value("\"a\nb\"", 0));
	cr_assert_null(j_value("[01]", 0));
	cr_assert(j_value("[1] x", 0) != NULL &&
	          *j_ws(j_value("[1] x", 0)) != '\0');
}

/* -------------------------------------------------------------- status */

Test(cli, status_shows_segment_rules_and_running_daemon)
{
	char version[32];
	struct run r;

	one_up();
	r = cli("-s", E.seg[0], "status", NULL);
	EXPECT(r, 0);
	cr_assert(strstr(r.out, E.seg[0]) != NULL, "%s", r.out);
	snprintf(version, sizeof version, "version %u", FG_LAYOUT_VERSION);
	cr_assert(strstr(r.out, version) != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "of 4096") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "rules:     3") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "daemon:    running, pid") != NULL, "%s",
	          r.out);
	run_free(&r);

	/* FLOODGATE_SEGMENT names it when -s and -c do not */
	setenv("FLOODGATE_SEGMENT", E.seg[0], 1);
	r = cli("rules", NULL);
	unsetenv("FLOODGATE_SEGMENT");
	EXPECT(r, 0);
	cr_assert(strstr(r.out, "login") != NULL, "%s", r.out);
	run_free(&r);

	r = cli("-c", E.conf[0], "--json", "status", NULL);
	EXPECT(r, 0);
	assert_json(r.out);
	cr_assert(strstr(r.out, "\"running\":true") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "\"gossip\":\"on\"") != NULL, "%s", r.out);
	run_free(&r);
	env_fini();
}

Test(cli, with_the_daemon_down_status_get_and_list_still_read_the_segment)
{
	struct run r;

	one_up();
	r = cli("-s", E.seg[0], "check", "api", "alice", NULL);
	EXPECT(r, 0);
	run_free(&r);
	stop(0);

	r = cli("-s", E.seg[0], "status", NULL);
	EXPECT(r, 0);
	cr_assert(strstr(r.out, "daemon:    not running") != NULL, "%s", r.out);
	run_free(&r);
	r = cli("-s", E.seg[0], "--json", "status", NULL);
	EXPECT(r, 0);
	assert_json(r.out);
	cr_assert(strstr(r.out, "\"running\":false") != NULL, "%s", r.out);
	run_free(&r);

	r = cli("-s", E.seg[0], "get", "api", "alice", NULL);
	EXPECT(r, 0);
	cr_assert(strstr(r.out, "tokens left:  4") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "unknown (daemon not running)") != NULL, "%s",
	          r.out);
	run_free(&r);
	r = cli("-s", E.seg[0], "get", "api", "alice", "--json", NULL);
	EXPECT(r, 0);
	assert_json(r.out);
	cr_assert(strstr(r.out, "\"remote_consumed\":null") != NULL);
	run_free(&r);

	r = cli("-s", E.seg[0], "list", NULL);
	EXPECT(r, 0);
	cr_assert(strstr(r.out, "alice") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "daemon not running") != NULL, "%s", r.out);
	run_free(&r);

	/* what only the daemon knows: exit 3 */
	r = cli("-s", E.seg[0], "peers", NULL);
	EXPECT(r, 3);
	cr_assert(strstr(r.err, "floodgated is not running") != NULL, "%s",
	          r.err);
	run_free(&r);
	r = cli("-s", E.seg[0], "reload", NULL);
	EXPECT(r, 3);
	run_free(&r);
	env_fini();
}

/* --------------------------------------------------------------- rules */

Test(cli, rules_shows_every_rule_as_the_workers_see_it)
{
	struct run r;

	one_up();
	r = cli("-s", E.seg[0], "rules", NULL);
	EXPECT(r, 0);
	cr_assert(strstr(r.out, "api") && strstr(r.out, " 1/h ") &&
	              strstr(r.out, "global"),
	          "%s", r.out);
	cr_assert(strstr(r.out, "login") && strstr(r.out, "closed"), "%s",
	          r.out);
	run_free(&r);
	r = cli("-s", E.seg[0], "rules", "--json", NULL);
	EXPECT(r, 0);
	assert_json(r.out);
	cr_assert(strstr(r.out, "{\"name\":\"api\",\"capacity\":5,"
	                        "\"rate\":1,\"period_ms\":3600000,"
	                        "\"scope\":\"global\"") != NULL,
	          "%s", r.out);
	run_free(&r);
	env_fini();
}

/* A segment of window rules made by the test (no daemon): get, list and
 * rules show what a window has left, as the library counts it. */
Test(cli, get_list_and_rules_show_what_a_window_has_left)
{
	fg_segment_opts o = {.capacity = 64};
	fg_rule fw = {.name = "fw",
	              .capacity = 5,
	              .rate = 5,
	              .period_ms = HOUR_MS,
	              .flags = FG_RULE_FIXED_WINDOW};
	fg_rule sw = {.name = "sw",
	              .capacity = 9,
	              .rate = 9,
	              .period_ms = HOUR_MS,
	              .flags = FG_RULE_SLIDING_WINDOW};
	char seg[64], cmd[128];
	fg_client *c = NULL;
	int64_t left;
	struct run r;

	snprintf(E.dir, sizeof E.dir, "/tmp/fg-windows-cli-XXXXXX");
	cr_assert_not_null(mkdtemp(E.dir));
	snprintf(seg, sizeof seg, "fg-windows-cli-%d", (int)getpid());
	(void)fg_unlink(seg);
	cr_assert_eq(fg_create(seg, &o, 0, &c), 0);
	cr_assert_eq(fg_rule_set(c, &fw), 0);
	cr_assert_eq(fg_rule_set(c, &sw), 0);
	cr_assert_eq(fg_allow(c, "fw", "alice", 3, NULL), 1);
	cr_assert_eq(fg_allow(c, "sw", "bob", 4, NULL), 1);
	cr_assert_eq(fg__peek(c, "sw", "bob", 3, &left), 0);
	cr_assert_eq(left, 5, "the library's count");

	r = cli("-s", seg, "get", "fw", "alice", NULL);
	EXPECT(r, 0);
	cr_expect(strstr(r.out, "tokens left:  2") != NULL, "%s", r.out);
	run_free(&r);
	r = cli("-s", seg, "--json", "list", NULL);
	EXPECT(r, 0);
	assert_json(r.out);
	cr_expect(strstr(r.out, "\"tokens_left\":2,\"capacity\":5,") != NULL,
	          "%s", r.out);
	cr_expect(strstr(r.out, "\"tokens_left\":5,\"capacity\":9,") != NULL,
	          "%s", r.out);
	run_free(&r);
	r = cli("-s", seg, "rules", NULL);
	EXPECT(r, 0);
	cr_expect(strstr(r.out, "fixed-window") &&
	              strstr(r.out, "sliding-window"),
	          "%s", r.out);
	run_free(&r);
	r = cli("-s", seg, "--json", "rules", NULL);
	EXPECT(r, 0);
	assert_json(r.out);
	cr_expect(strstr(r.out, "\"algorithm\":\"sliding-window\"") != NULL,
	          "%s", r.out);
	run_free(&r);

	fg_close(c);
	(void)fg_unlink(seg);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", E.dir);
	E.dir[0] = '\0';
	cr_assert_eq(system(cmd), 0);
}

/* --------------------------------------------------------- check, reset */

Test(cli, check_exits_0_while_tokens_last_then_1)
{
	struct run r;
	int i;

	one_up();
	for (i = 0; i < 5; i++) {
		r = cli("-s", E.seg[0], "check", "api", "k", NULL);
		EXPECT(r, 0);
		cr_assert(strstr(r.out, "allowed") != NULL);
		run_free(&r);
	}
	r = cli("-s", E.seg[0], "check", "api", "k", NULL);
	EXPECT(r, 1);
	cr_assert(strstr(r.out, "denied: retry after") != NULL, "%s", r.out);
	run_free(&r);
	r = cli("-s", E.seg[0], "check", "--json", "api", "k", NULL);
	EXPECT(r, 1);
	assert_json(r.out);
	cr_assert(strstr(r.out, "\"allowed\":false") != NULL, "%s", r.out);
	run_free(&r);
	/* --cost: 3 of login's 3 at once, then nothing */
	r = cli("-s", E.seg[0], "check", "login", "k", "--cost", "3", NULL);
	EXPECT(r, 0);
	cr_assert(strstr(r.out, "0 of 3 left") != NULL, "%s", r.out);
	run_free(&r);
	r = cli("-s", E.seg[0], "check", "login", "k", "--cost", "1", NULL);
	EXPECT(r, 1);
	run_free(&r);
	env_fini();
}

Test(cli, reset_refills_one_bucket_and_only_that_one)
{
	struct run r;
	int64_t left;
	fg_client *fg;

	one_up();
	cr_assert_eq(fg_open(E.seg[0], 0, &fg), 0);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(fg_allow(fg, "api", "a", 1, NULL), 1);
		cr_assert_eq(fg_allow(fg, "api", "b", 1, NULL), 1);
	}
	cr_assert_eq(fg_allow(fg, "api", "a", 1, NULL), 0);
	r = cli("-s", E.seg[0], "reset", "api", "a", NULL);
	EXPECT(r, 0);
	cr_assert(strstr(r.out, "refilled: 5 tokens") != NULL, "%s", r.out);
	run_free(&r);
	cr_assert_eq(fg__peek(fg, "api", "a", 1, &left), 0);
	cr_assert_eq(left, 5);
	cr_assert_eq(fg__peek(fg, "api", "b", 1, &left), 0);
	cr_assert_eq(left, 0, "reset touched another key");
	cr_assert_eq(fg_allow(fg, "api", "a", 1, NULL), 1);
	/* consumption stays counted: the daemon harvests it */
	r = cli("-s", E.seg[0], "get", "api", "a", NULL);
	EXPECT(r, 0);
	cr_assert(strstr(r.out, "local:        6 consumed") != NULL, "%s",
	          r.out);
	run_free(&r);
	/* a full bucket, and an absent one, need nothing */
	r = cli("-s", E.seg[0], "--json", "reset", "api", "nobody", NULL);
	EXPECT(r, 0);
	assert_json(r.out);
	cr_assert(strstr(r.out, "\"refilled\":false") != NULL, "%s", r.out);
	run_free(&r);
	fg_close(fg);
	env_fini();
}

/* A copy of the CLI that nobody can run: the build tree may be under a
 * directory only root may enter (a CI checkout in /root, a 0700 temporary
 * directory).  Its directory, in /tmp. */
Test(cli, a_worker_of_the_group_may_check_but_not_reset_nor_ask_the_daemon)
{
	char path[160];

	if (geteuid() != 0)
		cr_skip_test("needs root to act as another user");
	/* the workers' group may read and write the segment; the daemon's
	 * user owns it, root the control socket (0600) */
	env_init(1);
	write_conf(0, 0, "mode 0660\ngroup nogroup\n");
	start(0);
	snprintf(path, sizeof path, "/dev/shm/%s", E.seg[0]);
	nobody_cli(nobody_path, sizeof nobody_path);
	cr_assert_eq(as_nobody("check", "api", "w"), 0);
	cr_assert_eq(as_nobody("get", "api", "w"), 0);
	cr_assert_eq(as_nobody("reset", "api", "w"), 7);
	cr_assert_eq(as_nobody("peers", NULL, NULL), 7);
	cr_assert_eq(as_nobody("reload", NULL, NULL), 7);
	/* a segment the group may not use: who owns it and what to do,
	 * in words a shell user can act on */
	cr_assert_eq(chmod(path, 0600), 0);
	cr_assert_eq(as_nobody("status", NULL, NULL), 7);
	{
		char err[160], owned[64], run[64], *text;
		struct stat st;

		cr_assert_eq(stat(path, &st), 0);
		snprintf(owned, sizeof owned, "is owned by uid %u,",
		         (unsigned)st.st_uid);
		snprintf(run, sizeof run, "run it as uid %u or in group",
		         (unsigned)st.st_uid);
		snprintf(err, sizeof err, "%s/nobody.err", E.dir);
		text = slurp(err);
		cr_assert(
		    strstr(text, owned) &&
		        strstr(text, "lacks read and write permission: ") &&
		        strstr(text, run),
		    "%s", text);
		cr_assert_null(strstr(text, "fg_"), "%s", text);
		cr_assert_eq(strchr(text, '\n'), text + strlen(text) - 1, "%s",
		             text);
		free(text);
	}
	nobody_cli_remove();
	env_fini();
}

/* ---------------------------------------------------------------- list */

Test(cli, list_of_a_segment_without_keys_says_so)
{
	struct run r;

	one_up();
	r = cli("-s", E.seg[0], "list", "--top", "3", "--window", "10", NULL);
	EXPECT(r, 0);
	cr_assert_str_eq(r.out, "no keys\n");
	run_free(&r);
	r = cli("-s", E.seg[0], "list", "--json", NULL);
	EXPECT(r, 0);
	cr_assert_str_eq(r.out, "[]\n");
	run_free(&r);
	env_fini();
}

Test(cli, list_filters_by_rule_and_prefix_and_escapes_any_key_bytes)
{
	static const uint8_t odd[] = {'q', '"', '\\', '\n', 0, 0xff, ' '};
	struct run r;
	fg_client *fg;
	fg_decision d;

	one_up();
	cr_assert_eq(fg_open(E.seg[0], 0, &fg), 0);
	cr_assert_eq(fg_allow(fg, "api", "user:1", 1, NULL), 1);
	cr_assert_eq(fg_allow(fg, "api", "user:2", 1, NULL), 1);
	cr_assert_eq(fg_allow(fg, "login", "user:1", 1, NULL), 1);
	cr_assert_eq(fg_allow(fg, "api", "bot", 1, NULL), 1);
	cr_assert_eq(fg__check(fg, (unsigned)fg__rule_index(fg, "api"), odd,
	                       sizeof odd, 1, &d),
	             1);

	r = cli("-s", E.seg[0], "list", "--rule", "api", "--prefix",
	        "user:", NULL);
	EXPECT(r, 0);
	cr_assert(strstr(r.out, "user:1") && strstr(r.out, "user:2"), "%s",
	          r.out);
	cr_assert(!strstr(r.out, "bot") && !strstr(r.out, "login"), "%s",
	          r.out);
	run_free(&r);

	r = cli("-s", E.seg[0], "list", "--json", NULL);
	EXPECT(r, 0);
	assert_json(r.out);
	cr_assert(strstr(r.out, "\"key\":\"q\\\"\\\\\\u000a\\u0000\\ufffd "
	                        "\",\"key_hex\":\"71225c0a00ff20\"") != NULL,
	          "%s", r.out);
	cr_assert(strstr(r.out, "\"rule\":\"login\",\"key\":\"user:1\"") !=
	              NULL,
	          "%s", r.out);
	cr_assert(strstr(r.out, "\"remote_consumed\":0") != NULL, "%s", r.out);
	run_free(&r);
	/* a table keeps one word per column */
	r = cli("-s", E.seg[0], "list", "--prefix", "q", NULL);
	EXPECT(r, 0);
	cr_assert(strstr(r.out, "q\"\\x5c\\x0a\\x00\\xff\\x20") != NULL, "%s",
	          r.out);
	run_free(&r);
	fg_close(fg);
	env_fini();
}

/* The keys one list --top row names, and its figures (text columns). */
static int top_row(const char *out, int row, char *key, unsigned long v[4])
{
	const char *l = out;
	int i;

	for (i = 0; i <= row && l; i++) /* row 0 is the one after the header */
		l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL;
	return l && sscanf(l, "%*s %63s %lu %lu %lu %lu", key, &v[0], &v[1],
	                   &v[2], &v[3]) == 5;
}

/* During a window of list --top: a key that did not exist before takes
 * 50 tokens, a full key is denied 1000 times; one old heavy key and one
 * quiet key do nothing.  Returns the CLI's run. */
static struct run top_run(fg_client *fg, const char *json)
{
	struct run r;
	pid_t p = fork();
	int i;

	cr_assert_geq(p, 0);
	if (p == 0) {
		/* the CLI takes its first reading at once; the window is
		 * 3 s: all of this happens inside it */
		usleep(1000000);
		for (i = 0; i < 50; i++)
			if (fg_allow(fg, "wide", "late:1", 1, NULL) != 1)
				_exit(1);
		for (i = 0; i < 1000; i++)
			if (fg_allow(fg, "login", "flood", 1, NULL) != 0)
				_exit(2);
		_exit(0);
	}
	if (json)
		r = cli("-s", E.seg[0], json, "list", "--top", "2", "--window",
		        "3000", NULL);
	else
		r = cli("-s", E.seg[0], "list", "--top", "2", "--window",
		        "3000", NULL);
	wait_children(1);
	return r;
}

Test(cli, list_top_ranks_by_offered_with_new_keys_and_denied_floods)
{
	unsigned long v[4];
	char key[64];
	struct run r;
	fg_client *fg;
	int i;

	one_up();
	cr_assert_eq(fg_open(E.seg[0], 0, &fg), 0);
	/* the past: a heavy key, a quiet one, a flood key used up */
	for (i = 0; i < 5000; i++)
		cr_assert_eq(fg_allow(fg, "wide", "old-heavy", 1, NULL), 1);
	cr_assert_eq(fg_allow(fg, "wide", "quiet", 1, NULL), 1);
	for (i = 0; i < 3; i++)
		cr_assert_eq(fg_allow(fg, "login", "flood", 1, NULL), 1);
	cr_assert_eq(fg_allow(fg, "login", "flood", 1, NULL), 0);

	r = top_run(fg, NULL);
	EXPECT(r, 0);
	cr_assert(strstr(r.out, "OFFERED") && strstr(r.out, "ALLOWED") &&
	              strstr(r.out, "DENIED") && strstr(r.out, "last 3 s"),
	          "%s", r.out);
	/* the flood first: 1000 offered, 0 allowed, 1000 denied */
	cr_assert(top_row(r.out, 0, key, v), "%s", r.out);
	cr_assert_str_eq(key, "flood", "%s", r.out);
	cr_assert(v[1] == 1000 && v[2] == 0 && v[3] == 1000, "%s", r.out);
	/* then the new key, with everything it took */
	cr_assert(top_row(r.out, 1, key, v), "%s", r.out);
	cr_assert_str_eq(key, "late:1", "%s", r.out);
	cr_assert(v[1] == 50 && v[2] == 50 && v[3] == 0, "%s", r.out);
	cr_assert_null(strstr(r.out, "old-heavy"), "%s", r.out);
	cr_assert_null(strstr(r.out, "quiet"), "%s", r.out);
	run_free(&r);

	/* the same in JSON, raw counts with the window's length */
	r = top_run(fg, "--json");
	EXPECT(r, 0);
	assert_json(r.out);
	cr_assert(strstr(r.out, "[{\"rule\":\"login\",\"key\":\"flood\"") !=
	              NULL,
	          "%s", r.out);
	cr_assert(strstr(r.out, "\"window_ms\":3000,\"window_offered\":1000,"
	                        "\"window_allowed\":0,\"window_denied\":1000"),
	          "%s", r.out);
	cr_assert(strstr(r.out, "\"key\":\"late:1\"") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "\"window_offered\":50,\"window_allowed\":50,"
	                        "\"window_denied\":0"),
	          "%s", r.out);
	run_free(&r);
	fg_close(fg);
	env_fini();
}

/* Frame @f (1..) of top's output: its title's figures and the first
 * row's key and figures; 0 if there is no such frame. */
static int top_frame_of(const char *out, int f, unsigned long t[3], char *key,
                        unsigned long v[4])
{
	const char *l = out;
	int i;

	for (i = 0; i < f && l; i++) {
		l = strstr(l, "floodgate top: segment ");
		if (l && i + 1 < f)
			l++;
	}
	if (l == NULL || sscanf(strstr(l, "the last "),
	                        "the last %*s %*s %lu "
	                        "offered, %lu allowed, %lu denied",
	                        &t[0], &t[1], &t[2]) != 3)
		return 0;
	/* title, blank line, header: the first row is the fourth line */
	key[0] = '\0';
	v[0] = v[1] = v[2] = v[3] = 0;
	l = strchr(l, '\n');
	l = l ? strchr(l + 1, '\n') : NULL;
	if (l && strncmp(l + 1, "no keys", 7) != 0)
		(void)top_row(l + 1, 0, key, v);
	return 1;
}

/*
 * top redraws list --top every window: three frames while a worker floods
 * one key.  Each frame's title sums its rows (one key is active), every
 * row's offered is allowed plus denied, and all frames together never
 * show more than the worker offered or the rule's capacity allowed.
 */
Test(cli, top_redraws_the_ranking_every_window_from_what_keys_were_offered)
{
	unsigned long t[3], v[4], offered = 0, allowed = 0, seen[2];
	int go[2], back[2], f, shown = 0;
	char key[64];
	struct run r;
	fg_client *fg;
	pid_t p;

	one_up();
	cr_assert_eq(fg_open(E.seg[0], 0, &fg), 0);
	cr_assert_eq(fg_allow(fg, "wide", "quiet", 1, NULL), 1);
	cr_assert_eq(pipe(go), 0);
	cr_assert_eq(pipe(back), 0);
	p = fork();
	cr_assert_geq(p, 0);
	if (p == 0) { /* floods "flood" until go closes; says what it did */
		unsigned long n[2] = {0, 0};
		char b;

		close(go[1]);
		fcntl(go[0], F_SETFL, O_NONBLOCK);
		while (read(go[0], &b, 1) < 0) {
			n[1] += fg_allow(fg, "login", "flood", 1, NULL) == 1;
			n[0]++;
		}
		_exit(write(back[1], n, sizeof n) == sizeof n ? 0 : 1);
	}
	close(go[0]);
	r = cli("-s", E.seg[0], "top", "--frames", "3", "--window", "200",
	        NULL);
	close(go[1]);
	cr_assert_eq(read(back[0], seen, sizeof seen), (ssize_t)sizeof seen);
	wait_children(1);
	EXPECT(r, 0);
	for (f = 1; f <= 3; f++) {
		cr_assert(top_frame_of(r.out, f, t, key, v), "frame %d: %s", f,
		          r.out);
		cr_assert_eq(t[0], t[1] + t[2], "%s", r.out);
		if (t[0] == 0)
			continue;
		shown++;
		cr_assert_str_eq(key, "flood", "frame %d: %s", f, r.out);
		cr_assert(v[1] == t[0] && v[2] == t[1] && v[3] == t[2],
		          "the title sums the one active key: %s", r.out);
		offered += v[1];
		allowed += v[2];
	}
	cr_assert(!top_frame_of(r.out, 4, t, key, v), "--frames 3: %s", r.out);
	cr_assert_gt(shown, 0, "the flood never showed: %s", r.out);
	cr_assert_leq(offered, seen[0], "%s", r.out);
	cr_assert_leq(allowed, seen[1], "%s", r.out);
	cr_assert_leq(seen[1], 3, "login's capacity");
	cr_assert(strstr(r.out, "\n\nfloodgate top: segment ") != NULL,
	          "frames a blank line apart off a terminal: %s", r.out);
	run_free(&r);

	r = cli("-s", E.seg[0], "--json", "top", NULL);
	EXPECT(r, 64);
	cr_assert(strstr(r.err, "list --top") != NULL, "%s", r.err);
	run_free(&r);
	fg_close(fg);
	env_fini();
}

/* ------------------------------------ three nodes: each host's use, per key */

#define SHARE "rule share capacity 100 rate 1/1h scope global\n"

/* Node @at's "get share KEY" names what node @from consumed, exactly. */
static int shows_use(int at, int from, const char *key, int used)
{
	char needle[64];

	snprintf(needle, sizeof needle, "n%d consumed %d, last heard", from,
	         used);
	return contains_soon(needle, at, "get", "share", key);
}

/*
 * What "get" and "list" say another host consumed of a key is that host's
 * use of that key, counted from its first token: not a running mark of the
 * origin, which had consumed other keys before (the fresh key's first
 * token once showed as 25).  Checked against what the test consumed on
 * each of three hosts.
 */
Test(cli, get_and_list_show_each_hosts_use_of_a_fresh_key_to_the_token)
{
	static const int used[3] = {1, 3, 7}; /* of fresh:1, at n0 n1 n2 */
	fg_client *fg[3];
	struct run r;
	char key[16];
	int i, j, k;

	env_init(3);
	for (i = 0; i < 3; i++)
		write_conf(i, 1, SHARE);
	for (i = 0; i < 3; i++) {
		start(i);
		cr_assert_eq(fg_open(E.seg[i], 0, &fg[i]), 0);
	}
	/* history: each host consumes other keys first */
	for (i = 0; i < 3; i++)
		for (k = 0; k < 8; k++) {
			snprintf(key, sizeof key, "old:%d", k);
			cr_assert_eq(fg_allow(fg[i], "share", key, 3, NULL), 1);
		}
	for (i = 0; i < 3; i++)
		for (j = 0; j < 3; j++)
			cr_assert(j == i || shows_use(i, j, "old:7", 3),
			          "n%d never learnt n%d's old:7", i, j);
	for (i = 0; i < 3; i++)
		for (k = 0; k < used[i]; k++)
			cr_assert_eq(
			    fg_allow(fg[i], "share", "fresh:1", 1, NULL), 1);
	for (i = 0; i < 3; i++) {
		char want[256];

		for (j = 0; j < 3; j++)
			cr_assert(j == i || shows_use(i, j, "fresh:1", used[j]),
			          "n%d does not show n%d's %d tokens", i, j,
			          used[j]);
		r = cli("-s", E.seg[i], "get", "share", "fresh:1", NULL);
		EXPECT(r, 0);
		snprintf(want, sizeof want, "local:        %d consumed",
		         used[i]);
		cr_assert(strstr(r.out, want) != NULL, "%s", r.out);
		cr_assert(strstr(r.out, "tokens left:  89") != NULL,
		          "100 - (1 + 3 + 7): %s", r.out);
		run_free(&r);
		r = cli("-s", E.seg[i], "--json", "get", "share", "fresh:1",
		        NULL);
		EXPECT(r, 0);
		snprintf(want, sizeof want, "\"remote_consumed\":%d",
		         11 - used[i]);
		cr_assert(strstr(r.out, want) != NULL, "%s", r.out);
		run_free(&r);
		r = cli("-s", E.seg[i], "--json", "list", "--rule", "share",
		        NULL);
		EXPECT(r, 0);
		snprintf(want, sizeof want,
		         "\"key\":\"fresh:1\",\"key_hex\":\"66726573683a31\","
		         "\"tokens_left\":89,\"capacity\":100,"
		         "\"local_consumed\":%d,\"denied\":0,"
		         "\"remote_consumed\":%d",
		         used[i], 11 - used[i]);
		cr_assert(strstr(r.out, want) != NULL, "want %s in %s", want,
		          r.out);
		run_free(&r);
	}
	for (i = 0; i < 3; i++)
		fg_close(fg[i]);
	env_fini();
}

/* ------------------------------------------------ two nodes: remote, peers */

Test(cli, get_and_peers_show_what_other_nodes_consumed_and_their_lag)
{
	struct run r;
	fg_client *fg;
	int i;

	two_up();
	cr_assert_eq(fg_open(E.seg[1], 0, &fg), 0);
	for (i = 0; i < 4; i++)
		cr_assert_eq(fg_allow(fg, "api", "carol", 1, NULL), 1);
	cr_assert(contains_soon("n1 consumed 4, last heard", 0, "get", "api",
	                        "carol"),
	          "node 0 never learnt node 1's consumption");
	r = cli("-s", E.seg[0], "get", "api", "carol", NULL);
	EXPECT(r, 0);
	cr_assert(strstr(r.out, "tokens left:  1") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "local:        0 consumed") != NULL, "%s",
	          r.out);
	run_free(&r);
	r = cli("-s", E.seg[0], "--json", "get", "api", "carol", NULL);
	EXPECT(r, 0);
	assert_json(r.out);
	cr_assert(strstr(r.out, "\"origin\":\"n1\"") &&
	              strstr(r.out, "\"remote_consumed\":4") &&
	              strstr(r.out, "\"lag_ms\":"),
	          "%s", r.out);
	run_free(&r);
	r = cli("-s", E.seg[0], "list", "--rule", "api", NULL);
	EXPECT(r, 0);
	cr_assert(strstr(r.out, "carol") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "         4") != NULL, "remote column: %s",
	          r.out);
	run_free(&r);

	cr_assert(contains_soon("alive", 0, "peers", NULL, NULL));
	r = cli("-s", E.seg[0], "peers", NULL);
	EXPECT(r, 0);
	cr_assert(strstr(r.out, "n0") && strstr(r.out, "self"), "%s", r.out);
	cr_assert(strstr(r.out, "n1") && strstr(r.out, "alive"), "%s", r.out);
	{
		char a[64];

		const char *l = strstr(r.out, "\nn1 ");
		const char *end = l ? strchr(l + 1, '\n') : NULL;
		const char *at;

		snprintf(a, sizeof a, "127.0.0.1:%d", E.port0 + 1);
		at = l ? strstr(l, a) : NULL;
		cr_assert(at != NULL && end != NULL && at < end,
		          "n1's line lacks its address %s: %s", a, r.out);
	}
	cr_assert(strstr(r.out, "sends to:  127.0.0.1:") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "datagrams: ") != NULL, "%s", r.out);
	run_free(&r);
	/* n0 holds every record n1 made (n1 consumed): no repair pending */
	cr_assert(contains_soon("all (v", 0, "peers", NULL, NULL));
	r = cli("-s", E.seg[0], "peers", "--json", NULL);
	EXPECT(r, 0);
	assert_json(r.out);
	cr_assert(strstr(r.out, "\"name\":\"n1\"") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "\"have\":") != NULL &&
	              strstr(r.out, "\"latest\":") != NULL,
	          "%s", r.out);
	run_free(&r);

	/* the summary counts the one peer */
	stop(1);
	r = cli("-s", E.seg[0], "status", NULL);
	EXPECT(r, 0);
	cr_assert(strstr(r.out, "peers:     1 peer:") != NULL, "%s", r.out);
	run_free(&r);
	fg_close(fg);
	env_fini();
}

/* --------------------------------------------------------------- stats */

Test(cli, stats_counts_allowed_and_denied_per_rule_and_speaks_prometheus)
{
	struct run r;
	int i;

	one_up();
	for (i = 0; i < 7; i++) {
		/* api refills one token an hour: 5 allowed, 2 denied */
		r = cli("-s", E.seg[0], "check", "api", "s", NULL);
		run_free(&r);
	}
	r = cli("-s", E.seg[0], "stats", NULL);
	EXPECT(r, 0);
	{
		const char *l = strstr(r.out, "\napi ");
		unsigned long allowed = 0, denied = 0;

		cr_assert(l && sscanf(l, "%*s %lu %lu", &allowed, &denied) == 2,
		          "%s", r.out);
		cr_assert_eq(allowed, 5);
		cr_assert_eq(denied, 2);
	}
	cr_assert(strstr(r.out, "drops    bad-signature      0") != NULL, "%s",
	          r.out);
	cr_assert(strstr(r.out, "gossip   harvested") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "members  pings") != NULL, "%s", r.out);
	run_free(&r);
	r = cli("-s", E.seg[0], "stats", "--json", NULL);
	EXPECT(r, 0);
	assert_json(r.out);
	cr_assert(strstr(r.out, "\"members\":{\"relayed\":") != NULL, "%s",
	          r.out);
	cr_assert(strstr(r.out, "{\"name\":\"api\",\"allowed\":5,"
	                        "\"denied\":2") != NULL,
	          "%s", r.out);
	run_free(&r);
	r = cli("-s", E.seg[0], "stats", "--prometheus", NULL);
	EXPECT(r, 0);
	cr_assert(strstr(r.out, "# TYPE floodgate_") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "floodgate_gossip_dropped_datagrams_total"
	                        "{reason=\"bad-signature\"} 0") != NULL,
	          "daemon figures missing: %s", r.out);
	run_free(&r);
	stop(0);
	/* without the daemon: the segment's figures only */
	r = cli("-s", E.seg[0], "stats", "--prometheus", NULL);
	EXPECT(r, 0);
	cr_assert(strstr(r.out, "# TYPE floodgate_") != NULL, "%s", r.out);
	cr_assert_null(strstr(r.out, "floodgate_gossip_"), "%s", r.out);
	run_free(&r);
	env_fini();
}

/* -------------------------------------------------------- keygen, reload */

Test(cli, keygen_writes_a_key_pair_and_never_overwrites)
{
	struct run r;
	char key[160], pub[170];
	struct stat st;

	env_init(0);
	snprintf(key, sizeof key, "%s/k", E.dir);
	snprintf(pub, sizeof pub, "%s/k.pub", E.dir);
	r = cli("keygen", key, "web1", NULL);
	EXPECT(r, 0);
	run_free(&r);
	cr_assert_eq(stat(key, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	r = (struct run){0};
	{
		char *text = slurp(pub);

		cr_assert(strncmp(text, "web1 ", 5) == 0, "%s", text);
		free(text);
	}
	r = cli("keygen", key, "web1", NULL);
	cr_assert_neq(r.status, 0);
	run_free(&r);
	env_fini();
}

Test(cli, reload_applies_a_good_config_and_reports_a_bad_one)
{
	struct run r;

	one_up();
	write_conf(0, 0, "rule fresh capacity 9 rate 1/1s\n");
	r = cli("-c", E.conf[0], "reload", NULL);
	EXPECT(r, 0);
	run_free(&r);
	r = cli("-s", E.seg[0], "rules", NULL);
	cr_assert(strstr(r.out, "fresh") != NULL, "%s", r.out);
	run_free(&r);
	write_conf(0, 0, "rule broken capacity 0 rate 1/1s\n");
	r = cli("-s", E.seg[0], "reload", NULL);
	EXPECT(r, 8);
	cr_assert(strstr(r.err, "reload rejected") != NULL, "%s", r.err);
	run_free(&r);
	r = cli("-s", E.seg[0], "rules", NULL);
	cr_assert(strstr(r.out, "fresh") != NULL, "old rules kept: %s", r.out);
	run_free(&r);
	env_fini();
}

/* A rule keeps its algorithm while the segment lives: a reload that
 * changes it is rejected whole, before any rule moves. */
Test(cli, a_reload_that_changes_a_rules_algorithm_is_rejected_whole)
{
	struct run r;

	one_up();
	write_conf(0, 0, "rule win rate 5/1s algorithm fixed-window\n");
	r = cli("-c", E.conf[0], "reload", NULL);
	EXPECT(r, 0);
	run_free(&r);
	write_conf(0, 0,
	           "rule fresh capacity 9 rate 1/1s\n"
	           "rule win rate 5/1s algorithm sliding-window\n");
	r = cli("-c", E.conf[0], "reload", NULL);
	EXPECT(r, 8);
	cr_assert(strstr(r.err, "rule 'win': its kind or algorithm differs") !=
	              NULL,
	          "%s", r.err);
	run_free(&r);
	r = cli("-s", E.seg[0], "rules", NULL);
	cr_assert(strstr(r.out, "fixed-window") && !strstr(r.out, "fresh"),
	          "nothing changed: %s", r.out);
	run_free(&r);
	env_fini();
}

/* ---------------------------------------------------------- exit codes */

Test(cli, every_error_has_its_own_exit_status)
{
	struct run r;
	char path[160];
	fg_client *fg;

	one_up();
	r = cli(NULL); /* no command */
	EXPECT(r, 64);
	run_free(&r);
	r = cli("-s", E.seg[0], "frobnicate", NULL);
	EXPECT(r, 64);
	run_free(&r);
	r = cli("-s", E.seg[0], "get", "api", NULL);
	EXPECT(r, 64);
	run_free(&r);
	r = cli("-s", E.seg[0], "check", "api", "k", "--cost", "x", NULL);
	EXPECT(r, 64);
	run_free(&r);
	r = cli("-s", E.seg[0], "check", "api", "k", "--cost", "6", NULL);
	EXPECT(r, 64); /* above the capacity */
	run_free(&r);
	r = cli("-s", E.seg[0], "list", "--top", "0", NULL);
	EXPECT(r, 64);
	run_free(&r);
	r = cli("-s", E.seg[0], "get", "nosuchrule", "k", NULL);
	EXPECT(r, 2);
	cr_assert(strstr(r.err, "no rule nosuchrule") != NULL, "%s", r.err);
	run_free(&r);
	r = cli("-s", E.seg[0], "check", "nosuchrule", "k", NULL);
	EXPECT(r, 2);
	run_free(&r);
	{
		char longname[300];

		memset(longname, 'a', sizeof longname - 1);
		longname[0] = '/';
		longname[sizeof longname - 1] = '\0';
		r = cli("-s", longname, "status", NULL);
		EXPECT(r, 64);
		run_free(&r);
	}
	r = cli("-s", "fg-cli-absent", "status", NULL);
	EXPECT(r, 4);
	cr_assert(strstr(r.err, "does not exist") != NULL, "%s", r.err);
	run_free(&r);

	/* not a segment */
	snprintf(path, sizeof path, "%s/junk", E.dir);
	write_file(path, "this is not a floodgate segment, it is text\n");
	r = cli("-s", path, "status", NULL);
	EXPECT(r, 6);
	run_free(&r);

	/* another layout version */
	snprintf(path, sizeof path, "%s/old", E.dir);
	cr_assert_eq(
	    fg_create(path, &(fg_segment_opts){.capacity = 16}, 0, &fg), 0);
	fg->seg.tbl.hdr->layout_version = FG_LAYOUT_VERSION + 1;
	fg_close(fg);
	r = cli("-s", path, "rules", NULL);
	EXPECT(r, 5);
	run_free(&r);

	/* the config does not load */
	snprintf(path, sizeof path, "%s/bad.conf", E.dir);
	write_file(path, "segment\n");
	r = cli("-c", path, "status", NULL);
	EXPECT(r, 9);
	run_free(&r);

	/* the daemon is not running */
	stop(0);
	r = cli("-s", E.seg[0], "peers", NULL);
	EXPECT(r, 3);
	run_free(&r);

	env_fini();
}

/* ------------------------------------------------------ control socket */

Test(cli, control_socket_is_owner_only_and_answers_protocol_errors)
{
	char *reply = NULL, big[FGD_CTL_LINE_MAX + 64];
	struct stat st;

	one_up();
	cr_assert_eq(lstat(E.sock[0], &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	cr_assert_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);

	cr_assert_eq(fgd_ctl_request(E.sock[0], "nonsense", &reply), 0);
	cr_assert(strncmp(reply, "error: unknown request", 22) == 0, "%s",
	          reply);
	free(reply);
	cr_assert_eq(fgd_ctl_request(E.sock[0], "remote api zz", &reply), 0);
	cr_assert(strncmp(reply, "error: key must be", 18) == 0, "%s", reply);
	free(reply);
	/* the client refuses to send an oversized line; the daemon, sent
	 * one by hand, answers an error and closes */
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	cr_assert_eq(fgd_ctl_request(E.sock[0], big, &reply), -EINVAL);
	{
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		char buf[256] = "";
		ssize_t n;
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);

		memcpy(sa.sun_path, E.sock[0], strlen(E.sock[0]));
		cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
		cr_assert_eq(send(fd, big, sizeof big - 1, 0),
		             (ssize_t)sizeof big - 1);
		n = recv(fd, buf, sizeof buf - 1, MSG_WAITALL);
		cr_assert_gt(n, 0);
		cr_assert(strstr(buf, "error: request longer") != NULL, "%s",
		          buf);
		close(fd);
	}
	env_fini();
}

Test(cli, control_socket_serves_a_bounded_number_of_clients_and_drops_idle_ones)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd[FGD_CTL_CLIENTS + 1], i;
	char buf[64] = "", *reply = NULL;
	uint64_t t0;
	ssize_t n;

	one_up();
	memcpy(sa.sun_path, E.sock[0], strlen(E.sock[0]));
	for (i = 0; i <= (int)FGD_CTL_CLIENTS; i++) {
		fd[i] = socket(AF_UNIX, SOCK_STREAM, 0);
		cr_assert_eq(connect(fd[i], (struct sockaddr *)&sa, sizeof sa),
		             0);
	}
	/* the ninth is told to come back; the eight idle ones block no one */
	n = recv(fd[FGD_CTL_CLIENTS], buf, sizeof buf - 1, 0);
	cr_assert_gt(n, 0);
	cr_assert(strncmp(buf, "error: busy", 11) == 0, "%s", buf);
	close(fd[FGD_CTL_CLIENTS]);
	/* the idle ones are dropped after FGD_CTL_IDLE_MS */
	t0 = fg__now_ns();
	n = recv(fd[0], buf, sizeof buf, 0);
	cr_assert_eq(n, 0, "an idle client was not dropped");
	cr_assert_geq(fg__now_ns() - t0, (FGD_CTL_IDLE_MS - 500) * 1000000ull);
	for (i = 0; i < (int)FGD_CTL_CLIENTS; i++)
		close(fd[i]);
	cr_assert_eq(fgd_ctl_request(E.sock[0], "status", &reply), 0);
	cr_assert(strncmp(reply, "ok\n", 3) == 0);
	free(reply);
	env_fini();
}

Test(cli, daemon_replaces_a_stale_socket_but_not_a_live_one_or_a_file)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char log[160], *text, sock[160];
	int fd;

	env_init(1);
	snprintf(sock, sizeof sock, "%s/ctl.sock", E.dir);
	snprintf(E.sock[0], sizeof E.sock[0], "%s", sock);
	{
		char extra[200];

		snprintf(extra, sizeof extra, "control %s\n", sock);
		write_conf(0, 0, extra);
	}
	/* a socket file nobody listens on: left by a killed daemon */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	memcpy(sa.sun_path, sock, strlen(sock));
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	close(fd);
	start(0);
	{
		struct run r = cli("-c", E.conf[0], "status", NULL);

		EXPECT(r, 0);
		cr_assert(strstr(r.out, "daemon:    running") != NULL, "%s",
		          r.out);
		run_free(&r);
	}
	/* a second daemon on another segment but the same socket: refused */
	snprintf(E.conf[1], sizeof E.conf[1], "%s/second.conf", E.dir);
	{
		char text2[512];

		snprintf(text2, sizeof text2,
		         "segment %s\ncapacity 64\ncontrol %s\n"
		         "listen 127.0.0.1:%d\n",
		         E.seg[1], sock, E.port0 + 1);
		write_file(E.conf[1], text2);
	}
	snprintf(log, sizeof log, "%s/second.log", E.dir);
	refused_saying(E.conf[1], log, "another daemon answers there");
	stop(0);
	cr_assert_neq(access(sock, F_OK), 0, "socket file left behind");

	/* a regular file at the path is never removed */
	write_file(sock, "precious\n");
	refused_saying(E.conf[0], log, "exists and is not a socket");
	text = slurp(sock);
	cr_assert_str_eq(text, "precious\n");
	free(text);
	unlink(sock);
	env_fini();
}

/* ---------------------------------------------- the control directive */

Test(
    cli,
    control_directive_takes_a_socket_path_or_off_and_defaults_beside_the_segment)
{
	struct fgd_config cfg;
	char err[256], path[FGD_CONTROL_MAX + 1], text[400];

	cr_assert_eq(
	    fgd_config_parse("segment web\n", 12, "t", &cfg, err, sizeof err),
	    0, "%s", err);
	cr_assert_eq(fgd_ctl_path(&cfg, path, sizeof path), 0);
	cr_assert_str_eq(path, "/dev/shm/web.sock");
	fgd_config_free(&cfg);

	cr_assert_eq(
	    fgd_config_parse("control off\n", 12, "t", &cfg, err, sizeof err),
	    0, "%s", err);
	cr_assert_eq(fgd_ctl_path(&cfg, path, sizeof path), 1);
	fgd_config_free(&cfg);

	cr_assert_eq(fgd_config_parse("control /run/fg/x.sock\n", 23, "t", &cfg,
	                              err, sizeof err),
	             0, "%s", err);
	cr_assert_eq(fgd_ctl_path(&cfg, path, sizeof path), 0);
	cr_assert_str_eq(path, "/run/fg/x.sock");
	fgd_config_free(&cfg);

	cr_assert_neq(fgd_config_parse("control run/x.sock\n", 19, "t", &cfg,
	                               err, sizeof err),
	              0);
	cr_assert(strstr(err, "t:1: control 'run/x.sock'") != NULL, "%s", err);
	snprintf(text, sizeof text, "control /%0108d\n", 0); /* 109 bytes */
	cr_assert_neq(
	    fgd_config_parse(text, strlen(text), "t", &cfg, err, sizeof err),
	    0);
	/* a segment path too long for a socket beside it: an error, not a
	 * truncated path */
	snprintf(text, sizeof text, "segment /%0120d\n", 0);
	cr_assert_eq(
	    fgd_config_parse(text, strlen(text), "t", &cfg, err, sizeof err), 0,
	    "%s", err);
	cr_assert_eq(fgd_ctl_path(&cfg, path, sizeof path), FG_ENAME);
	fgd_config_free(&cfg);
}

Test(cli, hex_round_trips_any_key_and_rejects_bad_digits)
{
	uint8_t key[FG_KEY_MAX], back[FG_KEY_MAX];
	char hex[2 * FG_KEY_MAX + 1];
	int i;

	for (i = 0; i < FG_KEY_MAX; i++)
		key[i] = (uint8_t)(i * 37 + 1);
	fgu_hex(key, sizeof key, hex);
	cr_assert_eq(fgu_unhex(hex, back, sizeof back), FG_KEY_MAX);
	cr_assert_eq(memcmp(key, back, sizeof key), 0);
	cr_assert_eq(fgu_unhex("abc", back, sizeof back), -1);
	cr_assert_eq(fgu_unhex("zz", back, sizeof back), -1);
	cr_assert_eq(fgu_unhex("00", back, 0), -1);
}
