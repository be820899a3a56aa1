/* The built-in servers' shared MCP stdio loop: reads newline-delimited JSON-RPC, keeps the
 * tools/call requests in flight, writes answers and progress through one output buffer. */
#include "mcp_server.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build_config.h"
#include "log.h"
#include "mcp_versions.h"
#include "role.h"
#include "schema_check.h"

/* Output waiting for a slow reader beyond this is a reader that does not read: progress
 * notifications are then dropped (answers never are). */
#define OUTPUT_SOFT_LIMIT (16u * 1024u * 1024u)
#define EXIT_GRACE_MS 5000 /* calls get this long to finish after stdin closes or a drain */

struct mcp_call {
	json_t *id;
	json_t *progress_token; /* NULL when the caller asked for no progress */
	json_t *caller;
	json_t *arguments;
	const struct mcp_tool *tool;
	mcp_cancel_fn on_cancel;
	void *cancel_arg;
	bool cancelled;
	struct mcp_call *prev, *next;
};

static const struct mcp_server_def *server;
static struct event_base *base;
static json_t **input_schemas; /* parsed once, per tool */
static char *line;
static size_t line_len;
static bool skipping;
static struct mcp_call *calls;
static size_t n_calls;
static bool closing; /* stdin closed or drain asked: no new calls, exit when none is left */
static struct event *stdin_ev, *stdout_ev, *grace_ev;
static struct evbuffer *out;
static bool out_async; /* stdout is a pipe or socket we may make non-blocking */

/* ---- results ---- */

json_t *mcp_tool_text(const char *text)
{
	return json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text", text, "isError", 0);
}

__attribute__((format(printf, 1, 0))) static json_t *tool_error_v(const char *fmt, va_list ap)
{
	char text[2048];
	vsnprintf(text, sizeof text, fmt, ap);
	return json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text", text, "isError", 1);
}

json_t *mcp_tool_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	json_t *r = tool_error_v(fmt, ap);
	va_end(ap);
	return r;
}

json_t *mcp_tool_structured(json_t *structured)
{
	char *text = structured ? json_dumps(structured, JSON_COMPACT) : NULL;
	if (!text) {
		json_decref(structured);
		return mcp_tool_error("result could not be encoded");
	}
	json_t *r = json_pack("{s:[{s:s, s:s}], s:o, s:b}", "content", "type", "text", "text", text,
	                      "structuredContent", structured, "isError", 0);
	free(text);
	return r;
}

size_t mcp_text_cap(const char *text, size_t len, size_t cap, bool *truncated)
{
	*truncated = len > cap;
	if (len <= cap)
		return len;
	size_t keep = cap;
	/* Step back over continuation bytes so a multi-byte character is never cut in two. */
	while (keep > 0 && ((unsigned char)text[keep] & 0xC0) == 0x80)
		keep--;
	return keep;
}

bool mcp_text_is_utf8(const void *data, size_t len)
{
	const unsigned char *s = data;
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		size_t n;
		unsigned min;
		unsigned cp;
		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xE0) == 0xC0) {
			n = 1, min = 0x80, cp = c & 0x1F;
		} else if ((c & 0xF0) == 0xE0) {
			n = 2, min = 0x800, cp = c & 0x0F;
		} else if ((c & 0xF8) == 0xF0) {
			n = 3, min = 0x10000, cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i <= n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += n + 1;
	}
	return true;
}

/* ---- output ---- */

static void flush_output(void)
{
	while (evbuffer_get_length(out) > 0) {
		int n = evbuffer_write(out, STDOUT_FILENO);
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && out_async) {
			event_add(stdout_ev, NULL);
			return;
		}
		/* The reader is gone: nothing more can be said to it. */
		evbuffer_drain(out, evbuffer_get_length(out));
		return;
	}
}

static void maybe_exit(void);

static void on_stdout_writable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	flush_output();
	maybe_exit(); /* closing waits for the last answers to leave */
}

/* Queues one message. Everything queued in one turn of the loop leaves in one write. */
static void send_message(json_t *msg, bool droppable)
{
	if (droppable && evbuffer_get_length(out) > OUTPUT_SOFT_LIMIT)
		return;
	char *text = json_dumps(msg, JSON_COMPACT);
	if (!text)
		return;
	size_t len = strlen(text);
	if (evbuffer_add(out, text, len) != 0 || evbuffer_add(out, "\n", 1) != 0)
		log_error("output_alloc");
	free(text);
	if (!out_async)
		flush_output();
	else if (!event_pending(stdout_ev, EV_WRITE, NULL))
		event_add(stdout_ev, NULL); /* flushed when the loop next turns */
}

static void reply(json_t *id, json_t *result)
{
	json_t *msg = json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result);
	send_message(msg, false);
	json_decref(msg);
}

