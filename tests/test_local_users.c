/* SPDX-License-Identifier: ISC */
/*
 * test_local_users.c - what other users of the host can do to a running
 * floodgated and its workers through the segment, and what they see.
 *
 * A real floodgated (the built binary, $FLOODGATED) on a segment of its
 * own ("fg-segment-lu-..."), its port from 31000-31999; workers and
 * attackers are forked children that drop to uid nobody, in the
 * segment's group (nogroup, gid 65534) when they play workers.  They
 * never call cr_assert: they report through a shared page and their exit
 * status, and die with the test (procs.h).  Nothing waits for a time:
 * every wait is for a condition, with a deadline that only turns a hang
 * into a failure.
 *
 * These tests need root (to be two users); CI runs as root.
 */
#include "tests/helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>

#include "daemon/control.h"
#include "lib/client.h"
#include "shm/sysv.h"
#include "tests/cluster.h"
#include "tests/ports.h"
#include "tests/procs.h"

#define NOBODY   65534 /* uid nobody: the workers */
#define NOGROUP  65534 /* gid nogroup: the workers' group */
#define OUTSIDER 1234  /* a gid no segment has */
#define MALLORY  4242  /* another local user, uid and gid */

static void teardown(void);

TestSuite(local_users, .timeout = 120, .fini = teardown);

static struct {
	char dir[64];
	char seg[64];
	char path[96];
	char sock[112];
	char conf[96];
	char log[96];
	pid_t pid;
} L;

/* --------------------------------------------------------------- daemon */

/* The text of @path, or "" when it cannot be read. */
static char *slurp_or_empty(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t n = 0, cap = 4096;
	char *buf = malloc(cap);

	cr_assert_not_null(buf);
	while (f != NULL) {
		size_t got = fread(buf + n, 1, cap - n - 1, f);

		n += got;
		if (got == 0)
			break;
		if (n + 1 == cap) {
			buf = realloc(buf, cap *= 2);
			cr_assert_not_null(buf);
		}
	}
	if (f != NULL)
		fclose(f);
	buf[n] = '\0';
	return buf;
}

static void need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to act as another user");
}

/* A directory, keys and names for a daemon on segment @tag. */
static void prepare(const char *tag)
{
	need_root();
	memset(&L, 0, sizeof L);
	snprintf(L.dir, sizeof L.dir, "/tmp/fg-segment-XXXXXX");
	cr_assert_not_null(mkdtemp(L.dir));
	snprintf(L.seg, sizeof L.seg, "fg-segment-lu-%s-%d", tag,
	         (int)getpid());
	snprintf(L.path, sizeof L.path, "/dev/shm/%s", L.seg);
	snprintf(L.sock, sizeof L.sock, "/dev/shm/%s.sock", L.seg);
	snprintf(L.conf, sizeof L.conf, "%s/n0.conf", L.dir);
	snprintf(L.log, sizeof L.log, "%s/n0.log", L.dir);
	(void)fg_unlink(L.seg);
	make_node_keys(L.dir, 1);
}

/* Its config: two rules, gossip on (so it harvests), @extra appended. */
static void configure(const char *extra)
{
	char text[1024];
	int port = fgt_ports(1);

	snprintf(text, sizeof text,
	         "segment %s\ncapacity 4096\nnode-key %s/n0.key\n"
	         "keyring %s/keyring\nlisten 127.0.0.1:%d\ninterval 50ms\n"
	         "rule wide capacity 1000000 rate 1000000/1s\n"
	         "rule slow capacity 10 rate 1/1h\n%s",
	         L.seg, L.dir, L.dir, port, extra);
	write_file(L.conf, text);
}

static void setup(const char *tag, const char *extra)
{
	prepare(tag);
	configure(extra);
}

/* The daemon as it was started: running (0), or its wait status. */
static int daemon_gone(void)
{
	int st;

	if (waitpid(L.pid, &st, WNOHANG) == L.pid) {
		L.pid = 0;
		return st == 0 ? -1 : st;
	}
	return 0;
}

/* Start the daemon: 0 once its control socket answers, or its wait
 * status if it exits first. */
