/* mcpgate-router: MCP sessions, aggregation and routing, with no network at all. Start-up
 * (HELLO, links, sandbox, READY), the event loop, the auth link and the supervisor's control
 * messages (new links when a peer restarts, new config, drain). */
#include "router.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "channel.h"
#include "datapath.h"
#include "jsonrpc.h"
#include "log.h"

#define TICK_MS 100
#define SWEEP_EVERY_MS 60000

static struct router R;

uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void random_hex(char *out, size_t n)
{
	unsigned char buf[64];
	if (n > sizeof buf)
		fatal("random_hex_too_long", LOG_INT("bytes", n));
	size_t got = 0;
	while (got < n) {
		ssize_t k = getrandom(buf + got, n - got, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			fatal_sys("getrandom");
		got += (size_t)k;
	}
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[buf[i] >> 4];
		out[2 * i + 1] = hex[buf[i] & 15];
	}
	out[2 * n] = '\0';
}

uint64_t router_next_id(struct router *r)
{
	return ++r->next_id;
}

/* ---- the catalog and warm-up ---- */

void router_catalog_changed(struct router *r)
{
	struct catalog_source src[CONFIG_MAX_SERVERS];
	for (size_t i = 0; i < r->n_ups; i++) {
		struct upstream *up = r->ups[i];
		src[i] = (struct catalog_source){ .ns = up->ns, .name = up->name, .upstream = i };
		for (int k = 0; k < LIST_KINDS; k++)
			src[i].lists[k] = up->lists[k];
	}
	unsigned changed = catalog_build(&r->catalog, src, r->n_ups);
	if (changed & (1u << LIST_TOOLS))
		fanout_list_changed(r, LIST_TOOLS);
	if (changed & (1u << LIST_PROMPTS))
		fanout_list_changed(r, LIST_PROMPTS);
	if (changed & ((1u << LIST_RESOURCES) | (1u << LIST_TEMPLATES)))
		fanout_list_changed(r, LIST_RESOURCES);
}

static void replay_deferred(struct router *r)
{
	struct deferred_frame *list = r->deferred;
	size_t n = r->n_deferred;
	r->deferred = NULL;
	r->n_deferred = 0;
	for (size_t i = 0; i < n; i++) {
		struct frame f = {
			.type = list[i].type, .flags = list[i].flags, .stream_id = list[i].stream_id,
			.meta = list[i].meta, .meta_len = list[i].meta_len,
			.body = list[i].body, .body_len = list[i].body_len,
		};
		dispatch_frame(r, &f);
		free(list[i].meta);
		free(list[i].body);
	}
	free(list);
}

void router_check_warm(struct router *r)
{
	if (r->warm)
		return;
	bool settled = true;
	for (size_t i = 0; i < r->n_ups; i++)
		settled &= r->ups[i]->settled;
	if (!settled && now_ms() - r->started_ms < ROUTER_WARMUP_MS)
		return;
	r->warm = true;
	log_info("router_warm", LOG_INT("ms", now_ms() - r->started_ms),
	         LOG_INT("held_requests", r->n_deferred));
	replay_deferred(r);
}

/* ---- drain ---- */

void router_maybe_exit(struct router *r)
{
	if (!r->draining)
		return;
	bool flushed = !r->auth || channel_output_pending(r->auth) == 0;
	bool idle = calls_in_flight(r) == 0;
	if ((idle && flushed) || now_ms() >= r->drain_deadline_ms) {
		log_info("router_drained", LOG_INT("calls_left", calls_in_flight(r)));
		exit(0);
	}
}

struct listen_list {
	struct stream *list[1024];
	size_t n;
};

static void collect_listens(uint64_t key, void *value, void *arg)
{
	(void)key;
	struct listen_list *l = arg;
	struct stream *st = value;
	if (st->kind == STREAM_LISTEN && l->n < 1024)
		l->list[l->n++] = st;
}

