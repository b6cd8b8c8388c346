/*
 * test_members.c - dissemination with fanout and relaying, SWIM liveness
 * and discovery, between in-process nodes on a simulated network.
 *
 * Each node owns a segment of its own and an address 127.0.0.1:PORT0+i
 * that is never bound: the network is this file.  It carries what
 * fgd_node_tick and fgd_node_receive_from send in waves (a wave is one
 * hop: what the previous wave's deliveries sent goes in the next), and
 * can lose, cut, duplicate or tamper with datagrams.  Every node's random
 * generator is seeded with a constant, so a run is the same every time.
 *
 * Also the membership datagram format (type 2) itself.
 */
#include <criterion/criterion.h>
#include <sodium.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/node.h"
#include "gossip/wire.h"
#include "lib/client.h"
#include "tests/helpers.h"

#define MAXN  20
#define CAP   1000
#define PORT0 24100
#define IV_MS 100
#define MAXQ  65536

struct pkt {
	int from, to;
	size_t len;
	uint8_t buf[FGW_MAX_SIZE];
};

static struct sim {
	int n;
	struct fgw_keyring kr;
	struct fgw_peer_key keys[MAXN + 1]; /* the last: a stranger */
	uint8_t sk[MAXN + 1][FGW_SK_SIZE];
	struct fgd_addr addr[MAXN];
	fg_client *fg[MAXN];
	struct fgd_node node[MAXN];
	int ctx[MAXN];
	int down[MAXN];           /* neither ticks nor receives */
	int cut[MAXN][MAXN];      /* from -> to dropped */
	int dup;                  /* deliver everything twice */
	int tamper_by;            /* -1, or a relay flipping a count bit */
	uint64_t sent[MAXN];      /* datagrams each node sent */
	uint64_t sent_cons[MAXN]; /* of them, consumption (type 1) */
	uint64_t now;
	struct pkt *q;
	size_t nq, head;
} S;

static const char *seg_name(int i)
{
	static char name[64];

	snprintf(name, sizeof name, "fgtest-mem%d-%d", i, (int)getpid());
	return name;
}

static int addr_index(const struct fgd_addr *a)
{
	const struct sockaddr_in *s = (const void *)&a->ss;
	int p;

	cr_assert_eq(a->ss.ss_family, AF_INET);
	p = ntohs(s->sin_port) - PORT0;
	cr_assert(p >= 0 && p < S.n, "port %d", p + PORT0);
	return p;
}

static void net_send(void *arg, const struct fgd_addr *to, const uint8_t *buf,
                     size_t len)
{
	int from = *(int *)arg, t = addr_index(to);
	struct pkt *p;

	S.sent[from]++;
	S.sent_cons[from] += len > 4 && buf[4] == 1;
	if (S.cut[from][t])
		return;
	cr_assert_lt(S.nq, MAXQ);
	p = &S.q[S.nq++];
	p->from = from;
	p->to = t;
	p->len = len;
	memcpy(p->buf, buf, len);
	/* A dishonest relay changes a count in what it forwards. */
	if (from == S.tamper_by && len > FGW_MIN_SIZE && buf[4] == 1 &&
	    memcmp(buf + 8, S.keys[from].pk, FGW_PK_SIZE) != 0)
		p->buf[len - FGW_SIG_SIZE - 1] ^= 1;
}

/* Node @i, knowing the seeds @seeds (indices, -1 ends), fanout @f. */
static void net_attach(int i, const int *seeds, unsigned f)
{
	struct fgd_addr sa[MAXN];
	struct fgd_net net = {.self = &S.addr[i],
	                      .seeds = sa,
	                      .fanout = f,
	                      .send = net_send,
	                      .arg = &S.ctx[i]};
	size_t k = 0;

	for (; seeds && *seeds >= 0; seeds++)
		sa[k++] = S.addr[*seeds];
	net.nseeds = k;
	cr_assert_eq(fgd_node_set_net(&S.node[i], &net), 0);
}

