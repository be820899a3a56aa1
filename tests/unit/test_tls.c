/* Tests the edge connection layer (conn.c plain, tls.c TLS) against an echo server built on it,
 * with real clients: openssl s_client and curl for the TLS policy, an in-process mbedtls client
 * for bulk data, small socket buffers and concurrency. `test_tls --rss N` measures memory. */
#include "conn.h"
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "log.h"

extern char **environ;

#include "check.h"

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- randomness for the test's own keys and clients ---- */

static int test_entropy(void *unused, unsigned char *out, size_t len)
{
	(void)unused;
	return getrandom(out, len, 0) == (ssize_t)len ? 0 : -1;
}

static int drbg_setup(mbedtls_ctr_drbg_context *drbg)
{
	mbedtls_ctr_drbg_init(drbg);
	return mbedtls_ctr_drbg_seed(drbg, test_entropy, NULL, (const unsigned char *)"test", 4);
}

/* ---- certificates, generated in-process: no key ever touches the disk ---- */

struct identity {
	char cert[8192];
	char key[8192];
	char cert_path[PATH_MAX]; /* the certificate alone, for the clients' trust store */
};

enum key_kind { KEY_EC_P256, KEY_EC_P521, KEY_RSA2048, KEY_RSA1024 };

static int make_identity(struct identity *id, enum key_kind kind, const char *not_after)
{
	mbedtls_ctr_drbg_context drbg;
	mbedtls_pk_context key;
	mbedtls_x509write_cert crt;
	mbedtls_mpi serial;
	int r;

	/* subjectAltName: DNS:localhost, IP:127.0.0.1 (2.28 has no helper for it) */
	static const unsigned char san[] = { 0x30, 0x11, 0x82, 0x09, 'l', 'o', 'c', 'a', 'l', 'h',
	                                     'o', 's', 't', 0x87, 0x04, 127, 0, 0, 1 };
	mbedtls_pk_init(&key);
	mbedtls_x509write_crt_init(&crt);
	mbedtls_mpi_init(&serial);
	if ((r = drbg_setup(&drbg)) != 0)
		goto out;
	if (kind == KEY_RSA2048 || kind == KEY_RSA1024) {
		if ((r = mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA))) != 0 ||
		    (r = mbedtls_rsa_gen_key(mbedtls_pk_rsa(key), mbedtls_ctr_drbg_random, &drbg,
		                             kind == KEY_RSA2048 ? 2048 : 1024, 65537)) != 0)
			goto out;
	} else {
		mbedtls_ecp_group_id gid = kind == KEY_EC_P256 ? MBEDTLS_ECP_DP_SECP256R1
		                                               : MBEDTLS_ECP_DP_SECP521R1;
		if ((r = mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY))) != 0 ||
		    (r = mbedtls_ecp_gen_key(gid, mbedtls_pk_ec(key), mbedtls_ctr_drbg_random, &drbg)) != 0)
			goto out;
	}
	mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&crt, &key);
	mbedtls_x509write_crt_set_issuer_key(&crt, &key);
	if ((r = mbedtls_mpi_lset(&serial, 4242)) != 0 ||
	    (r = mbedtls_x509write_crt_set_serial(&crt, &serial)) != 0 ||
	    (r = mbedtls_x509write_crt_set_subject_name(&crt, "CN=localhost,O=mcpgate test")) != 0 ||
	    (r = mbedtls_x509write_crt_set_issuer_name(&crt, "CN=localhost,O=mcpgate test")) != 0 ||
	    (r = mbedtls_x509write_crt_set_validity(&crt, "20200101000000", not_after)) != 0 ||
	    (r = mbedtls_x509write_crt_set_basic_constraints(&crt, 1, 0)) != 0 ||
	    (r = mbedtls_x509write_crt_set_extension(&crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
	                                             MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME),
	                                             0, san, sizeof san)) != 0 ||
	    (r = mbedtls_x509write_crt_pem(&crt, (unsigned char *)id->cert, sizeof id->cert,
	                                   mbedtls_ctr_drbg_random, &drbg)) != 0 ||
	    (r = mbedtls_pk_write_key_pem(&key, (unsigned char *)id->key, sizeof id->key)) != 0)
		goto out;
out:
	mbedtls_mpi_free(&serial);
	mbedtls_x509write_crt_free(&crt);
	mbedtls_pk_free(&key);
	mbedtls_ctr_drbg_free(&drbg);
	if (r != 0) {
		char text[128];
		mbedtls_strerror(r, text, sizeof text);
		fprintf(stderr, "make_identity: %s\n", text);
	}
	return r;
}

static char tmpdir[64]; /* "/tmp/test_tls.XXXXXX" */

static int write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, data, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

/* Reads at most cap-1 bytes and NUL-terminates; output that was longer is cut. */
static size_t read_file(const char *path, char *buf, size_t cap)
{
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n;
		while (got + 1 < cap && (n = read(fd, buf + got, cap - 1 - got)) > 0)
			got += (size_t)n;
		close(fd);
	}
	buf[got] = '\0';
	return got;
}

/* ---- the echo server, on the conn layer, in its own thread ---- */

struct echo_opts {
	size_t read_chunk;          /* bytes asked per conn_read */
	bool one_read_per_callback; /* leave decrypted input in mbedtls on purpose */
	int sockbuf;                /* SO_SNDBUF/SO_RCVBUF for accepted sockets; 0 = default */
	size_t out_limit;
	int handshake_timeout_ms;
};

struct server;

struct listener {
	struct server *srv;
	int fd;
	int port;
	struct tls_context *tls; /* NULL: plain */
	struct echo_opts opts;
	struct event ev;
};

struct session {
	struct server *srv;
	struct listener *l;
	struct conn *c;
	struct event timer;
	bool paused;
	bool seen_data;
	struct session *prev, *next;
};

struct server {
	struct event_base *base;
	pthread_t thread;
	struct listener listeners[4];
	int nlisteners;
	int stop_pipe[2];
	struct event stop_ev;
	struct session *sessions;
	int live;
	bool stopping;
	/* Results: written by the server thread, read after it is joined. */
	unsigned reasons[5];
	unsigned timeouts;
	unsigned pauses;
	unsigned write_errors;
	unsigned opened;
	unsigned alpn_http11;
	unsigned accept_failures;
	struct conn_counters before, after;
};

static void session_on_open(struct conn *c, void *arg)
{
	struct session *s = arg;
	evtimer_del(&s->timer);
	s->srv->opened++;
	const char *alpn = tls_conn_alpn(c);
	if (alpn && strcmp(alpn, "http/1.1") == 0)
		s->srv->alpn_http11++;
}

