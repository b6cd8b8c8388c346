/* SPDX-License-Identifier: ISC */
/*
 * test_snapshot.c - buckets and gossip marks survive the segment.
 *
 * The rule: snapshot, destroy the segment, restore into a new one, and
 * every key gets the same decisions as before; a remote count already
 * debited is not debited again; a file that is not an intact snapshot is
 * refused whole; time that cannot be measured counts as none.  A single
 * host, which does not gossip, keeps its buckets all the same, and says
 * at start where its snapshot is and when it is written.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "gossip/node.h"
#include "daemon/control.h"
#include "daemon/snapkey.h"
#include "daemon/snapshot.h"
#include "lib/client.h"
#include "shm/clock.h"
#include "tests/cluster.h"
#include "tests/helpers.h"
#include "tests/ports.h"

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

/* The MAC key of the snapshots these tests write by hand. */
static const uint8_t tkey[FGD_SNAP_KEY_BYTES] =
    "a test key, 32 bytes long......";

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
	char cmd[256];

	host_down();
	/* and what a daemon test that failed half-way left */
	snprintf(cmd, sizeof cmd, "rm -rf %s /dev/shm/%s-d /dev/shm/%s-d.*",
	         dir, seg, seg);
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

	cr_assert_eq(
	    fgd_snapshot_write(snap, tkey, H.c, &H.n, n, err, sizeof err), 0,
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
	cr_assert_eq(
	    fgd_snapshot_restore(snap, tkey, H.c, &H.n, 1, &r, err, sizeof err),
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
	cr_assert_eq(
	    fgd_snapshot_restore(snap, tkey, H.c, &H.n, 1, &r, err, sizeof err),
	    0, "%s", err);
	cr_assert_eq(fg__peek(H.c, "slow", "k", 1, &left), 0);
	cr_expect_eq(left, -5);
	cr_expect_eq(fg_reserve(H.c, "slow", "k", 1, &delay, NULL), 0,
	             "still 5 hours of waits ahead: no room");
}

/* A penalty's block is its bucket's debt past empty (lib/penalty.c):
 * it comes back with the snapshot, and so does the key's count of
 * denials, a bucket like any. */
Test(snapshot, a_penalty_s_block_comes_back)
{
	fg_rule box = {.name = "box",
	               .capacity = 1,
	               .rate = 1,
	               .period_ms = HOUR_MS,
	               .flags = FG_RULE_PENALTY,
	               .penalty_denials = 2,
	               .penalty_window_ms = HOUR_MS,
	               .penalty_block_ms = 2 * HOUR_MS};
	struct fgd_snap_counts w, r;
	fg_decision d;
	char err[512];
	int64_t left;

	cr_assert_eq(fg_rule_set(H.c, &box), 0);
	cr_assert_eq(fg_allow(H.c, "box", "k", 1, NULL), 1);
	cr_assert_eq(fg_allow(H.c, "box", "k", 1, NULL), 0);
	cr_assert_eq(fg_allow(H.c, "box", "k", 1, NULL), 0); /* blocked */
	cr_assert_eq(fg__peek(H.c, "box", "k", 1, &left), 0);
	cr_assert_eq(left, -2, "2 hours past empty");
	write_ok(&w);
	cr_expect_eq(w.buckets, 2, "the bucket and its count of denials");
	host_down();
	host_up();
	cr_assert_eq(fg_rule_set(H.c, &box), 0);
	cr_assert_eq(
	    fgd_snapshot_restore(snap, tkey, H.c, &H.n, 1, &r, err, sizeof err),
	    0, "%s", err);
	cr_expect_eq(r.buckets, 2);
	cr_assert_eq(fg__peek(H.c, "box", "k", 1, &left), 0);
	cr_expect_eq(left, -2);
	cr_expect_eq(fg_allow(H.c, "box", "k", 1, &d), 0);
	cr_expect_gt(d.retry_after_ms, 3 * HOUR_MS - 60000, "still blocked");
}

/* A window rule's bucket is written as its counts and the time left in
 * its window, and restored into the window then current: within one
 * window (an hour), as it was. */
Test(snapshot, window_buckets_come_back_with_their_counts)
{
	fg_rule fw = {.name = "fw",
	              .capacity = 5,
	              .rate = 5,
	              .period_ms = HOUR_MS,
	              .flags = FG_RULE_FIXED_WINDOW};
	fg_rule sw = {.name = "sw",
	              .capacity = 9,
	              .rate = 9,
	              .period_ms = HOUR_MS,
	              .flags = FG_RULE_SLIDING_WINDOW | FG_RULE_GLOBAL};
	struct fgd_snap_counts w, r;
	int64_t left;
	char err[512];

	cr_assert_eq(fg_rule_set(H.c, &fw), 0);
	cr_assert_eq(fg_rule_set(H.c, &sw), 0);
	cr_assert_eq(fg_allow(H.c, "fw", "k", 3, NULL), 1);
	cr_assert_eq(fg_allow(H.c, "sw", "k", 7, NULL), 1);
	cr_assert_eq(fg_allow(H.c, "sw", "idle", 1, NULL), 1);
	write_ok(&w);
	cr_expect_eq(w.buckets, 3);
	host_down();
	host_up();
	cr_assert_eq(fg_rule_set(H.c, &fw), 0);
	cr_assert_eq(fg_rule_set(H.c, &sw), 0);
	cr_assert_eq(
	    fgd_snapshot_restore(snap, tkey, H.c, &H.n, 1, &r, err, sizeof err),
	    0, "%s", err);
	cr_expect_eq(r.buckets, 3);
	cr_assert_eq(fg__peek(H.c, "fw", "k", 1, &left), 0);
	cr_expect_eq(left, 2);
	cr_assert_eq(fg__peek(H.c, "sw", "k", 1, &left), 0);
	cr_expect_eq(left, 2);
	cr_assert_eq(fg__peek(H.c, "sw", "idle", 4, &left), 0);
	cr_expect_eq(left, 8);
	cr_expect_eq(fg_allow(H.c, "fw", "k", 3, NULL), 0, "2 left, not 5");
	cr_expect_eq(fg_allow(H.c, "fw", "k", 2, NULL), 1);
}

/* A window rule's record restores into nothing but a window rule, and
 * only while its window would still run. */
Test(snapshot, a_window_record_whose_window_has_passed_is_skipped)
{
	fg_rule fw = {.name = "fw",
	              .capacity = 5,
	              .rate = 5,
	              .period_ms = 1000,
	              .flags = FG_RULE_FIXED_WINDOW};
	struct fgd_snap_bucket rec = {.rule = "fw",
	                              .key = "k",
	                              .key_len = 1,
	                              .kind = FGD_SNAP_WINDOW,
	                              .debt_ns = 1,
	                              .cur = 5};
	struct fgd_snap_body body = {.nbuckets = 1};
	struct fgd_snap_counts r = {0};
	int64_t left;

	cr_assert_eq(fg_rule_set(H.c, &fw), 0);
	fgd_snapshot_apply(&body, 0, &rec, 1, 2, H.c, NULL, 1, &r);
	cr_expect_eq(r.skipped, 1, "its window ended 1 ns after writing");
	cr_assert_eq(fg__peek(H.c, "fw", "k", 1, &left), 0);
	cr_expect_eq(left, 5);
	rec.debt_ns = 1000000;
	memcpy(rec.rule, "api", 4); /* a GCRA rule */
	fgd_snapshot_apply(&body, 0, &rec, 1, 2, H.c, NULL, 1, &r);
	cr_expect_eq(r.skipped, 2, "a window's counts are no debt");
	rec.debt_ns = 1000000;
	memcpy(rec.rule, "fw", 3);
	fgd_snapshot_apply(&body, 0, &rec, 1, 2, H.c, NULL, 1, &r);
	cr_expect_eq(r.buckets, 1);
	cr_assert_eq(fg__peek(H.c, "fw", "k", 1, &left), 0);
	cr_expect(left == 0 || left == 5,
	          "restored, unless the window "
	          "turned meanwhile: %lld",
	          (long long)left);
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
	cr_assert_eq(
	    fgd_snapshot_restore(snap, tkey, H.c, &H.n, 1, &r, err, sizeof err),
	    0, "%s", err);
	cr_expect_eq(r.remote, 1);
	e = fgd_node_mark(&H.n, 77, "api", 3, "k", 1);
	cr_assert_not_null(e, "found by name: the id key is the node's");
	cr_expect_eq(e->incarnation, 5);
	cr_expect_eq(e->count, 1234);
	cr_expect_eq(e->floor, 1000);
	cr_expect_eq(e->consumed, 234);
}

/* Issue 12, finding 2: whoever can write the snapshot but not read the
 * daemon's key cannot make one it restores.  A snapshot of version 2, as
 * floodgate wrote it before (an unkeyed BLAKE2b-256), names a debt of an
 * hour: refused, kept aside, never tried again, nothing restored. */
Test(snapshot, an_unkeyed_snapshot_of_version_2_is_refused_and_kept_aside)
{
	struct fgd_snap_bucket rec;
	struct fgd_snap_hdr h;
	struct fgd_snap_counts r;
	crypto_generichash_state st;
	char err[512], aside[160];
	int64_t left;
	int fd;

	memset(&h, 0, sizeof h);
	memset(&rec, 0, sizeof rec);
	memcpy(h.magic, FGD_SNAP_MAGIC, sizeof h.magic);
	h.version = 2;
	h.rec_size = FGD_SNAP_REC_SIZE;
	h.nbuckets = 1;
	h.realtime_ns = (uint64_t)time(NULL) * 1000000000u;
	snprintf(rec.rule, sizeof rec.rule, "api");
	rec.key_len = 1;
	rec.key[0] = 'k';
	rec.debt_ns = 3600ull * 1000000000u;
	crypto_generichash_init(&st, NULL, 0, sizeof h.sum);
	crypto_generichash_update(&st, (const void *)&h, sizeof h);
	crypto_generichash_update(&st, (const void *)&rec, sizeof rec);
	crypto_generichash_final(&st, h.sum, sizeof h.sum);
	fd = open(snap, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, &h, sizeof h), (ssize_t)sizeof h);
	cr_assert_eq(write(fd, &rec, sizeof rec), (ssize_t)sizeof rec);
	close(fd);
	cr_expect_eq(
	    fgd_snapshot_restore(snap, tkey, H.c, &H.n, 1, &r, err, sizeof err),
	    -1);
	cr_expect(strstr(err, "format version 2 has a checksum but no MAC") !=
	              NULL,
	          "%s", err);
	snprintf(aside, sizeof aside, "%s.refused", snap);
	cr_expect(strstr(err, aside) != NULL, "%s", err);
	cr_expect_eq(access(aside, F_OK), 0, "kept aside");
	cr_expect_neq(access(snap, F_OK), 0, "and not tried again");
	cr_expect_eq(r.buckets, 0);
	cr_assert_eq(fg__peek(H.c, "api", "k", 1, &left), 0);
	cr_expect_eq(left, 10, "nothing restored");
}

