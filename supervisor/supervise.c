/* The supervisor's event loop. It binds the listeners, starts each role with its fds and
 * HELLO, relays logs, restarts the dead with backoff and a death tally, rewires links so
 * survivors carry on, reloads on SIGHUP and drains on SIGTERM. It never parses client input. */
#include "supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aws_env.h"
#include "build_config.h"
#include "children.h"
#include "config.h"
#include "config_source.h"
#include "frame.h"
#include "log.h"
#include "notify.h"
#include "spawn.h"
#include "users.h"

#define MAX_CHILDREN (64 + CONFIG_MAX_SERVERS + 4)
#define HEALTHY_UPTIME_MS 10000 /* a child that lived this long restarts without backoff */
#define MIN_RESTART_GAP_MS 1000 /* restarts of one child at least this far apart */
#define MAX_FILE_BYTES (1024 * 1024)

static const struct role_def role_table[] = {
	{ CHILD_EDGE,   "edge",   "mcpgate-edge",   "edge.policy",       "edge" },
	{ CHILD_AUTH,   "auth",   "mcpgate-auth",   "auth.policy",       "auth" },
	{ CHILD_ROUTER, "router", "mcpgate-router", "router.policy",     "router" },
	{ CHILD_SERVER, "server", "mcpgate-server", "server.policy",     "srv-" },
};