/* Every node seeded with every other. */
static void net_mesh(unsigned f)
{
	int i, j, seeds[MAXN + 1], k;

	for (i = 0; i < S.n; i++) {
		for (k = 0, j = 0; j < S.n; j++)
			if (j != i)
				seeds[k++] = j;
		seeds[k] = -1;
		net_attach(i, seeds, f);
	}
}

static void sim_up(int n)
{
	fg_segment_opts o = {.capacity = 256};
	int i;

	cr_assert_geq(sodium_init(), 0);
	cr_assert_leq(n, MAXN);
	memset(&S, 0, sizeof S);
	S.q = calloc(MAXQ, sizeof *S.q);
	cr_assert_not_null(S.q);
	S.n = n;
	S.tamper_by = -1;
	S.now = 1000;
	for (i = 0; i <= n; i++) {
		crypto_sign_keypair(S.keys[i].pk, S.sk[i]);
		snprintf(S.keys[i].name, sizeof S.keys[i].name, "n%d", i);
	}
	S.kr.n = (size_t)n;
	S.kr.keys = S.keys;
	for (i = 0; i < n; i++) {
		struct sockaddr_in *s = (void *)&S.addr[i].ss;
		struct fgd_node_params p = {.incarnation = 7,
		                            .max_datagram = 1200,
		                            .interval_ms = IV_MS,
		                            .npeers = (size_t)n - 1};

		s->sin_family = AF_INET;
		s->sin_port = htons((uint16_t)(PORT0 + i));
		s->sin_addr.s_addr = htonl(0x7f000001);
		S.addr[i].len = sizeof *s;
		S.ctx[i] = i;
		fg_unlink(seg_name(i));
		cr_assert_eq(fg_create(seg_name(i), &o, 0, &S.fg[i]), 0);
		test_rule(S.fg[i], "g", CAP, 1, HOUR_MS, FG_RULE_GLOBAL);
		cr_assert_eq(fgd_node_init(&S.node[i], S.fg[i], &S.kr, S.sk[i],
		                           S.keys[i].pk, &p),
		             0);
		S.node[i].rng = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
	}
}

static void sim_down(void)
{
	int i;

	for (i = 0; i < S.n; i++) {
		fgd_node_fini(&S.node[i]);
		fg_close(S.fg[i]);
		fg_unlink(seg_name(i));
	}
	free(S.q);
	S.q = NULL;
}

/* Deliver wave after wave until nothing is in flight; returns the number
 * of waves (hops). */
static int deliver_all(void)
{
	int waves = 0;

	while (S.head < S.nq) {
		size_t end = S.nq;

		for (; S.head < end; S.head++) {
			struct pkt *p = &S.q[S.head];
			int k;

			if (S.down[p->to])
				continue;
			for (k = 0; k < (S.dup ? 2 : 1); k++)
				(void)fgd_node_receive_from(
				    &S.node[p->to], p->buf, p->len,
				    &S.addr[p->from], S.now);
		}
		waves++;
		cr_assert_lt(waves, 1000, "forwarding does not end");
	}
	S.head = S.nq = 0;
	return waves;
}

/* One round: every live node harvests and ticks, then the network
 * delivers everything.  Returns the hops that took. */
static int round_all(void)
{
	int i;

	S.now += IV_MS;
	for (i = 0; i < S.n; i++) {
		if (S.down[i])
			continue;
		fgd_node_harvest(&S.node[i], S.now);
		(void)fgd_node_tick(&S.node[i], S.now);
	}
	return deliver_all();
}

static int64_t left(int i, const char *key)
{
	int64_t n = 0;

	cr_assert_eq(fg__peek(S.fg[i], "g", key, strlen(key), &n), 0);
	return n;
}

static int all_left(const char *key, int64_t want)
{
	int i;

	for (i = 0; i < S.n; i++)
		if (!S.down[i] && left(i, key) != want)
			return 0;
	return 1;
}

static enum fgd_peer_state state_of(int viewer, int of)
{
	return fgd_node_peer_state(&S.node[viewer], of, S.now);
}

TestSuite(members, .fini = sim_down, .timeout = 120);

/* ------------------------------------------------------- dissemination */

