/* SPDX-License-Identifier: ISC */
/*
 * commands.c - floodgate(1)'s command and option tables, and the usage
 * text generated from them.
 *
 * The tables are the one list of what the tool does: main.c dispatches
 * from them, --help prints them, and tests/test_man.c checks that
 * floodgate(1) has an entry for each row and a row for each entry.  A new
 * command is a row here, a handler in the file of its group, and its
 * paragraph in man/floodgate.1.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct fgc_command commands[] = {
    {"status", fgc_cmd_status, "", NEEDS_SEGMENT,
     "segment, rules, daemon and peers at a glance"},
    {"rules", fgc_cmd_rules, "", NEEDS_SEGMENT,
     "the rules in force, as workers see them"},
    {"list", fgc_cmd_list,
     "[--rule RULE] [--prefix PREFIX] [--top N [--window MS]]", NEEDS_SEGMENT,
     "keys and their buckets; --top: the heaviest now"},
    {"top", fgc_cmd_top,
     "[--rule RULE] [--prefix PREFIX] [--keys N] [--window MS] [--frames N]",
     NEEDS_SEGMENT, "list --top, redrawn every window like top(1)"},
    {"get", fgc_cmd_get, "RULE KEY", NEEDS_SEGMENT,
     "one bucket, and what other hosts took of it"},
    {"check", fgc_cmd_check, "RULE KEY [--cost N]", NEEDS_SEGMENT,
     "take N tokens: exit 0 allowed, 1 denied"},
    {"reset", fgc_cmd_reset, "RULE KEY", NEEDS_SEGMENT,
     "refill one bucket (segment owner or root)"},
    {"override", fgc_cmd_override,
     "set RULE key|prefix KEY LIMIT | rm RULE key|prefix KEY | list [RULE]",
     NEEDS_SEGMENT, "a key's own capacity and rate (owner or root)"},
    {"peers", fgc_cmd_peers, "", NEEDS_DAEMON,
     "the daemon's peers and what it holds of them"},
    {"stats", fgc_cmd_stats, "[--prometheus]", NEEDS_SEGMENT,
     "counters of the segment and the daemon"},
    {"reload", fgc_cmd_reload, "", NEEDS_DAEMON,
     "make the daemon re-read its configuration"},
    {"remove", fgc_cmd_remove, "", NEEDS_SEGMENT,
     "remove the segment and its memory (owner or root)"},
    {"keygen", fgc_cmd_keygen, "PATH [NAME]", NEEDS_NOTHING,
     "write a new node key pair for gossip"},
};

static const struct fgc_option options[] = {
    {"segment", 's', "SEGMENT", "name or path (default $FLOODGATE_SEGMENT)"},
    {"config", 'c', "CONFIG", "floodgate.conf naming segment and socket"},
    {"json", 0, NULL, "JSON output, before or after COMMAND"},
    {"help", 'h', NULL, "this text; COMMAND --help: one command's"},
    {"version", 0, NULL, "the version"},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

const struct fgc_command *fgc_commands(size_t *n)
{
	*n = N(commands);
	return commands;
}

const struct fgc_option *fgc_options(size_t *n)
{
	*n = N(options);
	return options;
}

const struct fgc_command *fgc_command(const char *name)
{
	size_t i;

	for (i = 0; i < N(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* "  NAME ARGS" then the help at column 30, or on the next line. */
static void usage_row(FILE *f, const char *name, const char *args,
                      const char *help)
{
	int w = fprintf(f, "  %s%s%s", name, args[0] ? " " : "", args);

	if (w >= 30)
		fprintf(f, "\n%30s%s\n", "", help);
	else
		fprintf(f, "%*s%s\n", 30 - w, "", help);
}

void fgc_usage(FILE *f)
{
	char opt[64];
	size_t i;

	fprintf(f, "usage: floodgate [-s SEGMENT] [-c CONFIG] [--json] "
	           "COMMAND [ARGUMENTS]\n"
	           "       floodgate --help | --version\n"
	           "commands:\n");
	for (i = 0; i < N(commands); i++)
		usage_row(f, commands[i].name, commands[i].args,
		          commands[i].help);
	fprintf(f, "options:\n");
	for (i = 0; i < N(options); i++) {
		const struct fgc_option *o = &options[i];

		if (o->shortopt)
			snprintf(opt, sizeof opt, "-%c, --%s%s%s", o->shortopt,
			         o->name, o->arg ? " " : "",
			         o->arg ? o->arg : "");
		else
			snprintf(opt, sizeof opt, "    --%s%s%s", o->name,
			         o->arg ? " " : "", o->arg ? o->arg : "");
		usage_row(f, opt, "", o->help);
	}
	fprintf(f, "see floodgate(1) for each command and every exit status\n");
}

void fgc_command_usage(FILE *f, const struct fgc_command *cmd)
{
	fprintf(f, "usage: floodgate %s%s%s\n%s%s\n", cmd->name,
	        cmd->args[0] ? " " : "", cmd->args, cmd->help,
	        cmd->needs == NEEDS_DAEMON ? " (needs floodgated)" : "");
}
