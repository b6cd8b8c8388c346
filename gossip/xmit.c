/* SPDX-License-Identifier: ISC */
/*
 * xmit.c - see xmit.h.
 */
#include "gossip/xmit.h"

#include <stdlib.h>
#include <string.h>

/* What waits for its proof (xmit.h): datagrams, where each goes, and the
 * roots of the seal groups among them, each to be signed once. */
struct fgd_pending {
	size_t n, nd, nr;
	struct {
		uint8_t buf[FGW_MAX_SIZE];
		size_t len;
		int kind;    /* FGW_PROOF_*; _NONE: ready to go */
		int member;  /* _MAC */
		size_t root; /* _SEAL: its root in root[] */
	} dg[FGD_PEND_MAX];
	struct {
		size_t dg;
		struct fgd_addr to;
	} dest[FGD_PEND_DEST];
	uint8_t root[FGD_PEND_MAX][FGD_ROOT_PROOF]; /* root, its signature */
	/* The group group_send is sending: 0 none, 1 its root known (in
	 * group[]), 2 and its signature (after it), made by a flush half way
	 * through the group: its other datagrams need no call. */
	int in_group;
	uint8_t group[FGD_ROOT_PROOF];
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

/* The proofs @q asks for into @p: its datagrams' own, then one a root. */
static size_t proofs(struct fgd_pending *q, struct fgd_proof *p)
{
	size_t i, np = 0;

	for (i = 0; i < q->n; i++)
		if (q->dg[i].kind == FGW_PROOF_SIG ||
		    q->dg[i].kind == FGW_PROOF_MAC)
			p[np++] = (struct fgd_proof){.buf = q->dg[i].buf,
			                             .len = q->dg[i].len,
			                             .kind = q->dg[i].kind,
			                             .member = q->dg[i].member};
	for (i = 0; i < q->nr; i++)
		p[np++] = (struct fgd_proof){.buf = q->root[i],
		                             .len = FGD_ROOT_PROOF,
		                             .kind = FGW_PROOF_SEAL,
		                             .member = -1};
	return np;
}

/* The roots' signatures into the datagrams of their groups, and into the
 * group being sent, if it was among them. */
static void roots_spread(struct fgd_pending *q)
{
	size_t i;

	for (i = 0; i < q->n; i++)
		if (q->dg[i].kind == FGW_PROOF_SEAL)
			memcpy(q->dg[i].buf + q->dg[i].len - FGW_SIG_SIZE,
			       q->root[q->dg[i].root] + FGW_HASH_SIZE,
			       FGW_SIG_SIZE);
	for (i = 0; q->in_group == 1 && i < q->nr; i++)
		if (memcmp(q->root[i], q->group, FGW_HASH_SIZE) == 0) {
			memcpy(q->group, q->root[i], FGD_ROOT_PROOF);
			q->in_group = 2;
		}
}

void fgd_xmit_flush(struct fgd_xmit *x)
{
	struct fgd_pending *q = x->pend;
	struct fgd_proof p[FGD_PROVE_MAX];
	size_t i, np;

	if (q == NULL || q->n == 0)
		return;
	np = proofs(q, p);
	if (np > 0 && x->prove(x->prove_arg, p, np) != 0) {
		x->ctr->tx_errors += q->nd; /* could not prove: send nothing */
	} else {
		roots_spread(q);
		for (i = 0; i < q->nd && x->send != NULL; i++)
			x->send(x->arg, &q->dest[i].to,
			        q->dg[q->dest[i].dg].buf,
			        q->dg[q->dest[i].dg].len);
	}
	q->n = q->nd = q->nr = 0;
}

/* The root of held datagram @k, sealed (fgw_proof_needed): the group's
 * being sent, or read from its seal.  0, or -1 when its seal is broken. */
static int root_of(struct fgd_pending *q, size_t k)
{
	uint8_t r[FGW_HASH_SIZE];
	const uint8_t *root = q->group, *sig;
	size_t tlen, i;

	if (q->in_group == 0) {
		tlen = fgw_seal_size(q->dg[k].buf, q->dg[k].len);
		if (tlen == 0 || fgw_seal_root(q->dg[k].buf, q->dg[k].len, tlen,
		                               r, &sig) != 0)
			return -1;
		root = r;
	} else if (q->in_group == 2) { /* signed already */
		memcpy(q->dg[k].buf + q->dg[k].len - FGW_SIG_SIZE,
		       q->group + FGW_HASH_SIZE, FGW_SIG_SIZE);
		q->dg[k].kind = FGW_PROOF_NONE;
		return 0;
	}
	for (i = 0; i < q->nr; i++)
		if (memcmp(q->root[i], root, FGW_HASH_SIZE) == 0)
			break;
	if (i == q->nr)
		memcpy(q->root[q->nr++], root, FGW_HASH_SIZE);
	q->dg[k].root = i;
	return 0;
}

/* Hold @buf, one of ours, for its proof (the same datagram to several
 * destinations is proved once; a sealed one's signature may be in place
 * already). */
static void hold(struct fgd_xmit *x, const struct fgd_addr *to,
                 const uint8_t *buf, size_t len, int kind)
{
	struct fgd_pending *q = x->pend;
	size_t k, cmp = len - (kind == FGW_PROOF_SEAL ? FGW_SIG_SIZE : 0);

	if (q->n == FGD_PEND_MAX || q->nd == FGD_PEND_DEST)
		fgd_xmit_flush(x);
	k = q->n;
	if (k > 0 && q->dg[k - 1].len == len &&
	    memcmp(q->dg[k - 1].buf, buf, cmp) == 0) {
		k--;
	} else {
		memcpy(q->dg[k].buf, buf, len);
		q->dg[k].len = len;
		q->dg[k].kind = kind;
		q->dg[k].member = -1;
		if (kind == FGW_PROOF_MAC) /* fgd_xmit_seal's placeholder */
			memcpy(&q->dg[k].member, buf + len - FGW_MAC_SIZE,
			       sizeof q->dg[k].member);
		if (kind == FGW_PROOF_SEAL && root_of(q, k) != 0) {
			x->ctr->tx_errors++;
			return;
		}
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

/* Seal a group: signed here, or its root kept for the flush to have it
 * signed (hold() gives the group's datagrams that root). */
static int seal_group(struct fgd_xmit *x, struct fgw_writer *const w[],
                      size_t n)
{
	if (x->pend == NULL)
		return fgw_finish_group(w, n, x->sk);
	if (fgw_finish_group_root(w, n, x->pend->group) != 0)
		return -1;
	x->pend->in_group = 1;
	return 0;
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
	if (sign && seal_group(b->x, w, b->n) != 0) {
		b->x->ctr->tx_errors += b->n; /* could not sign: send none */
	} else {
		for (i = 0; sign && i < b->n; i++)
			b->send(b->arg, w[i]->buf, w[i]->len);
		b->sent += b->n;
	}
	if (b->x->pend != NULL)
		b->x->pend->in_group = 0;
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
