/* SPDX-License-Identifier: ISC */
/*
 * load.c - worker processes offering load (load.h).
 *
 * A worker is a forked child that restores the default actions of
 * SIGINT and SIGTERM (the parent may catch them to clean up: a ^C must
 * still stop the workers), asks for SIGKILL should the parent die, runs
 * its schedule and _exit()s: it never returns into its parent's code, and
 * never flushes the parent's stdio buffers (the parent flushes stdout
 * before it forks).
 *
 * Its row is updated after every check with relaxed atomic stores, the
 * counters before the timestamp: a reader that sees last_ns sees the
 * counts of that check or later (the store order is enough on x86-64 and
 * the figures are monotonic either way).  first_ns is set once, before
 * the first check, and done last.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <urcu/uatomic.h>

#include "demo/load.h"
#include "shm/clock.h"

#define NS_PER_S  1000000000ull
#define NS_PER_MS 1000000ull

static int sleep_until(uint64_t t)
{
	struct timespec ts = {.tv_sec = (time_t)(t / NS_PER_S),
	                      .tv_nsec = (long)(t % NS_PER_S)};
	int e;

	while ((e = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
	                            NULL)) == EINTR)
		;
	return e;
}

int fgc_offer(fg_client *fg, const char *rule, const char *key, uint64_t gap_ns,
              uint64_t first_ns, uint64_t deadline_ns, struct fgc_row *row)
{
	uint64_t next = first_ns, admitted = 0, denied = 0;
	int r, e;

	if ((e = sleep_until(next)) != 0)
		goto fail;
	uatomic_set(&row->first_ns, fg__now_ns());
	while (next < deadline_ns) {
		if ((e = sleep_until(next)) != 0)
			goto fail;
		r = fg_allow(fg, rule, key, 1, NULL);
		if (r < 0) {
			uatomic_set(&row->error, r);
			return -1;
		}
		if (r == 1)
			uatomic_set(&row->admitted, ++admitted);
		else
			uatomic_set(&row->denied, ++denied);
		uatomic_set(&row->last_ns, fg__now_ns());
		next += gap_ns;
	}
	uatomic_set(&row->done, 1);
	return 0;
fail:
	uatomic_set(&row->sys_errno, e);
	return -1;
}

/* The child's side: never returns. */
static void worker(fg_client *fg, const struct fgc_load *l, int k,
                   struct fgc_row *row)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	uint64_t gap = NS_PER_S * (uint64_t)l->per_node / l->offer;

	if (sigaction(SIGINT, &dfl, NULL) != 0 ||
	    sigaction(SIGTERM, &dfl, NULL) != 0 ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
		_exit(1);
	_exit(fgc_offer(fg, l->rule, l->key, gap,
	                l->start_ns + gap * (uint64_t)k / (uint64_t)l->per_node,
	                l->deadline_ns, row) == 0
	          ? 0
	          : 1);
}

