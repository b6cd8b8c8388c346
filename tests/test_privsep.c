/* SPDX-License-Identifier: ISC */
/*
 * test_privsep.c - issue 12's findings 7, 2 (second half) and 10, against
 * a real floodgated: a reload is all or nothing, also when the segment
 * has no rule names left, and says how to recover; a snapshot carries a
 * MAC that only the daemon can make, and one that fails it is kept aside,
 * never restored; the process that reads the network holds no key and,
 * started as root, runs as the daemon's own user.  And, on their own,
 * the proofs it asks for: one signature a seal group (wire format 3),
 * and the parent signs nothing but what each item's kind must be.
 *
 * The daemon under test is $FLOODGATED.  Each test has its own directory,
 * segment name (fg-privsep-...) and port (tests/ports.h), and removes
 * them.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sodium.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/control.h"
#include "daemon/priv.h"
#include "daemon/privsep.h"
#include "daemon/psmsg.h"
#include "daemon/snapkey.h"
#include "daemon/snapshot.h"
#include "gossip/keys.h"
#include "gossip/xmit.h"
#include "lib/client.h"
#include "shm/clock.h"
#include "tests/cluster.h"
#include "tests/helpers.h"
#include "tests/ports.h"

static char dir[64], seg[64], snap[128], sock[128];
static pid_t daemon_pid;

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/fg-privsep-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(seg, sizeof seg, "fg-privsep-%d", (int)getpid());
	snprintf(snap, sizeof snap, "%s/snap", dir);
	snprintf(sock, sizeof sock, "%s/ctl.sock", dir);
}

static void segment_gone(void)
{
	char cmd[256];

	snprintf(cmd, sizeof cmd, "rm -f /dev/shm/%s /dev/shm/%s.*", seg, seg);
	cr_assert_eq(system(cmd), 0);
}

static void teardown(void)
{
	char cmd[256];

	if (daemon_pid > 0) {
		kill(daemon_pid, SIGKILL);
		(void)waitpid(daemon_pid, NULL, 0);
		daemon_pid = 0;
	}
	segment_gone();
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* DIR/n0.conf: the segment, its control socket and snapshot, then
 * @rules (and @more, appended). */
static void conf(const char *rules, const char *more)
{
	char path[128], head[600], *text;
	size_t len;

	snprintf(head, sizeof head,
	         "segment %s\ncapacity 1024\nlisten 127.0.0.1:%d\n"
	         "control %s\nsnapshot %s every 1h\n",
	         seg, fgt_ports(1), sock, snap);
	len = strlen(head) + strlen(rules) + strlen(more) + 1;
	text = malloc(len);
	cr_assert_not_null(text);
	snprintf(text, len, "%s%s%s", head, rules, more);
	snprintf(path, sizeof path, "%s/n0.conf", dir);
	write_file(path, text);
	free(text);
}

/* How many lines of the daemon's log hold @what. */
static int logged(const char *what)
{
	char path[128];

	snprintf(path, sizeof path, "%s/n0.log", dir);
	return lines_with(path, what);
}

/* Start the daemon and wait for its "running" line and a segment that
 * has rule @rule. */
static fg_client *daemon_up(const char *rule)
{
	int runs = logged("running: segment");
	uint64_t t0 = fg__now_ns();
	fg_client *c = NULL;

	daemon_pid = cluster_spawn(dir, 0);
	for (;;) {
		if (c == NULL && fg_open(seg, 0, &c) != 0)
			c = NULL;
		if (c && fg__rule_index(c, rule) >= 0 &&
		    logged("running: segment") > runs)
			return c;
		cr_assert_lt(fg__now_ns() - t0, 10000000000ull,
		             "floodgated did not come up (%s/n0.log)", dir);
		cr_assert_eq(waitpid(daemon_pid, NULL, WNOHANG), 0,
		             "floodgated exited (%s/n0.log)", dir);
		usleep(10000);
	}
}

