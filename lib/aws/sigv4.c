/* AWS Signature Version 4: the canonical request is built in one bounded growing buffer,
 * hashed into the string to sign, and signed with a per-day key from the cache. */
#include "sigv4.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>

#define ALGORITHM "AWS4-HMAC-SHA256"
#define SCOPE_TERMINATOR "aws4_request"
#define SECRET_MAX 256
#define METHOD_MAX 16
/* The caller's headers plus the three the signer adds. */
#define HEADERS_TOTAL (SIGV4_MAX_HEADERS + 3)

/* A growing string with a hard ceiling. The first error sticks, so a builder checks once at
 * the end. Old buffers are wiped before they are freed: they may hold a session token. */
struct sbuf {
	char *p;
	size_t len, cap;
	int err; /* 0, E2BIG, ENOMEM or EINVAL */
};

struct header_entry {
	char name[SIGV4_MAX_HEADER_NAME + 1]; /* lower-cased */
	size_t name_len;
	const char *value;
	unsigned order; /* position given, so repeated names keep their order after sorting */
};

struct query_param {
	size_t key_off, key_len, val_off, val_len; /* into the scratch buffer, already encoded */
};

/* Working memory for one signature: on the heap, so a signer on a small stack is fine. */
struct sign_work {
	struct header_entry headers[HEADERS_TOTAL];
	size_t n_headers;
	struct query_param params[SIGV4_MAX_QUERY_PARAMS];
	size_t n_params;
	struct sbuf canonical;
	struct sbuf scratch;
	struct sbuf signed_headers;
};

static void sb_free(struct sbuf *b)
{
	if (b->p) {
		mbedtls_platform_zeroize(b->p, b->cap);
		free(b->p);
	}
	b->p = NULL;
	b->len = b->cap = 0;
}

static bool sb_reserve(struct sbuf *b, size_t more)
{
	if (b->err)
		return false;
	if (more > SIGV4_MAX_CANONICAL || b->len > SIGV4_MAX_CANONICAL - more) {
		b->err = E2BIG;
		return false;
	}
	size_t need = b->len + more + 1;
	if (need <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 1024;
	while (cap < need)
		cap *= 2;
	if (cap > SIGV4_MAX_CANONICAL + 1)
		cap = SIGV4_MAX_CANONICAL + 1;
	char *p = malloc(cap);
	if (!p) {
		b->err = ENOMEM;
		return false;
	}
	if (b->len)
		memcpy(p, b->p, b->len);
	p[b->len] = '\0';
	size_t len = b->len;
	sb_free(b);
	b->p = p;
	b->len = len;
	b->cap = cap;
	return true;
}

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (!sb_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static void sb_putc(struct sbuf *b, char c)
{
	sb_put(b, &c, 1);
}

static bool is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

static const char hex_upper[] = "0123456789ABCDEF";
static const char hex_lower[] = "0123456789abcdef";

static void sb_encode_byte(struct sbuf *b, unsigned char c, bool keep_slash)
{
	if (is_unreserved(c) || (keep_slash && c == '/')) {
		sb_putc(b, (char)c);
	} else {
		char e[3] = { '%', hex_upper[c >> 4], hex_upper[c & 15] };
		sb_put(b, e, 3);
	}
}

static void sb_encode(struct sbuf *b, const char *s, size_t n, bool keep_slash)
{
	if (!sb_reserve(b, n > SIGV4_MAX_CANONICAL / 3 ? SIGV4_MAX_CANONICAL + 1 : n * 3))
		return;
	for (size_t i = 0; i < n; i++)
		sb_encode_byte(b, (unsigned char)s[i], keep_slash);
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s[0..n) and encodes each byte again the AWS way, so loosely encoded input
 * ('!' left bare, lower-case hex) signs the same as strictly encoded input. '+' is a plus. */
static void sb_reencode(struct sbuf *b, const char *s, size_t n, bool keep_slash)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			int hi = i + 2 < n ? hex_value(s[i + 1]) : -1;
			int lo = i + 2 < n ? hex_value(s[i + 2]) : -1;
			if (hi < 0 || lo < 0) {
				if (!b->err)
					b->err = EINVAL;
				return;
			}
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		sb_encode_byte(b, c, keep_slash);
	}
}

size_t sigv4_uri_encode(char *out, size_t cap, const char *src, size_t len, bool keep_slash)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];
		size_t need = is_unreserved(c) || (keep_slash && c == '/') ? 1 : 3;
		if (o + need >= cap) {
			if (cap)
				out[o < cap ? o : cap - 1] = '\0';
			return (size_t)-1;
		}
		if (need == 1) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex_upper[c >> 4];
			out[o++] = hex_upper[c & 15];
		}
	}
	if (o >= cap)
		return (size_t)-1;
	out[o] = '\0';
	return o;
}

