/*
 * node.c - harvest, emit and apply consumption (see node.h).
 *
 * Why cumulative counts: a datagram carries, per key, everything this
 * node has consumed in its incarnation, never a delta.  The receiver's
 * rule is "debit the increase over the highest count seen", so every
 * datagram is idempotent: lost ones are repaired by the next, duplicated
 * or replayed ones debit nothing.  Consumption is applied as debt (the
 * bucket may go below zero) so that all hosts draw on one budget; the
 * debt is capped only far above what honest traffic can produce.
 *
 * Versions and floors (node.h) make a count meaningful to a node that has
 * no mark for it: the ledger entry's `ver` orders its changes for the
 * repairs of sync.c, its `floor` says how much of it still matters.
 */
#include "daemon/node.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <urcu/uatomic.h>

#include "daemon/members.h"
#include "daemon/sync.h"
#include "lib/client.h"
#include "shm/clock.h"
#include "shm/layout.h"
#include "shm/scan.h"

#define REMOTE_MAX_PER_PEER 4u /* remote ledger: this many x capacity */

/* What the sums hold of slot @b: taken out (@sign -1) or put in (+1). */
static void base_count(struct fgd_node *n, const struct fgd_base *b, int sign)
{
	struct fgd_rule_sums *r;

	if (b->id == FGD_BASE_DEAD) {
		n->dead += (uint64_t)(int64_t)sign;
		return;
	}
	if (b->id == FGD_BASE_NONE)
		return;
	n->ready += (uint64_t)(int64_t)sign;
	r = &n->live[b->id >> 56]; /* the rule: fg_slot_view.id keeps it */
	r->keys += (uint64_t)(int64_t)sign;
	r->allowed += (uint64_t)(int64_t)sign * b->allowed;
	r->denied += (uint64_t)(int64_t)sign * b->denied;
}

/* Slot @v as it is now goes into the sums; its baseline follows, except
 * seen, which the gossip moves. */
static void base_take(struct fgd_node *n, struct fgd_base *b,
                      const struct fg_slot_view *v, int live)
{
	base_count(n, b, -1);
	if (live) {
		if (v->id != b->id) /* a bucket new since the last look */
			b->seen = v->origin;
		b->id = v->id;
		b->allowed = v->consumed;
		b->denied = v->denied;
	} else {
		b->id =
		    v->state == FG_SLOT_DEAD ? FGD_BASE_DEAD : FGD_BASE_NONE;
		b->allowed = b->denied = 0;
	}
	base_count(n, b, 1);
}

/* Take everything in the segment now as already reported. */
static void snapshot(struct fgd_node *n)
{
	struct fg_table *t = &n->fg->seg.tbl;
	struct fg_slot_view v;
	uint64_t cur = 0;

	memset(n->base, 0, n->nslots * sizeof *n->base);
	memset(n->live, 0, sizeof n->live);
	n->ready = n->dead = 0;
	while (fg__slot_next(t, &cur, &v)) {
		base_take(n, &n->base[v.slot], &v, 1);
		n->base[v.slot].seen = v.count;
	}
	fg__harvest_all(t); /* the first pass counts the rest (DEAD) */
}

/* A baseline kept from the previous daemon: its sums, and a first pass
 * over every block (a pass it died in may have taken blocks' marks). */
static void baseline_resume(struct fgd_node *n)
{
	uint64_t i;

	memset(n->live, 0, sizeof n->live);
	n->ready = n->dead = 0;
	for (i = 0; i < n->nslots; i++) {
		struct fgd_base *b = &n->base[i];

		if (b->id != FGD_BASE_DEAD && b->id != FGD_BASE_NONE &&
		    !(b->id & 1))
			b->id = FGD_BASE_NONE; /* not one of ours: forget */
		base_count(n, b, 1);
	}
	fg__harvest_all(&n->fg->seg.tbl);
}

/*
 * The state file: a header naming the segment it belongs to (its random
 * hash seed and creation time, which a re-created segment does not share)
 * and the per-slot baseline.  It lives beside the segment, on tmpfs, and
 * like it does not survive a reboot.
 */
