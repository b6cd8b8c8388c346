/* SPDX-License-Identifier: ISC */
/*
 * privsep.c - the child's side of the split (see privsep.h), and the
 * split itself.
 *
 * Every request waits for its answer: the child is single-threaded and
 * the parent answers at once.  An answer that breaks the protocol is
 * treated as the parent gone: the request fails.
 */
#include "daemon/privsep.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include <sodium.h>

#include "daemon/log.h"
#include "gossip/pairwise.h"
#include "util/why.h"

pid_t fgd_ps_fork(struct fgd_ps *ps)
{
	int sv[2];
	pid_t pid, parent = getpid();

	memset(ps, 0, sizeof *ps);
	ps->fd = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	ps->fd = pid == 0 ? sv[1] : sv[0];
	close(pid == 0 ? sv[0] : sv[1]);
	ps->parent = parent;
	return pid;
}

int fgd_ps_hello(struct fgd_ps *ps)
{
	uint32_t type;
	ssize_t n;

	ps->buf = malloc(FGD_MSG_MAX);
	ps->out = malloc(FGD_MSG_MAX);
	if (ps->buf == NULL || ps->out == NULL)
		return -1;
	n = fgd_msg_recv(ps->fd, &type, ps->buf);
	if (n < 0 || type != FGD_MSG_HELLO)
		return -1; /* the parent said why, or is gone */
	memcpy(&ps->hello, ps->buf, sizeof ps->hello);
	if ((size_t)n != sizeof ps->hello + (size_t)ps->hello.nrx * 64 ||
	    ps->hello.nrx > FGD_PAIRWISE_MAX)
		return -1;
	if (ps->hello.nrx) {
		ps->rx = sodium_malloc((size_t)ps->hello.nrx * 64);
		if (ps->rx == NULL)
			return -1;
		memcpy(ps->rx, ps->buf + sizeof ps->hello,
		       (size_t)ps->hello.nrx * 64);
		sodium_memzero(ps->buf, (size_t)n);
	}
	return 0;
}

static const char no_user[] =
    "user %s does not exist: the network process will not run as root "
    "(create it: systemd-sysusers, with the sysusers.d file floodgate "
    "installs, or useradd --system %s)";

int fgd_ps_owner(int64_t *uid, char *err, size_t errlen)
{
	struct passwd *pw;

	if (*uid != -1 || geteuid() != 0)
		return 0;
	pw = getpwnam(FGD_USER);
	if (pw == NULL)
		return fgu_why(err, errlen, no_user, FGD_USER, FGD_USER);
	*uid = pw->pw_uid;
	return 0;
}

/* Die with the parent: set after any change of credentials, which
 * clears it; the parent may be gone already. */
static int tie(struct fgd_ps *ps)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 ||
	    getppid() != ps->parent)
		return -1;
	return 0;
}

int fgd_ps_drop(struct fgd_ps *ps)
{
	struct passwd *pw;
	uid_t u;
	gid_t g;

	if (geteuid() != 0)
		return tie(ps); /* not root: nobody to become */
	pw = getpwnam(FGD_USER);
	if (pw == NULL) {
		fgd_log(LOG_ERR, no_user, FGD_USER, FGD_USER);
		return -1;
	}
	u = pw->pw_uid;
	g = pw->pw_gid;
	if (u == 0 || setgroups(1, &g) != 0 || setresgid(g, g, g) != 0 ||
	    setresuid(u, u, u) != 0 || setuid(0) == 0 || getegid() != g) {
		fgd_log(LOG_ERR, "cannot become user %s: %s", FGD_USER,
		        strerror(errno));
		return -1;
	}
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void)prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	return tie(ps);
}

int fgd_ps_pairwise(const struct fgd_ps *ps, const struct fgw_keyring *kr,
                    struct fgw_pairwise **out)
{
	uint8_t *rx;
	size_t i;
	int r;

