/* Host and Origin checks: the defence against DNS rebinding and cross-site requests from a
 * browser. A request whose Origin is foreign is refused even when nothing else is wrong. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "edge.h"

/* The host part of an authority "host:port" or "[v6]:port", as a slice. */
static void authority_host(const char *s, size_t len, const char **host, size_t *hlen)
{
	if (len && s[0] == '[') {
		const char *end = memchr(s, ']', len);
		*host = s;
		*hlen = end ? (size_t)(end - s) + 1 : len;
		return;
	}
	const char *colon = memchr(s, ':', len);
	*host = s;
	*hlen = colon ? (size_t)(colon - s) : len;
}

static bool is_loopback_name(const char *h, size_t n)
{
	return (n == 9 && strncasecmp(h, "localhost", 9) == 0) ||
	       (n == 9 && memcmp(h, "127.0.0.1", 9) == 0) || (n == 5 && memcmp(h, "[::1]", 5) == 0);
}

static bool slice_eq_nocase(const char *a, size_t an, const char *b, size_t bn)
{
	return an == bn && strncasecmp(a, b, an) == 0;
}

/* public_url "https://host:port/..." -> its host. */
static void public_host(const char **host, size_t *hlen)
{
	const char *url = E.rc.cfg.public_url;
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	size_t n = strcspn(p, "/");
	authority_host(p, n, host, hlen);
}

/* public_url's origin: scheme://authority. */
static size_t public_origin_len(void)
{
	const char *url = E.rc.cfg.public_url;
	const char *p = strstr(url, "://");
	if (!p)
		return 0;
	p += 3;
	return (size_t)(p - url) + strcspn(p, "/");
}

bool host_allowed(const struct http_request *req)
{
	struct http_str host = http_header(req, HTTP_HDR_HOST);
	if (!host.ptr)
		return req->version_minor == 0; /* HTTP/1.0 may omit it; the parser requires it on 1.1 */
	if (E.rc.cfg.allowed_hosts[0]) {
		for (char **h = E.rc.cfg.allowed_hosts; *h; h++)
			if (slice_eq_nocase(host.ptr, host.len, *h, strlen(*h)))
				return true;
		return false;
	}
	const char *hn, *pn;
	size_t hl, pl;
	authority_host(host.ptr, host.len, &hn, &hl);
	public_host(&pn, &pl);
	return is_loopback_name(hn, hl) || slice_eq_nocase(hn, hl, pn, pl);
}

bool origin_allowed(const struct http_request *req)
{
	struct http_str origin = http_header(req, HTTP_HDR_ORIGIN);
	if (!origin.ptr)
		return true; /* not a browser, or a same-origin GET: nothing to check */
	size_t olen = public_origin_len();
	if (olen && slice_eq_nocase(origin.ptr, origin.len, E.rc.cfg.public_url, olen))
		return true;
	if (E.rc.cfg.allowed_origins[0]) {
		for (char **o = E.rc.cfg.allowed_origins; *o; o++)
			if (slice_eq_nocase(origin.ptr, origin.len, *o, strlen(*o)))
				return true;
		return false;
	}
	/* Without a configured list, only local tools (e.g. a browser-based inspector). */
	const char *p = memchr(origin.ptr, ':', origin.len);
	if (!p || (size_t)(origin.ptr + origin.len - p) < 3 || p[1] != '/' || p[2] != '/')
		return false;
	const char *auth = p + 3;
	size_t alen = (size_t)(origin.ptr + origin.len - auth);
	const char *hn;
	size_t hl;
	authority_host(auth, alen, &hn, &hl);
	return is_loopback_name(hn, hl);
}

const char *cors_headers(const struct http_request *req)
{
	static char buf[1024];
	struct http_str origin = http_header(req, HTTP_HDR_ORIGIN);
	if (!origin.ptr || origin.len > 512 || !origin_allowed(req))
		return "";
	snprintf(buf, sizeof buf,
		"Access-Control-Allow-Origin: %.*s\r\nVary: Origin\r\n"
		"Access-Control-Expose-Headers: Mcp-Session-Id, WWW-Authenticate, Retry-After\r\n",
		(int)origin.len, origin.ptr);
	return buf;
}
