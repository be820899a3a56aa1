/* The built-in servers' shared MCP stdio loop. */
#include "mcp_server.h"

#include <errno.h>
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

static const struct mcp_server_def *server;
static struct event_base *base;
static char *line;
static size_t line_len;
static bool skipping;

json_t *mcp_tool_text(const char *text)
{
	return json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text", text, "isError", 0);
}

json_t *mcp_tool_error(const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	return json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text", text, "isError", 1);
}

static void send_message(json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	if (!text)
		return;
	size_t len = strlen(text);
	text[len] = '\n'; /* replaces the NUL: one write per message */
	size_t off = 0;
	while (off <= len) {
		ssize_t n = write(STDOUT_FILENO, text + off, len + 1 - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	free(text);
}

static void reply(json_t *id, json_t *result)
{
	json_t *msg = json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result);
	send_message(msg);
	json_decref(msg);
}

static void reply_error(json_t *id, int code, const char *message)
{
	json_t *msg = json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(),
	                        "error", "code", code, "message", message);
	send_message(msg);
	json_decref(msg);
}

static json_t *tools_list(void)
{
	json_t *tools = json_array();
	for (size_t i = 0; i < server->n_tools; i++) {
		const struct mcp_tool *t = &server->tools[i];
		json_t *schema = json_loads(t->input_schema, 0, NULL);
		if (!schema)
			fatal("tool_schema_invalid", LOG_STR("tool", t->name));
		json_array_append_new(tools, json_pack("{s:s, s:s, s:o}", "name", t->name,
		                                       "description", t->description, "inputSchema", schema));
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
	if (!id)
		return; /* notifications need no answer */
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
		const char *name = json_string_value(json_object_get(params, "name"));
		for (size_t i = 0; name && i < server->n_tools; i++) {
			if (strcmp(name, server->tools[i].name) == 0) {
				json_t *caller = json_object_get(json_object_get(params, "_meta"), "io.mcpgate/caller");
				reply(id, server->tools[i].call(json_object_get(params, "arguments"), caller));
				return;
			}
		}
		reply_error(id, -32602, "unknown tool");
	} else {
		reply_error(id, -32601, "method not found");
	}
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
		event_base_loopexit(base, NULL);
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
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

static void on_drain(void *arg)
{
	(void)arg;
	event_base_loopexit(base, NULL);
}

static bool supervised(void)
{
	struct stat st;
	return fstat(ROLE_CONTROL_FD, &st) == 0 && S_ISSOCK(st.st_mode);
}

int mcp_server_main(const struct mcp_server_def *def)
{
	server = def;
	log_init(def->role);
	line = malloc(MCP_SERVER_LINE_MAX);
	base = event_base_new();
	if (!line || !base)
		fatal("startup_alloc");
	static struct role_context rc;
	bool under_supervisor = supervised();
	if (under_supervisor)
		role_start(&rc, def->role);
	struct event *in = event_new(base, STDIN_FILENO, EV_READ | EV_PERSIST, on_stdin, NULL);
	if (!in || event_add(in, NULL) != 0)
		fatal("stdin_event");
	if (under_supervisor) {
		static const struct role_control_ops ops = { .on_drain = on_drain };
		role_enter_sandbox(&rc);
		role_control_attach(&rc, base, &ops, NULL);
		role_report_ready(&rc);
	}
	event_base_dispatch(base);
	event_free(in);
	event_base_free(base);
	free(line);
	if (under_supervisor)
		role_context_free(&rc);
	return 0;
}
