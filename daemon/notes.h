/* SPDX-License-Identifier: ISC */
/*
 * notes.h - what floodgated tells its log of its own accord: each peer's
 * change of state, the counters on SIGUSR1, and now and then what the
 * gossip could not do as asked, with what to change.
 *
 * Each note is logged once per change, never once per event: a flood of
 * bad datagrams is a counter that moves, not a line per datagram.
 */
#ifndef FGD_NOTES_H
#define FGD_NOTES_H

#include <stdint.h>

#include "daemon/daemon.h"

/* Log each peer's change of state (alive, suspect, dead) since the last
 * call. */
void fgd_notes_peers(struct fgd_daemon *d, uint64_t now_ms);

/* SIGUSR1: every counter, in two lines. */
void fgd_notes_counters(const struct fgd_daemon *d);

/* What the gossip could not do as asked since the last call (made every
 * @every_ms): forgotten marks, debits with no room, what the debit
 * bounds kept out. */
void fgd_notes_ledger(struct fgd_daemon *d, uint32_t every_ms);

#endif