	*out = NULL;
	if (ps->hello.nrx == 0)
		return 0;
	if (ps->hello.nrx != kr->n)
		return -1;
	rx = sodium_malloc(kr->n * FGW_MAC_KEY_SIZE);
	if (rx == NULL)
		return -1;
	for (i = 0; i < kr->n; i++) {
		if (memcmp(ps->rx + i * 64, kr->keys[i].pk, FGW_PK_SIZE) != 0) {
			sodium_free(rx);
			return -1; /* the keyring changed between our reads */
		}
		memcpy(rx + i * FGW_MAC_KEY_SIZE, ps->rx + i * 64 + 32,
		       FGW_MAC_KEY_SIZE);
	}
	r = fgw_pairwise_rx_only(kr, rx, out);
	sodium_free(rx);
	return r;
}

/* The parent's answer: @want, else a RESULT read into @rc and @err, or
 * -1 (gone, or another type). */
static ssize_t answer(struct fgd_ps *ps, uint32_t want, int *rc, char *err,
                      size_t errlen)
{
	uint32_t type;
	ssize_t n = fgd_msg_recv(ps->fd, &type, ps->buf);
	int32_t r;

	if (n >= 0 && type == want)
		return n;
	if (n < 0 || type != FGD_MSG_RESULT) {
		fgu_why(err, errlen, "the privileged process is gone");
		return -1;
	}
	memcpy(&r, ps->buf, sizeof r);
	if (err != NULL)
		snprintf(err, errlen, "%.*s", (int)(n - 4),
		         (const char *)ps->buf + 4);
	*rc = r;
	return -2;
}

/* Send one PROVE message for @p[0 .. @n). */
static int prove_send(struct fgd_ps *ps, const struct fgd_proof *p, size_t n)
{
	uint32_t k = (uint32_t)n;
	size_t off = 4, i;

	memcpy(ps->out, &k, 4);
	for (i = 0; i < n; i++) {
		struct fgd_msg_item it = {.len = (uint16_t)p[i].len,
		                          .kind = (uint8_t)p[i].kind,
		                          .member = p[i].member};

		memcpy(ps->out + off, &it, sizeof it);
		memcpy(ps->out + off + sizeof it, p[i].buf, p[i].len);
		off += sizeof it + p[i].len;
	}
	return fgd_msg_send(ps->fd, FGD_MSG_PROVE, ps->out, off, NULL, 0);
}

/* Its answer: the proofs of @p[0 .. @n), in place. */
static int prove_take(struct fgd_ps *ps, struct fgd_proof *p, size_t n)
{
	int rc = -1;
	size_t i;

	if (answer(ps, FGD_MSG_PROOFS, &rc, NULL, 0) !=
	    (ssize_t)(n * FGD_MSG_PROOF))
		return -1;
	for (i = 0; i < n; i++) {
		size_t pl =
		    p[i].kind == FGW_PROOF_MAC ? FGW_MAC_SIZE : FGW_SIG_SIZE;

		memcpy(p[i].buf + p[i].len - pl, ps->buf + i * FGD_MSG_PROOF,
		       pl);
	}
	return 0;
}

/* How many of @p[0 .. @n) fit one message (at least one does). */
static size_t part_of(const struct fgd_proof *p, size_t n)
{
	size_t size = 4, k;

	for (k = 0; k < n; k++) {
		size_t one = sizeof(struct fgd_msg_item) + p[k].len;

		if (size + one > FGD_MSG_MAX)
			break;
		size += one;
	}
	return k;
}

int fgd_ps_prove(void *arg, struct fgd_proof *p, size_t n)
{
	struct fgd_ps *ps = arg;
	size_t i, k, parts[FGD_PROVE_MAX], np = 0;

	/* All the messages, then all the answers: the parent proves one
	 * while we send the next, and wakes once, not once a message. */
	for (i = 0; i < n && np < FGD_PROVE_MAX; i += k) {
		k = part_of(p + i, n - i);
		if (k == 0 || prove_send(ps, p + i, k) != 0)
			return -1;
		parts[np++] = k;
	}
	if (i < n)
		return -1;
	for (i = 0, k = 0; k < np; i += parts[k++])
		if (prove_take(ps, p + i, parts[k]) != 0)
			return -1;
	return 0;
}

