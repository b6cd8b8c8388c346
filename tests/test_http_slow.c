/* SPDX-License-Identifier: ISC */
/*
 * test_http_slow.c - floodgated's HTTP endpoint under slow and many
 * clients (tests/httpd.h): a request's deadline is absolute however its
 * bytes trickle, one address holds a bounded number of connections, and a
 * well-behaved client is served while 500 slowloris connections and
 * 10,000 connection attempts hit the endpoint.  Everything runs on
 * loopback (127.0.0.0/8 lends the attackers their addresses), is bounded,
 * and stops by itself; the IPv6 test makes its addresses in a network
 * namespace of its own.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "tests/httpd.h"

#define RULES "rule api capacity 1000000 rate 1000000/1s default\n"

TestSuite(http_slow, .timeout = 120);

/* Send @s; 0, or -1 once the server has closed. */
static int send_all(int fd, const char *s)
{
	size_t n = strlen(s), off = 0;

	while (off < n) {
		ssize_t k = send(fd, s + off, n - off, MSG_NOSIGNAL);

		if (k <= 0)
			return -1;
		off += (size_t)k;
	}
	return 0;
}

/* Read one answer (headers, then Content-Length bytes) within 2 s; its
 * status, 0 if the connection closed or nothing came. */
static int read_answer(int fd)
{
	char buf[8192];
	size_t got = 0;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int status = 0;

	while (got < sizeof buf - 1 && poll(&p, 1, 2000) == 1) {
		const char *end, *cl;
		ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);

		if (n <= 0)
			return 0;
		got += (size_t)n;
		buf[got] = '\0';
		end = strstr(buf, "\r\n\r\n");
		cl = strcasestr(buf, "\r\nContent-Length: ");
		if (end != NULL && cl != NULL &&
		    got >= (size_t)(end + 4 - buf) + strtoul(cl + 18, NULL, 10))
			break;
	}
	if (sscanf(buf, "HTTP/1.1 %d", &status) != 1)
		status = 0;
	return status;
}

/* floodgate_http_connections_dropped_total{reason="@why"}, as /metrics
 * says now. */
static long dropped(const char *why)
{
	static struct resp r; /* 64 KiB */
	char want[128];
	const char *p;

	get(&r, "/metrics");
	snprintf(want, sizeof want,
	         "floodgate_http_connections_dropped_total{reason=\"%s\"} ",
	         why);
	p = strstr(r.body, want);
	cr_assert_not_null(p, "no %s in /metrics", want);
	return strtol(p + strlen(want), NULL, 10);
}

/* ---------------------------------------------------------- deadline */

/* A byte every 200 ms keeps libmicrohttpd's inactivity timer from ever
 * firing: the deadline does not care. */
Test(http_slow, a_request_trickled_a_byte_at_a_time_is_closed_at_its_deadline)
{
	uint64_t t0, took;
	int fd, closed = 0;

	start_on(NULL, "timeout 1s", RULES);
	fd = tcp_connect();
	t0 = now_ms();
	cr_assert_eq(send_all(fd, "GET /healthz HTTP/1.1\r\nX-Slow: "), 0);
	while (!closed && now_ms() - t0 < 5000)
		closed = closed_within(fd, 200) || send_all(fd, "a") != 0;
	took = now_ms() - t0;
	cr_log_info("trickled request closed after %llu ms",
	            (unsigned long long)took);
	cr_assert(closed, "a trickling request still open after %llu ms",
	          (unsigned long long)took);
	cr_expect_geq(took, 900, "closed after %llu ms, before its deadline",
	              (unsigned long long)took);
	cr_expect_leq(took, 1500, "closed %llu ms after it opened",
	              (unsigned long long)took);
	cr_expect_eq(dropped("deadline"), 1,
	             "the metric counts the one closed");
	cr_expect_eq(dropped("per-address"), 0);
	close(fd);
	stop();
}

/* The clock starts again when an answer has gone out: a kept-alive client
 * asking every 600 ms is served for as long as it likes, and closed once
 * it has been silent for the deadline. */