/* SIGTERM, and a clean exit. */
static void daemon_down(fg_client *c)
{
	int status;

	if (c)
		fg_close(c);
	kill(daemon_pid, SIGTERM);
	cr_assert_eq(waitpid(daemon_pid, &status, 0), daemon_pid);
	daemon_pid = 0;
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	          "floodgated exits cleanly on SIGTERM");
}

/* The rules "api" (10 an hour) and r1 .. r@n (1 a second). */
static char *many_rules(int n)
{
	size_t cap = 64 + (size_t)n * 48, off;
	char *s = malloc(cap);
	int i;

	cr_assert_not_null(s);
	off = (size_t)snprintf(s, cap, "rule api capacity 10 rate 1/1h\n");
	for (i = 1; i <= n; i++)
		off += (size_t)snprintf(s + off, cap - off,
		                        "rule r%d capacity 1 rate 1/1s\n", i);
	return s;
}

/* --------------------------------------------------------------- reload */

TestSuite(reload, .init = setup, .fini = teardown, .timeout = 60);

/* Finding 7: 255 names in use (the segment's every name), a valid config
 * that changes api and adds a name cannot apply: the reload is refused
 * whole, says why and how, and the restart it names keeps api's bucket. */
Test(reload, a_reload_the_rule_table_cannot_hold_changes_nothing_and_says_how)
{
	char *rules = many_rules(FG_RULES_MAX - 1), *reply = NULL;
	fg_decision dec;
	fg_client *c;
	int64_t left;

	conf(rules, "");
	c = daemon_up("r254");
	cr_assert_eq(fg_allow(c, "api", "k", 4, &dec), 1);
	conf("rule api capacity 20 rate 1/1h\n",
	     "rule fresh capacity 5 rate 1/1s\n");
	cr_assert_eq(fgd_ctl_request(sock, "reload", &reply), 0);
	cr_expect(
	    strncmp(reply, "error: reload refused: rule table full", 38) == 0,
	    "%s", reply);
	cr_expect(strstr(reply, "nothing changed") != NULL, "%s", reply);
	cr_expect(strstr(reply, "restart on a new segment") != NULL, "%s",
	          reply);
	cr_expect(strstr(reply, "snapshot written at exit keeps") != NULL, "%s",
	          reply);
	free(reply);
	cr_expect_eq(logged("reload refused: rule table full"), 1);
	/* nothing changed: api's limit, the old rules, no new one */
	cr_assert_eq(fg_allow(c, "api", "k2", 1, &dec), 1);
	cr_expect_eq(dec.limit, 10, "api unchanged, not %llu",
	             (unsigned long long)dec.limit);
	cr_expect_eq(fg_allow(c, "r1", "x", 1, &dec), 1, "r1 still in force");
	cr_expect_eq(fg_allow(c, "fresh", "x", 1, &dec), FG_ENORULE);
	/* the way out it names: stop, remove the segment, start */
	daemon_down(c);
	segment_gone();
	c = daemon_up("fresh");
	cr_assert_eq(fg__peek(c, "api", "k", 1, &left), 0);
	cr_expect_eq(left, 16, "api's bucket kept: %lld left, not 16",
	             (long long)left);
	cr_expect_eq(fg_allow(c, "r1", "x", 1, &dec), FG_ENORULE);
	daemon_down(c);
	free(rules);
}

/* ------------------------------------------------------------ snapshots */

TestSuite(snapmac, .init = setup, .fini = teardown, .timeout = 60);

/* Finding 2: a single host makes its snapshot key once, 0600 beside the
 * snapshot; a snapshot rewritten by whoever can write the file (here: a
 * debt made larger, its checksum made right without the key) is refused
 * at start with a clear line and kept aside; the buckets start full. */
