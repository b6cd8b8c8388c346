/*
 * test_snapshot.c - buckets and gossip marks survive the segment.
 *
 * The rule: snapshot, destroy the segment, restore into a new one, and
 * every key gets the same decisions as before; a remote count already
 * debited is not debited again; a file that is not an intact snapshot is
 * refused whole; time that cannot be measured counts as none.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "gossip/node.h"
#include "daemon/snapshot.h"
#include "lib/client.h"
#include "shm/clock.h"
#include "tests/cluster.h"
#include "tests/helpers.h"

#define KEYS 50

static struct host {
	struct fgw_peer_key key;
	struct fgw_keyring kr;
	uint8_t sk[FGW_SK_SIZE];
	struct fgd_node n;
	fg_client *c;
	int up;
} H;
static char seg[64], dir[64], snap[128];

static void host_up(void)
{
	fg_segment_opts o = {.capacity = 1024};
	struct fgd_node_params np = {
	    .incarnation = 1, .max_datagram = 1200, .interval_ms = 100};

	fg_unlink(seg);
	cr_assert_eq(fg_create(seg, &o, 0, &H.c), 0);
	test_rule(H.c, "api", 10, 1, HOUR_MS, FG_RULE_GLOBAL);
	test_rule(H.c, "login", 3, 1, HOUR_MS, 0);
	cr_assert_eq(fgd_node_init(&H.n, H.c, &H.kr, H.sk, H.key.pk, &np), 0);
	H.up = 1;
}

static void host_down(void)
{
	if (!H.up)
		return;
	fgd_node_fini(&H.n);
	fg_close(H.c);
	fg_unlink(seg);
	H.up = 0;
}

static void setup(void)
{
	memset(&H, 0, sizeof H);
	cr_assert_geq(sodium_init(), 0);
	snprintf(H.key.name, sizeof H.key.name, "self");
	crypto_sign_keypair(H.key.pk, H.sk);
	H.kr.n = 1;
	H.kr.keys = &H.key;
	snprintf(seg, sizeof seg, "fgtest-snap-%d", (int)getpid());
	snprintf(dir, sizeof dir, "/tmp/fgtest-snap-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(snap, sizeof snap, "%s/floodgate.snap", dir);
	host_up();
}

static void teardown(void)
{
	char cmd[160];

	host_down();
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* Spend a key-dependent number of tokens from every key. */
static void consume(void)
{
	char key[32];
	unsigned i, j;

	for (i = 0; i < KEYS; i++) {
		snprintf(key, sizeof key, "user-%u", i);
		for (j = 0; j < i % 12; j++)
			cr_assert_geq(fg_allow(H.c, "api", key, 1, NULL), 0);
		for (j = 0; j < i % 4; j++)
			cr_assert_geq(fg_allow(H.c, "login", key, 1, NULL), 0);
	}
}

/* Tokens left in every bucket, in order. */
static void levels(int64_t out[2 * KEYS])
{
	char key[32];
	unsigned i;

	for (i = 0; i < KEYS; i++) {
		snprintf(key, sizeof key, "user-%u", i);
		cr_assert_eq(fg__peek(H.c, "api", key, strlen(key), &out[i]),
		             0);
		cr_assert_eq(
		    fg__peek(H.c, "login", key, strlen(key), &out[KEYS + i]),
		    0);
	}
}

static void write_ok(struct fgd_snap_counts *n)
{
	char err[512];

	cr_assert_eq(fgd_snapshot_write(snap, &H.n, n, err, sizeof err), 0,
	             "%s", err);
}

TestSuite(snapshot, .init = setup, .fini = teardown);

