/*
 * xmit.c - see xmit.h.
 */
#include "gossip/xmit.h"

#include <stdlib.h>
#include <string.h>

/* What waits for its proof (xmit.h): datagrams, and where each goes. */
struct fgd_pending {
	size_t n, nd;
	struct {
		uint8_t buf[FGW_MAX_SIZE];
		size_t len;
		int member;
	} dg[FGD_PEND_MAX];
	struct {
		size_t dg;
		struct fgd_addr to;
	} dest[FGD_PEND_DEST];
};

void fgd_xmit_init(struct fgd_xmit *x, const struct fgw_keyring *kr,
                   const uint8_t *sk, const uint8_t pk[FGW_PK_SIZE],
                   uint64_t incarnation, size_t max_datagram,
                   struct fgd_counters *ctr)
{
	memset(x, 0, sizeof *x);
	x->ring = *kr;
	x->ring.pw = NULL;
	x->kr = &x->ring;
	if (kr->n <= FGD_PAIRWISE_MAX &&
	    fgw_pairwise_new(kr, sk, pk, &x->pw) == 0)
		x->ring.pw = x->pw;
	x->sk = sk;
	memcpy(x->pk, pk, FGW_PK_SIZE);
	x->self = fgw_keyring_find(kr, pk);
	x->incarnation = incarnation;
	x->max_datagram = max_datagram;
	x->ctr = ctr;
}

void fgd_xmit_fini(struct fgd_xmit *x)
{
	free(x->pend);
	x->pend = NULL;
	x->ring.pw = NULL;
	fgw_pairwise_free(x->pw);
	x->pw = NULL;
	x->send = NULL;
}

int fgd_xmit_defer(struct fgd_xmit *x, fgd_prove_fn *prove, void *arg)
{
	x->pend = calloc(1, sizeof *x->pend);
	if (x->pend == NULL)
		return -1;
	x->prove = prove;
	x->prove_arg = arg;
	return 0;
}

void fgd_xmit_flush(struct fgd_xmit *x)
{
	struct fgd_pending *q = x->pend;
	struct fgd_proof p[FGD_PEND_MAX];
	size_t i;

	if (q == NULL || q->n == 0)
		return;
	for (i = 0; i < q->n; i++)
		p[i] = (struct fgd_proof){.buf = q->dg[i].buf,
		                          .len = q->dg[i].len,
		                          .member = q->dg[i].member};
	if (x->prove(x->prove_arg, p, q->n) != 0) {
		x->ctr->tx_errors += q->nd; /* could not prove: send nothing */
	} else {
		for (i = 0; i < q->nd && x->send != NULL; i++)
			x->send(x->arg, &q->dest[i].to,
			        q->dg[q->dest[i].dg].buf,
			        q->dg[q->dest[i].dg].len);
	}
	q->n = q->nd = 0;
}

/* Hold @buf, one of ours, for its proof (the same datagram to several
 * destinations is proved once). */
static void hold(struct fgd_xmit *x, const struct fgd_addr *to,
                 const uint8_t *buf, size_t len, int kind)
{
	struct fgd_pending *q = x->pend;
	size_t k;

	if (q->n == FGD_PEND_MAX || q->nd == FGD_PEND_DEST)
		fgd_xmit_flush(x);
	k = q->n;
	if (k > 0 && q->dg[k - 1].len == len &&
	    memcmp(q->dg[k - 1].buf, buf, len) == 0) {
		k--;
	} else {
		memcpy(q->dg[k].buf, buf, len);
		q->dg[k].len = len;
		q->dg[k].member = -1;
		if (kind == FGW_PROOF_MAC) /* fgd_xmit_seal's placeholder */
			memcpy(&q->dg[k].member, buf + len - FGW_MAC_SIZE,
			       sizeof q->dg[k].member);
		q->n++;
	}
	q->dest[q->nd].dg = k;
	q->dest[q->nd++].to = *to;
}