static void to_hex(const uint8_t *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex_lower[in[i] >> 4];
		out[2 * i + 1] = hex_lower[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static const mbedtls_md_info_t *sha256_info(void)
{
	return mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
}

static void sha256(const void *data, size_t len, uint8_t out[32])
{
	/* Cannot fail for SHA-256 with a valid info; a failure would be a broken mbedtls build. */
	if (mbedtls_md(sha256_info(), data, len, out) != 0)
		abort();
}

static void hmac(const uint8_t *key, size_t key_len, const void *data, size_t len, uint8_t out[32])
{
	if (mbedtls_md_hmac(sha256_info(), key, key_len, data, len, out) != 0)
		abort();
}

void sigv4_sha256_hex(const void *data, size_t len, char out[SIGV4_HEX_LEN + 1])
{
	uint8_t digest[32];
	sha256(data, len, digest);
	to_hex(digest, sizeof digest, out);
}

int sigv4_amz_date(time_t t, char out[SIGV4_AMZ_DATE_LEN + 1])
{
	struct tm tm;
	if (!gmtime_r(&t, &tm) || tm.tm_year < 0 || tm.tm_year > 9999 - 1900)
		return -1;
	return strftime(out, SIGV4_AMZ_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm) == SIGV4_AMZ_DATE_LEN ? 0 : -1;
}

/* ---- input checks: anything that could break the canonical form's structure is refused ---- */

static bool valid_method(const char *m)
{
	size_t n = strlen(m);
	if (n == 0 || n > METHOD_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (m[i] < 'A' || m[i] > 'Z')
			return false;
	return true;
}

/* Region and service go into the credential scope, which '/' separates. */
static bool valid_scope_part(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > SIGV4_MAX_SCOPE_PART)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	return true;
}

static bool valid_key_id(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > SIGV4_MAX_KEY_ID)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

/* RFC 9110 token characters. */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* No CR/LF (header injection) and no other control byte but tab. */
static bool valid_header_value(const char *v)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return false;
	return true;
}

static bool valid_hex_hash(const char *h)
{
	if (strlen(h) != SIGV4_HEX_LEN)
		return false;
	for (size_t i = 0; i < SIGV4_HEX_LEN; i++)
		if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
			return false;
	return true;
}

/* ---- canonical request pieces ---- */

/* Non-S3 paths: dot segments resolved and empty segments dropped (RFC 3986 section 5.2.4,
 * plus AWS's collapse of "//"), a trailing slash kept, then every byte encoded. */
static void canonical_path_normalised(struct sbuf *out, struct sbuf *tmp, const char *path)
{
	size_t len = strlen(path);
	bool trailing_slash = false;
	tmp->len = 0;
	size_t i = 0;
	while (i < len) {
		while (i < len && path[i] == '/')
			i++;
		if (i == len) {
			trailing_slash = true;
			break;
		}
		size_t j = i;
		while (j < len && path[j] != '/')
			j++;
		size_t n = j - i;
		trailing_slash = false;
		if (n == 1 && path[i] == '.') {
			trailing_slash = true;
		} else if (n == 2 && path[i] == '.' && path[i + 1] == '.') {
			while (tmp->len > 0 && tmp->p[tmp->len - 1] != '/')
				tmp->len--;
			if (tmp->len > 0)
				tmp->len--; /* the '/' before the dropped segment */
			trailing_slash = true;
		} else {
			sb_putc(tmp, '/');
			sb_put(tmp, path + i, n);
		}
		i = j;
	}
	if (tmp->err) {
		out->err = tmp->err;
		return;
	}
	if (tmp->len == 0) {
		sb_putc(out, '/');
		return;
	}
	sb_encode(out, tmp->p, tmp->len, true);
	if (trailing_slash)
		sb_putc(out, '/');
}

/* S3 paths: the key as it is, encoded exactly once whatever encoding the wire form used. */
static void canonical_path_s3(struct sbuf *out, const char *path)
{
	if (path[0] != '/')
		sb_putc(out, '/');
	sb_reencode(out, path, strlen(path), true);
}

static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	if (c)
		return c;
	return an < bn ? -1 : an > bn;
}

