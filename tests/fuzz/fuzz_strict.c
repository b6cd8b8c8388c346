/* SPDX-License-Identifier: ISC */
/*
 * fuzz_strict.c - what the strict rules read from outside: a worker's
 * request (daemon/strict.c, fgd_strict_req_name: any local process of
 * the segment's group may connect and write), and Redis's reply to the
 * GCRA script (redis/gcra.h, fgr_gcra_reply), through hiredis's reader
 * as the daemon's connection feeds it.
 *
 * The input: its first 112 bytes (zero-filled when shorter) are the
 * request; the rest is RESP off the socket.
 *
 * Oracles: a request that passes has a name of 1..31 bytes without NUL,
 * the bytes of its rule field, and a key of 1..64 bytes; a reply that
 * passes was an array of two integers, the debt at most 2^53 us.
 */
#include <hiredis/hiredis.h>
#include <string.h>

#include "daemon/strict.h"
#include "redis/gcra.h"
#include "redis/proto.h"
#include "tests/fuzz/fuzz.h"

static void request(const uint8_t *data, size_t size)
{
	struct fg__strict_req q;
	char name[FG_RULE_NAME_MAX + 1];

	memset(&q, 0, sizeof q);
	memcpy(&q, data, size < sizeof q ? size : sizeof q);
	if (fgd_strict_req_name(&q, name) != 0)
		return;
	FUZZ_ASSERT(strlen(name) == q.rule_len);
	FUZZ_ASSERT(q.rule_len >= 1 && q.rule_len <= FG_RULE_NAME_MAX);
	FUZZ_ASSERT(memcmp(name, q.rule, q.rule_len) == 0);
	FUZZ_ASSERT(q.key_len >= 1 && q.key_len <= FG_KEY_MAX);
}

static void replies(const uint8_t *data, size_t size)
{
	redisReader *rd = redisReaderCreate();
	void *r = NULL;

	if (rd == NULL)
		return;
	fgr_reader_bound(rd);
	if (redisReaderFeed(rd, (const char *)data, size) != REDIS_OK)
		goto out;
	while (redisReaderGetReply(rd, &r) == REDIS_OK && r != NULL) {
		const redisReply *x = r;
		uint64_t granted, debt;

		if (fgr_gcra_reply(x, &granted, &debt) == 0) {
			FUZZ_ASSERT(x->type == REDIS_REPLY_ARRAY &&
			            x->elements == 2);
			FUZZ_ASSERT(debt <= (UINT64_C(1) << 53));
			FUZZ_ASSERT(granted ==
			            (uint64_t)x->element[0]->integer);
		}
		freeReplyObject(r);
		r = NULL;
	}
out:
	redisReaderFree(rd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	request(data, size);
	if (size > sizeof(struct fg__strict_req))
		replies(data + sizeof(struct fg__strict_req),
		        size - sizeof(struct fg__strict_req));
	return 0;
}
