/* SPDX-License-Identifier: ISC */
/*
 * snapshot.c - write and restore a snapshot (see snapshot.h).
 *
 * A snapshot is read back only by the daemon that wrote it, but from a
 * file that anything with write access to its directory could have
 * replaced: the reader checks the header, the sizes against the file's,
 * the MAC over the whole body, and every record (lengths, NUL padding,
 * rule name syntax) before it changes anything.  A file that fails after
 * it was read whole is renamed PATH.refused: the next snapshot must not
 * overwrite what an operator will want to look at, and it must not be
 * tried again at the next start.
 */
#include "daemon/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/client.h"
#include "shm/clock.h"
#include "shm/gcra.h"
#include "shm/scan.h"
#include "daemon/config.h"
#include "util/why.h"

#define REC_SIZE     FGD_SNAP_REC_SIZE
#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"

void fgd_snapshot_mac(const uint8_t key[FGD_SNAP_KEY_BYTES],
                      const struct fgd_snap_hdr *h, const void *body,
                      size_t len, uint8_t out[FGD_SNAP_SUM_BYTES])
{
	crypto_generichash_state st;
	struct fgd_snap_hdr copy = *h;

	memset(copy.sum, 0, sizeof copy.sum);
	crypto_generichash_init(&st, key, FGD_SNAP_KEY_BYTES,
	                        FGD_SNAP_SUM_BYTES);
	crypto_generichash_update(&st, (const void *)&copy, sizeof copy);
	crypto_generichash_update(&st, body, len);
	crypto_generichash_final(&st, out, FGD_SNAP_SUM_BYTES);
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void boot_id(uint8_t out[40])
{
	int fd = open(BOOT_ID_PATH, O_RDONLY | O_CLOEXEC);
	ssize_t n = -1;

	memset(out, 0, 40);
	if (fd >= 0) {
		n = read(fd, out, 39);
		close(fd);
	}
	if (n <= 0)
		memset(out, 0, 40); /* unknown: never equal, wall clock used */
}

/* Write all of @buf or fail. */
/* Read or write all of @len bytes, through EINTR and short counts. */
static int io_all(int fd, void *buf, size_t len, int writing)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = writing ? write(fd, p, len) : read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Records are collected in memory first: the header's counts and
 * checksum come before them in the file. */
struct recbuf {
	uint8_t *p;
	size_t n, cap; /* records */
};

static void *rec_new(struct recbuf *b)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		uint8_t *p = realloc(b->p, cap * REC_SIZE);

		if (p == NULL)
			return NULL;
		b->p = p;
		b->cap = cap;
	}
	memset(b->p + b->n * REC_SIZE, 0, REC_SIZE);
	return b->p + b->n++ * REC_SIZE;
}

/* What a snapshot keeps of a bucket. */
struct state {
	uint32_t window; /* FGD_SNAP_WINDOW, or 0 */
	uint64_t debt_ns;
	uint32_t prev, cur;
};

/* The state of the bucket @v at @now: 1, or 0 if it is as good as
 * absent (full; a window rule's: nothing counted). */
static int bucket_state(fg_client *fg, const struct fg_slot_view *v,
                        uint64_t now, struct state *st)
{
	const struct fg_rule_cache *rc = fg__rule_params(fg, v->rule);
	const struct fg_win *w = &fg->win[v->rule];
	struct fg_win_at a;

	memset(st, 0, sizeof *st);
	if (!(rc->flags & FG__RULE_WINDOWS)) {
		st->debt_ns = v->tat > now ? v->tat - now : 0;
		return v->tat > now;
	}
	fg__win_read(w, v->tat, now, &a);
	if (a.prev == 0 && a.cur == 0)
		return 0;
	st->window = FGD_SNAP_WINDOW;
	st->debt_ns = w->W - a.e;
	st->prev = (uint32_t)a.prev;
	st->cur = (uint32_t)a.cur;
	return 1;
}

