/* SPDX-License-Identifier: ISC */
/*
 * test_metrics.c - the Prometheus exposition of a segment (no daemon) and
 * of a gossip node, checked line by line and against fg_stats().
 */
#include <criterion/criterion.h>
#include <sodium.h>
#include <string.h>

#include "daemon/metrics.h"
#include "gossip/node.h"
#include "lib/client.h"
#include "tests/helpers.h"
#include "tests/prom.h"

static double series(const char *text, const char *s)
{
	double v = prom_value(text, s);

	cr_assert_geq(v, 0, "series %s missing in:\n%s", s, text);
	return v;
}

static char *render(fg_client *c, const struct fgd_node *n, uint64_t now)
{
	struct fgd_buf b = {0};
	const char *why;

	fgd_metrics_prometheus(&b, c, n, NULL, now);
	cr_assert_eq(b.oom, 0);
	cr_assert_gt(b.len, 0);
	cr_assert_eq(strlen(b.p), b.len);
	why = prom_check(b.p);
	cr_assert_null(why, "%s", why);
	why = prom_promtool(b.p);
	cr_assert_null(why, "%s\n%s", why, b.p);
	return b.p;
}

Test(metrics, buffer_grows_without_losing_text)
{
	struct fgd_buf b = {0};
	size_t i;

	for (i = 0; i < 10000; i++)
		fgd_buf_printf(&b, "%05zu,", i);
	cr_assert_eq(b.oom, 0);
	cr_assert_eq(b.len, 60000);
	cr_assert_eq(strncmp(b.p, "00000,00001,", 12), 0);
	cr_assert_eq(strcmp(b.p + b.len - 6, "09999,"), 0);
	fgd_buf_printf(&b, "%s", "");
	cr_assert_eq(b.len, 60000);
	fgd_buf_free(&b);
	cr_assert_null(b.p);
	cr_assert_eq(b.len, 0);
}

Test(metrics, checker_rejects_what_prometheus_would)
{
	static const char *const bad[] = {
	    "",
	    "floodgate_x 1\n", /* no TYPE */
	    "# HELP floodgate_x h\n# TYPE floodgate_x gauge\nfloodgate_x "
	    "1", /* no newline */
	    "# HELP floodgate_x h\n# TYPE floodgate_x gauge\nfloodgate_x\n",
	    "# HELP floodgate_x h\n# TYPE floodgate_x gauge\n"
	    "floodgate_x{a=\"1} 1\n",
	    "# HELP floodgate_x h\n# TYPE floodgate_x gauge\n"
	    "floodgate_x{a=\"1\"} 1\nfloodgate_x{a=\"1\"} 2\n",
	    "# HELP floodgate_x h\n# TYPE floodgate_x counter\n"
	    "floodgate_x 1\n",
	    "# HELP x h\n# TYPE x gauge\nx 1\n",
	    "# HELP floodgate_x h\n# TYPE floodgate_x gauge\n"
	    "floodgate_y 1\n",
	    "# HELP floodgate_x h\n# TYPE floodgate_x gauge\n"
	    "floodgate_x one\n",
	};
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_expect_not_null(prom_check(bad[i]), "accepted: %s", bad[i]);
	cr_assert_null(prom_check("# HELP floodgate_x_total h\n"
	                          "# TYPE floodgate_x_total counter\n"
	                          "floodgate_x_total{a=\"q\\\"\",b=\"\"} 1\n"
	                          "floodgate_x_total 2\n"));
}