int fgc_load_start(struct fgc_cluster *c, struct fgc_load *l)
{
	size_t n = (size_t)c->n * (size_t)l->per_node;
	void *rows;
	int node, k;

	l->nodes = c->n;
	if (l->per_node < 1 || l->offer < 1 || l->rule == NULL ||
	    l->key == NULL) {
		(void)snprintf(c->err, sizeof c->err, "bad load");
		return -1;
	}
	l->pid = calloc(n, sizeof *l->pid);
	l->bytes = n * sizeof *l->rows;
	rows = mmap(NULL, l->bytes, PROT_READ | PROT_WRITE,
	            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (l->pid == NULL || rows == MAP_FAILED) {
		(void)snprintf(c->err, sizeof c->err, "workers: %s",
		               strerror(errno ? errno : ENOMEM));
		return -1;
	}
	l->rows = rows;
	l->start_ns = fg__now_ns() + l->start_delay_ms * NS_PER_MS;
	l->deadline_ns = l->start_ns + l->ms * NS_PER_MS;
	(void)fflush(NULL); /* or the workers inherit buffered output */
	for (node = 0; node < c->n; node++)
		for (k = 0; k < l->per_node; k++) {
			size_t w =
			    (size_t)node * (size_t)l->per_node + (size_t)k;
			pid_t p = fork();

			if (p < 0) {
				(void)snprintf(c->err, sizeof c->err,
				               "fork: %s", strerror(errno));
				return -1;
			}
			if (p == 0)
				worker(c->node[node].fg, l, k, &l->rows[w]);
			l->pid[w] = p;
		}
	return 0;
}

/* Say why worker @w failed into @err (first failure only). */
static void why(const struct fgc_load *l, size_t w, int status, char *err,
                size_t errlen)
{
	int64_t e = uatomic_read(&l->rows[w].error);
	int64_t sys = uatomic_read(&l->rows[w].sys_errno);

	if (err[0] != '\0')
		return;
	if (e != 0 || sys != 0)
		(void)snprintf(err, errlen, "worker %zu of node %zu: %s", w,
		               w / (size_t)l->per_node,
		               e != 0 ? fg_strerror((int)e)
		                      : strerror((int)sys));
	else if (WIFSIGNALED(status))
		(void)snprintf(err, errlen, "worker %zu: signal %d", w,
		               WTERMSIG(status));
	else if (status != 0)
		(void)snprintf(err, errlen, "worker %zu: exited %d", w,
		               WEXITSTATUS(status));
	else
		(void)snprintf(err, errlen, "worker %zu: did not finish", w);
}

/* Reap worker @w: its wait status, -1 if waitpid failed. */
static int reap(struct fgc_load *l, size_t w)
{
	int status;
	pid_t p;

	do
		p = waitpid(l->pid[w], &status, 0);
	while (p < 0 && errno == EINTR);
	l->pid[w] = 0;
	return p < 0 ? -1 : status;
}

int fgc_load_wait(struct fgc_load *l, int stop, char *err, size_t errlen)
{
	size_t n = (size_t)l->nodes * (size_t)l->per_node, w;
	int status, failed = 0;

	err[0] = '\0';
	if (l->pid == NULL)
		return 0;
	for (w = 0; stop && w < n; w++)
		if (l->pid[w] > 0)
			(void)kill(l->pid[w], SIGTERM);
	for (w = 0; w < n; w++) {
		if (l->pid[w] <= 0)
			continue;
		status = reap(l, w);
		if (status == 0 && uatomic_read(&l->rows[w].done))
			continue;
		failed = 1;
		if (!stop)
			why(l, w, status, err, errlen);
	}
	if (failed && err[0] == '\0')
		(void)snprintf(err, errlen, "workers stopped");
	return failed ? -1 : 0;
}

void fgc_load_sum(const struct fgc_load *l, int node, struct fgc_row *sum)
{
	int lo = node < 0 ? 0 : node, hi = node < 0 ? l->nodes : node + 1;
	int i, k;

	memset(sum, 0, sizeof *sum);
	sum->first_ns = UINT64_MAX;
	for (i = lo; l->rows != NULL && i < hi; i++)
		for (k = 0; k < l->per_node; k++) {
			const struct fgc_row *r = &l->rows[i * l->per_node + k];
			uint64_t f = uatomic_read(&r->first_ns);
			uint64_t t = uatomic_read(&r->last_ns);

			sum->admitted += uatomic_read(&r->admitted);
			sum->denied += uatomic_read(&r->denied);
			if (f != 0 && f < sum->first_ns)
				sum->first_ns = f;
			if (t > sum->last_ns)
				sum->last_ns = t;
		}
	if (sum->first_ns == UINT64_MAX)
		sum->first_ns = 0;
}

void fgc_load_free(struct fgc_load *l)
{
	if (l->rows != NULL)
		(void)munmap(l->rows, l->bytes);
	free(l->pid);
	l->rows = NULL;
	l->pid = NULL;
}
