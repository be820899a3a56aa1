/* The credential chain: the environment picks one source; a small state machine per source
 * fetches over aws_http; a timer refreshes before expiry, with backoff after failures. Every
 * buffer that held a secret (keys, tokens, response bodies) is wiped before it is freed. */
#include "credentials.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <expat.h>
#include <jansson.h>
#include <mbedtls/platform_util.h>

#include "endpoint.h"
#include "log.h"

#define DEFAULT_MARGIN_S 300
#define DEFAULT_MIN_REFRESH_S 10
#define DEFAULT_MAX_BACKOFF_S 60
#define DEFAULT_TIMEOUT_MS 5000L
#define IMDS_DEFAULT_TIMEOUT_MS 2000L
#define EXPIRY_SKEW_S 5 /* credentials this close to expiry are no longer handed out */

#define IMDS_DEFAULT_ENDPOINT "http://169.254.169.254"
#define IMDS_TOKEN_TTL "21600" /* seconds, the most IMDS grants */
#define IMDS_TOKEN_TTL_S 21600
#define IMDS_TOKEN_MAX 1024
#define IMDS_ROLE_MAX 128
#define CONTAINER_BASE "http://169.254.170.2"
#define WEB_IDENTITY_TOKEN_MAX (16 * 1024)
#define CONTAINER_TOKEN_MAX 4096
#define URL_MAX 2048
#define ROLE_ARN_MAX 2048
#define SESSION_NAME_MAX 64
#define RESPONSE_MAX (64u * 1024u)
#define XML_DEPTH_MAX 16
#define XML_NAME_MAX 48
#define STS_MESSAGE_MAX 256

enum step { STEP_IDLE, STEP_STS, STEP_CONTAINER, STEP_IMDS_TOKEN, STEP_IMDS_ROLE, STEP_IMDS_CREDS };

struct aws_cred_provider {
	struct aws_http *http;
	struct event_base *base;
	int margin_s, min_refresh_s, max_backoff_s;
	long timeout_ms;
	enum aws_cred_source source;

	/* What the environment configured. */
	char role_arn[ROLE_ARN_MAX + 1];
	char token_file[PATH_MAX];
	char session_name[SESSION_NAME_MAX + 1];
	char sts_url[AWS_ENDPOINT_URL_MAX];
	char container_url[URL_MAX];
	char container_token[CONTAINER_TOKEN_MAX + 1]; /* secret */
	char container_token_file[PATH_MAX];
	char imds_url[AWS_ENDPOINT_URL_MAX];

	struct aws_credentials creds; /* secret */
	bool have_creds;
	bool expired_logged;
	int64_t refresh_at_ms; /* monotonic; 0: nothing due */
	int backoff_s;

	enum step step;
	struct aws_http_call *call;
	bool imds_retried;
	char imds_token[IMDS_TOKEN_MAX + 1]; /* secret */
	time_t imds_token_expiry;
	char imds_role[IMDS_ROLE_MAX + 1];
	const char *fail_reason; /* a failure found before any call: reported from the loop */

	struct event *refresh_timer;
	struct event *fail_event;
	aws_cred_update_fn on_update;
	void *update_arg;
	struct aws_cred_stats stats;
};

static void fetch_start(struct aws_cred_provider *p);

const char *aws_cred_source_name(enum aws_cred_source source)
{
	switch (source) {
	case AWS_CRED_ENV: return "environment";
	case AWS_CRED_WEB_IDENTITY: return "web_identity";
	case AWS_CRED_CONTAINER: return "container";
	case AWS_CRED_IMDS: return "imds";
	case AWS_CRED_NONE: break;
	}
	return "none";
}

/* ---- checks on what comes from outside ---- */

static bool printable_ascii(const char *s, size_t max)
{
	size_t n = 0;
	for (; s[n]; n++)
		if ((unsigned char)s[n] <= 0x20 || (unsigned char)s[n] >= 0x7f || n >= max)
			return false;
	return n > 0;
}

static bool valid_key_id(const char *s)
{
	size_t n = strlen(s);
	if (n < 16 || n > AWS_KEY_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

/* IAM names (role names, session names): [A-Za-z0-9+=,.@_-]. */
static bool valid_iam_name(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);
	if (n < min || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      strchr("+=,.@_-", c)))
			return false;
	}
	return true;
}

static bool digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* "2019-08-14T18:35:04Z", fractional seconds and "+00:00" accepted: the forms STS, ECS and
 * IMDS send. */
static int parse_expiration(const char *s, time_t *out)
{
	if (strlen(s) < 20)
		return -1;
	struct tm tm = { 0 };
	int y, mo, d, h, mi, se;
	if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !digits(s + 8, 2, &d) || s[10] != 'T' || !digits(s + 11, 2, &h) || s[13] != ':' ||
	    !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &se))
		return -1;
	const char *rest = s + 19;
	if (*rest == '.') {
		rest++;
		if (*rest < '0' || *rest > '9')
			return -1;
		while (*rest >= '0' && *rest <= '9')
			rest++;
	}
	if (strcmp(rest, "Z") != 0 && strcmp(rest, "+00:00") != 0)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*out = t;
	return 0;
}

