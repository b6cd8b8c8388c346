/* SPDX-License-Identifier: ISC */
/*
 * test_demo.c - the demos tell the truth, and the live chart fits a
 * terminal.
 *
 * The chart (demo/chart.c) is checked on its own: what a bar at, under
 * and over the limit looks like, scrolling, and that every line of a
 * frame, colours and all, stays within 79 columns so a frame fits an 80x24
 * terminal and redraws in place.
 *
 * The cluster demo is run as scripts/demo.sh runs it, for 2 s, from the
 * build directory ($FLOODGATE_DEMOS, set by make check), on UDP ports of
 * this helper's range (24500-24999), and its output read back: the
 * figure it prints as admitted - in its last line or chart frame, and in
 * its summary - must equal, node by node, what each daemon says it
 * harvested from its segment (its SIGUSR1 counters): a second source,
 * counted by another process from the shared memory the workers wrote.
 * The single-host demo checks its workers' counts against the segment's
 * own counters and says so; it must pass.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "demo/chart.h"

#define NODES  3
#define OUTMAX (1u << 20)

TestSuite(demo, .timeout = 90);

/* ---------------------------------------------------------- the chart */

/* Draw @ch into a string; the caller frees it. */
static char *render(struct fgc_chart *ch, const char *const *foot, int n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	cr_assert_eq(fgc_chart_draw(ch, f, "title", foot, n), 0);
	cr_assert_eq(fclose(f), 0);
	return buf;
}

/* The visible width of each line of @s (escape sequences and \r take no
 * room); the widest, and the number of lines in *@lines. */
static int widest_line(const char *s, int *lines)
{
	int w = 0, max = 0;

	*lines = 0;
	for (; *s != '\0'; s++) {
		if (*s == '\033') {
			s++;
			if (*s == '[')
				while (s[1] != '\0' &&
				       !((s[1] >= 'A' && s[1] <= 'Z') ||
				         (s[1] >= 'a' && s[1] <= 'z')))
					s++;
			s++; /* the final letter */
			continue;
		}
		if (*s == '\n') {
			(*lines)++;
			w = 0;
		} else if (*s != '\r') {
			w++;
		}
		if (w > max)
			max = w;
	}
	return max;
}

Test(demo, a_bar_at_the_limit_tops_out_on_the_limit_line)
{
	struct fgc_chart ch;
	int lim = fgc_chart_limit_row(), row;

	fgc_chart_init(&ch, 200, 200, 0);
	fgc_chart_add(&ch, 200);
	cr_expect_eq(fgc_chart_cell(&ch, lim, 0), '=');
	cr_expect_eq(fgc_chart_cell(&ch, lim - 1, 0), ' ', "nothing above");
	for (row = lim + 1; row < FGC_CHART_ROWS; row++)
		cr_expect_eq(fgc_chart_cell(&ch, row, 0), '#');
	cr_expect_eq(fgc_chart_cell(&ch, lim, 1), '-', "no bar: the line");
}

Test(demo, bars_show_half_cells_and_a_bar_over_the_top_ends_in_a_caret)
{
	struct fgc_chart ch;
	int bottom = FGC_CHART_ROWS - 1;
	double half = 200.0 * 2 / FGC_CHART_ROWS / 2; /* a half cell */

	fgc_chart_init(&ch, 200, 200, 0);
	fgc_chart_add(&ch, 0);
	fgc_chart_add(&ch, half);
	fgc_chart_add(&ch, 2 * half);
	fgc_chart_add(&ch, 1e6);
	cr_expect_eq(fgc_chart_cell(&ch, bottom, 0), ' ', "0: no bar");
	cr_expect_eq(fgc_chart_cell(&ch, bottom, 1), '.');
	cr_expect_eq(fgc_chart_cell(&ch, bottom - 1, 1), ' ');
	cr_expect_eq(fgc_chart_cell(&ch, bottom, 2), '#');
	cr_expect_eq(fgc_chart_cell(&ch, bottom - 1, 2), ' ');
	cr_expect_eq(fgc_chart_cell(&ch, 0, 3), '^');
	cr_expect_eq(fgc_chart_cell(&ch, bottom, 3), '#');
}

