/* SPDX-License-Identifier: ISC */
/*
 * node.c - the engine: a node's modules set up in order and torn down in
 * reverse, a round, and where a received datagram goes (see node.h).
 */
#include "gossip/node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/client.h"

/* Seqs are reserved in the keep this far ahead of the ones in use, and
 * the reservation moved on once half of it is used: a restarted node
 * starts at the reservation, past every seq its past lives sent, so that
 * the same incarnation never sends one (incarnation, seq) twice (replay.h
 * would drop the second).  Half a reservation is more datagrams than a
 * round can send (one per record of the local ledger at most). */
#define FGD_SEQ_RESERVE (UINT64_C(1) << 32)

static void seqs_reserve(struct fgd_node *n)
{
	const uint64_t in_use[2] = {n->x.seq, n->x.seq_direct};
	struct fgd_keep *k = n->harvest.keep;
	unsigned i;

	for (i = 0; i < 2; i++)
		if (k->seq[i] < in_use[i] + FGD_SEQ_RESERVE / 2)
			k->seq[i] = in_use[i] + FGD_SEQ_RESERVE;
}

/* The incarnation: the previous daemon's when our counts continue where it
 * left them (its take cut short finished), else a new one. */
static void incarnation_begin(struct fgd_node *n, uint64_t guess)
{
	struct fgd_keep *k = n->harvest.keep;

	if (fgd_counts_resumable(&n->counts)) {
		fgd_harvest_recover(&n->harvest,
		                    fgd_counts_recover(&n->counts));
		n->x.incarnation = k->incarnation;
		n->x.seq = k->seq[0];
		n->x.seq_direct = k->seq[1];
	} else {
		fgd_harvest_recover(&n->harvest, 0);
		fgd_counts_restart(&n->counts);
		n->x.incarnation = fgd_harvest_incarnation(&n->harvest, guess);
		k->seq[0] = k->seq[1] = 0;
	}
	seqs_reserve(n);
}

