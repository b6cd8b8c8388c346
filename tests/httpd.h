/* SPDX-License-Identifier: ISC */
/*
 * httpd.h - the HTTP endpoint's tests' fixture: a real floodgated started
 * from the built binary with an http directive, asked by a real HTTP
 * client (curl, for status, headers and body) and by raw TCP sockets for
 * what a client library would refuse to send.  Each test runs its own
 * daemon on its own segment (HTTPD_SEG_PREFIX-PID, by default
 * "fg-http-PID") and on two ports of tests/ports.h, and removes what it
 * made.
 */
#ifndef FG_TESTS_HTTPD_H
#define FG_TESTS_HTTPD_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/client.h"
#include "tests/cluster.h"
#include "tests/helpers.h"
#include "tests/ports.h"

/* The segment's name: PREFIX-PID. */
#ifndef HTTPD_SEG_PREFIX
#define HTTPD_SEG_PREFIX "fg-http"
#endif

static struct {
	char dir[64];
	char seg[64];
	char host[64]; /* the endpoint's address, as in a URL */
	int http_port, gossip_port;
	pid_t pid;
	fg_client *fg;
} D;

static inline uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A TCP connection to the endpoint (IPv4) from source address @from
 * (NULL: the kernel's choice, 127.0.0.1), or -1 with errno. */
static inline int tcp_connect_from(const char *from)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons((uint16_t)D.http_port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_in src = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if ((from != NULL &&
	     (inet_pton(AF_INET, from, &src.sin_addr) != 1 ||
	      bind(fd, (struct sockaddr *)&src, sizeof src) != 0)) ||
	    connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static inline int tcp_connect(void)
{
	int fd = tcp_connect_from(NULL);

	cr_assert_geq(fd, 0, "connect: %s", strerror(errno));
	return fd;
}

/* 1 when the server has closed @fd (EOF or reset) within @ms, with no
 * answer sent; 0 when it is still open then.  An answer fails the test. */
static inline int closed_within(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char buf[256];
	ssize_t n;

	if (poll(&p, 1, ms) != 1)
		return 0;
	n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
	cr_assert_leq(n, 0, "the connection got an answer: %.*s", (int)n, buf);
	return 1;
}

/* ------------------------------------------------------------ curl */

struct resp {
	int status; /* 0: no HTTP answer */
	char raw[65536];
	const char *body;
};

/* What "curl -s --max-time 5 @args" prints, in @out (NUL-terminated). */
static inline void curl(const char *args, char *out, size_t cap)
{
	char cmd[8192];
	FILE *f;
	size_t n;

	snprintf(cmd, sizeof cmd, "curl -s --max-time 5 %s 2>/dev/null", args);
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	n = fread(out, 1, cap - 1, f);
	out[n] = '\0';
	(void)pclose(f);
}

static inline void parse_resp(struct resp *r)
{
	r->status = 0;
	if (sscanf(r->raw, "HTTP/1.%*d %d", &r->status) != 1)
		r->status = 0;
	r->body = strstr(r->raw, "\r\n\r\n");
	r->body = r->body ? r->body + 4 : "";
}

/* curl -i for @method @path; the status, headers and body.  (A HEAD is
 * curl -I: curl -X HEAD would wait for a body.) */
static inline void http(struct resp *r, const char *method, const char *path)
{
	char args[4096];

	const char *v6 = strchr(D.host, ':');

	if (strcmp(method, "HEAD") == 0)
		snprintf(args, sizeof args, "-g -I 'http://%s%s%s:%d%s'",
		         v6 ? "[" : "", D.host, v6 ? "]" : "", D.http_port,
		         path);
	else
		snprintf(args, sizeof args, "-g -i -X %s 'http://%s%s%s:%d%s'",
		         method, v6 ? "[" : "", D.host, v6 ? "]" : "",
		         D.http_port, path);
	curl(args, r->raw, sizeof r->raw);
	parse_resp(r);
}

static inline void get(struct resp *r, const char *path)
{
	http(r, "GET", path);
}

static inline void post(struct resp *r, const char *path)
{
	http(r, "POST", path);
}

/* The value of header @name (case-insensitive), or NULL. */
static inline const char *header(const struct resp *r, const char *name)
{
	static char v[256];
	const char *p = strstr(r->raw, "\r\n"),
	           *end = strstr(r->raw, "\r\n\r\n");
	size_t n = strlen(name);

	while (p && end && p < end) {
		p += 2;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *e = strstr(p, "\r\n");

			p += n + 1;
			p += strspn(p, " ");
			snprintf(v, sizeof v, "%.*s", (int)(e - p), p);
			return v;
		}
		p = strstr(p, "\r\n");
	}
	return NULL;
}

static inline long header_num(const struct resp *r, const char *name)
{
	const char *v = header(r, name);

	cr_assert_not_null(v, "no %s header in:\n%s", name, r->raw);
	return strtol(v, NULL, 10);
}

/* ---------------------------------------------------------- daemon */

/* DIR/fg.conf: the daemon's config, its endpoint on @port of D.host with
 * the http directive's options @opts. */
static inline void write_conf(const char *opts, const char *rules, int port)
{
	char conf[128], text[2048];

	snprintf(text, sizeof text,
	         "segment %s\ncapacity 1000\nnode-key %s/n0.key\n"
	         "keyring %s/keyring\nlisten 127.0.0.1:%d\n"
	         "http %s%s%s:%d %s\n%s",
	         D.seg, D.dir, D.dir, D.gossip_port,
	         strchr(D.host, ':') ? "[" : "", D.host,
	         strchr(D.host, ':') ? "]" : "", port, opts, rules);
	snprintf(conf, sizeof conf, "%s/fg.conf", D.dir);
	write_file(conf, text);
}

/* Start floodgated with "http HOST:PORT @opts" and @rules, its endpoint
 * on @host (NULL: 127.0.0.1; an IPv6 address without brackets); wait
 * until /healthz answers. */
static inline void start_on(const char *host, const char *opts,
                            const char *rules)
{
	char conf[128], log[128];
	uint64_t t0;
	struct resp r;
	pid_t p;

	memset(&D, 0, sizeof D);
	snprintf(D.host, sizeof D.host, "%s", host ? host : "127.0.0.1");
	snprintf(D.dir, sizeof D.dir, "/tmp/fg-http-XXXXXX");
	cr_assert_not_null(mkdtemp(D.dir));
	snprintf(D.seg, sizeof D.seg, HTTPD_SEG_PREFIX "-%d", (int)getpid());
	D.gossip_port = fgt_ports(2);
	D.http_port = D.gossip_port + 1;
	make_node_keys(D.dir, 1);
	write_conf(opts, rules, D.http_port);
	snprintf(conf, sizeof conf, "%s/fg.conf", D.dir);
	snprintf(log, sizeof log, "%s/fg.log", D.dir);
	p = fgc_spawn(daemon_path(), conf, log, SIGKILL, 0);
	cr_assert_geq(p, 0, "fork");
	D.pid = p;
	t0 = now_ms();
	for (;;) {
		get(&r, "/healthz");
		if (r.status == 200)
			break;
		cr_assert_lt(now_ms() - t0, 10000,
		             "floodgated did not answer (see %s)", log);
		usleep(20000);
	}
	cr_assert_eq(fg_open(D.seg, 0, &D.fg), 0);
}

static inline void stop(void)
{
	char cmd[512];
	int status;

	if (D.pid > 0) {
		kill(D.pid, SIGTERM);
		waitpid(D.pid, &status, 0);
		cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		          "floodgated exited with status %#x", status);
	}
	fg_close(D.fg);
	fg_unlink(D.seg);
	test_unlink_state(D.seg);
	snprintf(cmd, sizeof cmd, "rm -rf %s /dev/shm/%s.sock", D.dir, D.seg);
	if (system(cmd) != 0)
		cr_log_warn("cleanup failed: %s", cmd);
}

/* Tokens left in a bucket, without taking any. */
static inline int64_t left(const char *rule, const char *key)
{
	int64_t n = 0;

	cr_assert_eq(fg__peek(D.fg, rule, key, strlen(key), &n), 0);
	return n;
}

#endif
