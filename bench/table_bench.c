/* SPDX-License-Identifier: ISC */
/*
 * table_bench.c - the table's figures next to the limits measured in the
 * same run (issue 14).
 *
 * Limits (bench/limits.h): one clock read; the "CAS limit", the clock
 * plus one GCRA step committed with one cmpxchg16b on a private pair; one
 * chased random 64-byte read over a buffer as large as the segment.  Each
 * limit is measured in turns with the figure it bounds, in chunks, and
 * medians are kept: on a shared VM the speed of everything moves from one
 * second to the next.
 *
 * Figures.  (1) The per-key spread: a segment filled to its capacity with
 * short keys ("user:NNNNNNN"), then 1000 of them picked at random, each
 * checked back to back (its lines in L1): the median and 99th percentile
 * of the 1000 per-key times, and of their ratios to the CAS limit; the
 * same in a segment filled to half its capacity; and where the keys are
 * (the share of each segment's keys in each of their four slots, in the
 * order a check compares them) with the median ratio of the sampled keys
 * of each class.  One key is checked back to
 * back: its lines are in L1 and every branch is predicted, so a key's
 * figure is the length of its chain of dependent loads.  (2) Cold: every
 * key of the full segment once, in random order, against the random read,
 * back to back and one check at a time; then again by where the key is
 * (which of its four slots).  (3) What the harvest's mark costs: a check
 * just after a harvest pass over its page (it marks the page again)
 * against one after a pass over another page (layout 3 on).  (4) Bytes
 * per key: the segment's size over its capacity, and how many keys of 16,
 * 32 and 64 bytes a segment of capacity 1000 holds.  (5) Churn: first
 * checks (a miss, then an insert) and lookups of absent keys in a table
 * at capacity, after 10 x its capacity of new keys went through it
 * (checks that find no room evict a refilled bucket), and after the
 * owner's maintenance as floodgated does it.  (6) The idle daemon:
 * floodgated owning a segment of 1 M keys, all in use, gossip on, a
 * snapshot every second, nobody checking; its CPU time (schedstat) over
 * a window, in % of a CPU.
 *
 * Options: -r runs (medians of runs are printed), -c capacity, -i seconds
 * of idle daemon (0: skip), -H for 2 MiB pages (segment and read
 * buffer), -s DIR for the segments (a tmpfs mounted huge=advise, say).
 * It uses the public API, shm/scan.h and the placement of shm/table.h
 * (for where the keys are).  Segments are named fg-table-bench-PID-*,
 * the daemon listens on a port in 25100-25899.  With FG_COST_RAW=FILE,
 * the first run's per-key figures of the full table go to FILE for
 * scripts/charts.sh: "ns V" a key, then "limit NAME V" for the limits
 * measured beside them.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/limits.h"
#include "gossip/keys.h"
#include "lib/client.h"
#include "lib/floodgate.h"
#include "shm/clock.h"
#include "shm/gcra.h"
#include "shm/scan.h"

#define SPREAD_KEYS   1000u
#define SPREAD_ITERS  4000u
#define SPREAD_CHUNKS 8u
#define MAX_RUNS      15u
#define PORT_LO       25100

static unsigned opt_runs = 3;
static uint64_t opt_capacity = FG_DEFAULT_CAPACITY;
static unsigned opt_idle_s = 10;
static int opt_huge;
static const char *opt_dir; /* where segments go: NULL, /dev/shm */
static const char *opt_daemon;

static void user_key(char *buf, size_t size, uint64_t i)
{
	snprintf(buf, size, "user:%07llu", (unsigned long long)i);
}

/* Which of its four slots a present key is in (shm/table.h compares
 * them in this order: its first bucket's two, then its second's). */
enum {
	AT_X0,   /* the first slot compared */
	AT_X1,   /* the other slot of its first bucket */
	AT_Y0,   /* its second bucket's first slot */
	AT_Y1,   /* its second bucket's other slot */
	AT_ELSE, /* none: read while being moved */
	AT_CLASSES
};

static const char *const at_name[AT_CLASSES] = {
    "its first bucket, first slot", "its first bucket, second slot",
    "its second bucket, first slot", "its second bucket, second slot",
    "elsewhere (being moved)"};

/* The AT_* of @key of rule "r" in @c, or -1 if it is absent. */
static int where(fg_client *c, const char *key)
{
	struct fg_table *t = &c->seg.tbl;
	unsigned idx = (unsigned)fg__rule_index(c, "r");
	size_t len = strlen(key);
	uint64_t h = fg__hash64(t->seed, idx, key, len), x, y;
	struct fg_slot_view v;

	if (!fg__bucket_get(t, idx, key, len, &v))
		return -1;
	fg__table_buckets(t, h, &x, &y);
	if (v.slot / 2 == x)
		return v.slot % 2 ? AT_X1 : AT_X0;
	if (v.slot / 2 == y)
		return v.slot % 2 ? AT_Y1 : AT_Y0;
	return AT_ELSE;
}

