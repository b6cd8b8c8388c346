/* SPDX-License-Identifier: ISC */
/*
 * relay.c - N network namespaces on one impaired IPv4 subnet.
 *
 *   relay [-s SEED] [-c SOCKET] [-r FD] [-q QMAX] [-t SECONDS] NS...
 *   relay ctl SOCKET COMMAND [ARG...]
 *
 * The first form puts a TUN device, FGN_IFNAME, in each namespace NS
 * (node k, counted from 0, gets 10.77.0.(k+1)/24) and forwards the IPv4
 * packets they send to the node whose address they are for, through the
 * link's impairment (impair.h): real kernels at both ends, netem's
 * effects in between, for a kernel that has no netem.  It runs until
 * SIGTERM, SIGINT, the "quit" command or -t SECONDS (600 by default),
 * then prints each link's counters and exits 0 if every packet is
 * accounted for.
 *
 *   -s SEED    the random seed (default: from the clock); printed at the
 *              start so that a run can be replayed
 *   -c SOCKET  listen for commands on this Unix socket (mode 0600)
 *   -r FD      write "ready\n" to descriptor FD, then close it, once the
 *              devices are up and SOCKET listens
 *   -q QMAX    copies held back at most (default 4096), ~1.5 KiB each
 *   -t SECONDS stop after this long (default 600): a relay whose test
 *              died does not linger
 *
 * The second form sends one command and prints the reply; it exits 0 if
 * the relay answered "ok".  The commands are in the table below ("help").
 * A LINKS argument is "all", a node number K (every link to or from K),
 * or "A>B" for the direction from A to B, where A or B may be "*".
 *
 * One thread, one ppoll(): the TUN descriptors, the control socket, and
 * the due time of the next held copy as its timeout.  A command is read
 * and answered at once, and a client that does not send its line within
 * a second is dropped: the control socket is root's and the test's, not
 * the network's.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tests/netns/impair.h"
#include "tests/netns/tun.h"

#define SUBNET  0x0A4D0000u /* 10.77.0.0/24 */
#define PREFIX  24
#define CMD_MAX 256
#define BURST   64 /* packets read from one device per wake-up */

struct relay {
	unsigned n;
	int tun[FGN_MAX_NODES];
	int lfd;
	struct fgn_impair im;
	uint64_t not_ipv4, unroutable;
	int quit;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int send_tun(void *arg, unsigned to, const uint8_t *buf, size_t len)
{
	struct relay *r = arg;

	return write(r->tun[to], buf, len) == (ssize_t)len ? 0 : -1;
}

/* ------------------------------------------------------------- commands */

/* A node number, or "*" (-1), at @s: where it ends, or NULL. */
static const char *node(const char *s, long *v)
{
	char *end;

	if (*s == '*') {
		*v = -1;
		return s + 1;
	}
	if (*s < '0' || *s > '9')
		return NULL;
	*v = strtol(s, &end, 10);
	return end;
}

/* Which links @s names: "all", "K", or "A>B" with A, B a node or "*". */
static int select_links(const struct relay *r, const char *s,
                        int sel[FGN_MAX_NODES][FGN_MAX_NODES])
{
	long a = -1, b = -1, k = -1;
	const char *e = s;
	unsigned i, j;

	if (strcmp(s, "all") == 0) {
		e = "";
	} else if ((e = node(s, &a)) != NULL && *e == '>') {
		e = node(e + 1, &b);
	} else if (e != NULL && a >= 0) {
		k = a; /* K: every link to or from K */
		a = -1;
	}
	if (e == NULL || *e != '\0' || a >= (long)r->n || b >= (long)r->n ||
	    k >= (long)r->n)
		return -1;
	for (i = 0; i < r->n; i++)
		for (j = 0; j < r->n; j++)
			sel[i][j] = i != j && (a < 0 || a == (long)i) &&
			            (b < 0 || b == (long)j) &&
			            (k < 0 || k == (long)i || k == (long)j);
	return 0;
}

/* A percentage (decimals allowed) in ppm, or a duration in ms in us. */
static int parse_scaled(const char *s, double max, double scale, uint32_t *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || !(v >= 0 && v <= max))
		return -1;
	*out = (uint32_t)(v * scale + 0.5);
	return 0;
}

