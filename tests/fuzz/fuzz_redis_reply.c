/* SPDX-License-Identifier: ISC */
/*
 * fuzz_redis_reply.c - what Redis answers a round: bytes off the socket,
 * through hiredis's own reader (as redis/conn.c feeds it), then
 * fgr_reply_open() and the walk of every origin and record
 * (redis/proto.h).
 *
 * The input is the bytes as read(), RESP of any shape, possibly several
 * replies or half of one, into a reader bounded as the daemon's is
 * (fgr_reader_bound).  Every complete reply the reader gives is
 * checked; a reader error ends the input, as it closes the connection.
 *
 * Oracles, from proto.h:
 *  - a reply that opens has a known status, at most FGR_PULL_MAX records
 *    in all, and walks: each origin's id is not 0, its records sum to
 *    the count opened, each record has a rule of 1..31 bytes and a key
 *    of 1..64 bytes inside its field, floor <= count, a version above 0
 *    and above the one before it in its origin;
 *  - one that does not says why in a NUL-terminated message, and an
 *    error reply's message starts "Redis said: " and is printable.
 */
#include <hiredis/hiredis.h>
#include <string.h>

#include "redis/proto.h"
#include "tests/fuzz/fuzz.h"

static void walk(const struct fgr_reply *p)
{
	size_t i, j, total = 0;

	FUZZ_ASSERT(p->status == FGR_PUSHED || p->status == FGR_GAP ||
	            p->status == FGR_STALE);
	FUZZ_ASSERT(p->nrec <= FGR_PULL_MAX);
	for (i = 0; i < p->norigins; i++) {
		struct fgr_origin o;
		uint64_t last = 0;

		fgr_reply_origin(p, i, &o);
		FUZZ_ASSERT(o.oid != 0);
		FUZZ_ASSERT(o.r->elements == 3 + 2 * o.nrec);
		for (j = 0; j < o.nrec; j++) {
			const redisReply *f = o.r->element[3 + 2 * j];
			struct fgr_record r;

			fgr_reply_record(&o, j, &r);
			FUZZ_ASSERT(r.rule_len >= 1 &&
			            r.rule_len <= FGR_RULE_MAX);
			FUZZ_ASSERT(r.key_len >= 1 && r.key_len <= FGR_KEY_MAX);
			FUZZ_ASSERT(f->len == 1u + r.rule_len + r.key_len);
			FUZZ_ASSERT(r.rule == f->str + 1);
			FUZZ_ASSERT((const char *)r.key ==
			            f->str + 1 + r.rule_len);
			FUZZ_ASSERT(r.floor <= r.count);
			FUZZ_ASSERT(r.ver > last);
			last = r.ver;
		}
		total += o.nrec;
	}
	FUZZ_ASSERT(total == p->nrec);
}

static void check(const redisReply *r)
{
	struct fgr_reply p;
	char why[256];
	size_t i;

	memset(why, 'x', sizeof why);
	if (fgr_reply_open(r, &p, why, sizeof why) == 0) {
		FUZZ_ASSERT(p.r == r);
		walk(&p);
		return;
	}
	FUZZ_ASSERT(memchr(why, '\0', sizeof why) != NULL);
	FUZZ_ASSERT(p.r == NULL);
	if (r->type != REDIS_REPLY_ERROR)
		return;
	FUZZ_ASSERT(strncmp(why, "Redis said: ", 12) == 0);
	for (i = 12; why[i] != '\0'; i++)
		FUZZ_ASSERT(why[i] >= 0x20 && why[i] < 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	redisReader *rd = redisReaderCreate();
	void *r = NULL;

	if (rd == NULL)
		return 0;
	fgr_reader_bound(rd); /* as conn.c bounds the daemon's */
	if (redisReaderFeed(rd, (const char *)data, size) == REDIS_OK)
		while (redisReaderGetReply(rd, &r) == REDIS_OK && r != NULL) {
			check(r);
			freeReplyObject(r);
			r = NULL;
		}
	redisReaderFree(rd);
	return 0;
}
