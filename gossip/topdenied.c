/*
 * topdenied.c - the keys denied most in the last window (see topdenied.h).
 *
 * The ranking is a sorted array of FGD_TOP_N (descending): a candidate
 * that does not beat the last entry costs one comparison, which is what
 * almost every bucket of a closing harvest costs.
 */
#include "gossip/topdenied.h"

#include <stdlib.h>
#include <string.h>
#include <urcu/uatomic.h>

#include "shm/layout.h"

int fgd_top_begin(struct fgd_topdenied *t, uint64_t nslots, uint64_t now_ms)
{
	if (t->base == NULL) {
		t->base = calloc(nslots ? nslots : 1, sizeof *t->base);
		if (t->base == NULL)
			return -1;
		t->nslots = nslots;
		t->start_ms = now_ms;
		t->priming = 1; /* takes baselines, ranks nothing */
		t->closing = 1;
		t->nnext = 0;
		return 1;
	}
	t->closing = now_ms - t->start_ms >= FGD_TOP_WINDOW_MS;
	t->nnext = 0;
	return t->closing;
}

/* Where a count of @d goes in the ranking; FGD_TOP_N: nowhere. */
static size_t rank_of(const struct fgd_topdenied *t, uint64_t d)
{
	size_t k = t->nnext;

	if (k == FGD_TOP_N && d <= t->next[FGD_TOP_N - 1].denied)
		return FGD_TOP_N;
	while (k > 0 && t->next[k - 1].denied < d)
		k--;
	return k;
}

void fgd_top_see(struct fgd_topdenied *t, uint64_t i, const struct fg_slot *s,
                 uint64_t ctl, uint64_t denied)
{
	struct fgd_top_key e;
	uint64_t base, d;
	size_t k;

	if (t->base == NULL || i >= t->nslots)
		return;
	base = t->base[i];
	t->base[i] = denied;
	if (t->priming)
		return;
	d = denied >= base ? denied - base : denied; /* a reused slot */
	if (d == 0 || (k = rank_of(t, d)) == FGD_TOP_N)
		return;
	e.denied = d;
	e.rule = FG_CTL_RULE(ctl);
	e.len = FG_CTL_KEYLEN(ctl);
	if (e.len == 0 || e.len > FG_KEY_MAX)
		return;
	memcpy(e.key, s->key, e.len);
	cmm_smp_rmb(); /* the key before the re-check of ctl */
	if (uatomic_read(&s->ctl) != ctl)
		return; /* reused meanwhile: not that key any more */
	if (t->nnext < FGD_TOP_N)
		t->nnext++;
	memmove(&t->next[k + 1], &t->next[k],
	        (t->nnext - 1 - k) * sizeof t->next[0]);
	t->next[k] = e;
}

void fgd_top_end(struct fgd_topdenied *t, uint64_t now_ms)
{
	if (t->base == NULL || !t->closing)
		return;
	if (!t->priming) {
		memcpy(t->top, t->next, t->nnext * sizeof t->top[0]);
		t->n = t->nnext;
		t->window_ms = now_ms - t->start_ms;
		t->end_ms = now_ms;
	}
	t->start_ms = now_ms;
	t->priming = 0;
	t->closing = 0;
}

void fgd_top_fini(struct fgd_topdenied *t)
{
	free(t->base);
	memset(t, 0, sizeof *t);
}
