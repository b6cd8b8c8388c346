/* SPDX-License-Identifier: ISC */
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
 * fuller).  Within one boot the monotonic clock is used instead.  A
 * window rule's bucket is written as its counts and the time left in its
 * window: restored while that window would still run, its counts go to
 * the current window (and to the previous one, for a sliding window, if
 * it has ended since); windows are numbered by each boot's clock, so a
 * restored window ends up to a window earlier or later than it would
 * have.
 *
 * Overrides set at run time (floodgate override set) live in the segment
 * only, so they are written too, as records among the buckets' (version
 * 4): a restart on a new segment sets them again.  The config's are not:
 * the config sets them.
 *
 * Format (all fields fixed-width, host byte order: a snapshot does not
 * leave its host): a 128-byte header, then nbuckets bucket records (a
 * bucket or, by its kind, an override), then nremote remote records, 128
 * bytes each; a MAC in the header (keyed
 * BLAKE2b-256) covers the header and everything after it.  Its key is
 * the daemon's alone (daemon/snapkey.h: derived from the node's secret
 * key, or a key file in the state directory): whoever can write the file
 * but not read the key cannot make a snapshot the daemon restores.  A
 * snapshot that fails the MAC, or of a version before 3 (whose checksum
 * had no key), is refused and kept aside as PATH.refused, never restored.
 * Written to PATH.tmp,
 * fsynced, then renamed over PATH (and the directory fsynced): a crash leaves
 * the old snapshot or the new one, never a mix.
 */
#ifndef FGD_SNAPSHOT_H
#define FGD_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "gossip/node.h"
#include "lib/floodgate.h"

#define FGD_SNAP_MAGIC "FGSNAP\0\0"
/* 4: buckets of window rules (their counts), and records of overrides
 * set at run time among the buckets'; 3: the checksum is a MAC; 2: marks
 * by their ledger id (node.h); 1: marks by name.  Version 3 is read as a
 * version 4 of GCRA buckets only (its records' kind was padding, zero).
 * Versions 1 and 2 are recognised, to say why they are refused: anyone
 * who could write them could forge them. */
#define FGD_SNAP_VERSION   4u
#define FGD_SNAP_VERSION_3 3u
#define FGD_SNAP_REC_SIZE  128u
#define FGD_SNAP_SUM_BYTES 32u
#define FGD_SNAP_KEY_BYTES 32u

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
	uint8_t sum[FGD_SNAP_SUM_BYTES]; /* keyed BLAKE2b-256 of header (this
	                                  * field zeroed) and body */
};

/* A bucket: its rule by name, its key, the debt it carried; of kind
 * FGD_SNAP_WINDOW, a window rule's bucket: its counts and when its
 * window was to end.  Or, of kind FGD_SNAP_OVERRIDE, an override set at
 * run time (floodgate override set): its rule, its key or prefix, its
 * capacity and rate.  Overrides of the config are not written: the
 * config sets them. */
struct fgd_snap_bucket {
	char rule[FG_RULE_NAME_MAX + 1];
	uint8_t key[FG_KEY_MAX];
	uint32_t key_len;
	uint32_t kind;    /* FGD_SNAP_BUCKET, _WINDOW or _OVERRIDE */
	uint64_t debt_ns; /* bucket: TAT - now when written; > 0.  A window:
	                   * ns until the current window ended; > 0 */
	union {
		struct {
			uint32_t prev; /* a window: tokens of the previous */
			uint32_t cur;  /* and of the current window */
		};
		struct {
			uint32_t capacity, rate, period_ms; /* override */
			uint32_t prefix; /* override: 1 a prefix, 0 a key */
		};
	};
};
#define FGD_SNAP_BUCKET   0u
#define FGD_SNAP_OVERRIDE 1u
#define FGD_SNAP_WINDOW   2u

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

_Static_assert(sizeof(struct fgd_snap_hdr) == 128, "snapshot header");
_Static_assert(sizeof(struct fgd_snap_bucket) == FGD_SNAP_REC_SIZE, "bucket");
_Static_assert(sizeof(struct fgd_snap_mark) == FGD_SNAP_REC_SIZE, "mark v2");

struct fgd_snap_counts {
	uint64_t buckets;   /* written, or restored */
	uint64_t remote;    /* marks written, or restored */
	uint64_t skipped;   /* restore: unknown rule, refilled, no room, or a
	                     * mark with no node to take it */
	uint64_t overrides; /* written, or restored (of buckets) */
	uint64_t age_ms;    /* restore: how long ago the snapshot was written */
};