Test(snapshot, a_restored_segment_makes_the_same_decisions)
{
	int64_t before[2 * KEYS], after[2 * KEYS];
	struct fgd_snap_counts w, r;
	char err[512], key[32];
	unsigned i;

	consume();
	levels(before);
	write_ok(&w);
	cr_expect_gt(w.buckets, 0);
	host_down(); /* the segment is gone, as after a reboot */
	host_up();
	cr_assert_eq(fgd_snapshot_restore(snap, &H.n, 1, &r, err, sizeof err),
	             0, "%s", err);
	cr_expect_eq(r.buckets, w.buckets);
	levels(after);
	for (i = 0; i < 2 * KEYS; i++)
		cr_expect_eq(after[i], before[i],
		             "bucket %u: %lld left, not %lld", i,
		             (long long)after[i], (long long)before[i]);
	/* and the next checks decide alike: user-9 spent 9 of its 10 */
	snprintf(key, sizeof key, "user-%u", 9);
	cr_expect_eq(fg_allow(H.c, "api", key, 1, NULL), 1);
	cr_expect_eq(fg_allow(H.c, "api", key, 1, NULL), 0);
}

/* Reservations (fg_reserve()) take a bucket past its burst, up to the
 * rule's max-delay into debt: a snapshot carries that debt like any. */
Test(snapshot, a_reservation_s_debt_past_the_burst_comes_back)
{
	fg_rule slow = {.name = "slow",
	                .capacity = 2,
	                .rate = 1,
	                .period_ms = HOUR_MS,
	                .max_delay_ms = 5 * HOUR_MS};
	struct fgd_snap_counts w, r;
	uint64_t delay;
	int64_t left;
	char err[512];
	int i;

	cr_assert_eq(fg_rule_set(H.c, &slow), 0);
	for (i = 0; i < 7; i++)
		cr_assert_eq(fg_reserve(H.c, "slow", "k", 1, &delay, NULL), 1);
	cr_assert_eq(fg_reserve(H.c, "slow", "k", 1, &delay, NULL), 0);
	cr_assert_eq(fg__peek(H.c, "slow", "k", 1, &left), 0);
	cr_assert_eq(left, -5, "5 tokens of debt past the burst");
	write_ok(&w);
	host_down();
	host_up();
	cr_assert_eq(fg_rule_set(H.c, &slow), 0);
	cr_assert_eq(fgd_snapshot_restore(snap, &H.n, 1, &r, err, sizeof err),
	             0, "%s", err);
	cr_assert_eq(fg__peek(H.c, "slow", "k", 1, &left), 0);
	cr_expect_eq(left, -5);
	cr_expect_eq(fg_reserve(H.c, "slow", "k", 1, &delay, NULL), 0,
	             "still 5 hours of waits ahead: no room");
}

Test(snapshot, full_buckets_are_not_written)
{
	struct fgd_snap_counts w;

	cr_assert_eq(fg_allow(H.c, "api", "spent", 1, NULL), 1);
	cr_assert_eq(fg_allow(H.c, "api", "spent", 1, NULL), 1);
	write_ok(&w);
	cr_expect_eq(w.buckets, 1);
	cr_expect_eq(w.remote, 0);
}

Test(snapshot, remote_marks_come_back_so_nothing_is_debited_twice)
{
	struct fgd_snap_counts w, r;
	struct fgd_remote *e;
	uint64_t id[2];
	char err[512];

	fgd_node_mark_id(&H.n, 77, "api", 3, "k", 1, id);
	e = fgd_ledger_add(&H.n.counts.remote, id);
	cr_assert_not_null(e);
	e->origin = 77;
	e->incarnation = 5;
	e->count = 1234;
	e->floor = 1000;
	e->consumed = 234;
	write_ok(&w);
	cr_expect_eq(w.remote, 1);
	host_down();
	host_up();
	cr_assert_eq(fgd_snapshot_restore(snap, &H.n, 1, &r, err, sizeof err),
	             0, "%s", err);
	cr_expect_eq(r.remote, 1);
	e = fgd_node_mark(&H.n, 77, "api", 3, "k", 1);
	cr_assert_not_null(e, "found by name: the id key is the node's");
	cr_expect_eq(e->incarnation, 5);
	cr_expect_eq(e->count, 1234);
	cr_expect_eq(e->floor, 1000);
	cr_expect_eq(e->consumed, 234);
}

