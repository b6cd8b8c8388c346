/* SPDX-License-Identifier: ISC */
/*
 * cli_harness.h - what the tests of floodgate(1) share: running the CLI
 * and capturing its output and exit status, a strict JSON checker, and
 * real floodgated processes on their own segments, sockets and ports.
 *
 * The CLI under test is $FLOODGATE_CLI (make check sets it), the daemon
 * $FLOODGATED.  Each test has its own directory, segment names
 * ("fg-cli-...") and ports (23000-23999, from its pid), and removes them
 * in env_fini, which runs after every test, passed or failed.
 */
#ifndef FG_TESTS_CLI_HARNESS_H
#define FG_TESTS_CLI_HARNESS_H

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <urcu/uatomic.h>

#include "daemon/control.h"
#include "lib/client.h"
#include "shm/clock.h"
#include "tests/cluster.h"
#include "tests/helpers.h"
#include "tests/ports.h"
#include "tests/run.h"

static inline void env_fini(void);

static inline const char *cli_path(void)
{
	const char *p = getenv("FLOODGATE_CLI");

	return p ? p : "./cli/floodgate";
}

#define ENV_NODES_MAX 3

static struct env {
	char dir[64];
	char seg[ENV_NODES_MAX][64];
	char conf[ENV_NODES_MAX][128];
	char sock[ENV_NODES_MAX][160];
	pid_t pid[ENV_NODES_MAX];
	int nodes; /* with keys in the keyring: 2, or 3 */
	int port0;
} E;

/* ------------------------------------------------------------- running */

/* Run floodgate with the NULL-terminated arguments; capture everything. */
static inline struct run cli(const char *arg, ...)
{
	const char *argv[32] = {"floodgate"};
	va_list ap;
	int n = 1;

	va_start(ap, arg);
	for (; arg != NULL && n < 31; arg = va_arg(ap, const char *))
		argv[n++] = arg;
	va_end(ap);
	return run_program(cli_path(), argv, E.dir, 0);
}

/* ---------------------------------------------------------------- JSON */

/* A strict RFC 8259 checker: 1 if @s is exactly one valid JSON value. */
static inline const char *j_value(const char *s, int depth);

static inline const char *j_ws(const char *s)
{
	while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
		s++;
	return s;
}

static inline const char *j_string(const char *s)
{
	if (*s++ != '"')
		return NULL;
	for (;;) {
		unsigned char ch = (unsigned char)*s++;

		if (ch == '"')
			return s;
		if (ch < 0x20)
			return NULL; /* bytes from 0x80 on: UTF-8 text */
		if (ch == '\\') {
			ch = (unsigned char)*s++;
			if (ch == 'u') {
				int i;

				for (i = 0; i < 4; i++, s++)
					if (!strchr("0123456789abcdefABCDEF",
					            *s) ||
					    *s == '\0')
						return NULL;
			} else if (!strchr("\"\\/bfnrt", ch) || ch == '\0') {
				return NULL;
			}
		}
	}
}

static inline const char *j_number(const char *s)
{
	const char *d;

	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		while (*s >= '0' && *s <= '9')
			s++;
	else
		return NULL;
	if (*s == '.') {
		d = ++s;
		while (*s >= '0' && *s <= '9')
			s++;
		if (s == d)
			return NULL;
	}
	return s;
}

static inline const char *j_seq(const char *s, int depth, char close, int obj)
{
	s = j_ws(s);
	if (*s == close)
		return s + 1;
	for (;;) {
		if (obj) {
			s = j_string(j_ws(s));
			if (s == NULL || *(s = j_ws(s)) != ':')
				return NULL;
			s++;
		}
		s = j_value(s, depth + 1);
		if (s == NULL)
			return NULL;
		s = j_ws(s);
		if (*s == close)
			return s + 1;
		if (*s++ != ',')
			return NULL;
	}
}

static inline const char *j_value(const char *s, int depth)
{
	if (depth > 32)
		return NULL;
	s = j_ws(s);
	switch (*s) {
	case '{':
		return j_seq(s + 1, depth, '}', 1);
	case '[':
		return j_seq(s + 1, depth, ']', 0);
	case '"':
		return j_string(s);
	case 't':
		return strncmp(s, "true", 4) ? NULL : s + 4;
	case 'f':
		return strncmp(s, "false", 5) ? NULL : s + 5;
	case 'n':
		return strncmp(s, "null", 4) ? NULL : s + 4;
	default:
		return j_number(s);
	}
}