struct state_hdr {
	uint8_t magic[8];
	uint64_t seed[2];
	uint64_t created_ns;
	uint64_t nslots;
	uint64_t incarnation; /* the last one this node used */
	uint64_t pad[2];
};

static const uint8_t state_magic[8] = "FGDSTAT3"; /* layout 3 baseline */

static int state_map(struct fgd_node *n, const char *path)
{
	const struct fg_seg_hdr *h = n->fg->seg.tbl.hdr;
	size_t bytes = sizeof(struct state_hdr) + n->nslots * sizeof *n->base;
	struct state_hdr *sh;
	struct stat st;
	int fd, fresh;
	void *p;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    ((size_t)st.st_size != bytes && ftruncate(fd, (off_t)bytes) != 0)) {
		close(fd);
		return 0;
	}
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return 0;
	sh = p;
	fresh = (size_t)st.st_size != bytes ||
	        memcmp(sh->magic, state_magic, sizeof sh->magic) != 0 ||
	        sh->seed[0] != h->hash_seed[0] ||
	        sh->seed[1] != h->hash_seed[1] ||
	        sh->created_ns != h->created_ns || sh->nslots != n->nslots;
	if (fresh) {
		memset(sh, 0, sizeof *sh);
		sh->seed[0] = h->hash_seed[0];
		sh->seed[1] = h->hash_seed[1];
		sh->created_ns = h->created_ns;
		sh->nslots = n->nslots;
	}
	n->base = (struct fgd_base *)(void *)(sh + 1);
	n->base_bytes = bytes;
	/* Incarnations must grow: a clock set back between two starts must
	 * not make peers take us for our own past. */
	if (n->incarnation <= sh->incarnation)
		n->incarnation = sh->incarnation + 1;
	sh->incarnation = n->incarnation;
	if (fresh) {
		snapshot(n);
		memcpy(sh->magic, state_magic, sizeof sh->magic);
	} else {
		baseline_resume(n);
	}
	return 1;
}

int fgd_node_init(struct fgd_node *n, fg_client *fg,
                  const struct fgw_keyring *kr, const uint8_t *sk,
                  const uint8_t pk[FGW_PK_SIZE],
                  const struct fgd_node_params *p)
{
	uint64_t cap = fg->seg.capacity;

	memset(n, 0, sizeof *n);
	n->fg = fg;
	n->ring = *kr;
	n->ring.pw = NULL;
	n->kr = &n->ring;
	/* Without keys (a bad key, no memory) everything is signed. */
	if (kr->n <= FGD_PAIRWISE_MAX &&
	    fgw_pairwise_new(kr, sk, pk, &n->pw) == 0)
		n->ring.pw = n->pw;
	n->sk = sk;
	memcpy(n->pk, pk, FGW_PK_SIZE);
	n->self = fgw_keyring_find(kr, pk);
	n->incarnation = p->incarnation;
	n->max_datagram = p->max_datagram;
	n->interval_ns = (uint64_t)p->interval_ms * 1000000u;
	/* The debt bound counts every member that may consume, not only
	 * the seeds: with discovery a node may be configured with one. */
	n->npeers = p->npeers;
	if (kr->n > 1 && kr->n - 1 > n->npeers)
		n->npeers = kr->n - 1;
	n->nslots = fg__table_nslots(&fg->seg.tbl);
	if (fgd_map_init(&n->local, cap) != 0)
		goto fail;
	if (p->state_path != NULL) {
		const struct fg_seg_hdr *h = fg->seg.tbl.hdr;
		uint64_t ident[3] = {h->hash_seed[0], h->hash_seed[1],
		                     h->created_ns};
		char path[512];

		snprintf(path, sizeof path, "%s-remote", p->state_path);
		if (fgd_map_open(&n->remote, cap * REMOTE_MAX_PER_PEER, path,
		                 ident) != 0)
			goto fail;
	} else if (fgd_map_init(&n->remote, cap * REMOTE_MAX_PER_PEER) != 0) {
		goto fail;
	}
	n->replay = calloc(kr->n ? kr->n : 1, sizeof *n->replay);
	n->replay_direct = calloc(kr->n ? kr->n : 1, sizeof *n->replay_direct);
	n->heard_ms = calloc(kr->n ? kr->n : 1, sizeof *n->heard_ms);
	if (n->replay == NULL || n->replay_direct == NULL ||
	    n->heard_ms == NULL || fgd_members_init(n) != 0 ||
	    fgd_sync_init(n) != 0)
		goto fail;
	if (p->state_path == NULL || !state_map(n, p->state_path)) {
		n->base = calloc(n->nslots, sizeof *n->base);
		if (n->base == NULL)
			goto fail;
		snapshot(n);
	}
	return 0;
fail:
	fgd_node_fini(n);
	return -1;
}

