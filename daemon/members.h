/*
 * members.h - node.c's side of members.c: the membership table, SWIM
 * probes, announcements and forwarding (the public calls are in node.h).
 */
#ifndef FGD_MEMBERS_H
#define FGD_MEMBERS_H

#include "daemon/node.h"

/* The per-member table, one entry per keyring entry.  0 or -1. */
int fgd_members_init(struct fgd_node *n);
void fgd_members_fini(struct fgd_node *n);

/* 1 if @buf is byte for byte an announcement already verified and kept:
 * nothing to verify or do. */
int fgd_members_known(const struct fgd_node *n, const uint8_t *buf, size_t len);

/* An opened announcement: kept if newer than the one we have (no replay
 * window: announcements are re-sent by others, idempotent by version). */
enum fgw_drop fgd_members_announce(struct fgd_node *n, const struct fgw_view *v,
                                   uint64_t now_ms);

/* @origin passed the replay window: it talks, so it is alive. */
void fgd_members_heard(struct fgd_node *n, int origin);

/* An opened, fresh ping, ack or ping-req. */
void fgd_members_receive(struct fgd_node *n, const struct fgw_view *v,
                         const struct fgd_addr *from, uint64_t now_ms);

/* Forward @buf, of @origin, accepted for the first time, unchanged to
 * `fanout` members other than @origin and the sender @from. */
void fgd_members_forward(struct fgd_node *n, const uint8_t *buf, size_t len,
                         int origin, const struct fgd_addr *from,
                         uint64_t now_ms);

/* Sign a membership datagram of ours (our address filled in) and send it
 * to @to. */
void fgd_members_send(struct fgd_node *n, const struct fgd_addr *to,
                      struct fgw_member *m);

/* The probes' verdict on @origin: FGD_PEER_SUSPECT, FGD_PEER_DEAD, or
 * FGD_PEER_UNKNOWN when they have none. */
enum fgd_peer_state fgd_members_verdict(const struct fgd_node *n, int origin);

#endif
