/* SPDX-License-Identifier: ISC */
/*
 * priv.c - see priv.h.
 *
 * Bounds: a message is read whole into one buffer of FGD_MSG_MAX bytes;
 * a snapshot the child sends is held in memory up to what the segment
 * and ledger of the config can hold (twice over), and refused past it.
 */
#include "daemon/priv.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <sodium.h>

#include "daemon/check.h"
#include "daemon/log.h"
#include "daemon/persist.h"
#include "daemon/psmsg.h"
#include "daemon/snapkey.h"
#include "gossip/counts.h"
#include "gossip/keys.h"
#include "gossip/pairwise.h"
#include "gossip/xmit.h"

struct priv {
	const struct fgd_config *cfg;
	const char *cfg_path;
	int fd;
	uint8_t *sk; /* NULL: a single host */
	uint8_t pk[FGW_PK_SIZE];
	struct fgw_keyring kr;
	struct fgw_pairwise *pw; /* NULL: everything signed */
	uint8_t snapkey[FGD_SNAP_KEY_BYTES];
	char ctl[FGD_CONTROL_MAX + 1]; /* the child's control socket */
	struct fgd_snap_body in;       /* a snapshot on its way in */
	uint64_t in_have, in_max;
	uint8_t buf[FGD_MSG_MAX];
	uint8_t out[FGD_MSG_MAX];
};

/* ------------------------------------------------------------- start */

static int identity_load(struct priv *p)
{
	char err[512];

	if (fgd_identity_check(p->cfg, err, sizeof err) != 0) {
		fgd_log(LOG_ERR, "%s: %s", p->cfg_path, err);
		return -1;
	}
	if (p->cfg->node_key[0] == '\0')
		return 0; /* a single host: nothing to sign */
	if (fgk_load_secret(p->cfg->node_key, &p->sk, p->pk, err, sizeof err) !=
	        0 ||
	    (p->cfg->keyring[0] &&
	     fgk_keyring_load(p->cfg->keyring, &p->kr, err, sizeof err) != 0)) {
		fgd_log(LOG_ERR, "%s", err);
		return -1;
	}
	/* as fgd_xmit_init: pairwise keys for keyrings up to this size */
	if (p->kr.n <= FGD_PAIRWISE_MAX &&
	    fgw_pairwise_new(&p->kr, p->sk, p->pk, &p->pw) != 0)
		p->pw = NULL;
	return 0;
}

static int snapshot_ready(struct priv *p)
{
	char err[600];

	if (!p->cfg->snapshot[0])
		return 0;
	if (fgd_persist_check(p->cfg->snapshot, fgd_log) != 0)
		return -1;
	if (fgd_snapkey_get(p->cfg->snapshot, p->sk, 1, p->snapkey, err,
	                    sizeof err) == 0)
		return 0;
	fgd_log(LOG_ERR, "%s", err);
	return -1;
}

/* What the child needs of our identity, and no more: our public key, the
 * remote ledger's id key, the keys to check what members send us. */
static int hello(struct priv *p)
{
	struct fgd_msg_hello h = {.node = p->sk != NULL};
	size_t i, n = p->pw ? p->kr.n : 0;
	int r;

	if (p->sk != NULL) {
		memcpy(h.pk, p->pk, sizeof h.pk);
		fgd_counts_ledger_key(p->sk, h.ledger_key);
	}
	h.nrx = (uint32_t)n;
	for (i = 0; i < n; i++) {
		const uint8_t *rx = fgw_pairwise_rx(p->pw, (int)i);

		memcpy(p->out + i * 64, p->kr.keys[i].pk, FGW_PK_SIZE);
		if (rx)
			memcpy(p->out + i * 64 + 32, rx, 32);
		else
			memset(p->out + i * 64 + 32, 0, 32);
	}
	r = fgd_msg_send(p->fd, FGD_MSG_HELLO, &h, sizeof h, p->out, n * 64);
	sodium_memzero(p->out, n * 64);
	sodium_memzero(&h, sizeof h);
	return r;
}