void fgd_node_fini(struct fgd_node *n)
{
	fgd_map_fini(&n->local);
	fgd_map_fini(&n->remote);
	free(n->replay);
	free(n->replay_direct);
	free(n->heard_ms);
	fgd_members_fini(n);
	fgd_sync_fini(n);
	n->ring.pw = NULL;
	fgw_pairwise_free(n->pw);
	n->pw = NULL;
	if (n->base_bytes)
		munmap((struct state_hdr *)(void *)n->base - 1, n->base_bytes);
	else
		free(n->base);
	n->base_bytes = 0;
	n->replay = NULL;
	n->replay_direct = NULL;
	n->heard_ms = NULL;
	n->base = NULL;
}

/*
 * Raise the floor of every count whose bucket is full now: all of it was
 * consumed before, and a full bucket has forgotten it.  A bucket that is
 * gone (evicted full, or its rule removed) counts as full.  The change
 * takes a version, so receivers learn the floor and may forget the key.
 */
static void absorb(struct fgd_node *n, uint64_t now_ms)
{
	uint64_t now = fg__now_ns();
	size_t i;

	for (i = 0; i < n->local.cap; i++) {
		struct fgd_entry *e = &n->local.e[i];
		int idx;

		if (e->hash == 0 || e->count <= e->floor)
			continue;
		idx = fg__rule_index(n->fg, e->rule);
		if (idx >= 0 && fg__bucket_full(n->fg, (unsigned)idx, e->key,
		                                e->key_len, now) != 1)
			continue;
		e->floor = e->count;
		e->ver = ++n->version;
		e->touched = now_ms;
	}
}