static int start_or_status(void)
{
	uint64_t t0 = fg__now_ns();

	L.pid = cluster_spawn(L.dir, 0);
	for (;;) {
		char *reply = NULL;
		int st;

		if (fgd_ctl_request(L.sock, "status", &reply) == 0) {
			free(reply);
			return 0;
		}
		st = daemon_gone();
		if (st != 0)
			return st;
		cr_assert_lt(fg__now_ns() - t0, 20 * SEC,
		             "floodgated neither came up nor exited (see %s)",
		             L.log);
		usleep(10000);
	}
}

static void start(void)
{
	int st = start_or_status();
	char *text = st ? slurp_or_empty(L.log) : NULL;

	cr_assert_eq(st, 0, "floodgated exited with status %#x; its log:\n%s",
	             st, text ? text : "");
}

/* SIGTERM: it must exit 0 (a sanitizer's report would make it not). */
static void stop(void)
{
	int st;

	cr_assert_gt(L.pid, 0);
	cr_assert_eq(kill(L.pid, SIGTERM), 0);
	cr_assert_eq(waitpid(L.pid, &st, 0), L.pid);
	L.pid = 0;
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	          "floodgated: status %#x (see %s)", st, L.log);
}

static int log_has(const char *needle)
{
	char *text = slurp_or_empty(L.log);
	int found = strstr(text, needle) != NULL;

	free(text);
	return found;
}

/* Wait until the daemon's log says @needle (the daemon still running). */
static void await_log(const char *needle)
{
	uint64_t t0 = fg__now_ns();

	while (!log_has(needle)) {
		int st = daemon_gone();

		cr_assert_eq(st, 0, "floodgated died (%#x) before saying %s",
		             st, needle);
		cr_assert_lt(fg__now_ns() - t0, 30 * SEC,
		             "floodgated never said \"%s\" (see %s)", needle,
		             L.log);
		usleep(20000);
	}
}

static void teardown(void)
{
	char path[160];

	if (L.dir[0] == '\0')
		return;
	if (L.pid > 0) {
		kill(L.pid, SIGKILL);
		waitpid(L.pid, NULL, 0);
	}
	if (fg_unlink(L.seg) != 0)
		unlink(L.path); /* not a segment any more: garbage */
	unlink(L.sock);
	test_unlink_state(L.seg);
	snprintf(path, sizeof path, "rm -rf '%s'", L.dir);
	(void)system(path);
	L.dir[0] = '\0';
}

/* ---------------------------------------------------------------- users */

/* In a child: become uid @uid, in group @gid only, still dying with
 * the test (a change of user clears PR_SET_PDEATHSIG).  0, or -1. */
static int become(uid_t uid, gid_t gid)
{
	pid_t parent = getppid();

	if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
		return -1;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		return -1;
	return geteuid() == uid && getegid() == gid ? 0 : -1;
}

/* What a process of uid nobody in group @gid gets from fg_open() and
 * fg_diagnose() on the segment, and a check of "slow" when attached. */
struct probe {
	int open_r;
	int allow_r;
	char why[1024];
};

static void probe_as_nobody(gid_t gid, struct probe *out)
{
	struct probe *p = shared_alloc(sizeof *p);
	int st;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		fg_client *c = NULL;

		if (become(NOBODY, gid) != 0)
			_exit(WX_START);
		p->open_r = fg_open(L.seg, 0, &c);
		if (p->open_r == 0)
			p->allow_r = fg_allow(c, "slow", "probe", 1, NULL);
		fg_close(c);
		(void)fg_diagnose(L.seg, p->why, sizeof p->why);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "probe: %#x", st);
	*out = *p;
	munmap(p, sizeof *p);
	cr_log_info("as uid nobody, gid %u: fg_open %d (%s): %s", (unsigned)gid,
	            out->open_r, fg_strerror(out->open_r), out->why);
}

