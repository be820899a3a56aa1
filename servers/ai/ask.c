/* The `ask` tool: picks a specialist, answers from the cache when it can, otherwise asks
 * Bedrock (ConverseStream with each text delta sent on as a progress notification, or
 * Converse), and returns the answer with the specialist, the route and the token usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ai.h"
#include "aws_tool.h"
#include "converse.h"
#include "log.h"

#define ASK_RESPONSE_MAX (3u * 1024u * 1024u) /* a Converse body: the answer, JSON-escaped */

const char ask_input_schema[] =
	"{\"type\":\"object\",\"properties\":{"
	"\"question\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":32000,"
	"\"description\":\"What to ask.\"},"
	"\"specialist\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64,"
	"\"description\":\"A configured specialist's name; omitted: chosen by the routing rules.\"},"
	"\"max_tokens\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":65536,"
	"\"description\":\"At most the specialist's own limit, which is also the default.\"},"
	"\"stream\":{\"type\":\"boolean\",\"description\":\"Send the answer as progress "
	"notifications while it is generated (default: the server's settings.stream).\"},"
	"\"no_cache\":{\"type\":\"boolean\",\"description\":\"Ask the model even when a cached "
	"answer exists.\"}},"
	"\"required\":[\"question\"],\"additionalProperties\":false}";

const char ask_output_schema[] =
	"{\"type\":\"object\",\"properties\":{"
	"\"answer\":{\"type\":\"string\"},"
	"\"specialist\":{\"type\":\"string\"},"
	"\"model\":{\"type\":\"string\"},"
	"\"routed_by\":{\"type\":\"string\"},"
	"\"stop_reason\":{\"type\":\"string\"},"
	"\"usage\":{\"type\":\"object\",\"properties\":{"
	"\"input_tokens\":{\"type\":\"integer\"},\"output_tokens\":{\"type\":\"integer\"},"
	"\"total_tokens\":{\"type\":\"integer\"}},"
	"\"required\":[\"input_tokens\",\"output_tokens\",\"total_tokens\"]},"
	"\"cached\":{\"type\":\"boolean\"},"
	"\"streamed\":{\"type\":\"boolean\"},"
	"\"truncated\":{\"type\":\"boolean\"},"
	"\"cache\":{\"type\":\"object\",\"properties\":{"
	"\"hits\":{\"type\":\"integer\"},\"misses\":{\"type\":\"integer\"}},"
	"\"required\":[\"hits\",\"misses\"]}},"
	"\"required\":[\"answer\",\"specialist\",\"model\",\"routed_by\",\"stop_reason\",\"usage\","
	"\"cached\",\"streamed\",\"truncated\",\"cache\"]}";

static const struct ai_config *cfg;

/* One ask waiting for Bedrock. */
struct ask {
	struct mcp_call *call;
	struct aws_op *op;
	const struct specialist *sp;
	char routed_by[32];
	bool stream;
	bool in_sink;          /* inside the op's data callback */
	bool cancel_pending;   /* the client cancelled while in_sink */
	uint8_t key[AI_CACHE_KEY_LEN];
	struct converse_stream cs;
	struct ask *prev, *next;
};

static struct ask *asks; /* in flight, for ask_abandon_all */

void ask_setup(const struct ai_config *config)
{
	cfg = config;
}

/* ---- results ---- */

static json_t *cache_counts(void)
{
	struct ai_cache_stats st;
	ai_cache_get_stats(cfg->cache, &st);
	log_debug("ai_cache", LOG_INT("hits", st.hits), LOG_INT("misses", st.misses),
	          LOG_INT("entries", st.entries), LOG_INT("bytes", st.bytes),
	          LOG_INT("evictions", st.evictions), LOG_INT("expirations", st.expirations));
	return json_pack("{s:I, s:I}", "hits", (json_int_t)st.hits, "misses", (json_int_t)st.misses);
}