static void session_write(struct session *s, const void *buf, size_t len)
{
	if (len > 0 && conn_write(s->c, buf, len) != CONN_OK)
		s->srv->write_errors++;
}

/* Echo, plus three commands: "QUIT\n" answers BYE and closes gracefully, "BURST\n" answers
 * with 1000 ten-byte writes (coalescing), and a first chunk starting "GET " gets an HTTP
 * response echoing the request (for curl). */
static void session_handle(struct session *s, const char *buf, size_t n)
{
	bool first = !s->seen_data;
	s->seen_data = true;
	if (first && n >= 4 && memcmp(buf, "GET ", 4) == 0) {
		char head[160];
		int hl = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
		                  "Content-Length: %zu\r\nConnection: close\r\n\r\n", n);
		session_write(s, head, (size_t)hl);
		session_write(s, buf, n);
		conn_close(s->c);
		return;
	}
	if (memmem(buf, n, "BURST\n", 6)) {
		for (int i = 0; i < 1000; i++)
			session_write(s, "0123456789", 10);
		return;
	}
	const char *quit = memmem(buf, n, "QUIT\n", 5);
	if (quit) {
		session_write(s, buf, (size_t)(quit - buf));
		session_write(s, "BYE\n", 4);
		conn_close(s->c);
		return;
	}
	session_write(s, buf, n);
}

static void session_on_readable(struct conn *c, void *arg)
{
	struct session *s = arg;
	char buf[16384];
	for (;;) {
		size_t room = conn_write_room(c);
		if (room == 0) {
			conn_pause_read(c);
			s->paused = true;
			s->srv->pauses++;
			return;
		}
		size_t want = s->l->opts.read_chunk;
		if (want > room)
			want = room;
		if (want > sizeof buf)
			want = sizeof buf;
		ssize_t n = conn_read(c, buf, want);
		if (n == CONN_EOF) {
			conn_close(c);
			return;
		}
		if (n <= 0)
			return;
		session_handle(s, buf, (size_t)n);
		if (s->l->opts.one_read_per_callback || !conn_is_open(c))
			return;
	}
}

static void session_on_writable(struct conn *c, void *arg)
{
	struct session *s = arg;
	if (s->paused) {
		s->paused = false;
		conn_resume_read(c);
	}
}

static void session_on_close(struct conn *c, enum conn_close_reason why, void *arg)
{
	(void)c;
	struct session *s = arg;
	struct server *srv = s->srv;
	srv->reasons[why]++;
	evtimer_del(&s->timer);
	if (s->prev)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	free(s);
	if (--srv->live == 0 && srv->stopping)
		event_base_loopexit(srv->base, NULL);
}

static void session_on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct session *s = arg;
	s->srv->timeouts++;
	conn_abort(s->c);
}

static const struct conn_callbacks session_callbacks = {
	.on_open = session_on_open,
	.on_readable = session_on_readable,
	.on_writable = session_on_writable,
	.on_close = session_on_close,
};

static void listener_on_accept(evutil_socket_t lfd, short what, void *arg)
{
	(void)what;
	struct listener *l = arg;
	struct server *srv = l->srv;
	for (int i = 0; i < 64; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct session *s = calloc(1, sizeof *s);
		if (!s) {
			close(fd);
			srv->accept_failures++;
			continue;
		}
		s->srv = srv;
		s->l = l;
		evtimer_assign(&s->timer, srv->base, session_on_timeout, s);
		s->c = l->tls ? conn_new_tls(srv->base, fd, l->tls, &session_callbacks, s)
		              : conn_new_plain(srv->base, fd, &session_callbacks, s);
		if (!s->c) {
			close(fd);
			free(s);
			srv->accept_failures++;
			continue;
		}
		if (l->opts.out_limit)
			conn_set_output_limit(s->c, l->opts.out_limit);
		if (l->opts.handshake_timeout_ms > 0) {
			struct timeval tv = { l->opts.handshake_timeout_ms / 1000,
			                      (l->opts.handshake_timeout_ms % 1000) * 1000 };
			evtimer_add(&s->timer, &tv);
		}
		s->next = srv->sessions;
		if (s->next)
			s->next->prev = s;
		srv->sessions = s;
		srv->live++;
	}
}

static void server_on_stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct server *srv = arg;
	srv->stopping = true;
	for (int i = 0; i < srv->nlisteners; i++)
		event_del(&srv->listeners[i].ev);
	for (struct session *s = srv->sessions; s; s = s->next)
		conn_abort(s->c);
	if (srv->live == 0)
		event_base_loopexit(srv->base, NULL);
}

/* Buffer sizes go on the listener, so accepted sockets start with them: shrinking a
 * receive buffer after the handshake makes the kernel drop in-window data (RTO stalls). */
static int listen_loopback(int *port, int sockbuf)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (sockbuf > 0) {
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sockbuf, sizeof sockbuf);
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sockbuf, sizeof sockbuf);
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 1024) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static int server_init(struct server *srv)
{
	memset(srv, 0, sizeof *srv);
	srv->base = event_base_new();
	if (!srv->base || pipe2(srv->stop_pipe, O_CLOEXEC) != 0)
		return -1;
	event_assign(&srv->stop_ev, srv->base, srv->stop_pipe[0], EV_READ, server_on_stop, srv);
	event_add(&srv->stop_ev, NULL);
	return 0;
}

/* Returns the port. `tls` may be NULL for a plain listener. */
static int server_listen(struct server *srv, struct tls_context *tls, const struct echo_opts *opts)
{
	struct listener *l = &srv->listeners[srv->nlisteners];
	l->srv = srv;
	l->tls = tls;
	l->opts = *opts;
	if (l->opts.read_chunk == 0)
		l->opts.read_chunk = 16384;
	l->fd = listen_loopback(&l->port, l->opts.sockbuf);
	if (l->fd < 0)
		return -1;
	event_assign(&l->ev, srv->base, l->fd, EV_READ | EV_PERSIST, listener_on_accept, l);
	event_add(&l->ev, NULL);
	srv->nlisteners++;
	return l->port;
}

static void *server_thread(void *arg)
{
	struct server *srv = arg;
	event_base_dispatch(srv->base);
	return NULL;
}

static int server_start(struct server *srv)
{
	srv->before = conn_counters;
	return pthread_create(&srv->thread, NULL, server_thread, srv);
}

static void server_stop(struct server *srv)
{
	if (write(srv->stop_pipe[1], "x", 1) != 1)
		perror("stop pipe");
	pthread_join(srv->thread, NULL);
	srv->after = conn_counters;
	for (int i = 0; i < srv->nlisteners; i++)
		close(srv->listeners[i].fd);
	event_del(&srv->stop_ev);
	close(srv->stop_pipe[0]);
	close(srv->stop_pipe[1]);
	event_base_free(srv->base);
}

