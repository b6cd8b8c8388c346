/* SPDX-License-Identifier: ISC */
/*
 * layout.h - the shared-memory segment, as a file format.
 *
 * A segment is one file (by default under /dev/shm), or System V shared
 * memory named by one (shm/sysv.c: the daemon's), mapped shared by the
 * daemon, the CLI and every worker process.  Everything in it is fixed-width,
 * little-endian as the host writes it (segments never leave the host), and
 * naturally aligned.  This header is the only place the layout is described;
 * change anything here and bump FG_LAYOUT_VERSION.
 *
 *   0        4096         69632       1253376    table_off            cold_off
 *   +--------+------------+-----------+----------+--------------------+-------+
 *   | header | rule table | overrides | dirty map| table: serial line,| cold: |
 *   | 0: id  | 255 x 256 B| 4 KiB +   | 1 bit a  | 4096 stripe words, | 16 B a|
 *   | 192:   |            | 4096 x    | 64       | nbuckets x 64 B,   | slot  |
 *   |  names |            | 256 B +   | buckets, | nrecords x 64 B,   |       |
 *   | 256:   |            | 2 x 64 KiB| pages    | nrecords x 16 B    |       |
 *   |  counts|            |           |          |                    |       |
 *   +--------+------------+-----------+----------+--------------------+-------+
 *
 *   one bucket (64 B, one cache line), two slots:
 *   +--------------------------------------------------------------------+
 *   | slot 0: tat | word | key[16]      | slot 1: tat | word | key[16]   |
 *   +--------------------------------------------------------------------+
 *   word: rule:8 | keylen:5 | clean:1 | state:3 | dest:1 | gen:4 | count:42
 *   key[16] of a long key (17-64 bytes): its hash | record:32 | length:8
 *   a record: the key, zero-padded (a line); apart, its head: token | hash
 *   cold part of a slot (its own region): aux | tag
 *
 * Header.  The identity (first 192 bytes) is written once, before the file
 * is linked under its public name, and is covered by a checksum: an
 * attacher that finds the right magic and version but inconsistent sizes
 * refuses the segment instead of indexing out of the mapping.  The rule
 * map changes when rules are added.  The counter line holds counters of
 * rare events (never touched by a successful check).
 *
 * Rules.  A rule is named once and keeps its index (0..254) for the life of
 * the segment, so a slot can refer to its rule with 8 bits and an index is
 * never recycled under a live bucket.  Its parameters are double-buffered:
 * the owner writes the copy that is not live, then increments seq; readers
 * use params[seq & 1] and re-check seq.  An owner killed half-way through
 * an update leaves the live copy intact, so readers never wait for it.
 * A check reads seq only (workers keep a private copy of the parameters);
 * a reader that finds flags it does not know takes the rule for absent.
 *
 *   one rule record (256 B):
 *   +--------------------------------------------------------------------+
 *   | 0: seq | 8: params[0] | 56: params[1]   (48 B each: interval,       |
 *   |        |   max delay, capacity, flags, rate, period, penalty) | pad |
 *   | 128: name[32] | pad                                                |
 *   | 192: counters of rare events (table full, evicted)                 |
 *   | 216: slots held | slot quota | over quota      (shm/quota.c)      |
 *   | 240: penalty blocks imposed | 248: their tokens  (lib/penalty.c) |
 *   +--------------------------------------------------------------------+
 *
 * The table (layout C: shm/cuckoo.c, bench/layout_proto.c) is a 2-choice
 * bucketized cuckoo table.  A key's hash names two buckets, each one
 * 64-byte line of two 32-byte slots, and a key lives in one of those four
 * slots and nowhere else: a check knows both lines' addresses before it
 * loads anything, fetches them together, compares the key in place and
 * admits with one cmpxchg16b on the slot's (tat, word) pair.  Buckets are
 * sized for a load of 0.875 at capacity, and a little more in small tables
 * (FG_BUCKETS_FOR); an insert whose
 * buckets are full moves keys to their other bucket along a short path.
 * A slot's state is in its word: FREE (the pair (0, gen)), CLAIMED (an
 * inserter writes its key; tat holds the claim's token), READY (a live
 * bucket), MOVING (frozen: its pair goes to slot dest of the key's other
 * bucket), COPY (that destination), DEAD (an abandoned claim; tat says
 * when).  gen is the slot's generation: every claim of the slot moves it,
 * so a pair read before its key left the slot never matches the pair of
 * a key that took the slot since (shm/cuckoo.h says why 4 bits do).
 * keylen is a short key's length, or FG_W_KEYLEN_REC for a long key.
 * count is the key's tokens admitted (modulo 2^42, FG_W_COUNT_MASK: what
 * that bounds is in libfloodgate(3)) and moves with it; a check adds its cost
 * and clears clean, the harvest sets clean.  The bucket of an in-flight rule
 * keeps its leases where tat would be, and counts the leases taken
 * (shm/lease.h); that of a window rule keeps its window's id and counts there
 * (shm/window.h).  Before the buckets, the table's region holds a line with the
 * claim tokens' serial counter, the count of slots freed and where a search
 * for room last failed (shm/cuckoo_insert.c), and FG_TABLE_STRIPES stripe
 * words: a move holds its key's stripe, so that a lookup that reads the key's
 * two buckets between two equal readings of the stripe cannot miss a key in
 * flight.
 *
 * Long keys.  A key of 1-16 bytes (FG_SLOT_KEY_INLINE) is in its slot,
 * zero-padded.  A key of 17-64 takes a slot like any key, whose 16 key
 * bytes hold its hash, the index of its record (32 bits) and its length
 * (the word's keylen says only FG_W_KEYLEN_REC), after the buckets: its
 * bytes, zero-padded, in a line of its own (the nrecords lines), and its
 * head (a token while it is held, its key's hash) in an array of 16-byte
 * heads after them.  A check of a long key compares the hash in place and
 * then the record's line: one line more than a short key.  A record is
 * written before the claim that names it and freed once no slot names it
 * (shm/cuckoo_rec.c).  A segment of capacity C has FG_RECORDS_FOR(C)
 * records (see there for why that many): when they are all held, a new
 * long key finds no room as it would in a full table.
 *
 * The cold region has 16 bytes a slot, read only when a check denies and
 * by the owner's scans: aux, denials and the harvest's clean bit for
 * them, and tag, the hash of the key whose denials they are (0: none).  A key's
 * denials are the sum of the parts tagged with its hash among its four slots,
 * wherever it lives among them: a key that moves keeps them (shm/table.c).
 *
 * The dirty map has a bit for every FG_DIRTY_BUCKETS buckets (a 4 KiB page
 * of them), set by the first change there after the owner's harvest
 * cleared it (shm/scan.c): the harvest visits those pages only.
 *
 * Overrides (shm/override.c) are capacities and rates of single keys or
 * key prefixes of a rule, in a region of fixed size between the rules and
 * the dirty map: a page of prefix-length masks, a word a rule, and the
 * filter's generation (2048) and item count (2112); then 4096 entries of
 * 256 bytes in one open-addressing table keyed by (rule, kind, key) with
 * the segment's secret seed; then the filter, two copies of 8192 words.
 * An entry is double-buffered like a rule's parameters (seq, then the
 * live copy e[seq & 1]).  A rule that has any override carries
 * FG__RULE_OVERRIDES in its parameters' flags: a check of a rule without
 * it reads nothing of the region.  The filter is a Bloom filter of one
 * word an item over the hashes that place entries: a check of a key
 * without an override that finds a bit clear in the live copy
 * (filter[filter_gen & 1]) for its key and for each prefix length its
 * rule uses probes no entry.  Bits are set before an entry goes live;
 * only a rebuild of the other copy, then filter_gen + 1, clears them.
 *
 * Version 9 replaced the blocks of 16 slots of versions 3-8 (linear
 * probing of groups of 8 slots under a 16-byte control word, tombstones
 * and their reopening) by the cuckoo table above, for issue 14: a key
 * away from its home group cost several lines more than one at home (the
 * 99th-percentile key 1.4-1.5x the CAS limit, against 1.05-1.10x for
 * layout C in bench/layout_proto.c), and a cold check waited for the
 * metadata line before it knew which slot line to load.  A slot's state
 * moved from its group's tags into its word (state, dest and a
 * generation took bits of the count, now 42), the count became the key's own
 * (it moves with the key; a new bucket starts at 0, so there is no base), the
 * cold part left the bucket's lines for a region of its own, and tagged, the
 * dirty map went from a bit a block to a bit a page of buckets, and the
 * header's identity grew to three lines (cold_off, the table's fixed
 * sizes).  A segment of capacity C has FG_BUCKETS_FOR(C) buckets: 36.7
 * bytes of buckets and 18.4 of cold parts a key at a million keys, and
 * FG_RECORDS_FOR(C) records for long keys (5 bytes a key).  A slot's
 * word gave 4 bits to a generation, one of dest's and two of keylen's
 * (a long key's length is in its slot): the count is 42 bits.  A version 8
 * client would read every line as a block: segments of other versions
 * are refused (FG_EVERSION); snapshots, which name buckets by rule and
 * key, restore across versions.
 *
 * Version 8 made a segment of a given capacity 1/27 larger (13.5 keys a
 * block, FG_BLOCKS_FOR): at 14 a block a key's probe sometimes found its
 * 1024 slots taken before the capacity was reached.  Nothing else moved,
 * but a version 7 client would find the segment's geometry wrong for its
 * capacity and refuse it as corrupt: the version says why instead.
 *
 * Version 7 added the filter (shm/override.c), which grew the override
 * region by 128 KiB at its end (the dirty map and the blocks moved:
 * dirty_off says where) and took two lines of the region's first page.
 * A version 6 client would read the entries where they still are, but a
 * version 6 owner would publish entries without their bits, which version
 * 7 checks would then never find: segments of version 6 are refused.  It
 * also gave the last word of a rule record (padding until then) the
 * tokens its penalty's blocks counted, which a version 6 client would
 * leave out (operators' figures only).
 *
 * Version 6 gave a rule's parameters a penalty (lib/penalty.c): N
 * denials within T block a key for B, which made them 48 bytes (params[1]
 * moved from offset 40 to 56), and counted the blocks in the first word of
 * what had been the padding of a rule record's last line.  A key's count
 * of recent denials is a bucket of the same rule under a key no caller can
 * give (a NUL, then the key's bytes).  It added rules of the window
 * algorithms (FG__RULE_FIXED_WINDOW, FG__RULE_SLIDING_WINDOW): their
 * buckets keep a window's counts where tat would be (shm/window.h), and
 * are refilled once their windows passed.  And it added the override
 * region, which moved the dirty map and the blocks (dirty_off, in the
 * identity, says where), and the flag FG__RULE_OVERRIDES.  A version 5
 * client would read the second copy of the parameters at the wrong
 * offset, window counts as a time, and ignore every override.
 *
 * Version 5 gave each rule a quota of slots (shm/quota.c): the slots its
 * buckets hold, counted by the inserters and evictors themselves, the
 * most they may hold, and the inserts refused for it, in what had been
 * the padding of a rule record's last line.  A version 4 client would
 * insert past a quota and free slots without counting them.
 *
 * Version 4 gave a rule's parameters a maximum delay (fg_reserve():
 * reservations may hold a bucket up to that far past its capacity), which
 * moved the name and counters of a rule record a line down, and added
 * rules of the in-flight kind, whose buckets hold leases in their tat
 * (shm/lease.h) and are read by nothing that reads tokens.  Version 3
 * replaced the 96-byte slots of versions 1 and 2 (linear probing,
 * one control word a slot, a third of the slots across two cache lines)
 * with these blocks, tombstones that do not lengthen probes, and the dirty
 * map.  Version 2 had added eviction (FG_TAT_EVICTED, evicted counts).  A
 * client of another version would misread every slot: segments of other
 * versions are refused (FG_EVERSION); snapshots, which name buckets by rule
 * and key, restore across versions.
 */
