/* SPDX-License-Identifier: ISC */
/*
 * persist.c - the daemon's snapshots: when, and what the log says (see
 * persist.h).
 */
#include "daemon/persist.h"

#include <stdio.h>
#include <syslog.h>

int fgd_persist_check(const char *path, fgd_log_fn *log)
{
	char err[600];

	if (!path[0] || fgd_snapshot_check_dir(path, err, sizeof err) == 0)
		return 0;
	log(LOG_ERR, "%s", err);
	return -1;
}

void fgd_persist_save(const struct fgd_persist *p, const char *why,
                      uint64_t now_ms)
{
	struct fgd_snap_counts n = {0};
	struct fgd_snap_body b;
	char err[600] = "";
	int r = -1;

	if (!p->path[0])
		return;
	p->ctr->snapshot_every_ms = p->every_ms;
	if (fgd_snapshot_collect(p->fg, p->marks, &b) != 0) {
		snprintf(err, sizeof err, "snapshot %s: out of memory",
		         p->path);
	} else {
		r = fgd_ps_snap_store(p->ps, &b, err, sizeof err);
		n.buckets = b.nbuckets;
		n.remote = b.nremote;
		fgd_snapshot_body_free(&b);
	}
	if (r != 0) {
		p->ctr->snapshot_errors++;
		p->log(LOG_ERR, "%s", err);
		return;
	}
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