void fgd_node_harvest(struct fgd_node *n, uint64_t now_ms)
{
	struct fg_table *t = &n->fg->seg.tbl;
	uint8_t global[FG_RULES_MAX];
	fg_rule_info ri[FG_RULES_MAX];
	struct fg_slot_view v;
	uint64_t cur = 0;
	unsigned r;
	int purged = 0;

	for (r = 0; r < FG_RULES_MAX; r++)
		global[r] = fg_rule_get(n->fg, r, &ri[r]) == 0 &&
		            (ri[r].flags & FG_RULE_GLOBAL);

	/* What evicted buckets held, first: a bucket evicted during the
	 * pass is then missed at worst (once), never counted twice. */
	for (r = 0; r < FG_RULES_MAX; r++) {
		n->sums[r].allowed =
		    uatomic_read(&n->fg->seg.rules[r].evicted_consumed);
		n->sums[r].denied =
		    uatomic_read(&n->fg->seg.rules[r].evicted_denied);
	}
	/* Only the blocks that changed since the last pass. */
	while (fg__harvest_next(t, &cur, &v)) {
		struct fgd_base *b = &n->base[v.slot];
		struct fgd_entry *e;
		uint64_t delta;
		int live = v.state == FG_SLOT_READY && v.keylen > 0;

		if (!live && b->id == FGD_BASE_NONE && v.state != FG_SLOT_DEAD)
			continue; /* empty, and was: most of a block */
		base_take(n, b, &v, live);
		if (!live || v.count == b->seen)
			continue;
		delta = (v.count - b->seen) & FG_W_COUNT_MASK;
		if (v.rule >= FG_RULES_MAX || !global[v.rule]) {
			b->seen = v.count; /* not gossiped */
			continue;
		}
		e = fgd_map_get(&n->local, 0, ri[v.rule].name,
		                strlen(ri[v.rule].name), v.key, v.keylen, 1);
		if (e == NULL && !purged) {
			/* Full: a count that is all floor matters to nobody,
			 * and a key that comes back starts above any mark a
			 * receiver holds of it (node.h).  Once a harvest. */
			purged = 1;
			(void)fgd_map_expire(&n->local, UINT64_MAX, 0);
			e = fgd_map_get(&n->local, 0, ri[v.rule].name,
			                strlen(ri[v.rule].name), v.key,
			                v.keylen, 1);
		}
		if (e == NULL) { /* every count still owed: retried later */
			n->ctr.local_noroom++;
			fg__harvest_again(t, v.slot);
			continue;
		}
		b->seen = v.count;
		if (e->count == 0) /* new: above any mark left of its past */
			e->count = e->floor = n->total;
		e->count += delta;
		e->ver = ++n->version;
		e->touched = now_ms;
		n->total += delta;
		n->ctr.harvested += delta;
	}
	for (r = 0; r < FG_RULES_MAX; r++) {
		n->sums[r].keys = n->live[r].keys;
		n->sums[r].allowed += n->live[r].allowed;
		n->sums[r].denied += n->live[r].denied;
	}
	if (++n->harvests % FGD_ABSORB_EVERY == 0)
		absorb(n, now_ms);
	(void)fgd_node_evict(n); /* only under pressure: see node.h */
}

/* A batch's parts take consecutive seqs (receivers tell batches of one
 * range apart by the seq of part 0): nothing else may sign between
 * fgd_batch_begin and fgd_batch_end. */
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
	len = sign ? fgw_finish(&b->w, b->n->sk) : 0;
	if (sign && len == 0)
		b->n->ctr.tx_errors++; /* could not sign: send nothing */
	else if (sign)
		b->send(b->arg, b->w.buf, len);
	if (!sign || len != 0)
		b->sent++;
	fgw_begin(&b->w, b->n->max_datagram, b->n->pk, b->n->incarnation,
	          ++*b->seq);
}

void fgd_batch_begin(struct fgd_batch *b, struct fgd_node *n, uint64_t from,
                     uint64_t to, unsigned flags, fgd_send_fn *send, void *arg)
{
	b->n = n;
	b->from = from;
	b->to = to;
	b->last_ver = from;
	b->flags = flags;
	b->split = (flags & FGW_F_REPAIR) != 0;
	b->seq = b->split ? &n->seq_direct : &n->seq;
	b->part = 0;
	b->sent = 0;
	b->send = send;
	b->seal = NULL;
	b->arg = arg;
	fgw_begin(&b->w, n->max_datagram, n->pk, n->incarnation, ++*b->seq);
}

void fgd_batch_add(struct fgd_batch *b, const struct fgd_entry *e)
{
	if (fgw_add(&b->w, e->rule, e->rule_len, e->key, e->key_len, e->count,
	            e->floor) != 0) {
		/* Full: this part goes, the record starts the next (a record
		 * always fits an empty datagram). */
		batch_flush(b, 0);
		(void)fgw_add(&b->w, e->rule, e->rule_len, e->key, e->key_len,
		              e->count, e->floor);
	}
	b->last_ver = e->ver;
}

size_t fgd_seal_for(const struct fgd_node *n, int member,
                    const struct fgw_writer *w, uint8_t out[FGW_MAX_SIZE])
{
	const uint8_t *key = member < 0 ? NULL : fgw_pairwise_tx(n->pw, member);

	return key ? fgw_seal_mac(w, key, out) : 0;
}