#ifndef FG_SHM_LAYOUT_H
#define FG_SHM_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#define FG_SEG_MAGIC      "FLOODGT\0"
#define FG_LAYOUT_VERSION 9u /* 9: the cuckoo table (layout C) */

#define FG_HDR_SIZE        4096u
#define FG_IDENT_BYTES     192u /* the header's identity: three lines */
#define FG_RULE_SIZE       256u
#define FG_MAX_RULES       255u /* rule indices fit in 8 bits of a word */
#define FG_RULE_NAME_BYTES 32u  /* NUL-padded */
#define FG_SLOT_SIZE       32u
#define FG_SLOT_KEY_MAX    64u /* longest key of the format */
#define FG_SLOT_KEY_INLINE 16u /* key bytes in a bucket's own slot */
#define FG_TABLE_KEY_MAX   64u /* longest key this version stores */
#define FG_RECORD_SIZE     80u /* a long key's record: its line, its head */
#define FG_BUCKET_SLOTS    2u  /* a bucket: one line of two slots */
#define FG_BUCKET_SIZE     64u
#define FG_COLD_SIZE       16u   /* a slot's cold part */
#define FG_TABLE_HEAD      64u   /* the line of the tokens' serial */
#define FG_TABLE_STRIPES   4096u /* stripe words, after that line */
#define FG_DIRTY_BUCKETS   64u   /* buckets a bit of the dirty map */

