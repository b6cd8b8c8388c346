/* SPDX-License-Identifier: ISC */
/*
 * test_ledger.c - the daemon's bounded tables of counts (daemon/ledger.h):
 * every record stays found through any mix of adds and deletes, memory
 * stops where it is said to, and a file is reloaded whole, or refused.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gossip/ledger.h"

struct rec {
	uint64_t id[2];
	uint64_t value;
	uint64_t touched;
};

static const uint8_t key0[FGD_LEDGER_KEYBYTES] = "0123456789abcdef";
static const uint64_t ident[3] = {1, 2, 3};
static char path[128];

static void setup(void)
{
	cr_assert_geq(sodium_init(), 0);
	snprintf(path, sizeof path, "/dev/shm/fgtest-ledger-%d", (int)getpid());
	unlink(path);
}

static void teardown(void)
{
	unlink(path);
}

TestSuite(ledger, .init = setup, .fini = teardown, .timeout = 60);

static void id_of(const struct fgd_ledger *l, unsigned k, uint64_t id[2])
{
	fgd_ledger_id(l, &k, sizeof k, id);
}

static struct rec *put(struct fgd_ledger *l, unsigned k, uint64_t value)
{
	uint64_t id[2];
	struct rec *r;

	id_of(l, k, id);
	r = fgd_ledger_add(l, id);
	if (r != NULL)
		r->value = value;
	return r;
}

static struct rec *get(struct fgd_ledger *l, unsigned k)
{
	uint64_t id[2];

	id_of(l, k, id);
	return fgd_ledger_find(l, id);
}

Test(ledger, records_stay_found_through_random_adds_and_deletes)
{
	enum { KEYS = 4000, STEPS = 200000 };
	static uint8_t in[KEYS];
	struct fgd_ledger l;
	size_t n = 0;
	unsigned s, k;

	cr_assert_eq(fgd_ledger_init(&l, sizeof(struct rec), 3000, key0), 0);
	for (s = 0; s < STEPS; s++) {
		k = randombytes_uniform(KEYS);
		if (in[k]) {
			struct rec *r = get(&l, k);

			cr_assert_not_null(r, "step %u: key %u lost", s, k);
			cr_assert_eq(r->value, k, "step %u: key %u's record", s,
			             k);
			fgd_ledger_del(&l, r);
			in[k] = 0;
			n--;
		} else if (n < 3000) {
			cr_assert_null(get(&l, k), "step %u: %u not added", s,
			               k);
			cr_assert_not_null(put(&l, k, k));
			in[k] = 1;
			n++;
		}
		cr_assert_eq(l.n, n);
	}
	for (k = 0; k < KEYS; k++)
		cr_assert_eq(get(&l, k) != NULL, in[k], "key %u", k);
	fgd_ledger_fini(&l);
}

Test(ledger, a_miss_after_heavy_churn_probes_as_little_as_on_a_fresh_table)
{
	struct fgd_ledger l;
	size_t i, longest = 0;
	unsigned k;

	cr_assert_eq(fgd_ledger_init(&l, sizeof(struct rec), 1000, key0), 0);
	/* a million keys through a table of 1000: no tombstones left */
	for (k = 0; k < 1000000; k++) {
		struct rec *r = put(&l, k, k);

		cr_assert_not_null(r);
		if (k >= 500)
			fgd_ledger_del(&l, get(&l, k - 500));
	}
	cr_expect_eq(l.n, 500);
	/* the longest run of occupied slots bounds every probe */
	for (i = 0; i < l.cap; i++) {
		size_t run = 0;

		while (run < l.cap && fgd_ledger_at(&l, (i + run) % l.cap))
			run++;
		if (run > longest)
			longest = run;
	}
	cr_expect_lt(longest, 64, "a run of %zu occupied slots", longest);
	fgd_ledger_fini(&l);
}