/* Per-rule allowed/denied are sums over the live buckets: exact. */
Test(metrics, per_rule_allowed_and_denied_are_exact_sums_over_buckets)
{
	fg_client *c = test_create("metrics-rules", 1000);
	fg_segment_stats st;
	char *t;
	int i, allowed = 0;

	test_rule(c, "api", 3, 1, HOUR_MS, FG_RULE_DEFAULT);
	test_rule(c, "login", 5, 2, 1000, FG_RULE_GLOBAL | FG_RULE_SHADOW);
	test_rule(c, "gone", 1, 1, 1000, 0);
	for (i = 0; i < 5; i++)
		allowed += fg_allow(c, "api", "alice", 1, NULL);
	cr_assert_eq(allowed, 3);
	cr_assert_eq(fg_allow(c, "api", "bob", 2, NULL), 1);
	cr_assert_eq(fg_allow(c, "api", "bob", 2, NULL), 0);
	for (i = 0; i < 7; i++) /* shadow: 5 admitted, 2 would-be denials */
		cr_assert_eq(fg_allow(c, "login", "carol", 1, NULL), 1);
	cr_assert_eq(fg_allow(c, "gone", "dave", 1, NULL), 1);
	cr_assert_eq(fg_rule_remove(c, "gone"), 0);

	t = render(c, NULL, 0);
	cr_expect_eq(series(t, "floodgate_rule_allowed_tokens_total"
	                       "{rule=\"api\"}"),
	             5);
	cr_expect_eq(series(t, "floodgate_rule_denials_total{rule=\"api\"}"),
	             3);
	cr_expect_eq(series(t, "floodgate_rule_keys{rule=\"api\"}"), 2);
	cr_expect_eq(series(t, "floodgate_rule_allowed_tokens_total"
	                       "{rule=\"login\"}"),
	             5);
	/* a shadow rule's would-be denials have their own counter */
	cr_expect_eq(series(t, "floodgate_rule_denials_total{rule=\"login\"}"),
	             0);
	cr_expect_eq(
	    series(t, "floodgate_rule_shadow_denials_total{rule=\"login\"}"),
	    2);
	cr_expect_eq(
	    series(t, "floodgate_rule_shadow_denials_total{rule=\"api\"}"), 0);
	cr_expect_eq(
	    series(t, "floodgate_rule_capacity_tokens{rule=\"login\"}"), 5);
	cr_expect_eq(series(t, "floodgate_rule_rate_tokens{rule=\"login\"}"),
	             2);
	/* base units: seconds */
	cr_expect_eq(series(t, "floodgate_rule_period_seconds{rule=\"login\"}"),
	             1);
	cr_expect_eq(series(t, "floodgate_rule_period_seconds{rule=\"api\"}"),
	             3600);
	cr_expect_null(strstr(t, "milliseconds"), "%s", t);
	cr_expect_eq(series(t,
	                    "floodgate_rule_info{rule=\"api\",scope=\"host\","
	                    "on_full=\"open\",mode=\"enforce\","
	                    "default=\"yes\"}"),
	             1);
	cr_expect_eq(series(t, "floodgate_rule_info{rule=\"login\","
	                       "scope=\"global\",on_full=\"open\","
	                       "mode=\"shadow\",default=\"no\"}"),
	             1);
	/* a removed rule is not in force: not listed */
	cr_expect_null(strstr(t, "rule=\"gone\""), "%s", t);
	/* no daemon: no daemon figures */
	cr_expect_null(strstr(t, "floodgate_gossip_"));
	cr_expect_null(strstr(t, "floodgate_peers"));

	/* the segment figures agree with fg_stats() */
	cr_assert_eq(fg_stats(c, &st), 0);
	cr_expect_eq(series(t, "floodgate_segment_slots_used"), st.used);
	cr_expect_eq(series(t, "floodgate_segment_slots"), st.nslots);
	cr_expect_eq(series(t, "floodgate_segment_capacity_keys"), st.capacity);
	cr_expect_eq(series(t, "floodgate_segment_inserts_total"), st.inserts);
	cr_expect_eq(series(t, "floodgate_segment_slots_dead"), st.dead);
	cr_expect_eq(series(t, "floodgate_segment_abandoned_total"),
	             st.abandoned);
	cr_expect_eq(series(t, "floodgate_segment_reaped_total"), st.reaped);
	cr_expect_eq(series(t, "floodgate_segment_evicted_total"), st.evicted);
	cr_expect_eq(st.used, 4);
	free(t);

	/* counters grow with the traffic */
	cr_assert_eq(fg_allow(c, "api", "alice", 1, NULL), 0);
	t = render(c, NULL, 0);
	cr_expect_eq(series(t, "floodgate_rule_denials_total{rule=\"api\"}"),
	             4);
	free(t);
	fg_close(c);
	fg_unlink(test_segment("metrics-rules"));
}

