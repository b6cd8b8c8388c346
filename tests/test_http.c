/* SPDX-License-Identifier: ISC */
/*
 * test_http.c - floodgated's HTTP endpoint, end to end (tests/httpd.h):
 * what it answers, with which status, headers and body, to real clients
 * and to malformed requests.  Slow and many clients: test_http_slow.c.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>

#include "daemon/config.h"

#include "tests/httpd.h"
#include "tests/prom.h"

#define TIMEOUT_S 1 /* the daemon's HTTP deadline */
#define MAX_CONNS 4
#define HTTP_OPTS "timeout 1s connections 4 per-address 4"

static void start(const char *rules)
{
	start_on(NULL, HTTP_OPTS, rules);
}

#define RULES                                                                  \
	"rule api capacity 5 rate 5/1h default\n"                              \
	"rule small capacity 3 rate 3/1h\n"                                    \
	"rule login capacity 2 rate 2/1h\n"                                    \
	"rule dry capacity 1 rate 1/1h mode shadow\n"

TestSuite(http, .timeout = 60);

/* ----------------------------------------------------------- checks */

/* draft-ietf-httpapi-ratelimit-headers-10: the policy is the rule (q
 * tokens, refilled from empty in w seconds), the service limit what is
 * left (r) and when it next grows (t, seconds). */
Test(http, allowed_check_is_200_with_draft_ratelimit_fields_and_json_figures)
{
	struct resp r;

	start(RULES);
	post(&r, "/v1/allow?rule=api&key=alice");
	cr_assert_eq(r.status, 200, "%s", r.raw);
	/* 5 tokens, one every 720 s: empty to full in 3600 s */
	cr_expect_str_eq(header(&r, "RateLimit-Policy"), "\"api\";q=5;w=3600");
	/* 4 left, the fifth back in 720 s */
	cr_expect_str_eq(header(&r, "RateLimit"), "\"api\";r=4;t=720");
	/* the pre-07 names only with legacy-headers on */
	cr_expect_null(header(&r, "RateLimit-Limit"));
	cr_expect_null(header(&r, "RateLimit-Remaining"));
	cr_expect_null(header(&r, "RateLimit-Reset"));
	cr_expect_null(header(&r, "Retry-After"));
	cr_expect_str_eq(header(&r, "Content-Type"), "application/json");
	cr_expect_str_eq(header(&r, "Cache-Control"), "no-store");
	cr_expect_str_eq(r.body,
	                 "{\"allowed\":true,\"rule\":\"api\",\"key\":\"alice\","
	                 "\"cost\":1,\"limit\":5,\"remaining\":4,"
	                 "\"reset_ms\":720000,\"retry_after_ms\":0,"
	                 "\"shadow\":false,\"untracked\":false}\n");
	cr_expect_eq(left("api", "alice"), 4);
	stop();
}

Test(http, capacity_c_admits_exactly_c_then_429_with_retry_after)
{
	struct resp r;
	int i;

	start(RULES);
	for (i = 0; i < 3; i++) {
		char want[64];

		post(&r, "/v1/allow?rule=small&key=bob");
		cr_assert_eq(r.status, 200, "request %d: %s", i, r.raw);
		/* a token every 1200 s: the next one is at most 1200 s away
		 * (the clock moved a little since the last one) */
		snprintf(want, sizeof want, "\"small\";r=%d;t=1200", 2 - i);
		cr_expect_str_eq(header(&r, "RateLimit"), want);
	}
	for (i = 0; i < 2; i++) {
		post(&r, "/v1/allow?rule=small&key=bob");
		cr_assert_eq(r.status, 429, "%s", r.raw);
		/* a token every 1200 s; the wait is rounded up to seconds,
		 * and Retry-After is never before t */
		cr_expect_eq(header_num(&r, "Retry-After"), 1200);
		cr_expect_str_eq(header(&r, "RateLimit-Policy"),
		                 "\"small\";q=3;w=3600");
		cr_expect_str_eq(header(&r, "RateLimit"),
		                 "\"small\";r=0;t=1200");
		cr_expect_not_null(strstr(r.body, "\"allowed\":false"), "%s",
		                   r.body);
		cr_expect_not_null(strstr(r.body, "\"remaining\":0"));
	}
	/* another key has its own bucket */
	post(&r, "/v1/allow?rule=small&key=carol");
	cr_expect_eq(r.status, 200);
	stop();
}

