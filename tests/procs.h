/* SPDX-License-Identifier: ISC */
/*
 * procs.h - worker processes for the multi-process tests.
 *
 * Workers are forked children.  They never call cr_assert (Criterion's
 * runner must only hear from the test process): they report through an
 * anonymous MAP_SHARED page and their exit status, always leave with
 * _exit(), die with the test process (PR_SET_PDEATHSIG) and give up after
 * WORKER_DEADLINE_NS, so a broken library fails a test instead of hanging
 * it.  Nothing here sleeps to avoid a race: workers start together from a
 * start gun.  Also what the tests read of the table (shm/scan.h).
 */
#ifndef FG_TESTS_PROCS_H
#define FG_TESTS_PROCS_H

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/client.h"
#include "shm/clock.h"
#include "shm/scan.h"

#define MS  1000000ull
#define SEC (1000ull * MS)

/* A worker still running after this gave up waiting for something. */
#define WORKER_DEADLINE_NS (20 * SEC)

/* Exit codes of workers (0: the worker saw what it waited for). */
#define WX_PDEATHSIG 100 /* could not tie its life to the test's */
#define WX_OPEN      101 /* fg_open failed */
#define WX_ERROR     102 /* fg_allow returned an error */
#define WX_DEADLINE  103 /* never saw what it waited for */
#define WX_START     104 /* the start went wrong */

static inline void *shared_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	               MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	cr_assert(p != MAP_FAILED, "mmap: %s", strerror(errno));
	return p;
}

static inline uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static inline uint64_t load64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void store64(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* ------------------------------------------------------------- workers */

typedef int (*worker_fn)(void *job, unsigned i);

/*
 * Fork worker @i running @fn.  The child never returns into Criterion: it
 * leaves with _exit(fn's result), and is killed if the test process dies.
 */
static inline pid_t spawn(worker_fn fn, void *job, unsigned i)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 ||
		    getppid() != parent)
			_exit(WX_PDEATHSIG);
		_exit(fn(job, i));
	}
	return pid;
}

static inline void spawn_n(worker_fn fn, void *job, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		(void)spawn(fn, job, i);
}

/*
 * The start of a race: each worker says it is ready on one pipe, then
 * blocks on another until the parent closes it, which wakes all of them at
 * once.  A worker that dies before it is ready fails the test instead of
 * hanging it.
 */
struct start_gun {
	int ready[2];
	int go[2];
};

static inline void gun_load(struct start_gun *g)
{
	cr_assert_eq(pipe(g->ready), 0);
	cr_assert_eq(pipe(g->go), 0);
}

/* In a worker: 0 once started, -1 if the start went wrong. */
static inline int gun_wait(const struct start_gun *g)
{
	char b = 0;
	ssize_t n;

	close(g->go[1]);
	close(g->ready[0]);
	if (write(g->ready[1], &b, 1) != 1)
		return -1;
	close(g->ready[1]);
	while ((n = read(g->go[0], &b, 1)) < 0 && errno == EINTR)
		;
	close(g->go[0]);
	return n == 0 ? 0 : -1;
}

/* In the parent, once @n workers are forked: start them all when ready. */
static inline void gun_fire(struct start_gun *g, unsigned n)
{
	unsigned ready = 0;
	char b;

	close(g->ready[1]);
	close(g->go[0]);
	while (ready < n) {
		ssize_t r = read(g->ready[0], &b, 1);

		if (r < 0 && errno == EINTR)
			continue;
		cr_assert_eq(r, 1, "%u of %u workers ready", ready, n);
		ready++;
	}
	close(g->ready[0]);
	close(g->go[1]);
}

/* Kill each of @n workers with SIGKILL after a random pause of up to
 * @gap_us after the previous kill, and reap them: each must have died of
 * it, not ended by itself. */
