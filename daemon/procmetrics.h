/* SPDX-License-Identifier: ISC */
/*
 * procmetrics.h - the daemon's process as Prometheus client libraries
 * export it (process_*): procmetrics.c.
 */
#ifndef FGD_PROCMETRICS_H
#define FGD_PROCMETRICS_H

#include "util/buf.h"

/* process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_open_fds, process_max_fds and
 * process_start_time_seconds of the calling process, those it can read. */
void fgd_metrics_process(struct fgd_buf *b);

#endif