static int cmp_param(const void *pa, const void *pb, void *scratch)
{
	const struct query_param *a = pa, *b = pb;
	const char *base = ((const struct sbuf *)scratch)->p;
	int c = cmp_bytes(base + a->key_off, a->key_len, base + b->key_off, b->key_len);
	if (c)
		return c;
	return cmp_bytes(base + a->val_off, a->val_len, base + b->val_off, b->val_len);
}

/* Parameters split at '&' and the first '=', each name and value re-encoded, then sorted by
 * encoded name and value; a parameter without '=' has an empty value. */
static void canonical_query(struct sign_work *w, const char *query)
{
	struct sbuf *out = &w->canonical, *s = &w->scratch;
	s->len = 0;
	w->n_params = 0;
	const char *p = query ? query : "";
	while (*p) {
		const char *end = strchr(p, '&');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n > 0) {
			if (w->n_params == SIGV4_MAX_QUERY_PARAMS) {
				out->err = E2BIG;
				return;
			}
			const char *eq = memchr(p, '=', n);
			size_t kn = eq ? (size_t)(eq - p) : n;
			struct query_param *qp = &w->params[w->n_params++];
			qp->key_off = s->len;
			sb_reencode(s, p, kn, false);
			qp->key_len = s->len - qp->key_off;
			qp->val_off = s->len;
			if (eq)
				sb_reencode(s, eq + 1, n - kn - 1, false);
			qp->val_len = s->len - qp->val_off;
		}
		p += n;
		if (*p == '&')
			p++;
	}
	if (s->err) {
		out->err = s->err;
		return;
	}
	qsort_r(w->params, w->n_params, sizeof w->params[0], cmp_param, s);
	for (size_t i = 0; i < w->n_params; i++) {
		const struct query_param *qp = &w->params[i];
		if (i)
			sb_putc(out, '&');
		sb_put(out, s->p + qp->key_off, qp->key_len);
		sb_putc(out, '=');
		sb_put(out, s->p + qp->val_off, qp->val_len);
	}
}

static int add_header(struct sign_work *w, const char *name, const char *value)
{
	size_t n = strlen(name);
	if (n == 0 || n > SIGV4_MAX_HEADER_NAME || !valid_header_value(value))
		return -1;
	struct header_entry *h = &w->headers[w->n_headers];
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!is_tchar(c))
			return -1;
		h->name[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	h->name[n] = '\0';
	h->name_len = n;
	h->value = value;
	h->order = (unsigned)w->n_headers;
	w->n_headers++;
	return 0;
}

static int cmp_header(const void *pa, const void *pb)
{
	const struct header_entry *a = pa, *b = pb;
	int c = strcmp(a->name, b->name);
	if (c)
		return c;
	return a->order < b->order ? -1 : a->order > b->order;
}

/* Leading and trailing blanks dropped, every run of blanks inside made one space. */
static void put_header_value(struct sbuf *b, const char *v)
{
	bool pending_space = false, started = false;
	for (; *v; v++) {
		if (*v == ' ' || *v == '\t') {
			pending_space = started;
			continue;
		}
		if (pending_space)
			sb_putc(b, ' ');
		pending_space = false;
		started = true;
		sb_putc(b, *v);
	}
}