static int set_param(struct fgn_params *p, const char *name, const char *v)
{
	if (strcmp(name, "loss") == 0)
		return parse_scaled(v, 100, FGN_PPM / 100, &p->loss);
	if (strcmp(name, "dup") == 0)
		return parse_scaled(v, 100, FGN_PPM / 100, &p->dup);
	if (strcmp(name, "reorder") == 0)
		return parse_scaled(v, 100, FGN_PPM / 100, &p->reorder);
	if (strcmp(name, "delay") == 0)
		return parse_scaled(v, 60000, 1000, &p->delay_us);
	if (strcmp(name, "jitter") == 0)
		return parse_scaled(v, 60000, 1000, &p->jitter_us);
	return -1;
}

/* All or nothing: every selected link's new settings are checked first. */
static int cmd_set(struct relay *r, int argc, char **argv, FILE *out)
{
	int sel[FGN_MAX_NODES][FGN_MAX_NODES];
	struct fgn_params np[FGN_MAX_NODES][FGN_MAX_NODES];
	unsigned i, j;
	int k;

	if (argc < 4 || argc % 2 || select_links(r, argv[1], sel) != 0)
		return -1;
	for (i = 0; i < r->n; i++)
		for (j = 0; j < r->n; j++) {
			np[i][j] = r->im.link[i][j].p;
			for (k = 2; sel[i][j] && k < argc; k += 2)
				if (set_param(&np[i][j], argv[k],
				              argv[k + 1]) != 0) {
					fprintf(out, "error: bad %s %s\n",
					        argv[k], argv[k + 1]);
					return 1;
				}
			if (np[i][j].jitter_us > np[i][j].delay_us) {
				fprintf(out, "error: jitter over delay\n");
				return 1;
			}
		}
	for (i = 0; i < r->n; i++)
		for (j = 0; j < r->n; j++)
			r->im.link[i][j].p = np[i][j];
	return 0;
}

static int cut_or_heal(struct relay *r, const char *links, int cut)
{
	int sel[FGN_MAX_NODES][FGN_MAX_NODES];
	unsigned i, j;

	if (select_links(r, links, sel) != 0)
		return -1;
	for (i = 0; i < r->n; i++)
		for (j = 0; j < r->n; j++)
			if (sel[i][j])
				r->im.link[i][j].p.cut = cut;
	return 0;
}

static int cmd_cut(struct relay *r, int argc, char **argv, FILE *out)
{
	(void)out;
	return argc == 2 ? cut_or_heal(r, argv[1], 1) : -1;
}

static int cmd_heal(struct relay *r, int argc, char **argv, FILE *out)
{
	(void)out;
	if (argc > 2)
		return -1;
	return cut_or_heal(r, argc == 2 ? argv[1] : "all", 0);
}

static void print_counters(FILE *out, const struct fgn_counters *c)
{
	fprintf(out,
	        " in=%llu out=%llu lost=%llu duplicated=%llu delayed=%llu "
	        "reordered=%llu cut=%llu overflow=%llu errors=%llu",
	        (unsigned long long)c->in, (unsigned long long)c->out,
	        (unsigned long long)c->lost, (unsigned long long)c->duplicated,
	        (unsigned long long)c->delayed,
	        (unsigned long long)c->reordered, (unsigned long long)c->cut,
	        (unsigned long long)c->overflow, (unsigned long long)c->errors);
}