/* One series of what @n (NULL: a scan) renders for segment @c. */
static double figure(fg_client *c, const struct fgd_node *n, const char *s)
{
	char *t = render(c, n, 1);
	double v = series(t, s);

	free(t);
	return v;
}

#define API_ALLOWED "floodgate_rule_allowed_tokens_total{rule=\"api\"}"

Test(metrics, inside_the_daemon_rule_figures_come_from_the_last_harvest)
{
	fg_client *c = test_create("metrics-harvest", 1000);
	struct fgw_peer_key key = {.name = "self"};
	struct fgw_keyring kr = {.n = 1, .keys = &key};
	struct fgd_node_params p = {
	    .incarnation = 1, .max_datagram = 1200, .interval_ms = 100};
	uint8_t sk[FGW_SK_SIZE];
	struct fgd_node n;

	crypto_sign_keypair(key.pk, sk);
	test_rule(c, "api", 3, 1, HOUR_MS, 0);
	cr_assert_eq(fgd_node_init(&n, c, &kr, sk, key.pk, &p), 0);
	cr_assert_eq(fg_allow(c, "api", "alice", 2, NULL), 1);
	cr_assert_eq(fg_allow(c, "api", "alice", 2, NULL), 0);
	fgd_node_harvest(&n, 1);
	cr_expect_eq(figure(c, &n, API_ALLOWED), 2);
	cr_expect_eq(
	    figure(c, &n, "floodgate_rule_denials_total{rule=\"api\"}"), 1);
	cr_expect_eq(figure(c, &n, "floodgate_segment_slots_used"), 1);
	/* no scan: what happened since the harvest shows after the next */
	cr_assert_eq(fg_allow(c, "api", "bob", 1, NULL), 1);
	cr_expect_eq(figure(c, &n, API_ALLOWED), 2);
	fgd_node_harvest(&n, 3);
	cr_expect_eq(figure(c, &n, API_ALLOWED), 3);
	cr_expect_eq(figure(c, &n, "floodgate_rule_keys{rule=\"api\"}"), 2);
	cr_expect_eq(figure(c, &n, "floodgate_segment_slots_used"), 2);
	/* the CLI, without a daemon, scans */
	cr_expect_eq(figure(c, NULL, API_ALLOWED), 3);
	fgd_node_fini(&n);
	fg_close(c);
	fg_unlink(test_segment("metrics-harvest"));
}

Test(metrics, table_full_is_counted_per_rule)
{
	fg_client *c = test_create("metrics-full", 8);
	fg_segment_stats st;
	fg_decision d;
	char key[16], *t;
	int i, untracked = 0;

	test_rule(c, "a", 10, 1, HOUR_MS, 0); /* the whole table */
	test_rule(c, "b", 10, 1, HOUR_MS, FG_RULE_FAIL_CLOSED);
	cr_assert_eq(fg_stats(c, &st), 0);
	for (i = 0; i < (int)st.nslots + 20; i++) {
		snprintf(key, sizeof key, "k%d", i);
		cr_assert_eq(fg_allow(c, "a", key, 1, &d), 1);
		untracked += !!(d.flags & FG_DECISION_UNTRACKED);
	}
	cr_assert_geq(untracked, 20);
	cr_assert_eq(fg_allow(c, "b", "z", 1, &d), 0);
	cr_assert(d.flags & FG_DECISION_UNTRACKED);
	t = render(c, NULL, 0);
	cr_expect_eq(series(t, "floodgate_rule_table_full_total{rule=\"a\"}"),
	             untracked);
	cr_expect_eq(series(t, "floodgate_rule_table_full_total{rule=\"b\"}"),
	             1);
	/* A table this small may keep a slot that no new key's buckets
	 * reach (2 choices among 14 buckets): nearly all, as fg_stats says */
	cr_assert_eq(fg_stats(c, &st), 0);
	cr_expect_geq(st.used * 10, st.nslots * 9, "%llu of %llu slots",
	              (unsigned long long)st.used,
	              (unsigned long long)st.nslots);
	cr_expect_eq(series(t, "floodgate_segment_slots_used"), st.used);
	/* checks the policy answered are not in a bucket */
	cr_expect_eq(series(t, "floodgate_rule_allowed_tokens_total"
	                       "{rule=\"a\"}"),
	             (double)st.used);
	free(t);
	fg_close(c);
	fg_unlink(test_segment("metrics-full"));
}

