/* SPDX-License-Identifier: ISC */
/*
 * tun.c - a TUN device inside a network namespace (see tun.h).
 *
 * Everything is done with ioctls on descriptors opened inside the target
 * namespace (a socket belongs to the namespace it was created in), so the
 * relay needs no `ip` binary.  A TUN device is point-to-point: with a /24
 * netmask the kernel still installs the subnet route through it, which is
 * what sends every other node's address to the relay.
 */
#include "tests/netns/tun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int set_addr(int s, struct ifreq *ifr, unsigned long req, uint32_t a)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};

	sin.sin_addr.s_addr = htonl(a);
	memcpy(&ifr->ifr_addr, &sin, sizeof sin);
	return ioctl(s, req, ifr);
}

static int set_up(int s, const char *ifname)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0)
		return -1;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	return ioctl(s, SIOCSIFFLAGS, &ifr);
}

/* In the target namespace: the device, its address, both links up. */
static int tun_here(uint32_t addr, unsigned prefix, char *err, size_t errlen)
{
	uint32_t mask = prefix ? ~UINT32_C(0) << (32 - prefix) : 0;
	struct ifreq ifr;
	const char *what = "open /dev/net/tun";
	int fd, s = -1;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		goto fail;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", FGN_IFNAME);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	what = "TUNSETIFF";
	if (ioctl(fd, TUNSETIFF, &ifr) != 0)
		goto fail;
	what = "socket";
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		goto fail;
	what = "SIOCSIFADDR";
	if (set_addr(s, &ifr, SIOCSIFADDR, addr) != 0)
		goto fail;
	what = "SIOCSIFNETMASK";
	if (set_addr(s, &ifr, SIOCSIFNETMASK, mask) != 0)
		goto fail;
	what = "bringing " FGN_IFNAME " up";
	if (set_up(s, FGN_IFNAME) != 0)
		goto fail;
	what = "bringing lo up";
	if (set_up(s, "lo") != 0)
		goto fail;
	close(s);
	return fd;
fail:
	snprintf(err, errlen, "%s: %s", what, strerror(errno));
	if (s >= 0)
		close(s);
	if (fd >= 0)
		close(fd);
	return -1;
}

int fgn_tun_open(const char *ns, uint32_t addr, unsigned prefix, char *err,
                 size_t errlen)
{
	char path[256];
	int self, target = -1, fd = -1;

	if (strchr(ns, '/'))
		snprintf(path, sizeof path, "%s", ns);
	else
		snprintf(path, sizeof path, "/run/netns/%s", ns);
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		snprintf(err, errlen, "/proc/self/ns/net: %s", strerror(errno));
		return -1;
	}
	target = open(path, O_RDONLY | O_CLOEXEC);
	if (target < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (setns(target, CLONE_NEWNET) != 0) {
		snprintf(err, errlen, "setns %s: %s", path, strerror(errno));
		goto out;
	}
	fd = tun_here(addr, prefix, err, errlen);
	if (setns(self, CLONE_NEWNET) != 0) {
		snprintf(err, errlen, "back from %s: %s", path,
		         strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -2;
	}
out:
	if (target >= 0)
		close(target);
	close(self);
	return fd;
}