Test(http_slow, each_request_of_a_kept_alive_connection_has_its_own_deadline)
{
	uint64_t t0, took;
	int fd, i;

	start_on(NULL, "timeout 1s", RULES);
	fd = tcp_connect();
	t0 = now_ms();
	for (i = 0; i < 4; i++) {
		cr_assert_eq(send_all(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n"
		                          "\r\n"),
		             0, "request %d: closed after %llu ms", i,
		             (unsigned long long)(now_ms() - t0));
		cr_assert_eq(read_answer(fd), 200, "request %d", i);
		t0 = now_ms();
		usleep(600000);
	}
	/* 2.4 s on one connection, then silence */
	cr_assert(closed_within(fd, 2000), "the idle connection stayed open");
	took = now_ms() - t0;
	cr_log_info("idle after its answer: closed after %llu ms",
	            (unsigned long long)took);
	cr_expect_geq(took, 900);
	close(fd);
	stop();
}

/* --------------------------------------------------------- addresses */

/* One address may hold per-address connections: one more is closed as
 * soon as it is accepted (not at its deadline), while other addresses
 * are served; a place given back can be taken again. */
Test(http_slow, one_address_holds_at_most_per_address_connections)
{
	char args[256], out[64];
	int fds[3], i;

	start_on(NULL, "timeout 5s connections 8 per-address 2", RULES);
	for (i = 0; i < 3; i++) {
		fds[i] = tcp_connect_from("127.0.0.2");
		cr_assert_geq(fds[i], 0, "connect: %s", strerror(errno));
		cr_assert_eq(send_all(fds[i], "GET /"), 0);
		usleep(50000); /* accepted in this order */
	}
	cr_expect(closed_within(fds[2], 1000),
	          "a third connection from 127.0.0.2 was kept");
	cr_expect(!closed_within(fds[0], 0) && !closed_within(fds[1], 0),
	          "the first two were closed");
	/* others are served at once, even with curl's own address */
	for (i = 1; i <= 3; i += 2) {
		snprintf(
		    args, sizeof args,
		    "--interface 127.0.0.%d -o /dev/null -w '%%{http_code}' "
		    "'http://127.0.0.1:%d/healthz'",
		    i, D.http_port);
		curl(args, out, sizeof out);
		cr_expect_str_eq(out, "200", "from 127.0.0.%d", i);
	}
	/* 127.0.0.2 gives a place back and takes it again */
	close(fds[0]);
	close(fds[2]);
	usleep(100000);
	fds[0] = tcp_connect_from("127.0.0.2");
	cr_assert_geq(fds[0], 0);
	cr_expect(!closed_within(fds[0], 500), "a place given back is lost");
	cr_expect_eq(dropped("per-address"), 1,
	             "the metric counts the one "
	             "refused");
	cr_expect_eq(dropped("displaced"), 0);
	close(fds[0]);
	close(fds[1]);
	stop();
}

/* An IPv6 address of its own is not a new client: a host or site holds
 * a whole /64, so the limit counts /64s. */
Test(http_slow, ipv6_clients_are_counted_by_their_64)
{
	static const char *const addrs[] = {"fd00:f9::1", "fd00:f9::2",
	                                    "fd00:f9::3", "fd00:f9:0:1::2"};
	char cmd[512];
	int fds[3], i;

	if (unshare(CLONE_NEWNET) != 0)
		cr_skip_test("no network namespace (%s): needs root",
		             strerror(errno));
	cr_assert_eq(system("ip link set lo up"), 0);
	for (i = 0; i < 4; i++) {
		snprintf(cmd, sizeof cmd, "ip -6 addr add %s/128 dev lo nodad",
		         addrs[i]);
		if (system(cmd) != 0)
			cr_skip_test("%s failed: no IPv6 here", cmd);
	}
	start_on(addrs[0], "timeout 5s connections 8 per-address 2", RULES);
	for (i = 0; i < 3; i++) {
		struct sockaddr_in6 src = {.sin6_family = AF_INET6},
		                    dst = {.sin6_family = AF_INET6,
		                           .sin6_port =
		                               htons((uint16_t)D.http_port)};

		fds[i] = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
		cr_assert_geq(fds[i], 0);
		/* ::2 and ::3: two addresses, one /64 */
		inet_pton(AF_INET6, addrs[1 + i % 2], &src.sin6_addr);
		inet_pton(AF_INET6, addrs[0], &dst.sin6_addr);
		cr_assert_eq(bind(fds[i], (struct sockaddr *)&src, sizeof src),
		             0, "bind: %s", strerror(errno));
		cr_assert_eq(
		    connect(fds[i], (struct sockaddr *)&dst, sizeof dst), 0,
		    "connect: %s", strerror(errno));
		cr_assert_eq(send_all(fds[i], "GET /"), 0);
		usleep(50000);
	}
	cr_expect(closed_within(fds[2], 1000),
	          "a third connection from the same /64 was kept");
	cr_expect(!closed_within(fds[0], 0) && !closed_within(fds[1], 0));
	/* another /64 is another client */
	snprintf(cmd, sizeof cmd,
	         "curl -s -g --max-time 5 --interface %s -o /dev/null "
	         "-w '%%{http_code}' 'http://[%s]:%d/healthz' | grep -qx 200",
	         addrs[3], addrs[0], D.http_port);
	cr_expect_eq(system(cmd), 0, "%s", cmd);
	for (i = 0; i < 3; i++)
		close(fds[i]);
	stop();
}