/* Each link's settings and counters, then the totals. */
static void show(const struct relay *r, FILE *out)
{
	struct fgn_counters sum;
	uint64_t queued;
	unsigned i, j;

	fprintf(out, "seed %#llx\n", (unsigned long long)r->im.seed);
	for (i = 0; i < r->n; i++)
		for (j = 0; j < r->n; j++) {
			const struct fgn_link *l = &r->im.link[i][j];

			if (i == j)
				continue;
			fprintf(out,
			        "link %u>%u loss=%g dup=%g reorder=%g "
			        "delay=%g jitter=%g cut=%d",
			        i, j, l->p.loss / 1e4, l->p.dup / 1e4,
			        l->p.reorder / 1e4, l->p.delay_us / 1e3,
			        l->p.jitter_us / 1e3, l->p.cut);
			print_counters(out, &l->c);
			fputc('\n', out);
		}
	fgn_impair_total(&r->im, &sum, &queued);
	fprintf(out, "total");
	print_counters(out, &sum);
	fprintf(out, " queued=%llu not_ipv4=%llu unroutable=%llu\n",
	        (unsigned long long)queued, (unsigned long long)r->not_ipv4,
	        (unsigned long long)r->unroutable);
}

static int cmd_show(struct relay *r, int argc, char **argv, FILE *out)
{
	(void)argv;
	if (argc != 1)
		return -1;
	show(r, out);
	return 0;
}

static int cmd_quit(struct relay *r, int argc, char **argv, FILE *out)
{
	(void)argv;
	(void)out;
	if (argc != 1)
		return -1;
	r->quit = 1;
	return 0;
}

static int cmd_help(struct relay *r, int argc, char **argv, FILE *out);

static const struct command {
	const char *name, *args, *help;
	int (*run)(struct relay *r, int argc, char **argv, FILE *out);
} commands[] = {
    {"set", "LINKS PARAM VALUE [PARAM VALUE...]",
     "impair LINKS: loss, dup, reorder in %; delay, jitter in ms", cmd_set},
    {"cut", "LINKS", "drop everything on LINKS (a partition)", cmd_cut},
    {"heal", "[LINKS]", "undo cut on LINKS (default all)", cmd_heal},
    {"show", "", "the seed, each link's settings and counters", cmd_show},
    {"quit", "", "print the counters and exit", cmd_quit},
    {"help", "", "this list", cmd_help},
};

static int cmd_help(struct relay *r, int argc, char **argv, FILE *out)
{
	size_t i;

	(void)r;
	(void)argc;
	(void)argv;
	for (i = 0; i < sizeof commands / sizeof *commands; i++)
		fprintf(out, "%s%s%s\n\t%s\n", commands[i].name,
		        commands[i].args[0] ? " " : "", commands[i].args,
		        commands[i].help);
	fprintf(out, "LINKS: all, K (to or from node K), A>B (A or B may be "
	             "*)\n");
	return 0;
}

/* Run one command line; its reply in @out ("ok" or "error: ..." first). */
static void run_line(struct relay *r, char *line, FILE *out)
{
	char *argv[16], *save = NULL, *w;
	char *text = NULL;
	size_t len = 0, i;
	int argc = 0, rc = -1;
	FILE *body = open_memstream(&text, &len);

	for (w = strtok_r(line, " \t\r\n", &save); w && argc < 16;
	     w = strtok_r(NULL, " \t\r\n", &save))
		argv[argc++] = w;
	for (i = 0; argc > 0 && i < sizeof commands / sizeof *commands; i++)
		if (strcmp(argv[0], commands[i].name) == 0 && body)
			rc = commands[i].run(r, argc, argv, body);
	if (body)
		fclose(body);
	if (rc == 0)
		fprintf(out, "ok\n%s", text ? text : "");
	else if (rc > 0)
		fputs(text ? text : "error\n", out);
	else
		fprintf(out, "error: bad command (try help)\n");
	free(text);
}

/* ---------------------------------------------------------------- server */