/* A snapshot of format version 1 (marks by name), written by hand. */
static void write_v1(uint64_t origin, const char *rule, const char *key,
                     uint64_t inc, uint64_t count)
{
	struct fgd_snap_remote rec;
	struct fgd_snap_hdr h;
	int fd;

	memset(&h, 0, sizeof h);
	memset(&rec, 0, sizeof rec);
	memcpy(h.magic, FGD_SNAP_MAGIC, sizeof h.magic);
	h.version = 1;
	h.rec_size = FGD_SNAP_REC_SIZE;
	h.nremote = 1;
	snprintf(rec.rule, sizeof rec.rule, "%s", rule);
	rec.key_len = (uint32_t)strlen(key);
	memcpy(rec.key, key, rec.key_len);
	rec.origin = origin;
	rec.incarnation = inc;
	rec.count = count;
	fgd_snapshot_sum(&h, &rec, sizeof rec, h.sum);
	fd = open(snap, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, &h, sizeof h), (ssize_t)sizeof h);
	cr_assert_eq(write(fd, &rec, sizeof rec), (ssize_t)sizeof rec);
	close(fd);
}

Test(snapshot, a_version_1_snapshot_still_restores_its_marks_by_name)
{
	struct fgd_snap_counts r;
	struct fgd_remote *e;
	char err[512];

	write_v1(77, "api", "k", 5, 1234);
	cr_assert_eq(fgd_snapshot_restore(snap, &H.n, 1, &r, err, sizeof err),
	             0, "%s", err);
	cr_expect_eq(r.remote, 1);
	e = fgd_node_mark(&H.n, 77, "api", 3, "k", 1);
	cr_assert_not_null(e);
	cr_expect_eq(e->incarnation, 5);
	cr_expect_eq(e->count, 1234);
}

Test(snapshot, restoring_never_lowers_what_is_there)
{
	struct fgd_snap_counts w, r;
	char err[512];
	int64_t left;

	cr_assert_eq(fg_allow(H.c, "api", "k", 1, NULL), 1); /* 9 left */
	write_ok(&w);
	cr_assert_eq(fg_allow(H.c, "api", "k", 5, NULL), 1); /* 4 left */
	cr_assert_eq(fgd_snapshot_restore(snap, &H.n, 1, &r, err, sizeof err),
	             0);
	cr_assert_eq(fg__peek(H.c, "api", "k", 1, &left), 0);
	cr_expect_eq(left, 4);
}

Test(snapshot, buckets_of_rules_that_are_gone_are_skipped)
{
	struct fgd_snap_counts w, r;
	char err[512];

	consume();
	write_ok(&w);
	cr_assert_eq(fg_rule_remove(H.c, "login"), 0);
	cr_assert_eq(fgd_snapshot_restore(snap, &H.n, 1, &r, err, sizeof err),
	             0);
	cr_expect_gt(r.skipped, 0);
	cr_expect_eq(r.buckets + r.skipped, w.buckets);
}

Test(snapshot, no_snapshot_is_not_an_error)
{
	struct fgd_snap_counts r;
	char err[512];

	cr_expect_eq(fgd_snapshot_restore(snap, &H.n, 1, &r, err, sizeof err),
	             1);
}

/* Rewrite the snapshot's header with @edit, checksum made right again
 * when @fix, and expect the restore to fail (or pass) accordingly. */
/* Edit the header of the snapshot on disk, making its checksum right
 * again when @fix. */