Test(http, cost_takes_n_tokens_at_once)
{
	struct resp r;

	start(RULES);
	post(&r, "/v1/allow?rule=small&key=dan&cost=2");
	cr_assert_eq(r.status, 200, "%s", r.raw);
	cr_expect_str_eq(header(&r, "RateLimit"), "\"small\";r=1;t=1200");
	cr_expect_not_null(strstr(r.body, "\"cost\":2"));
	post(&r, "/v1/allow?rule=small&key=dan&cost=2");
	cr_assert_eq(r.status, 429, "%s", r.raw);
	cr_expect_eq(header_num(&r, "Retry-After"), 1200);
	post(&r, "/v1/allow?rule=small&key=dan&cost=1");
	cr_expect_eq(r.status, 200);
	cr_expect_eq(left("small", "dan"), 0);
	stop();
}

/* A shadow rule never denies: what it would have denied is a 200 that
 * says so. */
Test(http, shadow_rule_answers_200_and_flags_the_would_be_denial)
{
	struct resp r;

	start(RULES);
	post(&r, "/v1/allow?rule=dry&key=olga");
	cr_assert_eq(r.status, 200, "%s", r.raw);
	cr_expect_not_null(strstr(r.body, "\"shadow\":false"), "%s", r.body);
	post(&r, "/v1/allow?rule=dry&key=olga");
	cr_assert_eq(r.status, 200, "%s", r.raw);
	cr_expect_not_null(strstr(r.body, "\"allowed\":true"), "%s", r.body);
	cr_expect_not_null(strstr(r.body, "\"shadow\":true"), "%s", r.body);
	cr_expect_null(header(&r, "Retry-After"));
	cr_expect_str_eq(header(&r, "RateLimit"), "\"dry\";r=0;t=3600");
	stop();
}

Test(http, classic_check_maps_endpoint_to_rule_and_user_id_to_key)
{
	struct resp r;

	start(RULES);
	get(&r, "/check?user_id=erin&endpoint=login");
	cr_assert_eq(r.status, 200, "%s", r.raw);
	cr_expect_not_null(
	    strstr(r.body, "\"rule\":\"login\",\"key\":\"erin\""), "%s",
	    r.body);
	cr_expect_str_eq(header(&r, "RateLimit-Policy"),
	                 "\"login\";q=2;w=3600");
	get(&r, "/check?endpoint=login&user_id=erin");
	cr_assert_eq(r.status, 200);
	get(&r, "/check?user_id=erin&endpoint=login");
	cr_assert_eq(r.status, 429);
	cr_expect_eq(header_num(&r, "Retry-After"), 1800);
	/* the same bucket as rule=login, key=erin */
	post(&r, "/v1/allow?rule=login&key=erin");
	cr_expect_eq(r.status, 429);
	cr_expect_eq(left("login", "erin"), 0);
	/* an endpoint with no rule of its own falls to the default rule */
	get(&r, "/check?user_id=erin&endpoint=/some/page");
	cr_assert_eq(r.status, 200, "%s", r.raw);
	cr_expect_not_null(strstr(r.body, "\"rule\":\"api\""), "%s", r.body);
	cr_expect_str_eq(header(&r, "RateLimit"), "\"api\";r=4;t=720");
	cr_expect_eq(left("api", "erin"), 4);
	stop();
}