/* The answer, cut to the result cap with a notice that says how to get a whole one. */
static json_t *capped_answer(const char *text, size_t len, bool *truncated)
{
	size_t keep = mcp_text_cap(text, len, cfg->result_cap, truncated);
	if (!*truncated)
		return json_stringn(text, len);
	char notice[256];
	int n = snprintf(notice, sizeof notice, "\n[truncated: %zu of %zu bytes shown; ask for a "
	                 "shorter answer (a lower max_tokens) or raise the server's "
	                 "settings.result_cap_bytes]", keep, len);
	char *buf = malloc(keep + (size_t)n + 1);
	if (!buf)
		return NULL;
	memcpy(buf, text, keep);
	memcpy(buf + keep, notice, (size_t)n + 1);
	json_t *s = json_stringn(buf, keep + (size_t)n);
	free(buf);
	return s;
}

static json_t *result(const struct specialist *sp, const char *routed_by,
                      const struct cached_answer *a, bool cached, bool streamed)
{
	bool truncated = false;
	json_t *answer = capped_answer(a->text, a->text_len, &truncated);
	if (!answer)
		return NULL;
	json_t *obj = json_pack("{s:o, s:s, s:s, s:s, s:s, s:{s:I, s:I, s:I}, s:b, s:b, s:b, s:o}",
		"answer", answer, "specialist", sp->name, "model", sp->model, "routed_by", routed_by,
		"stop_reason", a->stop_reason,
		"usage", "input_tokens", (json_int_t)a->input_tokens,
		"output_tokens", (json_int_t)a->output_tokens, "total_tokens", (json_int_t)a->total_tokens,
		"cached", cached, "streamed", streamed, "truncated", truncated, "cache", cache_counts());
	return obj ? mcp_tool_structured(obj) : NULL;
}

/* ---- the ask's life ---- */

static void ask_free(struct ask *ask)
{
	if (ask->prev)
		ask->prev->next = ask->next;
	else if (asks == ask)
		asks = ask->next;
	if (ask->next)
		ask->next->prev = ask->prev;
	converse_stream_free(&ask->cs);
	free(ask);
}

static void ask_context(const struct ask *ask, char *out, size_t cap)
{
	snprintf(out, cap, "specialist '%s', model '%s'", ask->sp->name, ask->sp->model);
}

/* A failure found in the answer itself (an exception event, a corrupt stream), worded like
 * the service's own errors. */
static void fail_answer(struct ask *ask, const struct converse_error *err, unsigned attempts)
{
	struct aws_result res = { .service = AWS_BEDROCK_RUNTIME.name, .attempts = attempts };
	snprintf(res.code, sizeof res.code, "%s", err->code);
	snprintf(res.message, sizeof res.message, "%s", err->message);
	char context[2300];
	ask_context(ask, context, sizeof context);
	aws_tool_fail(ask->call, &res, context);
}

static void succeed(struct ask *ask, const struct converse_answer *a)
{
	struct cached_answer c = {
		.text = a->text, .text_len = a->len,
		.input_tokens = a->usage.input_tokens, .output_tokens = a->usage.output_tokens,
		.total_tokens = a->usage.total_tokens,
	};
	snprintf(c.stop_reason, sizeof c.stop_reason, "%s", a->stop_reason);
	if (cfg->cache && ai_cache_put(cfg->cache, ask->key, &c) < 0)
		log_warn("ai_cache_store_failed", LOG_STR("reason", "out of memory"));
	mcp_call_finish(ask->call, result(ask->sp, ask->routed_by, &c, false, ask->stream));
}

static void on_done(const struct aws_result *res, void *arg)
{
	struct ask *ask = arg;
	ask->op = NULL;
	if (ask->stream && (res->ok || ask->cs.failed)) {
		/* A sink that stopped the stream (an exception event) explains the failure better
		 * than the StreamAborted the client reports for it. */
		if (converse_stream_finish(&ask->cs) != 0)
			fail_answer(ask, &ask->cs.error, res->attempts);
		else
			succeed(ask, &ask->cs.answer);
	} else if (!res->ok) {
		char context[2300];
		ask_context(ask, context, sizeof context);
		aws_tool_fail(ask->call, res, context);
	} else {
		struct converse_answer a;
		struct converse_error err;
		if (converse_parse_response(res->body, res->body_len, &a, &err) != 0) {
			fail_answer(ask, &err, res->attempts);
		} else {
			succeed(ask, &a);
			converse_answer_free(&a);
		}
	}
	ask_free(ask);
}