Test(snapmac, a_snapshot_rewritten_without_the_key_is_refused_and_kept_aside)
{
	char path[160], what[300];
	struct fgd_snap_hdr h;
	struct fgd_snap_bucket rec;
	struct stat st;
	crypto_generichash_state gs;
	fg_client *c;
	int64_t left;
	FILE *f;

	conf("rule api capacity 10 rate 1/1h\n", "");
	c = daemon_up("api");
	cr_assert_eq(fg_allow(c, "api", "k", 4, NULL), 1);
	daemon_down(c);
	snprintf(path, sizeof path, "%s.key", snap);
	cr_assert_eq(stat(path, &st), 0, "the key is made beside it");
	cr_expect_eq(st.st_mode & 07777, 0600);
	cr_expect_eq(st.st_size, FGD_SNAP_KEY_BYTES);
	/* the forger: more debt, a checksum made without the key */
	f = fopen(snap, "r+b");
	cr_assert_not_null(f);
	cr_assert_eq(fread(&h, sizeof h, 1, f), 1);
	cr_assert_eq(h.nbuckets, 1);
	cr_assert_eq(fread(&rec, sizeof rec, 1, f), 1);
	rec.debt_ns *= 2;
	memset(h.sum, 0, sizeof h.sum);
	crypto_generichash_init(&gs, NULL, 0, sizeof h.sum);
	crypto_generichash_update(&gs, (const void *)&h, sizeof h);
	crypto_generichash_update(&gs, (const void *)&rec, sizeof rec);
	crypto_generichash_final(&gs, h.sum, sizeof h.sum);
	rewind(f);
	cr_assert_eq(fwrite(&h, sizeof h, 1, f), 1);
	cr_assert_eq(fwrite(&rec, sizeof rec, 1, f), 1);
	cr_assert_eq(fclose(f), 0);
	segment_gone();
	c = daemon_up("api");
	snprintf(what, sizeof what,
	         "snapshot %s: MAC mismatch: not written under this "
	         "daemon's key",
	         snap);
	cr_expect_eq(logged(what), 1, "a clear line (%s/n0.log)", dir);
	snprintf(what, sizeof what, "kept aside as %s.refused", snap);
	cr_expect_eq(logged(what), 1);
	snprintf(path, sizeof path, "%s.refused", snap);
	cr_expect_eq(access(path, F_OK), 0);
	cr_assert_eq(fg__peek(c, "api", "k", 1, &left), 0);
	cr_expect_eq(left, 10, "never restored: %lld left", (long long)left);
	daemon_down(c);
}

/* ------------------------------------------------------ two processes */

TestSuite(privsep, .init = setup, .fini = teardown, .timeout = 60);

/* The uid, gid and groups /proc/@pid/status gives (the real ones; the
 * test asks all four uids and gids to agree). */
static void ids_of(pid_t pid, long ids[3], char groups[128])
{
	char path[64], line[256];
	long u[4] = {-1, -1, -1, -1}, g[4] = {-1, -1, -1, -1};
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	groups[0] = '\0';
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "Uid: %ld %ld %ld %ld", &u[0], &u[1], &u[2],
		           &u[3]) == 4)
			continue;
		if (sscanf(line, "Gid: %ld %ld %ld %ld", &g[0], &g[1], &g[2],
		           &g[3]) == 4)
			continue;
		if (strncmp(line, "Groups:", 7) == 0)
			snprintf(groups, 128, "%.120s", line + 7);
	}
	fclose(f);
	cr_expect(u[0] == u[1] && u[1] == u[2] && u[2] == u[3],
	          "pid %d: uids differ", (int)pid);
	cr_expect(g[0] == g[1] && g[1] == g[2] && g[2] == g[3],
	          "pid %d: gids differ", (int)pid);
	ids[0] = u[0];
	ids[1] = g[0];
	ids[2] = 0;
}

/* Whether @len bytes of @what are anywhere in the readable memory of
 * @pid (as root reads it: /proc/PID/mem). */
/* Under ASan, the shadow memory and the allocator's reservations are
 * mappings of terabytes, almost none of it ever touched, that no scan can
 * read in time: those are skipped there (the plain build, which CI runs
 * too, reads everything). */
#ifdef UNDER_ASAN
#define ASAN_RESERVED (1ul << 30)
#else
#define ASAN_RESERVED (~0ul)
#endif

