/* SPDX-License-Identifier: ISC */
/*
 * log.h - floodgated's one logger: stderr in the foreground, syslog once
 * it has become a daemon; debug lines only with -v.
 *
 * Every module of the daemon logs through fgd_log (or is handed it, as
 * daemon/persist.h and the Redis transport are), so that where lines go
 * is decided once, here.  The library and gossip/ never log.
 */
#ifndef FGD_LOG_H
#define FGD_LOG_H

#include <stdint.h>

/* With @on, LOG_DEBUG lines too (-v). */
void fgd_log_verbose(int on);

/* From now on, to syslog (after daemon()) instead of stderr. */
void fgd_log_syslog(void);

/* One line at syslog priority @prio. */
void fgd_log(int prio, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The monotonic clock in ms: the daemon's only time, but for the
 * incarnation's first guess and the snapshot's wall-clock stamp. */
uint64_t fgd_now_ms(void);

#endif
