/* SPDX-License-Identifier: ISC */
/*
 * say.c - what every command of floodgate(1) says, and how: a message to
 * stderr ("floodgate: ..."), its output (gathered, printed once the
 * command is done), a usage error, a bad option, a number out of range.
 * One sentence each, the fix included (floodgate(1), DIAGNOSTICS).  At
 * the bottom of the CLI: it knows a command by its row, never the table.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "util/num.h"

void fgc_warn(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "floodgate: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void fgc_out(struct fgc *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fgd_buf_vprintf(&c->out, fmt, ap);
	va_end(ap);
}

int fgc_usage_error(const struct fgc *c)
{
	const struct fgc_command *cmd = c->cmd;

	fgc_warn("usage: floodgate %s%s%s", cmd->name, cmd->args[0] ? " " : "",
	         cmd->args);
	return EXIT_USAGE;
}

int fgc_bad_option(const struct fgc *c, char **argv, int optind_now, int o)
{
	const struct fgc_command *cmd = c->cmd;

	fgc_warn("%s: %s %s; usage: floodgate %s %s", cmd->name,
	         argv[optind_now - 1],
	         o == ':' ? "needs a value" : "is not one of its options",
	         cmd->name, cmd->args);
	return EXIT_USAGE;
}

int fgc_uint_arg(const char *opt, const char *s, uint64_t min, uint64_t max,
                 const char *unit, uint64_t *v)
{
	int e = fgu_parse_uint(s, strlen(s), min, max, v);

	if (e == 0)
		return 0;
	fgc_warn("%s %s %s: give a whole number of %s from %llu to %llu", opt,
	         s, fgu_num_strerror(e), unit, (unsigned long long)min,
	         (unsigned long long)max);
	return EXIT_USAGE;
}