/* "name:v1,v2\n" per distinct name, in name order; repeated names joined in given order. */
static void canonical_headers(struct sign_work *w)
{
	struct sbuf *out = &w->canonical, *names = &w->signed_headers;
	qsort(w->headers, w->n_headers, sizeof w->headers[0], cmp_header);
	for (size_t i = 0; i < w->n_headers; i++) {
		const struct header_entry *h = &w->headers[i];
		bool repeat = i > 0 && strcmp(h->name, w->headers[i - 1].name) == 0;
		if (repeat) {
			sb_putc(out, ',');
		} else {
			if (i > 0) {
				sb_putc(out, '\n');
				sb_putc(names, ';');
			}
			sb_put(out, h->name, h->name_len);
			sb_putc(out, ':');
			sb_put(names, h->name, h->name_len);
		}
		put_header_value(out, h->value);
	}
	sb_putc(out, '\n');
	if (names->err)
		out->err = names->err;
}

static bool is_signer_header(const char *lower)
{
	return strcmp(lower, "x-amz-date") == 0 || strcmp(lower, "x-amz-security-token") == 0 ||
	       strcmp(lower, "x-amz-content-sha256") == 0 || strcmp(lower, "authorization") == 0;
}

/* Collects the caller's headers and the signer's own into w->headers. */
static int collect_headers(struct sign_work *w, const struct sigv4_request *req,
                           const char *token, const struct sigv4_signed *out)
{
	if (req->n_headers > SIGV4_MAX_HEADERS)
		return E2BIG;
	if (req->n_headers && !req->headers)
		return EINVAL;
	bool have_host = false;
	for (size_t i = 0; i < req->n_headers; i++) {
		const struct sigv4_header *h = &req->headers[i];
		if (!h->name || !h->value || add_header(w, h->name, h->value) != 0)
			return EINVAL;
		const char *lower = w->headers[w->n_headers - 1].name;
		if (is_signer_header(lower))
			return EINVAL;
		if (strcmp(lower, "host") == 0)
			have_host = true;
	}
	if (!have_host)
		return EINVAL;
	if (add_header(w, "x-amz-date", out->amz_date) != 0)
		return EINVAL;
	if (token && !(req->flags & SIGV4_TOKEN_AFTER) && add_header(w, "x-amz-security-token", token) != 0)
		return EINVAL;
	if ((req->flags & SIGV4_S3) && add_header(w, "x-amz-content-sha256", out->content_sha256) != 0)
		return EINVAL;
	return 0;
}

static int payload_hash(const struct sigv4_request *req, char out[SIGV4_HEX_LEN + 1])
{
	if (req->flags & SIGV4_PAYLOAD_UNSIGNED) {
		if (!(req->flags & SIGV4_S3))
			return EINVAL; /* only S3 accepts an unsigned payload */
		snprintf(out, SIGV4_HEX_LEN + 1, "%s", SIGV4_UNSIGNED_PAYLOAD);
		return 0;
	}
	if (req->payload_hash) {
		if (!valid_hex_hash(req->payload_hash))
			return EINVAL;
		memcpy(out, req->payload_hash, SIGV4_HEX_LEN + 1);
		return 0;
	}
	if (req->body_len && !req->body)
		return EINVAL;
	sigv4_sha256_hex(req->body ? req->body : "", req->body_len, out);
	return 0;
}

/* ---- the signing key ---- */

void sigv4_key_cache_init(struct sigv4_key_cache *cache)
{
	memset(cache, 0, sizeof *cache);
}

void sigv4_key_cache_wipe(struct sigv4_key_cache *cache)
{
	mbedtls_platform_zeroize(cache, sizeof *cache);
}

