/* SPDX-License-Identifier: ISC */
/*
 * keygen.c - floodgate keygen: a new node key pair for gossip, as
 * floodgated --keygen writes it (gossip/keys.h): the secret key never
 * overwrites a file, the public key is a keyring line to copy to every
 * node.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli.h"
#include "gossip/keys.h"

/* What to do when writing the key failed with @e. */
static const char *fix(int e)
{
	switch (e) {
	case EEXIST:
		return "; give another path, or remove the old key first";
	case ENOENT:
		return "; create its directory first";
	case EACCES:
	case EPERM:
		return "; run as a user who may write there";
	default:
		return "";
	}
}

int fgc_cmd_keygen(struct fgc *c, int argc, char **argv)
{
	char err[512], host[64], pub[4096];
	const char *name = argc > 2 ? argv[2] : NULL;

	if (argc < 2 || argc > 3)
		return fgc_usage_error(c);
	if (name == NULL) {
		if (gethostname(host, sizeof host) != 0)
			snprintf(host, sizeof host, "node");
		host[sizeof host - 1] = '\0';
		name = host;
	}
	if (sodium_init() < 0) {
		fgc_warn("libsodium failed to initialise: check that the "
		         "system has a random source (/dev/urandom)");
		return EXIT_SYS;
	}
	if (fgk_keygen(argv[1], name, err, sizeof err) != 0) {
		int e = errno;

		fgc_warn("%s%s", err, fix(e));
		return e == EACCES ? EXIT_PERM : EXIT_SYS;
	}
	snprintf(pub, sizeof pub, "%s.pub", argv[1]);
	if (c->json) {
		fgu_json_object(&c->j);
		fgu_json_kstr(&c->j, "name", name);
		fgu_json_kstr(&c->j, "secret_key", argv[1]);
		fgu_json_kstr(&c->j, "public_key", pub);
		fgu_json_object_end(&c->j);
	} else {
		fgc_out(c,
		        "secret key: %s\npublic key: %s (add its line to every "
		        "node's keyring)\n",
		        argv[1], pub);
	}
	return 0;
}