static int collect_buckets(fg_client *fg, struct recbuf *b, uint64_t *count)
{
	struct fg_table *t = &fg->seg.tbl;
	fg_rule_info ri[FG_RULES_MAX];
	uint8_t active[FG_RULES_MAX];
	struct fg_slot_view v;
	uint64_t cur = 0, now = fg__now_ns();
	struct state st;
	unsigned r;

	for (r = 0; r < FG_RULES_MAX; r++) /* leases end with the boot */
		active[r] = fg_rule_get(fg, r, &ri[r]) == 0 &&
		            !(ri[r].flags & FG_RULE_IN_FLIGHT);
	while (fg__slot_next(t, &cur, &v)) {
		struct fgd_snap_bucket *rec;

		if (v.rule >= FG_RULES_MAX || !active[v.rule] ||
		    !bucket_state(fg, &v, now, &st))
			continue; /* full: as good as absent */
		rec = rec_new(b);
		if (rec == NULL)
			return -1;
		memcpy(rec->rule, ri[v.rule].name, sizeof rec->rule);
		memcpy(rec->key, v.key, v.keylen);
		rec->key_len = v.keylen;
		rec->kind = st.window;
		rec->debt_ns = st.debt_ns;
		rec->prev = st.prev;
		rec->cur = st.cur;
		(*count)++;
	}
	return 0;
}

/* The overrides set at run time, among the buckets' records. */
static int collect_overrides(fg_client *fg, struct recbuf *b, uint64_t *count)
{
	struct fg_ovr_entry e;
	fg_rule_info ri;
	unsigned i = 0;

	while (fg__override_next(fg, &i, &e)) {
		struct fgd_snap_bucket *rec;

		if (!(e.kind & FG_OVR_RUNTIME) || fg_rule_get(fg, e.rule, &ri))
			continue; /* the config's, or of a rule gone */
		rec = rec_new(b);
		if (rec == NULL)
			return -1;
		memcpy(rec->rule, ri.name, sizeof rec->rule);
		memcpy(rec->key, e.key, e.keylen);
		rec->key_len = e.keylen;
		rec->kind = FGD_SNAP_OVERRIDE;
		rec->capacity = e.capacity;
		rec->rate = e.rate;
		rec->period_ms = e.period_ms;
		rec->prefix = e.kind & FG_OVR_PREFIX ? 1 : 0;
		(*count)++;
	}
	return 0;
}

static int collect_remote(struct fgd_node *n, struct recbuf *b, uint64_t *count)
{
	size_t i;

	for (i = 0; i < n->counts.remote.cap; i++) {
		const struct fgd_remote *e =
		    fgd_ledger_at(&n->counts.remote, i);
		struct fgd_snap_mark *rec;

		if (e == NULL)
			continue;
		rec = rec_new(b);
		if (rec == NULL)
			return -1;
		memcpy(rec->id, e->id, sizeof rec->id);
		rec->origin = e->origin;
		rec->incarnation = e->incarnation;
		rec->count = e->count;
		rec->floor = e->floor;
		rec->consumed = e->consumed;
		(*count)++;
	}
	return 0;
}

static int fsync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd, r = -1;

	if (copy == NULL)
		return -1;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		r = fsync(fd);
		close(fd);
	}
	free(copy);
	return r;
}

int fgd_snapshot_collect(fg_client *fg, struct fgd_node *marks,
                         struct fgd_snap_body *body)
{
	struct recbuf b = {0};

	memset(body, 0, sizeof *body);
	if (collect_buckets(fg, &b, &body->nbuckets) != 0 ||
	    collect_overrides(fg, &b, &body->nbuckets) != 0 ||
	    (marks != NULL && collect_remote(marks, &b, &body->nremote) != 0)) {
		free(b.p);
		memset(body, 0, sizeof *body);
		return -1;
	}
	body->recs = b.p;
	return 0;
}

