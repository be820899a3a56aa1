/* Rate limiting: an exact sliding window (no principal is admitted more than N times in any
 * W-millisecond window), shared by every replica through Redis, or kept in this process when no
 * Redis is configured (and, in fail mode "local", while Redis is down). */
#ifndef MCPGATE_LIMITER_H
#define MCPGATE_LIMITER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LIMITER_MAX_RULES 4        /* windows one request is checked against at once */
#define LIMITER_KEY_MAX 300        /* "mcpgate:rl:{<principal>}:<scope>", components bounded */
#define LIMITER_DEFAULT_REQUESTS 1000
#define LIMITER_DEFAULT_WINDOW_MS 60000
#define LIMITER_DEFAULT_MAX_KEYS 10000
#define LIMITER_DEFAULT_MAX_ENTRIES (2u * 1024 * 1024) /* timestamps, 8 bytes each: 16 MiB */
#define LIMITER_DEFAULT_TIMEOUT_MS 500

enum limiter_fail_mode {
	LIMITER_FAIL_CLOSED, /* Redis down: refuse with 503 + Retry-After (the default) */
	LIMITER_FAIL_LOCAL,  /* Redis down: each replica limits alone with the embedded limiter */
};

struct limiter_config {
	uint32_t requests;   /* default rule: N ... */
	uint32_t window_ms;  /* ... per W */
	/* The embedded limiter's bounds: keys tracked, and timestamps held over all keys. */
	size_t max_keys;
	size_t max_entries;
	/* Redis: none when redis_host is "". The password is a secret: never logged. */
	char redis_host[256];
	uint16_t redis_port;
	char redis_password[256];
	uint32_t redis_db;
	enum limiter_fail_mode fail_mode;
	uint32_t redis_timeout_ms;   /* a reply (or a connect) slower than this: Redis is down */
	uint32_t backoff_min_ms;     /* reconnect delay, doubling ... */
	uint32_t backoff_max_ms;     /* ... up to this */
	/* The embedded limiter's clock, monotonic milliseconds; NULL = CLOCK_MONOTONIC. Tests
	 * inject one to step time exactly. */
	int64_t (*clock)(void *arg);
	void *clock_arg;
};

/* Defaults: 1000 per 60 s, no Redis, fail closed, 10000 keys, 500 ms, 100 ms..5 s backoff. */
void limiter_config_defaults(struct limiter_config *cfg);
/* Reads "auth.rate_limit" and "auth.redis" of a config document (or the auth slice) already
 * validated by lib/config.c, over the defaults. Returns 0, or -1 with err filled. */
int limiter_config_from_json(const json_t *root, struct limiter_config *cfg, char *err,
                             size_t errlen);

/* One window a request must fit in. The principal's own window has scope NULL; a narrower one
 * (a tool pattern with its own limit) names its scope, so it gets a key of its own. */
struct limiter_rule {
	const char *scope;   /* NULL, or up to 128 bytes (longer ones are hashed into the key) */
	uint32_t limit;      /* N >= 1 */
	uint32_t window_ms;  /* W >= 1 */
};

enum limit_outcome {
	LIMIT_ALLOW,
	LIMIT_DENY,        /* over the limit: 429 */
	LIMIT_UNAVAILABLE, /* cannot decide (Redis down and fail mode closed, table full): 503 */
};

struct limit_verdict {
	enum limit_outcome outcome;
	bool shared;            /* decided by Redis for all replicas; false: this process alone */
	size_t rule;            /* index of the rule that decided (the tightest, or the refusing one) */
	uint32_t limit;         /* RateLimit-Limit: that rule's N */
	uint32_t remaining;     /* RateLimit-Remaining: admissions left in its window after this */
	uint32_t reset_s;       /* RateLimit-Reset: seconds until its window has room again */
	uint32_t retry_after_s; /* Retry-After for DENY and UNAVAILABLE (>= 1); 0 for ALLOW */
	uint64_t reset_ms;      /* the same two, unrounded */
	uint64_t retry_after_ms;
	int64_t decided_ms;     /* the decision's clock: Redis server time (Unix ms) when shared,
	                         * else the embedded limiter's monotonic clock */
	const char *reason;     /* static text for logs and the client's error message */
};

/* Called exactly once per limiter_check, possibly before limiter_check returns (embedded and
 * fail-mode verdicts), never after limiter_free. The verdict is valid during the call only. */
typedef void (*limiter_cb)(const struct limit_verdict *verdict, void *arg);

struct event_base;
struct limiter;

/* `base` may be NULL when no Redis is configured. Connects to Redis at once (asynchronously);
 * until the link is up, checks follow the fail mode. Returns NULL with err filled. */
struct limiter *limiter_new(struct event_base *base, const struct limiter_config *cfg,
                            char *err, size_t errlen);
/* Pending Redis checks are dropped without their callbacks. NULL is harmless. */
void limiter_free(struct limiter *l);

/* Checks `principal` against every rule at once: admitted only if every window has room, and
 * then counted in every window (a refused request counts nowhere). Returns 0 when cb will be
 * or was called; -1 (cb never called) for a programming error: no principal, no rules, more
 * than LIMITER_MAX_RULES, a zero limit or window. */
int limiter_check(struct limiter *l, const char *principal, const struct limiter_rule *rules,
                  size_t n_rules, limiter_cb cb, void *arg);

/* The configured default rule (scope NULL). */
struct limiter_rule limiter_default_rule(const struct limiter *l);
bool limiter_redis_up(const struct limiter *l);

struct limiter_stats {
	uint64_t checks, allowed, denied, unavailable;
	uint64_t redis_checks;     /* decided by Redis */
	uint64_t local_fallbacks;  /* decided by the embedded limiter while Redis was down */
	uint64_t noscript_reloads; /* the script was missing (SCRIPT FLUSH, failover) and reloaded */
	uint64_t reconnects;       /* Redis links established */
	size_t keys, entries;      /* the embedded table now */
};
void limiter_get_stats(const struct limiter *l, struct limiter_stats *out);

/* What the client is told: 429 for DENY, 503 for UNAVAILABLE, 0 for ALLOW. */
int limit_verdict_status(const struct limit_verdict *v);
/* Adds RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset and (when refused) Retry-After
 * to a JSON object of header name -> string value. Returns 0, or -1 on allocation failure. */
int limit_verdict_headers(const struct limit_verdict *v, json_t *headers);

/* The key of (principal, scope) in Redis, also used by the embedded table: components that are
 * long, empty or hold '{', '}', control or non-ASCII bytes become "#" + SHA-256 hex, so keys are
 * unambiguous and bounded. The principal is a hash tag, so one principal's keys share a
 * Redis Cluster slot. Returns the length, or -1 on failure. */
int limiter_key(const char *principal, const char *scope, char out[LIMITER_KEY_MAX]);

#endif