struct supervisor {
	struct event_base *base;
	char config_path[PATH_MAX];
	struct config cfg;
	char exe_dir[PATH_MAX];
	char policy_dir[PATH_MAX];
	char *groups_text;
	struct child *children[MAX_CHILDREN];
	size_t n_children;
	int listen_fds[CONFIG_MAX_LISTENERS];
	size_t n_listen;
	char session_key_hex[65]; /* AES-256 key for session tokens, made at start */
	bool as_root;
	bool stopping;
	bool ready;
	bool notified_ready;
	int exit_code;
	struct event *signals[4];
	struct event *drain_timer;
	struct event *kill_timer;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* snprintf for paths: a path that does not fit is an error, never silently cut. */
static int pathf(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pathf(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

static char *read_small_file(const char *path, size_t *len_out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_FILE_BYTES) {
		close(fd);
		errno = EFBIG;
		return NULL;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	size_t got = 0;
	while (buf && got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (!buf || got != (size_t)st.st_size) {
		free(buf);
		return NULL;
	}
	buf[got] = '\0';
	if (len_out)
		*len_out = got;
	return buf;
}

static bool child_alive(const struct child *c)
{
	return c->pid > 0;
}

static bool child_has_control(const struct child *c)
{
	return c->pid > 0 && c->control != NULL;
}

static bool server_is_thirdparty(const struct supervisor *sup, const struct child *c,
                                 const struct config_server **out)
{
	for (size_t i = 0; i < sup->cfg.n_servers; i++) {
		if (strcmp(sup->cfg.servers[i].name, c->server_name) == 0) {
			if (out)
				*out = &sup->cfg.servers[i];
			return sup->cfg.servers[i].kind == SERVER_COMMAND;
		}
	}
	if (out)
		*out = NULL;
	return false;
}

/* ---- locating programs and policies ---- */

static int locate_program(const struct supervisor *sup, const char *program, char *out, size_t len)
{
	const char *env = getenv("MCPGATE_LIBEXEC");
	char candidates[5][PATH_MAX];
	size_t n = 0;
	if (env)
		pathf(candidates[n++], PATH_MAX, "%s/%s", env, program);
	pathf(candidates[n++], PATH_MAX, "%s/../libexec/mcpgate/%s", sup->exe_dir, program);
	pathf(candidates[n++], PATH_MAX, "%s/%s", MCPGATE_LIBEXECDIR, program);
	/* A build tree: build/supervisor/mcpgate beside build/gateway/<role>/ and build/servers/. */
	if (strncmp(program, "mcpgate-server-", 15) == 0)
		pathf(candidates[n++], PATH_MAX, "%s/../servers/%s", sup->exe_dir, program);
	else
		pathf(candidates[n++], PATH_MAX, "%s/../gateway/%s/%s", sup->exe_dir, program + 8,
		         program);
	for (size_t i = 0; i < n; i++) {
		if (access(candidates[i], X_OK) == 0) {
			if (!realpath(candidates[i], out))
				pathf(out, len, "%s", candidates[i]);
			return 0;
		}
	}
	return -1;
}

static int locate_policy_dir(struct supervisor *sup)
{
	char candidates[3][PATH_MAX];
	size_t n = 0;
	if (sup->cfg.policy_dir[0])
		pathf(candidates[n++], PATH_MAX, "%s", sup->cfg.policy_dir);
	pathf(candidates[n++], PATH_MAX, "%s/../policy", sup->exe_dir);
	pathf(candidates[n++], PATH_MAX, "%s", MCPGATE_POLICYDIR);
	for (size_t i = 0; i < n; i++) {
		char probe[PATH_MAX + 32];
		pathf(probe, sizeof probe, "%s/groups.policy", candidates[i]);
		if (access(probe, R_OK) == 0) {
			if (!realpath(candidates[i], sup->policy_dir))
				pathf(sup->policy_dir, sizeof sup->policy_dir, "%s", candidates[i]);
			return 0;
		}
	}
	return -1;
}

static char *read_policy(const struct supervisor *sup, const char *file)
{
	char path[PATH_MAX + 64];
	pathf(path, sizeof path, "%s/%s", sup->policy_dir, file);
	char *text = read_small_file(path, NULL);
	if (!text)
		log_error("policy_unreadable", LOG_STR("path", path), LOG_STR("error", strerror(errno)));
	return text;
}

/* ---- listeners ---- */

static int split_address(const char *address, char *host, size_t hlen, char *port, size_t plen)
{
	const char *colon;
	if (address[0] == '[') {
		const char *close_br = strchr(address, ']');
		if (!close_br || close_br[1] != ':')
			return -1;
		snprintf(host, hlen, "%.*s", (int)(close_br - address - 1), address + 1);
		colon = close_br + 1;
	} else {
		colon = strrchr(address, ':');
		if (!colon)
			return -1;
		snprintf(host, hlen, "%.*s", (int)(colon - address), address);
	}
	snprintf(port, plen, "%s", colon + 1);
	return 0;
}

static int bind_listener(const char *address)
{
	char host[256], port[16];
	if (split_address(address, host, sizeof host, port, sizeof port) != 0)
		return -1;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	                          .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *res;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1;
	if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	                (res->ai_family == AF_INET6 &&
	                 setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) ||
	                bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 4096) != 0)) {
		int saved = errno;
		close(fd);
		fd = -1;
		errno = saved;
	}
	freeaddrinfo(res);
	return fd;
}

/* ---- HELLO ---- */

static json_t *sandbox_json(struct supervisor *sup, struct child *c, const char *policy_text)
{
	json_t *sb = json_pack("{s:s, s:s, s:s, s:b, s:I, s:I, s:b}",
		"groups", sup->groups_text, "policy", policy_text, "policy_name", c->def->policy,
		"switch_user", sup->as_root, "uid", (json_int_t)c->uid, "gid", (json_int_t)c->gid,
		"debug", sup->cfg.sandbox_debug);
	json_int_t nofile = c->def->kind == CHILD_EDGE ? (json_int_t)sup->cfg.max_connections + 256
	                                               : 4096;
	json_object_set_new(sb, "nofile", json_integer(nofile));
	/* Auth reaches Redis and JWKS endpoints, servers reach AWS: only they may connect out. */
	json_object_set_new(sb, "allow_tcp_connect",
		json_boolean(c->def->kind == CHILD_AUTH || c->def->kind == CHILD_SERVER));
	/* Edge and router need no filesystem at all after start-up. Auth and the servers resolve
	 * host names (Redis, JWKS, AWS endpoints), which reads these files and nothing else. */
	json_t *fs_read = json_array();
	if (c->def->kind == CHILD_AUTH || c->def->kind == CHILD_SERVER) {
		static const char *const resolver_files[] = { "/etc/hosts", "/etc/resolv.conf",
			"/etc/nsswitch.conf", "/etc/host.conf", "/etc/gai.conf", NULL };
		for (size_t i = 0; resolver_files[i]; i++)
			json_array_append_new(fs_read, json_string(resolver_files[i]));
	}
	/* The AWS servers also read CA certificates and the token files their environment names. */
	const struct config_server *srv = NULL;
	if (c->def->kind == CHILD_SERVER && !server_is_thirdparty(sup, c, &srv) && srv) {
		char *env[AWS_ENV_MAX];
		const char *paths[16];
		aws_env_build(env, AWS_ENV_MAX, NULL, srv->env);
		size_t n = aws_env_read_paths(paths, 16, env);
		for (size_t i = 0; i < n; i++)
			json_array_append_new(fs_read, json_string(paths[i]));
	}
	json_object_set_new(sb, "fs_read", fs_read);
	return sb;
}

static json_t *build_hello(struct supervisor *sup, struct child *c, json_t *fds,
                           const char *policy_text)
{
	return json_pack("{s:s, s:s, s:i, s:O, s:O, s:o, s:o}", "name", c->name,
		"role", c->def->role, "instance", (int)c->instance,
		"config", json_object_get(c->slice, "config"), "data", json_object_get(c->slice, "data"),
		"fds", fds, "sandbox", sandbox_json(sup, c, policy_text));
}

/* What a role gets besides its config slice: file contents it cannot read itself once
 * sandboxed (TLS certificate and key, API key records) and the shared session key. */
static json_t *child_data(struct supervisor *sup, struct child *c)
{
	json_t *data = json_object();
	if (c->def->kind == CHILD_EDGE) {
		bool tls = false;
		for (size_t i = 0; i < sup->cfg.n_listeners; i++)
			tls |= sup->cfg.listeners[i].kind == LISTENER_TLS;
		if (tls) {
			char *cert = read_small_file(sup->cfg.tls_certificate, NULL);
			char *key = read_small_file(sup->cfg.tls_key, NULL);
			if (cert && key) {
				json_object_set_new(data, "tls_certificate", json_string(cert));
				json_object_set_new(data, "tls_key", json_string(key));
			} else {
				log_error("tls_files_unreadable", LOG_STR("certificate", sup->cfg.tls_certificate),
				          LOG_STR("key", sup->cfg.tls_key));
			}
			if (key)
				explicit_bzero(key, strlen(key));
			free(cert);
			free(key);
		}
	} else if (c->def->kind == CHILD_AUTH) {
		json_object_set_new(data, "session_key", json_string(sup->session_key_hex));
		char *rbac = read_policy(sup, "rbac.json");
		if (rbac)
			json_object_set_new(data, "rbac", json_string(rbac));
		free(rbac);
		if (sup->cfg.keys_file[0]) {
			char *keys = read_small_file(sup->cfg.keys_file, NULL);
			if (keys)
				json_object_set_new(data, "keys", json_string(keys));
			else
				log_error("keys_file_unreadable", LOG_STR("path", sup->cfg.keys_file),
				          LOG_STR("error", strerror(errno)));
			free(keys);
		}
	}
	return data;
}

/* ---- links ---- */

struct fd_list {
	int fds[CONFIG_MAX_LISTENERS + MAX_CHILDREN + 4];
	size_t n;
	json_t *names; /* name -> fd number in the child */
	int close_after[MAX_CHILDREN + 8];
	size_t n_close;
};

static void fd_list_add(struct fd_list *l, const char *name, int fd, bool close_after)
{
	json_object_set_new(l->names, name, json_integer(4 + (json_int_t)l->n));
	l->fds[l->n++] = fd;
	if (close_after)
		l->close_after[l->n_close++] = fd;
}

/* A fresh socketpair between the starting child and a running peer: the child gets one end
 * at exec under `name_here`, the peer gets the other in a LINK frame under `name_there`. */
static void link_to_peer(struct fd_list *l, struct child *peer, const char *name_here,
                         const char *name_there)
{
	if (!child_has_control(peer))
		return;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		log_error("socketpair_failed", LOG_STR("error", strerror(errno)));
		return;
	}
	char meta[128];
	int mlen = snprintf(meta, sizeof meta, "{\"link\":\"%s\"}", name_there);
	if (channel_send(peer->control, FRAME_LINK, 0, 0, meta, (size_t)mlen, NULL, 0, sv[1]) != 0) {
		close(sv[0]);
		return;
	}
	fd_list_add(l, name_here, sv[0], true);
}

