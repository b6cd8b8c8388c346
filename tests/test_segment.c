/* SPDX-License-Identifier: ISC */
/*
 * test_segment.c - the segment as a file format: creating, re-creating,
 * attaching, and refusing whatever is not a complete segment of this
 * layout (wrong magic or version, truncated, corrupt, not a regular file,
 * not ours to open).
 *
 * Tests run as root; the permission tests drop privileges in a forked
 * child, which reports through a pipe and ends with _exit().
 */
#include "tests/helpers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "lib/client.h"
#include "shm/scan.h"
#include "shm/segment.h"

#define NOBODY 65534 /* uid nobody, gid nogroup */

TestSuite(segment, .timeout = 30);

/* ------------------------------------------------------------ helpers */

static const char *shm_path(const char *name)
{
	static char path[128];

	snprintf(path, sizeof path, "%s%s", FG_SHM_DIR, name);
	return path;
}

static void patch(const char *path, uint64_t off, const void *buf, size_t n)
{
	int fd = open(path, O_WRONLY);

	cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(pwrite(fd, buf, n, (off_t)off), (ssize_t)n, "pwrite");
	close(fd);
}

static void read_hdr(const char *path, struct fg_seg_hdr *h)
{
	int fd = open(path, O_RDONLY);

	cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(pread(fd, h, sizeof *h, 0), (ssize_t)sizeof *h, "pread");
	close(fd);
}

static void write_hdr(const char *path, const struct fg_seg_hdr *h)
{
	patch(path, 0, h, sizeof *h);
}

static uint64_t file_size(const char *path)
{
	struct stat st;

	cr_assert_eq(stat(path, &st), 0, "stat %s: %s", path, strerror(errno));
	return (uint64_t)st.st_size;
}

/* fg_open()'s verdict, checking that a failure leaves *out NULL. */
static int open_result(const char *segment)
{
	fg_client *c = (fg_client *)(uintptr_t)1;
	int r = fg_open(segment, 0, &c);

	if (r == 0) {
		cr_assert_not_null(c);
		fg_close(c);
	} else {
		cr_assert_null(c, "fg_open failed (%d) but set *out", r);
	}
	return r;
}

/* A segment of @capacity with rule "r" (5 per hour), closed again. */
static const char *make_closed(const char *tag, uint64_t capacity)
{
	fg_client *c;

	unlink(shm_path(test_segment(tag))); /* fg_unlink keeps non-segments */
	c = test_create(tag, capacity);

	test_rule(c, "r", 5, 5, HOUR_MS, 0);
	fg_close(c);
	return test_segment(tag);
}

/* Remove @name, segment or not (fg_unlink() removes segments only). */
static void remove_seg(const char *name)
{
	if (fg_unlink(name) != 0)
		unlink(shm_path(name));
}

static uint32_t remaining_after_one(fg_client *c, const char *key)
{
	fg_decision d;
	int r = fg_allow(c, "r", key, 1, &d);

	cr_assert_eq(r, 1, "fg_allow: %d (%s)", r, fg_strerror(r));
	return d.remaining;
}

/* No "<name>.tmp-*" file left behind in /dev/shm. */
static void assert_no_tmp_files(const char *name)
{
	char prefix[128];
	struct dirent *e;
	DIR *d = opendir(FG_SHM_DIR);

	cr_assert_not_null(d);
	snprintf(prefix, sizeof prefix, "%s.tmp-", name);
	while ((e = readdir(d)) != NULL)
		cr_assert(strncmp(e->d_name, prefix, strlen(prefix)) != 0,
		          "temporary file left behind: %s", e->d_name);
	closedir(d);
}

/* ------------------------------------------------- create and attach */

/* Pages of @n bytes. */
static uint64_t pages(uint64_t n)
{
	return (n + 4095) / 4096 * 4096;
}

/* The size of a segment of @capacity keys, by the layout: the header,
 * the rule table, the overrides and the dirty map (a bit a 64 buckets)
 * rounded to pages, the table's region (a line, 4096 stripe words, the
 * buckets of 64 bytes at 1.75 keys a bucket, and a margin, then long
 * keys' records of 80 bytes, one a 16 keys and at least min(capacity,
 * 4096)) rounded to a page, then the cold parts, 16 bytes a slot. */
static uint64_t expected_size(uint64_t capacity)
{
	uint64_t buckets = (capacity * 4 + 6) / 7, r = 0;
	uint64_t recs = capacity < 4096 ? capacity : 4096, map;

	if (capacity / 16 > recs)
		recs = capacity / 16;

	while (r * r < buckets) /* and 3 x its square root (layout.h) */
		r++;
	buckets += 3 * r;
	map = pages(((buckets + 63) / 64 + 63) / 64 * 8);

	return 4096 + 65536 + FG_OVR_BYTES + map +
	       pages(64 + 4096 * 8 + buckets * 64 + recs * 80) +
	       buckets * 2 * 16;
}

Test(segment, created_segment_is_attachable_and_shares_buckets)
{
	fg_client *c = test_create("attach", 16), *w = NULL;
	fg_segment_stats st;
	int r;

	test_rule(c, "r", 5, 5, HOUR_MS, 0);
	r = fg_open(test_segment("attach"), 0, &w);
	cr_assert_eq(r, 0, "fg_open: %s", fg_strerror(r));
	cr_assert_eq(remaining_after_one(w, "k"), 4);
	cr_assert_eq(remaining_after_one(c, "k"), 3, "not the same bucket");
	cr_assert_eq(fg_stats(w, &st), 0);
	cr_assert_eq(st.capacity, 16);
	cr_assert_eq(st.nslots, 44, "16 keys: 10 + 3 x 4 buckets of 2 slots");
	cr_assert_eq(file_size(shm_path(test_segment("attach"))),
	             expected_size(16),
	             "header, rule table, overrides, dirty map, table, cold");
	assert_no_tmp_files(test_segment("attach"));
	fg_close(w);
	fg_close(c);
	cr_assert_eq(fg_unlink(test_segment("attach")), 0);
	cr_assert_eq(open_result(test_segment("attach")), FG_ENOSEG);
}

Test(segment, create_of_existing_segment_same_capacity_keeps_buckets)
{
	const char *name = test_segment("keep");
	fg_segment_opts o = {.capacity = 16};
	fg_client *c = test_create("keep", 16), *c2 = NULL;
	struct stat before, after;
	unsigned i;
	int r;

	test_rule(c, "r", 5, 5, HOUR_MS, 0);
	for (i = 0; i < 3; i++)
		cr_assert_eq(fg_allow(c, "r", "k", 1, NULL), 1);
	cr_assert_eq(stat(shm_path(name), &before), 0);

	/* while the first owner is still attached */
	r = fg_create(name, &o, 0, &c2);
	cr_assert_eq(r, 0, "fg_create again: %s", fg_strerror(r));
	cr_assert_eq(remaining_after_one(c2, "k"), 1, "buckets were reset");
	fg_close(c2);
	fg_close(c);

	/* and after everybody detached: a restarted daemon */
	r = fg_create(name, &o, 0, &c2);
	cr_assert_eq(r, 0, "fg_create again: %s", fg_strerror(r));
	cr_assert_eq(remaining_after_one(c2, "k"), 0, "buckets were reset");
	cr_assert_eq(fg_allow(c2, "r", "k", 1, NULL), 0);
	cr_assert_eq(stat(shm_path(name), &after), 0);
	cr_assert_eq(before.st_ino, after.st_ino, "segment file replaced");
	fg_close(c2);
	fg_unlink(name);
}

