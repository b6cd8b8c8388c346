/* SPDX-License-Identifier: ISC */
/*
 * figures.c - reading a running cluster's figures back (figures.h).
 *
 * The daemons are asked the way an operator would: a bucket is peeked at
 * in the segment without taking a token (fg__peek), the counters are
 * asked for with SIGUSR1 and read from the log the daemon writes them
 * to, and CPU time comes from /proc/PID/stat.  The counters line is
 * parsed only once it is whole (it ends in a newline), since the log is
 * read while the daemon writes it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo/figures.h"
#include "demo/files.h"
#include "lib/client.h"

#define LOG_SPAN 65536u /* what is read of a log at most */

int fgc_log_count(const struct fgc_cluster *c, int i, const char *needle)
{
	char text[LOG_SPAN];
	const char *p = text;
	int n = 0;

	if (fgc_log_tail(c, i, text, sizeof text) < 0)
		return 0;
	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p++;
	}
	return n;
}

int fgc_left(struct fgc_cluster *c, int i, const char *rule, const char *key,
             int64_t *out)
{
	int r;

	if (c->node == NULL || i < 0 || i >= c->n || c->node[i].fg == NULL) {
		(void)snprintf(c->err, sizeof c->err, "node %d: not attached",
		               i);
		return -1;
	}
	r = fg__peek(c->node[i].fg, rule, key, strlen(key), out);
	if (r != 0) {
		(void)snprintf(c->err, sizeof c->err, "node %d: peek %s/%s: %s",
		               i, rule, key, fg_strerror(r));
		return -1;
	}
	return 0;
}

/* Sum the "name=N" drop counts after "dropped:", all but self=. */
static int sum_drops(char *drops, unsigned long long *out)
{
	char *tok, *save = NULL;

	*out = 0;
	for (tok = strtok_r(drops, " ", &save); tok != NULL;
	     tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');

		if (eq == NULL)
			return -1;
		if (strncmp(tok, "self=", 5) != 0)
			*out += strtoull(eq + 1, NULL, 10);
	}
	return 0;
}

int fgc_parse_counters(const char *log, struct fgc_counters *g)
{
	const char *p = NULL, *q = log;
	char line[1024], *drops;
	size_t len;

	while ((q = strstr(q, "floodgated: rx ")) != NULL)
		p = q++;
	if (p == NULL)
		return -1;
	len = strcspn(p, "\n");
	if (len >= sizeof line || p[len] != '\n')
		return -1; /* too long, or not all written yet */
	memcpy(line, p, len);
	line[len] = '\0';
	memset(g, 0, sizeof *g);
	if (sscanf(line,
	           "floodgated: rx %llu datagrams %llu bytes, tx %llu "
	           "datagrams %llu bytes (%llu errors), harvested %llu, "
	           "applied %llu, unknown-rule %llu, no-room %llu",
	           &g->rx, &g->rx_bytes, &g->tx, &g->tx_bytes, &g->tx_errors,
	           &g->harvested, &g->applied, &g->unknown, &g->noroom) != 9)
		return -1;
	drops = strstr(line, "dropped:");
	if (drops == NULL)
		return -1;
	return sum_drops(drops + 8, &g->dropped);
}

static int counters_found(const char *text, void *g)
{
	return fgc_parse_counters(text, g) == 0;
}

int fgc_counters(struct fgc_cluster *c, int i, struct fgc_counters *g)
{
	long mark = fgc_log_size(c, i);

	if (c->node == NULL || i < 0 || i >= c->n || c->node[i].pid <= 0) {
		(void)snprintf(c->err, sizeof c->err, "node %d: not running",
		               i);
		return -1;
	}
	if (kill(c->node[i].pid, SIGUSR1) != 0) {
		(void)snprintf(c->err, sizeof c->err, "node %d: SIGUSR1: %s", i,
		               strerror(errno));
		return -1;
	}
	return fgc_await_log(c, i, mark, counters_found, g, "its counters");
}

unsigned long long fgc_cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;

	(void)snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (fgc_read_span(path, 0, buf, sizeof buf) <= 0)
		return 0;
	/* fields 14 and 15, counted after the ')' ending the command name */
	p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 2,
	                        "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	                        "%llu %llu",
	                        &ut, &st) != 2)
		return 0;
	return ut + st;
}