/* The router knows a server's link as "upstream:NAME", a per-session one as
 * "upstream:NAME#SESSION". */
static void upstream_link_name(const struct child *server, char *out, size_t cap)
{
	if (server->session[0])
		snprintf(out, cap, "upstream:%s#%s", server->server_name, server->session);
	else
		snprintf(out, cap, "upstream:%s", server->server_name);
}

static void send_upstream_link(struct supervisor *sup, struct child *server)
{
	for (size_t i = 0; i < sup->n_children; i++) {
		struct child *r = sup->children[i];
		if (r->def->kind != CHILD_ROUTER || !child_has_control(r))
			continue;
		int copy = fcntl(server->router_end, F_DUPFD_CLOEXEC, 3);
		if (copy < 0)
			continue;
		char link[160], meta[200];
		upstream_link_name(server, link, sizeof link);
		int mlen = snprintf(meta, sizeof meta, "{\"link\":\"%s\"}", link);
		channel_send(r->control, FRAME_LINK, 0, 0, meta, (size_t)mlen, NULL, 0, copy);
	}
}

static void collect_fds(struct supervisor *sup, struct child *c, struct fd_list *l, int *stdio_fd)
{
	char name[160];
	for (size_t i = 0; i < sup->n_children; i++) {
		struct child *p = sup->children[i];
		switch (c->def->kind) {
		case CHILD_EDGE:
			if (p->def->kind == CHILD_AUTH)
				link_to_peer(l, p, "auth", c->name);
			break;
		case CHILD_AUTH:
			if (p->def->kind == CHILD_EDGE)
				link_to_peer(l, p, p->name, "auth");
			else if (p->def->kind == CHILD_ROUTER)
				link_to_peer(l, p, "router", "auth");
			break;
		case CHILD_ROUTER:
			if (p->def->kind == CHILD_AUTH) {
				link_to_peer(l, p, "auth", "router");
			} else if (p->def->kind == CHILD_SERVER && p->router_end >= 0) {
				upstream_link_name(p, name, sizeof name);
				fd_list_add(l, name, p->router_end, false);
			}
			break;
		case CHILD_SERVER:
			break;
		}
	}
	if (c->def->kind == CHILD_EDGE) {
		for (size_t i = 0; i < sup->n_listen; i++) {
			snprintf(name, sizeof name, "listen%zu", i);
			fd_list_add(l, name, sup->listen_fds[i], false);
		}
	}
	*stdio_fd = -1;
	if (c->def->kind == CHILD_SERVER) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
			c->router_end = sv[0];
			*stdio_fd = sv[1];
		} else {
			log_error("socketpair_failed", LOG_STR("error", strerror(errno)));
		}
	}
}

/* ---- starting, readiness ---- */

static void update_readiness(struct supervisor *sup);
static void begin_shutdown(struct supervisor *sup, const char *reason, int exit_code);

static void handle_spawn(struct supervisor *sup, struct child *router, const struct frame *f);

static void on_control_frame(struct channel *ch, const struct frame *f, void *arg)
{
	(void)ch;
	struct child *c = arg;
	if (f->type == FRAME_SPAWN && c->def->kind == CHILD_ROUTER) {
		handle_spawn(c->sup, c, f);
		return;
	}
	if (f->type == FRAME_READY && c->state == CHILD_STARTING) {
		c->state = CHILD_READY;
		log_info("child_ready", LOG_STR("child", c->name), LOG_INT("pid", c->pid),
		         LOG_INT("uid", c->uid), LOG_INT("restarts", c->restarts));
		update_readiness(c->sup);
		return;
	}
	/* Anything else from a child is a protocol violation: it may be compromised. */
	log_warn("child_protocol_violation", LOG_STR("child", c->name),
	         LOG_STR("frame", frame_type_name(f->type)));
	kill(c->pid, SIGKILL);
}

static void on_control_close(struct channel *ch, const char *reason, void *arg)
{
	struct child *c = arg;
	log_debug("child_control_closed", LOG_STR("child", c->name), LOG_STR("reason", reason));
	channel_free(ch);
	c->control = NULL;
}

static const struct channel_callbacks control_callbacks = {
	.on_frame = on_control_frame,
	.on_close = on_control_close,
};

/* {"config": the role's slice, "data": child_data()}: sent in HELLO, and again on reload
 * when it changed. */
static json_t *child_payload(struct supervisor *sup, struct child *c)
{
	json_t *slice;
	if (c->def->kind != CHILD_SERVER) {
		slice = config_slice_for_role(&sup->cfg, c->def->role);
	} else {
		char role[96];
		snprintf(role, sizeof role, "server:%s", c->server_name);
		slice = config_slice_for_role(&sup->cfg, role);
	}
	if (!slice)
		return NULL;
	return json_pack("{s:o, s:o}", "config", slice, "data", child_data(sup, c));
}

static char **server_env(const struct config_server *s)
{
	static char *fallback[] = { "PATH=/usr/local/bin:/usr/bin:/bin", NULL };
	return s && s->env ? s->env : fallback;
}

