/* SPDX-License-Identifier: ISC */
/*
 * topdenied.c - the keys denied most in the last window (see topdenied.h).
 *
 * The ranking is a sorted array of FGD_TOP_N (descending): a candidate
 * that does not beat the last entry costs one comparison; one that is
 * already ranked moves up in place.
 */
#include "gossip/topdenied.h"

#include <stdlib.h>
#include <string.h>

#include "shm/scan.h"

int fgd_top_begin(struct fgd_topdenied *t, uint64_t nslots, uint64_t now_ms)
{
	if (t->start != NULL)
		return 0;
	t->start = calloc(nslots ? nslots : 1, sizeof *t->start);
	t->win = calloc(nslots ? nslots : 1, sizeof *t->win);
	if (t->start == NULL || t->win == NULL) {
		fgd_top_fini(t);
		return -1;
	}
	t->nslots = nslots;
	t->start_ms = now_ms;
	t->window = 0; /* priming: takes baselines, ranks nothing */
	t->nnext = 0;
	return 0;
}

/* Where a count of @d goes among the first @n entries; FGD_TOP_N:
 * nowhere. */
static size_t rank_of(const struct fgd_topdenied *t, size_t n, uint64_t d)
{
	size_t k = n;

	if (k == FGD_TOP_N && d <= t->next[FGD_TOP_N - 1].denied)
		return FGD_TOP_N;
	while (k > 0 && t->next[k - 1].denied < d)
		k--;
	return k;
}

/* Bucket @v with @d denials in the window into the ranking. */
static void offer(struct fgd_topdenied *t, const struct fg_slot_view *v,
                  uint64_t d)
{
	size_t at = t->nnext, k;

	for (k = 0; k < t->nnext; k++)
		if (t->next[k].slot == v->slot && t->next[k].id == v->id)
			at = k; /* ranked already: moves up from there */
	k = rank_of(t, at, d);
	if (k == FGD_TOP_N || k > at)
		return;
	if (at == t->nnext) {
		if (t->nnext < FGD_TOP_N)
			t->nnext++;
		at = t->nnext - 1;
	}
	memmove(&t->next[k + 1], &t->next[k], (at - k) * sizeof t->next[0]);
	t->next[k].denied = d;
	t->next[k].slot = v->slot;
	t->next[k].id = v->id;
	t->next[k].rule = v->rule;
	t->next[k].len = v->keylen <= FG_KEY_MAX ? v->keylen : FG_KEY_MAX;
	memcpy(t->next[k].key, v->key, t->next[k].len);
}

void fgd_top_see(struct fgd_topdenied *t, const struct fg_slot_view *v,
                 uint64_t last, int fresh)
{
	uint64_t i = v->slot, d;

	if (t->start == NULL || i >= t->nslots || t->window == 0)
		return;
	if (fresh) {
		t->start[i] = 0;
		t->win[i] = t->window;
	} else if (t->win[i] != t->window) {
		t->start[i] = last;
		t->win[i] = t->window;
	}
	d = v->denied >= t->start[i] ? v->denied - t->start[i] : v->denied;
	if (d != 0)
		offer(t, v, d);
}

void fgd_top_end(struct fgd_topdenied *t, uint64_t now_ms)
{
	if (t->start == NULL)
		return;
	if (t->window != 0 && now_ms - t->start_ms < FGD_TOP_WINDOW_MS)
		return;
	if (t->window != 0) {
		memcpy(t->top, t->next, t->nnext * sizeof t->top[0]);
		t->n = t->nnext;
		t->window_ms = now_ms - t->start_ms;
		t->end_ms = now_ms;
	}
	t->nnext = 0;
	t->start_ms = now_ms;
	t->window++;
	if (t->window == 0) /* 2^32 windows on: 0 is priming */
		t->window = 1;
}

void fgd_top_fini(struct fgd_topdenied *t)
{
	free(t->start);
	free(t->win);
	memset(t, 0, sizeof *t);
}
