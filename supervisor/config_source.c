/* Loading the configuration from a file or from a Secrets Manager secret. */
#include "config_source.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "aws_env.h"

bool config_source_is_secret(const char *source)
{
	return strncmp(source, CONFIG_SOURCE_SECRET_PREFIX, strlen(CONFIG_SOURCE_SECRET_PREFIX)) == 0;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads the child's stdout until EOF, the size bound or the deadline. */
static char *read_output(int fd, pid_t pid, size_t *len, struct config_error *err)
{
	char *buf = malloc(CONFIG_MAX_FILE_BYTES + 1);
	if (!buf) {
		snprintf(err->text, sizeof err->text, "out of memory");
		return NULL;
	}
	size_t n = 0;
	long long deadline = now_ms() + CONFIG_FETCH_TIMEOUT_MS;
	for (;;) {
		long long left = deadline - now_ms();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = left > 0 ? poll(&p, 1, (int)left) : 0;
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			kill(pid, SIGKILL);
			snprintf(err->text, sizeof err->text, "the secret fetch took longer than %d ms",
			         CONFIG_FETCH_TIMEOUT_MS);
			break;
		}
		ssize_t got = read(fd, buf + n, CONFIG_MAX_FILE_BYTES + 1 - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			*len = n;
			buf[n] = '\0';
			return buf;
		}
		n += (size_t)got;
		if (n > CONFIG_MAX_FILE_BYTES) {
			kill(pid, SIGKILL);
			snprintf(err->text, sizeof err->text, "the secret is larger than %d bytes",
			         CONFIG_MAX_FILE_BYTES);
			break;
		}
	}
	explicit_bzero(buf, n);
	free(buf);
	return NULL;
}

/* Runs the fetcher; returns the secret's text (caller wipes and frees) or NULL. */
static char *fetch_secret(const char *name, const char *fetcher, size_t *len, struct config_error *err)
{
	if (!fetcher) {
		snprintf(err->text, sizeof err->text, "mcpgate-server-secrets was not found; set "
		         "MCPGATE_LIBEXEC or install mcpgate");
		return NULL;
	}
	int out[2];
	if (pipe2(out, O_CLOEXEC) != 0) {
		snprintf(err->text, sizeof err->text, "pipe: %s", strerror(errno));
		return NULL;
	}
	char *env[AWS_ENV_MAX];
	char *base[] = { "MCPGATE_LOG_LEVEL=warn", NULL };
	aws_env_build(env, AWS_ENV_MAX, base, NULL);
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err->text, sizeof err->text, "fork: %s", strerror(errno));
		close(out[0]);
		close(out[1]);
		return NULL;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull < 0 || dup2(devnull, STDIN_FILENO) < 0 || dup2(out[1], STDOUT_FILENO) < 0)
			_exit(127);
		char *argv[] = { (char *)fetcher, "--fetch-secret", (char *)name, NULL };
		execve(fetcher, argv, env);
		_exit(127);
	}
	close(out[1]);
	char *text = read_output(out[0], pid, len, err);
	close(out[0]);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (text && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		snprintf(err->text, sizeof err->text, "fetching the secret failed (exit %d); the "
		         "fetcher's log above says why", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		explicit_bzero(text, *len);
		free(text);
		return NULL;
	}
	return text;
}

int config_source_load(const char *source, const char *fetcher, struct config *cfg,
                       struct config_error *err)
{
	if (!config_source_is_secret(source))
		return config_load_file(source, cfg, err);
	memset(cfg, 0, sizeof *cfg);
	const char *name = source + strlen(CONFIG_SOURCE_SECRET_PREFIX);
	size_t len = 0;
	struct config_error fetch_err = { .text = "" };
	char *text = *name ? fetch_secret(name, fetcher, &len, &fetch_err) : NULL;
	if (!text) {
		/* Bounded so the source name always fits in front of the reason. */
		snprintf(err->text, sizeof err->text, "%.100s: %.400s", source,
		         *name ? fetch_err.text : "names no secret");
		return -1;
	}
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	explicit_bzero(text, len);
	free(text);
	if (!root) {
		/* Position only: the parser's text may quote the input, which is secret. */
		snprintf(err->text, sizeof err->text, "%.400s:%d:%d: not valid JSON", source, jerr.line,
		         jerr.column);
		return -1;
	}
	int rc = config_from_json(root, source, cfg, err);
	json_decref(root);
	return rc;
}