static int start_child(struct supervisor *sup, struct child *c)
{
	const struct config_server *srv = NULL;
	bool thirdparty = c->def->kind == CHILD_SERVER && server_is_thirdparty(sup, c, &srv);
	char program[PATH_MAX];
	if (c->def->kind == CHILD_SERVER && !srv) {
		log_error("server_unknown", LOG_STR("child", c->name));
		return -1;
	}
	if (thirdparty) {
		snprintf(program, sizeof program, "%s", srv->argv[0]);
	} else {
		char name[128];
		if (c->def->kind == CHILD_SERVER)
			snprintf(name, sizeof name, "mcpgate-server-%s", srv->builtin);
		else
			snprintf(name, sizeof name, "%s", c->def->program);
		if (locate_program(sup, name, program, sizeof program) != 0) {
			log_error("program_not_found", LOG_STR("program", name),
			          LOG_STR("hint", "set MCPGATE_LIBEXEC or install mcpgate"));
			return -1;
		}
	}
	char *policy_text = read_policy(sup, thirdparty ? "thirdparty.policy" : c->def->policy);
	if (!policy_text)
		return -1;

	int control[2] = { -1, -1 }, logpipe[2] = { -1, -1 };
	if (!thirdparty && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, control) != 0)
		goto fail_sys;
	if (pipe2(logpipe, O_CLOEXEC) != 0)
		goto fail_sys;

	json_decref(c->slice);
	c->slice = child_payload(sup, c);
	struct fd_list fl = { .names = json_object() };
	int stdio_fd = -1;
	collect_fds(sup, c, &fl, &stdio_fd);

	char argv0[160];
	snprintf(argv0, sizeof argv0, "%s", thirdparty ? srv->argv[0] : strrchr(program, '/') + 1);
	char *role_argv[] = { argv0, NULL };
	char level_env[64];
	snprintf(level_env, sizeof level_env, "MCPGATE_LOG_LEVEL=%s", sup->cfg.log_level);
	/* Sanitizer builds: LeakSanitizer cannot run inside the sandbox (it needs ptrace and
	 * /proc/self/task), so the children keep the other checks and skip the leak scan. */
	char asan_env[512] = "", ubsan_env[512] = "";
	const char *asan = getenv("ASAN_OPTIONS"), *ubsan = getenv("UBSAN_OPTIONS");
	snprintf(asan_env, sizeof asan_env, "ASAN_OPTIONS=%s%sdetect_leaks=0", asan ? asan : "",
	         asan && *asan ? ":" : "");
	if (ubsan)
		snprintf(ubsan_env, sizeof ubsan_env, "UBSAN_OPTIONS=%s", ubsan);
	char *role_env[] = { level_env, asan_env, ubsan_env[0] ? ubsan_env : NULL, NULL };
	char *builtin_env[AWS_ENV_MAX];
	if (c->def->kind == CHILD_SERVER && !thirdparty)
		aws_env_build(builtin_env, AWS_ENV_MAX, role_env, srv->env);

	/* A third-party server may read and run the system's programs and libraries, and read
	 * the directories of the files its command line names (its program, its script and the
	 * modules beside it); it may write only /tmp and /dev/null. */
	char own_dirs[8][PATH_MAX];
	size_t n_own = 0;
	for (size_t i = 0; thirdparty && i < srv->argc && n_own < 8; i++) {
		if (srv->argv[i][0] != '/' || !realpath(srv->argv[i], own_dirs[n_own]))
			continue;
		char *slash = strrchr(own_dirs[n_own], '/');
		if (slash && slash != own_dirs[n_own])
			*slash = '\0';
		n_own++;
	}
	const char *rx[16] = { "/usr", "/lib", "/lib64", "/bin", "/sbin", "/opt", "/usr/local" };
	for (size_t i = 0; i < n_own; i++)
		rx[7 + i] = own_dirs[i];
	const char *ro[] = { "/etc", "/proc", "/sys/devices/system/cpu", "/dev/urandom", "/dev/random",
	                     NULL };
	const char *rw[] = { "/dev/null", "/tmp", NULL };
	struct sandbox_spec tp_spec = {
		.role = c->name, .groups_text = sup->groups_text, .policy_text = policy_text,
		.policy_name = "thirdparty.policy", .allow_tcp_connect = true,
		.switch_user = sup->as_root, .uid = c->uid, .gid = c->gid,
		.fs_read = ro, .fs_read_exec = rx, .fs_write = rw,
		.limits = { .nofile = 4096, .no_core = true }, .debug = sup->cfg.sandbox_debug,
	};
	struct spawn_request req = {
		.path = program,
		.argv = thirdparty ? srv->argv : role_argv,
		.envp = thirdparty ? server_env(srv) : c->def->kind == CHILD_SERVER ? builtin_env : role_env,
		.stdio_fd = stdio_fd,
		.stderr_fd = logpipe[1],
		.control_fd = control[1],
		.extra_fds = fl.fds,
		.n_extra = fl.n,
		.sandbox = thirdparty ? &tp_spec : NULL,
	};
	pid_t pid = spawn_child(&req);
	int spawn_errno = errno;
	close(logpipe[1]);
	if (control[1] >= 0)
		close(control[1]);
	if (stdio_fd >= 0)
		close(stdio_fd);
	for (size_t i = 0; i < fl.n_close; i++)
		close(fl.close_after[i]);
	if (pid < 0) {
		errno = spawn_errno;
		json_decref(fl.names);
		close(logpipe[0]);
		if (control[0] >= 0)
			close(control[0]);
		goto fail_sys;
	}
	c->pid = pid;
	c->started_ms = now_ms();
	c->state = thirdparty ? CHILD_READY : CHILD_STARTING;
	logrelay_start(&c->log, sup->base, logpipe[0], c->name);
	if (!thirdparty) {
		c->control = channel_new(sup->base, control[0], c->name, &control_callbacks, c);
		json_t *hello = build_hello(sup, c, fl.names, policy_text);
		char *text = json_dumps(hello, JSON_COMPACT);
		json_decref(hello);
		if (!c->control || !text ||
		    channel_send(c->control, FRAME_HELLO, 0, 0, NULL, 0, text, strlen(text), -1) != 0)
			log_error("hello_send_failed", LOG_STR("child", c->name));
		if (text) {
			explicit_bzero(text, strlen(text)); /* it held the TLS key */
			free(text);
		}
	} else {
		json_decref(fl.names);
	}
	free(policy_text);
	if (c->def->kind == CHILD_SERVER)
		send_upstream_link(sup, c);
	log_info("child_started", LOG_STR("child", c->name), LOG_INT("pid", pid),
	         LOG_STR("program", program), LOG_INT("uid", sup->as_root ? (long long)c->uid : (long long)getuid()));
	update_readiness(sup);
	return 0;

fail_sys:
	log_error("child_start_failed", LOG_STR("child", c->name), LOG_STR("error", strerror(errno)));
	free(policy_text);
	return -1;
}

static void update_readiness(struct supervisor *sup)
{
	bool ready = !sup->stopping;
	for (size_t i = 0; i < sup->n_children && ready; i++) {
		struct child *c = sup->children[i];
		if (c->removed || c->session[0] ||
		    (c->def->kind == CHILD_SERVER && c->state == CHILD_FAILED))
			continue;
		ready = c->state == CHILD_READY;
	}
	if (ready == sup->ready)
		return;
	sup->ready = ready;
	char status[64];
	int len = snprintf(status, sizeof status, "{\"ready\":%s}", ready ? "true" : "false");
	for (size_t i = 0; i < sup->n_children; i++) {
		struct child *c = sup->children[i];
		if (c->def->kind == CHILD_EDGE && child_has_control(c))
			channel_send(c->control, FRAME_STATUS, 0, 0, NULL, 0, status, (size_t)len, -1);
	}
	if (ready && !sup->notified_ready) {
		sup->notified_ready = true;
		notify_systemd("READY=1");
		log_info("appliance_ready", LOG_INT("children", sup->n_children));
	} else {
		log_info(ready ? "appliance_ready_again" : "appliance_degraded");
	}
}

