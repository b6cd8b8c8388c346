/*
 * node.c - harvest, emit and apply consumption (see node.h).
 *
 * Why cumulative counts: a datagram carries, per key, everything this
 * node has consumed in its incarnation, never a delta.  The receiver's
 * rule is "debit the increase over the highest count seen", so every
 * datagram is idempotent: lost ones are repaired by the next, duplicated
 * or replayed ones debit nothing.  Consumption is applied as debt (the
 * bucket may go below zero) so that all hosts draw on one budget.
 *
 * Two bounds keep a debit honest, and they are stated in floodgated(8):
 *  - An increase is debited up to what an honest origin can have admitted
 *    since the mark last moved: its own bucket's capacity plus its refill
 *    over that time (FGD_HONEST_SLACK_MS of it to spare).  A partition
 *    lasts as long as that time, so what the origin admitted meanwhile is
 *    all paid back when it heals.
 *  - The debt a bucket may carry: its capacity time, plus, per peer, its
 *    capacity time and the debt window (FGD_DEBT_WINDOW_MS, config
 *    debt-window).  That is what honest peers can produce in a partition
 *    of that length; a peer whose key was stolen can push a key no
 *    further, and what lies beyond is forgiven.
 * What either bound keeps out is counted, never silently dropped.
 *
 * Bounded ledgers.  The remote ledger holds ledger-size marks (80 bytes
 * each at most, ledger.h).  A mark whose count is all floor is forgotten
 * at once: nothing in it matters any more.  When the ledger is full of
 * marks still owed, the one idle longest among a sample is forgotten
 * (counted, logged by the daemon): if its origin sends the key again, the
 * increase is measured from the origin's floor instead of our mark, so
 * the key pays twice for what its origin consumed since its bucket was
 * last full, at most up to the debt bound.  Stricter, never looser: a
 * full ledger can never switch a global limit off.
 *
 * Versions and floors (node.h) make a count meaningful to a node that has
 * no mark for it: the ledger entry's `ver` orders its changes for the
 * repairs of sync.c, its `floor` says how much of it still matters.
 */
#include "daemon/node.h"

#include <fcntl.h>
#include <sodium.h>
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
#include "shm/pair.h"
#include "shm/table.h"
#include "shm/layout.h"

/* Take everything in the segment now as already reported. */
static void snapshot(struct fgd_node *n)
{
	struct fg_table *t = &n->fg->seg.tbl;
	uint64_t i;

	for (i = 0; i < n->nslots; i++) {
		n->base[i].ctl = uatomic_read(&t->slots[i].ctl);
		n->base[i].seen = uatomic_read(&t->slots[i].consumed);
	}
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

static const uint8_t state_magic[8] = "FGDSTAT1";

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
	}
	return 1;
}

static uint64_t evict_pass(struct fgd_node *n);

static const char ledger_ctx[] = "floodgate remote ledger ids v1";

size_t fgd_ledger_default(uint64_t capacity, size_t peers)
{
	size_t k = peers < FGD_LEDGER_PEERS ? peers : FGD_LEDGER_PEERS;

	return (size_t)capacity * (k ? k : 1);
}

/* The remote ledger: in PATH-remote when there is a state path. */
static int remote_open(struct fgd_node *n, const struct fgd_node_params *p)
{
	const struct fg_seg_hdr *h = n->fg->seg.tbl.hdr;
	uint64_t ident[3] = {h->hash_seed[0], h->hash_seed[1], h->created_ns};
	size_t max = p->ledger_max
	                 ? p->ledger_max
	                 : fgd_ledger_default(n->fg->seg.capacity, n->npeers);
	uint8_t key[FGD_LEDGER_KEYBYTES];
	char path[512], err[256];
	int r;

	/* Ids that stay the same across restarts and reboots, so that marks
	 * in the file and in snapshots stay found, and secret. */
	crypto_generichash(key, sizeof key, (const uint8_t *)ledger_ctx,
	                   sizeof ledger_ctx - 1, n->sk, 32);
	if (p->state_path == NULL) {
		r = fgd_ledger_init(&n->remote, sizeof(struct fgd_remote), max,
		                    key);
	} else {
		snprintf(path, sizeof path, "%s-remote", p->state_path);
		r = fgd_ledger_open(&n->remote, sizeof(struct fgd_remote), max,
		                    key, path, ident, err, sizeof err);
		if (r != 0 && p->err != NULL)
			snprintf(p->err, p->errlen, "%s", err);
	}
	sodium_memzero(key, sizeof key);
	return r;
}

