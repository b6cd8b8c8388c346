/* SPDX-License-Identifier: ISC */
/*
 * test_scrape.c - a real floodgated's /metrics and `floodgate stats
 * --prometheus`, read right after a burst: both pass promtool, and both
 * show exactly what the test itself was admitted and denied.
 *
 * The daemon gossips (a keyring of one), or runs alone (no node key),
 * with a 1 s interval, so a figure that waited for the next round would
 * show the burst missing.  Either way the figures come from its harvest,
 * which reads only the pages of buckets that changed: an idle daemon's
 * scrapes read no slot.
 */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/client.h"
#include "tests/cluster.h"
#include "tests/helpers.h"
#include "tests/ports.h"
#include "tests/prom.h"

static struct {
	char dir[64], seg[64], conf[128];
	int http_port;
	pid_t pid;
	fg_client *fg;
} D;

/* Run @cmd; its output in a malloc'ed string, its status in *@rc. */
static char *run(const char *cmd, int *rc)
{
	size_t len = 0, cap = 1 << 16;
	char *out = malloc(cap);
	FILE *p = popen(cmd, "r");
	size_t n;

	cr_assert_not_null(out);
	cr_assert_not_null(p, "%s", cmd);
	while ((n = fread(out + len, 1, cap - 1 - len, p)) > 0) {
		len += n;
		if (len == cap - 1) {
			cap *= 2;
			out = realloc(out, cap);
			cr_assert_not_null(out);
		}
	}
	out[len] = '\0';
	*rc = pclose(p);
	return out;
}

static char *scrape_http(void)
{
	char cmd[256];
	int rc;
	char *t;

	snprintf(cmd, sizeof cmd,
	         "curl -sf --max-time 10 http://127.0.0.1:%d/metrics",
	         D.http_port);
	t = run(cmd, &rc);
	cr_assert_eq(rc, 0, "%s", cmd);
	return t;
}

static char *scrape_cli(void)
{
	const char *cli = getenv("FLOODGATE_CLI");
	char cmd[512];
	int rc;
	char *t;

	snprintf(cmd, sizeof cmd, "%s -c %s stats --prometheus",
	         cli ? cli : "./cli/floodgate", D.conf);
	t = run(cmd, &rc);
	cr_assert_eq(rc, 0, "%s", cmd);
	return t;
}

static void start(int gossip)
{
	char text[1024], log[128], node[256] = "";
	int port = fgt_ports(2);
	uint64_t t0;

	memset(&D, 0, sizeof D);
	snprintf(D.dir, sizeof D.dir, "/tmp/fg-mon-scrape-XXXXXX");
	cr_assert_not_null(mkdtemp(D.dir));
	snprintf(D.seg, sizeof D.seg, "fg-mon-scrape-%d", (int)getpid());
	D.http_port = port + 1;
	make_node_keys(D.dir, 1);
	if (gossip)
		snprintf(node, sizeof node,
		         "node-key %s/n0.key\nkeyring %s/keyring\n"
		         "listen 127.0.0.1:%d\n",
		         D.dir, D.dir, port);
	snprintf(text, sizeof text,
	         "segment %s\ncapacity 1000\n%sinterval 1s\n"
	         "http %d\ncontrol %s/ctl.sock\n"
	         "rule api capacity 10 rate 1/1h\n"
	         "rule trial capacity 5 rate 1/1h mode shadow scope global\n",
	         D.seg, node, D.http_port, D.dir);
	snprintf(D.conf, sizeof D.conf, "%s/n0.conf", D.dir);
	write_file(D.conf, text);
	D.pid = cluster_spawn(D.dir, 0);
	snprintf(log, sizeof log, "%s/n0.log", D.dir);
	t0 = fg__now_ns();
	while (fg_open(D.seg, 0, &D.fg) != 0 ||
	       fg__rule_index(D.fg, "trial") < 0) {
		if (D.fg) {
			fg_close(D.fg);
			D.fg = NULL;
		}
		cr_assert_lt(fg__now_ns() - t0, 10000000000ull,
		             "floodgated did not start (see %s)", log);
		usleep(20000);
	}
}

static void stop(void)
{
	char cmd[128];
	int rc;

	fg_close(D.fg);
	kill(D.pid, SIGTERM);
	waitpid(D.pid, NULL, 0);
	fg_unlink(D.seg);
	test_unlink_state(D.seg);
	snprintf(cmd, sizeof cmd, "rm -rf %s", D.dir);
	rc = system(cmd);
	(void)rc;
}

