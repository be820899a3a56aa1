/* What a built-in AWS server inherits (supervisor/aws_env.c): the role's own variables, the
 * AWS_* and proxy variables of the appliance, the server's configured env over them, and
 * nothing else; and the files those variables name for its sandbox to read. */
#include <stdlib.h>
#include <string.h>

#include "../../supervisor/aws_env.c"

#include "check.h"

static const char *find(char *const *env, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; env[i]; i++)
		if (strncmp(env[i], name, len) == 0 && env[i][len] == '=')
			return env[i] + len + 1;
	return NULL;
}

static size_t count(char *const *env, const char *name)
{
	size_t n = 0, len = strlen(name);
	for (size_t i = 0; env[i]; i++)
		n += strncmp(env[i], name, len) == 0 && env[i][len] == '=';
	return n;
}

int main(void)
{
	clearenv();
	setenv("AWS_REGION", "eu-west-1", 1);
	setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
	setenv("AWS_CA_BUNDLE", "/etc/mcpgate/ca.pem", 1);
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "relative/token", 1);
	setenv("HTTPS_PROXY", "http://proxy:3128", 1);
	setenv("HOME", "/root", 1);
	setenv("PATH", "/usr/bin", 1);
	setenv("MCPGATE_SECRET_THING", "x", 1);
	setenv("AWSWRONG", "x", 1);

	char *base[] = { "MCPGATE_LOG_LEVEL=info", NULL };
	char *configured[] = { "AWS_REGION=us-east-2", "EXTRA=1", NULL };
	char *env[AWS_ENV_MAX];
	size_t n = aws_env_build(env, AWS_ENV_MAX, base, configured);
	CHECK(env[n] == NULL, "the list is NULL-terminated (%zu entries)", n);
	CHECK(find(env, "MCPGATE_LOG_LEVEL") && find(env, "AWS_ACCESS_KEY_ID") && find(env, "HTTPS_PROXY") &&
	      find(env, "AWS_CA_BUNDLE"), "the role's variables, AWS_* and the proxy pass");
	CHECK(!find(env, "HOME") && !find(env, "PATH") && !find(env, "MCPGATE_SECRET_THING") && !find(env, "AWSWRONG"),
	      "nothing else of the appliance's environment passes");
	CHECK(count(env, "AWS_REGION") == 1 && strcmp(find(env, "AWS_REGION"), "us-east-2") == 0,
	      "the configured env overrides the inherited value, once");
	CHECK(find(env, "EXTRA") != NULL, "configured variables are added");

	const char *paths[16];
	size_t np = aws_env_read_paths(paths, 16, env);
	bool ca = false, token = false, system = false;
	for (size_t i = 0; i < np; i++) {
		ca |= strcmp(paths[i], "/etc/mcpgate/ca.pem") == 0;
		token |= strcmp(paths[i], "relative/token") == 0;
		system |= strcmp(paths[i], "/etc/ssl/certs") == 0;
	}
	CHECK(ca && system, "the sandbox may read the system CA certificates and AWS_CA_BUNDLE");
	CHECK(!token, "a relative token path is not turned into a sandbox rule");

	char *small[3];
	n = aws_env_build(small, 3, base, configured);
	CHECK(n == 2 && small[2] == NULL, "a full list stops at its capacity, still terminated");
	return check_finish();
}