/*
 * Buckets for a capacity: 2 slots a bucket at a load of 0.875, so 1.75
 * keys a bucket (7 in 4), plus three times the square root of that.  At
 * 0.875 exactly, 7-14% of segments of 64 to 1000 keys filled to their
 * capacity left a key that no path of moves found room for (a small
 * table's buckets are unevenly loaded by a few square roots); with the
 * margin, none of 2000 segments of 8 to 5000 keys did (nor of 20 of 10^5
 * or 3 of 10^6 without it).  At a million keys it costs 0.4%.
 */
static inline uint64_t fg__buckets_for(uint64_t capacity)
{
	uint64_t nb = (capacity * 4 + 6) / 7, lo = 0, hi = UINT64_C(1) << 32;

	while (lo < hi) { /* the smallest r with r * r >= nb */
		uint64_t mid = (lo + hi) / 2;

		if (mid * mid >= nb)
			hi = mid;
		else
			lo = mid + 1;
	}
	nb += 3 * lo;
	return nb < 2 ? 2 : nb;
}
#define FG_BUCKETS_FOR(capacity) fg__buckets_for(capacity)

/*
 * Records for a capacity: one for every 16 keys, and never fewer than
 * min(capacity, 4096).  A record costs 80 bytes (FG_RECORD_SIZE) whether
 * a long key comes or not, so their number is a share of the capacity
 * that keeps a default segment (10^6 keys) at most 64 bytes a key of
 * short keys (issue 14): 56.4 + 80 / 16 = 61.4.  Long keys are what
 * callers hash down to at most 64 bytes (contrib/nginx's long keys,
 * digests): rarer than ids and addresses, and one in 16 leaves them room
 * in a segment sized for its keys.  The floor lets a small segment (tests,
 * a single service's) hold only long keys: 320 KiB at most.  A segment
 * whose keys are mostly long needs a capacity sized for the records:
 * libfloodgate(3) says what a long key costs.
 */
