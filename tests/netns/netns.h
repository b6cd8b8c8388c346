/* SPDX-License-Identifier: ISC */
/*
 * netns.h - N network namespaces joined by the relay, for a Criterion
 * test that runs as root (test_netns.c).
 *
 * fgn_net_up() makes a private directory /tmp/fg-netns-PID-XXXXXX, the
 * namespaces fg-netns-PID-K with `ip netns add`, and starts the relay
 * ($FG_NETNS_RELAY, else ./tests/netns/relay) on them with its control
 * socket in the directory, and waits (bounded) for its "ready": from then
 * on node K is 10.77.0.(K+1) in namespace K, and links are clean until the
 * test impairs them with fgn_net_do("set ...").  A child enters node K's
 * namespace with fgn_net_enter().  fgn_net_down() stops the relay, copies
 * its final counters into the test's log, deletes the namespaces and the
 * directory.
 *
 * Where namespaces cannot be made (not root, no /dev/net/tun, no ip(8)),
 * fgn_net_up() skips the test with a TAP SKIP and the reason, also on
 * stderr, or fails it when FG_NETNS_REQUIRED=1 (CI sets it).
 *
 * Every name carries the test's pid, so that concurrent runs never touch
 * each other's, and what a killed run left (a name whose pid is gone) is
 * swept before a new one starts.  Children die with the test
 * (PR_SET_PDEATHSIG); the relay also stops by itself after FGN_RELAY_MAX_S.
 */
#ifndef FGN_NETNS_H
#define FGN_NETNS_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/control.h"
#include "shm/clock.h"

#define FGN_NODES       5 /* at most */
#define FGN_PREFIX      "fg-netns-"
#define FGN_WAIT_S      30  /* bound on any wait */
#define FGN_RELAY_MAX_S 300 /* the relay's -t */

/* A line on stderr, which make check keeps in the test's log: Criterion's
 * TAP output drops its info messages, and a warning makes it exit 1. */
#define fgn_say(...)                                                           \
	do {                                                                   \
		fprintf(stderr, "test_netns: " __VA_ARGS__);                   \
		fputc('\n', stderr);                                           \
	} while (0)

struct fgn_net {
	int n;
	char dir[64];
	char ns[FGN_NODES][32]; /* "": not made */
	char sock[96];          /* the relay's control socket */
	pid_t relay;
	uint64_t seed;
};

/* ------------------------------------------------------------ processes */

static inline const char *fgn_ip_path(void)
{
	static const char *const where[] = {"/usr/sbin/ip", "/sbin/ip",
	                                    "/usr/bin/ip", "/bin/ip"};
	size_t i;

	for (i = 0; i < sizeof where / sizeof *where; i++)
		if (access(where[i], X_OK) == 0)
			return where[i];
	return NULL;
}

/* In a child: die with the test; enter node @k's namespace (k >= 0). */
static inline void fgn_net_enter(const struct fgn_net *net, int k)
{
	char path[64];
	int fd;

	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(126); /* the test is gone already */
	if (k < 0)
		return;
	snprintf(path, sizeof path, "/run/netns/%s", net->ns[k]);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) != 0)
		_exit(125);
	close(fd);
}

/* In a child: stdout and stderr to @log (appended). */
static inline void fgn_log_to(const char *log)
{
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
}