Test(metrics, slots_and_quota_refusals_are_counted_per_rule)
{
	fg_client *c = test_create("metrics-quota", 100);
	fg_segment_stats st;
	fg_decision d;
	char key[16], *t;
	int i, untracked = 0, tracked = 0;

	test_rule(c, "a", 10, 1, HOUR_MS, 0);
	test_rule(c, "b", 10, 1, HOUR_MS, FG_RULE_FAIL_CLOSED);
	cr_assert_eq(fg_rule_share_set(c, "a", 0), 0); /* half at most */
	cr_assert_eq(fg_stats(c, &st), 0);
	for (i = 0; i < (int)st.nslots; i++) {
		snprintf(key, sizeof key, "k%d", i);
		cr_assert_eq(fg_allow(c, "a", key, 1, &d), 1);
		untracked += !!(d.flags & FG_DECISION_UNTRACKED);
		tracked += !(d.flags & FG_DECISION_UNTRACKED);
	}
	cr_assert_eq(fg_allow(c, "b", "z", 1, &d), 1, "b still finds room");
	t = render(c, NULL, 0);
	cr_expect_eq(series(t, "floodgate_rule_slot_quota{rule=\"a\"}"),
	             st.nslots / 2);
	cr_expect_eq(series(t, "floodgate_rule_slots{rule=\"a\"}"), tracked);
	cr_expect_eq(tracked, st.nslots / 2);
	cr_expect_eq(series(t, "floodgate_rule_over_quota_total{rule=\"a\"}"),
	             untracked);
	cr_expect_eq(series(t, "floodgate_rule_table_full_total{rule=\"a\"}"),
	             untracked);
	cr_expect_eq(series(t, "floodgate_rule_slots{rule=\"b\"}"), 1);
	cr_expect_eq(series(t, "floodgate_rule_over_quota_total{rule=\"b\"}"),
	             0);
	free(t);
	fg_close(c);
	fg_unlink(test_segment("metrics-quota"));
}

Test(metrics, penalty_blocks_and_their_tokens_are_counted_apart)
{
	fg_client *c = test_create("metrics-penalty", 100);
	fg_rule r = {.name = "p",
	             .capacity = 1,
	             .rate = 1,
	             .period_ms = HOUR_MS,
	             .flags = FG_RULE_PENALTY,
	             .penalty_denials = 2,
	             .penalty_window_ms = 60000,
	             .penalty_block_ms = 1000};
	const char *keys[] = {"a", "b", "c"};
	int i, j, blocked = 0;
	char *t;

	cr_assert_eq(fg_rule_set(c, &r), 0);
	test_rule(c, "q", 1, 1, HOUR_MS, 0);
	for (i = 0; i < 3; i++) { /* a and b: 2 denials; c: 1 */
		cr_assert_eq(fg_allow(c, "p", keys[i], 1, NULL), 1);
		for (j = 0; j < (i < 2 ? 2 : 1); j++)
			cr_assert_eq(fg_allow(c, "p", keys[i], 1, NULL), 0);
		blocked += i < 2;
	}
	t = render(c, NULL, 0);
	cr_expect_eq(series(t, "floodgate_rule_penalty_blocks_total"
	                       "{rule=\"p\"}"),
	             blocked);
	cr_expect_eq(series(t, "floodgate_rule_penalty_blocks_total"
	                       "{rule=\"q\"}"),
	             0);
	/* what the rule admitted (the test's 3) is the allowed tokens less
	 * the tokens of the blocks (one each here: 1 s past an hour's) */
	cr_expect_eq(series(t, "floodgate_rule_penalty_block_tokens_total"
	                       "{rule=\"p\"}"),
	             blocked);
	cr_expect_eq(series(t, "floodgate_rule_allowed_tokens_total"
	                       "{rule=\"p\"}") -
	                 series(t, "floodgate_rule_penalty_block_tokens_total"
	                           "{rule=\"p\"}"),
	             3);
	free(t);
	fg_close(c);
	fg_unlink(test_segment("metrics-penalty"));
}