static inline void kill_each(const pid_t *pids, unsigned n, uint64_t *rng,
                             unsigned gap_us)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		usleep((useconds_t)(xorshift(rng) % gap_us));
		cr_assert_eq(kill(pids[i], SIGKILL), 0);
	}
	for (i = 0; i < n; i++) {
		int status;

		cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
		cr_expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		          "worker %u ended by itself (%#x)", i, status);
	}
}

/* Wait until *@p reaches @n (workers report progress this way). */
static inline void await_count(uint64_t *p, uint64_t n, const char *what)
{
	uint64_t deadline = fg__now_ns() + WORKER_DEADLINE_NS;

	while (load64(p) < n) {
		cr_assert(fg__now_ns() < deadline, "%s: %llu, waited for %llu",
		          what, (unsigned long long)load64(p),
		          (unsigned long long)n);
		usleep(50);
	}
}

/* ------------------------------------------------- looking into the table */

static inline int rule_index(fg_client *c, const char *name)
{
	int idx = fg__rule_index(c, name);

	cr_assert_geq(idx, 0, "rule %s has no index", name);
	return idx;
}

/* The bucket of (@rule, @key): 1 with @v, 0 if absent (never inserts). */
static inline int bucket_of(fg_client *c, const char *rule, const char *key,
                            struct fg_slot_view *v)
{
	unsigned idx = (unsigned)rule_index(c, rule);

	return fg__bucket_get(&c->seg.tbl, idx, key, strlen(key), v);
}

static inline unsigned count_state(fg_client *c, unsigned state)
{
	struct fg_table *t = &c->seg.tbl;
	unsigned n = 0;
	uint64_t i;

	for (i = 0; i < fg__table_nslots(t); i++)
		n += fg__slot_state(t, i) == state;
	return n;
}

/* What names a bucket: its rule and its key bytes. */
struct bucket_id {
	unsigned rule, len;
	uint8_t key[FG_SLOT_KEY_MAX];
};

static inline int bucket_id_cmp(const void *a, const void *b)
{
	const struct bucket_id *x = a, *y = b;

	if (x->rule != y->rule)
		return x->rule < y->rule ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->key, y->key, x->len);
}

/*
 * Pairs of READY slots that hold the same (rule, key): invariant 3 of
 * shm/table.c says there are none.  Logs the first one found.
 */
static inline unsigned duplicate_buckets(fg_client *c)
{
	struct fg_table *t = &c->seg.tbl;
	struct bucket_id *ids = calloc(fg__table_nslots(t), sizeof *ids);
	unsigned n = 0, dups = 0, i;
	struct fg_slot_view v;
	uint64_t cur = 0;

	cr_assert_not_null(ids);
	while (fg__slot_next(t, &cur, &v)) {
		ids[n].rule = v.rule;
		ids[n].len = v.keylen;
		memcpy(ids[n].key, v.key, v.keylen);
		n++;
	}
	qsort(ids, n, sizeof *ids, bucket_id_cmp);
	for (i = 1; i < n; i++) {
		if (bucket_id_cmp(&ids[i - 1], &ids[i]) != 0)
			continue;
		if (dups++ == 0)
			cr_log_error("two READY slots for rule %u key %.*s",
			             ids[i].rule, (int)ids[i].len,
			             (const char *)ids[i].key);
	}
	free(ids);
	return dups;
}

/*
 * Map every page of the segment into this process.  A child starts with
 * none of its parent's page table entries for the mapping, and a new
 * worker that faults them in one by one runs at a fraction of its speed
 * (a worker of a prefork server has long been past that), out of step with
 * the others.  MADV_POPULATE_READ/WRITE did not help here; touching does.
 */
static inline void map_segment(fg_client *c)
{
	size_t off;

	for (off = 0; off < c->seg.size; off += 4096)
		(void)*(volatile const uint8_t *)(c->seg.base + off);
}

static inline fg_segment_stats stats_of(fg_client *c)
{
	fg_segment_stats st;

	cr_assert_eq(fg_stats(c, &st), 0);
	return st;
}

#endif
