/* SPDX-License-Identifier: ISC */
/*
 * list.c - floodgate list: the keys that have a bucket, and with --top the
 * keys that take most right now; floodgate top: that ranking redrawn every
 * window, like top(1).
 *
 * --top N reads the table twice, a window apart, and ranks each key by
 * what it was offered in between: tokens admitted plus checks denied.  A
 * key present at both reads counts the difference; a key whose slot was
 * empty or held another key at the first read was created during the
 * window, so all its counts are from the window.  Both reads walk the
 * slots in order, so the two lists are matched by one merge, without a
 * table the size of the segment.  Keys whose bucket was evicted during
 * the window are gone from the second read and are not shown.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "shm/clock.h"
#include "shm/scan.h"
#include "util/human.h"
#include "util/hex.h"

#define TOP_MAX       10000000u
#define WINDOW_MS     1000u   /* --window's default */
#define WINDOW_MAX_MS 600000u /* ten minutes */
#define TOP_ROWS      20u     /* top's keys when the terminal says nothing */
#define TOP_FRAMES    1000000000u

struct list_opts {
	const char *rule, *prefix;
	size_t plen;
	unsigned ridx;
	uint64_t top, window;
	uint64_t frames; /* top: frames to draw; 0 until interrupted */
};

struct items {
	struct fgc_item *v;
	size_t n, cap;
};

/* list's options, or with @top those of the top command. */
static int list_options(struct fgc *c, int argc, char **argv,
                        struct list_opts *o, int top)
{
	static const struct option list_lo[] = {
	    {"rule", required_argument, NULL, 'r'},
	    {"prefix", required_argument, NULL, 'p'},
	    {"top", required_argument, NULL, 't'},
	    {"window", required_argument, NULL, 'w'},
	    {NULL, 0, NULL, 0}};
	static const struct option top_lo[] = {
	    {"rule", required_argument, NULL, 'r'},
	    {"prefix", required_argument, NULL, 'p'},
	    {"keys", required_argument, NULL, 't'},
	    {"window", required_argument, NULL, 'w'},
	    {"frames", required_argument, NULL, 'f'},
	    {NULL, 0, NULL, 0}};
	int opt, e = 0;

	memset(o, 0, sizeof *o);
	o->window = WINDOW_MS;
	while (e == 0 &&
	       (opt = getopt_long(argc, argv, top ? ":r:p:t:w:f:" : ":r:p:t:w:",
	                          top ? top_lo : list_lo, NULL)) != -1) {
		if (opt == 'r')
			o->rule = optarg;
		else if (opt == 'p')
			o->prefix = optarg;
		else if (opt == 't')
			e = fgc_uint_arg(top ? "--keys" : "--top", optarg, 1,
			                 TOP_MAX, "keys", &o->top);
		else if (opt == 'w') /* a frame every ms would be a blur */
			e = fgc_uint_arg("--window", optarg, top ? 100 : 1,
			                 WINDOW_MAX_MS, "milliseconds",
			                 &o->window);
		else if (opt == 'f')
			e = fgc_uint_arg("--frames", optarg, 1, TOP_FRAMES,
			                 "frames", &o->frames);
		else
			return fgc_bad_option(c, argv, optind, opt);
	}
	if (e == 0 && optind != argc)
		return fgc_usage_error(c);
	o->plen = o->prefix ? strlen(o->prefix) : 0;
	return e;
}

static int items_add(struct items *it, const struct fgc_item *x)
{
	if (it->n == it->cap) {
		size_t cap = it->cap ? 2 * it->cap : 1024;
		struct fgc_item *v = realloc(it->v, cap * sizeof *v);

		if (v == NULL)
			return -1;
		it->v = v;
		it->cap = cap;
	}
	it->v[it->n++] = *x;
	return 0;
}

/* @to = @from, grown as needed. */
static int items_copy(struct items *to, const struct items *from)
{
	size_t i;

	for (i = 0; i < from->n; i++)
		if (items_add(to, &from->v[i]) != 0) {
			fgc_warn("out of memory");
			return -1;
		}
	return 0;
}

