/* SPDX-License-Identifier: ISC */
/*
 * test_trust.c - whose segment is it: segments in System V memory, and
 * what the library does with a segment another user made or opened to
 * everyone (shm/trust.c, shm/sysv.c, shm/attach.c).
 *
 * Tests run as root; another user is played by a forked child that
 * drops to uid 4242 (Mallory, who needs no account) or nobody, reports
 * through a shared page and its exit status, and ends with _exit().
 * Segment names start with "fg-segment-".
 */
#include "tests/helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/stat.h>

#include "lib/client.h"
#include "shm/sysv.h"

#define NOBODY  65534
#define MALLORY 4242

TestSuite(trust, .timeout = 30);

static const char *seg_name(const char *tag)
{
	static char name[80];

	snprintf(name, sizeof name, "fg-segment-%s-%d", tag, (int)getpid());
	return name;
}

static const char *shm_path(const char *name)
{
	static char path[128];

	snprintf(path, sizeof path, "/dev/shm/%s", name);
	return path;
}

static void need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to act as another user");
}

/* Run @fn(@arg) in a child as @uid in group @gid only: its exit status
 * (the child's own, 0-255; 250 when it could not become that user). */
static int run_as(uid_t uid, gid_t gid, int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	int st;

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (setgroups(0, NULL) != 0 || setgid(gid) != 0 ||
		    setuid(uid) != 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
			_exit(250);
		_exit(fn(arg));
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st), "child: status %#x", st);
	return WEXITSTATUS(st);
}

/* What a child saw: fg_open() and fg_diagnose() of a segment. */
struct seen {
	const char *seg; /* in: the segment */
	int open_r;
	int diag_r;
	char why[1024];
};

static int look_fn(void *arg)
{
	struct seen *s = arg;
	fg_client *c = NULL;

	s->open_r = fg_open(s->seg, 0, &c);
	fg_close(c);
	s->diag_r = fg_diagnose(s->seg, s->why, sizeof s->why);
	return 0;
}

/* What @uid in group @gid sees of @seg, in *@out. */
static void look_as(uid_t uid, gid_t gid, const char *seg, struct seen *out)
{
	struct seen *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE,
	                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	cr_assert(s != MAP_FAILED);
	s->seg = seg;
	cr_assert_eq(run_as(uid, gid, look_fn, s), 0);
	*out = *s;
	munmap(s, sizeof *s);
	cr_log_info("as uid %u gid %u: fg_open %d: %s", (unsigned)uid,
	            (unsigned)gid, out->open_r, out->why);
}

/* Root's own view: fg_open() and fg_diagnose(). */
static void look(const char *seg, struct seen *out)
{
	out->seg = seg;
	(void)look_fn(out);
	cr_log_info("as root: fg_open %d: %s", out->open_r, out->why);
}

static void assert_has(const char *msg, const char *part)
{
	cr_assert(strstr(msg, part) != NULL, "\"%s\" not in: %s", part, msg);
}

/* The System V memory @seg's name file names, described. */
static int mem_stat(const char *seg, struct shmid_ds *ds, int *shmid)
{
	struct fg_sysv_name name;
	int fd = open(shm_path(seg), O_RDONLY | O_NOFOLLOW), r;

	cr_assert_geq(fd, 0, "%s: %s", seg, strerror(errno));
	r = fg__sysv_stat(fd, &name, ds);
	close(fd);
	*shmid = name.shmid;
	return r;
}

static fg_client *make(const char *seg, uint32_t mode, uint32_t flags)
{
	fg_segment_opts o = {
	    .capacity = 16, .mode = mode, .flags = flags, .gid = NOBODY};
	fg_client *c = NULL;
	int r;

	(void)fg_unlink(seg);
	r = fg_create(seg, &o, 0, &c);
	cr_assert_eq(r, 0, "fg_create(%s): %s", seg, fg_strerror(r));
	test_rule(c, "r", 5, 5, HOUR_MS, 0);
	return c;
}

/* ------------------------------------------------------ System V memory */

