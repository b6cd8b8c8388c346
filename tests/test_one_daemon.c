/* SPDX-License-Identifier: ISC */
/*
 * test_one_daemon.c - one floodgated a segment.  A second daemon on a
 * segment another one runs on, under another configuration (its own
 * control socket, port and node key), would harvest and gossip the same
 * table under the same node: it is refused, before it changes anything,
 * and the first runs on.  The hold (fg__seg_hold()) is a lock no other
 * process can take while its holder lives, which the owner lock of rule
 * changes never waits for, and which goes when its holder dies, however.
 */
#include "shm/segment.h"
#include "tests/cli_harness.h"

TestSuite(one_daemon, .timeout = 60, .fini = env_fini);

/* ------------------------------------------------------------ the hold */

/* A child that holds @c's segment until killed; returns once it does. */
static pid_t holder(fg_client *c)
{
	int p[2];
	pid_t pid;
	char b = 0;

	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		b = fg__seg_hold(&c->seg) >= 0;
		(void)!write(p[1], &b, 1);
		for (;;)
			pause();
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &b, 1), 1);
	close(p[0]);
	cr_assert_eq(b, 1, "the child holds the segment");
	return pid;
}

Test(one_daemon, a_held_segment_is_held_for_others_until_its_holder_dies)
{
	fg_client *c = test_create("hold", 64);
	char path[FG_SEG_PATH_MAX + 16];
	pid_t pid;
	int fd;

	cr_assert_eq(fg__seg_path(test_segment("hold"), path, sizeof path), 0);
	cr_expect_eq(fg__seg_held(path), 0, "nobody holds a new segment");
	pid = holder(c);
	cr_expect_eq(fg__seg_held(path), 1);
	errno = 0;
	cr_expect_eq(fg__seg_hold(&c->seg), -1, "a second hold is refused");
	cr_expect_eq(errno, EAGAIN);
	/* the owner lock of rule changes does not wait for it */
	test_rule(c, "while-held", 5, 1, HOUR_MS, 0);
	cr_assert_eq(kill(pid, SIGKILL), 0);
	cr_assert_eq(waitpid(pid, NULL, 0), pid);
	cr_expect_eq(fg__seg_held(path), 0, "gone with its holder");
	fd = fg__seg_hold(&c->seg);
	cr_expect_geq(fd, 0, "taken at once");
	close(fd);
	fg_close(c);
	(void)fg_unlink(test_segment("hold"));
}

Test(one_daemon, nothing_that_is_not_a_regular_file_is_held_or_opened)
{
	char dir[] = "/tmp/fg-hold-XXXXXX", path[64];

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/fifo", dir);
	cr_expect_eq(fg__seg_held(path), 0, "nothing there");
	cr_assert_eq(mkfifo(path, 0600), 0);
	cr_expect_eq(fg__seg_held(path), 0, "a FIFO: never opened (no hang)");
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(symlink("/dev/zero", path), 0);
	cr_expect_eq(fg__seg_held(path), 0, "a symbolic link: not followed");
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(rmdir(dir), 0);
}

/* ------------------------------------------------------------ daemons */

/* Node 1's configuration, on node 0's segment: only the segment shared. */
static void second_on_first_segment(void)
{
	char extra[200];

	snprintf(E.seg[1], sizeof E.seg[1], "%s", E.seg[0]);
	snprintf(extra, sizeof extra, "control %s\n", E.sock[1]);
	write_conf(1, 0, extra);
}

Test(one_daemon, a_second_daemon_on_a_running_one_s_segment_is_refused)
{
	char log[160];
	fg_client *fg;
	int r;

	env_init(2);
	write_conf(0, 0, "");
	start(0);
	second_on_first_segment();
	snprintf(log, sizeof log, "%s/second.log", E.dir);
	refused_saying(E.conf[1], log, "another floodgated runs on it");

	/* the first runs on, its segment untouched */
	cr_assert_eq(fg_open(E.seg[0], 0, &fg), 0);
	r = fg_allow(fg, "login", "alice", 1, NULL);
	cr_expect_eq(r, 1, "%s", fg_strerror(r));
	fg_close(fg);
	{
		struct run st = cli("-c", E.conf[0], "status", NULL);

		EXPECT(st, 0);
		cr_expect(strstr(st.out, "daemon:    running") != NULL, "%s",
		          st.out);
		run_free(&st);
	}
	stop(0);

	/* once it is gone, the second starts */
	start(1);
	stop(1);
}

Test(one_daemon, a_daemon_started_as_one_killed_goes_waits_and_runs)
{
	int st;

	env_init(1);
	write_conf(0, 0, "");
	start(0);
	/* its network process dies a moment after it (PR_SET_PDEATHSIG) */
	cr_assert_eq(kill(E.pid[0], SIGKILL), 0);
	cr_assert_eq(waitpid(E.pid[0], &st, 0), E.pid[0]);
	E.pid[0] = 0;
	start(0);
	stop(0);
}