/* A snapshot under another key (another node key, or a key file
 * replaced) fails the MAC: refused, kept aside, never restored. */
Test(snapshot, a_snapshot_under_another_key_is_refused_and_kept_aside)
{
	static const uint8_t other[FGD_SNAP_KEY_BYTES] = "another key";
	struct fgd_snap_counts w, r;
	char err[512], aside[160];
	int64_t left;

	cr_assert_eq(fg_allow(H.c, "api", "k", 4, NULL), 1);
	write_ok(&w);
	host_down();
	host_up();
	cr_expect_eq(fgd_snapshot_verify(snap, other, &r, err, sizeof err), -1);
	cr_expect_eq(access(snap, F_OK), 0, "verify moves nothing");
	cr_expect_eq(fgd_snapshot_restore(snap, other, H.c, &H.n, 1, &r, err,
	                                  sizeof err),
	             -1);
	cr_expect(strstr(err, "MAC mismatch") != NULL, "%s", err);
	snprintf(aside, sizeof aside, "%s.refused", snap);
	cr_expect_eq(access(aside, F_OK), 0, "kept aside");
	cr_assert_eq(fg__peek(H.c, "api", "k", 1, &left), 0);
	cr_expect_eq(left, 10, "nothing restored");
	cr_expect_eq(
	    fgd_snapshot_restore(snap, tkey, H.c, &H.n, 1, &r, err, sizeof err),
	    1, "never tried again");
}