/* Every live bucket that passes the filters, in slot order. */
static int scan(struct fgc *c, const struct list_opts *o, struct items *it)
{
	struct fg_table *t = &c->fg->seg.tbl;
	struct fgc_item x;
	uint64_t s;

	it->n = 0;
	for (s = 0; s < fg__table_nslots(t); s++) {
		if (!fgc_slot_read(t, s, &x) || (o->rule && x.rule != o->ridx))
			continue;
		if (o->prefix && (x.klen < o->plen ||
		                  memcmp(x.key, o->prefix, o->plen) != 0))
			continue;
		if (items_add(it, &x) != 0) {
			fgc_warn("out of memory");
			return EXIT_SYS;
		}
	}
	return 0;
}

static void window_wait(uint64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
	                      .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* What each key of @now was offered since @before (both in slot order). */
static void window_diff(const struct items *before, struct items *now)
{
	size_t i, k = 0;

	for (i = 0; i < now->n; i++) {
		struct fgc_item *x = &now->v[i];

		while (k < before->n && before->v[k].slot < x->slot)
			k++;
		x->win_allowed = x->consumed;
		x->win_denied = x->denied;
		if (k < before->n && before->v[k].slot == x->slot &&
		    before->v[k].id == x->id) { /* the same key: the rise */
			const struct fgc_item *b = &before->v[k];

			/* both counters only grow while the key holds it */
			x->win_allowed -= b->consumed <= x->consumed
			                      ? b->consumed
			                      : x->consumed;
			x->win_denied -=
			    b->denied <= x->denied ? b->denied : x->denied;
		}
	}
}

static int cmp_offered(const void *a, const void *b)
{
	const struct fgc_item *x = a, *y = b;
	uint64_t ox = x->win_allowed + x->win_denied;
	uint64_t oy = y->win_allowed + y->win_denied;

	if (ox != oy)
		return ox > oy ? -1 : 1;
	return fgc_cmp_rule_key(a, b);
}

/* Sum the daemon's remote ledger into @it (sorted by rule and key). */
static void remotes_merge(struct fgc *c, struct fgc_item *it, size_t n,
                          const char *rule)
{
	char req[64];
	struct fgc_reply r;
	size_t i;

	snprintf(req, sizeof req, "remotes%s%s", rule ? " " : "",
	         rule ? rule : "");
	if (fgc_ask(c, req, &r, 0) != 0)
		return;
	for (i = 0; i < n; i++)
		it[i].remote_known = 1;
	for (i = 0; i < r.n; i++) {
		const struct fgc_rline *l = &r.l[i];
		struct fgc_item k = {0};
		struct fgc_item *f;
		int idx, len;

		if (strcmp(l->type, "remote") != 0)
			continue;
		idx = fg__rule_index(c->fg, fgc_kv(l, "rule"));
		len = fgu_unhex(fgc_kv(l, "key"), k.key, sizeof k.key);
		if (idx < 0 || len <= 0)
			continue;
		k.rule = (unsigned)idx;
		k.klen = (uint8_t)len;
		f = bsearch(&k, it, n, sizeof *it, fgc_cmp_rule_key);
		if (f)
			f->remote += fgc_kv_u64(l, "consumed");
	}
	fgc_reply_free(&r);
}

static void row_json(struct fgc *c, const struct list_opts *o,
                     const struct fgc_item *x, uint64_t now)
{
	struct fgu_json *j = &c->j;
	char hex[2 * FG_KEY_MAX + 1];
	struct fg_rule_cache buf;

	fgu_hex(x->key, x->klen, hex);
	fgu_json_object(j);
	fgu_json_kstr(j, "rule", c->fg->names[x->rule]);
	fgu_json_name(j, "key");
	fgu_json_bytes(j, x->key, x->klen);
	fgu_json_kstr(j, "key_hex", hex);
	fgu_json_ki64(j, "tokens_left", fgc_tokens_left(c, x, now));
	fgu_json_ku64(j, "capacity", fgc_key_params(c, x, &buf)->capacity);
	fgu_json_ku64(j, "local_consumed", x->consumed);
	fgu_json_ku64(j, "denied", x->denied);
	fgu_json_name(j, "remote_consumed");
	if (x->remote_known)
		fgu_json_u64(j, x->remote);
	else
		fgu_json_null(j);
	fgu_json_ku64(j, "blocked_ms", fgc_blocked_ms(c, x->rule, x->tat, now));
	if (o->top) {
		fgu_json_ku64(j, "window_ms", o->window);
		fgu_json_ku64(j, "window_offered",
		              x->win_allowed + x->win_denied);
		fgu_json_ku64(j, "window_allowed", x->win_allowed);
		fgu_json_ku64(j, "window_denied", x->win_denied);
	}
	fgu_json_object_end(j);
}

static void header_text(struct fgc *c, const struct list_opts *o)
{
	if (o->top)
		fgc_out(c, "%-16s %-24s %8s %10s %10s %10s\n", "RULE", "KEY",
		        "LEFT", "OFFERED", "ALLOWED", "DENIED");
	else
		fgc_out(c, "%-16s %-24s %8s %8s %10s %10s %8s\n", "RULE", "KEY",
		        "LEFT", "CAPACITY", "LOCAL", "REMOTE", "DENIED");
}

static void row_text(struct fgc *c, const struct list_opts *o,
                     const struct fgc_item *x, uint64_t now)
{
	char hk[HUMAN_KEY_MAX], rem[24], dur[FGU_HUMAN_MAX],
	    blk[FGU_HUMAN_MAX + 16] = "";
	int64_t left = fgc_tokens_left(c, x, now);
	struct fg_rule_cache buf;
	uint64_t blocked;

	fgc_human_key(x->key, x->klen, hk);
	if (o->top) {
		fgc_out(c,
		        "%-16s %-24s %8" PRId64 " %10" PRIu64 " %10" PRIu64
		        " %10" PRIu64 "\n",
		        c->fg->names[x->rule], hk, left,
		        x->win_allowed + x->win_denied, x->win_allowed,
		        x->win_denied);
		return;
	}
	if (x->remote_known)
		snprintf(rem, sizeof rem, "%" PRIu64, x->remote);
	else
		snprintf(rem, sizeof rem, "-");
	blocked = fgc_blocked_ms(c, x->rule, x->tat, now);
	if (blocked != 0) /* only where there is one: the columns stay */
		snprintf(blk, sizeof blk, " blocked %s",
		         fgu_duration(blocked, dur, sizeof dur));
	fgc_out(c,
	        "%-16s %-24s %8" PRId64 " %8u %10" PRIu64 " %10s %8" PRIu64
	        "%s\n",
	        c->fg->names[x->rule], hk, left,
	        fgc_key_params(c, x, &buf)->capacity, x->consumed, rem,
	        x->denied, blk);
}

static void footer_text(struct fgc *c, const struct list_opts *o,
                        const struct items *it)
{
	char win[FGU_HUMAN_MAX];

	if (it->n == 0)
		fgc_out(c, "no keys\n");
	else if (o->top)
		fgc_out(c,
		        "(the last %s: offered = tokens allowed + checks "
		        "denied)\n",
		        fgu_duration(o->window, win, sizeof win));
	else if (!it->v[0].remote_known)
		fgc_out(c, "(remote: daemon not running)\n");
}

static void list_print(struct fgc *c, const struct list_opts *o,
                       const struct items *it)
{
	size_t i, shown = o->top && o->top < it->n ? o->top : it->n;
	uint64_t now = fg__now_ns();

	if (c->json)
		fgu_json_array(&c->j);
	else if (it->n > 0)
		header_text(c, o);
	for (i = 0; i < shown; i++) {
		if (c->json)
			row_json(c, o, &it->v[i], now);
		else
			row_text(c, o, &it->v[i], now);
	}
	if (c->json)
		fgu_json_array_end(&c->j);
	else
		footer_text(c, o, it);
}

int fgc_cmd_list(struct fgc *c, int argc, char **argv)
{
	struct list_opts o;
	struct items before = {0}, it = {0};
	fg_rule_info ri;
	int e;

	if ((e = list_options(c, argc, argv, &o, 0)) != 0 ||
	    (e = fgc_seg_open(c)) != 0 ||
	    (o.rule && (e = fgc_rule_find(c, o.rule, &o.ridx, &ri)) != 0))
		return e;
	if (o.top) {
		if ((e = scan(c, &o, &before)) != 0)
			goto out;
		window_wait(o.window);
	}
	if ((e = scan(c, &o, &it)) != 0)
		goto out;
	if (o.top)
		window_diff(&before, &it);
	if (it.n > 0) {
		qsort(it.v, it.n, sizeof *it.v, fgc_cmp_rule_key);
		remotes_merge(c, it.v, it.n, o.rule);
		if (o.top)
			qsort(it.v, it.n, sizeof *it.v, cmp_offered);
	}
	list_print(c, &o, &it);
out:
	free(before.v);
	free(it.v);
	return e;
}

/* ------------------------------------------------------------- top */

/* Keys a frame shows: --keys, else what fits the terminal, else 20. */
static uint64_t top_rows(const struct list_opts *o, int tty)
{
	struct winsize ws;

	if (o->top)
		return o->top;
	if (tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 5)
		return ws.ws_row -
		       5u; /* title, blank, header, footer, cursor */
	return TOP_ROWS;
}

/* One frame: on a terminal it replaces the last one; elsewhere frames
 * follow each other, a blank line apart. */
static void top_frame(struct fgc *c, const struct list_opts *o,
                      struct items *it, int tty, uint64_t n)
{
	uint64_t offered = 0, allowed = 0, denied = 0;
	char win[FGU_HUMAN_MAX];
	size_t i;

	for (i = 0; i < it->n; i++) {
		allowed += it->v[i].win_allowed;
		denied += it->v[i].win_denied;
	}
	offered = allowed + denied;
	if (it->n > 0)
		qsort(it->v, it->n, sizeof *it->v, cmp_offered);
	if (tty)
		fgc_out(c, "\033[H\033[J");
	else if (n > 1)
		fgc_out(c, "\n");
	fgc_out(c,
	        "floodgate top: segment %s, frame %" PRIu64 ", the last %s: "
	        "%" PRIu64 " offered, %" PRIu64 " allowed, %" PRIu64
	        " denied, %zu keys\n\n",
	        c->segment, n, fgu_duration(o->window, win, sizeof win),
	        offered, allowed, denied, it->n);
	list_print(c, o, it);
	fwrite(c->out.p, 1, c->out.len, stdout);
	c->out.len = 0;
	fflush(stdout);
}

/*
 * floodgate top: list --top every window until interrupted (or --frames
 * of them).  Each frame ranks what was offered since the previous one.
 * Text only: a screen is not a format (list --top --json gives figures).
 */
int fgc_cmd_top(struct fgc *c, int argc, char **argv)
{
	struct list_opts o;
	struct items a = {0}, b = {0}, t;
	fg_rule_info ri;
	uint64_t n;
	int e, tty = isatty(STDOUT_FILENO);

	if (c->json) {
		fgc_warn("top draws a screen and has no --json: floodgate "
		         "--json list --top N gives the figures");
		return EXIT_USAGE;
	}
	if ((e = list_options(c, argc, argv, &o, 1)) != 0 ||
	    (e = fgc_seg_open(c)) != 0 ||
	    (o.rule && (e = fgc_rule_find(c, o.rule, &o.ridx, &ri)) != 0))
		return e;
	o.top = top_rows(&o, tty);
	if ((e = scan(c, &o, &a)) != 0)
		goto out;
	for (n = 1; o.frames == 0 || n <= o.frames; n++) {
		window_wait(o.window);
		if ((e = scan(c, &o, &b)) != 0)
			goto out;
		window_diff(&a, &b);
		/* the next window starts from this scan, in slot order */
		t = a;
		a = b;
		b = t;
		if (a.n > 0) {
			b.n = 0;
			if (items_copy(&b, &a) != 0) {
				e = EXIT_SYS;
				goto out;
			}
		}
		top_frame(c, &o, a.n > 0 ? &b : &a, tty, n);
	}
out:
	free(a.v);
	free(b.v);
	return e;
}