/* A hash of the bytes of @path: whether anyone changed them. */
static uint64_t file_digest(const char *path)
{
	static const uint64_t seed[2] = {1, 2};
	char *text;
	uint64_t h;
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW);

	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(fstat(fd, &st), 0);
	text = malloc((size_t)st.st_size + 1);
	cr_assert_not_null(text);
	cr_assert_eq(pread(fd, text, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	h = fg__hash64(seed, (uint64_t)st.st_size, text, (size_t)st.st_size);
	free(text);
	return h;
}

/* ---------------------------------------------------------- squatting */

static int squat_fn(void *job, unsigned i)
{
	fg_segment_opts o = {.capacity = 4096, .mode = 0660};
	fg_rule rule = {
	    .name = "wide", .capacity = 1, .rate = 1, .period_ms = 3600000};
	fg_client *c = NULL;

	(void)job;
	(void)i;
	if (become(MALLORY, MALLORY) != 0)
		return WX_START;
	if (fg_create(L.seg, &o, 0, &c) != 0)
		return WX_OPEN;
	/* the rule the squatter would have the host's workers obey */
	if (fg_rule_set(c, &rule) != 0)
		return WX_ERROR;
	fg_close(c);
	return 0;
}

/* A child holding an OFD write lock on @path (as a daemon holds its
 * segment) until killed. */
static pid_t lock_holder(const char *path)
{
	struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	int p[2];
	char ok = 0;
	pid_t pid;

	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(path, O_RDWR | O_NOFOLLOW);

		ok = fd >= 0 && fcntl(fd, F_OFD_SETLK, &l) == 0;
		(void)!write(p[1], &ok, 1);
		for (;;)
			pause();
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &ok, 1), 1);
	close(p[0]);
	cr_assert_eq(ok, 1, "the lock on %s taken", path);
	return pid;
}

/* Finding 1 of issue 12: any local user could create the segment's name
 * in /dev/shm before floodgated started, and the daemon adopted it.  Its
 * maker holding a lock on it, as a running daemon holds its segment,
 * changes nothing: the refusal still says who made it. */
Test(local_users, floodgated_refuses_a_segment_another_user_made_first)
{
	struct stat before, after;
	uint64_t digest;
	pid_t holder;
	int st;

	setup("squat", "mode 0660\ngroup nogroup\n");
	(void)spawn(squat_fn, NULL, 0);
	cr_assert_eq(wait(&st) > 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0,
	             "the squatter could not make its segment (%#x)", st);
	cr_assert_eq(stat(L.path, &before), 0);
	cr_assert_eq(before.st_uid, MALLORY);
	digest = file_digest(L.path);

	holder = lock_holder(L.path);
	st = start_or_status();
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	cr_assert(
	    WIFEXITED(st) && WEXITSTATUS(st) == 1,
	    "floodgated started on a segment another user made (status %#x)",
	    st);
	cr_assert(log_has("was made by uid 4242"), "log: see %s", L.log);
	cr_assert(!log_has("another floodgated"), "log: see %s", L.log);
	cr_assert(log_has("/run/floodgate"), "no fix said: see %s", L.log);
	/* refused, never adopted: not a byte changed */
	cr_assert_eq(stat(L.path, &after), 0);
	cr_assert_eq(after.st_ino, before.st_ino);
	cr_assert_eq(after.st_uid, MALLORY);
	cr_assert_eq(after.st_mode, before.st_mode);
	cr_assert_eq(file_digest(L.path), digest,
	             "the squatter's file changed");
	/* and no worker (nor root) uses it */
	{
		struct probe p;
		fg_client *c = NULL;

		cr_assert_eq(fg_open(L.seg, 0, &c), FG_EACCES);
		cr_assert_null(c);
		probe_as_nobody(OUTSIDER, &p);
		cr_assert_eq(p.open_r, FG_EACCES);
	}
	cr_assert_eq(fg_unlink(L.seg), 0, "root removes it");
	start();
	stop();
}

/* ---------------------------------------------------------- truncation */

#define NW 3 /* workers */

/* What the workers and the attacker of the truncation test saw. */
struct trunc_job {
	uint64_t checks[NW]; /* each worker's checks so far */
	uint64_t stop;       /* set: workers leave */
	int bad[NW];         /* a worker's unexpected fg_allow() result */
	/* the attacker's tries: 0 where it worked, else the errno */
	int truncate_err, open_err, rmid_err, set_err;
};