/* @h, then @body, to @tmp (created 0600), synced. */
static int file_write(const char *tmp, const struct fgd_snap_hdr *h,
                      const struct fgd_snap_body *body, char *err,
                      size_t errlen)
{
	size_t len = (size_t)(body->nbuckets + body->nremote) * REC_SIZE;
	int fd = open(
	    tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return fgu_why(err, errlen, "snapshot %s: %s", tmp,
		               strerror(errno));
	if (io_all(fd, (void *)h, sizeof *h, 1) != 0 ||
	    io_all(fd, body->recs, len, 1) != 0 || fsync(fd) != 0) {
		fgu_why(err, errlen, "snapshot %s: %s", tmp, strerror(errno));
		close(fd);
		return -1;
	}
	if (close(fd) != 0)
		return fgu_why(err, errlen, "snapshot %s: %s", tmp,
		               strerror(errno));
	return 0;
}

int fgd_snapshot_store(const char *path, const uint8_t key[FGD_SNAP_KEY_BYTES],
                       const struct fgd_snap_body *body, char *err,
                       size_t errlen)
{
	struct fgd_snap_hdr h;
	char tmp[FG_SEG_PATH_MAX + 16];

	memset(&h, 0, sizeof h);
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
		return fgu_why(err, errlen, "snapshot %s: path too long", path);
	memcpy(h.magic, FGD_SNAP_MAGIC, sizeof h.magic);
	h.version = FGD_SNAP_VERSION;
	h.rec_size = REC_SIZE;
	h.realtime_ns = clock_ns(CLOCK_REALTIME);
	h.monotonic_ns = fg__now_ns();
	boot_id(h.boot_id);
	h.nbuckets = body->nbuckets;
	h.nremote = body->nremote;
	fgd_snapshot_mac(key, &h, body->recs,
	                 (size_t)(body->nbuckets + body->nremote) * REC_SIZE,
	                 h.sum);
	if (file_write(tmp, &h, body, err, errlen) != 0) {
		(void)unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) != 0) {
		fgu_why(err, errlen, "snapshot %s: rename: %s", path,
		        strerror(errno));
		(void)unlink(tmp);
		return -1;
	}
	(void)fsync_dir(path);
	return 0;
}

int fgd_snapshot_write(const char *path, const uint8_t key[FGD_SNAP_KEY_BYTES],
                       fg_client *fg, struct fgd_node *marks,
                       struct fgd_snap_counts *out, char *err, size_t errlen)
{
	struct fgd_snap_body b;
	int rc;

	memset(out, 0, sizeof *out);
	if (fgd_snapshot_collect(fg, marks, &b) != 0)
		return fgu_why(err, errlen, "snapshot %s: out of memory", path);
	rc = fgd_snapshot_store(path, key, &b, err, errlen);
	if (rc == 0) {
		out->buckets = b.nbuckets;
		out->remote = b.nremote;
	}
	fgd_snapshot_body_free(&b);
	return rc;
}

/* ------------------------------------------------------------- restore */

static int name_ok(const char *s, size_t size)
{
	size_t len = strnlen(s, size), i;

	if (len == 0 || len == size)
		return 0;
	for (i = len; i < size; i++)
		if (s[i] != '\0')
			return 0; /* NUL-padded, nothing after */
	return 1;
}

/* How long ago, in ns, a snapshot was written: by the monotonic clock
 * within the same boot, else by the wall clock, and 0 when the wall
 * clock says the snapshot is from the future. */
static uint64_t elapsed_since(const struct fgd_snap_hdr *h)
{
	uint8_t now_boot[40];
	uint64_t now;

	boot_id(now_boot);
	if (now_boot[0] != 0 && memcmp(now_boot, h->boot_id, 40) == 0) {
		now = fg__now_ns();
		return now > h->monotonic_ns ? now - h->monotonic_ns : 0;
	}
	now = clock_ns(CLOCK_REALTIME);
	return now > h->realtime_ns ? now - h->realtime_ns : 0;
}