Test(trust, a_system_v_segment_shares_buckets_and_unlink_frees_its_memory)
{
	const char *seg = seg_name("sysv");
	fg_client *c = make(seg, 0660, FG_SEGMENT_SYSV), *w = NULL;
	struct shmid_ds ds;
	struct stat st;
	struct seen s;
	int shmid;

	cr_assert_geq(c->seg.shmid, 0);
	cr_assert_eq(stat(shm_path(seg), &st), 0);
	cr_assert_eq(st.st_size, (off_t)sizeof(struct fg_sysv_name));
	cr_assert_eq(st.st_mode & 07777, 0640, "the name: %04o",
	             st.st_mode & 07777);
	cr_assert_eq(st.st_gid, NOBODY);
	cr_assert_eq(mem_stat(seg, &ds, &shmid), 0);
	cr_assert_eq(shmid, c->seg.shmid);
	cr_assert_eq(ds.shm_perm.mode & 0777, 0660);
	cr_assert_eq(ds.shm_perm.gid, NOBODY);
	cr_assert_eq(ds.shm_perm.cuid, 0);
	cr_assert_eq(ds.shm_segsz, c->seg.size);

	cr_assert_eq(fg_open(seg, 0, &w), 0);
	cr_assert_eq(fg_allow(w, "r", "k", 2, NULL), 1);
	cr_assert_eq(fg_allow(c, "r", "k", 3, NULL), 1);
	cr_assert_eq(fg_allow(c, "r", "k", 1, NULL), 0, "one bucket");
	look_as(NOBODY, NOBODY, seg, &s);
	cr_assert_eq(s.open_r, 0);
	assert_has(s.why, "attachable (System V memory");
	fg_close(w);
	fg_close(c);

	cr_assert_eq(fg_unlink(seg), 0);
	cr_assert_neq(shmctl(shmid, IPC_STAT, &ds), 0, "memory left behind");
	cr_assert_eq(fg_open(seg, 0, &w), FG_ENOSEG);
}

Test(trust, a_name_whose_memory_is_gone_is_enoseg_and_create_makes_another)
{
	const char *seg = seg_name("gone");
	fg_segment_opts o = {.capacity = 16, .flags = FG_SEGMENT_SYSV};
	fg_client *c = make(seg, 0660, FG_SEGMENT_SYSV);
	struct seen s;
	int shmid = c->seg.shmid, built = 0;

	fg_close(c);
	/* what a reboot does to the memory of a name kept on a disk, or
	 * ipcrm -m */
	cr_assert_eq(shmctl(shmid, IPC_RMID, NULL), 0);
	look(seg, &s);
	cr_assert_eq(s.open_r, FG_ENOSEG);
	cr_assert_eq(s.diag_r, FG_ENOSEG);
	assert_has(s.why, "no longer exists");

	cr_assert_eq(fg__create(seg, &o, 0, &c, &built), 0);
	cr_assert_eq(built, 1);
	cr_assert_neq(c->seg.shmid, shmid);
	fg_close(c);
	cr_assert_eq(fg_open(seg, 0, &c), 0);
	fg_close(c);
	fg_unlink(seg);
}

static int shm_alive(int shmid)
{
	struct shmid_ds ds;

	return shmctl(shmid, IPC_STAT, &ds) == 0 &&
	       !(ds.shm_perm.mode & SHM_DEST);
}

Test(trust, memory_whose_name_was_removed_with_rm_goes_when_it_is_made_again)
{
	const char *seg = seg_name("rm");
	fg_segment_opts o = {.capacity = 16, .flags = FG_SEGMENT_SYSV};
	fg_client *c = make(seg, 0660, FG_SEGMENT_SYSV);
	int old = c->seg.shmid;

	fg_close(c);
	cr_assert_eq(unlink(shm_path(seg)), 0); /* not fg_unlink() */
	cr_assert(shm_alive(old), "nothing else removes it");
	cr_assert_eq(fg_create(seg, &o, 0, &c), 0);
	cr_assert_neq(c->seg.shmid, old);
	cr_assert(!shm_alive(old), "the memory of the removed name is left");
	fg_close(c);
	fg_unlink(seg);
}

