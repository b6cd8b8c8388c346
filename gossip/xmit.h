/* SPDX-License-Identifier: ISC */
/*
 * xmit.h - the transmit layer: who this node is on the wire, and the only
 * way anything leaves it.
 *
 * It holds the node's identity (keys, keyring index, incarnation), its two
 * seq spaces, its pairwise MAC keys (gossip/pairwise.h) and the network
 * the daemon attached, and writes three kinds of datagrams: signed
 * membership datagrams (members.c, sync.c), batches of records (a round's
 * or a repair's: sealed with a signature (seal.h) for what may be
 * relayed, MAC'd under a member's key for what goes to that member
 * alone), and datagrams of others forwarded unchanged.  Everything above it
 * decides what to send and to whom; nothing above it signs, seals or sends.
 *
 * Two seq spaces, each with its own replay window at receivers: what is
 * relayed (rounds) and what goes straight to one member (probes,
 * announcements, sync requests, repairs), so that many of the latter
 * never push a window past a relayed datagram still on its way.
 */
#ifndef FGD_XMIT_H
#define FGD_XMIT_H

#include <stddef.h>
#include <stdint.h>

#include "gossip/addr.h"
#include "gossip/counters.h"
#include "gossip/pairwise.h"
#include "gossip/wire.h"

/* Pairwise MAC keys are derived at start for keyrings up to this size
 * (~90 us a member): in larger clusters rounds are relayed, and relaying
 * needs the origin's signature anyway. */
#define FGD_PAIRWISE_MAX 256

typedef void fgd_sendto_fn(void *arg, const struct fgd_addr *to,
                           const uint8_t *buf, size_t len);

/*
 * Proofs made elsewhere.  A daemon whose secret key lives in another
 * process (daemon/privsep.h) gives xmit no key: what it makes is finished
 * with its proof zero (fgw_member_write and fgw_finish_group_root with no
 * key, fgw_seal_later), held back at fgd_xmit_to, and proved in one call
 * for up to FGD_PEND_MAX datagrams at fgd_xmit_flush (or when the queue is
 * full), then sent in the order they came.  A membership datagram needs
 * its own signature and a MAC'd one its MAC, made over its bytes; the
 * datagrams of a seal group need one signature between them, of their
 * root (seal.h), which is all that goes to the other process for them and
 * which is kept for the group's datagrams still to come when the queue
 * fills half way through it: a group of 64 costs one signature, made in
 * one call.  One call a round, not one a datagram: a round trip to the
 * other process costs about half a signature.
 */
struct fgd_proof {
	uint8_t *buf; /* what is proved; its proof goes in its last bytes */
	size_t len;
	int kind;   /* FGW_PROOF_SIG, _MAC (@buf a datagram), _SEAL (@buf a
	             * root, FGW_HASH_SIZE bytes, then room for its signature) */
	int member; /* _MAC: the keyring entry whose key; else -1 */
};
/* Make the proofs of @n items in place: 0, or -1 (none made). */
typedef int fgd_prove_fn(void *arg, struct fgd_proof *p, size_t n);

/* Datagrams proved in one call, their sends, and the items of a call
 * (each datagram's own proof or its root's: a _SEAL item is the root and
 * room for its signature). */
#define FGD_PEND_MAX   FGW_GROUP_MAX
#define FGD_PEND_DEST  256
#define FGD_PROVE_MAX  (2 * FGD_PEND_MAX)
#define FGD_ROOT_PROOF (FGW_HASH_SIZE + FGW_SIG_SIZE)
struct fgd_pending; /* xmit.c */
typedef void fgd_send_fn(void *arg, const uint8_t *buf, size_t len);

