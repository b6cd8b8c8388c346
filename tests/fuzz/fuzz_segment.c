/* SPDX-License-Identifier: ISC */
/*
 * fuzz_segment.c - a segment header read from a file anyone in the
 * segment's group may have written: fg__seg_validate().
 *
 * Input: the file size (8 bytes, little-endian: segments never leave the
 * host, layout.h), then the header as pread() would return it, zero-padded
 * or cut to sizeof(struct fg_seg_hdr).  Only the identity (the first 192
 * bytes) is looked at, so the seeds stop there.
 *
 * The checksum is checked last, so every field check is reached by
 * mutation; but a fuzzer cannot forge the checksum, so past it only the
 * seeds would go.  The target therefore validates twice: the header as
 * given, then the same header with its checksum recomputed, which lets
 * any combination of fields reach the "valid" verdict and meet the
 * oracle.
 *
 * Oracle: what fg__seg_use() (shm/segment.c) and the table go on to
 * trust about a header that validated: the sizes and offsets are the
 * compiled-in ones, the rule table, the override region (at the page
 * after the rules: segment.c), the dirty map, the table's region (its
 * line, stripes and buckets) and the cold parts fit in the file in that
 * order with no overflow, the file is exactly seg_size, the map has a bit
 * for every 64 buckets, there are two slots a bucket, at least two
 * buckets, and at least as many slots as keys.
 */
#include <string.h>

#include "shm/segment.h"
#include "tests/fuzz/fuzz.h"

static uint64_t get_le64(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < 8 && i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void check_valid(const struct fg_seg_hdr *h, uint64_t file_size)
{
	uint64_t rules_end, pages;

	FUZZ_ASSERT(memcmp(h->magic, FG_SEG_MAGIC, sizeof h->magic) == 0);
	FUZZ_ASSERT(h->layout_version == FG_LAYOUT_VERSION);
	FUZZ_ASSERT(h->hdr_size == FG_HDR_SIZE && h->rules_off >= h->hdr_size);
	FUZZ_ASSERT(
	    h->slot_size == FG_SLOT_SIZE && h->rule_size == FG_RULE_SIZE &&
	    h->max_rules == FG_MAX_RULES && h->key_max == FG_TABLE_KEY_MAX &&
	    h->bucket_size == FG_BUCKET_SIZE && h->cold_size == FG_COLD_SIZE &&
	    h->stripes == FG_TABLE_STRIPES &&
	    h->dirty_buckets == FG_DIRTY_BUCKETS);
	FUZZ_ASSERT(h->seg_size == file_size);
	rules_end = h->rules_off + (uint64_t)h->max_rules * h->rule_size;
	FUZZ_ASSERT(rules_end <= h->dirty_off && h->dirty_off % 4096 == 0);
	FUZZ_ASSERT((rules_end + 4095) / 4096 * 4096 + FG_OVR_BYTES <=
	            h->dirty_off);
	FUZZ_ASSERT(h->nbuckets >= 2 &&
	            h->nbuckets <= h->seg_size / FG_BUCKET_SIZE);
	pages = (h->nbuckets + FG_DIRTY_BUCKETS - 1) / FG_DIRTY_BUCKETS;
	FUZZ_ASSERT(h->dirty_off + (pages + 63) / 64 * 8 <= h->table_off);
	FUZZ_ASSERT(h->table_off % 64 == 0 && h->table_off <= h->seg_size);
	FUZZ_ASSERT(h->nrecords <= h->capacity);
	FUZZ_ASSERT(h->table_off +
	                fg__table_region_size(h->nbuckets, h->nrecords) <=
	            h->cold_off);
	FUZZ_ASSERT(h->cold_off % 64 == 0 && h->cold_off <= h->seg_size);
	FUZZ_ASSERT(h->nslots == h->nbuckets * FG_BUCKET_SLOTS);
	FUZZ_ASSERT(h->cold_off + h->nslots * FG_COLD_SIZE <= h->seg_size);
	FUZZ_ASSERT(h->capacity >= 1 && h->nslots >= h->capacity);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fg_seg_hdr h;
	uint64_t file_size;
	int r, r2;

	file_size = get_le64(data, size);
	memset(&h, 0, sizeof h);
	if (size > 8)
		memcpy(&h, data + 8, size - 8 < sizeof h ? size - 8 : sizeof h);

	r = fg__seg_validate(&h, file_size);
	FUZZ_ASSERT(r == 0 || r == FG_EBADSEG || r == FG_EVERSION);
	if (r == 0)
		check_valid(&h, file_size);

	h.checksum = fg__seg_checksum(&h);
	r2 = fg__seg_validate(&h, file_size);
	FUZZ_ASSERT(r2 == 0 || r2 == FG_EBADSEG || r2 == FG_EVERSION);
	/* The checksum is the last check: mending it can only turn a
	 * checksum failure into success, never change another verdict. */
	FUZZ_ASSERT(r2 == 0 || r2 == r);
	if (r2 == 0)
		check_valid(&h, file_size);
	return 0;
}
