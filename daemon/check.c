/* SPDX-License-Identifier: ISC */
/*
 * check.c - what floodgated checks of its host, and "floodgated -t".
 *
 * The parser (config.c) is a pure function of the text; what depends on
 * the host is checked here: the user database, the key files, the
 * segment, and the directories the daemon writes.  The start-up path and
 * -t call the same functions, so that "configuration ok" means the daemon
 * would start, and the error -t prints is the one it would log.
 *
 * -t reports every error, not only the first.  The parser stops at its
 * first error, so the text is parsed again with each failing line emptied
 * (its newline kept, so that line numbers stay), up to CHECK_MAX_ERRORS
 * parses; then the host checks run on what parsed, each naming the line
 * of its directive.  Nothing is created, bound or changed: a daemon may
 * be running on the same files.
 */
#include "daemon/check.h"

#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "daemon/control.h"
#include "daemon/snapkey.h"
#include "daemon/snapshot.h"
#include "gossip/keys.h"
#include "lib/client.h"

#define CHECK_MAX_ERRORS 100

/* ------------------------------------------------- shared with start-up */

int fgd_user_lookup(const char *name, uid_t *uid, char *err, size_t errlen)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (getpwnam_r(name, &pw, buf, sizeof buf, &res) != 0 || res == NULL) {
		snprintf(err, errlen,
		         "user %s: no such user (adduser --system %s creates "
		         "it)",
		         name, name);
		return -1;
	}
	*uid = res->pw_uid;
	return 0;
}

int fgd_group_lookup(const char *name, gid_t *gid, char *err, size_t errlen)
{
	struct group gr, *res = NULL;
	char buf[4096];

	if (getgrnam_r(name, &gr, buf, sizeof buf, &res) != 0 || res == NULL) {
		snprintf(err, errlen,
		         "group %s: no such group (the group the workers run "
		         "in, such as www-data)",
		         name);
		return -1;
	}
	*gid = res->gr_gid;
	return 0;
}

int fgd_owner_lookup(const struct fgd_config *cfg, int64_t *uid, int64_t *gid,
                     char *err, size_t errlen)
{
	uid_t u;
	gid_t g;

	*uid = *gid = -1;
	if (cfg->user[0]) {
		if (fgd_user_lookup(cfg->user, &u, err, errlen) != 0)
			return -1;
		*uid = (int64_t)u;
	}
	if (cfg->group[0]) {
		if (fgd_group_lookup(cfg->group, &g, err, errlen) != 0)
			return -1;
		*gid = (int64_t)g;
	}
	return 0;
}

int fgd_identity_check(const struct fgd_config *cfg, char *err, size_t errlen)
{
	if (cfg->npeers == 0 || (cfg->node_key[0] && cfg->keyring[0]))
		return 0;
	snprintf(err, errlen,
	         "peers need node-key and keyring (floodgated --keygen "
	         "makes a key pair; the keyring lists every node's .pub "
	         "line)");
	return -1;
}

/* ------------------------------------------------------------------ -t */

struct check {
	const char *path; /* the configuration file */
	char *text;       /* its text, failing lines emptied */
	size_t len;
	FILE *err;
	unsigned errors;
};

static void report(struct check *c, size_t line, int warning, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));

static void report(struct check *c, size_t line, int warning, const char *fmt,
                   ...)
{
	va_list ap;

	if (line)
		fprintf(c->err, "%s:%zu: ", c->path, line);
	else
		fprintf(c->err, "%s: ", c->path);
	if (warning)
		fputs("warning: ", c->err);
	va_start(ap, fmt);
	vfprintf(c->err, fmt, ap);
	va_end(ap);
	fputc('\n', c->err);
	c->errors += !warning;
}

/* Offset of line @line (from 1) in the text, or c->len past the end. */
static size_t line_start(const struct check *c, size_t line)
{
	size_t off = 0;

	while (--line > 0 && off < c->len) {
		const char *nl = memchr(c->text + off, '\n', c->len - off);

		off = nl ? (size_t)(nl - c->text) + 1 : c->len;
	}
	return off;
}

/* The line of the first directive @word (0: not in the file): its first
 * word, as config.c splits it. */
static size_t line_of(const struct check *c, const char *word)
{
	size_t off = 0, line = 1, n = strlen(word);

	while (off < c->len) {
		const char *s = c->text + off, *end;
		const char *nl = memchr(s, '\n', c->len - off);

		end = nl ? nl : c->text + c->len;
		while (s < end && (*s == ' ' || *s == '\t'))
			s++; /* the text is not NUL-terminated */
		if (s + n <= end && memcmp(s, word, n) == 0 &&
		    (s + n == end || strchr(" \t#\r", s[n]) != NULL))
			return line;
		off = (size_t)(end - c->text) + (nl != NULL);
		line++;
	}
	return 0;
}