#define DELTA(srv, field) ((srv)->after.field - (srv)->before.field)

/* ---- external clients ---- */

struct run_result {
	int status; /* exit code, or 128+signal */
	char out[65536];
	char err[65536];
};

/* Runs argv under `timeout 10` with stdin from `input`; collects stdout and stderr. When
 * `script` is given, stdin is a socket fed by script(fd, arg) instead. */
static int run_cmd(const char *const argv[], const char *input, struct run_result *res,
                   void (*script)(int fd, void *arg), void *script_arg)
{
	char in_path[PATH_MAX + 16], out_path[PATH_MAX + 16], err_path[PATH_MAX + 16];
	const char *full[64] = { "timeout", "10" };
	int n = 2, pfd[2] = { -1, -1 };
	for (int i = 0; argv[i] && n < 63; i++)
		full[n++] = argv[i];
	full[n] = NULL;
	snprintf(in_path, sizeof in_path, "%s/stdin", tmpdir);
	snprintf(out_path, sizeof out_path, "%s/stdout", tmpdir);
	snprintf(err_path, sizeof err_path, "%s/stderr", tmpdir);

	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	if (script) {
		/* A socket, not a pipe: the feeder writes with MSG_NOSIGNAL after s_client quits. */
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pfd) != 0)
			return -1;
		posix_spawn_file_actions_adddup2(&fa, pfd[0], 0);
	} else {
		if (write_file(in_path, input, strlen(input)) != 0)
			return -1;
		posix_spawn_file_actions_addopen(&fa, 0, in_path, O_RDONLY, 0);
	}
	posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	pid_t pid;
	int r = posix_spawnp(&pid, "timeout", &fa, NULL, (char *const *)full, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (script)
		close(pfd[0]);
	if (r != 0) {
		if (script)
			close(pfd[1]);
		return -1;
	}
	if (script) {
		script(pfd[1], script_arg);
		close(pfd[1]);
	}
	int status;
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	res->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	read_file(out_path, res->out, sizeof res->out);
	read_file(err_path, res->err, sizeof res->err);
	return 0;
}

static bool has(const struct run_result *res, const char *needle)
{
	return strstr(res->out, needle) || strstr(res->err, needle);
}

/* s_client against `port`, sending "hello tls\nQUIT\n"; extra options appended. */
static int s_client(int port, const char *ca_path, const char *const extra[], struct run_result *res)
{
	char connect[64];
	snprintf(connect, sizeof connect, "127.0.0.1:%d", port);
	const char *argv[48] = { "openssl", "s_client", "-connect", connect, "-servername",
	                         "localhost", "-ign_eof" };
	int n = 7;
	if (ca_path) {
		argv[n++] = "-CAfile";
		argv[n++] = ca_path;
		argv[n++] = "-verify_return_error";
	}
	for (int i = 0; extra && extra[i] && n < 46; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	return run_cmd(argv, "hello tls\nQUIT\n", res, NULL, NULL);
}

/* `also`: one more line the client must print (e.g. the key exchange curve), or NULL. */
static void expect_ok_with(int port, const char *ca, const char *const extra[], const char *suite,
                           const char *what, const char *also)
{
	static struct run_result res;
	char want[128];
	snprintf(want, sizeof want, "Cipher is %s", suite);
	int r = s_client(port, ca, extra, &res);
	bool ok = r == 0 && res.status == 0 && strstr(res.out, "hello tls\nBYE\n") &&
	          has(&res, want) && has(&res, "TLSv1.2") && (!also || has(&res, also));
	check_that(ok, "%s: handshake with %s%s%s, echo, graceful close (exit %d)", what, suite,
	      also ? ", " : "", also ? also : "", res.status);
	if (!ok)
		fprintf(stderr, "--- stdout\n%.3000s\n--- stderr\n%.3000s\n", res.out, res.err);
}

static void expect_ok(int port, const char *ca, const char *const extra[], const char *suite,
                      const char *what)
{
	expect_ok_with(port, ca, extra, suite, what, NULL);
}

/* A refusal must come from the server: the client reports the server's alert. */
static void expect_refused(int port, const char *const extra[], const char *alert, const char *what)
{
	static struct run_result res;
	int r = s_client(port, NULL, extra, &res);
	bool ok = r == 0 && res.status != 0 && has(&res, alert) && !strstr(res.out, "hello tls");
	check_that(ok, "%s refused by the server (\"%s\", exit %d)", what, alert, res.status);
	if (!ok)
		fprintf(stderr, "--- stdout\n%.3000s\n--- stderr\n%.3000s\n", res.out, res.err);
}

/* ---- the in-process client: non-blocking, mbedtls or plain ---- */

struct client {
	int fd;
	bool tls;
	mbedtls_ssl_context ssl;
	mbedtls_ssl_config conf;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_x509_crt ca;
	size_t retry_len;
	char why[160];
};

static int cli_send(void *arg, const unsigned char *buf, size_t len)
{
	int fd = *(int *)arg;
	ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
	if (n >= 0)
		return (int)n;
	return errno == EAGAIN ? MBEDTLS_ERR_SSL_WANT_WRITE : MBEDTLS_ERR_NET_SEND_FAILED;
}

static int cli_recv(void *arg, unsigned char *buf, size_t len)
{
	int fd = *(int *)arg;
	ssize_t n = recv(fd, buf, len, 0);
	if (n >= 0)
		return (int)n;
	return errno == EAGAIN ? MBEDTLS_ERR_SSL_WANT_READ : MBEDTLS_ERR_NET_RECV_FAILED;
}

static int tcp_connect(int port, int sockbuf)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (sockbuf > 0) {
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sockbuf, sizeof sockbuf);
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sockbuf, sizeof sockbuf);
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void wait_io(int fd, short events, int ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	poll(&p, 1, ms);
}

static void client_fail(struct client *cl, const char *what, int code)
{
	char text[100] = "";
	if (code)
		mbedtls_strerror(code, text, sizeof text);
	snprintf(cl->why, sizeof cl->why, "%s %s", what, text);
}