Test(segment, create_with_other_capacity_is_eexist_unless_replace)
{
	const char *name = test_segment("recap");
	fg_segment_opts o = {.capacity = 32};
	fg_client *c = test_create("recap", 16), *c2 = NULL;
	struct stat before, after;
	fg_segment_stats st;
	int r;

	test_rule(c, "r", 5, 5, HOUR_MS, 0);
	cr_assert_eq(fg_allow(c, "r", "k", 5, NULL), 1);
	cr_assert_eq(stat(shm_path(name), &before), 0);

	c2 = (fg_client *)(uintptr_t)1;
	r = fg_create(name, &o, 0, &c2);
	cr_assert_eq(r, FG_EEXIST, "got %d (%s)", r, fg_strerror(r));
	cr_assert_null(c2);
	cr_assert_eq(stat(shm_path(name), &after), 0);
	cr_assert_eq(before.st_ino, after.st_ino, "segment touched");
	cr_assert_eq(before.st_size, after.st_size, "segment touched");

	r = fg_create(name, &o, FG_CREATE_REPLACE, &c2);
	cr_assert_eq(r, 0, "replace: %s", fg_strerror(r));
	cr_assert_eq(fg_stats(c2, &st), 0);
	cr_assert_eq(st.capacity, 32);
	cr_assert_eq(st.used, 0, "buckets of the old segment");
	cr_assert_eq(fg_allow(c2, "r", "k", 1, NULL), FG_ENORULE,
	             "rules of the old segment");
	cr_assert_eq(file_size(shm_path(name)), expected_size(32));
	assert_no_tmp_files(name);

	/* the old owner keeps its mapping of the replaced file */
	cr_assert_eq(fg_allow(c, "r", "k", 1, NULL), 0);
	cr_assert_eq(fg_stats(c, &st), 0);
	cr_assert_eq(st.capacity, 16);
	fg_close(c2);
	fg_close(c);

	/* REPLACE of a segment of the right capacity keeps it */
	r = fg_create(name, &o, FG_CREATE_REPLACE, &c2);
	cr_assert_eq(r, 0, "replace: %s", fg_strerror(r));
	test_rule(c2, "r", 5, 5, HOUR_MS, 0);
	cr_assert_eq(fg_allow(c2, "r", "k", 5, NULL), 1);
	fg_close(c2);
	r = fg_create(name, &o, FG_CREATE_REPLACE, &c2);
	cr_assert_eq(r, 0, "replace: %s", fg_strerror(r));
	cr_assert_eq(fg_allow(c2, "r", "k", 1, NULL), 0, "buckets were reset");
	fg_close(c2);
	fg_unlink(name);
}

/* ------------------------------------------------------- refusals */

/* fg_open() and fg_diagnose() refuse @segment with @want. */
static void assert_refused(const char *segment, int want)
{
	char msg[512];
	int r = open_result(segment), d;

	cr_assert_eq(r, want, "fg_open(%s) = %d (%s), want %d (%s)", segment, r,
	             fg_strerror(r), want, fg_strerror(want));
	d = fg_diagnose(segment, msg, sizeof msg);
	cr_assert_eq(d, want, "fg_diagnose(%s) = %d, want %d: %s", segment, d,
	             want, msg);
	cr_assert(strstr(msg, segment) != NULL, "diagnosis names no file: %s",
	          msg);
}

Test(segment, open_of_wrong_magic_is_ebadseg)
{
	const char *name = make_closed("magic", 16);
	const char *path = shm_path(name);
	struct fg_seg_hdr h;
	char *zeros;
	uint64_t size = file_size(path);
	int fd;

	patch(path, 0, "XLOODGT", 1);
	assert_refused(name, FG_EBADSEG);
	patch(path, 0, "FLOODGT", 8); /* restored: attachable again */
	cr_assert_eq(open_result(name), 0);
	patch(path, 7, "!", 1); /* the magic's NUL */
	assert_refused(name, FG_EBADSEG);

	/* right size, all zeros */
	zeros = calloc(1, size);
	cr_assert_not_null(zeros);
	patch(path, 0, zeros, size);
	free(zeros);
	assert_refused(name, FG_EBADSEG);

	/* some other file */
	fd = open(path, O_WRONLY | O_TRUNC);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, "hello, world\n", 13), 13);
	close(fd);
	assert_refused(name, FG_EBADSEG);

	/* a valid header of the layout, shifted by one byte */
	make_closed("magic", 16);
	read_hdr(path, &h);
	patch(path, 1, &h, sizeof h - 1);
	assert_refused(name, FG_EBADSEG);
	remove_seg(name);
}

Test(segment, open_of_other_layout_version_is_eversion)
{
	const char *name = make_closed("version", 16);
	const char *path = shm_path(name);
	uint32_t v;
	fg_client *c = NULL;
	int r;

	v = FG_LAYOUT_VERSION + 1;
	patch(path, offsetof(struct fg_seg_hdr, layout_version), &v, sizeof v);
	assert_refused(name, FG_EVERSION);
	v = 0;
	patch(path, offsetof(struct fg_seg_hdr, layout_version), &v, sizeof v);
	assert_refused(name, FG_EVERSION);
	v = UINT32_MAX;
	patch(path, offsetof(struct fg_seg_hdr, layout_version), &v, sizeof v);
	assert_refused(name, FG_EVERSION);

	/* the daemon of the new version replaces it when told to */
	r = fg_create(name, &(fg_segment_opts){.capacity = 16},
	              FG_CREATE_REPLACE, &c);
	cr_assert_eq(r, 0, "replace: %s", fg_strerror(r));
	fg_close(c);
	cr_assert_eq(open_result(name), 0);
	fg_unlink(name);
}

/* A segment made by floodgate 0.1 (layout version 2): its header as that
 * release wrote it (tests/fuzz/corpus/segment/v2-capacity-1-full), on a
 * file of its size.  Refused, with a message that says what to do; left
 * as it is unless the daemon is told to replace it. */
Test(segment, a_segment_of_layout_version_2_is_refused_with_what_to_do)
{
	const char *name = test_segment("v2");
	const char *path = shm_path(name);
	fg_client *c = NULL;
	uint64_t size;
	int r;

	fg_unlink(name);
	size = plant_old_segment("tests/fuzz/corpus/segment/v2-capacity-1-full",
	                         path);

	assert_refused(name, FG_EVERSION);
	cr_expect(strstr(fg_strerror(FG_EVERSION), "another layout version") &&
	              strstr(fg_strerror(FG_EVERSION), "snapshot"),
	          "%s", fg_strerror(FG_EVERSION));
	r = fg_create(name, &(fg_segment_opts){.capacity = 1}, 0, &c);
	cr_expect_eq(r, FG_EVERSION, "fg_create without replace: %d", r);
	cr_expect_eq(file_size(path), size, "left as it was");
	r = fg_create(name, &(fg_segment_opts){.capacity = 1},
	              FG_CREATE_REPLACE, &c);
	cr_assert_eq(r, 0, "replace: %s", fg_strerror(r));
	fg_close(c);
	cr_expect_eq(open_result(name), 0, "a segment of this version now");
	fg_unlink(name);
}

/* fg_create() of a name that holds something invalid, without
 * FG_CREATE_REPLACE: the reason, and the file left as it was. */
