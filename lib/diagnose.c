/* SPDX-License-Identifier: ISC */
/*
 * diagnose.c - fg_diagnose(): why can't this process attach?
 *
 * "Permission denied" is the most common first-day failure of a prefork
 * deployment: the daemon runs as one user, workers as another.  This
 * names the file (and the System V memory it names), who owns it, its
 * mode, and which of user, group or other this process falls under, so
 * the fix is obvious.  The other refusal of a permission kind is a
 * segment not to be trusted (shm/trust.c): made by a user we have no
 * reason to trust, or open to everyone; the line says which, and what to
 * do.  The verdicts are the library's own (trust.c, sysv.c), only put in
 * words; the return value is fg_open()'s, tried last.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/floodgate.h"
#include "lib/client.h"
#include "shm/scan.h"
#include "shm/segment.h"
#include "shm/sysv.h"

/* The owner, group and mode of a file or of System V memory. */
struct perms {
	uid_t uid;
	gid_t gid;
	unsigned mode;
};

static int in_group(gid_t gid)
{
	gid_t groups[256];
	int i, n;

	if (getegid() == gid)
		return 1;
	n = getgroups((int)(sizeof groups / sizeof groups[0]), groups);
	for (i = 0; i < n; i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

static const char *group_name(gid_t gid, char *buf, size_t len)
{
	struct group gr, *res = NULL;
	char tmp[1024];

	if (getgrgid_r(gid, &gr, tmp, sizeof tmp, &res) == 0 && res != NULL)
		snprintf(buf, len, "%s", res->gr_name);
	else
		snprintf(buf, len, "%u", (unsigned)gid);
	return buf;
}

/* Whether this process lacks read and write on @p (@what: the file, or
 * the memory, as a sentence starts): 1 with the explanation, else 0. */
static int lacks(char *buf, size_t len, const char *what, const struct perms *p)
{
	char gname[64];
	const char *who;
	unsigned bits;

	if (geteuid() == 0) {
		bits = 06;
		who = "root";
	} else if (geteuid() == p->uid) {
		bits = (p->mode >> 6) & 7;
		who = "its owner";
	} else if (in_group(p->gid)) {
		bits = (p->mode >> 3) & 7;
		who = "a member of its group";
	} else {
		bits = p->mode & 7;
		who = "neither its owner nor in its group";
	}
	if ((bits & 06) == 06)
		return 0;
	group_name(p->gid, gname, sizeof gname);
	snprintf(buf, len,
	         "%s is owned by uid %u, group %s, mode %04o; this process "
	         "(uid %u, gid %u) is %s and lacks %s%s%s permission: run it "
	         "as uid %u or in group %s, and give the group read and write "
	         "(mode 0660)",
	         what, (unsigned)p->uid, gname, p->mode & 07777,
	         (unsigned)geteuid(), (unsigned)getegid(), who,
	         (bits & 04) ? "" : "read", (bits & 06) == 0 ? " and " : "",
	         (bits & 02) ? "" : "write", (unsigned)p->uid, gname);
	return 1;
}

/* Made by a user trust.c does not trust, in words. */
static void owner_why(char *buf, size_t len, const char *what,
                      const struct perms *p, const struct fg_trust *t)
{
	char dir[64];

	if (t->dir_private)
		snprintf(dir, sizeof dir, "its directory is uid %u's",
		         (unsigned)t->dir_uid);
	else
		snprintf(dir, sizeof dir,
		         "anyone may add names to its directory");
	snprintf(buf, len,
	         "%s was made by uid %u, neither root, this process's user "
	         "(uid %u) nor the owner of a directory only its owner may "
	         "add names to (%s): anyone could have made it, so it is not "
	         "used; remove it as root (rm) and start floodgated again, "
	         "and name the segment in a directory only floodgated's user "
	         "may write, such as /run/floodgate",
	         what, (unsigned)p->uid, (unsigned)t->euid, dir);
}

/* A trust.c verdict in words: FG_EACCES, or 0 when trusted. */
static int distrust(char *buf, size_t len, const char *what, enum fg_distrust v,
                    const struct perms *p, const struct fg_trust *t)
{
	switch (v) {
	case FG_DISTRUST_OWNER:
		owner_why(buf, len, what, p, t);
		return FG_EACCES;
	case FG_DISTRUST_MODE:
		snprintf(buf, len,
		         "%s is mode %04o: others may read or write it, so it "
		         "is not trusted; start floodgated again, which sets "
		         "the mode of floodgate.conf back, or remove the bits "
		         "for others (chmod o-rwx)",
		         what, p->mode & 07777);
		return FG_EACCES;
	case FG_DISTRUST_NAME:
		snprintf(buf, len,
		         "%s belongs to uid %u, who neither made nor owns the "
		         "System V memory it names: it is not used; remove it "
		         "(rm) and start floodgated again",
		         what, (unsigned)p->uid);
		return FG_EACCES;
	default:
		return 0;
	}
}

/* Why the System V memory named by the file open at @fd cannot be used:
 * an FG_E* code with the reason in @buf, or 0. */
static int sysv_why(char *buf, size_t len, const char *path, int fd,
                    const struct stat *st, const struct fg_trust *t)
{
	struct fg_sysv_name name;
	struct shmid_ds ds;
	struct perms mem, file = {st->st_uid, st->st_gid, st->st_mode};
	char what[FG_SEG_PATH_MAX + 64];
	enum fg_distrust v;
	int r;

	r = distrust(buf, len, path, fg__trust_check(t, 0, st->st_mode), &file,
	             t);
	if (r != 0)
		return r;
	r = fg__sysv_stat(fd, &name, &ds);
	if (r == FG_ENOSEG) {
		snprintf(buf, len,
		         "%s names System V memory %d, which no longer exists "
		         "(the host restarted, or it was removed): start "
		         "floodgated, which makes a new one",
		         path, name.shmid);
		return r;
	}
	if (r != 0 && (r != FG_EACCES || ds.shm_segsz == 0))
		return r; /* said by fg_strerror() */
	snprintf(what, sizeof what, "%s (System V memory %d)", path,
	         name.shmid);
	mem = (struct perms){ds.shm_perm.uid, ds.shm_perm.gid,
	                     ds.shm_perm.mode & 0777};
	if (lacks(buf, len, what, &mem))
		return FG_EACCES;
	v = fg__sysv_judge(t, st, &ds);
	if (v == FG_DISTRUST_NAME)
		return distrust(buf, len, path, v, &file, t);
	return distrust(buf, len, what, v, &mem, t);
}

/* Why the file segment at @path cannot be used: 0 or FG_E*. */
static int file_why(char *buf, size_t len, const char *path,
                    const struct stat *st, const struct fg_trust *t)
{
	struct perms file = {st->st_uid, st->st_gid, st->st_mode};

	if (lacks(buf, len, path, &file))
		return FG_EACCES;
	return distrust(buf, len, path,
	                fg__trust_check(t, st->st_uid, st->st_mode), &file, t);
}

/* Why what is at @path cannot be used: 0, or FG_E* (with the reason in
 * @buf, or nothing there when fg_strerror() says it as well). */
static int entry_why(char *buf, size_t len, const char *path,
                     const struct stat *st)
{
	struct perms file = {st->st_uid, st->st_gid, st->st_mode};
	struct fg_trust t;
	char magic[8] = {0};
	int fd, r;

	r = fg__trust_open(path, O_RDONLY, -1, &t, &fd);
	if (r == FG_EACCES)
		(void)lacks(buf, len, path, &file);
	if (r != 0)
		return r;
	if (pread(fd, magic, sizeof magic, 0) != (ssize_t)sizeof magic)
		r = 0; /* too short to be a segment: fg_open() says so */
	else if (memcmp(magic, FG_SYSV_MAGIC, sizeof magic) == 0)
		r = sysv_why(buf, len, path, fd, st, &t);
	else if (memcmp(magic, FG_SEG_MAGIC, sizeof magic) == 0)
		r = file_why(buf, len, path, st, &t);
	close(fd);
	return r;
}

int fg_diagnose(const char *segment, char *buf, size_t len)
{
	char path[FG_SEG_PATH_MAX + 16];
	fg_client *c = NULL;
	struct stat st;
	int r;

	if (buf == NULL || len == 0)
		return FG_EINVAL;
	buf[0] = '\0';
	r = fg__seg_path(segment, path, sizeof path);
	if (r != 0) {
		snprintf(buf, len,
		         "invalid segment name: a name of up to 64 "
		         "[A-Za-z0-9._-] or an absolute path");
		return r;
	}
	if (lstat(path, &st) != 0) {
		r = fg__errno_to_fg(errno);
		if (r == FG_ENOSEG)
			snprintf(buf, len,
			         "%s does not exist: start floodgated, "
			         "or set FLOODGATE_SEGMENT",
			         path);
		else
			snprintf(buf, len, "%s: %s", path, strerror(errno));
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(buf, len, "%s is not a regular file", path);
		return FG_EBADSEG;
	}
	r = entry_why(buf, len, path, &st);
	if (r != 0 && buf[0] != '\0')
		return r;
	r = fg_open(path, 0, &c);
	if (r != 0) {
		snprintf(buf, len, "%s: %s", path, fg_strerror(r));
		return r;
	}
	snprintf(buf, len, "%s: attachable (%s, layout version %u, %llu slots)",
	         path, c->seg.shmid >= 0 ? "System V memory" : "a file",
	         FG_LAYOUT_VERSION,
	         (unsigned long long)fg__table_nslots(&c->seg.tbl));
	fg_close(c);
	return 0;
}