static int in_memory(pid_t pid, const uint8_t *what, size_t len)
{
	char path[64], line[512];
	size_t cap = 1u << 20;
	uint8_t *buf = malloc(cap + len);
	FILE *maps;
	int fd, found = 0;

	cr_assert_not_null(buf);
	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	maps = fopen(path, "r");
	cr_assert_not_null(maps, "%s", path);
	snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	while (!found && fgets(line, sizeof line, maps)) {
		unsigned long lo, hi, at;
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 ||
		    perms[0] != 'r' || strstr(line, "[vvar") != NULL ||
		    hi - lo > ASAN_RESERVED)
			continue;
		for (at = lo; !found && at < hi; at += cap) {
			size_t want = hi - at < cap + len ? hi - at : cap + len;
			ssize_t n = pread(fd, buf, want, (off_t)at);

			found = n >= (ssize_t)len &&
			        memmem(buf, (size_t)n, what, len) != NULL;
		}
	}
	close(fd);
	fclose(maps);
	free(buf);
	return found;
}

/* Finding 10: started as root, the process that reads the network (the
 * segment's owner, which serves the control socket and HTTP) runs as
 * the daemon's user with its group alone, and neither the node's secret
 * key nor the snapshot key derived from it is anywhere in its memory:
 * signing needs the parent, which has both (the same scan finds them
 * there). */
Test(privsep, the_network_process_runs_as_the_daemon_user_without_a_key)
{
	uint8_t *sk = NULL, pk[32], snapkey[FGD_SNAP_KEY_BYTES];
	char keys[256], err[512], groups[128], want[32];
	struct passwd *pw = getpwnam("floodgate");
	long ids[3];
	fg_client *c;
	pid_t child;

	if (geteuid() != 0)
		cr_skip_test("not root: nobody to switch to");
	cr_assert_not_null(pw, "user floodgate (scripts/deps.sh makes it)");
	make_node_keys(dir, 1);
	snprintf(keys, sizeof keys,
	         "node-key %s/n0.key\nkeyring %s/keyring\n"
	         "http 127.0.0.1:%d\n",
	         dir, dir, fgt_ports(1) + 1);
	conf("rule api capacity 10 rate 1/1h scope global\n", keys);
	c = daemon_up("api");
	child = (pid_t)c->seg.tbl.hdr->owner_pid;
	cr_assert_gt(child, 0);
	cr_assert_neq(child, daemon_pid, "the segment's owner is the child");
	ids_of(child, ids, groups);
	cr_expect_eq(ids[0], (long)pw->pw_uid, "uid %ld", ids[0]);
	cr_expect_eq(ids[1], (long)pw->pw_gid, "gid %ld", ids[1]);
	snprintf(want, sizeof want, "%u", (unsigned)pw->pw_gid);
	cr_expect_str_eq(strtok(groups, " \t\n"), want, "its group: %s",
	                 groups);
	cr_expect_null(strtok(NULL, " \t\n"), "and no other");
	ids_of(daemon_pid, ids, groups);
	cr_expect_eq(ids[0], 0, "the parent stays root");
	snprintf(keys, sizeof keys, "%s/n0.key", dir);
	cr_assert_eq(fgk_load_secret(keys, &sk, pk, err, sizeof err), 0, "%s",
	             err);
	cr_assert_eq(fgd_snapkey_get(snap, sk, 0, snapkey, err, sizeof err), 0,
	             "%s", err);
	cr_expect(in_memory(daemon_pid, sk, 32), "the parent has the key");
	cr_expect(!in_memory(child, sk, 32), "the child has no secret key");
	cr_expect(!in_memory(child, snapkey, sizeof snapkey),
	          "nor the snapshot key");
	cr_expect(in_memory(child, pk, sizeof pk), "but the public key");
	fgk_secret_free(sk);
	daemon_down(c);
}

/* The messages between the two are checked for the exact length of
 * their type before anything reads them (psmsg.h). */
