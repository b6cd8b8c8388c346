/* SPDX-License-Identifier: ISC */
/*
 * peers.c - floodgate peers: the daemon's view of its cluster, one line
 * per keyring member (state, address, how far it holds the member's
 * records, when it last heard from it), the addresses the configuration
 * seeds, and the datagram totals.  Only the daemon knows any of it.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "util/human.h"

static void peers_json(struct fgc *c, const struct fgc_reply *r)
{
	const struct fgc_rline *dg = fgc_reply_find(r, "datagrams");
	struct fgu_json *j = &c->j;
	size_t i;

	fgu_json_object(j);
	fgu_json_name(j, "peers");
	fgu_json_array(j);
	for (i = 0; i < r->n; i++)
		if (strcmp(r->l[i].type, "peer") == 0)
			fgc_json_line(c, &r->l[i]);
	fgu_json_array_end(j);
	fgu_json_name(j, "addresses");
	fgu_json_array(j);
	for (i = 0; i < r->n; i++)
		if (strcmp(r->l[i].type, "address") == 0)
			fgu_json_str(j, fgc_kv(&r->l[i], "addr"));
	fgu_json_array_end(j);
	fgu_json_name(j, "datagrams");
	if (dg)
		fgc_json_line(c, dg);
	else
		fgu_json_null(j);
	fgu_json_object_end(j);
}

/* Versions of its records we hold, of those heard of. */
static const char *records(const struct fgc_rline *l, char *buf, size_t len)
{
	uint64_t have = fgc_kv_u64(l, "have"), latest = fgc_kv_u64(l, "latest");

	if (have >= latest)
		snprintf(buf, len, "all (v%llu)", (unsigned long long)have);
	else
		snprintf(buf, len, "%llu behind",
		         (unsigned long long)(latest - have));
	return buf;
}

static void peers_text(struct fgc *c, const struct fgc_reply *r)
{
	const struct fgc_rline *dg = fgc_reply_find(r, "datagrams");
	char rec[48], heard[FGU_HUMAN_MAX + 8];
	size_t i;

	fgc_out(c, "%-20s %-16s %-24s %-8s %-16s %s\n", "PEER", "KEY",
	        "ADDRESS", "STATE", "RECORDS", "LAST HEARD");
	for (i = 0; i < r->n; i++) {
		const struct fgc_rline *l = &r->l[i];

		if (strcmp(l->type, "peer") != 0)
			continue;
		fgc_out(
		    c, "%-20s %-16s %-24s %-8s %-16s %s\n", fgc_kv(l, "name"),
		    fgc_kv(l, "key"), fgc_kv(l, "addr"), fgc_kv(l, "state"),
		    records(l, rec, sizeof rec),
		    fgc_ago(fgc_kv(l, "heard_ms_ago"), heard, sizeof heard));
	}
	for (i = 0; i < r->n; i++)
		if (strcmp(r->l[i].type, "address") == 0)
			fgc_out(c, "sends to:  %s\n", fgc_kv(&r->l[i], "addr"));
	if (dg)
		fgc_out(c,
		        "datagrams: %s in, %s out, %s rejected, %s send "
		        "errors\n",
		        fgc_kv(dg, "in"), fgc_kv(dg, "out"),
		        fgc_kv(dg, "rejected"), fgc_kv(dg, "send_errors"));
	else
		fgc_out(c, "gossip off (no node-key in the config)\n");
}

int fgc_cmd_peers(struct fgc *c, int argc, char **argv)
{
	struct fgc_reply r;
	int e;

	(void)argc;
	(void)argv;
	if ((e = fgc_ask(c, "peers", &r, 0)) != 0)
		return e;
	if (c->json)
		peers_json(c, &r);
	else
		peers_text(c, &r);
	fgc_reply_free(&r);
	return 0;
}