size_t fgd_batch_end(struct fgd_batch *b, int always)
{
	if (b->w.nrec > 0 || always)
		batch_flush(b, 1);
	return b->sent;
}

size_t fgd_node_emit(struct fgd_node *n, uint64_t now_ms, int full,
                     fgd_send_fn *send, void *arg)
{
	return fgd_node_emit_sealed(n, now_ms, full, send, NULL, arg);
}

size_t fgd_node_emit_sealed(struct fgd_node *n, uint64_t now_ms, int full,
                            fgd_send_fn *send,
                            int (*seal)(void *arg, const struct fgw_writer *w),
                            void *arg)
{
	struct fgd_batch b;
	unsigned flags;
	int heartbeat;
	size_t i;

	(void)now_ms;
	n->rounds++;
	/* The first two quiet rounds after a change, and the next few
	 * periodic heartbeats, send a heartbeat that travels like records:
	 * a node that missed the last change learns it lacks it (sync.c);
	 * each forwarding reaches all but a few percent of the nodes. */
	heartbeat = full || n->rounds % FGD_HEARTBEAT_EVERY == 0 ||
	            (n->changed_round != 0 && n->version == n->emitted &&
	             n->rounds - n->changed_round <= 2);
	if (n->version != n->emitted)
		n->changed_round = n->rounds;
	flags = heartbeat && n->changed_round != 0 &&
	                n->rounds - n->changed_round <=
	                    FGD_FLOOD_HEARTBEATS * FGD_HEARTBEAT_EVERY
	            ? FGW_F_FLOOD
	            : 0;
	fgd_batch_begin(&b, n, full ? 0 : n->emitted, n->version, flags, send,
	                arg);
	b.seal = seal;
	for (i = 0; i < n->local.cap; i++) {
		const struct fgd_entry *e = &n->local.e[i];

		if (e->hash == 0 || e->count == 0)
			continue;
		if (e->ver > n->emitted || (full && e->count > e->floor))
			fgd_batch_add(&b, e);
	}
	n->emitted = n->version;
	n->ver_hist[n->rounds % FGD_VER_HIST] = n->version;
	return fgd_batch_end(&b, heartbeat);
}

/* The debt a remote debit may leave, in ns beyond now: far above what
 * honest peers can produce, (N-1) x (rate x interval + capacity), times 4.
 */
static uint64_t max_debt(const struct fgd_node *n, uint64_t tau)
{
	uint64_t per = n->interval_ns + tau, peers = n->npeers ? n->npeers : 1;
	uint64_t cap = UINT64_C(1) << 60;

	if (per > cap / (4 * peers))
		return cap;
	return tau + 4 * peers * per;
}

/* A stable name for an origin: keyring indices change when it is edited,
 * its key does not. */
static uint64_t fgd_origin_id(const struct fgw_keyring *kr, int origin)
{
	uint64_t id;

	memcpy(&id, kr->keys[origin].pk, sizeof id);
	return id ? id : 1; /* 0 names this node's own ledger */
}

/* Debit what @rec adds; -1 if it could not be recorded for want of room
 * (the batch then stays incomplete, and a repair brings it again). */