/* ------------------------------------------------------------ attack */

#define SLOW_CONNS  500   /* slowloris connections kept open */
#define SLOW_ADDRS  40    /* from 127.0.0.10.., 10 each ... */
#define SLOW_ONE    100   /* ... and these from 127.0.0.9 alone */
#define SLOW_GAP_MS 3000  /* one byte every 3 s */
#define FLOOD       10000 /* connection attempts, each reset at once */
#define FLOOD_PAR   200   /* in flight at most */
#define FLOOD_ADDRS 10    /* from 127.0.1.1.. */
#define ATTACK_MS   9000  /* then the attacker exits by itself */
#define BOUND_MS    3000  /* a well-behaved client's request, at most */

struct attack_figures {
	unsigned slow_connects; /* slowloris connections made (reconnects) */
	unsigned slow_closed;   /* ... that the server closed */
	unsigned flood_done;    /* connection attempts completed */
	unsigned flood_failed;  /* ... refused or timed out at connect */
};

struct sock {
	int fd;
	int flood;        /* a flood attempt, else a slowloris connection */
	uint64_t next_ms; /* slowloris: next byte (or reconnect) */
};

static int attack_connect(const char *from)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons((uint16_t)D.http_port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_in src = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	inet_pton(AF_INET, from, &src.sin_addr);
	if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0 ||
	    (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 &&
	     errno != EINPROGRESS)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void reset_close(int fd)
{
	struct linger l = {.l_onoff = 1, .l_linger = 0};

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
	close(fd);
}

static void slow_address(unsigned i, char *out, size_t cap)
{
	if (i < SLOW_ADDRS * 10)
		snprintf(out, cap, "127.0.0.%u", 10 + i / 10);
	else
		snprintf(out, cap, "127.0.0.9");
}

/* (Re)open slowloris connection @i, its request line and first header
 * sent; the rest comes a byte every SLOW_GAP_MS. */
static void slow_open(struct sock *s, unsigned i, uint64_t now,
                      struct attack_figures *f)
{
	char from[32];

	slow_address(i, from, sizeof from);
	s->fd = attack_connect(from);
	s->next_ms = now + (s->fd < 0 ? 100 : 0);
	s->flood = 0;
	if (s->fd >= 0)
		f->slow_connects++;
}

/* One pass over the sockets that poll() found ready or due. */
static void attack_step(struct sock *s, struct pollfd *p, unsigned n,
                        uint64_t now, struct attack_figures *f)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		char b[512];

		if (s[i].flood) {
			if (s[i].fd < 0 || !p[i].revents)
				continue;
			if (p[i].revents & (POLLERR | POLLHUP))
				f->flood_failed++;
			else
				f->flood_done++;
			reset_close(s[i].fd);
			s[i].fd = -1;
			continue;
		}
		if (s[i].fd >= 0 &&
		    (p[i].revents & (POLLIN | POLLERR | POLLHUP)) &&
		    recv(s[i].fd, b, sizeof b, MSG_DONTWAIT) <= 0) {
			close(s[i].fd);
			s[i].fd = -1;
			s[i].next_ms =
			    now + 100; /* reconnect at the next pass */
			f->slow_closed++;
			continue;
		}
		if (now < s[i].next_ms)
			continue;
		if (s[i].fd < 0) {
			static const char start[] =
			    "GET /healthz HTTP/1.1\r\nHost: x\r\nX-a: ";

			slow_open(&s[i], i, now, f);
			if (s[i].fd >= 0)
				(void)send(s[i].fd, start, sizeof start - 1,
				           MSG_NOSIGNAL);
			continue;
		}
		(void)send(s[i].fd, "a", 1, MSG_NOSIGNAL);
		s[i].next_ms = now + SLOW_GAP_MS;
	}
}

/* Start new flood attempts: FLOOD in all, paced over most of the attack,
 * FLOOD_PAR at most in flight, from FLOOD_ADDRS addresses 127.0.1.x. */