int fgd_ps_snap_store(struct fgd_ps *ps, const struct fgd_snap_body *b,
                      char *err, size_t errlen)
{
	struct fgd_msg_snap s = {.nbuckets = b->nbuckets,
	                         .nremote = b->nremote};
	uint64_t n = b->nbuckets + b->nremote, i, k,
	         per = FGD_MSG_MAX / FGD_SNAP_REC_SIZE;
	int rc = -1;

	if (fgd_msg_send(ps->fd, FGD_MSG_SNAP_BEGIN, &s, sizeof s, NULL, 0) !=
	    0)
		return fgu_why(err, errlen, "the privileged process is gone");
	for (i = 0; i < n; i += k) {
		k = n - i < per ? n - i : per;
		if (fgd_msg_send(ps->fd, FGD_MSG_SNAP_RECS,
		                 b->recs + i * FGD_SNAP_REC_SIZE,
		                 k * FGD_SNAP_REC_SIZE, NULL, 0) != 0)
			return fgu_why(err, errlen,
			               "the privileged process is gone");
	}
	if (fgd_msg_send(ps->fd, FGD_MSG_SNAP_END, NULL, 0, NULL, 0) != 0 ||
	    answer(ps, 0, &rc, err, errlen) != -2)
		return -1;
	return rc == 0 ? 0 : -1;
}

int fgd_ps_snap_load(struct fgd_ps *ps,
                     void (*apply)(void *arg, const struct fgd_snap_body *b,
                                   uint64_t elapsed_ns, uint64_t first,
                                   const void *recs, uint64_t n),
                     void *arg, char *err, size_t errlen)
{
	struct fgd_snap_body b = {0};
	struct fgd_msg_snap s;
	uint64_t have = 0;
	ssize_t n;
	int rc = -1;

	if (fgd_msg_send(ps->fd, FGD_MSG_SNAP_GET, NULL, 0, NULL, 0) != 0)
		return fgu_why(err, errlen, "the privileged process is gone");
	n = answer(ps, FGD_MSG_SNAP_BEGIN, &rc, err, errlen);
	if (n < 0)
		return n == -2 ? rc : -1;
	memcpy(&s, ps->buf, sizeof s);
	b.nbuckets = s.nbuckets;
	b.nremote = s.nremote;
	while ((n = answer(ps, FGD_MSG_SNAP_RECS, &rc, err, errlen)) > 0) {
		uint64_t k = (uint64_t)n / FGD_SNAP_REC_SIZE;

		if (k > b.nbuckets + b.nremote - have)
			return fgu_why(err, errlen,
			               "snapshot: too many records");
		apply(arg, &b, s.elapsed_ns, have, ps->buf, k);
		have += k;
	}
	return n == -2 && rc == 0 && have == b.nbuckets + b.nremote ? 0 : -1;
}

int fgd_ps_conf_read(struct fgd_ps *ps, char **text, size_t *len, char *err,
                     size_t errlen)
{
	char *t = NULL, *nt;
	size_t have = 0;
	ssize_t n;
	int rc = -1;

	if (fgd_msg_send(ps->fd, FGD_MSG_CONF_GET, NULL, 0, NULL, 0) != 0)
		return fgu_why(err, errlen, "the privileged process is gone");
	while ((n = answer(ps, FGD_MSG_CONF_TEXT, &rc, err, errlen)) > 0) {
		nt = have + (size_t)n <= (1u << 20)
		         ? realloc(t, have + (size_t)n)
		         : NULL;
		if (nt == NULL) {
			free(t);
			return fgu_why(err, errlen, "config: out of memory");
		}
		t = nt;
		memcpy(t + have, ps->buf, (size_t)n);
		have += (size_t)n;
	}
	if (n != -2 || rc != 0 || (t == NULL && (t = malloc(1)) == NULL)) {
		free(t);
		return -1;
	}
	*text = t;
	*len = have;
	return 0;
}

void fgd_ps_ctl_path(struct fgd_ps *ps, const char *path)
{
	(void)fgd_msg_send(ps->fd, FGD_MSG_CTL_PATH, path, strlen(path), NULL,
	                   0);
}

void fgd_ps_close(struct fgd_ps *ps)
{
	if (ps->fd >= 0)
		close(ps->fd);
	ps->fd = -1;
	free(ps->buf);
	free(ps->out);
	ps->buf = ps->out = NULL;
	sodium_free(ps->rx);
	ps->rx = NULL;
	sodium_memzero(&ps->hello, sizeof ps->hello);
}