void fgd_xmit_to(struct fgd_xmit *x, const struct fgd_addr *to,
                 const uint8_t *buf, size_t len)
{
	int kind;

	if (x->send == NULL || to == NULL || to->len == 0)
		return;
	kind = x->pend ? fgw_proof_needed(buf, len, x->pk) : FGW_PROOF_NONE;
	if (kind != FGW_PROOF_NONE)
		hold(x, to, buf, len, kind);
	else
		x->send(x->arg, to, buf, len);
}

void fgd_xmit_member(struct fgd_xmit *x, const struct fgd_addr *to,
                     const struct fgw_member *m)
{
	uint8_t buf[FGW_MEMBER_SIZE];
	size_t len = fgw_member_write(buf, x->pk, x->incarnation,
	                              ++x->seq_direct, m, x->sk);

	if (len == 0) {
		x->ctr->tx_errors++;
		return;
	}
	fgd_xmit_to(x, to, buf, len);
}

size_t fgd_xmit_seal(const struct fgd_xmit *x, int member,
                     const struct fgw_writer *w, uint8_t out[FGW_MAX_SIZE])
{
	const uint8_t *key = member < 0 ? NULL : fgw_pairwise_tx(x->pw, member);
	size_t len;

	if (x->pend == NULL)
		return key ? fgw_seal_mac(w, key, out) : 0;
	/* Proved elsewhere: whom we share keys with is in our rx-only table;
	 * the MAC's place holds the member until then (hold()). */
	if (member < 0 || fgw_pairwise_rx(x->pw, member) == NULL)
		return 0;
	len = fgw_seal_later(w, out);
	if (len != 0)
		memcpy(out + len - FGW_MAC_SIZE, &member, sizeof member);
	return len;
}

static void batch_flush(struct fgd_batch *b, int last)
{
	size_t len;
	int sign = 1;

	if (b->split) { /* each datagram a batch: part 0, the last */
		uint64_t to = last ? b->to : b->last_ver;

		fgw_set_batch(&b->w, b->from, to, 0, b->flags | FGW_F_LAST);
		b->from = to;
	} else {
		fgw_set_batch(&b->w, b->from, b->to, b->part++,
		              b->flags | (last ? FGW_F_LAST : 0));
	}
	/* MAC'd copies first: signing finishes the writer. */
	if (b->seal != NULL)
		sign = b->seal(b->arg, &b->w);
	len = sign ? fgw_finish(&b->w, b->x->sk) : 0;
	if (sign && len == 0)
		b->x->ctr->tx_errors++; /* could not sign: send nothing */
	else if (sign)
		b->send(b->arg, b->w.buf, len);
	if (!sign || len != 0)
		b->sent++;
	fgw_begin(&b->w, b->x->max_datagram, b->x->pk, b->x->incarnation,
	          ++*b->seq);
}

void fgd_batch_begin(struct fgd_batch *b, struct fgd_xmit *x, uint64_t from,
                     uint64_t to, unsigned flags, fgd_send_fn *send, void *arg)
{
	b->x = x;
	b->from = from;
	b->to = to;
	b->last_ver = from;
	b->flags = flags;
	b->split = (flags & FGW_F_REPAIR) != 0;
	b->seq = b->split ? &x->seq_direct : &x->seq;
	b->part = 0;
	b->sent = 0;
	b->send = send;
	b->seal = NULL;
	b->arg = arg;
	fgw_begin(&b->w, x->max_datagram, x->pk, x->incarnation, ++*b->seq);
}

void fgd_batch_add(struct fgd_batch *b, const char *rule, const uint8_t *key,
                   size_t key_len, uint64_t count, uint64_t floor, uint64_t ver)
{
	size_t rlen = strlen(rule);

	if (fgw_add(&b->w, rule, rlen, key, key_len, count, floor) != 0) {
		/* Full: this part goes, the record starts the next (a record
		 * always fits an empty datagram). */
		batch_flush(b, 0);
		(void)fgw_add(&b->w, rule, rlen, key, key_len, count, floor);
	}
	b->last_ver = ver;
}

size_t fgd_batch_end(struct fgd_batch *b, int always)
{
	if (b->w.nrec > 0 || always)
		batch_flush(b, 1);
	return b->sent;
}