static void on_drain(void *arg)
{
	struct router *r = arg;
	r->draining = true;
	r->drain_deadline_ms = now_ms() + DRAIN_MAX_MS;
	/* Listen streams end gracefully: their result says the subscription is over. */
	static struct listen_list l;
	l.n = 0;
	idmap_each(&r->streams, collect_listens, &l);
	for (size_t i = 0; i < l.n; i++) {
		struct stream *st = l.list[i];
		json_t *result = json_pack("{s:s, s:{s:s}}", "resultType", "complete", "_meta",
		                           META_SUBSCRIPTION_ID, st->subscription_id);
		json_t *msg = jrpc_result(json_null(), result);
		if (msg)
			stream_send(r, st, msg, true, NULL);
		json_decref(msg);
	}
	router_maybe_exit(r);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct router *r = arg;
	static uint64_t last_sweep;
	uint64_t now = now_ms();
	router_check_warm(r);
	if (now - last_sweep >= SWEEP_EVERY_MS) {
		last_sweep = now;
		sessions_sweep(r);
		relays_sweep(r);
	}
	persession_sweep(r);
	router_maybe_exit(r);
}

/* ---- the auth link ---- */

struct stream_list {
	uint64_t *keys;
	size_t n, cap;
};

static void collect_stream(uint64_t key, void *value, void *arg)
{
	(void)value;
	struct stream_list *l = arg;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		uint64_t *k = realloc(l->keys, cap * sizeof *k);
		if (!k)
			return;
		l->keys = k;
		l->cap = cap;
	}
	l->keys[l->n++] = key;
}

/* Auth's stream ids mean nothing once its link is gone: every exchange ended with it. */
static void drop_all_streams(struct router *r)
{
	struct stream_list l = { 0 };
	idmap_each(&r->streams, collect_stream, &l);
	for (size_t i = 0; i < l.n; i++) {
		struct stream *st = stream_find(r, l.keys[i]);
		if (!st)
			continue;
		calls_stream_gone(r, st);
		stream_close(r, st);
	}
	free(l.keys);
}

static void on_auth_frame(struct channel *ch, const struct frame *f, void *arg)
{
	(void)ch;
	dispatch_frame(arg, f);
}

static void on_auth_close(struct channel *ch, const char *reason, void *arg)
{
	struct router *r = arg;
	log_warn("auth_link_lost", LOG_STR("reason", reason));
	channel_free(ch);
	if (r->auth == ch)
		r->auth = NULL;
	drop_all_streams(r);
	if (r->congested) {
		r->congested = false;
		upstreams_pause(r, false);
	}
}

static void on_auth_drain(struct channel *ch, void *arg)
{
	struct router *r = arg;
	if (!r->congested)
		return;
	r->congested = false;
	upstreams_pause(r, false);
	channel_pause_input(ch, false);
}

static void attach_auth(struct router *r, int fd)
{
	static const struct channel_callbacks cb = {
		.on_frame = on_auth_frame, .on_close = on_auth_close, .on_drain = on_auth_drain,
	};
	if (r->auth) {
		log_info("auth_link_replaced");
		channel_free(r->auth);
		r->auth = NULL;
		drop_all_streams(r);
	}
	if (r->congested) {
		r->congested = false;
		upstreams_pause(r, false);
	}
	r->auth = channel_new(r->base, fd, "router<-auth", &cb, r);
	if (!r->auth)
		log_error("auth_link_failed");
}

/* ---- control ---- */

static void on_link(const char *name, int fd, void *arg)
{
	struct router *r = arg;
	if (strcmp(name, "auth") == 0) {
		attach_auth(r, fd);
		return;
	}
	if (strncmp(name, "upstream:", 9) == 0 && strchr(name, '#')) {
		persession_link(r, name + 9, fd); /* a session's own process: "upstream:NAME#SID" */
		return;
	}
	if (strncmp(name, "upstream:", 9) == 0) {
		struct upstream *up = upstream_by_name(r, name + 9);
		if (up) {
			upstream_attach(up, fd);
			return;
		}
	}
	log_warn("link_unknown", LOG_STR("link", name));
	close(fd);
}

