/*
 * harvest.c - see harvest.h.
 */
#include "gossip/harvest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <urcu/uatomic.h>

#include "lib/client.h"
#include "shm/clock.h"
#include "shm/layout.h"
#include "shm/pair.h"
#include "shm/table.h"

#include "util/why.h"

struct state_hdr {
	uint8_t magic[8];
	uint64_t seed[2];
	uint64_t created_ns;
	uint64_t nslots;
	uint64_t incarnation; /* the last one this node used */
	uint64_t pad[2];
};

static const uint8_t state_magic[8] = "FGDSTAT1";

/* Take everything in the segment now as already reported. */
static void baseline_now(struct fgd_harvest *h)
{
	struct fg_table *t = &h->fg->seg.tbl;
	uint64_t i;

	for (i = 0; i < h->nslots; i++) {
		h->base[i].ctl = uatomic_read(&t->slots[i].ctl);
		h->base[i].seen = uatomic_read(&t->slots[i].consumed);
	}
}

/* Whether the mapped state @sh belongs to our segment. */
static int state_ours(const struct fgd_harvest *h, const struct state_hdr *sh)
{
	const struct fg_seg_hdr *g = h->fg->seg.tbl.hdr;

	return memcmp(sh->magic, state_magic, sizeof sh->magic) == 0 &&
	       sh->seed[0] == g->hash_seed[0] &&
	       sh->seed[1] == g->hash_seed[1] &&
	       sh->created_ns == g->created_ns && sh->nslots == h->nslots;
}

/* A new state file for our segment at @path: 0 and *@out mapped, or -1. */
static int state_create(struct fgd_harvest *h, const char *path, size_t bytes,
                        void **out)
{
	const struct fg_seg_hdr *g = h->fg->seg.tbl.hdr;
	struct state_hdr *sh;
	char tmp[600];
	void *p = MAP_FAILED;
	int fd;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= sizeof tmp)
		return -1;
	fd = mkostemp(tmp, O_CLOEXEC); /* O_EXCL, 0600 */
	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)bytes) == 0)
		p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		         0);
	close(fd);
	if (p != MAP_FAILED && rename(tmp, path) != 0) {
		munmap(p, bytes);
		p = MAP_FAILED;
	}
	if (p == MAP_FAILED) {
		(void)unlink(tmp);
		return -1;
	}
	sh = p;
	sh->seed[0] = g->hash_seed[0];
	sh->seed[1] = g->hash_seed[1];
	sh->created_ns = g->created_ns;
	sh->nslots = h->nslots;
	h->base = (struct fgd_base *)(void *)(sh + 1);
	baseline_now(h);
	memcpy(sh->magic, state_magic, sizeof sh->magic);
	*out = p;
	return 0;
}

/* The state file at @path if it is ours and our segment's: 1 and *@out
 * mapped; 0 if there is none to reuse; -1 if it is not ours (refused). */
static int state_reuse(struct fgd_harvest *h, const char *path, size_t bytes,
                       void **out, char *err, size_t errlen)
{
	struct stat st;
	void *p;
	int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return fgu_why(err, errlen, "%s: %s", path,
		               errno == ELOOP ? "a symbolic link: refused; "
		                                "remove it"
		                              : strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		close(fd);
		return fgu_why(err, errlen,
		               "%s: not a file of ours (owner %u, mode %04o): "
		               "refused; remove it",
		               path, (unsigned)st.st_uid,
		               (unsigned)(st.st_mode & 07777));
	}
	p = (size_t)st.st_size != bytes
	        ? MAP_FAILED
	        : mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return 0;
	if (!state_ours(h, p)) {
		munmap(p, bytes);
		return 0; /* another segment's: made anew */
	}
	h->base = (struct fgd_base *)(void *)((struct state_hdr *)p + 1);
	*out = p;
	return 1;
}

static int state_map(struct fgd_harvest *h, const char *path, char *err,
                     size_t errlen)
{
	size_t bytes = sizeof(struct state_hdr) + h->nslots * sizeof *h->base;
	void *p = NULL;
	int r = state_reuse(h, path, bytes, &p, err, errlen);

	if (r < 0)
		return -1;
	if (r == 0 && state_create(h, path, bytes, &p) != 0)
		return fgu_why(err, errlen, "%s: cannot create: %s", path,
		               strerror(errno));
	h->base_bytes = bytes;
	h->incarnation = &((struct state_hdr *)p)->incarnation;
	return 0;
}

int fgd_harvest_init(struct fgd_harvest *h, fg_client *fg,
                     const char *state_path, char *err, size_t errlen)
{
	memset(h, 0, sizeof *h);
	h->fg = fg;
	h->nslots = fg->seg.tbl.nslots;
	h->incarnation = &h->own_inc;
	if (state_path != NULL)
		return state_map(h, state_path, err, errlen);
	h->base = calloc(h->nslots ? h->nslots : 1, sizeof *h->base);
	if (h->base == NULL)
		return fgu_why(err, errlen, "out of memory");
	baseline_now(h);
	return 0;
}

void fgd_harvest_fini(struct fgd_harvest *h)
{
	fgd_top_fini(&h->top);
	if (h->base_bytes)
		munmap((struct state_hdr *)(void *)h->base - 1, h->base_bytes);
	else
		free(h->base);
	h->base = NULL;
	h->base_bytes = 0;
	h->incarnation = &h->own_inc;
}

uint64_t fgd_harvest_incarnation(struct fgd_harvest *h, uint64_t want)
{
	if (want <= *h->incarnation)
		want = *h->incarnation + 1;
	*h->incarnation = want;
	return want;
}

