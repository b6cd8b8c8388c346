/* SPDX-License-Identifier: ISC */
/*
 * httpconns.c - the HTTP endpoint's connections: deadlines and places
 * (see httpconns.h for the design).
 *
 * Invariants: every connection MHD holds and has not been shut down is in
 * the list exactly once (linked), sorted by start_ms, and its same counts
 * the linked connections of its address; a connection shut down is
 * unlinked at once (it no longer holds a place, whatever MHD still holds)
 * and freed when MHD says it closed.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/httpconns.h"
#include "shm/clock.h"

/* An address as the per-address limit counts it: family, then the IPv4
 * address or the IPv6 /64. */
struct addr_key {
	unsigned char b[9];
};

struct fgd_hc_conn {
	struct fgd_hc_conn *prev, *next;
	struct MHD_Connection *mc;
	uint64_t start_ms; /* accept, or the previous answer */
	struct addr_key key;
	uint32_t same; /* linked connections of this key, this one included */
	int linked;
};

static uint64_t mono_ms(void)
{
	return fg__now_ns() / 1000000u;
}

static void addr_key(const struct sockaddr *sa, socklen_t len,
                     struct addr_key *k)
{
	memset(k, 0, sizeof *k);
	if (sa->sa_family == AF_INET &&
	    len >= (socklen_t)sizeof(struct sockaddr_in)) {
		k->b[0] = 4;
		memcpy(k->b + 1, &((const struct sockaddr_in *)sa)->sin_addr,
		       4);
	} else if (sa->sa_family == AF_INET6 &&
	           len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct in6_addr *a =
		    &((const struct sockaddr_in6 *)sa)->sin6_addr;
		int v4 = IN6_IS_ADDR_V4MAPPED(a);

		k->b[0] = v4 ? 4 : 6;
		memcpy(k->b + 1, v4 ? a->s6_addr + 12 : a->s6_addr, v4 ? 4 : 8);
	}
}

static void list_remove(struct fgd_hc *hc, struct fgd_hc_conn *c)
{
	*(c->prev ? &c->prev->next : &hc->head) = c->next;
	*(c->next ? &c->next->prev : &hc->tail) = c->prev;
	c->prev = c->next = NULL;
}

/* @c goes last, its clock (re)started at @now: the list stays sorted. */
static void list_append(struct fgd_hc *hc, struct fgd_hc_conn *c, uint64_t now)
{
	c->start_ms = now;
	c->prev = hc->tail;
	*(hc->tail ? &hc->tail->next : &hc->head) = c;
	hc->tail = c;
}

/* Count @c, not in the list, in (@d = 1) or out (@d = -1) of its
 * address's connections. */
static void same_add(struct fgd_hc *hc, struct fgd_hc_conn *c, int d)
{
	struct fgd_hc_conn *o;

	c->same = 1;
	for (o = hc->head; o != NULL; o = o->next)
		if (memcmp(&o->key, &c->key, sizeof c->key) == 0) {
			o->same += (uint32_t)d;
			c->same++;
		}
}

static void conn_link(struct fgd_hc *hc, struct fgd_hc_conn *c)
{
	same_add(hc, c, 1);
	list_append(hc, c, mono_ms());
	c->linked = 1;
	hc->nlive++;
}

static void conn_unlink(struct fgd_hc *hc, struct fgd_hc_conn *c)
{
	if (!c->linked)
		return;
	list_remove(hc, c);
	same_add(hc, c, -1);
	c->linked = 0;
	hc->nlive--;
}

/* Shut @mc's socket down: MHD closes the connection at its next run. */
static void conn_shut(struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);

	if (ci != NULL)
		(void)shutdown(ci->connect_fd, SHUT_RDWR);
}

static void conn_end(struct fgd_hc *hc, struct fgd_hc_conn *c)
{
	conn_unlink(hc, c);
	conn_shut(c->mc);
}

void fgd_hc_init(struct fgd_hc *hc, uint32_t timeout_ms, uint32_t connections,
                 uint32_t per_address)
{
	memset(hc, 0, sizeof *hc);
	hc->timeout_ms = timeout_ms;
	hc->connections = connections;
	hc->per_address = per_address;
}

/* The per-address limit, then a place: the oldest connection of the
 * address holding the most gives its up. */
enum MHD_Result fgd_hc_accept(void *cls, const struct sockaddr *sa,
                              socklen_t len)
{
	struct fgd_hc *hc = cls;
	struct fgd_hc_conn *c, *victim = hc->head;
	struct addr_key k;

	addr_key(sa, len, &k);
	for (c = hc->head; c != NULL; c = c->next)
		if (memcmp(&c->key, &k, sizeof k) == 0) {
			if (c->same >= hc->per_address) {
				hc->refused++;
				return MHD_NO;
			}
			break;
		}
	if (hc->nlive < hc->connections || victim == NULL)
		return MHD_YES;
	for (c = hc->head; c != NULL; c = c->next)
		if (c->same > victim->same)
			victim = c;
	conn_end(hc, victim);
	hc->displaced++;
	return MHD_YES;
}

void fgd_hc_notify(void *cls, struct MHD_Connection *mc, void **sc,
                   enum MHD_ConnectionNotificationCode what)
{
	const union MHD_ConnectionInfo *ci;
	struct fgd_hc *hc = cls;
	struct fgd_hc_conn *c = *sc;

	if (what == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (c != NULL)
			conn_unlink(hc, c);
		free(c);
		*sc = NULL;
		return;
	}
	c = calloc(1, sizeof *c);
	if (c == NULL) {
		conn_shut(mc); /* untracked, it would have no deadline */
		hc->untracked++;
		return;
	}
	c->mc = mc;
	ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci != NULL && ci->client_addr != NULL)
		addr_key(ci->client_addr,
		         ci->client_addr->sa_family == AF_INET6
		             ? (socklen_t)sizeof(struct sockaddr_in6)
		             : (socklen_t)sizeof(struct sockaddr_in),
		         &c->key);
	conn_link(hc, c);
	*sc = c;
}

/* An answer has gone out whole: the next request's clock starts. */
void fgd_hc_completed(void *cls, struct MHD_Connection *mc, void **req_cls,
                      enum MHD_RequestTerminationCode toe)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct fgd_hc_conn *c = ci != NULL ? ci->socket_context : NULL;

	(void)req_cls;
	if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && c != NULL &&
	    c->linked) {
		list_remove(cls, c);
		list_append(cls, c, mono_ms());
	}
}

void fgd_hc_expire(struct fgd_hc *hc, uint64_t now_ms)
{
	while (hc->head != NULL &&
	       now_ms - hc->head->start_ms >= hc->timeout_ms) {
		conn_end(hc, hc->head);
		hc->expired++;
	}
}

uint64_t fgd_hc_next(const struct fgd_hc *hc, uint64_t now_ms)
{
	uint64_t end;

	if (hc->head == NULL)
		return UINT64_MAX;
	end = hc->head->start_ms + hc->timeout_ms;
	return end > now_ms ? end - now_ms : 0;
}