/* Restore a window rule's bucket @r, written @elapsed ns ago: its
 * counts while its window would still run, its current window's as the
 * previous one's (sliding) for a window after that.  0, or not. */
static int restore_window(fg_client *fg, int idx,
                          const struct fgd_snap_bucket *r, uint64_t elapsed)
{
	const struct fg_rule_cache *rc;

	if (idx < 0)
		return -1;
	rc = fg__rule_params(fg, (unsigned)idx);
	if (!(rc->flags & FG__RULE_WINDOWS))
		return -1; /* the rule changed algorithm */
	if (elapsed < r->debt_ns)
		return fg__raise_window(fg, (unsigned)idx, r->key, r->key_len,
		                        r->prev, r->cur);
	if ((rc->flags & FG__RULE_SLIDING_WINDOW) && r->cur != 0 &&
	    elapsed - r->debt_ns < fg->win[idx].W)
		return fg__raise_window(fg, (unsigned)idx, r->key, r->key_len,
		                        r->cur, 0);
	return -1; /* its windows have passed */
}

static void restore_bucket(fg_client *fg, const struct fgd_snap_bucket *r,
                           uint64_t elapsed, struct fgd_snap_counts *out)
{
	int idx = fg__rule_index(fg, r->rule);

	if (r->kind == FGD_SNAP_WINDOW
	        ? restore_window(fg, idx, r, elapsed) != 0
	        : idx < 0 || r->debt_ns <= elapsed ||
	              (fg__rule_params(fg, (unsigned)idx)->flags &
	               FG__RULE_WINDOWS) ||
	              fg__raise(fg, (unsigned)idx, r->key, r->key_len,
	                        r->debt_ns - elapsed) != 0) {
		out->skipped++; /* rule gone, refilled since, or no room */
		return;
	}
	out->buckets++;
}

/* An override set at run time, set again as it was. */
static void restore_override(fg_client *fg, const struct fgd_snap_bucket *r,
                             struct fgd_snap_counts *out)
{
	struct fg_ovr_entry e;
	int idx = fg__rule_index(fg, r->rule);

	memset(&e, 0, sizeof e);
	e.rule = (uint8_t)idx;
	e.keylen = (uint8_t)r->key_len;
	e.kind = FG_OVR_RUNTIME | (r->prefix ? FG_OVR_PREFIX : 0);
	memcpy(e.key, r->key, r->key_len);
	e.capacity = r->capacity;
	e.rate = r->rate;
	e.period_ms = r->period_ms;
	if (idx < 0 || fg__override_set(fg, &e) != 0) {
		out->skipped++; /* rule gone, of leases, or no room */
		return;
	}
	out->overrides++;
}

/* Keep the higher of a mark and what a snapshot says of it. */
static void mark_merge(struct fgd_remote *e, const struct fgd_snap_mark *r,
                       uint64_t now_ms)
{
	if (e->count == 0 || e->incarnation < r->incarnation ||
	    (e->incarnation == r->incarnation && e->count < r->count)) {
		e->origin = r->origin;
		e->incarnation = r->incarnation;
		e->count = r->count;
		e->floor = r->floor;
		e->consumed = r->consumed;
	}
	e->touched = now_ms; /* another boot's times mean nothing here */
}

static void restore_mark(struct fgd_node *n, const struct fgd_snap_mark *r,
                         uint64_t now_ms, struct fgd_snap_counts *out)
{
	struct fgd_remote *e;

	if (n == NULL) {
		out->skipped++; /* no gossip here: nobody to take it */
		return;
	}
	e = fgd_ledger_find(&n->counts.remote, r->id);
	if (e == NULL)
		e = fgd_ledger_add(&n->counts.remote, r->id);
	if (e == NULL) {
		out->skipped++; /* the ledger is full */
		return;
	}
	mark_merge(e, r, now_ms);
	out->remote++;
}