static const char *node_seg(int i)
{
	static char name[64];

	snprintf(name, sizeof name, "fgtest-metrics-node%d-%d", i,
	         (int)getpid());
	return name;
}

struct dgram {
	uint8_t buf[FGW_MAX_SIZE];
	size_t len;
};

static void capture(void *arg, const uint8_t *buf, size_t len)
{
	struct dgram *out = arg;

	/* keep the first datagram only: one is enough here */
	if (out->len == 0 && len <= sizeof out->buf) {
		memcpy(out->buf, buf, len);
		out->len = len;
	}
}

/* Two nodes: what node 1 receives, drops and hears shows in its figures. */
Test(metrics, daemon_counters_show_drops_by_reason_traffic_and_peers)
{
	struct fgw_peer_key keys[3];
	uint8_t sk[3][FGW_SK_SIZE]; /* n2: in the keyring, never runs */
	struct fgw_keyring kr = {.n = 3, .keys = keys};
	struct fgd_node node[2];
	struct fgd_node_params p = {.incarnation = 1,
	                            .max_datagram = 1200,
	                            .interval_ms = 100,
	                            .npeers = 1};
	fg_client *fg[2];
	struct dgram dgram = {0}, own = {0};
	uint8_t junk[10] = {0};
	fg_segment_opts o = {.capacity = 64};
	char *t;
	int i;

	cr_assert_geq(sodium_init(), 0);
	for (i = 0; i < 3; i++) {
		crypto_sign_keypair(keys[i].pk, sk[i]);
		snprintf(keys[i].name, sizeof keys[i].name, "n%d", i);
	}
	for (i = 0; i < 2; i++) {
		fg_unlink(node_seg(i));
		cr_assert_eq(fg_create(node_seg(i), &o, 0, &fg[i]), 0);
		test_rule(fg[i], "g", 10, 1, HOUR_MS, FG_RULE_GLOBAL);
		cr_assert_eq(
		    fgd_node_init(&node[i], fg[i], &kr, sk[i], keys[i].pk, &p),
		    0);
	}
	cr_assert_eq(fg_allow(fg[0], "g", "k", 4, NULL), 1);
	fgd_node_harvest(&node[0], 1);
	cr_assert_gt(fgd_node_emit(&node[0], 1, 0, capture, &dgram), 0);
	fgd_node_harvest(&node[1], 1);
	cr_assert_gt(fgd_node_emit(&node[1], 1, 1, capture, &own), 0);

	cr_assert_eq(fgd_node_receive(&node[1], dgram.buf, dgram.len, 2),
	             FGW_OK);
	cr_assert_eq(fgd_node_receive(&node[1], dgram.buf, dgram.len, 2),
	             FGW_REPLAY);
	cr_assert_eq(fgd_node_receive(&node[1], junk, sizeof junk, 2),
	             FGW_TRUNCATED);
	cr_assert_eq(fgd_node_receive(&node[1], own.buf, own.len, 2),
	             FGW_REPLAY); /* our own: counted as self */

	t = render(fg[1], &node[1], 2);
	cr_expect_eq(series(t, "floodgate_gossip_dropped_datagrams_total"
	                       "{reason=\"replay\"}"),
	             1);
	cr_expect_eq(series(t, "floodgate_gossip_dropped_datagrams_total"
	                       "{reason=\"truncated\"}"),
	             1);
	cr_expect_eq(series(t, "floodgate_gossip_dropped_datagrams_total"
	                       "{reason=\"self\"}"),
	             1);
	cr_expect_eq(series(t, "floodgate_gossip_dropped_datagrams_total"
	                       "{reason=\"bad-signature\"}"),
	             0);
	cr_expect_eq(series(t, "floodgate_gossip_received_datagrams_total"),
	             (double)node[1].ctr.rx_datagrams);
	cr_expect_geq(node[1].ctr.rx_datagrams, 1);
	cr_expect_eq(series(t, "floodgate_gossip_received_bytes_total"),
	             (double)node[1].ctr.rx_bytes);
	cr_expect_eq(series(t, "floodgate_gossip_applied_tokens_total"), 4);
	/* n0 was heard; n2 never was */
	cr_expect_eq(series(t, "floodgate_peers{state=\"alive\"}"), 1);
	cr_expect_eq(series(t, "floodgate_peers{state=\"unknown\"}"), 1);
	cr_expect_eq(series(t, "floodgate_peers{state=\"dead\"}"), 0);
	free(t);
	/* long after: n0 is dead */
	t = render(fg[1], &node[1], 2 + 100u * (FGD_DEAD_ROUNDS + 1));
	cr_expect_eq(series(t, "floodgate_peers{state=\"dead\"}"), 1);
	free(t);
	t = render(fg[0], &node[0], 2);
	cr_expect_eq(series(t, "floodgate_gossip_harvested_tokens_total"), 4);
	free(t);

	/* each membership and repair counter under its own name */
	{
		struct fgd_counters *c = &node[0].ctr;
		const struct {
			const char *name;
			uint64_t *v;
		} m[] = {
		    {"floodgate_gossip_relayed_datagrams_total", &c->relayed},
		    {"floodgate_members_pings_total", &c->pings},
		    {"floodgate_members_acks_total", &c->acks},
		    {"floodgate_members_ping_requests_total", &c->ping_reqs},
		    {"floodgate_members_acks_relayed_total", &c->acks_relayed},
		    {"floodgate_members_suspected_total", &c->suspected},
		    {"floodgate_members_declared_dead_total",
		     &c->declared_dead},
		    {"floodgate_members_announcements_total", &c->announces},
		    {"floodgate_members_ignored_total", &c->member_ignored},
		    {"floodgate_gossip_send_errors_total", &c->tx_errors},
		    {"floodgate_gossip_records_unknown_rule_total",
		     &c->records_unknown},
		    {"floodgate_gossip_records_bad_key_total",
		     &c->records_badkey},
		    {"floodgate_gossip_records_no_room_total",
		     &c->records_noroom},
		    {"floodgate_gossip_local_no_room_total", &c->local_noroom},
		    {"floodgate_sync_requests_total", &c->sync_requests},
		    {"floodgate_sync_repairs_total", &c->repairs},
		    {"floodgate_sync_repair_datagrams_total",
		     &c->repair_datagrams},
		    {"floodgate_sync_repairs_limited_total",
		     &c->repairs_limited},
		    {"floodgate_sync_caught_up_total", &c->caught_up},
		    {"floodgate_gossip_receive_buffer_drops_total",
		     &c->rx_overflow},
		};
		size_t k;

		for (k = 0; k < sizeof m / sizeof m[0]; k++)
			*m[k].v = 1000 + k;
		t = render(fg[0], &node[0], 2);
		for (k = 0; k < sizeof m / sizeof m[0]; k++)
			cr_expect_eq(series(t, m[k].name), 1000 + k, "%s",
			             m[k].name);
		free(t);
	}

	for (i = 0; i < 2; i++) {
		fgd_node_fini(&node[i]);
		fg_close(fg[i]);
		fg_unlink(node_seg(i));
	}
}