static void reply_error(json_t *id, int code, const char *message)
{
	json_t *msg = json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(),
	                        "error", "code", code, "message", message);
	send_message(msg, false);
	json_decref(msg);
}

/* ---- calls ---- */

/* Exits once no call is in flight and every answer has been written (or the reader is gone);
 * the grace timer bounds the wait for a reader that stopped reading. */
static void maybe_exit(void)
{
	if (!closing || n_calls != 0)
		return;
	flush_output();
	if (evbuffer_get_length(out) == 0)
		event_base_loopexit(base, NULL);
}

static void call_free(struct mcp_call *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	n_calls--;
	json_decref(c->id);
	json_decref(c->progress_token);
	json_decref(c->caller);
	json_decref(c->arguments);
	free(c);
	maybe_exit();
}

json_t *mcp_call_caller(const struct mcp_call *call)
{
	return call->caller;
}

const char *mcp_call_tool(const struct mcp_call *call)
{
	return call->tool->name;
}

bool mcp_call_caller_has_role(const struct mcp_call *call, const char *role)
{
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(call->caller, "roles"), i, r) {
		if (json_is_string(r) && strcmp(json_string_value(r), role) == 0)
			return true;
	}
	return false;
}

void mcp_call_progress(struct mcp_call *call, double progress, double total, const char *message)
{
	if (!call->progress_token || call->cancelled)
		return;
	json_t *params = json_pack("{s:O, s:f}", "progressToken", call->progress_token,
	                           "progress", progress);
	if (!params)
		return;
	if (total >= 0)
		json_object_set_new(params, "total", json_real(total));
	if (message)
		json_object_set_new(params, "message", json_string(message));
	json_t *msg = json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0",
	                        "method", "notifications/progress", "params", params);
	send_message(msg, true);
	json_decref(msg);
}

void mcp_call_on_cancel(struct mcp_call *call, mcp_cancel_fn fn, void *arg)
{
	call->on_cancel = fn;
	call->cancel_arg = arg;
}

bool mcp_call_cancelled(const struct mcp_call *call)
{
	return call->cancelled;
}

void mcp_call_finish(struct mcp_call *call, json_t *result)
{
	if (!result)
		result = mcp_tool_error("%s: the result could not be built (out of memory)",
		                        call->tool->name);
	if (call->cancelled)
		json_decref(result); /* the client said it no longer wants the answer */
	else
		reply(call->id, result);
	call_free(call);
}

void mcp_call_fail(struct mcp_call *call, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	json_t *r = tool_error_v(fmt, ap);
	va_end(ap);
	mcp_call_finish(call, r);
}

static void cancel_call(struct mcp_call *c)
{
	if (c->cancelled)
		return;
	c->cancelled = true;
	if (c->on_cancel)
		c->on_cancel(c, c->cancel_arg);
}

static void start_call(json_t *id, json_t *params)
{
	const char *name = json_string_value(json_object_get(params, "name"));
	size_t t = 0;
	while (name && t < server->n_tools && strcmp(name, server->tools[t].name) != 0)
		t++;
	if (!name || t == server->n_tools) {
		reply_error(id, -32602, "unknown tool");
		return;
	}
	json_t *arguments = json_object_get(params, "arguments");
	if (arguments && !json_is_object(arguments)) {
		reply_error(id, -32602, "arguments must be an object");
		return;
	}
	char why[256];
	json_t *empty = json_object();
	bool valid = schema_check(input_schemas[t], arguments ? arguments : empty, why, sizeof why);
	json_decref(empty);
	if (!valid) {
		/* A tool error rather than a protocol error, so the model sees what to fix. */
		json_t *r = mcp_tool_error("%s: invalid arguments: %s", name, why);
		reply(id, r);
		return;
	}
	if (n_calls >= MCP_SERVER_MAX_CALLS) {
		reply_error(id, -32000, "server busy: too many calls in flight");
		return;
	}
	struct mcp_call *c = calloc(1, sizeof *c);
	if (!c) {
		reply_error(id, -32603, "out of memory");
		return;
	}
	json_t *meta = json_object_get(params, "_meta");
	c->id = json_incref(id);
	c->progress_token = json_incref(json_object_get(meta, "progressToken"));
	if (c->progress_token && !json_is_string(c->progress_token) &&
	    !json_is_integer(c->progress_token)) {
		json_decref(c->progress_token);
		c->progress_token = NULL;
	}
	c->caller = json_incref(json_object_get(meta, "io.mcpgate/caller"));
	c->arguments = arguments ? json_incref(arguments) : json_object();
	c->tool = &server->tools[t];
	c->next = calls;
	if (calls)
		calls->prev = c;
	calls = c;
	n_calls++;
	c->tool->call(c, c->arguments);
}