Test(members, consumption_reaches_every_node_with_fanout_below_n)
{
	int r, done = -1, i;

	sim_up(16);
	net_mesh(3);
	for (r = 0; r < 3; r++) /* addresses and liveness settle */
		round_all();
	cr_assert_eq(fg_allow(S.fg[0], "g", "k", 5, NULL), 1);
	S.sent_cons[0] = 0;
	S.node[0].rounds = 1; /* the next round is not a full sync */
	fgd_node_harvest(&S.node[0], S.now);
	S.now += IV_MS;
	cr_assert_eq(fgd_node_tick(&S.node[0], S.now), 1);
	cr_expect_eq(S.sent_cons[0], 3, "one datagram to 3 of 15 peers");
	deliver_all();
	for (r = 0; r < 2 * (int)FGD_FULL_SYNC_EVERY && done < 0; r++) {
		if (all_left("k", CAP - 5))
			done = r;
		else
			round_all();
	}
	cr_assert_geq(done, 0, "not every node has it after %d rounds", r);
	cr_log_info("16 nodes, fanout 3: everywhere after %d more rounds",
	            done);
	for (i = 1; i < S.n; i++)
		cr_expect_leq(S.node[i].ctr.relayed,
		              (uint64_t)(3 * FGD_FULL_SYNC_EVERY * 8),
		              "node %d forwarded a lot", i);
	cr_expect_gt(S.node[5].ctr.relayed + S.node[9].ctr.relayed +
	                 S.node[13].ctr.relayed,
	             0, "nobody forwarded");
}

Test(members, forwarding_never_debits_twice)
{
	uint64_t total = 0, applied;
	int r, i;

	sim_up(16);
	net_mesh(2);
	S.dup = 1; /* and the network duplicates everything */
	for (r = 0; r < 40; r++) {
		for (i = 0; i < S.n; i += 3) {
			cr_assert_eq(fg_allow(S.fg[i], "g", "hot", 1, NULL), 1);
			total++;
		}
		round_all();
	}
	for (r = 0; r < 3 * (int)FGD_FULL_SYNC_EVERY &&
	            !all_left("hot", CAP - (int64_t)total);
	     r++)
		round_all();
	for (i = 0; i < S.n; i++) {
		uint64_t own = i % 3 == 0 ? 40 : 0;

		cr_expect_eq(left(i, "hot"), CAP - (int64_t)total,
		             "node %d: %lld left", i,
		             (long long)left(i, "hot"));
		applied = S.node[i].ctr.applied;
		cr_expect_eq(applied, total - own, "node %d applied %llu", i,
		             (unsigned long long)applied);
		cr_expect_eq(S.node[i].ctr.drops[FGW_BADSIG], 0);
	}
}

Test(members, a_relayed_datagram_altered_by_the_relay_is_rejected)
{
	uint64_t badsig = 0;
	int r, i;

	sim_up(12);
	net_mesh(3);
	S.tamper_by = 4;
	for (r = 0; r < 30; r++) {
		cr_assert_eq(fg_allow(S.fg[0], "g", "t", 1, NULL), 1);
		round_all();
	}
	for (r = 0;
	     r < 3 * (int)FGD_FULL_SYNC_EVERY && !all_left("t", CAP - 30); r++)
		round_all();
	cr_expect_gt(S.node[4].ctr.relayed, 0, "the bad relay forwarded");
	for (i = 0; i < S.n; i++) {
		badsig += S.node[i].ctr.drops[FGW_BADSIG];
		cr_expect_eq(left(i, "t"), CAP - 30, "node %d: %lld left", i,
		             (long long)left(i, "t"));
	}
	cr_expect_gt(badsig, 0, "what the relay altered was rejected");
}

/* ---------------------------------------------------------------- SWIM */