/* The share of @c's keys 0..@n-1 in each AT_* class. */
static void where_shares(fg_client *c, uint64_t n, double share[AT_CLASSES])
{
	uint64_t count[AT_CLASSES] = {0}, i;
	char key[32];
	int at;

	for (i = 0; i < n; i++) {
		user_key(key, sizeof key, i);
		at = where(c, key);
		if (at >= 0)
			count[at]++;
	}
	for (at = 0; at < AT_CLASSES; at++)
		share[at] = (double)count[at] / (double)n;
}

static void seg_name(char *buf, size_t size, const char *tag)
{
	if (opt_dir)
		snprintf(buf, size, "%s/fg-table-bench-%d-%s", opt_dir,
		         (int)getpid(), tag);
	else
		snprintf(buf, size, "fg-table-bench-%d-%s", (int)getpid(), tag);
}

/* A new segment of @capacity with rule "r" (@capacity_tokens, one token
 * per @period_ms), its name already unlinked (the mapping stays). */
static fg_client *segment_of(const char *tag, uint64_t capacity,
                             uint32_t tokens, uint32_t period_ms,
                             unsigned flags)
{
	fg_segment_opts o = {.capacity = capacity, .mode = 0600};

#ifdef FG_SEGMENT_HUGEPAGES
	if (opt_huge)
		o.flags = FG_SEGMENT_HUGEPAGES;
#endif
	fg_rule rule = {.name = "r",
	                .capacity = tokens,
	                .rate = 1,
	                .period_ms = period_ms,
	                .flags = flags};
	fg_client *c = NULL;
	char name[256];
	int r;

	seg_name(name, sizeof name, tag);
	r = fg_create(name, &o, FG_CREATE_REPLACE, &c);
	if (r == 0)
		r = fg_rule_set(c, &rule);
#ifdef FG_SHARE_DEFAULT
	if (r == 0) /* its only rule: the whole table, as before shares */
		r = fg_rule_share_set(c, "r", 100);
#endif
	(void)fg_unlink(name);
	if (r != 0) {
		fprintf(stderr, "table_bench: segment %s: %s\n", name,
		        fg_strerror(r));
		fg_close(c);
		return NULL;
	}
	return c;
}

static fg_client *segment(const char *tag, uint64_t capacity, uint32_t tokens,
                          uint32_t period_ms)
{
	return segment_of(tag, capacity, tokens, period_ms, 0);
}

/* ------------------------------------------------------- the table */

/* Fill @c with keys 0..@n-1 of rule r; how many found a bucket. */
static uint64_t fill(fg_client *c, uint64_t n)
{
	uint64_t i, tracked = 0;
	char key[32];

	for (i = 0; i < n; i++) {
		fg_decision d;

		user_key(key, sizeof key, i);
		if (fg_allow(c, "r", key, 1, &d) >= 0 &&
		    !(d.flags & FG_DECISION_UNTRACKED))
			tracked++;
	}
	return tracked;
}

/* ns per check of one key, back to back, and the CAS limit measured in
 * turns with it: the medians of SPREAD_CHUNKS timed runs each, so that a
 * run the scheduler interrupted does not count. */
static void key_ns(fg_client *c, const char *key, struct fgb_pair16 *pair,
                   double *ns, double *limit)
{
	double v[SPREAD_CHUNKS], l[SPREAD_CHUNKS];
	const unsigned n = SPREAD_ITERS / SPREAD_CHUNKS;
	unsigned i, k;
	int sink = 0;

	for (i = 0; i < 100; i++)
		sink += fg_allow(c, "r", key, 1, NULL);
	for (k = 0; k < SPREAD_CHUNKS; k++) {
		uint64_t t0;

		l[k] = fgb_cas_limit_ns(pair, n);
		t0 = fg__now_ns();
		for (i = 0; i < n; i++)
			sink += fg_allow(c, "r", key, 1, NULL);
		v[k] = (double)(fg__now_ns() - t0) / n;
	}
	__asm__ __volatile__("" ::"r"(sink));
	*ns = fgb_median(v, SPREAD_CHUNKS);
	*limit = fgb_median(l, SPREAD_CHUNKS);
}

struct spread {
	double med, p99;       /* ns of the median and 99th percentile key */
	double limit;          /* the CAS limit, median */
	double rmed, rp99;     /* the same per-key ratios to the limit */
	double at[AT_CLASSES]; /* median ratio of the keys of each class */
};

static FILE *cost_raw; /* FG_COST_RAW: written once, then closed */