/* A node of its own on segment @c (keyring of one). */
struct solo {
	struct fgw_peer_key key;
	struct fgw_keyring kr;
	uint8_t sk[FGW_SK_SIZE];
	struct fgd_node n;
};

static void solo_start(struct solo *s, fg_client *c)
{
	struct fgd_node_params p = {
	    .incarnation = 1, .max_datagram = 1200, .interval_ms = 100};

	memset(s, 0, sizeof *s);
	snprintf(s->key.name, sizeof s->key.name, "self");
	s->kr.n = 1;
	s->kr.keys = &s->key;
	crypto_sign_keypair(s->key.pk, s->sk);
	cr_assert_eq(fgd_node_init(&s->n, c, &s->kr, s->sk, s->key.pk, &p), 0);
}

#define SH_DENIED "floodgate_rule_denials_total{rule=\"trial\"}"
#define SH_SHADOW "floodgate_rule_shadow_denials_total{rule=\"trial\"}"

/* Denials go to the mode the rule had when they happened: a rule moved
 * from shadow to enforce shows no burst of old would-be denials. */
Test(metrics, shadow_denials_stay_with_the_mode_they_happened_in)
{
	fg_client *c = test_create("metrics-shadow", 100);
	struct solo s;
	fg_decision d;
	int i;

	test_rule(c, "trial", 2, 1, HOUR_MS, FG_RULE_SHADOW);
	solo_start(&s, c);
	for (i = 0; i < 5; i++) { /* 2 admitted, 3 would-be denials */
		cr_assert_eq(fg_allow(c, "trial", "k", 1, &d), 1);
		cr_assert_eq(!!(d.flags & FG_DECISION_SHADOW), i >= 2);
	}
	fgd_node_harvest(&s.n, 1);
	cr_expect_eq(figure(c, &s.n, SH_SHADOW), 3);
	cr_expect_eq(figure(c, &s.n, SH_DENIED), 0);
	cr_expect_eq(
	    figure(c, &s.n,
	           "floodgate_rule_allowed_tokens_total{rule=\"trial\"}"),
	    2);

	test_rule(c, "trial", 2, 1, HOUR_MS, 0); /* now it enforces */
	for (i = 0; i < 4; i++)
		cr_assert_eq(fg_allow(c, "trial", "k", 1, NULL), 0);
	fgd_node_harvest(&s.n, 2);
	cr_expect_eq(figure(c, &s.n, SH_SHADOW), 3);
	cr_expect_eq(figure(c, &s.n, SH_DENIED), 4);

	test_rule(c, "trial", 2, 1, HOUR_MS, FG_RULE_SHADOW); /* and back */
	cr_assert_eq(fg_allow(c, "trial", "k", 1, NULL), 1);
	fgd_node_harvest(&s.n, 3);
	cr_expect_eq(figure(c, &s.n, SH_SHADOW), 4);
	cr_expect_eq(figure(c, &s.n, SH_DENIED), 4);
	fgd_node_fini(&s.n);
	fg_close(c);
	fg_unlink(test_segment("metrics-shadow"));
}