/* The line of a parser's "path:line: reason", or 0. */
static size_t err_line(const struct check *c, const char *err)
{
	size_t n = strlen(c->path);
	char *end;
	unsigned long line;

	if (strncmp(err, c->path, n) != 0 || err[n] != ':' ||
	    err[n + 1] < '0' || err[n + 1] > '9')
		return 0;
	line = strtoul(err + n + 1, &end, 10);
	return *end == ':' ? (size_t)line : 0;
}

/* Empty line @line, keeping its newline; 0, or -1 if it was empty. */
static int line_empty(struct check *c, size_t line)
{
	size_t off = line_start(c, line), end;
	const char *nl;

	if (off >= c->len)
		return -1;
	nl = memchr(c->text + off, '\n', c->len - off);
	end = nl ? (size_t)(nl - c->text) : c->len;
	if (end == off)
		return -1;
	memmove(c->text + off, c->text + end, c->len - end);
	c->len -= end - off;
	return 0;
}

/* Every syntax error; 0 and @cfg once the rest parses, else -1. */
static int parse_all(struct check *c, struct fgd_config *cfg)
{
	char err[600];
	unsigned n;

	for (n = 0; n < CHECK_MAX_ERRORS; n++) {
		size_t line;

		if (fgd_config_parse(c->text, c->len, c->path, cfg, err,
		                     sizeof err) == 0)
			return 0;
		fprintf(c->err, "%s\n", err);
		c->errors++;
		line = err_line(c, err);
		if (line == 0 || line_empty(c, line) != 0)
			return -1;
	}
	return -1;
}

static void check_identity(struct check *c, const struct fgd_config *cfg)
{
	struct fgw_keyring kr = {0};
	uint8_t *sk = NULL, pk[FGW_PK_SIZE];
	char err[600];
	size_t i;
	int have_pk = 0;

	if (fgd_identity_check(cfg, err, sizeof err) != 0)
		report(c, line_of(c, "peer"), 0, "%s", err);
	if (cfg->node_key[0]) {
		if (fgk_load_secret(cfg->node_key, &sk, pk, err, sizeof err) !=
		    0)
			report(c, line_of(c, "node-key"), 0, "%s", err);
		else
			have_pk = 1;
		fgk_secret_free(sk);
	}
	if (cfg->keyring[0]) {
		if (fgk_keyring_load(cfg->keyring, &kr, err, sizeof err) != 0) {
			report(c, line_of(c, "keyring"), 0, "%s", err);
			return;
		}
		for (i = 0; have_pk && i < kr.n; i++)
			if (sodium_memcmp(kr.keys[i].pk, pk, sizeof pk) == 0)
				have_pk = 0;
		if (have_pk)
			report(c, line_of(c, "keyring"), 1,
			       "%s: this node's key (%s.pub) is not in it: "
			       "peers will drop what it sends",
			       cfg->keyring, cfg->node_key);
		fgk_keyring_free(&kr);
	}
}

static void check_owner(struct check *c, const struct fgd_config *cfg)
{
	char err[300];
	uid_t uid;
	gid_t gid;

	if (cfg->user[0] && fgd_user_lookup(cfg->user, &uid, err, sizeof err))
		report(c, line_of(c, "user"), 0, "%s", err);
	if (cfg->group[0] &&
	    fgd_group_lookup(cfg->group, &gid, err, sizeof err))
		report(c, line_of(c, "group"), 0, "%s", err);
}

/* The directory the daemon creates @path in: there, and writable. */
static int dir_ok(struct check *c, size_t line, const char *what,
                  const char *path)
{
	char copy[FG_SEG_PATH_MAX + 16];
	const char *dir;
	struct stat sb;
	int e = 0;

	snprintf(copy, sizeof copy, "%s", path);
	dir = dirname(copy);
	if (stat(dir, &sb) != 0)
		e = errno;
	else if (!S_ISDIR(sb.st_mode))
		e = ENOTDIR;
	else if (access(dir, W_OK) != 0)
		e = errno; /* EROFS: a read-only mount */
	if (e == 0)
		return 0;
	report(c, line, 0, "%s %s: directory %s: %s", what, path, dir,
	       strerror(e));
	return -1;
}

/* The segment: its directory, and one that exists must be one the daemon
 * attaches to (fg_create refuses another capacity). */
