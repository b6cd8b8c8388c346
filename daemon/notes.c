/* SPDX-License-Identifier: ISC */
/*
 * notes.c - see notes.h.  Each note compares the node's counters with
 * what the last note saw (d->noted, d->peer_state) and logs the change.
 */
#include "daemon/notes.h"

#include <stdio.h>
#include <syslog.h>

#include "daemon/log.h"

void fgd_notes_peers(struct fgd_daemon *d, uint64_t t)
{
	size_t i;

	for (i = 0; i < d->kr.n; i++) {
		enum fgd_peer_state st =
		    fgd_node_peer_state(&d->node, (int)i, t);

		if ((int)i == d->node.x.self || st == d->peer_state[i])
			continue;
		fgd_log(st == FGD_PEER_ALIVE ? LOG_INFO : LOG_WARNING,
		        "peer %s: %s -> %s", d->kr.keys[i].name,
		        fgd_peer_state_name(d->peer_state[i]),
		        fgd_peer_state_name(st));
		d->peer_state[i] = st;
	}
}

void fgd_notes_counters(const struct fgd_daemon *d)
{
	const struct fgd_counters *c = &d->node.ctr;
	char drops[512];
	size_t off = 0;
	int i;

	for (i = 1; i < FGW_NDROPS && off < sizeof drops; i++)
		off += (size_t)snprintf(drops + off, sizeof drops - off,
		                        " %s=%llu",
		                        fgw_drop_name((enum fgw_drop)i),
		                        (unsigned long long)c->drops[i]);
	fgd_log(
	    LOG_INFO,
	    "rx %llu datagrams %llu bytes, tx %llu datagrams %llu bytes "
	    "(%llu errors), harvested %llu, applied %llu, unknown-rule "
	    "%llu, no-room %llu, marks forgotten %llu, clamped %llu, "
	    "capped %llu, dropped:%s self=%llu buffer-full=%llu",
	    (unsigned long long)c->rx_datagrams,
	    (unsigned long long)c->rx_bytes,
	    (unsigned long long)c->tx_datagrams,
	    (unsigned long long)c->tx_bytes, (unsigned long long)c->tx_errors,
	    (unsigned long long)c->harvested, (unsigned long long)c->applied,
	    (unsigned long long)c->records_unknown,
	    (unsigned long long)(c->records_noroom + c->local_noroom),
	    (unsigned long long)c->ledger_evicted,
	    (unsigned long long)c->debit_clamped,
	    (unsigned long long)c->debt_capped, drops,
	    (unsigned long long)c->drops_self,
	    (unsigned long long)c->rx_overflow);
	fgd_log(LOG_INFO,
	        "sync: %llu requests, %llu repairs sent (%llu datagrams, %llu "
	        "not sent: too soon), %llu caught up by a repair",
	        (unsigned long long)c->sync_requests,
	        (unsigned long long)c->repairs,
	        (unsigned long long)c->repair_datagrams,
	        (unsigned long long)c->repairs_limited,
	        (unsigned long long)c->caught_up);
}

void fgd_notes_ledger(struct fgd_daemon *d, uint32_t every_ms)
{
	const struct fgd_counters *c = &d->node.ctr;
	struct fgd_counters *was = &d->noted;

	if (c->ledger_evicted > was->ledger_evicted)
		fgd_log(LOG_WARNING,
		        "remote ledger full (%zu marks): %llu marks still owed "
		        "forgotten in %u s; keys used on several hosts may be "
		        "charged twice (stricter, never looser): raise "
		        "ledger-size",
		        d->node.counts.remote.max,
		        (unsigned long long)(c->ledger_evicted -
		                             was->ledger_evicted),
		        every_ms / 1000);
	if (c->records_noroom > was->records_noroom)
		fgd_log(LOG_WARNING,
		        "%llu debits for other hosts found no room in the "
		        "table (capacity %llu): they wait for a repair; raise "
		        "capacity",
		        (unsigned long long)(c->records_noroom -
		                             was->records_noroom),
		        (unsigned long long)d->cfg.capacity);
	if (c->debit_clamped > was->debit_clamped)
		fgd_log(LOG_WARNING,
		        "peers reported %llu tokens more than they can have "
		        "admitted: not debited (a peer's clock or key is "
		        "wrong)",
		        (unsigned long long)(c->debit_clamped -
		                             was->debit_clamped));
	if (c->debt_capped > was->debt_capped)
		fgd_log(
		    LOG_NOTICE,
		    "%llu tokens of debt beyond the bound forgiven (a cut "
		    "longer than debt-window, or a peer's key misused)",
		    (unsigned long long)(c->debt_capped - was->debt_capped));
	*was = *c;
}