static void derive_key(const char *secret, const char *date, const char *region,
                       const char *service, uint8_t key[32])
{
	char k_secret[4 + SECRET_MAX];
	size_t n = strlen(secret);
	memcpy(k_secret, "AWS4", 4);
	memcpy(k_secret + 4, secret, n);
	uint8_t k_date[32], k_region[32], k_service[32];
	hmac((const uint8_t *)k_secret, 4 + n, date, strlen(date), k_date);
	hmac(k_date, 32, region, strlen(region), k_region);
	hmac(k_region, 32, service, strlen(service), k_service);
	hmac(k_service, 32, SCOPE_TERMINATOR, strlen(SCOPE_TERMINATOR), key);
	mbedtls_platform_zeroize(k_secret, sizeof k_secret);
	mbedtls_platform_zeroize(k_date, sizeof k_date);
	mbedtls_platform_zeroize(k_region, sizeof k_region);
	mbedtls_platform_zeroize(k_service, sizeof k_service);
}

/* The key for (secret, date, region, service): from the cache when it is there, else derived
 * and stored in the least recently used slot. */
static void signing_key(struct sigv4_key_cache *cache, const char *secret, const char *date,
                        const char *region, const char *service, uint8_t key[32])
{
	if (!cache) {
		derive_key(secret, date, region, service, key);
		return;
	}
	uint8_t secret_hash[32];
	sha256(secret, strlen(secret), secret_hash);
	size_t victim = 0;
	for (size_t i = 0; i < SIGV4_KEY_CACHE_SLOTS; i++) {
		typeof(cache->slot[0]) *s = &cache->slot[i];
		if (s->last_used && memcmp(s->secret_hash, secret_hash, 32) == 0 &&
		    strcmp(s->date, date) == 0 && strcmp(s->region, region) == 0 &&
		    strcmp(s->service, service) == 0) {
			s->last_used = ++cache->clock;
			memcpy(key, s->key, 32);
			mbedtls_platform_zeroize(secret_hash, sizeof secret_hash);
			return;
		}
		if (s->last_used < cache->slot[victim].last_used)
			victim = i;
	}
	derive_key(secret, date, region, service, key);
	cache->derivations++;
	typeof(cache->slot[0]) *s = &cache->slot[victim];
	memcpy(s->secret_hash, secret_hash, 32);
	snprintf(s->date, sizeof s->date, "%s", date);
	snprintf(s->region, sizeof s->region, "%s", region);
	snprintf(s->service, sizeof s->service, "%s", service);
	memcpy(s->key, key, 32);
	s->last_used = ++cache->clock;
	mbedtls_platform_zeroize(secret_hash, sizeof secret_hash);
}

/* ---- the whole signature ---- */

static void work_free(struct sign_work *w)
{
	if (!w)
		return;
	sb_free(&w->canonical);
	sb_free(&w->scratch);
	sb_free(&w->signed_headers);
	mbedtls_platform_zeroize(w, sizeof *w);
	free(w);
}

