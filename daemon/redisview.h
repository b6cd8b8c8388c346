/* SPDX-License-Identifier: ISC */
/*
 * redisview.h - what operators see of the Redis transport (redis/): its
 * line in the control socket's status (floodgate status), its families
 * in /metrics, listed in floodgated(8) under METRICS.
 */
#ifndef FGD_REDISVIEW_H
#define FGD_REDISVIEW_H

#include <stdint.h>

#include "redis/transport.h"
#include "util/buf.h"

/* "redis url=... state=closed|open|half-open connected=0|1 ..." and a
 * newline (values without blanks: the reason as a word, conn.h). */
void fgd_redis_status(struct fgd_buf *o, const struct fgr_sync *s,
                      uint64_t now_ms);

/* The floodgate_redis_* families; @arg is the struct fgr_sync (the
 * node's metrics_more hook, node.h). */
void fgd_redis_metrics(struct fgd_buf *b, const void *arg, uint64_t now_ms);

#endif