static void handle_cancelled(json_t *params)
{
	json_t *id = json_object_get(params, "requestId");
	for (struct mcp_call *c = calls; id && c; c = c->next) {
		if (json_equal(c->id, id)) {
			cancel_call(c);
			return;
		}
	}
}

static json_t *tools_list(void)
{
	json_t *tools = json_array();
	for (size_t i = 0; i < server->n_tools; i++) {
		const struct mcp_tool *t = &server->tools[i];
		json_t *tool = json_pack("{s:s, s:s, s:O}", "name", t->name, "description",
		                         t->description, "inputSchema", input_schemas[i]);
		if (t->output_schema) {
			json_t *os = json_loads(t->output_schema, 0, NULL);
			if (!os)
				fatal("tool_output_schema_invalid", LOG_STR("tool", t->name));
			json_object_set_new(tool, "outputSchema", os);
		}
		json_array_append_new(tools, tool);
	}
	return json_pack("{s:o}", "tools", tools);
}

static void handle(json_t *msg)
{
	const char *method = json_string_value(json_object_get(msg, "method"));
	json_t *id = json_object_get(msg, "id");
	json_t *params = json_object_get(msg, "params");
	if (!method)
		return; /* a response to nothing we asked, or garbage: ignore */
	if (!id) {
		if (strcmp(method, "notifications/cancelled") == 0)
			handle_cancelled(params);
		return; /* other notifications need no answer */
	}
	if (strcmp(method, "initialize") == 0) {
		const char *asked = json_string_value(json_object_get(params, "protocolVersion"));
		const char *v = asked && mcp_version_supported(asked, strlen(asked)) &&
		                strcmp(asked, MCP_VERSION_STATELESS) != 0 ? asked : MCP_VERSION_LATEST_SESSION;
		reply(id, json_pack("{s:s, s:{s:{s:b}}, s:{s:s, s:s}}", "protocolVersion", v,
		                    "capabilities", "tools", "listChanged", 0,
		                    "serverInfo", "name", server->name, "version", MCPGATE_VERSION));
	} else if (strcmp(method, "ping") == 0) {
		reply(id, json_object());
	} else if (strcmp(method, "tools/list") == 0) {
		reply(id, tools_list());
	} else if (strcmp(method, "tools/call") == 0) {
		if (closing)
			reply_error(id, -32000, "server is shutting down");
		else
			start_call(id, params);
	} else {
		reply_error(id, -32601, "method not found");
	}
}

/* ---- input and shutdown ---- */

static void on_grace_over(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	log_warn("calls_abandoned", LOG_INT("in_flight", (long long)n_calls));
	event_base_loopexit(base, NULL);
}

/* Stop taking calls; those in flight get EXIT_GRACE_MS to end (cancelled when the client is
 * gone, since nobody can read their answers). */
static void begin_closing(bool cancel)
{
	if (closing)
		return;
	closing = true;
	event_del(stdin_ev);
	if (cancel) {
		for (struct mcp_call *c = calls, *next; c; c = next) {
			next = c->next;
			cancel_call(c);
		}
	}
	struct timeval tv = { EXIT_GRACE_MS / 1000, 0 };
	grace_ev = evtimer_new(base, on_grace_over, NULL);
	if (grace_ev)
		evtimer_add(grace_ev, &tv);
	maybe_exit();
}

static void on_stdin(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	(void)arg;
	char buf[65536];
	ssize_t n = read(fd, buf, sizeof buf);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		begin_closing(true);
		return;
	}
	for (ssize_t i = 0; i < n && !closing; i++) {
		if (buf[i] != '\n') {
			if (skipping)
				continue;
			if (line_len == MCP_SERVER_LINE_MAX) {
				log_warn("line_too_long", LOG_INT("limit", MCP_SERVER_LINE_MAX));
				skipping = true;
				line_len = 0;
				continue;
			}
			line[line_len++] = buf[i];
			continue;
		}
		if (!skipping && line_len) {
			json_error_t err;
			json_t *msg = json_loadb(line, line_len, JSON_REJECT_DUPLICATES, &err);
			if (json_is_object(msg))
				handle(msg);
			else
				reply_error(NULL, -32700, "parse error");
			json_decref(msg);
		}
		skipping = false;
		line_len = 0;
	}
}

static void on_stdin_file(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	on_stdin(STDIN_FILENO, what, arg);
	if (!closing)
		event_active(stdin_ev, EV_READ, 0);
}

static void on_drain(void *arg)
{
	(void)arg;
	begin_closing(false);
}

static bool supervised(void)
{
	struct stat st;
	return fstat(ROLE_CONTROL_FD, &st) == 0 && S_ISSOCK(st.st_mode);
}

