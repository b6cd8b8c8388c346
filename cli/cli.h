/* SPDX-License-Identifier: ISC */
/*
 * cli.h - floodgate(1), the operator's tool: what its files share.
 *
 * Two sources, so that the tool works while the daemon is down: what the
 * workers see (rules, buckets, counters) is read straight from the
 * segment, read-only and lock-free like a worker; what only floodgated
 * knows (peers, the remote ledger, gossip counters) is asked over its
 * control socket (daemon/control.h).
 *
 * Layout: commands.c holds the command table (and the usage text made
 * from it), main.c dispatches from it; each other file is one group of
 * commands (show.c: status, rules, get; list.c: list, top; act.c: check,
 * reset, reload, remove; peers.c; stats.c; keygen.c) on top of two helpers,
 * segment.c (open, rules, slots) and daemon.c (ask, reply lines).
 *
 * Output: a command writes its result into c->out (tables with out(),
 * JSON through c->json and the one writer of util/json.h); main prints it
 * once at the end.  Messages go to stderr, one sentence each that says
 * what to do; every failure has its own exit status (floodgate(1)).
 */
#ifndef FGC_CLI_H
#define FGC_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "daemon/config.h"
#include "daemon/control.h"
#include "lib/client.h"
#include "util/buf.h"
#include "util/json.h"

enum {
	EXIT_DENIED = 1,   /* check: the request would be denied */
	EXIT_NORULE = 2,   /* no such rule in the segment */
	EXIT_NODAEMON = 3, /* floodgated does not answer */
	EXIT_NOSEG = 4,    /* no such segment */
	EXIT_VERSION = 5,  /* a segment of another layout version */
	EXIT_BADSEG = 6,   /* not a floodgate segment, or corrupt */
	EXIT_PERM = 7,     /* permission denied */
	EXIT_DAEMON = 8,   /* floodgated answered with an error */
	EXIT_CONFIG = 9,   /* the -c file does not load */
	EXIT_SYS = 10,     /* out of memory or another system error */
	EXIT_USAGE = 64,   /* bad command line (as sysexits' EX_USAGE) */
};

/* What a command needs before it runs (the dispatcher provides it). */
enum fgc_needs {
	NEEDS_NOTHING, /* works anywhere (keygen) */
	NEEDS_SEGMENT, /* reads the segment; asks the daemon if it answers */
	NEEDS_DAEMON,  /* fails with EXIT_NODAEMON when nobody answers */
};

struct fgc;

struct fgc_command {
	const char *name;
	int (*run)(struct fgc *c, int argc, char **argv);
	const char *args; /* its arguments, as usage and floodgate(1) write;
	                   * "": none (main.c refuses any) */
	enum fgc_needs needs;
	const char *help; /* one line */
};

struct fgc {
	const struct fgc_command *cmd;
	char segment[FGD_PATH_MAX + 1]; /* -s, else config, env, default */
	const char *config;
	int json;
	char seg_path[FG_SEG_PATH_MAX + 16];
	char ctl_path[FGD_CONTROL_MAX + 1]; /* "": no control socket */
	fg_client *fg;
	struct fgd_tier *tiers; /* the -c file's, for override set */
	size_t ntiers;
	struct fgd_buf out; /* printed by main when the command returns */
	struct fgu_json j;  /* on out */
};

/* A global option (before or after COMMAND). */
struct fgc_option {
	const char *name; /* --NAME */
	char shortopt;    /* -X, or 0 */
	const char *arg;  /* its value's name, or NULL */
	const char *help;
};

/* ------------------------------------------------------ commands.c */

/* The tables, in the order of usage and floodgate(1). */
const struct fgc_command *fgc_commands(size_t *n);
const struct fgc_option *fgc_options(size_t *n);
/* The command named @name, or NULL. */
const struct fgc_command *fgc_command(const char *name);
/* The usage text, generated from the tables; one command's. */
void fgc_usage(FILE *f);
void fgc_command_usage(FILE *f, const struct fgc_command *cmd);