Test(segment, create_over_invalid_file_is_ebadseg_or_eversion_and_leaves_it)
{
	const char *name = make_closed("badcreate", 16);
	const char *path = shm_path(name);
	fg_segment_opts o = {.capacity = 16};
	fg_client *c = NULL;
	uint32_t v = FG_LAYOUT_VERSION + 1;
	int r;

	patch(path, 0, "XLOODGT", 1);
	r = fg_create(name, &o, 0, &c);
	cr_assert_eq(r, FG_EBADSEG, "fg_create over a foreign file: %d (%s)", r,
	             fg_strerror(r));
	cr_assert_null(c);
	assert_refused(name, FG_EBADSEG); /* left as it was */

	make_closed("badcreate", 16);
	patch(path, offsetof(struct fg_seg_hdr, layout_version), &v, sizeof v);
	r = fg_create(name, &o, 0, &c);
	cr_assert_eq(r, FG_EVERSION,
	             "fg_create over another layout version: %d (%s)", r,
	             fg_strerror(r));
	cr_assert_null(c);
	assert_refused(name, FG_EVERSION); /* left as it was */
	/* a segment of any version is a segment: fg_unlink removes it */
	cr_assert_eq(fg_unlink(name), 0);
	cr_assert_eq(open_result(name), FG_ENOSEG);
}

Test(segment, open_of_truncated_or_extended_segment_is_ebadseg)
{
	const char *name = test_segment("trunc");
	const char *path = shm_path(name);
	uint64_t full, sizes[9];
	unsigned i;

	make_closed("trunc", 16);
	full = file_size(path);
	sizes[0] = full - 1;
	sizes[1] = full - FG_SLOT_SIZE;
	sizes[2] = full - 44 * FG_COLD_SIZE; /* no cold parts */
	sizes[3] = FG_HDR_SIZE;
	sizes[4] = FG_HDR_SIZE - 1;
	sizes[5] = 100;
	sizes[6] = 0;
	sizes[7] = full + FG_SLOT_SIZE;
	sizes[8] = full + 4096;
	for (i = 0; i < 9; i++) {
		make_closed("trunc", 16);
		cr_assert_eq(truncate(path, (off_t)sizes[i]), 0);
		cr_log_info("size %" PRIu64 " of %" PRIu64, sizes[i], full);
		assert_refused(name, FG_EBADSEG);
	}
	remove_seg(name);
}

/* Each size and offset field, changed by one (capacity by a block's
 * worth of keys: capacities that share a geometry are equally valid):
 * refused with the checksum left stale, and refused with the checksum
 * made to match (the field checks, not only the checksum, catch it). */
Test(segment, open_of_segment_with_corrupt_size_or_offset_is_ebadseg)
{
	static const struct {
		const char *name;
		size_t off;
		uint8_t by;
	} fields[] = {
#define F(f) {#f, offsetof(struct fg_seg_hdr, f), 1}
	    F(hdr_size),
	    F(seg_size),
	    F(nslots),
	    F(slot_size),
	    F(rule_size),
	    F(max_rules),
	    F(key_max),
	    F(rules_off),
	    F(table_off),
	    F(nbuckets),
	    F(dirty_off),
	    F(cold_off),
	    F(bucket_size),
	    F(flags),
	    F(cold_size),
	    F(stripes),
	    F(dirty_buckets),
	    F(reserved0),
	    F(nrecords),
	    F(reserved),
	    F(reserved[3]),
#undef F
	    {"capacity", offsetof(struct fg_seg_hdr, capacity), 14},
	};
	const char *name = test_segment("fields");
	const char *path = shm_path(name);
	unsigned i, fix;

	for (i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		for (fix = 0; fix < 2; fix++) {
			struct fg_seg_hdr h;
			uint8_t *p;

			make_closed("fields", 16);
			read_hdr(path, &h);
			p = (uint8_t *)&h + fields[i].off;
			p[0] += fields[i].by; /* little-endian (mod 256) */
			if (fix)
				h.checksum = fg__seg_checksum(&h);
			write_hdr(path, &h);
			cr_log_info("%s + 1, checksum %s", fields[i].name,
			            fix ? "matching" : "stale");
			assert_refused(name, FG_EBADSEG);
		}
	}

	/* a consistent header of another capacity, on a file of this size */
	{
		struct fg_seg_hdr h;
		struct fg_seg_geom g;

		make_closed("fields", 16);
		read_hdr(path, &h);
		cr_assert_eq(fg__seg_geometry(1000, 0, &g), 0);
		h.capacity = 1000;
		h.nbuckets = g.nbuckets;
		h.nslots = g.nbuckets * FG_BUCKET_SLOTS;
		h.table_off = g.table_off;
		h.cold_off = g.cold_off;
		h.seg_size = g.size;
		h.checksum = fg__seg_checksum(&h);
		write_hdr(path, &h);
		assert_refused(name, FG_EBADSEG);
		/* ... and of a size past the address space */
		h.capacity = UINT64_MAX;
		h.checksum = fg__seg_checksum(&h);
		write_hdr(path, &h);
		assert_refused(name, FG_EBADSEG);
	}
	remove_seg(name);
}

Test(segment, open_of_segment_with_bad_checksum_is_ebadseg)
{
	const char *name = test_segment("cksum");
	const char *path = shm_path(name);
	const size_t offs[] = {
	    offsetof(struct fg_seg_hdr, checksum),
	    offsetof(struct fg_seg_hdr, checksum) + 7,
	    offsetof(struct fg_seg_hdr, hash_seed),
	    offsetof(struct fg_seg_hdr, hash_seed) + 15,
	    offsetof(struct fg_seg_hdr, created_ns),
	};
	unsigned i;

	for (i = 0; i < sizeof offs / sizeof offs[0]; i++) {
		struct fg_seg_hdr h;

		make_closed("cksum", 16);
		read_hdr(path, &h);
		((uint8_t *)&h)[offs[i]] ^= 0x10;
		write_hdr(path, &h);
		cr_log_info("byte %zu flipped", offs[i]);
		assert_refused(name, FG_EBADSEG);
	}
	remove_seg(name);
}

Test(segment, corrupt_header_does_not_affect_attached_client)
{
	const char *name = test_segment("live");
	const char *path = shm_path(name);
	fg_client *c = test_create("live", 16);
	uint64_t huge = UINT64_MAX;
	fg_segment_stats st;
	char key[8];
	unsigned i;

	test_rule(c, "r", 5, 5, HOUR_MS, 0);
	patch(path, offsetof(struct fg_seg_hdr, nslots), &huge, sizeof huge);
	patch(path, offsetof(struct fg_seg_hdr, seg_size), &huge, sizeof huge);
	assert_refused(name, FG_EBADSEG);
	/* the attached process uses its own validated copy of the geometry */
	for (i = 0; i < 16; i++) {
		snprintf(key, sizeof key, "k%u", i);
		cr_assert_eq(fg_allow(c, "r", key, 1, NULL), 1);
	}
	cr_assert_eq(fg_stats(c, &st), 0);
	cr_assert_eq(st.nslots, 44);
	cr_assert_eq(st.used, 16);
	fg_close(c);
	remove_seg(name);
}

/* The rule map and rule records change at run time and are not covered by
 * the checksum: a worker must read nonsense there as "no such rule", never
 * index out of the mapping or divide by zero. */