static int copy_out(char *dst, size_t cap, const char *src, size_t len)
{
	if (!dst)
		return 0;
	if (len >= cap)
		return E2BIG;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

static int sign(const struct sigv4_request *req, const struct sigv4_credentials *cred,
                struct sigv4_key_cache *cache, struct sigv4_signed *out, struct sign_work *w,
                char *canonical, size_t canonical_cap, char *sts, size_t sts_cap)
{
	if (!req->method || !req->path || !req->region || !req->service || !cred->access_key_id ||
	    !cred->secret_access_key)
		return EINVAL;
	if (!valid_method(req->method) || !valid_scope_part(req->region) ||
	    !valid_scope_part(req->service) || !valid_key_id(cred->access_key_id))
		return EINVAL;
	size_t secret_len = strlen(cred->secret_access_key);
	if (secret_len == 0 || secret_len > SECRET_MAX)
		return EINVAL;
	const char *token = cred->session_token && cred->session_token[0] ? cred->session_token : NULL;
	if (token && !valid_header_value(token))
		return EINVAL;
	if ((req->flags & SIGV4_PAYLOAD_UNSIGNED) && !(req->flags & SIGV4_S3))
		return EINVAL;

	memset(out, 0, sizeof *out);
	if (sigv4_amz_date(req->time, out->amz_date) != 0)
		return EINVAL;
	int err = payload_hash(req, out->content_sha256);
	if (err)
		return err;
	err = collect_headers(w, req, token, out);
	if (err)
		return err;

	struct sbuf *c = &w->canonical;
	sb_puts(c, req->method);
	sb_putc(c, '\n');
	if (req->flags & SIGV4_S3)
		canonical_path_s3(c, req->path);
	else
		canonical_path_normalised(c, &w->scratch, req->path);
	sb_putc(c, '\n');
	canonical_query(w, req->query);
	sb_putc(c, '\n');
	canonical_headers(w);
	sb_putc(c, '\n');
	sb_put(c, w->signed_headers.p ? w->signed_headers.p : "", w->signed_headers.len);
	sb_putc(c, '\n');
	sb_puts(c, out->content_sha256);
	if (c->err)
		return c->err;

	char date[9];
	memcpy(date, out->amz_date, 8);
	date[8] = '\0';
	char creq_hash[SIGV4_HEX_LEN + 1];
	sigv4_sha256_hex(c->p, c->len, creq_hash);
	char string_to_sign[256];
	int n = snprintf(string_to_sign, sizeof string_to_sign, ALGORITHM "\n%s\n%s/%s/%s/" SCOPE_TERMINATOR "\n%s",
	                 out->amz_date, date, req->region, req->service, creq_hash);
	if (n < 0 || (size_t)n >= sizeof string_to_sign)
		return E2BIG;

	uint8_t key[32], sig[32];
	signing_key(cache, cred->secret_access_key, date, req->region, req->service, key);
	hmac(key, sizeof key, string_to_sign, (size_t)n, sig);
	mbedtls_platform_zeroize(key, sizeof key);
	to_hex(sig, sizeof sig, out->signature);

	int a = snprintf(out->authorization, sizeof out->authorization,
	                 ALGORITHM " Credential=%s/%s/%s/%s/" SCOPE_TERMINATOR ", SignedHeaders=%s, Signature=%s",
	                 cred->access_key_id, date, req->region, req->service, w->signed_headers.p,
	                 out->signature);
	if (a < 0 || (size_t)a >= sizeof out->authorization)
		return E2BIG;

	out->security_token = token;
	out->add[out->n_add++] = (struct sigv4_header){ "X-Amz-Date", out->amz_date };
	if (token)
		out->add[out->n_add++] = (struct sigv4_header){ "X-Amz-Security-Token", token };
	if (req->flags & SIGV4_S3)
		out->add[out->n_add++] = (struct sigv4_header){ "X-Amz-Content-Sha256", out->content_sha256 };
	out->add[out->n_add++] = (struct sigv4_header){ "Authorization", out->authorization };

	err = copy_out(canonical, canonical_cap, c->p, c->len);
	if (!err)
		err = copy_out(sts, sts_cap, string_to_sign, (size_t)n);
	return err;
}

int sigv4_sign_debug(const struct sigv4_request *req, const struct sigv4_credentials *cred,
                     struct sigv4_key_cache *cache, struct sigv4_signed *out,
                     char *canonical, size_t canonical_cap, char *sts, size_t sts_cap)
{
	if (!req || !cred || !out) {
		errno = EINVAL;
		return -1;
	}
	struct sign_work *w = calloc(1, sizeof *w);
	if (!w) {
		errno = ENOMEM;
		return -1;
	}
	int err = sign(req, cred, cache, out, w, canonical, canonical_cap, sts, sts_cap);
	work_free(w);
	if (err) {
		mbedtls_platform_zeroize(out, sizeof *out);
		errno = err;
		return -1;
	}
	return 0;
}

int sigv4_sign(const struct sigv4_request *req, const struct sigv4_credentials *cred,
               struct sigv4_key_cache *cache, struct sigv4_signed *out)
{
	return sigv4_sign_debug(req, cred, cache, out, NULL, 0, NULL, 0);
}