static inline uint64_t fg__records_for(uint64_t capacity)
{
	uint64_t floor = capacity < 4096 ? capacity : 4096;

	return capacity / 16 > floor ? capacity / 16 : floor;
}
#define FG_RECORDS_FOR(capacity) fg__records_for(capacity)

/* Header flags (fg_seg_hdr.flags). */
#define FG_SEG_HUGE  0x1u /* sized and advised for 2 MiB pages */
#define FG_HUGE_PAGE (UINT64_C(2) << 20)

struct fg_seg_hdr {
	/* lines 0-2: identity; immutable once published */
	uint8_t magic[8];
	uint32_t layout_version;
	uint32_t hdr_size;  /* FG_HDR_SIZE */
	uint64_t seg_size;  /* bytes, equals the file size */
	uint64_t nslots;    /* nbuckets * FG_BUCKET_SLOTS */
	uint64_t capacity;  /* keys the table is sized for */
	uint32_t slot_size; /* FG_SLOT_SIZE */
	uint32_t rule_size; /* FG_RULE_SIZE */
	uint32_t max_rules; /* FG_MAX_RULES */
	uint32_t key_max;   /* FG_TABLE_KEY_MAX */
	uint64_t rules_off;
	uint64_t table_off; /* the serial line, the stripes, the buckets */
	uint64_t
	    hash_seed[2];    /* random per segment: keys' placement is secret */
	uint64_t created_ns; /* CLOCK_REALTIME at creation, for operators */
	uint64_t nbuckets;
	uint64_t dirty_off;
	uint64_t cold_off;
	uint32_t bucket_size;   /* FG_BUCKET_SIZE */
	uint32_t flags;         /* FG_SEG_* */
	uint32_t cold_size;     /* FG_COLD_SIZE */
	uint32_t stripes;       /* FG_TABLE_STRIPES */
	uint32_t dirty_buckets; /* FG_DIRTY_BUCKETS */
	uint32_t reserved0;     /* 0 */
	uint64_t nrecords;      /* long keys' records: FG_RECORDS_FOR */
	uint64_t reserved[4];   /* 0 */
	uint64_t checksum;      /* fg__hash64 of the identity up to here */