Test(segment, corrupt_rule_records_read_as_absent_rules)
{
	const char *name = test_segment("rules");
	const char *path = shm_path(name);
	const uint64_t rec0 = FG_HDR_SIZE; /* rule 0's record */
	fg_client *c = test_create("rules", 16), *w = NULL;
	struct fg_rule_params p;
	uint64_t v, seq;
	int fd;

	test_rule(c, "r", 5, 5, HOUR_MS, 0);
	test_rule(c, "d", 5, 5, HOUR_MS, FG_RULE_DEFAULT);

	v = UINT64_MAX; /* nnames */
	patch(path, offsetof(struct fg_seg_hdr, nnames), &v, sizeof v);
	cr_assert_eq(fg_open(name, 0, &w), 0);
	cr_assert_eq(fg_allow(w, "r", "k", 1, NULL), 1);
	cr_assert_eq(fg_allow(w, "nope", "k", 1, NULL), FG_ENORULE);
	fg_close(w);
	v = 2;
	patch(path, offsetof(struct fg_seg_hdr, nnames), &v, sizeof v);

	cr_assert_eq(fg_open(name, 0, &w), 0);
	cr_assert_eq(fg_allow_request(w, "u", "nope"), 1, "default rule");
	v = 9999; /* default_rule out of range */
	patch(path, offsetof(struct fg_seg_hdr, default_rule), &v, sizeof v);
	cr_assert_eq(fg_allow_request(w, "u", "nope"), FG_ENORULE);
	v = 200; /* an index never named */
	patch(path, offsetof(struct fg_seg_hdr, default_rule), &v, sizeof v);
	cr_assert_eq(fg_allow_request(w, "u", "nope"), FG_ENORULE);
	v = 2;
	patch(path, offsetof(struct fg_seg_hdr, default_rule), &v, sizeof v);
	cr_assert_eq(fg_allow_request(w, "u", "nope"), 1);

	/* rule 0's next live copy: interval 0 */
	fd = open(path, O_RDONLY);
	cr_assert(fd >= 0);
	cr_assert_eq(pread(fd, &seq, sizeof seq, (off_t)rec0), 8);
	close(fd);
	p = (struct fg_rule_params){.interval_ns = 0,
	                            .capacity = 5,
	                            .flags = FG__RULE_ACTIVE,
	                            .rate = 5,
	                            .period_ms = HOUR_MS};
	patch(path, rec0 + 8 + ((seq + 1) & 1) * sizeof p, &p, sizeof p);
	seq++;
	patch(path, rec0, &seq, sizeof seq);
	cr_assert_eq(fg_allow(w, "r", "k", 1, NULL), FG_ENORULE);
	/* a burst window past FG_TAU_MAX */
	p.interval_ns = UINT64_C(1) << 40;
	p.capacity = 1u << 20;
	patch(path, rec0 + 8 + ((seq + 1) & 1) * sizeof p, &p, sizeof p);
	seq++;
	patch(path, rec0, &seq, sizeof seq);
	cr_assert_eq(fg_allow(w, "r", "k", 1, NULL), FG_ENORULE);

	/* the owner sets the rule again: the bucket is still there */
	test_rule(c, "r", 5, 5, HOUR_MS, 0);
	cr_assert_eq(remaining_after_one(w, "k"), 3);
	fg_close(w);
	fg_close(c);
	fg_unlink(name);
}

/* Any process attached may write a slot's word: one naming rule 255 (past
 * the 255 rules, 0-254) crashed floodgated, whose harvest indexed its
 * per-rule sums with it.  The scan takes it for garbage. */
Test(segment, a_slot_naming_a_rule_past_the_table_is_garbage_to_the_scan)
{
	fg_client *c = test_create("rule255", 16);
	struct fg_slot_view v;
	uint64_t i, live = 0;

	test_rule(c, "r", 5, 5, HOUR_MS, 0);
	cr_assert_eq(fg_allow(c, "r", "k", 1, NULL), 1);
	for (i = 0; i < fg__table_nslots(&c->seg.tbl); i++) {
		struct fg_ref ref;

		if (!fg__slot_read(&c->seg.tbl, i, &v))
			continue;
		live++;
		cr_assert_eq(v.rule, 0);
		fg__table_ref_of(&c->seg.tbl, i, &ref);
		__atomic_or_fetch(&ref.s->word, UINT64_C(0xff) << 56,
		                  __ATOMIC_SEQ_CST);
		cr_assert_eq(fg__slot_read(&c->seg.tbl, i, &v), 0,
		             "a bucket of rule %u", v.rule);
	}
	cr_assert_eq(live, 1);
	fg_close(c);
	fg_unlink(test_segment("rule255"));
}

/* ------------------------------------- what is at the segment's name */

Test(segment, open_of_symlink_is_refused_and_create_never_follows_it)
{
	char real[80], real_path[128], link_name[80], victim[128];
	const char *link_path;
	struct stat st;
	char buf[16] = {0};
	fg_client *c = NULL;
	int fd, r;

	snprintf(real, sizeof real, "%s", make_closed("symreal", 16));
	snprintf(real_path, sizeof real_path, "%s", shm_path(real));
	snprintf(link_name, sizeof link_name, "%s", test_segment("symlink"));
	link_path = shm_path(link_name);
	unlink(link_path);

	/* a link to a valid segment */
	cr_assert_eq(symlink(real_path, link_path), 0);
	assert_refused(link_name, FG_EBADSEG);
	r = fg_create(link_name, &(fg_segment_opts){.capacity = 16}, 0, &c);
	cr_assert_lt(r, 0, "fg_create attached through a symlink");
	cr_assert_null(c);

	/* a link to a file that must not be touched */
	snprintf(victim, sizeof victim, "/tmp/fgtest-victim-%d", (int)getpid());
	fd = open(victim, O_RDWR | O_CREAT | O_TRUNC, 0644);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, "precious", 8), 8);
	close(fd);
	unlink(link_path);
	cr_assert_eq(symlink(victim, link_path), 0);
	assert_refused(link_name, FG_EBADSEG);
	r = fg_create(link_name, &(fg_segment_opts){.capacity = 16}, 0, &c);
	cr_assert_lt(r, 0);
	r = fg_create(link_name, &(fg_segment_opts){.capacity = 16},
	              FG_CREATE_REPLACE, &c);
	cr_assert_eq(r, 0, "replace a symlink: %s", fg_strerror(r));
	fg_close(c);
	/* the link itself was replaced by a segment; its target is intact */
	cr_assert_eq(lstat(link_path, &st), 0);
	cr_assert(S_ISREG(st.st_mode), "segment is not a regular file");
	cr_assert_eq(stat(victim, &st), 0);
	cr_assert_eq(st.st_size, 8);
	fd = open(victim, O_RDONLY);
	cr_assert_eq(read(fd, buf, sizeof buf - 1), 8);
	close(fd);
	cr_assert_str_eq(buf, "precious");
	cr_assert_eq((st.st_mode & 07777), 0644);

	/* a dangling link is no segment either, and is not created through */
	fg_unlink(link_name);
	unlink(victim);
	cr_assert_eq(symlink(victim, link_path), 0);
	assert_refused(link_name, FG_EBADSEG);
	r = fg_create(link_name, &(fg_segment_opts){.capacity = 16}, 0, &c);
	cr_assert_lt(r, 0);
	cr_assert_neq(stat(victim, &st), 0, "created through a symlink");
	unlink(link_path);
	fg_unlink(real);
}

/*
 * BUG: open(O_RDWR) of a directory fails with EISDIR, which
 * fg__errno_to_fg() (shm/segment.c) maps to FG_ESYS, "unexpected system
 * error"; fg_diagnose() says FG_EBADSEG ("is not a regular file"), though
 * floodgate.h says it returns "the error fg_open() would give now".
 */