/* The per-key figures of a spread, for the chart of check costs. */
static void cost_raw_write(const double *v, double limit)
{
	double clk[SPREAD_CHUNKS];
	unsigned k;

	if (cost_raw == NULL)
		return;
	for (k = 0; k < SPREAD_KEYS; k++)
		fprintf(cost_raw, "ns %.1f\n", v[k]);
	for (k = 0; k < SPREAD_CHUNKS; k++) /* medians, as for the rest */
		clk[k] = fgb_clock_ns(SPREAD_ITERS / SPREAD_CHUNKS);
	fprintf(cost_raw, "limit clock %.1f\nlimit cas %.1f\n",
	        fgb_median(clk, SPREAD_CHUNKS), limit);
	fclose(cost_raw);
	cost_raw = NULL;
}

/* SPREAD_KEYS random present keys. */
static void spread(fg_client *c, uint64_t nkeys, struct spread *out)
{
	static struct fgb_pair16 pair;
	double v[SPREAD_KEYS], l[SPREAD_KEYS], r[SPREAD_KEYS];
	char key[32];
	unsigned k;

	double byat[AT_CLASSES][SPREAD_KEYS];
	unsigned nat[AT_CLASSES] = {0};
	int at;

	for (k = 0; k < SPREAD_KEYS; k++) {
		user_key(key, sizeof key, fgb_rnd() % nkeys);
		key_ns(c, key, &pair, &v[k], &l[k]);
		r[k] = v[k] / l[k];
		at = where(c, key);
		if (at >= 0)
			byat[at][nat[at]++] = r[k];
	}
	for (at = 0; at < AT_CLASSES; at++)
		out->at[at] = nat[at] ? fgb_median(byat[at], nat[at]) : -1;
	out->med = fgb_median(v, SPREAD_KEYS);
	out->p99 = fgb_rank(v, SPREAD_KEYS, 0.99);
	out->limit = fgb_median(l, SPREAD_KEYS);
	out->rmed = fgb_median(r, SPREAD_KEYS);
	out->rp99 = fgb_rank(r, SPREAD_KEYS, 0.99);
	cost_raw_write(v, out->limit);
}

#define COLD_CHUNKS 20u

/* Where the random reads go on: each chunk's are lines no chunk read. */
static uint64_t chase_at;

/* Every key once in random order, in chunks that take turns with chunks
 * of random reads: ns per check and per read (medians).  Each chunk's
 * first half goes back to back, its second one check at a time (an
 * lfence after each, so that nothing of a check, its misses included,
 * starts before the previous one is done: what a server that works
 * between its checks sees); @ns[0] and @ns[1]. */
static void cold_ns(fg_client *c, uint64_t nkeys, const uint64_t *chase,
                    double ns[2], double *limit)
{
	char(*keys)[24] = malloc(nkeys * sizeof *keys);
	double v[2][COLD_CHUNKS], l[COLD_CHUNKS];
	uint64_t i, n = nkeys / COLD_CHUNKS / 2;
	unsigned k, f;
	int sink = 0;

	if (keys == NULL)
		abort();
	for (i = 0; i < nkeys; i++)
		user_key(keys[i], sizeof keys[i], i);
	for (i = nkeys - 1; i > 0; i--) {
		uint64_t j = fgb_rnd() % (i + 1);
		char x[24];

		memcpy(x, keys[i], sizeof x);
		memcpy(keys[i], keys[j], sizeof x);
		memcpy(keys[j], x, sizeof x);
	}
	for (k = 0; k < COLD_CHUNKS; k++) {
		l[k] = fgb_random_read_ns(chase, &chase_at, 20000);
		for (f = 0; f < 2; f++) {
			uint64_t t0 = fg__now_ns(), at = (2 * k + f) * n;

			for (i = at; i < at + n; i++) {
				sink += fg_allow(c, "r", keys[i], 1, NULL);
				if (f)
					__asm__ __volatile__("lfence" ::
					                         : "memory");
			}
			v[f][k] = (double)(fg__now_ns() - t0) / (double)n;
		}
	}
	__asm__ __volatile__("" ::"r"(sink));
	free(keys);
	ns[0] = fgb_median(v[0], COLD_CHUNKS);
	ns[1] = fgb_median(v[1], COLD_CHUNKS);
	*limit = fgb_median(l, COLD_CHUNKS);
}

/* The cold check again, by where the key is: the first slot compared,
 * the second or third, the last; ns of each over ns of a random read,
 * which take turns in chunks (medians). */