/* ---- deaths and restarts ---- */

static void on_restart_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct child *c = arg;
	if (c->sup->stopping || c->removed)
		return;
	c->restarts++;
	if (start_child(c->sup, c) != 0) {
		/* Could not even start: count it as a death so the tally ends the loop. */
		c->state = CHILD_BACKOFF;
		struct timeval tv = { .tv_sec = c->backoff_ms / 1000, .tv_usec = (c->backoff_ms % 1000) * 1000 };
		evtimer_add(c->restart_timer, &tv);
	}
}

static const char *signal_name(int sig)
{
	static char buf[16];
	const char *abbrev = sigabbrev_np(sig);
	snprintf(buf, sizeof buf, "SIG%s", abbrev ? abbrev : "?");
	return buf;
}

static bool all_children_down(const struct supervisor *sup, int kind_or_any)
{
	for (size_t i = 0; i < sup->n_children; i++) {
		const struct child *c = sup->children[i];
		if (child_alive(c) && (kind_or_any < 0 || (int)c->def->kind == kind_or_any))
			return false;
	}
	return true;
}

static void drain_child(struct supervisor *sup, struct child *c)
{
	bool thirdparty = c->def->kind == CHILD_SERVER && server_is_thirdparty(sup, c, NULL);
	if (!child_alive(c))
		return;
	c->state = CHILD_STOPPING;
	if (!thirdparty && child_has_control(c) &&
	    channel_send(c->control, FRAME_DRAIN, 0, 0, NULL, 0, NULL, 0, -1) == 0)
		return;
	kill(c->pid, SIGTERM);
}

static void drain_backends(struct supervisor *sup)
{
	for (size_t i = 0; i < sup->n_children; i++)
		if (sup->children[i]->def->kind != CHILD_EDGE)
			drain_child(sup, sup->children[i]);
}

static void child_remove(struct supervisor *sup, struct child *c);

static void record_death(struct child *c, uint64_t now)
{
	uint64_t window = (uint64_t)c->sup->cfg.restart.window_seconds * 1000u;
	size_t keep = 0;
	for (size_t i = 0; i < c->n_deaths; i++)
		if (now - c->deaths[i] < window)
			c->deaths[keep++] = c->deaths[i];
	c->n_deaths = keep;
	if (c->n_deaths == CHILD_TALLY_MAX) {
		memmove(c->deaths, c->deaths + 1, (CHILD_TALLY_MAX - 1) * sizeof c->deaths[0]);
		c->n_deaths--;
	}
	c->deaths[c->n_deaths++] = now;
}

static void on_child_exit(struct supervisor *sup, struct child *c, int status)
{
	logrelay_finish(&c->log);
	if (c->control) {
		channel_free(c->control);
		c->control = NULL;
	}
	if (c->router_end >= 0) {
		close(c->router_end);
		c->router_end = -1;
	}
	pid_t pid = c->pid;
	c->pid = 0;
	uint64_t now = now_ms();
	uint64_t uptime = now - c->started_ms;

	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		log_emit(sup->stopping || c->removed ? LOG_INFO : LOG_ERROR, "child_killed", NULL, LOG_FIELDS_(
			LOG_STR("child", c->name), LOG_INT("pid", pid), LOG_STR("signal", signal_name(sig)),
			LOG_STR("reason", sig == SIGSYS ? "seccomp: a system call outside its policy"
			                                : "killed by signal"),
			LOG_INT("uptime_ms", uptime)));
	} else {
		int code = WEXITSTATUS(status);
		log_emit(sup->stopping || c->removed || code == 0 ? LOG_INFO : LOG_ERROR, "child_exited", NULL,
			LOG_FIELDS_(LOG_STR("child", c->name), LOG_INT("pid", pid), LOG_INT("code", code),
			LOG_INT("uptime_ms", uptime)));
	}

	if (c->def->kind == CHILD_ROUTER) {
		/* Per-session servers belong to the router's sessions: they end with it. */
		for (size_t i = 0; i < sup->n_children; i++) {
			struct child *ps = sup->children[i];
			if (ps->session[0] && !ps->removed) {
				ps->removed = true;
				if (child_alive(ps))
					kill(ps->pid, SIGTERM);
			}
		}
	}
	if (c->session[0] && !sup->stopping) {
		/* A per-session server is never restarted; the router fails that session's calls. */
		child_remove(sup, c);
		return;
	}
	if (sup->stopping || c->removed) {
		c->state = CHILD_DOWN;
		if (sup->stopping && all_children_down(sup, CHILD_EDGE))
			drain_backends(sup);
		if (sup->stopping && all_children_down(sup, -1))
			event_base_loopbreak(sup->base);
		update_readiness(sup);
		return;
	}

	record_death(c, now);
	if (c->n_deaths >= sup->cfg.restart.max_deaths) {
		c->state = CHILD_FAILED;
		log_error("child_failed_permanently", LOG_STR("child", c->name),
		          LOG_INT("deaths", c->n_deaths),
		          LOG_INT("window_seconds", sup->cfg.restart.window_seconds),
		          LOG_STR("hint", "see this child's last log lines above"));
		update_readiness(sup);
		if (c->def->kind != CHILD_SERVER)
			begin_shutdown(sup, "a core role failed permanently", 1);
		return;
	}
	/* s6-style throttle: at least 1 s between starts; quick deaths double the wait. */
	uint64_t delay;
	if (uptime >= HEALTHY_UPTIME_MS) {
		c->backoff_ms = MIN_RESTART_GAP_MS;
		delay = uptime >= MIN_RESTART_GAP_MS ? 0 : MIN_RESTART_GAP_MS - uptime;
	} else {
		delay = c->backoff_ms > uptime ? c->backoff_ms - uptime : 0;
		c->backoff_ms = c->backoff_ms * 2 > sup->cfg.restart.max_backoff_ms
		                ? sup->cfg.restart.max_backoff_ms : c->backoff_ms * 2;
	}
	c->state = CHILD_BACKOFF;
	log_info("child_restart_scheduled", LOG_STR("child", c->name), LOG_INT("delay_ms", delay),
	         LOG_INT("deaths_in_window", c->n_deaths));
	struct timeval tv = { .tv_sec = (time_t)(delay / 1000), .tv_usec = (suseconds_t)(delay % 1000) * 1000 };
	evtimer_add(c->restart_timer, &tv);
	update_readiness(sup);
}