Test(ledger, the_table_grows_to_five_fourths_of_max_and_no_further)
{
	struct fgd_ledger l;
	unsigned k;

	cr_assert_eq(fgd_ledger_init(&l, sizeof(struct rec), 10000, key0), 0);
	cr_expect_eq(l.cap, FGD_LEDGER_MIN, "small until used");
	for (k = 0; k < 10000; k++)
		cr_assert_not_null(put(&l, k, k));
	cr_expect_eq(l.cap, 12500);
	cr_expect_null(put(&l, 10000, 1), "full at max records");
	cr_expect_eq(l.n, 10000);
	cr_expect_eq(fgd_ledger_bytes_max(sizeof(struct rec), 10000),
	             64 + 12500 * sizeof(struct rec));
	fgd_ledger_fini(&l);
}

static int older(const void *a, const void *b)
{
	return ((const struct rec *)a)->touched <
	       ((const struct rec *)b)->touched;
}

Test(ledger, the_victim_is_the_idlest_of_the_sample)
{
	struct fgd_ledger l;
	struct rec *v;
	unsigned k;

	cr_assert_eq(fgd_ledger_init(&l, sizeof(struct rec), 100, key0), 0);
	for (k = 0; k < 20; k++)
		put(&l, k, k)->touched = 1000 - k;
	v = fgd_ledger_victim(&l, 32, older);
	cr_assert_not_null(v);
	cr_expect_eq(v->value, 19, "touched at 981, the longest ago");
	fgd_ledger_fini(&l);
}

Test(ledger, ids_depend_on_the_key_and_differ_by_name)
{
	struct fgd_ledger a, b;
	uint64_t x[2], y[2], z[2];

	cr_assert_eq(fgd_ledger_init(&a, sizeof(struct rec), 10, key0), 0);
	cr_assert_eq(fgd_ledger_init(&b, sizeof(struct rec), 10, NULL), 0);
	fgd_ledger_id(&a, "name", 4, x);
	fgd_ledger_id(&a, "namf", 4, y);
	fgd_ledger_id(&b, "name", 4, z);
	cr_expect_neq(memcmp(x, y, 16), 0);
	cr_expect_neq(memcmp(x, z, 16), 0, "a random key by default");
	fgd_ledger_fini(&a);
	fgd_ledger_fini(&b);
}

static int open_at(struct fgd_ledger *l, const uint8_t *key,
                   const uint64_t id3[3], char *err, size_t errlen)
{
	return fgd_ledger_open(l, sizeof(struct rec), 1000, key, path, id3, err,
	                       errlen);
}

Test(ledger, a_file_comes_back_with_its_records)
{
	struct fgd_ledger l;
	char err[256];
	struct stat st;
	unsigned k;

	cr_assert_eq(open_at(&l, key0, ident, err, sizeof err), 0, "%s", err);
	for (k = 0; k < 300; k++)
		put(&l, k, k * 7);
	fgd_ledger_fini(&l);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(open_at(&l, key0, ident, err, sizeof err), 0, "%s", err);
	cr_expect_eq(l.n, 300);
	for (k = 0; k < 300; k++) {
		struct rec *r = get(&l, k);

		cr_assert_not_null(r, "key %u", k);
		cr_expect_eq(r->value, k * 7);
	}
	fgd_ledger_fini(&l);
}

/* A cleared file ledger (a daemon's new incarnation: its counts start
 * again) holds nothing, in the file too, and takes records again. */
Test(ledger, a_cleared_file_comes_back_empty_and_takes_records)
{
	struct fgd_ledger l;
	char err[256];
	unsigned k;

	cr_assert_eq(open_at(&l, key0, ident, err, sizeof err), 0, "%s", err);
	for (k = 0; k < 300; k++)
		put(&l, k, k);
	fgd_ledger_clear(&l);
	cr_expect_eq(l.n, 0);
	cr_expect_null(get(&l, 7));
	cr_assert_not_null(put(&l, 7, 70));
	fgd_ledger_fini(&l);
	cr_assert_eq(open_at(&l, key0, ident, err, sizeof err), 0, "%s", err);
	cr_expect_eq(l.n, 1, "only the record put after the clear");
	cr_assert_not_null(get(&l, 7));
	cr_expect_eq(get(&l, 7)->value, 70);
	cr_expect_null(get(&l, 8));
	fgd_ledger_fini(&l);
}