static void cold_where(fg_client *c, uint64_t nkeys, const uint64_t *chase,
                       double ratio[3])
{
	uint32_t *of[3];
	uint64_t n[3] = {0, 0, 0}, i, m;
	double v[3][COLD_CHUNKS], l[COLD_CHUNKS];
	char key[32];
	unsigned k, w;
	int sink = 0, at;

	for (w = 0; w < 3; w++)
		if ((of[w] = malloc(nkeys * sizeof *of[w])) == NULL)
			abort();
	for (i = 0; i < nkeys; i++) {
		user_key(key, sizeof key, i);
		at = where(c, key);
		w = at == AT_X0 ? 0 : at <= AT_Y0 ? 1 : 2;
		of[w][n[w]++] = (uint32_t)i;
	}
	for (w = 0; w < 3; w++)
		for (i = n[w] - 1; n[w] && i > 0; i--) {
			uint64_t j = fgb_rnd() % (i + 1);
			uint32_t x = of[w][i];

			of[w][i] = of[w][j];
			of[w][j] = x;
		}
	for (k = 0; k < COLD_CHUNKS; k++) {
		l[k] = fgb_random_read_ns(chase, &chase_at, 20000);
		for (w = 0; w < 3; w++) {
			uint64_t t0 = fg__now_ns();

			m = n[w] / COLD_CHUNKS;
			for (i = k * m; i < (k + 1) * m; i++) {
				user_key(key, sizeof key, of[w][i]);
				sink += fg_allow(c, "r", key, 1, NULL);
			}
			v[w][k] =
			    m ? (double)(fg__now_ns() - t0) / (double)m : 0;
		}
	}
	__asm__ __volatile__("" ::"r"(sink));
	for (w = 0; w < 3; w++) {
		ratio[w] =
		    fgb_median(v[w], COLD_CHUNKS) / fgb_median(l, COLD_CHUNKS);
		free(of[w]);
	}
}

/* Keys of @len bytes a segment of capacity 1000 holds. */
static uint64_t holds(unsigned len)
{
	fg_client *c = segment("holds", 1000, 1000, 3600000u);
	char key[FG_KEY_MAX + 1];
	uint64_t i, n = 0;

	if (c == NULL)
		return 0;
	for (i = 0; i < 100000; i++) {
		fg_decision d;

		snprintf(key, sizeof key, "%0*llu", (int)len,
		         (unsigned long long)i);
		if (fg_allow(c, "r", key, 1, &d) < 0 ||
		    (d.flags & FG_DECISION_UNTRACKED))
			break;
		n++;
	}
	fg_close(c);
	return n;
}

/* ns per first check of @n new keys (a miss, then an insert). */
static double first_check_ns(fg_client *c, uint64_t from, uint64_t n)
{
	uint64_t t0 = fg__now_ns(), i;
	char key[32];
	int sink = 0;

	for (i = from; i < from + n; i++) {
		user_key(key, sizeof key, i);
		sink += fg_allow(c, "r", key, 1, NULL);
	}
	__asm__ __volatile__("" ::"r"(sink));
	return (double)(fg__now_ns() - t0) / n;
}

/* ns per lookup of @n absent keys (what a first check pays to learn that
 * its key is new). */
static double miss_ns(fg_client *c, uint64_t from, uint64_t n)
{
	uint64_t t0 = fg__now_ns(), i;
	int64_t left, sink = 0;
	char key[32];

	for (i = from; i < from + n; i++) {
		user_key(key, sizeof key, i);
		if (fg__peek(c, "r", key, strlen(key), &left) == 0)
			sink += left;
	}
	__asm__ __volatile__("" ::"r"(sink));
	return (double)(fg__now_ns() - t0) / n;
}

#define CHURN_CAP    100000u
#define CHURN_ROUNDS 10u

struct churn {
	double first[3], miss[3]; /* fresh, churned, churned + fg_reap */
	double full;              /* first check, none evictable */
};

static void let_refill(void)
{
	struct timespec ts = {0, 2000000};

	nanosleep(&ts, NULL);
}

/* What floodgated does to a table above its capacity (node.c): evict
 * every bucket that is full again, then fg_reap(). */
static void owner_maintenance(fg_client *c)
{
	uint64_t cur = 0, now = fg__now_ns();
	struct fg_slot_view v;

	while (fg__slot_next(&c->seg.tbl, &cur, &v))
		if (v.tat < now)
			(void)fg__bucket_evict(&c->seg.tbl, &v, now);
	(void)fg_reap(c, 0);
}

/*
 * The table full of buckets no worker may evict (a global rule's, whose
 * consumption only the owner's harvest may release): ns of the first
 * check of a new key, which looks for room in vain and is untracked.
 */
static double full_run(void)
{
	fg_client *c = segment_of("full", CHURN_CAP, 1, 1, FG_RULE_GLOBAL);
	uint64_t i, misses = 0;
	char key[32];
	double ns;

	if (c == NULL)
		return -1;
	for (i = 0; i < 2 * CHURN_CAP && misses < 1000; i++) {
		fg_decision d;

		user_key(key, sizeof key, i);
		if (fg_allow(c, "r", key, 1, &d) < 0 ||
		    (d.flags & FG_DECISION_UNTRACKED))
			misses++;
	}
	let_refill();
	ns = first_check_ns(c, 4100000000u, CHURN_CAP / 50);
	fg_close(c);
	return ns;
}