struct fgd_xmit {
	const struct fgw_keyring *kr; /* &ring */
	struct fgw_keyring ring;      /* the caller's, with our pairwise keys */
	struct fgw_pairwise *pw;      /* NULL: everything is signed */
	const uint8_t *sk;            /* read-only secret key */
	uint8_t pk[FGW_PK_SIZE];
	int self; /* our index in the keyring, or -1 */
	uint64_t incarnation;
	uint64_t seq, seq_direct;
	size_t max_datagram;
	fgd_sendto_fn *send; /* the network; NULL: none attached */
	void *arg;
	struct fgd_counters *ctr;
	fgd_prove_fn *prove; /* NULL: proved here, with sk and pw */
	void *prove_arg;
	struct fgd_pending *pend;
	/* the datagrams of a batch not sealed yet: one seal group (wire.h) */
	struct fgw_writer group[FGW_GROUP_MAX];
};

/* Our identity on @kr (copied; our pairwise keys are added to the copy).
 * 0; without pairwise keys (no memory, a bad key) everything is signed. */
void fgd_xmit_init(struct fgd_xmit *x, const struct fgw_keyring *kr,
                   const uint8_t *sk, const uint8_t pk[FGW_PK_SIZE],
                   uint64_t incarnation, size_t max_datagram,
                   struct fgd_counters *ctr);
void fgd_xmit_fini(struct fgd_xmit *x);

/* Prove elsewhere, with @prove, from now on (x->sk must be NULL, and
 * x->pw, if any, an rx-only table that says whom we share keys with).
 * 0, or -1 out of memory. */
int fgd_xmit_defer(struct fgd_xmit *x, fgd_prove_fn *prove, void *arg);
/* Have what waits proved, and send it; nothing when proved here. */
void fgd_xmit_flush(struct fgd_xmit *x);

/* Send @buf to @to as it is (a relay's forward, a re-sent announcement);
 * nothing without a network or an address. */
void fgd_xmit_to(struct fgd_xmit *x, const struct fgd_addr *to,
                 const uint8_t *buf, size_t len);

/* Sign @m (our address in it already) with the next direct seq and send
 * it to @to. */
void fgd_xmit_member(struct fgd_xmit *x, const struct fgd_addr *to,
                     const struct fgw_member *m);

/* @w, unsigned, sealed under the MAC of the key we share with keyring
 * entry @member into @out: its length, or 0 when we share none (sign). */
size_t fgd_xmit_seal(const struct fgd_xmit *x, int member,
                     const struct fgw_writer *w, uint8_t out[FGW_MAX_SIZE]);

/*
 * One batch of records, in as many datagrams as it takes: a round's, or a
 * repair's.  A repair's records come in version order and each datagram
 * is a batch of its own, (from, version of its last record], so that
 * every one that arrives is progress.  A batch's parts take consecutive
 * seqs (receivers tell batches of one range apart by the seq of part 0):
 * nothing else may sign between fgd_batch_begin and fgd_batch_end.
 * Datagrams wait in x->group until FGW_GROUP_MAX of them are full, or
 * the batch ends, and are then sealed with one signature (seal.h) and
 * sent: the receiver checks one signature per group, not per datagram.
 */
struct fgd_batch {
	struct fgd_xmit *x;
	struct fgw_writer *w; /* being filled: x->group[n] */
	size_t n;             /* datagrams of the group before it */
	uint64_t from, to;
	uint64_t last_ver; /* split: of the last record added */
	uint64_t *seq;     /* the node's seq space for it */
	unsigned flags;
	int split;
	uint32_t part;
	size_t sent;
	fgd_send_fn *send; /* where the signed copy goes */
	/* Optional: seal MAC'd copies for the recipients it can (the
	 * datagram is complete but unsealed in @w); 1 if a signed copy is
	 * still needed, for @send. */
	int (*seal)(void *arg, const struct fgw_writer *w);
	void *arg;
};

void fgd_batch_begin(struct fgd_batch *b, struct fgd_xmit *x, uint64_t from,
                     uint64_t to, unsigned flags, fgd_send_fn *send, void *arg);
/* One record of version @ver. */
void fgd_batch_add(struct fgd_batch *b, const char *rule, const uint8_t *key,
                   size_t key_len, uint64_t count, uint64_t floor,
                   uint64_t ver);
/* Send the last part: if it holds records, or if @always.  Returns the
 * number of datagrams the batch took. */
size_t fgd_batch_end(struct fgd_batch *b, int always);

#endif