Test(demo, the_chart_scrolls_left_once_full)
{
	struct fgc_chart ch;
	int k, bottom = FGC_CHART_ROWS - 1;

	fgc_chart_init(&ch, 100, 200, 0);
	fgc_chart_add(&ch, 100);
	for (k = 0; k < FGC_CHART_COLS; k++)
		fgc_chart_add(&ch, 0);
	cr_expect_eq(ch.n, FGC_CHART_COLS);
	cr_expect_eq(fgc_chart_cell(&ch, bottom, 0), ' ',
	             "the first sample scrolled out");
	fgc_chart_add(&ch, 100);
	cr_expect_eq(fgc_chart_cell(&ch, bottom, FGC_CHART_COLS - 1), '#');
}

Test(demo, a_frame_fits_80x24_in_colour_and_redraws_over_itself)
{
	static const char long_line[] =
	    "0123456789012345678901234567890123456789012345678901234567890"
	    "12345678901234567890123456789 cut";
	const char *foot[FGC_CHART_FOOT] = {long_line, "b", "c", "d", "e"};
	struct fgc_chart ch;
	char *s, prefix[32];
	int k, lines;

	fgc_chart_init(&ch, 200, 200, 1);
	for (k = 0; k < FGC_CHART_COLS + 7; k++)
		fgc_chart_add(&ch, (k % 9) * 60.0); /* 0 to 2.4x the limit */
	s = render(&ch, foot, FGC_CHART_FOOT);
	cr_expect(strstr(s, "\033[3") != NULL, "coloured");
	cr_expect_leq(widest_line(s, &lines), FGC_CHART_WIDTH);
	cr_expect_eq(lines, FGC_CHART_LINES);
	cr_expect_leq(FGC_CHART_LINES, 23, "a frame and a prompt fit 24 rows");
	free(s);
	s = render(&ch, foot, FGC_CHART_FOOT);
	snprintf(prefix, sizeof prefix, "\r\033[%dA", FGC_CHART_LINES);
	cr_expect_eq(strncmp(s, prefix, strlen(prefix)), 0,
	             "a redraw starts by moving up over the last frame");
	free(s);
	s = NULL;
	{
		size_t len;
		FILE *f = open_memstream(&s, &len);

		cr_assert_eq(fgc_chart_done(&ch, f), 0);
		fclose(f);
		cr_expect_str_eq(s, "\033[?25h", "the cursor comes back");
		free(s);
	}
}

/* ---------------------------------------------------------- the demos */

/* Run @cmd (in the demos' directory) and return its output (stdout and
 * stderr) in @out and its exit status. */
static int run_demo(const char *cmd, char *out, size_t cap)
{
	const char *dir = getenv("FLOODGATE_DEMOS");
	char line[1024];
	size_t len = 0, n;
	FILE *p;
	int st;

	snprintf(line, sizeof line, "exec %s/%s 2>&1", dir ? dir : "./demo",
	         cmd);
	p = popen(line, "r");
	cr_assert_not_null(p, "%s", line);
	while (len + 1 < cap && (n = fread(out + len, 1, cap - 1 - len, p)) > 0)
		len += n;
	out[len] = '\0';
	st = pclose(p);
	cr_assert(WIFEXITED(st), "%s: status %#x", cmd, st);
	return WEXITSTATUS(st);
}

/* What the cluster demo printed, read back. */
struct figures {
	unsigned long long live_last; /* last figure in the live view */
	unsigned long long summary[NODES + 1], harvested[NODES];
	unsigned long long workers_said[NODES]; /* in the counters lines */
	int have_summary[NODES + 1], have_harvest[NODES], ticks, monotonic;
};

/* Parse the summary table and the daemons' counters from @out. */
static void parse_summary(char *out, struct figures *f)
{
	char *line, *save = NULL;
	unsigned long long a, b;
	int i;

	for (line = strtok_r(out, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "node%d %llu", &i, &a) == 2 && i >= 0 &&
		    i < NODES) {
			f->summary[i] = a;
			f->have_summary[i] = 1;
		} else if (sscanf(line, "cluster %llu", &a) == 1) {
			f->summary[NODES] = a;
			f->have_summary[NODES] = 1;
		} else if (sscanf(line,
		                  "  node%d: harvested %llu (its workers "
		                  "admitted %llu)",
		                  &i, &a, &b) == 3 &&
		           i >= 0 && i < NODES) {
			f->harvested[i] = a;
			f->workers_said[i] = b;
			f->have_harvest[i] = 1;
		}
	}
}