static int apply(struct fgd_node *n, const struct fgw_view *v,
                 const struct fgw_record *rec, uint64_t now_ms)
{
	const struct fg_rule_cache *rc;
	char rule[FG_RULE_NAME_MAX + 1];
	struct fgd_entry *e;
	uint64_t delta, base;
	int idx;

	memcpy(rule, rec->rule, rec->rule_len);
	rule[rec->rule_len] = '\0';
	idx = memchr(rule, '\0', rec->rule_len) ? -1
	                                        : fg__rule_index(n->fg, rule);
	rc = idx < 0 ? NULL : fg__rule_params(n->fg, (unsigned)idx);
	if (rc == NULL || !(rc->flags & FG__RULE_ACTIVE) ||
	    !(rc->flags & FG__RULE_GLOBAL)) {
		n->ctr.records_unknown++;
		return 0; /* not ours to count: the same when repaired */
	}
	e = fgd_map_get(&n->remote, fgd_origin_id(n->kr, v->origin), rule,
	                rec->rule_len, rec->key, rec->key_len, 1);
	if (e == NULL) {
		n->ctr.records_noroom++;
		return -1;
	}
	e->touched = now_ms;
	if (e->incarnation != v->incarnation) {
		if (e->incarnation > v->incarnation)
			return 0; /* an older life of the origin: counted */
		e->incarnation = v->incarnation; /* its counts restart at 0 */
		e->count = e->floor = 0;
	}
	if (rec->floor > e->floor)
		e->floor = rec->floor;
	if (rec->count <= e->count)
		return 0; /* nothing new: duplicate, reordered or replayed */
	/* What the origin's bucket has forgotten, ours has too: only what
	 * is above both our mark and the floor is debited. */
	base = e->count > e->floor ? e->count : e->floor;
	if (rec->count > base) {
		delta = rec->count - base;
		if (fg__debit(n->fg, (unsigned)idx, rec->key, rec->key_len,
		              delta, max_debt(n, rc->tau_ns)) != 0) {
			n->ctr.records_noroom++;
			return -1; /* not recorded as seen: retried */
		}
		n->ctr.applied += delta;
	}
	e->count = rec->count;
	return 0;
}

enum fgw_drop fgd_node_receive_from(struct fgd_node *n, const uint8_t *buf,
                                    size_t len, const struct fgd_addr *from,
                                    uint64_t now_ms)
{
	struct fgw_record rec;
	struct fgw_view v;
	enum fgw_drop d;
	int whole = 1;

	n->ctr.rx_datagrams++;
	n->ctr.rx_bytes += len;
	/* Others re-send announcements: one we verified already costs a
	 * compare, not a signature check. */
	if (fgd_members_known(n, buf, len))
		return FGW_OK;
	d = fgw_open(buf, len, n->kr, &v);
	if (d == FGW_OK && v.origin == n->self) {
		n->ctr.drops_self++;
		return FGW_REPLAY;
	}
	if (d == FGW_OK && v.type == FGW_TYPE_MEMBER &&
	    buf[FGW_HDR_SIZE] == FGW_ANNOUNCE)
		d = fgd_members_announce(n, &v, now_ms);
	else if (d == FGW_OK)
		d = fgw_replay_check(v.type == FGW_TYPE_MEMBER ||
		                             (v.flags & FGW_F_REPAIR)
		                         ? &n->replay_direct[v.origin]
		                         : &n->replay[v.origin],
		                     v.incarnation, v.seq);
	if (d != FGW_OK) {
		n->ctr.drops[d]++;
		return d;
	}
	if (v.type == FGW_TYPE_MEMBER) {
		if (buf[FGW_HDR_SIZE] != FGW_ANNOUNCE) {
			n->heard_ms[v.origin] = now_ms;
			fgd_members_heard(n, v.origin);
			fgd_members_receive(n, &v, from, now_ms);
		}
		return FGW_OK;
	}
	n->heard_ms[v.origin] = now_ms;
	fgd_members_heard(n, v.origin);
	while (fgw_next(&v, &rec))
		if (apply(n, &v, &rec, now_ms) != 0)
			whole = 0;
	fgd_sync_note(n, v.origin, &v, whole, now_ms);
	/* First time we accept it (the replay window said so): pass it on,
	 * unchanged, so that its origin's signature travels with it.  Not
	 * a heartbeat, unless it follows a change: flooding all would cost
	 * every node N x fanout verifications a heartbeat period for
	 * nothing SWIM does not do; not a repair: it answers one node. */
	if ((v.nrec > 0 || (v.flags & FGW_F_FLOOD)) &&
	    !(v.flags & (FGW_F_REPAIR | FGW_F_MAC)))
		fgd_members_forward(n, buf, len, v.origin, from, now_ms);
	return FGW_OK;
}