static void on_delta(const char *text, size_t len, size_t chars_so_far, void *arg)
{
	(void)len;
	struct ask *ask = arg;
	mcp_call_progress(ask->call, (double)chars_so_far, -1, text);
}

static int on_data(const void *chunk, size_t len, void *arg)
{
	struct ask *ask = arg;
	ask->in_sink = true;
	int rc = converse_stream_feed(&ask->cs, chunk, len);
	ask->in_sink = false;
	if (ask->cancel_pending) {
		/* The op was cancelled inside this callback: the client frees it after we return
		 * and never calls on_done. */
		mcp_call_fail(ask->call, "ask: cancelled");
		ask_free(ask);
		return -1;
	}
	return rc;
}

static void on_cancel(struct mcp_call *call, void *arg)
{
	(void)call;
	struct ask *ask = arg;
	aws_op_cancel(ask->op);
	ask->op = NULL;
	if (ask->in_sink) {
		ask->cancel_pending = true;
		return;
	}
	log_info("ai_ask_cancelled", LOG_STR("specialist", ask->sp->name));
	mcp_call_fail(ask->call, "ask: cancelled");
	ask_free(ask);
}

/* ---- starting ---- */

static void cache_key(const struct specialist *sp, long max_tokens, const char *question,
                      uint8_t key[AI_CACHE_KEY_LEN])
{
	char tokens[32], temperature[40];
	snprintf(tokens, sizeof tokens, "%ld", max_tokens);
	if (sp->has_temperature)
		snprintf(temperature, sizeof temperature, "%.17g", sp->temperature);
	else
		snprintf(temperature, sizeof temperature, "default");
	const char *system = sp->system ? sp->system : "";
	const char *parts[] = { sp->name, sp->model, system, tokens, temperature, question };
	const size_t lens[] = { strlen(sp->name), strlen(sp->model), strlen(system), strlen(tokens),
	                        strlen(temperature), strlen(question) };
	ai_cache_key(key, parts, lens, sizeof parts / sizeof parts[0]);
}

static int send_request(struct ask *ask, const char *question, long max_tokens)
{
	char path[CONVERSE_PATH_MAX];
	if (converse_path(ask->sp->model, ask->stream, path, sizeof path) != 0)
		return -1;
	char *body = converse_request_body(question, ask->sp->system, max_tokens,
	                                   ask->sp->has_temperature, ask->sp->temperature);
	if (!body)
		return -1;
	const struct sigv4_header headers[] = {
		{ "Content-Type", "application/json" },
		{ "Accept", ask->stream ? "application/vnd.amazon.eventstream" : "application/json" },
	};
	const struct aws_request req = {
		.service = &AWS_BEDROCK_RUNTIME, .method = "POST", .path = path,
		.headers = headers, .n_headers = 2, .body = body, .body_len = strlen(body),
		.max_response = ASK_RESPONSE_MAX,
		/* A streamed answer may run long while text keeps coming: the setting bounds its
		 * silences, and AI_STREAM_CEILING_MS the whole. */
		.timeout_ms = ask->stream ? AI_STREAM_CEILING_MS : cfg->timeout_ms,
		.idle_timeout_ms = ask->stream ? cfg->timeout_ms : 0,
		.on_data = ask->stream ? on_data : NULL, .data_arg = ask,
	};
	ask->op = aws_call(aws_tool_client(), &req, on_done, ask);
	free(body);
	return ask->op ? 0 : -1;
}