/* ca_pem NULL: plain TCP. Returns 0 once the handshake is done. */
static int client_open(struct client *cl, int port, const char *ca_pem, int sockbuf)
{
	static const char *alpn[] = { "http/1.1", NULL };
	memset(cl, 0, sizeof *cl);
	mbedtls_ssl_init(&cl->ssl);
	mbedtls_ssl_config_init(&cl->conf);
	mbedtls_x509_crt_init(&cl->ca);
	mbedtls_ctr_drbg_init(&cl->drbg);
	cl->tls = ca_pem != NULL;
	cl->fd = tcp_connect(port, sockbuf);
	if (cl->fd < 0) {
		client_fail(cl, "connect failed", 0);
		return -1;
	}
	fcntl(cl->fd, F_SETFL, O_NONBLOCK);
	if (!cl->tls)
		return 0;
	int r;
	if ((r = drbg_setup(&cl->drbg)) != 0 ||
	    (r = mbedtls_x509_crt_parse(&cl->ca, (const unsigned char *)ca_pem, strlen(ca_pem) + 1)) != 0 ||
	    (r = mbedtls_ssl_config_defaults(&cl->conf, MBEDTLS_SSL_IS_CLIENT,
	                                     MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
		client_fail(cl, "client setup", r);
		return -1;
	}
	mbedtls_ssl_conf_rng(&cl->conf, mbedtls_ctr_drbg_random, &cl->drbg);
	mbedtls_ssl_conf_authmode(&cl->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&cl->conf, &cl->ca, NULL);
	if ((r = mbedtls_ssl_conf_alpn_protocols(&cl->conf, alpn)) != 0 ||
	    (r = mbedtls_ssl_setup(&cl->ssl, &cl->conf)) != 0 ||
	    (r = mbedtls_ssl_set_hostname(&cl->ssl, "localhost")) != 0) {
		client_fail(cl, "client setup", r);
		return -1;
	}
	mbedtls_ssl_set_bio(&cl->ssl, &cl->fd, cli_send, cli_recv, NULL);
	uint64_t deadline = now_ms() + 15000;
	while ((r = mbedtls_ssl_handshake(&cl->ssl)) != 0) {
		if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE) {
			client_fail(cl, "handshake", r);
			return -1;
		}
		if (now_ms() > deadline) {
			client_fail(cl, "handshake timeout", 0);
			return -1;
		}
		wait_io(cl->fd, r == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN : POLLOUT, 200);
	}
	return 0;
}

static void client_close(struct client *cl)
{
	if (cl->fd >= 0)
		close(cl->fd);
	mbedtls_ssl_free(&cl->ssl);
	mbedtls_ssl_config_free(&cl->conf);
	mbedtls_x509_crt_free(&cl->ca);
	mbedtls_ctr_drbg_free(&cl->drbg);
}

/* > 0 bytes, 0 would block, -1 error. A TLS write that blocked is retried with the same
 * length, whatever the caller asks for next. */
static ssize_t client_write(struct client *cl, const void *buf, size_t len)
{
	if (!cl->tls) {
		ssize_t n = send(cl->fd, buf, len, MSG_NOSIGNAL);
		return n >= 0 ? n : errno == EAGAIN ? 0 : -1;
	}
	size_t n = cl->retry_len ? cl->retry_len : len;
	int r = mbedtls_ssl_write(&cl->ssl, buf, n);
	if (r > 0) {
		cl->retry_len = 0;
		return r;
	}
	if (r == MBEDTLS_ERR_SSL_WANT_WRITE || r == MBEDTLS_ERR_SSL_WANT_READ) {
		cl->retry_len = n;
		return 0;
	}
	client_fail(cl, "write", r);
	return -1;
}

enum { CLI_AGAIN = 0, CLI_ERROR = -1, CLI_CLOSE_NOTIFY = -2, CLI_EOF = -3 };

static ssize_t client_read(struct client *cl, void *buf, size_t len)
{
	if (!cl->tls) {
		ssize_t n = recv(cl->fd, buf, len, 0);
		if (n > 0)
			return n;
		if (n == 0)
			return CLI_EOF;
		return errno == EAGAIN ? CLI_AGAIN : CLI_ERROR;
	}
	int r = mbedtls_ssl_read(&cl->ssl, buf, len);
	if (r > 0)
		return r;
	if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
		return CLI_AGAIN;
	if (r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
		return CLI_CLOSE_NOTIFY;
	if (r == 0 || r == MBEDTLS_ERR_SSL_CONN_EOF)
		return CLI_EOF;
	client_fail(cl, "read", r);
	return CLI_ERROR;
}

static void fill_data(unsigned char *p, size_t n, uint32_t seed)
{
	uint32_t x = seed | 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		unsigned char b = (unsigned char)(x >> 11);
		p[i] = b == '\n' ? 'n' : b; /* no newline: the data can never spell a command */
	}
	if (n > 0)
		p[0] = 'd';
}

/* Sends `total` bytes in records of varied size while reading the echo; then QUIT, and
 * expects BYE followed by close_notify (TLS) or EOF (plain). Returns 0 on success. */
static int client_echo(struct client *cl, size_t total, uint32_t seed)
{
	unsigned char *data = malloc(total), *back = malloc(total + 64);
	size_t sent = 0, got = 0;
	uint32_t sizes = seed * 2654435761u + 1;
	uint64_t deadline = now_ms() + 15000;
	int rc = -1;
	if (!data || !back) {
		client_fail(cl, "out of memory", 0);
		goto out;
	}
	fill_data(data, total, seed);
	while (got < total) {
		bool blocked_out = false;
		if (sent < total) {
			sizes = sizes * 1103515245u + 12345u;
			size_t chunk = 1 + (sizes >> 8) % 16384;
			if (chunk > total - sent)
				chunk = total - sent;
			ssize_t w = client_write(cl, data + sent, chunk);
			if (w < 0)
				goto out;
			sent += (size_t)w;
			blocked_out = w == 0;
		}
		for (;;) {
			ssize_t r = client_read(cl, back + got, total - got);
			if (r > 0) {
				got += (size_t)r;
				if (got == total)
					break;
				continue;
			}
			if (r == CLI_AGAIN)
				break;
			if (r != CLI_ERROR)
				client_fail(cl, "connection closed during the echo", 0);
			goto out;
		}
		if (got == total)
			break;
		if (now_ms() > deadline) {
			snprintf(cl->why, sizeof cl->why, "timeout: sent %zu got %zu of %zu", sent, got, total);
			goto out;
		}
		if (blocked_out || sent == total)
			wait_io(cl->fd, (short)(POLLIN | (blocked_out ? POLLOUT : 0)), 100);
	}
	if (memcmp(data, back, total) != 0) {
		client_fail(cl, "echoed bytes differ", 0);
		goto out;
	}
	/* Goodbye: the QUIT line must not be split by a retried record. */
	for (size_t q = 0; q < 5;) {
		ssize_t w = client_write(cl, &"QUIT\n"[q], 5 - q);
		if (w < 0)
			goto out;
		q += (size_t)w;
		if (w == 0)
			wait_io(cl->fd, POLLOUT, 100);
		if (now_ms() > deadline) {
			client_fail(cl, "timeout sending QUIT", 0);
			goto out;
		}
	}
	got = 0;
	for (;;) {
		ssize_t r = client_read(cl, back + got, 64 - got);
		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r == CLI_AGAIN) {
			if (now_ms() > deadline) {
				client_fail(cl, "timeout waiting for BYE", 0);
				goto out;
			}
			wait_io(cl->fd, POLLIN, 100);
			continue;
		}
		if (got != 4 || memcmp(back, "BYE\n", 4) != 0) {
			client_fail(cl, "no BYE before the end", 0);
			goto out;
		}
		if (r != (cl->tls ? CLI_CLOSE_NOTIFY : CLI_EOF)) {
			snprintf(cl->why, sizeof cl->why, "ended with %zd, not %s", r,
			         cl->tls ? "close_notify" : "EOF");
			goto out;
		}
		break;
	}
	rc = 0;
out:
	free(data);
	free(back);
	return rc;
}

