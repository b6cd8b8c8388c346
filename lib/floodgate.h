/* SPDX-License-Identifier: ISC */
/*
 * floodgate.h - libfloodgate, lock-free token buckets in shared memory.
 *
 * Worker processes of a prefork server attach to a shared-memory segment
 * with fg_open() and ask fg_allow() whether a request may go through.  A
 * check is a hash, a probe of an open-addressing table and one atomic
 * compare-and-swap: no lock, no system call, no allocation.  A worker killed
 * at any instruction leaves nothing locked.
 *
 * The owner side (the floodgated daemon, tests, or a single-host embedding)
 * creates the segment with fg_create() and publishes rules with
 * fg_rule_set().  Rules change under running workers.
 *
 * Conventions.  Every function returns 0 (or a documented non-negative
 * value) on success and a negative FG_E* code on failure; fg_strerror()
 * names it.  The library has no global state, never aborts, exits, prints or
 * logs.  A struct fg_client is used by one thread at a time; several clients
 * may exist in one process.  See libfloodgate(3).
 */
#ifndef FLOODGATE_H
#define FLOODGATE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(FG_BUILDING_LIBRARY) && defined(__GNUC__)
#define FG_EXPORT __attribute__((visibility("default")))
#else
#define FG_EXPORT
#endif
#if defined(__GNUC__)
#define FG_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define FG_WARN_UNUSED
#endif

/* FG_VERSION_STRING, "MAJOR.MINOR.PATCH": written by configure from the
 * version in configure.ac's AC_INIT, the one place it is defined. */
#include "floodgate-version.h"

/** Longest key, in bytes, that fg_allow() accepts (longer keys are refused,
 *  never truncated). */
#define FG_KEY_MAX 64
/** Longest rule name, in bytes. */
#define FG_RULE_NAME_MAX 31
/** Most rule names one segment can hold over its life. */
#define FG_RULES_MAX 255
/** Segment name used when fg_open() is given NULL and FLOODGATE_SEGMENT is
 *  unset. */
#define FG_DEFAULT_SEGMENT "floodgate"
/** Keys a segment holds when fg_create() is given capacity 0. */
#define FG_DEFAULT_CAPACITY 1000000u

/* Error codes: negative, stable, named by fg_strerror(). */
#define FG_EINVAL   -1  /* invalid argument */
#define FG_EKEY     -2  /* key is NULL or empty */
#define FG_EKEYLEN  -3  /* key longer than FG_KEY_MAX */
#define FG_ENORULE  -4  /* no such rule, or rule removed */
#define FG_ECOST    -5  /* cost is 0 or above the rule's capacity */
#define FG_ENOSEG   -6  /* segment does not exist */
#define FG_EACCES   -7  /* no read+write permission on the segment */
#define FG_EBADSEG  -8  /* not a floodgate segment, or corrupt */
#define FG_EVERSION -9  /* segment has another layout version */
#define FG_ENOMEM   -10 /* out of memory or address space */
#define FG_ESYS     -11 /* unexpected system error (see errno) */
#define FG_EEXIST   -12 /* segment exists with another geometry */
#define FG_ERULES   -13 /* rule table full (FG_RULES_MAX names) */
#define FG_ENAME    -14 /* invalid segment or rule name */
#define FG_ERULE    -15 /* invalid rule parameters */
#define FG_ETOOBIG  -16 /* segment would exceed the address space */
#define FG_EKIND    -17 /* the rule is of the other kind (in-flight or rate) */
#define FG_ESPACE   -18 /* output buffer too small */

/** Opaque handle: one attachment to a segment. */
typedef struct fg_client fg_client;

/** Outcome details of a check, filled by fg_allow() when non-NULL. */
typedef struct fg_decision {
	uint32_t limit;          /**< the rule's capacity (burst), in tokens */
	uint32_t remaining;      /**< whole tokens left after this check */
	uint64_t retry_after_ms; /**< 0 when allowed; else ms until cost tokens
	                              are available */
	uint64_t reset_ms;       /**< ms until the bucket is full again */
	uint32_t flags;          /**< FG_DECISION_* */
	uint32_t rule;           /**< index of the rule that decided */
} fg_decision;

