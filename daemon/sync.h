/*
 * sync.h - node.c's side of sync.c: version batches, digests and repairs
 * (the design is in node.h and sync.c).
 */
#ifndef FGD_SYNC_H
#define FGD_SYNC_H

#include "daemon/node.h"

/* Per keyring entry state.  0 or -1. */
int fgd_sync_init(struct fgd_node *n);
void fgd_sync_fini(struct fgd_node *n);

/* An accepted consumption datagram of @origin: count its part of its
 * batch (if @whole: every record of it was recorded), and move `have` on
 * when batches join up. */
void fgd_sync_note(struct fgd_node *n, int origin, const struct fgw_view *v,
                   int whole, uint64_t now_ms);

/* Our digest of @origin, into a ping or a sync request. */
void fgd_sync_digest(const struct fgd_node *n, int origin,
                     struct fgw_member *m);

/* A digest of us from @origin (its ping or sync request, verified and
 * fresh, its address learned), which came from @from (NULL: unknown):
 * send it what it lacks. */
void fgd_sync_answer(struct fgd_node *n, int origin, const struct fgw_member *m,
                     const struct fgd_addr *from, uint64_t now_ms);

/* Once a round: ask the origins we have been behind for a while.
 * Returns how many requests were sent. */
size_t fgd_sync_tick(struct fgd_node *n, uint64_t now_ms);

/* Writing one batch of our records, in as many datagrams as it takes
 * (node.c): a round's, or a repair's.  A repair's records come in version
 * order and each datagram is a batch of its own, (from, version of its
 * last record], so that every one that arrives is progress. */
struct fgd_batch {
	struct fgd_node *n;
	struct fgw_writer w;
	uint64_t from, to;
	uint64_t last_ver; /* split: of the last record added */
	uint64_t *seq;     /* the node's seq space for it */
	unsigned flags;
	int split;
	uint32_t part;
	size_t sent;
	fgd_send_fn *send;
	/* Optional: seal MAC'd copies for the recipients it can (the batch
	 * is complete but unsigned in @w); 1 if a signed copy is still
	 * needed, for @send. */
	int (*seal)(void *arg, const struct fgw_writer *w);
	void *arg;
};

void fgd_batch_begin(struct fgd_batch *b, struct fgd_node *n, uint64_t from,
                     uint64_t to, unsigned flags, fgd_send_fn *send, void *arg);

/* fgd_node_emit, with MAC'd copies sealed by @seal (see struct
 * fgd_batch) before any signed one goes to @send. */
size_t fgd_node_emit_sealed(struct fgd_node *n, uint64_t now_ms, int full,
                            fgd_send_fn *send,
                            int (*seal)(void *arg, const struct fgw_writer *w),
                            void *arg);
void fgd_batch_add(struct fgd_batch *b, const struct fgd_local *e);
/* @w, unsigned, sealed under the MAC of the key we share with keyring
 * entry @member into @out: its length, or 0 when we share none (sign). */
size_t fgd_seal_for(const struct fgd_node *n, int member,
                    const struct fgw_writer *w, uint8_t out[FGW_MAX_SIZE]);

/* Send the last part: if it holds records, or if @always.  Returns the
 * number of datagrams the batch took. */
size_t fgd_batch_end(struct fgd_batch *b, int always);

#endif
