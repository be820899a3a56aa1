/* JSON Web Key Sets: the issuer's public keys (RSA >= 2048 bits, EC P-256) parsed from a JWKS
 * document, and a cache that fetches that document with libcurl on the libevent loop. */
#ifndef MCPGATE_JWKS_H
#define MCPGATE_JWKS_H

#include <mbedtls/pk.h>
#include <stdbool.h>
#include <stddef.h>

#define JWKS_MAX_DOC_BYTES (64 * 1024) /* a larger document is refused, not truncated */
#define JWKS_MAX_ENTRIES 64            /* entries of "keys" looked at */
#define JWKS_MAX_KEYS 16               /* usable keys kept */
#define JWKS_KID_MAX 128
#define JWKS_RSA_MIN_BITS 2048
#define JWKS_RSA_MAX_BITS 8192

enum jwk_type { JWK_RSA, JWK_EC_P256 };

struct jwk {
	char kid[JWKS_KID_MAX + 1]; /* "" when the key has none */
	bool has_kid;
	enum jwk_type type;
	char alg[8];                /* the key's own "alg" ("RS256" / "ES256"), "" when absent */
	mbedtls_pk_context pk;      /* public key only */
};

struct jwks {
	struct jwk *keys;
	size_t n;
};

/* Decodes base64url without padding, strictly: only [A-Za-z0-9_-], no '=', and canonical
 * (unused low bits zero), so each byte string has exactly one accepted encoding.
 * Returns 0 and the decoded length, or -1 (bad input, or more than `cap` bytes). */
int jwks_base64url_decode(const char *in, size_t len, unsigned char *out, size_t cap,
                          size_t *out_len);

/* Parses a JWKS document into `out` (which it overwrites). Keys of another kty or curve,
 * with "use" other than "sig", without "verify" in "key_ops", with an "alg" that is not
 * RS256/ES256 for their type, or RSA keys outside 2048..8192 bits are skipped and logged.
 * The document is refused (-1, with the reason in err) when it is not JSON, larger than
 * JWKS_MAX_DOC_BYTES, has no "keys" array, more than JWKS_MAX_ENTRIES entries, two usable
 * keys with the same kid, or no usable key at all. */
int jwks_parse(struct jwks *out, const char *text, size_t len, char *err, size_t errlen);
void jwks_free(struct jwks *set);
/* The key with this kid, or NULL. */
const struct jwk *jwks_find(const struct jwks *set, const char *kid);

/* ---- the cache ---- */

struct event_base;
struct jwks_cache;
struct jwks_waiter;

struct jwks_cache_options {
	const char *url;              /* https://...; http:// only for 127.0.0.1 and [::1] */
	unsigned refresh_seconds;     /* 0 = 600: refetch this often while all is well */
	unsigned min_refetch_seconds; /* 0 = 30: an unknown kid refetches at most this often
	                               * (also the retry interval after a failed fetch) */
	unsigned max_stale_seconds;   /* 0 = 86400: keys not refreshed for this long are dropped */
	unsigned timeout_ms;          /* 0 = 10000: the whole transfer */
	size_t max_bytes;             /* 0 = JWKS_MAX_DOC_BYTES */
	const char *ca_file;          /* PEM bundle; NULL = the system bundle. Read once by
	                               * jwks_cache_new, so fetches need no file access later */
};

/* Once per process, before any cache and before the sandbox and any thread: initialises
 * libcurl and its TLS library, which read their files now. Returns 0 or -1. */
int jwks_global_init(void);

/* Checks the options (URL scheme and host, CA bundle readable); returns NULL with err. */
struct jwks_cache *jwks_cache_new(struct event_base *base, const struct jwks_cache_options *opt,
                                  char *err, size_t errlen);
/* Stops any transfer; pending waiters are dropped without their callback. Must not be
 * called from inside a waiter's callback. */
void jwks_cache_free(struct jwks_cache *c);
/* Starts the first fetch now and the refresh timer. Never blocks. */
void jwks_cache_start(struct jwks_cache *c);
/* For a reload (SIGHUP) that changes the URL: the CA bundle read at creation is kept (the
 * sandbox forbids reading it again), the old issuer's keys are dropped, and a fetch from
 * the new URL starts at once; requests already waiting wait for that fetch instead.
 * Returns 0 (also when the URL is unchanged), or -1 with err (the cache is unchanged). */
int jwks_cache_set_url(struct jwks_cache *c, const char *url, char *err, size_t errlen);

/* The keys in force (never NULL; empty before the first good fetch or once stale). Valid
 * until control returns to the event loop. */
const struct jwks *jwks_cache_keys(struct jwks_cache *c);

typedef void (*jwks_wait_cb)(void *arg);

enum jwks_lookup {
	JWKS_LOOKUP_NOW,  /* verify now with jwks_cache_keys(): the key is there, or it is not
	                   * and no fetch may be made yet (the verdict is then "unknown kid") */
	JWKS_LOOKUP_WAIT, /* a fetch is under way; cb(arg) runs once it ends, well or not */
};

/* Asks for the key named kid (NULL: any key). When it is missing, the keys are refetched
 * unless a fetch started less than min_refetch_seconds ago; the caller then waits for that
 * fetch (*waiter identifies the wait, for jwks_waiter_cancel) or verifies at once. */
enum jwks_lookup jwks_cache_lookup(struct jwks_cache *c, const char *kid, jwks_wait_cb cb,
                                   void *arg, struct jwks_waiter **waiter);
/* Forgets a wait whose callback has not run yet (the request went away). */
void jwks_waiter_cancel(struct jwks_cache *c, struct jwks_waiter *w);

struct jwks_cache_stats {
	unsigned fetches;   /* transfers started */
	unsigned failures;  /* transfers that gave no usable key set */
	bool in_flight;
	size_t waiting;
	size_t keys;
	char last_error[256];
};
void jwks_cache_stats(const struct jwks_cache *c, struct jwks_cache_stats *out);

#endif