int fgd_snapshot_check_hdr(const struct fgd_snap_hdr *h, uint64_t file_size,
                           char *err, size_t errlen)
{
	uint64_t max = file_size / REC_SIZE;

	if (file_size < sizeof *h)
		return fgu_why(err, errlen, "truncated header");
	if (memcmp(h->magic, FGD_SNAP_MAGIC, sizeof h->magic) != 0)
		return fgu_why(err, errlen, "not a floodgate snapshot");
	if (h->version == 1 || h->version == 2)
		return fgu_why(err, errlen,
		               "format version %u has a checksum but no MAC: "
		               "anyone who could write it could have forged it",
		               h->version);
	if ((h->version != FGD_SNAP_VERSION &&
	     h->version != FGD_SNAP_VERSION_3) ||
	    h->rec_size != REC_SIZE)
		return fgu_why(err, errlen,
		               "format version %u, this daemon reads %u",
		               h->version, FGD_SNAP_VERSION);
	/* each count alone first: their sum must not wrap */
	if (h->nbuckets > max || h->nremote > max ||
	    file_size != sizeof *h + (h->nbuckets + h->nremote) * REC_SIZE)
		return fgu_why(err, errlen,
		               "%llu bytes do not hold %llu + %llu records",
		               (unsigned long long)file_size,
		               (unsigned long long)h->nbuckets,
		               (unsigned long long)h->nremote);
	return 0;
}

/* An override record: of version 4, with its numbers, without a debt. */
static int override_rec_ok(const struct fgd_snap_hdr *h,
                           const struct fgd_snap_bucket *r)
{
	return r->kind == FGD_SNAP_OVERRIDE && h->version >= 4 &&
	       r->debt_ns == 0 && r->capacity != 0 && r->rate != 0 &&
	       r->period_ms != 0 && r->prefix <= 1;
}

int fgd_snapshot_check_rec(const struct fgd_snap_hdr *h, uint64_t i,
                           const void *rec)
{
	const struct fgd_snap_bucket *r = rec;
	const struct fgd_snap_mark *m = rec;

	if (i >= h->nbuckets)
		return (m->id[0] | m->id[1]) != 0 && m->origin != 0 &&
		               m->count > m->floor
		           ? 0
		           : -1;
	if (!name_ok(r->rule, sizeof r->rule) || r->key_len == 0 ||
	    r->key_len > FG_KEY_MAX)
		return -1;
	if (r->kind == FGD_SNAP_BUCKET)
		return 0;
	if (r->kind == FGD_SNAP_WINDOW) /* not in version 3 */
		return h->version != FGD_SNAP_VERSION_3 && r->debt_ns != 0 ? 0
		                                                           : -1;
	return override_rec_ok(h, r) ? 0 : -1;
}

/* Read the records of @fd (just past the header) into @b, feeding @st;
 * the index of the first malformed one in *@bad.  0, or -1 (I/O). */
static int records_read(int fd, const struct fgd_snap_hdr *h,
                        crypto_generichash_state *st, struct fgd_snap_body *b,
                        uint64_t *bad)
{
	uint64_t nrec = h->nbuckets + h->nremote, i;

	b->nbuckets = h->nbuckets;
	b->nremote = h->nremote;
	b->recs = malloc(nrec ? nrec * REC_SIZE : 1); /* sized by the file */
	if (b->recs == NULL || io_all(fd, b->recs, nrec * REC_SIZE, 0) != 0)
		return -1;
	crypto_generichash_update(st, b->recs, nrec * REC_SIZE);
	for (i = 0; i < nrec && *bad == UINT64_MAX; i++)
		if (fgd_snapshot_check_rec(h, i, b->recs + i * REC_SIZE) != 0)
			*bad = i;
	return 0;
}

/* The header of @fd, checked against the file's size: 0, -1 (I/O, @err)
 * or -3 (not a snapshot of ours, @err). */