/* Validates and copies one set of temporary credentials into `out`; NULL fields are missing. */
static const char *fill_creds(struct aws_credentials *out, enum aws_cred_source source,
                              const char *key_id, const char *secret, const char *token,
                              const char *expiration)
{
	if (!key_id || !secret || !token || !expiration)
		return "a credential field is missing";
	if (!valid_key_id(key_id))
		return "malformed AccessKeyId";
	if (!printable_ascii(secret, AWS_SECRET_MAX))
		return "malformed SecretAccessKey";
	if (!printable_ascii(token, AWS_TOKEN_MAX))
		return "malformed session token";
	time_t exp;
	if (parse_expiration(expiration, &exp) != 0)
		return "malformed Expiration";
	if (exp <= time(NULL) + EXPIRY_SKEW_S)
		return "credentials already expired";
	memset(out, 0, sizeof *out);
	memcpy(out->access_key_id, key_id, strlen(key_id) + 1);
	memcpy(out->secret_access_key, secret, strlen(secret) + 1);
	memcpy(out->session_token, token, strlen(token) + 1);
	out->expiration = exp;
	out->source = source;
	return NULL;
}

/* Reads a small token file whole, trailing blanks dropped; Kubernetes projects these through
 * symlinks, so they are followed. Returns the length, or -1 (errno set). */
static ssize_t read_token_file(const char *path, char *out, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size >= cap) {
		close(fd);
		errno = EFBIG;
		return -1;
	}
	size_t n = 0;
	while (n < cap - 1) {
		ssize_t r = read(fd, out + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' ' || out[n - 1] == '\t'))
		n--;
	out[n] = '\0';
	if (n == 0 || !printable_ascii(out, cap)) {
		mbedtls_platform_zeroize(out, cap);
		errno = EINVAL;
		return -1;
	}
	return (ssize_t)n;
}

/* ---- configuration from the environment ---- */

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && v[0] ? v : NULL;
}

static bool env_true(const char *name)
{
	const char *v = env(name);
	return v && strcasecmp(v, "true") == 0;
}

static int config_error(const char *variable, const char *hint)
{
	log_error("aws_credentials_config", LOG_STR("variable", variable), LOG_STR("hint", hint));
	return -1;
}

static int copy_env(char *dst, size_t cap, const char *variable, const char *value)
{
	size_t n = strlen(value);
	if (n >= cap)
		return config_error(variable, "value too long");
	memcpy(dst, value, n + 1);
	return 0;
}

static int configure_env(struct aws_cred_provider *p, const char *key_id, const char *secret,
                         const char *token)
{
	if (!valid_key_id(key_id))
		return config_error("AWS_ACCESS_KEY_ID", "16 to 128 letters and digits");
	if (!printable_ascii(secret, AWS_SECRET_MAX))
		return config_error("AWS_SECRET_ACCESS_KEY", "at most 128 printable characters");
	if (token && !printable_ascii(token, AWS_TOKEN_MAX))
		return config_error("AWS_SESSION_TOKEN", "printable characters, at most 8192");
	struct aws_credentials *c = &p->creds;
	memcpy(c->access_key_id, key_id, strlen(key_id) + 1);
	memcpy(c->secret_access_key, secret, strlen(secret) + 1);
	if (token)
		memcpy(c->session_token, token, strlen(token) + 1);
	c->expiration = 0;
	c->source = AWS_CRED_ENV;
	p->have_creds = true;
	p->source = AWS_CRED_ENV;
	return 0;
}

static int configure_web_identity(struct aws_cred_provider *p, const char *token_file, const char *role)
{
	if (copy_env(p->token_file, sizeof p->token_file, "AWS_WEB_IDENTITY_TOKEN_FILE", token_file) != 0)
		return -1;
	if (strncmp(role, "arn:", 4) != 0 || !printable_ascii(role, ROLE_ARN_MAX))
		return config_error("AWS_ROLE_ARN", "a role ARN, arn:aws:iam::<account>:role/<name>");
	memcpy(p->role_arn, role, strlen(role) + 1);
	const char *name = env("AWS_ROLE_SESSION_NAME");
	if (name) {
		if (!valid_iam_name(name, 2, SESSION_NAME_MAX))
			return config_error("AWS_ROLE_SESSION_NAME", "2 to 64 of [A-Za-z0-9+=,.@_-]");
		memcpy(p->session_name, name, strlen(name) + 1);
	} else {
		snprintf(p->session_name, sizeof p->session_name, "mcpgate-%ld", (long)time(NULL));
	}
	char region[AWS_REGION_MAX + 1];
	bool have_region = aws_region_from_env(region, sizeof region) == 0;
	if (aws_endpoint_url("STS", "sts", have_region ? region : NULL, p->sts_url, sizeof p->sts_url) != 0)
		return -1;
	p->source = AWS_CRED_WEB_IDENTITY;
	return 0;
}

