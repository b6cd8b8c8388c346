/* SPDX-License-Identifier: ISC */
/*
 * bench.c - floodgate against the classic mutex-protected shm zone.
 *
 * What it measures.  (1) The cost of one fg_allow() on a key that already
 * has a bucket, in one process, next to the clock read every check makes
 * (the floor).  (2) Total checks per second with one and two processes on
 * keys of their own, and with two processes on one key, for a rule that
 * admits nearly everything and for an exhausted key that denies
 * everything.  (3) The same on a baseline, the design floodgate replaces:
 * a table of 96-byte slots in a MAP_SHARED mapping behind one
 * process-shared pthread mutex.  The baseline does the work fg_allow()
 * does - the same argument checks, the library's own rule lookup, the
 * clock read (outside the lock, as in fg_allow), fg__hash64 with the
 * segment's seed, the same home slot, a linear probe on ctl fingerprints
 * then memcmp, the GCRA step of shm/gcra.h and the denial counter - with
 * plain loads and stores under the lock instead of the lock-free protocol.
 *
 * Method.  Latency is timed loops of back-to-back calls in one pinned
 * process, in chunks that take turns between the workloads.  Throughput runs
 * fork() workers once the segment and its rules exist; each worker warms its
 * keys up (first insert, page faults), then spins on a start flag in a shared
 * mapping, checks in batches of 256 until the parent raises a stop flag after a
 * fixed duration, and reports its checks over its own elapsed time; the total
 * is the sum of the workers' rates.  With two or more CPUs, worker i is pinned
 * to the i-th allowed CPU.  Every figure is a median over several runs, and
 * runs are interleaved (run 1 of every workload, then run 2, ...) so that noise
 * from other load falls on floodgate and baseline alike.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <urcu/arch.h>

#include "lib/client.h"
#include "lib/floodgate.h"
#include "shm/clock.h"
#include "shm/gcra.h"
#include "shm/hash.h"

#define MAX_PROCS  2
#define MAX_REPS   99
#define MAX_KEYS   4096
#define BATCH      256
#define KEY_LEN    24
#define LAT_CHUNKS 8

#define RULE_ALLOW "bench.allow"
#define RULE_DENY  "bench.deny"
#define RULE_CONN  "bench.conn" /* in-flight, never full */
/* windows of 2 ms, never full: the most a sliding window counts, 5 * 10^8
 * a second (a new window every 2 ms, as a busy key meets them) */
#define RULE_FIXED "bench.fixed"
#define RULE_SLIDE "bench.slide"
#define RULE_OVR   "bench.ovr"  /* bench.allow with overrides of other keys */
#define RULE_OVRX  "bench.ovrx" /* the same, exact keys' overrides only */
/* two more rules like bench.allow, for checks under three rules */
static const char *const rules3[3] = {RULE_ALLOW, "bench.allow2",
                                      "bench.allow3"};

/* ------------------------------------------------------------ options */

static unsigned opt_reps = 7;
static unsigned opt_ms = 200;
static unsigned opt_iters = 1u << 20;
static unsigned opt_keys = 1;

/* --------------------------------------------------- mutex baseline */

/*
 * The shm zone of the classic design: one lock for the whole table, then
 * plain find-or-insert and update.  Its slots are its own (96 bytes: the
 * layout floodgate had before version 3, kept so that the baseline stays
 * the same across floodgate's layouts), placed by fg__hash64() with the
 * segment's seed and probed linearly on a fingerprint, then memcmp.
 */
struct bl_slot {
	uint64_t meta; /* 0: empty; else fingerprint | rule | length | 1 */
	uint64_t denied;
	uint64_t tat;
	uint64_t consumed;
	uint8_t key[FG_KEY_MAX];
};

struct bl_zone {
	struct bl_slot *slots;
	uint64_t nslots;
	uint64_t seed[2];
	/* 128 bytes apart: the adjacent-line prefetcher pairs lines */
	pthread_mutex_t lock __attribute__((aligned(128)));
	uint64_t inserts __attribute__((aligned(128)));
};

#define BL_PROBE_MAX 1024u

static struct bl_zone *bl_create(const fg_client *c, size_t *size)
{
	uint64_t nslots = c->seg.capacity + (c->seg.capacity * 3 + 7) / 8;
	size_t sz = 4096 + (size_t)nslots * sizeof(struct bl_slot);
	pthread_mutexattr_t a;
	struct bl_zone *z;
	void *p;