Test(members, a_silent_node_becomes_suspect_then_dead)
{
	int r, suspect_at = -1, dead_at = -1;

	sim_up(5);
	net_mesh(0);
	for (r = 0; r < 10; r++)
		round_all();
	cr_assert_eq(state_of(0, 4), FGD_PEER_ALIVE);
	S.down[4] = 1;
	for (r = 1; r <= 60 && dead_at < 0; r++) {
		round_all();
		if (suspect_at < 0 && state_of(0, 4) == FGD_PEER_SUSPECT)
			suspect_at = r;
		if (state_of(0, 4) == FGD_PEER_DEAD)
			dead_at = r;
	}
	cr_log_info("silent node: suspect after %d rounds, dead after %d",
	            suspect_at, dead_at);
	cr_assert_gt(suspect_at, 0, "never suspect");
	cr_assert_gt(dead_at, suspect_at, "never dead");
	/* probes, not silence: silence alone says suspect after 30 rounds
	 * and dead after 100 */
	cr_expect_leq(suspect_at, 4 + 3 + 1, "suspect after %d rounds",
	              suspect_at);
	cr_expect_leq(dead_at, suspect_at + FGD_SUSPICION_ROUNDS + 1);
	cr_expect_gt(S.node[0].ctr.ping_reqs, 0, "indirect probes were tried");
	cr_expect_eq(state_of(1, 2), FGD_PEER_ALIVE, "the others stay alive");
}

Test(members, a_dead_node_is_alive_again_when_it_talks)
{
	int r;

	sim_up(5);
	net_mesh(0);
	for (r = 0; r < 5; r++)
		round_all();
	S.down[3] = 1;
	for (r = 0; r < 40; r++)
		round_all();
	cr_assert_eq(state_of(0, 3), FGD_PEER_DEAD);
	S.down[3] = 0;
	round_all();
	cr_expect_eq(state_of(0, 3), FGD_PEER_ALIVE);
	cr_expect_eq(state_of(2, 3), FGD_PEER_ALIVE);
}

Test(members, an_indirect_ping_keeps_alive_a_node_whose_direct_path_is_cut)
{
	uint64_t relayed_acks = 0;
	int r, i;

	sim_up(5);
	net_mesh(0); /* full mesh: nothing of 4 reaches 0 but through acks */
	for (r = 0; r < 5; r++)
		round_all();
	S.cut[0][4] = S.cut[4][0] = 1;
	for (r = 0; r < 80; r++) {
		round_all();
		cr_assert_eq(state_of(0, 4), FGD_PEER_ALIVE, "round %d: %s", r,
		             fgd_peer_state_name(state_of(0, 4)));
	}
	for (i = 1; i < 4; i++)
		relayed_acks += S.node[i].ctr.acks_relayed;
	cr_expect_gt(S.node[0].ctr.ping_reqs, 0);
	cr_expect_gt(relayed_acks, 0, "the helpers passed 4's acks on");
	/* with the helpers cut too, it is suspect */
	for (i = 1; i < 4; i++)
		S.cut[i][4] = S.cut[4][i] = 1;
	for (r = 0; r < 12 && state_of(0, 4) == FGD_PEER_ALIVE; r++)
		round_all();
	cr_expect_eq(state_of(0, 4), FGD_PEER_SUSPECT);
}

/* ------------------------------------------------------------ discovery */

static int knows_all(int i)
{
	int j;

	for (j = 0; j < S.n; j++)
		if (j != i && S.node[i].mem[j].addr.len == 0)
			return 0;
	return 1;
}

Test(members, a_node_configured_with_one_seed_learns_all)
{
	static const int seed0[] = {0, -1}, seed1[] = {1, -1};
	int r, i, all = 0;

	sim_up(8);
	for (i = 0; i < S.n; i++)
		net_attach(i, i == 0 ? seed1 : seed0, 2);
	for (r = 0; r < 4 * (int)FGD_FULL_SYNC_EVERY && !all; r++) {
		round_all();
		for (all = 1, i = 0; i < S.n; i++)
			all &= knows_all(i);
	}
	cr_assert(all, "not everyone knows everyone after %d rounds", r);
	cr_log_info("8 nodes, one seed each: all addresses after %d rounds", r);
	/* and consumption flows between nodes never configured together */
	cr_assert_eq(fg_allow(S.fg[7], "g", "d", 9, NULL), 1);
	for (r = 0; r < 2 * (int)FGD_FULL_SYNC_EVERY && !all_left("d", CAP - 9);
	     r++)
		round_all();
	cr_expect(all_left("d", CAP - 9));
	for (i = 0; i < S.n; i++)
		cr_expect_eq(
		    state_of(3, i), i == 3 ? FGD_PEER_UNKNOWN : FGD_PEER_ALIVE,
		    "3 sees %d %s", i, fgd_peer_state_name(state_of(3, i)));
}