/* Plain http is only for hosts that cannot be on the network path: loopback and the ECS and
 * EKS Pod Identity agents' link-local addresses. Any https host is allowed. */
static bool http_host_allowed(const char *host)
{
	static const char *const fixed[] = { "localhost", "169.254.170.2", "169.254.170.23",
	                                     "[fd00:ec2::23]", "[::1]" };
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		if (strcasecmp(host, fixed[i]) == 0)
			return true;
	struct in_addr a;
	return inet_pton(AF_INET, host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

static bool full_uri_allowed(const char *uri)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	bool ok = false;
	if (u && curl_url_set(u, CURLUPART_URL, uri, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		if (strcasecmp(scheme, "https") == 0)
			ok = true;
		else if (strcasecmp(scheme, "http") == 0)
			ok = http_host_allowed(host);
	}
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

static int configure_container(struct aws_cred_provider *p, const char *relative, const char *full)
{
	if (relative) {
		if (relative[0] != '/' || !printable_ascii(relative, URL_MAX - sizeof CONTAINER_BASE))
			return config_error("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "a path starting with '/'");
		snprintf(p->container_url, sizeof p->container_url, "%s%s", CONTAINER_BASE, relative);
	} else {
		if (!printable_ascii(full, URL_MAX - 1) || !full_uri_allowed(full))
			return config_error("AWS_CONTAINER_CREDENTIALS_FULL_URI",
			                    "https://..., or http:// to a loopback, 169.254.170.2 or 169.254.170.23 host");
		memcpy(p->container_url, full, strlen(full) + 1);
	}
	const char *file = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *token = env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	if (file) {
		if (copy_env(p->container_token_file, sizeof p->container_token_file,
		             "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", file) != 0)
			return -1;
	} else if (token) {
		/* Printable and one line: it becomes a request header. */
		for (const char *c = token; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				return config_error("AWS_CONTAINER_AUTHORIZATION_TOKEN", "one line of printable characters");
		if (copy_env(p->container_token, sizeof p->container_token, "AWS_CONTAINER_AUTHORIZATION_TOKEN", token) != 0)
			return -1;
	}
	p->source = AWS_CRED_CONTAINER;
	return 0;
}

static int configure_imds(struct aws_cred_provider *p)
{
	const char *endpoint = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	if (!endpoint) {
		snprintf(p->imds_url, sizeof p->imds_url, "%s", IMDS_DEFAULT_ENDPOINT);
	} else {
		size_t n = strlen(endpoint);
		while (n > 0 && endpoint[n - 1] == '/')
			n--;
		if ((strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0) ||
		    !printable_ascii(endpoint, sizeof p->imds_url - 1))
			return config_error("AWS_EC2_METADATA_SERVICE_ENDPOINT", "an http:// URL such as http://169.254.169.254");
		memcpy(p->imds_url, endpoint, n);
		p->imds_url[n] = '\0';
	}
	p->source = AWS_CRED_IMDS;
	return 0;
}

static int configure(struct aws_cred_provider *p)
{
	const char *key_id = env("AWS_ACCESS_KEY_ID"), *secret = env("AWS_SECRET_ACCESS_KEY");
	if (key_id || secret) {
		if (!key_id || !secret)
			return config_error(key_id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID",
			                    "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither");
		return configure_env(p, key_id, secret, env("AWS_SESSION_TOKEN"));
	}
	const char *token_file = env("AWS_WEB_IDENTITY_TOKEN_FILE"), *role = env("AWS_ROLE_ARN");
	if (token_file && role)
		return configure_web_identity(p, token_file, role);
	const char *relative = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	if (relative || full)
		return configure_container(p, relative, full);
	if (env_true("AWS_EC2_METADATA_DISABLED")) {
		p->source = AWS_CRED_NONE;
		return 0;
	}
	return configure_imds(p);
}

/* ---- the end of a fetch ---- */

static bool creds_usable(const struct aws_cred_provider *p, time_t now)
{
	return p->have_creds && (p->creds.expiration == 0 || now < p->creds.expiration - EXPIRY_SKEW_S);
}

static int64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void schedule(struct aws_cred_provider *p, long delay_s)
{
	p->refresh_at_ms = monotonic_ms() + (int64_t)delay_s * 1000;
	struct timeval tv = { .tv_sec = delay_s, .tv_usec = 0 };
	evtimer_add(p->refresh_timer, &tv);
}

/* Installs fresh credentials (or counts a failure) and plans the next fetch: `margin` before
 * expiry, never sooner than min_refresh; after failures, backoff doubling up to max_backoff. */
static void fetch_done(struct aws_cred_provider *p, const struct aws_credentials *fresh, const char *why)
{
	p->step = STEP_IDLE;
	p->call = NULL;
	time_t now = time(NULL);
	if (fresh) {
		mbedtls_platform_zeroize(&p->creds, sizeof p->creds);
		memcpy(&p->creds, fresh, sizeof p->creds);
		p->have_creds = true;
		p->expired_logged = false;
		p->backoff_s = 0;
		p->stats.successes++;
		p->stats.last_success = now;
		long remaining = (long)(p->creds.expiration - now);
		long delay = remaining - p->margin_s;
		if (delay < p->min_refresh_s)
			delay = p->min_refresh_s;
		schedule(p, delay);
		log_info("aws_credentials_fetched", LOG_STR("source", aws_cred_source_name(p->source)),
		         LOG_INT("expires_in_s", remaining), LOG_INT("refresh_in_s", delay));
	} else {
		p->stats.failures++;
		p->backoff_s = p->backoff_s ? p->backoff_s * 2 : p->min_refresh_s;
		if (p->backoff_s > p->max_backoff_s)
			p->backoff_s = p->max_backoff_s;
		schedule(p, p->backoff_s);
		log_warn("aws_credentials_fetch_failed", LOG_STR("source", aws_cred_source_name(p->source)),
		         LOG_STR("reason", why ? why : "unknown"), LOG_INT("retry_in_s", p->backoff_s),
		         LOG_INT("still_valid", creds_usable(p, now)));
	}
	if (p->on_update)
		p->on_update(p->update_arg, fresh != NULL);
}

static void fail_soon(struct aws_cred_provider *p, const char *why)
{
	p->fail_reason = why;
	p->step = STEP_IDLE;
	event_active(p->fail_event, EV_TIMEOUT, 0);
}

static void on_fail_event(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct aws_cred_provider *p = arg;
	const char *why = p->fail_reason;
	p->fail_reason = NULL;
	fetch_done(p, NULL, why);
}

static void on_refresh_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	fetch_start(arg);
}

static void on_response(const struct aws_http_response *resp, void *arg);

static int issue(struct aws_cred_provider *p, enum step step, const char *method, const char *url,
                 const char *const *headers, size_t n_headers, const char *body, size_t body_len)
{
	bool metadata = step != STEP_STS; /* link-local or loopback: never through a proxy */
	long timeout = p->timeout_ms;
	if (!timeout)
		timeout = step >= STEP_IMDS_TOKEN ? IMDS_DEFAULT_TIMEOUT_MS : DEFAULT_TIMEOUT_MS;
	struct aws_http_request req = {
		.method = method, .url = url, .headers = headers, .n_headers = n_headers,
		.body = body, .body_len = body_len, .timeout_ms = timeout,
		.max_response = RESPONSE_MAX, .no_proxy = metadata,
	};
	p->step = step;
	p->call = aws_http_start(p->http, &req, on_response, p);
	return p->call ? 0 : -1;
}

/* ---- web identity: STS AssumeRoleWithWebIdentity, form POST, XML answer ---- */

enum sts_field { F_NONE, F_KEY_ID, F_SECRET, F_TOKEN, F_EXPIRATION, F_CODE, F_MESSAGE, F_COUNT };

struct sts_parse {
	XML_Parser parser;
	char stack[XML_DEPTH_MAX][XML_NAME_MAX];
	int depth;
	enum sts_field field;
	char *value[F_COUNT];
	size_t len[F_COUNT], cap[F_COUNT];
	bool seen[F_COUNT];
	bool bad;
};

static void sts_stop(struct sts_parse *s)
{
	s->bad = true;
	XML_StopParser(s->parser, XML_FALSE);
}

static bool below(const struct sts_parse *s, int up, const char *name)
{
	return s->depth > up && strcmp(s->stack[s->depth - 1 - up], name) == 0;
}

static enum sts_field sts_field_here(const struct sts_parse *s)
{
	if (below(s, 1, "Credentials") && below(s, 2, "AssumeRoleWithWebIdentityResult")) {
		const char *n = s->stack[s->depth - 1];
		if (strcmp(n, "AccessKeyId") == 0)
			return F_KEY_ID;
		if (strcmp(n, "SecretAccessKey") == 0)
			return F_SECRET;
		if (strcmp(n, "SessionToken") == 0)
			return F_TOKEN;
		if (strcmp(n, "Expiration") == 0)
			return F_EXPIRATION;
	}
	if (below(s, 1, "Error")) {
		if (below(s, 0, "Code"))
			return F_CODE;
		if (below(s, 0, "Message"))
			return F_MESSAGE;
	}
	return F_NONE;
}

static void XMLCALL sts_on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	(void)attrs;
	struct sts_parse *s = ud;
	if (s->depth == XML_DEPTH_MAX) {
		sts_stop(s);
		return;
	}
	const char *local = strrchr(name, '|'); /* namespace|local with XML_ParserCreateNS */
	local = local ? local + 1 : name;
	snprintf(s->stack[s->depth], XML_NAME_MAX, "%s", local);
	s->depth++;
	s->field = sts_field_here(s);
	if (s->field != F_NONE) {
		if (s->seen[s->field]) { /* one of each: a second would be ambiguous */
			sts_stop(s);
			return;
		}
		s->seen[s->field] = true;
	}
}

static void XMLCALL sts_on_end(void *ud, const XML_Char *name)
{
	(void)name;
	struct sts_parse *s = ud;
	if (s->depth > 0)
		s->depth--;
	s->field = F_NONE;
}

static void XMLCALL sts_on_text(void *ud, const XML_Char *text, int len)
{
	struct sts_parse *s = ud;
	enum sts_field f = s->field;
	if (f == F_NONE || len <= 0)
		return;
	size_t room = s->cap[f] - 1 - s->len[f];
	size_t n = (size_t)len;
	if (n > room) {
		if (f != F_MESSAGE) { /* a credential longer than any valid one */
			sts_stop(s);
			return;
		}
		n = room; /* the error message is only logged: truncate */
	}
	memcpy(s->value[f] + s->len[f], text, n);
	s->len[f] += n;
	s->value[f][s->len[f]] = '\0';
}

/* No DTDs at all: nothing STS sends has one, and entities are how XML parsers get abused. */
static void XMLCALL sts_on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                                   const XML_Char *pubid, int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	sts_stop(ud);
}

struct sts_values {
	char key_id[AWS_KEY_ID_MAX + 1];
	char secret[AWS_SECRET_MAX + 1];
	char token[AWS_TOKEN_MAX + 1];
	char expiration[64];
	char code[128];
	char message[STS_MESSAGE_MAX];
};

/* Parses an STS answer (credentials or an ErrorResponse) into `v`. Returns 0 when the XML
 * was well-formed and within limits; which fields were found is up to the caller. */
static int sts_parse_xml(const char *body, size_t len, struct sts_values *v)
{
	memset(v, 0, sizeof *v);
	struct sts_parse s = { 0 };
	char *bufs[F_COUNT] = { NULL, v->key_id, v->secret, v->token, v->expiration, v->code, v->message };
	size_t caps[F_COUNT] = { 0, sizeof v->key_id, sizeof v->secret, sizeof v->token,
	                         sizeof v->expiration, sizeof v->code, sizeof v->message };
	for (int i = 0; i < F_COUNT; i++) {
		s.value[i] = bufs[i];
		s.cap[i] = caps[i];
	}
	if (len > INT_MAX)
		return -1;
	s.parser = XML_ParserCreateNS(NULL, '|');
	if (!s.parser)
		return -1;
	XML_SetUserData(s.parser, &s);
	XML_SetElementHandler(s.parser, sts_on_start, sts_on_end);
	XML_SetCharacterDataHandler(s.parser, sts_on_text);
	XML_SetStartDoctypeDeclHandler(s.parser, sts_on_doctype);
	XML_SetParamEntityParsing(s.parser, XML_PARAM_ENTITY_PARSING_NEVER);
	bool ok = XML_Parse(s.parser, body, (int)len, XML_TRUE) == XML_STATUS_OK && !s.bad;
	XML_ParserFree(s.parser);
	return ok ? 0 : -1;
}

/* The AssumeRoleWithWebIdentity form; returns its length, or 0 when it does not fit. */
static size_t form_body(char *out, size_t cap, const char *role_arn, const char *session_name,
                        const char *jwt, size_t jwt_len)
{
	const struct { const char *prefix, *value; size_t len; } parts[] = {
		{ "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=", role_arn, strlen(role_arn) },
		{ "&RoleSessionName=", session_name, strlen(session_name) },
		{ "&WebIdentityToken=", jwt, jwt_len },
	};
	size_t n = 0;
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		size_t plen = strlen(parts[i].prefix);
		if (plen >= cap - n)
			return 0;
		memcpy(out + n, parts[i].prefix, plen);
		n += plen;
		size_t e = sigv4_uri_encode(out + n, cap - n, parts[i].value, parts[i].len, false);
		if (e == (size_t)-1)
			return 0;
		n += e;
	}
	return n;
}

static int sts_start(struct aws_cred_provider *p)
{
	char *jwt = malloc(WEB_IDENTITY_TOKEN_MAX);
	if (!jwt)
		return -1;
	ssize_t jwt_len = read_token_file(p->token_file, jwt, WEB_IDENTITY_TOKEN_MAX);
	if (jwt_len < 0) {
		free(jwt);
		log_warn("aws_web_identity_token_unreadable", LOG_STR("file", p->token_file),
		         LOG_STR("error", strerror(errno)));
		return -1;
	}
	size_t cap = 3 * ((size_t)jwt_len + strlen(p->role_arn) + strlen(p->session_name)) + 256;
	char *body = malloc(cap);
	int rc = -1;
	if (body) {
		size_t n = form_body(body, cap, p->role_arn, p->session_name, jwt, (size_t)jwt_len);
		char url[AWS_ENDPOINT_URL_MAX + 2];
		snprintf(url, sizeof url, "%s/", p->sts_url);
		const char *headers[] = { "Content-Type: application/x-www-form-urlencoded; charset=utf-8",
		                          "Accept: text/xml" };
		rc = n ? issue(p, STEP_STS, "POST", url, headers, 2, body, n) : -1;
		mbedtls_platform_zeroize(body, cap);
		free(body);
	}
	mbedtls_platform_zeroize(jwt, WEB_IDENTITY_TOKEN_MAX);
	free(jwt);
	return rc;
}

static void sts_response(struct aws_cred_provider *p, const struct aws_http_response *resp)
{
	if (resp->curl_code) {
		fetch_done(p, NULL, resp->error);
		return;
	}
	struct sts_values *v = malloc(sizeof *v);
	struct aws_credentials *fresh = malloc(sizeof *fresh);
	const char *why = "out of memory";
	if (v && fresh) {
		if (sts_parse_xml(resp->body, resp->body_len, v) != 0) {
			why = "STS answer is not well-formed XML within limits";
		} else if (resp->status != 200) {
			log_warn("aws_sts_error", LOG_INT("status", resp->status), LOG_STR("code", v->code),
			         LOG_STR("message", v->message), LOG_STR("role_arn", p->role_arn));
			why = "STS refused AssumeRoleWithWebIdentity";
		} else {
			why = fill_creds(fresh, AWS_CRED_WEB_IDENTITY, v->key_id[0] ? v->key_id : NULL,
			                 v->secret[0] ? v->secret : NULL, v->token[0] ? v->token : NULL,
			                 v->expiration[0] ? v->expiration : NULL);
		}
	}
	fetch_done(p, v && fresh && !why ? fresh : NULL, why);
	if (v) {
		mbedtls_platform_zeroize(v, sizeof *v);
		free(v);
	}
	if (fresh) {
		mbedtls_platform_zeroize(fresh, sizeof *fresh);
		free(fresh);
	}
}

/* ---- the container endpoint (ECS, EKS Pod Identity): GET, JSON answer ---- */

static const char *json_str(json_t *root, const char *key)
{
	return json_string_value(json_object_get(root, key));
}

/* jansson frees its strings without wiping; the secret ones are wiped here first. */
static void json_wipe(json_t *root, const char *key)
{
	json_t *s = json_object_get(root, key);
	if (json_is_string(s))
		mbedtls_platform_zeroize((char *)json_string_value(s), json_string_length(s));
}

static void json_creds_response(struct aws_cred_provider *p, const struct aws_http_response *resp,
                                bool imds)
{
	json_error_t err;
	json_t *root = json_loadb(resp->body, resp->body_len, JSON_REJECT_DUPLICATES, &err);
	const char *why = NULL;
	struct aws_credentials *fresh = malloc(sizeof *fresh);
	if (!fresh) {
		why = "out of memory";
	} else if (!json_is_object(root)) {
		why = "credentials answer is not a JSON object";
	} else if (imds && (!json_str(root, "Code") || strcmp(json_str(root, "Code"), "Success") != 0)) {
		why = "IMDS credentials Code is not Success";
	} else {
		why = fill_creds(fresh, imds ? AWS_CRED_IMDS : AWS_CRED_CONTAINER, json_str(root, "AccessKeyId"),
		                 json_str(root, "SecretAccessKey"), json_str(root, "Token"),
		                 json_str(root, "Expiration"));
	}
	if (json_is_object(root)) {
		json_wipe(root, "SecretAccessKey");
		json_wipe(root, "Token");
	}
	json_decref(root);
	fetch_done(p, why ? NULL : fresh, why);
	if (fresh) {
		mbedtls_platform_zeroize(fresh, sizeof *fresh);
		free(fresh);
	}
}

static int container_start(struct aws_cred_provider *p)
{
	char token[CONTAINER_TOKEN_MAX + 1];
	char header[CONTAINER_TOKEN_MAX + 32];
	const char *headers[1];
	size_t n_headers = 0;
	token[0] = '\0';
	if (p->container_token_file[0]) {
		/* Re-read every time: EKS Pod Identity rotates the file. */
		if (read_token_file(p->container_token_file, token, sizeof token) < 0) {
			log_warn("aws_container_token_unreadable", LOG_STR("file", p->container_token_file),
			         LOG_STR("error", strerror(errno)));
			return -1;
		}
	} else if (p->container_token[0]) {
		memcpy(token, p->container_token, sizeof token);
	}
	if (token[0]) {
		snprintf(header, sizeof header, "Authorization: %s", token);
		headers[n_headers++] = header;
	}
	int rc = issue(p, STEP_CONTAINER, "GET", p->container_url, headers, n_headers, NULL, 0);
	mbedtls_platform_zeroize(token, sizeof token);
	mbedtls_platform_zeroize(header, sizeof header);
	return rc;
}

static void container_response(struct aws_cred_provider *p, const struct aws_http_response *resp)
{
	if (resp->curl_code) {
		fetch_done(p, NULL, resp->error);
		return;
	}
	if (resp->status != 200) {
		log_warn("aws_container_endpoint_refused", LOG_INT("status", resp->status));
		fetch_done(p, NULL, "container endpoint did not answer 200");
		return;
	}
	json_creds_response(p, resp, false);
}

/* ---- EC2 IMDSv2: PUT a session token, GET the role, GET its credentials ---- */

static int imds_get(struct aws_cred_provider *p, enum step step, const char *path)
{
	char url[AWS_ENDPOINT_URL_MAX + IMDS_ROLE_MAX + 64];
	char header[IMDS_TOKEN_MAX + 64];
	snprintf(url, sizeof url, "%s%s", p->imds_url, path);
	snprintf(header, sizeof header, "X-aws-ec2-metadata-token: %s", p->imds_token);
	const char *headers[] = { header };
	int rc = issue(p, step, "GET", url, headers, 1, NULL, 0);
	mbedtls_platform_zeroize(header, sizeof header);
	return rc;
}

static int imds_get_role(struct aws_cred_provider *p)
{
	return imds_get(p, STEP_IMDS_ROLE, "/latest/meta-data/iam/security-credentials/");
}

static int imds_put_token(struct aws_cred_provider *p)
{
	char url[AWS_ENDPOINT_URL_MAX + 32];
	snprintf(url, sizeof url, "%s/latest/api/token", p->imds_url);
	const char *headers[] = { "X-aws-ec2-metadata-token-ttl-seconds: " IMDS_TOKEN_TTL };
	return issue(p, STEP_IMDS_TOKEN, "PUT", url, headers, 1, NULL, 0);
}

static int imds_start(struct aws_cred_provider *p)
{
	if (p->imds_token[0] && time(NULL) < p->imds_token_expiry)
		return imds_get_role(p);
	return imds_put_token(p);
}

/* A 401 means the session token lapsed (or IMDS restarted): get a new one, once per fetch. */
static bool imds_retry_unauthorized(struct aws_cred_provider *p, const struct aws_http_response *resp)
{
	if (resp->status != 401 || p->imds_retried)
		return false;
	p->imds_retried = true;
	mbedtls_platform_zeroize(p->imds_token, sizeof p->imds_token);
	if (imds_put_token(p) != 0)
		fetch_done(p, NULL, "cannot start an IMDS request");
	return true;
}

static void imds_response(struct aws_cred_provider *p, enum step step, const struct aws_http_response *resp)
{
	if (resp->curl_code) {
		fetch_done(p, NULL, resp->error);
		return;
	}
	if (imds_retry_unauthorized(p, resp))
		return;
	if (resp->status != 200) {
		log_warn("aws_imds_refused", LOG_INT("status", resp->status),
		         LOG_STR("step", step == STEP_IMDS_TOKEN ? "token" : step == STEP_IMDS_ROLE ? "role" : "credentials"));
		fetch_done(p, NULL, resp->status == 404 && step == STEP_IMDS_ROLE ?
		           "the instance has no IAM role" : "IMDS did not answer 200");
		return;
	}
	int rc = 0;
	switch (step) {
	case STEP_IMDS_TOKEN:
		if (resp->body_len == 0 || resp->body_len > IMDS_TOKEN_MAX || !printable_ascii(resp->body, IMDS_TOKEN_MAX)) {
			fetch_done(p, NULL, "malformed IMDS token");
			return;
		}
		memcpy(p->imds_token, resp->body, resp->body_len + 1);
		p->imds_token_expiry = time(NULL) + IMDS_TOKEN_TTL_S - 60;
		rc = imds_get_role(p);
		break;
	case STEP_IMDS_ROLE: {
		size_t n = strcspn(resp->body, "\r\n");
		char role[IMDS_ROLE_MAX + 1];
		if (n == 0 || n > IMDS_ROLE_MAX) {
			fetch_done(p, NULL, "malformed IMDS role name");
			return;
		}
		memcpy(role, resp->body, n);
		role[n] = '\0';
		if (!valid_iam_name(role, 1, IMDS_ROLE_MAX)) {
			fetch_done(p, NULL, "malformed IMDS role name");
			return;
		}
		memcpy(p->imds_role, role, n + 1);
		char path[IMDS_ROLE_MAX + 64];
		snprintf(path, sizeof path, "/latest/meta-data/iam/security-credentials/%s", role);
		rc = imds_get(p, STEP_IMDS_CREDS, path);
		break;
	}
	case STEP_IMDS_CREDS:
		json_creds_response(p, resp, true);
		return;
	default:
		break;
	}
	if (rc != 0)
		fetch_done(p, NULL, "cannot start an IMDS request");
}

static void on_response(const struct aws_http_response *resp, void *arg)
{
	struct aws_cred_provider *p = arg;
	enum step step = p->step;
	p->call = NULL;
	switch (step) {
	case STEP_STS:
		sts_response(p, resp);
		break;
	case STEP_CONTAINER:
		container_response(p, resp);
		break;
	case STEP_IMDS_TOKEN:
	case STEP_IMDS_ROLE:
	case STEP_IMDS_CREDS:
		imds_response(p, step, resp);
		break;
	case STEP_IDLE:
		break;
	}
}

static void fetch_start(struct aws_cred_provider *p)
{
	if (p->step != STEP_IDLE || p->source == AWS_CRED_NONE || p->source == AWS_CRED_ENV || p->fail_reason)
		return;
	evtimer_del(p->refresh_timer);
	p->refresh_at_ms = 0;
	p->stats.attempts++;
	p->imds_retried = false;
	int rc = -1;
	switch (p->source) {
	case AWS_CRED_WEB_IDENTITY:
		rc = sts_start(p);
		break;
	case AWS_CRED_CONTAINER:
		rc = container_start(p);
		break;
	case AWS_CRED_IMDS:
		rc = imds_start(p);
		break;
	default:
		break;
	}
	if (rc != 0)
		fail_soon(p, "cannot start the request");
}

/* ---- public ---- */

struct aws_cred_provider *aws_cred_provider_new(struct aws_http *http, const struct aws_cred_options *opt)
{
	struct aws_cred_provider *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->http = http;
	p->base = aws_http_base(http);
	p->margin_s = opt && opt->refresh_margin_s > 0 ? opt->refresh_margin_s : DEFAULT_MARGIN_S;
	p->min_refresh_s = opt && opt->min_refresh_s > 0 ? opt->min_refresh_s : DEFAULT_MIN_REFRESH_S;
	p->max_backoff_s = opt && opt->max_backoff_s > 0 ? opt->max_backoff_s : DEFAULT_MAX_BACKOFF_S;
	p->timeout_ms = opt && opt->timeout_ms > 0 ? opt->timeout_ms : 0;
	p->refresh_timer = evtimer_new(p->base, on_refresh_timer, p);
	p->fail_event = evtimer_new(p->base, on_fail_event, p);
	if (!p->refresh_timer || !p->fail_event || configure(p) != 0) {
		aws_cred_provider_free(p);
		return NULL;
	}
	log_info("aws_credentials_source", LOG_STR("source", aws_cred_source_name(p->source)));
	return p;
}

void aws_cred_provider_free(struct aws_cred_provider *p)
{
	if (!p)
		return;
	if (p->call)
		aws_http_cancel(p->call);
	if (p->refresh_timer)
		event_free(p->refresh_timer);
	if (p->fail_event)
		event_free(p->fail_event);
	mbedtls_platform_zeroize(p, sizeof *p);
	free(p);
}

enum aws_cred_source aws_cred_provider_source(const struct aws_cred_provider *p)
{
	return p->source;
}

void aws_cred_provider_on_update(struct aws_cred_provider *p, aws_cred_update_fn fn, void *arg)
{
	p->on_update = fn;
	p->update_arg = arg;
}

const struct aws_cred_stats *aws_cred_provider_stats(const struct aws_cred_provider *p)
{
	return &p->stats;
}

const struct aws_credentials *aws_cred_provider_current(struct aws_cred_provider *p)
{
	time_t now = time(NULL);
	if (p->step == STEP_IDLE &&
	    (p->stats.attempts == 0 || (p->refresh_at_ms && monotonic_ms() >= p->refresh_at_ms)))
		fetch_start(p);
	if (creds_usable(p, now))
		return &p->creds;
	if (p->have_creds && !p->expired_logged) {
		log_warn("aws_credentials_expired", LOG_STR("source", aws_cred_source_name(p->source)));
		p->expired_logged = true;
	}
	return NULL;
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(bool *)arg = true;
}

int aws_cred_provider_wait(struct aws_cred_provider *p, int timeout_ms)
{
	if (creds_usable(p, time(NULL)))
		return 0;
	if (p->source == AWS_CRED_NONE)
		return -1;
	unsigned long ended = p->stats.successes + p->stats.failures;
	fetch_start(p);
	bool timed_out = false;
	struct event *deadline = evtimer_new(p->base, on_deadline, &timed_out);
	if (!deadline)
		return -1;
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	evtimer_add(deadline, &tv);
	while (!timed_out && p->stats.successes + p->stats.failures == ended)
		if (event_base_loop(p->base, EVLOOP_ONCE) < 0)
			break;
	event_free(deadline);
	return creds_usable(p, time(NULL)) ? 0 : -1;
}
