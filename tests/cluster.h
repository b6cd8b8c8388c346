/*
 * cluster.h - what the tests that start real floodgated processes share:
 * where the binary is, writing a file, and one key pair per node with
 * the keyring that trusts them all.
 */
#ifndef FG_TESTS_CLUSTER_H
#define FG_TESTS_CLUSTER_H

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <urcu/uatomic.h>

#include "gossip/keys.h"
#include "lib/floodgate.h"
#include "shm/clock.h"

/* The daemon under test: $FLOODGATED (make check sets it), else the one
 * of the build directory the test runs from. */
static inline const char *daemon_path(void)
{
	const char *p = getenv("FLOODGATED");

	return p ? p : "./daemon/floodgated";
}

static inline void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
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

/* Start floodgated -f -c DIR/nI.conf, its stderr appended to DIR/nI.log;
 * its pid.  It dies with the test: a test that fails half-way must not
 * leave daemons behind. */
static inline pid_t cluster_spawn(const char *dir, int i)
{
	char conf[128], log[128];
	pid_t p;

	snprintf(conf, sizeof conf, "%s/n%d.conf", dir, i);
	snprintf(log, sizeof log, "%s/n%d.log", dir, i);
	p = fork();
	cr_assert_geq(p, 0);
	if (p == 0) {
		FILE *f = freopen(log, "a", stderr);

		(void)f;
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(daemon_path(), "floodgated", "-f", "-c", conf,
		      (char *)NULL);
		_exit(127);
	}
	return p;
}

/* DIR/nI.key (and .pub) for I < @n, named "nI", and DIR/keyring. */
static inline void make_node_keys(const char *dir, int n)
{
	char path[256], line[256], keyring[4096] = "", err[256];
	int i;

	for (i = 0; i < n; i++) {
		FILE *f;

		snprintf(path, sizeof path, "%s/n%d.key", dir, i);
		snprintf(line, sizeof line, "n%d", i);
		cr_assert_eq(fgk_keygen(path, line, err, sizeof err), 0, "%s",
		             err);
		strcat(path, ".pub");
		f = fopen(path, "r");
		cr_assert_not_null(f);
		cr_assert_not_null(fgets(line, sizeof line, f));
		fclose(f);
		strcat(keyring, line);
	}
	snprintf(path, sizeof path, "%s/keyring", dir);
	write_file(path, keyring);
}

/* A worker process offers about @offer checks/s of (@rule, @key) to
 * segment @seg for @ms, stores how many were admitted in *@admitted (shared
 * memory) and exits. */
static inline void cluster_worker(const char *seg, const char *rule,
                                  const char *key, unsigned offer,
                                  unsigned ms, uint64_t *admitted)
{
	uint64_t end = fg__now_ns() + (uint64_t)ms * 1000000, n = 0;
	fg_client *c = NULL;

	if (fg_open(seg, 0, &c) != 0)
		_exit(1);
	while (fg__now_ns() < end) {
		if (fg_allow(c, rule, key, 1, NULL) == 1)
			n++;
		usleep(1000000 / offer);
	}
	uatomic_set(admitted, n);
	fg_close(c);
	_exit(0);
}

#endif
