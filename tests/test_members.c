/* SPDX-License-Identifier: ISC */
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
#include "tests/sim.h"

TestSuite(members, .fini = sim_down, .timeout = 120);

/* ------------------------------------------------------- dissemination */

Test(members, consumption_reaches_every_node_with_fanout_below_n)
{
	uint64_t relayed;
	int r, i;

	sim_up(16);
	net_mesh(3);
	for (r = 0; r < 3; r++) /* addresses and liveness settle */
		round_all();
	cr_assert_eq(fg_allow(S.fg[0], "g", "k", 5, NULL), 1);
	S.sent_cons[0] = 0;
	fgd_node_harvest(&S.node[0], S.now);
	S.now += IV_MS;
	cr_assert_eq(fgd_node_tick(&S.node[0], S.now), 1);
	cr_expect_leq(S.sent_cons[0], 6,
	              "one datagram to its children in two trees of 3");
	deliver_all();
	cr_assert(all_left("k", CAP - 5), "everywhere in the round it went");
	for (relayed = 0, i = 1; i < S.n; i++) {
		cr_expect_leq(S.node[i].ctr.relayed, 2 * 3,
		              "node %d forwarded a lot", i);
		relayed += S.node[i].ctr.relayed;
	}
	cr_expect_gt(relayed, 0, "nobody forwarded");
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
	for (r = 0; r < 3 * (int)FGD_HEARTBEAT_EVERY &&
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
	     r < 3 * (int)FGD_HEARTBEAT_EVERY && !all_left("t", CAP - 30); r++)
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
	for (r = 1; r <= (int)FGD_DEAD_ROUNDS + 20 && dead_at < 0; r++) {
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
	/* silence decides, a failed probe confirms: suspect once a probe
	 * fails after FGD_SUSPECT_ROUNDS without a word (a probe cycle is
	 * 4 rounds here, and takes 2.5 to fail), dead after FGD_DEAD_ROUNDS */
	cr_expect_geq(suspect_at, (int)FGD_SUSPECT_ROUNDS,
	              "suspect after %d rounds", suspect_at);
	cr_expect_leq(suspect_at, (int)FGD_SUSPECT_ROUNDS + 4 + 3 + 1,
	              "suspect after %d rounds", suspect_at);
	cr_expect_geq(dead_at, (int)FGD_DEAD_ROUNDS);
	cr_expect_leq(dead_at, (int)FGD_DEAD_ROUNDS + 1);
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
	for (r = 0; r < (int)FGD_DEAD_ROUNDS + 2; r++)
		round_all();
	cr_assert_eq(state_of(0, 3), FGD_PEER_DEAD);
	S.down[3] = 0;
	/* it talks: its round goes to every member */
	cr_assert_eq(fg_allow(S.fg[3], "g", "back", 1, NULL), 1);
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
	/* with the helpers cut too, it is suspect once silent long enough */
	for (i = 1; i < 4; i++)
		S.cut[i][4] = S.cut[4][i] = 1;
	for (r = 0; r < (int)FGD_SUSPECT_ROUNDS + 12 &&
	            state_of(0, 4) == FGD_PEER_ALIVE;
	     r++)
		round_all();
	cr_expect_eq(state_of(0, 4), FGD_PEER_SUSPECT);
	cr_expect_geq(r, (int)FGD_SUSPECT_ROUNDS - 4, "not before: %d", r);
}

/* ------------------------------------------------------------ discovery */

static int knows_all(int i)
{
	int j;

	for (j = 0; j < S.n; j++)
		if (j != i && S.node[i].members.mem[j].addr.len == 0)
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
	for (r = 0; r < 4 * (int)FGD_HEARTBEAT_EVERY && !all; r++) {
		round_all();
		for (all = 1, i = 0; i < S.n; i++)
			all &= knows_all(i);
	}
	cr_assert(all, "not everyone knows everyone after %d rounds", r);
	cr_log_info("8 nodes, one seed each: all addresses after %d rounds", r);
	/* and consumption flows between nodes never configured together */
	cr_assert_eq(fg_allow(S.fg[7], "g", "d", 9, NULL), 1);
	for (r = 0; r < 2 * (int)FGD_HEARTBEAT_EVERY && !all_left("d", CAP - 9);
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

	sim_start(3, 0);
	before = S.node[0].members.mem[2].addr;
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
	cr_expect_eq(
	    memcmp(&S.node[0].members.mem[2].addr, &before, sizeof before), 0,
	    "the address of 2 did not move");
	/* 2's own and newer: taken */
	len = fgw_member_write(buf, S.keys[2].pk, 8, 1, &m, S.sk[2]);
	cr_assert_eq(
	    fgd_node_receive_from(&S.node[0], buf, len, &S.addr[1], S.now),
	    FGW_OK);
	cr_expect_eq(
	    ntohs(((struct sockaddr_in *)&S.node[0].members.mem[2].addr.ss)
	              ->sin_port),
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
	cr_expect_eq(got.digest_inc, 0);
	cr_expect_eq(got.digest_have, 0);

	/* the two kinds that carry a digest */
	static const uint8_t digest_kinds[] = {FGW_PING, FGW_SYNC};
	for (size_t i = 0; i < sizeof digest_kinds; i++) {
		m.kind = digest_kinds[i];
		m.family = 4;
		memset(m.addr, 0, 16);
		memcpy(m.addr, "\x0a\x00\x00\x07", 4);
		memset(m.requester, 0, FGW_PK_SIZE);
		m.digest_inc = 0x1112131415161718ull + i;
		m.digest_have = UINT64_MAX - i;
		cr_assert_eq(fgw_member_write(buf, pk, 3, 5 + i, &m, sk),
		             FGW_MEMBER_SIZE, "kind %u", m.kind);
		cr_assert_eq(fgw_open(buf, FGW_MEMBER_SIZE, &kr, &v), FGW_OK);
		cr_expect_eq(v.flags, 0);
		cr_assert_eq(fgw_member_get(&v, &got), 0);
		cr_expect_eq(got.kind, m.kind);
		cr_expect_eq(got.family, 4);
		cr_expect_eq(got.port, m.port);
		cr_expect_eq(memcmp(got.addr, m.addr, 16), 0);
		cr_expect_eq(got.nonce, m.nonce);
		cr_expect_eq(memcmp(got.target, m.target, FGW_PK_SIZE), 0);
		cr_expect_eq(memcmp(got.requester, m.requester, FGW_PK_SIZE),
		             0);
		cr_expect_eq(got.digest_inc, m.digest_inc, "kind %u", m.kind);
		cr_expect_eq(got.digest_have, m.digest_have, "kind %u", m.kind);
	}
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
	    {56, 0}, {56, 6}, {56, 0xff}, /* kind */
	    {57, 5},                      /* family */
	    {59, 1},                      /* a port without a family */
	    {7, 1},                       /* nrec */
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
	/* a digest in a kind other than ping or sync, written or received;
	 * digest_inc's first byte and digest_have's last on the wire */
	static const size_t digest_off[] = {56 + 92, 56 + 107};
	for (uint8_t kind = FGW_PING; kind <= FGW_SYNC; kind++) {
		int carries = kind == FGW_PING || kind == FGW_SYNC;
		uint8_t c[FGW_MEMBER_SIZE];

		m.kind = kind;
		m.digest_inc = 1;
		cr_expect_eq(fgw_member_write(c, pk, 1, 1, &m, sk),
		             carries ? FGW_MEMBER_SIZE : 0,
		             "kind %u, digest_inc", kind);
		m.digest_inc = 0;
		m.digest_have = 1;
		cr_expect_eq(fgw_member_write(c, pk, 1, 1, &m, sk),
		             carries ? FGW_MEMBER_SIZE : 0,
		             "kind %u, digest_have", kind);
		m.digest_have = 0;
		for (size_t j = 0; j < sizeof digest_off / sizeof digest_off[0];
		     j++) {
			cr_assert_eq(fgw_member_write(c, pk, 1, 1, &m, sk),
			             FGW_MEMBER_SIZE);
			c[digest_off[j]] = 1;
			crypto_sign_detached(
			    c + FGW_MEMBER_SIZE - FGW_SIG_SIZE, NULL, c,
			    FGW_MEMBER_SIZE - FGW_SIG_SIZE, sk);
			cr_expect_eq(fgw_open(c, FGW_MEMBER_SIZE, &kr, &v),
			             carries ? FGW_OK : FGW_MALFORMED,
			             "kind %u, byte %zu", kind, digest_off[j]);
		}
	}
	m.kind = FGW_PING;
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
	cr_assert_eq(fgw_add(&w, "g", 1, "key", 3, 42, 0), 0);
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