	p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	         -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	z = p;
	if (pthread_mutexattr_init(&a) != 0 ||
	    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutex_init(&z->lock, &a) != 0) {
		munmap(p, sz);
		return NULL;
	}
	pthread_mutexattr_destroy(&a);
	z->slots = (struct bl_slot *)(void *)((uint8_t *)p + 4096);
	z->nslots = nslots;
	z->seed[0] = c->seg.tbl.seed[0];
	z->seed[1] = c->seg.tbl.seed[1];
	*size = sz;
	return z;
}

/* Find or insert (@rule, @key) under the zone lock; NULL if no room. */
static struct bl_slot *bl_find(struct bl_zone *z, unsigned rule,
                               const void *key, size_t len, uint64_t h)
{
	uint64_t meta = ((h << 32) | ((uint64_t)rule << 8) | (len << 1) | 1);
	uint64_t i = (uint64_t)(((unsigned __int128)h * z->nslots) >> 64);
	unsigned j, window;

	window = z->nslots < BL_PROBE_MAX ? (unsigned)z->nslots : BL_PROBE_MAX;
	for (j = 0; j < window; j++) {
		struct bl_slot *s = &z->slots[i];

		if (s->meta == 0) {
			s->denied = 0;
			s->tat = 0; /* a full bucket */
			s->consumed = 0;
			memcpy(s->key, key, len);
			memset(s->key + len, 0, FG_KEY_MAX - len);
			s->meta = meta;
			z->inserts++;
			return s;
		}
		if (s->meta == meta && memcmp(s->key, key, len) == 0)
			return s;
		if (++i == z->nslots)
			i = 0;
	}
	return NULL;
}

/* fg__check() on the baseline (decision details omitted, as with d NULL). */
static __attribute__((noinline)) int bl_check(struct bl_zone *z, fg_client *c,
                                              unsigned idx, const void *key,
                                              size_t len, uint32_t cost)
{
	const struct fg_rule_cache *rc = fg__rule_params(c, idx);
	struct bl_slot *s;
	uint64_t now, next, h;
	int admitted;

	if (!(rc->flags & FG__RULE_ACTIVE))
		return FG_ENORULE;
	if (cost == 0 || cost > rc->capacity)
		return FG_ECOST;

	now = fg__now_ns();
	h = fg__hash64(z->seed, idx, key, len);
	pthread_mutex_lock(&z->lock);
	s = bl_find(z, idx, key, len, h);
	if (s == NULL) {
		pthread_mutex_unlock(&z->lock);
		return !(rc->flags & FG__RULE_FAIL_CLOSED);
	}
	admitted = fg__gcra_take(s->tat, now, rc->interval_ns, rc->tau_ns, cost,
	                         &next);
	if (admitted) {
		s->tat = next;
		s->consumed += cost;
	} else {
		s->denied++;
	}
	pthread_mutex_unlock(&z->lock);
	if (!admitted && (rc->flags & FG__RULE_SHADOW))
		return 1;
	return admitted;
}

/* fg_allow() on the baseline. */
static __attribute__((noinline)) int bl_allow(struct bl_zone *z, fg_client *c,
                                              const char *rule, const char *key,
                                              uint32_t cost)
{
	size_t len;
	int idx, r = fg__key_args(c, rule, key, &len);

	if (r != 0)
		return r;
	idx = fg__rule_index(c, rule);
	if (idx < 0)
		return FG_ENORULE;
	return bl_check(z, c, (unsigned)idx, key, len, cost);
}

/* -------------------------------------------------------------- setup */

static fg_client *g_fg;
static struct bl_zone *g_bl;
static int g_cpus[MAX_PROCS];
static int g_ncpus; /* allowed CPUs, capped at MAX_PROCS */
static int g_pin;   /* pin workers: at least 2 CPUs */

enum impl { IMPL_FG, IMPL_MX, NIMPL };

static uint64_t now_ns(void)
{
	return fg__now_ns();
}

static int pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof set, &set);
}

static void find_cpus(void)
{
	cpu_set_t set;
	int i;

	g_ncpus = 0;
	if (sched_getaffinity(0, sizeof set, &set) == 0) {
		for (i = 0; i < CPU_SETSIZE && g_ncpus < MAX_PROCS; i++)
			if (CPU_ISSET(i, &set))
				g_cpus[g_ncpus++] = i;
	}
	g_pin = g_ncpus >= 2;
}

static void key_name(char *buf, unsigned proc, unsigned k, int shared)
{
	/* user ids of a typical length; the shared key is the same for all */
	snprintf(buf, KEY_LEN, "user:%u",
	         shared ? 900000u + k : 100000u + proc * MAX_KEYS + k);
}

/* -------------------------------------------------------- latency */