static void rewrite_header(void (*edit)(struct fgd_snap_hdr *), int fix)
{
	struct fgd_snap_hdr h;
	uint8_t body[64 * FGD_SNAP_REC_SIZE];
	ssize_t n;
	int fd;

	fd = open(snap, O_RDWR);
	cr_assert_geq(fd, 0);
	cr_assert_eq(read(fd, &h, sizeof h), (ssize_t)sizeof h);
	n = read(fd, body, sizeof body);
	cr_assert_geq(n, 0);
	edit(&h);
	if (fix)
		fgd_snapshot_sum(&h, body, (size_t)n, h.sum);
	cr_assert_eq(pwrite(fd, &h, sizeof h, 0), (ssize_t)sizeof h);
	close(fd);
}

/* Snapshot consume()'s buckets, edit the header with @edit, and expect
 * the restore to fail (or pass) accordingly. */
static void with_header(void (*edit)(struct fgd_snap_hdr *), int fix,
                        int expect, const char *why)
{
	struct fgd_snap_counts w, r;
	char err[512] = "";

	consume();
	write_ok(&w);
	rewrite_header(edit, fix);
	cr_expect_eq(fgd_snapshot_restore(snap, &H.n, 1, &r, err, sizeof err),
	             expect, "%s: %s", why, err);
	if (expect < 0) {
		cr_expect_eq(r.buckets + r.remote, 0, "nothing restored");
		cr_expect_neq(err[0], '\0', "a message says why");
	}
}

static void bad_magic(struct fgd_snap_hdr *h)
{
	h->magic[0] = 'X';
}
static void bad_version(struct fgd_snap_hdr *h)
{
	h->version = FGD_SNAP_VERSION + 1;
}
static void bad_count(struct fgd_snap_hdr *h)
{
	h->nbuckets += 1000000000;
}
static void tampered(struct fgd_snap_hdr *h)
{
	h->realtime_ns ^= 1;
}

Test(snapshot, a_file_that_is_not_an_intact_snapshot_is_refused_whole)
{
	with_header(bad_magic, 1, -1, "magic");
}

Test(snapshot, another_format_version_is_refused)
{
	with_header(bad_version, 1, -1, "version");
}

Test(snapshot, counts_the_file_cannot_hold_are_refused_before_allocating)
{
	with_header(bad_count, 1, -1, "count");
}

Test(snapshot, a_changed_byte_fails_the_checksum)
{
	with_header(tampered, 0, -1, "checksum");
}

Test(snapshot, a_truncated_snapshot_is_refused)
{
	struct fgd_snap_counts w, r;
	char err[512];

	consume();
	write_ok(&w);
	cr_assert_eq(truncate(snap, sizeof(struct fgd_snap_hdr) + 100), 0);
	cr_expect_eq(fgd_snapshot_restore(snap, &H.n, 1, &r, err, sizeof err),
	             -1);
	cr_expect_eq(r.buckets, 0);
}

/* After a reboot (another boot id) the wall clock measures the gap. */
static void other_boot_an_hour_ago(struct fgd_snap_hdr *h)
{
	memset(h->boot_id, 0, sizeof h->boot_id);
	memcpy(h->boot_id, "another-boot", 12);
	h->realtime_ns -= 3600ull * 1000000000u; /* a token refilled */
}
static void other_boot_in_the_future(struct fgd_snap_hdr *h)
{
	memset(h->boot_id, 0, sizeof h->boot_id);
	memcpy(h->boot_id, "another-boot", 12);
	h->realtime_ns += 3600ull * 1000000000u;
}

/*
 * A snapshot that floodgate 0.1 wrote over a segment of layout version 2
 * (tests/fixtures/snapshot-layout2.snap: consume()'s buckets, written by
 * that release's fgd_snapshot_write), dated now: it names buckets by rule
 * and key, so it restores into this layout and every key gets the
 * decisions it had.
 */