static double fig(const char *t, const char *series)
{
	double v = prom_value(t, series);

	cr_assert_geq(v, 0, "%s missing in:\n%s", series, t);
	return v;
}

static void expect_truth(const char *t, const char *how, int api_ok,
                         int api_denied, int trial_ok, int trial_would)
{
	const char *why = prom_promtool(t);

	cr_assert_null(why, "%s: %s", how, why);
	cr_expect_eq(
	    fig(t, "floodgate_rule_allowed_tokens_total{rule=\"api\"}"), api_ok,
	    "%s", how);
	cr_expect_eq(fig(t, "floodgate_rule_denials_total{rule=\"api\"}"),
	             api_denied, "%s", how);
	cr_expect_eq(fig(t, "floodgate_rule_allowed_tokens_total"
	                    "{rule=\"trial\"}"),
	             trial_ok, "%s", how);
	cr_expect_eq(fig(t, "floodgate_rule_shadow_denials_total"
	                    "{rule=\"trial\"}"),
	             trial_would, "%s", how);
	cr_expect_eq(fig(t, "floodgate_rule_denials_total{rule=\"trial\"}"), 0,
	             "%s", how);
	cr_expect_eq(fig(t, "floodgate_rule_keys{rule=\"api\"}"), 3, "%s", how);
}

/* The slots the daemon's harvests have read, by the next scrape. */
static double slots_read(void)
{
	char *h = scrape_http();
	double v = fig(h, "floodgate_harvest_slots_read_total");

	free(h);
	return v;
}

/* Idle, a scrape reads no slot; after one check, at most the slots of
 * the check's page of buckets. */
static void expect_reads_only_what_changed(void)
{
	double before = slots_read();

	cr_expect_eq(slots_read(), before, "an idle daemon's scrape reads");
	cr_assert_eq(fg_allow(D.fg, "api", "erin", 1, NULL), 1);
	cr_expect_leq(slots_read() - before, FG_DIRTY_BUCKETS * FG_BUCKET_SLOTS,
	              "a scrape after one check reads one page");
}

static void burst_at_once(int gossip)
{
	int i, api_ok = 0, api_denied = 0, trial_ok = 0, trial_would = 0;
	const char *keys[] = {"alice", "bob", "q\"\\"};
	char *h, *c;

	start(gossip);
	for (i = 0; i < 100; i++) {
		fg_decision d;
		int r = fg_allow(D.fg, "api", keys[i % 3], 1, &d);

		cr_assert_geq(r, 0);
		api_ok += r == 1;
		api_denied += r == 0;
		r = fg_allow(D.fg, "trial", "carol", 1, &d);
		cr_assert_eq(r, 1); /* shadow: never denies */
		if (d.flags & FG_DECISION_SHADOW)
			trial_would++;
		else
			trial_ok++;
	}
	cr_assert_eq(api_ok, 30);
	cr_assert_eq(trial_would, 95);
	/* at once: no wait for the daemon's next round (1 s away) */
	h = scrape_http();
	c = scrape_cli();
	expect_truth(h, "GET /metrics", api_ok, api_denied, trial_ok,
	             trial_would);
	expect_truth(c, "floodgate stats --prometheus", api_ok, api_denied,
	             trial_ok, trial_would);
	/* the daemon's own figures are there, from the daemon process */
	cr_expect_geq(prom_value(h, "process_cpu_seconds_total"), 0, "%s", h);
	cr_expect_geq(prom_value(c, "process_resident_memory_bytes"), 1);
	cr_expect_geq(prom_value(h, "floodgate_harvests_total"), 1);
	free(h);
	free(c);

	/* and again after more traffic, within the same round */
	for (i = 0; i < 7; i++)
		cr_assert_eq(fg_allow(D.fg, "api", "dave", 1, NULL), 1);
	c = scrape_cli();
	h = scrape_http();
	cr_expect_eq(
	    fig(c, "floodgate_rule_allowed_tokens_total{rule=\"api\"}"),
	    api_ok + 7);
	cr_expect_eq(
	    fig(h, "floodgate_rule_allowed_tokens_total{rule=\"api\"}"),
	    api_ok + 7);
	free(h);
	free(c);
	expect_reads_only_what_changed();
	stop();
}

Test(scrape, http_and_cli_show_a_burst_at_once_as_the_test_counted_it,
     .timeout = 60)
{
	burst_at_once(1);
}

Test(scrape, a_single_hosts_daemon_shows_it_at_once_too, .timeout = 60)
{
	burst_at_once(0);
}
