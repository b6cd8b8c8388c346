/* SPDX-License-Identifier: ISC */
/*
 * test_incarnation.c - the wall clock decides nothing in the protocol
 * (issue 12): a node started once with its clock a day ahead, then
 * rebooted with the right clock, is heard again within a probe cycle
 * instead of having every datagram dropped as stale until its peers
 * restart (which split the cluster's global limits).
 *
 * Three real daemons through the cluster harness; node 2's wall clock is
 * moved by libfaketime (Debian's faketime package), its monotonic clock
 * left alone (DONT_FAKE_MONOTONIC), so only the incarnation it starts
 * with is wrong.  A reboot is its segment and state files removed.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/control.h"
#include "demo/cluster.h"
#include "demo/figures.h"
#include "shm/clock.h"
#include "shm/segment.h"
#include "tests/helpers.h"

#define N           3
#define SEC         1000000000ull
#define CAP         1000
#define FAKETIME_SO "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"

static struct fgc_cluster C;

static void teardown(void)
{
	fgc_fini(&C, 0);
}

TestSuite(incarnation, .timeout = 90, .fini = teardown);

/* Start node @i with its wall clock moved by @offset ("+1d"); NULL: as
 * it is. */
static void start_at(int i, const char *offset)
{
	const char *asan = getenv("ASAN_OPTIONS");
	char *saved = asan ? strdup(asan) : NULL, opts[1024];

	if (offset != NULL) {
		setenv("LD_PRELOAD", FAKETIME_SO, 1);
		setenv("FAKETIME", offset, 1);
		setenv("DONT_FAKE_MONOTONIC", "1", 1);
		/* a sanitizer build's daemon: ASan wants to be the first
		 * library loaded, and faketime is preloaded before it */
		snprintf(opts, sizeof opts, "%s%sverify_asan_link_order=0",
		         asan ? asan : "", asan ? ":" : "");
		setenv("ASAN_OPTIONS", opts, 1);
	}
	cr_assert_eq(fgc_start(&C, i), 0, "%s", C.err);
	unsetenv("LD_PRELOAD");
	unsetenv("FAKETIME");
	if (saved != NULL)
		setenv("ASAN_OPTIONS", saved, 1);
	else
		unsetenv("ASAN_OPTIONS");
	free(saved);
	cr_assert_eq(fgc_await_ready(&C, i, "g"), 0, "%s", C.err);
}

/* Poll until nodes 0 and 1 hold @want tokens of @key: seconds taken, or
 * -1 after @max_s. */
static double until_left(const char *key, int64_t want, double max_s)
{
	uint64_t t0 = fg__now_ns();

	while ((fg__now_ns() - t0) / 1e9 < max_s) {
		int64_t a = 0, b = 0;

		if (fgc_left(&C, 0, "g", key, &a) == 0 &&
		    fgc_left(&C, 1, "g", key, &b) == 0 && a == want &&
		    b == want)
			return (fg__now_ns() - t0) / 1e9;
		usleep(10000);
	}
	return -1;
}

static uint64_t stat_of(int i, const char *field)
{
	char sock[160], pat[64], *reply = NULL, *v;
	uint64_t x = 0;

	cr_assert_eq(fg__seg_path(C.node[i].seg, sock, sizeof sock - 8), 0);
	strcat(sock, ".sock");
	cr_assert_eq(fgd_ctl_request(sock, "stats", &reply), 0);
	snprintf(pat, sizeof pat, " %s=", field);
	v = strstr(reply, pat);
	if (v != NULL)
		x = strtoull(v + strlen(pat), NULL, 10);
	free(reply);
	return x;
}

static void take(int i, const char *key, uint32_t n)
{
	cr_assert_eq(fg_allow(C.node[i].fg, "g", key, n, NULL), 1);
}

Test(incarnation, a_node_rebooted_with_its_clock_set_back_is_heard_again)
{
	struct fgc_conf conf = {
	    .peers = FGC_PEERS_ALL,
	    .extra = "rule g capacity 1000 rate 1/1m scope global\n"};
	char seg[sizeof C.node[2].seg];
	double t;
	int i;

	if (access(FAKETIME_SO, R_OK) != 0)
		cr_skip_test("no libfaketime (Debian's faketime package)");
	cr_assert_eq(fgc_init(&C, N, "fgtest-inc-"), 0, "%s", C.err);
	cr_assert_eq(fgc_pick_ports(&C, 31000, 31399), 0, "%s", C.err);
	cr_assert_eq(fgc_make_keys(&C), 0, "%s", C.err);
	for (i = 0; i < N; i++)
		cr_assert_eq(fgc_write_conf(&C, i, &conf), 0, "%s", C.err);
	start_at(0, NULL);
	start_at(1, NULL);
	start_at(2, "+1d"); /* its clock a day ahead */
	take(2, "before", 5);
	t = until_left("before", CAP - 5, 10);
	cr_assert_geq(t, 0, "node 2 (a day ahead) never heard");

	/* a reboot with the right clock: a day lower an incarnation */
	cr_assert_eq(fgc_stop(&C, 2), 0);
	fg_close(C.node[2].fg);
	C.node[2].fg = NULL;
	snprintf(seg, sizeof seg, "%s", C.node[2].seg);
	cr_assert_eq(fg_unlink(seg), 0);
	test_unlink_state(seg);
	start_at(2, NULL);
	take(2, "after", 3);
	t = until_left("after", CAP - 3, 10);
	cr_log_info(
	    "after the reboot, heard again in %.2f s; %llu datagrams "
	    "were dropped as stale meanwhile",
	    t, (unsigned long long)(stat_of(0, "stale") + stat_of(1, "stale")));
	cr_expect_geq(t, 0, "node 2 never heard again: the cluster split");
	cr_expect_leq(t, 3.0, "heard again after %.2f s", t);
	cr_expect_eq(stat_of(2, "incarnations"), 1,
	             "it moved past the incarnation its peers knew");
	cr_expect_geq(until_left("before", CAP - 5, 1), 0,
	              "what it consumed before the reboot still counts");
}