/* A reload: upstreams added, removed or re-namespaced. */
static void on_config(json_t *slice, void *arg)
{
	(void)slice;
	struct router *r = arg;
	const struct config *cfg = &r->rc.cfg;
	struct upstream *next[CONFIG_MAX_SERVERS];
	bool kept[CONFIG_MAX_SERVERS] = { false };
	size_t n = 0;
	for (size_t i = 0; i < cfg->n_servers; i++) {
		struct upstream *up = upstream_by_name(r, cfg->servers[i].name);
		if (up) {
			upstream_configure(up, &cfg->servers[i]);
			kept[up->index] = true;
		} else {
			up = upstream_new(r, &cfg->servers[i], n);
			if (!up) {
				log_error("upstream_add_failed", LOG_STR("upstream", cfg->servers[i].name));
				continue;
			}
			log_info("upstream_added", LOG_STR("upstream", up->name));
		}
		next[n++] = up;
	}
	struct upstream *old[CONFIG_MAX_SERVERS];
	size_t n_old = r->n_ups;
	memcpy(old, r->ups, sizeof old);
	memcpy(r->ups, next, n * sizeof next[0]);
	r->n_ups = n;
	for (size_t i = 0; i < n; i++)
		r->ups[i]->index = i;
	for (size_t i = 0; i < n_old; i++) {
		if (!kept[i]) {
			log_info("upstream_removed", LOG_STR("upstream", old[i]->name));
			persession_server_gone(r, old[i]->name, "the server was removed from the configuration");
			upstream_free(old[i]);
		}
	}
	for (size_t i = 0; i < n; i++)
		if (!r->ups[i]->per_session)
			persession_server_gone(r, r->ups[i]->name, "the server is no longer per_session");
	router_catalog_changed(r);
}

static void on_status(json_t *status, void *arg)
{
	persession_status(arg, status);
}

static const struct role_control_ops control_ops = {
	.on_config = on_config, .on_link = on_link, .on_status = on_status, .on_drain = on_drain,
};

int main(void)
{
	struct router *r = &R;
	log_init("router");
	/* A peer that dies mid-write must cost an error, not the process. */
	signal(SIGPIPE, SIG_IGN);
	role_start(&r->rc, "router");
	idmap_init(&r->outreqs);
	idmap_init(&r->streams);
	idmap_init(&r->sessions);
	idmap_init(&r->ended);
	idmap_init(&r->relays);
	idmap_init(&r->parked);
	idmap_init(&r->instances);
	catalog_init(&r->catalog);
	r->started_ms = now_ms();
	r->base = event_base_new();
	if (!r->base)
		fatal("event_base_new");

	for (size_t i = 0; i < r->rc.cfg.n_servers && i < CONFIG_MAX_SERVERS; i++) {
		r->ups[i] = upstream_new(r, &r->rc.cfg.servers[i], i);
		if (!r->ups[i])
			fatal("upstream_new", LOG_STR("upstream", r->rc.cfg.servers[i].name));
		r->n_ups++;
	}
	int auth_fd = role_fd(&r->rc, "auth");
	if (auth_fd >= 0)
		attach_auth(r, auth_fd);
	const char *names[CONFIG_MAX_SERVERS];
	int fds[CONFIG_MAX_SERVERS];
	size_t n = role_fds_with_prefix(&r->rc, "upstream:", names, fds, CONFIG_MAX_SERVERS);
	for (size_t i = 0; i < n; i++)
		on_link(names[i], fds[i], r);
	router_catalog_changed(r);

	struct event *tick = event_new(r->base, -1, EV_PERSIST, on_tick, r);
	struct timeval tv = { .tv_sec = 0, .tv_usec = TICK_MS * 1000 };
	if (!tick || event_add(tick, &tv) != 0)
		fatal("tick_timer");
	r->tick = tick;

	role_enter_sandbox(&r->rc);
	role_report_ready(&r->rc);
	role_control_attach(&r->rc, r->base, &control_ops, r);
	log_info("router_started", LOG_INT("upstreams", r->n_ups), LOG_INT("linked", n));
	event_base_dispatch(r->base);
	log_info("router_stopped");
	return 0;
}