/** Shadow rule: this request would have been denied; it was allowed. */
#define FG_DECISION_SHADOW 0x1u
/** Table full: no bucket for this key; the rule's policy decided. */
#define FG_DECISION_UNTRACKED 0x2u
/** A strict rule whose authority (floodgated and its Redis) gave no
 *  answer within FG_STRICT_WAIT_MS: its on-redis-down policy decided. */
#define FG_DECISION_FALLBACK 0x4u

/** The longest a check of a strict rule (FG_RULE_STRICT) waits for the
 *  daemon's answer before its on-redis-down policy decides, in ms. */
#define FG_STRICT_WAIT_MS 1000u

/* ---------------------------------------------------------------- worker */

/**
 * fg_open() - attach to an existing segment.
 * @segment: a name ("floodgate": the file /dev/shm/floodgate) or an absolute
 *           path; NULL means $FLOODGATE_SEGMENT, else FG_DEFAULT_SEGMENT.
 * @flags:   0 (reserved for future use; other values give FG_EINVAL).
 * @out:     receives the handle; set to NULL on failure.
 *
 * Validates the magic, layout version, sizes and checksum before use.
 * A segment is used only if it can be trusted: it was made by root, by
 * this process's effective user, or by the owner of the directory holding
 * its name when nobody else may add names there; and it gives no
 * permission to others.  Anything else (another user's file in /dev/shm,
 * a world-writable segment) is refused with FG_EACCES, as is a segment
 * this process may not read and write.  A symbolic link, a directory or
 * any other file that is not a regular file is FG_EBADSEG.  fg_diagnose()
 * explains either.
 *
 * Call it before fork() in a prefork server: a child may keep using the
 * parent's handle (its copy of the handle is its own; the mapping is
 * shared), or open its own.
 *
 * Return: 0, or FG_ENOSEG, FG_EACCES, FG_EBADSEG, FG_EVERSION, FG_ENAME,
 * FG_ENOMEM, FG_ESYS, FG_EINVAL.
 */
FG_EXPORT FG_WARN_UNUSED int fg_open(const char *segment, unsigned flags,
                                     fg_client **out);

/**
 * fg_close() - detach and free the handle.  NULL is allowed.
 * Buckets stay in the segment.
 */
FG_EXPORT void fg_close(fg_client *c);

/**
 * fg_allow() - take @cost tokens from the bucket of (@rule, @key).
 * @c:    handle; used by one thread at a time.
 * @rule: rule name.
 * @key:  NUL-terminated, 1..FG_KEY_MAX bytes (any bytes but NUL).
 * @cost: tokens, 1..the rule's capacity.
 * @d:    receives the details; may be NULL.
 *
 * The bucket refills lazily from CLOCK_MONOTONIC; a key seen for the first
 * time gets a full bucket.  Lock-free: concurrent checks on one key from any
 * number of processes admit exactly what one bucket allows.  When the table
 * has no room for a new key, the rule's fail-open or fail-closed policy
 * answers and d->flags has FG_DECISION_UNTRACKED.  A shadow rule always
 * allows, and sets FG_DECISION_SHADOW when it would have denied.
 * The first check of a key that meets the claim of a process killed
 * mid-insert waits up to 20 ms (yielding the CPU) before skipping it.
 *
 * A strict rule (FG_RULE_STRICT) is the one exception to "no system
 * call": its local bucket is a pre-filter (a denial there is the answer,
 * without a round trip), and what it admits is then decided by floodgated,
 * which asks Redis (or spends a lease Redis granted it): a round trip over
 * a Unix socket beside the segment, FG_STRICT_WAIT_MS at most.  Without an
 * answer in that time, the rule's on-redis-down policy decides (allow:
 * the local bucket's answer; deny) and d->flags has FG_DECISION_FALLBACK.
 *
 * Return: 1 allowed, 0 denied, or FG_EINVAL, FG_EKEY, FG_EKEYLEN,
 * FG_ENORULE, FG_ECOST (then nothing was consumed).
 */
FG_EXPORT FG_WARN_UNUSED int fg_allow(fg_client *c, const char *rule,
                                      const char *key, uint32_t cost,
                                      fg_decision *d);