	/* line 3: rule name map (owner writes, workers read) */
	uint64_t nnames
	    __attribute__((aligned(64))); /* indices 0..nnames-1 named */
	uint64_t default_rule; /* index + 1 of the default rule, 0 for none */
	uint64_t owner_pid;    /* pid of the daemon attached as owner, or 0 */

	/* line 4: counters of rare events, a 128-byte pair away from the
	 * rule map that every check reads (adjacent-line prefetch) */
	uint64_t abandoned
	    __attribute__((aligned(128))); /* claims found stale */
	uint64_t reaped;                   /* dead slots made reusable */
	uint64_t inserts;                  /* keys inserted */
	uint64_t evicted;  /* idle full buckets reclaimed under pressure */
	uint64_t reopened; /* layouts 3-8's reopened groups; 0 since 9 */
	uint8_t pad[FG_HDR_SIZE - 296];
};

/* Rule flags (fg_rule_params.flags); the public FG_RULE_* values are the same.
 */
#define FG__RULE_ACTIVE      0x01u /* published and not removed */
#define FG__RULE_GLOBAL      0x02u /* scope global: gossiped (else host) */
#define FG__RULE_FAIL_CLOSED 0x04u /* table full: deny (else allow) */
#define FG__RULE_SHADOW      0x08u /* dry run: allow, count would-be denials */
#define FG__RULE_IN_FLIGHT   0x20u /* leases, not tokens (shm/lease.h) */
/* The algorithm of a rule of tokens: GCRA (neither), or a window's
 * (shm/window.h); never both. */
#define FG__RULE_SLIDING_WINDOW 0x40u
#define FG__RULE_FIXED_WINDOW   0x80u

/* penalty_* set: denials block a key (lib/penalty.c) */
#define FG__RULE_PENALTY   0x100u
#define FG__RULE_OVERRIDES 0x200u /* has overrides (shm/override.h) */
#define FG__RULE_STRICT    0x400u /* admitted by floodgated via Redis */

/* Flags a reader of this version knows; any other makes the rule absent
 * to it (a rule of a kind it would misread).  FG__RULE_STRICT came
 * without a new layout: a reader that does not know it finds strict
 * rules absent, never admits on them alone. */
#define FG__RULE_KNOWN                                                         \
	(FG__RULE_ACTIVE | FG__RULE_GLOBAL | FG__RULE_FAIL_CLOSED |            \
	 FG__RULE_SHADOW | FG__RULE_IN_FLIGHT | FG__RULE_SLIDING_WINDOW |      \
	 FG__RULE_FIXED_WINDOW | FG__RULE_PENALTY | FG__RULE_OVERRIDES |       \
	 FG__RULE_STRICT)

/* A window rule admits rate tokens a window of period_ms, its capacity
 * equal to its rate, and has no delay (shm/window.h).
 * A rule of the in-flight kind uses interval_ns for its lease's epoch
 * (a multiple of FG_LEASE_QUANTUM_NS), capacity for its leases at once,
 * period_ms for the lease as set, and no rate or delay (shm/lease.h). */
struct fg_rule_params {
	uint64_t interval_ns;  /* T: ns per token, ceil(period / rate) */
	uint64_t max_delay_ns; /* fg_reserve()'s longest wait; 0: none.
	                        * capacity * T + this <= FG_TAU_MAX */
	uint32_t capacity;     /* burst, tokens */
	uint32_t flags;
	uint32_t rate;      /* tokens ... */
	uint32_t period_ms; /* ... per period */
	/* FG__RULE_PENALTY: penalty_denials denials within penalty_window_ms
	 * block a key for penalty_block_ms (lib/penalty.c); else all 0 */
	uint32_t penalty_denials;
	uint32_t penalty_window_ms;
	uint32_t penalty_block_ms;
	uint32_t reserved; /* 0 */
};

struct fg_rule_rec {
	/* line 0: seq, read by every check; then the parameters, read when
	 * seq has moved, into line 1 */
	uint64_t seq; /* 0: never published; live copy is params[seq & 1] */
	struct fg_rule_params params[2];
	uint8_t pad0[128 - 8 - 2 * sizeof(struct fg_rule_params)];
	/* line 2: set once when the index is assigned */
	char name[FG_RULE_NAME_BYTES];
	uint8_t pad1[32];
	/* line 3: counters of rare events */
	uint64_t table_full;       /* checks that found no slot */
	uint64_t evicted_consumed; /* tokens admitted in evicted buckets */
	uint64_t evicted_denied;   /* denials counted in evicted buckets */
	uint64_t slots;            /* held: count | ops << 32 (shm/quota.h) */
	uint64_t slot_quota;       /* the most slots it may hold; 0: no quota */
	uint64_t over_quota;       /* of table_full: for the quota */
	uint64_t penalties;        /* blocks imposed (lib/penalty.c) */
	uint64_t penalty_tokens;   /* tokens those blocks counted */
};