/* ------------------------------------------------------------ answers */

static void result(struct priv *p, int32_t rc, const char *msg)
{
	(void)fgd_msg_send(p->fd, FGD_MSG_RESULT, &rc, sizeof rc, msg,
	                   strlen(msg));
}

/* Prove one item of a PROVE message, @it and the @it->len bytes at @b, its
 * proof copied to @out: 0, or -1 when it is not what its kind must be
 * (psmsg.h) or we cannot prove it. */
static int prove_item(const struct fgd_msg_item *it, uint8_t *b,
                      const uint8_t *sk, const uint8_t *pk,
                      const struct fgw_pairwise *pw, uint8_t out[FGD_MSG_PROOF])
{
	const uint8_t *key = NULL;

	if (it->pad != 0 || (it->kind != FGW_PROOF_MAC && it->member != -1))
		return -1;
	switch (it->kind) {
	case FGW_PROOF_SEAL: /* a root: signed in its own context (seal.h) */
		if (it->len != FGD_ROOT_PROOF ||
		    fgw_seal_sign_root(b, b + FGW_HASH_SIZE, sk) != 0)
			return -1;
		memcpy(out, b + FGW_HASH_SIZE, FGW_SIG_SIZE);
		return 0;
	case FGW_PROOF_MAC:
		if (it->member < 0 ||
		    (key = fgw_pairwise_tx(pw, it->member)) == NULL)
			return -1;
		break;
	case FGW_PROOF_SIG:
		if (sk == NULL)
			return -1;
		break;
	default:
		return -1;
	}
	/* one of our datagrams, of the kind it says, exactly */
	if (fgw_proof_needed(b, it->len, pk) != it->kind ||
	    fgw_prove(b, it->len, sk, key) != 0)
		return -1;
	memcpy(out, b + it->len - (key ? FGW_MAC_SIZE : FGW_SIG_SIZE),
	       key ? FGW_MAC_SIZE : FGW_SIG_SIZE);
	return 0;
}

ssize_t fgd_priv_prove(uint8_t *req, size_t len, const uint8_t *sk,
                       const uint8_t *pk, const struct fgw_pairwise *pw,
                       uint8_t *out, size_t outcap)
{
	uint32_t n, i;
	size_t off = 4;

	memcpy(&n, req, 4);
	if ((size_t)n > outcap / FGD_MSG_PROOF)
		return -1;
	for (i = 0; i < n; i++) {
		struct fgd_msg_item it;

		if (len - off < sizeof it)
			return -1;
		memcpy(&it, req + off, sizeof it);
		off += sizeof it;
		if (it.len > len - off ||
		    prove_item(&it, req + off, sk, pk, pw,
		               out + (size_t)i * FGD_MSG_PROOF) != 0)
			return -1;
		off += it.len;
	}
	if (off != len)
		return -1; /* exact length: nothing after the last item */
	return (ssize_t)n * FGD_MSG_PROOF;
}

int fgd_priv_prove_serve(int fd, const uint8_t *sk, const uint8_t *pk,
                         const struct fgw_pairwise *pw)
{
	uint8_t *req = malloc(FGD_MSG_MAX), *out = malloc(FGD_MSG_MAX);
	uint32_t type;
	ssize_t n;
	int rc = -1;

	while (req != NULL && out != NULL &&
	       (n = fgd_msg_recv(fd, &type, req)) >= 0) {
		n = type == FGD_MSG_PROVE
		        ? fgd_priv_prove(req, (size_t)n, sk, pk, pw, out,
		                         FGD_MSG_MAX)
		        : -1;
		if (n < 0 ||
		    fgd_msg_send(fd, FGD_MSG_PROOFS, out, (size_t)n, NULL, 0))
			goto out;
	}
	rc = req != NULL && out != NULL ? 0 : -1; /* the other side left */
out:
	free(req);
	free(out);
	return rc;
}

