/* SPDX-License-Identifier: ISC */
/*
 * strictview.h - what operators see of the strict rules' server
 * (strict.c): its line in the control socket's status (floodgate status)
 * and its families in /metrics, listed in floodgated(8) under METRICS.
 */
#ifndef FGD_STRICTVIEW_H
#define FGD_STRICTVIEW_H

#include "daemon/strict.h"
#include "util/buf.h"

/* "strict state=... asked=..." and a newline, for floodgate status. */
void fgd_strict_status(struct fgd_buf *o, const struct fgd_strict *s);

/* Its metrics (nothing while off), for GET /metrics and the control
 * socket's "metrics" (daemon/metrics.h's way of writing names). */
void fgd_strict_metrics(struct fgd_buf *b, const struct fgd_strict *s);

#endif
