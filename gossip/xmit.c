/*
 * xmit.c - see xmit.h.
 */
#include "gossip/xmit.h"

#include <string.h>

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
	x->ring.pw = NULL;
	fgw_pairwise_free(x->pw);
	x->pw = NULL;
	x->send = NULL;
}

void fgd_xmit_to(struct fgd_xmit *x, const struct fgd_addr *to,
                 const uint8_t *buf, size_t len)
{
	if (x->send != NULL && to != NULL && to->len != 0)
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

	return key ? fgw_seal_mac(w, key, out) : 0;
}

/* The group's datagrams: MAC'd copies first, for whoever can take them,
 * then, if anyone needs it, one seal for all and the signed copies. */
static void group_send(struct fgd_batch *b)
{
	struct fgw_writer *w[FGW_GROUP_MAX];
	size_t i;
	int sign = 0;

	for (i = 0; i < b->n; i++) {
		w[i] = &b->x->group[i];
		if (b->seal == NULL || b->seal(b->arg, w[i]))
			sign = 1;
	}
	if (sign && fgw_finish_group(w, b->n, b->x->sk) != 0) {
		b->x->ctr->tx_errors += b->n; /* could not sign: send none */
	} else {
		for (i = 0; sign && i < b->n; i++)
			b->send(b->arg, w[i]->buf, w[i]->len);
		b->sent += b->n;
	}
	b->n = 0;
}

static void batch_flush(struct fgd_batch *b, int last)
{
	if (b->split) { /* each datagram a batch: part 0, the last */
		uint64_t to = last ? b->to : b->last_ver;

		fgw_set_batch(b->w, b->from, to, 0, b->flags | FGW_F_LAST);
		b->from = to;
	} else {
		fgw_set_batch(b->w, b->from, b->to, b->part++,
		              b->flags | (last ? FGW_F_LAST : 0));
	}
	if (++b->n == FGW_GROUP_MAX || last)
		group_send(b);
	b->w = &b->x->group[b->n];
	fgw_begin(b->w, b->x->max_datagram, b->x->pk, b->x->incarnation,
	          ++*b->seq);
}

void fgd_batch_begin(struct fgd_batch *b, struct fgd_xmit *x, uint64_t from,
                     uint64_t to, unsigned flags, fgd_send_fn *send, void *arg)
{
	b->x = x;
	b->n = 0;
	b->w = &x->group[0];
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
	fgw_begin(b->w, x->max_datagram, x->pk, x->incarnation, ++*b->seq);
}

void fgd_batch_add(struct fgd_batch *b, const char *rule, const uint8_t *key,
                   size_t key_len, uint64_t count, uint64_t floor, uint64_t ver)
{
	size_t rlen = strlen(rule);

	if (fgw_add(b->w, rule, rlen, key, key_len, count, floor) != 0) {
		/* Full: this part goes, the record starts the next (a record
		 * always fits an empty datagram). */
		batch_flush(b, 0);
		(void)fgw_add(b->w, rule, rlen, key, key_len, count, floor);
	}
	b->last_ver = ver;
}

size_t fgd_batch_end(struct fgd_batch *b, int always)
{
	if (b->w->nrec > 0 || always)
		batch_flush(b, 1);
	else if (b->n > 0)
		group_send(b);
	return b->sent;
}