/* Check @key (@len bytes) under rule index @rule until @n are denied
 * (a new key's first check is admitted: capacity 1, no refill). */
static void deny(fg_client *c, unsigned rule, const void *key, size_t len,
                 int n)
{
	int tries = 0;

	while (n > 0) {
		int r = fg__check(c, rule, key, len, 1, NULL);

		cr_assert_geq(r, 0);
		n -= r == 0;
		cr_assert_lt(++tries, 1000);
	}
}

static double top(const char *t, const char *labels)
{
	char s[256];

	snprintf(s, sizeof s, "floodgate_top_denied_key_denials{%s}", labels);
	return prom_value(t, s);
}

/* Bounded: the FGD_TOP_N keys with the most denials in the last complete
 * window, never what came before it; keys are label-safe. */
Test(metrics, top_denied_keys_rank_the_last_window_and_label_keys_safely)
{
	fg_client *c = test_create("metrics-top", 1000);
	static const uint8_t bin[] = {0x00, 0xff, 'a', '\n'};
	char lng[61], key[16], *t;
	unsigned api;
	struct solo s;
	int i;

	test_rule(c, "api", 1, 1, HOUR_MS, 0);
	api = (unsigned)fg__rule_index(c, "api");
	deny(c, api, "old", 3, 1);
	deny(c, api, "old", 3, 50); /* before the first harvest: history */
	solo_start(&s, c);
	fgd_node_harvest(&s.n, 1);
	t = render(c, &s.n, 1);
	cr_expect_eq(series(t, "floodgate_top_denied_window_seconds"), 0);
	cr_expect_null(strstr(t, "floodgate_top_denied_key_denials{"), "%s", t);
	free(t);

	deny(c, api, "old", 3, 2);
	deny(c, api, "q\"\\x", 4, 30);     /* quote and backslash: escaped */
	deny(c, api, bin, sizeof bin, 29); /* binary: hex */
	memset(lng, 'L', 60);
	lng[60] = '\0';
	deny(c, api, lng, 60, 28); /* too long for text: a hex prefix */
	for (i = 0; i < 12; i++) { /* 12 more keys, 1..12 denials each */
		snprintf(key, sizeof key, "k%02d", i);
		deny(c, api, key, strlen(key), i + 1);
	}
	/* a harvest within the window ranks nothing yet */
	fgd_node_harvest(&s.n, 2);
	t = render(c, &s.n, 2);
	cr_expect_eq(series(t, "floodgate_top_denied_window_seconds"), 0);
	free(t);
	fgd_node_harvest(&s.n, 1 + FGD_TOP_WINDOW_MS);
	t = render(c, &s.n, 1 + FGD_TOP_WINDOW_MS);
	cr_expect_eq(series(t, "floodgate_top_denied_window_seconds"),
	             FGD_TOP_WINDOW_MS / 1000.0);
	cr_expect_eq(
	    top(t, "rule=\"api\",key=\"q\\\"\\\\x\",encoding=\"text\""), 30,
	    "%s", t);
	cr_expect_eq(top(t, "rule=\"api\",key=\"00ff610a\",encoding=\"hex\""),
	             29, "%s", t);
	cr_expect_eq(top(t, "rule=\"api\",key=\"4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c"
	                    "4c\",encoding=\"hex-prefix\""),
	             28, "%s", t);
	cr_expect_eq(top(t, "rule=\"api\",key=\"k11\",encoding=\"text\""), 12);
	cr_expect_eq(top(t, "rule=\"api\",key=\"k05\",encoding=\"text\""), 6);
	/* ten in all: k04 (5 denials) and below, and "old" (2 in the
	 * window, 53 in its life) are not among them */
	cr_expect_lt(top(t, "rule=\"api\",key=\"k04\",encoding=\"text\""), 0);
	cr_expect_lt(top(t, "rule=\"api\",key=\"old\",encoding=\"text\""), 0);
	{
		const char *p = t;
		int n = 0;

		while ((p = strstr(p, "\nfloodgate_top_denied_key_denials{")))
			n++, p++;
		cr_expect_eq(n, FGD_TOP_N, "%s", t);
	}
	free(t);

	/* the next window: only what is denied in it */
	deny(c, api, "old", 3, 7);
	fgd_node_harvest(&s.n, 1 + 2 * FGD_TOP_WINDOW_MS);
	t = render(c, &s.n, 1 + 2 * FGD_TOP_WINDOW_MS);
	cr_expect_eq(top(t, "rule=\"api\",key=\"old\",encoding=\"text\""), 7,
	             "%s", t);
	cr_expect_lt(top(t, "rule=\"api\",key=\"k11\",encoding=\"text\""), 0);
	free(t);
	fgd_node_fini(&s.n);
	fg_close(c);
	fg_unlink(test_segment("metrics-top"));
}