/* Overrides: the region (shm/override.h). */
#define FG_OVR_SLOTS     4096u
#define FG_OVR_SLOT_SIZE 256u
#define FG_OVR_HEAD      4096u /* prefix-length masks, filter words: a page */
/* The filter: a Bloom filter of a word an item, two copies */
#define FG_OVR_FILTER_WORDS 8192u /* 64 KiB a copy */
#define FG_OVR_FILTER_BYTES (2u * FG_OVR_FILTER_WORDS * 8u)
#define FG_OVR_BYTES                                                           \
	(FG_OVR_HEAD + FG_OVR_SLOTS * FG_OVR_SLOT_SIZE + FG_OVR_FILTER_BYTES)
#define FG_OVR_TIER_MAX 15u /* a tier's name, NUL-padded to 16 */

/* fg_ovr_entry.state */
#define FG_OVR_EMPTY 0u /* never used: ends a probe */
#define FG_OVR_LIVE  1u
#define FG_OVR_FREE  2u /* removed: reusable, does not end a probe */
/* fg_ovr_entry.kind */
#define FG_OVR_PREFIX 0x1u /* the key is a prefix (else the whole key) */
#define FG_OVR_RUNTIME                                                         \
	0x2u /* set at run time (floodgate override), not                      \
	      * by the config: kept in snapshots */

/* One copy of an override: a rule's capacity and rate for one key. */
struct fg_ovr_entry {
	uint8_t state;  /* FG_OVR_* */
	uint8_t rule;   /* index */
	uint8_t keylen; /* 1..FG_SLOT_KEY_MAX */
	uint8_t kind;   /* FG_OVR_PREFIX | FG_OVR_RUNTIME */
	uint32_t capacity;
	uint64_t interval_ns; /* ceil(period / rate) */
	uint32_t rate;
	uint32_t period_ms;
	uint8_t key[FG_SLOT_KEY_MAX];   /* zero-padded */
	char tier[FG_OVR_TIER_MAX + 1]; /* NUL-padded; "" for none */
};

struct fg_ovr_slot {
	uint64_t seq; /* live copy: e[seq & 1] */
	struct fg_ovr_entry e[2];
	uint8_t pad[FG_OVR_SLOT_SIZE - 8 - 2 * 104];
} __attribute__((aligned(64)));

struct fg_ovr_region {
	/* bit L-1 of prefix_lens[rule]: the rule may have a prefix of L
	 * bytes (set before such an entry goes live, cleared after the last
	 * goes) */
	uint64_t prefix_lens[FG_MAX_RULES + 1];
	/* the live copy of the filter is filter[filter_gen & 1]; +1 when
	 * the owner has rebuilt the other one (read by checks) */
	uint64_t filter_gen __attribute__((aligned(64)));
	/* items the owner added to the live copy since it was built (the
	 * owner's alone: a line of its own) */
	uint64_t filter_items __attribute__((aligned(64)));
	uint8_t pad[FG_OVR_HEAD - 8 * (FG_MAX_RULES + 1) - 128];
	struct fg_ovr_slot s[FG_OVR_SLOTS];
	uint64_t filter[2][FG_OVR_FILTER_WORDS];
};

/* A slot's state: the state field of its word (shm/cuckoo.h). */
enum fg_slot_state {
	FG_SLOT_FREE = 0,    /* the pair (0, gen): anyone may claim it */
	FG_SLOT_CLAIMED = 1, /* an inserter owns it; the bucket is not valid */
	FG_SLOT_READY = 2,   /* a live bucket */
	FG_SLOT_MOVING = 3,  /* frozen: its pair is being moved to dest */
	FG_SLOT_COPY = 4,    /* a move's destination, not live yet */
	FG_SLOT_DEAD = 5,    /* abandoned claim; FREE once reaped */
};