struct echo_job {
	int port;
	const char *ca_pem;
	size_t total;
	int sockbuf;
	uint32_t seed;
	int rc;
	char why[160];
};

static void *echo_job_run(void *arg)
{
	struct echo_job *job = arg;
	struct client cl;
	job->rc = client_open(&cl, job->port, job->ca_pem, job->sockbuf);
	if (job->rc == 0)
		job->rc = client_echo(&cl, job->total, job->seed);
	snprintf(job->why, sizeof job->why, "%s", cl.why);
	client_close(&cl);
	return NULL;
}

/* ---- tests ---- */

static struct identity ec_id, rsa_id;

static void test_context_errors(void)
{
	static struct identity bad;
	const char *err = NULL;
	struct tls_context *ctx;

	ctx = tls_context_new(ec_id.cert, ec_id.key, &err);
	check_that(ctx && !err, "ECDSA P-256 context builds");
	tls_context_free(ctx);
	ctx = tls_context_new(rsa_id.cert, rsa_id.key, &err);
	check_that(ctx && !err, "RSA 2048 context builds");
	tls_context_free(ctx);

	ctx = tls_context_new(ec_id.cert, rsa_id.key, &err);
	check_that(!ctx && err && strstr(err, "does not match"), "mismatched key refused: %s", err);
	ctx = tls_context_new("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
	                      ec_id.key, &err);
	check_that(!ctx && err && strstr(err, "certificate"), "garbage certificate refused: %s", err);
	ctx = tls_context_new(ec_id.cert, "not a key", &err);
	check_that(!ctx && err && strstr(err, "private key"), "garbage key refused: %s", err);
	ctx = tls_context_new("", "", &err);
	check_that(!ctx && err, "empty PEM refused: %s", err);
	check_that(err && !strstr(err, "PRIVATE"), "error messages carry no key text");

	if (make_identity(&bad, KEY_RSA1024, "20991231235959") == 0) {
		ctx = tls_context_new(bad.cert, bad.key, &err);
		check_that(!ctx && err && strstr(err, "2048"), "RSA 1024 refused: %s", err);
	}
	if (make_identity(&bad, KEY_EC_P521, "20991231235959") == 0) {
		ctx = tls_context_new(bad.cert, bad.key, &err);
		check_that(!ctx && err && strstr(err, "P-256"), "EC P-521 refused: %s", err);
	}
	unsigned char r1[64] = { 0 }, r2[64] = { 0 };
	check_that(tls_random(r1, sizeof r1) == 0 && tls_random(r2, sizeof r2) == 0 &&
	      memcmp(r1, r2, sizeof r1) != 0, "tls_random gives fresh bytes");
}

