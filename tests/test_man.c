/* SPDX-License-Identifier: ISC */
/*
 * test_man.c - the man pages describe exactly what the tables define:
 * every command of floodgate's command table (cli/commands.c) has its
 * entry under COMMANDS in floodgate(1), with the same options, and every
 * entry there is a command; every global option is documented and every
 * documented option exists; every directive of floodgate.conf's table
 * (daemon/config.c) has its entry in floodgate.conf(5) and vice versa.
 *
 * The pages are read as mdoc(7) text: an entry is an ".It" of a list at
 * the top level of its section, named by its first Ic macro (on the line,
 * or on the next one after ".It Xo"); options are "Fl -name".
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "daemon/config.h"

#define MAX_ENTRIES 64

struct entries {
	size_t n;
	char name[MAX_ENTRIES][64];
	char line[MAX_ENTRIES][512]; /* the .It line (or the one after Xo) */
};

static FILE *man_open(const char *page)
{
	const char *srcdir = getenv("srcdir");
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/man/%s", srcdir ? srcdir : ".", page);
	f = fopen(path, "r");
	cr_assert_not_null(f, "cannot read %s", path);
	return f;
}

/* The first word after "Ic " in @line, into @out; 0 if there is none. */
static int ic_word(const char *line, char *out, size_t len)
{
	const char *p = strstr(line, "Ic ");
	size_t n;

	if (p == NULL)
		return 0;
	p += 3;
	n = strcspn(p, " \n");
	if (n == 0 || n >= len)
		return 0;
	memcpy(out, p, n);
	out[n] = '\0';
	return 1;
}

/* Track .Sh and list depth; 1 when @line is an entry of @section. */
static int top_entry(const char *line, const char *section, int *in, int *depth)
{
	if (strncmp(line, ".Sh ", 4) == 0) {
		*in = strncmp(line + 4, section, strlen(section)) == 0 &&
		      line[4 + strlen(section)] == '\n';
		*depth = 0;
	} else if (strncmp(line, ".Bl ", 4) == 0) {
		++*depth;
	} else if (strncmp(line, ".El", 3) == 0) {
		--*depth;
	}
	return *in && *depth == 1 && strncmp(line, ".It ", 4) == 0;
}

/* The entries named by an Ic at the top level of @section's lists. */
static void entries_read(const char *page, const char *section,
                         struct entries *e)
{
	char line[512];
	int in = 0, depth = 0;
	FILE *f = man_open(page);

	memset(e, 0, sizeof *e);
	while (fgets(line, sizeof line, f) != NULL) {
		if (!top_entry(line, section, &in, &depth))
			continue;
		if (strcmp(line, ".It Xo\n") == 0 &&
		    fgets(line, sizeof line, f) == NULL)
			break;
		if (!ic_word(line, e->name[e->n], sizeof e->name[0]))
			continue;
		snprintf(e->line[e->n], sizeof e->line[0], "%s", line);
		cr_assert_lt(++e->n, MAX_ENTRIES);
	}
	fclose(f);
}

static int has(const struct entries *e, const char *name)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		if (strcmp(e->name[i], name) == 0)
			return (int)i + 1;
	return 0;
}

/* @word in @text, not as the start of a longer name. */
static int has_word(const char *text, const char *word)
{
	const char *p;
	size_t n = strlen(word);

	for (p = strstr(text, word); p; p = strstr(p + 1, word))
		if (strchr("abcdefghijklmnopqrstuvwxyz-", p[n]) == NULL ||
		    p[n] == '\0')
			return 1;
	return 0;
}

/* Every "--name" in @args appears as "Fl -name" in @line, and back. */
static void same_options(const char *cmd, const char *args, const char *line)
{
	char opt[64];
	const char *p;

	for (p = strstr(args, "--"); p; p = strstr(p + 2, "--")) {
		snprintf(opt, sizeof opt, "Fl -%.*s", (int)strcspn(p + 2, " ]"),
		         p + 2);
		cr_expect(has_word(line, opt),
		          "floodgate(1): %s lacks %s (its usage: %s)", cmd, opt,
		          args);
	}
	for (p = strstr(line, "Fl -"); p; p = strstr(p + 4, "Fl -")) {
		snprintf(opt, sizeof opt, "--%.*s", (int)strcspn(p + 4, " \n"),
		         p + 4);
		cr_expect(has_word(args, opt),
		          "floodgate(1) gives %s an option %s its table lacks",
		          cmd, opt);
	}
}