static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	struct supervisor *sup = arg;
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0)
			break;
		for (size_t i = 0; i < sup->n_children; i++) {
			if (sup->children[i]->pid == pid) {
				on_child_exit(sup, sup->children[i], status);
				break;
			}
		}
	}
}

/* ---- stop ---- */

static void on_kill_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct supervisor *sup = arg;
	for (size_t i = 0; i < sup->n_children; i++) {
		struct child *c = sup->children[i];
		if (child_alive(c)) {
			log_warn("child_drain_timeout", LOG_STR("child", c->name), LOG_INT("pid", c->pid));
			kill(c->pid, SIGKILL);
		}
	}
}

static void on_drain_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	drain_backends(arg);
}

static void begin_shutdown(struct supervisor *sup, const char *reason, int exit_code)
{
	if (sup->stopping)
		return;
	sup->stopping = true;
	sup->exit_code = exit_code;
	notify_systemd("STOPPING=1");
	log_info("appliance_stopping", LOG_STR("reason", reason),
	         LOG_INT("timeout_ms", sup->cfg.shutdown_timeout_ms));
	for (size_t i = 0; i < sup->n_children; i++) {
		struct child *c = sup->children[i];
		evtimer_del(c->restart_timer);
		if (c->state == CHILD_BACKOFF)
			c->state = CHILD_DOWN;
	}
	/* Edges first, so no new work arrives; the rest once the edges are gone. */
	for (size_t i = 0; i < sup->n_children; i++)
		if (sup->children[i]->def->kind == CHILD_EDGE)
			drain_child(sup, sup->children[i]);
	if (all_children_down(sup, CHILD_EDGE))
		drain_backends(sup);
	uint32_t half = sup->cfg.shutdown_timeout_ms / 2;
	struct timeval drain_tv = { .tv_sec = half / 1000, .tv_usec = (half % 1000) * 1000 };
	struct timeval kill_tv = { .tv_sec = sup->cfg.shutdown_timeout_ms / 1000,
	                           .tv_usec = (sup->cfg.shutdown_timeout_ms % 1000) * 1000 };
	evtimer_add(sup->drain_timer, &drain_tv);
	evtimer_add(sup->kill_timer, &kill_tv);
	update_readiness(sup);
	if (all_children_down(sup, -1))
		event_base_loopbreak(sup->base);
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	begin_shutdown(arg, sig == SIGINT ? "SIGINT" : "SIGTERM", 0);
}

/* ---- child records ---- */

static struct child *child_new(struct supervisor *sup, const struct role_def *def, unsigned instance,
                               const char *server_name)
{
	if (sup->n_children >= MAX_CHILDREN)
		return NULL;
	struct child *c = calloc(1, sizeof *c);
	if (!c)
		fatal_sys("calloc");
	c->sup = sup;
	c->def = def;
	c->instance = instance;
	c->router_end = -1;
	c->log.fd = -1;
	c->backoff_ms = MIN_RESTART_GAP_MS;
	c->restart_timer = evtimer_new(sup->base, on_restart_timer, c);
	if (def->kind == CHILD_EDGE)
		snprintf(c->name, sizeof c->name, "edge.%u", instance);
	else if (def->kind == CHILD_SERVER)
		snprintf(c->name, sizeof c->name, "server:%s", server_name);
	else
		snprintf(c->name, sizeof c->name, "%s", def->role);
	if (server_name)
		snprintf(c->server_name, sizeof c->server_name, "%s", server_name);
	if (sup->as_root) {
		char user[64], err[256];
		snprintf(user, sizeof user, "%s%s%s", sup->cfg.run_as_prefix, def->user,
		         server_name ? server_name : "");
		user[32] = '\0'; /* useradd's limit */
		if (role_user_ensure(user, &c->uid, &c->gid, err, sizeof err) != 0)
			fatal_exit(EXIT_SYSCALL, "role_user", LOG_FIELDS_(LOG_STR("reason", err)));
	} else {
		c->uid = getuid();
		c->gid = getgid();
	}
	sup->children[sup->n_children++] = c;
	return c;
}

static void child_free(struct child *c)
{
	if (c->control)
		channel_free(c->control);
	logrelay_finish(&c->log);
	if (c->router_end >= 0)
		close(c->router_end);
	event_free(c->restart_timer);
	json_decref(c->slice);
	free(c);
}

static const struct role_def *role_of(enum child_kind kind)
{
	for (size_t i = 0; i < sizeof role_table / sizeof role_table[0]; i++)
		if (role_table[i].kind == kind)
			return &role_table[i];
	fatal("role_table_incomplete");
}

static struct child *find_server(struct supervisor *sup, const char *name)
{
	for (size_t i = 0; i < sup->n_children; i++) {
		struct child *c = sup->children[i];
		if (c->def->kind == CHILD_SERVER && strcmp(c->server_name, name) == 0)
			return c;
	}
	return NULL;
}

/* ---- per-session servers ---- */

#define PER_SESSION_MAX 64 /* processes of one per-session server at once */

static void child_remove(struct supervisor *sup, struct child *c)
{
	for (size_t i = 0; i < sup->n_children; i++) {
		if (sup->children[i] == c) {
			memmove(&sup->children[i], &sup->children[i + 1],
			        (sup->n_children - i - 1) * sizeof sup->children[0]);
			sup->n_children--;
			break;
		}
	}
	child_free(c);
}

static bool valid_session_id(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return false;
	return true;
}

static void spawn_failed(struct child *router, const char *server, const char *session,
                         const char *reason)
{
	log_warn("per_session_spawn_refused", LOG_STR("server", server), LOG_STR("reason", reason));
	json_t *body = json_pack("{s:{s:s, s:s, s:s}}", "spawn_failed", "server", server, "session",
	                         session, "reason", reason);
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (text && child_has_control(router))
		channel_send(router->control, FRAME_STATUS, 0, 0, NULL, 0, text, strlen(text), -1);
	free(text);
}

