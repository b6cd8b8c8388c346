/* SPDX-License-Identifier: ISC */
/*
 * cluster.h - the tests' face of the cluster harness (demo/cluster.h,
 * demo/figures.h, demo/load.h): the same calls, with a failure turned into a
 * Criterion assertion that carries the harness's message (and the end of the
 * daemon's log, when a daemon failed).  The older helpers below keep
 * their names for the tests written against them.
 */
#ifndef FG_TESTS_CLUSTER_H
#define FG_TESTS_CLUSTER_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <urcu/uatomic.h>

#include "demo/cluster.h"
#include "demo/figures.h"
#include "demo/load.h"
#include "lib/floodgate.h"
#include "shm/clock.h"

/* Assert that the harness call @call (on cluster @c) returned 0. */
#define CLUSTER_OK(c, call) cr_assert_eq((call), 0, "%s: %s", #call, (c)->err)

/* The daemon under test: $FLOODGATED (make check sets it), else the one
 * of the build directory the test runs from. */
static inline const char *daemon_path(void)
{
	return fgc_floodgated();
}

static inline void write_file(const char *path, const char *text)
{
	char err[256];

	cr_assert_eq(fgc_write_file(path, text, err, sizeof err), 0, "%s", err);
}

/* DIR/nI.key (and .pub) for I < @n, named "nI", and DIR/keyring. */
static inline void make_node_keys(const char *dir, int n)
{
	char err[512];

	cr_assert_eq(fgc_keys_in(dir, n, err, sizeof err), 0, "%s", err);
}

/* The end of the file @path (at most @len - 1 bytes), NUL-terminated in
 * @buf; empty when it cannot be read.  For a daemon's log in a failure. */
static inline void cluster_log_tail(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		if (fseek(f, -(long)(len - 1), SEEK_END) != 0)
			rewind(f);
		n = fread(buf, 1, len - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

/* Start floodgated -f -c DIR/nI.conf, its output appended to DIR/nI.log;
 * its pid.  It dies with the test: a test that fails half-way must not
 * leave daemons behind. */
static inline pid_t cluster_spawn(const char *dir, int i)
{
	char conf[128], log[128];
	pid_t p;

	snprintf(conf, sizeof conf, "%s/n%d.conf", dir, i);
	snprintf(log, sizeof log, "%s/n%d.log", dir, i);
	p = fgc_spawn(daemon_path(), conf, log, SIGKILL, 0);
	cr_assert_geq(p, 0, "fork");
	return p;
}

/* The network process of the daemon @pid started (floodgated runs as two:
 * daemon/privsep.h): its child, found in /proc; @pid when it has none. */
static inline pid_t daemon_network_pid(pid_t pid)
{
	char path[64], line[512];
	struct dirent *e;
	pid_t found = pid;
	DIR *d = opendir("/proc");

	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL && found == pid) {
		long ppid = -1;
		char *p;
		FILE *f;

		snprintf(path, sizeof path, "/proc/%.20s/stat", e->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		if (fgets(line, sizeof line, f) &&
		    (p = strrchr(line, ')')) != NULL &&
		    sscanf(p + 1, " %*c %ld", &ppid) == 1 && ppid == pid)
			found = (pid_t)atol(e->d_name);
		fclose(f);
	}
	closedir(d);
	return found;
}

/* A worker process offers about @offer checks/s of (@rule, @key) to
 * segment @seg for @ms, stores how many were admitted in *@admitted (shared
 * memory) and exits. */
static inline void cluster_worker(const char *seg, const char *rule,
                                  const char *key, unsigned offer, unsigned ms,
                                  uint64_t *admitted)
{
	uint64_t t0 = fg__now_ns();
	struct fgc_row row = {0};
	fg_client *c = NULL;
	int r;

	if (fg_open(seg, 0, &c) != 0)
		_exit(1);
	r = fgc_offer(c, rule, key, 1000000000ull / offer, t0,
	              t0 + (uint64_t)ms * 1000000, &row);
	uatomic_set(admitted, row.admitted);
	fg_close(c);
	_exit(r == 0 ? 0 : 1);
}

#endif