/*
 * A bucket's word: rule:8 | keylen:5 | clean:1 | state:3 | dest:1 | gen:4
 * | count:42 (shm/cuckoo.h's FG_CK_*, which table.c asserts equal).
 * count is the key's tokens admitted, ever, modulo 2^42 (4.4e12: a
 * harvest that reads a bucket less often than that loses whole turns);
 * a check adds its cost and clears clean, the harvest sets clean.  gen is
 * the slot's generation, moved by every claim of the slot.  dest is the
 * slot of the other bucket a MOVING slot's pair goes to.  keylen is a
 * short key's length (1-16) or FG_W_KEYLEN_REC: a long key, whose length
 * is in its slot's bytes (FG_W_MAKE codes it from the length).
 */
#define FG_W_COUNT_MASK   ((UINT64_C(1) << 42) - 1)
#define FG_W_GEN_SHIFT    42
#define FG_W_GEN_MASK     (UINT64_C(0xf) << FG_W_GEN_SHIFT)
#define FG_W_DEST_SHIFT   46
#define FG_W_STATE_SHIFT  47
#define FG_W_LOW_MASK     ((UINT64_C(1) << 50) - 1) /* state .. count */
#define FG_W_CLEAN        (UINT64_C(1) << 50)
#define FG_W_KEYLEN_SHIFT 51
#define FG_W_KEYLEN_REC   (FG_SLOT_KEY_INLINE + 1) /* a record's key */
#define FG_W_KEYLEN(w)    ((unsigned)(((w) >> FG_W_KEYLEN_SHIFT) & 0x1fu))
#define FG_W_KEYCODE(len)                                                      \
	((len) > FG_SLOT_KEY_INLINE ? FG_W_KEYLEN_REC : (unsigned)(len))
#define FG_W_RULE(w)       ((unsigned)((w) >> 56))
#define FG_W_STATE(w)      ((unsigned)((w) >> FG_W_STATE_SHIFT) & 7u)
#define FG_W_IDENT(w)      ((w) & ~(FG_W_LOW_MASK | FG_W_CLEAN))
#define FG_W_STATE_BITS(s) ((uint64_t)(s) << FG_W_STATE_SHIFT)
/* rule, key length and state: what a find compares */
#define FG_W_MATCH_MASK (~(FG_W_LOW_MASK | FG_W_CLEAN) | FG_W_STATE_BITS(7))
/* and the generation: what a reference remembers (fg__ref_valid()), so
 * that a slot the key left and came back to is not the one it found */
#define FG_W_LIVE_MASK (FG_W_MATCH_MASK | FG_W_GEN_MASK)
#define FG_W_MAKE(rule, keylen, count)                                         \
	(((uint64_t)(rule) << 56) |                                            \
	 ((uint64_t)FG_W_KEYCODE(keylen) << FG_W_KEYLEN_SHIFT) |               \
	 ((count)&FG_W_COUNT_MASK))
#define FG_W_LIVE(rule, keylen)                                                \
	(FG_W_MAKE(rule, keylen, 0) | FG_W_STATE_BITS(FG_SLOT_READY))

/* tat of a bucket being evicted (table.c): far beyond any real time (which
 * stays below 2^62 ns for a century of uptime), so a check that meets it
 * denies, and only the denial path has to tell it from a real debt. */
#define FG_TAT_EVICTED (UINT64_C(1) << 63)

struct fg_slot {
	uint64_t tat;  /* GCRA theoretical arrival time, CLOCK_MONOTONIC ns;
	                * a window rule's counts (shm/window.h); CLAIMED,
	                * COPY: the claim's token; DEAD: when (ms) */
	uint64_t word; /* see FG_W_*; tat and word move as one pair */
	uint8_t key[FG_SLOT_KEY_INLINE]; /* zero-padded */
} __attribute__((aligned(32)));

struct fg_bucket {
	struct fg_slot s[FG_BUCKET_SLOTS];
} __attribute__((aligned(64)));

/* aux: denials (bits 0-61), and the clean bit of the harvest */
#define FG_AUX_CLEAN        (UINT64_C(1) << 62)
#define FG_AUX_DENIALS(aux) ((aux) & (FG_AUX_CLEAN - 1))

/* A slot's cold part: aux and tag move as one pair (cmpxchg16b). */
struct fg_cold {
	uint64_t aux; /* denials | FG_AUX_CLEAN */
	uint64_t tag; /* hash of the key they are the denials of; or 0 */
} __attribute__((aligned(16)));

