/*
 * diagnose.c - fg_diagnose(): why can't this process attach?
 *
 * "Permission denied" is the most common first-day failure of a prefork
 * deployment: the daemon runs as one user, workers as another.  This
 * names the file, who owns it, its mode, and which of user, group or
 * other this process falls under, so the fix is obvious.
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/floodgate.h"
#include "lib/client.h"
#include "shm/scan.h"
#include "shm/segment.h"

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

int fg_diagnose(const char *segment, char *buf, size_t len)
{
	char path[FG_SEG_PATH_MAX + 16], gname[64];
	fg_client *c = NULL;
	struct stat st;
	unsigned bits;
	const char *who;
	int r;

	if (buf == NULL || len == 0)
		return FG_EINVAL;
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
	group_name(st.st_gid, gname, sizeof gname);
	if (geteuid() == 0) {
		bits = 06;
		who = "root";
	} else if (geteuid() == st.st_uid) {
		bits = (st.st_mode >> 6) & 7;
		who = "its owner";
	} else if (in_group(st.st_gid)) {
		bits = (st.st_mode >> 3) & 7;
		who = "a member of its group";
	} else {
		bits = st.st_mode & 7;
		who = "neither its owner nor in its group";
	}
	if ((bits & 06) != 06) {
		snprintf(buf, len,
		         "%s is owned by uid %u, group %s, mode %04o; this "
		         "process (uid %u, gid %u) is %s and lacks %s%s%s "
		         "permission: run it as uid %u or in group %s, and "
		         "give the group read and write (mode 0660)",
		         path, (unsigned)st.st_uid, gname,
		         (unsigned)(st.st_mode & 07777), (unsigned)geteuid(),
		         (unsigned)getegid(), who, (bits & 04) ? "" : "read",
		         (bits & 06) == 0 ? " and " : "",
		         (bits & 02) ? "" : "write", (unsigned)st.st_uid,
		         gname);
		return FG_EACCES;
	}
	r = fg_open(path, 0, &c);
	if (r != 0) {
		snprintf(buf, len, "%s: %s", path, fg_strerror(r));
		return r;
	}
	snprintf(buf, len, "%s: attachable (layout version %u, %llu slots)",
	         path, FG_LAYOUT_VERSION,
	         (unsigned long long)fg__table_nslots(&c->seg.tbl));
	fg_close(c);
	return 0;
}
