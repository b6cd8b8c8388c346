/* SPDX-License-Identifier: ISC */
/*
 * proto.h - the script's call and its reply (script.h) as C: the argv of
 * one EVALSHA built from records and cursors, and a reply from Redis
 * checked whole before any of it is used.
 *
 * A reply is outside input: Redis is trusted to hold counts, but a reply
 * may come from anything that answers on its port, or from a namespace
 * an operator filled by hand.  fgr_reply_open() checks, in order: the
 * shape (an error reply is reported as such), the status, our own
 * incarnation and top, then every origin (its id, incarnation and next
 * version) and every record of it (the field's rule and key lengths,
 * "VER COUNT FLOOR" as three decimal numbers with FLOOR <= COUNT, VER
 * above 0, versions rising within an origin), and the bounds on origins
 * and records.  Only then do fgr_reply_origin()/fgr_reply_record() hand
 * them out, and those cannot fail.  Pure: no socket, no clock; fuzzed
 * through hiredis's own reader (tests/fuzz/fuzz_redis_reply.c).
 */
#ifndef FGR_PROTO_H
#define FGR_PROTO_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#define FGR_PUSH_MAX 2048u /* records pushed per call */
#define FGR_PULL_MAX                                                           \
	4000u                 /* records pulled per call (< Lua's 8000         \
	                       * unpack() arguments) */
#define FGR_ORIGINS_MAX 1024u /* other origins followed */
#define FGR_RULE_MAX    31u   /* = FG_RULE_NAME_MAX */
#define FGR_KEY_MAX     64u   /* = FG_KEY_MAX */
#define FGR_FIELD_MAX   (1u + FGR_RULE_MAX + FGR_KEY_MAX)

/* One of our records, to push. */
struct fgr_out {
	const char *rule; /* 1..FGR_RULE_MAX bytes */
	size_t rule_len;
	const uint8_t *key; /* 1..FGR_KEY_MAX bytes */
	size_t key_len;
	uint64_t ver, count, floor;
};

/* Where we hold another origin's records. */
struct fgr_cursor {
	uint64_t oid, inc, have;
};

struct fgr_call {
	uint64_t self, inc; /* our origin id and incarnation */
	uint64_t from, to;  /* the versions the push completes */
	uint32_t ttl_ms;
	unsigned budget; /* records to pull, at most FGR_PULL_MAX */
	const struct fgr_out *out;
	size_t nout; /* at most FGR_PUSH_MAX */
	const struct fgr_cursor *cur;
	size_t ncur; /* at most FGR_ORIGINS_MAX */
};

/* An EVALSHA's arguments, in one allocation. */
struct fgr_argv {
	int argc;
	const char **argv;
	size_t *len;
	char *text;
};

/* The arguments of EVALSHA @sha with @call in namespace @ns: 0, or -1
 * (out of memory, or @call out of bounds).  Free with fgr_argv_free. */
int fgr_argv_build(struct fgr_argv *a, const char *sha, const char *ns,
                   const struct fgr_call *call);
void fgr_argv_free(struct fgr_argv *a);

enum fgr_status { FGR_PUSHED, FGR_GAP, FGR_STALE };

/* A reply that passed. */
struct fgr_reply {
	const redisReply *r;
	enum fgr_status status;
	uint64_t inc, top; /* what Redis holds of us */
	size_t norigins;   /* other origins, in r->element[3..] */
	size_t nrec;       /* records, of all origins */
};

struct fgr_origin {
	const redisReply *r;
	uint64_t oid, inc, next;
	size_t nrec;
};

struct fgr_record {
	const char *rule;
	uint8_t rule_len;
	const uint8_t *key;
	uint8_t key_len;
	uint64_t ver, count, floor;
};

/*
 * Check @r in the order above: 0 and @p set, or -1 with why in @why (an
 * error reply: "Redis said: ..." with its text, clipped and made
 * printable).  @p points into @r, which must outlive it.
 */
int fgr_reply_open(const redisReply *r, struct fgr_reply *p, char *why,
                   size_t len);
/* Origin @i < p->norigins; record @j < o->nrec of it. */
void fgr_reply_origin(const struct fgr_reply *p, size_t i,
                      struct fgr_origin *o);
void fgr_reply_record(const struct fgr_origin *o, size_t j,
                      struct fgr_record *rec);

/*
 * Bound hiredis's reader @r: an array longer than a reply of ours can be
 * (FGR_ARRAY_MAX elements) is refused as out of memory, before hiredis
 * allocates it; else "*2000000000" in 13 bytes would make it allocate
 * 16 GB.  The reader's own builders do the rest.
 */
#define FGR_ARRAY_MAX (3u + 65536u) /* the top array: 3 + origins */
void fgr_reader_bound(redisReader *r);

/* An origin id as Redis names it: 16 lowercase hex digits and a NUL. */
void fgr_oid_text(uint64_t oid, char out[17]);

/* An error reply's text, clipped to @len - 1 and printable. */
void fgr_error_text(const redisReply *r, char *out, size_t len);

#endif