_Static_assert(sizeof(struct fg_seg_hdr) == FG_HDR_SIZE, "header size");
_Static_assert(offsetof(struct fg_seg_hdr, table_off) == 64, "identity");
_Static_assert(offsetof(struct fg_seg_hdr, nbuckets) == 96, "identity");
_Static_assert(offsetof(struct fg_seg_hdr, cold_off) == 112, "identity");
_Static_assert(offsetof(struct fg_seg_hdr, cold_size) == 128, "identity");
_Static_assert(offsetof(struct fg_seg_hdr, checksum) == FG_IDENT_BYTES - 8,
               "the checksum ends the identity");
_Static_assert(offsetof(struct fg_seg_hdr, nnames) == FG_IDENT_BYTES,
               "rule map line");
_Static_assert(offsetof(struct fg_seg_hdr, abandoned) == 256, "counter line");
_Static_assert(sizeof(struct fg_rule_rec) == FG_RULE_SIZE, "rule size");
_Static_assert(sizeof(struct fg_rule_params) == 48, "rule parameters");
_Static_assert(8 + 2 * sizeof(struct fg_rule_params) <= 128,
               "both copies of the parameters in lines 0-1");
_Static_assert(offsetof(struct fg_rule_rec, params) == 8, "params after seq");
_Static_assert(offsetof(struct fg_rule_rec, name) == 128, "rule line 2");
_Static_assert(offsetof(struct fg_rule_rec, table_full) == 192, "rule line 3");
_Static_assert(offsetof(struct fg_rule_rec, slots) == 216, "quota words");
_Static_assert(offsetof(struct fg_rule_rec, penalties) == 240, "penalties");
_Static_assert(offsetof(struct fg_rule_rec, penalty_tokens) == 248,
               "the last word of a rule record");
_Static_assert(sizeof(struct fg_slot) == FG_SLOT_SIZE, "slot size");
_Static_assert(offsetof(struct fg_slot, word) == 8, "tat and word: one pair");
_Static_assert(sizeof(struct fg_bucket) == FG_BUCKET_SIZE, "bucket: a line");
_Static_assert(FG_BUCKET_SIZE == 64, "no slot across a cache line");
_Static_assert(sizeof(struct fg_cold) == FG_COLD_SIZE, "cold part");
_Static_assert(FG_TABLE_HEAD % 64 == 0 && FG_TABLE_STRIPES * 8 % 64 == 0,
               "buckets start on a line");
_Static_assert(FG_W_COUNT_MASK < (UINT64_C(1) << FG_W_GEN_SHIFT) &&
                   FG_W_GEN_SHIFT + 4 == FG_W_DEST_SHIFT &&
                   FG_W_DEST_SHIFT + 1 == FG_W_STATE_SHIFT &&
                   FG_W_STATE_SHIFT + 3 == 50 && FG_W_KEYLEN_SHIFT + 5 == 56,
               "count, gen, dest and state below clean, keylen below rule");
_Static_assert(FG_TABLE_KEY_MAX == FG_SLOT_KEY_MAX, "every key of the format");
_Static_assert(offsetof(struct fg_seg_hdr, nrecords) == 144, "identity");
_Static_assert(FG_W_KEYLEN_REC < 32 && FG_SLOT_KEY_MAX < 256,
               "keylen: 5 bits; a long key's length: 8 bits in its slot");
_Static_assert(sizeof(struct fg_ovr_entry) == 104, "override copy");
_Static_assert(sizeof(struct fg_ovr_slot) == FG_OVR_SLOT_SIZE, "override");
_Static_assert(offsetof(struct fg_ovr_region, s) == FG_OVR_HEAD, "masks");
_Static_assert(offsetof(struct fg_ovr_region, filter_gen) == 2048, "filter");
_Static_assert(offsetof(struct fg_ovr_region, filter_items) == 2112, "items");
_Static_assert(offsetof(struct fg_ovr_region, filter) ==
                   FG_OVR_HEAD + FG_OVR_SLOTS * FG_OVR_SLOT_SIZE,
               "the filter after the entries");
_Static_assert(sizeof(struct fg_ovr_region) == FG_OVR_BYTES, "region");
_Static_assert((FG_OVR_FILTER_WORDS & (FG_OVR_FILTER_WORDS - 1)) == 0,
               "filter words: a power of 2");
_Static_assert((FG_OVR_SLOTS & (FG_OVR_SLOTS - 1)) == 0, "a power of 2");

#endif
