/* SPDX-License-Identifier: ISC */
/*
 * psmsg.h - the messages between floodgated's two processes (privsep.h),
 * in the manner of OpenBSD's imsg: a fixed header (type, payload length)
 * and a payload whose length is checked, for every type, against what
 * that type must hold before a byte of it is read.
 *
 * One message is one datagram of a SOCK_SEQPACKET socketpair: the kernel
 * keeps the boundaries, a short or long one is refused whole, and the
 * header's length must be the datagram's less the header.  The payload
 * is at most FGD_MSG_MAX bytes; what is longer (a snapshot, a config)
 * travels in parts.  Host byte order: both ends are one program.
 */
#ifndef FGD_PSMSG_H
#define FGD_PSMSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FGD_MSG_MAX (60u << 10) /* payload bytes */

enum fgd_msg_type {
	FGD_MSG_HELLO = 1,  /* p->c: struct fgd_msg_hello [+ n rx entries] */
	FGD_MSG_PROVE,      /* c->p: u32 n, then n items (struct fgd_msg_item
	                     * + its bytes): datagrams, or seal roots */
	FGD_MSG_PROOFS,     /* p->c: n x FGD_MSG_PROOF bytes */
	FGD_MSG_SNAP_BEGIN, /* both: struct fgd_msg_snap */
	FGD_MSG_SNAP_RECS,  /* both: k x FGD_SNAP_REC_SIZE bytes, k >= 1 */
	FGD_MSG_SNAP_END,   /* c->p: empty */
	FGD_MSG_SNAP_GET,   /* c->p: empty */
	FGD_MSG_CONF_GET,   /* c->p: empty */
	FGD_MSG_CONF_TEXT,  /* p->c: 1 .. FGD_MSG_MAX bytes of the config */
	FGD_MSG_CTL_PATH,   /* c->p: the control socket's path, no NUL */
	FGD_MSG_RESULT,     /* p->c: i32 rc, then a message (no NUL) */
	FGD_MSG_NTYPES
};

#define FGD_MSG_PROOF 64u /* a signature; a MAC fills its first bytes */

struct fgd_msg_hello {
	uint8_t pk[32];         /* ours */
	uint8_t ledger_key[16]; /* the remote ledger's ids' */
	uint32_t node;          /* 0: no node key (a single host) */
	uint32_t nrx;           /* entries that follow: pk[32], rx[32] */
};

/* An item of a PROVE message, and its bytes; what each kind must be is
 * checked exactly (priv.c): FGW_PROOF_SIG, one of our membership
 * datagrams, FGW_MEMBER_SIZE bytes; FGW_PROOF_MAC, one of our MAC'd
 * consumption datagrams, for a member we share keys with;
 * FGW_PROOF_SEAL, the root of a seal group and room for its signature,
 * FGD_ROOT_PROOF bytes (gossip/xmit.h). */
struct fgd_msg_item {
	uint16_t len;   /* its bytes', the proof's room included */
	uint8_t kind;   /* FGW_PROOF_SIG, _MAC, _SEAL (gossip/wire.h) */
	uint8_t pad;    /* 0 */
	int32_t member; /* _MAC: the keyring entry whose key; else -1 */
};

struct fgd_msg_snap {
	uint64_t nbuckets, nremote;
	uint64_t elapsed_ns; /* p->c: since it was written; c->p: 0 */
};

/* Send one message: @a then @b (either may be empty).  0, or -1 with
 * errno (EMSGSIZE past FGD_MSG_MAX). */
int fgd_msg_send(int fd, uint32_t type, const void *a, size_t alen,
                 const void *b, size_t blen);

/* Receive one message into @buf (FGD_MSG_MAX bytes): its payload length,
 * its type in *@type; -1 on EOF, an error, or a message that breaks the
 * rules of its type (errno EBADMSG). */
ssize_t fgd_msg_recv(int fd, uint32_t *type, void *buf);

#endif