Test(http, every_bad_input_is_400_with_its_reason_and_consumes_nothing)
{
	static const struct {
		const char *path, *reason;
	} bad[] = {
	    {"/v1/allow?key=frank", "missing parameter: rule"},
	    {"/v1/allow?rule=small", "missing parameter: key"},
	    {"/v1/allow?rule=nosuch&key=frank", "no such rule"},
	    {"/v1/allow?rule=&key=frank", "no such rule"},
	    {"/v1/allow?rule=small&key=", "key is NULL or empty"},
	    {"/v1/allow?rule=small&key", "key is NULL or empty"},
	    {"/v1/allow?rule=small&key=%00x", "NUL byte: key"},
	    {"/v1/allow?rule=small&key=0123456789012345678901234567890123"
	     "4567890123456789012345678901234",
	     "longer than"},
	    {"/v1/allow?rule=small&key=frank&cost=0", "cost is 0"},
	    {"/v1/allow?rule=small&key=frank&cost=4", "above the rule"},
	    {"/v1/allow?rule=small&key=frank&cost=abc", "whole number"},
	    {"/v1/allow?rule=small&key=frank&cost=-1", "whole number"},
	    {"/v1/allow?rule=small&key=frank&cost=", "whole number"},
	    {"/v1/allow?rule=small&key=frank&cost=99999999999", "whole number"},
	    {"/v1/allow?rule=small&key=frank&key=george", "twice: key"},
	    {"/v1/allow?rule=small&rule=api&key=frank", "twice: rule"},
	    {"/check?endpoint=small", "missing parameter: user_id"},
	    {"/check?user_id=frank", "missing parameter: endpoint"},
	    {"/check?user_id=&endpoint=small", "key is NULL or empty"},
	};
	struct resp r;
	size_t i;

	start(RULES);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		http(&r, strncmp(bad[i].path, "/check", 6) ? "POST" : "GET",
		     bad[i].path);
		cr_expect_eq(r.status, 400, "%s: %s", bad[i].path, r.raw);
		cr_expect_str_eq(header(&r, "Content-Type"),
		                 "application/json");
		cr_expect_eq(strncmp(r.body, "{\"error\":\"", 10), 0, "%s",
		             r.body);
		cr_expect_not_null(strstr(r.body, bad[i].reason),
		                   "%s: want \"%s\" in %s", bad[i].path,
		                   bad[i].reason, r.body);
		cr_expect_null(header(&r, "RateLimit"), "%s", bad[i].path);
		cr_expect_null(header(&r, "RateLimit-Policy"), "%s",
		               bad[i].path);
	}
	cr_expect_eq(left("small", "frank"), 3);
	cr_expect_eq(left("small", "george"), 3);
	cr_expect_eq(left("api", "frank"), 5);
	stop();
}

Test(http, keys_are_escaped_in_json_and_invalid_utf8_replaced)
{
	struct resp r;

	start(RULES);
	/* q " \ U+0001 newline 0xff é */
	post(&r, "/v1/allow?rule=api&key=q%22%5C%01%0A%FF%C3%A9");
	cr_assert_eq(r.status, 200, "%s", r.raw);
	cr_expect_not_null(
	    strstr(r.body,
	           "\"key\":\"q\\\"\\\\\\u0001\\u000a\\ufffd\xc3\xa9\""),
	    "%s", r.body);
	/* the bucket is the key's exact bytes */
	cr_expect_eq(left("api", "q\"\\\x01\n\xff\xc3\xa9"), 4);
	stop();
}

/* ---------------------------------------------------- other paths */

Test(http, metrics_parse_and_follow_the_requests)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	const char *why;
	struct resp r;
	double allowed, denied;
	uint64_t t0;
	int u;

	start(RULES);
	post(&r, "/v1/allow?rule=login&key=hal");
	/* the per-rule figures are the daemon's last round's (node.h):
	 * at most one interval old */
	t0 = now_ms();
	do {
		get(&r, "/metrics");
		cr_assert_eq(r.status, 200, "%s", r.raw);
		if (prom_value(r.body, "floodgate_rule_allowed_tokens_total"
		                       "{rule=\"login\"}") == 1)
			break;
		usleep(10000);
	} while (now_ms() - t0 < 5000);
	cr_expect_str_eq(header(&r, "Content-Type"),
	                 "text/plain; version=0.0.4; charset=utf-8");
	why = prom_check(r.body);
	cr_assert_null(why, "%s", why);
	allowed = prom_value(r.body, "floodgate_rule_allowed_tokens_total"
	                             "{rule=\"login\"}");
	denied = prom_value(r.body, "floodgate_rule_denials_total"
	                            "{rule=\"login\"}");
	cr_expect_eq(allowed, 1);
	cr_expect_eq(denied, 0);
	cr_expect_geq(prom_value(r.body, "floodgate_gossip_rounds_total"), 0);

	post(&r, "/v1/allow?rule=login&key=hal");
	post(&r, "/v1/allow?rule=login&key=hal");
	cr_assert_eq(r.status, 429);
	post(&r, "/v1/allow?rule=login&key=ian");
	/* a datagram too short to be gossip: counted, by reason */
	a.sin_port = htons((uint16_t)D.gossip_port);
	u = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_eq(sendto(u, "junk", 4, 0, (struct sockaddr *)&a, sizeof a),
	             4);
	close(u);
	t0 = now_ms();
	do {
		get(&r, "/metrics");
		cr_assert_eq(r.status, 200);
		if (prom_value(r.body,
		               "floodgate_gossip_dropped_datagrams_total"
		               "{reason=\"truncated\"}") == 1 &&
		    prom_value(r.body, "floodgate_rule_keys{rule=\"login\"}") ==
		        2)
			break;
		usleep(10000);
	} while (now_ms() - t0 < 5000);
	why = prom_check(r.body);
	cr_assert_null(why, "%s", why);
	cr_expect_eq(prom_value(r.body, "floodgate_gossip_dropped_datagrams_"
	                                "total{reason=\"truncated\"}"),
	             1);
	cr_expect_eq(
	    prom_value(r.body, "floodgate_gossip_received_bytes_total"), 4);
	cr_expect_eq(prom_value(r.body, "floodgate_rule_allowed_tokens_total"
	                                "{rule=\"login\"}"),
	             allowed + 2);
	cr_expect_eq(prom_value(r.body, "floodgate_rule_denials_total"
	                                "{rule=\"login\"}"),
	             denied + 1);
	cr_expect_eq(prom_value(r.body, "floodgate_rule_keys{rule=\"login\"}"),
	             2);
	stop();
}