Test(privsep, a_message_of_the_wrong_length_for_its_type_is_refused)
{
	struct {
		uint32_t type, len;
		uint8_t body[200];
	} m;
	uint8_t *buf = malloc(FGD_MSG_MAX);
	uint32_t type;
	int sv[2];

	cr_assert_not_null(buf);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	memset(&m, 0, sizeof m);
	/* a good one */
	cr_assert_eq(fgd_msg_send(sv[0], FGD_MSG_PROOFS, m.body, 128, NULL, 0),
	             0);
	cr_expect_eq(fgd_msg_recv(sv[1], &type, buf), 128);
	cr_expect_eq(type, FGD_MSG_PROOFS);
	/* proofs come in 64 bytes: 100 is no number of them */
	m.type = FGD_MSG_PROOFS;
	m.len = 100;
	cr_assert_eq(send(sv[0], &m, 8 + 100, 0), 108);
	cr_expect_eq(fgd_msg_recv(sv[1], &type, buf), -1);
	cr_expect_eq(errno, EBADMSG);
	/* a header that says more than came */
	m.len = 128;
	cr_assert_eq(send(sv[0], &m, 8 + 64, 0), 72);
	cr_expect_eq(fgd_msg_recv(sv[1], &type, buf), -1);
	cr_expect_eq(errno, EBADMSG);
	/* an end that carries bytes; a type that does not exist */
	m.type = FGD_MSG_SNAP_END;
	m.len = 1;
	cr_assert_eq(send(sv[0], &m, 9, 0), 9);
	cr_expect_eq(fgd_msg_recv(sv[1], &type, buf), -1);
	m.type = FGD_MSG_NTYPES;
	m.len = 0;
	cr_assert_eq(send(sv[0], &m, 8, 0), 8);
	cr_expect_eq(fgd_msg_recv(sv[1], &type, buf), -1);
	/* the other side gone */
	close(sv[0]);
	cr_expect_eq(fgd_msg_recv(sv[1], &type, buf), -1);
	close(sv[1]);
	free(buf);
}

/* ------------------------------------------- proofs of the network process */

/* A prover as the parent runs one (priv.c's fgd_priv_prove), forked. */
static void prover(int fd, const uint8_t *sk, const uint8_t *pk,
                   const struct fgw_keyring *kr)
{
	struct fgw_pairwise *pw = NULL;

	if (fgw_pairwise_new(kr, sk, pk, &pw) != 0)
		_exit(1);
	_exit(fgd_priv_prove_serve(fd, sk, pk, pw) == 0 ? 0 : 1);
}

/* What the network process asked for, by kind, on its way to the prover. */
struct asked {
	struct fgd_ps *ps;
	size_t calls, kind[4];
};

static int prove_counted(void *arg, struct fgd_proof *p, size_t n)
{
	struct asked *a = arg;
	size_t i;

	a->calls++;
	for (i = 0; i < n; i++)
		a->kind[p[i].kind]++;
	return fgd_ps_prove(a->ps, p, n);
}

static uint8_t sent[1024][FGW_MAX_SIZE];
static size_t sent_len[1024], nsent;

static void capture(void *arg, const struct fgd_addr *to, const uint8_t *buf,
                    size_t len)
{
	(void)arg;
	(void)to;
	cr_assert_lt(nsent, 1024);
	memcpy(sent[nsent], buf, len);
	sent_len[nsent++] = len;
}

static void to_three(void *arg, const uint8_t *buf, size_t len)
{
	struct fgd_xmit *x = arg;
	struct fgd_addr to = {.len = 1};
	int i;

	for (i = 0; i < 3; i++) /* as a relayed round: to several members */
		fgd_xmit_to(x, &to, buf, len);
}

/* Wire format 3 under privilege separation: the network process seals a
 * round itself but for the signature, and asks the parent for one
 * signature a group (its root), not one a datagram; the queue of what
 * waits fills half way through a group (3 sends a datagram), and the
 * rest of the group takes the signature already made.  Every datagram
 * then verifies on its own, and a receiver checks one signature a group. */
