/* SPDX-License-Identifier: ISC */
/*
 * cmdline.c - floodgated's options (see cmdline.h and floodgated(8)).
 *
 * The SYNOPSIS lines below and the options table are the whole command
 * line; floodgated(8) has the same SYNOPSIS, and tests/test_floodgated.c
 * checks that every option the table has is in the page.
 */
#include "daemon/cmdline.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gossip/keys.h"
#include "lib/floodgate.h"

static const char *const synopsis[] = {
    "[-fv] -c FILE",
    "-t -c FILE",
    "--keygen PATH [NAME]",
    "-h | -V",
};

static const struct opt {
	const char *name;
	int val;         /* its short option; > 0xff: long only */
	const char *arg; /* NULL: takes none */
	const char *help;
} opts[] = {
    {"config", 'c', "FILE", "the configuration (floodgate.conf(5))"},
    {"foreground", 'f', NULL, "stay in the foreground, log to stderr"},
    {"verbose", 'v', NULL, "log debug messages too"},
    {"test", 't', NULL,
     "check the configuration, keys and paths, print\n"
     "\"configuration ok\" or every error, exit 0 or 1"},
    {"keygen", 0x100, "PATH [NAME]",
     "write a new node key pair: PATH (secret, 0600) and\n"
     "PATH.pub (its keyring line \"NAME KEY\"), and exit"},
    {"help", 'h', NULL, "print this help and exit"},
    {"version", 'V', NULL, "print the version and exit"},
};
#define NOPTS (sizeof opts / sizeof opts[0])

void fgd_cmdline_usage(FILE *f)
{
	size_t i;

	for (i = 0; i < sizeof synopsis / sizeof synopsis[0]; i++)
		fprintf(f, "%s floodgated %s\n",
		        i ? "      " : "usage:", synopsis[i]);
	for (i = 0; i < NOPTS; i++) {
		const char *h = opts[i].help, *nl;
		char head[48];

		snprintf(head, sizeof head, "%c%c%c --%s%s%s",
		         opts[i].val <= 0xff ? '-' : ' ',
		         opts[i].val <= 0xff ? opts[i].val : ' ',
		         opts[i].val <= 0xff ? ',' : ' ', opts[i].name,
		         opts[i].arg ? " " : "",
		         opts[i].arg ? opts[i].arg : "");
		for (; (nl = strchr(h, '\n')) != NULL; h = nl + 1) {
			fprintf(f, "  %-24s %.*s\n", head, (int)(nl - h), h);
			head[0] = '\0';
		}
		fprintf(f, "  %-24s %s\n", head, h);
	}
}

/* getopt_long's two arguments, from the table. */
static void getopt_args(char *shortopts, struct option *longopts)
{
	size_t i, n = 0;

	shortopts[n++] = '+'; /* stop at the first operand: keygen's NAME */
	for (i = 0; i < NOPTS; i++) {
		longopts[i] = (struct option){
		    opts[i].name, opts[i].arg ? required_argument : no_argument,
		    NULL, opts[i].val};
		if (opts[i].val > 0xff)
			continue;
		shortopts[n++] = (char)opts[i].val;
		if (opts[i].arg)
			shortopts[n++] = ':';
	}
	shortopts[n] = '\0';
	longopts[NOPTS] = (struct option){NULL, 0, NULL, 0};
}

/* FGD_EXIT with @status; the usage on stderr when it is an error. */
static void set_exit(struct fgd_cmdline *cl, int status)
{
	cl->mode = FGD_EXIT;
	cl->status = status;
	if (status != 0)
		fgd_cmdline_usage(stderr);
}

/* The mode the options ask for, once they are read: one at a time, and
 * what each needs. */
static void mode_check(struct fgd_cmdline *cl, int test, int argc, char **argv)
{
	int operands = argc - optind;

	if (cl->keygen_path) {
		if (test || cl->config || operands > 1)
			set_exit(cl, 2);
		else
			cl->keygen_name = operands ? argv[optind] : NULL;
		if (cl->mode != FGD_EXIT)
			cl->mode = FGD_KEYGEN;
	} else if (cl->config == NULL || operands != 0) {
		set_exit(cl, 2);
	} else {
		cl->mode = test ? FGD_TEST : FGD_RUN;
	}
}

void fgd_cmdline_parse(int argc, char **argv, struct fgd_cmdline *cl)
{
	char shortopts[2 * NOPTS + 2];
	struct option longopts[NOPTS + 1];
	int o, test = 0;

	memset(cl, 0, sizeof *cl);
	getopt_args(shortopts, longopts);
	while (cl->mode != FGD_EXIT &&
	       (o = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		switch (o) {
		case 'c':
			cl->config = optarg;
			break;
		case 'f':
			cl->foreground = 1;
			break;
		case 'v':
			cl->verbose = 1;
			break;
		case 't':
			test = 1;
			break;
		case 0x100:
			cl->keygen_path = optarg;
			break;
		case 'h':
			fgd_cmdline_usage(stdout);
			set_exit(cl, 0);
			break;
		case 'V':
			printf("floodgated %s\n", FG_VERSION_STRING);
			set_exit(cl, 0);
			break;
		default: /* getopt said what */
			set_exit(cl, 2);
			break;
		}
	}
	if (cl->mode != FGD_EXIT)
		mode_check(cl, test, argc, argv);
}

int fgd_cmdline_keygen(const struct fgd_cmdline *cl)
{
	char err[512], host[64];
	const char *name = cl->keygen_name;

	if (name == NULL) {
		if (gethostname(host, sizeof host) != 0)
			snprintf(host, sizeof host, "node");
		host[sizeof host - 1] = '\0';
		name = host;
	}
	if (fgk_keygen(cl->keygen_path, name, err, sizeof err) != 0) {
		fprintf(stderr, "floodgated: %s\n", err);
		return 1;
	}
	printf("secret key: %s\npublic key: %s.pub (add its line to every "
	       "node's keyring)\n",
	       cl->keygen_path, cl->keygen_path);
	return 0;
}
