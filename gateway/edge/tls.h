/* TLS for the edge: one server context built from PEM strings (the supervisor ships them; the
 * sandboxed edge opens no files) and the TLS transport of the conn layer, on mbedtls 2.28. */
#ifndef MCPGATE_EDGE_TLS_H
#define MCPGATE_EDGE_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "conn.h"

struct tls_context;

/* Builds a server context: TLS 1.2 only, ECDHE with AES-GCM or ChaCha20-Poly1305, curves
 * x25519/P-256/P-384, no renegotiation, no session tickets or cache, ALPN "http/1.1".
 * `cert_pem` is the leaf certificate optionally followed by its chain; `key_pem` an
 * unencrypted ECDSA (P-256, P-384) or RSA (>= 2048 bits) key matching the leaf. Both are
 * copied: the caller wipes and frees its strings. On failure returns NULL and points *err at a
 * message (valid until the next call in this thread) naming what was wrong; key bytes are
 * never part of it. Seeds the process random generator on first use. */
struct tls_context *tls_context_new(const char *cert_pem, const char *key_pem, const char **err);

/* Drops the caller's reference. Connections hold their own, so a reload can swap in a new
 * context while old connections finish on the old one. */
void tls_context_free(struct tls_context *ctx);

/* Like conn_new_plain(), speaking TLS as the server. The owner's handshake timer runs from
 * here to on_open (conn_abort() on expiry). The TLS buffers (~33 KiB) are allocated only
 * when the client's first bytes arrive. */
struct conn *conn_new_tls(struct event_base *base, int fd, struct tls_context *ctx,
                          const struct conn_callbacks *cb, void *arg);

bool conn_is_tls(const struct conn *c);
/* After on_open; NULL for a plain conn (and for ALPN, when the client sent none). */
const char *tls_conn_alpn(const struct conn *c);
const char *tls_conn_version(const struct conn *c);
const char *tls_conn_ciphersuite(const struct conn *c);

/* The process random generator (CTR_DRBG seeded from getrandom once per process), for other
 * edge code that needs unpredictable bytes. Returns 0 or -1. */
int tls_random(void *buf, size_t len);

#endif
