/*
 * snapshot.c - write and restore a snapshot (see snapshot.h).
 *
 * A snapshot is read back only by the daemon that wrote it, but from a
 * file that anything with write access to its directory could have
 * replaced: the reader checks the header, the sizes against the file's,
 * the checksum over the whole body, and every record (lengths, NUL
 * padding, rule name syntax) before it changes anything.
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

#include "util/why.h"

#define REC_SIZE     FGD_SNAP_REC_SIZE
#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"

void fgd_snapshot_sum(const struct fgd_snap_hdr *h, const void *body,
                      size_t len, uint8_t out[FGD_SNAP_SUM_BYTES])
{
	crypto_generichash_state st;
	struct fgd_snap_hdr copy = *h;

	memset(copy.sum, 0, sizeof copy.sum);
	crypto_generichash_init(&st, NULL, 0, FGD_SNAP_SUM_BYTES);
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

static int collect_buckets(struct fgd_node *n, struct recbuf *b,
                           uint64_t *count)
{
	struct fg_table *t = &n->fg->seg.tbl;
	fg_rule_info ri[FG_RULES_MAX];
	uint8_t active[FG_RULES_MAX];
	struct fg_slot_view v;
	uint64_t cur = 0, now = fg__now_ns();
	unsigned r;

	for (r = 0; r < FG_RULES_MAX; r++) /* leases end with the boot */
		active[r] = fg_rule_get(n->fg, r, &ri[r]) == 0 &&
		            !(ri[r].flags & FG_RULE_IN_FLIGHT);
	while (fg__slot_next(t, &cur, &v)) {
		struct fgd_snap_bucket *rec;

		if (v.rule >= FG_RULES_MAX || !active[v.rule] || v.tat <= now)
			continue; /* full: as good as absent */
		rec = rec_new(b);
		if (rec == NULL)
			return -1;
		memcpy(rec->rule, ri[v.rule].name, sizeof rec->rule);
		memcpy(rec->key, v.key, v.keylen);
		rec->key_len = v.keylen;
		rec->debt_ns = v.tat - now;
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

int fgd_snapshot_write(const char *path, struct fgd_node *n,
                       struct fgd_snap_counts *out, char *err, size_t errlen)
{
	struct fgd_snap_hdr h;
	struct recbuf b = {0};
	char tmp[FG_SEG_PATH_MAX + 16];
	int fd = -1, rc = -1;

	memset(&h, 0, sizeof h);
	memset(out, 0, sizeof *out);
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
		fgu_why(err, errlen, "snapshot %s: path too long", path);
		goto out;
	}
	memcpy(h.magic, FGD_SNAP_MAGIC, sizeof h.magic);
	h.version = FGD_SNAP_VERSION;
	h.rec_size = REC_SIZE;
	h.realtime_ns = clock_ns(CLOCK_REALTIME);
	h.monotonic_ns = fg__now_ns();
	boot_id(h.boot_id);
	if (collect_buckets(n, &b, &out->buckets) != 0 ||
	    collect_remote(n, &b, &out->remote) != 0) {
		fgu_why(err, errlen, "snapshot %s: out of memory", path);
		goto out;
	}
	h.nbuckets = out->buckets;
	h.nremote = out->remote;
	fgd_snapshot_sum(&h, b.p, b.n * REC_SIZE, h.sum);

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	          0600);
	if (fd < 0) {
		fgu_why(err, errlen, "snapshot %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (io_all(fd, &h, sizeof h, 1) != 0 ||
	    io_all(fd, b.p, b.n * REC_SIZE, 1) != 0 || fsync(fd) != 0) {
		fgu_why(err, errlen, "snapshot %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		fgu_why(err, errlen, "snapshot %s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		fgu_why(err, errlen, "snapshot %s: rename: %s", path,
		        strerror(errno));
		goto out;
	}
	(void)fsync_dir(path);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc != 0)
		(void)unlink(tmp);
	free(b.p);
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

static void restore_bucket(struct fgd_node *n, const struct fgd_snap_bucket *r,
                           uint64_t elapsed, struct fgd_snap_counts *out)
{
	int idx = fg__rule_index(n->fg, r->rule);

	if (idx < 0 || r->debt_ns <= elapsed ||
	    fg__raise(n->fg, (unsigned)idx, r->key, r->key_len,
	              r->debt_ns - elapsed) != 0) {
		out->skipped++; /* rule gone, refilled since, or no room */
		return;
	}
	out->buckets++;
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
	struct fgd_remote *e = fgd_ledger_find(&n->counts.remote, r->id);

	if (e == NULL)
		e = fgd_ledger_add(&n->counts.remote, r->id);
	if (e == NULL) {
		out->skipped++; /* the ledger is full */
		return;
	}
	mark_merge(e, r, now_ms);
	out->remote++;
}

/* A version 1 mark, by name: its id under our ledger's key. */
static void restore_remote_v1(struct fgd_node *n,
                              const struct fgd_snap_remote *r, uint64_t now_ms,
                              struct fgd_snap_counts *out)
{
	struct fgd_snap_mark m = {.origin = r->origin,
	                          .incarnation = r->incarnation,
	                          .count = r->count};

	fgd_node_mark_id(n, r->origin, r->rule, strlen(r->rule), r->key,
	                 r->key_len, m.id);
	restore_mark(n, &m, now_ms, out);
}

int fgd_snapshot_check_hdr(const struct fgd_snap_hdr *h, uint64_t file_size,
                           char *err, size_t errlen)
{
	uint64_t max = file_size / REC_SIZE;

	if (file_size < sizeof *h)
		return fgu_why(err, errlen, "truncated header");
	if (memcmp(h->magic, FGD_SNAP_MAGIC, sizeof h->magic) != 0)
		return fgu_why(err, errlen, "not a floodgate snapshot");
	if (h->version < FGD_SNAP_VERSION_MIN ||
	    h->version > FGD_SNAP_VERSION || h->rec_size != REC_SIZE)
		return fgu_why(err, errlen,
		               "format version %u, this daemon reads %u to %u",
		               h->version, FGD_SNAP_VERSION_MIN,
		               FGD_SNAP_VERSION);
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

int fgd_snapshot_check_rec(const struct fgd_snap_hdr *h, uint64_t i,
                           const void *rec)
{
	const struct fgd_snap_bucket *r = rec; /* and a version 1 mark */
	const struct fgd_snap_mark *m = rec;

	if (i >= h->nbuckets && h->version >= 2)
		return (m->id[0] | m->id[1]) != 0 && m->origin != 0 &&
		               m->count > m->floor
		           ? 0
		           : -1;
	return name_ok(r->rule, sizeof r->rule) && r->key_len > 0 &&
	               r->key_len <= FG_KEY_MAX
	           ? 0
	           : -1;
}

#define CHUNK 256u /* records per read */

/* Pass over the records of @fd (just past the header): with @n NULL,
 * hash and check them; else apply them. */
static int records_pass(int fd, const struct fgd_snap_hdr *h,
                        crypto_generichash_state *st, struct fgd_node *n,
                        uint64_t now_ms, struct fgd_snap_counts *out,
                        uint64_t *bad)
{
	uint8_t buf[CHUNK * REC_SIZE]; /* 32 KiB */
	uint64_t nrec = h->nbuckets + h->nremote, i = 0, elapsed = 0;

	if (n)
		elapsed = elapsed_since(h);
	while (i < nrec) {
		uint64_t k = nrec - i < CHUNK ? nrec - i : CHUNK, j;

		if (io_all(fd, buf, k * REC_SIZE, 0) != 0)
			return -1;
		if (st)
			crypto_generichash_update(st, buf, k * REC_SIZE);
		for (j = 0; j < k; j++, i++) {
			const void *rec = buf + j * REC_SIZE;

			if (n == NULL) {
				if (fgd_snapshot_check_rec(h, i, rec) != 0 &&
				    *bad == UINT64_MAX)
					*bad = i;
			} else if (i < h->nbuckets) {
				restore_bucket(n, rec, elapsed, out);
			} else if (h->version >= 2) {
				restore_mark(n, rec, now_ms, out);
			} else {
				restore_remote_v1(n, rec, now_ms, out);
			}
		}
	}
	return 0;
}

int fgd_snapshot_restore(const char *path, struct fgd_node *n, uint64_t now_ms,
                         struct fgd_snap_counts *out, char *err, size_t errlen)
{
	struct fgd_snap_hdr h, zeroed;
	crypto_generichash_state st;
	uint8_t sum[FGD_SNAP_SUM_BYTES];
	uint64_t bad = UINT64_MAX;
	struct stat sb;
	char why[200];
	int fd, rc = -1;

	memset(out, 0, sizeof *out);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		return fgu_why(err, errlen, "snapshot %s: %s", path,
		               strerror(errno));
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		fgu_why(err, errlen, "snapshot %s: not a regular file", path);
		goto out;
	}
	memset(&h, 0, sizeof h);
	if ((uint64_t)sb.st_size >= sizeof h &&
	    io_all(fd, &h, sizeof h, 0) != 0) {
		fgu_why(err, errlen, "snapshot %s: %s", path, strerror(errno));
		goto out;
	}
	if (fgd_snapshot_check_hdr(&h, (uint64_t)sb.st_size, why, sizeof why) !=
	    0) {
		fgu_why(err, errlen, "snapshot %s: %s", path, why);
		goto out;
	}
	/* first pass: the checksum and every record, before any change */
	zeroed = h;
	memset(zeroed.sum, 0, sizeof zeroed.sum);
	crypto_generichash_init(&st, NULL, 0, sizeof sum);
	crypto_generichash_update(&st, (const void *)&zeroed, sizeof zeroed);
	if (records_pass(fd, &h, &st, NULL, 0, out, &bad) != 0) {
		fgu_why(err, errlen, "snapshot %s: short read", path);
		goto out;
	}
	crypto_generichash_final(&st, sum, sizeof sum);
	if (sodium_memcmp(sum, h.sum, sizeof sum) != 0) {
		fgu_why(err, errlen, "snapshot %s: checksum mismatch (corrupt)",
		        path);
		goto out;
	}
	if (bad != UINT64_MAX) {
		fgu_why(err, errlen, "snapshot %s: record %llu is malformed",
		        path, (unsigned long long)bad);
		goto out;
	}
	/* second pass: apply */
	if (lseek(fd, (off_t)sizeof h, SEEK_SET) != (off_t)sizeof h ||
	    records_pass(fd, &h, NULL, n, now_ms, out, &bad) != 0) {
		fgu_why(err, errlen, "snapshot %s: short read", path);
		goto out;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}