enum lat_kind {
	LAT_CLOCK,   /* bare clock_gettime(CLOCK_MONOTONIC) */
	LAT_ALLOW,   /* existing key, admitted */
	LAT_CHECK,   /* the same through fg__check(): rule index resolved */
	LAT_DENY,    /* exhausted key, denied */
	LAT_ALLOW3,  /* three rules: three fg_allow() (floodgate only) */
	LAT_MANY3,   /* three rules: one fg_allow_many() (floodgate only) */
	LAT_RESERVE, /* fg_reserve() of an existing key, no delay */
	LAT_LEASE,   /* fg_acquire() then fg_release() of an existing key */
	LAT_FIXED,   /* fg_allow() of an existing key, fixed-window rule */
	LAT_SLIDE,   /* the same, sliding-window rule */
	LAT_OVR_NO,  /* a rule with overrides, a key without one */
	LAT_OVR_YES, /* the same rule, a key with a prefix override */
	LAT_OVR_EX,  /* a rule with exact overrides only, a key without */
	NLAT
};

/* Workloads without a baseline. */
static int fg_only(unsigned kind)
{
	return kind == LAT_CLOCK || kind >= LAT_ALLOW3;
}

/* A lease of bench.conn taken and given back: 0, or an error. */
static int lease_pair(const char *key)
{
	fg_lease l;
	int r = fg_acquire(g_fg, RULE_CONN, key, &l, NULL);

	if (r == 1)
		r = fg_release(g_fg, &l) == 1 ? 0 : FG_EINVAL;
	return r == 0 ? 0 : r < 0 ? r : FG_EINVAL;
}

/* One request under the three rules: 3 if all admitted. */
static int three(int many, const char *key)
{
	fg_triple t[3] = {
	    {rules3[0], key, 1}, {rules3[1], key, 1}, {rules3[2], key, 1}};

	if (many)
		return 3 * fg_allow_many(g_fg, t, 3, NULL, NULL);
	return fg_allow(g_fg, rules3[0], key, 1, NULL) +
	       fg_allow(g_fg, rules3[1], key, 1, NULL) +
	       fg_allow(g_fg, rules3[2], key, 1, NULL);
}

/* One call of @kind's warm-up: < 0 on an error. */
static int warm_once(enum lat_kind kind, enum impl impl, const char *rule,
                     const char *key)
{
	if (impl != IMPL_FG)
		return bl_allow(g_bl, g_fg, rule, key, 1);
	switch (kind) {
	case LAT_ALLOW3:
	case LAT_MANY3:
		return three(1, key) - 3;
	case LAT_LEASE:
		return lease_pair(key);
	default:
		return fg_allow(g_fg, rule, key, 1, NULL);
	}
}

/* ns per call of @kind on @impl; -1 on error. */
static double lat_run(enum lat_kind kind, enum impl impl, unsigned iters)
{
	const char *rule = kind == LAT_DENY     ? RULE_DENY
	                   : kind == LAT_FIXED  ? RULE_FIXED
	                   : kind == LAT_SLIDE  ? RULE_SLIDE
	                   : kind == LAT_OVR_EX ? RULE_OVRX
	                   : kind >= LAT_OVR_NO ? RULE_OVR
	                                        : RULE_ALLOW;
	const char *key = kind == LAT_OVR_YES ? "premium:123" : "user:123456";
	size_t len = strlen(key);
	int idx = fg__rule_index(g_fg, rule);
	uint64_t t0, t1, sink = 0;
	unsigned i;
	int r = 0;

	/* warm-up: insert the key, exhaust it for LAT_DENY, fault pages in */
	for (i = 0; i < 1000 && r >= 0 && kind != LAT_CLOCK; i++)
		r = warm_once(kind, impl, rule, key);
	if (r < 0 || idx < 0) {
		fprintf(stderr, "fg_bench: warm-up: %s\n", fg_strerror(r));
		return -1;
	}

	t0 = now_ns();
	switch (kind) {
	case LAT_CLOCK:
		for (i = 0; i < iters; i++) {
			struct timespec ts;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			sink += (uint64_t)ts.tv_nsec;
		}
		break;
	case LAT_ALLOW:
	case LAT_DENY:
	case LAT_FIXED:
	case LAT_SLIDE:
		if (impl == IMPL_FG)
			for (i = 0; i < iters; i++)
				sink += (uint64_t)fg_allow(g_fg, rule, key, 1,
				                           NULL);
		else
			for (i = 0; i < iters; i++)
				sink += (uint64_t)bl_allow(g_bl, g_fg, rule,
				                           key, 1);
		break;
	case LAT_CHECK:
		if (impl == IMPL_FG)
			for (i = 0; i < iters; i++)
				sink += (uint64_t)fg__check(g_fg, (unsigned)idx,
				                            key, len, 1, NULL);
		else
			for (i = 0; i < iters; i++)
				sink += (uint64_t)bl_check(
				    g_bl, g_fg, (unsigned)idx, key, len, 1);
		break;
	case LAT_RESERVE:
		for (i = 0; i < iters; i++) {
			uint64_t delay;

			sink += (uint64_t)fg_reserve(g_fg, rule, key, 1, &delay,
			                             NULL);
		}
		break;
	case LAT_OVR_NO:
	case LAT_OVR_YES:
	case LAT_OVR_EX:
		for (i = 0; i < iters; i++)
			sink += (uint64_t)fg_allow(g_fg, rule, key, 1, NULL);
		break;
	case LAT_LEASE:
		for (i = 0; i < iters; i++) {
			fg_lease l;

			sink += (uint64_t)fg_acquire(g_fg, RULE_CONN, key, &l,
			                             NULL);
			(void)fg_release(g_fg, &l);
		}
		break;
	case LAT_ALLOW3:
	case LAT_MANY3:
		for (i = 0; i < iters; i++)
			sink += (uint64_t)three(kind == LAT_MANY3, key);
		sink /= 3;
		break;
	default:
		break;
	}
	t1 = now_ns();
	if (kind != LAT_CLOCK && sink != (kind == LAT_DENY ? 0 : iters)) {
		fprintf(stderr, "fg_bench: %u of %u checks admitted\n",
		        (unsigned)sink, iters);
		return -1;
	}
	return (double)(t1 - t0) / iters;
}

