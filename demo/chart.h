/* SPDX-License-Identifier: ISC */
/*
 * chart.h - a moving bar chart of a rate against its limit, drawn in a
 * terminal with plain ANSI escapes (no curses): the live view of the
 * cluster demo.
 *
 * One bar per sample, newest on the right; when the plot is full it
 * scrolls left.  The y axis runs from 0 to twice the limit in
 * FGC_CHART_ROWS rows of two half-cells each ('.' a lower half, '#' a full
 * cell); the row holding the limit is drawn as a line, '-' where no bar
 * reaches it and '=' where one does, so the line stays visible under bars
 * that hug it.  A bar above the top ends in '^'.  Colour (bars green up to
 * the limit, red above it) is optional: the chart reads the same without.
 *
 * A frame is a title line, the plot, an x axis with its labels and the
 * caller's footer lines, each at most FGC_CHART_WIDTH columns, so that a
 * frame with up to FGC_CHART_FOOT footer lines fits an 80x24 terminal.
 * Redrawing moves the cursor up over the previous frame and overwrites
 * it line by line, clearing to the end of each: no full-screen clear, so
 * whatever was printed above the chart stays.
 */
#ifndef FG_DEMO_CHART_H
#define FG_DEMO_CHART_H

#include <stdint.h>
#include <stdio.h>

#define FGC_CHART_ROWS  14 /* plot rows */
#define FGC_CHART_COLS  60 /* samples shown */
#define FGC_CHART_WIDTH 79 /* columns of any line, at most */
#define FGC_CHART_FOOT  5  /* footer lines, at most */
/* title + plot + axis + labels + footer */
#define FGC_CHART_LINES (1 + FGC_CHART_ROWS + 2 + FGC_CHART_FOOT)

struct fgc_chart {
	double limit;             /* per second */
	unsigned tick_ms;         /* time per sample, for the x labels */
	int color;                /* 1: SGR colours */
	double v[FGC_CHART_COLS]; /* the samples shown, oldest first */
	int n;                    /* how many */
	uint64_t added;           /* samples ever added */
	int lines;                /* of the frame last drawn: 0 before */
};

void fgc_chart_init(struct fgc_chart *ch, double limit, unsigned tick_ms,
                    int color);

/* Append a sample (a rate per second); the oldest scrolls out. */
void fgc_chart_add(struct fgc_chart *ch, double rate);

/*
 * fgc_chart_draw() - draw the frame, over the previous one if any:
 * @title above the plot, @nfoot (<= FGC_CHART_FOOT) lines of @foot below;
 * longer lines are cut at FGC_CHART_WIDTH.  0, or -1 on a write error.
 */
int fgc_chart_draw(struct fgc_chart *ch, FILE *out, const char *title,
                   const char *const *foot, int nfoot);

/* Show the cursor again (hidden while frames are drawn), if drawn. */
int fgc_chart_done(struct fgc_chart *ch, FILE *out);

/* The character of plot row @row (0: top) in column @col; for tests. */
char fgc_chart_cell(const struct fgc_chart *ch, int row, int col);

/* Plot row that holds the limit (0: top). */
int fgc_chart_limit_row(void);

#endif