Test(members, an_address_is_taken_only_from_the_member_itself)
{
	struct fgw_member m = {.kind = FGW_ANNOUNCE, .family = 4, .port = 9999};
	uint8_t buf[FGW_MEMBER_SIZE], old[FGW_MEMBER_SIZE];
	struct fgd_addr before;
	size_t len;
	int r;

	sim_up(3);
	net_mesh(0);
	for (r = 0; r < 3; r++)
		round_all();
	before = S.node[0].mem[2].addr;
	cr_assert_neq(before.len, 0);
	memcpy(m.addr, "\x0a\x00\x00\x09", 4);
	/* node 1 claims to be 2: the signature is 1's, not 2's */
	len = fgw_member_write(buf, S.keys[2].pk, 7, 1u << 30, &m, S.sk[1]);
	cr_assert_eq(
	    fgd_node_receive_from(&S.node[0], buf, len, &S.addr[1], S.now),
	    FGW_BADSIG);
	/* a stranger, signing as itself */
	len = fgw_member_write(buf, S.keys[3].pk, 7, 1u << 30, &m, S.sk[3]);
	cr_assert_eq(
	    fgd_node_receive_from(&S.node[0], buf, len, &S.addr[1], S.now),
	    FGW_UNKNOWNKEY);
	/* 2's own, older than what 0 holds: ignored */
	len = fgw_member_write(old, S.keys[2].pk, 7, 1, &m, S.sk[2]);
	cr_assert_eq(
	    fgd_node_receive_from(&S.node[0], old, len, &S.addr[1], S.now),
	    FGW_OK);
	cr_expect_eq(memcmp(&S.node[0].mem[2].addr, &before, sizeof before), 0,
	             "the address of 2 did not move");
	/* 2's own and newer: taken */
	len = fgw_member_write(buf, S.keys[2].pk, 8, 1, &m, S.sk[2]);
	cr_assert_eq(
	    fgd_node_receive_from(&S.node[0], buf, len, &S.addr[1], S.now),
	    FGW_OK);
	cr_expect_eq(
	    ntohs(((struct sockaddr_in *)&S.node[0].mem[2].addr.ss)->sin_port),
	    9999);
}

Test(members, a_ping_for_another_member_gets_no_ack)
{
	struct fgw_member m = {.kind = FGW_PING, .nonce = 5};
	uint8_t buf[FGW_MEMBER_SIZE];
	size_t len;

	sim_up(3);
	net_mesh(0);
	memcpy(m.target, S.keys[2].pk, FGW_PK_SIZE); /* meant for 2 */
	len = fgw_member_write(buf, S.keys[1].pk, 7, 1000, &m, S.sk[1]);
	cr_assert_eq(
	    fgd_node_receive_from(&S.node[0], buf, len, &S.addr[1], S.now),
	    FGW_OK);
	cr_expect_eq(S.nq, 0, "nothing sent");
	cr_expect_eq(S.node[0].ctr.member_ignored, 1);
	/* the same, replayed to its real target after it was used */
	cr_assert_eq(
	    fgd_node_receive_from(&S.node[2], buf, len, &S.addr[1], S.now),
	    FGW_OK);
	cr_expect_eq(S.nq, 1, "one ack");
	cr_assert_eq(
	    fgd_node_receive_from(&S.node[2], buf, len, &S.addr[1], S.now),
	    FGW_REPLAY);
	cr_expect_eq(S.nq, 1, "a replayed ping is not answered");
}

/* -------------------------------------------------------------- the wire */