/* Checks what the chosen specialist allows; fails the call and returns -1 when it does not. */
static int check_limits(struct mcp_call *call, const struct specialist *sp, json_t *arguments,
                        size_t question_len, long *max_tokens)
{
	json_t *mt = json_object_get(arguments, "max_tokens");
	*max_tokens = json_is_integer(mt) ? (long)json_integer_value(mt) : sp->max_tokens;
	if (*max_tokens < 1 || *max_tokens > sp->max_tokens) {
		mcp_call_fail(call, "ask: max_tokens %ld is over specialist '%s''s limit of %ld "
		              "(settings.specialists[].max_tokens); no request was made",
		              *max_tokens, sp->name, sp->max_tokens);
		return -1;
	}
	if (question_len > sp->max_question_bytes) {
		mcp_call_fail(call, "ask: the question is %zu bytes; specialist '%s' takes at most %zu "
		              "(settings.specialists[].max_question_bytes); no request was made",
		              question_len, sp->name, sp->max_question_bytes);
		return -1;
	}
	return 0;
}

static bool flag(json_t *arguments, const char *name, bool def)
{
	json_t *v = json_object_get(arguments, name);
	return json_is_boolean(v) ? json_is_true(v) : def;
}

static void start(struct mcp_call *call, json_t *arguments, const struct route *route,
                  const char *question, long max_tokens)
{
	struct ask *ask = calloc(1, sizeof *ask);
	if (!ask) {
		mcp_call_fail(call, "ask: out of memory; no request was made");
		return;
	}
	ask->call = call;
	ask->sp = route->specialist;
	route_describe(route, ask->routed_by, sizeof ask->routed_by);
	ask->stream = flag(arguments, "stream", cfg->stream_default);
	cache_key(ask->sp, max_tokens, question, ask->key);
	if (converse_stream_init(&ask->cs, on_delta, ask) != 0) {
		free(ask);
		mcp_call_fail(call, "ask: out of memory; no request was made");
		return;
	}
	if (cfg->cache && !flag(arguments, "no_cache", false)) {
		const struct cached_answer *hit = ai_cache_get(cfg->cache, ask->key);
		if (hit) {
			/* Served whole and at once: there is nothing to stream. */
			mcp_call_finish(call, result(ask->sp, ask->routed_by, hit, true, false));
			ask_free(ask);
			return;
		}
	}
	ask->next = asks;
	if (asks)
		asks->prev = ask;
	asks = ask;
	if (send_request(ask, question, max_tokens) != 0) {
		mcp_call_fail(call, "ask: the Bedrock request could not be built (see the server log); "
		              "no request was made");
		ask_free(ask);
		return;
	}
	mcp_call_on_cancel(call, on_cancel, ask);
}

void ask_call(struct mcp_call *call, json_t *arguments)
{
	const char *question = json_string_value(json_object_get(arguments, "question"));
	json_t *requested = json_object_get(arguments, "specialist");
	if (!question || !*question || (requested && !json_is_string(requested))) {
		mcp_call_fail(call, "ask: invalid arguments: question must be a non-empty string and "
		              "specialist a string");
		return;
	}
	if (cfg->specialists.n == 0) {
		mcp_call_fail(call, "ask: settings.specialists is empty: this server has no specialist "
		              "to ask (configure at least one); no request was made");
		return;
	}
	struct route route;
	size_t question_len = strlen(question);
	if (specialists_route(&cfg->specialists, json_string_value(requested), question,
	                      question_len, &route) != 0) {
		aws_tool_refuse(call, "specialist", json_string_value(requested), "settings.specialists");
		return;
	}
	long max_tokens;
	if (check_limits(call, route.specialist, arguments, question_len, &max_tokens) != 0 ||
	    aws_tool_refuse_unavailable(call))
		return;
	start(call, arguments, &route, question, max_tokens);
}

void ask_abandon_all(void)
{
	while (asks) {
		aws_op_cancel(asks->op);
		asks->op = NULL;
		ask_free(asks);
	}
}
