/* SPDX-License-Identifier: ISC */
/*
 * breaker.c - the circuit breaker (breaker.h).
 */
#include "redis/breaker.h"

#include <string.h>

void fgr_breaker_init(struct fgr_breaker *b, uint64_t now_ms)
{
	memset(b, 0, sizeof *b);
	b->state = FGR_CLOSED;
	b->since_ms = now_ms;
}

int fgr_breaker_allow(struct fgr_breaker *b, uint64_t now_ms)
{
	if (b->state != FGR_OPEN)
		return 1;
	if (now_ms < b->probe_ms)
		return 0;
	b->state = FGR_HALF_OPEN;
	b->since_ms = now_ms;
	b->probes++;
	return 1;
}

int fgr_breaker_success(struct fgr_breaker *b, uint64_t now_ms)
{
	int was_open = b->state != FGR_CLOSED;

	b->successes++;
	b->backoff_ms = 0;
	if (was_open) {
		b->state = FGR_CLOSED;
		b->since_ms = now_ms;
	}
	return was_open;
}

int fgr_breaker_failure(struct fgr_breaker *b, uint64_t now_ms, uint32_t rnd)
{
	int opened = b->state == FGR_CLOSED;
	uint32_t half;

	b->failures++;
	if (b->backoff_ms == 0)
		b->backoff_ms = FGR_BACKOFF_MIN_MS;
	else if (b->backoff_ms < FGR_BACKOFF_MAX_MS / 2)
		b->backoff_ms *= 2;
	else
		b->backoff_ms = FGR_BACKOFF_MAX_MS;
	half = b->backoff_ms / 2;
	b->probe_ms = now_ms + half + rnd % (half + 1);
	if (opened) {
		b->opens++;
		b->opened_ms = now_ms;
	}
	b->state = FGR_OPEN;
	b->since_ms = now_ms;
	return opened;
}

const char *fgr_breaker_name(enum fgr_breaker_state s)
{
	switch (s) {
	case FGR_CLOSED:
		return "closed";
	case FGR_OPEN:
		return "open";
	case FGR_HALF_OPEN:
		return "half-open";
	}
	return "?";
}
