/* SPDX-License-Identifier: ISC */
/*
 * impair.c - loss, duplication, delay, reordering and cuts per directed
 * link (see impair.h).
 *
 * Held copies live in a fixed array of qmax slots, allocated once: the
 * relay's memory does not grow with the traffic.  A binary min-heap of
 * slot indices, keyed by (due time, arrival order), gives the next copy
 * due in O(1) and takes one out in O(log qmax); equal due times leave in
 * arrival order, so a link with a fixed delay and no jitter keeps its
 * order.
 */
#include "tests/netns/impair.h"

#include <stdlib.h>
#include <string.h>

/* splitmix64: turns the seed and a link number into independent states */
static uint64_t splitmix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

/* xorshift64*: one value per call from the link's own stream */
static uint32_t draw(struct fgn_link *l)
{
	l->rng ^= l->rng >> 12;
	l->rng ^= l->rng << 25;
	l->rng ^= l->rng >> 27;
	return (uint32_t)((l->rng * 0x2545F4914F6CDD1Dull) >> 32);
}

int fgn_impair_init(struct fgn_impair *im, unsigned n, unsigned qmax,
                    uint64_t seed, fgn_send_fn send, void *arg)
{
	unsigned i, j;

	memset(im, 0, sizeof *im);
	im->n = n;
	im->seed = seed;
	im->qmax = qmax;
	im->send = send;
	im->arg = arg;
	for (i = 0; i < FGN_MAX_NODES; i++)
		for (j = 0; j < FGN_MAX_NODES; j++)
			im->link[i][j].rng =
			    splitmix(seed ^ splitmix(i * FGN_MAX_NODES + j)) |
			    1;
	im->slot = calloc(qmax, sizeof *im->slot);
	im->heap = calloc(qmax, sizeof *im->heap);
	im->spare = calloc(qmax, sizeof *im->spare);
	if (im->slot == NULL || im->heap == NULL || im->spare == NULL) {
		fgn_impair_fini(im);
		return -1;
	}
	for (i = 0; i < qmax; i++)
		im->spare[i] = qmax - 1 - i;
	return 0;
}

void fgn_impair_fini(struct fgn_impair *im)
{
	free(im->slot);
	free(im->heap);
	free(im->spare);
	im->slot = NULL;
	im->heap = im->spare = NULL;
	im->nq = 0;
}

/* ----------------------------------------------------------------- heap */

static int earlier(const struct fgn_impair *im, uint32_t a, uint32_t b)
{
	const struct fgn_held *x = &im->slot[a], *y = &im->slot[b];

	return x->at < y->at || (x->at == y->at && x->seq < y->seq);
}

static void swap(uint32_t *h, unsigned a, unsigned b)
{
	uint32_t t = h[a];

	h[a] = h[b];
	h[b] = t;
}

static void heap_push(struct fgn_impair *im, uint32_t s)
{
	unsigned k = im->nq++;

	im->heap[k] = s;
	while (k > 0 && earlier(im, im->heap[k], im->heap[(k - 1) / 2])) {
		swap(im->heap, k, (k - 1) / 2);
		k = (k - 1) / 2;
	}
}

static uint32_t heap_pop(struct fgn_impair *im)
{
	uint32_t top = im->heap[0];
	unsigned k = 0;

	im->heap[0] = im->heap[--im->nq];
	for (;;) {
		unsigned l = 2 * k + 1, r = l + 1, m = k;

		if (l < im->nq && earlier(im, im->heap[l], im->heap[m]))
			m = l;
		if (r < im->nq && earlier(im, im->heap[r], im->heap[m]))
			m = r;
		if (m == k)
			return top;
		swap(im->heap, k, m);
		k = m;
	}
}

/* -------------------------------------------------------------- packets */

static void deliver(struct fgn_impair *im, unsigned from, unsigned to,
                    const uint8_t *buf, size_t len)
{
	struct fgn_link *l = &im->link[from][to];

	if (l->p.cut) /* cut while it was held back */
		l->c.cut++;
	else if (im->send(im->arg, to, buf, len) == 0)
		l->c.out++;
	else
		l->c.errors++;
}

static void hold(struct fgn_impair *im, unsigned from, unsigned to,
                 const uint8_t *buf, size_t len, uint64_t at)
{
	struct fgn_link *l = &im->link[from][to];
	struct fgn_held *h;
	uint32_t s;

	if (im->nq == im->qmax) {
		l->c.overflow++;
		return;
	}
	s = im->spare[im->qmax - 1 - im->nq];
	h = &im->slot[s];
	h->at = at;
	h->seq = im->seq++;
	h->from = (uint16_t)from;
	h->to = (uint16_t)to;
	h->len = (uint16_t)len;
	memcpy(h->buf, buf, len);
	heap_push(im, s);
	l->c.delayed++;
}

void fgn_impair_packet(struct fgn_impair *im, unsigned from, unsigned to,
                       const uint8_t *buf, size_t len, uint64_t now_ns)
{
	struct fgn_link *l = &im->link[from][to];
	uint32_t r[6];
	int copies, c, i;

	/* the same draws for every packet, whatever the settings */
	for (i = 0; i < 6; i++)
		r[i] = draw(l);
	l->c.in++;
	if (l->p.cut) {
		l->c.cut++;
		return;
	}
	if (r[0] % FGN_PPM < l->p.loss) {
		l->c.lost++;
		return;
	}
	copies = r[1] % FGN_PPM < l->p.dup ? 2 : 1;
	if (copies == 2)
		l->c.duplicated++;
	for (c = 0; c < copies; c++) {
		uint32_t reorder = r[2 + 2 * c], jitter = r[3 + 2 * c];
		int64_t us = (int64_t)l->p.delay_us;

		if (l->p.jitter_us)
			us += (int64_t)(jitter % (2 * l->p.jitter_us + 1)) -
			      (int64_t)l->p.jitter_us;
		if (us > 0 && reorder % FGN_PPM < l->p.reorder) {
			l->c.reordered++;
			us = 0;
		}
		if (us <= 0)
			deliver(im, from, to, buf, len);
		else
			hold(im, from, to, buf, len,
			     now_ns + (uint64_t)us * 1000);
	}
}

uint64_t fgn_impair_release(struct fgn_impair *im, uint64_t now_ns)
{
	while (im->nq > 0) {
		struct fgn_held *h = &im->slot[im->heap[0]];
		uint32_t s;

		if (h->at > now_ns)
			return h->at;
		s = heap_pop(im);
		deliver(im, h->from, h->to, h->buf, h->len);
		im->spare[im->qmax - 1 - im->nq] = s;
	}
	return UINT64_MAX;
}

void fgn_impair_total(const struct fgn_impair *im, struct fgn_counters *sum,
                      uint64_t *queued)
{
	unsigned i, j;

	memset(sum, 0, sizeof *sum);
	for (i = 0; i < im->n; i++)
		for (j = 0; j < im->n; j++) {
			const struct fgn_counters *c = &im->link[i][j].c;

			sum->in += c->in;
			sum->out += c->out;
			sum->lost += c->lost;
			sum->duplicated += c->duplicated;
			sum->delayed += c->delayed;
			sum->reordered += c->reordered;
			sum->cut += c->cut;
			sum->overflow += c->overflow;
			sum->errors += c->errors;
		}
	*queued = im->nq;
}

int fgn_impair_balanced(const struct fgn_impair *im)
{
	struct fgn_counters s;
	uint64_t queued;

	fgn_impair_total(im, &s, &queued);
	return s.in + s.duplicated ==
	       s.out + s.lost + s.cut + s.overflow + s.errors + queued;
}