static void test_openssl_policy(struct tls_context *ec, struct tls_context *rsa)
{
	struct server srv;
	struct echo_opts opts = { 0 };
	if (server_init(&srv) != 0) {
		check_that(0, "server init");
		return;
	}
	int ec_port = server_listen(&srv, ec, &opts);
	int rsa_port = server_listen(&srv, rsa, &opts);
	if (ec_port < 0 || rsa_port < 0 || server_start(&srv) != 0) {
		check_that(0, "server start");
		return;
	}
	const char *ec_ca = ec_id.cert_path, *rsa_ca = rsa_id.cert_path;

	expect_ok(ec_port, ec_ca, (const char *[]){ "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256",
	          "-alpn", "http/1.1", NULL }, "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDSA");
	expect_ok(ec_port, ec_ca, (const char *[]){ "-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384", NULL },
	          "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDSA");
	expect_ok(ec_port, ec_ca, (const char *[]){ "-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305", NULL },
	          "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDSA");
	expect_ok(rsa_port, rsa_ca, (const char *[]){ "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256", NULL },
	          "ECDHE-RSA-AES128-GCM-SHA256", "RSA");
	expect_ok(rsa_port, rsa_ca, (const char *[]){ "-tls1_2", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384", NULL },
	          "ECDHE-RSA-AES256-GCM-SHA384", "RSA");
	expect_ok(rsa_port, rsa_ca, (const char *[]){ "-tls1_2", "-cipher", "ECDHE-RSA-CHACHA20-POLY1305", NULL },
	          "ECDHE-RSA-CHACHA20-POLY1305", "RSA");
	/* A default client (offers TLS 1.3 first) lands on TLS 1.2 and our first choice. */
	expect_ok_with(ec_port, ec_ca, NULL, "ECDHE-ECDSA-AES128-GCM-SHA256", "default client",
	               "Server Temp Key: X25519");
	/* In TLS 1.2 the client's curve list also governs the ECDSA certificate's curve, so an
	 * ECDSA P-256 server needs P-256 offered; our order picks x25519 for the key exchange. */
	expect_ok_with(ec_port, ec_ca, (const char *[]){ "-curves", "P-256:X25519", NULL },
	          "ECDHE-ECDSA-AES128-GCM-SHA256", "x25519 preferred over P-256", "Server Temp Key: X25519");
	expect_ok_with(rsa_port, rsa_ca, (const char *[]){ "-curves", "X25519", NULL },
	          "ECDHE-RSA-AES128-GCM-SHA256", "curve x25519", "Server Temp Key: X25519");
	expect_ok_with(rsa_port, rsa_ca, (const char *[]){ "-curves", "P-256", NULL },
	          "ECDHE-RSA-AES128-GCM-SHA256", "curve P-256", "Server Temp Key: ECDH, prime256v1");
	expect_ok_with(rsa_port, rsa_ca, (const char *[]){ "-curves", "P-384", NULL },
	          "ECDHE-RSA-AES128-GCM-SHA256", "curve P-384", "Server Temp Key: ECDH, secp384r1");

	static struct run_result res;
	s_client(ec_port, ec_ca, (const char *[]){ "-alpn", "h2,http/1.1", NULL }, &res);
	check_that(res.status == 0 && has(&res, "ALPN protocol: http/1.1"), "ALPN h2,http/1.1 selects http/1.1");

	/* Old protocols: allowed on the client side with SECLEVEL=0, so a refusal is ours. */
	expect_refused(ec_port, (const char *[]){ "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0", NULL },
	               "alert number 70", "TLS 1.1");
	expect_refused(ec_port, (const char *[]){ "-tls1", "-cipher", "DEFAULT:@SECLEVEL=0", NULL },
	               "alert number 70", "TLS 1.0");
	expect_refused(rsa_port, (const char *[]){ "-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA", NULL },
	               "alert number 40", "CBC suite ECDHE-RSA-AES128-SHA");
	expect_refused(rsa_port, (const char *[]){ "-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA256", NULL },
	               "alert number 40", "CBC suite ECDHE-RSA-AES128-SHA256");
	expect_refused(ec_port, (const char *[]){ "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA", NULL },
	               "alert number 40", "CBC suite ECDHE-ECDSA-AES128-SHA");
	expect_refused(rsa_port, (const char *[]){ "-tls1_2", "-cipher", "AES128-GCM-SHA256", NULL },
	               "alert number 40", "non-ECDHE suite AES128-GCM-SHA256");
	expect_refused(rsa_port, (const char *[]){ "-tls1_2", "-cipher", "DHE-RSA-AES128-GCM-SHA256", NULL },
	               "alert number 40", "DHE suite DHE-RSA-AES128-GCM-SHA256");
	/* mbedtls 2.28 picks the suite first and finds no curve only when writing the key
	 * exchange; it then drops the connection without an alert. */
	expect_refused(rsa_port, (const char *[]){ "-tls1_2", "-curves", "P-521", NULL },
	               "Cipher is (NONE)", "curve P-521 only");

	/* No resumption: every reconnect is a full handshake. */
	s_client(ec_port, ec_ca, (const char *[]){ "-reconnect", "-no_ticket", NULL }, &res);
	bool any_new = strstr(res.out, "New, TLSv1.2") != NULL;
	check_that(any_new && !strstr(res.out, "Reused,"), "no session resumption across reconnects");
	s_client(ec_port, ec_ca, NULL, &res);
	check_that(res.status == 0 && !has(&res, "TLS session ticket:"), "no session ticket issued");

	server_stop(&srv);
	check_that(srv.write_errors == 0, "server: no refused writes (%u)", srv.write_errors);
	check_that(srv.alpn_http11 >= 2, "server: ALPN http/1.1 seen by the owner (%u)", srv.alpn_http11);
	check_that(DELTA(&srv, handshakes_failed) >= 8, "server: refusals counted as failed handshakes (%llu)",
	      (unsigned long long)DELTA(&srv, handshakes_failed));
}

struct reneg_script {
	const char *out_path;
};

/* Waits until the first echo arrived, asks s_client to renegotiate, then sends more. */
static void reneg_feed(int fd, void *arg)
{
	struct reneg_script *rs = arg;
	static char buf[65536];
	if (send(fd, "hello one\n", 10, MSG_NOSIGNAL) != 10)
		return;
	uint64_t deadline = now_ms() + 5000;
	while (now_ms() < deadline) {
		read_file(rs->out_path, buf, sizeof buf);
		if (strstr(buf, "hello one"))
			break;
		usleep(20000);
	}
	if (send(fd, "R\n", 2, MSG_NOSIGNAL) != 2)
		return;
	usleep(500000);
	if (send(fd, "hello two\n", 10, MSG_NOSIGNAL) != 10)
		return;
	usleep(500000);
}

static void test_renegotiation(struct tls_context *ec)
{
	struct server srv;
	struct echo_opts opts = { 0 };
	static struct run_result res;
	char out_path[PATH_MAX + 16], connect[64];
	if (server_init(&srv) != 0)
		return;
	int port = server_listen(&srv, ec, &opts);
	if (port < 0 || server_start(&srv) != 0)
		return;
	snprintf(connect, sizeof connect, "127.0.0.1:%d", port);
	snprintf(out_path, sizeof out_path, "%s/stdout", tmpdir);
	struct reneg_script rs = { out_path };
	/* Without -ign_eof, so that s_client obeys the "R" command. */
	const char *argv[] = { "openssl", "s_client", "-connect", connect, "-tls1_2", NULL };
	int r = run_cmd(argv, NULL, &res, reneg_feed, &rs);
	server_stop(&srv);
	bool asked = has(&res, "RENEGOTIATING");
	bool echoed_first = strstr(res.out, "hello one") != NULL;
	bool refused = has(&res, "no renegotiation");
	check_that(r == 0 && asked && echoed_first && refused && !strstr(res.out, "hello two"),
	      "renegotiation refused (asked %d, refused %d)", asked, refused);
	if (!(asked && refused))
		fprintf(stderr, "--- stdout\n%.3000s\n--- stderr\n%.3000s\n", res.out, res.err);
	check_that(DELTA(&srv, handshakes_ok) == 1, "exactly one handshake on the server (%llu)",
	      (unsigned long long)DELTA(&srv, handshakes_ok));
}

static void test_curl(struct tls_context *ec)
{
	struct server srv;
	struct echo_opts opts = { 0 };
	static struct run_result res;
	char url[64], resolve[64];
	if (server_init(&srv) != 0)
		return;
	int port = server_listen(&srv, ec, &opts);
	if (port < 0 || server_start(&srv) != 0)
		return;
	snprintf(url, sizeof url, "https://localhost:%d/echo", port);
	snprintf(resolve, sizeof resolve, "localhost:%d:127.0.0.1", port);
	const char *ok_argv[] = { "curl", "-sS", "-v", "--http1.1", "--cacert", ec_id.cert_path,
	                          "--resolve", resolve, url, NULL };
	int r = run_cmd(ok_argv, "", &res, NULL, NULL);
	check_that(r == 0 && res.status == 0 && strstr(res.out, "GET /echo HTTP/1.1") &&
	      strstr(res.err, "ALPN: server accepted http/1.1") && strstr(res.err, "TLSv1.2"),
	      "curl: verified TLS 1.2, ALPN http/1.1, request echoed (exit %d)", res.status);
	if (res.status != 0)
		fprintf(stderr, "--- stderr\n%.3000s\n", res.err);
	const char *v13_argv[] = { "curl", "-sS", "--tlsv1.3", "--cacert", ec_id.cert_path,
	                           "--resolve", resolve, url, NULL };
	r = run_cmd(v13_argv, "", &res, NULL, NULL);
	check_that(r == 0 && res.status == 35, "curl --tlsv1.3 refused (exit %d)", res.status);
	server_stop(&srv);
}

/* 1 MiB each way through 4 KiB socket buffers, with a server that reads 1000 bytes per
 * callback and an 8 KiB output limit: WANT_WRITE, pending decrypted input and backpressure
 * must all work or the echo stalls. */
static void test_bulk(struct tls_context *ec, struct tls_context *rsa)
{
	struct server srv;
	struct echo_opts slow = { .read_chunk = 1000, .one_read_per_callback = true, .sockbuf = 4096,
	                          .out_limit = 8 * 1024 };
	if (server_init(&srv) != 0)
		return;
	int ec_port = server_listen(&srv, ec, &slow);
	int rsa_port = server_listen(&srv, rsa, &slow);
	int plain_port = server_listen(&srv, NULL, &slow);
	if (ec_port < 0 || rsa_port < 0 || plain_port < 0 || server_start(&srv) != 0)
		return;
	struct echo_job jobs[] = {
		{ .port = ec_port, .ca_pem = ec_id.cert, .total = 1u << 20, .sockbuf = 4096, .seed = 1 },
		{ .port = rsa_port, .ca_pem = rsa_id.cert, .total = 1u << 20, .sockbuf = 4096, .seed = 2 },
		{ .port = plain_port, .ca_pem = NULL, .total = 1u << 20, .sockbuf = 4096, .seed = 3 },
	};
	for (size_t i = 0; i < sizeof jobs / sizeof jobs[0]; i++) {
		uint64_t t0 = now_ms();
		echo_job_run(&jobs[i]);
		check_that(jobs[i].rc == 0, "1 MiB echoed intact both ways over %s, small buffers (%llu ms) %s",
		      jobs[i].ca_pem ? (i == 0 ? "TLS/ECDSA" : "TLS/RSA") : "plain TCP",
		      (unsigned long long)(now_ms() - t0), jobs[i].why);
	}
	server_stop(&srv);
	check_that(DELTA(&srv, want_write) > 0, "WANT_WRITE / partial writes happened (%llu)",
	      (unsigned long long)DELTA(&srv, want_write));
	check_that(DELTA(&srv, readable_refires) > 0, "on_readable re-fired for buffered TLS input (%llu)",
	      (unsigned long long)DELTA(&srv, readable_refires));
	check_that(srv.pauses > 0, "output limit made the owner pause reading (%u)", srv.pauses);
	check_that(srv.write_errors == 0, "no write refused after sizing reads by conn_write_room");
	check_that(srv.reasons[CONN_CLOSED_LOCAL] == 3, "all three ended by graceful close (%u)",
	      srv.reasons[CONN_CLOSED_LOCAL]);
}

/* Many small writes in one callback must leave as one record / one sendmsg. */
static void test_coalescing(struct tls_context *ec)
{
	struct server srv;
	struct echo_opts opts = { 0 };
	if (server_init(&srv) != 0)
		return;
	int tls_port = server_listen(&srv, ec, &opts);
	int plain_port = server_listen(&srv, NULL, &opts);
	if (tls_port < 0 || plain_port < 0 || server_start(&srv) != 0)
		return;
	for (int tls = 1; tls >= 0; tls--) {
		struct client cl;
		static char buf[20000];
		int reads = 0;
		size_t got = 0;
		int r = client_open(&cl, tls ? tls_port : plain_port, tls ? ec_id.cert : NULL, 0);
		while (r == 0 && client_write(&cl, "BURST\n", 6) == 0)
			wait_io(cl.fd, POLLOUT, 100);
		uint64_t deadline = now_ms() + 5000;
		while (r == 0 && got < 10000 && now_ms() < deadline) {
			ssize_t n = client_read(&cl, buf + got, sizeof buf - got);
			if (n > 0) {
				got += (size_t)n;
				reads++;
			} else if (n == CLI_AGAIN) {
				wait_io(cl.fd, POLLIN, 100);
			} else {
				break;
			}
		}
		check_that(got == 10000 && reads <= 2, "%s: 1000 ten-byte writes arrive in %d read(s)",
		      tls ? "TLS" : "plain", reads);
		client_close(&cl);
	}
	server_stop(&srv);
}

/* The owner's handshake timer (here 300 ms) aborts a client that never speaks, and a
 * plaintext request on the TLS port fails the handshake. */
static void test_handshake_timeout(struct tls_context *ec)
{
	struct server srv;
	struct echo_opts opts = { .handshake_timeout_ms = 300 };
	char buf[256];
	if (server_init(&srv) != 0)
		return;
	int port = server_listen(&srv, ec, &opts);
	if (port < 0 || server_start(&srv) != 0)
		return;
	int fd = tcp_connect(port, 0);
	uint64_t t0 = now_ms();
	struct timeval tv = { 5, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	ssize_t n = fd >= 0 ? recv(fd, buf, sizeof buf, 0) : -1;
	uint64_t waited = now_ms() - t0;
	check_that(n == 0 && waited >= 250 && waited < 3000, "silent client closed by the handshake timer after %llu ms",
	      (unsigned long long)waited);
	if (fd >= 0)
		close(fd);

	fd = tcp_connect(port, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (fd >= 0 && send(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, MSG_NOSIGNAL) == 27) {
		while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
			;
	}
	check_that(n == 0 || (n < 0 && errno == ECONNRESET), "plaintext on the TLS port is dropped");
	if (fd >= 0)
		close(fd);
	server_stop(&srv);
	check_that(srv.timeouts == 1 && srv.reasons[CONN_CLOSED_ABORTED] == 1,
	      "owner saw one timeout and one on_close(aborted) (%u, %u)", srv.timeouts,
	      srv.reasons[CONN_CLOSED_ABORTED]);
	check_that(srv.reasons[CONN_CLOSED_HANDSHAKE] == 1, "plaintext request: on_close(handshake_failed)");
}

static void test_concurrency(struct tls_context *ec, struct tls_context *rsa)
{
	enum { JOBS = 48 };
	struct server srv;
	struct echo_opts opts = { .read_chunk = 4096 };
	static struct echo_job jobs[JOBS];
	pthread_t threads[JOBS];
	if (server_init(&srv) != 0)
		return;
	int ec_port = server_listen(&srv, ec, &opts);
	int rsa_port = server_listen(&srv, rsa, &opts);
	int plain_port = server_listen(&srv, NULL, &opts);
	if (ec_port < 0 || rsa_port < 0 || plain_port < 0 || server_start(&srv) != 0)
		return;
	uint64_t t0 = now_ms();
	int started = 0, ok = 0;
	for (int i = 0; i < JOBS; i++) {
		int kind = i % 3;
		jobs[i] = (struct echo_job){
			.port = kind == 0 ? ec_port : kind == 1 ? rsa_port : plain_port,
			.ca_pem = kind == 0 ? ec_id.cert : kind == 1 ? rsa_id.cert : NULL,
			.total = 64 * 1024 + (size_t)i * 977, .seed = 100u + (uint32_t)i,
		};
		if (pthread_create(&threads[i], NULL, echo_job_run, &jobs[i]) != 0)
			break;
		started++;
	}
	for (int i = 0; i < started; i++) {
		pthread_join(threads[i], NULL);
		if (jobs[i].rc == 0)
			ok++;
		else
			fprintf(stderr, "job %d: %s\n", i, jobs[i].why);
	}
	server_stop(&srv);
	check_that(started == JOBS && ok == JOBS, "%d concurrent clients (TLS ECDSA, TLS RSA, plain) echoed (%d ok, %llu ms)",
	      JOBS, ok, (unsigned long long)(now_ms() - t0));
	check_that(srv.reasons[CONN_CLOSED_LOCAL] == JOBS && srv.live == 0,
	      "every connection closed gracefully and was freed (%u)", srv.reasons[CONN_CLOSED_LOCAL]);
	check_that(DELTA(&srv, opened) == DELTA(&srv, closed), "conn counters balance (%llu opened)",
	      (unsigned long long)DELTA(&srv, opened));
}

/* ---- memory: `test_tls --rss N` (not part of the suite) ---- */

static long rss_kib(pid_t pid)
{
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	read_file(path, buf, sizeof buf);
	const char *p = strstr(buf, "VmRSS:");
	return p ? strtol(p + 6, NULL, 10) : -1;
}

static int rss_mode(int count)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (count < 1 || count > 5000 || rl.rlim_cur < (rlim_t)count + 64) {
		fprintf(stderr, "count must be 1..5000 and under the fd limit\n");
		return 2;
	}
	int ports[2];
	if (pipe(ports) != 0)
		return 1;
	pid_t child = fork();
	if (child == 0) {
		/* The measured process: an edge-like server and nothing else. */
		struct server srv;
		struct echo_opts opts = { 0 };
		const char *err;
		struct tls_context *ctx = tls_context_new(ec_id.cert, ec_id.key, &err);
		if (!ctx || server_init(&srv) != 0)
			_exit(1);
		int port = server_listen(&srv, ctx, &opts);
		if (write(ports[1], &port, sizeof port) != sizeof port)
			_exit(1);
		event_base_dispatch(srv.base);
		_exit(0);
	}
	int port = -1;
	if (read(ports[0], &port, sizeof port) != sizeof port || port <= 0)
		return 1;
	struct client *cls = calloc((size_t)count, sizeof *cls);
	if (!cls)
		return 1;
	/* Warm up the server's allocator and libevent tables, then measure. */
	for (int i = 0; i < 8; i++) {
		struct client cl;
		if (client_open(&cl, port, ec_id.cert, 0) == 0)
			client_echo(&cl, 1000, (uint32_t)i + 1);
		client_close(&cl);
	}
	usleep(200000);
	long base = rss_kib(child);
	for (int i = 0; i < count; i++) {
		cls[i].fd = tcp_connect(port, 0);
		if (cls[i].fd < 0) {
			fprintf(stderr, "connect %d failed\n", i);
			count = i;
			break;
		}
	}
	usleep(300000);
	long tcp_only = rss_kib(child);
	for (int i = 0; i < count; i++)
		close(cls[i].fd);
	usleep(300000);
	int done = 0;
	for (int i = 0; i < count; i++)
		if (client_open(&cls[i], port, ec_id.cert, 0) == 0)
			done++;
	usleep(300000);
	long idle_tls = rss_kib(child);
	printf("server RSS: baseline %ld KiB; %d silent TCP conns %+ld KiB (%.2f KiB each); "
	       "%d idle TLS conns %+ld KiB (%.2f KiB each)\n",
	       base, count, tcp_only - base, (double)(tcp_only - base) / count, done,
	       idle_tls - base, (double)(idle_tls - base) / (done ? done : 1));
	for (int i = 0; i < count; i++)
		client_close(&cls[i]);
	free(cls);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	return done == count ? 0 : 1;
}

static int setup_identities(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/test_tls.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	if (make_identity(&ec_id, KEY_EC_P256, "20991231235959") != 0 ||
	    make_identity(&rsa_id, KEY_RSA2048, "20991231235959") != 0)
		return -1;
	snprintf(ec_id.cert_path, sizeof ec_id.cert_path, "%s/ec.pem", tmpdir);
	snprintf(rsa_id.cert_path, sizeof rsa_id.cert_path, "%s/rsa.pem", tmpdir);
	if (write_file(ec_id.cert_path, ec_id.cert, strlen(ec_id.cert)) != 0 ||
	    write_file(rsa_id.cert_path, rsa_id.cert, strlen(rsa_id.cert)) != 0)
		return -1;
	return 0;
}

static void cleanup_tmpdir(void)
{
	static const char *const names[] = { "ec.pem", "rsa.pem", "stdin", "stdout", "stderr" };
	char path[PATH_MAX + 16];
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	rmdir(tmpdir);
}

int main(int argc, char **argv)
{
	log_init("test_tls");
	if (setup_identities() != 0) {
		printf("FAIL - test identities could not be generated\n");
		cleanup_tmpdir();
		return 1;
	}
	if (argc == 3 && strcmp(argv[1], "--rss") == 0) {
		int rc = rss_mode(atoi(argv[2]));
		cleanup_tmpdir();
		return rc;
	}
	test_context_errors();
	const char *err;
	struct tls_context *ec = tls_context_new(ec_id.cert, ec_id.key, &err);
	struct tls_context *rsa = tls_context_new(rsa_id.cert, rsa_id.key, &err);
	if (!ec || !rsa) {
		printf("FAIL - contexts: %s\n", err);
		cleanup_tmpdir();
		return 1;
	}
	test_openssl_policy(ec, rsa);
	test_renegotiation(ec);
	test_curl(ec);
	test_bulk(ec, rsa);
	test_coalescing(ec);
	test_handshake_timeout(ec);
	test_concurrency(ec, rsa);
	tls_context_free(ec);
	tls_context_free(rsa);
	cleanup_tmpdir();
	return check_finish();
}