static int prove(struct priv *p, size_t len)
{
	ssize_t n = fgd_priv_prove(p->buf, len, p->sk, p->pk, p->pw, p->out,
	                           sizeof p->out);

	if (n < 0)
		return -1;
	return fgd_msg_send(p->fd, FGD_MSG_PROOFS, p->out, (size_t)n, NULL,
	                    0) == 0
	           ? 0
	           : 1;
}

/* The most records a snapshot of this config holds: every slot and
 * every mark the ledger may grow to, twice over. */
static uint64_t snap_max(const struct fgd_config *cfg)
{
	uint64_t marks = cfg->ledger_size ? cfg->ledger_size
	                                  : cfg->capacity * FGD_LEDGER_PEERS;

	return 4 * cfg->capacity + 4 * marks + 1024;
}

static int snap_in(struct priv *p, uint32_t type, size_t len)
{
	struct fgd_msg_snap s;
	char err[600] = "";
	int rc;

	if (type == FGD_MSG_SNAP_BEGIN) {
		memcpy(&s, p->buf, sizeof s);
		fgd_snapshot_body_free(&p->in);
		if (s.nbuckets > snap_max(p->cfg) ||
		    s.nremote > snap_max(p->cfg))
			return -1;
		p->in_max = s.nbuckets + s.nremote;
		p->in.recs =
		    malloc(p->in_max ? p->in_max * FGD_SNAP_REC_SIZE : 1);
		p->in.nbuckets = s.nbuckets;
		p->in.nremote = s.nremote;
		p->in_have = 0;
		return p->in.recs ? 0 : -1;
	}
	if (type == FGD_MSG_SNAP_RECS) {
		if (p->in.recs == NULL ||
		    len / FGD_SNAP_REC_SIZE > p->in_max - p->in_have)
			return -1;
		memcpy(p->in.recs + p->in_have * FGD_SNAP_REC_SIZE, p->buf,
		       len);
		p->in_have += len / FGD_SNAP_REC_SIZE;
		return 0;
	}
	/* SNAP_END */
	if (p->in.recs == NULL || p->in_have != p->in_max)
		return -1;
	rc = p->cfg->snapshot[0]
	         ? fgd_snapshot_store(p->cfg->snapshot, p->snapkey, &p->in, err,
	                              sizeof err)
	         : -1;
	fgd_snapshot_body_free(&p->in);
	result(p, rc, err);
	return 0;
}

static void snap_out(struct priv *p)
{
	struct fgd_snap_body b;
	struct fgd_msg_snap s = {0};
	char err[600] = "no snapshot configured";
	uint64_t i, n, k, per = FGD_MSG_MAX / FGD_SNAP_REC_SIZE;
	int rc = p->cfg->snapshot[0]
	             ? fgd_snapshot_load(p->cfg->snapshot, p->snapkey, &b,
	                                 &s.elapsed_ns, err, sizeof err)
	             : -1;

	if (rc != 0) {
		result(p, rc, rc == 1 ? "" : err);
		return;
	}
	s.nbuckets = b.nbuckets;
	s.nremote = b.nremote;
	n = b.nbuckets + b.nremote;
	if (fgd_msg_send(p->fd, FGD_MSG_SNAP_BEGIN, &s, sizeof s, NULL, 0) == 0)
		for (i = 0; i < n; i += k) {
			k = n - i < per ? n - i : per;
			if (fgd_msg_send(p->fd, FGD_MSG_SNAP_RECS,
			                 b.recs + i * FGD_SNAP_REC_SIZE,
			                 k * FGD_SNAP_REC_SIZE, NULL, 0) != 0)
				break;
		}
	fgd_snapshot_body_free(&b);
	result(p, 0, "");
}

static void conf_out(struct priv *p)
{
	char err[600], *text = NULL;
	size_t len = 0, i, k;

	if (fgd_config_read(p->cfg_path, &text, &len, err, sizeof err) != 0) {
		result(p, -1, err);
		return;
	}
	for (i = 0; i < len; i += k) {
		k = len - i < FGD_MSG_MAX ? len - i : FGD_MSG_MAX;
		if (fgd_msg_send(p->fd, FGD_MSG_CONF_TEXT, text + i, k, NULL,
		                 0) != 0)
			break;
	}
	free(text);
	result(p, 0, "");
}