/*
 * A table of CHURN_CAP keys whose buckets refill in 1 ms, so that any of
 * them may be evicted: filled to capacity, then the first checks and the
 * misses of new keys; the same after CHURN_ROUNDS x capacity more keys
 * went through it (checks that find no room evict a refilled one: the
 * table fills up); and again after the owner's maintenance.
 */
static int churn_run(struct churn *out)
{
	const uint64_t probe = CHURN_CAP / 50;
	fg_client *c = segment("churn", CHURN_CAP, 1, 1);
	uint64_t next = CHURN_CAP, i;

	if (c == NULL)
		return -1;
	(void)fill(c, CHURN_CAP);
	let_refill();
	out->miss[0] = miss_ns(c, 1000000000u, probe);
	out->first[0] = first_check_ns(c, 1100000000u, probe);
	for (i = 0; i < CHURN_ROUNDS; i++) {
		let_refill();
		(void)first_check_ns(c, next, CHURN_CAP);
		next += CHURN_CAP;
	}
	let_refill();
	out->miss[1] = miss_ns(c, 2000000000u, probe);
	out->first[1] = first_check_ns(c, 2100000000u, probe);
	let_refill();
	owner_maintenance(c);
	out->miss[2] = miss_ns(c, 3000000000u, probe);
	out->first[2] = first_check_ns(c, 3100000000u, probe);
	fg_close(c);
	out->full = full_run();
	return out->full < 0 ? -1 : 0;
}

/* ---------------------------------------------------- the harvest's mark */

#ifdef FG_SEGMENT_HUGEPAGES /* layout 3 on: the harvest marks blocks */
#define MARK_ITERS 20000u

/* ns of one check of a key just after a harvest pass over its block (the
 * check is the first since: it marks the block), or over another block
 * (it marks nothing); the pass itself is not timed. */
static double marked_check_ns(fg_client *c, const char *key, uint64_t slot)
{
	struct fg_table *t = &c->seg.tbl;
	double v[SPREAD_CHUNKS];
	unsigned i, k;
	int sink = 0;

	for (k = 0; k < SPREAD_CHUNKS; k++) {
		uint64_t sum = 0;

		for (i = 0; i < MARK_ITERS / SPREAD_CHUNKS; i++) {
			struct fg_slot_view sv;
			uint64_t cur = 0, t0;

			fg__harvest_again(t, slot);
			while (fg__harvest_next(t, &cur, &sv))
				;
			t0 = fg__now_ns();
			sink += fg_allow(c, "r", key, 1, NULL);
			sum += fg__now_ns() - t0;
		}
		v[k] = (double)sum / (MARK_ITERS / SPREAD_CHUNKS);
	}
	__asm__ __volatile__("" ::"r"(sink));
	return fgb_median(v, SPREAD_CHUNKS);
}

static void mark_cost(fg_client *c, double out[2])
{
	struct fg_slot_view v;
	char key[32];
	uint64_t n = fg__table_nslots(&c->seg.tbl);

	user_key(key, sizeof key, 12345);
	if (!fg__bucket_get(&c->seg.tbl, (unsigned)fg__rule_index(c, "r"), key,
	                    strlen(key), &v)) {
		out[0] = out[1] = -1;
		return;
	}
	out[0] = marked_check_ns(c, key, v.slot);
	out[1] = marked_check_ns(c, key, (v.slot + n / 2) % n);
}
#else
static void mark_cost(fg_client *c, double out[2])
{
	(void)c;
	out[0] = out[1] = -1; /* no marks before layout 3 */
}
#endif

/* ------------------------------------------------------- idle daemon */

static char g_dir[64];
static uint64_t g_idle_keys; /* keys that had a bucket in its segment */

/* Remove the files the daemon kept beside segment @seg. */
static void state_unlink(const char *seg)
{
	static const char *const ext[] = {".state", ".state-local",
	                                  ".state-remote"};
	char path[512];
	size_t k;

	for (k = 0; k < sizeof ext / sizeof *ext; k++) {
		snprintf(path, sizeof path, "%s%s%s",
		         opt_dir ? "" : "/dev/shm/", seg, ext[k]);
		unlink(path);
	}
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int r;

	if (f == NULL)
		return -1;
	r = fputs(text, f) < 0;
	return fclose(f) != 0 || r ? -1 : 0;
}

/* CPU time of every thread of @pid so far, ns (schedstat). */
static uint64_t cpu_ns(pid_t pid)
{
	char path[64];
	unsigned long long run = 0;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/schedstat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fscanf(f, "%llu", &run) != 1)
		run = 0;
	fclose(f);
	return run;
}

static pid_t daemon_start(const char *conf, const char *log)
{
	pid_t parent = getpid(), p = fork();

	if (p == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		execl(opt_daemon, "floodgated", "-f", "-c", conf, (char *)NULL);
		_exit(127);
	}
	return p;
}