/**
 * fg_allow_at() - fg_allow() at a time the caller has already read.
 * @now_ns: CLOCK_MONOTONIC in ns (tv_sec * 10^9 + tv_nsec of
 *          clock_gettime(CLOCK_MONOTONIC)), read no later than the call.
 *
 * A server that reads the clock once per request and checks several rules
 * pays for one clock read (most of a check's cost) instead of one a rule.
 * The answer is the one fg_allow() would have given at @now_ns, and the
 * request counts as made then.  An older time never gives a looser answer
 * than the clock would: a bucket only refills as time passes, so at an
 * earlier time it holds at most the same tokens, and the answer is the same
 * or stricter (retry_after_ms may be longer).  Requests stamped up to D ns
 * late can together pass at most D / (period / rate) more tokens than the
 * rule, over any window: the refill of the time they lag.  A time ahead of
 * the clock would be credited refill that has not happened yet: never pass
 * one.
 *
 * Return: as fg_allow(); FG_EINVAL also for a @now_ns of 2^62 or more (not
 * a CLOCK_MONOTONIC reading).
 */
FG_EXPORT FG_WARN_UNUSED int fg_allow_at(fg_client *c, const char *rule,
                                         const char *key, uint32_t cost,
                                         uint64_t now_ns, fg_decision *d);

/**
 * fg_reserve() - take @cost tokens now, to be used after a delay if need
 * be: delay instead of deny.
 * @c, @rule, @key, @cost, @d: as for fg_allow().
 * @delay_ns: receives the wait in ns (0: go now), counted from the
 *            moment the call read the clock; must not be NULL.
 *
 * When fg_allow() would admit the request, so does fg_reserve(), with a
 * delay of 0.  Otherwise, if the cost is there within the rule's
 * max_delay_ms, the tokens are taken now and the request may proceed
 * once *@delay_ns has passed (the bucket goes up to max_delay_ms into
 * debt, and later requests wait behind it).  Beyond it, or for a rule
 * without a max_delay_ms, the request is denied and takes nothing;
 * d->retry_after_ms is then the time until a reservation would fit.  A
 * shadow rule never delays: it answers as fg_allow() does.  Concurrent
 * reservations from any number of processes get delays cost x interval
 * apart, never more tokens than the bucket allows by their time.
 *
 * Return: 1 reserved (wait *@delay_ns), 0 denied, or FG_EINVAL (also for
 * a NULL @delay_ns), FG_EKEY, FG_EKEYLEN, FG_ENORULE, FG_ECOST (then
 * nothing was consumed).
 */
FG_EXPORT FG_WARN_UNUSED int fg_reserve(fg_client *c, const char *rule,
                                        const char *key, uint32_t cost,
                                        uint64_t *delay_ns, fg_decision *d);

/** A lease of an in-flight rule, filled by fg_acquire(): the caller's
 *  memory, its contents private to the library. */
typedef struct fg_lease {
	uint64_t opaque_[11];
} fg_lease;

/**
 * fg_acquire() - take one of the leases of (@rule, @key), an in-flight
 * limit: at most the rule's capacity of them at once, whatever process
 * holds them.
 * @c:     handle; used by one thread at a time.
 * @rule:  an in-flight rule (FG_RULE_IN_FLIGHT).
 * @key:   as for fg_allow().
 * @lease: receives the lease, to give to fg_release() when the request
 *         ends; on a denial or an error, an empty lease.
 * @d:     receives the details (limit: the capacity, remaining: leases
 *         free, retry_after_ms when denied: until a lease ends by itself,
 *         reset_ms: until all have); may be NULL.
 *
 * Lock-free, one cmpxchg16b: concurrent fg_acquire() and fg_release()
 * from any number of processes never let more than the capacity hold a
 * lease.  A lease also ends by itself between lease_ms and twice lease_ms
 * after it was taken (lease_ms rounded up to a multiple of 16.777216 ms):
 * so the lease of a process killed while it held one comes back within
 * twice lease_ms, and a request that runs longer than lease_ms may find
 * its place taken.  Set lease_ms above the longest request.
 *
 * Return: 1 acquired, 0 denied, or FG_EINVAL, FG_EKEY, FG_EKEYLEN,
 * FG_ENORULE, FG_EKIND (a rule of tokens).
 */
FG_EXPORT FG_WARN_UNUSED int fg_acquire(fg_client *c, const char *rule,
                                        const char *key, fg_lease *lease,
                                        fg_decision *d);