Test(snapshot, a_snapshot_of_a_layout_2_segment_restores_into_this_layout)
{
	struct fgd_snap_counts r;
	int64_t after[2 * KEYS];
	char src[512], err[512];
	struct fgd_snap_hdr h;
	struct timespec ts;
	uint8_t *body;
	size_t len;
	unsigned i;
	FILE *f;

	test_src_path("tests/fixtures/snapshot-layout2.snap", src, sizeof src);
	f = fopen(src, "rb");
	cr_assert_not_null(f, "%s", src);
	cr_assert_eq(fread(&h, 1, sizeof h, f), sizeof h);
	body = malloc(h.nbuckets * FGD_SNAP_REC_SIZE);
	cr_assert_not_null(body);
	len = fread(body, 1, h.nbuckets * FGD_SNAP_REC_SIZE, f);
	fclose(f);
	cr_assert_eq(len, h.nbuckets * FGD_SNAP_REC_SIZE);
	cr_assert_eq(h.nbuckets, 82, "45 api and 37 login buckets");
	/* written now, on another boot: no time has passed */
	clock_gettime(CLOCK_REALTIME, &ts);
	h.realtime_ns =
	    (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	memset(h.boot_id, 0, sizeof h.boot_id);
	memcpy(h.boot_id, "another-boot", 12);
	fgd_snapshot_sum(&h, body, len, h.sum);
	f = fopen(snap, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(&h, 1, sizeof h, f), sizeof h);
	cr_assert_eq(fwrite(body, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
	free(body);

	cr_assert_eq(fgd_snapshot_restore(snap, &H.n, 1, &r, err, sizeof err),
	             0, "%s", err);
	cr_expect_eq(r.buckets, 82);
	cr_expect_eq(r.skipped, 0);
	levels(after);
	for (i = 0; i < KEYS; i++) {
		cr_expect_eq(after[i],
		             10 - (int64_t)(i % 12 < 10 ? i % 12 : 10),
		             "api user-%u", i);
		cr_expect_eq(after[KEYS + i],
		             3 - (int64_t)(i % 4 < 3 ? i % 4 : 3),
		             "login user-%u", i);
	}
}

Test(snapshot, a_snapshot_from_the_future_counts_no_time_as_passed)
{
	struct fgd_snap_counts w, r;
	char err[512];
	int64_t left;

	cr_assert_eq(fg_allow(H.c, "api", "k", 6, NULL), 1); /* 4 left */
	write_ok(&w);
	rewrite_header(other_boot_in_the_future, 1);
	host_down();
	host_up();
	cr_assert_eq(fgd_snapshot_restore(snap, &H.n, 1, &r, err, sizeof err),
	             0, "%s", err);
	cr_assert_eq(fg__peek(H.c, "api", "k", 1, &left), 0);
	cr_expect_eq(left, 4, "%lld left: the clock went back, no refill",
	             (long long)left);
}

Test(snapshot, a_snapshot_an_hour_old_from_another_boot_has_refilled)
{
	struct fgd_snap_counts w, r;
	char err[512];
	int64_t left;

	/* a token an hour: 6 spent, 4 left; an hour later, 5 left */
	cr_assert_eq(fg_allow(H.c, "api", "k", 6, NULL), 1);
	write_ok(&w);
	rewrite_header(other_boot_an_hour_ago, 1);
	host_down();
	host_up();
	cr_assert_eq(fgd_snapshot_restore(snap, &H.n, 1, &r, err, sizeof err),
	             0, "%s", err);
	cr_assert_eq(fg__peek(H.c, "api", "k", 1, &left), 0);
	cr_expect_eq(left, 5, "%lld left after an hour of refill",
	             (long long)left);
}

/* ------------------------------------------------------ a real daemon */

static pid_t daemon_pid;

static void daemon_conf(void)
{
	char path[128], text[1024];

	snprintf(text, sizeof text,
	         "segment %s-d\ncapacity 1024\nnode-key %s/n0.key\n"
	         "keyring %s/keyring\nlisten 127.0.0.1:%d\ncontrol off\n"
	         "snapshot %s every 1s\n"
	         "rule api capacity 10 rate 1/1h scope global\n"
	         "rule login capacity 3 rate 1/1h\n",
	         seg, dir, dir, 26000 + (int)(getpid() % 1000), snap);
	snprintf(path, sizeof path, "%s/n0.conf", dir);
	write_file(path, text);
}

/* How many times the daemon's log says it restored a snapshot. */
static int restores_logged(void)
{
	char path[128], line[512];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof path, "%s/n0.log", dir);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f))
		n += strstr(line, "restored:") != NULL;
	fclose(f);
	return n;
}