static int check_fn(void *job, unsigned i)
{
	struct trunc_job *j = job;
	fg_client *c = NULL;
	char key[16];

	if (become(NOBODY, NOGROUP) != 0)
		return WX_START;
	if (fg_open(L.seg, 0, &c) != 0)
		return WX_OPEN;
	snprintf(key, sizeof key, "w%u", i);
	while (!load64(&j->stop)) {
		int r = fg_allow(c, "wide", key, 1, NULL);

		/* an unimpeded worker outruns the rule's 1M/s after its 1M
		 * burst (40 ms): a denial is an answer, not a failure */
		if (r < 0) {
			j->bad[i] = r;
			return WX_ERROR;
		}
		store64(&j->checks[i], j->checks[i] + 1);
	}
	fg_close(c);
	return 0;
}

/* A worker turned attacker: everything its access allows to shrink or
 * remove the segment under the others. */
static int attack_fn(void *job, unsigned i)
{
	struct trunc_job *j = job;
	fg_client *c = NULL;
	int fd;

	(void)i;
	if (become(NOBODY, NOGROUP) != 0 || fg_open(L.seg, 0, &c) != 0)
		return WX_START;
	j->truncate_err = truncate(L.path, 65536) == 0 ? 0 : errno;
	fd = open(L.path, O_RDWR);
	j->open_err = fd >= 0 ? 0 : errno;
	if (fd >= 0) {
		if (ftruncate(fd, 65536) != 0)
			j->open_err = errno;
		close(fd);
	}
	j->rmid_err = shmctl(c->seg.shmid, IPC_RMID, NULL) == 0 ? 0 : errno;
	{
		struct shmid_ds ds;

		j->set_err = shmctl(c->seg.shmid, IPC_STAT, &ds) == 0 &&
		                     (ds.shm_perm.mode = 0666,
		                      shmctl(c->seg.shmid, IPC_SET, &ds) == 0)
		                 ? 0
		                 : errno;
	}
	fg_close(c);
	return 0;
}

/* Wait until every worker made @more checks past @from; fail at once if
 * a worker or the daemon dies meanwhile. */
static void await_checks(struct trunc_job *j, const pid_t *pids,
                         const uint64_t *from, uint64_t more)
{
	uint64_t t0 = fg__now_ns();
	unsigned i, behind;

	do {
		for (i = 0, behind = 0; i < NW; i++) {
			int st;

			cr_assert_eq(waitpid(pids[i], &st, WNOHANG), 0,
			             "worker %u died (status %#x, fg_allow %d)",
			             i, st, j->bad[i]);
			behind += load64(&j->checks[i]) < from[i] + more;
		}
		cr_assert_eq(daemon_gone(), 0, "floodgated died (see %s)",
		             L.log);
		cr_assert_lt(fg__now_ns() - t0, WORKER_DEADLINE_NS,
		             "workers stopped checking");
		usleep(1000);
	} while (behind > 0);
}

/* Finding 3 of issue 12: truncate -s 65536 on the segment killed
 * floodgated and every attached worker with SIGBUS; every worker has the
 * access that needs. */
Test(local_users, no_worker_can_kill_the_daemon_or_the_others_by_resizing)
{
	struct trunc_job *j = shared_alloc(sizeof *j);
	uint64_t zero[NW] = {0}, mark[NW];
	pid_t pids[NW], atk;
	unsigned i;
	int st;

	setup("trunc", "mode 0660\ngroup nogroup\n");
	start();
	for (i = 0; i < NW; i++)
		pids[i] = spawn(check_fn, j, i);
	await_checks(j, pids, zero, 1000);

	atk = spawn(attack_fn, j, 0);
	cr_assert_eq(waitpid(atk, &st, 0), atk);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "attacker: %#x", st);
	cr_log_info("the attacker (a worker) saw: truncate %s; open for "
	            "writing %s; remove the memory %s; make it "
	            "world-writable %s",
	            strerror(j->truncate_err), strerror(j->open_err),
	            strerror(j->rmid_err), strerror(j->set_err));
	cr_expect_eq(j->truncate_err, EACCES, "the name file was truncated");
	cr_expect_eq(j->open_err, EACCES, "the name file opened for writing");
	cr_expect_eq(j->rmid_err, EPERM, "a worker removed the memory");
	cr_expect_eq(j->set_err, EPERM, "a worker changed its mode");

	/* every worker checks on, as many as before the attack */
	for (i = 0; i < NW; i++)
		mark[i] = load64(&j->checks[i]);
	await_checks(j, pids, mark, 1000);
	store64(&j->stop, 1);
	for (i = 0; i < NW; i++) {
		cr_assert_eq(waitpid(pids[i], &st, 0), pids[i]);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		          "worker %u: status %#x", i, st);
	}
	cr_log_info("workers: %llu, %llu and %llu checks, all alive",
	            (unsigned long long)j->checks[0],
	            (unsigned long long)j->checks[1],
	            (unsigned long long)j->checks[2]);
	/* the daemon serves on and stops cleanly; the segment kept its size */
	{
		struct probe p;

		probe_as_nobody(NOGROUP, &p);
		cr_assert_eq(p.open_r, 0, "%s", p.why);
	}
	stop();
	munmap(j, sizeof *j);
}