/* The MAC under @key of a snapshot with header @h and records @body. */
void fgd_snapshot_mac(const uint8_t key[FGD_SNAP_KEY_BYTES],
                      const struct fgd_snap_hdr *h, const void *body,
                      size_t len, uint8_t out[FGD_SNAP_SUM_BYTES]);

/* The checks a snapshot passes before its MAC is even computed, on its
 * header and the size of its file; 0, or -1 and why in @err. */
int fgd_snapshot_check_hdr(const struct fgd_snap_hdr *h, uint64_t file_size,
                           char *err, size_t errlen);
/* The check record @i of a snapshot with header @h passes: 0 or -1. */
int fgd_snapshot_check_rec(const struct fgd_snap_hdr *h, uint64_t i,
                           const void *rec);

/* A snapshot's records in memory: nbuckets buckets, then nremote marks,
 * FGD_SNAP_REC_SIZE bytes each. */
struct fgd_snap_body {
	uint8_t *recs;
	uint64_t nbuckets, nremote;
};

/* The records of the buckets of @fg and, with @marks, its remote ledger,
 * into @body (free with fgd_snapshot_body_free).  0, or -1 no memory. */
int fgd_snapshot_collect(fg_client *fg, struct fgd_node *marks,
                         struct fgd_snap_body *body);
void fgd_snapshot_body_free(struct fgd_snap_body *body);

/* Write @body to @path under a header stamped now and a MAC keyed by
 * @key: to PATH.tmp, synced, renamed.  0, or -1 with @err. */
int fgd_snapshot_store(const char *path, const uint8_t key[FGD_SNAP_KEY_BYTES],
                       const struct fgd_snap_body *body, char *err,
                       size_t errlen);

/* Read @path whole into @body, checked (header, MAC, every record), and
 * how long ago it was written: 0; 1 no file; -1 with @err, the file kept
 * aside as PATH.refused when it was read but is not a snapshot of ours. */
int fgd_snapshot_load(const char *path, const uint8_t key[FGD_SNAP_KEY_BYTES],
                      struct fgd_snap_body *body, uint64_t *elapsed_ns,
                      char *err, size_t errlen);

/* Apply records @first .. @first + @n - 1 of @body (at @recs: the body's
 * own, or a copy of those records) as fgd_snapshot_restore does. */
void fgd_snapshot_apply(const struct fgd_snap_body *body, uint64_t first,
                        const void *recs, uint64_t n, uint64_t elapsed_ns,
                        fg_client *fg, struct fgd_node *marks, uint64_t now_ms,
                        struct fgd_snap_counts *out);

/* Write the buckets of @fg and, when @marks is not NULL (a daemon that
 * gossips, on the same segment), its remote ledger to @path, under a MAC
 * keyed by @key.  0, or -1 with a message in @err. */
int fgd_snapshot_write(const char *path, const uint8_t key[FGD_SNAP_KEY_BYTES],
                       fg_client *fg, struct fgd_node *marks,
                       struct fgd_snap_counts *out, char *err, size_t errlen);

/*
 * Restore @path into @fg: each bucket of a rule that exists (by name)
 * gets at least the debt it had left, converted to now; with @marks, each
 * remote mark is raised to the one written (without, marks are skipped).
 * Never lowers anything, so it is safe while workers already use the
 * segment.  0 done; 1 no snapshot there; -1 a file that is not a valid
 * snapshot under @key (nothing restored), with @err; a file that was read
 * whole but failed (MAC, version, a record) is kept aside as
 * PATH.refused, and @err says so.
 */
int fgd_snapshot_restore(const char *path,
                         const uint8_t key[FGD_SNAP_KEY_BYTES], fg_client *fg,
                         struct fgd_node *marks, uint64_t now_ms,
                         struct fgd_snap_counts *out, char *err, size_t errlen);

/* Whether @path holds an intact snapshot under @key, as restore checks
 * it, without applying it or moving it: 0 yes (its age in
 * @out->age_ms), 1 no file, -1 with @err. */
int fgd_snapshot_verify(const char *path, const uint8_t key[FGD_SNAP_KEY_BYTES],
                        struct fgd_snap_counts *out, char *err, size_t errlen);

/*
 * Whether the directory of @path can hold snapshots safely: it exists, is
 * a directory owned by us or root, we may write it (a read-only mount
 * fails here, as under ProtectSystem=strict without StateDirectory=), and
 * nobody else may (who can replace a snapshot cannot forge one, but can
 * delete it, or plant a single host's key file).  0, or -1 with the reason and
 * its fix in @err.
 */
int fgd_snapshot_check_dir(const char *path, char *err, size_t errlen);

#endif