/* ------------------------------------------------------ throughput */

struct worker_result {
	uint64_t checks;
	uint64_t admitted;
	uint64_t elapsed_ns;
	int err;
} __attribute__((aligned(128)));

struct control {
	int ready __attribute__((aligned(128)));
	int go __attribute__((aligned(128)));
	int stop;
	struct worker_result res[MAX_PROCS];
};

static struct control *g_ctl;

struct tp_cfg {
	const char *label;
	unsigned nprocs;
	int shared_key;
	int deny;
};

static const struct tp_cfg tp_cfgs[] = {
    {.label = "1 proc, own keys", .nprocs = 1},
    {.label = "2 procs, own keys", .nprocs = 2},
    {.label = "2 procs, one key", .nprocs = 2, .shared_key = 1},
    {.label = "1 proc, own keys", .nprocs = 1, .deny = 1},
    {.label = "2 procs, own keys", .nprocs = 2, .deny = 1},
    {.label = "2 procs, one key", .nprocs = 2, .shared_key = 1, .deny = 1},
};
#define NTP (sizeof tp_cfgs / sizeof tp_cfgs[0])

static const char *tp_label(unsigned i)
{
	if (tp_cfgs[i].shared_key && opt_keys > 1)
		return "2 procs, the same keys";
	return tp_cfgs[i].label;
}

static char g_keys[MAX_KEYS][KEY_LEN];

static void worker(unsigned proc, const struct tp_cfg *cfg, enum impl impl)
{
	struct worker_result *res = &g_ctl->res[proc];
	const char *rule = cfg->deny ? RULE_DENY : RULE_ALLOW;
	uint64_t checks = 0, admitted = 0, t0, t1;
	unsigned i, k = 0;
	int r = 0;

	if (g_pin && pin_to(g_cpus[proc % (unsigned)g_ncpus]) != 0)
		res->err = FG_ESYS;
	for (i = 0; i < opt_keys; i++)
		key_name(g_keys[i], proc, i, cfg->shared_key);
	for (i = 0; i < 1000 + opt_keys && r >= 0; i++) {
		r = impl == IMPL_FG ? fg_allow(g_fg, rule, g_keys[k], 1, NULL)
		                    : bl_allow(g_bl, g_fg, rule, g_keys[k], 1);
		if (++k == opt_keys)
			k = 0;
	}
	if (r < 0)
		res->err = r;
	__atomic_add_fetch(&g_ctl->ready, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&g_ctl->go, __ATOMIC_ACQUIRE))
		caa_cpu_relax();

	t0 = now_ns();
	if (impl == IMPL_FG) {
		do {
			for (i = 0; i < BATCH; i++) {
				r = fg_allow(g_fg, rule, g_keys[k], 1, NULL);
				if (r < 0)
					goto out;
				admitted += (unsigned)r;
				if (++k == opt_keys)
					k = 0;
			}
			checks += BATCH;
		} while (!__atomic_load_n(&g_ctl->stop, __ATOMIC_RELAXED));
	} else {
		do {
			for (i = 0; i < BATCH; i++) {
				r = bl_allow(g_bl, g_fg, rule, g_keys[k], 1);
				if (r < 0)
					goto out;
				admitted += (unsigned)r;
				if (++k == opt_keys)
					k = 0;
			}
			checks += BATCH;
		} while (!__atomic_load_n(&g_ctl->stop, __ATOMIC_RELAXED));
	}