/* ------------------------------------------------------- mode and owner */

/* What the kernel says of the segment's memory; its id in *@shmid. */
static struct shmid_ds memory_stat(int *shmid)
{
	struct fg_sysv_name name;
	struct shmid_ds ds;
	int fd = open(L.path, O_RDONLY | O_NOFOLLOW);

	cr_assert_geq(fd, 0);
	cr_assert_eq(fg__sysv_stat(fd, &name, &ds), 0);
	close(fd);
	*shmid = name.shmid;
	return ds;
}

/* Give the segment's name file and its memory mode @mode. */
static void chmod_segment(mode_t mode)
{
	int shmid;
	struct shmid_ds ds = memory_stat(&shmid);

	ds.shm_perm.mode = (unsigned short)mode;
	cr_assert_eq(shmctl(shmid, IPC_SET, &ds), 0);
	cr_assert_eq(chmod(L.path, mode), 0);
}

static mode_t memory_mode(void)
{
	int shmid;

	return memory_stat(&shmid).shm_perm.mode & 0777;
}

/* Finding 4 of issue 12: after chmod 0666 on the segment, workers and a
 * restarted daemon attached silently; the config's mode, user and group
 * were not applied again. */
Test(local_users, a_restarted_daemon_sets_the_configured_mode_back)
{
	struct probe p;
	struct stat st;

	setup("mode", "mode 0660\ngroup nogroup\n");
	start();
	stop();
	chmod_segment(0666);

	/* while it is world-writable, no worker trusts it */
	probe_as_nobody(OUTSIDER, &p);
	cr_assert_eq(p.open_r, FG_EACCES, "a stranger attached");
	cr_assert(strstr(p.why, "mode 0666") && strstr(p.why, "others"), "%s",
	          p.why);
	probe_as_nobody(NOGROUP, &p);
	cr_assert_eq(p.open_r, FG_EACCES, "a worker attached");

	start();
	cr_assert(log_has("mode 0666 set back to 0660"), "see %s", L.log);
	cr_assert_eq(memory_mode(), 0660);
	cr_assert_eq(stat(L.path, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0640, "the name: %04o",
	             st.st_mode & 07777);
	cr_assert_eq(st.st_gid, NOGROUP);
	probe_as_nobody(NOGROUP, &p);
	cr_assert_eq(p.open_r, 0, "%s", p.why);
	cr_assert_eq(p.allow_r, 1);
	probe_as_nobody(OUTSIDER, &p);
	cr_assert_eq(p.open_r, FG_EACCES);
	cr_assert(strstr(p.why, "neither its owner nor in its group"), "%s",
	          p.why);
	stop();
}

/* ------------------------------------------------------------ scribbling */

struct scribble_job {
	uint64_t passes;
	uint64_t stop;
};

/* A worker writing random bytes over the whole segment, header included,
 * until told to stop. */
static int scribble_fn(void *job, unsigned i)
{
	struct scribble_job *j = job;
	uint64_t rng = 0x9e3779b97f4a7c15ull + i;
	fg_client *c = NULL;

	if (become(NOBODY, NOGROUP) != 0 || fg_open(L.seg, 0, &c) != 0)
		return WX_START;
	while (!load64(&j->stop)) {
		uint64_t *w = (uint64_t *)(void *)c->seg.base;
		size_t k;

		for (k = 0; k < c->seg.size / 8; k++)
			w[k] = xorshift(&rng);
		store64(&j->passes, j->passes + 1);
	}
	return 0;
}

/* The issue asks that the daemon survive anything a worker can do to the
 * mapping: writing garbage over all of it is the worst. */
Test(local_users, a_worker_scribbling_over_the_segment_leaves_the_daemon_up)
{
	struct scribble_job *j = shared_alloc(sizeof *j);
	uint64_t t0;
	pid_t pid;
	int st;

	setup("scribble", "mode 0660\ngroup nogroup\n");
	start();
	pid = spawn(scribble_fn, j, 0);
	await_count(&j->passes, 100, "passes over the segment");
	/* the daemon harvests and reaps garbage, and writes its header
	 * back (every reap, 10 s) */
	await_log("overwrote its header");
	store64(&j->stop, 1);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%#x", st);
	/* once the last pass is written over, a new worker attaches */
	t0 = fg__now_ns();
	for (;;) {
		struct probe p;

		probe_as_nobody(NOGROUP, &p);
		if (p.open_r == 0)
			break;
		cr_assert_eq(p.open_r, FG_EBADSEG, "%s", p.why);
		cr_assert_eq(daemon_gone(), 0, "floodgated died");
		cr_assert_lt(fg__now_ns() - t0, 30 * SEC,
		             "the header was never written back");
		usleep(100000);
	}
	stop();
	munmap(j, sizeof *j);
}

/* Finding 3's aftermath: the daemon then refused to start (EBADSEG)
 * until the segment was deleted, losing every bucket. */
Test(local_users, a_daemon_finding_its_header_corrupt_rebuilds_from_snapshot)
{
	char extra[160];
	fg_decision d;
	fg_client *c = NULL;
	int i;

	prepare("rebuild");
	snprintf(extra, sizeof extra, "snapshot %s/snap\n", L.dir);
	configure(extra);
	start();
	cr_assert_eq(fg_open(L.seg, 0, &c), 0);
	for (i = 0; i < 4; i++)
		cr_assert_eq(fg_allow(c, "slow", "k", 1, NULL), 1);
	/* a worker wrote over the header's checksum */
	memset(c->seg.base + offsetof(struct fg_seg_hdr, checksum), 0x55, 8);
	fg_close(c);
	stop(); /* writes the snapshot */
	cr_assert_eq(fg_open(L.seg, 0, &c), FG_EBADSEG);

	start();
	cr_assert(log_has("rebuilt"), "see %s", L.log);
	cr_assert_eq(fg_open(L.seg, 0, &c), 0);
	cr_assert_eq(fg_allow(c, "slow", "k", 1, &d), 1);
	cr_assert_eq(d.remaining, 5, "the 4 taken before came back");
	fg_close(c);
	stop();
}

/* ------------------------------------------------------------ removing */

/* floodgate remove, the program at @cli run as @uid (group @gid): its
 * exit status (127: it could not be run). */
static int cli_remove_as(const char *cli, uid_t uid, gid_t gid)
{
	pid_t pid = fork();
	int st;

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0 ||
		    (uid != 0 && become(uid, gid) != 0))
			_exit(120);
		execl(cli, "floodgate", "-s", L.seg, "remove", (char *)NULL);
		_exit(127);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st), "floodgate remove: %#x", st);
	return WEXITSTATUS(st);
}

Test(local_users, floodgate_remove_takes_the_name_and_the_memory_away)
{
	char dir[64], cli[96];
	struct shmid_ds ds;
	fg_client *c = NULL;
	int shmid;

	setup("remove", "mode 0660\ngroup nogroup\n");
	start();
	stop();
	cr_assert_eq(fg_open(L.seg, 0, &c), 0);
	shmid = c->seg.shmid;
	fg_close(c);
	cli_copy_for_others(dir, sizeof dir, cli, sizeof cli);
	cr_assert_eq(cli_remove_as(cli, NOBODY, NOGROUP), 7,
	             "a worker removed it");
	cr_assert_eq(cli_remove_as(cli, 0, 0), 0);
	cr_assert_eq(fg_open(L.seg, 0, &c), FG_ENOSEG);
	cr_assert_neq(shmctl(shmid, IPC_STAT, &ds), 0, "memory left behind");
	cr_assert_eq(cli_remove_as(cli, 0, 0), 4, "no segment: exit 4");
	cr_assert_eq(unlink(cli), 0);
	cr_assert_eq(rmdir(dir), 0);
}
