/* The TLS transport for the conn layer and the server context it shares, on mbedtls 2.28:
 * non-blocking through our own BIO callbacks, handshake and records driven by libevent. */
#include "tls.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/x509_crt.h>

#include "log.h"

/*
 * Memory per connection. mbedtls 2.28 allocates, in mbedtls_ssl_setup(), an input and an
 * output record buffer of MBEDTLS_SSL_{IN,OUT}_CONTENT_LEN (16 KiB each by default) plus
 * record overhead: ~33 KiB per TLS connection, for its whole life. Debian builds mbedtls
 * without MBEDTLS_SSL_VARIABLE_BUFFER_LENGTH, the option that would shrink them after a
 * negotiated max_fragment_length; MBEDTLS_SSL_MAX_FRAGMENT_LENGTH is on, but on a server it
 * only honours what a client asks for (browsers and curl never ask) and does not change the
 * allocation. Smaller *_CONTENT_LEN would need our own mbedtls build and breaks peers that
 * send full 16 KiB records. What we can do: allocate the buffers only when the client's
 * first bytes arrive (a silent TCP connection costs a struct conn and an empty evbuffer),
 * keep the handshake state short-lived (mbedtls frees it at the end of the handshake), and
 * leave session caches and tickets off. Our queued output lives in the conn's evbuffer and is
 * freed as it drains. Parking idle connections with mbedtls_ssl_context_save() is not an
 * option either: 2.28 serializes only DTLS contexts. Measured (test_tls --rss 1000, server
 * RSS): ~1.6 KiB per silent TCP connection, ~35 KiB per idle established TLS connection.
 */

/* TLS record payload we fill when coalescing queued writes. */
#define TLS_RECORD_MAX 16384

struct tls_context {
	unsigned refs;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt chain;
	mbedtls_pk_context key;
};

struct tls_conn {
	struct conn conn; /* first: the conn layer sees only this part */
	struct tls_context *ctx;
	mbedtls_ssl_context ssl;
	/* mbedtls_ssl_write() that returned WANT_WRITE has already encrypted its record and must
	 * be called again with the same length: it then returns that length once flushed.
	 * Retrying with a longer pull-up (more output queued meanwhile) would drain bytes that
	 * never went out. 0 when no record is owed. */
	size_t write_retry_len;
	size_t max_payload;
	bool ssl_ready;
};

/* Server preference order: AES-GCM first (AES-NI), ChaCha20 for clients without it. ECDSA
 * and RSA variants both, so either kind of certificate works; mbedtls skips the suites the
 * certificate cannot sign for. */
static const int tls_ciphersuites[] = {
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	0,
};

static const mbedtls_ecp_group_id tls_curves[] = {
	MBEDTLS_ECP_DP_CURVE25519,
	MBEDTLS_ECP_DP_SECP256R1,
	MBEDTLS_ECP_DP_SECP384R1,
	MBEDTLS_ECP_DP_NONE,
};

/* Hashes for our ServerKeyExchange signature: no SHA-1, no SHA-224. */
static const int tls_sig_hashes[] = {
	MBEDTLS_MD_SHA256,
	MBEDTLS_MD_SHA384,
	MBEDTLS_MD_SHA512,
	MBEDTLS_MD_NONE,
};

static const char *tls_alpn[] = { "http/1.1", NULL };

/* ---- process random generator ---- */

static mbedtls_ctr_drbg_context tls_drbg;
static pid_t tls_drbg_pid;
static int tls_drbg_status = -1;
static pthread_once_t tls_drbg_once = PTHREAD_ONCE_INIT;

/* getrandom(2) directly, not mbedtls's platform source: after the sandbox there is no
 * /dev/urandom to fall back to, and reseeds happen then. */
static int tls_entropy(void *unused, unsigned char *out, size_t len)
{
	(void)unused;
	while (len > 0) {
		ssize_t n = getrandom(out, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return MBEDTLS_ERR_ENTROPY_SOURCE_FAILED;
		}
		out += n;
		len -= (size_t)n;
	}
	return 0;
}

