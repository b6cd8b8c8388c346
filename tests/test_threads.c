/* SPDX-License-Identifier: ISC */
/*
 * test_threads.c - threads of one process, each with its own client.
 *
 * Threaded servers (Apache's worker MPM, a PHP-FPM pool with threads,
 * gunicorn's gthread workers) run checks from several threads at once.
 * The rule: an fg_client is used by one thread at a time, and any number
 * of clients (in one process or many) share a segment with the same
 * exactness as processes do.  This program is also what the
 * ThreadSanitizer run of the suite executes (scripts/test.sh --tsan):
 * every shared word is touched only through atomics, so TSan must stay
 * silent.  That is why it is a plain TAP program, not a criterion one:
 * criterion's runner maps its arena where TSan keeps its shadow memory.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/floodgate.h"

#define HOUR_MS 3600000u

#define THREADS  4
#define HOT_KEYS 8
#define CAP      500u
#define TRIES    2000u /* per thread per key: far more than CAP in all */

struct job {
	const char *segment;
	unsigned id;
	_Atomic uint64_t *admitted; /* per hot key */
	_Atomic unsigned *ready;
	int err;
};

static void *hammer(void *arg)
{
	struct job *j = arg;
	fg_client *c = NULL;
	char key[32];
	unsigned i, k;
	int r;

	r = fg_open(j->segment, 0, &c);
	if (r != 0) {
		j->err = r;
		return NULL;
	}
	/* start together, so that the checks really overlap */
	atomic_fetch_add(j->ready, 1);
	while (atomic_load(j->ready) < THREADS)
		;
	for (i = 0; i < TRIES; i++) {
		for (k = 0; k < HOT_KEYS; k++) {
			snprintf(key, sizeof key, "hot-%u",
			         (k + j->id) % HOT_KEYS);
			r = fg_allow(c, "exact", key, 1, NULL);
			if (r < 0) {
				j->err = r;
				goto out;
			}
			if (r == 1)
				atomic_fetch_add(
				    &j->admitted[(k + j->id) % HOT_KEYS], 1);
		}
		/* and fresh keys, inserted by every thread at once */
		snprintf(key, sizeof key, "fresh-%u", i);
		r = fg_allow(c, "once", key, 1, NULL);
		if (r < 0) {
			j->err = r;
			goto out;
		}
	}
out:
	fg_close(c);
	return NULL;
}

static int failures;

static void expect(int ok, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void expect(int ok, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return;
	failures++;
	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static void threads_with_a_client_each_admit_exactly_the_capacity(void)
{
	fg_segment_opts o = {.capacity = 4 * TRIES};
	fg_rule exact = {
	    .name = "exact", .capacity = CAP, .rate = 1, .period_ms = HOUR_MS};
	fg_rule once = {
	    .name = "once", .capacity = 1, .rate = 1, .period_ms = HOUR_MS};
	fg_client *owner = NULL;
	_Atomic uint64_t admitted[HOT_KEYS];
	_Atomic unsigned ready = 0;
	struct job jobs[THREADS];
	pthread_t tid[THREADS];
	fg_segment_stats st;
	char segment[64];
	unsigned t, k;
	int r;

	snprintf(segment, sizeof segment, "fgtest-threads-%d", (int)getpid());
	(void)fg_unlink(segment);
	r = fg_create(segment, &o, 0, &owner);
	if (r == 0)
		r = fg_rule_set(owner, &exact);
	if (r == 0)
		r = fg_rule_set(owner, &once);
	if (r != 0) {
		expect(0, "setup: %s", fg_strerror(r));
		goto out;
	}
	for (k = 0; k < HOT_KEYS; k++)
		atomic_init(&admitted[k], 0);
	for (t = 0; t < THREADS; t++) {
		jobs[t] = (struct job){.segment = segment,
		                       .id = t,
		                       .admitted = admitted,
		                       .ready = &ready};
		if (pthread_create(&tid[t], NULL, hammer, &jobs[t]) != 0) {
			expect(0, "pthread_create");
			exit(1); /* the started threads wait for the others */
		}
	}
	for (t = 0; t < THREADS; t++) {
		(void)pthread_join(tid[t], NULL);
		expect(jobs[t].err == 0, "thread %u: %s", t,
		       fg_strerror(jobs[t].err));
	}
	for (k = 0; k < HOT_KEYS; k++)
		expect(atomic_load(&admitted[k]) == CAP,
		       "hot-%u admitted %llu times, not %u", k,
		       (unsigned long long)atomic_load(&admitted[k]), CAP);
	r = fg_stats(owner, &st);
	expect(r == 0, "fg_stats: %s", fg_strerror(r));
	expect(st.used == HOT_KEYS + TRIES, "%llu buckets for %u keys",
	       (unsigned long long)st.used, HOT_KEYS + TRIES);
	expect(st.consumed == HOT_KEYS * CAP + TRIES, "consumed %llu",
	       (unsigned long long)st.consumed);
	expect(st.table_full == 0, "table full %llu",
	       (unsigned long long)st.table_full);
out:
	fg_close(owner);
	(void)fg_unlink(segment);
}

int main(void)
{
	printf("1..1\n");
	threads_with_a_client_each_admit_exactly_the_capacity();
	printf("%s 1 - threads with a client each admit exactly the capacity\n",
	       failures ? "not ok" : "ok");
	return failures ? 1 : 0;
}