/**
 * fg_release() - give back a lease fg_acquire() took, and empty it.  Any
 * process attached to the same segment may give it back, once.
 *
 * Return: 1 given back; 0 when it held nothing any more (empty, given back
 * already, ended by itself, or taken while the table was full); FG_EINVAL
 * (NULL argument, or a lease of another segment).
 */
FG_EXPORT int fg_release(fg_client *c, fg_lease *lease);

/** Most triples one fg_allow_many() takes. */
#define FG_TRIPLES_MAX 8

/** One (rule, key, cost) triple of fg_allow_many(). */
typedef struct fg_triple {
	const char *rule; /**< rule name */
	const char *key;  /**< as fg_allow()'s @key */
	uint32_t cost;    /**< 1..the rule's capacity */
} fg_triple;

/**
 * fg_allow_many() - take tokens under several rules at once, all or none.
 * @c:      handle; used by one thread at a time.
 * @triples: @n (rule, key, cost) triples: per user, per address, per
 *          endpoint...  A rule may appear more than once.
 * @n:      1..FG_TRIPLES_MAX.
 * @d:      receives the details of one triple; may be NULL.  Denied: the
 *          denying triple whose retry_after_ms is the longest (the wait
 *          until every rule would admit).  Allowed: the triple with the
 *          fewest tokens left, or a shadow rule that would have denied.
 * @which:  receives the position in @triples of that triple, or of the
 *          first invalid one on an error; may be NULL.
 *
 * One clock read for all the triples.  The request is admitted only if
 * every rule admits it, and then takes every cost; when one denies, no
 * rule keeps anything of it, and only the rules that deny count a denial.
 * Concurrent multi-rule and single checks from any number of processes
 * stay exact: no rule admits more than its bucket allows, and no rule
 * loses tokens to a request that was denied.  Lock-free: a check that
 * loses a race after taking from some rules gives their tokens back.  A
 * concurrent check may meet such tokens while they are taken and be
 * denied for a moment (never admitted beyond a bucket); see CAVEATS in
 * libfloodgate(3).
 *
 * Return: 1 allowed, 0 denied, or FG_EINVAL (NULL @c or @triples, @n 0 or
 * above FG_TRIPLES_MAX), FG_EKEY, FG_EKEYLEN, FG_ENORULE, FG_ECOST for the
 * triple at *@which; on an error nothing was consumed.
 */
FG_EXPORT FG_WARN_UNUSED int fg_allow_many(fg_client *c,
                                           const fg_triple *triples, unsigned n,
                                           fg_decision *d, unsigned *which);

/**
 * fg_reserve_many() - fg_reserve() under several rules at once, all or
 * none: delay instead of deny when every rule can wait.
 * @c, @triples, @n, @d, @which: as for fg_allow_many().
 * @delay_ns: receives the wait in ns (0: go now), the longest of the
 *            rules' waits, counted from the moment the call read the
 *            clock; must not be NULL.
 *
 * Every rule takes its cost now if it can within its own max_delay_ms
 * (a rule without one only if it admits now, a shadow rule as for
 * fg_allow_many()); the request then proceeds once *@delay_ns has passed,
 * when every rule's tokens are there.  If any rule cannot, the request is
 * denied, no rule keeps anything of it, and d->retry_after_ms is the time
 * until that rule could take a reservation.  The same guarantees as
 * fg_allow_many() under concurrency: no rule grants more than its bucket
 * allows by the time its reservations proceed.
 *
 * Return: as fg_allow_many() (1 reserved: wait *@delay_ns; 0 denied);
 * FG_EINVAL also for a NULL @delay_ns.
 */
FG_EXPORT FG_WARN_UNUSED int fg_reserve_many(fg_client *c,
                                             const fg_triple *triples,
                                             unsigned n, uint64_t *delay_ns,
                                             fg_decision *d, unsigned *which);

/**
 * fg_allow_request() - the classic allowRequest(userId, endpoint).
 *
 * Takes one token from the bucket of @user_id under the rule named
 * @endpoint, or, when no rule has that name, under the segment's default
 * rule (see FG_RULE_DEFAULT).  Return: as fg_allow(); FG_ENORULE when
 * neither exists.
 */