Test(segment, open_of_directory_is_refused_as_not_a_segment)
{
	const char *name = test_segment("dir");
	const char *path = shm_path(name);
	fg_client *c = NULL;
	struct stat st;
	char msg[512];
	int r;

	rmdir(path);
	cr_assert_eq(mkdir(path, 0700), 0);
	r = open_result(name);
	cr_assert_lt(r, 0, "a directory was attached");
	r = fg_create(name, &(fg_segment_opts){.capacity = 16}, 0, &c);
	cr_assert_lt(r, 0);
	cr_assert_null(c);
	r = fg_create(name, &(fg_segment_opts){.capacity = 16},
	              FG_CREATE_REPLACE, &c);
	cr_assert_lt(r, 0);
	cr_assert_null(c);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert(S_ISDIR(st.st_mode), "the directory was replaced");
	assert_no_tmp_files(name);

	cr_assert_eq(fg_diagnose(name, msg, sizeof msg), FG_EBADSEG, "%s", msg);
	cr_assert(strstr(msg, "not a regular file") != NULL, "%s", msg);
	r = open_result(name);
	rmdir(path);
	cr_assert_eq(r, FG_EBADSEG, "fg_open of a directory: %d (%s)", r,
	             fg_strerror(r));
}

Test(segment, open_of_fifo_is_ebadseg)
{
	const char *name = test_segment("fifo");
	const char *path = shm_path(name);

	unlink(path);
	cr_assert_eq(mkfifo(path, 0600), 0);
	assert_refused(name, FG_EBADSEG);
	unlink(path);
	cr_assert_eq(open_result("/dev/null"), FG_EBADSEG);
}

Test(segment, open_of_missing_segment_is_enoseg)
{
	const char *name = test_segment("missing");
	char msg[512];

	fg_unlink(name);
	assert_refused(name, FG_ENOSEG);
	cr_assert_eq(fg_diagnose(name, msg, sizeof msg), FG_ENOSEG);
	cr_assert(strstr(msg, "does not exist") != NULL, "%s", msg);
	cr_assert_eq(fg_unlink(name), FG_ENOSEG);
	cr_assert_eq(open_result("/tmp/fgtest-no-such-dir/seg"), FG_ENOSEG);
}

Test(segment, create_in_missing_directory_is_enoseg)
{
	char path[64];
	fg_client *c = (fg_client *)(uintptr_t)1;
	int r;

	snprintf(path, sizeof path, "/tmp/fgtest-nodir-%d/seg", (int)getpid());
	r = fg_create(path, &(fg_segment_opts){.capacity = 16}, 0, &c);
	cr_assert_eq(r, FG_ENOSEG, "%d (%s)", r, fg_strerror(r));
	cr_assert_null(c);
}

Test(segment, unlink_removes_segments_only)
{
	struct stat st;
	char name[80], path[128], target[128];
	int fd;

	snprintf(name, sizeof name, "%s", test_segment("unlink"));
	snprintf(path, sizeof path, "%s", shm_path(name));
	/* a file that is not a segment */
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, "somebody's data\n", 16), 16);
	close(fd);
	cr_assert_eq(fg_unlink(name), FG_EBADSEG);
	cr_assert_eq(stat(path, &st), 0, "a foreign file was removed");
	cr_assert_eq(st.st_size, 16);
	/* shorter than the magic, or empty */
	cr_assert_eq(truncate(path, 7), 0);
	cr_assert_eq(fg_unlink(name), FG_EBADSEG);
	cr_assert_eq(truncate(path, 0), 0);
	cr_assert_eq(fg_unlink(name), FG_EBADSEG);
	cr_assert_eq(stat(path, &st), 0);
	unlink(path);

	/* a symlink to a segment: neither the link nor the target */
	snprintf(target, sizeof target, "%s",
	         shm_path(make_closed("unlinktarget", 16)));
	cr_assert_eq(symlink(target, path), 0);
	cr_assert_eq(fg_unlink(name), FG_EBADSEG);
	cr_assert_eq(lstat(path, &st), 0, "the link was removed");
	cr_assert_eq(stat(target, &st), 0, "the target was removed");
	unlink(path);
	unlink(target);

	/* a directory */
	cr_assert_eq(mkdir(path, 0700), 0);
	cr_assert_lt(fg_unlink(name), 0);
	cr_assert_eq(stat(path, &st), 0);
	rmdir(path);

	/* a segment, even a damaged one that starts with the magic */
	make_closed("unlink", 16);
	cr_assert_eq(truncate(path, 8), 0);
	cr_assert_eq(fg_unlink(name), 0);
	cr_assert_neq(stat(path, &st), 0);
	cr_assert_eq(fg_unlink(name), FG_ENOSEG);
}

/* ---------------------------------------------------- modes and owners */

Test(segment, create_refuses_modes_with_bits_for_others_or_without_owner_rw)
{
	static const uint32_t bad[] = {0666, 0664,  0662,  0661,  0604,   0601,
	                               0607, 0777,  0400,  0200,  0060,   0460,
	                               0260, 04660, 02660, 01660, 0100000};
	const char *name = test_segment("badmode");
	struct stat st;
	unsigned i;

	fg_unlink(name);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		fg_segment_opts o = {.capacity = 16, .mode = bad[i]};
		fg_client *c = (fg_client *)(uintptr_t)1;
		int r = fg_create(name, &o, 0, &c);

		cr_assert_eq(r, FG_EINVAL, "mode %04o: %d (%s)", bad[i], r,
		             fg_strerror(r));
		cr_assert_null(c);
		cr_assert_neq(stat(shm_path(name), &st), 0,
		              "mode %04o: a file was created", bad[i]);
	}
	assert_no_tmp_files(name);
}

Test(segment, created_segment_has_requested_mode_whatever_the_umask)
{
	const char *name = test_segment("mode");
	const mode_t masks[] = {0, 022, 0777};
	unsigned m, g;

	for (m = 0; m < 3; m++) {
		mode_t old = umask(masks[m]);

		for (g = 0; g < 8; g++) {
			uint32_t mode = 0600 | (g << 3);
			fg_segment_opts o = {.capacity = 16, .mode = mode};
			fg_client *c = NULL;
			struct stat st;
			int r;

			fg_unlink(name);
			r = fg_create(name, &o, 0, &c);
			cr_assert_eq(r, 0, "mode %04o: %s", mode,
			             fg_strerror(r));
			cr_assert_eq(stat(shm_path(name), &st), 0);
			cr_assert_eq(st.st_mode & 07777, mode,
			             "asked %04o under umask %04o, got %04o",
			             mode, masks[m], st.st_mode & 07777);
			cr_assert_eq(st.st_mode & 07, 0);
			fg_close(c);
		}
		for (g = 0; g < 2; g++) { /* owner rwx */
			fg_segment_opts o = {.capacity = 16,
			                     .mode = 0770 - g * 070};
			fg_client *c = NULL;
			struct stat st;

			fg_unlink(name);
			cr_assert_eq(fg_create(name, &o, 0, &c), 0);
			cr_assert_eq(stat(shm_path(name), &st), 0);
			cr_assert_eq(st.st_mode & 07777, o.mode);
			fg_close(c);
		}
		umask(old);
	}
	fg_unlink(name);
}