/* Every number the demo printed as admitted agrees with every other and
 * with the daemons' own counts. */
static void expect_agreement(const struct figures *f, const char *out)
{
	unsigned long long sum = 0, harvest = 0;
	int i;

	for (i = 0; i <= NODES; i++)
		cr_assert(f->have_summary[i], "summary row %d missing:\n%s", i,
		          out);
	for (i = 0; i < NODES; i++) {
		cr_assert(f->have_harvest[i], "node%d's counters missing:\n%s",
		          i, out);
		cr_expect_eq(f->harvested[i], f->summary[i],
		             "node%d: the demo says its workers admitted %llu, "
		             "its daemon harvested %llu",
		             i, f->summary[i], f->harvested[i]);
		cr_expect_eq(f->workers_said[i], f->summary[i]);
		sum += f->summary[i];
		harvest += f->harvested[i];
	}
	cr_expect_eq(sum, f->summary[NODES], "the nodes add up");
	cr_expect_eq(f->live_last, f->summary[NODES],
	             "the live view's last figure %llu is the total %llu",
	             f->live_last, f->summary[NODES]);
	cr_expect_eq(harvest, f->summary[NODES]);
	cr_expect_gt(f->summary[NODES], 0);
}

Test(demo, the_cluster_demo_prints_as_admitted_what_the_daemons_harvested)
{
	char *out = malloc(OUTMAX), *copy, *line, *save = NULL;
	struct figures f = {.monotonic = 1};
	unsigned long long prev = 0, a;
	double t;
	int rc;

	cr_assert_not_null(out);
	rc =
	    run_demo("floodgate-cluster-demo -d 2 -P 24500-24999", out, OUTMAX);
	cr_assert_eq(rc, 0, "the demo failed:\n%s", out);
	cr_expect_null(strchr(out, '\033'), "no escape codes into a pipe");
	copy = strdup(out);
	for (line = strtok_r(copy, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%lf s %llu", &t, &a) == 2) {
			f.ticks++;
			f.monotonic &= a >= prev;
			prev = a;
		} else if (sscanf(line, " end %llu", &a) == 1) {
			f.live_last = a;
		}
	}
	free(copy);
	cr_expect_geq(f.ticks, 3, "a line every 500 ms:\n%s", out);
	cr_expect(f.monotonic, "the running total never goes back");
	cr_expect_leq(prev, f.live_last);
	parse_summary(out, &f);
	expect_agreement(&f, out);
	free(out);
}

Test(demo, the_cluster_demo_chart_fits_80x24_and_ends_on_the_exact_total)
{
	char *out = malloc(OUTMAX), *p, *start, *end, *frames;
	struct figures f = {0};
	int lines, rc;
	size_t n;

	cr_assert_not_null(out);
	rc = run_demo("floodgate-cluster-demo -d 2 -m chart -P 24500-24999",
	              out, OUTMAX);
	cr_assert_eq(rc, 0, "the demo failed:\n%s", out);
	start = strstr(out, "\033[?25l");
	end = strstr(out, "\033[?25h");
	cr_assert(start != NULL && end != NULL && end > start,
	          "the chart hides the cursor and shows it again");
	n = (size_t)(end - start);
	frames = strndup(start, n);
	cr_expect_leq(widest_line(frames, &lines), FGC_CHART_WIDTH);
	cr_expect_geq(lines / FGC_CHART_LINES, 5, "%d lines: 5 frames a s",
	              lines);
	/* the last frame's total */
	for (p = frames; (p = strstr(p, "admitted so far ")) != NULL; p++)
		cr_assert_eq(sscanf(p, "admitted so far %llu", &f.live_last),
		             1);
	free(frames);
	parse_summary(out, &f);
	expect_agreement(&f, out);
	free(out);
}

Test(demo, the_single_host_demo_finds_its_segment_agrees_with_its_workers)
{
	char *out = malloc(OUTMAX);
	int rc;

	cr_assert_not_null(out);
	rc = run_demo("floodgate-demo -d 1 -w 2", out, OUTMAX);
	cr_expect_eq(rc, 0, "%s", out);
	cr_expect(strstr(out, "OK: every key stayed within its bound, and "
	                      "the segment agrees") != NULL,
	          "%s", out);
	free(out);
}
