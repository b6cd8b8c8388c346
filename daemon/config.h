/* SPDX-License-Identifier: ISC */
/*
 * config.h - floodgated's configuration (floodgate.conf(5)).
 *
 * The file is line-based, one directive per line, '#' to end of line is a
 * comment, like chrony.conf or an OpenBSD daemon's.  Parsing is a pure
 * function of the text (no DNS, no file system, no user database), so it
 * can be fuzzed and a reload can be validated as a whole before anything
 * changes: a config with one error is rejected entirely with
 * "file:line: reason", and the old one stays in force.
 */
#ifndef FGD_CONFIG_H
#define FGD_CONFIG_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "daemon/httpconf.h"
#include "daemon/overconf.h"
#include "daemon/rule.h"
#include "gossip/addr.h"
#include "lib/floodgate.h"
#include "redis/conf.h"

#define FGD_PATH_MAX            240
#define FGD_NAME_MAX            64
#define FGD_MAX_PEERS           1024
#define FGD_DEFAULT_PORT        7420
#define FGD_DEFAULT_INTERVAL_MS 100
/* below a 1280-byte IPv6 MTU: no fragments */
#define FGD_DEFAULT_DATAGRAM    1200
#define FGD_MIN_DATAGRAM        512
#define FGD_MAX_DATAGRAM        1400
#define FGD_FANOUT_UNSET        0          /* not given: by cluster size */
#define FGD_FANOUT_ALL          UINT32_MAX /* "fanout all" */
#define FGD_FANOUT_MAX          64
#define FGD_DEFAULT_SNAPSHOT_MS 60000u
#define FGD_CONTROL_MAX         107 /* a Unix socket path: sun_path less its NUL */

struct fgd_config {
	/* segment */
	char segment[FGD_PATH_MAX +
	             1];   /* "segment NAME|/PATH"; default "floodgate" */
	uint64_t capacity; /* "capacity N" keys; default FG_DEFAULT_CAPACITY */
	uint32_t mode;     /* "mode 0660" (octal); default 0660 */
	int huge_pages;    /* "huge-pages on|off"; default off */
	char user[FGD_NAME_MAX + 1]; /* "user NAME" segment owner; "" = leave */
	char group[FGD_NAME_MAX +
	           1]; /* "group NAME" segment group; "" = leave */
	/* identity */
	char node_key[FGD_PATH_MAX + 1]; /* "node-key PATH" secret key file */
	char keyring[FGD_PATH_MAX + 1]; /* "keyring PATH" trusted public keys */
	/* operators: "control PATH|off" the control socket (floodgate(1));
	 * "" = the segment's path + ".sock" */
	char control[FGD_CONTROL_MAX + 1];
	/* network */
	struct fgd_addr listen; /* "listen ADDR[:PORT]"; default 0.0.0.0:7420 */
	struct fgd_addr announce; /* "announce ADDR[:PORT]|off": where
	                           * members reach us; len 0: listen */
	int announce_off;
	struct fgd_addr *peers; /* "peer ADDR[:PORT]", repeatable */
	size_t npeers;
	uint32_t interval_ms;  /* "interval 100ms" */
	uint32_t max_datagram; /* "max-datagram 1200" bytes */
	/* "http ...": the HTTP endpoint (daemon/http.c, httpconf.h) */
	struct fgd_http_conf http;
	uint32_t fanout; /* "fanout N|all"; FGD_FANOUT_UNSET:
	                  * all up to 8 keyring members, else 3 */
	/* "ledger-size N": marks of other nodes' counts kept (node.h);
	 * 0 = capacity x min(peers, 4) */
	uint64_t ledger_size;
	/* "debt-window DURATION": a partition's debt is paid back in full
	 * up to this long a cut (node.c); 0 = 60s */
	uint32_t debt_window_ms;
	/* "snapshot PATH [every DURATION]": buckets and gossip marks kept
	 * on disk across reboots (daemon/snapshot.h); "" = none */
	char snapshot[FGD_PATH_MAX + 1];
	uint32_t snapshot_every_ms; /* default FGD_DEFAULT_SNAPSHOT_MS */
	/* "sync redis://...|unix:...", "redis-auth", "redis-timeout",
	 * "redis-namespace": the Redis transport (redis/conf.h) */
	struct fgr_conf redis;
	/* rules: "rule NAME capacity N rate R/PERIOD [scope host|global]
	 *         [on-full open|closed] [mode enforce|shadow] [default]" */
	struct fgd_rule *rules;
	size_t nrules;
	/* "tier NAME ...", "override RULE key|prefix KEY ..." (overconf.h) */
	struct fgd_overconf ov;
};

/*
 * Parse @len bytes of @text (need not be NUL-terminated) read from @fname
 * (used in messages only).  On success fills @cfg (free with
 * fgd_config_free) and returns 0.  On the first error returns -1, leaves
 * @cfg empty and writes "fname:line: reason" to @err.
 */
int fgd_config_parse(const char *text, size_t len, const char *fname,
                     struct fgd_config *cfg, char *err, size_t errlen);

/* Read a regular file of at most 1 MiB into *@text (malloc'ed, free it;
 * not NUL-terminated), its length in *@len.  0, or -1 with "path: reason"
 * in @err. */
int fgd_config_read(const char *path, char **text, size_t *len, char *err,
                    size_t errlen);

/* Read and parse a file (at most 1 MiB); same contract. */
int fgd_config_load(const char *path, struct fgd_config *cfg, char *err,
                    size_t errlen);

void fgd_config_free(struct fgd_config *cfg);

/* The name of directive @i of the table, in its order; NULL past the
 * last (for tests that hold floodgate.conf(5) to the table). */
const char *fgd_config_directive(size_t i);

/* 1 when @a and @b configure the same HTTP endpoint (the http directive
 * takes effect at start only: a reload compares), else 0. */
int fgd_config_http_same(const struct fgd_config *a,
                         const struct fgd_config *b);

#endif