/* % of a CPU floodgated takes over @secs, owning a segment of @cap keys
 * all in use, gossip on, nobody checking; -1 on failure. */
static double idle_daemon(uint64_t cap, unsigned secs)
{
	char path[512], conf[1024], line[256], err[256], seg[256];
	fg_client *c = NULL;
	uint64_t t0, c0, c1, w0, w1;
	double pct = -1;
	pid_t pid;
	FILE *f;
	int status;

	seg_name(seg, sizeof seg, "idle");
	snprintf(g_dir, sizeof g_dir, "/tmp/fg-table-bench-XXXXXX");
	if (mkdtemp(g_dir) == NULL)
		return -1;
	snprintf(path, sizeof path, "%s/node.key", g_dir);
	if (fgk_keygen(path, "node", err, sizeof err) != 0)
		return -1;
	strcat(path, ".pub");
	f = fopen(path, "r");
	if (f == NULL || fgets(line, sizeof line, f) == NULL) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	snprintf(path, sizeof path, "%s/keyring", g_dir);
	if (write_file(path, line) != 0)
		return -1;
	snprintf(conf, sizeof conf,
	         "segment %s\ncapacity %llu\nnode-key %s/node.key\n"
	         "keyring %s/keyring\nlisten 127.0.0.1:%d\ncontrol off\n"
	         "snapshot %s/snap every 1s\n"
	         "rule r capacity 100 rate 1/1h share 100%%\n",
	         seg, (unsigned long long)cap, g_dir, g_dir,
	         PORT_LO + (int)(getpid() % 800), g_dir);
	snprintf(path, sizeof path, "%s/floodgated.conf", g_dir);
	if (write_file(path, conf) != 0)
		return -1;
	snprintf(line, sizeof line, "%s/floodgated.log", g_dir);
	pid = daemon_start(path, line);
	if (pid < 0)
		return -1;
	t0 = fg__now_ns();
	while (c == NULL || fg__rule_index(c, "r") < 0) {
		if (c == NULL && fg_open(seg, 0, &c) != 0)
			c = NULL;
		if (waitpid(pid, &status, WNOHANG) == pid ||
		    fg__now_ns() - t0 > 10000000000ull) {
			fprintf(stderr,
			        "table_bench: floodgated did not come "
			        "up (see %s)\n",
			        g_dir);
			goto out;
		}
		usleep(10000);
	}
	g_idle_keys = fill(c, cap); /* its only rule: the whole table */
	sleep(2); /* the daemon harvests what was just filled */
	c0 = cpu_ns(pid);
	w0 = fg__now_ns();
	sleep(secs);
	c1 = cpu_ns(pid);
	w1 = fg__now_ns();
	if (c1 >= c0 && w1 > w0)
		pct = 100.0 * (double)(c1 - c0) / (double)(w1 - w0);
out:
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	fg_close(c);
	(void)fg_unlink(seg);
	state_unlink(seg);
	snprintf(path, sizeof path, "rm -rf %s", g_dir);
	if (system(path) != 0)
		fprintf(stderr, "table_bench: could not remove %s\n", g_dir);
	return pct;
}

/* kB of the mapping that holds @addr mapped with 2 MiB pages (shmem or
 * anonymous), from /proc/self/smaps; -1 if not found. */
static long huge_kb(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[256];
	long kb = -1;
	int in = 0;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		long v;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
			continue;
		}
		if (in && (sscanf(line, "ShmemPmdMapped: %ld kB", &v) == 1 ||
		           sscanf(line, "AnonHugePages: %ld kB", &v) == 1 ||
		           sscanf(line, "Shared_Hugetlb: %ld kB", &v) == 1 ||
		           sscanf(line, "Private_Hugetlb: %ld kB", &v) == 1))
			kb = (kb < 0 ? 0 : kb) + v;
	}
	fclose(f);
	return kb;
}

/* ------------------------------------------------------------ main */

struct run {
	double clock, cas, read;
	double cold[2];         /* cold_ns(): back to back, one at a time */
	struct spread sp, half; /* at capacity; half of it */
	double mark[2];    /* a check that marks its block; one that does not */
	double cold_at[3]; /* cold_where() */
	struct churn churn;
};

static struct run g_run[MAX_RUNS];
static double g_share[2][AT_CLASSES]; /* where_shares(): full, half */

static void one_run(fg_client *full, fg_client *half, const uint64_t *chase,
                    struct run *r)
{
	static struct fgb_pair16 pair;

	r->clock = fgb_clock_ns(1u << 20);
	r->cas = fgb_cas_limit_ns(&pair, 1u << 20);
	spread(full, opt_capacity, &r->sp);
	spread(half, opt_capacity / 2, &r->half);
	cold_ns(full, opt_capacity, chase, r->cold, &r->read);
	cold_where(full, opt_capacity, chase, r->cold_at);
	mark_cost(full, r->mark);
}

