/* SPDX-License-Identifier: ISC */
/*
 * test_restart.c - a daemon killed at any instant comes back as the same
 * incarnation and its peers count what it took exactly once (node.h's
 * incarnations).  Node 0 of a simulated network (sim.h) keeps its state
 * beside its segment; a child process forked from the test runs its
 * harvest on those shared mappings and dies by SIGKILL where the test
 * says, so the restarted node finds exactly what a killed daemon leaves.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/sim.h"

static char state[128];

enum death {
	DIE_AFTER_HARVEST, /* between the harvest and the send */
	DIE_BEFORE_TAKE,   /* the harvest armed its journal, nothing taken */
	DIE_AFTER_TAKE,    /* the count taken, the baseline not moved */
};

static enum death death;

/* Node 0 (re)started with its state files, seeded with the others. */
static void start0(void)
{
	static const int seeds[] = {1, 2, -1};
	struct fgd_node_params p = {.incarnation = 7,
	                            .max_datagram = 1200,
	                            .interval_ms = IV_MS,
	                            .npeers = 2,
	                            .state_path = state};

	cr_assert_eq(fgd_node_init(&S.node[0], S.fg[0], &S.kr, S.sk[0],
	                           S.keys[0].pk, &p),
	             0);
	net_attach(0, seeds, 2);
}

static void setup(void)
{
	int r;

	snprintf(state, sizeof state, "/dev/shm/fgtest-restart-%d",
	         (int)getpid());
	test_unlink_state_at(state);
	sim_up(3);
	net_mesh(2);
	fgd_node_fini(&S.node[0]);
	start0();
	for (r = 0; r < 3; r++)
		round_all();
}

static void teardown(void)
{
	sim_down();
	test_unlink_state_at(state);
}

TestSuite(restart, .init = setup, .fini = teardown, .timeout = 60);

static void consume(const char *key, uint32_t n)
{
	cr_assert_eq(fg_allow(S.fg[0], "g", key, n, NULL), 1);
}

static int dying_take(void *arg, unsigned rule, const uint8_t *key, size_t len,
                      uint64_t delta, uint64_t now_ms)
{
	if (death == DIE_BEFORE_TAKE)
		raise(SIGKILL);
	cr_assert_eq(fgd_counts_take(arg, rule, key, len, delta, now_ms), 0);
	raise(SIGKILL);
	return 0;
}

/* Node 0's daemon runs its next harvest in a child that dies by SIGKILL
 * at @how; node 0 is then started again from what the child left. */
static void kill_in_harvest(enum death how)
{
	struct fgd_node *n = &S.node[0];
	pid_t pid;
	int st;

	death = how;
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (how == DIE_AFTER_HARVEST)
			fgd_node_harvest(n, S.now + 1);
		else
			fgd_harvest_pass(&n->harvest, S.now + 1, dying_take,
			                 &n->counts);
		raise(SIGKILL); /* after the harvest (else the taker did) */
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
	          "the child died by SIGKILL (status %#x)", (unsigned)st);
	fgd_node_fini(n);
	start0();
}

/* Every node agrees on @want tokens left of @key after a few rounds. */
static void expect_agreed(const char *key, int64_t want)
{
	int r, i;

	for (r = 0; r < 12; r++)
		round_all();
	for (i = 0; i < S.n; i++)
		cr_expect_eq(left(i, key), want, "node %d: %lld left, not %lld",
		             i, (long long)left(i, key), (long long)want);
}

Test(restart, a_daemon_killed_between_its_harvest_and_its_send_sends_it_back)
{
	uint64_t inc = S.node[0].x.incarnation;

	consume("x", 5);
	expect_agreed("x", CAP - 5);
	consume("x", 20);
	kill_in_harvest(DIE_AFTER_HARVEST);
	cr_expect_eq(S.node[0].x.incarnation, inc, "the same incarnation");
	consume("x", 30);
	expect_agreed("x", CAP - 55);
}

/* 7 consumed after 5 were sent, the daemon killed at @how in the take of
 * the 7: every node counts 12, and the next takes as ever. */
static void killed_in_a_take_counts_it_once(enum death how)
{
	consume("x", 5);
	expect_agreed("x", CAP - 5);
	consume("x", 7);
	kill_in_harvest(how);
	expect_agreed("x", CAP - 12);
	consume("y", 3);
	expect_agreed("y", CAP - 3);
}

Test(restart, a_daemon_killed_before_a_take_takes_it_once_when_back)
{
	killed_in_a_take_counts_it_once(DIE_BEFORE_TAKE);
}

Test(restart, a_daemon_killed_after_a_take_before_its_baseline_takes_it_once)
{
	killed_in_a_take_counts_it_once(DIE_AFTER_TAKE);
}

/* The datagrams of a past life keep their seqs below every new one. */
Test(restart, a_restarted_daemons_old_datagrams_stay_replays)
{
	struct pkt old;
	size_t i;

	consume("x", 5);
	S.now += IV_MS;
	fgd_node_harvest(&S.node[0], S.now);
	(void)fgd_node_tick(&S.node[0], S.now);
	for (i = 0; i < S.nq && !(S.q[i].to == 1 && S.q[i].buf[4] == 1); i++)
		;
	cr_assert_lt(i, S.nq, "node 0 sent its count to node 1");
	old = S.q[i];
	(void)deliver_all();
	fgd_node_fini(&S.node[0]);
	start0();
	consume("x", 2);
	expect_agreed("x", CAP - 7);
	cr_expect_eq(fgd_node_receive_from(&S.node[1], old.buf, old.len,
	                                   &S.addr[0], S.now),
	             FGW_REPLAY);
	expect_agreed("x", CAP - 7);
}

/* Without its ledger a restart cannot continue its counts: a new
 * incarnation, whose counts peers take afresh, nothing twice. */
Test(restart, a_restart_without_its_ledger_is_a_new_incarnation)
{
	uint64_t inc = S.node[0].x.incarnation;
	char path[160];

	consume("x", 5);
	expect_agreed("x", CAP - 5);
	fgd_node_fini(&S.node[0]);
	snprintf(path, sizeof path, "%s-local", state);
	cr_assert_eq(unlink(path), 0);
	start0();
	cr_expect_gt(S.node[0].x.incarnation, inc);
	consume("x", 2);
	expect_agreed("x", CAP - 7);
}