Test(segment, created_segment_default_mode_is_0660)
{
	const char *name = test_segment("defmode");
	fg_client *c = NULL;
	struct stat st;

	fg_unlink(name);
	umask(077);
	cr_assert_eq(fg_create(name, &(fg_segment_opts){.capacity = 16}, 0, &c),
	             0);
	cr_assert_eq(stat(shm_path(name), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0660, "got %04o", st.st_mode & 07777);
	fg_close(c);
	fg_unlink(name);
}

Test(segment, created_segment_has_requested_owner_and_group)
{
	const char *name = test_segment("owner");
	fg_segment_opts o = {.capacity = 16, .uid = -1, .gid = NOBODY};
	fg_client *c = NULL;
	struct stat st;

	fg_unlink(name);
	cr_assert_eq(fg_create(name, &o, 0, &c), 0);
	cr_assert_eq(stat(shm_path(name), &st), 0);
	cr_assert_eq(st.st_uid, 0);
	cr_assert_eq(st.st_gid, NOBODY);
	cr_assert_eq(st.st_mode & 07777, 0660);
	fg_close(c);
	fg_unlink(name);
	o.uid = NOBODY;
	cr_assert_eq(fg_create(name, &o, 0, &c), 0);
	cr_assert_eq(stat(shm_path(name), &st), 0);
	cr_assert_eq(st.st_uid, NOBODY);
	cr_assert_eq(st.st_gid, NOBODY);
	fg_close(c);
	fg_unlink(name);
}

/* What a child running as uid nobody saw. */
struct child_report {
	int setup;   /* 0, or the errno of the privilege drop */
	int open_r;  /* fg_open */
	int allow_r; /* fg_allow(rule "r", key "k") when attached */
	int diag_r;  /* fg_diagnose */
	char msg[1024];
};

static void as_nobody(const char *segment, gid_t gid, struct child_report *rep)
{
	int fds[2], status;
	ssize_t n;
	size_t got = 0;
	pid_t pid;

	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	cr_assert(pid >= 0, "fork");
	if (pid == 0) {
		struct child_report cr = {0};
		fg_client *c = NULL;

		close(fds[0]);
		if (setgroups(0, NULL) != 0 || setgid(gid) != 0 ||
		    setuid(NOBODY) != 0 || geteuid() != NOBODY) {
			cr.setup = errno ? errno : -1;
		} else {
			cr.open_r = fg_open(segment, 0, &c);
			if (cr.open_r == 0) {
				cr.allow_r = fg_allow(c, "r", "k", 1, NULL);
				fg_close(c);
			}
			cr.diag_r = fg_diagnose(segment, cr.msg, sizeof cr.msg);
		}
		if (write(fds[1], &cr, sizeof cr) != (ssize_t)sizeof cr)
			_exit(2);
		_exit(0);
	}
	close(fds[1]);
	while (got < sizeof *rep &&
	       (n = read(fds[0], (char *)rep + got, sizeof *rep - got)) > 0)
		got += (size_t)n;
	close(fds[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	          "child status %#x", status);
	cr_assert_eq(got, sizeof *rep);
	cr_assert_eq(rep->setup, 0, "dropping privileges: %s",
	             strerror(rep->setup));
	cr_log_info("as uid %d gid %d: %s", NOBODY, (int)gid, rep->msg);
}

static void assert_has(const char *msg, const char *part)
{
	cr_assert(strstr(msg, part) != NULL, "diagnosis lacks \"%s\": %s", part,
	          msg);
}

Test(segment, unreadable_segment_is_eacces_and_diagnosis_names_the_fix)
{
	const char *name = make_closed("eacces", 16);
	const char *path = shm_path(name);
	struct child_report rep;

	cr_assert_eq(chmod(path, 0000), 0);
	as_nobody(name, NOBODY, &rep);
	cr_assert_eq(rep.open_r, FG_EACCES, "fg_open: %d (%s)", rep.open_r,
	             fg_strerror(rep.open_r));
	cr_assert_eq(rep.diag_r, FG_EACCES, "fg_diagnose: %d", rep.diag_r);
	assert_has(rep.msg, path);
	assert_has(rep.msg, "owned by uid 0");
	assert_has(rep.msg, "group root");
	assert_has(rep.msg, "mode 0000");
	assert_has(rep.msg, "uid 65534");
	assert_has(rep.msg, "neither its owner nor in its group");
	assert_has(rep.msg, "lacks read and write permission");

	/* root itself is not refused (and is told so by fg_diagnose) */
	{
		char msg[512];

		cr_assert_eq(fg_diagnose(name, msg, sizeof msg), 0, "%s", msg);
		cr_assert_eq(open_result(name), 0);
	}
	fg_unlink(name);
}

Test(segment, diagnosis_names_exactly_the_permission_lacked)
{
	static const struct {
		uint32_t mode;
		const char *lacks;
	} cases[] = {
	    {0600, "lacks read and write permission"},
	    {0640, "lacks write permission"},
	    {0620, "lacks read permission"},
	};
	const char *name = test_segment("perm");
	const char *path = shm_path(name);
	unsigned i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		fg_segment_opts o = {.capacity = 16,
		                     .mode = cases[i].mode,
		                     .uid = -1,
		                     .gid = NOBODY};
		struct child_report rep;
		fg_client *c = NULL;
		char mode[16];

		fg_unlink(name);
		cr_assert_eq(fg_create(name, &o, 0, &c), 0);
		fg_close(c);
		as_nobody(name, NOBODY, &rep);
		cr_assert_eq(rep.open_r, FG_EACCES, "mode %04o: fg_open %d",
		             cases[i].mode, rep.open_r);
		cr_assert_eq(rep.diag_r, FG_EACCES);
		snprintf(mode, sizeof mode, "mode %04o", cases[i].mode);
		assert_has(rep.msg, path);
		assert_has(rep.msg, mode);
		assert_has(rep.msg, "group nogroup");
		assert_has(rep.msg, "a member of its group");
		assert_has(rep.msg, cases[i].lacks);
		if (cases[i].mode != 0600)
			cr_assert(strstr(rep.msg,
			                 "read and write permission") == NULL,
			          "names too much: %s", rep.msg);
	}
	fg_unlink(name);
}

/* The documented deployment: daemon as root, workers in the group. */
Test(segment, group_member_can_attach_a_0660_segment)
{
	fg_segment_opts o = {.capacity = 16, .uid = -1, .gid = NOBODY};
	const char *name = test_segment("group");
	struct child_report rep;
	fg_client *c = NULL;

	fg_unlink(name);
	cr_assert_eq(fg_create(name, &o, 0, &c), 0);
	test_rule(c, "r", 5, 5, HOUR_MS, 0);
	as_nobody(name, NOBODY, &rep);
	cr_assert_eq(rep.open_r, 0, "fg_open: %s", fg_strerror(rep.open_r));
	cr_assert_eq(rep.allow_r, 1);
	cr_assert_eq(rep.diag_r, 0, "%s", rep.msg);
	assert_has(rep.msg, "attachable");
	cr_assert_eq(remaining_after_one(c, "k"), 3, "the child's check");

	/* not in the group: refused */
	as_nobody(name, 1234, &rep);
	cr_assert_eq(rep.open_r, FG_EACCES);
	assert_has(rep.msg, "neither its owner nor in its group");
	fg_close(c);
	fg_unlink(name);
}

/* ------------------------------------------------------------ naming */

Test(segment, env_var_selects_segment_when_null_is_passed)
{
	const char *name = test_segment("env");
	char path[FG_SEG_PATH_MAX + 16], abs[64];
	fg_client *c = NULL, *w = NULL;
	struct stat st;

	fg_unlink(name);
	cr_assert_eq(setenv("FLOODGATE_SEGMENT", name, 1), 0);
	cr_assert_eq(fg__seg_path(NULL, path, sizeof path), 0);
	cr_assert_str_eq(path, shm_path(name));
	cr_assert_eq(fg_create(NULL, &(fg_segment_opts){.capacity = 16}, 0, &c),
	             0);
	cr_assert_eq(stat(shm_path(name), &st), 0, "created elsewhere");
	test_rule(c, "r", 5, 5, HOUR_MS, 0);
	cr_assert_eq(fg_open(NULL, 0, &w), 0);
	cr_assert_eq(remaining_after_one(w, "k"), 4);
	cr_assert_eq(remaining_after_one(c, "k"), 3, "not the same segment");
	fg_close(w);
	fg_close(c);
	cr_assert_eq(fg_unlink(NULL), 0);
	cr_assert_neq(stat(shm_path(name), &st), 0);
	cr_assert_eq(open_result(NULL), FG_ENOSEG);

	/* an absolute path */
	snprintf(abs, sizeof abs, "/tmp/fgtest-envabs-%d", (int)getpid());
	unlink(abs);
	cr_assert_eq(setenv("FLOODGATE_SEGMENT", abs, 1), 0);
	cr_assert_eq(fg_create(NULL, &(fg_segment_opts){.capacity = 16}, 0, &c),
	             0);
	fg_close(c);
	cr_assert_eq(stat(abs, &st), 0);
	cr_assert_eq(open_result(NULL), 0);
	cr_assert_eq(open_result(abs), 0);
	cr_assert_eq(fg_unlink(NULL), 0);

	/* an explicit name wins over the variable */
	cr_assert_eq(open_result(name), FG_ENOSEG);

	/* invalid in the variable: refused, not the default */
	cr_assert_eq(setenv("FLOODGATE_SEGMENT", "../etc/x", 1), 0);
	cr_assert_eq(open_result(NULL), FG_ENAME);
	/* empty or unset: the default name */
	cr_assert_eq(setenv("FLOODGATE_SEGMENT", "", 1), 0);
	cr_assert_eq(fg__seg_path(NULL, path, sizeof path), 0);
	cr_assert_str_eq(path, FG_SHM_DIR FG_DEFAULT_SEGMENT);
	unsetenv("FLOODGATE_SEGMENT");
	cr_assert_eq(fg__seg_path(NULL, path, sizeof path), 0);
	cr_assert_str_eq(path, FG_SHM_DIR FG_DEFAULT_SEGMENT);
}

static void abs_roundtrip(const char *path)
{
	fg_client *c = NULL, *w = NULL;
	struct stat st;
	int r;

	unlink(path);
	r = fg_create(path, &(fg_segment_opts){.capacity = 16, .mode = 0600}, 0,
	              &c);
	cr_assert_eq(r, 0, "fg_create(%s): %s", path, fg_strerror(r));
	cr_assert_eq(stat(path, &st), 0);
	cr_assert(S_ISREG(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0600);
	test_rule(c, "r", 5, 5, HOUR_MS, 0);
	r = fg_open(path, 0, &w);
	cr_assert_eq(r, 0, "fg_open(%s): %s", path, fg_strerror(r));
	cr_assert_eq(remaining_after_one(w, "k"), 4);
	cr_assert_eq(remaining_after_one(c, "k"), 3);
	fg_close(w);
	fg_close(c);
	cr_assert_eq(fg_unlink(path), 0);
	cr_assert_eq(open_result(path), FG_ENOSEG);
}

Test(segment, absolute_path_segments_work)
{
	char path[FG_SEG_PATH_MAX + 2], dir[FG_SEG_PATH_MAX];
	size_t n;

	snprintf(path, sizeof path, "/tmp/fgtest-abs-%d", (int)getpid());
	abs_roundtrip(path);
	snprintf(path, sizeof path, "/dev/shm/fgtest-abs-%d", (int)getpid());
	abs_roundtrip(path);

	/* the longest path accepted: FG_SEG_PATH_MAX bytes */
	snprintf(dir, sizeof dir, "/tmp/fgtest-long-%d", (int)getpid());
	cr_assert_eq(mkdir(dir, 0700), 0);
	n = strlen(dir);
	memset(path, 'a', sizeof path);
	memcpy(path, dir, n);
	path[n] = '/';
	path[FG_SEG_PATH_MAX] = '\0';
	path[n + 101] = '/'; /* two components under dir */
	path[n + 101] = '\0';
	cr_assert_eq(mkdir(path, 0700), 0);
	path[n + 101] = '/';
	cr_assert_eq(strlen(path), FG_SEG_PATH_MAX);
	abs_roundtrip(path);
	/* one byte more */
	path[FG_SEG_PATH_MAX] = 'a';
	path[FG_SEG_PATH_MAX + 1] = '\0';
	cr_assert_eq(open_result(path), FG_ENAME);
	path[n + 101] = '\0';
	rmdir(path);
	rmdir(dir);

	cr_assert_eq(open_result("/"), FG_ENAME);
	cr_assert_eq(open_result("tmp/x"), FG_ENAME, "relative path");
}

/* ------------------------------------------------ validate(), fuzzed */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint64_t interesting(uint64_t orig)
{
	switch (rnd() % 10) {
	case 0:
		return 0;
	case 1:
		return 1;
	case 2:
		return UINT64_MAX;
	case 3:
		return orig + 1;
	case 4:
		return orig - 1;
	case 5:
		return orig * 2;
	case 6:
		return UINT64_C(1) << (rnd() % 64);
	case 7:
		return orig ^ (UINT64_C(1) << (rnd() % 64));
	case 8:
		return (uint32_t)rnd();
	default:
		return rnd();
	}
}

/* The identity the checksum covers: bytes 0 .. checksum's end (the
 * first three lines). */
#define IDENTITY (offsetof(struct fg_seg_hdr, checksum) + 8)

static const size_t u32_fields[] = {
    offsetof(struct fg_seg_hdr, layout_version),
    offsetof(struct fg_seg_hdr, hdr_size),
    offsetof(struct fg_seg_hdr, slot_size),
    offsetof(struct fg_seg_hdr, rule_size),
    offsetof(struct fg_seg_hdr, max_rules),
    offsetof(struct fg_seg_hdr, key_max),
    offsetof(struct fg_seg_hdr, bucket_size),
    offsetof(struct fg_seg_hdr, flags),
    offsetof(struct fg_seg_hdr, cold_size),
    offsetof(struct fg_seg_hdr, stripes),
    offsetof(struct fg_seg_hdr, dirty_buckets),
    offsetof(struct fg_seg_hdr, reserved0),
};
static const size_t u64_fields[] = {
    offsetof(struct fg_seg_hdr, seg_size),
    offsetof(struct fg_seg_hdr, nslots),
    offsetof(struct fg_seg_hdr, capacity),
    offsetof(struct fg_seg_hdr, rules_off),
    offsetof(struct fg_seg_hdr, table_off),
    offsetof(struct fg_seg_hdr, nbuckets),
    offsetof(struct fg_seg_hdr, dirty_off),
    offsetof(struct fg_seg_hdr, cold_off),
    offsetof(struct fg_seg_hdr, nrecords),
    offsetof(struct fg_seg_hdr, reserved),
    offsetof(struct fg_seg_hdr, hash_seed),
    offsetof(struct fg_seg_hdr, created_ns),
    offsetof(struct fg_seg_hdr, checksum),
    offsetof(struct fg_seg_hdr, magic),
};

static void mutate(struct fg_seg_hdr *h)
{
	uint8_t *b = (uint8_t *)h;

	switch (rnd() % 6) {
	case 0:
		b[rnd() % IDENTITY] ^= (uint8_t)(1u << (rnd() % 8));
		break;
	case 1:
		b[rnd() % IDENTITY] = (uint8_t)rnd();
		break;
	case 2: {
		size_t off = u32_fields[rnd() % (sizeof u32_fields /
		                                 sizeof u32_fields[0])];
		uint32_t v;

		memcpy(&v, b + off, 4);
		v = (uint32_t)interesting(v);
		memcpy(b + off, &v, 4);
		break;
	}
	case 3: {
		size_t off = u64_fields[rnd() % (sizeof u64_fields /
		                                 sizeof u64_fields[0])];
		uint64_t v;

		memcpy(&v, b + off, 8);
		v = interesting(v);
		memcpy(b + off, &v, 8);
		break;
	}
	case 4: /* the rule map and counters: not part of the identity */
		b[128 + rnd() % (FG_HDR_SIZE - 128)] = (uint8_t)rnd();
		break;
	default: /* a run of random bytes */
	{
		size_t off = rnd() % IDENTITY, n = 1 + rnd() % 16, i;

		for (i = 0; i < n && off + i < IDENTITY; i++)
			b[off + i] = (uint8_t)rnd();
		break;
	}
	}
}

static struct fg_seg_hdr *valid_header(const char *tag, uint64_t *size)
{
	const char *name = make_closed(tag, 16);
	struct fg_seg_hdr *h = malloc(sizeof *h); /* exact size, for ASan */

	cr_assert_not_null(h);
	read_hdr(shm_path(name), h);
	*size = file_size(shm_path(name));
	fg_unlink(name);
	cr_assert_eq(fg__seg_validate(h, *size), 0);
	return h;
}

Test(segment, validate_accepts_only_the_unmodified_identity)
{
	uint64_t size, fsz, rejected = 0, eversion = 0;
	struct fg_seg_hdr *orig = valid_header("fuzz", &size);
	struct fg_seg_hdr *m = malloc(sizeof *m);
	unsigned i, j, n;

	cr_assert_not_null(m);
	rng_state = UINT64_C(0xf0220001);
	for (i = 0; i < 300000; i++) {
		int r, changed, magic_ok;

		memcpy(m, orig, sizeof *m);
		n = 1 + (unsigned)(rnd() % 4);
		for (j = 0; j < n; j++)
			mutate(m);
		fsz = rnd() % 8 ? size : interesting(size);
		r = fg__seg_validate(m, fsz);
		changed = memcmp(m, orig, IDENTITY) != 0;
		magic_ok = memcmp(m->magic, FG_SEG_MAGIC, 8) == 0;
		if (r != 0 && r != FG_EBADSEG && r != FG_EVERSION)
			cr_assert_fail("iteration %u: validate returned %d", i,
			               r);
		if ((r == 0) != (!changed && fsz == size))
			cr_assert_fail("iteration %u: validate returned %d for "
			               "a header %s, file size %" PRIu64
			               " (segment %" PRIu64 ")",
			               i, r, changed ? "changed" : "unchanged",
			               fsz, size);
		if (r == FG_EVERSION &&
		    (!magic_ok || m->layout_version == FG_LAYOUT_VERSION))
			cr_assert_fail("iteration %u: FG_EVERSION for magic ok "
			               "%d, version %u",
			               i, magic_ok, m->layout_version);
		if (magic_ok && m->layout_version != FG_LAYOUT_VERSION &&
		    fsz >= FG_HDR_SIZE && r != FG_EVERSION)
			cr_assert_fail("iteration %u: version %u gave %d", i,
			               m->layout_version, r);
		rejected += r != 0;
		eversion += r == FG_EVERSION;
	}
	cr_log_info("%" PRIu64 " rejected, %" PRIu64 " as another version",
	            rejected, eversion);
	cr_assert_gt(rejected, 200000);
	cr_assert_gt(eversion, 1000);
	free(m);
	free(orig);
}

/* Garbage with a matching checksum (a buggy writer, not line noise): what
 * validate accepts is always a consistent geometry for that file size. */
Test(segment, validate_never_accepts_inconsistent_geometry)
{
	uint64_t size, accepted = 0;
	struct fg_seg_hdr *orig = valid_header("fuzz2", &size);
	struct fg_seg_hdr *m = malloc(sizeof *m);
	unsigned i, j, n;

	cr_assert_not_null(m);
	rng_state = UINT64_C(0xf0220002);
	for (i = 0; i < 300000; i++) {
		struct fg_seg_geom g;
		uint64_t fsz;
		int r;

		memcpy(m, orig, sizeof *m);
		if (rnd() % 2) { /* another geometry, consistent in itself */
			m->capacity = rnd() % 3 ? 1 + rnd() % 100000
			                        : interesting(m->capacity);
			m->flags = rnd() % 4 == 0 ? FG_SEG_HUGE : 0;
			if (fg__seg_geometry(m->capacity, m->flags, &g) == 0) {
				m->nbuckets = g.nbuckets;
				m->nslots = g.nbuckets * FG_BUCKET_SLOTS;
				m->dirty_off = g.dirty_off;
				m->table_off = g.table_off;
				m->cold_off = g.cold_off;
				m->seg_size = g.size;
			}
		}
		n = (unsigned)(rnd() % 3);
		for (j = 0; j < n; j++)
			mutate(m);
		m->checksum = fg__seg_checksum(m);
		switch (rnd() % 3) {
		case 0:
			fsz = m->seg_size;
			break;
		case 1:
			fsz = size;
			break;
		default:
			fsz = interesting(m->seg_size);
			break;
		}
		r = fg__seg_validate(m, fsz);
		if (r != 0)
			continue;
		accepted++;
		if (memcmp(m->magic, FG_SEG_MAGIC, 8) != 0 ||
		    m->layout_version != FG_LAYOUT_VERSION ||
		    m->hdr_size != FG_HDR_SIZE ||
		    m->slot_size != FG_SLOT_SIZE ||
		    m->rule_size != FG_RULE_SIZE ||
		    m->max_rules != FG_MAX_RULES ||
		    m->key_max != FG_TABLE_KEY_MAX ||
		    m->bucket_size != FG_BUCKET_SIZE ||
		    m->cold_size != FG_COLD_SIZE ||
		    m->rules_off != FG_HDR_SIZE ||
		    m->dirty_off != orig->dirty_off ||
		    fg__seg_geometry(m->capacity, m->flags, &g) != 0 ||
		    m->nbuckets != g.nbuckets ||
		    m->nslots != m->nbuckets * FG_BUCKET_SLOTS ||
		    m->table_off != g.table_off || m->cold_off != g.cold_off ||
		    m->seg_size != g.size || fsz != g.size ||
		    m->dirty_off + (m->nbuckets + 4095) / 4096 * 8 >
		        m->table_off ||
		    m->nrecords != g.nrecords ||
		    m->table_off +
		            fg__table_region_size(m->nbuckets, m->nrecords) >
		        m->cold_off ||
		    m->cold_off + m->nslots * FG_COLD_SIZE > fsz)
			cr_assert_fail(
			    "iteration %u: accepted capacity %" PRIu64
			    " nslots %" PRIu64 " seg_size %" PRIu64
			    " in a file of %" PRIu64,
			    i, m->capacity, m->nslots, m->seg_size, fsz);
	}
	cr_log_info("%" PRIu64 " consistent headers accepted", accepted);
	cr_assert_gt(accepted, 10000, "the acceptance path was not exercised");
	free(m);
	free(orig);
}