static void wire_keys(uint8_t pk[FGW_PK_SIZE], uint8_t sk[FGW_SK_SIZE],
                      struct fgw_keyring *kr, struct fgw_peer_key *k)
{
	cr_assert_geq(sodium_init(), 0);
	crypto_sign_keypair(pk, sk);
	memcpy(k->pk, pk, FGW_PK_SIZE);
	kr->n = 1;
	kr->keys = k;
}

Test(members, a_membership_datagram_round_trips)
{
	uint8_t pk[FGW_PK_SIZE], sk[FGW_SK_SIZE], buf[FGW_MEMBER_SIZE];
	struct fgw_member m = {.kind = FGW_ACK,
	                       .family = 6,
	                       .port = 7420,
	                       .nonce = 0x0102030405060708ull},
	                  got;
	struct fgw_peer_key k = {.name = "a"};
	struct fgw_keyring kr;
	struct fgw_record rec;
	struct fgw_view v;

	wire_keys(pk, sk, &kr, &k);
	memset(m.addr, 0xfe, 16);
	memset(m.target, 1, FGW_PK_SIZE);
	memset(m.requester, 2, FGW_PK_SIZE);
	cr_assert_eq(fgw_member_write(buf, pk, 3, 4, &m, sk), FGW_MEMBER_SIZE);
	cr_assert_eq(fgw_open(buf, FGW_MEMBER_SIZE, &kr, &v), FGW_OK);
	cr_expect_eq(v.type, FGW_TYPE_MEMBER);
	cr_expect_eq(v.incarnation, 3);
	cr_expect_eq(v.seq, 4);
	cr_expect_eq(fgw_next(&v, &rec), 0, "no records");
	cr_assert_eq(fgw_member_get(&v, &got), 0);
	cr_expect_eq(got.kind, m.kind);
	cr_expect_eq(got.family, m.family);
	cr_expect_eq(got.port, m.port);
	cr_expect_eq(memcmp(got.addr, m.addr, 16), 0);
	cr_expect_eq(got.nonce, m.nonce);
	cr_expect_eq(memcmp(got.target, m.target, FGW_PK_SIZE), 0);
	cr_expect_eq(memcmp(got.requester, m.requester, FGW_PK_SIZE), 0);
}

Test(members, a_membership_datagram_of_the_wrong_shape_is_malformed)
{
	uint8_t pk[FGW_PK_SIZE], sk[FGW_SK_SIZE], buf[FGW_MAX_SIZE];
	struct fgw_member m = {.kind = FGW_PING};
	struct fgw_peer_key k = {.name = "a"};
	struct fgw_keyring kr;
	struct fgw_view v;
	size_t len;

	wire_keys(pk, sk, &kr, &k);
	len = fgw_member_write(buf, pk, 1, 1, &m, sk);
	cr_assert_eq(len, FGW_MEMBER_SIZE);
	/* each bad value, re-signed so that only the body is wrong */
	static const struct {
		size_t off;
		uint8_t val;
	} bad[] = {
	    {56, 0}, {56, 5}, /* kind */
	    {57, 5},          /* family */
	    {59, 1},          /* a port without a family */
	    {7, 1},           /* nrec */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint8_t c[FGW_MEMBER_SIZE];

		memcpy(c, buf, len);
		c[bad[i].off] = bad[i].val;
		crypto_sign_detached(c + len - FGW_SIG_SIZE, NULL, c,
		                     len - FGW_SIG_SIZE, sk);
		cr_expect_eq(fgw_open(c, len, &kr, &v), FGW_MALFORMED,
		             "case %zu", i);
	}
	/* IPv4 with bytes beyond the first four */
	m.family = 4;
	m.port = 1;
	m.addr[5] = 1;
	cr_expect_eq(fgw_member_write(buf, pk, 1, 1, &m, sk), 0);
	/* one byte longer or shorter, signed */
	m.addr[5] = 0;
	len = fgw_member_write(buf, pk, 1, 1, &m, sk);
	memmove(buf + len - FGW_SIG_SIZE + 1, buf + len - FGW_SIG_SIZE,
	        FGW_SIG_SIZE);
	buf[len - FGW_SIG_SIZE] = 0;
	crypto_sign_detached(buf + len + 1 - FGW_SIG_SIZE, NULL, buf,
	                     len + 1 - FGW_SIG_SIZE, sk);
	cr_expect_eq(fgw_open(buf, len + 1, &kr, &v), FGW_MALFORMED);
	crypto_sign_detached(buf + len - 1 - FGW_SIG_SIZE, NULL, buf,
	                     len - 1 - FGW_SIG_SIZE, sk);
	cr_expect_eq(fgw_open(buf, len - 1, &kr, &v), FGW_MALFORMED);
}