out:
	t1 = now_ns();
	if (r < 0)
		res->err = r;
	res->checks = checks;
	res->admitted = admitted;
	res->elapsed_ns = t1 - t0;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u),
	                      .tv_nsec = (long)(ns % 1000000000u)};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Total M checks/s of one run; -1 on error.  Adds to *checks, *admitted. */
static double tp_run(const struct tp_cfg *cfg, enum impl impl, uint64_t *checks,
                     uint64_t *admitted)
{
	pid_t pids[MAX_PROCS], parent = getpid();
	uint64_t deadline;
	double total = 0;
	unsigned p, started = 0;
	int ok = 1, status;

	memset(g_ctl, 0, sizeof *g_ctl);
	fflush(stdout);
	fflush(stderr);
	for (p = 0; p < cfg->nprocs; p++) {
		pids[p] = fork();
		if (pids[p] < 0) {
			perror("fg_bench: fork");
			ok = 0;
			break;
		}
		if (pids[p] == 0) {
			/* a worker never outlives the benchmark */
			(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(1);
			worker(p, cfg, impl);
			_exit(0);
		}
		started++;
	}

	/* start barrier: every worker warmed up and spinning */
	deadline = now_ns() + 10000000000u;
	while (ok && __atomic_load_n(&g_ctl->ready, __ATOMIC_SEQ_CST) <
	                 (int)started) {
		if (waitpid(-1, &status, WNOHANG) > 0 || now_ns() > deadline) {
			fprintf(stderr, "fg_bench: a worker failed to start\n");
			ok = 0;
			break;
		}
		sleep_ns(100000);
	}
	if (ok) {
		__atomic_store_n(&g_ctl->go, 1, __ATOMIC_RELEASE);
		sleep_ns((uint64_t)opt_ms * 1000000u);
	}
	__atomic_store_n(&g_ctl->stop, 1, __ATOMIC_RELEASE);
	if (!ok) /* unblock anything still waiting on the start flag */
		__atomic_store_n(&g_ctl->go, 1, __ATOMIC_RELEASE);

	for (p = 0; p < started; p++) {
		if (waitpid(pids[p], &status, 0) != pids[p] ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			ok = 0;
	}
	if (!ok)
		return -1;
	for (p = 0; p < cfg->nprocs; p++) {
		const struct worker_result *res = &g_ctl->res[p];

		if (res->err != 0) {
			fprintf(stderr, "fg_bench: worker %u: %s\n", p,
			        fg_strerror(res->err));
			return -1;
		}
		if (res->elapsed_ns == 0)
			return -1;
		total += (double)res->checks * 1e3 / (double)res->elapsed_ns;
		*checks += res->checks;
		*admitted += res->admitted;
	}
	return total;
}

/* ------------------------------------------------------------ report */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct stat3 {
	double med, min, max;
};

static struct stat3 summarize(const double *v, unsigned n)
{
	double s[MAX_REPS];
	struct stat3 r;

	memcpy(s, v, n * sizeof *v);
	qsort(s, n, sizeof *s, cmp_double);
	r.med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	r.min = s[0];
	r.max = s[n - 1];
	return r;
}

static void cpu_model(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];

	snprintf(buf, len, "unknown CPU");
	if (f == NULL)
		return;
	while (fgets(line, sizeof line, f)) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) == 0 && colon) {
			colon += 2;
			colon[strcspn(colon, "\n")] = '\0';
			snprintf(buf, len, "%s", colon);
			break;
		}
	}
	fclose(f);
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: fg_bench [-r runs] [-d ms] [-n iterations] [-k keys]\n"
	        "  -r  runs per figure, medians reported (default 7)\n"
	        "  -d  duration of one throughput run, ms (default 200)\n"
	        "  -n  calls per latency run (default 1048576)\n"
	        "  -k  keys per worker, used in turn (default 1)\n");
}

static unsigned parse_uint(const char *s, unsigned lo, unsigned hi)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		usage(stderr);
		exit(2);
	}
	return (unsigned)v;
}

/* Rule @rule's overrides, of the same numbers as the rule (so checks are
 * admitted): 64 exact keys (none the benchmark's), and with @prefix the
 * prefix "premium:", so that a key without one is looked up exactly and
 * under one prefix length, as a real rule with tiers would. */