FG_EXPORT FG_WARN_UNUSED int fg_allow_request(fg_client *c, const char *user_id,
                                              const char *endpoint);

/** Bytes that hold either value fg_ratelimit_headers() writes, with its
 *  NUL, whatever the rule and the decision. */
#define FG_RATELIMIT_MAX 80

/**
 * fg_ratelimit_headers() - the values of the HTTP headers RateLimit-Policy
 * and RateLimit (draft-ietf-httpapi-ratelimit-headers-10) for a decision.
 * @c:             the handle that made the decision.
 * @d:             a decision of fg_allow(), fg_allow_at(), fg_allow_many()
 *                 or fg_reserve() (the rule it names: d->rule).
 * @policy:        receives "RULE";q=CAPACITY;w=SECONDS: the rule's name,
 *                 its capacity, and the seconds its bucket takes to refill
 *                 from empty (capacity x period / rate, rounded up).
 * @plen:          bytes at @policy; FG_RATELIMIT_MAX is always enough.
 * @ratelimit:     receives "RULE";r=REMAINING;t=SECONDS: whole tokens
 *                 left and the seconds until the next one, rounded up and
 *                 never past the Retry-After of a denial (ceil of
 *                 retry_after_ms / 1000); no ";t=" when the bucket is full.
 * @rlen:          bytes at @ratelimit.
 *
 * Reads the rule's name and figures from the segment (no lock, no system
 * call).  A 429 also wants Retry-After: ceil(retry_after_ms / 1000), at
 * least 1.  On failure both buffers hold "" (when their length allows).
 *
 * Return: 0, or FG_EINVAL (a NULL argument), FG_ENORULE (the rule was
 * withdrawn since the decision), FG_EKIND (an in-flight rule: it has no
 * quota to describe), FG_ESPACE (a buffer too small).
 */
FG_EXPORT FG_WARN_UNUSED int fg_ratelimit_headers(fg_client *c,
                                                  const fg_decision *d,
                                                  char *policy, size_t plen,
                                                  char *ratelimit, size_t rlen);

/**
 * fg_strerror() - a static, human-readable message for a return value
 * (also for 0 and 1).  Never NULL.
 */
FG_EXPORT const char *fg_strerror(int err);

/**
 * fg_diagnose() - explain why @segment cannot be attached.
 * @segment: as for fg_open().
 * @buf, @len: receives one NUL-terminated line, truncated to @len.
 *
 * Names the file (and the System V memory it names), its owner, group and
 * mode, which of owner, group or other this process is, and the
 * permission it lacks, with the fix ("run it as uid 0 or in group
 * www-data, and give the group read and write"); or why the segment is
 * not trusted (who made it, or its mode) and what to do.
 * Return: the error fg_open() would give now (0 when it would succeed).
 */
FG_EXPORT int fg_diagnose(const char *segment, char *buf, size_t len);

/* ----------------------------------------------------------------- owner */

/** Geometry and permissions of a new segment; zero fields mean defaults. */
typedef struct fg_segment_opts {
	uint64_t capacity; /**< keys; 0: FG_DEFAULT_CAPACITY */
	uint32_t mode;     /**< mode; 0: 0660.  Bits for others are
	                        refused: a segment is never world-accessible */
	uint32_t flags;    /**< FG_SEGMENT_*; 0: none (in what was padding) */
	int64_t uid;       /**< owner; 0 or -1: leave as created */
	int64_t gid;       /**< group workers share (www-data); 0 or -1:
	                        leave as created */
} fg_segment_opts;

/** fg_segment_opts.flags: ask for 2 MiB pages.  The segment's size is
 *  rounded up to 2 MiB and every process that maps it advises the kernel
 *  (MADV_HUGEPAGE), which backs it with huge pages where transparent huge
 *  pages for shared memory are enabled (shmem_enabled: advise, always or
 *  within_size), or when the segment is a file on a hugetlbfs mount (an
 *  absolute path); System V memory (FG_SEGMENT_SYSV) where shmem_enabled
 *  is advise or always.  Elsewhere it changes nothing but the size. */
#define FG_SEGMENT_HUGEPAGES 0x1u