Test(privsep, a_seal_group_costs_one_signing_request_for_its_root)
{
	uint8_t pk[FGW_PK_SIZE], sk[FGW_SK_SIZE], pk2[FGW_PK_SIZE],
	    sk2[FGW_SK_SIZE], key[16];
	struct fgw_peer_key kk[2] = {{.name = "a"}, {.name = "b"}};
	struct fgw_keyring kr = {.n = 2, .keys = kk};
	struct fgd_counters ctr = {0};
	struct fgw_roots *roots = calloc(1, sizeof *roots);
	struct fgd_ps ps;
	struct asked a = {.ps = &ps};
	struct fgd_xmit *x = calloc(1, sizeof *x);
	struct fgd_batch b;
	struct fgw_view v;
	size_t i, k, groups, ndg;
	pid_t pid;

	cr_assert(x != NULL && roots != NULL && sodium_init() >= 0);
	crypto_sign_keypair(pk, sk);
	crypto_sign_keypair(pk2, sk2);
	memcpy(kk[0].pk, pk, FGW_PK_SIZE);
	memcpy(kk[1].pk, pk2, FGW_PK_SIZE);
	pid = fgd_ps_fork(&ps);
	cr_assert_geq(pid, 0);
	if (pid == 0)
		prover(ps.fd, sk, pk, &kr);
	ps.buf = malloc(FGD_MSG_MAX);
	ps.out = malloc(FGD_MSG_MAX);
	cr_assert(ps.buf != NULL && ps.out != NULL);
	fgd_xmit_init(x, &kr, NULL, pk, 7, 1200, &ctr);
	cr_assert_eq(fgd_xmit_defer(x, prove_counted, &a), 0);
	x->send = capture;
	fgd_batch_begin(&b, x, 0, 5000, 0, to_three, x);
	for (k = 0; k < 4000; k++) {
		snprintf((char *)key, sizeof key, "user-%010zu", k);
		fgd_batch_add(&b, "api", key, sizeof key, 1, 0, k + 1);
	}
	ndg = fgd_batch_end(&b, 0);
	fgd_xmit_flush(x);
	groups = (ndg + FGW_GROUP_MAX - 1) / FGW_GROUP_MAX;
	cr_assert_gt(ndg, 2 * FGW_GROUP_MAX, "%zu datagrams", ndg);
	cr_expect_eq(ctr.tx_errors, 0);
	cr_expect_eq(a.kind[FGW_PROOF_SEAL], groups, "%zu roots, %zu groups",
	             a.kind[FGW_PROOF_SEAL], groups);
	cr_expect_eq(a.kind[FGW_PROOF_SIG] + a.kind[FGW_PROOF_MAC], 0);
	cr_expect_leq(a.calls, 3 * ndg / FGD_PEND_MAX + 1, "%zu calls",
	              a.calls);
	cr_assert_eq(nsent, 3 * ndg, "every datagram sent to all three");
	for (i = 0; i < nsent; i++) {
		cr_assert_eq(fgw_open(sent[i], sent_len[i], &kr, &v), FGW_OK,
		             "datagram %zu verifies on its own", i);
		cr_assert_eq(
		    fgw_open_cached(sent[i], sent_len[i], &kr, roots, &v),
		    FGW_OK);
	}
	cr_expect_eq(roots->misses, groups, "one signature checked a group");
	fgd_xmit_fini(x);
	fgd_ps_close(&ps); /* the prover sees EOF and leaves */
	cr_expect_eq(waitpid(pid, NULL, 0), pid);
	free(roots);
	free(x);
}

/* One PROVE message of the items @kind/@member/@len, each item's bytes
 * @bytes[i]; fgd_priv_prove's answer (its length, or -1). */
static ssize_t prove_one(const uint8_t *sk, const uint8_t *pk, uint8_t kind,
                         uint8_t pad, int32_t member, const uint8_t *bytes,
                         size_t len, size_t extra, uint8_t *proof)
{
	static uint8_t req[4 + sizeof(struct fgd_msg_item) + FGW_MAX_SIZE + 1];
	struct fgd_msg_item it = {
	    .len = (uint16_t)len, .kind = kind, .pad = pad, .member = member};
	uint8_t out[FGD_MSG_PROOF];
	uint32_t n = 1;
	ssize_t r;

	memcpy(req, &n, 4);
	memcpy(req + 4, &it, sizeof it);
	memcpy(req + 4 + sizeof it, bytes, len);
	r = fgd_priv_prove(req, 4 + sizeof it + len + extra, sk, pk, NULL, out,
	                   sizeof out);
	if (r > 0 && proof != NULL)
		memcpy(proof, out, FGD_MSG_PROOF);
	return r;
}