static int modules_init(struct fgd_node *n, const uint8_t *sk,
                        const struct fgd_node_params *p, char *err,
                        size_t errlen)
{
	const struct fg_seg_hdr *h = n->fg->seg.tbl.hdr;
	uint64_t ident[3] = {h->hash_seed[0], h->hash_seed[1], h->created_ns};
	struct fgd_counts_params cp = {.ledger_max = p->ledger_max,
	                               .debt_window_ms = p->debt_window_ms,
	                               .ident = ident,
	                               .ledger_key = p->ledger_key};
	char path[600], local[600];

	/* The debt bound counts every member that may consume, not only
	 * the seeds: with discovery a node may be configured with one. */
	cp.npeers = p->npeers;
	if (n->kr->n > 1 && n->kr->n - 1 > cp.npeers)
		cp.npeers = n->kr->n - 1;
	if (p->state_path != NULL) {
		snprintf(path, sizeof path, "%s-remote", p->state_path);
		snprintf(local, sizeof local, "%s-local", p->state_path);
		cp.path = path;
		cp.local_path = local;
	}
	if (fgd_harvest_init(&n->harvest, n->fg, p->state_path, err, errlen) !=
	        0 ||
	    fgd_counts_init(&n->counts, n->fg, &n->harvest, n->kr, sk, &cp,
	                    &n->ctr, err, errlen) != 0)
		return -1;
	incarnation_begin(n, p->incarnation);
	if (fgd_members_init(&n->members, &n->x, p->interval_ms, &n->ctr) !=
	        0 ||
	    fgd_sync_init(&n->sync, &n->counts, &n->members, &n->x, &n->ctr) !=
	        0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* A ping carries our digest of the member pinged (node.h). */
static void ping_digest(void *arg, int member, struct fgw_member *m)
{
	fgd_sync_digest(arg, member, m);
}

int fgd_node_init(struct fgd_node *n, fg_client *fg,
                  const struct fgw_keyring *kr, const uint8_t *sk,
                  const uint8_t pk[FGW_PK_SIZE],
                  const struct fgd_node_params *p)
{
	char err[300] = "out of memory";
	size_t nk = kr->n ? kr->n : 1;

	memset(n, 0, sizeof *n);
	n->fg = fg;
	fgd_xmit_init(&n->x, kr, sk, pk, p->incarnation, p->max_datagram,
	              &n->ctr);
	if (sk == NULL) { /* proved elsewhere (xmit.h) */
		n->x.pw = p->pw_rx;
		n->x.ring.pw = p->pw_rx;
		if (p->prove == NULL ||
		    fgd_xmit_defer(&n->x, p->prove, p->prove_arg) != 0) {
			fgd_xmit_fini(&n->x);
			return -1;
		}
	}
	n->kr = n->x.kr;
	n->replay = calloc(nk, sizeof *n->replay);
	n->replay_direct = calloc(nk, sizeof *n->replay_direct);
	if (n->replay == NULL || n->replay_direct == NULL ||
	    modules_init(n, sk, p, err, sizeof err) != 0) {
		if (p->err != NULL)
			snprintf(p->err, p->errlen, "%s", err);
		fgd_node_fini(n);
		return -1;
	}
	n->members.on_ping = ping_digest;
	n->members.on_ping_arg = &n->sync;
	return 0;
}

void fgd_node_fini(struct fgd_node *n)
{
	fgd_sync_fini(&n->sync);
	fgd_members_fini(&n->members);
	fgd_counts_fini(&n->counts);
	fgd_harvest_fini(&n->harvest);
	fgd_xmit_fini(&n->x);
	free(n->replay);
	free(n->replay_direct);
	n->replay = NULL;
	n->replay_direct = NULL;
}

int fgd_node_set_net(struct fgd_node *n, const struct fgd_net *net)
{
	return fgd_members_set_net(&n->members, net);
}

/* ----------------------------------------------------------------- rounds */

void fgd_node_harvest(struct fgd_node *n, uint64_t now_ms)
{
	seqs_reserve(n);
	fgd_harvest_pass(&n->harvest, now_ms, fgd_counts_take, &n->counts);
	if (n->harvest.passes % FGD_ABSORB_EVERY == 0)
		fgd_counts_absorb(&n->counts, now_ms);
	(void)fgd_harvest_evict(&n->harvest, 0); /* only under pressure */
}

/* The heartbeat and flood flags of the round about to go (node.h): the
 * first two quiet rounds after a change, and the next few periodic
 * heartbeats, send a heartbeat that travels like records, so that a node
 * that missed the last change learns it lacks it (sync.c); each
 * forwarding reaches all but a few percent of the nodes. */
static int round_begin(struct fgd_node *n, int full, unsigned *flags)
{
	const struct fgd_counts *c = &n->counts;
	int heartbeat;

	n->rounds++;
	heartbeat = full ||
	            (n->rounds + n->members.phase) % FGD_HEARTBEAT_EVERY == 0 ||
	            (n->changed_round != 0 && c->k->version == c->k->emitted &&
	             n->rounds - n->changed_round <= FGD_FLOOD_QUIET);
	if (c->k->version != c->k->emitted)
		n->changed_round = n->rounds;
	*flags = heartbeat && n->changed_round != 0 &&
	                 n->rounds - n->changed_round <=
	                     FGD_FLOOD_HEARTBEATS * FGD_HEARTBEAT_EVERY
	             ? FGW_F_FLOOD
	             : 0;
	return heartbeat;
}

static size_t emit(struct fgd_node *n, int full, fgd_send_fn *send,
                   int (*seal)(void *arg, const struct fgw_writer *w),
                   void *arg)
{
	struct fgd_counts *c = &n->counts;
	struct fgd_batch b;
	unsigned flags;
	int heartbeat = round_begin(n, full, &flags);
	size_t i, sent;

	fgd_batch_begin(&b, &n->x, full ? 0 : c->k->emitted, c->k->version,
	                flags, send, arg);
	b.seal = seal;
	(void)fg__rule_index(n->fg, ""); /* rule names, for the records */
	for (i = 0; i < c->local.cap; i++) {
		const struct fgd_local *e = fgd_ledger_at(&c->local, i);

		if (e == NULL || e->count == 0 ||
		    !(e->ver > c->k->emitted || (full && e->count > e->floor)))
			continue;
		fgd_batch_add(&b, n->fg->names[e->rule], e->key, e->key_len,
		              e->count, e->floor, e->ver);
	}
	sent = fgd_batch_end(&b, heartbeat);
	c->k->emitted = c->k->version; /* sent: a restart sends it no more */
	fgd_sync_round(&n->sync, c->k->version);
	return sent;
}

size_t fgd_node_emit(struct fgd_node *n, uint64_t now_ms, int full,
                     fgd_send_fn *send, void *arg)
{
	(void)now_ms;
	return emit(n, full, send, NULL, arg);
}

size_t fgd_node_emit_sealed(struct fgd_node *n, uint64_t now_ms, int full,
                            fgd_send_fn *send,
                            int (*seal)(void *arg, const struct fgw_writer *w),
                            void *arg)
{
	(void)now_ms;
	return emit(n, full, send, seal, arg);
}

size_t fgd_node_tick(struct fgd_node *n, uint64_t now_ms)
{
	size_t sent;

	(void)fgd_members_round(&n->members, now_ms);
	sent = emit(n, 0, fgd_members_round_send, fgd_members_round_seal,
	            &n->members);
	fgd_members_tick(&n->members,
	                 n->rounds == 1 || (n->rounds + n->members.phase) %
	                                           FGD_HEARTBEAT_EVERY ==
	                                       0,
	                 now_ms);
	(void)fgd_sync_tick(&n->sync, now_ms);
	return sent;
}

/* --------------------------------------------------------------- receive */

void fgd_node_learn_incarnation(struct fgd_node *n, uint64_t known)
{
	if (known <= n->x.incarnation || known == UINT64_MAX)
		return;
	n->x.incarnation = fgd_harvest_incarnation(&n->harvest, known + 1);
	n->ctr.incarnations++;
}

/* A membership datagram that passed, but an announcement. */
static void on_member(struct fgd_node *n, const struct fgw_view *v,
                      const struct fgd_addr *from, uint64_t now_ms)
{
	struct fgw_member m;

	if (fgw_member_get(v, &m) != 0)
		return;
	if (fgd_members_receive(&n->members, v, &m, from, now_ms)) {
		fgd_node_learn_incarnation(n, m.digest_inc);
		fgd_sync_answer(&n->sync, v->origin, &m, from, now_ms);
	}
}

/* A consumption datagram that passed: apply, note, pass it on. */
static void on_records(struct fgd_node *n, struct fgw_view *v,
                       const struct fgd_addr *from, uint64_t now_ms)
{
	struct fgw_record rec[FGD_APPLY_MAX];
	size_t k;
	int whole = 1;

	do {
		for (k = 0; k < FGD_APPLY_MAX && fgw_next(v, &rec[k]); k++)
			;
		if (fgd_counts_apply_all(&n->counts, v->origin, v->incarnation,
		                         rec, k, now_ms) != 0)
			whole = 0;
	} while (k == FGD_APPLY_MAX);
	fgd_sync_note(&n->sync, v->origin, v, whole, now_ms);
	/* First time we accept it (the replay window said so): pass it on,
	 * unchanged, so that its origin's signature travels with it.  Not
	 * a heartbeat, unless it follows a change: flooding all would cost
	 * every node N x fanout verifications a heartbeat period for
	 * nothing SWIM does not do; not a repair: it answers one node. */
	if ((v->nrec > 0 || (v->flags & FGW_F_FLOOD)) &&
	    !(v->flags & (FGW_F_REPAIR | FGW_F_MAC)))
		fgd_members_forward(&n->members, v, from, now_ms);
}

/* Whether an opened datagram is new: from an incarnation of its origin
 * no older than any seen in either seq space, then an announcement by
 * its version, anything else by its seq space's replay window. */
static enum fgw_drop admit(struct fgd_node *n, const struct fgw_view *v)
{
	const struct fgw_replay *r = &n->replay[v->origin];
	const struct fgw_replay *d = &n->replay_direct[v->origin];

	if (v->incarnation < r->incarnation || v->incarnation < d->incarnation)
		return FGW_STALE;
	if (v->type == FGW_TYPE_MEMBER && v->kind == FGW_ANNOUNCE)
		return fgd_members_announce(&n->members, v);
	return fgw_replay_check(v->type == FGW_TYPE_MEMBER ||
	                                (v->flags & FGW_F_REPAIR)
	                            ? &n->replay_direct[v->origin]
	                            : &n->replay[v->origin],
	                        v->incarnation, v->seq);
}

/* A consumption datagram whose (incarnation, seq) its origin's window
 * holds already: a copy of one we took (a relayed datagram comes about
 * twice, spread.h) or a forgery of one, dropped before its signature costs
 * anything.  Nothing is learnt from it: fgw_peek() is not authenticated. */
static enum fgw_drop seen_before(const struct fgd_node *n, const uint8_t *buf,
                                 size_t len)
{
	struct fgw_view v;
	const struct fgw_replay *w;

	if (fgw_peek(buf, len, n->kr, &v) != FGW_OK ||
	    v.type != FGW_TYPE_CONSUMPTION || v.origin == n->x.self)
		return FGW_OK; /* fgw_open() says what is wrong, if anything */
	w = (v.flags & FGW_F_REPAIR) ? &n->replay_direct[v.origin]
	                             : &n->replay[v.origin];
	if (v.incarnation < n->replay[v.origin].incarnation ||
	    v.incarnation < n->replay_direct[v.origin].incarnation)
		return FGW_STALE;
	return fgw_replay_peek(w, v.incarnation, v.seq);
}

enum fgw_drop fgd_node_receive_from(struct fgd_node *n, const uint8_t *buf,
                                    size_t len, const struct fgd_addr *from,
                                    uint64_t now_ms)
{
	struct fgw_view v;
	enum fgw_drop d;

	n->ctr.rx_datagrams++;
	n->ctr.rx_bytes += len;
	/* Others re-send announcements: one we verified already costs a
	 * compare, not a signature check. */
	if (fgd_members_known(&n->members, buf, len))
		return FGW_OK;
	d = seen_before(n, buf, len);
	if (d != FGW_OK) {
		n->ctr.drops[d]++;
		return d;
	}
	d = fgw_open_cached(buf, len, n->kr, &n->roots, &v);
	if (d == FGW_OK && v.origin == n->x.self) {
		n->ctr.drops_self++;
		return FGW_REPLAY;
	}
	if (d == FGW_OK)
		d = admit(n, &v);
	if (d != FGW_OK) {
		n->ctr.drops[d]++;
		return d;
	}
	if (v.type == FGW_TYPE_MEMBER && v.kind == FGW_ANNOUNCE)
		return FGW_OK; /* re-sent by others: says nothing of liveness */
	fgd_sync_known(&n->sync, v.origin, v.incarnation);
	fgd_members_heard(&n->members, v.origin, now_ms);
	if (v.type == FGW_TYPE_MEMBER)
		on_member(n, &v, from, now_ms);
	else
		on_records(n, &v, from, now_ms);
	return FGW_OK;
}

enum fgw_drop fgd_node_receive(struct fgd_node *n, const uint8_t *buf,
                               size_t len, uint64_t now_ms)
{
	return fgd_node_receive_from(n, buf, len, NULL, now_ms);
}

/* ------------------------------------------------------------- the rest */

enum fgd_peer_state fgd_node_peer_state(const struct fgd_node *n, int origin,
                                        uint64_t now_ms)
{
	return fgd_members_state(&n->members, origin, now_ms);
}

uint64_t fgd_node_evict(struct fgd_node *n)
{
	return fgd_harvest_evict(&n->harvest, 0);
}

void fgd_node_expire(struct fgd_node *n, uint64_t now_ms)
{
	fgd_counts_expire(&n->counts, now_ms);
}

struct fgd_local *fgd_node_count(struct fgd_node *n, const char *rule,
                                 const void *key, size_t len)
{
	return fgd_counts_local(&n->counts, rule, key, len);
}

struct fgd_remote *fgd_node_mark(struct fgd_node *n, uint64_t origin_id,
                                 const char *rule, size_t rule_len,
                                 const void *key, size_t key_len)
{
	return fgd_counts_mark(&n->counts, origin_id, rule, rule_len, key,
	                       key_len);
}

void fgd_node_mark_id(const struct fgd_node *n, uint64_t origin_id,
                      const char *rule, size_t rule_len, const void *key,
                      size_t key_len, uint64_t id[2])
{
	fgd_counts_mark_id(&n->counts, origin_id, rule, rule_len, key, key_len,
	                   id);
}