/** fg_segment_opts.flags: keep the table in System V shared memory,
 *  whose size no process can change, rather than in the file at the
 *  segment's name, which any process allowed to write it can truncate
 *  (every process that maps it then dies of SIGBUS).  The file at the
 *  name then holds only the id of that memory, and may be read by the
 *  group; the memory has the segment's mode, owner and group.  fg_unlink()
 *  removes both; removing the file alone leaves the memory until the host
 *  restarts (ipcs -m lists it).  floodgated always asks for it; see
 *  libfloodgate(3). */
#define FG_SEGMENT_SYSV 0x2u

/** Replace a segment that exists but is foreign, corrupt, of another
 *  layout version, of another capacity or of the other kind (file or
 *  System V memory): its buckets are lost.  Never one another user made
 *  (FG_EACCES). */
#define FG_CREATE_REPLACE 0x1u

/**
 * fg_create() - create a segment, or attach to a valid existing one.
 * @segment: as for fg_open().
 * @opts:    NULL for defaults.
 * @flags:   0 or FG_CREATE_REPLACE.
 * @out:     receives the handle (also usable for checks).
 *
 * The file is built under a temporary name and linked into place only when
 * complete, so no process ever attaches to a half-initialised segment.  An
 * existing segment of the same capacity and kind is kept with its buckets:
 * a restarted daemon does not reset anybody's limits.  It must be one this
 * process can trust, as fg_open() says, where @opts->uid counts as
 * trusted too: a segment another user made first is refused with
 * FG_EACCES, never used nor replaced.
 *
 * Mode, owner and group are applied to the segment whether this call
 * creates it or finds it, so a mode changed since (chmod 0666) is set back;
 * FG_EACCES if this process may not.  @capacity sizes the table (14 keys a
 * block of 16 slots: layout.h); a few more keys may fit.
 *
 * Return: 0; without FG_CREATE_REPLACE, FG_EEXIST (a segment of another
 * capacity or kind exists) or FG_EBADSEG / FG_EVERSION (a foreign, corrupt
 * or other-version file is there); FG_EINVAL, FG_ETOOBIG, FG_ENAME,
 * FG_ENOSEG (no such directory), FG_EACCES, FG_ENOMEM, FG_ESYS.
 */
FG_EXPORT FG_WARN_UNUSED int fg_create(const char *segment,
                                       const fg_segment_opts *opts,
                                       unsigned flags, fg_client **out);

/**
 * fg_unlink() - remove a segment's name, and its System V memory if it
 * has some.  Attached processes keep their mapping until they close.
 * Only a file that starts with a segment's magic is removed (of any
 * layout version); memory only when this process may remove it and its
 * name file belongs to the memory's creator or owner.
 * Return: 0, FG_ENOSEG, FG_EACCES, FG_ENAME, FG_EBADSEG (not a segment),
 * FG_ESYS.
 */
FG_EXPORT int fg_unlink(const char *segment);

/** Rule flags. */
#define FG_RULE_GLOBAL      0x02u /**< scope global (gossiped); else host */
#define FG_RULE_FAIL_CLOSED 0x04u /**< table full: deny; else allow */
#define FG_RULE_SHADOW      0x08u /**< dry run: allow all, count denials */
#define FG_RULE_DEFAULT     0x10u /**< fg_allow_request()'s fallback rule */
/** An in-flight limit: at most capacity leases of a key at once, taken
 *  with fg_acquire(), not tokens (host scope; no rate, no delay). */
#define FG_RULE_IN_FLIGHT 0x20u
/** The algorithm of a rule of tokens (GCRA, a token bucket, when neither
 *  is set; both: FG_EINVAL): at most @rate tokens per window of
 *  @period_ms, @capacity equal to @rate, no max_delay_ms.  A sliding
 *  window weighs the previous window's tokens by its overlap with the
 *  last @period_ms (rate at most FG_SLIDING_WINDOW_MAX). */
#define FG_RULE_SLIDING_WINDOW 0x40u
#define FG_RULE_FIXED_WINDOW   0x80u
/** Largest rate of a sliding-window rule. */
#define FG_SLIDING_WINDOW_MAX 1048575u
/** A strict rule: admission decided fleet-wide by floodgated through
 *  Redis (a GCRA script), the local bucket a pre-filter; checked with
 *  fg_allow() and fg_allow_request() only (the others: FG_EKIND).  Host
 *  scope otherwise; FG_RULE_FAIL_CLOSED is its on-redis-down policy (and
 *  its on-full one).  Not with FG_RULE_GLOBAL, FG_RULE_SHADOW,
 *  FG_RULE_IN_FLIGHT or a max_delay_ms. */
