/* SPDX-License-Identifier: ISC */
/*
 * log.c - see log.h.  The two settings are the daemon's only globals:
 * set once at start, read by every line.
 */
#include "daemon/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>

static int use_syslog;
static int verbose;

void fgd_log_verbose(int on)
{
	verbose = on;
}

void fgd_log_syslog(void)
{
	openlog("floodgated", LOG_PID, LOG_DAEMON);
	use_syslog = 1;
}

void fgd_log(int prio, const char *fmt, ...)
{
	va_list ap;

	if (prio == LOG_DEBUG && !verbose)
		return;
	va_start(ap, fmt);
	if (use_syslog) {
		vsyslog(prio, fmt, ap);
	} else {
		fprintf(stderr, "floodgated: ");
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}

uint64_t fgd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