/* "floodgate: MESSAGE" on stderr. */
void fgc_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Text for the table output. */
void fgc_out(struct fgc *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "usage: floodgate NAME ARGS" for the current command; EXIT_USAGE. */
int fgc_usage_error(const struct fgc *c);
/* getopt_long() returned @o, '?' or ':' (opterr is 0, the option string
 * starts with ':'): say which option is wrong and how; EXIT_USAGE. */
int fgc_bad_option(const struct fgc *c, char **argv, int optind_now, int o);
/* A number option from @min to @max, or a message and EXIT_USAGE; @unit
 * names what it counts ("milliseconds"). */
int fgc_uint_arg(const char *opt, const char *s, uint64_t min, uint64_t max,
                 const char *unit, uint64_t *v);

/* ------------------------------------------------------- segment.c */

#define HUMAN_KEY_MAX (4 * FG_KEY_MAX + 1)

/* One live bucket, copied out of its slot. */
struct fgc_item {
	uint64_t slot, id; /* the bucket's (shm/scan.h) */
	uint64_t consumed, denied, tat;
	uint64_t win_allowed, win_denied; /* list --top: over the window */
	uint64_t remote;
	int remote_known;
	unsigned rule;
	uint8_t klen;
	uint8_t key[FG_KEY_MAX];
};

/* Attach the segment; 0, or the exit status with the reason said. */
int fgc_seg_open(struct fgc *c);
/* The active rule named @name, or EXIT_NORULE (said). */
int fgc_rule_find(struct fgc *c, const char *name, unsigned *idx,
                  fg_rule_info *ri);
/* KEY from the command line: 0 with its length, or EXIT_USAGE (said). */
int fgc_key_arg(const char *key, size_t *len);
/* Copy slot @i if it holds a live bucket; 1 if it does. */
int fgc_slot_read(struct fg_table *t, uint64_t i, struct fgc_item *it);
/* The live bucket of (@rule, @key), zeroed if there is none; 1 if found. */
int fgc_bucket_read(struct fgc *c, unsigned rule, const void *key, size_t len,
                    struct fgc_item *it);
/* ms the bucket of rule @rule whose tat is @tat stays blocked by the
 * rule's penalty (lib/penalty.c); 0: it is not. */
uint64_t fgc_blocked_ms(struct fgc *c, unsigned rule, uint64_t tat,
                        uint64_t now);
/* The parameters a check of @x's key applies (its override's, if any;
 * in *@buf). */
const struct fg_rule_cache *fgc_key_params(struct fgc *c,
                                           const struct fgc_item *x,
                                           struct fg_rule_cache *buf);
/* Tokens left in @x's bucket at @now (negative: in debt), under its
 * key's parameters. */
int64_t fgc_tokens_left(struct fgc *c, const struct fgc_item *x, uint64_t now);
/* Order by rule, then key bytes. */
int fgc_cmp_rule_key(const void *a, const void *b);
/* A key for a table: printable ASCII as is, other bytes as \xNN. */
void fgc_human_key(const uint8_t *k, size_t len, char *out);
/* "host" or "global". */
const char *fgc_rule_scope(uint32_t flags);
/* "gcra", "sliding-window", "fixed-window" or "in-flight". */
const char *fgc_rule_algorithm(uint32_t flags);
/* The rule's rate for people ("5/s"). */
char *fgc_rule_rate(const fg_rule_info *ri, char *buf, size_t len);
/* The error of a library call as one sentence with the fix; exit status. */
int fgc_fail(struct fgc *c, const char *what, int r);

/* -------------------------------------------------------- daemon.c */

/* A reply: lines of "TYPE name=value ..." after "ok". */
#define RLINE_KV 24
struct fgc_rline {
	char *type;
	int nkv;
	char *k[RLINE_KV], *v[RLINE_KV];
};

struct fgc_reply {
	char *text;
	size_t n;
	struct fgc_rline *l;
};

/*
 * Ask the daemon @req.  0 with the reply parsed (unless @raw); otherwise
 * the exit status (EXIT_NODAEMON, EXIT_PERM, EXIT_DAEMON, EXIT_SYS), said
 * on stderr when the command NEEDS_DAEMON (else it carries on without).
 */
int fgc_ask(struct fgc *c, const char *req, struct fgc_reply *r, int raw);
void fgc_reply_free(struct fgc_reply *r);
/* The value of @name in @l, "" if absent. */
const char *fgc_kv(const struct fgc_rline *l, const char *name);
/* The first line of type @t, or NULL. */
const struct fgc_rline *fgc_reply_find(const struct fgc_reply *r,
                                       const char *t);
/* A value that is a count: its number, 0 when it is not one. */
uint64_t fgc_kv_u64(const struct fgc_rline *l, const char *name);
/* A reply line as a JSON object: a value is a number when the protocol
 * defines the field as one, a string otherwise. */
void fgc_json_line(struct fgc *c, const struct fgc_rline *l);
/* "N ms ago" for a value in ms, "never" for -1. */
const char *fgc_ago(const char *ms, char *buf, size_t len);

/* -------------------------------------------------------- commands */

int fgc_cmd_status(struct fgc *c, int argc, char **argv);
int fgc_cmd_rules(struct fgc *c, int argc, char **argv);
int fgc_cmd_get(struct fgc *c, int argc, char **argv);
int fgc_cmd_list(struct fgc *c, int argc, char **argv);
int fgc_cmd_top(struct fgc *c, int argc, char **argv);
int fgc_cmd_check(struct fgc *c, int argc, char **argv);
int fgc_cmd_reset(struct fgc *c, int argc, char **argv);
int fgc_cmd_reload(struct fgc *c, int argc, char **argv);
int fgc_cmd_remove(struct fgc *c, int argc, char **argv);
int fgc_cmd_peers(struct fgc *c, int argc, char **argv);
int fgc_cmd_stats(struct fgc *c, int argc, char **argv);
int fgc_cmd_keygen(struct fgc *c, int argc, char **argv);
int fgc_cmd_override(struct fgc *c, int argc, char **argv);

/* Changing a bucket or an override is the segment owner's, or root's:
 * 0, or EXIT_PERM or EXIT_SYS (said, with @what). */
int fgc_owner_only(struct fgc *c, const char *what);
/* An override for people ("key vip (tier gold): capacity 100, 50/s
 * (config)"), and as a JSON object (with its rule when not NULL). */
void fgc_override_say(const struct fg_ovr_entry *e, char *buf, size_t len);
void fgc_override_json(struct fgc *c, const char *rule,
                       const struct fg_ovr_entry *e);

#endif