#define FG_RULE_STRICT 0x400u
/** Most leases an in-flight rule allows at once. */
#define FG_LEASES_MAX 4095u
/** A penalty box: a key denied penalty_denials times within
 *  penalty_window_ms is denied for penalty_block_ms.  fg_rule_get() sets
 *  it for a rule with a penalty; fg_rule_set() takes it with the three
 *  fields set, or without it and them. */
#define FG_RULE_PENALTY 0x100u

/** A rule: a token bucket of @capacity refilled @rate tokens per
 *  @period_ms (the seed example: 5 per 1000 ms). */
typedef struct fg_rule {
	const char *name;      /**< 1..FG_RULE_NAME_MAX of [A-Za-z0-9_.:/-] */
	uint32_t capacity;     /**< burst, >= 1 */
	uint32_t rate;         /**< tokens per period, >= 1 */
	uint32_t period_ms;    /**< >= 1 */
	uint32_t flags;        /**< FG_RULE_* */
	uint32_t max_delay_ms; /**< fg_reserve()'s longest wait; 0: none */
	uint32_t lease_ms;     /**< FG_RULE_IN_FLIGHT: how long a lease may
	                            last, 1..86400000 (rate, period_ms 0) */
	uint32_t penalty_denials;   /**< FG_RULE_PENALTY: denials ... */
	uint32_t penalty_window_ms; /**< ... within this long ... */
	uint32_t penalty_block_ms;  /**< ... block the key this long; all
	                                 three 0 without FG_RULE_PENALTY */
} fg_rule;

/**
 * fg_rule_set() - publish a rule, or replace the one of the same name.
 *
 * Running workers see the change at their next check; existing buckets
 * keep their state expressed as time, so a key that was in debt stays
 * in debt.  The refill interval is period / rate rounded up to a whole
 * nanosecond (never faster than configured).  Owner operations are
 * serialised with a lock on the segment file.
 *
 * A rule with FG_RULE_PENALTY blocks a key that its checks denied
 * penalty_denials times within penalty_window_ms: the denial that makes
 * it N takes the bucket penalty_block_ms past empty, so the key is denied
 * for that long (retry_after_ms says so) and then refills at the rule's
 * rate.  A block is the tokens it takes, counted as consumption: on a
 * global rule, the other hosts take them too.  See libfloodgate(3).
 *
 * A rule's kind (tokens, in-flight) and algorithm (GCRA, sliding or
 * fixed window) never change: its buckets hold that algorithm's state.
 *
 * Return: 0, FG_EINVAL (NULL argument; both window flags), FG_ENAME,
 * FG_ERULE (zero capacity, rate or period; rate above one token per ns;
 * burst window plus max_delay_ms over 2^56 ns; unknown flags; a window
 * rule whose capacity is not its rate, with a max_delay_ms, or sliding
 * over FG_SLIDING_WINDOW_MAX; a penalty on an in-flight or a window rule,
 * or one of zero or out-of-range denials, window or block), FG_EKIND
 * (another kind or algorithm than the rule of that name has), FG_ERULES,
 * FG_ESYS.
 */
FG_EXPORT FG_WARN_UNUSED int fg_rule_set(fg_client *c, const fg_rule *rule);

/**
 * fg_rule_remove() - withdraw a rule: checks against it get FG_ENORULE.
 * Its buckets stay, and come back if a rule of that name is set again.
 * Return: 0, FG_EINVAL, FG_ENORULE, FG_ESYS.
 */
FG_EXPORT int fg_rule_remove(fg_client *c, const char *name);