static inline void assert_json(const char *s)
{
	const char *end = j_value(s, 0);

	cr_assert(end != NULL && *j_ws(end) == '\0', "not valid JSON: %s", s);
}

/* -------------------------------------------------------------- daemons */

static inline void env_init(int nodes)
{
	int i;

	memset(&E, 0, sizeof E);
	snprintf(E.dir, sizeof E.dir, "/tmp/fg-cli-XXXXXX");
	cr_assert_not_null(mkdtemp(E.dir));
	E.port0 = fgt_ports(ENV_NODES_MAX);
	E.nodes = nodes > 2 ? nodes : 2;
	cr_assert_leq(E.nodes, ENV_NODES_MAX);
	for (i = 0; i < ENV_NODES_MAX; i++) {
		snprintf(E.seg[i], sizeof E.seg[i], "fg-cli-%d-%d", i,
		         (int)getpid());
		snprintf(E.conf[i], sizeof E.conf[i], "%s/n%d.conf", E.dir, i);
		snprintf(E.sock[i], sizeof E.sock[i], "/dev/shm/%s.sock",
		         E.seg[i]);
	}
	if (nodes > 0)
		make_node_keys(E.dir, E.nodes);
}

#define RULES                                                                  \
	"rule api capacity 5 rate 1/1h scope global\n"                         \
	"rule login capacity 3 rate 3/1h on-full closed\n"                     \
	"rule wide capacity 1000000 rate 1000000/1s\n"

/* Node @i's config, @extra appended; with @npeers, every other node of
 * the keyring is its peer. */
static inline void write_conf(int i, int npeers, const char *extra)
{
	char text[2048];
	int off, j;

	off = snprintf(text, sizeof text,
	               "segment %s\ncapacity 4096\nnode-key %s/n%d.key\n"
	               "keyring %s/keyring\nlisten 127.0.0.1:%d\n"
	               "interval 50ms\n" RULES "%s",
	               E.seg[i], E.dir, i, E.dir, E.port0 + i, extra);
	for (j = 0; npeers && j < E.nodes; j++)
		if (j != i)
			off += snprintf(text + off, sizeof text - (size_t)off,
			                "peer 127.0.0.1:%d\n", E.port0 + j);
	write_file(E.conf[i], text);
}

/* floodgated -f -c @conf, its stderr appended to @log; killed with us. */
static inline pid_t daemon_start_logged(const char *conf, const char *log)
{
	pid_t p = fork();

	cr_assert_geq(p, 0);
	if (p == 0) {
		if (!freopen(log, "a", stderr))
			_exit(126);
		/* a test that fails half-way must not leave daemons behind */
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(daemon_path(), "floodgated", "-f", "-c", conf,
		      (char *)NULL);
		_exit(127);
	}
	return p;
}

/* A daemon that must refuse to start: its exit status. */
static inline int daemon_refuses(const char *conf, const char *log)
{
	pid_t p = daemon_start_logged(conf, log);
	int st;

	cr_assert_eq(waitpid(p, &st, 0), p);
	cr_assert(WIFEXITED(st), "status %#x", st);
	return WEXITSTATUS(st);
}

/* A daemon on @conf refuses to start (exit 1), logging @why to @log. */
static inline void refused_saying(const char *conf, const char *log,
                                  const char *why)
{
	char *text;

	cr_assert_eq(daemon_refuses(conf, log), 1);
	text = slurp(log);
	cr_assert(strstr(text, why) != NULL, "%s", text);
	free(text);
}