static void flood_more(struct sock *s, unsigned n, uint64_t t0, uint64_t now,
                       unsigned *started, struct attack_figures *f)
{
	uint64_t due = (uint64_t)FLOOD * (now - t0) / (ATTACK_MS - 2000);
	unsigned i;

	for (i = 0; i < n && *started < FLOOD && *started < due; i++) {
		char from[32];

		if (s[i].fd >= 0)
			continue;
		snprintf(from, sizeof from, "127.0.1.%u",
		         1 + *started % FLOOD_ADDRS);
		s[i].fd = attack_connect(from);
		s[i].flood = 1;
		if (s[i].fd < 0)
			f->flood_failed++;
		(*started)++;
	}
}

/* The attacker: a child that runs ATTACK_MS and exits, its figures in
 * shared memory. */
static void attacker(struct attack_figures *f)
{
	enum { N = SLOW_CONNS + FLOOD_PAR };
	static struct sock s[N];
	static struct pollfd p[N];
	uint64_t t0 = now_ms(), now;
	unsigned i, started = 0;

	for (i = 0; i < N; i++) {
		s[i].fd = -1;
		s[i].flood = i >= SLOW_CONNS;
	}
	while ((now = now_ms()) - t0 < ATTACK_MS) {
		flood_more(s + SLOW_CONNS, FLOOD_PAR, t0, now, &started, f);
		for (i = 0; i < N; i++) {
			p[i].fd = s[i].fd;
			p[i].events = s[i].flood ? POLLOUT : POLLIN;
			p[i].revents = 0;
		}
		(void)poll(p, N, 10);
		attack_step(s, p, N, now_ms(), f);
	}
	for (i = 0; i < N; i++)
		if (s[i].fd >= 0)
			reset_close(s[i].fd);
	_exit(0);
}

/* One request of the well-behaved client: its time, which must be within
 * BOUND_MS with a 200. */
static uint64_t probe(const char *path)
{
	uint64_t t0 = now_ms(), took;
	struct resp r;

	get(&r, path);
	took = now_ms() - t0;
	cr_expect_eq(r.status, 200, "GET %s during the attack: %s", path,
	             r.status ? r.raw : "no answer");
	cr_expect_leq(took, BOUND_MS, "GET %s took %llu ms during the attack",
	              path, (unsigned long long)took);
	return took;
}

/*
 * The defaults protect: the http line names only the port.  The attack
 * comes from 51 addresses, fewer than the 64 connections: some attacker
 * address then always holds two places or more, and gives one up before
 * a client holding one.  (From more addresses than connections, an
 * attacker can take every place in turn: then only the deadline bounds
 * how long, and the client waits or is evicted.)
 */
Test(http_slow,
     healthz_and_check_are_served_during_500_slowloris_and_10k_connects)
{
	struct attack_figures *f;
	struct rlimit rl;
	uint64_t t0, took, worst = 0, sum = 0;
	unsigned n = 0;
	pid_t pid;
	int status;

	start_on(NULL, "", RULES);
	f = mmap(NULL, sizeof *f, PROT_READ | PROT_WRITE,
	         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(f, MAP_FAILED);
	memset(f, 0, sizeof *f);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096 &&
		    rl.rlim_max >= 4096) {
			rl.rlim_cur = 4096;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
		}
		attacker(f);
	}
	t0 = now_ms();
	usleep(1000000); /* the slowloris connections are in place */
	while (now_ms() - t0 < ATTACK_MS - 1000) {
		took = probe("/healthz");
		took += probe("/check?user_id=good&endpoint=api");
		worst = took > worst ? took : worst;
		sum += took;
		n += 2;
		usleep(200000);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_log_info("attack: %u slowloris connections made (%u closed by "
	            "the server), %u of %u connection attempts completed, "
	            "%u failed; %u probes, worst pair %llu ms, mean %llu ms",
	            f->slow_connects, f->slow_closed, f->flood_done, FLOOD,
	            f->flood_failed, n, (unsigned long long)worst,
	            (unsigned long long)(sum / (n / 2 ? n / 2 : 1)));
	/* the attack was what it says */
	cr_expect_geq(f->slow_connects, SLOW_CONNS);
	cr_expect_eq(f->flood_done + f->flood_failed, FLOOD);
	cr_expect_geq(n, 20, "only %u probes", n);
	munmap(f, sizeof *f);
	stop();
}