static void tls_drbg_seed(void)
{
	static const char personalization[] = "mcpgate-edge-tls";
	mbedtls_ctr_drbg_init(&tls_drbg);
	tls_drbg_status = mbedtls_ctr_drbg_seed(&tls_drbg, tls_entropy, NULL,
	                                        (const unsigned char *)personalization,
	                                        sizeof personalization - 1);
	tls_drbg_pid = getpid();
}

static int tls_drbg_ready(void)
{
	pthread_once(&tls_drbg_once, tls_drbg_seed);
	return tls_drbg_status;
}

/* The mbedtls f_rng. A forked copy must not replay its parent's stream, hence the pid. */
static int tls_rng(void *unused, unsigned char *out, size_t len)
{
	(void)unused;
	pid_t pid = getpid();
	if (pid != tls_drbg_pid) {
		int r = mbedtls_ctr_drbg_reseed(&tls_drbg, NULL, 0);
		if (r != 0)
			return r;
		tls_drbg_pid = pid;
	}
	return mbedtls_ctr_drbg_random(&tls_drbg, out, len);
}

int tls_random(void *buf, size_t len)
{
	if (tls_drbg_ready() != 0)
		return -1;
	/* mbedtls caps one request at MBEDTLS_CTR_DRBG_MAX_REQUEST bytes. */
	unsigned char *p = buf;
	while (len > 0) {
		size_t n = len < MBEDTLS_CTR_DRBG_MAX_REQUEST ? len : MBEDTLS_CTR_DRBG_MAX_REQUEST;
		if (tls_rng(NULL, p, n) != 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

/* ---- context ---- */

static const char *tls_strerror(int code, char *buf, size_t len)
{
	mbedtls_strerror(code, buf, len);
	return buf;
}

static _Thread_local char tls_errbuf[256];

static const char *tls_fail(const char *what, int code)
{
	char detail[128];
	if (code != 0)
		snprintf(tls_errbuf, sizeof tls_errbuf, "%s (%s)", what,
		         tls_strerror(code, detail, sizeof detail));
	else
		snprintf(tls_errbuf, sizeof tls_errbuf, "%s", what);
	return tls_errbuf;
}

static void tls_context_release(struct tls_context *ctx)
{
	mbedtls_ssl_config_free(&ctx->conf);
	mbedtls_x509_crt_free(&ctx->chain);
	mbedtls_pk_free(&ctx->key);
	free(ctx);
}

static void tls_context_unref(struct tls_context *ctx)
{
	if (ctx && --ctx->refs == 0)
		tls_context_release(ctx);
}

void tls_context_free(struct tls_context *ctx)
{
	tls_context_unref(ctx);
}

/* Only keys a modern client accepts and our curve list can carry. */
static const char *tls_check_key(const mbedtls_pk_context *key)
{
	switch (mbedtls_pk_get_type(key)) {
	case MBEDTLS_PK_RSA:
		if (mbedtls_pk_get_bitlen(key) < 2048)
			return "the RSA key is shorter than 2048 bits";
		return NULL;
	case MBEDTLS_PK_ECKEY:
	case MBEDTLS_PK_ECDSA: {
		mbedtls_ecp_group_id id = mbedtls_pk_ec(*key)->grp.id;
		if (id != MBEDTLS_ECP_DP_SECP256R1 && id != MBEDTLS_ECP_DP_SECP384R1)
			return "the EC key is not on P-256 or P-384";
		return NULL;
	}
	default:
		return "the key is neither RSA nor ECDSA";
	}
}

static int tls_parse_identity(struct tls_context *ctx, const char *cert_pem, const char *key_pem,
                              const char **err)
{
	int r = mbedtls_x509_crt_parse(&ctx->chain, (const unsigned char *)cert_pem,
	                               strlen(cert_pem) + 1);
	if (r != 0) {
		/* A positive count means some certificates of the chain were skipped. */
		*err = r > 0 ? tls_fail("a certificate in the chain could not be parsed", 0)
		             : tls_fail("the certificate PEM could not be parsed", r);
		return -1;
	}
	r = mbedtls_pk_parse_key(&ctx->key, (const unsigned char *)key_pem, strlen(key_pem) + 1,
	                         NULL, 0);
	if (r != 0) {
		*err = tls_fail("the private key PEM could not be parsed (encrypted keys are not supported)", r);
		return -1;
	}
	const char *bad = tls_check_key(&ctx->key);
	if (bad) {
		*err = tls_fail(bad, 0);
		return -1;
	}
	r = mbedtls_pk_check_pair(&ctx->chain.pk, &ctx->key);
	if (r != 0) {
		*err = tls_fail("the private key does not match the first certificate", r);
		return -1;
	}
	if (mbedtls_x509_time_is_past(&ctx->chain.valid_to))
		log_warn("tls_certificate_expired", LOG_STR("action", "renew the certificate"));
	else if (mbedtls_x509_time_is_future(&ctx->chain.valid_from))
		log_warn("tls_certificate_not_yet_valid", LOG_STR("action", "check the clock"));
	return 0;
}

static int tls_configure(struct tls_context *ctx, const char **err)
{
	mbedtls_ssl_config *conf = &ctx->conf;
	int r = mbedtls_ssl_config_defaults(conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
	                                    MBEDTLS_SSL_PRESET_DEFAULT);
	if (r != 0) {
		*err = tls_fail("mbedtls_ssl_config_defaults failed", r);
		return -1;
	}
	mbedtls_ssl_conf_rng(conf, tls_rng, NULL);
	/* TLS 1.2 only: 2.28's TLS 1.3 server is experimental. Min set explicitly, not trusted
	 * to the library's default. */
	mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_ciphersuites(conf, tls_ciphersuites);
	mbedtls_ssl_conf_curves(conf, tls_curves);
	mbedtls_ssl_conf_sig_hashes(conf, tls_sig_hashes);
	mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_NONE);
	/* Client-initiated renegotiation is a CPU lever for the peer and a state machine we
	 * do not need. */
	mbedtls_ssl_conf_renegotiation(conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
	mbedtls_ssl_conf_legacy_renegotiation(conf, MBEDTLS_SSL_LEGACY_NO_RENEGOTIATION);
	/* No resumption: tickets would need a key shared by all replicas (a client reconnects to
	 * any of them), and a per-process cache rarely hits behind a load balancer while costing
	 * memory and a lock. A server issues tickets only with a ticket callback, which we never
	 * set; this call is the client-side switch, set so the intent is explicit. */
	mbedtls_ssl_conf_session_tickets(conf, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
	r = mbedtls_ssl_conf_alpn_protocols(conf, tls_alpn);
	if (r != 0) {
		*err = tls_fail("ALPN could not be configured", r);
		return -1;
	}
	r = mbedtls_ssl_conf_own_cert(conf, &ctx->chain, &ctx->key);
	if (r != 0) {
		*err = tls_fail("the certificate could not be installed", r);
		return -1;
	}
	return 0;
}

struct tls_context *tls_context_new(const char *cert_pem, const char *key_pem, const char **err)
{
	const char *unused;
	if (!err)
		err = &unused;
	*err = NULL;
	if (!cert_pem || !key_pem || !*cert_pem || !*key_pem) {
		*err = tls_fail("a TLS certificate and key are both required", 0);
		return NULL;
	}
	int r = tls_drbg_ready();
	if (r != 0) {
		*err = tls_fail("the random generator could not be seeded", r);
		return NULL;
	}
	struct tls_context *ctx = calloc(1, sizeof *ctx);
	if (!ctx) {
		*err = tls_fail("out of memory", 0);
		return NULL;
	}
	ctx->refs = 1;
	mbedtls_ssl_config_init(&ctx->conf);
	mbedtls_x509_crt_init(&ctx->chain);
	mbedtls_pk_init(&ctx->key);
	if (tls_parse_identity(ctx, cert_pem, key_pem, err) != 0 || tls_configure(ctx, err) != 0) {
		tls_context_release(ctx);
		return NULL;
	}
	return ctx;
}

/* ---- transport ---- */

static struct tls_conn *tls_of(struct conn *c)
{
	return (struct tls_conn *)c;
}

static void tls_log(enum log_level level, const char *event, int code)
{
	char text[128];
	if (level == LOG_DEBUG && log_get_level() > LOG_DEBUG)
		return;
	log_emit(level, event, NULL, LOG_FIELDS_(LOG_STR("error", tls_strerror(code, text, sizeof text)),
	                                          LOG_INT("code", code)));
}

/* BIO callbacks: the socket is non-blocking; "would block" becomes WANT_READ/WANT_WRITE and
 * mbedtls returns it to us unchanged, to be retried when libevent says so. */
static int tls_bio_send(void *arg, const unsigned char *buf, size_t len)
{
	struct conn *c = arg;
	ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	if (errno == EPIPE || errno == ECONNRESET)
		return MBEDTLS_ERR_NET_CONN_RESET;
	return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int tls_bio_recv(void *arg, unsigned char *buf, size_t len)
{
	struct conn *c = arg;
	ssize_t n = recv(c->fd, buf, len, 0);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_READ;
	if (errno == ECONNRESET)
		return MBEDTLS_ERR_NET_CONN_RESET;
	return MBEDTLS_ERR_NET_RECV_FAILED;
}

/* Maps WANT_READ/WANT_WRITE to CONN_AGAIN with the direction; anything else is not ours. */
static bool tls_would_block(struct conn *c, int r)
{
	if (r == MBEDTLS_ERR_SSL_WANT_READ) {
		c->io_want = EV_READ;
		return true;
	}
	if (r == MBEDTLS_ERR_SSL_WANT_WRITE) {
		c->io_want = EV_WRITE;
		return true;
	}
	return false;
}

static int tls_handshake(struct conn *c)
{
	struct tls_conn *t = tls_of(c);
	if (!t->ssl_ready) {
		int r = mbedtls_ssl_setup(&t->ssl, &t->ctx->conf);
		if (r != 0) {
			tls_log(LOG_ERROR, "tls_setup_failed", r);
			return CONN_ERROR;
		}
		mbedtls_ssl_set_bio(&t->ssl, c, tls_bio_send, tls_bio_recv, NULL);
		t->ssl_ready = true;
	}
	int r = mbedtls_ssl_handshake(&t->ssl);
	if (tls_would_block(c, r))
		return CONN_AGAIN;
	if (r != 0) {
		/* Peer-caused (scanners, old clients): info, not error. mbedtls has sent the alert. */
		tls_log(LOG_INFO, "tls_handshake_failed", r);
		return CONN_ERROR;
	}
	int max = mbedtls_ssl_get_max_out_record_payload(&t->ssl);
	t->max_payload = max > 0 && max < TLS_RECORD_MAX ? (size_t)max : TLS_RECORD_MAX;
	log_debug("tls_handshake_done", LOG_STR("version", mbedtls_ssl_get_version(&t->ssl)),
	          LOG_STR("suite", mbedtls_ssl_get_ciphersuite(&t->ssl)));
	return CONN_OK;
}

static ssize_t tls_read(struct conn *c, void *buf, size_t len)
{
	struct tls_conn *t = tls_of(c);
	if (len > TLS_RECORD_MAX)
		len = TLS_RECORD_MAX; /* one record per call at most anyway; keeps the int return sane */
	int r = mbedtls_ssl_read(&t->ssl, buf, len);
	if (r > 0)
		return r;
	if (tls_would_block(c, r))
		return CONN_AGAIN;
	switch (r) {
	case 0:
	case MBEDTLS_ERR_SSL_CONN_EOF:
		/* TCP FIN without close_notify: a truncation is possible, so the owner must rely
		 * on its own framing (Content-Length, chunked) to tell a complete request. */
		log_debug("tls_eof_without_close_notify");
		return CONN_EOF;
	case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
		return CONN_EOF;
	case MBEDTLS_ERR_NET_CONN_RESET:
		c->close_reason = CONN_CLOSED_IO_ERROR;
		return CONN_ERROR;
	default:
		tls_log(LOG_INFO, "tls_read_failed", r);
		c->close_reason = CONN_CLOSED_TLS_ERROR;
		return CONN_ERROR;
	}
}

/* Coalesces queued output into records of up to 16 KiB, one mbedtls_ssl_write each. */
static int tls_flush(struct conn *c)
{
	struct tls_conn *t = tls_of(c);
	size_t queued;
	while ((queued = evbuffer_get_length(c->out)) > 0) {
		size_t n = t->write_retry_len;
		if (n == 0)
			n = queued < t->max_payload ? queued : t->max_payload;
		unsigned char *p = evbuffer_pullup(c->out, (ev_ssize_t)n);
		if (!p) {
			log_error("tls_flush_nomem", LOG_INT("bytes", n));
			c->close_reason = CONN_CLOSED_IO_ERROR;
			return CONN_ERROR;
		}
		int r = mbedtls_ssl_write(&t->ssl, p, n);
		if (r > 0) {
			evbuffer_drain(c->out, (size_t)r);
			t->write_retry_len = 0;
			continue;
		}
		if (tls_would_block(c, r)) {
			t->write_retry_len = n;
			return CONN_AGAIN;
		}
		if (r == MBEDTLS_ERR_NET_CONN_RESET) {
			c->close_reason = CONN_CLOSED_IO_ERROR;
		} else {
			tls_log(LOG_INFO, "tls_write_failed", r);
			c->close_reason = CONN_CLOSED_TLS_ERROR;
		}
		return CONN_ERROR;
	}
	return CONN_OK;
}

/* close_notify. Called only once queued output has gone: mbedtls would otherwise spend this
 * call finishing the owed record and silently skip the alert. */
static int tls_shutdown(struct conn *c)
{
	struct tls_conn *t = tls_of(c);
	if (!t->ssl_ready)
		return CONN_OK;
	int r = mbedtls_ssl_close_notify(&t->ssl);
	if (r == 0)
		return CONN_OK;
	if (tls_would_block(c, r))
		return CONN_AGAIN;
	tls_log(LOG_DEBUG, "tls_close_notify_failed", r);
	return CONN_ERROR;
}

static size_t tls_pending(struct conn *c)
{
	struct tls_conn *t = tls_of(c);
	return t->ssl_ready ? mbedtls_ssl_get_bytes_avail(&t->ssl) : 0;
}

static void tls_destroy(struct conn *c)
{
	struct tls_conn *t = tls_of(c);
	mbedtls_ssl_free(&t->ssl);
	tls_context_unref(t->ctx);
	free(t);
}

static const struct conn_ops tls_ops = {
	.name = "tls",
	.handshake = tls_handshake,
	.read = tls_read,
	.flush = tls_flush,
	.shutdown = tls_shutdown,
	.pending = tls_pending,
	.destroy = tls_destroy,
};

struct conn *conn_new_tls(struct event_base *base, int fd, struct tls_context *ctx,
                          const struct conn_callbacks *cb, void *arg)
{
	if (!ctx) {
		errno = EINVAL;
		return NULL;
	}
	struct tls_conn *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	mbedtls_ssl_init(&t->ssl);
	t->ctx = ctx;
	t->max_payload = TLS_RECORD_MAX;
	if (conn_init(&t->conn, base, fd, &tls_ops, cb, arg) != 0) {
		int saved = errno;
		free(t);
		errno = saved;
		return NULL;
	}
	ctx->refs++;
	return &t->conn;
}

bool conn_is_tls(const struct conn *c)
{
	return c->ops == &tls_ops;
}

static const mbedtls_ssl_context *tls_ssl(const struct conn *c)
{
	if (!conn_is_tls(c))
		return NULL;
	const struct tls_conn *t = (const struct tls_conn *)c;
	return t->ssl_ready ? &t->ssl : NULL;
}

const char *tls_conn_alpn(const struct conn *c)
{
	const mbedtls_ssl_context *ssl = tls_ssl(c);
	return ssl ? mbedtls_ssl_get_alpn_protocol(ssl) : NULL;
}

const char *tls_conn_version(const struct conn *c)
{
	const mbedtls_ssl_context *ssl = tls_ssl(c);
	return ssl ? mbedtls_ssl_get_version(ssl) : NULL;
}

const char *tls_conn_ciphersuite(const struct conn *c)
{
	const mbedtls_ssl_context *ssl = tls_ssl(c);
	return ssl ? mbedtls_ssl_get_ciphersuite(ssl) : NULL;
}
