/* SPDX-License-Identifier: ISC */
/*
 * fuzz_snapshot.c - a snapshot file read back after a reboot:
 * fgd_snapshot_check_hdr() and fgd_snapshot_check_rec() (daemon/snapshot.c).
 *
 * Input: the file, whole; its length is the file size.  The MAC is
 * checked after the header (a fuzzer cannot forge it, and the header's
 * checks run before it is computed, so that a lying header never sizes a
 * read); the seeds carry a MAC under KEY below, as the daemon's would
 * under its own.
 *
 * Oracle: a header that passes promises exactly what the restore goes on
 * to rely on: the version (4, or 3 read as 4 of GCRA buckets only:
 * versions 1 and 2 had no MAC and are refused) and record size are this
 * daemon's,
 * and the file
 * holds the header and exactly nbuckets + nremote records, with no
 * overflow on the way; a bucket (or a version 1 mark) that passes has a
 * NUL-terminated, NUL-padded rule name of 1..31 bytes and a key of 1..64
 * bytes, and is a bucket, a window's counts (version 4 only) or an
 * override (version 4 only) with a nonzero capacity, rate and period and
 * no debt; a mark that passes has an id, an origin, and a count above
 * its floor.  A file whose MAC holds under KEY holds under no other key.
 */
#include <sodium.h>
#include <string.h>

#include "daemon/snapshot.h"
#include "tests/fuzz/fuzz.h"

static void check_rec_valid(const struct fgd_snap_hdr *h,
                            const struct fgd_snap_bucket *r)
{
	size_t len = strnlen(r->rule, sizeof r->rule), i;

	/* a window's counts: in a version that has them */
	FUZZ_ASSERT(r->kind != FGD_SNAP_WINDOW ||
	            (h->version == FGD_SNAP_VERSION && r->debt_ns > 0));
	FUZZ_ASSERT(len >= 1 && len < sizeof r->rule);
	for (i = len; i < sizeof r->rule; i++)
		FUZZ_ASSERT(r->rule[i] == '\0');
	FUZZ_ASSERT(r->key_len >= 1 && r->key_len <= FG_KEY_MAX);
	FUZZ_ASSERT(r->kind == FGD_SNAP_BUCKET || r->kind == FGD_SNAP_WINDOW ||
	            r->kind == FGD_SNAP_OVERRIDE);
	if (r->kind == FGD_SNAP_OVERRIDE)
		FUZZ_ASSERT(h->version == 4 && r->debt_ns == 0 &&
		            r->capacity != 0 && r->rate != 0 &&
		            r->period_ms != 0 && r->prefix <= 1);
}

static void check_mark_valid(const struct fgd_snap_mark *m)
{
	FUZZ_ASSERT((m->id[0] | m->id[1]) != 0);
	FUZZ_ASSERT(m->origin != 0);
	FUZZ_ASSERT(m->count > m->floor);
}

static const uint8_t KEY[FGD_SNAP_KEY_BYTES] =
    "fuzz_snapshot.c's key, 32 bytes.";

/* The MAC of the file under KEY holds under no other key. */
static void check_mac(const struct fgd_snap_hdr *h, const uint8_t *body,
                      size_t len)
{
	uint8_t mac[FGD_SNAP_SUM_BYTES], other[FGD_SNAP_KEY_BYTES];

	fgd_snapshot_mac(KEY, h, body, len, mac);
	if (memcmp(mac, h->sum, sizeof mac) != 0)
		return; /* what a forger gets: refused */
	memcpy(other, KEY, sizeof other);
	other[0] ^= 1;
	fgd_snapshot_mac(other, h, body, len, mac);
	FUZZ_ASSERT(memcmp(mac, h->sum, sizeof mac) != 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fgd_snap_hdr h;
	union {
		struct fgd_snap_bucket bucket;
		struct fgd_snap_mark mark;
	} rec;
	char err[256];
	uint64_t i, n;

	memset(&h, 0, sizeof h);
	memcpy(&h, data, size < sizeof h ? size : sizeof h);
	if (fgd_snapshot_check_hdr(&h, size, err, sizeof err) != 0) {
		FUZZ_ASSERT(err[0] != '\0');
		return 0;
	}
	FUZZ_ASSERT(size >= sizeof h);
	FUZZ_ASSERT((h.version == FGD_SNAP_VERSION ||
	             h.version == FGD_SNAP_VERSION_3) &&
	            h.rec_size == FGD_SNAP_REC_SIZE);
	FUZZ_ASSERT(h.nbuckets <= size / FGD_SNAP_REC_SIZE &&
	            h.nremote <= size / FGD_SNAP_REC_SIZE);
	n = h.nbuckets + h.nremote;
	FUZZ_ASSERT(sizeof h + n * FGD_SNAP_REC_SIZE == size);
	check_mac(&h, data + sizeof h, size - sizeof h);
	for (i = 0; i < n; i++) {
		memcpy(&rec, data + sizeof h + i * FGD_SNAP_REC_SIZE,
		       sizeof rec);
		if (fgd_snapshot_check_rec(&h, i, &rec) != 0)
			continue;
		if (i >= h.nbuckets)
			check_mark_valid(&rec.mark);
		else
			check_rec_valid(&h, &rec.bucket);
	}
	return 0;
}
