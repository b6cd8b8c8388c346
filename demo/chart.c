/* SPDX-License-Identifier: ISC */
/*
 * chart.c - the moving terminal chart (chart.h).
 *
 * Every line of a frame is built in a buffer first, its visible
 * characters counted apart from its escape sequences, so that no line is
 * wider than FGC_CHART_WIDTH columns whatever the colours: a line of 80
 * columns would leave the cursor in the pending-wrap state of many
 * terminals and shift the next redraw.  The escapes used are ECMA-48's
 * CUU (move up), EL (clear to end of line), SGR (colours) and DEC's
 * cursor visibility (?25l/?25h), which every terminal emulator in use
 * understands.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "demo/chart.h"

#define TOP_X     2.0 /* the top of the plot, in limits */
#define LABEL_W   6   /* y labels: "%6s |" */
#define LIMIT_ROW (FGC_CHART_ROWS / 2)

#define SGR_BAR   "\033[32m"
#define SGR_OVER  "\033[31m"
#define SGR_LIMIT "\033[33m"
#define SGR_OFF   "\033[0m"

/* A line under construction: its bytes and its visible width. */
struct line {
	char buf[512];
	size_t len;
	int cols;
};

/* Append visible text, cut at FGC_CHART_WIDTH columns. */
static void put(struct line *l, const char *s)
{
	for (; *s != '\0' && l->cols < FGC_CHART_WIDTH; s++) {
		if (l->len + 1 >= sizeof l->buf)
			return;
		l->buf[l->len++] = *s;
		l->cols++;
	}
	l->buf[l->len] = '\0';
}

/* Append an escape sequence: no width; dropped when colour is off. */
static void esc(struct line *l, int on, const char *s)
{
	size_t n = strlen(s);

	if (!on || l->len + n + 1 >= sizeof l->buf)
		return;
	memcpy(l->buf + l->len, s, n + 1);
	l->len += n;
}

static void putf(struct line *l, const char *f, ...)
    __attribute__((format(printf, 2, 3)));

static void putf(struct line *l, const char *f, ...)
{
	char tmp[256];
	va_list ap;

	va_start(ap, f);
	(void)vsnprintf(tmp, sizeof tmp, f, ap);
	va_end(ap);
	put(l, tmp);
}

void fgc_chart_init(struct fgc_chart *ch, double limit, unsigned tick_ms,
                    int color)
{
	memset(ch, 0, sizeof *ch);
	ch->limit = limit > 0 ? limit : 1;
	ch->tick_ms = tick_ms ? tick_ms : 1000;
	ch->color = color;
}

void fgc_chart_add(struct fgc_chart *ch, double rate)
{
	if (ch->n == FGC_CHART_COLS) {
		memmove(ch->v, ch->v + 1,
		        sizeof ch->v[0] * (FGC_CHART_COLS - 1));
		ch->n--;
	}
	ch->v[ch->n++] = rate < 0 ? 0 : rate;
	ch->added++;
}

int fgc_chart_limit_row(void)
{
	return LIMIT_ROW;
}

char fgc_chart_cell(const struct fgc_chart *ch, int row, int col)
{
	double top = TOP_X * ch->limit, h2;
	int hb = FGC_CHART_ROWS - 1 - row, filled;

	if (col < 0 || col >= ch->n)
		return row == LIMIT_ROW ? '-' : ' ';
	/* the bar's height in half-cells */
	h2 = floor(ch->v[col] / top * (2 * FGC_CHART_ROWS) + 0.5);
	if (row == 0 && ch->v[col] > top)
		return '^';
	filled = h2 >= 2 * hb + 2 ? 2 : h2 >= 2 * hb + 1 ? 1 : 0;
	if (row == LIMIT_ROW)
		return filled == 2 ? '=' : '-';
	return filled == 2 ? '#' : filled == 1 ? '.' : ' ';
}

/* Plot row @row: its y label, its cells, and the limit's name. */
static void plot_row(const struct fgc_chart *ch, int row, struct line *l)
{
	const char *cur = NULL, *want;
	int col;

	if (row == 0)
		putf(l, "%*.0f |", LABEL_W, TOP_X * ch->limit);
	else if (row == LIMIT_ROW)
		putf(l, "%*.0f |", LABEL_W, ch->limit);
	else
		putf(l, "%*s |", LABEL_W, "");
	for (col = 0; col < FGC_CHART_COLS; col++) {
		char c[2] = {fgc_chart_cell(ch, row, col), '\0'};

		want = row == LIMIT_ROW  ? SGR_LIMIT
		       : row < LIMIT_ROW ? SGR_OVER
		                         : SGR_BAR;
		if (c[0] != ' ' && want != cur) {
			esc(l, ch->color, want);
			cur = want;
		}
		put(l, c);
	}
	esc(l, ch->color && cur != NULL, SGR_OFF);
	if (row == LIMIT_ROW)
		put(l, " limit");
}

/* The x axis and, below it, the time at the end of every 2nd second. */
static void x_axis(const struct fgc_chart *ch, struct line *axis,
                   struct line *labels)
{
	uint64_t first = ch->added - (uint64_t)ch->n;
	int col, free_from = 0;

	putf(axis, "%*s +", LABEL_W, "0");
	putf(labels, "%*s  ", LABEL_W, "");
	for (col = 0; col < FGC_CHART_COLS; col++) {
		uint64_t end_ms = (first + (uint64_t)col + 1) * ch->tick_ms;
		int mark = col < ch->n && end_ms % 2000 < ch->tick_ms;
		char text[24];

		put(axis, mark ? "+" : "-");
		if (mark && col >= free_from) {
			int w = snprintf(text, sizeof text, "%llus",
			                 (unsigned long long)(end_ms / 1000));

			while (labels->cols < LABEL_W + 2 + col)
				put(labels, " ");
			put(labels, text);
			free_from = col + w + 1;
		}
	}
	put(axis, " s");
}

static int emit(FILE *out, const struct line *l)
{
	return fprintf(out, "%s\033[K\n", l->buf) < 0 ? -1 : 0;
}

int fgc_chart_draw(struct fgc_chart *ch, FILE *out, const char *title,
                   const char *const *foot, int nfoot)
{
	struct line l, labels;
	int row, k, rc = 0;

	if (nfoot > FGC_CHART_FOOT)
		nfoot = FGC_CHART_FOOT;
	if (ch->lines > 0)
		rc |= fprintf(out, "\r\033[%dA", ch->lines) < 0;
	else
		rc |= fputs("\033[?25l", out) < 0;
	memset(&l, 0, sizeof l);
	put(&l, title);
	rc |= emit(out, &l);
	for (row = 0; row < FGC_CHART_ROWS; row++) {
		memset(&l, 0, sizeof l);
		plot_row(ch, row, &l);
		rc |= emit(out, &l);
	}
	memset(&l, 0, sizeof l);
	memset(&labels, 0, sizeof labels);
	x_axis(ch, &l, &labels);
	rc |= emit(out, &l);
	rc |= emit(out, &labels);
	for (k = 0; k < nfoot; k++) {
		memset(&l, 0, sizeof l);
		put(&l, foot[k]);
		rc |= emit(out, &l);
	}
	ch->lines = 1 + FGC_CHART_ROWS + 2 + nfoot;
	rc |= fflush(out) != 0;
	return rc ? -1 : 0;
}

int fgc_chart_done(struct fgc_chart *ch, FILE *out)
{
	if (ch->lines == 0)
		return 0;
	ch->lines = 0;
	return fputs("\033[?25h", out) < 0 || fflush(out) != 0 ? -1 : 0;
}
