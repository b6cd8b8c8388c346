/* SPDX-License-Identifier: ISC */
/*
 * conf.h - the Redis transport's settings, and the words of its
 * directives in floodgate.conf(5) (conf.c):
 *
 *   sync redis://HOST[:PORT][/DB] | unix:/PATH[?db=DB]
 *   redis-auth [USER] PASSWORD-FILE
 *   redis-timeout DURATION
 *   redis-namespace NAME
 *
 * Pure, as the rest of the config: a host name is checked for shape and
 * resolved by the daemon at start (conn.c), the password file is read
 * there too (secret.c).  A password is never written in the config: it
 * would be in every copy of a file that is often world-readable.
 */
#ifndef FGR_CONF_H
#define FGR_CONF_H

#include <stddef.h>
#include <stdint.h>

#define FGR_HOST_MAX       253 /* a DNS name */
#define FGR_UNIX_MAX       107 /* sun_path, less its NUL */
#define FGR_USER_MAX       64
#define FGR_NS_MAX         32
#define FGR_FILE_MAX       240 /* = FGD_PATH_MAX */
#define FGR_DEFAULT_PORT   6379
#define FGR_DB_MAX         65535
#define FGR_DEFAULT_NS     "floodgate"
#define FGR_TIMEOUT_MS     250u /* connect, handshake, each exchange */
#define FGR_TIMEOUT_MIN_MS 10u
#define FGR_TIMEOUT_MAX_MS 10000u

struct fgr_conf {
	int on;                      /* a sync directive was given */
	int unix_sock;               /* unix:/PATH, else redis://HOST */
	char host[FGR_HOST_MAX + 1]; /* a name, an IPv4 or an IPv6 address */
	uint16_t port;
	char path[FGR_UNIX_MAX + 1];
	uint32_t db;                          /* SELECT'ed when not 0 */
	char user[FGR_USER_MAX + 1];          /* "": AUTH PASSWORD alone */
	char password_file[FGR_FILE_MAX + 1]; /* "": no AUTH */
	uint32_t timeout_ms;
	char ns[FGR_NS_MAX + 1]; /* keys are "{NS}:..." */
};

/* Off, with the defaults. */
void fgr_conf_defaults(struct fgr_conf *c);

/* One directive's words (w[0] is its name: sync, redis-auth,
 * redis-timeout, redis-namespace) into @c: 0, or -1 and why in @why. */
int fgr_conf_words(char **w, int nw, struct fgr_conf *c, char *why, size_t len);

/* Once every line is read: redis-* directives need sync, and sync needs
 * a node key (@have_node_key), whose public key names the node in Redis.
 * 0, or -1 and why. */
int fgr_conf_check(const struct fgr_conf *c, int have_node_key, char *why,
                   size_t len);

/* "redis://HOST:PORT/DB" or "unix:/PATH?db=DB", for messages. */
void fgr_conf_url(const struct fgr_conf *c, char *out, size_t len);

/* 1 when @a and @b name the same server, credentials and settings. */
int fgr_conf_same(const struct fgr_conf *a, const struct fgr_conf *b);

#endif
