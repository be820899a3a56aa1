/* edge: the only process that touches the network listener. It terminates TLS, parses
 * HTTP strictly, speaks the MCP transports, and hands each request to auth. It has no
 * route to the router and no filesystem once sandboxed. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "edge.h"
#include "log.h"
#include "tls.h"

#define ACCEPTS_PER_WAKEUP 64

struct edge E;

int edge_send(uint8_t type, uint16_t flags, uint32_t stream_id, json_t *meta, const void *body,
              size_t len)
{
	if (!E.auth)
		return -1;
	char *m = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
	int r = channel_send(E.auth, type, flags, stream_id, m, m ? strlen(m) : 0, body, len, -1);
	free(m);
	return r;
}

void edge_maybe_exit(void)
{
	if (E.draining && E.n_clients == 0)
		event_base_loopexit(E.base, NULL);
}

static void format_remote(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
		port = ntohs(in->sin_port);
		snprintf(out, cap, "%s:%u", host, port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
		port = ntohs(in6->sin6_port);
		snprintf(out, cap, "[%s]:%u", host, port);
	} else {
		snprintf(out, cap, "unknown");
	}
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	(void)what;
	bool tls = (bool)(intptr_t)arg;
	for (int i = 0; i < ACCEPTS_PER_WAKEUP && !E.draining; i++) {
		struct sockaddr_storage ss;
		socklen_t slen = sizeof ss;
		int fd = accept4(lfd, (struct sockaddr *)&ss, &slen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("accept_failed", LOG_STR("error", strerror(errno)));
			return;
		}
		if (E.n_clients >= E.rc.cfg.max_connections) {
			/* Over the limit: refuse at once rather than queue unbounded state. */
			close(fd);
			continue;
		}
		char remote[64];
		format_remote(&ss, remote, sizeof remote);
		client_accept(fd, tls, remote);
	}
}

static void on_auth_frame(struct channel *ch, const struct frame *f, void *arg)
{
	(void)ch;
	(void)arg;
	exchange_on_frame(f);
}

static void on_auth_close(struct channel *ch, const char *reason, void *arg)
{
	(void)arg;
	log_warn("auth_link_closed", LOG_STR("reason", reason));
	channel_free(ch);
	E.auth = NULL;
	exchange_fail_all(503, "the gateway's auth process restarted; retry the request");
}

static void on_link(const char *name, int fd, void *arg)
{
	(void)arg;
	static const struct channel_callbacks cb = { .on_frame = on_auth_frame, .on_close = on_auth_close };
	if (strcmp(name, "auth") != 0) {
		log_warn("unknown_link", LOG_STR("link", name));
		close(fd);
		return;
	}
	if (E.auth)
		on_auth_close(E.auth, "replaced", NULL);
	E.auth = channel_new(E.base, fd, "edge->auth", &cb, NULL);
	log_info("auth_link_up");
}

static void on_status(json_t *status, void *arg)
{
	(void)arg;
	json_t *ready = json_object_get(status, "ready");
	if (json_is_boolean(ready))
		E.ready = json_is_true(ready);
}

static void apply_limits(void)
{
	E.limits = http_default_limits;
	E.limits.max_header_bytes = E.rc.cfg.max_header_bytes;
	E.limits.max_header_fields = E.rc.cfg.max_headers < HTTP_MAX_FIELDS ? E.rc.cfg.max_headers
	                                                                     : HTTP_MAX_FIELDS;
	E.limits.max_body = E.rc.cfg.max_body_bytes;
	E.limits.max_chunked_body = (uint64_t)E.rc.cfg.max_body_bytes * 2;
	/* The config allows a header section down to 1 KiB, below the default 8 KiB target: the
	 * target must then shrink with it (leaving 64 bytes for the rest of the request line),
	 * or the check below would end the edge on every start. */
	if ((uint64_t)E.limits.max_target + 64 > E.limits.max_header_bytes)
		E.limits.max_target = E.limits.max_header_bytes - 64;
	const char *bad = http_limits_check(&E.limits);
	if (bad)
		fatal_exit(EXIT_CONFIG, "http_limits_invalid", LOG_FIELDS_(LOG_STR("reason", bad)));
}

static void load_tls(void)
{
	const char *cert = role_data(&E.rc, "tls_certificate");
	const char *key = role_data(&E.rc, "tls_key");
	if (!cert || !key)
		return;
	const char *err = NULL;
	struct tls_context *ctx = tls_context_new(cert, key, &err);
	/* The key has been copied into mbedtls; wipe the JSON copy. */
	json_t *data = json_object_get(E.rc.hello, "data");
	json_t *k = json_object_get(data, "tls_key");
	if (k)
		explicit_bzero((char *)json_string_value(k), strlen(json_string_value(k)));
	json_object_del(data, "tls_key");
	if (!ctx) {
		log_error("tls_context_failed", LOG_STR("reason", err ? err : "unknown"));
		return;
	}
	if (E.tls)
		tls_context_free(E.tls);
	E.tls = ctx;
}

static void on_config(json_t *slice, void *arg)
{
	(void)slice;
	(void)arg;
	apply_limits();
	load_tls();
}

static void on_drain(void *arg)
{
	(void)arg;
	E.draining = true;
	for (size_t i = 0; i < E.n_listeners; i++)
		event_del(E.accept_ev[i]);
	client_drain_idle();
	exchange_end_streams_for_drain();
	edge_maybe_exit();
}

static const struct role_control_ops control_ops = {
	.on_config = on_config, .on_link = on_link, .on_status = on_status, .on_drain = on_drain,
};

int main(void)
{
	log_init("edge");
	role_start(&E.rc, "edge");
	idmap_init(&E.exchanges);
	if (getrandom(&E.boot_id, sizeof E.boot_id, 0) != sizeof E.boot_id)
		fatal_sys("getrandom");
	E.base = event_base_new();
	if (!E.base)
		fatal("event_base_new");
	apply_limits();
	load_tls();

	for (size_t i = 0; i < E.rc.cfg.n_listeners && i < EDGE_MAX_LISTENERS; i++) {
		char name[32];
		snprintf(name, sizeof name, "listen%zu", i);
		int fd = role_fd(&E.rc, name);
		if (fd < 0)
			fatal("listener_missing", LOG_STR("name", name));
		bool tls = E.rc.cfg.listeners[i].kind == LISTENER_TLS;
		if (tls && !E.tls)
			fatal_exit(EXIT_CONFIG, "tls_unavailable",
			           LOG_FIELDS_(LOG_STR("listener", E.rc.cfg.listeners[i].address)));
		E.accept_ev[i] = event_new(E.base, fd, EV_READ | EV_PERSIST, on_accept, (void *)(intptr_t)tls);
		if (!E.accept_ev[i] || event_add(E.accept_ev[i], NULL) != 0)
			fatal("listener_event");
		E.n_listeners++;
	}
	int auth_fd = role_fd(&E.rc, "auth");
	if (auth_fd >= 0)
		on_link("auth", auth_fd, NULL);

	role_enter_sandbox(&E.rc);
	role_control_attach(&E.rc, E.base, &control_ops, NULL);
	role_report_ready(&E.rc);
	event_base_dispatch(E.base);
	log_info("edge_stopped");
	return 0;
}
