/* SPDX-License-Identifier: ISC */
/*
 * daemon.c - what floodgate(1) asks floodgated over its control socket,
 * and the replies as tables and JSON.
 *
 * A reply is "ok" and lines of "TYPE name=value ..." (daemon/control.h).
 * Values travel as text; which of them are numbers is part of the
 * protocol and written down once, in the table below: a value is printed
 * as a JSON number only when its field is declared a count and its text is
 * one, and as a string otherwise.  So a key in hex that happens to be all
 * digits ("0123") stays a string, and a field added to the protocol shows
 * as a string until it is declared here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "util/human.h"
#include "util/num.h"

/* The count fields of each line type; "*": every field is a count. */
static const struct {
	const char *type;
	const char *counts; /* blank-separated, with a blank at each end */
} line_counts[] = {
    {"status", " pid uptime_ms incarnation rounds rules peer_addresses "},
    {"peers", "*"},
    {"peer", " self have latest heard_ms_ago "},
    {"datagrams", "*"},
    {"gossip", "*"},
    {"members", "*"},
    {"sync", "*"},
    {"drops", "*"},
    {"remote", " count consumed owed changed_ms_ago lag_ms "},
    {"ledger", "*"},
    {"truncated", " at "},
    {"redis", " up since_ms_ago exchanges errors opens probes pushed pulled "
              "unpushed origins rtt_ms last_ms_ago "},
    {"strict", " asked granted denied down calls leased dropped "},
};

static int is_count(const char *type, const char *field)
{
	char pat[64];
	size_t i;

	for (i = 0; i < sizeof line_counts / sizeof line_counts[0]; i++) {
		if (strcmp(line_counts[i].type, type) != 0)
			continue;
		if (strcmp(line_counts[i].counts, "*") == 0)
			return 1;
		snprintf(pat, sizeof pat, " %s ", field);
		return strstr(line_counts[i].counts, pat) != NULL;
	}
	return 0;
}

void fgc_reply_free(struct fgc_reply *r)
{
	free(r->text);
	free(r->l);
	memset(r, 0, sizeof *r);
}

/* Split @line into its type and name=value words. */
static void line_split(char *line, struct fgc_rline *l)
{
	char *w;

	memset(l, 0, sizeof *l);
	l->type = strtok_r(line, " ", &w);
	while (l->nkv < RLINE_KV) {
		char *word = strtok_r(NULL, " ", &w), *eq;

		if (word == NULL)
			break;
		eq = strchr(word, '=');
		if (eq == NULL)
			continue;
		*eq = '\0';
		l->k[l->nkv] = word;
		l->v[l->nkv++] = eq + 1;
	}
}

static int reply_parse(struct fgc_reply *r)
{
	char *p = strchr(r->text, '\n'), *line;
	size_t cap = 0;

	p = p ? p + 1 : r->text + strlen(r->text);
	while (*p) {
		char *end = strchr(p, '\n');

		if (end)
			*end = '\0';
		line = p;
		p = end ? end + 1 : p + strlen(p);
		if (*line == '\0')
			continue;
		if (r->n == cap) {
			struct fgc_rline *nl;

			cap = cap ? 2 * cap : 16;
			nl = realloc(r->l, cap * sizeof *nl);
			if (nl == NULL)
				return -1;
			r->l = nl;
		}
		line_split(line, &r->l[r->n++]);
	}
	return 0;
}

/* The request could not be made: why, as one sentence with the fix. */
static int unreachable(struct fgc *c, int e, int say)
{
	int st = e == -EACCES || e == -EPERM ? EXIT_PERM : EXIT_NODAEMON;

	if (!say)
		return st;
	if (c->ctl_path[0] == '\0')
		fgc_warn("the control socket is off in the configuration: "
		         "remove 'control off' to ask floodgated");
	else if (e == -ENOENT || e == -ECONNREFUSED)
		fgc_warn("floodgated is not running (nobody answers on %s): "
		         "start it, or name its configuration with -c",
		         c->ctl_path);
	else if (st == EXIT_PERM)
		fgc_warn("permission denied on %s: run as floodgated's user "
		         "or root",
		         c->ctl_path);
	else
		fgc_warn("cannot ask floodgated on %s: %s", c->ctl_path,
		         strerror(-e));
	return st;
}

/* The daemon said "error: ...": say it; the exit status. */
static int refused(struct fgc_reply *r)
{
	char *nl = strchr(r->text, '\n');
	const char *why = r->text;
	int st = EXIT_DAEMON;

	if (nl)
		*nl = '\0';
	if (strncmp(why, "error: ", 7) == 0)
		why += 7;
	if (strncmp(why, "permission", 10) == 0) {
		fgc_warn("floodgated refused: %s: run as its user or root",
		         why);
		st = EXIT_PERM;
	} else {
		fgc_warn("floodgated refused: %s", why);
	}
	fgc_reply_free(r);
	return st;
}

int fgc_ask(struct fgc *c, const char *req, struct fgc_reply *r, int raw)
{
	int say = c->cmd->needs == NEEDS_DAEMON, e;

	memset(r, 0, sizeof *r);
	if (c->ctl_path[0] == '\0')
		return unreachable(c, -ENOENT, say);
	e = fgd_ctl_request(c->ctl_path, req, &r->text);
	if (e != 0)
		return unreachable(c, e, say);
	if (strncmp(r->text, "ok\n", 3) != 0)
		return refused(r);
	if (!raw && reply_parse(r) != 0) {
		fgc_reply_free(r);
		fgc_warn("out of memory");
		return EXIT_SYS;
	}
	return 0;
}

const char *fgc_kv(const struct fgc_rline *l, const char *name)
{
	int i;

	for (i = 0; i < l->nkv; i++)
		if (strcmp(l->k[i], name) == 0)
			return l->v[i];
	return "";
}

uint64_t fgc_kv_u64(const struct fgc_rline *l, const char *name)
{
	const char *v = fgc_kv(l, name);
	uint64_t n;

	return fgu_parse_uint(v, strlen(v), 0, UINT64_MAX, &n) == 0 ? n : 0;
}

const struct fgc_rline *fgc_reply_find(const struct fgc_reply *r, const char *t)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->l[i].type, t) == 0)
			return &r->l[i];
	return NULL;
}

/* A count's text as a JSON number (-N for the protocol's -1 "never"). */
static int json_count(struct fgc *c, const char *v)
{
	int neg = v[0] == '-';
	uint64_t n;

	if (fgu_parse_uint(v + neg, strlen(v + neg), 0,
	                   neg ? (uint64_t)INT64_MAX : UINT64_MAX, &n) != 0)
		return -1;
	if (neg)
		fgu_json_i64(&c->j, -(int64_t)n);
	else
		fgu_json_u64(&c->j, n);
	return 0;
}

void fgc_json_line(struct fgc *c, const struct fgc_rline *l)
{
	int i;

	fgu_json_object(&c->j);
	for (i = 0; i < l->nkv; i++) {
		fgu_json_name(&c->j, l->k[i]);
		if (!is_count(l->type, l->k[i]) || json_count(c, l->v[i]) != 0)
			fgu_json_str(&c->j, l->v[i]);
	}
	fgu_json_object_end(&c->j);
}

const char *fgc_ago(const char *ms, char *buf, size_t len)
{
	char d[FGU_HUMAN_MAX];
	uint64_t v;

	if (fgu_parse_uint(ms, strlen(ms), 0, UINT64_MAX, &v) != 0)
		snprintf(buf, len, "never");
	else
		snprintf(buf, len, "%s ago", fgu_duration(v, d, sizeof d));
	return buf;
}