/* Start the daemon; wait until its rules are published and, when
 * @restores says how many restores the log must show, for that too (the
 * rules are published first: a restore needs them). */
static fg_client *daemon_up_after(int restores)
{
	char name[80];
	uint64_t t0 = fg__now_ns();
	fg_client *c = NULL;

	snprintf(name, sizeof name, "%s-d", seg);
	daemon_pid = cluster_spawn(dir, 0);
	for (;;) {
		if (c == NULL && fg_open(name, 0, &c) != 0)
			c = NULL;
		if (c && fg__rule_index(c, "login") >= 0 &&
		    restores_logged() >= restores)
			return c;
		cr_assert_lt(fg__now_ns() - t0, 10000000000ull,
		             "floodgated did not come up (%s/n0.log)", dir);
		usleep(10000);
	}
}

static void daemon_down(fg_client *c)
{
	int status;

	fg_close(c);
	kill(daemon_pid, SIGTERM);
	cr_assert_eq(waitpid(daemon_pid, &status, 0), daemon_pid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	          "floodgated exits cleanly on SIGTERM");
}

static void daemon_segment_destroyed(void)
{
	char cmd[256];

	snprintf(cmd, sizeof cmd,
	         "rm -f /dev/shm/%s-d /dev/shm/%s-d.state "
	         "/dev/shm/%s-d.state-remote",
	         seg, seg, seg);
	cr_assert_eq(system(cmd), 0);
}

Test(snapshot, floodgated_restores_its_buckets_after_the_segment_is_lost,
     .timeout = 60)
{
	fg_client *c;
	int64_t left;

	make_node_keys(dir, 1);
	daemon_conf();
	c = daemon_up_after(0);
	cr_assert_eq(fg_allow(c, "api", "alice", 7, NULL), 1);
	cr_assert_eq(fg_allow(c, "login", "alice", 2, NULL), 1);
	daemon_down(c);             /* writes a snapshot on the way out */
	daemon_segment_destroyed(); /* what a reboot does to /dev/shm */
	c = daemon_up_after(1);
	cr_assert_eq(fg__peek(c, "api", "alice", 5, &left), 0);
	cr_expect_eq(left, 3, "api: %lld left, not 3", (long long)left);
	cr_assert_eq(fg__peek(c, "login", "alice", 5, &left), 0);
	cr_expect_eq(left, 1, "login: %lld left, not 1", (long long)left);
	cr_expect_eq(fg_allow(c, "login", "alice", 1, NULL), 1);
	cr_expect_eq(fg_allow(c, "login", "alice", 1, NULL), 0);
	daemon_down(c);
	daemon_segment_destroyed();
}

Test(snapshot, floodgated_snapshots_periodically_so_a_kill_loses_little,
     .timeout = 60)
{
	fg_client *c;
	int64_t left;
	int status;

	make_node_keys(dir, 1);
	daemon_conf();
	c = daemon_up_after(0);
	cr_assert_eq(fg_allow(c, "api", "bob", 6, NULL), 1);
	/* the next periodic snapshot (every 1s) has it; then SIGKILL */
	usleep(2500000);
	fg_close(c);
	kill(daemon_pid, SIGKILL);
	cr_assert_eq(waitpid(daemon_pid, &status, 0), daemon_pid);
	daemon_segment_destroyed();
	c = daemon_up_after(1);
	cr_assert_eq(fg__peek(c, "api", "bob", 3, &left), 0);
	cr_expect_eq(left, 4, "%lld left, not 4", (long long)left);
	daemon_down(c);
	daemon_segment_destroyed();
}
