/* SPDX-License-Identifier: ISC */
/*
 * psmsg.c - see psmsg.h.  The length rules of every type are in one
 * table, checked on receipt before the caller sees a byte (OpenBSD
 * ntpd's dispatch_imsg checks each imsg's exact length the same way).
 */
#include "daemon/psmsg.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "daemon/snapshot.h"

struct hdr {
	uint32_t type;
	uint32_t len;
};

/* A payload of a type is min + k * unit bytes, k >= 0 (unit 0: exactly
 * min), at most FGD_MSG_MAX; variable parts are checked by the reader. */
static const struct rule {
	uint32_t min, unit;
} rules[FGD_MSG_NTYPES] = {
    [FGD_MSG_HELLO] = {sizeof(struct fgd_msg_hello), 64},
    [FGD_MSG_PROVE] = {4 + sizeof(struct fgd_msg_item), 1},
    [FGD_MSG_PROOFS] = {FGD_MSG_PROOF, FGD_MSG_PROOF},
    [FGD_MSG_SNAP_BEGIN] = {sizeof(struct fgd_msg_snap), 0},
    [FGD_MSG_SNAP_RECS] = {FGD_SNAP_REC_SIZE, FGD_SNAP_REC_SIZE},
    [FGD_MSG_SNAP_END] = {0, 0},
    [FGD_MSG_SNAP_GET] = {0, 0},
    [FGD_MSG_CONF_GET] = {0, 0},
    [FGD_MSG_CONF_TEXT] = {1, 1},
    [FGD_MSG_CTL_PATH] = {1, 1},
    [FGD_MSG_RESULT] = {4, 1},
};

int fgd_msg_send(int fd, uint32_t type, const void *a, size_t alen,
                 const void *b, size_t blen)
{
	struct hdr h = {.type = type, .len = (uint32_t)(alen + blen)};
	struct iovec iov[3] = {{.iov_base = &h, .iov_len = sizeof h},
	                       {.iov_base = (void *)a, .iov_len = alen},
	                       {.iov_base = (void *)b, .iov_len = blen}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 3};
	ssize_t n;

	if (alen > FGD_MSG_MAX || blen > FGD_MSG_MAX - alen) {
		errno = EMSGSIZE;
		return -1;
	}
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)(sizeof h + alen + blen) ? 0 : -1;
}

static int length_ok(uint32_t type, size_t len)
{
	const struct rule *r;

	if (type == 0 || type >= FGD_MSG_NTYPES)
		return 0;
	r = &rules[type];
	if (len < r->min)
		return 0;
	return r->unit == 0 ? len == r->min : (len - r->min) % r->unit == 0;
}

ssize_t fgd_msg_recv(int fd, uint32_t *type, void *buf)
{
	struct hdr h = {0}; /* recvmsg fills it; zero for a short read */
	struct iovec iov[2] = {{.iov_base = &h, .iov_len = sizeof h},
	                       {.iov_base = buf, .iov_len = FGD_MSG_MAX}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
	ssize_t n;

	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -1; /* 0: the other side is gone */
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)n < sizeof h ||
	    h.len != (size_t)n - sizeof h || !length_ok(h.type, h.len)) {
		errno = EBADMSG;
		return -1;
	}
	*type = h.type;
	return (ssize_t)h.len;
}
