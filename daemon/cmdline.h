/* SPDX-License-Identifier: ISC */
/*
 * cmdline.h - floodgated's command line: one table of options, from which
 * getopt_long's arguments and the usage text are both made (as
 * wireguard-tools' wg.c makes its usage from its command table), and the
 * mode it asks for.
 */
#ifndef FGD_CMDLINE_H
#define FGD_CMDLINE_H

#include <stdio.h>

enum fgd_mode {
	FGD_RUN,    /* run the daemon */
	FGD_TEST,   /* -t: check the configuration and exit */
	FGD_KEYGEN, /* --keygen PATH [NAME] */
	FGD_EXIT,   /* done already (help, version, usage error): exit
	             * with status */
};

struct fgd_cmdline {
	enum fgd_mode mode;
	int status; /* FGD_EXIT: 0 (help, version) or 2 (usage) */
	const char *config;
	int foreground, verbose;
	const char *keygen_path, *keygen_name; /* name NULL: the host name */
};

/* Parse @argv: fills @cl; prints --help and --version on stdout, usage
 * errors with the usage on stderr (mode FGD_EXIT). */
void fgd_cmdline_parse(int argc, char **argv, struct fgd_cmdline *cl);

/* The usage text, made from the options table. */
void fgd_cmdline_usage(FILE *f);

/* --keygen: write the key pair; the exit status. */
int fgd_cmdline_keygen(const struct fgd_cmdline *cl);

#endif