/* The pass's per-rule totals into the sums /metrics shows, which never
 * fall; the growth of the denial count goes to the rule's mode. */
static void sums_take(struct fgd_harvest *h, const uint64_t *allowed,
                      const uint64_t *aux, const uint8_t *shadow)
{
	unsigned r;

	for (r = 0; r < FG_RULES_MAX; r++) {
		struct fgd_rule_sums *m = &h->sums[r];

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

/* A pass's view of the rules, and its running totals. */
struct pass {
	uint8_t global[FG_RULES_MAX], shadow[FG_RULES_MAX];
	uint64_t allowed[FG_RULES_MAX], aux[FG_RULES_MAX];
	int top; /* the ranking wants every bucket */
	fgd_take_fn *take;
	void *arg;
	uint64_t now_ms;
};

static void pass_begin(struct fgd_harvest *h, struct pass *p)
{
	fg_rule_info ri;
	unsigned r;

	/* What evicted buckets held, first: a bucket evicted during the
	 * pass is then missed at worst (once), never counted twice. */
	for (r = 0; r < FG_RULES_MAX; r++) {
		int in_force = fg_rule_get(h->fg, r, &ri) == 0;

		p->global[r] = in_force && (ri.flags & FG_RULE_GLOBAL);
		p->shadow[r] = in_force && (ri.flags & FG_RULE_SHADOW);
		h->sums[r].keys = 0;
		p->allowed[r] =
		    uatomic_read(&h->fg->seg.rules[r].evicted_consumed);
		p->aux[r] = uatomic_read(&h->fg->seg.rules[r].evicted_denied);
	}
	h->ready = h->dead = 0;
}

/* Slot @i, read as @c: its sums, and its growth to the taker. */
static void pass_slot(struct fgd_harvest *h, struct pass *p, uint64_t i,
                      uint64_t c)
{
	struct fg_slot *s = &h->fg->seg.tbl.slots[i];
	struct fgd_base *b = &h->base[i];
	unsigned r = FG_CTL_RULE(c), len = FG_CTL_KEYLEN(c);
	uint64_t consumed;

	h->ready++;
	if (c != b->ctl) { /* a bucket new since the last look */
		b->ctl = c;
		b->seen = 0;
		fgd_top_new(&h->top, i);
	}
	consumed = uatomic_read(&s->consumed);
	if (r < FG_RULES_MAX) {
		uint64_t denied = uatomic_read(&s->aux);

		h->sums[r].keys++;
		p->allowed[r] += consumed;
		p->aux[r] += denied;
		if (p->top)
			fgd_top_see(&h->top, i, s, c, denied);
	}
	if (consumed == b->seen)
		return;
	if (r >= FG_RULES_MAX || !p->global[r] || len == 0 ||
	    len > FG_KEY_MAX) {
		b->seen = consumed; /* not gossiped */
		return;
	}
	if (p->take(p->arg, r, s->key, len, consumed - b->seen, p->now_ms) == 0)
		b->seen = consumed;
}

void fgd_harvest_pass(struct fgd_harvest *h, uint64_t now_ms, fgd_take_fn *take,
                      void *arg)
{
	struct fg_table *t = &h->fg->seg.tbl;
	struct pass p = {.take = take, .arg = arg, .now_ms = now_ms};
	uint64_t i;

	p.top = fgd_top_begin(&h->top, h->nslots, now_ms) == 1;
	pass_begin(h, &p);
	for (i = 0; i < h->nslots; i++) {
		uint64_t c = uatomic_read(&t->slots[i].ctl);

		h->dead += FG_CTL_STATE(c) == FG_SLOT_DEAD;
		if (FG_CTL_STATE(c) == FG_SLOT_READY)
			pass_slot(h, &p, i, c);
	}
	sums_take(h, p.allowed, p.aux, p.shadow);
	if (p.top)
		fgd_top_end(&h->top, now_ms);
	h->last_ms = now_ms;
	h->passes++;
}

uint64_t fgd_harvest_evict(struct fgd_harvest *h, int always)
{
	struct fg_table *t = &h->fg->seg.tbl;
	uint8_t global[FG_RULES_MAX];
	uint64_t i, now, evicted = 0, full = 0;
	fg_rule_info ri;
	unsigned r;

	for (r = 0; r < FG_RULES_MAX; r++)
		full += uatomic_read(&h->fg->seg.rules[r].table_full);
	if (!always && h->ready <= h->fg->seg.capacity &&
	    full == h->table_full_seen)
		return 0;
	h->table_full_seen = full;
	for (r = 0; r < FG_RULES_MAX; r++)
		global[r] = fg_rule_get(h->fg, r, &ri) == 0 &&
		            (ri.flags & FG_RULE_GLOBAL);
	now = fg__now_ns();
	for (i = 0; i < h->nslots; i++) {
		struct fg_slot *s = &t->slots[i];
		const struct fgd_base *b = &h->base[i];
		uint64_t c = uatomic_read(&s->ctl);
		struct fg_pair p;

		if (FG_CTL_STATE(c) != FG_SLOT_READY)
			continue;
		fg__pair_load(s, &p);
		/* A global bucket's consumption must have been taken: the
		 * baseline is this very bucket, and has seen all of it.  The
		 * pair CAS in fg__table_evict then fails if anything was
		 * admitted since. */
		if (FG_CTL_RULE(c) < FG_RULES_MAX && global[FG_CTL_RULE(c)] &&
		    (b->ctl != c || b->seen != p.consumed))
			continue;
		evicted += (uint64_t)fg__table_evict(t, s, c, &p, now);
	}
	return evicted;
}