/* A scrape inside the daemon reads a harvest brought forward: what was
 * decided before it is there; right after a slow pass it reads that one. */
Test(metrics, a_scrape_brings_the_harvest_forward_within_its_share)
{
	fg_client *c = test_create("metrics-scrape", 100);
	struct fgd_buf b = {0};
	struct solo s;

	test_rule(c, "api", 3, 1, HOUR_MS, 0);
	solo_start(&s, c);
	fgd_node_harvest(&s.n, 1);
	cr_assert_eq(fg_allow(c, "api", "alice", 2, NULL), 1);
	fgd_metrics_scrape(&b, c, &s.n, NULL, 2);
	cr_expect_eq(prom_value(b.p, API_ALLOWED), 2);
	cr_expect_eq(s.n.harvest.passes, 2);
	fgd_buf_free(&b);
	/* as if that pass had been long: the next scrape reads it */
	s.n.scrape_next_ns = UINT64_MAX;
	cr_assert_eq(fg_allow(c, "api", "alice", 1, NULL), 1);
	fgd_metrics_scrape(&b, c, &s.n, NULL, 3);
	cr_expect_eq(prom_value(b.p, API_ALLOWED), 2);
	cr_expect_eq(s.n.harvest.passes, 2);
	fgd_buf_free(&b);
	s.n.scrape_next_ns = 0;
	fgd_metrics_scrape(&b, c, &s.n, NULL, 4);
	cr_expect_eq(prom_value(b.p, API_ALLOWED), 3);
	cr_expect_eq(s.n.harvest.passes, 3);
	fgd_buf_free(&b);
	fgd_node_fini(&s.n);
	fg_close(c);
	fg_unlink(test_segment("metrics-scrape"));
}
