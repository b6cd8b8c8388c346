/*
 * layout.h - the shared-memory segment, as a file format.
 *
 * A segment is one file (by default under /dev/shm) mapped MAP_SHARED by the
 * daemon, the CLI and every worker process.  Everything in it is fixed-width,
 * little-endian as the host writes it (segments never leave the host), and
 * naturally aligned.  This header is the only place the layout is described;
 * change anything here and bump FG_LAYOUT_VERSION.
 *
 *   offset 0                 4096               69632 (page-aligned)
 *   +------------------------+------------------+---------------------------+
 *   | header (4096 B)        | rule table       | slot table                |
 *   |  0-127: identity       | 255 x 256 B      | nslots x 96 B             |
 *   |  128: rule map         |  line 0: seq +   |  ctl | aux | tat | consumed|
 *   |  256: counters         |   2 param copies |  key[64]                  |
 *   +------------------------+------------------+---------------------------+
 *
 * Header.  The identity (first 128 bytes) is written once, before the file is
 * linked under its public name, and is covered by a checksum: an attacher that
 * finds the right magic and version but inconsistent sizes refuses the segment
 * instead of indexing out of the mapping.  The rule map changes when rules are
 * added. The counter line holds counters of rare events (never touched by a
 * successful check).
 *
 * Rules.  A rule is named once and keeps its index (0..254) for the life of
 * the segment, so a slot can refer to its rule with 8 bits and an index is
 * never recycled under a live bucket.  Its parameters are double-buffered:
 * the owner writes the copy that is not live, then increments seq; readers
 * use params[seq & 1] and re-check seq.  An owner killed half-way through
 * an update leaves the live copy intact, so readers never wait for it.
 *
 * Version 2 added eviction: a tat of FG_TAT_EVICTED marks a bucket being
 * evicted, and the counts of evicted buckets move to their rule record.  A
 * version 1 client would neither honour the mark nor re-check a reused
 * slot, so the two must not share a segment.
 *
 * Slots.  96 bytes; tat and consumed are a 16-byte aligned pair so that one
 * double-width CAS moves both (x86-64 cmpxchg16b): admitting a request is a
 * single atomic instruction.  ctl packs the slot's state with a fingerprint
 * of its key so that a probe rejects almost every foreign slot without
 * touching the key bytes.  See shm/table.c for the state machine.
 */
#ifndef FG_SHM_LAYOUT_H
#define FG_SHM_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

/* 2: eviction (FG_TAT_EVICTED, evicted counts) */
#define FG_SEG_MAGIC      "FLOODGT\0"
#define FG_LAYOUT_VERSION 2u

#define FG_HDR_SIZE        4096u
#define FG_RULE_SIZE       256u
#define FG_MAX_RULES       255u /* rule indices fit in 8 bits of ctl */
#define FG_RULE_NAME_BYTES 32u  /* NUL-padded */
#define FG_SLOT_SIZE       96u
#define FG_SLOT_KEY_MAX    64u
#define FG_PROBE_MAX       1024u /* bound on any probe sequence */

/* Slot table size for a capacity: 11/8 slots per key keeps linear probing
 * below a 0.73 load factor, and 1,000,000 keys in 126 MiB. */
#define FG_SLOTS_FOR(capacity) ((capacity) + ((capacity)*3 + 7) / 8)

struct fg_seg_hdr {
	/* lines 0-1: identity; immutable once published */
	uint8_t magic[8];
	uint32_t layout_version;
	uint32_t hdr_size; /* FG_HDR_SIZE */
	uint64_t seg_size; /* bytes, equals the file size */
	uint64_t nslots;
	uint64_t capacity;  /* keys the table is sized for */
	uint32_t slot_size; /* FG_SLOT_SIZE */
	uint32_t rule_size; /* FG_RULE_SIZE */
	uint32_t max_rules; /* FG_MAX_RULES */
	uint32_t key_max;   /* FG_SLOT_KEY_MAX */
	uint64_t rules_off;
	uint64_t slots_off;
	uint64_t
	    hash_seed[2];    /* random per segment: keys' placement is secret */
	uint64_t created_ns; /* CLOCK_REALTIME at creation, for operators */
	uint64_t checksum;   /* fg__hash64 of this line up to here */

	/* line 2: rule name map (owner writes, workers read) */
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
	uint64_t evicted; /* idle full buckets reclaimed under pressure */
	uint8_t pad[FG_HDR_SIZE - 288];
};

/* Rule flags (fg_rule_params.flags); the public FG_RULE_* values are the same.
 */