/* Start node @i and wait until its control socket answers. */
static inline void start(int i)
{
	char log[160];
	uint64_t t0 = fg__now_ns();
	pid_t p;

	snprintf(log, sizeof log, "%s/n%d.log", E.dir, i);
	p = daemon_start_logged(E.conf[i], log);
	E.pid[i] = p;
	for (;;) {
		char *reply = NULL;

		if (fgd_ctl_request(E.sock[i], "status", &reply) == 0) {
			free(reply);
			return;
		}
		cr_assert_eq(waitpid(p, NULL, WNOHANG), 0,
		             "floodgated %d exited (see %s)", i, log);
		cr_assert_lt(fg__now_ns() - t0, 10000000000ull,
		             "floodgated %d did not come up (see %s)", i, log);
		usleep(10000);
	}
}

/* SIGTERM; its wait status (0 when it was not running). */
static inline int stop_status(int i)
{
	int st = 0;

	if (E.pid[i] <= 0)
		return 0;
	kill(E.pid[i], SIGTERM);
	if (waitpid(E.pid[i], &st, 0) != E.pid[i])
		st = -1;
	E.pid[i] = 0;
	return st;
}

/* The daemon must exit 0 (and clean: a sanitizer's report would make it
 * exit otherwise). */
static inline void stop(int i)
{
	int st = stop_status(i);

	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	          "floodgated %d: status %#x (see %s/n%d.log)", i, st, E.dir,
	          i);
}

static inline void env_fini(void)
{
	char cmd[256];
	int i, st[ENV_NODES_MAX];

	if (E.dir[0] == '\0')
		return; /* nothing made, or already removed */
	for (i = 0; i < ENV_NODES_MAX; i++) {
		st[i] = stop_status(i);
		(void)fg_unlink(E.seg[i]);
		test_unlink_state(E.seg[i]);
		unlink(E.sock[i]);
	}
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", E.dir);
	E.dir[0] = '\0';
	cr_assert_eq(system(cmd), 0);
	for (i = 0; i < ENV_NODES_MAX; i++)
		cr_assert(WIFEXITED(st[i]) && WEXITSTATUS(st[i]) == 0,
		          "floodgated %d: status %#x", i, st[i]);
}

/* Two nodes that gossip with each other, both running. */
static inline void two_up(void)
{
	env_init(2);
	write_conf(0, 1, "");
	write_conf(1, 1, "");
	start(0);
	start(1);
}

/* One node, gossip on, no peers; its segment and socket by default. */
static inline void one_up(void)
{
	env_init(1);
	write_conf(0, 0, "");
	start(0);
}

static char nobody_dir[64];

static inline void nobody_cli(char *path, size_t len)
{
	cli_copy_for_others(nobody_dir, sizeof nobody_dir, path, len);
}

static inline void nobody_cli_remove(void)
{
	char path[96];

	snprintf(path, sizeof path, "%s/floodgate", nobody_dir);
	(void)unlink(path);
	(void)rmdir(nobody_dir);
}

static char nobody_path[96];

/* Run floodgate as nobody (uid and gid 65534): its exit status; its
 * stderr is in E.dir/nobody.err. */
static inline int as_nobody(const char *cmd, const char *a1, const char *a2)
{
	char errpath[96];
	int st, fd, efd;
	pid_t p;

	snprintf(errpath, sizeof errpath, "%s/nobody.err", E.dir);
	p = fork();
	cr_assert_geq(p, 0);
	if (p == 0) {
		efd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (efd < 0 || setgid(65534) != 0 || setuid(65534) != 0)
			_exit(120);
		fd = open("/dev/null", O_WRONLY);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(efd, 2) < 0)
			_exit(121);
		execl(nobody_path, "floodgate", "-s", E.seg[0], cmd, a1, a2,
		      (char *)NULL);
		_exit(127);
	}
	cr_assert_eq(waitpid(p, &st, 0), p);
	cr_assert(WIFEXITED(st), "status %#x", st);
	return WEXITSTATUS(st);
}

static inline int contains_soon(const char *needle, int node, const char *cmd,
                                const char *a1, const char *a2)
{
	uint64_t t0 = fg__now_ns();

	for (;;) {
		struct run r = cli("-s", E.seg[node], cmd, a1, a2, NULL);
		int ok = r.status == 0 && strstr(r.out, needle) != NULL;

		run_free(&r);
		if (ok)
			return 1;
		if (fg__now_ns() - t0 > 10000000000ull)
			return 0;
		usleep(50000);
	}
}

#endif