Test(http, healthz_is_ok_while_the_segment_is_linked)
{
	struct resp r;

	start(RULES);
	get(&r, "/healthz");
	cr_assert_eq(r.status, 200);
	cr_expect_str_eq(r.body, "ok\n");
	/* workers starting now would find no segment: unhealthy */
	cr_assert_eq(fg_unlink(D.seg), 0);
	get(&r, "/healthz");
	cr_expect_eq(r.status, 503, "%s", r.raw);
	cr_expect_not_null(strstr(r.body, "segment"));
	stop();
}

/* /v1/allow consumes: POST only (a GET must be safe).  /check consumes
 * too, yet stays GET, the seed API's method.  /metrics and /healthz are
 * read-only: GET and HEAD.  Anything else is 405 naming what is allowed,
 * and takes no token. */
Test(http, each_path_takes_its_methods_and_answers_405_with_allow_otherwise)
{
	static const struct {
		const char *path, *allow;
	} paths[] = {{"/v1/allow?rule=api&key=jim", "POST"},
	             {"/check?user_id=jim&endpoint=api", "GET"},
	             {"/metrics", "GET, HEAD"},
	             {"/healthz", "GET, HEAD"}};
	static const char *const methods[] = {
	    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"};
	struct resp r;
	size_t i, j;

	start(RULES);
	get(&r, "/nope");
	cr_expect_eq(r.status, 404);
	post(&r, "/v1/allow/extra?rule=api&key=x");
	cr_expect_eq(r.status, 404);
	get(&r, "/");
	cr_expect_eq(r.status, 404);
	for (i = 0; i < sizeof paths / sizeof paths[0]; i++)
		for (j = 0; j < sizeof methods / sizeof methods[0]; j++) {
			int ok = strstr(paths[i].allow, methods[j]) != NULL;

			if (ok && strcmp(methods[j], "HEAD") != 0)
				continue; /* would consume: the tests above */
			http(&r, methods[j], paths[i].path);
			if (ok) {
				cr_expect_eq(r.status, 200, "HEAD %s: %s",
				             paths[i].path, r.raw);
				continue;
			}
			cr_expect_eq(r.status, 405, "%s %s: %s", methods[j],
			             paths[i].path, r.raw);
			cr_expect_str_eq(header(&r, "Allow"), paths[i].allow,
			                 "%s %s", methods[j], paths[i].path);
		}
	/* none of them took a token */
	cr_expect_eq(left("api", "jim"), 5);
	stop();
}

/* legacy-headers on: the names of the drafts before -07 as well, for
 * clients that still read them. */
Test(http, legacy_headers_on_adds_the_pre_07_names_beside_the_draft_fields)
{
	struct resp r;

	start_on(NULL, HTTP_OPTS " legacy-headers on", RULES);
	post(&r, "/v1/allow?rule=api&key=pat");
	cr_assert_eq(r.status, 200, "%s", r.raw);
	cr_expect_str_eq(header(&r, "RateLimit"), "\"api\";r=4;t=720");
	cr_expect_eq(header_num(&r, "RateLimit-Limit"), 5);
	cr_expect_eq(header_num(&r, "RateLimit-Remaining"), 4);
	/* one token back every 720 s: full again in 720 s */
	cr_expect_eq(header_num(&r, "RateLimit-Reset"), 720);
	post(&r, "/v1/allow?rule=login&key=pat&cost=2");
	post(&r, "/v1/allow?rule=login&key=pat");
	cr_assert_eq(r.status, 429, "%s", r.raw);
	cr_expect_str_eq(header(&r, "RateLimit"), "\"login\";r=0;t=1800");
	cr_expect_eq(header_num(&r, "RateLimit-Remaining"), 0);
	cr_expect_eq(header_num(&r, "RateLimit-Reset"), 3600);
	cr_expect_eq(header_num(&r, "Retry-After"), 1800);
	stop();
}

/* The endpoint is set up at start: a reload applies the new rules and
 * says that the http line waits for a restart; the old port serves on. */
Test(http, reload_keeps_the_endpoint_and_warns_that_http_waits_for_restart)
{
	char path[128], log[8192] = "";
	struct resp r;
	uint64_t t0;
	FILE *f;

	start(RULES);
	write_conf(HTTP_OPTS, "rule small capacity 7 rate 7/1h\n",
	           D.http_port + 1);
	cr_assert_eq(kill(D.pid, SIGHUP), 0);
	t0 = now_ms();
	do {
		post(&r, "/v1/allow?rule=small&key=lee");
		if (r.status == 200 && header(&r, "RateLimit-Policy") &&
		    strstr(header(&r, "RateLimit-Policy"), ";q=7;"))
			break;
		usleep(20000);
	} while (now_ms() - t0 < 5000);
	cr_assert_eq(r.status, 200, "%s", r.raw);
	cr_expect_str_eq(header(&r, "RateLimit-Policy"),
	                 "\"small\";q=7;w=3600");
	post(&r, "/v1/allow?rule=api&key=lee");
	cr_expect_eq(r.status, 400, "a withdrawn rule still answers");
	snprintf(path, sizeof path, "%s/fg.log", D.dir);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	log[fread(log, 1, sizeof log - 1, f)] = '\0';
	fclose(f);
	cr_expect_not_null(strstr(log, "http takes effect at restart only"),
	                   "%s", log);
	stop();
}

/* ------------------------------------------------ hostile clients */

/* Send @len bytes (the server may close before it has read them all),
 * then read its answer until it closes: the status, 0 if none. */
static int raw_exchange(const char *req, size_t len, char *ans, size_t cap)
{
	int fd = tcp_connect(), status = 0;
	size_t off = 0, got = 0;
	struct pollfd p = {.fd = fd, .events = POLLIN};

	while (off < len) {
		ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);

		if (n <= 0)
			break;
		off += (size_t)n;
	}
	while (got < cap - 1 && poll(&p, 1, 5000) == 1) {
		ssize_t n = recv(fd, ans + got, cap - 1 - got, 0);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	ans[got] = '\0';
	close(fd);
	if (sscanf(ans, "HTTP/1.%*d %d", &status) != 1)
		status = 0;
	return status;
}

static void still_serves(void)
{
	struct resp r;

	post(&r, "/v1/allow?rule=api&key=after");
	cr_expect_eq(r.status, 200, "the daemon no longer serves: %s", r.raw);
}

/* One connection serves many checks: a service asking per request must
 * not pay a TCP handshake each time. */
Test(http, connections_are_kept_alive_across_requests)
{
	char args[512], out[256];

	start(RULES);
	/* two checks, then --next (curl's options anew, the connection
	 * kept) a GET of /metrics */
	snprintf(args, sizeof args,
	         "-o /dev/null -o /dev/null -X POST "
	         "-w '%%{http_code} %%{num_connects}\\n' "
	         "'http://127.0.0.1:%d/v1/allow?rule=api&key=max' "
	         "'http://127.0.0.1:%d/v1/allow?rule=api&key=max' --next "
	         "-o /dev/null -w '%%{http_code} %%{num_connects}\\n' "
	         "'http://127.0.0.1:%d/metrics'",
	         D.http_port, D.http_port, D.http_port);
	curl(args, out, sizeof out);
	cr_expect_str_eq(out, "200 1\n200 0\n200 0\n");
	cr_expect_eq(left("api", "max"), 3);
	stop();
}

/* Parameters go in the query string: no body is ever read. */
Test(http, a_request_with_a_body_is_refused_with_413_and_consumes_nothing)
{
	static const struct {
		const char *opts, *path;
	} reqs[] = {{"-X POST --data-binary 'rule=api&key=ned'",
	             "/v1/allow?rule=api&key=ned"},
	            {"-X GET --data-binary 'some body'",
	             "/check?user_id=ned&endpoint=api"},
	            {"-X POST -H 'Transfer-Encoding: chunked' --data-binary x",
	             "/v1/allow?rule=api&key=ned"}};
	char args[512], out[64];
	size_t i;

	start(RULES);
	for (i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
		snprintf(args, sizeof args,
		         "-o /dev/null -w '%%{http_code}' %s "
		         "'http://127.0.0.1:%d%s'",
		         reqs[i].opts, D.http_port, reqs[i].path);
		curl(args, out, sizeof out);
		cr_expect_str_eq(out, "413", "%s", args);
	}
	cr_expect_eq(left("api", "ned"), 5);
	still_serves();
	stop();
}

/* HEAD is GET without the body: the same status and headers, the length
 * of the body GET would send, and not a byte of it. */
Test(http, head_of_metrics_and_healthz_is_their_get_without_a_body)
{
	static const char *const paths[] = {"/healthz", "/metrics"};
	char req[256], ans[65536];
	size_t i;

	start(RULES);
	for (i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		const char *end, *cl;
		int st;

		snprintf(req, sizeof req,
		         "HEAD %s HTTP/1.1\r\nHost: x\r\n"
		         "Connection: close\r\n\r\n",
		         paths[i]);
		st = raw_exchange(req, strlen(req), ans, sizeof ans);
		cr_expect_eq(st, 200, "HEAD %s: %s", paths[i], ans);
		end = strstr(ans, "\r\n\r\n");
		cr_assert_not_null(end, "%s", ans);
		cr_expect_str_eq(end + 4, "", "HEAD %s sent a body", paths[i]);
		cl = strcasestr(ans, "\r\nContent-Length: ");
		cr_assert_not_null(cl, "%s", ans);
		cr_expect_gt(strtol(cl + 18, NULL, 10), 0, "%s", ans);
		if (i == 0)
			cr_expect_eq(strtol(cl + 18, NULL, 10), 3); /* "ok\n" */
		cr_expect_not_null(
		    strcasestr(ans, "\r\nContent-Type: text/plain"), "%s", ans);
	}
	stop();
}

Test(http, oversized_header_or_url_is_refused_and_the_daemon_serves_on)
{
	size_t big = 100 * 1024;
	char *req = malloc(big + 256), ans[4096];
	int st;

	cr_assert_not_null(req);
	start(RULES);
	/* a 100 KB header line */
	strcpy(req, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(req + strlen(req), 'a', big);
	strcpy(req + strlen("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ") +
	           big,
	       "\r\n\r\n");
	st = raw_exchange(req, strlen(req), ans, sizeof ans);
	cr_expect(st == 0 || (st >= 400 && st < 500),
	          "100 KB header answered %d", st);
	cr_log_info("100 KB header: %d", st);
	/* a 100 KB URL */
	strcpy(req, "GET /v1/allow?rule=api&key=");
	memset(req + strlen(req), 'k', big);
	strcpy(req + strlen("GET /v1/allow?rule=api&key=") + big,
	       " HTTP/1.1\r\nHost: x\r\n\r\n");
	st = raw_exchange(req, strlen(req), ans, sizeof ans);
	cr_expect(st == 0 || (st >= 400 && st < 500), "100 KB URL answered %d",
	          st);
	cr_log_info("100 KB URL: %d", st);
	free(req);
	still_serves();
	stop();
}

Test(http, garbage_request_lines_are_refused_and_the_daemon_serves_on)
{
	static const char *const junk[] = {
	    "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
	    "GET\r\n\r\n",
	    "GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n",
	    "GET /healthz HTTP/1.1\r\nBad Header Line\r\n\r\n",
	    "\r\n\r\n\r\n\r\n",
	    "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
	};
	char ans[4096];
	size_t i;
	int st;

	start(RULES);
	for (i = 0; i < sizeof junk / sizeof junk[0]; i++) {
		st = raw_exchange(junk[i], strlen(junk[i]), ans, sizeof ans);
		cr_expect(st == 0 || (st >= 400 && st < 600 && st != 429),
		          "junk %zu answered %d: %s", i, st, ans);
		cr_log_info("junk %zu: %d", i, st);
	}
	still_serves();
	stop();
}

Test(http, idle_connection_is_closed_after_the_timeout_while_others_are_served)
{
	char buf[256];
	struct pollfd p;
	uint64_t t0, waited;
	ssize_t n;
	int fd;

	start(RULES);
	fd = tcp_connect();
	cr_assert_eq(send(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n", 32, 0),
	             32);
	t0 = now_ms();
	/* one thread, yet the dribbler blocks nobody */
	still_serves();
	p.fd = fd;
	p.events = POLLIN;
	cr_assert_eq(poll(&p, 1, (TIMEOUT_S + 4) * 1000), 1,
	             "idle connection still open after %d s", TIMEOUT_S + 4);
	waited = now_ms() - t0;
	n = recv(fd, buf, sizeof buf, 0);
	cr_expect_leq(n, 0, "the idle connection got an answer");
	cr_log_info("idle connection closed after %llu ms",
	            (unsigned long long)waited);
	cr_expect_geq(waited, TIMEOUT_S * 1000 / 2, "closed after %llu ms",
	              (unsigned long long)waited);
	close(fd);
	still_serves();
	stop();
}

/* With every place taken, a newcomer does not wait in the kernel's listen
 * queue behind connections that sit on theirs: it takes the place of the
 * oldest connection of the address holding the most, which is closed,
 * and is answered at once.  An address with fewer keeps its own, older
 * though it is. */
Test(http, a_newcomer_beyond_the_limit_takes_the_place_of_the_biggest_holder)
{
	static const char *const from[MAX_CONNS] = {"127.0.0.3", "127.0.0.2",
	                                            "127.0.0.2", "127.0.0.2"};
	struct resp r;
	uint64_t t0, waited;
	int fds[MAX_CONNS], i;

	start(RULES);
	for (i = 0; i < MAX_CONNS; i++) {
		/* not 127.0.0.1: curl's address keeps its own room */
		fds[i] = tcp_connect_from(from[i]);
		cr_assert_geq(fds[i], 0, "connect: %s", strerror(errno));
		cr_assert_eq(send(fds[i], "GET /", 5, 0), 5);
		usleep(20000); /* so that they have an order */
	}
	t0 = now_ms();
	post(&r, "/v1/allow?rule=api&key=kim");
	waited = now_ms() - t0;
	cr_log_info("over the limit: answered after %llu ms",
	            (unsigned long long)waited);
	cr_expect_eq(r.status, 200, "%s", r.raw);
	cr_expect_lt(waited, TIMEOUT_S * 1000 / 2,
	             "answered after %llu ms, beside %d open connections",
	             (unsigned long long)waited, MAX_CONNS);
	/* 127.0.0.2 held three: its oldest went */
	cr_expect(closed_within(fds[1], 1000), "the oldest of 127.0.0.2 kept");
	cr_expect(!closed_within(fds[0], 0), "127.0.0.3's only one closed");
	for (i = 2; i < MAX_CONNS; i++)
		cr_expect(!closed_within(fds[i], 0), "connection %d closed", i);
	for (i = 0; i < MAX_CONNS; i++)
		close(fds[i]);
	stop();
}

/* ------------------------------------------------------------ config */

static const char *parse(const char *text, struct fgd_config *cfg)
{
	static char err[512];

	if (fgd_config_parse(text, strlen(text), "t.conf", cfg, err,
	                     sizeof err) == 0)
		return NULL;
	return err;
}

Test(http_config, http_is_off_by_default_and_a_bare_port_is_loopback)
{
	struct fgd_config c;
	struct sockaddr_in *sin = (struct sockaddr_in *)&c.http.addr.ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&c.http.addr.ss;

	cr_assert_null(parse("rule a capacity 1 rate 1/1s\n", &c));
	cr_expect_eq(c.http.addr.len, 0);
	fgd_config_free(&c);

	cr_assert_null(parse("http 8080\n", &c));
	cr_expect_eq(sin->sin_family, AF_INET);
	cr_expect_eq(sin->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	cr_expect_eq(ntohs(sin->sin_port), 8080);
	cr_expect_eq(c.http.timeout_ms, FGD_HTTP_TIMEOUT_MS);
	cr_expect_eq(c.http.connections, FGD_HTTP_CONNECTIONS);
	/* one address may take a quarter of the connections */
	cr_expect_eq(c.http.per_address, 16);
	cr_expect_eq(c.http.legacy_headers, 0);
	fgd_config_free(&c);

	cr_assert_null(
	    parse("http [::1]:9090 connections 9 timeout 1500ms\n", &c));
	cr_expect_eq(sin6->sin6_family, AF_INET6);
	cr_expect_eq(ntohs(sin6->sin6_port), 9090);
	cr_expect_eq(c.http.connections, 9);
	cr_expect_eq(c.http.timeout_ms, 1500);
	cr_expect_eq(c.http.per_address, 2);
	fgd_config_free(&c);

	cr_assert_null(parse("http 8080 per-address 3 connections 3 "
	                     "legacy-headers on\n",
	                     &c));
	cr_expect_eq(c.http.per_address, 3);
	cr_expect_eq(c.http.connections, 3);
	cr_expect_eq(c.http.legacy_headers, 1);
	fgd_config_free(&c);

	cr_assert_null(parse("http 8080 connections 2\n", &c));
	cr_expect_eq(c.http.per_address, 1);
	fgd_config_free(&c);

	cr_assert_null(parse("http off\n", &c));
	cr_expect_eq(c.http.addr.len, 0);
	fgd_config_free(&c);
}

Test(http_config, bad_http_directives_are_refused_with_file_and_line)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
	    {"http\n", "t.conf:1: http needs [ADDR:]PORT"},
	    {"\nhttp 127.0.0.1\n", "t.conf:2: http '127.0.0.1': needs a port"},
	    {"http [::1]\n", "needs a port"},
	    {"http 99999\n", "port must be"},
	    {"http 0\n", "port must be"},
	    {"http localhost:80\n", "not a numeric IPv4"},
	    {"http 8080 timeout\n", "'timeout' needs a value"},
	    {"http 8080 timeout 0s\n", "from 1s to 1h"},
	    {"http 8080 timeout 500ms\n", "from 1s to 1h"},
	    {"http 8080 timeout 2h\n", "from 1s to 1h"},
	    {"http 8080 timeout 10\n", "from 1s to 1h"},
	    {"http 8080 connections 0\n", "from 1 to 1024"},
	    {"http 8080 connections 1025\n", "from 1 to 1024"},
	    {"http 8080 connections 1 connections 2\n", "given twice"},
	    {"http 8080 threads 4\n",
	     "unknown keyword 'threads' (timeout, connections, per-address, "
	     "legacy-headers)"},
	    {"http 8080 per-address 0\n", "from 1 to 1024"},
	    {"http 8080 per-address x\n", "from 1 to 1024"},
	    {"http 8080 per-address 65\n",
	     "per-address 65 is above connections 64"},
	    {"http 8080 connections 8 per-address 9\n",
	     "per-address 9 is above connections 8"},
	    {"http 8080 per-address 2 per-address 2\n", "given twice"},
	    {"http 8080 legacy-headers\n", "'legacy-headers' needs a value"},
	    {"http 8080 legacy-headers yes\n", "must be on or off"},
	    {"http off timeout 1s\n", "takes nothing more"},
	    {"http 8080\nhttp 8081\n", "t.conf:2: 'http' given twice"},
	};
	struct fgd_config c;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *err = parse(bad[i].text, &c);

		cr_expect_not_null(err, "accepted: %s", bad[i].text);
		if (err)
			cr_expect_not_null(strstr(err, bad[i].why),
			                   "%s: want \"%s\", got \"%s\"",
			                   bad[i].text, bad[i].why, err);
	}
}
