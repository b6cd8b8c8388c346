/* SPDX-License-Identifier: ISC */
/*
 * act.c - floodgate check, reset, reload and remove: the commands that
 * change something.  check spends tokens exactly as a worker does; reset
 * refills one bucket with the library's CAS (the segment's owner or root
 * only); reload asks the daemon to re-read its configuration; remove
 * removes the segment, its System V memory included (fg_unlink()).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "daemon/args.h"
#include "shm/clock.h"
#include "shm/hash.h"
#include "shm/scan.h"
#include "util/human.h"

/* ----------------------------------------------------------------- check */

static int check_cost(struct fgc *c, int argc, char **argv, uint32_t *cost)
{
	static const struct option lo[] = {
	    {"cost", required_argument, NULL, 'n'}, {NULL, 0, NULL, 0}};
	int o;

	*cost = 1;
	while ((o = getopt_long(argc, argv, ":n:", lo, NULL)) != -1) {
		if (o != 'n')
			return fgc_bad_option(c, argv, optind, o);
		if (fgd_arg_cost(optarg, strlen(optarg), cost) != 0 ||
		    *cost == 0) {
			fgc_warn("--cost %s is not a number of tokens: give a "
			         "whole number from 1 to the rule's capacity",
			         optarg);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 2)
		return fgc_usage_error(c);
	return 0;
}

static void check_print(struct fgc *c, int allowed, const fg_decision *d)
{
	char t[FGU_HUMAN_MAX];

	if (c->json) {
		fgu_json_object(&c->j);
		fgu_json_kbool(&c->j, "allowed", allowed);
		fgu_json_kbool(&c->j, "shadow", d->flags & FG_DECISION_SHADOW);
		fgu_json_kbool(&c->j, "untracked",
		               d->flags & FG_DECISION_UNTRACKED);
		fgu_json_ku64(&c->j, "limit", d->limit);
		fgu_json_ku64(&c->j, "remaining", d->remaining);
		fgu_json_ku64(&c->j, "retry_after_ms", d->retry_after_ms);
		fgu_json_ku64(&c->j, "reset_ms", d->reset_ms);
		fgu_json_object_end(&c->j);
	} else if (allowed) {
		fgc_out(c, "allowed: %u of %u left%s\n", d->remaining, d->limit,
		        d->flags & FG_DECISION_SHADOW
		            ? " (shadow rule: would have been denied)"
		            : "");
	} else {
		fgc_out(c, "denied: retry after %s\n",
		        fgu_duration(d->retry_after_ms, t, sizeof t));
	}
}

int fgc_cmd_check(struct fgc *c, int argc, char **argv)
{
	const char *rule, *key;
	struct fg_ovr_entry ov;
	fg_rule_info ri;
	fg_decision d;
	uint32_t cost;
	unsigned idx;
	size_t len;
	int e, r;

	if ((e = check_cost(c, argc, argv, &cost)) != 0)
		return e;
	rule = argv[optind];
	key = argv[optind + 1];
	if ((e = fgc_key_arg(key, &len)) != 0 || (e = fgc_seg_open(c)) != 0 ||
	    (e = fgc_rule_find(c, rule, &idx, &ri)) != 0)
		return e;
	if (fg__override_get(c->fg, idx, key, len, &ov))
		ri.capacity = ov.capacity; /* the key's own */
	if (cost > ri.capacity) {
		fgc_warn("--cost %u is above rule %s's capacity: give 1 to %u",
		         cost, rule, ri.capacity);
		return EXIT_USAGE;
	}
	r = fg_allow(c->fg, rule, key, cost, &d);
	if (r < 0)
		return fgc_fail(c, rule, r);
	check_print(c, r, &d);
	return r ? 0 : EXIT_DENIED;
}

/* ----------------------------------------------------------------- reset */

int fgc_owner_only(struct fgc *c, const char *what)
{
	struct stat st;

	if (fstat(c->fg->seg.fd, &st) != 0) {
		fgc_warn("%s: cannot stat %s: run as its owner or root", what,
		         c->seg_path);
		return EXIT_SYS;
	}
	if (geteuid() != 0 && geteuid() != st.st_uid) {
		fgc_warn("only the segment's owner (uid %u) or root may %s: "
		         "run as one of them",
		         (unsigned)st.st_uid, what);
		return EXIT_PERM;
	}
	return 0;
}

/* Refill: consumed stays (grow-only: the daemon harvests it); a bucket
 * already full, being evicted or gone is left alone.  A penalty's block
 * is lifted with it, and the key's recent denials forgotten
 * (lib/penalty.c).  1 if it was refilled. */
static int refill(struct fgc *c, unsigned idx, const char *key, size_t len)
{
	return fg__penalty_lift(&c->fg->seg.tbl, idx, key, len, fg__now_ns()) ==
	       1;
}

int fgc_cmd_reset(struct fgc *c, int argc, char **argv)
{
	fg_rule_info ri;
	unsigned idx;
	size_t len;
	int e, done;

	if (argc != 3)
		return fgc_usage_error(c);
	if ((e = fgc_key_arg(argv[2], &len)) != 0 ||
	    (e = fgc_seg_open(c)) != 0 ||
	    (e = fgc_owner_only(c, "reset a bucket")) != 0 ||
	    (e = fgc_rule_find(c, argv[1], &idx, &ri)) != 0)
		return e;
	done = refill(c, idx, argv[2], len);
	if (c->json) {
		fgu_json_object(&c->j);
		fgu_json_kstr(&c->j, "rule", argv[1]);
		fgu_json_name(&c->j, "key");
		fgu_json_bytes(&c->j, argv[2], len);
		fgu_json_kbool(&c->j, "refilled", done);
		fgu_json_ku64(&c->j, "capacity", ri.capacity);
		fgu_json_object_end(&c->j);
	} else {
		fgc_out(c, "%s: %u tokens%s\n",
		        done ? "refilled" : "already full", ri.capacity,
		        done ? "" : " (nothing to do)");
	}
	return 0;
}

/* ---------------------------------------------------------------- remove */

int fgc_cmd_remove(struct fgc *c, int argc, char **argv)
{
	int r;

	(void)argc;
	(void)argv;
	r = fg_unlink(c->seg_path);
	if (r != 0)
		return fgc_fail(c, "remove", r);
	if (c->json) {
		fgu_json_object(&c->j);
		fgu_json_kstr(&c->j, "removed", c->seg_path);
		fgu_json_object_end(&c->j);
	} else {
		fgc_out(c,
		        "removed %s: processes attached keep it until they "
		        "close; floodgated makes a new one when it starts\n",
		        c->seg_path);
	}
	return 0;
}

/* ---------------------------------------------------------------- reload */

int fgc_cmd_reload(struct fgc *c, int argc, char **argv)
{
	struct fgc_reply r;
	int e;

	(void)argc;
	(void)argv;
	if ((e = fgc_ask(c, "reload", &r, 0)) != 0)
		return e;
	fgc_reply_free(&r);
	if (c->json) {
		fgu_json_object(&c->j);
		fgu_json_kbool(&c->j, "reloaded", 1);
		fgu_json_object_end(&c->j);
	} else {
		fgc_out(c, "reloaded\n");
	}
	return 0;
}
