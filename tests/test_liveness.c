/* SPDX-License-Identifier: ISC */
/*
 * test_liveness.c - peers are judged as floodgated(8) says: suspect after
 * 3 s without a word, dead after 10, alive again when they talk; and a
 * busy or idle cluster on loopback never suspects anyone (issue 20: peers
 * flapped alive -> suspect -> alive under load, and a 5 s cut made them
 * dead).  Three real daemons at the default interval (100 ms), through
 * the cluster harness; states are read as an operator reads them, from a
 * daemon's control socket.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/control.h"
#include "demo/cluster.h"
#include "demo/load.h"
#include "shm/clock.h"
#include "shm/segment.h"

#define N   3
#define SEC 1000000000ull

static struct fgc_cluster C;

static void teardown(void)
{
	int i;

	for (i = 0; C.node != NULL && i < N; i++)
		if (C.node[i].pid > 0)
			kill(C.node[i].pid, SIGCONT);
	fgc_fini(&C, 0);
}

TestSuite(liveness, .timeout = 90, .fini = teardown);

static void up(void)
{
	struct fgc_conf conf = {
	    .peers = FGC_PEERS_ALL,
	    .extra = "rule g capacity 50 rate 200/1s scope global\n"};
	int i;

	cr_assert_eq(fgc_init(&C, N, "fgtest-live-"), 0, "%s", C.err);
	cr_assert_eq(fgc_pick_ports(&C, 30600, 30999), 0, "%s", C.err);
	cr_assert_eq(fgc_make_keys(&C), 0, "%s", C.err);
	for (i = 0; i < N; i++)
		cr_assert_eq(fgc_write_conf(&C, i, &conf), 0, "%s", C.err);
	cr_assert_eq(fgc_start_all(&C, "g"), 0, "%s", C.err);
}

/* Node @i's control reply to @req, malloc'ed. */
static char *ask(int i, const char *req)
{
	char sock[160], *reply = NULL;

	cr_assert_eq(fg__seg_path(C.node[i].seg, sock, sizeof sock - 8), 0);
	strcat(sock, ".sock");
	cr_assert_eq(fgd_ctl_request(sock, req, &reply), 0,
	             "node %d's control socket", i);
	return reply;
}

/* What node @i thinks of node @of ("alive", "suspect", "dead", ...). */
static void state_of(int i, int of, char *out, size_t len)
{
	char *reply = ask(i, "peers"), pat[32], *p, *e;

	snprintf(pat, sizeof pat, "peer name=n%d ", of);
	p = strstr(reply, pat);
	cr_assert_not_null(p, "n%d not in n%d's peers: %s", of, i, reply);
	p = strstr(p, " state=");
	cr_assert_not_null(p);
	p += strlen(" state=");
	e = strchr(p, ' ');
	snprintf(out, len, "%.*s", e ? (int)(e - p) : (int)strlen(p), p);
	free(reply);
}

static unsigned long long suspected(int i)
{
	char *reply = ask(i, "stats"), *p;
	unsigned long long x;

	p = strstr(reply, " suspected=");
	cr_assert_not_null(p, "no suspected= in: %s", reply);
	x = strtoull(p + strlen(" suspected="), NULL, 10);
	free(reply);
	return x;
}

/* Seconds from @t0 until node 0 holds node 2 @want, polled every 20 ms
 * for @max_s at most; -1 if it never does. */
static double until_state(uint64_t t0, const char *want, double max_s)
{
	char st[32];

	while ((fg__now_ns() - t0) / 1e9 < max_s) {
		state_of(0, 2, st, sizeof st);
		if (strcmp(st, want) == 0)
			return (fg__now_ns() - t0) / 1e9;
		usleep(20000);
	}
	return -1;
}

Test(liveness, a_silent_peer_is_suspect_after_3_s_and_dead_after_10_s)
{
	double suspect, dead, alive;
	uint64_t t0;

	up();
	cr_assert_geq(until_state(fg__now_ns(), "alive", 10), 0,
	              "node 2 never alive");
	cr_assert_eq(kill(C.node[2].pid, SIGSTOP), 0);
	t0 = fg__now_ns();
	suspect = until_state(t0, "suspect", 8);
	dead = until_state(t0, "dead", 16);
	cr_log_info("silent: suspect after %.2f s, dead after %.2f s", suspect,
	            dead);
	cr_expect_geq(suspect, 2.9, "suspect after %.2f s", suspect);
	cr_expect_leq(suspect, 4.5, "suspect after %.2f s", suspect);
	cr_expect_geq(dead, 9.9, "dead after %.2f s", dead);
	cr_expect_leq(dead, 11.5, "dead after %.2f s", dead);
	cr_assert_eq(kill(C.node[2].pid, SIGCONT), 0);
	t0 = fg__now_ns();
	alive = until_state(t0, "alive", 5);
	cr_log_info("talking again: alive after %.2f s", alive);
	cr_expect_geq(alive, 0, "not alive again");
	cr_expect_leq(alive, 2.0);
}

Test(liveness, a_busy_cluster_on_loopback_never_suspects_anyone)
{
	struct fgc_load l = {.rule = "g",
	                     .key = "busy",
	                     .per_node = 2,
	                     .offer = 5000,
	                     .ms = 12000};
	char err[256];
	int i;

	up();
	cr_assert_eq(fgc_load_start(&C, &l), 0, "%s", C.err);
	cr_assert_eq(fgc_load_wait(&l, 0, err, sizeof err), 0, "%s", err);
	fgc_load_free(&l);
	for (i = 0; i < N; i++) {
		char st[32];
		int j;

		cr_expect_eq(suspected(i), 0, "node %d suspected someone", i);
		for (j = 0; j < N; j++) {
			if (j == i)
				continue;
			state_of(i, j, st, sizeof st);
			cr_expect_str_eq(st, "alive", "n%d of n%d", i, j);
		}
	}
}
