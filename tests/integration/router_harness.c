/* Integration test of mcpgate-router alone: this program plays the supervisor (HELLO, READY,
 * LINK) and auth (frames with principals and sessions), runs two copies of a small stdio MCP
 * server (tests/fixtures/echo_upstream.c) as upstreams "alpha" (namespace a) and "beta"
 * (namespace b), and checks what a client would see through the router.
 * Usage: router-harness <mcpgate-router> <echo-upstream> <source root> */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "datapath.h"
#include "frame.h"

#define WAIT_MS 5000
#define QUEUE_MAX 512

static const char *router_path, *upstream_path, *source_root;
static int control_fd = -1, auth_fd = -1;
static pid_t router_pid, upstream_pids[3];
static char log_path[128];
static int failures;
static uint32_t next_stream = 1;

#define CHECK(cond, ...) check_((cond), __LINE__, __VA_ARGS__)

static void check_(bool ok, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void check_(bool ok, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("%s ", ok ? "ok" : "FAIL");
	vprintf(fmt, ap);
	printf(ok ? "\n" : " (line %d)\n", line);
	va_end(ap);
	fflush(stdout);
	failures += !ok;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- processes ---- */

static char *read_file(const char *dir, const char *name)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "cannot read %s: %s\n", path, strerror(errno));
		exit(2);
	}
	static char buf[1 << 16];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strdup(buf);
}

static pid_t start_upstream(const char *name, int fd)
{
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		for (int i = 3; i < 64; i++)
			close(i);
		execl(upstream_path, upstream_path, "--name", name, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void show_router_log(void)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "tail -n 60 %s", log_path);
	printf("---- router log (last lines) ----\n");
	fflush(stdout);
	if (system(cmd) != 0)
		printf("(no log)\n");
}

/* The router's fate, when it died: SIGSYS means the seccomp policy refused a syscall. */
static bool router_died(void)
{
	int status;
	if (waitpid(router_pid, &status, WNOHANG) != router_pid)
		return false;
	if (WIFSIGNALED(status))
		printf("FAIL router killed by signal %d%s\n", WTERMSIG(status),
		       WTERMSIG(status) == SIGSYS ? " (SIGSYS: a syscall outside router.policy; the "
		       "log names it when sandbox debug is on)" : "");
	else
		printf("FAIL router exited with status %d\n", WEXITSTATUS(status));
	failures++;
	show_router_log();
	return true;
}

static void start_router(int auth_end, int alpha_end, int beta_end, int control_end)
{
	snprintf(log_path, sizeof log_path, "/tmp/router-harness-%d.log", (int)getpid());
	router_pid = fork();
	if (router_pid == 0) {
		int logfd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (logfd >= 0)
			dup2(logfd, 2);
		/* Move everything out of the way, then place the fds the HELLO names. */
		int c = fcntl(control_end, F_DUPFD, 100), a = fcntl(auth_end, F_DUPFD, 100);
		int u1 = fcntl(alpha_end, F_DUPFD, 100), u2 = fcntl(beta_end, F_DUPFD, 100);
		dup2(c, 3);
		dup2(a, 4);
		dup2(u1, 5);
		dup2(u2, 6);
		for (int i = 7; i < 200; i++)
			close(i);
		/* LeakSanitizer cannot run inside the sandbox (policy/groups.policy, sanitizer). */
		char asan[512];
		const char *old = getenv("ASAN_OPTIONS");
		snprintf(asan, sizeof asan, "%s%sdetect_leaks=0", old ? old : "", old && *old ? ":" : "");
		setenv("ASAN_OPTIONS", asan, 1);
		execl(router_path, router_path, (char *)NULL);
		_exit(127);
	}
}

static void send_hello(void)
{
	char *groups = read_file(source_root, "policy/groups.policy");
	char *policy = read_file(source_root, "policy/router.policy");
	const char *debug = getenv("ROUTER_SANDBOX_DEBUG");
	json_t *hello = json_pack(
		"{s:s, s:s, s:i, s:{s:[{s:s, s:s, s:i}, {s:s, s:s, s:i}], s:{s:s}},"
		" s:{s:i, s:i, s:i}, s:{s:s, s:s, s:b, s:b, s:[]}}",
		"name", "router", "role", "router", "instance", 0,
		"config", "servers", "name", "alpha", "namespace", "a", "timeout_ms", 4000,
		"name", "beta", "namespace", "b", "timeout_ms", 1500,
		"log", "level", "debug",
		"fds", "auth", 4, "upstream:alpha", 5, "upstream:beta", 6,
		"sandbox", "groups", groups, "policy", policy, "switch_user", 0,
		"debug", !debug || strcmp(debug, "0") != 0, "fs_read");
	char *text = json_dumps(hello, JSON_COMPACT);
	if (!text || channel_write_frame_blocking(control_fd, FRAME_HELLO, 0, NULL, 0, text, strlen(text)) != 0) {
		fprintf(stderr, "HELLO not sent\n");
		exit(2);
	}
	free(text);
	json_decref(hello);
	free(groups);
	free(policy);
}

