/* SPDX-License-Identifier: ISC */
/*
 * run.h - run one of our programs the way an operator would, and keep
 * what it said: its exit status, stdout and stderr (through files in the
 * test's directory, so that nothing it prints can block it).
 */
#ifndef FG_TESTS_RUN_H
#define FG_TESTS_RUN_H

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct run {
	int status; /* exit status, or -1 if killed */
	char *out, *err;
};

static inline char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

/* Run @prog with @argv (NULL-terminated, argv[0] included), its outputs
 * in @dir/out and @dir/err; killed after @alarm_s seconds unless 0. */
static inline struct run run_program(const char *prog, const char *const *argv,
                                     const char *dir, unsigned alarm_s)
{
	char out[160], err[160];
	struct run r = {0};
	int st;
	pid_t p;

	snprintf(out, sizeof out, "%s/out", dir);
	snprintf(err, sizeof err, "%s/err", dir);
	p = fork();
	cr_assert_geq(p, 0);
	if (p == 0) {
		if (!freopen(out, "w", stdout) || !freopen(err, "w", stderr))
			_exit(126);
		if (alarm_s)
			alarm(alarm_s);
		execv(prog, (char *const *)argv);
		_exit(127);
	}
	cr_assert_eq(waitpid(p, &st, 0), p);
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	cr_assert_neq(r.status, 127, "cannot run %s", prog);
	r.out = slurp(out);
	r.err = slurp(err);
	return r;
}

static inline void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

#define EXPECT(r, code)                                                        \
	cr_assert_eq((r).status, (code),                                       \
	             "exit %d, wanted %d\nout: %s\nerr: %s", (r).status,       \
	             (code), (r).out, (r).err)

#endif