/* One message from the child: 0, or -1 when it broke the protocol. */
static int dispatch(struct priv *p, uint32_t type, size_t len)
{
	switch (type) {
	case FGD_MSG_PROVE:
		return prove(p, len) < 0 ? -1 : 0;
	case FGD_MSG_SNAP_BEGIN:
	case FGD_MSG_SNAP_RECS:
	case FGD_MSG_SNAP_END:
		return snap_in(p, type, len);
	case FGD_MSG_SNAP_GET:
		snap_out(p);
		return 0;
	case FGD_MSG_CONF_GET:
		conf_out(p);
		return 0;
	case FGD_MSG_CTL_PATH:
		if (len >= sizeof p->ctl || memchr(p->buf, '\0', len))
			return -1;
		memcpy(p->ctl, p->buf, len);
		p->ctl[len] = '\0';
		return 0;
	default:
		return -1; /* not the child's to send */
	}
}

/* --------------------------------------------------------------- loop */

/* Until the child is gone (0), or has broken the protocol (-1). */
static int serve(struct priv *p, int sigfd, pid_t child)
{
	struct pollfd pfd[2] = {{.fd = p->fd, .events = POLLIN},
	                        {.fd = sigfd, .events = POLLIN}};
	struct signalfd_siginfo si;
	uint32_t type;
	ssize_t n;

	for (;;) {
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			return -1;
		if ((pfd[1].revents & POLLIN) &&
		    read(sigfd, &si, sizeof si) == sizeof si)
			(void)kill(child, (int)si.ssi_signo);
		if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = fgd_msg_recv(p->fd, &type, p->buf);
		if (n < 0 && errno == EBADMSG)
			fgd_log(LOG_ERR, "privsep: a malformed message from "
			                 "the network process: stopped");
		if (n < 0)
			return errno == EBADMSG ? -1 : 0;
		if (dispatch(p, type, (size_t)n) != 0) {
			fgd_log(LOG_ERR,
			        "privsep: message %u of %zd bytes breaks the "
			        "protocol: the network process is stopped",
			        type, n);
			return -1;
		}
	}
}

static int child_status(pid_t child)
{
	int st;

	while (waitpid(child, &st, 0) < 0)
		if (errno != EINTR)
			return 1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

/* The control socket the child made, if it is still a socket. */
static void ctl_remove(const char *path)
{
	struct stat sb;

	if (path[0] && lstat(path, &sb) == 0 && S_ISSOCK(sb.st_mode))
		(void)unlink(path);
}

int fgd_priv_run(const char *cfg_path, const struct fgd_config *cfg, int fd,
                 pid_t child)
{
	struct priv *p = sodium_malloc(sizeof *p);
	sigset_t set;
	int sigfd = -1, rc;

	if (p != NULL) {
		memset(p, 0, sizeof *p);
		p->cfg = cfg;
		p->cfg_path = cfg_path;
		p->fd = fd;
		(void)sigprocmask(SIG_SETMASK, NULL, &set); /* the blocked */
		sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	}
	if (p == NULL || sigfd < 0) {
		fgd_log(LOG_ERR, "privsep: out of resources");
		(void)kill(child, SIGKILL);
	} else if (identity_load(p) == 0 && snapshot_ready(p) == 0 &&
	           hello(p) == 0) {
		if (serve(p, sigfd, child) != 0)
			(void)kill(child, SIGKILL);
	}
	close(fd); /* a child still waiting for hello leaves */
	rc = child_status(child);
	if (p != NULL) {
		ctl_remove(p->ctl);
		fgd_snapshot_body_free(&p->in);
		fgw_pairwise_free(p->pw);
		if (p->sk)
			fgk_secret_free(p->sk);
		fgk_keyring_free(&p->kr);
		sodium_free(p); /* wipes the snapshot key and buffers */
	}
	if (sigfd >= 0)
		close(sigfd);
	return rc;
}