Test(man, every_cli_command_has_its_entry_in_floodgate_1_and_back)
{
	const struct fgc_command *cmd;
	struct entries e;
	size_t n, i;
	int k;

	entries_read("floodgate.1", "COMMANDS", &e);
	cmd = fgc_commands(&n);
	cr_assert_gt(n, 0);
	for (i = 0; i < n; i++) {
		k = has(&e, cmd[i].name);
		cr_expect(k != 0, "floodgate(1) has no entry for command %s",
		          cmd[i].name);
		if (k)
			same_options(cmd[i].name, cmd[i].args, e.line[k - 1]);
	}
	for (i = 0; i < e.n; i++)
		cr_expect_not_null(fgc_command(e.name[i]),
		                   "floodgate(1) documents a command %s that "
		                   "the command table lacks",
		                   e.name[i]);
}

/* The option entries of floodgate(1): ".It Fl ..." lines of the list in
 * DESCRIPTION, one name per long option ("Fl -name"). */
static void options_read(struct entries *e)
{
	char line[512];
	int in = 0, depth = 0;
	FILE *f = man_open("floodgate.1");

	memset(e, 0, sizeof *e);
	while (fgets(line, sizeof line, f) != NULL) {
		const char *p;

		if (!top_entry(line, "DESCRIPTION", &in, &depth) ||
		    strncmp(line, ".It Fl", 6) != 0)
			continue;
		for (p = strstr(line, "Fl -"); p; p = strstr(p + 4, "Fl -")) {
			snprintf(e->name[e->n], sizeof e->name[0], "%.*s",
			         (int)strcspn(p + 4, " \n"), p + 4);
			snprintf(e->line[e->n], sizeof e->line[0], "%s", line);
			cr_assert_lt(++e->n, MAX_ENTRIES);
		}
	}
	fclose(f);
}

Test(man, every_global_option_is_documented_and_back)
{
	const struct fgc_option *o;
	char shortopt[8];
	struct entries e;
	size_t n, i, k;

	options_read(&e);
	o = fgc_options(&n);
	for (i = 0; i < n; i++) {
		k = (size_t)has(&e, o[i].name);
		cr_expect(k != 0, "floodgate(1) does not document --%s",
		          o[i].name);
		if (k == 0 || !o[i].shortopt)
			continue;
		snprintf(shortopt, sizeof shortopt, "Fl %c ", o[i].shortopt);
		cr_expect(strstr(e.line[k - 1], shortopt) != NULL,
		          "floodgate(1) does not give --%s its -%c", o[i].name,
		          o[i].shortopt);
	}
	for (k = 0; k < e.n; k++) {
		for (i = 0; i < n; i++)
			if (strcmp(o[i].name, e.name[k]) == 0)
				break;
		cr_expect_lt(i, n,
		             "floodgate(1) documents --%s, which the option "
		             "table lacks",
		             e.name[k]);
	}
}

Test(man, every_config_directive_has_its_entry_in_floodgate_conf_5_and_back)
{
	struct entries e;
	const char *d;
	size_t i, n = 0;

	entries_read("floodgate.conf.5", "DESCRIPTION", &e);
	cr_assert_gt(e.n, 0);
	for (i = 0; (d = fgd_config_directive(i)) != NULL; i++, n++)
		cr_expect(has(&e, d), "floodgate.conf(5) has no entry for %s",
		          d);
	for (i = 0; i < e.n; i++) {
		size_t k;

		for (k = 0; (d = fgd_config_directive(k)) != NULL; k++)
			if (strcmp(d, e.name[i]) == 0)
				break;
		cr_expect_not_null(d,
		                   "floodgate.conf(5) documents a directive %s "
		                   "that config.c's table lacks",
		                   e.name[i]);
	}
	cr_expect_gt(n, 10);
}

Test(man, usage_is_generated_from_the_command_table)
{
	const struct fgc_command *cmd;
	const struct fgc_option *o;
	char *text = NULL, row[256];
	size_t len = 0, n, i;
	FILE *f = open_memstream(&text, &len);

	cr_assert_not_null(f);
	fgc_usage(f);
	cr_assert_eq(fclose(f), 0);
	cmd = fgc_commands(&n);
	for (i = 0; i < n; i++) {
		snprintf(row, sizeof row, "\n  %s%s%s", cmd[i].name,
		         cmd[i].args[0] ? " " : "", cmd[i].args);
		cr_expect(strstr(text, row) != NULL, "usage lacks '%s':\n%s",
		          row + 1, text);
		cr_expect(strstr(text, cmd[i].help) != NULL, "%s", text);
	}
	o = fgc_options(&n);
	for (i = 0; i < n; i++) {
		snprintf(row, sizeof row, "--%s", o[i].name);
		cr_expect(strstr(text, row) != NULL, "usage lacks %s", row);
	}
	/* a terminal's width */
	for (i = 0; text[i]; i += strcspn(text + i, "\n") + 1)
		cr_expect_leq(strcspn(text + i, "\n"), 80, "%s", text + i);
	free(text);
}