/* The router asks for a server process of one client session's own (a server configured
 * "per_session": it cannot share state across sessions), or for its end. The request is
 * bounded: only configured per-session servers, well-formed session ids, a cap per server. */
static void handle_spawn(struct supervisor *sup, struct child *router, const struct frame *f)
{
	json_t *meta = json_loadb((const char *)f->meta, f->meta_len, JSON_REJECT_DUPLICATES, NULL);
	const char *op = json_string_value(json_object_get(meta, "op"));
	const char *server = json_string_value(json_object_get(meta, "server"));
	const char *session = json_string_value(json_object_get(meta, "session"));
	if (!op || !server || !session || !valid_session_id(session) || sup->stopping) {
		spawn_failed(router, server ? server : "", session && valid_session_id(session) ? session : "",
		             sup->stopping ? "the appliance is stopping" : "malformed spawn request");
		json_decref(meta);
		return;
	}
	const struct config_server *cs = NULL;
	for (size_t i = 0; i < sup->cfg.n_servers; i++)
		if (strcmp(sup->cfg.servers[i].name, server) == 0)
			cs = &sup->cfg.servers[i];
	struct child *existing = NULL;
	size_t running = 0;
	for (size_t i = 0; i < sup->n_children; i++) {
		struct child *c = sup->children[i];
		if (c->def->kind == CHILD_SERVER && c->session[0] && strcmp(c->server_name, server) == 0 &&
		    !c->removed) {
			running++;
			if (strcmp(c->session, session) == 0)
				existing = c;
		}
	}
	if (strcmp(op, "stop") == 0) {
		if (existing) {
			existing->removed = true;
			log_info("per_session_server_stopping", LOG_STR("child", existing->name));
			drain_child(sup, existing);
		}
	} else if (strcmp(op, "start") != 0) {
		spawn_failed(router, server, session, "unknown op");
	} else if (!cs || !cs->per_session) {
		spawn_failed(router, server, session, "not a per-session server");
	} else if (existing) {
		spawn_failed(router, server, session, "already running for this session");
	} else if (running >= PER_SESSION_MAX) {
		spawn_failed(router, server, session, "too many sessions with their own process");
	} else {
		struct child *c = child_new(sup, role_of(CHILD_SERVER), 0, server);
		if (!c) {
			spawn_failed(router, server, session, "the process table is full");
		} else {
			snprintf(c->session, sizeof c->session, "%s", session);
			snprintf(c->name, sizeof c->name, "server:%s#%.16s", server, session);
			if (start_child(sup, c) != 0) {
				spawn_failed(router, server, session, "the server could not be started");
				child_remove(sup, c);
			}
		}
	}
	json_decref(meta);
}

/* ---- reload ---- */

/* From the file, or from a Secrets Manager secret fetched by the secrets server binary. */
static int load_config(struct supervisor *sup, struct config *cfg, struct config_error *err)
{
	char fetcher[PATH_MAX];
	bool have_fetcher = locate_program(sup, "mcpgate-server-secrets", fetcher, sizeof fetcher) == 0;
	return config_source_load(sup->config_path, have_fetcher ? fetcher : NULL, cfg, err);
}

static void reload(struct supervisor *sup)
{
	struct config next;
	struct config_error err;
	if (load_config(sup, &next, &err) != 0) {
		log_error("config_reload_rejected", LOG_STR("reason", err.text),
		          LOG_STR("hint", "the running configuration is unchanged"));
		return;
	}
	notify_systemd("RELOADING=1");
	bool listeners_changed = next.n_listeners != sup->cfg.n_listeners ||
		next.edge_instances != sup->cfg.edge_instances;
	for (size_t i = 0; !listeners_changed && i < next.n_listeners; i++)
		listeners_changed = strcmp(next.listeners[i].address, sup->cfg.listeners[i].address) != 0 ||
		                    next.listeners[i].kind != sup->cfg.listeners[i].kind;
	if (listeners_changed)
		log_warn("config_reload_partial", LOG_STR("reason",
			"listeners and edge instances change only on restart"));
	/* Keep the bound listeners and edge count; take everything else. */
	memcpy(next.listeners, sup->cfg.listeners, sizeof next.listeners);
	next.n_listeners = sup->cfg.n_listeners;
	next.edge_instances = sup->cfg.edge_instances;
	struct config old = sup->cfg;
	sup->cfg = next;

	/* Servers dropped from the config are drained; new ones started; changed ones restarted. */
	for (size_t i = 0; i < sup->n_children; i++) {
		struct child *c = sup->children[i];
		if (c->def->kind != CHILD_SERVER || c->removed)
			continue;
		const struct config_server *now_cfg = NULL;
		server_is_thirdparty(sup, c, &now_cfg);
		if (!now_cfg) {
			c->removed = true;
			log_info("server_removed", LOG_STR("child", c->name));
			evtimer_del(c->restart_timer);
			drain_child(sup, c);
		}
	}
	for (size_t i = 0; i < sup->cfg.n_servers; i++) {
		if (!find_server(sup, sup->cfg.servers[i].name)) {
			struct child *c = child_new(sup, role_of(CHILD_SERVER), 0, sup->cfg.servers[i].name);
			if (c) {
				log_info("server_added", LOG_STR("child", c->name));
				start_child(sup, c);
			}
		}
	}
	size_t changed = 0;
	for (size_t i = 0; i < sup->n_children; i++) {
		struct child *c = sup->children[i];
		if (c->removed)
			continue;
		json_t *slice = child_payload(sup, c);
		if (slice && !json_equal(slice, c->slice)) {
			changed++;
			json_decref(c->slice);
			c->slice = slice;
			bool thirdparty = c->def->kind == CHILD_SERVER && server_is_thirdparty(sup, c, NULL);
			if (thirdparty) {
				/* Its command line and environment are fixed at exec: restart it. */
				if (child_alive(c))
					kill(c->pid, SIGTERM);
			} else if (child_has_control(c)) {
				char *text = json_dumps(slice, JSON_COMPACT);
				if (text)
					channel_send(c->control, FRAME_CONFIG, 0, 0, NULL, 0, text, strlen(text), -1);
				free(text);
			}
		} else {
			json_decref(slice);
		}
	}
	config_free(&old);
	log_info("config_reloaded", LOG_INT("children_updated", changed));
	notify_systemd("READY=1");
}