static int header_read(int fd, const char *path, struct fgd_snap_hdr *h,
                       char *err, size_t errlen)
{
	struct stat sb;
	char why[200];

	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		fgu_why(err, errlen, "snapshot %s: not a regular file", path);
		return -1;
	}
	memset(h, 0, sizeof *h);
	if ((uint64_t)sb.st_size >= sizeof *h &&
	    io_all(fd, h, sizeof *h, 0) != 0)
		return fgu_why(err, errlen, "snapshot %s: %s", path,
		               strerror(errno));
	if (fgd_snapshot_check_hdr(h, (uint64_t)sb.st_size, why, sizeof why) ==
	    0)
		return 0;
	fgu_why(err, errlen, "snapshot %s: %s", path, why);
	return -3;
}

/*
 * Read @path whole into @b and check all of it: the header, the MAC over
 * everything and every record, before anything is applied.  0; -2 no
 * file; -1 it could not be read; -3 it is not a snapshot of ours (bad
 * header, MAC or record), @err says which.
 */
static int load(const char *path, const uint8_t key[FGD_SNAP_KEY_BYTES],
                struct fgd_snap_hdr *h, struct fgd_snap_body *b, char *err,
                size_t errlen)
{
	struct fgd_snap_hdr zeroed;
	crypto_generichash_state st;
	uint8_t sum[FGD_SNAP_SUM_BYTES];
	uint64_t bad = UINT64_MAX;
	int fd, rc;

	memset(b, 0, sizeof *b);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? -2
		                       : fgu_why(err, errlen, "snapshot %s: %s",
		                                 path, strerror(errno));
	rc = header_read(fd, path, h, err, errlen);
	if (rc != 0)
		goto out;
	zeroed = *h;
	memset(zeroed.sum, 0, sizeof zeroed.sum);
	crypto_generichash_init(&st, key, FGD_SNAP_KEY_BYTES, sizeof sum);
	crypto_generichash_update(&st, (const void *)&zeroed, sizeof zeroed);
	rc = -1;
	if (records_read(fd, h, &st, b, &bad) != 0) {
		fgu_why(err, errlen, "snapshot %s: short read or no memory",
		        path);
		goto out;
	}
	crypto_generichash_final(&st, sum, sizeof sum);
	rc = -3;
	if (sodium_memcmp(sum, h->sum, sizeof sum) != 0)
		fgu_why(err, errlen,
		        "snapshot %s: MAC mismatch: not written under this "
		        "daemon's key (forged, corrupt, or another key's)",
		        path);
	else if (bad != UINT64_MAX)
		fgu_why(err, errlen, "snapshot %s: record %llu is malformed",
		        path, (unsigned long long)bad);
	else
		rc = 0;
out:
	close(fd);
	if (rc != 0)
		fgd_snapshot_body_free(b);
	return rc;
}

void fgd_snapshot_body_free(struct fgd_snap_body *b)
{
	free(b->recs);
	memset(b, 0, sizeof *b);
}

int fgd_snapshot_load(const char *path, const uint8_t key[FGD_SNAP_KEY_BYTES],
                      struct fgd_snap_body *b, uint64_t *elapsed_ns, char *err,
                      size_t errlen)
{
	char aside[FGD_PATH_MAX + 16];
	struct fgd_snap_hdr h;
	size_t n;
	int rc = load(path, key, &h, b, err, errlen);

	if (rc == 0)
		*elapsed_ns = elapsed_since(&h);
	if (rc != -3)
		return rc == -2 ? 1 : rc;
	/* Kept aside: never tried again, never overwritten. */
	n = strlen(err);
	if ((size_t)snprintf(aside, sizeof aside, "%s.refused", path) <
	        sizeof aside &&
	    rename(path, aside) == 0)
		snprintf(err + n, errlen - n, "; refused, kept aside as %s",
		         aside);
	else
		snprintf(err + n, errlen - n, "; refused");
	return -1;
}

void fgd_snapshot_apply(const struct fgd_snap_body *b, uint64_t first,
                        const void *recs, uint64_t n, uint64_t elapsed_ns,
                        fg_client *fg, struct fgd_node *marks, uint64_t now_ms,
                        struct fgd_snap_counts *out)
{
	uint64_t i;