static int setup_overrides(const char *rule, int prefix)
{
	struct fg_ovr_entry e;
	unsigned i;
	int r = 0;

	memset(&e, 0, sizeof e);
	e.rule = (uint8_t)fg__rule_index(g_fg, rule);
	e.capacity = 1000000u;
	e.rate = 1000000000u;
	e.period_ms = 1000u;
	for (i = 0; i < 64 && r == 0; i++) {
		e.keylen =
		    (uint8_t)snprintf((char *)e.key, sizeof e.key, "vip:%u", i);
		r = fg__override_set(g_fg, &e);
	}
	if (!prefix)
		return r;
	e.kind = FG_OVR_PREFIX;
	memset(e.key, 0, sizeof e.key);
	e.keylen = (uint8_t)snprintf((char *)e.key, sizeof e.key, "premium:");
	return r == 0 ? fg__override_set(g_fg, &e) : r;
}

static int setup_rules(void)
{
	/* capacity 10^6, refilled 1 token per ns: checks are admitted,
	 * unless a worker stalls for over 1 ms between its clock read and
	 * its update (its time is then 1 ms behind the bucket's) */
	const fg_rule allow = {.name = RULE_ALLOW,
	                       .capacity = 1000000u,
	                       .rate = 1000000000u,
	                       .period_ms = 1000u};
	/* one token an hour: once taken, every check is denied */
	const fg_rule deny = {.name = RULE_DENY,
	                      .capacity = 1u,
	                      .rate = 1u,
	                      .period_ms = 3600000u};
	const fg_rule conn = {.name = RULE_CONN,
	                      .capacity = FG_LEASES_MAX,
	                      .lease_ms = 60000,
	                      .flags = FG_RULE_IN_FLIGHT};
	const fg_rule fixed = {.name = RULE_FIXED,
	                       .capacity = FG_SLIDING_WINDOW_MAX,
	                       .rate = FG_SLIDING_WINDOW_MAX,
	                       .period_ms = 2,
	                       .flags = FG_RULE_FIXED_WINDOW};
	fg_rule more = allow, slide = fixed;
	int r = fg_rule_set(g_fg, &allow);
	unsigned i;

	slide.name = RULE_SLIDE;
	slide.flags = FG_RULE_SLIDING_WINDOW;
	if (r == 0)
		r = fg_rule_set(g_fg, &deny);
	if (r == 0)
		r = fg_rule_set(g_fg, &fixed);
	if (r == 0)
		r = fg_rule_set(g_fg, &slide);
	for (i = 1; i < 3 && r == 0; i++) {
		more.name = rules3[i];
		r = fg_rule_set(g_fg, &more);
	}
	if (r == 0)
		r = fg_rule_set(g_fg, &conn);
	more.name = RULE_OVR;
	if (r == 0)
		r = fg_rule_set(g_fg, &more);
	if (r == 0)
		r = setup_overrides(RULE_OVR, 1);
	more.name = RULE_OVRX;
	if (r == 0)
		r = fg_rule_set(g_fg, &more);
	if (r == 0)
		r = setup_overrides(RULE_OVRX, 0);
	if (r != 0)
		fprintf(stderr, "fg_bench: fg_rule_set: %s\n", fg_strerror(r));
	return r;
}

/* Results: [workload][implementation][run]. */
static double g_lat[NLAT][NIMPL][MAX_REPS];
static double g_tp[NTP][NIMPL][MAX_REPS];
static uint64_t g_checks[NTP][NIMPL], g_admitted[NTP][NIMPL];

static const char *const lat_label[NLAT] = {
    "clock_gettime(MONOTONIC) (ns)",
    "1 proc, existing key (ns/check)",
    "  same, rule pre-resolved (ns)",
    "1 proc, exhausted key (ns/check)",
    "3 rules, 3 x fg_allow (ns/request)",
    "3 rules, fg_allow_many (ns/request)",
    "fg_reserve, existing key (ns/call)",
    "fg_acquire + fg_release (ns/pair)",
    "fixed window, existing key (ns)",
    "sliding window, existing key (ns)",
    "overrides: key without one (ns)",
    "overrides: key with one (ns)",
    "  exact overrides only, without (ns)",
};