Test(members, consumption_datagrams_still_parse_and_have_no_member_body)
{
	uint8_t pk[FGW_PK_SIZE], sk[FGW_SK_SIZE];
	struct fgw_peer_key k = {.name = "a"};
	struct fgw_keyring kr;
	struct fgw_writer w;
	struct fgw_record rec;
	struct fgw_member m;
	struct fgw_view v;
	size_t len;

	wire_keys(pk, sk, &kr, &k);
	fgw_begin(&w, 1200, pk, 1, 1);
	cr_assert_eq(fgw_add(&w, "g", 1, "key", 3, 42), 0);
	len = fgw_finish(&w, sk);
	cr_assert_eq(fgw_open(w.buf, len, &kr, &v), FGW_OK);
	cr_expect_eq(v.type, FGW_TYPE_CONSUMPTION);
	cr_expect_eq(fgw_member_get(&v, &m), -1);
	cr_assert_eq(fgw_next(&v, &rec), 1);
	cr_expect_eq(rec.count, 42);
}

/* ------------------------------------------------------------ the config */

static int parse(const char *text, struct fgd_config *cfg, char *err)
{
	return fgd_config_parse(text, strlen(text), "t.conf", cfg, err, 256);
}

Test(members, fanout_is_all_or_1_to_64_and_unset_by_default)
{
	struct fgd_config cfg;
	char err[256];

	cr_assert_eq(parse("listen 127.0.0.1:1\n", &cfg, err), 0, "%s", err);
	cr_expect_eq(cfg.fanout, FGD_FANOUT_UNSET);
	fgd_config_free(&cfg);
	cr_assert_eq(parse("fanout all\n", &cfg, err), 0, "%s", err);
	cr_expect_eq(cfg.fanout, FGD_FANOUT_ALL);
	fgd_config_free(&cfg);
	cr_assert_eq(parse("fanout 64\n", &cfg, err), 0, "%s", err);
	cr_expect_eq(cfg.fanout, 64);
	fgd_config_free(&cfg);
	cr_expect_eq(parse("fanout 0\n", &cfg, err), -1);
	cr_expect(strstr(err, "t.conf:1: fanout '0'") != NULL, "%s", err);
	cr_expect_eq(parse("fanout 65\n", &cfg, err), -1);
	cr_expect_eq(parse("fanout some\n", &cfg, err), -1);
	cr_expect_eq(parse("fanout 2\nfanout 3\n", &cfg, err), -1, "once");
	cr_expect_eq(fgd_fanout_auto(8), 0, "up to 8 members: all");
	cr_expect_eq(fgd_fanout_auto(9), FGD_FANOUT_AUTO);
}

Test(members, announce_is_an_address_or_off)
{
	struct fgd_config cfg;
	char err[256];

	cr_assert_eq(parse("announce 10.0.0.7:7421\n", &cfg, err), 0, "%s",
	             err);
	cr_expect_eq(cfg.announce.ss.ss_family, AF_INET);
	cr_expect_eq(ntohs(((struct sockaddr_in *)&cfg.announce.ss)->sin_port),
	             7421);
	cr_expect_eq(cfg.announce_off, 0);
	fgd_config_free(&cfg);
	cr_assert_eq(parse("announce off\n", &cfg, err), 0, "%s", err);
	cr_expect_eq(cfg.announce_off, 1);
	cr_expect_eq(cfg.announce.len, 0);
	fgd_config_free(&cfg);
	cr_expect_eq(parse("announce nowhere:x\n", &cfg, err), -1);
	cr_expect(strstr(err, "announce 'nowhere:x'") != NULL, "%s", err);
}