static void check_segment(struct check *c, const struct fgd_config *cfg)
{
	size_t line = line_of(c, "segment");
	char path[FG_SEG_PATH_MAX + 1];
	fg_client *fg = NULL;
	uint64_t cap;
	int r;

	r = fg__seg_path(cfg->segment, path, sizeof path);
	if (r != 0) {
		report(c, line, 0, "segment %s: %s", cfg->segment,
		       fg_strerror(r));
		return;
	}
	if (dir_ok(c, line, "segment", path) != 0 || access(path, F_OK) != 0)
		return;
	r = fg_open(cfg->segment, 0, &fg);
	if (r != 0) {
		report(c, line, 0, "segment %s: %s", path, fg_strerror(r));
		return;
	}
	cap = fg->seg.tbl.hdr->capacity;
	fg_close(fg);
	if (cap != cfg->capacity)
		report(c, line_of(c, "capacity"), 0,
		       "segment %s holds %llu keys, not the %llu of "
		       "capacity: the daemon will not start until it is "
		       "removed (rm %s) or capacity is %llu",
		       path, (unsigned long long)cap,
		       (unsigned long long)cfg->capacity, path,
		       (unsigned long long)cap);
}

static void check_control(struct check *c, const struct fgd_config *cfg)
{
	size_t line = line_of(c, "control");
	char path[FGD_CONTROL_MAX + 1];
	struct stat sb;
	int r = fgd_ctl_path(cfg, path, sizeof path);

	if (r == 1)
		return; /* control off */
	if (r != 0) {
		report(c, line, 0,
		       "control: the path beside segment %s is too long for "
		       "a socket; set control",
		       cfg->segment);
		return;
	}
	if (dir_ok(c, line, "control", path) == 0 && lstat(path, &sb) == 0 &&
	    !S_ISSOCK(sb.st_mode))
		report(c, line, 0,
		       "control %s: a file that is not a socket is in the "
		       "way",
		       path);
}

/* The snapshot's MAC key, as the daemon would take it, never made
 * here: 0, 1 none yet, -1 with @err. */
static int snapshot_key(const struct fgd_config *cfg,
                        uint8_t key[FGD_SNAP_KEY_BYTES], char *err,
                        size_t errlen)
{
	uint8_t *sk = NULL, pk[FGW_PK_SIZE];
	int r;

	if (cfg->node_key[0] &&
	    fgk_load_secret(cfg->node_key, &sk, pk, err, errlen) != 0)
		return -1; /* check_identity says why */
	r = fgd_snapkey_get(cfg->snapshot, sk, 0, key, err, errlen);
	if (sk)
		fgk_secret_free(sk);
	return r;
}

static void check_snapshot(struct check *c, const struct fgd_config *cfg)
{
	size_t line = line_of(c, "snapshot");
	uint8_t key[FGD_SNAP_KEY_BYTES];
	struct fgd_snap_counts n;
	char err[600];
	int r;

	if (!cfg->snapshot[0])
		return;
	if (fgd_snapshot_check_dir(cfg->snapshot, err, sizeof err) != 0) {
		report(c, line, 0, "%s", err);
		return;
	}
	r = snapshot_key(cfg, key, err, sizeof err);
	if (r < 0 && !cfg->node_key[0])
		report(c, line, 0, "%s", err);
	if (r == 0 &&
	    fgd_snapshot_verify(cfg->snapshot, key, &n, err, sizeof err) < 0)
		report(c, line, 1,
		       "%s: a new segment would start with full buckets", err);
	if (r == 1 && access(cfg->snapshot, F_OK) == 0)
		report(c, line, 1,
		       "snapshot %s: no key beside it (%s.key) to check it "
		       "with: it would be refused",
		       cfg->snapshot, cfg->snapshot);
	sodium_memzero(key, sizeof key);
}

int fgd_check(const char *path, FILE *out, FILE *err)
{
	struct check c = {.path = path, .err = err};
	struct fgd_config cfg;
	char why[600];

	if (fgd_config_read(path, &c.text, &c.len, why, sizeof why) != 0) {
		fprintf(err, "%s\n", why);
		return 1;
	}
	if (parse_all(&c, &cfg) == 0) {
		check_identity(&c, &cfg);
		check_owner(&c, &cfg);
		check_segment(&c, &cfg);
		check_control(&c, &cfg);
		check_snapshot(&c, &cfg);
		fgd_config_free(&cfg);
	}
	free(c.text);
	if (c.errors == 0) {
		fprintf(out, "%s: configuration ok\n", path);
		return 0;
	}
	fprintf(err, "%s: %u error%s\n", path, c.errors,
	        c.errors == 1 ? "" : "s");
	return 1;
}
