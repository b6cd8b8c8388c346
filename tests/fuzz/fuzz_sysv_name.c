/* SPDX-License-Identifier: ISC */
/*
 * fuzz_sysv_name.c - the name file of a segment in System V memory, read
 * from a file whoever could write it may have written: fg__sysv_name_check().
 *
 * Input: the file's bytes, as pread() returns them (the library reads one
 * byte more than a record, so a longer file is seen as longer).
 *
 * The check is last, so every field check is reached by mutation; but a
 * fuzzer cannot forge the check, so the target checks twice: the bytes as
 * given, then the same fields with the check recomputed
 * (fg__sysv_name_sum()), which lets any combination of fields reach the
 * "valid" verdict and meet the oracle.
 *
 * Oracle: a record that passes is exactly 64 bytes, of this record and
 * layout version, names an id >= 0 with no flags and zero padding, a size
 * of at least a header, and is byte for byte what fg__sysv_name_make()
 * writes for its fields: nothing the library then uses (the id, the size,
 * the header's checksum) was read from bytes the check does not cover.
 */
#include <string.h>

#include "shm/sysv.h"
#include "tests/fuzz/fuzz.h"

static void check_valid(const uint8_t *data, size_t size,
                        const struct fg_sysv_name *n)
{
	struct fg_seg_hdr h;
	struct fg_sysv_name again;

	FUZZ_ASSERT(size == sizeof *n);
	FUZZ_ASSERT(memcmp(n->magic, FG_SYSV_MAGIC, sizeof n->magic) == 0);
	FUZZ_ASSERT(n->version == FG_SYSV_VERSION);
	FUZZ_ASSERT(n->layout_version == FG_LAYOUT_VERSION);
	FUZZ_ASSERT(n->shmid >= 0 && n->flags == 0);
	FUZZ_ASSERT(n->zero[0] == 0 && n->zero[1] == 0);
	FUZZ_ASSERT(n->seg_size >= FG_HDR_SIZE);
	memset(&h, 0, sizeof h);
	h.seg_size = n->seg_size;
	h.checksum = n->ident;
	fg__sysv_name_make(&again, n->shmid, &h);
	FUZZ_ASSERT(memcmp(&again, data, sizeof again) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fg_sysv_name n, mended;
	int r, r2;

	r = fg__sysv_name_check(data, size, &n);
	FUZZ_ASSERT(r == 0 || r == FG_EBADSEG || r == FG_EVERSION);
	if (r == 0)
		check_valid(data, size, &n);
	if (size != sizeof n)
		return 0;
	/* the same fields under a check that matches them */
	memcpy(&mended, data, sizeof mended);
	mended.check = fg__sysv_name_sum(&mended);
	r2 = fg__sysv_name_check(&mended, sizeof mended, &n);
	FUZZ_ASSERT(r2 == 0 || r2 == FG_EBADSEG || r2 == FG_EVERSION);
	/* The check is the last test: mending it can only turn its failure
	 * into success, never change another verdict. */
	FUZZ_ASSERT(r2 == 0 || r2 == r);
	if (r2 == 0)
		check_valid((const uint8_t *)&mended, sizeof mended, &n);
	return 0;
}