static int take_key_fn(void *arg)
{
	key_t key = *(const key_t *)arg;

	return shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600) >= 0 ? 0 : 1;
}

Test(trust, a_label_another_user_took_first_changes_nothing_of_theirs)
{
	const char *seg = seg_name("label");
	fg_client *c = make(seg, 0660, FG_SEGMENT_SYSV), *w = NULL;
	struct shmid_ds ds;
	key_t key;
	int theirs;

	need_root();
	cr_assert_eq(shmctl(c->seg.shmid, IPC_STAT, &ds), 0);
	key = ds.shm_perm.__key;
	cr_assert_neq(key, IPC_PRIVATE, "the memory is labelled");
	fg_close(c);
	cr_assert_eq(fg_unlink(seg), 0);
	/* Mallory takes the label of the name before it is made again */
	cr_assert_eq(run_as(MALLORY, MALLORY, take_key_fn, &key), 0);
	theirs = shmget(key, 0, 0);
	cr_assert_geq(theirs, 0);
	c = make(seg, 0660, FG_SEGMENT_SYSV);
	cr_assert_neq(c->seg.shmid, theirs);
	cr_assert_eq(fg_open(seg, 0, &w), 0, "workers find it by its name");
	fg_close(w);
	fg_close(c);
	cr_assert(shm_alive(theirs), "somebody else's memory was removed");
	cr_assert_eq(shmctl(theirs, IPC_RMID, NULL), 0);
	fg_unlink(seg);
}

Test(trust, a_file_segment_becomes_system_v_memory_only_when_replaced)
{
	const char *seg = seg_name("kind");
	fg_segment_opts o = {.capacity = 16, .flags = FG_SEGMENT_SYSV};
	fg_client *f = make(seg, 0660, 0), *c = NULL;
	struct shmid_ds ds;
	int shmid;

	cr_assert_eq(fg_create(seg, &o, 0, &c), FG_EEXIST);
	cr_assert_null(c);
	cr_assert_eq(fg_create(seg, &o, FG_CREATE_REPLACE, &c), 0);
	cr_assert_geq(shmid = c->seg.shmid, 0);
	/* the old file's handle goes on with its own buckets */
	cr_assert_eq(fg_allow(f, "r", "k", 5, NULL), 1);
	fg_close(f);
	fg_close(c);
	/* and back: the replaced memory is removed */
	cr_assert_eq(fg_create(seg, &(fg_segment_opts){.capacity = 16},
	                       FG_CREATE_REPLACE, &c),
	             0);
	cr_assert_eq(c->seg.shmid, -1);
	cr_assert_neq(shmctl(shmid, IPC_STAT, &ds), 0, "memory left behind");
	fg_close(c);
	fg_unlink(seg);
}