/* One run of every workload; 0 or -1. */
static int measure(unsigned rep)
{
	cpu_set_t saved;
	unsigned chunk, i, m;

	/* latency in this process, pinned like worker 0 */
	if (g_pin) {
		(void)sched_getaffinity(0, sizeof saved, &saved);
		(void)pin_to(g_cpus[0]);
	}
	for (chunk = 0; chunk < LAT_CHUNKS; chunk++) {
		for (i = 0; i < NLAT; i++) {
			for (m = 0; m < NIMPL; m++) {
				double ns;

				if (fg_only(i) && m != IMPL_FG)
					continue;
				ns = lat_run((enum lat_kind)i, (enum impl)m,
				             opt_iters / LAT_CHUNKS);
				if (ns < 0)
					return -1;
				g_lat[i][m][rep] += ns / LAT_CHUNKS;
			}
		}
	}
	if (g_pin)
		(void)sched_setaffinity(0, sizeof saved, &saved);

	for (i = 0; i < NTP; i++) {
		for (m = 0; m < NIMPL; m++) {
			g_tp[i][m][rep] =
			    tp_run(&tp_cfgs[i], (enum impl)m, &g_checks[i][m],
			           &g_admitted[i][m]);
			if (g_tp[i][m][rep] < 0)
				return -1;
		}
	}
	return 0;
}

static double median(const double *v)
{
	return summarize(v, opt_reps).med;
}

static void report_table(void)
{
	unsigned i, m;

	printf("\n%-36s %12s %16s %12s\n", "workload", "floodgate",
	       "mutex baseline", "speedup");
	for (i = 0; i < NLAT; i++) {
		double fg = median(g_lat[i][IMPL_FG]);
		double mx = median(g_lat[i][IMPL_MX]);

		if (i == LAT_CLOCK)
			printf("%-36s %12.1f %16s %12s\n", lat_label[i], fg, "",
			       "(floor)");
		else if (fg_only(i))
			printf("%-36s %12.1f %16s %8.2fx 1\n", lat_label[i], fg,
			       "", fg / median(g_lat[LAT_ALLOW][IMPL_FG]));
		else
			printf("%-36s %12.1f %16.1f %11.2fx\n", lat_label[i],
			       fg, mx, mx / fg);
	}
	for (i = 0; i < NTP; i++) {
		double fg = median(g_tp[i][IMPL_FG]);
		double mx = median(g_tp[i][IMPL_MX]);

		if (i % 3 == 0)
			printf("throughput, M checks/s in total, %s:\n",
			       tp_cfgs[i].deny ? "exhausted keys (denied)"
			                       : "checks admitted");
		printf("  %-34s %12.2f %16.2f %11.2fx\n", tp_label(i), fg, mx,
		       fg / mx);
		if (i % 3 == 1) {
			double one[NIMPL];

			for (m = 0; m < NIMPL; m++)
				one[m] = median(g_tp[i - 1][m]);
			printf("    %-32s %11.2fx %15.2fx\n",
			       "scaling, 2 procs / 1 proc", fg / one[IMPL_FG],
			       mx / one[IMPL_MX]);
		}
	}
	printf("speedup: floodgate over the baseline (>1: floodgate faster);"
	       "\n  \"x 1\": over one check of an existing key, same run\n");
}

static void report_details(void)
{
	struct stat3 s[NIMPL];
	unsigned i, m;

	printf("\nspread over the %u runs (min .. max):\n", opt_reps);
	for (i = 0; i < NLAT; i++) {
		for (m = 0; m < NIMPL; m++)
			s[m] = summarize(g_lat[i][m], opt_reps);
		if (fg_only(i))
			printf("  %-34s %6.1f .. %-6.1f\n", lat_label[i],
			       s[IMPL_FG].min, s[IMPL_FG].max);
		else
			printf("  %-34s %6.1f .. %-6.1f %7.1f .. %-6.1f\n",
			       lat_label[i], s[IMPL_FG].min, s[IMPL_FG].max,
			       s[IMPL_MX].min, s[IMPL_MX].max);
	}
	for (i = 0; i < NTP; i++) {
		char label[64];

		snprintf(label, sizeof label, "%s%s (M/s)", tp_label(i),
		         tp_cfgs[i].deny ? ", denied" : "");
		for (m = 0; m < NIMPL; m++)
			s[m] = summarize(g_tp[i][m], opt_reps);
		printf("  %-34s %6.2f .. %-6.2f %7.2f .. %-6.2f\n", label,
		       s[IMPL_FG].min, s[IMPL_FG].max, s[IMPL_MX].min,
		       s[IMPL_MX].max);
	}

	printf("\nchecks admitted in the throughput runs "
	       "(floodgate, baseline):\n");
	for (i = 0; i < NTP; i++) {
		printf("  %-34s", tp_label(i));
		for (m = 0; m < NIMPL; m++)
			printf(" %9.5f%%", g_checks[i][m]
			                       ? 100.0 *
			                             (double)g_admitted[i][m] /
			                             (double)g_checks[i][m]
			                       : 0.0);
		printf("%s\n", tp_cfgs[i].deny ? "  (exhausted keys)" : "");
	}
}