int fgd_node_init(struct fgd_node *n, fg_client *fg,
                  const struct fgw_keyring *kr, const uint8_t *sk,
                  const uint8_t pk[FGW_PK_SIZE],
                  const struct fgd_node_params *p)
{
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
	n->debt_window_ns = (uint64_t)(p->debt_window_ms ? p->debt_window_ms
	                                                 : FGD_DEBT_WINDOW_MS) *
	                    1000000u;
	/* The debt bound counts every member that may consume, not only
	 * the seeds: with discovery a node may be configured with one. */
	n->npeers = p->npeers;
	if (kr->n > 1 && kr->n - 1 > n->npeers)
		n->npeers = kr->n - 1;
	n->nslots = fg->seg.tbl.nslots;
	if (fgd_ledger_init(&n->local, sizeof(struct fgd_local),
	                    fg->seg.capacity, NULL) != 0 ||
	    remote_open(n, p) != 0)
		goto fail;
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
	fgd_ledger_fini(&n->local);
	fgd_ledger_fini(&n->remote);
	free(n->replay);
	free(n->replay_direct);
	free(n->heard_ms);
	fgd_members_fini(n);
	fgd_sync_fini(n);
	fgd_top_fini(&n->top);
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

/* Our count of (@rule, @key): found, or made when @create and there is
 * room.  A new one starts at count = floor = everything harvested so far
 * (node.h): above any mark a receiver may still hold of its past. */
static struct fgd_local *local_get(struct fgd_node *n, unsigned rule,
                                   const uint8_t *key, size_t len, int create)
{
	uint8_t name[1 + FG_KEY_MAX];
	struct fgd_local *e;
	uint64_t id[2];

	name[0] = (uint8_t)rule;
	memcpy(name + 1, key, len);
	fgd_ledger_id(&n->local, name, len + 1, id);
	e = fgd_ledger_find(&n->local, id);
	if (e != NULL || !create)
		return e;
	e = fgd_ledger_add(&n->local, id);
	if (e == NULL)
		return NULL;
	e->rule = (uint8_t)rule;
	e->key_len = (uint8_t)len;
	memcpy(e->key, key, len);
	e->count = e->floor = n->total;
	return e;
}

struct fgd_local *fgd_node_count(struct fgd_node *n, const char *rule,
                                 const void *key, size_t len)
{
	int idx = fg__rule_index(n->fg, rule);

	if (idx < 0 || len == 0 || len > FG_KEY_MAX)
		return NULL;
	return local_get(n, (unsigned)idx, key, len, 0);
}

/* Drop our counts that are all floor and unchanged since @before (ms):
 * they matter to nobody.  Returns how many. */
static size_t local_drop_absorbed(struct fgd_node *n, uint64_t before)
{
	size_t i = 0, dropped = 0;

	while (i < n->local.cap) {
		struct fgd_local *e = fgd_ledger_at(&n->local, i);

		if (e != NULL && e->count <= e->floor && e->touched < before) {
			fgd_ledger_del(&n->local, e);
			dropped++;
			continue; /* the slot may hold a record moved back */
		}
		i++;
	}
	return dropped;
}

/*
 * Raise the floor of every count whose bucket is full now: all of it was
 * consumed before, and a full bucket has forgotten it.  A bucket that is
 * gone (evicted full, or its rule removed) counts as full.  The change
 * takes a version, so receivers learn the floor and forget the key.
 */
static void absorb(struct fgd_node *n, uint64_t now_ms)
{
	uint64_t now = fg__now_ns();
	size_t i;

	for (i = 0; i < n->local.cap; i++) {
		struct fgd_local *e = fgd_ledger_at(&n->local, i);
		const struct fg_rule_cache *rc;

		/* A change not sent yet is sent with its old floor first:
		 * every consumption is announced once as such. */
		if (e == NULL || e->count <= e->floor || e->ver > n->emitted)
			continue;
		rc = fg__rule_params(n->fg, e->rule);
		if ((rc->flags & FG__RULE_ACTIVE) &&
		    fg__bucket_full(n->fg, e->rule, e->key, e->key_len, now) !=
		        1)
			continue;
		e->floor = e->count;
		e->ver = ++n->version;
		e->touched = now_ms;
	}
}

/* Add @delta of (@rule, @key) to our ledger; 0, or -1 when it has no
 * room (the harvest keeps its baseline and tries again next round). */
static int local_add(struct fgd_node *n, unsigned rule, const uint8_t *key,
                     size_t len, uint64_t delta, int *purged, uint64_t now_ms)
{
	struct fgd_local *e = local_get(n, rule, key, len, 1);

	if (e == NULL && !*purged) {
		/* Full: a count that is all floor matters to nobody.  Once a
		 * harvest. */
		*purged = 1;
		(void)local_drop_absorbed(n, UINT64_MAX);
		e = local_get(n, rule, key, len, 1);
	}
	if (e == NULL) {
		n->ctr.local_noroom++;
		return -1;
	}
	e->count += delta;
	e->ver = ++n->version;
	e->touched = now_ms;
	n->total += delta;
	n->ctr.harvested += delta;
	return 0;
}

/* The harvest's per-rule totals into the sums /metrics shows, which
 * never fall; the growth of the denial count goes to the rule's mode. */
static void sums_take(struct fgd_node *n, const uint64_t *allowed,
                      const uint64_t *aux, const uint8_t *shadow)
{
	unsigned r;

	for (r = 0; r < FG_RULES_MAX; r++) {
		struct fgd_rule_sums *m = &n->sums[r];

		if (allowed[r] > m->allowed)
			m->allowed = allowed[r];
		if (aux[r] <= m->aux)
			continue;
		if (shadow[r])
			m->shadow_denied += aux[r] - m->aux;
		else
			m->denied += aux[r] - m->aux;
		m->aux = aux[r];
	}
}

void fgd_node_harvest(struct fgd_node *n, uint64_t now_ms)
{
	struct fg_table *t = &n->fg->seg.tbl;
	uint8_t global[FG_RULES_MAX], shadow[FG_RULES_MAX];
	fg_rule_info ri[FG_RULES_MAX];
	uint64_t i, allowed[FG_RULES_MAX], aux[FG_RULES_MAX];
	unsigned r;
	int purged = 0, top = fgd_top_begin(&n->top, n->nslots, now_ms) == 1;

	/* What evicted buckets held, first: a bucket evicted during the
	 * pass is then missed at worst (once), never counted twice. */
	for (r = 0; r < FG_RULES_MAX; r++) {
		int in_force = fg_rule_get(n->fg, r, &ri[r]) == 0;

		global[r] = in_force && (ri[r].flags & FG_RULE_GLOBAL);
		shadow[r] = in_force && (ri[r].flags & FG_RULE_SHADOW);
		n->sums[r].keys = 0;
		allowed[r] =
		    uatomic_read(&n->fg->seg.rules[r].evicted_consumed);
		aux[r] = uatomic_read(&n->fg->seg.rules[r].evicted_denied);
	}
	n->ready = n->dead = 0;
	for (i = 0; i < n->nslots; i++) {
		struct fg_slot *s = &t->slots[i];
		struct fgd_base *b = &n->base[i];
		uint64_t c = uatomic_read(&s->ctl), consumed, delta;
		unsigned len;

		n->dead += FG_CTL_STATE(c) == FG_SLOT_DEAD;
		if (FG_CTL_STATE(c) != FG_SLOT_READY)
			continue;
		n->ready++;
		if (c != b->ctl) { /* a bucket new since the last look */
			b->ctl = c;
			b->seen = 0;
			fgd_top_new(&n->top, i);
		}
		consumed = uatomic_read(&s->consumed);
		r = FG_CTL_RULE(c);
		if (r < FG_RULES_MAX) {
			uint64_t denied = uatomic_read(&s->aux);

			n->sums[r].keys++;
			allowed[r] += consumed;
			aux[r] += denied;
			if (top)
				fgd_top_see(&n->top, i, s, c, denied);
		}
		if (consumed == b->seen)
			continue;
		delta = consumed - b->seen;
		len = FG_CTL_KEYLEN(c);
		if (r >= FG_RULES_MAX || !global[r] || len == 0 ||
		    len > FG_KEY_MAX) {
			b->seen = consumed; /* not gossiped */
			continue;
		}
		if (local_add(n, r, s->key, len, delta, &purged, now_ms) == 0)
			b->seen = consumed;
	}
	sums_take(n, allowed, aux, shadow);
	if (top)
		fgd_top_end(&n->top, now_ms);
	n->harvest_ms = now_ms;
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

void fgd_batch_add(struct fgd_batch *b, const struct fgd_local *e)
{
	const char *rule = b->n->fg->names[e->rule];
	size_t rlen = strlen(rule);

	if (fgw_add(&b->w, rule, rlen, e->key, e->key_len, e->count,
	            e->floor) != 0) {
		/* Full: this part goes, the record starts the next (a record
		 * always fits an empty datagram). */
		batch_flush(b, 0);
		(void)fgw_add(&b->w, rule, rlen, e->key, e->key_len, e->count,
		              e->floor);
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
	(void)fg__rule_index(n->fg, ""); /* rule names, for the records */
	for (i = 0; i < n->local.cap; i++) {
		const struct fgd_local *e = fgd_ledger_at(&n->local, i);

		if (e == NULL || e->count == 0)
			continue;
		if (e->ver > n->emitted || (full && e->count > e->floor))
			fgd_batch_add(&b, e);
	}
	n->emitted = n->version;
	n->ver_hist[n->rounds % FGD_VER_HIST] = n->version;
	return fgd_batch_end(&b, heartbeat);
}

/* The debt a bucket may carry, in ns beyond now (the file's comment):
 * tau + peers x (tau + debt window). */
static uint64_t max_debt(const struct fgd_node *n, uint64_t tau)
{
	uint64_t per = n->debt_window_ns + tau,
	         peers = n->npeers ? n->npeers : 1;
	uint64_t cap = UINT64_C(1) << 60;

	if (per > (cap - tau) / peers)
		return cap;
	return tau + peers * per;
}

/* Tokens an honest origin can have admitted in @dt_ms: its bucket's
 * capacity and its refill, with FGD_HONEST_SLACK_MS to spare. */
static uint64_t honest_tokens(const struct fg_rule_cache *rc, uint64_t dt_ms)
{
	uint64_t ns = (dt_ms + FGD_HONEST_SLACK_MS) * 1000000u;

	return rc->capacity + ns / rc->interval_ns;
}

uint64_t fgd_origin_id(const struct fgw_keyring *kr, int origin)
{
	uint64_t id;

	memcpy(&id, kr->keys[origin].pk, sizeof id);
	return id ? id : 1; /* 0 names this node's own ledger */
}

void fgd_node_mark_id(const struct fgd_node *n, uint64_t origin_id,
                      const char *rule, size_t rule_len, const void *key,
                      size_t key_len, uint64_t id[2])
{
	uint8_t name[8 + 1 + FG_RULE_NAME_MAX + FG_KEY_MAX];
	size_t len = 0;

	memcpy(name, &origin_id, 8);
	name[8] = (uint8_t)rule_len;
	len = 9;
	memcpy(name + len, rule, rule_len);
	len += rule_len;
	memcpy(name + len, key, key_len);
	len += key_len;
	fgd_ledger_id(&n->remote, name, len, id);
}

struct fgd_remote *fgd_node_mark(struct fgd_node *n, uint64_t origin_id,
                                 const char *rule, size_t rule_len,
                                 const void *key, size_t key_len)
{
	uint64_t id[2];

	if (rule_len == 0 || rule_len > FG_RULE_NAME_MAX || key_len == 0 ||
	    key_len > FG_KEY_MAX)
		return NULL;
	fgd_node_mark_id(n, origin_id, rule, rule_len, key, key_len, id);
	return fgd_ledger_find(&n->remote, id);
}

/* Which of two marks to forget first: the one idle longer. */
static int idler(const void *a, const void *b)
{
	return ((const struct fgd_remote *)a)->touched <
	       ((const struct fgd_remote *)b)->touched;
}

/* A new mark for @id; when the ledger is full, the idlest of a sample is
 * forgotten for it (the file's comment says what that costs). */
static struct fgd_remote *mark_new(struct fgd_node *n, const uint64_t id[2])
{
	struct fgd_remote *e = fgd_ledger_add(&n->remote, id);
	void *victim;

	if (e != NULL || n->remote.n == 0)
		return e;
	victim = fgd_ledger_victim(&n->remote, FGD_VICTIM_SAMPLE, idler);
	if (victim == NULL)
		return NULL;
	fgd_ledger_del(&n->remote, victim);
	n->ctr.ledger_evicted++;
	return fgd_ledger_add(&n->remote, id);
}

/* Debit @delta of @rec's key, within both bounds; -1 when the table has
 * no room for the bucket (not recorded: a repair brings it again). */
static int debit(struct fgd_node *n, unsigned idx,
                 const struct fg_rule_cache *rc, const struct fgw_record *rec,
                 uint64_t delta, uint64_t honest)
{
	uint64_t capped = 0;
	int r;

	if (delta > honest) {
		n->ctr.debit_clamped += delta - honest;
		delta = honest;
	}
	r = fg__debit(n->fg, idx, rec->key, rec->key_len, delta,
	              max_debt(n, rc->tau_ns), &capped);
	if (r == FG_ENOMEM && n->evicted_round != n->rounds) {
		/* The table is full: make room as the harvest would, once a
		 * round, and try again. */
		n->evicted_round = n->rounds;
		(void)evict_pass(n);
		r = fg__debit(n->fg, idx, rec->key, rec->key_len, delta,
		              max_debt(n, rc->tau_ns), &capped);
	}
	if (r != 0) {
		n->ctr.records_noroom++;
		return -1;
	}
	n->ctr.debt_capped += capped;
	n->ctr.applied += delta - capped;
	return 0;
}

/* The rule @rec names, if it is an active global rule here; else -1. */
static int global_rule(struct fgd_node *n, const struct fgw_record *rec,
                       char rule[FG_RULE_NAME_MAX + 1],
                       const struct fg_rule_cache **rc)
{
	int idx;

	memcpy(rule, rec->rule, rec->rule_len);
	rule[rec->rule_len] = '\0';
	idx = memchr(rule, '\0', rec->rule_len) ? -1
	                                        : fg__rule_index(n->fg, rule);
	*rc = idx < 0 ? NULL : fg__rule_params(n->fg, (unsigned)idx);
	if (*rc == NULL || !((*rc)->flags & FG__RULE_ACTIVE) ||
	    !((*rc)->flags & FG__RULE_GLOBAL))
		return -1;
	return idx;
}

/* Debit what @rec adds; -1 if it could not be recorded for want of room
 * in the table (the batch then stays incomplete, and a repair brings it
 * again). */
static int apply(struct fgd_node *n, const struct fgw_view *v,
                 const struct fgw_record *rec, uint64_t now_ms)
{
	const struct fg_rule_cache *rc;
	char rule[FG_RULE_NAME_MAX + 1];
	uint64_t id[2], base, honest = UINT64_MAX;
	struct fgd_remote *e;
	int idx = global_rule(n, rec, rule, &rc);

	if (idx < 0) {
		n->ctr.records_unknown++;
		return 0; /* not ours to count: the same when repaired */
	}
	fgd_node_mark_id(n, fgd_origin_id(n->kr, v->origin), rule,
	                 rec->rule_len, rec->key, rec->key_len, id);
	e = fgd_ledger_find(&n->remote, id);
	if (e != NULL && e->incarnation > v->incarnation)
		return 0; /* an older life of the origin: counted */
	if (e != NULL && e->incarnation < v->incarnation) {
		fgd_ledger_del(&n->remote, e); /* its counts restart at 0 */
		e = NULL;
	}
	if (rec->count <= rec->floor) {
		/* All floor: nothing in it matters to anyone any more. */
		if (e != NULL && rec->floor >= e->count)
			fgd_ledger_del(&n->remote, e);
		return 0;
	}
	if (e != NULL && rec->count <= e->count)
		return 0; /* nothing new: duplicate, reordered or replayed */
	/* What the origin's bucket has forgotten, ours has too: only what
	 * is above both our mark and the floor is debited. */
	base = rec->floor;
	if (e != NULL) {
		base = e->count > rec->floor ? e->count : rec->floor;
		honest = honest_tokens(rc, now_ms - e->touched);
	}
	if (rec->count > base &&
	    debit(n, (unsigned)idx, rc, rec, rec->count - base, honest) != 0)
		return -1; /* not recorded as seen: retried */
	if (e == NULL && (e = mark_new(n, id)) == NULL)
		return 0; /* cannot happen: a full ledger forgets one */
	if (e->count == 0) {
		e->origin = fgd_origin_id(n->kr, v->origin);
		e->incarnation = v->incarnation;
	}
	e->floor = rec->floor > e->floor ? rec->floor : e->floor;
	e->consumed += rec->count - base;
	e->count = rec->count;
	e->touched = now_ms;
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
	uint64_t iv = fgd_interval_ms(n);
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
	if (now_ms - heard <= FGD_SUSPECT_ROUNDS * iv)
		return FGD_PEER_ALIVE;
	if (now_ms - heard <= FGD_DEAD_ROUNDS * iv)
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
	size_t i = 0;

	/* Our own counts still owed are never dropped: absorb() floors
	 * them once their bucket is full, or gone. */
	if (now_ms > FGD_LOCAL_TTL_MS)
		(void)local_drop_absorbed(n, now_ms - FGD_LOCAL_TTL_MS);
	if (now_ms <= FGD_REMOTE_STALE_MS)
		return;
	while (i < n->remote.cap) {
		struct fgd_remote *e = fgd_ledger_at(&n->remote, i);

		if (e != NULL && e->touched < now_ms - FGD_REMOTE_STALE_MS) {
			fgd_ledger_del(&n->remote, e);
			continue; /* the slot may hold a record moved back */
		}
		i++;
	}
}

uint64_t fgd_node_evict(struct fgd_node *n)
{
	uint64_t full = 0;
	unsigned r;

	for (r = 0; r < FG_RULES_MAX; r++)
		full += uatomic_read(&n->fg->seg.rules[r].table_full);
	if (n->ready <= n->fg->seg.capacity && full == n->table_full_seen)
		return 0;
	n->table_full_seen = full;
	return evict_pass(n);
}

/* Evict every bucket that is full again and harvested (node.h). */
static uint64_t evict_pass(struct fgd_node *n)
{
	struct fg_table *t = &n->fg->seg.tbl;
	uint8_t global[FG_RULES_MAX];
	fg_rule_info ri;
	uint64_t i, now, evicted = 0;
	unsigned r;

	for (r = 0; r < FG_RULES_MAX; r++)
		global[r] = fg_rule_get(n->fg, r, &ri) == 0 &&
		            (ri.flags & FG_RULE_GLOBAL);
	now = fg__now_ns();
	for (i = 0; i < n->nslots; i++) {
		struct fg_slot *s = &t->slots[i];
		const struct fgd_base *b = &n->base[i];
		uint64_t c = uatomic_read(&s->ctl);
		struct fg_pair p;

		if (FG_CTL_STATE(c) != FG_SLOT_READY)
			continue;
		fg__pair_load(s, &p);
		/* A global bucket's consumption must have reached the ledger:
		 * the harvest's baseline is this very bucket, and has seen
		 * all of it.  The pair CAS in fg__table_evict then fails if
		 * anything was admitted since. */
		if (FG_CTL_RULE(c) < FG_RULES_MAX && global[FG_CTL_RULE(c)] &&
		    (b->ctl != c || b->seen != p.consumed))
			continue;
		evicted += (uint64_t)fg__table_evict(t, s, c, &p, now);
	}
	return evicted;
}
