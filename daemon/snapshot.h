/*
 * snapshot.h - the buckets and the gossip high-water marks, on disk.
 *
 * The segment and the daemon's state files live on tmpfs and die with the
 * host.  A snapshot keeps, across a reboot, what a rate limiter must not
 * forget: every bucket that has not refilled (as the debt it carries, in
 * ns) and the highest count seen from each other node per key (without
 * which a rebooted node would debit its peers' whole consumption again).
 * Full buckets are not written: a full bucket and an absent one decide
 * alike.  The buckets need only the segment: a single host, which does
 * not gossip, snapshots them alone, and the marks are written and restored
 * only by a daemon that gossips (a node given).
 *
 * Consistency.  The daemon writes a snapshot between two rounds of its one
 * thread, so buckets and marks are taken at one instant: each remote debit
 * is either in both (restored bucket and mark) or in neither (the peer's
 * repair debits it again after the restore).  What a crash
 * between snapshots loses is the local consumption since the last one:
 * those buckets come back fuller than they were, by at most what workers
 * consumed in one snapshot interval.  Time is converted through the wall
 * clock: the debt left is the debt written less the wall-clock time
 * since, and never less than that debt when the clock went backwards, so
 * an unknown gap counts as no time at all (buckets come back emptier, not
 * fuller).  Within one boot the monotonic clock is used instead.
 *
 * Format (all fields fixed-width, host byte order: a snapshot does not
 * leave its host): a 128-byte header, then nbuckets bucket records, then
 * nremote remote records, 128 bytes each; a BLAKE2b-256 checksum in the
 * header covers the header and everything after it.  Written to PATH.tmp,
 * fsynced, then renamed over PATH (and the directory fsynced): a crash leaves
 * the old snapshot or the new one, never a mix.
 */
#ifndef FGD_SNAPSHOT_H
#define FGD_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "gossip/node.h"
#include "lib/floodgate.h"

#define FGD_SNAP_MAGIC       "FGSNAP\0\0"
#define FGD_SNAP_VERSION     2u /* 2: marks by their ledger id (node.h) */
#define FGD_SNAP_VERSION_MIN 1u /* read too: marks by name */
#define FGD_SNAP_REC_SIZE    128u
#define FGD_SNAP_SUM_BYTES   32u

struct fgd_snap_hdr {
	uint8_t magic[8];
	uint32_t version;
	uint32_t rec_size;
	uint64_t nbuckets;
	uint64_t nremote;
	uint64_t realtime_ns;  /* CLOCK_REALTIME when written */
	uint64_t monotonic_ns; /* CLOCK_MONOTONIC when written */
	uint8_t boot_id[40];   /* the kernel's, NUL-padded */
	uint8_t pad[8];
	uint8_t sum[FGD_SNAP_SUM_BYTES]; /* BLAKE2b-256 of header (this field
	                                  * zeroed) and body */
};

/* A bucket: its rule by name, its key, the debt it carried. */
struct fgd_snap_bucket {
	char rule[FG_RULE_NAME_MAX + 1];
	uint8_t key[FG_KEY_MAX];
	uint32_t key_len;
	uint32_t pad;
	uint64_t debt_ns; /* TAT - now when written; > 0 */
	uint8_t pad2[16];
};

/* A high-water mark of another node's cumulative count, by the remote
 * ledger's id of (origin, rule, key): the id key is derived from the node
 * key, so a snapshot restores into the ledger of the node that wrote it
 * (with another node key, its marks are found by nobody). */
struct fgd_snap_mark {
	uint64_t id[2];
	uint64_t origin;
	uint64_t incarnation;
	uint64_t count, floor;
	uint64_t consumed;
	uint8_t pad[72];
};

/* Version 1's mark, by name; still restored. */
struct fgd_snap_remote {
	char rule[FG_RULE_NAME_MAX + 1];
	uint8_t key[FG_KEY_MAX];
	uint32_t key_len;
	uint32_t pad;
	uint64_t origin;
	uint64_t incarnation;
	uint64_t count;
};

_Static_assert(sizeof(struct fgd_snap_hdr) == 128, "snapshot header");
_Static_assert(sizeof(struct fgd_snap_bucket) == FGD_SNAP_REC_SIZE, "bucket");
_Static_assert(sizeof(struct fgd_snap_remote) == FGD_SNAP_REC_SIZE, "mark");
_Static_assert(sizeof(struct fgd_snap_mark) == FGD_SNAP_REC_SIZE, "mark v2");

struct fgd_snap_counts {
	uint64_t buckets; /* written, or restored */
	uint64_t remote;  /* marks written, or restored */
	uint64_t skipped; /* restore: unknown rule, refilled, no room, or a
	                   * mark with no node to take it */
	uint64_t age_ms;  /* restore: how long ago the snapshot was written */
};

/* The checksum of a snapshot with header @h and records @body. */
void fgd_snapshot_sum(const struct fgd_snap_hdr *h, const void *body,
                      size_t len, uint8_t out[FGD_SNAP_SUM_BYTES]);

/* The checks a snapshot passes before its checksum is even computed, on
 * its header and the size of its file; 0, or -1 and why in @err. */
int fgd_snapshot_check_hdr(const struct fgd_snap_hdr *h, uint64_t file_size,
                           char *err, size_t errlen);
/* The check record @i of a snapshot with header @h passes: 0 or -1. */
int fgd_snapshot_check_rec(const struct fgd_snap_hdr *h, uint64_t i,
                           const void *rec);

/* Write the buckets of @fg and, when @marks is not NULL (a daemon that
 * gossips, on the same segment), its remote ledger to @path.  0, or -1
 * with a message in @err. */
int fgd_snapshot_write(const char *path, fg_client *fg, struct fgd_node *marks,
                       struct fgd_snap_counts *out, char *err, size_t errlen);

/*
 * Restore @path into @fg: each bucket of a rule that exists (by name)
 * gets at least the debt it had left, converted to now; with @marks, each
 * remote mark is raised to the one written (without, marks are skipped).
 * Never lowers anything, so it is safe while workers already use the
 * segment.  0 done; 1 no snapshot there; -1 a file that is not a valid
 * snapshot (nothing restored), with @err.
 */
int fgd_snapshot_restore(const char *path, fg_client *fg,
                         struct fgd_node *marks, uint64_t now_ms,
                         struct fgd_snap_counts *out, char *err, size_t errlen);

/* Whether @path holds an intact snapshot, as restore checks it, without
 * applying it: 0 yes (its age in @out->age_ms), 1 no file, -1 with @err. */
int fgd_snapshot_verify(const char *path, struct fgd_snap_counts *out,
                        char *err, size_t errlen);

/*
 * Whether the directory of @path can hold snapshots safely: it exists, is
 * a directory owned by us or root, we may write it (a read-only mount
 * fails here, as under ProtectSystem=strict without StateDirectory=), and
 * nobody else may (a snapshot is checksummed, not signed: who can replace
 * it can fill any bucket).  0, or -1 with the reason and its fix in @err.
 */
int fgd_snapshot_check_dir(const char *path, char *err, size_t errlen);

#endif