/* A LINK frame carrying an fd, as the supervisor sends when a peer restarts. */
static int send_link(const char *name, int fd)
{
	char meta[128];
	int mlen = snprintf(meta, sizeof meta, "{\"link\":\"%s\"}", name);
	struct frame f = { .type = FRAME_LINK, .meta_len = (uint32_t)mlen, .body_len = 0 };
	uint8_t hdr[FRAME_HEADER_SIZE];
	if (frame_encode_header(&f, hdr) != 0)
		return -1;
	struct iovec iov[2] = { { hdr, sizeof hdr }, { meta, (size_t)mlen } };
	union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } ctl;
	memset(&ctl, 0, sizeof ctl);
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2, .msg_control = ctl.buf,
	                      .msg_controllen = sizeof ctl.buf };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof fd);
	return sendmsg(control_fd, &msg, MSG_NOSIGNAL) == (ssize_t)(sizeof hdr + (size_t)mlen) ? 0 : -1;
}

/* ---- frames on the auth link ---- */

struct got {
	uint8_t type;
	uint16_t flags;
	uint32_t stream;
	json_t *meta;
	json_t *body; /* NULL for an empty body */
};

static struct got queue[QUEUE_MAX];
static size_t queued;

static int read_exact(int fd, uint8_t *buf, size_t len, long long deadline)
{
	size_t got = 0;
	while (got < len) {
		long long left = deadline - now_ms();
		if (left <= 0)
			return -1;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		ssize_t n = read(fd, buf + got, len - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

static int read_frame(struct got *out, long long deadline)
{
	static uint8_t buf[FRAME_HEADER_SIZE + FRAME_MAX_PAYLOAD];
	size_t size;
	if (read_exact(auth_fd, buf, FRAME_HEADER_SIZE, deadline) != 0 ||
	    frame_check_header(buf, FRAME_HEADER_SIZE, &size) != FRAME_OK ||
	    read_exact(auth_fd, buf + FRAME_HEADER_SIZE, size - FRAME_HEADER_SIZE, deadline) != 0)
		return -1;
	struct frame f;
	size_t used;
	if (frame_decode(buf, size, &f, &used) != FRAME_OK)
		return -1;
	out->type = f.type;
	out->flags = f.flags;
	out->stream = f.stream_id;
	out->meta = f.meta_len ? json_loadb((const char *)f.meta, f.meta_len, 0, NULL) : NULL;
	out->body = f.body_len ? json_loadb((const char *)f.body, f.body_len, 0, NULL) : NULL;
	return 0;
}

static void got_free(struct got *g)
{
	json_decref(g->meta);
	json_decref(g->body);
	memset(g, 0, sizeof *g);
}

/* The next frame for `stream`; others are queued for their own await. */
static bool await(uint32_t stream, struct got *out, int wait_ms)
{
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < queued; i++) {
		if (queue[i].stream == stream) {
			*out = queue[i];
			memmove(&queue[i], &queue[i + 1], (queued - i - 1) * sizeof queue[0]);
			queued--;
			return true;
		}
	}
	long long deadline = now_ms() + wait_ms;
	for (;;) {
		struct got g = { 0 };
		if (read_frame(&g, deadline) != 0)
			return false;
		if (g.stream == stream) {
			*out = g;
			return true;
		}
		if (queued < QUEUE_MAX)
			queue[queued++] = g;
		else
			got_free(&g);
	}
}

static void drop_queued(uint32_t stream)
{
	for (size_t i = 0; i < queued;) {
		if (queue[i].stream == stream) {
			got_free(&queue[i]);
			memmove(&queue[i], &queue[i + 1], (queued - i - 1) * sizeof queue[0]);
			queued--;
		} else {
			i++;
		}
	}
}

struct client {
	const char *principal;
	json_t *session;    /* the session object (auth would seal and reopen it) */
	bool stateless;
};

static json_t *meta_for(const struct client *c, const char *kind)
{
	json_t *m = json_pack("{s:s, s:{s:s, s:s, s:[]}, s:s}", DP_KIND, kind, DP_PRINCIPAL, "id",
	                      c->principal, "name", c->principal, "roles", DP_REQUEST_ID, "t");
	if (c->session)
		json_object_set(m, DP_SESSION, c->session);
	if (c->stateless) {
		json_object_set_new(m, DP_STATELESS, json_true());
		json_object_set_new(m, DP_PROTOCOL, json_string("2026-07-28"));
	}
	return m;
}

/* Sends a request frame; body is stolen (NULL = none). Returns its stream id. */
static uint32_t send_kind(const struct client *c, const char *kind, json_t *body)
{
	uint32_t stream = next_stream++;
	json_t *meta = meta_for(c, kind);
	char *m = json_dumps(meta, JSON_COMPACT);
	char *b = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (channel_write_frame_blocking(auth_fd, FRAME_REQUEST, stream, m, strlen(m), b,
	                                 b ? strlen(b) : 0) != 0)
		printf("FAIL could not send a frame\n");
	free(m);
	free(b);
	json_decref(meta);
	json_decref(body);
	return stream;
}

static uint32_t post(const struct client *c, json_t *body)
{
	return send_kind(c, DP_KIND_POST, body);
}

static json_t *request(int id, const char *method, json_t *params)
{
	json_t *r = json_pack("{s:s, s:i, s:s}", "jsonrpc", "2.0", "id", id, "method", method);
	if (params)
		json_object_set_new(r, "params", params);
	return r;
}

static json_t *stateless_meta(json_t *caps)
{
	return json_pack("{s:s, s:o, s:{s:s, s:s}}", "io.modelcontextprotocol/protocolVersion",
	                 "2026-07-28", "io.modelcontextprotocol/clientCapabilities",
	                 caps ? caps : json_object(), "io.modelcontextprotocol/clientInfo", "name",
	                 "harness", "version", "1");
}

static const char *result_text(const json_t *body)
{
	return json_string_value(json_object_get(json_array_get(json_object_get(
		json_object_get(body, "result"), "content"), 0), "text"));
}

static int error_code(const json_t *body)
{
	return (int)json_integer_value(json_object_get(json_object_get(body, "error"), "code"));
}

static const char *error_message(const json_t *body)
{
	const char *m = json_string_value(json_object_get(json_object_get(body, "error"), "message"));
	return m ? m : "";
}

static bool body_has(const struct got *g, const char *text)
{
	char *dump = g->body ? json_dumps(g->body, 0) : NULL;
	bool yes = dump && strstr(dump, text);
	free(dump);
	return yes;
}

/* The final answer on a POST stream, skipping notifications; false on timeout. */
static bool await_response(uint32_t stream, struct got *out, int wait_ms)
{
	for (;;) {
		if (!await(stream, out, wait_ms))
			return false;
		if (out->type == FRAME_ERROR || !out->body || json_object_get(out->body, "id"))
			return true;
		got_free(out);
	}
}

/* ---- the checks ---- */

static json_t *initialize(struct client *c, json_t *caps)
{
	struct got g = { 0 };
	uint32_t s = post(c, request(1, "initialize", json_pack("{s:s, s:o, s:{s:s, s:s}}",
		"protocolVersion", "2025-11-25", "capabilities", caps ? caps : json_object(),
		"clientInfo", "name", "harness", "version", "1")));
	if (!await(s, &g, WAIT_MS)) {
		CHECK(false, "initialize answered");
		return NULL;
	}
	json_t *result = json_object_get(g.body, "result");
	CHECK(g.type == FRAME_RESPONSE && (g.flags & FRAME_FLAG_FINAL), "initialize: one final response");
	CHECK(strcmp(json_string_value(json_object_get(result, "protocolVersion")) ?: "", "2025-11-25") == 0,
	      "initialize: protocol 2025-11-25");
	CHECK(strcmp(json_string_value(json_object_get(json_object_get(result, "serverInfo"), "name")) ?: "",
	             "mcpgate") == 0, "initialize: serverInfo mcpgate");
	json_t *caps_out = json_object_get(result, "capabilities");
	CHECK(json_object_get(caps_out, "tools") && json_object_get(caps_out, "prompts") &&
	      json_is_true(json_object_get(json_object_get(caps_out, "resources"), "subscribe")) &&
	      json_object_get(caps_out, "logging") && json_object_get(caps_out, "completions"),
	      "initialize: capabilities are the union of the upstreams'");
	json_t *session = json_object_get(g.meta, DP_NEW_SESSION);
	CHECK(json_is_object(session) && json_string_length(json_object_get(session, "sid")) == 32 &&
	      strcmp(json_string_value(json_object_get(session, "p")) ?: "", c->principal) == 0,
	      "initialize: new session for %s in the meta", c->principal);
	c->session = json_incref(session);
	got_free(&g);
	return c->session;
}

static void test_tools_list(struct client *c)
{
	struct got g = { 0 };
	uint32_t s = post(c, request(2, "tools/list", NULL));
	CHECK(await(s, &g, WAIT_MS), "tools/list answered");
	json_t *tools = json_object_get(json_object_get(g.body, "result"), "tools");
	char names[512] = "";
	size_t i;
	json_t *t;
	json_array_foreach(tools, i, t) {
		strcat(names, json_string_value(json_object_get(t, "name")));
		strcat(names, " ");
	}
	CHECK(strcmp(names, "a__echo a__slow a__die a__ask b__echo b__slow b__die b__ask ") == 0,
	      "tools/list: namespaced, both upstreams' pages, bad.tool skipped: %s", names);
	CHECK(!json_object_get(json_object_get(g.body, "result"), "_meta"),
	      "tools/list: no upstream status while all are ready");
	got_free(&g);
}

static void test_id_rewriting(struct client *c1, struct client *c2)
{
	/* Same client id 7 from two sessions, in flight together on the same upstream. */
	uint32_t s1 = post(c1, request(7, "tools/call", json_pack("{s:s, s:{s:i}}", "name", "a__slow",
	                                                          "arguments", "ms", 300)));
	uint32_t s2 = post(c2, request(7, "tools/call", json_pack("{s:s, s:{s:i}}", "name", "a__slow",
	                                                          "arguments", "ms", 150)));
	uint32_t e1 = post(c1, request(7, "tools/call", json_pack("{s:s, s:{s:s}}", "name", "a__echo",
	                                                          "arguments", "text", "one")));
	uint32_t e2 = post(c2, request(7, "tools/call", json_pack("{s:s, s:{s:s}}", "name", "b__echo",
	                                                          "arguments", "text", "two")));
	struct got g = { 0 };
	CHECK(await_response(s2, &g, WAIT_MS) && json_integer_value(json_object_get(g.body, "id")) == 7 &&
	      strstr(result_text(g.body) ?: "", "150 ms"), "concurrent calls: session 2 gets its own answer, id 7");
	got_free(&g);
	CHECK(await_response(s1, &g, WAIT_MS) && json_integer_value(json_object_get(g.body, "id")) == 7 &&
	      strstr(result_text(g.body) ?: "", "300 ms"), "concurrent calls: session 1 gets its own answer, id 7");
	got_free(&g);
	drop_queued(s1);
	drop_queued(s2);
	CHECK(await_response(e1, &g, WAIT_MS), "echo through alpha answered");
	json_t *echo = json_loads(result_text(g.body) ?: "null", 0, NULL);
	CHECK(json_integer_value(json_object_get(g.body, "id")) == 7 &&
	      strcmp(json_string_value(json_object_get(echo, "server")) ?: "", "alpha") == 0 &&
	      json_integer_value(json_object_get(echo, "id_seen")) != 7 &&
	      json_integer_value(json_object_get(echo, "id_seen")) > 0,
	      "echo: routed to alpha, the upstream saw a router id (%lld), the client got 7",
	      (long long)json_integer_value(json_object_get(echo, "id_seen")));
	CHECK(strcmp(json_string_value(json_object_get(json_object_get(echo, "caller"), "id")) ?: "",
	             "user-one") == 0, "echo: io.mcpgate/caller is the principal");
	json_decref(echo);
	got_free(&g);
	CHECK(await_response(e2, &g, WAIT_MS), "echo through beta answered");
	echo = json_loads(result_text(g.body) ?: "null", 0, NULL);
	CHECK(strcmp(json_string_value(json_object_get(echo, "server")) ?: "", "beta") == 0 &&
	      strcmp(json_string_value(json_object_get(json_object_get(echo, "caller"), "id")) ?: "",
	             "user-two") == 0, "echo: b__echo routed to beta for user-two");
	json_decref(echo);
	got_free(&g);
}

static void test_caller_spoofing(struct client *c)
{
	uint32_t s = post(c, request(8, "tools/call", json_pack("{s:s, s:{s:s}, s:{s:{s:s}, s:s}}",
		"name", "a__echo", "arguments", "text", "x", "_meta", "io.mcpgate/caller", "id", "root",
		"io.mcpgate/other", "x")));
	struct got g = { 0 };
	CHECK(await_response(s, &g, WAIT_MS), "spoofed caller: answered");
	json_t *echo = json_loads(result_text(g.body) ?: "null", 0, NULL);
	CHECK(strcmp(json_string_value(json_object_get(json_object_get(echo, "caller"), "id")) ?: "",
	             "user-one") == 0, "spoofed io.mcpgate/caller replaced by the real principal");
	json_decref(echo);
	got_free(&g);
}

static void test_progress(struct client *c)
{
	uint32_t s = post(c, request(9, "tools/call", json_pack("{s:s, s:{s:i}, s:{s:s}}", "name",
		"a__slow", "arguments", "ms", 300, "_meta", "progressToken", "tok-1")));
	int progress = 0, logs = 0;
	bool final_ok = false;
	struct got g = { 0 };
	while (await(s, &g, WAIT_MS)) {
		const char *method = json_string_value(json_object_get(g.body, "method"));
		if (method && strcmp(method, "notifications/progress") == 0) {
			json_t *p = json_object_get(g.body, "params");
			progress += strcmp(json_string_value(json_object_get(p, "progressToken")) ?: "", "tok-1") == 0 &&
			            !(g.flags & FRAME_FLAG_FINAL);
		} else if (method && strcmp(method, "notifications/message") == 0) {
			logs++;
		} else {
			final_ok = (g.flags & FRAME_FLAG_FINAL) && json_integer_value(json_object_get(g.body, "id")) == 9;
			got_free(&g);
			break;
		}
		got_free(&g);
	}
	CHECK(progress == 3, "progress: 3 notifications with the client's token on the call's stream (%d)", progress);
	CHECK(logs == 1, "progress: the upstream's log line came on the call's stream (%d)", logs);
	CHECK(final_ok, "progress: the answer comes last, with FINAL");
}

static void expect_tool_error(struct client *c, json_t *args, const char *want, const char *label)
{
	uint32_t s = post(c, request(10, "tools/call", json_pack("{s:s, s:o}", "name", "a__echo", "arguments", args)));
	struct got g = { 0 };
	bool ok = await(s, &g, WAIT_MS);
	json_t *result = json_object_get(g.body, "result");
	const char *text = result_text(g.body) ?: "";
	CHECK(ok && json_is_true(json_object_get(result, "isError")) && strstr(text, want),
	      "schema: %s -> %s", label, text);
	got_free(&g);
}

static void test_schema(struct client *c)
{
	expect_tool_error(c, json_pack("{s:i}", "text", 5), "argument 'text': expected string, got integer",
	                  "wrong type");
	expect_tool_error(c, json_pack("{}"), "argument 'text': is required but missing", "missing required");
	expect_tool_error(c, json_pack("{s:s, s:i}", "text", "x", "extra", 1), "argument 'extra': is not accepted",
	                  "unknown argument");
	expect_tool_error(c, json_pack("{s:s, s:i}", "text", "x", "times", 9), "argument 'times': must be <= 3",
	                  "out of range");
	uint32_t s = post(c, request(11, "tools/call", json_pack("{s:s}", "name", "nope__tool")));
	struct got g = { 0 };
	CHECK(await(s, &g, WAIT_MS) && error_code(g.body) == -32602 && strstr(error_message(g.body), "Unknown tool"),
	      "unknown tool: -32602 %s", error_message(g.body));
	got_free(&g);
}

static void test_local_answers(struct client *c)
{
	struct got g = { 0 };
	uint32_t s = post(c, request(12, "ping", NULL));
	CHECK(await(s, &g, WAIT_MS) && json_is_object(json_object_get(g.body, "result")) &&
	      (g.flags & FRAME_FLAG_FINAL), "ping answered by the router");
	got_free(&g);
	s = post(c, request(13, "no/such/method", NULL));
	CHECK(await(s, &g, WAIT_MS) && error_code(g.body) == -32601, "unknown method: -32601");
	got_free(&g);
	s = post(c, json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method", "notifications/initialized"));
	CHECK(await(s, &g, WAIT_MS) && g.type == FRAME_RESPONSE && !g.body && (g.flags & FRAME_FLAG_FINAL),
	      "notification-only POST: an empty FINAL frame (the edge answers 202)");
	got_free(&g);
	/* A batch: two answers, FINAL on the second. */
	s = post(c, json_pack("[o, o]", request(14, "ping", NULL), request(15, "prompts/list", NULL)));
	bool a = await(s, &g, WAIT_MS);
	bool first_final = g.flags & FRAME_FLAG_FINAL;
	got_free(&g);
	bool b = await(s, &g, WAIT_MS);
	CHECK(a && b && !first_final && (g.flags & FRAME_FLAG_FINAL), "batch: two answers, FINAL on the last");
	got_free(&g);
	s = post(c, request(16, "prompts/get", json_pack("{s:s, s:{s:s}}", "name", "b__greet", "arguments", "who", "Ann")));
	CHECK(await_response(s, &g, WAIT_MS) && body_has(&g, "Hello Ann from beta"),
	      "prompts/get routed by exposed name");
	got_free(&g);
	s = post(c, request(17, "resources/read", json_pack("{s:s}", "uri", "echo://beta/item/42")));
	CHECK(await_response(s, &g, WAIT_MS) && body_has(&g, "read by beta"),
	      "resources/read routed by template");
	got_free(&g);
	s = post(c, request(18, "resources/read", json_pack("{s:s}", "uri", "nowhere://x")));
	CHECK(await(s, &g, WAIT_MS) && error_code(g.body) == -32602 &&
	      strcmp(json_string_value(json_object_get(json_object_get(json_object_get(g.body, "error"), "data"), "uri")) ?: "",
	             "nowhere://x") == 0, "resources/read of an unknown uri: -32602 with the uri");
	got_free(&g);
}

static void test_sampling_relay(struct client *c)
{
	uint32_t s = post(c, request(20, "tools/call", json_pack("{s:s}", "name", "b__ask")));
	struct got g = { 0 };
	bool got_req = await(s, &g, WAIT_MS);
	const char *method = json_string_value(json_object_get(g.body, "method"));
	json_t *rid = json_object_get(g.body, "id");
	CHECK(got_req && method && strcmp(method, "sampling/createMessage") == 0 && json_is_integer(rid) &&
	      !(g.flags & FRAME_FLAG_FINAL), "sampling: the upstream's request reaches the client on the call's stream with a router id");
	json_int_t relay_id = json_integer_value(rid);
	got_free(&g);
	uint32_t a = post(c, json_pack("{s:s, s:I, s:{s:s, s:{s:s, s:s}, s:s}}", "jsonrpc", "2.0", "id", relay_id,
		"result", "role", "assistant", "content", "type", "text", "text", "hello there", "model", "m"));
	CHECK(await(a, &g, WAIT_MS) && !g.body && (g.flags & FRAME_FLAG_FINAL),
	      "sampling: the client's answer POST is accepted (202)");
	got_free(&g);
	CHECK(await_response(s, &g, WAIT_MS) && strstr(result_text(g.body) ?: "", "the client said: hello there"),
	      "sampling: the answer reached the upstream and the call completed");
	got_free(&g);
}

static void test_cancel_and_timeout(struct client *c)
{
	uint32_t s = post(c, request(30, "tools/call", json_pack("{s:s, s:{s:i}}", "name", "a__slow", "arguments", "ms", 3000)));
	usleep(100 * 1000);
	uint32_t n = post(c, json_pack("{s:s, s:s, s:{s:i, s:s}}", "jsonrpc", "2.0", "method",
	                               "notifications/cancelled", "params", "requestId", 30, "reason", "test"));
	struct got g = { 0 };
	CHECK(await(n, &g, WAIT_MS) && !g.body, "cancel: the notification POST is accepted");
	got_free(&g);
	bool ended = false;
	while (await(s, &g, 1000)) {
		if (g.flags & FRAME_FLAG_FINAL) {
			ended = !g.body || !json_object_get(g.body, "result");
			got_free(&g);
			break;
		}
		got_free(&g);
	}
	CHECK(ended, "cancel: the call's stream ends without a result");

	long long t0 = now_ms();
	s = post(c, request(31, "tools/call", json_pack("{s:s, s:{s:i}}", "name", "b__slow", "arguments", "ms", 3000)));
	CHECK(await_response(s, &g, WAIT_MS) && error_code(g.body) == -32001 &&
	      strstr(error_message(g.body), "within 1500 ms"), "timeout: -32001 after beta's 1500 ms: %s",
	      error_message(g.body));
	long long took = now_ms() - t0;
	CHECK(took >= 1400 && took < 2500, "timeout: took %lld ms", took);
	got_free(&g);
}

static void test_stateless(void)
{
	struct client sl = { .principal = "user-three", .stateless = true };
	struct got g = { 0 };
	uint32_t s = post(&sl, request(40, "server/discover", json_pack("{s:o}", "_meta", stateless_meta(NULL))));
	CHECK(await(s, &g, WAIT_MS), "discover answered");
	json_t *r = json_object_get(g.body, "result");
	CHECK(json_is_array(json_object_get(r, "supportedVersions")) &&
	      strcmp(json_string_value(json_object_get(r, "resultType")) ?: "", "complete") == 0 &&
	      json_is_integer(json_object_get(r, "ttlMs")) && json_object_get(r, "cacheScope") &&
	      json_object_get(json_object_get(r, "_meta"), "io.modelcontextprotocol/serverInfo"),
	      "discover: versions, resultType, caching hints, serverInfo in _meta");
	got_free(&g);
	s = post(&sl, request(41, "server/discover", json_pack("{}")));
	CHECK(await(s, &g, WAIT_MS) && g.type == FRAME_ERROR &&
	      json_integer_value(json_object_get(g.meta, DP_STATUS)) == 400 && error_code(g.body) == -32602 &&
	      json_integer_value(json_object_get(g.body, "id")) == 41, "stateless: missing _meta is 400 -32602 with the id");
	got_free(&g);
	s = post(&sl, request(42, "ping", json_pack("{s:o}", "_meta", stateless_meta(NULL))));
	CHECK(await(s, &g, WAIT_MS) && g.type == FRAME_ERROR &&
	      json_integer_value(json_object_get(g.meta, DP_STATUS)) == 404 && error_code(g.body) == -32601,
	      "stateless: removed method ping is 404 -32601");
	got_free(&g);
	s = post(&sl, request(43, "tools/list", json_pack("{s:o}", "_meta", stateless_meta(NULL))));
	CHECK(await(s, &g, WAIT_MS) && json_array_size(json_object_get(json_object_get(g.body, "result"), "tools")) == 8 &&
	      json_object_get(json_object_get(g.body, "result"), "ttlMs"), "stateless tools/list: 8 tools with caching hints");
	got_free(&g);

	/* sampling without the capability: -32021 naming it */
	s = post(&sl, request(44, "tools/call", json_pack("{s:s, s:o}", "name", "a__ask", "_meta", stateless_meta(NULL))));
	CHECK(await_response(s, &g, WAIT_MS) && g.type == FRAME_ERROR && error_code(g.body) == -32021 &&
	      json_object_get(json_object_get(json_object_get(json_object_get(g.body, "error"), "data"),
	                                      "requiredCapabilities"), "sampling"),
	      "stateless: a call needing undeclared sampling is 400 -32021 {requiredCapabilities:{sampling:{}}}");
	got_free(&g);

	/* The input-required round trip. */
	s = post(&sl, request(45, "tools/call", json_pack("{s:s, s:o}", "name", "a__ask", "_meta",
	                                                  stateless_meta(json_pack("{s:{}}", "sampling")))));
	CHECK(await_response(s, &g, WAIT_MS), "input required: first round answered");
	r = json_object_get(g.body, "result");
	json_t *reqs = json_object_get(r, "inputRequests");
	const char *key = NULL;
	json_t *v = NULL;
	json_object_foreach(reqs, key, v)
		break;
	const char *state = json_string_value(json_object_get(r, "requestState"));
	CHECK(strcmp(json_string_value(json_object_get(r, "resultType")) ?: "", "input_required") == 0 && key &&
	      strcmp(json_string_value(json_object_get(v, "method")) ?: "", "sampling/createMessage") == 0 && state,
	      "input required: InputRequiredResult with the sampling request and a requestState");
	char *key_copy = key ? strdup(key) : strdup("x");
	char *state_copy = state ? strdup(state) : strdup("x");
	got_free(&g);
	char tampered[80];
	snprintf(tampered, sizeof tampered, "%s", state_copy);
	tampered[0] = tampered[0] == 'a' ? 'b' : 'a';
	s = post(&sl, request(46, "tools/call", json_pack("{s:s, s:o, s:s, s:{s:{s:s}}}", "name", "a__ask", "_meta",
		stateless_meta(json_pack("{s:{}}", "sampling")), "requestState", tampered, "inputResponses", key_copy,
		"role", "assistant")));
	CHECK(await_response(s, &g, WAIT_MS) && error_code(g.body) == -32602, "input required: a tampered requestState is refused");
	got_free(&g);
	s = post(&sl, request(47, "tools/call", json_pack("{s:s, s:o, s:s, s:{s:{s:s, s:{s:s, s:s}, s:s}}}",
		"name", "a__ask", "_meta", stateless_meta(json_pack("{s:{}}", "sampling")), "requestState", state_copy,
		"inputResponses", key_copy, "role", "assistant", "content", "type", "text", "text", "bonjour", "model", "m")));
	CHECK(await_response(s, &g, WAIT_MS) && json_integer_value(json_object_get(g.body, "id")) == 47 &&
	      strstr(result_text(g.body) ?: "", "the client said: bonjour") &&
	      strcmp(json_string_value(json_object_get(json_object_get(g.body, "result"), "resultType")) ?: "", "complete") == 0,
	      "input required: the retry with inputResponses completes the held call");
	got_free(&g);
	free(key_copy);
	free(state_copy);
}

static void test_upstream_death(struct client *c)
{
	uint32_t d = post(c, request(50, "tools/call", json_pack("{s:s}", "name", "a__die")));
	uint32_t e = post(c, request(51, "tools/call", json_pack("{s:s, s:{s:s}}", "name", "b__echo", "arguments", "text", "alive")));
	struct got g = { 0 };
	CHECK(await_response(d, &g, WAIT_MS) && error_code(g.body) == -32603 &&
	      strstr(error_message(g.body), "upstream 'alpha'"), "death: the call to the dying upstream fails clearly: %s",
	      error_message(g.body));
	got_free(&g);
	CHECK(await_response(e, &g, WAIT_MS) && strstr(result_text(g.body) ?: "", "alive"),
	      "death: the other upstream keeps working");
	got_free(&g);
	uint32_t s = post(c, request(52, "tools/list", NULL));
	CHECK(await(s, &g, WAIT_MS), "death: tools/list answered");
	json_t *r = json_object_get(g.body, "result");
	const char *alpha = json_string_value(json_object_get(json_object_get(json_object_get(r, "_meta"),
	                                                                      "io.mcpgate/upstreams"), "alpha"));
	CHECK(json_array_size(json_object_get(r, "tools")) == 8 && alpha && strncmp(alpha, "down", 4) == 0,
	      "death: the list still shows what is known, with alpha's status: %s", alpha ? alpha : "(none)");
	got_free(&g);
	s = post(c, request(53, "tools/call", json_pack("{s:s, s:{s:s}}", "name", "a__echo", "arguments", "text", "x")));
	CHECK(await(s, &g, WAIT_MS) && error_code(g.body) == -32603 && strstr(error_message(g.body), "is down"),
	      "death: a call to the down upstream says so: %s", error_message(g.body));
	got_free(&g);
}

static void test_restart(struct client *c)
{
	/* A standalone stream hears about the change the restart brings (a new resource). */
	uint32_t get = send_kind(c, DP_KIND_GET, NULL);
	struct got g = { 0 };
	CHECK(await(get, &g, WAIT_MS) && !g.body && !(g.flags & FRAME_FLAG_FINAL), "GET: the stream opens");
	got_free(&g);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return;
	upstream_pids[2] = start_upstream("alpha-2", sv[1]);
	close(sv[1]);
	CHECK(send_link("upstream:alpha", sv[0]) == 0, "restart: LINK sent");
	close(sv[0]);
	bool back = false;
	for (int i = 0; i < 30 && !back; i++) {
		usleep(100 * 1000);
		uint32_t s = post(c, request(60, "tools/call", json_pack("{s:s, s:{s:s}}", "name", "a__echo", "arguments", "text", "again")));
		if (await_response(s, &g, WAIT_MS))
			back = strstr(result_text(g.body) ?: "", "alpha-2") != NULL;
		got_free(&g);
	}
	CHECK(back, "restart: the new link is initialized and serves a__echo");
	bool changed = false;
	while (!changed && await(get, &g, 2000)) {
		changed = strcmp(json_string_value(json_object_get(g.body, "method")) ?: "",
		                 "notifications/resources/list_changed") == 0;
		got_free(&g);
	}
	CHECK(changed, "restart: resources/list_changed reaches the session's GET stream");
}

/* A session this router never made (another replica, or before a restart) still works. */
static void test_foreign_session(void)
{
	struct client other = { .principal = "user-four" };
	other.session = json_pack("{s:i, s:s, s:s, s:s, s:{}, s:{s:s}, s:i}", "v", 1, "sid",
	                          "0123456789abcdef0123456789abcdef", "pv", "2025-06-18", "p", "user-four",
	                          "caps", "ci", "name", "elsewhere", "t", 1);
	struct got g = { 0 };
	uint32_t s = post(&other, request(80, "tools/list", NULL));
	CHECK(await(s, &g, WAIT_MS) && json_array_size(json_object_get(json_object_get(g.body, "result"), "tools")) == 8,
	      "a session made elsewhere is re-created from its object and served");
	got_free(&g);
	json_decref(other.session);
	other.session = json_pack("{s:i, s:s, s:s}", "v", 1, "sid", "not-hex", "p", "user-four");
	s = post(&other, request(81, "ping", NULL));
	CHECK(await(s, &g, WAIT_MS) && g.type == FRAME_ERROR && json_integer_value(json_object_get(g.meta, DP_STATUS)) == 404,
	      "a malformed session object is refused with 404");
	got_free(&g);
	json_decref(other.session);
}

static void test_session_end(struct client *c)
{
	struct got g = { 0 };
	uint32_t s = send_kind(c, DP_KIND_DELETE, NULL);
	CHECK(await(s, &g, WAIT_MS) && g.type == FRAME_RESPONSE && (g.flags & FRAME_FLAG_FINAL), "DELETE: accepted");
	got_free(&g);
	s = post(c, request(70, "ping", NULL));
	CHECK(await(s, &g, WAIT_MS) && g.type == FRAME_ERROR && json_integer_value(json_object_get(g.meta, DP_STATUS)) == 404,
	      "DELETE: the ended session is refused with 404");
	got_free(&g);
	struct client thief = { .principal = "someone-else", .session = json_incref(c->session) };
	s = post(&thief, request(71, "ping", NULL));
	CHECK(await(s, &g, WAIT_MS) && g.type == FRAME_ERROR, "a session is refused to another principal");
	got_free(&g);
	json_decref(thief.session);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s <mcpgate-router> <echo-upstream> <source root>\n", argv[0]);
		return 2;
	}
	router_path = argv[1];
	upstream_path = argv[2];
	source_root = argv[3];
	signal(SIGPIPE, SIG_IGN);
	int ctl[2], auth[2], ua[2], ub[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, ctl) || socketpair(AF_UNIX, SOCK_STREAM, 0, auth) ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, ua) || socketpair(AF_UNIX, SOCK_STREAM, 0, ub))
		return 2;
	upstream_pids[0] = start_upstream("alpha", ua[1]);
	upstream_pids[1] = start_upstream("beta", ub[1]);
	close(ua[1]);
	close(ub[1]);
	start_router(auth[1], ua[0], ub[0], ctl[1]);
	close(auth[1]);
	close(ua[0]);
	close(ub[0]);
	close(ctl[1]);
	control_fd = ctl[0];
	auth_fd = auth[0];

	send_hello();
	uint8_t type = 0;
	bool ready = channel_read_frame_blocking(control_fd, 10000, &type, NULL, NULL, NULL, NULL) == 0 &&
	             type == FRAME_READY;
	CHECK(ready, "router reports READY after entering its sandbox");
	if (!ready || router_died()) {
		if (!ready)
			show_router_log();
		kill(router_pid, SIGKILL);
		return 1;
	}

	struct client one = { .principal = "user-one" }, two = { .principal = "user-two" };
	initialize(&one, json_pack("{s:{}, s:{}}", "sampling", "roots"));
	initialize(&two, json_pack("{s:{}}", "sampling"));
	if (one.session && two.session && !router_died()) {
		test_tools_list(&one);
		test_id_rewriting(&one, &two);
		test_caller_spoofing(&one);
		test_progress(&one);
		test_schema(&one);
		test_local_answers(&one);
		test_sampling_relay(&two);
		test_cancel_and_timeout(&one);
		test_stateless();
		test_upstream_death(&one);
		test_restart(&one);
		test_foreign_session();
		test_session_end(&one);
	}
	bool died = router_died();
	if (!died) {
		/* Drain: the router finishes and exits by itself. */
		channel_write_frame_blocking(control_fd, FRAME_DRAIN, 0, NULL, 0, NULL, 0);
		int status = 0;
		long long deadline = now_ms() + 5000;
		while (waitpid(router_pid, &status, WNOHANG) == 0 && now_ms() < deadline)
			usleep(20 * 1000);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "DRAIN: the router exits cleanly");
		kill(router_pid, SIGKILL);
	}
	for (int i = 0; i < 3; i++)
		if (upstream_pids[i] > 0)
			kill(upstream_pids[i], SIGTERM);
	json_decref(one.session);
	json_decref(two.session);
	while (queued)
		got_free(&queue[--queued]);
	while (wait(NULL) > 0)
		;
	if (failures) {
		if (!died)
			show_router_log();
		printf("%d FAILED (router log: %s)\n", failures, log_path);
		return 1;
	}
	unlink(log_path);
	printf("all passed\n");
	return 0;
}
