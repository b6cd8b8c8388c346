/* SPDX-License-Identifier: ISC */
/*
 * persist.c - the daemon's snapshots: when, and what the log says (see
 * persist.h).
 */
#include "daemon/persist.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <urcu/uatomic.h>

#include "lib/client.h"
#include "shm/scan.h"

int fgd_persist_check(const char *path, fgd_log_fn *log)
{
	char err[600];

	if (!path[0] || fgd_snapshot_check_dir(path, err, sizeof err) == 0)
		return 0;
	log(LOG_ERR, "%s", err);
	return -1;
}

/* The sequence numbers of the rules and of the override entries, summed:
 * each publication of either moves its record's by one or two. */
static uint64_t records_seq(const fg_client *fg)
{
	const struct fg_seg_hdr *h = fg->seg.tbl.hdr;
	uint64_t sum =
	    uatomic_read(&h->nnames) + (uatomic_read(&h->default_rule) << 32);
	unsigned i;

	for (i = 0; i < FG_MAX_RULES; i++)
		sum += uatomic_read(&fg->seg.rules[i].seq);
	for (i = 0; i < FG_OVR_SLOTS; i++)
		sum += uatomic_read(&fg->seg.ovr->s[i].seq);
	return sum;
}

/*
 * What a snapshot holds (snapshot.c) and what changes it:
 *  - the buckets that are not full: every change a check makes (an
 *    admission, a block, an insert) marks its block for the harvest once
 *    it read it (shm/scan.h), and so do the operator's refills; the
 *    harvest's passes (the node's, or a single host's: solo.h) then
 *    read that block.  The daemon's own
 *    moves (debits of other hosts' consumption, restores) mark nothing:
 *    the handle counts them.  A bucket that refills as time passes drops
 *    out, which a snapshot written earlier, restored later, also does;
 *  - the marks of other hosts' consumption: the ledger counts changes;
 *  - rules and run-time overrides: their sequence numbers.
 * A change the harvest has not read yet still has its block marked
 * (fg__harvest_pending()): the snapshot is written then too.
 */
static void inputs_now(struct fgd_persist *p, uint64_t in[FGD_PERSIST_INPUTS])
{
	in[0] = p->harvest->visited;
	in[1] = p->fg->owner_moves;
	in[2] = p->marks ? p->marks->counts.remote_changes : 0;
	in[3] = records_seq(p->fg);
}

/* Collect and store the snapshot: 0 with @n, or -1 with why in @err. */
static int save(const struct fgd_persist *p, struct fgd_snap_counts *n,
                char *err, size_t errlen)
{
	struct fgd_snap_body b;
	int r;

	if (fgd_snapshot_collect(p->fg, p->marks, &b) != 0) {
		snprintf(err, errlen, "snapshot %s: out of memory", p->path);
		return -1;
	}
	r = fgd_ps_snap_store(p->ps, &b, err, errlen);
	n->buckets = b.nbuckets;
	n->remote = b.nremote;
	fgd_snapshot_body_free(&b);
	return r;
}

void fgd_persist_save(struct fgd_persist *p, const char *why, uint64_t now_ms)
{
	uint64_t in[FGD_PERSIST_INPUTS];
	struct fgd_snap_counts n = {0};
	char err[600] = "";

	if (!p->path[0])
		return;
	p->ctr->snapshot_every_ms = p->every_ms;
	inputs_now(p, in);
	if (why == NULL && p->written &&
	    memcmp(in, p->inputs, sizeof in) == 0 &&
	    !fg__harvest_pending(&p->fg->seg.tbl)) {
		p->ctr->snapshots_unchanged++;
		p->ctr->snapshot_ms = now_ms; /* the one written is current */
		return;
	}
	if (save(p, &n, err, sizeof err) != 0) {
		p->ctr->snapshot_errors++;
		p->log(LOG_ERR, "%s", err);
		return;
	}
	memcpy(p->inputs, in, sizeof in);
	p->written = 1;
	p->ctr->snapshots++;
	p->ctr->snapshot_ms = now_ms;
	p->log(why ? LOG_INFO : LOG_DEBUG,
	       "snapshot %s written%s%s: %llu buckets, %llu marks", p->path,
	       why ? " " : "", why ? why : "", (unsigned long long)n.buckets,
	       (unsigned long long)n.remote);
}

/* "12.5 s", "3.0 min", "2.0 h" */
static void age_str(uint64_t ms, char *buf, size_t len)
{
	if (ms < 60000u)
		snprintf(buf, len, "%.1f s", ms / 1000.0);
	else if (ms < 3600000u)
		snprintf(buf, len, "%.1f min", ms / 60000.0);
	else
		snprintf(buf, len, "%.1f h", ms / 3600000.0);
}

struct restore {
	const struct fgd_persist *p;
	uint64_t now_ms;
	struct fgd_snap_counts n;
};

static void restore_part(void *arg, const struct fgd_snap_body *b,
                         uint64_t elapsed_ns, uint64_t first, const void *recs,
                         uint64_t n)
{
	struct restore *r = arg;

	r->n.age_ms = elapsed_ns / 1000000u;
	fgd_snapshot_apply(b, first, recs, n, elapsed_ns, r->p->fg, r->p->marks,
	                   r->now_ms, &r->n);
}

void fgd_persist_start(const struct fgd_persist *p, int fresh, uint64_t now_ms)
{
	struct restore rs = {.p = p, .now_ms = now_ms};
	const struct fgd_snap_counts *n = &rs.n;
	char err[600] = "", what[300], age[32];
	int r;

	if (!p->path[0])
		return;
	p->ctr->snapshot_every_ms = p->every_ms;
	if (!fresh) {
		snprintf(what, sizeof what,
		         "not restored: the segment survived, and is newer");
	} else {
		r = fgd_ps_snap_load(p->ps, restore_part, &rs, err, sizeof err);
		age_str(n->age_ms, age, sizeof age);
		if (r < 0)
			p->log(LOG_ERR, "%s", err);
		snprintf(
		    what, sizeof what,
		    "restored %llu buckets, %llu overrides, %llu marks "
		    "(%llu skipped: refilled or rule gone), written %s ago",
		    (unsigned long long)n->buckets,
		    (unsigned long long)n->overrides,
		    (unsigned long long)n->remote,
		    (unsigned long long)n->skipped, age);
		if (r != 0)
			snprintf(what, sizeof what, "%s: full buckets",
			         r < 0 ? "refused (above)" : "none yet");
	}
	p->log(LOG_INFO, "snapshot %s: %s; written every %g s and at exit",
	       p->path, what, p->every_ms / 1000.0);
}