/* `ip netns ADD|DEL NAME`, its output in DIR/ip.log; its exit status. */
static inline int fgn_ip_netns(const struct fgn_net *net, const char *verb,
                               const char *name)
{
	const char *ip = fgn_ip_path();
	char log[128];
	int status;
	pid_t p;

	if (ip == NULL)
		return -1;
	snprintf(log, sizeof log, "%s/ip.log", net->dir);
	p = fork();
	cr_assert_geq(p, 0);
	if (p == 0) {
		fgn_log_to(net->dir[0] ? log : "/dev/null");
		fgn_net_enter(net, -1);
		execl(ip, "ip", "netns", verb, name, (char *)NULL);
		_exit(127);
	}
	if (waitpid(p, &status, 0) != p)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* SIGNAL @p and reap it; its wait status (0 when there was none). */
static inline int fgn_stop(pid_t *p, int sig)
{
	int status = 0;

	if (*p <= 0)
		return 0;
	kill(*p, sig);
	if (waitpid(*p, &status, 0) != *p)
		status = -1;
	*p = 0;
	return status;
}

/* ------------------------------------------------------------- leftovers */

static inline int fgn_rm_one(const char *path, const struct stat *st, int flag,
                             struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* A name fg-netns-PID-... whose PID is gone. */
static inline int fgn_orphan(const char *name)
{
	long pid;

	if (strncmp(name, FGN_PREFIX, strlen(FGN_PREFIX)) != 0)
		return 0;
	pid = strtol(name + strlen(FGN_PREFIX), NULL, 10);
	return pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* What killed runs left: namespaces, segments (with the files beside
 * them: .state, .state-local, .state-remote), directories.  Only what we own
 * and could have made: /tmp and /dev/shm are anyone's, and a directory tree is
 * removed only when nobody else could have written in it. */
static inline void fgn_sweep(const struct fgn_net *net)
{
	static const char *const dirs[] = {"/run/netns", "/dev/shm", "/tmp"};
	char path[PATH_MAX];
	struct dirent *d;
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof dirs / sizeof *dirs; i++) {
		DIR *dir = opendir(dirs[i]);

		while (dir && (d = readdir(dir)) != NULL) {
			if (!fgn_orphan(d->d_name))
				continue;
			snprintf(path, sizeof path, "%s/%s", dirs[i],
			         d->d_name);
			if (lstat(path, &st) != 0 || st.st_uid != geteuid())
				continue;
			fgn_say("removing %s, left by a killed run", path);
			if (i == 0)
				(void)fgn_ip_netns(net, "del", d->d_name);
			else if (S_ISREG(st.st_mode))
				(void)unlink(path);
			else if (S_ISDIR(st.st_mode) && !(st.st_mode & 077))
				(void)nftw(path, fgn_rm_one, 8,
				           FTW_DEPTH | FTW_PHYS);
		}
		if (dir)
			closedir(dir);
	}
}

/* ---------------------------------------------------------- can we run? */

/* Skip, loudly, or fail where namespaces are required. */
static inline void fgn_cannot(const char *why)
{
	const char *req = getenv("FG_NETNS_REQUIRED");

	if (req && strcmp(req, "1") == 0)
		cr_assert_fail("no network namespaces here, and "
		               "FG_NETNS_REQUIRED=1: %s",
		               why);
	fprintf(stderr, "test_netns: SKIP: no network namespaces here: %s\n",
	        why);
	cr_skip_test("no network namespaces here: %s", why);
}

static inline void fgn_check_can(void)
{
	int fd;

	if (geteuid() != 0)
		fgn_cannot("not root (network namespaces and TUN devices "
		           "need CAP_SYS_ADMIN and CAP_NET_ADMIN)");
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		char why[128];

		snprintf(why, sizeof why, "/dev/net/tun: %s", strerror(errno));
		fgn_cannot(why);
	}
	close(fd);
	if (fgn_ip_path() == NULL)
		fgn_cannot("no ip(8) (Debian: apt-get install iproute2)");
}

/* ----------------------------------------------------------------- relay */

/* Send @cmd to the relay: its reply (malloc'ed), which must be "ok". */
static inline char *fgn_net_cmd(const struct fgn_net *net, const char *cmd)
{
	char *reply = NULL;
	int r = fgd_ctl_request(net->sock, cmd, &reply);

	cr_assert_eq(r, 0, "relay %s: %s", cmd, strerror(-r));
	cr_assert(strncmp(reply, "ok\n", 3) == 0, "relay %s: %s", cmd, reply);
	return reply;
}

static inline void fgn_net_do(const struct fgn_net *net, const char *cmd)
{
	free(fgn_net_cmd(net, cmd));
}

static inline void fgn_relay_start(struct fgn_net *net)
{
	const char *path = getenv("FG_NETNS_RELAY");
	char log[128], seed[32], life[16], fd3[] = "3", buf[8] = "";
	const char *argv[10 + FGN_NODES];
	int pfd[2], k, a = 0;
	struct pollfd p;

	path = path ? path : "./tests/netns/relay";
	snprintf(log, sizeof log, "%s/relay.log", net->dir);
	snprintf(seed, sizeof seed, "%#" PRIx64, net->seed);
	snprintf(life, sizeof life, "%d", FGN_RELAY_MAX_S);
	argv[a++] = "relay";
	argv[a++] = "-s";
	argv[a++] = seed;
	argv[a++] = "-c";
	argv[a++] = net->sock;
	argv[a++] = "-t";
	argv[a++] = life;
	argv[a++] = "-r";
	argv[a++] = fd3;
	for (k = 0; k < net->n; k++)
		argv[a++] = net->ns[k];
	argv[a] = NULL;
	cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
	net->relay = fork();
	cr_assert_geq(net->relay, 0);
	if (net->relay == 0) {
		fgn_log_to(log);
		dup2(pfd[1], 3); /* without close-on-exec */
		fgn_net_enter(net, -1);
		execv(path, (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	p = (struct pollfd){.fd = pfd[0], .events = POLLIN};
	(void)poll(&p, 1, FGN_WAIT_S * 1000);
	cr_assert_eq(read(pfd[0], buf, sizeof buf - 1), 6,
	             "the relay %s did not come up (see %s)", path, log);
	close(pfd[0]);
}

/* --------------------------------------------------------------- up/down */

/* @n namespaces joined by a relay with clean links; @net->dir is the
 * test's private directory.  The seed is $FG_NETNS_SEED, else new. */
static inline void fgn_net_up(struct fgn_net *net, int n)
{
	const char *env = getenv("FG_NETNS_SEED");
	int k;

	memset(net, 0, sizeof *net);
	fgn_check_can();
	fgn_sweep(net);
	net->n = n;
	net->seed = env ? strtoull(env, NULL, 0)
	                : fg__now_ns() ^ (uint64_t)getpid() << 32;
	snprintf(net->dir, sizeof net->dir, "/tmp/" FGN_PREFIX "%d-XXXXXX",
	         (int)getpid());
	cr_assert_not_null(mkdtemp(net->dir));
	snprintf(net->sock, sizeof net->sock, "%s/relay.sock", net->dir);
	for (k = 0; k < n; k++) {
		snprintf(net->ns[k], sizeof net->ns[k], FGN_PREFIX "%d-%d",
		         (int)getpid(), k);
		if (fgn_ip_netns(net, "add", net->ns[k]) != 0) {
			net->ns[k][0] = '\0';
			fgn_cannot("ip netns add failed");
		}
	}
	fgn_relay_start(net);
}

/* Idempotent.  FG_NETNS_KEEP=1 keeps the directory and its logs. */
static inline void fgn_net_down(struct fgn_net *net)
{
	char log[128], line[512];
	FILE *f;
	int k;

	fgn_stop(&net->relay, SIGTERM);
	if (net->dir[0] == '\0')
		return;
	/* the relay's final counters, into the test's log */
	snprintf(log, sizeof log, "%s/relay.log", net->dir);
	f = fopen(log, "r");
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, "link ", 5) != 0)
			fgn_say("%s%s",
			        strncmp(line, "relay", 5) ? "relay: " : "",
			        strtok(line, "\n"));
	if (f)
		fclose(f);
	for (k = 0; k < net->n; k++)
		if (net->ns[k][0])
			(void)fgn_ip_netns(net, "del", net->ns[k]);
	if (getenv("FG_NETNS_KEEP"))
		fgn_say("FG_NETNS_KEEP: logs kept in %s", net->dir);
	else
		(void)nftw(net->dir, fgn_rm_one, 8, FTW_DEPTH | FTW_PHYS);
	memset(net, 0, sizeof *net);
}

#endif
