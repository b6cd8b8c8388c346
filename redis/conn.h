/* SPDX-License-Identifier: ISC */
/*
 * conn.h - one connection to Redis, driven by the daemon's poll() loop:
 * never a blocking call, every wait bounded by an absolute deadline.
 *
 * States: down; connecting (a non-blocking connect in progress);
 * handshake (AUTH, SELECT, CLIENT SETNAME and SCRIPT LOAD sent at once,
 * their replies awaited); ready; busy (one exchange, the commands of a
 * round sent at once, their replies awaited).  Connect and handshake
 * share one deadline, timeout_ms from the start; an exchange has its
 * own, timeout_ms from when it was sent, for all its replies.
 * A deadline passed, an error reply in the handshake, a connection closed
 * or anything that is not RESP fails the connection: it is closed, and
 * why is said in words (err) and as a reason for the counters (fail).
 *
 * The socket is ours (SOCK_CLOEXEC, SOCK_NONBLOCK, TCP_NODELAY), handed
 * to hiredis (redisConnectFd) with its blocking flag cleared: hiredis
 * formats the commands (redisAppendCommandArgv) and parses the replies
 * (its redisReader); we read and write.  Reading is ours so that a reply
 * is bounded (FGR_REPLY_MAX bytes): hiredis would take a reply of any
 * size.  A host name is resolved once, at init (the daemon's start), so
 * that no connect ever waits for DNS.
 *
 * The password is sent in the handshake; it passes through hiredis's
 * output buffer, which hiredis frees without wiping.
 */
#ifndef FGR_CONN_H
#define FGR_CONN_H

#include <hiredis/hiredis.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "redis/conf.h"
#include "redis/secret.h"

#define FGR_REPLY_MAX (8u << 20) /* bytes of one reply, at most */

enum fgr_conn_state {
	FGR_CONN_DOWN,
	FGR_CONN_CONNECTING,
	FGR_CONN_HANDSHAKE,
	FGR_CONN_READY,
	FGR_CONN_BUSY
};

/* Why a connection failed, for the counters. */
enum fgr_fail {
	FGR_F_CONNECT, /* connect() failed: refused, unreachable, no socket */
	FGR_F_TIMEOUT, /* a deadline passed */
	FGR_F_AUTH,    /* AUTH refused, or Redis wants a password */
	FGR_F_REDIS,   /* an error reply: SELECT, SCRIPT LOAD, the script */
	FGR_F_REPLY,   /* not RESP, too large, not the script's reply */
	FGR_F_IO,      /* the connection broke: closed, reset */
	FGR_NFAILS
};

const char *fgr_fail_name(enum fgr_fail f);

enum fgr_event {
	FGR_EV_NONE,  /* nothing yet */
	FGR_EV_READY, /* the handshake is done: an exchange may be sent */
	FGR_EV_REPLY, /* the exchange's reply is in *reply */
	FGR_EV_FAIL,  /* failed and closed: see fail and err */
};

struct fgr_conn {
	struct fgr_conf conf;
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct fgr_secret pw;
	char name[64]; /* CLIENT SETNAME */
	redisContext *ctx;
	enum fgr_conn_state state;
	uint64_t deadline_ms;
	unsigned step, nsteps; /* handshake replies: the next, how many */
	unsigned char steps[4];
	size_t rx;       /* bytes read toward what is awaited */
	unsigned expect; /* busy: replies still due */
	char sha[41];
	const char *script; /* SCRIPT LOAD'ed: fgr_script unless set after
	                     * init (the strict rules' fgr_gcra_script) */
	enum fgr_fail fail;
	char err[256];
};

/* Resolve @conf's address and read its password file, unless @pw holds
 * it already (taken over: a daemon reads it before it drops privileges):
 * 0, or -1 with why in @err.  @name is what CLIENT LIST shows of us. */
int fgr_conn_init(struct fgr_conn *c, const struct fgr_conf *conf,
                  const char *name, struct fgr_secret *pw, char *err,
                  size_t errlen);
void fgr_conn_fini(struct fgr_conn *c);

/* Start connecting (down only): 0, or -1 (failed at once: fail, err). */
int fgr_conn_open(struct fgr_conn *c, uint64_t now_ms);

/* An exchange (ready only): append its commands, then send them all at
 * once (pipelined).  0, or -1 (failed: fail, err). */
int fgr_conn_append(struct fgr_conn *c, int argc, const char **argv,
                    const size_t *len);
int fgr_conn_send(struct fgr_conn *c, uint64_t now_ms);

/* Close, whatever the state; nothing counted. */
void fgr_conn_close(struct fgr_conn *c);

/* The pollfd to wait on (fd -1 when down), and @timeout (ms, -1: none)
 * lowered to the deadline. */
void fgr_conn_pollfd(const struct fgr_conn *c, struct pollfd *pfd,
                     uint64_t now_ms, int *timeout);

/* Progress on what poll() said (@revents, 0 if it was not polled) and on
 * the clock.  FGR_EV_REPLY hands over *@reply (freeReplyObject it), one
 * reply of the exchange a call, in order: call again (@revents 0) until
 * it returns something else. */
enum fgr_event fgr_conn_service(struct fgr_conn *c, short revents,
                                uint64_t now_ms, redisReply **reply);

#endif