/* The median over the runs of the double at @off in struct run. */
static double med_of(size_t off)
{
	double v[MAX_RUNS];
	unsigned i;

	for (i = 0; i < opt_runs; i++)
		memcpy(&v[i], (const char *)&g_run[i] + off, sizeof v[i]);
	return fgb_median(v, opt_runs);
}

#define MED(field) med_of(offsetof(struct run, field))

/* Where the keys are, and what a check of each class costs. */
static void report_where(void)
{
	unsigned i;

	printf("%-46s %13s %13s\n", "  where the keys are: share, median ratio",
	       "full", "half");
	for (i = 0; i < AT_CLASSES; i++) {
		size_t off = i * sizeof(double);
		double f = med_of(offsetof(struct run, sp.at) + off);
		double h = med_of(offsetof(struct run, half.at) + off);

		/* a class without sampled keys has no ratio (-1) */
		printf("    %-42s %5.1f%% %5.2fx %5.1f%% %5.2fx\n", at_name[i],
		       100 * g_share[0][i], f < 0 ? 0 : f, 100 * g_share[1][i],
		       h < 0 ? 0 : h);
	}
}

static void report(size_t size, const uint64_t held[3], double idle)
{
	double cas = MED(sp.limit), read = MED(read), med = MED(sp.med);
	double p99 = MED(sp.p99);
	static const char *const state[3] = {"fresh", "churned",
	                                     "churned, then owner"};
	unsigned i;

	printf("\n%-46s %10s %10s %8s\n", "what", "figure", "limit", "ratio");
	printf("%-46s %10.1f %10s %8s\n", "clock_gettime(MONOTONIC) (ns)",
	       MED(clock), "", "");
	printf("%-46s %10.1f %10s %8s\n",
	       "CAS limit: clock + cmpxchg16b GCRA step (ns)", cas, "", "");
	printf("%-46s %10.1f %10s %8s\n",
	       "random 64-byte read over the segment + clock", read, "", "");
	printf("%-46s %10.1f %10.1f %7.2fx\n",
	       "fg_allow, existing key: median of 1000 (ns)", med, cas,
	       MED(sp.rmed));
	printf("%-46s %10.1f %10.1f %7.2fx\n",
	       "fg_allow, existing key: p99 of 1000 (ns)", p99, cas,
	       MED(sp.rp99));
	printf("%-46s %10.1f %10.1f %7.2fx\n",
	       "  the same, segment half full: median", MED(half.med),
	       MED(half.limit), MED(half.rmed));
	printf("%-46s %10.1f %10.1f %7.2fx\n",
	       "  the same, segment half full: p99", MED(half.p99),
	       MED(half.limit), MED(half.rp99));
	report_where();
	printf("%-46s %10.1f %10.1f %7.2fx\n",
	       "fg_allow, every key once, random order (ns)", MED(cold[0]),
	       read, MED(cold[0]) / read);
	printf("%-46s %10.1f %10.1f %7.2fx\n",
	       "  the same, one check at a time (lfence)", MED(cold[1]), read,
	       MED(cold[1]) / read);
	printf("  %-44s %5.2fx %5.2fx %5.2fx\n",
	       "the same: 1st slot compared, 2nd-3rd, 4th", MED(cold_at[0]),
	       MED(cold_at[1]), MED(cold_at[2]));
	if (MED(mark[0]) >= 0)
		printf("%-46s %10.1f %10.1f %7.2fx\n",
		       "a check that marks its block for the harvest",
		       MED(mark[0]), MED(mark[1]), MED(mark[0]) / MED(mark[1]));
	printf("%-46s %10.1f %10.1f %7.2fx\n",
	       "bytes per key (segment size / capacity)",
	       (double)size / (double)opt_capacity, 64.0,
	       (double)size / (double)opt_capacity / 64.0);
	printf("%-46s %10s\n",
	       "keys a segment of capacity 1000 holds, by key length", "");
	printf("  %-44s %10llu\n", "16-byte keys", (unsigned long long)held[0]);
	printf("  %-44s %10llu\n", "32-byte keys", (unsigned long long)held[1]);
	printf("  %-44s %10llu\n", "64-byte keys", (unsigned long long)held[2]);
	printf("churn (%u keys refilling in 1 ms, %u x capacity inserted):\n",
	       CHURN_CAP, CHURN_ROUNDS);
	for (i = 0; i < 3; i++) {
		char label[64];

		snprintf(label, sizeof label, "first check of a new key, %s",
		         state[i]);
		printf("  %-44s %10.1f\n", label,
		       med_of(offsetof(struct run, churn.first) +
		              i * sizeof(double)));
		snprintf(label, sizeof label, "lookup of an absent key, %s",
		         state[i]);
		printf("  %-44s %10.1f\n", label,
		       med_of(offsetof(struct run, churn.miss) +
		              i * sizeof(double)));
	}
	printf("  %-44s %10.1f\n",
	       "first check of a new key, full, none evictable",
	       med_of(offsetof(struct run, churn.full)));
	if (idle >= 0) {
		printf("%-46s %9.2f%% %9.1f%% %7.2fx\n",
		       "floodgated idle, CPU (gossip, snapshot every 1s)", idle,
		       0.5, idle / 0.5);
		printf("  %-44s %10llu\n", "keys with a bucket in its segment",
		       (unsigned long long)g_idle_keys);
	} else
		printf("%-46s %10s\n", "floodgated idle, CPU", "not run");
}

