/* SPDX-License-Identifier: ISC */
/*
 * net.c - the gossip socket (see net.h).
 *
 * The receive buffer is asked for RCVBUF_BYTES: every peer's round lands
 * at once, and the loop reads at most 1024 datagrams between two rounds.
 * The kernel caps it at net.core.rmem_max unless we may force it
 * (CAP_NET_ADMIN); the start says so once when it was capped.
 */
#include "daemon/net.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>

#include "daemon/log.h"

#define RCVBUF_BYTES (4 << 20)
#define RECV_BURST   1024u /* datagrams a call: rounds must still run */

static void rcvbuf_set(int sock)
{
	int want = RCVBUF_BYTES, got = 0;
	socklen_t gl = sizeof got;

	if (setsockopt(sock, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) !=
	    0)
		(void)setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &want,
		                 sizeof want);
	/* the kernel reports twice what it grants (its bookkeeping) */
	if (getsockopt(sock, SOL_SOCKET, SO_RCVBUF, &got, &gl) == 0 &&
	    got / 2 < want)
		fgd_log(LOG_NOTICE,
		        "receive buffer: %d KiB of the %d asked for; bursts "
		        "from many peers may overflow it (sysctl "
		        "net.core.rmem_max=%d raises the limit)",
		        got / 2 / 1024, want / 1024, want);
}

int fgd_net_open(struct fgd_daemon *d)
{
	int one = 1;

	d->sock = socket(d->cfg.listen.ss.ss_family,
	                 SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (d->sock < 0) {
		fgd_log(LOG_ERR, "socket: %s", strerror(errno));
		return -1;
	}
	(void)setsockopt(d->sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (d->cfg.listen.ss.ss_family == AF_INET6) {
		int zero = 0; /* [::] reaches IPv4 peers whatever the sysctl */

		(void)setsockopt(d->sock, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
		                 sizeof zero);
	}
	if (bind(d->sock, (struct sockaddr *)&d->cfg.listen.ss,
	         d->cfg.listen.len) != 0) {
		fgd_log(LOG_ERR, "listen: bind: %s", strerror(errno));
		return -1;
	}
	rcvbuf_set(d->sock);
	/* Each read then says how many datagrams the kernel dropped. */
	(void)setsockopt(d->sock, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
	return 0;
}

/* The node picks the destinations (members.c): fanout, relaying, SWIM. */
static void send_to(void *arg, const struct fgd_addr *a, const uint8_t *buf,
                    size_t len)
{
	struct fgd_daemon *d = arg;

	if (sendto(d->sock, buf, len, 0, (const struct sockaddr *)&a->ss,
	           a->len) == (ssize_t)len) {
		d->node.ctr.tx_datagrams++;
		d->node.ctr.tx_bytes += len;
	} else {
		d->node.ctr.tx_errors++;
	}
}

int fgd_net_attach(struct fgd_daemon *d)
{
	struct fgd_net net = {.self = d->cfg.announce.len ? &d->cfg.announce
	                                                  : &d->cfg.listen,
	                      .seeds = d->cfg.peers,
	                      .nseeds = d->cfg.npeers,
	                      .send = send_to,
	                      .arg = d};

	if (d->cfg.announce_off)
		net.self = NULL; /* members find us only in their config */
	if (d->cfg.fanout == FGD_FANOUT_UNSET)
		net.fanout = fgd_fanout_auto(d->kr.n);
	else
		net.fanout =
		    d->cfg.fanout == FGD_FANOUT_ALL ? 0 : d->cfg.fanout;
	return fgd_node_set_net(&d->node, &net);
}

/* SO_RXQ_OVFL: the socket's count of datagrams dropped for a full
 * buffer (32 bits, wrapping), into the node's counter. */
static void overflow_note(struct fgd_daemon *d, struct msghdr *mh)
{
	struct cmsghdr *c;
	uint32_t drops;

	for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET ||
		    c->cmsg_type != SO_RXQ_OVFL ||
		    c->cmsg_len < CMSG_LEN(sizeof drops))
			continue;
		memcpy(&drops, CMSG_DATA(c), sizeof drops);
		d->node.ctr.rx_overflow += (uint32_t)(drops - d->rxq_ovfl);
		d->rxq_ovfl = drops;
	}
}

void fgd_net_receive(struct fgd_daemon *d, uint64_t t)
{
	uint8_t buf[FGW_MAX_SIZE + 1];
	union {
		struct cmsghdr align;
		uint8_t b[CMSG_SPACE(sizeof(uint32_t))];
	} ctl;
	unsigned i;

	for (i = 0; i < RECV_BURST; i++) {
		struct fgd_addr from = {.len = sizeof from.ss};
		struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
		struct msghdr mh = {.msg_name = &from.ss,
		                    .msg_namelen = sizeof from.ss,
		                    .msg_iov = &iov,
		                    .msg_iovlen = 1,
		                    .msg_control = ctl.b,
		                    .msg_controllen = sizeof ctl.b};
		ssize_t n = recvmsg(d->sock, &mh, 0);

		if (n < 0)
			return;
		from.len = mh.msg_namelen;
		if (!d->node_ok)
			continue;
		overflow_note(d, &mh);
		(void)fgd_node_receive_from(&d->node, buf, (size_t)n, &from, t);
	}
}