static json_t *load_standalone_settings(int argc, char **argv)
{
	const char *path = getenv("MCPGATE_SETTINGS_FILE");
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--settings") == 0 && i + 1 < argc) {
			path = argv[++i];
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fprintf(stderr, "usage: %s [--settings FILE]\n"
			        "An MCP server on stdin/stdout. FILE (or MCPGATE_SETTINGS_FILE) holds the\n"
			        "JSON object a gateway config gives as servers[].settings.\n", argv[0]);
			exit(0);
		} else {
			fprintf(stderr, "%s: unknown argument '%s' (try --help)\n", argv[0], argv[i]);
			exit(EXIT_USAGE);
		}
	}
	if (!path || !*path)
		return json_object();
	json_error_t err;
	json_t *settings = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
	if (!json_is_object(settings))
		fatal_exit(EXIT_CONFIG, "settings_invalid", LOG_FIELDS_(LOG_STR("file", path),
		           LOG_INT("line", err.line), LOG_STR("reason", settings ? "not an object" : err.text)));
	return settings;
}

static json_t *supervised_settings(const struct role_context *rc)
{
	json_t *srv = json_array_get(json_object_get(json_object_get(rc->hello, "config"), "servers"), 0);
	json_t *s = json_object_get(srv, "settings");
	return json_is_object(s) ? json_incref(s) : json_object();
}

static void setup_output(void)
{
	struct stat st;
	out = evbuffer_new();
	if (!out)
		fatal("startup_alloc");
	out_async = fstat(STDOUT_FILENO, &st) == 0 && (S_ISSOCK(st.st_mode) || S_ISFIFO(st.st_mode));
	if (out_async) {
		int fl = fcntl(STDOUT_FILENO, F_GETFL);
		if (fl < 0 || fcntl(STDOUT_FILENO, F_SETFL, fl | O_NONBLOCK) != 0)
			out_async = false;
	}
	stdout_ev = event_new(base, STDOUT_FILENO, EV_WRITE, on_stdout_writable, NULL);
	if (!stdout_ev)
		fatal("startup_alloc");
}

struct event_base *mcp_server_base(void)
{
	return base;
}

int mcp_server_main(const struct mcp_server_def *def, int argc, char **argv)
{
	server = def;
	log_init(def->role);
	line = malloc(MCP_SERVER_LINE_MAX);
	base = event_base_new();
	input_schemas = calloc(def->n_tools ? def->n_tools : 1, sizeof *input_schemas);
	if (!line || !base || !input_schemas)
		fatal("startup_alloc");
	for (size_t i = 0; i < def->n_tools; i++) {
		input_schemas[i] = json_loads(def->tools[i].input_schema, 0, NULL);
		if (!input_schemas[i])
			fatal("tool_schema_invalid", LOG_STR("tool", def->tools[i].name));
	}
	static struct role_context rc;
	bool under_supervisor = supervised();
	json_t *settings;
	if (under_supervisor) {
		role_start(&rc, def->role);
		settings = supervised_settings(&rc);
	} else {
		settings = load_standalone_settings(argc, argv);
	}
	setup_output();
	if (def->init && def->init(base, settings) != 0)
		fatal_exit(EXIT_CONFIG, "server_init_failed", LOG_FIELDS_(LOG_STR("server", def->name)));
	json_decref(settings);
	struct stat in_st;
	if (fstat(STDIN_FILENO, &in_st) == 0 && S_ISREG(in_st.st_mode)) {
		/* epoll refuses regular files (requests replayed from a file): they never block, so
		 * read one chunk per turn of the loop instead of waiting for readiness. */
		stdin_ev = event_new(base, -1, 0, on_stdin_file, NULL);
		if (!stdin_ev)
			fatal("stdin_event");
		event_active(stdin_ev, EV_READ, 0);
	} else {
		stdin_ev = event_new(base, STDIN_FILENO, EV_READ | EV_PERSIST, on_stdin, NULL);
		if (!stdin_ev || event_add(stdin_ev, NULL) != 0)
			fatal("stdin_event");
	}
	if (under_supervisor) {
		static const struct role_control_ops ops = { .on_drain = on_drain };
		role_enter_sandbox(&rc);
		role_control_attach(&rc, base, &ops, NULL);
		role_report_ready(&rc);
	}
	event_base_dispatch(base);
	flush_output();
	if (def->fini)
		def->fini();
	/* Calls still in flight after the grace period: their tools' state went with fini. */
	while (calls) {
		calls->cancelled = true;
		call_free(calls);
	}
	event_free(stdin_ev);
	event_free(stdout_ev);
	if (grace_ev)
		event_free(grace_ev);
	evbuffer_free(out);
	for (size_t i = 0; i < def->n_tools; i++)
		json_decref(input_schemas[i]);
	free(input_schemas);
	event_base_free(base);
	free(line);
	if (under_supervisor)
		role_context_free(&rc);
	return 0;
}