#define FG__RULE_ACTIVE      0x01u /* published and not removed */
#define FG__RULE_GLOBAL      0x02u /* scope global: gossiped (else host) */
#define FG__RULE_FAIL_CLOSED 0x04u /* table full: deny (else allow) */
#define FG__RULE_SHADOW      0x08u /* dry run: allow, count would-be denials */

struct fg_rule_params {
	uint64_t interval_ns; /* T: ns per token, ceil(period / rate) */
	uint32_t capacity;    /* burst, tokens */
	uint32_t flags;
	uint32_t rate;      /* tokens ... */
	uint32_t period_ms; /* ... per period */
};

struct fg_rule_rec {
	/* line 0: read by every check */
	uint64_t seq; /* 0: never published; live copy is params[seq & 1] */
	struct fg_rule_params params[2];
	uint8_t pad0[64 - 8 - 2 * sizeof(struct fg_rule_params)];
	/* line 1: set once when the index is assigned */
	char name[FG_RULE_NAME_BYTES];
	uint8_t pad1[32];
	/* line 2: counters of rare events */
	uint64_t table_full;       /* checks that found no slot */
	uint64_t evicted_consumed; /* tokens admitted in evicted buckets */
	uint64_t evicted_denied;   /* denials counted in evicted buckets */
	uint8_t pad2[FG_RULE_SIZE - 152];
};

/* ctl word: state:3 | keylen:7 | rule:8 | gen:14 | fingerprint:32 */
enum fg_slot_state {
	FG_SLOT_EMPTY = 0,   /* never used: ends every probe sequence */
	FG_SLOT_CLAIMED = 1, /* an inserter owns it; key bytes not yet valid */
	FG_SLOT_READY = 2,   /* a live bucket */
	FG_SLOT_FREE = 3,    /* reusable; skipped by lookups */
	FG_SLOT_DEAD = 4,    /* abandoned claim; FREE once reaped */
};

/* tat of a bucket being evicted (table.c): far beyond any real time (which
 * stays below 2^62 ns for a century of uptime), so a check that meets it
 * denies, and only the denial path has to tell it from a real debt. */
#define FG_TAT_EVICTED (UINT64_C(1) << 63)

struct fg_slot {
	uint64_t ctl;
	uint64_t aux; /* READY: denials; DEAD: when it was abandoned (ns) */
	uint64_t tat; /* GCRA theoretical arrival time, CLOCK_MONOTONIC ns */
	uint64_t consumed; /* tokens admitted here, ever (grow-only) */
	uint8_t key[FG_SLOT_KEY_MAX];
} __attribute__((aligned(16)));

#define FG_CTL_STATE(c)  ((unsigned)((c)&7u))
#define FG_CTL_KEYLEN(c) ((unsigned)(((c) >> 3) & 0x7fu))
#define FG_CTL_RULE(c)   ((unsigned)(((c) >> 10) & 0xffu))
#define FG_CTL_GEN(c)    ((unsigned)(((c) >> 18) & 0x3fffu))
#define FG_CTL_FP(c)     ((uint32_t)((c) >> 32))
/* the bits that name a key: keylen, rule and fingerprint */
#define FG_CTL_META_MASK (UINT64_C(0xffffffff00000000) | UINT64_C(0x3fff8))
#define FG_CTL_MAKE(state, keylen, rule, gen, fp)                              \
	((uint64_t)(state) | ((uint64_t)(keylen) << 3) |                       \
	 ((uint64_t)(rule) << 10) | (((uint64_t)(gen)&0x3fffu) << 18) |        \
	 ((uint64_t)(fp) << 32))

_Static_assert(sizeof(struct fg_seg_hdr) == FG_HDR_SIZE, "header size");
_Static_assert(offsetof(struct fg_seg_hdr, checksum) + 8 <= 128, "identity");
_Static_assert(offsetof(struct fg_seg_hdr, nnames) == 128, "rule map line");
_Static_assert(offsetof(struct fg_seg_hdr, abandoned) == 256, "counter line");
_Static_assert(sizeof(struct fg_rule_rec) == FG_RULE_SIZE, "rule size");
_Static_assert(offsetof(struct fg_rule_rec, name) == 64, "rule line 1");
_Static_assert(offsetof(struct fg_rule_rec, table_full) == 128, "rule line 2");
_Static_assert(sizeof(struct fg_slot) == FG_SLOT_SIZE, "slot size");
_Static_assert(offsetof(struct fg_slot, tat) % 16 == 0, "tat pair alignment");
_Static_assert(FG_SLOT_SIZE % 16 == 0, "slot alignment");

#endif