/* What the parent signs for the network process: a seal's root, in the
 * root's own context, and our membership datagrams, exactly as their
 * item says; never a consumption datagram whole, another origin's
 * datagram, an item of the wrong length for its kind, or one with bytes
 * the kind does not have. */
Test(privsep, the_parent_signs_roots_and_our_membership_datagrams_only)
{
	uint8_t pk[FGW_PK_SIZE], sk[FGW_SK_SIZE], pk2[FGW_PK_SIZE],
	    sk2[FGW_SK_SIZE], root[FGD_ROOT_PROOF] = "a root of 16 b.",
	                      sig[FGD_MSG_PROOF], mb[FGW_MEMBER_SIZE],
	                      other[FGW_MEMBER_SIZE];
	struct fgw_member m = {.kind = FGW_PING, .nonce = 1};
	struct fgw_writer w;

	cr_assert_geq(sodium_init(), 0);
	crypto_sign_keypair(pk, sk);
	crypto_sign_keypair(pk2, sk2);
	cr_expect_eq(
	    prove_one(sk, pk, FGW_PROOF_SEAL, 0, -1, root, sizeof root, 0, sig),
	    FGD_MSG_PROOF);
	cr_expect_eq(fgw_seal_verify(root, sig, pk), 0, "the root's signature");
	cr_expect_eq(prove_one(sk, pk, FGW_PROOF_SEAL, 0, -1, root,
	                       sizeof root - 1, 0, NULL),
	             -1, "a root item one byte short");
	cr_expect_eq(prove_one(sk, pk, FGW_PROOF_SEAL, 0, -1, root, sizeof root,
	                       1, NULL),
	             -1, "a byte after the last item");
	cr_expect_eq(prove_one(sk, pk, FGW_PROOF_SEAL, 1, -1, root, sizeof root,
	                       0, NULL),
	             -1, "padding not zero");
	cr_expect_eq(
	    prove_one(sk, pk, FGW_PROOF_SEAL, 0, 0, root, sizeof root, 0, NULL),
	    -1, "a member where none belongs");
	cr_expect_eq(prove_one(sk, pk, 9, 0, -1, root, sizeof root, 0, NULL),
	             -1, "a kind that does not exist");

	cr_assert_eq(fgw_member_write(mb, pk, 1, 1, &m, NULL), FGW_MEMBER_SIZE);
	cr_expect_eq(
	    prove_one(sk, pk, FGW_PROOF_SIG, 0, -1, mb, sizeof mb, 0, sig),
	    FGD_MSG_PROOF);
	memcpy(mb + FGW_MEMBER_SIZE - FGW_SIG_SIZE, sig, FGW_SIG_SIZE);
	cr_expect_eq(crypto_sign_verify_detached(
	                 sig, mb, FGW_MEMBER_SIZE - FGW_SIG_SIZE, pk),
	             0, "our membership datagram, signed");
	cr_assert_eq(fgw_member_write(other, pk2, 1, 1, &m, NULL),
	             FGW_MEMBER_SIZE);
	cr_expect_eq(prove_one(sk, pk, FGW_PROOF_SIG, 0, -1, other,
	                       sizeof other, 0, NULL),
	             -1, "another origin's");

	fgw_begin(&w, 1200, pk, 1, 1);
	cr_assert_eq(fgw_add(&w, "api", 3, "k", 1, 5, 0), 0);
	cr_assert_gt(fgw_finish(&w, NULL), 0);
	cr_expect_eq(
	    prove_one(sk, pk, FGW_PROOF_SIG, 0, -1, w.buf, w.len, 0, NULL), -1,
	    "a sealed consumption datagram is no datagram to "
	    "sign whole");
	cr_expect_eq(
	    prove_one(sk, pk, FGW_PROOF_MAC, 0, 1, w.buf, w.len, 0, NULL), -1,
	    "nor to MAC, with no key for the member");
}