/** A rule as it is in force, for inspection. */
typedef struct fg_rule_info {
	char name[FG_RULE_NAME_MAX + 1];
	uint32_t index;
	uint32_t capacity, rate, period_ms, flags;
	uint64_t interval_ns;  /**< ns per token */
	uint64_t table_full;   /**< checks that found no room in the table */
	uint32_t max_delay_ms; /**< as in fg_rule */
	uint32_t lease_ms;     /**< as in fg_rule */

	uint32_t penalty_denials;   /**< as in fg_rule */
	uint32_t penalty_window_ms; /**< as in fg_rule */
	uint32_t penalty_block_ms;  /**< as in fg_rule */
	uint32_t reserved_;         /**< 0 */
	uint64_t penalties;         /**< keys blocked by the penalty, ever */
} fg_rule_info;

/**
 * fg_rule_get() - read rule number @index (0 .. FG_RULES_MAX-1).
 * Return: 0, FG_EINVAL, or FG_ENORULE when that index holds no active
 * rule.
 */
FG_EXPORT int fg_rule_get(fg_client *c, uint32_t index, fg_rule_info *out);

/**
 * fg_rule_share_set() - the most of the table's slots the keys of rule
 * @name may hold: @share_pct percent, 1..100; 0: FG_SHARE_DEFAULT, which a
 * new rule has until this is called.  100 sets no bound.
 *
 * A new key of a rule whose buckets hold its share is treated as if the
 * table were full, for that rule alone: the checking process evicts one of
 * the rule's own full buckets near the key's place if it can, else the
 * rule's on-full policy answers (FG_DECISION_UNTRACKED, counted in
 * table_full and over_quota).  Checks of keys already in the table never
 * look at it.  A key of up to 16 bytes takes one slot, a longer one 2-4.
 *
 * Return: 0, FG_EINVAL (NULL argument, @share_pct over 100), FG_ENORULE,
 * FG_ESYS.
 */
FG_EXPORT FG_WARN_UNUSED int fg_rule_share_set(fg_client *c, const char *name,
                                               uint32_t share_pct);

/** The share a rule has unless fg_rule_share_set() says otherwise. */
#define FG_SHARE_DEFAULT 50u

/** What a rule's keys hold of the table, and of their share of it. */
typedef struct fg_share_info {
	uint64_t slots;      /**< slots its buckets hold (see fg_reap()) */
	uint64_t slot_quota; /**< the most they may hold; 0: no bound */
	uint64_t over_quota; /**< of table_full: checks of a new key the
	                          share refused */
} fg_share_info;

/**
 * fg_rule_share_get() - read what the keys of rule number @index hold.
 * Return: 0, FG_EINVAL, or FG_ENORULE when that index holds no active
 * rule.
 */
FG_EXPORT int fg_rule_share_get(fg_client *c, uint32_t index,
                                fg_share_info *out);

/** Counters of one segment. */
typedef struct fg_segment_stats {
	uint64_t capacity, nslots;
	uint64_t used;      /**< slots holding a bucket */
	uint64_t dead;      /**< abandoned half-inserts awaiting reaping */
	uint64_t inserts;   /**< keys inserted, ever */
	uint64_t abandoned; /**< inserts found stale and skipped, ever */
	uint64_t reaped;    /**< dead slots made reusable, ever */
	uint64_t consumed;  /**< tokens admitted, over live buckets */
	uint64_t denied;    /**< denials (and shadow would-be denials) */
	uint64_t table_full;
	uint64_t evicted; /**< idle full buckets reclaimed for room, ever */
} fg_segment_stats;

/**
 * fg_stats() - scan the table and sum its counters (O(slots): for
 * operators, not for the request path).  Return: 0 or FG_EINVAL.
 */
FG_EXPORT int fg_stats(fg_client *c, fg_segment_stats *out);

/**
 * fg_reap() - reclaim the slots of inserts abandoned by processes that
 * died mid-insert.  A claim seen unchanged for @min_age_ms (at least
 * 20 ms) is marked dead; a slot dead for @min_age_ms becomes reusable, so
 * a claim is reclaimed over two calls.  It also sets each rule's count
 * of the slots its buckets hold (fg_rule_info.slots) to what the table
 * holds, where no insert or eviction of the rule ran during the count:
 * a process killed mid-insert or mid-eviction leaves that count too high
 * until then.  The daemon calls it periodically; safe against concurrent
 * checks.  Return: slots made reusable, or FG_EINVAL.
 */
FG_EXPORT int fg_reap(fg_client *c, uint64_t min_age_ms);

#ifdef __cplusplus
}
#endif
#endif /* FLOODGATE_H */