enum fgw_drop fgd_node_receive(struct fgd_node *n, const uint8_t *buf,
                               size_t len, uint64_t now_ms)
{
	return fgd_node_receive_from(n, buf, len, NULL, now_ms);
}

enum fgd_peer_state fgd_node_peer_state(const struct fgd_node *n, int origin,
                                        uint64_t now_ms)
{
	uint64_t period = FGD_HEARTBEAT_EVERY * fgd_interval_ms(n);
	uint64_t heard;

	if (origin < 0 || (size_t)origin >= n->kr->n)
		return FGD_PEER_UNKNOWN;
	/* The probes' verdict first; talking again clears it. */
	if (fgd_members_verdict(n, origin) != FGD_PEER_UNKNOWN)
		return fgd_members_verdict(n, origin);
	heard = n->heard_ms[origin];
	if (heard == 0)
		return FGD_PEER_UNKNOWN;
	/* A member we can probe: its probes say, not silence (in a large
	 * cluster it may rightly send us nothing for a while). */
	if (n->mem[origin].addr.len != 0)
		return FGD_PEER_ALIVE;
	if (now_ms - heard <= FGD_SUSPECT_AFTER * period)
		return FGD_PEER_ALIVE;
	if (now_ms - heard <= FGD_DEAD_AFTER * period)
		return FGD_PEER_SUSPECT;
	return FGD_PEER_DEAD;
}

const char *fgd_peer_state_name(enum fgd_peer_state s)
{
	static const char *const names[] = {"unknown", "alive", "suspect",
	                                    "dead"};

	return (unsigned)s < 4 ? names[s] : "?";
}

void fgd_node_expire(struct fgd_node *n, uint64_t now_ms)
{
	/* Our own counts still owed are never dropped: absorb() floors
	 * them once their bucket is full, or gone. */
	if (now_ms > FGD_REMOTE_TTL_MS)
		(void)fgd_map_expire(&n->remote, now_ms - FGD_REMOTE_TTL_MS,
		                     now_ms > FGD_REMOTE_STALE_MS
		                         ? now_ms - FGD_REMOTE_STALE_MS
		                         : 0);
	if (now_ms > FGD_LOCAL_TTL_MS)
		(void)fgd_map_expire(&n->local, now_ms - FGD_LOCAL_TTL_MS, 0);
}

uint64_t fgd_node_evict(struct fgd_node *n)
{
	struct fg_table *t = &n->fg->seg.tbl;
	uint8_t global[FG_RULES_MAX];
	fg_rule_info ri;
	struct fg_slot_view v;
	uint64_t cur = 0, now, evicted = 0, full = 0;
	unsigned r;

	for (r = 0; r < FG_RULES_MAX; r++)
		full += uatomic_read(&n->fg->seg.rules[r].table_full);
	if (n->ready <= n->fg->seg.capacity && full == n->table_full_seen)
		return 0;
	n->table_full_seen = full;
	for (r = 0; r < FG_RULES_MAX; r++)
		global[r] = fg_rule_get(n->fg, r, &ri) == 0 &&
		            (ri.flags & FG_RULE_GLOBAL);
	now = fg__now_ns();
	while (fg__slot_next(t, &cur, &v)) {
		const struct fgd_base *b = &n->base[v.slot];

		/* A global bucket's consumption must have reached the ledger:
		 * the harvest's baseline is this very bucket, and has seen
		 * all of it.  fg__bucket_evict then fails if anything was
		 * admitted since it was read. */
		if (v.rule < FG_RULES_MAX && global[v.rule] &&
		    (b->id != v.id || b->seen != v.count))
			continue;
		evicted += (uint64_t)fg__bucket_evict(t, &v, now);
	}
	/* What was evicted from groups that had been full left tombstones:
	 * make misses short again now, not at the next reap. */
	if (evicted > 0 && fg__seg_lock(&n->fg->seg) == 0) {
		(void)fg__table_reopen(t);
		fg__seg_unlock(&n->fg->seg);
	}
	return evicted;
}