static void report_targets(void)
{
	double ns = median(g_lat[LAT_ALLOW][IMPL_FG]);
	double one = median(g_tp[0][IMPL_FG]);
	double two = median(g_tp[1][IMPL_FG]);
	double key = median(g_tp[2][IMPL_FG]);
	double mx_two = median(g_tp[1][IMPL_MX]);
	double mx_key = median(g_tp[2][IMPL_MX]);

	printf("\ntargets of the issue (admitted checks, medians):\n");
	printf("  <= 40 ns per check on an existing key   %7.1f ns  %s\n", ns,
	       ns <= 40 ? "met" : "NOT met");
	printf("  2 procs >= 1.8x 1 proc, own keys        %7.2fx    %s\n",
	       two / one, two / one >= 1.8 ? "met" : "NOT met");
	printf("  faster than the mutex, 2 procs one key  %7.2fx    %s\n",
	       key / mx_key, key > mx_key ? "met" : "NOT met");
	printf("  faster than the mutex, 2 procs own keys %7.2fx    %s\n",
	       two / mx_two, two > mx_two ? "met" : "NOT met");
	printf("  a 3-rule check < 3x a single one        %7.2fx    %s\n",
	       median(g_lat[LAT_MANY3][IMPL_FG]) / ns,
	       median(g_lat[LAT_MANY3][IMPL_FG]) < 3 * ns ? "met" : "NOT met");
}

int main(int argc, char **argv)
{
	fg_segment_opts opts = {.capacity = 65536, .mode = 0600};
	uint64_t start = now_ns();
	char seg[64], model[128];
	size_t bl_size = 0;
	unsigned rep;
	int opt, r, rc = 1;

	while ((opt = getopt(argc, argv, "r:d:n:k:h")) != -1) {
		switch (opt) {
		case 'r':
			opt_reps = parse_uint(optarg, 1, MAX_REPS);
			break;
		case 'd':
			opt_ms = parse_uint(optarg, 10, 10000);
			break;
		case 'n':
			opt_iters = parse_uint(optarg, 8000, 1u << 30);
			break;
		case 'k':
			opt_keys = parse_uint(optarg, 1, MAX_KEYS);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}

	find_cpus();
	snprintf(seg, sizeof seg, "fgbench-%d", (int)getpid());
	r = fg_create(seg, &opts, FG_CREATE_REPLACE, &g_fg);
	if (r != 0) {
		fprintf(stderr, "fg_bench: fg_create(%s): %s\n", seg,
		        fg_strerror(r));
		return 1;
	}
	r = setup_rules();
	/* Every process keeps its mapping: drop the name now, so that an
	 * interrupted run leaves nothing behind in /dev/shm. */
	(void)fg_unlink(seg);
	if (r != 0)
		goto out;
	g_bl = bl_create(g_fg, &bl_size);
	g_ctl = mmap(NULL, sizeof *g_ctl, PROT_READ | PROT_WRITE,
	             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g_bl == NULL || g_ctl == MAP_FAILED) {
		fprintf(stderr, "fg_bench: mmap: %s\n", strerror(errno));
		goto out;
	}

	cpu_model(model, sizeof model);
	printf("fg_bench: floodgate %s against one process-shared pthread "
	       "mutex over the same table\n",
	       FG_VERSION_STRING);
	printf("  %s, %ld online CPUs; %s\n", model,
	       sysconf(_SC_NPROCESSORS_ONLN),
	       g_pin ? "pinned: worker i on allowed CPU i (sched_setaffinity)"
	             : "one CPU allowed: workers NOT pinned");
	printf("  medians of %u interleaved runs; latency: %u calls a run; "
	       "throughput: %u ms a run, %u key%s a worker\n",
	       opt_reps, opt_iters, opt_ms, opt_keys, opt_keys > 1 ? "s" : "");
	fflush(stdout);

	for (rep = 0; rep < opt_reps; rep++)
		if (measure(rep) != 0)
			goto out;
	report_table();
	report_details();
	report_targets();
	printf("\ntotal time %.1f s\n", (double)(now_ns() - start) / 1e9);
	rc = 0;
out:
	if (g_ctl != NULL && g_ctl != MAP_FAILED)
		munmap(g_ctl, sizeof *g_ctl);
	if (g_bl != NULL) {
		pthread_mutex_destroy(&g_bl->lock);
		munmap(g_bl, bl_size);
	}
	fg_close(g_fg);
	return rc;
}