Test(ledger, another_segments_or_another_keys_file_starts_over)
{
	static const uint64_t other[3] = {7, 8, 9};
	static const uint8_t key1[FGD_LEDGER_KEYBYTES] = "fedcba9876543210";
	struct fgd_ledger l;
	char err[256];

	cr_assert_eq(open_at(&l, key0, ident, err, sizeof err), 0, "%s", err);
	put(&l, 1, 1);
	fgd_ledger_fini(&l);
	cr_assert_eq(open_at(&l, key0, other, err, sizeof err), 0, "%s", err);
	cr_expect_eq(l.n, 0, "another segment's");
	put(&l, 1, 1);
	fgd_ledger_fini(&l);
	cr_assert_eq(open_at(&l, key1, other, err, sizeof err), 0, "%s", err);
	cr_expect_eq(l.n, 0, "another node key's");
	fgd_ledger_fini(&l);
}

/* The file's slots, header skipped: what a daemon killed mid-delete may
 * leave is written into them by hand. */
static void file_slots(int fd, struct rec *slots, size_t n, int writing)
{
	ssize_t len = (ssize_t)(n * sizeof *slots);

	if (writing)
		cr_assert_eq(pwrite(fd, slots, (size_t)len, 64), len);
	else
		cr_assert_eq(pread(fd, slots, (size_t)len, 64), len);
}

Test(ledger, a_file_left_mid_delete_is_whole_again_when_reopened)
{
	static struct rec slots[64];
	struct fgd_ledger l;
	size_t i, cap;
	char err[256];
	unsigned k;
	int fd;

	cr_assert_eq(open_at(&l, key0, ident, err, sizeof err), 0, "%s", err);
	for (k = 0; k < 40; k++)
		put(&l, k, k);
	cap = l.cap;
	fgd_ledger_fini(&l);
	cr_assert_eq(cap, 64);
	fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0);
	file_slots(fd, slots, cap, 0);
	/* a hole in the middle of a probe chain, and a record twice */
	for (i = 1; i < cap; i++)
		if ((slots[i].id[0] | slots[i].id[1]) &&
		    (slots[i - 1].id[0] | slots[i - 1].id[1]))
			break;
	cr_assert_lt(i, cap, "some chain of two");
	slots[i - 1] = slots[i]; /* copied back, not yet cleared */
	file_slots(fd, slots, cap, 1);
	close(fd);
	cr_assert_eq(open_at(&l, key0, ident, err, sizeof err), 0, "%s", err);
	cr_expect_eq(l.n, 39, "the overwritten record is gone, no twin");
	for (k = 0; k < 40; k++) {
		struct rec *r = get(&l, k);

		if (r != NULL)
			cr_expect_eq(r->value, k);
	}
	fgd_ledger_fini(&l);
}

Test(ledger, a_file_another_user_could_write_is_refused_not_adopted)
{
	struct fgd_ledger l;
	char err[256] = "";
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(fchmod(fd, 0666), 0);
	close(fd);
	cr_expect_eq(open_at(&l, key0, ident, err, sizeof err), -1);
	cr_expect_neq(strstr(err, "not a file of ours"), NULL, "%s", err);
	unlink(path);
	cr_assert_eq(symlink("/etc/passwd", path), 0);
	cr_expect_eq(open_at(&l, key0, ident, err, sizeof err), -1);
	cr_expect_neq(strstr(err, "symbolic link"), NULL, "%s", err);
}
