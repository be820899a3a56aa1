/* Region and endpoint resolution from the environment, checked so a typo in a variable never
 * sends requests (and credentials' signatures) somewhere unintended. */
#include "endpoint.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

int aws_region_valid(const char *region)
{
	size_t n = region ? strlen(region) : 0;
	if (n == 0 || n > AWS_REGION_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = region[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	return 1;
}

int aws_region_from_env(char *out, size_t cap)
{
	const char *names[] = { "AWS_REGION", "AWS_DEFAULT_REGION" };
	for (size_t i = 0; i < 2; i++) {
		const char *v = getenv(names[i]);
		if (!v || !v[0])
			continue;
		if (!aws_region_valid(v)) {
			log_error("aws_region_invalid", LOG_STR("variable", names[i]),
			          LOG_STR("hint", "a region name such as us-east-1"));
			return -1;
		}
		if (strlen(v) >= cap)
			return -1;
		memcpy(out, v, strlen(v) + 1);
		return 0;
	}
	return -1;
}

int aws_endpoint_env_name(const char *service_id, char *out, size_t cap)
{
	static const char prefix[] = "AWS_ENDPOINT_URL_";
	size_t n = strlen(service_id);
	if (n == 0 || sizeof prefix + n > cap)
		return -1;
	memcpy(out, prefix, sizeof prefix - 1);
	char *o = out + sizeof prefix - 1;
	for (size_t i = 0; i < n; i++) {
		char c = service_id[i];
		if (c == ' ' || c == '-')
			c = '_';
		else if (c >= 'a' && c <= 'z')
			c = (char)(c - 32);
		else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
			return -1;
		*o++ = c;
	}
	*o = '\0';
	return 0;
}

static bool valid_url(const char *url)
{
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return false;
	const char *host = strstr(url, "://") + 3;
	if (!*host || *host == '/')
		return false;
	for (const unsigned char *p = (const unsigned char *)url; *p; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return false;
	return true;
}

static int copy_url(const char *variable, const char *url, char *out, size_t cap)
{
	size_t n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	if (!valid_url(url) || n >= cap || n >= AWS_ENDPOINT_URL_MAX) {
		log_error("aws_endpoint_url_invalid", LOG_STR("variable", variable),
		          LOG_STR("hint", "an http:// or https:// URL without spaces"));
		return -1;
	}
	memcpy(out, url, n);
	out[n] = '\0';
	return 0;
}

static bool env_true(const char *name)
{
	const char *v = getenv(name);
	return v && strcasecmp(v, "true") == 0;
}

int aws_endpoint_url(const char *service_id, const char *endpoint_prefix, const char *region,
                     char *out, size_t cap)
{
	if (!service_id || !endpoint_prefix || !aws_region_valid(endpoint_prefix) ||
	    (region && !aws_region_valid(region)))
		return -1;
	if (!env_true("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")) {
		char name[128];
		if (aws_endpoint_env_name(service_id, name, sizeof name) != 0)
			return -1;
		const char *v = getenv(name);
		if (v && v[0])
			return copy_url(name, v, out, cap);
		v = getenv("AWS_ENDPOINT_URL");
		if (v && v[0])
			return copy_url("AWS_ENDPOINT_URL", v, out, cap);
	}
	int n;
	if (!region)
		n = snprintf(out, cap, "https://%s.amazonaws.com", endpoint_prefix);
	else if (strncmp(region, "cn-", 3) == 0)
		n = snprintf(out, cap, "https://%s.%s.amazonaws.com.cn", endpoint_prefix, region);
	else
		n = snprintf(out, cap, "https://%s.%s.amazonaws.com", endpoint_prefix, region);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}
