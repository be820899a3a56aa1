/* The environment and readable files of the built-in AWS servers. */
#include "aws_env.h"

#include <stdbool.h>
#include <string.h>

extern char **environ;

static bool passes(const char *entry)
{
	static const char *const proxy[] = { "HTTPS_PROXY=", "https_proxy=", "HTTP_PROXY=",
		"http_proxy=", "NO_PROXY=", "no_proxy=", NULL };
	if (strncmp(entry, "AWS_", 4) == 0)
		return true;
	for (size_t i = 0; proxy[i]; i++)
		if (strncmp(entry, proxy[i], strlen(proxy[i])) == 0)
			return true;
	return false;
}

/* Whether `configured` sets the variable `entry` ("K=V") names. */
static bool overridden(const char *entry, char *const *configured)
{
	size_t name_len = strcspn(entry, "=");
	for (size_t i = 0; configured && configured[i]; i++)
		if (strncmp(configured[i], entry, name_len) == 0 && configured[i][name_len] == '=')
			return true;
	return false;
}

size_t aws_env_build(char **out, size_t cap, char *const *base, char *const *configured)
{
	size_t n = 0;
	for (size_t i = 0; base && base[i] && n + 1 < cap; i++)
		out[n++] = base[i];
	for (size_t i = 0; environ && environ[i] && n + 1 < cap; i++)
		if (passes(environ[i]) && !overridden(environ[i], configured))
			out[n++] = environ[i];
	for (size_t i = 0; configured && configured[i] && n + 1 < cap; i++)
		out[n++] = configured[i];
	out[n] = NULL;
	return n;
}

static const char *value_of(char *const *env, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; env && env[i]; i++)
		if (strncmp(env[i], name, len) == 0 && env[i][len] == '=')
			return env[i] + len + 1;
	return NULL;
}

size_t aws_env_read_paths(const char **out, size_t cap, char *const *env)
{
	/* libcurl on Debian reads the bundle in /etc/ssl/certs; the hashed links there point
	 * into /usr/share/ca-certificates. */
	static const char *const system_ca[] = { "/etc/ssl/certs", "/usr/share/ca-certificates",
		"/usr/local/share/ca-certificates", NULL };
	static const char *const files[] = { "AWS_CA_BUNDLE", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", NULL };
	size_t n = 0;
	for (size_t i = 0; system_ca[i] && n < cap; i++)
		out[n++] = system_ca[i];
	for (size_t i = 0; files[i] && n < cap; i++) {
		const char *v = value_of(env, files[i]);
		if (v && v[0] == '/')
			out[n++] = v;
	}
	return n;
}