Test(snapshot, restoring_never_lowers_what_is_there)
{
	struct fgd_snap_counts w, r;
	char err[512];
	int64_t left;

	cr_assert_eq(fg_allow(H.c, "api", "k", 1, NULL), 1); /* 9 left */
	write_ok(&w);
	cr_assert_eq(fg_allow(H.c, "api", "k", 5, NULL), 1); /* 4 left */
	cr_assert_eq(
	    fgd_snapshot_restore(snap, tkey, H.c, &H.n, 1, &r, err, sizeof err),
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
	cr_assert_eq(
	    fgd_snapshot_restore(snap, tkey, H.c, &H.n, 1, &r, err, sizeof err),
	    0);
	cr_expect_gt(r.skipped, 0);
	cr_expect_eq(r.buckets + r.skipped, w.buckets);
}

Test(snapshot, no_snapshot_is_not_an_error)
{
	struct fgd_snap_counts r;
	char err[512];

	cr_expect_eq(
	    fgd_snapshot_restore(snap, tkey, H.c, &H.n, 1, &r, err, sizeof err),
	    1);
}

/* ------------------------------------------------------ without a node */

Test(snapshot, buckets_alone_are_written_and_restored_without_a_node)
{
	int64_t before[2 * KEYS], after[2 * KEYS];
	struct fgd_snap_counts w, r;
	char err[512];
	unsigned i;

	consume();
	levels(before);
	cr_assert_eq(
	    fgd_snapshot_write(snap, tkey, H.c, NULL, &w, err, sizeof err), 0,
	    "%s", err);
	cr_expect_gt(w.buckets, 0);
	cr_expect_eq(w.remote, 0);
	host_down();
	host_up();
	cr_assert_eq(
	    fgd_snapshot_restore(snap, tkey, H.c, NULL, 1, &r, err, sizeof err),
	    0, "%s", err);
	cr_expect_eq(r.buckets, w.buckets);
	levels(after);
	for (i = 0; i < 2 * KEYS; i++)
		cr_expect_eq(after[i], before[i], "bucket %u", i);
}

Test(snapshot, marks_are_skipped_where_nothing_gossips)
{
	struct fgd_snap_counts w, r;
	struct fgd_remote *e;
	uint64_t id[2];
	char err[512];

	cr_assert_eq(fg_allow(H.c, "api", "k", 2, NULL), 1);
	fgd_node_mark_id(&H.n, 77, "api", 3, "k", 1, id);
	e = fgd_ledger_add(&H.n.counts.remote, id);
	cr_assert_not_null(e);
	e->origin = 77;
	e->incarnation = 5;
	e->count = 10;
	write_ok(&w);
	cr_assert_eq(w.remote, 1);
	host_down();
	host_up();
	cr_assert_eq(
	    fgd_snapshot_restore(snap, tkey, H.c, NULL, 1, &r, err, sizeof err),
	    0, "%s", err);
	cr_expect_eq(r.buckets, 1);
	cr_expect_eq(r.remote, 0);
	cr_expect_eq(r.skipped, 1, "the mark is counted as skipped");
}

Test(snapshot, verify_reads_without_applying)
{
	struct fgd_snap_counts w, v;
	char err[512];
	int64_t left;

	cr_expect_eq(fgd_snapshot_verify(snap, tkey, &v, err, sizeof err), 1,
	             "no file yet");
	cr_assert_eq(fg_allow(H.c, "api", "k", 4, NULL), 1);
	write_ok(&w);
	host_down();
	host_up();
	cr_assert_eq(fgd_snapshot_verify(snap, tkey, &v, err, sizeof err), 0,
	             "%s", err);
	cr_expect_eq(v.buckets, 1);
	cr_assert_eq(fg__peek(H.c, "api", "k", 1, &left), 0);
	cr_expect_eq(left, 10, "nothing applied");
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
		fgd_snapshot_mac(tkey, &h, body, (size_t)n, h.sum);
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
	cr_expect_eq(fgd_snapshot_verify(snap, tkey, &r, err, sizeof err),
	             expect, "verify, %s: %s", why, err);
	cr_expect_eq(
	    fgd_snapshot_restore(snap, tkey, H.c, &H.n, 1, &r, err, sizeof err),
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
	cr_expect_eq(
	    fgd_snapshot_restore(snap, tkey, H.c, &H.n, 1, &r, err, sizeof err),
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
	/* its records as they were, under version 3's MAC: what the daemon
	 * wrote at its first snapshot after the upgrade */
	h.version = FGD_SNAP_VERSION;
	fgd_snapshot_mac(tkey, &h, body, len, h.sum);
	f = fopen(snap, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(&h, 1, sizeof h, f), sizeof h);
	cr_assert_eq(fwrite(body, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
	free(body);

	cr_assert_eq(
	    fgd_snapshot_restore(snap, tkey, H.c, &H.n, 1, &r, err, sizeof err),
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
	cr_assert_eq(
	    fgd_snapshot_restore(snap, tkey, H.c, &H.n, 1, &r, err, sizeof err),
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
	cr_assert_eq(
	    fgd_snapshot_restore(snap, tkey, H.c, &H.n, 1, &r, err, sizeof err),
	    0, "%s", err);
	cr_assert_eq(fg__peek(H.c, "api", "k", 1, &left), 0);
	cr_expect_eq(left, 5, "%lld left after an hour of refill",
	             (long long)left);
}

/* ------------------------------------------------------ a real daemon */

static pid_t daemon_pid;

/* The daemon's config: with @gossip, a node key and keyring (a node of
 * one); without, a single host, which needs neither. */
static void daemon_conf(int gossip)
{
	char path[128], text[1024], keys[256] = "";

	if (gossip) {
		make_node_keys(dir, 1);
		snprintf(keys, sizeof keys,
		         "node-key %s/n0.key\nkeyring %s/keyring\n", dir, dir);
	}
	snprintf(text, sizeof text,
	         "segment %s-d\ncapacity 1024\n%slisten 127.0.0.1:%d\n"
	         "control off\nsnapshot %s every 1s\n"
	         "rule api capacity 10 rate 1/1h scope global\n"
	         "rule login capacity 3 rate 1/1h\n",
	         seg, keys, fgt_ports(1), snap);
	snprintf(path, sizeof path, "%s/n0.conf", dir);
	write_file(path, text);
}

/* How many lines of the daemon's log hold @what. */
static int logged(const char *what)
{
	char path[128];

	snprintf(path, sizeof path, "%s/n0.log", dir);
	return lines_with(path, what);
}

/* How many times the daemon's log says it restored a snapshot. */
static int restores_logged(void)
{
	char what[200];

	snprintf(what, sizeof what, "snapshot %s: restored ", snap);
	return logged(what);
}

/* Start the daemon; wait until it says it is running (its rules are
 * published: a segment that survived has rules before the daemon is up)
 * and, when @restores says how many restores the log must show, for that
 * too. */
static fg_client *daemon_up_after(int restores)
{
	int runs = logged("running: segment");
	char name[80];
	uint64_t t0 = fg__now_ns();
	fg_client *c = NULL;

	snprintf(name, sizeof name, "%s-d", seg);
	daemon_pid = cluster_spawn(dir, 0);
	for (;;) {
		if (c == NULL && fg_open(name, 0, &c) != 0)
			c = NULL;
		if (c && fg__rule_index(c, "login") >= 0 &&
		    logged("running: segment") > runs &&
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
	char name[80];

	snprintf(name, sizeof name, "%s-d", seg);
	cr_assert_eq(fg_unlink(name), 0); /* its memory too, as a reboot */
	test_unlink_state(name);
}

/* Spend from two buckets, stop the daemon (a snapshot on the way out),
 * lose the segment as a reboot does, start again: the buckets are back. */
static void restores_after_the_segment_is_lost(int gossip)
{
	char what[200];
	fg_client *c;
	int64_t left;

	daemon_conf(gossip);
	c = daemon_up_after(0);
	snprintf(what, sizeof what,
	         "snapshot %s: none yet: full buckets; written every 1 s and "
	         "at exit",
	         snap);
	cr_expect_eq(logged(what), 1, "the start-up line says where and when");
	cr_assert_eq(fg_allow(c, "api", "alice", 7, NULL), 1);
	cr_assert_eq(fg_allow(c, "login", "alice", 2, NULL), 1);
	daemon_down(c);
	snprintf(what, sizeof what, "snapshot %s written at exit: 2 buckets",
	         snap);
	cr_expect_eq(logged(what), 1, "the snapshot at exit is logged");
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

/* Wait until the daemon has written a snapshot after @since_ns
 * (CLOCK_REALTIME, as the file's mtime): it then holds what was decided
 * before @since_ns.  The file appears whole (rename), so its mtime is the
 * write's. */
static void snapshot_written_after(uint64_t since_ns)
{
	uint64_t t0 = fg__now_ns();
	struct stat st;

	for (;;) {
		if (stat(snap, &st) == 0 &&
		    (uint64_t)st.st_mtim.tv_sec * 1000000000u +
		            (uint64_t)st.st_mtim.tv_nsec >
		        since_ns)
			return;
		cr_assert_lt(fg__now_ns() - t0, 10000000000ull,
		             "no snapshot written in 10 s (%s/n0.log)", dir);
		usleep(20000);
	}
}

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The periodic snapshot holds what was spent before a SIGKILL. */
static void snapshots_periodically(int gossip)
{
	fg_client *c;
	int64_t left;
	uint64_t spent;
	int status;

	daemon_conf(gossip);
	c = daemon_up_after(0);
	cr_assert_eq(fg_allow(c, "api", "bob", 6, NULL), 1);
	/* the next periodic snapshot (every 1s) has it; then SIGKILL.
	 * A file system's mtime may lag the clock by a tick: wait for a
	 * write that began well after the check. */
	spent = wall_ns() + 200000000u;
	snapshot_written_after(spent);
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

Test(snapshot, floodgated_restores_its_buckets_after_the_segment_is_lost,
     .timeout = 60)
{
	restores_after_the_segment_is_lost(1);
}

Test(snapshot, floodgated_snapshots_periodically_so_a_kill_loses_little,
     .timeout = 60)
{
	snapshots_periodically(1);
}

Test(snapshot, a_single_host_restores_its_buckets_after_the_segment_is_lost,
     .timeout = 60)
{
	restores_after_the_segment_is_lost(0);
}

Test(snapshot, a_single_host_snapshots_periodically_so_a_kill_loses_little,
     .timeout = 60)
{
	snapshots_periodically(0);
}

/* One sample's value in a Prometheus text, or -1 if it is absent. */
static double sample(const char *text, const char *name)
{
	char key[128];
	const char *p;

	snprintf(key, sizeof key, "\n%s ", name);
	p = strstr(text, key);
	return p ? strtod(p + strlen(key), NULL) : -1;
}

/*
 * A single host (no gossip) has the snapshot figures in its metrics too,
 * or the "snapshots failing" alert could never fire there: once the file
 * is on disk, the daemon counts at least one snapshot and no error.
 */
Test(snapshot, a_single_host_exports_its_snapshot_figures, .timeout = 60)
{
	char path[128], text[1024], sock[160], *reply = NULL;
	fg_client *c;

	snprintf(sock, sizeof sock, "%s/ctl.sock", dir);
	snprintf(text, sizeof text,
	         "segment %s-d\ncapacity 1024\nlisten 127.0.0.1:%d\n"
	         "control %s\nsnapshot %s every 1s\n"
	         "rule api capacity 10 rate 1/1h\n"
	         "rule login capacity 3 rate 1/1h\n",
	         seg, fgt_ports(1), sock, snap);
	snprintf(path, sizeof path, "%s/n0.conf", dir);
	write_file(path, text);
	c = daemon_up_after(0);
	cr_assert_eq(fg_allow(c, "api", "k", 1, NULL), 1);
	snapshot_written_after(wall_ns() + 200000000u);
	cr_assert_eq(fgd_ctl_request(sock, "metrics", &reply), 0);
	cr_expect_geq(sample(reply, "floodgate_snapshots_total"), 1, "%s",
	              reply);
	cr_expect_eq(sample(reply, "floodgate_snapshot_errors_total"), 0, "%s",
	             reply);
	cr_expect_eq(sample(reply, "floodgate_snapshot_interval_seconds"), 1,
	             "%s", reply);
	cr_expect_geq(sample(reply, "floodgate_snapshot_age_seconds"), 0, "%s",
	              reply);
	free(reply);
	daemon_down(c);
	daemon_segment_destroyed();
}

Test(snapshot, a_segment_that_survived_is_newer_and_is_not_restored,
     .timeout = 60)
{
	char what[200];
	fg_client *c;
	int64_t left;

	daemon_conf(0);
	c = daemon_up_after(0);
	cr_assert_eq(fg_allow(c, "api", "carol", 2, NULL), 1);
	daemon_down(c); /* snapshot: 8 left */
	c = daemon_up_after(0);
	cr_assert_eq(fg_allow(c, "api", "carol", 3, NULL), 1);
	daemon_down(c); /* the segment, 5 left, survives the restart */
	c = daemon_up_after(0);
	snprintf(what, sizeof what,
	         "snapshot %s: not restored: the segment survived", snap);
	cr_expect_eq(logged(what), 2, "said at each start that kept it");
	cr_assert_eq(fg__peek(c, "api", "carol", 5, &left), 0);
	cr_expect_eq(left, 5, "%lld left, not 5", (long long)left);
	daemon_down(c);
	daemon_segment_destroyed();
}

/* Under systemd's ProtectSystem=strict, a directory not made writable by
 * StateDirectory= is a read-only mount: the daemon says so at start, with
 * the fix, instead of failing every interval.  A read-only tmpfs in a
 * mount namespace of its own is that mount. */
Test(snapshot, a_read_only_snapshot_directory_stops_the_start_with_the_fix,
     .timeout = 60)
{
	char cmd[1024], ro[96];
	int rc;

	if (geteuid() != 0) {
		cr_skip_test("mounting needs root (CI runs as root)");
		return;
	}
	snprintf(ro, sizeof ro, "%s/ro", dir);
	cr_assert_eq(mkdir(ro, 0700), 0);
	snprintf(snap, sizeof snap, "%s/floodgate.snap", ro);
	daemon_conf(0);
	snprintf(cmd, sizeof cmd,
	         "timeout -s KILL 10 unshare -m --propagation private sh -c "
	         "'mount -t tmpfs -o ro,mode=0700 fg-ops-ro %s && exec %s -f "
	         "-c %s/n0.conf' >%s/n0.log 2>&1",
	         ro, daemon_path(), dir, dir);
	rc = system(cmd); /* a daemon that starts is killed after 10 s */
	cr_expect(WIFEXITED(rc) && WEXITSTATUS(rc) == 1,
	          "exit 1, not %d (137: it started)", rc);
	cr_expect_eq(logged("Read-only file system (under systemd's "
	                    "ProtectSystem=, StateDirectory=floodgate"),
	             1, "the log names the cause and the fix");
	snprintf(cmd, sizeof cmd, "/dev/shm/%s-d", seg);
	cr_expect_neq(access(cmd, F_OK), 0, "no segment was created");
}

/* A single host's snapshot key: made once, 0600, then the same; a key
 * file that is not ours (open to others, a link, the wrong size) is
 * refused with the fix, never used and never replaced. */
Test(snapshot, the_key_file_is_made_once_and_one_not_ours_is_refused)
{
	uint8_t k1[FGD_SNAP_KEY_BYTES], k2[FGD_SNAP_KEY_BYTES];
	char path[160], err[600];
	struct stat st;

	snprintf(path, sizeof path, "%s.key", snap);
	cr_expect_eq(fgd_snapkey_get(snap, NULL, 0, k1, err, sizeof err), 1,
	             "none yet, and not to be made");
	cr_assert_eq(fgd_snapkey_get(snap, NULL, 1, k1, err, sizeof err), 0,
	             "%s", err);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_mode & 07777, 0600);
	cr_assert_eq(fgd_snapkey_get(snap, NULL, 1, k2, err, sizeof err), 0);
	cr_expect_eq(memcmp(k1, k2, sizeof k1), 0, "the same key");
	cr_assert_eq(chmod(path, 0644), 0);
	cr_expect_eq(fgd_snapkey_get(snap, NULL, 1, k2, err, sizeof err), -1);
	cr_expect(strstr(err, "not a snapshot key of ours") != NULL, "%s", err);
	cr_assert_eq(chmod(path, 0600), 0);
	cr_assert_eq(truncate(path, 31), 0);
	cr_expect_eq(fgd_snapkey_get(snap, NULL, 1, k2, err, sizeof err), -1);
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(symlink("/etc/hostname", path), 0);
	cr_expect_eq(fgd_snapkey_get(snap, NULL, 1, k2, err, sizeof err), -1);
	cr_expect(strstr(err, "symbolic link") != NULL, "%s", err);
	cr_assert_eq(unlink(path), 0);
	/* with a node key: derived, no file */
	cr_assert_eq(fgd_snapkey_get(snap, H.sk, 1, k2, err, sizeof err), 0);
	cr_expect_neq(access(path, F_OK), 0, "no file made");
	cr_expect_neq(memcmp(k1, k2, sizeof k1), 0);
}