static void on_sighup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	struct supervisor *sup = arg;
	if (!sup->stopping)
		reload(sup);
}

/* ---- entry ---- */

/* The key that seals session ids. Replicas behind one load balancer must share it (a file
 * such as `openssl rand -hex 32` makes, from a secret store); one appliance alone may use a
 * random key made here, at the cost of its sessions not surviving a restart. */
static int make_session_key(struct supervisor *sup)
{
	if (sup->cfg.session_key_file[0]) {
		size_t len = 0;
		char *text = read_small_file(sup->cfg.session_key_file, &len);
		while (text && len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
			text[--len] = '\0';
		bool ok = text && len == 64;
		for (size_t i = 0; ok && i < len; i++) {
			char ch = text[i];
			if (ch >= 'A' && ch <= 'F')
				ch = (char)(ch - 'A' + 'a');
			ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
			sup->session_key_hex[i] = ch;
		}
		if (text)
			explicit_bzero(text, len);
		free(text);
		if (!ok) {
			explicit_bzero(sup->session_key_hex, sizeof sup->session_key_hex);
			log_error("session_key_invalid", LOG_STR("path", sup->cfg.session_key_file),
			          LOG_STR("hint", "it must hold 64 hex digits, e.g. from `openssl rand -hex 32`"));
			return -1;
		}
		sup->session_key_hex[64] = '\0';
		return 0;
	}
	unsigned char key[32];
	if (getrandom(key, sizeof key, 0) != (ssize_t)sizeof key)
		return -1;
	for (size_t i = 0; i < sizeof key; i++)
		snprintf(sup->session_key_hex + 2 * i, 3, "%02x", key[i]);
	explicit_bzero(key, sizeof key);
	return 0;
}

static void find_exe_dir(struct supervisor *sup)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		fatal_sys("readlink_proc_self_exe");
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	snprintf(sup->exe_dir, sizeof sup->exe_dir, "%s", exe);
}

int supervise_run(const char *config_path)
{
	static struct supervisor sup_storage;
	struct supervisor *sup = &sup_storage;
	struct config_error err;
	snprintf(sup->config_path, sizeof sup->config_path, "%s", config_path);
	find_exe_dir(sup);
	if (load_config(sup, &sup->cfg, &err) != 0) {
		fprintf(stderr, "mcpgate: %s\n", err.text);
		return EXIT_CONFIG;
	}
	enum log_level level;
	if (log_level_from_name(sup->cfg.log_level, &level) == 0)
		log_set_level(level);
	sup->as_root = geteuid() == 0;
	if (make_session_key(sup) != 0)
		return EXIT_CONFIG;
	if (locate_policy_dir(sup) != 0) {
		log_error("policy_dir_not_found", LOG_STR("hint", "set supervisor.policy_dir in the config"));
		return EXIT_CONFIG;
	}
	sup->groups_text = read_policy(sup, "groups.policy");
	if (!sup->groups_text)
		return EXIT_CONFIG;
	for (size_t i = 0; i < sup->cfg.n_listeners; i++) {
		int fd = bind_listener(sup->cfg.listeners[i].address);
		if (fd < 0) {
			log_error("listen_failed", LOG_STR("address", sup->cfg.listeners[i].address),
			          LOG_STR("error", strerror(errno)));
			return EXIT_SYSCALL;
		}
		sup->listen_fds[sup->n_listen++] = fd;
		log_info("listening", LOG_STR("address", sup->cfg.listeners[i].address),
		         LOG_STR("tls", sup->cfg.listeners[i].kind == LISTENER_TLS ? "on" : "off"));
	}
	signal(SIGPIPE, SIG_IGN);
	sup->base = event_base_new();
	if (!sup->base)
		fatal("event_base_new");
	int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };
	event_callback_fn handlers[] = { on_stop_signal, on_stop_signal, on_sighup, on_sigchld };
	for (size_t i = 0; i < 4; i++) {
		sup->signals[i] = evsignal_new(sup->base, sigs[i], handlers[i], sup);
		if (!sup->signals[i] || evsignal_add(sup->signals[i], NULL) != 0)
			fatal("evsignal_add");
	}
	sup->drain_timer = evtimer_new(sup->base, on_drain_timer, sup);
	sup->kill_timer = evtimer_new(sup->base, on_kill_timer, sup);

	child_new(sup, role_of(CHILD_AUTH), 0, NULL);
	child_new(sup, role_of(CHILD_ROUTER), 0, NULL);
	for (size_t i = 0; i < sup->cfg.n_servers; i++)
		child_new(sup, role_of(CHILD_SERVER), 0, sup->cfg.servers[i].name);
	for (unsigned i = 0; i < sup->cfg.edge_instances; i++)
		child_new(sup, role_of(CHILD_EDGE), i, NULL);
	log_info("appliance_starting", LOG_STR("config", config_path),
	         LOG_STR("version", MCPGATE_VERSION), LOG_INT("children", sup->n_children),
	         LOG_STR("policy_dir", sup->policy_dir), LOG_INT("as_root", sup->as_root));
	if (!sup->as_root)
		log_warn("not_root", LOG_STR("effect",
			"roles share this user; seccomp, Landlock and no_new_privs still apply"));
	for (size_t i = 0; i < sup->n_children; i++) {
		if (start_child(sup, sup->children[i]) != 0) {
			begin_shutdown(sup, "a child could not be started", EXIT_SYSCALL);
			break;
		}
	}
	event_base_dispatch(sup->base);
	log_info("appliance_stopped", LOG_INT("exit_code", sup->exit_code));

	for (size_t i = 0; i < sup->n_children; i++)
		child_free(sup->children[i]);
	for (size_t i = 0; i < 4; i++)
		event_free(sup->signals[i]);
	event_free(sup->drain_timer);
	event_free(sup->kill_timer);
	for (size_t i = 0; i < sup->n_listen; i++)
		close(sup->listen_fds[i]);
	event_base_free(sup->base);
	free(sup->groups_text);
	config_free(&sup->cfg);
	return sup->exit_code;
}