static int listen_on(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	mode_t old;
	int fd;

	if (strlen(path) >= sizeof sa.sun_path) {
		fprintf(stderr, "relay: %s: path too long\n", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	old = umask(077);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    listen(fd, 8) != 0) {
		fprintf(stderr, "relay: %s: %s\n", path, strerror(errno));
		close(fd);
		fd = -1;
	}
	umask(old);
	return fd;
}

static void serve(struct relay *r)
{
	struct timeval tv = {.tv_sec = 1};
	char line[CMD_MAX + 1], *reply = NULL;
	size_t len = 0, got = 0;
	FILE *out;
	int c;

	c = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return;
	(void)setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	while (got < CMD_MAX && !memchr(line, '\n', got)) {
		ssize_t k = read(c, line + got, CMD_MAX - got);

		if (k <= 0)
			break;
		got += (size_t)k;
	}
	line[got] = '\0';
	out = open_memstream(&reply, &len);
	if (out) {
		run_line(r, line, out);
		fclose(out);
		if (write(c, reply, len) != (ssize_t)len)
			fprintf(stderr, "relay: reply: %s\n", strerror(errno));
	}
	free(reply);
	close(c);
}

/* ------------------------------------------------------------- packets */

/* Node @k sent @len bytes: to whom, or -1 (counted). */
static int route(struct relay *r, unsigned k, const uint8_t *p, size_t len)
{
	uint32_t dst;

	if (len < 20 || p[0] >> 4 != 4) {
		r->not_ipv4++; /* IPv6 router solicitations and the like */
		return -1;
	}
	dst = (uint32_t)p[16] << 24 | (uint32_t)p[17] << 16 |
	      (uint32_t)p[18] << 8 | p[19];
	if ((dst & ~0xFFu) != SUBNET || (dst & 0xFF) == 0 ||
	    (dst & 0xFF) > r->n || (dst & 0xFF) - 1 == k) {
		r->unroutable++;
		return -1;
	}
	return (int)(dst & 0xFF) - 1;
}

static void drain(struct relay *r, unsigned k)
{
	uint8_t buf[FGN_MTU + 1];
	int i, to;

	for (i = 0; i < BURST; i++) {
		ssize_t len = read(r->tun[k], buf, sizeof buf);

		if (len < 0)
			return;
		if (len > FGN_MTU) {
			r->unroutable++;
			continue;
		}
		to = route(r, k, buf, (size_t)len);
		if (to >= 0)
			fgn_impair_packet(&r->im, k, (unsigned)to, buf,
			                  (size_t)len, now_ns());
	}
}

static void loop(struct relay *r, uint64_t end, const sigset_t *unblocked)
{
	struct pollfd pfd[FGN_MAX_NODES + 1];
	unsigned k, npfd = r->n;

	for (k = 0; k < r->n; k++)
		pfd[k] = (struct pollfd){.fd = r->tun[k], .events = POLLIN};
	if (r->lfd >= 0)
		pfd[npfd++] = (struct pollfd){.fd = r->lfd, .events = POLLIN};
	while (!stop && !r->quit) {
		uint64_t now = now_ns(), due = fgn_impair_release(&r->im, now);
		struct timespec ts;

		if (now >= end)
			break;
		if (due > end)
			due = end;
		ts.tv_sec = (time_t)((due - now) / 1000000000u);
		ts.tv_nsec = (long)((due - now) % 1000000000u);
		if (ppoll(pfd, npfd, &ts, unblocked) < 0) {
			if (errno == EINTR)
				continue;
			perror("relay: ppoll");
			break;
		}
		for (k = 0; k < r->n; k++)
			if (pfd[k].revents & POLLIN)
				drain(r, k);
		if (r->lfd >= 0 && (pfd[r->n].revents & POLLIN))
			serve(r);
	}
}

/* ------------------------------------------------------------------ main */

static int ctl(int argc, char **argv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char line[CMD_MAX + 2] = "", buf[4096];
	size_t off = 0;
	ssize_t k;
	int fd, i, ok = 0, first = 1;

	if (argc < 4 || strlen(argv[2]) >= sizeof sa.sun_path) {
		fprintf(stderr, "usage: relay ctl SOCKET COMMAND [ARG...]\n");
		return 2;
	}
	for (i = 3; i < argc; i++)
		off += (size_t)snprintf(line + off, sizeof line - off, "%s%s",
		                        i > 3 ? " " : "", argv[i]);
	if (off >= CMD_MAX) {
		fprintf(stderr, "relay ctl: command too long\n");
		return 2;
	}
	strcat(line, "\n");
	memcpy(sa.sun_path, argv[2], strlen(argv[2]));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    write(fd, line, strlen(line)) != (ssize_t)strlen(line)) {
		fprintf(stderr, "relay ctl: %s: %s\n", argv[2],
		        strerror(errno));
		return 2;
	}
	while ((k = read(fd, buf, sizeof buf)) > 0) {
		if (first)
			ok = k >= 3 && memcmp(buf, "ok\n", 3) == 0;
		first = 0;
		fwrite(buf, 1, (size_t)k, stdout);
	}
	close(fd);
	return ok ? 0 : 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: relay [-s SEED] [-c SOCKET] [-r FD] [-q QMAX] "
	                "[-t SECONDS] NS...\n"
	                "       relay ctl SOCKET COMMAND [ARG...]\n");
	exit(2);
}