static void usage(FILE *f)
{
	fprintf(f, "usage: table_bench [-r runs] [-c capacity] "
	           "[-i idle-seconds] [-H] [floodgated]\n"
	           "  -H  ask for 2 MiB pages (segment and read buffer)\n"
	           "  -s  directory of the segments (absolute; default "
	           "/dev/shm), e.g. a tmpfs mounted huge=advise\n"
	           "  -r  runs, medians reported (default 3)\n"
	           "  -c  keys of the measured segment (default 1000000)\n"
	           "  -i  seconds the idle daemon is watched (default 10; "
	           "0: skip)\n"
	           "  floodgated: the daemon to watch idle (none: skipped)\n");
}

int main(int argc, char **argv)
{
	uint64_t *chase, held[3];
	uint64_t t0 = fg__now_ns(), tracked;
	fg_client *full, *half;
	double idle = -1;
	size_t size;
	unsigned i;
	int opt;

	if (getenv("FG_COST_RAW") != NULL &&
	    (cost_raw = fopen(getenv("FG_COST_RAW"), "w")) == NULL) {
		perror(getenv("FG_COST_RAW"));
		return 1;
	}
	while ((opt = getopt(argc, argv, "r:c:i:s:Hh")) != -1) {
		switch (opt) {
		case 's':
			opt_dir = optarg;
			break;
		case 'H':
			opt_huge = 1;
			break;
		case 'r':
			opt_runs = (unsigned)atoi(optarg);
			break;
		case 'c':
			opt_capacity = strtoull(optarg, NULL, 10);
			break;
		case 'i':
			opt_idle_s = (unsigned)atoi(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (opt_runs < 1 || opt_runs > MAX_RUNS || opt_capacity < 10000 ||
	    optind + 1 < argc) {
		usage(stderr);
		return 2;
	}
	opt_daemon = optind < argc ? argv[optind] : NULL;

	/* a rule that admits everything: a token per ns, a second of burst */
	full = segment("full", opt_capacity, 1000000000u, 1);
	if (full == NULL)
		return 1;
	size = full->seg.size;
	tracked = fill(full, opt_capacity);
	printf("table_bench: a segment of %llu keys (%zu bytes), layout "
	       "version %u, filled: %llu keys have a bucket\n",
	       (unsigned long long)opt_capacity, size,
	       full->seg.tbl.hdr->layout_version, (unsigned long long)tracked);
	printf("  medians of %u runs; spread: %u keys x %u checks\n", opt_runs,
	       SPREAD_KEYS, SPREAD_ITERS);
	fflush(stdout);
	chase = mmap(NULL, size, PROT_READ | PROT_WRITE,
	             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (chase == MAP_FAILED)
		return 1;
	if (opt_huge) /* the limit with the pages the segment asked for */
		(void)madvise(chase, size, MADV_HUGEPAGE);
	fgb_chase_build(chase, size / 64);
	printf(
	    "  2 MiB pages: %s; segment %ld kB of them, read buffer %ld kB\n",
	    opt_huge ? "asked for" : "not asked for", huge_kb(full->seg.base),
	    huge_kb(chase));

	half = segment("half", opt_capacity, 1000000000u, 1);
	if (half == NULL)
		return 1;
	(void)fill(half, opt_capacity / 2);
	where_shares(full, opt_capacity, g_share[0]);
	where_shares(half, opt_capacity / 2, g_share[1]);
	for (i = 0; i < opt_runs; i++) {
		one_run(full, half, chase, &g_run[i]);
		if (churn_run(&g_run[i].churn) != 0)
			return 1;
	}
	held[0] = holds(16);
	held[1] = holds(32);
	held[2] = holds(64);
	if (opt_daemon && opt_idle_s)
		idle = idle_daemon(opt_capacity, opt_idle_s);
	report(size, held, idle);
	printf("\ntotal time %.1f s\n", (double)(fg__now_ns() - t0) / 1e9);
	munmap(chase, size);
	fg_close(half);
	fg_close(full);
	return 0;
}