Test(trust, name_records_are_checked_before_their_memory_is_touched)
{
	struct fg_seg_hdr h = {.seg_size = 69632 + 4096 + 832,
	                       .checksum = 0x1234};
	struct fg_sysv_name n, out, bad;

	fg__sysv_name_make(&n, 7, &h);
	cr_assert_eq(fg__sysv_name_check(&n, sizeof n, &out), 0);
	cr_assert_eq(out.shmid, 7);
	cr_assert_eq(out.ident, 0x1234);
	cr_assert_eq(fg__sysv_name_check(&n, sizeof n - 1, &out), FG_EBADSEG);
	cr_assert_eq(fg__sysv_name_check(&n, sizeof n + 1, &out), FG_EBADSEG);
#define TRY(field, value, want)                                                \
	do {                                                                   \
		bad = n;                                                       \
		bad.field = value;                                             \
		cr_assert_eq(fg__sysv_name_check(&bad, sizeof bad, &out),      \
		             want, #field);                                    \
	} while (0)
	TRY(magic[0], 'X', FG_EBADSEG);
	TRY(version, 2, FG_EVERSION);
	TRY(layout_version, FG_LAYOUT_VERSION + 1, FG_EVERSION);
	TRY(shmid, -1, FG_EBADSEG);
	TRY(flags, 1, FG_EBADSEG);
	TRY(zero[1], 1, FG_EBADSEG);
	TRY(seg_size, 4095, FG_EBADSEG);
	TRY(ident, 0x1235, FG_EBADSEG); /* the check covers it */
	TRY(check, n.check ^ 1, FG_EBADSEG);
#undef TRY
}

/* The fuzz target's seeds (tests/fuzz/corpus/sysv_name) are of this
 * layout, so that each reaches the check it is named for: until layout 8
 * they were of layout 3, and every one stopped at its version. */
Test(trust, the_fuzz_seeds_of_name_records_fail_each_for_its_own_reason)
{
	static const struct {
		const char *name;
		int want;
	} seeds[] = {{"valid", 0},
	             {"other-layout", FG_EVERSION},
	             {"other-version", FG_EVERSION},
	             {"flags", FG_EBADSEG},
	             {"negative-id", FG_EBADSEG},
	             {"too-small", FG_EBADSEG},
	             {"stale-check", FG_EBADSEG},
	             {"wrong-magic", FG_EBADSEG}};
	struct fg_sysv_name out;
	uint8_t buf[128];
	char name[128], path[512];
	unsigned i;

	for (i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
		FILE *f;
		size_t len;

		snprintf(name, sizeof name, "tests/fuzz/corpus/sysv_name/%s",
		         seeds[i].name);
		test_src_path(name, path, sizeof path);
		f = fopen(path, "rb");
		cr_assert_not_null(f, "%s", path);
		len = fread(buf, 1, sizeof buf, f);
		fclose(f);
		cr_assert_eq(len, sizeof(struct fg_sysv_name), "%s", path);
		cr_expect_eq(fg__sysv_name_check(buf, len, &out), seeds[i].want,
		             "%s", seeds[i].name);
		if (seeds[i].want == FG_EBADSEG) {
			memcpy(&out, buf, sizeof out);
			cr_expect_eq(out.layout_version, FG_LAYOUT_VERSION,
			             "%s: of this layout", seeds[i].name);
		}
	}
}

/* ------------------------------------------------- another user's segment */

struct squat {
	const char *seg;
	uint32_t flags;
};

static int squat_fn(void *arg)
{
	const struct squat *q = arg;
	fg_segment_opts o = {.capacity = 16, .mode = 0660, .flags = q->flags};
	fg_client *c = NULL;

	if (fg_create(q->seg, &o, 0, &c) != 0)
		return 1;
	fg_close(c);
	return 0;
}

/* Finding 1 of issue 12: fg_create attached to any valid segment of the
 * right capacity, whoever made it. */
static void assert_squat_refused(const char *seg, uint32_t flags)
{
	struct squat q = {seg, flags};
	fg_segment_opts o = {.capacity = 16, .flags = flags};
	fg_client *c = (fg_client *)(uintptr_t)1;
	struct stat before, after;
	struct seen s;

	(void)fg_unlink(seg);
	cr_assert_eq(run_as(MALLORY, MALLORY, squat_fn, &q), 0);
	cr_assert_eq(stat(shm_path(seg), &before), 0);
	cr_assert_eq(before.st_uid, MALLORY);

	cr_assert_eq(fg_create(seg, &o, 0, &c), FG_EACCES, "adopted");
	cr_assert_null(c);
	cr_assert_eq(fg_create(seg, &o, FG_CREATE_REPLACE, &c), FG_EACCES,
	             "replaced");
	look(seg, &s);
	cr_assert_eq(s.open_r, FG_EACCES);
	cr_assert_eq(s.diag_r, FG_EACCES);
	assert_has(s.why, "was made by uid 4242");
	assert_has(s.why, "anyone may add names to its directory");
	cr_assert_eq(stat(shm_path(seg), &after), 0);
	cr_assert_eq(after.st_ino, before.st_ino, "the name was replaced");
	cr_assert_eq(after.st_mtime, before.st_mtime, "it was written");
	cr_assert_eq(after.st_mode, before.st_mode, "its mode changed");
	/* root may remove it, memory and all */
	cr_assert_eq(fg_unlink(seg), 0);
}

Test(trust, a_segment_another_user_made_first_is_refused_never_adopted)
{
	need_root();
	assert_squat_refused(seg_name("squat-file"), 0);
	assert_squat_refused(seg_name("squat-sysv"), FG_SEGMENT_SYSV);
}

static int lend_fn(void *arg)
{
	const char *seg = arg;
	char from[160];
	struct fg_sysv_name n;
	int in, out;

	snprintf(from, sizeof from, "%s.copy", shm_path(seg));
	in = open(from, O_RDONLY);
	out = open(shm_path(seg), O_WRONLY | O_CREAT | O_EXCL, 0640);
	if (in < 0 || out < 0 || read(in, &n, sizeof n) != sizeof n ||
	    write(out, &n, sizeof n) != sizeof n)
		return 1;
	return 0;
}

Test(trust, a_name_file_lending_a_name_to_somebody_elses_memory_is_refused)
{
	const char *seg = seg_name("lend"), *real = "fg-segment-lent";
	char copy[160], realname[80];
	fg_client *c;
	struct shmid_ds ds;
	struct seen s;
	int fd, out, shmid;
	struct fg_sysv_name n;

	need_root();
	snprintf(realname, sizeof realname, "%s-%d", real, (int)getpid());
	c = make(realname, 0660, FG_SEGMENT_SYSV);
	/* Mallory copies root's name record into a name of hers */
	fd = open(shm_path(realname), O_RDONLY);
	cr_assert_eq(read(fd, &n, sizeof n), (ssize_t)sizeof n);
	close(fd);
	snprintf(copy, sizeof copy, "%s.copy", shm_path(seg));
	out = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_eq(write(out, &n, sizeof n), (ssize_t)sizeof n);
	close(out);
	unlink(shm_path(seg));
	cr_assert_eq(run_as(MALLORY, MALLORY, lend_fn, (void *)seg), 0);
	unlink(copy);

	look(seg, &s);
	cr_assert_eq(s.open_r, FG_EACCES);
	assert_has(s.why, "belongs to uid 4242, who neither made nor owns");
	/* removing her name leaves root's memory alone */
	cr_assert_eq(fg_unlink(seg), FG_EACCES);
	cr_assert_eq(mem_stat(realname, &ds, &shmid), 0);
	cr_assert_eq(fg_allow(c, "r", "k", 1, NULL), 1);
	unlink(shm_path(seg));
	fg_close(c);
	fg_unlink(realname);
}

Test(trust, a_directory_owner_is_trusted_only_where_nobody_else_adds_names)
{
	char dir[64], path[96];
	struct squat q = {path, 0};
	struct seen s;

	need_root();
	snprintf(dir, sizeof dir, "/tmp/fg-segment-dir-%d", (int)getpid());
	snprintf(path, sizeof path, "%s/seg", dir);
	cr_assert_eq(mkdir(dir, 0755), 0);
	cr_assert_eq(chown(dir, MALLORY, MALLORY), 0);
	cr_assert_eq(run_as(MALLORY, MALLORY, squat_fn, &q), 0);
	/* /run/floodgate, say: only its owner names segments there */
	look(path, &s);
	cr_assert_eq(s.open_r, 0, "%s", s.why);
	/* anyone may add names to it: not any more */
	cr_assert_eq(chmod(dir, 0777), 0);
	look(path, &s);
	cr_assert_eq(s.open_r, FG_EACCES);
	assert_has(s.why, "anyone may add names to its directory");
	cr_assert_eq(chmod(dir, 0775), 0); /* its group too */
	look(path, &s);
	cr_assert_eq(s.open_r, FG_EACCES);
	cr_assert_eq(fg_unlink(path), 0);
	cr_assert_eq(rmdir(dir), 0);
}

/* ----------------------------------------------------- mode and owner */

/* Finding 4 of issue 12: after chmod 0666 on the segment, workers
 * attached silently, and its owner did not set the mode back. */
static void assert_reopened_to_all_is_refused(uint32_t flags)
{
	const char *seg = seg_name(flags ? "wide-sysv" : "wide-file");
	fg_segment_opts o = {.capacity = 16, .flags = flags, .gid = NOBODY};
	fg_client *c = make(seg, 0660, flags);
	static const mode_t wide[] = {0666, 0664, 0662, 0604, 0602};
	struct shmid_ds ds;
	struct stat st;
	struct seen s;
	unsigned i;
	int shmid;

	cr_assert_eq(fg_allow(c, "r", "k", 2, NULL), 1);
	for (i = 0; i < sizeof wide / sizeof wide[0]; i++) {
		if (flags) { /* the memory itself */
			cr_assert_eq(mem_stat(seg, &ds, &shmid), 0);
			ds.shm_perm.mode = (unsigned short)wide[i];
			cr_assert_eq(shmctl(shmid, IPC_SET, &ds), 0);
		} else {
			cr_assert_eq(chmod(shm_path(seg), wide[i]), 0);
		}
		look(seg, &s);
		cr_assert_eq(s.open_r, FG_EACCES, "mode %04o", wide[i]);
		assert_has(s.why, "others may read or write it");
		look_as(NOBODY, NOBODY, seg, &s);
		cr_assert_eq(s.open_r, FG_EACCES, "mode %04o", wide[i]);
	}
	/* a world-readable name file is refused as well */
	if (flags) {
		cr_assert_eq(chmod(shm_path(seg), 0644), 0);
		look(seg, &s);
		cr_assert_eq(s.open_r, FG_EACCES);
	}
	fg_close(c);

	/* its owner sets mode and group back, and keeps the buckets */
	cr_assert_eq(chown(shm_path(seg), 0, 0), 0);
	cr_assert_eq(fg_create(seg, &o, 0, &c), 0);
	cr_assert_eq(stat(shm_path(seg), &st), 0);
	cr_assert_eq(st.st_mode & 07777, flags ? 0640 : 0660);
	cr_assert_eq(st.st_gid, NOBODY);
	if (flags) {
		cr_assert_eq(mem_stat(seg, &ds, &shmid), 0);
		cr_assert_eq(ds.shm_perm.mode & 0777, 0660);
	}
	cr_assert_eq(fg_allow(c, "r", "k", 3, NULL), 1);
	cr_assert_eq(fg_allow(c, "r", "k", 1, NULL), 0, "buckets reset");
	look_as(NOBODY, NOBODY, seg, &s);
	cr_assert_eq(s.open_r, 0, "%s", s.why);
	fg_close(c);
	fg_unlink(seg);
}

Test(trust, a_segment_opened_to_others_is_refused_until_its_owner_closes_it)
{
	need_root();
	assert_reopened_to_all_is_refused(0);
	assert_reopened_to_all_is_refused(FG_SEGMENT_SYSV);
}

static int create_fn(void *arg)
{
	fg_segment_opts o = {
	    .capacity = 16, .mode = 0600, .flags = FG_SEGMENT_SYSV};
	fg_client *c = NULL;
	int r = fg_create(arg, &o, 0, &c);

	fg_close(c);
	return -r; /* FG_EACCES: 7 */
}

Test(trust, an_owner_that_may_not_set_the_mode_back_is_refused)
{
	const char *seg = seg_name("noset");
	fg_client *c;

	need_root();
	c = make(seg, 0660, FG_SEGMENT_SYSV);
	fg_close(c);
	/* nobody (in the group) asks for another mode of root's segment */
	cr_assert_eq(run_as(NOBODY, NOBODY, create_fn, (void *)seg),
	             -FG_EACCES);
	fg_unlink(seg);
}
