/* AWS Signature Version 4 for the Authorization header: canonical request, string to sign,
 * signing key (cached per key, day, region and service) and the headers to send. Pure: no I/O,
 * no clock (the caller passes the time), bounded sizes. Ours rather than CURLOPT_AWS_SIGV4,
 * which in libcurl 7.88 neither double-encodes paths nor sorts the query nor signs tokens. */
#ifndef MCPGATE_AWS_SIGV4_H
#define MCPGATE_AWS_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SIGV4_MAX_CANONICAL (128u * 1024u) /* a canonical request larger than this is refused */
#define SIGV4_MAX_HEADERS 64               /* signed headers, before merging repeated names */
#define SIGV4_MAX_HEADER_NAME 128
#define SIGV4_MAX_QUERY_PARAMS 256
#define SIGV4_MAX_KEY_ID 128
#define SIGV4_MAX_SCOPE_PART 64 /* region, service */
#define SIGV4_AUTH_MAX 4096     /* the Authorization value */
#define SIGV4_HEX_LEN 64        /* a SHA-256 in hex, without the NUL */
#define SIGV4_AMZ_DATE_LEN 16   /* 20150830T123600Z */
#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

enum sigv4_flags {
	/* S3: the path is encoded once (the object key as it is) and never normalised, and the
	 * payload hash is sent as x-amz-content-sha256 and signed. */
	SIGV4_S3 = 1u << 0,
	/* S3 only: sign "UNSIGNED-PAYLOAD" instead of the body's hash (bodies streamed over TLS). */
	SIGV4_PAYLOAD_UNSIGNED = 1u << 1,
	/* Send the session token but leave it out of the signature: the few services that want
	 * it added after signing (the suite's post-sts-header-after). Default: signed. */
	SIGV4_TOKEN_AFTER = 1u << 2,
};

/* One header; both strings NUL-terminated. Values must not contain CR or LF. */
struct sigv4_header {
	const char *name;
	const char *value;
};

/* Borrowed for the duration of one call. The secret is never copied, only hashed into keys. */
struct sigv4_credentials {
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token; /* NULL or "" when the keys are long-term */
};

struct sigv4_request {
	const char *method; /* "GET", "POST", ... */
	/* The path exactly as it goes on the wire, without the query: for every service but S3 it
	 * is normalised (dot segments, repeated slashes) and percent-encoded once more, so a
	 * Bedrock model id sent as "anthropic.claude-v2%3A1" is signed as "...%253A1". */
	const char *path;
	const char *query; /* as on the wire, without '?'; NULL or "" for none */
	/* Every header to sign, host included (required). x-amz-date, x-amz-security-token,
	 * x-amz-content-sha256 and authorization are the signer's own and refused here. */
	const struct sigv4_header *headers;
	size_t n_headers;
	/* Hex SHA-256 of the body when the caller hashed it (streamed bodies: see
	 * sigv4_sha256_hex or hash while reading); NULL to hash body/body_len here. */
	const char *payload_hash;
	const void *body;
	size_t body_len;
	const char *region;  /* "us-east-1" */
	const char *service; /* signing name: "s3", "bedrock", "dynamodb", ... */
	time_t time;         /* the request's time, UTC seconds */
	unsigned flags;      /* enum sigv4_flags */
};

/* The headers the caller adds to the request, in this order, then Authorization. */
struct sigv4_signed {
	char amz_date[SIGV4_AMZ_DATE_LEN + 1];        /* x-amz-date */
	char content_sha256[SIGV4_HEX_LEN + 1];       /* x-amz-content-sha256 (S3 only) */
	const char *security_token;                   /* x-amz-security-token; NULL when none */
	char authorization[SIGV4_AUTH_MAX];           /* Authorization */
	char signature[SIGV4_HEX_LEN + 1];
	struct sigv4_header add[4];                   /* the above as name/value pairs */
	size_t n_add;
};

/* Derived signing keys, so a day's requests cost one HMAC instead of five. Keyed by a hash of
 * the secret (never the secret itself), the date, region and service. Wiped by _wipe. */
#define SIGV4_KEY_CACHE_SLOTS 8
struct sigv4_key_cache {
	struct {
		uint8_t secret_hash[32];
		char date[9];
		char region[SIGV4_MAX_SCOPE_PART + 1];
		char service[SIGV4_MAX_SCOPE_PART + 1];
		uint8_t key[32];
		uint64_t last_used; /* 0: empty slot */
	} slot[SIGV4_KEY_CACHE_SLOTS];
	uint64_t clock;
	unsigned long derivations; /* how many keys were derived: for tests and metrics */
};

void sigv4_key_cache_init(struct sigv4_key_cache *cache);
void sigv4_key_cache_wipe(struct sigv4_key_cache *cache);

/* Signs `req`. `cache` may be NULL (then the key is derived every time). Returns 0, or -1
 * with errno EINVAL (a malformed or forbidden input) or E2BIG (over one of the limits above),
 * or ENOMEM. Nothing secret is left in memory the function allocated. */
int sigv4_sign(const struct sigv4_request *req, const struct sigv4_credentials *cred,
               struct sigv4_key_cache *cache, struct sigv4_signed *out);

/* The same, also copying the canonical request and the string to sign (NUL-terminated) into
 * the given buffers; for tests and debugging. Either buffer may be NULL; too small is E2BIG. */
int sigv4_sign_debug(const struct sigv4_request *req, const struct sigv4_credentials *cred,
                     struct sigv4_key_cache *cache, struct sigv4_signed *out,
                     char *canonical, size_t canonical_cap, char *string_to_sign, size_t sts_cap);

/* Percent-encodes `len` bytes the AWS way: A-Z a-z 0-9 - . _ ~ stay, '/' stays when
 * keep_slash, every other byte becomes %XX (upper-case). This is how callers build wire
 * paths (each key or id once) and query values. Returns the length written, or (size_t)-1
 * when `cap` is too small; `out` is NUL-terminated whenever cap > 0. */
size_t sigv4_uri_encode(char *out, size_t cap, const char *src, size_t len, bool keep_slash);

/* Lower-case hex SHA-256 of `len` bytes into out[65]. */
void sigv4_sha256_hex(const void *data, size_t len, char out[SIGV4_HEX_LEN + 1]);

/* "YYYYMMDDTHHMMSSZ" for `t` (UTC). Returns 0, or -1 for a time gmtime cannot represent. */
int sigv4_amz_date(time_t t, char out[SIGV4_AMZ_DATE_LEN + 1]);

#endif