static int setup(struct relay *r, char **ns, const char *sock)
{
	char err[256];
	unsigned k;

	for (k = 0; k < r->n; k++) {
		r->tun[k] = fgn_tun_open(ns[k], SUBNET + k + 1, PREFIX, err,
		                         sizeof err);
		if (r->tun[k] < 0) {
			fprintf(stderr, "relay: %s: %s\n", ns[k], err);
			return -1;
		}
	}
	r->lfd = sock ? listen_on(sock) : -1;
	return sock && r->lfd < 0 ? -1 : 0;
}

struct options {
	unsigned long long seed, qmax, life;
	const char *sock;
	int ready, have_seed;
};

/* A number from 0 to @max, or the usage. */
static unsigned long long number(const char *s, unsigned long long max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v > max || s[0] == '-')
		usage();
	return v;
}

/* The options; the index of the first namespace. */
static int options(int argc, char **argv, struct options *o)
{
	int opt;

	*o = (struct options){.qmax = 4096, .life = 600, .ready = -1};
	while ((opt = getopt(argc, argv, "s:c:r:q:t:")) != -1) {
		if (opt == 's') {
			o->seed = number(optarg, ~0ull);
			o->have_seed = 1;
		} else if (opt == 'c')
			o->sock = optarg;
		else if (opt == 'r')
			o->ready = (int)number(optarg, 1024);
		else if (opt == 'q')
			o->qmax = number(optarg, 1u << 20);
		else if (opt == 't')
			o->life = number(optarg, 86400);
		else
			usage();
	}
	if (argc - optind < 2 || argc - optind > FGN_MAX_NODES || o->qmax < 1 ||
	    o->life < 1)
		usage();
	if (!o->have_seed)
		o->seed = now_ns() ^ (unsigned long long)getpid() << 32;
	return optind;
}

int main(int argc, char **argv)
{
	struct relay r = {.lfd = -1};
	struct options o;
	sigset_t block, unblocked;
	int rc = 1, first;
	unsigned k;

	if (argc > 1 && strcmp(argv[1], "ctl") == 0)
		return ctl(argc, argv);
	first = options(argc, argv, &o);
	r.n = (unsigned)(argc - first);
	for (k = 0; k < FGN_MAX_NODES; k++)
		r.tun[k] = -1;
	/* signals only while waiting in ppoll(): none is lost */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &unblocked);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (fgn_impair_init(&r.im, r.n, (unsigned)o.qmax, o.seed, send_tun,
	                    &r) != 0) {
		fprintf(stderr, "relay: out of memory\n");
		goto out;
	}
	if (setup(&r, argv + first, o.sock) != 0)
		goto out;
	fprintf(stderr, "relay: %u nodes on 10.77.0.0/24, seed %#llx\n", r.n,
	        o.seed);
	if (o.ready >= 0) {
		if (write(o.ready, "ready\n", 6) != 6)
			perror("relay: -r");
		close(o.ready);
	}
	loop(&r, now_ns() + o.life * 1000000000ull, &unblocked);
	show(&r, stdout);
	rc = fgn_impair_balanced(&r.im) ? 0 : 1;
	if (rc)
		fprintf(stdout, "relay: the counters do not balance\n");
out:
	for (k = 0; k < r.n; k++)
		if (r.tun[k] >= 0)
			close(r.tun[k]);
	if (r.lfd >= 0) {
		close(r.lfd);
		unlink(o.sock);
	}
	fgn_impair_fini(&r.im);
	return rc;
}
