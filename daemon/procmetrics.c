/* SPDX-License-Identifier: ISC */
/*
 * procmetrics.c - the process_* figures of the daemon, from getrusage()
 * and /proc/self: a few small reads a scrape, nothing kept between them.
 * Their names are the standard ones (no floodgate_ prefix), so that the
 * dashboards made for any exporter read them.
 */
#include "daemon/procmetrics.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* A family of one unlabelled sample, any name (process_*). */
static void pfamily(struct fgd_buf *b, const char *name, const char *type,
                    const char *help, int prec, double v)
{
	fgd_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.*f\n", name, help,
	               name, type, name, prec, v);
}

/* Inside the daemon: the process, as client libraries export it
 * (process_*), from getrusage() and /proc/self: a few small reads. */
static void process_memory(struct fgd_buf *b)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned long long vsz = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (f == NULL)
		return;
	if (fscanf(f, "%llu %llu", &vsz, &rss) == 2 && page > 0) {
		pfamily(b, "process_virtual_memory_bytes", "gauge",
		        "Virtual memory size in bytes.", 0,
		        (double)vsz * (double)page);
		pfamily(b, "process_resident_memory_bytes", "gauge",
		        "Resident memory size in bytes.", 0,
		        (double)rss * (double)page);
	}
	fclose(f);
}

static void process_fds(struct fgd_buf *b)
{
	struct rlimit rl;
	DIR *dir = opendir("/proc/self/fd");

	if (dir != NULL) {
		unsigned long long nfd = 0;

		while (readdir(dir) != NULL)
			nfd++;
		closedir(dir);
		/* ".", ".." and the directory's own descriptor */
		pfamily(b, "process_open_fds", "gauge",
		        "Number of open file descriptors.", 0,
		        nfd >= 3 ? (double)(nfd - 3) : 0.0);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		pfamily(b, "process_max_fds", "gauge",
		        "Maximum number of open file descriptors.", 0,
		        (double)rl.rlim_cur);
}

/* When we started, in seconds of the Unix epoch: clock ticks after boot
 * (field 22 of /proc/self/stat) plus the boot time; 0 if unknown. */
static double start_time(void)
{
	unsigned long long start = 0, btime = 0;
	long tck = sysconf(_SC_CLK_TCK);
	char line[256];
	FILE *f;

	if ((f = fopen("/proc/self/stat", "re")) != NULL) {
		const char *p = fgets(line, sizeof line, f) != NULL
		                    ? strrchr(line, ')')
		                    : NULL;

		if (p == NULL || sscanf(p + 2,
		                        "%*c %*d %*d %*d %*d %*d %*u "
		                        "%*u %*u %*u %*u %*u %*u %*d "
		                        "%*d %*d %*d %*d %*d %llu",
		                        &start) != 1)
			start = 0;
		fclose(f);
	}
	if ((f = fopen("/proc/stat", "re")) != NULL) {
		while (fgets(line, sizeof line, f) != NULL)
			if (sscanf(line, "btime %llu", &btime) == 1)
				break;
		fclose(f);
	}
	if (start == 0 || btime == 0 || tck <= 0)
		return 0;
	return (double)btime + (double)start / (double)tck;
}

void fgd_metrics_process(struct fgd_buf *b)
{
	struct rusage ru;
	double start = start_time();

	if (getrusage(RUSAGE_SELF, &ru) == 0)
		pfamily(b, "process_cpu_seconds_total", "counter",
		        "User and system CPU time spent, in seconds.", 6,
		        ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
		            (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	process_memory(b);
	process_fds(b);
	if (start != 0)
		pfamily(b, "process_start_time_seconds", "gauge",
		        "Start time of the process since the Unix epoch, in "
		        "seconds.",
		        2, start);
}
