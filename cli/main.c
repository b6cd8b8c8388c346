/* SPDX-License-Identifier: ISC */
/*
 * main.c - floodgate(1): global options, where the segment and the daemon
 * are, and dispatch through the command table (commands.c).
 *
 * Order of checks: the command line first (so a usage error never depends
 * on the machine's state), then the configuration, then whatever the
 * command itself opens.  A command's result reaches stdout only when it
 * succeeds (or, for check, denies): a failure prints its one message on
 * stderr and nothing half-written on stdout.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

struct global {
	const char *segment; /* -s */
	int help, version;
};

/* getopt_long()'s view of the option table. */
static void getopt_tables(struct option *lo, char *so)
{
	const struct fgc_option *o;
	size_t n, i;

	o = fgc_options(&n);
	*so++ = '+'; /* stop at COMMAND: its options are its own */
	*so++ = ':'; /* a missing value is told apart */
	for (i = 0; i < n; i++) {
		lo[i] = (struct option){
		    o[i].name, o[i].arg ? required_argument : no_argument, NULL,
		    o[i].shortopt ? o[i].shortopt : (int)(256 + i)};
		if (o[i].shortopt) {
			*so++ = o[i].shortopt;
			if (o[i].arg)
				*so++ = ':';
		}
	}
	lo[n] = (struct option){NULL, 0, NULL, 0};
	*so = '\0';
}

static int global_option(struct fgc *c, struct global *g, int o)
{
	const char *name =
	    o >= 256 ? fgc_options(&(size_t){0})[o - 256].name : NULL;

	if (o == 's')
		g->segment = optarg;
	else if (o == 'c')
		c->config = optarg;
	else if (o == 'h' || (name && strcmp(name, "help") == 0))
		g->help = 1;
	else if (name && strcmp(name, "json") == 0)
		c->json = 1;
	else if (name && strcmp(name, "version") == 0)
		g->version = 1;
	else
		return -1;
	return 0;
}

/* The options before COMMAND; optind is left at COMMAND. */
static int global_options(struct fgc *c, struct global *g, int argc,
                          char **argv)
{
	struct option lo[16];
	char so[40];
	int o;

	getopt_tables(lo, so);
	opterr = 0;
	while ((o = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		if (o == ':') {
			fgc_warn("option %s needs a value: floodgate --help "
			         "shows it",
			         argv[optind - 1]);
			return EXIT_USAGE;
		}
		if (o == '?' || global_option(c, g, o) != 0) {
			fgc_warn("unknown option %s: floodgate --help lists "
			         "the options",
			         argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	return 0;
}

/* --json and --help may follow the command too: take them out of its
 * arguments (up to a "--", after which a key may be "--json"). */
static int strip_globals(struct fgc *c, struct global *g, int argc, char **argv)
{
	int i, n = 1;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (i < argc)
				argv[n++] = argv[i++];
			break;
		}
		if (strcmp(argv[i], "--json") == 0)
			c->json = 1;
		else if (strcmp(argv[i], "--help") == 0)
			g->help = 1;
		else
			argv[n++] = argv[i];
	}
	argv[n] = NULL;
	return n;
}

/* The segment name from -s, the environment or the default. */
static const char *segment_name(const struct fgc *c, const char *seg_opt)
{
	const char *env = getenv("FLOODGATE_SEGMENT");

	if (seg_opt != NULL || c->config != NULL)
		return seg_opt; /* -s wins over the config */
	return env && env[0] ? env : FG_DEFAULT_SEGMENT;
}

/* Where the segment and the control socket are: -s, -c, environment. */
static int locate(struct fgc *c, const char *seg_opt)
{
	struct fgd_config cfg;
	char err[512];
	int r = 0;

	memset(&cfg, 0, sizeof cfg);
	if (c->config != NULL &&
	    fgd_config_load(c->config, &cfg, err, sizeof err) != 0) {
		fgc_warn("%s; correct the -c file or give another", err);
		return EXIT_CONFIG;
	}
	seg_opt = segment_name(c, seg_opt);
	if (seg_opt != NULL && strlen(seg_opt) > FGD_PATH_MAX) {
		fgc_warn("segment %.64s... is longer than %d bytes: give a "
		         "shorter name or path",
		         seg_opt, FGD_PATH_MAX);
		r = EXIT_USAGE;
		goto out;
	}
	if (seg_opt != NULL)
		strcpy(cfg.segment, seg_opt);
	memcpy(c->segment, cfg.segment, sizeof c->segment);
	if (fg__seg_path(cfg.segment, c->seg_path, sizeof c->seg_path) != 0) {
		fgc_warn("segment %s is not a valid name: give a name of up to "
		         "64 letters, digits, '.', '_' and '-', or an absolute "
		         "path",
		         cfg.segment);
		r = EXIT_USAGE;
		goto out;
	}
	if (fgd_ctl_path(&cfg, c->ctl_path, sizeof c->ctl_path) != 0)
		c->ctl_path[0] = '\0';
	c->tiers = cfg.ov.tiers; /* for override set ... tier NAME */
	c->ntiers = cfg.ov.ntiers;
	cfg.ov.tiers = NULL;
	cfg.ov.ntiers = 0;
out:
	fgd_config_free(&cfg);
	return r;
}

/* Print what the command wrote; its exit status, or EXIT_SYS. */
static int finish(struct fgc *c, int e)
{
	if (c->out.oom) {
		fgc_warn("out of memory");
		e = EXIT_SYS;
	} else if (e == 0 || e == EXIT_DENIED) {
		if (c->json && c->out.len > 0)
			fgd_buf_add(&c->out, "\n", 1);
		if (c->out.len > 0)
			fwrite(c->out.p, 1, c->out.len, stdout);
	}
	fgd_buf_free(&c->out);
	fg_close(c->fg);
	free(c->tiers);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fgc_warn("cannot write the output");
		return EXIT_SYS;
	}
	return e;
}

static int run(struct fgc *c, const struct global *g, int argc, char **argv)
{
	int e;

	if (g->help) {
		fgc_command_usage(stdout, c->cmd);
		return 0;
	}
	if (c->cmd->args[0] == '\0' && argc != 1)
		return fgc_usage_error(c); /* it takes no arguments */
	if (c->cmd->needs != NEEDS_NOTHING && (e = locate(c, g->segment)) != 0)
		return e;
	fgu_json_init(&c->j, &c->out);
	optind = 0; /* each command parses its own options (0: glibc starts
	             * afresh, in its default, permuting mode) */
	opterr = 0;
	e = c->cmd->run(c, argc, argv);
	return finish(c, e);
}

int main(int argc, char **argv)
{
	struct fgc c = {0};
	struct global g = {0};
	int e, sub_argc;

	if ((e = global_options(&c, &g, argc, argv)) != 0)
		return e;
	if (g.version) {
		printf("floodgate %s\n", FG_VERSION_STRING);
		return 0;
	}
	if (g.help || optind >= argc) {
		fgc_usage(g.help ? stdout : stderr);
		return g.help ? 0 : EXIT_USAGE;
	}
	c.cmd = fgc_command(argv[optind]);
	if (c.cmd == NULL) {
		fgc_warn("unknown command '%s': floodgate --help lists them",
		         argv[optind]);
		return EXIT_USAGE;
	}
	sub_argc = strip_globals(&c, &g, argc - optind, argv + optind);
	return run(&c, &g, sub_argc, argv + optind);
}