	for (i = 0; i < n; i++) {
		const void *rec = (const uint8_t *)recs + i * REC_SIZE;

		if (first + i < b->nbuckets &&
		    ((const struct fgd_snap_bucket *)rec)->kind ==
		        FGD_SNAP_OVERRIDE)
			restore_override(fg, rec, out);
		else if (first + i < b->nbuckets)
			restore_bucket(fg, rec, elapsed_ns, out);
		else
			restore_mark(marks, rec, now_ms, out);
	}
}

int fgd_snapshot_verify(const char *path, const uint8_t key[FGD_SNAP_KEY_BYTES],
                        struct fgd_snap_counts *out, char *err, size_t errlen)
{
	struct fgd_snap_body b;
	struct fgd_snap_hdr h;
	int rc;

	memset(out, 0, sizeof *out);
	rc = load(path, key, &h, &b, err, errlen);
	if (rc != 0)
		return rc == -2 ? 1 : -1;
	fgd_snapshot_body_free(&b);
	out->buckets = h.nbuckets;
	out->remote = h.nremote;
	out->age_ms = elapsed_since(&h) / 1000000u;
	return 0;
}

int fgd_snapshot_restore(const char *path,
                         const uint8_t key[FGD_SNAP_KEY_BYTES], fg_client *fg,
                         struct fgd_node *marks, uint64_t now_ms,
                         struct fgd_snap_counts *out, char *err, size_t errlen)
{
	struct fgd_snap_body b;
	uint64_t elapsed = 0;
	int rc;

	memset(out, 0, sizeof *out);
	rc = fgd_snapshot_load(path, key, &b, &elapsed, err, errlen);
	if (rc != 0)
		return rc;
	out->age_ms = elapsed / 1000000u;
	fgd_snapshot_apply(&b, 0, b.recs, b.nbuckets + b.nremote, elapsed, fg,
	                   marks, now_ms, out);
	fgd_snapshot_body_free(&b);
	return 0;
}

/* ------------------------------------------------------- the directory */

int fgd_snapshot_check_dir(const char *path, char *err, size_t errlen)
{
	char *copy = strdup(path);
	const char *dir;
	struct stat sb;
	int rc = -1;

	if (copy == NULL)
		return fgu_why(err, errlen, "snapshot %s: out of memory", path);
	dir = dirname(copy);
	if (stat(dir, &sb) != 0) {
		fgu_why(
		    err, errlen,
		    "snapshot %s: directory %s: %s (create it with install "
		    "-d -m 0700 %s; under systemd, StateDirectory=floodgate "
		    "makes /var/lib/floodgate)",
		    path, dir, strerror(errno), dir);
		goto out;
	}
	if (!S_ISDIR(sb.st_mode)) {
		fgu_why(err, errlen, "snapshot %s: %s is not a directory", path,
		        dir);
		goto out;
	}
	if ((sb.st_uid != geteuid() && sb.st_uid != 0) ||
	    (sb.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		fgu_why(
		    err, errlen,
		    "snapshot %s: directory %s (mode %04o, owner uid %u) may "
		    "be written by others, who could replace the snapshot: "
		    "use a directory only floodgated writes, such as "
		    "/var/lib/floodgate",
		    path, dir, (unsigned)(sb.st_mode & 07777),
		    (unsigned)sb.st_uid);
		goto out;
	}
	if (access(dir, W_OK) != 0) {
		fgu_why(err, errlen, "snapshot %s: directory %s: %s%s", path,
		        dir, strerror(errno),
		        errno == EROFS ? " (under systemd's ProtectSystem=, "
		                         "StateDirectory=floodgate makes "
		                         "/var/lib/floodgate writable)"
		                       : "");
		goto out;
	}
	rc = 0;
out:
	free(copy);
	return rc;
}
